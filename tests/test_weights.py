"""Trained weights that ship with the book (qornn/weights.py): every recorded run writes its final
model packed under data/weights/, its record says where and with which sha256, and one call loads it
back, equal bit for bit to the trained model, or refuses with the command that produces it."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import torch

import qornn
from qornn import results
from qornn.cli import main as cli_main
from qornn.experiments import get_config, load_trained, run_experiment
from qornn.export import packed_bytes, read_packed
from qornn.overrides import record_variant
from qornn.tasks import build_task
from qornn.weights import WeightsError, weights_path


def _batch(experiment: str, profile: str = "smoke") -> torch.Tensor:
    config = get_config(experiment, profile)
    task = build_task(config.task, **config.task_options, seed=0)
    return task.batch("test", torch.arange(16))[0]


def _entry(experiment: str, run: str) -> dict:
    return results.load_record(experiment, "smoke")["runs"][run]["weights"]


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> bool:
    with torch.no_grad():
        return torch.equal(a(x), b(x))


@pytest.fixture
def copy_run():
    """The copy task's HadamRNN, trained and recorded on the smoke profile (a few seconds)."""
    return run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)


def test_a_recorded_run_writes_its_weights_and_one_call_loads_the_trained_model(copy_run):
    entry = copy_run["runs"]["hadamrnn"]["weights"]
    path = weights_path("copy", "smoke", "hadamrnn")
    assert entry["path"] == "weights/copy/smoke/hadamrnn.npz"
    assert path == results.data_dir() / entry["path"]
    raw = path.read_bytes()
    assert entry["sha256"] == hashlib.sha256(raw).hexdigest() and entry["file_bytes"] == len(raw)
    assert entry["payload_bits"] == copy_run["runs"]["hadamrnn"]["size_bits"]  # what the paper counts
    results.check_weights_entry(entry)
    model = qornn.load_weights("copy", "hadamrnn", profile="smoke")
    assert not model.training
    assert _same_outputs(model, load_trained("copy", "smoke", "hadamrnn"), _batch("copy"))


def test_post_training_and_aware_quantized_runs_ship_models_that_measure_as_recorded():
    from qornn.analysis import activation_ptq, analyse_model

    runs = ["ornn-bjorck", "ptq-bjorck-5bit", "qornn-ste-bjorck-5bit"]
    record = run_experiment("qornn-copy", "smoke", runs=runs, progress=False)
    config = get_config("qornn-copy", "smoke")
    task = build_task(config.task, **config.task_options, seed=0)
    x = _batch("qornn-copy")
    for run in runs:
        loaded = qornn.load_weights("qornn-copy", run, profile="smoke")
        assert _same_outputs(loaded, load_trained("qornn-copy", "smoke", run), x), run
        assert loaded.size_bits() == record["runs"][run]["size_bits"], run  # its bits came back too
        # what the analysis pages show can be measured again on the shipped model
        recorded = record["runs"][run]["analysis"]
        assert analyse_model(loaded)["W"] == recorded["W"], run
        if "activation_ptq" in recorded:
            assert activation_ptq(loaded, task) == recorded["activation_ptq"], run
    assert _entry("qornn-copy", "ptq-bjorck-5bit")["payload_bits"] < _entry("qornn-copy", "ornn-bjorck")[
        "payload_bits"]


def test_a_seed_or_an_override_has_its_weights_beside_its_record():
    assert weights_path("copy", "smoke", "hadamrnn", "seed=1") == (
        results.data_dir() / "weights/copy/variants/smoke/seed=1/hadamrnn.npz")
    overrides = {"hidden_size": 8}
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False, overrides=overrides, seed=1)
    variant = get_config("copy", "smoke", overrides).record_variant(1)
    entry = results.load_record("copy", "smoke", variant=variant)["runs"]["hadamrnn"]["weights"]
    assert entry["path"] == f"weights/copy/variants/smoke/{variant}/hadamrnn.npz"
    model = qornn.load_weights("copy", "hadamrnn", profile="smoke", seed=1, overrides=overrides)
    assert model.hidden_size == 8
    with pytest.raises(WeightsError, match="not recorded"):  # the profile's own run is another one
        qornn.load_weights("copy", "hadamrnn", profile="smoke")


@pytest.mark.parametrize("change,match", [
    ({"path": "../../etc/x.npz"}, "weights path"),
    ({"path": "/abs/weights/x.npz"}, "weights path"),
    ({"path": "weights/copy/smoke/hadamrnn.pt"}, "weights path"),
    ({"path": "weights/copy/../hadamrnn.npz"}, "weights path"),
    ({"sha256": "abc"}, "sha256"),
    ({"sha256": "A" * 64}, "sha256"),
    ({"file_bytes": 0}, "file_bytes"),
    ({"payload_bits": True}, "payload_bits"),
    ({"format": ""}, "format"),
])
def test_the_schema_refuses_a_bad_weights_entry(copy_run, change, match):
    run = copy_run["runs"]["hadamrnn"]
    before = results.record_path("copy", "smoke").read_bytes()
    with pytest.raises(results.RecordError, match=match):
        results.save_run("copy", "smoke", "hadamrnn", {**run, "weights": {**run["weights"], **change}})
    with pytest.raises(results.RecordError, match="weights lacks sha256"):
        results.check_weights_entry({k: v for k, v in run["weights"].items() if k != "sha256"})
    assert results.record_path("copy", "smoke").read_bytes() == before


def _record_edit(change) -> None:
    path = results.record_path("copy", "smoke")
    record = json.loads(path.read_text())
    change(record["runs"]["hadamrnn"])
    path.write_text(json.dumps(record))


def _flip_a_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


def _other_configuration(path) -> bytes:
    """The same model, packed as if it belonged to another configuration; the record made to match it."""
    model, meta = read_packed(path.read_bytes())
    data, _ = packed_bytes(model, meta["build"], {**meta["run"], "config_hash": "0" * 16})
    _record_edit(lambda run: run["weights"].update(sha256=hashlib.sha256(data).hexdigest()))
    return data


@pytest.mark.parametrize("spoil,match", [
    (lambda path: path.unlink(),
     r"missing .*; write them with: qornn export copy --profile smoke --runs hadamrnn$"),
    (lambda path: path.write_bytes(_flip_a_byte(path.read_bytes())),
     r"does not match its record \(sha256 .*changed or corrupt; write it again with: qornn export copy"),
    (lambda path: _record_edit(lambda run: run.pop("weights")),
     r"has no trained weights; write them .* qornn export copy --profile smoke --runs hadamrnn "
     r"\(or train it again: qornn run copy --profile smoke --runs hadamrnn --retrain\)"),
    (lambda path: _record_edit(lambda run: run.update(config_hash="0" * 16)),
     r"another configuration than the current one.*train it again with: qornn run copy --profile smoke "
     r"--runs hadamrnn$"),
    (lambda path: path.write_bytes(_other_configuration(path)),
     r"holds the weights of another configuration \(hash 0000000000000000.*qornn export copy"),
], ids=["missing", "tampered", "not-in-record", "stale-record", "other-configuration"])
def test_weights_that_do_not_match_the_record_are_refused_in_one_line(copy_run, spoil, match):
    spoil(weights_path("copy", "smoke", "hadamrnn"))
    with pytest.raises(WeightsError, match=match) as err:
        qornn.load_weights("copy", "hadamrnn", profile="smoke")
    assert "\n" not in str(err.value)


def test_an_unrecorded_run_or_record_names_the_command_that_trains_it(copy_run):
    with pytest.raises(WeightsError, match=r"not recorded; train it with: qornn run copy --profile smoke "
                                           r"--runs ornn$"):
        qornn.load_weights("copy", "ornn", profile="smoke")
    with pytest.raises(WeightsError, match=r"qornn run copy --profile smoke --seed 3 --runs hadamrnn$"):
        qornn.load_weights("copy", "hadamrnn", profile="smoke", seed=3)
    with pytest.raises(ValueError, match=r"unknown run\(s\) \['gru'\]"):
        qornn.load_weights("copy", "gru", profile="smoke")


def test_qornn_export_writes_the_weights_of_a_recorded_run_from_its_checkpoint(copy_run, capsys):
    written = copy_run["runs"]["hadamrnn"]["weights"]
    path = weights_path("copy", "smoke", "hadamrnn")
    path.unlink()
    _record_edit(lambda run: run.pop("weights"))  # a run recorded before weights were written
    assert cli_main(["export", "copy", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert str(path) in out and "qornn.load_weights('copy', RUN, profile='smoke')" in out
    # the checkpoint's model packs to the very bytes the run wrote: export is reproducible
    assert _entry("copy", "hadamrnn") == written
    assert hashlib.sha256(path.read_bytes()).hexdigest() == written["sha256"]
    assert _same_outputs(qornn.load_weights("copy", "hadamrnn", profile="smoke"),
                         load_trained("copy", "smoke", "hadamrnn"), _batch("copy"))


@pytest.mark.parametrize("argv,match", [
    (["export", "copy", "--profile", "smoke", "--runs", "ornn"], "'ornn' is not recorded"),
    (["export", "copy", "--profile", "smoke", "--runs", ""], "--runs"),
    (["export", "copy", "--profile", "smoke", "--seed", "2"], "no recorded results"),
    (["export", "copy", "--profile", "fast"], "'fast'"),
    (["export", "copy", "--profile", "smoke", "--seed", str(2**32)], str(2**32)),
])
def test_qornn_export_refuses_bad_input_in_one_line(copy_run, capsys, argv, match):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(match, err), err


def test_qornn_export_without_a_checkpoint_says_how_to_train_it(copy_run, capsys):
    next((results.runs_dir() / "copy" / "smoke" / "hadamrnn").glob("*.pt")).unlink()
    # weights already written as the record says need no checkpoint: nothing to do (a fresh clone)
    assert cli_main(["export", "copy", "--profile", "smoke"]) == 0
    assert "hadamrnn         already written, as its record says" in capsys.readouterr().out
    weights_path("copy", "smoke", "hadamrnn").unlink()
    assert cli_main(["export", "copy", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"no checkpoint .*qornn run copy --profile smoke --runs hadamrnn --retrain", err), err


def test_the_sign_probe_measures_the_same_on_the_shipped_weights_as_on_the_checkpoint(copy_run):
    from qornn.sign_probe import flip_predictions
    from qornn.weights import trained_model

    config = get_config("copy", "smoke")
    task = build_task(config.task, **config.task_options, seed=0)
    x, y = task.batch("train", torch.arange(32))

    def probe(model):
        return flip_predictions(model, x, y, task.loss, count=6, generator=torch.Generator().manual_seed(0))

    shipped = trained_model("copy", "hadamrnn", "smoke", task=task)
    assert type(shipped.input).__name__ == "QuantizedLinear" and shipped.input.scale is not None  # packed
    assert probe(shipped) == probe(load_trained("copy", "smoke", "hadamrnn", task=task))
    weights_path("copy", "smoke", "hadamrnn").unlink()  # no weights: the checkpoint
    assert trained_model("copy", "hadamrnn", "smoke", task=task).input.scale is None
    next((results.runs_dir() / "copy" / "smoke" / "hadamrnn").glob("*.pt")).unlink()
    with pytest.raises(ValueError, match=r"missing .*qornn export.*; nor is its checkpoint here: no check"):
        trained_model("copy", "hadamrnn", "smoke", task=task)


def _committed_weights_entries():
    """(record file, run, weights entry) of every committed record, kept ones in history/ included."""
    root = results._REPO_ROOT / "data"
    for path in sorted((root / "results").rglob("*.json")):
        runs = json.loads(path.read_text()).get("runs")
        for run, data in sorted(runs.items()) if isinstance(runs, dict) else ():  # benchmarks: a list
            if isinstance(data, dict) and data.get("weights"):
                yield path.relative_to(root).as_posix(), run, data["weights"]


def test_every_committed_record_names_weights_that_are_there():
    """Every weights file a committed record names, the records kept in history/ included, is
    committed with the sha256 the record gives: a replaced run's file is kept, not overwritten."""
    root = results._REPO_ROOT / "data"
    entries = list(_committed_weights_entries())
    assert any("/history/" in path for path, _, _ in entries)
    wrong = [f"{path}: {run} -> {entry['path']}" for path, run, entry in entries
             if not (root / entry["path"]).is_file()
             or hashlib.sha256((root / entry["path"]).read_bytes()).hexdigest() != entry["sha256"]]
    assert not wrong, "\n".join(wrong)


def _committed_loadable_runs():
    """(experiment, profile, run, seed, overrides) of every run with weights in a committed record that
    :func:`qornn.load_weights` reads: ``<experiment>/<profile>.json`` and
    ``<experiment>/variants/<profile>/<variant>.json`` (not history/, whose runs were replaced). The
    seed is the ``seed=S`` of the variant's name; the overrides are the record's."""
    root = results._REPO_ROOT / "data" / "results"
    paths = sorted([*root.glob("*/*.json"), *root.glob("*/variants/*/*.json")])
    for path in paths:
        record = json.loads(path.read_text())
        if not isinstance(record.get("runs"), dict):  # benchmarks: a list
            continue
        seed = re.search(r"(?:^|,)seed=(\d+)(?:,|$)", record.get("variant") or "")
        seed = int(seed.group(1)) if seed else 0
        overrides = record.get("overrides") or {}
        weighted = sorted(run for run, data in record["runs"].items() if data.get("weights"))
        # the record that load_weights reads for these overrides and seed is this one
        assert not weighted or record_variant(overrides, seed) == (record.get("variant") or ""), path
        for run in weighted:
            yield record["experiment"], record["profile"], run, seed, overrides


def test_the_weights_of_every_committed_record_load(monkeypatch):
    """Each run whose committed record names weights loads with the one documented call: a profile edit
    that changes a recorded run's configuration (so its shipped weights no longer belong to it), or a
    file that no longer reads back, fails here instead of on a book page."""
    monkeypatch.setenv("QORNN_DATA_DIR", str(results._REPO_ROOT / "data"))  # read only
    runs = list(_committed_loadable_runs())
    assert len(runs) > 100 and any(seed for *_, seed, _ in runs) and any(o for *_, o in runs)
    failed = []
    for experiment, profile, run, seed, overrides in runs:
        try:
            model = qornn.load_weights(experiment, run, profile, seed=seed, overrides=overrides or None)
        except (ValueError, KeyError) as error:  # WeightsError is a ValueError
            failed.append(f"{experiment}/{profile}/{run} seed {seed} {overrides}: {error}")
            continue
        if any(module.training for module in model.modules()):
            failed.append(f"{experiment}/{profile}/{run} seed {seed} {overrides}: not in eval mode")
    assert not failed, f"{len(failed)} of {len(runs)} committed runs do not load:\n" + "\n".join(failed)
