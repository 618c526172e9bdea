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
# # Activation quantization: an integer-only recurrent loop
#
# *Paper version: QORNN v2 ([arXiv 2402.04012](https://arxiv.org/abs/2402.04012)), which adds
# "post-training quantization of the activations for pure integer computation of the recurrent
# loop". The procedure below is the one of the authors' notebook (hidden states at 12 bits in their
# runs, 6, 8 and 10 also tried); the paper's table of results could not be read here.*
#
# A QORNN with $k$-bit weights still carries a float hidden state. Activation post-training
# quantization puts the state on a $k_a$-bit grid too, so that the recurrence needs only integers:
#
# 1. **Calibrate**: run the trained model on training data (here the first 2,000 samples) and record
#    $\max |x|$ and $\max |h|$.
# 2. **Power-of-two ranges**: $R_h = 2^{\lceil \log_2 \max|h| \rceil}$, step $s_h = R_h / 2^{k_a - 1}$
#    (likewise $s_x$ for float inputs; one-hot characters are exact), and
#    $Q_h(v) = s_h \operatorname{clip}(\operatorname{round}(v / s_h), -2^{k_a-1}, 2^{k_a-1}-1)$.
#    The biases ($b$, and modReLU's $m$) get a $k_a$-bit grid $Q_b$ of their own, with the range
#    $R_b = 2^{\lceil \log_2 \max(|b|, |m|) \rceil}$, as the authors' notebook gives them theirs.
#    On the hidden grid, whose step follows the largest $|h|$, a rounded $b$ would err the same way
#    at every step, and an orthogonal recurrence carries every such error along.
# 3. **Recur on codes**: with $H_t = h_t / s_h$, $X_t = x_t / s_x$ and the weights' integer codes
#    $W = s_W W_{\mathrm{int}}$, $U = s_U U_{\mathrm{int}}$,
#
#    $$
#    H_t = \operatorname{clip}\Big(\sigma\big(\operatorname{round}\big(\big[M_W (W_{\mathrm{int}} H_{t-1})
#    + M_U (U_{\mathrm{int}} X_t)\big] / 2^S + B\big)\big)\Big),
#    $$
#
#    where $W_{\mathrm{int}} H_{t-1}$ and $U_{\mathrm{int}} X_t$ are integer products, $B = Q_b(b)/s_h$
#    (the bias's code times $s_b / s_h$, a power of two), the two real rescalings $s_W$ and
#    $s_U s_x / s_h$ are fixed-point multipliers $M = \operatorname{round}(m \cdot 2^S)$ with $S = 32$,
#    and the rounding (a shift by $S$) sends ties to even, as `torch.round` does.
#
# `qornn.models.ActivationQuantizedNet(model, ranges, ka, integer=True)` runs step 3;
# `integer=False` runs the float simulation $h_t = Q_h(\sigma(\hat W h_{t-1} + \hat U \hat x_t + Q_b(b)))$.
# The test `test_integer_activation_path_equals_the_exact_float_simulation` checks that the two give
# the same hidden codes, bit for bit over 100 steps, when the simulation is computed in float64. In
# float32 they drift apart at 12 bits: a rounding tie decided differently flips one code, and an
# orthogonal linear recurrence never forgets the difference. The numbers below use the integer path.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.experiments import recorded_or_trained  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` chooses the records of the trained models (default `cpu`); see {doc}`/book/rerun`.
# This page has no `retrain` and trains nothing: it draws on the records of the pages that train
# them (rerun those to refresh a record); a record that is missing altogether stops the page with
# the command that records it. The activation PTQ was measured on each trained model when its run
# was recorded; the models themselves ship with the book (`qornn.load_weights(experiment, run,
# profile=profile)`, see {ref}`rerun-weights`), and `qornn.analysis.activation_ptq` measures one again.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"

# %% [markdown]
# ## Results against the activation width
#
# For every QAT model of the chapter (STE-Björck, STE-projUNN), its test metric with float
# activations and with the hidden state at $k_a = 6, 8, 10, 12$ bits, on the first 2,000 test
# samples (all of them where the test set is smaller; the analysis recorded with each run, or
# measured again from its weights by `qornn analyse EXPERIMENT --activations`). The
# float-activation value on the same samples is the reference (thin dotted line), so the gap is the
# cost of integer activations alone. A colour per weight bit width and a line style per mechanism,
# the same in the four panels. The largest hidden value seen in calibration sets the range: a
# model whose $|h|$ grows over 784 steps (a quantized $W$ of spectral radius above 1 can let it)
# spends its $k_a$ bits on a wide range, and the small values in the state are rounded away.

# %% tags=["hide-input"]
TASKS = {"copy": ("qornn-copy", "loss", "test cross-entropy"),
         "pMNIST": ("qornn-pmnist", "accuracy", "test accuracy"),
         "sMNIST": ("qornn-smnist", "accuracy", "test accuracy"),
         "PTB": ("qornn-ptb", "bpc", "test bits per character")}
frames = {}
for task, (name, metric, _) in TASKS.items():
    record, _ = recorded_or_trained(name, profile, seed=seed, device=device, retrain=False)
    frames[task] = (record, report.activation_frame(record, metric))

fig, axes = plt.subplots(1, len(TASKS), figsize=(4.2 * len(TASKS), 4.6))
for ax, (task, (record, frame)) in zip(axes, frames.items(), strict=True):
    _, metric, label = TASKS[task]
    handles = report.plot_activation_widths(frame, ax, label, logy=metric == "loss")
    samples = f", {frame['test samples'].iloc[0]:,} test samples" if len(frame) else ""
    ax.set_title(f"{task}, profile {record['profile']}, seed {report.record_seed(record)}{samples}",
                 fontsize="small")
fig.legend(handles=handles, loc="lower center", ncol=len(handles) // 2 + 1, fontsize="small", frameon=False)
fig.tight_layout(rect=(0, 0.12, 1, 1))  # the legend, one for the four panels, below them
plt.show()

# %% tags=["hide-input", "full-width"]
for task, (record, frame) in frames.items():
    display(Markdown(f"**{task}** ({TASKS[task][1]}; {report.record_label(record)})"))
    percent = ([c for c in frame.columns if c == "float activations" or c.startswith("ka=")]
               if TASKS[task][1] == "accuracy" else [])  # accuracies as the percentages they are
    display(report.table_or_note(frame, "No QAT run of this record carries an activation analysis yet.",
                                 percent))

# %% [markdown]
# ## The paper beside ours
#
# The paper's activation-quantization table (v2) could not be read from a source reachable here, and
# which weight and activation widths it tabulates is not known, so there is no row of it to set ours
# beside. What `data/paper/qornn.yaml` knows of that table, and where it was searched:

# %% tags=["hide-input", "full-width"]
display(report.styled(report.paper_inventory("qornn", "activation")))
