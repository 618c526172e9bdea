r"""Adaptive majoring points of a function non-decreasing on a box (Gauffriau, Malgouyres & Ducoffe,
*Overestimation learning with guarantees*, SafeAI@AAAI 2021, arXiv 2101.11717).

Let :math:`f` be non-decreasing in each coordinate on :math:`D = [a, b] \subset \mathbb R^d`. For a
cell :math:`C = [l, u] \subseteq D`, every :math:`x \in C` has :math:`l \le x \le u`, so

.. math:: f(x) \le f(u) \quad\text{for all } x \in C .

The *majoring point* of :math:`C` is the pair :math:`(l, f(u))`. If a surrogate :math:`g` is
non-decreasing too and :math:`g(l_C) \ge f(u_C)` for every cell of a partition of :math:`D`, then for
:math:`x \in C`, :math:`g(x) \ge g(l_C) \ge f(u_C) \ge f(x)`: :math:`g \ge f` on the whole box.

The cells come from a dyadic refinement: start from :math:`D`, split a cell into its :math:`2^d`
halves while :math:`f(u) - f(l) > \varepsilon` (the most :math:`f` can vary on it) and its depth is
below ``max_depth``. Cells are small where :math:`f` varies and large where it is flat, and the gap
:math:`f(u_C) - f(x)` is at most :math:`\varepsilon` on every cell that stopped by tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["MajoringPoints", "majoring_points"]


@dataclass
class MajoringPoints:
    """The cells ``[lower[i], upper[i]]`` of a dyadic partition of the box, with the majoring points
    ``(lower[i], value[i] = f(upper[i]))`` and each cell's refinement ``depth``."""

    lower: np.ndarray
    upper: np.ndarray
    value: np.ndarray
    depth: np.ndarray
    #: f at the lower corners (the smallest value of f on each cell)
    floor: np.ndarray

    #: points at which f was evaluated (two corners per cell ever considered; shared corners are
    #: evaluated again, not cached)
    evaluations: int = 0

    def __len__(self) -> int:
        return len(self.value)


def majoring_points(f: Callable[[np.ndarray], np.ndarray], lower, upper, *, tol: float,
                    max_depth: int = 12) -> MajoringPoints:
    """The adaptive majoring points of ``f`` (vectorised, non-decreasing in each coordinate) on the
    box ``[lower, upper]``: refine a cell into its ``2^d`` dyadic halves while ``f(u) − f(l) > tol``
    and its depth ``< max_depth``. A decrease ``f(u) < f(l)`` on a cell means ``f`` is not monotone
    there, which is an error."""
    lower, upper = np.atleast_1d(np.asarray(lower, float)), np.atleast_1d(np.asarray(upper, float))
    if lower.shape != upper.shape or lower.ndim != 1 or not (upper > lower).all():
        raise ValueError(f"the box needs lower < upper coordinate-wise, got {lower} and {upper}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0:
        raise ValueError(f"max_depth must be a non-negative int, got {max_depth!r}")
    d = lower.size
    corners = np.array(np.meshgrid(*[[0, 1]] * d, indexing="ij")).reshape(d, -1).T  # (2^d, d)
    L, U = lower[None], upper[None]
    done: list[tuple[np.ndarray, ...]] = []
    evaluations = 0
    for depth in range(max_depth + 1):
        fl, fu = np.asarray(f(L), float), np.asarray(f(U), float)
        evaluations += 2 * len(L)
        if (fu < fl - 1e-12 * np.maximum(np.abs(fl), 1.0)).any():
            bad = int(np.argmax(fl - fu))
            raise ValueError(f"f is not non-decreasing: f({U[bad]}) = {fu[bad]} < f({L[bad]}) = {fl[bad]}")
        split = (fu - fl > tol) if depth < max_depth else np.zeros(len(L), dtype=bool)
        keep = ~split
        done.append((L[keep], U[keep], fu[keep], np.full(keep.sum(), depth), fl[keep]))
        if not split.any():
            break
        half = (U[split] - L[split]) / 2
        L = (L[split][:, None, :] + corners[None] * half[:, None, :]).reshape(-1, d)
        U = L + np.repeat(half, len(corners), axis=0)
    lo, up, val, dep, flo = (np.concatenate(parts) for parts in zip(*done, strict=True))
    return MajoringPoints(lower=lo, upper=up, value=val, depth=dep, floor=flo, evaluations=evaluations)
