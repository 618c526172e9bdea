"""One sparse-recovery experiment: every solver, and SEA started from each solver's output, on the
same problems at each sparsity ``k``.

:func:`run` takes the experiment's options (a profile of ``qornn/experiments/_sea.py``) and returns,
per run (``omp``, ``iht``, …, ``sea-0``, ``sea-omp``, …), what the record keeps: for each ``k`` the
per-trial support recovery |S ∩ S*|/k (synthetic problems only) and relative loss ‖Ax − y‖²/‖y‖².
The problems at sparsity ``k`` are drawn with seed ``10000·(seed + 1) + k``, so every run sees the
same (and none is a trial of the probes made while writing the code, which used seeds ``k``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .problems import diabetes_problem, draw_problems
from .solvers import solve, support_recovery

__all__ = ["run", "run_names", "BASELINES"]

BASELINES = ("omp", "iht", "htp", "ompr", "els")


def run_names(options: dict[str, Any]) -> list[str]:
    """The runs of an experiment: its baselines, SEA from zero, SEA after each post-processed one."""
    return [*options["methods"], "sea-0", *(f"sea-{base}" for base in options["post_process"])]


def _problem(options: dict[str, Any], k: int, seed: int):
    if options["problem"] == "diabetes":
        return diabetes_problem(k, interactions=options.get("interactions", True))
    return draw_problems(options["problem"], n=options["n"], m=options.get("m"), k=k,
                         trials=options["trials"], seed=10_000 * (seed + 1) + k,
                         sigma=options.get("sigma", 3.0),
                         amplitude=tuple(options.get("amplitude", (1.0, 2.0))),
                         noise=options.get("noise", 0.0))


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(values, float)]


def run(options: dict[str, Any], *, seed: int, progress: bool = False) -> dict[str, dict[str, Any]]:
    """Run the experiment described by ``options`` (keys: problem, n, m, sigma, noise, trials, ks,
    methods, solver_options, sea: {iterations, step}, post_process, post_step)."""
    unknown = [m for m in [*options["methods"], *options["post_process"]] if m not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; valid: {', '.join(BASELINES)}")
    missing = [m for m in options["post_process"] if m not in options["methods"]]
    if missing:
        raise ValueError(f"post_process names {missing}, which are not among the methods run")
    names = run_names(options)
    out = {name: {"k": [], "recovery": [], "loss": [], "iterations": [], "wall_time_s": 0.0}
           for name in names}
    ks = options["ks"]
    iterator = ks
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(ks, desc=options["problem"], leave=False)
    sea_options = options["sea"]
    for k in iterator:
        problem = _problem(options, k, seed)
        solutions = {}
        for name in names:
            start = time.perf_counter()
            if name == "sea-0":
                sol = solve("sea", problem.A, problem.y, k, iterations=sea_options["iterations"])
            elif name.startswith("sea-"):
                sol = solve("sea", problem.A, problem.y, k, iterations=sea_options["iterations"],
                            step=options["post_step"], init=solutions[name[4:]].x)
            else:
                sol = solve(name, problem.A, problem.y, k, **options["solver_options"].get(name, {}))
            out[name]["wall_time_s"] += time.perf_counter() - start
            solutions[name] = sol
            entry = out[name]
            entry["k"].append(k)
            entry["loss"].append(_round(sol.loss))
            entry["iterations"].append(float(np.mean(sol.iterations)))
            if problem.support is not None:
                entry["recovery"].append(_round(support_recovery(sol.support, problem.support)))
            if problem.features is not None:
                entry.setdefault("features", []).append(
                    [problem.features[j] for j in sol.support[0] if sol.x[0, j] != 0])
    return {name: {"history": [], "wall_time_s": entry.pop("wall_time_s"), "test": entry}
            for name, entry in out.items()}
