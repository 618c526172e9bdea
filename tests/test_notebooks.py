"""End to end: the copy-task notebook trains the smoke profile and shows a figure and the table.

QORNN_DATA_DIR / QORNN_RUNS_DIR point at tmp_path (tests/conftest.py), and the kernel inherits
them, so the notebook never writes into the repository's data/ or runs/.
"""

from __future__ import annotations

import json
from html import unescape

import nbformat
import pytest
from _notebook_helpers import COPY_NOTEBOOK, PMNIST_NOTEBOOK, ROOT, load_runner, write_mnist_idx
from _notebook_helpers import outputs as _outputs

from qornn.experiments import get_config
from qornn.report import load_paper_numbers

pytestmark = pytest.mark.slow


def test_copy_notebook_smoke(tmp_path):
    runner = load_runner()
    repo_record = ROOT / "data" / "results" / "copy" / "smoke.json"
    existed = repo_record.exists()
    out = tmp_path / "executed" / "hadamrnn" / "copy_task.ipynb"
    runner.execute(COPY_NOTEBOOK, out, {"profile": "smoke", "retrain": True}, timeout=600)

    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    assert 'profile = "smoke"' in injected[0].source
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert _outputs(nb, "image/png"), "the loss-curve figure is missing"
    html = "\n".join(_outputs(nb, "text/html"))
    for column in ("budget", "paper value", "ours", "record"):
        assert column in html
    assert "hadamrnn" in html and "ornn" in html
    assert "not available" in html or "published" in html
    markdown = "\n".join(_outputs(nb, "text/markdown"))
    # a gap needs a paper number: where none could be read, the column is left out and named
    left_out = next((line for line in markdown.splitlines() if line.startswith("Left out, empty")), "")
    assert ">gap<" in html or "gap" in left_out
    assert "Profile `smoke`" in markdown and "trained by this run" in markdown

    record = json.loads((tmp_path / "data" / "results" / "copy" / "smoke.json").read_text())
    assert set(record["runs"]) == set(get_config("copy", "smoke").models)
    assert repo_record.exists() == existed, "the notebook wrote into the repository's data/"

    # With retrain False and the record present, it renders without training.
    again = tmp_path / "again.ipynb"
    runner.execute(COPY_NOTEBOOK, again, {"profile": "smoke"}, timeout=600)
    markdown = "\n".join(_outputs(nbformat.read(again, as_version=4), "text/markdown"))
    assert "rendered from the committed record" in markdown
    # no stray warning on the page (run_notebooks names any it finds; a made-up one here)
    assert not runner.stderr_shown(out) and not runner.stderr_shown(again)
    warned = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="SomeWarning: read me\nmore\n"),
        nbformat.v4.new_output("stream", name="stdout", text="fine\n")])])
    nbformat.write(warned, tmp_path / "warned.ipynb")
    assert runner.stderr_shown(tmp_path / "warned.ipynb") == ["SomeWarning: read me"]


def test_pmnist_notebook_smoke(tmp_path, monkeypatch):
    # A tiny MNIST in the official IDX format stands in for the fetched file (the kernel inherits
    # QORNN_MNIST); the page must run end to end, plot, and show the paper-vs-ours table.
    monkeypatch.setenv("QORNN_MNIST", str(write_mnist_idx(tmp_path / "mnist")))
    runner = load_runner()
    out = tmp_path / "executed" / "hadamrnn" / "pmnist.ipynb"
    runner.execute(PMNIST_NOTEBOOK, out, {"profile": "smoke", "retrain": True}, timeout=600)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert _outputs(nb, "image/png"), "the learning-curve figure is missing"
    html = "\n".join(_outputs(nb, "text/html"))
    assert "accuracy" in html and "paper value" in html and "hadamrnn" in html and "ornn" in html
    record = json.loads((tmp_path / "data" / "results" / "pmnist" / "smoke.json").read_text())
    assert set(record["runs"]) == set(get_config("pmnist", "smoke").models)
    for run in record["runs"].values():
        assert 0.0 <= run["test"]["accuracy"] <= 1.0 and len(run["history"]) == 2


def test_qornn_copy_notebook_smoke(tmp_path):
    runner = load_runner()
    out = tmp_path / "executed" / "qornn" / "copy_task.ipynb"
    runner.execute(ROOT / "notebooks" / "qornn" / "copy_task.py", out, {"profile": "smoke", "retrain": True},
                   timeout=600)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert len(_outputs(nb, "image/png")) == 3, "the bit-width, training-curve and seed-spread figures"
    html = "\n".join(_outputs(nb, "text/html"))
    assert "qornn-ste-projunn-8bit" in html and "ptq-bjorck-5bit" in html and "paper value" in html
    # the QORNN authors' released copy run beside our run of that model (experiment qornn-copy-released)
    assert "authors&#x27; released notebook" in html or "authors' released notebook" in html
    references = load_paper_numbers("references")["entries"]
    released = [e["value"] for e in references if e["experiment"] == "qornn-copy"]
    assert released and all(f"{value:.4g}" in html for value in released)  # as the table prints them
    assert "qornn-ste-bjorck-6bit-n256-modrelu" in html
    record = json.loads((tmp_path / "data" / "results" / "qornn-copy" / "smoke.json").read_text())
    assert set(record["runs"]) == set(get_config("qornn-copy", "smoke").models)


THEORY_NOTEBOOKS = sorted((ROOT / "notebooks" / "theory").glob("*.py"))


@pytest.mark.parametrize("notebook", THEORY_NOTEBOOKS, ids=[p.stem for p in THEORY_NOTEBOOKS])
def test_theory_notebook_smoke(tmp_path, notebook):
    # Each theory page runs end to end on the smoke profile (its experiment, if any, run afresh into
    # tmp_path's data/), with no error, real figures, and its record's provenance on the page.
    text = notebook.read_text()
    params = {"profile": "smoke", **({"retrain": True} if "\nretrain = " in text else {})}
    out = tmp_path / "executed" / "theory" / f"{notebook.stem}.ipynb"
    load_runner().execute(notebook, out, params, timeout=600)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert len(_outputs(nb, "image/png")) >= 2
    if "retrain" in params:
        markdown = "\n".join(_outputs(nb, "text/markdown"))
        assert "profile `smoke`" in markdown and "run by this execution" in markdown
        assert list((tmp_path / "data" / "results").glob("theory-*/smoke.json"))


def test_runner_parameters():
    runner = load_runner()
    assert runner.parse_parameters(["seed=3", "retrain=True", "device=cuda", "lr=0.5"], "smoke") == {
        "seed": 3, "retrain": True, "device": "cuda", "lr": 0.5, "profile": "smoke"}
    assert runner.parse_parameters([], None) == {}
    with pytest.raises(runner.ParameterError, match="-p expects key=value, got 'novalue'"):
        runner.parse_parameters(["novalue"], None)
    # only True / true / False / false are booleans: YAML 1.1's yes is text, which retrain refuses
    assert runner.parse_parameters(["retrain=true", "seed=yes"], None) == {"retrain": True, "seed": "yes"}
    # a value reads as `qornn run --set` reads it (one parser), a list or dict stays text (overrides)
    expected = {"3": 3, "1e-3": 1e-3, "1e-05": 1e-5, ".5": 0.5, "-2": -2, "1_000": 1000, "true": True,
                "False": False, "yes": "yes", "on": "on", "None": None, "null": None, "~": None,
                "relu": "relu", "'quoted'": "quoted", "2026-12-07": "2026-12-07", "nan": "nan",
                "1:30": "1:30", "0x10": "0x10", ".inf": ".inf", "": ""}
    for text, value in expected.items():
        assert runner.parse_value(text) == value and type(runner.parse_value(text)) is type(value), text
    assert runner.parse_parameters(["lr=1e-3"], None) == {"lr": 1e-3}
    # papermill's form, which the "not recorded yet" notes give, is read as key=value
    assert runner.papermill_pairs(["x.py", "-p", "retrain", "True", "-p", "seed=1", "--parameter", "lr",
                                   "-2", "-p", "seed", "--profile", "smoke"]) == [
        "x.py", "-p", "retrain=True", "-p", "seed=1", "--parameter", "lr=-2", "-p", "seed", "--profile",
        "smoke"]
    assert runner.parse_value('{"hidden_size": 32}') == '{"hidden_size": 32}'
    assert runner.output_path(COPY_NOTEBOOK, ROOT / "_build" / "executed") == (
        ROOT / "_build" / "executed" / "hadamrnn" / "copy_task.ipynb")
    # the book's pages: book/<paper>/<name>.html, with no _build in their addresses
    assert runner.output_path(COPY_NOTEBOOK, runner.EXECUTED) == (
        ROOT / "book" / "hadamrnn" / "copy_task.ipynb")


def test_a_typo_in_a_notebook_parameter_fails_before_training(tmp_path):
    import papermill

    runner = load_runner()
    with pytest.raises(papermill.PapermillExecutionError, match="unknown profile 'fast'.*smoke, cpu, paper"):
        runner.execute(COPY_NOTEBOOK, tmp_path / "typo.ipynb", {"profile": "fast"}, timeout=120)
    assert not (tmp_path / "data" / "results").exists()  # nothing trained, nothing recorded
    assert (tmp_path / "typo.failed.ipynb").exists()  # the partial output is kept for inspection


def test_the_training_time_page_says_when_a_profile_has_no_run_then_names_the_missing_record(tmp_path):
    """With nothing recorded under a profile, the tables of training times say so (they raised a
    KeyError); the sensitivity section stops with the command that records it, as a missing record does."""
    import jupytext
    import papermill

    page = ROOT / "notebooks" / "hadamrnn" / "training.py"
    out = tmp_path / "training.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match="RecordMissing.*hadamrnn-sensitivity/smoke"):
        papermill.execute_notebook(jupytext.read(page), str(out), parameters={"profile": "smoke"},
                                   kernel_name="python3", language="python", cwd=str(page.parent),
                                   progress_bar=False, execution_timeout=300)
    text = json.dumps(nbformat.read(out, as_version=4)["cells"])
    assert "No trained run of this chapter is recorded under the profile `smoke` yet." in text
    assert "No run of this chapter is recorded at the paper's budget yet." in text


def test_a_missing_record_renders_not_recorded_yet_and_overrides_make_a_variant(tmp_path):
    """The book build never trains: with no record, the page is a stub naming the command that
    records it. Papermill's ``overrides`` train a named variant, recorded apart, which a second run
    of the page renders without training."""
    runner = load_runner()
    stub = tmp_path / "executed" / "hadamrnn" / "copy_task.ipynb"
    message = runner.execute(COPY_NOTEBOOK, stub, {"profile": "smoke"}, timeout=300)
    assert message and "not recorded yet" in message
    text = "\n".join(c.source for c in nbformat.read(stub, as_version=4).cells)
    assert "The copy task" in text and "qornn run copy --profile smoke" in text
    assert not (tmp_path / "data" / "results").exists()  # nothing trained
    assert not stub.with_suffix(".failed.ipynb").exists()

    overrides = '{"hidden_size": 4, "runs": {"hadamrnn": {"bits": 2}}}'
    out = tmp_path / "variant.ipynb"
    assert runner.execute(COPY_NOTEBOOK, out, {"profile": "smoke", "retrain": True, "overrides": overrides},
                          timeout=600) is None
    markdown = "\n".join(_outputs(nbformat.read(out, as_version=4), "text/markdown"))
    assert "Variant `hadamrnn.bits=2,hidden_size=4`" in markdown
    results = tmp_path / "data" / "results" / "copy"
    assert not (results / "smoke.json").exists()  # the profile's own record is not made or touched
    record = json.loads((results / "variants" / "smoke" / "hadamrnn.bits=2,hidden_size=4.json").read_text())
    assert record["runs"]["hadamrnn"]["config"]["model"] == {"model": "hadamrnn", "hidden_size": 4, "bits": 2}
    again = tmp_path / "again.ipynb"
    params = {"profile": "smoke", "overrides": overrides}
    assert runner.execute(COPY_NOTEBOOK, again, params, timeout=600) is None
    markdown = "\n".join(_outputs(nbformat.read(again, as_version=4), "text/markdown"))
    assert "rendered from the record of variant" in markdown


def _relabel(record: dict, *, profile: str | None = None, seed: int | None = None,
             scale: float = 1.0) -> dict:
    """A copy of ``record`` as the record of another profile or seed (a fixture for the pages: its
    configuration says which profile, so the pages flag it as not the current definition)."""
    import copy

    out = copy.deepcopy(record)
    for data in out["runs"].values():
        if profile is not None:
            data["config"]["profile"] = data["provenance"]["profile"] = profile
        if seed is not None:
            data["config"]["seed"] = data["provenance"]["seed"] = seed
        data["test"] = {k: (min(v * scale, 1.0) if k.endswith("accuracy") else v * scale)
                        for k, v in data["test"].items()}
    if profile is not None:
        out["profile"] = profile
    if seed:
        out.update(variant=f"seed={seed}", overrides={})
    return out


def test_copy_page_leads_with_the_paper_budget_its_verdict_and_seeds(tmp_path):
    """With a `paper` record and a second seed beside the page's own: the paper's rows come first and
    are labelled, the verdict is computed, the released notebook is labelled, numbers are over seeds."""
    runner = load_runner()
    runner.execute(COPY_NOTEBOOK, tmp_path / "trained.ipynb", {"profile": "smoke", "retrain": True},
                   timeout=600)
    folder = tmp_path / "data" / "results" / "copy"
    smoke = json.loads((folder / "smoke.json").read_text())
    (folder / "paper.json").write_text(json.dumps(_relabel(smoke, profile="paper")))
    (folder / "variants" / "smoke").mkdir(parents=True)
    second = _relabel(smoke, seed=1, scale=0.5)
    (folder / "variants" / "smoke" / "seed=1.json").write_text(json.dumps(second))
    out = tmp_path / "again.ipynb"
    assert runner.execute(COPY_NOTEBOOK, out, {"profile": "smoke"}, timeout=600) is None
    nb = nbformat.read(out, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    markdown = "\n".join(_outputs(nb, "text/markdown"))
    assert "The rule: a run **solves the copy task**" in markdown
    assert "**HadamRNN does not solve the copy task** at the paper's budget" in markdown
    assert "**Recorded at the paper's budget**" in markdown
    html = unescape("\n".join(_outputs(nb, "text/html")))
    table = html[html.index("paper value"):]
    assert table.index("paper's budget") < table.index("reduced (smoke profile)")
    assert "2 seeds (0, 1)" in html and "±" in html
    assert "authors' released notebook" in html and "9.904e-08" in html
    assert "copied symbols predicted blank" in html  # why a paper seed fails: its table
    # the paper seeds' sign dynamics, the loss curves (a panel per budget), the spread over seeds
    figures = _outputs(nb, "image/png")
    assert len(figures) == 3

    def width(png: str) -> int:
        import base64

        return int.from_bytes(base64.b64decode(png)[16:20], "big")

    assert width(figures[1]) > width(figures[2])  # two panels of 7.5 in, beside one figure of 8 in
