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
# # Permuted and sequential MNIST: QORNN at 3 to 8 bits
#
# *Paper version: QORNN v2 ([arXiv 2402.04012](https://arxiv.org/abs/2402.04012)), which compares
# STE-Björck (and STE-projUNN) with the float ORNN, LSTM and FastRNN; the bit widths 3, 4, 5, 6 and
# 8 are the grid of the authors' notebook. The first version's claim, "results similar to ...
# full-precision ORNN and LSTM ... even with 3-bits quantization", is the one the 3-bit runs test.*
#
# Each $28 \times 28$ digit is read one pixel per step ($T = 784$), in raster order (sMNIST) or in
# the fixed random order $\pi$ = `numpy.random.RandomState(92916).permutation(784)` (pMNIST; see
# {doc}`/book/hadamrnn/pmnist`), and the class is read from the last state. Models, for
# each task:
#
# - **float ORNN** with the Björck or the projUNN mechanism (see {doc}`/book/qornn/copy_task`);
# - **STE-Björck** and **STE-projUNN** at $k = 3, 4, 5, 6, 8$ bits ($W$ and $U$ at $k$ bits, $V$ in
#   float; the authors' notebook has STE-Björck at these widths and no STE-projUNN model on these
#   tasks, so every STE-projUNN width is ours);
# - **PTQ**: the trained float Björck ORNN with $W$ and $U$ quantized to $k$ bits after training;
# - the float **LSTM** and **FastRNN** baselines of v2, at the same hidden size (FastRNN:
#   $\tilde h_t = \tanh(W x_t + U h_{t-1} + b)$, $h_t = \alpha \tilde h_t + \beta h_{t-1}$ with
#   trainable scalars $\alpha, \beta$; see `qornn/models/baselines.py`);
# - beyond the paper, on pMNIST: **STE-Björck with a learned range** (LSQ) at 3 and 4 bits, what the
#   paper's reviewers asked for (its $\alpha = \max |W|$ is a fixed rule).
#
# Both tasks use the vanilla ORNN's recurrence $h_t = \operatorname{ReLU}(W h_{t-1} + U x_t + b)$,
# the model of the authors' QORNN code. The pMNIST models first used the linear recurrence
# $h_t = W h_{t-1} + U x_t + b$ of the copy page, and the QORNNs at 3 and 4 bits stayed at chance:
# the section "The recurrence on pMNIST" below shows why, with those runs beside the ReLU ones. On
# sMNIST, with the linear recurrence the float ORNN did not learn in the `cpu` profile's budget (a
# probe whose numbers were not recorded).

# %% tags=["hide-input"]
import math
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
# `retrain` (see {doc}`/book/rerun`). The values this page was made with, and what each profile
# changes from the paper:

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"
retrain = False
overrides = ""  # settings to change, e.g. '{"hidden_size": 32}' (see qornn/overrides.py)

# %% tags=["hide-input"]
EXPERIMENTS = {"pMNIST": "qornn-pmnist", "sMNIST": "qornn-smnist"}
configs = {task: get_config(name, profile, overrides) for task, name in EXPERIMENTS.items()}
for task, config in configs.items():
    display(Markdown(f"**{task}** (`{config.experiment}`)\n\n" + report.run_summary(
        config, profile=profile, seed=seed, device=device, retrain=retrain, overrides=overrides)))

# %% [markdown]
# ## Training, or the recorded training
#
# With `retrain = False` (the default, and how the book is built) this cell reads the committed
# records `data/results/qornn-pmnist/<profile>.json` and `data/results/qornn-smnist/<profile>.json`;
# otherwise, or with `retrain = True`, it trains every model (an interrupted run resumes from its
# checkpoint), quantizes the float model after training, and writes the records.

# %% tags=["hide-input"]
records = {}
for task, name in EXPERIMENTS.items():
    records[task], trained = recorded_or_trained(name, profile, seed=seed, device=device,
                                                 retrain=retrain, overrides=overrides)
    display(Markdown(f"**{task}**: " + report.record_status(records[task], configs[task], trained)))

# %% [markdown]
# ## Accuracy against bit width
#
# Test accuracy of every model: STE-Björck (solid), its learned-range variant (squares), PTQ of the
# float Björck ORNN (dashed), the float ORNNs (dotted), the float LSTM and FastRNN (dash-dotted),
# chance (dashed black) and the majority class (dotted black). The top axis gives the QORNN's size in
# bits at each width. Each panel draws every seed recorded at this page's profile: the curves join
# the means over the seeds, each seed is a dot beside them (learned-range seeds as squares), and the
# band around a float model's line (an ORNN's or a baseline's) spans its seeds.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 6.2))
for ax, (task, record) in zip(axes, records.items(), strict=True):
    seeds = report.budget_seed_records(EXPERIMENTS[task], record)[record["profile"]]
    report.plot_metric_vs_bits(record, "accuracy", ax=ax, baseline="auto", seeds=seeds)
    ax.set_title(f"{task}, profile {record['profile']}")
    report.legend_below(ax)  # inside, it covered the pMNIST curves
fig.tight_layout()
plt.show()

# %% [markdown]
# The same numbers as a table, one per task: each run's test numbers as the mean ± standard deviation
# over the seeds recorded at this page's profile (the column `seeds` says which; one seed: its
# number).

# %% tags=["hide-input", "full-width"]
for task, record in records.items():
    display(Markdown(f"**{task}**"))
    seeds = report.budget_seed_records(EXPERIMENTS[task], record)[record["profile"]]
    frame = report.bit_width_seed_frame(seeds)
    display(report.styled(frame.sort_values(["kind", "mechanism", "bits"], na_position="first")))

# %% [markdown]
# ## Why the fewest bits can fail: the quantized recurrence is not orthogonal
#
# For each model, the $W$ that the network uses: its distance to orthogonality
# $\lVert W^\top W - I \rVert_2$, its extreme singular values and its spectral radius
# $\rho(W) = \max_i |\lambda_i(W)|$, recorded with the run (`analysis` in the record). Over 784
# steps, a linear recurrence multiplies the state's component along the leading eigenvector by
# $\rho^{784}$: $\rho = 1.01$ gives a factor 2,500, $\rho = 1.03$ a factor $10^{10}$. The page
# {doc}`/book/qornn/orthogonality` studies these quantities against the bit width.

# %% tags=["hide-input", "full-width"]
for task, record in records.items():
    frame = report.analysis_frame(record)
    display(Markdown(f"**{task}**"))
    if len(frame):
        display(report.styled(frame.sort_values(["kind", "bits"], na_position="first")))
    else:
        display(Markdown("The record holds no analysis yet (made before analyses were recorded; "
                         f"`qornn analyse {record['experiment']} --profile {record['profile']}` adds it)."))

# %% [markdown]
# ## The recurrence on pMNIST: linear first, then ReLU
#
# An orthogonal $W$ has every eigenvalue on the unit circle. Its $k$-bit quantization $q_k(W)$, with
# the paper's range $\alpha = \max |W|$, does not: its spectral radius $\rho(q_k(W))$ is above 1,
# the more so the fewer the bits (the column $\rho(W)$ below, and the sentence under the table).
# With the linear recurrence nothing bounds the state, which grows like $\rho^{t}$ over the 784
# steps. The gradients grow alike, so that Adam's float32 running mean of squared gradients
# overflows to infinity and its updates become exactly zero: training stops. With the ReLU inside
# the recurrence, the same $q_k(W)$ can be trained.
#
# The table sets each run of the linear definition (the newest kept version in
# `data/results/qornn-pmnist/history/`, which a changed definition never overwrites) beside the same
# run in this page's record: test accuracy, test loss and $\rho(W)$ of the matrix the network used.
# It is shown for seed 0 of the profile that was run both ways.

# %% tags=["hide-input", "full-width"]
kept = (report.kept_record_with("qornn-pmnist", records["pMNIST"]["profile"], nonlinearity="linear")
        if seed == 0 and not overrides else None)
if kept is None:
    display(Markdown(f"No run of `qornn-pmnist`, profile `{records['pMNIST']['profile']}`, seed {seed}, "
                     "was made with the linear recurrence (the `cpu` profile's seed 0 was)."))
else:
    side_by_side = report.compare_records(
        {"linear (earlier)": kept, f"ReLU ({records['pMNIST']['profile']})": records["pMNIST"]}, "accuracy")
    display(report.styled(side_by_side))
    radius = side_by_side.groupby("bits")["linear (earlier): ρ(W)"].agg(["min", "max"])

    def _span(low: str, high: str) -> str:  # one value where the range rounds to one
        return low if low == high else f"{low} to {high}"

    def _growth(bits: float, low: float, high: float) -> str:
        radii = [f"{rho:.4f}" for rho in (low, high)]
        powers = [f"10<sup>{784 * math.log10(rho):.1f}</sup>" for rho in (low, high)]
        return f"at {bits:g} bits ρ(W) is {_span(*radii)}, so ρ<sup>784</sup> is {_span(*powers)}"

    display(Markdown("In the linear runs: " + "; ".join(
        _growth(bits, row["min"], row["max"]) for bits, row in radius.iterrows()) + "."))

# %% [markdown]
# ## sMNIST: a constant predictor, escaped or not by chance
#
# On sMNIST several runs end at exactly the same test accuracy and loss: the share of the most frequent
# digit, and the entropy of the digits' frequencies (just under $\ln 10$). They predict the class
# frequencies, the same for every image. This is not the quantizer: a probe of the trained 8-bit STE-Björck
# model (its numbers were not recorded) found $q_k(W)$ nearly orthogonal and every gradient the same as the
# float model's at the same parameters. It is a trap that every model starts in. In raster order a digit
# ends with rows of black pixels, tens to a couple of hundred steps. Over them the input is zero and the
# state follows $h \leftarrow \operatorname{ReLU}(W h + b)$, which the trained bias soon makes contract to
# one fixed point, whatever the image: the last state, and so the prediction, no longer depends on the
# digit, and the gradient that would reach $U$ through it vanishes. A run escapes only if its weights build
# a large enough state before the black rows, which at this budget depends on the seed: the figure "Spread
# over seeds" below shows which seeds escaped, for every bit width of STE-Björck. With one seed per width,
# as first recorded, the widths could not be compared at all; with three, the fewer the bits the fewer the
# seeds that escape, a trend that three seeds can suggest but not measure.

# %% [markdown]
# ## Beyond the paper: a learned range
#
# STE-Björck with the range $\alpha$ of $q_k(W)$ and of $q_k(U)$ trained by LSQ's gradient
# (Esser et al., ICLR 2020; see `qornn/quantize.py`), started at the paper's rule
# $\alpha = \max |W|$, against the paper's fixed rule, at 3 and 4 bits on pMNIST. A learned
# $\alpha$ below $\max |W|$ clips the largest entries and refines the grid of the others.

# %% tags=["hide-input"]
pmnist_seeds = report.budget_seed_records(EXPERIMENTS["pMNIST"], records["pMNIST"])
for bits in (3, 4):
    display(Markdown(f"**{bits} bits**, the learned range against the fixed rule, seed by seed:\n\n"
                     + report.paired_gain(pmnist_seeds, f"qornn-lsq-bjorck-{bits}bit",
                                          f"qornn-ste-bjorck-{bits}bit", record=records["pMNIST"])))

# %% [markdown]
# The ranges themselves, and both accuracies, for this page's seed:

# %% tags=["hide-input"]
runs = records["pMNIST"]["runs"]
MAX_W, ALPHA_W = "learned run: max|W| (the fixed rule's α_W for its W)", "learned run: α_W"
rows = []
for bits in (3, 4):
    fixed, learned = runs.get(f"qornn-ste-bjorck-{bits}bit"), runs.get(f"qornn-lsq-bjorck-{bits}bit")
    if fixed is None or learned is None:
        continue
    found = learned.get("analysis") or {}  # the learned-range run's own W, U and ranges
    rows.append({"bits": bits, "fixed α: accuracy": fixed["test"]["accuracy"],
                 "learned α: accuracy": learned["test"]["accuracy"], MAX_W: found.get("alpha_W"),
                 ALPHA_W: found.get("learned_alpha_W"), "learned run: α_U": found.get("learned_alpha_U")})
if rows:
    import pandas as pd

    display(report.styled(pd.DataFrame(rows)))
    clipping = [f"at {row['bits']} bits the learned α_W is "
                + ("below max|W|: it clips the largest entries" if row[ALPHA_W] < row[MAX_W]
                   else "above max|W|: it clips nothing, and its grid is coarser than the fixed rule's")
                for row in rows if row[ALPHA_W] is not None and row[MAX_W] is not None]
    if clipping:
        display(Markdown("In the learned-range runs of this seed, " + "; ".join(clipping) + "."))
else:
    display(Markdown("The pMNIST record does not hold both variants yet."))

# %% [markdown]
# ## Training curves
#
# Validation accuracy after each epoch of the trained models (PTQ models are not trained), with
# each run's test accuracy as a marker.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 7.5), sharey=True)
trained = {task: {**record, "runs": {run: data for run, data in record["runs"].items() if data["history"]}}
           for task, record in records.items()}  # the PTQ runs have no curve
every_run = report.runs_of(trained.values())  # a run keeps its colour in both panels
for ax, (task, record) in zip(axes, records.items(), strict=True):
    trained_runs = trained[task]
    with plt.rc_context({"axes.prop_cycle": plt.cycler(color=plt.cm.tab20.colors)}):  # up to 20 runs
        report.plot_metric_curves(trained_runs, "accuracy", ax=ax, references={"chance": 0.1},
                                  color_order=every_run)
    ax.set_title(f"{task}, profile {record['profile']}, seed {report.record_seed(record)}")
    report.legend_below(ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The paper beside ours
#
# Test accuracy of each run beside the paper's number, read from `data/paper/qornn.yaml` with its
# source (never from this notebook). "not available" means the number could not be read from a
# source reachable when that file was written; the file says why.
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
for task, record in records.items():
    config = configs[task]
    display(Markdown(f"**{task}**\n\n" + report.paper_budget_note(EXPERIMENTS[task], record)))
    table = report.budget_comparison(EXPERIMENTS[task], record, paper,
                                     paper_experiment=config.paper_experiment)
    report.show_comparison(table[table["metric"] == "accuracy"])
    setting = "the paper's setting" if profile == "paper" else "not the paper's setting"
    display(Markdown(f"This page's profile is **`{record['profile']}`**, {setting}: {config.note}."))

# %% [markdown]
# ## Spread over seeds
#
# Test accuracy of the float Björck ORNN and of STE-Björck at every width (3 and 4 bits are the
# paper's headline) at every recorded seed (dots), with the mean and one standard deviation over the
# seeds (bars), for each budget recorded; a run recorded at one seed has a dot and no bar.

# %% tags=["hide-input"]
HEADLINE = ("ornn-bjorck", *(f"qornn-ste-bjorck-{bits}bit" for bits in (3, 4, 5, 6, 8)))
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
for ax, (task, record) in zip(axes, records.items(), strict=True):
    report.plot_seed_spread(report.budget_seed_records(EXPERIMENTS[task], record), "accuracy", ax=ax,
                            runs=[run for run in HEADLINE if run in record["runs"]])
    ax.set_title(f"{task}: {ax.get_title()}", fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Provenance
#
# The commit, device, torch version, seed, wall time (training; for PTQ, the quantization alone, a
# fraction of a second) and date of each run, for each budget and seed shown above.

# %% tags=["hide-input", "full-width"]
for task, record in records.items():
    display(Markdown(f"**{task}**"))
    display(report.styled(report.budget_provenance_table(EXPERIMENTS[task], record)))
