"""Ways to train HadamRNN's signs s = sign(u) ∈ {±1}^n, where W = diag(s)·H/√n.

Every rule sees the straight-through gradient g = ∂L/∂s (the gradient of the loss with respect to
the signs as if they were real numbers; autograd puts it in ``u.grad``).

- ``ste`` (the released method): u is a latent real vector trained by the optimiser with g, and
  s = sign(u). A sign flips when its u crosses zero.
- ``project=True`` (any method): g is replaced by its part orthogonal to s,

      g⊥ = g − (⟨g, s⟩ / n) · s.

  ⟨g, s⟩ = Σ_ij W_ij ∂L/∂W_ij is the derivative of the loss along W ↦ αW, a rescaling of W. A
  binary orthogonal W cannot rescale, yet with the plain STE that component pushes every u_i
  towards zero at once (u_i g_i > 0 for most i at the start), so signs flip for it.
- ``bop`` (Helwegen et al., NeurIPS 2019, "Latent weights do not exist"): no latent weight; an
  exponential moving average of the gradient, m ← (1 − γ) m + γ g, and s_i flips when
  s_i · m_i > τ (the gradient has pointed against s_i for long enough), after which m_i restarts
  at 0. With ``normalize=True`` (the second-moment variant of Suarez-Ramirez et al., 2021) the
  test is on m_i / (√v_i + ε) with v ← (1 − β) v + β g², so that τ ∈ (0, 1) measures how
  consistently the gradient points one way, whatever its scale (v bias-corrected as in Adam; m is
  not, so that the test cannot pass before about 1/γ steps of consistent gradients: with m
  bias-corrected, m/√v = ±1 at the first step and every sign the first gradient opposes flips).
  ``max_flips`` caps the flips of one step at the k largest scores; with ``anneal_steps`` the cap
  falls linearly from ``max_flips`` to 0 over that many steps (a flip-rate schedule: the signs
  are frozen afterwards). Under Bop, |u| carries no meaning (only its sign is used).
- ``verified``: Bop's moving average ranks the signs, but a flip is kept only if it lowers the true
  loss: every ``every`` steps the ``tries`` signs with the largest s_i·m_i > 0 are flipped one at a
  time and each flip is undone unless the loss on the step's batch (evaluated by the training loop
  through :meth:`SignRule.verify_`) falls. A straight-through gradient predicts the effect of a flip
  only to first order; this tests it (one forward pass per try).
- ``u_lr`` (``ste``): a learning rate of its own for u (the other parameters keep the run's);
  ``u_init``: every |u_i| starts at this value instead of the authors' Xavier-uniform draw, the
  signs unchanged: how far each u_i is from flipping.

A rule is a plain dict in a model's options, e.g. ``{"method": "bop", "threshold": 0.5}``, built by
:func:`make_sign_rule`; it is recorded with the run like any other option.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .quantize import binary_sign

__all__ = ["SIGN_METHODS", "SignRule", "make_sign_rule", "project_out_signs"]

SIGN_METHODS = ("ste", "bop", "verified")

_OPTIONS = {
    "ste": {"method", "project", "u_lr", "u_init"},
    "bop": {"method", "project", "gamma", "threshold", "normalize", "beta", "max_flips", "anneal_steps",
            "u_init"},
    "verified": {"method", "project", "gamma", "normalize", "beta", "every", "tries", "u_init"},
}


def project_out_signs(grad: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """g − (⟨g, s⟩ / n) s: the part of g orthogonal to the ±1 vector s (‖s‖² = n)."""
    return grad - (grad * signs).sum() / signs.numel() * signs


class _SignSTE(torch.autograd.Function):
    """Forward: sign(u) (sign(0) = +1). Backward: the STE gradient, or its part orthogonal to s."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, project: bool) -> torch.Tensor:
        s = binary_sign(u)
        ctx.save_for_backward(s)
        ctx.project = project
        return s

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (s,) = ctx.saved_tensors
        return (project_out_signs(grad, s) if ctx.project else grad), None


def _positive(value: Any, name: str, *, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0 or (upper is not None and value >= upper):
        bound = f" and below {upper}" if upper is not None else ""
        raise ValueError(f"sign_training {name} must be a positive number{bound}, got {value!r}")
    return float(value)


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"sign_training {name} must be a positive int or None, got {value!r}")
    return value


class SignRule(nn.Module):
    """How the signs of one HadamardWeight learn (see the module docstring for the math).

    Hooks: :meth:`signs` (the forward value and its gradient), :meth:`optimizer_groups` (what the
    optimiser updates), :meth:`after_step` (Bop's flips, after each optimiser step) and
    :meth:`initialise_` (``u_init``). Bop's moments and step count are buffers: they are
    checkpointed with the model.
    """

    def __init__(self, size: int, method: str = "ste", *, project: bool = False, u_lr: float | None = None,
                 u_init: float | None = None, gamma: float = 1e-2, threshold: float = 0.5,
                 normalize: bool = True, beta: float = 1e-3, max_flips: int | None = None,
                 anneal_steps: int | None = None, every: int = 1, tries: int = 1) -> None:
        super().__init__()
        if method not in SIGN_METHODS:
            raise ValueError(f"unknown sign_training method {method!r}; valid: {', '.join(SIGN_METHODS)}")
        for name, flag in (("project", project), ("normalize", normalize)):
            if not isinstance(flag, bool):
                raise ValueError(f"sign_training {name} must be True or False, got {flag!r}")
        self.method, self.project, self.normalize = method, project, normalize
        self.u_lr = None if u_lr is None else _positive(u_lr, "u_lr")
        self.u_init = None if u_init is None else _positive(u_init, "u_init")
        self.gamma = _positive(gamma, "gamma", upper=1.0)
        self.beta = _positive(beta, "beta", upper=1.0)
        self.threshold = _positive(threshold, "threshold")
        self.max_flips = _count(max_flips, "max_flips")
        self.anneal_steps = _count(anneal_steps, "anneal_steps")
        if self.anneal_steps is not None and self.max_flips is None:
            raise ValueError("sign_training anneal_steps needs max_flips (the cap it anneals)")
        self.every, self.tries = _count(every, "every"), _count(tries, "tries")
        if method in ("bop", "verified"):
            self.register_buffer("momentum", torch.zeros(size))
            self.register_buffer("second_moment", torch.zeros(size))
            self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def signs(self, u: torch.Tensor) -> torch.Tensor:
        return _SignSTE.apply(u, self.project)

    @torch.no_grad()
    def initialise_(self, u: torch.Tensor) -> None:
        if self.u_init is not None:
            u.copy_(binary_sign(u) * self.u_init)

    def optimizer_groups(self, u: nn.Parameter, others: list[nn.Parameter]) -> list[dict]:
        """Parameter groups for the run's optimiser: the others at the run's learning rate first;
        u in its own group (its own ``u_lr``), or not at all under Bop, which flips it itself."""
        groups: list[dict] = [{"params": others}]
        if self.method == "ste" and u.requires_grad:  # Bop and verified flips hold u themselves
            groups.append({"params": [u], **({} if self.u_lr is None else {"lr": self.u_lr})})
        return groups

    def flip_cap(self) -> int | None:
        """Most flips allowed at the next step (None: no cap): ``max_flips``, or with ``anneal_steps``
        A, max_flips · (1 − t/A) rounded down after t steps, 0 from step A on."""
        if self.max_flips is None:
            return None
        if self.anneal_steps is None:
            return self.max_flips
        done = min(int(self.step), self.anneal_steps)
        return int(math.floor(self.max_flips * (1 - done / self.anneal_steps)))

    @torch.no_grad()
    def _accumulate(self, u: nn.Parameter) -> torch.Tensor:
        """Update the moments from u.grad and clear it (the optimiser, which does not hold u, would
        never clear it); return s_i·m_i (/√v_i): > 0 where the gradient points against s_i."""
        g = u.grad.detach()
        u.grad = None
        self.step += 1
        t = int(self.step)
        self.momentum.mul_(1 - self.gamma).add_(g, alpha=self.gamma)
        score = self.momentum  # no bias correction: m grows from 0, a warm-up of about 1/γ steps
        if self.normalize:
            self.second_moment.mul_(1 - self.beta).addcmul_(g, g, value=self.beta)
            v = self.second_moment / (1 - (1 - self.beta) ** t)
            score = score / (v.sqrt() + 1e-12)
        return binary_sign(u) * score

    @torch.no_grad()
    def after_step(self, u: nn.Parameter) -> None:
        """Bop: update the moments, flip the signs that pass the test. ``verified``: update the
        moments only (when :meth:`verify_` has not already used this step's gradient)."""
        if self.method == "ste" or u.grad is None:
            return
        cap = self.flip_cap()  # from the steps before this one
        s = binary_sign(u)
        push = self._accumulate(u)
        if self.method != "bop":
            return
        flip = push > self.threshold
        if cap is not None and int(flip.sum()) > cap:
            keep = torch.zeros_like(flip)
            if cap > 0:
                candidates = torch.where(flip, push, torch.full_like(push, -math.inf))
                keep[torch.topk(candidates, cap).indices] = True
            flip = keep
        u.copy_(torch.where(flip, -s * u.abs().clamp_min(1e-3), u))
        self.momentum[flip] = 0.0

    @torch.no_grad()
    def verify_(self, u: nn.Parameter, loss: Callable[[], torch.Tensor]) -> int:
        """``verified``: every ``every`` steps, try the ``tries`` signs with the largest positive
        s_i·m_i one at a time, and keep a flip only if ``loss()`` (the loss on this step's batch,
        evaluated by the training loop) falls. Returns the flips kept."""
        if self.method != "verified" or u.grad is None:
            return 0
        push = self._accumulate(u)
        if int(self.step) % self.every:
            return 0
        candidates = [i for i in torch.argsort(push, descending=True)[:self.tries].tolist() if push[i] > 0]
        kept = 0
        if candidates:
            best = float(loss())
            for i in candidates:
                old = u[i].item()
                u[i] = -old if old != 0 else -1e-3
                trial = float(loss())
                if trial < best:
                    best, kept = trial, kept + 1
                    self.momentum[i] = 0.0
                else:
                    u[i] = old
        return kept

    def extra_repr(self) -> str:
        opts = [self.method] + (["projected"] if self.project else [])
        if self.method == "bop":
            opts += [f"gamma={self.gamma:g}", f"threshold={self.threshold:g}", f"normalize={self.normalize}"]
        if self.u_lr is not None:
            opts.append(f"u_lr={self.u_lr:g}")
        return ", ".join(opts)


def make_sign_rule(size: int, spec: dict[str, Any] | None) -> SignRule | None:
    """The rule of a model option ``sign_training`` (a dict with a "method"), or None for the
    released method with nothing changed. Unknown keys get an error that names them."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"sign_training must be a dict such as {{'method': 'bop'}}, got {spec!r} (from the "
                         "command line: --set takes single values, so a dict setting is changed in the "
                         "experiment's definition, qornn/experiments/)")
    method = spec.get("method", "ste")
    if method not in SIGN_METHODS:
        raise ValueError(f"unknown sign_training method {method!r}; valid: {', '.join(SIGN_METHODS)}")
    unknown = set(spec) - _OPTIONS[method]
    if unknown:
        raise ValueError(f"sign_training options {sorted(unknown)} do not apply to method {method!r}; "
                         f"valid: {', '.join(sorted(_OPTIONS[method]))}")
    return SignRule(size, **{"method": method, **{k: v for k, v in spec.items() if k != "method"}})
