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
# # Performance against bit width, every task
#
# *Paper version: QORNN v2 ([arXiv 2402.04012](https://arxiv.org/abs/2402.04012)); the paper's own
# figures or tables of this kind could not be read here, so no paper point is overlaid.*
#
# One panel per task of this chapter, from the runs of its pages
# ({doc}`/book/qornn/copy_task`, {doc}`/book/qornn/mnist`,
# {doc}`/book/qornn/ptb`): the QAT models (solid; squares: learned range) and the PTQ of
# the float ORNN (dashed) at each weight width $k$ of $W$ and $U$, the float ORNN (dotted) and the
# float baselines (dash-dotted) as reference lines, and the QORNN's size in bits on the top axis.
# The table below gives, for each task and width, the gap to the float ORNN of the same mechanism.

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
# `profile` chooses the records (default `cpu`); see {doc}`/book/rerun`.
# This page has no `retrain`: it draws on the records of the pages that train them (rerun
# those to refresh a record); a record that is missing altogether stops the page with the command
# that records it.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
device = "cpu"

# %% tags=["hide-input"]
# task -> (experiment, metric, axis label, log scale, lower is better)
TASKS = {"copy": ("qornn-copy", "loss", "test cross-entropy per step", True, True),
         "pMNIST": ("qornn-pmnist", "accuracy", "test accuracy", False, False),
         "sMNIST": ("qornn-smnist", "accuracy", "test accuracy", False, False),
         "PTB (characters)": ("qornn-ptb", "bpc", "test bits per character", False, True)}
records = {task: recorded_or_trained(spec[0], profile, seed=seed, device=device, retrain=False)[0]
           for task, spec in TASKS.items()}

fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
for ax, (task, record) in zip(axes.flat, records.items(), strict=True):
    _, metric, label, logy, _ = TASKS[task]
    report.plot_metric_vs_bits(record, metric, ax=ax, logy=logy)
    ax.set_ylabel(label)
    ax.set_title(f"{task}, profile {record['profile']}")
    ax.legend(fontsize="x-small")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Gap to the float model
#
# For each task and weight width: the QAT and PTQ metric of each mechanism, the float ORNN of the same
# mechanism, and the QAT gap to it (positive = worse than float, whichever way the metric goes).

# %% tags=["hide-input", "full-width"]
rows = []
for task, record in records.items():
    _, metric, _, _, lower_is_better = TASKS[task]
    frame = report.bit_width_frame(record)
    for mechanism, part in frame[frame["kind"] != "baseline"].groupby("mechanism"):
        floats = part.loc[part["kind"] == "float", metric]
        float_value = floats.iloc[0] if len(floats) else None
        for bits in sorted(part["bits"].dropna().unique()):
            at = part[part["bits"] == bits].set_index("kind")
            qat = at.loc["QAT", metric] if "QAT" in at.index else None
            ptq = at.loc["PTQ", metric] if "PTQ" in at.index else None
            gap = None
            if qat is not None and float_value is not None:
                gap = (qat - float_value) if lower_is_better else (float_value - qat)
            size = at["size_bits"].iloc[0]
            rows.append({"task": task, "mechanism": mechanism, "bits": int(bits), "metric": metric,
                         "float": float_value, "QAT": qat, "PTQ": ptq, "QAT gap to float": gap,
                         "size (bits)": int(size)})
display(report.styled(pd.DataFrame(rows)))

# %% [markdown]
# ## Where the numbers come from

# %% tags=["hide-input"]
for task, record in records.items():
    display(Markdown(f"- **{task}**: {report.record_label(record)}, profile `{record['profile']}`"))
