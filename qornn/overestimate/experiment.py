"""One over-estimation experiment: majoring points of a reference function, a network trained on
them and certified, and the two regression baselines, all evaluated on a dense grid and on random
points of the box.

:func:`run` takes the experiment's options (a profile of ``qornn/experiments/_overestimate.py``) and
returns, per run, what the record keeps: ``history`` (training loss), ``test`` (the gap ``g − f`` on
the grid and on random points) and, for plotting, the surrogate on a coarse grid and the cells.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .functions import get_function
from .majoring import majoring_points
from .surrogate import MonotoneMLP, certified_shift, evaluate_overestimation, fit, output_scale, predict

__all__ = ["run", "grid", "RUNS"]

RUNS = ("majoring", "mse", "mse-shifted")


def grid(lower, upper, per_axis: int) -> np.ndarray:
    """A regular grid of ``per_axis`` points per coordinate on the box, as ``(per_axis^d, d)``."""
    axes = [np.linspace(lo, up, per_axis) for lo, up in zip(lower, upper, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))


def _round(values: np.ndarray, digits: int = 6) -> list:
    return np.round(np.asarray(values, float), digits).tolist()


def run(options: dict[str, Any], *, seed: int, progress: bool = False) -> dict[str, dict[str, Any]]:
    """Run the experiment described by ``options`` (keys: function, tol, max_depth, hidden, layers,
    under_weight, steps, lr, test_grid, test_random, plot_grid, tol_sweep)."""
    ref = get_function(options["function"])
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    points = majoring_points(ref, ref.lower, ref.upper, tol=options["tol"], max_depth=options["max_depth"])
    build_time = time.perf_counter() - start
    sweep = {str(tol): len(majoring_points(ref, ref.lower, ref.upper, tol=tol,
                                           max_depth=options["max_depth"]))
             for tol in options["tol_sweep"]}

    test_grid = grid(ref.lower, ref.upper, options["test_grid"])
    low, up = np.array(ref.lower), np.array(ref.upper)
    test_random = low + (up - low) * rng.random((options["test_random"], ref.dim))
    f_grid, f_random = ref(test_grid), ref(test_random)
    plot_x = grid(ref.lower, ref.upper, options["plot_grid"])

    def network(values: np.ndarray, model_seed: int) -> MonotoneMLP:
        import torch

        torch.manual_seed(model_seed)
        mean, scale = output_scale(values)
        return MonotoneMLP(ref.lower, ref.upper, hidden=options["hidden"], layers=options["layers"],
                           y_mean=mean, y_scale=scale)

    def summary(model, shift: float, history: list[float], wall: float, **extra) -> dict[str, Any]:
        return {"history": [{"step": i, "loss": v} for i, v in enumerate(history)],
                "test": {"grid": evaluate_overestimation(predict(model, test_grid, shift), f_grid),
                         "random": evaluate_overestimation(predict(model, test_random, shift), f_random),
                         "shift": shift},
                "surrogate_on_plot_grid": _round(predict(model, plot_x, shift)),
                "wall_time_s": wall, **extra}

    train = {k: options[k] for k in ("steps", "lr")}
    out: dict[str, dict[str, Any]] = {}

    # the method: asymmetric loss on the majoring points, then the certified shift
    t0 = time.perf_counter()
    model = network(points.value, seed)
    history = fit(model, points.lower, points.value, under_weight=options["under_weight"], seed=seed,
                  progress=progress, description=f"{ref.name}/majoring", **train)
    shift = certified_shift(model, points.lower, points.value)
    out["majoring"] = summary(
        model, shift, history, time.perf_counter() - t0 + build_time,
        majoring_points={"count": len(points), "evaluations": points.evaluations,
                         "max_depth_reached": int(points.depth.max()),
                         "lower": _round(points.lower), "upper": _round(points.upper),
                         "value": _round(points.value)},
        tolerance_sweep=sweep)

    # the baselines: the same network, mean squared error on as many random points as majoring points
    t0 = time.perf_counter()
    x_train = low + (up - low) * rng.random((len(points), ref.dim))
    y_train = ref(x_train)
    model = network(y_train, seed)
    history = fit(model, x_train, y_train, under_weight=1.0, seed=seed, progress=progress,
                  description=f"{ref.name}/mse", **train)
    wall = time.perf_counter() - t0
    out["mse"] = summary(model, 0.0, history, wall, training_points=len(x_train))
    observed = max(float(np.max(y_train - predict(model, x_train))), 0.0)
    out["mse-shifted"] = summary(model, observed, history, wall, training_points=len(x_train))
    return out
