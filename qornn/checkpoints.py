"""The checkpoints on disk: which runs are in progress or were stopped, how far each got, and the
command that continues it.

A run writes ``<runs dir>/<experiment>/<profile>/<run>/<hash>.pt`` (:func:`qornn.results.runs_dir`:
``data/checkpoints/`` for the ``paper`` profile, committed so that another machine can go on, and
``runs/`` otherwise), where ``<hash>`` is the hash of the run's whole configuration
(:meth:`~qornn.experiments.ExperimentConfig.run_config`). The same ``qornn run`` (or ``qornn sweep``)
that started a run resumes it from there. This module reads those files
(:func:`qornn.train.read_checkpoint_file`: the zip archive's CRCs checked, then ``torch.load`` with
``weights_only=True``) and trains nothing. A file it cannot read is listed with the reason.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import results
from .overrides import command_options

__all__ = ["Checkpoint", "checkpoint_file", "checkpoint_path", "find_checkpoints", "format_checkpoints",
           "frozen_entries", "progress_text", "read_checkpoint", "thread_changes"]

#: seeds tried when matching a checkpoint to the current definition of its run
SEEDS_TRIED = range(10)

#: the status of an unfinished checkpoint of a run that is recorded: a retrain (``--retrain``, or a
#: sweep training a run recorded from older code) stopped before its end. The record keeps the earlier
#: run's numbers until the retrain ends; ``qornn run … --retrain`` continues it (a retrain starts
#: afresh only from a finished checkpoint)
RETRAIN_STATUS = ("unfinished retrain of a recorded run (the record keeps the earlier training's numbers "
                  "until it ends)")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file and what it says about its run."""

    experiment: str
    profile: str
    run: str
    path: Path
    epoch: int  # epochs completed
    epochs: int  # epochs the run trains for
    global_step: int  # optimiser steps done
    total_steps: int | None  # optimiser steps of the whole run, when the configuration says
    elapsed_s: float  # training time so far, over every segment
    seed: int | None  # the seed whose current configuration has this hash; None: none has
    recorded: bool  # a record of this configuration exists (the run, or an earlier training of it)
    #: (device, seconds per optimiser step) over the starts on the device of the last start, when
    #: its starts recorded their time; None: only the pace over every start is known
    device_pace: tuple[str, float] | None = None
    #: the ``--set`` overrides of the variant whose run this is (empty: the profile's own run)
    overrides: dict = field(default_factory=dict)
    #: the torch threads of its last start, when that start was on a CPU and recorded them: a float
    #: sum split over another number of threads rounds otherwise, so the run goes on as it began
    #: only at this count (None: unknown, or the last start was on a GPU)
    threads: int | None = None
    #: why the file cannot be read (None: it was read). Listed with it, not hidden: ``qornn run`` of
    #: that run fails on it, so a listing without it would say there is nothing to continue
    unreadable: str | None = None
    #: why the record of its run cannot be read (None: read, or none yet): whether the run is
    #: recorded is then unknown, and the file is still listed (one broken record must not hide the rest)
    record_error: str | None = None

    @property
    def finished(self) -> bool:
        return self.unreadable is None and self.epoch >= self.epochs

    @property
    def status(self) -> str:
        if self.unreadable is not None:
            return f"unreadable: {self.unreadable}"
        if self.record_error is not None:
            return (f"{'finished' if self.finished else 'unfinished'}, recorded or not: its record cannot be "
                    f"read ({self.record_error}); repair or move that file, then list again")
        if self.seed is None:
            return ("configuration other than the current profile's or a known variant's (an older "
                    "definition, or a --set variant trained before checkpoints named their options)")
        if self.recorded:
            status = "finished and recorded" if self.finished else RETRAIN_STATUS
        else:
            status = "finished, not recorded" if self.finished else "unfinished"
        return f"{status}; variant {command_options(self.overrides).strip()}" if self.overrides else status

    @property
    def pace_text(self) -> str:
        """Which pace :attr:`hours_to_go` assumes, for people."""
        return f"at its pace on {self.device_pace[0]} so far" if self.device_pace else "at that pace"

    @property
    def hours_to_go(self) -> float | None:
        """Training hours left if the run goes on at its own pace so far: the seconds per optimiser
        step of its starts on the device of its last start (:attr:`device_pace`; a run begun on a GPU
        and continued on a CPU goes on at the CPU's pace), else of every start together. On a loaded
        or another machine the pace differs. None when it is finished, has no step yet, or its total
        is unknown."""
        if self.finished or not self.total_steps or self.global_step <= 0:
            return None
        pace = self.device_pace[1] if self.device_pace else self.elapsed_s / self.global_step
        return pace * (self.total_steps - self.global_step) / 3600

    @property
    def left_to_finish(self) -> bool:
        """Whether this run still has training or recording to do: every checkpoint but the one a
        finished, recorded run leaves behind."""
        return not (self.recorded and self.finished)

    def command(self) -> str | None:
        """The command that continues (or records) this run, with ``--retrain`` for an unfinished
        retrain of a recorded run (:data:`RETRAIN_STATUS`); None when the checkpoint is not the
        current profile's run, nor a known variant's, at any seed tried (:data:`SEEDS_TRIED`), or is
        finished and recorded. A variant's command has its ``--set`` options, and a run whose last
        start recorded its torch threads has ``--threads`` with their number, so that it goes on
        computing as it began (on the same kind of CPU, bit for bit as if never stopped)."""
        if self.seed is None or (self.recorded and self.finished) or self.record_error is not None:
            return None  # (a run whose record cannot be read fails on it: its status says so)
        seed = f" --seed {self.seed}" if self.seed else ""
        retrain = " --retrain" if self.recorded else ""
        threads = f" --threads {self.threads}" if self.threads else ""
        return (f"qornn run {self.experiment} --profile {self.profile}{command_options(self.overrides)} "
                f"--runs {self.run}{seed}{retrain}{threads}")


def _steps_per_epoch(task_options: dict, batch_size: int, epoch: int, global_step: int,
                     step: int) -> int | None:
    if "train_size" in task_options:
        from .train import batches_per_epoch  # imports torch: only when a checkpoint is read

        return batches_per_epoch(task_options["train_size"], batch_size)
    if epoch > 0:  # the steps of the completed epochs
        return (global_step - step) // epoch
    return None


def _variant_overrides(experiment: str, profile: str, label: object) -> Iterator[dict]:
    """The ``--set`` overrides a checkpoint of ``experiment`` at ``profile`` may have been made
    with, to match it by hash, most likely first: none (the profile's own run), then those its
    ``label`` names (what the runner stores in it, :func:`qornn.train.train`), then each committed
    variant record's (for checkpoints written before labels were). Lazily: the records are read
    only if the first candidates fail."""
    seen: list[dict] = []

    def candidates() -> Iterator[object]:
        yield {}
        if isinstance(label, dict):
            yield label.get("overrides")
        folder = results.record_path(experiment, profile, "any").parent  # where every variant's record is
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                yield json.loads(path.read_text()).get("overrides")
            except (OSError, ValueError, AttributeError):  # an unreadable record names no variant
                continue

    for overrides in candidates():
        if isinstance(overrides, dict) and overrides not in seen:
            seen.append(overrides)
            yield overrides


def _match(experiment: str, profile: str, run: str, digest: str, label: object):
    """``(config, seed)``: the configuration (the profile's, or a variant's) and the seed whose run
    ``run`` hashes to ``digest``; ``(the profile's config, None)`` when none does, ``(None, None)``
    for an experiment or profile that is not defined."""
    from .experiments import EXPERIMENTS, get_config

    if experiment not in EXPERIMENTS or profile not in EXPERIMENTS[experiment]["profiles"]:
        return None, None
    labelled = label.get("seed") if isinstance(label, dict) else None
    seeds = list(SEEDS_TRIED)
    if isinstance(labelled, int) and labelled not in seeds:  # a seed beyond those tried: its label says
        seeds.insert(0, labelled)
    profile_config = None  # the profile's own configuration, the first candidate tried
    for overrides in _variant_overrides(experiment, profile, label):
        try:
            config = get_config(experiment, profile, overrides)
        except Exception:  # noqa: BLE001 - overrides of an older definition, or a label that does not
            continue  # build (a size that overflows: RuntimeError, MemoryError): not this variant
        if not overrides:
            profile_config = config
        if run not in config.models:
            continue
        seed = next((s for s in seeds if results.config_hash(config.run_config(run, s)) == digest), None)
        if seed is not None:
            return config, seed
    return profile_config or get_config(experiment, profile), None


def read_checkpoint(path: Path, experiment: str, profile: str, run: str) -> Checkpoint | None:
    """What the checkpoint file ``path`` of ``run`` says, or None if it cannot be read."""
    found = _read_checkpoint(path, experiment, profile, run)
    return None if found.unreadable is not None else found


def _read_checkpoint(path: Path, experiment: str, profile: str, run: str) -> Checkpoint:
    """What the checkpoint file ``path`` of ``run`` says; one that cannot be read (corrupt or crafted:
    :func:`qornn.train.read_checkpoint_file`; or without its progress) has the reason as ``unreadable``."""
    from .train import read_checkpoint_file  # imports torch: only when a checkpoint is read

    try:
        saved = read_checkpoint_file(path)
        state, train = saved["state"], saved["config"]
        epoch, global_step, step = state["epoch"], state["global_step"], state["step"]
        batch_size, epochs = train["batch_size"], train["epochs"]
    except Exception as err:  # noqa: BLE001 - not a readable checkpoint, or one without its progress
        reason = " ".join(str(err).split())
        if not reason.startswith(f"checkpoint {path}"):  # a field missing from a loaded checkpoint
            reason = (f"checkpoint {path} lacks its progress ({type(err).__name__}: {reason}); delete it "
                      "to train that run from the start")
        return Checkpoint(experiment=experiment, profile=profile, run=run, path=path, epoch=0, epochs=0,
                          global_step=0, total_steps=None, elapsed_s=0.0, seed=None, recorded=False,
                          unreadable=reason)
    config, seed = _match(experiment, profile, run, path.stem, saved.get("label"))
    recorded, record_error = None, None
    if seed is not None:
        try:
            record = results.load_record(experiment, profile, missing_ok=True,
                                         variant=config.record_variant(seed))
        except (results.RecordError, OSError) as err:  # that record's own commands say so too
            record_error = " ".join(str(err).split())
        else:
            done = (record or {"runs": {}})["runs"].get(run)
            recorded = done is not None and done.get("config_hash") == path.stem
    per_epoch = _steps_per_epoch(config.task_options if config else {}, batch_size, epoch, global_step, step)
    return Checkpoint(experiment=experiment, profile=profile, run=run, path=path, epoch=epoch,
                      epochs=epochs, global_step=global_step,
                      total_steps=None if per_epoch is None else per_epoch * epochs,
                      elapsed_s=float(state.get("elapsed", 0.0)), seed=seed, recorded=bool(recorded),
                      device_pace=_device_pace(state.get("segments")),
                      overrides=dict(config.overrides) if seed is not None else {},
                      threads=_last_start_threads(state.get("segments")), record_error=record_error)


def _device_pace(segments: object) -> tuple[str, float] | None:
    """(device, seconds per step) over the timed starts on the device of the last timed start (the
    training loop records each start's device, steps and time in the checkpoint), or None."""
    timed = [seg for seg in _trained_segments(segments) if isinstance(seg.get("device"), str)
             and isinstance(seg.get("wall_time_s"), int | float)]
    if not timed:
        return None
    device = timed[-1]["device"]
    same = [seg for seg in timed if seg["device"] == device]
    steps = sum(seg["to_step"] - seg["from_step"] for seg in same)
    return device, sum(seg["wall_time_s"] for seg in same) / steps


def _trained_segments(segments: object) -> list[dict]:
    """The starts a checkpoint's ``segments`` record that trained at least one optimiser step."""
    if not isinstance(segments, list):
        return []
    return [seg for seg in segments if isinstance(seg, dict) and isinstance(seg.get("from_step"), int)
            and isinstance(seg.get("to_step"), int) and seg["to_step"] > seg["from_step"]]


def _last_start_threads(segments: object) -> int | None:
    """The torch threads of the last start that trained a step (read from its CPU ``device_name``),
    or None: no such start, one on a GPU, or one from before starts named their device."""
    trained = _trained_segments(segments)
    return results.device_threads(trained[-1].get("device_name")) if trained else None


def checkpoint_file(experiment: str, profile: str, run: str, digest: str) -> Path:
    """Where the run whose configuration hashes to ``digest`` (:func:`qornn.results.config_hash`, a
    record's ``config_hash``) keeps its checkpoint."""
    return results.runs_dir(profile) / experiment / profile / run / f"{digest}.pt"


def checkpoint_path(experiment: str, profile: str, run: str, seed: int = 0) -> Path:
    """Where ``run``, as the profile defines it now, keeps its checkpoint at ``seed``."""
    from .experiments import get_config

    digest = results.config_hash(get_config(experiment, profile).run_config(run, seed))
    return checkpoint_file(experiment, profile, run, digest)


def progress_text(found: Checkpoint) -> str:
    """"5,000 of 40,000 optimiser steps, 12%", or the steps and epochs when the total is unknown. No
    parentheses: the tables put it inside theirs."""
    if found.total_steps:
        return (f"{found.global_step:,} of {found.total_steps:,} optimiser steps, "
                f"{found.global_step / found.total_steps:.0%}")
    return f"{found.global_step:,} optimiser steps, {found.epoch} of {found.epochs} epochs done"


def find_checkpoints(profile: str | None = None, experiment: str | None = None) -> list[Checkpoint]:
    """Every checkpoint of ``profile`` (default: every profile) and ``experiment`` (default: every
    one), sorted by experiment, profile and run; one that cannot be read with the reason as its
    ``unreadable``. Looks in both checkpoint folders (``data/checkpoints/`` and ``runs/``); reads only
    the files of that profile and experiment."""
    roots = {results.runs_dir("paper"), results.runs_dir("cpu")}
    found = []
    for root in sorted(roots):
        for path in sorted(root.glob(f"{experiment or '*'}/*/*/*.pt")) if root.is_dir() else []:
            run, prof, name = path.parent.name, path.parent.parent.name, path.parent.parent.parent.name
            if profile is not None and prof != profile:
                continue
            found.append(_read_checkpoint(path, name, prof, run))
    return sorted(found, key=lambda c: (c.experiment, c.profile, c.run, str(c.path)))


def format_checkpoints(found: list[Checkpoint], *, all_: bool = False) -> str:
    """Lines for ``qornn checkpoints``: each unfinished or unrecorded run with its progress and the
    command that continues it, and each file that cannot be read with the reason and what to do
    (``all_``: the finished and recorded ones too)."""
    shown = [c for c in found if all_ or c.left_to_finish]
    if not shown:
        return "no checkpoint of a run left to finish" + ("" if all_ else " (--all lists every checkpoint)")
    lines = []
    for c in shown:
        if c.unreadable is not None:  # no progress to give: the reason, with what to do
            lines += [f"{c.experiment}/{c.profile} {c.run}: {c.status}", f"    {c.path}"]
            continue
        total = f"/{c.total_steps:,}" if c.total_steps else ""
        share = f" ({c.global_step / c.total_steps:.0%})" if c.total_steps else ""
        to_go = f", about {c.hours_to_go:.1f} h to go {c.pace_text}" if c.hours_to_go is not None else ""
        seed = f" (seed {c.seed})" if c.seed else ""  # seed 0 unsaid, as in the commands
        lines.append(f"{c.experiment}/{c.profile} {c.run}{seed}: {c.status}; "
                     f"step {c.global_step:,}{total}{share}, {c.epoch} of {c.epochs} epochs done, "
                     f"{c.elapsed_s / 3600:.2f} h trained{to_go}")
        lines.append(f"    {c.path}")
        if c.command():
            lines.append(f"    continue: {c.command()}")
    return "\n".join(lines)


def thread_changes(experiment: str, profile: str, *, threads: int, runs: list[str] | None = None,
                   seed: int = 0, overrides: dict | None = None) -> list[str]:
    """One line for each unfinished run of ``experiment`` at ``profile`` (``runs``: only those; the
    run of ``seed`` and of the variant ``overrides``) whose checkpoint's last start trained at another
    number of torch threads than ``threads``, the count a start is about to use: it goes on as a
    run of that count, and its numbers leave those of a run that was never stopped (by a last bit
    at first; a HadamRNN with learned signs can then take another path)."""
    lines = []
    for found in find_checkpoints(profile, experiment):
        if (found.finished or found.seed != seed or found.overrides != (overrides or {})
                or (runs is not None and found.run not in runs)
                or found.threads is None or found.threads == threads):
            continue
        lines.append(f"{experiment}/{profile} {found.run}: its checkpoint trained at {found.threads} torch "
                     f"thread{'' if found.threads == 1 else 's'}, this start uses {threads}; its numbers "
                     f"will not be those of a run never stopped (--threads {found.threads} goes on as it "
                     "began)")
    return lines


def frozen_entries(path: Path) -> tuple[int, int]:
    """``(frozen, total)`` over the trained parameters of the checkpoint at ``path``: how many
    entries have a non-finite Adam second moment v. Adam steps by m / (√v + ε), which is 0 once v is
    inf, and v stays inf: those entries never move again. In float32, one gradient above about
    √(3.4e38 / (1 − β₂)) ≈ 5.8e20 does it, as the first steps of an exploding recurrence can give.

    A page asks this of the same checkpoints in several tables: the count is kept per file as it is
    on disk (its path, inode, size and times: a checkpoint is written by renaming a new file into
    place, which gives it another inode), so each is read once while it stays unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    return _frozen_entries(path, (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))


@functools.lru_cache(maxsize=512)
def _frozen_entries(path: Path, version: tuple[int, int, int, int]) -> tuple[int, int]:
    """:func:`frozen_entries` of the file at ``path`` while it is this ``version`` of it."""
    from .train import load_checkpoint

    state = load_checkpoint(path)["optimizer"].get("state", {})
    frozen = total = 0
    for entry in state.values():
        second = entry.get("exp_avg_sq")
        if second is not None:
            frozen += int((~second.isfinite()).sum())
            total += second.numel()
    return frozen, total
