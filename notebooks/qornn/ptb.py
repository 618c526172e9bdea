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
# # Penn Treebank, character level: QORNN at 3 to 8 bits
#
# *Paper version: QORNN v2 ([arXiv 2402.04012](https://arxiv.org/abs/2402.04012)); its Penn Treebank
# models are STE-Björck at 3, 4, 5, 6 and 8 bits (the grid of the authors' notebook). Whether the
# paper works at the character or the word level could not be read here; this page uses characters,
# as the orthogonal-RNN literature does.*
#
# **The task.** Mikolov's Penn Treebank text (`qornn fetch ptb`, checked byte for byte; see
# {doc}`/book/data`) as a stream of 50 classes: the characters of each line with `_` between words,
# then an end-of-line token. The stream is cut into windows of $T = 150$ characters; at every step
# the network predicts the next character, and the score is the cross-entropy in **bits per
# character** (bpc, lower is better). The hidden state starts from zero in every window. Two
# references: the uniform guess over 50 classes, $\log_2 50 = 5.64$ bpc, and the training text's
# character frequencies (unigram) scored on the test text; the record holds both (`baselines`), and
# the figures and the table below show them.
#
# **The models.** The vanilla ORNN $h_t = \operatorname{ReLU}(W h_{t-1} + U e_{x_t} + b)$,
# $y_t = V \operatorname{ReLU}(h_t) + c$ (the input is a one-hot character, so $U e_{x_t}$ is a
# column of $U$): float with the Björck mechanism, STE-Björck at $k = 3, 4, 5, 6$ and $8$ bits, PTQ of the
# float model at the same widths, and the float LSTM and FastRNN at the same hidden size.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from qornn import report  # noqa: E402
from qornn.experiments import get_config, recorded_or_trained  # noqa: E402

# %% [markdown]
# ## This run
#
# Parameters: `profile` (`smoke`, `cpu` or `paper`; default `cpu`), `seed`, `device` and
# `retrain` (see {doc}`/book/rerun`). The values this page was made with, and what the profile
# changes from the paper:

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"
retrain = False
overrides = ""  # settings to change, e.g. '{"hidden_size": 32}' (see qornn/overrides.py)

# %% tags=["hide-input"]
config = get_config("qornn-ptb", profile, overrides)
report.show_markdown(report.run_summary(config, profile=profile, seed=seed, device=device,
        retrain=retrain, overrides=overrides))

# %% [markdown]
# ## Training, or the recorded training
#
# With `retrain = False` (the default, and how the book is built) this cell reads the committed
# record `data/results/qornn-ptb/<profile>.json`; otherwise, or with `retrain = True`, it trains
# every model (an interrupted run resumes from its checkpoint), quantizes the float model after
# training, and writes the record.

# %% tags=["hide-input"]
record, trained = recorded_or_trained("qornn-ptb", profile, seed=seed, device=device,
                                      retrain=retrain, overrides=overrides)
report.show_markdown(report.record_status(record, config, trained))

# %% [markdown]
# ## Bits per character against bit width
#
# Test bpc of every model (lower is better): STE-Björck (solid), PTQ of the float Björck ORNN
# (dashed), the float ORNN (dotted), the float LSTM and FastRNN (dash-dotted) and the unigram
# reference (dashed black). The top axis gives the QORNN's size in bits at each width. Where runs
# are recorded at the paper's budget (profile `paper`), their panel comes first; it holds only the
# runs recorded there so far. On the scale of the unigram reference the ORNNs' curves lie close
# together (the table below gives their numbers), so each budget has a second panel
# zoomed on them and on the PTQ models within 10% of the best: its axis stops just above the worst of
# these (a PTQ model beyond sits on the top edge as a triangle ▲ with its value written), and the
# lines above it are left out of view. Where a budget has several seeds recorded, its curves join the
# means over them and each seed is a dot beside them.

# %% tags=["hide-input"]
baselines = next(iter(record["runs"].values()))["baselines"]
display(Markdown(f"References on this record's test text: uniform {baselines['uniform_bpc']:.2f} bpc, "
                 f"unigram {baselines['unigram_bpc']:.3f} bpc."))
seeds = report.budget_seed_records("qornn-ptb", record)
budgets = report.budget_records("qornn-ptb", record, seeds)
fig, axes = plt.subplots(len(budgets), 2, figsize=(15, 4.8 * len(budgets)), squeeze=False)
for (whole, zoom), (profile_name, shown) in zip(axes, budgets.items(), strict=True):
    # the zoom holds every seed of the float and QAT models and of the PTQ models within 10% of the
    # best of them
    frame = report.bit_width_frame_over_seeds(seeds[profile_name])
    ours = frame.loc[frame["kind"].isin(["float", "QAT", "QAT, learned α"]), "bpc"]
    ptq = frame.loc[frame["kind"] == "PTQ", "bpc"]
    near = pd.concat([ours, ptq[ptq <= 1.1 * ours.min()]])
    top = near.max() + max(0.2 * (near.max() - near.min()), 0.02 * near.max())
    for ax, clip in ((whole, None), (zoom, top)):
        report.plot_metric_vs_bits(shown, "bpc", ax=ax, baseline=baselines["unigram_bpc"],
                                   baseline_label="unigram", clip_above=clip, seeds=seeds[profile_name])
        ax.set_ylabel("test bits per character")
    whole.set_title(report.budget_label(profile_name), fontsize="small")
    zoom.set_title(f"{report.budget_label(profile_name)}: zoomed on the ORNNs", fontsize="small")
    zoom.get_legend().remove()  # the same as the whole panel's, but for what the triangles mean
    if any(line.get_marker() == "^" for line in zoom.get_lines()):
        zoom.legend(handles=[Line2D([], [], marker="^", color="0.3", linestyle="none",
                                    label="off the scale (its value written beside it)")], fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# The same numbers as a table, one per budget: each run's test numbers as the mean ± standard
# deviation over the seeds recorded at that budget (the column `seeds` says which; one seed: its
# number).

# %% tags=["hide-input", "full-width"]
for profile_name in budgets:
    display(Markdown(f"**{report.budget_label(profile_name)}**"))
    frame = report.bit_width_seed_frame(seeds[profile_name])
    display(report.styled(frame.sort_values(["kind", "mechanism", "bits"], na_position="first")))

# %% [markdown]
# ## How orthogonal the recurrence is
#
# The $W$ each network uses: distance to orthogonality, extreme singular values and spectral
# radius (see {doc}`/book/qornn/orthogonality`), at each recorded budget. The ReLU keeps the state
# non-negative, which bounds the growth along negative directions but not along the cone of positive
# vectors.

# %% tags=["hide-input", "full-width"]
for profile_name, shown in budgets.items():
    display(Markdown(f"**{report.budget_label(profile_name)}**"))
    frame = report.analysis_frame(shown)
    if len(frame):
        display(report.styled(frame.sort_values(["kind", "bits"], na_position="first")))
    else:
        display(Markdown("The record holds no analysis yet."))

# %% [markdown]
# ## Training curves
#
# Validation bpc after each epoch of the trained models, with each run's test bpc as a marker and
# the unigram reference; at the paper's budget first, where recorded.

# %% tags=["hide-input"]
fig, axes = plt.subplots(len(budgets), 1, figsize=(9, 4.5 * len(budgets)), squeeze=False)
trained = {profile_name: {**shown, "runs": {run: data for run, data in shown["runs"].items()
                                            if data["history"]}}
           for profile_name, shown in budgets.items()}  # the PTQ runs have no curve
every_run = report.runs_of(trained.values())  # a run keeps its colour in every panel
for ax, (profile_name, shown) in zip(axes[:, 0], budgets.items(), strict=True):
    trained_runs = trained[profile_name]
    report.plot_metric_curves(trained_runs, "bpc", ax=ax, references={"unigram": baselines["unigram_bpc"]},
                              color_order=every_run)
    ax.legend(fontsize="x-small", ncol=2)
    ax.set_title(f"{report.budget_label(profile_name)}, seed {report.record_seed(shown)}", fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The paper beside ours
#
# Test bpc of each run beside the paper's number, read from `data/paper/qornn.yaml` with its source
# (never from this notebook; the paper file names this experiment `ptb-char`). "not available" means
# the number could not be read from a source reachable when that file was written.
# "not known (its tables not read)" means the file has no entry for it, and since no table of the
# paper could be read, whether the paper reports it is not known.
#
# The column `budget` says which budget made each of our numbers: the rows made at the paper's
# budget (profile `paper`: here our choice of that budget, since the paper's could not be read here; see
# the profile's note), where they are recorded, come first, then those of this page's profile. The
# note below names the runs not yet recorded at the paper's budget.

# %% tags=["hide-input", "full-width"]
paper = report.load_paper_numbers("qornn")
report.show_markdown(report.paper_budget_note("qornn-ptb", record))
table = report.budget_comparison("qornn-ptb", record, paper, paper_experiment=config.paper_experiment)
report.show_comparison(table[table["metric"] == "bpc"])
setting = "the paper's setting" if profile == "paper" else "not the paper's setting"
display(Markdown(f"This page's profile is **`{record['profile']}`**, {setting}: {config.note}."))

# %% [markdown]
# ## Provenance
#
# The commit, device, torch version, seed, wall time (training; for PTQ, the quantization alone, a
# fraction of a second) and date of each run, for each budget and seed shown above. A run trained in several
# starts, on more than one device, lists each device with its optimiser steps.

# %% tags=["hide-input", "full-width"]
display(report.styled(report.budget_provenance_table("qornn-ptb", record)))
