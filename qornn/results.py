"""Results records: numbers with their provenance, written atomically, loaded with a schema check.

A record lives at ``data/results/<experiment>/<profile>.json`` and holds one entry per model run:

    {"schema": 1, "experiment": "copy", "profile": "cpu",
     "runs": {"hadamrnn": {"config": {...}, "config_hash": "...", "history": [...],
                           "test": {...}, "size_bits": ..., "provenance": {...}}}}

``provenance`` says how the numbers were made: git commit (and whether the tree was dirty),
profile, seed, device, versions, wall time and date. A run whose config differs from the one
already recorded never overwrites it silently: the old record is first copied to
``data/results/<experiment>/history/``.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import fcntl
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
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
    "config_hash",
    "git_commit",
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


def runs_dir() -> Path:
    """Checkpoints of runs in progress (git-ignored; override with QORNN_RUNS_DIR)."""
    return Path(os.environ.get("QORNN_RUNS_DIR", _root() / "runs"))


def record_path(experiment: str, profile: str, variant: str = "") -> Path:
    """``data/results/<experiment>/<profile>.json``; a variant of the profile (a run with overrides,
    :mod:`qornn.overrides`) has its own, ``<experiment>/variants/<profile>/<variant>.json``."""
    if variant:
        if "/" in variant or variant.startswith("."):
            raise ValueError(f"bad variant name {variant!r}")
        return results_dir() / experiment / "variants" / profile / f"{variant}.json"
    return results_dir() / experiment / f"{profile}.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def atomic_torch_save(obj: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _git(*args: str) -> subprocess.CompletedProcess:
    """``git ARGS`` in the repository; raises OSError or SubprocessError when git cannot run."""
    return subprocess.run(["git", *args], cwd=_REPO_ROOT, capture_output=True, text=True, timeout=10)


def git_commit() -> dict[str, Any]:
    """The commit of the code that ran, and whether the working tree differed from it."""
    try:
        commit = _git("rev-parse", "HEAD").stdout.strip() or None
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", "qornn").stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores, "\
           f"{torch.get_num_threads()} torch threads)"


def provenance(*, profile: str, seed: int, device: str, wall_time_s: float,
               code: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """How a run was made. ``code`` is :func:`git_commit` taken when the run *started* (the code
    that ran), which is what a long run must record; it defaults to the commit now. ``overrides``:
    the settings changed from the profile (a variant, :mod:`qornn.overrides`), kept when given."""
    return {
        **({"overrides": dict(overrides)} if overrides else {}),
        **(code if code is not None else git_commit()),
        "profile": profile,
        "seed": seed,
        "device": device,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wall_time_s": round(wall_time_s, 2),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


_RUN_KEYS = {"config", "config_hash", "history", "test", "size_bits", "provenance"}


def _check_record(record: Any, path: Path) -> dict:
    if not isinstance(record, dict) or record.get("schema") != SCHEMA_VERSION:
        raise RecordError(f"{path}: not a qornn results record of schema {SCHEMA_VERSION}")
    for key in ("experiment", "profile", "runs"):
        if key not in record:
            raise RecordError(f"{path}: record lacks the field {key!r}")
    for name, run in record["runs"].items():
        missing = _RUN_KEYS - set(run)
        if missing:
            raise RecordError(f"{path}: run {name!r} lacks {', '.join(sorted(missing))}")
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
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RecordError(f"{path}: not valid JSON ({err})") from None
    return _check_record(record, path)


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock beside ``path``: runs of one record in parallel processes don't race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save_run(experiment: str, profile: str, model: str, run: dict, *, variant: str = "",
             overrides: dict[str, Any] | None = None) -> Path:
    """Add or replace one model's run in the record, keeping the previous record if it differed.
    A ``variant``'s record (its ``overrides`` stored in it) is apart from the profile's."""
    missing = _RUN_KEYS - set(run)
    if missing:
        raise RecordError(f"run for {model!r} lacks {', '.join(sorted(missing))}")
    path = record_path(experiment, profile, variant)
    with _locked(path):
        return _save_run_locked(path, experiment, profile, model, run, variant, overrides)


def update_run(experiment: str, profile: str, model: str, fields: dict, *, variant: str = "") -> Path:
    """Add ``fields`` (e.g. an ``analysis``) to one recorded run, under the record's lock."""
    path = record_path(experiment, profile, variant)
    with _locked(path):
        record = load_record(experiment, profile, variant=variant)
        if model not in record["runs"]:
            raise RecordError(f"{path}: no run {model!r} to update")
        record["runs"][model].update(fields)
        atomic_write_json(path, record)
    return path


def _save_run_locked(path: Path, experiment: str, profile: str, model: str, run: dict, variant: str,
                     overrides: dict[str, Any] | None) -> Path:
    record = load_record(experiment, profile, missing_ok=True, variant=variant) or {
        "schema": SCHEMA_VERSION, "experiment": experiment, "profile": profile, "runs": {},
        **({"variant": variant, "overrides": dict(overrides or {})} if variant else {})}
    old = record["runs"].get(model)
    if old is not None and old["config_hash"] != run["config_hash"]:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        atomic_write_json(path.parent / "history" / f"{path.stem}-{stamp}.json", record)
    record["runs"][model] = run
    atomic_write_json(path, record)
    return path


#: modules of ``qornn/`` that only store, read or present records, or move files, so cannot change
#: a run's numbers (this one included: a change to how a configuration is hashed shows up as a
#: configuration that differs from the profile, which is flagged on its own)
PRESENTATION_ONLY = frozenset({"qornn/report.py", "qornn/benchmark_report.py", "qornn/cli_fetch.py",
                               "qornn/export.py", "qornn/results.py", "qornn/sparse/report.py",
                               "qornn/overestimate/report.py"})

#: modules that only describe, transform or pass on configurations (overrides, the models' option
#: list, the command line): what they do reaches a run only through its configuration and
#: provenance (seed, device), which the record keeps whole and each page compares with the current
#: definition
CONFIGURATION_ONLY = frozenset({"qornn/overrides.py", "qornn/models/options.py", "qornn/cli.py"})


def affecting_changes(paths: list[str]) -> list[str]:
    """The changed paths that could change a recorded run's numbers: all but PRESENTATION_ONLY,
    CONFIGURATION_ONLY and the experiments' paper modules (:func:`is_paper_module`)."""
    return [p for p in paths if p not in PRESENTATION_ONLY and p not in CONFIGURATION_ONLY
            and not is_paper_module(p)]


#: The experiments registry: one module per paper holding its experiments as plain data, merged by
#: the package's ``__init__``, and the runner (qornn/experiments/runner.py), which is code.
REGISTRY_PACKAGE = "qornn/experiments"

#: modules whose top-level assignments and loops only build the registry of experiments and
#: profiles: what they define reaches a run only through its configuration, which the record keeps
#: whole and each page compares with the current definition (``report.freshness_notes``), so a
#: change there is flagged as a configuration that differs, on the runs it concerns and no others.
#: Their functions and classes (how a run is built, trained and recorded) still count in full.
#: ``qornn/experiments.py`` is the registry before it became a package (records made then name it).
REGISTRY_DATA = frozenset({"qornn/experiments.py", f"{REGISTRY_PACKAGE}/runner.py"})

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


def code_fingerprint(source: str, *, registry_data: bool = False) -> str:
    """The Python ``source`` as its syntax tree with every docstring left out: two sources with
    the same fingerprint differ only in comments, docstrings, layout or line numbers, so they
    behave the same. With ``registry_data`` (a module of :data:`REGISTRY_DATA`), its top-level
    assignments and loops are left out too. Raises SyntaxError on code that does not parse."""
    return ast.dump(_code_tree(source, registry_data=registry_data), include_attributes=False)


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
    try:
        out = _git("show", f"{commit}:{path}")
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@functools.lru_cache(maxsize=4096)
def behaviour_changed(commit: str, path: str, head: str) -> bool:
    """Whether ``path`` may behave differently at ``head`` than at ``commit`` (both commit ids,
    not names such as "HEAD": the answer is cached): always for a file
    added, removed, not Python, or not parsed; for Python, unless only comments, docstrings or
    layout changed, or, in a module of :data:`REGISTRY_DATA`, the registry's data
    (:func:`code_fingerprint`). A module of :data:`MOVED_FROM` is compared with its earlier path
    when ``commit`` predates the move, and the earlier path itself then counts as unchanged."""
    old, new = _git_show(commit, path), _git_show(head, path)
    if new is None and path in MOVED_FROM.values():  # moved: checked at its new path
        return not any(_git_show(head, moved) is not None
                       for moved, before in MOVED_FROM.items() if before == path)
    if old is None and path in MOVED_FROM:  # a record made before the move
        before = _git_show(commit, MOVED_FROM[path])
        if before is not None and new is not None:
            return _moved_code_changed(before, MOVED_FROM[path], new, path)
    if old is None or new is None or not path.endswith(".py"):
        return True
    data = path in REGISTRY_DATA
    try:
        return code_fingerprint(old, registry_data=data) != code_fingerprint(new, registry_data=data)
    except SyntaxError:
        return True


def code_changed_since(run: dict, scope: tuple[str, ...] = ("qornn",)) -> str | None:
    """Why a recorded run may not reflect the package as it is now, or None if it does.

    ``scope``: the paths whose code the run's numbers depend on (default all of ``qornn/``; the
    experiments of a wing that imports nothing from the rest name only its own, see
    :func:`qornn.wings.record_notes`).

    A run is flagged when it was made from uncommitted code, or when ``qornn/`` changed between
    the run's commit and HEAD (its numbers might differ if it were rerun today), leaving out the
    modules that only present results (:data:`PRESENTATION_ONLY`), changes to comments and
    docstrings only, and changes to the experiments' definitions as data (:data:`REGISTRY_DATA`,
    :func:`is_paper_module`: those are checked run by run against the recorded configuration), see
    :func:`behaviour_changed`.
    """
    prov = run["provenance"]
    commit = prov.get("commit")
    if not commit:
        return "made outside a git checkout: the code version is unknown"
    if prov.get("dirty"):
        return f"made from uncommitted changes on top of {commit[:8]}"
    # HEAD as a commit, not the name: behaviour_changed caches its answers, and a long-lived
    # process (a notebook kernel) must not reuse them once HEAD has moved
    try:
        head = _git("rev-parse", "HEAD").stdout.strip()
        if not head:
            return None
        diff = _git("diff", "--name-only", "--no-renames", commit, head, "--", *scope)
    except (OSError, subprocess.SubprocessError):
        return None
    if diff.returncode != 0:
        return f"made at commit {commit[:8]}, which this checkout does not have"
    changed = [p for p in affecting_changes(diff.stdout.split()) if behaviour_changed(commit, p, head)]
    if changed:
        which = ", ".join(changed) if len(changed) <= 3 else f"{len(changed)} files"
        return f"made at commit {commit[:8]}; qornn/ has changed since ({which})"
    return None
