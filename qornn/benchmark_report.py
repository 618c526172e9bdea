"""Tables and figures of the speed page, from the benchmark records in ``data/results/benchmarks/``.

The records are written by the scripts in ``benchmarks/`` (``hadamrnn_step.py``, ``qornn_step.py``,
``inference.py``, ``gated_step.py``); nothing here times anything. A missing record is left out, and
the page says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import results

__all__ = [
    "BENCHMARKS",
    "load_benchmarks",
    "plot_step_times",
    "plot_speedups",
    "plot_qornn_ratios",
    "step_table",
    "qornn_table",
    "inference_table",
    "gated_table",
    "subnormals_table",
    "allocator_table",
    "sequence_passes_table",
    "dense_recurrence_table",
    "dense_bound_text",
    "sequence_loss_table",
    "tanh_recurrence_tables",
    "provenance_table",
    "paper_costs_table",
    "paper_costs_measurements",
    "measured_at",
    "targets",
]

#: benchmark name -> the command that rewrites its record (from the repository root)
BENCHMARKS: dict[str, str] = {
    "hadamrnn_step": ".venv/bin/python benchmarks/hadamrnn_step.py --threads 1 2 --memory --reps 3",
    "qornn_step": ".venv/bin/python benchmarks/qornn_step.py",
    "inference": ".venv/bin/python benchmarks/inference.py",
    "gated_step": ".venv/bin/python benchmarks/gated_step.py",
    "subnormals": ".venv/bin/python benchmarks/subnormals.py",
    "allocator": ".venv/bin/python benchmarks/allocator.py",
    "paper_costs": ".venv/bin/python benchmarks/paper_costs.py",
    "sequence_passes": ".venv/bin/python benchmarks/sequence_passes.py",
    "dense_recurrence": ".venv/bin/python benchmarks/dense_recurrence.py",
    "sequence_loss": ".venv/bin/python benchmarks/sequence_loss.py",
    "tanh_recurrence": ".venv/bin/python benchmarks/tanh_recurrence.py",
}


def load_benchmarks(names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """{name: record} for each benchmark whose record exists under ``results_dir()/benchmarks``."""
    out = {}
    for name in names or list(BENCHMARKS):
        path = results.results_dir() / "benchmarks" / f"{name}.json"
        if path.exists():
            out[name] = json.loads(path.read_text())
    return out


def _variants(record: Mapping) -> list[str]:
    """Timed variants in the script's order (the JSON keys are sorted), sub-timings left out."""
    timed = {v for r in record["sizes"] for v in r["median_s"]}
    order = record["config"].get("variants") or sorted(timed)
    return [v for v in order if v in timed and ":" not in v]


def step_rows(record: Mapping, shape: str | None = "pmnist", threads: int | None = None) -> list[Mapping]:
    """hadamrnn_step rows of one shape ("pmnist", "copy"; None: all) at one thread count (default: the
    first timed). Records from before the copy shape and thread counts are pMNIST at one count."""
    rows = record["sizes"]
    counts = [r.get("threads") for r in rows]
    want = threads if threads is not None else counts[0]
    return [r for r in rows
            if (shape is None or r.get("shape", "pmnist") == shape) and r.get("threads") == want]


def _variant_colors(record: Mapping) -> dict[str, str]:
    """One colour per timed variant, by its place in the script's order, shared by the step-time and
    speed-up panels."""
    return {v: f"C{i}" for i, v in enumerate(_variants(record))}


def _threads_title(rows: list[Mapping]) -> str:
    """The torch thread count of ``rows`` for a title ("1 thread", "2 threads"; "" when not recorded)."""
    threads = rows[0].get("threads") if rows else None
    return "" if threads is None else f"{threads} thread{'' if threads == 1 else 's'}"


def plot_step_times(record: Mapping, ax=None):
    """Median step time against n at the pMNIST shape and the first thread count timed (in the title),
    log-log, one line per variant in its colour of :func:`_variant_colors`, with the fitted exponent α
    (a variant timed only up to some n is drawn where it was timed)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    rows, exps, colors = step_rows(record), record.get("exponent_n", {}), _variant_colors(record)
    ns = [r["n"] for r in rows]
    for v in _variants(record):
        points = [(r["n"], r["median_s"][v]) for r in rows if v in r["median_s"]]
        label = f"{v} (α = {exps[v]:.2f})" if exps.get(v) is not None else v
        ax.loglog(*zip(*points, strict=True), "o-", color=colors[v], label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("hidden size n (pMNIST shape)")
    ax.set_ylabel("seconds per training step")
    ax.set_title(", ".join(filter(None, ["step time", _threads_title(rows)])))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def _grouped_bars(ax, groups: list[str], series: dict[str, list[float]], fmt: str,
                  colors: list[str] | None = None) -> None:
    """One bar per series in each group, labelled with its value; ``colors`` gives each series' colour
    (default: the axes' cycle)."""
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=label, color=colors[i] if colors else None)
        ax.bar_label(bars, [fmt.format(v) for v in values], fontsize="x-small")
    ax.set_xticks(range(len(groups)), groups)


def plot_speedups(record: Mapping, ax=None):
    """HadamRNN's fast step: baseline time / fast time (median of per-repetition ratios), per shape and n,
    at the first thread count timed (in the title); each baseline's bars in that variant's colour on
    :func:`plot_step_times` (a bar is missing where that baseline was not timed)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    rows = step_rows(record, shape=None)
    baselines = [v for v in _variants(record) if any(v in r["speedup_median_of_ratios"] for r in rows)]
    groups = [("copy task" if r.get("shape") == "copy" else f"n = {r['n']}") for r in rows]
    colors = _variant_colors(record)
    _grouped_bars(ax, groups, {f"× {b}": [r["speedup_median_of_ratios"].get(b, float("nan")) for r in rows]
                               for b in baselines}, "{:.1f}", colors=[colors[b] for b in baselines])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("speed-up of qornn-fast (log scale)")
    ax.set_title(", ".join(filter(None, ["speed-up of qornn-fast", _threads_title(rows)])))
    ax.legend(fontsize="small")
    return ax


def plot_qornn_ratios(record: Mapping, axes=None):
    """Left: QORNN step / float ORNN step per mechanism and n, against the 1.5x target. Right: the
    re-orthogonalisation's share of the QORNN step (and with all Björck iterations)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4))
    rows, target = record["sizes"], record["config"].get("target_qornn_over_ornn", 1.5)
    pairs = record["config"]["pairs"]
    groups = [f"n = {r['n']}" for r in rows]
    _grouped_bars(axes[0], groups, {m: [r["qornn_over_ornn"][m] for r in rows] for m in pairs}, "{:.2f}")
    axes[0].axhline(target, color="crimson", linestyle="--", label=f"target {target}×")
    axes[0].axhline(1.0, color="black", linewidth=0.8)
    axes[0].set_ylabel("QORNN step / float ORNN step")
    axes[0].set_ylim(0, max(target, *(r["qornn_over_ornn"][m] for r in rows for m in pairs)) * 1.3)
    axes[0].legend(fontsize="small", loc="upper left", ncol=3)
    shares = {f"{m} ({p['qornn']})": [100 * r["reorth_share"][p["qornn"]] for r in rows]
              for m, p in pairs.items()}
    for m, p in pairs.items():
        if all(p["qornn"] in r.get("reorth_share_all_iters", {}) for r in rows):
            shares[f"{m}, all iterations"] = [100 * r["reorth_share_all_iters"][p["qornn"]] for r in rows]
    _grouped_bars(axes[1], groups, shares, "{:.1f}%")
    axes[1].set_ylabel("re-orthogonalisation, % of the QORNN step")
    axes[1].set_ylim(0, max(v for vs in shares.values() for v in vs) * 1.35)
    axes[1].legend(fontsize="small", loc="upper left", ncol=2)
    return axes


def step_table(record: Mapping) -> pd.DataFrame:
    """hadamrnn_step: per shape, n and thread count, the median seconds of each variant, the speed-ups of
    qornn-fast, its peak step memory and the share of the CPU's addition rate its FWHTs reach."""
    out, variants = [], _variants(record)
    for r in record["sizes"]:
        row: dict[str, Any] = {"shape": r.get("shape", "pmnist"), "n": r["n"], "threads": r.get("threads")}
        row.update({f"{v} (s)": r["median_s"].get(v) for v in variants})
        ratios = r.get("speedup_median_of_ratios", {})
        row.update({f"× {v}": ratios.get(v) for v in variants if v != "qornn-fast"})
        memory = r.get("peak_memory_mb") or {}
        for v in ("qornn-fast", "reference"):
            if v in memory:
                row[f"{v} peak MB"] = memory[v]
        if "roofline" in r:
            row["FWHT share of peak adds"] = f"{r['roofline']['fraction_of_peak']:.0%}"
        out.append(row)
    return pd.DataFrame(out)


def qornn_table(record: Mapping) -> pd.DataFrame:
    """qornn_step: per n and mechanism, both steps, their ratio and the re-orthogonalisation's cost."""
    out = []
    for r in record["sizes"]:
        for mech, p in record["config"]["pairs"].items():
            q, f, med = p["qornn"], p["ornn"], r["median_s"]
            all_iters = r.get("reorth_share_all_iters", {}).get(q)
            out.append({"n": r["n"], "mechanism": mech, "QORNN step (s)": med[q], "ORNN step (s)": med[f],
                        "QORNN / ORNN": r["qornn_over_ornn"][mech],
                        "re-orthogonalisation (s)": med[f"{q}:reorth"],
                        "share of QORNN step": f"{r['reorth_share'][q]:.1%}",
                        "share of ORNN step": f"{r['reorth_share'][f]:.1%}",
                        "share, all Björck iterations": "—" if all_iters is None else f"{all_iters:.1%}"})
    return pd.DataFrame(out)


def paper_costs_table(record: Mapping) -> pd.DataFrame:
    """paper_costs: per paper-profile run, the measured seconds per optimiser step (one thread), the
    profile's optimiser steps, their product in hours and whether that fits this machine (at most
    :data:`qornn.report.FITS_HOURS`); the runs of an experiment that could not be measured for the
    same reason (its data set is missing), in one row that says why. A run its ``paper`` profile now
    leaves out (``left_out`` of :func:`qornn.experiments.get_config`) is not listed: it is not run."""
    from .experiments import EXPERIMENTS, get_config
    from .report import FITS_HOURS

    fits = f"fits this machine (≤ {FITS_HOURS:g} h)"
    out = []
    unmeasured: dict[tuple[str, str], dict] = {}
    left_out = {(name, run) for name in {r["experiment"] for r in record["runs"]}
                if "paper" in EXPERIMENTS.get(name, {}).get("profiles", {})
                for run in get_config(name, "paper").left_out}
    for r in record["runs"]:
        if (r["experiment"], r["run"]) in left_out:
            continue
        row = {"experiment": r["experiment"], "run": r["run"]}
        if not r["measured"] and (r["experiment"], r["reason"]) in unmeasured:
            unmeasured[r["experiment"], r["reason"]]["run"] += ", " + r["run"]
            continue
        if r["measured"]:
            row.update({"model": r["model"], "n": r["hidden_size"], "s / step": r["median_step_s"],
                        "optimiser steps": f"{r['optimizer_steps']:,}",
                        "projected hours (1 thread)": r["projected_hours"],
                        fits: "yes" if r["projected_hours"] <= FITS_HOURS else "no",
                        "recurrence": r["implementation"]})
        else:
            row["not measured"] = r["reason"]
            unmeasured[r["experiment"], r["reason"]] = row
        out.append(row)
    return pd.DataFrame(out)


def projection_check(record: Mapping) -> pd.DataFrame:
    """paper_costs against what happened: for each run recorded at the paper's budget (every seed)
    that ``record`` projects, its projected hours beside the hours the record says it took (its
    wall time: training, over every start, and its evaluations, which the projection leaves out),
    their ratio, and the torch threads of its starts and the devices it trained on."""
    from .report import seed_records

    projected = {(r["experiment"], r["run"]): r["projected_hours"] for r in record["runs"]
                 if r.get("measured") and r.get("projected_hours")}
    rows = []
    for experiment in dict.fromkeys(name for name, _ in projected):
        for seed, recorded in seed_records(experiment, "paper").items():
            for run, data in recorded["runs"].items():
                hours = projected.get((experiment, run))
                if hours is None:  # a PTQ run trains nothing; the projection is its source's
                    continue
                prov = data["provenance"]
                took = prov["wall_time_s"] / 3600
                rows.append({"experiment": experiment, "run": run, "seed": seed, "projected h": hours,
                             "recorded h": took, "recorded / projected": took / hours,
                             # every start's: a run resumed at another thread count ran at both
                             # (a start that recorded no device name is left out, not given the last's)
                             "threads": " and ".join(str(t) for t in dict.fromkeys(
                                 results.device_threads(seg.get("device_name"))
                                 for seg in prov.get("segments") or [prov]) if t is not None) or None,
                             # every device its starts ran on: one begun on a GPU is no measure of a CPU
                             "device": " and ".join(results.device_kinds(prov))})
    return pd.DataFrame(rows, columns=["experiment", "run", "seed", "projected h", "recorded h",
                                       "recorded / projected", "threads", "device"])


def projection_check_text(frame: pd.DataFrame) -> str:
    """:func:`projection_check` in one sentence: how many recorded runs took longer than projected,
    and the median and range of the ratio, on the runs trained on a CPU alone (a GPU's time is no
    measure of this CPU's)."""
    cpu = frame[frame["device"] == "cpu"]
    if cpu.empty:
        return "No run recorded at the paper's budget on this CPU has a projection to compare with yet."
    ratio = cpu["recorded / projected"]
    longer = int((ratio > 1).sum())
    return (f"Of the {len(cpu)} runs recorded at the paper's budget on a CPU alone that the projection "
            f"covers, **{longer} took longer than projected**: recorded / projected is "
            f"{ratio.median():.2f} at the median, from {ratio.min():.2f} to {ratio.max():.2f}. The "
            "projection leaves out evaluation and was measured on a machine at its own load, so it is a "
            "guide to the order of a run's cost, not a bound on it.")


def pace_check(record: Mapping) -> pd.DataFrame:
    """paper_costs against the runs still training: for each unfinished checkpoint at the paper's
    budget (``qornn checkpoints``; a ``--set`` variant's left out) of a run that ``record`` projects,
    the projected hours beside the hours it has trained, its steps, and the total its own pace so far
    gives (hours trained, plus the hours left at its pace so far: :attr:`Checkpoint.hours_to_go`, as
    the chapter pages give them), with their ratio: a projection timed on a lightly loaded machine
    can be well below the pace of a run sharing it, which the finished runs alone
    (:func:`projection_check`) do not show until those runs end."""
    from .checkpoints import find_checkpoints

    projected = {(r["experiment"], r["run"]): r["projected_hours"] for r in record["runs"]
                 if r.get("measured") and r.get("projected_hours")}
    rows = []
    for found in find_checkpoints("paper"):
        hours = projected.get((found.experiment, found.run))
        if hours is None or found.seed is None or found.overrides or found.hours_to_go is None:
            continue  # finished, not started, an older definition or a variant: nothing to project
        # the hours left at the pace the chapter pages give (Checkpoint.hours_to_go: its last device's)
        total = found.elapsed_s / 3600 + found.hours_to_go
        rows.append({"experiment": found.experiment, "run": found.run, "seed": found.seed,
                     "projected h": hours, "trained h": found.elapsed_s / 3600,
                     "steps": f"{found.global_step:,} of {found.total_steps:,}",
                     "at its pace, h": total, "pace / projected": total / hours})
    return pd.DataFrame(rows, columns=["experiment", "run", "seed", "projected h", "trained h", "steps",
                                       "at its pace, h", "pace / projected"])


def pace_check_text(frame: pd.DataFrame) -> str:
    """:func:`pace_check` in one sentence ("" when no run is training at the paper's budget)."""
    if frame.empty:
        return ""
    ratio = frame["pace / projected"]
    span = f"{ratio.min():.2f}" if len(frame) == 1 else f"from {ratio.min():.2f} to {ratio.max():.2f}"
    slower, faster = int((ratio > 1).sum()), int((ratio < 1).sum())
    verdict = ("slower than projected" if slower == len(frame) else "faster than projected"
               if faster == len(frame) else f"{slower} slower and {faster} faster than projected")
    one = len(frame) == 1
    return (f"**{'The' if one else f'The {len(frame)}'} run{'' if one else 's'} still training at the "
            f"paper's budget {'goes' if one else 'go'} {verdict}**: at the pace of "
            f"{'its' if one else 'their'} training so far, the whole run takes {span} times its projected "
            "hours (the table below). The projections were timed on a lightly loaded machine (the load "
            "averages above); a run trains beside whatever else the machine runs.")


def measured_at(record: Mapping, row: Mapping) -> dict:
    """paper_costs: when ``row`` was measured, its ``measured_at`` (commit, dirty, date, load average
    before and after); a row written before rows carried it was measured by the call that wrote
    ``record``, whose provenance and config say it."""
    if "measured_at" in row:
        return dict(row["measured_at"])
    config, provenance = record.get("config", {}), record.get("provenance", {})
    return {"commit": provenance.get("commit"), "dirty": provenance.get("dirty"),
            "date": provenance.get("date"), "load_average_before": config.get("load_average_before"),
            "load_average_after": config.get("load_average_after")}


def paper_costs_measurements(record: Mapping) -> pd.DataFrame:
    """paper_costs: when each experiment's rows were measured, one row per measuring call
    (:func:`measured_at`: commit, date, the load average before), oldest first."""
    calls: dict[tuple, list[str]] = {}
    for row in record["runs"]:
        when = measured_at(record, row)
        load = when.get("load_average_before") or [float("nan")]
        key = ((when.get("commit") or "unknown")[:10] + (" (modified)" if when.get("dirty") else ""),
               str(when.get("date", "")), load[0])  # a call is told apart by its date to the second
        calls.setdefault(key, [])
        if row["experiment"] not in calls[key]:
            calls[key].append(row["experiment"])
    out = [{"date": date[:16].replace("T", " "), "commit": commit,
            "load average before (1 min)": f"{load:.2f}", "experiments": ", ".join(experiments)}
           for (commit, date, load), experiments in sorted(calls.items(), key=lambda call: call[0][1])]
    return pd.DataFrame(out)


def inference_table(record: Mapping) -> pd.DataFrame:
    """inference: packed vs float32 sizes, equal outputs, throughputs and their ratio, per model."""
    out = []
    for r in record["models"]:
        st, sps = r["storage"], r["sequences_per_s"]
        out.append({"model": r["model"], "packed file (kB)": st["packed_file_bytes"] / 1000,
                    "float32 file (kB)": st["float_dense_file_bytes"] / 1000,
                    "training state_dict (kB)": st["float_state_dict_file_bytes"] / 1000,
                    "× smaller (files)": st["ratio_file"], "× smaller (payload)": st["ratio_payload"],
                    "outputs equal": "yes" if r["outputs_equal"] else "NO",
                    "float (seq/s)": sps["float"], "packed (seq/s)": sps["packed"],
                    "× faster": r["speedup_packed_over_float"], "packed path": r["packed_path"]})
    return pd.DataFrame(out)


def gated_table(record: Mapping) -> pd.DataFrame:
    """gated_step: per n and model, the step with the fused recurrence (torch's kernel, or
    FastGRNN's hand-written backward), with the Python loop, and their ratio (median of
    per-repetition ratios)."""
    out = []
    for r in record["sizes"]:
        for model in record["config"]["models"]:
            med = r["median_s"]
            out.append({"n": r["n"], "model": model.upper(), "fused (s)": med[f"{model}:fused"],
                        "Python loop (s)": med[f"{model}:loop"], "loop / fused": r["loop_over_fused"][model]})
    return pd.DataFrame(out)


def sequence_passes_table(record: Mapping) -> pd.DataFrame:
    """sequence_passes: per shape, a dense QORNN's training step on tokens with the preactivations
    read in one pass and the states written over them, against the lookup, the bias added and a new
    tensor of states (how it was done before), their ratio (median of per-repetition ratios), and
    whether both gave the same gradients bit for bit."""
    return pd.DataFrame([{"shape": r["shape"], "n": r["hidden"], "batch": r["batch"], "T": r["T"],
                          "recurrence": r["nonlinearity"], "one pass (s)": r["median_s"]["one-pass"],
                          "two tensors (s)": r["median_s"]["two-tensors"],
                          "two tensors / one pass": r["two_tensors_over_one_pass"],
                          "same gradients": r["same_gradients"]} for r in record["sizes"]])


def dense_recurrence_table(record: Mapping) -> pd.DataFrame:
    """dense_recurrence: per shape, a dense QORNN's training step with the recurrence's hand-written
    backward and with autograd's step-by-step graph, their ratio, whether both gave the same
    gradients bit for bit, and the step's matrix products timed as three large GEMMs, with their
    share of the hand-written step (medians of per-repetition ratios; records made before that
    measurement have none)."""
    return pd.DataFrame([{"shape": r["shape"], "n": r["hidden"], "batch": r["batch"], "T": r["T"],
                          "recurrence": r["nonlinearity"], "hand-written (s)": r["median_s"]["hand-written"],
                          "autograd (s)": r["median_s"]["autograd"],
                          "autograd / hand-written": r["autograd_over_hand_written"],
                          "same gradients": r["same_gradients"],
                          "products as 3 GEMMs (s)": r["median_s"].get("three GEMMs"),
                          "their share of the step": (f"{r['products_over_hand_written']:.0%}"
                                                      if "products_over_hand_written" in r else "—")}
                         for r in record["sizes"]])


def dense_bound_text(record: Mapping) -> str:
    """dense_recurrence, per shape, in words: the share of the hand-written step that its matrix
    products take at the rate of one large GEMM, and so the most that a float32 kernel of the
    recurrence could speed that step up on the recording CPU (1 / share: its products at that rate,
    the rest free), or that the record predates this measurement."""
    lines = []
    for r in record["sizes"]:
        shape = f"**{r['shape']}** (n = {r['hidden']}, B = {r['batch']}, T = {r['T']}, {r['nonlinearity']})"
        share = r.get("products_over_hand_written")
        if share is None:
            rerun = BENCHMARKS["dense_recurrence"]
            lines.append(f"- {shape}: not measured in this record (rerun `{rerun}`).")
            continue
        lines.append(f"- {shape}: the matrix products alone, at the rate of one large GEMM, take {share:.0%} "
                     f"of the hand-written step, so a kernel that ran them at that rate and everything else "
                     f"for free would make this step at most {1 / share:.2g}× faster on this CPU.")
    return "\n".join(lines)


def sequence_loss_table(record: Mapping) -> pd.DataFrame:
    """sequence_loss: per shape, the per-position cross-entropy's forward and backward on the flat
    (B·T, C) logits and on the classes of a (B, C, T) view, and their ratio (median of
    per-repetition ratios): above 1, the view is faster."""
    return pd.DataFrame([{"shape": r["shape"], "batch": r["batch"], "T": r["T"], "classes": r["classes"],
                          "flat (s)": r["median_s"]["flat"],
                          "classes on dim 1 (s)": r["median_s"]["classes-dim-1"],
                          "flat / classes on dim 1": r["flat_over_classes_dim_1"]} for r in record["sizes"]])


def tanh_recurrence_tables(record: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """tanh_recurrence: (per shape, HadamRNN's training step with a tanh recurrence on the kernel's
    vector tanh and on the library's std::tanh, and their ratio (median of per-repetition ratios);
    per float tanh, its largest and mean distance from the exact tanh in ulp and the share of inputs
    it gets exactly)."""
    steps = pd.DataFrame([{"shape": r["shape"], "n": r["hidden"], "batch": r["batch"], "T": r["T"],
                           "vector tanh (s)": r["median_s"]["vector tanh"],
                           "library tanh (s)": r["median_s"].get("library tanh"),
                           "library / vector": r["library_over_vector"]} for r in record["sizes"]])
    accuracy = pd.DataFrame([{"float tanh": name, "largest error (ulp)": row["max_ulp"],
                              "mean error (ulp)": row["mean_ulp"], "exact": f"{row['share_exact']:.1%}"}
                             for name, row in record["accuracy"].items() if isinstance(row, dict)])
    return steps, accuracy


def subnormals_table(record: Mapping) -> pd.DataFrame:
    """subnormals: per n and case, the share of subnormal values (input gradients, update gates)
    and the step with subnormals kept, flushed, and their ratio (median of per-repetition ratios)."""
    out = []
    for r in record["sizes"]:
        for case, spec in record["config"]["cases"].items():
            med, share = r["median_s"], r["subnormal_share"][case]
            out.append({"n": r["n"], "case": case, "model": spec["model"],
                        "subnormal ∂L/∂x": f"{share['input_gradients']:.1%}",
                        "subnormal gates": "—" if share["update_gates"] is None
                        else f"{share['update_gates']:.1%}",
                        "kept (s)": med[f"{case}:keep"], "flushed (s)": med[f"{case}:flush"],
                        "kept / flushed": r["keep_over_flush"][case]})
    return pd.DataFrame(out)


def allocator_table(record: Mapping) -> pd.DataFrame:
    """allocator: per paper-profile run, the training step and its minor page faults with glibc's
    default policy and with freed memory kept (:mod:`qornn.allocator`), and their ratio (median of
    per-repetition ratios)."""
    out = []
    for r in record["runs"]:
        med, faults = r["median_s"], r["median_faults"]
        out.append({"experiment": r["experiment"], "run": r["run"],
                    "default (s)": med["default"], "page faults (default)": f"{faults['default']:,.0f}",
                    "retained (s)": med["retained"], "page faults (retained)": f"{faults['retained']:,.0f}",
                    "default / retained": r["default_over_retained"]})
    return pd.DataFrame(out)


def _machine(device_name: str | None) -> str | None:
    """A CPU's name and cores without the process's thread count ("x86_64 (2 cores)"): a benchmark
    times the threads of its own configuration, which the table's next column gives."""
    parts = results.cpu_device_parts(device_name)
    return f"{parts[0]} ({parts[1]} cores)" if parts else device_name


def provenance_table(records: Mapping[str, Mapping]) -> pd.DataFrame:
    """How each record was made: commit, machine, torch threads, torch version, date, wall time."""
    out = []
    for name, rec in records.items():
        prov, cfg = rec["provenance"], rec["config"]
        commit = (prov.get("commit") or "unknown")[:10] + (" (modified)" if prov.get("dirty") else "")
        out.append({"benchmark": name, "commit": commit,
                    "device": _machine(prov.get("device_name")) or prov.get("device"),
                    "torch threads": cfg.get("threads"),
                    "torch": prov.get("torch"), "date": str(prov.get("date", ""))[:16].replace("T", " "),
                    "wall time (s)": prov.get("wall_time_s"), "command": BENCHMARKS.get(name, "")})
    return pd.DataFrame(out)


#: the fused kernel's targets (issue 19): × reference at the same thread count, per case
KERNEL_TARGETS = {("pmnist", 128): 4.0, ("pmnist", 512): 10.0, ("pmnist", 2048): 40.0, ("copy", 128): 4.0}


def _kernel_targets(rec: Mapping) -> list[str]:
    """The fused kernel's targets against a hadamrnn_step record (only what the record measured)."""
    lines = []
    for r in rec["sizes"]:
        target = KERNEL_TARGETS.get((r.get("shape", "pmnist"), r["n"]))
        ratio = r.get("speedup_median_of_ratios", {}).get("reference")
        if target is None or ratio is None:
            continue
        where = "the copy task's paper shape" if r.get("shape") == "copy" else f"pMNIST shape, n = {r['n']}"
        verdict = "met" if ratio >= target else "**missed**"
        lines.append(f"{where}, {r.get('threads', 1)} thread(s): at least {target:.0f}× the papers'-style "
                     f"reference: {verdict} ({ratio:.1f}×).")
    for n, scaling in rec.get("thread_scaling", {}).items():
        if n == "512":
            verdict = "met" if scaling >= 1.6 else "**missed**"
            machine = rec.get("machine_thread_scaling", {}).get(n)
            context = ("" if machine is None else f"; in the same loop a dense matrix product, which two "
                       f"real cores run about twice as fast, got {machine:.2f}× from this machine")
            lines.append(f"two threads at least 1.6× faster than one at n = 512: {verdict} ({scaling:.2f}×"
                         f"{context}).")
    for r in rec["sizes"]:
        memory = (r.get("peak_memory_mb") or {}).get("qornn-fast")
        if r["n"] == 2048 and r.get("shape", "pmnist") == "pmnist" and memory is not None:
            verdict = "met" if memory < 100 else "**missed**"
            lines.append(f"peak memory of a training step at n = 2048, T = {r['T']} under 100 MB: {verdict} "
                         f"({memory:.0f} MB).")
            break
    beta = rec.get("exponent_T", {}).get("qornn-fast")
    if beta is not None:
        verdict = "met" if beta <= 1.1 else "**missed**"
        lines.append(f"cost linear in T (fitted exponent ≤ 1.1): {verdict} (β = {beta:.2f}).")
    return lines


def targets(records: Mapping[str, Mapping]) -> str:
    """The issue's targets against the records, as Markdown bullets (a missing record is said so)."""
    lines = _kernel_targets(records["hadamrnn_step"]) if "hadamrnn_step" in records else []
    if "qornn_step" in records:
        rec = records["qornn_step"]
        target = rec["config"].get("target_qornn_over_ornn", 1.5)
        worst = max((r["qornn_over_ornn"][m], m, r["n"]) for r in rec["sizes"] for m in r["qornn_over_ornn"])
        verdict = "met" if worst[0] <= target else "**missed**"
        lines.append(f"QORNN step within {target}× of the float ORNN with the same mechanism: {verdict} "
                     f"(largest ratio {worst[0]:.2f}×, {worst[1]} at n = {worst[2]}).")
    if "inference" in records:
        rows = {r["model"]: r for r in records["inference"]["models"]}
        target = records["inference"]["config"].get("target_hadamrnn_ratio_file", 20)
        if "hadamrnn" in rows:
            ratio = rows["hadamrnn"]["storage"]["ratio_file"]
            verdict = "met" if ratio >= target else "**missed**"
            lines.append(f"Packed HadamRNN at least {target}× smaller than its float32 weights: {verdict} "
                         f"({ratio:.0f}× for the files).")
        equal = all(r["outputs_equal"] for r in rows.values())
        lines.append("Packed models give the same outputs as the float-simulated ones, bit for bit: "
                     + ("yes, for every model." if equal else "**no**: see the table."))
    for name in BENCHMARKS:
        if name not in records:
            lines.append(f"No record of `{name}` yet: run `{BENCHMARKS[name]}`.")
    return "\n".join(f"- {line}" for line in lines)
