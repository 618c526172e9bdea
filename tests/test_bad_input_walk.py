"""A walk of bad inputs and faults through the command line (``qornn``) and the notebook runner
(``scripts/run_notebooks.py``), in process: each must end with one clear line on stderr and a
non-zero exit code, and leave the recorded results and the checkpoints exactly as they were.

One smoke run (copy / hadamrnn, a few seconds) is recorded first; every case then runs against
that state. Cases that need the state changed (a corrupt record, a crafted checkpoint, a folder
that is a file) make the change in their ``setup`` and the walk compares against the state after
it, so "unchanged" means: the command itself wrote nothing.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from _notebook_helpers import load_runner

from qornn import results
from qornn.cli import main as cli_main
from qornn.experiments import run_experiment


@dataclass
class Case:
    name: str
    argv: list[str]
    #: "qornn" (qornn.cli.main) or "runner" (scripts/run_notebooks.py main)
    tool: str = "qornn"
    #: a regular expression the error line must match (it names the bad value)
    match: str = ""
    setup: Callable[[Path, pytest.MonkeyPatch], None] | None = None
    exit_codes: tuple[int, ...] = (1, 2)
    env: dict[str, str] = field(default_factory=dict)


#: qornn verify of the walk's recorded smoke run
VERIFY = ["verify", "copy", "--profile", "smoke", "--runs", "hadamrnn"]


def _record() -> Path:
    return results.record_path("copy", "smoke")


def _good_record() -> dict:
    return json.loads(_record().read_text())


def _write_record(change: Callable[[dict], None]) -> Callable[[Path, pytest.MonkeyPatch], None]:
    """A setup that rewrites the record with ``change`` applied (a record that parses but is wrong)."""
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        record = _good_record()
        change(record)
        _record().write_text(json.dumps(record))
    return setup


def _write_text(text: str | bytes) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        if isinstance(text, bytes):
            _record().write_bytes(text)
        else:
            _record().write_text(text)
    return setup


def _run(record: dict) -> dict:
    return record["runs"]["hadamrnn"]


def _checkpoint() -> Path:
    return next((results.runs_dir() / "copy" / "smoke" / "hadamrnn").glob("*.pt"))


def _replace_checkpoint(make: Callable[[Path], None]) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        make(_checkpoint())
    return setup


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/qornn-walk-pwned",))


def _crafted(path: Path) -> None:
    torch.save({"model": _Payload()}, path)


def _foreign(path: Path) -> None:
    saved = torch.load(path, weights_only=True)
    saved["run_hash"] = "0" * 16
    torch.save(saved, path)


def _unfinished(path: Path) -> None:
    saved = torch.load(path, weights_only=True)
    saved["state"]["epoch"] = 0
    torch.save(saved, path)


def _a_file_instead_of(variable: str, sub: str = "") -> Callable[[Path, pytest.MonkeyPatch], None]:
    """Point ``variable`` (QORNN_DATA_DIR, ...) at a folder whose ``sub`` path is a plain file."""
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        base = tmp / f"elsewhere-{variable}"
        target = base / sub if sub else base
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("a file, not a folder")
        mp.setenv(variable, str(base))
    return setup


def _disk_full(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    mp.setattr(results.os, "fsync", no_space)


def _fails_with(error: BaseException) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        def fail(*args, **kwargs):
            raise error
        mp.setattr("qornn.experiments.runner.train", fail)
    return setup


def _flip_a_bit(path: Path) -> None:
    """One bit flipped in the first tensor's stored bytes (its CRC-32 no longer matches)."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    raw = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    raw[info.header_offset + 30 + name_length + extra_length] ^= 0x40
    path.write_bytes(bytes(raw))


def _ctrl_c(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    mp.setattr("qornn.experiments.runner.train", interrupted)


RUN = ["run", "copy", "--profile", "smoke", "--no-progress"]
SHOW = ["show", "copy", "--profile", "smoke"]
ANALYSE = ["analyse", "copy", "--profile", "smoke", "--force"]

CASES: list[Case] = [
    # names and choices
    Case("unknown experiment", ["run", "copi"], match="unknown experiment 'copi'.*copy"),
    Case("unknown profile", ["run", "copy", "--profile", "fast"], match="'fast'.*smoke, cpu, paper"),
    Case("empty profile", ["run", "copy", "--profile", ""], match="unknown profile ''"),
    Case("missing cuda device", [*RUN, "--device", "cuda:3"], match="cuda:3"),
    Case("not a device", [*RUN, "--device", "gpu"], match="'gpu'"),
    Case("empty device", [*RUN, "--device", ""], match="device ''"),
    Case("unknown run", [*RUN, "--runs", "gru"], match="'gru'"),
    Case("empty --runs", [*RUN, "--runs", ""], match="--runs"),
    Case("comma only --runs", [*RUN, "--runs", ","], match="--runs"),
    Case("trailing comma --runs", [*RUN, "--runs", "hadamrnn,"], match="--runs"),
    Case("negative seed", [*RUN, "--seed", "-1"], match="seed.*-1"),
    Case("seed 2**32", [*RUN, "--seed", str(2**32)], match=str(2**32)),
    Case("huge seed", [*RUN, "--seed", "9" * 30], match="9999"),
    Case("seed not a number", [*RUN, "--seed", "abc"], match="'abc'"),
    Case("seed a float", [*RUN, "--seed", "1.5"], match="'1.5'"),
    Case("no command", [], match="required"),
    Case("unknown command", ["frobnicate"], match="frobnicate"),
    Case("unknown option", [*RUN, "--epochs", "3"], match="--epochs"),
    Case("run zero threads", [*RUN, "--threads", "0"], match="--threads must be a positive int, got 0"),
    Case("run threads not a number", [*RUN, "--threads", "1.5"], match="'1.5'"),
    Case("run without experiment", ["run"], match="experiment"),
    Case("show unknown experiment", ["show", "copi"], match="unknown experiment 'copi'"),
    Case("show unknown profile", ["show", "copy", "--profile", "fast"], match="'fast'"),
    Case("show missing record", ["show", "copy", "--profile", "paper"],
         match="no recorded results.*qornn run copy --profile paper"),
    Case("analyse unknown experiment", ["analyse", "copi"], match="'copi'"),
    Case("analyse unrecorded run", [*ANALYSE, "--runs", "lstm"],
         match="'lstm' is not recorded in copy/smoke; recorded: hadamrnn"),
    Case("export unrecorded run", ["export", "copy", "--profile", "smoke", "--runs", "hadamrn"],
         match="'hadamrn' is not recorded in copy/smoke; recorded: hadamrnn"),
    Case("a dict setting given one value", [*RUN, "--set", "hadamrnn.sign_training=bop"],
         match="sign_training must be a dict .*--set takes single values, so a dict setting is changed in "
               "the experiment's definition"),
    Case("analyse empty --runs", [*ANALYSE, "--runs", ""], match="--runs"),
    Case("analyse seed 2**32", [*ANALYSE, "--seed", str(2**32)], match=str(2**32)),
    Case("fetch unknown source", ["fetch", "mnistt"], match="mnistt"),
    Case("verify unrecorded run", [*VERIFY[:-1], "lstm"], match="'lstm' is not recorded; recorded: hadamrnn"),
    Case("verify zero epochs", [*VERIFY, "--epochs", "0"], match="epochs must be a positive int, got 0"),
    Case("verify zero threads", [*VERIFY, "--threads", "0"], match="threads must be a positive int, got 0"),
    Case("verify without --runs", VERIFY[:-2], match="--runs"),
    Case("verify unknown setting", [*VERIFY, "--set", "hiden_size=3"], match="hiden_size"),
    # checkpoints
    Case("analyse without checkpoint", ANALYSE, match=r"no checkpoint.*--retrain",
         setup=lambda tmp, mp: _checkpoint().unlink()),
    # review F10: what the file asked for, without torch's advice to load it with weights_only=False
    Case("crafted checkpoint", ANALYSE, match=r"^(?!.*weights_only).*checkpoint .*\.pt was not loaded: it "
         r"holds objects other than tensors .*GLOBAL posix.system.*would call what they name, which can be "
         r"any code; qornn never writes such a file; delete it",
         setup=_replace_checkpoint(_crafted)),
    Case("checkpoint with a flipped bit", ANALYSE, match=r"checkpoint .*\.pt is corrupt: its member "
         r"\S+/data/\d+ fails its CRC-32 check", setup=_replace_checkpoint(_flip_a_bit)),
    Case("garbage checkpoint", ANALYSE, match=r"checkpoint .*\.pt cannot be read",
         setup=_replace_checkpoint(lambda p: p.write_bytes(b"\x00garbage"))),
    Case("empty checkpoint", ANALYSE, match=r"checkpoint .*\.pt cannot be read",
         setup=_replace_checkpoint(lambda p: p.write_bytes(b""))),
    Case("checkpoint of another run", ANALYSE, match=r"checkpoint .*\.pt belongs to another run",
         setup=_replace_checkpoint(_foreign)),
    Case("unfinished checkpoint", ANALYSE, match=r"unfinished run.*--retrain",
         setup=_replace_checkpoint(_unfinished)),
    Case("checkpoint not a dict", ANALYSE, match=r"checkpoint .*\.pt is not a qornn",
         setup=_replace_checkpoint(lambda p: torch.save([1, 2], p))),
    Case("crafted checkpoint on resume", [*RUN, "--runs", "ornn"], match=r"checkpoint .*\.pt was not loaded",
         setup=lambda tmp, mp: _crafted_resume()),
    # folders and faults
    Case("results folder is a file", [*RUN, "--retrain"], match="is a file",
         setup=_a_file_instead_of("QORNN_DATA_DIR", "results")),
    Case("record folder is a file", [*RUN, "--retrain"], match="is a file",
         setup=_a_file_instead_of("QORNN_DATA_DIR", "results/copy")),
    Case("runs folder is a file", [*RUN, "--retrain"], match="is a file",
         setup=_a_file_instead_of("QORNN_RUNS_DIR")),
    Case("cache folder is a file", ["fetch", "mnist"], match="is a file",
         setup=_a_file_instead_of("QORNN_CACHE_DIR")),
    Case("disk full while recording", [*RUN, "--runs", "hadamrnn", "--retrain"],
         match=r"cannot write \S+ \(the file there, if any, is unchanged\): No space left on device",
         setup=_disk_full),
    Case("ctrl-c while training", [*RUN, "--runs", "hadamrnn", "--retrain"], match="interrupted",
         setup=_ctrl_c, exit_codes=(130,)),
    # review F9: a size too large to allocate, as torch and Python say it, in one line
    Case("allocation fails while training", [*RUN, "--runs", "hadamrnn", "--retrain"],
         match="DefaultCPUAllocator: can't allocate", setup=_fails_with(RuntimeError(
             "[enforce fail at alloc_cpu.cpp:119] DefaultCPUAllocator: can't allocate 51200000000000 bytes.\n"
             "Error code 12 (Cannot allocate memory)")), exit_codes=(1,)),
    Case("out of memory while training", [*RUN, "--runs", "hadamrnn", "--retrain"],
         match="out of memory: MemoryError", setup=_fails_with(MemoryError()), exit_codes=(1,)),
    # reviews F2, F6, F9, F10: settings refused at the boundary, before any training
    Case("infinite grad_clip", [*RUN, "--set", "train.grad_clip=1e999"],
         match="train.grad_clip: '1e999' is not a finite number"),
    Case("infinite model option", [*RUN, "--set", "fastgrnn.zeta_init=1e999"],
         match="fastgrnn.zeta_init: '1e999' is not a finite number"),
    Case("minus infinite lr", [*RUN, "--set", "train.lr=-1e999"], match="'-1e999' is not a finite"),
    Case("bool learning rate", [*RUN, "--set", "train.lr=true"], match="train lr must be .*got True"),
    Case("bool grad_clip", [*RUN, "--set", "train.grad_clip=true"], match="grad_clip must be .*got True"),
    Case("text lr_gamma", [*RUN, "--set", "train.lr_gamma=half"], match="lr_gamma must be .*got 'half'"),
    Case("int beyond 64 bits", [*RUN, "--set", "task.length=99999999999999999999"],
         match="'99999999999999999999' is beyond the largest int"),
    Case("cpu index", [*RUN, "--device", "cpu:99"], match="'cpu:99' is not available here"),
    # records that parse but are wrong (shown, run over, analysed)
    *[Case(f"record {what} ({cmd[0]})", cmd, match=pattern, setup=setup)
      for what, pattern, setup in [
          ("truncated", "not valid JSON", _write_text('{"schema": 1, "runs": ')),
          ("empty", "not valid JSON", _write_text("")),
          ("binary", "not valid JSON", _write_text(b"\xff\xfe\x00")),
          ("a list", "not a qornn results record", _write_text("[]")),
          ("of schema 99", "schema", _write_record(lambda r: r.update(schema=99))),
          ("of another experiment", "experiment is 'pmnist'",
           _write_record(lambda r: r.update(experiment="pmnist"))),
          ("of another profile", "profile is 'cpu'", _write_record(lambda r: r.update(profile="cpu"))),
          ("with accuracy 7.5", "recall_accuracy must be in", _write_record(
              lambda r: _run(r)["test"].update(recall_accuracy=7.5))),
          ("with a negative loss", "loss must not be negative", _write_record(
              lambda r: _run(r)["test"].update(loss=-0.1))),
          ("with a string metric", "loss must be a finite number", _write_record(
              lambda r: _run(r)["test"].update(loss="0.5"))),
          ("with NaN", "NaN", _write_text(json.dumps({"schema": 1, "loss": float("nan")}))),
          ("with a bool metric", "finite number", _write_record(
              lambda r: _run(r)["test"].update(loss=True))),
          ("without provenance seed", "provenance lacks seed", _write_record(
              lambda r: _run(r)["provenance"].pop("seed"))),
          ("with seed 2**32", "seed must be an int", _write_record(
              lambda r: _run(r)["provenance"].update(seed=2**32))),
          ("with a negative wall time", "wall_time_s", _write_record(
              lambda r: _run(r)["provenance"].update(wall_time_s=-3))),
          ("with size_bits a string", "size_bits", _write_record(
              lambda r: _run(r).update(size_bits="2096"))),
          ("with history not a list", "history must be a list", _write_record(
              lambda r: _run(r).update(history={}))),
          ("with epoch 0", "epoch must be a positive int", _write_record(
              lambda r: _run(r)["history"][0].update(epoch=0))),
          ("with runs a list", "runs must be a mapping", _write_record(lambda r: r.update(runs=[]))),
          ("without test", "lacks test", _write_record(lambda r: _run(r).pop("test"))),
          ("with a run of another profile", "provenance profile is 'cpu'", _write_record(
              lambda r: _run(r)["provenance"].update(profile="cpu"))),
          ("with majority share 1.5", "majority", _write_record(
              lambda r: _run(r)["baselines"].update(majority_class_accuracy=1.5))),
      ]
      for cmd in ([*SHOW],) + ((RUN,) if what in ("truncated", "of another experiment") else ())],
    # the notebook runner
    *[Case(f"runner {name}", argv, tool="runner", match=pattern) for name, argv, pattern in [
        ("retrain typo", ["-p", "retrain=Flase"], "retrain='Flase'.*True or False"),
        ("retrain an int", ["-p", "retrain=1"], "retrain=1"),
        ("retrain null", ["-p", "retrain=null"], "retrain=None"),
        ("retrain yes", ["-p", "retrain=yes"], "retrain='yes'.*True or False"),
        ("retrain with no value", ["-p", "retrain"], "key=value"),
        ("override typo", ["notebooks/hadamrnn/copy_task.py", "--profile", "smoke",
                           "-p", 'overrides={"hidden_sise": 3}'], "unknown override 'hidden_sise'"),
        ("parameter typo", ["-p", "profil=smoke"], "unknown parameter 'profil'"),
        ("unknown parameter", ["-p", "lr=0.1"], "unknown parameter 'lr'"),
        ("seed not a number", ["-p", "seed=abc"], "seed='abc'"),
        ("negative seed", ["-p", "seed=-1"], "seed=-1"),
        ("seed 2**32", ["-p", f"seed={2**32}"], f"seed={2**32}"),
        ("seed a float", ["-p", "seed=1.5"], "seed=1.5"),
        ("seed a bool", ["-p", "seed=True"], "seed=True"),
        ("unknown profile", ["--profile", "fast"], "profile='fast'"),
        ("profile a number", ["-p", "profile=3"], "profile=3"),
        ("missing device", ["-p", "device=cuda:7"], "cuda:7"),
        ("device a number", ["-p", "device=3"], "device=3"),
        ("sizes not a list", ["-p", "sizes=abc"], "sizes='abc'"),
        ("samples a float", ["-p", "samples=2.5"], "samples=2.5"),
        ("no value", ["-p", "seed"], "key=value"),
        ("no name", ["-p", "=3"], "key=value"),
        ("name with a space", ["-p", "my seed=3"], "key=value"),
        ("no such notebook", ["notebooks/hadamrnn/nope.py"], "no such notebook"),
        ("timeout not a number", ["--timeout", "soon"], "'soon'"),
        ("unknown option", ["--fast"], "--fast"),
        ("output folder is a file", ["--output-dir", "__FILE__"], "is a file"),
    ]],
]


def _crafted_resume() -> None:
    """A crafted file where run_experiment would resume the (unrecorded) ornn run from."""
    from qornn.experiments import get_config
    from qornn.experiments.runner import _checkpoint as checkpoint_path

    cfg = get_config("copy", "smoke")
    path = checkpoint_path(cfg, "ornn", results.config_hash(cfg.run_config("ornn", 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    _crafted(path)


def _snapshot(*folders: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders if folder.is_dir() for p in sorted(folder.rglob("*")) if p.is_file()}


def _call(case: Case, tmp: Path) -> int:
    argv = [str(tmp / "a-file") if a == "__FILE__" else a for a in case.argv]
    if case.tool == "runner":
        (tmp / "a-file").write_text("x")
        main = load_runner().main
    else:
        main = cli_main
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse and the runner's early checks exit
        if isinstance(exit_.code, str):
            import sys

            print(exit_.code, file=sys.stderr)
            return 1
        return exit_.code


def test_the_walk_is_long_enough():
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


def test_every_bad_input_is_one_line_a_non_zero_exit_and_changes_nothing(tmp_path, capsys):
    import re

    run_experiment("copy", "smoke", runs=["hadamrnn"], progress=False)
    pristine = tmp_path / "pristine"
    shutil.copytree(results.data_dir(), pristine / "data")
    shutil.copytree(results.runs_dir(), pristine / "runs")
    capsys.readouterr()
    failures = []
    for case in CASES:
        # every case starts from the recorded smoke run, in folders of its own
        shutil.rmtree(results.data_dir())
        shutil.rmtree(results.runs_dir())
        shutil.copytree(pristine / "data", results.data_dir())
        shutil.copytree(pristine / "runs", results.runs_dir())
        with pytest.MonkeyPatch.context() as mp:
            if case.setup is not None:
                case.setup(tmp_path / "case", mp)
            before = _snapshot(results.data_dir(), results.runs_dir())
            code = _call(case, tmp_path)
            after = _snapshot(results.data_dir(), results.runs_dir())
        shutil.rmtree(tmp_path / "case", ignore_errors=True)
        out = capsys.readouterr()
        lines = [line for line in out.err.splitlines() if line.strip()]
        problems = []
        if code not in case.exit_codes:
            problems.append(f"exit code {code}, expected {case.exit_codes}")
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr: {out.err[-500:]!r}")
        elif case.match and not re.search(case.match, lines[0]):
            problems.append(f"{lines[0]!r} does not match {case.match!r}")
        if after != before:
            changed = sorted(set(after.items()) ^ set(before.items()))
            problems.append(f"files changed: {changed[:3]}")
        if problems:
            failures.append(f"{case.name} ({' '.join(case.argv)}): {'; '.join(problems)}")
    assert not Path("/tmp/qornn-walk-pwned").exists(), "a crafted checkpoint ran code"
    assert not failures, "\n".join(failures)


def test_a_runtime_error_that_is_not_out_of_memory_keeps_its_traceback(tmp_path, monkeypatch):
    """Only an allocation failure becomes one line: any other RuntimeError (a shape mismatch, an
    autograd error) is a bug, raised whole so that its traceback shows where."""
    bug = RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")
    _fails_with(bug)(tmp_path, monkeypatch)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        cli_main([*RUN, "--runs", "hadamrnn", "--retrain"])
