"""How much a run's numbers depend on the machine: train the first epochs of one recorded run again
under several environments (torch threads, torch's CPU kernels), each in a process of its own, and
compare each epoch with the record bit for bit (:func:`qornn.reproduce.verify`).

    python scripts/environment_sensitivity.py EXPERIMENT RUN [--profile paper] [--epochs 1] [--seed 0]

Environments: the record's number of torch threads on this CPU's own kernels; two threads; torch's
AVX2 kernels and its kernels without vector instructions (``ATEN_CPU_CAPABILITY``, which the fused
kernel, built for this CPU, ignores). The result goes to
``data/results/benchmarks/reproducibility/<experiment>-<profile>-<run>.json`` with the record's numbers
it was compared with (commit, date), so that it stays readable when that record is trained again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qornn import reproduce, results  # noqa: E402

#: name -> environment added to the retrain's (on top of the record's thread count)
ENVIRONMENTS = {
    "as recorded": {},
    "2 torch threads": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
    "torch AVX2 kernels": {"ATEN_CPU_CAPABILITY": "avx2"},
    "torch kernels without vector instructions": {"ATEN_CPU_CAPABILITY": "default"},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment")
    parser.add_argument("run")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    recorded = reproduce.recorded_run(args.experiment, args.profile, args.run, seed=args.seed)
    code = results.git_commit()  # the code that ran, taken at the start, as a run's provenance does
    rows = []
    started = time.perf_counter()
    for name, env in tqdm(ENVIRONMENTS.items(), desc="environments"):
        result = reproduce.verify(args.experiment, args.profile, args.run, epochs=args.epochs,
                                  seed=args.seed, env=env)
        tqdm.write(f"{name}: {result['verdict']}")
        prov = result["retrained"]
        rows.append({"environment": name, "env": env, "verdict": result["verdict"],
                     "device_name": prov.get("device_name"), "cpu": prov.get("cpu"),
                     "commit": prov.get("commit"), "dirty": prov.get("dirty"),
                     "epochs": result["frame"].to_dict(orient="records")})
    prov = recorded["provenance"]
    record = {
        "experiment": args.experiment, "profile": args.profile, "run": args.run, "seed": args.seed,
        "epochs": args.epochs,
        "recorded": {key: prov.get(key) for key in ("commit", "date", "device_name", "cpu", "platform",
                                                    "segments") if prov.get(key) is not None},
        "environments": rows,
        "provenance": results.provenance(profile=args.profile, seed=args.seed, device="cpu", code=code,
                                         wall_time_s=time.perf_counter() - started),
    }
    out = results.data_dir() / "results" / "benchmarks" / "reproducibility" / \
        f"{args.experiment}-{args.profile}-{args.run}.json"
    results.atomic_write_json(out, record)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
