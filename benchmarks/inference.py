"""Inference of packed models against their float-simulated form: storage, equality, throughput.

Models, pMNIST-shaped (input 1, 10 classes, many-to-one, hidden size n = 512 by default):

- ``hadamrnn``: binary W = diag(sign u)·H/√n, 4-bit U and V;
- ``block-hadamrnn``: sparse ternary W = diag(sign u)·(I ⊗ H_m)/√m (block m = 64), 4-bit U and V;
- ``qornn-ste-bjorck``: 4-bit W = q_4(Björck(V/σ)), 4-bit U, float V.

Each is saved with :func:`qornn.export.save_packed` and rebuilt with :func:`~qornn.export.load_packed`.
Reported per model: bytes of the packed file and of its payload against the float-simulated model's
weights as float32 (W as a dense n×n matrix, U, b, V, c; and the training state_dict as it is), the
check that the rebuilt model's outputs equal the original's, and the forward throughput (sequences/s,
batch 100, T = 784, inference mode) of

- ``float``: the float-simulated model with a dense float W product per step (HadamRNN with its fast
  path switched off; the QORNN as trained: power iteration, Björck and q_4 in every forward);
- ``packed``: the rebuilt model on its fastest path (HadamRNN: the C++ FWHT recurrence; QORNN: the
  stored q_4(W), no Björck).

Repetitions are interleaved and ratios are medians of per-repetition ratios, as in the other
benchmarks. Results go to ``data/results/benchmarks/inference.json`` with provenance.

    .venv/bin/python benchmarks/inference.py                          # n = 512, T = 784, 1 thread
    .venv/bin/python benchmarks/inference.py --hidden 64 --T 50 --reps 2 --no-json   # quick look
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _common import default_path, interleaved_times, median_ratios, write_record

from qornn import fast_hadamard
from qornn.export import load_packed, save_packed
from qornn.models import build_model, model_size_bits

BATCH, INPUT, CLASSES, BITS = 100, 1, 10, 4


def model_builds(n: int, block: int, bits: int) -> dict[str, dict]:
    return {
        "hadamrnn": {"model": "hadamrnn", "hidden_size": n, "bits": bits},
        "block-hadamrnn": {"model": "block-hadamrnn", "hidden_size": n, "block": block, "bits": bits},
        "qornn-ste-bjorck": {"model": "qornn-ste-bjorck", "hidden_size": n, "bits": bits},
    }


def _torch_bytes(obj) -> int:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getbuffer().nbytes


def float_weights(model) -> dict[str, torch.Tensor]:
    """What the float-simulated model computes with, as float32: dense W, U, b, V, c."""
    with torch.no_grad():
        return {"W": model.recurrent.matrix().detach().clone(), "U": model.input.effective_weight().detach(),
                "b": model.input.bias.detach(), "V": model.readout.effective_weight().detach(),
                "c": model.readout.bias.detach()}


def measure(name: str, build: dict, T: int, reps: int, seed: int, folder: Path) -> dict:
    torch.manual_seed(seed)
    options = {k: v for k, v in build.items() if k != "model"}
    model = build_model(build["model"], input_size=INPUT, output_size=CLASSES, **options)
    with torch.no_grad():  # "trained" values: latent weights away from their initial ones
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    path = folder / f"{name}.npz"
    payload_bits = save_packed(model, path, {"model": build["model"], "input_size": INPUT,
                                             "output_size": CLASSES, **options})
    packed = load_packed(path).eval()
    x = torch.randn(BATCH, T, INPUT)
    hadamard = hasattr(model.recurrent, "u")
    with torch.inference_mode():
        same = bool(torch.equal(packed(x), model(x)))  # the same path for both: bit for bit
        with fast_hadamard.disabled():
            reference = model(x)
        fast_out = packed(x)
    weights = float_weights(model)
    dense_bits = 32 * sum(w.numel() for w in weights.values())

    def float_forward() -> None:
        with torch.inference_mode(), fast_hadamard.disabled():
            model(x)

    def packed_forward() -> None:
        with torch.inference_mode():
            packed(x)

    times = interleaved_times({"float": float_forward, "packed": packed_forward}, reps)
    med = {v: statistics.median(ts) for v, ts in times.items()}
    storage = {
        "packed_file_bytes": path.stat().st_size,
        "packed_payload_bytes": payload_bits / 8,
        "model_size_bits": model_size_bits(model),
        "float_dense_file_bytes": _torch_bytes(weights),
        "float_dense_payload_bytes": dense_bits / 8,
        "float_state_dict_file_bytes": _torch_bytes(model.state_dict()),
    }
    storage["ratio_file"] = storage["float_dense_file_bytes"] / storage["packed_file_bytes"]
    storage["ratio_payload"] = storage["float_dense_payload_bytes"] / storage["packed_payload_bytes"]
    return {
        "model": name, "build": build, "T": T, "batch": BATCH, "reps": reps,
        "outputs_equal": same,
        "max_abs_diff_packed_fast_vs_float_dense": float((fast_out - reference).abs().max()),
        "packed_path": "C++ FWHT recurrence" if hadamard and fast_hadamard.available()
                       else "dense product with the stored W",
        "storage": storage,
        "times_s": times,
        "median_s": med,
        "sequences_per_s": {v: BATCH / s for v, s in med.items()},
        "speedup_packed_over_float": median_ratios(times, "packed", ["float"])["float"],
    }


def print_table(rows: list[dict]) -> None:
    head = (f"{'model':>17} | {'packed file':>11} | {'float32 file':>12} | {'× smaller':>9} | {'equal':>5} | "
            f"{'float seq/s':>11} | {'packed seq/s':>12} | {'speedup':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        st, sps = r["storage"], r["sequences_per_s"]
        print(f"{r['model']:>17} | {st['packed_file_bytes']:>9,d} B | "
              f"{st['float_dense_file_bytes']:>10,d} B | {st['ratio_file']:>8.1f}× | "
              f"{str(r['outputs_equal']):>5} | {sps['float']:>11.1f} | {sps['packed']:>12.1f} | "
              f"{r['speedup_packed_over_float']:>6.2f}×")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=512, help="hidden size n (a power of two)")
    p.add_argument("--block", type=int, default=64, help="Block-HadamRNN block size m")
    p.add_argument("--bits", type=int, default=BITS)
    p.add_argument("--models", nargs="+", default=None, help="default: all three")
    p.add_argument("--T", type=int, default=784, dest="T")
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions per model")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="JSON path (default: data/results/benchmarks/inference.json)")
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    builds = model_builds(args.hidden, min(args.block, args.hidden), args.bits)
    names = args.models or list(builds)
    start = time.perf_counter()
    print(f"Inference: batch {BATCH}, T={args.T}, n={args.hidden}, {args.bits}-bit, "
          f"{torch.get_num_threads()} torch threads, {args.reps} interleaved reps")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            rows.append(measure(name, builds[name], args.T, args.reps, args.seed, Path(folder)))
            print(f"  {name}: float {rows[-1]['median_s']['float']:.4f}s, "
                  f"packed {rows[-1]['median_s']['packed']:.4f}s", flush=True)
    print()
    print_table(rows)
    print("× smaller: float32 file of the float-simulated weights (dense W, U, b, V, c) / packed .npz file;"
          " speedup: median of per-rep (float time / packed time)")
    if not args.no_json:
        record = {
            "benchmark": "inference",
            "description": "packed models (qornn.export) against their float-simulated form: storage, "
                           "equal outputs, forward throughput",
            "config": {"batch": BATCH, "T": args.T, "input_size": INPUT, "classes": CLASSES,
                       "hidden_size": args.hidden, "block": min(args.block, args.hidden), "bits": args.bits,
                       "reps": args.reps, "threads": torch.get_num_threads(), "dtype": "float32",
                       "cpp_fast_path": fast_hadamard.available(), "target_hadamrnn_ratio_file": 20},
            "models": rows,
        }
        write_record(args.out or default_path("inference"), record, seed=args.seed,
                     wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
