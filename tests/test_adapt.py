"""book/adapt.md works as written: its blocks, applied to a copy of the repository, add a task, an
experiment, a notebook and its toc line; its commands train the smoke run and build the page."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from _notebook_helpers import ROOT
from _notebook_helpers import outputs as _outputs

pytestmark = pytest.mark.slow

_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
_WHERE = re.compile(r"^# file: (\S+) \((new|append)\)\n")


def walkthrough() -> tuple[list[tuple[str, str, str]], list[str]]:
    """The file blocks of book/adapt.md, (path, "new" | "append", text), and its commands."""
    files, commands = [], []
    for language, body in _BLOCK.findall((ROOT / "book" / "adapt.md").read_text()):
        if language == "bash":
            commands += [line for line in body.splitlines() if line.strip()]
        elif (where := _WHERE.match(body)) is not None:
            files.append((where.group(1), where.group(2), body[where.end():]))
    return files, commands


def test_the_walkthrough_has_every_step():
    files, commands = walkthrough()
    paths = [path for path, _, _ in files]
    assert paths == ["qornn/tasks/adding.py", "qornn/tasks/__init__.py",
                     "qornn/experiments/my_experiments.py", "notebooks/adding/adding.py", "_toc.yml"]
    assert commands and all(c.split()[0] in ("qornn", "python") for c in commands)


def _copy_repository(target: Path) -> None:
    """The tracked files of the repository, copied to ``target``; but fast_hadamard.py, which the
    walkthrough does not touch, is a link to ours, so that the copy uses the C++ kernel already
    built for this checkout instead of compiling it again (its build folder follows that file)."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes((ROOT / name).read_bytes())
    kernel = target / "qornn" / "fast_hadamard.py"
    kernel.unlink()
    kernel.symlink_to(ROOT / "qornn" / "fast_hadamard.py")


def test_the_walkthrough_works_as_written(tmp_path):
    repo = tmp_path / "repo"
    _copy_repository(repo)
    files, commands = walkthrough()
    for path, how, text in files:
        target = repo / path
        if how == "new":
            assert not target.exists(), f"{path} already exists: the walkthrough would overwrite it"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        else:
            target.write_text(target.read_text().rstrip("\n") + "\n" + text)
    env = {**os.environ, "PYTHONPATH": str(repo), "QORNN_DATA_DIR": str(repo / "data"),
           "QORNN_RUNS_DIR": str(repo / "runs"), "OMP_NUM_THREADS": "1"}
    for command in commands:
        argv = shlex.split(command)
        argv = ([sys.executable, "-m", "qornn.cli", *argv[1:]] if argv[0] == "qornn"
                else [sys.executable, *argv[1:]])
        proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        # a page as written shows no warning of its own (tqdm's, when the filter came after the imports)
        assert "the page shows on stderr" not in proc.stderr, f"{command}\n{proc.stderr[-3000:]}"

    record = json.loads((repo / "data" / "results" / "adding" / "smoke.json").read_text())
    assert set(record["runs"]) == {"hadamrnn", "ornn", "lstm"}
    for run in record["runs"].values():
        assert run["config"]["model"]["hidden_size"] == 8 and len(run["history"]) == 2
        assert 0.0 < run["baselines"]["mean_predictor_mse"] < 0.5  # about 1/6
    page = repo / "book" / "adding" / "adding.ipynb"
    nb = nbformat.read(page, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert _outputs(nb, "image/png"), "the loss-curve figure is missing"
    html = "\n".join(_outputs(nb, "text/html"))
    assert "ours" in html and "paper value" not in html and "best epoch" in html
    markdown = "\n".join(_outputs(nb, "text/markdown"))
    assert "rendered from the committed record" in markdown
    toc = yaml.safe_load((repo / "_toc.yml").read_text())
    assert toc["parts"][-1] == {"caption": "My experiments",
                                "chapters": [{"file": "book/adding/adding"}]}
