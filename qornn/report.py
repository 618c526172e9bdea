"""Tables and figures that notebooks show, computed from results records and paper numbers.

Notebooks stay thin: they load a record (:func:`qornn.results.load_record`) and the paper's
published numbers (:func:`load_paper_numbers`) and call the functions below.

Paper numbers are data, never literals in code: they live in ``data/paper/<paper>.yaml``, each with
its source (paper, arXiv id and version, table or figure). A number that could not be read from any
source is stored as ``value: null`` with ``status: not available`` and an explanation, and is shown
as "not available", never guessed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from . import results

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "NOT_AVAILABLE",
    "NOT_IN_PAPER",
    "NOT_KNOWN",
    "reference_lines",
    "best_epochs",
    "PaperNumbersError",
    "paper_dir",
    "load_paper_numbers",
    "paper_inventory",
    "effective_settings",
    "profile_changes",
    "same_configuration_elsewhere",
    "history_frame",
    "plot_loss_curves",
    "plot_metric_curves",
    "runs_of",
    "plot_activation_widths",
    "legend_below",
    "freshness_notes",
    "chance_level",
    "at_chance",
    "chance_notes",
    "size_note",
    "reference_table",
    "bias_bits",
    "record_status",
    "run_summary",
    "bit_width_frame",
    "bit_width_seed_frame",
    "shown_seeds_note",
    "bit_width_gap_frame",
    "plot_metric_vs_bits",
    "comparison_table",
    "size_table",
    "provenance_table",
    "budget_provenance_table",
    "record_label",
    "signs_of",
    "run_label",
    "seed_frame",
    "method_summary",
    "plot_seed_curves",
    "styled",
    "paper_sources_table",
    "PAPER_PROFILE",
    "PAPER_BUDGET",
    "budget_label",
    "task_length",
    "budget_title",
    "task_label",
    "length_suffix",
    "record_seed",
    "seed_records",
    "seed_activation_frame",
    "load_released_scales",
    "released_scales_table",
    "seed_values",
    "mean_std",
    "mean_std_cell",
    "far_apart",
    "seeds_cell",
    "budget_records",
    "budget_seed_records",
    "budget_comparison",
    "summary_for_page",
    "summary_table",
    "RELEASED_NOTEBOOK",
    "LITERATURE_ANCHOR",
    "FITS_HOURS",
    "COPY_RULE",
    "NOT_RUN_AT_PAPER",
    "IN_PROGRESS_AT_PAPER",
    "FAILED_AT_PAPER",
    "paper_costs",
    "paper_budget_frame",
    "paper_budget_note",
    "paper_budget_summary",
    "solves_copy",
    "copy_constant_cross_entropy",
    "copy_seed_diagnosis",
    "plot_copy_seed_dynamics",
    "plot_seed_sign_dynamics",
    "sign_dynamics_text",
    "sign_settling_epoch",
    "copy_diagnosis_text",
    "copy_check_name",
    "SIGN_COLLAPSE_FACTOR",
    "copy_verdicts",
    "copy_verdict_grid",
    "frozen_seeds",
    "FROZEN_SHARE",
    "copy_verdict_text",
    "peer_recurrence",
    "peer_training_frame",
    "peer_learned_signs_text",
    "COPY_VERDICT_RUNS",
    "plot_seed_spread",
    "first_epoch_reaching",
    "takeoff_table",
    "takeoff_text",
    "level_crossings",
    "paired_gain",
]

NOT_AVAILABLE = "not available"
#: curves mark and label every epoch up to this many epochs (a paper-budget run has 100)
MAX_EPOCH_TICKS = 20
#: a run or metric that the paper does not report (not: reported, but unreadable)
NOT_IN_PAPER = "not in the paper"
#: a run or metric without an entry, for a paper whose result tables could not be read
#: (``tables_read: false`` in its file): whether the paper reports it is not known
NOT_KNOWN = "not known (its tables not read)"
_SOURCE_KEYS = ("paper", "arxiv", "version")
_WHERE_KEYS = ("table", "figure", "section", "where")


class PaperNumbersError(ValueError):
    """A ``data/paper/*.yaml`` file is missing or an entry lacks its value, status or source."""


def paper_dir() -> Path:
    """Folder of the published numbers: the repository's ``data/paper`` (override: QORNN_PAPER_DIR).

    It does not follow QORNN_DATA_DIR: that variable redirects where *our* results are read and
    written (tests point it at a temporary folder), while the paper's numbers are committed data.
    """
    return Path(os.environ.get("QORNN_PAPER_DIR", results._root() / "data" / "paper"))


def _check_source(source: Any, where: str) -> dict:
    if not isinstance(source, Mapping):
        raise PaperNumbersError(f"{where}: needs a 'source' mapping with paper, arxiv, version "
                                "and a table/figure/section")
    missing = [k for k in _SOURCE_KEYS if not source.get(k)]
    if not any(source.get(k) for k in _WHERE_KEYS):
        missing.append("table or figure")
    if missing:
        raise PaperNumbersError(f"{where}: source lacks {', '.join(missing)}")
    return dict(source)


def _entries(doc: Mapping) -> Iterable[tuple[str, dict]]:
    """(label, entry) pairs from either layout: a list ``entries`` or a nested ``numbers`` mapping
    ``experiment -> run -> metric -> entry``."""
    if isinstance(doc.get("entries"), list):
        for i, entry in enumerate(doc["entries"]):
            yield f"entries[{i}]", entry
    numbers = doc.get("numbers")
    if isinstance(numbers, Mapping):
        for experiment, runs in numbers.items():
            for run, metrics in (runs or {}).items():
                for metric, entry in (metrics or {}).items():
                    if isinstance(entry, Mapping):
                        yield (f"numbers.{experiment}.{run}.{metric}",
                               {"experiment": experiment, "run": run, "metric": metric, **entry})


def paper_inventory(paper: str, match: str = "") -> pd.DataFrame:
    """The tables and figures ``data/paper/<paper>.yaml`` knows the paper has, found or not (its
    ``inventory``), those whose id contains ``match``: id, version, caption (verbatim, or "NOT
    FOUND. Description: ..."), what it reports, status (found, partial, not available) and where it
    was searched. For a table whose numbers could not be read, what a page can show instead of them."""
    doc = yaml.safe_load((paper_dir() / f"{paper}.yaml").read_text()) or {}
    rows = [{key: item.get(key, "") for key in ("id", "version", "caption", "reports", "status", "source")}
            for item in doc.get("inventory") or [] if match.lower() in str(item.get("id", "")).lower()]
    return pd.DataFrame(rows, columns=["id", "version", "caption", "reports", "status", "source"])


def load_paper_numbers(paper: str) -> dict[str, Any]:
    """Load and validate ``data/paper/<paper>.yaml``.

    Returns ``{"paper": ..., "arxiv": ..., "version": ..., "entries": [entry, ...]}`` where each
    entry has ``experiment``, ``run``, ``metric``, ``value`` (a number, or None when not
    available), ``status``, ``explanation`` and ``source`` (paper, arxiv, version and a
    table/figure/section). A top-level ``source`` supplies defaults for the entries' sources.
    Raises :class:`PaperNumbersError` on a missing file or an entry without a source, or with no
    value and no explanation of why.
    """
    path = paper_dir() / f"{paper}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in paper_dir().glob("*.yaml"))
        raise PaperNumbersError(f"no paper numbers for {paper!r} (looked for {path}); "
                                f"known: {', '.join(known) or 'none'}")
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, Mapping):
        raise PaperNumbersError(f"{path}: expected a mapping at the top level")
    title = doc.get("paper")
    if isinstance(title, Mapping):  # paper: {title, arxiv, authors, ...}
        title = title.get("title")
    defaults = {k: doc[k] for k in ("arxiv", "version") if doc.get(k)}
    if title:
        defaults["paper"] = str(title)
    if isinstance(doc.get("source"), Mapping):
        defaults.update(doc["source"])
    entries = []
    for label, raw in _entries(doc):
        where = f"{path.name}: {label}"
        if not isinstance(raw, Mapping):
            raise PaperNumbersError(f"{where}: expected a mapping")
        for key in ("experiment", "run", "metric"):
            if not raw.get(key):
                raise PaperNumbersError(f"{where}: lacks {key!r}")
        entry = dict(raw)
        entry["source"] = _check_source({**defaults, **(raw.get("source") or {})}, where)
        value = entry.get("value")
        if value is None:
            entry.setdefault("status", NOT_AVAILABLE)
            if not entry.get("explanation"):
                raise PaperNumbersError(f"{where}: value is null but there is no explanation why")
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PaperNumbersError(f"{where}: value must be a number or null, got {value!r}")
            entry.setdefault("status", "published")
        entries.append(entry)
    tables_read = doc.get("tables_read", True)
    if not isinstance(tables_read, bool):
        raise PaperNumbersError(f"{path.name}: tables_read must be true or false, got {tables_read!r}")
    return {"paper": title or paper, "arxiv": doc.get("arxiv"), "version": doc.get("version"),
            "path": str(path), "entries": entries, "tables_read": tables_read}


#: what :func:`signs_of` says of a HadamRNN whose random initial signs were kept: not the paper's model
FROZEN_SIGNS = "frozen random signs (not the paper's model)"


def signs_of(spec: Mapping) -> str:
    """How a run's W got its signs, from its model spec: "learned" (the paper's HadamRNN), a frozen
    run (:data:`FROZEN_SIGNS`), or "—" for a model without signs."""
    if spec.get("model") not in ("hadamrnn", "block-hadamrnn"):
        return "—"
    if not spec.get("learn_signs", True):
        return FROZEN_SIGNS
    rule = spec.get("sign_training")
    return "learned" + (f" ({rule.get('method', 'ste')}, not the paper's method)" if rule else "")


def latent_sign_table(records: Mapping[str, Mapping], runs: Iterable[str], near: float = 0.99
                      ) -> pd.DataFrame:
    """Where each HadamRNN's latent signs u ended, from the checkpoint its run left (the last step's;
    committed under ``data/checkpoints/`` for the ``paper`` profile), per task (``records``' keys):
    task, run, how its signs were trained (:func:`signs_of`), whether u was clamped to [-1, 1] after
    each step (qornn's default) or left unbounded (``clamp_signs=False``, the authors' released
    step), the mean |u|, the share of units with |u| ≥ ``near`` and the share with |u| ≥ 1 (where
    the clamp holds them, when it is on): a sign there needs u to travel a whole unit before it
    flips; then the run's test value of its task's headline metric (e.g. "accuracy 95.2%"). A run
    without its checkpoint or without a latent u is left out."""
    from .checkpoints import checkpoint_file
    from .train import load_checkpoint

    rows = []
    for task, record in records.items():
        metric = getattr(_task_class(record), "primary_metric", "loss")
        for run in runs:
            data = record["runs"].get(run)
            if data is None:
                continue
            path = checkpoint_file(record["experiment"], record["profile"], run, data["config_hash"])
            latent = load_checkpoint(path)["model"].get("recurrent.u") if path.exists() else None
            if latent is None:
                continue
            size = latent.abs()
            spec = data["config"].get("model", {})
            clamped = spec.get("clamp_signs", True)
            rows.append({"task": task, "run": run, "signs": signs_of(spec),
                         "after each step": "clamped to [-1, 1]" if clamped else "unbounded",
                         "mean |u|": float(size.mean()),
                         f"|u| ≥ {near:g}": float((size >= near).float().mean()),
                         "|u| ≥ 1": float((size >= 1).float().mean()),
                         "test": f"{metric} {_fmt(data['test'].get(metric), metric)}"})
    columns = ["task", "run", "signs", "after each step", "mean |u|", f"|u| ≥ {near:g}", "|u| ≥ 1", "test"]
    return pd.DataFrame(rows, columns=columns)


def run_label(record: Mapping, run: str) -> str:
    """``run`` as figures show it: with "[frozen signs]" after a HadamRNN run whose signs were kept
    fixed, so that no frozen-sign run is shown under the paper's model name alone."""
    spec = record["runs"][run]["config"].get("model", {}) if run in record["runs"] else {}
    frozen = signs_of(spec) == FROZEN_SIGNS and not any(w in run for w in ("fixed", "frozen"))
    return f"{run} [frozen signs]" if frozen else run


def history_frame(record: Mapping, labelled: bool = False) -> pd.DataFrame:
    """One row per (run, epoch): epoch, run, lr, train_loss, val_<metric>..., wall_time_s. With
    ``labelled`` (a table for people) a run is named as figures name it (:func:`run_label`: a HadamRNN
    with frozen signs marked so)."""
    rows = []
    for run, data in record["runs"].items():
        name = run_label(record, run) if labelled else run
        for point in data["history"]:
            row = {"epoch": point["epoch"], "run": name, "lr": point.get("lr"),
                   "train_loss": point.get("train_loss")}
            row.update({f"val_{k}": v for k, v in point.get("val", {}).items()})
            row.update(point.get("diagnostics", {}))  # e.g. HadamRNN's sign flips per step
            row["wall_time_s"] = point.get("wall_time_s")
            rows.append(row)
    columns = ["epoch", "run", "lr", "train_loss"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame.sort_values(["run", "epoch"], kind="stable").reset_index(drop=True)


def _task_class(record: Mapping):
    from .tasks import TASKS

    tasks = {data["config"].get("task") for data in record["runs"].values()}
    classes = [TASKS[task] for task in sorted(t for t in tasks if t in TASKS)]
    return classes[0] if classes else None


def reference_lines(record: Mapping, metric: str) -> dict[str, float]:
    """The reference levels of ``metric`` that the record's task declares
    (:attr:`qornn.tasks.Task.reference_lines`: memoryless, chance, majority class, mean predictor,
    ...), label -> value, with the values the runs recorded (their ``baselines``)."""
    task = _task_class(record)
    declared = getattr(task, "reference_lines", {}) if task is not None else {}
    lines: dict[str, float] = {}
    for key, (of, label) in declared.items():
        if of != metric:
            continue
        for data in record["runs"].values():
            value = data.get("baselines", {}).get(key)
            if value is not None:
                lines[label] = float(value)
                break
    return lines


def _references(record: Mapping, metric: str, given) -> dict[str, float]:
    """``given`` reference lines: "auto" (the task's, :func:`reference_lines`), None (none), a
    number (labelled "reference") or a mapping label -> value."""
    if given is None:
        return {}
    if isinstance(given, str):
        if given != "auto":
            raise ValueError(f"reference lines: 'auto', None, a number or a dict, got {given!r}")
        return reference_lines(record, metric)
    if isinstance(given, Mapping):
        return {str(k): float(v) for k, v in given.items()}
    return {"reference": float(given)}


def _epoch_style(frame: pd.DataFrame, line: str = "-", marker: str = "o") -> str:
    """Format of per-epoch curves: ``line`` with a ``marker`` per epoch while they stay few enough
    to see (:data:`MAX_EPOCH_TICKS`)."""
    return line + (marker if frame.empty or frame["epoch"].nunique() <= MAX_EPOCH_TICKS else "")


def _epoch_ticks(ax, frame: pd.DataFrame) -> None:
    """One x tick per epoch while they stay readable; matplotlib's own ticks beyond that, on whole
    epochs (it put ticks at 1.5, 2.5 on a short axis)."""
    from matplotlib.ticker import MaxNLocator

    epochs = sorted(frame["epoch"].unique()) if not frame.empty else []
    if 0 < len(epochs) <= MAX_EPOCH_TICKS:
        ax.set_xticks(epochs)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _plot_clipped(ax, x: pd.Series, y: pd.Series, fmt: str, clip_above: float | None, color: str,
                  label: str) -> pd.Series:
    """Plot ``y`` against ``x`` with every point above ``clip_above`` moved to it, drawn there as a
    triangle ▲ (the line runs to the top edge, the marker of ``fmt`` stays on the points on the scale),
    and " (▲ off the scale)" added to ``label`` when there is one. Returns the mask of those points,
    so that the caller can write their true values. The line breaks between two points off the
    scale: drawn along the top edge, it read as a plateau at the clip level."""
    off_scale = y > (math.inf if clip_above is None else clip_above)
    xs, ys, marked = [], [], []
    for i, (x_value, y_value, off) in enumerate(zip(x, y, off_scale, strict=True)):
        if i and off and off_scale.iloc[i - 1]:
            xs.append(math.nan), ys.append(math.nan), marked.append(False)
        xs.append(x_value), ys.append(clip_above if off else y_value), marked.append(not off)
    ax.plot(xs, ys, fmt, color=color, markevery=marked,
            label=label + (" (▲ off the scale)" if off_scale.any() else ""))
    if off_scale.any():
        ax.plot(x[off_scale], [clip_above] * int(off_scale.sum()), "^", color=color, markersize=8,
                clip_on=False, linestyle="none")
    return off_scale


def _stop_axis_at(ax, clip_above: float | None, values: Iterable[float], logy: bool) -> None:
    """End the y axis just above ``clip_above`` when one of ``values``, or a line already drawn (a
    reference or a baseline), lies beyond it; an axis that ends below it is left as it is."""
    if clip_above is None:
        return
    top = clip_above * (1.5 if logy else 1.05)
    if any(v > clip_above for v in values) or ax.get_ylim()[1] > top:
        ax.set_ylim(top=top)


def _run_colors(runs: Iterable[str], color_order: Sequence[str] | None = None) -> dict[str, str]:
    """A colour of matplotlib's cycle for each of ``runs``, by its position in ``color_order`` (so
    that panels of several records colour a run alike; default: the runs sorted), the runs it does not
    name after it, sorted. The cycle's greys are skipped: the figures draw context (other papers'
    models, baselines) in grey."""
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = [c for c in cycle if len(set(mcolors.to_rgb(c))) > 1] or cycle
    runs = set(runs)
    order = list(color_order) if color_order is not None else sorted(runs)
    order += sorted(runs - set(order))
    return {run: colors[order.index(run) % len(colors)] for run in runs}


def runs_of(records: Iterable[Mapping]) -> list[str]:
    """Every run of ``records``, sorted: the ``color_order`` that gives a run one colour in all the
    panels and figures of a page drawn from these records, whatever runs each of them has."""
    return sorted({run for record in records for run in record["runs"]})


#: the id of a legend that names each run once (:func:`plot_loss_curves`), which :func:`legend_below` keeps
_LEGEND_BY_RUN = "qornn-legend-by-run"


def plot_loss_curves(record: Mapping, ax=None, baseline: float | str | Mapping | None = "auto",
                     logy: bool | str = "auto", ylabel: str = "cross-entropy",
                     color_order: Sequence[str] | None = None, clip_above: float | None = None,
                     legend_by_run: bool = False, legend: Mapping[str, Any] | None = None):
    """Training (solid) and validation (dotted) loss per epoch for every run of ``record``.

    The legend names each line ("ornn (train)", "ornn (validation)"); with ``legend_by_run``, each
    run once (its colour) and the two line styles once, half as many entries for a panel of many
    runs. ``legend``: keyword arguments of ``ax.legend`` (default: small type, matplotlib's place).

    ``clip_above``: the y axis stops just above it, and an epoch whose loss is beyond it is drawn on
    the top edge as a triangle ▲, its run's label saying "▲ off the scale" (a run whose recurrence
    explodes can start 25 orders of magnitude above the others and squeeze them flat).

    ``color_order``: run names whose positions give each run its colour, so that panels of several
    records colour a run alike (default: the record's runs, sorted).

    ``baseline``: "auto" draws the loss levels the task declares (:func:`reference_lines`, e.g. the
    copy task's memoryless cross-entropy) as dashed lines, each labelled; a number draws that (as
    "reference"), a dict label -> value draws those; None draws none. ``logy``: "auto" uses a log
    axis when the losses span more than a factor 10. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = history_frame(record)
    color_of = _run_colors(frame["run"].unique(), color_order)
    values, beyond = [], []
    styles = {"train": _epoch_style(frame, "-", "o")}  # line name -> matplotlib format
    by_run = []  # (run's label, colour, whether a point of it is off the scale), for legend_by_run
    for run, part in frame.groupby("run", sort=True):
        color = color_of[run]
        series = [("train_loss", styles["train"], "train")]
        if "val_loss" in part:
            styles["validation"] = _epoch_style(frame, ":", "s")
            series.append(("val_loss", styles["validation"], "validation"))
        clipped = False
        for column, fmt, name in series:
            off_scale = _plot_clipped(ax, part["epoch"], part[column], fmt, clip_above, color,
                                      f"{run_label(record, run)} ({name})")
            values.extend(part.loc[~off_scale, column].dropna())
            beyond.extend(part.loc[off_scale, column])
            clipped = clipped or bool(off_scale.any())
        by_run.append((run_label(record, run), color, clipped))
    references = []
    for i, (label, level) in enumerate(_references(record, "loss", baseline).items()):
        references.append(ax.axhline(level, color=("black", "0.45", "0.7")[i % 3], linestyle="--",
                                     linewidth=1, label=f"{label} ({level:.3g})"))
        values.append(level)
    positive = [v for v in values if v > 0]
    if logy == "auto":
        logy = bool(positive) and max(positive) / min(positive) > 10
    if logy:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        # label the minor ticks at 2 and 5 times a power of ten only, so that labels do not overlap
        def minor(v: float, _pos) -> str:
            return f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v)), 6) in (2, 5) else ""

        ax.yaxis.set_minor_formatter(FuncFormatter(minor))
    _stop_axis_at(ax, clip_above, beyond, logy)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(curve_title(record))
    _epoch_ticks(ax, frame)
    ax.grid(True, alpha=0.3)
    options = {"fontsize": "small", **(legend or {})}
    if legend_by_run:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=color, linestyle="-", linewidth=3,
                          label=label + (" (▲ off the scale)" if clipped else ""))
                   for label, color, clipped in by_run]
        handles += [Line2D([], [], color="0.3", linestyle=fmt.rstrip("os"), marker=fmt[-1] if fmt[-1] in "os"
                           else None, label=name) for name, fmt in styles.items()]
        ax.legend(handles=handles + references, **options).set_gid(_LEGEND_BY_RUN)
    else:
        ax.legend(**options)
    return ax


def plot_metric_curves(record: Mapping, metric: str = "accuracy", ax=None,
                       references: Mapping[str, float] | str | None = "auto",
                       color_order: Sequence[str] | None = None):
    """Validation ``metric`` at the end of each epoch for every run, with dashed reference lines
    ("auto": the task's, :func:`reference_lines`; or e.g. ``{"chance": 0.1}``) and each run's test
    value as a star after the last epoch. One legend entry per run, its test value in the label, so
    that a page with many runs keeps a legend it can place beside or below the axes.
    ``color_order``: as for :func:`plot_loss_curves` (panels of several records colour a run alike)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = history_frame(record)
    column = f"val_{metric}"
    if column not in frame:
        raise ValueError(f"record {record['experiment']}/{record['profile']} has no validation "
                         f"{metric!r}; it has: {', '.join(c[4:] for c in frame if c.startswith('val_'))}")
    color_of = _run_colors(frame["run"].unique(), color_order)
    for run, part in frame.groupby("run", sort=True):
        color = color_of[run]
        label = run_label(record, run)
        test = record["runs"][run].get("test", {}).get(metric)
        ax.plot(part["epoch"], part[column], _epoch_style(frame), color=color,
                label=f"{label} (validation" + ("" if test is None else f"; test ★ {test:.4g}") + ")")
        if test is not None:
            ax.plot([part["epoch"].max() + 0.4], [test], "*", color=color, markersize=11, label="_test")
    for i, (name, level) in enumerate(_references(record, metric, references).items()):
        ax.axhline(level, color=("black", "0.45", "0.7")[i % 3], linestyle="--", linewidth=1,
                   label=f"{name} ({level:.3g})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(curve_title(record))
    _epoch_ticks(ax, frame)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def curve_title(record: Mapping) -> str:
    """The title of a figure of one record's curves: its experiment, profile and seed (a page's
    tables may give the mean over seeds, the curves are the one seed's)."""
    return f"{record['experiment']}, profile {record['profile']}, seed {record_seed(record)}"


def legend_below(ax, ncol: int = 2, top: float = -0.14) -> None:
    """Move ``ax``'s legend under the axes, in ``ncol`` columns, its top at ``top`` (a fraction of
    the axes' height: lower for short axes, whose x label would otherwise touch it): with many runs,
    a legend inside the axes covers the curves it names (``fig.tight_layout()`` then makes room for
    it). A legend of :func:`plot_loss_curves`' ``legend_by_run`` keeps its entries (one per run); any
    other is made again from the labelled lines, those drawn after it included."""
    legend = ax.get_legend()
    entries = ([legend.legend_handles, [text.get_text() for text in legend.get_texts()]]
               if legend is not None and legend.get_gid() == _LEGEND_BY_RUN else [])
    ax.legend(*entries, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, top), ncol=ncol,
              frameon=False)


def freshness_notes(record: Mapping, config) -> str:
    """Markdown that flags every run of ``record`` whose numbers may not match the code or the
    profile as they are now: a configuration that differs from ``config`` (an
    :class:`~qornn.experiments.ExperimentConfig`), or code that changed since the run (see
    :func:`qornn.results.code_changed_since`), and every run of ``config`` the record lacks. An empty
    string when every run is current and recorded."""
    reasons: dict[str, list[str]] = {}  # one line per reason, naming every run it applies to
    head = results.head_commit()
    for run, data in sorted(record["runs"].items()):
        seed = data["config"]["seed"]
        if run not in config.models:
            reasons.setdefault(f"no longer part of profile `{config.profile}`.", []).append(run)
        elif data["config_hash"] != results.config_hash(config.run_config(run, seed)):
            reasons.setdefault(f"recorded with a configuration that differs from the current definition "
                               f"of profile `{config.profile}`; rerun with `retrain = True` to refresh "
                               "it.", []).append(run)
        why = results.code_changed_since(data, head=head)
        if why:
            reasons.setdefault(f"{why}; the numbers could differ if trained again today.", []).append(run)
    missing = [run for run in config.models if run not in record["runs"]]
    # a run whose last try at this seed failed in a sweep is named apart: the same command would
    # likely fail the same way (a variant's tries are not in the log this reads)
    seed = record_seed(record)
    failed = {} if config.overrides or not missing else {
        row["run"]: row for row in failed_runs(config.experiment, config.profile) if row["seed"] == seed}
    for group in ([run for run in missing if run not in failed], [run for run in missing if run in failed]):
        if not group:  # a run the profile defines and nobody has trained yet: the page must not hide it
            continue
        # the command for this record's seed and variant, not the profile's seed 0
        command = "python -m qornn.cli" + config.command(group, seed).removeprefix("qornn")
        them = "it" if len(group) == 1 else "them"
        if group[0] in failed:
            why = "; ".join(dict.fromkeys(_failure_reason(failed[run]) for run in group))
            reasons[f"part of profile `{config.profile}` but not recorded: the last try at seed {seed} "
                    f"failed, {why}. The error is in "
                    f"`data/sweeps/{config.experiment}/{config.profile}.json`; `{command}` tries {them} "
                    "again."] = group
        else:
            reasons[f"part of profile `{config.profile}` but not recorded yet (so it has no row in the "
                    f"tables); `{command}` trains {them} and adds {them} to the record."] = group
    return "\n".join(f"- {', '.join(f'**{run}**' for run in runs)}: {reason}"
                     for reason, runs in reasons.items())


def best_epochs(record: Mapping, metric: str | None = None, higher_is_better: bool | None = None
                ) -> pd.DataFrame:
    """Each run's best validation epoch by the task's headline metric
    (:attr:`~qornn.tasks.Task.primary_metric`, in its direction ``higher_is_better``; or the given
    ``metric``), beside its last epoch: run, metric, best epoch, best validation value, last epoch's
    validation value, and the recorded test value. The test numbers are the last epoch's model's
    (training keeps no best checkpoint), so a best epoch before the last says what early stopping
    would have kept."""
    task = _task_class(record)
    metric = metric or getattr(task, "primary_metric", "loss")
    higher = getattr(task, "higher_is_better", False) if higher_is_better is None else higher_is_better
    rows = []
    for run, data in sorted(record["runs"].items()):
        points = [(p["epoch"], p["val"][metric]) for p in data["history"] if metric in p.get("val", {})]
        if not points:
            continue
        pick = max if higher else min
        epoch, best = pick(points, key=lambda point: point[1])
        rows.append({"run": run, "metric": metric, "best epoch": epoch, "best validation": best,
                     "last epoch": points[-1][0], "last validation": points[-1][1],
                     "test (last epoch's model)": data["test"].get(metric)})
    columns = ["run", "metric", "best epoch", "best validation", "last epoch", "last validation",
               "test (last epoch's model)"]
    return pd.DataFrame(rows, columns=columns)


def late_regressions(record: Mapping, metric: str = "loss", tolerance: float = 0.5) -> str:
    """Markdown naming every run whose validation ``metric`` (a loss: lower is better) at the last
    epoch is worse than at its best epoch by more than ``tolerance`` × best: its test numbers, taken
    from the last epoch's model, are not the best it reached. An empty string when there is none."""
    lines = []
    for run, data in sorted(record["runs"].items()):
        points = [(p["epoch"], p["val"][metric]) for p in data["history"] if metric in p.get("val", {})]
        if len(points) < 2:
            continue
        best_epoch, best = min(points, key=lambda point: point[1])
        last_epoch, last = points[-1]
        if last > best + tolerance * abs(best):
            lines.append(f"- **{run}**: validation {metric} {last:.4g} at its last epoch ({last_epoch}), "
                         f"after {best:.4g} at epoch {best_epoch}; its test numbers are the last "
                         "epoch's model (training keeps no best checkpoint).")
    return "\n".join(lines)


def first_epoch_reaching(run: Mapping, metric: str, level: float) -> int | None:
    """The first epoch whose validation ``metric`` is at least ``level`` (a higher-is-better metric
    such as accuracy), or None if no epoch of the run's history reaches it."""
    for point in run["history"]:
        value = point.get("val", {}).get(metric)
        if value is not None and value >= level:
            return point["epoch"]
    return None


def level_crossings(run: Mapping, metric: str, level: float) -> tuple[int | None, int]:
    """How a run's validation ``metric`` (higher is better) held ``level``: the epoch from which it
    stays at or above it to the end (None if the last epoch is below), and how many times it fell
    back below it after having reached it."""
    values = [(p["epoch"], p["val"][metric]) for p in run["history"] if metric in p.get("val", {})]
    falls, above, since = 0, False, None
    for epoch, value in values:
        if value >= level:
            since = epoch if not above else since
            above = True
        else:
            falls += above
            above, since = False, None
    return since, falls


def takeoff_table(records: Mapping[str, Mapping], runs: Iterable[str], metric: str = "accuracy",
                  levels: Iterable[float] = (0.5, 0.9)) -> pd.DataFrame:
    """When each run's validation ``metric`` reached each of ``levels``, per task: task
    (``records``' keys, e.g. "pMNIST"), run, how its signs were trained (:func:`signs_of`), epochs
    trained, and per level the first epoch at or above it, the epoch from which it stayed there to
    the end, and how many times it fell back below it ("—": never); then the test value. A run
    that sits near chance for many epochs and then trains shows a late first epoch; one that trains
    and collapses again, falls."""
    levels = tuple(levels)
    rows = []
    for task, record in records.items():
        for run in runs:
            if run not in record["runs"]:
                continue
            data = record["runs"][run]
            row = {"task": task, "run": run, "signs": signs_of(data["config"].get("model", {})),
                   "epochs": len(data["history"])}
            for level in levels:
                first = first_epoch_reaching(data, metric, level)
                since, falls = level_crossings(data, metric, level)
                row[f"first epoch ≥ {level:g}"] = "—" if first is None else first
                row[f"≥ {level:g} from epoch on"] = "—" if since is None else since
                row[f"falls below {level:g}"] = falls
            row[f"test {metric}"] = data["test"].get(metric)
            rows.append(row)
    columns = ["task", "run", "signs", "epochs",
               *(what for level in levels for what in (f"first epoch ≥ {level:g}",
                                                       f"≥ {level:g} from epoch on",
                                                       f"falls below {level:g}")),
               f"test {metric}"]
    return pd.DataFrame(rows, columns=columns)


def takeoff_text(takeoff: pd.DataFrame, learned: str = "hadamrnn", frozen: str = "hadamrnn-fixed-signs",
                 level: float = 0.5) -> str:
    """Markdown, one line per task of :func:`takeoff_table` (at ``level``): when the ``learned``-signs
    run first reached it, how often it fell back and from which epoch it stayed, the same for the
    ``frozen``-signs run where it is recorded, and both test accuracies."""
    first, since, falls = f"first epoch ≥ {level:g}", f"≥ {level:g} from epoch on", f"falls below {level:g}"
    share = f"{100 * level:g}%"

    def reached(row) -> str:
        if row[first] == "—":
            return f"never reached {share} in {row['epochs']} epochs"
        text = f"first reached {share} at epoch {row[first]} of {row['epochs']}"
        if row[falls]:
            text += f", fell back below it {row[falls]} time{'s' if row[falls] > 1 else ''}"
        return text + (f", and stayed above it from epoch {row[since]} on" if row[since] != "—"
                       else ", and ended below it")

    lines = []
    for task, part in takeoff.groupby("task", sort=False):
        rows = part.set_index("run")
        if learned not in rows.index:
            continue
        ours = rows.loc[learned]
        line = f"- **{task}**: with learned signs, validation accuracy {reached(ours)}"
        if frozen in rows.index:
            base = rows.loc[frozen]
            line += (f"; with frozen signs it {reached(base)}. Test accuracy: "
                     f"{ours['test accuracy']:.2%} learned, {base['test accuracy']:.2%} frozen.")
        else:
            line += (f". Test accuracy {ours['test accuracy']:.2%}; the frozen-signs run is not recorded "
                     "at the paper's budget yet.")
        lines.append(line)
    return "\n".join(lines)


def record_status(record: Mapping, config, trained: bool) -> str:
    """Markdown for a page: where its numbers come from (trained now, or the committed record),
    every run to check before trusting it (:func:`freshness_notes`), and every run whose validation
    loss got worse at the end of training (:func:`late_regressions`)."""
    how = ("trained by this run of the notebook" if trained
           else "rendered from the committed record (no training)" if not record.get("variant")
           else f"rendered from the record of variant `{record['variant']}` (no training)")
    flags = freshness_notes(record, config)
    check = ("**Check before trusting these numbers:**\n\n" + flags if flags else
             "Every run matches the current profile and was made from committed code that `qornn/` "
             "has not changed since.")
    chance = chance_notes(record)
    if chance:
        check += ("\n\n**Runs at or near chance, or worse** (test metric within 3 points of accuracy, or "
                  "3% of a loss, of a model that learned nothing, or beyond it on the wrong side):\n\n"
                  + chance)
    sizes = size_note(record)
    if sizes:
        check += "\n\n" + sizes
    regressions = late_regressions(record)
    if regressions:
        check += ("\n\n**Runs whose validation loss rose at the end of training** (see the curves "
                  "below):\n\n" + regressions)
    return f"Results {how}: `{record_label(record)}`.\n\n{check}"


def run_summary(config, **parameters: Any) -> str:
    """Markdown that says how a page was made: its notebook ``parameters``, what the profile
    changes from the paper (``config.note``), every model, task option and training setting of
    ``config`` (an :class:`~qornn.experiments.ExperimentConfig`) and the paper's setting."""
    def fmt(value: Any) -> str:
        if isinstance(value, Mapping):
            return ", ".join(f"{k} = {fmt(v)}" for k, v in value.items())
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    params = ", ".join(f"`{k} = {v!r}`" for k, v in parameters.items())
    options = ", ".join(f"{k} = {fmt(v)}" for k, v in config.task_options.items()) or "the full data set"
    training = ", ".join(f"{k} = {fmt(v)}" for k, v in config.train.items())
    stand_in = stand_in_task(config.task)
    task = f"`{config.task}`" + (" (**a stand-in data set**, not the paper's)" if stand_in else "")
    variant = ""
    if getattr(config, "variant", ""):
        changed = ", ".join(f"`{k} = {v!r}`" for k, v in config.overrides.items())
        where = _repo_relative(results.record_path(config.experiment, config.profile, config.variant))
        variant = (f"**Variant `{config.variant}`** of the profile, with {changed}: its numbers are "
                   f"recorded apart from the profile's (`{where}`) and are in no paper.\n\n")
    from .tasks import TASKS

    if getattr(TASKS.get(config.task), "__module__", "") == "__main__":  # registered by the notebook
        variant += (f"Task `{config.task}` is defined in this notebook: `qornn run` cannot train or "
                    "resume it until the task is in the package (`qornn/tasks/`, step 1 of the "
                    "book's walkthrough *Adapting a notebook to a new task*); until then only this "
                    "notebook, with `retrain = True`, trains it.\n\n")
    changes = profile_changes(config, fmt)
    return (f"Parameters of this run: {params}.\n\n{variant}"
            f"**Profile `{config.profile}`**: {config.note}.\n\n"
            + (f"Every setting it changes from the paper's budget (profile `{PAPER_PROFILE}`): {changes}.\n\n"
               if changes else "")
            +
            f"Task: {task}. Task options: {options}. Training: {training}.\n\n"
            "Models, one row per run (an empty cell: a setting the run does not set):\n\n"
            f"{_models_table(config.models, fmt)}\n\n"
            f"Paper setting: {config.source}.")


#: training settings that do not change what a run trains (bookkeeping), left out of the changes
_BOOKKEEPING = frozenset({"checkpoint_every", "eval_batch_size"})


def effective_settings(config) -> dict[str, Any]:
    """What ``config`` (an :class:`~qornn.experiments.ExperimentConfig`) trains with, every default
    filled in: ``task``, ``task_options`` (its task's constructor defaults; a size of None is the
    whole split), ``train`` (:class:`~qornn.train.TrainConfig`'s defaults) and ``models`` (each
    model's option defaults, :func:`qornn.results.model_settings`). One reading for the pages that
    compare two configurations, so that a setting left out on one side is compared by its value."""
    import dataclasses
    import inspect

    from .tasks import TASKS
    from .train import TrainConfig

    task = TASKS.get(config.task)
    signature = inspect.signature(task) if task is not None else None
    task_defaults = {} if signature is None else {
        name: p.default for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty and name != "seed"}
    train_defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return {"task": config.task, "task_options": {**task_defaults, **config.task_options},
            "train": {**train_defaults, **config.train},
            "models": {run: results.model_settings(spec) for run, spec in config.models.items()}}


def profile_changes(config, fmt: Callable[[Any], str] = str) -> str:
    """The task, task options, training settings and model settings in which ``config``'s profile
    differs from its experiment's ``paper`` profile, each by its value with defaults filled in
    (:func:`effective_settings`), computed so that a profile's hand-written note cannot leave one out:
    "lr_gamma = 0.9 (paper's budget: 0.98); hidden_size = 64 (512) for every trained run; …", and
    the runs of one profile only. Bookkeeping (how often to checkpoint, the evaluation batch) is left
    out. "" for the ``paper`` profile itself, an experiment without one, or no difference."""
    from .experiments import get_config

    if config.profile == PAPER_PROFILE:
        return ""
    try:
        paper = get_config(config.experiment, PAPER_PROFILE)
    except (KeyError, ValueError):
        return ""
    ours, theirs = effective_settings(config), effective_settings(paper)

    def shown(key: str, value: Any) -> str:  # a size of None is the whole split
        return "the whole split" if value is None and key.endswith("_size") else fmt(value)

    changes = []
    other_task = ours["task"] != theirs["task"]
    if other_task:  # its options are another task's: not compared one by one
        changes.append(f"task = {ours['task']} (paper's budget: {theirs['task']})")
    for part in ("train",) if other_task else ("task_options", "train"):
        for key in dict.fromkeys([*ours[part], *theirs[part]]):
            if key not in _BOOKKEEPING and ours[part].get(key) != theirs[part].get(key):
                changes.append(f"{key} = {shown(key, ours[part].get(key))} (paper's budget: "
                               f"{shown(key, theirs[part].get(key))})")
    shared = [run for run in ours["models"] if run in theirs["models"]]
    by_change: dict[tuple[str, str, str], list[str]] = {}  # one entry per setting changed alike
    for run in shared:
        mine, paper_spec = ours["models"][run], theirs["models"][run]
        for key in dict.fromkeys([*mine, *paper_spec]):
            if mine.get(key) != paper_spec.get(key):
                by_change.setdefault((key, fmt(mine.get(key)), fmt(paper_spec.get(key))), []).append(run)
    trained = [run for run in shared if "ptq_of" not in ours["models"][run]]
    changes += [f"{key} = {mine} ({paper_value}) for "
                + ("every trained run" if runs == trained and len(runs) > 1
                   else ", ".join(f"`{run}`" for run in runs))
                for (key, mine, paper_value), runs in by_change.items()]
    only_here = [run for run in ours["models"] if run not in theirs["models"]]
    only_paper = [run for run in theirs["models"] if run not in ours["models"]]
    if only_here:
        changes.append("runs of this profile only: " + ", ".join(f"`{run}`" for run in only_here))
    if only_paper:
        changes.append("runs of the paper's budget not in this profile: "
                       + ", ".join(f"`{run}`" for run in only_paper))
    return "; ".join(changes)


def _models_table(models: Mapping[str, Mapping[str, Any]], fmt: Callable[[Any], str]) -> str:
    """A Markdown table of an experiment's runs: one row per run, one column per setting that any
    run names (in the order they first appear), empty where a run does not name it."""
    columns = list(dict.fromkeys(key for spec in models.values() for key in spec))

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for run, spec in models.items():
        lines.append(f"| `{run}` | " + " | ".join(cell(fmt(spec[key])) if key in spec else ""
                                                  for key in columns) + " |")
    return "\n".join(lines)


_MECHANISMS = {"bjorck": "Björck", "projunn": "projUNN", "polar": "polar", "cayley": "Cayley",
               "expm": "exp", "": "exp"}


_BASELINE_NAMES = {"lstm": "LSTM", "gru": "GRU", "fastrnn": "FastRNN", "fastgrnn": "FastGRNN",
                   "rnn": "vanilla RNN"}
#: kind -> (line style, label template) in :func:`plot_metric_vs_bits`
_BIT_KINDS = {"QAT": ("-o", "STE-{}"), "QAT, learned α": ("-s", "STE-{}, learned α (LSQ)"),
              "PTQ": ("--x", "PTQ of float {}")}
#: kind -> (x shift, marker, size) of each seed's dot beside a mean in :func:`plot_metric_vs_bits`
_SEED_DOTS = {"QAT": (-0.12, ".", 5), "QAT, learned α": (-0.24, "s", 3), "PTQ": (0.12, ".", 5)}


def _bit_study_role(model: Mapping, float_model: str | None = None) -> tuple[str, str, int | None]:
    """(kind, mechanism, bits) of a run of a bit-width study from its model specification, as
    :func:`bit_width_frame` documents them; ``float_model``: for a PTQ run (``ptq_of``), the model
    name of the float run it quantizes."""
    if "ptq_of" in model:
        name, kind, bits = float_model or "", "PTQ", model["bits"]
    else:
        name = model["model"]
        bits = model.get("bits")
        if name in _BASELINE_NAMES:
            kind = "baseline"
        elif name.startswith("qornn-lsq-"):
            kind = "QAT, learned α"
        elif name.startswith("qornn-"):
            kind = "QAT"
        else:
            kind, bits = "float", None
    if kind == "baseline":
        return kind, _BASELINE_NAMES[name], bits
    mechanism = name.split("-")[-1] if "-" in name else ""
    return kind, _MECHANISMS.get(mechanism, mechanism), bits


def _recorded_role(data: Mapping) -> tuple[str, str, int | None]:
    """:func:`_bit_study_role` of a recorded run (``data``: its entry in a record), a PTQ run's float
    model read from the source its record names."""
    model = data["config"]["model"]
    return _bit_study_role(model, data["config"]["source"]["model"]["model"] if "ptq_of" in model else None)


def _method_label(kind: str, mechanism: str) -> str | None:
    """How the figures and the verdict grid name a quantized method (:data:`_BIT_KINDS`): "STE-Björck",
    "STE-Björck, learned α (LSQ)", "PTQ of float Björck"; None for a float model or a baseline."""
    return _BIT_KINDS[kind][1].format(mechanism) if kind in _BIT_KINDS else None


def bit_width_frame(record: Mapping) -> pd.DataFrame:
    """One row per run of a bit-width study: mechanism (Björck, projUNN, ...; the model's name for
    the baselines), kind (``float``, ``QAT``, ``QAT, learned α``, ``PTQ``, ``baseline``), bits (None
    for float), size_bits and the test metrics. Read from each run's recorded config: QAT runs are
    ``qornn-ste-<mechanism>`` (``qornn-lsq-<mechanism>``: learned range) models, float runs
    ``ornn-<mechanism>``, PTQ runs quantize their ``source`` run, baselines are LSTM, FastRNN, ..."""
    rows = []
    for run in sorted(record["runs"]):
        data = record["runs"][run]
        kind, mechanism, bits = _recorded_role(data)
        rows.append({"run": run, "mechanism": mechanism, "kind": kind,
                     "bits": bits, "size_bits": data["size_bits"], **data["test"]})
    return pd.DataFrame(rows)


def bit_width_frame_over_seeds(seeds: Mapping[int, Mapping]) -> pd.DataFrame:
    """:func:`bit_width_frame` of every record of ``seeds`` (``{seed: record}``) with its ``seed`` as a
    column, one below the other; empty when no record has a run."""
    frames = [bit_width_frame(record).assign(seed=seed) for seed, record in seeds.items() if record["runs"]]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def bit_width_seed_frame(seeds: Mapping[int, Mapping]) -> pd.DataFrame:
    """:func:`bit_width_frame` over the recorded seeds (``seeds``: ``{seed: record}``), one row per run:
    its role (mechanism, kind, bits, size_bits), each test metric as the mean ± sample standard
    deviation over the seeds that recorded the run (:func:`mean_std_cell`; one seed: its number), and
    the seeds it is over. Empty when no record has a run."""
    frame = bit_width_frame_over_seeds(seeds)
    if frame.empty:
        return frame
    roles = ["run", "mechanism", "kind", "bits", "size_bits"]
    metrics = [column for column in frame.columns if column not in (*roles, "seed")]
    lead = seeds[min(seeds)]
    failed = _failed_by_run(lead["experiment"], lead["profile"]) if "profile" in lead else {}
    rows = []
    for run, part in frame.groupby("run", sort=True):
        first = part.iloc[0]
        rows.append({**{column: first[column] for column in roles},
                     **{metric: mean_std_cell(part[metric].dropna(), metric) if part[metric].notna().any()
                        else "—" for metric in metrics},
                     # with the seeds that did not train or failed, which no mean shows
                     "seeds": seeds_cell(part["seed"]) + _seed_flags(lead, run, dict.fromkeys(part["seed"]),
                                                                     seeds, failed)})
    return pd.DataFrame(rows, columns=[*roles, *metrics, "seeds"])


def bit_width_gap_frame(seeds: Mapping[int, Mapping], metric: str, lower_is_better: bool) -> pd.DataFrame:
    """A bit-width study over its recorded seeds (``seeds``: ``{seed: record}``, :func:`seed_records`),
    one row per mechanism and weight width: the float ORNN of that mechanism, the QAT and the PTQ model
    at that width, each the mean ± standard deviation of the test ``metric`` over the seeds that
    recorded it (:func:`mean_std_cell`; "—" for none), then the QAT gap to the float model, taken seed
    by seed over the seeds that recorded both and averaged the same way (and, where those are fewer
    than the float's or the QAT's seeds, saying how many: it is then not the difference of the two
    means beside it) (positive = worse than
    float, whichever way the metric goes: ``lower_is_better``; an accuracy's in points), how many
    seeds each of the three is over, and the model's size in bits."""
    frame = bit_width_frame_over_seeds(seeds)
    columns = ["mechanism", "bits", "float", "QAT", "PTQ", "QAT gap to float", "seeds (float / QAT / PTQ)",
               "size (bits)"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    if metric not in frame:
        raise ValueError(f"no test metric {metric!r} in the records")
    frame = frame[(frame["kind"] != "baseline") & frame[metric].notna()]

    def by_seed(rows: pd.DataFrame) -> dict[int, float]:
        return dict(zip(rows["seed"], rows[metric], strict=True))

    def cell(values: Mapping[int, float]) -> str:
        return mean_std_cell(values.values(), metric) if values else "—"

    lead = seeds[min(seeds)]
    failed = _failed_by_run(lead["experiment"], lead["profile"]) if "profile" in lead else {}
    out = []
    for mechanism, part in frame.groupby("mechanism", sort=True):
        floats = by_seed(part[part["kind"] == "float"])
        for bits in sorted(part["bits"].dropna().unique()):
            at = part[part["bits"] == bits]
            qat, ptq = by_seed(at[at["kind"] == "QAT"]), by_seed(at[at["kind"] == "PTQ"])
            gaps = [(qat[s] - floats[s]) if lower_is_better else (floats[s] - qat[s])
                    for s in sorted(set(qat) & set(floats))]
            mean, std, _ = mean_std(gaps) if gaps else (None, None, 0)
            gap = "—" if mean is None else _gap(mean, metric, std)
            if far_apart(list(qat.values()), metric) or far_apart(list(floats.values()), metric):
                gap = f"— (seeds over {FAR_APART:g}× apart: no mean)"  # as the cells beside it say
            elif gaps and not len(gaps) == len(qat) == len(floats):  # not the means of the columns beside it
                gap += f" (the {len(gaps)} seed{'s' if len(gaps) > 1 else ''} both have)"
            qat_run = at.loc[at["kind"] == "QAT", "run"]
            flags = (_seed_flags(lead, qat_run.iloc[0], qat, seeds, failed).lstrip("; ")
                     if len(qat_run) else "")
            out.append({"mechanism": mechanism, "bits": int(bits), "float": cell(floats), "QAT": cell(qat),
                        "PTQ": cell(ptq), "QAT gap to float": gap,
                        "seeds (float / QAT / PTQ)": f"{len(floats)} / {len(qat)} / {len(ptq)}"
                        + (f" (QAT: {flags})" if flags else ""),
                        "size (bits)": int(at["size_bits"].iloc[0])})
    return pd.DataFrame(out, columns=columns)


def plot_metric_vs_bits(record: Mapping, metric: str = "loss", ax=None,
                        baseline: float | Mapping[str, float] | str | None = None,
                        logy: bool = False, baseline_label: str = "baseline",
                        clip_above: float | None = None, seeds: Mapping[int, Mapping] | None = None):
    """Test ``metric`` against the weight bit width: QAT (solid), learned-range QAT (solid, squares)
    and PTQ (dashed) per mechanism, the float model of the same mechanism as a dotted horizontal line,
    float baselines (LSTM, FastRNN, ...) as grey dash-dotted lines, and ``baseline`` as dashed lines: a
    number (labelled ``baseline_label``), a dict label -> value, or "auto", the task's levels
    (:func:`reference_lines`: memoryless, chance, unigram...); the top axis gives the model size in
    bits at each bit width.

    ``seeds`` (``{seed: record}``, :func:`seed_records`; ``record`` alone by default): with more than
    one, every curve and line goes through the mean over the seeds that recorded the run, each seed's
    value is a small dot beside it (QAT left of the width, learned-range QAT further left as squares,
    PTQ right), and a float model's or baseline's spread (lowest to highest seed) is a band.

    ``clip_above`` keeps a few far-off points (PTQ at 3 bits can be 30 orders of magnitude above
    the rest) from squeezing every other curve flat: a point above it is drawn on the top edge as
    a triangle ▲ with its true value written beside it, and the axis stops just above it."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    every = bit_width_frame_over_seeds(seeds or {0: record})
    if metric not in every:
        known = [c for c in every.columns
                 if c not in ("run", "mechanism", "kind", "bits", "size_bits", "seed")]
        raise ValueError(f"no test metric {metric!r} in the record; it has: {', '.join(known)}")
    every = every.dropna(subset=[metric])
    # per run: the mean over its seeds, and their lowest, highest and number (the spread drawn)
    frame = (every.groupby(["run", "mechanism", "kind"], sort=True, dropna=False)
             .agg(bits=("bits", "first"), size_bits=("size_bits", "first"), **{metric: (metric, "mean")},
                  lowest=(metric, "min"), highest=(metric, "max"), seeds=(metric, "count"))
             .reset_index())
    several = len(seeds or {}) > 1
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ours = frame[frame["kind"] != "baseline"]
    written_at: dict[float, int] = {}  # bit width -> off-scale values written there, stacked downwards
    for i, (mechanism, part) in enumerate(ours.groupby("mechanism", sort=True)):
        color = colors[i % len(colors)]
        for kind, (style, _) in _BIT_KINDS.items():
            points = part[part["kind"] == kind].sort_values("bits")
            if not len(points):
                continue
            values = points[metric]
            off_scale = _plot_clipped(ax, points["bits"], values, style, clip_above, color,
                                      _method_label(kind, mechanism))
            if several:  # each seed beside its mean, those on the scale
                dots = every[every["run"].isin(points["run"])]
                dots = dots[dots[metric] <= (math.inf if clip_above is None else clip_above)]
                # beside the mean's marker, apart per kind (a width can have QAT, LSQ and PTQ runs)
                shift, marker, size = _SEED_DOTS[kind]
                ax.plot(dots["bits"] + shift, dots[metric], marker, color=color, alpha=0.5, markersize=size)
            for bits, value, lowest, highest in zip(points["bits"][off_scale], values[off_scale],
                                                    points["lowest"][off_scale], points["highest"][off_scale],
                                                    strict=True):
                below = 11 * written_at.get(bits, 0)
                written_at[bits] = written_at.get(bits, 0) + 1
                # named: a QAT and a PTQ value of one mechanism share a colour and a bit width; seeds
                # far apart are their range, as in the tables (their mean is neither seed's number)
                text = (f"{lowest:.2g} to {highest:.2g}" if far_apart([lowest, highest], metric)
                        else f"{value:.2g}")
                ax.annotate(f"{kind} {text}", (bits, clip_above), xytext=(6, -4 - below),
                            textcoords="offset points", ha="left", va="top", fontsize="small", color=color,
                            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})
        for value, lowest, highest, count in part.loc[
                part["kind"] == "float", [metric, "lowest", "highest", "seeds"]].itertuples(index=False):
            ax.axhline(value, color=color, linestyle=":", label=f"float ORNN-{mechanism} ({value:.3g})")
            if several and count > 1:
                ax.axhspan(lowest, highest, color=color, alpha=0.12, lw=0)
    greys = ("0.35", "0.6", "0.8")
    for i, row in enumerate(frame[frame["kind"] == "baseline"].itertuples()):
        value = getattr(row, metric)
        ax.axhline(value, color=greys[i % len(greys)], linestyle="-.",
                   label=f"float {row.mechanism} ({value:.3g}, {row.size_bits / 1000:.0f}k bits)")
        if several and row.seeds > 1:
            ax.axhspan(row.lowest, row.highest, color=greys[i % len(greys)], alpha=0.15, lw=0)
    levels = (reference_lines(record, metric) if baseline == "auto"
              else {baseline_label: baseline} if isinstance(baseline, int | float) else baseline or {})
    for (label, level), dashes in zip(levels.items(), ("--", ":", "-."), strict=False):
        ax.axhline(level, color="black", linestyle=dashes, linewidth=1, label=f"{label} ({level:.3g})")
    if several:
        counts = sorted(set(frame["seeds"]))
        over = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
        ax.plot([], [], ".", color="0.4", label=f"each seed (lines: the mean over {over} seeds)")
    if logy:  # PTQ at few bits can be orders of magnitude worse than the rest
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    _stop_axis_at(ax, clip_above, ours[metric], logy)
    # the widths and sizes of the QAT models, or of the PTQ ones where no QAT model is recorded
    sized = "QAT" if (frame["kind"] == "QAT").any() else "PTQ"
    quantized = (frame[frame["kind"] == sized].dropna(subset=["bits"]).drop_duplicates("bits")
                 .sort_values("bits"))
    ax.set_xticks(list(quantized["bits"]))
    ax.set_xlabel("weight bits k (W and U)")
    ax.set_ylabel(f"test {metric.replace('_', ' ')}")
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(quantized["bits"]),
                   labels=[f"{size / 1000:.1f}k" for size in quantized["size_bits"]])
    top.set_xlabel(f"{sized} model size (bits)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def _repo_relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(results._root().resolve()))
    except ValueError:
        return str(path)


def record_label(record: Mapping, run: str | None = None) -> str:
    """Where a number comes from: the record's path, the short commit and the date of the run."""
    path = _repo_relative(results.record_path(record["experiment"], record["profile"],
                                              record.get("variant", "")))
    runs = [run] if run is not None else sorted(record["runs"])
    parts = []
    for name in runs:
        prov = record["runs"][name]["provenance"]
        commit = (prov.get("commit") or "unknown commit")[:7]
        if prov.get("dirty"):
            commit += " (modified)"
        parts.append(f"{commit}, {str(prov.get('date', ''))[:10]}")
    return f"{path} @ {'; '.join(dict.fromkeys(parts))}"


def seeds_record_label(record: Mapping, run: str, seeds: Mapping[int, Mapping] | None,
                       used: Iterable[int]) -> str:
    """:func:`record_label` of ``run`` in ``record``, then in each other seed's record (``seeds``:
    seed -> record) whose number is among ``used`` (a mean over seeds names every record it reads):
    "data/results/copy/paper.json @ 4dae147, 2026-12-03; seed 2: data/results/copy/variants/paper/
    seed=2.json @ 51aef43, 2026-12-04"."""
    labels = [record_label(record, run)]
    for seed in sorted(used):
        other = (seeds or {}).get(seed)
        if other is not None and other is not record and run in other["runs"]:
            labels.append(f"seed {seed}: {record_label(other, run)}")
    return "; ".join(labels)


def _entry_for(entries: list[dict], experiment: str, run: str, metric: str) -> dict | None:
    for entry in entries:
        if entry["experiment"] == experiment and entry["run"] == run and entry["metric"] == metric:
            return entry
    return None


def paper_cell(entry: Mapping | None, tables_read: bool = True) -> str:
    """What the paper column shows for a run and metric: its number (formatted as :func:`_fmt`
    does for the entry's metric), "not available" (the paper reports it but no source could be
    read, an entry with value null; "not in the paper" for an entry of that status: a run of ours the
    paper is known not to have), or for no entry "not in the paper" (the paper does not report
    that run or metric) when the paper's result tables were read (``tables_read``), else
    :data:`NOT_KNOWN`: an unread table may hold it."""
    if entry is None:
        return NOT_IN_PAPER if tables_read else NOT_KNOWN
    if entry.get("status") == NOT_IN_PAPER:  # a run of ours the paper is known not to have
        return NOT_IN_PAPER
    return _fmt(entry.get("value"), entry.get("metric"))


def _is_accuracy(metric: str | None) -> bool:
    return bool(metric) and str(metric).endswith("accuracy")


def _fmt(value: Any, metric: str | None = None) -> str:
    """A number for people: an accuracy as a percentage (``91.8%``), an integer with thousands
    separators, anything else to 4 significant digits; None is "not available"."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)) and _is_accuracy(metric) and math.isfinite(value):
        return f"{100 * value:.1f}%"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _gap(gap: float, metric: str, std: float | None = None) -> str:
    """A signed difference of ``metric`` for people, ± ``std`` (its standard deviation over seeds)
    when given: an accuracy's in points to one decimal ("+1.2 ± 0.3 points"; never "-0.0"), any
    other metric's to four significant digits (its spread to two)."""
    if _is_accuracy(metric):
        spread = "" if std is None else f" ± {100 * std:.1f}"
        return f"{round(100 * gap, 1) + 0.0:+.1f}{spread} points"
    return f"{gap:+.4g}" + ("" if std is None else f" ± {std:.2g}")


#: how close to a baseline counts as "near chance": 3 points of accuracy, or 3% of a loss
NEAR_CHANCE_POINTS = 0.03
NEAR_CHANCE_LOSS = 0.03


def chance_level(run: Mapping, metric: str) -> tuple[float, str] | None:
    """The level a run of ``metric`` reaches without learning, from the run's recorded
    ``baselines``, with its description: for an accuracy, the larger of the majority-class share
    and the chance level; for a copy-task loss, the memoryless cross-entropy; for bits per
    character, the unigram's. None when the record has no such baseline."""
    base = run.get("baselines") or {}
    if metric == "accuracy":
        levels = {"majority class": base.get("majority_class_accuracy"),
                  "chance": base.get("chance_accuracy")}
        known = {name: v for name, v in levels.items() if v is not None}
        if not known:
            return None
        words = ", ".join(f"{name} {100 * v:.1f}%" for name, v in known.items())
        return max(known.values()), words
    for key, name in (("memoryless_cross_entropy", "memoryless"), ("unigram_bpc", "unigram")):
        if metric == {"memoryless_cross_entropy": "loss", "unigram_bpc": "bpc"}[key] and key in base:
            return float(base[key]), f"{name} {base[key]:.4g}"
    return None


def at_chance(run: Mapping, metric: str) -> str | None:
    """Why the run's test ``metric`` is at or near the level of a model that learned nothing
    (:func:`chance_level`), or None: an accuracy within 3 points above it, a loss within 3% below."""
    level = chance_level(run, metric)
    value = run["test"].get(metric)
    if level is None or value is None:
        return None
    threshold, words = level
    if _is_accuracy(metric):
        near = value <= threshold + NEAR_CHANCE_POINTS
        worse = value < threshold - NEAR_CHANCE_POINTS
    else:
        near = value >= threshold * (1 - NEAR_CHANCE_LOSS)
        worse = value > threshold * (1 + NEAR_CHANCE_LOSS)
    if not near:
        return None
    return f"worse than chance ({words})" if worse else f"at or near chance ({words})"


def _chance_over_seeds(data: Mapping, metric: str, values: Mapping[int, float], mean: float | None) -> str:
    """The "vs chance" cell of a number over seeds: :func:`at_chance` of their mean, or, where the seeds
    disagree, how many of them are at chance and why ("1 of 2 seeds: worse than chance …"): a mean of
    one seed that failed and one that learned is at chance by neither's account."""
    flagged = [why for value in values.values()
               if (why := at_chance({**data, "test": {metric: value}}, metric))]
    if flagged and len(flagged) < len(values):
        return f"{len(flagged)} of {len(values)} seeds: {flagged[0]}"
    return at_chance({**data, "test": {metric: mean}}, metric) or ""


def chance_notes(record: Mapping, metrics: Iterable[str] = ("accuracy", "loss", "bpc")) -> str:
    """Markdown naming every run of ``record`` whose test metric is at or near chance
    (:func:`at_chance`), with the levels; an empty string when there is none."""
    lines = []
    for run, data in sorted(record["runs"].items()):
        for metric in metrics:
            why = at_chance(data, metric)
            if why:
                lines.append(f"- **{run}**: test {metric.replace('_', ' ')} "
                             f"{_fmt(data['test'][metric], metric)}, {why}.")
    return "\n".join(lines)


def hidden_size(record: Mapping, run: str) -> int | None:
    """The hidden size of ``run`` in ``record``: a post-training quantization run's is its source run's
    (its configuration names only the bits and the source, ``ptq_of``); None where not recorded."""
    model = record["runs"][run]["config"].get("model", {})
    source = model.get("ptq_of")
    if "hidden_size" not in model and source in record["runs"]:
        return hidden_size(record, source)
    return model.get("hidden_size")


def size_note(record: Mapping) -> str:
    """A sentence when runs of different hidden sizes stand side by side in ``record`` (their
    numbers and bits are not those of equal-size models), else an empty string."""
    sizes: dict[Any, list[str]] = {}
    for run, data in sorted(record["runs"].items()):
        sizes.setdefault(data["config"].get("model", {}).get("hidden_size"), []).append(run)
    sizes.pop(None, None)
    if len(sizes) < 2:
        return ""
    parts = "; ".join(f"hidden {size:,}: {', '.join(runs)}"
                      for size, runs in sorted(sizes.items(), key=lambda item: -item[0]))
    return (f"**Models of different sizes stand side by side** ({parts}): compare them with their "
            "sizes in bits.")


def stand_in_task(task: str | None) -> str | None:
    """``task`` when it is a labelled stand-in for a paper's data set (e.g. ``polarity-reviews`` for
    IMDB), else None: a stand-in's numbers are never set against the paper's (no gap)."""
    from .tasks import TASKS

    cls = TASKS.get(task) if task else None
    return task if cls is not None and getattr(cls, "stand_in_for", None) else None


#: the profile of the papers' own budgets (their hyperparameters, epochs and data)
PAPER_PROFILE = "paper"
#: what the ``budget`` column of a table says of a number made at the paper's budget
PAPER_BUDGET = "paper's budget"


def budget_label(profile: str) -> str:
    """Which budget a profile's numbers were made with, as tables say it: :data:`PAPER_BUDGET` for
    the ``paper`` profile, "reduced (<profile> profile)" for every other (``cpu``, ``smoke``)."""
    return PAPER_BUDGET if profile == PAPER_PROFILE else f"reduced ({profile} profile)"


def task_length(record: Mapping) -> int | None:
    """The sequence length T that ``record``'s runs were trained and tested at, where their task
    takes it as an option (the copy task's ``length``: T = 200 at the ``cpu`` profile, 1,000 at the
    paper's), else None. Two budgets of such a task are two tasks: their losses are not comparable."""
    lengths = {(data["config"].get("task_options") or {}).get("length") for data in record["runs"].values()}
    lengths.discard(None)
    if len(lengths) > 1:
        raise ValueError(f"record {record['experiment']}/{record['profile']} mixes sequence lengths "
                         f"{sorted(lengths)}")
    return lengths.pop() if lengths else None


def length_suffix(record: Mapping) -> str:
    """", T = 1,000" for a record whose task takes a sequence length (:func:`task_length`), "" for
    one whose task does not: what every label of a copy-task number adds, since a loss at T = 200 is
    not one at T = 1,000."""
    length = task_length(record)
    return "" if length is None else f", T = {length:,}"


def task_label(task: str, record: Mapping) -> str:
    """``task`` as a table or a title names it for ``record``: with its sequence length where the task
    takes one (:func:`length_suffix`: "copy, T = 1,000" beside "copy, T = 200"), else as it is."""
    return task + length_suffix(record)


def budget_title(record: Mapping) -> str:
    """:func:`budget_label` of ``record``'s profile, with its task's sequence length where the task
    has one (:func:`length_suffix`): "paper's budget, T = 1,000" beside "reduced (cpu profile), T = 200",
    so that a page setting the two budgets of the copy task side by side says that T differs."""
    return budget_label(record["profile"]) + length_suffix(record)


def _has_overrides(record: Mapping) -> bool:
    """Whether ``record`` is a variant made with overrides (in no paper), not a profile's own record
    at some seed (a seed's record is a variant ``seed=S`` with no overrides)."""
    return bool(record.get("variant")) and bool(record.get("overrides"))


def record_seed(record: Mapping) -> int:
    """The experiment seed of ``record``: S for a seed's record (variant ``seed=S``), else 0."""
    name = str(record.get("variant") or "")
    found = re.fullmatch(r"(?:.*,)?seed=(\d+)", name)
    return int(found.group(1)) if found else 0


def seed_records(experiment: str, profile: str, overrides: Mapping[str, Any] | None = None
                 ) -> dict[int, dict]:
    """Every recorded seed of ``experiment`` at ``profile``, ``{seed: record}`` in the order of the
    seeds: seed 0 is the profile's record (``data/results/<experiment>/<profile>.json``), a seed
    S > 0 its own record ``data/results/<experiment>/variants/<profile>/seed=S.json`` (what
    ``qornn run --seed S`` and ``qornn sweep --seeds`` write). Seeds of variants made with overrides
    are not the profile's and are left out; with ``overrides`` (flat, as ``--set`` gives them), the
    seeds of that variant instead (:func:`qornn.overrides.record_variant`)."""
    from .overrides import record_variant

    overrides = dict(overrides or {})
    found: dict[int, dict] = {}
    base = results.load_record(experiment, profile, missing_ok=True, variant=record_variant(overrides, 0))
    if base is not None:
        found[0] = base
    folder = results.record_path(experiment, profile, record_variant(overrides, 1)).parent
    for path in folder.glob("*seed=*.json") if folder.is_dir() else []:
        seed = re.fullmatch(r"(?:.*,)?seed=(\d+)", path.stem)
        if seed and record_variant(overrides, int(seed.group(1))) == path.stem:
            found[int(seed.group(1))] = results.load_record(experiment, profile, variant=path.stem)
    return dict(sorted(found.items()))


def _same_configuration(a: Mapping, b: Mapping) -> bool:
    """Whether two recorded runs were made with the same configuration but for the seed (a
    post-training quantization's source, trained at the run's seed, but for its seed too)."""
    def strip(config: Mapping) -> dict:
        out = {k: v for k, v in config.items() if k != "seed"}
        if isinstance(out.get("source"), Mapping):
            out["source"] = strip(out["source"])
        return out

    return strip(a["config"]) == strip(b["config"])


def seed_values(record: Mapping, run: str, metric: str,
                seeds: Mapping[int, Mapping] | None = None, *,
                activation_bits: int | None = None) -> dict[int, float]:
    """The test ``metric`` of ``run`` at every recorded seed, ``{seed: value}``: ``record``'s own
    and, from ``seeds`` (:func:`seed_records`), every other seed's whose run has the same
    configuration as ``record``'s but for the seed (a seed recorded with another configuration is
    not the same experiment, and is left out). Empty when ``record`` has no such number. With
    ``activation_bits``, the metric of the run with its hidden state quantized to that many bits
    after training (its recorded activation PTQ) instead."""
    own = record["runs"].get(run)
    if own is None or _run_value(own, metric, activation_bits) is None:
        return {}
    pool = {**(seeds or {}), record_seed(record): record}
    values = {}
    for seed, other in sorted(pool.items()):
        data = other["runs"].get(run)
        value = None if data is None else _run_value(data, metric, activation_bits)
        if value is not None and _same_configuration(data, own):
            values[seed] = value
    return values


def _run_value(data: Mapping, metric: str, activation_bits: int | None = None) -> float | None:
    """A run's test ``metric``, or with ``activation_bits`` its activation-PTQ one; None if absent."""
    if activation_bits is None:
        return data["test"].get(metric)
    found = ((data.get("analysis") or {}).get("activation_ptq") or {}).get(str(activation_bits)) or {}
    return found.get(metric)


def mean_std(values: Iterable[float]) -> tuple[float, float | None, int]:
    """Mean, sample standard deviation (n − 1 in the denominator; None for one value) and count."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std of no values")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, None, 1
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return mean, std, len(values)


def paired_gain(by_profile: Mapping[str, Mapping[int, Mapping]], run: str, baseline: str,
                metric: str = "accuracy", record: Mapping | None = None) -> str:
    """Markdown, one line per budget of ``by_profile`` (:func:`budget_seed_records`): how much
    ``run`` changed the test ``metric`` against ``baseline``, seed by seed (the two runs of a seed
    share their data order; only seeds recorded for both count), in points for an accuracy: the
    mean difference, ± the sample standard deviation over seeds when there are two or more, the
    seeds, and each run's mean. ``record``: the page's own record, the lead of its budget."""
    lines = []
    for profile, seeds in by_profile.items():
        lead = _lead_record(seeds, record)
        ours, base = seed_values(lead, run, metric, seeds), seed_values(lead, baseline, metric, seeds)
        paired = sorted(set(ours) & set(base))
        label = ("at the paper's budget" if profile == PAPER_PROFILE
                 else f"at a reduced budget (profile `{profile}`)")
        if not paired:
            missing = [name for name, values in ((run, ours), (baseline, base)) if not values]
            lines.append(f"- {label}: no seed recorded for both runs"
                         + (f" ({', '.join(missing)} missing)" if missing else "") + ".")
            continue
        mean, std, _ = mean_std(ours[s] - base[s] for s in paired)
        lines.append(f"- {label}: `{run}` {_fmt(mean_std(ours[s] for s in paired)[0], metric)} against "
                     f"`{baseline}` {_fmt(mean_std(base[s] for s in paired)[0], metric)}, a change of "
                     f"{_gap(mean, metric, std)} ({seeds_cell(paired)}).")
    return "\n".join(lines)


def seeds_cell(seeds: Iterable[int]) -> str:
    """How many seeds a number is over: "1 seed", or "3 seeds (0, 1, 2)"."""
    seeds = list(seeds)
    return "1 seed" if len(seeds) == 1 else f"{len(seeds)} seeds ({', '.join(map(str, seeds))})"


#: positive values over seeds at least this many times apart get no mean (:func:`mean_std_cell`)
FAR_APART = 100.0


def _seed_flags(record: Mapping, run: str, values: Mapping[int, float], seeds: Mapping[int, Mapping] | None,
                failed: Mapping[str, list]) -> str:
    """What a table's seeds cell adds for ``run``: its recorded seeds that did not train
    (:func:`frozen_seeds`, a checkpoint here with most entries frozen by the optimiser) and its
    seeds that failed (``failed``: :func:`_failed_by_run`), none of which a mean over seeds shows;
    "" for none (a variant made with overrides has no failed seeds of its own; a record that does
    not say its experiment and profile cannot be looked up)."""
    if "experiment" not in record or "profile" not in record:
        return ""
    pool = {**(seeds or {}), record_seed(record): record}
    found = {seed: pool[seed]["runs"][run] for seed in values}
    stuck = frozen_seeds(record["experiment"], record["profile"], run, found) if found else {}
    lost = [] if _has_overrides(record) else [str(row["seed"]) for row in failed.get(run, [])]
    return "".join(f"; seed{'s' if len(group) > 1 else ''} {', '.join(map(str, group))} {what}"
                   for group, what in ((list(stuck), "did not train"), (lost, "failed")) if group)


def far_apart(values: Sequence[float], metric: str | None = None) -> bool:
    """Whether seeds' ``values`` of ``metric`` get no mean (:func:`mean_std_cell`): positive values
    of a metric other than an accuracy, the largest at least :data:`FAR_APART` times the smallest."""
    return (len(values) > 1 and not _is_accuracy(metric) and min(values) > 0
            and max(values) >= FAR_APART * min(values))


def mean_std_cell(values: Iterable[float], metric: str | None = None) -> str:
    """A number over seeds for people: one value as :func:`_fmt` writes it, several as mean ± sample
    standard deviation (an accuracy's spread in percentage points). Positive values (a loss) at least
    :data:`FAR_APART` times apart are their range instead: the mean of a seed that solved the task and
    one whose loss blew up (0.028 and 2,984) is neither seed's number, and no spread around it."""
    values = list(values)
    mean, std, _ = mean_std(values)
    if std is None:
        return _fmt(mean, metric)
    if far_apart(values, metric):
        return (f"{_fmt(min(values), metric)} to {_fmt(max(values), metric)} (seeds over "
                f"{FAR_APART:g}× apart: no mean)")
    if _is_accuracy(metric):
        return f"{100 * mean:.1f}% ± {100 * std:.1f} points"
    # two significant digits, in plain notation where the mean is ("1411 ± 320", not "± 3.2e+02")
    spread = f"{std:.2g}"
    if "e" in spread and 1e-4 <= abs(std) < 1e5:
        spread = f"{float(spread):g}"
    return f"{mean:.4g} ± {spread}"


def comparison_table(record: Mapping, paper_numbers: Mapping | None,
                     paper_experiment: str | None = None,
                     seeds: Mapping[int, Mapping] | None = None) -> pd.DataFrame:
    """The paper's numbers beside ours, one row per (run, metric) of the record's test metrics.

    Columns: budget (:func:`budget_label`: the paper's or a reduced one), run, signs
    (:func:`signs_of`: a HadamRNN with frozen signs is marked as not the paper's model), hidden (the
    model's hidden size), metric, paper value (:func:`paper_cell`: "not available" where the paper's
    number could not be read, "not in the paper" where it reports none, :data:`NOT_KNOWN` where its
    tables were not read), ours, seeds, vs chance
    (:func:`at_chance`), gap (ours − paper, where both exist; accuracies in percentage points),
    profile, record (path, commit, date). Numbers as :func:`_fmt` writes them.
    ``seeds``: the records of the same experiment and profile at every recorded seed
    (:func:`seed_records`); with more than one seed of a run, "ours" is the mean ± standard deviation
    over them (:func:`seed_values`, :func:`mean_std_cell`), and the gap and the chance flag are of
    the mean. "seeds" says how many ("1 seed" otherwise).
    Paper entries for this experiment whose run or metric the record lacks are listed too, with
    ours = :data:`NOT_RECORDED` and why (:func:`why_not_recorded`).
    ``paper_experiment``: the experiment's name in the paper file when it differs from ours (e.g.
    ``qornn-copy`` is ``copy`` in ``qornn.yaml``).

    Runs that are in no paper (``paper_numbers`` None, or a variant made with overrides) get a
    table without paper columns: budget, run, signs, metric, ours, seeds, profile, record.
    """
    budget = budget_label(record["profile"])

    def over_seeds(run: str, metric: str) -> tuple[dict[int, float], float]:
        values = seed_values(record, run, metric, seeds)
        return values, mean_std(values.values())[0]

    if paper_numbers is None or _has_overrides(record):
        rows = []
        for run in sorted(record["runs"]):
            for metric in record["runs"][run]["test"]:
                values, _ = over_seeds(run, metric)
                rows.append({"budget": budget, "run": run,
                             "signs": signs_of(record["runs"][run]["config"].get("model", {})),
                             "metric": metric, "ours": mean_std_cell(values.values(), metric),
                             "seeds": seeds_cell(values),
                             "profile": record["profile"] + (f" (variant {record['variant']})"
                                                             if record.get("variant") else ""),
                             "record": seeds_record_label(record, run, seeds, values)})
        return pd.DataFrame(rows, columns=["budget", "run", "signs", "metric", "ours", "seeds", "profile",
                                           "record"])
    entries = list(paper_numbers.get("entries", []))
    tables_read = paper_numbers.get("tables_read", True)
    experiment = paper_experiment or record["experiment"]  # its name in data/paper/<paper>.yaml
    failed = _failed_by_run(record["experiment"], record["profile"])
    rows = []
    seen = set()
    for run in sorted(record["runs"]):
        data = record["runs"][run]
        stand_in = stand_in_task(data["config"].get("task"))
        signs = signs_of(data["config"].get("model", {}))
        for metric in data["test"]:
            # frozen random signs are not the paper's model: its number for the run's name is not this one's
            entry = None if signs == FROZEN_SIGNS else _entry_for(entries, experiment, run, metric)
            seen.add((run, metric))
            values, ours = over_seeds(run, metric)
            paper = entry.get("value") if entry else None
            # no gap to a mean the table does not give (seeds far apart: their range)
            gap = (ours - paper if isinstance(paper, (int, float)) and stand_in is None
                   and not far_apart(list(values.values()), metric) else None)
            rows.append({"budget": budget, "run": run, "signs": signs,
                         "hidden": _fmt(hidden_size(record, run)),
                         # a model the paper does not have is not in it, its tables read or not
                         "metric": metric,
                         "paper value": paper_cell(entry, tables_read or signs == FROZEN_SIGNS),
                         "ours": mean_std_cell(values.values(), metric)
                         + (f" (stand-in data: {stand_in})" if stand_in else ""),
                         "seeds": seeds_cell(values) + _seed_flags(record, run, values, seeds, failed),
                         "vs chance": _chance_over_seeds(data, metric, values, ours),
                         "gap": "—" if gap is None else _gap(gap, metric), "profile": record["profile"],
                         "record": seeds_record_label(record, run, seeds, values)})
    for entry in entries:
        if entry["experiment"] == experiment and (entry["run"], entry["metric"]) not in seen:
            data = record["runs"].get(entry["run"])
            if entry["metric"] == "size_bits" and data is not None and "size_bits" in data:
                # a model's size is recorded beside its test metrics, the same at every seed
                paper = entry.get("value")
                gap = data["size_bits"] - paper if isinstance(paper, (int, float)) else None
                rows.append({"budget": budget, "run": entry["run"],
                             "signs": signs_of(data["config"].get("model", {})),
                             "hidden": _fmt(hidden_size(record, entry["run"])),
                             "metric": "size_bits", "paper value": paper_cell(entry, tables_read),
                             "ours": _fmt(int(data["size_bits"])), "seeds": "—", "vs chance": "",
                             "gap": "—" if gap is None else f"{gap:+,}", "profile": record["profile"],
                             "record": record_label(record, entry["run"])})
                continue
            rows.append({"budget": budget, "run": entry["run"], "signs": "—", "hidden": "—",
                         "metric": entry["metric"], "paper value": paper_cell(entry, tables_read),
                         "ours": why_not_recorded(record["experiment"], record["profile"], entry["run"]),
                         "seeds": "—", "vs chance": "", "gap": "—", "profile": record["profile"],
                         "record": "—"})
    columns = ["budget", "run", "signs", "hidden", "metric", "paper value", "ours", "seeds", "vs chance",
               "gap", "profile", "record"]
    return pd.DataFrame(rows, columns=columns)


def budget_seed_records(experiment: str, record: Mapping) -> dict[str, dict[int, Mapping]]:
    """What a page shows of ``experiment`` beside ``record`` (the page's own, at its profile), by
    profile, the paper's budget first: ``{"paper": {seed: record}, profile: {seed: record}}``, each
    with every recorded seed (:func:`seed_records`), ``record`` among its profile's. The paper's
    budget is left out where none is recorded, and for a variant made with overrides (in no paper),
    which is shown alone."""
    if _has_overrides(record):
        return {record["profile"]: {record_seed(record): record}}
    own = {**seed_records(experiment, record["profile"]), record_seed(record): record}
    shown: dict[str, dict[int, Mapping]] = {}
    if record["profile"] != PAPER_PROFILE:
        paper = seed_records(experiment, PAPER_PROFILE)
        if paper:
            shown[PAPER_PROFILE] = paper
    shown[record["profile"]] = dict(sorted(own.items()))
    return shown


def budget_records(experiment: str, record: Mapping,
                   seeds: Mapping[str, Mapping[int, Mapping]] | None = None) -> dict[str, Mapping]:
    """One record per budget that a page shows beside ``record`` (:func:`budget_seed_records`, the
    paper's budget first): ``record`` itself for its own profile, the lowest seed's for the other.
    A page that holds ``budget_seed_records(experiment, record)`` already passes it as ``seeds``,
    so that the records are not read twice."""
    if seeds is None:
        seeds = budget_seed_records(experiment, record)
    return {profile: _lead_record(by_seed, record) for profile, by_seed in seeds.items()}


def shown_seeds_note(experiment: str, record: Mapping) -> str:
    """Which seed a page's one-run-per-number table shows at each budget (:func:`budget_records`:
    the page's own record at its profile, the lowest seed's at the other), and how many are recorded
    there: "Each number is one run: at the paper's budget, seed 0, the only seed recorded; ..."."""
    seeds = budget_seed_records(experiment, record)
    parts = []
    for profile, shown in budget_records(experiment, record, seeds).items():
        seed, recorded = record_seed(shown), sorted(seeds[profile])
        where = "at the paper's budget" if profile == PAPER_PROFILE else f"at profile `{profile}`"
        parts.append(f"{where}, seed {seed}, " + ("the only seed recorded" if recorded == [seed] else
                                                  f"one of {seeds_cell(recorded)} recorded"))
    return "Each number is one run: " + "; ".join(parts) + "."


def _comparable_config(config: Mapping) -> str:
    """A run's configuration as two runs trained alike share it: its model's defaults filled in, the
    experiment's name and the seed left out (JSON text, to compare)."""
    import json

    shared = {key: value for key, value in config.items() if key not in ("experiment", "seed")}
    return json.dumps({**shared, "model": results.model_settings(config.get("model") or {})},
                      sort_keys=True, default=str)


def same_configuration_elsewhere(record: Mapping, runs: Iterable[str], metric: str) -> str:
    """Markdown naming, for each of ``runs`` of ``record``, every recorded run of another experiment
    or seed at the same profile trained with the same configuration (:func:`_comparable_config`),
    with its seed and test ``metric``: one configuration may be recorded by several pages, and a
    one-run table then shows one draw of several (at the same seed, runs on other machines or
    commits can part: the signs page, *Same seed, same numbers*). "" when there is none."""
    from .experiments import experiment_names

    wanted = {run: _comparable_config(record["runs"][run]["config"]) for run in runs
              if run in record["runs"] and metric in record["runs"][run]["test"]}
    found: dict[str, list[str]] = {run: [] for run in wanted}
    for experiment in experiment_names():
        for seed, other in seed_records(experiment, record["profile"]).items():
            for name, data in other["runs"].items():
                if other is record or experiment == record["experiment"] and seed == record_seed(record):
                    continue
                key = _comparable_config(data["config"])
                for run, config in wanted.items():
                    if key == config and metric in data["test"]:
                        found[run].append(f"`{experiment}` / `{name}`, seed {seed}: "
                                          f"{_fmt(data['test'][metric], metric)}")
    lines = [f"- `{run}` ({_fmt(record['runs'][run]['test'][metric], metric)} here, seed "
             f"{record_seed(record)}): " + "; ".join(others) for run, others in found.items() if others]
    if not lines:
        return ""
    return (f"At the {budget_label(record['profile'])}, the same configuration is recorded elsewhere too "
            "(another page's experiment or another seed), so the number above is one draw of several:\n\n"
            + "\n".join(lines))


def _lead_record(seeds: Mapping[int, Mapping], record: Mapping | None = None) -> Mapping:
    """The record a table's rows name: ``record`` when it is among ``seeds``, else the lowest seed's."""
    if record is not None and any(other is record for other in seeds.values()):
        return record
    return seeds[min(seeds)]


#: how a table says that we have no number for a run (:func:`why_not_recorded` says why after it)
NOT_RECORDED = "not recorded"


def why_not_recorded(experiment: str, profile: str, run: str) -> str:
    """:data:`NOT_RECORDED`, then why ``run`` has no record of ``experiment`` at ``profile``: no run of
    that name in the experiment, left out of the profile (and why), or, at the paper's budget, its
    status there (:func:`paper_budget_frame`: not run yet, how far it got, failed and why) and, when
    its measured cost does not fit this machine, the projected hours. Plain :data:`NOT_RECORDED` for
    a run of a reduced profile that is simply not recorded yet (the page's freshness notes name it)."""
    from .experiments import get_config

    try:
        config = get_config(experiment, profile)
    except (KeyError, ValueError):
        return NOT_RECORDED
    if run in config.left_out:
        return f"{NOT_RECORDED}: left out of profile `{profile}` ({config.left_out[run]})"
    if run not in config.models:
        return f"{NOT_RECORDED}: an entry in data/paper, not trained by `{experiment}`"
    if profile != PAPER_PROFILE:
        return NOT_RECORDED
    frame = paper_budget_frame(experiment).set_index("run")
    row = frame.loc[run]
    status = row["at the paper's budget"]
    if status.startswith(IN_PROGRESS_AT_PAPER) and row["in progress"]:
        status = f"{IN_PROGRESS_AT_PAPER}, {row['in progress']}"
    # the row's budget column already says "paper's budget": a table cell keeps the rest
    for long, brief in _PAPER_STATUS_BRIEF.items():
        if status.startswith(long):
            status = brief + status[len(long):]
    fit = unrun_cost_note(experiment, run, frame)
    return f"{NOT_RECORDED}: {status}" + (f"; {fit}" if fit else "")


def unrun_cost_note(experiment: str, run: str, frame: pd.DataFrame | None = None) -> str:
    """"does not fit here, 13.0 h on one core" for ``run`` of ``experiment``'s paper profile when it is
    not run at the paper's budget yet and its measured cost does not fit this machine, else "" (a run
    under way is said to be so, whatever its cost: it is being trained over several sessions).
    ``frame``: the experiment's :func:`paper_budget_frame` indexed by run, when the caller has it."""
    frame = paper_budget_frame(experiment).set_index("run") if frame is None else frame
    if run not in frame.index:
        return ""
    row = frame.loc[run]
    if (row["at the paper's budget"] == NOT_RUN_AT_PAPER and str(row["fits here"]).startswith("no")
            and row["projected hours (1 core)"] is not None):
        return f"does not fit here, {row['projected hours (1 core)']:.1f} h on one core"
    return ""


def budget_comparison(experiment: str, record: Mapping, paper_numbers: Mapping | None,
                      paper_experiment: str | None = None) -> pd.DataFrame:
    """:func:`comparison_table` of every budget recorded for ``experiment``, the paper's first
    (:func:`budget_seed_records`): where a ``paper`` record exists, its rows (budget "paper's
    budget") lead, then ``record``'s ("reduced (cpu profile)"); each over its recorded seeds."""
    tables = [comparison_table(_lead_record(seeds, record), paper_numbers, paper_experiment, seeds=seeds)
              for seeds in budget_seed_records(experiment, record).values()]
    return pd.concat(tables, ignore_index=True)


def bias_bits(run: Mapping) -> int | None:
    """Bits of the recorded run's biases (32 an entry, as the papers count them), from its model
    rebuilt with its task's input and output sizes; None when those sizes are not fixed by the task
    (text, PTB) or when the rebuilt model's size differs from the recorded ``size_bits``."""
    import torch

    from .models import build_model
    from .tasks import TASKS

    config = run["config"]
    spec = dict(config.get("model", {}))
    task = TASKS.get(config.get("task"))
    if not spec.get("model") or "ptq_of" in spec or task is None:
        return None
    sizes = {k: getattr(task, k, None) for k in ("input_size", "output_size")}  # class-level only
    if None in sizes.values():
        return None
    try:
        with torch.random.fork_rng():
            model = build_model(spec.pop("model"), many_to_many=bool(getattr(task, "many_to_many", False)),
                                **sizes, **spec)
    except (TypeError, ValueError):
        return None
    if model.size_bits() != run["size_bits"]:
        return None
    # every bias vector: "bias" of a layer, and the named ones of a cell (FastGRNN's bias_gate, bias_update)
    return sum(32 * p.numel() for name, p in model.named_parameters()
               if name.rpartition(".")[2].startswith("bias"))


def size_table(record: Mapping) -> pd.DataFrame:
    """Model sizes as the papers count them: bits and kilobytes of every matrix and bias, and the
    share of the bits that the biases take (32-bit floats in every model), where it can be computed."""
    rows = []
    for run in sorted(record["runs"]):
        data = record["runs"][run]
        model = data["config"].get("model", {})
        bits = int(data["size_bits"])
        biases = bias_bits(data)
        rows.append({"run": run, "model": model.get("model", run), "signs": signs_of(model),
                     "hidden": hidden_size(record, run),
                     "U, V bits": model.get("bits", 32), "size (bits)": bits,
                     "size (kB)": round(bits / 8 / 1000, 2),
                     "biases": "—" if biases is None else
                     f"{biases / bits:.{0 if biases >= bits / 100 else 1}%} of the bits"})
    return pd.DataFrame(rows)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _device_text(where: Mapping, short: bool = False) -> str:
    """"cpu: x86_64 (2 cores, 1 torch thread)" from a provenance's (or a segment's) device and its
    recorded name, with the CPU's model and torch's kernels where recorded; ``short``: a CPU's
    threads alone ("cpu, 1 thread"), for tables whose runs share a machine (:func:`device_names`
    gives the names in full)."""
    name = str(where.get("device_name", ""))
    cpu = results.cpu_device_parts(name)
    if cpu is not None:
        threads = cpu[2]
        if short:
            return f"{where.get('device')}, {threads} thread{'s' if threads != 1 else ''}"
        name = results.device_label(name)
        cpu_named = results.cpu_text(where.get("cpu"))
        if cpu_named:  # recorded since the numbers were seen to depend on the CPU (results.cpu_description)
            name += f", {cpu_named}"
    return f"{where.get('device')}: {name}".strip(": ")


def device_names(records: Iterable[Mapping]) -> list[str]:
    """Every device the trained runs of ``records`` ran on, in full ("cpu: x86_64 (2 cores, 1 torch
    thread)"), each once, every start of a resumed run included."""
    names: dict[str, None] = {}
    for record in records:
        for data in record["runs"].values():
            prov = data["provenance"]
            if not data.get("history"):
                continue
            for where in [*(prov.get("segments") or []), prov]:
                if where.get("device"):
                    names[_device_text(where)] = None
    return list(names)


def _spans(prov: Mapping, text_of: Callable[[Mapping], str | None], unknown: str,
           timed: bool = False) -> str | None:
    """For a run resumed in several starts (``segments``), ``text_of`` each start (``unknown`` where
    that start did not record it), consecutive starts that read the same as one span of optimiser
    steps, ``timed``: with its training time where each of its starts recorded one; None where every
    start reads as the whole run (one start, or starts from before the field was recorded)."""
    segments = prov.get("segments") or []
    recorded = {text_of(seg) for seg in segments if text_of(seg)}
    if not recorded or (recorded == {text_of(prov)} and all(text_of(seg) for seg in segments)):
        return None
    spans: list[list] = []  # [text, from, to, seconds or None]
    for seg in segments:
        text, seconds = text_of(seg) or unknown, seg.get("wall_time_s")
        if spans and spans[-1][0] == text and spans[-1][2] == seg["from_step"]:
            spans[-1][2] = seg["to_step"]
            spans[-1][3] = None if seconds is None or spans[-1][3] is None else spans[-1][3] + seconds
        else:
            spans.append([text, seg["from_step"], seg["to_step"], seconds])
    return "; ".join(f"{text} (steps {start:,}–{stop:,}"
                     + ("" if seconds is None or not timed else f", {_duration(seconds)}") + ")"
                     for text, start, stop, seconds in spans)


def _devices_cell(prov: Mapping, short: bool = False) -> str:
    """The device a run trained on, or for a run resumed on other devices (its ``segments``), each
    device with the optimiser steps it trained (and their time, where recorded); a start from before
    segments named their device is "device not recorded". ``short``: see :func:`_device_text`."""
    def device(where: Mapping) -> str | None:
        return _device_text(where, short) if where.get("device") else None

    return _spans(prov, device, "device not recorded", timed=True) or _device_text(prov, short)


def _torch_cell(prov: Mapping) -> str | None:
    """The torch version a run trained with, or for a run resumed under several (its ``segments``),
    each with its optimiser steps. The record's own ``torch`` is the last start's (the process that
    wrote it), so it is not claimed for earlier starts that did not record theirs."""
    segments = prov.get("segments") or []
    if segments and not segments[-1].get("torch"):  # the record's version is the last start's
        segments = [*segments[:-1], {**segments[-1], "torch": prov.get("torch")}]
    return _spans({**prov, "segments": segments}, lambda where: where.get("torch"),
                  "not recorded") or prov.get("torch")


def provenance_table(record: Mapping) -> pd.DataFrame:
    """How each run's numbers were made: commit, device, versions, seed, wall time, date."""
    rows = []
    for run in sorted(record["runs"]):
        prov = record["runs"][run]["provenance"]
        rows.append({"run": run, "profile": prov.get("profile"), "seed": prov.get("seed"),
                     "commit": (prov.get("commit") or "unknown")[:10]
                     + (" (modified)" if prov.get("dirty") else ""),
                     "device": _devices_cell(prov),
                     "torch": _torch_cell(prov), "wall time": _duration(prov.get("wall_time_s")),
                     "date": str(prov.get("date", ""))[:16].replace("T", " ")})
    return pd.DataFrame(rows)


def budget_provenance_table(experiment: str, record: Mapping) -> pd.DataFrame:
    """:func:`provenance_table` of every record a page's tables draw on: each budget recorded for
    ``experiment`` beside ``record`` (:func:`budget_seed_records`, the paper's budget first) and each
    of its recorded seeds, with the budget (:func:`budget_label`) as the first column, so that a
    number averaged over seeds, or taken at the paper's budget, has its provenance on the page too."""
    tables = [provenance_table(seed_record).assign(budget=budget_label(profile))
              for profile, seeds in budget_seed_records(experiment, record).items()
              for seed_record in seeds.values()]
    frame = pd.concat(tables, ignore_index=True)  # never empty: record's own budget is among them
    return frame[["budget", *[c for c in frame if c != "budget"]]]


def paper_sources_table(paper_numbers: Mapping, experiment: str) -> pd.DataFrame:
    """Where each of the paper's numbers for ``experiment`` comes from (or would come from)."""
    rows = []
    for entry in paper_numbers.get("entries", []):
        if entry["experiment"] != experiment:
            continue
        src = entry["source"]
        where = next((str(src[k]) for k in _WHERE_KEYS if src.get(k)), "")
        rows.append({"run": entry["run"], "metric": entry["metric"],
                     "paper value": _fmt(entry.get("value"), entry["metric"]),
                     "status": entry.get("status", ""), "arXiv": f"{src['arxiv']} ({src['version']})",
                     "where": where})
    return pd.DataFrame(rows, columns=["run", "metric", "paper value", "status", "arXiv", "where"])


def _column_format(frame: pd.DataFrame, column: Any, precision: int) -> Any:
    """How a numeric column reads best: accuracies as percentages, whole numbers (bits, sizes,
    counts) as integers with thousands separators, a column with values of 10⁵ or more among
    fractions (a diverged run's loss), or non-zero ones that ``precision`` decimals would round to
    nothing much (a solved copy task's loss), with those in scientific notation and an exact zero as
    "0" (among them, "0.00" would read as a rounded small number); None for the default."""
    series = frame[column]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None  # text (numbers already formatted, labels) or flags
    values = series.dropna()
    if values.empty:
        return None
    if _is_accuracy(str(column)) and values.between(0, 1).all():
        return "{:.1%}"
    if (values == values.round()).all() and (values.abs() >= 1).any() and (values.abs() < 1e15).all():
        return "{:,.0f}"
    tiny = 10.0 ** (1 - precision)  # below it, fewer than two significant digits would show
    if (values.abs() >= 1e5).any() or ((values != 0) & (values.abs() < tiny)).any():
        # among them, a value of 10⁴ or more reads better in scientific notation too (21808.9506)
        return lambda x: ("0" if x == 0 else f"{x:.{precision}f}" if tiny <= abs(x) < 1e4
                          else f"{x:.{precision - 1}e}")
    return None


def without_empty_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` without the columns that say nothing in any row (every cell "—", empty or missing),
    and the names of those columns, for a page to say what it left out: a chapter with no paper
    number has no gap to show, a chapter without HadamRNN no signs."""
    def empty(value: object) -> bool:
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        return missing or str(value).strip() in ("", "—")

    dropped = [column for column in frame.columns if len(frame) and frame[column].map(empty).all()]
    return frame.drop(columns=dropped), dropped


def show_markdown(text: str) -> None:
    """For a page: display ``text`` as Markdown, or nothing when it is empty. Many notes here are ""
    when there is nothing to say, and an empty Markdown object renders as its repr,
    "<IPython.core.display.Markdown object>"."""
    from IPython.display import Markdown, display

    if text.strip():
        display(Markdown(text))


def show_comparison(table: pd.DataFrame) -> None:
    """For a page: display a paper-beside-ours ``table`` (:func:`budget_comparison`, maybe cut to one
    metric) without its ``profile`` column when it has ``budget`` (which says the same) and without
    the columns empty in every row (:func:`without_empty_columns`: no gap where the paper gives no
    number, no chance flag where no run is near chance), then a line naming those left out."""
    from IPython.display import Markdown, display

    shown, left_out = without_empty_columns(table.drop(columns="profile") if "budget" in table else table)
    display(styled(shown))
    if left_out:
        display(Markdown(f"Left out, empty in every row: {', '.join(left_out)}."))


def styled(frame: pd.DataFrame, precision: int = 4) -> Styler:
    """``frame`` as a pandas Styler for notebooks: no index, padded left-aligned cells, numbers for
    people (accuracies as percentages, bits and counts as integers with thousands separators,
    other numbers to ``precision`` digits), wrapping text cells (wide tables scroll, see
    ``_static/tables.css``, rather than being cut off)."""
    style = frame.style.hide(axis="index").format(precision=precision, na_rep="—")
    for column in frame.columns:
        fmt = _column_format(frame, column, precision)
        if fmt is not None:
            style = style.format(fmt, subset=[column], na_rep="—")
    for column, fmt in (("wall_time_s", "{:.1f}"), ("size (kB)", "{:,.2f}"), ("lr", "{:.2g}")):
        if column in frame.columns:
            style = style.format(fmt, subset=[column], na_rep="—")
    for column in frame.columns:
        if "wall time" in str(column) and pd.api.types.is_numeric_dtype(frame[column]):
            style = style.format("{:,.1f}", subset=[column], na_rep="—")  # "wall time (s)": to a tenth
        elif frame[column].map(lambda v: isinstance(v, str) and "`" in v).any():
            # text with `code` spans: markdown that an HTML cell would show raw
            style = style.format(lambda v: _html_code_spans(v, precision), subset=[column])
    return (style
            .set_table_styles([{"selector": "th, td",
                                "props": "padding: 0.25em 0.75em; text-align: left; vertical-align: top"},
                               {"selector": "thead th", "props": "border-bottom: 1px solid #999"}]))


def _html_code_spans(value: Any, precision: int) -> str:
    """A table cell's text with its markdown `code` spans as HTML <code> (a styled table is HTML, where
    the backticks would show); other values as :func:`styled` writes them by default."""
    if isinstance(value, str):
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{precision}f}" if isinstance(value, float) else str(value)


def analysis_frame(record: Mapping) -> pd.DataFrame:
    """One row per run with a recorded ``analysis`` (orthogonal RNNs): kind and bits (as in
    :func:`bit_width_frame`), α_W = max|W| of the float matrix, and ‖WᵀW − I‖₂, ‖WᵀW − I‖_F, σ_min,
    σ_max and the spectral radius ρ of the W the network uses."""
    kinds = bit_width_frame(record).set_index("run")
    rows = []
    for run in sorted(record["runs"]):
        found = record["runs"][run].get("analysis") or {}
        if "W" not in found:
            continue
        w = found["W"]
        rows.append({"run": run, "kind": kinds.loc[run, "kind"], "bits": kinds.loc[run, "bits"],
                     "alpha_W": found.get("alpha_W"), "‖WᵀW−I‖₂": w["spectral"],
                     "‖WᵀW−I‖_F": w["frobenius"], "σ_min": w["sigma_min"], "σ_max": w["sigma_max"],
                     "ρ(W)": w.get("spectral_radius")})
    return pd.DataFrame(rows)


def trained_growth_frame(record: Mapping, steps: int, metric: str) -> pd.DataFrame:
    """:func:`analysis_frame`'s run, kind, bits and ρ(W) (the spectral radius of the W the trained
    network uses), with ρ(W)^steps, the factor by which a linear recurrence h_t = W h_{t−1} + … can
    multiply the state over ``steps`` steps, and the run's test ``metric``. Empty when no run of
    ``record`` has a recorded analysis."""
    frame = analysis_frame(record)
    if frame.empty:
        return frame
    frame = frame[["run", "kind", "bits", "ρ(W)"]].copy()
    frame[f"ρ(W)^{steps:,}"] = frame["ρ(W)"] ** steps
    frame[metric] = [record["runs"][run]["test"].get(metric) for run in frame["run"]]
    return frame


def kept_record_with(experiment: str, profile: str, **model_settings: Any) -> dict | None:
    """The runs of ``experiment``/``profile`` that changed definitions replaced (kept in
    ``history/``; :func:`qornn.results.load_kept_records`) and that were made with
    ``model_settings`` (e.g. ``nonlinearity="linear"``; for a post-training quantization, its source
    run), the newest kept version of each, as one record; None if no kept run was."""
    def made_with(run: Mapping) -> bool:
        model = results.trained_model(run)
        return all(model.get(key) == value for key, value in model_settings.items())

    found: dict[str, Any] = {}
    newest = None
    for record in reversed(results.load_kept_records(experiment, profile)):
        for name, run in record["runs"].items():
            if name not in found and made_with(run):
                found[name] = run
                newest = newest or record
    return None if newest is None else {**newest, "runs": dict(sorted(found.items()))}


def compare_records(labelled: Mapping[str, Mapping], metric: str) -> pd.DataFrame:
    """One row per run present in every record of ``labelled`` (label -> record), with its kind and
    bits (:func:`bit_width_frame`), and under each label the run's test ``metric``, test loss and the
    spectral radius ρ(W) of the recurrent matrix the network used (``analysis``, where recorded)."""
    frames = []
    for label, record in labelled.items():
        frame = bit_width_frame(record).set_index("run")[["kind", "bits"]]
        for run, data in record["runs"].items():
            found = (data.get("analysis") or {}).get("W") or {}
            frame.loc[run, f"{label}: {metric}"] = data["test"].get(metric)
            frame.loc[run, f"{label}: loss"] = data["test"].get("loss")
            frame.loc[run, f"{label}: ρ(W)"] = found.get("spectral_radius")
        frames.append(frame)
    common = frames[0]
    for frame in frames[1:]:
        common = common.join(frame.drop(columns=["kind", "bits"]), how="inner")
    order = {kind: i for i, kind in enumerate(("float", "QAT", "QAT, learned α", "PTQ", "baseline"))}
    return common.reset_index().sort_values(["kind", "bits", "run"], key=lambda c: c.map(order)
                                            if c.name == "kind" else c, ignore_index=True)


def runs_side_by_side(chosen: Mapping[str, tuple[str, str, str]], profile: str, metrics: Sequence[str]
                      ) -> pd.DataFrame:
    """One row per label of ``chosen`` (label -> (experiment, variant, run); variant "" for the
    profile's own record, else a record made with ``--set``, e.g. "hidden_size=256") whose run is
    recorded at ``profile``: its model settings (hidden size, recurrence, recurrence bias, readout,
    bits), its test ``metrics``, the range α_W its q_k(W) ended with, and the record's variant and
    seed. Runs of different experiments or variants, set side by side; missing ones are left out."""
    rows = []
    for label, (experiment, variant, run) in chosen.items():
        record = results.load_record(experiment, profile, variant=variant, missing_ok=True)
        if record is None or run not in record["runs"]:
            continue
        data = record["runs"][run]
        model = data["config"]["model"]
        row = {"model": label, "experiment": experiment, "run": run, "variant": variant or "—",
               "hidden": model.get("hidden_size"), "recurrence": model.get("nonlinearity", "—"),
               "recurrence bias b": "yes" if model.get("recurrent_bias", True) else "no",
               "readout": "V ReLU(h) + c" if model.get("readout_relu", True) else "V h + c",
               "bits": model.get("bits")}
        row.update({f"test {metric}": data["test"].get(metric) for metric in metrics})
        row.update({"α_W": (data.get("analysis") or {}).get("alpha_W"), "seed": record_seed(record)})
        rows.append(row)
    return pd.DataFrame(rows)


def activation_frame(record: Mapping, metric: str) -> pd.DataFrame:
    """One row per run with a recorded activation PTQ: test ``metric`` with float activations and at
    each activation width ka (columns ``ka=6`` ...), on the analysis' test subset."""
    rows = []
    for run in sorted(record["runs"]):
        found = (record["runs"][run].get("analysis") or {}).get("activation_ptq")
        if not found:
            continue
        row = {"run": run, "test samples": found["calibration"]["test_samples"],
               "max |h| (calibration)": found["calibration"]["hidden_max"],
               "float activations": found["float"][metric]}
        for key in sorted((k for k in found if k.isdigit()), key=int):
            row[f"ka={key}"] = found[key][metric]
        rows.append(row)
    return pd.DataFrame(rows)


def _bit_method(data: Mapping) -> tuple[str | None, int | None]:
    """(method, bits) of a recorded run (``data``: its entry in a record) of a quantized family, read
    from its recorded model specification (:func:`_bit_study_role`) and named as
    :func:`plot_metric_vs_bits` names it: ("STE-Björck", 3), ("PTQ of float Björck", 4); (None, None)
    for a float model or a baseline."""
    kind, mechanism, bits = _recorded_role(data)
    method = _method_label(kind, mechanism)
    return (method, bits) if method else (None, None)


#: the line style of each QORNN training method (:func:`_bit_method`) in the figures that give a
#: colour per weight bit width
METHOD_STYLES = {_method_label("QAT", "Björck"): "-", _method_label("QAT", "projUNN"): "--",
                 _method_label("QAT, learned α", "Björck"): "-."}


def plot_activation_widths(frame: pd.DataFrame, record: Mapping, ax, ylabel: str, logy: bool = False) -> list:
    """Each run of :func:`activation_frame`'s ``frame`` (of ``record``) against the activation width
    k_a (markers joined), with its float-activation level as a thin dotted line of its colour: a
    colour per weight bit width and a line style per method (:data:`METHOD_STYLES`), both read from
    the run's recorded model (:func:`_bit_study_role`) and the same in every panel, so that one legend
    serves them all. A run of another method or width is drawn black with diamonds and named. Returns
    the legend's handles for what this panel drew (to merge over panels)."""
    from matplotlib.lines import Line2D

    widths = [c for c in frame.columns if c.startswith("ka=")]
    drawn_bits, drawn_methods, others = set(), set(), []
    for _, row in frame.iterrows():
        method, bits = _bit_method(record["runs"][row["run"]])
        known = bits in _BITS_COLORS and method in METHOD_STYLES
        color = _bits_color(bits) if known else "black"
        ax.plot([int(c[3:]) for c in widths], [row[c] for c in widths], marker="o" if known else "D",
                markersize=4, linestyle=METHOD_STYLES[method] if known else "-", color=color,
                label=row["run"])
        ax.axhline(row["float activations"], color=color, linestyle=":", linewidth=0.8)
        if known:
            drawn_bits.add(bits), drawn_methods.add(method)
        else:
            others.append(row["run"])
    if logy and len(frame):
        ax.set_yscale("log")
    ax.set_xlabel("activation bits $k_a$")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return ([Line2D([], [], color=_bits_color(bits), linewidth=3, label=f"{bits}-bit weights")
             for bits in _BITS_COLORS if bits in drawn_bits]
            + [Line2D([], [], color="0.3", linestyle=style, marker="o", markersize=4, label=method)
               for method, style in METHOD_STYLES.items() if method in drawn_methods]
            + [Line2D([], [], color="black", marker="D", markersize=4, label=run) for run in others]
            + ([Line2D([], [], color="0.3", linestyle=":", linewidth=0.8, label="float activations")]
               if len(frame) else []))


#: the weight bit widths that get a colour of their own (the first five of matplotlib's cycle)
_BITS_COLORS = (3, 4, 5, 6, 8)


def _bits_color(bits: int | None) -> str:
    """The colour of a ``bits``-bit model in :func:`plot_activation_widths` (black: another width)."""
    return f"C{_BITS_COLORS.index(bits)}" if bits in _BITS_COLORS else "black"


def seed_activation_frame(experiments: Iterable[str], profile: str, metric: str,
                          runs: Iterable[str] | None = None) -> pd.DataFrame:
    """:func:`activation_frame` of every recorded seed (:func:`seed_records`) of each of
    ``experiments`` at ``profile``, one row per run and seed (``runs``: only these), with the
    experiment and the seed first. Empty when no run there has an activation PTQ."""
    frames = []
    for experiment in experiments:
        for seed, record in seed_records(experiment, profile).items():
            frame = activation_frame(record, metric)
            if runs is not None:
                frame = frame[frame["run"].isin(list(runs))] if len(frame) else frame
            if len(frame):
                frames.append(frame.assign(experiment=experiment, seed=seed))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out[["experiment", "run", "seed", *[c for c in out if c not in ("experiment", "run", "seed")]]]


def activation_gaps(experiments: Sequence[str], profile: str, metric: str,
                    runs: Iterable[str] | None = None) -> str:
    """Markdown naming each recorded seed of a run that :func:`seed_activation_frame` shows for other
    seeds but that has no activation PTQ itself, with the ``qornn analyse`` command that adds it; ""
    when there is none (or no table). So a table of one row per run and seed never drops a row
    silently."""
    frame = seed_activation_frame(experiments, profile, metric, runs)
    if frame.empty:
        return ""
    shown = set(zip(frame["experiment"], frame["run"], frame["seed"], strict=True))
    missing = []
    for experiment in experiments:
        for seed, record in seed_records(experiment, profile).items():
            for run in dict.fromkeys(frame.loc[frame["experiment"] == experiment, "run"]):
                if run in record["runs"] and (experiment, run, seed) not in shown:
                    option = f" --seed {seed}" if seed else ""
                    missing.append(f"`{experiment}` / `{run}`, seed {seed} (`qornn analyse {experiment} "
                                   f"--profile {profile} --runs {run}{option} --activations`)")
    if not missing:
        return ""
    return "Recorded but not measured yet, so not in the table: " + "; ".join(missing) + "."


def activation_table(experiments: Sequence[str], profile: str, metric: str,
                     runs: Iterable[str] | None = None):
    """What a page shows for its integer activations after training: :func:`seed_activation_frame`
    styled, the float and k_a columns as percentages when ``metric`` is an accuracy; or, while no
    run has an activation PTQ, a note that names the ``qornn analyse`` command adding one."""
    frame = seed_activation_frame(experiments, profile, metric, runs)
    commands = " or ".join(f"`qornn analyse {e} --profile {profile} --activations`" for e in experiments)
    where = PAPER_BUDGET if profile == PAPER_PROFILE else f"`{profile}` profile"
    note = (f"No run of {', '.join(f'`{e}`' for e in experiments)} at the {where} has an activation "
            f"analysis yet: {commands} adds one.")
    percent = ([c for c in frame if c == "float activations" or str(c).startswith("ka=")]
               if _is_accuracy(metric) else [])
    return table_or_note(frame, note, percent)


def frozen_runs_text(experiment: str, profile: str, runs: Iterable[str]) -> str:
    """Markdown naming each of ``runs`` whose checkpoint (:func:`qornn.checkpoints.checkpoint_path`)
    has parameters that Adam froze for ever (:func:`qornn.checkpoints.frozen_entries`: a non-finite
    second moment), with how many; or one line saying that none did, among those with a checkpoint."""
    from .checkpoints import checkpoint_path, frozen_entries

    paths = {run: checkpoint_path(experiment, profile, run) for run in runs}
    found = {run: frozen_entries(path) for run, path in paths.items() if path.exists()}
    if not found:
        return ""
    frozen = {run: counts for run, counts in found.items() if counts[0]}
    if not frozen:
        return (f"No parameter was frozen by an overflowing Adam state in the {len(found)} checkpoints of "
                f"`{experiment}` at profile `{profile}`.")
    others = len(found) - len(frozen)
    verb = "has" if others == 1 else "have"
    named = "; ".join(f"`{run}`: {n:,} of its {total:,} trained entries ({n / total:.1%})"
                      for run, (n, total) in frozen.items())
    return (f"**Frozen by the optimiser** (checkpoints of `{experiment}`, profile `{profile}`): {named} have "
            "a non-finite Adam second moment, so they never moved again after the step that overflowed it"
            + ("." if not others else
               f"; the other {others} checkpoint{'s' if others != 1 else ''} {verb} none."))


class MarkdownText(str):
    """Text that a notebook shows as Markdown: ``display(MarkdownText("**bold**"))`` renders it."""

    def _repr_markdown_(self) -> str:
        return str(self)


def table_or_note(frame: pd.DataFrame, note: str, percent: Iterable[str] = ()) -> Styler | MarkdownText:
    """:func:`styled` ``frame``, its ``percent`` columns as percentages; or ``note`` as
    :class:`MarkdownText` when ``frame`` has no rows (a table whose runs are not recorded yet)."""
    if frame.empty:
        return MarkdownText(note)
    style = styled(frame)
    percent = list(percent)
    return style.format("{:.1%}", subset=percent, na_rep="—") if percent else style


def training_time_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """Training cost of every trained run of ``records``: wall time without the final test, epochs
    and seconds per epoch, with the model, its hidden size, the task, the seed, the device (each
    device with its steps, for a run resumed on another; a CPU by its threads, "cpu, 1 thread", the
    machine's name in full from :func:`device_names`) and the commit whose code ran (PTQ runs,
    which train nothing, are left out)."""
    rows = []
    for record in records:
        for run, data in sorted(record["runs"].items()):
            if not data.get("history"):
                continue
            config, prov = data["config"], data["provenance"]
            wall, epochs = float(prov["wall_time_s"]), len(data["history"])
            rows.append({"experiment": record["experiment"], "task": config.get("task"),
                         "run": run_label(record, run), "seed": config.get("seed"),
                         "model": config["model"]["model"],
                         "hidden": config["model"].get("hidden_size"),
                         "batch": config.get("train", {}).get("batch_size"), "epochs": epochs,
                         "wall time": _duration(wall), "s / epoch": wall / epochs,
                         "device": _devices_cell(prov, short=True),
                         "commit": (prov.get("commit") or "unknown")[:8]})
    return pd.DataFrame(rows)


def sweep_frame(record: Mapping, metric: str = "accuracy") -> pd.DataFrame:
    """One row per run of a learning-rate / batch-size sweep: signs (learned or fixed), learning
    rate, batch size, optimiser steps, test ``metric`` and best validation ``metric``."""
    rows = []
    for run, data in sorted(record["runs"].items()):
        model, train = data["config"]["model"], data["config"]["train"]
        best = max((h["val"][metric] for h in data["history"] if metric in h.get("val", {})),
                   default=float("nan"))
        rows.append({"run": run, "signs": "learned" if model.get("learn_signs", True) else "fixed",
                     "lr": train["lr"], "batch": train["batch_size"], "epochs": train["epochs"],
                     f"test {metric}": data["test"][metric], f"best validation {metric}": best})
    return pd.DataFrame(rows).sort_values(["signs", "batch", "lr"], ignore_index=True)


def plot_sign_diagnostics(record: Mapping, axes=None):
    """HadamRNN's sign learning, per epoch, for every run that learns its signs: the mean |u| of the
    latent sign vector (log scale) and the number of signs of W flipped per optimiser step (the
    ``diagnostics`` of the history). Runs without diagnostics or with fixed signs are left out.
    Returns the runs drawn."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    frame = history_frame(record)
    drawn = []
    if "sign_flips_per_step" in frame:
        for run, part in frame.groupby("run", sort=True):
            if not (part["sign_flips_per_step"].fillna(0) > 0).any():
                continue  # fixed signs (or no flip at all): nothing to show
            axes[0].plot(part["epoch"], part["mean_abs_u"], "-o", label=run)
            axes[1].plot(part["epoch"], part["sign_flips_per_step"], "-o", label=run)
            drawn.append(run)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("mean |u| at the end of the epoch")
    axes[1].set_ylabel("signs flipped per optimiser step")
    for ax in axes:
        ax.set_xlabel("epoch")
        _epoch_ticks(ax, frame)
        ax.grid(True, alpha=0.3)
        if drawn:
            ax.legend(fontsize="small")
    return drawn


def plot_run_dynamics(records: Mapping[str, Mapping], run: str, metric: str = "accuracy",
                      axes=None) -> list[str]:
    """One HadamRNN ``run`` of several records side by side, per epoch: its validation ``metric``,
    the mean |u| of its latent signs (log scale) and the signs of W flipped per optimiser step
    (the history's ``diagnostics``), a line per record, labelled by ``records``' keys (e.g. "seed 0,
    clamped" and "seed 0, released step"). Records without the run are left out; returns the labels
    drawn."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    drawn = []
    for label, record in records.items():
        if run not in record["runs"]:
            continue
        frame = history_frame({"runs": {run: record["runs"][run]}})
        style = "--" if drawn else "-"  # dashed after the first: where the runs agree, both show
        for ax, column in zip(axes, (f"val_{metric}", "mean_abs_u", "sign_flips_per_step"), strict=True):
            if column in frame:
                ax.plot(frame["epoch"], frame[column], style, marker=".", label=label)
        drawn.append(label)
    for ax, ylabel in zip(axes, (f"validation {metric}", "mean |u| at the end of the epoch",
                                 "signs flipped per optimiser step"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    axes[1].set_yscale("log")
    if drawn:
        legend_below(axes[0], ncol=1)  # inside, it covered a curve
    return drawn


def _and(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"


#: how :func:`clamp_comparison_text` names a history's columns (:func:`history_frame`)
_HISTORY_NAMES = {"train_loss": "training loss", "mean_abs_u": "mean |u|",
                  "sign_flips_per_step": "signs flipped per step"}


def _history_name(column: str) -> str:
    """A column of :func:`history_frame` in words ("val_accuracy": "validation accuracy")."""
    return _HISTORY_NAMES.get(column, column.replace("val_", "validation ").replace("_", " "))


def history_differences(first: Mapping, second: Mapping, run: str) -> tuple[int | None, list[str]]:
    """Where ``run``'s recorded history differs between two records, compared exactly over the epochs
    both have: the first epoch at which any recorded number differs (training loss, validation values,
    diagnostics), or None; and the columns of :func:`history_frame` that differ at some epoch. Two runs
    from the same initial weights and batches that differ in one rule (e.g. HadamRNN's clamp) are one
    run until that rule first acts, and may differ in little after."""
    a = history_frame({"runs": {run: first["runs"][run]}}).set_index("epoch")
    b = history_frame({"runs": {run: second["runs"][run]}}).set_index("epoch")
    epochs = a.index.intersection(b.index)
    columns = [c for c in a.columns if c in b.columns and c not in ("run", "lr", "wall_time_s")]
    columns += [c for c in a.columns.symmetric_difference(b.columns) if c not in ("run", "wall_time_s")]
    differs = pd.DataFrame({c: (a.loc[epochs, c] != b.loc[epochs, c]) if c in a and c in b else True
                            for c in columns}, index=epochs)
    any_epoch = differs.any(axis=1)
    first_epoch = int(any_epoch.idxmax()) if any_epoch.any() else None
    return first_epoch, [c for c in columns if differs[c].any()]


def run_cpus(run_data: Mapping) -> set[str] | None:
    """Every CPU a run trained on, each start of a resumed run included ("AMD EPYC (family 25, model
    17, stepping 1), torch kernels AVX512"), or None where a start did not record its CPU (before
    :func:`qornn.results.cpu_description` was recorded)."""
    prov = run_data["provenance"]
    found = set()
    for where in [*(prov.get("segments") or []), prov]:
        cpu = results.cpu_text(where.get("cpu"))
        if cpu is None:
            return None
        found.add(cpu)
    return found


def _machines_clause(first: Mapping, second: Mapping, parted: int | None) -> str:
    """Whether two runs compared number for number trained on the same CPU: a float sum rounds by the
    CPU's vector instructions and the threads, so two runs of one configuration on different CPUs can
    differ from their first epoch (:mod:`qornn.reproduce`)."""
    cpus = [run_cpus(first), run_cpus(second)]
    if None not in cpus:
        if cpus[0] == cpus[1] and len(cpus[0]) == 1:
            return f" Both trained on one kind of CPU: {next(iter(cpus[0]))}."
        return (f" They trained on different CPUs ({_and(sorted(cpus[0]))}; {_and(sorted(cpus[1]))}), "
                "which round float sums differently, so a difference may be the machines'.")
    if parted == 1:
        return (" Their CPUs are not both recorded: runs of one configuration on two kinds of CPU can "
                "differ from the first epoch, so this difference may be the machines' (`qornn verify` "
                "tells whether a machine reproduces a record).")
    agree = "through every epoch" if parted is None else f"through epoch {parted - 1}"
    return (f" Their CPUs are not both recorded; that they agree {agree} shows that their machines "
            "computed alike.")


def clamp_comparison_text(clamped: Mapping[int, Mapping], unbounded: Mapping[int, Mapping],
                          run: str = "hadamrnn", metric: str = "accuracy") -> str:
    """Markdown, a line per seed recorded both ways (``{seed: record}`` each): through which epoch the
    run with HadamRNN's clamp and the one without it agree in every recorded number, in what they
    differ after (:func:`history_differences`), their test ``metric``, and whether they trained on one
    kind of CPU (:func:`run_cpus`)."""
    lines = []
    for seed in sorted(set(clamped) & set(unbounded)):
        if run not in clamped[seed]["runs"] or run not in unbounded[seed]["runs"]:
            continue
        epochs = len(unbounded[seed]["runs"][run]["history"])
        parted, columns = history_differences(clamped[seed], unbounded[seed], run)
        if parted is None:
            same = f"the two runs agree in every recorded number through all {epochs} epochs"
        else:
            kept = [_history_name(c) for c in ("train_loss", f"val_{metric}", "sign_flips_per_step")
                    if c not in columns]
            same = (f"the two runs agree in every recorded number through epoch {parted - 1}; from epoch "
                    f"{parted} on they differ {'only ' if kept else ''}in "
                    f"{_and([_history_name(c) for c in columns])}")
            if kept:
                same += f", while their {_and(kept)} stay exactly equal"
        tests = [record["runs"][run]["test"] for record in (clamped[seed], unbounded[seed])]
        if tests[0] == tests[1]:
            ended = f"the same test numbers ({metric} {_fmt(tests[0].get(metric), metric)})"
        else:
            ended = (f"test {metric} {_fmt(tests[0].get(metric), metric)} with the clamp, "
                     f"{_fmt(tests[1].get(metric), metric)} without")
        machines = _machines_clause(clamped[seed]["runs"][run], unbounded[seed]["runs"][run], parted)
        lines.append(f"- Seed {seed}: {same}; {ended}.{machines}")
    return "\n".join(lines)


def summary_table(tasks: Mapping[str, tuple[str, str]], paper_numbers: Mapping | None, profile: str, *,
                  seed: int = 0, device: str = "cpu") -> pd.DataFrame:
    """A chapter's summary: :func:`budget_comparison` of each experiment, restricted to its main
    metric, with a first column ``task``; the rows made at the paper's budget lead (every task's, in
    the order of ``tasks``), then those of ``profile``, each over its recorded seeds. ``tasks``:
    task label -> (experiment, metric). Reads each committed record (a record missing at
    ``profile`` raises :class:`~qornn.results.RecordMissing`, with the command that makes it).
    Without the comparison's ``profile`` column: ``budget`` and each row's record path say it."""
    from .experiments import get_config, recorded_or_trained

    tables = []
    for task, (experiment, metric) in tasks.items():
        record, _ = recorded_or_trained(experiment, profile, seed=seed, device=device, retrain=False)
        in_paper = get_config(experiment, profile).paper_experiment
        table = budget_comparison(experiment, record, paper_numbers, paper_experiment=in_paper)
        table = table[table["metric"] == metric]
        # a task whose budgets differ in sequence length (the copy task's T) says it on each row
        labels = {budget_label(profile): task_label(task, _lead_record(seeds, record))
                  for profile, seeds in budget_seed_records(experiment, record).items()}
        table.insert(0, "task", [labels.get(budget, task) for budget in table["budget"]])
        tables.append(table)
    summary = pd.concat(tables, ignore_index=True).drop(columns="profile")
    first = (summary["budget"] != PAPER_BUDGET).astype(int)  # paper's budget first, else as given
    return summary.iloc[first.sort_values(kind="stable").index].reset_index(drop=True)


def summary_for_page(summary: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A chapter's :func:`summary_table` as its page shows it: the table without the rows that carry
    no number, neither ours (:data:`NOT_RECORDED`) nor the paper's (:data:`NOT_AVAILABLE`,
    :data:`NOT_IN_PAPER`, :data:`NOT_KNOWN`), and without the columns empty in every row
    (:func:`without_empty_columns`);
    and markdown below it: how many rows, for how many the paper's number is available, the columns
    left out, and each numberless row with its reason ("- copy, paper's budget, `lstm`: not run
    yet; does not fit here, 13.0 h on one core."), so that a run without a number is still named."""
    paper_missing = summary["paper value"].isin([NOT_AVAILABLE, NOT_IN_PAPER, NOT_KNOWN])
    numberless = summary["ours"].astype(str).str.startswith(NOT_RECORDED) & paper_missing
    shown, left_out = without_empty_columns(summary[~numberless].reset_index(drop=True))
    text = (f"{len(shown)} row{'s' if len(shown) != 1 else ''}; the paper's number is available for "
            f"{(~paper_missing).sum()} of them.")
    if left_out:
        text += f" Left out, empty in every row: {', '.join(left_out)}."
    if numberless.any():
        budgets: dict[tuple[str, str, str], list[str]] = {}  # one line for a run missing alike at both
        for _, row in summary[numberless].iterrows():
            why = str(row["ours"]).removeprefix(NOT_RECORDED).lstrip(": ") or "not recorded yet"
            budgets.setdefault((row["task"], row["run"], why), []).append(row["budget"])
        lines = [f"- {task}, {' and '.join(shown_at)}, `{run}`: {why}."
                 for (task, run, why), shown_at in budgets.items()]
        text += (f"\n\n{numberless.sum()} more {'rows have' if numberless.sum() != 1 else 'row has'} no "
                 "number yet, neither the paper's nor ours:\n\n"
                 + "\n".join(lines))
    return shown, text


#: the kinds of ``data/paper/references.yaml`` entries: the authors' own released run, and other
#: papers' published numbers
RELEASED_NOTEBOOK = "authors' released notebook"
LITERATURE_ANCHOR = "literature anchor"
REFERENCE_KINDS = (RELEASED_NOTEBOOK, LITERATURE_ANCHOR)


def _ours_at(experiment: str, profile: str, run: str, metric: str, activation_bits: int | None = None
             ) -> tuple[str, str]:
    """Our test ``metric`` of ``run`` at ``profile`` over its recorded seeds (:func:`mean_std_cell`,
    then how many: "0.0002, 1 seed") and the run's hidden size, or ("not recorded", "—"); with
    ``activation_bits``, the metric with the hidden state at that many bits (:func:`seed_values`), or
    :data:`NO_ACTIVATION_PTQ` for a recorded run without that measurement."""
    seeds = seed_records(experiment, profile)
    lead = _lead_record(seeds) if seeds else {"runs": {}}
    values = seed_values(lead, run, metric, seeds, activation_bits=activation_bits)
    if not values:
        if activation_bits is not None and run in lead["runs"]:
            return NO_ACTIVATION_PTQ.format(bits=activation_bits), _fmt(hidden_size(lead, run))
        return "not recorded", "—"
    return (f"{mean_std_cell(values.values(), metric)}, {seeds_cell(values)}{length_suffix(lead)}",
            _fmt(hidden_size(lead, run)))


#: a reference at k-bit activations beside a recorded run of ours that has no such measurement
NO_ACTIVATION_PTQ = "not measured (no {bits}-bit activation PTQ recorded for this model)"


def reference_table(references: Mapping, profile: str, experiment: str | Iterable[str] | None = None
                    ) -> pd.DataFrame:
    """The numbers of ``data/paper/references.yaml`` (``load_paper_numbers("references")``: the
    authors' released runs and literature anchors, never the papers' tables) beside our nearest
    recorded run, each with its hidden size: they are context, not equal models (each entry's
    ``model`` in the file says how the reference differs). Each row says its ``kind``
    (:data:`RELEASED_NOTEBOOK` or :data:`LITERATURE_ANCHOR`, from the file) and its source; ours
    are given at the paper's budget (when ``profile`` is not ``paper``) and at ``profile``, each over
    its recorded seeds; where ``ours`` names ``activation_bits``, ours is the run's test metric with
    its hidden state quantized to that many bits after training. ``experiment``: only that task's
    references (a name, or several)."""
    wanted = {experiment} if isinstance(experiment, str) else None if experiment is None else set(experiment)
    rows = []
    for entry in references["entries"]:
        if wanted is not None and entry["experiment"] not in wanted:
            continue
        if entry.get("kind") not in REFERENCE_KINDS:
            raise PaperNumbersError(f"reference {entry['run']!r}: kind must be one of "
                                    f"{', '.join(REFERENCE_KINDS)}, got {entry.get('kind')!r}")
        metric, ours = entry["metric"], entry.get("ours") or {}
        bits = ours.get("activation_bits")
        at_profile = _ours_at(ours["experiment"], profile, ours["run"], metric, bits) if ours else ("—", "—")
        source = entry["source"]
        where = next((str(source[k]) for k in _WHERE_KEYS if source.get(k)), "")
        row = {"kind": entry["kind"], "task": entry["experiment"], "reference": entry["run"],
               "hidden": _fmt(entry.get("hidden")), "metric": metric,
               "reference value": _fmt(entry["value"], metric), "our run": ours.get("run", "—"),
               "our hidden": at_profile[1]}
        if profile != PAPER_PROFILE:
            from .experiments import get_config

            at_paper = (_ours_at(ours["experiment"], PAPER_PROFILE, ours["run"], metric, bits) if ours
                        else ("—", "—"))
            config = get_config(ours["experiment"], PAPER_PROFILE) if ours else None
            # each budget's own hidden size: the paper's budget may train a larger model than ``profile``
            hidden = at_paper[1]
            if hidden == "—" and config is not None and ours["run"] in config.models:
                hidden = _fmt(config.models[ours["run"]].get("hidden_size"))
            row[f"our hidden, {PAPER_BUDGET}"] = hidden
            if at_paper[0] == "not recorded":
                status = _unrecorded_status(config, ours["run"] if ours else "")
                unrun = ours and status[0] == NOT_RUN_AT_PAPER
                fit = unrun_cost_note(ours["experiment"], ours["run"]) if unrun else ""
                row[f"ours, {PAPER_BUDGET}"] = _with_note(*status) + (f"; {fit}" if fit else "")
            else:
                row[f"ours, {PAPER_BUDGET}"] = at_paper[0]
        row.update({"ours": at_profile[0], "profile": profile, "source": f"{source['paper']}; {where}"})
        rows.append(row)
    return pd.DataFrame(rows)


def load_released_scales() -> dict[str, Any]:
    """``data/paper/released_scales.yaml``: the scales α_W = max|W| and α_U = max|U| of the models the
    authors trained, as their released notebook types them, each entry with ``task``, ``method``,
    ``bits``, ``alpha_W`` and ``alpha_U`` (numbers, or both null with a ``note`` saying why) and
    ``ours`` (our runs of the same task, method and bits). Raises :class:`PaperNumbersError` on a
    missing file, a missing source, or an entry that breaks that layout."""
    path = paper_dir() / "released_scales.yaml"
    if not path.exists():
        raise PaperNumbersError(f"no released scales (looked for {path})")
    doc = yaml.safe_load(path.read_text()) or {}
    source = doc.get("source") if isinstance(doc, Mapping) else None
    if doc.get("kind") != RELEASED_NOTEBOOK or not isinstance(source, Mapping) \
            or not all(source.get(k) for k in ("repository", "commit", "path", "where")):
        raise PaperNumbersError(f"{path}: needs kind {RELEASED_NOTEBOOK!r} and a source with repository, "
                                "commit, path and where")
    for entry in doc.get("entries") or []:
        name = entry.get("key", entry)
        if any(k not in entry for k in ("task", "method", "bits", "alpha_W", "alpha_U", "ours")):
            raise PaperNumbersError(f"{path}: entry {name!r} needs task, method, bits, alpha_W, alpha_U "
                                    "and ours")
        values = (entry["alpha_W"], entry["alpha_U"])
        if values == (None, None) and not entry.get("note"):
            raise PaperNumbersError(f"{path}: entry {name!r} has no values and no note saying why")
        if values != (None, None) and not all(isinstance(v, (int, float)) and v > 0 for v in values):
            raise PaperNumbersError(f"{path}: entry {name!r}: alpha_W and alpha_U must be positive "
                                    f"numbers, got {values}")
    return dict(doc)


def _our_scales(experiment: str, profile: str, run: str) -> dict[str, Any] | None:
    """Hidden size, α_W and α_U of our recorded ``run`` at ``profile`` (seed 0), or None when not
    recorded: α_W from the record's analysis (1/√m for HadamRNN's W, by construction), α_U from the
    trained weights (None when they do not load: see :func:`qornn.weights.load_weights`)."""
    from .experiments.runner import HADAMARD_MODELS
    from .weights import WeightsError, load_weights

    record = results.load_record(experiment, profile, missing_ok=True)
    data = (record or {"runs": {}})["runs"].get(run)
    if data is None:
        return None
    model = data["config"]["model"]
    alpha_w = (data.get("analysis") or {}).get("alpha_W")
    hadamard = model.get("model") in HADAMARD_MODELS
    if hadamard:
        alpha_w = 1 / math.sqrt(model.get("block") or model["hidden_size"])
    try:
        alpha_u = float(load_weights(experiment, run, profile=profile).input.alpha())
    except (WeightsError, ValueError, AttributeError):
        alpha_u = None
    return {"n": model.get("hidden_size"), "alpha_W": alpha_w, "alpha_U": alpha_u, "hadamard": hadamard}


def released_scales_table(scales: Mapping, profiles: Iterable[str] = (PAPER_PROFILE, "cpu"),
                          haar: Callable[[int], float] | None = None) -> pd.DataFrame:
    """The authors' α_W and α_U (:func:`load_released_scales`) beside those of our runs of the same
    task, method and bits, one row per run of ours and budget recorded (seed 0), or one row saying
    "not recorded". ``haar``: n ↦ mean α_W of a Haar-random W ∈ O(n) (e.g. a cached partial of
    :func:`qornn.analysis.start_alpha`: it is called for each such row), shown at our n: where a
    trained W's α_W sits against an untrained one of the same size (not for HadamRNN, whose W is
    never Haar-random)."""
    rows = []
    for entry in scales["entries"]:
        authors = {"task": entry["task"], "method": entry["method"], "bits": entry["bits"],
                   "authors' α_W": entry["alpha_W"], "authors' α_U": entry["alpha_U"]}
        mine = [(ours, profile, _our_scales(ours["experiment"], profile, ours["run"]))
                for ours in entry["ours"] for profile in profiles]
        mine = [m for m in mine if m[2] is not None]
        if not mine:
            rows.append({**authors, "our run": "not recorded"})
        for ours, profile, found in mine:
            rows.append({**authors, "our run": f"{ours['experiment']} / {ours['run']}",
                         "budget": budget_label(profile), "our n": found["n"], "our α_W": found["alpha_W"],
                         "our α_U": found["alpha_U"],
                         "Haar-random α_W at our n": (None if found["hadamard"] or haar is None
                                                      or found["n"] is None else haar(found["n"]))})
    return pd.DataFrame(rows)


def _method_and_seed(run: str, data: Mapping) -> tuple[str, int]:
    """A study's run "<method>-seed<k>" as (method, k); other runs as (run, the record's seed)."""
    method, sep, seed = run.rpartition("-seed")
    if sep and seed.isdigit():
        return method, int(seed)
    return run, int(data["provenance"].get("seed", 0))


def seed_frame(record: Mapping, metric: str) -> pd.DataFrame:
    """One row per run of a study repeated over seeds: method, seed, signs, the test ``metric``, and
    from the history's diagnostics the mean over epochs of the sign flips per optimiser step and the
    final mean |u|."""
    rows = []
    for run, data in sorted(record["runs"].items()):
        method, seed = _method_and_seed(run, data)
        diagnostics = [p["diagnostics"] for p in data["history"] if "diagnostics" in p]
        flips = [d["sign_flips_per_step"] for d in diagnostics if "sign_flips_per_step" in d]
        rows.append({"method": method, "seed": seed, "signs": signs_of(data["config"].get("model", {})),
                     metric: data["test"].get(metric),
                     "flips per step": sum(flips) / len(flips) if flips else 0.0,
                     "final mean |u|": diagnostics[-1].get("mean_abs_u") if diagnostics else None})
    return pd.DataFrame(rows)


def method_summary(record: Mapping, metric: str, *, higher_is_better: bool, bar: str = "frozen"
                   ) -> pd.DataFrame:
    """Per method of a seed study: the mean, min and max over seeds of the test ``metric``, its
    spread (max − min), the difference of means to the ``bar`` method (signed so that > 0 is better)
    and whether the method beats the bar by more than the spread: better by more than the larger of
    the two methods' spreads over seeds (with one seed each, a spread of 0)."""
    frame = seed_frame(record, metric)
    groups = frame.groupby("method", sort=False)
    stats = groups[metric].agg(["mean", "min", "max", "count"])
    stats["spread"] = stats["max"] - stats["min"]
    stats["flips per step"] = groups["flips per step"].mean()
    stats["final mean |u|"] = groups["final mean |u|"].mean()
    stats["signs"] = groups["signs"].first()
    sign = 1.0 if higher_is_better else -1.0
    if bar in stats.index:
        better = sign * (stats["mean"] - stats.loc[bar, "mean"])
        stats[f"better than {bar} by"] = better
        margin = stats["spread"].combine(pd.Series(stats.loc[bar, "spread"], index=stats.index), max)
        stats[f"beats {bar} beyond the spread"] = (better > margin) & (stats.index != bar)
    return stats.rename(columns={"count": "seeds"}).reset_index()


def plot_seed_curves(record: Mapping, column: str, ax=None, ylabel: str | None = None,
                     legend: bool = True):
    """A history ``column`` (e.g. "val_accuracy", "sign_flips_per_step", "mean_abs_u") per epoch for
    each method of a seed study: the mean over seeds as a line, min to max as a band. ``legend``:
    False for a panel beside another that has it (the methods keep their colours)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = history_frame(record)
    if column not in frame:
        return ax
    frame["method"] = [_method_and_seed(run, record["runs"][run])[0] for run in frame["run"]]
    for method, part in frame.groupby("method", sort=False):
        by_epoch = part.groupby("epoch")[column].agg(["mean", "min", "max"])
        frozen = signs_of(record["runs"][part["run"].iloc[0]]["config"].get("model", {})) == FROZEN_SIGNS
        label = f"{method} [frozen signs]" if frozen and "frozen" not in method else method
        line, = ax.plot(by_epoch.index, by_epoch["mean"], "--" if frozen else "-o", label=label)
        ax.fill_between(by_epoch.index, by_epoch["min"], by_epoch["max"], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or column.replace("_", " "))
    _epoch_ticks(ax, frame)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(fontsize="small")
    return ax


# --- the paper's budget: what is recorded, what it costs, and the copy task's verdict --------------------

#: a run of a ``paper`` profile fits this machine when its projected time on one core (measured seconds
#: per optimiser step × the profile's steps, ``benchmarks/paper_costs.py``) is at most this many hours:
#: four three-hour working sessions of one of the machine's two cores, a run resuming each time from
#: its committed checkpoint
FITS_HOURS = 12.0
#: the copy task is solved (:func:`solves_copy`) at a test cross-entropy at most this fraction of the
#: memoryless baseline and a recall of the copied symbols at least :data:`SOLVED_RECALL`
SOLVED_LOSS_FRACTION = 0.1
SOLVED_RECALL = 0.99
#: the rule of :func:`solves_copy` as the pages state it
COPY_RULE = (f"a run **solves the copy task** when its test cross-entropy per step is at most "
             f"{SOLVED_LOSS_FRACTION:g} × the memoryless baseline K·ln 8 / T (ten times below what a "
             f"model that remembers nothing reaches) **and** it recalls at least {SOLVED_RECALL:.0%} of the "
             "copied symbols of the test set (`recall_accuracy`); a run recorded at several seeds "
             "solves it when every seed does")
NOT_RUN_AT_PAPER = "not run at the paper's budget yet"
#: how they name a run with no record whose checkpoint is training (or trained, not recorded yet)
IN_PROGRESS_AT_PAPER = "in progress at the paper's budget"
#: how the paper-budget tables name a run whose last try failed (:func:`failed_runs`)
FAILED_AT_PAPER = "failed at the paper's budget"
#: the same statuses as :func:`why_not_recorded` words them in a row that names its budget
_PAPER_STATUS_BRIEF = {NOT_RUN_AT_PAPER: "not run yet", IN_PROGRESS_AT_PAPER: "in progress",
                       FAILED_AT_PAPER: "failed"}


def paper_costs(experiment: str) -> tuple[dict[str, dict], dict | None]:
    """The measured cost of each run of ``experiment``'s ``paper`` profile, ``{run: row}`` from the
    benchmark record ``data/results/benchmarks/paper_costs.json`` (each row: ``median_step_s``,
    ``optimizer_steps``, ``projected_hours``, or ``measured`` False and a ``reason``), with when they
    were measured (``commit`` and ``date``: the rows' ``measured_at``, else the record's provenance, for a
    record written before rows carried it); ``({}, None)`` when there is no such record."""
    from .benchmark_report import load_benchmarks, measured_at

    record = load_benchmarks(["paper_costs"]).get("paper_costs")
    if record is None:
        return {}, None
    rows = {row["run"]: row for row in record["runs"] if row["experiment"] == experiment}
    first = next(iter(rows.values()), None)
    return rows, (record.get("provenance") if first is None else measured_at(record, first))


def _run_checkpoint(config, run: str):
    """``run``'s (seed 0) checkpoint path and what it holds (:func:`qornn.checkpoints.read_checkpoint`,
    None if it cannot be read); None when there is no checkpoint."""
    from .checkpoints import checkpoint_path, read_checkpoint

    path = checkpoint_path(config.experiment, config.profile, run)
    if not path.exists():
        return None
    return path, read_checkpoint(path, config.experiment, config.profile, run)


def _in_progress(config, run: str) -> str:
    """How far ``run``'s unfinished checkpoint got and what is left at its pace
    (:func:`_progress_and_pace`), "" when it has no readable unfinished checkpoint."""
    checkpoint = _run_checkpoint(config, run)
    if checkpoint is None or checkpoint[1] is None or checkpoint[1].finished:
        return ""
    return _progress_and_pace(checkpoint[1])


def _progress_and_pace(found) -> str:
    """"11,000 of 50,000 optimiser steps, 22%; 7.7 h trained, about 27.3 h to go at its pace so far"
    for an unfinished checkpoint: the hours left at the pace it has trained at here, which can be well
    above a cost projected from a few steps timed on an idle machine."""
    from .checkpoints import progress_text

    left, pace = found.hours_to_go, found.pace_text if found.device_pace else "at its pace so far"
    return (f"{progress_text(found)}; {found.elapsed_s / 3600:.1f} h trained"
            + (f", about {left:.1f} h to go {pace}" if left is not None else ""))


def _unrecorded_status(config, run: str) -> tuple[str, str]:
    """(label, note) of ``run`` (seed 0), not recorded at the paper's budget: :data:`NOT_RUN_AT_PAPER`
    with no note when it has no checkpoint, or is not a run of ``config`` (None: no paper profile);
    else :data:`IN_PROGRESS_AT_PAPER` with how far its checkpoint got and the command that continues
    it (:mod:`qornn.checkpoints`), or the path of a checkpoint that cannot be read."""
    checkpoint = _run_checkpoint(config, run) if config is not None and run in config.models else None
    if checkpoint is None:
        return NOT_RUN_AT_PAPER, ""
    path, found = checkpoint
    if found is None:
        return NOT_RUN_AT_PAPER, f"a checkpoint exists but cannot be read: {_repo_relative(path)}"
    command = found.command()
    if found.finished:
        return IN_PROGRESS_AT_PAPER, ("trained to the end, not recorded yet"
                                      + (f"; record it with `{command}`" if command else ""))
    return IN_PROGRESS_AT_PAPER, (_progress_and_pace(found)
                                  + (f"; continue with `{command}`" if command else ""))


def _later_seeds_in_progress(experiment: str) -> dict[str, str]:
    """``{run: "seed 1: 33,600 of 40,000 optimiser steps, 84%"}`` for each run of ``experiment``'s
    ``paper`` profile with a checkpoint at a seed above 0 that is not recorded yet (training, stopped,
    or trained and not recorded): a run recorded at its first seeds can have another under way. A
    ``--set`` variant's checkpoints are not the profile's run and are left out."""
    from .checkpoints import find_checkpoints

    later: dict[str, list[str]] = {}
    for found in find_checkpoints(PAPER_PROFILE, experiment):
        if found.seed and not found.recorded and not found.overrides:
            later.setdefault(found.run, []).append(
                f"seed {found.seed}: " + ("trained, not recorded yet" if found.finished
                                          else _progress_and_pace(found)))
    return {run: "; ".join(parts) for run, parts in later.items()}


def _with_note(label: str, note: str) -> str:
    return f"{label} ({note})" if note else label


def paper_budget_frame(experiment: str, fits_hours: float = FITS_HOURS) -> pd.DataFrame:
    """One row per run of ``experiment``'s ``paper`` profile: whether it is recorded at the paper's
    budget (and at how many seeds), how far an unfinished run got ("in progress": its checkpoint's
    steps, "" for none), its measured seconds per optimiser step on one core, the
    profile's optimiser steps, their product in hours, and whether that fits this machine (at most
    ``fits_hours``, :data:`FITS_HOURS`), from :func:`paper_costs`. A post-training quantization run
    names the run it quantizes ("quantizes", None for the others): it trains nothing itself, but
    costs what that source costs until the source is recorded. A run not recorded whose last try in a
    sweep failed (:func:`failed_runs`) is :data:`FAILED_AT_PAPER`, with the seed and the reason; so
    are a recorded run's failed seeds, after its recorded ones ("failed seeds" lists them, "" for none)."""
    return _paper_budget_frame(experiment, fits_hours, seed_records(experiment, PAPER_PROFILE),
                               paper_costs(experiment)[0])


def _paper_budget_frame(experiment: str, fits_hours: float, seeds: Mapping[int, Mapping],
                        costs: Mapping[str, Mapping]) -> pd.DataFrame:
    """:func:`paper_budget_frame` from the paper records ``seeds`` and cost rows ``costs`` already
    read, for a caller that needs them too."""
    from .experiments import get_config

    config = get_config(experiment, PAPER_PROFILE)
    failed = _failed_by_run(experiment, PAPER_PROFILE)
    later = _later_seeds_in_progress(experiment)
    rows = []
    for run in config.models:
        recorded = [seed for seed, record in seeds.items() if run in record["runs"]]
        if recorded:
            status = f"recorded, {seeds_cell(recorded)}"
            if run in later:
                status += f"; in progress at {later[run]}"
            if run in failed:  # other seeds of it failed: a mean over the recorded ones hides them
                status += f"; {FAILED_AT_PAPER}, {_failed_seeds_text(failed[run])}"
        elif run in failed:
            status = f"{FAILED_AT_PAPER}, {_failed_seeds_text(failed[run])}"
        else:
            status = _with_note(*_unrecorded_status(config, run))
        # a PTQ run trains nothing itself, but runs its float source first unless that is recorded
        source = config.source_run(run)
        row = {"run": run, "at the paper's budget": status,
               "failed seeds": ", ".join(str(row["seed"]) for row in failed.get(run, [])),
               "quantizes": source,
               "in progress": later.get(run, "") if recorded else _in_progress(config, run),
               "s / step": None, "optimiser steps": None, "projected hours (1 core)": None,
               "timed steps": None}
        if source is not None and any(source in record["runs"] for record in seeds.values()):
            rows.append({**row, "fits here": f"yes: trains nothing, quantizes the recorded {source}"})
            continue
        cost = costs.get(source or run)
        if cost is None:
            row["fits here"] = "no measured cost"
        elif not cost.get("measured"):
            row["fits here"] = f"not measured: {cost.get('reason', 'no reason recorded')}"
        else:
            hours = float(cost["projected_hours"])
            row.update({"s / step": float(cost["median_step_s"]),
                        "optimiser steps": int(cost["optimizer_steps"]),
                        "projected hours (1 core)": hours,
                        "timed steps": len(cost.get("step_times_s") or []) or None,
                        "fits here": f"yes (≤ {fits_hours:g} h)" if hours <= fits_hours
                        else f"no (> {fits_hours:g} h)"})
        if source is not None:
            row["fits here"] += f"; trains nothing itself, but first trains {source}, which it quantizes"
        rows.append(row)
    return pd.DataFrame(rows)


def _paper_freshness(experiment: str, seeds: Mapping[int, Mapping]) -> str:
    """:func:`freshness_notes` of every recorded seed of ``experiment`` at the paper's budget, for
    its recorded runs only (the runs not recorded yet are named apart)."""
    import dataclasses

    from .experiments import get_config

    config = get_config(experiment, PAPER_PROFILE)
    notes = []
    for seed, record in seeds.items():
        recorded = dataclasses.replace(config, models={run: spec for run, spec in config.models.items()
                                                       if run in record["runs"]})
        flags = freshness_notes(record, recorded)
        if flags:
            notes.append(flags if len(seeds) == 1 else f"Seed {seed}:\n\n{flags}")
    return "\n\n".join(notes)


#: what in a failed run's error means that its training diverged (weights or loss not finite)
_DIVERGED = re.compile(r"non-finite|must be a finite number|\bnan\b|\binf\b", re.IGNORECASE)


def failed_runs(experiment: str, profile: str) -> list[dict[str, Any]]:
    """The runs of ``experiment``'s ``profile`` (not its variants made with overrides) whose last try
    in a sweep failed and that have no record since, from the sweeps' log
    (:func:`qornn.sweep.sweep_log_path`): ``{"run", "seed", "error", "diverged"}`` each, in the
    profile's order of runs, then by seed. A failed run is in no table: without this, a mean over the
    seeds that trained would hide the seed that did not."""
    import json

    from .experiments import get_config
    from .sweep import sweep_log_path

    path = sweep_log_path(experiment, profile)
    if not path.exists():
        return []
    last: dict[tuple[str, int], dict[str, Any]] = {}
    for sweep in json.loads(path.read_text()).get("sweeps", []):
        for row in sweep.get("rows", []):
            if row.get("variant"):
                continue
            for run in str(row.get("runs", "")).split(","):
                last[(run, int(row.get("seed", 0)))] = row
    recorded = {seed: set(record["runs"]) for seed, record in seed_records(experiment, profile).items()}
    order = {run: i for i, run in enumerate(get_config(experiment, profile).models)}
    failed = []
    for (run, seed), row in sorted(last.items(), key=lambda item: (order.get(item[0][0], len(order)),
                                                                  item[0][0], item[0][1])):
        if row.get("status") == "failed" and run not in recorded.get(seed, set()):
            error = str(row.get("error", ""))
            failed.append({"run": run, "seed": seed, "error": error,
                           "diverged": bool(_DIVERGED.search(error))})
    return failed


def _failed_by_run(experiment: str, profile: str) -> dict[str, list[dict[str, Any]]]:
    """:func:`failed_runs` grouped by run: run -> its failed seeds' rows, in seed order."""
    failed: dict[str, list[dict[str, Any]]] = {}
    for row in failed_runs(experiment, profile):
        failed.setdefault(row["run"], []).append(row)
    return failed


def _failure_reason(row: Mapping[str, Any]) -> str:
    """Why a run of :func:`failed_runs` failed, in a few words."""
    if not row["diverged"]:
        return "it failed"
    return "training diverged (non-finite weights, loss or optimiser state)"


def _failed_seeds_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """The seeds of :func:`failed_runs` rows of one run, grouped by reason: "seeds 0, 2: training
    diverged (...); seed 1: it failed"."""
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        by_reason.setdefault(_failure_reason(row), []).append(str(row["seed"]))
    return "; ".join(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}: {reason}"
                     for reason, seeds in by_reason.items())


def failed_runs_note(experiment: str, profiles: Iterable[str]) -> str:
    """Markdown naming the failed runs of :func:`failed_runs` at each of ``profiles`` (empty if none)."""
    lines = []
    for profile in dict.fromkeys(profiles):
        for row in failed_runs(experiment, profile):
            lines.append(f"- `{row['run']}`, profile `{profile}`, seed {row['seed']}: "
                         f"{_failure_reason(row)}; the error: `{row['error']}`")
    if not lines:
        return ""
    return ("**Runs that failed**, so are in no table and no mean over seeds (from the sweeps' log, "
            f"`data/sweeps/{experiment}/`):\n\n" + "\n".join(lines))


def paper_budget_note(experiment: str, record: Mapping | None = None, fits_hours: float = FITS_HOURS) -> str:
    """Markdown for a page: whether ``experiment`` is recorded at the paper's budget (and how its
    tables tell those numbers from ``record``'s, at a reduced budget), which of its paper runs are not
    yet, and which do not fit this machine, each with its measured cost (:func:`paper_budget_frame`);
    then the runs that failed at the paper's budget or ``record``'s (:func:`failed_runs_note`).
    Empty for a variant made with overrides (in no paper)."""
    if record is not None and _has_overrides(record):
        return ""
    profiles = [PAPER_PROFILE, *([record["profile"]] if record is not None else [])]
    failed = failed_runs_note(experiment, profiles)
    return "\n\n".join(part for part in (_paper_budget_lines(experiment, record, fits_hours), failed) if part)


def _paper_budget_lines(experiment: str, record: Mapping | None, fits_hours: float) -> str:
    from .benchmark_report import BENCHMARKS

    measure = f"`{BENCHMARKS['paper_costs']} --experiments {experiment}`"
    seeds = seed_records(experiment, PAPER_PROFILE)
    costs, provenance = paper_costs(experiment)
    frame = _paper_budget_frame(experiment, fits_hours, seeds, costs)
    path = _repo_relative(results.record_path(experiment, PAPER_PROFILE))
    status = frame["at the paper's budget"]
    started = frame[status.str.startswith(IN_PROGRESS_AT_PAPER) | (frame["in progress"] != "")]
    recorded = frame.loc[status.str.startswith("recorded"), "run"]
    # a recorded run with a later seed under way says which seed
    in_progress = ("In progress at the paper's budget (`qornn checkpoints --profile paper` gives the command "
                   "that continues each): "
                   + ", ".join(f"`{run}`" + (f" ({progress})" if run in set(recorded) else "")
                               for run, progress in zip(started["run"], started["in progress"], strict=True))
                   + ".") if len(started) else ""
    if not seeds:
        lines = [f"**The paper's budget has not been run yet** for `{experiment}`: there is no record "
                 f"`{path}`, so every number of ours on this page is from a reduced budget."]
        if in_progress:
            lines.append(in_progress)
    else:
        lines = [f"**Recorded at the paper's budget** (`{path}`, profile `paper`): "
                 f"{', '.join(f'`{run}`' for run in recorded)}. Tables label these rows "
                 f"*{PAPER_BUDGET}* and list them first"
                 + (f"; the rows labelled *{budget_label(record['profile'])}* are this page's profile "
                    f"`{record['profile']}`." if record is not None and record["profile"] != PAPER_PROFILE
                    else ".")]
        failed = frame.loc[status.str.startswith(FAILED_AT_PAPER), "run"]
        # a run that does not fit is named once, below, with its cost: not also as "not run yet"
        missing = frame.loc[status.str.startswith(NOT_RUN_AT_PAPER)
                            & ~frame["fits here"].str.startswith("no ("), "run"]
        if in_progress:
            lines.append(in_progress)
        if len(missing):
            lines.append(f"Not run at the paper's budget yet: {', '.join(f'`{run}`' for run in missing)}.")
        if len(failed):
            lines.append(f"Failed at the paper's budget (below, under *Runs that failed*): "
                         f"{', '.join(f'`{run}`' for run in failed)}.")
        flags = _paper_freshness(experiment, seeds)
        if flags:
            lines.append("**Check before trusting the paper's-budget numbers:**\n\n" + flags)
    if provenance is None:
        lines.append(f"No measured cost of the paper's runs yet ({measure} measures them).")
        return "\n\n".join(lines)
    # a run recorded already, or under way, is not named among those that do not fit, whatever its
    # cost measures now: it is being trained over several sessions
    waiting = ~status.str.startswith("recorded") & ~frame["run"].isin(started["run"])
    # a post-training quantization trains nothing: named apart, not as a run that does not fit
    quantized = frame[waiting & frame["quantizes"].notna()]
    too_long = frame[frame["fits here"].str.startswith("no (") & waiting & frame["quantizes"].isna()]
    # a run that could not be measured (its data is not here) says why in the frame, not here
    unmeasured = frame.loc[frame["fits here"] == "no measured cost", "run"]
    measured = (f"measured at commit {(provenance.get('commit') or 'unknown')[:7]} on "
                f"{str(provenance.get('date', ''))[:10]}, `data/results/benchmarks/paper_costs.json`")
    if len(too_long):
        runs = "; ".join(f"`{row['run']}` ({row['s / step']:.3g} s per step × "
                         f"{int(row['optimiser steps']):,} steps ≈ {row['projected hours (1 core)']:.1f} h)"
                         for row in too_long.to_dict("records"))
        lines.append(f"**Runs that do not fit this machine** (over {fits_hours:g} hours on one core, "
                     f"{measured}): {runs}.")
    elif frame["fits here"].str.startswith("yes").any():
        lines.append(f"Every measured paper run of `{experiment}` fits this machine (at most "
                     f"{fits_hours:g} hours on one core, {measured}).")
    if len(unmeasured):
        lines.append(f"No measured cost for {', '.join(f'`{run}`' for run in unmeasured)} "
                     f"({measure} measures them).")
    if len(quantized):
        by_source: dict[str, list[str]] = {}
        for run, source in zip(quantized["run"], quantized["quantizes"], strict=True):
            by_source.setdefault(source, []).append(f"`{run}`")
        lines.append("Post-training quantizations not run yet, seconds each once their source is trained: "
                     + "; ".join(f"{', '.join(runs)} (of `{source}`)" for source, runs in by_source.items())
                     + ".")
    return "\n\n".join(lines)


def paper_budget_summary(tasks: Mapping[str, tuple[str, str]], fits_hours: float = FITS_HOURS
                         ) -> pd.DataFrame:
    """A chapter's paper budgets at a glance, one row per task of ``tasks`` (label -> (experiment,
    metric), as :func:`summary_table` takes them), from :func:`paper_budget_frame`. Each run of the
    paper profile is named in one column: recorded at the paper's budget; in progress (with how far
    its checkpoint got); failed (its last try in a sweep, :func:`failed_runs`); not run yet and fits
    here; does not fit this machine (with its projected hours on one core); not run yet with no
    measured cost; or a post-training quantization not run yet, named apart with its source: it
    trains nothing, and takes seconds once its source is trained."""
    rows = []
    for task, (experiment, _) in tasks.items():
        frame = paper_budget_frame(experiment, fits_hours)
        recorded = frame["at the paper's budget"].str.startswith("recorded")
        started = frame["in progress"] != ""  # a recorded run too, at a later seed
        failed = ~recorded & ~started & frame["at the paper's budget"].str.startswith(FAILED_AT_PAPER)
        # a post-training quantization trains nothing: it takes seconds once its source is trained
        quantized = frame["quantizes"].notna()  # the frame names each PTQ run's source
        waiting = frame[~recorded & ~started & ~failed & ~quantized]
        too_long = waiting["fits here"].str.startswith("no (")
        unmeasured = waiting["fits here"].str.startswith(("not measured", "no measured cost"))
        pending = frame[~recorded & ~started & ~failed & quantized]
        by_source: dict[str, list[str]] = {}
        for run, source in zip(pending["run"], pending["quantizes"], strict=True):
            by_source.setdefault(source, []).append(run)
        rows.append({"task": task, "experiment": experiment,
                     "recorded at the paper's budget":
                     ", ".join(r["run"] + (f" (seeds failed: {r['failed seeds']})" if r["failed seeds"]
                                           else "") for r in frame[recorded].to_dict("records"))
                     or NOT_RUN_AT_PAPER,
                     "in progress (from its checkpoint)":
                     ", ".join(f"{r['run']} ({r['in progress']})" for r in frame[started].to_dict("records"))
                     or "—",  # "seed 1: ..." for a later seed of a recorded run
                     "failed (named on the task's page)": ", ".join(frame.loc[failed, "run"]) or "—",
                     "not run yet, fit here": ", ".join(
                         _projected(r) for r in waiting[~too_long & ~unmeasured].to_dict("records")) or "—",
                     f"do not fit here (> {fits_hours:g} h on one core)":
                     ", ".join(f"{r['run']} ({r['projected hours (1 core)']:.1f} h)"
                               for r in waiting[too_long].to_dict("records")) or "—",
                     "not run yet, cost not measured": ", ".join(waiting.loc[unmeasured, "run"]) or "—",
                     "post-training quantizations, seconds once their source is trained":
                     "; ".join(f"{', '.join(runs)} (of {source})" for source, runs in by_source.items())
                     or "—"})
    return pd.DataFrame(rows)


def _projected(row: Mapping) -> str:
    """A run of :func:`paper_budget_frame` with its projected hours and how many timed steps they
    come from ("lstm (6.0 h, from 3 timed steps)"): a projection from a few steps can be off (the
    speed page compares the projections with the runs that finished)."""
    hours, timed = row["projected hours (1 core)"], row.get("timed steps")
    if hours is None or hours != hours:  # None, or NaN in a frame
        return row["run"]
    return f"{row['run']} ({hours:.1f} h" + (f", from {timed:.0f} timed steps)" if timed == timed and timed
                                               else ")")


def solves_copy(run: Mapping) -> bool:
    """Whether a recorded copy-task run solves the task (:data:`COPY_RULE`): test loss at most
    :data:`SOLVED_LOSS_FRACTION` × its recorded memoryless baseline and test recall of the copied
    symbols at least :data:`SOLVED_RECALL`."""
    baseline = run.get("baselines", {}).get("memoryless_cross_entropy")
    test = run["test"]
    if baseline is None or "loss" not in test or "recall_accuracy" not in test:
        raise ValueError("a copy-task verdict needs the run's test loss, test recall_accuracy and its "
                         "memoryless_cross_entropy baseline")
    return test["loss"] <= SOLVED_LOSS_FRACTION * baseline and test["recall_accuracy"] >= SOLVED_RECALL


def copy_verdicts(runs: Iterable[str] | None = ("hadamrnn", "block-hadamrnn"), experiment: str = "copy"
                  ) -> pd.DataFrame:
    """Whether each of ``runs`` solves the copy task at the paper's budget (:func:`solves_copy`), from
    every seed recorded at the ``paper`` profile: run, verdict ("solves the copy task", "does not
    solve the copy task", or, where only some seeds solve it, "does not solve the copy task (only k of
    n seeds do)" ("does" for 1), since the rule asks every seed to; :data:`FAILED_AT_PAPER` when no
    seed is recorded and one failed (:func:`failed_runs`), :data:`IN_PROGRESS_AT_PAPER` when its
    checkpoint is training,
    or :data:`NOT_RUN_AT_PAPER`), the test loss, the threshold
    (:data:`SOLVED_LOSS_FRACTION` × memoryless), the recall, the seeds, how many solve it ("solved
    seeds", "k of n"), each seed's test loss, recall and verdict ("per seed": where seeds disagree,
    their mean says little), the seeds the optimiser froze ("frozen seeds": :func:`frozen_seeds`, ""
    for none), and a note for a run recorded with a configuration other than the current ``paper``
    profile's, for its frozen seeds, for a later seed under way and for its failed seeds. ``runs=None``:
    every run of the experiment's ``paper`` profile."""
    from .experiments import get_config

    config = get_config(experiment, PAPER_PROFILE)
    runs = list(config.models) if runs is None else runs
    seeds = seed_records(experiment, PAPER_PROFILE)
    rows = []
    failed = _failed_by_run(experiment, PAPER_PROFILE)
    later = _later_seeds_in_progress(experiment)
    budget = None  # the paper-budget frame, read for the first run with no record
    for run in runs:
        found = {seed: record["runs"][run] for seed, record in seeds.items() if run in record["runs"]}
        failures = _failed_seeds_text(failed.get(run, []))
        if not found:
            label, note = (FAILED_AT_PAPER, failures) if failures else _unrecorded_status(config, run)
            if label == NOT_RUN_AT_PAPER and run in config.models:
                budget = paper_budget_frame(experiment).set_index("run") if budget is None else budget
                note = "; ".join(part for part in (note, unrun_cost_note(experiment, run, budget)) if part)
            rows.append({"run": run, "verdict": label,
                         "test loss": "—", "threshold": "—", "recall": "—", "seeds": "—", "solved seeds": "—",
                         "per seed": "—", "frozen seeds": "", "note": note})
            continue
        solved = {seed: solves_copy(data) for seed, data in found.items()}
        count = sum(solved.values())
        if count == len(solved):
            verdict = "solves the copy task"
        elif not count:
            verdict = "does not solve the copy task"
        else:  # the rule asks every seed to: say so before the count
            verdict = (f"does not solve the copy task (only {count} of {len(solved)} seeds "
                       f"{'does' if count == 1 else 'do'})")
        frozen = frozen_seeds(experiment, PAPER_PROFILE, run, found)
        stale = [seed for seed, data in found.items() if run in config.models
                 and data["config_hash"] != results.config_hash(config.run_config(run, seed))]
        first = next(iter(found.values()))
        per_seed = "; ".join(
            f"seed {seed}: loss {_fmt(data['test']['loss'], 'loss')}, recall "
            f"{_fmt(data['test']['recall_accuracy'], 'recall_accuracy')}, "
            f"{'solved' if solved[seed] else 'not solved'}" for seed, data in found.items())
        rows.append({"run": run, "verdict": verdict, "per seed": per_seed,
                     "test loss": mean_std_cell([d["test"]["loss"] for d in found.values()], "loss"),
                     "threshold": _fmt(SOLVED_LOSS_FRACTION * first["baselines"]["memoryless_cross_entropy"]),
                     "recall": mean_std_cell([d["test"]["recall_accuracy"] for d in found.values()],
                                             "recall_accuracy"),
                     "seeds": seeds_cell(found), "solved seeds": f"{count} of {len(solved)}",
                     "frozen seeds": ", ".join(map(str, frozen)),
                     "note": "; ".join(part for part in (
                         "" if not stale else "recorded with a configuration other than the current "
                                              f"`paper` profile's (seed{'s' if len(stale) > 1 else ''} "
                                              f"{', '.join(map(str, stale))})",
                         "; ".join(f"seed {seed} did not train: the optimiser froze {n:,} of its {total:,} "
                                   f"trained entries ({n / total:.1%}; a non-finite Adam second moment)"
                                   for seed, (n, total) in frozen.items()),
                         run in later and f"in progress at {later[run]}",
                         failures and f"{FAILED_AT_PAPER}, {failures}") if part)})
    return pd.DataFrame(rows, columns=["run", "verdict", "test loss", "threshold", "recall", "seeds",
                                       "solved seeds", "per seed", "frozen seeds", "note"])


#: a recorded seed whose checkpoint has at least this share of its trained entries frozen by the
#: optimiser (:func:`qornn.checkpoints.frozen_entries`) did not train: its numbers are those of a
#: network stuck near its first steps, not of the method
FROZEN_SHARE = 0.5


def frozen_seeds(experiment: str, profile: str, run: str, found: Mapping[int, Mapping]
                 ) -> dict[int, tuple[int, int]]:
    """``{seed: (frozen, total)}`` for each seed of ``run`` recorded in ``found`` (``{seed: run
    record}``) whose checkpoint, the one of the recorded configuration (its ``config_hash``), has at
    least :data:`FROZEN_SHARE` of its trained entries frozen by a non-finite Adam second moment
    (:func:`qornn.checkpoints.frozen_entries`); seeds without a checkpoint are left out."""
    from .checkpoints import checkpoint_file, frozen_entries

    frozen = {}
    for seed, data in found.items():
        path = checkpoint_file(experiment, profile, run, data.get("config_hash"))
        if path.exists():
            n, total = frozen_entries(path)
            if total and n / total >= FROZEN_SHARE:
                frozen[seed] = (n, total)
    return frozen


#: how :func:`copy_verdict_grid` words each verdict of :func:`copy_verdicts` that has no numbers
_GRID_STATUS = {NOT_RUN_AT_PAPER: "not run yet", IN_PROGRESS_AT_PAPER: "in progress",
                FAILED_AT_PAPER: "failed"}


def copy_verdict_grid(verdicts: pd.DataFrame, models: Mapping[str, Mapping]) -> pd.DataFrame:
    """:func:`copy_verdicts` of a bit-width study as one grid: a row per method (the float ORNN, then
    QAT and PTQ of each mechanism, named as :func:`plot_metric_vs_bits` names them), a column per
    weight bit width (``float`` for the float models), each cell the verdict in a word with the test
    recall: "solved (99.3%)", "not solved (10.0%)", "1 of 2 seeds (…)", or "in progress", "failed",
    "not run yet"; a verdict with frozen seeds (:func:`frozen_seeds`) says so ("not solved (1.3%;
    did not train)"). ``models``: the ``paper`` profile's models (``config.models``), which say each
    run's method, mechanism and bits; a run they do not name is left out."""
    cells: dict[str, dict[str, str]] = {}
    for row in verdicts.to_dict("records"):
        spec = models.get(row["run"])
        if spec is None:
            continue
        float_model = models.get(spec["ptq_of"], {}).get("model") if "ptq_of" in spec else None
        kind, mechanism, bits = _bit_study_role(spec, float_model)
        if kind in _BIT_KINDS:
            method, column = _method_label(kind, mechanism), f"{bits} bits"
        else:  # the float ORNN, or a float baseline
            method, column = f"float {'ORNN-' if kind == 'float' else ''}{mechanism}", "float"
        verdict = row["verdict"]
        if verdict in _GRID_STATUS:
            text = _GRID_STATUS[verdict]
        else:
            word = {"solves the copy task": "solved", "does not solve the copy task": "not solved"}
            frozen, solved = row.get("frozen seeds", ""), str(row.get("solved seeds"))
            stuck = "" if not frozen else "; did not train" if solved.endswith(" of 1") else (
                f"; seed{'s' if ',' in frozen else ''} {frozen} did not train")
            text = f"{word.get(verdict, solved + ' seeds')} ({row['recall']}{stuck})"
        cells.setdefault(method, {})[column] = text
    columns = ["float", *sorted({c for row in cells.values() for c in row if c != "float"},
                                key=lambda c: int(c.split()[0]))]
    frame = pd.DataFrame.from_dict(cells, orient="index").reindex(columns=columns).fillna("")
    frame.index.name = "method"
    return frame.reset_index()


def copy_constant_cross_entropy(length: int, symbols: int = 10, alphabet: int = 8) -> float:
    """−(p ln p + (1 − p) ln((1 − p)/A)) with p = (T − K)/T: the cross-entropy per step of the best
    predictor that ignores its input and its position (blank with probability p at every step, each
    of the A symbols with (1 − p)/A). A model that never reacts to the marker can do no better; the
    memoryless baseline K ln A / T is what one reaches that places the recall window but remembers
    nothing."""
    p = (length - symbols) / length
    return -(p * math.log(p) + (1 - p) * math.log((1 - p) / alphabet))


def _blank_share(model, task, batch_size: int = 250) -> float:
    """The share of the copied symbols (the last K targets of each test sequence) that ``model``
    predicts as blank."""
    import torch

    n, k = task.num_samples("test"), task.symbols
    blank = 0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            x, _ = task.batch("test", torch.arange(start, min(start + batch_size, n)))
            blank += int((model(x)[:, -k:].argmax(-1) == 0).sum())
    return blank / (n * k)


#: the experiment of the side-by-side check with the authors' code (:mod:`qornn.peer`)
PEER_CHECK_RECORD = ("hadamrnn-peer-check", "cpu")


def peer_recurrence(config: Mapping) -> str:
    """The recurrent matrix of a side-by-side peer-check run: "full Hadamard" or "blocks of m"."""
    return f"blocks of {config['block']}" if config.get("block") else "full Hadamard"


def peer_training_frame(record: Mapping | None = None) -> pd.DataFrame:
    """The side-by-side training runs of the peer check (:mod:`qornn.peer`; ``record`` defaults to
    :data:`PEER_CHECK_RECORD`'s), one row per run and code: n, the recurrent matrix
    (:func:`peer_recurrence`), learned or frozen signs, steps, the test accuracy at the end, the signs
    flipped per step averaged over the last quarter of the steps, the final mean |u| and the training
    time. Empty without a record."""
    if record is None:
        record = results.load_record(*PEER_CHECK_RECORD, missing_ok=True) or {"runs": {}}
    rows = []
    for run, data in record["runs"].items():
        if "curves" not in data:  # a trained copy model checked, not a side-by-side run
            continue
        cfg = data["config"]
        for code in ("authors", "qornn"):
            curve = data["curves"][code]
            quarter = max(1, len(curve["flips"]) // 4)
            rows.append({"run": run, "n": cfg["hidden_size"], "W": peer_recurrence(cfg),
                         "signs": "learned" if cfg["learn_signs"] else "frozen",
                         "code": "authors' code" if code == "authors" else "qornn", "steps": cfg["steps"],
                         "test accuracy": curve["test_accuracy"][-1],
                         "flips per step (last quarter)": sum(curve["flips"][-quarter:]) / quarter,
                         "final mean |u|": curve["mean_abs_u"][-1],
                         "training time": f"{curve['wall_time_s']:.0f} s"})
    if not rows:
        return pd.DataFrame(rows)
    # by n, then full Hadamard before blocks, learned before frozen signs, the authors' code first
    return pd.DataFrame(rows).sort_values(["n", "W", "signs", "code"], ascending=[True, False, False, True],
                                          ignore_index=True)


def peer_learned_signs_text(record: Mapping | None = None) -> str:
    """One bullet per side-by-side peer-check run with learned signs (:func:`peer_training_frame`):
    after its steps, the test accuracy, the signs flipped per step over the last quarter and the
    final mean |u|, in the authors' code and in qornn. "" without such a run."""
    frame = peer_training_frame(record)
    if frame.empty:
        return ""
    lines = []
    for _, pair in frame[frame["signs"] == "learned"].groupby(["n", "W"], sort=False):
        theirs, ours = (pair[pair["code"] == code].iloc[0] for code in ("authors' code", "qornn"))
        lines.append(
            f"- n = {ours['n']}, {ours['W']}, {ours['steps']} steps: test accuracy "
            f"{theirs['test accuracy']:.1%} (authors' code) and {ours['test accuracy']:.1%} (qornn); "
            f"{theirs['flips per step (last quarter)']:.2g} and {ours['flips per step (last quarter)']:.2g} "
            f"signs flipped per step over the last quarter of the steps; final mean |u| "
            f"{theirs['final mean |u|']:.2g} and {ours['final mean |u|']:.2g}.")
    return "\n".join(lines)


def copy_check_name(run: str, seed: int, profile: str = PAPER_PROFILE) -> str:
    """The peer-check run (:func:`qornn.peer.check_trained_copy_models`) that evaluates copy-task
    ``run`` of ``profile`` at ``seed`` in the authors' code: ``copy-paper-hadamrnn-seed1``."""
    return f"copy-{profile}-{run}-seed{seed}"


def _authors_copy_loss(checks: Mapping, run: str, seed: int, profile: str, config_hash: str
                       ) -> float | None:
    """The test loss the authors' code gives with the trained parameters of ``run`` (its run among
    the peer check's ``checks``), None where that check is not recorded for this very record (its
    configuration hash)."""
    check = checks.get(copy_check_name(run, seed, profile))
    if check is None or check["config"].get("source", {}).get("config_hash") != config_hash:
        return None
    return check["test"]["authors_loss"]


def copy_seed_diagnosis(runs: Iterable[str] = ("hadamrnn", "block-hadamrnn"), experiment: str = "copy",
                        profile: str = PAPER_PROFILE) -> pd.DataFrame:
    """Per run and seed recorded at ``profile``, what tells a solved copy task from a failed one:
    the verdict (:func:`solves_copy`), the test loss (and the authors' code's with the same trained
    parameters, where :mod:`qornn.peer` recorded it) beside the memoryless and the constant
    (:func:`copy_constant_cross_entropy`) predictors', the recall, the share of the copied symbols
    the trained model predicts as blank (its shipped weights on the seed's test set,
    :func:`qornn.weights.trained_model`), and, from the record's last epoch, the mean |u| of the
    latent sign vector and the signs of W flipped per optimiser step. No row for a run or seed not
    recorded; the blank share is None where the weights are not here."""
    from .experiments import get_config
    from .tasks import build_task
    from .weights import trained_model

    config = get_config(experiment, profile)
    checks = (results.load_record(*PEER_CHECK_RECORD, missing_ok=True) or {"runs": {}})["runs"]
    rows = []
    for seed, record in seed_records(experiment, profile).items():
        task = None
        for run in runs:
            data = record["runs"].get(run)
            if data is None:
                continue
            options = data["config"].get("task_options", config.task_options)
            if task is None:
                task = build_task(data["config"].get("task", config.task), **options, seed=seed)
            try:
                blank = _blank_share(trained_model(experiment, run, profile, seed=seed, task=task), task)
            except ValueError:
                blank = None
            first = (data["history"] or [{}])[0].get("diagnostics", {})
            last = (data["history"] or [{}])[-1].get("diagnostics", {})
            rows.append({"run": run, "seed": seed, "solved": solves_copy(data),
                         "test loss": data["test"]["loss"],
                         "test loss, authors' code": _authors_copy_loss(checks, run, seed, profile,
                                                                        data["config_hash"]),
                         "memoryless": data["baselines"]["memoryless_cross_entropy"],
                         "constant": copy_constant_cross_entropy(options["length"], options["symbols"]),
                         "recall accuracy": data["test"]["recall_accuracy"],
                         "copied symbols predicted blank": blank,
                         "mean |u|, first epoch": first.get("mean_abs_u"),
                         "mean |u|, last epoch": last.get("mean_abs_u"),
                         "sign flips / step, last epoch": last.get("sign_flips_per_step")})
    return pd.DataFrame(rows)


#: a seed's latent signs have collapsed when their mean |u| ends this many times below its value after
#: the first epoch (W then flips its signs at the slightest gradient)
SIGN_COLLAPSE_FACTOR = 10.0


def copy_diagnosis_text(frame: pd.DataFrame) -> str:
    """What :func:`copy_seed_diagnosis` shows, in sentences made from its numbers: the failed seeds
    that are marker-blind (predict blank for at least :data:`SOLVED_RECALL` of the copied symbols),
    and, for every seed with sign diagnostics, whether its latent signs collapsed (mean |u| ended
    :data:`SIGN_COLLAPSE_FACTOR` times or more below its first epoch's) or not. "" for an empty frame."""
    if frame.empty:
        return ""
    lines = []
    blind = frame[~frame["solved"] & (frame["copied symbols predicted blank"].fillna(0) >= SOLVED_RECALL)]
    if not blind.empty:
        which = ", ".join(f"{r['run']} seed {r['seed']}" for _, r in blind.iterrows())
        lines.append(f"- **Marker-blind:** {which} predict blank for at least {SOLVED_RECALL:.0%} of the "
                     f"copied symbols: they never react to the marker, so their test loss "
                     f"({', '.join(_fmt(v) for v in blind['test loss'])}) sits near the constant predictor's "
                     f"({_fmt(blind['constant'].iloc[0])}), above the memoryless baseline "
                     f"({_fmt(blind['memoryless'].iloc[0])}).")
    known = frame.dropna(subset=["mean |u|, first epoch", "mean |u|, last epoch"])
    for collapsed, label in ((True, "Latent signs collapsed"), (False, "Latent signs kept")):
        ratio = known["mean |u|, first epoch"] / known["mean |u|, last epoch"]
        part = known[(ratio >= SIGN_COLLAPSE_FACTOR) == collapsed]
        if part.empty:
            continue
        cells = "; ".join(
            f"{r['run']} seed {r['seed']} ({'solved' if r['solved'] else 'not solved'}): mean |u| "
            f"{_fmt(r['mean |u|, first epoch'])} → {_fmt(r['mean |u|, last epoch'])}, "
            f"{_fmt(r['sign flips / step, last epoch'])} signs of W flipped per step in the last epoch"
            for _, r in part.iterrows())
        bound = "at least" if collapsed else "less than"
        lines.append(f"- **{label}** (mean |u| after the last epoch {bound} {SIGN_COLLAPSE_FACTOR:g}× below "
                     f"its first epoch's): {cells}.")
    authors = "test loss, authors' code"
    theirs = frame.dropna(subset=[authors]) if authors in frame else frame[:0]
    if not theirs.empty:
        worst = max(abs(a - b) / b for a, b in zip(theirs["test loss"], theirs[authors], strict=True))
        which = ", ".join(f"{r['run']} seed {r['seed']}" for _, r in theirs.iterrows())
        lines.append(f"- **The authors' code agrees:** loaded with the same trained parameters, their "
                     f"network gives the test losses of ours ({which}) to a relative {_fmt(worst)} at "
                     f"most (`scripts/peer_check.py`, record `hadamrnn-peer-check`): a seed fails or "
                     f"solves the task in their code as in ours.")
    return "\n".join(lines)


def plot_seed_sign_dynamics(experiment: str, runs: Iterable[str], profile: str = PAPER_PROFILE,
                            metric: str = "loss", references: Any = "auto",
                            failed: Any = None, axes=None,
                            color_order: Sequence[str] | None = None) -> list[str]:
    """Each seed recorded at ``profile`` of each of ``runs``, per epoch: the validation ``metric``
    (log scale for a loss) with reference lines (``references``: "auto", the task's,
    :func:`reference_lines`; or label -> value), the mean |u| of the latent sign vector and the signs
    of W flipped per optimiser step (the history's ``diagnostics``). A colour per run (by its place in
    ``color_order``, default the runs sorted, as in :func:`plot_metric_curves`: :func:`_run_colors`),
    a marker per seed; a run for which
    ``failed(run_data)`` holds is drawn dashed. Returns the curves' labels."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 3.9))
    runs = list(runs)
    colors = _run_colors(runs, color_order)
    drawn, lines = [], {}
    for seed, record in seed_records(experiment, profile).items():
        for run in runs:
            data = record["runs"].get(run)
            if data is None:
                continue
            lines = lines or _references({"runs": {run: data}}, metric, references)
            history = data["history"]
            epochs = [h["epoch"] for h in history]
            label = f"{run}, seed {seed}"
            # a marker per seed: on every epoch while they stay few enough to see, else on every tenth
            every = 1 if len(epochs) <= MAX_EPOCH_TICKS else max(1, len(epochs) // 10)
            style = {"color": colors[run], "marker": "os^v"[seed % 4], "markevery": every, "markersize": 4,
                     "linestyle": "--" if failed is not None and failed(data) else "-", "label": label}
            axes[0].plot(epochs, [h["val"].get(metric, math.nan) for h in history], **style)
            diagnostics = [h.get("diagnostics", {}) for h in history]
            axes[1].plot(epochs, [d.get("mean_abs_u", math.nan) for d in diagnostics], **style)
            axes[2].plot(epochs, [d.get("sign_flips_per_step", math.nan) for d in diagnostics], **style)
            drawn.append(label)
    # a line style each too: chance (0.100) and the majority class (0.113) are a hair apart
    for (name, value), colour, dashes in zip(lines.items(), ("grey", "black", "brown", "olive"),
                                             (":", "--", "-.", (0, (1, 3))), strict=False):
        axes[0].axhline(value, color=colour, linestyle=dashes, linewidth=1.2, label=name)
    for ax, title in zip(axes, (f"validation {metric}", "mean |u| (latent signs)",
                                "signs of W flipped per step"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    if metric == "loss":
        axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    legend_below(axes[0], ncol=2, top=-0.2)  # inside, it covered the curves of a run that drops
    return drawn


def plot_copy_seed_dynamics(runs: Iterable[str] = ("hadamrnn", "block-hadamrnn"), experiment: str = "copy",
                            profile: str = PAPER_PROFILE, axes=None,
                            color_order: Sequence[str] | None = None) -> list[str]:
    """:func:`plot_seed_sign_dynamics` of the copy task: the validation loss with the memoryless and
    the constant predictors' losses (:func:`copy_constant_cross_entropy`), a failed seed
    (:func:`solves_copy`) dashed. ``color_order``: see :func:`plot_seed_sign_dynamics`."""
    seeds = seed_records(experiment, profile)
    found = [data for record in seeds.values() for run in runs if (data := record["runs"].get(run))]
    references = {}
    if found:
        options = found[0]["config"]["task_options"]
        constant = copy_constant_cross_entropy(options["length"], options["symbols"])
        references = {**reference_lines({"runs": {"run": found[0]}}, "loss"), "constant predictor": constant}
    return plot_seed_sign_dynamics(experiment, runs, profile, "loss", references,
                                   failed=lambda data: not solves_copy(data), axes=axes,
                                   color_order=color_order)


def _span(values: list[float], fmt: Any = None) -> str:
    """"a to b" for the smallest and largest of ``values`` (one number where they print the same),
    each printed by ``fmt`` (default :func:`_fmt`)."""
    fmt = fmt or _fmt
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low} to {high}"


#: the signs of W have settled from the first epoch after which fewer than this many flip per
#: optimiser step, in that epoch and every later one
SETTLED_FLIPS = 1.0
_SETTLED = f"settled: fewer than {SETTLED_FLIPS:g} flip per step in every epoch to the end"


def sign_settling_epoch(history: list[Mapping]) -> int | None:
    """The first epoch from which W flips fewer than :data:`SETTLED_FLIPS` signs per optimiser step
    in every epoch to the end (the history's ``diagnostics``), None if the last epoch does not (or
    the history records no flips)."""
    epoch = None
    for point in reversed(history):
        flips = point.get("diagnostics", {}).get("sign_flips_per_step")
        if flips is None or flips >= SETTLED_FLIPS:
            break
        epoch = point["epoch"]
    return epoch


def sign_dynamics_text(experiment: str, runs: Iterable[str], profile: str = PAPER_PROFILE,
                       metric: str | None = None) -> str:
    """Per run recorded at ``profile`` with sign diagnostics, over its seeds: the mean |u| after the
    first and the last epoch, the signs of W flipped per optimiser step in the last epoch, and the
    epoch from which the signs settle (:func:`sign_settling_epoch`), as ranges (one bullet per run);
    with ``metric``, also the validation ``metric`` in the epoch before the signs settle and in the
    last, for the seeds whose signs settle after the first epoch. "" when no run has diagnostics."""
    lines = []
    seeds = seed_records(experiment, profile)
    for run in runs:
        ends = {}
        for seed, record in seeds.items():
            history = record["runs"].get(run, {}).get("history") or [{}]
            first, last = history[0].get("diagnostics", {}), history[-1].get("diagnostics", {})
            if "mean_abs_u" in first and "mean_abs_u" in last:
                ends[seed] = (first, last)
        if not ends:
            continue
        settled = {seed: sign_settling_epoch(seeds[seed]["runs"][run]["history"]) for seed in ends}
        when = [epoch for epoch in settled.values() if epoch is not None]
        settling = ("the signs never settle (" + _SETTLED + ")" if not when else
                    f"the signs settle ({_SETTLED}) from epoch {_span(when)}"
                    + (f", at {len(when)} of {len(settled)} seeds" if len(when) < len(settled) else ""))
        late = {seed: epoch for seed, epoch in settled.items() if epoch is not None and epoch > 1}
        if metric is not None and late:
            histories = {seed: seeds[seed]["runs"][run]["history"] for seed in late}
            before = [next((h["val"].get(metric, math.nan) for h in histories[seed]
                            if h["epoch"] == epoch - 1), math.nan) for seed, epoch in late.items()]
            last = [history[-1]["val"].get(metric, math.nan) for history in histories.values()]
            fmt = (lambda v: f"{v:.1%}") if metric.endswith("accuracy") else None
            settling += (f"; validation {metric} {_span(before, fmt)} in the epoch before they settle, "
                         f"{_span(last, fmt)} in the last")
        lines.append(
            f"- **{run}** ({seeds_cell(list(ends))}): mean |u| "
            f"{_span([first['mean_abs_u'] for first, _ in ends.values()])} after the first epoch, "
            f"{_span([last['mean_abs_u'] for _, last in ends.values()])} after the last; "
            f"{_span([last.get('sign_flips_per_step', math.nan) for _, last in ends.values()])} signs of W "
            f"flipped per optimiser step in the last epoch; {settling}.")
    return "\n".join(lines)


#: the runs that learn their signs, whose paper-budget dynamics the MNIST pages show
SIGN_LEARNING_RUNS = ("hadamrnn", "block-hadamrnn")


def show_sign_dynamics(experiment: str, runs: Iterable[str] = SIGN_LEARNING_RUNS,
                       profile: str = PAPER_PROFILE, metric: str = "accuracy",
                       color_order: Sequence[str] | None = None) -> str:
    """For a page: draw :func:`plot_seed_sign_dynamics` (and show it) when some run of ``runs`` has
    sign diagnostics at ``profile``, and return :func:`sign_dynamics_text`, or a sentence saying
    that no such run is recorded yet. ``color_order``: see :func:`plot_seed_sign_dynamics`."""
    import matplotlib.pyplot as plt

    runs = tuple(runs)
    text = sign_dynamics_text(experiment, runs, profile, metric=metric)
    if not text:
        return f"No run with sign diagnostics is recorded at the `{profile}` budget yet."
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9))
    plot_seed_sign_dynamics(experiment, runs, profile, metric=metric, axes=axes, color_order=color_order)
    fig.tight_layout()
    plt.show()
    return text


#: the copy-task runs whose verdict the pages give: the paper's two models, then the float baselines
#: for reference (does a float network solve it at the same budget?)
COPY_VERDICT_RUNS = ("hadamrnn", "block-hadamrnn", "ornn", "lstm", "fastgrnn")
_COPY_RUN_NAMES = {"hadamrnn": "HadamRNN", "block-hadamrnn": "Block-HadamRNN", "ornn": "The float ORNN",
                   "lstm": "The LSTM", "fastgrnn": "FastGRNN",
                   "block-hadamrnn-n512-m16-p2": "Block-HadamRNN at the authors' released configuration "
                                                 "(hidden 512, blocks of 16, 2-bit U and V)"}


def copy_verdict_text(verdicts: pd.DataFrame) -> str:
    """One plain sentence per run of :func:`copy_verdicts`, for the pages."""
    names = _COPY_RUN_NAMES
    lines = []
    for row in verdicts.to_dict("records"):
        name = names.get(row["run"], row["run"])
        if row["verdict"] in (NOT_RUN_AT_PAPER, IN_PROGRESS_AT_PAPER, FAILED_AT_PAPER):
            lines.append(f"- **{name}**: {_with_note(row['verdict'], row['note'])}.")
        else:
            lines.append(f"- **{name} {row['verdict']}** at the paper's budget: test loss {row['test loss']} "
                         f"against the threshold {row['threshold']}, recall {row['recall']} against the "
                         f"{SOLVED_RECALL:.0%} required ({row['seeds']})"
                         + (f"; {row['note']}." if row["note"] else ".")
                         + (f" Per seed: {row['per seed']}." if row["seeds"] != seeds_cell([0]) else ""))
    return "\n".join(lines)


def annotate_apart(ax, points: Sequence[tuple[str, float, float]], fontsize: float = 6,
                   color: str = "0.4", max_shift: int = 8, avoid: Sequence = ()) -> list:
    """Name each point (label, x, y) of ``ax`` with its label, just above and to the right of it,
    where that label would not cover one already placed: from the highest point down, a label that
    would is moved down (or else up) by whole lines, at most ``max_shift``, and tied to its point by a
    thin line; ``avoid``: display boxes no label may cover either (the axes' legends). The labels'
    extents are measured on the figure as laid out now: call it after the data, the axes' scales
    and (where it matters) the figure's layout are set. Returns the annotations."""
    ax.autoscale_view()
    renderer = ax.figure.canvas.get_renderer()
    scale = ax.figure.dpi / 72  # display pixels per point
    placed = list(avoid)
    annotations = []
    for label, x, y in sorted(points, key=lambda point: (-point[2], point[1])):
        probe = ax.annotate(label, (x, y), fontsize=fontsize, xytext=(3, 2), textcoords="offset points")
        box = probe.get_window_extent(renderer).expanded(1.0, 1.1)
        probe.remove()
        for shift in [0] + [sign * k for k in range(1, max_shift + 1) for sign in (-1, 1)]:
            moved = box.translated(0, shift * box.height)
            if not any(moved.overlaps(other) for other in placed):
                break
        else:
            shift, moved = 0, box
        placed.append(moved)
        line = {"arrowprops": {"arrowstyle": "-", "color": color, "linewidth": 0.4, "shrinkA": 0,
                               "shrinkB": 2}} if shift else {}
        annotations.append(ax.annotate(label, (x, y), fontsize=fontsize, color=color,
                                       xytext=(3, 2 + shift * box.height / scale),
                                       textcoords="offset points", **line))
    return annotations


def plot_size_accuracy(record: Mapping, ax=None, context: Mapping | None = None,
                       color_order: Sequence[str] | None = None):
    """The (size, accuracy) plane of a record (HadamRNN's Figure 1): each run's test accuracy against
    its size in bits (log scale). HadamRNN with learned signs (the paper's model) is a star, with
    frozen random signs a circle; Block-HadamRNN a square; the transformer a triangle. Runs with a
    nonlinear recurrence are left out (an ablation). ``context``: another record whose runs are drawn
    in grey (e.g. QORNN's pMNIST models): a k-bit run of a quantized method (:func:`_bit_method`:
    STE-Björck, PTQ of float Björck, ...) named by its k, with a marker per method in a legend of its
    own, any other run named in full; the labels
    kept apart (:func:`annotate_apart`). The chance level is dashed.
    ``color_order``: run names whose positions give each run its colour, so that panels of several
    records colour a run alike (default: the record's runs, sorted)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5.5))
    color_of = _run_colors(record["runs"], color_order)
    for run, data in sorted(record["runs"].items()):
        model = data["config"]["model"]
        if model.get("nonlinearity", "linear") != "linear":
            continue
        learned = model.get("learn_signs", True)
        marker = {"block-hadamrnn": "s", "transformer": "^"}.get(model["model"], "*" if learned else "o")
        ax.scatter(data["size_bits"], data["test"]["accuracy"], marker=marker, s=90 if marker == "*" else 50,
                   zorder=3, label=run_label(record, run), color=color_of[run])
    # the context: a k-bit run of a method (STE-Björck, ...: its recorded model) is named by its k, with
    # a marker per method in a legend of its own; any other run by its name
    named, families = [], {}
    for run, data in sorted((context or {"runs": {}})["runs"].items()):
        family, bits = _bit_method(data)
        if family is not None and family not in families:
            families[family] = _CONTEXT_MARKERS[len(families) % len(_CONTEXT_MARKERS)]
        if family is None:
            ax.scatter(data["size_bits"], data["test"]["accuracy"], color="0.5", marker="o", s=12, zorder=2)
        else:  # hollow, so that two families at one point both show
            ax.scatter(data["size_bits"], data["test"]["accuracy"], facecolors="none", edgecolors="0.45",
                       marker=families[family], s=24, linewidths=0.9, zorder=2)
        named.append((run if family is None else str(bits), data["size_bits"], data["test"]["accuracy"]))
    ax.axhline(0.1, color="black", linestyle="--", linewidth=1, label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("model size (bits)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, alpha=0.3)
    # with a context, a fixed place: "best" would not see the labels, placed after it
    legends = [ax.legend(fontsize="small", loc="upper right" if named else "best")]
    if families:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color="0.45", marker=marker, markerfacecolor="none", linestyle="",
                          label=family) for family, marker in families.items()]
        legends.append(ax.legend(handles=handles, fontsize="x-small", loc="lower right",
                                 title=f"{context.get('experiment', 'context')} (grey), at k bits",
                                 title_fontsize="x-small"))
        ax.add_artist(legends[0])
    renderer = ax.figure.canvas.get_renderer()
    annotate_apart(ax, named, fontsize=6, color="0.35",
                   avoid=[legend.get_window_extent(renderer) for legend in legends])
    return ax


#: the markers of the context's methods of k-bit runs (:func:`plot_size_accuracy`); its other runs
#: are dots
_CONTEXT_MARKERS = ("s", "D", "v", "^", "P", "X", "<", ">", "p")


def plot_seed_spread(by_profile: Mapping[str, Mapping[int, Mapping]], metric: str, ax=None,
                     runs: Iterable[str] | None = None, logy: bool | str = "auto",
                     references: Mapping[str, float] | str | None = "auto"):
    """The test ``metric`` of each run at every recorded seed, one point per seed, with the mean and
    (over two seeds or more) ± one standard deviation as an error bar, side by side per budget
    (``by_profile``: :func:`budget_seed_records`, the paper's budget first), with dashed reference
    lines as in :func:`plot_metric_curves` ("auto": the task's, e.g. chance or memoryless, read from
    each budget's record: drawn once in black where the budgets agree, else each in its budget's
    colour, since a reduced budget can change the task and its memoryless loss with it).
    ``runs``: which (default every run with ``metric``). On a log axis
    (``logy``; "auto": when the values span more than a factor 10, never for an accuracy) the tick is
    the geometric mean and the bar spans the lowest to the highest seed: a mean − sd below zero has no
    place on a log axis, and the geometric ×/÷ sd of two or three seeds far apart (one solved, two
    failed) reached far beyond every seed. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    names = list(runs) if runs is not None else sorted({
        run for seeds in by_profile.values() for record in seeds.values()
        for run, data in record["runs"].items() if metric in data["test"]})
    points = {(k, i): values for k, seeds in enumerate(by_profile.values()) for i, run in enumerate(names)
              if (values := seed_values(_lead_record(seeds), run, metric, seeds))}
    # each budget's own references: a reduced budget can change the task (the copy task's T), and with
    # it the memoryless loss; lines that agree across budgets are drawn once, in black and greys
    levels_by_budget = {profile: _references(_lead_record(seeds), metric, references)
                        for profile, seeds in by_profile.items() if seeds}
    shared = len({tuple(sorted(levels.items())) for levels in levels_by_budget.values()}) <= 1
    levels = next(iter(levels_by_budget.values()), {})
    positive = [v for values in points.values() for v in values.values() if v > 0] + [
        v for budget_levels in levels_by_budget.values() for v in budget_levels.values() if v > 0]
    if logy == "auto":
        # an accuracy lies in [0, 1], where a log axis squeezes the top that tells runs apart
        logy = not _is_accuracy(metric) and bool(positive) and max(positive) / min(positive) > 10
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    width = 0.7 / max(len(by_profile), 1)
    for k, profile in enumerate(by_profile):
        color, label = colors[k % len(colors)], budget_label(profile)
        labelled = False
        for i in range(len(names)):
            values = points.get((k, i))
            if not values:
                continue
            x = i - 0.35 + width * (k + 0.5)
            spread = [x + width * 0.3 * (j / max(len(values) - 1, 1) - 0.5) for j in range(len(values))]
            ax.plot(spread, list(values.values()), "o", color=color, alpha=0.6, markersize=5,
                    label=None if labelled else f"{label}: each seed")
            labelled = True
            if logy and all(v > 0 for v in values.values()):
                log_mean, log_std, _ = mean_std(math.log(v) for v in values.values())
                centre = math.exp(log_mean)
                yerr = None if log_std is None else [[centre - min(values.values())],
                                                     [max(values.values()) - centre]]
            elif logy:  # a value ≤ 0 has no logarithm: the dots alone
                continue
            else:
                centre, std, _ = mean_std(values.values())
                yerr = None if std is None else [[std], [std]]
            ax.errorbar([x], [centre], yerr=yerr, fmt="_", color=color, markersize=16, capsize=4,
                        elinewidth=1.5)
    def tick(run: str) -> str:  # a run frozen at one budget only (the cpu profile's) says at which
        frozen = {profile: run_label(_lead_record(seeds), run) != run for profile, seeds in by_profile.items()
                  if seeds and run in _lead_record(seeds)["runs"]}
        if not any(frozen.values()):
            return run
        if all(frozen.values()):
            return f"{run} [frozen signs]"
        return f"{run} [frozen signs at {', '.join(p for p, f in frozen.items() if f)}]"

    ax.set_xticks(range(len(names)), [tick(run) for run in names], rotation=20, ha="right")
    if shared:
        for i, (name, level) in enumerate(levels.items()):
            ax.axhline(level, color=("black", "0.45", "0.7")[i % 3], linestyle="--", linewidth=1,
                       label=f"{name} ({level:.3g})")
    else:
        for profile, budget_levels in levels_by_budget.items():
            k = list(by_profile).index(profile)  # the colour of that budget's dots
            for i, (name, level) in enumerate(budget_levels.items()):
                ax.axhline(level, color=colors[k % len(colors)], linestyle=("--", ":", "-.")[i % 3],
                           linewidth=1, label=f"{name}, {budget_label(profile)} ({level:.3g})")
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(f"test {metric.replace('_', ' ')}")
    ax.set_title("each seed (dots), geometric mean (tick) and lowest to highest seed (bars)"
                 if logy else "each seed (dots), mean ± standard deviation over seeds (bars)")
    ax.grid(True, alpha=0.3)
    if points or any(levels_by_budget.values()):
        ax.legend(fontsize="small")
    return ax
