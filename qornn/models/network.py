"""One recurrent network whose recurrent matrix is pluggable.

    a_t = U x_t + b                      (input projection, optionally k-bit, hoisted out of the loop)
    h_t = σ(W h_{t-1} + a_t),  h_0 = 0   (σ = identity: a linear recurrence, as in HadamRNN; or ReLU,
                                          tanh, or modReLU σ_m(z) = sign(z)·ReLU(|z| + ε + m))
    y_t = V ReLU(h_t) + c                (readout, optionally k-bit; every t, or only t = T)

W is a :class:`~qornn.models.recurrent.RecurrentWeight`. The bias b starts at zero, or (``recurrent_bias_init=
"uniform"``, the HadamRNN default) uniform in ±1/√n as in the authors' code; ``recurrent_bias=False``
drops it. modReLU's own bias m (one per unit) starts uniform in ±0.01, as in the QORNN authors' code.
``readout_relu=False`` reads y_t = V h_t + c: the readout of the authors' QRNN, whose modReLU states
are signed. Inputs are either float tensors
(B, T, d) or integer tokens (B, T) with values in [0, d): for tokens, U x_t with x_t one-hot is the
column U[:, x_t], read by an embedding lookup instead of a product with a one-hot vector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..quantize import LearnedRange, check_bits, quantization_scale, quantize_ste
from .recurrent import NONLINEARITIES, RecurrentWeight

__all__ = ["BIAS_INITS", "QuantizedLinear", "RecurrentNet"]

#: Inputs with at most this many features (or token vocabularies this small, as one-hot vectors) go to a
#: fused kernel as they are, and U x_t + b is computed inside its time loop.
DIRECT_INPUT_MAX = 32

#: How the recurrence bias b starts: "zero", or "uniform" in ±1/√n (what the HadamRNN authors' code
#: gets from nn.Linear(n, n), where b is the recurrent layer's bias).
BIAS_INITS = ("zero", "uniform")


class _TokenPreactivations(torch.autograd.Function):
    """a_t = U[:, x_t] + b for tokens x (T, B), in one pass over the (T, B, n) output: the rows of
    the small table Uᵀ + b (d × n) are looked up, where F.embedding(x, Uᵀ) + b writes the sequence
    twice. The same numbers, forward and backward, as that pair of operations under autograd: each
    entry is the same one addition, and the backward calls the kernels autograd's would
    (``embedding_backward`` for Uᵀ, ``sum_to_size`` over (T, B) for b)."""

    @staticmethod
    def forward(ctx, tokens: torch.Tensor, table: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(tokens)
        ctx.rows, ctx.bias_shape = table.shape[0], bias.shape
        return F.embedding(tokens, table + bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (tokens,) = ctx.saved_tensors
        grad_table = grad_bias = None
        if ctx.needs_input_grad[1]:
            grad_table = torch.ops.aten.embedding_backward(grad, tokens, ctx.rows, -1, False, False)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum_to_size(ctx.bias_shape)
        return None, grad_table, grad_bias


class QuantizedLinear(nn.Module):
    """y = q_k(A) x + c with A quantized to ``bits`` by the STE quantizer (None: full precision).

    The scale α of q_k is max|A| recomputed at every call (the papers' rule), unless a fixed
    ``scale`` buffer is set, as it is in a model rebuilt from packed integer codes, or α is learned
    (``learned_range=True``: :class:`~qornn.quantize.LearnedRange`, LSQ gradients).
    """

    def __init__(self, in_features: int, out_features: int, bits: int | None, bias: bool = True,
                 learned_range: bool = False) -> None:
        super().__init__()
        self.bits = check_bits(bits, "input/output matrix bits")
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.xavier_uniform_(self.weight)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("scale", None)
        self.range = LearnedRange(self.bits, self.weight) if learned_range and self.bits else None

    def alpha(self) -> torch.Tensor:
        """The range α that q_k uses now: learned, fixed (``scale``), or max|A|."""
        if self.range is not None:
            return self.range.alpha.detach()
        return quantization_scale(self.weight) if self.scale is None else self.scale

    def effective_weight(self) -> torch.Tensor:
        if self.range is not None:
            return self.range(self.weight)
        return quantize_ste(self.weight, self.bits, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)

    def size_bits(self) -> int:
        weight_bits = self.weight.numel() * (32 if self.bits is None else self.bits)
        scale_bits = 0 if self.bits is None else 32  # one float scale α per tensor
        bias_bits = 0 if self.bias is None else 32 * self.bias.numel()
        return weight_bits + scale_bits + bias_bits

    def extra_repr(self) -> str:
        return f"in={self.weight.shape[1]}, out={self.weight.shape[0]}, bits={self.bits}"


class RecurrentNet(nn.Module):
    """The RNN shared by HadamRNN, Block-HadamRNN, ORNN and QORNN (see the module docstring)."""

    def __init__(
        self,
        input_size: int,
        output_size: int,
        recurrent: RecurrentWeight,
        *,
        input_bits: int | None = None,
        output_bits: int | None = None,
        nonlinearity: str = "linear",
        many_to_many: bool = False,
        learned_range: bool = False,
        recurrent_bias_init: str = "zero",
        recurrent_bias: bool = True,
        readout_relu: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("output_size", output_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: {', '.join(NONLINEARITIES)}")
        for name, value in (("recurrent_bias", recurrent_bias), ("readout_relu", readout_relu)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")
        if recurrent_bias_init not in BIAS_INITS:
            raise ValueError(f"unknown recurrent_bias_init {recurrent_bias_init!r}; valid: "
                             f"{', '.join(BIAS_INITS)}")
        self.input_size = input_size
        self.hidden_size = recurrent.size
        self.recurrent = recurrent
        self.nonlinearity = nonlinearity
        self.many_to_many = many_to_many
        # The recurrence bias b sits with the input projection: a_t = U x_t + b.
        self.input = QuantizedLinear(input_size, recurrent.size, input_bits, bias=recurrent_bias,
                                     learned_range=learned_range)
        self.recurrent_bias_init, self.readout_relu = recurrent_bias_init, readout_relu
        if recurrent_bias_init == "uniform" and recurrent_bias:  # as nn.Linear(n, n) does: U(±1/√n)
            bound = 1.0 / recurrent.size ** 0.5
            with torch.no_grad():
                self.input.bias.uniform_(-bound, bound)
        self.readout = QuantizedLinear(recurrent.size, output_size, output_bits, bias=True,
                                       learned_range=learned_range)
        # modReLU's bias m, created after the other parameters: the draws of the other models stay
        self.modrelu_bias = (nn.Parameter(torch.empty(recurrent.size).uniform_(-0.01, 0.01))
                             if nonlinearity == "modrelu" else None)

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """a_t = U x_t + b for all t at once, time-major (T, B, n)."""
        if x.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
            if x.dim() != 2:
                raise ValueError(f"token input must be (batch, time), got shape {tuple(x.shape)}")
            if self.input.bias is None:
                return F.embedding(x.t(), self.input.effective_weight().t())
            return _TokenPreactivations.apply(x.t(), self.input.effective_weight().t(), self.input.bias)
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"float input must be (batch, time, {self.input_size}), got shape {tuple(x.shape)}"
            )
        return self.input(x.transpose(0, 1))

    def direct_input(self, x: torch.Tensor) -> torch.Tensor | None:
        """x as a float (B, T, d) tensor when d is small enough for a fused kernel to compute U x_t + b
        inside its time loop (tokens become one-hot vectors), else None."""
        if x.dim() == 2 and not x.is_floating_point() and self.input_size <= DIRECT_INPUT_MAX:
            return F.one_hot(x.long(), self.input_size).to(self.input.weight.dtype)
        if x.dim() == 3 and x.is_floating_point() and x.shape[-1] == self.input_size <= DIRECT_INPUT_MAX:
            return x
        return None

    def _fused(self, x: torch.Tensor, last_only: bool, readout: bool) -> torch.Tensor | None:
        """What a recurrent weight with a fused kernel (``fused_states``: HadamRNN on the CPU) computes from
        the raw inputs: states, or with ``readout`` the logits of every step; None if it cannot."""
        fused = getattr(self.recurrent, "fused_states", None)
        if self.input.bias is None or not self.readout_relu:
            fused = None  # what the fused kernel does not compute (it says itself which σ it runs)
        direct = self.direct_input(x) if fused is not None else None
        if direct is None:
            return None
        head = (self.readout.effective_weight(), self.readout.bias) if readout else None
        return fused(direct, self.input.effective_weight(), self.input.bias, self.nonlinearity, last_only,
                     head)

    def hidden_states(self, x: torch.Tensor, *, last_only: bool = False) -> torch.Tensor:
        """All hidden states h_1..h_T, time-major (T, B, n), or only h_T (B, n) when ``last_only``."""
        h = self._fused(x, last_only, readout=False)
        if h is not None:
            return h
        # a is this call's own temporary: the dense recurrence may write the states into it
        h = self.recurrent.recur(self.preactivations(x), self.nonlinearity, overwrite=True,
                                 bias=self.modrelu_bias)
        return h[-1] if last_only else h

    def read_out(self, h: torch.Tensor) -> torch.Tensor:
        """y = V ReLU(h) + c, or V h + c without ``readout_relu``, for states h (..., n)."""
        return self.readout(F.relu(h) if self.readout_relu else h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, out) when many-to-many, else (B, out) from the last state."""
        if self.many_to_many:
            logits = self._fused(x, last_only=True, readout=True)  # the readout inside the kernel's loop
            if logits is None:
                logits = self.read_out(self.hidden_states(x))
            return logits.transpose(0, 1)
        return self.read_out(self.hidden_states(x, last_only=True))

    def apply_constraints_(self) -> None:
        self.recurrent.apply_constraints_()

    def verify_signs_(self, loss) -> int:
        """Let W's sign rule test flips against ``loss()``, the loss on the current batch (the
        ``verified`` rule of :mod:`qornn.signs`; others do nothing). Returns the flips kept."""
        rule = getattr(self.recurrent, "sign_rule", None)
        return 0 if rule is None else rule.verify_(self.recurrent.u, loss)

    def optimizer_groups(self) -> list[dict]:
        """What the training loop's optimiser updates: every parameter at the run's learning rate,
        unless W's sign rule (:mod:`qornn.signs`) gives the signs a group of their own or none."""
        rule = getattr(self.recurrent, "sign_rule", None)
        if rule is None:
            return [{"params": list(self.parameters())}]
        u = self.recurrent.u
        return rule.optimizer_groups(u, [p for p in self.parameters() if p is not u])

    def diagnostics(self) -> dict[str, float]:
        """What the recurrent weight reports about its training (e.g. HadamRNN's sign flips)."""
        return self.recurrent.diagnostics() if hasattr(self.recurrent, "diagnostics") else {}

    def size_bits(self) -> int:
        """Bits of every matrix and bias (recurrent, input, output, modReLU's) as the papers count them."""
        modrelu_bits = 0 if self.modrelu_bias is None else 32 * self.modrelu_bias.numel()
        return self.recurrent.size_bits() + self.input.size_bits() + self.readout.size_bits() + modrelu_bits
