"""The experiments of the group's other papers (the "wings": :mod:`qornn.sparse`,
:mod:`qornn.overestimate`), resolved, run and recorded like the RNN experiments.

Their definitions are plain data in private modules of the registry package
(``qornn/experiments/_sea.py``, ``_overestimate.py``): private because the RNN runner, which trains
models on tasks, has nothing to run in them. This module is their runner: one call of the wing's
``experiment.run(options, seed=…)`` computes every run of an experiment together (they share their
problems), and each run is written to ``data/results/<experiment>/<profile>.json`` through
:func:`qornn.results.save_run`, in the same record format and with the same provenance as an RNN
run (``size_bits`` is None: there is no model to size). Command line:

    python -m qornn.wings list
    python -m qornn.wings run sea-deconvolution --profile cpu [--seed S] [--retrain]
    python -m qornn.wings show overestimate-cessna --profile cpu
"""

from __future__ import annotations

import copy
import importlib
import time
from dataclasses import dataclass
from typing import Any

from . import results
from .experiments import EXPERIMENTS as _RNN_EXPERIMENTS
from .experiments import PROFILES, _overestimate, _sea

__all__ = ["WING_EXPERIMENTS", "WINGS", "WingConfig", "wing_experiment_names", "get_wing_config",
           "run_wing_experiment", "recorded_or_run", "record_notes", "wing_code", "main"]

#: wing name -> the module whose ``run(options, *, seed, progress)`` runs one experiment
WINGS = {"sparse": "qornn.sparse.experiment", "overestimate": "qornn.overestimate.experiment"}

WING_EXPERIMENTS: dict[str, dict[str, Any]] = {}
for _module in (_sea, _overestimate):
    _clash = sorted((WING_EXPERIMENTS.keys() | _RNN_EXPERIMENTS.keys()) & _module.EXPERIMENTS.keys())
    if _clash:
        raise ValueError(f"{_module.__name__} redefines the experiment(s) {', '.join(_clash)}")
    WING_EXPERIMENTS.update(_module.EXPERIMENTS)


def wing_experiment_names(paper: str | None = None) -> list[str]:
    return sorted(name for name, spec in WING_EXPERIMENTS.items() if paper in (None, spec["paper"]))


@dataclass
class WingConfig:
    """One wing experiment under one profile: what goes into each of its runs' records."""

    experiment: str
    profile: str
    paper: str
    wing: str
    options: dict[str, Any]
    note: str
    source: str

    def run_config(self, seed: int) -> dict[str, Any]:
        """Everything that determines the experiment's numbers (its hash keys the record)."""
        return {"experiment": self.experiment, "profile": self.profile, "wing": self.wing,
                "options": self.options, "seed": seed}


def wing_code(wing: str) -> tuple[str, ...]:
    """The code a wing's numbers depend on: its subpackage and this runner. The wing imports
    nothing from the RNN code (``tests/test_sparse.py`` checks it), so a change there cannot change
    its numbers and does not flag its records."""
    return (f"qornn/{wing}", "qornn/wings.py")


def get_wing_config(experiment: str, profile: str) -> WingConfig:
    """Resolve ``experiment`` under ``profile``; unknown names list the valid ones."""
    if experiment not in WING_EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; valid: {', '.join(wing_experiment_names())}")
    spec = WING_EXPERIMENTS[experiment]
    if profile not in spec["profiles"]:
        raise ValueError(f"unknown profile {profile!r} for {experiment!r}; "
                         f"valid: {', '.join(p for p in PROFILES if p in spec['profiles'])}")
    options = copy.deepcopy(spec["profiles"][profile])
    note = options.pop("note", "")
    return WingConfig(experiment=experiment, profile=profile, paper=spec["paper"], wing=spec["wing"],
                      options=options, note=note, source=spec.get("source", ""))


def run_wing_experiment(experiment: str, profile: str, *, seed: int = 0, retrain: bool = False,
                        progress: bool = True) -> dict:
    """Run the experiment unless every run is already recorded with this configuration (or
    ``retrain``), record each run, and return the record."""
    cfg = get_wing_config(experiment, profile)
    seed = results.check_seed(seed)
    run_config = cfg.run_config(seed)
    digest = results.config_hash(run_config)
    record = results.load_record(experiment, profile, missing_ok=True)
    if record is not None and not retrain and record["runs"] and \
            all(run["config_hash"] == digest for run in record["runs"].values()):
        return record
    code = results.git_commit()  # the code that runs now
    module = importlib.import_module(WINGS[cfg.wing])
    start = time.perf_counter()
    runs = module.run(copy.deepcopy(cfg.options), seed=seed, progress=progress)
    total = time.perf_counter() - start
    for name, out in runs.items():
        out = dict(out)
        wall = out.pop("wall_time_s", total)
        results.save_run(experiment, profile, name, {
            "config": run_config, "config_hash": digest, "history": out.pop("history"),
            "test": out.pop("test"), "size_bits": None, **out,
            "provenance": {**results.provenance(profile=profile, seed=seed, device="cpu",
                                                wall_time_s=wall, code=code),
                           "experiment_wall_time_s": round(total, 2)},
        })
    return results.load_record(experiment, profile)


def recorded_or_run(experiment: str, profile: str, *, seed: int = 0,
                    retrain: bool = False) -> tuple[dict, bool]:
    """What a notebook shows: the committed record, or with ``retrain`` the record after running
    the experiment here without progress bars. Like the RNN pages, it never runs a missing record
    on its own (the book's build must not start long runs): that raises
    :class:`~qornn.results.RecordMissing` with the command that records it. Returns ``(record, ran)``."""
    get_wing_config(experiment, profile)  # a typo fails here, before anything runs
    if not retrain:
        record = results.load_record(experiment, profile, missing_ok=True)
        if record is not None:
            return record, False
        raise results.RecordMissing(
            f"{experiment}/{profile}", f"python -m qornn.wings run {experiment} --profile {profile}, "
            "or run the page with retrain = True (papermill: -p retrain True)")
    return run_wing_experiment(experiment, profile, seed=seed, retrain=retrain, progress=False), True


def record_notes(record: dict, ran: bool) -> str:
    """One paragraph for a page: where the numbers come from (profile, seed, commit, wall time),
    and whether the record may be out of date (configuration or code changed since)."""
    cfg = get_wing_config(record["experiment"], record["profile"])
    some = next(iter(record["runs"].values()))
    prov = some["provenance"]
    seed = some["config"]["seed"]
    lines = [f"Profile `{record['profile']}` ({cfg.note}); seed {seed}; "
             f"{'run here now' if ran else 'rendered from the committed record'} "
             f"`data/results/{record['experiment']}/{record['profile']}.json`, made at commit "
             f"`{str(prov.get('commit'))[:8]}` on {prov['device_name']} in "
             f"{prov.get('experiment_wall_time_s', prov['wall_time_s']):.0f} s ({prov['date']})."]
    if some["config_hash"] != results.config_hash(cfg.run_config(seed)):
        lines.append("**Note: the experiment's definition has changed since this record was made; "
                     "rerun it to refresh the numbers.**")
    changed = results.code_changed_since(some, scope=wing_code(cfg.wing))
    if changed:
        lines.append(f"**Note: this record was {changed}.**")
    return " ".join(lines)


def _summary(record: dict) -> str:
    lines = [f"{record['experiment']} / {record['profile']}"]
    for name, run in sorted(record["runs"].items()):
        test = run["test"]
        if "k" in test:  # SEA: mean over trials at each k
            values = [(k, sum(v) / len(v)) for k, v in zip(test["k"], test.get("recovery") or test["loss"],
                                                           strict=True)]
            what = "recovery" if test.get("recovery") else "loss"
            shown = ", ".join(f"k={k}: {v:.3g}" for k, v in values)
            lines.append(f"  {name:<12} mean {what}: {shown}")
        else:  # over-estimation: the gap on the grid
            grid = test["grid"]
            lines.append(f"  {name:<12} grid gap mean {grid['mean_gap']:.4g}, max {grid['max_gap']:.4g}, "
                         f"under-estimated {grid['under_share']:.2%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m qornn.wings {list | run EXPERIMENT | show EXPERIMENT} [--profile P] [--seed S]
    [--retrain]``: the command line of the wings' experiments."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m qornn.wings", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the wings' experiments and their profiles")
    for command in ("run", "show"):
        p = sub.add_parser(command)
        p.add_argument("experiment", help=f"one of: {', '.join(wing_experiment_names())}")
        p.add_argument("--profile", default="cpu", help=f"one of: {', '.join(PROFILES)} (default cpu)")
        if command == "run":
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--retrain", action="store_true", help="run again even if recorded")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for name in wing_experiment_names():
                spec = WING_EXPERIMENTS[name]
                print(f"  {name} ({spec['paper']}): {', '.join(spec['profiles'])}")
        elif args.command == "run":
            record = run_wing_experiment(args.experiment, args.profile, seed=args.seed, retrain=args.retrain)
            print(_summary(record))
            print(f"recorded in {results.record_path(args.experiment, args.profile)}")
        else:
            get_wing_config(args.experiment, args.profile)
            print(_summary(results.load_record(args.experiment, args.profile)))
    except ValueError as err:
        print(f"qornn.wings: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
