"""The runner of the experiments registry: an experiment under a profile resolves to a plain
:class:`ExperimentConfig` (:func:`get_config`); :func:`run_experiment` trains each of its models
(resuming any interrupted run) and records the results, with each run's final model packed under
``data/weights/`` (:mod:`qornn.weights`).

The experiments themselves are plain data, one module per paper in this package (see
``qornn/experiments/__init__.py``), merged into :data:`EXPERIMENTS`.

Profiles:
- ``smoke``: seconds, for tests and CI; shows the code runs and learns, nothing more.
- ``cpu``: fits a 2-core machine in minutes to an hour; smaller than the paper, said in its note.
- ``paper``: the paper's hyperparameters (from the authors' published configs), for a GPU.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import results, weights
from ..analysis import activation_ptq, analyse_model
from ..models import build_model, implementation
from ..models.qornn import quantize_post_training
from ..overrides import apply_overrides, command_options, record_variant
from ..quantize import check_bits
from ..tasks import build_task
from ..train import TrainConfig, batches_per_epoch, check_device, check_seed, evaluate, load_checkpoint, train

__all__ = ["PROFILES", "EXPERIMENTS", "ExperimentConfig", "get_config", "run_experiment",
           "recorded_or_trained", "experiment_names", "analyse_experiment", "export_experiment",
           "load_trained"]

PROFILES = ("smoke", "cpu", "paper")

#: experiment name -> its definition (task, models, profiles): the union of the paper modules'
#: ``EXPERIMENTS``, filled by ``qornn/experiments/__init__.py``
EXPERIMENTS: dict[str, dict[str, Any]] = {}


@dataclass
class ExperimentConfig:
    """One experiment under one profile, fully resolved (what goes into the record)."""

    experiment: str
    profile: str
    task: str
    task_options: dict[str, Any]
    #: run name -> {"model": registry name, "hidden_size": n, **model options}
    models: dict[str, dict[str, Any]]
    train: dict[str, Any]
    note: str = ""
    source: str = ""
    #: the experiment's name in data/paper/<paper>.yaml (default: the same name)
    paper_experiment: str = ""
    #: per-run overrides of ``train`` (e.g. a float baseline with another learning rate)
    train_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the settings changed from the profile (:mod:`qornn.overrides`), as flat ``{dotted key: value}``
    overrides: dict[str, Any] = field(default_factory=dict)
    #: the name of the variant the overrides make ("" for the profile itself): its record is
    #: ``data/results/<experiment>/variants/<profile>/<variant>.json``
    variant: str = ""
    #: runs of the experiment this profile leaves out, run -> why (e.g. the same model as another
    #: run at this budget); they are not in ``models``
    left_out: dict[str, str] = field(default_factory=dict)

    def check_runs(self, runs: list[str]) -> None:
        """Refuse run names this configuration does not have, naming the valid ones (and why a run
        the profile leaves out is not run)."""
        unknown = [run for run in runs if run not in self.models]
        if not unknown:
            return
        why = "".join(f"; {run} is left out of the {self.profile!r} profile: {self.left_out[run]}"
                      for run in unknown if run in self.left_out)
        raise ValueError(f"unknown run(s) {unknown} for {self.experiment!r}; valid: {', '.join(self.models)}"
                         + why)

    def command(self, runs: list[str] | None = None, seed: int = 0, verb: str = "run") -> str:
        """The ``qornn run`` command that trains this configuration (these ``runs``, this ``seed``);
        with ``verb`` another command on the same selection (``export``, ``analyse``)."""
        only = f" --runs {','.join(runs)}" if runs else ""
        seeded = f" --seed {seed}" if seed else ""
        return (f"qornn {verb} {self.experiment} --profile {self.profile}"
                f"{command_options(self.overrides)}{seeded}{only}")

    def record_variant(self, seed: int = 0) -> str:
        """The variant name of the record of this configuration's runs at ``seed`` (""
        for the profile's own record): seed 0 in the variant's record, any other seed in a record
        of its own (:func:`qornn.overrides.record_variant`)."""
        return record_variant(self.overrides, seed)

    def train_config(self, run: str) -> TrainConfig:
        return TrainConfig(**{**self.train, **self.train_overrides.get(run, {})})

    def run_seed(self, run: str, seed: int) -> int:
        """The seed of one run's initialisation and batch order: its spec's "seed" (a study that
        repeats a run over seeds in one record), else the experiment's ``seed``. The data set is
        always drawn from the experiment's seed."""
        return self.models[run].get("seed", seed)

    def source_run(self, run: str) -> str | None:
        """The run whose trained weights a post-training-quantization run quantizes, or None."""
        return self.models[run].get("ptq_of")

    def run_config(self, run: str, seed: int) -> dict[str, Any]:
        """Everything that determines one run's numbers (its hash keys resume and records).

        A PTQ run trains nothing: its numbers follow from its source run's configuration."""
        common = {"experiment": self.experiment, "profile": self.profile, "task": self.task,
                  "task_options": self.task_options, "model": self.models[run]}
        source = self.source_run(run)
        if source is not None:
            return {**common, "source": self.run_config(source, seed), "seed": seed}
        return {**common, "train": asdict(self.train_config(run)), "seed": seed}

    def check(self) -> None:
        """Validate every run's training config and every PTQ run's source and bits."""
        for run, spec in self.models.items():
            source = spec.get("ptq_of")
            if source is None:
                self.train_config(run)
                continue
            if source not in self.models or self.models[source].get("ptq_of") is not None:
                raise ValueError(f"run {run!r}: ptq_of={source!r} must name a trained run of "
                                 f"{self.experiment!r}: {', '.join(r for r in self.models if r != run)}")
            check_bits(spec.get("bits"), f"run {run!r} PTQ bits")



def experiment_names() -> list[str]:
    return sorted(EXPERIMENTS)


def get_config(experiment: str, profile: str, overrides: Any = None) -> ExperimentConfig:
    """Resolve ``experiment`` under ``profile``, with ``overrides`` applied (a variant, see
    :mod:`qornn.overrides`); unknown names list the valid ones.

    A profile holds ``task_options`` and ``train``, and may hold ``task`` (a stand-in task),
    ``models`` (run -> settings that replace the experiment's), ``train_overrides`` (run -> training
    settings of its own), ``note`` and ``leave_out`` (run -> why this profile does not run it, e.g.
    it would be another run again there; :attr:`ExperimentConfig.left_out`)."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; valid: {', '.join(experiment_names())}")
    spec = EXPERIMENTS[experiment]
    if profile not in spec["profiles"]:
        raise ValueError(f"unknown profile {profile!r} for {experiment!r}; "
                         f"valid: {', '.join(p for p in PROFILES if p in spec['profiles'])}")
    prof = spec["profiles"][profile]
    models = copy.deepcopy(spec["models"])
    for run, override in prof.get("models", {}).items():
        models[run].update(override)
    left_out = dict(prof.get("leave_out", {}))
    for run in left_out:
        if run not in models:
            raise ValueError(f"profile {profile!r} of {experiment!r} leaves out an unknown run {run!r}; "
                             f"runs: {', '.join(models)}")
        del models[run]
    config = ExperimentConfig(
        experiment=experiment, profile=profile, task=prof.get("task", spec["task"]),
        task_options=dict(prof["task_options"]), models=models, train=dict(prof["train"]),
        note=prof.get("note", ""), source=spec.get("source", ""),
        paper_experiment=spec.get("paper_experiment", experiment),
        train_overrides=copy.deepcopy(prof.get("train_overrides", {})), left_out=left_out,
    )
    return apply_overrides(config, overrides)


def _checkpoint(cfg: ExperimentConfig, run: str, digest: str):
    return results.runs_dir(cfg.profile) / cfg.experiment / cfg.profile / run / f"{digest}.pt"


def _build_options(cfg: ExperimentConfig, run: str, task) -> dict[str, Any]:
    """The ``build_model`` arguments of a trained run, {"model": name, sizes, options} (what its
    packed weights store to rebuild it)."""
    options = {key: value for key, value in cfg.models[run].items() if key != "seed"}
    return {**options, "input_size": task.input_size, "output_size": task.output_size,
            "many_to_many": task.many_to_many}


def _build(cfg: ExperimentConfig, run: str, task, seed: int) -> torch.nn.Module:
    torch.manual_seed(cfg.run_seed(run, seed))
    options = _build_options(cfg, run, task)
    return build_model(options.pop("model"), **options)


def _pack_weights(cfg: ExperimentConfig, run: str, model: torch.nn.Module, task, seed: int
                  ) -> tuple[dict, dict]:
    """({path: bytes}, the record's ``weights`` entry) of one run's final ``model`` (a PTQ run: built
    as its source, :func:`qornn.export.read_packed` gives it its bits back)."""
    build = _build_options(cfg, cfg.source_run(run) or run, task)
    digest = results.config_hash(cfg.run_config(run, seed))
    path, data, entry = weights.pack_run(
        copy.deepcopy(model).cpu().eval(), build, experiment=cfg.experiment, profile=cfg.profile, run=run,
        variant=cfg.record_variant(seed), seed=seed, config_hash=digest)
    return {path: data}, entry


#: the models whose W is HadamardWeight (see :func:`analyse_experiment`'s ``activations``)
HADAMARD_MODELS = ("hadamrnn", "block-hadamrnn")


def _analysis(model: torch.nn.Module, task, *, activations: bool, progress: bool = False,
              description: str = "activation PTQ") -> dict:
    """The measurements recorded beside a run's test metrics (see :mod:`qornn.analysis`): the
    orthogonality of W, and for a QAT model with k-bit W and U, its accuracy with ka-bit activations
    (with ``progress``, a bar named ``description``)."""
    start = time.perf_counter()
    model = model.cpu().eval()
    out = analyse_model(model)
    quantized = bool(out) and getattr(model.recurrent, "bits", None) is not None \
        and model.input.bits is not None
    if activations and quantized:
        out["activation_ptq"] = activation_ptq(model, task, progress=progress, description=description)
    if out:
        out["commit"] = results.git_commit()["commit"]
        out["wall_time_s"] = round(time.perf_counter() - start, 2)
    return out


def _train_run(cfg: ExperimentConfig, run: str, task, seed: int, device: str,
               progress: bool, retrain: bool = False) -> tuple[torch.nn.Module, dict]:
    """Build and train one run, resuming from its checkpoint (instant if it finished). With
    ``retrain`` a finished checkpoint is ignored: the run starts afresh, and the old checkpoint stays
    until the first new one replaces it; an unfinished one, which only an interrupted retrain leaves
    beside a recorded run, is resumed (its segments say which code trained which steps)."""
    digest = results.config_hash(cfg.run_config(run, seed))
    model = _build(cfg, run, task, seed)
    path, train_cfg = _checkpoint(cfg, run, digest), cfg.train_config(run)
    resume = not retrain or (path.exists() and not _finished(load_checkpoint(path, run_hash=digest),
                                                             train_cfg))
    out = train(model, task, train_cfg, seed=cfg.run_seed(run, seed), device=device,
                checkpoint=path, progress=progress,
                description=f"{cfg.experiment}/{run}", run_hash=digest, resume=resume,
                label={"experiment": cfg.experiment, "profile": cfg.profile, "run": run, "seed": seed,
                       "overrides": dict(cfg.overrides)})
    return model, out


def _recorded_source(cfg: ExperimentConfig, source: str, task, seed: int, record: dict, *,
                     required: bool = False) -> tuple[torch.nn.Module, dict] | None:
    """The trained model of a post-training quantization's ``source`` from its packed weights, with
    the segments of its training, when the source is recorded with its current configuration and its
    finished checkpoint is not here (a fresh clone keeps the ``cpu`` records and weights, not their
    checkpoints): its weights are the trained model's, tensor for tensor, so the quantization is the
    same as from the checkpoint, and nothing is trained again. None otherwise (then it is trained, or
    resumed from its checkpoint).

    ``required`` (``--retrain`` of the quantization without its source): a clear error instead,
    unless the source is recorded with its current configuration and its checkpoint, if one is here,
    is finished, so that the run quantizes the recorded model and trains nothing (an unfinished
    checkpoint is a retrain of the source stopped part way: resuming it would train a model that is
    not the recorded one)."""
    done = record["runs"].get(source)
    digest = results.config_hash(cfg.run_config(source, seed))
    path = _checkpoint(cfg, source, digest)
    recorded = done is not None and done["config_hash"] == digest
    if required:
        command = cfg.command([source], seed)
        if not recorded:
            raise ValueError(f"{cfg.experiment}/{source}, which this post-training quantization quantizes, "
                             f"is not recorded with its current configuration; train it first: {command}")
        if path.exists() and not _finished(load_checkpoint(path, run_hash=digest), cfg.train_config(source)):
            raise ValueError(f"{cfg.experiment}/{source} has an unfinished checkpoint ({path}: a retrain "
                             f"stopped part way), so its recorded model is not the one there; finish it "
                             f"first: {command} --retrain")
    if not recorded or path.exists():
        return None
    try:
        model = weights.load_weights(cfg.experiment, source, profile=cfg.profile, seed=seed,
                                     overrides=cfg.overrides)
    except weights.WeightsError:
        return None
    prov = done["provenance"]
    # the record keeps its segments when there were several; one start is the provenance itself
    source_train = cfg.train_config(source)
    steps = batches_per_epoch(task.num_samples("train"), source_train.batch_size) * source_train.epochs
    segments = prov.get("segments") or [{
        **{key: prov[key] for key in ("commit", "dirty", "host", "device", "device_name", "torch")
           if key in prov}, "from_step": 0, "to_step": steps, "wall_time_s": prov["wall_time_s"]}]
    return model, {"segments": segments}


def _finished(saved: dict, train_cfg) -> bool:
    """Whether a loaded checkpoint is of a run trained to its last epoch."""
    return saved["state"]["epoch"] >= train_cfg.epochs


def run_experiment(experiment: str, profile: str, *, seed: int = 0, device: str = "cpu",
                   runs: list[str] | None = None, retrain: bool = False,
                   progress: bool = True, overrides: Any = None) -> dict:
    """Train every run of the experiment that has no up-to-date record, and record it.

    A run already recorded with the same config is skipped unless ``retrain`` (which quantizes a
    post-training quantization again from its source's recorded model, and trains the source again
    only when ``runs`` names it too). An interrupted run
    resumes from its checkpoint under ``runs/<experiment>/<profile>/<run>/``. With ``overrides``
    (:mod:`qornn.overrides`) it is a variant, recorded apart from the profile's record. Returns the
    record.
    """
    cfg = get_config(experiment, profile, overrides)
    check_seed(seed)
    check_device(device)
    runs = list(cfg.models) if runs is None else runs
    cfg.check_runs(runs)
    cfg.check()  # every config is validated before any training starts
    variant = {"variant": cfg.record_variant(seed)} if cfg.record_variant(seed) else {}
    results.check_writable(results.record_path(experiment, profile, **variant).parent,
                           results.runs_dir(profile) / experiment / profile,
                           weights.weights_folder(experiment, profile, **variant))
    results.check_record_lock(experiment, profile, **variant)
    task = build_task(cfg.task, **cfg.task_options, seed=seed)
    for run in runs:  # a bad model option fails here, not after hours of training the runs before it
        if cfg.source_run(run) is None:
            _build(cfg, run, task, seed)
    code = results.git_commit()  # the code that runs now, not the commit when the run ends
    record = results.load_record(experiment, profile, missing_ok=True, **variant) or {"runs": {}}
    trained: dict[str, tuple[torch.nn.Module, dict]] = {}  # (model, training) of this call's runs, for PTQ
    for run in runs:
        run_cfg = cfg.run_config(run, seed)
        digest = results.config_hash(run_cfg)
        done = record["runs"].get(run)
        if done is not None and done["config_hash"] == digest and not retrain:
            continue
        source = cfg.source_run(run)
        if source is None:
            if run not in trained:  # trained already when a PTQ run named before it needed it
                trained[run] = _train_run(cfg, run, task, seed, device, progress, retrain=retrain)
            model, out = trained[run]
        else:  # post-training quantization of the source run's trained model (trained if need be)
            if source not in trained:
                # --retrain quantizes again; it trains the source again only when it is asked for too
                again = retrain and source in runs
                recorded = None if again else _recorded_source(cfg, source, task, seed, record,
                                                               required=retrain)
                trained[source] = recorded or _train_run(cfg, source, task, seed, device, progress,
                                                         retrain=again)
            start = time.perf_counter()
            model = quantize_post_training(trained[source][0], cfg.models[run]["bits"])
            batch = cfg.train_config(source).eval_batch_size
            out = {"history": [], "wall_time_s": time.perf_counter() - start,
                   "test": evaluate(model, task, "test", batch, torch.device(device)),
                   # which code trained the weights this run quantizes (maybe at an earlier commit)
                   "source_training": trained[source][1].get("segments")}
        files, packed = _pack_weights(cfg, run, model, task, seed)
        results.save_run(experiment, profile, run, {
            "config": run_cfg,
            "config_hash": digest,
            "history": out["history"],
            "test": out["test"],
            "baselines": task.baselines(),
            "size_bits": model.size_bits(),
            "implementation": implementation(model),
            "analysis": _analysis(copy.deepcopy(model), task, activations=source is None, progress=progress,
                                  description=f"{experiment}/{run} activation PTQ"),
            "weights": packed,
            "provenance": results.provenance(profile=profile, seed=cfg.run_seed(run, seed), device=device,
                                             wall_time_s=out["wall_time_s"], code=code,
                                             overrides=cfg.overrides, segments=out.get("segments"),
                                             source_training=out.get("source_training")),
        }, **variant, overrides=cfg.overrides, files=files)
        record = results.load_record(experiment, profile, **variant)
    return results.load_record(experiment, profile, **variant)


def load_trained(experiment: str, profile: str, run: str, *, seed: int = 0,
                 task=None, overrides: Any = None, record: Mapping | None = None) -> torch.nn.Module:
    """The trained model of one run, rebuilt from its finished checkpoint under ``runs/`` (a PTQ
    run: its source's model, quantized). A clear error when the run was never trained here.
    ``record``: the run's record (seed and variant), for a caller that writes what it measures into
    it: a checkpoint of a training other than the recorded one (:func:`_check_same_training`) is
    then refused."""
    cfg = get_config(experiment, profile, overrides)
    cfg.check_runs([run])
    task = task if task is not None else build_task(cfg.task, **cfg.task_options, seed=seed)
    source = cfg.source_run(run)
    if source is not None:
        return quantize_post_training(load_trained(experiment, profile, source, seed=seed, task=task,
                                                   overrides=cfg.overrides, record=record),
                                      cfg.models[run]["bits"])
    digest = results.config_hash(cfg.run_config(run, seed))
    path = _checkpoint(cfg, run, digest)
    # --retrain: a run recorded with this config is skipped otherwise, and would write no checkpoint
    again = cfg.command([run], seed) + " --retrain"
    if not path.exists():
        raise ValueError(f"no checkpoint of {experiment}/{profile}/{run} (seed {seed}) at {path}; "
                         f"train it again with: {again}")
    saved = load_checkpoint(path, map_location="cpu", run_hash=digest)
    if saved["state"]["epoch"] < cfg.train_config(run).epochs:
        raise ValueError(f"the checkpoint {path} is of an unfinished run (epoch "
                         f"{saved['state']['epoch']}); train it again with: {again}")
    if record is not None and run in record["runs"]:
        _check_same_training(path, saved["state"], record["runs"][run], again)
    model = _build(cfg, run, task, seed)
    try:
        model.load_state_dict(saved["model"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit the model of {experiment}/{profile}/{run} "
                         f"({str(err).splitlines()[0][:200]}); train it again with: {again}") from None
    return model.eval()


def _check_same_training(path: Path, state: Mapping, recorded: Mapping, again: str) -> None:
    """Refuse the checkpoint at ``path`` (its training ``state``) when it is not of the training whose
    numbers the record holds (``recorded``: the run's entry): the training loss of each epoch, which
    both keep, differs. Its configuration can be the recorded one while its training is not (a
    retrain on another machine or commit whose record was not brought along), and what is measured
    on it or packed from it would then stand beside numbers of another model."""
    ours = [entry.get("train_loss") for entry in recorded.get("history", [])]
    theirs = [entry.get("train_loss") for entry in state.get("history", [])]
    if ours == theirs or all(loss is None for loss in ours):  # a record that keeps no losses: no test
        return
    both = min(len(ours), len(theirs))
    epoch = next((i for i in range(both) if ours[i] != theirs[i]), both)
    found = (f"epoch {epoch + 1}'s training loss is {theirs[epoch]!r} there, {ours[epoch]!r} in the record"
             if epoch < both else f"it has {len(theirs)} epochs of training losses, the record {len(ours)}")
    raise ValueError(f"the checkpoint {path} is not of the recorded training ({found}); what is measured "
                     "on it would stand beside another model's numbers; bring the record made with this "
                     f"checkpoint, or train the run again (which replaces its recorded numbers): {again}")


def _not_recorded(run: str, record: Mapping, variant: str = "") -> ValueError:
    """The error for ``run``, asked for but not in ``record``, naming the runs that are."""
    return ValueError(f"run {run!r} is not recorded in {record['experiment']}/{record['profile']}"
                      + (f" (variant {variant})" if variant else "")
                      + f"; recorded: {', '.join(sorted(record['runs'])) or 'none'}")


def analyse_experiment(experiment: str, profile: str, *, seed: int = 0, runs: list[str] | None = None,
                       force: bool = False, overrides: Any = None, activations: bool = False,
                       progress: bool = False) -> dict:
    """The record after :func:`analyse_runs` (the same arguments)."""
    return analyse_runs(experiment, profile, seed=seed, runs=runs, force=force, overrides=overrides,
                        activations=activations, progress=progress)[0]


def analyse_runs(experiment: str, profile: str, *, seed: int = 0, runs: list[str] | None = None,
                 force: bool = False, overrides: Any = None, activations: bool = False,
                 progress: bool = False) -> tuple[dict, list[str]]:
    """Add the :func:`_analysis` of each recorded run that lacks one (all with ``force``), from the
    trained models' checkpoints; for records made before analyses were recorded. Returns the record
    and the runs measured (none when every run asked for had its analysis).

    ``activations``: instead, measure the activation PTQ (:func:`qornn.analysis.activation_ptq`)
    again on every run that has one, and on the HadamRNN runs (whose W is integer up to the step
    1/√m, :func:`~qornn.models.qornn.integer_weights`; training does not measure them), keeping the
    other measurements; from the checkpoint, or from the packed weights where the checkpoint is gone
    (their outputs are the trained model's, bit for bit). The analysis then says which commit made
    this measurement (``activation_ptq_commit``) beside the one that made the rest (``commit``).
    ``progress``: a bar per run's activation PTQ (also when a missing analysis is added)."""
    cfg = get_config(experiment, profile, overrides)
    check_seed(seed)
    variant = {"variant": cfg.record_variant(seed)} if cfg.record_variant(seed) else {}
    record = results.load_record(experiment, profile, **variant)
    results.check_writable(results.record_path(experiment, profile, **variant).parent)
    results.check_record_lock(experiment, profile, **variant)
    task = build_task(cfg.task, **cfg.task_options, seed=seed)
    measured_runs = []
    for run in runs or sorted(record["runs"]):
        data = record["runs"].get(run)
        if data is None:
            raise _not_recorded(run, record, cfg.record_variant(seed))
        found = data.get("analysis") or {}
        if activations:
            hadamard = data["config"]["model"].get("model") in HADAMARD_MODELS and cfg.source_run(run) is None
            if "activation_ptq" not in found and not hadamard:
                continue
            _check_current(cfg, run, data, seed, "analysing")
            model = _trained_or_packed(cfg, run, task, seed, record)
            start = time.perf_counter()
            measured = activation_ptq(model.cpu().eval(), task, progress=progress,
                                      description=f"{experiment}/{run} activation PTQ")
            again = {**found, "activation_ptq": measured,
                     "activation_ptq_commit": results.git_commit()["commit"],
                     "activation_ptq_wall_time_s": round(time.perf_counter() - start, 2)}
            results.update_run(experiment, profile, run, {"analysis": again}, **variant)
            measured_runs.append(run)
            continue
        if "analysis" in data and not force:
            continue
        _check_current(cfg, run, data, seed, "analysing")
        model = load_trained(experiment, profile, run, seed=seed, task=task, overrides=cfg.overrides,
                             record=record)
        results.update_run(experiment, profile, run, {
            "analysis": _analysis(model, task, activations=cfg.source_run(run) is None, progress=progress,
                                  description=f"{experiment}/{run} activation PTQ")}, **variant)
        measured_runs.append(run)
    return results.load_record(experiment, profile, **variant), measured_runs


def _trained_or_packed(cfg: ExperimentConfig, run: str, task, seed: int, record: Mapping) -> torch.nn.Module:
    """The trained model of a run of ``record``: from its checkpoint where that is of the recorded
    training, else from its packed weights (which the record names by their sha256)."""
    try:
        return load_trained(cfg.experiment, cfg.profile, run, seed=seed, task=task, overrides=cfg.overrides,
                            record=record)
    except ValueError as missing:
        try:
            return weights.load_weights(cfg.experiment, run, profile=cfg.profile, seed=seed,
                                        overrides=cfg.overrides)
        except weights.WeightsError as err:
            raise ValueError(f"{missing}; nor do its packed weights load: {err}") from None


def _check_current(cfg: ExperimentConfig, run: str, data: dict, seed: int, doing: str) -> None:
    """Refuse a recorded run whose configuration is not the current one: its checkpoint (of the
    current configuration) would be another model than the one its numbers were measured on."""
    if data["config_hash"] != results.config_hash(cfg.run_config(run, seed)):
        raise ValueError(f"{cfg.experiment}/{cfg.profile}/{run}: the record's config is not the current "
                         f"one; rerun it rather than {doing} another model: {cfg.command([run], seed)}")


def export_experiment(experiment: str, profile: str, *, seed: int = 0, runs: list[str] | None = None,
                      overrides: Any = None) -> dict[str, dict]:
    """Write the packed weights (:mod:`qornn.weights`) of recorded runs (all with ``runs`` None)
    from their finished checkpoints, and their ``weights`` entries into the record: for runs recorded
    before weights were written, and for the ``paper`` runs, whose checkpoints are committed. No
    training: a run without a finished checkpoint here is an error that says how to train it.
    Returns {run: its ``weights`` entry}."""
    cfg = get_config(experiment, profile, overrides)
    check_seed(seed)
    variant = cfg.record_variant(seed)
    record = results.load_record(experiment, profile, variant=variant)
    selected = sorted(record["runs"]) if runs is None else runs
    for run in selected:  # every run checked before any is loaded
        if run not in record["runs"]:
            raise _not_recorded(run, record, variant)
        if run not in cfg.models:
            raise ValueError(f"run {run!r} of the record is no longer defined for {experiment!r}; "
                             f"valid: {', '.join(cfg.models)}")
        _check_current(cfg, run, record["runs"][run], seed, "exporting")
    results.check_writable(weights.weights_dir())
    results.check_record_lock(experiment, profile, variant=variant)
    task = build_task(cfg.task, **cfg.task_options, seed=seed)
    # every checkpoint loaded, and checked against the record, before any run's weights are written
    models = {run: load_trained(experiment, profile, run, seed=seed, task=task, overrides=cfg.overrides,
                                record=record) for run in selected}
    written = {}
    for run, model in models.items():
        files, written[run] = _pack_weights(cfg, run, model, task, seed)
        results.update_run(experiment, profile, run, {"weights": written[run]}, variant=variant, files=files)
    return written


def recorded_or_trained(experiment: str, profile: str, *, seed: int = 0, device: str = "cpu",
                        retrain: bool = False, overrides: Any = None) -> tuple[dict, bool]:
    """What a notebook shows: the committed record of ``experiment``/``profile`` (of the variant
    that ``overrides`` make, if any), or with ``retrain`` the record after training it here
    (without progress bars). It never trains a missing record on its own: the book's build must
    not start hours of training. A missing record raises :class:`~qornn.results.RecordMissing`,
    whose message gives the command that records it.

    Returns ``(record, trained)``, ``trained`` saying whether this call trained."""
    cfg = get_config(experiment, profile, overrides)
    if not retrain:
        variant = {"variant": cfg.record_variant(seed)} if cfg.record_variant(seed) else {}
        record = results.load_record(experiment, profile, missing_ok=True, **variant)
        if record is not None:
            return record, False
        raise results.RecordMissing(
            f"{experiment}/{profile}" + (f" (variant {cfg.record_variant(seed)})"
                                         if cfg.record_variant(seed) else ""),
            f"{cfg.command(seed=seed)}, or run the page with retrain = True (papermill: -p retrain True)")
    return run_experiment(experiment, profile, seed=seed, device=device, retrain=retrain,
                          progress=False, overrides=cfg.overrides), True
