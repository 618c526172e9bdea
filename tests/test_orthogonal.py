"""qornn.orthogonal: spectral norm, Björck, polar projection, Cayley/exp maps, projUNN steps."""

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qornn.orthogonal import (
    BjorckDivergenceError,
    bjorck,
    cayley,
    expm_skew,
    low_rank_approximation,
    orthogonality_error,
    polar_low_rank_update,
    power_iteration,
    project_orthogonal,
    projunn_step,
    skew,
    spectral_norm,
    tangent_low_rank_update,
)

SEEDS = st.integers(0, 2**31 - 1)


@pytest.fixture(autouse=True)
def one_thread():
    """Small matrices: one thread is faster, and leaves the other core to whoever needs it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
SIZES = st.integers(2, 24)


def _random_orthogonal(n, gen, dtype=torch.float64):
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=dtype))
    return q * torch.sign(torch.diagonal(r))


def _with_singular_values(s, gen, dtype=torch.float64):
    n = len(s)
    return _random_orthogonal(n, gen, dtype) @ torch.diag(torch.as_tensor(s, dtype=dtype)) @ \
        _random_orthogonal(n, gen, dtype)


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS, n=SIZES)
def test_power_iteration_matches_svd_with_a_spectral_gap(seed, n):
    gen = torch.Generator().manual_seed(seed)
    s = torch.linspace(0.1, 1.0, n, dtype=torch.float64) * 3
    s[-1] = 6.0  # gap σ₂/σ₁ = 1/2: converges in a few iterations
    w = _with_singular_values(s, gen)
    sigma, u, v = power_iteration(w, iters=50, tol=1e-10)
    assert float(sigma) == pytest.approx(6.0, rel=1e-6)
    assert float(sigma) <= float(torch.linalg.matrix_norm(w, 2)) * (1 + 1e-9)


def test_spectral_norm_gradient_is_u_v_transpose():
    gen = torch.Generator().manual_seed(0)
    w = _with_singular_values([3.0, 1.0, 0.5, 0.2], gen).requires_grad_()
    sigma, u, v = power_iteration(w, iters=100, tol=0)
    sigma.backward()
    torch.testing.assert_close(w.grad, torch.outer(u, v))
    assert float(spectral_norm(w.detach(), iters=100, tol=0)) == pytest.approx(3.0, rel=1e-6)


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS, n=SIZES, smallest=st.floats(0.3, 1.0))
def test_bjorck_converges_for_spectral_norm_at_most_one(seed, n, smallest):
    gen = torch.Generator().manual_seed(seed)
    s = torch.linspace(smallest, 1.0, n, dtype=torch.float64)
    w = _with_singular_values(s, gen)
    out = bjorck(w)  # β = 0.5, ≤ 15 iterations, tol 1e-3: the defaults
    assert orthogonality_error(out) < 1e-3
    # it converges to the polar factor of w
    torch.testing.assert_close(out, project_orthogonal(w), atol=1e-3, rtol=0)


@pytest.mark.parametrize("scale", [1.01, 1.5, 3.0])
def test_bjorck_raises_above_spectral_norm_one(scale):
    gen = torch.Generator().manual_seed(1)
    w = _with_singular_values(torch.linspace(0.5, 1.0, 8) * scale, gen)
    with pytest.raises(BjorckDivergenceError, match="spectral norm"):
        bjorck(w)
    # normalising first is the documented fix
    assert orthogonality_error(bjorck(w / spectral_norm(w, iters=100, tol=0) / (1 + 1e-9))) < 1e-3


def test_bjorck_without_check_diverges_above_sqrt3():
    w = torch.eye(4, dtype=torch.float64) * 2.5
    out = bjorck(w, check=False, iters=3)
    assert orthogonality_error(out) > 100.0


def test_bjorck_one_step_is_the_formula():
    gen = torch.Generator().manual_seed(2)
    w = _with_singular_values(torch.linspace(0.2, 1.0, 6), gen)
    torch.testing.assert_close(bjorck(w, iters=1), 1.5 * w - 0.5 * w @ w.t() @ w)


def test_bjorck_is_differentiable():
    gen = torch.Generator().manual_seed(3)
    w = _with_singular_values(torch.linspace(0.5, 1.0, 5), gen).requires_grad_()
    bjorck(w).sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, n=SIZES)
def test_project_orthogonal_is_orthogonal_and_nearest(seed, n):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(n, n, generator=gen, dtype=torch.float64)
    p = project_orthogonal(w)
    assert orthogonality_error(p) < 1e-10
    q = _random_orthogonal(n, gen)
    assert float((p - w).norm()) <= float((q - w).norm()) + 1e-10


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, n=SIZES, scale=st.floats(0.01, 5.0))
def test_cayley_and_exponential_maps_are_orthogonal(seed, n, scale):
    gen = torch.Generator().manual_seed(seed)
    a = skew(torch.randn(n, n, generator=gen, dtype=torch.float64)) * scale
    eye = torch.eye(n, dtype=torch.float64)
    c = cayley(a)
    assert orthogonality_error(c) < 1e-9
    torch.testing.assert_close(c, (eye + a / 2) @ torch.linalg.inv(eye - a / 2))
    e = expm_skew(a)
    assert orthogonality_error(e) < 1e-9
    assert float(torch.linalg.det(e)) == pytest.approx(1.0, abs=1e-8)


def test_maps_refuse_non_skew_input():
    with pytest.raises(ValueError, match="skew"):
        cayley(torch.eye(3))
    with pytest.raises(ValueError, match="skew"):
        expm_skew(torch.ones(3, 3))
    with pytest.raises(ValueError, match="square"):
        bjorck(torch.ones(2, 3))


def test_low_rank_approximation_is_exact_on_low_rank_matrices():
    gen = torch.Generator().manual_seed(4)
    g = torch.randn(12, 3, generator=gen, dtype=torch.float64) @ torch.randn(3, 12, generator=gen,
                                                                              dtype=torch.float64)
    for method in ("svd", "rsvd"):
        left, right = low_rank_approximation(g, 3, method)
        torch.testing.assert_close(left @ right.t(), g)
    with pytest.raises(ValueError, match="rank"):
        low_rank_approximation(g, 13)


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, n=st.integers(4, 24), rank=st.integers(1, 4), lr=st.floats(1e-3, 1.0))
# W − L Rᵀ nearly singular (σ_min ≈ 4e-5): the Gram-based update is then off by about ε κ²
@example(seed=25600, n=13, rank=4, lr=0.1241116511257474)
def test_low_rank_updates_match_their_dense_definitions(seed, n, rank, lr):
    gen = torch.Generator().manual_seed(seed)
    w = _random_orthogonal(n, gen)
    left = torch.randn(n, rank, generator=gen, dtype=torch.float64) * lr
    right = torch.randn(n, rank, generator=gen, dtype=torch.float64)
    a = w - left @ right.t()
    d = polar_low_rank_update(w, left, right)
    # the update goes through AᵀA, whose condition number is κ(A)²: the docstring's bound ε κ(A)²,
    # tight (1e-8) wherever A is well conditioned
    singular_values = torch.linalg.svdvals(a)
    gram_error = torch.finfo(a.dtype).eps * float(singular_values[0] / singular_values[-1]) ** 2
    torch.testing.assert_close(d, project_orthogonal(a), atol=1e-8 + 10 * gram_error, rtol=0)
    t = tangent_low_rank_update(w, left, right)
    torch.testing.assert_close(t, w @ torch.linalg.matrix_exp(-skew(w.t() @ left @ right.t())),
                               atol=1e-8, rtol=0)


@pytest.mark.parametrize("variant", ["D", "T"])
@pytest.mark.parametrize("rank", [1, 4, None])
def test_projunn_steps_stay_orthogonal_in_float32_and_descend(variant, rank):
    gen = torch.Generator().manual_seed(5)
    n = 32
    w = _random_orthogonal(n, gen).float()
    # a target at a generic rotation from w (a random orthogonal target can make the top singular
    # direction of the gradient purely normal to O(n), where a rank-1 step does not move)
    target = (w.double() @ torch.linalg.matrix_exp(skew(torch.randn(n, n, generator=gen,
                                                                    dtype=torch.float64)) / 2)).float()
    loss = lambda m: float(((m - target) ** 2).sum())  # noqa: E731
    start = loss(w)
    for _ in range(60):
        w = projunn_step(w, 2 * (w - target), lr=0.01, rank=rank, variant=variant)
        assert orthogonality_error(w) < 1e-5
    assert loss(w) < start


def test_uncorrected_projunn_d_amplifies_float_drift():
    """Why projunn_step corrects "D" by default: without it the deviation grows geometrically."""
    gen = torch.Generator().manual_seed(5)
    w = _random_orthogonal(32, gen).float()
    target = _random_orthogonal(32, gen).float()
    for _ in range(60):
        w = projunn_step(w, 2 * (w - target), lr=0.01, rank=1, variant="D", correct=False)
    assert orthogonality_error(w) > 1e-5


def test_book_excerpts_skip_exactly_the_docstrings():
    """book/models.md shows some functions without their docstring through ``:lines:``; a docstring
    that grows or shrinks would silently shift the excerpt, so check the numbers against the source."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = (root / "book" / "models.md").read_text()
    pattern = r"```\{literalinclude\} \.\./(\S+)\n(?::language: \w+\n)?:pyobject: (\S+)\n:lines: (\S+)\n"
    found = re.findall(pattern, page)
    assert found
    for path, obj, lines in found:
        tree = ast.parse((root / path).read_text())
        node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == obj)
        doc = node.body[0]
        head = doc.lineno - node.lineno  # signature lines
        after = doc.end_lineno - node.lineno + 2
        want = f"1-{head},{after}-" if head > 1 else f"1,{after}-"
        assert lines == want, f"{path}:{obj}: book uses :lines: {lines}, source needs {want}"


# --- Henaff's initialisation ----------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 7, 128])
def test_henaff_start_is_a_rotation_of_each_pair_of_units(n):
    from qornn.orthogonal import henaff_orthogonal

    w = henaff_orthogonal(n, torch.Generator().manual_seed(n)).double()
    assert orthogonality_error(w) < 1e-6
    assert torch.linalg.det(w).item() == pytest.approx(1.0, abs=1e-6)  # rotations only: SO(n)
    pairs = torch.arange(n) // 2
    off_blocks = pairs[:, None] != pairs[None, :]
    assert bool((w[off_blocks] == 0).all())  # nothing couples two different pairs
    for i in range(0, n - 1, 2):  # each 2×2 block is [[cos θ, sin θ], [−sin θ, cos θ]]
        block = w[i:i + 2, i:i + 2]
        assert block[0, 0] == block[1, 1] and block[0, 1] == -block[1, 0]
    if n % 2:
        assert w[-1, -1] == 1.0
    # eigenvalues on the unit circle (no decay), in conjugate pairs
    assert torch.allclose(torch.linalg.eigvals(w).abs(), torch.ones(n, dtype=torch.float64), atol=1e-9)


def test_henaff_start_has_an_entry_near_one_where_a_haar_one_does_not():
    """What the QORNN authors' STE-projUNN copy models show (α_W = max|W| ≈ 0.999) and ours, started
    Haar-random, do not (≈ 0.36 at n = 128)."""
    from qornn.orthogonal import henaff_orthogonal

    generator = torch.Generator().manual_seed(0)
    henaff = [float(henaff_orthogonal(128, generator).abs().max()) for _ in range(20)]
    haar = []
    for _ in range(20):
        w = torch.empty(128, 128)
        torch.nn.init.orthogonal_(w, generator=generator)
        haar.append(float(w.abs().max()))
    assert min(henaff) > 0.99 and max(haar) < 0.6


def test_projunn_weight_starts_as_told_and_rejects_an_unknown_start():
    from qornn.models import build_model
    from qornn.models.qornn import ProjUNNWeight

    torch.manual_seed(0)
    weight = ProjUNNWeight(64, 6, init="henaff")
    assert orthogonality_error(weight.weight.detach().double()) < 1e-5
    assert float(weight.weight.detach().abs().max()) > 0.98 and "init=henaff" in repr(weight)
    torch.manual_seed(0)
    assert float(ProjUNNWeight(64, 6).weight.detach().abs().max()) < 0.8  # Haar by default, as before
    net = build_model("qornn-ste-projunn", input_size=3, output_size=2, hidden_size=8, bits=6, init="henaff")
    assert net.recurrent.init == "henaff"
    with pytest.raises(ValueError, match="unknown orthogonal init 'identity'; valid: haar, henaff"):
        ProjUNNWeight(8, 6, init="identity")
