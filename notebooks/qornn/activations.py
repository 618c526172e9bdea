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
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.experiments import recorded_or_trained  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` chooses the records of the trained models (default `cpu`; those recorded at the paper's
# budget are shown beside them, first, where a task has any), `seed` the seed shown at that profile
# (at the paper's budget: the lowest recorded); see {doc}`/book/rerun`.
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
# cost of integer activations alone. A colour per weight bit width and a line style per method
# (STE-Björck, STE-projUNN, and STE-Björck with a learned range, LSQ), the same in every panel. A
# row of panels per budget: the paper's budget (profile `paper`) first,
# where a task has runs recorded there, then this page's profile (a reduced budget); each panel
# names its budget and seed. The copy task's two rows are two tasks: the paper's asks for recall
# after $T = 1000$ steps, the `cpu` profile's after $T = 200$. The largest hidden value seen in
# calibration sets the range: a model whose $|h|$ grows over 784 steps (a quantized $W$ of spectral
# radius above 1 can let it) spends its $k_a$ bits on a wide range, and the small values in the state
# are rounded away.

# %% tags=["hide-input"]
TASKS = {"copy": ("qornn-copy", "loss", "test cross-entropy"),
         "pMNIST": ("qornn-pmnist", "accuracy", "test accuracy"),
         "sMNIST": ("qornn-smnist", "accuracy", "test accuracy"),
         "PTB": ("qornn-ptb", "bpc", "test bits per character")}
# each task's record at every budget recorded (the paper's first; its lowest seed), the page's own
# record at its profile, and the activation PTQ of each
frames = {}
for task, (name, metric, _) in TASKS.items():
    record, _ = recorded_or_trained(name, profile, seed=seed, device=device, retrain=False)
    frames[task] = {budget: (shown, report.activation_frame(shown, metric))
                    for budget, shown in report.budget_records(name, record).items()}
budgets = sorted({budget for by_budget in frames.values() for budget in by_budget},
                 key=lambda budget: budget != report.PAPER_PROFILE)

fig, axes = plt.subplots(len(budgets), len(TASKS), figsize=(4.2 * len(TASKS), 4.3 * len(budgets) + 0.6),
                         squeeze=False)
handles = {}  # legend entry -> its handle, over every panel drawn
for row, budget in zip(axes, budgets, strict=True):
    for ax, (task, by_budget) in zip(row, frames.items(), strict=True):
        _, metric, label = TASKS[task]
        if budget not in by_budget or by_budget[budget][1].empty:
            if budget not in by_budget:
                why = "not recorded at this budget yet"
            elif not any(data["config"]["model"].get("model", "").startswith("qornn-")
                         for data in by_budget[budget][0]["runs"].values()):
                why = "recorded, but no QAT run\nat this budget yet"
            else:
                why = "no QAT run here has an\nactivation analysis yet"
            ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="0.4")
            ax.set_title(f"{task}, {report.budget_label(budget)}", fontsize="small")
            ax.set_axis_off()
            continue
        record, frame = by_budget[budget]
        handles.update({h.get_label(): h for h in report.plot_activation_widths(frame, record, ax, label,
                                                                                 logy=metric == "loss")})
        ax.set_title(f"{task}, {report.budget_title(record)}\nseed {report.record_seed(record)}, "
                     f"{frame['test samples'].iloc[0]:,} test samples", fontsize="small")
if handles:  # the legend, one for every panel, below them
    fig.legend(handles=list(handles.values()), loc="lower center", ncol=len(handles) // 2 + 1,
               fontsize="small", frameon=False)
fig.tight_layout(rect=(0, 0.6 / fig.get_figheight(), 1, 1))
plt.show()

# %% [markdown]
# The same numbers, a table per task, the paper's budget first where recorded (the column `budget`).
# The copy task's two budgets are two tasks: recall after $T = 1000$ steps at the paper's budget,
# $T = 200$ at the `cpu` profile, so its losses at the two budgets are not comparable: the heading
# of its table gives each budget's memoryless loss per step, the level of a model that remembers
# nothing.

# %% tags=["hide-input", "full-width"]
for task, by_budget in frames.items():
    metric = TASKS[task][1]
    shown = [(budget, record, frame) for budget, (record, frame) in by_budget.items()]
    heading = []
    for _, record, frame in shown:
        level = report.reference_lines(record, metric).get("memoryless")
        heading.append(report.budget_title(record)
                       + (f", memoryless {level:.4g}" if level is not None else "")
                       + ("" if len(frame) else ", no QAT run with an activation analysis")
                       + f": {report.record_label(record)}")
    display(Markdown(f"**{task}** ({metric}; " + "; ".join(heading) + ")"))
    frame = pd.concat([frame.assign(budget=report.budget_label(budget), seed=report.record_seed(record))
                       for budget, record, frame in shown if len(frame)], ignore_index=True)
    if len(frame):
        frame = frame[["budget", "seed", *[c for c in frame if c not in ("budget", "seed")]]]
    percent = ([c for c in frame.columns if c == "float activations" or c.startswith("ka=")]
               if metric == "accuracy" else [])  # accuracies as the percentages they are
    display(report.table_or_note(frame, "No QAT run of these records carries an activation analysis yet.",
                                 percent))

# %% [markdown]
# ### The other seeds
#
# The figure and the tables above show one seed at each budget. The runs recorded at other seeds
# carry the same analysis: here they are, a table per task (a scrolling box), the paper's budget
# first, with a note naming any seed's run that has not been measured yet.

# %% tags=["hide-input", "full-width", "output_scroll"]
for task, by_budget in frames.items():
    name, metric, _ = TASKS[task]
    parts = []
    for budget, (record, _) in by_budget.items():
        others = report.seed_activation_frame([name], budget, metric)
        if len(others):
            others = others[others["seed"] != report.record_seed(record)].drop(columns="experiment")
            parts.append(others.assign(budget=report.budget_label(budget)))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(frame):
        frame = frame[["budget", "seed", *[c for c in frame if c not in ("budget", "seed")]]]
    display(Markdown(f"**{task}** ({metric})"))
    percent = ([c for c in frame.columns if c == "float activations" or c.startswith("ka=")]
               if metric == "accuracy" else [])
    display(report.table_or_note(frame, "No other seed of these records carries an activation analysis.",
                                 percent))
    for budget in by_budget:
        report.show_markdown(report.activation_gaps([name], budget, metric))

# %% [markdown]
# ## The paper beside ours
#
# The paper's activation-quantization table (v2) could not be read from a source reachable here, and
# which weight and activation widths it tabulates is not known, so there is no row of it to set ours
# beside. What `data/paper/qornn.yaml` knows of that table, and where it was searched:

# %% tags=["hide-input", "full-width"]
display(report.styled(report.paper_inventory("qornn", "activation")))
