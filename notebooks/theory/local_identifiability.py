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
# # Ranks against the sample size
#
# *Paper: Bona-Pellissier, Malgouyres, Bachoc, NeurIPS 2022 ([arXiv 2206.07424](https://arxiv.org/abs/2206.07424)),
# Theorems 6, 8 and 9, Propositions 10 and 11. The paper has no experiment: everything here is ours.*
#
# `qornn.theory.local_identifiability.check(net, X)` computes
#
# - $R_\Gamma$, the rank of $\Gamma(X, \theta)$: the Jacobian of the $n N_L$ outputs with respect to
#   the free edges $F_\theta$ and the biases $B$, by `torch.func.jacrev`, the fixed edges
#   $v \to s_{\max}(v)$ (each hidden neuron's outgoing edge of largest magnitude) held fixed;
# - $R_A = N_L \operatorname{rk}\alpha(X, \theta)$, with $\alpha(X, \theta)$ built explicitly: one
#   column per path from an input or a bias to the last hidden layer (and one for the output bias),
#   holding the path's start value times its activation indicator at each sample (the test suite checks
#   $f_\theta(X) = \alpha(X, \theta)\varphi(\theta)$ to machine precision);
# - the verdict: **identifiable** when $R_\Gamma = |F_\theta| + |B|$ ($C_S$), **not identifiable** when
#   $R_\Gamma = R_A < |F_\theta| + |B|$ ($C_N$ fails), **undetermined** otherwise.
#
# Networks: He-initialised weights, $\mathcal N(0, 0.5^2)$ biases (seed `seed`); inputs $\mathcal N(0, I)$.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from qornn.theory import local_identifiability as li
from qornn.theory import parameter_identifiability as pi
from qornn.theory import report
from qornn.theory.runner import recorded_or_run

# %% [markdown]
# ## Parameters
#
# `profile` (`smoke`, `cpu` or `paper`; default `cpu`), `seed` (default 0) and `retrain` (default
# `False`: render the committed record).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
retrain = False

# %% tags=["hide-input"]
record, ran = recorded_or_run("theory-identifiability-rank", profile, seed=seed, retrain=retrain)
display(Markdown(report.record_status(record, "theory-identifiability-rank", profile, ran)))

# %% [markdown]
# ## $R_\Gamma$ and $R_A$ against $n$
#
# $R_\Gamma \le R_A \le n N_L$ always. $C_S$ holds once $R_\Gamma$ reaches the dashed line
# $|F_\theta| + |B|$; while $R_\Gamma = R_A$ below it (too few samples), $C_N$ fails and the network is
# not identifiable. Each marker on $R_\Gamma$ gives the verdict at that $n$: filled circle identifiable,
# hollow circle undetermined, cross not identifiable (on the log axis a rank just below the threshold
# and one at it look alike; the fill tells them apart). The table gives, at each $n$, the number of
# hidden neurons dead on the sample (never active) or always active. With few samples many are; most
# become active on some samples and not others as $n$ grows, but a neuron that stays dead or always
# active on every sample caps $R_\Gamma$ below the threshold however many samples are added.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, len(record["runs"]), figsize=(3.7 * len(record["runs"]), 3.5), squeeze=False)
report.plot_rank_vs_n(record, axes[0])
fig.tight_layout()
plt.show()
display(report.rank_frame(record).style.hide(axis="index"))

# %% [markdown]
# ## Where identifiability fails, and why
#
# Four cases on the architecture 3-8-6-2 (computed when the page is built, seconds):
#
# 1. a generic network and 160 samples: $C_S$ holds;
# 2. the same network and 20 samples: $nN_L = 40 < 86$, and $R_\Gamma = R_A$: $C_N$ fails;
# 3. the first hidden neuron made dead (bias $-100$): its incoming parameters do not act on the
#    outputs, so $R_\Gamma < |F_\theta| + |B|$. The rank tests need not decide ($R_\Gamma < R_A$ here),
#    but the network is not locally identifiable: moving the dead neuron's incoming weights changes
#    $\theta$ (to a non-equivalent network) without changing a single output, as the last column shows;
# 4. on 2-3-1, every hidden neuron always active (biases $+100$): the network is affine on the
#    sample, only $R_A = 3$ numbers (two slopes and an intercept) are seen: $R_\Gamma = R_A = 3 < 10$.

# %% tags=["hide-input"]
def sample(n, d):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)


net = li.random_network([3, 8, 6, 2], seed=seed)
W, b = net[0]
dead = [(W, torch.cat([torch.tensor([-100.0], dtype=torch.float64), b[1:]])), *net[1:]]
W2, b2 = li.random_network([2, 3, 1], seed=seed)[0]
always = [(W2, b2 + 100.0), li.random_network([2, 3, 1], seed=seed)[1]]
cases = [("generic, n = 160", net, sample(160, 3)), ("generic, n = 20", net, sample(20, 3)),
         ("a dead neuron, n = 320", dead, sample(320, 3)),
         ("2-3-1, always active, n = 200", always, sample(200, 2))]
rows = []
for name, network, X in cases:
    c = li.check(network, X)
    witness = pi.dead_neuron_counterexample(network, X)
    same = "—"
    if witness is not None:
        other = witness[0]
        same = (f"max |Δf| on X = {float((li.forward(network, X) - li.forward(other, X)).abs().max()):.1g}, "
                f"equivalent: {pi.equivalent(network, other)}")
    rows.append({"case": name, "n·N_L": c.n * c.n_outputs, "R_Γ": c.R_gamma, "R_A": c.R_A,
                 "|F|+|B|": c.dimension, "C_S": c.sufficient, "C_N": c.necessary, "verdict": c.verdict,
                 "another θ with the same outputs": same})
display(pd.DataFrame(rows).style.hide(axis="index"))

# %% [markdown]
# ## Figure 2, drawn for a small case
#
# The paper's Figure 2 shows, in the space of lifted parameters, the manifold $\Sigma_1^*$ and the
# affine space $N(X, \theta) = \varphi(\theta) + \operatorname{Ker} A(X, \theta)$ of lifted parameters that
# give the same outputs on $X$: they meet only at $\varphi(\theta)$ near it (identifiable), or along a
# curve (not identifiable). The smallest network where $\Sigma_1^*$ is a proper manifold is
# $N = (1, 1, 2)$: one input, one hidden neuron with weight $w$ and bias $b$, two outputs with
# weights $v_1$ (the fixed edge) and $v_2$ and biases $c_1, c_2$. Its lifted parameters are
# $p = (wv_1, bv_1, c_1, wv_2, bv_2, c_2) \in \mathbb R^6$ and $\Sigma_1^*$ is the 5-dimensional
# $\{p_1p_5 = p_2p_4\}$. We draw the slice $p_1 = wv_1$ (which $\operatorname{Ker} A$ never moves) in the
# coordinates $(p_2, p_4, p_5)$, where $\Sigma_1^*$ is the saddle surface $p_5 = p_2p_4/p_1$ (blue).
#
# - Left: inputs on both sides of the neuron's kink. $\alpha$'s three columns ($x\,\mathbb 1$,
#   $\mathbb 1$, $1$) are independent, $\operatorname{Ker} A = \{0\}$: $N(X, \theta)$ is the point
#   $\varphi(\theta)$.
# - Right: every input activates the neuron, so the columns $\mathbb 1$ and $1$ coincide: a bias of
#   the hidden neuron and a bias of the output trade off. $N(X, \theta)$ is a plane (orange), which
#   meets $\Sigma_1^*$ along a curve (red) of other networks with the same outputs on $X$.

# %% tags=["hide-input"]
fig = plt.figure(figsize=(11, 4.8))
for i, kind in enumerate(("mixed", "active")):
    ax = fig.add_subplot(1, 2, i + 1, projection="3d")
    report.plot_figure2(report.figure2_case(kind, seed=seed), ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
display(report.provenance_frame(record).style.hide(axis="index"))
