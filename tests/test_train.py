import ast
import hashlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from qornn import results
from qornn.cli import main as cli_main
from qornn.experiments import get_config, run_experiment
from qornn.models import build_model
from qornn.tasks import CopyTask
from qornn.train import TrainConfig, batches_per_epoch, check_device, train

SMALL = dict(length=30, symbols=3, train_size=192, val_size=64, test_size=64)


def small_run(checkpoint=None, on_step=None, epochs=2, lr=1e-2, device="cpu", model="hadamrnn"):
    torch.manual_seed(0)
    task = CopyTask(**SMALL, seed=0)
    model = build_model(model, input_size=10, output_size=9, hidden_size=16, many_to_many=True)
    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=lr, checkpoint_every=2, eval_batch_size=64)
    out = train(model, task, cfg, seed=0, checkpoint=checkpoint, progress=False, on_step=on_step,
                device=device)
    return model, out


def test_smoke_training_lowers_the_loss():
    _, out = small_run(epochs=3)
    losses = [h["train_loss"] for h in out["history"]]
    assert losses[-1] < losses[0]
    assert out["history"][-1]["val"]["loss"] < out["history"][0]["val"]["loss"]


def test_an_epoch_takes_one_step_per_batch_and_a_short_last_batch_counts():
    # SMALL has 192 training sequences: 6 full batches of 32, or 4 batches of 50 with a short last one
    assert batches_per_epoch(192, 32) == 6 and batches_per_epoch(192, 50) == 4
    steps = []
    torch.manual_seed(0)
    task = CopyTask(**SMALL, seed=0)
    model = build_model("hadamrnn", input_size=10, output_size=9, hidden_size=16, many_to_many=True)
    cfg = TrainConfig(epochs=2, batch_size=50, lr=1e-2, eval_batch_size=64)
    train(model, task, cfg, seed=0, progress=False, on_step=steps.append)
    assert steps == list(range(1, 2 * batches_per_epoch(192, 50) + 1))


def test_training_flushes_subnormals_and_leaves_the_default_after(subnormal_survives):
    # Subnormals make CPU arithmetic several times slower (flush_denormals' docstring); training and
    # evaluation run with them flushed, and the process gets its default back afterwards.
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    seen = []
    small_run(epochs=1, on_step=lambda step: seen.append(subnormal_survives()))
    assert seen and not any(seen)
    assert subnormal_survives()


def test_the_kernel_is_built_before_the_clock_of_the_first_step_starts(monkeypatch):
    """Building the fused kernel takes a minute on a fresh machine: it is not training time, so
    train() builds it (when the model runs on it) before its first step is timed."""
    import time
    import types

    from qornn import fast_hadamard
    from qornn import train as training

    events = []
    load = fast_hadamard.load_extension
    monkeypatch.setattr(fast_hadamard, "load_extension", lambda: events.append("kernel") or load())
    clock = types.SimpleNamespace(perf_counter=lambda: events.append("clock") or time.perf_counter())
    monkeypatch.setattr(training, "time", clock)  # train.py's clock only
    small_run(epochs=1)
    assert "kernel" in events and events.index("kernel") < events.index("clock")
    events.clear()
    small_run(epochs=1, model="lstm")  # no HadamRNN weight: nothing to build
    assert "kernel" not in events


class Interrupt(Exception):
    pass


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_run_resumes_on_a_gpu_and_each_start_says_where_it_ran(tmp_path):
    # the checkpoint is loaded onto the GPU (map_location): the generator states it holds must go
    # back to the CPU for torch.set_rng_state, which refused them before
    ckpt = tmp_path / "ckpt.pt"

    def stop_at_step_9(step):
        if step == 9:
            raise Interrupt

    with pytest.raises(Interrupt):
        small_run(checkpoint=ckpt, on_step=stop_at_step_9, model="ornn")
    _, gpu = small_run(checkpoint=ckpt, device="cuda", model="ornn")
    _, cpu = small_run(checkpoint=ckpt, model="ornn")  # finished: nothing left to train
    assert [s["device"] for s in gpu["segments"]] == ["cpu", "cuda"]
    assert gpu["segments"][1]["device_name"] == torch.cuda.get_device_name()
    assert cpu["segments"] == gpu["segments"]


def test_resume_in_process_gives_the_same_result(tmp_path):
    reference_model, reference = small_run()
    ckpt = tmp_path / "ckpt.pt"

    def stop_at_step_9(step):  # mid-epoch 2 (6 steps an epoch), after the checkpoint at step 8
        if step == 9:
            raise Interrupt

    with pytest.raises(Interrupt):
        small_run(checkpoint=ckpt, on_step=stop_at_step_9)
    assert ckpt.exists()
    model, resumed = small_run(checkpoint=ckpt)
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in reference["history"]]
    # which start trained which steps: the checkpoint at step 8 is where the second one took over
    total = reference["segments"][0]["to_step"]
    assert [(s["from_step"], s["to_step"]) for s in reference["segments"]] == [(0, total)]
    assert [(s["from_step"], s["to_step"]) for s in resumed["segments"]] == [(0, 8), (8, total)]
    assert all("commit" in s and "host" in s for s in resumed["segments"])
    assert [s["device"] for s in resumed["segments"]] == ["cpu", "cpu"]
    assert {s["device_name"] for s in resumed["segments"]} == {results.device_name("cpu")}
    assert {s["torch"] for s in resumed["segments"]} == {torch.__version__}
    assert all(s["cpu"] == results.cpu_description() for s in resumed["segments"])
    # each start's own training time: together the run's (a device's speed reads from them)
    assert all(s["wall_time_s"] > 0 for s in resumed["segments"])
    assert sum(s["wall_time_s"] for s in resumed["segments"]) == pytest.approx(resumed["wall_time_s"],
                                                                                abs=0.02)
    assert resumed["test"] == reference["test"]
    for a, b in zip(model.state_dict().values(), reference_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


SCRIPT = textwrap.dedent("""
    import os, signal, sys, json
    sys.path.insert(0, {tests!r})
    from test_train import small_run
    kill_at = int(sys.argv[2])
    def on_step(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # abrupt: no cleanup, no final save
    _, out = small_run(checkpoint=sys.argv[1], on_step=on_step)
    print(json.dumps({{"history": [h["train_loss"] for h in out["history"]], "test": out["test"]}}))
""")


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(__import__("pathlib").Path(__file__).parent)))
    ckpt = tmp_path / "ckpt.pt"
    killed = subprocess.run([sys.executable, str(script), str(ckpt), "9"], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL
    assert ckpt.exists()
    resumed = subprocess.run([sys.executable, str(script), str(ckpt), "-1"], capture_output=True,
                             text=True, check=True)
    _, reference = small_run()
    got = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert got["history"] == [h["train_loss"] for h in reference["history"]]
    assert got["test"] == reference["test"]


def test_checkpoint_from_another_config_is_refused(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    small_run(checkpoint=ckpt, epochs=1)
    with pytest.raises(ValueError, match=f"checkpoint {ckpt} .*another (run|training config)"):
        small_run(checkpoint=ckpt, epochs=2)


def _without_wall_time(history):
    return [{k: v for k, v in point.items() if k not in ("wall_time_s", "resumed_at_steps")}
            for point in history]


def test_a_resumed_epoch_reports_the_same_diagnostics_bit_for_bit(tmp_path):
    # HadamardWeight counts sign flips per step; the counters travel in the checkpoint, so the
    # interrupted epoch's sign_flips_per_step equals the uninterrupted run's, as does all the rest.
    _, reference = small_run(lr=0.1)  # large enough that signs flip in both epochs
    ckpt = tmp_path / "ckpt.pt"

    def stop_at_step_9(step):
        if step == 9:
            raise Interrupt

    with pytest.raises(Interrupt):
        small_run(checkpoint=ckpt, on_step=stop_at_step_9, lr=0.1)
    _, resumed = small_run(checkpoint=ckpt, lr=0.1)
    assert reference["history"][1]["diagnostics"]["sign_flips_per_step"] > 0
    # the interrupted epoch (the second: 6 steps an epoch, checkpoint at step 8) says it was resumed
    assert [point.get("resumed_at_steps") for point in resumed["history"]] == [None, [2]]
    assert _without_wall_time(resumed["history"]) == _without_wall_time(reference["history"])


class _Payload:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['QORNN_RUNS_DIR'])"
                       ".mkdir(parents=True, exist_ok=True); (pathlib.Path(__import__('os').environ"
                       "['QORNN_RUNS_DIR']) / 'pwned').write_text('ran')",))


def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"model": _Payload()}, ckpt)
    # what it asked for, and none of torch's advice to load it with weights_only=False (review F10)
    with pytest.raises(ValueError, match=f"^checkpoint {ckpt} was not loaded: it holds objects other than "
                                         r"tensors and plain values \(Unsupported global: GLOBAL exec was "
                                         r"not an allowed global by default\), and loading them would call "
                                         "what they name, which can be any code") as err:
        small_run(checkpoint=ckpt)
    assert "weights_only" not in str(err.value) and "safe_globals" not in str(err.value)
    assert not (results.runs_dir() / "pwned").exists()


def test_a_checkpoint_with_a_harmless_global_is_refused_without_calling_it_crafted(tmp_path):
    """A numpy scalar names a numpy function to call: not a payload, but not a file qornn writes."""
    import numpy as np

    ckpt = tmp_path / "ckpt.pt"
    torch.save({"model": {"x": np.float32(1.0)}}, ckpt)
    with pytest.raises(ValueError, match=r"was not loaded: it holds objects other than tensors .*numpy.*"
                                         "qornn never writes such a file") as err:
        small_run(checkpoint=ckpt)
    assert "crafted" not in str(err.value)


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    from qornn.train import load_checkpoint

    ckpt = tmp_path / "ckpt.pt"
    small_run(checkpoint=ckpt, epochs=1)
    assert load_checkpoint(ckpt)["run_hash"]
    with pytest.raises(ValueError, match=f"checkpoint {ckpt} belongs to another run"):
        load_checkpoint(ckpt, run_hash="0123456789abcdef")
    ckpt.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=f"checkpoint {ckpt} cannot be read"):
        load_checkpoint(ckpt)


def test_a_checkpoint_of_another_seed_is_refused(tmp_path):
    # the seed decides the data order: resuming seed 0's steps as seed 1 would mix two runs
    ckpt = tmp_path / "ckpt.pt"
    torch.manual_seed(0)
    task = CopyTask(**SMALL, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, checkpoint_every=2, eval_batch_size=64)

    def stop(step):
        if step == 3:
            raise KeyboardInterrupt

    model = build_model("hadamrnn", input_size=10, output_size=9, hidden_size=16, many_to_many=True)
    with pytest.raises(KeyboardInterrupt):
        train(model, task, cfg, seed=0, checkpoint=ckpt, progress=False, on_step=stop)
    assert ckpt.exists()
    with pytest.raises(ValueError, match=f"checkpoint {ckpt} belongs to another run"):
        train(model, task, cfg, seed=1, checkpoint=ckpt, progress=False)
    out = train(model, task, cfg, seed=0, checkpoint=ckpt, progress=False)  # its own seed resumes
    assert out["history"][0]["resumed_at_steps"]


def test_run_experiment_records_provenance_and_skips_when_done():
    record = run_experiment("copy", "smoke", progress=False)
    path = results.record_path("copy", "smoke")
    assert path.exists()
    run = record["runs"]["hadamrnn"]
    for key in ("commit", "profile", "seed", "device", "torch", "wall_time_s", "date"):
        assert key in run["provenance"]
    assert run["provenance"]["profile"] == "smoke"
    assert run["provenance"]["cpu"] == results.cpu_description()
    assert run["config"]["train"]["lr"] == get_config("copy", "smoke").train["lr"]
    assert run["baselines"]["memoryless_cross_entropy"] > 0
    mtime = path.stat().st_mtime_ns
    again = run_experiment("copy", "smoke", progress=False)  # recorded: nothing retrained
    assert path.stat().st_mtime_ns == mtime and again == record


def test_same_seed_gives_identical_records():
    first = run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)["runs"]["hadamrnn"]
    second = run_experiment("copy", "smoke", runs=["hadamrnn"], retrain=True,
                            progress=False)["runs"]["hadamrnn"]
    assert first["test"] == second["test"]
    assert [h["train_loss"] for h in first["history"]] == [h["train_loss"] for h in second["history"]]


def test_a_different_config_keeps_the_old_record(monkeypatch):
    from qornn.experiments import EXPERIMENTS

    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    # another seed has a record of its own (qornn sweep's layout): the seed-0 record is untouched
    run_experiment("copy", "smoke", runs=["hadamrnn"], seed=1, progress=False)
    assert not (results.record_path("copy", "smoke").parent / "history").exists()
    assert results.load_record("copy", "smoke")["runs"]["hadamrnn"]["config"]["seed"] == 0
    # a changed definition of the same run: the old record is copied to history/ first
    smoke = EXPERIMENTS["copy"]["profiles"]["smoke"]
    monkeypatch.setitem(smoke, "train", {**smoke["train"], "lr": smoke["train"]["lr"] / 2})
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    history = results.history_paths(results.record_path("copy", "smoke"))
    assert len(history) == 1
    old = json.loads(history[0].read_text())["runs"]["hadamrnn"]["config"]["train"]["lr"]
    assert old == 2 * results.load_record("copy", "smoke")["runs"]["hadamrnn"]["config"]["train"]["lr"]


def test_a_changed_definition_of_several_runs_keeps_one_copy_of_the_old_record(monkeypatch):
    from qornn.experiments import EXPERIMENTS

    runs = ["hadamrnn", "lstm"]
    before = run_experiment("copy", "smoke", runs=runs, progress=False)["runs"]
    smoke = EXPERIMENTS["copy"]["profiles"]["smoke"]
    monkeypatch.setitem(smoke, "train", {**smoke["train"], "lr": smoke["train"]["lr"] / 2})
    run_experiment("copy", "smoke", runs=runs, progress=False)  # replaces them one after the other
    history = results.history_paths(results.record_path("copy", "smoke"))
    assert len(history) == 1
    kept = json.loads(history[0].read_text())["runs"]
    assert {run: kept[run]["config_hash"] for run in runs} == {
        run: before[run]["config_hash"] for run in runs}
    # a third definition keeps the second one too
    monkeypatch.setitem(smoke, "train", {**smoke["train"], "lr": smoke["train"]["lr"] / 4})
    run_experiment("copy", "smoke", runs=runs, progress=False)
    assert len(results.history_paths(results.record_path("copy", "smoke"))) == 2


def _kept_weights_match(run: dict) -> bool:
    entry = run["weights"]
    data = (results.data_dir() / entry["path"]).read_bytes()
    return hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_a_replaced_run_keeps_its_weights(monkeypatch):
    from qornn.experiments import EXPERIMENTS
    from qornn.weights import load_weights

    runs = ["hadamrnn", "lstm"]
    before = run_experiment("copy", "smoke", runs=runs, progress=False)["runs"]
    files = {run: (results.data_dir() / before[run]["weights"]["path"]).read_bytes() for run in runs}
    smoke = EXPERIMENTS["copy"]["profiles"]["smoke"]
    monkeypatch.setitem(smoke, "train", {**smoke["train"], "lr": smoke["train"]["lr"] / 2})
    after = run_experiment("copy", "smoke", runs=runs, progress=False)["runs"]  # one after the other
    kept = json.loads(results.history_paths(results.record_path("copy", "smoke"))[0].read_text())["runs"]
    for run in runs:
        # the new run's file took the old one's place; the old file was copied first, byte for byte
        assert after[run]["weights"]["path"] == before[run]["weights"]["path"]
        assert after[run]["weights"]["sha256"] != before[run]["weights"]["sha256"]
        assert kept[run]["weights"]["path"] == results.kept_weights_path(before[run]["weights"])
        assert (results.data_dir() / kept[run]["weights"]["path"]).read_bytes() == files[run]
        assert _kept_weights_match(kept[run]) and _kept_weights_match(after[run])
        assert {k: v for k, v in kept[run]["weights"].items() if k != "path"} == {
            k: v for k, v in before[run]["weights"].items() if k != "path"}
    load_weights("copy", "hadamrnn", "smoke")  # the current record's weights still load


def test_a_record_kept_after_its_weights_were_replaced_names_them_as_they_were(monkeypatch):
    """A file that no longer matches its sha256 (replaced before the weights were kept) is not
    copied: the kept record names it where it was, and its sha256 tells it is gone."""
    from qornn.experiments import EXPERIMENTS

    before = run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)["runs"]["hadamrnn"]
    (results.data_dir() / before["weights"]["path"]).write_bytes(b"another file")
    smoke = EXPERIMENTS["copy"]["profiles"]["smoke"]
    monkeypatch.setitem(smoke, "train", {**smoke["train"], "lr": smoke["train"]["lr"] / 2})
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    kept = json.loads(results.history_paths(results.record_path("copy", "smoke"))[0].read_text())
    assert kept["runs"]["hadamrnn"]["weights"] == before["weights"]
    assert not (results.data_dir() / results.kept_weights_path(before["weights"])).exists()


def test_corrupt_record_is_a_clear_error():
    path = results.record_path("copy", "smoke")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(results.RecordError, match="not valid JSON"):
        results.load_record("copy", "smoke")
    path.write_text(json.dumps({"schema": 99}))
    with pytest.raises(results.RecordError, match="schema"):
        results.load_record("copy", "smoke")
    with pytest.raises(results.RecordError, match="qornn run copy --profile cpu"):
        results.load_record("copy", "cpu")


@pytest.mark.parametrize("argv,match", [
    (["run", "copi"], "unknown experiment 'copi'"),
    (["run", "copy", "--profile", "fast"], "unknown profile 'fast'.*smoke, cpu, paper"),
    (["run", "copy", "--profile", "smoke", "--device", "cuda:3"], "not available"),
    (["run", "copy", "--profile", "smoke", "--device", "gpu"], "not a device name"),
    (["run", "copy", "--profile", "smoke", "--runs", "gru"], "unknown run"),
    (["run", "copy", "--profile", "smoke", "--seed", "-1"], "seed"),
    (["show", "copy", "--profile", "paper"], "no recorded results"),
])
def test_cli_bad_input_fails_fast_with_one_line(argv, match, capsys):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qornn: error:") and len(err.strip().splitlines()) == 1
    import re
    assert re.search(match, err)


def test_cli_run_that_diverges_fails_with_one_line(monkeypatch, capsys):
    real_loss = CopyTask.loss
    monkeypatch.setattr(CopyTask, "loss", lambda self, logits, y: real_loss(self, logits, y) * float("nan"))
    assert cli_main(["run", "copy", "--profile", "smoke", "--runs", "ornn", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qornn: error: copy/ornn: training diverged at optimiser step 1")
    assert len(err.strip().splitlines()) == 1


def test_cli_run_and_show(capsys):
    assert cli_main(["run", "copy", "--profile", "smoke", "--no-progress"]) == 0
    assert cli_main(["show", "copy", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "hadamrnn" in out and "ornn" in out and "recall_accuracy" in out


@pytest.mark.parametrize("bad,match", [
    ({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"), ({"optimizer": "adamw"}, "adamw"),
    ({"lr_gamma": 1.5}, "lr_gamma"), ({"batch_size": 2.5}, "batch_size"),
])
def test_bad_train_config(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def test_check_device():
    assert check_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="'tpu'"):
        check_device("tpu")
    assert check_device("cpu:0").type == "cpu"
    with pytest.raises(ValueError, match="device 'cpu:1' is not available here; the CPU is 'cpu'"):
        check_device("cpu:1")  # torch takes it (review F10); there is one CPU device


def test_records_from_other_code_are_flagged():
    from qornn.results import code_changed_since, git_commit

    head = git_commit()["commit"]
    assert code_changed_since({"provenance": {"commit": head, "dirty": False}}) is None
    assert "uncommitted" in code_changed_since({"provenance": {"commit": head, "dirty": True}})
    assert "does not have" in code_changed_since({"provenance": {"commit": "0" * 40, "dirty": False}})
    assert "unknown" in code_changed_since({"provenance": {"commit": None}})


def test_presentation_only_changes_do_not_flag_a_run():
    from qornn.results import affecting_changes

    assert affecting_changes(["qornn/report.py", "qornn/benchmark_report.py", "qornn/results.py"]) == []
    assert affecting_changes(["qornn/report.py", "qornn/train.py", "qornn/models/baselines.py"]) == [
        "qornn/train.py", "qornn/models/baselines.py"]


def test_a_wing_or_a_module_of_one_experiment_flags_only_its_own_records():
    from qornn.results import affecting_changes

    changed = ["qornn/sparse/solvers.py", "qornn/overestimate/majoring.py", "qornn/wings.py",
               "qornn/peer.py", "qornn/sign_probe.py", "qornn/train.py"]
    assert affecting_changes(changed, "copy") == ["qornn/train.py"]
    assert affecting_changes(changed, "sea-gaussian") == ["qornn/sparse/solvers.py", "qornn/wings.py"]
    assert affecting_changes(changed, "overestimate-cessna") == ["qornn/overestimate/majoring.py",
                                                                "qornn/wings.py"]
    assert affecting_changes(changed, "theory-saddle-escape") == []
    assert affecting_changes(changed, "hadamrnn-peer-check") == ["qornn/peer.py", "qornn/train.py"]
    assert affecting_changes(changed, "hadamrnn-signs-probe") == ["qornn/sign_probe.py", "qornn/train.py"]


def test_the_modules_of_one_experiment_are_imported_by_no_other_module():
    from qornn.results import EXPERIMENT_ONLY, WING_RUNNER

    root = Path(__file__).resolve().parents[1]
    modules = {Path(path).stem for path in [*EXPERIMENT_ONLY, WING_RUNNER[0]]}
    for path in (root / "qornn").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[-1], *(a.name for a in node.names)}
            elif isinstance(node, ast.Import):
                names = {a.name.split(".")[-1] for a in node.names}
            else:
                continue
            assert not (names & modules) or path.stem in modules, (path, names & modules)


def test_changes_to_comments_and_docstrings_only_do_not_flag_a_run(monkeypatch):
    from qornn import results

    code = 'def f(x):\n    """Twice x."""\n    return 2 * x  # doubled\n'
    reworded = '"""A module."""\n\n\ndef f(x):\n    """x, twice:\n    2x."""\n\n    return 2 * x\n'
    changed = 'def f(x):\n    """Twice x."""\n    return 3 * x\n'
    assert results.code_fingerprint(code) == results.code_fingerprint(reworded)
    assert results.code_fingerprint(code) != results.code_fingerprint(changed)
    # each source is parsed once (the pages ask again and again), and registry data keyed apart
    parsed = []
    real_tree = results._code_tree
    monkeypatch.setattr(results, "_code_tree", lambda *a, **k: parsed.append(1) or real_tree(*a, **k))
    again = code + "\n"  # a source not seen before
    fingerprint = results.code_fingerprint(again)
    assert results.code_fingerprint(again) == fingerprint == results.code_fingerprint(code)
    assert len(parsed) == 1
    results.code_fingerprint(again, registry_data=True)
    assert len(parsed) == 2
    monkeypatch.setattr(results, "_code_tree", real_tree)
    versions = {("old", "a.py"): code, ("new", "a.py"): reworded, ("new2", "a.py"): changed,
                ("old", "b.cpp"): "x", ("new", "b.cpp"): "y"}
    monkeypatch.setattr(results, "_git_show", lambda commit, path: versions.get((commit, path)))
    results.behaviour_changed.cache_clear()
    try:
        assert not results.behaviour_changed("old", "a.py", "new")
        assert results.behaviour_changed("old", "a.py", "new2")
        assert results.behaviour_changed("old", "b.cpp", "new")  # not Python: any change counts
        assert results.behaviour_changed("old", "gone.py", "new")  # added or removed
    finally:
        results.behaviour_changed.cache_clear()


def test_rewrites_checked_to_give_the_same_numbers_do_not_flag_a_run(monkeypatch):
    """A kernel rewrite declared in SAME_RESULTS (a chain of them too) leaves older records current;
    any other version of the file still flags them."""
    path = "qornn/csrc/hadamard_rnn.cpp"
    versions = {("v1", path): "one", ("v2", path): "two", ("v3", path): "three", ("other", path): "four"}
    ids = {v: results.blob_id(text) for (v, _), text in versions.items()}
    monkeypatch.setattr(results, "_git_show", lambda commit, p: versions.get((commit, p)))
    chain = frozenset({(ids["v1"], ids["v2"]), (ids["v2"], ids["v3"])})
    monkeypatch.setitem(results.SAME_RESULTS, path, chain)
    results.behaviour_changed.cache_clear()
    try:
        assert not results.behaviour_changed("v1", path, "v2")
        assert not results.behaviour_changed("v1", path, "v3")  # through v2
        assert results.behaviour_changed("v3", path, "v1")  # a pair reads one way only
        assert results.behaviour_changed("v1", path, "other")
    finally:
        results.behaviour_changed.cache_clear()


def test_blob_id_is_gits():
    path = "qornn/csrc/hadamard_rnn.cpp"  # UTF-8 beyond ASCII in its comments
    head = subprocess.run(["git", "rev-parse", f"HEAD:{path}"], cwd=results._REPO_ROOT, capture_output=True,
                          text=True).stdout.strip()
    assert results.blob_id(results._git_show("HEAD", path)) == head


def test_file_versions_are_read_through_one_git_process_as_git_show_gives_them():
    def shown(path):
        return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=results._REPO_ROOT, capture_output=True,
                              text=True).stdout

    paths = ["qornn/train.py", "qornn/csrc/hadamard_rnn.cpp", "qornn/results.py"]
    assert [results._git_show("HEAD", path) for path in paths] == [shown(path) for path in paths]
    process = results._OBJECTS._process
    assert results._git_show("HEAD", paths[0]) == shown(paths[0]) and results._OBJECTS._process is process
    # a path the commit lacks, a folder, an unknown blob: nothing, and the process goes on
    assert results._git_show("HEAD", "qornn/no such file.py") is None
    assert results._git_show("HEAD", "qornn") is None
    assert results._git_blob.__wrapped__("0" * 40) is None
    assert results._git_show("HEAD", paths[1]) == shown(paths[1]) and results._OBJECTS._process is process
    process.kill()  # a process that died is started again on the next read
    process.wait()
    assert results._git_show("HEAD", paths[0]) == shown(paths[0]) and results._OBJECTS._process is not process
    # a forked worker (qornn sweep's local cores) starts its own rather than share the parent's pipes
    parent = results._OBJECTS._process
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        same = results._git_show("HEAD", paths[1]) == shown(paths[1])
        os._exit(0 if same and results._OBJECTS._process is not parent else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
    assert results._git_show("HEAD", paths[0]) == shown(paths[0]) and results._OBJECTS._process is parent


def test_a_declared_rewrite_covers_versions_that_differ_only_in_comments(monkeypatch):
    path = "qornn/train.py"
    v1, v2 = "def f(x):\n    return x\n", "def f(x):\n    return x + 0\n"
    v1_commented, v2_commented = "def f(x):\n    # why\n    return x\n", v2 + "# a comment\n"
    other = "def f(x):\n    return 2 * x\n"
    texts = {results.blob_id(text): text for text in (v1, v2)}
    monkeypatch.setattr(results, "_git_blob", texts.get)
    monkeypatch.setitem(results.SAME_RESULTS, path, frozenset({(results.blob_id(v1), results.blob_id(v2))}))
    assert results.verified_same(path, v1, v2)
    assert results.verified_same(path, v1_commented, v2)  # an earlier commit with the same code
    assert results.verified_same(path, v1_commented, v2_commented)
    assert not results.verified_same(path, v2, v1)  # a pair reads one way only
    assert not results.verified_same(path, v1, other)
    assert not results.verified_same(path, other, v2)


def test_plain_functions_added_before_or_after_a_declared_rewrite_keep_a_run_current(monkeypatch):
    """A file that went through a declared rewrite and gained a plain function, in either order, still
    behaves as before for the runs made before both; a changed function still counts."""
    path = "qornn/fast_hadamard.py"
    v1, v2 = "def f(x):\n    return x\n", "def f(x):\n    return x + 0\n"
    helper = "\n\ndef g(y):\n    return 2 * y\n"
    texts = {results.blob_id(text): text for text in (v1 + helper, v2)}
    monkeypatch.setattr(results, "_git_blob", texts.get)
    rewrite = (results.blob_id(v1 + helper), results.blob_id(v2))
    monkeypatch.setitem(results.SAME_RESULTS, path, frozenset({rewrite}))
    assert results.verified_same(path, v1, v2)  # a function added, then the declared rewrite
    # a version reached through the declared rewrites alone is found without looking for added
    # functions (a parse of every version: what made the pages' provenance notes slow)
    looked = []
    real = results._only_new_functions
    monkeypatch.setattr(results, "_only_new_functions", lambda *a, **k: looked.append(1) or real(*a, **k))
    assert results.verified_same(path, v1 + helper, v2 + "# a comment\n") and not looked
    assert results.verified_same(path, v1 + "# a comment\n", v2 + helper) and looked
    assert results.verified_same(path, v1, v2 + helper)  # ... then a function added after it
    assert results.verified_same(path, v1 + helper, v2 + "\n\ndef h():\n    return 0\n")
    assert not results.verified_same(path, v1, "def f(x):\n    return x + 1\n" + helper)
    assert not results.verified_same(path, v2, v1)  # a pair reads one way only
    # what a function added to a file must not be: one under a name the file bound before, or a class
    assert not results.verified_same(path, v1, v2 + "\n\ndef f(x):\n    return 0\n")
    assert not results.verified_same(path, v1, v2 + "\n\nclass G:\n    pass\n")
    # the same in a file no rewrite was declared for
    assert results.verified_same("qornn/tasks/copy.py", v1, v1 + helper)
    assert not results.verified_same("qornn/tasks/copy.py", v1, v2)
    assert not results.verified_same("qornn/csrc/x.cpp", "int a;", "int a; int b;")  # C++: same text only


def test_each_declared_same_results_rewrite_has_a_recorded_check():
    """SAME_RESULTS is a claim about numbers: each pair must be backed by a committed record of
    scripts/kernel_equivalence.py or scripts/training_equivalence.py that compared those two
    versions at one thread and found no case different."""
    benchmarks = results._REPO_ROOT / "data" / "results" / "benchmarks"
    records = [json.loads(p.read_text()) for check in ("kernel_equivalence", "training_equivalence")
               for p in (benchmarks / check).glob("*.json")]

    def same(r: dict) -> bool:  # no case different, or only the re-quantized ones (below)
        if r["different"] == 0:
            return True
        return r.get("compared_with") in REQUANTIZED_CHECKS and all(
            re.search(r"numbers of [\w-]+/ptq-bjorck-\d+bit ", case) for case in r["different_cases"])

    for path, pairs in results.SAME_RESULTS.items():
        for before, after in pairs:
            assert any(r["blobs_before"].get(path) == before and r["blobs_after"].get(path) == after
                       and same(r) and r["cases"] > 0 and r["threads"] == 1 for r in records), \
                (path, before, after)


def test_each_rewrite_checked_equal_but_for_some_runs_has_a_recorded_check_that_says_so():
    """SAME_RESULTS_UNLESS claims a kernel rewrite changed only the runs of some recurrence: each
    pair must be backed by a committed scripts/kernel_equivalence.py record at one thread between
    those two versions in which no case of another recurrence differs."""
    folder = results._REPO_ROOT / "data" / "results" / "benchmarks" / "kernel_equivalence"
    checks = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    for path, rewrites in results.SAME_RESULTS_UNLESS.items():
        for (before, after), unless in rewrites.items():
            assert set(unless) == {"nonlinearity"}, unless  # what the check's count by recurrence can back
            assert any(r["blobs_before"].get(path) == before and r["blobs_after"].get(path) == after
                       and r["threads"] == 1 and r["cases"] > 0 and all(
                           group["different"] == 0 for key, group in
                           r.get("different_by_dtype_and_nonlinearity", {"?": {"different": 1}}).items()
                           if key.split()[-1] != unless["nonlinearity"])
                       for r in checks), (path, before, after)


def test_a_rewrite_checked_equal_but_for_some_settings_flags_only_the_runs_with_them(monkeypatch):
    path = "qornn/csrc/hadamard_rnn.cpp"
    versions = {("v1", path): "one", ("v2", path): "two"}
    ids = {v: results.blob_id(text) for (v, _), text in versions.items()}
    monkeypatch.setattr(results, "_git_show", lambda commit, p: versions.get((commit, p)))
    monkeypatch.setattr(results, "_changed_files", lambda commit, head, scope: (path,))
    monkeypatch.setitem(results.SAME_RESULTS, path, frozenset())
    monkeypatch.setitem(results.SAME_RESULTS_UNLESS, path, {(ids["v1"], ids["v2"]): {"nonlinearity": "tanh"}})

    def run(name="hadamrnn", **options):
        return {"config": {"experiment": "pmnist", "task": "pmnist",
                           "model": {"model": name, "hidden_size": 8, **options}},
                "provenance": {"commit": "v1", "dirty": False}}

    results.behaviour_changed.cache_clear()
    try:
        assert results.code_changed_since(run(), head="v2") is None  # linear, the model's default
        assert results.code_changed_since(run(nonlinearity="relu"), head="v2") is None
        assert path in results.code_changed_since(run(nonlinearity="tanh"), head="v2")
        assert path in results.code_changed_since(run("no-such-model"), head="v2")  # unknown: the safe side
        backwards = {(ids["v2"], ids["v1"]): {"nonlinearity": "tanh"}}
        monkeypatch.setitem(results.SAME_RESULTS_UNLESS, path, backwards)
        results.behaviour_changed.cache_clear()
        assert path in results.code_changed_since(run(), head="v2")  # a pair reads one way only
    finally:
        results.behaviour_changed.cache_clear()


def test_the_peer_checks_runs_name_the_model_they_trained():
    """The peer check's records keep a model's settings at the top level (pMNIST runs) or name the copy
    run they load: trained_model reads both, so that a kernel change that left their recurrence
    alone (SAME_RESULTS_UNLESS) does not flag them."""
    import json

    path = results._REPO_ROOT / "data" / "results" / "hadamrnn-peer-check" / "cpu.json"
    record = json.loads(path.read_text())
    models = {name: results.trained_model(run) for name, run in record["runs"].items()}
    assert models and all(m.get("model") in ("hadamrnn", "block-hadamrnn") for m in models.values()), models
    assert models["n128-m16-frozen-signs"] == {"model": "block-hadamrnn", "hidden_size": 128, "bits": 4,
                                               "learn_signs": False, "block": 16}
    assert models["copy-paper-hadamrnn-seed0"] == {"model": "hadamrnn"}


#: the commit from which post-training quantization reads a Björck source in eval mode: its check
#: (training_equivalence/5189661ce5bc.json) found the PTQ-Björck runs after the first width
#: different, and its SAME_RESULTS pair holds only because every committed one was quantized again
PTQ_IN_EVAL_MODE = "843d3110ca101b89cbda49c0f7c138a2d08fdb15"
#: equivalence checks (by the commit compared with) whose only differences are post-training
#: quantizations of a Björck model, every committed one of which was quantized again since (the test
#: below): their pairs in SAME_RESULTS hold for every record
REQUANTIZED_CHECKS = {"5189661ce5bc4d03a4eb280bdd545f9189319114"}


def test_every_committed_post_training_quantization_of_a_bjorck_model_is_quantized_in_eval_mode():
    import subprocess

    root = results._REPO_ROOT
    found = 0
    for path in sorted((root / "data" / "results").rglob("*.json")):
        if "benchmarks" in path.parts or "history" in path.parts:
            continue
        for run, data in (json.loads(path.read_text()).get("runs") or {}).items():
            if (data.get("config", {}).get("model") or {}).get("ptq_of") != "ornn-bjorck":
                continue
            found += 1
            made = data["provenance"]["commit"]
            ancestor = subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor",
                                       PTQ_IN_EVAL_MODE, made], capture_output=True)
            assert ancestor.returncode == 0, f"{path.relative_to(root)} {run}: quantized at {made}, before it"
    assert found >= 60


def test_a_check_that_left_a_measurement_out_is_followed_by_that_measurement_made_again():
    """A training-equivalence check may leave out a measurement made after training (the
    ``analysis.activation_ptq`` of a change to activation PTQ): its pair then holds only because every
    committed run that records that measurement had it made again with code at or after the checked
    version (the analysis carries the commit it was measured with, ``<name>_commit`` for one
    measurement made again alone: ``qornn analyse --activations``)."""
    import subprocess

    root = results._REPO_ROOT
    checks = [json.loads(p.read_text())
              for p in (root / "data" / "results" / "benchmarks" / "training_equivalence").glob("*.json")]
    for check in (c for c in checks if c.get("left_out")):
        after = check["provenance"]["commit"]
        for path in sorted((root / "data" / "results").rglob("*.json")):
            if "benchmarks" in path.parts or "history" in path.parts:
                continue
            for run, data in (json.loads(path.read_text()).get("runs") or {}).items():
                analysis = data.get("analysis") or {}
                for field in check["left_out"]:
                    name = field.removeprefix("analysis.")
                    if name not in analysis:
                        continue
                    measured = analysis.get(f"{name}_commit", analysis.get("commit"))
                    ancestor = subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", after,
                                               measured or "none"], capture_output=True)
                    assert ancestor.returncode == 0, (f"{path.relative_to(root)} {run}: {field} measured at "
                                                      f"{measured}, before the check at {after}")


def test_registry_data_changes_are_left_to_the_configuration_check(monkeypatch):
    """In experiments.py a new or changed experiment definition (a top-level assignment) reaches a
    run only through its recorded configuration, so it does not flag every run as code changed; a
    change to a function there (how runs are built and trained) still does."""
    code = 'EXPERIMENTS = {"a": {"lr": 1}}\n\n\ndef run(spec):\n    return spec["lr"]\n'
    more_data = code + 'EXPERIMENTS["b"] = {"lr": 2}\nfor _name in ("c",):\n    EXPERIMENTS[_name] = {}\n'
    new_logic = code.replace('return spec["lr"]', 'return 2 * spec["lr"]')
    assert results.code_fingerprint(code, registry_data=True) == \
        results.code_fingerprint(more_data, registry_data=True)
    assert results.code_fingerprint(code) != results.code_fingerprint(more_data)
    assert results.code_fingerprint(code, registry_data=True) != \
        results.code_fingerprint(new_logic, registry_data=True)
    path = "qornn/experiments.py"
    assert path in results.REGISTRY_DATA
    versions = {("old", path): code, ("data", path): more_data, ("logic", path): new_logic,
                ("old", "qornn/train.py"): code, ("data", "qornn/train.py"): more_data}
    monkeypatch.setattr(results, "_git_show", lambda commit, p: versions.get((commit, p)))
    results.behaviour_changed.cache_clear()
    try:
        assert not results.behaviour_changed("old", path, "data")
        assert results.behaviour_changed("old", path, "logic")
        # elsewhere a module-level assignment is behaviour (e.g. a kernel's loop order)
        assert results.behaviour_changed("old", "qornn/train.py", "data")
    finally:
        results.behaviour_changed.cache_clear()


def test_a_changed_definition_is_flagged_on_the_runs_it_changes():
    """What the registry rule leaves out is caught run by run: a recorded configuration that no
    longer matches the profile's definition is named on the page."""
    from qornn import report

    config = get_config("copy", "smoke")
    run = next(iter(config.models))
    recorded = {"runs": {name: {"config": config.run_config(name, 0),
                                "config_hash": results.config_hash(config.run_config(name, 0)),
                                "provenance": {"commit": None}} for name in config.models}}
    config.train["lr"] = config.train["lr"] * 2  # the definition changes after the runs were made
    notes = report.freshness_notes(recorded, config)
    assert "differs from the current definition" in notes and f"**{run}**" in notes


class _DropoutNet(torch.nn.Module):
    """A HadamRNN with dropout on its outputs: training draws from torch's global RNG."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = torch.nn.Dropout(0.3)
        self.net = build_model("hadamrnn", input_size=10, output_size=9, hidden_size=16, many_to_many=True)

    def forward(self, x):
        return self.dropout(self.net(x))

    def apply_constraints_(self):
        self.net.apply_constraints_()


def test_resume_restores_the_random_state_of_dropout(tmp_path):
    def run(checkpoint=None, on_step=None):
        torch.manual_seed(0)
        model = _DropoutNet()
        cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, checkpoint_every=2, eval_batch_size=64)
        out = train(model, CopyTask(**SMALL, seed=0), cfg, seed=0, checkpoint=checkpoint,
                    progress=False, on_step=on_step)
        return model, out

    reference_model, reference = run()

    def stop(step):
        if step == 9:
            torch.rand(1000)  # whatever the process did after the checkpoint is not replayed
            raise Interrupt

    with pytest.raises(Interrupt):
        run(tmp_path / "ckpt.pt", stop)
    torch.manual_seed(123)  # a new process starts from another random state
    model, resumed = run(tmp_path / "ckpt.pt")
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in reference["history"]]
    for a, b in zip(model.state_dict().values(), reference_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_freshness_follows_head_as_it_moves(monkeypatch):
    """behaviour_changed caches its answers by commit: the check must name HEAD's commit, so a
    kernel that stays open while HEAD moves does not reuse an answer about the old HEAD."""
    heads = []
    real = results.behaviour_changed
    monkeypatch.setattr(results, "behaviour_changed",
                        lambda commit, path, head, *also: heads.append(head)
                        or real(commit, path, head, *also))
    first = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=results._REPO_ROOT,
                           capture_output=True, text=True).stdout.split()[0]
    assert results.code_changed_since({"provenance": {"commit": first, "dirty": False}})
    assert heads and "HEAD" not in heads
    assert set(heads) == {results.git_commit()["commit"]}


def test_a_page_asks_git_for_head_once(monkeypatch):
    """freshness_notes checks every run of a record against HEAD: one ``rev-parse`` for them all."""
    import json

    from qornn import report
    from qornn.experiments import runner

    record = json.loads((results._REPO_ROOT / "data/results/qornn-copy/cpu.json").read_text())  # committed
    assert len(record["runs"]) > 10
    calls = []
    real = results._git
    monkeypatch.setattr(results, "_git", lambda *args: calls.append(args[0]) or real(*args))
    report.freshness_notes(record, runner.get_config("qornn-copy", "cpu"))
    assert calls.count("rev-parse") == 1


def test_the_registry_split_into_a_package_keeps_its_records_fresh(monkeypatch):
    """qornn/experiments.py became a package: its functions went to runner.py (code), its data and
    data helpers to one module per paper (data: checked through the recorded configurations). A
    record made before the move is compared across it; a change to the runner still counts."""
    old = ('from . import results\n\nEXPERIMENTS = {"a": {"lr": 1}}\n\n\n'
           'def _helper(n):\n    return {"lr": n}\n\n\ndef run(spec):\n    return results.f(spec["lr"])\n')
    runner = ('from .. import results\n\nEXPERIMENTS = {}\n\n\n'
              'def run(spec):\n    return results.f(spec["lr"])\n')
    paper = 'def _helper(n):\n    return {"lr": 2 * n}\n\n\nEXPERIMENTS = {"a": _helper(1)}\n'
    versions = {("old", "qornn/experiments.py"): old,
                ("split", "qornn/experiments/runner.py"): runner,
                ("split", "qornn/experiments/paper.py"): paper,
                ("logic", "qornn/experiments/runner.py"): runner.replace("results.f(", "results.g("),
                ("import", "qornn/experiments/runner.py"): runner.replace("from ..", "from ..x")}
    monkeypatch.setattr(results, "_git_show", lambda commit, p: versions.get((commit, p)))
    results.behaviour_changed.cache_clear()
    try:
        assert results.affecting_changes(["qornn/experiments/paper.py", "qornn/experiments/__init__.py",
                                          "qornn/experiments/runner.py"]) == ["qornn/experiments/runner.py"]
        assert not results.behaviour_changed("old", "qornn/experiments/runner.py", "split")
        assert not results.behaviour_changed("old", "qornn/experiments.py", "split")  # moved, not gone
        assert results.behaviour_changed("old", "qornn/experiments/runner.py", "logic")
        assert results.behaviour_changed("old", "qornn/experiments/runner.py", "import")
        assert results.behaviour_changed("old", "qornn/experiments.py", "nothing")  # removed outright
    finally:
        results.behaviour_changed.cache_clear()


def test_the_commit_that_split_the_registry_changed_no_behaviour():
    """On the real history: the commit that added qornn/experiments/runner.py changed no run's
    behaviour, by the freshness check's own rules, against its parent."""
    log = results._git("log", "--diff-filter=A", "--format=%H", "--", "qornn/experiments/runner.py")
    commits = log.stdout.split()
    if log.returncode != 0 or not commits:
        pytest.skip("the split is not in this checkout's history")
    split = commits[-1]
    parent = results._git("rev-parse", f"{split}^").stdout.strip()
    results.behaviour_changed.cache_clear()
    changed = results._git("diff", "--name-only", "--no-renames", parent, split, "--", "qornn").stdout.split()
    assert "qornn/experiments/runner.py" in changed and "qornn/experiments.py" in changed
    changed = [p for p in results.affecting_changes(changed) if results.behaviour_changed(parent, p, split)]
    assert changed == []


def test_the_models_without_a_hadamard_weight_are_listed_as_such():
    """results.NO_HADAMARD_WEIGHT lets a change to the kernel's files leave the other models' records
    alone: it must name exactly the models whose built network has no HadamardWeight."""
    from qornn.models import MODELS, HadamardWeight, build_model
    from qornn.models.options import REQUIRED, model_options

    for name in MODELS:
        required = {key: 4 for key, option in model_options(name).items()
                    if option.default is REQUIRED and key != "hidden_size"}
        model = build_model(name, input_size=3, output_size=2, hidden_size=8, **required)
        has = any(isinstance(module, HadamardWeight) for module in model.modules())
        assert has != (name in results.NO_HADAMARD_WEIGHT), name
    assert set(results.NO_HADAMARD_WEIGHT) <= set(MODELS)


def test_a_kernel_change_flags_only_the_runs_of_hadamard_models(monkeypatch):
    import subprocess

    def git(*args):
        out = {"rev-parse": "f" * 40 + "\n",
               "diff": "qornn/fast_hadamard.py\nqornn/csrc/hadamard_rnn.cpp\n"}[args[0]]
        return subprocess.CompletedProcess(["git", *args], 0, stdout=out, stderr="")

    monkeypatch.setattr(results, "_git", git)
    monkeypatch.setattr(results, "_changed_files", results._changed_files.__wrapped__)  # a fake git: no cache
    monkeypatch.setattr(results, "behaviour_changed", lambda commit, path, head, *also: True)

    def run(model, **config):
        return {"provenance": {"commit": "a" * 40, "dirty": False},
                "config": {"experiment": "copy", "model": {"model": model}, **config}}

    assert results.code_changed_since(run("lstm")) is None
    assert results.code_changed_since(run("qornn-ste-bjorck")) is None
    ptq = {"experiment": "qornn-copy", "model": {"ptq_of": "ornn-bjorck"},
           "source": {"model": {"model": "ornn-bjorck"}}}
    provenance = {"commit": "a" * 40, "dirty": False}
    assert results.code_changed_since({"provenance": provenance, "config": ptq}) is None
    for flagged in (run("hadamrnn"), run("block-hadamrnn"), run("a-model-added-later"), {
            "provenance": {"commit": "a" * 40, "dirty": False}, "config": {}}):
        assert "qornn/fast_hadamard.py" in results.code_changed_since(flagged)


def test_a_module_with_only_new_plain_functions_behaves_as_before_for_old_code():
    old = 'import torch\n\nX = 1\n\n\ndef f(a):\n    return a + X\n'
    added = old + '\n\ndef g(a):\n    """New."""\n    return 2 * a\n'
    first = 'import torch\n\n\ndef g(a):\n    return 2 * a\n\nX = 1\n\n\ndef f(a):\n    return a + X\n'
    only = results._only_new_functions
    assert only(old, added, registry_data=False) and only(old, first, registry_data=False)
    for changed in (
            old + '\n\n@torch.no_grad()\ndef g(a):\n    return a\n',  # a decorator runs at import
            old + '\n\ndef f(a):\n    return a\n',  # redefines an old name
            old + '\nY = 2\n',  # any other statement
            old.replace("a + X", "a - X"),  # an old function changed
            old.replace("X = 1\n", ""),  # an old statement removed
            'X = 1\nimport torch\n\n\ndef f(a):\n    return a + X\n'):  # reordered
        assert not only(old, changed, registry_data=False), changed
    versions = {("old", "qornn/m.py"): old, ("new", "qornn/m.py"): added}
    original = results._git_show
    try:
        results._git_show = lambda commit, path: versions.get((commit, path))
        results.behaviour_changed.cache_clear()
        assert not results.behaviour_changed("old", "qornn/m.py", "new")
    finally:
        results._git_show = original
        results.behaviour_changed.cache_clear()


def test_another_task_module_cannot_flag_a_run(monkeypatch):
    import subprocess

    changed = {"diff": ""}

    def git(*args):
        out = {"rev-parse": "f" * 40 + "\n", "diff": changed["diff"]}[args[0]]
        return subprocess.CompletedProcess(["git", *args], 0, stdout=out, stderr="")

    monkeypatch.setattr(results, "_git", git)
    monkeypatch.setattr(results, "_changed_files", results._changed_files.__wrapped__)  # a fake git: no cache
    monkeypatch.setattr(results, "behaviour_changed", lambda commit, path, head, *also: True)

    def since(task, files):
        changed["diff"] = "\n".join(files)
        return results.code_changed_since({"provenance": {"commit": "a" * 40, "dirty": False},
                                           "config": {"experiment": "x", "task": task,
                                                      "model": {"model": "lstm"}}})

    assert results._task_module("pmnist") == "qornn/tasks/mnist.py"
    assert since("pmnist", ["qornn/tasks/copy.py", "qornn/tasks/ptb.py"]) is None
    assert "qornn/tasks/mnist.py" in since("pmnist", ["qornn/tasks/copy.py", "qornn/tasks/mnist.py"])
    assert "qornn/tasks/base.py" in since("pmnist", ["qornn/tasks/base.py"])  # every task's
    assert "qornn/tasks/copy.py" in since("a-task-added-later", ["qornn/tasks/copy.py"])


# --- a diverging run stops, a stopped retrain resumes, a PTQ run names the training it quantizes ----

def test_a_diverging_run_stops_at_its_first_non_finite_loss(tmp_path, monkeypatch):
    from qornn.train import TrainingDiverged, load_checkpoint

    real_loss, calls, steps = CopyTask.loss, [], []

    def loss_that_turns_nan(self, logits, y):  # the 5th training batch: as if the weights blew up
        calls.append(1)
        out = real_loss(self, logits, y)
        return out * float("nan") if len(calls) == 5 else out

    monkeypatch.setattr(CopyTask, "loss", loss_that_turns_nan)
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(TrainingDiverged, match=r"diverged at optimiser step 5 \(epoch 1, batch 5\): the "
                                               r"training loss is nan"):
        small_run(checkpoint=ckpt, on_step=steps.append, epochs=3)
    assert steps == [1, 2, 3, 4]  # stopped there, not after the last epoch
    assert load_checkpoint(ckpt)["state"]["global_step"] == 4  # the checkpoint before it is kept


def test_a_run_stops_when_a_huge_gradient_overflows_the_optimisers_state(tmp_path, monkeypatch):
    # The loss stays finite (2e30 < 3.4e38), but Adam's v = (1 − β₂)·g² overflows float32: those
    # entries would never move again (qornn.checkpoints.frozen_entries), so the run stops there.
    from qornn.train import TrainingDiverged, load_checkpoint

    real_loss, calls, steps = CopyTask.loss, [], []

    def loss_that_explodes(self, logits, y):  # the 3rd training batch, as an exploding recurrence
        calls.append(1)
        out = real_loss(self, logits, y)
        return out * 1e30 if len(calls) == 3 else out

    monkeypatch.setattr(CopyTask, "loss", loss_that_explodes)
    ckpt = tmp_path / "ckpt.pt"
    stopped = r"stopped at optimiser step 3 \(epoch 1, batch 3\): the optimiser's state became non-finite"
    with pytest.raises(TrainingDiverged, match=stopped + r" for .*readout\.weight") as err:
        small_run(checkpoint=ckpt, on_step=steps.append, epochs=3)
    assert "float32 overflows above 3.4e38" in str(err.value)
    assert str(err.value).endswith("gradient clipping (--set train.grad_clip=1.0) or another seed may train.")
    assert float(re.search(r"largest \|gradient\| was ([^;]+);", str(err.value)).group(1)) > 1e20
    assert steps == [1, 2]
    assert load_checkpoint(ckpt)["state"]["global_step"] == 2


def test_the_optimiser_state_check_reads_every_kind_of_state():
    from qornn.train import _nonfinite_state

    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(()))  # b: a scalar
    names = {id(a): "a", id(b): "b"}
    for optimizer in (torch.optim.Adam([a, b]), torch.optim.RMSprop([a, b]),
                      torch.optim.SGD([a, b], lr=0.1, momentum=0.9)):
        a.grad, b.grad = torch.ones(3), torch.tensor(1.0)
        optimizer.step()
        assert _nonfinite_state(optimizer, names) == []
        a.grad, b.grad = torch.ones(3), torch.tensor(1e30)  # SGD's momentum stays finite
        optimizer.step()
        want = [] if isinstance(optimizer, torch.optim.SGD) else ["b"]
        assert _nonfinite_state(optimizer, names) == want
    assert _nonfinite_state(torch.optim.Adam([a]), names) == []  # no step yet: no state


def _interrupt_training_at(monkeypatch, stop_step: int) -> None:
    """run_experiment's training raises Interrupt after optimiser step ``stop_step``."""
    from qornn.experiments import runner

    real_train = runner.train

    def stopped(*args, **kwargs):
        def on_step(step):
            if step == stop_step:
                raise Interrupt
        return real_train(*args, **kwargs, on_step=on_step)

    monkeypatch.setattr(runner, "train", stopped)


def test_a_stopped_retrain_resumes_its_checkpoint(monkeypatch):
    first = run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)["runs"]["hadamrnn"]
    assert "segments" not in first["provenance"]  # trained in one go
    with monkeypatch.context() as patch:
        _interrupt_training_at(patch, 5)
        with pytest.raises(Interrupt):
            run_experiment("copy", "smoke", runs=["hadamrnn"], retrain=True, progress=False)
    assert results.load_record("copy", "smoke")["runs"]["hadamrnn"] == first  # kept meanwhile
    resumed = run_experiment("copy", "smoke", runs=["hadamrnn"], retrain=True,
                             progress=False)["runs"]["hadamrnn"]
    segments = resumed["provenance"]["segments"]  # continued where it stopped, not from step 0
    assert [s["from_step"] for s in segments] == [0, segments[0]["to_step"]]
    assert 0 < segments[0]["to_step"] <= 5
    assert resumed["test"] == first["test"]  # and, on a CPU, to the same numbers
    # a retrain from the finished checkpoint starts afresh
    again = run_experiment("copy", "smoke", runs=["hadamrnn"], retrain=True,
                           progress=False)["runs"]["hadamrnn"]
    assert "segments" not in again["provenance"] and again["test"] == first["test"]


def test_a_ptq_run_records_the_training_it_quantizes():
    record = run_experiment("qornn-copy", "smoke", runs=["ptq-bjorck-4bit"], progress=False)
    ptq = record["runs"]["ptq-bjorck-4bit"]
    (trained,) = ptq["provenance"]["source_training"]
    assert trained["commit"] == ptq["provenance"]["commit"] and trained["from_step"] == 0
    assert trained["to_step"] > 0
    trained = {**trained, "dirty": False}  # as from a committed checkout
    clean = {**ptq, "provenance": {**ptq["provenance"], "dirty": False, "source_training": [trained]}}
    assert results.code_changed_since(clean) is None
    dirty = {**clean, "provenance": {**clean["provenance"], "source_training": [{**trained, "dirty": True}]}}
    assert "from uncommitted changes" in results.code_changed_since(dirty)
    # weights trained by code this checkout does not have: the quantized run says so
    older = {**clean, "provenance": {**clean["provenance"],
                                     "source_training": [{**trained, "commit": "f" * 40}]}}
    assert results.code_changed_since(older).startswith(f"quantizes weights trained at commit {'f' * 8}: ")


def test_every_start_of_a_resumed_run_is_checked_for_changed_code():
    run = run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)["runs"]["hadamrnn"]
    prov = {**run["provenance"], "dirty": False}  # as from a committed checkout
    head = prov["commit"]
    two_starts = [{"commit": head, "dirty": False, "from_step": 0, "to_step": 3},
                  {"commit": head, "dirty": False, "from_step": 3, "to_step": 8}]
    assert results.code_changed_since({**run, "provenance": {**prov, "segments": two_starts}}) is None
    # the first start at code this checkout does not have: the run says so, though the last is HEAD
    unknown = [{**two_starts[0], "commit": "f" * 40}, two_starts[1]]
    why = results.code_changed_since({**run, "provenance": {**prov, "segments": unknown}})
    assert why.startswith(f"trained in part at commit {'f' * 8}: ")
    # or from uncommitted changes
    dirty = [{**two_starts[0], "dirty": True}, two_starts[1]]
    why = results.code_changed_since({**run, "provenance": {**prov, "segments": dirty}})
    assert why == f"trained in part (steps 0–3) from uncommitted changes on top of {head[:8]}"


def test_the_cpu_description_names_the_model_and_its_vector_instructions(tmp_path):
    # a virtual machine's name can be this vague: family, model and stepping tell its generation
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                    "model name\t: AMD EPYC\nstepping\t: 1\n"
                    "flags\t\t: fpu sse sse2 ssse3 sse4_2 fma avx avx2 avx512f avx512bw bmi2\n\n"
                    "processor\t: 1\nmodel name\t: Another CPU\n")
    cpu = results.cpu_description(str(info))
    assert cpu["model"] == "AMD EPYC (family 25, model 17, stepping 1)"  # the first processor's
    assert cpu["vector"] == "avx avx2 avx512bw avx512f fma sse4_2"
    assert cpu["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    # where the system says nothing: the machine's architecture, never an error
    assert results.cpu_description(str(tmp_path / "absent"))["model"] in (platform.processor(),
                                                                           platform.machine())
