"""Training steps with subnormal floats kept against flushed to zero (what ``qornn.train`` does).

x86 CPUs compute on subnormal floats (below 1.18e-38 in float32) through a slow microcode path, and
recurrent networks make them in two ways. Backward: a gradient that vanishes over T = 784 steps
passes through the subnormal range on its way to zero (an LSTM at initialisation, many-to-one).
Forward: a saturated gate, z = σ(p + b_z) with p + b_z ≈ −88, is about 6e-39 (FastGRNN with its
update-gate bias set there; at initialisation, b_z = 1, it has none). ``qornn.train`` therefore
trains and evaluates under ``torch.set_flush_denormal(True)`` (``qornn.train.flush_denormals``).
This script times each case with subnormals kept and flushed, interleaved, and records the share of
subnormal values in the input gradients ∂L/∂x_t and in FastGRNN's update gates. The
ratio keep / flush is the slowdown that flushing removes. Shape: batch 100, T = 784, input 1,
10 classes, many-to-one (pMNIST). Results go to ``data/results/benchmarks/subnormals.json``.

    .venv/bin/python benchmarks/subnormals.py                                # n = 128, 1 thread
    .venv/bin/python benchmarks/subnormals.py --sizes 32 --T 50 --reps 2 --no-json   # quick look
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
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
from qornn.train import flush_denormals

BATCH, INPUT, CLASSES = 100, 1, 10
#: case -> (model, FastGRNN update-gate bias b_z or None); σ(−88) ≈ 6e-39 is subnormal in float32
CASES = {"lstm-initial": ("lstm", None), "fastgrnn-initial": ("fastgrnn", 1.0),
         "fastgrnn-saturated": ("fastgrnn", -88.0)}


def make_model(case: str, n: int, seed: int) -> torch.nn.Module:
    name, gate_bias = CASES[case]
    torch.manual_seed(seed)
    model = build_model(name, input_size=INPUT, output_size=CLASSES, hidden_size=n)
    if gate_bias is not None:
        with torch.no_grad():
            model.bias_gate.fill_(gate_bias)
    return model


def make_steps(n: int, x: torch.Tensor, y: torch.Tensor, seed: int) -> dict:
    """{"<case>:<mode>": step} for case in CASES, mode in keep / flush."""
    steps = {}
    for case in CASES:
        for mode in ("keep", "flush"):
            model = make_model(case, n, seed)
            opt = torch.optim.SGD(model.parameters(), lr=0.0)  # the state must not move between reps
            step = training_step(model, opt, x, y)
            steps[f"{case}:{mode}"] = _flushed(step) if mode == "flush" else step
    return steps


def _flushed(step):
    def flushed_step() -> None:
        with flush_denormals():
            step()
    return flushed_step


def _subnormal_share(t: torch.Tensor) -> float:
    return float(((t != 0) & (t.abs() < torch.finfo(t.dtype).tiny)).float().mean())


def subnormal_fractions(n: int, x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, dict]:
    """Per case, the share of subnormal values among the input gradients ∂L/∂x_t (the gradient that
    flowed back through the recurrence to step t) and, for FastGRNN, among its update gates z_t."""
    out = {}
    for case, (name, _) in CASES.items():
        model = make_model(case, n, seed)
        x_ = x.clone().requires_grad_()
        F.cross_entropy(model(x_), y).backward()
        shares = {"input_gradients": _subnormal_share(x_.grad), "update_gates": None}
        if name == "fastgrnn":
            with torch.no_grad():
                h = model.hidden_states(x)
                h_prev = torch.cat([torch.zeros_like(h[:1]), h[:-1]])
                z = torch.sigmoid(model.preactivations(x) + h_prev @ model.recurrent.weight.t()
                                  + model.bias_gate)
            shares["update_gates"] = _subnormal_share(z)
        out[case] = shares
    return out


def time_size(n: int, T: int, batch: int, reps: int, seed: int) -> dict:
    torch.manual_seed(seed)
    x = torch.randn(batch, T, INPUT)
    y = torch.randint(0, CLASSES, (batch,))
    times = interleaved_times(make_steps(n, x, y, seed), reps, flush_subnormals=False)  # keep, unless flushed
    return {"n": n, "T": T, "batch": batch, "reps": reps, "times_s": times,
            "median_s": {v: statistics.median(ts) for v, ts in times.items()},
            "subnormal_share": subnormal_fractions(n, x, y, seed),
            "keep_over_flush": {c: median_ratios(times, f"{c}:flush", [f"{c}:keep"])[f"{c}:keep"]
                                for c in CASES}}


def main(argv: list[str] | None = None) -> int:
    p = step_parser(__doc__, "subnormals", [128], BATCH)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print(step_header("LSTM / FastGRNN training step, subnormals kept vs flushed", args, INPUT))
    rows = []
    for n in args.sizes:
        rows.append(time_size(n, args.T, args.batch, args.reps, args.seed))
        row = rows[-1]
        med, ratio, share = row["median_s"], row["keep_over_flush"], row["subnormal_share"]
        for c in CASES:
            print(f"  n={n} {c}: subnormal ∂L/∂x {share[c]['input_gradients']:.0%}, keep "
                  f"{med[c + ':keep']:.4f}s, flush {med[c + ':flush']:.4f}s (keep/flush {ratio[c]:.2f}x)",
                  flush=True)
    if not args.no_json:
        record = {
            "benchmark": "subnormals",
            "description": "one training step (forward + CE loss + backward + optimiser), many-to-"
                           "one, with subnormal floats kept vs flushed to zero: an LSTM at "
                           "initialisation (vanishing gradients), FastGRNN at initialisation, and "
                           "FastGRNN with its update gate saturated into the subnormal range",
            "config": {"batch": args.batch, "T": args.T, "input_size": INPUT, "classes": CLASSES,
                       "dtype": "float32", "sizes": args.sizes, "reps": args.reps,
                       "threads": torch.get_num_threads(),
                       "cases": {c: {"model": m, "gate_bias": b} for c, (m, b) in CASES.items()}},
            "sizes": rows,
        }
        write_record(args.out or default_path("subnormals"), record, seed=args.seed,
                     wall_time_s=time.perf_counter() - start, subnormals_flushed=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
