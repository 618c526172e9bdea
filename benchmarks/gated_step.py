"""One training step of the gated baselines (LSTM, GRU, FastGRNN): the fused recurrence against the loop.

qornn's baselines (``qornn.models.baselines``) define their recurrence as a Python loop over time,
one cell at a time, so that every baseline shares one skeleton (k-bit and low-rank matrices included).
On float input the LSTM and GRU run ``torch.lstm`` / ``torch.gru`` instead, on the same effective
matrices; FastGRNN runs its own recurrence with a hand-written backward pass (any input)
(``tests/test_baselines.py`` checks that states and gradients agree with the loop). This script
times both ways of the same model side by side: a training step is forward + cross-entropy +
backward + Adam update, batch 100, T = 784, input size 1, 10 classes, many-to-one, float32 (the
pMNIST/sMNIST shape). Repetitions are interleaved and ratios are medians of per-repetition ratios,
as in the other benchmarks. Subnormal floats are flushed to zero, as in training
(``_common.interleaved_times``). Results go to ``data/results/benchmarks/gated_step.json``.

    .venv/bin/python benchmarks/gated_step.py                          # n = 64, 128, 256, 1 thread
    .venv/bin/python benchmarks/gated_step.py --sizes 32 --T 50 --reps 2 --no-json   # quick look
"""

from __future__ import annotations

import statistics
import time

import torch
from _common import (
    default_path,
    interleaved_times,
    median_ratios,
    step_header,
    step_parser,
    training_step,
    write_record,
)

from qornn.models import build_model

BATCH, INPUT, CLASSES = 100, 1, 10
MODELS = ("lstm", "gru", "fastgrnn")


def make_steps(n: int, x: torch.Tensor, y: torch.Tensor, seed: int) -> dict:
    """{"<model>:fused": step, "<model>:loop": step}: two copies of one initialisation per model."""
    steps = {}
    for name in MODELS:
        for way in ("fused", "loop"):
            torch.manual_seed(seed)  # the same weights for both ways
            model = build_model(name, input_size=INPUT, output_size=CLASSES, hidden_size=n)
            model.fused = way == "fused"
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            steps[f"{name}:{way}"] = training_step(model, opt, x, y)
    return steps


def time_size(n: int, T: int, batch: int, reps: int, seed: int) -> dict:
    torch.manual_seed(seed)
    x = torch.randn(batch, T, INPUT)
    y = torch.randint(0, CLASSES, (batch,))
    times = interleaved_times(make_steps(n, x, y, seed), reps)
    return {"n": n, "T": T, "batch": batch, "reps": reps, "times_s": times,
            "median_s": {v: statistics.median(ts) for v, ts in times.items()},
            "loop_over_fused": {m: median_ratios(times, f"{m}:fused", [f"{m}:loop"])[f"{m}:loop"]
                                for m in MODELS}}


def main(argv: list[str] | None = None) -> int:
    p = step_parser(__doc__, "gated_step", [64, 128, 256], BATCH)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print(step_header("LSTM / GRU / FastGRNN training step, fused recurrence vs Python loop", args, INPUT))
    rows = []
    for n in args.sizes:
        rows.append(time_size(n, args.T, args.batch, args.reps, args.seed))
        med, ratio = rows[-1]["median_s"], rows[-1]["loop_over_fused"]
        print(f"  n={n}: " + ", ".join(f"{m} fused {med[m + ':fused']:.4f}s, loop {med[m + ':loop']:.4f}s "
                                       f"(loop/fused {ratio[m]:.2f}x)" for m in MODELS), flush=True)
    if not args.no_json:
        record = {
            "benchmark": "gated_step",
            "description": "one training step (forward + CE loss + backward + Adam) of the float LSTM, "
                           "GRU and FastGRNN baselines, many-to-one: the fused recurrence (torch's "
                           "kernel; FastGRNN's hand-written backward) vs the Python loop",
            "config": {"batch": args.batch, "T": args.T, "input_size": INPUT, "classes": CLASSES,
                       "dtype": "float32", "sizes": args.sizes, "reps": args.reps,
                       "threads": torch.get_num_threads(), "models": list(MODELS)},
            "sizes": rows,
        }
        write_record(args.out or default_path("gated_step"), record, seed=args.seed,
                     wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
