"""One HadamRNN training step: qornn's fused kernel against the papers' code style and other baselines.

A training step is forward + cross-entropy + backward + Adam update, float32, CPU, at two shapes:

- ``pmnist``: batch 100, T = 784, input size 1, 10 classes, many-to-one (pMNIST, sMNIST), for each n;
- ``copy``: the copy task at the paper's shape: n = 128, batch 128, T = 1020, 10 input tokens,
  9 classes, a readout at every step (many-to-many).

Variants, all at the same n:

- ``qornn-fast``: ``build_model("hadamrnn", ...)``: its HadamardWeight runs the fused C++ kernel of
  :mod:`qornn.fast_hadamard` (U x_t + b, the recurrence, for the copy task the readout, and every gradient in
  one time loop; reversible backward).
- ``qornn-previous``: the fast path as it was before the fused kernel (commit ``PREVIOUS_COMMIT``): the
  pre-activations built by torch, a C++ loop over the recurrence alone with stored states, the readout in
  torch. Its C++ source is read from git history and built beside the current one.
- ``qornn-dense``: the same qornn model with the kernel switched off (``fast_hadamard.disabled()``): one
  dense ``addmm`` per step with W = diag(sign u)·H/√n, autograd backward.
- ``reference``: the papers' code style: W = diag(sign u)·H/√n rebuilt through a torch parametrization
  of an ``nn.Linear`` (latent u, straight-through sign), a Python loop with one ``F.linear`` for the
  recurrence and one for the 4-bit input projection per step (and the readout per step for the copy task).
- ``nn.RNN``: ``torch.nn.RNN`` (tanh, float weights, ATen's C++ loop) and a linear readout.

Repetitions of the variants are interleaved (A B C D A B C D ...) so that the load of a shared machine
hits them alike; the table reports medians and the median of the per-repetition ratios. ``--threads 1 2``
times everything at each thread count; the speed-up of two threads over one is measured apart, with the
1-thread and 2-thread steps of one model interleaved, and so is the sweep over T (every T in one loop).
``--memory`` measures the peak memory of one step of each variant
in a fresh process (peak resident set during the step minus the resident set before it). The roofline
counts the additions of the kernel's fast Walsh–Hadamard transforms in one step (three per time step:
forward, backward, and the reversible rebuild) and compares the rate reached with this CPU's peak rate of
vector additions, measured by the kernel's own micro-benchmark. The growth exponent in n is a least-squares
fit of log(time) against log(n); a sweep over T at fixed n gives the exponent in T.
Results go to ``data/results/benchmarks/hadamrnn_step.json`` with provenance.

    .venv/bin/python benchmarks/hadamrnn_step.py --threads 1 2 --memory --reps 3  # recorded (~40 min)
    .venv/bin/python benchmarks/hadamrnn_step.py --quick                  # smoke run, small T, no JSON
    .venv/bin/python benchmarks/hadamrnn_step.py --scaling-only --threads 1 2 --sizes 512  # quiet enough?
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import (
    default_path,
    extension_from_history,
    fit_exponent,
    interleaved_times,
    median_ratios,
    write_record,
)
from torch import nn
from torch.nn.utils import parametrize

from qornn import fast_hadamard
from qornn.hadamard import sylvester_hadamard
from qornn.models import build_model
from qornn.quantize import binary_sign, quantize_ste, sign_ste
from qornn.tasks.base import sequence_cross_entropy

BITS = 4
VARIANTS = ("qornn-fast", "qornn-previous", "reference", "nn.RNN", "qornn-dense")
#: the commit whose C++ recurrence ("today's fast path" before the fused kernel) qornn-previous builds
PREVIOUS_COMMIT = "4a30763891487a3fd4626a824cbeed8051865705"
#: repetitions of the 1-thread vs 2-thread comparison (cheap: one model, one step each): a step's time
#: on this shared guest varies by ±20% from one repetition to the next, so the median needs many
SCALING_REPS = 30

SHAPES = {
    "pmnist": {"batch": 100, "T": 784, "input": 1, "classes": 10, "many_to_many": False, "tokens": False},
    "copy": {"batch": 128, "T": 1020, "input": 10, "classes": 9, "many_to_many": True, "tokens": True,
             "n": 128},
}


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
    """HadamRNN as the papers' code writes it: parametrized dense W, one F.linear per step (and, many to
    many, the readout at every step)."""

    def __init__(self, n: int, inputs: int, classes: int, many_to_many: bool) -> None:
        super().__init__()
        self.inp = nn.Linear(inputs, n)
        self.rec = nn.Linear(n, n, bias=False)
        parametrize.register_parametrization(self.rec, "weight", SignHadamard(n))
        self.out = nn.Linear(n, classes)
        self.many_to_many = many_to_many

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u_q = quantize_ste(self.inp.weight, BITS)
        v_q = quantize_ste(self.out.weight, BITS)
        outputs = []
        with parametrize.cached():
            w = self.rec.weight
            h = x.new_zeros(x.shape[0], w.shape[0])
            for x_t in x.unbind(1):
                h = F.linear(h, w) + F.linear(x_t, u_q, self.inp.bias)
                if self.many_to_many:
                    outputs.append(F.linear(F.relu(h), v_q, self.out.bias))
        if self.many_to_many:
            return torch.stack(outputs, 1)
        return F.linear(F.relu(h), v_q, self.out.bias)


class TorchRNN(nn.Module):
    def __init__(self, n: int, inputs: int, classes: int, many_to_many: bool) -> None:
        super().__init__()
        self.rnn = nn.RNN(inputs, n, batch_first=True)
        self.out = nn.Linear(n, classes)
        self.many_to_many = many_to_many

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, h = self.rnn(x)
        return self.out(states if self.many_to_many else h[-1])


# ---------------------------------------------------------------------------------------------------------
# qornn-previous: the C++ recurrence as it was at PREVIOUS_COMMIT, built from git history


_previous_ext = None


def previous_extension():
    """The C++ module of the previous fast path, or None (with the reason printed) if it cannot be built."""
    global _previous_ext
    if _previous_ext is None:
        _previous_ext = extension_from_history(PREVIOUS_COMMIT, "qornn/csrc/fast_hadamard.cpp",
                                               "qornn_previous_fast_hadamard",
                                               cflags=["-O3", "-march=native"]) or False
    return _previous_ext or None


class _PreviousRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, s, block):
        sc = (binary_sign(s.detach()) / math.sqrt(block)).contiguous()
        out = previous_extension().forward(a.contiguous(), sc, block, 1)  # time-major loop order, as it was
        ctx.block = block
        ctx.save_for_backward(a, sc, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, sc, h = ctx.saved_tensors
        grad_a, grad_s = previous_extension().backward(grad.contiguous(), a, sc, h, ctx.block, False, 1)
        return grad_a, grad_s, None


def previous_model(**kwargs) -> nn.Module:
    """A qornn HadamRNN that runs as before the fused kernel: torch pre-activations and readout, the old
    C++ recurrence with stored states."""
    model = build_model("hadamrnn", **kwargs)
    weight = model.recurrent
    weight.fused_states = lambda *args, **kw: None  # no fused kernel: pre-activations, then recur
    weight.recur = lambda a, nonlinearity="linear", overwrite=False, bias=None: _PreviousRecurrence.apply(
        a, weight.signs(), weight.block)
    return model


# ---------------------------------------------------------------------------------------------------------


def make_inputs(shape: dict, T: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(qornn input, float input for the baselines, targets)."""
    gen = torch.Generator().manual_seed(seed)
    b, d, k = shape["batch"], shape["input"], shape["classes"]
    if shape["tokens"]:
        x = torch.randint(0, d, (b, T), generator=gen)
        x_float = F.one_hot(x, d).float()
    else:
        x = x_float = torch.randn(b, T, d, generator=gen)
    y = torch.randint(0, k, (b, T) if shape["many_to_many"] else (b,), generator=gen)
    return x, x_float, y


def build_variant(variant: str, n: int, shape: dict) -> nn.Module:
    kw = {"input_size": shape["input"], "output_size": shape["classes"], "hidden_size": n, "bits": BITS,
          "many_to_many": shape["many_to_many"]}
    if variant in ("qornn-fast", "qornn-dense"):
        return build_model("hadamrnn", **kw)
    if variant == "qornn-previous":
        return previous_model(**kw)
    cls = ReferenceHadamRNN if variant == "reference" else TorchRNN
    return cls(n, shape["input"], shape["classes"], shape["many_to_many"])


def step_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss training uses, for every variant alike: the copy task's per-position cross-entropy
    (:func:`qornn.tasks.base.sequence_cross_entropy`), or the classifier's."""
    return sequence_cross_entropy(out, y) if out.dim() == 3 else F.cross_entropy(out, y)


def step_closure(variant: str, model: nn.Module, x, x_float, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    inp = x if variant.startswith("qornn") else x_float
    dense = variant == "qornn-dense"

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with fast_hadamard.disabled() if dense else contextlib.nullcontext():
            out = model(inp)
            step_loss(out, y).backward()
        opt.step()
        if hasattr(model, "apply_constraints_"):
            model.apply_constraints_()
    return step


def check_agreement(model, x, y) -> float:
    """Relative difference of the loss gradient wrt u between the fused kernel and the dense path."""
    grads = []
    for dense in (False, True):
        model.zero_grad(set_to_none=True)
        with fast_hadamard.disabled() if dense else contextlib.nullcontext():
            out = model(x)
            step_loss(out, y).backward()
        grads.append(model.recurrent.u.grad.clone())
    model.zero_grad(set_to_none=True)
    return float((grads[0] - grads[1]).norm() / grads[1].norm().clamp_min(1e-30))


def fwht_additions(n: int, shape: dict, T: int) -> int:
    """Additions of the kernel's FWHTs in one training step: three per time step (forward, backward and
    the reversible rebuild), n·log₂ n each, for every sequence of the batch."""
    return 3 * n * int(math.log2(n)) * shape["batch"] * T


def time_variants(n: int, shape_name: str, T: int, reps: int, variants: tuple[str, ...], seed: int) -> dict:
    shape = SHAPES[shape_name]
    torch.manual_seed(seed)
    x, x_float, y = make_inputs(shape, T, seed)
    models = {v: build_variant(v, n, shape) for v in variants}
    agreement = check_agreement(models["qornn-fast"], x, y) if "qornn-dense" in variants else None
    steps = {v: step_closure(v, m, x, x_float, y) for v, m in models.items()}
    times = interleaved_times(steps, reps)  # one warm-up step each, then interleaved reps
    out = {"shape": shape_name, "n": n, "T": T, "batch": shape["batch"], "threads": torch.get_num_threads(),
           "reps": reps, "times_s": times, "median_s": {v: statistics.median(ts) for v, ts in times.items()},
           "speedup_median_of_ratios": median_ratios(times, "qornn-fast"),
           "fwht_additions": fwht_additions(n, shape, T)}
    if agreement is not None:
        out["grad_u_rel_diff_fast_vs_dense"] = agreement
    return out


def machine_probe(size: int = 768, products: int = 4):
    """A dense float32 matrix product chain (``products`` products of ``size``²): work that any two
    real cores run about twice as fast as one, to time beside the kernel as this machine's own ceiling
    of thread scaling at that moment (a guest whose vCPUs share a core, or lose their time slices to
    other guests, scales less, whatever the code)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator) / size ** 0.5
    b = torch.randn(size, size, generator=generator) / size ** 0.5

    def run() -> None:
        out = a
        for _ in range(products):
            out = out @ b
    return run


def interleaved_thread_scaling(n: int, T: int, reps: int, threads: int, seed: int) -> dict:
    """qornn-fast's step at 1 thread and at ``threads``, interleaved (1, k, 1, k, ...) on one model, so
    that a change of load hits both alike: the median of the per-repetition ratios t(1) / t(k). The
    same for :func:`machine_probe` in the same loop (``machine_speedup``): what two threads gave to
    work that scales on real cores, at the same moments."""
    shape = SHAPES["pmnist"]
    torch.manual_seed(seed)
    x, x_float, y = make_inputs(shape, T, seed)
    step = step_closure("qornn-fast", build_variant("qornn-fast", n, shape), x, x_float, y)
    probe = machine_probe()

    def at(k: int, work):
        def run() -> None:
            torch.set_num_threads(k)
            work()
        return run

    # three untimed steps each: the first multi-threaded steps of a process run slower (thread pool and
    # per-thread buffers warming up), which a single warm-up step left in the first repetitions
    k = str(threads)
    times = interleaved_times({"1": at(1, step), k: at(threads, step),
                               "probe@1": at(1, probe), f"probe@{k}": at(threads, probe)}, reps, warmup=3)

    def speedup(one: str, many: str) -> float:
        return statistics.median(a / b for a, b in zip(times[one], times[many], strict=True))

    return {"n": n, "T": T, "threads": threads, "reps": reps, "times_s": times,
            "speedup": speedup("1", k), "machine_speedup": speedup("probe@1", f"probe@{k}")}


def thread_scaling_rows(sizes: list[int], T: int, reps: int, threads: int, seed: int) -> list[dict]:
    """:func:`interleaved_thread_scaling` at every n of ``sizes``, with :data:`SCALING_REPS` repetitions
    at least (twice ``reps`` when that is more)."""
    return [interleaved_thread_scaling(n, T, max(SCALING_REPS, 2 * reps), threads, seed) for n in sizes]


def interleaved_t_sweep(n: int, Ts: list[int], reps: int, variants: tuple[str, ...], seed: int) -> dict:
    """Each variant's step at every T of ``Ts``, all interleaved in one loop; the fitted exponents."""
    shape = SHAPES["pmnist"]
    steps = {}
    for v in variants:
        for T in Ts:
            torch.manual_seed(seed)
            x, x_float, y = make_inputs(shape, T, seed)
            steps[f"{v}@{T}"] = step_closure(v, build_variant(v, n, shape), x, x_float, y)
    times = interleaved_times(steps, reps)
    median = {v: {T: statistics.median(times[f"{v}@{T}"]) for T in Ts} for v in variants}
    return {"n": n, "T": Ts, "reps": reps, "threads": torch.get_num_threads(), "times_s": times,
            "median_s": median,
            "exponent_T": {v: fit_exponent(Ts, [median[v][T] for T in Ts]) for v in variants}}


def peak_memory_mb(variant: str, n: int, shape_name: str, T: int, seed: int) -> float | None:
    """Peak memory of one training step of ``variant``, in a fresh process: the peak resident set during
    its first step minus the resident set before it (model, data and compiled kernels loaded), in MB;
    Adam's state, made in the first step, is counted."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import hadamrnn_step as b; "
            f"print(b._child_peak({variant!r}, {n}, {shape_name!r}, {T}, {seed}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"peak memory of {variant} at n={n} failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return float(done.stdout.strip().splitlines()[-1])


def add_memory(path: Path, slow_max_n: int, seed: int) -> int:
    """--memory-only: the peak memory of every case of an existing record, written into it."""
    import json

    from qornn.results import atomic_write_json, provenance

    start = time.perf_counter()
    record = json.loads(path.read_text())
    for r in record["sizes"]:
        if r["threads"] != record["sizes"][0]["threads"]:
            continue
        measured = [v for v in r["median_s"] if r["n"] <= slow_max_n or v.startswith("qornn")]
        r["peak_memory_mb"] = {v: peak_memory_mb(v, r["n"], r["shape"], r["T"], seed) for v in measured}
        print(f"  peak memory {r['shape']} n={r['n']}: "
              + ", ".join(f"{v} {m:.1f} MB" for v, m in r["peak_memory_mb"].items() if m is not None))
    record["memory_provenance"] = provenance(profile="benchmark", seed=seed, device="cpu",
                                             wall_time_s=time.perf_counter() - start)
    atomic_write_json(path, record)
    return 0


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _child_peak(variant: str, n: int, shape_name: str, T: int, seed: int) -> float:
    """The first training step's peak memory (a later step may reuse memory the allocator kept from an
    earlier one, which the resident set would not show): the compiled kernels are loaded first."""
    torch.set_num_threads(1)
    shape = SHAPES[shape_name]
    x, x_float, y = make_inputs(shape, T, seed)
    fast_hadamard.load_extension()
    if variant == "qornn-previous":
        previous_extension()
    step = step_closure(variant, build_variant(variant, n, shape), x, x_float, y)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set (VmHWM)
    before = _status_kb("VmRSS")
    step()
    return (_status_kb("VmHWM") - before) / 1024


def print_table(rows: list[dict], key: str, variants: tuple[str, ...]) -> None:
    head = f"{key:>6} {'thr':>3} | " + " | ".join(f"{v:>14}" for v in variants)
    head += " | " + " | ".join(f"{'×' + v:>15}" for v in variants if v != "qornn-fast")
    print(head)
    print("-" * len(head))
    for r in rows:
        line = f"{r[key]:>6} {r['threads']:>3} | " + " | ".join(
            f"{r['median_s'][v]:>13.4f}s" if v in r["median_s"] else f"{'—':>14}" for v in variants)
        ratios = r.get("speedup_median_of_ratios", {})
        line += " | " + " | ".join(
            f"{ratios[v]:>14.2f}×" if v in ratios else f"{'—':>15}" for v in variants if v != "qornn-fast")
        print(line)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 512, 2048], help="n at the pMNIST shape")
    p.add_argument("--copy", action=argparse.BooleanOptionalAction, default=True,
                   help="also the copy task's paper shape (n = 128, T = 1020, batch 128, many-to-many)")
    p.add_argument("--copy-T", type=int, default=SHAPES["copy"]["T"], dest="copy_T",
                   help="T of the copy shape (the paper's: 1020)")
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions per size")
    p.add_argument("--T", type=int, default=784, dest="T", help="T of the pMNIST shape")
    p.add_argument("--t-sweep", type=int, nargs="*", default=[98, 196, 392, 784],
                   help="sequence lengths for the exponent in T (empty: skip)")
    p.add_argument("--t-sweep-n", type=int, default=512)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS,
                   help="variants to time (qornn-fast is always included: the ratios are against it)")
    p.add_argument("--slow-variants-max-n", type=int, default=512,
                   help="time nn.RNN and qornn-dense only up to this n (their step grows as n²; the "
                        "reference, which the targets are set against, is timed at every n)")
    p.add_argument("--threads", type=int, nargs="+", default=[1],
                   help="torch thread counts to time at (each gives a full table)")
    p.add_argument("--memory", action="store_true", help="measure each step's peak memory (fresh processes)")
    p.add_argument("--memory-only", action="store_true",
                   help="time nothing: measure the peak memory of the cases of the record at --out and add "
                        "it there, with the provenance of this measurement")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="smoke run: T=50, 2 reps, no T sweep, no JSON")
    p.add_argument("--scaling-only", action="store_true",
                   help="time only one thread against the most of --threads (and the machine's own "
                        "scaling), print it, write no JSON: is this machine quiet enough for a record?")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON path (default: data/results/benchmarks/hadamrnn_step.json)")
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.T, args.reps, args.t_sweep, args.no_json = 50, 2, [], True
    if args.scaling_only:
        threads = max(args.threads)
        if threads < 2:
            p.error("--scaling-only needs --threads with a count above 1")
        for r in thread_scaling_rows(args.sizes, args.T, args.reps, threads, args.seed):
            print(f"n={r['n']}: {threads} threads vs one, qornn-fast {r['speedup']:.2f}×, the machine's own "
                  f"{r['machine_speedup']:.2f}×", flush=True)
        return 0
    if args.memory_only:
        return add_memory(args.out or default_path("hadamrnn_step"), args.slow_variants_max_n, args.seed)
    variants = tuple(v for v in VARIANTS if v in args.variants or v == "qornn-fast")
    if "qornn-previous" in variants and previous_extension() is None:
        variants = tuple(v for v in variants if v != "qornn-previous")
    if not fast_hadamard.available():
        print("warning: the fused kernel is not available; qornn-fast measures the dense fallback",
              file=sys.stderr)
    cases = [("pmnist", n, args.T) for n in args.sizes]
    if args.copy:
        cases.append(("copy", SHAPES["copy"]["n"], 50 if args.quick else args.copy_T))
    start = time.perf_counter()
    before_threads = torch.get_num_threads()
    rows, sweep, scaling_rows = [], {}, []
    peak = fast_hadamard.load_extension().peak_add_rate(0.5) if fast_hadamard.available() else None
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            print(f"\nHadamRNN training step, float32, {threads} torch thread(s), "
                  f"{args.reps} interleaved reps")
            for shape_name, n, T in cases:
                slow_ok = n <= args.slow_variants_max_n
                vs = tuple(v for v in variants if slow_ok or v not in ("nn.RNN", "qornn-dense"))
                r = time_variants(n, shape_name, T, args.reps, vs, args.seed)
                if peak:
                    rate = r["fwht_additions"] / r["median_s"]["qornn-fast"]
                    r["roofline"] = {"additions_per_s": rate, "peak_additions_per_s_per_thread": peak,
                                     "fraction_of_peak": rate / (peak * threads)}
                rows.append(r)
                check = r.get("grad_u_rel_diff_fast_vs_dense")
                times = ", ".join(f"{v} {s:.4f}s" for v, s in r["median_s"].items())
                check = "" if check is None else f"; grad u fused vs dense rel. diff {check:.1e}"
                print(f"  {shape_name} n={n}: {times}{check}", flush=True)
        torch.set_num_threads(args.threads[0])
        if args.t_sweep:
            sweep = interleaved_t_sweep(args.t_sweep_n, args.t_sweep, max(3, args.reps),
                                        ("qornn-fast", "reference"), args.seed)
        if max(args.threads) > 1:  # 1 thread vs the most, side by side, at every n of the pMNIST shape
            scaling_rows = thread_scaling_rows(args.sizes, args.T, args.reps, max(args.threads), args.seed)
    finally:
        torch.set_num_threads(before_threads)
    if args.memory:  # the fast variants at every n; the dense ones (one step takes minutes at n = 2048) up
        for shape_name, n, T in cases:  # to --slow-variants-max-n
            r = next(r for r in rows if r["shape"] == shape_name and r["n"] == n)
            measured = [v for v in r["median_s"] if n <= args.slow_variants_max_n or v.startswith("qornn")]
            r["peak_memory_mb"] = {v: peak_memory_mb(v, n, shape_name, T, args.seed) for v in measured}
            print(f"  peak memory {shape_name} n={n}: "
                  + ", ".join(f"{v} {m:.1f} MB" for v, m in r["peak_memory_mb"].items() if m is not None))
    print()
    print_table(rows, "n", variants)
    thread_scaling = {str(r["n"]): r["speedup"] for r in scaling_rows}
    machine_scaling = {str(r["n"]): r["machine_speedup"] for r in scaling_rows}
    if thread_scaling:
        print(f"{max(args.threads)} threads vs one (qornn-fast, interleaved): "
              + ", ".join(f"n={n} {s:.2f}×" for n, s in thread_scaling.items()))
        print("  the machine's own, a dense matrix product in the same loop: "
              + ", ".join(f"{s:.2f}×" for s in machine_scaling.values()))
    first = [r for r in rows if r["shape"] == "pmnist" and r["threads"] == args.threads[0]]
    exps_n = {v: fit_exponent([r["n"] for r in first], [r["median_s"][v] for r in first])
              for v in variants if len(first) > 1 and all(v in r["median_s"] for r in first)}
    exps_t = sweep.get("exponent_T", {})
    if sweep:
        print(f"\nT sweep at n={args.t_sweep_n} (interleaved): "
              + "; ".join(f"{v} " + ", ".join(f"T={T} {t:.4f}s" for T, t in m.items())
                          for v, m in sweep["median_s"].items()))
        print("growth exponent in T: " + ", ".join(f"{v} β={b:.2f}" for v, b in exps_t.items()
                                                   if b is not None))
    wall = time.perf_counter() - start
    if not args.no_json:
        path = args.out or default_path("hadamrnn_step")
        record = {
            "benchmark": "hadamrnn_step",
            "description": "one training step (forward + CE loss + backward + Adam): pMNIST shape "
                           "(many-to-one) per n, and the copy task's paper shape (many-to-many)",
            "config": {"shapes": SHAPES, "bits": BITS, "dtype": "float32", "sizes": args.sizes,
                       "copy": args.copy, "copy_T": args.copy_T, "reps": args.reps, "T": args.T,
                       "t_sweep": args.t_sweep,
                       "t_sweep_n": args.t_sweep_n, "threads": args.threads,
                       "cpp_fast_path": fast_hadamard.available(),
                       "kernel_vector_bytes": (fast_hadamard.load_extension().vector_bytes()
                                               if fast_hadamard.available() else None),
                       "variants": list(variants), "previous_commit": PREVIOUS_COMMIT,
                       "slow_variants_max_n": args.slow_variants_max_n},
            "sizes": rows,
            "thread_scaling": thread_scaling,
            "machine_thread_scaling": machine_scaling,
            "thread_scaling_runs": scaling_rows,
            "exponent_n": exps_n,
            "t_sweep": sweep,
            "exponent_T": exps_t,
        }
        write_record(path, record, seed=args.seed, wall_time_s=wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
