"""Local identifiability of deep ReLU networks from a sample (Bona-Pellissier, Malgouyres, Bachoc,
NeurIPS 2022, arXiv 2206.07424).

A fully connected ReLU network with widths N_0, …, N_L has parameters θ = (W_ℓ, b_ℓ)_{ℓ=1..L},
W_ℓ ∈ R^{N_ℓ×N_{ℓ−1}}, and implements f_θ(x) = W_L σ(⋯σ(W_1 x + b_1)⋯) + b_L with σ = ReLU.
Multiplying the incoming weights and bias of a hidden neuron by λ > 0 and its outgoing weights by
1/λ leaves f_θ unchanged, so θ can only be identified modulo these rescalings. The paper removes
them by holding one outgoing edge per hidden neuron v fixed, v → s_max(v), the one of largest
|weight| (its Figure 1); the other edges form F_θ, and B is the set of biases.

Let X = (x^1, …, x^n) be a sample.

- Γ(X, θ) ∈ R^{nN_L × (|F_θ|+|B|)} is the Jacobian of τ ↦ (f_{ρ_θ(τ)}(x^i))_i, τ the parameters in
  F_θ ∪ B (Proposition 10: backpropagation, leaving out the derivatives with respect to the fixed
  edges). R_Γ = rk Γ(X, θ).
- f_θ(x) = A(x, θ) φ(θ), where φ(θ) lists the products of the parameters along every path that ends
  at an output neuron and starts at an input neuron or at a bias, and A(x, θ) holds, for each path,
  the start value (x_j, or 1 for a bias) times 1[every hidden neuron of the path is active at x].
  The last step of a path (to output k) does not depend on k, so A(X, θ) is α(X, θ) ⊗ I_{N_L} up to
  a permutation, with α(X, θ) ∈ R^{n × P} the same features for the paths that end at the last
  hidden layer (and the output bias); R_A = rk A = N_L · rk α(X, θ) (Proposition 11).
- The image of the lifting is a smooth manifold Σ₁* of dimension
  N_0N_1 + ⋯ + N_{L−1}N_L + N_L = |F_θ| + |B| (Theorem 6).
- C_S: R_Γ = |F_θ| + |B| is sufficient for θ to be locally identifiable from X (Theorem 9).
- C_N: R_Γ < R_A or R_Γ = |F_θ| + |B| is necessary (Theorem 8): when R_Γ = R_A < |F_θ| + |B|,
  θ is not locally identifiable. Always R_Γ ≤ R_A (Γ = A · Dφ), so C_S needs n·N_L ≥ |F_θ| + |B|.

:func:`check` computes both ranks and says "identifiable" (C_S holds), "not identifiable" (C_N
fails) or "undetermined" (C_N holds, C_S fails: the two conditions do not decide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["ReluNet", "random_network", "forward", "free_masks", "gamma", "alpha", "lifting", "check",
           "IdentifiabilityCheck", "activation_counts"]

#: a network: [(W_1, b_1), …, (W_L, b_L)]
ReluNet = list[tuple[torch.Tensor, torch.Tensor]]

Verdict = Literal["identifiable", "not identifiable", "undetermined"]


def random_network(widths: list[int], *, seed: int = 0, bias_std: float = 0.5,
                   dtype: torch.dtype = torch.float64) -> ReluNet:
    """W_ℓ with i.i.d. N(0, 2/N_{ℓ−1}) entries (He) and b_ℓ with N(0, bias_std²) entries."""
    if len(widths) < 2 or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must hold at least two positive sizes, got {widths}")
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(n_out, n_in, generator=gen, dtype=dtype) * (2.0 / n_in) ** 0.5,
             torch.randn(n_out, generator=gen, dtype=dtype) * bias_std)
            for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)]


def forward(net: ReluNet, X: torch.Tensor) -> torch.Tensor:
    """f_θ on the rows of X (n × N_0) → n × N_L."""
    h = X
    for ell, (W, b) in enumerate(net):
        h = h @ W.T + b
        if ell < len(net) - 1:
            h = torch.relu(h)
    return h


def activation_counts(net: ReluNet, X: torch.Tensor) -> list[torch.Tensor]:
    """For each hidden layer, how many samples activate each neuron (0: dead on X; n: always on)."""
    out, h = [], X
    for W, b in net[:-1]:
        pre = h @ W.T + b
        out.append((pre > 0).sum(0))
        h = torch.relu(pre)
    return out


def free_masks(net: ReluNet) -> list[torch.Tensor]:
    """Boolean masks of the free edges F_θ, one per W_ℓ: every edge except, for each hidden neuron
    v, its outgoing edge of largest |weight| (v → s_max(v))."""
    masks = [torch.ones_like(W, dtype=torch.bool) for W, _ in net]
    for ell in range(1, len(net)):  # W_{ℓ+1} holds the outgoing edges of layer ℓ's neurons
        W = net[ell][0]
        masks[ell][W.abs().argmax(dim=0), torch.arange(W.shape[1])] = False
    return masks


def dimension(net: ReluNet) -> int:
    """|F_θ| + |B| = N_0N_1 + ⋯ + N_{L−1}N_L + N_L = dim Σ₁* (Theorem 6)."""
    return sum(int(m.sum()) for m in free_masks(net)) + sum(b.numel() for _, b in net)


def gamma(net: ReluNet, X: torch.Tensor) -> torch.Tensor:
    """Γ(X, θ): the Jacobian of the n·N_L outputs with respect to the free edges and the biases
    (``torch.func.jacrev``), the fixed edges held at their values."""
    masks = free_masks(net)
    where = [m.reshape(-1).nonzero().squeeze(1) for m in masks]
    free = torch.cat([torch.cat([W[m], b]) for (W, b), m in zip(net, masks, strict=True)])

    def outputs(tau: torch.Tensor) -> torch.Tensor:
        params, k = [], 0
        for (W, b), idx in zip(net, where, strict=True):
            nw = idx.numel()
            Wt = W.reshape(-1).index_put((idx,), tau[k:k + nw]).reshape(W.shape)
            k += nw
            params.append((Wt, tau[k:k + b.numel()]))
            k += b.numel()
        return forward(params, X).reshape(-1)

    return torch.func.jacrev(outputs)(free)


def alpha(net: ReluNet, X: torch.Tensor, *, max_paths: int = 200_000) -> torch.Tensor:
    """α(X, θ) ∈ R^{n×P}: for every path from an input neuron or a bias to a neuron of the last
    hidden layer, then one column for the output bias, the start value (x_j, or 1) times the
    product of the activation indicators of the path's hidden neurons at each sample.

    Built layer by layer: Φ_1(v) = 1[v active]·[x, 1], Φ_ℓ(v) = 1[v active]·[Φ_{ℓ−1}(u) for all u, 1].
    """
    n = X.shape[0]
    widths = [X.shape[1]] + [W.shape[0] for W, _ in net]
    paths = 1 + widths[0]
    for w in widths[1:-1]:
        paths = paths * w + 1
    if paths > max_paths:
        raise ValueError(f"α(X, θ) would have {paths} columns (over max_paths={max_paths}); "
                         "use a smaller architecture")
    ones = torch.ones(n, 1, dtype=X.dtype)
    features, h = torch.cat([X, ones], 1), X        # paths ending at the current layer's inputs
    for W, b in net[:-1]:
        pre = h @ W.T + b
        active = (pre > 0).to(X.dtype)               # n × N_ℓ
        per_neuron = active[:, :, None] * features[:, None, :]   # n × N_ℓ × (paths into it)
        features = torch.cat([per_neuron.reshape(n, -1), ones], 1)
        h = torch.relu(pre)
    return features


def lifting(net: ReluNet) -> torch.Tensor:
    """φ(θ) arranged as a P × N_L matrix whose column k lists the products of the parameters along
    the paths ending at output k, in the order of α's columns, so that f_θ(X) = α(X, θ) φ(θ)."""
    W1, b1 = net[0]
    phi = [torch.cat([W1[v], b1[v:v + 1]]) for v in range(W1.shape[0])]
    for W, b in net[1:]:
        phi = [torch.cat([*(W[v, u] * phi[u] for u in range(W.shape[1])), b[v:v + 1]])
               for v in range(W.shape[0])]
    return torch.stack(phi, 1)


def _rank(A: torch.Tensor) -> int:
    if A.numel() == 0:
        return 0
    s = torch.linalg.svdvals(A.to(torch.float64))
    return int((s > s[0] * max(A.shape) * 1e-10).sum()) if float(s[0]) > 0 else 0


@dataclass(frozen=True)
class IdentifiabilityCheck:
    """The ranks of Theorems 8 and 9 at (X, θ)."""

    n: int
    R_gamma: int
    R_A: int
    #: |F_θ| + |B|
    dimension: int
    n_outputs: int

    @property
    def sufficient(self) -> bool:
        """C_S: R_Γ = |F_θ| + |B|."""
        return self.R_gamma == self.dimension

    @property
    def necessary(self) -> bool:
        """C_N: R_Γ < R_A or R_Γ = |F_θ| + |B|."""
        return self.R_gamma < self.R_A or self.sufficient

    @property
    def verdict(self) -> Verdict:
        if self.sufficient:
            return "identifiable"
        return "undetermined" if self.necessary else "not identifiable"


def check(net: ReluNet, X: torch.Tensor) -> IdentifiabilityCheck:
    """R_Γ, R_A = N_L·rk α(X, θ) and |F_θ| + |B| for the network ``net`` on the sample ``X``."""
    X = torch.as_tensor(X, dtype=net[0][0].dtype)
    if X.ndim != 2 or X.shape[1] != net[0][0].shape[1]:
        raise ValueError(f"X must be n × N_0 = n × {net[0][0].shape[1]}, got {tuple(X.shape)}")
    n_out = net[-1][0].shape[0]
    return IdentifiabilityCheck(n=X.shape[0], R_gamma=_rank(gamma(net, X)), R_A=n_out * _rank(alpha(net, X)),
                                dimension=dimension(net), n_outputs=n_out)
