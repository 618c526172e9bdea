"""Tables and figures of the SEA chapter, computed from its records (presentation only).

A record of :mod:`qornn.sparse.experiment` holds, per run (solver) and per sparsity ``k``, the
per-trial support recovery |S ∩ S*|/k and relative loss ‖Ax − y‖²/‖y‖²; everything here is a mean,
a spread or a paired comparison of those trials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["LABELS", "label", "headline_ks", "trials", "summary_frame", "plot_vs_k", "k_axis",
           "paired_comparison", "postprocess_frame", "paper_beside_ours", "BASE_RUNS", "SEA_RUNS"]

LABELS = {"omp": "OMP", "iht": "IHT", "htp": "HTP", "ompr": "OMPR", "els": "ELS", "sea-0": "SEA$_0$",
          "sea-omp": "SEA$_{OMP}$", "sea-iht": "SEA$_{IHT}$", "sea-htp": "SEA$_{HTP}$",
          "sea-ompr": "SEA$_{OMPR}$", "sea-els": "SEA$_{ELS}$"}
BASE_RUNS = ("omp", "iht", "htp", "ompr", "els")
SEA_RUNS = ("sea-0", "sea-omp", "sea-iht", "sea-htp", "sea-ompr", "sea-els")
#: two relative losses ‖Ax − y‖²/‖y‖² closer than this are the same (an exact recovery's is ~1e-30)
LOSS_TOLERANCE = 1e-9
_METRIC_NAMES = {"recovery": "support recovery |S ∩ S*| / k", "loss": "relative loss ‖Ax − y‖² / ‖y‖²"}


def headline_ks(record: Mapping, ks: Sequence[int] = (5, 10, 20)) -> list[int]:
    """The sparsities of ``ks`` the record ran (all of its own when it ran none of them)."""
    ran = record["runs"]["sea-0"]["test"]["k"]
    return [k for k in ks if k in ran] or list(ran)


def label(run: str, math: bool = True) -> str:
    """The method's name, as the paper writes it: in matplotlib's math text ("SEA$_0$") for a
    figure, or with ``math=False`` as plain text for a table ("SEA_0"), whose cells no math renderer
    reads."""
    name = LABELS.get(run, run)
    return name if math else re.sub(r"\$_\{?([^}$]*)\}?\$", r"_\1", name)


def trials(record: Mapping, run: str, metric: str, k: int) -> np.ndarray:
    """The per-trial values of ``metric`` for ``run`` at sparsity ``k``."""
    test = record["runs"][run]["test"]
    if k not in test["k"]:
        raise ValueError(f"k={k} was not run in {record['experiment']}; run: {test['k']}")
    return np.asarray(test[metric][test["k"].index(k)], dtype=float)


def _runs(record: Mapping, runs: Iterable[str] | None) -> list[str]:
    order = [*BASE_RUNS, *SEA_RUNS]
    names = list(runs) if runs is not None else [r for r in order if r in record["runs"]]
    missing = [r for r in names if r not in record["runs"]]
    if missing:
        raise ValueError(f"{record['experiment']} has no run(s) {missing}; it has {sorted(record['runs'])}")
    return names


def summary_frame(record: Mapping, metric: str, runs: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per run and ``k``: trials, mean, standard deviation, 95% confidence half-width of the
    mean (1.96 σ/√n), median and, for recovery, the share of trials recovered exactly."""
    rows = []
    for run in _runs(record, runs):
        for k in record["runs"][run]["test"]["k"]:
            v = trials(record, run, metric, k)
            row = {"method": label(run, math=False), "run": run, "k": k, "trials": v.size, "mean": v.mean(),
                   "std": v.std(ddof=1) if v.size > 1 else float("nan"),
                   "ci95": 1.96 * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else float("nan"),
                   "median": float(np.median(v))}
            if metric == "recovery":
                row["exact share"] = float(np.mean(v >= 1.0 - 1e-12))
            rows.append(row)
    return pd.DataFrame(rows)


def k_axis(ax, ks: Iterable[int] = ()) -> None:
    """Label ``ax``'s x-axis "sparsity k" and tick it at integers only (k = 2.5 is not a sparsity): at
    the sparsities ``ks`` drawn when there are at most 15 of them, else at round integers."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("sparsity k")
    ks = sorted({int(k) for k in ks})
    if 0 < len(ks) <= 15:
        ax.set_xticks(ks)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def plot_vs_k(record: Mapping, metric: str, runs: Iterable[str] | None = None, ax=None,
              logy: bool = False, quartiles: bool = True, colors: Mapping[str, str] | None = None):
    """The mean of ``metric`` against ``k`` for each run (solid for SEA, dashed for a baseline), with
    95% confidence bars on the mean and (``quartiles``) a band from the first to the third quartile of
    the trials, on an axis ticked at the k drawn (:func:`k_axis`). On a log axis (``logy``) a bar
    whose lower end is not positive (a mean set by a few trials) is drawn up only: its lower end would
    fall to the axis' floor and read as a loss of 0. ``colors`` maps a run to its colour (default: the
    next of the axes' cycle)."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    drawn: set[int] = set()
    for run in _runs(record, runs):
        ks = record["runs"][run]["test"]["k"]
        drawn.update(ks)
        values = [trials(record, run, metric, k) for k in ks]
        mean = np.array([v.mean() for v in values])
        ci = np.array([1.96 * v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0.0 for v in values])
        style = "-" if run.startswith("sea") else "--"
        below = np.where(logy & (mean - ci <= 0), 0.0, ci)
        line = ax.errorbar(ks, mean, yerr=[below, ci], fmt=style, marker="o", ms=3, capsize=2,
                           color=(colors or {}).get(run), label=label(run))
        if quartiles and len(values[0]) > 1:
            lo = [np.quantile(v, 0.25) for v in values]
            hi = [np.quantile(v, 0.75) for v in values]
            ax.fill_between(ks, lo, hi, color=line[0].get_color(), alpha=0.08)
    k_axis(ax, drawn)
    ax.set_ylabel(_METRIC_NAMES.get(metric, metric))
    if logy:
        ax.set_yscale("log")
    return ax


def paired_comparison(record: Mapping, run: str, against: Sequence[str], ks: Sequence[int],
                      metric: str = "recovery") -> pd.DataFrame:
    """``run`` against each of ``against`` on the same trials: the means, the mean paired difference
    with its 95% confidence half-width, and the shares of trials where ``run`` is better, equal or
    worse (higher recovery is better; lower loss is better; losses, relative to ‖y‖², within
    :data:`LOSS_TOLERANCE` of each other count as equal)."""
    sign = 1.0 if metric == "recovery" else -1.0
    tolerance = 1e-12 if metric == "recovery" else LOSS_TOLERANCE
    rows = []
    for other in against:
        for k in ks:
            a, b = trials(record, run, metric, k), trials(record, other, metric, k)
            diff = a - b
            better, worse = sign * diff > tolerance, sign * diff < -tolerance
            rows.append({"k": k, "method": label(run, math=False), "against": label(other, math=False),
                         "trials": a.size,
                         f"mean {metric} (method)": a.mean(), f"mean {metric} (against)": b.mean(),
                         "mean difference": diff.mean(),
                         "95% CI ±": 1.96 * diff.std(ddof=1) / np.sqrt(diff.size)
                         if diff.size > 1 else np.nan,
                         "share better": float(np.mean(better)),
                         "share equal": float(np.mean(~better & ~worse)),
                         "share worse": float(np.mean(worse))})
    return pd.DataFrame(rows)


def iteration_cap_note(record: Mapping) -> str:
    """Markdown naming each iterative baseline that used every iteration of its budget (its
    ``solver_options``), in every trial, at some k: its loss there is that of a run cut short, not
    of a converged one. "" when none did."""
    lines = []
    for run, data in record["runs"].items():
        options = (data["config"].get("options") or {}).get("solver_options") or {}
        cap = options.get(run, {}).get("iterations")
        test = data.get("test") or {}
        if not cap or "iterations" not in test:
            continue
        ks = [k for k, used in zip(test["k"], test["iterations"], strict=True) if used >= cap]
        if ks:
            lines.append(f"- **{label(run, math=False)}** used all {cap:,} of its iterations in every "
                         f"trial at k = {', '.join(str(k) for k in ks)}: its numbers there are those of a "
                         "run cut short, not of a converged one.")
    return ("Iteration budgets reached:\n\n" + "\n".join(lines)) if lines else ""


def postprocess_frame(record: Mapping) -> pd.DataFrame:
    """For each baseline post-processed by SEA and each ``k``: mean loss and recovery before and
    after, and the share of trials whose loss SEA lowered (by more than :data:`LOSS_TOLERANCE`)."""
    rows = []
    for base in BASE_RUNS:
        sea = f"sea-{base}"
        if base not in record["runs"] or sea not in record["runs"]:
            continue
        for k in record["runs"][base]["test"]["k"]:
            before, after = trials(record, base, "loss", k), trials(record, sea, "loss", k)
            row = {"baseline": label(base, math=False), "k": k, "trials": before.size,
                   "loss before": before.mean(), "loss after": after.mean(),
                   "improved in": float(np.mean(after < before - LOSS_TOLERANCE))}
            if record["runs"][base]["test"].get("recovery"):
                row["recovery before"] = trials(record, base, "recovery", k).mean()
                row["recovery after"] = trials(record, sea, "recovery", k).mean()
            rows.append(row)
    return pd.DataFrame(rows)


def _ours(values: np.ndarray) -> str:
    if values.size == 1:
        return f"{values[0]:.4g}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f} (mean ± std, {values.size} trials)"


def paper_beside_ours(records: Mapping[str, Mapping], paper_numbers: Mapping, profile: str) -> pd.DataFrame:
    """One row per entry of the paper's numbers file (``data/paper/sea.yaml``) whose experiment has a
    record: the paper's value ("not available" when it could not be read) beside ours, the
    mean ± std over the record's trials at that entry's ``k``, and the record it comes from."""
    from qornn.report import NOT_AVAILABLE

    rows = []
    for entry in paper_numbers["entries"]:
        record = records.get(entry["experiment"])
        if record is None:
            continue
        metric, k = entry["metric"], entry["k"]
        run = record["runs"].get(entry["run"])
        ours = "not recorded" if run is None or k not in run["test"]["k"] else \
            _ours(trials(record, entry["run"], metric, k))
        commit = str(run["provenance"]["commit"])[:8] if run else ""
        paper = NOT_AVAILABLE if entry.get("value") is None else f"{entry['value']:.4g}"
        rows.append({"experiment": entry["experiment"], "run": entry["run"], "metric": metric, "k": k,
                     "paper value": paper, "ours": ours, "profile": profile,
                     "record": f"data/results/{entry['experiment']}/{profile}.json @ {commit}"})
    return pd.DataFrame(rows)
