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
# # QORNN: quantized approximately orthogonal RNNs
#
# Foucault, Mamalet and Malgouyres, *Quantized Approximately Orthogonal Recurrent Neural Networks*,
# [arXiv 2402.04012](https://arxiv.org/abs/2402.04012). Two versions: v1 (February 2024; one
# post-training and three quantization-aware algorithms, down to 3 bits) and v2 (June 2024;
# STE-Björck and STE-projUNN, activation quantization, compared with ORNN, LSTM and FastRNN, "even
# with 4-bits quantization"). This chapter reproduces v2's experiments; each page says which version
# it stands for. None of the paper's result numbers could be read from a source reachable here:
# every paper column says "not available" or, for a run the file has no entry for, "not known (its
# tables not read)" (`data/paper/qornn.yaml` says what was searched).
#
# ## The model
#
# An orthogonal RNN (ORNN) with a $k$-bit recurrent matrix $W$ and input matrix $U$:
#
# $$
# h_t = \sigma\big(q_k(W)\, h_{t-1} + q_k(U)\, x_t + b\big), \qquad
# y_t = V \operatorname{ReLU}(h_t) + c,
# $$
#
# with $\sigma$ the identity (a linear recurrence) or ReLU, and $V$ in float (v2 quantizes $W$ and
# $U$). The network stores $k$ bits per entry of $W$ and $U$ plus one 32-bit range per matrix.
#
# ## The quantizer and the straight-through estimator
#
# Symmetric, uniform, one range per tensor, $\alpha = \max |M|$ recomputed at every call:
#
# $$
# q_k(M) = \frac{\alpha}{2^{k-1}}\operatorname{clip}\big(\operatorname{round}(2^{k-1} M / \alpha),
# -2^{k-1}, 2^{k-1} - 1\big).
# $$
#
# ```{literalinclude} /qornn/quantize.py
# :language: python
# :pyobject: uniform_quantize
# ```
#
# Training sees $q_k$ in the forward pass; the straight-through estimator (STE) passes the gradient
# to the float latent matrix as if $q_k$ were the identity, $\partial q_k(M) / \partial M := I$:
#
# ```{literalinclude} /qornn/quantize.py
# :language: python
# :pyobject: quantize_ste
# ```
#
# ## STE-Björck
#
# The latent matrix $V$ is mapped to a nearly orthogonal one before quantization:
# $W_0 = V / \sigma_{\max}(V)$ ($\sigma_{\max}$ by power iteration), then Björck's iteration
# $W_{j+1} = (1 + \beta) W_j - \beta W_j W_j^\top W_j$ ($\beta = 0.5$, at most 15 iterations, until
# $\lVert W_{j+1} - W_j \rVert < 10^{-3}$), and the network uses $q_k(W_J)$. The gradient flows
# through $q_k$ by the STE and through the unrolled iterations by automatic differentiation.
#
# ```{literalinclude} /qornn/orthogonal.py
# :language: python
# :pyobject: bjorck
# ```
#
# ## STE-projUNN
#
# The latent $W$ stays exactly orthogonal: after each optimiser step $W_0 \to W_0 - \Delta$, the
# update is replaced by a rank-$r$ one projected back on $O(n)$ (projUNN-D:
# $W \leftarrow P(W_0 - \Delta_r)$ with $P$ the polar projection; projUNN-T: a step along the
# tangent space, $W \leftarrow W_0 \exp(-\operatorname{skew}(W_0^\top \Delta_r))$); the network uses
# $q_k(W)$ with the STE.
#
# ```{literalinclude} /qornn/orthogonal.py
# :language: python
# :pyobject: projunn_step
# ```
#
# ## What "approximately orthogonal" means
#
# $q_k(W) = W + E$ is not orthogonal: $\lVert q_k(W)^\top q_k(W) - I \rVert_2 \le 2\varepsilon +
# \varepsilon^2$ with $\varepsilon = \lVert E \rVert_2$, and its singular values lie in
# $[1 - \varepsilon, 1 + \varepsilon]$. The step size $\delta = \alpha / 2^{k-1}$ bounds
# $\varepsilon \le n\delta$; in practice $\varepsilon \approx 2\sqrt{n}\,\delta/\sqrt{12}$, halved by
# each extra bit. What hurts a long recurrence is the spectral radius above 1: see
# {doc}`/book/qornn/orthogonality`.
#
# ## Pages of this chapter
#
# - {doc}`/book/qornn/copy_task`: STE-Björck and STE-projUNN at 3–8 bits, PTQ, float ORNN; and the
#   one QORNN copy model whose test loss the authors' released notebook prints (hidden 256, modReLU,
#   6 bits) beside our run of that model.
# - {doc}`/book/qornn/mnist`: pMNIST and sMNIST, STE-Björck and STE-projUNN at 3–8 bits,
#   PTQ, float ORNN, LSTM, FastRNN, and a learned quantization range (beyond the paper).
# - {doc}`/book/qornn/ptb`: character-level Penn Treebank in bits per character.
# - {doc}`/book/qornn/bit_widths`: every task's metric against the bit width.
# - {doc}`/book/qornn/orthogonality`: how orthogonal a quantized orthogonal matrix is.
# - {doc}`/book/qornn/activations`: integer-only activation quantization.
# - {doc}`/book/benchmarks/speed`: the training cost per step of each algorithm.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.experiments import get_config  # noqa: E402

# %% [markdown]
# ## Where our numbers stand
#
# The main metric of every run of the chapter (copy: test cross-entropy per step, lower is better;
# MNIST: test accuracy; PTB: test bits per character, lower is better) beside the paper's number,
# with the profile that produced ours. The rows made at the **paper's budget** (profile `paper`)
# lead the table, where they are recorded; the column `budget` tells them from the rows of `profile`
# (default `cpu`, a reduced budget). The column `seeds` says how many seeds each number is over;
# with more than one, "ours" is their mean ± standard deviation.
# This page has no `retrain`: it draws on the records of the pages that train them (rerun
# those to refresh a record; the book's build never trains).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"

# %% tags=["hide-input", "full-width"]
TASKS = {"copy": ("qornn-copy", "loss"), "pMNIST": ("qornn-pmnist", "accuracy"),
         "sMNIST": ("qornn-smnist", "accuracy"), "PTB": ("qornn-ptb", "bpc")}
paper = report.load_paper_numbers("qornn")
summary = report.summary_table(TASKS, paper, profile, seed=seed, device=device)
shown, note = report.summary_for_page(summary)
display(report.styled(shown))
display(Markdown(note))

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
display(report.styled(report.paper_budget_summary(TASKS)))

# %% [markdown]
# The QORNN paper's hyperparameters could not be read here, so "the paper's budget" in this chapter is
# each task's `paper` profile: the nearest public setting, or our own choice where there is none.
# Each profile's note says which:

# %% tags=["hide-input"]
notes = {task: get_config(experiment, report.PAPER_PROFILE).note for task, (experiment, _) in TASKS.items()}
display(Markdown("\n".join(f"- **{task}** (`{TASKS[task][0]}`): {note}." for task, note in notes.items())))

# %% [markdown]
# ## Does QORNN solve the copy task at the paper's budget?
#
# The copy task over $T = 1000$ steps is where a long memory shows, and where rounding $W$ hurts
# most (see {doc}`/book/qornn/orthogonality`). Each run of the copy task's `paper` profile, decided
# from its record by the rule below (`qornn.report.solves_copy`, the rule of the HadamRNN chapter),
# one row per method and one column per bit width, each cell the verdict with the test recall of the
# copied symbols, or where the run stands if it has no record;
# {doc}`/book/qornn/copy_task` gives each run's numbers, seeds and curves.

# %% tags=["hide-input"]
paper_copy = get_config("qornn-copy", report.PAPER_PROFILE)
display(Markdown(f"The rule: {report.COPY_RULE}."))
display(report.styled(report.copy_verdict_grid(
    report.copy_verdicts(list(paper_copy.models), experiment="qornn-copy"), paper_copy.models)))
