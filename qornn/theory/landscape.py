"""Second-order landscape of deep linear networks (Achour, Malgouyres, Gerchinovitz, JMLR 2024).

Setting (the paper's Section 2). Data X ∈ R^{d_x×m}, Y ∈ R^{d_y×m}; weights W = (W_H, …, W_1),
W_h ∈ R^{d_h×d_{h−1}}, d_0 = d_x, d_H = d_y; loss

    L(W) = ‖W_H ⋯ W_1 X − Y‖_F².

Σ_XX = XXᵀ, Σ_XY = XYᵀ, Σ_YX = YXᵀ, Σ_YY = YYᵀ, Σ = Σ_YX Σ_XX⁻¹ Σ_XY = U Λ Uᵀ with
λ_1 > … > λ_{d_y} > 0 (Assumption 1: d_y ≤ d_x ≤ m, Σ_XX invertible, Σ_XY of rank d_y, distinct
eigenvalues). r_max = min(d_0, …, d_H).

- Proposition 1: at a first-order critical point of rank r = rk(W_H⋯W_1) there is a unique
  S ⊂ ⟦1, d_y⟧, |S| = r, with W_H⋯W_1 = U_S U_Sᵀ Σ_YX Σ_XX⁻¹, and L(W) = tr Σ_YY − Σ_{i∈S} λ_i.
- Proposition 10 (and equation (25), its case D_h = I, Z_H = 0, Z_1 = 0): for S of size r,
  W_H = [U_S, U_Q Z_H], W_h = blockdiag(I_r, Z_h) (1 < h < H), W_1 = [U_Sᵀ Σ_YX Σ_XX⁻¹; Z_1],
  conjugated by invertible D_h, is a first-order critical point when r = r_max or two Z's vanish.
- Definitions 3, 5, 6: the pivots are the pairs (i, j), H ≥ i > j ≥ 1; their complementary blocks
  are W_{j−1}⋯W_1 Σ_XY W_H⋯W_{i+1} and W_{i−1}⋯W_{j+1} (the identity when i = j + 1); a pivot is
  tightened when one of them has rank r, a critical point when every pivot is.
- Theorem 7 (Figure 6): r = r_max and S = ⟦1, r_max⟧ → global minimiser; r = r_max, other S →
  strict saddle; r < r_max, S ≠ ⟦1, r⟧ → strict saddle; r < r_max, S = ⟦1, r⟧ → non-strict saddle
  if tightened, strict saddle otherwise.

:func:`classify_by_ranks` applies Theorem 7; :func:`classify_by_hessian` classifies the same point
from the eigenvalues of the Hessian of L (a negative one: strict saddle; none: a second-order
critical point, which is a global minimiser when L is at its minimum and a non-strict saddle
otherwise). :func:`saddle_escape` runs the experiment of Appendix G (Figures 3 and 4) for many
runs at once as one batched tensor program.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["LinearProblem", "linear_problem", "loss", "critical_point", "index_set", "tightened",
           "classify_by_ranks", "classify_by_hessian", "hessian_eigenvalues", "enumerate_critical_points",
           "Kind", "saddle_escape", "EscapeResult"]

Kind = Literal["global minimiser", "strict saddle", "non-strict saddle"]


@dataclass(frozen=True)
class LinearProblem:
    """The data of L and the quantities of Assumption 1 (float64)."""

    X: torch.Tensor
    Y: torch.Tensor
    Sxx: torch.Tensor
    Sxy: torch.Tensor
    Syx: torch.Tensor
    Syy: torch.Tensor
    #: Σ = Σ_YX Σ_XX⁻¹ Σ_XY
    Sigma: torch.Tensor
    #: eigenvectors of Σ as columns, in the order of ``lam``
    U: torch.Tensor
    #: eigenvalues λ_1 > … > λ_{d_y} of Σ
    lam: torch.Tensor

    @property
    def dx(self) -> int:
        return self.X.shape[0]

    @property
    def dy(self) -> int:
        return self.Y.shape[0]

    @property
    def regression(self) -> torch.Tensor:
        """Σ_YX Σ_XX⁻¹, the least-squares solution."""
        return torch.linalg.solve(self.Sxx, self.Syx.T).T

    def critical_value(self, S: tuple[int, ...]) -> float:
        """tr Σ_YY − Σ_{i∈S} λ_i (Proposition 1; S holds 1-based indices)."""
        return float(torch.trace(self.Syy) - sum(self.lam[i - 1] for i in S))


def linear_problem(X: torch.Tensor, Y: torch.Tensor, *, gap: float = 1e-9) -> LinearProblem:
    """Check Assumption 1 on (X, Y) and compute Σ's eigen-decomposition (eigenvalues decreasing)."""
    X, Y = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(Y, dtype=torch.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must be d_x×m and d_y×m, got {tuple(X.shape)} and {tuple(Y.shape)}")
    (dx, m), dy = X.shape, Y.shape[0]
    if not dy <= dx <= m:
        raise ValueError(f"Assumption 1 needs d_y <= d_x <= m, got d_y={dy}, d_x={dx}, m={m}")
    Sxx, Sxy, Syy = X @ X.T, X @ Y.T, Y @ Y.T
    if torch.linalg.matrix_rank(Sxx) < dx or torch.linalg.matrix_rank(Sxy) < dy:
        raise ValueError("Assumption 1 fails: Σ_XX must be invertible and Σ_XY of rank d_y")
    Sigma = Sxy.T @ torch.linalg.solve(Sxx, Sxy)
    Sigma = (Sigma + Sigma.T) / 2
    lam, U = torch.linalg.eigh(Sigma)
    lam, U = lam.flip(0), U.flip(1)
    if dy > 1 and float((lam[:-1] - lam[1:]).min()) <= gap * float(lam[0]):
        raise ValueError(f"Assumption 1 fails: Σ has repeated eigenvalues {lam.tolist()}")
    return LinearProblem(X, Y, Sxx, Sxy, Sxy.T, Syy, Sigma, U, lam)


def product(weights: list[torch.Tensor], start: int = 1, stop: int | None = None) -> torch.Tensor:
    """W_stop ⋯ W_start with 1-based indices (``weights[0]`` is W_1); the identity when
    stop = start − 1 (the paper's convention)."""
    stop = len(weights) if stop is None else stop
    if stop == start - 1:
        d = weights[start - 1].shape[1] if start <= len(weights) else weights[-1].shape[0]
        return torch.eye(d, dtype=weights[0].dtype)
    out = weights[start - 1]
    for W in weights[start:stop]:
        out = W @ out
    return out


def loss(weights: list[torch.Tensor], X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """L(W) = ‖W_H⋯W_1 X − Y‖_F² (``weights`` = [W_1, …, W_H])."""
    return ((product(weights) @ X - Y) ** 2).sum()


def critical_point(problem: LinearProblem, widths: list[int], S: tuple[int, ...], *,
                   middle: Literal["zero", "identity"] = "zero",
                   D: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """The critical point of Proposition 10 with Z_H = 0, Z_1 = 0 (equation (25) when D = I).

    ``widths`` = [d_0 = d_x, d_1, …, d_H = d_y]; ``S`` holds 1-based indices of eigenvalues;
    ``middle`` chooses every Z_h (1 < h < H): "zero" or "identity" (the (d_h − r)×(d_{h−1} − r)
    matrix with ones on its diagonal); ``D`` = [D_1, …, D_{H−1}] invertible (default I).
    Returns [W_1, …, W_H].
    """
    H, r = len(widths) - 1, len(S)
    if widths[0] != problem.dx or widths[-1] != problem.dy:
        raise ValueError(f"widths must start with d_x={problem.dx} and end with d_y={problem.dy}: {widths}")
    if H < 2:
        raise ValueError(f"the paper's setting has depth H >= 2, got widths {widths}")
    if r > min(widths) or len(set(S)) != r or not all(1 <= i <= problem.dy for i in S):
        raise ValueError(f"S={S} must be distinct indices in 1..{problem.dy} with |S| <= r_max={min(widths)}")
    if middle not in ("zero", "identity"):
        raise ValueError(f"middle must be 'zero' or 'identity', got {middle!r}")
    US = problem.U[:, [i - 1 for i in S]]
    f64 = torch.float64

    def block(dout: int, din: int) -> torch.Tensor:
        W = torch.zeros(dout, din, dtype=f64)
        W[:r, :r] = torch.eye(r, dtype=f64)
        if middle == "identity":
            k = min(dout, din) - r
            W[r:r + k, r:r + k] = torch.eye(k, dtype=f64)
        return W

    W1 = torch.zeros(widths[1], widths[0], dtype=f64)
    W1[:r] = US.T @ problem.regression
    WH = torch.zeros(widths[H], widths[H - 1], dtype=f64)
    WH[:, :r] = US
    weights = [W1] + [block(widths[h], widths[h - 1]) for h in range(2, H)] + [WH]
    if D is not None:
        if len(D) != H - 1:
            raise ValueError(f"D must hold H-1={H - 1} invertible matrices, got {len(D)}")
        D = [torch.as_tensor(d, dtype=f64) for d in D]
        weights[0] = D[0] @ weights[0]
        for h in range(2, H):
            weights[h - 1] = D[h - 1] @ weights[h - 1] @ torch.linalg.inv(D[h - 2])
        weights[H - 1] = weights[H - 1] @ torch.linalg.inv(D[H - 2])
    return weights


def gradient_norm(weights: list[torch.Tensor], problem: LinearProblem) -> float:
    """‖∇L(W)‖ (zero at a first-order critical point)."""
    ws = [W.detach().clone().requires_grad_(True) for W in weights]
    grads = torch.autograd.grad(loss(ws, problem.X, problem.Y), ws)
    return float(torch.sqrt(sum((g ** 2).sum() for g in grads)))


def _rank(A: torch.Tensor) -> int:
    if A.numel() == 0:
        return 0
    return int(torch.linalg.matrix_rank(A, rtol=1e-9 * max(A.shape)))


def index_set(weights: list[torch.Tensor], problem: LinearProblem) -> tuple[int, ...]:
    """The S of Proposition 1: Uᵀ (W_H⋯W_1) Σ_XY U = Uᵀ U_S U_Sᵀ Σ U = diag(λ_i 1[i∈S])."""
    d = torch.diagonal(problem.U.T @ product(weights) @ problem.Sxy @ problem.U) / problem.lam
    return tuple(i + 1 for i in range(problem.dy) if float(d[i]) > 0.5)


def complementary_blocks(weights: list[torch.Tensor], problem: LinearProblem,
                         i: int, j: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The two blocks of pivot (i, j) (Definition 3): W_{j−1}⋯W_1 Σ_XY W_H⋯W_{i+1} and W_{i−1}⋯W_{j+1}."""
    H = len(weights)
    right = product(weights, i + 1, H)  # W_H ⋯ W_{i+1} (I when i = H)
    left = product(weights, 1, j - 1)   # W_{j−1} ⋯ W_1 (I when j = 1)
    return left @ problem.Sxy @ right, product(weights, j + 1, i - 1)


def tightened(weights: list[torch.Tensor], problem: LinearProblem) -> bool:
    """Definition 6: every pivot (i, j) has a complementary block of rank r = rk(W_H⋯W_1)."""
    H, r = len(weights), _rank(product(weights))
    return all(any(_rank(B) == r for B in complementary_blocks(weights, problem, i, j))
               for i in range(2, H + 1) for j in range(1, i))


def classify_by_ranks(weights: list[torch.Tensor], problem: LinearProblem) -> Kind:
    """Theorem 7 (Figure 6's tree) on a first-order critical point."""
    r_max = min([problem.dx] + [W.shape[0] for W in weights])
    S = index_set(weights, problem)
    r = len(S)
    top = tuple(range(1, r + 1))
    if r == r_max:
        return "global minimiser" if S == top else "strict saddle"
    if S != top:
        return "strict saddle"
    return "non-strict saddle" if tightened(weights, problem) else "strict saddle"


def hessian_eigenvalues(weights: list[torch.Tensor], problem: LinearProblem) -> torch.Tensor:
    """Eigenvalues (increasing) of the Hessian of L with respect to all entries of W_1, …, W_H."""
    shapes = [W.shape for W in weights]
    sizes = [W.numel() for W in weights]

    def flat_loss(theta: torch.Tensor) -> torch.Tensor:
        ws = [t.reshape(s) for t, s in zip(torch.split(theta, sizes), shapes, strict=True)]
        return loss(ws, problem.X, problem.Y)

    theta = torch.cat([W.reshape(-1) for W in weights]).to(torch.float64)
    Hm = torch.func.hessian(flat_loss)(theta)
    return torch.linalg.eigvalsh((Hm + Hm.T) / 2)


def classify_by_hessian(weights: list[torch.Tensor], problem: LinearProblem, *,
                        rtol: float = 1e-7) -> tuple[Kind, float]:
    """Second-order test on a first-order critical point: a Hessian eigenvalue below
    −rtol·max|eig| means a strict saddle; otherwise the point is second-order critical, a global
    minimiser if L equals its minimum tr Σ_YY − Σ_{i ≤ r_max} λ_i, a non-strict saddle if not.
    Returns (kind, smallest eigenvalue)."""
    eig = hessian_eigenvalues(weights, problem)
    scale = float(eig.abs().max())
    smallest = float(eig[0])
    if smallest < -rtol * scale:
        return "strict saddle", smallest
    r_max = min([problem.dx] + [W.shape[0] for W in weights])
    minimum = problem.critical_value(tuple(range(1, r_max + 1)))
    value = float(loss(weights, problem.X, problem.Y))
    at_min = abs(value - minimum) <= 1e-8 * max(1.0, float(torch.trace(problem.Syy)))
    return ("global minimiser" if at_min else "non-strict saddle"), smallest


@dataclass(frozen=True)
class CriticalPointCheck:
    """One critical point, classified twice."""

    S: tuple[int, ...]
    middle: str
    conjugated: bool
    loss: float
    critical_value: float
    gradient_norm: float
    tightened: bool
    by_ranks: Kind
    by_hessian: Kind
    min_hessian_eigenvalue: float

    @property
    def agree(self) -> bool:
        return self.by_ranks == self.by_hessian


def enumerate_critical_points(problem: LinearProblem, widths: list[int], *,
                              seed: int = 0) -> list[CriticalPointCheck]:
    """Every index set S with |S| ≤ r_max, each with Z_h all zero and all "identity", and each
    once with D_h = I (equation (25)) and once with random invertible D_h (Proposition 10):
    each point classified by Theorem 7 and by the Hessian."""
    H, r_max = len(widths) - 1, min(widths)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for r in range(r_max + 1):
        for S in itertools.combinations(range(1, problem.dy + 1), r):
            for middle in ("zero", "identity") if H >= 3 else ("zero",):
                for conjugated in (False, True):
                    D = None
                    if conjugated:  # well-conditioned random invertible matrices
                        D = [torch.eye(widths[h], dtype=torch.float64)
                             + 0.3 * torch.randn(widths[h], widths[h], generator=gen, dtype=torch.float64)
                             / math.sqrt(widths[h]) for h in range(1, H)]
                    W = critical_point(problem, widths, S, middle=middle, D=D)
                    kind, smallest = classify_by_hessian(W, problem)
                    out.append(CriticalPointCheck(
                        S=S, middle=middle, conjugated=conjugated,
                        loss=float(loss(W, problem.X, problem.Y)), critical_value=problem.critical_value(S),
                        gradient_norm=gradient_norm(W, problem), tightened=tightened(W, problem),
                        by_ranks=classify_by_ranks(W, problem), by_hessian=kind,
                        min_hessian_eigenvalue=smallest))
    return out


# --- Appendix G: escaping strict and non-strict saddles with Adam, many runs as one program ---

@dataclass
class EscapeResult:
    """Outcome of :func:`saddle_escape` for one kind of saddle."""

    kind: str
    #: first epoch with L(W) < L(W_cp) − λ_3/2, or -1 when not escaped within ``epochs``
    escape_epoch: list[int]
    #: L(W)/(m·d_y) (Keras' mean squared error) after each epoch (epoch 0: the start) of the first
    #: ``curves`` runs, for ``curve_epochs`` epochs
    curves: list[list[float]]
    #: L(W_cp)/(m·d_y) and the threshold (L(W_cp) − λ_3/2)/(m·d_y) of those runs
    critical_values: list[float]
    thresholds: list[float]


def _keras_adam(params: list[torch.Tensor], grads: list[torch.Tensor], state: dict, lr: float,
                beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7) -> None:
    """Keras' Adam step: m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g²,
    p ← p − lr √(1−β2^t)/(1−β1^t) · m/(√v + ε). Elementwise, so runs stacked along a batch
    dimension are optimised independently."""
    state["t"] = t = state.get("t", 0) + 1
    alpha = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    for k, (p, g) in enumerate(zip(params, grads, strict=True)):
        m = state.setdefault(("m", k), torch.zeros_like(p))
        v = state.setdefault(("v", k), torch.zeros_like(p))
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        p.sub_(alpha * m / (v.sqrt() + eps))


def saddle_escape(kind: Literal["strict", "non-strict"], runs: int, epochs: int, *, seed: int = 0,
                  dx: int = 10, dy: int = 4, hidden: tuple[int, ...] = (10, 10, 10, 10), m: int = 100,
                  r: int = 2, batch_size: int = 32, lr: float = 1e-3, sigma_scale: float = 0.1,
                  curves: int = 1, curve_epochs: int | None = None, progress: bool = False) -> EscapeResult:
    """Appendix G's experiment for ``runs`` independent runs at once (float32).

    Each run draws its own data x_i ~ N(0, I_{d_x}), y_i ~ N(0, I_{d_y}) (m points), starts at
    W_cp + V where W_cp is equation (25) with S = {1..r} and Z_h = I ("strict": not tightened) or
    Z_h = 0 ("non-strict": tightened), and V_h has i.i.d. N(0, σ_h²) entries with
    σ_h = sigma_scale·‖W_h^cp‖_F/√(d_{h−1} d_h); then Keras' Adam (defaults) on the mean squared
    error over shuffled minibatches of ``batch_size``. An epoch is one pass over the m points; the
    escape epoch is the first with L(W) < L(W_cp) − λ_3/2 (L the sum of squares on all m points).

    A run leaves the batch once it has escaped, except the first ``curves`` runs, whose loss is
    recorded for ``curve_epochs`` epochs (default: all); the loop stops when every run has escaped
    and the curves are complete. This only saves time: the remaining runs' shuffles come from the
    same generator, so the escape epochs' distribution does not depend on it.
    """
    if kind not in ("strict", "non-strict"):
        raise ValueError(f"kind must be 'strict' or 'non-strict', got {kind!r}")
    if runs < 1 or epochs < 1:
        raise ValueError(f"runs and epochs must be positive, got runs={runs}, epochs={epochs}")
    widths = [dx, *hidden, dy]
    H = len(widths) - 1
    if H < 3 or r >= min(widths) or r + 1 > dy:
        raise ValueError(f"needs H >= 3 and r < r_max, r + 1 <= d_y: widths {widths}, r={r}")
    gen = torch.Generator().manual_seed(seed)
    B = runs
    X = torch.randn(B, dx, m, generator=gen, dtype=torch.float64)
    Y = torch.randn(B, dy, m, generator=gen, dtype=torch.float64)
    Sxx, Sxy = X @ X.transpose(1, 2), X @ Y.transpose(1, 2)
    reg = torch.linalg.solve(Sxx, Sxy).transpose(1, 2)          # Σ_YX Σ_XX⁻¹, (B, d_y, d_x)
    Sigma = reg @ Sxy
    lam, U = torch.linalg.eigh((Sigma + Sigma.transpose(1, 2)) / 2)
    lam, U = lam.flip(-1), U.flip(-1)
    US = U[:, :, :r]
    W1 = torch.zeros(B, widths[1], dx, dtype=torch.float64)
    W1[:, :r] = US.transpose(1, 2) @ reg
    WH = torch.zeros(B, dy, widths[H - 1], dtype=torch.float64)
    WH[:, :, :r] = US
    cp = [W1]
    for h in range(2, H):
        W = torch.zeros(B, widths[h], widths[h - 1], dtype=torch.float64)
        W[:, :r, :r] = torch.eye(r, dtype=torch.float64)
        if kind == "strict":
            k = min(widths[h], widths[h - 1]) - r
            W[:, r:r + k, r:r + k] = torch.eye(k, dtype=torch.float64)
        cp.append(W)
    cp.append(WH)
    params = []
    for h, W in enumerate(cp, start=1):
        sigma = sigma_scale * W.flatten(1).norm(dim=1) / math.sqrt(widths[h - 1] * widths[h])
        V = torch.randn(W.shape, generator=gen, dtype=torch.float64) * sigma[:, None, None]
        params.append((W + V).float())
    Xf, Yf = X.float(), Y.float()
    critical = (Y ** 2).sum((1, 2)) - lam[:, :r].sum(1)             # L(W_cp), Proposition 1
    threshold = (critical - lam[:, r] / 2).float()
    curves = min(curves, B)
    curve_epochs = epochs if curve_epochs is None else min(curve_epochs, epochs)
    critical_out = (critical[:curves] / (m * dy)).tolist()
    threshold_out = (threshold[:curves].double() / (m * dy)).tolist()

    def full_loss() -> torch.Tensor:
        P = params[0]
        for W in params[1:]:
            P = W @ P
        return ((P @ Xf - Yf) ** 2).sum((1, 2))

    escape = torch.full((B,), -1, dtype=torch.long)
    alive = torch.arange(B)          # the runs still being optimised (row i of the tensors is run alive[i])
    history = [full_loss()[:curves].tolist()]
    state: dict = {}
    epoch_iter = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=f"{kind} saddles ({runs} runs)")
    for epoch in epoch_iter:
        n = alive.numel()
        perm = torch.rand(n, m, generator=gen).argsort(dim=1)
        for s in range(0, m, batch_size):
            idx = perm[:, s:s + batch_size]
            xb = torch.gather(Xf, 2, idx[:, None, :].expand(n, dx, idx.shape[1]))
            yb = torch.gather(Yf, 2, idx[:, None, :].expand(n, dy, idx.shape[1]))
            for p in params:
                p.requires_grad_(True)
            P = params[0]
            for W in params[1:]:
                P = W @ P
            # Keras' MSE: the mean over the batch and the outputs; summed over the independent runs
            batch_loss = ((P @ xb - yb) ** 2).mean((1, 2)).sum()
            grads = torch.autograd.grad(batch_loss, params)
            for p in params:
                p.requires_grad_(False)
            with torch.no_grad():
                _keras_adam(params, list(grads), state, lr)
        with torch.no_grad():
            current = full_loss()
        newly = (escape[alive] < 0) & (current < threshold)
        escape[alive[newly]] = epoch
        if epoch <= curve_epochs:
            history.append(current[:curves].tolist())
        # escaped runs leave the batch (the curve runs stay until curve_epochs)
        keep = escape[alive] < 0
        if epoch < curve_epochs:
            keep[:curves] = True
        if not bool(keep.any()):
            break
        if int(keep.sum()) < 0.8 * n:
            alive, Xf, Yf, threshold = alive[keep], Xf[keep], Yf[keep], threshold[keep]
            params = [p[keep].clone() for p in params]
            for key, value in list(state.items()):
                if isinstance(value, torch.Tensor):
                    state[key] = value[keep].clone()
            if epoch >= curve_epochs:
                curves = 0
            else:
                curves = int(keep[:curves].sum())
    n_curves = len(critical_out)
    return EscapeResult(
        kind=kind, escape_epoch=escape.tolist(),
        curves=[[h[i] / (m * dy) for h in history if len(h) > i] for i in range(n_curves)],
        critical_values=critical_out, thresholds=threshold_out)
