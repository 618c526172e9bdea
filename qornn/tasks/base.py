"""What every task provides to the training loop: sized splits, batches by index, loss, metrics."""

from __future__ import annotations

import torch

SPLITS = ("train", "val", "test")


def sequence_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every (sequence, time) position: logits (B, T, C), targets (B, T),
    −(1/BT) Σ_{b,t} log softmax(logits[b, t])[target[b, t]].

    The same number as ``F.cross_entropy(logits.reshape(-1, C), target.reshape(-1))``, but computed with
    the classes on dimension 1 of a (B, C, T) view: ATen's log-softmax over a short last dimension (the
    copy task's C = 9) runs row by row, while over dimension 1 it vectorises along time: about 3x
    faster forwards and backwards at the copy task's shape, but about 2x slower for PTB's 50 or 10,000
    classes, which keep the flat layout (``benchmarks/sequence_loss.py`` measures both)."""
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), target)


def check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class Task:
    """A supervised sequence task. Subclasses set the class attributes and the methods below."""

    name: str
    input_size: int  # input features, or vocabulary size for token inputs
    output_size: int
    many_to_many: bool
    #: the headline metric and its direction: the report names each run's best validation epoch by
    #: it (``qornn.report.best_epochs``; the recorded test numbers stay the last epoch's model's)
    primary_metric: str = "loss"
    higher_is_better: bool = False
    #: the reference levels this task's :meth:`baselines` gives: key -> (the metric it is a level
    #: of, its label), e.g. ``{"chance_accuracy": ("accuracy", "chance")}``; the report's figures
    #: and tables draw and label them (memoryless, chance, majority class, mean predictor, ...)
    reference_lines: dict[str, tuple[str, str]] = {}

    def check_split(self, split: str) -> str:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        return split

    def num_samples(self, split: str) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def batch(self, split: str, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError  # pragma: no cover

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def metrics(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError  # pragma: no cover

    def baselines(self) -> dict[str, float]:
        """The values of :attr:`reference_lines` for this task's data (what a model that learns
        nothing, or nothing about time, would score)."""
        return {}
