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
# # The copy task: QORNN at 3 to 8 bits
#
# *Paper version: QORNN v2 ([arXiv 2402.04012](https://arxiv.org/abs/2402.04012)), whose copy-task
# experiment trains STE-Björck and STE-projUNN; the authors' notebook trains them at 5, 6 and 8 bits,
# and this page adds 3 and 4 bits, the widths of the paper's claims. The first version's abstract
# names PTQ and three QAT algorithms, not these two; its tables could not be read.*
#
# A quantized orthogonal RNN stores its recurrent matrix $W$ and input matrix $U$ on a uniform
# $k$-bit grid. The grid breaks orthogonality: $q_k(W)$ is only approximately orthogonal, and over
# the long delay of the copy task (see {doc}`/book/hadamrnn/copy_task` for the task and
# its memoryless baseline $K \ln 8 / T$) small departures from orthogonality compound. This page
# compares three ways to obtain a $k$-bit model, for two orthogonality mechanisms:
#
# - **float**: a full-precision ORNN with a linear recurrence and a ReLU on the readout path,
#   $h_t = W h_{t-1} + U x_t + b$, $y_t = V \operatorname{ReLU}(h_t) + c$ (as in the authors' QORNN
#   configurations published with the HadamRNN code; see the note on the nonlinearity below), with $W$
#   kept orthogonal by the mechanism: **Björck** ($W = \text{Björck}(V / \sigma_{\max}(V))$ from a
#   latent $V$, power iteration then Björck iterations) or **projUNN** (a rank-one update after each
#   gradient step, projected back onto the orthogonal group);
# - **PTQ** (post-training quantization): the trained float model with $W$ and $U$ replaced by
#   $q_k(W)$, $q_k(U)$, no retraining;
# - **QAT** (STE-Björck, STE-projUNN): training with $q_k(W)$ and $q_k(U)$ in the forward pass and the
#   straight-through estimator in the backward pass, the mechanism acting on the latent float $W$.
#
# The quantizer is symmetric and uniform with one scale per matrix,
# $q_k(M) = \frac{\alpha}{2^{k-1}} \operatorname{clip}\big(\operatorname{round}(2^{k-1} M / \alpha),
# -2^{k-1}, 2^{k-1} - 1\big)$ with $\alpha = \max |M|$ (see {doc}`/book/models`). The readout $V$
# stays in float, as in the paper's second version.
#
# **The nonlinearity.** The paper's copy-task models could not be read here. Our first `cpu` run used
# the vanilla ORNN, $h_t = \operatorname{ReLU}(W h_{t-1} + U x_t + b)$: in its 1,000 optimiser
# steps no model, float or quantized, got below the memoryless baseline, so the bit width could not
# be compared. That record is kept in `data/results/qornn-copy/history/`; this page shows the
# linear recurrence. The authors' released notebook, read again, holds one trained QORNN copy model
# that is neither: their QRNN class with modReLU, no recurrence bias and a readout without ReLU, at
# hidden 256 (section "The authors' released notebook beside ours" below).

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import analysis, report  # noqa: E402
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
samples = 8  # Haar-random W per bit width in the growth table
overrides = ""  # settings to change, e.g. '{"hidden_size": 32}' (see qornn/overrides.py)

# %% tags=["hide-input"]
config = get_config("qornn-copy", profile, overrides)
report.show_markdown(report.run_summary(config, profile=profile, seed=seed, device=device,
        retrain=retrain, overrides=overrides))

# %% [markdown]
# ## Training, or the recorded training
#
# With `retrain = False` (the default, and how the book is built) this cell reads the committed
# record `data/results/qornn-copy/<profile>.json` if there is one; otherwise, or with
# `retrain = True`, it trains the float and QAT models (an interrupted run resumes from its
# checkpoint), quantizes the float models after training, and writes the record.

# %% tags=["hide-input"]
record, trained = recorded_or_trained("qornn-copy", profile, seed=seed, device=device,
                                      retrain=retrain, overrides=overrides)
report.show_markdown(report.record_status(record, config, trained))

# %% [markdown]
# ## Loss against bit width
#
# Test cross-entropy per step of every model: QAT (solid) and PTQ (dashed) at each bit width, the
# float model of the same mechanism (dotted) and the memoryless baseline (dashed black), on a log
# scale. Post-training quantization at few bits can be worse than the rest by many orders of
# magnitude; so that it does not squeeze every other curve flat, the axis stops at 100 times the
# memoryless baseline, and a point above that sits on the top edge as a triangle ▲ with its true
# value written beside it (the table below has every number). The top axis
# gives the model size in bits at each width ($W$ and $U$ at $k$ bits, $V$ and the biases in float).
# Where runs are recorded at the paper's budget (profile `paper`: $T = 1000$, 40,000 optimiser
# steps), their panel comes first; it holds only the runs recorded there so far. Each panel draws every
# seed recorded at its budget: the curves join the means over the seeds, each seed is a dot beside
# them, and the band around a float ORNN's dotted line spans its seeds (lowest to highest).

# %% tags=["hide-input"]
seeds = report.budget_seed_records("qornn-copy", record)
budgets = report.budget_records("qornn-copy", record, seeds)
# each budget's memoryless loss (its own T), which both figures' axes are scaled by
memoryless = {profile_name: next(iter(shown["runs"].values()))["baselines"]["memoryless_cross_entropy"]
              for profile_name, shown in budgets.items()}
fig, axes = plt.subplots(len(budgets), 1, figsize=(11, 4.6 * len(budgets)), squeeze=False)
for ax, (profile_name, shown) in zip(axes[:, 0], budgets.items(), strict=True):
    baseline = memoryless[profile_name]
    report.plot_metric_vs_bits(shown, "loss", ax=ax, baseline=baseline, logy=True, clip_above=100 * baseline,
                               seeds=seeds[profile_name])
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))  # beside: the top edge is busy
    ax.set_ylabel("test cross-entropy per step")
    drawn = ", ".join(str(seed) for seed in seeds[profile_name])
    plural = "s" if len(seeds[profile_name]) > 1 else ""
    ax.set_title(f"{report.budget_label(profile_name)}, seed{plural} {drawn}", fontsize="small")
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
    display(report.styled(frame.sort_values(["mechanism", "kind", "bits"], na_position="first")))

# %% [markdown]
# ## Training curves of the trained models
#
# Training (solid) and validation (dotted) loss per epoch of the float and QAT models (PTQ models
# are not trained), one row per budget (the paper's first, where recorded) and one panel per
# mechanism. As in the first figure, the axis stops at 100 times the memoryless baseline: a run whose
# recurrence explodes in its first epochs has its epochs above that on the top edge as triangles ▲,
# and its true losses are in the record's history.

# %% tags=["hide-input"]
fig, axes = plt.subplots(len(budgets), 2, figsize=(12, 6.4 * len(budgets)), squeeze=False)
# a colour per bit width, the same in every panel whatever runs a budget has recorded
widths = report.runs_of({"runs": {run.replace(mechanism, "*"): None for run, data in shown["runs"].items()
                                  if mechanism in run and data["history"]}}
                        for shown in budgets.values() for mechanism in ("bjorck", "projunn"))
for row, (profile_name, shown) in zip(axes, budgets.items(), strict=True):
    for ax, mechanism in zip(row, ("bjorck", "projunn"), strict=True):
        part = {**shown, "runs": {run: data for run, data in shown["runs"].items()
                                  if mechanism in run and data["history"]}}
        if part["runs"]:
            report.plot_loss_curves(part, ax=ax, ylabel="cross-entropy per step", logy=True,
                                    clip_above=100 * memoryless[profile_name], legend_by_run=True,
                                    color_order=[width.replace("*", mechanism) for width in widths],
                                    legend={"loc": "upper center", "bbox_to_anchor": (0.5, -0.14), "ncol": 2})
        else:
            ax.text(0.5, 0.5, "not recorded at this budget yet", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
        ax.set_title(f"{mechanism}, {report.budget_label(profile_name)}, seed {report.record_seed(shown)}",
                     fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The paper beside ours
#
# Test loss of each run beside the paper's number, read from `data/paper/qornn.yaml` with its source
# (never from this notebook; the paper file names this experiment `copy`). "not available" means the
# number could not be read from a source reachable when that file was written; the file says why.
# "not known (its tables not read)" means the file has no entry for it, and since no table of the
# paper could be read, whether the paper reports it is not known.
#
# The column `budget` says which budget made each of our numbers: the rows made at the paper's
# budget (profile `paper`), where they are recorded, come first, then those of this page's profile
# (a reduced budget). The column `seeds` says how many seeds each number is over; with more than one,
# "ours" is their mean ± standard deviation (sample, $n - 1$). Where the paper's budget is not
# recorded, the note below says so, and names the paper runs that do not fit this machine with their
# measured cost (every run's: {doc}`/book/benchmarks/speed`, section "What the papers' own budgets
# cost here").

# %% tags=["hide-input", "full-width"]
paper = report.load_paper_numbers("qornn")
report.show_markdown(report.paper_budget_note("qornn-copy", record))
report.show_comparison(report.budget_comparison("qornn-copy", record, paper,
                                                paper_experiment=config.paper_experiment))
setting = "the paper's setting" if profile == "paper" else "not the paper's setting"
display(Markdown(f"This page's profile is **`{record['profile']}`**, {setting}: {config.note}."))

# %% [markdown]
# ## The authors' released notebook beside ours
#
# The notebook the HadamRNN repository released (`expe_quantif_activ_hadam.ipynb`, commit c8ae6cb)
# also analyses the QORNN authors' own copy-task models, in cells titled "Old stuff". One of them
# prints its test loss (cell 83, the trained weights as loaded): an STE-Björck QORNN with 6-bit $W$
# and $U$ (the bit width is read from the notebook's bit check of the same weight file, cell 131, run
# in another kernel session than cell 83), hidden 256, and another recurrence than this page's:
#
# $$
# h_t = \sigma_m\big(q_6(W) h_{t-1} + q_6(U) x_t\big),\qquad y_t = V h_t + c,
# $$
#
# $$
# \sigma_m(z)_i = \operatorname{sign}(z_i)\,\mathrm{ReLU}(|z_i| + \varepsilon + m_i),
# $$
#
# modReLU with a learned bias $m$ per unit, no bias $b$, no ReLU on the readout
# ({doc}`/book/models`). Its test loss with float activations (in the table below) is more than ten
# times below the memoryless baseline, the loss half of the rule that decides this page's verdicts
# (the notebook prints no recall). The
# notebook prints neither its optimiser settings nor what its `reset_type: copyb` does (it is not
# in the public code). Its numbers are the authors' released run, not the paper's
# (`data/paper/references.yaml`, with the cells they come from).
#
# The experiment `qornn-copy-released` trains that model (`qornn run qornn-copy-released --profile
# paper`) with the HadamRNN copy config's optimiser settings and a random orthogonal start. The table
# sets it beside the notebook's numbers: its test loss with float activations, and with its hidden
# state quantized to 12 bits after training (the page's activation PTQ,
# {doc}`/book/qornn/activations`), where the notebook quantized its own the same way.

# %% tags=["hide-input", "full-width"]
display(report.styled(report.reference_table(report.load_paper_numbers("references"), profile,
                                             experiment="qornn-copy")))
report.show_markdown(report.copy_verdict_text(report.copy_verdicts(None, experiment="qornn-copy-released")))

# %% [markdown]
# **The recurrence or the size?** The notebook's model differs from this page's in two ways: its
# recurrence (modReLU, no $b$, readout $V h_t + c$) and its width (256 against 128). Four runs at the
# `cpu` budget ($T = 200$, 1,000 optimiser steps, one seed each; the variants were made with
# `--set hidden_size=...`, see {doc}`/book/adapt`) cross the two, all STE-Björck at 6 bits. They are
# probes at a reduced budget, not the paper's; the memoryless baseline at $T = 200$ is
# $10 \ln 8 / 200 \approx 0.104$.

# %% tags=["hide-input", "full-width"]
CROSSED = {
    "this page's model": ("qornn-copy", "", "qornn-ste-bjorck-6bit"),
    "this page's model, hidden 256": ("qornn-copy", "hidden_size=256", "qornn-ste-bjorck-6bit"),
    "the notebook's QRNN, hidden 128": ("qornn-copy-released", "hidden_size=128",
                                        "qornn-ste-bjorck-6bit-n256-modrelu"),
    "the notebook's QRNN": ("qornn-copy-released", "", "qornn-ste-bjorck-6bit-n256-modrelu"),
}
crossed = report.runs_side_by_side(CROSSED, "cpu", ["loss", "recall_accuracy"])
display(report.table_or_note(crossed, "None of these `cpu` runs is recorded in this checkout."))

# %% [markdown]
# **Which start for STE-projUNN?** The authors' STE-projUNN copy models ended with
# $\alpha_W = \max|W| \approx 0.999$, which a rotation of random angles on pairs of units
# (Henaff's start, the one projUNN's own copy-task script uses) gives and a Haar-random $W$, ours,
# does not ({doc}`/book/qornn/orthogonality`). The same runs from both starts, at the `cpu` budget
# (one seed; the Henaff runs made with `--set init=henaff`): probes at a reduced budget, not the
# paper's.

# %% tags=["hide-input", "full-width"]
STARTS = {f"{run}, {start}": ("qornn-copy", variant, run)
          for run in ("ornn-projunn", "qornn-ste-projunn-5bit", "qornn-ste-projunn-6bit",
                      "qornn-ste-projunn-8bit")
          for start, variant in (("Haar start", ""), ("Henaff start", "init=henaff"))}
starts = report.runs_side_by_side(STARTS, "cpu", ["loss", "recall_accuracy"])
display(report.table_or_note(starts, "None of these `cpu` runs is recorded in this checkout."))

# %% [markdown]
# ## Does QORNN solve the copy task at the paper's budget?
#
# Decided from the records at the paper's budget (profile `paper`: 40,000 optimiser steps, as the
# HadamRNN paper's copy task) by the rule that decides it for HadamRNN on {doc}`/book/hadamrnn/copy_task`
# (`report.solves_copy`), not by reading the curves. First every run at a glance, one row per method
# and one column per bit width (each cell the verdict and the test recall of the copied symbols), then
# each run with its numbers; a run still training, if any, says how far its checkpoint got.

# %% tags=["hide-input"]
display(Markdown(f"The rule: {report.COPY_RULE}."))
paper_config = get_config("qornn-copy", "paper")
verdicts = report.copy_verdicts(list(paper_config.models), experiment="qornn-copy")
display(report.styled(report.copy_verdict_grid(verdicts, paper_config.models)))
report.show_markdown(report.copy_verdict_text(verdicts))

# %% [markdown]
# ## Why fewer bits fail over 1,000 steps
#
# $W$ is orthogonal, so its spectral radius $\rho(W) = \max|\lambda(W)|$ is 1 and this page's linear
# recurrence $h_t = q_k(W) h_{t-1} + U x_t + b$ neither grows nor decays along any direction. Rounding
# $W$'s entries to $k$ bits moves $\rho$ above 1, and the component of $h$ along the top eigenvector of
# $q_k(W)$ is multiplied by $\rho^T$ over the sequence: small for $\rho - 1$ of a few thousandths over
# the `cpu` profile's $T = 200$, but a factor $e^{T(\rho - 1)}$ over the paper's $T = 1000$. The table
# measures it where training starts, for Haar-random $W$ at this page's $n$
# (`analysis.quantized_growth`, medians over the draws the caption gives), beside the STE-Björck runs
# recorded at the paper's budget; training has to shrink that growth before it can learn to remember.

# %% tags=["hide-input"]
paper_task = get_config("qornn-copy", "paper")
steps = int(paper_task.task_options["length"])
hidden = int(paper_task.models["qornn-ste-bjorck-6bit"]["hidden_size"])
growth = pd.DataFrame(analysis.quantized_growth(hidden, steps, samples=samples, seed=seed))
growth = growth.groupby("bits")[["spectral_radius", "growth"]].median().reset_index()
paper_runs = report.seed_records("qornn-copy", report.PAPER_PROFILE).get(0, {"runs": {}})["runs"]
growth["STE-Björck recall at the paper's budget (seed 0)"] = [
    f"{paper_runs[f'qornn-ste-bjorck-{k}bit']['test']['recall_accuracy']:.1%}"
    if f"qornn-ste-bjorck-{k}bit" in paper_runs else "not recorded yet" for k in growth["bits"]]
growth["growth"] = [f"{g:.2g}" for g in growth["growth"]]
growth = growth.rename(columns={"spectral_radius": "median ρ(q_k(W))",
                                "growth": f"median ρ^T, T = {steps:,}"})
display(Markdown(f"{samples} Haar-random W of size n = {hidden} per bit width, seed {seed}."))
display(report.styled(growth, precision=3))

# %% [markdown]
# **After training.** The same measure on the trained models: the spectral radius $\rho(W)$ of the
# matrix each network uses when training ends ($q_k(W)$ for QAT and PTQ, the float $W$ for the float
# models; recorded in each run's `analysis`), the growth $\rho^T$ over that budget's $T$, and the
# run's test recall, beside the median $\rho$ of the Haar-random starts above at the same bit width.
# Training (QAT) can move $q_k(W)$'s spectral radius below where it started; PTQ keeps the rounded
# trained $W$ as it is.

# %% tags=["hide-input", "full-width"]
start_rho = growth.set_index("bits")["median ρ(q_k(W))"]
for profile_name, shown in budgets.items():
    length = int(get_config("qornn-copy", profile_name).task_options["length"])
    trained = report.trained_growth_frame(shown, length, "recall_accuracy")
    if trained.empty:
        continue
    trained.insert(3, "median ρ at a Haar start", trained["bits"].map(start_rho))
    trained[f"ρ(W)^{length:,}"] = [f"{g:.3g}" for g in trained[f"ρ(W)^{length:,}"]]
    qat = trained[trained["kind"] == "QAT"]
    lowered = int((qat["ρ(W)"] < qat["median ρ at a Haar start"]).sum())
    display(Markdown(f"**{report.budget_label(profile_name)}**, seed {seed}, T = {length:,}: {lowered} of "
                     f"the {len(qat)} QAT runs ended with ρ(W) below the median Haar start at their bit "
                     "width."))
    display(report.styled(trained, precision=4))

# %% [markdown]
# **Frozen by the optimiser.** A huge $\rho^T$ can break training itself. In its first steps, the loss
# of a recurrence that explodes gives gradients above about $5.8 \times 10^{20}$; their squares
# overflow Adam's second moment $v$ to infinity in float32 (no gradient clipping in these settings).
# Adam steps by $m / (\sqrt{v} + \varepsilon)$, which is then 0 for ever: those entries keep their
# initial values, and for $W$ the "trained" $q_k(W)$ is the start's. Such a run can still end with a
# finite loss, from the few entries that kept training (an input column that grows until every other
# input rounds to 0 and the state stays 0), but it has not trained a recurrent network. The line
# below counts the frozen entries in each paper run's committed checkpoint
# (`qornn.checkpoints.frozen_entries`); read the rows above with it. Training now stops such a run at
# the step that overflows the optimiser's state, with a `TrainingDiverged` error that names the step,
# the parameters and the largest gradient; a run counted below trained before that check, and a rerun
# of it would stop with that error. The runs that stopped so are under *Runs that failed* in the note
# above "The paper beside ours" table, each seed with its error. (The models the authors trained on the
# copy task are at 5, 6 and 8 bits, no 3-bit one: `data/paper/qornn.yaml` cites their notebook.)

# %% tags=["hide-input"]
report.show_markdown(report.frozen_runs_text("qornn-copy", report.PAPER_PROFILE, paper_config.models))

# %% [markdown]
# ## Spread over seeds
#
# Test cross-entropy per step of the float ORNN and of QAT at every width, one panel per mechanism,
# at every recorded seed (dots), with the spread over the seeds (bars), for each budget recorded; a
# run recorded at one seed has a dot and no bar, and a run that failed at a seed (*Runs that failed*,
# above) has no dot for it. The losses span orders of magnitude, so the axis is logarithmic: the tick
# is the geometric mean and the bar spans the lowest to the highest seed. (Post-training quantization is
# left out here: rounding the float model's weights spreads its losses far wider than the float
# model's, over tens of orders of magnitude at few bits; the tables above give its mean and spread,
# or its seeds' range where they lie 100 times apart or more.)

# %% tags=["hide-input"]
by_budget = report.budget_seed_records("qornn-copy", record)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), sharey=True)
for ax, (mechanism, name) in zip(axes, {"bjorck": "Björck", "projunn": "projUNN"}.items(), strict=True):
    runs = [f"ornn-{mechanism}", *(f"qornn-ste-{mechanism}-{bits}bit" for bits in (3, 4, 5, 6, 8))]
    report.plot_seed_spread(by_budget, "loss", ax=ax, logy=True,
                            runs=[run for run in runs if run in config.models])
    ax.set_title(f"{name}: {ax.get_title()}", fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Provenance
#
# The commit, device, torch version, seed, wall time (training; for PTQ, the quantization alone, a
# fraction of a second) and date of each run, for each budget and seed shown above. A run trained in several
# starts gives each start's device and torch version with the optimiser steps it trained.

# %% tags=["hide-input", "full-width"]
display(report.styled(report.budget_provenance_table("qornn-copy", record)))
