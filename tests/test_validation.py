"""Bad input fails fast with a message that names the bad value (and what would be valid).

One catalogue of the public boundaries a user types into: the registry of models and tasks, the
experiment profiles (which notebooks and the CLI go through), training configs, devices, Hadamard
sizes, bit widths, data files and result records. Each case checks the exception type, that the
message names the bad value, and that the error is raised by qornn itself, not from deep inside
torch or numpy (the last frame of the traceback is in the qornn package).
"""

from __future__ import annotations

import gzip
import traceback
from pathlib import Path

import pytest
import torch

from qornn import datasets, fast_hadamard, hadamard, quantize, results
from qornn.experiments import get_config, run_experiment
from qornn.models import build_model
from qornn.tasks import build_task
from qornn.train import TrainConfig


def _mnist_missing():
    build_task("pmnist")  # the cache (tests/conftest.py) is an empty temporary folder


def _mnist_corrupt(tmp_path: Path):
    bad = tmp_path / "mnist.pkl.gz"
    bad.write_bytes(gzip.compress(b"not the pickle"))
    build_task("pmnist", path=str(bad))


def _record_corrupt(tmp_path: Path):
    path = results.record_path("copy", "cpu")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"experiment": "copy", "runs": ')  # truncated mid-write by hand
    results.load_record("copy", "cpu")


CASES = {
    # name: (call, exception, regex the message must match)
    "unknown model": (lambda _: build_model("hadamrn", input_size=1, output_size=2, hidden_size=8),
                      ValueError, r"'hadamrn'.*hadamrnn"),
    "hidden not a power of two": (lambda _: build_model("hadamrnn", input_size=1, output_size=2,
                                                        hidden_size=100),
                                  ValueError, r"power of two.*got 100"),
    "hidden zero": (lambda _: build_model("hadamrnn", input_size=1, output_size=2, hidden_size=0),
                    ValueError, r"\b0\b"),
    "hidden negative": (lambda _: build_model("ornn", input_size=1, output_size=2, hidden_size=-8),
                        ValueError, r"-8"),
    "block not a power of two": (lambda _: build_model("block-hadamrnn", input_size=1, output_size=2,
                                                       hidden_size=64, block=12), ValueError, r"12"),
    "block larger than hidden": (lambda _: build_model("block-hadamrnn", input_size=1, output_size=2,
                                                       hidden_size=16, block=32), ValueError, r"32"),
    "weight bits too low": (lambda _: build_model("qornn-ste-bjorck", input_size=1, output_size=2,
                                                  hidden_size=8, bits=1), ValueError, r"\b1\b"),
    "input bits too high": (lambda _: build_model("hadamrnn", input_size=1, output_size=2, hidden_size=8,
                                                  bits=17), ValueError, r"17"),
    "bits not an int": (lambda _: quantize.check_bits(4.5), TypeError, r"4\.5"),
    "hadamard size": (lambda _: hadamard.sylvester_hadamard(12), ValueError,
                      r"power of two.*got 12; nearest valid values: 8 or 16"),
    "fwht length": (lambda _: hadamard.fwht(torch.ones(3, 6)), ValueError, r"6"),
    "fast recurrence block": (lambda _: fast_hadamard.hadamard_recurrence(torch.zeros(4, 2, 8),
                                                                          torch.ones(8), 3),
                              ValueError, r"3"),
    "unknown task": (lambda _: build_task("copyy"), ValueError, r"'copyy'.*copy"),
    "copy too short": (lambda _: build_task("copy", length=5, symbols=10), ValueError, r"5"),
    "copy no symbols": (lambda _: build_task("copy", length=40, symbols=0), ValueError, r"\b0\b"),
    "unknown task option": (lambda _: build_task("copy", lenght=40), (ValueError, TypeError), r"lenght"),
    "unknown experiment": (lambda _: get_config("cpy", "cpu"), ValueError, r"'cpy'.*copy"),
    "unknown profile": (lambda _: get_config("copy", "fast"), ValueError, r"'fast'.*smoke, cpu, paper"),
    "learning rate zero": (lambda _: TrainConfig(lr=0.0), ValueError, r"\b0(\.0)?\b"),
    "batch size zero": (lambda _: TrainConfig(batch_size=0), ValueError, r"batch_size.*0"),
    "epochs negative": (lambda _: TrainConfig(epochs=-1), ValueError, r"-1"),
    "unknown optimizer": (lambda _: TrainConfig(optimizer="adamw2"), ValueError, r"adamw2"),
    "cuda not available": (lambda _: run_experiment("copy", "smoke", device="cuda:3"), ValueError,
                           r"cuda:3"),
    "unknown device": (lambda _: run_experiment("copy", "smoke", device="tpu"), ValueError, r"'tpu'"),
    "negative seed": (lambda _: run_experiment("copy", "smoke", seed=-1), ValueError, r"-1"),
    "unknown run": (lambda _: run_experiment("copy", "smoke", runs=["gru"]), ValueError,
                    r"'gru'.*hadamrnn"),
    "unknown data source": (lambda _: datasets.fetch("mnistt"), datasets.DataError, r"mnistt"),
    "data file missing": (lambda _: _mnist_missing(), datasets.DataError,
                          r"mnist\.pkl\.gz.*qornn fetch mnist"),
    "data file corrupt": (_mnist_corrupt, datasets.DataError, r"sha256"),
    "record truncated": (_record_corrupt, ValueError, r"cpu\.json"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_a_clear_error_from_qornn(case, tmp_path):
    call, exception, pattern = CASES[case]
    if torch.cuda.device_count() > 3 and "cuda" in case:
        pytest.skip("this machine has the device")
    with pytest.raises(exception, match=pattern) as info:
        call(tmp_path)
    last = traceback.extract_tb(info.tb)[-1].filename
    assert f"{Path('qornn')}" in last and "site-packages/torch" not in last, (
        f"{case}: raised from {last}, not by qornn's own check")


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 25


def test_a_bad_device_stops_before_training(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("qornn.experiments.runner.train", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError):
        run_experiment("copy", "smoke", device="cuda:3")
    assert not calls and not results.record_path("copy", "smoke").exists()
