# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Symmetries, bent hyperplanes and conditions
#
# *Paper: Bona-Pellissier, Bachoc, Malgouyres, Machine Learning 2023
# ([arXiv 2112.12982](https://arxiv.org/abs/2112.12982)). Only the abstract could be read here; the
# conditions checked below are elementary ones we state ourselves, not the theorem's list.*
#
# Everything on this page is computed when the page is built (seconds; random networks of seed
# `seed`): nothing is trained.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from qornn.theory import local_identifiability as li
from qornn.theory import parameter_identifiability as pi
from qornn.theory import report

# %% [markdown]
# ## Parameters
#
# `profile` (`smoke`: 2 networks per architecture; `cpu` and `paper`: 20) and `seed`.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0

# %% [markdown]
# ## The symmetries leave the function unchanged
#
# For random networks of several architectures, a random permutation of every hidden layer and a
# random positive rescaling of every hidden neuron (factors between 1/4 and 4): the largest change
# of the output over 2,000 random inputs in $[-2, 2]^d$, and whether `equivalent` recognises the pair
# (it compares canonical forms: each hidden neuron's incoming $(w, b)$ scaled to unit norm, then
# each layer's neurons sorted). A perturbation that is not a symmetry (the output bias moved by
# 0.1) changes both.

# %% tags=["hide-input"]
if profile not in ("smoke", "cpu", "paper"):
    raise ValueError(f"unknown profile {profile!r}; valid: smoke, cpu, paper")
networks = 2 if profile == "smoke" else 20
rows = []
for widths in ([2, 5, 1], [2, 6, 4, 1], [3, 8, 8, 8, 2]):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(2000, widths[0], generator=gen, dtype=torch.float64) * 4 - 2
    worst, equivalent, moved_equivalent = 0.0, 0, 0
    for k in range(networks):
        net = li.random_network(widths, seed=seed + k)
        moved = pi.random_symmetry(net, seed=seed + 1000 + k)
        worst = max(worst, float((pi.forward(net, X) - pi.forward(moved, X)).abs().max()))
        equivalent += pi.equivalent(net, moved)
        bumped = [(W.clone(), b.clone()) for W, b in net]
        bumped[-1][1][0] += 0.1
        moved_equivalent += pi.equivalent(net, bumped)
    rows.append({"architecture": "-".join(map(str, widths)), "networks": networks,
                 "max |f_θ − f_θ'| after a symmetry": worst, "recognised as equivalent": equivalent,
                 "output bias moved: recognised as equivalent": moved_equivalent})
display(pd.DataFrame(rows).style.hide(axis="index")
        .format("{:.1e}", subset=["max |f_θ − f_θ'| after a symmetry"]))

# %% [markdown]
# ## Bent hyperplanes
#
# A random network 2-6-5-1: the zero sets of the pre-activations of its first-layer neurons are
# straight lines (blue); those of its second-layer neurons (orange) are piecewise linear and bend
# where they cross a first-layer line, since the second layer's input changes slope there. The grey
# background is the output $f_\theta$ (scale on the colorbar). The paper's proofs recover the
# parameters layer by layer from these boundaries: the first layer's lines give its neurons up to
# scale, the bends give the next layer's weights.

# %% tags=["hide-input"]
net = li.random_network([2, 6, 5, 1], seed=seed)
fig, ax = plt.subplots(figsize=(6, 6))
report.plot_bent_hyperplanes(net, ax, box=2.0)
ax.set_title("bent hyperplanes of a 2-6-5-1 ReLU network")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Conditions on the domain, and a counterexample
#
# On $\Omega = [-1, 1]^2$ (40,000 uniform points), `domain_conditions` checks that every hidden
# neuron's boundary meets $\Omega$ (it is neither dead nor always active there) and that every hidden
# neuron has a nonzero outgoing weight. Without them identification from $f_\theta|_\Omega$ must fail:
# a neuron dead on $\Omega$ contributes nothing there, so its incoming weights can change freely. The
# table below checks the network above first (its random draw need not meet the conditions: the
# table says which neurons break them), then kills one more neuron of it (bias $-5$) and builds that
# second network: same function on $\Omega$, not equivalent, and a different function outside $\Omega$.

# %% tags=["hide-input"]
omega = torch.rand(40_000, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1
generic = pi.domain_conditions(net, omega)
W, b = net[0]
b_dead = b.clone()
b_dead[0] = -5.0
dead_net = [(W, b_dead), *net[1:]]
cond = pi.domain_conditions(dead_net, omega)
other, layer, neuron = pi.dead_neuron_counterexample(dead_net, omega)
far = torch.rand(10_000, 2, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64) * 20 - 10
rows = [{"network": "2-6-5-1 as drawn", "dead on Ω": generic.dead,
         "always active on Ω": generic.always_active, "conditions hold": generic.holds},
        {"network": "first neuron killed (bias −5)", "dead on Ω": cond.dead,
         "always active on Ω": cond.always_active, "conditions hold": cond.holds}]
display(pd.DataFrame(rows).style.hide(axis="index"))
on_omega = float((pi.forward(dead_net, omega) - pi.forward(other, omega)).abs().max())
off_omega = float((pi.forward(dead_net, far) - pi.forward(other, far)).abs().max())
display(Markdown(
    f"Counterexample: neuron {neuron} of layer {layer} has new incoming weights; "
    f"max $|f_\\theta - f_{{\\theta'}}|$ on $\\Omega$ = {on_omega:.1g}, on $[-10, 10]^2$ = {off_omega:.3g}; "
    f"equivalent: **{pi.equivalent(dead_net, other)}**."))

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for ax, network, title, output in ((axes[0], dead_net, "θ: first neuron dead on Ω", r"$f_\theta(x)$"),
                                   (axes[1], other, "θ': same f on Ω", r"$f_{\theta'}(x)$")):
    report.plot_bent_hyperplanes(network, ax, box=4.0, output_label=output)
    ax.add_patch(plt.Rectangle((-1, -1), 2, 2, fill=False, edgecolor="black", linewidth=1.5, linestyle="--"))
    ax.set_title(title + " (Ω dashed)")
fig.tight_layout()
plt.show()
