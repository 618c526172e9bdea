"""One HadamRNN training step on a pMNIST-shaped batch: qornn's fast path against dense baselines.

A training step is forward + cross-entropy + backward + Adam update, batch 100, T = 784, input size 1,
10 classes, many-to-one, float32, CPU. Variants, all at the same hidden size n:

- ``qornn-fast``: ``build_model("hadamrnn", ...)``, whose HadamardWeight runs the linear recurrence through
  :mod:`qornn.fast_hadamard` (C++ time loop, one FWHT per step forward and backward).
- ``qornn-dense``: the same model with the fast path switched off (``fast_hadamard.disabled()``): one
  dense ``addmm`` per step with W = diag(sign u)·H/√n, autograd backward.
- ``reference``: the papers' code style: W = diag(sign u)·H/√n rebuilt through a torch parametrization
  of an ``nn.Linear`` (latent u, straight-through sign), and a Python loop with one ``F.linear`` for the
  recurrence and one for the 4-bit input projection per step.
- ``nn.RNN``: ``torch.nn.RNN(1, n)`` (tanh, float weights) and a linear readout.

Repetitions of the variants are interleaved (A B C D A B C D ...) so that the load of a shared machine
hits them alike; the table reports medians and the median of the per-repetition ratios. The growth
exponent in n is a least-squares fit of log(time) against log(n); a small sweep over T at fixed n gives
the exponent in T. Results go to ``data/results/benchmarks/hadamrnn_step.json`` with provenance.

    .venv/bin/python benchmarks/hadamrnn_step.py                 # n = 64, 128, 256, 512
    .venv/bin/python benchmarks/hadamrnn_step.py --large         # also n = 1024, 2048 (slow baselines)
    .venv/bin/python benchmarks/hadamrnn_step.py --quick         # smoke run, small T, no JSON
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import default_path, fit_exponent, interleaved_times, median_ratios, write_record
from torch import nn
from torch.nn.utils import parametrize

from qornn import fast_hadamard
from qornn.hadamard import sylvester_hadamard
from qornn.models import build_model
from qornn.quantize import quantize_ste, sign_ste

BATCH, INPUT, CLASSES, BITS = 100, 1, 10, 4
VARIANTS = ("qornn-fast", "reference", "nn.RNN", "qornn-dense")


class SignHadamard(nn.Module):
    """Parametrization W = diag(sign_ste(u))·H/√n of an n×n weight from a latent u ∈ R^n."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.register_buffer("h", sylvester_hadamard(n, normalized=True))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return sign_ste(u)[:, None] * self.h

    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:  # latent u from a weight: its diagonal
        return torch.empty(w.shape[0]).uniform_(-1, 1)


class ReferenceHadamRNN(nn.Module):
    """HadamRNN as the papers' code writes it: parametrized dense W, one F.linear per step."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.inp = nn.Linear(INPUT, n)
        self.rec = nn.Linear(n, n, bias=False)
        parametrize.register_parametrization(self.rec, "weight", SignHadamard(n))
        self.out = nn.Linear(n, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u_q = quantize_ste(self.inp.weight, BITS)
        with parametrize.cached():
            w = self.rec.weight
            h = x.new_zeros(x.shape[0], w.shape[0])
            for t in range(x.shape[1]):
                h = F.linear(h, w) + F.linear(x[:, t], u_q, self.inp.bias)
        return F.linear(F.relu(h), quantize_ste(self.out.weight, BITS), self.out.bias)


class TorchRNN(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(INPUT, n, batch_first=True)
        self.out = nn.Linear(n, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(x)
        return self.out(h[-1])


def make_steps(n: int, x: torch.Tensor, y: torch.Tensor) -> dict:
    """One closure per variant that runs a full training step."""
    qornn_model = build_model("hadamrnn", input_size=INPUT, output_size=CLASSES, hidden_size=n, bits=BITS)
    models = {"qornn": qornn_model, "reference": ReferenceHadamRNN(n), "nn.RNN": TorchRNN(n)}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}

    def step(key: str, dense: bool = False):
        model, opt = models[key], opts[key]
        opt.zero_grad(set_to_none=True)
        if dense:
            with fast_hadamard.disabled():
                loss = F.cross_entropy(model(x), y)
                loss.backward()
        else:
            loss = F.cross_entropy(model(x), y)
            loss.backward()
        opt.step()
        if key == "qornn":
            model.apply_constraints_()

    return {
        "qornn-fast": lambda: step("qornn"),
        "qornn-dense": lambda: step("qornn", dense=True),
        "reference": lambda: step("reference"),
        "nn.RNN": lambda: step("nn.RNN"),
    }, qornn_model


def check_agreement(model, x, y) -> float:
    """Relative difference of the loss gradient wrt u between the fast and the dense path."""
    grads = []
    for dense in (False, True):
        model.zero_grad(set_to_none=True)
        with fast_hadamard.disabled() if dense else contextlib.nullcontext():
            F.cross_entropy(model(x), y).backward()
        grads.append(model.recurrent.u.grad.clone())
    model.zero_grad(set_to_none=True)
    return float((grads[0] - grads[1]).norm() / grads[1].norm().clamp_min(1e-30))


def time_variants(n: int, T: int, reps: int, variants: tuple[str, ...], seed: int) -> dict:
    torch.manual_seed(seed)
    x = torch.randn(BATCH, T, INPUT)
    y = torch.randint(0, CLASSES, (BATCH,))
    steps, model = make_steps(n, x, y)
    agreement = check_agreement(model, x, y) if "qornn-dense" in variants else None
    # one warm-up step each (allocations, the C++ build on first use), then interleaved reps
    times = interleaved_times({v: steps[v] for v in variants}, reps)
    out = {"n": n, "T": T, "reps": reps, "times_s": times,
           "median_s": {v: statistics.median(ts) for v, ts in times.items()}}
    if "qornn-fast" in variants:
        out["speedup_median_of_ratios"] = median_ratios(times, "qornn-fast")
    if agreement is not None:
        out["grad_u_rel_diff_fast_vs_dense"] = agreement
    return out


def print_table(rows: list[dict], key: str, variants: tuple[str, ...]) -> None:
    head = f"{key:>6} | " + " | ".join(f"{v:>12}" for v in variants)
    head += " | " + " | ".join(f"{'×' + v:>13}" for v in variants if v != "qornn-fast")
    print(head)
    print("-" * len(head))
    for r in rows:
        line = f"{r[key]:>6} | " + " | ".join(
            f"{r['median_s'][v]:>11.4f}s" if v in r["median_s"] else f"{'—':>12}" for v in variants)
        ratios = r.get("speedup_median_of_ratios", {})
        line += " | " + " | ".join(
            f"{ratios[v]:>12.2f}×" if v in ratios else f"{'—':>13}" for v in variants if v != "qornn-fast")
        print(line)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    p.add_argument("--large", action="store_true", help="also n = 1024 and 2048 (dense baselines are slow)")
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions per size")
    p.add_argument("--T", type=int, default=784, dest="T")
    p.add_argument("--t-sweep", type=int, nargs="*", default=[98, 196, 392, 784],
                   help="sequence lengths for the exponent in T (empty: skip)")
    p.add_argument("--t-sweep-n", type=int, default=256)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS,
                   help="variants to time (qornn-fast is always included: the ratios are against it)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's default; use 1 on a loaded machine, see README)")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="call qornn.fast_hadamard.keep_freed_memory() first (glibc keeps freed large blocks; "
                        "applies to every variant)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="smoke run: T=50, 2 reps, no T sweep, no JSON")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON path (default: data/results/benchmarks/hadamrnn_step.json)")
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc_tuned = fast_hadamard.keep_freed_memory() if args.keep_freed_memory else False
    sizes = list(args.sizes) + ([1024, 2048] if args.large else [])
    variants = tuple(v for v in VARIANTS if v in args.variants or v == "qornn-fast")
    if args.quick:
        args.T, args.reps, args.t_sweep, args.no_json = 50, 2, [], True
    if not fast_hadamard.available():
        print("warning: the C++ fast path is not available; qornn-fast measures the dense fallback",
              file=sys.stderr)
    start = time.perf_counter()
    print(f"HadamRNN training step: batch {BATCH}, T={args.T}, input {INPUT}, many-to-one, float32, "
          f"{torch.get_num_threads()} torch threads, {args.reps} interleaved reps"
          + (", glibc keeps freed memory" if malloc_tuned else ""))
    rows = []
    for n in sizes:
        rows.append(time_variants(n, args.T, args.reps, variants, args.seed))
        r = rows[-1]
        check = r.get("grad_u_rel_diff_fast_vs_dense")
        print(f"  n={n}: " + ", ".join(f"{v} {s:.4f}s" for v, s in r["median_s"].items())
              + ("" if check is None else f"; grad u fast vs dense rel. diff {check:.1e}"), flush=True)
    print()
    print_table(rows, "n", variants)
    exps_n = {v: fit_exponent([r["n"] for r in rows], [r["median_s"][v] for r in rows]) for v in variants} \
        if len(rows) > 1 else {}
    if exps_n:
        print("growth exponent in n (time ∝ n^α): " + ", ".join(f"{v} α={a:.2f}" for v, a in exps_n.items()))
    sweep, exps_t = [], {}
    if args.t_sweep:
        sweep_variants = tuple(v for v in ("qornn-fast", "reference", "nn.RNN") if v in variants)
        for T in args.t_sweep:
            sweep.append(time_variants(args.t_sweep_n, T, max(3, args.reps // 2), sweep_variants, args.seed))
        print(f"\nT sweep at n={args.t_sweep_n}")
        print_table(sweep, "T", sweep_variants)
        exps_t = {v: fit_exponent([r["T"] for r in sweep], [r["median_s"][v] for r in sweep])
                  for v in sweep_variants}
        print("growth exponent in T: " + ", ".join(f"{v} β={b:.2f}" for v, b in exps_t.items()))
    wall = time.perf_counter() - start
    if not args.no_json:
        path = args.out or default_path("hadamrnn_step")
        record = {
            "benchmark": "hadamrnn_step",
            "description": "one training step (forward + CE loss + backward + Adam), many-to-one",
            "config": {"batch": BATCH, "T": args.T, "input_size": INPUT, "classes": CLASSES, "bits": BITS,
                       "dtype": "float32", "sizes": sizes, "reps": args.reps, "t_sweep": args.t_sweep,
                       "t_sweep_n": args.t_sweep_n, "threads": torch.get_num_threads(),
                       "cpp_fast_path": fast_hadamard.available(), "variants": list(variants),
                       "keep_freed_memory": malloc_tuned},
            "sizes": rows,
            "exponent_n": exps_n,
            "t_sweep": sweep,
            "exponent_T": exps_t,
        }
        write_record(path, record, seed=args.seed, wall_time_s=wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
