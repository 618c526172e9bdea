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
# # Speed: training steps, re-orthogonalisation and packed inference
#
# This page shows what the benchmark scripts in `benchmarks/` measured on the project's machine. It
# times nothing itself: it reads the records `data/results/benchmarks/*.json`, each written by one
# script together with its provenance (the commit of the code, the machine, the torch threads, the
# date), and plots them. The last section says how to rerun each benchmark.
#
# **Read the ratios, not the absolute times.** The machine is a shared 2-core CPU; the scripts run
# the variants they compare in interleaved repetitions on the same inputs (A B C A B C ...) and give,
# for each comparison, the median over repetitions of the ratio measured side by side, which the load
# of other jobs affects far less than the absolute times (see `benchmarks/README.md`).

# %% tags=["hide-input"]
import os
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt  # noqa: E402
from IPython.display import Markdown, display  # noqa: E402

from qornn import benchmark_report as bench  # noqa: E402
from qornn import report  # noqa: E402

# %% tags=["parameters", "remove-cell"]
# No parameters: the page renders the committed benchmark records. `profile` only absorbs
# `scripts/run_notebooks.py --profile ...`, which passes it to every notebook.
profile = None

# %% tags=["hide-input"]
records = bench.load_benchmarks()
display(Markdown("**Targets.**\n\n" + bench.targets(records)))

# %% [markdown]
# ## HadamRNN: one training step, the fused kernel against the papers' code style
#
# `benchmarks/hadamrnn_step.py` times one training step (forward pass, cross-entropy, backward pass,
# Adam update), float32, at two shapes: the pMNIST shape (batch 100, $T = 784$ steps, input size 1,
# 10 classes, many-to-one) for each hidden size $n$, and the copy task at the paper's shape ($n = 128$,
# batch 128, $T = 1020$, 10 input tokens, a 9-way readout at every step). The variants, at the same $n$:
#
# - `qornn-fast`: qornn's HadamRNN on its fused C++ kernel (`qornn/csrc/hadamard_rnn.cpp`). One time loop
#   computes $a_t = U x_t + b$, the recurrence $h_t = W h_{t-1} + a_t$ with
#   $W = \operatorname{diag}(s) H_n / \sqrt{n}$ as one fast Walsh–Hadamard transform ($n \log_2 n$
#   additions, the batch in the SIMD lanes), for the copy task the readout $V\,\mathrm{ReLU}(h_t) + c$, and
#   backwards every gradient. The backward pass rebuilds the states from the last one
#   ($h_{t-1} = H(s \odot (h_t - a_t))/\sqrt{n}$, since $W$ is orthogonal), so no $(T, B, n)$ tensor
#   is ever built;
# - `qornn-previous`: the fast path before the fused kernel (its C++ source is built from git history):
#   the pre-activations and the readout in torch, a C++ loop over the recurrence alone, stored states;
# - `qornn-dense`: the same model with the kernel off, one dense product ($O(n^2)$) per step;
# - `reference`: HadamRNN written as the papers' code writes it (a parametrized dense $W$ and a
#   Python loop);
# - `nn.RNN`: PyTorch's float RNN of the same size.
#
# Both panels are at the first thread count timed, which their titles give. Left: time per step against
# $n$ at the pMNIST shape (log-log), with the exponent $\alpha$ of a least-squares fit of time
# $\propto n^\alpha$. Right: how many times faster the fused step is than each baseline, drawn in that
# baseline's colour on the left. The table has every shape and thread count, the peak memory of one
# step (measured in a fresh process: the peak resident set during the step minus the resident set
# before it), and the share of the CPU's addition rate (one thread's vector additions per second,
# measured by the kernel itself, times the threads) that the step's Walsh–Hadamard additions reach — a
# lower bound on the kernel's use of the machine, since the step does other work too.
#
# **Two threads.** The kernel splits the batch, not the time loop (which is sequential): a thread takes
# chunks of 16 sequences (one AVX-512 vector of float32 per state entry; 8 where the kernel is built for
# AVX2, see `kernel_vector_bytes` in the record) and runs every time step of one chunk before the next.
# The batch's last rows go in a half-width chunk when they fit: on this CPU a vector instruction costs
# about its width, so a half-width chunk costs about half a full one. A batch of 100 makes six full
# chunks and a half one, 13 half-chunks of work: one thread runs 13 (whole chunks only: 14), and the
# threads share consecutive chunks by cost, 6 and 7, so two threads can be at most 13/7 = 1.86× faster
# than one at the pMNIST shape (whole chunks split 4/3: 1.75×). At one thread the half-width tail gives
# the same numbers, bit for bit, as whole chunks (`scripts/kernel_equivalence.py`, recorded under
# `data/results/benchmarks/kernel_equivalence/`). To tell the kernel's limits from the machine's, the
# benchmark times a dense matrix product at one and two threads in the same interleaved loop: on two
# real cores that product runs about twice as fast,
# so a low ratio for it too means the machine's second core was not fully there.

# %% tags=["hide-input"]
if "hadamrnn_step" in records:
    step = records["hadamrnn_step"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    bench.plot_step_times(step, ax=axes[0])
    bench.plot_speedups(step, ax=axes[1])
    fig.tight_layout()
    plt.show()
    display(report.styled(bench.step_table(step), precision=3))

# %% [markdown]
# ## QORNN: the cost of a k-bit, approximately orthogonal $W$
#
# `benchmarks/qornn_step.py` times the same kind of training step (plus the model's
# `apply_constraints_()`, which projUNN needs) for the two QORNN training algorithms with a 4-bit $W$
# and $U$, each against the float ORNN trained with the **same orthogonality mechanism**, so that the
# ratio isolates what quantization costs:
#
# - **Björck**: $W = q_4(\mathrm{Bj\ddot{o}rck}(V/\sigma_{\max}(V)))$ rebuilt from the latent $V$ in
#   every forward pass (power iteration, then Björck iterations, differentiated by autograd);
# - **projUNN**: $W$ moved by Adam, then put back on $O(n)$ by a rank-1 projUNN-D step after each
#   optimiser step; the forward pass uses $q_4(W)$.
#
# The target is a QORNN step within 1.5× of the float ORNN with the same mechanism (left). The quantized
# $W$ is built once per forward pass, never inside the time loop (a test checks it), so quantization
# adds an $O(n^2)$ cost per step against the $O(T n^2)$ of the recurrence. The re-orthogonalisation was
# also timed alone, in the same interleaved loop, as a share of the step (right): for Björck, the
# power iteration and the Björck iterations forward and backward; for projUNN, an Adam-sized update of
# $W$ followed by the projUNN step. Björck stops early once its iterate stops moving, which it does
# after a few iterations while $V$ is near-orthogonal (as at initialisation); "all iterations" is
# the share with all 15 of them, the cost when the latent $V$ has drifted far from $O(n)$.

# %% tags=["hide-input"]
if "qornn_step" in records:
    qstep = records["qornn_step"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    bench.plot_qornn_ratios(qstep, axes=axes)
    fig.tight_layout()
    plt.show()
    display(report.styled(bench.qornn_table(qstep), precision=3))

# %% [markdown]
# ## Dense QORNN: a hand-written backward, and the floor set by the matrix products
#
# A dense model (the float ORNN, the QORNNs, at hidden 512 on pMNIST) spends its step in $3T$ matrix
# products of $B$ rows: $h_{t-1} W^\top$ forward, then $\delta_t W$ and $\sum_t \delta_t^\top h_{t-1}$
# backward, $2TBn^2$ flops each. `benchmarks/dense_recurrence.py` times a whole training step of
# STE-Björck with the recurrence's backward written by hand (`qornn.models.recurrent._DenseRecurrence`,
# how models train: the operations autograd would run, without its graph of $2T$ to $3T$ nodes) against
# autograd through the step-by-step loop, after checking that both give every parameter the same
# gradient bit for bit. In the same interleaved loop it times those $3 \cdot 2TBn^2$ flops as three
# large products, $(n \times TB)(TB \times n)$, at the best rate this core's BLAS reaches. Their share
# of the step bounds what a faster float32 kernel of the recurrence could gain here: this is why the
# dense paper budgets at hidden 512 (last section) cost most of a day per run on this CPU.

# %% tags=["hide-input"]
if "dense_recurrence" in records:
    display(report.styled(bench.dense_recurrence_table(records["dense_recurrence"]), precision=3))
    display(Markdown(bench.dense_bound_text(records["dense_recurrence"])))
else:
    display(Markdown("No `dense_recurrence` record yet: `" + bench.BENCHMARKS["dense_recurrence"]
                     + "` writes it."))

# %% [markdown]
# ## Dense models on tokens: fewer passes over the sequence
#
# At the copy task's shape a QORNN's step is limited by memory traffic as much as by its $T$ matrix
# products: every whole-sequence operation reads or writes a $T \times B \times n$ tensor (67 MB, 64 MiB, at
# $T = 1020$, $B = 128$, $n = 128$). Two of those passes are now gone, without changing a bit of the
# result. The preactivations $a_t = U x_t + b$ of a token $x_t$ are one lookup in the small table
# $U^\top + b$ ($d \times n$), where a lookup of $U^\top$ followed by $+\,b$ wrote the sequence twice
# (the same single addition per entry; the backward calls the kernels autograd called). And the
# recurrence writes each $h_t$ over the $a_t$ it was computed from, where it filled a new tensor,
# first copying $a_t$ into it for each product. `benchmarks/sequence_passes.py` checks that both ways
# give every parameter the same gradient bit for bit, then times a whole training step of STE-Björck
# both ways, interleaved, at the copy task's and character-level PTB's paper shapes (one thread):

# %% tags=["hide-input"]
if "sequence_passes" in records:
    display(report.styled(bench.sequence_passes_table(records["sequence_passes"]), precision=3))
else:
    display(Markdown("No `sequence_passes` record yet: `" + bench.BENCHMARKS["sequence_passes"]
                     + "` writes it."))

# %% [markdown]
# ## The copy task's loss: classes on the second dimension
#
# The copy task scores a 9-way prediction at each of $B \times T$ positions. `benchmarks/sequence_loss.py`
# times the cross-entropy's forward and backward two ways, interleaved: on the flat $(BT, C)$ logits,
# and with the classes on dimension 1 of a $(B, C, T)$ view (`qornn.tasks.base.sequence_cross_entropy`),
# where ATen's log-softmax over a short last dimension no longer runs row by row. Above 1, the view is
# faster; only the copy task uses it, since character and word PTB, with 50 and 10,000 classes, are
# faster flat.

# %% tags=["hide-input"]
if "sequence_loss" in records:
    display(report.styled(bench.sequence_loss_table(records["sequence_loss"]), precision=4))
else:
    display(Markdown("No `sequence_loss` record yet: `" + bench.BENCHMARKS["sequence_loss"] + "` writes it."))

# %% [markdown]
# ## HadamRNN with a tanh recurrence: a vector tanh
#
# The fused kernel runs a chunk of batch rows in the lanes of SIMD vectors, but its tanh called the C
# library's `std::tanh` on one number at a time, which took about three quarters of a tanh
# recurrence's step. The kernel now computes the float tanh of a whole vector at once: tanh is odd,
# and for $z = -2|x|$, $\tanh|x| = -\operatorname{expm1}(z) / (2 + \operatorname{expm1}(z))$, with
# $\operatorname{expm1}$ by range reduction ($z = k \ln 2 + r$) and its Taylor series in $r$
# (`tanh_lanes` in `qornn/csrc/hadamard_rnn.cpp`). Its numbers differ from the library's in the last
# bits, so `benchmarks/tanh_recurrence.py` measures how far each float tanh is from the exact one
# (float64 tanh rounded to float32, 2.4 million inputs), then times HadamRNN's training step with a
# tanh recurrence (the Figure 1 ablation's `hadamrnn-p4-tanh` shape) on both kernels, interleaved, the
# library's built from its source at the commit before:

# %% tags=["hide-input"]
if "tanh_recurrence" in records:
    steps, accuracy = bench.tanh_recurrence_tables(records["tanh_recurrence"])
    display(report.styled(steps, precision=3))
    display(report.styled(accuracy, precision=2))
else:
    display(Markdown("No `tanh_recurrence` record yet: `" + bench.BENCHMARKS["tanh_recurrence"]
                     + "` writes it."))

# %% [markdown]
# ## Packed models: storage and inference
#
# `benchmarks/inference.py` saves pMNIST-shaped models (input 1, 10 classes) with `qornn.export`
# and loads them back: HadamRNN (binary $W$: $n$ sign bits), Block-HadamRNN (sparse ternary $W$:
# also $n$ sign bits) and a 4-bit STE-Björck QORNN ($4n^2$ bits for $W$), all with 4-bit $U$. For each
# it reports the size of the packed file against a float32 file of the weights the float-simulated
# model computes with ($W$ as a dense $n \times n$ matrix, $U$, $b$, $V$, $c$), for the files and for
# the payloads alone (bits of codes and floats, no file format), and the size of the training
# `state_dict` as it is (HadamRNN's holds its $n$ latent floats $u$ rather than $W$; the QORNN's its
# latent $V$ and power-iteration vector); whether the rebuilt model's outputs
# equal the original's bit for bit; and the forward throughput in sequences per second (batch 100,
# $T = 784$, inference mode) of the float-simulated model with a dense float $W$ product per step
# (the QORNN as trained: power iteration, Björck and $q_4$ in every forward pass) against the rebuilt
# model on its fastest path (HadamRNN: the C++ Walsh–Hadamard recurrence; QORNN: the stored
# $q_4(W)$). The target is a packed HadamRNN at least 20× smaller than its float32 form. The rebuilt
# model holds its weights decoded to float32 in memory: packing saves storage and transfer, not RAM
# at run time.

# %% tags=["hide-input", "full-width"]
if "inference" in records:
    display(report.styled(bench.inference_table(records["inference"]), precision=2))

# %% [markdown]
# ## The gated baselines: fused recurrences against the Python loop
#
# The LSTM, GRU and FastGRNN baselines are defined, like every baseline in `qornn.models.baselines`,
# by a Python loop over time (so that k-bit and low-rank matrices work for every cell). On float
# input the LSTM and GRU run `torch.lstm` / `torch.gru` on the same effective matrices instead;
# FastGRNN runs its own recurrence whose backward pass is written out by hand: since
# $\partial h_t/\partial p_t$ does not depend on the incoming gradient, the forward pass stores it,
# and backpropagation through time is one product with $U^\top$ and a few elementwise operations per
# step. The tests check that each fused path agrees with the loop in float64, states and the gradient
# of every parameter. `benchmarks/gated_step.py` times one training step both ways (batch 100,
# $T = 784$, many-to-one). For the LSTM and GRU the CPU gain is small, since ATen's loop does the
# same products step by step (the reason for them is a GPU, where they are cuDNN's recurrence; no GPU
# timing is recorded here).

# %% tags=["hide-input"]
if "gated_step" in records:
    display(report.styled(bench.gated_table(records["gated_step"]), precision=3))
else:
    display(Markdown("No `gated_step` record yet: `" + bench.BENCHMARKS["gated_step"] + "` writes it."))

# %% [markdown]
# ## Subnormal floats: why training flushes them to zero
#
# x86 CPUs compute on *subnormal* floats (below $1.18 \cdot 10^{-38}$ in float32) through a slow
# microcode path, and recurrent networks make them in two ways. Backward: a gradient that vanishes
# over $T = 784$ steps passes through the subnormal range on its way to zero, as in an LSTM at
# initialisation. Forward: a saturated gate, $z = \sigma(p + b_z)$ with $p + b_z \approx -88$, is
# about $6 \cdot 10^{-39}$. So `qornn.train` runs training and evaluation under
# `flush_denormals()`: values that small are far below float32's resolution next to anything they
# are added to. `benchmarks/subnormals.py` times a training step with subnormals kept and flushed for
# three cases: the LSTM at initialisation, FastGRNN at initialisation (whose gradients do not vanish
# as fast: its update gate carries them), and FastGRNN with its update gate pushed into the subnormal
# range ($b_z = -88$). The share of subnormal values among the input gradients $\partial L/\partial
# x_t$ shows how far the vanishing gradient got.

# %% tags=["hide-input", "full-width"]
if "subnormals" in records:
    display(report.styled(bench.subnormals_table(records["subnormals"]), precision=3))
else:
    display(Markdown("No `subnormals` record yet: `" + bench.BENCHMARKS["subnormals"] + "` writes it."))

# %% [markdown]
# ## Freed memory kept for the next step
#
# A training step of a dense recurrence allocates several $T \times B \times n$ tensors (the states,
# the pre-activations, their gradients: 67 MB (64 MiB) each for the copy task at the paper's size) and frees
# them before the next step. glibc maps every block that large afresh and unmaps it when it is freed,
# so every step takes a page fault on each 4 KiB page of them again. `qornn run` and every
# `qornn sweep` task keep freed memory in the heap instead (`qornn.allocator`): the tensors land on
# pages the previous step used, and the numbers are the same (a test computes a step both ways).
# `benchmarks/allocator.py` times a training step of paper-profile runs under both policies in one
# process, interleaved. HadamRNN's fused kernel keeps no such tensor and takes no faults either way:
# its ratios measure the machine's noise.

# %% tags=["hide-input", "full-width"]
if "allocator" in records:
    alloc = records["allocator"]
    load = alloc["config"]["load_average_before"]
    display(Markdown(f"Measured with a load average of {load[0]:.1f} on this machine's "
                     f"{os.cpu_count()} cores (1-minute average, before the run)."))
    display(report.styled(bench.allocator_table(alloc), precision=3))
else:
    display(Markdown("No `allocator` record yet: `" + bench.BENCHMARKS["allocator"] + "` writes it."))

# %% [markdown]
# ## What the papers' own budgets cost here
#
# `benchmarks/paper_costs.py` builds every run of every `paper` profile exactly as `qornn run` does,
# times a few optimiser steps on one real training batch, on one thread, and multiplies the median step
# time by the profile's number of optimiser steps (epochs × batches per epoch; evaluation left out). This
# is what decides which paper budgets can run on this CPU, and the number each chapter gives for a run
# that does not fit. The machine is shared, so a step measured under load is slower than on an idle core:
# the record keeps the load average (`load_average_before` / `after` in its configuration). The tables
# below hold each projection against the wall time of the runs since recorded at the paper's budget, and
# against the pace so far of the runs still training there (their committed checkpoints).

# %% tags=["hide-input", "full-width"]
if "paper_costs" in records:
    costs = records["paper_costs"]
    retained = costs["config"].get("freed_memory_retained", False)
    display(Markdown(f"When each experiment's rows were measured, and the load average on this machine's "
                     f"{os.cpu_count()} cores then (1-minute average, before the measuring call)"
                     + ("." if retained else "; before training kept freed memory for the next step "
                        "(previous section): the dense recurrences' projections are too high by the "
                        "ratios measured there.")))
    display(report.styled(bench.paper_costs_measurements(costs), precision=1))
    display(report.styled(bench.paper_costs_table(costs), precision=3))
    check = bench.projection_check(costs)
    report.show_markdown(bench.projection_check_text(check))
    display(report.styled(check, precision=2))
    pace = bench.pace_check(costs)  # the runs still training: their own pace against the projection
    if not pace.empty:
        report.show_markdown(bench.pace_check_text(pace))
        display(report.styled(pace, precision=2))
else:
    display(Markdown("No `paper_costs` record yet: `" + bench.BENCHMARKS["paper_costs"] + "` writes it."))

# %% [markdown]
# ## The machine, and how to rerun
#
# Each record's provenance: the commit of the code that ran (marked "modified" if `qornn/` had
# uncommitted changes), the CPU and the number of torch threads, the torch version, the date and the
# script's wall time. Each command, run from the repository root, rewrites its record (`--help`
# lists the sizes, repetitions and output path; `--no-json` prints without writing); rebuild the book
# afterwards to update this page. Use `--threads 1` while other jobs run on the machine: with one
# thread per core, a parallel region whose second thread is descheduled stalls the dense baselines
# by an amount that depends on the other jobs. The step benchmarks take a few minutes at their
# default sizes.

# %% tags=["hide-input", "full-width"]
if records:
    display(report.styled(bench.provenance_table(records)))
