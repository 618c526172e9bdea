"""Shared fixtures: every test writes results and checkpoints into its own temporary folders."""

import pytest
import torch

#: every test trains on one torch thread, as the paper-budget runs do: its numbers do not depend on
#: the machine's core count, and beside other jobs no thread waits on a descheduled one
THREADS = 1
torch.set_num_threads(THREADS)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("QORNN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QORNN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("QORNN_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(0)
    yield tmp_path
    if torch.get_num_threads() != THREADS:  # code under test may set it (the benchmarks' main functions do)
        torch.set_num_threads(THREADS)


@pytest.fixture
def subnormal_survives():
    """A probe: whether float32 arithmetic keeps a subnormal (1e-39) instead of flushing it to zero."""
    def probe() -> bool:
        return bool((torch.tensor([1e-39]) * 1.0).item() != 0.0)
    return probe
