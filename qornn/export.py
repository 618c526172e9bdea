"""Packed export of trained models: the bits a deployed model really needs.

- a HadamardWeight is stored as its n signs, one bit each (H is implicit);
- a k-bit QuantizedLinear as its integer codes c = round(2^(k-1)·A/α) ∈ [-2^(k-1), 2^(k-1)),
  k bits each, packed into a bit stream, plus its float32 scale α;
- a k-bit QORNN W (STE-Björck, STE-projUNN, penalty QAT, PTQ) the same way, as the codes of the q_k(W)
  its forward pass uses; the latent training state (V, the power-iteration vector, projUNN's anchor)
  is not stored, nor a HadamRNN sign rule's moments (Bop, verified flips: :mod:`qornn.signs`);
- biases, float matrices and anything else in float32.

``load_packed`` rebuilds the model through the registry and writes the decoded values back: signs as
u = ±1, codes as A = c·α/2^(k-1) with the scale α fixed, and a QORNN W as a
:class:`~qornn.models.FixedQuantizedWeight` (no Björck or quantization left in its forward pass), so
that the rebuilt model's forward pass computes exactly what the trained float-simulated model computed
(same floats, bit for bit). A QORNN rebuilt that way is for inference, not for more training.

The file is an ``.npz`` archive of plain arrays (uint8 bit streams, float32 values) and a JSON header
``__meta__`` ({"format", "build": the build_model arguments, "layout": how each packed module is
stored, "run": who the weights belong to, when the caller says}); it is read with
``allow_pickle=False`` and its header as JSON, so a crafted file cannot run code: anything that is
not such a file is refused with one :class:`PackedFileError` naming it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .models import (
    FixedQuantizedWeight,
    HadamardWeight,
    QuantizedLinear,
    RecurrentNet,
    build_model,
)
from .models.qornn import float_matrix, quantization_range
from .models.recurrent import RecurrentWeight
from .results import atomic_write_bytes

__all__ = ["PackedFileError", "pack_bits", "unpack_bits", "packed_bytes", "save_packed", "load_packed",
           "read_packed", "packed_payload_bits"]

FORMAT = "qornn-packed-v1"


class PackedFileError(ValueError):
    """A file that is not a readable packed model (corrupt, truncated, crafted, of another format)."""


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack non-negative ints < 2^bits, ``bits`` bits each (big-endian), into a uint8 stream."""
    values = np.asarray(values, dtype=np.uint32).ravel()
    if values.size and values.max() >= 2**bits:
        raise ValueError(f"value {values.max()} does not fit in {bits} bits")
    planes = (values[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.uint32)) & 1
    return np.packbits(planes.astype(np.uint8).ravel())


def unpack_bits(stream: np.ndarray, bits: int, count: int) -> np.ndarray:
    planes = np.unpackbits(stream)[: count * bits].reshape(count, bits).astype(np.uint32)
    return (planes << np.arange(bits - 1, -1, -1, dtype=np.uint32)).sum(axis=1)


def _put_codes(arrays: dict[str, np.ndarray], name: str, w: torch.Tensor, bits: int,
               alpha: torch.Tensor) -> None:
    """The codes of q_k(w) = c·α/2^(k-1) (the rounding of uniform_quantize), bit-packed, and α."""
    levels = 2 ** (bits - 1)
    codes = torch.clamp(torch.round(w * (levels / alpha)), -levels, levels - 1).to(torch.int64)
    arrays[f"{name}.codes"] = pack_bits((codes + levels).numpy(), bits)
    arrays[f"{name}.alpha"] = alpha.reshape(1).numpy().astype(np.float32)


def _pack_model(model: RecurrentNet) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    layout: dict[str, Any] = {}
    packed_params: set[str] = set()
    for name, module in model.named_modules():
        if isinstance(module, HadamardWeight):
            signs = (module.u.detach() >= 0).numpy().astype(np.uint8)
            arrays[f"{name}.signs"] = np.packbits(signs)
            layout[name] = {"kind": "hadamard", "size": module.size}
            packed_params.add(f"{name}.u")
            packed_params.update(f"{name}.{key}" for key in module.state_dict()
                                 if key.startswith("sign_rule."))
        elif isinstance(module, QuantizedLinear) and module.bits is not None:
            w = module.weight.detach()
            _put_codes(arrays, name, w, module.bits, module.alpha())
            layout[name] = {"kind": "kbit", "bits": module.bits, "shape": list(w.shape)}
            packed_params.add(f"{name}.weight")
        elif isinstance(module, RecurrentWeight) and getattr(module, "bits", None) is not None:
            base = float_matrix(module)
            alpha = quantization_range(module, base)
            _put_codes(arrays, name, base, module.bits, alpha)
            layout[name] = {"kind": "kbit-recurrent", "bits": module.bits, "shape": list(base.shape)}
            packed_params.update(f"{name}.{key}" for key in module.state_dict())
    for key, value in model.state_dict().items():
        if key not in packed_params and not key.endswith(".scale"):
            arrays[f"float:{key}"] = value.detach().numpy().astype(np.float32)
    return arrays, layout


def packed_bytes(model: RecurrentNet, build: dict[str, Any],
                 run: dict[str, Any] | None = None) -> tuple[bytes, int]:
    """The packed file of ``model`` as bytes, and its payload size in bits. ``build`` holds the
    build_model arguments ({"model": name, "input_size": ..., ...}); ``run`` (optional, JSON) says
    whose weights these are, and is stored in the header as it is. The same model gives the same
    bytes (the archive's dates are fixed), so rewriting unchanged weights changes no file."""
    arrays, layout = _pack_model(model)
    meta = {"format": FORMAT, "build": build, "layout": layout, **({"run": run} if run is not None else {})}
    buf = io.BytesIO()
    header = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    np.savez_compressed(buf, __meta__=header, **arrays)
    return buf.getvalue(), packed_payload_bits(arrays, layout)


def save_packed(model: RecurrentNet, path: Path, build: dict[str, Any],
                run: dict[str, Any] | None = None) -> int:
    """Write ``model`` packed to ``path`` (.npz, atomically; see :func:`packed_bytes`). Returns the
    payload size in bits."""
    data, bits = packed_bytes(model, build, run)
    atomic_write_bytes(Path(path), data)
    return bits


def packed_payload_bits(arrays: dict[str, np.ndarray], layout: dict[str, Any]) -> int:
    """Bits of the packed payload: k bits a code, 1 bit a sign, 32 bits a float."""
    total = 0
    for entry in layout.values():
        if entry["kind"] == "hadamard":
            total += entry["size"]
        else:
            total += entry["bits"] * int(np.prod(entry["shape"])) + 32
    total += sum(32 * a.size for key, a in arrays.items() if key.startswith("float:"))
    return total


def load_packed(path: Path) -> RecurrentNet:
    """Rebuild the model saved by :func:`save_packed`, in eval mode; its outputs equal the original's
    (in eval mode) exactly."""
    return read_packed(Path(path).read_bytes(), where=str(path))[0]


def read_packed(data: bytes, where: str = "packed model") -> tuple[RecurrentNet, dict[str, Any]]:
    """The model packed in ``data`` (a file's bytes), in eval mode, and the file's JSON header (in
    training mode a Björck ORNN's every forward would move its power-iteration vector, so its outputs
    would drift from the trained model's after the first call). Raises
    :class:`PackedFileError` naming ``where`` for anything that is not a packed model of this format:
    no pickle is ever loaded (``allow_pickle=False``), and a file that builds no model, or whose arrays
    do not fit the model it names, is refused rather than half loaded."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except Exception as err:  # zip, npy-header, pickle-refused, JSON and decoding errors alike
        raise PackedFileError(f"{where}: not a readable {FORMAT} file ({_reason(err)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise PackedFileError(f"{where}: not a {FORMAT} file (format {found!r})")
    try:
        return _unpack_model(arrays, meta, where).eval(), meta
    except PackedFileError:
        raise
    except Exception as err:  # a header or arrays that do not fit: a bad build, a missing array
        raise PackedFileError(f"{where}: the packed model cannot be rebuilt ({_reason(err)})") from None


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())[:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _unpack_model(data: dict[str, np.ndarray], meta: dict[str, Any], where: str) -> RecurrentNet:
    if not isinstance(meta.get("build"), dict) or not isinstance(meta.get("layout"), dict):
        raise PackedFileError(f"{where}: the header lacks its build or layout")
    for key, array in data.items():
        expected = np.float32 if key.startswith("float:") or key.endswith(".alpha") else np.uint8
        if array.dtype != expected:
            raise PackedFileError(f"{where}: array {key!r} is {array.dtype}, expected {np.dtype(expected)}")
    build = dict(meta["build"])
    model = build_model(build.pop("model"), **build)
    state = {key[len("float:"):]: torch.from_numpy(a) for key, a in data.items() if key.startswith("float:")}
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, entry in meta["layout"].items():
            module = modules[name]
            if entry["kind"] == "hadamard":
                bits = np.unpackbits(data[f"{name}.signs"])[: entry["size"]]
                module.u.copy_(torch.from_numpy(bits.astype(np.float32) * 2 - 1))
            else:
                levels = 2 ** (entry["bits"] - 1)
                count = int(np.prod(entry["shape"]))
                codes = unpack_bits(data[f"{name}.codes"], entry["bits"], count).astype(np.int64) - levels
                alpha = torch.from_numpy(data[f"{name}.alpha"]).reshape(())
                decoded = torch.from_numpy(codes).reshape(entry["shape"]).float() * (alpha / levels)
                if entry["kind"] == "kbit-recurrent":  # q_k(W) itself, with its scale
                    fixed = FixedQuantizedWeight(decoded, entry["bits"])
                    fixed.alpha.copy_(alpha)
                    parent, _, leaf = name.rpartition(".")
                    setattr(modules[parent] if parent else model, leaf, fixed)
                    continue
                # the bits the model ran with: a post-training-quantized copy of a float model is
                # built as that float model, and gets its bits here
                module.bits = entry["bits"]
                module.scale = alpha
                module.weight.copy_(decoded)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise PackedFileError(f"{where}: entries that the model does not have: {unexpected}")
    packed = {f"{name}.u" if entry["kind"] == "hadamard" else f"{name}.weight"
              for name, entry in meta["layout"].items()}
    # training state that is not stored: a QORNN W's latent state, a sign rule's moments (left at zero)
    training_only = [f"{name}." if entry["kind"] == "kbit-recurrent" else f"{name}.sign_rule."
                     for name, entry in meta["layout"].items() if entry["kind"] != "kbit"]
    lacking = [key for key in missing if key not in packed and not key.endswith(".scale")
               and not any(key.startswith(prefix) for prefix in training_only)]
    if lacking:  # a value left at its random initialisation would be a silent error
        raise PackedFileError(f"{where}: lacks the entries {lacking}")
    return model
