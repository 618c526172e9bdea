"""Tasks: data + loss + metrics, looked up by name."""

from __future__ import annotations

from .base import SPLITS, Task
from .copy import CopyTask, memoryless_cross_entropy
from .mnist import PermutedMnistTask, SequentialMnistTask
from .ptb import PtbCharTask, PtbWordTask
from .text import ImdbTask, IotTask, PolarityReviewsTask, QqpTask, RtSnippetsTask, Sst2Task

__all__ = ["SPLITS", "TASKS", "Task", "CopyTask", "build_task", "memoryless_cross_entropy"]

TASKS: dict[str, type[Task]] = {
    "copy": CopyTask,
    "smnist": SequentialMnistTask,
    "pmnist": PermutedMnistTask,
    "imdb": ImdbTask,
    "polarity-reviews": PolarityReviewsTask,  # stand-in for imdb
    "sst2": Sst2Task,
    "rt-snippets": RtSnippetsTask,  # stand-in for sst2
    "qqp": QqpTask,
    "ptb-char": PtbCharTask,
    "ptb-word": PtbWordTask,
    "iot": IotTask,  # not identified: raises a clear error
}


def build_task(name: str, **options) -> Task:
    """Build the registered task ``name``; unknown names and options get a clear error."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}")
    try:
        return TASKS[name](**options)
    except TypeError as err:
        raise ValueError(f"bad options for task {name!r}: {err}") from None
