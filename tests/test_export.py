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
