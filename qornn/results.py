"""Results records: numbers with their provenance, written atomically, loaded with a schema check.

A record lives at ``data/results/<experiment>/<profile>.json`` and holds one entry per model run:

    {"schema": 1, "experiment": "copy", "profile": "cpu",
     "runs": {"hadamrnn": {"config": {...}, "config_hash": "...", "history": [...],
                           "test": {...}, "size_bits": ..., "provenance": {...}}}}

A run of a trained network also holds ``weights``, where its final model is stored packed
(:mod:`qornn.weights`): {"path": the file relative to ``data/``, "sha256": the file's,
"file_bytes": its size, "payload_bits": the packed payload, "format": the file format}.

``provenance`` says how the numbers were made: git commit (and whether the tree was dirty),
profile, seed, device, host, versions, wall time and date. A run whose config differs from the one
already recorded never overwrites it silently: the old record is first copied to
``data/results/<experiment>/history/``.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import datetime as _dt
import errno
import fcntl
import functools
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "SCHEMA_VERSION",
    "RecordError",
    "RecordMissing",
    "data_dir",
    "results_dir",
    "runs_dir",
    "record_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_torch_save",
    "check_record_lock",
    "check_writable",
    "check_run",
    "check_weights_entry",
    "config_hash",
    "git_commit",
    "write_source_manifest",
    "SOURCE_MANIFEST",
    "provenance",
    "load_record",
    "save_run",
    "update_run",
]

SCHEMA_VERSION = 1
_REPO_ROOT = Path(__file__).resolve().parents[1]


class RecordError(ValueError):
    """A results record is missing, malformed or of another schema."""


class RecordMissing(RecordError):
    """A page asked for a record that was never made; the message says how to make it."""

    def __init__(self, what: str, command: str) -> None:
        super().__init__(f"not recorded yet: {what}; record it with: {command}")
        self.what, self.command = what, command


def _root() -> Path:
    # An editable install (the normal case) finds the repository's data/; elsewhere, the cwd.
    return _REPO_ROOT if (_REPO_ROOT / "pyproject.toml").exists() else Path.cwd()


def data_dir() -> Path:
    """Top-level ``data/`` (override with QORNN_DATA_DIR)."""
    return Path(os.environ.get("QORNN_DATA_DIR", _root() / "data"))


def results_dir() -> Path:
    return data_dir() / "results"


def runs_dir(profile: str | None = None) -> Path:
    """Checkpoints of runs in progress: ``runs/`` (git-ignored), or for the ``paper`` profile, whose runs
    last hours and outlive a session or a machine, ``data/checkpoints/`` (a HadamRNN's checkpoint is
    about 45 kB: committed at epoch boundaries, a fresh clone resumes from it). QORNN_RUNS_DIR overrides
    both."""
    if os.environ.get("QORNN_RUNS_DIR"):
        return Path(os.environ["QORNN_RUNS_DIR"])
    return data_dir() / "checkpoints" if profile == "paper" else _root() / "runs"


def record_path(experiment: str, profile: str, variant: str = "") -> Path:
    """``data/results/<experiment>/<profile>.json``; a variant of the profile (a run with overrides,
    :mod:`qornn.overrides`) has its own, ``<experiment>/variants/<profile>/<variant>.json``."""
    if variant:
        if "/" in variant or variant.startswith("."):
            raise ValueError(f"bad variant name {variant!r}")
        return results_dir() / experiment / "variants" / profile / f"{variant}.json"
    return results_dir() / experiment / f"{profile}.json"


def _umask() -> int:
    """The process's umask (read without changing it where /proc tells it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place.

    The file gets the mode a plain ``open(path, "w")`` would give (0666 less the umask; the
    temporary file is private until then), so a cache or record shared between users stays
    readable. A kill between the two steps can leave ``.<name>.*.tmp`` behind: git ignores it,
    and nothing reads it. An OSError names ``path`` (a full disk's "No space left on device" alone
    says neither which file failed nor that the one in place is as it was)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            what = f"cannot write {path} (the file there, if any, is unchanged): {err.strerror or err}"
            raise (OSError(err.errno, what) if err.errno is not None else OSError(what)) from None
        raise


def json_text(path: Path, obj: Any) -> str:
    """``obj`` as the JSON text :func:`atomic_write_json` writes at ``path``. A NaN or an infinity is
    refused (a ValueError naming ``path`` and the key that holds it): JSON has no such numbers, Python
    would write ``NaN`` or ``Infinity``, and the loader refuses those, so such a record could never
    be read again."""
    try:
        return json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n"
    except ValueError as err:
        where = _non_finite_key(obj)
        raise ValueError(f"{path} not written: {err}{f' (at {where})' if where else ''}; a record holds "
                         "finite numbers only") from None


def _non_finite_key(obj: Any, prefix: str = "") -> str | None:
    """The dotted key of the first NaN or infinity in ``obj`` (lists by index), None if there is none."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return prefix or "the top level"
    items = (obj.items() if isinstance(obj, Mapping)
             else enumerate(obj) if isinstance(obj, list | tuple) else ())
    for key, value in items:
        found = _non_finite_key(value, f"{prefix}.{key}" if prefix else str(key))
        if found:
            return found
    return None


def atomic_write_json(path: Path, obj: Any) -> None:
    """``obj`` as JSON in ``path``, atomically (:func:`atomic_write_bytes`); a NaN or an infinity is
    refused before anything is written (:func:`json_text`)."""
    atomic_write_bytes(path, json_text(path, obj).encode())


def atomic_torch_save(obj: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def check_writable(*folders: Path) -> None:
    """Raise OSError naming the first of ``folders`` that cannot be created or written to (a
    folder that is a file, a read-only parent, a full disk): called before any training starts, so
    that a run never fails on writing its result after hours of work."""
    for folder in map(Path, folders):
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            raise NotADirectoryError(f"cannot write into {folder}: {existing} is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder) as probe:
                probe.write(b"0")
                probe.flush()
        except OSError as err:
            raise OSError(err.errno, f"cannot write into {folder}: {err.strerror or err}") from None


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _git(*args: str) -> subprocess.CompletedProcess:
    """``git ARGS`` in the repository; raises OSError or SubprocessError when git cannot run."""
    return subprocess.run(["git", *args], cwd=_REPO_ROOT, capture_output=True, text=True, timeout=10)


class _GitObjects:
    """Reads the repository's files as they were at a commit (``COMMIT:PATH``) or by blob id, through
    one ``git cat-file --batch`` process kept open: a page's provenance notes read a few hundred file
    versions, and starting git once for each was most of their time."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._owner: tuple[int, Path] | None = None  # the process and repository it was started for
        self._lock = threading.Lock()

    def read(self, name: str) -> bytes | None:
        """The content of the blob ``name`` names, None if there is none (a path the commit does not
        have, an unknown id, a tree). Raises OSError when git cannot run."""
        if "\n" in name:
            return None
        with self._lock:
            try:
                return self._read(name)
            except (OSError, ValueError):
                self.close()  # a broken pipe or a garbled answer: start afresh on the next read
                raise OSError(f"git cat-file could not read {name!r}") from None

    def _read(self, name: str) -> bytes | None:
        owner = (os.getpid(), _REPO_ROOT)  # a forked worker must not share its parent's pipes
        if self._process is None or self._process.poll() is not None or self._owner != owner:
            self._process = subprocess.Popen(["git", "cat-file", "--batch"], cwd=_REPO_ROOT,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL)
            self._owner = owner
        stdin, stdout = self._process.stdin, self._process.stdout
        stdin.write(name.encode() + b"\n")
        stdin.flush()
        header = stdout.readline()  # "<id> <type> <size>", or "<name> missing"
        if not header.endswith(b"\n"):
            raise OSError("git cat-file stopped")
        fields = header.split()
        if len(fields) != 3 or not fields[2].isdigit():  # "<name> missing", "<name> ambiguous"
            return None
        kind, size = fields[1], int(fields[2])
        data = stdout.read(size + 1)[:-1]  # the content, then a newline
        if len(data) != size:
            raise OSError("git cat-file stopped")
        return data if kind == b"blob" else None

    def close(self) -> None:
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._process.wait(timeout=5)
            self._process = None


_OBJECTS = _GitObjects()
atexit.register(_OBJECTS.close)


def _git_text(name: str) -> str | None:
    """The text of the file version ``name`` (``COMMIT:PATH`` or a blob id), None if there is none
    or git cannot run."""
    try:
        data = _OBJECTS.read(name)
    except OSError:
        return None
    return None if data is None else data.decode(errors="replace")


#: names the commit of a copy of the tree that travelled to another machine (such as a GPU lent for a
#: session), where git is missing or holds an older history of the project: the commit the copy was
#: made from and the git blob id of each file under ``qornn/`` at that commit
#: (:func:`write_source_manifest`)
SOURCE_MANIFEST = "SOURCE_MANIFEST.json"


def git_commit() -> dict[str, Any]:
    """The commit of the code that ran, and whether the working tree differed from it (as ``git
    status`` says for ``qornn/``). Where a :data:`SOURCE_MANIFEST` lists every file under ``qornn/``
    with its blob id unchanged, the commit it names, not dirty: the code is that commit's, whatever
    a ``.git`` beside it says (a lent machine held the history as of the session's start, and called
    the newer code "uncommitted changes" on top of it). Else git's HEAD; outside a git checkout, the
    manifest's commit, dirty; else unknown (None, None)."""
    manifest = _manifest_commit()
    if manifest is not None and manifest["dirty"] is False:
        return manifest
    commit = head_commit()
    try:
        dirty = None if commit is None else bool(
            _git("status", "--porcelain", "--untracked-files=no", "--", "qornn").stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    if commit is None:
        return manifest or {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def write_source_manifest(root: Path = _REPO_ROOT) -> Path:
    """Write :data:`SOURCE_MANIFEST` at ``root``: HEAD's commit and the blob ids of its files under
    ``qornn/``, for a copy of the tree that travels without ``.git`` or beside an older one. Raises
    RuntimeError outside a git checkout."""
    head = _git("rev-parse", "HEAD")
    tree = _git("ls-tree", "-r", "HEAD", "--", "qornn")
    if head.returncode != 0 or tree.returncode != 0:
        raise RuntimeError(f"{_REPO_ROOT} is not a git checkout: there is no commit to name")
    blobs = {}
    for line in tree.stdout.splitlines():
        meta, path = line.split("\t", 1)
        blobs[path] = meta.split()[2]
    path = Path(root) / SOURCE_MANIFEST
    atomic_write_json(path, {"commit": head.stdout.strip(), "blobs": blobs})
    return path


def _manifest_commit() -> dict[str, Any] | None:
    """:func:`git_commit` from :data:`SOURCE_MANIFEST`, None if there is none or it is malformed."""
    try:
        manifest = json.loads((_REPO_ROOT / SOURCE_MANIFEST).read_text())
        commit, blobs = manifest["commit"], manifest["blobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit) and isinstance(blobs, dict)):
        return None
    # a file listed but gone counts as changed; files git does not track (build outputs) do not
    return {"commit": commit, "dirty": any(_file_blob_id(_REPO_ROOT / path) != blob
                                           for path, blob in blobs.items())}


def _file_blob_id(path: Path) -> str | None:
    try:
        return _blob_id_of_bytes(path.read_bytes())
    except OSError:
        return None


def device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores, "\
           f"{torch.get_num_threads()} torch threads)"


_CPU_DEVICE_NAME = re.compile(r"(?P<machine>.*) \((?P<cores>\d+) cores, (?P<threads>\d+) torch threads?\)")


def cpu_device_parts(device_name: str | None) -> tuple[str, int, int] | None:
    """(machine, cores, torch threads) of a CPU :func:`device_name` ("x86_64 (2 cores, 1 torch
    threads)" -> ("x86_64", 2, 1)), or None for another name (a GPU's, or none)."""
    found = _CPU_DEVICE_NAME.fullmatch(str(device_name or ""))
    return (found["machine"], int(found["cores"]), int(found["threads"])) if found else None


def device_label(device_name: str | None) -> str | None:
    """A recorded :func:`device_name` for people: a CPU's with its thread count in the right number
    ("x86_64 (2 cores, 1 torch thread)"; records write "threads" after any count), another unchanged."""
    parts = cpu_device_parts(device_name)
    if parts is None:
        return device_name
    machine, cores, threads = parts
    return f"{machine} ({cores} cores, {threads} torch thread{'s' if threads != 1 else ''})"


def device_kind(device: str) -> str:
    """The kind of a recorded device: "cuda" for "cuda:0", "cpu" for "cpu"."""
    return str(device).split(":")[0]


def device_kinds(prov: Mapping[str, Any]) -> list[str]:
    """The kinds of device (:func:`device_kind`) a run's starts trained on, in order, each once: its
    segments', a segment from before devices were recorded counting as the run's own device."""
    devices = [seg.get("device") or prov.get("device") for seg in prov.get("segments") or [prov]]
    return list(dict.fromkeys(device_kind(device) for device in devices if device))


def device_threads(device_name: str | None) -> int | None:
    """The torch threads a CPU :func:`device_name` records ("x86_64 (2 cores, 1 torch threads)" -> 1),
    or None for another name (a GPU's, or none)."""
    parts = cpu_device_parts(device_name)
    return parts[2] if parts else None


def cpu_text(cpu: Mapping[str, Any] | None) -> str | None:
    """A recorded :func:`cpu_description` as text ("AMD EPYC (family 25, ...), torch kernels AVX512"),
    or None where no model was recorded."""
    if not cpu or not cpu.get("model"):
        return None
    kernels = cpu.get("torch_capability")
    return cpu["model"] + (f", torch kernels {kernels}" if kernels else "")


#: CPU flags that change how floats are summed (vector widths, fused multiply-add)
_VECTOR_FLAGS = re.compile(r"sse4_2|avx\w*|fma\w*|amx\w*|asimd\w*|sve\w*|neon")


@functools.cache
def cpu_description(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
    """Which CPU ran, for a run's provenance: its ``model`` as ``/proc/cpuinfo`` names it (with family,
    model and stepping, since a virtual machine's name may be as vague as "AMD EPYC"), its ``vector``
    instruction sets, and the kernels torch chose for it (``torch_capability``: "AVX512", "AVX2", ...).
    The fused kernel is built with ``-march=native`` and torch dispatches by capability, so two CPUs can
    round a float sum differently: the same code and seed then train to numbers that differ in the last
    digits first, and a long run drifts. Fields the system does not say are left out."""
    fields: dict[str, str] = {}
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if not sep:
                    if fields:
                        break  # the first processor's block is enough
                    continue
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    labels = {"cpu family": "family", "model": "model", "stepping": "stepping"}
    ids = ", ".join(f"{label} {fields[key]}" for key, label in labels.items() if fields.get(key))
    flags = fields.get("flags") or fields.get("Features") or ""
    vector = " ".join(sorted({flag for flag in flags.split() if _VECTOR_FLAGS.fullmatch(flag)}))
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()
    return {"model": f"{name} ({ids})" if ids else name,
            **({"vector": vector} if vector else {}),
            **({"torch_capability": str(capability)} if capability else {})}


def provenance(*, profile: str, seed: int, device: str, wall_time_s: float,
               code: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None,
               segments: list[dict[str, Any]] | None = None,
               source_training: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """How a run was made. ``code`` is :func:`git_commit` taken when the run *started* (the code
    that ran), which is what a long run must record; it defaults to the commit now. ``overrides``:
    the settings changed from the profile (a variant, :mod:`qornn.overrides`), kept when given.
    ``segments``: for a run trained in several starts (resumed from its checkpoint), which commit and
    host trained which optimiser steps (:func:`qornn.train.train`); kept when there is more than one.
    ``source_training``: for a post-training quantization run, the segments of the training of the run
    it quantizes (whose checkpoint it may reuse from an earlier commit), kept when given."""
    return {
        **({"segments": [dict(seg) for seg in segments]} if segments and len(segments) > 1 else {}),
        **({"source_training": [dict(seg) for seg in source_training]} if source_training else {}),
        **({"overrides": dict(overrides)} if overrides else {}),
        **(code if code is not None else git_commit()),
        "profile": profile,
        "seed": seed,
        "device": device,
        "device_name": device_name(device),
        "cpu": cpu_description(),
        "host": platform.node(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wall_time_s": round(wall_time_s, 2),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


_RUN_KEYS = {"config", "config_hash", "history", "test", "size_bits", "provenance"}
#: provenance fields every run must carry (what the pages and ``qornn show`` print)
PROVENANCE_KEYS = ("commit", "dirty", "profile", "seed", "device", "wall_time_s", "date")
#: seeds are in [0, MAX_SEED): torch's generators keep 32 bits, so 2**32 would silently equal seed 0
MAX_SEED = 2**32


def check_seed(seed: object) -> int:
    """``seed`` if it is an int in [0, 2**32), else a ValueError naming it (for every experiment,
    the wings' too: a record refuses any other seed, so a run must not start with one)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    return seed


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_finite(value: Any, where: str) -> None:
    """Every number inside a nested group of measurements (the wings' and theory chapters' records)
    finite; other JSON values (names, verdicts, flags) as they are."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, f"{where}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise RecordError(f"{where} must be a finite number, got {value!r}")


def _check_metrics(metrics: Any, where: str) -> None:
    """Finite numbers; a name ending in ``accuracy`` in [0, 1], every other (losses, bits) >= 0. A metric
    that is a group of measurements (a mapping or a list: the wings' and theory chapters' records) has
    every number in it finite."""
    if not isinstance(metrics, dict):
        raise RecordError(f"{where} must be a mapping of metrics, got {metrics!r}"[:300])
    for key, value in metrics.items():
        if isinstance(value, (dict, list)):
            _check_finite(value, f"{where}: {key}")
            continue
        if not _number(value):
            raise RecordError(f"{where}: {key} must be a finite number, got {value!r}"[:300])
        if key.endswith("accuracy") and not 0 <= value <= 1:
            raise RecordError(f"{where}: {key} must be in [0, 1], got {value!r}")
        if value < 0:
            raise RecordError(f"{where}: {key} must not be negative, got {value!r}")


def check_run(name: str, run: Any, *, experiment: str, profile: str, where: str = "") -> None:
    """Raise RecordError naming the first field of the run ``name`` that has the wrong type, range
    or value: every metric finite and in range, the provenance complete, the configuration of this
    record's experiment and profile."""
    at = f"{where}run {name!r}"
    if not isinstance(run, dict):
        raise RecordError(f"{at} is not a mapping")
    missing = _RUN_KEYS - set(run)
    if missing:
        raise RecordError(f"{at} lacks {', '.join(sorted(missing))}")
    config = run["config"]
    if not isinstance(config, dict):
        raise RecordError(f"{at}: config must be a mapping")
    for key, expected in (("experiment", experiment), ("profile", profile)):
        if key in config and config[key] != expected:
            raise RecordError(f"{at}: config {key} is {config[key]!r}, but the record is of {expected!r}")
    if not isinstance(run["config_hash"], str) or not run["config_hash"]:
        raise RecordError(f"{at}: config_hash must be a string")
    if not isinstance(run["history"], list):
        raise RecordError(f"{at}: history must be a list")
    trains_network = run["size_bits"] is not None
    if trains_network:
        _check_metrics(run["test"], f"{at} test")
        size = run["size_bits"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise RecordError(f"{at}: size_bits must be a non-negative int or None, got {size!r}"[:300])
    else:
        # an experiment that trains no network (the wings, the theory chapters): its test numbers and
        # history hold measurements of any JSON shape, every number in them finite
        if not isinstance(run["test"], dict):
            raise RecordError(f"{at} test must be a mapping, got {run['test']!r}"[:300])
        _check_finite(run["test"], f"{at} test")
        _check_finite(run["history"], f"{at} history")
    _check_metrics(run.get("baselines", {}), f"{at} baselines")
    for point in run["history"] if trains_network else []:
        if not isinstance(point, dict):
            raise RecordError(f"{at}: history entries must be mappings")
        epoch = point.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise RecordError(f"{at}: history epoch must be a positive int, got {epoch!r}"[:300])
        _check_metrics({k: point[k] for k in ("lr", "train_loss", "wall_time_s") if k in point},
                       f"{at} history epoch {epoch}")
        _check_metrics(point.get("val", {}), f"{at} history epoch {epoch} val")
        resumed = point.get("resumed_at_steps", [])
        if not isinstance(resumed, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in resumed):
            raise RecordError(f"{at} history epoch {epoch}: resumed_at_steps must be positive ints")
        diagnostics = point.get("diagnostics", {})
        if not isinstance(diagnostics, dict) or not all(map(_number, diagnostics.values())):
            raise RecordError(f"{at} history epoch {epoch}: diagnostics must be finite numbers")
    prov = run["provenance"]
    if not isinstance(prov, dict):
        raise RecordError(f"{at}: provenance must be a mapping")
    lacking = [key for key in PROVENANCE_KEYS if key not in prov]
    if lacking:
        raise RecordError(f"{at}: provenance lacks {', '.join(lacking)}")
    if prov["profile"] != profile:
        raise RecordError(f"{at}: provenance profile is {prov['profile']!r}, but the record is of "
                          f"{profile!r}")
    seed = prov["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise RecordError(f"{at}: provenance seed must be an int in [0, 2**32), got {seed!r}"[:300])
    if not _number(prov["wall_time_s"]) or prov["wall_time_s"] < 0:
        raise RecordError(f"{at}: provenance wall_time_s must be a non-negative number, "
                          f"got {prov['wall_time_s']!r}"[:300])
    if prov["commit"] is not None and not isinstance(prov["commit"], str):
        raise RecordError(f"{at}: provenance commit must be a string or null")
    if prov["dirty"] not in (True, False, None):
        raise RecordError(f"{at}: provenance dirty must be true, false or null")
    for key in ("device", "date"):
        if not isinstance(prov[key], str):
            raise RecordError(f"{at}: provenance {key} must be a string, got {prov[key]!r}"[:300])
    for key in ("segments", "source_training"):
        segments = prov.get(key, [])
        if not isinstance(segments, list) or not all(
                isinstance(seg, dict) and isinstance(seg.get("from_step"), int)
                and isinstance(seg.get("to_step"), int) and 0 <= seg["from_step"] <= seg["to_step"]
                and (seg.get("commit") is None or isinstance(seg["commit"], str))
                and isinstance(seg.get("torch", ""), str)
                and isinstance(seg.get("wall_time_s", 0.0), int | float) and seg.get("wall_time_s", 0.0) >= 0
                for seg in segments):
            raise RecordError(f"{at}: provenance {key} must be a list of {{commit, from_step, to_step}} "
                              "with 0 <= from_step <= to_step (and a string torch, a wall_time_s >= 0 "
                              "where given)")
    if "overrides" in prov and not isinstance(prov["overrides"], dict):
        raise RecordError(f"{at}: provenance overrides must be a mapping of settings")
    if "analysis" in run and not isinstance(run["analysis"], dict):
        raise RecordError(f"{at}: analysis must be a mapping")
    if "weights" in run:
        check_weights_entry(run["weights"], at)
    implementation = run.get("implementation", {})
    if not isinstance(implementation, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in implementation.items()):
        raise RecordError(f"{at}: implementation must be a mapping of names, got "
                          f"{implementation!r}"[:300])


#: the fields of a run's ``weights`` entry (:mod:`qornn.weights`)
WEIGHTS_KEYS = ("path", "sha256", "file_bytes", "payload_bits", "format")


def check_weights_entry(entry: Any, at: str = "weights") -> None:
    """Raise RecordError naming the first bad field of a run's ``weights`` entry: a path relative to
    ``data/``, under ``weights/``, ending in ``.npz`` (never leaving ``data/``); a sha256 of 64
    lowercase hex digits; file_bytes and payload_bits positive ints; format a name."""
    if not isinstance(entry, dict):
        raise RecordError(f"{at}: weights must be a mapping, got {entry!r}"[:300])
    lacking = [key for key in WEIGHTS_KEYS if key not in entry]
    if lacking:
        raise RecordError(f"{at}: weights lacks {', '.join(lacking)}")
    path = entry["path"]
    if not isinstance(path, str) or not re.fullmatch(r"weights(/[A-Za-z0-9_.,=+-]+)+\.npz", path) \
            or any(part.startswith(".") for part in path.split("/")):
        raise RecordError(f"{at}: weights path must be a file under weights/ ending in .npz, relative to "
                          f"data/, got {path!r}"[:300])
    if not isinstance(entry["sha256"], str) or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]):
        raise RecordError(f"{at}: weights sha256 must be 64 lowercase hex digits, "
                          f"got {entry['sha256']!r}"[:300])
    for key in ("file_bytes", "payload_bits"):
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RecordError(f"{at}: weights {key} must be a positive int, got {value!r}"[:300])
    if not isinstance(entry["format"], str) or not entry["format"]:
        raise RecordError(f"{at}: weights format must be a name, got {entry['format']!r}"[:300])


def _check_record(record: Any, path: Path, experiment: str, profile: str, variant: str = "") -> dict:
    if not isinstance(record, dict) or record.get("schema") != SCHEMA_VERSION:
        raise RecordError(f"{path}: not a qornn results record of schema {SCHEMA_VERSION}")
    for key in ("experiment", "profile", "runs"):
        if key not in record:
            raise RecordError(f"{path}: record lacks the field {key!r}")
    for key, expected in (("experiment", experiment), ("profile", profile)):
        if record[key] != expected:
            raise RecordError(f"{path}: the record's {key} is {record[key]!r}, but its path says "
                              f"{expected!r}")
    if record.get("variant", "") != variant:
        raise RecordError(f"{path}: the record's variant is {record.get('variant', '')!r}, but its "
                          f"path says {variant!r}")
    if not isinstance(record.get("overrides", {}), dict):
        raise RecordError(f"{path}: overrides must be a mapping of settings")
    if not isinstance(record["runs"], dict):
        raise RecordError(f"{path}: runs must be a mapping")
    for name, run in record["runs"].items():
        check_run(name, run, experiment=experiment, profile=profile, where=f"{path}: ")
    return record


def load_record(experiment: str, profile: str, *, missing_ok: bool = False,
                variant: str = "") -> dict | None:
    """The record of ``experiment`` under ``profile`` (or of its ``variant``), schema-checked."""
    path = record_path(experiment, profile, variant)
    if not path.exists():
        if missing_ok:
            return None
        raise RecordError(
            f"no recorded results for experiment {experiment!r}, profile {profile!r}"
            f"{f', variant {variant!r}' if variant else ''} (looked for {path}); produce them with: "
            f"qornn run {experiment} --profile {profile}{' and its overrides (--set)' if variant else ''}"
        )
    return _read_record(path, experiment, profile, variant)


def _read_record(path: Path, experiment: str, profile: str, variant: str) -> dict:
    """The record in the file at ``path``, parsed (no NaN or Infinity) and schema-checked."""
    try:
        record = json.loads(path.read_text(), parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise RecordError(f"{path}: not valid JSON ({err})") from None
    except ValueError as err:  # NaN or Infinity, which are not JSON
        raise RecordError(f"{path}: {err}") from None
    return _check_record(record, path, experiment, profile, variant)


def load_kept_records(experiment: str, profile: str, *, variant: str = "") -> list[dict]:
    """The earlier records of ``experiment`` under ``profile`` (or its ``variant``) that a changed
    definition replaced, kept in ``history/`` beside the record, oldest first, each schema-checked."""
    return [_read_record(path, experiment, profile, variant)
            for path in history_paths(record_path(experiment, profile, variant))]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock beside ``path``: runs of one record in parallel processes don't race. The
    lock file is opened without truncating it and without following a symbolic link: ``open(lock,
    "w")`` on a link to the record (or to any file) would empty that file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / f".{path.name}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OSError(err.errno, f"the lock file {lock} is a symbolic link; remove it (qornn makes "
                                     "its own)") from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def check_record_lock(experiment: str, profile: str, *, variant: str = "") -> None:
    """Take the lock of the record (:func:`_locked`: the lock file is made if missing, and this waits
    while another process holds it, which it does only while writing the record) and let it go: a lock
    file that qornn cannot use (a symbolic link) is refused before a run trains or measures, not when
    its record is written hours later."""
    with _locked(record_path(experiment, profile, variant)):
        pass


def save_run(experiment: str, profile: str, model: str, run: dict, *, variant: str = "",
             overrides: dict[str, Any] | None = None, files: dict[Path, bytes] | None = None) -> Path:
    """Add or replace one model's run in the record, keeping the previous record if it differed.
    A ``variant``'s record (its ``overrides`` stored in it) is apart from the profile's. ``files``
    (path -> bytes: the run's packed weights) are written, each atomically, once the run has passed
    the schema check and under the record's lock, just before the record: a run refused by the
    schema leaves no file behind."""
    check_run(model, run, experiment=experiment, profile=profile)
    path = record_path(experiment, profile, variant)
    with _locked(path):
        return _save_run_locked(path, experiment, profile, model, run, variant, overrides, files)


def update_run(experiment: str, profile: str, model: str, fields: dict, *, variant: str = "",
               files: dict[Path, bytes] | None = None) -> Path:
    """Add ``fields`` (e.g. an ``analysis``, ``weights``) to one recorded run, under the record's
    lock; ``files`` as in :func:`save_run`, written once the updated run passes the schema check."""
    path = record_path(experiment, profile, variant)
    with _locked(path):
        record = load_record(experiment, profile, variant=variant)
        if model not in record["runs"]:
            raise RecordError(f"{path}: no run {model!r} to update")
        before = [run.get("weights") for run in record["runs"].values()]  # what the record names now
        record["runs"][model].update(fields)
        check_run(model, record["runs"][model], experiment=experiment, profile=profile)
        _write_files_and_record(path, record, files, before)
    return path


def _write_files(files: dict[Path, bytes] | None) -> None:
    for target, data in (files or {}).items():
        atomic_write_bytes(Path(target), data)


def _write_files_and_record(path: Path, record: dict, files: dict[Path, bytes] | None,
                            named: list[Mapping[str, Any] | None]) -> None:
    """Write ``files``, then ``record`` at ``path``, without losing the weights the record names
    until then (``named``: its runs' ``weights`` entries). The files go first so that a record
    never names weights that are not there, but a record write that then fails (a full disk, a
    kill) would leave the old record naming a file already overwritten by other bytes: a retrain of
    the same configuration rarely gives the same weights (another thread count, another machine).
    So each such file is first copied to :func:`kept_weights_path`, where :func:`qornn.weights.
    load_weights` finds it by its sha256; once the record is written the copy is removed, unless it
    was there before (a kept record names it)."""
    text = json_text(path, record)  # a record that cannot be written is refused before any file is
    wanted = {Path(target).resolve(): data for target, data in (files or {}).items()}
    copies = []
    for entry in named:
        if not entry or (data_dir() / entry["path"]).resolve() not in wanted:
            continue
        current = data_dir() / entry["path"]
        try:
            old = current.read_bytes()
        except OSError:  # not there: nothing to lose
            continue
        keep = data_dir() / kept_weights_path(entry)
        if old != wanted[current.resolve()] and hashlib.sha256(old).hexdigest() == entry["sha256"] \
                and not keep.exists():
            atomic_write_bytes(keep, old)
            copies.append((keep, current, old))
    _write_files(files)
    try:
        atomic_write_bytes(path, text.encode())
    except BaseException:
        # the record still names the old weights: put them back where it says, and the copy is not
        # needed (it stays, for load_weights to find, only if that fails too, or on a kill)
        for keep, current, old in copies:
            try:
                atomic_write_bytes(current, old)
                keep.unlink(missing_ok=True)
            except OSError:
                pass
        raise
    for keep, _, _ in copies:  # the record names the new weights now: the copy was for a write that failed
        keep.unlink(missing_ok=True)


def history_paths(path: Path) -> list[Path]:
    """The earlier records kept for the record at ``path`` (``history/<stem>-<UTC stamp>.json``
    beside it), oldest first."""
    return sorted((path.parent / "history").glob(f"{path.stem}-*.json"))


def _kept(path: Path, model: str, run: dict) -> bool:
    """Whether a kept earlier record of ``path`` already holds ``run`` as ``model``: replacing the
    runs of one record one by one (a sweep after a changed definition) keeps one copy, not one per
    run. Where the weights file is kept is not part of the run."""
    for kept in history_paths(path):
        with contextlib.suppress(OSError, ValueError):
            kept_run = json.loads(kept.read_text()).get("runs", {}).get(model)
            if kept_run is not None and _without_weights_path(kept_run) == _without_weights_path(run):
                return True
    return False


def _without_weights_path(run: dict) -> dict:
    weights = run.get("weights")
    return {**run, "weights": {k: v for k, v in weights.items() if k != "path"}} if weights else run


def kept_weights_path(entry: Mapping[str, Any]) -> str:
    """Where the weights file of a replaced run is kept, relative to ``data/``:
    ``history/<sha256, 16 digits>-<file>`` in its folder, named by its content (one copy however
    many kept records name it)."""
    current = Path(entry["path"])
    return (current.parent / "history" / f"{entry['sha256'][:16]}-{current.name}").as_posix()


def _keep_weights(record: dict) -> dict:
    """``record`` as kept in ``history/``: each run's weights file, where it still matches its
    ``sha256``, copied to :func:`kept_weights_path` and named there, so the run that replaces it
    cannot overwrite it. A file already replaced (records kept before the weights were) stays named
    where it was; its ``sha256`` tells it is not there any more."""
    kept = json.loads(json.dumps(record))
    for run in kept["runs"].values():
        entry = run.get("weights")
        if not entry:
            continue
        with contextlib.suppress(OSError):
            data = (data_dir() / entry["path"]).read_bytes()
            if hashlib.sha256(data).hexdigest() == entry["sha256"]:
                target = kept_weights_path(entry)
                if not (data_dir() / target).exists():
                    atomic_write_bytes(data_dir() / target, data)
                entry["path"] = target
    return kept


def _save_run_locked(path: Path, experiment: str, profile: str, model: str, run: dict, variant: str,
                     overrides: dict[str, Any] | None, files: dict[Path, bytes] | None) -> Path:
    record = load_record(experiment, profile, missing_ok=True, variant=variant) or {
        "schema": SCHEMA_VERSION, "experiment": experiment, "profile": profile, "runs": {},
        **({"variant": variant, "overrides": dict(overrides or {})} if variant else {})}
    old = record["runs"].get(model)
    if old is not None and old["config_hash"] != run["config_hash"] and not _kept(path, model, old):
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")  # two in a second
        # before the new run's files overwrite the old one's
        atomic_write_json(path.parent / "history" / f"{path.stem}-{stamp}.json", _keep_weights(record))
    before = [each.get("weights") for each in record["runs"].values()]  # what the record names now
    record["runs"][model] = run
    _write_files_and_record(path, record, files, before)
    return path


#: modules of ``qornn/`` that only store, read or present records, or move files, so cannot change
#: a run's numbers (this one included: a change to how a configuration is hashed shows up as a
#: configuration that differs from the profile, which is flagged on its own; and reproduce.py, which
#: compares a record with a retrain it starts through the command line, in a folder of its own)
PRESENTATION_ONLY = frozenset({"qornn/report.py", "qornn/benchmark_report.py", "qornn/cli_fetch.py",
                               "qornn/export.py", "qornn/weights.py", "qornn/results.py",
                               "qornn/theory/report.py", "qornn/sparse/report.py",
                               "qornn/overestimate/report.py", "qornn/checkpoints.py",
                               "qornn/reproduce.py"})

#: modules that only describe, transform or pass on configurations (overrides, the models' option
#: list, the command line, the sweeps, which only schedule ``run_experiment`` calls): what they do
#: reaches a run only through its configuration and provenance (seed, device), which the record
#: keeps whole and each page compares with the current definition
CONFIGURATION_ONLY = frozenset({"qornn/overrides.py", "qornn/models/options.py", "qornn/cli.py",
                                "qornn/sweep.py", "qornn/cli_sweep.py"})

#: modules that change how fast a run goes or how much memory it holds, never a value it computes:
#: the C allocator's policy for freed memory (:mod:`qornn.allocator`) decides where a tensor lives,
#: not what it holds
RUNTIME_ONLY = frozenset({"qornn/allocator.py"})


#: subpackages that are wings of their own, mapped to the name prefix of their experiments: a wing
#: imports nothing from the rest of qornn/ (but this module) and the rest imports nothing from it
#: (``tests/test_theory.py``, ``tests/test_sparse.py``), so a change inside a wing can change only
#: its own experiments' numbers, and a change elsewhere in qornn/ cannot change them
INDEPENDENT_PACKAGES = {"qornn/theory/": "theory-", "qornn/sparse/": "sea-",
                        "qornn/overestimate/": "overestimate-"}

#: the runner of the sparse and overestimate wings (:mod:`qornn.wings`): part of their code, and,
#: since the RNN code never imports it, of no other experiment's
WING_RUNNER = ("qornn/wings.py", ("qornn/sparse/", "qornn/overestimate/"))

#: modules that only one experiment runs, each mapped to it: the authors' code side by side
#: (``scripts/peer_check.py``) and the sign-flip probe (``run_flip_probe``). Nothing in qornn/ imports
#: them (``tests/test_train.py`` checks it), so they cannot change another's numbers
EXPERIMENT_ONLY = {"qornn/peer.py": "hadamrnn-peer-check", "qornn/sign_probe.py": "hadamrnn-signs-probe"}


#: files that only the Hadamard recurrences run: the fused kernel, its Python wrapper and the sign
#: training rules. A HadamardWeight is their only caller (``qornn.models.implementation`` also asks
#: the wrapper which code ran, for the record's metadata, not its numbers), so a change there can
#: change a run's numbers only if its model has one
HADAMARD_ONLY = frozenset({"qornn/csrc/hadamard_rnn.cpp", "qornn/fast_hadamard.py", "qornn/signs.py",
                           "qornn/csrc/fast_hadamard.cpp"})  # the last: the linear-only kernel before it

#: rewrites checked to give the same numbers, bit for bit, at one thread (how runs train): path ->
#: {(git blob id before, git blob id after)}. Records made with the version before count as made with
#: the one after (:func:`behaviour_changed`). Each pair is a check recorded by
#: ``scripts/kernel_equivalence.py`` (the fused kernel: data/results/benchmarks/kernel_equivalence/) or
#: ``scripts/training_equivalence.py`` (whole smoke runs: .../training_equivalence/); a test holds
#: the two together. So far: the half-width tail chunks and the threads' shares of the batch (issue
#: 19), one helper for the backward's gradient flushes, the training loop's stop at divergence, the
#: dense recurrence's hand-written backward, resuming on a GPU with each start's device recorded,
#: each start's torch and time, and the token preactivations and states in fewer passes.
SAME_RESULTS: dict[str, frozenset[tuple[str, str]]] = {
    "qornn/csrc/hadamard_rnn.cpp": frozenset({
        ("603a925ac86c331876f2843ba79364603c624392", "5c0311e6290a92a034496975d127b348a2c1d854"),
        ("5c0311e6290a92a034496975d127b348a2c1d854", "d3b2bb9de66396f6d82cac79cacd3e3ba0bb3c60"),
    }),
    "qornn/fast_hadamard.py": frozenset({
        ("d44cf982676fdde065c3e0e34d70a470c320dc8e", "0ffbc0a6a2f9a41ff565988bd9d454d74601916d"),
        # what the fused kernel runs said once, supports(x, s, *others, nonlinearity), with
        # recurrent.py's HadamardWeight and network.py asking it (e296302): against 2ebfd52, 36 smoke
        # runs, 0 different
        ("0ffbc0a6a2f9a41ff565988bd9d454d74601916d", "7d594ac3d95190c7f908ec599ff3de1933d79b95"),
        # a first build of the kernel announced on stderr (d66e9a8): against 2836a9b, 38 smoke runs,
        # 0 different
        ("7715bc8a9bb94cf463f5e6014f773e4e9e936d68", "6cb32c6d641d41109f19abf1677ea9ee3a4e4cf5"),
        # not announced for a model on the dense path (83fa3a1): against 5d0a49f, 38 smoke runs,
        # 0 different
        ("6cb32c6d641d41109f19abf1677ea9ee3a4e4cf5", "06c8440933602764d04fe14290d9dd99227637a8"),
    }),
    # the first non-finite loss stops a run, a stopped retrain resumes, a PTQ run records its source's
    # training (3dfac0b): scripts/training_equivalence.py, 36 smoke runs, 0 different
    # ... then the generator states restored on the CPU when a checkpoint resumes on a GPU (ce32b81),
    # and each start's device in the segments (815b65b): against d9d377e, 36 smoke runs, 0 different
    "qornn/train.py": frozenset({
        ("c3932e3bae5d1babbb2505db45e61c57ead46ce7", "5090afbc60d6d90236fe388c71b3b33143c5d291"),
        ("5090afbc60d6d90236fe388c71b3b33143c5d291", "63714913a3368262d865c743769d351cc5552dac"),
        # each start's torch version and training time in its segment: against ffdb3c0, 36 smoke
        # runs, 0 different
        ("63714913a3368262d865c743769d351cc5552dac", "65bd73fa4072740fc14ff09cf46ac79aeae7f3a0"),
        # a step that leaves the optimiser's state non-finite stops the run: against 7c797c4, 36 smoke
        # runs, 0 different. Not the same for a run whose Adam state overflowed, which now stops there:
        # the paper-budget qornn-copy 3-bit record, whose page says it did not train
        ("65bd73fa4072740fc14ff09cf46ac79aeae7f3a0", "42a4b8e010e25f98e4f793d7d6b88e393a86123a"),
        # the messages' advice as `qornn run --set` takes it: against 22aa5bf, 36 smoke runs, 0 different
        ("42a4b8e010e25f98e4f793d7d6b88e393a86123a", "a4f14af1c78c5d21b58e08f7d28b6c99e5f0c052"),
        # the advice sentence ends with a full stop (96f055b): against 9c64b45, 36 smoke runs, 0 different
        ("a4f14af1c78c5d21b58e08f7d28b6c99e5f0c052", "dbe8f056d65e05477ad1b4e7b2a00cf4120dc173"),
        # one rule for an epoch's steps, batches_per_epoch, with runner.py's recorded PTQ source
        # using it (0513de2): against 4259be3, 36 smoke runs, 0 different
        ("dbe8f056d65e05477ad1b4e7b2a00cf4120dc173", "a3e1d103e8dcb35c1762b663039de24125f2c1b6"),
        # a label in the checkpoint (experiment, profile, run, seed, --set overrides), with runner.py
        # passing it, so that `qornn checkpoints` continues a variant's run: against b427d83, 36 smoke
        # runs, 0 different
        ("a3e1d103e8dcb35c1762b663039de24125f2c1b6", "4a0511efe15433618512705c2935d31fb60a9d7d"),
        # each start's CPU (model, vector instructions, torch's kernels) in its segment (af3cfe3):
        # against 90ba6b4, 36 smoke runs, 0 different
        ("4a0511efe15433618512705c2935d31fb60a9d7d", "5849b0dba49d14c3bee3795ab0680f88e930fa1d"),
        # the seed in the default run hash (see models/__init__.py)
        ("5849b0dba49d14c3bee3795ab0680f88e930fa1d", "b3561dccac1af4cb48963e4e63489c13c309cdbd"),
        # check_seed moved to results.py, one check for every runner (see wings.py below):
        # against e31a21a, 36 smoke runs, 0 different
        ("b3561dccac1af4cb48963e4e63489c13c309cdbd", "9922cde427ae9796ab2feaa714ce5e9f3d323287"),
        # the fused kernel built before the first step's clock starts (not training time): against
        # 3c5ee87, 38 smoke runs, 0 different
        ("9922cde427ae9796ab2feaa714ce5e9f3d323287", "b0b912cec48504f8c073fced375fb5cdbd4902fd"),
        # checkpoints' zip CRCs checked before loading, finite non-bool lr/lr_gamma/grad_clip, cpu:N
        # refused (robustness review F1, F2, F6, F10; 94d723f): against d1d8f82, 38 smoke runs, 0 different
        ("b0b912cec48504f8c073fced375fb5cdbd4902fd", "00da646137c668e9d344dfda627fcd8745ff3790"),
        # a checkpoint saved without CRCs is not checked against them (c1ec291): against 6d7cdcf,
        # 38 smoke runs, 0 different
        ("00da646137c668e9d344dfda627fcd8745ff3790", "3ae6d5e3b151415f13210c615a15a0ae02103a5c"),
        # the refusal of a checkpoint naming a global no longer says "crafted" (32a3b5c): against
        # b1f2a12, 38 smoke runs, 0 different
        ("3ae6d5e3b151415f13210c615a15a0ae02103a5c", "52e01b5906104b15440dd9d08bfe9c8b106c6c8c"),
        # the kernel's first build announced when progress is on (d66e9a8): against 2836a9b, 38 smoke
        # runs, 0 different
        ("52e01b5906104b15440dd9d08bfe9c8b106c6c8c", "c2b7360038a7e226bcb4cd6f8e3d200700db2326"),
    }),
    # Haar sampling moved into haar_orthogonal, beside haar_alpha (c01b215): against a2337ca, 36
    # smoke runs, 0 different with analysis.activation_ptq left out (changed by a705c6c, see runner.py)
    "qornn/analysis.py": frozenset({
        ("38a5a01afd0033aea9420ba1ea6c89e78990bb56", "1bd7c80de8ac68177344d8ff45b35dffd2cbd135"),
        # quantized_growth added beside the functions in use (c5172bd): against bfd9af3, 36 smoke runs,
        # 0 different
        ("1bd7c80de8ac68177344d8ff45b35dffd2cbd135", "9fa9723fbf29b3813fca5864ec6436b214f2d090"),
        # start_alpha(n, start) in place of haar_alpha, start_matrix beside it (40687aa): against
        # 2ebfd52, 36 smoke runs, 0 different
        ("9fa9723fbf29b3813fca5864ec6436b214f2d090", "fa69d14ee593a714f5eb5c39a94d77688a670f83"),
        # activation_ptq's progress bar, off unless asked, with runner.py's analyse_experiment
        # passing it (32c6284): against 5a94248, 36 smoke runs, 0 different
        ("fa69d14ee593a714f5eb5c39a94d77688a670f83", "3b2f1200baf21356fa0c361c440e51851dc6d520"),
    }),
    # sign_training given one value says to change it in the experiment's definition (d66e9a8):
    # against 2836a9b, 38 smoke runs, 0 different
    "qornn/signs.py": frozenset({
        ("d2b0904cbfc5d6d5057d4c474a26409f7a06e08f", "ddefa804f51ba73afba913756555e0f00cb94fc9"),
        # its wording (83fa3a1): against 5d0a49f, 38 smoke runs, 0 different
        ("ddefa804f51ba73afba913756555e0f00cb94fc9", "02abc52c7c569207be9847e2f9844e06bd869096"),
    }),
    "qornn/experiments/runner.py": frozenset({
        ("b2a6edbf566b66bdc65be4b936a9b7fdb6421b57", "14447a46b07d2b8dd41ea233973fd138487c8658"),
        # HadamRNN activation PTQ on request only (then qornn analyse --hadamard-activations), with
        # qornn.py's integer loop rounding ties to even (964ed08): against 46941c0, 36 smoke runs,
        # 0 different. A tie needs the integer sum at exactly half a step, which a k-bit W of
        # irrational scale does not give; HadamRNN's W, which does, had no activation PTQ before.
        ("14447a46b07d2b8dd41ea233973fd138487c8658", "2b22424654847ff14db16df3c76f9495fd4f8f03"),
        # qornn analyse --activations, with qornn.py's biases on their own grid in activation PTQ
        # (a705c6c): against c01b215, 36 smoke runs, 0 different with analysis.activation_ptq left
        # out (a measurement after training, which this change alters: it differs in 12 runs), and
        # measured again on every committed run that records it (tests/test_train.py checks that)
        ("2b22424654847ff14db16df3c76f9495fd4f8f03", "1f873e854a9891231536e7a718b9b96fc0682a64"),
        # analyse_experiment(progress=...) and the bar after training (32c6284, 0fdeb75): see analysis.py
        ("1f873e854a9891231536e7a718b9b96fc0682a64", "6dcfcb868f095a8386b76265627154dbbac54666"),
        # a PTQ run quantizes its recorded source's packed weights when the source's checkpoint is
        # gone (3b0ac29): against 3206271, 36 smoke runs, 0 different
        ("6dcfcb868f095a8386b76265627154dbbac54666", "a58ffcd19118eabc001e8e0883c55406297ecb97"),
        # the source's steps from train.batches_per_epoch (0513de2): see train.py
        ("a58ffcd19118eabc001e8e0883c55406297ecb97", "35ce7737b07a49f727f25191d8935f6554508110"),
        # the checkpoint's label (see train.py)
        ("35ce7737b07a49f727f25191d8935f6554508110", "c243e6df91094ebb78ad7f89cd957454ddd2cd8b"),
        # a profile may leave out runs (ExperimentConfig.left_out, check_runs): against 6636c91,
        # 36 smoke runs, 0 different
        ("c243e6df91094ebb78ad7f89cd957454ddd2cd8b", "41c79e0acdf6f6438becae6c90d4d907c58170e7"),
        # --retrain of a PTQ run quantizes it again and trains its source only when named too: see
        # models/qornn.py
        ("41c79e0acdf6f6438becae6c90d4d907c58170e7", "88abf30b07810870fc812951175ecb24a1847fd1"),
        # --retrain of a PTQ run alone refuses a source that is not the recorded one (an unfinished
        # retrain's checkpoint, or no current record): against 5ee78ca, 38 smoke runs, 0 different
        ("88abf30b07810870fc812951175ecb24a1847fd1", "51dd071121ccf1d2154c07448de75bcfc746d785"),
        # that check folded into _recorded_source(required=...), one lookup of the source (5f8c4ea):
        # against 39457af, 38 smoke runs, 0 different
        ("51dd071121ccf1d2154c07448de75bcfc746d785", "767b3e39a2fea844eaa5ae118723e0b2c86cb5f8"),
        # export and analyse refuse a checkpoint of another training than the recorded one, and run,
        # analyse and export take the record's lock first (32a3b5c): against b1f2a12, 38 smoke runs,
        # 0 different
        ("767b3e39a2fea844eaa5ae118723e0b2c86cb5f8", "bc22ebfad5bc7240c42e5c62b0ccacb452be5d07"),
        # an unrecorded run's refusal lists the recorded ones (d66e9a8): against 2836a9b, 38 smoke
        # runs, 0 different
        ("bc22ebfad5bc7240c42e5c62b0ccacb452be5d07", "8b150cf4d7d776171cb4cdef5ff8313544634d15"),
        # export checks every checkpoint before writing, analyse_runs returns the runs measured
        # (83fa3a1): against 5d0a49f, 38 smoke runs, 0 different
        ("8b150cf4d7d776171cb4cdef5ff8313544634d15", "0fa3c9d1f4ad688b20a1d449a14f75b6de4ee3fc"),
    }),
    # the dense recurrence's hand-written backward (3da539f), then its states and gradients written
    # in place (ea22c18): scripts/training_equivalence.py against 0b20fbe and 0bba19d, 36 smoke runs
    # each, 0 different
    "qornn/models/recurrent.py": frozenset({
        ("a68fe21be5d543bd9a55391b2bdd23f068af48c2", "3559a19be4ece18a36581bd1272e9ba538cd5a4d"),
        ("3559a19be4ece18a36581bd1272e9ba538cd5a4d", "ed258445331a52ab9366d26d7d59541afdce19e1"),
        # one in-place loop for training and evaluation, the weight gradient accumulated untransposed
        # (1d13623): against 1245b76, 36 smoke runs, 0 different
        ("ed258445331a52ab9366d26d7d59541afdce19e1", "81b2615b2db78899dbdd6116bb6cb19154eae2f5"),
        # the states written over the preactivations (overwrite=True), with network.py's token
        # preactivations in one lookup of U^T + b: against 7f5cdc5, 36 smoke runs, 0 different
        ("81b2615b2db78899dbdd6116bb6cb19154eae2f5", "c69752c2f94a6d3998623bbec05089cd6baa37f2"),
        # modReLU, no recurrence bias, a readout without ReLU (options off by default), with
        # models/__init__.py, options.py and qornn.py (d44208a): against 7c22686, 36 smoke runs,
        # 0 different
        ("c69752c2f94a6d3998623bbec05089cd6baa37f2", "30f4d41a1bc602436a5dee4b112b6574f47a74c9"),
        # fast_hadamard.supports asked with every tensor and σ; modrelu(z, b, eps) for qornn.py's
        # activation-quantized networks, whose modReLU without ε was written out twice (e296302):
        # against 2ebfd52, 36 smoke runs, 0 different; their activation PTQ outputs (integer and
        # float simulation, modReLU, ReLU, HadamRNN, Block-HadamRNN) compared bit for bit too
        ("30f4d41a1bc602436a5dee4b112b6574f47a74c9", "a9bbcb408b17be89dcd26b906db74c7dc6c9931f"),
        # HadamRNN's clamp_signs option, on by default as before, with models/__init__.py passing it:
        # against a8cb9c4, 36 smoke runs, 0 different
        ("a9bbcb408b17be89dcd26b906db74c7dc6c9931f", "08cd74732eaaf4c8d3dfecd1225b5af75c6748cd"),
    }),
    "qornn/models/network.py": frozenset({
        ("fc66f406c1e33da3bde0b9660af2e9638d96cf68", "2dd97f33aa64736d6dfcbcb2aff0506123234ac7"),
        ("2dd97f33aa64736d6dfcbcb2aff0506123234ac7", "910613a0abb49f1a35839cd5fae2d1d5a0f2b910"),
        # the fused kernel's σ limit left to fast_hadamard.supports (e296302): see recurrent.py
        ("910613a0abb49f1a35839cd5fae2d1d5a0f2b910", "45b0db781b0476eca48fc6fd340b1ec558357437"),
    }),
    "qornn/models/__init__.py": frozenset({
        ("eabed60fc7e8c197b1f21622e472bd73e86b5835", "7988c1a5ac582314547ea7cbfdaa3b424638b2e4"),
        # clamp_signs (see recurrent.py)
        ("7988c1a5ac582314547ea7cbfdaa3b424638b2e4", "ac180046d34a58406d7c68a97407972b99b31fb2"),
        # options checked when a model is built, PTQ inside a text embedding, the seed in train()'s
        # default run hash, data pickles read into arrays only from the bytes hashed (ec51cad,
        # 9f6cf1b): against ab35a59, 36 smoke runs, 0 different
        ("ac180046d34a58406d7c68a97407972b99b31fb2", "a507149b26987d0ef0f87dc8840e37072fdb1125"),
    }),
    "qornn/models/options.py": frozenset({
        ("7c6d73061cc536f35d548aba34090da6c7e5bed4", "a6abe40cb0edc7d4dbbe8e6d330c54e4f0e85cb0"),
    }),
    "qornn/models/qornn.py": frozenset({
        ("19ee8bd4091b1d9021b97ddf6358fd66fcf62f92", "2eabb3dacea552222ed0b0e7dc463eeaeff0c89d"),
        # HadamRNN's W in integer_weights, ties to even in the integer loop (964ed08): see runner.py
        ("2eabb3dacea552222ed0b0e7dc463eeaeff0c89d", "a1d79074c5fc82df0f551fe67be1f2f2c733b0ef"),
        # the biases' own grid in activation PTQ (a705c6c): see runner.py
        ("a1d79074c5fc82df0f551fe67be1f2f2c733b0ef", "633586d4be845976ea87750fc6bd6074b04a4083"),
        # projUNN's init option, Haar by default as before (38d4732): see orthogonal.py
        ("633586d4be845976ea87750fc6bd6074b04a4083", "7b740127c1ca70ed791ab9044738deed22df9f63"),
        # modReLU without ε as modrelu(..., eps=0.0) (e296302): see recurrent.py
        ("7b740127c1ca70ed791ab9044738deed22df9f63", "332c12c248e3861cb26ac7daeeb934b167d40f5a"),
        # see models/__init__.py
        ("332c12c248e3861cb26ac7daeeb934b167d40f5a", "2c61491d2e8ee667ed856dd515f0d795f4b25433"),
        # PTQ reads a Björck source in eval mode (its power-iteration vector stays put): against
        # 5189661, 38 smoke runs, 2 different, both post-training quantizations of a Björck model
        # after the first width (analysis.W); every committed one is quantized again with this code
        # (tests/test_experiments.py checks that), so the pair holds for every record
        ("2c61491d2e8ee667ed856dd515f0d795f4b25433", "4a9d7e8b9926d4001005f7612c1ba6d721b0d349"),
    }),
    # Henaff's start, henaff_orthogonal, added beside the functions in use (38d4732): against f70c1cf,
    # 36 smoke runs, 0 different
    "qornn/orthogonal.py": frozenset({
        ("0549966b1ad1048ca6dfd7196afaeed8ce7e3d89", "032e4f307a23dcb11f2fda52cda61676261414bd"),
        # LOW_RANK_METHODS (see models/__init__.py)
        ("a090bba54e525013e99cd9b29f2f6f8f51edda63", "8549ff49f3bbca1a0813f0976ee9cfeff3f80100"),
    }),
    # data pickles (see models/__init__.py); no recorded run reads imdb.npz (the text runs read the
    # CSV stand-ins), and the real MNIST loads to the same arrays (sha256 of every split equal)
    "qornn/datasets.py": frozenset({
        ("d049aaa20790723a276a69f169b553cd6705b765", "6e4a7e069500dced0666fd4dc4a5eb6f8838f9e6"),
    }),
    "qornn/tasks/mnist.py": frozenset({
        ("dc802c1de934ac08ef587a51c4ec200779154926", "7df90318cdc6e97e645c36d1859f07b52e98c89a"),
    }),
    # the wings' and the theory runner's seeds checked by results.check_seed, up to 2**32: against
    # e31a21a, every wing and theory experiment at its smoke profile (48 runs), 0 different
    "qornn/wings.py": frozenset({
        ("84ae4e4bfbba22e53f1f07bb529910feaa9820ed", "459bb7093f6889ea5bc7e02b54e1577818dc0015"),
    }),
    "qornn/theory/runner.py": frozenset({
        ("c236b0954d3dead7ccbe87868a5a34fdcd4c75c9", "dbd11e4f316ef43b578f69cc1224b287d6cd3f4d"),
    }),
    "qornn/tasks/text.py": frozenset({
        ("6a953e542a15104fbc3eadef6d2ff7a006a8c371", "e4132222a8871b60920196b1fa39dbcde1178f4e"),
        # a stand-in path that is not a file is a DataError, the QQP message's wording (0d88847):
        # against addfac5, 38 smoke runs (HadamRNN on both text stand-ins among them), 0 different
        ("e4132222a8871b60920196b1fa39dbcde1178f4e", "25101bcb13fa505511070d7c1ebacd09996bab19"),
    }),
}

#: rewrites checked to give the same numbers, bit for bit, at one thread, for every run but those
#: whose trained model has the given settings (defaults filled in from the model's options): path ->
#: {(git blob id before, git blob id after): settings}. A run with the settings counts as made with
#: older code; any other counts as made with the version after, as for :data:`SAME_RESULTS` (the
#: two chain). Each pair is a check recorded by ``scripts/kernel_equivalence.py`` in which only cases
#: of the settings differ (its count by recurrence; ``tests/test_train.py`` holds them together).
SAME_RESULTS_UNLESS: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
    "qornn/csrc/hadamard_rnn.cpp": {
        # the float tanh on whole SIMD vectors (tanh_lanes; std::tanh before): against 1fc51f3, the
        # float32 tanh cases differ in the last bits, every linear, ReLU and float64 case is equal
        ("d3b2bb9de66396f6d82cac79cacd3e3ba0bb3c60", "fe74972168745d8e3cc12fa060e021dbc2ff2f14"):
            {"nonlinearity": "tanh"},
    },
}


@functools.lru_cache(maxsize=64)
def _model_defaults(name: object) -> dict[str, Any] | None:
    """The default of each option of the model ``name`` (read it, do not change it), None for a
    name that is no model."""
    from .models.options import model_options  # here: the models import this module

    try:
        return {key: option.default for key, option in model_options(name).items()}
    except (KeyError, ValueError, TypeError):
        return None


def model_settings(spec: Mapping) -> dict[str, Any]:
    """A run's model spec with every option its model leaves out at its default (:func:`_model_defaults`);
    a spec without a known model (a post-training quantization's) as it is."""
    return {**(_model_defaults(spec.get("model")) or {}), **spec}


def _unless_pairs(path: str, model: Mapping) -> frozenset[tuple[str, str]]:
    """The rewrites of ``path`` in :data:`SAME_RESULTS_UNLESS` that left the numbers of a run of
    ``model`` (its trained model's settings) unchanged: those whose settings it does not have."""
    rewrites = SAME_RESULTS_UNLESS.get(path, {})
    defaults = _model_defaults(model.get("model")) if rewrites else None
    if defaults is None:  # no such rewrite, or an unknown model: it may have any setting (the safe side)
        return frozenset()
    settings = {**defaults, **model}
    return frozenset(pair for pair, unless in rewrites.items()
                     if any(settings.get(key) != value for key, value in unless.items()))


def blob_id(text: str) -> str:
    """The git blob id of a file whose content is ``text`` (``git hash-object``)."""
    return _blob_id_of_bytes(text.encode())


def _blob_id_of_bytes(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def verified_same(path: str, old: str, new: str, also: frozenset[tuple[str, str]] = frozenset()) -> bool:
    """Whether ``path``'s content ``new`` behaves as ``old`` for every run: whether it is reached
    from ``old`` by steps that each keep a run's numbers, in any order: a rewrite of
    :data:`SAME_RESULTS` (and ``also``: those of :data:`SAME_RESULTS_UNLESS` that hold for the run at
    hand), or, for Python, a change in comments, docstrings or layout only, or plain functions added
    (:func:`_same_code`). So a check made from one commit covers the records of earlier commits
    whose code behaved the same, and a function added to a file before or after its declared
    rewrites does not flag the records made before them."""
    pairs = SAME_RESULTS.get(path, frozenset()) | also
    reached: dict[str, str | None] = {blob_id(old): old}  # blob id -> its text, if this repository has it
    # the same text or code first; a function added (a parse of each version) only when that stalls
    added_functions = False

    def reaches(text: str | None, blob: str) -> bool:
        return blob in reached or text is not None and any(
            _same_code(known, text, path, added_functions) for known in reached.values() if known is not None)

    while not reaches(new, blob_id(new)):
        step = {after: _git_blob(after) for before, after in pairs
                if after not in reached and reaches(_git_blob(before), before)}
        if step:
            reached.update(step)
        elif added_functions:
            return False
        else:
            added_functions = True
    return True


#: (git blob id before, git blob id after, registry_data) -> :func:`_only_new_functions`' answer: the
#: pages ask it for the same few dozen versions hundreds of times
_ADDED_FUNCTIONS: dict[tuple[str, str, bool], bool] = {}


def _same_code(before: str, after: str, path: str, added_functions: bool = True) -> bool:
    """Whether the source ``after`` of ``path`` runs as ``before`` did for the code that called it:
    the same text, or, for Python, the same code (:func:`code_fingerprint`) or, with
    ``added_functions``, ``before`` with plain functions added (:func:`_only_new_functions`). Code
    that does not parse is the same only as itself."""
    first, second = blob_id(before), blob_id(after)
    if first == second:
        return True
    if not path.endswith(".py"):
        return False
    data = path in REGISTRY_DATA
    try:
        if code_fingerprint(before, registry_data=data) == code_fingerprint(after, registry_data=data):
            return True
        key = (first, second, data)
        if added_functions and key not in _ADDED_FUNCTIONS:
            _ADDED_FUNCTIONS[key] = _only_new_functions(before, after, registry_data=data)
        return added_functions and _ADDED_FUNCTIONS[key]
    except SyntaxError:
        return False


@functools.lru_cache(maxsize=256)
def _git_blob(blob: str) -> str | None:
    """The content of the git blob ``blob`` in this repository, None if it has none such."""
    return _git_text(blob)


#: the models without a HadamardWeight (``tests/test_train.py`` builds every model of
#: :data:`qornn.models.MODELS` and checks that each is here or has one): for their runs the files of
#: :data:`HADAMARD_ONLY` do not count; an unknown model name keeps them (the safe side)
NO_HADAMARD_WEIGHT = frozenset({
    "ornn", "ornn-bjorck", "ornn-projunn", "ornn-polar", "ornn-cayley", "ornn-expm", "qornn-ste-bjorck",
    "qornn-lsq-bjorck", "qornn-ste-projunn", "qornn-penalty", "rnn", "lstm", "gru", "fastrnn", "fastgrnn",
    "transformer"})


#: the task package: each task module defines tasks and imports only the package's base module;
#: its other modules (``__init__``, ``base``) count for every task
TASK_PACKAGE = "qornn/tasks/"


def _is_task_module(path: str) -> bool:
    return path.startswith(TASK_PACKAGE) and path.endswith(".py") \
        and path.removeprefix(TASK_PACKAGE) not in ("__init__.py", "base.py")


def _task_module(task: str | None) -> str | None:
    """The file of the task package that defines ``task`` (``qornn/tasks/mnist.py`` for pmnist), or
    None for an unknown task (then every task module counts: the safe side)."""
    from .tasks import TASKS  # here: results is imported by the tasks' own dependencies

    if task not in TASKS:
        return None
    path = TASKS[task].__module__.replace(".", "/") + ".py"
    return path if _is_task_module(path) else None


def trained_model(run: Mapping) -> Mapping:
    """The model settings that trained ``run`` (a post-training quantization run's: its source's);
    empty if the record holds none. The peer check's runs (:mod:`qornn.peer`) name no model entry:
    a pMNIST run's configuration gives qornn's HadamRNN (Block-HadamRNN with a block) by its
    settings at the top level, and a check of a trained copy model names that model's run of the
    copy experiment, ``hadamrnn`` or ``block-hadamrnn``, which is its model's name."""
    config = run.get("config", {})
    model = (config.get("source") or config).get("model", {})
    if not model and config.get("experiment") == EXPERIMENT_ONLY["qornn/peer.py"]:
        source = config.get("source") or {}
        if "hidden_size" in config:
            model = {"model": "block-hadamrnn" if config.get("block") else "hadamrnn",
                     **{key: config[key] for key in ("hidden_size", "bits", "learn_signs", "block")
                        if key in config}}
        elif source.get("experiment") == "copy" and source.get("run") in ("hadamrnn", "block-hadamrnn"):
            model = {"model": source["run"]}
    return model if isinstance(model, Mapping) else {}


def _run_model(run: Mapping) -> str | None:
    """The model name that trained ``run`` (a post-training quantization run's: its source's)."""
    return trained_model(run).get("model")


def affecting_changes(paths: list[str], experiment: str | None = None) -> list[str]:
    """The changed paths that could change the numbers of a run of ``experiment``: all but
    PRESENTATION_ONLY, CONFIGURATION_ONLY, RUNTIME_ONLY and the experiments' paper modules
    (:func:`is_paper_module`); of the wings (:data:`INDEPENDENT_PACKAGES`, with their runner
    :data:`WING_RUNNER`) only the experiment's own (only the paths of its own wing, for an
    experiment of a wing); of :data:`EXPERIMENT_ONLY` only the experiment's own module."""
    own = next((pkg for pkg, prefix in INDEPENDENT_PACKAGES.items()
                if experiment is not None and experiment.startswith(prefix)), None)
    runner, its_wings = WING_RUNNER

    def counts(path: str) -> bool:
        if path == runner:
            return own in its_wings
        if path in EXPERIMENT_ONLY:
            return EXPERIMENT_ONLY[path] == experiment
        return next((pkg for pkg in INDEPENDENT_PACKAGES if path.startswith(pkg)), None) == own

    return [p for p in paths if p not in PRESENTATION_ONLY and p not in CONFIGURATION_ONLY
            and p not in RUNTIME_ONLY and not is_paper_module(p) and counts(p)]


#: The experiments registry: one module per paper holding its experiments as plain data, merged by
#: the package's ``__init__``, and the runner (qornn/experiments/runner.py), which is code.
REGISTRY_PACKAGE = "qornn/experiments"

#: modules whose top-level assignments and loops only build the registry of experiments and
#: profiles: what they define reaches a run only through its configuration, which the record keeps
#: whole and each page compares with the current definition (``report.freshness_notes``), so a
#: change there is flagged as a configuration that differs, on the runs it concerns and no others.
#: Their functions and classes (how a run is built, trained and recorded) still count in full.
#: ``qornn/experiments.py`` is the registry before it became a package (records made then name it).
REGISTRY_DATA = frozenset({"qornn/experiments.py", f"{REGISTRY_PACKAGE}/runner.py", "qornn/theory/runner.py"})

#: module -> the path its code had before it moved: the single module ``qornn/experiments.py`` was
#: split into the registry package, its functions and classes going to the runner and its data to
#: the paper modules. A record made before the move is compared across it (:func:`behaviour_changed`).
MOVED_FROM = {f"{REGISTRY_PACKAGE}/runner.py": "qornn/experiments.py"}


def is_paper_module(path: str) -> bool:
    """Whether ``path`` is one of the registry's paper modules (or the ``__init__`` that merges
    them): data as a whole, helper functions included, since all they produce is the experiments'
    definitions, which reach a run only through its recorded configuration. So adding or editing one
    paper's experiments never flags the records of another. The runner imports nothing from them
    (``tests/test_experiments.py`` checks it)."""
    folder, _, name = path.rpartition("/")
    return folder == REGISTRY_PACKAGE and name.endswith(".py") and path not in REGISTRY_DATA

_DATA_STATEMENTS = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)


#: (git blob id of a source, registry_data) -> its :func:`code_fingerprint`: a page asks for the same
#: few dozen files' fingerprints hundreds of times (every record against every declared rewrite), and
#: parsing and dumping a syntax tree is what made its provenance notes take tens of seconds
_FINGERPRINTS: dict[tuple[str, bool], str] = {}


def code_fingerprint(source: str, *, registry_data: bool = False) -> str:
    """A digest of the Python ``source``'s syntax tree with every docstring left out: two sources
    with the same fingerprint differ only in comments, docstrings, layout or line numbers, so they
    behave the same. With ``registry_data`` (a module of :data:`REGISTRY_DATA`), its top-level
    assignments and loops are left out too. Raises SyntaxError on code that does not parse."""
    key = (blob_id(source), registry_data)
    fingerprint = _FINGERPRINTS.get(key)
    if fingerprint is None:
        tree = ast.dump(_code_tree(source, registry_data=registry_data), include_attributes=False)
        fingerprint = _FINGERPRINTS[key] = hashlib.sha256(tree.encode()).hexdigest()
    return fingerprint


def _code_tree(source: str, *, registry_data: bool) -> ast.Module:
    """``source``'s syntax tree without docstrings (and registry data), see :func:`code_fingerprint`."""
    tree = ast.parse(source)
    if registry_data:
        tree.body = [node for node in tree.body if not isinstance(node, _DATA_STATEMENTS)]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _top_level_code(source: str, path: str) -> set[str]:
    """The top-level statements of a registry module's code (:func:`_code_tree` with its data left
    out), each dumped, with relative imports made absolute from ``path``, so that the same import
    reads the same in ``qornn/experiments.py`` and ``qornn/experiments/runner.py``."""
    package = path.removesuffix(".py").split("/")[:-1]
    statements = set()
    for node in _code_tree(source, registry_data=True).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            node = ast.ImportFrom(module=".".join([*base, *([node.module] if node.module else [])]),
                                  names=node.names, level=0)
        statements.add(ast.dump(node, include_attributes=False))
    return statements


def _moved_code_changed(old: str, old_path: str, new: str, path: str) -> bool:
    """Whether the code of ``path`` (``new``), moved there from ``old_path`` (``old``), may behave
    differently: unless each of its top-level imports, functions and classes is in the old module
    unchanged. What stayed behind went elsewhere (the registry's data, to the paper modules) or is
    no longer used: a function still in use is called from one that is here, which would differ."""
    try:
        return not _top_level_code(new, path) <= _top_level_code(old, old_path)
    except SyntaxError:
        return True


def _git_show(commit: str, path: str) -> str | None:
    """``path`` as it was at ``commit``, None if that commit has no such file."""
    return _git_text(f"{commit}:{path}")


@functools.lru_cache(maxsize=4096)
def behaviour_changed(commit: str, path: str, head: str,
                      also: frozenset[tuple[str, str]] = frozenset()) -> bool:
    """Whether ``path`` may behave differently at ``head`` than at ``commit`` (both commit ids,
    not names such as "HEAD": the answer is cached): always for a file added or removed; never when
    ``head``'s version is reached from ``commit``'s through rewrites checked to give the same
    numbers (:data:`SAME_RESULTS`, and ``also``) and, for Python, changes in comments, docstrings or
    layout only (in a module of :data:`REGISTRY_DATA`, in the registry's data too) or plain
    functions added, in any order (:func:`verified_same`); otherwise always. A module of
    :data:`MOVED_FROM` is compared with its earlier path when ``commit`` predates the move, and the
    earlier path itself then counts as unchanged."""
    old, new = _git_show(commit, path), _git_show(head, path)
    if new is None and path in MOVED_FROM.values():  # moved: checked at its new path
        return not any(_git_show(head, moved) is not None
                       for moved, before in MOVED_FROM.items() if before == path)
    if old is None and path in MOVED_FROM:  # a record made before the move
        before = _git_show(commit, MOVED_FROM[path])
        if before is not None and new is not None:
            return _moved_code_changed(before, MOVED_FROM[path], new, path)
    return old is None or new is None or not verified_same(path, old, new, also)


def _bound_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds in its module (defined, assigned, imported, looped)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return {name.id for name in ast.walk(node) if isinstance(name, ast.Name)
            and isinstance(name.ctx, ast.Store)}


def _only_new_functions(old: str, new: str, *, registry_data: bool) -> bool:
    """Whether ``new`` is ``old`` (as :func:`code_fingerprint` sees it) with plain functions added at
    the top level and nothing else changed: every old statement is still there, in its order, and
    every added one is a function without decorators under a name the old module never bound. Code
    that ran before cannot have called such a function, so the module behaves as before for it;
    whatever calls the new function was changed to do so, and is counted where it is."""
    old_statements, _, bound = _top_level(old, registry_data)
    new_statements, plain_functions, _ = _top_level(new, registry_data)
    remaining = iter(old_statements)
    expected = next(remaining, None)
    for statement, function in zip(new_statements, plain_functions, strict=True):
        if statement == expected:
            expected = next(remaining, None)
        elif function is None or function in bound:
            return False
    return expected is None


#: (git blob id of a source, registry_data) -> :func:`_top_level`'s answer: the staleness check asks
#: it of the same few dozen versions again and again, and parsing is its cost
_TOP_LEVEL: dict[tuple[str, bool], tuple[tuple[str, ...], tuple[str | None, ...], frozenset[str]]] = {}


def _top_level(source: str, registry_data: bool
               ) -> tuple[tuple[str, ...], tuple[str | None, ...], frozenset[str]]:
    """``source``'s top-level statements as :func:`_code_tree` gives them: each dumped, the name of
    each that is a plain function (no decorators; None for any other statement), and every name
    they bind (:func:`_bound_names`)."""
    key = (blob_id(source), registry_data)
    if key not in _TOP_LEVEL:
        body = _code_tree(source, registry_data=registry_data).body
        _TOP_LEVEL[key] = (
            tuple(ast.dump(node, include_attributes=False) for node in body),
            tuple(node.name if isinstance(node, ast.FunctionDef) and not node.decorator_list else None
                  for node in body),
            frozenset().union(*(_bound_names(node) for node in body)))
    return _TOP_LEVEL[key]


def head_commit() -> str | None:
    """HEAD's commit id, None outside a git checkout or where git cannot run. A caller that checks
    many records against HEAD (:func:`code_changed_since`) asks once and passes it on."""
    try:
        head = _git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None
    return (head.stdout.strip() or None) if head.returncode == 0 else None


@functools.lru_cache(maxsize=1024)
def _changed_files(commit: str, head: str, scope: tuple[str, ...]) -> tuple[str, ...]:
    """The files under ``scope`` that differ between two commits, given as ids (the answer is
    cached: most records of a page share a few commits). Raises LookupError when this checkout does
    not have ``commit`` (not cached: a fetch may bring it)."""
    diff = _git("diff", "--name-only", "--no-renames", commit, head, "--", *scope)
    if diff.returncode != 0:
        raise LookupError(commit)
    return tuple(diff.stdout.split())


def code_changed_since(run: dict, scope: tuple[str, ...] = ("qornn",), *,
                       head: str | None = None) -> str | None:
    """Why a recorded run may not reflect the package as it is now, or None if it does.

    ``scope``: the paths whose code the run's numbers depend on (default all of ``qornn/``; the
    experiments of a wing that imports nothing from the rest name only its own, see
    :func:`qornn.wings.record_notes`). ``head``: HEAD's commit id (:func:`head_commit`), if the caller
    has it already.

    A run is flagged when it was made from uncommitted code, or when ``qornn/`` changed between
    the run's commit and HEAD (its numbers might differ if it were rerun today), leaving out the
    modules that only present results (:data:`PRESENTATION_ONLY`), the wings that are not the
    run's own (:data:`INDEPENDENT_PACKAGES`), changes to comments and docstrings only, and changes
    to the experiments' definitions as data (:data:`REGISTRY_DATA`, :func:`is_paper_module`: those
    are checked run by run against the recorded configuration), see :func:`behaviour_changed`.
    """
    prov = run["provenance"]
    commit = prov.get("commit")
    if not commit:
        return "made outside a git checkout: the code version is unknown"
    if prov.get("dirty"):
        return f"made from uncommitted changes on top of {commit[:8]}"
    # HEAD as a commit, not the name: behaviour_changed caches its answers, and a long-lived
    # process (a notebook kernel) must not reuse them once HEAD has moved
    if head is None:
        head = head_commit()
    if not head:
        return None
    try:
        changed_files = _changed_files(commit, head, tuple(scope))
    except (OSError, subprocess.SubprocessError):
        return None
    except LookupError:
        return f"made at commit {commit[:8]}, which this checkout does not have"
    experiment = run.get("config", {}).get("experiment")
    paths = affecting_changes(list(changed_files), experiment)
    if _run_model(run) in NO_HADAMARD_WEIGHT:
        paths = [p for p in paths if p not in HADAMARD_ONLY]
    own_task = _task_module(run.get("config", {}).get("task"))
    if own_task is not None:  # another task's module cannot change this run's numbers
        paths = [p for p in paths if not _is_task_module(p) or p == own_task]
    model = trained_model(run)
    changed = [p for p in paths if behaviour_changed(commit, p, head, _unless_pairs(p, model))]
    if changed:
        which = ", ".join(changed) if len(changed) <= 3 else f"{len(changed)} files"
        return f"made at commit {commit[:8]}; qornn/ has changed since ({which})"
    # the earlier starts of a run trained in several (resumed from its checkpoint), and for a
    # post-training quantization the training of the weights it quantizes: that code counts too
    for key, what in (("segments", "trained in part"), ("source_training", "quantizes weights trained")):
        for seg in prov.get(key, []):
            if seg.get("dirty") and seg.get("commit"):
                return (f"{what} (steps {seg.get('from_step')}–{seg.get('to_step')}) from uncommitted "
                        f"changes on top of {seg['commit'][:8]}")
        for earlier in dict.fromkeys(seg["commit"] for seg in prov.get(key, []) if seg.get("commit")):
            if earlier == commit:
                continue
            why = code_changed_since({**run, "provenance": {"commit": earlier, "dirty": False}}, scope,
                                     head=head)
            if why:
                return f"{what} at commit {earlier[:8]}: " + why.split("; ", 1)[-1]
    return None
