"""Baselines of the papers' tables: vanilla RNN, LSTM, GRU, FastRNN and FastGRNN, float or k-bit.

All share one skeleton (:class:`GatedRNN`), the interface of
:class:`~qornn.models.network.RecurrentNet` (constructor ``(input_size, output_size, hidden_size,
...)``, ``forward(x)`` for float (B, T, d) or token (B, T) inputs, ``hidden_states``, ``size_bits``,
``apply_constraints_``) and its layers (:class:`~qornn.models.network.QuantizedLinear`):

    a_t = W x_t + b            all gates at once, hoisted out of the time loop (k-bit W with ``bits``)
    (h_t, c_t) = cell(a_t, U h_{t−1}, c_{t−1})      U: the recurrent matrix (k-bit with ``bits``)
    y_t = V h_t + d            readout at every t (many-to-many) or at t = T (k-bit with ``output_bits``)

Cells (σ the logistic sigmoid, ⊙ the elementwise product, g gates stacked along the last axis):

* ``rnn``: h_t = φ(a_t + U h_{t−1}), φ = tanh or ReLU.
* ``lstm`` (g = 4): [i, f, ĝ, o] = a_t + U h_{t−1}; c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(ĝ);
  h_t = σ(o) ⊙ tanh(c_t).
* ``gru`` (g = 3, torch's convention): [r̂, ẑ, n̂] = a_t, [ĥ_r, ĥ_z, ĥ_n] = U h_{t−1} + b_h;
  r = σ(r̂ + ĥ_r), z = σ(ẑ + ĥ_z), n = tanh(n̂ + r ⊙ ĥ_n); h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.
* ``fastrnn`` (Kusupati et al., NeurIPS 2018): h̃_t = tanh(a_t + U h_{t−1}); h_t = α h̃_t + β h_{t−1}
  with trainable scalars α = σ(α̂), β = σ(β̂) (EdgeML's initialisation α̂ = −3, β̂ = 3).
* ``fastgrnn``: the gate and the candidate share W and U: p_t = W x_t + U h_{t−1};
  z_t = σ(p_t + b_z), h̃_t = tanh(p_t + b_h); h_t = (ζ(1 − z_t) + ν) ⊙ h̃_t + z_t ⊙ h_{t−1},
  ζ = σ(ζ̂), ν = σ(ν̂) (initialised ζ̂ = 1, ν̂ = −4 as in EdgeML). FastGRNN's low-rank factors
  W = W₂W₁, U = U₂U₁ are available through ``input_rank`` / ``recurrent_rank`` (every cell has them);
  its sparsification (iterative hard thresholding) is not implemented.

Size (``size_bits``): every matrix as :class:`QuantizedLinear` counts it (32 bits an entry, or k bits
plus one 32-bit scale), biases and the scalars α, β, ζ, ν at 32 bits each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..quantize import check_bits
from .network import QuantizedLinear

__all__ = [
    "LowRankLinear",
    "GatedRNN",
    "VanillaRNN",
    "LSTM",
    "GRU",
    "FastRNN",
    "FastGRNN",
    "BASELINES",
]

_TOKEN_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


class LowRankLinear(nn.Module):
    """y = q_k(B) q_k(A) x + c with A (rank × in), B (out × rank): FastGRNN's low-rank matrices."""

    def __init__(self, in_features: int, out_features: int, rank: int, bits: int | None,
                 bias: bool = True) -> None:
        super().__init__()
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"low-rank factor rank must be a positive int, got {rank!r}")
        self.first = QuantizedLinear(in_features, rank, bits, bias=False)
        self.second = QuantizedLinear(rank, out_features, bits, bias=bias)

    @property
    def bias(self) -> torch.Tensor | None:
        return self.second.bias

    def effective_weight(self) -> torch.Tensor:
        return self.second.effective_weight() @ self.first.effective_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))

    def size_bits(self) -> int:
        return self.first.size_bits() + self.second.size_bits()


def _linear(in_features: int, out_features: int, bits: int | None, bias: bool,
            rank: int | None) -> nn.Module:
    if rank is None:
        return QuantizedLinear(in_features, out_features, bits, bias=bias)
    return LowRankLinear(in_features, out_features, rank, bits, bias=bias)


def _same(value, default):
    return default if isinstance(value, str) and value == "same" else value


class GatedRNN(nn.Module):
    """The skeleton every baseline shares (module docstring); subclasses define ``gates`` and
    :meth:`cell`, and may add parameters (counted at 32 bits each)."""

    gates = 1
    input_bias = True
    recurrent_bias = False
    has_cell_state = False
    #: torch's fused recurrence computing the same cell (torch.lstm / torch.gru), if there is one
    _fused_kernel = None
    #: take the fused kernel when there is one (False: the Python loop, e.g. to compare them)
    fused = True

    def __init__(self, input_size: int, output_size: int, hidden_size: int, *, bits: int | None = None,
                 input_bits: int | None | str = "same", output_bits: int | None | str = "same",
                 many_to_many: bool = False, input_rank: int | None = None,
                 recurrent_rank: int | None = None) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("output_size", output_size),
                            ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.bits = check_bits(bits, "recurrent bits")
        in_bits = check_bits(_same(input_bits, self.bits), "input matrix bits")
        out_bits = check_bits(_same(output_bits, self.bits), "output matrix bits")
        self.input_size, self.hidden_size, self.many_to_many = input_size, hidden_size, many_to_many
        g = self.gates * hidden_size
        self.input = _linear(input_size, g, in_bits, self.input_bias, input_rank)
        self.recurrent = _linear(hidden_size, g, self.bits, self.recurrent_bias, recurrent_rank)
        self.readout = QuantizedLinear(hidden_size, output_size, out_bits, bias=True)

    # -- the recurrence ---------------------------------------------------------------------------
    def cell(self, a_t: torch.Tensor, r_t: torch.Tensor, h: torch.Tensor,
             c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One step: (h_t, c_t) from a_t = W x_t + b, r_t = U h_{t−1} (+ b_h), h_{t−1}, c_{t−1}."""
        raise NotImplementedError  # pragma: no cover

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """a_t = W x_t + b for all t, time-major (T, B, g·n); tokens read columns of W."""
        if x.dtype in _TOKEN_DTYPES:
            if x.dim() != 2:
                raise ValueError(f"token input must be (batch, time), got shape {tuple(x.shape)}")
            a = F.embedding(x.t(), self.input.effective_weight().t())
            return a if self.input.bias is None else a + self.input.bias
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"float input must be (batch, time, {self.input_size}), got shape {tuple(x.shape)}"
            )
        return self.input(x.transpose(0, 1))

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """All hidden states h_1..h_T, time-major (T, B, n); h_0 = c_0 = 0.

        LSTM and GRU on float input run torch's fused kernel (ATen's C++ loop, cuDNN on a GPU) with
        the same effective (k-bit, low-rank) matrices, unless ``fused`` is False; the Python loop
        below is the definition, and tests check that both agree."""
        if self.fused and self._fused_kernel is not None and x.dtype not in _TOKEN_DTYPES:
            return self._fused_states(x)
        a = self.preactivations(x)
        ut = self.recurrent.effective_weight().t()
        bias = self.recurrent.bias
        h = a.new_zeros(a.shape[1], self.hidden_size)
        c = torch.zeros_like(h) if self.has_cell_state else None
        states = []
        for a_t in a.unbind(0):
            r_t = h @ ut if bias is None else torch.addmm(bias, h, ut)
            h, c = self.cell(a_t, r_t, h, c)
            states.append(h)
        return torch.stack(states)

    def _fused_states(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"float input must be (batch, time, {self.input_size}), got shape {tuple(x.shape)}"
            )
        w, b = self.input.effective_weight(), self.input.bias
        # torch's cells add an input and a recurrent bias; a missing one is a zero that gets no grad
        b_h = self.recurrent.bias if self.recurrent.bias is not None else b.new_zeros(b.shape)
        h0 = x.new_zeros(1, x.shape[0], self.hidden_size)
        hx = (h0, h0) if self.has_cell_state else h0
        params = [w, self.recurrent.effective_weight(), b, b_h]
        out = self._fused_kernel(x.transpose(0, 1), hx, params, True, 1, 0.0, self.training, False, False)
        return out[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, out) when many-to-many, else (B, out) from the last state."""
        h = self.hidden_states(x)
        if self.many_to_many:
            return self.readout(h).transpose(0, 1)
        return self.readout(h[-1])

    def apply_constraints_(self) -> None:
        """No constraint on these models."""

    def size_bits(self) -> int:
        """Matrices as QuantizedLinear counts them, own parameters (biases, scalars) at 32 bits."""
        own = sum(p.numel() for p in self._parameters.values() if p is not None)
        return self.input.size_bits() + self.recurrent.size_bits() + self.readout.size_bits() + 32 * own

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, bits={self.bits}, many_to_many={self.many_to_many}"


class VanillaRNN(GatedRNN):
    """h_t = φ(W x_t + b + U h_{t−1}), φ = tanh (default) or ReLU."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, *,
                 nonlinearity: str = "tanh", **options) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: tanh, relu")
        super().__init__(input_size, output_size, hidden_size, **options)
        self.nonlinearity = nonlinearity
        self._phi = torch.tanh if nonlinearity == "tanh" else F.relu

    def cell(self, a_t, r_t, h, c):
        return self._phi(a_t + r_t), None


class LSTM(GatedRNN):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), one bias per gate."""

    gates = 4
    has_cell_state = True
    _fused_kernel = staticmethod(torch.lstm)

    def cell(self, a_t, r_t, h, c):
        i, f, g, o = (a_t + r_t).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class GRU(GatedRNN):
    """Gated recurrent unit (Cho et al. 2014) in torch's form (input and recurrent biases)."""

    gates = 3
    recurrent_bias = True
    _fused_kernel = staticmethod(torch.gru)

    def cell(self, a_t, r_t, h, c):
        ar, az, an = a_t.chunk(3, dim=-1)
        hr, hz, hn = r_t.chunk(3, dim=-1)
        r = torch.sigmoid(ar + hr)
        z = torch.sigmoid(az + hz)
        n = torch.tanh(an + r * hn)
        return n + z * (h - n), None


class FastRNN(GatedRNN):
    """FastRNN: h_t = α tanh(W x_t + U h_{t−1} + b) + β h_{t−1}, α = σ(α̂), β = σ(β̂)."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, *, alpha_init: float = -3.0,
                 beta_init: float = 3.0, **options) -> None:
        super().__init__(input_size, output_size, hidden_size, **options)
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.beta = nn.Parameter(torch.tensor(float(beta_init)))

    def cell(self, a_t, r_t, h, c):
        return torch.sigmoid(self.alpha) * torch.tanh(a_t + r_t) + torch.sigmoid(self.beta) * h, None


class _FastGRNNRecurrence(torch.autograd.Function):
    """All states of FastGRNN's recurrence, with backpropagation through time written out by hand.

    Forward, for t = 1..T (h_0 = 0), from a_t = W x_t:
        p_t = a_t + U h_{t−1},  z_t = σ(p_t + b_z),  g_t = tanh(p_t + b_h),
        h_t = c_t ⊙ g_t + z_t ⊙ h_{t−1},  c_t = ζ(1 − z_t) + ν,  ζ = σ(ζ̂), ν = σ(ν̂).
    Backward, with δ_t = ∂L/∂h_t (the output's gradient at t plus what flows back from t + 1):
        ∂L/∂(p_t + b_z) = δ_t ⊙ F_t,  F_t = (h_{t−1} − ζ g_t) ⊙ z_t(1 − z_t)   (through the gate)
        ∂L/∂(p_t + b_h) = δ_t ⊙ C_t,  C_t = c_t ⊙ (1 − g_t²)                   (through the candidate)
        δ_{t−1} = ∂L/∂h_{t−1} (output) + z_t ⊙ δ_t + U^T ∂L/∂p_t,
        ∂L/∂ζ̂ = ζ(1 − ζ) Σ δ_t ⊙ g_t ⊙ (1 − z_t),  ∂L/∂ν̂ = ν(1 − ν) Σ δ_t ⊙ g_t.
    F and C do not depend on δ. Every step works on (batch, n) slices that stay in cache: the
    forward pass keeps only z_t, g_t (and returns h_t), and the backward pass rebuilds F_t and C_t
    from them step by step; whole-sequence (T, batch, n) temporaries would cost more in memory
    traffic and page faults than they save. The gradients of U and the biases are sums over t, the
    one of U a single product after the loop.
    """

    @staticmethod
    def forward(ctx, a, u, b_z, b_h, zeta_hat, nu_hat):
        zeta, nu = float(torch.sigmoid(zeta_hat)), float(torch.sigmoid(nu_hat))
        z_all, g_all, h_all = torch.empty_like(a), torch.empty_like(a), torch.empty_like(a)
        ut = u.t()
        h = a.new_zeros(a.shape[1:])
        for t, a_t in enumerate(a.unbind(0)):
            p = torch.addmm(a_t, h, ut)
            z = torch.sigmoid(p + b_z, out=z_all[t])
            g = torch.tanh(p + b_h, out=g_all[t])
            coef = torch.add(z * -zeta, zeta + nu)
            h = torch.addcmul(z * h, coef, g, out=h_all[t])
        ctx.save_for_backward(u, zeta_hat, nu_hat, z_all, g_all, h_all)
        ctx.zeta_nu = zeta, nu
        return h_all

    @staticmethod
    def backward(ctx, grad):
        u, zeta_hat, nu_hat, z_all, g_all, h_all = ctx.saved_tensors
        zeta, nu = ctx.zeta_nu
        grad_p = torch.empty_like(grad)
        carry = torch.zeros_like(grad[0])
        # per-step sums: Σ δ⊙F (b_z), Σ δ⊙g, Σ δ⊙g⊙z (ζ̂, ν̂)
        sum_gate, sum_dg, sum_dgz = torch.zeros_like(carry), torch.zeros_like(carry), torch.zeros_like(carry)
        for t in range(grad.shape[0] - 1, -1, -1):
            z, g = z_all[t], g_all[t]
            d = grad[t] + carry
            dg = d * g
            from_gate = d * (torch.add(h_all[t - 1], g, alpha=-zeta) if t else g * -zeta)
            from_gate.mul_(torch.addcmul(z, z, z, value=-1))  # ⊙ z(1 − z)
            cand = torch.add(z * -zeta, zeta + nu).mul_(torch.addcmul(torch.ones_like(g), g, g, value=-1))
            dp = torch.addcmul(from_gate, d, cand, out=grad_p[t])
            sum_gate += from_gate
            sum_dg += dg
            sum_dgz.addcmul_(dg, z)
            carry = torch.addmm(z * d, dp, u)
        n = grad.shape[-1]
        grad_u = grad_p[1:].reshape(-1, n).t() @ h_all[:-1].reshape(-1, n)
        grad_b_z = sum_gate.sum(0)
        grad_b_h = grad_p.sum((0, 1)) - grad_b_z
        grad_zeta_hat = (sum_dg - sum_dgz).sum() * (zeta * (1 - zeta))
        grad_nu_hat = sum_dg.sum() * (nu * (1 - nu))
        return grad_p, grad_u, grad_b_z, grad_b_h, grad_zeta_hat, grad_nu_hat


class FastGRNN(GatedRNN):
    """FastGRNN: z = σ(p + b_z), h̃ = tanh(p + b_h), h = (ζ(1 − z) + ν) ⊙ h̃ + z ⊙ h, p = Wx + Uh.

    With ``fused`` (the default) the recurrence runs :class:`_FastGRNNRecurrence`, whose backward is
    written out by hand; ``fused = False`` runs the cell-by-cell definition (:meth:`cell`)."""

    input_bias = False

    def __init__(self, input_size: int, output_size: int, hidden_size: int, *, zeta_init: float = 1.0,
                 nu_init: float = -4.0, **options) -> None:
        super().__init__(input_size, output_size, hidden_size, **options)
        self.bias_gate = nn.Parameter(torch.ones(hidden_size))
        self.bias_update = nn.Parameter(torch.ones(hidden_size))
        self.zeta = nn.Parameter(torch.tensor(float(zeta_init)))
        self.nu = nn.Parameter(torch.tensor(float(nu_init)))

    def cell(self, a_t, r_t, h, c):
        p = a_t + r_t
        z = torch.sigmoid(p + self.bias_gate)
        h_tilde = torch.tanh(p + self.bias_update)
        return (torch.sigmoid(self.zeta) * (1 - z) + torch.sigmoid(self.nu)) * h_tilde + z * h, None

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fused:
            return super().hidden_states(x)
        a = self.preactivations(x)
        return _FastGRNNRecurrence.apply(a, self.recurrent.effective_weight(), self.bias_gate,
                                         self.bias_update, self.zeta, self.nu)


BASELINES: dict[str, type[GatedRNN]] = {
    "rnn": VanillaRNN,
    "lstm": LSTM,
    "gru": GRU,
    "fastrnn": FastRNN,
    "fastgrnn": FastGRNN,
}
