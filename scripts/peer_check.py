#!/usr/bin/env python3
"""Check qornn's HadamRNN against the authors' own code (see qornn/peer.py).

    python scripts/peer_check.py                      # cpu profile, /work/shared/peers/hadamRNN
    python scripts/peer_check.py --peer ~/src/hadamRNN --profile smoke
    python scripts/peer_check.py --copy-only             # the trained copy-task models only (seconds)

It needs the ``peer`` extra (pip install -e '.[peer]') and a
checkout of github.com/deel-ai-papers/hadamRNN (default: QORNN_PEER_HADAMRNN, /work/shared/peers/hadamRNN
or ../shared/peers/hadamRNN). For identical weights it compares the outputs and every gradient; then it
trains both side by side (same start, batches, Adam) with learned and frozen signs, full Hadamard and
blocks (Block-HadamRNN, the profile's block size), and records the curves in
data/results/hadamrnn-peer-check/<profile>.json. Last, it loads each copy-task HadamRNN and
Block-HadamRNN trained at the paper's budget (finished checkpoints) into the authors' network and records
both test losses (``copy-paper-hadamrnn-seedS``, ``copy-paper-block-hadamrnn-seedS``). Run it
single-threaded (OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import sys

import torch

from qornn.peer import (
    PEER_PROFILES,
    PeerUnavailable,
    check_trained_copy_models,
    peer_check_runs,
    run_name,
    run_peer_check,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=None, help="path of a checkout of the authors' hadamRNN code")
    parser.add_argument("--profile", default="cpu", choices=sorted(PEER_PROFILES))
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="hidden sizes (default: all)")
    parser.add_argument("--seed", type=int, default=8, help="the authors' initialisation seed (8: theirs)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--copy-only", action="store_true",
                        help="only load the paper-budget copy-task models into the authors' network")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        if not args.copy_only:
            run_peer_check(args.profile, peer_path=args.peer, seed=args.seed, sizes=args.sizes)
        record = check_trained_copy_models(args.profile, peer_path=args.peer)
    except PeerUnavailable as err:
        print(f"peer_check: {err}", file=sys.stderr)
        return 2
    for n, block, learn in peer_check_runs(args.profile, args.sizes):
        name = run_name(n, learn, block)
        run = record["runs"].get(name)
        if run is None:
            continue
        worst = max(max(g.values()) for g in run["gradient_check"].values())
        print(f"{name}: test accuracy qornn {run['test']['accuracy']:.3f}, authors "
              f"{run['test']['authors_accuracy']:.3f}; largest relative difference of outputs and "
              f"gradients at the start {worst:.2e}; {run['provenance']['wall_time_s']:.0f} s")
    for name, run in sorted(record["runs"].items()):
        if name.startswith("copy-"):
            test = run["test"]
            print(f"{name}: test loss qornn {test['loss']:.4g}, authors {test['authors_loss']:.4g} (relative "
                  f"difference {test['loss_relative_difference']:.1e}); recall {test['recall_accuracy']:.1%} "
                  f"and {test['authors_recall_accuracy']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
