"""The copy (copy-memory) task.

Convention (the HadamRNN authors' code, which produced the paper's numbers): ``length`` T is the
*total* sequence length, K = ``symbols`` symbols to memorise, an alphabet of A = 8 symbols {1..8},
blank 0 and marker 9 (input vocabulary 10, output classes 9):

    input   s_1 … s_K   0 … 0 (T − 2K)   9   0 … 0 (K − 1)
    target  0 … 0 (T − K)                     s_1 … s_K

The network reads one token per step and must output blank until the marker, then the K symbols.
The delay between seeing s_1 and having to output it is T − K steps. The other convention found in
the literature (Arjovsky et al. 2016) calls that delay "T" and has total length T + 2K; its T = 1000
is our T = 1020. We keep the authors' convention so that our T = 1000 is the paper's T = 1000.

Memoryless baseline: a model that remembers nothing but knows the position outputs blank with
certainty where the target is blank and a uniform guess over A symbols on the last K steps, so its
mean cross-entropy per step is K·ln(A)/T. A model below it has memorised something.

Only the K symbols of each sample are stored (N × K bytes): full sequences are built per batch, so
the paper's 512,000 sequences of length 1000 take 5 MB instead of 4 GB.
"""

from __future__ import annotations

import math

import torch

from .base import Task, check_positive_int, sequence_cross_entropy

__all__ = ["CopyTask", "memoryless_cross_entropy"]

ALPHABET = 8
BLANK = 0
MARKER = ALPHABET + 1


def memoryless_cross_entropy(length: int, symbols: int = 10, alphabet: int = ALPHABET) -> float:
    """K·ln(A)/T: the cross-entropy per step of the best model without memory."""
    return symbols * math.log(alphabet) / length


class CopyTask(Task):
    """Copy task with total length ``length`` and ``symbols`` symbols to recall (see module doc)."""

    name = "copy"
    input_size = MARKER + 1  # tokens 0..9
    output_size = ALPHABET + 1  # classes 0..8
    many_to_many = True

    def __init__(self, length: int = 1000, symbols: int = 10, train_size: int = 512_000,
                 val_size: int = 2_000, test_size: int = 2_000, seed: int = 0) -> None:
        for name, value in (("length", length), ("symbols", symbols), ("train_size", train_size),
                            ("val_size", val_size), ("test_size", test_size)):
            check_positive_int(value, f"copy task {name}")
        if length <= 2 * symbols:
            raise ValueError(
                f"copy task length={length} must exceed twice the number of symbols "
                f"({symbols}): the sequence holds the symbols, the marker and the recall window"
            )
        self.length = length
        self.symbols = symbols
        sizes = {"train": train_size, "val": val_size, "test": test_size}
        gen = torch.Generator().manual_seed(seed)
        # One generator, splits drawn in a fixed order: the data depend on the seed alone.
        self._symbols = {
            split: torch.randint(1, ALPHABET + 1, (n, symbols), generator=gen, dtype=torch.uint8)
            for split, n in sizes.items()
        }

    def num_samples(self, split: str) -> int:
        return len(self._symbols[self.check_split(split)])

    def batch(self, split: str, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self._symbols[self.check_split(split)][index].long()
        b, k, t = s.shape[0], self.symbols, self.length
        x = torch.zeros(b, t, dtype=torch.long)
        y = torch.zeros(b, t, dtype=torch.long)
        x[:, :k] = s
        x[:, t - k] = MARKER
        y[:, t - k:] = s
        return x, y

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sequence_cross_entropy(logits, target)

    def metrics(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        k = self.symbols
        recalled = (logits[:, -k:].argmax(-1) == target[:, -k:]).float().mean()
        return {"loss": float(self.loss(logits, target)), "recall_accuracy": float(recalled)}

    reference_lines = {"memoryless_cross_entropy": ("loss", "memoryless")}

    def baselines(self) -> dict[str, float]:
        return {"memoryless_cross_entropy": memoryless_cross_entropy(self.length, self.symbols)}
