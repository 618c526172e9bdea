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
# # Sequential MNIST: HadamRNN, Block-HadamRNN and the baselines
#
# Sequential MNIST (sMNIST) is one of the four benchmarks of the HadamRNN paper's main table
# ([arXiv 2502.00047](https://arxiv.org/abs/2502.00047); copy task, pMNIST, sMNIST and IMDB in v1),
# where HadamRNN is compared with a float orthogonal RNN, an LSTM and FastGRNN (reviewer R1 of the
# ICLR submission; the table itself could not be read). This page trains, or by default renders the
# recorded training of, every model of that row.
#
# ## The task
#
# Each $28 \times 28$ digit is read one pixel per step in reading order, $T = 784$ steps, and a
# linear readout of the last state gives the class. Unlike pMNIST (see
# {doc}`/book/hadamrnn/pmnist`), neighbouring pixels arrive at neighbouring steps, and
# the last rows of the image are mostly blank: the network must carry the
# digit's strokes across them. Data: the 70,000 real MNIST digits (`qornn fetch mnist`), split
# 50,000 / 10,000 / 10,000, pixels in $[0, 1)$.
#
# ## The models
#
# - **HadamRNN**: $h_t = W h_{t-1} + U x_t + b$, $\hat y = V \operatorname{ReLU}(h_T) + c$ with the
#   binary orthogonal $W = \operatorname{diag}(\operatorname{sign} u)\, H_{512}/\sqrt{512}$ and 4-bit
#   $U$, $V$; the signs $\operatorname{sign} u$ are learned with the straight-through estimator.
# - **HadamRNN, fixed signs** (not in the paper): the same network, $W$'s random initial signs kept.
# - **Block-HadamRNN**: $W = \operatorname{diag}(\operatorname{sign} u)(I_8 \otimes H_{64})/8$, a sparse
#   ternary matrix with 88% zeros (the paper's sparsity for this task was not read). On `cpu` its random
#   signs are kept fixed, so that run is not the paper's model: the tables mark it "frozen random
#   signs" and the figures "[frozen signs]".
# - **ORNN**: the float orthogonal RNN with the same linear recurrence; **LSTM** and **FastGRNN**
#   (Kusupati et al. 2018): the float gated baselines of the paper's table, at hidden size 128.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

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
config = get_config("smnist", profile, overrides)
report.show_markdown(report.run_summary(config, profile=profile, seed=seed, device=device,
        retrain=retrain, overrides=overrides))
record, trained = recorded_or_trained("smnist", profile, seed=seed, device=device,
                                      retrain=retrain, overrides=overrides)
report.show_markdown(report.record_status(record, config, trained))

# %% [markdown]
# ## Learning curves
#
# Left: training loss (solid) and validation loss (dotted) per epoch. Right: validation accuracy
# after each epoch, the test accuracy of the final model (star) and chance (dashed).

# %% tags=["hide-input"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 6.2))
report.plot_loss_curves(record, ax=left, baseline=None, legend_by_run=True)
report.plot_metric_curves(record, "accuracy", ax=right, references={"chance": 0.1})
for ax in (left, right):
    report.legend_below(ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Learning the signs
#
# The pMNIST page explains why learning $W$'s signs with the straight-through estimator can fail
# in a short run: when the loss would rather shrink $W$, the gradient pushes every latent $u_i$
# towards zero, a binary $W$ cannot shrink, and signs flip back and forth. The runs record, per
# epoch, the mean $|u|$ and the signs flipped per optimiser step (of $n$); the random
# initialisation has mean $|u| \approx 0.055$ at $n = 512$. What this run measured:

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
learned = report.plot_sign_diagnostics(record, axes)
fig.tight_layout()
plt.show()
if not learned:
    display(Markdown("No run of this record learned its signs with recorded diagnostics."))

# %% [markdown]
# ### At the paper's budget: when the signs settle
#
# The `paper` records (100 epochs, the authors' settings) carry the same diagnostics. Per seed and
# epoch: the validation accuracy, the mean $|u|$ and the signs of $W$ flipped per optimiser step
# (HadamRNN and Block-HadamRNN learn their signs; a colour per model, a marker per seed). Below the
# figure, the same in numbers, made from the records: the epoch from which the signs settle and
# the accuracy around it. Compare the accuracy curve with the flips: a model whose signs keep
# flipping changes $W^k$ for every power $k$ that the last state depends on.

# %% tags=["hide-input", "full-width"]
# a model's colour as in the learning curves above
report.show_markdown(report.show_sign_dynamics("smnist", color_order=report.runs_of([record])))

# %% [markdown]
# ## The paper beside ours
#
# Test accuracy of each run beside the paper's number, read from `data/paper/hadamrnn.yaml` with its
# source (never from this notebook); "not available" means it could not be read from any source
# reachable when that file was written.
# "not known (its tables not read)" means the file has no entry for it, and since no table of the
# paper could be read, whether the paper reports it is not known.
#
# The column `budget` says which budget made each of our numbers: the rows made at the paper's
# budget (profile `paper`), where they are recorded, come first, then those of this page's profile
# (a reduced budget). The column `seeds` says how many seeds each number is over; with more than one,
# "ours" is their mean ± standard deviation (sample, $n - 1$). Where the paper's budget is not
# recorded, the note below says so, and gives each paper run's measured cost on this machine (all of
# them: {doc}`/book/benchmarks/speed`, section "What the papers' own budgets cost here").

# %% tags=["hide-input", "full-width"]
paper = report.load_paper_numbers("hadamrnn")
report.show_markdown(report.paper_budget_note("smnist", record))
table = report.budget_comparison("smnist", record, paper)
report.show_comparison(table[table["metric"] == "accuracy"])
setting = "the paper's setting" if profile == "paper" else "not the paper's setting"
display(Markdown(f"This page's profile is **`{record['profile']}`**, {setting}: {config.note}."))
display(report.styled(report.paper_sources_table(paper, "smnist")))

# %% [markdown]
# ## Spread over seeds
#
# Test accuracy of each run at every recorded seed (dots), with the mean and one standard deviation
# over the seeds (bars), for each budget recorded; a run recorded at one seed has a dot and no bar.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(8, 4))
report.plot_seed_spread(report.budget_seed_records("smnist", record), "accuracy", ax=ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What learning the signs adds
#
# The difference in test accuracy between HadamRNN and the same network with its random signs kept
# fixed, per budget, seed by seed (a positive number means learning $W$ helped; with several seeds,
# the mean difference ± its standard deviation over seeds). How the learned signs got there at the
# paper's budget, epoch by epoch, is on {doc}`/book/hadamrnn/signs`.

# %% tags=["hide-input"]
report.show_markdown(report.paired_gain(report.budget_seed_records("smnist", record), "hadamrnn",
                                        "hadamrnn-fixed-signs", "accuracy", record=record))

# %% [markdown]
# ## Integer activations after training
#
# The trained HadamRNN models with their input and hidden state rounded to a $k_a$-bit grid after
# training, the recurrence run on integers only: the measurement of
# {doc}`/book/hadamrnn/copy_task` (section "Integer activations after training", which describes
# it); no table of it could be found in the paper. Training does not record it for HadamRNN; it is made from
# the trained weights by `qornn analyse smnist --profile paper --activations` (`--seed S` for the
# other seeds). Test accuracy with float activations and at each $k_a$, on the test subset the table
# gives (the same for every column), at the paper's budget, one row per run and seed. The range is
# the power of two at or above the largest $|h|$ seen in calibration, so a model whose max $|h|$ lies
# just above a power of two gets a step twice as coarse as one just below it: read the 6- and 8-bit
# columns beside that one.

# %% tags=["hide-input", "full-width"]
display(report.activation_table(["smnist"], report.PAPER_PROFILE, "accuracy"))
report.show_markdown(report.activation_gaps(["smnist"], report.PAPER_PROFILE, "accuracy"))

# %% [markdown]
# ## Model sizes
#
# Bits of every matrix and bias, counted as the papers count them (`qornn.models.model_size_bits`).

# %% tags=["hide-input"]
display(report.styled(report.size_table(record)))

# %% [markdown]
# ## Training history and provenance

# %% tags=["hide-input", "full-width", "output_scroll"]
# every epoch of every run: a scrolling box of its own
display(report.styled(report.history_frame(record, labelled=True)))
# every budget and seed the tables above draw on
display(report.styled(report.budget_provenance_table("smnist", record)))
