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
# # Critical points, classified twice
#
# *Paper: Achour, Malgouyres, Gerchinovitz, JMLR 2024 ([arXiv 2107.13289](https://arxiv.org/abs/2107.13289)),
# Proposition 1, Proposition 10, equation (25) and Theorem 7.*
#
# For small problems we build **every** kind of first-order critical point the paper describes:
# for each index set $S$ with $|S| \le r_{\max}$, the point of Proposition 10 with $Z_H = 0$, $Z_1 = 0$
# and the middle blocks $Z_h$ all zero or all "identity" (ones on the diagonal), once with $D_h = I$
# (equation (25)) and once conjugated by random invertible $D_h$. Each point is classified twice:
#
# - by **Theorem 7**: the index set $S$ read from the product, and the ranks of the complementary
#   blocks of every pivot (is the point tightened?);
# - by the **Hessian** of $L$ with respect to all the entries of $W_1, \dots, W_H$ (`torch.func.hessian`,
#   float64): an eigenvalue below $-10^{-7}\max|\text{eig}|$ makes a strict saddle; otherwise the point
#   is second-order critical, a global minimiser when $L$ equals its minimum and a non-strict
#   saddle when not.
#
# The data are drawn when the page is built (Gaussian $X$, $Y$, seed `seed`; seconds, not a
# recorded run). `tests/test_theory.py` asserts that the two verdicts agree on every point.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from qornn.theory import landscape

# %% [markdown]
# ## Parameters
#
# `profile`: `smoke` checks one architecture, `cpu` and `paper` three (the same: this page trains
# nothing); `seed` draws the data.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0

# %% tags=["hide-input"]
ARCHITECTURES = {"smoke": [[4, 4, 4, 3]],
                 "cpu": [[4, 4, 4, 3], [4, 3, 3], [4, 5, 2, 4, 3]]}
if profile not in ("smoke", "cpu", "paper"):
    raise ValueError(f"unknown profile {profile!r}; valid: smoke, cpu, paper")
architectures = ARCHITECTURES["smoke" if profile == "smoke" else "cpu"]
gen = torch.Generator().manual_seed(seed)
X = torch.randn(4, 8, generator=gen, dtype=torch.float64)
Y = torch.randn(3, 8, generator=gen, dtype=torch.float64)
problem = landscape.linear_problem(X, Y)
display(Markdown(
    f"Data: $d_x = 4$, $d_y = 3$, $m = 8$ (seed {seed}); eigenvalues of $\\Sigma$: "
    + ", ".join(f"$\\lambda_{i + 1} = {v:.3f}$" for i, v in enumerate(problem.lam.tolist()))
    + f"; $\\operatorname{{tr}}\\Sigma_{{YY}} = {float(torch.trace(problem.Syy)):.3f}$."))
rows = []
for widths in architectures:
    for c in landscape.enumerate_critical_points(problem, widths, seed=seed):
        rows.append({"widths d_0..d_H": "-".join(map(str, widths)), "S": "{" + ",".join(map(str, c.S)) + "}",
                     "Z_h": c.middle, "D_h": "random" if c.conjugated else "I",
                     "L(W)": c.loss, "tr Σ_YY − Σ_S λ": c.critical_value, "‖∇L‖": c.gradient_norm,
                     "tightened": c.tightened, "Theorem 7": c.by_ranks, "Hessian": c.by_hessian,
                     "min Hessian eig": c.min_hessian_eigenvalue, "agree": c.agree})
table = pd.DataFrame(rows)
summary = (table.groupby(["widths d_0..d_H", "Theorem 7", "Hessian"]).size().rename("points").reset_index())
display(Markdown(f"**{int(table['agree'].sum())} of {len(table)} critical points** get the same verdict from "
                 "Theorem 7 and from the Hessian; largest gradient norm "
                 f"{table['‖∇L‖'].max():.1e}, largest |L(W) − critical value| "
                 f"{(table['L(W)'] - table['tr Σ_YY − Σ_S λ']).abs().max():.1e}."))
display(summary.style.hide(axis="index"))

# %% [markdown]
# ## The smallest Hessian eigenvalue of every point
#
# Each dot is a critical point, placed by its smallest Hessian eigenvalue (symmetric log scale) and
# coloured by Theorem 7's verdict. Strict saddles sit well below zero; non-strict saddles and
# global minimisers at zero, to rounding error.

# %% tags=["hide-input"]
colors = {"global minimiser": "tab:green", "strict saddle": "tab:red", "non-strict saddle": "tab:blue"}
fig, ax = plt.subplots(figsize=(9, 3.6))
for i, (_arch, part) in enumerate(table.groupby("widths d_0..d_H", sort=False)):
    for kind, sub in part.groupby("Theorem 7"):
        jitter = (torch.rand(len(sub), generator=gen) * 0.5 - 0.25).numpy()
        ax.scatter(sub["min Hessian eig"], i + jitter, color=colors[kind], s=18,
                   label=kind if i == 0 else None)
ax.set_xscale("symlog", linthresh=1e-10)
ax.set_yticks(range(table["widths d_0..d_H"].nunique()), table["widths d_0..d_H"].unique())
ax.axvline(0, color="black", linewidth=0.8)
ax.set_xlabel("smallest eigenvalue of the Hessian of L")
ax.set_ylabel("widths")
ax.grid(True, alpha=0.3)
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Same product, different kind
#
# With widths 4-4-4-3 and $S = \{1\}$, the points with $Z_2 = 0$ and with $Z_2 = $ "identity" have the
# same product $W_3W_2W_1$ and the same loss. The first is tightened (the pivot $(3, 1)$ has the
# complementary block $W_2$ of rank $r = 1$), the second is not ($W_2$ has rank 4 and $\Sigma_{XY}$
# rank 3). Their Hessian spectra (filled blue dots: $Z_2 = 0$; red rings: $Z_2 = $ "identity"; a dot
# inside a ring is an eigenvalue the two share):

# %% tags=["hide-input"]
widths = [4, 4, 4, 3]
tight = landscape.critical_point(problem, widths, (1,), middle="zero")
loose = landscape.critical_point(problem, widths, (1,), middle="identity")
same = torch.allclose(landscape.product(tight), landscape.product(loose), atol=1e-12)
fig, ax = plt.subplots(figsize=(9, 3.4))
# where the two spectra coincide, the tightened point's filled dot shows inside the other's ring
for W, name, color, style in ((tight, "Z = 0 (tightened)", "tab:blue", {"ms": 3, "zorder": 3}),
                              (loose, "Z = I (not tightened)", "tab:red", {"ms": 7, "mfc": "none"})):
    eig = landscape.hessian_eigenvalues(W, problem)
    ax.plot(range(len(eig)), eig.numpy(), "o", color=color, **style,
            label=f"{name}: Theorem 7 says {landscape.classify_by_ranks(W, problem)}, "
                  f"min eig {float(eig[0]):.2g}")
ax.set_yscale("symlog", linthresh=1e-3)
ax.axhline(0, color="black", linewidth=0.8)
ax.set_xlabel("eigenvalue index")
ax.set_ylabel("Hessian eigenvalue")
ax.legend(fontsize="small")
ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()
display(Markdown(f"Same product $W_3W_2W_1$: **{same}**; same loss: "
                 f"{float(landscape.loss(tight, X, Y)):.6f} and {float(landscape.loss(loose, X, Y)):.6f}."))

# %% [markdown]
# ## Every point
#
# The full table (one row per critical point).

# %% tags=["hide-input", "full-width"]
display(table.style.hide(axis="index").format(precision=3)
        .format("{:.1e}", subset=["‖∇L‖", "min Hessian eig"]))
