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
# # Gaussian random matrices: incoherent columns, for contrast
#
# *Stands for the paper's experiments with Gaussian random matrices (their figure numbers, sizes and
# values could not be read: only the abstract of [arXiv 2301.13584](https://arxiv.org/abs/2301.13584)
# was reachable). Every setting below is ours.*
#
# Compressed sensing: $y = A x^*$ with $A \in \mathbb R^{100 \times 200}$ of i.i.d. Gaussian entries
# (a new matrix per trial, columns of unit norm), no noise, $k$ spikes of amplitude $\pm[1, 2]$. Here
# no two columns are nearly collinear, unlike the deconvolution page's shifted kernels, and OMP's
# restricted-isometry guarantee applies for small $k$. Our IHT and HTP take the conservative step
# $\eta = 1/\|A\|_2^2$ (about 0.18 here), where the guarantees of Blumensath and Davies and of Foucart
# take $\eta = 1$ with unit-norm columns: with it HTP stops after a few support changes, so neither
# need recover even the smallest supports. The table below says which method recovers what at each
# $k$. The reading notes expect SEA to be competitive here, not dominant.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.sparse import report as sparse_report  # noqa: E402
from qornn.wings import get_wing_config, record_notes, recorded_or_run  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` chooses the record (default `cpu`); `retrain=True` runs the experiment here.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
retrain = False

# %% tags=["hide-input"]
EXPERIMENT = "sea-gaussian"
config = get_wing_config(EXPERIMENT, profile)
record, ran = recorded_or_run(EXPERIMENT, profile, seed=seed, retrain=retrain)
display(Markdown(record_notes(record, ran)))

# %% [markdown]
# ## Support recovery and loss against $k$
#
# Means over the trials with 95% confidence bars. The loss is heavy-tailed: where a method recovers the
# support in almost every trial, its mean loss is set by the few trials it fails (2 of 100 can lift it
# from 1e-31 to 1e-3), and on the log axis a bar whose lower end would be below zero is drawn up only.

# %% tags=["hide-input"]
runs = ["omp", "iht", "htp", "ompr", "els", "sea-0"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
sparse_report.plot_vs_k(record, "recovery", runs, ax=axes[0])
sparse_report.plot_vs_k(record, "loss", runs, ax=axes[1], logy=True, quartiles=False)
axes[0].legend(fontsize="small")
for ax in axes:
    ax.set_title(f"Gaussian A, m = {config.options.get('m')}, n = {config.options['n']}, "
                 f"profile {record['profile']}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## SEA from zero against OMP, IHT and ELS, paired over the trials

# %% tags=["hide-input", "full-width"]
ks = sparse_report.headline_ks(record)
display(report.styled(sparse_report.paired_comparison(record, "sea-0", ["omp", "iht", "els"], ks)))

# %% [markdown]
# ## Every method and $k$: mean, spread, exact recoveries

# %% tags=["hide-input", "full-width"]
display(report.styled(sparse_report.summary_frame(record, "recovery", runs)))

# %% [markdown]
# ## Beside the paper

# %% tags=["hide-input", "full-width"]
paper_numbers = report.load_paper_numbers("sea")
table = sparse_report.paper_beside_ours({EXPERIMENT: record}, paper_numbers, record["profile"])
display(report.styled(table))

# %% [markdown]
# ## What could not be checked
#
# The paper's matrix sizes, noise level, trial counts and plotted quantity (recovery rate, phase
# transition in $(m/n, k/m)$, or loss); SEA's step and budget in the paper.
