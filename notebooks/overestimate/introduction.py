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
# # Majoring points: learning to over-estimate, with a guarantee
#
# Gauffriau, Malgouyres and Ducoffe, *Overestimation learning with guarantees*, AAAI-21 Workshop on
# Artificial Intelligence Safety (SafeAI 2021), [arXiv 2101.11717](https://arxiv.org/abs/2101.11717).
# No code of the authors was found. **Only the paper's abstract could be read here**: this chapter
# implements the method as the abstract describes it, with choices of our own (network, loss,
# tolerances) that each page states, and says which of the paper's figures each page stands for. The
# code is `qornn/overestimate/` (it imports nothing from the RNN code).
#
# ## The problem
#
# A reference function $f$ on a box $D \subset \mathbb R^d$ (a braking or landing distance, say) is
# too costly to evaluate on board, so a small network $g$ stands in for it. Under-estimating a
# distance is dangerous, over-estimating it only costly: we want $g(x) \ge f(x)$ for **every**
# $x \in D$, proven, not just observed on test points.
#
# ## The method
#
# **Assume $f$ non-decreasing in each coordinate** (flip a decreasing coordinate). For a cell
# $C = [l, u] \subseteq D$ and $x \in C$, $l \le x \le u$ gives $f(x) \le f(u)$. The *majoring point*
# of $C$ is $(l, f(u))$. Cells come from a dyadic refinement: split a cell into its $2^d$ halves while
# $f(u) - f(l) > \varepsilon$ and the cell is above a maximal depth, so cells are small where $f$ varies
# and large where it is flat (the synthetic page's table *Majoring points against the tolerance* gives
# each record's ε and depth, and how many cells the depth cap stopped before ε).
#
# ```{literalinclude} /qornn/overestimate/majoring.py
# :language: python
# :pyobject: majoring_points
# ```
#
# **Train** a network $g$ that is itself non-decreasing in each input (ours: non-negative weights,
# $\tanh$ activations) on the majoring points with a loss that punishes under-estimation
# $w = 20$ times more than over-estimation, then **certify**: add the shift
# $s = \max_C \big(f(u_C) - g(l_C)\big)_+$. Then for $x \in C$,
#
# $$
# g(x) + s \;\ge\; g(l_C) + s \;\ge\; f(u_C) \;\ge\; f(x),
# $$
#
# (first inequality: $g$ non-decreasing; second: the shift; third: $f$ non-decreasing), and the cells
# cover $D$, so $g + s \ge f$ on all of $D$. The test `tests/test_overestimate.py` checks it on a dense
# grid and on random points for each function, with a deliberately poorly trained network.
#
# **Baselines** (ours): the same network trained by plain regression (mean squared error) on
# as many random points, which under-estimates about half of the time, and that network shifted by
# its largest observed under-estimation on its training points, which over-estimates those points but
# carries no guarantee elsewhere.
#
# ## The pages
#
# | page | stands for (paper figure or table, number not read) | data |
# |---|---|---|
# | {doc}`synthetic` | the synthetic 1-D and 2-D experiments | our monotone functions with one steep ramp |
# | {doc}`landing` | the real use case | **stand-in**: Cessna 172 table (paper data not public) |
#
# Each page renders the committed record of its experiment; to rerun one (or a page with
# `retrain=True`): `python -m qornn.wings run overestimate-cessna --profile cpu --retrain`
# (definitions in `qornn/experiments/_overestimate.py`; `python -m qornn.wings list`).

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.overestimate import report as over_report  # noqa: E402
from qornn.wings import record_notes, recorded_or_run  # noqa: E402

# %% [markdown]
# ## Parameters
#
# `profile` (`smoke`, `cpu` or `paper`, where the experiment has it; default `cpu`) and `seed`
# (default 0): which committed records this page reads (see {doc}`/book/rerun`). The page never
# trains.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0

# %% [markdown]
# ## Every experiment in one table
#
# Gap $g - f$ on each experiment's dense test grid: its mean (signed: where a run under-estimates,
# under- and over-estimates cancel in it), the mean of $|g - f|$, the largest over-estimation, the
# smallest gap (negative = under-estimation somewhere), and the share of grid and random test points
# under-estimated, which must be 0 for the certified method.

# %% tags=["hide-input", "full-width"]
records = {}
for name in ("overestimate-ramp-1d", "overestimate-ramp-2d", "overestimate-cessna"):
    records[name], ran = recorded_or_run(name, profile, seed=seed)
    display(Markdown(f"**{name}**: " + record_notes(records[name], ran)))
display(report.styled(over_report.gap_table(records)))

# %% [markdown]
# ## What could not be checked
#
# The paper's network architecture, asymmetric loss, tolerances, synthetic functions, its real data
# (not public) and every number of its experiments (`data/paper/overestimate.yaml`). Whether its
# guarantee uses a monotone network, as ours does, or another argument to extend the majoring points
# to the box, could not be read either.
