"""Parameter identifiability of a deep feedforward ReLU network (Bona-Pellissier, Bachoc,
Malgouyres, Machine Learning 2023, arXiv 2112.12982).

The paper gives conditions on a network θ and a subset Ω of the input space under which the
function f_θ restricted to Ω determines θ modulo the two symmetries every ReLU network has:

- permutation: reordering the neurons of a hidden layer ℓ (rows of W_ℓ and b_ℓ, columns of
  W_{ℓ+1}) by the same permutation;
- positive rescaling: for a hidden neuron v and λ > 0, multiplying its incoming weights and bias
  by λ and its outgoing weights by 1/λ, since ReLU(λ t) = λ ReLU(t).

Only the abstract of the paper could be read here, so its list of conditions is not restated.
This module provides what a reader can check without it:

- :func:`permute`, :func:`rescale`, :func:`random_symmetry` apply the symmetries, and
  :func:`canonical_form` / :func:`equivalent` decide whether two networks are related by them
  (normalise each hidden neuron's incoming (w, b) to unit norm, pushing the scale to its outgoing
  weights, then sort each layer's neurons);
- :func:`preactivations` gives every neuron's pre-activation, whose zero set in input space is the
  neuron's "bent hyperplane": a hyperplane for the first layer, piecewise linear and bent where it
  crosses earlier boundaries for deeper layers;
- :func:`domain_conditions` checks, on points sampled from Ω, conditions without which
  identification from f_θ|_Ω must fail (our elementary arguments, not the paper's theorem):
  every hidden neuron's boundary meets Ω (it is neither dead, never active, nor always active on
  Ω) and every hidden neuron has a nonzero outgoing weight;
- :func:`dead_neuron_counterexample` builds, when a neuron is dead on Ω, a second network that is
  not equivalent to θ and has the same function on Ω.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .local_identifiability import ReluNet, forward

__all__ = ["permute", "rescale", "random_symmetry", "canonical_form", "equivalent", "preactivations",
           "domain_conditions", "DomainConditions", "dead_neuron_counterexample", "forward"]


def _clone(net: ReluNet) -> ReluNet:
    return [(W.clone(), b.clone()) for W, b in net]


def _check_hidden(net: ReluNet, layer: int) -> None:
    if not 1 <= layer <= len(net) - 1:
        raise ValueError(f"layer must be a hidden layer in 1..{len(net) - 1}, got {layer}")


def permute(net: ReluNet, layer: int, perm: torch.Tensor) -> ReluNet:
    """Reorder the neurons of hidden layer ``layer`` (1-based) by ``perm``."""
    _check_hidden(net, layer)
    perm = torch.as_tensor(perm)
    if sorted(perm.tolist()) != list(range(net[layer - 1][0].shape[0])):
        raise ValueError(f"perm must be a permutation of 0..{net[layer - 1][0].shape[0] - 1}, "
                         f"got {perm.tolist()}")
    out = _clone(net)
    W, b = out[layer - 1]
    out[layer - 1] = (W[perm], b[perm])
    out[layer] = (out[layer][0][:, perm], out[layer][1])
    return out


def rescale(net: ReluNet, layer: int, scales: torch.Tensor) -> ReluNet:
    """Multiply the incoming weights and bias of each neuron of hidden layer ``layer`` by
    scales[v] > 0 and its outgoing weights by 1/scales[v]."""
    _check_hidden(net, layer)
    scales = torch.as_tensor(scales, dtype=net[0][0].dtype)
    if scales.shape != net[layer - 1][1].shape or bool((scales <= 0).any()):
        raise ValueError(f"scales must be {net[layer - 1][1].numel()} positive numbers, "
                         f"got {scales.tolist()}")
    out = _clone(net)
    W, b = out[layer - 1]
    out[layer - 1] = (W * scales[:, None], b * scales)
    out[layer] = (out[layer][0] / scales[None, :], out[layer][1])
    return out


def random_symmetry(net: ReluNet, *, seed: int = 0) -> ReluNet:
    """A random permutation and random positive rescaling (log-uniform in [1/4, 4]) of every
    hidden layer."""
    gen = torch.Generator().manual_seed(seed)
    for layer in range(1, len(net)):
        n = net[layer - 1][0].shape[0]
        net = permute(net, layer, torch.randperm(n, generator=gen))
        scales = torch.exp((torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * 1.386)
        net = rescale(net, layer, scales.to(net[0][0].dtype))
    return net


def canonical_form(net: ReluNet) -> ReluNet:
    """The representative of θ's class under the symmetries: layer by layer, each hidden neuron's
    incoming (w, b) scaled to unit Euclidean norm (the scale pushed to its outgoing weights), then
    the layer's neurons sorted lexicographically by their (w, b). Raises on a neuron with zero
    incoming weights and bias (its class has no such representative)."""
    out = _clone(net)
    for layer in range(1, len(out)):
        W, b = out[layer - 1]
        norms = torch.cat([W, b[:, None]], 1).norm(dim=1)
        if bool((norms == 0).any()):
            raise ValueError(f"layer {layer} has a neuron with zero incoming weights and bias")
        out = rescale(out, layer, 1 / norms)
        W, b = out[layer - 1]
        rows = torch.cat([W, b[:, None]], 1).tolist()
        order = sorted(range(len(rows)), key=lambda i: [round(v, 9) for v in rows[i]])
        out = permute(out, layer, torch.tensor(order))
    return out


def equivalent(net_a: ReluNet, net_b: ReluNet, *, atol: float = 1e-8) -> bool:
    """Whether the two networks are related by permutations and positive rescalings."""
    if [W.shape for W, _ in net_a] != [W.shape for W, _ in net_b]:
        return False
    ca, cb = canonical_form(net_a), canonical_form(net_b)
    return all(torch.allclose(Wa, Wb, atol=atol) and torch.allclose(ba, bb, atol=atol)
               for (Wa, ba), (Wb, bb) in zip(ca, cb, strict=True))


def preactivations(net: ReluNet, X: torch.Tensor) -> list[torch.Tensor]:
    """The pre-activations W_ℓ h_{ℓ−1} + b_ℓ of every hidden layer at the rows of X (each n × N_ℓ);
    neuron v's bent hyperplane is the zero set of its column."""
    out, h = [], X
    for W, b in net[:-1]:
        pre = h @ W.T + b
        out.append(pre)
        h = torch.relu(pre)
    return out


@dataclass(frozen=True)
class DomainConditions:
    """Per hidden layer, the neurons (0-based) that fail each condition on the sampled Ω."""

    dead: list[list[int]]
    always_active: list[list[int]]
    zero_outgoing: list[list[int]]

    @property
    def holds(self) -> bool:
        return not any(self.dead + self.always_active + self.zero_outgoing)


def domain_conditions(net: ReluNet, omega: torch.Tensor) -> DomainConditions:
    """Check on the points ``omega`` (a dense sample of Ω) that every hidden neuron's boundary
    meets Ω (its pre-activation takes both signs) and that it has a nonzero outgoing weight.

    Why each is needed: a neuron never active on Ω contributes nothing there, so its incoming
    parameters can change freely (:func:`dead_neuron_counterexample`); a neuron always active on Ω
    is affine there, so it can be merged into the next layer's affine map; a neuron with zero
    outgoing weights is invisible. A finite sample can miss a thin crossing: the check is only as
    good as the sample is dense."""
    dead, always, zero = [], [], []
    for layer, pre in enumerate(preactivations(net, omega), start=1):
        dead.append((pre <= 0).all(0).nonzero().squeeze(1).tolist())
        always.append((pre > 0).all(0).nonzero().squeeze(1).tolist())
        zero.append((net[layer][0] == 0).all(0).nonzero().squeeze(1).tolist())
    return DomainConditions(dead, always, zero)


def dead_neuron_counterexample(net: ReluNet, omega: torch.Tensor, *, shift: float = 0.5
                               ) -> tuple[ReluNet, int, int] | None:
    """When some hidden neuron is dead on Ω, a network θ' with f_θ' = f_θ on Ω that is not
    equivalent to θ: the dead neuron's first incoming weight is moved by ``shift``·max(1, ‖w_v‖) and the
    bias kept below the neuron's maximum on Ω, so it stays dead). Returns (θ', layer, neuron), or
    None when no neuron is dead."""
    conditions = domain_conditions(net, omega)
    for layer, dead in enumerate(conditions.dead, start=1):
        if not dead:
            continue
        v = dead[0]
        out = _clone(net)
        W, b = out[layer - 1]
        h = omega
        for Wl, bl in net[:layer - 1]:
            h = torch.relu(h @ Wl.T + bl)
        W[v, 0] += shift * float(W[v].norm().clamp_min(1.0))
        # keep the neuron dead on Ω: its new pre-activation must stay <= 0 at every point
        b[v] = -float((h @ W[v]).max().clamp_min(0)) - 1.0 - float(b[v].abs())
        return out, layer, v
    return None
