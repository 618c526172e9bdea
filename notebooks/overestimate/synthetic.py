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
# # Synthetic monotone functions in 1-D and 2-D
#
# *Stands for the paper's synthetic experiments (majoring points concentrating where the function
# varies; surrogates above the function). Their figure numbers, functions and values could not be
# read; the functions and settings here are ours.*
#
# - 1-D: $f(x) = 0.2x + \sigma((x - 0.6)/0.02)$ on $[0, 1]$, with $\sigma$ the logistic function:
#   nearly flat, then a logistic step of height 1 and scale 0.02 (it rises from 10% to
#   90% of its height over about 0.09).
# - 2-D: $f(x) = 0.1(x_1 + x_2) + \sigma((x_1 + x_2 - 1.2)/0.03)$ on $[0, 1]^2$:
#   a step across a diagonal line.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.overestimate import report as over_report  # noqa: E402
from qornn.wings import record_notes, recorded_or_run  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` chooses the records (default `cpu`); `retrain=True` runs both experiments here.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
retrain = False

# %% tags=["hide-input"]
records = {}
for name in ("overestimate-ramp-1d", "overestimate-ramp-2d"):
    records[name], ran = recorded_or_run(name, profile, seed=seed, retrain=retrain)
    display(Markdown(f"**{name}**: " + record_notes(records[name], ran)))

# %% [markdown]
# ## 1-D: the majoring points and the surrogates
#
# Left: $f$, the surrogates and, in grey, each cell's bound $f(u_C)$ held over the cell
# $[l_C, u_C]$ (ticks at the $l_C$). The cells are short on the ramp and long on the flat parts. At
# this scale the surrogates nearly lie on $f$. Right: each surrogate's gap $g - f$ (its shift included)
# against $x$, with the dashed line at 0; below it the surrogate under-estimates $f$. A dot marks each
# surrogate's smallest gap, and the legend gives its value. The certified surrogate stays above 0.
# Plain regression goes below 0 on much of the interval. The shifted regression stays above 0 on most
# of it; where its smallest gap is negative, it dips under $f$ by that much. The table below gives the
# gaps on a denser grid.

# %% tags=["hide-input"]
record = records["overestimate-ramp-1d"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
over_report.plot_1d(record, ax=axes[0])
axes[0].legend(fontsize="x-small")
axes[0].set_title(f"ramp-1d, profile {record['profile']}")
over_report.plot_1d_gap(record, ax=axes[1])
axes[1].legend(fontsize="x-small")
axes[1].set_title("gap g − f of each surrogate")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2-D: the cells and the certified surrogate's over-estimation

# %% tags=["hide-input"]
over_report.plot_2d(records["overestimate-ramp-2d"])
plt.gcf().set_size_inches(13, 5)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Over-estimation, under-estimation
#
# On a dense grid and on random points of the box (counts in the table).

# %% tags=["hide-input", "full-width"]
display(report.styled(over_report.gap_table(records)))

# %% [markdown]
# ## Majoring points against the tolerance
#
# The refinement stops at the tolerance $\varepsilon$ or at the maximal depth, whichever comes
# first; how each record's stopped (the last column counts the cells the depth cap stopped while
# $f$ still varied by more than $\varepsilon$ over them, computed from the recorded cells):

# %% tags=["hide-input"]
display(report.styled(over_report.refinement_frame(records)))

# %% [markdown]
# Where that count is 0, and no tolerance of the sweep is stopped by the cap (last column), halving
# $\varepsilon$ refines only the cells where $f$ still varies by more than $\varepsilon$ (the sweep
# below uses each record's maximal depth).

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, record in records.items():
    frame = over_report.tolerance_frame(record)
    ax.loglog(frame["tolerance"], frame["majoring points"], "o-", label=name)
ax.set_xlabel("tolerance ε")
ax.set_ylabel("majoring points")
ax.legend()
plt.show()
for name, record in records.items():
    display(Markdown(f"**{name}**"))
    display(report.styled(over_report.tolerance_frame(record)))

# %% [markdown]
# ## Beside the paper

# %% tags=["hide-input", "full-width"]
paper_numbers = report.load_paper_numbers("overestimate")
display(report.styled(over_report.paper_beside_ours(records, paper_numbers, profile)))

# %% [markdown]
# ## What could not be checked
#
# The paper's synthetic functions, tolerances, networks and losses, and all its numbers.
