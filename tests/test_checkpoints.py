"""``qornn checkpoints``: the runs left to finish, how far each got, and the command that continues it."""

import math

import pytest
import torch

from qornn import results
from qornn.checkpoints import RETRAIN_STATUS, find_checkpoints, format_checkpoints
from qornn.cli import main
from qornn.experiments import get_config, run_experiment


def _threads() -> str:
    """What a continue command ends with: the torch threads a test's run trained at, the count now
    (another test of the session may have set it)."""
    return f" --threads {torch.get_num_threads()}"


def _only(profile="smoke"):
    (found,) = find_checkpoints(profile)
    return found


def _rewind(path, epoch: int, step: int = 0) -> None:
    """Make a finished checkpoint look like a run stopped after ``epoch`` epochs and ``step`` steps."""
    saved = torch.load(path, weights_only=True)
    per_epoch = saved["state"]["global_step"] // saved["state"]["epoch"]
    saved["state"].update(epoch=epoch, step=step, global_step=epoch * per_epoch + step)
    torch.save(saved, path)


def test_a_stopped_run_is_listed_with_its_progress_and_the_command_that_continues_it(capsys):
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    done = _only()
    assert (done.run, done.seed, done.status) == ("hadamrnn", 0, "finished and recorded")
    assert done.command() is None
    config = get_config("copy", "smoke")
    per_epoch = math.ceil(config.task_options["train_size"] / config.train["batch_size"])
    assert done.global_step == done.total_steps == per_epoch * config.train["epochs"]
    assert "no checkpoint of a run left to finish" in format_checkpoints(find_checkpoints())

    _rewind(done.path, epoch=1, step=3)  # a retrain stopped in its second epoch: the record stays
    retrain = _only()
    assert (retrain.status, retrain.recorded, retrain.finished) == (RETRAIN_STATUS, True, False)
    assert retrain.command() == "qornn run copy --profile smoke --runs hadamrnn --retrain" + _threads()
    listed = format_checkpoints(find_checkpoints())
    assert f"copy/smoke hadamrnn: {RETRAIN_STATUS}; step {per_epoch + 3:,}" in listed
    assert "continue: qornn run copy --profile smoke --runs hadamrnn --retrain" + _threads() in listed

    results.record_path("copy", "smoke").unlink()  # as before the run was recorded
    stopped = _only()
    assert stopped.status == "unfinished" and not stopped.finished
    assert (stopped.epoch, stopped.global_step) == (1, per_epoch + 3)
    assert stopped.command() == "qornn run copy --profile smoke --runs hadamrnn" + _threads()
    (segment,) = torch.load(stopped.path, weights_only=True)["state"]["segments"]  # one start, on cpu
    pace = segment["wall_time_s"] / (segment["to_step"] - segment["from_step"])  # seconds per step
    assert stopped.device_pace == ("cpu", pace)
    assert math.isclose(stopped.hours_to_go, pace * (done.total_steps - stopped.global_step) / 3600)
    assert done.hours_to_go is None  # finished: nothing to go
    assert main(["checkpoints", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert f"copy/smoke hadamrnn: unfinished; step {per_epoch + 3:,}/{done.total_steps:,}" in out
    # epochs counted as done, as the checkpoint keeps them (the progress bar shows the one under way)
    assert f"1 of {stopped.epochs} epochs done" in out
    assert "continue: qornn run copy --profile smoke --runs hadamrnn" + _threads() in out
    assert f"about {stopped.hours_to_go:.1f} h to go at its pace on cpu so far" in out
    assert find_checkpoints("cpu") == []  # another profile's list is empty
    assert find_checkpoints("smoke", "copy") == [stopped] and find_checkpoints("smoke", "pmnist") == []
    # a file without its progress (an optimiser state alone) is listed as unreadable, with what to do,
    # and does not stop the list (review F7: it used to be hidden, while `qornn run` failed on it)
    junk = stopped.path.with_name("0123456789abcdef.pt")
    torch.save({"optimizer": {}, "state": {}, "config": {}}, junk)
    (unreadable,) = [c for c in find_checkpoints("smoke") if c.unreadable]
    assert [c for c in find_checkpoints("smoke") if not c.unreadable] == [stopped]
    assert unreadable.path == junk and unreadable.command() is None
    assert unreadable.status == (f"unreadable: checkpoint {junk} lacks its progress (KeyError: 'epoch'); "
                                 "delete it to train that run from the start")
    assert not unreadable.finished and unreadable.left_to_finish
    assert f"copy/smoke hadamrnn: {unreadable.status}\n    {junk}\n" in format_checkpoints(find_checkpoints())


def test_a_seed_and_a_foreign_configuration_are_named(capsys):
    run_experiment("copy", "smoke", seed=1, runs=["hadamrnn"], progress=False)
    first = _only()
    assert first.seed == 1 and first.recorded
    _rewind(first.path, epoch=1)
    results.record_path("copy", "smoke", get_config("copy", "smoke").record_variant(1)).unlink()
    assert _only().command() == "qornn run copy --profile smoke --runs hadamrnn --seed 1" + _threads()
    assert "copy/smoke hadamrnn (seed 1): " in format_checkpoints(find_checkpoints())  # which seed
    # a checkpoint that no seed of the current definition hashes to, and a file that is no checkpoint
    first.path.rename(first.path.with_name("0123456789abcdef.pt"))
    (first.path.parent / "junk.pt").write_bytes(b"not a checkpoint")
    foreign, junk = find_checkpoints("smoke")
    assert junk.unreadable.startswith(f"checkpoint {junk.path} cannot be read (")
    assert foreign.seed is None and foreign.command() is None
    assert "configuration other than the current profile's" in foreign.status
    assert main(["checkpoints", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_a_variant_checkpoint_gets_the_command_with_its_set_options(capsys):
    """A ``--set`` variant's run hashes to none of the profile's seeds: the checkpoint's label (what
    the runner stores in it) names its overrides, so the command that continues it has them."""
    variant = {"hadamrnn.clamp_signs": False}
    run_experiment("copy", "smoke", seed=2, runs=["hadamrnn"], progress=False, overrides=variant)
    done = _only()
    assert (done.seed, done.overrides, done.recorded) == (2, variant, True)
    assert torch.load(done.path, weights_only=True)["label"] == {
        "experiment": "copy", "profile": "smoke", "run": "hadamrnn", "seed": 2, "overrides": variant}
    _rewind(done.path, epoch=1)
    config = get_config("copy", "smoke", variant)
    results.record_path("copy", "smoke", config.record_variant(2)).unlink()  # as before it was recorded
    stopped = _only()
    command = ("qornn run copy --profile smoke --set hadamrnn.clamp_signs=false --runs hadamrnn --seed 2"
               + _threads())
    assert stopped.status == "unfinished; variant --set hadamrnn.clamp_signs=false"
    assert stopped.command() == command
    assert main(["checkpoints", "--profile", "smoke"]) == 0
    assert f"continue: {command}" in capsys.readouterr().out
    assert main(command.split()[1:]) == 0  # the command resumes that very checkpoint and records it
    assert _only().path == stopped.path and _only().status.startswith("finished and recorded")
    record = results.load_record("copy", "smoke", variant=config.record_variant(2))
    assert record["runs"]["hadamrnn"]["config_hash"] == stopped.path.stem

    # a variant's checkpoint from before labels: matched through the overrides of its committed record
    saved = torch.load(stopped.path, weights_only=True)
    del saved["label"]
    torch.save(saved, stopped.path)
    assert (_only().overrides, _only().seed, _only().recorded) == (variant, 2, True)


def test_frozen_entries_counts_what_an_overflowing_gradient_stops_for_ever(tmp_path):
    import torch

    from qornn.checkpoints import frozen_entries

    weight = torch.nn.Parameter(torch.zeros(4))
    optimizer = torch.optim.Adam([weight], lr=1e-3)
    for gradient in (torch.tensor([1e25, 1.0, 0.0, 1e21]), torch.ones(4)):  # v = g² overflows above ~5.8e20
        weight.grad = gradient
        optimizer.step()
    before = weight.detach().clone()
    weight.grad = torch.ones(4)
    optimizer.step()
    assert ((weight.detach() == before) == torch.tensor([True, False, False, True])).all()  # stuck
    path = tmp_path / "run.pt"
    torch.save({"model": {}, "optimizer": optimizer.state_dict(), "scheduler": {}, "config": {},
                "state": {}}, path)
    assert frozen_entries(path) == (2, 4)


def test_frozen_entries_reads_a_checkpoint_once_while_it_is_unchanged(tmp_path, monkeypatch):
    """Tables of one page ask for the same checkpoints: each is read once, and again once replaced."""
    import os

    import torch

    from qornn import train
    from qornn.checkpoints import frozen_entries

    def save(second_moment: torch.Tensor) -> None:  # as training writes it: a new file renamed into place
        state = {"state": {0: {"exp_avg_sq": second_moment}}, "param_groups": []}
        torch.save({"model": {}, "optimizer": state, "scheduler": {}, "config": {}, "state": {}},
                   tmp_path / "new.pt")
        os.replace(tmp_path / "new.pt", path)

    path = tmp_path / "run.pt"
    save(torch.tensor([float("inf"), 1.0, 1.0]))
    stamp, size = path.stat().st_mtime_ns, path.stat().st_size
    reads = []
    real = train.load_checkpoint
    monkeypatch.setattr(train, "load_checkpoint", lambda p: reads.append(p) or real(p))
    assert frozen_entries(path) == frozen_entries(path) == (1, 3) and len(reads) == 1
    save(torch.tensor([float("inf"), float("inf"), 1.0]))  # a later checkpoint, of the same size
    os.utime(path, ns=(stamp, stamp))  # and within the same tick of the clock
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (size, stamp)  # only the inode tells
    assert frozen_entries(path) == (2, 3) and len(reads) == 2


def test_the_time_to_go_is_at_the_pace_of_the_device_that_trains_now():
    """A run begun on a GPU and continued on this CPU goes on at the CPU's pace, not at the mean of
    both; a checkpoint whose starts have no time goes on at its overall pace."""
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    path = _only().path
    _rewind(path, epoch=1)
    saved = torch.load(path, weights_only=True)
    saved["state"]["segments"] = [
        {"device": "cuda", "from_step": 0, "to_step": 100, "wall_time_s": 50.0},
        {"device": "cpu", "from_step": 100, "to_step": 150, "wall_time_s": 100.0},
        {"device": "cpu", "from_step": 150, "to_step": 200, "wall_time_s": 100.0},
        {"device": "cpu", "from_step": 200, "to_step": 200, "wall_time_s": 0.0}]  # a start that did nothing
    torch.save(saved, path)
    results.record_path("copy", "smoke").unlink()
    found = _only()
    assert found.device_pace == ("cpu", 2.0)
    assert math.isclose(found.hours_to_go, 2.0 * (found.total_steps - found.global_step) / 3600)
    del saved["state"]["segments"]  # a checkpoint from before starts were timed
    torch.save(saved, path)
    found = _only()
    assert found.device_pace is None and found.pace_text == "at that pace"
    assert math.isclose(found.hours_to_go,
                        found.elapsed_s / found.global_step * (found.total_steps - found.global_step) / 3600)


def test_a_run_goes_on_at_the_torch_threads_it_began_with(capsys):
    """The continue command names the torch threads of the run's last start; ``qornn run`` trains at
    ``--threads``, records that count, says when a resumed run began at another, and leaves the
    process's count as it was; a count that is not a positive int is refused before anything runs."""
    before = torch.get_num_threads()
    assert main(["run", "copy", "--profile", "smoke", "--runs", "hadamrnn", "--no-progress",
                 "--threads", "1"]) == 0
    assert torch.get_num_threads() == before
    record = results.load_record("copy", "smoke")
    assert results.device_threads(record["runs"]["hadamrnn"]["provenance"]["device_name"]) == 1
    path = _only().path
    _rewind(path, epoch=1)
    results.record_path("copy", "smoke").unlink()
    stopped = _only()
    assert stopped.threads == 1 and stopped.command().endswith(" --runs hadamrnn --threads 1")

    from qornn.checkpoints import thread_changes

    assert thread_changes("copy", "smoke", threads=1) == []
    assert thread_changes("copy", "smoke", threads=2, runs=["lstm"]) == []  # not the run named
    assert thread_changes("copy", "smoke", threads=2, seed=1) == []  # another seed's run
    (line,) = thread_changes("copy", "smoke", threads=2)
    assert "trained at 1 torch thread, this start uses 2" in line and "--threads 1" in line

    capsys.readouterr()
    assert main(["run", "copy", "--profile", "smoke", "--runs", "hadamrnn", "--no-progress",
                 "--threads", "2"]) == 0  # resumed at 2 threads: said, and the last start records 2
    note = "qornn: note: copy/smoke hadamrnn: its checkpoint trained at 1 torch thread, this start uses 2"
    assert note in capsys.readouterr().err
    segments = results.load_record("copy", "smoke")["runs"]["hadamrnn"]["provenance"]["segments"]
    assert [results.device_threads(seg["device_name"]) for seg in segments] == [1, 2]
    assert torch.get_num_threads() == before

    for bad in ("0", "-2"):
        assert main(["run", "copy", "--profile", "smoke", "--threads", bad]) == 2
        assert f"--threads must be a positive int, got {bad}" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):  # argparse's own one-line usage error
        main(["run", "copy", "--profile", "smoke", "--threads", "two"])
    assert "argument --threads: invalid int value: 'two'" in capsys.readouterr().err


def _flip_bit(path, member_suffix: str = "/data/0", offset: int = 2) -> str:
    """Flip one bit in the stored bytes of the checkpoint's zip member ending in ``member_suffix`` (a
    tensor's storage), as a bad disk or a transfer would; returns the member's name."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(member_suffix))
    raw = bytearray(path.read_bytes())
    start = info.header_offset
    name_length, extra_length = struct.unpack("<HH", raw[start + 26:start + 30])
    raw[start + 30 + name_length + extra_length + offset] ^= 0x40
    path.write_bytes(bytes(raw))
    return info.filename


def test_a_checkpoint_with_a_flipped_bit_is_refused_everywhere_not_resumed(capsys):
    """Review F1: torch writes a CRC-32 for every member of a checkpoint's zip archive but does not
    check it, so a flipped bit in a weight was resumed, exported or analysed without a word."""
    from qornn.train import CheckpointError, load_checkpoint

    run_experiment("copy", "smoke", runs=["ornn"], progress=False)
    path = _only().path
    _rewind(path, epoch=1)  # a run stopped after its first epoch, to be resumed
    results.record_path("copy", "smoke").unlink()
    load_checkpoint(path)  # intact: loads
    member = _flip_bit(path)
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is corrupt: its member {member} fails its "
                                              "CRC-32 check"):
        load_checkpoint(path)
    (found,) = find_checkpoints("smoke")  # listed with the reason, not hidden nor taken for a run
    assert found.unreadable.startswith(f"checkpoint {path} is corrupt") and found.command() is None
    assert main(["checkpoints"]) == 0
    assert f"copy/smoke ornn: unreadable: checkpoint {path} is corrupt" in capsys.readouterr().out
    assert main(["run", "copy", "--profile", "smoke", "--runs", "ornn", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"member {member} fails its CRC-32 check" in err and len(err.strip().splitlines()) == 1
    assert not results.record_path("copy", "smoke").exists()  # nothing recorded from it


def test_a_checkpoint_saved_without_crcs_is_loaded_not_called_corrupt(tmp_path):
    """torch can save with its CRCs switched off (every member's CRC 0): a valid checkpoint, which the
    CRC check has nothing to compare with, so it is left to torch.load, not refused as corrupt."""
    import zipfile

    import torch

    from qornn.train import read_checkpoint_file

    path = tmp_path / "no_crc.pt"
    torch.serialization.set_crc32_options(False)
    try:
        torch.save({"state": {"epoch": 1}, "model": {"w": torch.ones(3)}}, path)
    finally:
        torch.serialization.set_crc32_options(True)
    with zipfile.ZipFile(path) as archive:
        assert not any(info.CRC for info in archive.infolist())
    assert torch.equal(read_checkpoint_file(path)["model"]["w"], torch.ones(3))


def test_an_unreadable_record_blocks_neither_other_records_runs_nor_the_listing(capsys):
    """Review F3: a truncated record stopped every `qornn run` of the experiment (through the note
    on thread counts, which reads every checkpoint's record) and the whole of `qornn checkpoints`."""
    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    record = results.record_path("copy", "smoke")
    record.write_text(record.read_text()[:500])
    (found,) = find_checkpoints("smoke")
    assert found.record_error.startswith(f"{record}: not valid JSON") and found.command() is None
    assert found.status.startswith(f"finished, recorded or not: its record cannot be read ({record}: not")
    assert main(["checkpoints"]) == 0
    assert "its record cannot be read" in capsys.readouterr().out
    # another record's run (a seed of its own, a variant) trains and records
    assert main(["run", "copy", "--profile", "smoke", "--runs", "lstm", "--seed", "3", "--no-progress"]) == 0
    assert main(["run", "copy", "--profile", "smoke", "--runs", "lstm", "--set", "lstm.hidden_size=4",
                 "--no-progress"]) == 0
    capsys.readouterr()
    # the broken record's own run fails, naming it, in one line
    assert main(["run", "copy", "--profile", "smoke", "--runs", "lstm", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{record}: not valid JSON" in err[0]


def test_a_label_whose_configuration_does_not_build_is_passed_over(monkeypatch):
    """Review F8: building a labelled checkpoint's configuration may fail in any way (a size that
    overflows: RuntimeError, MemoryError), and the listing goes on with the other candidates."""
    import qornn.experiments

    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    path = _only().path
    saved = torch.load(path, weights_only=True)
    saved["label"] = {"overrides": {"hadamrnn.hidden_size": 2**40}}
    torch.save(saved, path.with_name("0123456789abcdef.pt"))
    real = qornn.experiments.get_config

    def get_config(experiment, profile, overrides=None):
        if overrides:
            raise RuntimeError("Storage size calculation overflowed")
        return real(experiment, profile, overrides)

    monkeypatch.setattr(qornn.experiments, "get_config", get_config)
    foreign = next(c for c in find_checkpoints("smoke") if c.path.name == "0123456789abcdef.pt")
    assert foreign.seed is None and foreign.unreadable is None
