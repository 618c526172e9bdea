"""Helpers shared by the benchmark scripts: interleaved timing, ratios, the n^α fit, the JSON record.

The scripts import it as ``_common`` (they run as ``python benchmarks/<name>.py``, which puts this
folder on ``sys.path``).
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from qornn.results import atomic_write_json, provenance, results_dir
from qornn.train import flush_denormals

__all__ = ["interleaved_times", "median_ratios", "fit_exponent", "default_path", "write_record",
           "extension_from_history",
           "step_parser", "step_header", "training_step", "shape_parser", "same_gradients", "variant_steps"]


def interleaved_times(steps: Mapping[str, Callable[[], object]], reps: int, warmup: int = 1,
                      flush_subnormals: bool = True) -> dict[str, list[float]]:
    """Seconds per call of each closure, ``reps`` times, interleaved (A B C A B C ...) after ``warmup``
    untimed calls of each, so that the load of a shared machine hits every variant alike.

    With ``flush_subnormals`` (the default) the calls run as training and evaluation do, with
    subnormal floats flushed to zero (``qornn.train.flush_denormals``): otherwise a model whose
    gradients vanish over the sequence (a tanh RNN, an LSTM) spends most of its step on the CPU's
    slow path for subnormals, and a ratio against it measures that, not the algorithm. False leaves
    the mode to the closures (``subnormals.py``, which times both)."""
    if flush_subnormals:
        with flush_denormals():
            return interleaved_times(steps, reps, warmup, flush_subnormals=False)
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {v: [] for v in steps}
    for _ in range(reps):
        for v, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[v].append(time.perf_counter() - t0)
    return times


def median_ratios(times: Mapping[str, list[float]], base: str,
                  variants: list[str] | None = None) -> dict[str, float]:
    """{v: median over repetitions of times[v] / times[base]}: ratios taken side by side."""
    return {v: statistics.median(b / a for a, b in zip(times[base], times[v], strict=True))
            for v in (variants if variants is not None else times) if v != base}


def fit_exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y against log x; None when the xs are all one size (no slope to
    fit, and a record holds no NaN: results.atomic_write_json refuses non-finite numbers)."""
    lx, ly = [math.log(v) for v in xs], [math.log(v) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / den if den else None


def default_path(name: str) -> Path:
    """``data/results/benchmarks/<name>.json`` (QORNN_DATA_DIR moves it)."""
    return results_dir() / "benchmarks" / f"{name}.json"


def write_record(path: Path, record: dict[str, Any], *, seed: int, wall_time_s: float,
                 subnormals_flushed: bool = True) -> None:
    """Add the provenance (commit, dirty flag, torch, CPU, date) and write ``record`` atomically;
    ``config.subnormals_flushed`` says whether the timings ran with subnormals flushed (see
    :func:`interleaved_times`)."""
    record = {**record, "config": {**record.get("config", {}), "subnormals_flushed": subnormals_flushed},
              "provenance": provenance(profile="benchmark", seed=seed, device="cpu",
                                                 wall_time_s=wall_time_s)}
    atomic_write_json(path, record)
    print(f"\nwrote {path}")


def step_parser(doc: str, name: str, sizes: list[int], batch: int) -> argparse.ArgumentParser:
    """The options every training-step benchmark takes: sizes, reps, T, batch, threads, seed, output."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=sizes)
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions per size")
    p.add_argument("--T", type=int, default=784, dest="T")
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: see benchmarks/README.md on loaded machines)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help=f"JSON path (default: data/results/benchmarks/{name}.json)")
    p.add_argument("--no-json", action="store_true")
    return p


def step_header(title: str, args: argparse.Namespace, input_size: int) -> str:
    """The first line a training-step benchmark prints: what is timed, and the shape it is timed at."""
    return (f"{title}: batch {args.batch}, T={args.T}, input {input_size}, many-to-one, float32, "
            f"{torch.get_num_threads()} torch threads, {args.reps} interleaved reps")


def training_step(model, opt, x, y) -> Callable[[], None]:
    """A closure running one training step of a many-to-one classifier: forward, cross-entropy,
    backward, ``opt.step()``, then the model's ``apply_constraints_()`` where it has one."""
    constrain = getattr(model, "apply_constraints_", None)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if constrain is not None:
            constrain()
    return step


def shape_parser(doc: str, shapes: list[str]) -> argparse.ArgumentParser:
    """The options of a benchmark timed at named paper shapes, whose sizes a quick run may override."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--shapes", nargs="+", default=shapes, choices=shapes)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=int, default=None, help="override every shape's hidden size (quick runs)")
    p.add_argument("--batch", type=int, default=None, help="override every shape's batch (quick runs)")
    p.add_argument("--T", type=int, default=None, help="override every shape's sequence length (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--no-json", action="store_true")
    return p


#: a variant of a benchmark: a function giving the context its step runs in (nullcontext: as models train)
Variant = Callable[[], AbstractContextManager]


def same_gradients(model, loss: Callable[[Any], Any], variants: Mapping[str, Variant]) -> bool:
    """Whether every variant gives every parameter of ``model`` the same gradient of ``loss(model)``,
    bit for bit, from the same state (a copy each: STE-Björck's power iteration warm-starts from a
    buffer that a forward pass moves)."""
    grads = []
    for context in variants.values():
        twin = copy.deepcopy(model)
        with context():
            loss(twin).backward()
        grads.append([p.grad for p in twin.parameters() if p.grad is not None])
    first = grads[0]
    return all(len(other) == len(first) and all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
               for other in grads[1:])


def variant_steps(model, loss: Callable[[Any], Any], variants: Mapping[str, Variant],
                  lr: float = 1e-4) -> dict[str, Callable[[], None]]:
    """One closure per variant running a whole training step of ``model`` in that variant's context:
    ``loss(model)``, backward, one step of an Adam optimiser the variants share, then the model's
    ``apply_constraints_()`` where it has one."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    constrain = getattr(model, "apply_constraints_", None)

    def closure(context: Variant) -> Callable[[], None]:
        def step() -> None:
            with context():
                opt.zero_grad(set_to_none=True)
                loss(model).backward()
                opt.step()
                if constrain is not None:
                    constrain()
        return step

    return {name: closure(context) for name, context in variants.items()}


def extension_from_history(commit: str, source_path: str, name: str, *, cflags: list[str],
                           ldflags: list[str] | None = None):
    """The C++ module ``name`` built from ``source_path`` as it was at ``commit`` (read with ``git show``),
    in a folder of its own beside the kernel's build (a benchmark's earlier version, timed beside the
    current one); None, with the reason printed, when this checkout's history lacks that commit."""
    from torch.utils import cpp_extension

    from qornn import fast_hadamard

    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(["git", "show", f"{commit}:{source_path}"], cwd=root, capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"{name} skipped: its source is not in this checkout's history ({err})", file=sys.stderr)
        return None
    build = fast_hadamard._build_dir().parent / f"{name}_{commit[:8]}"
    build.mkdir(parents=True, exist_ok=True)
    src = build / f"{name}.cpp"
    if not src.exists() or src.read_text() != source:  # rewriting it would make ninja rebuild
        src.write_text(source)
    fast_hadamard._ninja_on_path()
    fast_hadamard.clear_stale_lock(build)
    return cpp_extension.load(name=name, sources=[str(src)], extra_cflags=cflags, extra_ldflags=ldflags or [],
                              build_directory=str(build), verbose=False)
