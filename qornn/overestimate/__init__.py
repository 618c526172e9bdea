"""Guaranteed over-estimation with majoring points (Gauffriau, Malgouyres & Ducoffe, SafeAI@AAAI 2021).

Imports nothing from the RNN code. :mod:`.functions` holds the reference functions (synthetic ramps,
the Cessna 172 landing-distance table), :mod:`.majoring` the adaptive majoring points,
:mod:`.surrogate` the monotone network, its training and certified shift, :mod:`.experiment` one
experiment from end to end.
"""

from .functions import FUNCTIONS, get_function
from .majoring import MajoringPoints, majoring_points
from .surrogate import MonotoneMLP, certified_shift, evaluate_overestimation, fit, predict

__all__ = ["FUNCTIONS", "MajoringPoints", "MonotoneMLP", "certified_shift", "evaluate_overestimation", "fit",
           "get_function", "majoring_points", "predict"]
