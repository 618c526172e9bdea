"""The wings' experiments (SEA, majoring points): every profile resolves, a run is recorded in the
RNN record format with its provenance and is not redone, the pages run end to end on `smoke`, and
every number in a page's paper-beside-ours and gap tables is the committed record's."""

from __future__ import annotations

import json
import re
import shutil

import nbformat
import pytest
from _notebook_helpers import ROOT, load_runner
from _notebook_helpers import outputs as _outputs
from test_book_truth import _Tables, toc_notebooks

from qornn import report, results
from qornn.experiments import EXPERIMENTS, PROFILES
from qornn.sparse import report as sparse_report
from qornn.theory import runner as theory_runner
from qornn.wings import (
    WING_EXPERIMENTS,
    get_wing_config,
    record_notes,
    recorded_or_run,
    run_wing_experiment,
    wing_experiment_names,
)

NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for folder in ("sea", "overestimate")
                   for p in (ROOT / "notebooks" / folder).glob("*.py"))


@pytest.mark.parametrize("experiment", sorted(WING_EXPERIMENTS))
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_resolves(experiment, profile):
    config = get_wing_config(experiment, profile)
    assert config.note and config.source and config.paper in ("sea", "overestimate")
    assert "note" not in config.options
    assert results.config_hash(config.run_config(0))


def test_names_are_unique_and_errors_are_clear():
    assert not WING_EXPERIMENTS.keys() & EXPERIMENTS.keys()
    assert wing_experiment_names("sea") == ["sea-deconvolution", "sea-gaussian", "sea-regression"]
    with pytest.raises(ValueError, match="unknown experiment 'sea-typo'.*sea-deconvolution"):
        get_wing_config("sea-typo", "cpu")
    with pytest.raises(ValueError, match="unknown profile 'fast'.*smoke, cpu, paper"):
        get_wing_config("sea-gaussian", "fast")
    # a seed no record takes is refused before any work, not when the finished run is saved
    for seed in (-1, 2**32):
        with pytest.raises(ValueError, match=rf"seed must be an int in \[0, 2\*\*32\), got {seed}"):
            run_wing_experiment("sea-gaussian", "smoke", seed=seed)
        with pytest.raises(ValueError, match=rf"seed must be an int in \[0, 2\*\*32\), got {seed}"):
            theory_runner.run("theory-approximation", "smoke", seed=seed)


def test_a_run_is_recorded_with_provenance_and_not_redone():
    record = run_wing_experiment("overestimate-ramp-1d", "smoke", progress=False)
    assert set(record["runs"]) == {"majoring", "mse", "mse-shifted"}
    for run in record["runs"].values():
        provenance = run["provenance"]
        assert {"commit", "dirty", "profile", "seed", "device", "wall_time_s", "date"} <= provenance.keys()
        assert run["config"]["options"]["function"] == "ramp-1d" and run["size_bits"] is None
    assert results.load_record("overestimate-ramp-1d", "smoke") == record  # schema-checked
    again, ran = recorded_or_run("overestimate-ramp-1d", "smoke")  # a record: not run again
    assert not ran and again == record
    assert "rendered from the committed record" in record_notes(again, ran)
    # a changed definition is flagged on the page
    record["runs"]["majoring"]["config_hash"] = "0" * 16
    for run in record["runs"].values():
        run["config_hash"] = "0" * 16
    assert "definition has changed" in record_notes(record, False)


def test_sea_smoke_runs_share_their_problems():
    record = run_wing_experiment("sea-deconvolution", "smoke", progress=False)
    assert set(record["runs"]) == {"omp", "iht", "htp", "ompr", "els", "sea-0", "sea-omp", "sea-iht",
                                   "sea-htp", "sea-ompr", "sea-els"}
    trials = get_wing_config("sea-deconvolution", "smoke").options["trials"]
    for run in record["runs"].values():
        assert run["test"]["k"] == [2, 4] and all(len(v) == trials for v in run["test"]["recovery"])
    # SEA started from a baseline never ends worse than it, trial by trial
    frame = sparse_report.postprocess_frame(record)
    assert (frame["loss after"] <= frame["loss before"] + 1e-12).all()


def test_the_pages_are_in_the_book():
    assert set(NOTEBOOKS) <= set(toc_notebooks()) and len(NOTEBOOKS) == 8


def _errors(nb) -> list:
    return [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _tables(nb, column: str) -> list[list[dict[str, str]]]:
    found = []
    for html in _outputs(nb, "text/html"):
        parser = _Tables()
        parser.feed(html)
        for header, *rows in parser.tables:
            if column in header:
                found.append([dict(zip(header, row, strict=True)) for row in rows])
    return found


def test_a_missing_record_is_never_run_by_a_page():
    with pytest.raises(results.RecordMissing, match="python -m qornn.wings run sea-gaussian --profile smoke"):
        recorded_or_run("sea-gaussian", "smoke")
    assert results.load_record("sea-gaussian", "smoke", missing_ok=True) is None


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_page_runs_on_smoke(tmp_path, notebook):
    source = (ROOT / notebook).read_text()
    params = {"profile": "smoke"}
    if "\nretrain = " in source:  # a page that owns its experiments runs them
        params["retrain"] = True
    else:  # a summary page reads the records the other pages make
        for name in set(re.findall(r'"((?:sea|overestimate)-[\w-]+)"', source)) & WING_EXPERIMENTS.keys():
            run_wing_experiment(name, "smoke", progress=False)
    out = tmp_path / "executed.ipynb"
    assert load_runner().execute(ROOT / notebook, out, params, timeout=600) is None  # no stub
    nb = nbformat.read(out, as_version=4)
    assert not _errors(nb)
    if not notebook.endswith("introduction.py"):
        assert _outputs(nb, "image/png"), "the page's figure is missing"
        tables = _tables(nb, "paper value")
        assert tables and all(row["paper value"] == report.NOT_AVAILABLE for t in tables for row in t)
    markdown = "\n".join(_outputs(nb, "text/markdown"))
    assert "Profile `smoke`" in markdown


def _committed_cpu(names) -> dict[str, dict]:
    records = {}
    for name in names:
        path = ROOT / "data" / "results" / name / "cpu.json"
        if path.exists():
            records[name] = json.loads(path.read_text())
    return records


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_number_in_a_page_table_comes_from_the_record(tmp_path, notebook):
    records = _committed_cpu(WING_EXPERIMENTS)
    source = (ROOT / notebook).read_text()
    used = set(re.findall(r'"((?:sea|overestimate)-[\w-]+)"', source)) & WING_EXPERIMENTS.keys()
    if not used <= records.keys():
        pytest.skip(f"no committed cpu record of {sorted(used - records.keys())}")
    for name in used:
        target = tmp_path / "data" / "results" / name / "cpu.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "data" / "results" / name / "cpu.json", target)
    out = tmp_path / "executed.ipynb"
    load_runner().execute(ROOT / notebook, out, {}, timeout=600)
    nb = nbformat.read(out, as_version=4)
    assert not _errors(nb)
    for table in _tables(nb, "paper value"):
        for row in table:
            record = records[row["experiment"]]
            assert row["paper value"] == report.NOT_AVAILABLE
            run = record["runs"][row["run"]]
            assert run["provenance"]["commit"][:8] in row["record"] and row["profile"] == "cpu"
            if "k" in row:  # SEA: mean ± std over the trials at k
                values = sparse_report.trials(record, row["run"], row["metric"], int(row["k"]))
                assert row["ours"] == sparse_report._ours(values)
            else:
                where, metric = row["metric"].split(".")
                assert row["ours"] == f"{run['test'][where][metric]:.4g}"
    for table in _tables(nb, "under-estimated share (grid)"):  # the gap tables (over_report.gap_table)
        for row in table:
            test = records[row["experiment"]]["runs"][row["run"]]["test"]
            assert float(row["under-estimated share (grid)"]) == pytest.approx(test["grid"]["under_share"],
                                                                              abs=1e-4)
            assert float(row["max over-estimation (grid)"]) == pytest.approx(test["grid"]["max_gap"],
                                                                            rel=1e-3, abs=1e-4)
            if row["run"] == "majoring":
                assert test["grid"]["under_share"] == 0.0 and test["random"]["under_share"] == 0.0


def test_every_committed_majoring_cell_meets_its_tolerance():
    """The synthetic page says halving ε refines the cells where f still varies by more than ε: true
    only where the depth cap never stopped a cell first, at the record's ε or any of its sweep's
    (ramp-2d's cap of 7 stopped 820 of 1,966 cells; ramp-1d's 12, 157 of 578 at its last ε)."""
    from qornn.overestimate import report as over_report

    records = _committed_cpu(["overestimate-ramp-1d", "overestimate-ramp-2d", "overestimate-cessna"])
    frame = over_report.refinement_frame(records)
    assert len(frame) == 3 and list(frame["cells varying by more than ε"]) == [0, 0, 0], frame
    assert list(frame["sweep tolerances the cap stopped"]) == ["none"] * 3, frame  # every ε of the sweeps
    gaps = over_report.gap_table(records).set_index(["experiment", "run"])
    mse = gaps.loc[("overestimate-cessna", "mse")]  # under- and over-estimates cancel in the signed mean
    assert mse["mean |g − f| (grid)"] > 10 * abs(mse["mean gap g − f (grid)"])


def test_command_line(capsys):
    from qornn.wings import main

    assert main(["list"]) == 0 and "sea-deconvolution (sea)" in capsys.readouterr().out
    assert main(["run", "sea-regression", "--profile", "smoke"]) == 0
    assert "mean loss: k=2" in capsys.readouterr().out
    assert main(["show", "sea-regression", "--profile", "smoke"]) == 0
    assert main(["show", "sea-typo"]) == 2 and "unknown experiment" in capsys.readouterr().err
    # qornn's own command line names the runner of a wing or theory experiment rather than not know it
    from qornn.cli import OTHER_RUNNERS
    from qornn.cli import main as qornn_main
    from qornn.experiments import experiment_names
    from qornn.theory.runner import THEORY_EXPERIMENTS
    from qornn.wings import WING_EXPERIMENTS

    for name in [*WING_EXPERIMENTS, *THEORY_EXPERIMENTS]:  # the prefixes cover every one of them
        assert [p for p in OTHER_RUNNERS if name.startswith(p)], name
    assert not [name for name in experiment_names() if name.startswith(tuple(OTHER_RUNNERS))]

    assert qornn_main(["run", "sea-regression", "--profile", "smoke"]) == 2
    assert "python -m qornn.wings run sea-regression --profile P" in capsys.readouterr().err
    assert qornn_main(["show", "theory-saddle-escape"]) == 2
    assert "python -m qornn.theory.runner theory-saddle-escape" in capsys.readouterr().err


def test_a_wings_records_are_checked_against_its_own_code():
    import subprocess

    from qornn.wings import wing_code

    root = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.split()[0]
    # a wing run names its experiment, which tells its own wing's code from the rest
    run = {"config": {"experiment": "sea-regression"}, "provenance": {"commit": root, "dirty": False}}
    assert "has changed since" in results.code_changed_since(run)  # all of qornn/ has changed since
    # the first commit had no qornn/sparse: the wing's code changed too, so it is flagged as well
    assert "has changed since" in results.code_changed_since(run, scope=wing_code("sparse"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert results.code_changed_since({"provenance": {"commit": head, "dirty": False}},
                                      scope=wing_code("sparse")) is None


def _committed_wing_runs():
    for path in sorted((ROOT / "data" / "results").glob("*/*.json")):
        record = json.loads(path.read_text())
        if record.get("experiment") in WING_EXPERIMENTS:
            for run, data in sorted(record["runs"].items()):
                yield path, record["experiment"], record["profile"], run, data


@pytest.mark.parametrize(("path", "experiment", "profile", "run", "data"), list(_committed_wing_runs()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_committed_wing_record_is_what_the_registry_resolves(path, experiment, profile, run, data):
    expected = get_wing_config(experiment, profile).run_config(data["provenance"]["seed"])
    assert data["config"] == expected, f"{path}: {run}'s configuration differs from its definition"
    assert data["config_hash"] == results.config_hash(expected)
