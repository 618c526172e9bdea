"""HadamRNN with a tanh recurrence: the fused kernel's vector tanh against the library's, side by side.

- ``vector tanh``: the kernel as models use it (``qornn/csrc/hadamard_rnn.cpp``), whose float tanh
  (``tanh_lanes``) works on a whole SIMD vector of batch rows at once;
- ``library tanh``: the same kernel as it was at ``LIBRARY_TANH_COMMIT``, its C++ source read from git
  history and built beside the current one, calling ``std::tanh`` on one number at a time.

What is timed: a whole training step (forward, cross-entropy, backward, Adam) of HadamRNN at the
pMNIST shape of HadamRNN's Figure 1 ablation (``hadamrnn-p4-tanh``: n = 512, 4-bit U and V, batch 100,
T = 784, one input, 10 classes), one torch thread, interleaved repetitions, medians, and the median of
the per-repetition ratios library / vector. The two kernels do not give the same numbers bit for bit
(the two tanh differ in the last bits), so the script measures instead how far each float tanh is from
the exact one: the largest distance in units in the last place (ulp) from tanh computed in float64 and
rounded to float32, over 2.4 million inputs (a uniform grid on [−12, 12], both signs of a logarithmic
grid from 1e-40 to 16, and 0, ±inf, the smallest subnormal), beside torch's own float tanh.

Results go to ``data/results/benchmarks/tanh_recurrence.json`` with provenance.

    .venv/bin/python benchmarks/tanh_recurrence.py            # recorded
    .venv/bin/python benchmarks/tanh_recurrence.py --no-json  # print only
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F
from _common import (
    default_path,
    extension_from_history,
    interleaved_times,
    median_ratios,
    shape_parser,
    variant_steps,
    write_record,
)

from qornn import fast_hadamard
from qornn.models import build_model

#: the last commit whose kernel computed the recurrence's tanh with std::tanh, one number at a time
LIBRARY_TANH_COMMIT = "1fc51f3413e5591929b104078fbac285df446efb"

#: shape name -> (hidden, batch, T, bits of U and V)
SHAPES = {"pmnist": (512, 100, 784, 4)}


def library_tanh_extension():
    """The kernel's C++ module as it was at :data:`LIBRARY_TANH_COMMIT`, built from git history
    (None, with the reason printed, when this checkout lacks it)."""
    return extension_from_history(LIBRARY_TANH_COMMIT, "qornn/csrc/hadamard_rnn.cpp",
                                  "qornn_hadamard_rnn_library_tanh", cflags=fast_hadamard._compile_flags(),
                                  ldflags=["-fopenmp"])


def running(ext):
    """A context in which HadamRNN's fast path calls the C++ module ``ext``."""
    @contextmanager
    def context():
        saved = fast_hadamard.load_extension()
        fast_hadamard._ext = ext
        try:
            yield
        finally:
            fast_hadamard._ext = saved
    return context


def tanh_inputs() -> torch.Tensor:
    grid = torch.logspace(-40, 1.2, 200_001, dtype=torch.float64)
    return torch.cat([torch.linspace(-12, 12, 2_000_001, dtype=torch.float64), grid, -grid,
                      torch.tensor([0.0, -0.0, 1e-45, 9.01, 88.0, -200.0], dtype=torch.float64)]).float()


def tanh_accuracy() -> dict:
    """The largest and mean ulp distance of the kernel's float tanh, and of torch's, from the exact
    tanh rounded to float32; whether both ignore the sign of zero and map ±inf to ±1 and NaN to NaN."""
    ext = fast_hadamard.load_extension()
    x = tanh_inputs()
    exact = torch.tanh(x.double()).float()
    out = {}
    for name, values in (("vector tanh", ext.tanh_float(x)), ("torch.tanh (float32)", torch.tanh(x))):
        d = fast_hadamard.float32_ulps(values, exact)
        out[name] = {"max_ulp": int(d.max()), "mean_ulp": float(d.double().mean()),
                     "share_exact": float((d == 0).double().mean())}
    specials = ext.tanh_float(torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan")]))
    out["specials_ok"] = bool(specials[:4].tolist() == [0.0, -0.0, 1.0, -1.0]
                              and torch.signbit(specials[:2]).tolist() == [False, True]
                              and bool(specials[4].isnan()))
    out["inputs"] = x.numel()
    return out


def main(argv: list[str] | None = None) -> int:
    p = shape_parser(__doc__, list(SHAPES))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not fast_hadamard.available():
        print("the fast HadamRNN kernel could not be built: nothing to compare", file=sys.stderr)
        return 1
    start = time.perf_counter()
    accuracy = tanh_accuracy()
    print("float tanh, ulp from the exact one: " + "; ".join(
        f"{k}: max {v['max_ulp']}, mean {v['mean_ulp']:.2f}"
        for k, v in accuracy.items() if isinstance(v, dict)))
    library = library_tanh_extension()
    variants = {"vector tanh": nullcontext, **({"library tanh": running(library)} if library else {})}
    rows = []
    for name in args.shapes:
        n, b, t, bits = SHAPES[name]
        n, b, t = args.hidden or n, args.batch or b, args.T or t
        gen = torch.Generator().manual_seed(args.seed)
        torch.manual_seed(args.seed)
        model = build_model("hadamrnn", input_size=1, output_size=10, hidden_size=n, bits=bits,
                            nonlinearity="tanh")
        x, y = torch.randn(b, t, 1, generator=gen), torch.randint(0, 10, (b,), generator=gen)
        def loss(m, x=x, y=y):
            return F.cross_entropy(m(x), y)

        times = interleaved_times(variant_steps(model, loss, variants), args.reps, warmup=1)
        med = {v: statistics.median(ts) for v, ts in times.items()}
        ratio = median_ratios(times, "vector tanh").get("library tanh")
        rows.append({"shape": name, "hidden": n, "batch": b, "T": t, "bits": bits, "times_s": times,
                     "median_s": med, "library_over_vector": ratio})
        print(f"{name} (n={n}, B={b}, T={t}): " + ", ".join(f"{v} {s:.3f} s" for v, s in med.items())
              + (f": {ratio:.2f}x" if ratio else ""), flush=True)
    if not args.no_json:
        write_record(args.out or default_path("tanh_recurrence"), {
            "benchmark": "tanh_recurrence",
            "description": "one training step of HadamRNN with a tanh recurrence: the fused kernel's vector "
                           "tanh against the same kernel calling std::tanh (its source at "
                           f"{LIBRARY_TANH_COMMIT[:8]}); the float tanh's distance from the exact one",
            "config": {"shapes": {k: SHAPES[k] for k in args.shapes}, "reps": args.reps,
                       "threads": args.threads, "hidden": args.hidden, "batch": args.batch, "T": args.T,
                       "library_tanh_commit": LIBRARY_TANH_COMMIT},
            "accuracy": accuracy, "sizes": rows}, seed=args.seed, wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
