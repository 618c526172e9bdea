"""Trained weights that ship with the book: the final model of every recorded run of the RNN experiments
(``qornn run``'s; the theory, SEA and majoring-points runners record results only), packed.

Where they are, beside the records and named as they are (:func:`qornn.results.record_path`):

    data/weights/<experiment>/<profile>/<run>.npz                       the profile's runs (seed 0)
    data/weights/<experiment>/variants/<profile>/<variant>/<run>.npz    a variant's: --set overrides,
                                                                        or a seed S > 0 ("seed=S")

What a file stores (:mod:`qornn.export`, format ``qornn-packed-v1``): the model a run ended with, as
inference needs it: a HadamRNN sign in 1 bit, a k-bit matrix as its integer codes in k bits each plus
its float32 scale, every other value (biases, float matrices) in float32; a JSON header with the
``build_model`` arguments, the layout, and the run the weights belong to (experiment, profile,
variant, run, seed, config_hash). A HadamRNN of the paper's size takes kilobytes. The latent training
state (Adam's moments, latent float copies of quantized matrices) is not stored: a model loaded from
its weights is for inference and analysis, not for more training (the checkpoints are for that).

What the run's record stores, ``weights`` (checked by :func:`qornn.results.check_weights_entry`):
{"path": the file relative to ``data/``, "sha256": the file's, "file_bytes": its size,
"payload_bits": the packed payload in bits, "format": "qornn-packed-v1"}.

:func:`qornn.experiments.run_experiment` writes them at the end of every run it records (trained or
post-training quantized); ``qornn export`` (:func:`qornn.experiments.export_experiment`) writes them
for runs already recorded, from their finished checkpoints. :func:`load_weights` is the one call that
loads them back, checked against the record; :func:`trained_model` is what a measurement made after
training uses: the shipped weights, else the run's checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

from torch import nn

from . import results
from .export import FORMAT, packed_bytes, read_packed

__all__ = ["WeightsError", "weights_dir", "weights_folder", "weights_path", "pack_run", "load_weights",
           "trained_model"]

EXTENSION = ".npz"


class WeightsError(ValueError):
    """Trained weights that are missing, or do not match the record they should belong to; the
    message gives the command that produces them."""


def weights_dir() -> Path:
    """``data/weights`` (under QORNN_DATA_DIR when it is set)."""
    return results.data_dir() / "weights"


def weights_folder(experiment: str, profile: str, variant: str = "") -> Path:
    """The folder of the packed weights of one record's runs: ``data/weights/<experiment>/<profile>``,
    or for a ``variant`` (overrides, or a seed S > 0)
    ``data/weights/<experiment>/variants/<profile>/<variant>``."""
    for what, name in (("experiment", experiment), ("profile", profile), ("variant", variant)):
        if "/" in name or name.startswith(".") or (not name and what != "variant"):
            raise ValueError(f"bad {what} name {name!r} for a weights folder")
    return weights_dir() / experiment / ("variants" if variant else "") / profile / variant


def weights_path(experiment: str, profile: str, run: str, variant: str = "") -> Path:
    """The packed weights of one run: ``<run>.npz`` in :func:`weights_folder`."""
    if not run or "/" in run or run.startswith("."):
        raise ValueError(f"bad run name {run!r} for a weights file")
    return weights_folder(experiment, profile, variant) / f"{run}{EXTENSION}"


def pack_run(model: nn.Module, build: dict[str, Any], *, experiment: str, profile: str, run: str,
             variant: str, seed: int, config_hash: str) -> tuple[Path, bytes, dict[str, Any]]:
    """The weights file of one run: (its path, its bytes, the record's ``weights`` entry). Nothing is
    written: the caller hands the bytes to :func:`qornn.results.save_run` or ``update_run``, which
    write them beside the record once the run passes the schema check. ``model`` is packed as it is
    (on the CPU, in eval mode); ``build``: the ``build_model`` arguments that rebuild it."""
    path = weights_path(experiment, profile, run, variant)
    identity = {"experiment": experiment, "profile": profile, "variant": variant, "run": run,
                "seed": seed, "config_hash": config_hash}
    data, bits = packed_bytes(model, build, identity)
    entry = {"path": path.relative_to(results.data_dir()).as_posix(),
             "sha256": hashlib.sha256(data).hexdigest(), "file_bytes": len(data), "payload_bits": bits,
             "format": FORMAT}
    return path, data, entry


def load_weights(experiment: str, run: str, profile: str = "paper", seed: int = 0,
                 overrides: Any = None) -> nn.Module:
    """The trained model of one recorded run, from its packed weights, in eval mode: its outputs
    equal those of the trained model bit for bit (:mod:`qornn.export`).

    ``overrides`` and ``seed`` select a variant's run, as ``qornn run --set ... --seed S`` made it.
    Raises :class:`WeightsError`, one line with the command that produces them, when the run is not
    recorded, was recorded with another configuration than the current one, has no weights, or
    when the file is missing, differs from the sha256 in its record (and no copy kept at
    :func:`qornn.results.kept_weights_path` matches it: one is made before a run's weights are
    overwritten, for a record write that fails), or belongs to another configuration."""
    from .experiments import get_config

    cfg = get_config(experiment, profile, overrides)
    results.check_seed(seed)
    cfg.check_runs([run])
    variant = cfg.record_variant(seed)
    what = f"{experiment}/{profile}/{run}" + (f" (variant {variant})" if variant else "")
    train, export = cfg.command([run], seed), cfg.command([run], seed, verb="export")
    record = results.load_record(experiment, profile, missing_ok=True, variant=variant)
    data = (record or {"runs": {}})["runs"].get(run)
    if data is None:
        raise WeightsError(f"no trained weights of {what}: the run is not recorded; train it with: {train}")
    if data["config_hash"] != results.config_hash(cfg.run_config(run, seed)):
        raise WeightsError(f"the recorded run {what} was made with another configuration than the "
                           f"current one, so its weights are not this run's; train it again with: {train}")
    entry = data.get("weights")
    path = weights_path(experiment, profile, run, variant)
    if entry is None:
        raise WeightsError(f"the record of {what} has no trained weights; write them from its finished "
                           f"checkpoint with: {export} (or train it again: {train} --retrain)")
    if entry["path"] != path.relative_to(results.data_dir()).as_posix():
        raise WeightsError(f"the record of {what} names weights at {entry['path']}, not {path}; write "
                           f"them again with: {export}")
    if not path.exists():
        raise WeightsError(f"the trained weights of {what} are missing ({path}); write them with: {export}")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry["sha256"]:
        # a write of the record that failed after its run's new weights were written (a full disk,
        # a kill) left the recorded run's own weights in a copy (results._write_files_and_record)
        kept = results.data_dir() / results.kept_weights_path(entry)
        with contextlib.suppress(OSError):
            if hashlib.sha256(kept_raw := kept.read_bytes()).hexdigest() == entry["sha256"]:
                raw, digest = kept_raw, entry["sha256"]
    if digest != entry["sha256"]:
        raise WeightsError(f"{path} does not match its record (sha256 {digest[:12]}, recorded "
                           f"{entry['sha256'][:12]}): changed or corrupt; write it again with: {export}")
    model, meta = read_packed(raw, where=str(path))
    stored = (meta.get("run") or {}).get("config_hash")
    if stored != data["config_hash"]:
        raise WeightsError(f"{path} holds the weights of another configuration (hash {stored}, the "
                           f"record's {data['config_hash']}); write them again with: {export}")
    return model.eval()


def trained_model(experiment: str, run: str, profile: str, *, seed: int = 0, overrides: Any = None,
                  task: Any = None) -> nn.Module:
    """The trained model of one run, for a measurement made after training (in eval mode): its shipped
    weights (:func:`load_weights`), so that a fresh clone needs no training; else its finished
    checkpoint (:func:`qornn.experiments.load_trained`; ``task`` saves building the task again), where
    that is of the recorded training. One ValueError with both reasons when neither is there.

    Only for measurements of what the model computes (outputs, losses, gradients with respect to its
    inputs or its quantized values): the weights hold the quantized model, not the latent float
    matrices that :func:`qornn.analysis.analyse_model` also reads, which come from the checkpoint."""
    from .experiments import get_config, load_trained

    try:
        return load_weights(experiment, run, profile, seed, overrides)
    except WeightsError as shipped:
        variant = get_config(experiment, profile, overrides).record_variant(seed)
        record = results.load_record(experiment, profile, missing_ok=True, variant=variant)
        try:
            return load_trained(experiment, profile, run, seed=seed, task=task, overrides=overrides,
                                record=record)
        except ValueError as checkpoint:
            raise ValueError(f"{shipped}; nor is its checkpoint here: {checkpoint}") from None
