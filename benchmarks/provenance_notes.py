"""A page's provenance notes with and without the code-fingerprint cache (``qornn.results._FINGERPRINTS``).

Every paper-budget table says whether a record's code still behaves as today's
(``report.paper_budget_note`` → ``results.code_changed_since``): each record's commit is compared with
HEAD file by file, through the rewrites declared in ``results.SAME_RESULTS``, and each comparison
fingerprints the same few dozen file versions (their syntax trees without docstrings). The script
builds the same notes both ways in one process, interleaved, with the per-commit answer cache
(``behaviour_changed``) cleared before every call so that both ways compare every record again; git's
own reads are cached alike both ways. It prints the median seconds and the ratio uncached / cached,
and writes nothing (the notes are text the book shows; their cost is a build-time matter).

    .venv/bin/python benchmarks/provenance_notes.py                       # qornn-copy, copy, pmnist
    .venv/bin/python benchmarks/provenance_notes.py --experiments copy --reps 1
"""

from __future__ import annotations

import argparse
import statistics
import time

from qornn import report, results


class _NeverKept(dict):
    """A fingerprint cache that keeps nothing: every call parses its source again."""

    def __setitem__(self, key, value) -> None:
        pass


def notes_seconds(experiments: list[str], cached: bool) -> float:
    """Seconds to build the paper-budget notes of ``experiments`` with the fingerprint cache on or off."""
    results.behaviour_changed.cache_clear()
    kept = results._FINGERPRINTS
    results._FINGERPRINTS = {} if cached else _NeverKept()
    try:
        start = time.perf_counter()
        for experiment in experiments:
            report.paper_budget_note(experiment)
        return time.perf_counter() - start
    finally:
        results._FINGERPRINTS = kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=["qornn-copy", "copy", "pmnist"])
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    args = parser.parse_args(argv)
    notes_seconds(args.experiments, cached=True)  # warm-up: imports, git's blobs, records read once
    times: dict[str, list[float]] = {"uncached": [], "cached": []}
    for _ in range(args.reps):
        for way in times:
            times[way].append(notes_seconds(args.experiments, cached=way == "cached"))
    ratios = [u / c for u, c in zip(times["uncached"], times["cached"], strict=True)]
    print(f"paper-budget notes of {', '.join(args.experiments)}, {args.reps} interleaved repetitions:")
    for way, seconds in times.items():
        print(f"  {way:9s} median {statistics.median(seconds):.2f} s")
    print(f"  uncached / cached: median ratio {statistics.median(ratios):.1f}")


if __name__ == "__main__":
    main()
