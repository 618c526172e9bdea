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
# # Escaping strict and non-strict saddles (Figures 3 and 4)
#
# *Paper: Achour, Malgouyres, Gerchinovitz, JMLR 2024 ([arXiv 2107.13289](https://arxiv.org/abs/2107.13289)),
# Appendix G.*
#
# **Setting (Appendix G).** $d_x = 10$, $d_y = 4$, $H = 5$, $d_1 = \dots = d_4 = 10$; $m = 100$ points
# $x_i \sim \mathcal N(0, I)$, $y_i \sim \mathcal N(0, I)$ (ours, not read in the paper: the data are
# drawn afresh for each run, from another seed for the two kinds of saddle; whether the paper's
# runs share one data set could not be read). Each run starts at
# $W^{cp} + V$, where $W^{cp}$ is equation (25) with $r = 2$, $S = \{1, 2\}$ and $Z_h = I$ (not tightened:
# a strict saddle) or $Z_h = 0$ (tightened: a non-strict saddle), and $V_h$ has i.i.d.
# $\mathcal N(0, \sigma_h^2)$ entries, $\sigma_h = 0.1\,\lVert W^{cp}_h\rVert_F / \sqrt{d_{h-1}d_h}$.
# Keras' Adam with its defaults (learning rate $10^{-3}$, $\beta = 0.9, 0.999$, $\varepsilon = 10^{-7}$,
# Keras' form of the update), mean squared error on shuffled minibatches of 32 (Keras' default batch size; the
# paper does not state it). The **escape epoch** is the first epoch with
# $L(W) < L(W^{cp}) - \lambda_3/2$, halfway between the critical values of $S = \{1, 2\}$ and
# $S = \{1, 2, 3\}$.
#
# All runs of a kind are one tensor program: the weights of every run are stacked along a batch
# dimension, and since Adam is elementwise the runs stay independent
# (`qornn.theory.landscape.saddle_escape`).
# A run leaves the batch once it has escaped. The paper made more runs per kind than the `cpu` profile
# (below, from `data/paper/landscape.yaml`), which makes 4,000, with at most 3,000 epochs.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from qornn.report import load_paper_numbers
from qornn.theory import report
from qornn.theory.runner import recorded_or_run

#: the paper's numbers (data/paper/landscape.yaml), by run and metric
PAPER = {(e["run"], e["metric"]): e["value"] for e in load_paper_numbers("landscape")["entries"]}

# %% [markdown]
# ## Parameters
#
# `profile` (`smoke`, `cpu` or `paper`; default `cpu`), `seed` (default 0) and `retrain` (default
# `False`: render the committed record; `True`: run the experiment here and record it).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
retrain = False

# %% tags=["hide-input"]
record, ran = recorded_or_run("theory-saddle-escape", profile, seed=seed, retrain=retrain)
display(Markdown(report.record_status(record, "theory-saddle-escape", profile, ran)))

# %% [markdown]
# ## Figure 3: one run of each kind
#
# The loss (mean squared error, Keras' scale) of the first run of each kind, one panel each: each
# run has its own data, so its own critical value (dotted) and threshold (dashed). The paper's
# figure has one data set, both runs on one axis.

# %% tags=["hide-input"]
display(Markdown(f"The paper's runs per kind: {PAPER['both', 'runs per kind']:,}. In its Figure 3 (read off "
                 f"the figure, approximate: `data/paper/landscape.yaml`) the strict run escapes within about "
                 f"{PAPER['strict', 'escape epoch (Figure 3)']} epochs and the non-strict one at about "
                 f"{PAPER['non-strict', 'escape epoch (Figure 3)']}."))
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
report.plot_escape_curves(record, axes)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Figure 4: when do the runs escape?
#
# Histograms of the escape epoch over all runs (log-spaced bins).

# %% tags=["hide-input"]
display(Markdown(f"In the paper's Figure 4 (read off the figure, approximate) the non-strict histogram peaks "
                 f"near {PAPER['non-strict', 'histogram peak epoch (Figure 4)']} epochs with a tail to about "
                 f"{PAPER['non-strict', 'histogram tail epoch (Figure 4)']:,} (`data/paper/landscape.yaml`; "
                 "its strict histogram was not read)."))
fig, ax = plt.subplots(figsize=(9, 4))
report.plot_escape_histograms(record, ax)
fig.tight_layout()
plt.show()
display(report.escape_frame(record).style.hide(axis="index").format(precision=0))

# %% [markdown]
# ## Provenance

# %% tags=["hide-input"]
display(report.provenance_frame(record).style.hide(axis="index"))
