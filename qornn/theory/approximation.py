"""Approximation lower bounds in L^p for ReLU networks (Achour, Foucault, Gerchinovitz, Malgouyres,
NeurIPS 2022, arXiv 2206.04360), with an illustration.

What the paper proves (its abstract; the full text could not be read here): for two sets F, G of
real functions, a lower bound on

    sup_{f ∈ F} inf_{g ∈ G} ‖f − g‖_{L^p(μ)},   any p ≥ 1, any probability measure μ,

in terms of the packing number of F in L^p(μ), the range of F and the fat-shattering dimension of
G; instantiated for G = piecewise-polynomial feed-forward networks, and F = Hölder balls and
multivariate monotone functions, matching known or new upper bounds up to log factors.

The mechanism, in the form we use (our reading, constants and log factors left out): a class G
whose fat-shattering dimension at scale ε is at most P cannot come within ε of every element of a
class F holding more than about exp(c·P) functions that are 2ε-separated in L^p. With
log M(ε, F) the log packing number, the error is at least the ε* that solves log M(ε*, F) ≍ P.
For ReLU networks with W weights and depth L, P ≲ W·L·log W (Bartlett, Harvey, Liaw, Mehrabian,
JMLR 2019, for the pseudo-dimension, which bounds the fat-shattering dimension at every scale).

- Hölder ball of smoothness α on [0, 1]^d: log M(ε) ≍ ε^{−d/α} (Kolmogorov–Tikhomirov), so
  ε* ≍ (W L log W)^{−α/d} — the same rate as in sup norm, up to logs.
- Monotone functions on [0, 1] (d = 1), values in [0, 1]: log M(ε) ≍ 1/ε in every L^p, so
  ε* ≍ (W L log W)^{−1}. In sup norm no continuous function (so no ReLU network) comes within
  less than half a jump of a monotone function with a jump: L^p and sup norm differ.
- Monotone functions on [0, 1]^d, d ≥ 2: log M(ε) ≍ ε^{−max(d, p(d−1))} in L^p by Gao and
  Wellner (2007) as we recall it (not checked here), which gives ε* ≍ (W L log W)^{−1/max(d, p(d−1))}.

The illustration (:func:`fit_relu`, :func:`errors`) trains small ReLU networks on one hard Hölder
target and one monotone step target in 1-D and measures their L^p and sup-norm errors; it is not
in the paper, which has no experiment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["pseudo_dimension_bound", "rate", "entropy_exponent", "holder_bumps", "monotone_steps",
           "relu_mlp", "count_weights", "fit_relu", "errors", "FitResult"]


def pseudo_dimension_bound(weights: int | float, depth: int | float) -> float:
    """W·L·log2(W): the order of the pseudo-dimension of ReLU networks with W weights and depth L
    (Bartlett et al. 2019), constant left out."""
    if weights < 2 or depth < 1:
        raise ValueError(f"need W >= 2 weights and depth L >= 1, got W={weights}, L={depth}")
    return weights * depth * math.log2(weights)


def entropy_exponent(family: str, *, d: int = 1, alpha: float = 1.0, p: float = 2.0) -> float:
    """The exponent a of log M(ε, F) ≍ ε^{−a}: d/α for the Hölder ball ("holder"), 1 for monotone
    functions of one variable and max(d, p(d−1)) for d ≥ 2 ("monotone", see the module docstring)."""
    if d < 1 or alpha <= 0 or p < 1:
        raise ValueError(f"need d >= 1, alpha > 0, p >= 1, got d={d}, alpha={alpha}, p={p}")
    if family == "holder":
        return d / alpha
    if family == "monotone":
        return 1.0 if d == 1 else max(d, p * (d - 1))
    raise ValueError(f"family must be 'holder' or 'monotone', got {family!r}")


def rate(weights: int | float, depth: int | float, family: str, **kwargs: float) -> float:
    """ε* ≍ (W L log W)^{−1/a}, a = :func:`entropy_exponent` (constant left out)."""
    return pseudo_dimension_bound(weights, depth) ** (-1.0 / entropy_exponent(family, **kwargs))


def holder_bumps(x: torch.Tensor, *, bumps: int = 32, alpha: float = 0.5, seed: int = 0) -> torch.Tensor:
    """Σ_k s_k h^α ψ((x − x_k)/h) on [0, 1], h = 1/bumps, ψ(t) = max(0, 1 − |2t − 1|)^α: the
    packing functions of the Hölder-α ball (up to its constant): a tent of height h^α on each of the
    ``bumps`` cells, random signs s_k."""
    gen = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (bumps,), generator=gen).to(x.dtype) * 2 - 1
    h = 1.0 / bumps
    k = torch.clamp((x / h).floor().long(), 0, bumps - 1)
    t = x / h - k
    tent = torch.clamp(1 - (2 * t - 1).abs(), min=0) ** alpha
    return signs[k] * h ** alpha * tent


def monotone_steps(x: torch.Tensor, *, steps: int = 4) -> torch.Tensor:
    """The non-decreasing staircase floor(steps·x)/steps on [0, 1) (jumps of 1/steps at k/steps)."""
    return torch.clamp((x * steps).floor(), 0, steps - 1) / steps


def relu_mlp(width: int, depth: int, *, seed: int = 0) -> torch.nn.Sequential:
    """A 1-D ReLU network with ``depth`` affine layers (depth − 1 hidden layers of ``width``).

    The first layer's kinks start spread uniformly over [0, 1] (w_i = ±√width, b_i = −w_i u_i,
    u_i ~ U(0, 1)); the other layers keep PyTorch's default initialisation."""
    if width < 1 or depth < 2:
        raise ValueError(f"need width >= 1 and depth >= 2, got width={width}, depth={depth}")
    torch.manual_seed(seed)
    first = torch.nn.Linear(1, width)
    with torch.no_grad():
        w = (torch.randint(0, 2, (width,)) * 2 - 1).float() * width ** 0.5
        first.weight.copy_(w[:, None])
        first.bias.copy_(-w * torch.rand(width))
    layers: list[torch.nn.Module] = [first, torch.nn.ReLU()]
    for _ in range(depth - 2):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers).double()


def count_weights(model: torch.nn.Module) -> int:
    """W: the number of weights and biases."""
    return sum(p.numel() for p in model.parameters())


@dataclass
class FitResult:
    width: int
    depth: int
    weights: int
    errors: dict[str, float]
    final_loss: float


def errors(model: torch.nn.Module, target: str, x: torch.Tensor, y: torch.Tensor,
           jumps: torch.Tensor | None = None, left_limits: torch.Tensor | None = None,
           values: torch.Tensor | None = None) -> dict[str, float]:
    """L^1, L^2 errors (grid means, Lebesgue measure on [0, 1]) and the sup-norm error on the grid;
    for a target with jumps at ``jumps``, the sup also takes g(x_j) against both the left limits
    f(x_j−) and the values f(x_j) there, so that it is exact at the jumps: any g has
    max(|g(x_j) − f(x_j−)|, |g(x_j) − f(x_j)|) ≥ (jump)/2, a continuous g as any other."""
    with torch.no_grad():
        g = model(x[:, None]).squeeze(1)
        diff = (g - y).abs()
        sup = float(diff.max())
        if jumps is not None and left_limits is not None:
            gj = model(jumps[:, None]).squeeze(1)
            sup = max(sup, float((gj - left_limits).abs().max()))
            if values is not None:
                sup = max(sup, float((gj - values).abs().max()))
        return {"L1": float(diff.mean()), "L2": float((diff ** 2).mean().sqrt()), "sup": sup}


def fit_relu(target: str, width: int, depth: int, *, steps: int = 2000, grid: int = 2048,
             lr: float = 3e-3, seed: int = 0, bumps: int = 32, alpha: float = 0.5,
             jumps: int = 4) -> FitResult:
    """Fit a ReLU network to the 1-D target ("holder": :func:`holder_bumps`; "monotone":
    :func:`monotone_steps`) by full-batch Adam on the mean squared error over ``grid`` points,
    and measure its errors on a grid four times finer (offset, so not the training points)."""
    if target not in ("holder", "monotone"):
        raise ValueError(f"target must be 'holder' or 'monotone', got {target!r}")

    def f(x: torch.Tensor) -> torch.Tensor:
        return holder_bumps(x, bumps=bumps, alpha=alpha, seed=seed) if target == "holder" \
            else monotone_steps(x, steps=jumps)

    x = (torch.arange(grid, dtype=torch.float64) + 0.5) / grid
    y = f(x)
    model = relu_mlp(width, depth, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x[:, None]).squeeze(1) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
    xt = (torch.arange(4 * grid, dtype=torch.float64) + 0.25) / (4 * grid)
    jump_at = left = None
    if target == "monotone":
        jump_at = torch.arange(1, jumps, dtype=torch.float64) / jumps
        left = (torch.arange(1, jumps, dtype=torch.float64) - 1) / jumps
    errs = errors(model, target, xt, f(xt), jump_at, left, None if jump_at is None else f(jump_at))
    return FitResult(width, depth, count_weights(model), errs, float(loss.detach()))
