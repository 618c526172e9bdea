"""Sequential and permuted MNIST: one pixel per step, 784 steps, the class read from the last state.

Data: the 70,000 real MNIST digits of the deeplearning.net pickle ``mnist.pkl.gz`` (``qornn fetch
mnist``), split as that file is: train 50,000 / val 10,000 / test 10,000 (the official 10k test set).
Pixels are p/256 for the byte value p (the pickle's own scaling, max 0.996). Inputs are float32
(B, 784, 1) in row-major pixel order; labels int64 (B,).

Permuted MNIST (the convention of the anchors' code, projUNN and the ORNN literature)::

    perm = numpy.random.RandomState(92916).permutation(784)
    x_permuted[:, t] = x[:, perm[t]]        # i.e. x[:, perm]: step t reads pixel perm[t]

The same permutation for every split and every seed.

A user who holds the official IDX files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-…``) can point ``path`` (or QORNN_MNIST) at their folder: the 60k training set is split into
its first 50,000 (train) and last 10,000 (val), and p/256 scaling is kept. ``path`` may also name a
``mnist.pkl.gz``: it is unpickled only if its sha256 is the pinned one, from the bytes hashed, and
only into numbers and arrays (:func:`qornn.datasets.unpickle_arrays`).

``train_size`` / ``val_size`` / ``test_size`` keep the first n samples of each split (CPU profiles).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import datasets
from .base import Task, check_positive_int

__all__ = ["PMNIST_SEED", "SequentialMnistTask", "PermutedMnistTask", "load_mnist", "pmnist_permutation"]

PMNIST_SEED = 92916
SPLIT_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}
MNIST_FILE = "mnist.pkl.gz"


def pmnist_permutation() -> np.ndarray:
    """``numpy.random.RandomState(92916).permutation(784)``: step t reads pixel perm[t]."""
    return np.random.RandomState(PMNIST_SEED).permutation(784)


def _read_idx(file: Path) -> np.ndarray:
    opener = gzip.open if file.suffix == ".gz" else open
    with opener(file, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise datasets.DataError(f"{file} is not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise datasets.DataError(f"{file}: header says shape {shape}, body holds {body.size} bytes")
    return body.reshape(shape).copy()


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise datasets.DataError(f"MNIST IDX file {stem}[.gz] not found in {folder}")


def _load_idx_folder(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    xtr = _read_idx(_find(folder, "train-images-idx3-ubyte")).reshape(-1, 784)
    ytr = _read_idx(_find(folder, "train-labels-idx1-ubyte")).astype(np.int64)
    xte = _read_idx(_find(folder, "t10k-images-idx3-ubyte")).reshape(-1, 784)
    yte = _read_idx(_find(folder, "t10k-labels-idx1-ubyte")).astype(np.int64)
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise datasets.DataError(f"MNIST IDX files in {folder}: images and labels differ in number")
    n_val = len(xtr) // 6  # 10,000 of the official 60,000
    return {"train": (xtr[:-n_val], ytr[:-n_val]), "val": (xtr[-n_val:], ytr[-n_val:]),
            "test": (xte, yte)}


def _load_pickle(data: bytes, file: Path | str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    # Only called on bytes whose sha256 matched the pinned one (see load_mnist).
    (xtr, ytr), (xva, yva), (xte, yte) = datasets.unpickle_arrays(gzip.decompress(data), str(file),
                                                                   encoding="latin1")
    out = {}
    for split, (x, y) in (("train", (xtr, ytr)), ("val", (xva, yva)), ("test", (xte, yte))):
        x = np.asarray(x, dtype=np.float32)
        pixels = np.rint(x * 256.0)
        if x.ndim != 2 or x.shape[1] != 784 or not np.array_equal(pixels / 256.0, x):
            raise datasets.DataError(f"{file}: {split} images are not 784 values of the form p/256")
        out[split] = (pixels.astype(np.uint8), np.asarray(y, dtype=np.int64))
    return out


def load_mnist(path: str | Path | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (pixels uint8 (N, 784), labels int64 (N,))} from the cache, a pickle or an IDX folder."""
    if path is None:
        path = os.environ.get("QORNN_MNIST") or None
    if path is None:
        return _load_pickle(datasets.read_verified(MNIST_FILE), MNIST_FILE)
    path = Path(path)
    if path.is_dir():
        return _load_idx_folder(path)
    if not path.is_file():
        raise datasets.DataError(f"MNIST path {path} does not exist (give mnist.pkl.gz or a folder of "
                                 "the IDX files, or leave it unset and run: qornn fetch mnist)")
    expected = datasets.SOURCES["mnist"].files[0].sha256
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise datasets.DataError(f"{path} has sha256 {digest}, not the pinned {expected} of "
                                 "mnist.pkl.gz; a pickle is never unpickled unverified")
    return _load_pickle(data, path)


class SequentialMnistTask(Task):
    """Pixel-by-pixel MNIST classification (see the module docstring)."""

    name = "smnist"
    input_size = 1
    output_size = 10
    many_to_many = False
    primary_metric = "accuracy"
    higher_is_better = True
    reference_lines = {"chance_accuracy": ("accuracy", "chance"),
                       "majority_class_accuracy": ("accuracy", "majority class")}
    permuted = False

    def __init__(self, train_size: int | None = None, val_size: int | None = None,
                 test_size: int | None = None, path: str | Path | None = None, seed: int = 0) -> None:
        # seed: accepted for the common task interface; the data and the permutation do not depend on it.
        data = load_mnist(path)
        self._x: dict[str, torch.Tensor] = {}
        self._y: dict[str, torch.Tensor] = {}
        for split, size in (("train", train_size), ("val", val_size), ("test", test_size)):
            x, y = data[split]
            if size is not None:
                check_positive_int(size, f"MNIST {split}_size")
                if size > len(x):
                    raise ValueError(f"MNIST {split}_size={size} exceeds the {len(x)} samples of {split}")
                x, y = x[:size], y[:size]
            self._x[split] = torch.from_numpy(np.ascontiguousarray(x))
            self._y[split] = torch.from_numpy(np.ascontiguousarray(y))
        self.permutation = torch.from_numpy(pmnist_permutation()) if self.permuted else None

    def num_samples(self, split: str) -> int:
        return len(self._y[self.check_split(split)])

    def batch(self, split: str, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        split = self.check_split(split)
        x = self._x[split][index]
        if self.permutation is not None:
            x = x[:, self.permutation]
        return (x.to(torch.float32) / 256.0).unsqueeze(-1), self._y[split][index]

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)

    def metrics(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        accuracy = (logits.argmax(-1) == target).float().mean()
        return {"loss": float(self.loss(logits, target)), "accuracy": float(accuracy)}

    def baselines(self) -> dict[str, float]:
        counts = torch.bincount(self._y["test"], minlength=10)
        return {"chance_accuracy": 0.1, "majority_class_accuracy": float(counts.max() / counts.sum())}


class PermutedMnistTask(SequentialMnistTask):
    """MNIST with pixels read in the order ``RandomState(92916).permutation(784)``."""

    name = "pmnist"
    permuted = True
