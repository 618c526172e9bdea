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
# # Ablations: linear recurrence, bit width of U and V, sparsity, learned signs
#
# The HadamRNN paper ([arXiv 2502.00047](https://arxiv.org/abs/2502.00047)) reports, according to a
# summary of v2, "ablations demonstrating the benefits of linear recurrent units and the trade-offs
# controlled by the sparsity parameter" of Block-HadamRNN; its Figure 1 varies the bit width $p$ of
# $U$ and $V$. None of their numbers could be read (`data/paper/hadamrnn.yaml`). This page reads
# the runs of the (size, accuracy) experiment, `hadamrnn-size-accuracy` (pMNIST, $n = 512$, the same
# data, steps and seed for every run), and sets side by side the runs that differ in one thing:
#
# | ablation | runs | what changes |
# |---|---|---|
# | recurrence | `hadamrnn-p4`, `-p4-relu`, `-p4-tanh` | $\sigma$ in $h_t = \sigma(W h_{t-1} + U x_t + b)$ |
# | bit width of $U$, $V$ | `hadamrnn-p2`, `-p4`, `-p8` | $p$ |
# | sparsity | `hadamrnn-p4`, `block-hadamrnn-m64-p4`, `-m16-p4` | $W$'s block size $m$ (zeros: $1 - m/n$) |
# | signs | `hadamrnn-p4`, `hadamrnn-p4-learned-signs` | signs fixed at random, or learned |
#
# **Why a linear recurrence.** With $\sigma$ the identity, $h_T = \sum_{t} W^{T-t}(U x_t + b)$: an
# orthogonal $W$ keeps every input's contribution at its norm for all $T$ steps, and the state is
# a linear map of the whole sequence, read by $V \operatorname{ReLU}(\cdot)$ at the end. A ReLU in
# the recurrence zeroes coordinates at every step, so $\|h_t\|$ is no longer preserved and what the
# early pixels wrote can be erased. A tanh keeps the sign of every coordinate but squashes its
# size: $|\tanh z| < |z|$ for $z \neq 0$, so the norm shrinks at every step where the state is not
# small, and a coordinate near saturation ($|z| \gtrsim 2$) passes almost no gradient back
# ($\tanh' z = 1 - \tanh^2 z$). The runs below measure what each costs here. Both nonlinear
# recurrences run on the fused kernel with the fast Walsh–Hadamard transform, as the linear one does,
# but keep every state for the backward pass (only a linear recurrence with an orthogonal $W$ can be
# run backwards), and the tanh costs its evaluation (on whole SIMD vectors; see the speed page); the
# recorded training times are below the table.
#
# In the `cpu` profile $W$'s random signs are fixed in every run but `hadamrnn-p4-learned-signs`
# (see {doc}`/book/hadamrnn/size_accuracy`). At the paper's budget every run learns its signs, as in
# the paper, so that run would be `hadamrnn-p4` again: the `paper` profile leaves it out, and the
# learned-against-frozen comparison at that budget is on {doc}`/book/hadamrnn/pmnist`. The page has
# no `retrain`: rerun the (size, accuracy) page to refresh its record; a record that is missing
# altogether stops the page with the command that records it.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.experiments import get_config, recorded_or_trained  # noqa: E402

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"

# %% tags=["hide-input"]
config = get_config("hadamrnn-size-accuracy", profile)
record, trained = recorded_or_trained("hadamrnn-size-accuracy", profile, seed=seed, device=device)
report.show_markdown(report.record_status(record, config, trained))
display(Markdown(f"Profile `{profile}`: {config.note}."))

ABLATIONS = {
    "recurrence": ["hadamrnn-p4", "hadamrnn-p4-relu", "hadamrnn-p4-tanh"],
    "bit width p of U, V": ["hadamrnn-p2", "hadamrnn-p4", "hadamrnn-p8"],
    "sparsity (block m)": ["hadamrnn-p4", "block-hadamrnn-m64-p4", "block-hadamrnn-m16-p4"],
    "signs": ["hadamrnn-p4", "hadamrnn-p4-learned-signs"],
}

# %% [markdown]
# ## The four ablations
#
# Test accuracy (10,000 test images) and size in bits of each run; "missing" marks a run the record
# does not hold yet. Where runs are recorded at the paper's budget (profile `paper`: the full data,
# 100 epochs, every HadamRNN learning its signs), their rows come first, column `budget`.

# %% tags=["hide-input", "full-width"]
budgets = report.budget_records("hadamrnn-size-accuracy", record)  # the paper's budget first, where recorded
rows, left_out = [], {}
for budget, shown in budgets.items():
    budget_config = get_config("hadamrnn-size-accuracy", budget)
    for ablation, runs in ABLATIONS.items():
        for run in runs:
            if run in budget_config.left_out:  # not a run of this budget (the same model as another)
                left_out[(budget, run)] = budget_config.left_out[run]
                rows.append({"budget": report.budget_label(budget), "ablation": ablation, "run": run,
                             "recurrence": "—", "p": "—", "block m": "—", "signs": "—",
                             "test accuracy": "left out at this budget", "size (bits)": "—"})
                continue
            data = shown["runs"].get(run)
            model = budget_config.models[run]
            rows.append({"budget": report.budget_label(budget), "ablation": ablation, "run": run,
                         "recurrence": model.get("nonlinearity", "linear"), "p": model.get("bits"),
                         "block m": model.get("block") or model["hidden_size"],
                         "signs": "learned" if model.get("learn_signs", True) else "fixed",
                         "test accuracy": "missing" if data is None else f"{data['test']['accuracy']:.1%}",
                         "size (bits)": "missing" if data is None else f"{data['size_bits']:,}"})
frame = pd.DataFrame(rows)
display(report.styled(frame))
report.show_markdown(report.shown_seeds_note("hadamrnn-size-accuracy", record))
for shown in budgets.values():
    report.show_markdown(report.same_configuration_elsewhere(shown, shown["runs"], "accuracy"))
for (budget, run), why in left_out.items():
    display(Markdown(f"`{run}` is left out of the `{budget}` profile: {why}. At the paper's budget, "
                     "learned against frozen signs is the comparison of `hadamrnn` with "
                     "`hadamrnn-fixed-signs` on the pMNIST page."))
if "hadamrnn-p4" in record["runs"]:
    linear = record["runs"]["hadamrnn-p4"]["provenance"]["wall_time_s"]
    dense = []
    for name, run in (("ReLU", "hadamrnn-p4-relu"), ("tanh", "hadamrnn-p4-tanh")):
        if run in record["runs"]:
            wall = record["runs"][run]["provenance"]["wall_time_s"]
            path = record["runs"][run].get("implementation", {}).get("recurrence", "dense")
            dense.append(f"{name} recurrence ({path}) {wall / 60:.1f} min, {wall / linear:.1f}x")
    if dense:
        path = record["runs"]["hadamrnn-p4"].get("implementation", {}).get("recurrence", "the C++ recurrence")
        display(Markdown(f"Training wall time at profile `{record['profile']}`: linear recurrence ({path}) "
                         f"{linear / 60:.1f} min; {'; '.join(dense)} (the same steps; runs made at "
                         "different times on a shared machine)."))

# %% [markdown]
# Validation accuracy per epoch of the runs of each ablation (test accuracy: star), a row per budget
# (the paper's first, where recorded).

# %% tags=["hide-input"]
fig, axes = plt.subplots(len(budgets), len(ABLATIONS), figsize=(16, 5.2 * len(budgets)), sharey=True,
                         squeeze=False)
every_run = report.runs_of(budgets.values())  # a run keeps its colour in every panel
for row, (budget, shown) in zip(axes, budgets.items(), strict=True):
    for ax, (ablation, runs) in zip(row, ABLATIONS.items(), strict=True):
        present = {run: shown["runs"][run] for run in runs if run in shown["runs"]}
        if present:
            report.plot_metric_curves({**shown, "runs": present}, "accuracy", ax=ax,
                                      references={"chance": 0.1}, color_order=every_run)
            report.legend_below(ax, ncol=1)  # inside a panel this narrow, it squeezed the axes
        else:
            ax.text(0.5, 0.5, "not recorded at this budget yet", ha="center", va="center",
                    transform=ax.transAxes, fontsize="small")
            ax.set_xticks([])
        for run in (run for run in runs if (budget, run) in left_out):
            ax.text(0.5, 0.03, f"{run}: left out at this budget", ha="center", va="bottom",
                    transform=ax.transAxes, fontsize="x-small", color="0.3")
        ax.set_title(f"{ablation}, {report.budget_label(budget)}, seed {report.record_seed(shown)}",
                     fontsize="small")
fig.tight_layout()
plt.show()
