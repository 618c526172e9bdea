"""Sparse recovery problems, drawn in batches of independent trials.

A problem is ``y = A x* + e`` with ``x*`` k-sparse; the task is to find the support of ``x*`` (or,
on real data where no ``x*`` exists, a k-sparse ``x`` of small loss ``‖Ax − y‖²``). Every array
carries the trials on its first axis: ``A`` is ``(trials, m, n)`` (a shared matrix is broadcast,
not copied), ``y`` is ``(trials, m)``, ``x_true`` is ``(trials, n)`` and ``support`` is
``(trials, k)``. The columns of ``A`` have unit norm.

- :func:`gaussian_filter_matrix`: spike deconvolution. Column ``j`` is a Gaussian bump centred at
  sample ``j``, ``A_ij ∝ exp(−(i − j)² / (2σ²))``; two neighbouring columns have correlation
  ``exp(−1 / (4σ²))`` (0.97 at σ = 3): strongly coherent, the regime where greedy and
  thresholding methods confuse neighbours.
- :func:`gaussian_random_matrices`: ``A_ij ~ N(0, 1/m)`` per trial, nearly incoherent (compressed
  sensing), for contrast.
- :func:`diabetes_problem`: a real regression data set that scikit-learn ships inside its wheel
  (442 patients, 10 features; Efron et al. 2004), with its pairwise products as extra features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SparseProblem", "gaussian_filter_matrix", "gaussian_random_matrices", "draw_problems",
           "diabetes_problem", "MATRICES"]


@dataclass
class SparseProblem:
    """A batch of sparse recovery problems (see the module docstring for the shapes)."""

    A: np.ndarray
    y: np.ndarray
    k: int
    x_true: np.ndarray | None = None
    support: np.ndarray | None = None
    #: feature names of a real data set (columns of A)
    features: list[str] | None = None

    @property
    def trials(self) -> int:
        return self.y.shape[0]


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def gaussian_filter_matrix(n: int, sigma: float) -> np.ndarray:
    """The ``(n, n)`` convolution with a Gaussian filter of width ``sigma`` samples (zero boundary),
    columns normalised to unit norm."""
    n = _check_positive_int(n, "n")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    t = np.arange(n, dtype=float)
    A = np.exp(-((t[:, None] - t[None, :]) ** 2) / (2.0 * sigma**2))
    return A / np.linalg.norm(A, axis=0, keepdims=True)


def gaussian_random_matrices(trials: int, m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``trials`` independent ``(m, n)`` matrices with i.i.d. Gaussian entries, unit-norm columns."""
    A = rng.standard_normal((_check_positive_int(trials, "trials"), _check_positive_int(m, "m"),
                             _check_positive_int(n, "n")))
    return A / np.linalg.norm(A, axis=1, keepdims=True)


MATRICES = ("gaussian-filter", "gaussian-random")


def draw_problems(matrix: str, *, n: int, k: int, trials: int, seed: int, m: int | None = None,
                  sigma: float = 3.0, amplitude: tuple[float, float] = (1.0, 2.0),
                  noise: float = 0.0) -> SparseProblem:
    """``trials`` problems ``y = A x* + e``: ``x*`` has ``k`` nonzeros at uniformly random distinct
    positions, with random signs and magnitudes uniform in ``amplitude``; ``e`` is Gaussian with
    standard deviation ``noise · ‖A x*‖ / √m`` (a relative noise level; 0: noiseless).

    ``matrix`` is ``"gaussian-filter"`` (``m = n``, width ``sigma``) or ``"gaussian-random"``
    (``m`` rows, a new matrix per trial)."""
    n, k, trials = (_check_positive_int(v, name) for v, name in ((n, "n"), (k, "k"), (trials, "trials")))
    if k > n:
        raise ValueError(f"sparsity k={k} exceeds the dimension n={n}")
    low, high = amplitude
    if not 0 <= low <= high:
        raise ValueError(f"amplitude must be (low, high) with 0 <= low <= high, got {amplitude!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    if matrix == "gaussian-filter":
        if m not in (None, n):
            raise ValueError(f"the Gaussian-filter matrix is square: m must be n={n}, got {m!r}")
        A = np.broadcast_to(gaussian_filter_matrix(n, sigma), (trials, n, n))
    elif matrix == "gaussian-random":
        if m is None:
            raise ValueError("a Gaussian random matrix needs its number of rows m")
        A = gaussian_random_matrices(trials, m, n, rng)
    else:
        raise ValueError(f"unknown matrix {matrix!r}; valid: {', '.join(MATRICES)}")
    support = np.sort(np.argsort(rng.random((trials, n)), axis=1)[:, :k], axis=1)
    values = rng.uniform(low, high, (trials, k)) * rng.choice([-1.0, 1.0], (trials, k))
    x_true = np.zeros((trials, n))
    np.put_along_axis(x_true, support, values, axis=1)
    clean = np.einsum("tmn,tn->tm", A, x_true)
    scale = noise * np.linalg.norm(clean, axis=1, keepdims=True) / np.sqrt(clean.shape[1])
    y = clean + scale * rng.standard_normal(clean.shape)
    return SparseProblem(A=A, y=y, k=k, x_true=x_true, support=support)


def diabetes_problem(k: int, *, interactions: bool = True) -> SparseProblem:
    """Sparse linear regression on scikit-learn's diabetes data (442 × 10, shipped in its wheel, no
    download): the 10 standardised features and, with ``interactions``, their 45 pairwise products
    and 10 squares (64 columns in all: the square of the binary sex feature is the sex column again
    once centred, and is left out), each centred and scaled to unit norm; ``y`` is the centred
    target (so no intercept is needed). One problem (``trials = 1``), no known ``x*``."""
    k = _check_positive_int(k, "k")
    try:
        from sklearn.datasets import load_diabetes
    except ImportError as err:
        raise ImportError("the diabetes data set ships with scikit-learn: pip install 'qornn[sparse]' "
                          "(or pip install scikit-learn)") from err
    data = load_diabetes(scaled=False)
    X = np.asarray(data.data, dtype=float)
    names = list(data.feature_names)
    X = (X - X.mean(0)) / X.std(0)
    if interactions:
        columns, labels = [X], list(names)
        for i in range(X.shape[1]):
            for j in range(i, X.shape[1]):
                columns.append((X[:, i] * X[:, j])[:, None])
                labels.append(f"{names[i]}^2" if i == j else f"{names[i]}*{names[j]}")
        X, names = np.hstack(columns), labels
    X = X - X.mean(0)
    X = X / np.linalg.norm(X, axis=0)
    # sex is binary, so its square is affine in it: after centring, the same column up to sign
    duplicate = np.triu(np.abs(X.T @ X) > 1 - 1e-9, k=1).any(axis=0)
    X, names = X[:, ~duplicate], [name for name, dup in zip(names, duplicate, strict=True) if not dup]
    if k > X.shape[1]:
        raise ValueError(f"sparsity k={k} exceeds the number of features {X.shape[1]}")
    y = np.asarray(data.target, dtype=float)
    y = y - y.mean()
    return SparseProblem(A=X[None], y=y[None], k=k, features=names)
