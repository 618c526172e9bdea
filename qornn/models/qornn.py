"""QORNN: recurrent weights that are (approximately) orthogonal and k-bit, and the PTQ tools.

Recurrent weights (plug into :class:`~qornn.models.network.RecurrentNet`; ``bits=None`` gives the
float ORNN trained with the same mechanism):

* :class:`BjorckWeight` — **STE-Björck**: latent float V → V/σ_max(V) (power iteration) → Björck
  orthonormalisation → q_k with a straight-through estimator (QORNN v2, the authors' code).
* :class:`ProjUNNWeight` — **STE-projUNN**: a latent orthogonal W moved by the optimiser, then put
  back on O(n) by a projUNN-D or projUNN-T rank-k step after each optimiser step; forward uses q_k(W)
  with STE (QORNN v2). ``rank=None``: the full projected step P(W − ΔW) (polar projection / SVD).
* :class:`PenaltyWeight` — a **penalty-based QAT**: forward q_k(W) with STE, and λ‖WᵀW − I‖²_F added to
  the loss. QORNN v1 names three QAT algorithms that we could not read; the authors' code has this
  penalty option, so this is a *plausible* third algorithm, not a confirmed one.

Post-training quantization (PTQ):

* :func:`quantize_post_training` — a copy of a trained float model with k-bit W and U (scale
  α = max|w| per tensor, stored), the readout optionally.
* :func:`calibrate_activations`, :class:`ActivationQuantizedNet` — hidden-state (activation) PTQ: the
  hidden state, the input and the biases on ka-bit grids whose clipping ranges are powers of two,
  computed from the largest values seen on training data, so the recurrence needs only integer
  products and shifts (simulated here in float: the values are those of the integer pipeline).

Size convention (:func:`weight_bits`): a float tensor costs 32 bits an entry; a k-bit tensor k bits an
entry plus one 32-bit float scale α per tensor. Only what inference needs is counted: the quantized
(or float) W, not the latent training copy, nor power-iteration vectors or projUNN anchors.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..orthogonal import (
    LOW_RANK_METHODS,
    ORTHOGONAL_INITS,
    PROJUNN_VARIANTS,
    bjorck,
    henaff_orthogonal,
    power_iteration,
    projunn_step,
)
from ..quantize import LearnedRange, check_bits, quantization_scale, quantize_ste, uniform_quantize
from .network import QuantizedLinear, RecurrentNet
from .recurrent import HadamardWeight, RecurrentWeight, modrelu

__all__ = [
    "weight_bits",
    "BjorckWeight",
    "ProjUNNWeight",
    "PenaltyWeight",
    "FixedQuantizedWeight",
    "quantize_post_training",
    "integer_weights",
    "float_matrix",
    "quantization_range",
    "ActivationRanges",
    "calibrate_activations",
    "power_of_two_range",
    "fake_quantize",
    "ActivationQuantizedNet",
]


def weight_bits(numel: int, bits: int | None) -> int:
    """Storage of a weight tensor: 32·numel (float), or bits·numel + 32 (k-bit entries + scale α)."""
    return 32 * numel if bits is None else bits * numel + 32


def _orthogonal_parameter(size: int, init: str = "haar") -> nn.Parameter:
    """An orthogonal n×n parameter: Haar-random (``nn.init.orthogonal_``) or
    :func:`qornn.orthogonal.henaff_orthogonal` (``init``, one of :data:`ORTHOGONAL_INITS`)."""
    if init not in ORTHOGONAL_INITS:
        raise ValueError(f"unknown orthogonal init {init!r}; valid: {', '.join(ORTHOGONAL_INITS)}")
    if init == "henaff":
        return nn.Parameter(henaff_orthogonal(size))
    w = torch.empty(size, size)
    nn.init.orthogonal_(w)
    return nn.Parameter(w)


class BjorckWeight(RecurrentWeight):
    """STE-Björck: W = q_k(Björck(V / σ_max(V))), gradients by STE through q_k and autograd elsewhere.

    σ_max(V) comes from ``power_iters`` power iterations (relative tolerance ``power_tol``) started
    from the previous call's singular vector (a buffer, as :func:`torch.nn.utils.spectral_norm` does),
    and gets a gradient through σ = uᵀVv. Björck then runs with β, at most ``iters`` iterations and
    stopping tolerance ``tol`` (deel-torchlip's defaults 0.5, 15, 1e-3). The power-iteration σ is a
    lower bound of σ_max, so V/σ may have a spectral norm slightly above 1; Björck converges anyway
    for norms below √3, and the check of :func:`~qornn.orthogonal.bjorck` is off here.

    ``learned_range=True`` (not in the paper): α of q_k is a trained parameter (LSQ gradients, see
    :mod:`qornn.quantize`), started at the paper's rule max|W| of the initial matrix.
    """

    def __init__(self, size: int, bits: int | None = None, *, iters: int = 15, tol: float = 1e-3,
                 beta: float = 0.5, power_iters: int = 10, power_tol: float = 1e-3,
                 learned_range: bool = False) -> None:
        super().__init__(size)
        self.bits = check_bits(bits, "recurrent bits")
        if not isinstance(learned_range, bool):
            raise ValueError(f"learned_range must be True or False, got {learned_range!r}")
        if learned_range and self.bits is None:
            raise ValueError("learned_range=True needs an int number of bits (a float W has no range)")
        # checked here, not at the first forward: a run builds its models before it trains any
        self.iters, self.tol = _check_count(iters, "Björck iters"), _check_tolerance(tol, "Björck tol")
        self.power_iters = _check_count(power_iters, "power_iters")
        self.power_tol = _check_tolerance(power_tol, "power_tol")
        if not _is_number(beta) or not 0 < beta <= 0.5:
            raise ValueError(f"Björck beta must be a number in (0, 0.5], got {beta!r}")
        self.beta = beta
        self.weight = _orthogonal_parameter(size)
        u = torch.randn(size)
        self.register_buffer("power_u", u / u.norm())
        self.range = None
        if learned_range:
            with torch.no_grad():
                self.range = LearnedRange(self.bits, self.orthogonal_matrix())

    def orthogonal_matrix(self) -> torch.Tensor:
        """Björck(V/σ): the float, approximately orthogonal matrix before quantization."""
        sigma, u, _ = power_iteration(self.weight, self.power_iters, self.power_tol, self.power_u)
        if self.training:
            self.power_u.copy_(u)
        return bjorck(self.weight / sigma, self.iters, self.tol, self.beta, check=False)

    def matrix(self) -> torch.Tensor:
        if self.range is not None:
            return self.range(self.orthogonal_matrix())
        return quantize_ste(self.orthogonal_matrix(), self.bits)

    def size_bits(self) -> int:
        return weight_bits(self.size * self.size, self.bits)

    def extra_repr(self) -> str:
        learned = ", learned range" if self.range is not None else ""
        return (f"size={self.size}, bits={self.bits}, iters={self.iters}, tol={self.tol}, "
                f"beta={self.beta}{learned}")


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check_count(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_tolerance(value: object, name: str) -> float:
    if not _is_number(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


class ProjUNNWeight(RecurrentWeight):
    """STE-projUNN: a latent orthogonal W, forward q_k(W) with STE; after each optimiser step
    (``apply_constraints_``) W is replaced by a projUNN step from the last orthogonal W.

    Let W₀ be the orthogonal matrix before the step (kept in the buffer ``anchor``) and W₁ = W₀ − Δ
    what the optimiser made of it (Δ = lr·G for SGD; Adam's or RMSprop's update otherwise). Then

        variant "D":  W ← P(W₀ − Δ_k)                 (projUNN-D, polar projection)
        variant "T":  W ← W₀ exp(−skew(W₀ᵀ Δ_k))      (projUNN-T, tangent step)

    with Δ_k the rank-``rank`` approximation of Δ (``method`` "svd" or "rsvd"); ``rank=None`` keeps
    the full Δ, which makes "D" the projected step P(W₁) by SVD. Using the optimiser's update rather
    than the raw gradient lets any torch optimiser drive projUNN (projUNN's own scripts use RMSprop).
    Assigning W by hand between steps is read as a step: call :meth:`reset_anchor_` afterwards.

    The low-rank formulas assume W₀ᵀW₀ = I exactly, so float32 rounding (~1e-6 a step) is carried
    over rather than corrected; every ``reproject_every`` steps W is re-projected on O(n) by an SVD
    (polar factor) to keep ‖WᵀW − I‖_F near 1e-5 over long runs (0 or None: never).

    W starts Haar-random (``init="haar"``) or as Henaff's rotations (``init="henaff"``,
    :func:`qornn.orthogonal.henaff_orthogonal`), as projUNN's copy-task script starts it. A rank-k step
    moves W little, so the start decides the quantizer's range α = max|W| for a long time.
    """

    def __init__(self, size: int, bits: int | None = None, *, rank: int | None = 1, variant: str = "D",
                 method: str = "svd", reproject_every: int | None = 100, init: str = "haar") -> None:
        super().__init__(size)
        self.bits = check_bits(bits, "recurrent bits")
        if variant not in PROJUNN_VARIANTS:
            raise ValueError(f"unknown projUNN variant {variant!r}; valid: {', '.join(PROJUNN_VARIANTS)}")
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int)
                                 or not 1 <= rank <= size):
            raise ValueError(f"projUNN rank must be None (full) or an int in [1, {size}], got {rank!r}")
        if method not in LOW_RANK_METHODS:
            raise ValueError(f"unknown low-rank method {method!r}; valid: {', '.join(LOW_RANK_METHODS)}")
        if reproject_every is not None:
            _check_count(reproject_every, "reproject_every (None: never)", minimum=0)
        self.rank, self.variant, self.method = rank, variant, method
        self.reproject_every = reproject_every or 0
        self.init = init
        self.weight = _orthogonal_parameter(size, init)
        self.register_buffer("anchor", self.weight.detach().clone())
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

    def matrix(self) -> torch.Tensor:
        return quantize_ste(self.weight, self.bits)

    def reset_anchor_(self) -> None:
        """Re-project W onto O(n) (polar) and take it as the new anchor."""
        with torch.no_grad():
            u, _, vh = torch.linalg.svd(self.weight.double())
            self.weight.copy_(u @ vh)
            self.anchor.copy_(self.weight)

    def apply_constraints_(self) -> None:
        with torch.no_grad():
            step = self.anchor - self.weight
            if not bool(step.any()):
                return
            new = projunn_step(self.anchor, step, lr=1.0, rank=self.rank, variant=self.variant,
                               method=self.method)
            self.steps += 1
            if self.reproject_every and int(self.steps) % self.reproject_every == 0:
                u, _, vh = torch.linalg.svd(new.double())
                new = (u @ vh).to(new.dtype)
            self.weight.copy_(new)
            self.anchor.copy_(new)

    def size_bits(self) -> int:
        return weight_bits(self.size * self.size, self.bits)

    def extra_repr(self) -> str:
        return (f"size={self.size}, bits={self.bits}, rank={self.rank}, variant={self.variant}"
                + ("" if self.init == "haar" else f", init={self.init}"))


class _AddPenaltyGradient(torch.autograd.Function):
    """Identity in the forward pass; adds ∇_W λ‖WᵀW − I‖²_F = 4λ W(WᵀW − I) to the gradient."""

    @staticmethod
    def forward(ctx, w, lam):
        ctx.save_for_backward(w)
        ctx.lam = lam
        return w.clone()

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        eye = torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
        return grad + 4 * ctx.lam * (w @ (w.t() @ w - eye)), None


class PenaltyWeight(RecurrentWeight):
    """Penalty QAT (plausible third algorithm of QORNN v1): W latent float, forward q_k(W) with STE,
    loss + λ‖WᵀW − I‖²_F.

    The penalty's gradient is added inside the backward pass of :meth:`matrix` (an identity autograd
    function), which is exactly what adding λ‖WᵀW − I‖² to the loss does to the gradient, without
    touching the training loop; the loss the loop reports does not include it (:meth:`penalty` gives
    its value). ``matrix()`` must be used once per backward pass (RecurrentNet does).
    """

    def __init__(self, size: int, bits: int | None = None, *, penalty: float = 1.0) -> None:
        super().__init__(size)
        self.bits = check_bits(bits, "recurrent bits")
        if not (isinstance(penalty, (int, float)) and penalty >= 0 and math.isfinite(penalty)):
            raise ValueError(f"orthogonality penalty λ must be a finite number >= 0, got {penalty!r}")
        self.lam = float(penalty)
        self.weight = _orthogonal_parameter(size)

    def penalty(self) -> torch.Tensor:
        """λ‖WᵀW − I‖²_F, the term added to the loss."""
        eye = torch.eye(self.size, dtype=self.weight.dtype, device=self.weight.device)
        return self.lam * (self.weight.t() @ self.weight - eye).pow(2).sum()

    def matrix(self) -> torch.Tensor:
        w = self.weight
        if self.lam and torch.is_grad_enabled() and w.requires_grad:
            w = _AddPenaltyGradient.apply(w, self.lam)
        return quantize_ste(w, self.bits)

    def size_bits(self) -> int:
        return weight_bits(self.size * self.size, self.bits)

    def extra_repr(self) -> str:
        return f"size={self.size}, bits={self.bits}, penalty={self.lam}"


class FixedQuantizedWeight(RecurrentWeight):
    """A trained W quantized once (PTQ): q_k(W) with its scale α = max|W| stored (not trainable)."""

    def __init__(self, w: torch.Tensor, bits: int) -> None:
        super().__init__(w.shape[0])
        self.bits = check_bits(bits, "PTQ recurrent bits")
        if self.bits is None:
            raise ValueError("post-training quantization needs an int number of bits, not None")
        self.register_buffer("weight", w.detach().clone())
        self.register_buffer("alpha", quantization_scale(self.weight))

    def matrix(self) -> torch.Tensor:
        return uniform_quantize(self.weight, self.bits, self.alpha)

    def integer_matrix(self) -> torch.Tensor:
        """W_int = round(2^(k-1) W/α) in [−2^(k−1), 2^(k−1) − 1], so q_k(W) = α/2^(k−1) · W_int."""
        return _integer(self.weight, self.bits, self.alpha)

    def size_bits(self) -> int:
        return weight_bits(self.size * self.size, self.bits)

    def extra_repr(self) -> str:
        return f"size={self.size}, bits={self.bits}"


def _integer(w: torch.Tensor, bits: int, alpha: torch.Tensor) -> torch.Tensor:
    levels = 2 ** (bits - 1)
    return torch.clamp(torch.round(w * (levels / alpha)), -levels, levels - 1).to(torch.int32)


def quantize_post_training(model: nn.Module, bits: int, *, input_bits: int | None | str = "same",
                           output_bits: int | None = None) -> nn.Module:
    """A k-bit copy of a trained float model (PTQ); ``model`` itself is left unchanged.

    For a :class:`RecurrentNet` (or one inside a text embedding), W becomes
    :class:`FixedQuantizedWeight` (q_k(W), α = max|W|). Every :class:`QuantizedLinear` (input U, and
    the recurrent matrices of the baselines) gets ``bits`` (``input_bits`` when given), except the
    readout, which gets ``output_bits`` (default: stays as it was trained, the paper quantizes W and
    U). The copy is in eval mode.
    """
    check_bits(bits, "PTQ bits")
    if bits is None:
        raise ValueError("post-training quantization needs an int number of bits, not None")
    in_bits = bits if input_bits == "same" else check_bits(input_bits, "PTQ input bits")
    out_bits = check_bits(output_bits, "PTQ output bits")
    q = copy.deepcopy(model)
    for name, module in q.named_modules():
        if isinstance(module, QuantizedLinear):
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "readout":
                if out_bits is not None:
                    module.bits = out_bits
            elif leaf == "input":
                module.bits = in_bits
            else:
                module.bits = bits
    net, source = getattr(q, "model", q), getattr(model, "model", model)  # inside a text embedding
    if isinstance(net, RecurrentNet):
        # eval mode: a model fresh from training reads its W as its packed weights do, and the
        # source's power-iteration vector stays put, so every width quantizes the same matrix
        with torch.no_grad(), _evaluating(source.recurrent):
            w = source.recurrent.matrix().detach()
        net.recurrent = FixedQuantizedWeight(w, bits)
    return q.eval()


@contextlib.contextmanager
def _evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode inside the block, in its own mode again after it: reading a
    :class:`BjorckWeight` there leaves its power-iteration vector ``power_u`` unchanged."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def float_matrix(rec: RecurrentWeight) -> torch.Tensor:
    """The float matrix behind a recurrent weight (detached): what its q_k quantizes (Björck's
    output, the latent W of STE-projUNN / penalty QAT, the stored W of a PTQ weight), or the W
    of a float weight without a latent matrix (a torch parametrization). Björck runs in eval mode, so
    reading it does not move the power-iteration vector."""
    if isinstance(rec, BjorckWeight):
        with torch.no_grad(), _evaluating(rec):
            return rec.orthogonal_matrix().detach()
    if isinstance(getattr(rec, "weight", None), torch.Tensor):
        return rec.weight.detach()
    with torch.no_grad():
        return rec.matrix().detach()


def quantization_range(rec: RecurrentWeight, base: torch.Tensor) -> torch.Tensor:
    """The range α of a k-bit recurrent weight's q_k: stored (PTQ), learned (LSQ), or max|base| with
    ``base`` = :func:`float_matrix` (the papers' rule)."""
    if isinstance(rec, FixedQuantizedWeight):
        return rec.alpha
    learned = getattr(rec, "range", None)
    return quantization_scale(base) if learned is None else learned.alpha.detach()


def integer_weights(model: RecurrentNet) -> dict[str, tuple[torch.Tensor, float]]:
    """The k-bit matrices of a quantized RecurrentNet as {name: (integer tensor, step α/2^(k−1))}.

    W comes from a recurrent weight with ``bits`` (its :func:`float_matrix` and
    :func:`quantization_range`), or is HadamRNN's W = diag(s)·(I ⊗ H_m)/√m, whose entries are
    integers up to the step 1/√m: W_int = diag(s)·(I ⊗ H_m) ∈ {−1, 0, +1}; U and V come from the
    QuantizedLinear layers that have bits. Float matrices are left out. q_k(M) = step · M_int for
    each entry.
    """
    out: dict[str, tuple[torch.Tensor, float]] = {}
    rec = model.recurrent
    if getattr(rec, "bits", None) is not None:
        base = float_matrix(rec)
        alpha = quantization_range(rec, base)
        out["W"] = (_integer(base, rec.bits, alpha), float(alpha) / 2 ** (rec.bits - 1))
    elif isinstance(rec, HadamardWeight):
        with torch.no_grad():
            out["W"] = (rec.signs()[:, None] * rec.hadamard, 1.0 / math.sqrt(rec.block))
    for key, lin in (("U", model.input), ("V", model.readout)):
        if lin.bits is not None:
            alpha = lin.alpha()
            out[key] = (_integer(lin.weight.detach(), lin.bits, alpha), float(alpha) / 2 ** (lin.bits - 1))
    return out


@dataclass(frozen=True)
class ActivationRanges:
    """Largest |x| (float inputs; 0 for tokens) and |h| seen on calibration data."""

    input_max: float
    hidden_max: float


def calibrate_activations(model: RecurrentNet, inputs: Iterable[torch.Tensor]) -> ActivationRanges:
    """Run ``model`` on ``inputs`` (e.g. the training set, batch by batch) and record max|x|, max|h|."""
    x_max, h_max = 0.0, 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for x in inputs:
            if x.is_floating_point():
                x_max = max(x_max, float(x.abs().max()))
            h_max = max(h_max, float(model.hidden_states(x).abs().max()))
    model.train(was_training)
    if h_max == 0.0:
        raise ValueError("calibration saw no non-zero hidden state (no input, or a dead network)")
    return ActivationRanges(x_max, h_max)


def power_of_two_range(value: float) -> float:
    """The smallest power of two ≥ ``value`` (> 0): the clipping range R = 2^⌈log₂ value⌉."""
    if not value > 0:
        raise ValueError(f"a clipping range needs a positive value, got {value}")
    return 2.0 ** math.ceil(math.log2(value))


def fake_quantize(v: torch.Tensor, step: float, bits: int) -> torch.Tensor:
    """step · clamp(round(v/step), −2^(b−1), 2^(b−1) − 1): v on a b-bit grid (values only)."""
    levels = 2 ** (bits - 1)
    return torch.clamp(torch.round(v / step), -levels, levels - 1) * step


class ActivationQuantizedNet(nn.Module):
    """Activation PTQ of a (weight-quantized) RecurrentNet, following the authors' notebook:

        R_h = 2^⌈log₂ max|h|⌉,  s_h = R_h / 2^(ka−1)          (power-of-two range, ka-bit grid)
        x̂_t = Q_x(x_t)  (same rule for float inputs; tokens are exact)
        h_t = Q_h(σ(Ŵ h_{t−1} + Û x̂_t + Q_b(b)))            Q_h(v) = s_h·clamp(round(v/s_h), ±2^(ka−1))

    The biases (b, and modReLU's m) get a ka-bit grid of their own, Q_b with the power-of-two range
    R_b = 2^⌈log₂ max(|b|, |m|)⌉, as the notebook gives them theirs (``quant_bias``, range 1.0 in its
    units). On the hidden grid instead, whose step follows the largest |h|, rounding b would make the
    same error at every step, which the orthogonal recurrence carries along: over the copy task's
    1,000 steps that error, not the grid's resolution, decided a solved model's 12-bit loss.

    (modReLU σ_m: h_t = Q_h(σ_{Q_b(m)}(s_h·round(z_t/s_h))), the sum rounded to the grid first, as the
    integer loop does, but not clipped: σ_m shrinks it; for ReLU the two orders agree. Both paths
    leave out modReLU's ε = 1e-6, which the integer codes cannot hold.)

    Ŵ = s_W·W_int, Û = s_U·U_int are the model's k-bit matrices (:func:`integer_weights`).
    Evaluation only. Two computations of the same recurrence:

    * ``integer=False`` (default): the float simulation above (fake quantization in float32);
    * ``integer=True``: the integer-only loop. With H_t = h_t/s_h and X_t = x̂_t/s_x the codes,

          H_t = clamp(σ(round((M_W·(W_int H_{t−1}) + M_U·(U_int X_t) + 2^S·B) / 2^S)), ±2^(ka−1))

      where W_int H and U_int X are integer products, B = Q_b(b)/s_b·(s_b/s_h) is the bias's code
      shifted to the hidden grid (s_b/s_h is a power of two: a shift, with fractional bits), and the
      two real rescalings s_W and s_U·s_x/s_h are fixed-point multipliers M/2^S (M = round(m·2^S),
      S = ``shift``), so that only integer products, additions and rounding shifts are left; modReLU
      rounds |H| + Q_b(m)/s_h to the grid once more. The shifts round ties to even, as the
      simulation's ``torch.round`` does: with HadamRNN's W (steps of 1/√m) ties are common, and B is
      added before the rounding for the same reason. (The integers are held in
      float64, where every value here is an exact integer: the products stay below 2^53, which is
      checked.) It agrees with the float simulation up to the rounding of the multipliers.
    """

    def __init__(self, model: RecurrentNet, ranges: ActivationRanges, act_bits: int = 12, *,
                 integer: bool = False, shift: int = 32) -> None:
        super().__init__()
        if not isinstance(model, RecurrentNet):
            raise TypeError(f"activation PTQ needs a RecurrentNet, got {type(model).__name__}")
        if model.nonlinearity not in ("linear", "relu", "modrelu"):
            raise ValueError("activation PTQ supports linear, ReLU and modReLU recurrences, "
                             f"not {model.nonlinearity!r}")
        self.act_bits = check_bits(act_bits, "activation bits")
        if self.act_bits is None:
            raise ValueError("activation PTQ needs an int number of bits, not None")
        self.model, self.integer, self.shift = model, integer, shift
        levels = 2 ** (self.act_bits - 1)
        self.hidden_step = power_of_two_range(ranges.hidden_max) / levels
        self.input_step = power_of_two_range(ranges.input_max) / levels if ranges.input_max > 0 else None
        biases = [v.detach().abs().max() for v in (model.input.bias, model.modrelu_bias) if v is not None]
        largest = float(max(biases)) if biases else 0.0
        self.bias_step = power_of_two_range(largest) / levels if largest > 0 else None
        if integer:
            ints = integer_weights(model)
            missing = [name for name in ("W", "U") if name not in ints]
            if missing:
                raise ValueError(f"the integer path needs k-bit W and U; {', '.join(missing)} "
                                 "is in float (quantize the weights first)")

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        return self._integer_states(x) if self.integer else self._float_states(x)

    def _float_states(self, x: torch.Tensor) -> torch.Tensor:
        m, bits, s_h = self.model, self.act_bits, self.hidden_step
        if x.is_floating_point() and self.input_step is not None:
            x = fake_quantize(x, self.input_step, bits)
        bias = m.input.bias
        a = m.preactivations(x)
        if bias is not None:
            a = a - bias + self._on_bias_grid(bias)
        if m.modrelu_bias is not None:
            shrink = self._on_bias_grid(m.modrelu_bias)
        wt = m.recurrent.matrix().t()
        h = a.new_zeros(a.shape[1:])
        states = []
        for a_t in a.unbind(0):
            h = torch.addmm(a_t, h, wt)
            if m.nonlinearity == "relu":
                h = F.relu(h)
            elif m.nonlinearity == "modrelu":  # the sum rounded first (not clipped), as the integer loop
                h = modrelu(torch.round(h / s_h) * s_h, shrink, eps=0.0)
            h = fake_quantize(h, s_h, bits)
            states.append(h)
        return torch.stack(states)

    def _on_bias_grid(self, v: torch.Tensor) -> torch.Tensor:
        """Q_b(v): a bias on the biases' own ka-bit grid (detached: evaluation only; biases all 0: 0)."""
        if self.bias_step is None:
            return torch.zeros_like(v.detach())
        return fake_quantize(v.detach(), self.bias_step, self.act_bits)

    def _integer_states(self, x: torch.Tensor) -> torch.Tensor:
        m, s_h, big = self.model, self.hidden_step, 2.0 ** self.shift
        levels = 2 ** (self.act_bits - 1)
        ints = integer_weights(m)
        w_int, s_w = ints["W"]
        u_int, s_u = ints["U"]
        w_int, u_int = w_int.double(), u_int.double()
        if x.is_floating_point():
            s_x = self.input_step if self.input_step is not None else 1.0
            codes = torch.clamp(torch.round(x.double() / s_x), -levels, levels - 1)
            ux = codes.transpose(0, 1) @ u_int.t()  # U_int X_t for all t: (T, B, n)
        else:  # tokens: U x_t is the column U_int[:, x_t], exactly
            s_x = 1.0
            ux = F.embedding(x.t(), u_int.t())
        mult_w = round(s_w * big)
        mult_u = round(s_u * s_x / s_h * big)
        def codes_of(v: torch.Tensor | None) -> torch.Tensor | float:  # a bias, in hidden-grid units
            if v is None or self.bias_step is None:
                return 0.0
            codes = torch.clamp(torch.round(v.detach().double() / self.bias_step), -levels, levels - 1)
            return codes * (self.bias_step / s_h)  # a power of two: exact

        b, shrink = codes_of(m.input.bias), codes_of(m.modrelu_bias)
        limit = levels * float(w_int.abs().sum(1).max()) * mult_w + float(ux.abs().max()) * mult_u
        if limit >= 2.0 ** 53:
            raise ValueError(f"integer path overflow: products reach {limit:.3g} ≥ 2^53; use a smaller "
                             "shift or fewer bits")
        h = ux.new_zeros(ux.shape[1:])
        states = []
        for ux_t in (mult_u * ux).unbind(0):
            acc = mult_w * (h @ w_int.t()) + ux_t
            h = torch.round(acc / big + b)  # exact in float64; ties to even, as the simulation
            if m.nonlinearity == "relu":
                h = F.relu(h)
            elif m.nonlinearity == "modrelu":  # no ε; back to the grid, as the simulation
                h = torch.round(modrelu(h, shrink, eps=0.0))
            h = torch.clamp(h, -levels, levels - 1)
            states.append(h)
        return (torch.stack(states) * s_h).to(m.readout.weight.dtype)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hidden_states(x)
        if self.model.many_to_many:
            return self.model.read_out(h).transpose(0, 1)
        return self.model.read_out(h[-1])

    def size_bits(self) -> int:
        return self.model.size_bits()
