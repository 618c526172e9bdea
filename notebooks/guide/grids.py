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
# # Running the full grids
#
# Each chapter's pages render records made at the `cpu` profile, a budget that fits the project's
# 2-core machine. The papers' own grids are larger: the QORNN chapter alone is tasks × algorithms ×
# bit widths (3, 4, 5, 6, 8) × seeds, and at the `paper` profile a run takes from tens of minutes to
# hours. `qornn sweep` runs such a grid on the cores of a workstation, on a Ray cluster or on a SLURM
# cluster, and records every run the way `qornn run` does (it calls the same function,
# `run_experiment`, once per run).
#
# ```bash
# qornn sweep EXPERIMENT --profile P [--runs a,b] [--seeds 0,1,2] [--grid KEY=V1,V2 ...] \
#     [--set KEY=VALUE ...] [--executor local|ray|slurm] [--retries N] [--dry-run]
# ```
#
# - **The grid.** Each `--grid` axis is an override key (`hidden_size`, `train.lr`, `hadamrnn.bits`,
#   see `qornn list --models`) with its values; each point of the grid is a named variant with its own
#   record under `data/results/<experiment>/variants/<profile>/`, and no grid is the profile itself.
#   Every point is checked before anything starts: an unknown key or a value the setting does not
#   take stops the sweep with an error naming it.
# - **Seeds.** Seed 0 is recorded where `qornn run` always recorded it (the profile's or the variant's
#   record); seed *S* > 0 goes to a record of its own, `variants/<profile>/seed=S.json` (or
#   `<variant>,seed=S.json`). So every run keeps its own record, configuration hash (the seed is part
#   of it), checkpoint and provenance (commit, seed, device, host, wall time), and a page computes a
#   mean ± std over seeds with `qornn.sweep.seed_frame`. `qornn run --seed S` and
#   `qornn show --seed S` use the same records.
# - **What runs.** Runs already recorded with the current configuration are skipped, unless the code
#   changed since they were made (`qornn.results.code_changed_since`; `--keep-stale` keeps them).
#   Each trained run is one task; the post-training-quantization runs of a model go with it, since
#   they only quantize its weights. An interrupted run resumes from its checkpoint, so rerunning the
#   same command after a failure or a kill picks the grid up where it stopped.
# - **Failures.** A task that fails is tried again `--retries` times (default 1), then reported as
#   failed in the summary table and the exit status; nothing is dropped silently.
# - **Progress.** One bar for the whole sweep (tasks done, failed and left, mean time per task), a
#   line per finished task, and a summary table at the end. `--dry-run` lists the tasks and the
#   skipped runs without running anything.
# - **A log of each sweep.** Apart from the run records, every sweep that launched anything appends
#   to `data/sweeps/<experiment>/<profile>.json` how it ran: the executor and its options, the seeds
#   and grid points, one row per task (status, tries, wall time, host, error) and the commit that
#   launched it.
#
# From Python (a notebook, a script), the same:
#
# ```python
# from qornn.sweep import run_sweep, seed_frame
# report = run_sweep("qornn-pmnist", "cpu", seeds=[0, 1, 2], executor="local")
# print(report.table())
# frame = seed_frame("qornn-pmnist", "cpu", [0, 1, 2])
# frame.groupby("run")["accuracy"].agg(["mean", "std", "count"])
# ```

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import pandas as pd  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import sweep  # noqa: E402
from qornn.experiments import PAPERS  # noqa: E402

# %% tags=["parameters", "remove-cell"]
# No parameters: the page renders the committed records. `profile` only absorbs
# `scripts/run_notebooks.py --profile ...`, which passes it to every notebook.
profile = None

# %% [markdown]
# ## What each grid costs
#
# The table sums the wall times that our own records hold (every run of the profile's record, its
# variants' and its seeds'), read from `data/results/` when this page was built; CPU-hours are each
# run's wall time times the torch threads it recorded, GPU-hours the wall time of runs made on a CUDA
# device. *Runs per seed* is the size of the profile's grid for one seed (and one grid point): a sweep
# over *k* seeds costs *k* times the per-seed cost. The machine that made these records is a shared
# 2-core CPU with other jobs on it, so they are upper bounds for a quiet core of the same kind.

# %% tags=["hide-input"]
costs = sweep.grid_costs(("cpu", "paper"))
measured = costs[costs["runs recorded"] > 0]
shown = costs.copy()
for column in ("CPU-hours", "GPU-hours", "CPU-hours per run"):
    shown[column] = [("not measured" if pd.isna(value) else f"{value:.2f}") for value in shown[column]]
display(shown.set_index(["chapter", "experiment", "profile"]))

# %% tags=["hide-input"]
if measured.empty:
    display(Markdown("No record under `data/results/` yet: the table has nothing measured to show."))
else:
    totals = measured.groupby(["profile", "chapter"])["CPU-hours"].sum()
    profile_lines = "; ".join(
        f"at the `{budget}` profile, " + ", ".join(f"the {chapter} chapter {hours:.1f}"
                                                   for chapter, hours in totals[budget].items())
        for budget in ("cpu", "paper") if budget in totals.index.get_level_values("profile"))
    gpu = measured["GPU-hours"].sum()
    display(Markdown(
        f"CPU-hours of the recorded runs: {profile_lines}; "
        + (f"{gpu:.1f} GPU-hours." if gpu else "no GPU time is recorded apart"
           + (" (the runs named below count theirs on their last start's device)."
              if costs.attrs["on_last_device"] else "."))
        + " With *k* seeds and *c* cores kept busy by the local executor, a grid takes about *k* / *c* "
        "times the CPU-hours of one seed's runs in wall-clock time."))
if costs.attrs["on_last_device"]:
    display(Markdown("Counted on the device of their last start, although they ran on more than one (their "
                     "starts, made before commit d50f5945 on the evening of 2026-12-04, recorded no time of "
                     "their own, so their GPU and CPU time cannot be told apart): "
                     + "; ".join(costs.attrs["on_last_device"]) + "."))
if costs[costs["profile"] == "paper"]["runs recorded"].sum() == 0:
    display(Markdown(
        "No `paper`-profile run is recorded yet, so the table gives no cost for those grids: they are the "
        "papers' budgets (for instance 100 epochs of full MNIST at hidden size 512), to be run on a GPU or "
        "a cluster with the commands below. Their first records will fill these rows in."))

# %% [markdown]
# ## On a workstation: the `local` executor
#
# The default executor is a process pool with one process per core (`--jobs N` for fewer), each with
# one torch thread: with small recurrent networks, one run per core keeps the machine busier than one
# run with many threads. Records are written under a file lock, atomically, so the runs of one record
# finishing at the same time never overwrite one another. For each chapter, the whole `paper` grid
# over three seeds:

# %% tags=["hide-input"]
lines = []
for paper in PAPERS:
    chapter = paper.__name__.rsplit(".", 1)[-1]
    experiments = " ".join(name for name, spec in paper.EXPERIMENTS.items() if "paper" in spec["profiles"])
    lines += [f"# the {chapter} chapter",
              f"for e in {experiments}; do",
              "    qornn sweep $e --profile paper --seeds 0,1,2 --retries 2",
              "done", ""]
display(Markdown("```bash\n" + "\n".join(lines).rstrip() + "\n```"))

# %% [markdown]
# Add `--grid` for a study beyond the profile, e.g. the HadamRNN copy task at two widths,
# `qornn sweep copy --profile cpu --runs hadamrnn --grid hidden_size=64,256 --seeds 0,1,2`, and
# `--dry-run` first to see what will run. On a GPU workstation, `--device cuda --jobs 1` (or as many
# runs as fit the GPU's memory).
#
# ## On a Ray cluster: `--executor ray`
#
# Install the extra on every node (`pip install -e ".[cluster]"`, the same commit of this repository,
# and `qornn fetch` for the data files), start the cluster (`ray start --head` on one node,
# `ray start --address HEAD:6379` on the others), then from the head node:
#
# ```bash
# qornn sweep qornn-pmnist --profile paper --seeds 0,1,2 --executor ray --address auto \
#     --threads 1 --gpus-per-run 0.25
# ```
#
# Each run is a Ray task asking for `--threads` CPUs and `--gpus-per-run` GPUs (a fraction lets
# several small runs share a GPU); Ray places them. Without `--address`, a Ray instance is started on
# this machine with all its cores. A task returns its runs' records, which the sweep writes into this
# checkout's `data/results/`, so runs made on other nodes land here with their host in the provenance.
# A run retried on another node starts from its beginning unless `QORNN_RUNS_DIR` (the checkpoints)
# is on a shared file system.
#
# ## On SLURM: `--executor slurm`
#
# The SLURM executor submits the tasks through submitit as one job array (retries as single jobs):
#
# ```bash
# qornn sweep qornn-ptb --profile paper --seeds 0,1,2 --executor slurm \
#     --partition gpu --time 240 --gpus 1 --array-parallelism 16
# ```
#
# or with the settings in a YAML file (`--slurm-config slurm.yaml`, read with `yaml.safe_load`; an
# unknown key is an error):
#
# ```yaml
# partition: gpu
# time: 240              # minutes per job
# gpus: 1
# cpus: 4
# mem_gb: 16
# array_parallelism: 16
# additional: {account: my-project}   # any other sbatch option
# ```
#
# A job that hits its time limit fails, and its retry resumes the run from its last checkpoint
# (`checkpoint_every` steps and every epoch), so `--retries` also lets runs longer than the
# partition's limit finish. submitit keeps its logs under `runs/submitit/` (`--folder`).
#
# ## How this is tested
#
# `tests/test_sweep.py` runs one smoke grid of four runs (two hidden sizes × two seeds) on the local
# process pool, on a real Ray instance (`ray.init` with 2 CPUs) and through submitit's local executor
# (the SLURM path without SLURM), and checks that they give the same records, bit for bit in every
# metric and training curve. It kills a run in the middle of its first epoch, checks that the sweep
# reports it, and that rerunning the sweep resumes it and ends with the same records as the
# uninterrupted sweep; it checks that a bad grid is refused before anything starts, and that many
# processes writing runs of one record at once lose none. CI installs the `cluster` extra and runs
# them all.

