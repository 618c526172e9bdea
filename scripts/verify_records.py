"""Does this machine reproduce the committed records? ``qornn verify`` for several recorded runs at
once (their first epochs, each in a process of its own, at the record's torch threads), kept as one
record.

    python scripts/verify_records.py EXPERIMENT/RUN ... [--profile paper] [--epochs 1]

The result goes to ``data/results/benchmarks/reproducibility/records-<profile>-<date>.json``: per run,
when and where its record was made (commit, date, how many starts, the CPU where recorded) and
whether its first epochs were reproduced bit for bit here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qornn import reproduce, results  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="EXPERIMENT/RUN")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    pairs = []
    for item in args.runs:
        experiment, sep, run = item.partition("/")
        if not sep or not run:
            raise SystemExit(f"expected EXPERIMENT/RUN, got {item!r}")
        reproduce.recorded_run(experiment, args.profile, run)  # a missing run fails before any training
        pairs.append((experiment, run))
    code, started, rows = results.git_commit(), time.perf_counter(), []
    for experiment, run in tqdm(pairs, desc="records"):
        result = reproduce.verify(experiment, args.profile, run, epochs=args.epochs)
        tqdm.write(f"{experiment}/{run}: {result['verdict']}")
        made, here = result["recorded"], result["retrained"]
        rows.append({"experiment": experiment, "run": run, "verdict": result["verdict"],
                     "same": bool(result["frame"]["same"].all()),
                     "recorded": {k: made[k] for k in ("commit", "date", "device_name", "cpu", "platform")
                                  if k in made} | {"starts": len(made.get("segments") or []) or 1},
                     "retrained": {k: here[k] for k in ("commit", "dirty", "device_name", "cpu")
                                   if k in here}})
    record = {"profile": args.profile, "epochs": args.epochs, "runs": rows,
              "provenance": results.provenance(profile=args.profile, seed=0, device="cpu", code=code,
                                               wall_time_s=time.perf_counter() - started)}
    out = reproduce.reproducibility_dir() / f"records-{args.profile}-{record['provenance']['date'][:10]}.json"
    results.atomic_write_json(out, record)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
