"""What every task provides to the training loop: sized splits, batches by index, loss, metrics."""

from __future__ import annotations

import torch

SPLITS = ("train", "val", "test")


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
    #: the metric that selects the best epoch and names the headline number, and its direction
    primary_metric: str = "loss"
    higher_is_better: bool = False

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
        return {}
