"""Training steps with glibc's default allocator policy and with freed memory kept (qornn.allocator).

For each paper-profile run named, the script builds the model and a training batch as ``qornn run``
does and times full optimiser steps (forward, loss, backward, update, constraints) on one thread, the
two policies side by side in one process: each repetition runs, under each policy in turn, one untimed
step (under the retaining policy it fills the heap the timed step then reuses; switching back to the
defaults trims it) and one timed step, counting its minor page faults. The ratio is the median over
repetitions of (default time / retained time). The same step computes the same numbers either way
(``tests/test_allocator.py``); only where the tensors live differs.

    .venv/bin/python benchmarks/allocator.py                    # the recorded run (~5 min)
    .venv/bin/python benchmarks/allocator.py --runs qornn-copy/qornn-ste-bjorck-4bit --reps 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from _common import default_path, write_record

from qornn import allocator
from qornn.experiments import get_config
from qornn.experiments.runner import _build
from qornn.tasks import build_task
from qornn.train import flush_denormals

#: experiment/run of the paper profile: QORNN's dense recurrences and HadamRNN's fused kernel, on the
#: copy task (T = 1000) and pMNIST (T = 784)
DEFAULT_RUNS = ("qornn-copy/qornn-ste-bjorck-4bit", "qornn-copy/ornn-projunn", "copy/hadamrnn",
                "copy-released/block-hadamrnn-n512-m16-p2", "pmnist/hadamrnn",
                "qornn-pmnist/qornn-ste-bjorck-4bit")
POLICIES = {"default": False, "retained": True}


def step_closure(experiment: str, run: str, profile: str = "paper"):
    """One optimiser step of ``run`` on one real training batch of its batch size."""
    cfg = get_config(experiment, profile)
    if run not in cfg.models or cfg.source_run(run) is not None:
        raise ValueError(f"{experiment}/{run} is not a trained run of the {profile!r} profile")
    task = build_task(cfg.task, **cfg.task_options, seed=0)
    train = cfg.train_config(run)
    model = _build(cfg, run, task, 0)
    x, y = task.batch("train", torch.arange(min(train.batch_size, task.num_samples("train"))))
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        task.loss(model(x), y).backward()
        optimizer.step()
        model.apply_constraints_()
    return step


def measure(step, reps: int) -> dict:
    """Seconds and minor page faults of ``reps`` timed steps under each policy, interleaved."""
    times: dict[str, list[float]] = {p: [] for p in POLICIES}
    faults: dict[str, list[int]] = {p: [] for p in POLICIES}
    try:
        with flush_denormals():
            for _ in range(reps):
                for policy, retain in POLICIES.items():
                    allocator.retain_freed_memory(retain)
                    step()  # untimed: the retained policy's heap is filled here
                    before, start = allocator.minor_page_faults(), time.perf_counter()
                    step()
                    times[policy].append(time.perf_counter() - start)
                    faults[policy].append(allocator.minor_page_faults() - before)
    finally:
        allocator.retain_freed_memory(False)
    ratio = statistics.median(d / r for d, r in zip(times["default"], times["retained"], strict=True))
    return {"times_s": times, "minor_faults": faults, "default_over_retained": ratio,
            "median_s": {p: statistics.median(t) for p, t in times.items()},
            "median_faults": {p: statistics.median(f) for p, f in faults.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=list(DEFAULT_RUNS),
                   help="experiment/run of the profile")
    p.add_argument("--profile", default="paper", help="the runs' profile (default paper)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default=None, help="JSON path (default: data/results/benchmarks/allocator.json)")
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    if allocator._mallopt() is None:
        raise SystemExit("the C library is not glibc: there is no allocator policy to compare")
    torch.set_num_threads(1)
    load_before, start = list(os.getloadavg()), time.perf_counter()
    rows = []
    print(f"one training step, {args.profile} profile, 1 torch thread, {args.reps} interleaved reps; "
          "default / retained = the median of side-by-side ratios")
    for name in args.runs:
        experiment, _, run = name.partition("/")
        step = step_closure(experiment, run, args.profile)
        row = {"experiment": experiment, "run": run, **measure(step, args.reps)}
        rows.append(row)
        seconds, faults = row["median_s"], row["median_faults"]
        print(f"  {name:<45} default {seconds['default']:.3f} s ({faults['default']:,.0f} faults)  "
              f"retained {seconds['retained']:.3f} s ({faults['retained']:,.0f} faults)  "
              f"default/retained {row['default_over_retained']:.2f}x", flush=True)
    if not args.no_json:
        record = {"benchmark": "allocator",
                  "description": "one paper-profile training step with glibc's default allocator policy "
                                 "and with freed memory kept for the next step (qornn.allocator)",
                  "config": {"reps": args.reps, "threads": 1, "profile": args.profile,
                             "load_average_before": load_before,
                             "load_average_after": list(os.getloadavg())},
                  "runs": rows}
        write_record(default_path("allocator") if args.out is None else Path(args.out),
                     record, seed=0, wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
