"""Check that the fused HadamRNN kernel of this checkout gives the same numbers, bit for bit, as the one
of an earlier commit: forward states, logits and every gradient, on a grid of cases (float32 and
float64; batch sizes that fill whole and partial chunks; n, block size; linear, ReLU and tanh; direct
inputs or pre-activations; with and without the fused readout; stored or reversible states; the
gradient of the last state, of every state, or none). The record counts the cases that differ by
dtype and recurrence, for a rewrite meant to change some of them only.

    python scripts/kernel_equivalence.py COMMIT [--threads 1]

Each version is built with its own ``qornn.fast_hadamard`` (its own compiler flags) into a fresh
folder and run in its own process. The result goes to
``data/results/benchmarks/kernel_equivalence/<commit>.json`` with the two versions' git blob ids of
the kernel's files: a rewrite found equal at one thread (how runs train) may be declared in
:data:`qornn.results.SAME_RESULTS`, so that the records it trained do not count as stale. Exits 1 if
any case differs.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import torch
from _equivalence import REPO, blob_ids, resolve, run_worker, unpack

#: the files the kernel's numbers depend on
KERNEL_FILES = ("qornn/csrc/hadamard_rnn.cpp", "qornn/fast_hadamard.py")
#: sequence length, input size and readout size of every case
STEPS, INPUTS, OUTPUTS = 37, 3, 5


def cases():
    """Every case of the grid, as keyword arguments for :func:`run_case`."""
    grid = itertools.product([torch.float32, torch.float64], [1, 3, 4, 8, 13, 16, 20, 33, 100], [16, 64],
                             [4, 16], ["linear", "relu", "tanh"], [True, False], [False, True], [False, True],
                             ["last", "all", "none"])
    for dtype, batch, n, block, nonlin, direct, readout, stored, grad in grid:
        if (nonlin != "linear" and not stored) or (grad == "none" and not readout):
            continue
        yield dict(dtype=dtype, batch=batch, n=n, block=block, nonlin=nonlin, direct=direct, readout=readout,
                   stored=stored, grad=grad)


def run_case(ext, seed: int, *, dtype, batch, n, block, nonlin, direct, readout, stored, grad) -> list:
    """The kernel's forward outputs and backward gradients on random data drawn from ``seed``."""
    from qornn.fast_hadamard import NONLINEARITY_CODES

    g = torch.Generator().manual_seed(seed)
    T, d, o = STEPS, INPUTS, OUTPUTS
    x = torch.randn(batch, T, d, generator=g, dtype=dtype) if direct else \
        torch.randn(T, batch, n, generator=g, dtype=dtype)
    U, b = torch.randn(n, d, generator=g, dtype=dtype) * 0.3, torch.randn(n, generator=g, dtype=dtype) * 0.1
    sc = torch.sign(torch.randn(n, generator=g, dtype=dtype)) / block ** 0.5
    empty = torch.empty(0, dtype=dtype)
    V = torch.randn(o, n, generator=g, dtype=dtype) * 0.2 if readout else empty
    c = torch.randn(o, generator=g, dtype=dtype) if readout else empty
    code = NONLINEARITY_CODES[nonlin]
    h, y = ext.forward(x, U, b, sc, V, c, block, code, direct, stored or grad == "all")
    dh = {"none": empty, "all": torch.randn(T, batch, n, generator=g, dtype=dtype),
          "last": torch.randn(batch, n, generator=g, dtype=dtype)}[grad]
    dy = torch.randn(T, batch, o, generator=g, dtype=dtype) if readout else empty
    states = h if stored or h.dim() == 2 else h[-1].contiguous()
    return [h, y, *ext.backward(dh, dy, x, U, b, sc, V, states, block, code, direct, True)]


def dump(out: str, threads: int) -> None:
    """Run every case with the ``qornn`` on ``sys.path`` and save the outputs to ``out``."""
    from qornn.fast_hadamard import load_extension

    torch.set_num_threads(threads)
    ext = load_extension()
    torch.save([run_case(ext, seed, **case) for seed, case in enumerate(cases())], out)


def outputs(root: Path, work: Path, threads: int) -> list:
    out = work / f"{root.name}.pt"
    run_worker(Path(__file__).name, root, ["--dump", str(out), "--threads", str(threads)],
               env={"QORNN_EXT_DIR": str(work / f"{root.name}-build"), "QORNN_REQUIRE_FAST_KERNEL": "1"})
    return torch.load(out, weights_only=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", nargs="?", help="the earlier commit to compare with")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        dump(args.dump, args.threads)
        return 0
    if not args.commit:
        parser.error("name the commit to compare with")
    commit = resolve(args.commit)
    sys.path.insert(0, str(REPO))  # this checkout's qornn (a --dump process imports its PYTHONPATH's)
    from qornn.results import atomic_write_json, provenance, results_dir

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old = unpack(commit, work / "old")
        before, after = outputs(old, work, args.threads), outputs(REPO, work, args.threads)
        ids_before, ids_after = blob_ids(old, KERNEL_FILES), blob_ids(REPO, KERNEL_FILES)
    every = list(cases())
    names = [", ".join(f"{k}={v}" for k, v in case.items()) for case in every]
    differs = [not all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
               for a, b in zip(before, after, strict=True)]
    different = [name for name, differ in zip(names, differs, strict=True) if differ]
    groups: dict[str, list[int]] = {}  # "dtype nonlinearity" -> [cases that differ, cases]
    for case, differ in zip(every, differs, strict=True):
        group = groups.setdefault(f"{str(case['dtype']).removeprefix('torch.')} {case['nonlin']}", [0, 0])
        group[0] += differ
        group[1] += 1
    record = {
        "description": "the fused kernel of this commit against the one of an earlier commit, bit for bit",
        "compared_with": commit,
        "threads": args.threads,
        "cases": len(names),
        "different": len(different),
        "different_cases": different[:20],
        # how many cases differ of each dtype and recurrence: a rewrite that changes some of them only
        # (qornn.results.SAME_RESULTS_UNLESS) is checked against this
        "different_by_dtype_and_nonlinearity": {key: {"different": d, "cases": n}
                                                for key, (d, n) in groups.items()},
        "blobs_before": ids_before,
        "blobs_after": ids_after,
        "provenance": provenance(profile="benchmark", seed=0, device="cpu",
                                 wall_time_s=time.perf_counter() - start),
    }
    path = results_dir() / "benchmarks" / "kernel_equivalence" / f"{commit[:12]}.json"
    atomic_write_json(path, record)
    print(f"{len(names)} cases, {len(different)} different (threads={args.threads}); written to {path}")
    for name in different[:20]:
        print("  different:", name)
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
