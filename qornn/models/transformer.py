"""A small encoder-only transformer: the baseline HadamRNN's reviewers asked for, at the same size
in bits as a HadamRNN on the same task.

    z_t^0 = U x_t + b + p_t                      (p_t: fixed sinusoidal positions, no parameters)
    z^l   = z^{l-1} + MHA(LN(z^{l-1})),  then  z^l + FF(LN(z^l))   (pre-norm, ``layers`` times;
                                                  FF = Linear, GELU, Linear, no dropout)
    y     = V mean_t LN(z_t^L) + c               (one output per sequence)

Every weight is a 32-bit float, so ``size_bits`` = 32 × the number of parameters: at HadamRNN's
39,808 bits (pMNIST, n = 512, 4-bit U and V) that is about 1,240 parameters, a model width of about 12.
Attention costs O(T²) per sequence where the recurrences cost O(T): at T = 784 it is the slower one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EncoderLayer", "TransformerClassifier", "sinusoidal_positions"]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """p_{t, 2i} = sin(t / 10000^{2i/d}), p_{t, 2i+1} = cos(t / 10000^{2i/d}) (Vaswani et al.), (T, d)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10_000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class EncoderLayer(nn.Module):
    """Pre-norm encoder layer: z + MHA(LN(z)), then z + W_2 GELU(W_1 LN(z)).

    Attention through :func:`torch.nn.functional.scaled_dot_product_attention` (a fused kernel
    that never stores the T × T weights: about 2x faster than softmax(QKᵀ/√d)V at T = 784 on CPU)."""

    def __init__(self, width: int, heads: int, feedforward: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.ff = nn.Sequential(nn.Linear(width, feedforward), nn.GELU(), nn.Linear(feedforward, width))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch, length, width = z.shape
        q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2)
                   for t in self.qkv(self.norm1(z)).chunk(3, dim=-1))
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, length, width)
        z = z + self.out(attended)
        return z + self.ff(self.norm2(z))


class TransformerClassifier(nn.Module):
    """Encoder-only transformer with mean pooling over time (module docstring); ``hidden_size`` is
    the model width d. Reads float inputs (B, T, input_size) or integer tokens (B, T) (then U acts
    as an embedding table, as the recurrent models read tokens)."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, *, layers: int = 1,
                 heads: int = 1, feedforward: int | None = None, many_to_many: bool = False) -> None:
        super().__init__()
        for value, name in ((input_size, "input_size"), (output_size, "output_size"),
                            (hidden_size, "hidden_size"), (layers, "layers"), (heads, "heads")):
            _positive_int(value, name)
        if hidden_size % heads:
            raise ValueError(f"hidden_size={hidden_size} must be a multiple of heads={heads}")
        if many_to_many:
            raise ValueError("TransformerClassifier gives one output per sequence: many_to_many=True "
                             "(a per-step task such as the copy task) is not supported")
        feedforward = 2 * hidden_size if feedforward is None else _positive_int(feedforward, "feedforward")
        self.many_to_many = False
        self.input = nn.Linear(input_size, hidden_size)
        self.layers = nn.ModuleList(EncoderLayer(hidden_size, heads, feedforward) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden_size)
        self.output = nn.Linear(hidden_size, output_size)
        self.register_buffer("_positions", torch.zeros(0, hidden_size), persistent=False)

    def _positions_for(self, length: int) -> torch.Tensor:
        if self._positions.shape[0] < length:
            self._positions = sinusoidal_positions(length, self.input.out_features).to(self.input.weight)
        return self._positions[:length]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():
            z = self.input(x)
        else:
            z = F.embedding(x, self.input.weight.t()) + self.input.bias
        z = z + self._positions_for(z.shape[1])
        for layer in self.layers:
            z = layer(z)
        return self.output(self.norm(z).mean(1))

    def size_bits(self) -> int:
        return 32 * sum(p.numel() for p in self.parameters())
