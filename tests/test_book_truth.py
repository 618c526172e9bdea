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
import re
import shutil
import subprocess
from html.parser import HTMLParser

import nbformat
import pytest
import yaml
from _notebook_helpers import ROOT, load_runner
from _notebook_helpers import outputs as _outputs

from qornn import report
from qornn.experiments import EXPERIMENTS, get_config

pytestmark = pytest.mark.slow


def toc_notebooks() -> list[str]:
    """The notebooks of the book, in the order of _toc.yml (``book/<paper>/<name>`` is the
    papermill output of ``notebooks/<paper>/<name>.py``, unless a hand-written ``book/<paper>/<name>.md``
    exists, such as a theory chapter's introduction; the pages directly in ``book/`` are
    hand-written)."""
    def files(entries):
        for entry in entries or []:
            if "file" in entry:
                yield entry["file"]
            for key in ("chapters", "sections", "parts"):
                yield from files(entry.get(key))

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    prefix = "book/"
    return [f"notebooks/{file.removeprefix(prefix)}.py" for file in files([toc])
            if file.startswith(prefix) and file.count("/") == 2 and not (ROOT / f"{file}.md").exists()]


def _paper(source: str) -> str | None:
    """The paper whose numbers a page sets beside ours (its load_paper_numbers), if it has a
    paper-vs-ours table (comparison_table, budget_comparison or summary_table)."""
    found = re.search(r'load_paper_numbers\("([\w-]+)"\)', source)
    tables = ("comparison_table", "budget_comparison", "summary_table")
    has_table = any(f"{name}(" in source for name in tables)
    return found.group(1) if found and has_table else None


def _committed_cpu_records() -> dict[str, dict]:
    return {experiment: record for (experiment, profile), record in _committed_records().items()
            if profile == "cpu"}


def _committed_records() -> dict[tuple[str, str], dict]:
    """The committed records the pages show by default, (experiment, profile) -> record: every
    ``cpu`` record, and every ``paper`` record (the paper's budget, shown beside the cpu one)."""
    return {(path.parent.name, path.stem): json.loads(path.read_text())
            for profile in ("cpu", "paper")
            for path in sorted((ROOT / "data" / "results").glob(f"*/{profile}.json"))
            if path.parent.name in EXPERIMENTS}


# (notebook, paper): every page of the book with a paper-vs-ours table, from _toc.yml. Which
# experiments a table shows is read from the page itself (each row's record column names it).
CHAPTERS = [(nb, paper) for nb in toc_notebooks()
            if (paper := _paper((ROOT / nb).read_text())) is not None]


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


def _execute_on_record(tmp_path, notebook: str, records: dict) -> nbformat.NotebookNode:
    """Run ``notebook`` as the book does (default parameters, no training) on ``records``
    (experiment -> cpu record, or (experiment, profile) -> record)."""
    for key, record in records.items():
        experiment, profile = key if isinstance(key, tuple) else (key, "cpu")
        target = tmp_path / "data" / "results" / experiment / f"{profile}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))
    out = tmp_path / "executed.ipynb"
    missing = load_runner().execute(ROOT / notebook, out, {}, timeout=600)
    if missing:
        pytest.skip(f"{notebook}: {missing}")
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


def _experiment_of(row: dict[str, str]) -> tuple[str, str] | None:
    """The experiment and profile of the record a row's number comes from (its record column), or None."""
    found = re.search(r"data/results/([\w-]+)/(cpu|paper)\.json", row["record"])
    return (found.group(1), found.group(2)) if found else None


def _rows_by_experiment(nb) -> dict[tuple[str, str], list[dict[str, str]]]:
    """The rows of every paper-vs-ours table of the page, by the experiment and profile each comes
    from. A row of the paper's that we did not record ("not recorded") belongs to its table's
    experiment at its budget, or in a summary table (a "task" column) to its task's."""
    by: dict[tuple[str, str], list[dict[str, str]]] = {}
    for table in _comparison_tables(nb):
        def key(row: dict[str, str]) -> tuple:
            return row.get("task"), row.get("budget")

        owner = {}
        for row in table:
            if (experiment := _experiment_of(row)) is not None:
                owner.setdefault(key(row), experiment)
        for row in table:
            experiment = _experiment_of(row) or owner.get(key(row))
            assert experiment is not None, f"no record names the experiment of {row}"
            by.setdefault(experiment, []).append(row)
    return by


def _chapter_id(chapter) -> str:
    return chapter[0].removeprefix("notebooks/").removesuffix(".py")


@pytest.mark.parametrize(("notebook", "paper"), CHAPTERS, ids=[_chapter_id(c) for c in CHAPTERS])
def test_every_number_in_the_table_comes_from_a_record(tmp_path, notebook, paper):
    records = _committed_records()
    nb = _execute_on_record(tmp_path, notebook, records)
    numbers = report.load_paper_numbers(paper)
    entries = {(e["experiment"], e["run"], e["metric"]): e for e in numbers["entries"]}
    for (experiment, profile), rows in _rows_by_experiment(nb).items():
        _check_rows(rows, records[(experiment, profile)], entries, experiment, profile,
                    numbers["tables_read"])


def _check_rows(rows: list[dict[str, str]], record: dict, entries: dict, experiment: str,
                profile: str = "cpu", tables_read: bool = True) -> None:
    paper_experiment = get_config(experiment, "cpu").paper_experiment  # its name in the paper file
    shown = set()
    for row in rows:
        run, metric = row["run"], row["metric"]
        shown.add((run, metric))
        entry = entries.get((paper_experiment, run, metric))
        data = record["runs"].get(run)
        frozen = data is not None and metric in data["test"] and \
            report.signs_of(data["config"].get("model", {})) == report.FROZEN_SIGNS
        if frozen:  # frozen random signs are not the paper's model: no paper number beside them
            entry = None
        assert row["paper value"] == report.paper_cell(entry, tables_read or frozen), row
        if row["ours"].startswith(report.NOT_RECORDED):
            assert run not in record["runs"] or metric not in record["runs"][run]["test"], row
            continue
        if metric == "size_bits" and metric not in record["runs"][run]["test"]:
            # a model's size is recorded beside the test metrics, the same at every seed
            assert row["ours"] == report._fmt(int(record["runs"][run]["size_bits"])), row
            continue
        ours = record["runs"][run]["test"][metric]
        stand_in = report.stand_in_task(record["runs"][run]["config"].get("task"))
        label = f" (stand-in data: {stand_in})" if stand_in else ""
        assert row["ours"] == report._fmt(ours, metric) + label, row
        assert row.get("vs chance", "") == (report.at_chance(record["runs"][run], metric) or ""), row
        # a stand-in is never set against the paper (a summary leaves out a gap column empty in every row)
        assert stand_in is None or row.get("gap", "—") == "—", row
        # a chapter summary has no profile column: its budget and record path say it
        assert row.get("profile", profile) == profile and row["budget"] == report.budget_label(profile), row
        assert record["runs"][run]["provenance"]["commit"][:7] in row["record"], row
    # and nothing the record holds is left out of the table (pages that show one metric: that one)
    metrics = {m for _, m in shown}
    assert {(r, m) for r, d in record["runs"].items() for m in d["test"] if m in metrics} <= shown


@pytest.mark.parametrize("how", ["old commit", "uncommitted code"])
def test_a_record_from_other_code_is_flagged_on_the_page(tmp_path, how):
    records = _committed_cpu_records()
    pages = [(nb, found.group(1)) for nb, _ in CHAPTERS
             if (found := re.search(r'recorded_or_trained\("([\w-]+)"', (ROOT / nb).read_text()))
             and found.group(1) in records]
    if not pages:
        pytest.skip("no committed cpu record of a page's experiment")
    notebook, experiment = pages[0]
    record = records[experiment]
    root = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.split()[0]  # qornn/ has changed since
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    run = next(iter(record["runs"]))
    for data in record["runs"].values():  # every run current, except the one under test
        data["provenance"].update(commit=head, dirty=False)
    record["runs"][run]["provenance"].update(commit=root if how == "old commit" else head,
                                             dirty=how == "uncommitted code")
    markdown = "\n".join(_outputs(_execute_on_record(tmp_path, notebook, records), "text/markdown"))
    assert "Check before trusting these numbers" in markdown
    expected = "has changed since" if how == "old commit" else "uncommitted changes"
    flagged = [line for line in markdown.splitlines() if expected in line]
    assert len(flagged) == 1 and f"**{run}**" in flagged[0], markdown


def test_every_notebook_is_a_page_of_the_book():
    # The truth test above checks every page of _toc.yml with a paper-vs-ours table; a notebook
    # outside the toc would escape it (and the book).
    notebooks = {str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").rglob("*.py")
                 if ".ipynb_checkpoints" not in p.parts}
    in_toc = set(toc_notebooks())
    assert notebooks <= in_toc, (f"add book/<paper>/<name> to _toc.yml for "
                                 f"{sorted(notebooks - in_toc)}")
    assert all((ROOT / nb).exists() for nb in in_toc), sorted(nb for nb in in_toc if not (ROOT / nb).exists())
    assert CHAPTERS, "no page with a paper-vs-ours table found in _toc.yml"
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
                assert f"book/{page}\n" in toc, f"{notebook} is not in the book"
            if not item["notebooks"]:  # only an item whose content is unknown may have no page
                assert item["status"] == "not available" and item.get("notebooks_note"), item["id"]
