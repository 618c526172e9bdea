"""Packed export of trained models: the bits a deployed model really needs.

- a HadamardWeight is stored as its n signs, one bit each (H is implicit);
- a k-bit QuantizedLinear as its integer codes c = round(2^(k-1)·A/α) ∈ [-2^(k-1), 2^(k-1)),
  k bits each, packed into a bit stream, plus its float32 scale α;
- a k-bit QORNN W (STE-Björck, STE-projUNN, penalty QAT, PTQ) the same way, as the codes of the q_k(W)
  its forward pass uses; the latent training state (V, the power-iteration vector, projUNN's anchor)
  is not stored;
- biases, float matrices and anything else in float32.

``load_packed`` rebuilds the model through the registry and writes the decoded values back: signs as
u = ±1, codes as A = c·α/2^(k-1) with the scale α fixed, and a QORNN W as a
:class:`~qornn.models.FixedQuantizedWeight` (no Björck or quantization left in its forward pass), so
that the rebuilt model's forward pass computes exactly what the trained float-simulated model computed
(same floats, bit for bit). A QORNN rebuilt that way is for inference, not for more training.
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

__all__ = ["pack_bits", "unpack_bits", "save_packed", "load_packed", "packed_payload_bits"]

FORMAT = "qornn-packed-v1"


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


def save_packed(model: RecurrentNet, path: Path, build: dict[str, Any]) -> int:
    """Write ``model`` packed to ``path`` (.npz); ``build`` holds the build_model arguments
    ({"model": name, "input_size": ..., ...}). Returns the payload size in bits."""
    arrays, layout = _pack_model(model)
    meta = {"format": FORMAT, "build": build, "layout": layout}
    buf = io.BytesIO()
    np.savez_compressed(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    atomic_write_bytes(Path(path), buf.getvalue())
    return packed_payload_bits(arrays, layout)


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
    """Rebuild the model saved by :func:`save_packed`; its outputs equal the original's exactly."""
    with np.load(Path(path)) as f:
        data = {key: f[key] for key in f.files}
    meta = json.loads(data.pop("__meta__").tobytes().decode())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r})")
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
                module.scale = alpha
                module.weight.copy_(decoded)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"{path}: entries that the model does not have: {unexpected}")
    return model
