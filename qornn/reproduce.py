"""Does this machine reproduce a record? Train the first epochs of a recorded run again and compare
them, number for number, with the record's history.

A run's numbers are a deterministic function of its code, configuration and seed only on one kind of
machine. A float sum rounds differently when it is split over another number of threads, or computed
with other vector instructions (torch picks its CPU kernels by ``torch.backends.cpu.get_cpu_capability``
and the fused kernel is built with ``-march=native``). A HadamRNN whose signs flip early turns such a
last-bit difference into a visible one within an epoch. :func:`first_epochs` retrains in a fresh
folder, in a process of its own, so that the environment can be set (``env``: ``OMP_NUM_THREADS``,
``ATEN_CPU_CAPABILITY``), and :func:`compare` says from which epoch the two differ.

``qornn verify EXPERIMENT --profile P --runs RUN [--epochs N]`` does both for one recorded run, at the
record's number of torch threads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import datasets, results
from .experiments import get_config
from .tasks.base import check_positive_int


class RetrainFailed(OSError):
    """The process that trains the first epochs again failed or ran out of time (an OSError: the
    command line says it in one line, exit 1)."""


#: per-epoch fields that say when, not what: left out of the comparison
_WHEN = {"wall_time_s", "resumed_at_steps"}


def recorded_run(experiment: str, profile: str, run: str, *, seed: int = 0,
                 overrides: Sequence[str] | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The record's entry for ``run`` (the variant ``overrides`` and ``seed`` name), with a message
    naming what is missing where it is not recorded."""
    config = get_config(experiment, profile, overrides)
    record = results.load_record(experiment, profile, variant=config.record_variant(seed), missing_ok=True)
    if record is None or run not in record.get("runs", {}):
        recorded = sorted(record["runs"]) if record else []
        raise ValueError(f"{experiment}/{profile}: run {run!r} is not recorded"
                         + (f" (seed {seed})" if seed else "")
                         + (f"; recorded: {', '.join(recorded)}" if recorded else "; nothing is recorded"))
    return record["runs"][run]


def recorded_threads(run_data: Mapping[str, Any]) -> int:
    """The torch threads the record's last start trained with (1 where its device name does not say)."""
    return results.device_threads(run_data["provenance"].get("device_name")) or 1


def first_epochs(experiment: str, profile: str, run: str, *, epochs: int = 1, seed: int = 0,
                 overrides: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                 device: str = "cpu", timeout_s: float | None = None) -> dict[str, Any]:
    """Train the first ``epochs`` epochs of ``run`` again, in a temporary data folder (nothing under
    ``data/`` is touched), by ``qornn run ... --set train.epochs=N`` in a new process with ``env``
    added to this one's environment; the entry it recorded. The learning rate decays per epoch
    (``train.lr_gamma``), not over the run's length, so the first epochs train as in the full run."""
    check_positive_int(epochs, "epochs")
    sets = [*(overrides or []), f"train.epochs={epochs}"]
    config = get_config(experiment, profile, sets)  # bad names fail here, before a process starts
    with tempfile.TemporaryDirectory(prefix="qornn-verify-") as scratch:
        where = Path(scratch)
        child_env = {**os.environ, "QORNN_DATA_DIR": str(where / "data"),
                     "QORNN_RUNS_DIR": str(where / "runs"), "QORNN_CACHE_DIR": str(datasets.cache_dir()),
                     **(env or {})}
        command = [sys.executable, "-m", "qornn.cli", "run", experiment, "--profile", profile,
                   "--seed", str(seed), "--runs", run, "--device", device, "--no-progress",
                   *[arg for item in sets for arg in ("--set", item)]]
        try:
            done = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise RetrainFailed(f"retraining {experiment}/{profile}/{run} took more than {timeout_s} s; "
                                "stopped") from None
        if done.returncode != 0:
            raise RetrainFailed(f"retraining {experiment}/{profile}/{run} failed (exit {done.returncode}): "
                               f"{(done.stderr.strip().splitlines() or ['no message'])[-1]}")
        path = where / "data" / results.record_path(experiment, profile, config.record_variant(seed)) \
            .relative_to(results.data_dir())
        return json.loads(path.read_text(encoding="utf-8"))["runs"][run]


def compare(recorded: Mapping[str, Any], rerun: Mapping[str, Any]) -> pd.DataFrame:
    """Epoch by epoch, the record's training loss beside the rerun's, and whether every number of the
    epoch's history entry (losses, validation metrics, diagnostics; not its wall time) is the same, bit
    for bit. Raises ValueError if the record has fewer epochs than the rerun."""
    old, new = recorded.get("history") or [], rerun.get("history") or []
    if len(old) < len(new):
        raise ValueError(f"the record has {len(old)} epochs of history, fewer than the {len(new)} retrained")
    rows = []
    for before, after in zip(old, new, strict=False):  # the record may have more epochs
        same = ({k: v for k, v in before.items() if k not in _WHEN}
                == {k: v for k, v in after.items() if k not in _WHEN})
        rows.append({"epoch": after.get("epoch"), "recorded train loss": before.get("train_loss"),
                     "retrained train loss": after.get("train_loss"), "same": same})
    return pd.DataFrame(rows, columns=["epoch", "recorded train loss", "retrained train loss", "same"])


def verdict(frame: pd.DataFrame) -> str:
    """One sentence: reproduced bit for bit through the last epoch compared, or the first that differs."""
    if frame.empty:
        return "nothing compared"
    if frame["same"].all():
        return f"reproduced bit for bit through epoch {int(frame['epoch'].iloc[-1])}"
    first = frame.loc[~frame["same"]].iloc[0]
    retrained, recorded = float(first["retrained train loss"]), float(first["recorded train loss"])
    return (f"differs from epoch {int(first['epoch'])} (training loss {retrained!r} retrained, "
            f"{recorded!r} recorded)")


def verify(experiment: str, profile: str, run: str, *, epochs: int = 1, seed: int = 0,
           overrides: Sequence[str] | None = None, threads: int | None = None,
           env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Retrain the first ``epochs`` of a recorded run at ``threads`` torch threads (default: the
    record's) and compare: {"frame": :func:`compare`, "verdict": :func:`verdict`, "retrained": the
    retrain's provenance (its threads, CPU and torch's kernels as its own process saw them),
    "recorded": the record's}."""
    check_positive_int(epochs, "epochs")
    recorded = recorded_run(experiment, profile, run, seed=seed, overrides=overrides)
    threads = recorded_threads(recorded) if threads is None else threads
    check_positive_int(threads, "threads")
    run_env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **(env or {})}
    rerun = first_epochs(experiment, profile, run, epochs=epochs, seed=seed, overrides=overrides,
                         env=run_env)
    frame = compare(recorded, rerun)
    return {"frame": frame, "verdict": verdict(frame), "retrained": rerun["provenance"],
            "recorded": recorded["provenance"]}


def _machine(prov: Mapping[str, Any]) -> str:
    return f"{results.device_label(prov.get('device_name')) or 'device not recorded'}, " \
        + (results.cpu_text(prov.get("cpu")) or "CPU model not recorded")


def describe(result: Mapping[str, Any]) -> str:
    """:func:`verify`'s result as text: the epochs compared, the verdict, both machines."""
    recorded, retrained = result["recorded"], result["retrained"]
    return "\n".join([
        result["frame"].to_string(index=False, float_format=lambda x: f"{x:.10f}"),
        f"  {result['verdict']}",
        f"  recorded:  {_machine(recorded)} (commit {str(recorded.get('commit'))[:10]}, "
        f"{str(recorded.get('date', ''))[:10]})",
        f"  retrained: {_machine(retrained)} (commit {str(retrained.get('commit'))[:10]})"])


def reproducibility_dir() -> Path:
    """Where the records of :mod:`scripts/environment_sensitivity.py` and of retrains compared with
    their record go: ``data/results/benchmarks/reproducibility/``."""
    return results.data_dir() / "results" / "benchmarks" / "reproducibility"


def load_reproducibility_records() -> dict[str, dict[str, Any]]:
    """Every record under :func:`reproducibility_dir`, by file name (without ``.json``), sorted."""
    folder = reproducibility_dir()
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def sensitivity_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per environment of an environment-sensitivity record: the torch threads and torch CPU
    kernels the retrain ran with, and per epoch compared the retrained training loss beside the
    recorded one, and whether every number of the epoch was the same."""
    rows = []
    for env in record["environments"]:
        for epoch in env["epochs"]:
            rows.append({"environment": env["environment"],
                         "torch threads": results.device_threads(env.get("device_name")),
                         "torch kernels": (env.get("cpu") or {}).get("torch_capability"),
                         "epoch": epoch["epoch"], "training loss, retrained": epoch["retrained train loss"],
                         "training loss, recorded": epoch["recorded train loss"],
                         "every number the same": "yes" if epoch["same"] else "no"})
    return pd.DataFrame(rows)


def sensitivity_text(record: Mapping[str, Any]) -> str:
    """What an environment-sensitivity record shows, in a sentence or two beside its table
    (:func:`sensitivity_frame`): which environments give the record's numbers bit for bit, and from
    which epoch the others differ."""
    same, differ = [], {}
    for env in record["environments"]:
        epochs = pd.DataFrame(env["epochs"])
        if epochs.empty:
            continue
        if epochs["same"].all():
            same.append(env["environment"])
        else:
            differ.setdefault(int(epochs.loc[~epochs["same"], "epoch"].min()), []).append(env["environment"])
    compared = len(same) + sum(map(len, differ.values()))
    text = (f"{len(same)} of {compared} environments {'gives' if len(same) == 1 else 'give'} the record's "
            "numbers bit for bit")
    text += f": {'; '.join(same)}." if same else "."
    for epoch, names in sorted(differ.items()):
        text += f" {'Differs' if len(names) == 1 else 'Differ'} from epoch {epoch}: {'; '.join(names)}."
    return text


def compare_runs(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, Any]:
    """A run trained twice with one configuration (a retrain and the record it replaced): every epoch
    compared (:func:`compare`), the test numbers and size compared, both provenances kept."""
    if earlier.get("config_hash") != later.get("config_hash"):
        raise ValueError(f"the two runs have different configurations ({earlier.get('config_hash')} and "
                         f"{later.get('config_hash')}): not one run trained twice")
    frame = compare(earlier, later)
    keep = ("commit", "dirty", "date", "device_name", "cpu", "platform", "segments", "wall_time_s")
    return {"epochs": frame.to_dict(orient="records"), "verdict": verdict(frame),
            "epochs_compared": len(frame), "test_same": earlier.get("test") == later.get("test"),
            "size_same": earlier.get("size_bits") == later.get("size_bits"),
            "earlier": {k: earlier["provenance"][k] for k in keep if k in earlier["provenance"]},
            "later": {k: later["provenance"][k] for k in keep if k in later["provenance"]}}


def retrain_text(record: Mapping[str, Any]) -> str:
    """A retrain compared with the record it replaced (:func:`compare_runs`), as Markdown: the
    verdict over every epoch, the test numbers, and when and on which machine each was trained."""
    def machine(prov: Mapping[str, Any]) -> str:
        cpu = (prov.get("cpu") or {}).get("model")
        starts = len(prov.get("segments") or []) or 1
        return (f"trained at commit `{str(prov.get('commit'))[:10]}`, finished {str(prov.get('date'))[:10]}, "
                f"in {starts} start{'s' if starts != 1 else ''}, "
                + (f"on {cpu}" if cpu else "its CPU model not recorded"))
    return (f"**{record['experiment']} / {record['profile']} / {record['run']}**, seed {record['seed']}: "
            f"{record['verdict']} of {record['epochs_compared']}; the test numbers "
            f"{'are the same' if record['test_same'] else 'differ'}.\n\n"
            f"- the record replaced: {machine(record['earlier'])};\n"
            f"- the retrain: {machine(record['later'])}.")


def records_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per run of a :mod:`scripts/verify_records.py` record: when its record was finished, at
    which commit, in how many starts, on which CPU where recorded, and whether its first epochs were
    reproduced here ("yes", or the epoch they differ from)."""
    rows = []
    for row in record["runs"]:
        made = row["recorded"]
        found = re.match(r"differs from epoch (\d+)", row["verdict"])
        rows.append({"run": f"{row['experiment']} / {row['run']}",
                     "record finished": str(made.get("date", ""))[:10],
                     "commit (last start)": str(made.get("commit", ""))[:10], "starts": made.get("starts"),
                     "its CPU": (made.get("cpu") or {}).get("model", "not recorded"),
                     "reproduced here": "yes" if row["same"] else
                     (f"no: differs from epoch {found[1]}" if found else "no")})
    return pd.DataFrame(rows)
