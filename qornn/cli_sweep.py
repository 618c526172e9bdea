"""``qornn sweep EXPERIMENT --profile P [--runs a,b] [--seeds 0,1,2] [--grid KEY=V1,V2 ...]
[--set KEY=VALUE ...] [--executor local|ray|slurm] [--retries N]``: run a grid (:mod:`qornn.sweep`).

Wired into :mod:`qornn.cli` by ``add_sweep_command(sub)`` and, in the dispatch,
``if args.command == "sweep": return run_sweep_command(args)``.
"""

from __future__ import annotations

import argparse
import sys

from . import sweep

__all__ = ["add_sweep_command", "run_sweep_command"]


def add_sweep_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``subparsers`` and return its parser."""
    p = subparsers.add_parser(
        "sweep", help="run an experiment's grid (variants x seeds) on local cores, Ray or SLURM",
        description="Expand --grid (override keys, each with its values) x --seeds into runs, skip those "
                    "recorded for the current code, run the rest through the same function as `qornn "
                    "run` (one task per trained run), retry failures, gather the records and print a "
                    "summary. Ray and SLURM need the extra: pip install -e '.[cluster]'.")
    p.add_argument("experiment")
    p.add_argument("--profile", default="cpu", help="smoke, cpu or paper (default cpu)")
    p.add_argument("--runs", default=None, help="comma-separated subset of the experiment's runs")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0); seed S > 0 is "
                                                "recorded in variants/<profile>/...seed=S.json")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="an axis of the grid (repeatable): hidden_size=32,64 or hadamrnn.bits=2,4")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="an override for every grid point (repeatable)")
    p.add_argument("--executor", default="local", choices=sweep.EXECUTORS)
    p.add_argument("--retries", type=int, default=1, help="more tries for a failed run (default 1)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--keep-stale", action="store_true",
                   help="count a run recorded with the same configuration as done even if the code "
                        "changed since it was made (default: train it again)")
    p.add_argument("--dry-run", action="store_true", help="list the tasks and the skipped runs, run nothing")
    p.add_argument("--no-progress", action="store_true")
    local = p.add_argument_group("local")
    local.add_argument("--jobs", type=int, default=None, help="processes (default: one per core)")
    ray = p.add_argument_group("ray")
    ray.add_argument("--address", default=None, help="join this Ray cluster ('auto': the one here)")
    ray.add_argument("--gpus-per-run", type=float, default=0)
    slurm = p.add_argument_group("slurm")
    slurm.add_argument("--slurm-config", default=None, metavar="YAML",
                       help=f"a YAML file with any of: {', '.join(sweep.SLURM_KEYS)}")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--time", type=int, default=None, help="minutes per job (default 60)")
    slurm.add_argument("--gpus", type=int, default=None, help="GPUs per job")
    slurm.add_argument("--array-parallelism", type=int, default=None, help="jobs of the array at once")
    slurm.add_argument("--folder", default=None, help="submitit's logs (default runs/submitit)")
    return p


def _executor_options(args: argparse.Namespace) -> dict:
    if args.executor == "local":
        return {"jobs": args.jobs}
    if args.executor == "ray":
        return {"address": args.address, "cpus_per_run": args.threads, "gpus_per_run": args.gpus_per_run}
    options = sweep.load_slurm_config(args.slurm_config) if args.slurm_config else {}
    for key in ("partition", "time", "gpus", "array_parallelism", "folder"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    options.setdefault("cpus", args.threads)
    return options


def run_sweep_command(args: argparse.Namespace) -> int:
    common = dict(runs=args.runs.split(",") if args.runs else None, seeds=args.seeds, grid=args.grid,
                  overrides=args.overrides, device=args.device, threads=args.threads,
                  rerun_stale=not args.keep_stale)
    if args.dry_run:
        planned = sweep.plan(args.experiment, args.profile, **common)
        for task in planned.tasks:
            print(f"run:  {task.label}" + (f" (stale: {','.join(task.stale)})" if task.stale else ""))
        for variant, seed, run in planned.skipped:
            print(f"skip: {variant or args.profile} seed {seed}: {run} (recorded for the current code)")
        return 0
    options = _executor_options(args)
    if args.executor == "slurm":  # each run uses the CPUs its job has
        common["threads"] = int(options["cpus"])
    report = sweep.run_sweep(args.experiment, args.profile, executor=args.executor,
                             executor_options=options, retries=args.retries,
                             progress=not args.no_progress, **common)
    print(report.table())
    if report.failed:
        print(f"qornn sweep: {len(report.failed)} task(s) failed; rerun the same command to resume them",
              file=sys.stderr)
        return 1
    return 0
