"""One training step of a dense QORNN on tokens, with fewer passes over the (T, B, n) sequence, side
by side with how it was done before.

- ``one-pass``: the network as it trains: a_t = U[:, x_t] + b read in one lookup of the table
  Uᵀ + b (``qornn.models.network._TokenPreactivations``), and the recurrence writing each state h_t
  over the a_t it came from (``dense_recurrence(..., overwrite=True)``: for the linear recurrence the
  product adds onto a_t where it lies, with no copy of a_t first);
- ``two-tensors``: the lookup of Uᵀ, then the bias added (a second pass writing a second (T, B, n)
  tensor), and the states in a new (T, B, n) tensor, each a_t copied into it before its product.

Both give the same gradients bit for bit: the script checks it (every parameter's gradient after one
step, ``torch.equal``) before timing. What is timed: a whole training step (forward, loss, backward,
Adam, ``apply_constraints_()``) of ``qornn-ste-bjorck``, one torch thread, interleaved repetitions,
medians, and the median of the per-repetition ratios two-tensors / one-pass, at

- ``copy``: the copy task's paper shape (n = 128, batch 128, T = 1020, 10 tokens, a 9-way readout at
  every step, linear recurrence, 8-bit W), the shape of ``benchmarks/dense_recurrence.py``;
- ``ptb``: character-level PTB's (n = 1024, batch 128, T = 150, 50 characters, ReLU, 4-bit W).

Results go to ``data/results/benchmarks/sequence_passes.json`` with provenance.

    .venv/bin/python benchmarks/sequence_passes.py              # recorded (~3 min)
    .venv/bin/python benchmarks/sequence_passes.py --hidden 32 --T 50 --reps 2 --no-json  # quick look
"""

from __future__ import annotations

import statistics
import time
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

from qornn.models import build_model
from qornn.models.network import RecurrentNet
from qornn.tasks.base import sequence_cross_entropy

#: shape name -> (hidden, batch, T, tokens, outputs, nonlinearity, bits)
SHAPES = {"copy": (128, 128, 1020, 10, 9, "linear", 8),
          "ptb": (1024, 128, 150, 50, 50, "relu", 4)}
def _two_tensor_states(self, x, *, last_only=False):
    """RecurrentNet.hidden_states for tokens as it was: lookup, then + b, then states in a new tensor."""
    a = F.embedding(x.t(), self.input.effective_weight().t()) + self.input.bias
    h = self.recurrent.recur(a, self.nonlinearity)
    return h[-1] if last_only else h


@contextmanager
def two_tensors():
    with mock.patch.object(RecurrentNet, "hidden_states", _two_tensor_states):
        yield


def setup(shape: str, hidden: int | None, batch: int | None, T: int | None, seed: int):
    n, b, t, tokens, outputs, nonlinearity, bits = SHAPES[shape]
    n, b, t = hidden or n, batch or b, T or t
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model("qornn-ste-bjorck", input_size=tokens, output_size=outputs, hidden_size=n, bits=bits,
                        nonlinearity=nonlinearity, many_to_many=True)
    x = torch.randint(0, tokens, (b, t), generator=gen)
    y = torch.randint(0, outputs, (b, t), generator=gen)
    return model, x, y


#: the context each variant's step runs in
VARIANTS = {"one-pass": nullcontext, "two-tensors": two_tensors}


def sequence_loss(x, y):
    return lambda model: sequence_cross_entropy(model(x), y)


def main(argv: list[str] | None = None) -> int:
    p = shape_parser(__doc__, list(SHAPES))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = []
    for name in args.shapes:  # interleaved_times flushes subnormals, as training does
        model, x, y = setup(name, args.hidden, args.batch, args.T, args.seed)
        loss = sequence_loss(x, y)
        equal = same_gradients(model, loss, VARIANTS)
        times = interleaved_times(variant_steps(model, loss, VARIANTS), args.reps, warmup=1)
        ratio = median_ratios(times, "one-pass")["two-tensors"]
        _, _, _, tokens, _, nonlinearity, bits = SHAPES[name]
        rows.append({"shape": name, "hidden": model.hidden_size, "batch": x.shape[0], "T": x.shape[1],
                     "tokens": tokens, "nonlinearity": nonlinearity, "bits": bits,
                     "same_gradients": equal, "times_s": times,
                     "median_s": {v: statistics.median(ts) for v, ts in times.items()},
                     "two_tensors_over_one_pass": ratio})
        med = rows[-1]["median_s"]
        print(f"{name} (n={model.hidden_size}, B={x.shape[0]}, T={x.shape[1]}): same gradients {equal}; "
              f"one-pass {med['one-pass']:.3f} s, two-tensors {med['two-tensors']:.3f} s: {ratio:.2f}x",
              flush=True)
    if not args.no_json:
        write_record(args.out or default_path("sequence_passes"), {
            "benchmark": "sequence_passes",
            "description": "one training step of a dense QORNN (STE-Bjorck) on tokens: the preactivations "
                           "read in one lookup of U^T + b and the states written over them (one-pass), "
                           "against the lookup, the bias added and the states in a new tensor (two-tensors)",
            "config": {"shapes": args.shapes, "reps": args.reps, "threads": args.threads, "seed": args.seed,
                       "hidden": args.hidden, "batch": args.batch, "T": args.T},
            "sizes": rows,
        }, seed=args.seed, wall_time_s=time.perf_counter() - start)
    return 0 if all(row["same_gradients"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
