"""The theory chapters' experiments, with ``smoke`` / ``cpu`` / ``paper`` profiles, recorded in the
same format as the RNN experiments (:mod:`qornn.results`: ``data/results/<experiment>/<profile>.json``,
one entry per run with its config, hash, history, test numbers and provenance: commit, profile,
device, seed, wall time).

    python -m qornn.theory.runner theory-saddle-escape --profile cpu

Experiments:

- ``theory-saddle-escape``: Appendix G of the deep-linear landscape paper (its Figures 3 and 4):
  Adam started near a strict and near a non-strict saddle, escape epochs of many runs;
- ``theory-identifiability-rank``: R_Γ and R_A against the sample size for several architectures
  (local identifiability paper);
- ``theory-approximation``: trained ReLU networks' L^p and sup-norm errors against their number of
  weights (an illustration for the L^p lower-bound paper, which has no experiment).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from .. import results
from . import approximation, landscape, local_identifiability

__all__ = ["PROFILES", "THEORY_EXPERIMENTS", "RecordMissing", "get_config", "run_names", "run",
           "recorded_or_run"]

PROFILES = ("smoke", "cpu", "paper")

_APPENDIX_G = {"dx": 10, "dy": 4, "hidden": [10, 10, 10, 10], "m": 100, "r": 2, "batch_size": 32,
               "lr": 1e-3, "sigma_scale": 0.1}
_ARCHITECTURES = {"2-8-1": [2, 8, 1], "3-10-3": [3, 10, 3], "3-8-6-2": [3, 8, 6, 2],
                  "4-8-8-1": [4, 8, 8, 1], "2-5-5-1": [2, 5, 5, 1]}
_SAMPLE_SIZES = [2, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560]

THEORY_EXPERIMENTS: dict[str, dict[str, Any]] = {
    "theory-saddle-escape": {
        "source": "Achour, Malgouyres, Gerchinovitz, JMLR 25(242), 2024, Appendix G (Figures 3 and 4)",
        "profiles": {
            "paper": {**_APPENDIX_G, "runs": 10_000, "epochs": 5_000, "curve_epochs": 2_500,
                      "note": "the paper's 10,000 runs per kind; the epoch cap is ours (the paper's "
                              "histogram ends near 2,500 epochs)"},
            "cpu": {**_APPENDIX_G, "runs": 4_000, "epochs": 3_000, "curve_epochs": 1_500,
                    "note": "4,000 runs per kind instead of the paper's 10,000, at most 3,000 epochs"},
            "smoke": {**_APPENDIX_G, "runs": 8, "epochs": 60, "curve_epochs": 60,
                      "note": "seconds: 8 runs per kind, 60 epochs"},
        },
    },
    "theory-identifiability-rank": {
        "source": "Bona-Pellissier, Malgouyres, Bachoc, NeurIPS 2022, Theorems 8 and 9, Propositions 10 "
                  "and 11 (the paper has no experiment)",
        "profiles": {
            "paper": {"architectures": _ARCHITECTURES, "sample_sizes": _SAMPLE_SIZES, "bias_std": 0.5,
                      "note": "the paper has no experiment: the same as cpu"},
            "cpu": {"architectures": _ARCHITECTURES, "sample_sizes": _SAMPLE_SIZES, "bias_std": 0.5,
                    "note": "five architectures, n from 2 to 2,560 Gaussian inputs"},
            "smoke": {"architectures": {"2-8-1": [2, 8, 1], "2-5-5-1": [2, 5, 5, 1]},
                      "sample_sizes": [5, 40, 160], "bias_std": 0.5, "note": "seconds: two architectures"},
        },
    },
    "theory-approximation": {
        "source": "illustration for Achour, Foucault, Gerchinovitz, Malgouyres, NeurIPS 2022 (the paper "
                  "has no experiment)",
        "profiles": {
            "paper": {"widths": [2, 4, 8, 16, 32, 64], "depths": [2, 3, 4], "steps": 3000, "lr": 1e-2,
                      "bumps": 8, "alpha": 0.5, "jumps": 4,
                      "note": "the paper has no experiment: the same as cpu"},
            "cpu": {"widths": [2, 4, 8, 16, 32, 64], "depths": [2, 3, 4], "steps": 3000, "lr": 1e-2,
                    "bumps": 8, "alpha": 0.5, "jumps": 4,
                    "note": "18 networks per target, 3,000 full-batch Adam steps each"},
            "smoke": {"widths": [2, 4], "depths": [2], "steps": 30, "lr": 1e-2, "bumps": 8, "alpha": 0.5,
                      "jumps": 4, "note": "seconds: two tiny networks, 30 steps"},
        },
    },
}


def run_names(experiment: str, profile: str) -> list[str]:
    """The runs of ``experiment`` under ``profile``."""
    if experiment == "theory-identifiability-rank":
        return list(get_config(experiment, profile)["architectures"])
    return {"theory-saddle-escape": ["strict", "non-strict"],
            "theory-approximation": ["holder", "monotone"]}[experiment]


def get_config(experiment: str, profile: str) -> dict[str, Any]:
    """The resolved profile of ``experiment``; unknown names list the valid ones."""
    if experiment not in THEORY_EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; valid: {', '.join(sorted(THEORY_EXPERIMENTS))}")
    profiles = THEORY_EXPERIMENTS[experiment]["profiles"]
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r} for {experiment!r}; valid: {', '.join(PROFILES)}")
    return copy.deepcopy(profiles[profile])


def _saddle_run(cfg: dict[str, Any], run: str, seed: int, progress: bool) -> dict[str, Any]:
    # the two kinds draw different data: seed and seed + 1
    res = landscape.saddle_escape(
        run, cfg["runs"], cfg["epochs"], seed=seed + (run == "non-strict"), dx=cfg["dx"], dy=cfg["dy"],
        hidden=tuple(cfg["hidden"]), m=cfg["m"], r=cfg["r"], batch_size=cfg["batch_size"], lr=cfg["lr"],
        sigma_scale=cfg["sigma_scale"], curve_epochs=cfg["curve_epochs"], progress=progress)
    escaped = [e for e in res.escape_epoch if e >= 0]
    test = {"runs": len(res.escape_epoch), "escaped": len(escaped), "epochs": cfg["epochs"],
            "median_escape_epoch": statistics.median(escaped) if escaped else None,
            "mean_escape_epoch": statistics.fmean(escaped) if escaped else None,
            "max_escape_epoch": max(escaped) if escaped else None}
    return {"test": test, "history": res.curves,
            "extra": {"escape_epoch": res.escape_epoch, "critical_values": res.critical_values,
                      "thresholds": res.thresholds}}


def _rank_run(cfg: dict[str, Any], run: str, seed: int, progress: bool) -> dict[str, Any]:
    widths = cfg["architectures"][run]
    net = local_identifiability.random_network(widths, seed=seed, bias_std=cfg["bias_std"])
    gen = torch.Generator().manual_seed(seed + 1)
    X = torch.randn(max(cfg["sample_sizes"]), widths[0], generator=gen, dtype=torch.float64)
    rows = []
    for n in cfg["sample_sizes"]:
        c = local_identifiability.check(net, X[:n])
        counts = local_identifiability.activation_counts(net, X[:n])
        rows.append({"n": n, "R_gamma": c.R_gamma, "R_A": c.R_A, "verdict": c.verdict,
                     "dead": sum(int((k == 0).sum()) for k in counts),
                     "always_active": sum(int((k == n).sum()) for k in counts)})
    last = rows[-1]
    return {"test": {"dimension": local_identifiability.dimension(net), "n_outputs": widths[-1],
                     "verdict_at_largest_n": last["verdict"], "R_gamma_at_largest_n": last["R_gamma"],
                     "R_A_at_largest_n": last["R_A"]},
            "history": rows, "extra": {"widths": widths}}


def _approximation_run(cfg: dict[str, Any], run: str, seed: int, progress: bool) -> dict[str, Any]:
    rows = []
    for depth in cfg["depths"]:
        for width in cfg["widths"]:
            fit = approximation.fit_relu(run, width, depth, steps=cfg["steps"], lr=cfg["lr"], seed=seed,
                                         bumps=cfg["bumps"], alpha=cfg["alpha"], jumps=cfg["jumps"])
            rows.append({"width": width, "depth": depth, "weights": fit.weights, **fit.errors,
                         "final_loss": fit.final_loss})
            if progress:
                print(f"{run} depth {depth} width {width}: {fit.errors}", flush=True)
    best = min(rows, key=lambda r: r["L2"])
    return {"test": {"best_L1": best["L1"], "best_L2": best["L2"], "best_sup": best["sup"],
                     "min_sup": min(r["sup"] for r in rows)}, "history": rows, "extra": {}}


_RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "theory-saddle-escape": _saddle_run,
    "theory-identifiability-rank": _rank_run,
    "theory-approximation": _approximation_run,
}


def run(experiment: str, profile: str, *, seed: int = 0, runs: list[str] | None = None,
        retrain: bool = False, progress: bool = True) -> dict:
    """Run every run of ``experiment`` under ``profile`` that has no up-to-date record (all with
    ``retrain``), recording each as it finishes, on one CPU thread's worth of torch. Returns the record."""
    cfg = get_config(experiment, profile)
    results.check_seed(seed)  # before any work: a record refuses a seed of 2**32 or more
    valid = run_names(experiment, profile)
    runs = list(valid) if runs is None else runs
    unknown = [r for r in runs if r not in valid]
    if unknown:
        raise ValueError(f"unknown run(s) {unknown} for {experiment!r}; valid: {', '.join(valid)}")
    code = results.git_commit()
    record = results.load_record(experiment, profile, missing_ok=True) or {"runs": {}}
    for name in runs:
        run_config = {"experiment": experiment, "profile": profile, "run": name, "seed": seed, **cfg}
        digest = results.config_hash(run_config)
        done = record["runs"].get(name)
        if done is not None and done["config_hash"] == digest and not retrain:
            continue
        start = time.perf_counter()
        out = _RUNNERS[experiment](cfg, name, seed, progress)
        results.save_run(experiment, profile, name, {
            "config": run_config, "config_hash": digest, "history": out["history"], "test": out["test"],
            "size_bits": None, **out["extra"],
            "provenance": results.provenance(profile=profile, seed=seed, device="cpu",
                                             wall_time_s=time.perf_counter() - start, code=code)})
        record = results.load_record(experiment, profile)
    return results.load_record(experiment, profile)


class _RecordMissing(results.RecordError):
    """A page asked for a record that was never made; the message says how to make it (the
    book's notebook runner writes such a page as a stub, by this class's name)."""

    def __init__(self, what: str, command: str) -> None:
        super().__init__(f"not recorded yet: {what}; record it with: {command}")
        self.what, self.command = what, command


#: qornn.results' own class where it has one
RecordMissing = getattr(results, "RecordMissing", _RecordMissing)


def recorded_or_run(experiment: str, profile: str, *, seed: int = 0,
                    retrain: bool = False) -> tuple[dict, bool]:
    """What a notebook shows: the committed record, or with ``retrain`` the record after running
    the experiment here. A missing record raises :data:`RecordMissing` (the book's build never
    runs an experiment on its own). Returns ``(record, ran)``."""
    get_config(experiment, profile)  # a typo in a notebook parameter fails here
    if not retrain:
        record = results.load_record(experiment, profile, missing_ok=True)
        if record is not None:
            return record, False
        raise RecordMissing(f"{experiment}/{profile}",
                            f"OMP_NUM_THREADS=1 python -m qornn.theory.runner {experiment} "
                            f"--profile {profile}, "
                            "or run the page with retrain = True (papermill: -p retrain True)")
    return run(experiment, profile, seed=seed, retrain=retrain, progress=False), True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=sorted(THEORY_EXPERIMENTS))
    parser.add_argument("--profile", default="smoke", choices=PROFILES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", nargs="*")
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args(argv)
    record = run(args.experiment, args.profile, seed=args.seed, runs=args.runs, retrain=args.retrain)
    for name, data in record["runs"].items():
        print(name, data["test"], f"{data['provenance']['wall_time_s']} s")


if __name__ == "__main__":
    main()
