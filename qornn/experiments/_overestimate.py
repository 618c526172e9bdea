"""The majoring-points paper's experiments (Gauffriau, Malgouyres & Ducoffe, *Overestimation
learning with guarantees*, SafeAI@AAAI 2021, arXiv 2101.11717) as plain data, run by
:mod:`qornn.wings` (not by the RNN runner: hence a private module of this package). Each profile is
the options of :func:`qornn.overestimate.experiment.run`.

The paper's networks, losses, tolerances and training budgets could not be read (only its abstract
was reachable): every profile is ours. Common to all: a monotone MLP (non-negative weights, tanh)
with 2 hidden layers, an under-estimation weight of 20 in the asymmetric squared loss, full-batch
Adam with a cosine-decayed learning rate; the regression baselines use the same network and as many
random training points as there are majoring points.
"""

from __future__ import annotations

from typing import Any

_NETWORK = {"hidden": 32, "layers": 2, "under_weight": 20.0, "lr": 1e-2}
_SMOKE = {"hidden": 8, "layers": 2, "under_weight": 20.0, "lr": 1e-2, "steps": 60, "test_random": 2000}
_NOT_READ = "the paper's settings could not be read; ours: "


def _entry(function: str, source: str, *, smoke: dict, cpu: dict, paper: dict) -> dict[str, Any]:
    return {
        "paper": "overestimate",
        "wing": "overestimate",
        "source": source,
        "profiles": {
            "smoke": {**_SMOKE, "function": function, **smoke,
                      "note": "seconds: a coarse tolerance, 60 training steps, hidden 8"},
            "cpu": {**_NETWORK, "function": function, "steps": 3000, "test_random": 100_000, **cpu,
                    "note": _NOT_READ + "hidden 32, 3000 full-batch Adam steps"},
            "paper": {**_NETWORK, "function": function, "steps": 20_000, "test_random": 1_000_000,
                      "hidden": 64, **paper,
                      "note": _NOT_READ + "a larger run of ours: hidden 64, 20,000 steps, finer tolerance"},
        },
    }


EXPERIMENTS: dict[str, dict[str, Any]] = {
    "overestimate-ramp-1d": _entry(
        "ramp-1d", "Majoring points (arXiv 2101.11717): a synthetic 1-D monotone function; ours: "
        "0.2x + a logistic step of height 1 and scale 0.02 at x = 0.6, on [0, 1]",
        smoke={"tol": 0.05, "max_depth": 8, "test_grid": 1001, "plot_grid": 101, "tol_sweep": [0.1, 0.05]},
        # max_depth 13: 12 stopped 157 of the 578 cells of the sweep's last ε (0.0025) above it
        cpu={"tol": 0.01, "max_depth": 13, "test_grid": 100_001, "plot_grid": 501,
             "tol_sweep": [0.08, 0.04, 0.02, 0.01, 0.005, 0.0025]},
        paper={"tol": 0.0025, "max_depth": 16, "test_grid": 1_000_001, "plot_grid": 1001,
               "tol_sweep": [0.08, 0.04, 0.02, 0.01, 0.005, 0.0025, 0.00125]}),
    "overestimate-ramp-2d": _entry(
        "ramp-2d", "Majoring points (arXiv 2101.11717): a synthetic 2-D monotone function; ours: "
        "0.1(x1 + x2) + a logistic step of height 1 and width 0.03 across x1 + x2 = 1.2, on [0, 1]^2",
        smoke={"tol": 0.2, "max_depth": 5, "test_grid": 101, "plot_grid": 21, "tol_sweep": [0.4, 0.2]},
        # max_depth: deep enough that every cell of the sweep ends within its ε (7 stopped 820 of
        # the 1,966 cells at ε = 0.1 with up to 0.131 of variation left; 10 leaves none, 11 at 0.0125)
        cpu={"tol": 0.1, "max_depth": 10, "test_grid": 501, "plot_grid": 81,
             "tol_sweep": [0.4, 0.2, 0.1, 0.05, 0.025]},
        paper={"tol": 0.025, "max_depth": 11, "test_grid": 2001, "plot_grid": 201,
               "tol_sweep": [0.4, 0.2, 0.1, 0.05, 0.025, 0.0125]}),
    "overestimate-cessna": _entry(
        "cessna-landing", "Majoring points (arXiv 2101.11717): the paper's landing-distance data are not "
        "public; stand-in: the Cessna 172 landing distance over a 50 ft obstacle against temperature "
        "(0-40 C) and pressure altitude (0-8000 ft), bilinear in the table of "
        "github.com/ducoffeM/safety_braking_distance_estimation (cesna_simulation.py)",
        smoke={"tol": 80.0, "max_depth": 4, "test_grid": 101, "plot_grid": 21, "tol_sweep": [160.0, 80.0]},
        cpu={"tol": 20.0, "max_depth": 8, "test_grid": 401, "plot_grid": 41,
             "tol_sweep": [160.0, 80.0, 40.0, 20.0, 10.0, 5.0]},
        paper={"tol": 5.0, "max_depth": 10, "test_grid": 2001, "plot_grid": 101,
               "tol_sweep": [160.0, 80.0, 40.0, 20.0, 10.0, 5.0, 2.5]}),
}
