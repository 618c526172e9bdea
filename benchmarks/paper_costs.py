"""What each run of the `paper` profiles costs on this CPU: measured seconds per optimiser step × steps.

For every experiment with a ``paper`` profile and every run that trains (post-training-quantization runs
train nothing), the script builds the run's model and task exactly as ``qornn run`` does, takes one
real training batch of the profile's batch size, and times a few full optimiser steps (forward, loss,
backward, update, the model's constraints) after one warm-up step, on one torch thread, with freed
memory kept for the next step as ``qornn run`` keeps it (``qornn.allocator``). The projected
cost is the median step time × the profile's number of optimiser steps (epochs × batches per epoch),
without evaluation. A run whose data cannot be had here (IMDB, GLUE) is listed with the reason.

The machine is shared: each row keeps when and under which load it was measured (``measured_at``:
commit, date, load average before and after), and the projections are as good as the step times
measured under that load. Output: ``data/results/benchmarks/paper_costs.json``.

Measuring some experiments (``--experiments``) replaces their rows in an existing record and keeps the
other experiments' rows with their own ``measured_at``; ``--replace`` writes only what this call measured.

    .venv/bin/python benchmarks/paper_costs.py                  # every paper run (~10 min)
    .venv/bin/python benchmarks/paper_costs.py --experiments qornn-copy-released --steps 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from _common import default_path, write_record

from qornn.allocator import retain_freed_memory
from qornn.benchmark_report import measured_at
from qornn.experiments import EXPERIMENTS, get_config
from qornn.experiments.runner import _build
from qornn.models import implementation
from qornn.results import git_commit
from qornn.tasks import build_task
from qornn.train import batches_per_epoch, flush_denormals


def step_seconds(model: torch.nn.Module, task, cfg, steps: int) -> list[float]:
    """Seconds of ``steps`` optimiser steps on one training batch, after one warm-up step."""
    index = torch.arange(min(cfg.batch_size, task.num_samples("train")))
    x, y = task.batch("train", index)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    times = []
    with flush_denormals():
        for i in range(steps + 1):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            task.loss(model(x), y).backward()
            optimizer.step()
            if hasattr(model, "apply_constraints_"):
                model.apply_constraints_()
            if i:
                times.append(time.perf_counter() - start)
    return times


def measure(experiment: str, steps: int, profile: str = "paper") -> list[dict]:
    cfg = get_config(experiment, profile)
    try:
        task = build_task(cfg.task, **cfg.task_options, seed=0)
    except (OSError, ValueError, RuntimeError) as err:  # a data set that cannot be had offline
        reason = str(err).splitlines()[0][:300]
        return [{"experiment": experiment, "run": run, "measured": False, "reason": reason}
                for run in cfg.models if cfg.source_run(run) is None]
    rows = []
    for run, spec in cfg.models.items():
        if cfg.source_run(run) is not None:
            continue
        tc = cfg.train_config(run)
        model = _build(cfg, run, task, 0)  # as qornn run builds it
        times = step_seconds(model, task, tc, steps)
        total_steps = tc.epochs * batches_per_epoch(task.num_samples("train"), tc.batch_size)
        median = statistics.median(times)
        rows.append({"experiment": experiment, "run": run, "measured": True, "model": spec["model"],
                     "hidden_size": spec.get("hidden_size"), "batch_size": tc.batch_size,
                     "optimizer_steps": total_steps, "step_times_s": times, "median_step_s": median,
                     "projected_hours": median * total_steps / 3600,
                     "implementation": implementation(model)["recurrence"]})
        print(f"  {experiment}/{run}: {median:.3f} s/step × {total_steps:,} steps = "
              f"{rows[-1]['projected_hours']:.1f} h", flush=True)
    return rows


def merged_rows(old: dict | None, rows: list[dict], experiments: list[str]) -> list[dict]:
    """``rows`` (the experiments just measured) after the rows of ``old``'s other experiments, those in
    the order ``old`` had them; an old row without ``measured_at`` (written before rows carried it)
    gets it from ``old``'s provenance and load averages, which are when it was measured."""
    if old is None:
        return rows
    kept = [{**row, "measured_at": measured_at(old, row)}
            for row in old.get("runs", []) if row["experiment"] not in experiments]
    return kept + rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    paper = [e for e in EXPERIMENTS if "paper" in EXPERIMENTS[e].get("profiles", {})]
    p.add_argument("--experiments", nargs="+", default=paper, choices=paper)
    p.add_argument("--steps", type=int, default=3, help="timed optimiser steps per run")
    p.add_argument("--profile", default="paper", help="the profile whose runs are costed (tests: smoke)")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON path (default: data/results/benchmarks/paper_costs.json)")
    p.add_argument("--replace", action="store_true",
                   help="write only this call's rows (default: keep the other experiments' rows)")
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    retained = retain_freed_memory()  # as qornn run and qornn sweep train (qornn.allocator)
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = []
    for experiment in args.experiments:
        print(experiment, flush=True)
        rows.extend(measure(experiment, args.steps, args.profile))
    when = {**git_commit(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "load_average_before": load_before, "load_average_after": os.getloadavg()}
    rows = [{**row, "measured_at": when} for row in rows]
    for row in rows:
        if not row["measured"]:
            print(f"  {row['experiment']}/{row['run']}: not measured ({row['reason']})", file=sys.stderr)
    if not args.no_json:
        out = args.out or default_path("paper_costs")
        old = None if args.replace or not out.exists() else json.loads(out.read_text())
        if old is not None and old.get("config", {}).get("profile", args.profile) != args.profile:
            raise SystemExit(f"{out} holds the costs of profile {old['config']['profile']!r}, not "
                             f"{args.profile!r}: pass --replace, or another --out")
        rows = merged_rows(old, rows, args.experiments)
        experiments = list(dict.fromkeys(row["experiment"] for row in rows))
        record = {"benchmark": "paper_costs",
                  "description": "seconds per optimiser step of every paper-profile run, one thread, "
                                 "and the projected cost of the profile's optimiser steps",
                  "config": {"experiments": experiments, "profile": args.profile, "steps": args.steps,
                             "threads": 1, "freed_memory_retained": retained,
                             "load_average_before": load_before, "load_average_after": os.getloadavg()},
                  "runs": rows}
        write_record(out, record, seed=0, wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
