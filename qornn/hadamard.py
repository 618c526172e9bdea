"""Sylvester Hadamard matrices and the fast Walsh–Hadamard transform (FWHT).

The Sylvester construction gives, for every n = 2^k,

    H_1 = [1],        H_{2m} = [[H_m,  H_m],
                                [H_m, -H_m]],

a symmetric matrix with entries ±1 and H_n H_n = n I. Hence H_n / √n is orthogonal and its own
inverse. The product H_n x costs n log₂ n additions through the butterfly recursion (the FWHT)
instead of the n² multiply-adds of a dense product.

A block-Hadamard matrix I_{n/m} ⊗ H_m puts n/m copies of H_m on the diagonal: entries in
{-1, 0, +1} with a fraction m/n of non-zeros (Block-HadamRNN's sparse ternary recurrence).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "check_power_of_two",
    "sylvester_hadamard",
    "block_hadamard",
    "fwht",
]


def check_power_of_two(n: int, name: str = "size") -> int:
    """Return ``log2(n)`` or raise a ValueError naming ``name`` when n is not a power of two."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be an int power of two, got {n!r} ({type(n).__name__})")
    if n < 1 or n & (n - 1):
        lower = 1 << max(n.bit_length() - 1, 0)
        raise ValueError(
            f"{name} must be a power of two (1, 2, 4, 8, ...), got {n}; "
            f"nearest valid values: {lower} or {lower * 2}"
        )
    return n.bit_length() - 1


def sylvester_hadamard(
    n: int, *, normalized: bool = False, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The n×n Sylvester Hadamard matrix H_n (entries ±1), or H_n/√n when ``normalized``.

    Entry (i, j) equals (-1)^popcount(i & j), which is the closed form of the recursion above.
    """
    check_power_of_two(n, "Hadamard size n")
    idx = torch.arange(n)
    parity = torch.zeros(n, n, dtype=torch.int64)
    and_ = idx[:, None] & idx[None, :]
    while bool(and_.any()):
        parity ^= and_ & 1
        and_ = and_ >> 1
    h = (1 - 2 * parity).to(dtype)
    return h / math.sqrt(n) if normalized else h


def block_hadamard(
    n: int, block: int, *, normalized: bool = False, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """I_{n/block} ⊗ H_block: n/block Hadamard blocks of size ``block`` on the diagonal."""
    check_power_of_two(block, "Hadamard block size")
    if n < 1 or n % block:
        raise ValueError(
            f"hidden size n={n} must be a positive multiple of the Hadamard block size {block}"
        )
    h = sylvester_hadamard(block, normalized=normalized, dtype=dtype)
    return torch.block_diag(*([h] * (n // block)))


def fwht(x: torch.Tensor, *, block: int | None = None, normalized: bool = False) -> torch.Tensor:
    """Fast Walsh–Hadamard transform along the last dimension: returns x @ H (= H x, H symmetric).

    With ``block`` = m, transforms each consecutive group of m entries (x @ (I ⊗ H_m)).
    ``normalized`` divides by √m so that the transform is orthogonal. Differentiable (it is a
    sequence of additions and subtractions, so autograd gives back another FWHT).
    """
    n = x.shape[-1]
    m = n if block is None else block
    k = check_power_of_two(m, "Hadamard block size" if block is not None else "last dimension")
    if n % m:
        raise ValueError(f"last dimension {n} is not a multiple of the Hadamard block size {m}")
    lead = x.shape[:-1]
    y = x.reshape(-1, n // m, m)
    h = 1
    for _ in range(k):
        # pair entry i with entry i + h inside every group of 2h entries
        y = y.reshape(y.shape[0], n // m, m // (2 * h), 2, h)
        a, b = y[:, :, :, 0, :], y[:, :, :, 1, :]
        y = torch.stack((a + b, a - b), dim=3)
        h *= 2
    y = y.reshape(*lead, n)
    return y / math.sqrt(m) if normalized else y
