"""Penn Treebank language modelling, character or word level: next-token prediction, many-to-many.

Data: Mikolov's word-level files ``ptb.{train,valid,test}.txt`` (``qornn fetch ptb`` takes them,
byte for byte, from the ``treebank`` package; or ``path=`` / QORNN_PTB names a folder that holds
them). Splits: train = ptb.train.txt, val = ptb.valid.txt, test = ptb.test.txt.

Token streams (one per split):

* **word**: for each line, ``line.split()`` then ``<eos>``; vocabulary = the training words and
  ``<eos>`` (10,000 for PTB), ids by decreasing training frequency (ties alphabetical).
* **char** (what the ORNN literature calls PTB-char): for each line, the characters of
  ``'_'.join(line.split())`` then ``<eos>``; classes = the training characters (sorted) then
  ``<eos>`` last (50 for PTB). If the folder holds Mikolov's ``ptb.char.{train,valid,test}.txt``
  (space-separated characters, ``_`` between words), they are read instead: ``line.split()`` then
  ``<eos>``.

Samples: the stream cut into consecutive non-overlapping windows of ``seq_len`` tokens; sample i is
``x = s[i·T : (i+1)·T]``, ``y = s[i·T+1 : (i+1)·T+1]`` (targets are the inputs shifted by one), so
``num_samples = (len(s) − 1) // T`` and the last partial window is dropped. The hidden state starts
from zero in every window (the training loop is stateless). ``seq_len`` defaults to 150 for
characters (the nnRNN / expRNN PTB-char setting) and 35 for words (Zaremba et al. 2014); the QORNN
paper's values are not known here.

Metrics: ``loss`` (cross-entropy in nats per token), ``accuracy`` (next token), and ``bpc`` = loss/ln 2
(char) or ``bits_per_word`` = loss/ln 2 (word). Word-level perplexity is ``exp(loss)`` of the whole
split (:func:`perplexity`), computed from the split's mean loss, not averaged over batches.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import datasets
from .base import Task, check_positive_int

__all__ = ["EOS", "PtbCharTask", "PtbWordTask", "char_stream", "word_stream", "perplexity", "read_ptb"]

EOS = "<eos>"
FILE_SPLITS = {"train": "train", "val": "valid", "test": "test"}


def perplexity(mean_loss: float) -> float:
    """exp(mean cross-entropy in nats per token) of a whole split."""
    return math.exp(mean_loss)


def word_stream(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        out += line.split()
        out.append(EOS)
    return out


def char_stream(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        out += list("_".join(line.split()))
        out.append(EOS)
    return out


def _char_file_stream(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        out += line.split()
        out.append(EOS)
    return out


def read_ptb(level: str, path: str | Path | None = None) -> tuple[dict[str, list[str]], str]:
    """{split: token list} and a description of the files read."""
    if level not in ("char", "word"):
        raise ValueError(f"PTB level must be 'char' or 'word', got {level!r}")
    folder = path if path is not None else os.environ.get("QORNN_PTB") or None
    if folder is None:
        files = {split: datasets.path(f"ptb.{name}.txt") for split, name in FILE_SPLITS.items()}
        where = f"Mikolov's ptb.*.txt (treebank 0.0.0, sha256-checked) in {datasets.cache_dir()}"
        char_files = False
    else:
        folder = Path(folder)
        if not folder.is_dir():
            raise datasets.DataError(f"PTB path {folder} is not a folder holding ptb.train.txt, "
                                     "ptb.valid.txt, ptb.test.txt")
        char_files = level == "char" and all((folder / f"ptb.char.{n}.txt").is_file()
                                             for n in FILE_SPLITS.values())
        prefix = "ptb.char." if char_files else "ptb."
        files = {split: folder / f"{prefix}{name}.txt" for split, name in FILE_SPLITS.items()}
        for file in files.values():
            if not file.is_file():
                raise datasets.DataError(f"PTB file {file} not found (a PTB folder holds ptb.train.txt, "
                                         "ptb.valid.txt and ptb.test.txt)")
        where = f"user files {prefix}*.txt in {folder}"
    make = _char_file_stream if char_files else (char_stream if level == "char" else word_stream)
    return {split: make(file.read_text(encoding="utf-8")) for split, file in files.items()}, where


class _PtbTask(Task):
    many_to_many = True
    higher_is_better = False
    level = ""

    def __init__(self, seq_len: int = 150, path: str | Path | None = None, train_size: int | None = None,
                 val_size: int | None = None, test_size: int | None = None, seed: int = 0) -> None:
        self.seq_len = check_positive_int(seq_len, "PTB seq_len")
        streams, self.data_source = read_ptb(self.level, path)
        self.vocab = self._vocabulary(streams["train"])
        self.input_size = self.output_size = len(self.vocab)
        index = {tok: i for i, tok in enumerate(self.vocab)}
        dtype = torch.uint8 if len(self.vocab) <= 256 else torch.int32
        self._stream: dict[str, torch.Tensor] = {}
        self._n: dict[str, int] = {}
        for split, size in (("train", train_size), ("val", val_size), ("test", test_size)):
            unknown = sorted({t for t in streams[split] if t not in index})
            if unknown:
                raise datasets.DataError(f"PTB {split} holds tokens absent from the training vocabulary: "
                                         f"{unknown[:10]}")
            self._stream[split] = torch.tensor([index[t] for t in streams[split]], dtype=dtype)
            n = (len(streams[split]) - 1) // self.seq_len
            if size is not None:
                check_positive_int(size, f"PTB {split}_size")
                if size > n:
                    raise ValueError(f"PTB {split}_size={size} exceeds the {n} windows of {split}")
                n = size
            if n < 1:
                raise datasets.DataError(f"PTB {split}: {len(streams[split])} tokens, fewer than "
                                         f"seq_len + 1 = {self.seq_len + 1}")
            self._n[split] = n
        self._offsets = torch.arange(self.seq_len)

    def _vocabulary(self, train: list[str]) -> list[str]:
        raise NotImplementedError  # pragma: no cover

    def num_tokens(self, split: str) -> int:
        """Tokens in the split's whole stream (before cutting into windows)."""
        return len(self._stream[self.check_split(split)])

    def num_samples(self, split: str) -> int:
        return self._n[self.check_split(split)]

    def batch(self, split: str, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        split = self.check_split(split)
        pos = index.reshape(-1, 1) * self.seq_len + self._offsets
        stream = self._stream[split]
        return stream[pos].long(), stream[pos + 1].long()

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))

    def _metrics(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
        loss = float(self.loss(logits, target))
        accuracy = float((logits.argmax(-1) == target).float().mean())
        return loss, accuracy


class PtbCharTask(_PtbTask):
    """Character-level PTB (50 classes on the real files); metric bits per character."""

    name = "ptb-char"
    level = "char"
    primary_metric = "bpc"
    reference_lines = {"uniform_bpc": ("bpc", "uniform (chance)"), "unigram_bpc": ("bpc", "unigram")}

    def _vocabulary(self, train: list[str]) -> list[str]:
        return sorted(set(train) - {EOS}) + [EOS]

    def metrics(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        loss, accuracy = self._metrics(logits, target)
        return {"loss": loss, "bpc": loss / math.log(2), "accuracy": accuracy}

    def baselines(self) -> dict[str, float]:
        return {"uniform_bpc": math.log2(len(self.vocab)), "unigram_bpc": _unigram_bits(self)}


class PtbWordTask(_PtbTask):
    """Word-level PTB (10,000 words with <eos> on the real files); bits per word (perplexity 2^bpw)."""

    name = "ptb-word"
    level = "word"
    primary_metric = "bits_per_word"
    reference_lines = {"uniform_bits_per_word": ("bits_per_word", "uniform (chance)"),
                       "unigram_bits_per_word": ("bits_per_word", "unigram")}

    def __init__(self, seq_len: int = 35, **options) -> None:
        super().__init__(seq_len=seq_len, **options)

    def _vocabulary(self, train: list[str]) -> list[str]:
        counts = Counter(train)
        return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def metrics(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        loss, accuracy = self._metrics(logits, target)
        return {"loss": loss, "bits_per_word": loss / math.log(2), "accuracy": accuracy}

    def baselines(self) -> dict[str, float]:
        return {"uniform_bits_per_word": math.log2(len(self.vocab)),
                "unigram_bits_per_word": _unigram_bits(self)}


def _unigram_bits(task: _PtbTask) -> float:
    """Cross-entropy (bits/token) on the test targets of the training unigram distribution."""
    counts = torch.bincount(task._stream["train"].long(), minlength=len(task.vocab)).double() + 1.0
    logp = torch.log2(counts / counts.sum())
    n = task._n["test"] * task.seq_len
    targets = task._stream["test"][1:n + 1].long()
    return float(-logp[targets].mean())
