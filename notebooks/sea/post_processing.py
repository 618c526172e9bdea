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
# # SEA as a post-processing of every baseline
#
# *Stands for the paper's post-processing results (SEA started from another solver's output, e.g.
# SEA$_{OMP}$, SEA$_{ELS}$; figure numbers and values could not be read). Every setting is ours.*
#
# SEA started from a solver's output $x_0$ sets its dense vector to $X^0 = x_0$: its first support
# contains $x_0$'s, its first iterate is the least-squares refit of $x_0$, and it returns the best
# iterate it meets, so **it can never end worse than that refit** (a test checks it; the table's
# "before" is the baseline's own loss, which the refit matches up to rounding: a loss of 1e-31 may
# read a hair higher after). What it can do
# is leave the solver's local minimum: the gradient steps at the sparse point keep moving the dense
# vector until another support wins the top-$k$. The step is $10 / \|A\|_2^2$ (chosen in a probe
# among 1, 10 and 100, on trials of other seeds, that is not recorded): with $X^0 = x_0$ the step
# sets how far the exploration goes relative to $x_0$'s magnitudes, unlike SEA from zero, which does
# not depend on it.
#
# For each experiment of the chapter, each baseline and each $k$: the mean loss before and after,
# the share of trials SEA improved, and (synthetic problems) the mean support recovery before and after.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.sparse import report as sparse_report  # noqa: E402
from qornn.wings import record_notes, recorded_or_run  # noqa: E402

# %% [markdown]
# ## Parameters
#
# This page reads the records of the three other pages of the chapter (it never runs one: a
# missing record is reported with the command that makes it).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0

# %% tags=["hide-input"]
EXPERIMENTS = {"sea-deconvolution": "Gaussian filter", "sea-gaussian": "Gaussian random",
               "sea-regression": "diabetes (stand-in data)"}
records = {}
for name, title in EXPERIMENTS.items():
    records[name], ran = recorded_or_run(name, profile, seed=seed)
    display(Markdown(f"**{title}**: " + record_notes(records[name], ran)))

# %% [markdown]
# ## Recovery before and after SEA, on the two synthetic problems
#
# Dashed: a baseline; solid, same colour: SEA started from its output. Bars: 95% confidence
# intervals of the mean over the trials, as on the chapter's other pages.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
colors = {run: f"C{i}" for i, base in enumerate(sparse_report.BASE_RUNS) for run in (base, f"sea-{base}")}
for ax, name in zip(axes, ("sea-deconvolution", "sea-gaussian"), strict=True):
    record = records[name]
    runs = [run for base in sparse_report.BASE_RUNS for run in (base, f"sea-{base}")]
    sparse_report.plot_vs_k(record, "recovery", runs, ax=ax, quartiles=False, colors=colors)
    ax.set_ylabel("mean support recovery")
    ax.set_title(f"{EXPERIMENTS[name]}, profile {record['profile']}")
axes[0].legend(fontsize="x-small", ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## How much SEA improves each baseline

# %% tags=["hide-input", "full-width"]
for name, title in EXPERIMENTS.items():
    display(Markdown(f"**{title}**"))
    display(report.styled(sparse_report.postprocess_frame(records[name])))
    report.show_markdown(sparse_report.iteration_cap_note(records[name]))  # a baseline cut short

# %% [markdown]
# ## In short
#
# Averaged over every $k$ of each experiment: the share of trials in which SEA lowered the baseline's
# loss, and the mean recovery gain (synthetic problems).

# %% tags=["hide-input"]
rows = []
for name, title in EXPERIMENTS.items():
    frame = sparse_report.postprocess_frame(records[name])
    for base, part in frame.groupby("baseline", sort=False):
        row = {"experiment": title, "baseline": base,
               "improved in (mean over k)": part["improved in"].mean()}
        if "recovery after" in part:
            gain = part["recovery after"] - part["recovery before"]
            row["recovery gain (mean over k)"] = float(np.mean(gain))
        rows.append(row)
import pandas as pd  # noqa: E402

display(report.styled(pd.DataFrame(rows)))

# %% [markdown]
# ## Beside the paper

# %% tags=["hide-input", "full-width"]
paper_numbers = report.load_paper_numbers("sea")
table = sparse_report.paper_beside_ours(records, paper_numbers, profile)
display(report.styled(table[table["run"].str.startswith("sea-") & (table["run"] != "sea-0")]))

# %% [markdown]
# ## What could not be checked
#
# The paper's step size and iteration budget for the post-processing, which solvers it post-processed,
# and its numbers.
