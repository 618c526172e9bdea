"""Which binary and ternary orthogonal matrices exist, as checked constructors.

**Binary.** An n×n orthogonal matrix with entries in {−c, +c} has unit-norm rows, so c = 1/√n and
H = √n·W is a *Hadamard matrix*: entries ±1, H Hᵀ = n I. Classical theorem (Hadamard 1893; Paley
1933): a Hadamard matrix of order n exists only if n = 1, n = 2 or n ≡ 0 (mod 4). The converse is
Hadamard's conjecture (open; the smallest unknown order is 668). HadamRNN's binary recurrent matrices
are therefore possible only for those n. This module constructs

* Sylvester matrices H_{2^a} (every power of two; what HadamRNN uses),
* Paley-I matrices of order q + 1 for a prime q ≡ 3 (mod 4) (12, 20, 24, 32, 44, 48, 60, 68, ...),
* and Kronecker products H_{2^a} ⊗ Paley_{q+1} of the two,

raises a ValueError (the theorem) for every other n except multiples of 4 that these constructions
miss, where it raises NotImplementedError (such a matrix is believed to exist, qornn cannot build it).

**Ternary.** An orthogonal W with entries in {−c, 0, +c} has rows of unit norm, so every row (and
column) has the same number w = 1/c² of non-zeros: √w·W is a *weighing matrix* W(n, w). The sparse
ternary matrices of Block-HadamRNN are the block-diagonal ones, diag(s)·(I_{n/m} ⊗ H_m)/√m with
H_m a Hadamard matrix and m | n: a weighing matrix W(n, m) with a fraction 1 − m/n of zeros.
(The exact statement of the HadamRNN paper's theorem could not be read; this is the classical
mathematics behind it and the construction its code uses.)
"""

from __future__ import annotations

import math

import torch

from ..hadamard import sylvester_hadamard

__all__ = [
    "hadamard_order_possible",
    "hadamard_matrix",
    "paley_hadamard",
    "binary_orthogonal_matrix",
    "orthogonal_ternary_matrix",
    "ternary_sparsity",
]


def _check_int(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def _is_prime(q: int) -> bool:
    return q >= 2 and all(q % d for d in range(2, math.isqrt(q) + 1))


def hadamard_order_possible(n: int) -> bool:
    """The necessary condition of the theorem: n = 1, 2 or n ≡ 0 (mod 4)."""
    _check_int(n, "order n")
    return n in (1, 2) or n % 4 == 0


def paley_hadamard(q: int) -> torch.Tensor:
    """Paley's construction I: a Hadamard matrix of order q + 1 for a prime q ≡ 3 (mod 4).

    With χ the Legendre symbol mod q and the Jacobsthal matrix Q_ij = χ(j − i) (skew-symmetric when
    q ≡ 3 mod 4, Q Qᵀ = q I − J, Q J = 0): H = I + [[0, 1ᵀ], [−1, Q]] satisfies H Hᵀ = (q+1) I.
    """
    if not (_is_prime(q) and q % 4 == 3):
        raise ValueError(f"Paley construction I needs a prime q ≡ 3 (mod 4), got q={q}")
    residues = {(i * i) % q for i in range(1, q)}
    chi = torch.tensor([0] + [1 if a in residues else -1 for a in range(1, q)], dtype=torch.int64)
    idx = torch.arange(q)
    jac = chi[(idx[None, :] - idx[:, None]) % q]
    s = torch.zeros(q + 1, q + 1, dtype=torch.int64)
    s[0, 1:] = 1
    s[1:, 0] = -1
    s[1:, 1:] = jac
    h = torch.eye(q + 1, dtype=torch.int64) + s
    assert torch.equal(h @ h.t(), (q + 1) * torch.eye(q + 1, dtype=torch.int64)), "Paley check failed"
    return h


def hadamard_matrix(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A Hadamard matrix of order n (entries ±1, H Hᵀ = n I), or a clear error (see module doc)."""
    _check_int(n, "Hadamard order n")
    if not hadamard_order_possible(n):
        raise ValueError(
            f"no binary orthogonal (Hadamard) matrix of order {n} exists: a Hadamard matrix of order "
            f"n > 2 needs n ≡ 0 (mod 4), and {n} ≡ {n % 4} (mod 4). Use a power of two (HadamRNN) "
            f"such as {1 << (n.bit_length() - 1)} or {1 << n.bit_length()}"
        )
    two_power = n & -n  # largest power of two dividing n
    rest = n // two_power
    if rest == 1:
        return sylvester_hadamard(n, dtype=dtype)
    # n = 2^a · (q + 1) with q + 1 = 2^b · rest: try every split of the power of two.
    a = two_power
    while a >= 1:
        q = n // a - 1
        if _is_prime(q) and q % 4 == 3:
            return torch.kron(sylvester_hadamard(a, dtype=dtype), paley_hadamard(q).to(dtype))
        a //= 2
    raise NotImplementedError(
        f"a Hadamard matrix of order {n} is believed to exist (Hadamard's conjecture; {n} ≡ 0 mod 4) "
        "but qornn only builds Sylvester (powers of two), Paley-I (q + 1, q prime ≡ 3 mod 4) and "
        "their Kronecker products"
    )


def _signs(n: int, signs: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    if signs is None:
        return torch.ones(n, dtype=dtype)
    if signs.shape != (n,) or not bool(((signs == 1) | (signs == -1)).all()):
        raise ValueError(f"signs must be a ({n},) tensor of ±1 values")
    return signs.to(dtype)


def binary_orthogonal_matrix(n: int, signs: torch.Tensor | None = None,
                             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """W = diag(s) H_n / √n: orthogonal, entries ±1/√n (HadamRNN's recurrent matrix), or an error."""
    h = hadamard_matrix(n, dtype=dtype)
    return _signs(n, signs, dtype)[:, None] * h / math.sqrt(n)


def orthogonal_ternary_matrix(n: int, block: int, signs: torch.Tensor | None = None,
                              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """W = diag(s)(I_{n/m} ⊗ H_m)/√m, m = ``block``: orthogonal, entries in {0, ±1/√m}, each row with
    m non-zeros (sparsity 1 − m/n). Raises unless m | n and a Hadamard matrix of order m exists.
    """
    _check_int(n, "hidden size n")
    _check_int(block, "Hadamard block size")
    if n % block:
        divisors = [d for d in range(1, n + 1) if n % d == 0 and hadamard_order_possible(d)]
        raise ValueError(
            f"Hadamard block size {block} must divide the hidden size {n}; admissible blocks for "
            f"n={n}: {divisors}"
        )
    h = hadamard_matrix(block, dtype=dtype)
    blocks = torch.block_diag(*([h] * (n // block)))
    return _signs(n, signs, dtype)[:, None] * blocks / math.sqrt(block)


def ternary_sparsity(n: int, block: int) -> float:
    """Fraction of zero entries of the block matrix: 1 − block/n."""
    return 1.0 - block / n
