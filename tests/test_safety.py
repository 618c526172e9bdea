"""Files, folders and records: what a user shares, kills or edits by hand is handled safely
(the walk of bad inputs through the CLI is tests/test_bad_input_walk.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from qornn import results
from qornn.cli import main as cli_main
from qornn.experiments import run_experiment


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_get_the_umask_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        results.atomic_write_json(tmp_path / "record.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "record.json").stat().st_mode) == mode


def test_stray_temporary_files_are_ignored_by_git():
    root = results._REPO_ROOT
    stray = "data/results/copy/.cpu.json.k3j2l1.tmp"
    out = subprocess.run(["git", "check-ignore", "-q", stray], cwd=root)
    assert out.returncode == 0, f"{stray} is not git-ignored"


def test_unwritable_results_fail_before_any_training(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("qornn.experiments.runner.train", lambda *a, **k: calls.append(1))
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "results").write_text("a file where the results folder should be")
    with pytest.raises(OSError, match="results.*is a file"):
        run_experiment("copy", "smoke", progress=False)
    assert not calls


def test_check_writable_names_the_folder(tmp_path):
    results.check_writable(tmp_path / "new" / "deeper")
    assert (tmp_path / "new" / "deeper").is_dir()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OSError, match=f"{tmp_path / 'plain' / 'sub'}.*is a file"):
        results.check_writable(tmp_path / "plain" / "sub")


def test_show_flags_what_the_pages_flag(capsys):
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    path = results.record_path("copy", "smoke")
    record = json.loads(path.read_text())
    record["runs"]["hadamrnn"]["provenance"].update(commit="0" * 40, dirty=False)
    path.write_text(json.dumps(record))
    capsys.readouterr()
    assert cli_main(["show", "copy", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "check before trusting" in out
    assert "made at commit 00000000, which this checkout does not have" in out
    assert "not recorded yet" in out and "ornn" in out  # the runs the profile defines but lacks
    assert "**" not in out and "`" not in out  # plain text, not the pages' markdown


def test_a_record_that_parses_but_is_wrong_is_never_saved(monkeypatch):
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    before = results.record_path("copy", "smoke").read_bytes()
    bad = json.loads(before)["runs"]["hadamrnn"]
    bad["test"]["loss"] = float("nan")
    with pytest.raises(results.RecordError, match="loss must be a finite number"):
        results.save_run("copy", "smoke", "hadamrnn", bad)
    assert results.record_path("copy", "smoke").read_bytes() == before


def test_an_interrupted_retrain_keeps_the_finished_checkpoint(monkeypatch):
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    checkpoint = next((results.runs_dir() / "copy" / "smoke" / "hadamrnn").glob("*.pt"))
    saved = checkpoint.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("qornn.experiments.runner.train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment("copy", "smoke", runs=["hadamrnn"], retrain=True, progress=False)
    assert checkpoint.read_bytes() == saved


def test_ctrl_c_in_a_real_run_is_one_line_and_exit_130(tmp_path):
    # A real SIGINT in the middle of training, through the installed entry point's code path.
    import signal
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(results._REPO_ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "qornn.cli", "run", "copy", "--profile", "smoke",
                             "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    runs = results.runs_dir() / "copy" / "smoke"
    deadline = time.monotonic() + 60
    while not any(runs.rglob("*.pt")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # wait for the first checkpoint: training is under way
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the smoke run finished before the signal arrived")
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], err


def test_a_resumed_runs_segments_are_recorded_and_checked():
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    run = json.loads(results.record_path("copy", "smoke").read_text())["runs"]["hadamrnn"]
    assert "segments" not in run["provenance"]  # one uninterrupted start: nothing to add
    segments = [{"commit": None, "dirty": None, "host": None, "from_step": 0, "to_step": 8},
                {"commit": "f" * 40, "dirty": False, "host": "elsewhere", "from_step": 8, "to_step": 16}]
    run["provenance"] = results.provenance(profile="smoke", seed=0, device="cpu", wall_time_s=1.0,
                                           segments=segments)
    results.save_run("copy", "smoke", "hadamrnn", run)
    saved = json.loads(results.record_path("copy", "smoke").read_text())["runs"]["hadamrnn"]
    assert saved["provenance"]["segments"] == segments
    run["provenance"]["segments"][1]["from_step"] = 20  # after its own end
    with pytest.raises(results.RecordError, match="segments"):
        results.save_run("copy", "smoke", "hadamrnn", run)


def _copy_qornn(root: Path) -> Path:
    """This checkout's qornn/ (without its byte code) copied to ``root/qornn``; returns ``root``."""
    import shutil
    shutil.copytree(results._REPO_ROOT / "qornn", root / "qornn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _copy_without_git(tmp_path, monkeypatch):
    """This checkout's qornn/ copied to tmp_path, with results looking there and git finding no
    repository: a copy of the tree that travelled to another machine without .git."""
    root = _copy_qornn(tmp_path / "copy")
    monkeypatch.setattr(results, "_REPO_ROOT", root)
    monkeypatch.setattr(results, "_git", lambda *args: subprocess.CompletedProcess(
        ["git", *args], 128, "", "fatal: not a git repository"))
    return root


def test_a_copy_without_git_names_its_commit_from_the_source_manifest(tmp_path, monkeypatch):
    here = results.git_commit()
    manifest = results.write_source_manifest(tmp_path / "copy")
    root = _copy_without_git(tmp_path, monkeypatch)
    # written from this checkout's HEAD; the copy is of its working tree, which may differ from HEAD
    assert json.loads(manifest.read_text())["commit"] == here["commit"]
    assert results.git_commit() == {"commit": here["commit"], "dirty": here["dirty"]}
    (root / "qornn" / "built.so").write_bytes(b"a build output git does not track")
    assert results.git_commit() == {"commit": here["commit"], "dirty": here["dirty"]}
    # a changed file under qornn/ makes the copy dirty, as git status would
    train = root / "qornn" / "train.py"
    train.write_text(train.read_text() + "\n# changed\n")
    assert results.git_commit() == {"commit": here["commit"], "dirty": True}
    train.unlink()  # a listed file gone too
    assert results.git_commit()["dirty"] is True


def test_the_source_manifest_wins_over_an_older_git_history_beside_the_copy(tmp_path, monkeypatch):
    # a lent GPU machine held .git as of the session's start: git named that older commit, and the
    # newer, committed code "uncommitted changes" on top of it
    here = results.git_commit()
    results.write_source_manifest(tmp_path / "copy")
    root = _copy_without_git(tmp_path, monkeypatch)
    old = "0" * 40
    monkeypatch.setattr(results, "_git", lambda *args: subprocess.CompletedProcess(
        ["git", *args], 0, old + "\n" if args[0] == "rev-parse" else " M qornn/train.py\n", ""))
    if not here["dirty"]:  # this checkout's qornn/ is its HEAD's: so is the copy's
        assert results.git_commit() == {"commit": here["commit"], "dirty": False}
    train = root / "qornn" / "train.py"
    train.write_text(train.read_text() + "\n# changed\n")  # no longer the manifest's: git's word
    assert results.git_commit() == {"commit": old, "dirty": True}


def test_a_copy_without_git_or_manifest_has_an_unknown_commit(tmp_path, monkeypatch):
    root = _copy_without_git(tmp_path, monkeypatch)
    assert results.git_commit() == {"commit": None, "dirty": None}
    (root / results.SOURCE_MANIFEST).write_text('{"commit": "not a commit", "blobs": {}}')
    assert results.git_commit() == {"commit": None, "dirty": None}
    with pytest.raises(RuntimeError, match="not a git checkout"):
        results.write_source_manifest(root)


def test_the_gpu_queue_script_refuses_a_call_without_a_queue_or_an_output_folder(tmp_path):
    script = results._REPO_ROOT / "scripts" / "gpu_queue.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0  # it parses
    for args, env in (([], {"OUT": str(tmp_path)}), (["qornn-ptb", "ornn-bjorck"], {})):
        out = subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"], **env})
        assert out.returncode == 2 and "usage: OUT=DIR" in out.stderr


def _scratch_checkout(tmp_path, script: str) -> Path:
    """``tmp_path/repo`` holding a copy of qornn/ and of ``scripts/<script>``, to run the script on."""
    import shutil
    repo = _copy_qornn(tmp_path / "repo")
    (repo / "scripts").mkdir()
    for name in (script, "_python.sh"):  # and the Python the scripts choose
        shutil.copy(results._REPO_ROOT / "scripts" / name, repo / "scripts")
    return repo


def test_the_gpu_queue_script_with_keep_continues_on_a_machine_whose_data_was_reset(tmp_path):
    """Two calls on one lent machine: each brings a fresh copy of the tree (here: data/ deleted);
    with KEEP=1 the second puts back what the first wrote, so its records hold both calls' runs."""
    import shutil
    import sys
    import tarfile
    repo = _scratch_checkout(tmp_path, "gpu_queue.sh")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "KEEP": "1",
           "DEVICE": "cpu", "PROFILE": "smoke", "BUDGET": "300", "THREADS": "1"}
    for name in ("QORNN_DATA_DIR", "QORNN_CACHE_DIR"):  # the script's default: data/ in the checkout
        env.pop(name, None)
    for call, run in enumerate(["ornn", "fastgrnn"]):  # models without the compiled Hadamard kernel
        env["OUT"] = str(tmp_path / f"out{call}")
        done = subprocess.run(["bash", "scripts/gpu_queue.sh", "copy", run], cwd=repo, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert (repo / "runs" / "gpu_queue_keep" / "data" / "results" / "copy" / "smoke.json").exists()
        shutil.rmtree(repo / "data")  # the next call's copy of the tree brings this checkout's data/
    assert "put back from the previous call" in (tmp_path / "out1" / "info.txt").read_text()
    with tarfile.open(tmp_path / "out1" / "records.tgz") as packed:
        record = json.load(packed.extractfile("data/results/copy/smoke.json"))
    assert set(record["runs"]) == {"ornn", "fastgrnn"}


def _device_tree_repo(tmp_path, python_dir: Path):
    """A scratch git repository holding qornn/, scripts/device_tree.sh and one 4.1 MB file, committed;
    and a function running a command there with ``python_dir`` first on PATH."""
    import shutil
    repo = _scratch_checkout(tmp_path, "device_tree.sh")
    shutil.copy(results._REPO_ROOT / ".gitignore", repo)  # which ignores SOURCE_MANIFEST.json and .venv
    (repo / "big.npz").write_bytes(os.urandom(4_100_000))
    env = {**os.environ, "PATH": f"{python_dir}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("PYTHON", None)

    def sh(*args):
        return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)

    sh("git", "init", "-q")
    sh("git", "add", ".")
    assert sh("git", "commit", "-qm", "start").returncode == 0
    return repo, sh


def _python_without_torch(tmp_path) -> Path:
    """A folder whose ``python3`` fails as a Python without torch would, importing qornn."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python3").write_text(
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
    (folder / "python3").chmod(0o755)
    return folder


def test_device_tree_uses_the_checkouts_venv_before_a_python3_without_torch(tmp_path):
    import sys
    repo, sh = _device_tree_repo(tmp_path, _python_without_torch(tmp_path))
    (repo / ".venv" / "bin").mkdir(parents=True)
    venv_python = repo / ".venv" / "bin" / "python"  # a wrapper: a link would lose the venv's site
    venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    venv_python.chmod(0o755)
    hidden = sh("bash", "scripts/device_tree.sh", "hide")
    assert hidden.returncode == 0, hidden.stderr
    assert (repo / results.SOURCE_MANIFEST).exists()
    assert sh("git", "status", "--porcelain").stdout.splitlines() == ["D  big.npz"]
    assert sh("bash", "scripts/device_tree.sh", "restore").returncode == 0


def test_device_tree_changes_nothing_where_the_manifest_cannot_be_written(tmp_path):
    repo, sh = _device_tree_repo(tmp_path, _python_without_torch(tmp_path))
    failed = sh("bash", "scripts/device_tree.sh", "hide")
    assert failed.returncode != 0 and "torch" in failed.stderr
    assert sh("git", "status", "--porcelain").stdout == ""  # big.npz still in the index
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert not (repo / ".git" / "qornn-hidden").exists()
    assert sh("git", "commit", "--allow-empty", "-qm", "still allowed").returncode == 0


def test_device_tree_hides_big_files_from_the_index_refuses_commits_and_restores(tmp_path):
    import sys
    repo, sh = _device_tree_repo(tmp_path, Path(sys.executable).parent)
    assert sh("bash", "scripts/device_tree.sh", "hide").returncode == 0
    assert "big.npz" not in sh("git", "ls-files").stdout and (repo / "big.npz").exists()
    assert sh("git", "status", "--porcelain").stdout.splitlines() == ["D  big.npz"]  # ignored, not untracked
    assert json.loads((repo / results.SOURCE_MANIFEST).read_text())["commit"] == \
        sh("git", "rev-parse", "HEAD").stdout.strip()
    refused = sh("git", "commit", "-qm", "would delete big.npz")
    assert refused.returncode != 0 and "device_tree.sh restore" in refused.stderr
    assert sh("bash", "scripts/device_tree.sh", "restore").returncode == 0
    assert sh("git", "status", "--porcelain").stdout == ""
    assert "big.npz" in sh("git", "ls-files").stdout


def test_a_json_writer_refuses_numbers_that_json_has_not(tmp_path):
    """Review F2: json.dumps writes NaN and Infinity by default, which the record loader refuses, so
    a record with one could be written but never read again."""
    path = tmp_path / "record.json"
    path.write_text('{"kept": 1}')
    for bad in (float("inf"), float("nan"), -float("inf")):
        with pytest.raises(ValueError, match=f"{path} not written: Out of range float values"):
            results.atomic_write_json(path, {"runs": {"x": {"config": {"grad_clip": bad}}}})
    assert path.read_text() == '{"kept": 1}' and [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_failed_write_names_its_file_and_leaves_the_one_in_place(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "weights.npz"
    path.write_bytes(b"before")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results.os, "fsync", no_space)
    with pytest.raises(OSError, match=f"cannot write {path} .*unchanged.*No space left on device") as err:
        results.atomic_write_bytes(path, b"after")
    assert err.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"before" and [p.name for p in tmp_path.iterdir()] == ["weights.npz"]


def test_a_record_write_that_fails_after_the_weights_keeps_the_recorded_runs_weights(monkeypatch):
    """Review F4: the weights go first, then the record; a record write that failed (a full disk, a
    kill) left the record naming weights already overwritten by a retrain's other bytes. They are kept
    at kept_weights_path, where load_weights finds them; after a good write the copy goes."""
    import errno
    import hashlib

    from qornn.weights import load_weights

    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    record_path = results.record_path("copy", "smoke")
    record = record_path.read_bytes()
    run = json.loads(record)["runs"]["hadamrnn"]
    entry = run["weights"]
    weights = results.data_dir() / entry["path"]
    recorded = weights.read_bytes()
    kept = results.data_dir() / results.kept_weights_path(entry)
    retrained = b"a retrain's weights: other bytes"
    new_run = {**run, "weights": {**entry, "sha256": hashlib.sha256(retrained).hexdigest(),
                                  "file_bytes": len(retrained)}}
    write_bytes = results.atomic_write_bytes
    refused: set = set()  # the paths whose writes fail (a full disk), as the test goes

    def full_disk(path, data):
        if Path(path) in refused:
            raise OSError(errno.ENOSPC, f"cannot write {path}: No space left on device")
        write_bytes(path, data)

    written: list = []  # every (path, bytes) written, refused or not

    def full_disk_noted(path, data):
        written.append((Path(path), bytes(data)))
        full_disk(path, data)

    monkeypatch.setattr(results, "atomic_write_bytes", full_disk_noted)
    refused.add(record_path)
    with pytest.raises(OSError, match="No space left"):
        results.save_run("copy", "smoke", "hadamrnn", new_run, files={weights: retrained})
    # the record is unchanged, and so are the weights it names: put back, the copy no longer needed
    assert record_path.read_bytes() == record and weights.read_bytes() == recorded and not kept.exists()
    written.clear()
    with pytest.raises(OSError, match="No space left"):  # update_run (qornn export, analyse) likewise
        results.update_run("copy", "smoke", "hadamrnn", {"weights": new_run["weights"]},
                           files={weights: retrained})
    # it did write the new weights, then the record failed, and the weights were put back
    assert (weights, retrained) in written and written[-1] == (weights, recorded)
    assert record_path.read_bytes() == record and weights.read_bytes() == recorded and not kept.exists()

    # when the weights cannot be put back either (or on a kill), the copy stays, and load_weights uses it
    original_write_files = results._write_files

    def then_the_weights_too(files):
        original_write_files(files)
        refused.add(weights)

    monkeypatch.setattr(results, "_write_files", then_the_weights_too)
    with pytest.raises(OSError, match="No space left"):
        results.save_run("copy", "smoke", "hadamrnn", new_run, files={weights: retrained})
    assert record_path.read_bytes() == record and weights.read_bytes() == retrained
    assert kept.read_bytes() == recorded  # the recorded run's weights, kept
    load_weights("copy", "hadamrnn", "smoke")  # found there by their sha256, and loaded

    monkeypatch.setattr(results, "_write_files", original_write_files)
    refused.clear()
    kept.unlink()
    weights.write_bytes(recorded)
    results.save_run("copy", "smoke", "hadamrnn", new_run, files={weights: retrained})
    assert json.loads(record_path.read_text())["runs"]["hadamrnn"]["weights"] == new_run["weights"]
    assert weights.read_bytes() == retrained and not kept.exists()  # written: the copy went


def test_a_record_with_a_non_finite_number_is_refused_before_any_file_is_written():
    """A NaN past check_run (an analysis) used to be refused only after the weights were replaced."""
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    record_path = results.record_path("copy", "smoke")
    record = record_path.read_bytes()
    run = json.loads(record)["runs"]["hadamrnn"]
    weights = results.data_dir() / run["weights"]["path"]
    recorded = weights.read_bytes()
    with pytest.raises(ValueError, match=r"not written: .* \(at runs\.hadamrnn\.analysis\.x\)"):
        results.save_run("copy", "smoke", "hadamrnn", {**run, "analysis": {"x": float("nan")}},
                         files={weights: b"other bytes"})
    assert record_path.read_bytes() == record and weights.read_bytes() == recorded


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(monkeypatch):
    """Review F5: open(lock, "w") followed a symbolic link and emptied its target (the record). A run,
    an analysis and an export refuse it before they train or measure anything, not hours later."""
    from qornn.experiments import analyse_experiment, export_experiment, runner

    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    path = results.record_path("copy", "smoke")
    record = path.read_bytes()
    lock = path.parent / f".{path.name}.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(path.name)
    run = json.loads(record)["runs"]["hadamrnn"]
    with pytest.raises(OSError, match=f"the lock file {lock} is a symbolic link; remove it"):
        results.save_run("copy", "smoke", "hadamrnn", run)
    assert path.read_bytes() == record
    lock.unlink()
    results.save_run("copy", "smoke", "hadamrnn", run)  # its own lock file again: written
    assert not lock.is_symlink() and lock.stat().st_size == 0 and path.read_bytes() == record

    lock.unlink()
    lock.symlink_to(path.name)
    monkeypatch.setattr(runner, "train", lambda *args, **kwargs: pytest.fail("trained past the lock"))
    monkeypatch.setattr(runner, "build_task", lambda *args, **kwargs: pytest.fail("measured past the lock"))
    for start in (lambda: run_experiment("copy", "smoke", runs=["hadamrnn"], retrain=True, progress=False),
                  lambda: analyse_experiment("copy", "smoke", force=True),
                  lambda: export_experiment("copy", "smoke")):
        with pytest.raises(OSError, match=f"the lock file {lock} is a symbolic link"):
            start()
    assert path.read_bytes() == record
    lock.unlink()


def test_export_and_analyse_refuse_a_checkpoint_of_another_training_than_the_recorded_one(monkeypatch):
    """A checkpoint of the recorded configuration but of another training (a retrain elsewhere whose
    record was not brought along) was packed and analysed as the recorded run: numbers of one model
    beside weights of another. Now refused, by its training losses; the activation analysis, which
    can, measures the packed weights instead (the record names them by their sha256)."""
    import torch

    from qornn import weights
    from qornn.checkpoints import checkpoint_file
    from qornn.experiments import analyse_experiment, export_experiment

    record = run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    path = checkpoint_file("copy", "smoke", "hadamrnn", record["runs"]["hadamrnn"]["config_hash"])
    export_experiment("copy", "smoke", runs=["hadamrnn"])  # its own training: packed again
    saved = torch.load(path, weights_only=True)
    saved["state"]["history"][-1]["train_loss"] += 0.5  # another training of the same configuration
    torch.save(saved, path)
    with pytest.raises(ValueError, match=r"is not of the recorded training \(epoch \d+'s training loss is"):
        export_experiment("copy", "smoke", runs=["hadamrnn"])
    with pytest.raises(ValueError, match="is not of the recorded training"):
        analyse_experiment("copy", "smoke", runs=["hadamrnn"], force=True)
    packed = []  # the models the analysis had from the packed weights
    load_weights = weights.load_weights
    monkeypatch.setattr(weights, "load_weights", lambda *args, **kwargs: packed.append(args) or load_weights(
        *args, **kwargs))
    after = analyse_experiment("copy", "smoke", runs=["hadamrnn"], activations=True)
    assert packed == [("copy", "hadamrnn")] and "activation_ptq" in after["runs"]["hadamrnn"]["analysis"]
