import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qornn.quantize import (
    binary_sign,
    check_bits,
    quantization_scale,
    quantize_ste,
    sign_ste,
    uniform_quantize,
)

tensors = st.builds(
    lambda seed, scale, n: torch.randn(n, generator=torch.Generator().manual_seed(seed)) * scale,
    st.integers(0, 2**31 - 1), st.floats(1e-3, 1e3), st.integers(1, 300))


@settings(max_examples=60, deadline=None)
@given(w=tensors, bits=st.integers(2, 8))
def test_at_most_2_to_the_k_levels_and_idempotent(w, bits):
    q = uniform_quantize(w, bits)
    assert q.unique().numel() <= 2**bits
    # Idempotent for a fixed scale α. (With α recomputed as max|q| it is not: the largest positive
    # entry sits on level 2^(k-1)-1, so a second pass would shrink the grid.)
    alpha = quantization_scale(w)
    torch.testing.assert_close(uniform_quantize(q, bits, alpha), q)
    # values lie on the grid α/2^(k-1)·{-2^(k-1) .. 2^(k-1)-1}
    codes = q * 2 ** (bits - 1) / alpha
    torch.testing.assert_close(codes, codes.round(), atol=1e-4, rtol=0)
    codes = codes.round()
    assert codes.min() >= -(2 ** (bits - 1)) and codes.max() <= 2 ** (bits - 1) - 1


def test_all_levels_are_used_on_a_ramp():
    w = torch.linspace(-1, 1, 10_000)
    for bits in (2, 3, 4, 8):
        assert uniform_quantize(w, bits).unique().numel() == 2**bits


def test_zero_tensor_quantizes_to_zero():
    assert torch.equal(uniform_quantize(torch.zeros(5), 4), torch.zeros(5))


def test_ste_gradient_is_identity():
    w = torch.randn(50, requires_grad=True)
    g = torch.randn(50)
    (quantize_ste(w, 3) * g).sum().backward()
    torch.testing.assert_close(w.grad, g)
    u = torch.randn(50, requires_grad=True)
    (sign_ste(u) * g).sum().backward()
    torch.testing.assert_close(u.grad, g)


def test_sign_of_zero_is_plus_one():
    assert torch.equal(binary_sign(torch.tensor([-2.0, 0.0, -0.0, 3.0])), torch.tensor([-1.0, 1, 1, 1]))
    assert torch.equal(sign_ste(torch.zeros(3)), torch.ones(3))


def test_full_precision_passes_through():
    w = torch.randn(7)
    assert quantize_ste(w, None) is w


@pytest.mark.parametrize("bits", [0, 1, 17, -3, 2.5, True, "4"])
def test_bad_bit_widths_are_named(bits):
    with pytest.raises((ValueError, TypeError), match="bits"):
        check_bits(bits)


# -- learned range (LSQ) ---------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(w=tensors, bits=st.integers(2, 8), factor=st.floats(0.2, 2.0))
def test_learned_range_has_the_value_of_the_fixed_quantizer(w, bits, factor):
    from qornn.quantize import quantize_learned_range

    alpha = quantization_scale(w) * factor
    torch.testing.assert_close(quantize_learned_range(w, bits, alpha), uniform_quantize(w, bits, alpha))


def test_learned_range_gradients_follow_lsq():
    """∂q/∂w: 1 inside the grid, 0 for clipped entries; ∂q/∂α = (r − v·1[inside])/L · g."""
    from qornn.quantize import quantize_learned_range

    bits, levels = 3, 4.0
    w = torch.tensor([-2.0, -0.3, 0.05, 0.26, 0.7, 1.5], requires_grad=True)
    alpha = torch.tensor(1.0, requires_grad=True)
    quantize_learned_range(w, bits, alpha).sum().backward()
    v = w.detach() * levels / 1.0
    r = torch.clamp(torch.round(v), -levels, levels - 1)
    inside = (v >= -levels) & (v <= levels - 1)
    torch.testing.assert_close(w.grad, inside.float())
    g = 1.0 / (6 * (levels - 1)) ** 0.5
    expected = float(((r - v * inside) / levels).sum()) * g
    assert float(alpha.grad) == pytest.approx(expected)


def test_learned_range_grows_when_clipping_dominates_and_shrinks_when_the_grid_is_too_coarse():
    """Minimising ‖q(w) − w‖² over α alone moves α the right way from both sides."""
    from qornn.quantize import quantize_learned_range

    w = torch.linspace(-1, 1, 1001)
    for start, direction in ((0.2, +1), (8.0, -1)):
        alpha = torch.tensor(start, requires_grad=True)
        ((quantize_learned_range(w, 3, alpha) - w) ** 2).sum().backward()
        assert direction * float(alpha.grad) < 0, (start, float(alpha.grad))
