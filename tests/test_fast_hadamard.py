"""The fast Hadamard recurrence (qornn.fast_hadamard) against the dense reference path."""

import math
import warnings

import pytest
import torch

from qornn import fast_hadamard as fh
from qornn.hadamard import block_hadamard
from qornn.models import build_model
from qornn.models.recurrent import HadamardWeight, dense_recurrence
from qornn.quantize import sign_ste

CPP = fh.available()
BACKENDS = ["torch", pytest.param("cpp", marks=pytest.mark.skipif(not CPP, reason="no C++ build"))]
TOL = {torch.float32: 2e-5, torch.float64: 1e-12}

# (T, B, n, block): full Hadamard, Block-HadamRNN blocks, blocks narrower than one SIMD vector,
# T = 1 and B = 1 edge cases.
SHAPES = [
    (40, 5, 64, 64),
    (25, 3, 128, 16),
    (17, 4, 32, 4),
    (12, 2, 16, 2),
    (9, 3, 8, 1),
    (30, 6, 4, 4),
    (1, 3, 16, 16),
    (20, 1, 32, 32),
    (1, 1, 8, 8),
    (100, 5, 256, 256),
]


def rel(x, y):
    scale = y.norm()
    return float((x - y).norm() / scale) if scale > 0 else float((x - y).norm())


def dense_reference(a, u, block):
    n = a.shape[2]
    w = sign_ste(u)[:, None] * block_hadamard(n, block, dtype=a.dtype) / math.sqrt(block)
    return dense_recurrence(a, w)


def run(fn, a, u, g):
    out = fn()
    ga, gu = torch.autograd.grad((out * g).sum(), (a, u))
    return out.detach(), ga, gu


def inputs(T, B, n, dtype, zeros=False):
    a = torch.randn(T, B, n, dtype=dtype, requires_grad=True)
    u = torch.empty(n, dtype=dtype).uniform_(-1, 1)
    if zeros:  # sign(0) = +1
        u[:: 3] = 0.0
    u.requires_grad_()
    g = torch.randn(T, B, n, dtype=dtype)
    return a, u, g


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reversible", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("T,B,n,block", SHAPES)
def test_matches_dense(T, B, n, block, dtype, reversible, backend):
    a, u, g = inputs(T, B, n, dtype, zeros=(n % 3 == 1))
    ref = run(lambda: dense_reference(a, u, block), a, u, g)
    got = run(lambda: fh.hadamard_recurrence(a, sign_ste(u), block, reversible=reversible, backend=backend),
              a, u, g)
    tol = TOL[dtype] * (10 if reversible else 1)
    for name, x, y in zip(("states", "grad a", "grad u"), got, ref, strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype
        assert rel(x, y) <= tol, (name, rel(x, y))


@pytest.mark.skipif(not CPP, reason="no C++ build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpp_equals_torch_backend(dtype):
    a, u, g = inputs(60, 9, 128, dtype)
    x = run(lambda: fh.hadamard_recurrence(a, sign_ste(u), 32, backend="cpp"), a, u, g)
    y = run(lambda: fh.hadamard_recurrence(a, sign_ste(u), 32, backend="torch"), a, u, g)
    for p, q in zip(x, y, strict=True):
        assert rel(p, q) <= TOL[dtype]


def test_zero_signs_are_plus_one():
    n = 16
    a = torch.randn(5, 2, n)
    u = torch.zeros(n)
    u[1] = -0.5
    s = torch.ones(n)
    s[1] = -1.0
    w = s[:, None] * block_hadamard(n, n) / math.sqrt(n)
    out = fh.hadamard_recurrence(a, sign_ste(u))
    assert torch.allclose(out, dense_recurrence(a, w), rtol=1e-5, atol=1e-5)


def test_norm_preserved_by_orthogonal_w():
    # ‖h_t‖ is preserved by W when a_t = 0 for t > 1, for any u: W is orthogonal.
    n = 64
    a = torch.zeros(30, 3, n)
    a[0] = torch.randn(3, n)
    u = torch.randn(n)
    out = fh.hadamard_recurrence(a, sign_ste(u), 8)
    assert torch.allclose(out.norm(dim=2), a[0].norm(dim=1).expand(30, 3), rtol=1e-5)


@pytest.mark.parametrize("many_to_many", [False, True])
@pytest.mark.parametrize("block", [None, 8])
def test_model_fast_path_matches_dense_path(many_to_many, block):
    torch.manual_seed(1)
    name, opts = ("hadamrnn", {}) if block is None else ("block-hadamrnn", {"block": block})
    model = build_model(name, input_size=3, output_size=5, hidden_size=32, many_to_many=many_to_many, **opts)
    x = torch.randn(4, 50, 3)

    def grads():
        model.zero_grad()
        out = model(x)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        return out.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}

    fast_out, fast_grads = grads()
    with fh.disabled():
        dense_out, dense_grads = grads()
    assert rel(fast_out, dense_out) <= 2e-5
    for k in dense_grads:
        assert rel(fast_grads[k], dense_grads[k]) <= 2e-5, k


def test_switches_force_dense_path(monkeypatch):
    calls = []
    monkeypatch.setattr(fh, "hadamard_recurrence", lambda *args, **kw: calls.append(1) or None)
    weight = HadamardWeight(16)
    a = torch.randn(4, 2, 16)
    with fh.disabled():
        assert weight.recur(a).shape == (4, 2, 16)
    weight.fast = False
    assert weight.recur(a).shape == (4, 2, 16)
    weight.fast = True
    assert weight.recur(a, "relu").shape == (4, 2, 16)  # ReLU recurrence: always dense
    assert calls == []
    if CPP:
        weight.recur(a)
        assert calls == [1]


def test_bad_arguments():
    a = torch.randn(3, 2, 16)
    with pytest.raises(ValueError):
        fh.hadamard_recurrence(a, torch.ones(8))
    with pytest.raises(ValueError):
        fh.hadamard_recurrence(a, torch.ones(16), 3)
    with pytest.raises(ValueError):
        fh.hadamard_recurrence(a[0], torch.ones(16))
    with pytest.raises(ValueError):
        fh.hadamard_recurrence(a, torch.ones(16), backend="gpu")


def test_failed_build_warns_once_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(fh, "_ext", None)
    monkeypatch.setattr(fh, "_ext_error", None)

    def broken(**kwargs):
        raise RuntimeError("error: no compiler")

    from torch.utils import cpp_extension

    monkeypatch.setattr(cpp_extension, "load", broken)
    monkeypatch.setenv("QORNN_EXT_DIR", str(tmp_path / "ext"))
    with pytest.warns(RuntimeWarning, match="falls back to the dense path"):
        assert not fh.available()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning only
        assert not fh.available()
    weight = HadamardWeight(8)
    a = torch.randn(3, 2, 8)
    w = weight.matrix()
    assert torch.allclose(weight.recur(a), dense_recurrence(a, w))
    with pytest.raises(RuntimeError):
        fh.hadamard_recurrence(a, weight.signs(), backend="cpp")
    assert fh.hadamard_recurrence(a, weight.signs()).shape == (3, 2, 8)  # auto: torch backend


@pytest.mark.skipif(not CPP, reason="no C++ build")
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("reversible", [False, True])
def test_cpp_loop_orders_agree(monkeypatch, order, reversible):
    a, u, g = inputs(33, 7, 64, torch.float64)
    ref = run(lambda: dense_reference(a, u, 16), a, u, g)
    monkeypatch.setattr(fh, "LOOP_ORDER", order)
    got = run(lambda: fh.hadamard_recurrence(a, sign_ste(u), 16, reversible=reversible, backend="cpp"),
              a, u, g)
    for x, y in zip(got, ref, strict=True):
        assert rel(x, y) <= 1e-11


@pytest.mark.skipif(not CPP, reason="no C++ build")
def test_threads_do_not_change_the_result():
    a, u, g = inputs(50, 13, 32, torch.float64)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(run(lambda: fh.hadamard_recurrence(a, sign_ste(u), backend="cpp"), a, u, g))
    finally:
        torch.set_num_threads(before)
    for x, y in zip(*results, strict=True):
        assert rel(x, y) <= 1e-13


def test_keep_freed_memory_runs_in_a_subprocess():
    # process-wide malloc setting: exercised in a child process so that the test session is unaffected
    import subprocess
    import sys

    code = ("import torch; from qornn.fast_hadamard import keep_freed_memory; ok = keep_freed_memory(); "
            "x = torch.ones(10_000_000); del x; y = torch.zeros(10_000_000); "
            "assert float(y.sum()) == 0; print(ok)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("True", "False")
