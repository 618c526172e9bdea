"""Fast linear Hadamard recurrence: one FWHT per step forward and backward, the time loop in C++.

    h_t = W h_{t-1} + a_t,   W = diag(s) · (I_{n/m} ⊗ H_m) / √m,   s ∈ {±1}^n,   h_0 = 0

:func:`hadamard_recurrence` returns all states (T, B, n) from time-major pre-activations a (T, B, n),
like :func:`qornn.models.recurrent.dense_recurrence` with that W, but never builds W:

- forward: z_t = H h_{t-1} is one fast Walsh–Hadamard transform (n log₂ m additions), h_t = s ⊙ z_t/√m + a_t;
- backward (hand-written): ∂L/∂a_t = δ_t, δ_{t-1} = Wᵀ δ_t + g_{t-1} = H(s ⊙ δ_t)/√m + g_{t-1}, and
  ∂L/∂s = Σ_t Σ_batch δ_t ⊙ z_t/√m = s ⊙ Σ δ_t ⊙ (h_t − a_t) (elementwise: no n×n gradient exists).
  The caller passes s = sign_ste(u), so ∂L/∂s reaches u through the straight-through estimator exactly
  as in the dense path.
- ``reversible=True`` stores only the last state and rebuilds h_{t-1} = H(s ⊙ (h_t − a_t))/√m during the
  backward pass (W is orthogonal, so the recurrence runs backwards exactly up to rounding): two FWHTs
  per step instead of one, O(B·n) instead of O(T·B·n) memory for the states.

Two backends compute the same thing:

- ``"cpp"``: ``qornn/csrc/fast_hadamard.cpp``, compiled with torch.utils.cpp_extension at first use and
  cached under ``data/cache/torch_extensions/`` of the checkout (git-ignored; ``QORNN_EXT_DIR``
  overrides). The whole time loop runs in C++; every batch row is an independent recurrence, so each
  thread runs all T steps of a contiguous slice of the batch with its state in L1 cache.
- ``"torch"``: the same algorithm in plain torch (one :func:`qornn.hadamard.fwht` per step). Slow for
  small n (per-call overhead, see shared notes on speed) but needs no compiler; used by the tests as a
  second reference.

:func:`available` says whether the C++ backend could be built; when it cannot (no compiler), a one-time
warning is issued and :class:`~qornn.models.recurrent.HadamardWeight` keeps its dense path.
:func:`set_enabled` / :func:`disabled` switch the fast path off globally (e.g. to benchmark the dense
path); ``weight.fast = False`` switches it off for one :class:`HadamardWeight`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import platform
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
    "hadamard_recurrence",
    "keep_freed_memory",
]

_CSRC = Path(__file__).resolve().parent / "csrc" / "fast_hadamard.cpp"
_REPO_ROOT = Path(__file__).resolve().parents[1]
_EXT_DTYPES = (torch.float32, torch.float64)

# Loop order of the C++ kernels: 1 = time-major (one step for every row of a thread's batch slice, then
# the next step: memory is read and written as contiguous streams), 0 = row-major (all T steps of one
# batch row, then the next row). Chosen by measurement (see benchmarks/README.md).
LOOP_ORDER = 1

_lock = threading.Lock()
_ext = None
_ext_error: str | None = None
_enabled = True


def _cpu_tag() -> str:
    """A short hash of the CPU's feature flags: the build uses -march=native, so a cached build is
    only reused on a CPU with the same instruction set."""
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
    return root / f"fast_hadamard_{_cpu_tag()}"


def load_extension():
    """The compiled C++ module, building it on first use; None (with a one-time warning) if it fails."""
    global _ext, _ext_error
    if _ext is not None or _ext_error is not None:
        return _ext
    with _lock:
        if _ext is not None or _ext_error is not None:
            return _ext
        try:
            from torch.utils import cpp_extension

            build = _build_dir()
            build.mkdir(parents=True, exist_ok=True)
            flags = ["-O3", "-march=native"]
            _ext = cpp_extension.load(
                name="qornn_fast_hadamard",
                sources=[str(_CSRC)],
                extra_cflags=flags,
                build_directory=str(build),
                verbose=False,
            )
        except Exception as err:  # no compiler, no ninja, a build error: keep the dense path working
            _ext_error = f"{type(err).__name__}: {err}".strip()
            lines = _ext_error.splitlines() or [""]
            summary = next((line for line in lines if "error" in line.lower() and "[" not in line[:3]),
                           lines[0])
            warnings.warn(
                "qornn: could not build the C++ fast Hadamard recurrence "
                f"({summary.strip()[:300]}); HadamRNN falls back to the dense path, which is "
                "correct but several times slower. Install a C++ compiler (g++) and ninja to enable it.",
                RuntimeWarning,
                stacklevel=2,
            )
    return _ext


def available() -> bool:
    """True when the C++ backend is built (builds it on first call)."""
    return load_extension() is not None


def enabled() -> bool:
    return _enabled


def set_enabled(value: bool) -> None:
    """Switch the fast path on or off for every HadamardWeight (the dense path is the reference)."""
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


def supports(a: torch.Tensor, s: torch.Tensor) -> bool:
    """Whether the C++ backend handles these tensors (CPU, float32/float64, same dtype)."""
    return (a.device.type == "cpu" and s.device.type == "cpu" and a.dtype in _EXT_DTYPES
            and s.dtype == a.dtype and a.dim() == 3)


# ---------------------------------------------------------------------------------------------------------
# torch backend (same algorithm, one torch call per butterfly stage): reference and compiler-free fallback


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


class _HadamardRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, s, block, reversible, backend):
        a = a.contiguous()
        # Only the signs of s are used (its values are ±1 when it comes from sign_ste(u)); the backward
        # formula ∂L/∂s = s ⊙ Σ δ ⊙ (h − a) relies on s² = 1.
        sc = (binary_sign(s.detach()) / math.sqrt(block)).contiguous()
        if backend == "cpp":
            out = load_extension().forward(a, sc, block, LOOP_ORDER)
        else:
            with torch.no_grad():
                out = _torch_forward(a, sc, block)
        ctx.block, ctx.reversible, ctx.backend = block, reversible, backend
        if reversible:
            ctx.save_for_backward(a, sc, out[-1].contiguous())
        else:
            ctx.save_for_backward(a, sc, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, sc, h = ctx.saved_tensors
        grad = grad.contiguous()
        if ctx.backend == "cpp":
            grad_a, grad_s = load_extension().backward(grad, a, sc, h, ctx.block, ctx.reversible,
                                                           LOOP_ORDER)
        else:
            with torch.no_grad():
                grad_a, grad_s = _torch_backward(grad, a, sc, h, ctx.block, ctx.reversible)
        return grad_a, grad_s, None, None, None


def hadamard_recurrence(
    a: torch.Tensor,
    s: torch.Tensor,
    block: int | None = None,
    *,
    reversible: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """All states (T, B, n) of h_t = diag(s)(I ⊗ H_m)/√m h_{t-1} + a_t, h_0 = 0, differentiable in a and s.

    ``s`` holds ±1 values: pass ``sign_ste(u)`` to train u with the straight-through estimator (only the
    signs of s are read, with sign(0) = +1; its gradient is ∂L/∂s as if s were exactly ±1).
    ``block`` = m defaults to n. ``backend`` is "cpp", "torch", or "auto" (cpp when built and the
    tensors are supported, else torch).
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
    if backend == "auto":
        backend = "cpp" if supports(a, s) and available() else "torch"
    elif backend == "cpp":
        if not supports(a, s):
            raise ValueError("the cpp backend takes CPU float32/float64 tensors of the same dtype")
        if not available():
            raise RuntimeError(f"the C++ fast Hadamard recurrence could not be built: {_ext_error}")
    elif backend != "torch":
        raise ValueError(f"unknown backend {backend!r}; valid: auto, cpp, torch")
    if a.shape[0] == 0:
        return a.new_empty(a.shape) + 0 * s.sum()
    return _HadamardRecurrence.apply(a, s, m, bool(reversible), backend)


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

