"""Every named experiment with its ``smoke`` / ``cpu`` / ``paper`` profiles: the one home of
hyperparameters.

Layout: one module per paper holds that paper's experiments as plain data, a dict ``EXPERIMENTS``
(experiment name -> task, runs, profiles); :mod:`qornn.experiments.runner` resolves and runs them.
This module only merges the papers' dicts into one registry and re-exports the runner.

To add a paper: write ``qornn/experiments/<paper>.py`` with its ``EXPERIMENTS`` dict (data only:
the runner imports nothing from it) and add the module to :data:`PAPERS` below. An experiment name
used by two papers is an error. Data modules reach a run only through its configuration, which each
record keeps whole, so editing them never flags another paper's records as made from older code
(see :data:`qornn.results.REGISTRY_DATA`).
"""

from __future__ import annotations

from . import hadamrnn, qornn_paper
from .runner import (
    EXPERIMENTS,
    PROFILES,
    ExperimentConfig,
    analyse_experiment,
    experiment_names,
    get_config,
    load_trained,
    recorded_or_trained,
    run_experiment,
)

__all__ = ["PROFILES", "EXPERIMENTS", "PAPERS", "ExperimentConfig", "get_config", "run_experiment",
           "recorded_or_trained", "experiment_names", "analyse_experiment", "load_trained"]

#: the modules whose ``EXPERIMENTS`` make the registry, in the order ``qornn list`` shows them
PAPERS = (hadamrnn, qornn_paper)

for _paper in PAPERS:
    _clash = sorted(EXPERIMENTS.keys() & _paper.EXPERIMENTS.keys())
    if _clash:
        raise ValueError(f"{_paper.__name__} redefines the experiment(s) {', '.join(_clash)}")
    EXPERIMENTS.update(_paper.EXPERIMENTS)
