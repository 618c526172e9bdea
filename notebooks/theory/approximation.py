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
# # Rates, and an illustration
#
# *Paper: Achour, Foucault, Gerchinovitz, Malgouyres, NeurIPS 2022
# ([arXiv 2206.04360](https://arxiv.org/abs/2206.04360)). The paper has no experiment; the rates
# below are the mechanism of its abstract in our reading, with constants and logarithmic factors
# left out (see the chapter's introduction).*

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

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

# %% [markdown]
# ## The rates against the number of weights and the depth
#
# $\varepsilon^* \asymp (W L \log_2 W)^{-1/a}$ with $a = d/\alpha$ for the Hölder ball and $a = 1$ for
# monotone functions of one variable ($d = 1$, $\alpha = 1/2$ here): the lower bound falls with the
# number of weights $W$ and, more slowly, with the depth $L$. Closed forms, drawn when the page is
# built.

# %% tags=["hide-input"]
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.3))
report.plot_rates(left, right, d=1, alpha=0.5)
left.set_title("against the number of weights")
right.set_title("against the depth")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## An illustration (not in the paper)
#
# Small ReLU networks $1 \to$ width $\to \dots \to 1$ fitted by full-batch Adam (3,000 steps, cosine
# schedule, least squares on 2,048 grid points) to two targets on $[0, 1]$, errors measured on a grid
# four times finer:
#
# - a hard element of the Hölder ball, $\alpha = 1/2$: eight tents of height $h^{\alpha}$ ($h = 1/8$) with
#   random signs, each $\psi(t) = (1 - |2t - 1|)^{\alpha}$ rescaled;
# - a monotone staircase with four steps of 1/4. Every continuous function, so every ReLU network,
#   misses it by at least half a jump (1/8) in sup norm, measured exactly at the jumps through the
#   left limits; in $L^p$ it can get arbitrarily close.
#
# The black line has the slope of the rate at the shallowest depth; its constant is unknown, so it
# is drawn through the smallest network's $L^2$ error. A trained network is not the best network of
# its size, so these errors are upper bounds on the best approximation error, not estimates of
# the lower bound.

# %% tags=["hide-input"]
record, ran = recorded_or_run("theory-approximation", profile, seed=seed, retrain=retrain)
display(Markdown(report.record_status(record, "theory-approximation", profile, ran)))
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
report.plot_illustration(record, axes)
fig.tight_layout()
plt.show()
display(report.illustration_frame(record).style.hide(axis="index").format(precision=4))

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
display(report.provenance_frame(record).style.hide(axis="index"))
