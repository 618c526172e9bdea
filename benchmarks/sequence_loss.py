"""The per-position cross-entropy of a many-to-many task, two ways, forward + backward, side by side.

- ``flat``: ``F.cross_entropy(logits.reshape(-1, C), target.reshape(-1))``, the usual way;
- ``classes-dim-1``: :func:`qornn.tasks.base.sequence_cross_entropy`, the same number computed on a
  (B, C, T) view, where ATen's log-softmax vectorises along time instead of over the C classes.

Shapes: the copy task at the paper's shape (batch 128, T = 1020, C = 9), PTB characters (batch 128,
T = 150, C = 50) and PTB words (batch 64, T = 150, C = 10,000). Interleaved repetitions, medians, and the
median of the per-repetition ratios flat / classes-dim-1. Results go to
``data/results/benchmarks/sequence_loss.json`` with provenance.

    .venv/bin/python benchmarks/sequence_loss.py            # recorded
    .venv/bin/python benchmarks/sequence_loss.py --no-json  # print only
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import default_path, interleaved_times, median_ratios, write_record

from qornn.tasks.base import sequence_cross_entropy

SHAPES = {"copy": (128, 1020, 9), "ptb-char": (128, 150, 50), "ptb-word": (64, 150, 10_000)}


def closures(batch: int, T: int, classes: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, T, classes, generator=gen).requires_grad_()
    target = torch.randint(0, classes, (batch, T), generator=gen)

    def flat() -> None:
        logits.grad = None
        F.cross_entropy(logits.reshape(-1, classes), target.reshape(-1)).backward()

    def dim1() -> None:
        logits.grad = None
        sequence_cross_entropy(logits, target).backward()

    return {"flat": flat, "classes-dim-1": dim1}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = []
    for name in args.shapes:
        batch, T, classes = SHAPES[name]
        times = interleaved_times(closures(batch, T, classes, args.seed), args.reps, warmup=2)
        ratio = median_ratios(times, "classes-dim-1")["flat"]
        rows.append({"shape": name, "batch": batch, "T": T, "classes": classes, "times_s": times,
                     "median_s": {v: statistics.median(ts) for v, ts in times.items()},
                     "flat_over_classes_dim_1": ratio})
        print(f"{name} (B={batch}, T={T}, C={classes}): flat {rows[-1]['median_s']['flat'] * 1e3:.1f} ms, "
              f"classes on dim 1 {rows[-1]['median_s']['classes-dim-1'] * 1e3:.1f} ms: {ratio:.2f}x",
              flush=True)
    if not args.no_json:
        write_record(args.out or default_path("sequence_loss"), {
            "benchmark": "sequence_loss",
            "description": "per-position cross-entropy, forward + backward: flat (N, C) vs classes on "
                           "dimension 1 of a (B, C, T) view",
            "config": {"shapes": {k: SHAPES[k] for k in args.shapes}, "reps": args.reps,
                       "threads": args.threads},
            "sizes": rows}, seed=args.seed, wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
