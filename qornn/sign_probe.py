"""Does the straight-through gradient predict what a sign flip does to the loss?

For HadamRNN's W = diag(s)·H/√n, flipping one sign s_i ↦ −s_i moves s by −2 s_i e_i, so to first
order the loss changes by

    Δ̂_i = −2 s_i g_i,      g = ∂L/∂s (the straight-through gradient),

and with the rescaling component of g removed (g⊥ = g − (⟨g, s⟩/n) s, :mod:`qornn.signs`) by
Δ̂⊥_i = −2 s_i g⊥_i = Δ̂_i + 2⟨g, s⟩/n: the two predictions differ by the same constant for every i.
:func:`flip_predictions` measures both against the true change ΔL_i = L(s with s_i flipped) − L(s)
on one batch, for single flips drawn at random. A flip changes every power W^k that the last state
depends on, so nothing guarantees that the first-order term dominates.

:func:`run_flip_probe` records the measurement for the sign study's tasks, on the seed-0 model at its
initialisation and after training with the released method and with frozen signs (from their shipped
weights, else their checkpoints, :func:`qornn.weights.trained_model`), in
``data/results/hadamrnn-signs-probe/<profile>.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from .quantize import binary_sign
from .signs import project_out_signs

__all__ = ["flip_predictions", "run_flip_probe", "PROBE_EXPERIMENT"]

PROBE_EXPERIMENT = "hadamrnn-signs-probe"
#: the sign study whose models are probed, per task
_STUDIES = {"pmnist": "hadamrnn-signs-pmnist", "smnist": "hadamrnn-signs-smnist",
            "copy": "hadamrnn-signs-copy"}


def _agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a > 0) == (b > 0)).double().mean())


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float | None:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    scale = float(a.norm() * b.norm())
    return float(a @ b) / scale if scale > 0 else None


def flip_predictions(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, count: int,
                     generator: torch.Generator) -> dict:
    """Predicted and true loss changes of ``count`` single flips of ``model.recurrent``'s signs
    (drawn without replacement) on the batch (x, y); the model's weights are left as they were.

    Returns {"index", "true", "ste", "projected": lists; "agreement_ste", "agreement_projected":
    fractions of flips whose predicted change has the sign of the true one; "correlation_ste",
    "correlation_projected"; "loss", "rescaling" = ⟨g, s⟩/n}.
    """
    weight = model.recurrent
    was_training, rule = model.training, getattr(weight, "sign_rule", None)
    requires = weight.u.requires_grad
    model.eval()
    weight.sign_rule = None  # the plain straight-through gradient, whatever rule trained the model
    try:
        weight.u.requires_grad_(True)
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        g = weight.u.grad.detach().clone()
        model.zero_grad(set_to_none=True)
        s = binary_sign(weight.u.detach())
        index = torch.randperm(s.numel(), generator=generator)[:count]
        true = []
        with torch.no_grad():
            for i in index.tolist():
                old = weight.u[i].item()
                weight.u[i] = -s[i] * max(abs(old), 1e-3)
                true.append(float(loss_fn(model(x), y)) - float(loss))
                weight.u[i] = old
    finally:
        weight.u.requires_grad_(requires)
        weight.sign_rule = rule
        model.train(was_training)
    true_t = torch.tensor(true)
    ste = -2 * s[index] * g[index]
    projected = -2 * s[index] * project_out_signs(g, s)[index]
    return {"index": index.tolist(), "true": true, "ste": ste.tolist(), "projected": projected.tolist(),
            "agreement_ste": _agreement(ste, true_t), "agreement_projected": _agreement(projected, true_t),
            "correlation_ste": _correlation(ste, true_t),
            "correlation_projected": _correlation(projected, true_t),
            "loss": float(loss.detach()), "rescaling": float(g @ s) / s.numel()}


def run_flip_probe(profile: str = "cpu", *, count: int = 48, seed: int = 0) -> dict:
    """The probe on each task of the sign study under ``profile``: the seed-0 model at its start,
    and the trained ``released-seed0`` and ``frozen-seed0`` models where their shipped weights or
    finished checkpoints are here (:func:`qornn.weights.trained_model`: the same outputs and
    straight-through gradients either way; others are left out and the record says which). One
    record run per (task, state)."""
    from . import results
    from .experiments import get_config
    from .experiments.runner import _build
    from .tasks import build_task
    from .weights import trained_model

    code = results.git_commit()
    for task_name, experiment in _STUDIES.items():
        config = get_config(experiment, profile)
        task = build_task(config.task, **config.task_options, seed=seed)
        batch = config.train_config("released-seed0").batch_size
        x, y = task.batch("train", torch.arange(min(batch, task.num_samples("train"))))
        states = {"start": lambda config=config, task=task: _build(config, "released-seed0", task, seed)}
        for run in ("released-seed0", "frozen-seed0"):
            states[f"after {run}"] = (lambda run=run, experiment=experiment, task=task:
                                      trained_model(experiment, run, profile, seed=seed, task=task))
        for state, make in states.items():
            start = time.perf_counter()
            try:
                model = make()
            except ValueError as err:  # neither weights nor a finished checkpoint of that run here
                print(f"flip probe: {task_name} {state} left out: {err}")
                continue
            out = flip_predictions(model, x, y, task.loss, count=count,
                                   generator=torch.Generator().manual_seed(seed))
            name = f"{task_name}-{state.replace(' ', '-')}"
            spec = {"experiment": PROBE_EXPERIMENT, "profile": profile, "study": experiment,
                    "state": state, "model": config.models["released-seed0" if state == "start"
                                                            else state.removeprefix("after ")],
                    "count": count, "batch": len(y), "seed": seed}
            results.save_run(PROBE_EXPERIMENT, profile, name, {
                "config": spec, "config_hash": results.config_hash(spec), "history": [],
                "test": {k: out[k] for k in ("agreement_ste", "agreement_projected")},
                "size_bits": model.size_bits(), "probe": out,
                "provenance": results.provenance(profile=profile, seed=seed, device="cpu",
                                                 wall_time_s=time.perf_counter() - start, code=code)})
    return results.load_record(PROBE_EXPERIMENT, profile)
