"""The theory chapters' checks (qornn/theory): each test asserts the outcome of a check the book shows."""

from __future__ import annotations

import ast
import collections
import itertools
import math
from pathlib import Path

import pytest
import torch

from qornn import results
from qornn.theory import approximation, landscape, local_identifiability, parameter_identifiability, runner

ROOT = Path(__file__).resolve().parents[1]


# --- the wing is separate from the RNN code ---

def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_theory_imports_nothing_from_the_rnn_code_and_is_not_imported_by_it():
    for path in (ROOT / "qornn" / "theory").glob("*.py"):
        for name in _imports(path):
            if name.startswith("qornn") or name.startswith(".."):
                assert name in ("..", "qornn.results") or name.startswith("qornn.theory"), (path, name)
    for path in (ROOT / "qornn").rglob("*.py"):
        if "theory" not in path.parts:
            assert not any("theory" in name for name in _imports(path)), path


def test_a_change_in_a_wing_flags_only_its_own_records():
    changed = ["qornn/theory/landscape.py", "qornn/train.py", "qornn/report.py"]
    assert results.affecting_changes(changed, "copy") == ["qornn/train.py"]
    assert results.affecting_changes(changed, "theory-saddle-escape") == ["qornn/theory/landscape.py"]
    assert results.affecting_changes(changed) == ["qornn/train.py"]


# --- deep linear networks: Theorem 7 against the Hessian ---

@pytest.fixture(scope="module")
def problem() -> landscape.LinearProblem:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(4, 8, generator=gen, dtype=torch.float64)
    Y = torch.randn(3, 8, generator=gen, dtype=torch.float64)
    return landscape.linear_problem(X, Y)


@pytest.mark.parametrize("widths", [[4, 4, 4, 3], [4, 3, 3], [4, 5, 2, 4, 3]], ids=str)
def test_rank_test_and_hessian_agree_on_every_critical_point(problem, widths):
    checks = landscape.enumerate_critical_points(problem, widths)
    for c in checks:
        assert c.gradient_norm < 1e-9, c                            # first-order critical
        assert c.loss == pytest.approx(c.critical_value, abs=1e-9)  # Proposition 1
        assert c.agree, c
    kinds = collections.Counter(c.by_ranks for c in checks)
    if len(widths) > 3:  # H >= 3: every leaf of Figure 6 is reached
        assert set(kinds) == {"global minimiser", "strict saddle", "non-strict saddle"}
    else:  # H = 2: no tightened critical point with r < r_max, hence no non-strict saddle
        assert set(kinds) == {"global minimiser", "strict saddle"}
    # every index set of size <= r_max is reached (Proposition 2)
    assert {c.S for c in checks} == {S for r in range(min(widths) + 1)
                                     for S in itertools.combinations(range(1, 4), r)}


def test_a_strict_and_a_non_strict_saddle_with_the_same_product(problem):
    widths = [4, 4, 4, 3]
    tight = landscape.critical_point(problem, widths, (1,), middle="zero")
    loose = landscape.critical_point(problem, widths, (1,), middle="identity")
    assert torch.allclose(landscape.product(tight), landscape.product(loose), atol=1e-12)
    assert landscape.tightened(tight, problem) and not landscape.tightened(loose, problem)
    assert landscape.classify_by_ranks(tight, problem) == "non-strict saddle"
    assert landscape.classify_by_ranks(loose, problem) == "strict saddle"
    eig_tight = landscape.hessian_eigenvalues(tight, problem)
    eig_loose = landscape.hessian_eigenvalues(loose, problem)
    assert float(eig_tight.min()) > -1e-9 * float(eig_tight.abs().max())  # PSD: second-order critical
    assert float(eig_loose.min()) < -1e-3                               # a direction of descent


def test_the_critical_points_are_those_of_proposition_10_even_when_conjugated(problem):
    D = [torch.eye(4, dtype=torch.float64) + 0.2 * torch.ones(4, 4, dtype=torch.float64)] * 2
    W = landscape.critical_point(problem, [4, 4, 4, 3], (1, 2), middle="zero", D=D)
    assert landscape.gradient_norm(W, problem) < 1e-9
    assert landscape.index_set(W, problem) == (1, 2)
    assert landscape.classify_by_hessian(W, problem)[0] == "non-strict saddle"


def test_assumption_1_is_checked():
    with pytest.raises(ValueError, match="d_y <= d_x <= m"):
        landscape.linear_problem(torch.randn(5, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="repeated eigenvalues"):
        landscape.linear_problem(torch.eye(3), torch.eye(3))


def test_keras_adam_first_step_moves_by_lr_times_the_sign():
    p = torch.zeros(5)
    g = torch.tensor([3.0, -2.0, 0.5, -1e-3, 10.0])
    landscape._keras_adam([p], [g], {}, lr=1e-3)
    assert torch.allclose(p, -1e-3 * g.sign(), rtol=1e-2)  # ε = 1e-7 shows at |g| = 1e-3


def test_adam_escapes_strict_saddles_sooner_than_non_strict_ones():
    strict = landscape.saddle_escape("strict", 48, 400, seed=0)
    loose = landscape.saddle_escape("non-strict", 48, 400, seed=1)
    assert all(0 < e <= 100 for e in strict.escape_epoch)
    escaped = sorted(e if e > 0 else 10**9 for e in loose.escape_epoch)
    assert escaped[len(escaped) // 2] > max(strict.escape_epoch)  # the median non-strict run is slower
    # the recorded curve starts near the critical value, above the threshold
    assert strict.thresholds[0] < strict.curves[0][0]
    assert strict.curves[0][0] == pytest.approx(strict.critical_values[0], rel=0.05)
    assert len(strict.curves[0]) == 401


# --- local identifiability: C_N and C_S ---

def _sample(n: int, d: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_lifting_factorises_the_network():
    for widths in ([2, 3, 1], [3, 4, 5, 2], [2, 3, 3, 3, 2]):
        net = local_identifiability.random_network(widths, seed=1)
        X = _sample(40, widths[0])
        assert torch.allclose(local_identifiability.alpha(net, X) @ local_identifiability.lifting(net),
                              local_identifiability.forward(net, X), atol=1e-12)


def test_gamma_is_the_jacobian_without_the_fixed_edges():
    net = local_identifiability.random_network([3, 4, 2], seed=2)
    X = _sample(7, 3)
    shapes = [t.shape for W, b in net for t in (W, b)]

    def f(theta):
        parts = torch.split(theta, [math.prod(s) for s in shapes])
        ts = [p.reshape(s) for p, s in zip(parts, shapes, strict=True)]
        return local_identifiability.forward(list(zip(ts[::2], ts[1::2], strict=True)), X).reshape(-1)

    full = torch.autograd.functional.jacobian(f, torch.cat([t.reshape(-1) for W, b in net for t in (W, b)]))
    masks = local_identifiability.free_masks(net)
    keep = torch.cat([torch.cat([m.reshape(-1), torch.ones(b.numel(), dtype=torch.bool)])
                      for m, (_, b) in zip(masks, net, strict=True)])
    assert torch.allclose(local_identifiability.gamma(net, X), full[:, keep])
    assert int(keep.sum()) == local_identifiability.dimension(net) == 3 * 4 + 4 * 2 + 2


def test_identifiable_where_theory_says_yes():
    for widths, seed in (([2, 3, 1], 0), ([3, 8, 6, 2], 0)):
        net = local_identifiability.random_network(widths, seed=seed)
        c = local_identifiability.check(net, _sample(160, widths[0]))
        assert c.verdict == "identifiable" and c.R_gamma == c.dimension <= c.R_A, (widths, c)


def test_too_few_samples_are_not_enough():
    net = local_identifiability.random_network([3, 8, 6, 2], seed=0)
    for n in (5, 20):  # n·N_L < |F| + |B| = 86: C_S impossible, and here C_N fails too
        c = local_identifiability.check(net, _sample(n, 3))
        assert c.R_gamma == c.R_A == n * 2 < c.dimension and c.verdict == "not identifiable", c


def test_a_dead_neuron_is_not_identifiable():
    net = local_identifiability.random_network([3, 8, 6, 2], seed=0)
    W, b = net[0]
    b = b.clone()
    b[0] = -100.0  # never active on the sample
    net[0] = (W, b)
    X = _sample(320, 3)
    c = local_identifiability.check(net, X)
    assert c.verdict != "identifiable" and c.R_gamma < c.dimension
    assert int(local_identifiability.activation_counts(net, X)[0][0]) == 0
    # and a different, non-equivalent network with the same outputs on X exists
    other, layer, neuron = parameter_identifiability.dead_neuron_counterexample(net, X)
    assert (layer, neuron) == (1, 0)
    assert torch.equal(local_identifiability.forward(net, X), local_identifiability.forward(other, X))
    assert not parameter_identifiability.equivalent(net, other)


def test_a_layer_always_active_collapses_to_an_affine_map():
    net = local_identifiability.random_network([2, 3, 1], seed=0)
    W, b = net[0]
    net[0] = (W, b + 100.0)  # every hidden neuron active on the sample: f is affine there
    c = local_identifiability.check(net, _sample(200, 2))
    assert c.R_A == 3 and c.R_gamma == 3 and c.verdict == "not identifiable"


def test_rank_gamma_never_exceeds_rank_a():
    for seed in range(4):
        net = local_identifiability.random_network([2, 5, 5, 1], seed=seed)
        for n in (3, 30, 120):
            c = local_identifiability.check(net, _sample(n, 2, seed))
            assert c.R_gamma <= c.R_A <= n * c.n_outputs


def test_bad_sample_shape_is_named():
    net = local_identifiability.random_network([2, 3, 1])
    with pytest.raises(ValueError, match=r"n × N_0 = n × 2"):
        local_identifiability.check(net, torch.zeros(4, 3))


# --- parameter identifiability: symmetries and conditions ---

def test_symmetries_leave_the_function_unchanged():
    X = torch.rand(500, 2, dtype=torch.float64) * 4 - 2
    for seed in range(3):
        net = local_identifiability.random_network([2, 5, 4, 3, 1], seed=seed)
        moved = parameter_identifiability.random_symmetry(net, seed=seed + 10)
        assert not torch.allclose(moved[0][0], net[0][0])
        assert torch.allclose(parameter_identifiability.forward(net, X),
                              parameter_identifiability.forward(moved, X), atol=1e-12)
        assert parameter_identifiability.equivalent(net, moved)
        bumped = [(W.clone(), b.clone()) for W, b in net]
        bumped[-1][1][0] += 0.1  # not a symmetry: another function, another class
        assert not parameter_identifiability.equivalent(net, bumped)
        assert not torch.allclose(parameter_identifiability.forward(net, X),
                                  parameter_identifiability.forward(bumped, X))


def test_domain_conditions_hold_generically_and_fail_with_a_dead_neuron():
    omega = torch.rand(4000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    net = local_identifiability.random_network([2, 4, 1], seed=3)
    assert parameter_identifiability.domain_conditions(net, omega).holds
    assert parameter_identifiability.dead_neuron_counterexample(net, omega) is None
    W, b = net[0]
    b = b.clone()
    b[2] = -5.0
    dead = [(W, b), net[1]]
    cond = parameter_identifiability.domain_conditions(dead, omega)
    assert cond.dead == [[2]] and not cond.holds
    other, _, _ = parameter_identifiability.dead_neuron_counterexample(dead, omega)
    forward = parameter_identifiability.forward
    assert torch.equal(forward(dead, omega), forward(other, omega))
    assert not parameter_identifiability.equivalent(dead, other)
    far = torch.tensor([[50.0, 50.0], [-50.0, 50.0], [50.0, -50.0], [-50.0, -50.0]], dtype=torch.float64)
    assert not torch.allclose(parameter_identifiability.forward(dead, far),
                              parameter_identifiability.forward(other, far))  # they differ off Ω


def test_rank_figure_marks_each_verdict_and_the_output_has_a_colorbar():
    """Figures of the identifiability pages: each n's R_Γ marker shows its verdict (filled, hollow,
    cross), all three in the first panel's legend even when that panel lacks one; the bent
    hyperplanes' grey background f_θ has a labelled colorbar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qornn.theory import report

    def history(verdicts):
        return [{"n": 10 * (i + 1), "R_gamma": 5 + i, "R_A": 6 + i, "verdict": v}
                for i, v in enumerate(verdicts)]

    record = {"runs": {"a": {"history": history(["not identifiable", "undetermined"]),
                             "test": {"dimension": 7, "n_outputs": 1}},
                       "b": {"history": history(["undetermined", "identifiable", "identifiable"]),
                             "test": {"dimension": 7, "n_outputs": 1}}}}
    fig, axes = plt.subplots(1, 2)
    report.plot_rank_vs_n(record, axes)
    marks = {line.get_label(): line for line in axes[1].get_lines()}
    assert list(marks["$R_\\Gamma$: identifiable"].get_xdata()) == [20, 30]
    assert marks["$R_\\Gamma$: identifiable"].get_markerfacecolor() != "white"
    assert marks["$R_\\Gamma$: undetermined"].get_markerfacecolor() == "white"
    legend = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert legend[:4] == ["$R_\\Gamma$", *(f"$R_\\Gamma$: {v}" for v in report.VERDICT_MARKERS)]
    plt.close(fig)
    fig, ax = plt.subplots()
    report.plot_bent_hyperplanes(local_identifiability.random_network([2, 3, 1], seed=0), ax, grid=20)
    assert [a.get_ylabel() for a in fig.axes[1:]] == [r"$f_\theta(x)$"]
    plt.close(fig)


def test_symmetry_arguments_are_checked():
    net = local_identifiability.random_network([2, 3, 1])
    with pytest.raises(ValueError, match="permutation"):
        parameter_identifiability.permute(net, 1, torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="positive"):
        parameter_identifiability.rescale(net, 1, torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="hidden layer"):
        parameter_identifiability.permute(net, 2, torch.tensor([0]))


# --- the L^p lower bound ---

def test_rates_have_the_exponents_of_the_entropy():
    # rate() is P^(-1/a) by definition: what this pins is the exponent a of each family, against
    # values typed here (d/alpha for Hölder; 1 for monotone in one variable; max(d, p(d-1)) for d >= 2,
    # which the module docstring marks as recalled, not checked against its source)
    W = torch.tensor([1e2, 1e3, 1e4, 1e5])
    for family, kwargs, exponent in (("holder", {"d": 2, "alpha": 1.0}, 0.5),
                                     ("holder", {"d": 1, "alpha": 0.5}, 0.5),
                                     ("monotone", {"d": 1}, 1.0),
                                     ("monotone", {"d": 3, "p": 2.0}, 0.25)):
        rates = torch.tensor([approximation.rate(float(w), 3, family, **kwargs) for w in W])
        P = torch.tensor([approximation.pseudo_dimension_bound(float(w), 3) for w in W])
        slope = (rates.log().diff() / P.log().diff())
        assert torch.allclose(slope, torch.full_like(slope, -exponent)), (family, slope)
        assert bool((rates.diff() < 0).all())
    assert approximation.rate(1000, 4, "holder") < approximation.rate(1000, 2, "holder")  # deeper: lower


def test_the_hard_holder_target_is_holder():
    alpha = 0.5
    x = torch.rand(4000, dtype=torch.float64)
    y = torch.rand(4000, dtype=torch.float64)
    f = approximation.holder_bumps
    ratio = (f(x, alpha=alpha) - f(y, alpha=alpha)).abs() / (x - y).abs() ** alpha
    assert float(ratio.max()) <= 2 ** (1 + alpha)


def test_a_continuous_network_misses_a_jump_by_half_in_sup_norm_not_in_lp():
    fit = approximation.fit_relu("monotone", 16, 2, steps=1000, lr=1e-2, jumps=2)
    assert fit.errors["sup"] >= 0.5 / 2 - 1e-12        # half the jump, whatever the network
    assert fit.errors["L1"] <= fit.errors["L2"] <= fit.errors["sup"]
    assert fit.errors["L1"] < 0.05                      # while the L^1 error is small


def test_the_sup_at_a_jump_takes_both_sides_so_no_network_beats_half_the_jump():
    # a continuous ramp from 0 to 1/2 between two grid points, through 0.2498 at the jump x = 1/2 of the
    # staircase (0, then 1/2): exact on the grid, and against the left limit alone it would read
    # 0.2498, below the half jump that every g must miss by
    a, b = 0.495, 0.50501
    ramp = torch.nn.Sequential(torch.nn.Linear(1, 2, dtype=torch.float64), torch.nn.ReLU(),
                               torch.nn.Linear(2, 1, dtype=torch.float64))
    with torch.no_grad():
        ramp[0].weight.fill_(1.0)
        ramp[0].bias.copy_(torch.tensor([-a, -b], dtype=torch.float64))
        ramp[2].weight.copy_(torch.tensor([[1.0, -1.0]], dtype=torch.float64) * 0.5 / (b - a))
        ramp[2].bias.fill_(0.0)
    x = (torch.arange(64, dtype=torch.float64) + 0.5) / 64
    y = approximation.monotone_steps(x, steps=2)
    jump, left = torch.tensor([0.5], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)
    assert approximation.errors(ramp, "monotone", x, y)["sup"] < 1e-12  # exact on the grid
    assert approximation.errors(ramp, "monotone", x, y, jump, left)["sup"] < 0.25  # one side only
    value = approximation.monotone_steps(jump, steps=2)
    assert approximation.errors(ramp, "monotone", x, y, jump, left, value)["sup"] >= 0.25


# --- the runner ---

def test_runner_records_with_provenance_and_resumes(tmp_path):
    for experiment in sorted(runner.THEORY_EXPERIMENTS):
        record = runner.run(experiment, "smoke", progress=False)
        assert set(record["runs"]) == set(runner.run_names(experiment, "smoke"))
        for data in record["runs"].values():
            prov = data["provenance"]
            assert prov["profile"] == "smoke" and prov["seed"] == 0 and prov["device"] == "cpu"
            assert "commit" in prov and prov["wall_time_s"] >= 0
            assert data["config_hash"] == results.config_hash(data["config"])
        stamp = {name: data["provenance"]["date"] for name, data in record["runs"].items()}
        again, ran = runner.recorded_or_run(experiment, "smoke")
        assert not ran and {n: d["provenance"]["date"] for n, d in again["runs"].items()} == stamp
        with pytest.raises(runner.RecordMissing, match=f"not recorded yet: {experiment}/cpu"):
            runner.recorded_or_run(experiment, "cpu")  # never runs a missing record on its own
    assert (tmp_path / "data" / "results" / "theory-saddle-escape" / "smoke.json").exists()


def test_runner_names_bad_arguments():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        runner.get_config("theory-saddle-escape", "fast")
    with pytest.raises(ValueError, match="unknown experiment"):
        runner.get_config("saddles", "smoke")
    with pytest.raises(ValueError, match="unknown run"):
        runner.run("theory-approximation", "smoke", runs=["sine"])
