"""Reference functions, non-decreasing in every coordinate on a box, to be over-estimated.

Each is vectorised: ``f(x)`` takes an ``(N, d)`` array and returns ``(N,)``.

- ``ramp-1d`` and ``ramp-2d``: synthetic, flat almost everywhere with one steep ramp, so that an
  adaptive construction has somewhere to concentrate.
- ``cessna-landing``: a public stand-in for the paper's (proprietary) landing-distance data, the
  Cessna 172 landing distance over a 50 ft obstacle (ft) against temperature (°C) and pressure
  altitude (ft), interpolated bilinearly in the table of :data:`CESSNA_LANDING_TABLE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ReferenceFunction", "FUNCTIONS", "get_function", "bilinear", "CESSNA_LANDING_TABLE",
           "CESSNA_ALTITUDES_FT", "CESSNA_TEMPERATURES_C"]

#: Cessna 172 landing distance over a 50 ft obstacle (ft): rows are temperatures 0, 10, 20, 30, 40 °C,
#: columns pressure altitudes 0, 1000, ..., 8000 ft. Typed in from the table of
#: github.com/ducoffeM/safety_braking_distance_estimation, file cesna_simulation.py (whose function
#: returns this "total distance" column; a ground-roll column is left out), the table the Airbus
#: decomon tutorial 4 ("certified over-estimation", which cites the paper) builds on.
CESSNA_LANDING_TABLE = np.array([
    [1290, 1320, 1355, 1385, 1425, 1460, 1500, 1545, 1585],
    [1320, 1350, 1385, 1425, 1460, 1500, 1540, 1585, 1630],
    [1350, 1385, 1420, 1460, 1495, 1535, 1580, 1625, 1670],
    [1380, 1420, 1455, 1495, 1535, 1575, 1620, 1665, 1715],
    [1415, 1450, 1490, 1530, 1570, 1615, 1660, 1705, 1755],
], dtype=float)
CESSNA_TEMPERATURES_C = np.arange(0.0, 41.0, 10.0)
CESSNA_ALTITUDES_FT = np.arange(0.0, 8001.0, 1000.0)


def bilinear(grid_a: np.ndarray, grid_b: np.ndarray, table: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``table[i, j] = f(grid_a[i], grid_b[j])`` at ``points`` ``(N, 2)``
    (inside the grid; points outside are an error). Non-decreasing along both axes when the table is."""
    points = np.asarray(points, dtype=float)
    a, b = points[:, 0], points[:, 1]
    for values, grid, name in ((a, grid_a, "first"), (b, grid_b, "second")):
        if (values < grid[0]).any() or (values > grid[-1]).any():
            bad = values[(values < grid[0]) | (values > grid[-1])][0]
            raise ValueError(f"{name} coordinate {bad!r} is outside the table's range "
                             f"[{grid[0]}, {grid[-1]}]")
    i = np.clip(np.searchsorted(grid_a, a, side="right") - 1, 0, len(grid_a) - 2)
    j = np.clip(np.searchsorted(grid_b, b, side="right") - 1, 0, len(grid_b) - 2)
    s = (a - grid_a[i]) / (grid_a[i + 1] - grid_a[i])
    t = (b - grid_b[j]) / (grid_b[j + 1] - grid_b[j])
    return ((1 - s) * (1 - t) * table[i, j] + s * (1 - t) * table[i + 1, j]
            + (1 - s) * t * table[i, j + 1] + s * t * table[i + 1, j + 1])


@dataclass(frozen=True)
class ReferenceFunction:
    """A function non-decreasing in each coordinate on the box ``[lower, upper]``."""

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    inputs: tuple[str, ...]
    output: str

    @property
    def dim(self) -> int:
        return len(self.lower)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{self.name} takes points of shape (N, {self.dim}), got {x.shape}")
        return self.f(x)


def _ramp_1d(x: np.ndarray) -> np.ndarray:
    # 0.2 x + a logistic step of height 1 and scale 0.02 (10% to 90% over 0.09) at x = 0.6
    return 0.2 * x[:, 0] + 1.0 / (1.0 + np.exp(-(x[:, 0] - 0.6) / 0.02))


def _ramp_2d(x: np.ndarray) -> np.ndarray:
    # a logistic step across the line x1 + x2 = 1.2 plus a gentle slope
    s = x[:, 0] + x[:, 1]
    return 0.1 * s + 1.0 / (1.0 + np.exp(-(s - 1.2) / 0.03))


def _cessna(x: np.ndarray) -> np.ndarray:
    return bilinear(CESSNA_TEMPERATURES_C, CESSNA_ALTITUDES_FT, CESSNA_LANDING_TABLE, x)


FUNCTIONS: dict[str, ReferenceFunction] = {
    "ramp-1d": ReferenceFunction("ramp-1d", _ramp_1d, (0.0,), (1.0,), ("x",), "f(x)"),
    "ramp-2d": ReferenceFunction("ramp-2d", _ramp_2d, (0.0, 0.0), (1.0, 1.0), ("x1", "x2"), "f(x)"),
    "cessna-landing": ReferenceFunction(
        "cessna-landing", _cessna, (0.0, 0.0), (40.0, 8000.0),
        ("temperature (°C)", "pressure altitude (ft)"), "landing distance over 50 ft (ft)"),
}


def get_function(name: str) -> ReferenceFunction:
    if name not in FUNCTIONS:
        raise ValueError(f"unknown reference function {name!r}; valid: {', '.join(FUNCTIONS)}")
    return FUNCTIONS[name]
