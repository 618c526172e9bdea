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
# # The (size, accuracy) plane on pMNIST, and Block-HadamRNN's sparsity
#
# *Paper: HadamRNN ([arXiv 2502.00047](https://arxiv.org/abs/2502.00047)), Figure 1: "Position of
# each model in the (size, performance) plane, on pMNIST ... The parameter p corresponds to the
# bitwidth of the quantized matrices U and V" (caption as rendered by a summary site; no point value
# of the figure could be read, so none is overlaid). The sparsity ablation of Block-HadamRNN is
# described but not readable either.*
#
# **Size.** HadamRNN stores its recurrent matrix $W = \operatorname{diag}(s) H_n / \sqrt{n}$ as the
# $n$ signs $s$; $U$ and $V$ take $p$ bits an entry plus a 32-bit range each; the biases are float.
# At $n = 512$ on pMNIST ($U$: $512 \times 1$, $V$: $10 \times 512$) the signs are 512 bits, $U$ and
# $V$ $5{,}632\,p + 64$ bits and the biases $16{,}704$ bits: $p$ and the float biases dominate.
#
# **Sparsity.** Block-HadamRNN replaces $H_n$ by the block-diagonal $I_{n/m} \otimes H_m$: each row of
# $W$ has $m$ non-zeros, a fraction $1 - m/n$ of $W$ is zero, and $W$ stays orthogonal. It stores the
# same $n$ signs (the zeros are structural), so its size is HadamRNN's; what it trades is mixing:
# a state coordinate only talks to the $m - 1$ others of its block at each step.
#
# **This page's deviation.** In the `cpu` profile every run but one keeps $W$'s random signs fixed:
# with learned signs HadamRNN did not train in this budget (see
# {doc}`/book/hadamrnn/pmnist`), and a plane of failed runs would say nothing about $p$
# or $m$. The run `hadamrnn-p4-learned-signs` is the paper's model in the same budget. At the paper's
# budget every run learns its signs, so the `paper` profile leaves that run out: it would be
# `hadamrnn-p4` trained again.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report, results  # noqa: E402
from qornn.experiments import get_config, recorded_or_trained  # noqa: E402

# %% [markdown]
# ## This run
#
# Parameters: `profile` (`smoke`, `cpu` or `paper`; default `cpu`), `seed`, `device` and
# `retrain` (see {doc}`/book/rerun`).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"
retrain = False
overrides = ""  # settings to change, e.g. '{"hidden_size": 32}' (see qornn/overrides.py)

# %% tags=["hide-input"]
config = get_config("hadamrnn-size-accuracy", profile, overrides)
report.show_markdown(report.run_summary(config, profile=profile, seed=seed, device=device,
        retrain=retrain, overrides=overrides))
record, trained = recorded_or_trained("hadamrnn-size-accuracy", profile, seed=seed, device=device,
                                      retrain=retrain, overrides=overrides)
report.show_markdown(report.record_status(record, config, trained))

# %% [markdown]
# ## The plane
#
# Test accuracy against model size in bits (log scale). HadamRNN at $p = 2, 4, 8$ and
# Block-HadamRNN ($p = 4$, squares) with blocks of $m$; stars learn their signs (the paper's model),
# circles keep **frozen random signs** (marked "[frozen signs]" in the legend): under the `cpu`
# profile every run but `hadamrnn-p4-learned-signs` does, since learned signs do not train in that
# budget; at the paper's budget every run learns its signs, as in the paper. The triangle: the float
# transformer of HadamRNN's size (below). The runs with a ReLU or tanh recurrence are on
# {doc}`/book/hadamrnn/ablations`. Where runs are recorded at the paper's budget (profile `paper`:
# the full data, 100 epochs), their panel comes first, with the runs recorded so far. For context,
# the float and quantized models of the QORNN pMNIST page (`qornn-pmnist`, hidden 64) at the same
# budget are drawn in grey when their record exists: a hollow marker per QORNN method, labelled by
# its bit width $k$ (the legend at the lower right names the methods), and the float models as
# named dots. The upper-left corner is best.

# %% tags=["hide-input"]
budgets = report.budget_records("hadamrnn-size-accuracy", record)  # the paper's budget first, where recorded
every_run = report.runs_of(budgets.values())  # a colour each, in every figure of the page
fig, axes = plt.subplots(1, len(budgets), figsize=(7.5 * len(budgets), 5.5), squeeze=False, sharex=True,
                         sharey=True)
for ax, (budget, shown) in zip(axes[0], budgets.items(), strict=True):
    others = results.load_record("qornn-pmnist", budget, missing_ok=True)  # context only: never trains
    report.plot_size_accuracy(shown, ax=ax, context=others, color_order=every_run)
    ax.set_title(f"pMNIST, {report.budget_label(budget)}")
fig.tight_layout()
plt.show()
report.show_markdown(report.paper_budget_note("hadamrnn-size-accuracy", record))

# %% [markdown]
# ## The sparsity trade-off
#
# Block size $m$, the fraction of zeros of $W$, and the test accuracy at $p = 4$ (the dense
# HadamRNN is $m = n$), at each budget recorded, the paper's first.

# %% tags=["hide-input"]
frames = []  # one per budget, the paper's first (the order of `budgets`)
for budget, shown in budgets.items():
    rows = []
    for run, data in shown["runs"].items():
        model = data["config"]["model"]
        if model.get("bits") != 4 or not (model["model"] == "block-hadamrnn" or run == "hadamrnn-p4"):
            continue
        n = model["hidden_size"]
        m = model.get("block") or n
        rows.append({"budget": report.budget_label(budget), "run": run, "signs": report.signs_of(model),
                     "n": n, "block m": m, "zeros in W": f"{1 - m / n:.1%}",
                     "test accuracy": data["test"]["accuracy"], "size (bits)": data["size_bits"]})
    if rows:  # a budget may hold none of these runs yet
        frames.append(pd.DataFrame(rows).sort_values("block m"))
if frames:
    display(report.styled(pd.concat(frames, ignore_index=True)))
    report.show_markdown(report.shown_seeds_note("hadamrnn-size-accuracy", record))
    for shown in budgets.values():
        report.show_markdown(report.same_configuration_elsewhere(shown, shown["runs"], "accuracy"))
else:
    display(Markdown("No run at p = 4 of the sparsity study is recorded yet."))

# %% [markdown]
# ## Do the learned signs settle? (paper's budget)
#
# At the paper's budget every run above learns its signs, by the released method (straight-through
# gradient on a latent $u$, $W$'s signs are those of $u$: {doc}`/book/hadamrnn/signs`). A dense
# HadamRNN and a Block-HadamRNN both have $n = 512$ signs, one per row of $W$. Per run and epoch,
# from the records' diagnostics: the validation accuracy, the mean $|u|$ and the signs of $W$
# flipped per optimiser step. A flip changes $W^k$ for every power $k$ that the last state depends
# on, so a run whose signs keep flipping trains against a moving recurrence. Below the figure, the
# same in numbers: the epoch from which the signs settle, and the accuracy before and after.

# %% tags=["hide-input", "full-width"]
paper_record = budgets.get(report.PAPER_PROFILE)
learned = [run for run, data in sorted(paper_record["runs"].items())
           if report.signs_of(data["config"]["model"]) == "learned"] if paper_record else []
report.show_markdown(report.show_sign_dynamics("hadamrnn-size-accuracy", learned, color_order=every_run)
                     if learned else "No run with learned signs is recorded at the paper's budget yet.")

# %% [markdown]
# **Why the dense linear runs wait, and the others do not.** The sign-learning chapter
# ({doc}`/book/hadamrnn/signs`) traces the long wait of the released method to the part of the
# straight-through gradient $g = \partial L/\partial u$ that rescales $W$: where $s_i g_i > 0$ for
# most units, Adam's first steps (each $u_i$ moves by about $-\text{lr}\,\operatorname{sign} g_i$)
# shrink every $|u_i|$ together, $|u|$ collapses to the size of one step, and from then on every
# step flips signs. `qornn.sign_probe.run_start_probe` measures this at the start of each run
# above, from the weights its training starts from, on one training batch: the cosine between $g$
# and $s$ (1 when $g$ only rescales $W$, near 0 when it does not) and the share of units whose
# $|u_i|$ the first step shrinks; beside them, the mean $|u|$ after the first epoch of the run at the
# paper's budget (it starts at the same value in every run).

# %% tags=["hide-input"]
from qornn.sign_probe import PROBE_EXPERIMENT, start_variant  # noqa: E402

start = results.load_record(PROBE_EXPERIMENT, report.PAPER_PROFILE, missing_ok=True,
                            variant=start_variant("hadamrnn-size-accuracy"))
if start is None:
    display(Markdown("No start probe is recorded yet: `python -c \"from qornn.sign_probe import "
                     "run_start_probe; run_start_probe('hadamrnn-size-accuracy', 'paper')\"` makes it "
                     "(seconds)."))
else:
    rows = [{"run": run, "recurrence": data["config"]["model"].get("nonlinearity", "linear"),
             "block m": data["config"]["model"].get("block") or data["config"]["model"].get("hidden_size"),
             "cosine of g with s": data["probe"]["rescaling_share"],
             "units the first step shrinks": data["probe"]["shrinking"], "batch loss": data["probe"]["loss"],
             # what then happened, from the paper-budget record where it is recorded
             "mean |u| after epoch 1": ((paper_record or {"runs": {}})["runs"].get(run, {}).get("history")
                                        or [{}])[0].get("diagnostics", {}).get("mean_abs_u")}
            for run, data in sorted(start["runs"].items())]
    display(report.styled(pd.DataFrame(rows)).format("{:.0%}", subset=["units the first step shrinks"]))
    report.show_markdown(report.record_label(start))

# %% [markdown]
# ## A transformer of the same size
#
# HadamRNN's reviewers asked how a small transformer of the same size in bits compares. The run
# `transformer` is an encoder-only transformer (one layer, one head, width 12, feed-forward 14,
# sinusoidal positions, mean pooling; `qornn.models.transformer`) whose float32 weights take
# 38,784 bits, against 39,808 for HadamRNN at $p = 4$; it reads the same 784 pixels, trains with the
# same data, optimiser and steps. Attention costs $O(T^2)$ per sequence: the table gives each run's
# training wall time on one core, at each budget recorded (the paper's first).

# %% tags=["hide-input"]
rows = []
for budget, shown in budgets.items():
    for run in ("hadamrnn-p4", "hadamrnn-p4-learned-signs", "transformer"):
        if run in shown["runs"]:
            data = shown["runs"][run]
            rows.append({"budget": report.budget_label(budget), "run": run,
                         "test accuracy": data["test"]["accuracy"], "size (bits)": data["size_bits"],
                         "training wall time (min)": data["provenance"]["wall_time_s"] / 60})
display(report.styled(pd.DataFrame(rows), precision=1))

# %% [markdown]
# ## The paper beside ours
#
# The paper's Figure 1 gives no readable value, so its column is "not available" for the HadamRNN
# and Block-HadamRNN runs (`data/paper/hadamrnn.yaml`, experiment `size-accuracy`: which p and block
# sizes the figure plots is not known either; its inventory says what was found of the figure), and
# "not known" for our other runs (the ReLU and tanh variants, the transformer): the paper's tables
# could not be read, so whether it has them (its ablation of linear recurrent units may) is unknown.

# %% tags=["hide-input", "full-width"]
paper = report.load_paper_numbers("hadamrnn")
table = report.budget_comparison("hadamrnn-size-accuracy", record, paper,
                                 paper_experiment=config.paper_experiment)
report.show_comparison(table[table["metric"] == "accuracy"])
setting = "the paper's setting" if profile == "paper" else "not the paper's setting"
display(Markdown(f"The column `budget` tells the paper's budget (profile `paper`, where recorded) from this "
                 f"page's profile, **`{record['profile']}`**, {setting}: {config.note}."))

# %% [markdown]
# ## Training curves and provenance

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(9, 4.2))
report.plot_metric_curves(record, "accuracy", ax=ax, references={"chance": 0.1}, color_order=every_run)
report.legend_below(ax, ncol=3)  # inside, it covered the curves
fig.tight_layout()
plt.show()

# %% tags=["hide-input", "full-width"]
display(report.styled(report.provenance_table(record)))
