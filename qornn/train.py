"""The training loop: plain config in, history and test metrics out, resumable at any step.

Data order is a function of (seed, epoch) alone, so a run restored from a checkpoint taken at step
s of epoch e skips the first s batches of that epoch's permutation and continues exactly as an
uninterrupted run would (on CPU, bit for bit).
"""

from __future__ import annotations

import contextlib
import math
import pickle
import platform
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from . import fast_hadamard
from .results import MAX_SEED, atomic_torch_save, check_seed
from .tasks import Task

__all__ = ["TrainConfig", "train", "evaluate", "check_device", "check_seed", "flush_denormals",
           "load_checkpoint", "read_checkpoint_file", "check_checkpoint_file", "CheckpointError",
           "TrainingDiverged", "OPTIMIZERS", "MAX_SEED"]

OPTIMIZERS = ("adam", "rmsprop", "sgd")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another run."""


#: the end of a TrainingDiverged message: what a user can change, as `qornn run` takes it
_WHAT_MAY_TRAIN = ("A smaller learning rate (--set train.lr=...), gradient clipping "
                   "(--set train.grad_clip=1.0) or another seed may train.")


class TrainingDiverged(RuntimeError):
    """The training loss of a batch is not finite, or the optimiser's state has become non-finite:
    either way every later step would be wasted (non-finite weights, or entries frozen for ever)."""



@dataclass
class TrainConfig:
    """Hyperparameters of one training run (plain data: it goes into the results record)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-4
    optimizer: str = "adam"
    #: StepLR: the learning rate is multiplied by ``lr_gamma`` after every epoch
    lr_gamma: float = 1.0
    grad_clip: float | None = None
    eval_batch_size: int = 500
    #: save a checkpoint every this many optimiser steps (and at the end of every epoch)
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"train {name} must be a positive int, got {value!r}")
        # a bool is an int to Python (lr=True would train at 1.0), and inf passes "> 0" (grad_clip=inf
        # clips nothing and is written into the record as Infinity, which no JSON reader takes)
        if not (_finite_number(self.lr) and self.lr > 0):
            raise ValueError(f"train lr must be a positive number (finite, not a bool), got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if not (_finite_number(self.lr_gamma) and 0 < self.lr_gamma <= 1):
            raise ValueError(f"train lr_gamma must be a number in (0, 1], got {self.lr_gamma!r}")
        if self.grad_clip is not None and not (_finite_number(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"train grad_clip must be a positive number (finite, not a bool) or None, "
                             f"got {self.grad_clip!r}")


def _finite_number(value: object) -> bool:
    """An int or float that is not a bool, and finite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_device(device: str) -> torch.device:
    """A torch device that exists here, or a ValueError that says which ones do."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {device!r} is not a device name; use 'cpu' or 'cuda[:N]'") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise ValueError(f"device {device!r} is not available here "
                             f"({count} CUDA devices); use 'cpu'")
    elif dev.type != "cpu":
        raise ValueError(f"device {device!r} is not supported; use 'cpu' or 'cuda[:N]'")
    elif dev.index not in (None, 0):  # torch takes "cpu:99", but there is one CPU device
        raise ValueError(f"device {device!r} is not available here; the CPU is 'cpu' (or 'cpu:0')")
    return dev


def _make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    cls = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}
    return cls[cfg.optimizer](params, lr=cfg.lr)


def _nonfinite_state(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> list[str]:
    """The parameters (by name) whose optimiser state holds an inf or a NaN, [] if none.

    Adam keeps v, a running mean of squared gradients: in float32 one gradient above about 5.8e20
    (an exploding recurrence's first steps can give 1e25) makes v = inf, and Adam's step m / (√v + ε)
    is then 0 for good. The loss stays finite, so only this check sees that those entries stopped."""
    states = [(p, t) for group in optimizer.param_groups for p in group["params"]
              for key, t in optimizer.state.get(p, {}).items()
              if key != "step" and torch.is_tensor(t) and t.is_floating_point()]
    if not states or bool(torch.stack([t.isfinite().all() for _, t in states]).all()):
        return []  # one device-to-host read per step when all is well
    return list(dict.fromkeys(names.get(id(p), "?") for p, t in states if not t.isfinite().all()))


_flush_depth = 0


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Inside the block, CPU arithmetic treats subnormal floats (below 1.2e-38 in float32) as zero.

    Recurrent networks produce them (saturated gates: σ(p) ≈ 0; gradients that vanish over 784
    steps, already at initialisation for an LSTM), and on x86 every operation on one takes a slow
    microcode path: several times slower steps (``benchmarks/subnormals.py``). Values that small are far below
    float32's resolution relative to any value they are added to, so results change only where a
    sum of such values would have mattered. Nests; leaves the default (keep subnormals) on exit.
    """
    global _flush_depth
    _flush_depth += 1
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        _flush_depth -= 1
        if _flush_depth == 0:
            torch.set_flush_denormal(False)


def batches_per_epoch(num_samples: int, batch_size: int) -> int:
    """Optimiser steps in one epoch: ⌈num_samples / batch_size⌉ (the last batch may be short)."""
    return math.ceil(num_samples / batch_size)


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


@torch.no_grad()
@flush_denormals()
def evaluate(model: torch.nn.Module, task: Task, split: str, batch_size: int,
             device: torch.device, limit: int | None = None) -> dict[str, float]:
    """Metrics of ``model`` on a whole split, or on its first ``limit`` samples (means over samples)."""
    was_training = model.training
    model.eval()
    n = task.num_samples(split) if limit is None else min(limit, task.num_samples(split))
    totals: dict[str, float] = {}
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(start + batch_size, n))
        x, y = task.batch(split, index)
        logits = model(x.to(device))
        for key, value in task.metrics(logits, y.to(device)).items():
            totals[key] = totals.get(key, 0.0) + value * len(index)
    model.train(was_training)
    return {key: value / n for key, value in totals.items()}


_CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "config", "state")


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu",
                    run_hash: str | None = None) -> dict:
    """The checkpoint at ``path`` (:func:`read_checkpoint_file`). A :class:`CheckpointError` that
    names ``path`` when it cannot be read, is corrupt, lacks a field, or was made by another run
    than ``run_hash`` (the configuration hash stored in it; a checkpoint from before hashes were
    stored is checked by its training config alone, in :func:`train`)."""
    saved = read_checkpoint_file(path, map_location=map_location)
    if not isinstance(saved, dict) or any(key not in saved for key in _CHECKPOINT_KEYS):
        raise CheckpointError(f"checkpoint {path} is not a qornn training checkpoint; delete it to "
                              "train that run from the start")
    stored = saved.get("run_hash")
    if run_hash is not None and stored is not None and stored != run_hash:
        raise CheckpointError(f"checkpoint {path} belongs to another run (configuration hash "
                              f"{stored}, expected {run_hash}); delete it or move it back where it "
                              "came from")
    return saved


def read_checkpoint_file(path: Path, *, map_location: str | torch.device = "cpu") -> Any:
    """What the file at ``path`` holds, loaded with ``weights_only=True`` (tensors and plain Python
    values only: a crafted file cannot run code) once its zip archive's CRCs have been checked
    (:func:`check_checkpoint_file`), or a :class:`CheckpointError` naming ``path`` that says why not."""
    check_checkpoint_file(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:  # the weights-only unpickler refused what the file holds
        raise CheckpointError(_refused(path, str(err))) from None
    except Exception as err:  # unpickling, zip and storage errors all mean: not a checkpoint of ours
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read ({reason[:200]}); delete it to "
                              "train that run from the start") from None


def check_checkpoint_file(path: Path) -> None:
    """A :class:`CheckpointError` naming ``path`` and the member when a member of the checkpoint's
    zip archive fails its CRC-32. torch writes a CRC for every member but does not check it when it
    loads, so a flipped bit in a weight would otherwise be resumed (or exported, or analysed) as if
    it were the run's. A file that is not a zip archive is left to ``torch.load``, which says what
    is wrong with it, and so is one saved with torch's CRCs switched off
    (``torch.serialization.set_crc32_options(False)``: every member's CRC 0), which has nothing to
    check against."""
    try:
        with zipfile.ZipFile(path) as archive:
            if not any(info.CRC for info in archive.infolist() if info.file_size):
                return  # saved without CRCs: a valid checkpoint, which no CRC can vouch for
            bad = archive.testzip()  # reads every member; its first whose bytes fail their CRC
    except (zipfile.BadZipFile, OSError):
        return
    except Exception as err:  # a member that cannot be decompressed (torch stores them as they are)
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}: {str(err)[:200]}); "
                              "delete it to train that run from the start") from None
    if bad is not None:
        raise CheckpointError(f"checkpoint {path} is corrupt: its member {bad} fails its CRC-32 check "
                              "(its bytes changed after it was written), so it was not loaded; restore "
                              "it from a copy (git checkout for a committed one) or delete it to train "
                              "that run from the start")


def _refused(path: Path, message: str) -> str:
    """Why torch's weights-only unpickler refused the file at ``path``, from its ``message`` less
    torch's advice to load the file again with ``weights_only=False``: that would run whatever code
    the file holds."""
    detail = message.split("WeightsUnpickler error:")[-1].split("Check the documentation")[0]
    lines = [line.strip().removeprefix("Weights only load failed.").strip()
             for line in detail.splitlines() if line.strip() and "weights_only" not in line]
    # and without its advice to allow what the file asked for (add_safe_globals), or to file an issue
    detail = " ".join(line for line in lines if line).split(" Please ")[0][:200].rstrip(".")
    detail = detail or "unsupported content"
    if "GLOBAL" in detail:  # a function or class to call: harmless (numpy's) or a crafted file's payload
        return (f"checkpoint {path} was not loaded: it holds objects other than tensors and plain values "
                f"({detail}), and loading them would call what they name, which can be any code; qornn "
                "never writes such a file; delete it to train that run from the start")
    return (f"checkpoint {path} cannot be read (not a torch checkpoint of tensors and plain values: "
            f"{detail}); delete it to train that run from the start")


def _diagnostics_state(model: torch.nn.Module) -> dict:
    """The counters behind ``model.diagnostics()`` (e.g. HadamardWeight's sign flips since the
    last epoch), by submodule name, so that a resumed epoch reports what an uninterrupted one would."""
    return {name: module.diagnostics_state() for name, module in model.named_modules()
            if hasattr(module, "diagnostics_state")}


def _load_diagnostics_state(model: torch.nn.Module, state: dict | None) -> None:
    for name, module in model.named_modules():
        if hasattr(module, "load_diagnostics_state") and state and name in state:
            module.load_diagnostics_state(state[name])


def _rng_state() -> dict:
    """The random generators that training draws from (the data order is a function of the seed
    and the epoch alone; these feed dropout and any other in-model randomness)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict | None) -> None:
    if not state:  # a checkpoint from before RNG states were saved
        return
    # generator states are CPU byte tensors; a checkpoint loaded onto a GPU (map_location) moved them
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@flush_denormals()
def train(
    model: torch.nn.Module,
    task: Task,
    cfg: TrainConfig,
    *,
    seed: int = 0,
    device: str = "cpu",
    checkpoint: Path | None = None,
    progress: bool = True,
    description: str = "",
    on_step: Callable[[int], None] | None = None,
    run_hash: str | None = None,
    resume: bool = True,
    label: Mapping[str, Any] | None = None,
) -> dict:
    """Train ``model`` on ``task``; resume from ``checkpoint`` if it exists.

    Returns {"history": [per-epoch dict], "test": metrics, "wall_time_s": seconds of training
    summed over every resumed segment, "segments": [{commit, dirty, host, device, device_name, cpu, torch,
    from_step, to_step, wall_time_s}] for each start that trained steps, since a run may be resumed on
    another machine (commit None: steps from before segments were recorded; no device: from before
    devices were; no torch or wall time: from before those were)}.
    ``on_step(global_step)`` is called after each optimiser step (tests use it to interrupt a run).
    Subnormal floats are flushed to zero throughout (:func:`flush_denormals`). ``run_hash`` (the
    run's configuration hash, default: that of the training config and ``seed``, which decides the
    data order) is stored in the checkpoint, and a checkpoint of another run is refused
    (:func:`load_checkpoint`). The checkpoint holds tensors and plain values only, including the
    diagnostics' counters, so a resumed run's history equals an uninterrupted one's. With
    ``resume=False`` an existing checkpoint is ignored, then replaced at the first save. An epoch
    resumed in its middle records the steps it resumed at (``resumed_at_steps``) in its history.
    ``label`` (plain values) is stored with the checkpoint to say which run it is: the experiment
    runner stores the experiment, profile, run, seed and ``--set`` overrides, from which
    :mod:`qornn.checkpoints` gives the command that continues a variant's run. It trains nothing.
    A batch whose training loss is not finite stops the run with :class:`TrainingDiverged`, which
    names the step; so does an optimiser step that leaves the optimiser's state non-finite (Adam's
    v overflowed by a huge gradient: those entries would never move again, :func:`_nonfinite_state`).
    The checkpoint saved before it is kept.
    """
    from .results import config_hash, cpu_description, device_name, git_commit

    run_hash = run_hash if run_hash is not None else config_hash({**asdict(cfg), "seed": check_seed(seed)})
    dev = check_device(device)
    model.to(dev)
    # a model may give some parameters their own group (HadamRNN's sign rules: qornn.signs)
    optimizer = _make_optimizer(cfg, model.optimizer_groups() if hasattr(model, "optimizer_groups")
                                else model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=cfg.lr_gamma)
    state = {"epoch": 0, "step": 0, "global_step": 0, "history": [], "elapsed": 0.0,
             "loss_sum": 0.0, "loss_count": 0}
    if resume and checkpoint is not None and Path(checkpoint).exists():
        saved = load_checkpoint(checkpoint, map_location=dev, run_hash=run_hash)
        if saved["config"] != asdict(cfg):
            raise CheckpointError(f"checkpoint {checkpoint} was made with another training config; "
                                  "delete it or use the config it was made with")
        try:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            raise CheckpointError(f"checkpoint {checkpoint} does not fit this model "
                                  f"({str(err).splitlines()[0][:200]}); delete it to train that run "
                                  "from the start") from None
        state = saved["state"]
        if state["step"] > 0:  # resumed inside an epoch: its history entry says so
            state.setdefault("resumed_at_steps", []).append(state["step"])
        _load_diagnostics_state(model, saved.get("diagnostics"))
        _set_rng_state(saved.get("rng"))  # dropout masks continue as if never interrupted

    # Which code trained which steps: a run resumed in another session (maybe on another machine)
    # has one segment per start; a checkpoint from before segments were kept gives an unknown first one.
    segments = state.setdefault("segments", [] if state["global_step"] == 0 else [
        {"commit": None, "dirty": None, "host": None, "from_step": 0, "to_step": state["global_step"]}])
    segments.append({**git_commit(), "host": platform.node(), "device": str(dev),
                     "device_name": device_name(str(dev)), "cpu": cpu_description(),
                     "torch": str(torch.__version__),
                     "from_step": state["global_step"], "to_step": state["global_step"],
                     "wall_time_s": 0.0})
    elapsed_before = state["elapsed"]

    def end_segment() -> None:  # this start's steps and time so far (a device's speed reads from it)
        segments[-1].update(to_step=state["global_step"],
                            wall_time_s=round(state["elapsed"] - elapsed_before, 2))

    def save() -> None:
        end_segment()
        if checkpoint is not None:
            atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "config": asdict(cfg),
                               "state": state, "rng": _rng_state(), "run_hash": run_hash,
                               "diagnostics": _diagnostics_state(model), "label": dict(label or {})},
                              checkpoint)

    n = task.num_samples("train")
    names = {id(p): name for name, p in model.named_parameters()}
    steps_per_epoch = batches_per_epoch(n, cfg.batch_size)
    # builds the fused HadamRNN kernel now if the model runs on it (a minute on a fresh machine): the
    # build is not training time, and would otherwise be counted in the first step's
    if dev.type == "cpu":
        fast_hadamard.implementation(model, announce=progress)
    model.train()
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        order = _epoch_order(n, seed, epoch)
        bar = tqdm(total=steps_per_epoch, initial=state["step"], disable=not progress,
                   desc=f"{description} epoch {epoch + 1}/{cfg.epochs}".strip(), leave=False)
        segment_start = time.perf_counter()
        for step in range(state["step"], steps_per_epoch):
            index = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x, y = task.batch("train", index)
            x, y = x.to(dev), y.to(dev)
            loss = task.loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if hasattr(model, "verify_signs_"):  # flips tested on this batch (qornn.signs, "verified")
                with torch.no_grad():
                    model.verify_signs_(lambda x=x, y=y: task.loss(model(x), y))
            if hasattr(model, "apply_constraints_"):
                model.apply_constraints_()
            value = loss.detach().item()
            if not math.isfinite(value):  # NaN weights from here on: stop now, not after the last epoch
                raise TrainingDiverged(
                    f"{description + ': ' if description else ''}training diverged at optimiser step "
                    f"{state['global_step'] + 1} (epoch {epoch + 1}, batch {step + 1}): the training "
                    f"loss is {value} (non-finite); the last checkpoint saved before it is kept. "
                    + _WHAT_MAY_TRAIN)
            frozen = _nonfinite_state(optimizer, names)
            if frozen:
                largest = max(float(p.grad.abs().max()) for p in model.parameters()
                              if p.grad is not None and p.grad.numel())
                raise TrainingDiverged(
                    f"{description + ': ' if description else ''}training stopped at optimiser step "
                    f"{state['global_step'] + 1} (epoch {epoch + 1}, batch {step + 1}): the "
                    f"optimiser's state became non-finite for {', '.join(frozen)} (the largest "
                    f"|gradient| was {largest:.3g}; Adam and RMSprop keep its square, and float32 "
                    "overflows above 3.4e38), so those entries would never change again; the last "
                    "checkpoint saved before it is kept. " + _WHAT_MAY_TRAIN)
            state["loss_sum"] += value * len(index)
            state["loss_count"] += len(index)
            state["step"] = step + 1
            state["global_step"] += 1
            bar.update()
            bar.set_postfix(loss=f"{state['loss_sum'] / state['loss_count']:.4f}")
            if state["global_step"] % cfg.checkpoint_every == 0:
                state["elapsed"] += time.perf_counter() - segment_start
                segment_start = time.perf_counter()
                save()
            if on_step is not None:
                on_step(state["global_step"])
        bar.close()
        val = evaluate(model, task, "val", cfg.eval_batch_size, dev)
        state["elapsed"] += time.perf_counter() - segment_start
        state["history"].append({
            "epoch": epoch + 1,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": state["loss_sum"] / max(state["loss_count"], 1),
            "val": val,
            "wall_time_s": round(state["elapsed"], 2),
        })
        if state.get("resumed_at_steps"):
            state["history"][-1]["resumed_at_steps"] = state.pop("resumed_at_steps")
        diagnostics = model.diagnostics() if hasattr(model, "diagnostics") else {}
        if diagnostics:
            state["history"][-1]["diagnostics"] = diagnostics
        if progress:  # the bar disappears at the end of the epoch: leave one line per epoch
            point = state["history"][-1]
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in val.items())
            tqdm.write(f"{description} epoch {epoch + 1}/{cfg.epochs}: train loss ".lstrip()
                       + f"{point['train_loss']:.4g}, validation {metrics} ({point['wall_time_s']:.0f} s)")
        scheduler.step()
        state.update(epoch=epoch + 1, step=0, loss_sum=0.0, loss_count=0)
        save()
    end_segment()
    test = evaluate(model, task, "test", cfg.eval_batch_size, dev)
    return {"history": state["history"], "test": test, "wall_time_s": state["elapsed"],
            "segments": [seg for seg in segments if seg["to_step"] > seg["from_step"]]}
