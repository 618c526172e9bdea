"""qornn.allocator: freed memory kept for the next step, without changing a number."""

import pytest
import torch

from qornn import allocator, results
from qornn.experiments import get_config
from qornn.experiments.runner import _build
from qornn.tasks import build_task

BLOCK = 64 * 2**20  # bytes: the size of one (T, B, n) tensor of the copy task at the paper's size
PAGES = BLOCK // 4096

glibc = pytest.mark.skipif(allocator._mallopt() is None, reason="the C library is not glibc")


def _faults_of_steady_allocation() -> int:
    """Page faults taken by filling a 64 MiB tensor after three such tensors were allocated, filled
    and freed, as training steps do (the first ones may land on fresh heap: earlier tests leave it
    fragmented)."""
    for _ in range(3):
        block = torch.ones(BLOCK // 4)
        del block
    before = allocator.minor_page_faults()
    block = torch.ones(BLOCK // 4)
    faults = allocator.minor_page_faults() - before
    del block
    return faults


@glibc
def test_freed_memory_is_reused_without_page_faults_and_the_defaults_come_back():
    try:
        assert allocator.retain_freed_memory()
        assert _faults_of_steady_allocation() < PAGES // 10
        assert allocator.retain_freed_memory(False)
        assert _faults_of_steady_allocation() > PAGES // 2  # glibc's defaults: a fresh mapping
    finally:
        allocator.retain_freed_memory(False)


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
