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
# # Same seed, same numbers: on which machine
#
# A run of qornn is deterministic on a CPU: the same code, configuration and seed give the same
# recorded numbers, bit for bit, every time, and a run stopped and resumed from its checkpoint ends
# as if it had never stopped (tests check both). That promise holds **on one kind of machine**.
# Floating-point addition is not associative, so a sum split over two threads, or computed four or
# sixteen numbers at a time by other vector instructions, rounds differently in its last bits:
#
# - torch chooses its CPU kernels by the instruction sets the CPU offers
#   (`torch.backends.cpu.get_cpu_capability()`: `AVX512`, `AVX2`, ...; the environment variable
#   `ATEN_CPU_CAPABILITY` can ask for a lower one), and splits its work over its threads (one per
#   core unless told otherwise: `qornn run --threads N` or `OMP_NUM_THREADS=N`; the paper-budget
#   records were trained at one, but for the PTB float ORNN (and its PTQ runs) and the QORNN model of
#   the authors' released copy notebook, which ran some starts at two, as their provenance says; and
#   `qornn checkpoints` continues a stopped run at its own count);
# - qornn's fused HadamRNN kernel is compiled for the CPU it runs on (`-march=native`).
#
# A last-bit difference is usually harmless. Not in a HadamRNN with learned signs: at the start of
# training its latent signs sit near zero and flip by the dozen each step, and a flip that happens on
# one machine and not on another sends the two runs apart within the first epoch. They then train
# to test accuracies that differ as two seeds do, not as two roundings do.
#
# So every run now records its CPU beside its commit (its model with family, model and stepping,
# its vector instruction sets, and the kernels torch chose), in each start of a resumed run too,
# and `qornn verify` checks whether a machine reproduces a record.

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

from IPython.display import Markdown, display  # noqa: E402

from qornn import report, reproduce, results  # noqa: E402

# %% tags=["parameters", "remove-cell"]
# No parameters: the page renders the committed records. `profile` only absorbs
# `scripts/run_notebooks.py --profile ...`, which passes it to every notebook.
profile = None

# %% [markdown]
# ## One record, four environments
#
# `scripts/environment_sensitivity.py` trains the first epoch of a recorded run again, in a process
# and a temporary folder of its own, under several environments, and compares every number of the
# epoch with the record (training loss, validation loss and accuracy, the sign diagnostics):
# first as the record was made (its number of torch threads, this CPU's own kernels), then with two
# threads, then with torch's AVX2 kernels and with its kernels without vector instructions (the
# fused kernel, built for this CPU, is the same in all four). The table gives each environment's
# first-epoch training loss; "every number the same" covers the epoch's other numbers too.

# %% tags=["hide-input"]
records = reproduce.load_reproducibility_records()
sensitivity = {name: record for name, record in records.items() if "environments" in record}
if not sensitivity:
    display(Markdown("No environment-sensitivity record under "
                     "`data/results/benchmarks/reproducibility/` yet: "
                     "`python scripts/environment_sensitivity.py smnist hadamrnn --profile paper` "
                     "makes one."))
for record in sensitivity.values():
    made = record["recorded"]
    display(Markdown(
        f"**{record['experiment']} / {record['profile']} / {record['run']}**, seed {record['seed']}: "
        f"the record was made at commit `{str(made.get('commit'))[:10]}` on {str(made.get('date'))[:10]}, "
        f"{results.device_label(made.get('device_name')) or 'device not recorded'}"
        + (f", {made['cpu']['model']}" if made.get("cpu") else " (its CPU model not recorded)")
        + f"; retrained on {str(record['provenance']['date'])[:10]} on "
        f"{record['provenance']['cpu']['model']}."))
    frame = reproduce.sensitivity_frame(record)
    display(report.styled(frame).format(
        "{:.10f}", subset=["training loss, retrained", "training loss, recorded"]))
    display(Markdown(reproduce.sensitivity_text(record)))

# %% [markdown]
# ## One record, trained again whole
#
# The first epoch is where two environments part. Whether a whole run is reproduced is the longer
# test: the run is trained again from its start (`qornn run ... --retrain`), and
# `scripts/retrain_comparison.py` compares every epoch and the test numbers with the record it
# replaced (read from git), and keeps the comparison.

# %% tags=["hide-input"]
retrains = {name: record for name, record in records.items() if "epochs_compared" in record}
if not retrains:
    display(Markdown("No retrain compared with its record yet."))
for record in retrains.values():
    display(Markdown(reproduce.retrain_text(record)))

# %% [markdown]
# ## The committed records on this machine
#
# `scripts/verify_records.py` runs `qornn verify` over several committed records at once: the first
# epoch of each, trained again here, compared with the record. The first epoch was trained by the
# record's first start, so a record reproduced here began on a machine that computes as this one
# does. One that is not, with code the staleness check finds unchanged since (the pages flag any
# other), began on a machine that computes otherwise: these records were made over several days, on
# machines lent one session at a time, and none recorded its CPU before 2026-12-07. Each is still a
# run of its experiment, trained and recorded as the page says; it is not one that this machine
# repeats bit for bit.

# %% tags=["hide-input"]
checked = {name: record for name, record in records.items() if name.startswith("records-")}
if not checked:
    display(Markdown("No committed record checked on this machine yet."))
for record in checked.values():
    prov = record["provenance"]
    display(Markdown(f"Checked on {prov['date'][:10]} on {prov['cpu']['model']}, torch kernels "
                     f"{prov['cpu'].get('torch_capability', 'not recorded')}, profile `{record['profile']}`, "
                     f"first {record['epochs']} epoch(s):"))
    frame = reproduce.records_frame(record)
    display(report.styled(frame))
    apart = frame[frame["reproduced here"] != "yes"]
    display(Markdown(
        f"{len(frame) - len(apart)} of {len(frame)} records reproduced here"
        + (f"; not reproduced: {', '.join(apart['run'])}, whose records were finished on "
           f"{', '.join(sorted(set(apart['record finished'])))}." if len(apart) else ".")))

# %% [markdown]
# The same seed on another machine is, for such a model, another run: a record that is not
# reproduced on your machine is not wrong, and your runs of it are other draws of the same
# experiment, which differ as seeds do.
#
# What it changed in the book: the sign-learning page ({doc}`/book/hadamrnn/signs`) compares each
# learned-sign run with the same run trained the released way (u unbounded,
# `--set hadamrnn.clamp_signs=false`), and reads the epoch from which the two differ as the epoch
# the clamp first acts. That reading needs both runs to be made on one kind of machine. An sMNIST
# run trained the released way in a session whose machine gave other first-epoch numbers for this
# very configuration differed from the clamped record from its first epoch, before any clamp could
# act; its record was withdrawn, both runs were trained again on one kind of CPU, and each line of
# the comparison now says on which CPUs its two runs trained.
#
# ## Does your machine reproduce a record?
#
# ```bash
# qornn verify smnist --profile paper --runs hadamrnn            # first epoch, about a minute
# qornn verify copy --profile paper --runs hadamrnn --epochs 2   # any recorded run, any number of epochs
# ```
#
# It trains the run's first epochs again in a temporary folder (nothing under `data/` changes), at
# the record's number of torch threads (`--threads` for another), prints the recorded and the
# retrained training loss of each epoch and whether every number is the same, and names both
# machines. From Python: `qornn.reproduce.verify(experiment, profile, run, epochs=1)`.
#
# ## Provenance

# %% tags=["hide-input"]
for name, record in {**sensitivity, **retrains, **checked}.items():
    prov = record["provenance"]
    display(Markdown(
        f"`data/results/benchmarks/reproducibility/{name}.json`: commit `{str(prov.get('commit'))[:10]}`"
        + (" (with uncommitted changes)" if prov.get("dirty") else "")
        + f", {prov['date'][:16].replace('T', ' ')} UTC"
        + (f", {prov['wall_time_s'] / 60:.1f} min on {prov['cpu']['model']} "
           f"({prov['cpu'].get('vector', 'vector instructions not recorded')})" if "cpu" in prov else "")
        + "."))
