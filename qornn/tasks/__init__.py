"""Tasks: data + loss + metrics, looked up by name."""

from __future__ import annotations

from .base import SPLITS, Task
from .copy import CopyTask, memoryless_cross_entropy

__all__ = ["SPLITS", "TASKS", "Task", "CopyTask", "build_task", "memoryless_cross_entropy"]

TASKS: dict[str, type[Task]] = {"copy": CopyTask}


def build_task(name: str, **options) -> Task:
    """Build the registered task ``name``; unknown names and options get a clear error."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}")
    try:
        return TASKS[name](**options)
    except TypeError as err:
        raise ValueError(f"bad options for task {name!r}: {err}") from None
