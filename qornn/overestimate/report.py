"""Tables and figures of the majoring-points chapter, computed from its records (presentation only).

A record of :mod:`qornn.overestimate.experiment` holds three runs, ``majoring`` (the certified
network), ``mse`` and ``mse-shifted`` (the regression baselines), each with the gap ``g − f`` on a
dense grid and on random points of the box, its surrogate on a coarse plot grid, and (``majoring``)
the cells and the number of majoring points per tolerance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .experiment import grid
from .functions import get_function
from .majoring import majoring_points

__all__ = ["LABELS", "COLORS", "gap_table", "tolerance_frame", "plot_1d", "plot_1d_gap", "plot_2d",
           "paper_beside_ours"]

LABELS = {"majoring": "majoring points + certified shift", "mse": "regression (MSE)",
          "mse-shifted": "regression shifted by its largest observed error"}
#: one colour per run, the same in every figure of the chapter
COLORS = {"majoring": "C0", "mse": "C1", "mse-shifted": "C2"}


def _options(record: Mapping) -> dict:
    return next(iter(record["runs"].values()))["config"]["options"]


def _unit(output: str) -> str:
    """The unit at the end of a reference function's output name, " (ft)" from "… (ft)"; "" if none."""
    match = re.search(r"\s+\(([^()]*)\)$", output)
    return f" ({match.group(1)})" if match else ""


def gap_table(records: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per experiment and run: the mean gap ``g − f`` on the dense grid (signed: a run that
    under-estimates somewhere has its under- and over-estimates cancel in it), the mean of ``|g − f|``,
    the largest and smallest gap, the share of grid points and of random points under-estimated, the
    shift added, and the number of training points (majoring points, or random points for the
    baselines)."""
    rows = []
    for experiment, record in records.items():
        for run in ("majoring", "mse", "mse-shifted"):
            data = record["runs"].get(run)
            if data is None:
                continue
            test = data["test"]
            points = data["majoring_points"]["count"] if run == "majoring" else data["training_points"]
            rows.append({"experiment": experiment, "run": run, "method": LABELS[run],
                         "training points": points,
                         "mean gap g − f (grid)": test["grid"]["mean_gap"],
                         "mean |g − f| (grid)": test["grid"]["mean_abs_gap"],
                         "max over-estimation (grid)": test["grid"]["max_gap"],
                         "min gap (grid)": test["grid"]["min_gap"],
                         "under-estimated share (grid)": test["grid"]["under_share"],
                         "under-estimated share (random)": test["random"]["under_share"],
                         "grid points": test["grid"]["points"], "random points": test["random"]["points"],
                         "shift": test["shift"]})
    return pd.DataFrame(rows)


def refinement_frame(records: Mapping[str, Mapping]) -> pd.DataFrame:
    """How each record's refinement stopped: its tolerance ε and maximal depth, the majoring points
    it made, the deepest cell, and how many cells still vary by more than ε, ``f(u_C) − f(l_C) > ε``
    (computed here from the recorded cells): those the depth cap stopped before ε was met. 0 means
    every cell met ε, so the tolerance, not the cap, set the cells. Then the same for each ε of the
    record's tolerance sweep (its cells made again here, in milliseconds, at the record's depth):
    the tolerances at which the cap stopped some cell, "none" when ε set every count of the sweep."""
    rows = []
    for experiment, record in records.items():
        options = _options(record)
        cells = record["runs"]["majoring"]["majoring_points"]
        ref = get_function(options["function"])
        rows.append({"experiment": experiment, "tolerance ε": options["tol"],
                     "maximal depth": options["max_depth"], "majoring points": cells["count"],
                     "deepest cell": cells["max_depth_reached"],
                     "cells varying by more than ε": _over_tolerance(ref, cells["lower"], cells["value"],
                                                                     options["tol"]),
                     "sweep tolerances the cap stopped": ", ".join(
                         f"{tol:g}" for tol in options.get("tol_sweep", [])
                         if _capped_cells(ref, tol, options["max_depth"])) or "none"})
    return pd.DataFrame(rows)


def _over_tolerance(ref, lower, value, tol: float) -> int:
    """How many cells ``[l, u]`` (their lower corners and ``f(u)``) vary by more than ``tol``."""
    return int((np.asarray(value) - ref(np.asarray(lower)) > tol).sum())


def _capped_cells(ref, tol: float, max_depth: int) -> int:
    """How many cells of the refinement at ``tol`` and ``max_depth`` the depth cap left above ``tol``."""
    points = majoring_points(ref, ref.lower, ref.upper, tol=tol, max_depth=max_depth)
    return _over_tolerance(ref, points.lower, points.value, tol)


def tolerance_frame(record: Mapping) -> pd.DataFrame:
    """The number of majoring points against the tolerance ε (same maximal depth)."""
    sweep = record["runs"]["majoring"]["tolerance_sweep"]
    frame = pd.DataFrame({"tolerance": [float(t) for t in sweep], "majoring points": list(sweep.values())})
    return frame.sort_values("tolerance", ascending=False, ignore_index=True)


def plot_1d(record: Mapping, ax=None, runs=("majoring", "mse", "mse-shifted")):
    """f, each run's surrogate, and the majoring points ``(l_C, f(u_C))`` drawn as the step function
    they define (each cell's value held over the cell)."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    options = _options(record)
    ref = get_function(options["function"])
    x = grid(ref.lower, ref.upper, options["plot_grid"])
    ax.plot(x[:, 0], ref(x), color="black", lw=2, label="f (reference)")
    cells = record["runs"]["majoring"]["majoring_points"]
    lower, upper, value = (np.asarray(cells[key])[:, 0] if key != "value" else np.asarray(cells[key])
                           for key in ("lower", "upper", "value"))
    order = np.argsort(lower)
    ax.hlines(value[order], lower[order], upper[order], color="tab:gray", lw=1, label="cell bounds f(u_C)")
    ax.plot(lower, value, "|", color="tab:gray", ms=8)
    for run in runs:
        ax.plot(x[:, 0], record["runs"][run]["surrogate_on_plot_grid"], lw=1.2, color=COLORS[run],
                label=LABELS[run])
    ax.set_xlabel(ref.inputs[0])
    ax.set_ylabel(ref.output)
    return ax


def plot_1d_gap(record: Mapping, ax=None, runs=("majoring", "mse", "mse-shifted")):
    """The gap ``g − f`` of each run's surrogate (its shift included, as in :func:`gap_table`) against
    x on the record's plot grid, one line per run, with a dashed zero line: below it the surrogate
    under-estimates f. A dot marks each run's smallest gap on this grid, whose value the legend gives
    (the table's "min gap" is over the denser test grid)."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    options = _options(record)
    ref = get_function(options["function"])
    x = grid(ref.lower, ref.upper, options["plot_grid"])
    f = ref(x)
    ax.axhline(0.0, color="black", lw=1, linestyle="--", label="g = f")
    for run in runs:
        gap = np.asarray(record["runs"][run]["surrogate_on_plot_grid"], dtype=float) - f
        low = int(np.argmin(gap))
        ax.plot(x[:, 0], gap, lw=1.2, color=COLORS[run], label=f"{LABELS[run]} (min {gap[low]:+.2g})")
        ax.plot(x[low, 0], gap[low], "o", color=COLORS[run], ms=5)
    ax.set_xlabel(ref.inputs[0])
    ax.set_ylabel("gap g − f" + _unit(ref.output))
    return ax


def plot_2d(record: Mapping, axes=None):
    """Left: the cells of the majoring points over the contour lines of f (small cells where f
    varies). Right: the certified surrogate's over-estimation ``g − f`` on the plot grid (``g`` with
    its certified shift, as in :func:`gap_table`), its colorbar in the unit of the function's output
    (feet for the Cessna table)."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 5))
    options = _options(record)
    ref = get_function(options["function"])
    n = options["plot_grid"]
    x = grid(ref.lower, ref.upper, n)
    f = ref(x).reshape(n, n)
    X0, X1 = x[:, 0].reshape(n, n), x[:, 1].reshape(n, n)
    cells = record["runs"]["majoring"]["majoring_points"]
    lo, up = np.asarray(cells["lower"]), np.asarray(cells["upper"])
    boxes = [[(a[0], a[1]), (b[0], a[1]), (b[0], b[1]), (a[0], b[1])] for a, b in zip(lo, up, strict=True)]
    ax = axes[0]
    ax.add_collection(PolyCollection(boxes, facecolors="none", edgecolors="tab:blue", linewidths=0.3))
    contour = ax.contour(X0, X1, f, levels=10, colors="black", linewidths=0.8)
    ax.clabel(contour, fontsize="x-small")
    ax.set_xlim(ref.lower[0], ref.upper[0])
    ax.set_ylim(ref.lower[1], ref.upper[1])
    ax.set_xlabel(ref.inputs[0])
    ax.set_ylabel(ref.inputs[1])
    ax.set_title(f"{len(lo)} majoring cells and the contour lines of f")
    ax = axes[1]
    gap = np.asarray(record["runs"]["majoring"]["surrogate_on_plot_grid"]).reshape(n, n) - f
    image = ax.pcolormesh(X0, X1, gap, shading="auto", cmap="viridis")
    plt.colorbar(image, ax=ax, label="over-estimation g − f" + _unit(ref.output))
    ax.set_xlabel(ref.inputs[0])
    ax.set_ylabel(ref.inputs[1])
    ax.set_title("certified surrogate: over-estimation")
    return axes


def paper_beside_ours(records: Mapping[str, Mapping], paper_numbers: Mapping, profile: str) -> pd.DataFrame:
    """One row per entry of ``data/paper/overestimate.yaml`` whose experiment has a record: the
    paper's value ("not available" when it could not be read) beside ours (the record's number at
    ``test.<where>.<metric>``), and the record it comes from."""
    from qornn.report import NOT_AVAILABLE

    rows = []
    for entry in paper_numbers["entries"]:
        record = records.get(entry["experiment"])
        if record is None:
            continue
        run = record["runs"].get(entry["run"])
        where, metric = entry["metric"].split(".")
        ours = "not recorded" if run is None else f"{run['test'][where][metric]:.4g}"
        commit = str(run["provenance"]["commit"])[:8] if run else ""
        paper = NOT_AVAILABLE if entry.get("value") is None else f"{entry['value']:.4g}"
        rows.append({"experiment": entry["experiment"], "run": entry["run"], "metric": entry["metric"],
                     "paper value": paper, "ours": ours, "profile": profile,
                     "record": f"data/results/{entry['experiment']}/{profile}.json @ {commit}"})
    return pd.DataFrame(rows)
