"""One FastGRNN training step with subnormal floats kept against flushed to zero (what training does).

A trained recurrent network can saturate its gates: z = σ(p + b_z) with p + b_z ≈ −88 is about 6e-39,
a subnormal float32 (below 1.18e-38). x86 CPUs compute on subnormals through a slow microcode path,
so a step can take several times longer once training has pushed some gates there; ``qornn.train``
therefore runs with ``torch.set_flush_denormal(True)`` (``qornn.train.flush_denormals``). This script
times the same step four ways, interleaved: a model whose update gate is saturated into the
subnormal range (b_z = −88) and the same model at its initialisation (b_z = 1), each with subnormals
kept and flushed. The ratio keep / flush is the slowdown that flushing removes; at initialisation it
should be 1 (nothing to flush). Shape: batch 100, T = 784, input 1, 10 classes, many-to-one
(pMNIST). Results go to ``data/results/benchmarks/subnormals.json`` with provenance.

    .venv/bin/python benchmarks/subnormals.py                               # n = 128, 1 thread
    .venv/bin/python benchmarks/subnormals.py --sizes 32 --T 50 --reps 2 --no-json   # quick look
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from _common import default_path, interleaved_times, median_ratios, step_parser, write_record

from qornn.models import build_model

BATCH, INPUT, CLASSES = 100, 1, 10
GATE_BIAS = {"saturated": -88.0, "initial": 1.0}  # σ(−88) ≈ 6e-39 is subnormal in float32


def make_steps(n: int, x: torch.Tensor, y: torch.Tensor, seed: int) -> dict:
    """{"<state>:<mode>": step} for state in GATE_BIAS, mode in keep / flush."""
    steps = {}
    for state, bias in GATE_BIAS.items():
        for mode in ("keep", "flush"):
            torch.manual_seed(seed)
            model = build_model("fastgrnn", input_size=INPUT, output_size=CLASSES, hidden_size=n)
            with torch.no_grad():
                model.bias_gate.fill_(bias)
            opt = torch.optim.SGD(model.parameters(), lr=0.0)  # the state must not move between reps
            steps[f"{state}:{mode}"] = _step(model, opt, x, y, flush=mode == "flush")
    return steps


def _step(model, opt, x, y, *, flush: bool):
    def step() -> None:
        torch.set_flush_denormal(flush)
        try:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        finally:
            torch.set_flush_denormal(False)
    return step


def subnormal_fraction(n: int, x: torch.Tensor, seed: int) -> dict[str, float]:
    """Share of the gate values z_t that are subnormal, per state (with subnormals kept)."""
    out = {}
    for state, bias in GATE_BIAS.items():
        torch.manual_seed(seed)
        model = build_model("fastgrnn", input_size=INPUT, output_size=CLASSES, hidden_size=n)
        with torch.no_grad():
            model.bias_gate.fill_(bias)
            h = model.hidden_states(x)
            h_prev = torch.cat([torch.zeros_like(h[:1]), h[:-1]])
            z = torch.sigmoid(model.preactivations(x) + h_prev @ model.recurrent.weight.t()
                              + model.bias_gate)
        tiny = torch.finfo(z.dtype).tiny
        out[state] = float(((z > 0) & (z < tiny)).float().mean())
    return out


def time_size(n: int, T: int, batch: int, reps: int, seed: int) -> dict:
    torch.manual_seed(seed)
    x = torch.randn(batch, T, INPUT)
    y = torch.randint(0, CLASSES, (batch,))
    times = interleaved_times(make_steps(n, x, y, seed), reps)
    return {"n": n, "T": T, "batch": batch, "reps": reps, "times_s": times,
            "median_s": {v: statistics.median(ts) for v, ts in times.items()},
            "subnormal_gate_fraction": subnormal_fraction(n, x, seed),
            "keep_over_flush": {s: median_ratios(times, f"{s}:flush", [f"{s}:keep"])[f"{s}:keep"]
                                for s in GATE_BIAS}}


def main(argv: list[str] | None = None) -> int:
    p = step_parser(__doc__, "subnormals", [128], BATCH)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print(f"FastGRNN training step, subnormals kept vs flushed: batch {args.batch}, T={args.T}, input "
          f"{INPUT}, many-to-one, float32, {torch.get_num_threads()} torch threads, {args.reps} "
          "interleaved reps")
    rows = []
    for n in args.sizes:
        rows.append(time_size(n, args.T, args.batch, args.reps, args.seed))
        row = rows[-1]
        med, ratio, frac = row["median_s"], row["keep_over_flush"], row["subnormal_gate_fraction"]
        print(f"  n={n}: " + ", ".join(
            f"{s} (subnormal gates {frac[s]:.0%}): keep {med[s + ':keep']:.4f}s, flush "
            f"{med[s + ':flush']:.4f}s (keep/flush {ratio[s]:.2f}x)" for s in GATE_BIAS), flush=True)
    if not args.no_json:
        record = {
            "benchmark": "subnormals",
            "description": "one FastGRNN training step (forward + CE loss + backward + optimiser), "
                           "many-to-one, with subnormal floats kept vs flushed to zero, for a model "
                           "whose update gate is saturated into the subnormal range and for the same "
                           "model at initialisation",
            "config": {"batch": args.batch, "T": args.T, "input_size": INPUT, "classes": CLASSES,
                       "dtype": "float32", "sizes": args.sizes, "reps": args.reps,
                       "threads": torch.get_num_threads(), "gate_bias": GATE_BIAS},
            "sizes": rows,
        }
        write_record(args.out or default_path("subnormals"), record, seed=args.seed,
                     wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
