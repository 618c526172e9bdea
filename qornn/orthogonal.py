"""Orthogonality tools: spectral norm, Björck, polar projection, Cayley/exponential maps, projUNN.

Every function works on one square (n, n) float matrix and states its mathematics in its docstring.
Notation: O(n) = {W : WᵀW = I}; ‖·‖_F the Frobenius norm; σ_max(W) = ‖W‖₂ the spectral norm;
skew(A) = (A − Aᵀ)/2.

* :func:`orthogonality_error` — ‖WᵀW − I‖_F, the number every test and table reports.
* :func:`power_iteration`, :func:`spectral_norm` — σ_max(W) by power iteration, differentiable the
  way :func:`torch.nn.utils.spectral_norm` is (vectors without gradient, σ = uᵀWv with gradient).
* :func:`bjorck` — Björck–Bowie orthonormalisation W ← (1+β)W − βWWᵀW (deel-torchlip's defaults:
  β = 0.5, at most 15 iterations, stop when ‖W_i − W_{i−1}‖_F < 1e-3).
* :func:`project_orthogonal` — the nearest orthogonal matrix (polar factor, via the SVD).
* :func:`cayley`, :func:`expm_skew` — the Cayley and exponential maps of a skew-symmetric matrix.
* :func:`henaff_orthogonal` — the block-diagonal rotation that projUNN's copy-task script starts W
  from (Henaff, Szlam & LeCun, ICML 2016), beside the Haar-random start ``nn.init.orthogonal_``.
* :func:`low_rank_approximation`, :func:`projunn_step` — projUNN (Kiani, Balestriero, LeCun & Lloyd,
  NeurIPS 2022, arXiv 2203.05483): a rank-k approximation G_k = L Rᵀ of the gradient (or of any update
  direction), then either

  - **projUNN-D** (directional): W' = P(W − η G_k), P(A) = A (AᵀA)^{-1/2} the polar projection;
  - **projUNN-T** (tangent): W' = W exp(−η skew(Wᵀ G_k)), the geodesic along the projection of G_k
    on the tangent space of O(n) at W.

  Both are computed in O(n²k) from the low-rank structure (AᵀA − I and skew(WᵀG_k) have rank ≤ 2k),
  without any n×n SVD or matrix exponential. Both variants are implemented.
"""

from __future__ import annotations

import torch

__all__ = [
    "BjorckDivergenceError",
    "orthogonality_error",
    "check_square",
    "power_iteration",
    "spectral_norm",
    "bjorck",
    "project_orthogonal",
    "skew",
    "cayley",
    "expm_skew",
    "henaff_orthogonal",
    "ORTHOGONAL_INITS",
    "low_rank_approximation",
    "polar_low_rank_update",
    "tangent_low_rank_update",
    "projunn_step",
    "PROJUNN_VARIANTS",
    "LOW_RANK_METHODS",
]

PROJUNN_VARIANTS = ("D", "T")
#: how an orthogonal W can start: Haar-random (``nn.init.orthogonal_``) or :func:`henaff_orthogonal`
ORTHOGONAL_INITS = ("haar", "henaff")
#: how :func:`low_rank_approximation` finds the rank-k part of a step: full SVD or randomized SVD
LOW_RANK_METHODS = ("svd", "rsvd")


class BjorckDivergenceError(ValueError):
    """Björck's iteration was given a matrix whose spectral norm is too large to converge."""


def check_square(w: torch.Tensor, name: str = "matrix") -> torch.Tensor:
    """Raise a ValueError unless ``w`` is a square 2-D floating tensor."""
    if not isinstance(w, torch.Tensor) or w.dim() != 2 or w.shape[0] != w.shape[1]:
        shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"{name} must be a square 2-D tensor, got {shape}")
    if not w.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {w.dtype}")
    return w


def orthogonality_error(w: torch.Tensor) -> float:
    """‖WᵀW − I‖_F (0 exactly when W ∈ O(n)); computed in float64, returned as a float."""
    w = check_square(w.detach()).double()
    eye = torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
    return float(torch.linalg.matrix_norm(w.t() @ w - eye))


def power_iteration(
    w: torch.Tensor, iters: int = 10, tol: float = 1e-3, u: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top singular triple of W by power iteration: returns (σ, u, v) with W v ≈ σ u.

        v ← Wᵀu / ‖Wᵀu‖,   u ← W v / ‖W v‖,   σ = uᵀ W v,

    starting from ``u`` (a random unit vector when None), for at most ``iters`` iterations, stopping
    early when the estimate σ changes by less than ``tol`` (relative). The iteration runs without
    gradient; σ = uᵀWv is then recomputed with gradient, so ∂σ/∂W = u vᵀ (the gradient of the true
    σ_max at convergence), as in :func:`torch.nn.utils.spectral_norm`. σ ≤ σ_max always (a Rayleigh
    quotient), and the gap closes geometrically at rate (σ₂/σ₁)².
    """
    check_square(w, "power-iteration matrix")
    if iters < 1:
        raise ValueError(f"power iteration needs iters >= 1, got {iters}")
    with torch.no_grad():
        wd = w.detach()
        if u is None:
            u = torch.randn(wd.shape[0], dtype=wd.dtype, device=wd.device)
        u = u / u.norm().clamp_min(1e-12)
        sigma_old = None
        for _ in range(iters):
            v = wd.t() @ u
            v = v / v.norm().clamp_min(1e-12)
            wv = wd @ v
            sigma = wv.norm()
            u = wv / sigma.clamp_min(1e-12)
            if sigma_old is not None and abs(float(sigma - sigma_old)) <= tol * float(sigma):
                break
            sigma_old = sigma
    return u @ w @ v, u, v


def spectral_norm(w: torch.Tensor, iters: int = 10, tol: float = 1e-3) -> torch.Tensor:
    """σ_max(W) estimated by :func:`power_iteration` (a lower bound, tight at convergence)."""
    return power_iteration(w, iters, tol)[0]


def bjorck(
    w: torch.Tensor,
    iters: int = 15,
    tol: float = 1e-3,
    beta: float = 0.5,
    *,
    check: bool = True,
) -> torch.Tensor:
    """Björck orthonormalisation: iterate W ← (1+β)W − β W WᵀW (differentiable by autograd).

    Each iteration maps every singular value s of W to f(s) = (1+β)s − βs³ and keeps the singular
    vectors. For β = 1/2, f has the fixed point 1 with f'(1) = 0, so the singular values converge to
    1 (quadratically near 1) for every s in (0, √3), and W converges to the polar factor of W; a
    singular value above √3 is sent below 0, after which the iteration either converges to a matrix
    that is not the polar factor (a flipped sign) or diverges (e.g. s = 2.5 → −4.06 → 27.4 → ...).
    The standard use is therefore
    on a spectrally normalised W (σ_max ≤ 1). With ``check`` (the default) an input whose spectral
    norm exceeds 1 + ``tol`` (computed exactly, by an SVD of the detached matrix) raises
    :class:`BjorckDivergenceError`; normalise first (``w / spectral_norm(w)``) or pass
    ``check=False`` when you know σ_max < √3. The loop stops after ``iters`` iterations or as soon
    as ‖W_i − W_{i−1}‖_F < ``tol``. Small singular values grow by a factor ≈ 1 + β per iteration, so
    an ill-conditioned W needs more than 15 iterations to become orthogonal.
    """
    check_square(w, "Björck input")
    if iters < 1:
        raise ValueError(f"Björck needs iters >= 1, got {iters}")
    if not 0 < beta <= 0.5:
        raise ValueError(f"Björck beta must be in (0, 0.5], got {beta}")
    if check:
        sigma = float(torch.linalg.matrix_norm(w.detach().double(), ord=2))
        if sigma > 1 + tol:
            raise BjorckDivergenceError(
                f"Björck orthonormalisation needs a spectral norm <= 1 (+ tol {tol}), got "
                f"{sigma:.4g}: divide by the spectral norm first (w / spectral_norm(w)), or pass "
                "check=False if you know it is below sqrt(3)"
            )
    for _ in range(iters):
        w_new = (1 + beta) * w - beta * (w @ (w.t() @ w))
        delta = float(torch.linalg.matrix_norm(w_new.detach() - w.detach()))
        w = w_new
        if delta < tol:
            break
    return w


def project_orthogonal(w: torch.Tensor) -> torch.Tensor:
    """The nearest orthogonal matrix in Frobenius norm: P(W) = U Vᵀ for W = U Σ Vᵀ (polar factor).

    Equal to W (WᵀW)^{-1/2} when W is invertible. Differentiable through the SVD (ill-defined when
    two singular values coincide).
    """
    check_square(w, "matrix to project")
    u, _, vh = torch.linalg.svd(w)
    return u @ vh


def skew(a: torch.Tensor) -> torch.Tensor:
    """skew(A) = (A − Aᵀ)/2, the projection onto skew-symmetric matrices."""
    return (a - a.t()) / 2


def _check_skew(a: torch.Tensor, tol: float = 1e-5) -> torch.Tensor:
    check_square(a, "skew-symmetric matrix")
    err = float((a + a.t()).detach().abs().max()) if a.numel() else 0.0
    scale = max(1.0, float(a.detach().abs().max())) if a.numel() else 1.0
    if err > tol * scale:
        raise ValueError(f"matrix is not skew-symmetric (max |A + Aᵀ| = {err:.3g}); pass skew(A)")
    return a


def cayley(a: torch.Tensor) -> torch.Tensor:
    """Cayley map of a skew-symmetric A: W = (I + A/2)(I − A/2)^{-1} ∈ SO(n).

    (I − A/2) is invertible for every skew A (its eigenvalues are 1 − iλ/2, λ real); WᵀW = I since
    (I + A/2)ᵀ = I − A/2 and the factors commute. This is the convention of
    ``torch.nn.utils.parametrizations.orthogonal(orthogonal_map="cayley")``.
    """
    _check_skew(a)
    eye = torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
    # W (I - A/2) = I + A/2, solved as (I - A/2)ᵀ Wᵀ = (I + A/2)ᵀ.
    return torch.linalg.solve((eye - a / 2).t(), (eye + a / 2).t()).t()


def expm_skew(a: torch.Tensor) -> torch.Tensor:
    """Exponential map of a skew-symmetric A: W = exp(A) = Σ Aⁱ/i! ∈ SO(n) (exp(A)ᵀ = exp(−A))."""
    _check_skew(a)
    return torch.linalg.matrix_exp(a)


def henaff_orthogonal(size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Henaff's initialisation, W₀ = R(θ₁) ⊕ R(θ₂) ⊕ … ⊕ R(θ_{n/2}) (⊕ [1] when n is odd), with

        R(θ) = exp([[0, θ], [−θ, 0]]) = [[cos θ, sin θ], [−sin θ, cos θ]],   θ_i ~ U[−π, π).

    Each pair of units rotates by its own angle, so W₀ has eigenvalues e^{±iθ_i} spread over the unit
    circle and no decay. Its largest entry is max|W₀| = max_i max(|cos θ_i|, |sin θ_i|): the angle
    nearest a multiple of π/2 is typically (π/4)/(n/2) radians from it, so max|W₀| ≈ 0.9999 at
    n = 128. A k-bit quantizer whose range is max|W| then has a step about three times the one it has
    for a Haar-random W (max|W| ≈ 0.36 at n = 128), on a W with two non-zero entries per row.
    projUNN's copy-task script starts from this W₀."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    theta = (torch.rand(size // 2, generator=generator, dtype=torch.float64) * 2 - 1) * torch.pi
    c, s = torch.cos(theta), torch.sin(theta)
    w = torch.eye(size, dtype=torch.float64)
    even = torch.arange(0, 2 * (size // 2), 2)
    w[even, even], w[even + 1, even + 1] = c, c
    w[even, even + 1], w[even + 1, even] = s, -s
    return w.to(torch.get_default_dtype())


def low_rank_approximation(
    g: torch.Tensor, rank: int, method: str = "svd", generator_seed: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A rank-``rank`` approximation G ≈ L Rᵀ with L, R of shape (n, rank).

    ``method="svd"``: the best one (Eckart–Young), from a full SVD, L = U_k Σ_k, R = V_k.
    ``method="rsvd"``: randomized SVD (Halko et al.; :func:`torch.svd_lowrank`, 2 power iterations),
    the O(n²k) choice projUNN recommends for large n. ``generator_seed`` seeds the rsvd sketch.
    """
    check_square(g, "gradient")
    n = g.shape[0]
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= n:
        raise ValueError(f"projUNN rank must be an int in [1, {n}], got {rank!r}")
    if method == "svd":
        u, s, vh = torch.linalg.svd(g)
        return u[:, :rank] * s[:rank], vh[:rank].t()
    if method == "rsvd":
        if generator_seed is not None:
            state = torch.random.get_rng_state()
            torch.manual_seed(generator_seed)
        try:
            u, s, v = torch.svd_lowrank(g, q=min(2 * rank + 8, n), niter=2)
        finally:
            if generator_seed is not None:
                torch.random.set_rng_state(state)
        return u[:, :rank] * s[:rank], v[:, :rank]
    raise ValueError(f"unknown low-rank method {method!r}; valid: {', '.join(LOW_RANK_METHODS)}")


def _orthonormal_factor(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """M = Q S with Q (n, r) orthonormal columns (reduced QR)."""
    q, s = torch.linalg.qr(m, mode="reduced")
    return q, s


def polar_low_rank_update(w: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """projUNN-D's core: P(W − L Rᵀ) for orthogonal W, in O(n²k) instead of an n×n SVD.

    With A = W − L Rᵀ and WᵀW = I,

        AᵀA = I + M C Mᵀ,   M = [R, WᵀL] (n×2k),   C = [[LᵀL, −I], [−I, 0]].

    Write M = Q S (QR) and diagonalise the 2k×2k symmetric K = S C Sᵀ = V Λ Vᵀ; then
    (AᵀA)^{-1/2} = I + Q V ((1 + Λ)^{-1/2} − 1) Vᵀ Qᵀ and P(A) = A (AᵀA)^{-1/2}. Eigenvalues
    1 + λ are clamped at 1e-12 (A singular: the polar factor is then not unique). Going through AᵀA
    costs precision when A is nearly singular: the result is off by about ε κ(A)², with ε the dtype's
    machine epsilon and κ(A) = σ_max(A) / σ_min(A). A projUNN step keeps A = W − lr·G close to
    orthogonal, where that is ε.
    """
    check_square(w, "orthogonal matrix")
    k = left.shape[1]
    eye_k = torch.eye(k, dtype=w.dtype, device=w.device)
    m = torch.cat([right, w.t() @ left], dim=1)
    c = torch.cat([torch.cat([left.t() @ left, -eye_k], 1),
                   torch.cat([-eye_k, torch.zeros_like(eye_k)], 1)], 0)
    q, s = _orthonormal_factor(m)
    kmat = s @ c @ s.t()
    lam, v = torch.linalg.eigh((kmat + kmat.t()) / 2)
    d = (1 + lam).clamp_min(1e-12).rsqrt() - 1
    a = w - left @ right.t()
    qv = q @ v
    return a + (a @ qv) * d @ qv.t()


def tangent_low_rank_update(w: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """projUNN-T's core: W exp(−X) with X = skew(Wᵀ L Rᵀ), in O(n²k) instead of an n×n exponential.

    W X is the projection of the direction L Rᵀ on the tangent space T_W O(n) = {W Ω : Ω skew}, and
    t ↦ W exp(−tX) the geodesic along it. X has rank ≤ 2k:

        X = M C Mᵀ,   M = [WᵀL, R],   C = [[0, I/2], [−I/2, 0]],

    so with M = Q S (QR), K = S C Sᵀ (skew, 2k×2k): exp(−X) = I + Q (exp(−K) − I) Qᵀ.
    """
    check_square(w, "orthogonal matrix")
    k = left.shape[1]
    half = torch.eye(k, dtype=w.dtype, device=w.device) / 2
    zero = torch.zeros_like(half)
    m = torch.cat([w.t() @ left, right], dim=1)
    c = torch.cat([torch.cat([zero, half], 1), torch.cat([-half, zero], 1)], 0)
    q, s = _orthonormal_factor(m)
    kmat = s @ c @ s.t()
    e = torch.linalg.matrix_exp(-(kmat - kmat.t()) / 2)
    e = e - torch.eye(e.shape[0], dtype=w.dtype, device=w.device)
    return w + (w @ q) @ e @ q.t()


def projunn_step(
    w: torch.Tensor,
    grad: torch.Tensor,
    lr: float = 1.0,
    rank: int | None = 1,
    variant: str = "D",
    method: str = "svd",
    correct: bool | None = None,
) -> torch.Tensor:
    """One projUNN step from an orthogonal W along −lr·G, with G replaced by its rank-k part G_k.

    variant "D": W' = P(W − lr G_k) (:func:`polar_low_rank_update`);
    variant "T": W' = W exp(−lr skew(Wᵀ G_k)) (:func:`tangent_low_rank_update`).
    ``rank=None`` uses the full gradient: "D" is then the projected gradient step P(W − lr G)
    (:func:`project_orthogonal`) and "T" the Riemannian gradient step W exp(−lr skew(WᵀG)).

    Floating-point drift: both low-rank formulas assume WᵀW = I exactly. "T" multiplies W by an
    orthogonal matrix, so a deviation WᵀW − I is carried over unchanged (plus rounding each step).
    "D" rescales by (AᵀA)^{-1/2}, which *amplifies* a deviation by up to ≈ 1 + 2·lr·σ₁(G) per step
    (measured: float32 error doubling every ~10 steps at lr·σ₁ = 0.04). ``correct`` (default: on for
    "D", off for "T") ends the step with one Björck sweep W ← 1.5W − 0.5WWᵀW, which squares the
    deviation away at the cost of two n×n products. Runs without gradient; returns a new tensor.
    """
    check_square(w, "orthogonal matrix")
    if variant not in PROJUNN_VARIANTS:
        raise ValueError(f"unknown projUNN variant {variant!r}; valid: {', '.join(PROJUNN_VARIANTS)}")
    if grad.shape != w.shape:
        raise ValueError(f"gradient shape {tuple(grad.shape)} differs from W's {tuple(w.shape)}")
    with torch.no_grad():
        if rank is None:
            if variant == "D":
                return project_orthogonal(w - lr * grad)
            return w @ torch.linalg.matrix_exp(-lr * skew(w.t() @ grad))
        left, right = low_rank_approximation(grad, rank, method)
        update = polar_low_rank_update if variant == "D" else tangent_low_rank_update
        out = update(w, lr * left, right)
        if correct if correct is not None else variant == "D":
            out = 1.5 * out - 0.5 * out @ (out.t() @ out)
        return out
