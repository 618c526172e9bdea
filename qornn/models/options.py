"""Every model's options, with their defaults and meanings, in one place.

The options and defaults are read from the builders' signatures (:data:`qornn.models.MODELS`),
following ``**options`` into the class a builder forwards them to, so they cannot drift from the
code; the meaning of each option is :data:`OPTION_DOCS` (a test checks that every option has one).
``qornn list --models`` prints them, and experiment overrides (``--set``) are checked against them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from . import MODELS, build_model, model_names

__all__ = ["OPTION_DOCS", "Option", "COMMON_OPTIONS", "model_options", "describe_models"]

#: option -> what it means (for every model that takes it)
OPTION_DOCS: dict[str, str] = {
    "hidden_size": "n, the width of the hidden state",
    "bits": "k, bits of the quantized matrices (HadamRNN: U and V; QORNN: W and U; gated baselines: "
            "every matrix); None = float",
    "block": "m, Block-HadamRNN's block size: W = diag(sign u)(I ⊗ H_m)/√m, a power of 2 dividing n",
    "nonlinearity": "the recurrence: 'linear' (h = W h + U x + b), 'relu', 'tanh' or 'modrelu' "
                    "(sign(z)·ReLU(|z| + m), a learned m per unit: the QORNN authors' QRNN) around it",
    "recurrent_bias": "ORNN/QORNN: the recurrence has a bias b in W h + U x + b (False: none, as in "
                      "the QORNN authors' QRNN, whose modReLU has its own)",
    "readout_relu": "ORNN/QORNN: read y = V ReLU(h) + c (True) or y = V h + c (False: the QORNN "
                    "authors' QRNN)",
    "learn_signs": "HadamRNN: learn W's signs by STE (True) or keep the random initial ones (False)",
    "recurrent_bias_init": "HadamRNN: the recurrence bias b starts 'uniform' in ±1/√n (the authors' "
                           "code) or at 'zero'",
    "clamp_signs": "HadamRNN: clamp the latent u to [-1, 1] after each step (True), or leave it unbounded "
                   "(False: the authors' released training step, which has the clamp's call commented out)",
    "sign_training": "HadamRNN: how the signs learn (qornn.signs; not the paper's method): None = the "
                     "released STE, or a dict such as {'method': 'bop', 'threshold': 0.5}",
    "orthogonal_map": "how torch keeps W orthogonal: 'matrix_exp' (W = exp(A)) or 'cayley'",
    "output_bits": "bits of the readout V: None = float, 'same' = as W (QORNN), an int k",
    "input_bits": "bits of the input matrix: 'same' = as ``bits``, None = float, an int k",
    "iters": "Björck: the most orthonormalisation iterations per forward pass",
    "tol": "Björck: stopping tolerance of the iterations",
    "beta": "Björck: the step β of each iteration",
    "power_iters": "power iterations estimating σ_max(V) per forward pass",
    "power_tol": "relative tolerance of the power iterations",
    "learned_range": "learn the quantizer's range α (LSQ; not in the paper) instead of max|W|",
    "rank": "projUNN: rank of the update kept at each step (None: full rank)",
    "variant": "projUNN: 'D' (polar projection) or 'T' (tangent step)",
    "method": "projUNN: low-rank approximation by 'svd' or 'rsvd'",
    "init": "projUNN: how W starts, 'haar' (Haar-random orthogonal) or 'henaff' (rotations of random "
            "angles on pairs of units, as projUNN's copy-task script; qornn.orthogonal.henaff_orthogonal)",
    "reproject_every": "projUNN: re-project W on O(n) by SVD every this many steps (0/None: never)",
    "penalty": "λ of the orthogonality penalty λ‖WᵀW − I‖²_F added to the loss",
    "input_rank": "rank of a low-rank input matrix (None: full)",
    "recurrent_rank": "rank of a low-rank recurrent matrix (None: full)",
    "alpha_init": "FastRNN: initial α̂ (α = σ(α̂) weighs the new candidate)",
    "beta_init": "FastRNN: initial β̂ (β = σ(β̂) weighs the previous state)",
    "zeta_init": "FastGRNN: initial ζ",
    "nu_init": "FastGRNN: initial ν",
    "layers": "transformer: number of encoder layers",
    "heads": "transformer: attention heads per layer",
    "feedforward": "transformer: width of the feed-forward block (None: 4 × hidden_size)",
    "embedding_size": "text tasks: width E of a word embedding in front of the model (None: no embedding)",
    "embedding_bits": "bits of the embedding matrix (None: float); needs embedding_size",
    "embedding_dropout": "dropout on the embeddings during training; needs embedding_size",
    "padding_idx": "the padding token, whose embedding stays 0",
    "pool": "text tasks: the output is the model's at the last step ('last') or the mean over "
            "non-padding steps ('mean'); needs embedding_size",
}

#: what every model is given by the experiment runner rather than by a configuration
_GIVEN = {"self", "input_size", "output_size", "hidden_size", "many_to_many", "size", "in_features",
          "out_features"}


@dataclass(frozen=True)
class Option:
    """One option of a model: its default (``REQUIRED`` when it has none) and its meaning."""

    name: str
    default: Any
    meaning: str


REQUIRED = "(required)"


def _parameters(fn, skip: set[str]) -> tuple[dict[str, Any], bool]:
    """Keyword parameters of ``fn`` -> default, and whether it takes ``**options``."""
    found, forwards = {}, False
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            forwards = True
        elif p.kind not in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY) and p.name not in skip:
            found[p.name] = REQUIRED if p.default is p.empty else p.default
    return found, forwards


def _class_options(cls: type, skip: set[str]) -> dict[str, Any]:
    """The keyword options of ``cls(...)``, following ``**options`` up its base classes."""
    options: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        found, forwards = _parameters(vars(klass)["__init__"], skip)
        options = {**found, **options}
        if not forwards:
            break
    return options


def _builder_options(build) -> dict[str, Any]:
    """A builder's options; those it passes on as ``**options`` are the keyword options of the
    class its closure names: ``weight_cls`` (the QORNN / ORNN builders, which also fix some of its
    options, ``fixed``, and give it ``bits`` themselves) or ``cls`` (the baselines)."""
    options, forwards = _parameters(build, _GIVEN)
    if not forwards:
        return options
    names = inspect.getclosurevars(build).nonlocals
    if "weight_cls" in names:
        skip = _GIVEN | {"bits"} | set(names.get("fixed", {}))
        return {**options, **_class_options(names["weight_cls"], skip)}
    if "cls" in names:
        return {**options, **_class_options(names["cls"], _GIVEN)}
    raise TypeError(f"{build.__qualname__} passes **options on to a class that models/options.py "
                    "cannot find: name it weight_cls or cls in the builder's closure")


#: the options build_model gives every model (the text front-end)
COMMON_OPTIONS = ("embedding_size", "embedding_bits", "embedding_dropout", "padding_idx", "pool")


def model_options(name: str) -> dict[str, Option]:
    """``name``'s options: ``hidden_size``, the builder's own (and those it forwards), then the
    text front-end's (:data:`COMMON_OPTIONS`), each with its default and meaning."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(model_names())}")
    common, _ = _parameters(build_model, {"name", "input_size", "output_size", "hidden_size"})
    options = {"hidden_size": REQUIRED, **_builder_options(MODELS[name].build),
               **{k: common[k] for k in COMMON_OPTIONS}}
    return {key: Option(key, default, OPTION_DOCS.get(key, "(undocumented)"))
            for key, default in options.items()}


def describe_models() -> str:
    """Every model with its summary and options (default: meaning), as ``qornn list --models`` prints."""
    lines = []
    for name in model_names():
        lines.append(f"{name}: {MODELS[name].summary}")
        for option in model_options(name).values():
            if option.name in COMMON_OPTIONS:
                continue
            default = option.default if option.default is REQUIRED else repr(option.default)
            lines.append(f"    {option.name} = {default}: {option.meaning}")
    lines.append("every model, for the text tasks:")
    for option in model_options(model_names()[0]).values():
        if option.name in COMMON_OPTIONS:
            lines.append(f"    {option.name} = {option.default!r}: {option.meaning}")
    return "\n".join(lines)
