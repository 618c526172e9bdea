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
# # Sparse linear regression on real data
#
# *Stands for the paper's real-data experiments (loss against $k$ on regression data sets; figure
# numbers and values could not be read). **The paper's data sets are not available here**: the reading
# notes name libsvm-type sets (e.g. cal_housing, comp-activ-harder, slice, year), which no package
# reachable offline ships. A public data set shipped inside a package stands in:
# scikit-learn's diabetes data (Efron, Hastie, Johnstone & Tibshirani 2004; 442 patients, 10
# features), with the 45 pairwise products and the squares of the features added (64 columns once
# the square of the binary sex feature, a copy of that feature, is dropped), each centred and scaled
# to unit norm; the target is centred. Install it with `pip install 'qornn[sparse]'`.*
#
# There is no true support here: the question is only how low a loss $\|Ax - y\|^2 / \|y\|^2$ each
# method reaches with $k$ features. There is one problem per $k$, so no spread to show.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.sparse import report as sparse_report  # noqa: E402
from qornn.wings import record_notes, recorded_or_run  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` (`smoke`, `cpu` or `paper`, where the experiment has it; default `cpu`), `seed` (default
# 0) and `retrain` (default `False`: render the committed record; `True` runs the experiment again and
# records it; see {doc}`/book/rerun`).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
retrain = False

# %% tags=["hide-input"]
EXPERIMENT = "sea-regression"
record, ran = recorded_or_run(EXPERIMENT, profile, seed=seed, retrain=retrain)
display(Markdown(record_notes(record, ran)))

# %% [markdown]
# ## Loss against $k$
#
# Left: every method. Right: each method's loss relative to the lowest loss any run reached at that
# $k$ (0 = the best found; this makes the small differences visible).

# %% tags=["hide-input"]
runs = ["omp", "iht", "htp", "ompr", "els", "sea-0", "sea-els"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
sparse_report.plot_vs_k(record, "loss", runs, ax=axes[0], quartiles=False)
axes[0].legend(fontsize="small")
frame = sparse_report.summary_frame(record, "loss")
best = frame.groupby("k")["mean"].min()
for run in runs:
    part = frame[frame["run"] == run]
    axes[1].plot(part["k"], part["mean"].to_numpy() / best.loc[part["k"]].to_numpy() - 1, "o-", ms=3,
                 label=sparse_report.label(run))
sparse_report.k_axis(axes[1], frame["k"])
axes[1].set_ylabel("loss / best loss found − 1")
axes[1].legend(fontsize="small")
axes[0].set_title(f"diabetes with interactions, profile {record['profile']}")
fig.tight_layout()
plt.show()
report.show_markdown(sparse_report.iteration_cap_note(record))

# %% [markdown]
# ## The losses, and the features each method chose

# %% tags=["hide-input", "full-width"]
table = frame.pivot(index="k", columns="method", values="mean")
display(report.styled(table.reset_index(), precision=5))  # k as a column: styled hides the index
chosen = {sparse_report.label(run, math=False): record["runs"][run]["test"]["features"]
          for run in ("omp", "els", "sea-0")}
ks = record["runs"]["omp"]["test"]["k"]
features = {name: [", ".join(f) for f in feats] for name, feats in chosen.items()}
display(report.styled(pd.DataFrame({"k": ks, **features})))

# %% [markdown]
# ## Beside the paper

# %% tags=["hide-input", "full-width"]
paper_numbers = report.load_paper_numbers("sea")
table = sparse_report.paper_beside_ours({EXPERIMENT: record}, paper_numbers, record["profile"])
display(report.styled(table))

# %% [markdown]
# ## What could not be checked
#
# Everything about the paper's real-data experiments: its data sets (not available here), their
# preprocessing, the values of $k$, and its numbers. This page shows the methods' behaviour on a real
# but small and easy regression problem, not a reproduction.
