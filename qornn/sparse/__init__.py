"""Sparse support recovery (SEA, Mohamed, Malgouyres, Emiya & Chaux, ICML 2024) and its baselines.

Imports nothing from the RNN code. :mod:`.problems` draws problems, :mod:`.solvers` solves them,
:mod:`.experiment` runs and records the paper's experiments.
"""

from .problems import SparseProblem, diabetes_problem, draw_problems, gaussian_filter_matrix
from .solvers import SOLVERS, Solution, brute_force, relative_loss, solve, support_recovery

__all__ = ["SOLVERS", "Solution", "SparseProblem", "brute_force", "diabetes_problem", "draw_problems",
           "gaussian_filter_matrix", "relative_loss", "solve", "support_recovery"]
