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
# # How orthogonal is a quantized orthogonal matrix?
#
# *Paper version: QORNN v2 ([arXiv 2402.04012](https://arxiv.org/abs/2402.04012)), which proves
# bounds on how far from orthogonal a quantized orthogonal matrix can be. Those bounds could not be
# read from any source here ("not available" in `data/paper/qornn.yaml`); this page derives the
# bound that follows from the quantizer's step size and compares it with measurements.*
#
# ## The bound from the step size
#
# Let $W \in O(n)$ and $Q = q_k(W) = W + E$ its $k$-bit quantization, with range
# $\alpha = \max_{ij} |W_{ij}|$ and step $\delta = \alpha / 2^{k-1}$. Rounding moves each entry by at
# most $\delta/2$, except the entries equal to $+\alpha$, which the grid
# $\delta\,\{-2^{k-1}, \dots, 2^{k-1}-1\}$ clips to $\alpha - \delta$; so $|E_{ij}| \le \delta$ and
# $\lVert E \rVert_2 \le \lVert E \rVert_F \le n\delta$. Then
#
# $$
# Q^\top Q - I = W^\top E + E^\top W + E^\top E
# \quad\Longrightarrow\quad
# \lVert Q^\top Q - I \rVert_2 \le 2\varepsilon + \varepsilon^2,
# \qquad \varepsilon = \lVert E \rVert_2 \le n\delta,
# $$
#
# and, by Weyl's inequality, every singular value of $Q$ lies in $[1 - \varepsilon, 1 + \varepsilon]$.
# For a random orthogonal $W$, $\alpha \approx \sqrt{2 \ln(n^2) / n}$, so $n\delta$ grows like
# $\sqrt{n \ln n}/2^{k-1}$: the worst case is loose. Rounding errors behave rather like independent
# uniform noise of variance $\delta^2/12$, for which $\lVert E \rVert_2 \approx 2\sqrt{n}\,\delta/\sqrt{12}$
# (the edge of the Marchenko–Pastur law), about $\sqrt{2 \ln(n^2)/3}\,/\,2^{k-1}$: roughly independent
# of $n$, and halved by every extra bit. The code is `qornn/analysis.py`; its tests check the bound
# on random matrices.
#
# What matters for a recurrence is less $\lVert Q^\top Q - I \rVert$ than the spectral radius
# $\rho(Q) = \max_i |\lambda_i(Q)|$: a linear recurrence $h_t = Q h_{t-1} + \dots$ multiplies the state
# along the leading eigenvector by $\rho^t$, and over $T = 784$ steps $\rho = 1.01$ gives a factor
# 2,500.

# %% tags=["hide-input"]
import functools
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from qornn import analysis, report, results  # noqa: E402
from qornn.experiments import recorded_or_trained  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` chooses the records of the trained models (default `cpu`; those recorded at the paper's
# budget are shown beside them, first, where a task has any); `sizes` and `samples` the
# random orthogonal matrices of the first part, which are drawn when the page is built (seed
# `seed`, a few seconds; not a training result).
# This page has no `retrain` and trains nothing: it draws on the records of the pages that train
# them (rerun those to refresh a record); a record that is missing altogether stops the page with
# the command that records it. The measurements were made on each trained model when its run was
# recorded; the models themselves ship with the book, and `qornn.load_weights(experiment, run,
# profile=profile)` gives the matrices measured here (see {ref}`rerun-weights`).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"
sizes = [64, 128, 256]
samples = 8

# %% [markdown]
# ## Random orthogonal matrices
#
# For Haar-random $W \in O(n)$ (QR of a Gaussian matrix), the measured $\lVert q_k(W)^\top q_k(W) - I
# \rVert_2$ (points: mean over the samples, bars: min to max) against the bit width, beside the
# step-size bound $2n\delta + (n\delta)^2$ (dashed) and the random-rounding estimate (dotted).

# %% tags=["hide-input"]
random_rows = pd.DataFrame([row for n in sizes
                            for row in analysis.random_orthogonal_study(n, samples=samples, seed=seed)])
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
for i, (n, part) in enumerate(random_rows.groupby("n")):
    color = f"C{i}"
    stats = part.groupby("bits").agg(mean=("spectral", "mean"), lo=("spectral", "min"),
                                     hi=("spectral", "max"), bound=("step_size_bound", "mean"),
                                     estimate=("random_rounding_estimate", "mean"))
    left.errorbar(stats.index, stats["mean"], yerr=[stats["mean"] - stats["lo"], stats["hi"] - stats["mean"]],
                  fmt="o-", color=color, capsize=3, label=f"measured, n = {n}")
    left.plot(stats.index, stats["bound"], "--", color=color, alpha=0.6, label=f"step-size bound, n = {n}")
    left.plot(stats.index, stats["estimate"], ":", color=color, label=f"random-rounding estimate, n = {n}")
    rho = part.groupby("bits")["spectral_radius"].mean()
    right.plot(rho.index, rho - 1, "o-", color=color, label=f"n = {n}")
left.set_yscale("log")
left.set_xlabel("weight bits k")
left.set_ylabel(r"$\|q_k(W)^\top q_k(W) - I\|_2$")
left.set_title("distance to orthogonality")
left.legend(fontsize="x-small", ncol=1)
right.set_yscale("log")
right.set_xlabel("weight bits k")
right.set_ylabel(r"$\rho(q_k(W)) - 1$")
right.set_title("spectral radius above 1 (mean over samples)")
right.legend(fontsize="small")
for ax in (left, right):
    ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()

# %% tags=["hide-input", "full-width"]
summary = (random_rows.groupby(["n", "bits"])
           [["alpha", "step", "spectral", "frobenius", "sigma_min", "sigma_max", "spectral_radius",
             "random_rounding_estimate", "step_size_bound"]].mean().reset_index())
display(report.styled(summary))

# %% [markdown]
# ## Trained models
#
# The same quantities on the recurrent matrices of the trained models of this chapter, read from
# their records (`analysis`, measured when each run was recorded or by `qornn analyse`): for the
# float ORNNs, their $W$ quantized at each width as PTQ would; for the QAT models, the $q_k(W)$ they
# were trained with. QAT sees the quantized matrix in every forward pass, but nothing in its loss
# asks for orthogonality of $q_k(W)$ itself: only the latent $W$ is kept orthogonal.
#
# Where a task has runs recorded at the paper's budget (profile `paper`), they come first, then those
# of this page's profile and seed (a reduced budget); the column `budget` says which made each row,
# and the figure has a row of panels per budget. At the paper's budget the seed is the lowest
# recorded. The two budgets of a task are not always the same task: the copy task's `cpu` profile
# asks for recall after $T = 200$ steps, the paper's after $T = 1000$, and the models' hidden sizes
# $n$ may differ too (the column `n`).

# %% tags=["hide-input"]
EXPERIMENTS = {"copy": "qornn-copy", "pMNIST": "qornn-pmnist", "sMNIST": "qornn-smnist",
               "PTB": "qornn-ptb"}
records = {task: recorded_or_trained(name, profile, seed=seed, device=device, retrain=False)[0]
           for task, name in EXPERIMENTS.items()}
# each task's record at every budget recorded (the paper's first), the page's own at its profile
by_budget = {task: report.budget_records(EXPERIMENTS[task], record) for task, record in records.items()}
budgets = sorted({name for shown in by_budget.values() for name in shown},
                 key=lambda name: name != report.PAPER_PROFILE)


rows = []
for budget in budgets:
    for task, shown in by_budget.items():
        if budget not in shown:
            continue
        record = shown[budget]
        where = {"budget": report.budget_label(budget), "task": report.task_label(task, record),
                 "seed": report.record_seed(record)}
        for run, data in sorted(record["runs"].items()):
            found = data.get("analysis") or {}
            model = data["config"]["model"]
            for bits, measures in (found.get("quantized_W") or {}).items():
                rows.append({**where, "run": run, "kind": "float W, quantized", "bits": int(bits),
                             "n": found["hidden_size"], **{k: measures[k] for k in
                                                          ("spectral", "sigma_min", "sigma_max",
                                                           "spectral_radius", "random_rounding_estimate")}})
            if "W" in found and model.get("model", "").startswith("qornn-"):
                w = found["W"]
                rows.append({**where, "run": run, "kind": "QAT " + model["model"][6:], "bits": model["bits"],
                             "n": found["hidden_size"], "spectral": w["spectral"],
                             "sigma_min": w["sigma_min"], "sigma_max": w["sigma_max"],
                             "spectral_radius": w.get("spectral_radius")})
trained_rows = pd.DataFrame(rows)
for budget in budgets:
    shown = [by_budget[task][budget] for task in EXPERIMENTS if budget in by_budget[task]]
    seeds = ", ".join(str(s) for s in sorted({report.record_seed(r) for r in shown}))
    display(Markdown(f"**{report.budget_label(budget)}**, seed {seeds}: "
                     + ", ".join(f"`{report.record_label(r)}`" for r in shown) + "."))
if len(trained_rows):
    # a colour per task, a marker per series: each float ORNN's W quantized (one series per run, as
    # the table lists them), and the QAT models of one mechanism at their bit widths
    task_colors = {task: f"C{i}" for i, task in enumerate(EXPERIMENTS)}
    series_markers = {"float ornn-bjorck, quantized": "o", "float ornn-projunn, quantized": "s",
                      "QAT ste-bjorck": "^", "QAT ste-projunn": "v", "QAT lsq-bjorck": "D"}

    def series_of(row) -> str:
        return f"float {row['run']}, quantized" if row["kind"].startswith("float") else row["kind"]

    trained_rows["series"] = trained_rows.apply(series_of, axis=1)
    trained_rows["task key"] = trained_rows["task"].str.split(",").str[0]
    fig, axes = plt.subplots(len(budgets), 2, figsize=(14, 4.3 * len(budgets)), squeeze=False)
    for (left, right), budget in zip(axes, budgets, strict=True):
        part_budget = trained_rows[trained_rows["budget"] == report.budget_label(budget)]
        for (task, series), part in part_budget.groupby(["task key", "series"], sort=False):
            part = part.sort_values("bits")
            style = {"color": task_colors[task], "marker": series_markers.get(series, "x"),
                     "linestyle": "--" if series.startswith("float") else "-"}
            left.plot(part["bits"], part["spectral"], **style)
            right.plot(part["bits"], part["spectral_radius"] - 1, **style)
        left.set_ylabel(r"$\|q_k(W)^\top q_k(W) - I\|_2$")
        left.set_yscale("log")
        right.set_ylabel(r"$\rho(q_k(W)) - 1$")
        right.set_yscale("symlog", linthresh=1e-3)
        for ax in (left, right):
            ax.set_xlabel("weight bits k")
            ax.set_title(report.budget_label(budget), fontsize="small")
            ax.grid(True, alpha=0.3)
        # one legend per budget, for its two panels: the tasks (with n and T) and the series
        tasks = part_budget.drop_duplicates("task key")
        handles = ([Line2D([], [], color=task_colors[row["task key"]], linewidth=3,
                           label=f"{row['task']} (n = {row['n']:,})") for _, row in tasks.iterrows()]
                   + [Line2D([], [], color="0.3", marker=series_markers.get(series, "x"),
                             linestyle="--" if series.startswith("float") else "-", label=series)
                      for series in dict.fromkeys(part_budget["series"])])
        right.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1),
                     frameon=False)
    fig.tight_layout()
    plt.show()
    display(report.styled(trained_rows.drop(columns=["series", "task key"])))
else:
    display(Markdown("No record of this profile holds an analysis yet."))

# %% [markdown]
# ## Singular values of the trained QAT matrices
#
# Sorted singular values of $q_k(W)$ for the STE-Björck models of each task, at each budget where
# such models are recorded (the paper's first): at 8 bits they hug 1; with fewer bits they spread to
# both sides, as the Weyl bound allows.

# %% tags=["hide-input"]
for budget in budgets:
    panels = [(task, shown[budget]) for task, shown in by_budget.items()
              if budget in shown and any(d["config"]["model"].get("model") == "qornn-ste-bjorck"
                                         and "singular_values" in (d.get("analysis") or {})
                                         for d in shown[budget]["runs"].values())]
    if not panels:
        display(Markdown(f"**{report.budget_label(budget)}**: no STE-Björck model with recorded singular "
                         "values."))
        continue
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.8), sharey=True, squeeze=False)
    for ax, (task, record) in zip(axes[0], panels, strict=True):
        by_bits = sorted(record["runs"].values(), key=lambda d: d["config"]["model"].get("bits") or 0)
        for data in by_bits:
            model = data["config"]["model"]
            found = data.get("analysis") or {}
            if model.get("model") != "qornn-ste-bjorck" or "singular_values" not in found:
                continue
            ax.plot(found["singular_values"], label=f"{model['bits']} bits")
        ax.axhline(1, color="black", linewidth=0.8)
        ax.set_title(f"{report.task_label(task, record)} (STE-Björck), seed {report.record_seed(record)}",
                     fontsize="small")
        ax.set_xlabel("index")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel("singular value of $q_k(W)$")
    fig.suptitle(report.budget_label(budget), fontsize="medium")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## The authors' trained scales beside ours
#
# The authors' released notebook (`data/paper/released_scales.yaml`, with its source) types in the
# scales of the models they trained: $\alpha_W = \max|W|$ of the float $W$ that $q_k$ quantizes,
# and $\alpha_U = \max|U|$. They are that notebook's values, not the paper's, and the notebook does
# not say the hidden sizes. The table sets them beside the same scales of our runs of the same task,
# method and bits (seed 0, at the paper's budget where recorded and at this page's profile; $\alpha_U$
# read from the trained weights), and beside the mean $\alpha_W$ of a Haar-random $W \in O(n)$ at our
# $n$ (`analysis.start_alpha`, `samples` draws): a trained $W$ near that value has kept the spread of
# an untrained one, so the authors' $\alpha_W$ also hints at the size they trained. Where the authors'
# value is empty, the notebook names a run of their experiment tracker instead of a number.

# %% tags=["hide-input", "full-width"]
released_scales = report.load_released_scales()
haar = functools.cache(lambda n: analysis.start_alpha(n, "haar", samples=samples, seed=seed))  # per n
scales = report.released_scales_table(released_scales,
                                      profiles=list(dict.fromkeys([report.PAPER_PROFILE, profile])),
                                      haar=haar)
display(report.styled(scales, precision=3))
authors = {(e["task"], e["method"]): [] for e in released_scales["entries"]}
for e in released_scales["entries"]:
    if e["alpha_W"] is not None:
        authors[(e["task"], e["method"])].append(e["alpha_W"])
bjorck, projunn = authors[("copy", "STE-Björck")], authors[("copy", "STE-projUNN")]
display(Markdown(  # an output's Markdown renders no TeX: plain symbols
    f"On the copy task the authors' STE-Björck models have α_W from {min(bjorck):.3f} to "
    f"{max(bjorck):.3f}, where a Haar-random W has {haar(128):.3f} at "
    f"n = 128 (our `qornn-copy`) and {haar(256):.3f} at n = 256 (the "
    f"notebook's QRNN, our `qornn-copy-released`). Their STE-projUNN models have α_W of "
    f"{min(projunn):.4f} to {max(projunn):.4f}: an orthogonal W with an entry that close to 1 has that "
    "entry's row and column close to a signed unit vector, as a permutation has."))
henaff_alpha = analysis.start_alpha(128, "henaff", samples=samples, seed=seed)
display(Markdown(
    f"Henaff's start gives such a W: rotations of random angles on pairs of units "
    f"(`qornn.orthogonal.henaff_orthogonal`), whose mean α_W is {henaff_alpha:.4f} at n = 128 "
    f"({samples} draws, seed {seed}). projUNN's own copy-task script (facebookresearch/projUNN, "
    "`copy_task.py`) starts W there, and a rank-1 projUNN step moves W little, so the authors' "
    "STE-projUNN copy models most likely started there too. Ours start Haar-random, as the table's "
    "α_W shows; `qornn run qornn-copy --set init=henaff` trains them from Henaff's start instead, "
    "and the copy-task page sets the two starts side by side."))

# %% [markdown]
# ## Where the numbers come from
#
# The random matrices: drawn above with seed `seed`. The trained models: the records below, at each
# budget shown (commit and date of the training run; the analysis carries the commit it was measured
# with), then those the table of the authors' scales reads (seed 0, at the paper's budget and this
# page's profile).

# %% tags=["hide-input"]
for task, shown_budgets in by_budget.items():
    for record in shown_budgets.values():
        display(Markdown(f"- **{task}, {report.budget_title(record)}**: {report.record_label(record)}"))
scale_records = dict.fromkeys((ours["experiment"], budget) for entry in released_scales["entries"]
                              for ours in entry["ours"]
                              for budget in dict.fromkeys([report.PAPER_PROFILE, profile]))
shown = {(record["experiment"], record["profile"]) for shown_budgets in by_budget.values()
         for record in shown_budgets.values() if report.record_seed(record) == 0}  # listed above
for experiment, budget in scale_records:
    if (experiment, budget) in shown:
        continue
    found = results.load_record(experiment, budget, missing_ok=True)
    if found is not None:
        display(Markdown(f"- **authors' scales table, `{experiment}` ({report.budget_label(budget)})**: "
                         f"{report.record_label(found)}"))
