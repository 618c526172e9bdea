"""A page's provenance notes built three ways: as now, with one git process per file version read and
per commit compared (before ``qornn.results._GitObjects`` and ``_changed_files``' cache), and without
the code-fingerprint cache either (before ``qornn.results._FINGERPRINTS``).

Every paper-budget table says whether a record's code still behaves as today's
(``report.paper_budget_note`` → ``results.code_changed_since``): each record's commit is compared with
HEAD file by file, through the rewrites declared in ``results.SAME_RESULTS``. That reads a few hundred
file versions from git and fingerprints the same few dozen of them (their syntax trees without
docstrings). The script builds the same notes each way in one process, interleaved, with every
per-commit answer cache (``behaviour_changed``, ``_changed_files``, ``_git_blob``) cleared before every
call so that each way compares every record again. It prints the median seconds of each way and the
ratios to the way of today, and writes nothing (the notes are text the book shows; their cost is a
build-time matter).

    .venv/bin/python benchmarks/provenance_notes.py                       # qornn-copy, copy, pmnist
    .venv/bin/python benchmarks/provenance_notes.py --experiments copy --reps 1
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import time
from collections.abc import Iterator

from qornn import report, results


class _NeverKept(dict):
    """A fingerprint cache that keeps nothing: every call parses its source again."""

    def __setitem__(self, key, value) -> None:
        pass


def _git_text_one_process_each(name: str) -> str | None:
    """How file versions were read before the cat-file process: ``git cat-file blob`` or ``git show``."""
    args = ("show", name) if ":" in name else ("cat-file", "blob", name)
    try:
        out = results._git(*args)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@contextlib.contextmanager
def _way(name: str) -> Iterator[None]:
    kept = results._FINGERPRINTS, results._git_text, results._changed_files
    results._FINGERPRINTS = _NeverKept() if name == "no caches, git per read" else {}
    if name != "now":
        results._git_text = _git_text_one_process_each
        results._changed_files = results._changed_files.__wrapped__
    try:
        yield
    finally:
        results._FINGERPRINTS, results._git_text, results._changed_files = kept


WAYS = ("now", "git per read", "no caches, git per read")


def notes_seconds(experiments: list[str], way: str) -> float:
    """Seconds to build the paper-budget notes of ``experiments`` the way ``way`` (one of WAYS)."""
    for cached in (results.behaviour_changed, results._changed_files, results._git_blob):
        cached.cache_clear()
    with _way(way):
        start = time.perf_counter()
        for experiment in experiments:
            report.paper_budget_note(experiment)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=["qornn-copy", "copy", "pmnist"])
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    args = parser.parse_args(argv)
    notes_seconds(args.experiments, "now")  # warm-up: imports, records read once
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.reps):
        for way in WAYS:
            times[way].append(notes_seconds(args.experiments, way))
    print(f"paper-budget notes of {', '.join(args.experiments)}, {args.reps} interleaved repetitions:")
    for way, seconds in times.items():
        ratios = [t / n for t, n in zip(seconds, times["now"], strict=True)]
        print(f"  {way:24s} median {statistics.median(seconds):.2f} s, "
              f"median ratio to now {statistics.median(ratios):.1f}")


if __name__ == "__main__":
    main()
