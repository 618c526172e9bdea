"""Majoring points and the certified over-estimator (qornn/overestimate): the cells tile the box and
majorise f on it, they concentrate where f varies, and the certified network never under-estimates,
neither on a dense grid nor on random points, while plain regression does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qornn.overestimate import (
    FUNCTIONS,
    MonotoneMLP,
    certified_shift,
    evaluate_overestimation,
    fit,
    get_function,
    majoring_points,
    predict,
)
from qornn.overestimate.experiment import grid, run
from qornn.overestimate.functions import CESSNA_LANDING_TABLE, bilinear

SMOKE = {"tol": None, "max_depth": 8, "hidden": 8, "layers": 2, "under_weight": 20.0, "steps": 150,
         "lr": 1e-2, "test_grid": 201, "test_random": 5000, "plot_grid": 11, "tol_sweep": []}
TOLS = {"ramp-1d": 0.02, "ramp-2d": 0.05, "cessna-landing": 20.0}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_are_non_decreasing(name):
    ref = get_function(name)
    x = grid(ref.lower, ref.upper, 60 if ref.dim == 2 else 2000)
    values = ref(x).reshape([60] * ref.dim if ref.dim == 2 else [-1])
    for axis in range(ref.dim):
        assert (np.diff(values, axis=axis) >= -1e-12).all()


def test_cessna_table_and_interpolation():
    ref = get_function("cessna-landing")
    # the table's nodes are reproduced exactly: 0 °C / sea level 1290 ft, 40 °C / 8000 ft 1755 ft
    assert ref(np.array([[0.0, 0.0], [40.0, 8000.0], [20.0, 3000.0]])).tolist() == [1290, 1755, 1460]
    # half-way between four nodes: their mean (bilinear)
    mid = ref(np.array([[15.0, 2500.0]]))[0]
    assert mid == pytest.approx(CESSNA_LANDING_TABLE[1:3, 2:4].mean())
    with pytest.raises(ValueError, match="outside the table's range"):
        ref(np.array([[45.0, 0.0]]))
    unit = np.array([0.0, 1.0])
    np.testing.assert_allclose(bilinear(unit, unit, np.array([[0, 1], [2, 3.0]]),
                                        np.array([[0.5, 0.5], [1.0, 0.0]])), [1.5, 2.0])


@pytest.mark.parametrize("name", FUNCTIONS)
def test_majoring_cells_tile_the_box_and_majorise_f(name):
    ref = get_function(name)
    points = majoring_points(ref, ref.lower, ref.upper, tol=TOLS[name], max_depth=8)
    low, up = np.array(ref.lower), np.array(ref.upper)
    volumes = np.prod(points.upper - points.lower, axis=1)
    assert volumes.sum() == pytest.approx(np.prod(up - low))
    # random points: each lies in exactly one cell (up to shared faces) and f there is <= the cell's value
    rng = np.random.default_rng(0)
    x = low + (up - low) * rng.random((2000, ref.dim))
    inside = ((x[:, None, :] >= points.lower[None] - 1e-12)
              & (x[:, None, :] <= points.upper[None] + 1e-12)).all(2)
    assert inside.any(axis=1).all()
    assert (inside.sum(axis=1) == 1).mean() > 0.99
    f = ref(x)
    assert all((f[i] <= points.value[inside[i]] + 1e-12).all() for i in range(len(x)))
    # cells that stopped refining before max depth vary by at most tol
    stopped = points.depth < 8
    assert (points.value[stopped] - points.floor[stopped] <= TOLS[name] + 1e-12).all()


def test_majoring_points_concentrate_where_f_varies():
    ref = get_function("ramp-1d")  # the step is at x = 0.6, width about 0.02
    points = majoring_points(ref, ref.lower, ref.upper, tol=0.01, max_depth=12)
    centre = (points.lower[:, 0] + points.upper[:, 0]) / 2
    near = np.abs(centre - 0.6) < 0.1
    assert near.sum() > 3 * (~near).sum()  # a fifth of the interval holds most cells
    assert points.depth.max() > points.depth.min() + 3
    assert len(majoring_points(ref, 0.0, 1.0, tol=0.005, max_depth=12)) > len(points)


def test_majoring_rejects_bad_input():
    with pytest.raises(ValueError, match="not non-decreasing"):
        majoring_points(lambda x: -x[:, 0], [0.0], [1.0], tol=0.1)
    with pytest.raises(ValueError, match="tol must be positive"):
        majoring_points(lambda x: x[:, 0], [0.0], [1.0], tol=0.0)
    with pytest.raises(ValueError, match="lower < upper"):
        majoring_points(lambda x: x[:, 0], [1.0], [0.0], tol=0.1)
    with pytest.raises(ValueError, match="unknown reference function 'sin'"):
        get_function("sin")


def test_monotone_network_is_non_decreasing():
    torch.manual_seed(0)
    model = MonotoneMLP([0.0, 0.0], [1.0, 1.0], hidden=16, layers=3, y_mean=3.0, y_scale=2.0)
    x = torch.rand(500, 2, dtype=torch.float64, requires_grad=True)
    model(x).sum().backward()
    assert (x.grad >= 0).all()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_certified_model_never_under_estimates(name):
    # a deliberately short training: the guarantee must hold however poor the fit
    ref = get_function(name)
    points = majoring_points(ref, ref.lower, ref.upper, tol=TOLS[name], max_depth=8)
    torch.manual_seed(1)
    model = MonotoneMLP(ref.lower, ref.upper, hidden=8, layers=2, y_mean=float(points.value.mean()),
                        y_scale=float(points.value.std()))
    fit(model, points.lower, points.value, under_weight=20.0, steps=100, lr=1e-2, seed=1)
    shift = certified_shift(model, points.lower, points.value)
    dense = grid(ref.lower, ref.upper, 401 if ref.dim == 2 else 200_001)
    rng = np.random.default_rng(2)
    low, up = np.array(ref.lower), np.array(ref.upper)
    random = low + (up - low) * rng.random((200_000, ref.dim))
    for x in (dense, random):
        gap = evaluate_overestimation(predict(model, x, shift), ref(x))
        assert gap["under_share"] == 0.0 and gap["min_gap"] >= 0.0
    # without the shift the same network does under-estimate somewhere (the shift is needed)
    assert evaluate_overestimation(predict(model, dense), ref(dense))["min_gap"] < 0


def test_experiment_smoke():
    out = run({**SMOKE, "function": "ramp-1d", "tol": 0.05, "tol_sweep": [0.1, 0.05]}, seed=0)
    assert set(out) == {"majoring", "mse", "mse-shifted"}
    assert out["majoring"]["test"]["grid"]["under_share"] == 0.0
    assert out["majoring"]["test"]["random"]["under_share"] == 0.0
    assert out["mse"]["test"]["grid"]["under_share"] > 0.0  # plain regression under-estimates
    sweep = out["majoring"]["tolerance_sweep"]
    assert sweep["0.1"] <= sweep["0.05"] == out["majoring"]["majoring_points"]["count"]


def test_plot_1d_gap_draws_each_surrogates_gap_and_the_zero_line():
    """The synthetic page's right panel: one line per run, its data g − f read from the record's
    surrogate on the plot grid, a dot at its smallest gap, and the dashed line at 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qornn.overestimate import report as over_report

    ref = get_function("ramp-1d")
    x = grid(ref.lower, ref.upper, 11)
    offsets = {"majoring": np.full(11, 0.02), "mse": np.linspace(-0.01, 0.01, 11),
               "mse-shifted": np.linspace(0.0, 0.02, 11)}
    config = {"options": {"function": "ramp-1d", "plot_grid": 11}}
    record = {"runs": {name: {"config": config, "surrogate_on_plot_grid": (ref(x) + gap).tolist()}
                       for name, gap in offsets.items()}}
    fig, ax = plt.subplots()
    over_report.plot_1d_gap(record, ax=ax)
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines][0] == "g = f" and list(lines[0].get_ydata()) == [0, 0]
    assert len(lines) == 1 + len(offsets)
    for line, (name, gap) in zip(lines[1:], offsets.items(), strict=True):
        assert line.get_label().startswith(over_report.LABELS[name])
        np.testing.assert_allclose(line.get_ydata(), gap, atol=1e-12)
    assert "(min -0.01)" in lines[2].get_label()
    plt.close(fig)
    # the 2-D figure's colorbar carries the table's notation and the output's unit
    assert over_report._unit(get_function("cessna-landing").output) == " (ft)"
    assert over_report._unit(get_function("ramp-2d").output) == ""
