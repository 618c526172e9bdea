"""Experiment definitions: every profile resolves, and post-training-quantization runs follow from
the trained float run they quantize."""

from __future__ import annotations

import pytest
import torch

from qornn import results
from qornn.experiments import EXPERIMENTS, PROFILES, _train_run, get_config, run_experiment
from qornn.models.qornn import quantize_post_training
from qornn.tasks import build_task
from qornn.train import evaluate


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_resolves_and_validates(experiment, profile):
    config = get_config(experiment, profile)
    config.check()
    assert config.note and config.source
    for run in config.models:
        assert results.config_hash(config.run_config(run, 0))


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
