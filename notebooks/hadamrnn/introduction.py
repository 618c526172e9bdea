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
# # HadamRNN: binary and sparse ternary orthogonal RNNs
#
# Foucault, Mamalet and Malgouyres, *HadamRNN: Binary and Sparse Ternary Orthogonal RNNs*, ICLR 2025,
# [arXiv 2502.00047](https://arxiv.org/abs/2502.00047); the authors' code is
# [deel-ai-papers/hadamRNN](https://github.com/deel-ai-papers/hadamRNN) (configurations, no results).
#
# ## The construction
#
# An orthogonal RNN keeps the norm of its hidden state, $\|W h\| = \|h\|$, so what the network read
# neither explodes nor vanishes over long sequences. Rounding a float orthogonal matrix to a few
# bits breaks that property (see the QORNN chapter's orthogonality page). HadamRNN keeps it *exactly*
# with a binary matrix. The Sylvester Hadamard matrices are
#
# $$
# H_1 = (1), \qquad H_{2n} = \begin{pmatrix} H_n & H_n \\ H_n & -H_n \end{pmatrix},
# \qquad (H_n)_{ij} = (-1)^{\operatorname{popcount}(i \,\&\, j)},
# $$
#
# ```{literalinclude} /qornn/hadamard.py
# :language: python
# :pyobject: sylvester_hadamard
# ```
#
# **Why $W$ is orthogonal.** By induction, $H_{2n} H_{2n}^\top = \begin{pmatrix} 2 H_n H_n^\top & 0 \\
# 0 & 2 H_n H_n^\top \end{pmatrix} = 2n\, I$ when $H_n H_n^\top = n I$, so $H_n / \sqrt n$ is orthogonal
# for every power of two $n$. A diagonal matrix of signs $D_s = \operatorname{diag}(s)$,
# $s \in \{\pm 1\}^n$, is orthogonal too, and a product of orthogonal matrices is orthogonal:
#
# $$
# W = \operatorname{diag}(s)\, \frac{H_n}{\sqrt n}, \qquad
# W W^\top = D_s \frac{H_n H_n^\top}{n} D_s = D_s^2 = I .
# $$
#
# $W$ has entries $\pm 1 / \sqrt n$ and is stored as its $n$ signs ($H_n$ and the scale are
# implicit): $n$ bits, against $32 n^2$ for a float $W$. The network learns the signs as
# $s = \operatorname{sign}(u)$ of a float latent vector $u$, with the straight-through estimator
# ($\partial s / \partial u := 1$). **Block-HadamRNN** replaces $H_n$ by the block-diagonal
# $I_{n/m} \otimes H_m$ and the scale by $1/\sqrt m$: still orthogonal (each block is), with entries
# in $\{-1, 0, +1\}/\sqrt m$ and a fraction $1 - m/n$ of zeros, stored in the same $n$ bits.
# In `qornn` this is `HadamardWeight` (`qornn/models/recurrent.py`); its matrix is the formula above,
# with `self.hadamard` the buffer $I_{n/m} \otimes H_m$ and `self.signs()` the signs $s$ of the
# latent $u$ through the straight-through estimator:
#
# ```{literalinclude} /qornn/models/recurrent.py
# :language: python
# :pyobject: HadamardWeight.matrix
# :dedent: 4
# ```
#
# After each optimiser step the latent $u$ is clamped to $[-1, 1]$, so that a sign the gradient
# pushes back can flip again within a few steps (the authors' code defines this clamp; its training
# step leaves the call commented out, and the model option `clamp_signs=False` trains that way; the
# sign-learning chapter measures how far the clamp binds at the paper's budget), and the sign flips
# are counted for the training diagnostics:
#
# ```{literalinclude} /qornn/models/recurrent.py
# :language: python
# :pyobject: HadamardWeight.apply_constraints_
# :dedent: 4
# ```
#
# The recurrence is linear and the readout reads the rectified state,
#
# $$
# h_t = W h_{t-1} + U x_t + b, \qquad \hat y = V \operatorname{ReLU}(h_T) + c,
# $$
#
# with $U$ and $V$ quantized to $p$ bits ($p = 4$ in the authors' released configurations of the
# paper's tasks; Figure 1 varies it, and the released copy-task notebook, below, uses $p = 2$). In `qornn`
# these are `build_model("hadamrnn", ...)` and `build_model("block-hadamrnn", ..., block=m)`, one
# `RecurrentNet` with a `HadamardWeight`; $W h$ costs one fast Walsh–Hadamard transform,
# $O(n \log n)$, instead of a dense product (see {doc}`/book/benchmarks/speed`).
#
# The check below is computed when the page is built: the orthogonality error of $W$ for random
# signs, in float64, for the sizes of the paper's models.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.hadamard import block_hadamard  # noqa: E402

generator = torch.Generator().manual_seed(0)
rows = []
for n, m in ((128, 128), (512, 512), (512, 64), (512, 16)):
    signs = torch.randint(0, 2, (n,), generator=generator, dtype=torch.float64) * 2 - 1
    w = signs[:, None] * block_hadamard(n, m, dtype=torch.float64) / m ** 0.5
    rows.append({"n": n, "block m": m, "zeros in W": f"{(w == 0).double().mean().item():.1%}",
                 "max |W W^T - I|": (w @ w.T - torch.eye(n, dtype=torch.float64)).abs().max().item()})
display(report.styled(pd.DataFrame(rows), precision=2))

# %% [markdown]
# ## Pages of this chapter
#
# - {doc}`/book/hadamrnn/copy_task`: the copy task over $T = 1000$ steps.
# - {doc}`/book/hadamrnn/pmnist` and {doc}`/book/hadamrnn/smnist`: permuted and
#   sequential pixel-by-pixel MNIST, HadamRNN against the float ORNN, LSTM and FastGRNN, and the same
#   HadamRNN with its random signs kept fixed (not in the paper). Each of these three pages also runs
#   the trained HadamRNN models on integers only, their hidden state on a 6- to 12-bit grid ("Integer
#   activations after training"; no table of it could be found in the paper).
# - {doc}`/book/hadamrnn/text`: IMDB and SST-2 on labelled stand-ins (neither data set is
#   reachable here), QQP and the IoT data sets (unavailable, and why).
# - {doc}`/book/hadamrnn/size_accuracy`: the (size, accuracy) plane of Figure 1, the
#   Block-HadamRNN sparsity trade-off, whether each run's learned signs settle at the paper's
#   budget, and a float transformer of HadamRNN's size.
# - {doc}`/book/hadamrnn/ablations`: linear against ReLU or tanh recurrence, the bit
#   width of $U$ and $V$, sparsity and learned signs.
# - {doc}`/book/hadamrnn/training`: training time, the speed of the binary recurrent step
#   and the sensitivity to the learning rate and the batch size (asked for by the reviewers).
# - {doc}`/book/hadamrnn/peer_check`: qornn's HadamRNN run side by side with the authors'
#   own code (same weights, outputs and gradients; same training, learned and frozen signs).
# - {doc}`/book/hadamrnn/signs`: ways to train the signs (projected STE, Bop, a learning
#   rate of their own, flips verified on the loss) against frozen random signs, and why the released
#   method fails (not in the paper).
#
# Runs whose signs were frozen are not the paper's model: every table marks them "frozen random signs
# (not the paper's model)" and every figure "[frozen signs]".
#
# `data/paper/hadamrnn.yaml` is the inventory of the paper's tables and figures that a source here
# shows, with every number we compare with and its source.
#
# ## Where our numbers stand
#
# The main metric of every run (copy: test cross-entropy per step, lower is better; the others: test
# accuracy) beside the paper's number, with the profile that produced ours. The rows made at the
# **paper's budget** (profile `paper`: the authors' hyperparameters, epochs and data) lead the table,
# where they are recorded; the column `budget` tells them from the rows of `profile` (default `cpu`,
# a reduced budget). The column `seeds` says how many seeds each number is over; with more than one,
# "ours" is their mean ± standard deviation. This page has no `retrain`: it draws on the records of
# the pages that train them (the book's build never trains).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"

# %% tags=["hide-input", "full-width"]
TASKS = {"copy": ("copy", "loss"), "pMNIST": ("pmnist", "accuracy"), "sMNIST": ("smnist", "accuracy"),
         "IMDB": ("imdb", "accuracy"), "SST-2": ("sst2", "accuracy"),
         "pMNIST, Figure 1": ("hadamrnn-size-accuracy", "accuracy")}
paper = report.load_paper_numbers("hadamrnn")
summary = report.summary_table(TASKS, paper, profile, seed=seed, device=device)
shown, note = report.summary_for_page(summary)
display(report.styled(shown))
display(Markdown(note + "\n\nQQP and the two IoT data sets have no row: no copy of their data is reachable "
                 "here (see the text page)."))

# %% [markdown]
# ## The paper's budgets: what is recorded, and what does not fit here
#
# For each task, each run of its `paper` profile in one column: recorded; in progress (stopped or
# still running, with how far its checkpoint got: `qornn checkpoints --profile paper` gives the
# command that continues it); failed (its last try stopped with an error, which the task's page
# quotes); not run yet and fits here; or does not fit this machine, with its
# projected time on one core (measured seconds per optimiser step × the profile's steps; every
# run's measured cost is on {doc}`/book/benchmarks/speed`, section "What the papers' own budgets
# cost here"). "Does not fit" is a rule for starting runs, not a verdict: a run projected over 12 hours
# is not started by default, but the most important of them are trained anyway, one core each across
# several sessions from committed checkpoints; those show as in progress, with their hours left at
# their own pace (which can be well above the projection, timed on a lightly loaded machine).

# %% tags=["hide-input", "full-width"]
# and the configuration of the authors' released copy-task notebook (n = 512, blocks of 16, 2-bit U, V)
display(report.styled(report.paper_budget_summary(
    {**TASKS, "copy, the authors' released configuration": ("copy-released", "loss")})))

# %% [markdown]
# ## Does HadamRNN solve the copy task at the paper's budget?
#
# The abstract's main claim is a HadamRNN "capable of tackling the copy task over 1000 timesteps".
# Below, the `paper` records of the copy task judged by a rule of ours, not the paper's, which asks
# every recorded seed to solve the task (`qornn.report.solves_copy`; the copy-task page shows the
# same verdict with its curves, and, where the seeds disagree, what tells a failed seed from a solved
# one), then the float baselines at the
# same budget for reference, and last the authors' released configuration (`copy-released`):

# %% tags=["hide-input"]
display(Markdown(f"The rule: {report.COPY_RULE}."))
report.show_markdown(report.copy_verdict_text(report.copy_verdicts(report.COPY_VERDICT_RUNS)))
report.show_markdown(report.copy_verdict_text(report.copy_verdicts(None, experiment="copy-released")))

# %% [markdown]
# ## What the paper-budget runs show about learning the signs
#
# The seeds at the paper's budget tell more than their final numbers. The copy-task page
# ({doc}`/book/hadamrnn/copy_task`, "Why a seed fails") reads each seed's latent signs $u$ and the
# signs of $W$ flipped per step beside its verdict; the pMNIST and sMNIST pages
# ({doc}`/book/hadamrnn/pmnist`, {doc}`/book/hadamrnn/smnist`, "At the paper's budget: when the
# signs settle") give the epoch from which the signs stop flipping, beside the validation accuracy;
# the sign-learning page ({doc}`/book/hadamrnn/signs`) sets learned against frozen random signs.
# Every sentence there is made from the records.

# %% [markdown]
# ## What our numbers can be set against
#
# None of the paper's table numbers could be read from a source reachable here, so the column
# "paper value" above is "not available" or "not known (its tables not read)" throughout, but for
# the HadamRNNs with frozen signs, "not in the paper" (not the paper's model)
# (`data/paper/hadamrnn.yaml` says where we searched). What the book can compare with instead, kept
# apart from the paper's numbers in the table below, each labelled with its kind (column `kind`) and
# its source in `data/paper/references.yaml`:
#
# - **the authors' released notebook** (kind "authors' released notebook"): the one run of theirs
#   whose outputs are public, a copy-task Block-HadamRNN of another size and bit width than the
#   paper's configuration (hidden 512, 2-bit $U$ and $V$): it shows what the method reaches with the
#   full budget of 512K sequences;
# - **literature anchors** (kind "literature anchor"): published accuracies of float orthogonal RNNs
#   and of the LSTM on pixel MNIST (expRNN's table), the level a float model reaches with a full
#   training budget;
# - **the side-by-side with the authors' code** ({doc}`/book/hadamrnn/peer_check`): the two
#   implementations, HadamRNN and Block-HadamRNN, given identical weights and inputs, and trained
#   from the same start on the same batches; and each copy-task model trained at the paper's budget
#   loaded into the authors' network, which evaluates its test set. Its numbers are on that page,
#   not in the table below.
#
# Each row puts the reference beside our nearest recorded run, at the paper's budget (where it is
# recorded) and at `profile`. The hidden sizes differ (columns "hidden" and "our hidden"), and so can
# the budgets and the bit widths (each entry's `model` in the file says how), so a row gives
# context, not a gap. (The QORNN authors' copy-task run in the same notebook is on
# {doc}`/book/qornn/copy_task`.)

# %% tags=["hide-input"]
display(report.styled(report.reference_table(report.load_paper_numbers("references"), profile,
                                             experiment=("copy", "pmnist", "smnist"))))
