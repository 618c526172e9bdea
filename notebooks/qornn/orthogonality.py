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

from qornn import analysis, report, results  # noqa: E402
from qornn.experiments import recorded_or_trained  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` chooses the records of the trained models (default `cpu`); `sizes` and `samples` the
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
# The same quantities on the recurrent matrices of the trained models of this chapter at this page's
# profile and seed (below; the paper-budget records are on each task's page), read from
# their records (`analysis`, measured when each run was recorded or by `qornn analyse`): for the
# float ORNNs, their $W$ quantized at each width as PTQ would; for the QAT models, the $q_k(W)$ they
# were trained with. QAT sees the quantized matrix in every forward pass, but nothing in its loss
# asks for orthogonality of $q_k(W)$ itself: only the latent $W$ is kept orthogonal.

# %% tags=["hide-input"]
EXPERIMENTS = {"copy": "qornn-copy", "pMNIST": "qornn-pmnist", "sMNIST": "qornn-smnist",
               "PTB": "qornn-ptb"}
records = {task: recorded_or_trained(name, profile, seed=seed, device=device, retrain=False)[0]
           for task, name in EXPERIMENTS.items()}
rows = []
for task, record in records.items():
    for run, data in sorted(record["runs"].items()):
        found = data.get("analysis") or {}
        model = data["config"]["model"]
        for bits, measures in (found.get("quantized_W") or {}).items():
            rows.append({"task": task, "run": run, "kind": "float W, quantized", "bits": int(bits),
                         "n": found["hidden_size"], **{k: measures[k] for k in
                                                      ("spectral", "sigma_min", "sigma_max",
                                                       "spectral_radius", "random_rounding_estimate")}})
        if "W" in found and model.get("model", "").startswith("qornn-"):
            w = found["W"]
            rows.append({"task": task, "run": run, "kind": "QAT " + model["model"][6:], "bits": model["bits"],
                         "n": found["hidden_size"], "spectral": w["spectral"], "sigma_min": w["sigma_min"],
                         "sigma_max": w["sigma_max"], "spectral_radius": w.get("spectral_radius")})
trained_rows = pd.DataFrame(rows)
display(Markdown(f"Profile `{profile}`, seed {seed}: " + ", ".join(f"`{report.record_label(r)}`"
                                                                  for r in records.values()) + "."))
if len(trained_rows):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    markers = {"copy": "o", "pMNIST": "s", "sMNIST": "^", "PTB": "D"}
    for (task, kind), part in trained_rows.groupby(["task", "kind"]):
        part = part.groupby("bits").mean(numeric_only=True).reset_index()
        style = "--" if kind.startswith("float") else "-"
        label = f"{task}: {kind} (n = {int(part['n'].iloc[0])})"
        axes[0].plot(part["bits"], part["spectral"], style, marker=markers[task], label=label)
        axes[1].plot(part["bits"], part["spectral_radius"] - 1, style, marker=markers[task], label=label)
    axes[0].set_ylabel(r"$\|q_k(W)^\top q_k(W) - I\|_2$")
    axes[1].set_ylabel(r"$\rho(q_k(W)) - 1$")
    axes[1].set_yscale("symlog", linthresh=1e-3)
    for ax in axes:
        ax.set_xlabel("weight bits k")
        ax.grid(True, alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize="x-small")
    fig.tight_layout()
    plt.show()
    display(report.styled(trained_rows))
else:
    display(Markdown("No record of this profile holds an analysis yet."))

# %% [markdown]
# ## Singular values of the trained QAT matrices
#
# Sorted singular values of $q_k(W)$ for the STE-Björck models of each task: at 8 bits they hug 1;
# with fewer bits they spread to both sides, as the Weyl bound allows.

# %% tags=["hide-input"]
panels = [(task, record) for task, record in records.items()
          if any("singular_values" in (d.get("analysis") or {}) for d in record["runs"].values())]
if panels:
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
        ax.set_title(f"{task} (STE-Björck)")
        ax.set_xlabel("index")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel("singular value of $q_k(W)$")
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
# The random matrices: drawn above with seed `seed`. The trained models: the records below
# (commit and date of the training run; the analysis carries the commit it was measured with), then
# those the table of the authors' scales reads (seed 0, at the paper's budget and this page's
# profile).

# %% tags=["hide-input"]
for task, record in records.items():
    display(Markdown(f"- **{task}**: {report.record_label(record)}"))
scale_records = dict.fromkeys((ours["experiment"], budget) for entry in released_scales["entries"]
                              for ours in entry["ours"]
                              for budget in dict.fromkeys([report.PAPER_PROFILE, profile]))
shown = {(record["experiment"], record["profile"]) for record in records.values()}  # listed above
for experiment, budget in scale_records:
    if (experiment, budget) in shown:
        continue
    found = results.load_record(experiment, budget, missing_ok=True)
    if found is not None:
        display(Markdown(f"- **authors' scales table, `{experiment}` ({report.budget_label(budget)})**: "
                         f"{report.record_label(found)}"))
