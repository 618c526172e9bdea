"""qornn.allocator: freed memory kept for the next step, without changing a number."""

import subprocess
import sys

import pytest
import torch

from qornn import allocator, results
from qornn.experiments import get_config
from qornn.experiments.runner import _build
from qornn.tasks import build_task

BLOCK = 64 * 2**20  # bytes: the size of one (T, B, n) tensor of the copy task at the paper's size
PAGES = BLOCK // 4096

glibc = pytest.mark.skipif(allocator._mallopt() is None, reason="the C library is not glibc")

# Runs in a fresh interpreter, so that the count depends on the policy only, not on the heap that
# earlier tests left (CI failed twice in-process). Even in a fresh heap the first few blocks may land
# on fresh pages: a small allocation made after a block keeps it from merging back into the heap's
# top, and the next, equal block (posix_memalign asks for a little more) does not fit in the hole.
# After a few steps the layout is steady, as it is over a training run's thousands of steps.
_ALLOCATIONS = """
import sys, torch
from qornn import allocator
assert allocator.retain_freed_memory(True)
assert allocator.retain_freed_memory(sys.argv[1] == "retain")  # "default": glibc's defaults come back
faults = []
for _ in range({steps}):
    before = allocator.minor_page_faults()
    block = torch.ones({words})
    faults.append(allocator.minor_page_faults() - before)
    del block
print(*faults)
"""


def _faults_per_allocation(policy: str, steps: int = 8) -> list[int]:
    """Page faults taken by each of ``steps`` allocate-fill-free cycles of a 64 MiB tensor, as
    training steps make them, in a fresh interpreter with ``policy`` ("retain" or "default")."""
    code = _ALLOCATIONS.format(steps=steps, words=BLOCK // 4)
    out = subprocess.run([sys.executable, "-c", code, policy], capture_output=True, text=True, check=True)
    return [int(word) for word in out.stdout.split()]


@glibc
def test_freed_memory_is_reused_once_steady_and_the_defaults_come_back():
    retained, default = _faults_per_allocation("retain"), _faults_per_allocation("default")
    assert all(faults < PAGES // 10 for faults in retained[-4:]), retained
    assert all(faults > PAGES // 2 for faults in default), default  # glibc: a fresh mapping each time


@glibc
def test_a_training_step_computes_the_same_numbers_either_way():
    cfg = get_config("qornn-copy", "smoke")
    task = build_task(cfg.task, **cfg.task_options, seed=0)
    x, y = task.batch("train", torch.arange(8))
    grads = []
    try:
        for retain in (False, True):
            allocator.retain_freed_memory(retain)
            model = _build(cfg, "qornn-ste-bjorck-4bit", task, 0)
            task.loss(model(x), y).backward()
            grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    finally:
        allocator.retain_freed_memory(False)
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


def test_the_allocator_module_does_not_flag_records():
    assert results.affecting_changes(["qornn/allocator.py", "qornn/train.py"]) == ["qornn/train.py"]


def test_qornn_run_and_every_sweep_task_turn_it_on(monkeypatch):
    from qornn import cli, sweep

    calls = []
    monkeypatch.setattr(cli, "retain_freed_memory", lambda: calls.append("run"))
    monkeypatch.setattr(allocator, "retain_freed_memory", lambda: calls.append("sweep"))
    monkeypatch.setattr(cli, "run_experiment", lambda *a, **k: {"runs": {}})
    monkeypatch.setattr(cli, "_summary", lambda record: "")
    assert cli.main(["run", "copy", "--profile", "smoke", "--no-progress"]) == 0
    monkeypatch.setattr("qornn.experiments.run_experiment", lambda *a, **k: {"runs": {}})
    sweep.execute_task(sweep.SweepTask("copy", "smoke", {}, 0, todo=()))
    assert calls == ["run", "sweep"]
