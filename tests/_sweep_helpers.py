"""Workers for tests/test_sweep.py, importable by the sweep's worker processes."""

from __future__ import annotations

import os

from qornn.sweep import SweepTask, execute_task

#: the task that :func:`die_after_first_checkpoint` kills
KILLED = {"hidden_size": 8, "seed": 1}


def die_after_first_checkpoint(task: SweepTask) -> dict:
    """:func:`execute_task`, except that the task :data:`KILLED` dies (as if by SIGKILL, no clean-up)
    right after its first checkpoint is written, in the middle of its first epoch."""
    if task.overrides.get("hidden_size") == KILLED["hidden_size"] and task.seed == KILLED["seed"]:
        from qornn import train

        write = train.atomic_torch_save

        def write_then_die(obj, path) -> None:
            write(obj, path)
            os._exit(137)

        train.atomic_torch_save = write_then_die
    return execute_task(task)
