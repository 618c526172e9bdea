"""The book leads with the paper's budget (issue 20): paper rows first and labelled, the authors'
released notebook labelled and kept apart from the paper's numbers, the copy-task verdict by its
stated rule, and numbers over seeds as mean ± standard deviation.

Every record is written by the test into the temporary data folder of tests/conftest.py, through
``results.save_run`` (the strict schema), with the configuration the registry gives the run now."""

from __future__ import annotations

import json
import math
import re
import statistics

import matplotlib

matplotlib.use("Agg")  # tests only

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from qornn import report, results  # noqa: E402
from qornn.experiments import get_config  # noqa: E402

MEMORYLESS = 10 * math.log(8) / 1000  # the copy task's baseline at T = 1000, K = 10


def _save(experiment: str, profile: str, run: str, test: dict, *, seed: int = 0,
          baselines: dict | None = None, model: dict | None = None, analysis: dict | None = None) -> None:
    """One run recorded as ``qornn run`` would record it: at seed 0 in the profile's record, at a seed
    S > 0 in its own record ``variants/<profile>/seed=S.json``."""
    config = get_config(experiment, profile).run_config(run, seed)
    if model is not None:
        config["model"] = {**config["model"], **model}
    val = {k: v for k, v in test.items()}
    data = {"config": config, "config_hash": results.config_hash(config),
            "history": [{"epoch": 1, "lr": 1e-3, "train_loss": 1.0, "val": val, "wall_time_s": 2.0}],
            "test": test, "baselines": baselines or {}, "size_bits": 1000,
            "provenance": {"commit": "89abcdef01234567", "dirty": False, "profile": profile, "seed": seed,
                           "device": "cpu", "device_name": "test cpu", "wall_time_s": 2.0,
                           "date": "2026-12-02T15:00:00+00:00"}}
    if analysis is not None:
        data["analysis"] = analysis
    variant = f"seed={seed}" if seed else ""
    results.save_run(experiment, profile, run, data, variant=variant, overrides={} if variant else None)


def _copy(profile: str, run: str, loss: float, recall: float, seed: int = 0,
          experiment: str = "copy", analysis: dict | None = None) -> None:
    _save(experiment, profile, run, {"loss": loss, "recall_accuracy": recall}, seed=seed,
          baselines={"memoryless_cross_entropy": MEMORYLESS}, analysis=analysis)


def _mnist(experiment: str, profile: str, run: str, accuracy: float, seed: int = 0, **model) -> None:
    _save(experiment, profile, run, {"loss": 1.0, "accuracy": accuracy}, seed=seed,
          baselines={"chance_accuracy": 0.1}, model=model or None)


def _costs(runs: list[dict]) -> None:
    """A paper_costs benchmark record (the layout of benchmarks/paper_costs.py) in the test's data."""
    path = results.results_dir() / "benchmarks" / "paper_costs.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": "paper_costs", "config": {}, "runs": runs,
                                "provenance": {"commit": "fedcba9876543210", "date": "2026-12-02T13:06:44"}}))


def _cost(experiment: str, run: str, step_s: float, steps: int) -> dict:
    return {"experiment": experiment, "run": run, "measured": True, "model": run, "hidden_size": 128,
            "median_step_s": step_s, "optimizer_steps": steps, "projected_hours": step_s * steps / 3600,
            "implementation": "dense"}


# --- paper-first ordering and the budget labels --------------------------------------------------------

def test_paper_rows_lead_the_page_table_and_say_which_budget_they_are():
    _copy("cpu", "hadamrnn", 0.0196, 0.1)
    _copy("cpu", "ornn", 0.0200, 0.1)
    _copy("paper", "hadamrnn", 1e-6, 1.0)
    cpu = results.load_record("copy", "cpu")
    table = report.budget_comparison("copy", cpu, report.load_paper_numbers("hadamrnn"))
    budgets = list(table["budget"])
    assert budgets[0] == report.PAPER_BUDGET == "paper's budget"
    first_reduced = budgets.index("reduced (cpu profile)")
    assert set(budgets[:first_reduced]) == {report.PAPER_BUDGET}  # every paper row before any cpu row
    assert set(budgets[first_reduced:]) == {"reduced (cpu profile)"}
    unrecorded = table["ours"].str.startswith(report.NOT_RECORDED)
    paper_rows = table[(table["budget"] == report.PAPER_BUDGET) & ~unrecorded]
    assert set(paper_rows["run"]) == {"hadamrnn"} and set(paper_rows["profile"]) == {"paper"}
    assert all("copy/paper.json" in label for label in paper_rows["record"])
    loss = paper_rows[paper_rows["metric"] == "loss"].iloc[0]
    assert loss["ours"] == "1e-06" and loss["seeds"] == "1 seed"
    cpu_rows = table[(table["budget"] == "reduced (cpu profile)") & ~unrecorded]
    assert all("copy/cpu.json" in label for label in cpu_rows["record"])
    # the paper's own numbers stay "not available" whichever budget ours come from
    assert set(table.loc[table["run"] == "hadamrnn", "paper value"]) <= {
        report.NOT_AVAILABLE, report.NOT_IN_PAPER, report.NOT_KNOWN}


def test_a_row_without_a_number_says_why():
    _copy("cpu", "hadamrnn", 0.0196, 0.1)
    _copy("paper", "hadamrnn", 1e-6, 1.0)
    _costs([_cost("copy", "lstm", 1.17, 40_000), _cost("copy", "ornn", 0.01, 40_000)])
    why = report.why_not_recorded
    # the row's budget column names the paper's budget: the cell does not repeat it
    assert why("copy", "paper", "lstm") == "not recorded: not run yet; does not fit here, 13.0 h on one core"
    assert why("copy", "paper", "ornn") == "not recorded: not run yet"  # 0.1 h: it fits
    verdicts = report.copy_verdicts(["lstm", "ornn"]).set_index("run")["note"]  # the copy page says it too
    assert (verdicts["lstm"], verdicts["ornn"]) == ("does not fit here, 13.0 h on one core", "")
    # a run under way over several sessions is in progress, not "does not fit"
    from qornn.checkpoints import checkpoint_path

    started = checkpoint_path("copy", "paper", "lstm")
    started.parent.mkdir(parents=True)
    torch.save({"state": {"epoch": 1, "step": 0, "global_step": 4_000, "elapsed": 4_600.0},
                "config": {"epochs": 10, "batch_size": 128}}, started)
    assert why("copy", "paper", "lstm") == ("not recorded: in progress, 4,000 of 40,000 optimiser steps, "
                                            "10%; 1.3 h trained, about 11.5 h to go at its pace so far")
    assert set(report._PAPER_STATUS_BRIEF) == {report.NOT_RUN_AT_PAPER, report.IN_PROGRESS_AT_PAPER,
                                               report.FAILED_AT_PAPER}
    assert why("copy", "paper", "qornn-lstm") == "not recorded: an entry in data/paper, not trained by `copy`"
    assert why("hadamrnn-size-accuracy", "paper", "hadamrnn-p4-learned-signs").startswith(
        "not recorded: left out of profile `paper` (every run of this profile learns its signs")
    assert why("copy", "cpu", "lstm") == report.NOT_RECORDED  # a reduced profile's run not recorded yet
    assert why("no-such-experiment", "paper", "lstm") == report.NOT_RECORDED
    # the tables carry it: the paper's LSTM row at the paper's budget
    table = report.budget_comparison("copy", results.load_record("copy", "cpu"),
                                     report.load_paper_numbers("hadamrnn"))
    lstm = table[(table["run"] == "lstm") & (table["budget"] == report.PAPER_BUDGET)]
    assert set(lstm["ours"]) == {why("copy", "paper", "lstm")}


def test_a_one_run_table_says_which_seed_it_shows_and_how_many_are_recorded():
    _copy("cpu", "hadamrnn", 0.0196, 0.1)
    _copy("cpu", "hadamrnn", 0.0195, 0.1, seed=2)
    _copy("paper", "hadamrnn", 1e-6, 1.0, seed=1)
    note = report.shown_seeds_note("copy", results.load_record("copy", "cpu"))
    assert note == ("Each number is one run: at the paper's budget, seed 1, the only seed recorded; at "
                    "profile `cpu`, seed 0, one of 2 seeds (0, 2) recorded.")


def test_without_a_paper_record_only_the_page_profile_is_shown():
    _copy("cpu", "hadamrnn", 0.0196, 0.1)
    cpu = results.load_record("copy", "cpu")
    assert list(report.budget_seed_records("copy", cpu)) == ["cpu"]
    table = report.budget_comparison("copy", cpu, report.load_paper_numbers("hadamrnn"))
    assert set(table["budget"]) == {"reduced (cpu profile)"}
    # the page rendered at the paper profile is the paper's budget itself, shown once
    _copy("paper", "hadamrnn", 1e-6, 1.0)
    paper = results.load_record("copy", "paper")
    assert list(report.budget_seed_records("copy", paper)) == ["paper"]


def test_the_chapter_summary_leads_with_every_paper_row():
    _copy("cpu", "hadamrnn", 0.0196, 0.1)
    _mnist("pmnist", "cpu", "hadamrnn", 0.80)
    _mnist("pmnist", "paper", "hadamrnn", 0.95)
    tasks = {"copy": ("copy", "loss"), "pMNIST": ("pmnist", "accuracy")}
    summary = report.summary_table(tasks, report.load_paper_numbers("hadamrnn"), "cpu")
    recorded = summary[~summary["ours"].str.startswith(report.NOT_RECORDED)]
    assert list(summary.columns[:3]) == ["task", "budget", "run"]
    assert "profile" not in summary.columns  # the budget column says it, and the record path
    first = recorded.iloc[0]
    assert (first["task"], first["budget"], first["run"], first["ours"]) == (
        "pMNIST", report.PAPER_BUDGET, "hadamrnn", "95.0%")
    budgets = list(summary["budget"])
    assert budgets == sorted(budgets, key=lambda b: b != report.PAPER_BUDGET)  # paper's budget first
    reduced = summary[summary["budget"] != report.PAPER_BUDGET]
    # then the tasks in order; the copy task's rows say their T (a loss at T = 200 is not one at 1,000)
    length = report.task_length(results.load_record("copy", "cpu"))
    assert list(dict.fromkeys(reduced["task"])) == [f"copy, T = {length:,}", "pMNIST"]
    assert not summary["task"].str.startswith("copy")[summary["budget"] == report.PAPER_BUDGET].any()


def test_a_summary_page_lists_the_rows_without_any_number_below_its_table():
    paper, cpu = report.PAPER_BUDGET, report.budget_label("cpu")
    missing = f"{report.NOT_RECORDED}: not run yet; does not fit here, 13.0 h on one core"
    absent = f"{report.NOT_RECORDED}: an entry in data/paper, not trained by `copy`"
    summary = pd.DataFrame([
        {"task": "copy", "budget": paper, "run": "hadamrnn", "paper value": report.NOT_AVAILABLE,
         "ours": "0.0001", "gap": "—"},
        {"task": "copy", "budget": paper, "run": "lstm", "paper value": report.NOT_AVAILABLE, "ours": missing,
         "gap": "—"},
        {"task": "copy", "budget": paper, "run": "fastrnn", "paper value": "0.5", "ours": report.NOT_RECORDED,
         "gap": "—"},  # the paper's number alone keeps its row
        {"task": "copy", "budget": paper, "run": "gru", "paper value": report.NOT_IN_PAPER, "ours": absent,
         "gap": "—"},
        {"task": "copy", "budget": cpu, "run": "gru", "paper value": report.NOT_IN_PAPER, "ours": absent,
         "gap": "—"}])
    shown, note = report.summary_for_page(summary)
    assert list(shown["run"]) == ["hadamrnn", "fastrnn"] and "gap" not in shown.columns
    assert note.startswith("2 rows; the paper's number is available for 1 of them. Left out, empty in every "
                           "row: gap.")
    assert "3 more rows have no number yet" in note
    assert "- copy, paper's budget, `lstm`: not run yet; does not fit here, 13.0 h on one core." in note
    # a run missing for the same reason at both budgets is one line
    assert f"- copy, paper's budget and {cpu}, `gru`: an entry in data/paper, not trained by `copy`." in note
    one = report.summary_for_page(summary.iloc[:1])[1]
    assert one == "1 row; the paper's number is available for 0 of them. Left out, empty in every row: gap."


def test_a_page_without_a_paper_record_says_so_and_names_the_runs_that_do_not_fit():
    _copy("cpu", "hadamrnn", 0.0196, 0.1)
    cpu = results.load_record("copy", "cpu")
    note = report.paper_budget_note("copy", cpu)
    assert "has not been run yet" in note and "data/results/copy/paper.json" in note
    assert "No measured cost" in note
    _costs([_cost("copy", "hadamrnn", 0.09, 40_000), _cost("copy", "ornn", 2.7, 40_000),
            {"experiment": "imdb", "run": "hadamrnn", "measured": False, "reason": "no IMDB here"}])
    note = report.paper_budget_note("copy", cpu)
    assert "has not been run yet" in note
    assert "**Runs that do not fit this machine** (over 12 hours" in note
    assert "`ornn` (2.7 s per step × 40,000 steps ≈ 30.0 h)" in note
    assert "`hadamrnn` (" not in note  # 1.0 h: it fits, so it is not named among those that do not
    assert "fedcba9" in note  # which measurement
    frame = report.paper_budget_frame("copy").set_index("run")
    assert frame.loc["hadamrnn", "fits here"] == "yes (≤ 12 h)"
    assert frame.loc["ornn", "fits here"] == "no (> 12 h)"
    assert frame.loc["lstm", "fits here"] == "no measured cost"
    # with a paper record, a run that does not fit is named once, with its cost, not also as "not run"
    _copy("paper", "hadamrnn", 1e-6, 1.0)
    note = report.paper_budget_note("copy")
    not_run = next(line for line in note.split("\n\n") if line.startswith("Not run at the paper's budget"))
    assert "`lstm`" in not_run and "`ornn`" not in not_run
    assert "`ornn` (2.7 s per step × 40,000 steps ≈ 30.0 h)" in note
    # recorded, though its cost now measures past the line (a slower day): not named as not fitting
    _costs([_cost("copy", "hadamrnn", 2.0, 40_000), _cost("copy", "ornn", 2.7, 40_000),
            {"experiment": "imdb", "run": "hadamrnn", "measured": False, "reason": "no IMDB here"}])
    note = report.paper_budget_note("copy")
    assert "`hadamrnn` (" not in note and "`ornn` (2.7 s per step" in note
    assert set(frame["at the paper's budget"]) == {report.NOT_RUN_AT_PAPER}
    assert report.paper_budget_frame("copy", fits_hours=40).set_index("run").loc["ornn", "fits here"] == \
        "yes (≤ 40 h)"
    # the runs without a measured cost are named, with the command that measures them
    assert "No measured cost for `block-hadamrnn`, `lstm`, `fastgrnn` (" in note
    assert "benchmarks/paper_costs.py --experiments copy` measures them" in note
    # a run that could not be measured is not sent to measure it again: its reason is in the frame
    imdb = report.paper_budget_note("imdb")
    assert "No measured cost for" in imdb and "`hadamrnn`" not in imdb.split("No measured cost for")[1]
    assert report.paper_budget_frame("imdb").set_index("run").loc["hadamrnn", "fits here"] == \
        "not measured: no IMDB here"


def test_an_experiment_without_cost_rows_is_not_said_to_fit_and_rows_say_when_they_were_measured():
    _costs([_cost("copy", "hadamrnn", 0.09, 40_000)])
    note = report.paper_budget_note("copy-released")
    assert "fits this machine" not in note and "do not fit" not in note
    assert "No measured cost for `block-hadamrnn-n512-m16-p2`" in note
    # a row measured by a later call says so; the others keep the record's provenance
    _costs([_cost("copy", "hadamrnn", 0.09, 40_000),
            {**_cost("copy-released", "block-hadamrnn-n512-m16-p2", 0.3, 40_000),
             "measured_at": {"commit": "0123456789ab", "date": "2026-12-05T07:00:00"}}])
    assert "commit 0123456 on 2026-12-05" in report.paper_budget_note("copy-released")
    assert "commit fedcba9 on 2026-12-02" in report.paper_budget_note("copy")


def test_each_projection_is_held_against_the_wall_time_its_runs_took():
    from qornn import benchmark_report as bench

    _copy("paper", "hadamrnn", 1e-6, 1.0)  # 2 s recorded
    _copy("paper", "hadamrnn", 1e-6, 1.0, seed=1)
    costs = {"runs": [{"experiment": "copy", "run": run, "measured": True, "projected_hours": hours}
                      for run, hours in (("hadamrnn", 1 / 3600), ("ornn", 1.0))]}
    check = bench.projection_check(costs)
    assert list(check["seed"]) == [0, 1] and list(check["recorded / projected"]) == [2.0, 2.0]
    assert "**2 took longer than projected**: recorded / projected is 2.00 at the median" in \
        bench.projection_check_text(check)
    assert bench.projection_check_text(check.iloc[:0]).startswith("No run recorded at the paper's budget")
    # a run resumed at another thread count ran at both: the table says so, not the last start's alone
    record = results.load_record("copy", "paper")
    cpu = "x86_64 (2 cores, {} torch threads)"
    record["runs"]["hadamrnn"]["provenance"]["segments"] = [
        {"device": "cpu", "device_name": cpu.format(1), "from_step": 0, "to_step": 5},
        {"device": "cpu", "device_name": cpu.format(2), "from_step": 5, "to_step": 9}]
    results.atomic_write_json(results.record_path("copy", "paper"), record)
    assert list(bench.projection_check(costs)["threads"].fillna("—")) == ["1 and 2", "—"]


def test_a_run_still_training_is_held_against_its_projection_at_its_own_pace():
    from qornn import benchmark_report as bench

    costs = {"runs": [{"experiment": "copy", "run": "block-hadamrnn", "measured": True,
                       "projected_hours": 2.0}]}
    assert bench.pace_check(costs).empty and bench.pace_check_text(bench.pace_check(costs)) == ""
    config = get_config("copy", "paper")
    digest = results.config_hash(config.run_config("block-hadamrnn", 0))
    checkpoint = results.runs_dir("paper") / "copy" / "paper" / "block-hadamrnn" / f"{digest}.pt"
    checkpoint.parent.mkdir(parents=True)
    # a quarter of its steps in 1.5 h: 6 h at that pace, 3 times the 2 h projected
    steps = config.train_config("block-hadamrnn").epochs * 4_000
    torch.save({"state": {"epoch": 2, "step": 0, "global_step": steps // 4, "elapsed": 5_400.0},
                "config": {"epochs": 10, "batch_size": 128}}, checkpoint)
    pace = bench.pace_check(costs)
    assert len(pace) == 1 and pace.loc[0, "at its pace, h"] == pytest.approx(6.0)
    assert pace.loc[0, "pace / projected"] == pytest.approx(3.0)
    assert "whole run takes 3.00 times its projected hours" in bench.pace_check_text(pace)


def test_a_run_under_way_is_named_before_any_run_is_recorded_at_the_paper_budget():
    config = get_config("copy", "paper")
    digest = results.config_hash(config.run_config("block-hadamrnn", 0))
    checkpoint = results.runs_dir("paper") / "copy" / "paper" / "block-hadamrnn" / f"{digest}.pt"
    checkpoint.parent.mkdir(parents=True)
    torch.save({"state": {"epoch": 2, "step": 0, "global_step": 8_000, "elapsed": 3_600.0},
                "config": {"epochs": 10, "batch_size": 128}}, checkpoint)
    note = report.paper_budget_note("copy")
    assert "**The paper's budget has not been run yet** for `copy`" in note
    assert "continues each): `block-hadamrnn`." in note


def test_the_paper_budget_frame_counts_seeds_and_sees_an_unfinished_run():
    _copy("paper", "hadamrnn", 1e-6, 1.0)
    _copy("paper", "hadamrnn", 2e-6, 1.0, seed=1)
    config = get_config("copy", "paper")
    digest = results.config_hash(config.run_config("block-hadamrnn", 0))
    checkpoint = results.runs_dir("paper") / "copy" / "paper" / "block-hadamrnn" / f"{digest}.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"not read")
    status = report.paper_budget_frame("copy").set_index("run").loc["block-hadamrnn", "at the paper's budget"]
    assert status.startswith(report.NOT_RUN_AT_PAPER) and "a checkpoint exists but cannot be read" in status
    # a run stopped after 8,000 of its 40,000 steps: how far it got and the command that continues it
    torch.save({"state": {"epoch": 2, "step": 0, "global_step": 8_000, "elapsed": 3_600.0},
                "config": {"epochs": 10, "batch_size": 128}}, checkpoint)
    frame = report.paper_budget_frame("copy").set_index("run")
    assert frame.loc["hadamrnn", "at the paper's budget"] == "recorded, 2 seeds (0, 1)"
    assert frame.loc["block-hadamrnn", "at the paper's budget"] == (
        "in progress at the paper's budget (8,000 of 40,000 optimiser steps, 20%; 1.0 h trained, about "
        "4.0 h to go at its pace so far; continue with `qornn run copy --profile paper --runs "
        "block-hadamrnn`)")
    assert frame.loc["ornn", "at the paper's budget"] == report.NOT_RUN_AT_PAPER
    note = report.paper_budget_note("copy", results.load_record("copy", "paper"))
    assert "**Recorded at the paper's budget**" in note and "`hadamrnn`" in note
    # in progress and not run yet, each on a line of its own, never both
    assert "In progress at the paper's budget (`qornn checkpoints --profile paper` gives the command that " \
           "continues each): `block-hadamrnn`." in note
    not_run = next(line for line in note.split("\n\n") if line.startswith("Not run at the paper's budget"))
    assert "`block-hadamrnn`" not in not_run and "`ornn`" in not_run
    verdicts = report.copy_verdicts(["block-hadamrnn", "ornn"]).set_index("run")
    assert list(verdicts["verdict"]) == [report.IN_PROGRESS_AT_PAPER, report.NOT_RUN_AT_PAPER]
    assert "- **Block-HadamRNN**: in progress at the paper's budget (8,000 of 40,000 optimiser steps" \
        in report.copy_verdict_text(verdicts.reset_index())
    # a paper record from code this checkout does not have is flagged, as a page's own record is
    assert "**Check before trusting the paper's-budget numbers:**" in note
    assert "made at commit 89abcdef, which this checkout does not have" in note
    assert "block-hadamrnn**: part of profile" not in note  # named once, above, not again
    summary = report.paper_budget_summary({"copy": ("copy", "loss"), "pMNIST": ("pmnist", "accuracy")})
    assert list(summary["recorded at the paper's budget"]) == ["hadamrnn", report.NOT_RUN_AT_PAPER]
    # each run in one column: the unfinished one in progress, with how far it got, and not again
    copy = summary.set_index("task").loc["copy"]
    assert copy["in progress (from its checkpoint)"] == \
        "block-hadamrnn (8,000 of 40,000 optimiser steps, 20%; 1.0 h trained, about 4.0 h to go at its " \
        "pace so far)"
    outside_parentheses = r", (?![^(]*\))"
    named = [run.split(" (")[0] for column in summary.columns[2:]
             for run in re.split(outside_parentheses, copy[column])
             if run not in ("—", report.NOT_RUN_AT_PAPER)]
    assert sorted(named) == sorted(get_config("copy", "paper").models)
    # a PTQ run trains nothing itself, but trains its float source first until that is recorded
    qornn = report.paper_budget_frame("qornn-copy").set_index("run")
    assert qornn.loc["ptq-bjorck-5bit", "fits here"] == \
        "no measured cost; trains nothing itself, but first trains ornn-bjorck, which it quantizes"
    qornn_summary = report.paper_budget_summary({"copy": ("qornn-copy", "loss")})
    config = get_config("qornn-copy", "paper")
    assert qornn_summary.loc[0, "not run yet, cost not measured"] == \
        ", ".join(run for run in config.models if config.source_run(run) is None)
    # the PTQ runs apart, after their source: not five more long trainings
    assert qornn_summary.loc[0, "post-training quantizations, seconds once their source is trained"] == (
        "ptq-bjorck-3bit, ptq-bjorck-4bit, ptq-bjorck-5bit, ptq-bjorck-6bit, ptq-bjorck-8bit "
        "(of ornn-bjorck); ptq-projunn-3bit, ptq-projunn-4bit, ptq-projunn-5bit, ptq-projunn-6bit, "
        "ptq-projunn-8bit (of ornn-projunn)")
    _costs([_cost("qornn-copy", "ornn-bjorck", 2.0, 40_000),
            _cost("qornn-copy", "ornn-projunn", 0.1, 40_000)])
    qornn = report.paper_budget_frame("qornn-copy").set_index("run")
    assert qornn.loc["ptq-bjorck-5bit", "fits here"].startswith("no (> 12 h); trains nothing itself")
    assert qornn.loc["ptq-projunn-5bit", "fits here"].startswith("yes (≤ 12 h); trains nothing itself")
    assert qornn.loc["ptq-bjorck-5bit", "projected hours (1 core)"] == pytest.approx(2.0 * 40_000 / 3600)
    summary = report.paper_budget_summary({"copy": ("qornn-copy", "loss")}).loc[0]
    assert "ornn-bjorck (22.2 h)" in summary["do not fit here (> 12 h on one core)"]
    assert "ptq-" not in summary["do not fit here (> 12 h on one core)"] + summary["not run yet, fit here"]
    note = report.paper_budget_note("qornn-copy")
    # the PTQ runs apart on the page too, as in the summary: not among the runs that do not fit
    too_long = next(line for line in note.split("\n\n") if line.startswith("**Runs that do not fit"))
    assert "ptq-" not in too_long
    assert "Post-training quantizations not run yet, seconds each once their source is trained: " \
           "`ptq-bjorck-3bit`, `ptq-bjorck-4bit`, `ptq-bjorck-5bit`, `ptq-bjorck-6bit`, `ptq-bjorck-8bit` " \
           "(of `ornn-bjorck`)" in note
    assert "`ornn-bjorck` (2 s per step × 40,000 steps ≈ 22.2 h)" in note  # a trained run: its own cost
    _copy("paper", "ornn-bjorck", 0.02, 0.5, experiment="qornn-copy")  # recorded: quantizing is all left
    assert report.paper_budget_frame("qornn-copy").set_index("run").loc["ptq-bjorck-5bit", "fits here"] == \
        "yes: trains nothing, quantizes the recorded ornn-bjorck"


def test_a_variant_made_with_overrides_is_shown_alone_and_without_a_paper_note():
    _copy("paper", "hadamrnn", 1e-6, 1.0)
    _copy("cpu", "hadamrnn", 0.0196, 0.1)
    variant = {**results.load_record("copy", "cpu"), "variant": "hidden_size=8",
               "overrides": {"hidden_size": 8}}
    assert list(report.budget_seed_records("copy", variant)) == ["cpu"]
    assert report.paper_budget_note("copy", variant) == ""


# --- the authors' released notebook: labelled, sourced, apart from the paper's numbers -------------------

def test_a_reference_beside_a_run_that_does_not_fit_says_its_cost():
    references = report.load_paper_numbers("references")
    _costs([_cost("copy-released", "block-hadamrnn-n512-m16-p2", 1.2, 40_000)])  # 13.3 h: over the line
    table = report.reference_table(references, "cpu", experiment="copy")
    assert set(table[f"ours, {report.PAPER_BUDGET}"]) == {
        "not run at the paper's budget yet; does not fit here, 13.3 h on one core"}


def test_released_notebook_numbers_are_labelled_sourced_and_never_the_papers():
    references = report.load_paper_numbers("references")
    table = report.reference_table(references, "cpu", experiment="copy")
    assert set(table["kind"]) == {report.RELEASED_NOTEBOOK} == {"authors' released notebook"}
    assert all("released notebook" in source and "c8ae6cb" in source for source in table["source"])
    assert "9.904e-08" in set(table["reference value"])
    assert set(table[f"ours, {report.PAPER_BUDGET}"]) == {"not run at the paper's budget yet"}
    # a run in progress says how far it got
    from qornn.checkpoints import checkpoint_path

    checkpoint = checkpoint_path("copy-released", "paper", "block-hadamrnn-n512-m16-p2")
    checkpoint.parent.mkdir(parents=True)
    torch.save({"state": {"epoch": 2, "step": 1_600, "global_step": 9_600, "elapsed": 3_672.0},
                "config": {"epochs": 10, "batch_size": 128}}, checkpoint)
    progress = report.reference_table(references, "cpu", experiment="copy")[f"ours, {report.PAPER_BUDGET}"]
    assert set(progress) == {"in progress at the paper's budget (9,600 of 40,000 optimiser "
                             "steps, 24%; 1.0 h trained, about 3.2 h to go at its pace so far; continue "
                             "with `qornn run copy-released "
                             "--profile paper --runs block-hadamrnn-n512-m16-p2`)"}
    checkpoint.unlink()
    whole = report.reference_table(references, "cpu")
    assert set(whole["kind"]) == {report.RELEASED_NOTEBOOK, report.LITERATURE_ANCHOR}
    hadamrnn_chapter = report.reference_table(references, "cpu", experiment=("copy", "pmnist", "smnist"))
    assert set(hadamrnn_chapter["task"]) == {"copy", "pmnist", "smnist"} < set(whole["task"])
    # the paper's copy numbers remain "not available": a released-notebook value is never among them
    paper = report.load_paper_numbers("hadamrnn")
    copy = [e for e in paper["entries"] if e["experiment"] == "copy"]
    assert copy and all(e["value"] is None and e["status"] == report.NOT_AVAILABLE for e in copy)
    # ours: the released notebook's own model (experiment copy-released), not the copy table's runs
    assert set(table["our run"]) == {"block-hadamrnn-n512-m16-p2"}
    released = "block-hadamrnn-n512-m16-p2"
    _copy("paper", released, 3e-7, 1.0, experiment="copy-released")
    _copy("cpu", released, 0.015, 0.5, experiment="copy-released")
    _copy("paper", "block-hadamrnn", 3e-7, 1.0)
    table = report.reference_table(references, "cpu", experiment="copy")
    # the float-activation reference beside our test loss; the 12-bit one beside our activation PTQ,
    # which a HadamRNN record does not have
    assert list(table[f"ours, {report.PAPER_BUDGET}"]) == [
        "3e-07, 1 seed, T = 1,000", report.NO_ACTIVATION_PTQ.format(bits=12)]  # how many seeds, even for one
    assert list(table["ours"]) == ["0.015, 1 seed, T = 1,000", report.NO_ACTIVATION_PTQ.format(bits=12)]
    _copy("cpu", "block-hadamrnn", 0.015, 0.5)
    compared = report.budget_comparison("copy", results.load_record("copy", "cpu"), paper)
    assert "9.904e-08" not in set(compared["paper value"])
    assert set(compared.loc[compared["run"] == "block-hadamrnn", "paper value"]) <= {
        report.NOT_AVAILABLE, report.NOT_IN_PAPER, report.NOT_KNOWN}


def test_the_qornn_authors_released_copy_run_stands_beside_our_run_of_that_model():
    references = report.load_paper_numbers("references")
    table = report.reference_table(references, "cpu", experiment="qornn-copy")
    # the file's two values, as the page prints them: float activations first, then 12-bit activations
    entries = [e for e in references["entries"] if e["experiment"] == "qornn-copy"]
    assert [e["ours"].get("activation_bits") for e in entries] == [None, 12]
    shown = [float(value) for value in table["reference value"]]
    assert shown == pytest.approx([e["value"] for e in entries], rel=1e-3)
    # the trained model's own evaluation (notebook cell 83), not cell 110's rescaled copy of its weights
    assert all("cell 83" in source and "cell 110" not in source for source in table["source"])
    assert set(table["our run"]) == {"qornn-ste-bjorck-6bit-n256-modrelu"}
    assert all("released notebook" in source and "c8ae6cb" in source for source in table["source"])
    # the paper's own QORNN copy numbers stay "not available"
    paper = report.load_paper_numbers("qornn")
    assert all(e["value"] is None for e in paper["entries"] if e["experiment"] == "copy")
    run = "qornn-ste-bjorck-6bit-n256-modrelu"
    ptq = {"activation_ptq": {"12": {"loss": 2e-4, "recall_accuracy": 0.99},
                              "float": {"loss": 1e-4, "recall_accuracy": 1.0}}}
    _copy("paper", run, 1e-4, 1.0, experiment="qornn-copy-released", analysis=ptq)
    table = report.reference_table(references, "cpu", experiment="qornn-copy")
    assert list(table[f"ours, {report.PAPER_BUDGET}"]) == ["0.0001, 1 seed, T = 1,000",
                                                           "0.0002, 1 seed, T = 1,000"]
    assert set(table["our hidden"]) == {"—"}  # not recorded at cpu
    assert set(table[f"our hidden, {report.PAPER_BUDGET}"]) == {"256"}  # its size where it is recorded


def test_a_reference_without_its_kind_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("QORNN_PAPER_DIR", str(tmp_path / "paper"))
    (tmp_path / "paper").mkdir()
    source = {"paper": "Someone", "arxiv": "0000.00000", "version": "v1", "table": "Table 1"}
    entry = {"experiment": "copy", "run": "theirs", "metric": "loss", "value": 0.1, "source": source}
    (tmp_path / "paper" / "references.yaml").write_text(yaml.safe_dump({"entries": [entry]}))
    with pytest.raises(report.PaperNumbersError, match="kind must be one of"):
        report.reference_table(report.load_paper_numbers("references"), "cpu")


# --- the copy-task verdict ---------------------------------------------------------------------------

def test_the_copy_verdict_follows_its_stated_rule():
    threshold = report.SOLVED_LOSS_FRACTION * MEMORYLESS
    assert "0.1 × the memoryless baseline" in report.COPY_RULE and "99%" in report.COPY_RULE

    def run(loss, recall):
        return {"test": {"loss": loss, "recall_accuracy": recall},
                "baselines": {"memoryless_cross_entropy": MEMORYLESS}}

    assert report.solves_copy(run(threshold, 0.99))  # both bounds included
    assert not report.solves_copy(run(threshold * 1.01, 1.0))  # loss too high
    assert not report.solves_copy(run(1e-7, 0.98))  # recall too low
    assert not report.solves_copy(run(MEMORYLESS, 0.125))  # the memoryless model
    with pytest.raises(ValueError, match="memoryless_cross_entropy"):
        report.solves_copy({"test": {"loss": 0.0, "recall_accuracy": 1.0}, "baselines": {}})


def test_copy_verdicts_pass_fail_and_missing():
    verdicts = report.copy_verdicts().set_index("run")
    assert list(verdicts["verdict"]) == [report.NOT_RUN_AT_PAPER] * 2
    text = report.copy_verdict_text(verdicts.reset_index())
    assert "**HadamRNN**: not run at the paper's budget yet" in text
    assert "**Block-HadamRNN**: not run at the paper's budget yet" in text
    # the float baselines, for reference, named as the pages name them
    text = report.copy_verdict_text(report.copy_verdicts(report.COPY_VERDICT_RUNS))
    assert "**The float ORNN**: not run at the paper's budget yet" in text and "**FastGRNN**:" in text

    _copy("paper", "hadamrnn", 0.0196, 0.0)  # at the baseline: fails
    _copy("paper", "block-hadamrnn", 1e-6, 1.0)  # passes
    _copy("cpu", "hadamrnn", 1e-9, 1.0)  # a cpu run never decides the paper's verdict
    verdicts = report.copy_verdicts().set_index("run")
    assert verdicts.loc["hadamrnn", "verdict"] == "does not solve the copy task"
    assert verdicts.loc["block-hadamrnn", "verdict"] == "solves the copy task"
    assert verdicts.loc["hadamrnn", "threshold"] == report._fmt(0.1 * MEMORYLESS)
    assert verdicts.loc["hadamrnn", "note"] == ""  # recorded with the current paper configuration
    text = report.copy_verdict_text(verdicts.reset_index())
    assert "**HadamRNN does not solve the copy task** at the paper's budget" in text
    assert "**Block-HadamRNN solves the copy task** at the paper's budget" in text
    assert "recall 0.0% against the 99% required" in text  # both halves of the rule, each with its bound

    # runs=None: every run of the experiment's paper profile, the released configuration named in words
    _copy("paper", "block-hadamrnn-n512-m16-p2", 1e-7, 1.0, experiment="copy-released")
    released = report.copy_verdicts(None, experiment="copy-released")
    assert list(released["run"]) == list(get_config("copy-released", "paper").models)
    assert report.copy_verdict_text(released).startswith(
        "- **Block-HadamRNN at the authors' released configuration (hidden 512, blocks of 16, 2-bit U and V)"
        " solves the copy task** at the paper's budget")

    _copy("paper", "block-hadamrnn", 0.02, 0.1, seed=1)  # a second seed that fails
    verdicts = report.copy_verdicts().set_index("run")
    # the rule asks every seed to solve it: the verdict says "does not solve" first, then the count
    assert verdicts.loc["block-hadamrnn", "verdict"] == \
        "does not solve the copy task (only 1 of 2 seeds does)"
    assert verdicts.loc["block-hadamrnn", "seeds"] == "2 seeds (0, 1)"
    assert verdicts.loc["block-hadamrnn", "solved seeds"] == "1 of 2"
    # seeds that disagree: each seed's numbers and verdict, since their mean says little
    assert verdicts.loc["block-hadamrnn", "per seed"] == ("seed 0: loss 1e-06, recall 100.0%, solved; "
                                                          "seed 1: loss 0.02, recall 10.0%, not solved")
    text = report.copy_verdict_text(verdicts.reset_index())
    assert "Per seed: seed 0: loss 1e-06, recall 100.0%, solved; seed 1: loss 0.02" in text
    assert text.count("Per seed") == 1  # not for a run recorded at one seed
    assert "**Block-HadamRNN does not solve the copy task (only 1 of 2 seeds does)** at the paper's" in text


def test_a_seed_the_optimiser_froze_is_said_not_to_have_trained():
    """A recorded seed whose checkpoint has most of its entries frozen by a non-finite Adam state did
    not train: the verdict's note and the grid say so, read from the checkpoint of that seed's
    recorded configuration."""
    _copy("paper", "hadamrnn", 0.02, 0.013)
    _copy("paper", "hadamrnn", 0.02, 0.1, seed=1)
    record = results.load_record("copy", "paper")["runs"]["hadamrnn"]
    folder = results.runs_dir("paper") / "copy" / "paper" / "hadamrnn"
    folder.mkdir(parents=True, exist_ok=True)

    def checkpoint(name: str, v: torch.Tensor) -> None:
        state = {"state": {0: {"exp_avg_sq": v}}, "param_groups": []}
        torch.save({"model": {}, "optimizer": state, "scheduler": {}, "config": {}, "state": {}},
                   folder / f"{name}.pt")

    inf = float("inf")
    checkpoint(record["config_hash"], torch.tensor([inf, inf, inf, 1.0]))  # 75%: did not train
    assert report.frozen_seeds("copy", "paper", "hadamrnn", {0: record}) == {0: (3, 4)}
    checkpoint(record["config_hash"], torch.tensor([inf, 1.0, 1.0, 1.0]))  # 25%: it trained
    assert report.frozen_seeds("copy", "paper", "hadamrnn", {0: record}) == {}
    checkpoint(record["config_hash"], torch.tensor([inf, inf, inf, 1.0]))
    verdicts = report.copy_verdicts(["hadamrnn"]).set_index("run")
    assert verdicts.loc["hadamrnn", "frozen seeds"] == "0"  # seed 1 has no checkpoint: not judged
    assert "seed 0 did not train: the optimiser froze 3 of its 4 trained entries (75.0%" in (
        verdicts.loc["hadamrnn", "note"])
    grid = report.copy_verdict_grid(verdicts.reset_index(), {"hadamrnn": {"model": "ornn-bjorck"}})
    assert grid.loc[0, "float"] == "not solved (5.7% ± 6.2 points; seed 0 did not train)"
    # the tables' seeds cell says it too: their mean is over a seed that did not train
    table = report.budget_comparison("copy", results.load_record("copy", "paper"),
                                     report.load_paper_numbers("hadamrnn")).set_index(["run", "metric"])
    assert table.loc[("hadamrnn", "loss"), "seeds"] == "2 seeds (0, 1); seed 0 did not train"


def test_a_verdict_from_another_configuration_says_so():
    _copy("paper", "hadamrnn", 1e-6, 1.0)
    record = results.load_record("copy", "paper")
    record["runs"]["hadamrnn"]["config_hash"] = "0" * 16
    results.atomic_write_json(results.record_path("copy", "paper"), record)
    note = report.copy_verdicts(["hadamrnn"]).iloc[0]["note"]
    assert note.startswith("recorded with a configuration other than the current `paper` profile's")


# --- seeds: mean ± standard deviation in the tables, the spread in the figures ----------------------------

def test_tables_show_mean_and_standard_deviation_over_seeds():
    _mnist("pmnist", "cpu", "hadamrnn", 0.80)
    _mnist("pmnist", "cpu", "hadamrnn", 0.60, seed=1)
    _mnist("pmnist", "cpu", "hadamrnn", 0.75, seed=2)
    _mnist("pmnist", "cpu", "ornn", 0.90)
    seeds = report.seed_records("pmnist", "cpu")
    assert list(seeds) == [0, 1, 2]
    table = report.budget_comparison("pmnist", seeds[0], report.load_paper_numbers("hadamrnn"))
    rows = table[table["metric"] == "accuracy"].set_index("run")
    values = [0.80, 0.60, 0.75]
    mean, std = statistics.mean(values), statistics.stdev(values)
    assert rows.loc["hadamrnn", "ours"] == f"{100 * mean:.1f}% ± {100 * std:.1f} points"
    assert rows.loc["hadamrnn", "seeds"] == "3 seeds (0, 1, 2)"
    assert rows.loc["ornn", "ours"] == "90.0%" and rows.loc["ornn", "seeds"] == "1 seed"
    # the record column names every record the mean reads, the page's first
    where = rows.loc["hadamrnn", "record"].split("; ")
    assert "data/results/pmnist/cpu.json @ " in where[0] and len(where) == 3
    assert where[1].startswith("seed 1: ") and "data/results/pmnist/variants/cpu/seed=1.json @ " in where[1]
    assert where[2].startswith("seed 2: ") and "; seed" not in rows.loc["ornn", "record"]
    assert report.mean_std(values) == pytest.approx((mean, std, 3))
    assert report.mean_std([0.5]) == (0.5, None, 1)
    assert report.mean_std_cell([0.0196, 0.0198], "loss") == "0.0197 ± 0.00014"
    assert report.mean_std_cell([1185.0, 1637.0], "loss") == "1411 ± 320"  # not "± 3.2e+02"
    assert report.mean_std_cell([1e22, 3e22], "loss") == "2e+22 ± 1.4e+22"
    # seeds 100 times apart or more (one solved, one blew up): their range, no mean and no spread
    assert report.mean_std_cell([0.02844, 2984.0], "loss") == \
        "0.02844 to 2984 (seeds over 100× apart: no mean)"
    assert report.mean_std_cell([0.5, 0.004], "accuracy") == "25.2% ± 35.1 points"  # an accuracy: a mean
    assert not report.far_apart([0.03, 2.9], "loss") and report.far_apart([0.03, 3.1], "loss")
    # the page rendered at seed 1 shows the same mean over every seed
    seed1 = report.budget_comparison("pmnist", seeds[1], report.load_paper_numbers("hadamrnn"))
    assert seed1[seed1["metric"] == "accuracy"].set_index("run").loc["hadamrnn", "ours"] == \
        rows.loc["hadamrnn", "ours"]


def test_vs_chance_counts_the_seeds_at_chance_where_they_disagree():
    _copy("paper", "hadamrnn", 0.084, 0.0)  # fails: worse than the memoryless baseline
    _copy("paper", "hadamrnn", 8e-7, 1.0, seed=1)  # solves the task
    _copy("paper", "block-hadamrnn", 0.03, 0.0)
    _copy("paper", "block-hadamrnn", 0.04, 0.0, seed=1)  # both fail
    _copy("paper", "ornn", 1e-3, 0.9)
    _copy("paper", "ornn", 2e-3, 0.8, seed=1)  # both learn
    seeds = report.seed_records("copy", "paper")
    table = report.comparison_table(seeds[0], None, seeds=seeds)
    assert "vs chance" not in table  # without the paper's numbers the table has no such column
    table = report.budget_comparison("copy", seeds[0], report.load_paper_numbers("hadamrnn"))
    rows = table[table["metric"] == "loss"].set_index("run")["vs chance"]
    worse = report.at_chance(results.load_record("copy", "paper")["runs"]["hadamrnn"], "loss")
    assert worse.startswith("worse than chance")
    assert rows["hadamrnn"] == f"1 of 2 seeds: {worse}"  # the mean (0.042) alone would say "worse"
    assert rows["block-hadamrnn"].startswith("worse than chance")  # every seed: said of the mean
    assert rows["ornn"] == ""


def test_a_seed_recorded_with_another_configuration_is_not_averaged_in():
    _mnist("pmnist", "cpu", "hadamrnn", 0.80)
    _mnist("pmnist", "cpu", "hadamrnn", 0.20, seed=1, hidden_size=32)
    seeds = report.seed_records("pmnist", "cpu")
    assert report.seed_values(seeds[0], "hadamrnn", "accuracy", seeds) == {0: 0.80}
    table = report.comparison_table(seeds[0], None, seeds=seeds).set_index(["run", "metric"])
    assert table.loc[("hadamrnn", "accuracy"), "seeds"] == "1 seed"


def test_the_seeds_of_a_post_training_quantization_are_averaged_in_though_their_sources_differ():
    # a PTQ run's configuration holds its float source's, trained at the same seed as the run
    def record(seed, accuracy, source_hidden=512):
        source = {"model": {"model": "ornn-bjorck", "hidden_size": source_hidden}, "seed": seed}
        config = {"model": {"ptq_of": "ornn-bjorck", "bits": 4}, "source": source, "seed": seed}
        return {"variant": f"seed={seed}" if seed else "",
                "runs": {"ptq-bjorck-4bit": {"config": config, "test": {"accuracy": accuracy}}}}

    seeds = {0: record(0, 0.37), 1: record(1, 0.52), 2: record(2, 0.10, source_hidden=256)}
    # seed 2 quantized a source of another size: not the same experiment
    assert report.seed_values(seeds[0], "ptq-bjorck-4bit", "accuracy", seeds) == {0: 0.37, 1: 0.52}


def test_figures_show_every_seed_and_the_spread():
    _mnist("pmnist", "paper", "hadamrnn", 0.95)
    _mnist("pmnist", "paper", "hadamrnn", 0.93, seed=1)
    _mnist("pmnist", "cpu", "hadamrnn", 0.80)
    _mnist("pmnist", "cpu", "hadamrnn", 0.60, seed=1)
    by_budget = report.budget_seed_records("pmnist", results.load_record("pmnist", "cpu"))
    assert list(by_budget) == ["paper", "cpu"]
    ax = report.plot_seed_spread(by_budget, "accuracy")
    dots = [line for line in ax.get_lines() if line.get_linestyle() == "None" and line.get_marker() == "o"]
    assert sorted(sorted(line.get_ydata()) for line in dots) == [[0.6, 0.8], [0.93, 0.95]]
    bars = [c for c in ax.containers if c.has_yerr]
    assert len(bars) == 2  # one mean ± std per budget
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["paper's budget: each seed", "reduced (cpu profile): each seed", "chance (0.1)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hadamrnn"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [list(line.get_ydata()) for line in dashed] == [[0.1, 0.1]]  # the task's chance level
    plain = report.plot_seed_spread(by_budget, "accuracy", references=None)
    assert not [line for line in plain.get_lines() if line.get_linestyle() == "--"]
    # a seed stuck near 1% spans more than a factor 10, yet an accuracy keeps its linear axis, where
    # the bars are the mean ± one standard deviation that the pages' captions promise
    _mnist("pmnist", "cpu", "hadamrnn", 0.01, seed=2)
    by_budget = report.budget_seed_records("pmnist", results.load_record("pmnist", "cpu"))
    assert report.plot_seed_spread(by_budget, "accuracy").get_yscale() == "linear"
    # a run whose signs are frozen at one budget only is not the paper's model there: its tick says so,
    # and the tables that name it (history, training time) mark it too
    _mnist("pmnist", "paper", "block-hadamrnn", 0.88)
    _mnist("pmnist", "cpu", "block-hadamrnn", 0.93, learn_signs=False)
    cpu = results.load_record("pmnist", "cpu")
    ticks = [t.get_text() for t in report.plot_seed_spread(report.budget_seed_records("pmnist", cpu),
                                                           "accuracy").get_xticklabels()]
    assert ticks == ["block-hadamrnn [frozen signs at cpu]", "hadamrnn"]
    marked = {"block-hadamrnn [frozen signs]", "hadamrnn"}
    assert set(report.training_time_frame([cpu])["run"]) == marked
    assert set(report.history_frame(cpu, labelled=True)["run"]) == marked
    assert set(report.history_frame(cpu)["run"]) == {"block-hadamrnn", "hadamrnn"}  # what the plots key on


def test_a_later_seed_under_way_of_a_recorded_run_is_named_as_in_progress():
    from qornn.checkpoints import checkpoint_path

    _copy("paper", "hadamrnn", 1e-6, 1.0)
    checkpoint = checkpoint_path("copy", "paper", "hadamrnn", seed=1)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": {"epoch": 8, "step": 0, "global_step": 32_000, "elapsed": 3_600.0},
                "config": {"epochs": 10, "batch_size": 128}}, checkpoint)
    frame = report.paper_budget_frame("copy").set_index("run")
    progress = ("seed 1: 32,000 of 40,000 optimiser steps, 80%; 1.0 h trained, about 0.2 h to go at its "
                "pace so far")
    assert frame.loc["hadamrnn", "at the paper's budget"] == f"recorded, 1 seed; in progress at {progress}"
    assert frame.loc["hadamrnn", "in progress"] == progress
    note = report.paper_budget_note("copy")
    assert f"continues each): `hadamrnn` ({progress})." in note
    summary = report.paper_budget_summary({"copy": ("copy", "loss")}).loc[0]
    assert summary["recorded at the paper's budget"] == "hadamrnn"
    assert summary["in progress (from its checkpoint)"] == f"hadamrnn ({progress})"
    assert "hadamrnn" not in summary["not run yet, fit here"]
    verdict = report.copy_verdicts(["hadamrnn"]).loc[0]
    assert verdict["verdict"] == "solves the copy task" and verdict["note"] == f"in progress at {progress}"
    # a --set variant's run under way at seed 2 (its checkpoint names its options) is not the profile's
    variant = {"hadamrnn.clamp_signs": False}
    other = checkpoint.with_name(results.config_hash(get_config("copy", "paper", variant).run_config(
        "hadamrnn", 2)) + ".pt")
    torch.save({"state": {"epoch": 1, "step": 0, "global_step": 4_000, "elapsed": 360.0},
                "config": {"epochs": 10, "batch_size": 128}, "label": {"seed": 2, "overrides": variant}},
               other)
    assert report.paper_budget_frame("copy").set_index("run").loc["hadamrnn", "in progress"] == progress


def test_the_provenance_table_covers_every_budget_and_seed_a_page_draws_on():
    _mnist("pmnist", "paper", "hadamrnn", 0.95)
    _mnist("pmnist", "paper", "hadamrnn", 0.93, seed=1)
    _mnist("pmnist", "cpu", "hadamrnn", 0.80)
    _mnist("pmnist", "cpu", "fastgrnn", 0.70)
    table = report.budget_provenance_table("pmnist", results.load_record("pmnist", "cpu"))
    assert list(table.columns[:3]) == ["budget", "run", "profile"]
    assert list(zip(table["budget"], table["run"], table["seed"], strict=True)) == [
        (report.PAPER_BUDGET, "hadamrnn", 0), (report.PAPER_BUDGET, "hadamrnn", 1),
        ("reduced (cpu profile)", "fastgrnn", 0), ("reduced (cpu profile)", "hadamrnn", 0)]


def test_budgets_whose_tasks_differ_each_draw_their_own_reference_line():
    # qornn-copy's cpu profile shortens the delay (T = 200), so its memoryless loss is not the paper's
    _save("qornn-copy", "paper", "ornn-bjorck", {"loss": 7e-4, "recall_accuracy": 0.99},
          baselines={"memoryless_cross_entropy": 0.0208})
    _save("qornn-copy", "cpu", "ornn-bjorck", {"loss": 0.02, "recall_accuracy": 0.99},
          baselines={"memoryless_cross_entropy": 0.104})
    by_budget = report.budget_seed_records("qornn-copy", results.load_record("qornn-copy", "cpu"))
    ax = report.plot_seed_spread(by_budget, "loss", logy=True)
    lines = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()
             if line.get_label().startswith("memoryless")}
    assert lines == {"memoryless, paper's budget (0.0208)": 0.0208,
                     "memoryless, reduced (cpu profile) (0.104)": 0.104}
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    assert colours["paper's budget: each seed"] == colours["memoryless, paper's budget (0.0208)"]


def test_on_a_log_axis_the_bar_is_the_geometric_mean_and_the_seeds_range():
    # two seeds of a copy-task loss 1e5 apart: mean − sd is below zero
    _mnist("pmnist", "paper", "hadamrnn", 0.95)
    _mnist("pmnist", "paper", "hadamrnn", 0.93, seed=1)
    values = [1e-6, 0.1]
    by_budget = {"paper": {seed: {**record, "runs": {"hadamrnn": {
        **record["runs"]["hadamrnn"], "test": {"loss": value}}}}
        for (seed, record), value in zip(report.seed_records("pmnist", "paper").items(), values,
                                         strict=True)}}
    ax = report.plot_seed_spread(by_budget, "loss", logy=True, references=None)
    (bar,) = [c for c in ax.containers if c.has_yerr]
    centre = bar.lines[0].get_ydata()[0]
    assert math.isclose(centre, math.sqrt(1e-6 * 0.1))  # the geometric mean
    low, high = sorted(y for segment in bar.lines[2][0].get_segments() for _, y in segment)
    # the seeds' range: ×/÷ the geometric sd (e^8.1 here) reached 1.08, ten times above the worst seed
    assert (low, high) == pytest.approx((1e-6, 0.1)) and "geometric mean" in ax.get_title()
    linear = report.plot_seed_spread(by_budget, "loss", logy=False, references=None)
    (bar,) = [c for c in linear.containers if c.has_yerr]
    assert math.isclose(bar.lines[0].get_ydata()[0], sum(values) / 2)


def test_takeoff_table_finds_the_first_epoch_at_each_level():
    history = [{"epoch": e, "val": {"accuracy": a}} for e, a in enumerate([0.1, 0.2, 0.55, 0.93, 0.95], 1)]
    frozen = [{"epoch": e, "val": {"accuracy": a}} for e, a in enumerate([0.6, 0.91, 0.94], 1)]
    record = {"runs": {
        "hadamrnn": {"config": {"model": {"model": "hadamrnn"}}, "history": history,
                     "test": {"accuracy": 0.95}},
        "hadamrnn-fixed-signs": {"config": {"model": {"model": "hadamrnn", "learn_signs": False}},
                                 "history": frozen, "test": {"accuracy": 0.94}}}}
    assert report.first_epoch_reaching(record["runs"]["hadamrnn"], "accuracy", 0.5) == 3
    assert report.first_epoch_reaching(record["runs"]["hadamrnn"], "accuracy", 0.99) is None
    table = report.takeoff_table({"pMNIST": record}, ["hadamrnn", "hadamrnn-fixed-signs", "absent"],
                                 levels=(0.5, 0.9, 0.99)).set_index("run")
    assert list(table.index) == ["hadamrnn", "hadamrnn-fixed-signs"]
    assert table.loc["hadamrnn", "first epoch ≥ 0.5"] == 3
    assert table.loc["hadamrnn-fixed-signs", "first epoch ≥ 0.9"] == 2
    assert table.loc["hadamrnn", "first epoch ≥ 0.99"] == "—"
    assert table.loc["hadamrnn", "signs"] == "learned"
    assert table.loc["hadamrnn-fixed-signs", "epochs"] == 3
    assert table.loc["hadamrnn", "≥ 0.5 from epoch on"] == 3 and table.loc["hadamrnn", "falls below 0.5"] == 0


def test_level_crossings_count_the_collapses_of_a_run_that_trains_and_falls_back():
    # trains at epoch 2, collapses at 4, trains again at 5 and stays: like sMNIST's learned signs
    accuracy = [0.1, 0.92, 0.94, 0.12, 0.91, 0.95, 0.96]
    run = {"history": [{"epoch": e, "val": {"accuracy": a}} for e, a in enumerate(accuracy, 1)]}
    assert report.level_crossings(run, "accuracy", 0.5) == (5, 1)
    assert report.first_epoch_reaching(run, "accuracy", 0.5) == 2
    run["history"].append({"epoch": 8, "val": {"accuracy": 0.2}})  # ends below: never stays
    assert report.level_crossings(run, "accuracy", 0.5) == (None, 2)
    assert report.level_crossings(run, "accuracy", 0.99) == (None, 0)


def test_takeoff_text_says_when_each_run_trained_and_how_often_it_fell_back():
    def run(model, accuracy, test, **spec):
        return {"config": {"model": {"model": model, **spec}}, "test": {"accuracy": test},
                "history": [{"epoch": e, "val": {"accuracy": a}} for e, a in enumerate(accuracy, 1)]}

    unstable = {"runs": {"hadamrnn": run("hadamrnn", [0.1, 0.92, 0.12, 0.93, 0.95], 0.9629),
                         "hadamrnn-fixed-signs": run("hadamrnn", [0.93, 0.96, 0.97, 0.97, 0.97], 0.9667,
                                                     learn_signs=False)}}
    never = {"runs": {"hadamrnn": run("hadamrnn", [0.1, 0.2, 0.1], 0.1)}}
    text = report.takeoff_text(report.takeoff_table({"sMNIST": unstable, "pMNIST": never},
                                                    ["hadamrnn", "hadamrnn-fixed-signs"]))
    assert text.splitlines() == [
        "- **sMNIST**: with learned signs, validation accuracy first reached 50% at epoch 2 of 5, fell back "
        "below it 1 time, and stayed above it from epoch 4 on; with frozen signs it first reached 50% at "
        "epoch 1 of 5, and stayed above it from epoch 1 on. Test accuracy: 96.29% learned, 96.67% frozen.",
        "- **pMNIST**: with learned signs, validation accuracy never reached 50% in 3 epochs. Test accuracy "
        "10.00%; the frozen-signs run is not recorded at the paper's budget yet."]


def test_paired_gain_compares_two_runs_seed_by_seed_per_budget():
    _mnist("pmnist", "paper", "hadamrnn", 0.95)
    _mnist("pmnist", "paper", "hadamrnn-fixed-signs", 0.94)
    for seed, (learned, fixed) in enumerate([(0.50, 0.60), (0.40, 0.60), (0.70, 0.60)]):
        _mnist("pmnist", "cpu", "hadamrnn", learned, seed=seed)
        _mnist("pmnist", "cpu", "hadamrnn-fixed-signs", fixed, seed=seed)
    _mnist("pmnist", "cpu", "hadamrnn", 0.99, seed=3)  # a seed without its pair does not count
    cpu = results.load_record("pmnist", "cpu")
    text = report.paired_gain(report.budget_seed_records("pmnist", cpu), "hadamrnn", "hadamrnn-fixed-signs",
                              record=cpu)
    paper_line, cpu_line = text.splitlines()
    assert paper_line.startswith("- at the paper's budget:")
    assert "a change of +1.0 points (1 seed)" in paper_line
    # differences -10, -20, +10 points: mean -6.7, sample std 15.3
    assert "`hadamrnn` 53.3% against `hadamrnn-fixed-signs` 60.0%" in cpu_line
    assert "a change of -6.7 ± 15.3 points (3 seeds (0, 1, 2))" in cpu_line
    # a loss keeps its digits (one decimal, as for points, would write +0.0)
    _copy("paper", "hadamrnn", 0.0013, 1.0)
    _copy("paper", "block-hadamrnn", 0.0010, 1.0)
    copy = report.paired_gain(report.budget_seed_records("copy", results.load_record("copy", "paper")),
                              "hadamrnn", "block-hadamrnn", "loss")
    assert "a change of +0.0003 (1 seed)" in copy
    only = report.paired_gain({"cpu": {0: results.load_record("pmnist", "cpu")}}, "hadamrnn", "lstm")
    assert only == "- at a reduced budget (profile `cpu`): no seed recorded for both runs (lstm missing)."


# --- runs that failed ------------------------------------------------------------------------------------

def _sweep(experiment: str, profile: str, rows: list[dict]) -> None:
    """A sweep that ran ``rows`` (run, seed, status, error), logged as ``qornn sweep`` logs it."""
    from qornn import sweep

    plan = sweep.SweepPlan(experiment=experiment, profile=profile, tasks=[], skipped=[], points=[{}],
                           seeds=sorted({row["seed"] for row in rows}))
    full = [{"attempts": 1, "host": None, "variant": "", "wall_time_s": None, **row} for row in rows]
    sweep.log_sweep(sweep.SweepReport(plan=plan, rows=full), "local", {}, wall_time_s=1.0)


def test_a_run_that_failed_is_named_on_the_page_until_it_is_recorded():
    """A seed whose training diverged is in no table: the page names it, says it diverged, and stops
    naming it once a later sweep records it; a failure of another cause is not called divergence."""
    _mnist("qornn-pmnist", "cpu", "ornn-bjorck", 0.9)
    _sweep("qornn-pmnist", "cpu", [
        {"runs": "qornn-ste-bjorck-3bit", "seed": 2, "status": "failed",
         "error": "_LinAlgError: linalg.svd: ... the input matrix contained non-finite values."},
        {"runs": "qornn-ste-projunn-3bit", "seed": 1, "status": "failed", "error": "MemoryError: "},
        {"runs": "ornn-bjorck", "seed": 0, "status": "done", "error": ""}])
    failed = {(row["run"], row["seed"]): row["diverged"] for row in report.failed_runs("qornn-pmnist", "cpu")}
    assert failed == {("qornn-ste-bjorck-3bit", 2): True, ("qornn-ste-projunn-3bit", 1): False}
    note = report.paper_budget_note("qornn-pmnist", results.load_record("qornn-pmnist", "cpu"))
    assert "**Runs that failed**" in note
    assert "`qornn-ste-bjorck-3bit`, profile `cpu`, seed 2: training diverged" in note
    assert "`qornn-ste-projunn-3bit`, profile `cpu`, seed 1: it failed" in note
    # a later sweep trained it: no longer named
    _mnist("qornn-pmnist", "cpu", "qornn-ste-bjorck-3bit", 0.5, seed=2)
    done = {"runs": "qornn-ste-bjorck-3bit", "seed": 2, "status": "done", "error": ""}
    _sweep("qornn-pmnist", "cpu", [done])
    assert [row["run"] for row in report.failed_runs("qornn-pmnist", "cpu")] == ["qornn-ste-projunn-3bit"]
    assert report.failed_runs("qornn-pmnist", "paper") == []


def test_a_run_that_failed_at_the_paper_budget_is_not_called_not_run_yet():
    """The paper-budget frame, the page's lines, the chapter summary and the copy-task verdicts name a
    failed paper run as failed, with its seeds and reason, in one place each, until it is recorded."""
    _copy("paper", "qornn-ste-bjorck-6bit", 0.003, 0.9, experiment="qornn-copy")
    error = ("TrainingDiverged: qornn-copy/qornn-ste-projunn-3bit: training stopped at optimiser step 1 "
             "(epoch 1, batch 1): the optimiser's state became non-finite for recurrent.weight")
    _sweep("qornn-copy", "paper", [{"runs": "qornn-ste-projunn-3bit", "seed": seed, "status": "failed",
                                    "error": error} for seed in (0, 2)]
           + [{"runs": "qornn-ste-bjorck-6bit", "seed": 1, "status": "failed", "error": "MemoryError: "}])
    diverged = "training diverged (non-finite weights, loss or optimiser state)"
    assert [(row["run"], row["seed"]) for row in report.failed_runs("qornn-copy", "paper")] == [
        ("qornn-ste-bjorck-6bit", 1), ("qornn-ste-projunn-3bit", 0), ("qornn-ste-projunn-3bit", 2)]
    frame = report.paper_budget_frame("qornn-copy").set_index("run")
    assert frame.loc["qornn-ste-projunn-3bit", "at the paper's budget"] == (
        f"{report.FAILED_AT_PAPER}, seeds 0, 2: {diverged}")
    assert frame.loc["qornn-ste-bjorck-6bit", "at the paper's budget"] == (
        f"recorded, 1 seed; {report.FAILED_AT_PAPER}, seed 1: it failed")
    verdicts = report.copy_verdicts(["qornn-ste-projunn-3bit", "qornn-ste-bjorck-6bit"], "qornn-copy")
    assert list(verdicts["verdict"]) == [report.FAILED_AT_PAPER, "does not solve the copy task"]
    text = report.copy_verdict_text(verdicts).splitlines()
    assert text[0] == f"- **qornn-ste-projunn-3bit**: {report.FAILED_AT_PAPER} (seeds 0, 2: {diverged})."
    assert text[1].endswith(f"(1 seed); {report.FAILED_AT_PAPER}, seed 1: it failed.")
    # a table's mean over the recorded seeds says which seeds failed
    table = report.budget_comparison("qornn-copy", results.load_record("qornn-copy", "paper"),
                                     report.load_paper_numbers("qornn"), paper_experiment="copy")
    assert table.set_index(["run", "metric"]).loc[("qornn-ste-bjorck-6bit", "loss"), "seeds"] == \
        "1 seed; seed 1 failed"
    # and so do the bit-width tables under the figures
    seeds = report.seed_records("qornn-copy", "paper")
    assert report.bit_width_seed_frame(seeds).set_index("run").loc["qornn-ste-bjorck-6bit", "seeds"] == \
        "1 seed; seed 1 failed"
    gaps = report.bit_width_gap_frame(seeds, "loss", lower_is_better=True).set_index("bits")
    assert gaps.loc[6, "seeds (float / QAT / PTQ)"] == "0 / 1 / 0 (QAT: seed 1 failed)"
    assert frame.loc["qornn-ste-projunn-5bit", "at the paper's budget"] == report.NOT_RUN_AT_PAPER
    note = report.paper_budget_note("qornn-copy")
    not_run = next(line for line in note.split("\n\n") if line.startswith("Not run at the paper's budget"))
    assert "`qornn-ste-projunn-3bit`" not in not_run and "`qornn-ste-projunn-5bit`" in not_run
    assert "Failed at the paper's budget (below, under *Runs that failed*): `qornn-ste-projunn-3bit`." in note
    assert f"the error: `{error}`" in note  # whole, as the sweep logged it
    summary = report.paper_budget_summary({"copy": ("qornn-copy", "loss")}).loc[0]
    assert summary["failed (named on the task's page)"] == "qornn-ste-projunn-3bit"
    # qornn show's notes: the failed run apart from the runs never tried, at the record's seed
    from qornn.experiments import get_config

    paper = results.load_record("qornn-copy", "paper")
    shown = report.freshness_notes(paper, get_config("qornn-copy", "paper"))
    failed_line = next(line for line in shown.splitlines() if "tries it again" in line)
    assert failed_line.startswith("- **qornn-ste-projunn-3bit**: part of profile `paper` but not recorded: "
                                  f"the last try at seed 0 failed, {diverged}.")
    assert "--runs qornn-ste-projunn-3bit` tries it again." in failed_line
    untried = next(line for line in shown.splitlines() if "not recorded yet" in line)
    assert "qornn-ste-projunn-3bit" not in untried and "**qornn-ste-projunn-5bit**" in untried
    assert "qornn-ste-projunn-3bit" not in summary["not run yet, cost not measured"]
    # another seed recorded: recorded, and the failed seeds still said
    _copy("paper", "qornn-ste-projunn-3bit", 0.02, 0.1, seed=1, experiment="qornn-copy")
    assert report.paper_budget_frame("qornn-copy").set_index("run").loc[
        "qornn-ste-projunn-3bit", "at the paper's budget"] == (
        f"recorded, 1 seed; {report.FAILED_AT_PAPER}, seeds 0, 2: {diverged}")
    summary = report.paper_budget_summary({"copy": ("qornn-copy", "loss")}).loc[0]
    assert "qornn-ste-projunn-3bit (seeds failed: 0, 2)" in summary["recorded at the paper's budget"]
    assert summary["failed (named on the task's page)"] == "—"
    # the failed seeds recorded later (retries that trained): no longer failed
    _copy("paper", "qornn-ste-projunn-3bit", 0.02, 0.1, experiment="qornn-copy")
    _copy("paper", "qornn-ste-projunn-3bit", 0.02, 0.1, seed=2, experiment="qornn-copy")
    assert report.paper_budget_frame("qornn-copy").set_index("run").loc[
        "qornn-ste-projunn-3bit", "at the paper's budget"] == "recorded, 3 seeds (0, 1, 2)"


# --- why a copy-task seed fails ----------------------------------------------------------------------

def test_the_constant_predictor_loss_is_the_cross_entropy_of_the_best_constant_distribution():
    from qornn.tasks import CopyTask

    task = CopyTask(length=60, symbols=5, train_size=8, val_size=8, test_size=64, seed=3)
    _, y = task.batch("test", torch.arange(64))
    p = (60 - 5) / 60
    best = torch.tensor([p] + [(1 - p) / 8] * 8)

    def loss_of(q: torch.Tensor) -> float:
        logits = q.log().expand(*y.shape, 9)
        return float(torch.nn.functional.cross_entropy(logits.reshape(-1, 9), y.reshape(-1)))

    expected = report.copy_constant_cross_entropy(60, 5)
    assert loss_of(best) == pytest.approx(expected, rel=1e-6)
    # any other constant distribution does worse, and knowing where the window is (memoryless) better
    for other in ([p + 0.005] + [(1 - p - 0.005) / 8] * 8, [p] + [(1 - p) / 4] * 4 + [1e-9] * 4):
        assert loss_of(torch.tensor(other)) > expected
    assert expected > 5 * math.log(8) / 60
    assert report.copy_constant_cross_entropy(1000) == pytest.approx(0.0768, abs=1e-4)


def test_the_blank_share_counts_the_copied_symbols_predicted_blank():
    from qornn.tasks import CopyTask

    task = CopyTask(length=30, symbols=4, train_size=8, val_size=8, test_size=10, seed=0)

    def always(cls):
        return lambda x: torch.nn.functional.one_hot(torch.full(x.shape, cls), 9).float()

    assert report._blank_share(always(0), task, batch_size=3) == 1.0
    assert report._blank_share(always(1), task, batch_size=3) == 0.0
    copier = lambda x: torch.nn.functional.one_hot(task.batch("test", torch.arange(len(x)))[1], 9).float()  # noqa: E731
    assert report._blank_share(copier, task, batch_size=10) == 0.0


def test_the_seed_diagnosis_has_a_row_per_recorded_seed_and_run():
    _copy("paper", "hadamrnn", 0.09, 0.0)
    _copy("paper", "hadamrnn", 1e-6, 1.0, seed=1)
    _copy("paper", "block-hadamrnn", 3e-4, 0.996, seed=1)
    _copy("cpu", "hadamrnn", 1e-9, 1.0)  # another budget: not shown
    frame = report.copy_seed_diagnosis()
    assert list(zip(frame["run"], frame["seed"], frame["solved"], strict=True)) == [
        ("hadamrnn", 0, False), ("hadamrnn", 1, True), ("block-hadamrnn", 1, True)]
    assert set(frame["memoryless"]) == {MEMORYLESS}
    assert "99.6%" in report.styled(frame).to_html()  # the recall as the accuracy it is
    assert frame["constant"].iloc[0] == pytest.approx(report.copy_constant_cross_entropy(1000))
    # no shipped weights nor checkpoint in the test's data, and no diagnostics in these histories
    assert frame["copied symbols predicted blank"].isna().all()
    assert frame["mean |u|, last epoch"].isna().all()
    assert frame["test loss, authors' code"].isna().all()  # no peer check recorded
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, 3)
    assert report.plot_copy_seed_dynamics(axes=axes) == [
        "hadamrnn, seed 0", "hadamrnn, seed 1", "block-hadamrnn, seed 1"]
    assert axes[0].lines[0].get_linestyle() == "--" and axes[0].lines[1].get_linestyle() == "-"
    plt.close("all")


def test_the_diagnosis_text_says_only_what_the_numbers_show():
    import pandas as pd

    def row(run, seed, solved, blank, first, last, flips):
        return {"run": run, "seed": seed, "solved": solved, "test loss": 0.09 if not solved else 1e-6,
                "memoryless": MEMORYLESS, "constant": report.copy_constant_cross_entropy(1000),
                "recall": 0.0 if not solved else 1.0, "copied symbols predicted blank": blank,
                "mean |u|, first epoch": first, "mean |u|, last epoch": last,
                "sign flips / step, last epoch": flips}

    frame = pd.DataFrame([row("hadamrnn", 0, False, 1.0, 0.09, 7e-4, 6.8),
                          row("hadamrnn", 1, True, 0.0, 0.17, 0.79, 0.0),
                          row("block-hadamrnn", 1, False, 0.0066, 0.1, 0.34, 5e-4)])
    text = report.copy_diagnosis_text(frame)
    assert "**Marker-blind:** hadamrnn seed 0 predict" in text  # the failed block seed recalls: not blind
    assert "block-hadamrnn seed 1" not in text.split("\n")[0]
    collapsed = next(line for line in text.split("\n") if "collapsed" in line)
    assert "hadamrnn seed 0 (not solved)" in collapsed and "seed 1" not in collapsed
    kept = next(line for line in text.split("\n") if "kept" in line)
    assert "hadamrnn seed 1 (solved)" in kept and "block-hadamrnn seed 1 (not solved)" in kept
    # no diagnostics recorded: no sentence about the signs
    bare = frame.assign(**{"mean |u|, first epoch": None, "mean |u|, last epoch": None})
    assert "Latent signs" not in report.copy_diagnosis_text(bare)
    assert report.copy_diagnosis_text(frame.iloc[0:0]) == ""
    assert "authors' code" not in text  # no peer check in the frame
    checked = frame.assign(**{"test loss, authors' code": [0.09 * (1 + 2e-8), 1e-6 * (1 - 7e-6), None]})
    agrees = report.copy_diagnosis_text(checked).split("\n")[-1]
    assert agrees.startswith("- **The authors' code agrees:**")
    assert "(hadamrnn seed 0, hadamrnn seed 1)" in agrees and "relative 7e-06 at most" in agrees


# --- when the signs settle ---------------------------------------------------------------------------

def _with_diagnostics(experiment: str, run: str, seed: int, flips: list[float],
                      accuracy: list[float]) -> None:
    """A paper run whose history records, per epoch, the sign flips per step and mean |u| 0.1·epoch."""
    _mnist(experiment, "paper", run, accuracy[-1], seed=seed)
    path = results.record_path(experiment, "paper", f"seed={seed}" if seed else "")
    record = json.loads(path.read_text())
    record["runs"][run]["history"] = [
        {"epoch": e + 1, "lr": 1e-3, "train_loss": 1.0, "val": {"accuracy": a, "loss": 1.0},
         "wall_time_s": 1.0, "diagnostics": {"sign_flips_per_step": f, "mean_abs_u": 0.1 * (e + 1)}}
        for e, (f, a) in enumerate(zip(flips, accuracy, strict=True))]
    results.atomic_write_json(path, record)


def test_the_signs_settle_from_the_first_epoch_after_which_few_flip_to_the_end():
    def history(flips):
        return [{"epoch": e + 1, "diagnostics": {"sign_flips_per_step": f}} for e, f in enumerate(flips)]

    assert report.sign_settling_epoch(history([30, 20, 0.5, 3, 0.2, 0.0])) == 5  # the 3 resets it
    assert report.sign_settling_epoch(history([0.0, 0.0])) == 1
    assert report.sign_settling_epoch(history([0.0, 2.0])) is None  # still flipping at the end
    assert report.sign_settling_epoch([{"epoch": 1, "diagnostics": {}}]) is None  # nothing recorded


def test_the_sign_dynamics_over_seeds_in_words_and_in_a_figure():
    _with_diagnostics("pmnist", "hadamrnn", 0, [30, 25, 0.4, 0.0], [0.15, 0.2, 0.9, 0.95])
    _with_diagnostics("pmnist", "hadamrnn", 1, [28, 22, 21, 0.1], [0.12, 0.18, 0.3, 0.94])
    _with_diagnostics("pmnist", "block-hadamrnn", 0, [9, 8, 7, 5], [0.8, 0.85, 0.86, 0.88])
    _mnist("pmnist", "paper", "hadamrnn-fixed-signs", 0.9)  # no diagnostics: no line
    text = report.sign_dynamics_text("pmnist", ("hadamrnn", "block-hadamrnn", "hadamrnn-fixed-signs"),
                                     metric="accuracy")
    hadamrnn, block = text.split("\n")
    assert hadamrnn.startswith("- **hadamrnn** (2 seeds (0, 1)): mean |u| 0.1 after the first epoch, 0.4 "
                               "after the last")
    assert "settle (settled: fewer than 1 flip per step in every epoch to the end) from epoch 3 to 4" \
        in hadamrnn
    assert "validation accuracy 20.0% to 30.0% in the epoch before they settle, 94.0% to 95.0% in the last" \
        in hadamrnn
    assert block.endswith("5 signs of W flipped per optimiser step in the last epoch; the signs never settle "
                          "(settled: fewer than 1 flip per step in every epoch to the end).")
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, 3)
    drawn = report.plot_seed_sign_dynamics("pmnist", ("hadamrnn", "block-hadamrnn"), metric="accuracy",
                                           axes=axes)
    assert drawn == ["hadamrnn, seed 0", "block-hadamrnn, seed 0", "hadamrnn, seed 1"]
    assert list(axes[2].lines[0].get_ydata()) == [30, 25, 0.4, 0.0]
    assert "chance" in [line.get_label() for line in axes[0].lines]  # the task's reference line
    colours = {line.get_label(): line.get_color() for line in axes[2].lines}
    assert colours["hadamrnn, seed 0"] == colours["hadamrnn, seed 1"] != colours["block-hadamrnn, seed 0"]
    # by default a run has the colour the learning curves give it (the runs sorted)
    _, curves = plt.subplots()
    first = report.seed_records("pmnist", "paper")[0]
    report.plot_metric_curves({"experiment": "pmnist", "profile": "paper", "runs": {
        run: first["runs"][run] for run in ("hadamrnn", "block-hadamrnn")}}, "accuracy", ax=curves,
        references=None)
    assert {line.get_label().split(" (")[0]: line.get_color() for line in curves.lines
            if not line.get_label().startswith("_")} == {
        "hadamrnn": colours["hadamrnn, seed 0"], "block-hadamrnn": colours["block-hadamrnn, seed 0"]}
    plt.close("all")
    # a page's own run colours (its other figures'), by the runs' place in color_order
    _, axes = plt.subplots(1, 3)
    order = ["hadamrnn", "block-hadamrnn"]
    report.plot_seed_sign_dynamics("pmnist", ("hadamrnn", "block-hadamrnn"), metric="accuracy", axes=axes,
                                   color_order=order)
    expected = report._run_colors(order, order)
    assert {line.get_label(): line.get_color() for line in axes[2].lines} == {
        "hadamrnn, seed 0": expected["hadamrnn"], "block-hadamrnn, seed 0": expected["block-hadamrnn"],
        "hadamrnn, seed 1": expected["hadamrnn"]}
    assert expected["hadamrnn"] != colours["hadamrnn, seed 0"]  # the order changed it
    plt.close("all")
    # the pages' one call: the same text, and a figure drawn; none without diagnostics
    shown = report.show_sign_dynamics("pmnist")
    assert shown == report.sign_dynamics_text("pmnist", report.SIGN_LEARNING_RUNS, metric="accuracy")
    assert len(plt.gcf().axes[2].lines) == 3
    plt.close("all")
    assert report.show_sign_dynamics("smnist").startswith("No run with sign diagnostics")
    assert not plt.get_fignums()
    plt.close("all")


def test_a_page_shows_one_record_per_budget_its_own_for_its_profile():
    _mnist("pmnist", "paper", "hadamrnn", 0.95, seed=1)
    _mnist("pmnist", "paper", "hadamrnn", 0.93, seed=2)
    _mnist("pmnist", "cpu", "hadamrnn", 0.80)
    _mnist("pmnist", "cpu", "hadamrnn", 0.60, seed=1)
    page = report.seed_records("pmnist", "cpu")[1]  # the page rendered with seed = 1
    shown = report.budget_records("pmnist", page)
    assert list(shown) == ["paper", "cpu"]
    assert shown["cpu"] is page  # not the lowest seed's record
    assert shown["paper"]["runs"]["hadamrnn"]["test"]["accuracy"] == 0.95  # the lowest paper seed
    # a page that read the seeds already passes them: the same records, none read again
    seeds = report.budget_seed_records("pmnist", page)
    given = report.budget_records("pmnist", page, seeds)
    assert given["cpu"] is page and given["paper"] is seeds["paper"][1]


def test_a_configuration_recorded_by_two_pages_is_named_beside_each():
    """A run of the size/accuracy study may be the same configuration as a pMNIST page's run (only
    the experiment's name differs, and a default written out): its one-run table names the other
    draws, at the same seed and at others."""
    _mnist("pmnist", "paper", "block-hadamrnn", 0.892)
    _mnist("pmnist", "paper", "block-hadamrnn", 0.870, seed=1)
    _mnist("hadamrnn-size-accuracy", "paper", "block-hadamrnn-m64-p4", 0.844, learn_signs=True)
    _mnist("hadamrnn-size-accuracy", "paper", "block-hadamrnn-m16-p4", 0.898)
    record = results.load_record("hadamrnn-size-accuracy", "paper")
    text = report.same_configuration_elsewhere(record, record["runs"], "accuracy")
    assert text.startswith("At the paper's budget, the same configuration")
    assert "- `block-hadamrnn-m64-p4` (84.4% here, seed 0): `pmnist` / `block-hadamrnn`, seed 0: 89.2%; " \
           "`pmnist` / `block-hadamrnn`, seed 1: 87.0%" in text
    assert "block-hadamrnn-m16-p4" not in text  # blocks of 16: another configuration
    assert report.same_configuration_elsewhere(record, ["block-hadamrnn-m16-p4"], "accuracy") == ""


def test_a_run_that_fits_says_how_many_timed_steps_its_projection_rests_on():
    _costs([{**_cost("pmnist", "lstm", 0.434, 50_000), "step_times_s": [0.61, 0.43, 0.434]},
            _cost("pmnist", "fastgrnn", 0.2, 50_000)])
    summary = report.paper_budget_summary({"pMNIST": ("pmnist", "accuracy")}).loc[0]
    assert "lstm (6.0 h, from 3 timed steps)" in summary["not run yet, fit here"]
    assert "fastgrnn (2.8 h)" in summary["not run yet, fit here"]  # no step times kept: no count


def test_the_two_budgets_of_the_copy_task_say_their_sequence_lengths():
    """The analysis pages set the copy task's paper budget (T = 1000) beside its cpu profile (T = 200):
    each budget's title names its T, read from the runs' task options; a task without a length option
    keeps the plain budget label, and a record that mixes lengths is refused."""
    _copy("paper", "qornn-ste-bjorck-4bit", 0.03, 0.9, experiment="qornn-copy")
    _copy("cpu", "qornn-ste-bjorck-4bit", 0.08, 0.8, experiment="qornn-copy")
    page = results.load_record("qornn-copy", "cpu")
    shown = report.budget_records("qornn-copy", page)
    assert list(shown) == ["paper", "cpu"]  # the paper's budget first
    assert [report.task_length(record) for record in shown.values()] == [1000, 200]
    assert [report.budget_title(record) for record in shown.values()] == [
        f"{report.PAPER_BUDGET}, T = 1,000", f"{report.budget_label('cpu')}, T = 200"]
    _mnist("pmnist", "cpu", "hadamrnn", 0.9)
    pmnist = results.load_record("pmnist", "cpu")
    assert report.task_length(pmnist) is None and report.budget_title(pmnist) == report.budget_label("cpu")
    mixed = json.loads(json.dumps(page))
    mixed["runs"]["other"] = json.loads(json.dumps(mixed["runs"]["qornn-ste-bjorck-4bit"]))
    mixed["runs"]["other"]["config"]["task_options"]["length"] = 1000
    with pytest.raises(ValueError, match="mixes sequence lengths"):
        report.task_length(mixed)
