r"""A network trained to over-estimate, its certified shift, and the two regression baselines.

**The network** (:class:`MonotoneMLP`) is non-decreasing in every input by construction: inputs are
mapped affinely onto :math:`[-1, 1]^d` (a positive scaling per coordinate), every weight matrix is
:math:`\operatorname{softplus}(V) \ge 0`, the activation :math:`\tanh` is increasing, and the output
is :math:`\mu + \sigma\, h(x)` with :math:`\sigma > 0`. A composition of non-decreasing maps is
non-decreasing, which is what carries the guarantee from the majoring points to the box
(:mod:`qornn.overestimate.majoring`). With :math:`\tanh` (bounded, S-shaped) the network can be
convex in places and concave in others; with ReLU and non-negative weights it could only be convex.

**Training to over-estimate** minimises, over the majoring points :math:`(l_C, y_C)`,

.. math:: \frac1N \sum_C \; w\,\big(y_C - g(l_C)\big)_+^2 + \big(g(l_C) - y_C\big)_+^2 ,

a squared loss whose under-estimation side weighs ``w`` times more.

**Certification.** After training, :math:`s = \max_C (y_C - g(l_C))_+` (computed in float64, plus a
margin of :math:`10^{-9}` times the output scale for rounding) and the surrogate is :math:`g + s`:
then :math:`g(l_C) + s \ge y_C` on every cell, hence :math:`g + s \ge f` on the whole box.

**Baselines.** Plain regression: the same network trained with the mean squared error on random
points :math:`(x_i, f(x_i))` (it under-estimates about half the time). Shifted regression: that
network plus its largest under-estimation on its own training points, which over-estimates those
points but carries no guarantee elsewhere.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["MonotoneMLP", "asymmetric_loss", "fit", "certified_shift", "predict", "evaluate_overestimation"]


class MonotoneMLP(nn.Module):
    """``d → hidden → … → 1`` with non-negative weights (softplus of free parameters) and tanh,
    non-decreasing in each input on all of ``R^d``."""

    def __init__(self, lower, upper, *, hidden: int = 32, layers: int = 2, y_mean: float = 0.0,
                 y_scale: float = 1.0) -> None:
        super().__init__()
        if not y_scale > 0:
            raise ValueError(f"y_scale must be positive, got {y_scale!r}")
        lower = torch.as_tensor(lower, dtype=torch.float64)
        upper = torch.as_tensor(upper, dtype=torch.float64)
        self.register_buffer("lower", lower)
        self.register_buffer("width", upper - lower)
        self.register_buffer("y_mean", torch.tensor(float(y_mean), dtype=torch.float64))
        self.register_buffer("y_scale", torch.tensor(float(y_scale), dtype=torch.float64))
        sizes = [lower.numel(), *([hidden] * layers), 1]
        self.raw_weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            # softplus(raw) starts near U(0, 2/fan_in)·(something of order one): pre-activations O(1)
            target = torch.rand(fan_out, fan_in, dtype=torch.float64) * 4.0 / fan_in + 1e-3
            self.raw_weights.append(nn.Parameter(torch.log(torch.expm1(target))))
            self.biases.append(nn.Parameter(torch.zeros(fan_out, dtype=torch.float64)))
            with torch.no_grad():  # spread the hidden units' steps across the input range
                self.biases[-1].uniform_(-1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = 2.0 * (x - self.lower) / self.width - 1.0
        last = len(self.raw_weights) - 1
        for i, (raw, bias) in enumerate(zip(self.raw_weights, self.biases, strict=True)):
            h = h @ nn.functional.softplus(raw).T + bias
            if i < last:
                h = torch.tanh(h)
        return self.y_mean + self.y_scale * h[:, 0]


def asymmetric_loss(pred: torch.Tensor, target: torch.Tensor, under_weight: float) -> torch.Tensor:
    """``mean(w · relu(target − pred)² + relu(pred − target)²)``; ``w = 1`` is the squared error."""
    under = torch.relu(target - pred)
    over = torch.relu(pred - target)
    return (under_weight * under**2 + over**2).mean()


def fit(model: MonotoneMLP, x: np.ndarray, y: np.ndarray, *, under_weight: float, steps: int, lr: float,
        seed: int, progress: bool = False, description: str = "") -> list[float]:
    """Full-batch Adam on :func:`asymmetric_loss` (in the output's scale, ``y_scale``); returns the
    loss every ``steps // 50`` steps."""
    torch.manual_seed(seed)
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(steps, 1))
    history: list[float] = []
    every = max(steps // 50, 1)
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=description, leave=False)
    for step in iterator:
        optimiser.zero_grad()
        loss = asymmetric_loss(model(xt), yt, under_weight) / model.y_scale**2
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % every == 0 or step == steps - 1:
            history.append(float(loss.detach()))
    return history


@torch.no_grad()
def predict(model: MonotoneMLP, x: np.ndarray, shift: float = 0.0) -> np.ndarray:
    return model(torch.as_tensor(np.asarray(x, float), dtype=torch.float64)).numpy() + shift


def certified_shift(model: MonotoneMLP, lower_corners: np.ndarray, values: np.ndarray) -> float:
    """``max_C (y_C − g(l_C))_+`` plus a rounding margin of ``1e-9 · y_scale``: the smallest shift
    (up to the margin) that makes ``g + shift`` over-estimate every majoring point."""
    gap = np.max(values - predict(model, lower_corners))
    return max(float(gap), 0.0) + 1e-9 * float(model.y_scale)


def evaluate_overestimation(surrogate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """The gap ``g − f`` on test points: mean and max over-estimation, worst under-estimation, and
    the share of points under-estimated (``g < f``)."""
    gap = np.asarray(surrogate, float) - np.asarray(reference, float)
    if gap.size == 0 or not np.isfinite(gap).all():
        raise ValueError("evaluate_overestimation needs finite values on at least one point")
    return {"mean_gap": float(gap.mean()), "max_gap": float(gap.max()), "min_gap": float(gap.min()),
            "mean_abs_gap": float(np.abs(gap).mean()),
            "under_share": float(np.mean(gap < 0)), "points": int(gap.size)}


def output_scale(values: np.ndarray) -> tuple[float, float]:
    """(mean, scale) to standardise the targets; the scale is positive even for constant targets."""
    values = np.asarray(values, float)
    return float(values.mean()), float(max(values.std(), 1e-12 * max(abs(values.mean()), 1.0), math.ulp(1.0)))
