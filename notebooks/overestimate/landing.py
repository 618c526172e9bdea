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
# # A landing distance, over-estimated with a guarantee
#
# *Stands for the paper's real use case (an embedded estimate of a braking or landing distance, where
# under-estimation is critical). **The paper's data are not public.** A public stand-in: the Cessna
# 172 landing distance over a 50 ft obstacle, in feet, against temperature (0–40 °C) and pressure
# altitude (0–8000 ft), from the pilot's operating handbook table as typed into
# [ducoffeM/safety_braking_distance_estimation](https://github.com/ducoffeM/safety_braking_distance_estimation)
# (`cesna_simulation.py`, by one of the paper's authors; the Airbus decomon tutorial on certified
# over-estimation, which cites the paper, uses it), interpolated bilinearly between the table's nodes
# as that file does. Our numbers are not comparable with the paper's.*
#
# The table is increasing in both inputs (hotter or higher: longer landing), and a bilinear
# interpolation of such a table is non-decreasing too, so the method applies.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import report  # noqa: E402
from qornn.overestimate import report as over_report  # noqa: E402
from qornn.overestimate.functions import (  # noqa: E402
    CESSNA_ALTITUDES_FT,
    CESSNA_LANDING_TABLE,
    CESSNA_TEMPERATURES_C,
)
from qornn.wings import record_notes, recorded_or_run  # noqa: E402

# %% [markdown]
# ## The table

# %% tags=["hide-input", "full-width"]
display(pd.DataFrame(CESSNA_LANDING_TABLE.astype(int),
                     index=pd.Index(CESSNA_TEMPERATURES_C.astype(int), name="°C"),
                     columns=pd.Index(CESSNA_ALTITUDES_FT.astype(int), name="pressure altitude (ft)")))

# %% [markdown]
# ## Parameters
#
# `profile` (`smoke`, `cpu` or `paper`, where the experiment has it; default `cpu`), `seed` (default
# 0) and `retrain` (default `False`: render the committed record; `True` runs the experiment again and
# records it; see {doc}`/book/rerun`).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
seed = 0
retrain = False

# %% tags=["hide-input"]
EXPERIMENT = "overestimate-cessna"
record, ran = recorded_or_run(EXPERIMENT, profile, seed=seed, retrain=retrain)
display(Markdown(record_notes(record, ran)))

# %% [markdown]
# ## The cells and the certified surrogate
#
# The table is nearly bilinear, so the refinement is almost uniform: there is no steep region for
# the majoring points to concentrate in (the synthetic page shows that effect).

# %% tags=["hide-input"]
over_report.plot_2d(record)
plt.gcf().set_size_inches(13, 5)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Over-estimation, under-estimation (feet)

# %% tags=["hide-input", "full-width"]
display(report.styled(over_report.gap_table({EXPERIMENT: record})))

# %% [markdown]
# ## Majoring points against the tolerance (feet)

# %% tags=["hide-input"]
display(report.styled(over_report.tolerance_frame(record)))

# %% [markdown]
# ## Beside the paper

# %% tags=["hide-input", "full-width"]
paper_numbers = report.load_paper_numbers("overestimate")
display(report.styled(over_report.paper_beside_ours({EXPERIMENT: record}, paper_numbers, profile)))

# %% [markdown]
# ## What could not be checked
#
# The paper's real data (not public), its inputs, network, loss, tolerance and numbers.
