"""Side by side with the HadamRNN authors' own code (deel-ai-papers/hadamRNN, MIT licence).

The authors' network, their ``BinadamSSM`` with ``single_layer=True``, ``qoutput=True``,
``basic_block="full"`` and ReLU (their pMNIST config; ``basic_block`` = log2 m for blocks of m),
computes

    h_t = diag(sign v) · H/√n · h_{t-1} + b + q_k(A) x_t,     y = q_k(C) · ReLU(h_T) + c

and qornn's ``hadamrnn`` the same function, with other names (:data:`PEER_PARAMETERS`): qornn's
latent signs ``u`` are their ``sign_vector`` v, and qornn keeps b with the input projection where
they keep it with the recurrent layer (Block-HadamRNN: H_m blocks, (I ⊗ H_m)/√m in place of H/√n).
The check has three parts:

- :func:`compare_gradients`: the same weights in both, the same batch: the relative difference
  ‖a − b‖/‖b‖ of the outputs and of the gradient of every parameter;
- :func:`train_side_by_side`: both trained from the same weights on the same batches, each with its
  own Adam, recording per step the loss, the batch accuracy, the sign flips and the mean |u|, and
  every ``eval_every`` steps the accuracy on the first test images;
- :func:`check_trained_copy_models`: the copy-task HadamRNNs and Block-HadamRNNs trained at the
  paper's budget, each loaded into the authors' network, which evaluates the run's test set: the
  same test loss and recall say that a seed fails or solves the task in their code as in ours.

The authors' code is never copied into qornn: :func:`load_peer` imports it from a checkout the user
cloned (it needs the ``peer`` extra: deel-torchlip, torchmetrics, pyyaml). The comparison functions
take any two modules and a name map, so they are tested without it.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import torch
from torch import nn
from tqdm.auto import tqdm

from .report import PEER_CHECK_RECORD
from .train import flush_denormals

__all__ = ["PEER_PARAMETERS", "PeerUnavailable", "default_peer_path", "load_peer", "peer_source",
           "build_peer_model", "copy_parameters", "relative_difference", "compare_gradients",
           "sign_flips", "train_side_by_side", "PEER_PROFILES", "peer_check_runs", "run_peer_check",
           "check_trained_copy_models"]

#: qornn HadamRNN parameter -> the same parameter in the authors' BinadamSSM (shapes may differ by
#: a leading 1: their sign vector is 1×n)
PEER_PARAMETERS: dict[str, str] = {
    "recurrent.u": "recurrent_layer.sign_vector",
    "input.weight": "input_layer.parametrizations.weight.original",
    "input.bias": "recurrent_layer.bias",
    "readout.weight": "output_layer.parametrizations.weight.original",
    "readout.bias": "output_layer.bias",
}

#: where a checkout of the authors' code is looked for, in this order (QORNN_PEER_HADAMRNN first)
_CANDIDATES = ("/work/shared/peers/hadamRNN", str(Path(__file__).resolve().parents[2] / "shared" / "peers"
                                                  / "hadamRNN"))


class PeerUnavailable(RuntimeError):
    """The authors' code, or a package it needs, is not here."""


def default_peer_path() -> Path:
    """QORNN_PEER_HADAMRNN, else the first of /work/shared/peers/hadamRNN and ../shared/peers/hadamRNN
    (beside the checkout) that exists, else the first candidate (for the error message)."""
    env = os.environ.get("QORNN_PEER_HADAMRNN")
    if env:
        return Path(env)
    for candidate in _CANDIDATES:
        if Path(candidate).is_dir():
            return Path(candidate)
    return Path(_CANDIDATES[0])


def load_peer(path: str | Path | None = None) -> ModuleType:
    """The authors' ``models`` module, imported from the checkout at ``path`` (its ``src/``)."""
    root = Path(path) if path is not None else default_peer_path()
    src = root / "src"
    if not (src / "models.py").is_file() or not (src / "quantized_layers.py").is_file():
        raise PeerUnavailable(f"no checkout of the HadamRNN authors' code at {root} (looked for "
                              f"{src}/models.py); clone github.com/deel-ai-papers/hadamRNN there or "
                              "pass its path")
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module("models")
    except ImportError as err:
        raise PeerUnavailable(f"the authors' code at {root} needs {err.name!r}: install the peer extra "
                              "(pip install -e '.[peer]')") from None


def peer_source(path: str | Path | None = None) -> dict[str, str | None]:
    """Which version of the authors' code: the repository and commit named in its SOURCE file (the
    copy kept in shared/), else ``git rev-parse HEAD`` of the checkout."""
    root = Path(path) if path is not None else default_peer_path()
    source = root / "SOURCE"
    if source.is_file():
        head = source.read_text().split()
        if len(head) >= 3 and head[1] == "@":
            return {"repository": head[0], "commit": head[2], "path": str(root)}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"repository": None, "commit": commit, "path": str(root)}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # their quantizer calls float() on a tensor that requires grad, which warns at every step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def build_peer_model(peer: ModuleType, hidden_size: int, *, input_size: int = 1, output_size: int = 10,
                     bits: int = 4, learn_signs: bool = True, seed: int | None = None,
                     many_to_many: bool = False, block: int | None = None) -> nn.Module:
    """The authors' HadamRNN (their pMNIST and copy-task configs: BinadamSSM, single layer, full
    Hadamard, ReLU, k-bit input and output matrices, both biases; ``many_to_many`` for the copy task,
    an output at every step; ``block`` m: Block-HadamRNN, Hadamard blocks of size m, their
    ``basic_block`` log2 m), initialised by their code (``seed`` as in their configs);
    ``learn_signs=False`` freezes their sign vector."""
    if seed is not None:
        torch.manual_seed(seed)
    basic_block = "full" if block is None else int(math.log2(block))
    with _quiet():
        model = peer.BinadamSSM(input_size, hidden_size, output_size, activation=nn.ReLU(), num_bits=bits,
                                basic_block=basic_block, single_layer=True, qoutput=True,
                                manytomany=many_to_many)
    model.recurrent_layer.sign_vector.requires_grad_(learn_signs)
    return model


def _parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    return dict(model.named_parameters())


def copy_parameters(source: nn.Module, target: nn.Module, names: dict[str, str]) -> None:
    """Copy every ``source`` parameter named by a key of ``names`` into the ``target`` parameter named
    by its value (reshaped: the same number of entries is required)."""
    src, dst = _parameters(source), _parameters(target)
    with torch.no_grad():
        for a, b in names.items():
            if a not in src or b not in dst:
                raise KeyError(f"no parameter {a if a not in src else b!r} in the "
                               f"{'source' if a not in src else 'target'} model")
            if src[a].numel() != dst[b].numel():
                raise ValueError(f"{a} has {src[a].numel()} entries, {b} has {dst[b].numel()}")
            dst[b].copy_(src[a].reshape(dst[b].shape))


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ / ‖b‖ (Frobenius), with ‖b‖ = 0 read as 1 (then it is ‖a‖)."""
    a, b = a.detach().double().reshape(-1), b.detach().double().reshape(-1)
    scale = float(b.norm())
    return float((a - b).norm()) / (scale if scale > 0 else 1.0)


def compare_gradients(model: nn.Module, reference: nn.Module, names: dict[str, str], x: torch.Tensor,
                      y: torch.Tensor, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                      ) -> dict[str, float]:
    """One forward and backward pass of both on (x, y): the relative difference of the outputs
    ("output"), of the losses ("loss") and of the gradient of each parameter of ``names`` (qornn
    name -> reference name); a parameter that gets no gradient in one model counts as zero."""
    out = {}
    losses, outputs = [], []
    for m in (model, reference):
        m.zero_grad(set_to_none=True)
        with _quiet():
            logits = m(x)
        loss = loss_fn(logits, y)
        loss.backward()
        losses.append(loss)
        outputs.append(logits)
    out["output"] = relative_difference(outputs[0], outputs[1])
    out["loss"] = relative_difference(losses[0], losses[1])
    mine, theirs = _parameters(model), _parameters(reference)
    for a, b in names.items():
        ga = mine[a].grad if mine[a].grad is not None else torch.zeros_like(mine[a])
        gb = theirs[b].grad if theirs[b].grad is not None else torch.zeros_like(theirs[b])
        out[a] = relative_difference(ga.reshape(-1), gb.reshape(-1))
    return out


def sign_flips(before: torch.Tensor, after: torch.Tensor) -> int:
    """How many entries changed sign (sign(0) = +1)."""
    return int(((before >= 0) != (after >= 0)).sum())


@torch.no_grad()
def _accuracy(model: nn.Module, task, n: int, batch: int) -> dict[str, float]:
    was = model.training
    model.eval()
    correct, loss_sum = 0.0, 0.0
    for start in range(0, n, batch):
        x, y = task.batch("test", torch.arange(start, min(start + batch, n)))
        with _quiet():
            logits = model(x)
        correct += float((logits.argmax(-1) == y).sum())
        loss_sum += float(task.loss(logits, y)) * len(y)
    model.train(was)
    return {"accuracy": correct / n, "loss": loss_sum / n}


def train_side_by_side(models: dict[str, nn.Module], sign_vectors: dict[str, torch.Tensor], task, *,
                       steps: int, batch_size: int = 100, lr: float = 1e-3, seed: int = 0,
                       eval_every: int = 100, eval_size: int = 2000, eval_batch: int = 500,
                       constraints: dict[str, Callable[[], None]] | None = None,
                       progress: bool = True, description: str = "") -> dict:
    """Train every model of ``models`` (name -> module; e.g. "qornn" and "authors") on the same
    batches: batch k is the k-th slice of a permutation of the training set drawn from ``seed``
    (a new permutation each pass), each model with its own Adam(lr). ``sign_vectors[name]`` is that
    model's latent sign parameter (flips and mean |u| are read from it); ``constraints[name]``, if
    given, runs after that model's optimiser step (qornn's clamp of u to [-1, 1]).

    Returns {"steps": [...], "eval_steps": [...], name: {"loss", "batch_accuracy", "flips",
    "mean_abs_u": per step; "test_accuracy", "test_loss": per evaluation; "wall_time_s"}}.
    Evaluations are at step 0, every ``eval_every`` steps and at the end, on the first
    ``eval_size`` test samples.
    """
    constraints = constraints or {}
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=lr) for name, m in models.items()}
    n = task.num_samples("train")
    per_epoch = n // batch_size
    curves: dict = {name: {"loss": [], "batch_accuracy": [], "flips": [], "mean_abs_u": [],
                           "test_accuracy": [], "test_loss": [], "wall_time_s": 0.0} for name in models}
    eval_steps = sorted({0, steps, *range(eval_every, steps, eval_every)})

    def evaluate(step: int) -> None:
        if step not in eval_steps:
            return
        for name, m in models.items():
            start = time.perf_counter()
            metrics = _accuracy(m, task, min(eval_size, task.num_samples("test")), eval_batch)
            curves[name]["test_accuracy"].append(metrics["accuracy"])
            curves[name]["test_loss"].append(metrics["loss"])
            curves[name]["wall_time_s"] += time.perf_counter() - start

    with flush_denormals():
        evaluate(0)
        order = None
        for step in tqdm(range(steps), disable=not progress, desc=description or "side by side"):
            epoch, k = divmod(step, per_epoch)
            if k == 0:
                order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
            x, y = task.batch("train", order[k * batch_size:(k + 1) * batch_size])
            for name, m in models.items():
                start = time.perf_counter()
                before = sign_vectors[name].detach().clone()
                with _quiet():
                    logits = m(x)
                loss = task.loss(logits, y)
                optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[name].step()
                if name in constraints:
                    constraints[name]()
                after = sign_vectors[name].detach()
                c = curves[name]
                c["wall_time_s"] += time.perf_counter() - start
                c["loss"].append(loss.item())
                c["batch_accuracy"].append(float((logits.argmax(-1) == y).float().mean()))
                c["flips"].append(sign_flips(before, after))
                c["mean_abs_u"].append(float(after.abs().mean()))
            evaluate(step + 1)
    for c in curves.values():
        c["wall_time_s"] = round(c["wall_time_s"], 2)
        if not all(math.isfinite(v) for v in c["loss"]):
            c["diverged"] = True
    return {"steps": list(range(1, steps + 1)), "eval_steps": eval_steps, **curves}


#: the peer check's budgets. ``cpu``: measured first on this 2-core machine (one thread, with other
#: jobs running): an Adam step of the authors' code takes about 0.4 s at n = 128 and 3.7 s at n = 512
#: (dense products), qornn's 0.25 s and 0.3 s, and an evaluation of both on 2,000 test images about
#: 30 s at n = 512, so n = 512 gets 60 steps and two evaluations, to keep the record under 40 minutes.
PEER_CHECK_EXPERIMENT = PEER_CHECK_RECORD[0]
#: ``blocks`` {n: m}: at hidden size n, also a Block-HadamRNN with Hadamard blocks of size m (the
#: authors' ``basic_block`` log2 m), same steps: blocks of 16 at n = 128 make W 7/8 zeros, as the
#: pMNIST Block-HadamRNN's blocks of 64 at n = 512 do.
PEER_PROFILES: dict[str, dict] = {
    "cpu": {"task_options": {}, "steps": {128: 600, 512: 60}, "eval_every": {128: 150, 512: 60},
            "blocks": {128: 16}, "eval_size": 2000, "batch_size": 100, "lr": 1e-3, "bits": 4},
    "smoke": {"task_options": {"train_size": 256, "val_size": 64, "test_size": 64}, "steps": {16: 3},
              "eval_every": {16: 2}, "blocks": {16: 4}, "eval_size": 64, "batch_size": 32, "lr": 1e-3,
              "bits": 4},
}


def run_name(hidden_size: int, learn_signs: bool, block: int | None = None) -> str:
    """``n128-learned-signs`` (full Hadamard), ``n128-m16-frozen-signs`` (blocks of 16)."""
    blocks = "" if block is None else f"m{block}-"
    return f"n{hidden_size}-{blocks}{'learned' if learn_signs else 'frozen'}-signs"


def peer_check_runs(profile: str, sizes: list[int] | None = None) -> list[tuple[int, int | None, bool]]:
    """The side-by-side runs of ``profile`` as (hidden size, block or None, learned signs), in order."""
    spec = PEER_PROFILES[profile]
    sizes = list(spec["steps"]) if sizes is None else sizes
    return [(n, block, learn) for n in sizes for block in (None, *([spec["blocks"][n]] if n in
            spec.get("blocks", {}) else [])) for learn in (True, False)]


def _current(run: dict | None, digest: str) -> bool:
    """Whether ``run`` is recorded with the configuration ``digest`` by code that has not changed
    since (:func:`qornn.results.code_changed_since`): then it is not made again."""
    from . import results

    return run is not None and run.get("config_hash") == digest and results.code_changed_since(run) is None


def run_peer_check(profile: str = "cpu", *, peer_path: str | Path | None = None, seed: int = 8,
                   sizes: list[int] | None = None, progress: bool = True) -> dict:
    """Both parts of the check for every hidden size of ``profile`` (and its Block-HadamRNN where
    the profile gives a block size: :func:`peer_check_runs`) and learned and frozen signs,
    each run recorded in data/results/hadamrnn-peer-check/<profile>.json as it ends (a run already
    recorded with the same configuration by unchanged code is skipped). Both models start from the
    authors' own initialisation (their code, ``seed``; 8 is their pMNIST config's), copied into
    qornn's model."""
    from . import results
    from .models import build_model
    from .tasks import build_task

    if profile not in PEER_PROFILES:
        raise ValueError(f"unknown peer-check profile {profile!r}; valid: {', '.join(PEER_PROFILES)}")
    spec = PEER_PROFILES[profile]
    sizes = list(spec["steps"]) if sizes is None else sizes
    unknown = [n for n in sizes if n not in spec["steps"]]
    if unknown:
        raise ValueError(f"hidden sizes {unknown} are not in the {profile!r} peer check: "
                         f"{', '.join(map(str, spec['steps']))}")
    peer = load_peer(peer_path)
    source = peer_source(peer_path)
    code = results.git_commit()
    task = build_task("pmnist", **spec["task_options"])
    x, y = task.batch("train", torch.arange(min(100, task.num_samples("train"))))
    for n, block, learn in peer_check_runs(profile, sizes):
        config = {"experiment": PEER_CHECK_EXPERIMENT, "profile": profile, "task": "pmnist",
                  "task_options": spec["task_options"], "hidden_size": n, "bits": spec["bits"],
                  "learn_signs": learn, "steps": spec["steps"][n], "batch_size": spec["batch_size"],
                  "lr": spec["lr"], "optimizer": "adam", "seed": seed,
                  "eval_every": spec["eval_every"][n], "eval_size": spec["eval_size"],
                  "start": "the authors' initialisation", "peer": source,
                  **({"block": block} if block is not None else {})}
        digest = results.config_hash(config)
        record = results.load_record(PEER_CHECK_EXPERIMENT, profile, missing_ok=True) or {"runs": {}}
        name = run_name(n, learn, block)
        if _current(record["runs"].get(name), digest):
            continue
        start = time.perf_counter()
        theirs = build_peer_model(peer, n, bits=spec["bits"], learn_signs=learn, seed=seed, block=block)
        ours = build_model("hadamrnn" if block is None else "block-hadamrnn", input_size=1, output_size=10,
                           hidden_size=n, bits=spec["bits"], learn_signs=learn,
                           **({} if block is None else {"block": block}))
        inverse = {b: a for a, b in PEER_PARAMETERS.items()}
        copy_parameters(theirs, ours, inverse)
        gradients = {}
        for path in ("fast", "dense"):
            ours.recurrent.fast = path == "fast"
            gradients[path] = compare_gradients(ours, theirs, PEER_PARAMETERS, x, y, task.loss)
        ours.recurrent.fast = True
        curves = train_side_by_side(
            {"qornn": ours, "authors": theirs},
            {"qornn": ours.recurrent.u, "authors": theirs.recurrent_layer.sign_vector}, task,
            steps=spec["steps"][n], batch_size=spec["batch_size"], lr=spec["lr"], seed=seed,
            eval_every=spec["eval_every"][n], eval_size=spec["eval_size"],
            constraints={"qornn": ours.apply_constraints_}, progress=progress, description=name)
        wall = time.perf_counter() - start
        results.save_run(PEER_CHECK_EXPERIMENT, profile, name, {
            "config": config, "config_hash": digest, "history": [],
            "test": {"accuracy": curves["qornn"]["test_accuracy"][-1],
                     "authors_accuracy": curves["authors"]["test_accuracy"][-1]},
            "size_bits": ours.size_bits(), "gradient_check": gradients, "curves": curves,
            "provenance": results.provenance(profile=profile, seed=seed, device="cpu",
                                             wall_time_s=wall, code=code)})
    return results.load_record(PEER_CHECK_EXPERIMENT, profile)


@torch.no_grad()
def check_trained_copy_models(profile: str = "cpu", *, peer_path: str | Path | None = None,
                              runs: tuple[str, ...] = ("hadamrnn", "block-hadamrnn"),
                              source_profile: str = "paper",
                              batch_size: int = 250) -> dict:
    """Every seed of the copy-task ``runs`` recorded at ``source_profile`` whose finished checkpoint
    is here (its latent parameters: :func:`qornn.experiments.load_trained`), evaluated on the run's
    test set by qornn and, with the same parameters, by the authors' BinadamSSM (their copy config,
    one-hot inputs), each recorded as :func:`qornn.report.copy_check_name` in the peer check's
    ``profile`` record:
    both test losses and recalls and their relative difference. A check already recorded for the
    same source record (its configuration hash) by unchanged code is skipped; a seed without a
    checkpoint is left out."""
    from . import results
    from .experiments import load_trained
    from .report import copy_check_name, seed_records
    from .tasks import build_task

    peer = load_peer(peer_path)
    source = peer_source(peer_path)
    code = results.git_commit()
    for seed, record in seed_records("copy", source_profile).items():
        for run in runs:
            data = record["runs"].get(run)
            if data is None:
                continue
            config = {"experiment": PEER_CHECK_EXPERIMENT, "profile": profile, "check": "trained copy model",
                      "source": {"experiment": "copy", "profile": source_profile, "run": run, "seed": seed,
                                 "config_hash": data["config_hash"]}, "peer": source}
            digest = results.config_hash(config)
            name = copy_check_name(run, seed, source_profile)
            done = results.load_record(PEER_CHECK_EXPERIMENT, profile, missing_ok=True) or {"runs": {}}
            if _current(done["runs"].get(name), digest):
                continue
            start = time.perf_counter()
            options = data["config"]["task_options"]
            task = build_task(data["config"]["task"], **options, seed=seed)
            try:
                ours = load_trained("copy", source_profile, run, seed=seed, task=task).eval()
            except ValueError:
                continue  # no finished checkpoint here: nothing to load into their network
            model = data["config"]["model"]
            theirs = build_peer_model(peer, model["hidden_size"], input_size=task.input_size,
                                      output_size=task.output_size, bits=model["bits"], many_to_many=True,
                                      block=model.get("block"))
            copy_parameters(ours, theirs, PEER_PARAMETERS)
            theirs.eval()
            # the task's own loss (the authors' too: mean cross-entropy over every batch × time
            # position) and recall, per batch, weighted by its size
            n = task.num_samples("test")
            sums = {"ours": {}, "authors": {}}
            for first in range(0, n, batch_size):
                x, y = task.batch("test", torch.arange(first, min(first + batch_size, n)))
                one_hot = nn.functional.one_hot(x, task.input_size).float()  # their inputs
                with _quiet():
                    outputs = {"ours": ours(x), "authors": theirs(one_hot)}
                for who, logits in outputs.items():
                    for key, value in task.metrics(logits, y).items():
                        sums[who][key] = sums[who].get(key, 0.0) + value * len(y) / n
            test = {**sums["ours"], **{f"authors_{key}": value for key, value in sums["authors"].items()}}
            test["loss_relative_difference"] = abs(test["loss"] - test["authors_loss"]) / test["authors_loss"]
            results.save_run(PEER_CHECK_EXPERIMENT, profile, name, {
                "config": config, "config_hash": digest, "history": [], "test": test,
                "size_bits": ours.size_bits(),
                "provenance": results.provenance(profile=profile, seed=seed, device="cpu",
                                                 wall_time_s=time.perf_counter() - start, code=code)})
    return results.load_record(PEER_CHECK_EXPERIMENT, profile, missing_ok=True) or {"runs": {}}

