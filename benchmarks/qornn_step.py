"""One QORNN training step against the float ORNN trained with the same orthogonality mechanism.

A training step is forward + cross-entropy + backward + Adam update + the model's
``apply_constraints_()``, batch 100, T = 784, input size 1, 10 classes, many-to-one, float32, CPU.
Pairs, all at the same hidden size n (registry names, ReLU recurrence, QORNN with k-bit W and U):

- ``qornn-ste-bjorck`` vs ``ornn-bjorck``: W = [q_k](Björck(V/σ_max(V))), rebuilt in every forward pass
  (power iteration + Björck iterations, differentiated by autograd).
- ``qornn-ste-projunn`` vs ``ornn-projunn``: W moved by Adam, then put back on O(n) by a rank-1
  projUNN-D step in ``apply_constraints_()``; forward uses [q_k](W).

The issue's target: a QORNN step within 1.5x of the float ORNN with the same mechanism. Also timed,
in the same interleaved loop: the re-orthogonalisation alone (Björck: power iteration + Björck
forward and backward; projUNN: an Adam-sized update of W followed by ``apply_constraints_()``), as a
share of the step. Repetitions are interleaved and ratios are medians of per-repetition ratios, as in
``hadamrnn_step.py``. Results go to ``data/results/benchmarks/qornn_step.json`` with provenance.

    .venv/bin/python benchmarks/qornn_step.py                       # n = 64, 128, 256, 1 thread
    .venv/bin/python benchmarks/qornn_step.py --sizes 32 --T 50 --reps 2 --no-json   # quick look
"""

from __future__ import annotations

import statistics
import time

import torch
from _common import (
    default_path,
    fit_exponent,
    interleaved_times,
    median_ratios,
    step_header,
    step_parser,
    training_step,
    write_record,
)

from qornn.models import build_model

BATCH, INPUT, CLASSES = 100, 1, 10
MECHANISMS = {"bjorck": ("qornn-ste-bjorck", "ornn-bjorck"), "projunn": ("qornn-ste-projunn", "ornn-projunn")}
ADAM_LR = 1e-3


def make_closures(n: int, bits: int, x: torch.Tensor, y: torch.Tensor) -> dict:
    """{name: training step} and {name + ':reorth': the re-orthogonalisation alone}, per variant."""
    steps, reorths = {}, {}
    for mech, (quantized, float_) in MECHANISMS.items():
        for name in (quantized, float_):
            options = {"bits": bits} if name == quantized else {}
            model = build_model(name, input_size=INPUT, output_size=CLASSES, hidden_size=n, **options)
            opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
            steps[name] = training_step(model, opt, x, y)
            reorths[f"{name}:reorth"] = _reorth(model.recurrent)
            if mech == "bjorck":  # early stopping makes it cheap near O(n); time the worst case too
                reorths[f"{name}:reorth-all-iters"] = _reorth(model.recurrent, all_iters=True)
    return {**steps, **reorths}


def _reorth(rec, all_iters: bool = False):
    """Björck: σ_max by power iteration and Björck, forward and backward (a fixed upstream gradient);
    ``all_iters``: every one of the ``iters`` Björck iterations (tolerance 0), as for a latent V far
    from O(n). projUNN: W moved by an Adam-sized dense update (lr·sign), then the projUNN step."""
    if hasattr(rec, "orthogonal_matrix"):
        upstream = torch.randn(rec.size, rec.size)

        def bjorck() -> None:
            tol = rec.tol
            rec.tol = 0.0 if all_iters else tol
            try:
                rec.orthogonal_matrix().backward(upstream)
            finally:
                rec.tol = tol
            rec.weight.grad = None
        return bjorck
    update = ADAM_LR * torch.randn(rec.size, rec.size).sign()

    def projunn() -> None:
        with torch.no_grad():
            rec.weight.sub_(update)
        rec.apply_constraints_()
    return projunn


def time_size(n: int, T: int, batch: int, bits: int, reps: int, seed: int) -> dict:
    torch.manual_seed(seed)
    x = torch.randn(batch, T, INPUT)  # the same inputs for every variant
    y = torch.randint(0, CLASSES, (batch,))
    times = interleaved_times(make_closures(n, bits, x, y), reps)
    step_times = {v: ts for v, ts in times.items() if ":" not in v}
    out = {"n": n, "T": T, "batch": batch, "reps": reps, "times_s": times,
           "median_s": {v: statistics.median(ts) for v, ts in times.items()},
           "qornn_over_ornn": {}, "reorth_share": {}, "reorth_share_all_iters": {}}
    for mech, (quantized, float_) in MECHANISMS.items():
        out["qornn_over_ornn"][mech] = median_ratios(step_times, float_, [quantized])[quantized]
        for name in (quantized, float_):  # median over reps of (re-orthogonalisation / step)
            step, reorth = times[name], times[f"{name}:reorth"]
            out["reorth_share"][name] = statistics.median(r / s for s, r in zip(step, reorth, strict=True))
            if f"{name}:reorth-all-iters" in times:  # the step with all Björck iterations instead
                worst = times[f"{name}:reorth-all-iters"]
                out["reorth_share_all_iters"][name] = statistics.median(
                    w / (s - r + w) for s, r, w in zip(step, reorth, worst, strict=True))
    return out


def print_table(rows: list[dict]) -> None:
    head = (f"{'n':>5} | {'mechanism':>9} | {'QORNN step':>11} | {'ORNN step':>10} | {'QORNN/ORNN':>10} | "
            f"{'reorth alone':>12} | {'share Q':>7} | {'share F':>7} | {'all-iters share Q':>17}")
    print(head)
    print("-" * len(head))
    for r in rows:
        for mech, (q, f) in MECHANISMS.items():
            med = r["median_s"]
            print(f"{r['n']:>5} | {mech:>9} | {med[q]:>10.4f}s | {med[f]:>9.4f}s | "
                  f"{r['qornn_over_ornn'][mech]:>9.2f}× | {med[q + ':reorth']:>11.4f}s | "
                  f"{r['reorth_share'][q]:>6.1%} | {r['reorth_share'][f]:>6.1%} | "
                  + (f"{r['reorth_share_all_iters'][q]:>16.1%}" if q in r["reorth_share_all_iters"]
                     else f"{'—':>17}"))


def main(argv: list[str] | None = None) -> int:
    p = step_parser(__doc__, "qornn_step", [64, 128, 256], BATCH)
    p.add_argument("--bits", type=int, default=4, help="bits of the QORNN's W and U (default 4)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print(step_header(f"QORNN ({args.bits}-bit W, U) vs float ORNN training step", args, INPUT))
    rows = []
    for n in args.sizes:
        rows.append(time_size(n, args.T, args.batch, args.bits, args.reps, args.seed))
        print(f"  n={n}: " + ", ".join(f"{v} {s:.4f}s" for v, s in rows[-1]["median_s"].items()), flush=True)
    print()
    print_table(rows)
    exps = {}
    if len(rows) > 1:
        exps = {v: fit_exponent([r["n"] for r in rows], [r["median_s"][v] for r in rows])
                for v in rows[0]["median_s"]}
        print("growth exponent in n (time ∝ n^α): "
              + ", ".join(f"{v} α={a:.2f}" for v, a in exps.items() if ":" not in v and a is not None))
    print("share = re-orthogonalisation alone / training step (median of per-rep ratios); all-iters: "
          "Björck with all its iterations, as for a latent V far from O(n)")
    if not args.no_json:
        record = {
            "benchmark": "qornn_step",
            "description": "one training step (forward + CE loss + backward + Adam + apply_constraints_), "
                           "many-to-one; QORNN vs the float ORNN with the same orthogonality mechanism",
            "config": {"batch": args.batch, "T": args.T, "input_size": INPUT, "classes": CLASSES,
                       "bits": args.bits, "dtype": "float32", "sizes": args.sizes, "reps": args.reps,
                       "threads": torch.get_num_threads(), "adam_lr": ADAM_LR,
                       "pairs": {m: {"qornn": q, "ornn": f} for m, (q, f) in MECHANISMS.items()},
                       "target_qornn_over_ornn": 1.5},
            "sizes": rows,
            "exponent_n": exps,
        }
        write_record(args.out or default_path("qornn_step"), record, seed=args.seed,
                     wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
