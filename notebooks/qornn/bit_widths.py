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
# # Performance against bit width, every task
#
# *Paper version: QORNN v2 ([arXiv 2402.04012](https://arxiv.org/abs/2402.04012)); the paper's own
# figures or tables of this kind could not be read here, so no paper point is overlaid.*
#
# One row of panels per task of this chapter, from the runs of its pages
# ({doc}`/book/qornn/copy_task`, {doc}`/book/qornn/mnist`,
# {doc}`/book/qornn/ptb`): the QAT models (solid; squares: learned range) and the PTQ of
# the float ORNN (dashed) at each weight width $k$ of $W$ and $U$, the float ORNN (dotted) and the
# float baselines (dash-dotted) as reference lines, and the QORNN's size in bits on the top axis.
# The left panel is the paper's budget (profile `paper`: the QORNN paper's hyperparameters could not be read,
# so this is the nearest public setting or, for PTB, our own choice; the chapter introduction,
# {doc}`/book/qornn/introduction`, quotes each profile's note) where it is recorded, the right one this
# page's profile (a reduced budget); a task recorded at one budget has one panel across its row. Each
# panel draws every seed recorded at its budget: the curves join the means over the seeds, each seed
# is a dot beside them, and the band around a float ORNN's dotted line spans its seeds (lowest to
# highest).
# The table below gives, for each task, budget and width, the gap to the float ORNN of the same
# mechanism, over every recorded seed.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.experiments import recorded_or_trained  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` chooses the records (default `cpu`); see {doc}`/book/rerun`.
# This page has no `retrain`: it draws on the records of the pages that train them (rerun
# those to refresh a record); a record that is missing altogether stops the page with the command
# that records it.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"

# %% [markdown]
# PTQ at few bits can be worse than the rest by many orders of magnitude (the copy task's table gives
# its losses at the paper's budget). So that it does not squeeze the other curves flat,
# the copy task's axis stops at 100 times the memoryless baseline and PTB's at 1.5 times the unigram
# model's bits per character; a point beyond sits on the top edge as a triangle ▲ with its true value
# written beside it, and the table below has every number. The black lines are what a model that
# learned nothing reaches: the memoryless baseline (copy), chance and the majority class (MNIST), the
# uniform and unigram models (PTB).

# %% tags=["hide-input"]
# task -> (experiment, metric, axis label, log scale, lower is better, (baseline, factor) of the clip)
TASKS = {"copy": ("qornn-copy", "loss", "test cross-entropy per step", True, True,
                  ("memoryless_cross_entropy", 100)),
         "pMNIST": ("qornn-pmnist", "accuracy", "test accuracy", False, False, None),
         "sMNIST": ("qornn-smnist", "accuracy", "test accuracy", False, False, None),
         "PTB (characters)": ("qornn-ptb", "bpc", "test bits per character", False, True,
                              ("unigram_bpc", 1.5))}
records = {task: recorded_or_trained(spec[0], profile, seed=seed, device=device, retrain=False)[0]
           for task, spec in TASKS.items()}
seeds = {task: report.budget_seed_records(TASKS[task][0], record) for task, record in records.items()}
budgets = {task: report.budget_records(TASKS[task][0], record, seeds[task])
           for task, record in records.items()}

fig = plt.figure(figsize=(15, 6.2 * len(TASKS)))
grid = fig.add_gridspec(len(TASKS), 2)
for row, (task, by_budget) in enumerate(budgets.items()):
    _, metric, label, logy, _, clip = TASKS[task]
    # one panel per budget recorded; a task with one budget gets the whole row
    places = [grid[row, 0], grid[row, 1]] if len(by_budget) == 2 else [grid[row, :]]
    for place, (budget, record) in zip(places, by_budget.items(), strict=True):
        ax = fig.add_subplot(place)
        baselines = next(iter(record["runs"].values()))["baselines"]
        clip_above = clip[1] * baselines[clip[0]] if clip else None
        report.plot_metric_vs_bits(record, metric, ax=ax, logy=logy, clip_above=clip_above,
                                   seeds=seeds[task][budget], baseline="auto")
        ax.set_ylabel(label)
        missing = ("" if report.PAPER_PROFILE in by_budget else
                   " (not recorded at the paper's budget: the chapter introduction says why)")
        ax.set_title(f"{report.task_label(task, record)}, {report.budget_label(budget)}{missing}")
        report.legend_below(ax, ncol=3)  # inside, it covered the copy task's STE-projUNN curve
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Gap to the float model
#
# For each task, budget and weight width: the QAT and PTQ metric of each mechanism and the float ORNN
# of the same mechanism, each the mean ± standard deviation over every seed recorded at that budget,
# or the seeds' range where they lie 100 times apart or more (the last column but one says how many
# seeds, and which did not train or failed), and the QAT gap to the float model, taken seed by seed
# over the seeds both have (positive = worse than float, whichever way the metric goes; a gap over
# fewer seeds than its columns says how many, and is then not the difference of their means).

# %% tags=["hide-input", "full-width"]
frames = []
for task, by_budget in budgets.items():
    experiment, metric, _, _, lower_is_better, _ = TASKS[task]
    for budget, record in by_budget.items():
        # every recorded seed of this budget; the page's own record where it is not the profile's seed 0
        budget_seeds = report.seed_records(experiment, budget) or {seed: record}
        frame = report.bit_width_gap_frame(budget_seeds, metric, lower_is_better)
        frames.append(frame.assign(task=report.task_label(task, record), budget=report.budget_label(budget),
                                   metric=metric))
gaps = pd.concat(frames, ignore_index=True)
first = ["task", "budget", "metric"]
display(report.styled(gaps[[*first, *[c for c in gaps if c not in first]]]))

# %% [markdown]
# ## Where the numbers come from

# %% tags=["hide-input"]
lines = []
for task, by_budget in budgets.items():
    for budget in by_budget:  # every seed's record: the figures and tables are over all of them
        for seed_number, seed_record in seeds[task][budget].items():
            lines.append(f"- **{task}, {report.budget_label(budget)}, seed {seed_number}**: "
                         f"{report.record_label(seed_record)}, profile `{seed_record['profile']}`")
display(Markdown("\n".join(lines)))
