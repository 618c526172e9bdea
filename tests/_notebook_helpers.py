"""Shared by the tests: load scripts/run_notebooks.py as a module, read an executed notebook's
outputs, write MNIST IDX fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY_NOTEBOOK = ROOT / "notebooks" / "hadamrnn" / "copy_task.py"


def load_runner():
    if "run_notebooks" in sys.modules:
        return sys.modules["run_notebooks"]
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_notebooks"] = module
    spec.loader.exec_module(module)
    return module


PMNIST_NOTEBOOK = ROOT / "notebooks" / "hadamrnn" / "pmnist.py"


def outputs(nb, mime: str) -> list[str]:
    """The ``mime`` outputs (e.g. "text/html", "image/png") of an executed notebook's code cells."""
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if mime in o.get("data", {})]


def idx_bytes(data) -> bytes:
    """``data`` (a uint8-valued numpy array) as a gzipped IDX file, MNIST's official format."""
    import gzip
    import struct

    import numpy as np

    header = struct.pack(">BBBB", 0, 0, 8, data.ndim) + b"".join(struct.pack(">I", d) for d in data.shape)
    return gzip.compress(header + np.asarray(data).astype(np.uint8).tobytes())


def write_mnist_idx(folder: Path, n_train: int = 384, n_test: int = 64, seed: int = 0) -> Path:
    """A tiny MNIST in the official IDX format (random pixels, cyclic labels) for QORNN_MNIST:
    the loader splits the training file 5/6 train, 1/6 validation, like the real 60k."""
    import numpy as np

    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(idx_bytes(rng.randint(0, 256, (n, 28, 28))))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(idx_bytes(np.arange(n) % 10))
    return folder


def write_ptb_text(folder: Path, lines: int = 400, seed: int = 0) -> Path:
    """A tiny Penn-Treebank-like folder (ptb.{train,valid,test}.txt, lower-case words, every letter
    in the training file) for QORNN_PTB."""
    import numpy as np

    rng = np.random.RandomState(seed)
    words = ["the", "of", "a", "n", "market", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
             "<unk>", "$", "vexing", "zebra", "whiskey", "gym"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", lines), ("valid", lines // 4), ("test", lines // 4)):
        text = "".join(" " + " ".join(rng.choice(words, rng.randint(3, 12))) + " \n" for _ in range(n))
        (folder / f"ptb.{name}.txt").write_text(text)
    return folder


_WORDS = ["great", "bad", "film", "plot", "actor", "boring", "moving", "dull", "superb", "the"]


def write_polarity_reviews(file: Path, n: int = 240, seed: int = 0) -> Path:
    """A small file in the layout of the polarity-reviews stand-in ('label,text', label 1 or -1),
    for QORNN_POLARITY_REVIEWS."""
    import csv

    import numpy as np

    rng = np.random.RandomState(seed)
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows((1 if i % 2 else -1, " ".join(rng.choice(_WORDS, rng.randint(5, 40))))
                                for i in range(n))
    return file


def write_rt_snippets(file: Path, n: int = 400, seed: int = 0) -> Path:
    """A small bz2 CSV in the layout of the rt-snippets stand-in (category fresh / rotten / plot,
    text), for QORNN_RT_SNIPPETS."""
    import bz2
    import csv
    import io

    import numpy as np

    rng = np.random.RandomState(seed)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    for i in range(n):
        text = f"snippet {i} " + " ".join(rng.choice(_WORDS, rng.randint(3, 15)))
        writer.writerow(["fresh" if i % 2 else "rotten", text, "m", "1"])
    writer.writerow(["plot", "a plot summary", "m", "1"])
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(bz2.compress(buf.getvalue().encode()))
    return file
