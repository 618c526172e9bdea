"""What the equivalence checks share (``kernel_equivalence.py``, ``training_equivalence.py``): an
earlier commit's ``qornn/`` unpacked beside this checkout, a worker process run with one or the
other on its ``PYTHONPATH``, and the git blob ids of the files that differ, which a check record
keeps so that :data:`qornn.results.SAME_RESULTS` can name the rewrites it covers."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def resolve(commit: str) -> str:
    """The full id of ``commit`` (a name or a prefix)."""
    return subprocess.run(["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout.strip()


def unpack(commit: str, dest: Path) -> Path:
    """``commit``'s ``qornn/`` unpacked under ``dest`` (created); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", commit, "qornn"], cwd=REPO, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def run_worker(script: str, root: Path, args: list[str], env: dict[str, str] | None = None) -> None:
    """``script`` (this file's folder) in a process that imports the ``qornn`` under ``root``."""
    subprocess.run([sys.executable, str(Path(__file__).with_name(script)), *args],
                   env={**os.environ, **(env or {}), "PYTHONPATH": str(root)}, check=True, cwd=root)


def blob_ids(root: Path, paths: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The git blob id of each of ``paths`` under ``root`` (absent files left out)."""
    from qornn.results import blob_id

    return {path: blob_id((root / path).read_text()) for path in paths if (root / path).exists()}


def differing_files(old: Path, new: Path, folder: str = "qornn") -> list[str]:
    """The files under ``folder`` that differ (or exist on one side only) between two trees."""
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in (root / folder).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}

    before, after = files(old), files(new)
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
