"""Every named experiment with its ``smoke`` / ``cpu`` / ``paper`` profiles: the one home of
hyperparameters.

Layout: one module per paper holds that paper's experiments as plain data, a dict ``EXPERIMENTS``
(experiment name -> task, runs, profiles); :mod:`qornn.experiments.runner` resolves and runs them.
This module only merges the papers' dicts into one registry and re-exports the runner.

To add a paper (or experiments of your own): write ``qornn/experiments/<paper>.py`` with its
``EXPERIMENTS`` dict; that is all. Every module of this package but the runner and private ones
(``_name.py``) is a paper module (:data:`PAPERS`). Paper modules are data only: the runner imports
nothing from them. An experiment name used by two modules is an error. Paper modules reach a run
only through its configuration, which each record keeps whole, so editing them never flags another
paper's records as made from older code (:func:`qornn.results.is_paper_module`).
"""

from __future__ import annotations

import importlib
import pkgutil

from .runner import (
    EXPERIMENTS,
    PROFILES,
    ExperimentConfig,
    analyse_experiment,
    analyse_runs,
    experiment_names,
    export_experiment,
    get_config,
    load_trained,
    recorded_or_trained,
    run_experiment,
)

__all__ = ["PROFILES", "EXPERIMENTS", "PAPERS", "ExperimentConfig", "get_config", "run_experiment",
           "recorded_or_trained", "experiment_names", "analyse_experiment", "analyse_runs",
           "export_experiment", "load_trained"]

#: the modules whose ``EXPERIMENTS`` make the registry: every module of this package but the runner
#: and private ones, by name
PAPERS = tuple(importlib.import_module(f"{__name__}.{_module.name}")
               for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
               if _module.name != "runner" and not _module.name.startswith("_"))

for _paper in PAPERS:
    if not isinstance(getattr(_paper, "EXPERIMENTS", None), dict):
        raise ValueError(f"{_paper.__name__} is a paper module (qornn/experiments/__init__.py) but has no "
                         "EXPERIMENTS dict; name a helper module _<name>.py")
    _clash = sorted(EXPERIMENTS.keys() & _paper.EXPERIMENTS.keys())
    if _clash:
        raise ValueError(f"{_paper.__name__} redefines the experiment(s) {', '.join(_clash)}")
    EXPERIMENTS.update(_paper.EXPERIMENTS)
