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


def assert_model_fast_equals_dense(model, x):
    """The model's output and every parameter's gradient, on the kernel and on the dense path."""
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


@pytest.mark.parametrize("many_to_many", [False, True])
@pytest.mark.parametrize("block", [None, 8])
def test_model_fast_path_matches_dense_path(many_to_many, block):
    torch.manual_seed(1)
    name, opts = ("hadamrnn", {}) if block is None else ("block-hadamrnn", {"block": block})
    model = build_model(name, input_size=3, output_size=5, hidden_size=32, many_to_many=many_to_many, **opts)
    x = torch.randn(4, 50, 3)
    assert_model_fast_equals_dense(model, x)


def test_supports_says_once_what_the_kernel_runs():
    x, s = torch.randn(2, 5, 16), torch.ones(16)
    assert fh.supports(x, s) and fh.supports(x, s, nonlinearity="tanh")
    assert not fh.supports(x, s, nonlinearity="modrelu")  # the kernel has no modReLU
    assert not fh.supports(x, s, torch.ones(16, 3, dtype=torch.float64))  # U of another dtype
    assert not fh.supports(x.to(torch.bfloat16), s.to(torch.bfloat16))
    assert not fh.supports(x[0], s)  # 2-d input
    weight = HadamardWeight(16)
    u, b = torch.ones(16, 3), torch.ones(16)
    inputs = torch.randn(2, 5, 3)
    # what supports refuses, the layer computes on the dense path instead (None), not an error
    assert weight.fused_states(inputs, u, b, "modrelu", False) is None
    assert weight.fused_states(inputs, u, b, "linear", True, (torch.ones(4, 16, dtype=torch.float64),
                                                              torch.ones(4, dtype=torch.float64))) is None
    with pytest.raises(ValueError, match="modrelu"):
        fh.hadamard_rnn(torch.randn(5, 2, 16), s, nonlinearity="modrelu")


def test_switches_force_dense_path(monkeypatch):
    calls = []
    monkeypatch.setattr(fh, "hadamard_rnn", lambda *args, **kw: calls.append(1) or None)
    weight = HadamardWeight(16)
    a = torch.randn(4, 2, 16)
    with fh.disabled():
        assert weight.recur(a).shape == (4, 2, 16)
        assert weight.fused_states(a, torch.ones(16, 16), torch.ones(16), "linear", False) is None
    weight.fast = False
    assert weight.recur(a, "relu").shape == (4, 2, 16)
    assert calls == []
    weight.fast = True
    if CPP:
        weight.recur(a)
        weight.recur(a, "tanh")  # the nonlinear recurrences take the kernel too
        assert calls == [1, 1]


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
    monkeypatch.delenv(fh.REQUIRE_ENV, raising=False)
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
    assert fh.implementation(build_model("hadamrnn", input_size=1, output_size=2, hidden_size=8)) == "dense"


def test_failed_build_is_an_error_when_the_kernel_is_required(monkeypatch, tmp_path):
    monkeypatch.setattr(fh, "_ext", None)
    monkeypatch.setattr(fh, "_ext_error", None)
    from torch.utils import cpp_extension

    monkeypatch.setattr(cpp_extension, "load", lambda **kw: (_ for _ in ()).throw(RuntimeError("no g++")))
    monkeypatch.setenv("QORNN_EXT_DIR", str(tmp_path / "ext"))
    monkeypatch.setenv(fh.REQUIRE_ENV, "1")
    with pytest.raises(RuntimeError, match="QORNN_REQUIRE_FAST_KERNEL=1.*no g\\+\\+"):
        fh.available()


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


@pytest.mark.skipif(not CPP, reason="no C++ build")
def test_kernel_runs_on_the_threads_torch_is_given():
    # built without OpenMP, ATen's parallel_for is a serial loop: two threads then ran as fast as one
    ext = fh.load_extension()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert ext.threads_used(8) == 2
        torch.set_num_threads(1)
        assert ext.threads_used(8) == 1
    finally:
        torch.set_num_threads(before)


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


# ---------------------------------------------------------------------------------------------------------
# the fused kernel (hadamard_rnn): x, U, b and the signs in, states out, every gradient against the dense path

FUSED_CASES = [  # (T, B, n, block, d): odd batches (not a multiple of the SIMD lanes), blocks, d = 1
    (37, 19, 32, 32, 3),
    (50, 1, 64, 8, 1),
    (23, 33, 16, 4, 2),
    (9, 8, 8, 1, 5),
    (1, 5, 16, 16, 1),
]


def dense_fused_reference(x, U, b, u, block, nonlinearity, all_states):
    n = U.shape[0]
    a = (x @ U.t() + b).transpose(0, 1)
    w = sign_ste(u)[:, None] * block_hadamard(n, block, dtype=x.dtype) / math.sqrt(block)
    h = dense_recurrence(a, w, nonlinearity)
    return h if all_states else h[-1]


@pytest.mark.skipif(not CPP, reason="no C++ build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("nonlinearity,reversible", [("linear", None), ("linear", True), ("linear", False),
                                                     ("relu", None), ("tanh", None)])
@pytest.mark.parametrize("all_states", [True, False])
@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("T,B,n,block,d", FUSED_CASES)
def test_fused_kernel_matches_dense(T, B, n, block, d, direct, all_states, nonlinearity, reversible, dtype):
    """Forward and the gradients of x, U, b and u, for both input modes (x with U and b inside the loop, or
    pre-activations), both backward modes (stored and rebuilt states), many-to-one and many-to-many."""
    gen = torch.Generator().manual_seed(T * 1000 + B)
    x = torch.randn(B, T, d, dtype=dtype, generator=gen, requires_grad=True)
    U = torch.randn(n, d, dtype=dtype, generator=gen, requires_grad=True)
    b = torch.randn(n, dtype=dtype, generator=gen, requires_grad=True)
    u = torch.randn(n, dtype=dtype, generator=gen)
    u[::5] = 0.0  # sign(0) = +1
    u.requires_grad_()
    g = torch.randn((T, B, n) if all_states else (B, n), dtype=dtype, generator=gen)

    def fused():
        if direct:
            return fh.hadamard_rnn(x, sign_ste(u), weight=U, bias=b, block=block, nonlinearity=nonlinearity,
                                   all_states=all_states, reversible=reversible)
        a = (x @ U.t() + b).transpose(0, 1)
        return fh.hadamard_rnn(a, sign_ste(u), block=block, nonlinearity=nonlinearity,
                               all_states=all_states, reversible=reversible)

    results = []
    for fn in (fused, lambda: dense_fused_reference(x, U, b, u, block, nonlinearity, all_states)):
        out = fn()
        results.append((out.detach(), *torch.autograd.grad((out * g).sum(), (x, U, b, u))))
    tol = TOL[dtype] * (10 if reversible or (reversible is None and not all_states) else 1)
    for name, got, ref in zip(("states", "grad x", "grad U", "grad b", "grad u"), *results, strict=True):
        assert got.shape == ref.shape and got.dtype == ref.dtype, name
        assert rel(got, ref) <= tol, (name, rel(got, ref))


@pytest.mark.skipif(not CPP, reason="no C++ build")
def test_reversible_backward_stores_no_states():
    """Many-to-one, linear: the saved tensors hold the last state only (O(B·n) memory), not all T."""
    T, B, n = 200, 4, 64
    x = torch.randn(B, T, 1)
    U = torch.randn(n, 1, requires_grad=True)
    b = torch.zeros(n, requires_grad=True)
    out = fh.hadamard_rnn(x, sign_ste(torch.randn(n, requires_grad=True)), weight=U, bias=b,
                          all_states=False)
    saved = out.grad_fn.saved_tensors
    assert max(t.numel() for t in saved) <= max(B * n, x.numel())
    stored = fh.hadamard_rnn(x, sign_ste(torch.randn(n, requires_grad=True)), weight=U, bias=b,
                             all_states=False, reversible=False)
    assert max(t.numel() for t in stored.grad_fn.saved_tensors) == T * B * n


@pytest.mark.skipif(not CPP, reason="no C++ build")
def test_fused_kernel_threads_do_not_change_the_result():
    x = torch.randn(37, 300, 2, dtype=torch.float64, requires_grad=True)
    U = torch.randn(64, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(64, dtype=torch.float64, requires_grad=True)
    u = torch.randn(64, dtype=torch.float64, requires_grad=True)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out = fh.hadamard_rnn(x, sign_ste(u), weight=U, bias=b, block=16, all_states=False)
            results.append((out.detach(), *torch.autograd.grad(out.square().sum(), (x, U, b, u))))
    finally:
        torch.set_num_threads(before)
    for p, q in zip(*results, strict=True):
        assert rel(p, q) <= 1e-13


@pytest.mark.skipif(not CPP, reason="no C++ build")
def test_two_threads_give_the_same_numbers_every_time():
    """The threads' gradient sums are added in a fixed order: whichever thread ends first, two runs
    at two threads agree bit for bit (batch 100: full chunks and a half-width tail, split in two)."""
    x = torch.randn(100, 25, 1, requires_grad=True)  # (B, T, d)
    U, b, u = (torch.randn(128, 1, requires_grad=True), torch.randn(128, requires_grad=True),
               torch.randn(128, requires_grad=True))
    before = torch.get_num_threads()
    results = []
    try:
        torch.set_num_threads(2)
        for _ in range(4):
            out = fh.hadamard_rnn(x, sign_ste(u), weight=U, bias=b, block=128, all_states=False)
            results.append((out.detach(), *torch.autograd.grad(out.sum(), (x, U, b, u))))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for p, q in zip(results[0], other, strict=True):
            assert torch.equal(p, q)


def test_fused_kernel_bad_arguments():
    x = torch.randn(2, 5, 3)
    s = torch.ones(16)
    with pytest.raises(ValueError, match="nonlinearity 'sigmoid'"):
        fh.hadamard_rnn(x, s, weight=torch.ones(16, 3), bias=torch.ones(16), nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="both weight U and bias b"):
        fh.hadamard_rnn(x, s, weight=torch.ones(16, 3))
    with pytest.raises(ValueError, match=r"U must be \(16, 3\)"):
        fh.hadamard_rnn(x, s, weight=torch.ones(16, 2), bias=torch.ones(16))
    with pytest.raises(ValueError, match="tanh recurrence cannot be reversed"):
        fh.hadamard_rnn(x, s, weight=torch.ones(16, 3), bias=torch.ones(16), nonlinearity="tanh",
                        reversible=True)
    with pytest.raises(ValueError, match="12"):
        fh.hadamard_rnn(x, s, weight=torch.ones(16, 3), bias=torch.ones(16), block=12)
    with pytest.raises(ValueError, match=r"pre-activations must be \(T, B, 16\)"):
        fh.hadamard_rnn(x, s)


@pytest.mark.parametrize("name,options,inputs", [
    ("hadamrnn", {"many_to_many": True}, "tokens"),
    ("hadamrnn", {"nonlinearity": "relu"}, "float"),
    ("hadamrnn", {"nonlinearity": "tanh", "many_to_many": True}, "float"),
    ("block-hadamrnn", {"block": 4, "bits": 2}, "float"),
])
def test_models_on_the_kernel_match_the_dense_path(name, options, inputs):
    """Whole models, every parameter's gradient: token inputs (one-hot inside the kernel), ReLU and tanh."""
    torch.manual_seed(3)
    d = 6
    model = build_model(name, input_size=d, output_size=4, hidden_size=16, **options)
    x = torch.randint(0, d, (5, 30)) if inputs == "tokens" else torch.randn(5, 30, d)
    assert_model_fast_equals_dense(model, x)
    assert fh.implementation(model) == ("fused C++ kernel" if CPP else "dense")
    with fh.disabled():
        assert fh.implementation(model) == "dense"


@pytest.mark.skipif(not CPP, reason="no C++ build")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("nonlinearity,reversible", [("linear", None), ("linear", False), ("relu", None),
                                                     ("tanh", None)])
@pytest.mark.parametrize("T,B,n,block,d", FUSED_CASES[:3])
def test_fused_readout_matches_dense(T, B, n, block, d, nonlinearity, reversible, dtype):
    """y_t = V ReLU(h_t) + c inside the loop (the copy task's readout at every step): logits and the
    gradients of x, U, b, u, V and c; the linear recurrence then keeps no (T, B, n) tensor (reversible)."""
    gen = torch.Generator().manual_seed(7 * T + B)
    o = 5
    x, U, b, u, V, c = (torch.randn(*shape, dtype=dtype, generator=gen).requires_grad_()
                        for shape in ((B, T, d), (n, d), (n,), (n,), (o, n), (o,)))
    g = torch.randn(T, B, o, dtype=dtype, generator=gen)

    def fused():
        return fh.hadamard_rnn(x, sign_ste(u), weight=U, bias=b, block=block, nonlinearity=nonlinearity,
                               reversible=reversible, readout_weight=V, readout_bias=c)

    def dense():
        h = dense_fused_reference(x, U, b, u, block, nonlinearity, all_states=True)
        return torch.relu(h) @ V.t() + c

    results = []
    for fn in (fused, dense):
        out = fn()
        results.append((out.detach(), *torch.autograd.grad((out * g).sum(), (x, U, b, u, V, c))))
    tol = TOL[dtype] * 10
    names = ("logits", "grad x", "grad U", "grad b", "grad u", "grad V", "grad c")
    for name, got, ref in zip(names, *results, strict=True):
        assert got.shape == ref.shape, name
        assert rel(got, ref) <= tol, (name, rel(got, ref))
    if nonlinearity == "linear" and reversible is None:
        saved = fused().grad_fn.saved_tensors
        assert max(t.numel() for t in saved) < T * B * n or T * B * n <= max(x.numel(), o * n)


def test_a_stale_build_lock_is_removed_a_fresh_one_kept(tmp_path):
    import os
    import time

    lock = tmp_path / "lock"
    lock.write_text("")
    fh.clear_stale_lock(tmp_path)
    assert lock.exists()  # a build may be running now
    old = time.time() - fh.STALE_LOCK_S - 10
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="interrupted build"):
        fh.clear_stale_lock(tmp_path)
    assert not lock.exists()


@pytest.mark.skipif(not CPP, reason="no C++ build")
def test_the_kernels_float_tanh_is_within_a_few_ulp_of_the_exact_one():
    """The recurrence's float tanh works on whole SIMD vectors (std::tanh is scalar): from the
    smallest subnormal through the range where tanh rounds to 1, both signs, it stays within 3 units
    in the last place of tanh computed in float64 (2 measured on AVX-512; torch's float tanh: 1), it
    is odd bit for bit, and ±0, ±inf and NaN come out as tanh's."""
    grid = torch.logspace(-45, 2, 400_001, dtype=torch.float64)
    x = torch.cat([torch.linspace(-10, 10, 400_001, dtype=torch.float64), grid, -grid]).float()
    ours = fh.load_extension().tanh_float(x)
    assert int(fh.float32_ulps(ours, torch.tanh(x.double()).float()).max()) <= 3
    assert torch.equal(fh.load_extension().tanh_float(-x), -ours)
    specials = fh.load_extension().tanh_float(torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan]))
    assert specials[:4].tolist() == [0.0, -0.0, 1.0, -1.0] and specials[4].isnan()
    assert torch.signbit(specials[:2]).tolist() == [False, True]


def test_float32_ulps_counts_the_floats_between_two_values():
    one = torch.tensor([1.0])
    after = torch.nextafter(one, torch.tensor([2.0]))
    tiny = torch.tensor([1e-45])  # the smallest subnormal float32
    assert fh.float32_ulps(one, after).item() == 1 and fh.float32_ulps(after, one).item() == 1
    assert fh.float32_ulps(torch.tensor([0.0]), torch.tensor([-0.0])).item() == 0  # one zero
    assert fh.float32_ulps(tiny, -tiny).item() == 2  # across zero
    assert fh.float32_ulps(one, torch.tensor([2.0])).item() == 2 ** 23


def test_a_first_build_of_the_kernel_is_announced_once_and_only_for_a_model_that_runs_on_it(
        tmp_path, monkeypatch, capsys):
    """The first HadamRNN run on a machine spent a minute compiling without a word."""
    from qornn import fast_hadamard
    from qornn.models import build_model
    from qornn.models.recurrent import HadamardWeight

    monkeypatch.delenv(fast_hadamard.REQUIRE_ENV, raising=False)  # CI requires the kernel: not this build
    monkeypatch.setattr(fast_hadamard, "_ext", None)
    monkeypatch.setattr(fast_hadamard, "_ext_error", None)
    monkeypatch.setattr(fast_hadamard, "_build_dir", lambda: tmp_path)
    monkeypatch.setattr(fast_hadamard, "_build", lambda: (None, "not built in this test"))
    hadamrnn = build_model("hadamrnn", input_size=2, output_size=2, hidden_size=8)
    fast_hadamard.implementation(build_model("lstm", input_size=2, output_size=2, hidden_size=8),
                                 announce=True)
    dense = build_model("hadamrnn", input_size=2, output_size=2, hidden_size=8)
    for module in dense.modules():
        if isinstance(module, HadamardWeight):
            module.fast = False  # runs on the dense path: builds nothing
    fast_hadamard.implementation(dense, announce=True)
    fast_hadamard.implementation(hadamrnn)  # not asked to (a notebook, progress off)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(fast_hadamard, "_ext_error", None)  # that call tried the build: a fresh start
    fast_hadamard.implementation(hadamrnn, announce=True)
    assert f"building the fused HadamRNN kernel into {tmp_path}" in capsys.readouterr().err
    monkeypatch.setattr(fast_hadamard, "_ext_error", None)
    (tmp_path / "qornn_hadamard_rnn.so").write_bytes(b"")  # built before: loading takes no time
    fast_hadamard.implementation(hadamrnn, announce=True)
    assert capsys.readouterr().err == ""
