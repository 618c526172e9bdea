import json

import numpy as np
import pytest
import torch

from qornn.export import PackedFileError, load_packed, pack_bits, packed_bytes, save_packed, unpack_bits
from qornn.models import build_model, model_names, model_size_bits


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 7, 8])
def test_bit_packing_round_trips(bits):
    values = np.random.default_rng(bits).integers(0, 2**bits, size=101)
    stream = pack_bits(values, bits)
    assert stream.size == -(-101 * bits // 8)
    np.testing.assert_array_equal(unpack_bits(stream, bits, 101), values)


@pytest.mark.parametrize("name,options", [
    ("hadamrnn", {"bits": 4}),
    ("hadamrnn", {"bits": 3, "nonlinearity": "relu"}),
    ("hadamrnn", {"bits": 4, "sign_training": {"method": "verified"}}),  # its moments are not stored
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


def test_a_packed_bjorck_model_loads_in_eval_mode_and_gives_the_same_outputs_at_every_call(tmp_path):
    """In training mode each forward of a Björck ORNN moves its power-iteration vector: a loaded model
    in that mode matched the trained one at its first call only (5e-5 off at the next)."""
    build = {"model": "ornn-bjorck", "input_size": 10, "output_size": 9, "hidden_size": 16,
             "many_to_many": True}
    model = build_model("ornn-bjorck", **{k: v for k, v in build.items() if k != "model"}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    save_packed(model, tmp_path / "m.npz", build)
    loaded = load_packed(tmp_path / "m.npz")
    assert not loaded.training
    x = torch.randint(0, 10, (4, 25))
    first = loaded(x)
    assert torch.equal(first, model(x)) and torch.equal(loaded(x), first)


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


# Every model of the registry round-trips, so that the weights of any recorded run load.
_OPTIONS = {"block-hadamrnn": {"block": 4}, "qornn-ste-bjorck": {"bits": 3}, "lstm": {"bits": 4},
            "fastgrnn": {"bits": 4}, "transformer": {"hidden_size": 16}}


@pytest.mark.parametrize("name", model_names())
def test_every_registry_model_packs_and_loads_to_the_same_outputs(tmp_path, name):
    build = {"model": name, "input_size": 3, "output_size": 4, "hidden_size": 16, **_OPTIONS.get(name, {})}
    model = build_model(name, **{k: v for k, v in build.items() if k != "model"})
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    save_packed(model, tmp_path / "m.npz", build)
    x = torch.randn(2, 7, 3)
    with torch.no_grad():
        assert torch.equal(load_packed(tmp_path / "m.npz")(x), model(x))


def test_a_text_model_with_its_embedding_packs_and_loads(tmp_path):
    build = {"model": "hadamrnn", "input_size": 50, "output_size": 2, "hidden_size": 16,
             "embedding_size": 8, "pool": "mean"}
    model = build_model("hadamrnn", **{k: v for k, v in build.items() if k != "model"}).eval()
    save_packed(model, tmp_path / "m.npz", build)
    x = torch.randint(0, 50, (3, 9))
    with torch.no_grad():
        assert torch.equal(load_packed(tmp_path / "m.npz")(x), model(x))


def test_the_same_model_packs_to_the_same_bytes():
    build = {"model": "hadamrnn", "input_size": 3, "output_size": 4, "hidden_size": 16}
    model = build_model("hadamrnn", input_size=3, output_size=4, hidden_size=16)
    assert packed_bytes(model, build, {"run": "a"})[0] == packed_bytes(model, build, {"run": "a"})[0]


class _Payload:
    """Unpickling this would create ``marker``: a crafted file must never get that far."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _good(tmp_path):
    build = {"model": "hadamrnn", "input_size": 3, "output_size": 4, "hidden_size": 16}
    model = build_model("hadamrnn", input_size=3, output_size=4, hidden_size=16)
    save_packed(model, tmp_path / "good.npz", build)
    with np.load(tmp_path / "good.npz") as f:
        return {key: f[key] for key in f.files}


def _header(arrays, **build):
    """The header of ``arrays`` with its build arguments changed."""
    meta = json.loads(arrays["__meta__"].tobytes())
    meta["build"].update(build)
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


def _resave(tmp_path, arrays):
    np.savez(tmp_path / "x.npz", **arrays)  # allow_pickle on save: an object array is pickled


@pytest.mark.parametrize("make,match", [
    (lambda tmp, a: (tmp / "x.npz").write_bytes(b"\x00garbage"), "not a readable qornn-packed-v1 file"),
    (lambda tmp, a: (tmp / "x.npz").write_bytes(b""), "not a readable"),
    (lambda tmp, a: (tmp / "x.npz").write_bytes((tmp / "good.npz").read_bytes()[:200]), "not a readable"),
    (lambda tmp, a: _resave(tmp, {**a, "float:input.bias": np.array([_Payload(tmp / "pwned")],
                                                                     dtype=object)}),
     "not a readable.*pickle"),
    (lambda tmp, a: _resave(tmp, {**a, "__meta__": np.frombuffer(b"{not json", dtype=np.uint8)}),
     "not a readable"),
    (lambda tmp, a: _resave(tmp, {**a, "__meta__": _header(a, model="nope")}),
     "cannot be rebuilt.*unknown model 'nope'"),
    (lambda tmp, a: _resave(tmp, {**a, "__meta__": _header(a, hidden_size=32)}), "cannot be rebuilt"),
    (lambda tmp, a: _resave(tmp, {k: v for k, v in a.items() if k != "float:readout.bias"}),
     r"lacks the entries \['readout.bias'\]"),
    (lambda tmp, a: _resave(tmp, {k: v for k, v in a.items() if k != "input.codes"}), "cannot be rebuilt"),
    (lambda tmp, a: _resave(tmp, {**a, "float:input.bias": a["float:input.bias"].astype(np.float64)}),
     "float64, expected float32"),
    (lambda tmp, a: _resave(tmp, {**a, "float:extra": np.zeros(2, np.float32)}), "does not have"),
], ids=["garbage", "empty", "truncated", "pickle", "header-not-json", "unknown-model", "other-size",
        "missing-float", "missing-codes", "float64", "extra-entry"])
def test_a_tampered_packed_file_is_refused_cleanly_and_never_unpickled(tmp_path, make, match):
    make(tmp_path, _good(tmp_path))
    with pytest.raises(PackedFileError, match=match) as err:
        load_packed(tmp_path / "x.npz")
    assert str(tmp_path / "x.npz") in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "pwned").exists()
