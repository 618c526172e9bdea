import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qornn.hadamard import block_hadamard, check_power_of_two, fwht, sylvester_hadamard


def sylvester_by_recursion(n: int) -> torch.Tensor:
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat((torch.cat((h, h), 1), torch.cat((h, -h), 1)), 0)
    return h


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 256])
def test_closed_form_equals_recursion_and_is_orthogonal(n):
    h = sylvester_hadamard(n)
    assert torch.equal(h, sylvester_by_recursion(n))
    assert torch.equal(h, h.T)
    assert torch.equal(h @ h, n * torch.eye(n))


@pytest.mark.parametrize("n", [0, 3, 6, 12, 100, -4])
def test_non_power_of_two_is_a_clear_error(n):
    with pytest.raises(ValueError, match=f"power of two.*got {n}"):
        sylvester_hadamard(n)


def test_check_power_of_two_rejects_non_ints():
    with pytest.raises(TypeError):
        check_power_of_two(8.0)
    assert check_power_of_two(1024) == 10


@settings(max_examples=25, deadline=None)
@given(k=st.integers(0, 9), batch=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_fwht_equals_dense_product(k, batch, seed):
    n = 2**k
    x = torch.randn(batch, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    torch.testing.assert_close(fwht(x), x @ sylvester_hadamard(n, dtype=torch.float64))
    torch.testing.assert_close(fwht(x, normalized=True),
                               x @ sylvester_hadamard(n, normalized=True, dtype=torch.float64))


@pytest.mark.parametrize("n,block", [(16, 4), (64, 8), (32, 32), (8, 1)])
def test_block_fwht_equals_block_diagonal_product(n, block):
    x = torch.randn(3, 2, n, dtype=torch.float64)
    torch.testing.assert_close(fwht(x, block=block), x @ block_hadamard(n, block, dtype=torch.float64))


def test_block_hadamard_sparsity_and_orthogonality():
    b = block_hadamard(64, 16, normalized=True)
    assert (b != 0).float().mean().item() == pytest.approx(16 / 64)
    torch.testing.assert_close(b @ b.T, torch.eye(64), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="multiple of the Hadamard block size 16"):
        block_hadamard(40, 16)


def test_fwht_is_differentiable_and_self_adjoint():
    x = torch.randn(4, 32, requires_grad=True)
    g = torch.randn(4, 32)
    (fwht(x) * g).sum().backward()
    torch.testing.assert_close(x.grad, fwht(g))
    assert math.isclose(fwht(torch.ones(1, 8))[0, 0].item(), 8.0)
