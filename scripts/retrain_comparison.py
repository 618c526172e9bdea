"""Compare a retrained run with the record it replaced, every epoch and the test numbers, bit for bit,
and keep the comparison: ``qornn run ... --retrain`` writes over the run's entry, and the earlier
numbers stay only in git.

    python scripts/retrain_comparison.py EXPERIMENT RUN --before COMMIT [--profile paper] [--seed 0]

``COMMIT``: a commit whose record holds the earlier run (the one before the retrain was committed).
The result goes to ``data/results/benchmarks/reproducibility/<experiment>-<profile>-<run>-retrain.json``
with both runs' provenance (commit, date, machine, CPU where recorded).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qornn import reproduce, results  # noqa: E402
from qornn.experiments import get_config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment")
    parser.add_argument("run")
    parser.add_argument("--before", required=True, help="a commit whose record holds the earlier run")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    variant = get_config(args.experiment, args.profile).record_variant(args.seed)
    path = results.record_path(args.experiment, args.profile, variant)
    relative = path.resolve().relative_to(REPO).as_posix()
    shown = subprocess.run(["git", "-C", str(REPO), "show", f"{args.before}:{relative}"],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        raise SystemExit(f"no {relative} at {args.before}: {shown.stderr.strip()}")
    earlier = json.loads(shown.stdout)["runs"][args.run]
    later = reproduce.recorded_run(args.experiment, args.profile, args.run, seed=args.seed)
    result = reproduce.compare_runs(earlier, later)
    record = {"experiment": args.experiment, "profile": args.profile, "run": args.run, "seed": args.seed,
              "before": args.before, **result,
              "provenance": results.provenance(profile=args.profile, seed=args.seed, device="cpu",
                                               wall_time_s=time.perf_counter() - started)}
    out = reproduce.reproducibility_dir() / f"{args.experiment}-{args.profile}-{args.run}-retrain.json"
    results.atomic_write_json(out, record)
    print(f"{result['verdict']}; test numbers {'the same' if result['test_same'] else 'differ'}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
