"""One training step of a dense QORNN, its recurrence's backward two ways, side by side.

- ``hand-written``: :func:`qornn.models.dense_recurrence` as models use it, whose backward
  (``_DenseRecurrence``) runs autograd's operations for the step-by-step loop without building its
  graph;
- ``autograd``: the same loop, differentiated by autograd through its 2T to 3T nodes (how it was
  done before).

Both give the same gradients bit for bit: the script checks it (every parameter's gradient after
one step, ``torch.equal``) before timing. A third closure, timed in the same interleaved loop, bounds
what any kernel of the recurrence could gain: ``three GEMMs``, the step's three families of matrix
products (forward h_{t-1} Wᵀ, backward δ_t W, and ∂L/∂W = Σ_t δ_tᵀ h_{t-1}: 2·T·B·n² flops each), each
as one large product over the whole sequence, (n × TB) times (TB × n), at the best rate this core's
BLAS reaches. Their share of the hand-written step says how much of it is matrix products that no
rewrite of the loop can remove on this CPU. What is timed: a whole training step (forward, loss,
backward, Adam, ``apply_constraints_()``) of ``qornn-ste-bjorck`` at two paper shapes, one torch
thread, interleaved repetitions, medians, and the median of the per-repetition ratios autograd /
hand-written (and three GEMMs / hand-written):

- ``copy``: the copy task (n = 128, batch 128, T = 1020, 10 input tokens, a 9-way readout at every
  step, linear recurrence, 8-bit W);
- ``pmnist``: pMNIST (n = 512, batch 100, T = 784, one input, 10 classes from the last state, ReLU
  recurrence, 4-bit W).

Results go to ``data/results/benchmarks/dense_recurrence.json`` with provenance.

    .venv/bin/python benchmarks/dense_recurrence.py            # recorded
    .venv/bin/python benchmarks/dense_recurrence.py --no-json  # print only
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from unittest import mock

import torch
import torch.nn.functional as F
from _common import (
    default_path,
    interleaved_times,
    median_ratios,
    same_gradients,
    shape_parser,
    variant_steps,
    write_record,
)

from qornn.models import build_model, recurrent
from qornn.tasks.base import sequence_cross_entropy

#: shape name -> (model, hidden, batch, T, input tokens (0: one float input), outputs, many-to-many,
#: nonlinearity, bits)
SHAPES = {"copy": ("qornn-ste-bjorck", 128, 128, 1020, 10, 9, True, "linear", 8),
          "pmnist": ("qornn-ste-bjorck", 512, 100, 784, 0, 10, False, "relu", 4)}


@contextmanager
def autograd_backward():
    """The recurrence differentiated by autograd through the step-by-step loop."""
    def loop(a, w, nonlinearity, overwrite=False, bias=None):  # autograd builds its own tensors
        return recurrent._dense_states(a, w, nonlinearity, a.new_zeros(a.shape[1:]), bias)

    with mock.patch.object(recurrent._DenseRecurrence, "apply", staticmethod(loop)):
        yield


def setup(shape: str, hidden: int | None, batch: int | None, T: int | None, seed: int):
    """A model, its optimiser and a batch at ``shape`` (sizes overridable for a quick run)."""
    model_name, n, b, t, tokens, outputs, many, nonlinearity, bits = SHAPES[shape]
    n, b, t = hidden or n, batch or b, T or t
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model(model_name, input_size=tokens or 1, output_size=outputs, hidden_size=n, bits=bits,
                        nonlinearity=nonlinearity, many_to_many=many)
    if tokens:
        x = torch.randint(0, tokens, (b, t), generator=gen)
        y = torch.randint(0, outputs, (b, t), generator=gen)
    else:
        x = torch.randn(b, t, 1, generator=gen)
        y = torch.randint(0, outputs, (b,), generator=gen)
    return model, x, y, many


#: the context each variant's step runs in
VARIANTS = {"hand-written": nullcontext, "autograd": autograd_backward}
#: the closure that times the step's matrix products as three large ones (not a variant of the step)
PRODUCTS = "three GEMMs"


def products_as_large_gemms(n: int, batch: int, T: int, seed: int) -> Callable[[], object]:
    """A closure running the 3 · 2·T·B·n² flops of a dense recurrence's forward and backward
    products as three (n × TB) @ (TB × n) matrix products: the same work at the rate of one large
    product, which the recurrence, bound to T products of B rows one after another, cannot beat."""
    gen = torch.Generator().manual_seed(seed)
    left, right = torch.randn(n, T * batch, generator=gen), torch.randn(T * batch, n, generator=gen)

    def run() -> None:
        for _ in range(3):
            left.mm(right)
    return run


def step_loss(x, y, many: bool):
    return lambda model: sequence_cross_entropy(model(x), y) if many else F.cross_entropy(model(x), y)


def main(argv: list[str] | None = None) -> int:
    p = shape_parser(__doc__, list(SHAPES))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = []
    for name in args.shapes:
        model, x, y, many = setup(name, args.hidden, args.batch, args.T, args.seed)
        loss = step_loss(x, y, many)
        equal = same_gradients(model, loss, VARIANTS)
        steps = variant_steps(model, loss, VARIANTS)
        steps[PRODUCTS] = products_as_large_gemms(model.hidden_size, x.shape[0], x.shape[1], args.seed)
        times = interleaved_times(steps, args.reps, warmup=1)
        ratios = median_ratios(times, "hand-written")
        ratio = ratios["autograd"]
        rows.append({"shape": name, "model": SHAPES[name][0], "hidden": model.hidden_size,
                     "batch": x.shape[0], "T": x.shape[1], "nonlinearity": SHAPES[name][7],
                     "bits": SHAPES[name][8], "same_gradients": equal, "times_s": times,
                     "median_s": {v: statistics.median(ts) for v, ts in times.items()},
                     "autograd_over_hand_written": ratio, "products_over_hand_written": ratios[PRODUCTS]})
        med = rows[-1]["median_s"]
        print(f"{name} (n={model.hidden_size}, B={x.shape[0]}, T={x.shape[1]}): same gradients {equal}; "
              f"hand-written {med['hand-written']:.3f} s, autograd {med['autograd']:.3f} s: {ratio:.2f}x; "
              f"its products as three GEMMs {med[PRODUCTS]:.3f} s, {ratios[PRODUCTS]:.0%} of the step",
              flush=True)
    if not args.no_json:
        write_record(args.out or default_path("dense_recurrence"), {
            "benchmark": "dense_recurrence",
            "description": "one training step of a dense QORNN (STE-Bjorck): the recurrence's hand-written "
                           "backward against autograd through the step-by-step loop, and the step's "
                           "matrix products timed as three large GEMMs",
            "config": {"shapes": {k: SHAPES[k] for k in args.shapes}, "reps": args.reps,
                       "threads": args.threads, "hidden": args.hidden, "batch": args.batch, "T": args.T},
            "sizes": rows}, seed=args.seed, wall_time_s=time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
