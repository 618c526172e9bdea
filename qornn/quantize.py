"""Quantizers with straight-through gradients.

Symmetric uniform k-bit quantizer (the papers' choice, α recomputed from the tensor at every call):

    α = max |w|,    q_k(w) = α/2^(k-1) · clamp(round(2^(k-1) · w / α), -2^(k-1), 2^(k-1) - 1)

so q_k takes at most 2^k distinct values, on a grid of step α/2^(k-1) that contains 0. For a fixed α
it is idempotent. Note that +max|w| lands on level 2^(k-1)-1, i.e. on α(1 - 2^(1-k)): re-quantizing
q_k(w) with α recomputed from it would shrink the grid, so stored quantized weights keep their α.

Binary sign quantizer: sign(u) ∈ {-1, +1} with sign(0) = +1. (torch.sign(0) = 0 would put a zero row
into diag(sign u)·H and break its orthogonality.)

Both use the straight-through estimator (STE): the forward pass quantizes, the backward pass treats
the quantizer as the identity, ∂q(w)/∂w := I. They are autograd Functions rather than the common
``w + (q(w) - w).detach()``, whose value can differ from q(w) in the last bit: here the forward value
is exactly q(w), so a model rebuilt from its packed integer codes gives exactly the same outputs.

Learned range (LSQ, Esser et al., ICLR 2020; beyond the papers, whose α is the fixed rule above): the
same grid with α a trained parameter. With L = 2^(k-1), v = L·w/α and r = clamp(round(v), -L, L-1),
q = (α/L)·r and the LSQ gradients are

    ∂q/∂w = 1 inside the grid (-L ≤ v ≤ L-1), 0 outside (clipped weights get no gradient);
    ∂q/∂α = (r - v·1[inside]) / L, scaled by g = 1/√(numel·(L-1)) (LSQ's step-size gradient scale).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "MIN_BITS",
    "MAX_BITS",
    "check_bits",
    "quantization_scale",
    "uniform_quantize",
    "quantize_ste",
    "sign_ste",
    "binary_sign",
    "quantize_learned_range",
    "LearnedRange",
]

MIN_BITS = 2
MAX_BITS = 16


def check_bits(bits: int | None, name: str = "bits") -> int | None:
    """Validate a bit width: None (full precision) or an int in [MIN_BITS, MAX_BITS]."""
    if bits is None:
        return None
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"{name} must be an int or None (full precision), got {bits!r}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(
            f"{name}={bits} is not supported: the uniform quantizer takes {MIN_BITS} to {MAX_BITS} "
            "bits, or None for full precision (binary weights have their own sign quantizer)"
        )
    return bits


def quantization_scale(w: torch.Tensor) -> torch.Tensor:
    """The per-tensor range α = max|w| (1 for an all-zero tensor, so that q(0) = 0)."""
    alpha = w.detach().abs().max()
    return torch.where(alpha > 0, alpha, torch.ones_like(alpha))


def uniform_quantize(w: torch.Tensor, bits: int, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """q_k(w) without gradient trick (values only). ``alpha`` defaults to max|w|."""
    check_bits(bits)
    if alpha is None:
        alpha = quantization_scale(w)
    levels = float(2 ** (bits - 1))
    return torch.clamp(torch.round(w * (levels / alpha)), -levels, levels - 1) * (alpha / levels)


class _StraightThrough(torch.autograd.Function):
    """Forward: the given quantized value; backward: the gradient passes to w unchanged."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
        return quantized

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def quantize_ste(w: torch.Tensor, bits: int | None, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """q_k(w) in the forward pass, identity in the backward pass; ``bits=None`` returns w."""
    if bits is None:
        return w
    return _StraightThrough.apply(w, uniform_quantize(w.detach(), bits, alpha))


def binary_sign(u: torch.Tensor) -> torch.Tensor:
    """sign(u) with sign(0) = +1, values only."""
    return torch.where(u >= 0, torch.ones_like(u), -torch.ones_like(u))


def sign_ste(u: torch.Tensor) -> torch.Tensor:
    """sign(u) (sign(0) = +1) in the forward pass, identity in the backward pass."""
    return _StraightThrough.apply(u, binary_sign(u.detach()))


class _LearnedRangeQuantize(torch.autograd.Function):
    """q_k(w) with a trainable α and the LSQ gradients (see the module docstring)."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, alpha: torch.Tensor, bits: int) -> torch.Tensor:
        levels = float(2 ** (bits - 1))
        v = w * (levels / alpha)
        r = torch.clamp(torch.round(v), -levels, levels - 1)
        ctx.save_for_backward(v, r)
        ctx.levels = levels
        return r * (alpha / levels)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        v, r = ctx.saved_tensors
        levels = ctx.levels
        inside = (v >= -levels) & (v <= levels - 1)
        grad_w = grad * inside
        scale = 1.0 / (levels * (v.numel() * max(levels - 1, 1.0)) ** 0.5)
        grad_alpha = (grad * (r - v * inside)).sum() * scale
        return grad_w, grad_alpha.reshape(()), None


def quantize_learned_range(w: torch.Tensor, bits: int, alpha: torch.Tensor) -> torch.Tensor:
    """q_k(w) on the grid of range ``alpha`` (a trainable scalar), with LSQ gradients to w and α.
    Its value equals ``uniform_quantize(w, bits, alpha)``."""
    check_bits(bits)
    return _LearnedRangeQuantize.apply(w, alpha.clamp_min(1e-8), bits)


class LearnedRange(nn.Module):
    """A trainable range α for one k-bit tensor, started at the papers' rule α = max|w₀|."""

    def __init__(self, bits: int, initial: torch.Tensor) -> None:
        super().__init__()
        self.bits = check_bits(bits, "learned-range bits")
        if self.bits is None:
            raise ValueError("a learned range needs an int number of bits, not None")
        self.alpha = nn.Parameter(quantization_scale(initial).detach().clone().reshape(()))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return quantize_learned_range(w, self.bits, self.alpha)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"
