"""The book tells the truth: every number in a chapter's paper-vs-ours table comes from a record.

Each chapter notebook is executed as the book executes it (default parameters, no training) on a
copy of the committed ``cpu`` record placed in a temporary data folder. The test then reads the
table back from the executed page and checks every cell against its sources: "ours" against the
record's test metrics, "paper value" against ``data/paper/<paper>.yaml`` ("not available" where
that file has no number), and "record" against the record's commit. A record made from code that
has changed since (or from uncommitted code) must be flagged on the page.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser

import nbformat
import pytest
from _notebook_helpers import ROOT, load_runner
from _notebook_helpers import outputs as _outputs

from qornn import report
from qornn.experiments import get_config

pytestmark = pytest.mark.slow

# (notebook, experiments, paper): the chapters whose cpu records are all committed. A page with
# several experiments shows one paper-vs-ours table per experiment, in this order, or one table
# whose "task" column names the experiment (QORNN_TASKS).
QORNN_TASKS = {"copy": "qornn-copy", "pMNIST": "qornn-pmnist", "sMNIST": "qornn-smnist", "PTB": "qornn-ptb"}
HADAMRNN_TASKS = {"copy": "copy", "pMNIST": "pmnist", "sMNIST": "smnist", "IMDB": "imdb", "SST-2": "sst2",
                  "pMNIST, Figure 1": "hadamrnn-size-accuracy"}
SUMMARY_TASKS = {"qornn": QORNN_TASKS, "hadamrnn": HADAMRNN_TASKS}  # a summary table's task -> experiment
CHAPTERS = [(path, exps, paper) for path, exps, paper in (
    ("notebooks/hadamrnn/copy_task.py", ("copy",), "hadamrnn"),
    ("notebooks/hadamrnn/pmnist.py", ("pmnist",), "hadamrnn"),
    ("notebooks/hadamrnn/smnist.py", ("smnist",), "hadamrnn"),
    ("notebooks/hadamrnn/text.py", ("imdb", "sst2"), "hadamrnn"),
    ("notebooks/hadamrnn/size_accuracy.py", ("hadamrnn-size-accuracy",), "hadamrnn"),
    ("notebooks/hadamrnn/introduction.py", tuple(HADAMRNN_TASKS.values()), "hadamrnn"),
    ("notebooks/qornn/copy_task.py", ("qornn-copy",), "qornn"),
    ("notebooks/qornn/mnist.py", ("qornn-pmnist", "qornn-smnist"), "qornn"),
    ("notebooks/qornn/ptb.py", ("qornn-ptb",), "qornn"),
    ("notebooks/qornn/introduction.py", tuple(QORNN_TASKS.values()), "qornn"),
) if all((ROOT / "data" / "results" / exp / "cpu.json").exists() for exp in exps)]


class _Tables(HTMLParser):
    """Rows of text cells of every <table> in an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _execute_on_record(tmp_path, notebook: str, *records: dict) -> nbformat.NotebookNode:
    for record in records:
        target = tmp_path / "data" / "results" / record["experiment"] / "cpu.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))
    out = tmp_path / "executed.ipynb"
    load_runner().execute(ROOT / notebook, out, {}, timeout=600)  # the book's defaults: no training
    return nbformat.read(out, as_version=4)


def _comparison_tables(nb) -> list[list[dict[str, str]]]:
    tables = []
    for html in _outputs(nb, "text/html"):
        parser = _Tables()
        parser.feed(html)
        for table in parser.tables:
            header, *rows = table
            if "paper value" in header and "ours" in header and "record" in header:
                tables.append([dict(zip(header, row, strict=True)) for row in rows])
    assert tables, "no paper-vs-ours table on the page"
    return tables


def _rows_by_experiment(nb, experiments: tuple[str, ...], paper: str) -> dict[str, list[dict[str, str]]]:
    tables = _comparison_tables(nb)
    if len(tables) == 1 and "task" in tables[0][0]:  # one summary table, a row per (task, run)
        by: dict[str, list[dict[str, str]]] = {exp: [] for exp in experiments}
        for row in tables[0]:
            by[SUMMARY_TASKS[paper][row["task"]]].append(row)
        return by
    assert len(tables) == len(experiments), f"{len(tables)} tables for {experiments}"
    return dict(zip(experiments, tables, strict=True))


def _chapter_id(chapter) -> str:
    return chapter[0].removeprefix("notebooks/").removesuffix(".py")


@pytest.mark.skipif(not CHAPTERS, reason="no committed cpu record")
@pytest.mark.parametrize(("notebook", "experiments", "paper"), CHAPTERS,
                         ids=[_chapter_id(c) for c in CHAPTERS])
def test_every_number_in_the_table_comes_from_a_record(tmp_path, notebook, experiments, paper):
    records = {exp: json.loads((ROOT / "data" / "results" / exp / "cpu.json").read_text())
               for exp in experiments}
    nb = _execute_on_record(tmp_path, notebook, *records.values())
    entries = {(e["experiment"], e["run"], e["metric"]): e
               for e in report.load_paper_numbers(paper)["entries"]}
    for experiment, rows in _rows_by_experiment(nb, experiments, paper).items():
        _check_rows(rows, records[experiment], entries, experiment)


def _check_rows(rows: list[dict[str, str]], record: dict, entries: dict, experiment: str) -> None:
    paper_experiment = get_config(experiment, "cpu").paper_experiment  # its name in the paper file
    shown = set()
    for row in rows:
        run, metric = row["run"], row["metric"]
        shown.add((run, metric))
        entry = entries.get((paper_experiment, run, metric))
        assert row["paper value"] == report._fmt(entry["value"] if entry else None), row
        if row["ours"] == "not recorded":
            assert run not in record["runs"] or metric not in record["runs"][run]["test"], row
            continue
        ours = record["runs"][run]["test"][metric]
        stand_in = report.stand_in_task(record["runs"][run]["config"].get("task"))
        assert row["ours"] == report._fmt(ours) + (f" (stand-in data: {stand_in})" if stand_in else ""), row
        assert stand_in is None or row["gap"] == "—", row  # a stand-in is never set against the paper
        assert row["profile"] == "cpu"
        assert record["runs"][run]["provenance"]["commit"][:7] in row["record"], row
    # and nothing the record holds is left out of the table (pages that show one metric: that one)
    metrics = {m for _, m in shown}
    assert {(r, m) for r, d in record["runs"].items() for m in d["test"] if m in metrics} <= shown


@pytest.mark.skipif(not CHAPTERS, reason="no committed cpu record")
@pytest.mark.parametrize("how", ["old commit", "uncommitted code"])
def test_a_record_from_other_code_is_flagged_on_the_page(tmp_path, how):
    notebook, (experiment,), _ = CHAPTERS[0]
    record = json.loads((ROOT / "data" / "results" / experiment / "cpu.json").read_text())
    root = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.split()[0]  # qornn/ has changed since
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    run = next(iter(record["runs"]))
    for data in record["runs"].values():  # every run current, except the one under test
        data["provenance"].update(commit=head, dirty=False)
    record["runs"][run]["provenance"].update(commit=root if how == "old commit" else head,
                                             dirty=how == "uncommitted code")
    markdown = "\n".join(_outputs(_execute_on_record(tmp_path, notebook, record), "text/markdown"))
    assert "Check before trusting these numbers" in markdown
    expected = "has changed since" if how == "old commit" else "uncommitted changes"
    flagged = [line for line in markdown.splitlines() if expected in line]
    assert len(flagged) == 1 and f"**{run}**" in flagged[0], markdown


def test_no_chapter_is_left_out():
    # A chapter notebook added without its entry above would escape the truth test.
    notebooks = {str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").rglob("*.py")}
    listed = {"notebooks/hadamrnn/copy_task.py", "notebooks/hadamrnn/pmnist.py",
              "notebooks/hadamrnn/smnist.py", "notebooks/hadamrnn/text.py",
              "notebooks/hadamrnn/size_accuracy.py", "notebooks/hadamrnn/introduction.py",
              "notebooks/hadamrnn/ablations.py", "notebooks/hadamrnn/training.py",
              # no paper-vs-ours table: the peer check renders its own record (tests/test_peer.py
              # checks the logic), the sign study its records of runs not in the paper
              "notebooks/hadamrnn/peer_check.py", "notebooks/hadamrnn/signs.py",
              "notebooks/qornn/copy_task.py", "notebooks/qornn/mnist.py", "notebooks/qornn/ptb.py",
              "notebooks/qornn/introduction.py",
              # pages without a paper-vs-ours table of their own: they draw figures from the records
              # of the pages above, or of a sweep not in the paper (hadamrnn/training; tests/test_book.py
              # executes them on the smoke profile)
              "notebooks/qornn/bit_widths.py", "notebooks/qornn/orthogonality.py",
              "notebooks/qornn/activations.py",
              # the speed page has no paper-vs-ours table: it renders benchmark records
              # (tests/test_benchmarks.py executes it)
              "notebooks/benchmarks/speed.py"}
    assert notebooks <= listed, f"add {sorted(notebooks - listed)} to CHAPTERS in {__file__}"
    assert shutil.which("git"), "git is needed to tell whether a record's code has changed"


def test_every_item_of_the_paper_inventory_has_its_pages_in_the_book():
    import yaml

    toc = (ROOT / "_toc.yml").read_text()
    for paper in ("hadamrnn",):
        inventory = yaml.safe_load((ROOT / "data" / "paper" / f"{paper}.yaml").read_text())["inventory"]
        for item in inventory:
            assert "notebooks" in item, f"{paper} inventory item {item['id']!r} names no notebook"
            for notebook in item["notebooks"]:
                assert (ROOT / notebook).exists(), notebook
                page = notebook.removeprefix("notebooks/").removesuffix(".py")
                assert f"_build/executed/{page}\n" in toc, f"{notebook} is not in the book"
            if not item["notebooks"]:  # only an item whose content is unknown may have no page
                assert item["status"] == "not available" and item.get("notebooks_note"), item["id"]
