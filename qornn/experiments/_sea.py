"""The SEA paper's experiments (Mohamed, Malgouyres, Emiya & Chaux, *Straight-Through Meets Sparse
Recovery: the Support Exploration Algorithm*, ICML 2024, arXiv 2301.13584) as plain data, run by
:mod:`qornn.wings` (not by the RNN runner: hence a private module of this package). Each profile is
the options of :func:`qornn.sparse.experiment.run`.

The paper's own sizes, trial counts, step sizes and iteration budgets could not be read (only its
abstract was reachable), so every profile is ours, and its note says so. Common to all: SEA runs a
fixed number of least-squares fits and keeps its best iterate; SEA as a post-processing starts from
each baseline's output with the step 10/‖A‖₂² (chosen in an unrecorded probe among 1, 10 and 100 on
50 trials of other seeds; SEA from zero does not depend on the step); ELS starts from OMP's support.
"""

from __future__ import annotations

from typing import Any

_BASELINES = ["omp", "iht", "htp", "ompr", "els"]
_COMMON = {"methods": _BASELINES, "post_process": _BASELINES, "post_step": 10.0,
           "solver_options": {"iht": {"iterations": 1000}, "htp": {"iterations": 200},
                              "ompr": {"iterations": 1000}, "els": {"iterations": 1000, "init": "omp"}}}
_SMOKE = {**_COMMON, "trials": 4, "ks": [2, 4], "sea": {"iterations": 20},
          "solver_options": {"iht": {"iterations": 50}, "htp": {"iterations": 20},
                             "ompr": {"iterations": 20}, "els": {"iterations": 20, "init": "omp"}}}
_NOT_READ = "the paper's sizes and trial counts could not be read; "


def _synthetic(problem: dict[str, Any], what: str) -> dict[str, Any]:
    return {
        "paper": "sea",
        "wing": "sparse",
        "source": "SEA (arXiv 2301.13584, ICML 2024): " + what,
        "profiles": {
            "smoke": {**_SMOKE, **problem, "n": 40, **({"m": 20} if "m" in problem else {}),
                      "note": "seconds: n = 40, k = 2 and 4, 4 trials, 20 SEA iterations"},
            "cpu": {**_COMMON, **problem, "trials": 100, "ks": [5, 10, 15, 20, 25, 30],
                    "sea": {"iterations": 500},
                    "note": _NOT_READ + "ours: 100 trials per k, SEA with 500 least-squares fits"},
            "paper": {**_COMMON, **problem, "trials": 1000, "ks": [2, 5, 10, 15, 20, 25, 30, 35, 40],
                      "sea": {"iterations": 1000},
                      "note": _NOT_READ + "a larger run of ours: 1000 trials per k (hours on one core)"},
        },
    }


EXPERIMENTS: dict[str, dict[str, Any]] = {
    # Spike deconvolution: y = x* convolved with a Gaussian filter of width 3 samples, n = 200, noiseless,
    # the setting of the first probe in the shared notes (amplitudes +-[1, 2]).
    "sea-deconvolution": _synthetic(
        {"problem": "gaussian-filter", "n": 200, "sigma": 3.0, "noise": 0.0, "amplitude": [1.0, 2.0]},
        "sparse spike deconvolution with a Gaussian filter (coherent columns); ours: n = m = 200, "
        "filter width 3 samples, noiseless, amplitudes uniform in +-[1, 2]"),
    # Compressed sensing with a Gaussian random matrix, m = 100, n = 200, for contrast.
    "sea-gaussian": _synthetic(
        {"problem": "gaussian-random", "n": 200, "m": 100, "noise": 0.0, "amplitude": [1.0, 2.0]},
        "Gaussian random matrices (incoherent); ours: m = 100, n = 200, noiseless, amplitudes "
        "uniform in +-[1, 2], a new matrix per trial"),
    # Sparse linear regression on real data: the paper's (libsvm) data sets are not shipped by any
    # package reachable here; scikit-learn ships the diabetes data in its wheel.
    "sea-regression": {
        "paper": "sea",
        "wing": "sparse",
        "source": "SEA (arXiv 2301.13584, ICML 2024): sparse linear regression on real data; the "
                  "paper's data sets are not available here, so scikit-learn's diabetes data "
                  "(442 x 10, with pairwise products: 64 features) stands in",
        "profiles": {
            "smoke": {**_SMOKE, "problem": "diabetes", "trials": 1, "ks": [2, 4],
                      "note": "seconds: k = 2 and 4, 20 SEA iterations"},
            "cpu": {**_COMMON, "problem": "diabetes", "trials": 1,
                    "ks": [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20], "sea": {"iterations": 500},
                    "note": "stand-in data (scikit-learn's diabetes, 64 features with interactions); "
                            "SEA with 500 least-squares fits"},
            "paper": {**_COMMON, "problem": "diabetes", "trials": 1, "ks": list(range(1, 31)),
                      "sea": {"iterations": 5000},
                      "note": "stand-in data (the paper's are not available here); k = 1..30, "
                              "5000 SEA least-squares fits"},
        },
    },
}
