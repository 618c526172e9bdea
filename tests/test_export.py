import numpy as np
import pytest
import torch

from qornn.export import load_packed, pack_bits, save_packed, unpack_bits
from qornn.models import build_model, model_size_bits


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 7, 8])
def test_bit_packing_round_trips(bits):
    values = np.random.default_rng(bits).integers(0, 2**bits, size=101)
    stream = pack_bits(values, bits)
    assert stream.size == -(-101 * bits // 8)
    np.testing.assert_array_equal(unpack_bits(stream, bits, 101), values)


@pytest.mark.parametrize("name,options", [
    ("hadamrnn", {"bits": 4}),
    ("hadamrnn", {"bits": 3, "nonlinearity": "relu"}),
    ("block-hadamrnn", {"bits": 8, "block": 4}),
    ("ornn", {}),
])
def test_packed_model_gives_exactly_the_same_outputs(tmp_path, name, options):
    build = {"model": name, "input_size": 10, "output_size": 9, "hidden_size": 16,
             "many_to_many": True, **options}
    kwargs = {k: v for k, v in build.items() if k != "model"}
    model = build_model(name, **kwargs)
    with torch.no_grad():  # a "trained" model: latent weights away from their initial values
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
        if hasattr(model.recurrent, "u"):
            model.recurrent.u[0] = 0.0  # sign(0) = +1 must survive packing
    bits = save_packed(model, tmp_path / "m.npz", build)
    loaded = load_packed(tmp_path / "m.npz")
    x = torch.randint(0, 10, (4, 25))
    assert torch.equal(loaded(x), model(x))
    if name != "ornn":
        assert bits == model_size_bits(model)


@pytest.mark.parametrize("name", ["qornn-ste-bjorck", "qornn-ste-projunn", "qornn-penalty"])
def test_packed_qornn_stores_the_codes_of_q_k_w_and_gives_the_same_outputs(tmp_path, name):
    build = {"model": name, "input_size": 3, "output_size": 5, "hidden_size": 16, "bits": 4}
    model = build_model(name, **{k: v for k, v in build.items() if k != "model"})
    with torch.no_grad():  # a "trained" latent W, away from O(n)
        model.recurrent.weight.add_(0.1 * torch.randn(16, 16))
    model.eval()  # STE-Björck's power-iteration vector moves in training mode
    bits = save_packed(model, tmp_path / "m.npz", build)
    loaded = load_packed(tmp_path / "m.npz")
    x = torch.randn(4, 30, 3)
    assert torch.equal(loaded(x), model(x))
    assert bits == model_size_bits(model)  # 4 bits an entry of W, no latent V or anchor
    assert type(loaded.recurrent).__name__ == "FixedQuantizedWeight"


def test_packed_post_training_quantized_model_gives_the_same_outputs(tmp_path):
    from qornn.models import quantize_post_training

    build = {"model": "ornn-bjorck", "input_size": 3, "output_size": 5, "hidden_size": 8}
    ptq = quantize_post_training(build_model("ornn-bjorck", input_size=3, output_size=5, hidden_size=8), 3)
    save_packed(ptq, tmp_path / "m.npz", build)
    x = torch.randn(2, 10, 3)
    assert torch.equal(load_packed(tmp_path / "m.npz")(x), ptq(x))


def test_packed_hadamrnn_is_more_than_20x_smaller_than_float(tmp_path):
    build = {"model": "hadamrnn", "input_size": 1, "output_size": 10, "hidden_size": 512, "bits": 4}
    model = build_model("hadamrnn", **{k: v for k, v in build.items() if k != "model"})
    bits = save_packed(model, tmp_path / "m.npz", build)
    float_bits = 32 * (512 * 512 + 512 + 512 + 512 * 10 + 10)  # W, U, b, V, c as float32
    assert float_bits / bits > 20
    assert (tmp_path / "m.npz").stat().st_size * 8 < float_bits / 20


def test_not_a_packed_file(tmp_path):
    np.savez(tmp_path / "x.npz", __meta__=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(ValueError, match="not a qornn-packed-v1 file"):
        load_packed(tmp_path / "x.npz")
