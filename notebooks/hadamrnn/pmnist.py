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
# # Permuted MNIST: HadamRNN, Block-HadamRNN and the baselines
#
# Permuted pixel-by-pixel MNIST (pMNIST) is the benchmark of the HadamRNN paper's size/accuracy
# figure ([arXiv 2502.00047](https://arxiv.org/abs/2502.00047), Fig. 1) and of its main tables.
# This page trains (or, by default, renders the recorded training of) a HadamRNN, a Block-HadamRNN,
# a full-precision orthogonal RNN and the gated baselines of the paper's table (LSTM, FastGRNN) on
# it and puts our numbers beside the paper's. A run the profile defines but that has not been
# trained yet is named under "Training, or the recorded training", with the command that adds it.
#
# ## The task
#
# Each $28 \times 28$ digit is read one pixel per step, $T = 784$ steps, in a fixed random order:
# step $t$ reads pixel $\pi(t)$ with $\pi$ = `numpy.random.RandomState(92916).permutation(784)`,
# the permutation of the authors' code and of the orthogonal-RNN literature. The permutation mixes
# neighbouring pixels across the whole sequence, so the network must carry what it saw in the first
# steps to the last one, where a linear readout of the final state gives the class:
#
# $$
# h_t = W h_{t-1} + U x_t + b, \qquad \hat y = V \operatorname{ReLU}(h_T) + c .
# $$
#
# The data are the 70,000 real MNIST digits (`qornn fetch mnist`, see {doc}`/book/data`), split
# 50,000 / 10,000 / 10,000 for training, validation and test, pixels scaled to $[0, 1)$.
#
# ## The models
#
# **HadamRNN**: $W = \operatorname{diag}(\operatorname{sign} u)\,H_n/\sqrt{n}$, a binary orthogonal
# matrix that costs $n$ bits, with $U$ and $V$ quantized to 4 bits (see {doc}`/book/models` and the
# copy-task page for the details). **Block-HadamRNN**: $W = \operatorname{diag}(\operatorname{sign}
# u)(I_8 \otimes H_{64})/8$, a sparse ternary matrix with 88% zeros (on `cpu`, its random signs are
# kept fixed: learned signs did not train a dense HadamRNN in this budget, `hadamrnn-p4-learned-signs`
# on the size/accuracy page, and learned block signs were not tried at it; so the `cpu` run
# `block-hadamrnn` is not the paper's model: the tables mark it "frozen random signs" and the figures
# "[frozen signs]"). **ORNN**: the same network with a
# float orthogonal $W$ and float $U$, $V$. **LSTM** and **FastGRNN** (Kusupati et al. 2018): the float
# gated baselines of the paper's table, at hidden size 128 (the paper's sizes were not read).
#
# **HadamRNN with fixed signs** (not in the paper): the same HadamRNN, but the random initial signs
# of $W$ are never trained; only $U$, $V$ and the biases learn. With a linear recurrence, $h_T$ is a
# fixed linear map of the whole image, so this ablation measures what the readout alone gets from a
# random binary orthogonal recurrence, and by difference what learning the $n$ signs adds.

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
config = get_config("pmnist", profile, overrides)
report.show_markdown(report.run_summary(config, profile=profile, seed=seed, device=device,
        retrain=retrain, overrides=overrides))

# %% [markdown]
# ## Training, or the recorded training
#
# With `retrain = False` (the default, and how the book is built) this cell reads the committed
# record `data/results/pmnist/<profile>.json` if there is one; otherwise, or with `retrain = True`,
# it trains every run of the profile that is not recorded yet (an interrupted run resumes from its
# checkpoint) and writes the record.

# %% tags=["hide-input"]
record, trained = recorded_or_trained("pmnist", profile, seed=seed, device=device,
                                      retrain=retrain, overrides=overrides)
report.show_markdown(report.record_status(record, config, trained))

# %% [markdown]
# ## Learning curves
#
# Left: training loss (solid, mean over each epoch's batches) and validation loss (dotted).
# Right: validation accuracy after each epoch, the test accuracy of the final model (star) and
# chance level (dashed).

# %% tags=["hide-input"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 6.2))
report.plot_loss_curves(record, ax=left, baseline=None, legend_by_run=True)
report.plot_metric_curves(record, "accuracy", ax=right, references={"chance": 0.1})
for ax in (left, right):
    report.legend_below(ax)
fig.tight_layout()
plt.show()

# %% tags=["hide-input", "full-width", "output_scroll"]
# every epoch of every run: a scrolling box of its own
display(report.styled(report.history_frame(record, labelled=True)))

# %% [markdown]
# ## The paper beside ours
#
# Test accuracy of each run beside the paper's number, read from `data/paper/hadamrnn.yaml` with
# its source (never from this notebook). "not available" means the number could not be read from a
# source reachable when that file was written; the file says why.
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
report.show_markdown(report.paper_budget_note("pmnist", record))
report.show_comparison(report.budget_comparison("pmnist", record, paper))
setting = "the paper's setting" if profile == "paper" else "not the paper's setting"
display(Markdown(f"This page's profile is **`{record['profile']}`**, {setting}: {config.note}."))
display(report.styled(report.paper_sources_table(paper, "pmnist")))

# %% [markdown]
# ## Spread over seeds
#
# Test accuracy of each run at every recorded seed (dots), with the mean and one standard deviation
# over the seeds (bars), for each budget recorded; a run recorded at one seed has a dot and no bar.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(8, 4))
report.plot_seed_spread(report.budget_seed_records("pmnist", record), "accuracy", ax=ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What learning the signs adds
#
# The difference in test accuracy between HadamRNN and the same network with its signs kept fixed,
# per budget, computed from the records above seed by seed (a positive number means learning $W$
# helped; with several seeds, the mean difference ± its standard deviation over seeds).
#
# **Why learning the signs can hurt.** Only $\operatorname{sign}(u)$ enters the forward pass, and
# the STE hands $u$ the gradient with respect to the signs, $\partial L / \partial s_i =
# \sum_j (\partial L / \partial W_{ij})\, H_{ij} / \sqrt{n}$. Its projection on the current signs,
# $\sum_i s_i\, \partial L / \partial s_i = \langle \partial L / \partial W, W \rangle$, is the
# derivative of the loss with respect to a uniform rescaling of $W$. When the loss would rather
# have a contracting $W$ (forget the early pixels, damp the sum of 784 biases), every $u_i$ is
# pushed towards zero; a binary $W$ cannot shrink, so the signs that cross zero flip, and every flip
# changes $W^{k}$ for all the $k \le 784$ powers that $h_T$ depends on. Adam moves each $u_i$ by about
# the learning rate per step whatever the gradient's size, so with the paper's $10^{-3}$ and
# $|u_i| \lesssim 0.1$ at initialisation, a hundred steps of one sign suffice to flip any of them.
# Runs made with the current code record the sign flips per optimiser step and the mean $|u|$ in
# their history (the columns `sign_flips_per_step` and `mean_abs_u` of the history table), so that
# this explanation can be checked against a rerun; {doc}`/book/hadamrnn/smnist` and
# {doc}`/book/hadamrnn/training` plot them for their runs, and the section below for this task's
# runs at the paper's budget.

# %% tags=["hide-input"]
report.show_markdown(report.paired_gain(report.budget_seed_records("pmnist", record), "hadamrnn",
                                        "hadamrnn-fixed-signs", "accuracy", record=record))

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
report.show_markdown(report.show_sign_dynamics("pmnist", color_order=report.runs_of([record])))

# %% [markdown]
# **The authors' code, side by side.** Are these dynamics qornn's own? The side-by-side check
# ({doc}`/book/hadamrnn/peer_check`) trains the authors' network and qornn's from the same start on
# the same pMNIST batches, with full Hadamard matrices and with Hadamard blocks of 16 (at $n = 128$,
# where $W$ is 7/8 zeros, as the Block-HadamRNN's blocks of 64 make it at $n = 512$). It covers the
# first steps only, far from the 100 epochs above. With learned signs, from its record:

# %% tags=["hide-input"]
report.show_markdown(report.peer_learned_signs_text() or "No side-by-side run is recorded yet "
                     "(`python scripts/peer_check.py`).")

# %% [markdown]
# ## Integer activations after training
#
# The trained HadamRNN models with their input and hidden state rounded to a $k_a$-bit grid after
# training, the recurrence run on integers only: the measurement of
# {doc}`/book/hadamrnn/copy_task` (section "Integer activations after training", which describes
# it); no table of it could be found in the paper. Training does not record it for HadamRNN; it is made from
# the trained weights by `qornn analyse pmnist --profile paper --activations` (`--seed S` for the
# other seeds). Test accuracy with float activations and at each $k_a$, on the test subset the table
# gives (the same for every column), at the paper's budget, one row per run and seed. The range is
# the power of two at or above the largest $|h|$ seen in calibration, so a model whose max $|h|$ lies
# just above a power of two gets a step twice as coarse as one just below it: read the 6- and 8-bit
# columns beside that one.

# %% tags=["hide-input", "full-width"]
display(report.activation_table(["pmnist"], report.PAPER_PROFILE, "accuracy"))
report.show_markdown(report.activation_gaps(["pmnist"], report.PAPER_PROFILE, "accuracy"))

# %% [markdown]
# ## Model sizes
#
# Bits of every matrix and bias, counted as the papers count them (one function,
# `qornn.models.model_size_bits`, for every table): HadamRNN stores $n$ bits for $W$, 4 bits per
# entry of $U$ and $V$ plus a 32-bit scale each, and 32-bit biases; the ORNN stores 32-bit floats.

# %% tags=["hide-input"]
display(report.styled(report.size_table(record)))

# %% [markdown]
# ## Provenance
#
# The commit, device, torch version, seed, training wall time (without the final test evaluation)
# and date of each run, for every budget and seed the tables above draw on.

# %% tags=["hide-input", "full-width"]
display(report.styled(report.budget_provenance_table("pmnist", record)))
