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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import results

__all__ = [
    "NOT_AVAILABLE",
    "PaperNumbersError",
    "paper_dir",
    "load_paper_numbers",
    "history_frame",
    "plot_loss_curves",
    "plot_metric_curves",
    "freshness_notes",
    "record_status",
    "run_summary",
    "bit_width_frame",
    "plot_metric_vs_bits",
    "comparison_table",
    "size_table",
    "provenance_table",
    "record_label",
    "signs_of",
    "run_label",
    "seed_frame",
    "method_summary",
    "plot_seed_curves",
    "styled",
    "paper_sources_table",
]

NOT_AVAILABLE = "not available"
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
    return {"paper": title or paper, "arxiv": doc.get("arxiv"),
            "version": doc.get("version"), "path": str(path), "entries": entries}


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


def run_label(record: Mapping, run: str) -> str:
    """``run`` as figures show it: with "[frozen signs]" after a HadamRNN run whose signs were kept
    fixed, so that no frozen-sign run is shown under the paper's model name alone."""
    spec = record["runs"][run]["config"].get("model", {}) if run in record["runs"] else {}
    frozen = signs_of(spec) == FROZEN_SIGNS and not any(w in run for w in ("fixed", "frozen"))
    return f"{run} [frozen signs]" if frozen else run


def history_frame(record: Mapping) -> pd.DataFrame:
    """One row per (run, epoch): epoch, run, lr, train_loss, val_<metric>..., wall_time_s."""
    rows = []
    for run, data in record["runs"].items():
        for point in data["history"]:
            row = {"epoch": point["epoch"], "run": run, "lr": point.get("lr"),
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


def _baseline(record: Mapping) -> float | None:
    for data in record["runs"].values():
        value = data.get("baselines", {}).get("memoryless_cross_entropy")
        if value is not None:
            return float(value)
    return None


def plot_loss_curves(record: Mapping, ax=None, baseline: float | str | None = "auto",
                     logy: bool | str = "auto", ylabel: str = "cross-entropy"):
    """Training (solid) and validation (dotted) loss per epoch for every run of ``record``.

    ``baseline``: "auto" draws the record's memoryless cross-entropy (if it has one) as a dashed
    line; a number draws that; None draws none. ``logy``: "auto" uses a log axis when the losses
    span more than a factor 10. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = history_frame(record)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    values = []
    for i, (run, part) in enumerate(frame.groupby("run", sort=True)):
        color = colors[i % len(colors)]
        ax.plot(part["epoch"], part["train_loss"], "-o", color=color,
                label=f"{run_label(record, run)} (train)")
        values.extend(part["train_loss"].dropna())
        if "val_loss" in part:
            ax.plot(part["epoch"], part["val_loss"], ":s", color=color,
                    label=f"{run_label(record, run)} (validation)")
            values.extend(part["val_loss"].dropna())
    level = _baseline(record) if baseline == "auto" else baseline
    if level is not None:
        ax.axhline(float(level), color="black", linestyle="--", linewidth=1,
                   label=f"memoryless baseline ({float(level):.3g})")
        values.append(float(level))
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
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{record['experiment']}, profile {record['profile']}")
    if not frame.empty:
        ax.set_xticks(sorted(frame["epoch"].unique()))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_metric_curves(record: Mapping, metric: str = "accuracy", ax=None,
                       references: Mapping[str, float] | None = None):
    """Validation ``metric`` at the end of each epoch for every run, with dashed reference lines
    (e.g. ``{"chance": 0.1}``) and each run's test value as a marker after the last epoch."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = history_frame(record)
    column = f"val_{metric}"
    if column not in frame:
        raise ValueError(f"record {record['experiment']}/{record['profile']} has no validation "
                         f"{metric!r}; it has: {', '.join(c[4:] for c in frame if c.startswith('val_'))}")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (run, part) in enumerate(frame.groupby("run", sort=True)):
        color = colors[i % len(colors)]
        label = run_label(record, run)
        ax.plot(part["epoch"], part[column], "-o", color=color, label=f"{label} (validation)")
        test = record["runs"][run].get("test", {}).get(metric)
        if test is not None:
            ax.plot([part["epoch"].max() + 0.4], [test], "*", color=color, markersize=11,
                    label=f"{label} (test, {test:.4g})")
    for name, level in (references or {}).items():
        ax.axhline(float(level), color="black", linestyle="--", linewidth=1, label=f"{name} ({level:.3g})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{record['experiment']}, profile {record['profile']}")
    if not frame.empty:
        ax.set_xticks(sorted(frame["epoch"].unique()))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def freshness_notes(record: Mapping, config) -> str:
    """Markdown that flags every run of ``record`` whose numbers may not match the code or the
    profile as they are now: a configuration that differs from ``config`` (an
    :class:`~qornn.experiments.ExperimentConfig`), or code that changed since the run (see
    :func:`qornn.results.code_changed_since`), and every run of ``config`` the record lacks. An empty
    string when every run is current and recorded."""
    reasons: dict[str, list[str]] = {}  # one line per reason, naming every run it applies to
    for run, data in sorted(record["runs"].items()):
        seed = data["config"]["seed"]
        if run not in config.models:
            reasons.setdefault(f"no longer part of profile `{config.profile}`.", []).append(run)
        elif data["config_hash"] != results.config_hash(config.run_config(run, seed)):
            reasons.setdefault(f"recorded with a configuration that differs from the current definition "
                               f"of profile `{config.profile}`; rerun with `retrain = True` to refresh "
                               "it.", []).append(run)
        why = results.code_changed_since(data)
        if why:
            reasons.setdefault(f"{why}; the numbers could differ if trained again today.", []).append(run)
    missing = [run for run in config.models if run not in record["runs"]]
    if missing:  # a run the profile defines and nobody has trained yet: the page must not hide it
        reasons[f"part of profile `{config.profile}` but not recorded yet (no row below); "
                f"`python -m qornn.cli run {config.experiment} --profile {config.profile} "
                f"--runs {','.join(missing)}` trains {'it' if len(missing) == 1 else 'them'} and "
                f"adds {'it' if len(missing) == 1 else 'them'} to the record."] = missing
    return "\n".join(f"- {', '.join(f'**{run}**' for run in runs)}: {reason}"
                     for reason, runs in reasons.items())


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


def record_status(record: Mapping, config, trained: bool) -> str:
    """Markdown for a page: where its numbers come from (trained now, or the committed record),
    every run to check before trusting it (:func:`freshness_notes`), and every run whose validation
    loss got worse at the end of training (:func:`late_regressions`)."""
    how = ("trained by this run of the notebook" if trained
           else "rendered from the committed record (no training)")
    flags = freshness_notes(record, config)
    check = ("**Check before trusting these numbers:**\n\n" + flags if flags else
             "Every run matches the current profile and was made from committed code that `qornn/` "
             "has not changed since.")
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
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    params = ", ".join(f"`{k} = {v!r}`" for k, v in parameters.items())
    models = "; ".join(f"`{run}`: " + ", ".join(f"{k} = {fmt(v)}" for k, v in spec.items())
                       for run, spec in config.models.items())
    options = ", ".join(f"{k} = {fmt(v)}" for k, v in config.task_options.items()) or "the full data set"
    training = ", ".join(f"{k} = {fmt(v)}" for k, v in config.train.items())
    stand_in = stand_in_task(config.task)
    task = f"`{config.task}`" + (" (**a stand-in data set**, not the paper's)" if stand_in else "")
    return (f"Parameters of this run: {params}.\n\n**Profile `{config.profile}`**: {config.note}.\n\n"
            f"Task: {task}. Models: {models}. Task options: {options}. Training: {training}.\n\n"
            f"Paper setting: {config.source}.")


_MECHANISMS = {"bjorck": "Björck", "projunn": "projUNN", "polar": "polar", "cayley": "Cayley",
               "expm": "exp", "": "exp"}


_BASELINE_NAMES = {"lstm": "LSTM", "gru": "GRU", "fastrnn": "FastRNN", "fastgrnn": "FastGRNN",
                   "rnn": "vanilla RNN"}
#: kind -> (line style, label template) in :func:`plot_metric_vs_bits`
_BIT_KINDS = {"QAT": ("-o", "STE-{}"), "QAT, learned α": ("-s", "STE-{}, learned α (LSQ)"),
              "PTQ": ("--x", "PTQ of float {}")}


def bit_width_frame(record: Mapping) -> pd.DataFrame:
    """One row per run of a bit-width study: mechanism (Björck, projUNN, ...; the model's name for
    the baselines), kind (``float``, ``QAT``, ``QAT, learned α``, ``PTQ``, ``baseline``), bits (None
    for float), size_bits and the test metrics. Read from each run's recorded config: QAT runs are
    ``qornn-ste-<mechanism>`` (``qornn-lsq-<mechanism>``: learned range) models, float runs
    ``ornn-<mechanism>``, PTQ runs quantize their ``source`` run, baselines are LSTM, FastRNN, ..."""
    rows = []
    for run in sorted(record["runs"]):
        data = record["runs"][run]
        model = data["config"]["model"]
        if "ptq_of" in model:
            name, kind, bits = data["config"]["source"]["model"]["model"], "PTQ", model["bits"]
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
            mechanism = _BASELINE_NAMES[name]
        else:
            mechanism = name.split("-")[-1] if "-" in name else ""
            mechanism = _MECHANISMS.get(mechanism, mechanism)
        rows.append({"run": run, "mechanism": mechanism, "kind": kind,
                     "bits": bits, "size_bits": data["size_bits"], **data["test"]})
    return pd.DataFrame(rows)


def plot_metric_vs_bits(record: Mapping, metric: str = "loss", ax=None, baseline: float | None = None,
                        logy: bool = False, baseline_label: str = "baseline"):
    """Test ``metric`` against the weight bit width: QAT (solid), learned-range QAT (solid, squares)
    and PTQ (dashed) per mechanism, the float model of the same mechanism as a dotted horizontal line,
    float baselines (LSTM, FastRNN, ...) as grey dash-dotted lines, an optional dashed black
    ``baseline``; the top axis gives the model size in bits at each bit width."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = bit_width_frame(record)
    if metric not in frame:
        known = [c for c in frame.columns if c not in ("run", "mechanism", "kind", "bits", "size_bits")]
        raise ValueError(f"no test metric {metric!r} in the record; it has: {', '.join(known)}")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ours = frame[frame["kind"] != "baseline"]
    for i, (mechanism, part) in enumerate(ours.groupby("mechanism", sort=True)):
        color = colors[i % len(colors)]
        for kind, (style, label) in _BIT_KINDS.items():
            points = part[part["kind"] == kind].sort_values("bits")
            if len(points):
                ax.plot(points["bits"], points[metric], style, color=color, label=label.format(mechanism))
        for value in part.loc[part["kind"] == "float", metric]:
            ax.axhline(value, color=color, linestyle=":", label=f"float ORNN-{mechanism} ({value:.3g})")
    greys = ("0.35", "0.6", "0.8")
    for i, row in enumerate(frame[frame["kind"] == "baseline"].itertuples()):
        value = getattr(row, metric)
        ax.axhline(value, color=greys[i % len(greys)], linestyle="-.",
                   label=f"float {row.mechanism} ({value:.3g}, {row.size_bits / 1000:.0f}k bits)")
    if baseline is not None:
        ax.axhline(baseline, color="black", linestyle="--", linewidth=1,
                   label=f"{baseline_label} ({baseline:.3g})")
    if logy:  # PTQ at few bits can be orders of magnitude worse than the rest
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    quantized = (frame[frame["kind"] == "QAT"].dropna(subset=["bits"]).drop_duplicates("bits")
                 .sort_values("bits"))
    ax.set_xticks(list(quantized["bits"]))
    ax.set_xlabel("weight bits k (W and U)")
    ax.set_ylabel(f"test {metric.replace('_', ' ')}")
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(quantized["bits"]),
                   labels=[f"{size / 1000:.1f}k" for size in quantized["size_bits"]])
    top.set_xlabel("QAT model size (bits)")
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
    path = _repo_relative(results.record_path(record["experiment"], record["profile"]))
    runs = [run] if run is not None else sorted(record["runs"])
    parts = []
    for name in runs:
        prov = record["runs"][name]["provenance"]
        commit = (prov.get("commit") or "unknown commit")[:7]
        if prov.get("dirty"):
            commit += " (modified)"
        parts.append(f"{commit}, {str(prov.get('date', ''))[:10]}")
    return f"{path} @ {'; '.join(dict.fromkeys(parts))}"


def _entry_for(entries: list[dict], experiment: str, run: str, metric: str) -> dict | None:
    for entry in entries:
        if entry["experiment"] == experiment and entry["run"] == run and entry["metric"] == metric:
            return entry
    return None


def _fmt(value: Any) -> str:
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def stand_in_task(task: str | None) -> str | None:
    """``task`` when it is a labelled stand-in for a paper's data set (e.g. ``polarity-reviews`` for
    IMDB), else None: a stand-in's numbers are never set against the paper's (no gap)."""
    from .tasks import TASKS

    cls = TASKS.get(task) if task else None
    return task if cls is not None and getattr(cls, "stand_in_for", None) else None


def comparison_table(record: Mapping, paper_numbers: Mapping | None,
                     paper_experiment: str | None = None) -> pd.DataFrame:
    """The paper's numbers beside ours, one row per (run, metric) of the record's test metrics.

    Columns: run, signs (:func:`signs_of`: a HadamRNN with frozen signs is marked as not the paper's
    model), metric, paper value ("not available" where the paper gives none that could be read),
    ours, gap (ours − paper, where both exist), profile, record (path, commit, date).
    Paper entries for this experiment whose run or metric the record lacks are listed too, with
    ours = "not recorded". ``paper_experiment``: the experiment's name in the paper file when it
    differs from ours (e.g. ``qornn-copy`` is ``copy`` in ``qornn.yaml``).
    """
    entries = list((paper_numbers or {}).get("entries", []))
    experiment = paper_experiment or record["experiment"]  # its name in data/paper/<paper>.yaml
    rows = []
    seen = set()
    for run in sorted(record["runs"]):
        stand_in = stand_in_task(record["runs"][run]["config"].get("task"))
        for metric, ours in record["runs"][run]["test"].items():
            entry = _entry_for(entries, experiment, run, metric)
            seen.add((run, metric))
            paper = entry.get("value") if entry else None
            gap = ours - paper if isinstance(paper, (int, float)) and stand_in is None else None
            rows.append({"run": run, "signs": signs_of(record["runs"][run]["config"].get("model", {})),
                         "metric": metric, "paper value": _fmt(paper),
                         "ours": _fmt(ours) + (f" (stand-in data: {stand_in})" if stand_in else ""),
                         "gap": "—" if gap is None else f"{gap:+.4g}", "profile": record["profile"],
                         "record": record_label(record, run)})
    for entry in entries:
        if entry["experiment"] == experiment and (entry["run"], entry["metric"]) not in seen:
            rows.append({"run": entry["run"], "signs": "—", "metric": entry["metric"],
                         "paper value": _fmt(entry.get("value")), "ours": "not recorded", "gap": "—",
                         "profile": record["profile"], "record": "—"})
    columns = ["run", "signs", "metric", "paper value", "ours", "gap", "profile", "record"]
    return pd.DataFrame(rows, columns=columns)


def size_table(record: Mapping) -> pd.DataFrame:
    """Model sizes as the papers count them: bits and kilobytes of every matrix and bias."""
    rows = []
    for run in sorted(record["runs"]):
        data = record["runs"][run]
        model = data["config"].get("model", {})
        bits = int(data["size_bits"])
        rows.append({"run": run, "model": model.get("model", run), "signs": signs_of(model),
                     "hidden": model.get("hidden_size"),
                     "U, V bits": model.get("bits", 32), "size (bits)": bits,
                     "size (kB)": round(bits / 8 / 1000, 2)})
    return pd.DataFrame(rows)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def provenance_table(record: Mapping) -> pd.DataFrame:
    """How each run's numbers were made: commit, device, versions, seed, wall time, date."""
    rows = []
    for run in sorted(record["runs"]):
        prov = record["runs"][run]["provenance"]
        rows.append({"run": run, "profile": prov.get("profile"), "seed": prov.get("seed"),
                     "commit": (prov.get("commit") or "unknown")[:10]
                     + (" (modified)" if prov.get("dirty") else ""),
                     "device": f"{prov.get('device')}: {prov.get('device_name', '')}".strip(": "),
                     "torch": prov.get("torch"), "wall time": _duration(prov.get("wall_time_s")),
                     "date": str(prov.get("date", ""))[:16].replace("T", " ")})
    return pd.DataFrame(rows)


def paper_sources_table(paper_numbers: Mapping, experiment: str) -> pd.DataFrame:
    """Where each of the paper's numbers for ``experiment`` comes from (or would come from)."""
    rows = []
    for entry in paper_numbers.get("entries", []):
        if entry["experiment"] != experiment:
            continue
        src = entry["source"]
        where = next((str(src[k]) for k in _WHERE_KEYS if src.get(k)), "")
        rows.append({"run": entry["run"], "metric": entry["metric"], "paper value": _fmt(entry.get("value")),
                     "status": entry.get("status", ""), "arXiv": f"{src['arxiv']} ({src['version']})",
                     "where": where})
    return pd.DataFrame(rows, columns=["run", "metric", "paper value", "status", "arXiv", "where"])


def styled(frame: pd.DataFrame, precision: int = 4):
    """``frame`` as a pandas Styler for notebooks: no index, padded left-aligned cells, 4 digits."""
    style = frame.style.hide(axis="index").format(precision=precision, na_rep="—")
    for column, fmt in (("wall_time_s", "{:.1f}"), ("size (kB)", "{:.2f}"), ("lr", "{:.2g}")):
        if column in frame.columns:
            style = style.format(fmt, subset=[column], na_rep="—")
    return (style
            .set_table_styles([{"selector": "th, td",
                                "props": "padding: 0.25em 0.75em; text-align: left; vertical-align: top"},
                               {"selector": "thead th", "props": "border-bottom: 1px solid #999"}]))


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


def training_time_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """Training cost of every trained run of ``records``: wall time without the final test, epochs
    and seconds per epoch, with the model, its hidden size, the task, the device name and the
    commit whose code ran (PTQ runs, which train nothing, are left out)."""
    rows = []
    for record in records:
        for run, data in sorted(record["runs"].items()):
            if not data.get("history"):
                continue
            config, prov = data["config"], data["provenance"]
            wall, epochs = float(prov["wall_time_s"]), len(data["history"])
            rows.append({"experiment": record["experiment"], "task": config.get("task"), "run": run,
                         "model": config["model"]["model"], "hidden": config["model"].get("hidden_size"),
                         "batch": config.get("train", {}).get("batch_size"), "epochs": epochs,
                         "wall time": _duration(wall), "s / epoch": wall / epochs,
                         "device": prov.get("device_name", prov.get("device")),
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
        ax.grid(True, alpha=0.3)
        if drawn:
            ax.legend(fontsize="small")
    return drawn


def summary_table(tasks: Mapping[str, tuple[str, str]], paper_numbers: Mapping | None, profile: str, *,
                  seed: int = 0, device: str = "cpu") -> pd.DataFrame:
    """A chapter's summary: :func:`comparison_table` of each experiment, restricted to its main
    metric, with a first column ``task``. ``tasks``: task label -> (experiment, metric). Reads each
    committed record (an experiment without one is trained first, as its page would)."""
    from .experiments import get_config, recorded_or_trained

    tables = []
    for task, (experiment, metric) in tasks.items():
        record, _ = recorded_or_trained(experiment, profile, seed=seed, device=device, retrain=False)
        in_paper = get_config(experiment, profile).paper_experiment
        table = comparison_table(record, paper_numbers, paper_experiment=in_paper)
        table = table[table["metric"] == metric]
        table.insert(0, "task", task)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


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


def plot_seed_curves(record: Mapping, column: str, ax=None, ylabel: str | None = None):
    """A history ``column`` (e.g. "val_accuracy", "sign_flips_per_step", "mean_abs_u") per epoch for
    each method of a seed study: the mean over seeds as a line, min to max as a band."""
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
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax
