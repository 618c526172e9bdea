"""Models: one registry from names to networks, so that every caller builds the same object.

    build_model("hadamrnn", input_size=10, output_size=9, hidden_size=128, bits=4, many_to_many=True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .network import QuantizedLinear, RecurrentNet
from .recurrent import HadamardWeight, OrthogonalWeight, RecurrentWeight, dense_recurrence

__all__ = [
    "MODELS",
    "ModelSpec",
    "build_model",
    "model_names",
    "model_size_bits",
    "QuantizedLinear",
    "RecurrentNet",
    "RecurrentWeight",
    "HadamardWeight",
    "OrthogonalWeight",
    "dense_recurrence",
]


@dataclass(frozen=True)
class ModelSpec:
    """A named model: what it is, and how to build it from sizes and options."""

    name: str
    summary: str
    build: Callable[..., RecurrentNet]


def _hadamrnn(input_size, output_size, hidden_size, *, bits=4, block=None, nonlinearity="linear",
              many_to_many=False):
    return RecurrentNet(input_size, output_size, HadamardWeight(hidden_size, block),
                        input_bits=bits, output_bits=bits, nonlinearity=nonlinearity,
                        many_to_many=many_to_many)


def _block_hadamrnn(input_size, output_size, hidden_size, *, block, bits=4, nonlinearity="linear",
                    many_to_many=False):
    return _hadamrnn(input_size, output_size, hidden_size, bits=bits, block=block,
                     nonlinearity=nonlinearity, many_to_many=many_to_many)


def _ornn(input_size, output_size, hidden_size, *, orthogonal_map="matrix_exp", nonlinearity="linear",
          many_to_many=False):
    return RecurrentNet(input_size, output_size, OrthogonalWeight(hidden_size, orthogonal_map),
                        nonlinearity=nonlinearity, many_to_many=many_to_many)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("hadamrnn", "binary Hadamard recurrence W = diag(sign u) H/√n, k-bit U and V",
                  _hadamrnn),
        ModelSpec("block-hadamrnn", "sparse ternary W = diag(sign u)(I ⊗ H_m)/√m, k-bit U and V",
                  _block_hadamrnn),
        ModelSpec("ornn", "float orthogonal RNN (torch orthogonal parametrization), float U and V",
                  _ornn),
    )
}


def model_names() -> list[str]:
    return sorted(MODELS)


def build_model(name: str, *, input_size: int, output_size: int, hidden_size: int,
                **options) -> RecurrentNet:
    """Build the registered model ``name``; unknown names and options get a clear error."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(model_names())}")
    try:
        return MODELS[name].build(input_size, output_size, hidden_size, **options)
    except TypeError as err:  # an option this model does not take, or a missing one
        raise ValueError(f"bad options for model {name!r}: {err}") from None


def model_size_bits(model: RecurrentNet) -> int:
    """Bits needed to store every matrix and bias of ``model``, counted as the papers do."""
    return model.size_bits()
