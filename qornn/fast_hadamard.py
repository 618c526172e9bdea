"""The fused HadamRNN kernel: the whole time loop of h_t = σ(W h_{t-1} + U x_t + b) in C++, forward and back.

    W = diag(s) · (I_{n/m} ⊗ H_m) / √m,   s ∈ {±1}^n,   h_0 = 0,   σ ∈ {identity, ReLU, tanh}

:func:`hadamard_rnn` never builds W: z_t = H h_{t-1} is one fast Walsh–Hadamard transform (n log₂ m
additions). It takes either the raw inputs x (B, T, d) with U (n, d) and b (direct mode: a_t = U x_t + b is
computed inside the loop, so no (T, B, n) pre-activation tensor exists) or pre-activations a (T, B, n)
(after an embedding, or any d), and returns every state (T, B, n) or only the last one (B, n).

The backward pass is hand-written (``qornn/csrc/hadamard_rnn.cpp`` states the algebra) and sums the
gradients of U, b and s inside its own time loop:
∂L/∂s = Σ_t Σ_batch δ̃_t ⊙ (H h_{t-1})/√m with δ̃_t = δ_t ⊙ σ'(pre_t), elementwise, so the n×n gradient of W
never exists. The caller passes s = sign_ste(u), so ∂L/∂s reaches u through the straight-through estimator
exactly as in the dense path. For the linear recurrence the backward pass is *reversible* by default when
only the last state is returned: W is orthogonal, so h_{t-1} = H(s ⊙ (h_t − a_t))/√m rebuilds the states
backwards from the last one, and a training step needs O(B·n) memory for the states instead of O(T·B·n).
``reversible=False`` keeps the stored states (ReLU and tanh always do: they cannot be run backwards).

The batch sits in the SIMD lanes (16 floats with AVX-512, 8 with AVX2): each thread runs all T steps of a
chunk of batch rows whose state stays in L1/L2 cache.

The C++ source is compiled with torch.utils.cpp_extension (g++ and ninja, both declared by the package)
at first use and cached under ``data/cache/torch_extensions/`` of the checkout (git-ignored;
``QORNN_EXT_DIR`` overrides). :func:`available` says whether it built; when it cannot, a one-time warning
is issued and :class:`~qornn.models.recurrent.HadamardWeight` keeps its dense path — unless
``QORNN_REQUIRE_FAST_KERNEL=1`` (set by CI), which turns the failure into an error.
:func:`set_enabled` / :func:`disabled` switch the kernel off globally (e.g. to benchmark the dense path);
``weight.fast = False`` switches it off for one :class:`HadamardWeight`.

:func:`hadamard_recurrence` is the linear recurrence from pre-activations with all states, with a second,
plain-torch backend of the same algorithm (one :func:`qornn.hadamard.fwht` per step) that the tests use
as a reference.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import platform
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

from .hadamard import check_power_of_two, fwht
from .quantize import binary_sign

__all__ = [
    "available",
    "load_extension",
    "enabled",
    "set_enabled",
    "disabled",
    "supports",
    "hadamard_rnn",
    "hadamard_recurrence",
    "implementation",
    "keep_freed_memory",
    "NONLINEARITY_CODES",
]

_CSRC = Path(__file__).resolve().parent / "csrc" / "hadamard_rnn.cpp"
_REPO_ROOT = Path(__file__).resolve().parents[1]
_EXT_DTYPES = (torch.float32, torch.float64)
#: the recurrence's σ, as the kernel numbers them
NONLINEARITY_CODES = {"linear": 0, "relu": 1, "tanh": 2}
#: set to 1 (CI does) to make a failed build an error instead of a warning and the dense path
REQUIRE_ENV = "QORNN_REQUIRE_FAST_KERNEL"

_lock = threading.Lock()
_ext = None
_ext_error: str | None = None
_enabled = True


def _cpu_tag() -> str:
    """A short hash of the CPU's feature flags and the source: the build uses -march=native, so a cached
    build is only reused on a CPU with the same instruction set."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = line
                    break
    except OSError:
        pass
    return hashlib.sha256(f"{platform.machine()} {flags}".encode()).hexdigest()[:10]


def _build_dir() -> Path:
    if os.environ.get("QORNN_EXT_DIR"):
        root = Path(os.environ["QORNN_EXT_DIR"])
    elif (_REPO_ROOT / "pyproject.toml").exists():  # editable install: inside the (git-ignored) data/cache
        root = _REPO_ROOT / "data" / "cache" / "torch_extensions"
    else:
        root = Path.home() / ".cache" / "qornn" / "torch_extensions"
    return root / f"hadamard_rnn_{_cpu_tag()}"


def _ninja_on_path() -> None:
    """cpp_extension runs ``ninja`` from PATH; the pip package puts it beside the interpreter, which is
    not on PATH when a venv's python is run without activating the venv."""
    if shutil.which("ninja") is None:
        os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


#: a build lock older than this is left over from an interrupted build (a build takes about a minute)
STALE_LOCK_S = 600


def clear_stale_lock(build: Path) -> None:
    """Remove the lock file an interrupted build left in ``build`` (cpp_extension would wait for it
    forever): one older than :data:`STALE_LOCK_S`."""
    import time

    lock = build / "lock"
    with contextlib.suppress(OSError):
        if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            warnings.warn(f"qornn: removing {lock}, left by an interrupted build", RuntimeWarning,
                          stacklevel=2)
            lock.unlink()


def load_extension():
    """The compiled C++ module, building it on first use; None (with a one-time warning) if it fails,
    or a RuntimeError when ``QORNN_REQUIRE_FAST_KERNEL=1``."""
    global _ext, _ext_error
    if _ext is None and _ext_error is None:
        with _lock:
            if _ext is None and _ext_error is None:
                _ext, _ext_error = _build()
    if _ext is None and os.environ.get(REQUIRE_ENV) == "1":
        raise RuntimeError(f"{REQUIRE_ENV}=1 but the fast HadamRNN kernel could not be built: {_ext_error}")
    return _ext


def _compile_flags() -> list[str]:
    """The kernel's compiler flags. -fopenmp: without it ATen's parallel_for compiles to a serial loop
    and the kernel runs on one thread whatever torch.set_num_threads says (the symbols resolve to
    torch's own libgomp). With GCC, avoid-fma-max-bits=0: GCC's tuning for AMD Zen fuses a + b·c into
    one FMA in 512-bit vectors but not in 256-bit ones, so a row's numbers would depend on the width
    of the chunk it runs in (the batch's last rows run half width); with it they never do."""
    import subprocess

    flags = ["-O3", "-march=native", "-fopenmp"]
    compiler = os.environ.get("CXX", "c++")
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    if "Free Software Foundation" in version:  # GCC; clang does not know the parameter
        flags.append("--param=avoid-fma-max-bits=0")
    return flags


def _build():
    try:
        from torch.utils import cpp_extension

        _ninja_on_path()
        build = _build_dir()
        build.mkdir(parents=True, exist_ok=True)
        clear_stale_lock(build)
        ext = cpp_extension.load(name="qornn_hadamard_rnn", sources=[str(_CSRC)],
                                 extra_cflags=_compile_flags(),
                                 extra_ldflags=["-fopenmp"], build_directory=str(build), verbose=False)
        return ext, None
    except Exception as err:  # no compiler, no ninja, a build error: keep the dense path working
        error = f"{type(err).__name__}: {err}".strip()
        lines = error.splitlines() or [""]
        summary = next((line for line in lines if "error" in line.lower() and "[" not in line[:3]), lines[0])
        if os.environ.get(REQUIRE_ENV) != "1":
            warnings.warn(
                "qornn: could not build the fast HadamRNN kernel "
                f"({summary.strip()[:300]}); HadamRNN falls back to the dense path, which is "
                "correct but several times slower. Install a C++ compiler (g++) and ninja to enable it.",
                RuntimeWarning,
                stacklevel=3,
            )
        return None, error


def available() -> bool:
    """True when the C++ kernel is built (builds it on first call)."""
    return load_extension() is not None


def enabled() -> bool:
    return _enabled


def set_enabled(value: bool) -> None:
    """Switch the fast kernel on or off for every HadamardWeight (the dense path is the reference)."""
    global _enabled
    _enabled = bool(value)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """``with disabled(): ...`` runs HadamardWeight on its dense path."""
    previous = _enabled
    set_enabled(False)
    try:
        yield
    finally:
        set_enabled(previous)


def supports(x: torch.Tensor, s: torch.Tensor, *others: torch.Tensor, nonlinearity: str = "linear") -> bool:
    """Whether the C++ kernel handles these tensors and this σ: a 3-d input x, the signs s and the
    ``others`` (U, b, V, c) all on the CPU in one dtype, float32 or float64, and σ one of
    :data:`NONLINEARITY_CODES` (not modReLU). The one place that says what the kernel can run."""
    return (nonlinearity in NONLINEARITY_CODES and x.dim() == 3 and x.dtype in _EXT_DTYPES
            and all(t.device.type == "cpu" and t.dtype == x.dtype for t in (x, s, *others)))


def implementation(model: torch.nn.Module, announce: bool = False) -> str:
    """Which code runs the recurrence of ``model`` on the CPU now, for the results record: "fused
    C++ kernel" (this module) or "dense" (one matrix product per step, autograd backward). Builds the
    kernel if the model runs on it; ``announce``: say so on stderr first when no build of it is here
    yet (about a minute, which would otherwise pass in silence; a rebuild of an existing one after a
    change of torch or of the source is not announced)."""
    from .models.recurrent import HadamardWeight

    weights = [m for m in model.modules() if isinstance(m, HadamardWeight)]
    if not weights:
        return "dense"
    fast = all(getattr(w, "fast", True) for w in weights) and enabled()
    if (announce and fast and _ext is None and _ext_error is None
            and not any(_build_dir().glob("qornn_hadamard_rnn*.so"))):
        print(f"qornn: building the fused HadamRNN kernel into {_build_dir()} (once for this checkout and "
              "CPU, about a minute)", file=sys.stderr, flush=True)
    return "fused C++ kernel" if fast and available() else "dense"


class _HadamardRNN(torch.autograd.Function):
    """Outputs (states, logits): the states as asked (all, or the last), and with a readout its logits
    (T, B, o) (else an empty tensor)."""

    @staticmethod
    def forward(ctx, inp, weight, bias, s, readout_weight, readout_bias, block, nonlin, all_states,
                reversible):
        ctx.set_materialize_grads(False)  # unused outputs get no gradient, not a (T, B, n) tensor of zeros
        direct, has_readout = weight is not None, readout_weight is not None
        empty = inp.new_empty(0)
        weight = weight.contiguous() if direct else empty
        bias = bias.contiguous() if direct else empty
        v = readout_weight.contiguous() if has_readout else empty
        c = readout_bias.contiguous() if has_readout else empty
        # Only the signs of s are used (±1 when it comes from sign_ste(u)); the backward formula
        # ∂L/∂s = s ⊙ Σ δ̃ ⊙ (pre − a) relies on s² = 1.
        sc = (binary_sign(s.detach()) / math.sqrt(block)).contiguous()
        keep_all = all_states or not reversible
        out, logits = load_extension().forward(inp, weight, bias, sc, v, c, block, nonlin, direct, keep_all)
        states = out[-1].clone() if reversible and all_states else out
        ctx.save_for_backward(inp, weight, bias, sc, v, states)
        ctx.block, ctx.nonlin, ctx.direct, ctx.has_readout = block, nonlin, direct, has_readout
        return (out if all_states or not keep_all else out[-1].clone()), logits

    @staticmethod
    def backward(ctx, grad, grad_logits):
        inp, weight, bias, sc, v, states = ctx.saved_tensors
        grad = inp.new_empty(0) if grad is None else grad.contiguous()
        if not ctx.has_readout:
            grad_logits = inp.new_empty(0)
        elif grad_logits is None:
            T, B = inp.shape[:2] if not ctx.direct else (inp.shape[1], inp.shape[0])
            grad_logits = inp.new_zeros(T, B, v.shape[0])
        else:
            grad_logits = grad_logits.contiguous()
        grad_inp, grad_w, grad_b, grad_s, grad_v, grad_c = load_extension().backward(
            grad, grad_logits, inp, weight, bias, sc, v, states, ctx.block, ctx.nonlin, ctx.direct,
            ctx.needs_input_grad[0])
        if not ctx.direct:
            grad_w = grad_b = None
        if not ctx.has_readout:
            grad_v = grad_c = None
        return (grad_inp if ctx.needs_input_grad[0] else None, grad_w, grad_b, grad_s, grad_v, grad_c,
                None, None, None, None)


def hadamard_rnn(
    inp: torch.Tensor,
    s: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    block: int | None = None,
    nonlinearity: str = "linear",
    all_states: bool = True,
    reversible: bool | None = None,
    readout_weight: torch.Tensor | None = None,
    readout_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """States of h_t = σ(diag(s)(I ⊗ H_m)/√m h_{t-1} + a_t), h_0 = 0, with the fused C++ kernel.

    With ``weight`` U (n, d) and ``bias`` b (n,), ``inp`` is x (B, T, d) and a_t = U x_t + b inside the
    loop; without them, ``inp`` is the pre-activations a (T, B, n). Returns all states (T, B, n), or the
    last (B, n) when ``all_states=False``. With ``readout_weight`` V (o, n) and ``readout_bias`` c (o,),
    returns instead the logits y_t = V ReLU(h_t) + c of every step, (T, B, o), computed inside the loop
    (no (T, B, n) tensor is built for a linear recurrence). Differentiable in every tensor argument
    (``s = sign_ste(u)``: only its signs are read, sign(0) = +1). ``reversible`` (linear only) rebuilds the
    states backwards instead of storing them; None: reversible when no state but the last is returned
    and σ is linear.
    """
    if nonlinearity not in NONLINEARITY_CODES:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: {', '.join(NONLINEARITY_CODES)}")
    if inp.dim() != 3:
        raise ValueError(f"input must be 3-d, got shape {tuple(inp.shape)}")
    if s.dim() != 1:
        raise ValueError(f"s must be 1-d, got shape {tuple(s.shape)}")
    n = s.shape[0]
    if (weight is None) != (bias is None):
        raise ValueError("pass both weight U and bias b (direct mode), or neither (pre-activations)")
    if (readout_weight is None) != (readout_bias is None):
        raise ValueError("pass both readout_weight V and readout_bias c, or neither")
    if weight is not None:
        if weight.shape != (n, inp.shape[2]) or bias.shape != (n,):
            raise ValueError(f"U must be ({n}, {inp.shape[2]}) and b ({n},), got {tuple(weight.shape)} "
                             f"and {tuple(bias.shape)}")
    elif inp.shape[2] != n:
        raise ValueError(f"pre-activations must be (T, B, {n}), got {tuple(inp.shape)}")
    readout = readout_weight is not None
    if readout and (readout_weight.dim() != 2 or readout_weight.shape[1] != n
                    or readout_bias.shape != (readout_weight.shape[0],)):
        raise ValueError(f"the readout must be V (o, {n}) and c (o,), got {tuple(readout_weight.shape)} "
                         f"and {tuple(readout_bias.shape)}")
    m = n if block is None else block
    check_power_of_two(m, "Hadamard block size")
    if n % m:
        raise ValueError(f"hidden size n={n} must be a multiple of the Hadamard block size {m}")
    if readout:
        all_states = False
    if reversible is None:
        reversible = nonlinearity == "linear" and not all_states
    elif reversible and nonlinearity != "linear":
        raise ValueError(f"the {nonlinearity} recurrence cannot be reversed: use reversible=False")
    extra = [t for t in (weight, bias, readout_weight, readout_bias) if t is not None]
    if not supports(inp, s, *extra, nonlinearity=nonlinearity):
        raise ValueError("the fast kernel takes CPU float32/float64 tensors of one dtype")
    if not available():
        raise RuntimeError(f"the fast HadamRNN kernel could not be built: {_ext_error}")
    states, logits = _HadamardRNN.apply(inp.contiguous(), weight, bias, s, readout_weight, readout_bias, m,
                                        NONLINEARITY_CODES[nonlinearity], bool(all_states), bool(reversible))
    return logits if readout else states


# ---------------------------------------------------------------------------------------------------------
# the linear recurrence from pre-activations, all states; a plain-torch backend as the tests' second reference


def _torch_forward(a: torch.Tensor, sc: torch.Tensor, block: int) -> torch.Tensor:
    out = torch.empty_like(a)
    h = a[0]
    out[0] = h
    for t in range(1, a.shape[0]):
        h = sc * fwht(h, block=block) + a[t]
        out[t] = h
    return out


def _torch_backward(grad, a, sc, h, block, reversible):
    T = a.shape[0]
    grad_a = torch.empty_like(a)
    acc = torch.zeros(a.shape[2], dtype=torch.float64, device=a.device)
    d = grad[T - 1]
    ht = h
    for t in range(T - 1, -1, -1):
        if not reversible:
            ht = h[t]
        grad_a[t] = d
        diff = ht - a[t]
        acc += (d * diff).sum(0, dtype=torch.float64)
        if t == 0:
            break
        if reversible:
            ht = fwht(sc * diff, block=block)
        d = fwht(sc * d, block=block) + grad[t - 1]
    return grad_a, (acc * torch.sign(sc).double()).to(a.dtype)


class _TorchHadamardRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, s, block, reversible):
        sc = (binary_sign(s.detach()) / math.sqrt(block)).contiguous()
        with torch.no_grad():
            out = _torch_forward(a, sc, block)
        ctx.block, ctx.reversible = block, reversible
        ctx.save_for_backward(a, sc, out[-1].clone() if reversible else out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, sc, h = ctx.saved_tensors
        with torch.no_grad():
            grad_a, grad_s = _torch_backward(grad, a, sc, h, ctx.block, ctx.reversible)
        return grad_a, grad_s, None, None


def hadamard_recurrence(
    a: torch.Tensor,
    s: torch.Tensor,
    block: int | None = None,
    *,
    reversible: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """All states (T, B, n) of h_t = diag(s)(I ⊗ H_m)/√m h_{t-1} + a_t, h_0 = 0, differentiable in a and s.

    ``backend`` is "cpp" (:func:`hadamard_rnn`), "torch" (the same algorithm in plain torch: slow for
    small n, needs no compiler), or "auto" (cpp when built and the tensors are supported, else torch).
    """
    if a.dim() != 3:
        raise ValueError(f"a must be time-major (T, B, n), got shape {tuple(a.shape)}")
    n = a.shape[2]
    if s.shape != (n,):
        raise ValueError(f"s must have shape ({n},), got {tuple(s.shape)}")
    m = n if block is None else block
    check_power_of_two(m, "Hadamard block size")
    if n % m:
        raise ValueError(f"hidden size n={n} must be a multiple of the Hadamard block size {m}")
    if backend not in ("auto", "cpp", "torch"):
        raise ValueError(f"unknown backend {backend!r}; valid: auto, cpp, torch")
    if backend == "auto":
        backend = "cpp" if supports(a, s) and available() else "torch"
    if a.shape[0] == 0:
        return a.new_empty(a.shape) + 0 * s.sum()
    if backend == "cpp":
        return hadamard_rnn(a, s, block=m, reversible=reversible)
    return _TorchHadamardRecurrence.apply(a.contiguous(), s, m, bool(reversible))


def keep_freed_memory() -> bool:
    """Opt-in, process-wide: ask glibc's malloc to serve large blocks from its heap and keep freed memory.

    A training step allocates several (T, B, n) tensors (160 MB each at n = 512, T = 784, B = 100).
    glibc gives every block above 32 MB its own fresh mmap, so each step pays the kernel's page faults on
    first touch again (about 0.07 s per 160 MB here): about half of a fast HadamRNN step at n = 512.
    After this call those blocks come from the heap and are reused from step to step; the price is that
    the process keeps its peak memory instead of returning it to the system. Returns False (and does
    nothing) where the C library has no ``mallopt`` (non-glibc systems).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4
    ok = mallopt(m_mmap_max, 0) == 1
    ok &= mallopt(m_trim_threshold, 2**31 - 1) == 1
    ok &= mallopt(m_top_pad, 64 << 20) == 1
    return bool(ok)


def float32_ulps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """How many float32 values lie between ``a`` and ``b``, elementwise (finite float32 tensors):
    the distance in units in the last place by which the kernel's float tanh is measured against
    the exact one (``tests/test_fast_hadamard.py``, ``benchmarks/tanh_recurrence.py``)."""
    def ordered(x: torch.Tensor) -> torch.Tensor:  # float32 bits as integers in the floats' order
        bits = x.view(torch.int32).long()
        return torch.where(bits < 0, -(bits & 0x7FFFFFFF), bits)
    return (ordered(a) - ordered(b)).abs()
