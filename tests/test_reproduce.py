"""qornn verify: a recorded run's first epochs trained again and compared with the record, bit for bit."""

import json

import pytest

from qornn import reproduce, results
from qornn.cli import main as cli_main
from qornn.experiments import run_experiment


@pytest.fixture
def recorded():
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    return results.record_path("copy", "smoke")


def test_a_record_made_here_is_reproduced_and_a_changed_number_is_found(recorded):
    result = reproduce.verify("copy", "smoke", "hadamrnn", epochs=2)
    assert result["frame"]["same"].tolist() == [True, True]
    assert result["verdict"] == "reproduced bit for bit through epoch 2"
    # the retrain says where it ran, as its own process saw it
    assert result["retrained"]["cpu"] == results.cpu_description()
    # at the record's number of torch threads, whatever this process was started with
    assert results.device_threads(result["retrained"]["device_name"]) == \
        results.device_threads(result["recorded"]["device_name"])
    # one number of the second epoch changed in its last bits: found, and the first epoch still agrees
    record = json.loads(recorded.read_text())
    loss = record["runs"]["hadamrnn"]["history"][1]["train_loss"]
    record["runs"]["hadamrnn"]["history"][1]["train_loss"] = loss * (1 + 1e-15)
    recorded.write_text(json.dumps(record))
    frame = reproduce.compare(record["runs"]["hadamrnn"],
                              reproduce.first_epochs("copy", "smoke", "hadamrnn", epochs=2,
                                                     env={"OMP_NUM_THREADS": "1"}))
    assert frame["same"].tolist() == [True, False]
    assert reproduce.verdict(frame).startswith("differs from epoch 2 (training loss ")
    # nothing of the retrain is left in the data folder it was asked about
    assert not (recorded.parent / "variants").exists()
    assert not (results.data_dir() / "results" / "copy" / "variants").exists()


def test_verify_names_bad_input_before_training(recorded, capsys):
    with pytest.raises(ValueError, match="'nope' is not recorded; recorded: hadamrnn"):
        reproduce.verify("copy", "smoke", "nope")
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        reproduce.verify("copy", "smoke", "hadamrnn", epochs=0)
    with pytest.raises(ValueError, match="threads must be a positive int, got 0"):
        reproduce.verify("copy", "smoke", "hadamrnn", threads=0)
    with pytest.raises(ValueError, match="fewer than the 2 retrained"):
        reproduce.compare({"history": [{"epoch": 1}]}, {"history": [{"epoch": 1}, {"epoch": 2}]})
    assert cli_main(["verify", "copy", "--profile", "smoke", "--runs", "nope"]) == 2
    assert "'nope' is not recorded" in capsys.readouterr().err


def test_a_retrain_that_fails_or_runs_out_of_time_is_one_line(recorded, capsys, monkeypatch):
    import subprocess

    def fails(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "Traceback ...\nMemoryError: out of memory\n")

    def too_long(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(reproduce.subprocess, "run", fails)
    assert cli_main(["verify", "copy", "--profile", "smoke", "--runs", "hadamrnn"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["qornn: error: retraining copy/smoke/hadamrnn failed (exit 1): "
                                        "MemoryError: out of memory"]
    monkeypatch.setattr(reproduce.subprocess, "run", too_long)
    with pytest.raises(reproduce.RetrainFailed, match="took more than 5 s"):
        reproduce.first_epochs("copy", "smoke", "hadamrnn", timeout_s=5)


def test_the_record_threads_are_read_from_its_device_name():
    def run(name):
        return {"provenance": {"device_name": name}}
    assert reproduce.recorded_threads(run("x86_64 (2 cores, 1 torch threads)")) == 1
    assert reproduce.recorded_threads(run("x86_64 (16 cores, 4 torch threads)")) == 4
    assert reproduce.recorded_threads(run("NVIDIA H100")) == 1


def test_a_retrain_is_compared_with_the_record_it_replaced(recorded):
    import copy

    earlier = results.load_record("copy", "smoke")["runs"]["hadamrnn"]
    later = run_experiment("copy", "smoke", runs=["hadamrnn"], retrain=True,
                           progress=False)["runs"]["hadamrnn"]
    same = reproduce.compare_runs(earlier, later)
    assert same["verdict"].startswith("reproduced bit for bit through epoch ")
    assert same["test_same"] and same["size_same"] and same["epochs_compared"] == len(earlier["history"])
    assert same["later"]["cpu"] == results.cpu_description() and "cpu" in same["earlier"]
    text = reproduce.retrain_text({"experiment": "copy", "profile": "smoke", "run": "hadamrnn", "seed": 0,
                                   **same})
    assert f"of {same['epochs_compared']}; the test numbers are the same" in text
    assert text.count(f"in 1 start, on {results.cpu_description()['model']}") == 2
    other = copy.deepcopy(later)
    other["test"]["recall_accuracy"] = 0.0
    assert not reproduce.compare_runs(earlier, other)["test_same"]
    other["config_hash"] = "0" * 16
    with pytest.raises(ValueError, match="different configurations"):
        reproduce.compare_runs(earlier, other)


def test_an_environment_sensitivity_record_reads_as_a_table_and_lines():
    def env(name, threads, kernels, retrained):
        return {"environment": name, "device_name": f"x86_64 (2 cores, {threads} torch threads)",
                "cpu": {"model": "CPU", "torch_capability": kernels},
                "epochs": [{"epoch": 1, "recorded train loss": 2.5, "retrained train loss": retrained,
                            "same": retrained == 2.5}]}
    record = {"environments": [env("as recorded", 1, "AVX512", 2.5),
                               env("2 torch threads", 2, "AVX512", 2.4)]}
    frame = reproduce.sensitivity_frame(record)
    assert frame["torch threads"].tolist() == [1, 2]
    assert frame["every number the same"].tolist() == ["yes", "no"]
    assert reproduce.sensitivity_text(record) == ("1 of 2 environments gives the record's numbers bit for "
                                                  "bit: as recorded. Differs from epoch 1: 2 torch threads.")


def test_a_records_check_reads_as_a_table():
    record = {"runs": [
        {"experiment": "pmnist", "run": "hadamrnn", "verdict": "reproduced bit for bit through epoch 1",
         "same": True, "recorded": {"commit": "a" * 40, "date": "2026-12-02T16:18:00+00:00", "starts": 1}},
        {"experiment": "pmnist", "run": "fastgrnn", "same": False,
         "verdict": "differs from epoch 1 (training loss 2.08 retrained, 2.09 recorded)",
         "recorded": {"commit": "b" * 40, "date": "2026-12-04T21:45:00+00:00", "starts": 4,
                      "cpu": {"model": "AMD EPYC"}}}]}
    frame = reproduce.records_frame(record).set_index("run")
    assert frame.loc["pmnist / hadamrnn", "reproduced here"] == "yes"
    assert frame.loc["pmnist / fastgrnn", "reproduced here"] == "no: differs from epoch 1"
    assert frame.loc["pmnist / hadamrnn", "its CPU"] == "not recorded"
    assert frame.loc["pmnist / fastgrnn", "its CPU"] == "AMD EPYC"
    assert frame.loc["pmnist / fastgrnn", "starts"] == 4
    assert frame.loc["pmnist / fastgrnn", "record finished"] == "2026-12-04"


def test_the_conda_environment_names_every_dependency_of_the_package():
    """environment.yml installs the package with --no-deps, so a dependency it does not name is
    missing for conda users (ninja was: no fused kernel, the dense path several times slower)."""
    import re

    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    root = results._REPO_ROOT
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(dep for extra in ("book", "sparse", "dev")
                                          for dep in project["optional-dependencies"][extra])]
    names = {re.split(r"[<>=!~\[ ]", dep, maxsplit=1)[0].lower() for dep in wanted}
    listed = {re.split(r"[<>=!~\[ ]", line.strip()[2:], maxsplit=1)[0].lower()
              for line in (root / "environment.yml").read_text().splitlines()
              if line.strip().startswith("- ")}
    assert names - listed == set(), f"environment.yml lacks {sorted(names - listed)}"
