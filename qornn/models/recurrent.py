"""Recurrent weight matrices W, the pluggable part of every qornn RNN.

Each class is one mathematical object with a ``matrix()`` (the effective n×n W used in the forward
pass, quantized where it should be), a ``recur`` method that runs h_t = σ(W h_{t-1} + a_t) over a
whole sequence (subclasses may override it with a faster algorithm that gives the same result), a
``size_bits()`` (storage cost as the papers count it) and ``apply_constraints_()`` (called after
each optimiser step).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from ..hadamard import block_hadamard, check_power_of_two
from ..quantize import binary_sign, sign_ste
from ..signs import make_sign_rule

__all__ = [
    "NONLINEARITIES",
    "RecurrentWeight",
    "HadamardWeight",
    "OrthogonalWeight",
    "dense_recurrence",
    "modrelu",
]

NONLINEARITIES = ("linear", "relu", "tanh", "modrelu")

#: the ε of modReLU's |z| + ε + b (the authors' ``layers.modrelu``)
MODRELU_EPS = 1e-6


def modrelu(z: torch.Tensor, b: torch.Tensor | float, eps: float = MODRELU_EPS) -> torch.Tensor:
    """modReLU (Arjovsky et al. 2016), as the QORNN authors' code computes it:
    σ_b(z) = sign(z) · ReLU(|z| + ε + b), with a learned bias b per unit and ε = 1e-6. It keeps the
    sign of each entry and shrinks its magnitude by −b (b < 0) or zeroes it (|z| + ε ≤ −b).
    Its derivative, used by :class:`_DenseRecurrence`: ∂σ/∂z = 1 and ∂σ/∂b = sign(z) where σ_b(z) ≠ 0,
    and both 0 where σ_b(z) = 0 (so the output alone tells the backward which entries pass).
    The activation-quantized networks pass ``eps=0``: their integer codes cannot hold ε."""
    sign, magnitude = _modrelu_factors(z, b, eps)
    return sign * magnitude


def _modrelu_factors(z: torch.Tensor, b: torch.Tensor | float, eps: float = MODRELU_EPS
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """sign(z) and ReLU(|z| + ε + b), whose product is :func:`modrelu`."""
    return torch.sgn(z), F.relu(z.abs() + eps + b)


def _check_bias(nonlinearity: str, bias: torch.Tensor | None) -> None:
    if (nonlinearity == "modrelu") != (bias is not None):
        raise ValueError("the modReLU recurrence needs its bias b (and only it takes one); got "
                         f"nonlinearity={nonlinearity!r} with bias {'given' if bias is not None else 'None'}")


def _dense_states(a: torch.Tensor, w: torch.Tensor, nonlinearity: str, h0: torch.Tensor,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = σ(h_{t-1} Wᵀ + a_t), stacked (T, B, n), with differentiable operations: the reference
    that autograd differentiates step by step (tests, benchmarks/dense_recurrence.py), and the path of
    a given h_0 that needs a gradient. ``bias``: modReLU's b."""
    h, wt = h0, w.t()
    states = []
    for a_t in a.unbind(0):
        h = torch.addmm(a_t, h, wt)
        if nonlinearity == "relu":
            h = F.relu(h)
        elif nonlinearity == "tanh":
            h = torch.tanh(h)
        elif nonlinearity == "modrelu":
            h = modrelu(h, bias)
        states.append(h)
    return torch.stack(states)


def _dense_states_into(a: torch.Tensor, w: torch.Tensor, nonlinearity: str, h0: torch.Tensor,
                       overwrite: bool = False, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The states of :func:`_dense_states` (the same kernels on the same operands, so the same bits),
    each step writing into its slice of one (T, B, n) tensor (``out=``), where that loop stacks T
    tensors at the end: a copy of the whole sequence less. With ``overwrite``, that tensor is ``a``
    itself (contiguous: the caller checks), each h_t replacing the a_t it was computed from: for the
    linear recurrence the product then adds onto a_t where it lies (addmm with out = self), instead
    of copying a_t into a new tensor first. Not differentiable (in-place writes)."""
    inputs = a.unbind(0)
    if overwrite:
        states, outputs = a, inputs  # the same tensors: addmm sees out is self and skips its copy
    else:
        states = a.new_empty(a.shape)  # contiguous, as the stack it replaces
        outputs = states.unbind(0)
    h, wt = h0, w.t()
    for a_t, out in zip(inputs, outputs, strict=True):
        if nonlinearity == "linear":
            h = torch.addmm(a_t, h, wt, out=out)
        elif nonlinearity == "relu":  # F.relu is clamp_min(·, 0)
            h = torch.clamp_min(torch.addmm(a_t, h, wt), 0, out=out)
        elif nonlinearity == "tanh":
            h = torch.tanh(torch.addmm(a_t, h, wt), out=out)
        else:
            h = torch.mul(*_modrelu_factors(torch.addmm(a_t, h, wt), bias), out=out)
    return states


class _DenseRecurrence(torch.autograd.Function):
    """:func:`dense_recurrence` with a hand-written backward: the operations autograd runs for the
    step-by-step graph (the same kernels, on the same operands, summed in the same order), without
    building that graph of 2T to 3T nodes. So the gradients are those of autograd bit for bit
    (tests/test_models.py), and a step of a dense model at the copy task's shape is faster
    (benchmarks/dense_recurrence.py). Per step t, from T down to 1, with g_t the gradient of h_t:
        δ_t = σ'(g_t + δ_{t+1} W)     (ReLU: threshold_backward; tanh: tanh_backward; linear: itself)
        ∂L/∂a_t = δ_t,   ∂L/∂W += δ_tᵀ h_{t-1}   (autograd's mm backward for a transposed mat2, which
    sums the transposes of these terms: the same additions, transposed).
    modReLU (:func:`modrelu`): δ_t = (g_t + δ_{t+1} W) where h_t ≠ 0, else 0, and ∂L/∂b += Σ_batch
    δ_t ⊙ sign(h_t); these equal autograd's up to the order of the sums over the batch (tested)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, w: torch.Tensor, nonlinearity: str, overwrite: bool = False,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        h0 = a.new_zeros(a.shape[1:])
        states = _dense_states_into(a, w, nonlinearity, h0, overwrite, bias)
        if overwrite:  # the states are a, written in place (the backward needs no a)
            ctx.mark_dirty(a)
        ctx.save_for_backward(states, w, h0)
        ctx.nonlinearity = nonlinearity
        return states

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        states, w, h0 = ctx.saved_tensors
        grads_a = torch.empty_like(states)  # contiguous, as autograd's stack of the per-step gradients
        grad_w, grad_b, carried = None, None, None
        for t in range(states.shape[0] - 1, -1, -1):
            out = grads_a[t]
            if ctx.nonlinearity == "linear":
                g = out.copy_(grad[t]) if carried is None else torch.add(grad[t], carried, out=out)
            else:
                g = grad[t] if carried is None else grad[t] + carried
                if ctx.nonlinearity == "relu":
                    g = torch.ops.aten.threshold_backward.grad_input(g, states[t], 0, grad_input=out)
                elif ctx.nonlinearity == "tanh":
                    g = torch.ops.aten.tanh_backward.grad_input(g, states[t], grad_input=out)
                else:  # modReLU: passes where h_t ≠ 0
                    g = torch.mul(g, states[t] != 0, out=out)
                    if ctx.needs_input_grad[4]:
                        term = (g * torch.sgn(states[t])).sum(0)
                        grad_b = term if grad_b is None else grad_b.add_(term)
            if t > 0:  # h_0 is a constant: autograd computes no gradient for it
                carried = g.mm(w)
            if ctx.needs_input_grad[1]:
                # accumulated untransposed, in place: both operands contiguous, where adding the
                # transposed terms as autograd does walks one of them across its rows
                term = g.t().mm(states[t - 1] if t > 0 else h0)
                grad_w = term if grad_w is None else grad_w.add_(term)
        return grads_a, grad_w, None, None, grad_b


def dense_recurrence(
    a: torch.Tensor, w: torch.Tensor, nonlinearity: str = "linear", h0: torch.Tensor | None = None,
    *, overwrite: bool = False, bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """h_t = σ(W h_{t-1} + a_t) for t = 1..T with a dense product per step.

    ``a`` is time-major (T, B, n); returns all states (T, B, n). The loop iterates over
    ``a.unbind(0)``: indexing ``a[t]`` of a tensor that requires grad makes backward quadratic in T.
    When a gradient is needed (and h_0 = 0), :class:`_DenseRecurrence` computes it with the same
    operations as autograd but without its per-step graph; when none is, the same in-place loop runs
    without one. ``overwrite=True`` (for a caller's temporary ``a``, contiguous) writes the states
    into ``a`` and returns it: the same numbers, without a second (T, B, n) tensor or the copy of
    each a_t (ignored with a given h_0, whose path autograd differentiates step by step).
    ``bias`` is modReLU's b (n,), given with ``nonlinearity="modrelu"`` and only then.
    """
    _check_bias(nonlinearity, bias)
    h0_given = h0 is not None
    h0 = a.new_zeros(a.shape[1:]) if h0 is None else h0
    overwrite = overwrite and a.is_contiguous()
    trained = (a, w, h0) if bias is None else (a, w, h0, bias)
    if torch.is_grad_enabled() and any(x.requires_grad for x in trained):
        if h0_given:
            return _dense_states(a, w, nonlinearity, h0, bias)
        return _DenseRecurrence.apply(a, w, nonlinearity, overwrite, bias)
    return _dense_states_into(a, w, nonlinearity, h0, overwrite, bias)


class RecurrentWeight(nn.Module):
    """Base class: an n×n recurrent matrix and the recurrence that uses it."""

    def __init__(self, size: int) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"hidden size must be a positive int, got {size!r}")
        self.size = size

    def matrix(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def recur(self, a: torch.Tensor, nonlinearity: str = "linear", *, overwrite: bool = False,
              bias: torch.Tensor | None = None) -> torch.Tensor:
        """All hidden states (T, B, n) from the time-major pre-activations a_t = U x_t + b;
        ``overwrite``: ``a`` is the caller's temporary, which may hold the states on return;
        ``bias``: modReLU's b (:func:`dense_recurrence`)."""
        return dense_recurrence(a, self.matrix(), nonlinearity, overwrite=overwrite, bias=bias)

    def size_bits(self) -> int:
        """Bits needed to store W as the papers count it (float: 32 bits an entry)."""
        return 32 * self.size * self.size

    def apply_constraints_(self) -> None:
        """Project the latent parameters back onto their domain after an optimiser step."""


class HadamardWeight(RecurrentWeight):
    """HadamRNN's binary (or Block-HadamRNN's sparse ternary) orthogonal matrix.

        W(u) = diag(sign(u)) · (I_{n/m} ⊗ H_m) / √m,   u ∈ R^n latent, m = block (default n).

    W is orthogonal for every u, since sign(u) ∈ {±1}^n (sign(0) = +1) and H_m/√m is orthogonal.
    Its entries lie in {-1, 0, +1}/√m with a fraction m/n of non-zeros; storing it takes n bits
    (the signs; H is implicit). Gradients reach u through the straight-through estimator, and u is
    clamped to [-1, 1] after each step so that a sign can flip back quickly (the authors' code
    defines this clamp, ``apply_weight_constraints_``, though its training step leaves the call
    commented out; ``clamp_signs=False`` trains as that step does, u unbounded).
    ``learn_signs=False`` keeps the random initial signs fixed: an ablation that measures what
    learning W adds to learning U, V and the biases.
    """

    def __init__(self, size: int, block: int | None = None, learn_signs: bool = True,
                 sign_training: dict | None = None, *, clamp_signs: bool = True) -> None:
        super().__init__(size)
        self.clamp_signs = clamp_signs
        check_power_of_two(size if block is None else block,
                           "HadamRNN hidden size" if block is None else "Hadamard block size")
        self.block = size if block is None else block
        self.register_buffer("hadamard", block_hadamard(size, self.block), persistent=False)
        bound = math.sqrt(6.0 / (1 + size))  # Xavier-uniform on a 1×n tensor, as the authors do
        self.u = nn.Parameter(torch.empty(size).uniform_(-bound, bound), requires_grad=learn_signs)
        # How the signs learn (qornn.signs): None is the released method, plain STE and the optimiser.
        if sign_training is not None and not learn_signs:
            raise ValueError(f"sign_training={sign_training!r} needs learn_signs=True")
        self.sign_rule = make_sign_rule(size, sign_training)
        if self.sign_rule is not None:
            self.sign_rule.initialise_(self.u)
        # Sign flips counted by apply_constraints_ for diagnostics(); training checkpoints them
        # (diagnostics_state), so a resumed epoch counts what an uninterrupted one would.
        self._last_signs: torch.Tensor | None = None
        self._flips = self._steps = 0

    def signs(self) -> torch.Tensor:
        return sign_ste(self.u) if self.sign_rule is None else self.sign_rule.signs(self.u)

    def _fast(self, x: torch.Tensor, *others: torch.Tensor, nonlinearity: str) -> bool:
        """Whether the fused kernel of :mod:`qornn.fast_hadamard` runs this recurrence on x and
        ``others`` (:func:`~qornn.fast_hadamard.supports`: CPU tensors of one float dtype, σ not
        modReLU), built and not switched off by ``self.fast = False`` or
        ``fast_hadamard.set_enabled(False)``."""
        from .. import fast_hadamard

        return (getattr(self, "fast", True) and fast_hadamard.enabled()
                and fast_hadamard.supports(x, self.u, *others, nonlinearity=nonlinearity)
                and fast_hadamard.available())

    def recur(self, a: torch.Tensor, nonlinearity: str = "linear", *, overwrite: bool = False,
              bias: torch.Tensor | None = None) -> torch.Tensor:
        """All states (T, B, n) from pre-activations, with the fused kernel when it can run (same result
        as the dense path, the reference; not for modReLU), else with one dense product per step
        (``overwrite``, ``bias``: as :meth:`RecurrentWeight.recur`)."""
        from .. import fast_hadamard

        if self._fast(a, nonlinearity=nonlinearity):
            return fast_hadamard.hadamard_rnn(a, self.signs(), block=self.block, nonlinearity=nonlinearity)
        return dense_recurrence(a, self.matrix(), nonlinearity, overwrite=overwrite, bias=bias)

    def fused_states(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, nonlinearity: str,
                     last_only: bool, readout: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> torch.Tensor | None:
        """States of h_t = σ(W h_{t-1} + U x_t + b) from the raw inputs x (B, T, d), with a_t computed
        inside the fused kernel's loop: all (T, B, n), or the last (B, n); with ``readout`` = (V, c), the
        logits V ReLU(h_t) + c of every step (T, B, o) instead. None when the kernel cannot run (the
        caller then takes the dense path)."""
        from .. import fast_hadamard

        if not self._fast(x, weight, bias, *(readout or ()), nonlinearity=nonlinearity):
            return None
        v, c = readout if readout is not None else (None, None)
        return fast_hadamard.hadamard_rnn(x, self.signs(), weight=weight, bias=bias, block=self.block,
                                          nonlinearity=nonlinearity, all_states=not last_only,
                                          readout_weight=v, readout_bias=c)

    def matrix(self) -> torch.Tensor:
        return self.signs()[:, None] * self.hadamard / math.sqrt(self.block)

    def size_bits(self) -> int:
        return self.size

    def apply_constraints_(self) -> None:
        if self.sign_rule is not None:
            self.sign_rule.after_step(self.u)  # Bop flips signs here
        with torch.no_grad():
            if self.clamp_signs:
                self.u.clamp_(-1.0, 1.0)
            # Count sign flips per optimiser step (the authors' TRACK_FLIPS): how much W moves.
            signs = binary_sign(self.u)
            if self._last_signs is not None:
                self._flips += int((signs != self._last_signs).sum())
                self._steps += 1
            self._last_signs = signs

    def diagnostics(self) -> dict[str, float]:
        """Since the last call: sign flips per optimiser step; now: mean |u| (how close the
        latent signs are to flipping). The counters travel in training checkpoints
        (:meth:`diagnostics_state`), so a resumed epoch's count covers the whole epoch."""
        out = {"mean_abs_u": float(self.u.detach().abs().mean())}
        if self._steps:
            out["sign_flips_per_step"] = self._flips / self._steps
        self._flips, self._steps = 0, 0
        return out

    def diagnostics_state(self) -> dict:
        """The sign-flip counters, as tensors and ints (what a ``weights_only`` checkpoint holds)."""
        return {"flips": self._flips, "steps": self._steps, "last_signs": self._last_signs}

    def load_diagnostics_state(self, state: dict) -> None:
        self._flips, self._steps = int(state["flips"]), int(state["steps"])
        last = state["last_signs"]
        self._last_signs = None if last is None else last.to(self.u.device)

    def extra_repr(self) -> str:
        return f"size={self.size}, block={self.block}" + ("" if self.u.requires_grad else ", fixed signs")


class OrthogonalWeight(RecurrentWeight):
    """A float orthogonal W kept on O(n) by torch's orthogonal parametrization.

    ``orthogonal_map`` is "matrix_exp" (W = exp(A), A skew-symmetric) or "cayley"
    (W = (I + A/2)(I - A/2)^{-1}). Initialised at a random orthogonal matrix.
    """

    MAPS = ("matrix_exp", "cayley")

    def __init__(self, size: int, orthogonal_map: str = "matrix_exp") -> None:
        super().__init__(size)
        if orthogonal_map not in self.MAPS:
            raise ValueError(f"unknown orthogonal_map {orthogonal_map!r}; valid: {', '.join(self.MAPS)}")
        self.linear = nn.Linear(size, size, bias=False)
        nn.init.orthogonal_(self.linear.weight)
        parametrizations.orthogonal(self.linear, orthogonal_map=orthogonal_map)

    def matrix(self) -> torch.Tensor:
        return self.linear.weight


def hadamard_signs(weight: HadamardWeight) -> torch.Tensor:
    """The ±1 signs of a HadamardWeight, without gradient (for export and inspection)."""
    return binary_sign(weight.u.detach())
