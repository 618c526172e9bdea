"""The book builds with -W -n (warnings are errors) and has the copy-task page.

The book's sources (_config.yml, _toc.yml, book/, _static/) are copied to a temporary folder (with
links to qornn/, data/ and notebooks/, which pages may include), the
notebook is executed there on the smoke profile, and the book is built there: the test touches
neither the repository's _build/ nor its data/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _notebook_helpers import (
    ROOT,
    load_runner,
    write_mnist_idx,
    write_polarity_reviews,
    write_ptb_text,
    write_rt_snippets,
)

pytestmark = pytest.mark.slow


def _jupyter_book() -> str:
    exe = Path(sys.executable).parent / "jupyter-book"
    return str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book")


def test_book_builds_strict(tmp_path, monkeypatch):
    book = tmp_path / "book_src"
    book.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, book / name)
    for name in ("book", "_static"):
        shutil.copytree(ROOT / name, book / name)
    for name in ("qornn", "data", "notebooks"):  # pages may include source files (read only)
        (book / name).symlink_to(ROOT / name, target_is_directory=True)
    # Every notebook of the book, as `make notebooks` runs them but on the smoke profile (training
    # in seconds); MNIST, PTB and text pages read tiny fixtures instead of the fetched files.
    monkeypatch.setenv("QORNN_MNIST", str(write_mnist_idx(tmp_path / "mnist")))
    monkeypatch.setenv("QORNN_PTB", str(write_ptb_text(tmp_path / "ptb")))
    monkeypatch.setenv("QORNN_POLARITY_REVIEWS", str(write_polarity_reviews(tmp_path / "reviews.csv")))
    monkeypatch.setenv("QORNN_RT_SNIPPETS", str(write_rt_snippets(tmp_path / "snippets.csv.bz2")))
    # One torch thread per kernel: with another process on the machine, two threads spinning over
    # the small ops of a long time loop slow a notebook down by orders of magnitude.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    runner = load_runner()
    # Pages that train their experiment first, so that the summary pages (no `retrain`) read the
    # records they made instead of training every experiment again in one cell.
    notebooks = sorted(runner.find_notebooks([]), key=lambda nb: "\nretrain = " not in nb.read_text())
    for notebook in notebooks:
        text = notebook.read_text()
        params = {"profile": "smoke"} if "profile = " in text else {}
        if "\nretrain = " in text:  # pages that own an experiment train it afresh; the others read it
            params["retrain"] = True
        runner.execute(notebook, runner.output_path(notebook, book / "book"), params,
                       timeout=600)

    proc = subprocess.run([_jupyter_book(), "build", str(book), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "build succeeded" in proc.stdout
    # an empty note must show nothing (report.show_markdown), not the repr of an empty Markdown object
    reprs = [str(page.relative_to(book)) for page in (book / "_build" / "html").rglob("*.html")
             if "IPython.core.display." in page.read_text()]
    assert not reprs, reprs
    page = book / "_build" / "html" / "book" / "hadamrnn" / "copy_task.html"
    assert page.exists()
    html = page.read_text()
    assert "<img" in html and "paper value" in html and "memoryless" in html
    assert "tex-svg.js" in html  # the vendored MathJax, not a CDN
    # Markdown a cell prints is read with tables (report.run_summary's models): a table, not pipes
    assert "<th class=\"head\"><p>hidden_size</p></th>" in html and "| run | model |" not in html
    pmnist = (book / "_build" / "html" / "book" / "hadamrnn" / "pmnist.html").read_text()
    assert "<img" in pmnist and "paper value" in pmnist and "accuracy" in pmnist
    for page in ("introduction", "copy_task", "mnist", "ptb", "bit_widths", "orthogonality", "activations"):
        html = (book / "_build" / "html" / "book" / "qornn" / f"{page}.html").read_text()
        assert "<img" in html or page == "introduction", page
    intro = (book / "_build" / "html" / "book" / "qornn" / "introduction.html").read_text()
    assert "paper value" in intro and "uniform_quantize" in intro and "projunn_step" in intro
    for page in ("introduction", "smnist", "text", "size_accuracy", "ablations", "training", "signs"):
        html = (book / "_build" / "html" / "book" / "hadamrnn" / f"{page}.html").read_text()
        assert "<img" in html or page == "introduction", page
    executed = book / "_build" / "html" / "book"
    # the peer check renders a committed record only: in the test's empty data folder it says how to
    # make one
    assert "No record of the peer check" in (executed / "hadamrnn" / "peer_check.html").read_text()
    hadamrnn = (executed / "hadamrnn" / "introduction.html").read_text()
    assert "paper value" in hadamrnn and "sylvester_hadamard" in hadamrnn and "HadamardWeight" in hadamrnn
    for page in ("landscape", "saddle_escape", "local_identifiability", "parameter_identifiability",
                 "approximation"):
        assert "<img" in (executed / "theory" / f"{page}.html").read_text(), page
    # $math$ in Markdown that a cell prints is typeset as the pages' own text is, not left as dollars
    # (the cell's code, shown folded, keeps them)
    landscape = (executed / "theory" / "landscape.html").read_text()
    assert 'Same product <span class="math' in landscape and "<p>Same product $" not in landscape
    for doc in ("book/theory/intro_landscape", "book/theory/intro_local_identifiability",
                "book/theory/intro_parameter_identifiability", "book/theory/intro_approximation",
                "book/intro", "book/rerun", "book/adapt", "book/data", "book/models"):
        assert (book / "_build" / "html" / f"{doc}.html").exists(), doc
