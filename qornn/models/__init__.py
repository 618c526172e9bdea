"""Models: one registry from names to networks, so that every caller builds the same object.

    build_model("hadamrnn", input_size=10, output_size=9, hidden_size=128, bits=4, many_to_many=True)
    build_model("qornn-ste-bjorck", input_size=10, output_size=9, hidden_size=128, bits=4)

Size convention (:func:`model_size_bits`, every model's ``size_bits()``), as the papers count storage:
a float matrix, bias, embedding or scalar costs 32 bits an entry; a k-bit matrix k bits an entry plus
one 32-bit float scale α per tensor; a binary matrix diag(s)·H/√n (HadamRNN) or a block ternary one
diag(s)·(I ⊗ H_m)/√m (Block-HadamRNN) costs n bits (the signs s; H and the scale are implicit).
Only what inference needs is counted (not latent training copies of quantized weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..quantize import check_bits, quantize_ste
from .baselines import BASELINES, GRU, LSTM, FastGRNN, FastRNN, GatedRNN, LowRankLinear, VanillaRNN
from .network import QuantizedLinear, RecurrentNet
from .qornn import (
    ActivationQuantizedNet,
    ActivationRanges,
    BjorckWeight,
    FixedQuantizedWeight,
    PenaltyWeight,
    ProjUNNWeight,
    calibrate_activations,
    integer_weights,
    quantize_post_training,
    weight_bits,
)
from .recurrent import HadamardWeight, OrthogonalWeight, RecurrentWeight, dense_recurrence
from .transformer import TransformerClassifier

__all__ = [
    "MODELS",
    "ModelSpec",
    "build_model",
    "model_names",
    "model_size_bits",
    "implementation",
    "QuantizedLinear",
    "RecurrentNet",
    "RecurrentWeight",
    "HadamardWeight",
    "OrthogonalWeight",
    "dense_recurrence",
    "BjorckWeight",
    "ProjUNNWeight",
    "PenaltyWeight",
    "FixedQuantizedWeight",
    "quantize_post_training",
    "integer_weights",
    "ActivationRanges",
    "calibrate_activations",
    "ActivationQuantizedNet",
    "weight_bits",
    "GatedRNN",
    "LowRankLinear",
    "VanillaRNN",
    "LSTM",
    "GRU",
    "FastRNN",
    "FastGRNN",
    "BASELINES",
    "EmbeddingNet",
    "TransformerClassifier",
]


@dataclass(frozen=True)
class ModelSpec:
    """A named model: what it is, and how to build it from sizes and options."""

    name: str
    summary: str
    build: Callable[..., nn.Module]


def _hadamrnn(input_size, output_size, hidden_size, *, bits=4, block=None, nonlinearity="linear",
              many_to_many=False, learn_signs=True, recurrent_bias_init="uniform", sign_training=None,
              clamp_signs=True):
    for name, value in (("learn_signs", learn_signs), ("clamp_signs", clamp_signs)):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    weight = HadamardWeight(hidden_size, block, learn_signs, sign_training, clamp_signs=clamp_signs)
    return RecurrentNet(input_size, output_size, weight,
                        input_bits=bits, output_bits=bits, nonlinearity=nonlinearity,
                        many_to_many=many_to_many, recurrent_bias_init=recurrent_bias_init)


def _block_hadamrnn(input_size, output_size, hidden_size, *, block, bits=4, nonlinearity="linear",
                    many_to_many=False, learn_signs=True, recurrent_bias_init="uniform", sign_training=None,
                    clamp_signs=True):
    return _hadamrnn(input_size, output_size, hidden_size, bits=bits, block=block,
                     nonlinearity=nonlinearity, many_to_many=many_to_many, learn_signs=learn_signs,
                     recurrent_bias_init=recurrent_bias_init, sign_training=sign_training,
                     clamp_signs=clamp_signs)


def _ornn(input_size, output_size, hidden_size, *, orthogonal_map="matrix_exp", nonlinearity="linear",
          many_to_many=False):
    return RecurrentNet(input_size, output_size, OrthogonalWeight(hidden_size, orthogonal_map),
                        nonlinearity=nonlinearity, many_to_many=many_to_many)


def _orthogonal_net(weight, input_size, output_size, *, input_bits=None, output_bits=None,
                    nonlinearity="relu", many_to_many=False, learned_range=False, recurrent_bias=True,
                    readout_relu=True):
    return RecurrentNet(input_size, output_size, weight, input_bits=input_bits, output_bits=output_bits,
                        nonlinearity=nonlinearity, many_to_many=many_to_many, learned_range=learned_range,
                        recurrent_bias=recurrent_bias, readout_relu=readout_relu)


def _weight_builder(weight_cls, quantized: bool, **fixed):
    """A builder for RecurrentNet(W = weight_cls(hidden, bits, ...)). QORNN defaults: 4 bits, ReLU,
    U quantized with the same k as W and V in float: QORNN v2 trains L(q_k(W), q_k(U), V, b_o)
    (as summarised in a third-party review of arXiv 2402.04012v2; the authors' code has a flag to
    quantize V too: ``output_bits="same"`` or an int)."""
    if quantized:
        def build(input_size, output_size, hidden_size, *, bits=4, output_bits=None, nonlinearity="relu",
                  many_to_many=False, recurrent_bias=True, readout_relu=True, **weight_options):
            if bits is None:
                raise ValueError("a QORNN needs an int number of bits (2..8 in the papers); use the "
                                 "matching 'ornn-*' model for full precision")
            out_bits = bits if output_bits == "same" else output_bits
            options = {**fixed, **weight_options}
            return _orthogonal_net(weight_cls(hidden_size, bits, **options), input_size,
                                   output_size, input_bits=bits, output_bits=out_bits,
                                   nonlinearity=nonlinearity, many_to_many=many_to_many,
                                   learned_range=options.get("learned_range", False),
                                   recurrent_bias=recurrent_bias, readout_relu=readout_relu)
    else:
        def build(input_size, output_size, hidden_size, *, nonlinearity="relu", many_to_many=False,
                  recurrent_bias=True, readout_relu=True, **weight_options):
            return _orthogonal_net(weight_cls(hidden_size, None, **fixed, **weight_options), input_size,
                                   output_size, nonlinearity=nonlinearity, many_to_many=many_to_many,
                                   recurrent_bias=recurrent_bias, readout_relu=readout_relu)
    return build


def _ornn_map(orthogonal_map):
    def build(input_size, output_size, hidden_size, *, nonlinearity="relu", many_to_many=False):
        return _orthogonal_net(OrthogonalWeight(hidden_size, orthogonal_map), input_size, output_size,
                               nonlinearity=nonlinearity, many_to_many=many_to_many)
    return build


def _baseline(cls):
    def build(input_size, output_size, hidden_size, **options):
        return cls(input_size, output_size, hidden_size, **options)
    return build


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("hadamrnn", "binary Hadamard recurrence W = diag(sign u) H/√n, k-bit U and V",
                  _hadamrnn),
        ModelSpec("block-hadamrnn", "sparse ternary W = diag(sign u)(I ⊗ H_m)/√m, k-bit U and V",
                  _block_hadamrnn),
        ModelSpec("ornn", "float orthogonal RNN (torch orthogonal parametrization), float U and V",
                  _ornn),
        # ORNN (float) with each orthogonality mechanism; ReLU recurrence by default (QORNN's model)
        ModelSpec("ornn-bjorck", "float ORNN, W = Björck(V/σ_max(V)) (power iteration + Björck)",
                  _weight_builder(BjorckWeight, quantized=False)),
        ModelSpec("ornn-projunn", "float ORNN kept on O(n) by projUNN rank-k steps (rank=1, variant D|T)",
                  _weight_builder(ProjUNNWeight, quantized=False)),
        ModelSpec("ornn-polar", "float ORNN, W projected on O(n) by SVD (polar) after every step",
                  _weight_builder(ProjUNNWeight, quantized=False, rank=None, variant="D")),
        ModelSpec("ornn-cayley", "float ORNN, W = Cayley(A), A skew (torch parametrization)",
                  _ornn_map("cayley")),
        ModelSpec("ornn-expm", "float ORNN, W = exp(A), A skew (torch parametrization)",
                  _ornn_map("matrix_exp")),
        # QORNN: quantization-aware training
        ModelSpec("qornn-ste-bjorck", "QORNN STE-Björck: W = q_k(Björck(V/σ)), k-bit U (STE)",
                  _weight_builder(BjorckWeight, quantized=True)),
        ModelSpec("qornn-lsq-bjorck", "STE-Björck with learned ranges α of W and U (LSQ; not in the "
                  "paper, asked for by its reviewers)",
                  _weight_builder(BjorckWeight, quantized=True, learned_range=True)),
        ModelSpec("qornn-ste-projunn", "QORNN STE-projUNN: q_k(W), W on O(n) by projUNN, k-bit U",
                  _weight_builder(ProjUNNWeight, quantized=True)),
        ModelSpec("qornn-penalty", "QORNN penalty QAT (plausible v1 variant): q_k(W), loss + λ‖WᵀW−I‖²",
                  _weight_builder(PenaltyWeight, quantized=True)),
        # baselines (float, or k-bit with bits=k)
        ModelSpec("rnn", "vanilla RNN h = tanh(Wx + Uh + b) (nonlinearity='relu' possible)",
                  _baseline(VanillaRNN)),
        ModelSpec("lstm", "LSTM, float or k-bit weights (bits=k)", _baseline(LSTM)),
        ModelSpec("gru", "GRU, float or k-bit weights (bits=k)", _baseline(GRU)),
        ModelSpec("fastrnn", "FastRNN (Kusupati et al. 2018), float or k-bit", _baseline(FastRNN)),
        ModelSpec("fastgrnn", "FastGRNN (Kusupati et al. 2018), float or k-bit, optional low rank",
                  _baseline(FastGRNN)),
        ModelSpec("transformer", "small encoder-only transformer (float, pre-norm, mean pooling; "
                  "hidden_size = width)", _baseline(TransformerClassifier)),
    )
}


def model_names() -> list[str]:
    return sorted(MODELS)


class EmbeddingNet(nn.Module):
    """Token front-end for the text tasks (IMDB, SST-2, QQP), around any registered model:

        e_t = E[x_t]  (E: vocabulary × embedding, float or k-bit with STE; row ``padding_idx`` = 0)
        y = model(dropout(e))                        pool "last": the model's output at t = T
        y = mean_{t : x_t ≠ pad} model(dropout(e))_t  pool "mean": over non-padding positions

    Mean pooling of the per-step logits equals the readout of the mean-pooled features, since the
    readouts are affine. Same interface as the models: ``forward``, ``size_bits`` (E counted like any
    matrix) and ``apply_constraints_``.
    """

    POOLS = ("last", "mean")

    def __init__(self, model: nn.Module, vocab_size: int, embedding_size: int, *, bits: int | None = None,
                 dropout: float = 0.0, padding_idx: int | None = 0, pool: str = "last") -> None:
        super().__init__()
        if pool not in self.POOLS:
            raise ValueError(f"unknown pooling {pool!r}; valid: {', '.join(self.POOLS)}")
        if not 0 <= dropout < 1:
            raise ValueError(f"embedding dropout must be in [0, 1), got {dropout!r}")
        if padding_idx is not None and (isinstance(padding_idx, bool) or not isinstance(padding_idx, int)
                                        or not 0 <= padding_idx < vocab_size):
            raise ValueError(f"padding_idx must be None or an int in [0, {vocab_size}) (the vocabulary), "
                             f"got {padding_idx!r}")
        self.bits = check_bits(bits, "embedding bits")
        self.model, self.pool, self.padding_idx = model, pool, padding_idx
        self.weight = nn.Parameter(torch.randn(vocab_size, embedding_size))
        if padding_idx is not None:
            with torch.no_grad():
                self.weight[padding_idx].zero_()
        self.dropout = nn.Dropout(dropout)
        if pool == "mean":
            model.many_to_many = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point() or x.dim() != 2:
            raise ValueError(f"EmbeddingNet takes integer tokens (batch, time), got {x.dtype} "
                             f"{tuple(x.shape)}")
        e = F.embedding(x, quantize_ste(self.weight, self.bits), padding_idx=self.padding_idx)
        y = self.model(self.dropout(e))
        if self.pool == "last":
            return y
        if self.padding_idx is None:
            return y.mean(1)
        mask = (x != self.padding_idx).to(y.dtype).unsqueeze(-1)
        return (y * mask).sum(1) / mask.sum(1).clamp_min(1)

    def apply_constraints_(self) -> None:
        if hasattr(self.model, "apply_constraints_"):
            self.model.apply_constraints_()

    def size_bits(self) -> int:
        return weight_bits(self.weight.numel(), self.bits) + self.model.size_bits()


def build_model(name: str, *, input_size: int, output_size: int, hidden_size: int,
                embedding_size: int | None = None, embedding_bits: int | None = None,
                embedding_dropout: float = 0.0, padding_idx: int | None = 0, pool: str = "last",
                **options) -> nn.Module:
    """Build the registered model ``name``; unknown names and options get a clear error.

    With ``embedding_size`` E, ``input_size`` is the vocabulary size, the model reads E-dimensional
    embeddings, and the result is an :class:`EmbeddingNet` (``embedding_bits``, ``embedding_dropout``,
    ``padding_idx``, ``pool`` are its options).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(model_names())}")
    if embedding_size is None and (embedding_bits is not None or embedding_dropout or pool != "last"):
        raise ValueError(f"bad options for model {name!r}: embedding_bits, embedding_dropout and pool "
                         "need embedding_size")
    try:
        model = MODELS[name].build(input_size if embedding_size is None else embedding_size, output_size,
                                   hidden_size, **options)
    except TypeError as err:  # an option this model does not take, or a missing one
        raise ValueError(f"bad options for model {name!r}: {err}") from None
    if embedding_size is None:
        return model
    return EmbeddingNet(model, input_size, embedding_size, bits=embedding_bits, dropout=embedding_dropout,
                        padding_idx=padding_idx, pool=pool)


def implementation(model: nn.Module) -> dict[str, str]:
    """How ``model`` runs here, for its results record: the code of its recurrence ("fused C++ kernel"
    or "dense", see :func:`qornn.fast_hadamard.implementation`) and, for a RecurrentNet, how its
    recurrence bias started."""
    from .. import fast_hadamard

    out = {"recurrence": fast_hadamard.implementation(model)}
    nets = [m for m in model.modules() if isinstance(m, RecurrentNet)]
    if nets:
        out["recurrent_bias_init"] = nets[0].recurrent_bias_init
    return out


def model_size_bits(model: nn.Module) -> int:
    """Bits needed to store every matrix, bias and embedding of ``model``, counted as the papers do
    (see the module docstring for the convention)."""
    return model.size_bits()
