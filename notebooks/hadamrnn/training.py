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
# # Training time, speed, and sensitivity to the learning rate and batch size
#
# Not in the HadamRNN paper ([arXiv 2502.00047](https://arxiv.org/abs/2502.00047)): its reviewers
# asked for the wall-clock cost of training and running a binary recurrence against a float one,
# and for how sensitive the method is to its learning rate and batch size. This page answers both
# from recorded runs.
#
# **Training time** comes from the provenance of every run of this chapter (wall time of the
# training loop, without the final test evaluation), so it is the time of real runs on the machine
# that made them, which is shared: compare runs of the same experiment, made by the same process
# and at the same commit. Runs made at different commits also ran different code: since
# 2026-12-01 training flushes subnormal floats to zero, which made some gated baselines several
# times faster per step (see the speed page), and FastGRNN got a hand-written backward pass.
# The controlled comparison of a binary recurrent step against a float one is the speed benchmark
# (side-by-side repetitions, ratios; see {doc}`/book/benchmarks/speed`), summarised below.
#
# **Sensitivity** is a sweep, `hadamrnn-sensitivity`: HadamRNN on pMNIST at three learning rates
# (batch 100) and three batch sizes (learning rate $10^{-3}$), each with learned signs (the paper's
# model) and with $W$'s random signs fixed; every other setting is the same.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import benchmark_report as bench  # noqa: E402
from qornn import report, results  # noqa: E402
from qornn.experiments import get_config, recorded_or_trained  # noqa: E402

# %% [markdown]
# ## This run
#
# Parameters: `profile` (`smoke`, `cpu` or `paper`; default `cpu`), `seed`, `device`, and `retrain`
# for the sweep (see {doc}`/book/rerun`).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"
retrain = False
overrides = ""  # settings to change, e.g. '{"hidden_size": 32}' (see qornn/overrides.py)

# %% [markdown]
# ## Training time of this chapter's runs
#
# One row per trained run of each HadamRNN experiment recorded under this profile, seed 0 (the
# record each page leads with; the other seeds' records train the same models with other draws and
# are not shown here). A missing record is skipped, never trained here.

# %% tags=["hide-input", "full-width"]
CHAPTER = ("copy", "pmnist", "smnist", "imdb", "sst2", "hadamrnn-size-accuracy", "hadamrnn-sensitivity")
recorded = [r for r in (results.load_record(name, profile, missing_ok=True) for name in CHAPTER) if r]
times = report.training_time_frame(recorded)
if times.empty:
    display(Markdown(f"No trained run of this chapter is recorded under the profile `{profile}` yet."))
else:
    display(report.styled(times).format("{:.1f}", subset=["s / epoch"]))
    display(Markdown("Devices in full: " + "; ".join(report.device_names(recorded)) + "."))

# %% [markdown]
# Seconds per epoch of each model, relative to the float ORNN of the same experiment (where there is
# one and it has the same hidden size and batch, so that the ratio compares like with like):

# %% tags=["hide-input"]
rows = []
for experiment, group in (times.groupby("experiment", sort=False) if not times.empty else []):
    for _, ornn in group[(group["model"] == "ornn") & (group["s / epoch"] > 0)].iterrows():
        same = group[(group["hidden"] == ornn["hidden"]) & (group["batch"] == ornn["batch"])]
        for _, run in same.iterrows():
            rows.append({"experiment": experiment, "run": run["run"], "hidden": run["hidden"],
                         "s / epoch": run["s / epoch"],
                         "relative to the float ORNN": round(run["s / epoch"] / ornn["s / epoch"], 2)})
if rows:
    display(report.styled(pd.DataFrame(rows)).format("{:.1f}", subset=["s / epoch"])
            .format("{:.2f}", subset=["relative to the float ORNN"]))
else:
    display(Markdown("No experiment of this profile has a float ORNN and another model of the same "
                     "hidden size and batch."))

# %% [markdown]
# ## Training time at the paper's budget
#
# The same for every run recorded at the paper's budget (profile `paper`), at every seed, with the
# authors' released copy-task configuration (`copy-released`). The paper's runs that do not fit this
# machine are named, with their measured cost, in the chapter introduction's table of paper budgets
# ({doc}`/book/hadamrnn/introduction`); the measured time per step of every paper run is on
# {doc}`/book/benchmarks/speed`.

# %% tags=["hide-input", "full-width"]
paper_records = [record for name in (*CHAPTER, "copy-released")
                 for record in report.seed_records(name, report.PAPER_PROFILE).values()]
if paper_records:
    display(report.styled(report.training_time_frame(paper_records)).format("{:.1f}", subset=["s / epoch"]))
    display(Markdown("Devices in full: " + "; ".join(report.device_names(paper_records)) + "."))
else:
    display(Markdown("No run of this chapter is recorded at the paper's budget yet."))

# %% [markdown]
# ## The binary recurrent step against a float one (benchmark)
#
# From `data/results/benchmarks/hadamrnn_step.json` (one training step on a pMNIST-shaped batch,
# $T = 784$, batch 100, and at the copy task's paper shape): the speed-up of qornn's HadamRNN (fast
# Walsh–Hadamard transform, $O(n \log n)$ per step) over the same model with a dense product and over
# PyTorch's float `nn.RNN`, median of ratios measured side by side.

# %% tags=["hide-input"]
step = bench.load_benchmarks(["hadamrnn_step"]).get("hadamrnn_step")
if step is None:
    display(Markdown("No benchmark record: run `python benchmarks/hadamrnn_step.py`."))
else:
    display(report.styled(bench.step_table(step), precision=3))  # as the speed page shows it

# %% [markdown]
# ## Sensitivity to the learning rate and the batch size

# %% tags=["hide-input"]
config = get_config("hadamrnn-sensitivity", profile, overrides)
report.show_markdown(report.run_summary(config, profile=profile, seed=seed, device=device,
        retrain=retrain, overrides=overrides))
sweep, trained = recorded_or_trained("hadamrnn-sensitivity", profile, seed=seed, device=device,
                                     retrain=retrain, overrides=overrides)
report.show_markdown(report.record_status(sweep, config, trained))

# %% tags=["hide-input", "full-width"]
frame = report.sweep_frame(sweep)
display(report.styled(frame))

# %% [markdown]
# Left: test accuracy against the learning rate at batch 100. Right: against the batch size at
# learning rate $10^{-3}$ (the same number of epochs, so a larger batch takes fewer steps).

# %% tags=["hide-input"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for signs, marker in (("learned", "-o"), ("fixed", "--s")):
    part = frame[frame["signs"] == signs]
    by_lr = part[part["batch"] == 100].sort_values("lr")
    by_batch = part[part["lr"] == 1e-3].sort_values("batch")
    left.plot(by_lr["lr"], by_lr["test accuracy"], marker, label=f"{signs} signs")
    right.plot(by_batch["batch"], by_batch["test accuracy"], marker, label=f"{signs} signs")
for ax, xlabel, column in ((left, "learning rate (batch 100)", "lr"),
                           (right, "batch size (learning rate 1e-3)", "batch")):
    ax.set_xscale("log")
    ticks = sorted(frame[column].unique())  # the values swept, written plainly (log minor labels overlap)
    ax.set_xticks(ticks, labels=[f"{value:g}" for value in ticks])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.axhline(0.1, color="black", linestyle="--", linewidth=1, label="chance")
    ax.grid(True, alpha=0.3)
left.set_ylabel("test accuracy")
left.legend()
fig.suptitle(f"HadamRNN on pMNIST, profile {sweep['profile']}, one seed per point (seed {seed})")
fig.tight_layout()
plt.show()

# %% [markdown]
# How the learned signs behaved at each learning rate and batch size: mean $|u|$ of the latent sign
# vector and signs of $W$ flipped per optimiser step (of $n$), per epoch (the runs with fixed signs
# flip none). A smaller learning rate moves each $u_i$ less per Adam step.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
report.plot_sign_diagnostics(sweep, axes)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Provenance of the sweep

# %% tags=["hide-input", "full-width"]
display(report.styled(report.provenance_table(sweep)))
