"""Shared by the slow tests: load scripts/run_notebooks.py as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY_NOTEBOOK = ROOT / "notebooks" / "hadamrnn" / "copy_task.py"


def load_runner():
    if "run_notebooks" in sys.modules:
        return sys.modules["run_notebooks"]
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_notebooks"] = module
    spec.loader.exec_module(module)
    return module
