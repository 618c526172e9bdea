"""Check that the training code of this checkout gives the same numbers, bit for bit, as the one of an
earlier commit: whole runs of the ``smoke`` profiles, trained, evaluated and recorded by each version in
a process of its own, compared on every recorded number (test metrics, per-epoch history with the
diagnostics, size in bits, analyses) and every tensor of the final checkpoints (model, optimiser
state). Wall times, dates and commits are left out.

    python scripts/training_equivalence.py COMMIT [--cases copy qornn-copy ...] [--leave-out FIELD ...]

The runs cover every model family the experiments train (HadamRNN and Block-HadamRNN on the fused
kernel, the float ORNNs, QORNN with STE-Björck and STE-projUNN at every bit width, post-training
quantization, LSTM, FastGRNN, FastRNN) on the copy task and pMNIST, and HadamRNN on the two text stand-
ins, at one torch thread (how runs train); the case ``wings`` runs every experiment of the wings (SEA,
majoring points) and of the theory papers at their smoke profile, for a change to the code they run. A
rewrite of training code found equal here (a check that stops a diverging run, a provenance field) may
be declared in :data:`qornn.results.SAME_RESULTS`, so that the records made before it do not count as
stale: it is evidence for the code paths these runs take, which the record lists. The result goes to
``data/results/benchmarks/training_equivalence/<commit>.json`` with the git blob ids, before and after,
of every file of ``qornn/`` that differs. Exits 1 if any number differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from _equivalence import REPO, blob_ids, differing_files, resolve, run_worker, unpack

#: experiment -> runs of its smoke profile (None: all of them); together every model family trained
CASES = {
    "copy": None,
    "qornn-copy": None,
    "pmnist": ["hadamrnn", "hadamrnn-fixed-signs", "block-hadamrnn", "ornn"],
    "qornn-pmnist": ["ornn-projunn", "qornn-ste-bjorck-4bit", "qornn-ste-projunn-3bit", "ptq-bjorck-4bit",
                     "fastrnn"],
    # the text tasks, on their stand-ins (the polarity reviews and the Rotten Tomatoes snippets)
    "imdb": ["hadamrnn"],
    "sst2": ["hadamrnn"],
    "wings": None,  # every wing and theory experiment, all its runs (they train no RNN)
}
#: the cases run unless --cases names others: the RNN experiments (a check of the wings is asked for)
DEFAULT_CASES = [case for case in CASES if case != "wings"]
#: record fields that say when and where, not what
_VOLATILE = {"wall_time_s", "experiment_wall_time_s", "date", "commit", "dirty", "host", "segments",
             "source_training", "platform",
             "device_name", "cpu", "python", "torch"}


def _strip(value):
    """``value`` without the fields of :data:`_VOLATILE`, at any depth."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def dump(out: str, cases: list[str]) -> None:
    """Train the smoke runs of ``cases`` with the ``qornn`` on ``sys.path`` into the folders its
    environment names, and save what they recorded and their final checkpoints' tensors to ``out``."""
    from qornn import results
    from qornn.experiments import run_experiment

    torch.set_num_threads(1)
    numbers, tensors = {}, {}
    if "wings" in cases:
        numbers.update(_wing_numbers())
    for experiment in (case for case in cases if case != "wings"):
        record = run_experiment(experiment, "smoke", runs=CASES[experiment], progress=False)
        for run, data in record["runs"].items():
            numbers[f"{experiment}/{run}"] = _strip({k: v for k, v in data.items() if k != "weights"})
    for path in sorted(results.runs_dir("smoke").rglob("*.pt")):
        saved = torch.load(path, weights_only=True)
        name = str(path.relative_to(results.runs_dir("smoke")))
        tensors.update({f"{name}:model.{k}": v for k, v in saved["model"].items()})
        state = saved["optimizer"]["state"]
        tensors.update({f"{name}:optimizer.{i}.{k}": v for i, s in state.items() for k, v in s.items()
                        if torch.is_tensor(v)})
    torch.save({"numbers": json.dumps(numbers, sort_keys=True), "tensors": tensors}, out)


def _wing_numbers() -> dict:
    """What every wing and theory experiment records at its smoke profile, by experiment and run."""
    from qornn.theory import runner as theory
    from qornn.wings import run_wing_experiment, wing_experiment_names

    numbers = {}
    records = [(name, run_wing_experiment(name, "smoke", progress=False)) for name in wing_experiment_names()]
    records += [(name, theory.run(name, "smoke", progress=False)) for name in theory.THEORY_EXPERIMENTS]
    for experiment, record in records:
        for run, data in record["runs"].items():
            numbers[f"{experiment}/{run}"] = _strip(data)
    return numbers


def outputs(root: Path, work: Path, cases: list[str]) -> dict:
    out, data = work / f"{root.name}.pt", work / f"{root.name}-data"
    run_worker(Path(__file__).name, root, ["--dump", str(out), "--cases", *cases],
               env={"QORNN_DATA_DIR": str(data), "QORNN_RUNS_DIR": str(data / "runs"),
                    "QORNN_EXT_DIR": str(work / f"{root.name}-build"), "QORNN_REQUIRE_FAST_KERNEL": "1",
                    "QORNN_CACHE_DIR": str(REPO / "data" / "cache"), "OMP_NUM_THREADS": "1"})
    saved = torch.load(out, weights_only=True)
    return {"numbers": json.loads(saved["numbers"]), "tensors": saved["tensors"]}


def _leave_out(numbers: dict, fields: list[str]) -> dict:
    """``numbers`` (run -> recorded fields) without the dotted ``fields`` (e.g. analysis.activation_ptq)."""
    out = json.loads(json.dumps(numbers))
    for data in out.values():
        for field in fields:
            *parents, last = field.split(".")
            node = data
            for key in parents:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(last, None)
    return out


def _first_difference(before, after, at: str = "") -> str:
    """The dotted path of the first field where two recorded values differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) != after.get(key):
                return _first_difference(before.get(key), after.get(key), f"{at}.{key}" if at else key)
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{at}[{i}]")
    return at or "the whole run"


def differences(before: dict, after: dict, leave_out: list[str] = ()) -> list[str]:
    """What differs between two versions' outputs: a run's recorded numbers (but the fields of
    ``leave_out``), or a tensor."""
    numbers_before = _leave_out(before["numbers"], leave_out)
    numbers_after = _leave_out(after["numbers"], leave_out)
    found = [f"numbers of {name} ({_first_difference(numbers_before.get(name), numbers_after.get(name))})"
             for name in sorted(numbers_before.keys() | numbers_after.keys())
             if numbers_before.get(name) != numbers_after.get(name)]
    a, b = before["tensors"], after["tensors"]
    found += [f"tensor {name}" for name in sorted(a.keys() | b.keys()) if name not in a or name not in b
              or a[name].dtype != b[name].dtype or not torch.equal(a[name], b[name])]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", nargs="?", help="the earlier commit to compare with")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=DEFAULT_CASES,
                        help="default: every case but wings")
    parser.add_argument("--leave-out", nargs="+", default=[], metavar="FIELD",
                        help="recorded fields not compared, dotted (analysis.activation_ptq): for a change "
                             "meant to alter a measurement made after training, whose records are then "
                             "measured again; the result names them and how many runs they differed in")
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        dump(args.dump, args.cases)
        return 0
    if not args.commit:
        parser.error("name the commit to compare with")
    commit = resolve(args.commit)
    sys.path.insert(0, str(REPO))  # this checkout's qornn (a --dump process imports its PYTHONPATH's)
    from qornn.results import atomic_write_json, provenance, results_dir

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old = unpack(commit, work / "old")
        before, after = outputs(old, work, args.cases), outputs(REPO, work, args.cases)
        changed = differing_files(old, REPO)
        ids_before, ids_after = blob_ids(old, changed), blob_ids(REPO, changed)
    different = differences(before, after, args.leave_out)
    left_out_differ = [name for name in differences(before, after) if name not in different]
    record = {
        "description": "whole smoke-profile training runs of this commit against those of an earlier "
                       "commit, every recorded number and checkpoint tensor bit for bit",
        "compared_with": commit,
        "threads": 1,
        "experiments": {experiment: CASES[experiment] or "all runs" for experiment in args.cases},
        "cases": len(after["numbers"]),
        "tensors": len(after["tensors"]),
        "different": len(different),
        "different_cases": different[:20],
        **({"left_out": args.leave_out, "different_in_left_out": left_out_differ} if args.leave_out else {}),
        "blobs_before": ids_before,
        "blobs_after": ids_after,
        "provenance": provenance(profile="benchmark", seed=0, device="cpu",
                                 wall_time_s=time.perf_counter() - start),
    }
    # a check of other cases than the default ones is a record of its own beside theirs
    suffix = "" if args.cases == DEFAULT_CASES else "-" + "-".join(args.cases)
    path = results_dir() / "benchmarks" / "training_equivalence" / f"{commit[:12]}{suffix}.json"
    atomic_write_json(path, record)
    print(f"{record['cases']} runs and {record['tensors']} tensors compared, {len(different)} different; "
          f"files changed: {', '.join(changed) or 'none'}; written to {path}")
    if args.leave_out:
        print(f"  left out {', '.join(args.leave_out)}, which differ in {len(left_out_differ)} runs")
    for name in different[:20]:
        print("  different:", name)
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
