"""The sparse solvers (qornn/sparse): exact on tiny problems against brute force, known recovery on
easy ones, SEA's post-processing never worse than its start, trials independent of their batch."""

from __future__ import annotations

import ast
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from qornn.sparse import brute_force, diabetes_problem, draw_problems, solve, support_recovery
from qornn.sparse.problems import gaussian_filter_matrix
from qornn.sparse.solvers import _best_swaps, restricted_least_squares

METHODS = ("iht", "htp", "omp", "ompr", "els", "sea")


def _tiny(trials=40, m=6, n=9, k=2, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((trials, m, n))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    return A, rng.standard_normal((trials, m)), k  # y is not sparse in A: the optimum is not zero


def test_restricted_least_squares_matches_lstsq():
    A, y, _ = _tiny()
    support = np.tile([1, 4, 7], (A.shape[0], 1))
    x = restricted_least_squares(A, y, support)
    for t in range(A.shape[0]):
        coef = np.linalg.lstsq(A[t][:, [1, 4, 7]], y[t], rcond=None)[0]
        np.testing.assert_allclose(x[t, [1, 4, 7]], coef, atol=1e-10)
        assert np.count_nonzero(x[t]) == 3


@pytest.mark.parametrize("method", METHODS)
def test_no_solver_beats_brute_force_and_all_are_k_sparse(method):
    A, y, k = _tiny()
    best = brute_force(A, y, k)
    sol = solve(method, A, y, k)
    assert (np.count_nonzero(sol.x, axis=1) <= k).all()
    assert (sol.loss >= best.loss - 1e-12).all()
    np.testing.assert_allclose(sol.loss, np.sum((np.einsum("tmn,tn->tm", A, sol.x) - y) ** 2, 1)
                               / np.sum(y**2, 1))


def test_a_baseline_that_used_its_whole_iteration_budget_is_named():
    from qornn.sparse import report as sparse_report

    def run(used):
        return {"config": {"options": {"solver_options": {"iht": {"iterations": 1000}}}},
                "test": {"k": [5, 10, 20], "iterations": used}}

    capped = {"runs": {"iht": run([982.5, 1000.0, 1000.0]), "omp": {"config": {}, "test": {"k": [5]}}}}
    assert "**IHT** used all 1,000 of its iterations in every trial at k = 10, 20" in \
        sparse_report.iteration_cap_note(capped)
    assert sparse_report.iteration_cap_note({"runs": {"iht": run([10.0, 20.0, 30.0])}}) == ""


def test_a_confidence_bar_below_zero_is_drawn_up_only_on_a_log_axis():
    """A mean loss set by 2 failed trials of 100 has a symmetric 95% bar reaching below zero, which a
    log axis draws down to its floor, as if the loss were 0: there the bar goes up only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qornn.sparse import report as sparse_report

    losses = [1e-31] * 98 + [0.03, 0.04]
    record = {"experiment": "x", "runs": {"sea-0": {"test": {"k": [5], "loss": [losses]}}}}
    for logy in (True, False):
        fig, ax = plt.subplots()
        sparse_report.plot_vs_k(record, "loss", ["sea-0"], ax=ax, logy=logy, quartiles=False)
        bar = ax.containers[0].lines[2][0].get_segments()[0]  # the vertical bar: (x, low), (x, high)
        mean = np.mean(losses)
        assert bool(bar[0][1] == mean) is logy and bar[1][1] > mean
        plt.close(fig)


def test_the_post_processing_figure_pairs_colours_and_ticks_k_at_integers():
    """sea/post_processing draws a baseline and SEA from it in one given colour, with 95% bars over
    the trials (plot_vs_k's ``colors``); the k axis is ticked at the sparsities run, never at 2.5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from qornn.sparse import report as sparse_report

    test = {"k": [1, 2, 3, 4, 5], "recovery": [[0.5, 0.7, 0.9]] * 5}
    record = {"experiment": "x", "runs": {"omp": {"test": test}, "sea-omp": {"test": test}}}
    fig, ax = plt.subplots()
    sparse_report.plot_vs_k(record, "recovery", ["omp", "sea-omp"], ax=ax, quartiles=False,
                            colors={"omp": "C3", "sea-omp": "C3"})
    assert len(ax.containers) == 2 and all(c.has_yerr for c in ax.containers)
    assert {mcolors.to_hex(c.lines[0].get_color()) for c in ax.containers} == {mcolors.to_hex("C3")}
    assert list(ax.get_xticks()) == [1, 2, 3, 4, 5] and ax.get_xlabel() == "sparsity k"
    plt.close(fig)


def test_els_and_sea_reach_the_brute_force_optimum_on_tiny_problems():
    A, y, k = _tiny(trials=60)
    best = brute_force(A, y, k).loss
    # y is not sparse in A, so the best pair is not easy to see: SEA, exploring supports, finds it in
    # most trials (49 of 60 when this test was written), at least as often as OMP
    found = np.isclose(solve("sea", A, y, k, iterations=300).loss, best, rtol=1e-9)
    assert found.mean() > 0.5
    assert found.mean() >= np.isclose(solve("omp", A, y, k).loss, best, rtol=1e-9).mean()
    # ELS ends at a single-swap local minimum: check it against every swap, by brute force
    sol = solve("els", A, y, k)
    for t in range(A.shape[0]):
        S = set(np.flatnonzero(sol.x[t]))
        for out in S:
            for into in set(range(A.shape[2])) - S:
                swapped = np.array([sorted(S - {out} | {into})])
                x = restricted_least_squares(A[t:t + 1], y[t:t + 1], swapped)
                loss = np.sum((A[t] @ x[0] - y[t]) ** 2) / np.sum(y[t] ** 2)
                assert loss >= sol.loss[t] - 1e-9


def test_best_swap_is_exact():
    A, y, k = _tiny(trials=5, n=8, k=3)
    support = np.tile([0, 3, 5], (5, 1))
    pos, j, loss = _best_swaps(A, y, support)
    for t in range(5):
        losses = {}
        for p in range(3):
            for col in set(range(8)) - {0, 3, 5}:
                S = np.array([sorted(set(support[t]) - {support[t, p]} | {col})])
                x = restricted_least_squares(A[t:t + 1], y[t:t + 1], S)
                losses[(p, col)] = np.sum((A[t] @ x[0] - y[t]) ** 2)
        assert (pos[t], j[t]) == min(losses, key=losses.get)
        assert loss[t] == pytest.approx(min(losses.values()), rel=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_known_recovery_on_an_easy_problem(method):
    # 100 Gaussian measurements of 3-sparse vectors in dimension 200: every method recovers them
    p = draw_problems("gaussian-random", n=200, m=100, k=3, trials=20, seed=1)
    sol = solve(method, p.A, p.y, p.k)
    assert support_recovery(sol.support, p.support).min() == 1.0
    np.testing.assert_allclose(sol.x, p.x_true, atol=1e-6)


def test_sea_post_processing_is_never_worse_than_its_start():
    p = draw_problems("gaussian-filter", n=60, k=6, trials=30, seed=2, sigma=2.0)
    for base in ("omp", "iht", "htp"):
        start = solve(base, p.A, p.y, p.k)
        after = solve("sea", p.A, p.y, p.k, iterations=50, step=10.0, init=start.x)
        assert (after.loss <= start.loss + 1e-12).all()


def test_sea_from_zero_is_invariant_to_the_step():
    p = draw_problems("gaussian-filter", n=50, k=4, trials=10, seed=3)
    a = solve("sea", p.A, p.y, p.k, iterations=40, step=1.0)
    b = solve("sea", p.A, p.y, p.k, iterations=40, step=37.0)
    np.testing.assert_array_equal(a.support, b.support)


@pytest.mark.parametrize("method", METHODS)
def test_trials_do_not_depend_on_their_batch(method):
    p = draw_problems("gaussian-random", n=40, m=20, k=4, trials=6, seed=4)
    batch = solve(method, p.A, p.y, p.k)
    alone = solve(method, p.A[2:3], p.y[2:3], p.k)
    np.testing.assert_allclose(batch.x[2], alone.x[0], atol=1e-9)


def test_problem_generators():
    A = gaussian_filter_matrix(50, 3.0)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0)
    assert A[:, 10] @ A[:, 11] == pytest.approx(np.exp(-1 / 36), abs=1e-6)  # coherent neighbours
    p = draw_problems("gaussian-filter", n=50, k=5, trials=7, seed=0)
    assert p.A.shape == (7, 50, 50) and p.A.strides[0] == 0  # broadcast, not copied
    assert (np.count_nonzero(p.x_true, axis=1) == 5).all()
    np.testing.assert_allclose(p.y, np.einsum("tmn,tn->tm", p.A, p.x_true))
    assert (np.sort(np.flatnonzero(p.x_true[3])) == p.support[3]).all()
    amplitudes = np.abs(p.x_true[p.x_true != 0])
    assert amplitudes.min() >= 1.0 and amplitudes.max() <= 2.0
    with pytest.raises(ValueError, match="unknown matrix 'dct'"):
        draw_problems("dct", n=10, k=2, trials=1, seed=0)
    with pytest.raises(ValueError, match="k=11 exceeds"):
        draw_problems("gaussian-filter", n=10, k=11, trials=1, seed=0)
    with pytest.raises(ValueError, match="unknown sparse solver 'lasso'"):
        solve("lasso", p.A, p.y, 5)


def test_diabetes_problem():
    pytest.importorskip("sklearn")
    p = diabetes_problem(5)
    assert p.A.shape == (1, 442, 64) and len(p.features) == 64
    np.testing.assert_allclose(np.linalg.norm(p.A[0], axis=0), 1.0)
    assert abs(p.y.mean()) < 1e-9
    # k = 1: the exact best single feature is the most correlated one, which OMP picks
    assert solve("omp", p.A, p.y, 1).loss[0] == pytest.approx(brute_force(p.A, p.y, 1).loss[0])


def test_the_wing_imports_nothing_from_the_rnn_code():
    rnn = {"models", "tasks", "train", "experiments", "hadamard", "quantize", "orthogonal", "analysis",
           "fast_hadamard", "datasets"}
    root = Path(__file__).resolve().parents[1] / "qornn"
    for wing in ("sparse", "overestimate"):
        for path in (root / wing).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level >= 2:
                    assert (node.module or "").split(".")[0] not in rnn, f"{path} imports {node.module}"
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                        [a.name for a in node.names]
                    for name in names:
                        parts = name.split(".")
                        assert not (parts[0] == "qornn" and len(parts) > 1 and parts[1] in rnn), path
    for path in root.rglob("*.py"):
        if path.parent.name not in ("sparse", "overestimate") and "experiments" not in path.parts:
            text = path.read_text()
            assert "sparse" not in [n.split(".")[-1] for n in _imported(text)], path
            assert "overestimate" not in [n.split(".")[-1] for n in _imported(text)], path


def _imported(source: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            names += [node.module or ""] + [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


def test_combinations_helper_sanity():
    # brute force really tries every support: on an orthonormal A it picks the k largest |A^T y|
    A = np.eye(6)[None]
    y = np.array([[0.1, -3.0, 0.5, 2.0, -0.2, 1.0]])
    assert set(np.flatnonzero(brute_force(A, y, 2).x[0])) == {1, 3}
    assert len(list(combinations(range(6), 2))) == 15


def test_a_method_is_named_in_math_text_for_figures_and_in_plain_text_for_tables():
    from qornn.sparse import report as sparse_report

    assert sparse_report.label("sea-0") == "SEA$_0$" and sparse_report.label("sea-omp") == "SEA$_{OMP}$"
    assert [sparse_report.label(run, math=False) for run in ("sea-0", "sea-omp", "omp", "other")] == [
        "SEA_0", "SEA_OMP", "OMP", "other"]
