"""Experiment definitions: every profile resolves, and post-training-quantization runs follow from
the trained float run they quantize."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from qornn import results
from qornn.experiments import EXPERIMENTS, PROFILES, get_config, run_experiment
from qornn.experiments.runner import _train_run
from qornn.models.qornn import quantize_post_training
from qornn.tasks import build_task
from qornn.train import evaluate
from qornn.wings import WING_EXPERIMENTS


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_resolves_and_validates(experiment, profile):
    config = get_config(experiment, profile)
    config.check()
    assert config.note and config.source
    for run in config.models:
        assert results.config_hash(config.run_config(run, 0))


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_every_smoke_run_is_small(experiment):
    """A profile sets sizes run by run: a run that the smoke profile forgets to shrink would train
    at the paper's size in the tests."""
    config = get_config(experiment, "smoke")
    for run, spec in config.models.items():
        assert "ptq_of" in spec or spec["hidden_size"] <= 16, f"{experiment}/smoke/{run}: {spec}"
        assert spec.get("embedding_size", 0) <= 16, f"{experiment}/smoke/{run}: {spec}"


def test_a_profile_may_train_on_a_stand_in_task():
    assert get_config("imdb", "paper").task == "imdb" and get_config("sst2", "paper").task == "sst2"
    assert get_config("imdb", "cpu").task == "polarity-reviews"
    assert get_config("sst2", "smoke").task == "rt-snippets"


def test_the_sensitivity_sweep_varies_only_the_learning_rate_and_the_batch():
    config = get_config("hadamrnn-sensitivity", "cpu")
    trains = {run: config.train_config(run) for run in config.models}
    assert {(t.lr, t.batch_size) for t in trains.values()} == {
        (3e-4, 100), (1e-3, 100), (3e-3, 100), (1e-3, 50), (1e-3, 200)}
    for run, train in trains.items():
        assert run.endswith(f"-lr{train.lr:g}-b{train.batch_size}")
        assert (train.epochs, train.lr_gamma) == (3, 0.8)
        signs = config.models[run].get("learn_signs", True)
        assert signs == run.startswith("learned")


def test_a_bad_model_option_fails_before_any_run_trains(monkeypatch):
    from qornn import experiments

    spec = experiments.EXPERIMENTS["copy"]
    models = {**spec["models"], "zz-bad": {"model": "hadamrnn", "hidden_size": 16, "nonlinearity": "sigmoid"}}
    monkeypatch.setitem(experiments.EXPERIMENTS, "copy", {**spec, "models": models})
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'"):
        run_experiment("copy", "smoke", progress=False)
    assert results.load_record("copy", "smoke", missing_ok=True) is None  # nothing trained


def test_a_profile_may_leave_out_a_run_and_says_why_when_asked_for_it(monkeypatch):
    from qornn import experiments

    paper = get_config("hadamrnn-size-accuracy", "paper")
    # every run learns its signs at the paper's budget: the learned-signs run would be hadamrnn-p4 again
    assert "hadamrnn-p4-learned-signs" not in paper.models and "hadamrnn-p4-learned-signs" in paper.left_out
    assert paper.models["hadamrnn-p4"].get("learn_signs", True)
    assert "hadamrnn-p4-learned-signs" in get_config("hadamrnn-size-accuracy", "cpu").models
    with pytest.raises(ValueError, match="learned-signs is left out of the 'paper' profile: every run"):
        run_experiment("hadamrnn-size-accuracy", "paper", runs=["hadamrnn-p4-learned-signs"], progress=False)
    spec = experiments.EXPERIMENTS["copy"]
    smoke = {**spec["profiles"]["smoke"], "leave_out": {"gru": "no such run"}}
    profiles = {**spec["profiles"], "smoke": smoke}
    monkeypatch.setitem(experiments.EXPERIMENTS, "copy", {**spec, "profiles": profiles})
    with pytest.raises(ValueError, match="leaves out an unknown run 'gru'"):
        get_config("copy", "smoke")


def test_ptq_runs_quantize_the_trained_float_run():
    record = run_experiment("qornn-copy", "smoke", runs=["ornn-bjorck", "ptq-bjorck-5bit",
                                                          "qornn-ste-bjorck-5bit"], progress=False)
    ptq, qat = record["runs"]["ptq-bjorck-5bit"], record["runs"]["qornn-ste-bjorck-5bit"]
    assert ptq["history"] == [] and ptq["config"]["source"] == record["runs"]["ornn-bjorck"]["config"]
    assert ptq["size_bits"] == qat["size_bits"] < record["runs"]["ornn-bjorck"]["size_bits"]
    # The recorded numbers are those of q_5 applied to the trained float model, recomputed here.
    config = get_config("qornn-copy", "smoke")
    task = build_task(config.task, **config.task_options, seed=0)
    trained, _ = _train_run(config, "ornn-bjorck", task, 0, "cpu", False)  # resumes: trains nothing
    expected = evaluate(quantize_post_training(trained, 5), task, "test", 64, torch.device("cpu"))
    assert ptq["test"] == expected
    assert expected != record["runs"]["ornn-bjorck"]["test"]  # quantization changed something


def test_a_ptq_run_quantizes_the_recorded_source_weights_when_its_checkpoint_is_gone(monkeypatch):
    """A fresh clone has the cpu records and packed weights, not their checkpoints: a PTQ run at
    another seed or width quantizes the recorded float model, trains nothing, and gets the numbers
    it would have got from the checkpoint."""
    from qornn.experiments import runner

    # two widths: the second is quantized from the model fresh from training, as from its weights
    record = run_experiment("qornn-copy", "smoke", runs=["ornn-bjorck", "ptq-bjorck-3bit", "ptq-bjorck-4bit"],
                            progress=False)
    expected = record["runs"]["ptq-bjorck-4bit"]["test"]
    del record["runs"]["ptq-bjorck-4bit"]
    results.atomic_write_json(results.record_path("qornn-copy", "smoke"), record)
    for path in results.runs_dir("smoke").rglob("*.pt"):
        path.unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("the source was trained again")

    monkeypatch.setattr(runner, "train", no_training)
    again = run_experiment("qornn-copy", "smoke", runs=["ptq-bjorck-4bit"], progress=False)
    ptq = again["runs"]["ptq-bjorck-4bit"]
    assert ptq["test"] == expected
    source = record["runs"]["ornn-bjorck"]["provenance"]
    config = get_config("qornn-copy", "smoke")
    steps = config.train_config("ornn-bjorck").epochs * -(-config.task_options["train_size"]
                                                          // config.train_config("ornn-bjorck").batch_size)
    assert ptq["provenance"]["source_training"] == [{
        "commit": source["commit"], "dirty": source["dirty"], "host": source["host"], "device": "cpu",
        "device_name": source["device_name"], "torch": source["torch"], "from_step": 0, "to_step": steps,
        "wall_time_s": source["wall_time_s"]}]
    # a source recorded with another configuration is trained, not taken from its weights
    stale = results.load_record("qornn-copy", "smoke")
    stale["runs"]["ornn-bjorck"]["config_hash"] = "0" * 16
    results.atomic_write_json(results.record_path("qornn-copy", "smoke"), stale)
    with pytest.raises(AssertionError, match="trained again"):
        run_experiment("qornn-copy", "smoke", runs=["ptq-bjorck-5bit"], progress=False)


def test_retraining_a_ptq_run_quantizes_again_and_trains_its_source_only_when_asked(monkeypatch):
    from qornn.experiments import runner

    run_experiment("qornn-copy", "smoke", runs=["ornn-bjorck", "ptq-bjorck-4bit"], progress=False)
    trainings, quantized = [], []
    train, quantize = runner.train, runner.quantize_post_training
    monkeypatch.setattr(runner, "train",
                        lambda *a, **k: trainings.append((k["description"], k["resume"])) or train(*a, **k))
    monkeypatch.setattr(runner, "quantize_post_training", lambda *a: quantized.append(a[1]) or quantize(*a))
    before = results.load_record("qornn-copy", "smoke")["runs"]["ptq-bjorck-4bit"]
    again = run_experiment("qornn-copy", "smoke", runs=["ptq-bjorck-4bit"], retrain=True, progress=False)
    # its finished checkpoint is read (resumed: no step trained), not trained again
    assert trainings == [("qornn-copy/ornn-bjorck", True)] and quantized == [4]
    assert again["runs"]["ptq-bjorck-4bit"]["test"] == before["test"]
    # named too, the source is trained again once, whichever of the two comes first
    run_experiment("qornn-copy", "smoke", runs=["ptq-bjorck-4bit", "ornn-bjorck"], retrain=True,
                   progress=False)
    assert trainings[1:] == [("qornn-copy/ornn-bjorck", False)] and quantized == [4, 4]


def test_retraining_a_ptq_run_refuses_a_source_that_is_not_the_recorded_one():
    """--retrain of a PTQ run alone quantizes the recorded source: one whose retrain stopped part way
    (an unfinished checkpoint beside the old record) would be finished here and quantized unrecorded."""
    import torch

    run_experiment("qornn-copy", "smoke", runs=["ornn-bjorck", "ptq-bjorck-4bit"], progress=False)
    (path,) = [p for p in results.runs_dir("smoke").rglob("*.pt") if "ornn-bjorck" in str(p)]
    saved = torch.load(path, weights_only=True)
    saved["state"].update(epoch=0, step=1, global_step=1)
    torch.save(saved, path)
    unfinished = r"ornn-bjorck has an unfinished checkpoint.*--runs ornn-bjorck --retrain"
    with pytest.raises(ValueError, match=unfinished):
        run_experiment("qornn-copy", "smoke", runs=["ptq-bjorck-4bit"], retrain=True, progress=False)
    path.unlink()
    record = results.load_record("qornn-copy", "smoke")
    del record["runs"]["ornn-bjorck"]
    results.atomic_write_json(results.record_path("qornn-copy", "smoke"), record)
    with pytest.raises(ValueError, match="ornn-bjorck, which this post-training quantization quantizes, is "
                                         "not recorded"):
        run_experiment("qornn-copy", "smoke", runs=["ptq-bjorck-4bit"], retrain=True, progress=False)


def test_a_ptq_run_needs_a_trained_source(monkeypatch):
    from qornn import experiments

    spec = experiments.EXPERIMENTS["qornn-copy"]
    models = {**spec["models"], "ptq-bad": {"ptq_of": "ptq-bjorck-5bit", "bits": 5}}
    monkeypatch.setitem(experiments.EXPERIMENTS, "qornn-copy", {**spec, "models": models})
    with pytest.raises(ValueError, match="ptq-bad.*ptq_of='ptq-bjorck-5bit'.*trained run"):
        run_experiment("qornn-copy", "smoke", runs=["ptq-bad"])
    models["ptq-bad"] = {"ptq_of": "ornn-bjorck", "bits": 1}
    with pytest.raises(ValueError, match="ptq-bad.*1"):
        run_experiment("qornn-copy", "smoke", runs=["ptq-bad"])


def test_analysis_is_recorded_and_a_backfill_from_checkpoints_gives_the_same():
    from qornn.experiments import analyse_experiment, load_trained

    runs = ["ornn-bjorck", "ptq-bjorck-5bit", "qornn-ste-bjorck-5bit"]
    record = run_experiment("qornn-copy", "smoke", runs=runs, progress=False)
    qat = record["runs"]["qornn-ste-bjorck-5bit"]["analysis"]
    assert set(qat["activation_ptq"]) == {"calibration", "float", "6", "8", "10", "12"}
    assert "quantized_W" in record["runs"]["ornn-bjorck"]["analysis"]
    assert "activation_ptq" not in record["runs"]["ptq-bjorck-5bit"]["analysis"]  # PTQ runs: W only
    # A record without analyses (made before they existed) gets them back from the checkpoints.
    path = results.record_path("qornn-copy", "smoke")
    stripped = results.load_record("qornn-copy", "smoke")
    for data in stripped["runs"].values():
        del data["analysis"]
    results.atomic_write_json(path, stripped)
    again = analyse_experiment("qornn-copy", "smoke")
    for run in runs:
        old, new = record["runs"][run]["analysis"], again["runs"][run]["analysis"]
        for key in ("W", "singular_values", "activation_ptq", "quantized_W"):
            assert old.get(key) == new.get(key), (run, key)
    # The model it analyses is the trained one: same test metrics as recorded.
    config = get_config("qornn-copy", "smoke")
    task = build_task(config.task, **config.task_options, seed=0)
    model = load_trained("qornn-copy", "smoke", "qornn-ste-bjorck-5bit", task=task)
    assert evaluate(model, task, "test", 64, torch.device("cpu")) == record["runs"][
        "qornn-ste-bjorck-5bit"]["test"]
    with pytest.raises(ValueError, match="no checkpoint.*qornn-ste-projunn-5bit"):
        load_trained("qornn-copy", "smoke", "qornn-ste-projunn-5bit")


def test_activation_ptq_is_measured_again_on_request_from_the_checkpoint_or_the_packed_weights():
    from qornn.experiments import analyse_experiment

    runs = ["hadamrnn", "ornn"]
    record = run_experiment("copy", "smoke", runs=runs, progress=False)
    assert "activation_ptq" not in record["runs"]["hadamrnn"]["analysis"]  # training leaves it out
    again = analyse_experiment("copy", "smoke", activations=True)
    found = again["runs"]["hadamrnn"]["analysis"]
    ptq = found["activation_ptq"]
    assert set(ptq) == {"calibration", "float", "6", "8", "10", "12"}
    assert ptq["calibration"]["integer"]  # the integer-only loop, W as ±1 integers
    assert found["activation_ptq_commit"] == results.git_commit()["commit"]
    for metric, value in record["runs"]["hadamrnn"]["test"].items():  # the model trained, loaded back
        assert ptq["float"][metric] == pytest.approx(value, rel=1e-5)
    assert again["runs"]["ornn"]["analysis"] == record["runs"]["ornn"]["analysis"]  # no PTQ: left as is
    # the checkpoints gone (a fresh clone): the packed weights give the same measurement
    for path in results.runs_dir("smoke").rglob("*.pt"):
        path.unlink()
    packed = analyse_experiment("copy", "smoke", runs=["hadamrnn"], activations=True)
    assert packed["runs"]["hadamrnn"]["analysis"]["activation_ptq"] == ptq


def test_analyse_shows_the_progress_of_each_activation_ptq(capsys):
    from qornn.cli import main

    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    capsys.readouterr()
    assert main(["analyse", "copy", "--profile", "smoke", "--activations"]) == 0
    err = capsys.readouterr().err
    assert "copy/hadamrnn activation PTQ" in err and "6/6" in err  # calibration, float, 4 widths
    assert main(["analyse", "copy", "--profile", "smoke", "--activations", "--no-progress"]) == 0
    assert "activation PTQ" not in capsys.readouterr().err
    # a QAT run measures it after training, under the same bar when training shows progress
    run_experiment("qornn-copy", "smoke", runs=["qornn-ste-bjorck-4bit"], progress=True)
    assert "qornn-copy/qornn-ste-bjorck-4bit activation PTQ" in capsys.readouterr().err


def test_analyse_says_whether_it_measured_anything(capsys):
    """`qornn analyse` of runs that have their analyses printed "analysed:" though nothing was."""
    from qornn.cli import main

    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    capsys.readouterr()
    assert main(["analyse", "copy", "--profile", "smoke"]) == 0
    assert capsys.readouterr().out.startswith("nothing to analyse: the runs asked for in ")
    assert main(["analyse", "copy", "--profile", "smoke", "--force"]) == 0  # the same numbers, measured
    assert capsys.readouterr().out.startswith("analysed hadamrnn: ")
    run_experiment("copy", "smoke", runs=["ornn"], progress=False)
    capsys.readouterr()
    assert main(["analyse", "copy", "--profile", "smoke", "--runs", "ornn", "--activations"]) == 0
    assert capsys.readouterr().out.startswith("nothing to measure: no run asked for in ")
    record = results.load_record("copy", "smoke")
    del record["runs"]["hadamrnn"]["analysis"]  # a record made before analyses were
    results.atomic_write_json(results.record_path("copy", "smoke"), record)
    assert main(["analyse", "copy", "--profile", "smoke"]) == 0
    assert capsys.readouterr().out.startswith("analysed hadamrnn: ")


#: records that a script writes, with no registry entry (tests/test_peer.py, tests/test_signs.py check them)
SCRIPT_EXPERIMENTS = {"hadamrnn-peer-check", "hadamrnn-signs-probe"}


def _committed_runs():
    """(record path, experiment, profile, run, recorded run) of every committed experiment record."""
    for path in sorted((results._REPO_ROOT / "data" / "results").glob("*/*.json")):
        record = json.loads(path.read_text())
        if "experiment" not in record:  # the benchmarks' records have a schema of their own
            continue
        if record["experiment"] in WING_EXPERIMENTS:  # tests/test_wings.py checks those
            continue
        if record["experiment"] in SCRIPT_EXPERIMENTS:  # written by a script, not by the registry's runner
            continue
        for run, data in sorted(record["runs"].items()):
            yield path, record["experiment"], record["profile"], run, data


@pytest.mark.parametrize(("path", "experiment", "profile", "run", "data"), list(_committed_runs()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_committed_record_is_what_the_registry_resolves(path, experiment, profile, run, data):
    """Reorganising the registry (one module per paper) must not change any recorded run's
    configuration: each committed run's stored configuration and hash are what it resolves to now."""
    if experiment.startswith("theory-"):  # the theory wing's own registry (qornn/theory/runner.py)
        from qornn.theory import runner as theory

        assert run in theory.run_names(experiment, profile), f"{path}: run {run!r} is no longer defined"
        expected = {"experiment": experiment, "profile": profile, "run": run,
                    "seed": data["provenance"]["seed"], **theory.get_config(experiment, profile)}
        assert data["config"] == expected and data["config_hash"] == results.config_hash(expected)
        return
    config = get_config(experiment, profile)
    assert run in config.models, f"{path}: run {run!r} is no longer defined"
    # the experiment's seed (a run of a seed study has a seed of its own in its spec: the provenance's)
    expected = config.run_config(run, data["config"].get("seed", data["provenance"]["seed"]))
    assert data["config"] == expected, f"{path}: {run}'s configuration differs from its definition"
    assert data["config_hash"] == results.config_hash(expected)


def test_the_registry_is_one_data_module_per_paper_merged_in_order():
    from qornn import experiments
    from qornn.experiments import runner

    merged = {}
    for paper in experiments.PAPERS:
        assert isinstance(paper.EXPERIMENTS, dict) and paper.EXPERIMENTS
        assert not merged.keys() & paper.EXPERIMENTS.keys()
        merged.update(paper.EXPERIMENTS)
    assert list(EXPERIMENTS) == list(merged) and EXPERIMENTS is runner.EXPERIMENTS
    # The paper modules are data to the freshness check (qornn.results.is_paper_module), which
    # holds only while the runner takes nothing from them and the __init__ only merges them.
    package = Path(experiments.__file__).parent
    runner_tree = ast.parse((package / "runner.py").read_text())
    for node in ast.walk(runner_tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            pytest.fail(f"runner.py imports from a sibling module: {ast.unparse(node)}")
    init_tree = ast.parse((package / "__init__.py").read_text())
    assert not [n for n in init_tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    for module in package.glob("*.py"):
        rel = f"qornn/experiments/{module.name}"
        assert results.is_paper_module(rel) == (module.name != "runner.py"), rel


def test_paper_checkpoints_live_under_data_so_a_fresh_clone_resumes(monkeypatch, tmp_path):
    from qornn import results

    monkeypatch.delenv("QORNN_RUNS_DIR", raising=False)
    monkeypatch.setenv("QORNN_DATA_DIR", str(tmp_path / "data"))
    assert results.runs_dir("paper") == tmp_path / "data" / "checkpoints"
    assert results.runs_dir("cpu").name == "runs" and results.runs_dir().name == "runs"
    monkeypatch.setenv("QORNN_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert results.runs_dir("paper") == results.runs_dir("smoke") == tmp_path / "elsewhere"
