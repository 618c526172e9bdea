#!/usr/bin/env python3
"""Execute the book's notebooks with papermill into ``book/<paper>/<name>.ipynb``.

    python scripts/run_notebooks.py                              # every notebook, its own defaults
    python scripts/run_notebooks.py notebooks/hadamrnn/copy_task.py --profile smoke
    python scripts/run_notebooks.py --profile cpu -p retrain=True -p seed=1

Notebooks are jupytext percent ``.py`` files under ``notebooks/<paper>/``. Each is read with
jupytext and run by papermill in its own folder; ``--profile`` and ``-p key=value`` (or papermill's
``-p key value``) override the
values of its ``parameters`` cell (papermill injects a cell after it, which is hidden from the
book). With no override a notebook runs with its defaults, which render the committed records
without training, and never train: a page whose record is missing (``RecordMissing``) is written
as a stub that says "not recorded yet" and gives the command that records it, so that the book
builds anyway; ``-p retrain=True`` trains. The output is written atomically: a failed run leaves the
previous output in place and keeps the partial one as ``<name>.failed.ipynb`` for inspection.

Parameters are checked before any notebook runs: a name that no selected notebook declares in its
``parameters`` cell, or a value of another type than the cell's default (``retrain`` a bool,
``seed`` an int in [0, 2**32), ``profile`` one of the profiles, ``overrides`` what
:func:`qornn.overrides.parse_overrides` reads), is a one-line error with exit code 2; each notebook
receives the parameters its cell declares. The output folder (and, with ``retrain``, the results
and runs folders) must be writable. Ctrl-C stops with exit code 130.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: where the book finds the executed notebooks (git-ignored): pages at book/<paper>/<name>.html
EXECUTED = ROOT / "book"


class ParameterError(ValueError):
    """A notebook parameter that no notebook declares, or a value of the wrong type."""


def parse_value(text: str):
    """'3' -> 3, '1e-3' -> 0.001, 'true' -> True, 'cpu' -> 'cpu': the scalar that ``qornn run --set``
    reads (:func:`qornn.overrides.parse_scalar`); a list or mapping stays text (the JSON text of the
    ``overrides`` parameter)."""
    from qornn.overrides import parse_scalar

    try:
        return parse_scalar(text)
    except ValueError:
        return text


def papermill_pairs(argv: list[str]) -> list[str]:
    """``argv`` with papermill's form of a parameter, ``-p NAME VALUE`` (which the pages' "not
    recorded yet" notes give, for papermill itself), joined into this runner's ``-p NAME=VALUE``:
    a NAME without "=" is an error otherwise, so nothing else reads differently."""
    out, i = [], 0
    while i < len(argv):
        joined = (argv[i] in ("-p", "--parameter") and i + 2 < len(argv) and argv[i + 1].isidentifier()
                  and not re.fullmatch(r"-[A-Za-z-].*", argv[i + 2]))  # a value, not the next option
        out += [argv[i], f"{argv[i + 1]}={argv[i + 2]}"] if joined else [argv[i]]
        i += 3 if joined else 1
    return out


def parse_parameters(pairs: list[str], profile: str | None) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ParameterError(f"-p expects key=value, got {pair!r}")
        params[key.strip()] = parse_value(value.strip())
    if profile is not None:
        params["profile"] = profile
    return params


def notebook_parameters(notebook: Path) -> dict[str, Any]:
    """The names and default values assigned in ``notebook``'s cell tagged ``parameters``
    (a default that is not a literal is ``...``: any value of any type is accepted for it)."""
    import jupytext

    for cell in jupytext.read(notebook).cells:
        if cell.cell_type != "code" or "parameters" not in cell.metadata.get("tags", []):
            continue
        defaults: dict[str, Any] = {}
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        try:
                            defaults[target.id] = ast.literal_eval(node.value)
                        except ValueError:
                            defaults[target.id] = ...
        return defaults
    return {}


def _check_value(name: str, value: Any, default: Any, notebook: str) -> None:
    """Raise ParameterError unless ``value`` fits the parameter ``name`` of default ``default``."""
    def bad(expected: str) -> ParameterError:
        return ParameterError(f"parameter {name}={value!r} ({type(value).__name__}): {notebook} "
                              f"expects {expected}")

    if name == "retrain" and not isinstance(value, bool):
        raise bad("True or False")
    if name == "seed" and (isinstance(value, bool) or not isinstance(value, int)
                           or not 0 <= value < 2**32):
        raise bad("an int in [0, 2**32)")
    if name == "profile" and value is not None:
        from qornn.experiments import PROFILES

        if value not in PROFILES:
            raise bad(f"one of {', '.join(PROFILES)}")
    if name == "device":
        if not isinstance(value, str):
            raise bad("a device name such as 'cpu' or 'cuda:0'")
        from qornn.train import check_device

        check_device(value)  # a device this machine lacks fails here, not in the kernel
    if name == "overrides":  # a dict, its JSON / YAML text or KEY=VALUE strings, checked for syntax
        from qornn.overrides import parse_overrides

        if not isinstance(value, (str, dict, list)):
            raise bad("a dict of settings or its JSON text, e.g. '{\"hidden_size\": 32}'")
        try:
            parse_overrides(value)
        except ValueError as err:
            raise ParameterError(f"parameter overrides={value!r}: {notebook}: {err}") from None
        return
    if default is None or default is ...:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise bad(f"a {type(default).__name__} like its default {default!r}")


def _check_overrides(notebook: Path, label: str, profile: Any, overrides: Any) -> None:
    """The keys and values of ``overrides`` against each experiment the notebook names in a
    ``get_config("...")`` call, so that a misspelt setting stops the runner before a kernel starts;
    a notebook that names its experiments otherwise has them checked when it runs."""
    from qornn.experiments import get_config

    for experiment in sorted(set(re.findall(r'get_config\("([\w-]+)"', notebook.read_text()))):
        try:
            get_config(experiment, profile, overrides)
        except (KeyError, ValueError) as err:
            raise ParameterError(f"parameter overrides={overrides!r}: {label}: {err}") from None


def check_parameters(notebooks: list[Path], params: dict) -> dict[Path, dict]:
    """Each notebook's parameters: those of ``params`` its ``parameters`` cell declares. Raises
    ParameterError on a name no notebook declares or a value of the wrong type, before anything
    runs."""
    declared = {notebook: notebook_parameters(notebook) for notebook in notebooks}
    known = sorted({name for names in declared.values() for name in names})
    for name in params:
        if not any(name in names for names in declared.values()):
            raise ParameterError(f"unknown parameter {name!r}; the notebooks' parameters are: "
                                 f"{', '.join(known) or 'none'}")
    for notebook, names in declared.items():
        label = str(notebook.relative_to(NOTEBOOKS) if notebook.is_relative_to(NOTEBOOKS) else notebook)
        for name, value in params.items():
            if name in names:
                _check_value(name, value, names[name], label)
        if params.get("overrides") and "overrides" in names:
            profile = params.get("profile", names.get("profile"))
            _check_overrides(notebook, label, profile, params["overrides"])
    return {notebook: {k: v for k, v in params.items() if k in names}
            for notebook, names in declared.items()}


def find_notebooks(paths: list[str]) -> list[Path]:
    if not paths:
        found = sorted(p for p in NOTEBOOKS.rglob("*.py") if ".ipynb_checkpoints" not in p.parts)
        if not found:
            raise SystemExit(f"run_notebooks: no notebooks under {NOTEBOOKS}")
        return found
    out = []
    for p in paths:
        path = Path(p).resolve()
        if not path.is_file():
            raise SystemExit(f"run_notebooks: no such notebook: {p}")
        out.append(path)
    return out


def output_path(notebook: Path, out_dir: Path) -> Path:
    """``notebooks/<paper>/<name>.py`` -> ``<out_dir>/<paper>/<name>.ipynb``."""
    try:
        rel = notebook.relative_to(NOTEBOOKS)
    except ValueError:
        rel = Path(notebook.parent.name) / notebook.name
    return out_dir / rel.with_suffix(".ipynb")


def hide_injected(path: Path) -> None:
    """Tag papermill's injected-parameters cells ``remove-cell`` so the book does not show them."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


def _atomic_write_notebook(nb, out: Path) -> None:
    import nbformat

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".ipynb")
    os.close(fd)
    try:
        nbformat.write(nb, tmp_name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, out)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def write_missing_page(notebook: Path, out: Path, message: str) -> None:
    """The page of a notebook whose record is missing: its first markdown cell (title and
    introduction) and a note that says what is not recorded yet and the command that records it."""
    import jupytext
    import nbformat

    source = jupytext.read(notebook)
    first = next((c for c in source.cells if c.cell_type == "markdown"), None)
    cells = [nbformat.v4.new_markdown_cell(first.source)] if first is not None else []
    cells.append(nbformat.v4.new_markdown_cell(
        "```{warning}\nThis page's results are **" + message.replace("\n", " ") + "**.\n```\n\n"
        "The book never trains while it is built; once the record exists, this page shows it."))
    nb = nbformat.v4.new_notebook(cells=cells, metadata=source.metadata)
    _atomic_write_notebook(nb, out)


def _record_missing(err: BaseException) -> str | None:
    """The message of a papermill error raised by ``qornn.results.RecordMissing``, else None."""
    return str(getattr(err, "evalue", "")) if getattr(err, "ename", None) == "RecordMissing" else None


def stderr_shown(executed: Path) -> list[str]:
    """The first line of each stderr output of the executed notebook ``executed``: on a page that
    trains nothing, a warning the reader would see."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    texts = [(o.get("text") or "").strip() for cell in nb.cells for o in cell.get("outputs", [])
             if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    return [text.splitlines()[0] for text in texts if text]


def execute(notebook: Path, out: Path, params: dict, *, progress: bool = False,
            timeout: int | None = None) -> str | None:
    """Run ``notebook`` into ``out``. Returns None, or the "not recorded yet" message of a page
    whose record is missing (written as :func:`write_missing_page`)."""
    import jupytext
    import papermill as pm

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".ipynb")
    os.close(fd)
    tmp = Path(tmp_name)
    # The kernel inherits this environment. MPLBACKEND=Agg (common in CI) would make plt.show()
    # draw nothing and the figures would vanish from the book: use the kernel's inline backend.
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        nb = jupytext.read(notebook)
        pm.execute_notebook(nb, str(tmp), parameters=params, kernel_name="python3", language="python",
                            cwd=str(notebook.parent), progress_bar=progress, execution_timeout=timeout)
        hide_injected(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private
        os.replace(tmp, out)
    except BaseException as err:
        missing = _record_missing(err)
        if missing is not None:
            tmp.unlink(missing_ok=True)
            write_missing_page(notebook, out, missing)
            return missing
        if tmp.exists() and tmp.stat().st_size:
            os.replace(tmp, out.with_suffix(".failed.ipynb"))
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the notebooks; every error before or between them is one line on stderr."""
    try:
        return _main(argv)
    except (ParameterError, ValueError) as err:
        print(f"run_notebooks: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"run_notebooks: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("run_notebooks: interrupted; the outputs already written are kept, the interrupted "
              "one is left as <name>.failed.ipynb", file=sys.stderr)
        return 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"run_notebooks: error: {message} (see --help)\n")


def _main(argv: list[str] | None) -> int:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebook .py files (default: all under notebooks/)")
    parser.add_argument("--profile", default=None,
                        help="override the notebooks' profile (smoke, cpu, paper); default: their own")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter, e.g. -p seed=1 -p retrain=True (repeatable; papermill's "
                             "-p retrain True is read as retrain=True)")
    parser.add_argument("--output-dir", default=str(EXECUTED),
                        help="default: book/ (book/<paper>/<name>.ipynb)")
    parser.add_argument("--progress", action="store_true", help="papermill's per-cell progress bar")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: none)")
    args = parser.parse_args(papermill_pairs(sys.argv[1:] if argv is None else list(argv)))
    params = parse_parameters(args.parameter, args.profile)
    notebooks = find_notebooks(args.notebooks)
    per_notebook = check_parameters(notebooks, params)
    out_dir = Path(args.output_dir).resolve()
    from qornn import results

    results.check_writable(out_dir)
    if params.get("retrain"):
        results.check_writable(results.results_dir(), results.runs_dir(),
                               results.runs_dir(params.get("profile")))
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "the notebooks' defaults"
    print(f"run_notebooks: {len(notebooks)} notebook(s) with {shown}", flush=True)
    failed, missing = [], []
    for i, notebook in enumerate(notebooks, 1):
        out = output_path(notebook, out_dir)
        label = notebook.relative_to(ROOT) if notebook.is_relative_to(ROOT) else notebook
        shown_out = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
        print(f"[{i}/{len(notebooks)}] {label} -> {shown_out}", flush=True)
        start = time.perf_counter()
        try:
            not_recorded = execute(notebook, out, per_notebook[notebook], progress=args.progress,
                                   timeout=args.timeout)
        except Exception as err:  # report every notebook, then fail
            print(f"    FAILED after {time.perf_counter() - start:.1f} s: {type(err).__name__}: {err}",
                  file=sys.stderr, flush=True)
            failed.append(str(label))
            continue
        if not_recorded:
            print(f"    WARNING: {not_recorded} (the page says so)", file=sys.stderr, flush=True)
            missing.append(str(label))
        elif not per_notebook[notebook].get("retrain"):  # training prints its progress there
            for line in stderr_shown(out):
                print(f"    WARNING: the page shows on stderr: {line[:200]}", file=sys.stderr, flush=True)
        print(f"    done in {time.perf_counter() - start:.1f} s", flush=True)
    if missing:
        print(f"run_notebooks: {len(missing)} page(s) not recorded yet, built as stubs: {', '.join(missing)}",
              file=sys.stderr)
    if failed:
        print(f"run_notebooks: {len(failed)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
