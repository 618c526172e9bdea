"""qornn.report on a tiny synthetic record (written through results.save_run into tmp dirs)."""

from __future__ import annotations

import copy
import math

import matplotlib

matplotlib.use("Agg")  # tests only; notebooks keep the inline backend

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from qornn import report, results  # noqa: E402

BASELINE = 10 * math.log(8) / 40


def _run(model: str, losses: list[float], test_loss: float, bits: int | None, size: int) -> dict:
    history = [{"epoch": i + 1, "lr": 0.01, "train_loss": loss, "val": {"loss": loss * 0.9,
                "recall_accuracy": 0.1 * i}, "wall_time_s": 1.0 + i} for i, loss in enumerate(losses)]
    model_cfg = {"model": model, "hidden_size": 16, **({"bits": bits} if bits else {})}
    return {
        "config": {"experiment": "copy", "profile": "smoke", "task": "copy", "model": model_cfg, "seed": 0},
        "config_hash": f"hash-{model}",
        "history": history,
        "test": {"loss": test_loss, "recall_accuracy": 0.5},
        "baselines": {"memoryless_cross_entropy": BASELINE},
        "size_bits": size,
        "provenance": {"commit": "0123456789abcdef", "dirty": False, "profile": "smoke", "seed": 0,
                       "device": "cpu", "device_name": "test cpu", "torch": "2.13.0",
                       "wall_time_s": 3.5, "date": "2026-11-23T09:00:00+00:00"},
    }


@pytest.fixture
def record() -> dict:
    results.save_run("copy", "smoke", "hadamrnn", _run("hadamrnn", [1.8, 1.2, 0.9], 0.8, 4, 2096))
    results.save_run("copy", "smoke", "ornn", _run("ornn", [1.5, 0.7], 0.5, None, 18720))
    return results.load_record("copy", "smoke")


@pytest.fixture
def paper_dir(tmp_path, monkeypatch):
    folder = tmp_path / "paper"
    folder.mkdir()
    monkeypatch.setenv("QORNN_PAPER_DIR", str(folder))
    return folder


def _write_paper(folder, entries, **top) -> None:
    doc = {"paper": "Test paper", "arxiv": "0000.00000", "version": "v1", **top, "entries": entries}
    (folder / "test.yaml").write_text(yaml.safe_dump(doc))


SOURCE = {"paper": "Test", "arxiv": "0000.00000", "version": "v1", "table": "Table 1"}


def test_history_frame(record):
    frame = report.history_frame(record)
    assert list(frame.columns[:4]) == ["epoch", "run", "lr", "train_loss"]
    assert {"val_loss", "val_recall_accuracy", "wall_time_s"} <= set(frame.columns)
    assert len(frame) == 5
    assert frame[frame.run == "hadamrnn"]["epoch"].tolist() == [1, 2, 3]
    assert frame[frame.run == "ornn"]["train_loss"].tolist() == [1.5, 0.7]


def test_history_frame_empty():
    frame = report.history_frame({"experiment": "copy", "profile": "smoke", "runs": {}})
    assert frame.empty and "train_loss" in frame.columns


def test_plot_loss_curves(record):
    ax = report.plot_loss_curves(record)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "hadamrnn (train)" in labels and "ornn (validation)" in labels
    baseline = [line for line in ax.get_lines() if line.get_label().startswith("memoryless")]
    assert len(baseline) == 1 and baseline[0].get_linestyle() == "--"
    assert baseline[0].get_ydata()[0] == pytest.approx(BASELINE)
    assert ax.get_yscale() == "linear"  # losses span 0.52 .. 1.8: no need for a log axis
    assert "smoke" in ax.get_title()
    # a baseline 36 times below the largest loss switches the axis to log
    assert report.plot_loss_curves(record, baseline=0.05).get_yscale() == "log"


def test_a_legend_by_run_names_each_run_once_and_the_line_styles_once(record):
    ax = report.plot_loss_curves(record, legend_by_run=True, legend={"loc": "upper center", "ncol": 2},
                                 clip_above=1.0)
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    # the runs' losses reach 1.8 and 1.5, above 1: both have points on the top edge
    assert labels == ["hadamrnn (▲ off the scale)", "ornn (▲ off the scale)", "train", "validation",
                      f"memoryless ({BASELINE:.3g})"]
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    handles = dict(zip(labels, legend.legend_handles, strict=True))
    assert handles["hadamrnn (▲ off the scale)"].get_color() == colours["hadamrnn (train) (▲ off the scale)"]
    assert handles["validation"].get_linestyle() == ":" and handles["train"].get_linestyle() == "-"
    assert legend._ncols == 2
    report.legend_below(ax)  # moved under the axes, with the same entries
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
    # every line keeps its own label, and the default legend names each line
    assert [t.get_text() for t in report.plot_loss_curves(record).get_legend().get_texts()][:2] == \
        ["hadamrnn (train)", "hadamrnn (validation)"]


def test_plot_loss_curves_colour_a_run_alike_across_panels(record):
    def colour(ax, label):
        return next(line.get_color() for line in ax.get_lines() if line.get_label() == label)

    default = report.plot_loss_curves(record)  # runs hadamrnn, ornn: the first two colours
    assert colour(default, "hadamrnn (train)") != colour(default, "ornn (train)")
    # in a panel beside a record that also has block-hadamrnn, ornn keeps that record's colour
    shared = report.plot_loss_curves(record, color_order=["block-hadamrnn", "hadamrnn", "ornn"])
    assert colour(shared, "ornn (train)") == colour(shared, "ornn (validation)")
    assert colour(shared, "hadamrnn (train)") == colour(default, "ornn (train)")
    assert colour(shared, "ornn (train)") not in {colour(default, "hadamrnn (train)"),
                                                  colour(default, "ornn (train)")}
    # a run the order does not name still gets a colour of its own
    partial = report.plot_loss_curves(record, color_order=["ornn"])
    assert colour(partial, "ornn (train)") == colour(default, "hadamrnn (train)")
    assert colour(partial, "hadamrnn (train)") == colour(default, "ornn (train)")


def test_plot_loss_curves_no_baseline_linear(record):
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert report.plot_loss_curves(record, ax=ax, baseline=None, logy=False) is ax
    assert not any(line.get_label().startswith("memoryless") for line in ax.get_lines())
    assert ax.get_yscale() == "linear"


def test_comparison_table_with_paper_numbers(record, paper_dir):
    _write_paper(paper_dir, [
        {"experiment": "copy", "run": "hadamrnn", "metric": "loss", "value": 0.5, "source": SOURCE},
        {"experiment": "copy", "run": "ornn", "metric": "loss", "value": None,
         "explanation": "could not be read", "source": SOURCE},
        {"experiment": "copy", "run": "lstm", "metric": "loss", "value": 0.3, "source": SOURCE},
        {"experiment": "mnist", "run": "hadamrnn", "metric": "accuracy", "value": 0.9, "source": SOURCE},
        {"experiment": "copy", "run": "hadamrnn", "metric": "size_bits", "value": 2000, "source": SOURCE},
        {"experiment": "copy", "run": "lstm", "metric": "size_bits", "value": 9000, "source": SOURCE},
    ])
    paper = report.load_paper_numbers("test")
    table = report.comparison_table(record, paper)
    # a model's size is recorded beside the test metrics: shown, not "not recorded"
    size = table[(table.run == "hadamrnn") & (table.metric == "size_bits")].iloc[0]
    assert (size["ours"], size["paper value"], size["gap"]) == ("2,096", "2,000", "+96")
    assert table[(table.run == "lstm") & (table.metric == "size_bits")].iloc[0]["ours"] == "not recorded"
    table = table[table.metric != "size_bits"]
    assert list(table.columns) == ["budget", "run", "signs", "hidden", "metric", "paper value", "ours",
                                   "seeds", "vs chance", "gap", "profile", "record"]
    row = table[(table.run == "hadamrnn") & (table.metric == "loss")].iloc[0]
    assert row["paper value"] == "0.5" and row["ours"] == "0.8" and row["gap"] == "+0.3"
    assert row["profile"] == "smoke" and row["budget"] == "reduced (smoke profile)"
    assert row["seeds"] == "1 seed"
    assert row["record"].startswith(str(results.record_path("copy", "smoke")))
    assert "0123456" in row["record"] and "2026-11-23" in row["record"]
    ornn = table[(table.run == "ornn") & (table.metric == "loss")].iloc[0]
    assert ornn["paper value"] == report.NOT_AVAILABLE and ornn["gap"] == "—"
    # a paper number we have no run for is listed, one of another experiment is not
    lstm = table[table.run == "lstm"].iloc[0]
    assert lstm["ours"] == "not recorded" and lstm["paper value"] == "0.3"
    assert "accuracy" not in set(table.metric)
    # metrics the paper does not report still appear, as not in the paper (not: unreadable)
    acc = table[(table.run == "hadamrnn") & (table.metric == "recall_accuracy")].iloc[0]
    assert acc["paper value"] == report.NOT_IN_PAPER
    # unless the paper's result tables were never read: then whether it reports them is not known
    unread = report.comparison_table(record, {**paper, "tables_read": False})
    unread = unread[unread.metric != "size_bits"]
    assert list(unread["paper value"]) == [report.NOT_KNOWN if cell == report.NOT_IN_PAPER else cell
                                           for cell in table["paper value"]]
    assert report.NOT_KNOWN in set(unread["paper value"])
    _write_paper(paper_dir, [], tables_read="no")
    with pytest.raises(report.PaperNumbersError, match="tables_read must be true or false, got 'no'"):
        report.load_paper_numbers("test")


def test_the_qornn_paper_file_says_its_tables_were_not_read():
    assert report.load_paper_numbers("qornn")["tables_read"] is False
    assert report.load_paper_numbers("hadamrnn")["tables_read"] is False
    assert report.load_paper_numbers("references")["tables_read"] is True  # numbers read, not a paper's
    # a run of ours the paper is known not to have (its reviewers asked for a learned range) says so
    lsq = [e for e in report.load_paper_numbers("qornn")["entries"] if e["run"].startswith("qornn-lsq")]
    assert lsq and {report.paper_cell(e, tables_read=False) for e in lsq} == {report.NOT_IN_PAPER}
    # what a page can show of a table whose numbers could not be read: what is known of it
    table = report.paper_inventory("qornn", "activation")
    assert list(table["id"]) == ["Activation quantization table"]
    assert list(table["status"]) == ["not available"]
    assert report.paper_inventory("qornn", "no such table").empty


def test_a_stand_in_run_is_never_set_against_the_paper(paper_dir):
    run = _run("hadamrnn", [0.7], 0.4, 4, 2096)
    run["config"] = {**run["config"], "experiment": "imdb", "task": "polarity-reviews"}
    run["test"] = {"accuracy": 0.6}
    results.save_run("imdb", "smoke", "hadamrnn", run)
    _write_paper(paper_dir, [{"experiment": "imdb", "run": "hadamrnn", "metric": "accuracy",
                              "value": 0.9, "source": SOURCE}])
    table = report.comparison_table(results.load_record("imdb", "smoke"), report.load_paper_numbers("test"))
    row = table.iloc[0]
    assert row["paper value"] == "90.0%" and row["gap"] == "—"
    assert row["ours"] == "60.0% (stand-in data: polarity-reviews)"
    assert report.stand_in_task("imdb") is None and report.stand_in_task("rt-snippets") == "rt-snippets"


def test_comparison_table_without_paper(record):
    """Runs in no paper get a results table without paper columns."""
    table = report.comparison_table(record, None)
    assert len(table) == 4 and list(table.columns) == ["budget", "run", "signs", "metric", "ours", "seeds",
                                                       "profile", "record"]
    variant = {**record, "variant": "hidden_size=8", "overrides": {"hidden_size": 8}}
    table = report.comparison_table(variant, {"entries": []})
    assert "paper value" not in table.columns and set(table["profile"]) == {"smoke (variant hidden_size=8)"}


def test_reference_lines_are_the_tasks_own_and_labelled(record):
    assert report.reference_lines(record, "loss") == {"memoryless": BASELINE}
    assert report.reference_lines(record, "recall_accuracy") == {}
    mnist = {"runs": {"a": {"config": {"task": "pmnist"},
                            "baselines": {"chance_accuracy": 0.1, "majority_class_accuracy": 0.1135}}}}
    assert report.reference_lines(mnist, "accuracy") == {"chance": 0.1, "majority class": 0.1135}
    ax = report.plot_loss_curves(record, baseline=0.05)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "reference (0.05)" in labels and not any(label.startswith("memoryless") for label in labels)
    from qornn.tasks import CopyTask

    task = CopyTask(length=20, symbols=4, train_size=4, val_size=4, test_size=4)
    assert set(task.reference_lines) == set(task.baselines())  # every level it gives is declared


def test_best_epochs_follow_the_tasks_primary_metric(record):
    table = report.best_epochs(record).set_index("run")
    assert set(table["metric"]) == {"loss"}  # the copy task's primary metric, lower is better
    assert table.loc["hadamrnn", "best epoch"] == 3 and table.loc["ornn", "best epoch"] == 2
    higher = report.best_epochs(record, "recall_accuracy", higher_is_better=True).set_index("run")
    assert higher.loc["hadamrnn", "best epoch"] == 3 and higher.loc["hadamrnn", "best validation"] == 0.2


def test_size_and_provenance_tables(record):
    sizes = report.size_table(record).set_index("run")
    assert sizes.loc["hadamrnn", "size (bits)"] == 2096
    assert sizes.loc["hadamrnn", "U, V bits"] == 4 and sizes.loc["ornn", "U, V bits"] == 32
    prov = report.provenance_table(record).set_index("run")
    assert prov.loc["ornn", "commit"] == "0123456789"
    assert prov.loc["ornn", "wall time"] == "3.5 s"
    assert "test cpu" in prov.loc["ornn", "device"]


def test_load_paper_numbers_validates_sources(paper_dir):
    _write_paper(paper_dir, [{"experiment": "copy", "run": "a", "metric": "loss", "value": 1.0}])
    with pytest.raises(report.PaperNumbersError, match="table or figure"):
        report.load_paper_numbers("test")  # top-level paper/arxiv/version but no table
    _write_paper(paper_dir, [{"experiment": "copy", "run": "a", "metric": "loss", "value": 1.0,
                              "source": {"table": "Table 2"}}])
    entry = report.load_paper_numbers("test")["entries"][0]
    assert entry["source"] == {"paper": "Test paper", "arxiv": "0000.00000", "version": "v1",
                               "table": "Table 2"}
    assert entry["status"] == "published"
    (paper_dir / "test.yaml").write_text(yaml.safe_dump({"entries": [
        {"experiment": "copy", "run": "a", "metric": "loss", "value": 1.0,
         "source": {"arxiv": "1", "version": "v1", "figure": "Fig. 3"}}]}))
    with pytest.raises(report.PaperNumbersError, match="paper"):
        report.load_paper_numbers("test")


def test_load_paper_numbers_null_needs_explanation(paper_dir):
    _write_paper(paper_dir, [{"experiment": "copy", "run": "a", "metric": "loss", "value": None,
                              "source": SOURCE}])
    with pytest.raises(report.PaperNumbersError, match="explanation"):
        report.load_paper_numbers("test")
    _write_paper(paper_dir, [{"experiment": "copy", "run": "a", "metric": "loss", "value": "0.3",
                              "source": SOURCE}])
    with pytest.raises(report.PaperNumbersError, match="number or null"):
        report.load_paper_numbers("test")


def test_load_paper_numbers_missing_file(paper_dir):
    with pytest.raises(report.PaperNumbersError, match="no paper numbers for 'nope'"):
        report.load_paper_numbers("nope")


def test_committed_hadamrnn_numbers_load():
    """The committed data/paper/hadamrnn.yaml passes validation and has the copy-task entry."""
    paper = report.load_paper_numbers("hadamrnn")
    copy = [e for e in paper["entries"] if e["experiment"] == "copy"]
    assert copy, "data/paper/hadamrnn.yaml has no copy-task entry"
    for entry in copy:
        assert entry["value"] is not None or entry["status"] and entry["explanation"]


def test_plot_metric_curves_draws_validation_test_and_references(record):
    import matplotlib.pyplot as plt

    ax = report.plot_metric_curves(record, "recall_accuracy", references={"chance": 0.125})
    labels = [line.get_label() for line in ax.get_lines()]
    # one legend entry per run, its test value in the label (the star itself has none)
    assert "hadamrnn (validation; test ★ 0.5)" in labels and "ornn (validation; test ★ 0.5)" in labels
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "hadamrnn (validation; test ★ 0.5)", "ornn (validation; test ★ 0.5)"]
    assert any(label.startswith("chance") for label in labels)
    assert list(ax.get_lines()[0].get_ydata()) == [0.0, 0.1, 0.2]  # hadamrnn's val per epoch
    with pytest.raises(ValueError, match="no validation 'accuracy'.*recall_accuracy"):
        report.plot_metric_curves(record, "accuracy")
    plt.close("all")


def test_freshness_notes_flag_config_and_code_changes(record):
    from qornn.experiments import get_config

    config = get_config("copy", "smoke")
    # The fixture's runs have made-up hashes and a commit this checkout lacks: both flagged.
    notes = report.freshness_notes(record, config)
    # one line per reason, naming both runs
    assert notes.count("differs from the current definition of profile `smoke`") == 1
    assert notes.count("which this checkout does not have") == 1
    assert notes.splitlines()[0].startswith("- **hadamrnn**, **ornn**: ")
    head = results.git_commit()["commit"]
    for run, data in record["runs"].items():
        data["config_hash"] = results.config_hash(config.run_config(run, 0))
        data["provenance"].update(commit=head, dirty=False)
    # the profile's runs the fixture lacks are named, with the command that trains them
    missing = [run for run in config.models if run not in record["runs"]]
    assert missing and report.freshness_notes(record, config) == (
        f"- {', '.join(f'**{run}**' for run in missing)}: part of profile `smoke` but not recorded yet "
        f"(so it has no row in the tables); `python -m qornn.cli run copy --profile smoke --runs "
        f"{','.join(missing)}` trains them and adds them to the record.")
    # a later seed's record, and a variant's, are told the command for that seed and that variant
    seed_one = {**record, "variant": "seed=1"}
    assert f"`python -m qornn.cli run copy --profile smoke --seed 1 --runs {','.join(missing)}`" in (
        report.freshness_notes(seed_one, config))
    variant = get_config("copy", "smoke", {"hadamrnn.clamp_signs": False})
    assert ("`python -m qornn.cli run copy --profile smoke --set hadamrnn.clamp_signs=false --seed 1 --runs"
            in report.freshness_notes({**seed_one, "variant": "hadamrnn.clamp_signs=false,seed=1"}, variant))
    for run in missing:
        del config.models[run]
    assert report.freshness_notes(record, config) == ""  # current in every way
    record["runs"]["ornn"]["provenance"]["dirty"] = True
    assert report.freshness_notes(record, config).startswith("- **ornn**: made from uncommitted")


def test_late_regressions_name_a_run_whose_validation_loss_rose_at_the_end(record):
    assert report.late_regressions(record) == ""  # both runs end at their best epoch
    results.save_run("copy", "smoke", "lstm", _run("lstm", [1.0, 0.2, 0.9], 0.8, None, 100))
    record = results.load_record("copy", "smoke")
    text = report.late_regressions(record)  # val loss 0.9 × (1.0, 0.2, 0.9): 0.81 after 0.18
    assert text.startswith("- **lstm**") and "0.81 at its last epoch (3)" in text
    assert "0.18 at epoch 2" in text
    assert "hadamrnn" not in text and "ornn" not in text
    assert report.late_regressions(record, tolerance=4) == ""  # 0.81 < 0.18 × 5


def test_run_summary_names_every_setting():
    from qornn.experiments import get_config

    text = report.run_summary(get_config("pmnist", "cpu"), profile="cpu", seed=0)
    assert "`profile = 'cpu'`, `seed = 0`" in text and "**Profile `cpu`**" in text
    # the models as a table: one row per run, one column per setting any run sets, empty elsewhere
    assert "| run | model | hidden_size | bits | learn_signs | block |" in text
    assert "| `hadamrnn` | hadamrnn | 512 | 4 |  |  |" in text
    assert "| `block-hadamrnn` | block-hadamrnn | 512 | 4 | False | 64 |" in text
    signs = report.run_summary(get_config("hadamrnn-signs-copy", "cpu"))  # a setting that is a mapping
    assert "| `bop-seed0` | hadamrnn | 128 | 4 | 0 |  | method = bop, project = True, gamma = 0.02" in signs
    assert "the full data set" in text and "epochs = 10" in text and "Adam 1e-3" in text
    # what the profile changes from the paper's budget, computed: the hand-written note may omit one
    assert ("Every setting it changes from the paper's budget (profile `paper`): epochs = 10 (paper's "
            "budget: 100); lr_gamma = 0.8 (paper's budget: 0.98); learn_signs = False (True) for "
            "`block-hadamrnn`; hidden_size = 128 (512) for `ornn`.") in text
    # a setting left out on one side is compared by its default; the task, and runs of one side only
    sst2 = report.profile_changes(get_config("sst2", "cpu"))
    assert sst2.startswith("task = rt-snippets (paper's budget: sst2); epochs = 8")
    smoke = report.profile_changes(get_config("hadamrnn-size-accuracy", "smoke"))
    assert "lr_gamma = 1.0 (paper's budget: 0.98)" in smoke and "checkpoint_every" not in smoke
    assert "train_size = 256 (paper's budget: the whole split)" in smoke
    assert smoke.endswith("runs of this profile only: `hadamrnn-p4-learned-signs`")
    copy = report.profile_changes(get_config("copy", "cpu"))
    assert "lr_gamma = 0.9 (paper's budget: 0.98)" in copy
    assert "val_size = 1000 (paper's budget: 2000)" in copy
    qornn = report.profile_changes(get_config("qornn-pmnist", "cpu"))
    assert "hidden_size = 64 (512) for every trained run" in qornn
    assert report.profile_changes(get_config("copy", "paper")) == ""
    assert "Every setting it changes" not in report.run_summary(get_config("copy", "paper"))


def test_the_size_accuracy_plane_marks_each_kind_and_colours_a_run_alike_across_panels():
    def run(model: dict, size: int, accuracy: float) -> dict:
        return {"config": {"model": model}, "size_bits": size, "test": {"accuracy": accuracy}}

    record = {"experiment": "plane", "profile": "smoke", "runs": {
        "hadamrnn-p2": run({"model": "hadamrnn", "bits": 2, "learn_signs": False}, 30_000, 0.8),
        "hadamrnn-p4-learned-signs": run({"model": "hadamrnn", "bits": 4}, 40_000, 0.9),
        "block-hadamrnn-m16-p4": run({"model": "block-hadamrnn", "block": 16}, 40_000, 0.85),
        "hadamrnn-p4-relu": run({"model": "hadamrnn", "nonlinearity": "relu"}, 40_000, 0.5),
        "transformer": run({"model": "transformer"}, 38_000, 0.3)}}
    ptq = run({"ptq_of": "ornn", "bits": 4}, 40_000, 0.6)
    ptq["config"]["source"] = {"model": {"model": "ornn-bjorck"}}
    context = {"experiment": "qornn-pmnist", "runs": {
        "ornn": run({"model": "ornn-bjorck"}, 150_000, 0.7), "ptq-4bit": ptq,
        # named by their recorded model, whatever their names say
        "ste-4": run({"model": "qornn-ste-bjorck", "bits": 4}, 40_000, 0.6),
        "qornn-ste-bjorck-8bit": run({"model": "qornn-ste-bjorck", "bits": 8}, 60_000, 0.7)}}
    order = ["transformer", "hadamrnn-p2", "hadamrnn-p4-learned-signs", "block-hadamrnn-m16-p4"]
    ax = report.plot_size_accuracy(record, context=context, color_order=order)
    points = {c.get_label(): c for c in ax.collections}
    assert "hadamrnn-p4-relu" not in points  # the nonlinear recurrence is an ablation, drawn elsewhere
    assert list(points["hadamrnn-p2 [frozen signs]"].get_offsets()[0]) == [30_000, 0.8]
    first = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0]  # the first of the order
    assert tuple(points["transformer"].get_facecolor()[0]) == matplotlib.colors.to_rgba(first)
    assert ax.get_xscale() == "log"
    # the context: a k-bit run named by its k, a hollow marker per family in a legend of its own
    assert sorted(t.get_text() for t in ax.texts) == ["4", "4", "8", "ornn"]
    families = [legend for legend in ax.findobj(matplotlib.legend.Legend)
                if legend.get_title().get_text().startswith("qornn-pmnist")]
    assert [t.get_text() for t in families[0].get_texts()] == ["PTQ of float Björck", "STE-Björck"]
    assert len(ax.findobj(matplotlib.legend.Legend)) == 2  # the runs' legend is kept beside it
    learned, frozen = (points[k].get_paths()[0]
                       for k in ("hadamrnn-p4-learned-signs", "hadamrnn-p2 [frozen signs]"))
    assert len(learned.vertices) != len(frozen.vertices)  # a star for learned signs, a circle for frozen


def test_activation_widths_take_colour_and_style_from_the_recorded_model_not_the_name():
    import matplotlib.pyplot as plt

    def run(model: dict) -> dict:
        ptq = {"calibration": {"test_samples": 10, "hidden_max": 1.0}, "float": {"accuracy": 0.9},
               "4": {"accuracy": 0.5}, "8": {"accuracy": 0.8}}
        return {"config": {"model": model}, "analysis": {"activation_ptq": ptq}}

    record = {"runs": {"qornn-ste-bjorck-3bit": run({"model": "qornn-ste-bjorck", "bits": 3}),
                       "renamed": run({"model": "qornn-ste-projunn", "bits": 4}),  # a name of no pattern
                       "qornn-ste-bjorck-7bit": run({"model": "qornn-ste-bjorck", "bits": 7})}}
    _, ax = plt.subplots()
    handles = report.plot_activation_widths(report.activation_frame(record, "accuracy"), record, ax, "acc")
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert (lines["renamed"].get_color(), lines["renamed"].get_linestyle()) == ("C1", "--")  # 4 bits, projUNN
    assert (lines["qornn-ste-bjorck-3bit"].get_color(), lines["qornn-ste-bjorck-3bit"].get_linestyle()) == (
        "C0", "-")
    assert lines["qornn-ste-bjorck-7bit"].get_color() == "black"  # a width without a colour: named
    assert [h.get_label() for h in handles] == ["3-bit weights", "4-bit weights", "STE-Björck", "STE-projUNN",
                                                "qornn-ste-bjorck-7bit", "float activations"]
    plt.close("all")


def test_labels_placed_apart_do_not_cover_one_another_or_a_legend():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter([1, 1, 1, 5], [1, 1, 1.001, 3])
    ax.autoscale_view()
    corner = ax.transData.transform((5, 3))
    legend_box = matplotlib.transforms.Bbox.from_extents(*corner, *corner + 40)  # where "fourth" would go
    texts = report.annotate_apart(ax, [("first", 1, 1), ("second", 1, 1), ("third", 1, 1.001),
                                       ("fourth", 5, 3)], avoid=[legend_box])
    renderer = fig.canvas.get_renderer()
    boxes = []
    for text in texts:  # the words' extents, without their line
        text.update_positions(renderer)
        boxes.append(matplotlib.text.Text.get_window_extent(text, renderer))
    assert sorted(text.get_text() for text in texts) == ["first", "fourth", "second", "third"]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert not any(box.overlaps(legend_box) for box in boxes)
    moved = [text for text in texts if text.arrow_patch is not None]  # tied to their point by a line
    assert len(moved) >= 3 and "fourth" in [text.get_text() for text in moved]
    plt.close(fig)


def test_run_colours_are_distinct_and_never_the_grey_of_context_points():
    runs = [f"run{i}" for i in range(9)]  # the 8th of matplotlib's cycle is grey
    colors = report._run_colors(runs)
    rgb = {run: matplotlib.colors.to_rgb(c) for run, c in colors.items()}
    assert all(len(set(channels)) > 1 for channels in rgb.values())  # the cycle's grey is skipped
    assert len(set(colors.values())) == 9  # the cycle's nine other colours, one per run
    assert report._run_colors(runs, color_order=runs[::-1])["run8"] == colors["run0"]  # by position


def test_a_column_empty_in_every_row_is_left_out_and_named():
    frame = pd.DataFrame({"run": ["a", "b"], "gap": ["—", "—"], "signs": ["—", "learned"],
                          "vs chance": ["", None], "value": [float("nan"), 0.5]})
    shown, dropped = report.without_empty_columns(frame)
    assert dropped == ["gap", "vs chance"] and list(shown.columns) == ["run", "signs", "value"]
    assert report.without_empty_columns(frame.iloc[:0])[1] == []  # no row: nothing to judge by


def test_a_page_comparison_leaves_out_the_profile_column_and_empty_ones_and_says_so(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    table = pd.DataFrame({"budget": ["paper's budget"], "run": ["a"], "paper value": ["not available"],
                          "ours": ["0.5"], "vs chance": [""], "gap": ["—"], "profile": ["paper"],
                          "record": ["r"]})
    report.show_comparison(table)
    frame, note = shown
    assert list(frame.data.columns) == ["budget", "run", "paper value", "ours", "record"]
    assert note.data == "Left out, empty in every row: vs chance, gap."
    shown.clear()
    report.show_comparison(table.drop(columns=["budget", "vs chance", "gap"]))  # no budget: profile stays
    assert len(shown) == 1
    assert list(shown[0].data.columns) == ["run", "paper value", "ours", "profile", "record"]


def test_training_time_frame_leaves_out_ptq_runs(record):
    ptq = _run("ornn", [], 0.6, 4, 100)
    ptq["history"] = []
    results.save_run("copy", "smoke", "ptq", ptq)
    frame = report.training_time_frame([results.load_record("copy", "smoke")]).set_index("run")
    assert set(frame.index) == {"hadamrnn", "ornn"}
    assert frame.loc["hadamrnn", "s / epoch"] == 3.5 / 3 and frame.loc["ornn", "epochs"] == 2
    assert frame.loc["ornn", "device"] == "cpu: test cpu" and frame.loc["ornn", "commit"] == "01234567"
    assert frame.loc["ornn", "seed"] == results.load_record("copy", "smoke")["runs"]["ornn"]["config"]["seed"]


def test_a_cpu_is_named_by_its_threads_in_the_training_time_table_and_in_full_below_it():
    data = _run("ornn", [1.0, 0.5], 0.6, 4, 100)
    cpu = "x86_64 (2 cores, 1 torch threads)"  # as results.device_name records it
    assert results.cpu_device_parts(cpu) == ("x86_64", 2, 1) and results.device_threads(cpu) == 1
    assert results.cpu_device_parts("NVIDIA H100") is None and results.device_threads(None) is None
    assert results.device_label(cpu) == "x86_64 (2 cores, 1 torch thread)"
    assert results.device_label("NVIDIA H100") == "NVIDIA H100"
    data["provenance"].update(device="cpu", device_name=cpu, segments=[
        {"device": "cuda", "device_name": "NVIDIA H100", "from_step": 0, "to_step": 10, "wall_time_s": 5.0},
        {"device": "cpu", "device_name": cpu, "from_step": 10, "to_step": 30, "wall_time_s": 60.0}])
    results.save_run("copy", "smoke", "ornn", data)
    record = results.load_record("copy", "smoke")
    cell = report.training_time_frame([record]).set_index("run").loc["ornn", "device"]
    assert cell == "cuda: NVIDIA H100 (steps 0–10, 5.0 s); cpu, 1 thread (steps 10–30, 60.0 s)"
    assert report.device_names([record]) == ["cuda: NVIDIA H100", "cpu: x86_64 (2 cores, 1 torch thread)"]
    # the provenance tables keep the name in full
    assert "cpu: x86_64 (2 cores, 1 torch thread) (steps 10–30" in \
        report.provenance_table(record).set_index("run").loc["ornn", "device"]
    data["provenance"]["segments"] = []
    data["provenance"]["device_name"] = "x86_64 (16 cores, 4 torch threads)"
    results.save_run("copy", "smoke", "ornn", data)
    frame = report.training_time_frame([results.load_record("copy", "smoke")]).set_index("run")
    assert frame.loc["ornn", "device"] == "cpu, 4 threads"


def test_sweep_frame_reads_signs_learning_rate_and_batch():
    for run, lr, batch, signs in (("a", 1e-3, 100, True), ("b", 3e-4, 50, False)):
        data = _run("hadamrnn", [1.0, 0.5], 0.4, 4, 100)
        data["config"]["model"]["learn_signs"] = signs
        data["config"]["train"] = {"lr": lr, "batch_size": batch, "epochs": 2}
        data["history"][1]["val"]["accuracy"] = 0.7
        data["test"] = {"accuracy": 0.6}
        data["config"]["experiment"] = "sweep"
        results.save_run("sweep", "smoke", run, data)
    frame = report.sweep_frame(results.load_record("sweep", "smoke")).set_index("run")
    assert frame.loc["a", "signs"] == "learned" and frame.loc["b", "signs"] == "fixed"
    assert (frame.loc["b", "lr"], frame.loc["b", "batch"]) == (3e-4, 50)
    assert frame.loc["a", "test accuracy"] == 0.6 and frame.loc["a", "best validation accuracy"] == 0.7


def test_sign_diagnostics_draw_only_the_runs_that_learn_their_signs():
    for run, flips in (("learned", [12.0, 3.0]), ("fixed", [0.0, 0.0])):
        data = _run("hadamrnn", [1.0, 0.5], 0.4, 4, 100)
        for point, f in zip(data["history"], flips, strict=True):
            point["diagnostics"] = {"mean_abs_u": 0.05 if run == "fixed" else 0.01, "sign_flips_per_step": f}
        data["config"]["experiment"] = "signs"
        results.save_run("signs", "smoke", run, data)
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, 2)
    assert report.plot_sign_diagnostics(results.load_record("signs", "smoke"), axes) == ["learned"]
    assert list(axes[1].lines[0].get_ydata()) == [12.0, 3.0]
    plt.close("all")


def test_a_task_defined_in_a_notebook_is_named_on_the_page(monkeypatch):
    from qornn.experiments import get_config
    from qornn.tasks import TASKS, CopyTask

    class NotebookTask(CopyTask):
        pass

    NotebookTask.__module__ = "__main__"  # what a class defined in a notebook's kernel has
    config = get_config("copy", "smoke")
    assert "defined in this notebook" not in report.run_summary(config)
    monkeypatch.setitem(TASKS, "copy", NotebookTask)
    assert "`qornn run` cannot train or resume it" in report.run_summary(config)


def test_numbers_for_people():
    assert report._fmt(0.91815, "accuracy") == "91.8%"
    assert report._fmt(0.1135, "recall_accuracy") == "11.3%"
    assert report._fmt(39808) == "39,808" and report._fmt(0.02079) == "0.02079"
    assert report._fmt(None, "accuracy") == report.NOT_AVAILABLE
    import pandas as pd

    frame = pd.DataFrame({"run": ["a", "b"], "bits": [3.0, None], "size (bits)": [39808, 2096],
                          "test accuracy": [0.9181, 0.1135], "loss": [0.123456, 2.0]})
    html = report.styled(frame).to_html()
    assert ">3<" in html and "3.0000" not in html and "39,808" in html
    assert "91.8%" in html and "11.3%" in html and "0.1235" in html
    # a diverged run's loss beside ordinary ones: in scientific notation, the others unchanged
    losses = pd.DataFrame({"loss": [1.4734247995372854e22, 1.0648, 6075592.15, 21808.9506]})
    html = report.styled(losses).to_html()
    assert "1.473e+22" in html and "1.0648" in html and "6.076e+06" in html and "2.181e+04" in html
    assert "14734247995" not in html
    # a solved task's loss beside ordinary ones: its digits show, not 0.0000 or 0.0001; an exact zero
    # among them is "0", not a rounded "0.0000"
    losses = pd.DataFrame({"loss": [9.134e-05, 0.0035, 0.0, 0.1]})
    html = report.styled(losses).to_html()
    assert "9.134e-05" in html and "0.0035" in html and ">0<" in html and "0.1000" in html
    assert "0.0000" not in html
    # a cell's markdown code span is HTML code in the table, not raw backticks
    notes = pd.DataFrame({"ours": ["not recorded: `qornn-copy` does not train it", "0.5"]})
    html = report.styled(notes).to_html()
    assert "<code>qornn-copy</code> does not train it" in html and "`" not in html
    times = pd.DataFrame({"run": ["a"], "training wall time (s)": [382.17], "wall time (s)": [58.43]})
    html = report.styled(times).to_html()
    assert "382.2" in html and "58.4" in html and "382.1700" not in html


def _classifier(accuracy, majority=0.1135, chance=0.1):
    return {"test": {"accuracy": accuracy},
            "baselines": {"majority_class_accuracy": majority, "chance_accuracy": chance}}


def test_runs_at_or_near_chance_are_flagged():
    assert report.at_chance(_classifier(0.1135), "accuracy").startswith("at or near chance")
    assert "majority class 11.3%" in report.at_chance(_classifier(0.1135), "accuracy")
    assert report.at_chance(_classifier(0.14), "accuracy") is not None  # within 3 points
    assert report.at_chance(_classifier(0.2), "accuracy") is None
    assert report.at_chance({"test": {"accuracy": 0.9}}, "accuracy") is None  # no baseline known
    copy = {"test": {"loss": 0.0212}, "baselines": {"memoryless_cross_entropy": 0.0208}}
    assert report.at_chance(copy, "loss") is not None
    assert report.at_chance(copy, "loss").startswith("at or near chance")
    copy["test"]["loss"] = 0.1694  # far above what remembering nothing gives
    assert report.at_chance(copy, "loss").startswith("worse than chance (memoryless 0.0208)")
    assert report.at_chance(_classifier(0.05), "accuracy").startswith("worse than chance")
    copy["test"]["loss"] = 0.0100
    assert report.at_chance(copy, "loss") is None
    record = {"experiment": "smnist", "profile": "cpu",
              "runs": {"bad": _classifier(0.1135), "good": _classifier(0.95)}}
    notes = report.chance_notes(record)
    assert "**bad**" in notes and "good" not in notes


def test_models_of_different_sizes_are_named():
    def run(hidden):
        return {"config": {"model": {"hidden_size": hidden}}}

    assert report.size_note({"runs": {"a": run(512), "b": run(512)}}) == ""
    note = report.size_note({"runs": {"hadamrnn": run(512), "ornn": run(128)}})
    assert "hidden 512: hadamrnn" in note and "hidden 128: ornn" in note


def test_reference_numbers_are_sourced_and_set_beside_ours():
    references = report.load_paper_numbers("references")
    assert references["entries"] and all(e["value"] is not None for e in references["entries"])
    table = report.reference_table(references, "cpu")
    assert {"reference value", "hidden", "our hidden", "ours", "source"} <= set(table.columns)
    assert set(table["task"]) >= {"copy", "pmnist", "smnist"}


def test_the_share_of_bits_in_biases_is_computed_from_the_model():
    from qornn.models import build_model

    spec = {"model": "hadamrnn", "hidden_size": 512, "bits": 4}
    model = build_model("hadamrnn", input_size=1, output_size=10, hidden_size=512, bits=4)
    run = {"config": {"task": "pmnist", "model": spec}, "size_bits": model.size_bits()}
    assert report.bias_bits(run) == 32 * (512 + 10)  # b and the readout's bias: 42% of HadamRNN's bits
    assert report.bias_bits({**run, "size_bits": run["size_bits"] + 1}) is None  # not the recorded model
    assert report.bias_bits({"config": {"task": "imdb", "model": spec}, "size_bits": 1}) is None
    # FastGRNN's two gate biases are biases too, beside the readout's
    cell = build_model("fastgrnn", input_size=1, output_size=10, hidden_size=128)
    run = {"config": {"task": "pmnist", "model": {"model": "fastgrnn", "hidden_size": 128}},
           "size_bits": cell.size_bits()}
    assert report.bias_bits(run) == 32 * (128 + 128 + 10)


def test_a_frozen_sign_run_is_never_shown_under_the_paper_model_name_alone(record):
    frozen = _run("hadamrnn", [1.0, 0.9], 0.7, 4, 2096)
    frozen["config"]["model"]["learn_signs"] = False
    results.save_run("copy", "smoke", "block-hadamrnn", frozen)
    record = results.load_record("copy", "smoke")
    table = report.comparison_table(record, None).drop_duplicates("run").set_index("run")
    assert table.loc["block-hadamrnn", "signs"] == report.FROZEN_SIGNS
    # the paper's number for block-hadamrnn is of learned signs: not set beside the frozen-sign run
    paper = {"entries": [{"experiment": "copy", "run": run, "metric": "loss", "value": 0.01}
                         for run in ("block-hadamrnn", "hadamrnn")]}
    compared = report.comparison_table(record, paper).set_index(["run", "metric"])
    assert compared.loc[("block-hadamrnn", "loss"), "paper value"] == report.NOT_IN_PAPER
    assert compared.loc[("block-hadamrnn", "loss"), "gap"] == "—"
    assert compared.loc[("hadamrnn", "loss"), "paper value"] == "0.01"
    assert table.loc["hadamrnn", "signs"] == "learned" and table.loc["ornn", "signs"] == "—"
    assert report.size_table(record).set_index("run").loc["block-hadamrnn", "signs"] == report.FROZEN_SIGNS
    assert report.run_label(record, "block-hadamrnn") == "block-hadamrnn [frozen signs]"
    assert report.run_label(record, "hadamrnn") == "hadamrnn"
    ax = report.plot_metric_curves(record, "recall_accuracy")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("block-hadamrnn [frozen signs]" in t for t in labels)
    assert not any(t.startswith("block-hadamrnn (") for t in labels)
    rule = {"model": "hadamrnn", "sign_training": {"method": "bop"}}
    assert report.signs_of(rule) == "learned (bop, not the paper's method)"


def test_curves_label_every_epoch_only_while_they_stay_readable(record):
    import matplotlib.pyplot as plt

    short = report.plot_metric_curves(record, "recall_accuracy")
    assert list(short.get_xticks()) == [1, 2, 3] and short.get_lines()[0].get_marker() == "o"
    many = report.MAX_EPOCH_TICKS + 80
    run = _run("long", [1.0 / (i + 1) for i in range(many)], 0.1, None, 10)
    for point in run["history"]:
        point["val"]["recall_accuracy"] = 0.5
    results.save_run("copy", "smoke", "long", run)
    long = report.plot_loss_curves(results.load_record("copy", "smoke"), baseline=None)
    assert len(long.get_xticks()) < 20  # matplotlib's ticks, not one per epoch
    assert all(line.get_marker() in ("None", None, "") for line in long.get_lines()
               if len(line.get_xdata()) > 1)
    plt.close("all")


def test_a_post_training_quantization_run_has_its_source_runs_hidden_size():
    record = {"runs": {"ornn-bjorck": {"config": {"model": {"model": "ornn-bjorck", "hidden_size": 128}}},
                       "ptq-bjorck-4bit": {"config": {"model": {"bits": 4, "ptq_of": "ornn-bjorck"}}},
                       "ptq-orphan": {"config": {"model": {"bits": 4, "ptq_of": "not-recorded"}}}}}
    assert report.hidden_size(record, "ornn-bjorck") == 128
    assert report.hidden_size(record, "ptq-bjorck-4bit") == 128  # its configuration names only the source
    assert report.hidden_size(record, "ptq-orphan") is None  # a source not in the record: not available


def test_kept_runs_of_a_replaced_definition_set_beside_the_new_ones(monkeypatch):
    """qornn-pmnist's story, on the copy task: runs made with a linear recurrence, then the definition
    changed to ReLU. The linear runs (the PTQ one through its source) come back from history/ beside
    the ReLU ones."""
    from qornn.experiments import EXPERIMENTS, run_experiment

    runs = ["ornn-bjorck", "qornn-ste-bjorck-4bit", "ptq-bjorck-4bit"]
    linear = run_experiment("qornn-copy", "smoke", runs=runs, progress=False)
    assert report.kept_record_with("qornn-copy", "smoke", nonlinearity="linear") is None
    models = EXPERIMENTS["qornn-copy"]["models"]
    for run in runs[:2]:
        monkeypatch.setitem(models, run, {**models[run], "nonlinearity": "relu"})
    relu = run_experiment("qornn-copy", "smoke", runs=runs, progress=False)

    kept = report.kept_record_with("qornn-copy", "smoke", nonlinearity="linear")
    assert sorted(kept["runs"]) == sorted(runs)
    # as recorded, but for where their weights are kept (history/, so the ReLU runs' did not overwrite them)
    assert all(kept["runs"][run] == {**linear["runs"][run], "weights": {
        **linear["runs"][run]["weights"], "path": results.kept_weights_path(linear["runs"][run]["weights"])}}
        for run in runs)
    assert report.kept_record_with("qornn-copy", "smoke", nonlinearity="relu") is None
    assert len(results.history_paths(results.record_path("qornn-copy", "smoke"))) == 1

    frame = report.compare_records({"linear": kept, "ReLU": relu}, "loss").set_index("run")
    assert list(frame.index) == ["ornn-bjorck", "qornn-ste-bjorck-4bit", "ptq-bjorck-4bit"]  # float, QAT, PTQ
    for label, record in (("linear", linear), ("ReLU", relu)):
        for run in runs:
            assert frame.loc[run, f"{label}: loss"] == record["runs"][run]["test"]["loss"]
            radius = record["runs"][run]["analysis"]["W"]["spectral_radius"]
            assert frame.loc[run, f"{label}: ρ(W)"] == radius


def test_the_provenance_table_names_each_device_of_a_run_resumed_on_another(record):
    record = copy.deepcopy(record)
    prov = record["runs"]["ornn"]["provenance"]
    gpu = {"device": "cuda", "device_name": "NVIDIA H200"}
    cpu = {"device": "cpu", "device_name": "x86_64 (2 cores, 1 torch threads)"}
    epyc = {"model": "AMD EPYC (family 25, model 17, stepping 1)", "torch_capability": "AVX512"}
    prov.update(cpu)
    table = {}
    for name, segments in {
        "one device": [{**cpu, "from_step": 0, "to_step": 8}, {**cpu, "from_step": 8, "to_step": 12}],
        "before devices": [{"from_step": 0, "to_step": 8}, {"from_step": 8, "to_step": 12}],
        "gpu then cpu": [{**gpu, "from_step": 0, "to_step": 18_800},
                         {**cpu, "from_step": 18_800, "to_step": 26_200}],
        "unknown then cpu": [{"from_step": 0, "to_step": 8}, {**cpu, "from_step": 8, "to_step": 12}],
        "cpu then a named cpu": [{**cpu, "from_step": 0, "to_step": 8},
                                 {**cpu, "cpu": epyc, "from_step": 8, "to_step": 12}],
        "gpu twice then cpu": [{**gpu, "from_step": 0, "to_step": 16_400},
                               {**gpu, "from_step": 16_400, "to_step": 22_200},
                               {**cpu, "from_step": 22_200, "to_step": 26_200}],
    }.items():
        prov["segments"] = segments
        table[name] = report.provenance_table(record).set_index("run").loc["ornn", "device"]
    assert table["one device"] == table["before devices"] == "cpu: x86_64 (2 cores, 1 torch thread)"
    assert table["gpu then cpu"] == ("cuda: NVIDIA H200 (steps 0–18,800); "
                                     "cpu: x86_64 (2 cores, 1 torch thread) (steps 18,800–26,200)")
    assert table["unknown then cpu"].startswith("device not recorded (steps 0–8); cpu: x86_64")
    # a start whose CPU model was recorded reads apart from one that did not record it
    assert table["cpu then a named cpu"] == (
        "cpu: x86_64 (2 cores, 1 torch thread) (steps 0–8); cpu: x86_64 (2 cores, 1 torch thread), "
        "AMD EPYC (family 25, model 17, stepping 1), torch kernels AVX512 (steps 8–12)")
    assert table["gpu twice then cpu"] == ("cuda: NVIDIA H200 (steps 0–22,200); "
                                           "cpu: x86_64 (2 cores, 1 torch thread) (steps 22,200–26,200)")


def test_the_provenance_table_gives_each_starts_torch_and_each_devices_time(record):
    record = copy.deepcopy(record)
    prov = record["runs"]["ornn"]["provenance"]
    gpu = {"device": "cuda", "device_name": "NVIDIA H200", "torch": "2.11.0+cu130"}
    cpu = {"device": "cpu", "device_name": "x86_64 (2 cores, 1 torch threads)", "torch": "2.13.0+cpu"}
    prov.update(cpu)

    def row(segments):
        prov["segments"] = segments
        return report.provenance_table(record).set_index("run").loc["ornn"]

    both = row([{**gpu, "from_step": 0, "to_step": 100, "wall_time_s": 3.0},
                {**gpu, "from_step": 100, "to_step": 200, "wall_time_s": 4.5},
                {**cpu, "from_step": 200, "to_step": 260, "wall_time_s": 130.0}])
    assert both["torch"] == "2.11.0+cu130 (steps 0–200); 2.13.0+cpu (steps 200–260)"
    assert both["device"] == ("cuda: NVIDIA H200 (steps 0–200, 7.5 s); "
                              "cpu: x86_64 (2 cores, 1 torch thread) (steps 200–260, 2.2 min)")
    same = row([{**cpu, "from_step": 0, "to_step": 8, "wall_time_s": 1.0},
                {**cpu, "from_step": 8, "to_step": 12, "wall_time_s": 1.0}])
    assert (same["torch"], same["device"]) == ("2.13.0+cpu", "cpu: x86_64 (2 cores, 1 torch thread)")
    # starts from before torch was recorded: the record's version is the last start's only
    unrecorded = [{k: v for k, v in seg.items() if k != "torch"} for seg in (
        {**gpu, "from_step": 0, "to_step": 100}, {**cpu, "from_step": 100, "to_step": 160})]
    older = row(unrecorded)
    assert older["torch"] == "not recorded (steps 0–100); 2.13.0+cpu (steps 100–160)"
    assert older["device"].endswith("(steps 100–160)")  # no time where none was recorded


def test_runs_side_by_side_reads_each_record_and_variant_and_skips_the_missing(record):
    wide = _run("qornn-ste-bjorck", [1.0], 0.2, 6, 100)
    wide["config"]["model"].update({"hidden_size": 32, "nonlinearity": "modrelu", "recurrent_bias": False,
                                    "readout_relu": False})
    wide["analysis"] = {"alpha_W": 0.28}
    results.save_run("copy", "smoke", "qrnn", wide, variant="hidden_size=32", overrides={"hidden_size": 32})
    table = report.runs_side_by_side({"ours": ("copy", "", "ornn"),
                                      "theirs, wider": ("copy", "hidden_size=32", "qrnn"),
                                      "never run": ("copy", "hidden_size=64", "qrnn")}, "smoke", ["loss"])
    assert list(table["model"]) == ["ours", "theirs, wider"]
    ours, theirs = table.to_dict("records")
    assert (ours["readout"], ours["recurrence bias b"], ours["test loss"], ours["variant"]) == (
        "V ReLU(h) + c", "yes", 0.5, "—")
    assert (theirs["hidden"], theirs["recurrence"], theirs["recurrence bias b"], theirs["readout"],
            theirs["bits"], theirs["α_W"], theirs["variant"]) == (
        32, "modrelu", "no", "V h + c", 6, 0.28, "hidden_size=32")
    assert report.runs_side_by_side({"none": ("copy", "", "absent")}, "smoke", ["loss"]).empty


def test_seed_activation_frame_gathers_every_seed_of_each_experiment():
    def with_ptq(loss_12: float) -> dict:
        run = _run("hadamrnn", [1.0], 0.1, 4, 2096)
        run["analysis"] = {"activation_ptq": {
            "calibration": {"test_samples": 20, "hidden_max": 3.0}, "float": {"loss": 0.1},
            "8": {"loss": 0.5}, "12": {"loss": loss_12}}}
        return run

    results.save_run("copy", "smoke", "hadamrnn", with_ptq(0.2))
    results.save_run("copy", "smoke", "ornn", _run("ornn", [1.5], 0.5, None, 18720))  # no analysis: no row
    results.save_run("copy", "smoke", "hadamrnn", with_ptq(0.3), variant="seed=1")
    frame = report.seed_activation_frame(["copy", "qornn-copy"], "smoke", "loss")
    assert list(frame.columns[:3]) == ["experiment", "run", "seed"]
    assert frame[["run", "seed", "ka=12"]].values.tolist() == [["hadamrnn", 0, 0.2], ["hadamrnn", 1, 0.3]]
    assert list(frame.columns[-2:]) == ["ka=8", "ka=12"]  # widths in order, not as strings sort
    assert report.seed_activation_frame(["copy"], "smoke", "loss", runs=["ornn"]).empty
    assert report.seed_activation_frame(["qornn-copy"], "smoke", "loss").empty
    # a seed recorded without its activation PTQ is named below the table, with the command
    assert report.activation_gaps(["copy"], "smoke", "loss") == ""
    results.save_run("copy", "smoke", "hadamrnn", _run("hadamrnn", [1.0], 0.1, 4, 2096), variant="seed=2")
    assert report.activation_gaps(["copy"], "smoke", "loss") == (
        "Recorded but not measured yet, so not in the table: `copy` / `hadamrnn`, seed 2 (`qornn analyse "
        "copy --profile smoke --runs hadamrnn --seed 2 --activations`).")


def test_activation_table_shows_accuracies_as_percentages_or_names_the_command():
    run = _run("hadamrnn", [1.0], 0.1, 4, 2096)
    run["analysis"] = {"activation_ptq": {
        "calibration": {"test_samples": 20, "hidden_max": 3.0}, "float": {"accuracy": 0.936},
        "8": {"accuracy": 0.62}, "12": {"accuracy": 0.933}}}
    results.save_run("copy", "smoke", "hadamrnn", run)  # accuracies, as pMNIST records them
    html = report.activation_table(["copy"], "smoke", "accuracy").to_html()
    assert all(cell in html for cell in ("93.6%", "62.0%", "93.3%", ">20<"))  # samples stay a count
    note = report.activation_table(["smnist", "copy"], "paper", "accuracy")
    assert isinstance(note, report.MarkdownText) and note._repr_markdown_() == note
    assert "at the paper's budget" in note
    assert "`qornn analyse smnist --profile paper --activations` or `qornn analyse copy" in note
    assert "`smoke` profile" in report.activation_table(["smnist"], "smoke", "accuracy")


def test_table_or_note_styles_a_table_and_gives_the_note_for_an_empty_one():
    import pandas as pd

    assert report.table_or_note(pd.DataFrame(), "nothing yet") == "nothing yet"
    html = report.table_or_note(pd.DataFrame({"run": ["a"], "share": [0.25], "n": [3]}), "-",
                                percent=["share"]).to_html()
    assert "25.0%" in html and ">3<" in html


def test_released_scales_stand_beside_our_runs_and_bad_entries_fail(paper_dir):
    import pandas as pd

    source = {"repository": "owner/repo", "commit": "abc1234", "path": "nb.ipynb", "where": "cell 43"}
    doc = {"kind": report.RELEASED_NOTEBOOK, "source": source, "entries": [
        {"key": "copy_bjorck_6", "task": "copy", "method": "STE-Björck", "bits": 6, "alpha_W": 0.28,
         "alpha_U": 2.3, "ours": [{"experiment": "copy", "run": "qrnn"}]},
        {"key": "copy_projunn_5", "task": "copy", "method": "STE-projUNN", "bits": 5, "alpha_W": None,
         "alpha_U": None, "note": "a wandb run instead of a number",
         "ours": [{"experiment": "copy", "run": "missing"}]}]}
    (paper_dir / "released_scales.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    run = _run("qornn-ste-bjorck", [1.0], 0.1, 6, 100)
    run["analysis"] = {"alpha_W": 0.35, "hidden_size": 16}
    results.save_run("copy", "smoke", "qrnn", run)
    frame = report.released_scales_table(report.load_released_scales(), profiles=["smoke"],
                                         haar={16: 0.6}.get)
    first = frame.iloc[0]
    assert (first["authors' α_W"], first["our α_W"], first["our n"]) == (0.28, 0.35, 16)
    assert first["Haar-random α_W at our n"] == 0.6 and first["budget"] == "reduced (smoke profile)"
    assert pd.isna(first["our α_U"])  # no trained weights to read U from: not made up
    assert frame.iloc[1]["our run"] == "not recorded"
    for change, message in ((lambda d: d["entries"][1].pop("note"), "no values and no note"),
                            (lambda d: d["entries"][0].update(alpha_W=-1), "positive numbers"),
                            (lambda d: d["source"].pop("commit"), "source with repository"),
                            (lambda d: d["entries"][0].pop("ours"), "needs task")):
        bad = copy.deepcopy(doc)
        change(bad)
        (paper_dir / "released_scales.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True))
        with pytest.raises(report.PaperNumbersError, match=message):
            report.load_released_scales()


def test_trained_growth_is_the_recorded_spectral_radius_to_the_steps():
    def run(model: dict, radius: float | None, recall: float) -> dict:
        out = {"config": {"model": model}, "size_bits": 1, "test": {"loss": 0.1, "recall_accuracy": recall}}
        if radius is not None:
            out["analysis"] = {"alpha_W": 0.36, "W": {"spectral": 0.1, "frobenius": 1.0, "sigma_min": 0.9,
                                                      "sigma_max": 1.1, "spectral_radius": radius}}
        return out

    record = {"runs": {"qornn-ste-bjorck-5bit": run({"model": "qornn-ste-bjorck", "bits": 5}, 1.01, 0.3),
                       "ornn-bjorck": run({"model": "ornn-bjorck"}, 1.0, 0.99),
                       "lstm": run({"model": "lstm"}, None, 0.5)}}  # no orthogonal W: no row
    frame = report.trained_growth_frame(record, 1000, "recall_accuracy").set_index("run")
    assert sorted(frame.index) == ["ornn-bjorck", "qornn-ste-bjorck-5bit"]
    assert frame.loc["qornn-ste-bjorck-5bit", "ρ(W)^1,000"] == pytest.approx(1.01 ** 1000)
    assert frame.loc["qornn-ste-bjorck-5bit", "recall_accuracy"] == 0.3
    assert frame.loc["ornn-bjorck", "kind"] == "float" and frame.loc["ornn-bjorck", "ρ(W)^1,000"] == 1.0
    assert report.trained_growth_frame({"runs": {"lstm": record["runs"]["lstm"]}}, 10, "loss").empty


def test_frozen_runs_text_names_the_runs_an_overflowing_optimiser_stopped(monkeypatch, tmp_path):
    from qornn import checkpoints

    paths = {run: tmp_path / f"{run}.pt" for run in ("a", "b", "c")}
    for run in ("a", "b"):
        paths[run].write_bytes(b"")
    monkeypatch.setattr(checkpoints, "checkpoint_path", lambda experiment, profile, run: paths[run])
    monkeypatch.setattr(checkpoints, "frozen_entries",
                        lambda path: {"a": (9, 10), "b": (0, 10)}[path.stem])
    text = report.frozen_runs_text("qornn-copy", "paper", ["a", "b", "c"])
    assert "`a`: 9 of its 10 trained entries (90.0%)" in text and "`b`" not in text
    assert text.endswith("; the other 1 checkpoint has none.")
    monkeypatch.setattr(checkpoints, "frozen_entries", lambda path: (0, 10))
    assert report.frozen_runs_text("qornn-copy", "paper", ["a", "b"]).startswith("No parameter was frozen")
    assert report.frozen_runs_text("qornn-copy", "paper", ["c"]) == ""


def test_points_above_the_clip_sit_on_the_top_edge_with_their_true_value_written():
    import matplotlib.pyplot as plt

    def run(model: dict, loss: float, size: int, source: dict | None = None) -> dict:
        config = {"model": model, **({"source": {"model": source}} if source else {})}
        return {"config": config, "size_bits": size, "test": {"loss": loss}}

    float_model = {"model": "ornn-bjorck", "hidden_size": 8}
    record = {"runs": {
        "ornn-bjorck": run(float_model, 7e-4, 4000),
        "qornn-ste-bjorck-3bit": run({"model": "qornn-ste-bjorck", "bits": 3}, 0.04, 400),
        "qornn-ste-bjorck-4bit": run({"model": "qornn-ste-bjorck", "bits": 4}, 0.03, 500),
        "ptq-bjorck-3bit": run({"ptq_of": "ornn-bjorck", "bits": 3}, 2e29, 400, float_model),
        "ptq-bjorck-4bit": run({"ptq_of": "ornn-bjorck", "bits": 4}, 0.5, 500, float_model)}}
    ax = report.plot_metric_vs_bits(record, "loss", logy=True, baseline=0.02, clip_above=2.0)
    assert ax.get_ylim()[1] < 10  # the 2e29 point no longer sets the scale
    assert [text.get_text() for text in ax.texts] == ["PTQ 2e+29"]  # its true value is written, and whose
    ptq = next(line for line in ax.get_lines() if line.get_label().startswith("PTQ"))
    assert "off the scale" in ptq.get_label()
    assert list(ptq.get_ydata()) == [2.0, 0.5]  # the line runs to the edge, not to 2e29
    unclipped = report.plot_metric_vs_bits(record, "loss", logy=True)
    assert unclipped.get_ylim()[1] > 1e29 and not unclipped.texts
    # no point beyond the clip, but a reference line far above: the axis still stops at the clip
    below = {"runs": {run: data for run, data in record["runs"].items() if data["test"]["loss"] < 1}}
    lined = report.plot_metric_vs_bits(below, "loss", baseline=50.0, clip_above=1.0)
    assert lined.get_ylim()[1] == pytest.approx(1.05)
    # nothing beyond it: an axis that ends below the clip is left as it is
    assert report.plot_metric_vs_bits(below, "loss", clip_above=100.0).get_ylim()[1] < 1
    plt.close("all")


def test_the_bit_width_plot_over_several_seeds_draws_the_mean_each_seed_and_the_float_spread():
    import matplotlib.pyplot as plt

    def run(model: dict, loss: float, size: int) -> dict:
        config = {"model": model, **({"source": {"model": {"model": "ornn-bjorck"}}} if "ptq_of" in model
                                     else {})}
        return {"config": config, "size_bits": size, "test": {"loss": loss}}

    def record(float_loss: float, qat3: float, qat4: float | None) -> dict:
        runs = {"ornn-bjorck": run({"model": "ornn-bjorck"}, float_loss, 4000),
                "qornn-ste-bjorck-3bit": run({"model": "qornn-ste-bjorck", "bits": 3}, qat3, 400)}
        if qat4 is not None:
            runs["qornn-ste-bjorck-4bit"] = run({"model": "qornn-ste-bjorck", "bits": 4}, qat4, 500)
        return {"runs": runs}

    seeds = {0: record(0.1, 0.4, 0.2), 1: record(0.3, 0.6, None), 2: record(0.2, 0.5, 0.4)}
    ax = report.plot_metric_vs_bits(seeds[0], "loss", seeds=seeds)
    qat = next(line for line in ax.get_lines() if line.get_label() == "STE-Björck")
    assert list(qat.get_xdata()) == [3, 4] and list(qat.get_ydata()) == pytest.approx([0.5, 0.3])
    dots = [line for line in ax.get_lines() if line.get_marker() == "." and len(line.get_xdata())]
    assert sorted(dots[0].get_ydata()) == pytest.approx([0.2, 0.4, 0.4, 0.5, 0.6])  # every seed's
    assert sorted(set(dots[0].get_xdata())) == pytest.approx([2.88, 3.88])  # beside the QAT markers
    float_line = next(line for line in ax.get_lines() if line.get_label().startswith("float ORNN"))
    assert float_line.get_ydata()[0] == pytest.approx(0.2)  # the mean of 0.1, 0.3 and 0.2
    band = ax.patches[0]  # the float ORNN's lowest to highest seed
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((0.1, 0.3))
    labels = ax.get_legend_handles_labels()[1]
    assert "each seed (lines: the mean over 2 to 3 seeds)" in labels
    apart = {0: record(0.1, 0.04, None), 1: record(0.1, 2984.0, None)}  # off the scale: the seeds' range
    drawn = report.plot_metric_vs_bits(apart[0], "loss", seeds=apart, clip_above=1.0)
    texts = [text.get_text() for text in drawn.texts]
    assert texts == ["QAT 0.04 to 3e+03"]
    one = report.plot_metric_vs_bits(seeds[0], "loss")  # one record: no dots, no band, as before
    assert not one.patches and not any(line.get_marker() == "." for line in one.get_lines())
    plt.close("all")
    # a baseline's seeds make a band too; learned-range seeds are squares apart from the QAT dots
    for number, loss in enumerate((0.3, 0.5, 0.4)):
        seeds[number]["runs"]["lstm"] = run({"model": "lstm"}, loss, 9000)
        seeds[number]["runs"]["qornn-lsq-bjorck-3bit"] = run({"model": "qornn-lsq-bjorck", "bits": 3}, 0.7,
                                                             400)
    ax = report.plot_metric_vs_bits(seeds[0], "loss", seeds=seeds,
                                    baseline={"memoryless": 0.9, "chance": 1.0})
    assert [value for band in ax.patches for value in (band.get_y(), band.get_y() + band.get_height())] \
        == pytest.approx([0.1, 0.3, 0.3, 0.5])  # the float ORNN's, then the LSTM's
    squares = [line for line in ax.get_lines()
               if line.get_marker() == "s" and line.get_linestyle() == "None"]
    assert [sorted(line.get_xdata()) for line in squares] == [pytest.approx([2.76] * 3)]
    levels = {line.get_label(): line.get_linestyle() for line in ax.get_lines()
              if line.get_color() == "black"}
    assert set(levels) == {"memoryless (0.9)", "chance (1)"} and len(set(levels.values())) == 2
    plt.close("all")


def test_the_bit_width_gap_is_taken_seed_by_seed_and_says_over_how_many_seeds():
    def run(model: dict, accuracy: float, size: int = 100) -> dict:
        config = {"model": model, **({"source": {"model": {"model": "ornn-bjorck"}}} if "ptq_of" in model
                                     else {})}
        return {"config": config, "size_bits": size, "test": {"accuracy": accuracy}}

    def record(float_accuracy: float, qat: float | None, ptq: float | None = None) -> dict:
        runs = {"ornn-bjorck": run({"model": "ornn-bjorck"}, float_accuracy, 4000),
                "lstm": run({"model": "lstm"}, 0.99, 9000)}
        if qat is not None:
            runs["qornn-ste-bjorck-4bit"] = run({"model": "qornn-ste-bjorck", "bits": 4}, qat, 500)
        if ptq is not None:
            runs["ptq-bjorck-4bit"] = run({"ptq_of": "ornn-bjorck", "bits": 4}, ptq, 500)
        return {"runs": runs}

    # seed 0: float 0.9, QAT 0.8 (gap 10 points); seed 1: 0.7 and 0.5 (gap 20); seed 2: float only
    seeds = {0: record(0.9, 0.8, 0.3), 1: record(0.7, 0.5), 2: record(0.8, None)}
    frame = report.bit_width_gap_frame(seeds, "accuracy", lower_is_better=False)
    assert len(frame) == 1  # the LSTM is a baseline, not a row
    row = frame.iloc[0]
    assert (row["mechanism"], row["bits"], row["size (bits)"]) == ("Björck", 4, 500)
    assert row["float"] == "80.0% ± 10.0 points" and row["QAT"] == "65.0% ± 21.2 points"
    assert row["PTQ"] == "30.0%"
    # paired by seed (10 and 20 points), not the difference of the means (80.0 − 65.0 = 15.0 over
    # different seeds)
    assert row["QAT gap to float"] == "+15.0 ± 7.1 points (the 2 seeds both have)"
    assert row["seeds (float / QAT / PTQ)"] == "3 / 2 / 1"
    loss = report.bit_width_gap_frame({0: record(0.1, 0.4)}, "accuracy", lower_is_better=True)
    assert loss.iloc[0]["QAT gap to float"] == "+30.0 points"  # one seed: no spread
    assert report.bit_width_gap_frame({}, "accuracy", True).empty
    tiny = report.bit_width_gap_frame({0: record(0.5, 0.5001), 1: record(0.5, 0.4998)}, "accuracy", False)
    assert tiny.iloc[0]["QAT gap to float"].startswith("+0.0 ± ")  # no "-0.0"
    # a loss's gap (copy task, PTB) keeps its digits, which one decimal would round away
    def as_loss(rec: dict) -> dict:
        return {"runs": {name: {**data, "test": {"loss": data["test"]["accuracy"]}}
                         for name, data in rec["runs"].items()}}

    seeds = {0: as_loss(record(0.0012, 0.0019)), 1: as_loss(record(0.0010, 0.0013))}
    losses = report.bit_width_gap_frame(seeds, "loss", True)
    assert losses.iloc[0]["QAT gap to float"] == "+0.0005 ± 0.00028"
    # QAT seeds 100 times apart (one blew up): their range beside no gap, as the tables give no mean
    apart = report.bit_width_gap_frame({0: as_loss(record(0.02, 0.03)), 1: as_loss(record(0.02, 2984.0))},
                                       "loss", True).iloc[0]
    assert apart["QAT"] == "0.03 to 2984 (seeds over 100× apart: no mean)"
    assert apart["QAT gap to float"] == "— (seeds over 100× apart: no mean)"

    # the pages' table: every run, the baselines too, over the seeds that recorded it
    table = report.bit_width_seed_frame({0: record(0.9, 0.8, 0.3), 1: record(0.7, 0.5), 2: record(0.8, None)})
    table = table.set_index("run")
    assert table.loc["ornn-bjorck", ["kind", "accuracy", "seeds"]].tolist() == [
        "float", "80.0% ± 10.0 points", "3 seeds (0, 1, 2)"]
    assert table.loc["qornn-ste-bjorck-4bit", ["bits", "size_bits", "accuracy", "seeds"]].tolist() == [
        4, 500, "65.0% ± 21.2 points", "2 seeds (0, 1)"]
    assert table.loc["ptq-bjorck-4bit", ["kind", "accuracy", "seeds"]].tolist() == ["PTQ", "30.0%", "1 seed"]
    assert table.loc["lstm", "accuracy"] == "99.0% ± 0.0 points"
    assert report.bit_width_seed_frame({}).empty


def test_the_copy_verdict_grid_puts_each_run_under_its_method_and_bit_width():
    models = {"ornn-bjorck": {"model": "ornn-bjorck"},
              "qornn-ste-bjorck-4bit": {"model": "qornn-ste-bjorck", "bits": 4},
              "qornn-ste-bjorck-8bit": {"model": "qornn-ste-bjorck", "bits": 8},
              "qornn-ste-projunn-4bit": {"model": "qornn-ste-projunn", "bits": 4},
              "ptq-bjorck-8bit": {"ptq_of": "ornn-bjorck", "bits": 8}}
    rows = [("ornn-bjorck", "solves the copy task", "99.5%", "1 of 1", ""),
            ("qornn-ste-bjorck-4bit", "does not solve the copy task", "10.0%", "0 of 1", ""),
            ("qornn-ste-bjorck-8bit", "does not solve the copy task (only 1 of 2 seeds does)",
             "98.0% ± 1.0 points", "1 of 2", ""),
            ("qornn-ste-bjorck-3bit", "does not solve the copy task", "1.3%", "0 of 1", "0"),
            ("qornn-ste-projunn-4bit", report.IN_PROGRESS_AT_PAPER, "—", "—", ""),
            ("ptq-bjorck-8bit", report.FAILED_AT_PAPER, "—", "—", ""),
            ("not-a-paper-run", report.NOT_RUN_AT_PAPER, "—", "—", "")]
    models["qornn-ste-bjorck-3bit"] = {"model": "qornn-ste-bjorck", "bits": 3}
    verdicts = pd.DataFrame([{"run": r, "verdict": v, "recall": c, "solved seeds": k, "frozen seeds": f}
                             for r, v, c, k, f in rows])
    grid = report.copy_verdict_grid(verdicts, models).set_index("method")
    assert list(grid.columns) == ["float", "3 bits", "4 bits", "8 bits"]
    assert grid.loc["STE-Björck", "3 bits"] == "not solved (1.3%; did not train)"  # frozen by Adam
    assert list(grid.index) == ["float ORNN-Björck", "STE-Björck", "STE-projUNN", "PTQ of float Björck"]
    assert grid.loc["float ORNN-Björck", "float"] == "solved (99.5%)"
    assert grid.loc["STE-Björck", "4 bits"] == "not solved (10.0%)"
    assert grid.loc["STE-Björck", "8 bits"] == "1 of 2 seeds (98.0% ± 1.0 points)"
    assert grid.loc["STE-projUNN", "4 bits"] == "in progress"
    assert grid.loc["STE-projUNN", "8 bits"] == ""  # not a run of the study
    assert grid.loc["PTQ of float Björck", "8 bits"] == "failed"


def test_loss_curves_above_the_clip_run_to_the_top_edge_and_say_so(record):
    import matplotlib.pyplot as plt

    ax = report.plot_loss_curves(record, logy=True, baseline=None, clip_above=1.0)
    assert ax.get_ylim()[1] <= 1.5  # the axis stops just above the clip
    curves = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()
              if not line.get_label().startswith("_")}
    # 1.8 and 1.2 on the edge, the line broken between them (not a plateau along the edge)
    hadamrnn = curves["hadamrnn (train) (▲ off the scale)"]
    assert hadamrnn[0] == hadamrnn[2] == 1.0 and math.isnan(hadamrnn[1]) and hadamrnn[3] == 0.9
    assert curves["ornn (validation) (▲ off the scale)"] == [1.0, pytest.approx(0.63)]
    triangles = [line for line in ax.get_lines() if line.get_marker() == "^"]
    assert sorted(len(line.get_xdata()) for line in triangles) == [1, 1, 2, 2]  # one per off-scale epoch
    plain = report.plot_loss_curves(record, logy=True, baseline=None)
    assert not any("off the scale" in line.get_label() for line in plain.get_lines())
    plt.close("all")


def test_a_study_with_only_post_training_quantization_still_has_its_bit_widths_on_the_axis():
    import matplotlib.pyplot as plt

    float_model = {"model": "ornn-bjorck", "hidden_size": 8}
    record = {"runs": {
        "ornn-bjorck": {"config": {"model": float_model}, "size_bits": 4000, "test": {"bpc": 1.5}},
        **{f"ptq-bjorck-{k}bit": {"config": {"model": {"ptq_of": "ornn-bjorck", "bits": k},
                                             "source": {"model": float_model}},
                                  "size_bits": 100 * k, "test": {"bpc": 2.0}} for k in (3, 8)}}}
    ax = report.plot_metric_vs_bits(record, "bpc")
    assert list(ax.get_xticks()) == [3, 8]
    top = next(child for child in ax.get_children() if type(child).__name__ == "SecondaryAxis")
    assert top.get_xlabel() == "PTQ model size (bits)"
    assert [t.get_text() for t in top.get_xticklabels()] == ["0.3k", "0.8k"]
    plt.close("all")


def test_latent_sign_table_reads_each_learned_sign_runs_last_u_from_its_checkpoint():
    import torch

    from qornn.checkpoints import checkpoint_file
    from qornn.experiments import run_experiment

    clamped = run_experiment("copy", "smoke", runs=["hadamrnn", "block-hadamrnn", "ornn"], progress=False)
    unbounded = run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False,
                               overrides={"runs": {"hadamrnn": {"clamp_signs": False}}})
    # set the clamped HadamRNN's last u: 3 of 8 units at the bound, 1 within 1% of it, 4 well inside
    path = checkpoint_file("copy", "smoke", "hadamrnn", clamped["runs"]["hadamrnn"]["config_hash"])
    saved = torch.load(path, weights_only=True)
    size = saved["model"]["recurrent.u"].numel()
    u = torch.full((size,), 0.5)
    u[:3], u[3] = torch.tensor([1.0, -1.0, 1.0]), -0.995
    saved["model"]["recurrent.u"] = u
    torch.save(saved, path)

    table = report.latent_sign_table({"clamped": clamped, "unbounded": unbounded},
                                     ("hadamrnn", "block-hadamrnn", "ornn", "lstm"))
    assert list(zip(table["task"], table["run"], strict=True)) == [
        ("clamped", "hadamrnn"), ("clamped", "block-hadamrnn"), ("unbounded", "hadamrnn")]  # ornn: no u
    assert list(table["after each step"]) == ["clamped to [-1, 1]"] * 2 + ["unbounded"]
    first = table.iloc[0]
    assert first["|u| ≥ 1"] == pytest.approx(3 / size) and first["|u| ≥ 0.99"] == pytest.approx(4 / size)
    assert first["mean |u|"] == pytest.approx(float(u.abs().mean()))
    loss = clamped["runs"]["hadamrnn"]["test"]["loss"]
    assert first["test"] == f"loss {report._fmt(loss, 'loss')}"  # the copy task's headline metric
    # the variant's seeds are found by its overrides, apart from the profile's
    assert list(report.seed_records("copy", "smoke", {"hadamrnn.clamp_signs": False})) == [0]
    assert report.seed_records("copy", "smoke", {"hadamrnn.clamp_signs": False})[0] == unbounded
    assert report.seed_records("copy", "smoke")[0] == clamped
    later = run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False, seed=2,
                           overrides={"runs": {"hadamrnn": {"clamp_signs": False}}})
    assert report.seed_records("copy", "smoke", {"hadamrnn.clamp_signs": False})[2] == later
    assert list(report.seed_records("copy", "smoke")) == [0]  # a variant's seed is not the profile's
    # the two ways side by side, epoch by epoch: a line per record that has the run, on each panel
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    drawn = report.plot_run_dynamics({"clamped": clamped, "unbounded": unbounded, "none": {"runs": {}}},
                                     "hadamrnn", metric="recall_accuracy", axes=axes)
    assert drawn == ["clamped", "unbounded"]
    assert [len(ax.get_lines()) for ax in axes] == [2, 2, 2]
    epochs = len(unbounded["runs"]["hadamrnn"]["history"])
    mean_u = [point["diagnostics"]["mean_abs_u"] for point in unbounded["runs"]["hadamrnn"]["history"]]
    assert list(axes[1].get_lines()[1].get_ydata()) == mean_u and len(mean_u) == epochs
    plt.close(fig)
    # the same start and batches, the clamp never binding in 2 smoke epochs: one run, exactly
    assert report.history_differences(clamped, unbounded, "hadamrnn") == (None, [])
    text = report.clamp_comparison_text({0: clamped}, {0: unbounded, 2: later}, metric="recall_accuracy")
    assert text.startswith(f"- Seed 0: the two runs agree in every recorded number through all {epochs} "
                           "epochs;")
    assert text.count("\n") == 0  # seed 2 has no clamped record: no line
    parted = copy.deepcopy(unbounded)
    parted["runs"]["hadamrnn"]["history"][-1]["diagnostics"]["mean_abs_u"] *= 2
    assert report.history_differences(clamped, parted, "hadamrnn") == (epochs, ["mean_abs_u"])
    text = report.clamp_comparison_text({0: clamped}, {0: parted}, metric="recall_accuracy")
    assert (f"through epoch {epochs - 1}; from epoch {epochs} on they differ only in mean |u|, while their "
            "training loss, validation recall accuracy and signs flipped per step stay exactly equal; the "
            "same test numbers") in text
    parted["runs"]["hadamrnn"]["history"][0]["train_loss"] += 1.0
    parted["runs"]["hadamrnn"]["test"]["recall_accuracy"] = 0.5
    assert report.history_differences(clamped, parted, "hadamrnn") == (1, ["train_loss", "mean_abs_u"])
    assert "from epoch 1 on they differ only in training loss and mean |u|, while their validation" in (
        report.clamp_comparison_text({0: clamped}, {0: parted}, metric="recall_accuracy"))
    assert "without" in report.clamp_comparison_text({0: clamped}, {0: parted}, metric="recall_accuracy")
    # both made here: their CPU is named; a run whose CPU is not recorded and that parts at the first
    # epoch is said to be possibly the machines'; two CPUs are named apart
    cpu = results.cpu_description()
    assert report.run_cpus(clamped["runs"]["hadamrnn"]) == {
        f"{cpu['model']}, torch kernels {cpu['torch_capability']}"}
    assert f"Both trained on one kind of CPU: {cpu['model']}" in report.clamp_comparison_text(
        {0: clamped}, {0: parted}, metric="recall_accuracy")
    old = copy.deepcopy(clamped)
    del old["runs"]["hadamrnn"]["provenance"]["cpu"]
    assert report.run_cpus(old["runs"]["hadamrnn"]) is None
    assert "may be the machines' (`qornn verify`" in report.clamp_comparison_text(
        {0: old}, {0: parted}, metric="recall_accuracy")
    assert "that they agree through every epoch shows that their machines computed alike" in \
        report.clamp_comparison_text({0: old}, {0: unbounded}, metric="recall_accuracy")
    other = copy.deepcopy(parted)
    other["runs"]["hadamrnn"]["provenance"]["cpu"] = {"model": "Other CPU", "torch_capability": "AVX2"}
    assert "They trained on different CPUs (" in report.clamp_comparison_text(
        {0: clamped}, {0: other}, metric="recall_accuracy")
    path.unlink()  # a run without its checkpoint is left out
    assert list(report.latent_sign_table({"clamped": clamped}, ("hadamrnn",))["run"]) == []
