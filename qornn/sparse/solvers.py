r"""k-sparse least squares, vectorised over a batch of independent trials.

Every solver takes ``A`` of shape ``(trials, m, n)`` (unit-norm columns; a shared matrix may be a
broadcast view), ``y`` of shape ``(trials, m)`` and the sparsity ``k``, and returns a
:class:`Solution` whose ``x`` has at most ``k`` nonzeros per trial. They approximately solve

.. math:: \min_{x}\ F(x) = \tfrac12\|Ax - y\|_2^2 \quad\text{subject to}\quad \|x\|_0 \le k .

The baselines, in the textbook forms written out in each docstring:

- **IHT** (iterative hard thresholding, Blumensath & Davies 2009):
  :math:`x \leftarrow H_k(x + \eta A^\top (y - Ax))`, :math:`H_k` keeps the ``k`` largest entries.
- **HTP** (hard thresholding pursuit, Foucart 2011): the support of the IHT step, then least squares on it.
- **OMP** (orthogonal matching pursuit): add the column most correlated with the residual, ``k`` times.
- **OMPR** (OMP with replacement, Jain, Tewari & Dhillon 2011): swap one index at a time, in for out,
  from the gradient step's magnitudes.
- **ELS** (exhaustive local search, Axiotis & Sviridenko 2020): the single swap that decreases the
  least-squares loss most, exactly, until no swap decreases it.

and **SEA** (support exploration algorithm, Mohamed, Malgouyres, Emiya & Chaux, ICML 2024): a dense
exploration vector :math:`X` moves by straight-through gradient steps taken at the sparse point

.. math::
   S^t = \operatorname{top}_k |X^t|,\qquad x^t = \arg\min_{\operatorname{supp} x \subseteq S^t} F(x),
   \qquad X^{t+1} = X^t - \eta\, \nabla F(x^t) = X^t + \eta A^\top (y - A x^t),

and the best :math:`x^t` seen is returned (the loss along the way is not monotone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Solution", "restricted_least_squares", "hard_threshold", "top_k", "lipschitz",
           "iht", "htp", "omp", "ompr", "els", "sea", "brute_force", "relative_loss",
           "support_recovery", "SOLVERS", "solve"]

_RCOND = 1e-10


@dataclass
class Solution:
    """What a solver returns, one row per trial. ``loss`` is the relative loss ‖Ax − y‖² / ‖y‖²;
    ``iterations`` how many iterations each trial ran (for SEA: the iteration of the best iterate
    is ``best_iteration``)."""

    x: np.ndarray
    support: np.ndarray
    loss: np.ndarray
    iterations: np.ndarray
    best_iteration: np.ndarray | None = None


def _check(A: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    A, y = np.asarray(A, dtype=float), np.asarray(y, dtype=float)
    if A.ndim != 3 or y.ndim != 2 or A.shape[:2] != y.shape:
        raise ValueError(f"A must be (trials, m, n) and y (trials, m); got {A.shape} and {y.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= A.shape[2]:
        raise ValueError(f"k must be an int in 1..n={A.shape[2]}, got {k!r}")
    return A, y, int(k)


def _gather_columns(A: np.ndarray, support: np.ndarray) -> np.ndarray:
    """``A[t][:, support[t]]`` for every trial: ``(trials, m, |S|)``."""
    return np.take_along_axis(A, support[:, None, :], axis=2)


def _shared(A: np.ndarray) -> bool:
    """Whether ``A`` is one matrix broadcast over the trials."""
    return A.shape[0] == 1 or A.strides[0] == 0


def lipschitz(A: np.ndarray) -> np.ndarray:
    """‖A‖₂² per trial, shape ``(trials, 1)``: the Lipschitz constant of ∇F."""
    if _shared(A):
        return np.full((A.shape[0], 1), np.linalg.norm(A[0], 2) ** 2)
    return (np.linalg.norm(A, 2, axis=(1, 2)) ** 2)[:, None]


def top_k(v: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``|v|`` per row, sorted increasingly (ties: lowest index)."""
    order = np.argsort(-np.abs(v), axis=1, kind="stable")[:, :k]
    return np.sort(order, axis=1)


def hard_threshold(v: np.ndarray, k: int) -> np.ndarray:
    """``H_k(v)``: ``v`` with all but its ``k`` largest entries in magnitude set to zero."""
    out = np.zeros_like(v)
    idx = top_k(v, k)
    np.put_along_axis(out, idx, np.take_along_axis(v, idx, axis=1), axis=1)
    return out


def _matvec(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``A[t] @ x[t]`` for every trial."""
    if _shared(A):
        return x @ A[0].T
    return np.matmul(A, x[:, :, None])[:, :, 0]


def _rmatvec(A: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``A[t].T @ r[t]`` for every trial."""
    if _shared(A):
        return r @ A[0]
    return np.matmul(r[:, None, :], A)[:, 0, :]


def relative_loss(A: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """‖Ax − y‖² / ‖y‖² per trial."""
    return np.sum((_matvec(A, x) - y) ** 2, axis=1) / np.sum(y**2, axis=1)


def restricted_least_squares(A: np.ndarray, y: np.ndarray, support: np.ndarray) -> np.ndarray:
    """``x`` minimising ‖Ax − y‖² with ``supp(x) ⊆ support``, per trial (minimum-norm solution when
    the chosen columns are dependent)."""
    As = _gather_columns(A, support)
    Q, R = np.linalg.qr(As)
    diag = np.abs(np.diagonal(R, axis1=1, axis2=2))
    independent = diag.min(axis=1) > _RCOND * np.maximum(diag.max(axis=1), 1e-300)
    coef = np.empty(support.shape)
    if independent.any():  # the usual case: a triangular solve
        qty = np.matmul(y[independent][:, None, :], Q[independent])[:, 0, :]
        coef[independent] = np.linalg.solve(R[independent], qty[:, :, None])[:, :, 0]
    if not independent.all():  # dependent columns: the minimum-norm solution
        pinv = np.linalg.pinv(As[~independent], rcond=_RCOND)
        coef[~independent] = np.matmul(pinv, y[~independent][:, :, None])[:, :, 0]
    x = np.zeros((A.shape[0], A.shape[2]))
    np.put_along_axis(x, support, coef, axis=1)
    return x


def support_recovery(support: np.ndarray, true_support: np.ndarray) -> np.ndarray:
    """|S ∩ S*| / |S*| per trial."""
    hits = (support[:, :, None] == true_support[:, None, :]).any(axis=1)
    return hits.sum(axis=1) / true_support.shape[1]


def _solution(A, y, x, k, iterations, best_iteration=None) -> Solution:
    return Solution(x=x, support=top_k(x, k), loss=relative_loss(A, y, x),
                    iterations=np.asarray(iterations), best_iteration=best_iteration)


def iht(A: np.ndarray, y: np.ndarray, k: int, *, iterations: int = 1000, step: float = 1.0,
        tol: float = 1e-12) -> Solution:
    """IHT from ``x = 0``: ``x ← H_k(x + η Aᵀ(y − Ax))`` with ``η = step / ‖A‖₂²`` (``step ≤ 1``
    makes the loss non-increasing), until ``x`` moves by less than ``tol`` (relative) or
    ``iterations`` steps."""
    A, y, k = _check(A, y, k)
    eta = step / lipschitz(A)
    x = np.zeros((A.shape[0], A.shape[2]))
    ran = np.zeros(A.shape[0], dtype=int)
    active = np.ones(A.shape[0], dtype=bool)
    for _ in range(iterations):
        new = hard_threshold(x + eta * _rmatvec(A, y - _matvec(A, x)), k)
        moved = np.linalg.norm(new - x, axis=1) > tol * np.maximum(np.linalg.norm(new, axis=1), 1e-300)
        x = np.where(active[:, None], new, x)
        ran += active
        active &= moved
        if not active.any():
            break
    return _solution(A, y, x, k, ran)


def htp(A: np.ndarray, y: np.ndarray, k: int, *, iterations: int = 200, step: float = 1.0) -> Solution:
    """HTP from ``x = 0``: ``S ← top_k(x + η Aᵀ(y − Ax))``, ``x ← argmin_{supp ⊆ S} F``, with
    ``η = step / ‖A‖₂²``, until the support repeats or ``iterations`` steps."""
    A, y, k = _check(A, y, k)
    eta = step / lipschitz(A)
    x = np.zeros((A.shape[0], A.shape[2]))
    support = np.full((A.shape[0], k), -1)
    ran = np.zeros(A.shape[0], dtype=int)
    active = np.ones(A.shape[0], dtype=bool)
    for _ in range(iterations):
        new_support = top_k(x + eta * _rmatvec(A, y - _matvec(A, x)), k)
        changed = (new_support != support).any(axis=1)
        active &= changed
        if not active.any():
            break
        new_x = restricted_least_squares(A, y, new_support)
        x = np.where(active[:, None], new_x, x)
        support = np.where(active[:, None], new_support, support)
        ran += active
    return _solution(A, y, x, k, ran)


def omp(A: np.ndarray, y: np.ndarray, k: int) -> Solution:
    """OMP: ``k`` times, add ``argmax_{j ∉ S} |a_jᵀ r|`` to ``S`` and refit ``x`` by least squares on
    ``S`` (``r = y − Ax``; the columns have unit norm)."""
    A, y, k = _check(A, y, k)
    trials = A.shape[0]
    support = np.zeros((trials, 0), dtype=int)
    x = np.zeros((trials, A.shape[2]))
    for _ in range(k):
        corr = np.abs(_rmatvec(A, y - _matvec(A, x)))
        np.put_along_axis(corr, support, -np.inf, axis=1)
        support = np.concatenate([support, corr.argmax(axis=1)[:, None]], axis=1)
        x = restricted_least_squares(A, y, support)
    return _solution(A, y, x, k, np.full(trials, k))


def ompr(A: np.ndarray, y: np.ndarray, k: int, *, iterations: int = 1000, step: float = 1.0) -> Solution:
    """OMPR (one swap per iteration) from ``S = top_k |Aᵀy|``: with ``x`` the least-squares fit on
    ``S`` and ``z = x + η Aᵀ(y − Ax)`` (``η = step``; unit-norm columns), swap
    ``j = argmax_{j ∉ S} |z_j|`` in for ``i = argmin_{i ∈ S} |z_i|`` while ``|z_j| > |z_i|`` and the
    swap lowers the loss (a swap that does not would start a cycle: the trial stops there)."""
    A, y, k = _check(A, y, k)
    trials, n = A.shape[0], A.shape[2]
    support = top_k(_rmatvec(A, y), k)
    x = restricted_least_squares(A, y, support)
    ran = np.zeros(trials, dtype=int)
    active = np.ones(trials, dtype=bool)
    rows = np.arange(trials)
    for _ in range(iterations if k < n else 0):
        z = np.abs(x + step * _rmatvec(A, y - _matvec(A, x)))
        outside = z.copy()
        np.put_along_axis(outside, support, -np.inf, axis=1)
        j = outside.argmax(axis=1)
        inside = np.take_along_axis(z, support, axis=1)
        pos = inside.argmin(axis=1)
        active &= outside[rows, j] > inside[rows, pos]
        if not active.any():
            break
        new_support = support.copy()
        new_support[rows, pos] = j
        new_support = np.sort(new_support, axis=1)
        new_x = restricted_least_squares(A, y, new_support)
        active &= relative_loss(A, y, new_x) < relative_loss(A, y, x)
        x = np.where(active[:, None], new_x, x)
        support = np.where(active[:, None], new_support, support)
        ran += active
    return _solution(A, y, x, k, ran)


def _best_swaps(A: np.ndarray, y: np.ndarray, support: np.ndarray) -> tuple[np.ndarray, ...]:
    """For every trial, the swap (position p in S, column j ∉ S) minimising the least-squares loss
    on ``S − {S_p} + {j}``, and that loss (absolute, ½ left out). For each removal, with ``Q`` an
    orthonormal basis of the remaining columns and ``r`` their residual, adding ``a_j`` lowers
    ‖r‖² by exactly ``(a_jᵀ r)² / ‖(I − QQᵀ) a_j‖²``."""
    trials, _, n = A.shape
    k = support.shape[1]
    best_loss = np.full(trials, np.inf)
    best_pos = np.zeros(trials, dtype=int)
    best_j = np.zeros(trials, dtype=int)
    in_support = np.zeros((trials, n), dtype=bool)
    np.put_along_axis(in_support, support, True, axis=1)
    col_norm2 = np.sum(A**2, axis=1)
    for p in range(k):
        rest = np.delete(support, p, axis=1)
        if rest.shape[1]:
            Q, _ = np.linalg.qr(_gather_columns(A, rest))
            r = y - np.einsum("tmk,tk->tm", Q, np.einsum("tmk,tm->tk", Q, y))
            projected = np.sum(np.matmul(Q.transpose(0, 2, 1), A) ** 2, axis=1)
        else:
            r, projected = y, np.zeros((trials, n))
        residual_norm = np.maximum(col_norm2 - projected, 0.0)
        usable = (residual_norm > 1e-10 * col_norm2) & ~in_support
        gain = np.where(usable, _rmatvec(A, r) ** 2 / np.where(usable, residual_norm, 1.0), -np.inf)
        j = gain.argmax(axis=1)
        loss = np.sum(r**2, axis=1) - gain[np.arange(trials), j]
        better = loss < best_loss
        best_loss = np.where(better, loss, best_loss)
        best_pos = np.where(better, p, best_pos)
        best_j = np.where(better, j, best_j)
    return best_pos, best_j, best_loss


def els(A: np.ndarray, y: np.ndarray, k: int, *, iterations: int = 1000, init: str = "omp",
        rtol: float = 1e-9) -> Solution:
    """ELS: from a starting support (``init``: ``"omp"``, OMP's support, or ``"correlation"``,
    ``top_k |Aᵀy|``), repeatedly make the single swap (one index out, one in) that decreases the
    least-squares loss most, found exactly by :func:`_best_swaps`, while it decreases the loss by
    more than ``rtol·‖y‖²``; the end is a local minimum for single swaps."""
    A, y, k = _check(A, y, k)
    if init == "omp":
        support = omp(A, y, k).support
    elif init == "correlation":
        support = top_k(_rmatvec(A, y), k)
    else:
        raise ValueError(f"unknown ELS init {init!r}; valid: omp, correlation")
    trials, n = A.shape[0], A.shape[2]
    x = restricted_least_squares(A, y, support)
    ran = np.zeros(trials, dtype=int)
    active = np.ones(trials, dtype=bool)
    rows = np.arange(trials)
    y_norm2 = np.sum(y**2, axis=1)
    for _ in range(iterations if k < n else 0):
        current = np.sum((_matvec(A, x) - y) ** 2, axis=1)
        pos, j, loss = _best_swaps(A, y, support)
        active &= loss < current - rtol * y_norm2
        if not active.any():
            break
        new_support = support.copy()
        new_support[rows, pos] = j
        new_support = np.where(active[:, None], np.sort(new_support, axis=1), support)
        x = np.where(active[:, None], restricted_least_squares(A, y, new_support), x)
        support = new_support
        ran += active
    return _solution(A, y, x, k, ran)


def sea(A: np.ndarray, y: np.ndarray, k: int, *, iterations: int = 1000, step: float = 1.0,
        init: np.ndarray | None = None) -> Solution:
    """SEA with ``η = step / ‖A‖₂²``, returning the best sparse iterate.

    From zero (``init=None``, "SEA_0"): ``X⁰ = 0`` has no top-k, so the first sparse point is
    ``x⁰ = 0`` and ``X¹ = η Aᵀy``; SEA_0 is invariant to ``η`` (every ``Xᵗ`` is ``η`` times a
    sum of gradients). As a post-processing (``init`` = another solver's ``x``): ``X⁰ = init``,
    so ``S⁰ ⊇ supp(init)`` and the result is never worse than the least-squares refit of ``init``.
    ``iterations`` counts the least-squares fits."""
    A, y, k = _check(A, y, k)
    trials = A.shape[0]
    eta = step / lipschitz(A)
    if init is None:
        X = eta * _rmatvec(A, y)
        best_x = np.zeros((trials, A.shape[2]))
        best_loss = np.ones(trials)
    else:
        X = np.array(init, dtype=float)
        if X.shape != (trials, A.shape[2]):
            raise ValueError(f"init must have shape {(trials, A.shape[2])}, got {X.shape}")
        best_x, best_loss = X, np.full(trials, np.inf)
    best_iteration = np.zeros(trials, dtype=int)
    y_norm2 = np.sum(y**2, axis=1)
    for t in range(iterations):
        x = restricted_least_squares(A, y, top_k(X, k))
        r = y - _matvec(A, x)
        loss = np.sum(r**2, axis=1) / y_norm2
        better = loss < best_loss
        best_x = np.where(better[:, None], x, best_x)
        best_loss = np.where(better, loss, best_loss)
        best_iteration = np.where(better, t + (init is None), best_iteration)
        X = X + eta * _rmatvec(A, r)
    return _solution(A, y, best_x, k, np.full(trials, iterations), best_iteration)


def brute_force(A: np.ndarray, y: np.ndarray, k: int) -> Solution:
    """The exact k-sparse least-squares solution, by trying every support of size ``k`` (for tiny
    problems only: ``C(n, k)`` fits per trial)."""
    from itertools import combinations
    from math import comb

    A, y, k = _check(A, y, k)
    if comb(A.shape[2], k) > 20_000:
        raise ValueError(f"brute force over C({A.shape[2]}, {k}) = {comb(A.shape[2], k)} supports is "
                         "too many; it is meant for tiny problems")
    trials = A.shape[0]
    best_x, best_loss = np.zeros((trials, A.shape[2])), np.full(trials, np.inf)
    for combo in combinations(range(A.shape[2]), k):
        x = restricted_least_squares(A, y, np.tile(np.array(combo), (trials, 1)))
        loss = relative_loss(A, y, x)
        better = loss < best_loss
        best_x, best_loss = np.where(better[:, None], x, best_x), np.where(better, loss, best_loss)
    return _solution(A, y, best_x, k, np.ones(trials, dtype=int))


#: solver name -> function(A, y, k, **options)
SOLVERS: dict[str, Callable[..., Solution]] = {
    "iht": iht, "htp": htp, "omp": omp, "ompr": ompr, "els": els, "sea": sea,
}


def solve(method: str, A: np.ndarray, y: np.ndarray, k: int, **options) -> Solution:
    """Run the solver named ``method`` (see :data:`SOLVERS`); an unknown name lists the valid ones."""
    if method not in SOLVERS:
        raise ValueError(f"unknown sparse solver {method!r}; valid: {', '.join(SOLVERS)}")
    return SOLVERS[method](A, y, k, **options)
