"""Ways to train HadamRNN's signs (qornn.signs): each rule's math, its plumbing into the training
loop through a plain model option, and its checkpointed state."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qornn import fast_hadamard
from qornn.models import build_model
from qornn.quantize import binary_sign
from qornn.signs import SignRule, make_sign_rule, project_out_signs
from qornn.tasks import CopyTask
from qornn.train import TrainConfig, train

SMALL = dict(length=20, symbols=3, train_size=96, val_size=32, test_size=32)


def _model(sign_training=None, n=16, seed=0, **options):
    torch.manual_seed(seed)
    return build_model("hadamrnn", input_size=10, output_size=9, hidden_size=n, many_to_many=True,
                       sign_training=sign_training, **options)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_projection_removes_exactly_the_component_along_s(log_n, seed):
    gen = torch.Generator().manual_seed(seed)
    n = 2 ** log_n
    g = torch.randn(n, generator=gen, dtype=torch.float64)
    s = binary_sign(torch.randn(n, generator=gen, dtype=torch.float64))
    p = project_out_signs(g, s)
    assert abs(float(p @ s)) < 1e-9 * (1 + float(g.norm()))
    torch.testing.assert_close(project_out_signs(p, s), p)  # a projection
    torch.testing.assert_close(g - p, float(g @ s) / n * s)  # what it removed lies along s


@pytest.mark.parametrize("fast", [True, False])
def test_projected_ste_gradient_is_the_projection_of_the_plain_one(fast):
    task = CopyTask(**SMALL, seed=0)
    x, y = task.batch("train", torch.arange(8))
    grads = {}
    for name, rule in (("plain", None), ("projected", {"method": "ste", "project": True})):
        model = _model(rule)
        model.recurrent.fast = fast
        task.loss(model(x), y).backward()
        grads[name] = model.recurrent.u.grad
    s = binary_sign(_model().recurrent.u.detach())
    assert float(grads["plain"] @ s) != 0  # the component the projection removes is there
    torch.testing.assert_close(grads["projected"], project_out_signs(grads["plain"], s))


def test_bop_flips_exactly_the_signs_whose_averaged_gradient_pushes_past_the_threshold():
    rule = SignRule(4, "bop", gamma=0.5, threshold=0.2, normalize=False)
    u = torch.nn.Parameter(torch.tensor([0.2, -0.2, 0.2, -0.2]))
    # s·m after one step (m = γ g): 0.5, -0.5, 0.1, 0.25 -> flip the 1st and the 4th
    u.grad = torch.tensor([1.0, 1.0, 0.2, -0.5])
    rule.after_step(u)
    assert binary_sign(u).tolist() == [-1, -1, 1, 1]
    assert u.grad is None  # the optimiser does not hold u: the rule clears its gradient
    assert rule.momentum[0] == 0 and rule.momentum[3] == 0 and rule.momentum[1] != 0
    # the same gradient again: the flipped signs now agree with it and nothing more flips;
    # s·m = 0.15 < 0.2 keeps the 3rd
    u.grad = torch.tensor([1.0, 1.0, 0.2, -0.5])
    rule.after_step(u)
    assert binary_sign(u).tolist() == [-1, -1, 1, 1]


def test_bop_cap_keeps_the_strongest_flips_and_its_schedule_anneals_to_zero():
    rule = SignRule(6, "bop", gamma=0.9, threshold=0.1, normalize=False, max_flips=2, anneal_steps=2)
    u = torch.nn.Parameter(torch.full((6,), 0.5))
    u.grad = torch.tensor([1.0, 3.0, 2.0, 0.5, 0.0, -1.0])
    rule.after_step(u)  # cap 2 at step 1 -> the two largest pushes: entries 1 and 2
    assert binary_sign(u).tolist() == [1, -1, -1, 1, 1, 1]
    assert rule.flip_cap() == 1  # 2 · (1 − 1/2)
    u.grad = torch.tensor([5.0, 0.0, 0.0, 4.0, 0.0, 0.0])
    rule.after_step(u)  # two candidates, one allowed: the stronger
    assert binary_sign(u).tolist() == [-1, -1, -1, 1, 1, 1]
    assert rule.flip_cap() == 0  # annealed: the signs are frozen from now on
    u.grad = torch.tensor([0.0, 0.0, 0.0, 9.0, 9.0, 0.0])
    rule.after_step(u)
    assert binary_sign(u).tolist() == [-1, -1, -1, 1, 1, 1]


def test_normalised_bop_is_scale_free():
    flips = []
    for scale in (1e-4, 1e4):
        rule = SignRule(8, "bop", gamma=0.1, beta=0.1, threshold=0.5)
        u = torch.nn.Parameter(torch.ones(8))
        gen = torch.Generator().manual_seed(0)
        for _ in range(20):
            u.grad = scale * (torch.randn(8, generator=gen) + torch.linspace(-2, 2, 8))
            rule.after_step(u)
        flips.append(binary_sign(u).tolist())
    assert flips[0] == flips[1] and -1 in flips[0]


def test_u_options_reach_the_optimizer_and_the_start():
    model = _model({"method": "ste", "u_lr": 1e-5, "u_init": 0.7})
    u = model.recurrent.u
    assert torch.all(u.abs() == 0.7)
    assert binary_sign(u).tolist() == binary_sign(_model().recurrent.u).tolist()  # same signs
    groups = model.optimizer_groups()
    assert groups[-1]["params"] == [u] and groups[-1]["lr"] == 1e-5
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    bop = _model({"method": "bop"})
    assert all(bop.recurrent.u is not p for g in bop.optimizer_groups() for p in g["params"])
    plain = _model()
    assert plain.optimizer_groups() == [{"params": list(plain.parameters())}]


@pytest.mark.parametrize("spec, match", [
    ({"method": "sgd"}, "unknown sign_training method"),
    ({"method": "ste", "threshold": 0.1}, r"\['threshold'\] do not apply"),
    ({"method": "bop", "threshold": -1}, "threshold must be a positive"),
    ({"method": "bop", "anneal_steps": 10}, "needs max_flips"),
    ({"method": "ste", "project": "yes"}, "project must be True or False"),
    ("bop", "must be a dict"),
])
def test_bad_sign_training_is_a_clear_error(spec, match):
    with pytest.raises(ValueError, match=match):
        make_sign_rule(8, spec)


def test_sign_training_with_frozen_signs_is_refused():
    with pytest.raises(ValueError, match="needs learn_signs=True"):
        _model({"method": "bop"}, learn_signs=False)


def _train(rule, checkpoint=None, on_step=None):
    model = _model(rule)
    task = CopyTask(**SMALL, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-2, checkpoint_every=2, eval_batch_size=32)
    out = train(model, task, cfg, seed=0, checkpoint=checkpoint, progress=False, on_step=on_step)
    return model, out


@pytest.mark.parametrize("rule", [
    {"method": "ste", "project": True},
    {"method": "bop", "threshold": 0.05, "gamma": 0.2, "project": True},
    {"method": "ste", "u_lr": 1e-1},
])
def test_each_rule_trains_through_the_loop_and_reports_flips(rule):
    model, out = _train(rule)
    diag = out["history"][-1]["diagnostics"]
    assert diag["sign_flips_per_step"] > 0 and "mean_abs_u" in diag
    assert all(torch.isfinite(p).all() for p in model.parameters())


class Interrupt(Exception):
    pass


def test_bop_resumes_from_a_checkpoint_exactly(tmp_path):
    rule = {"method": "bop", "threshold": 0.05, "gamma": 0.2}
    whole, out = _train(rule)

    def stop(step):
        if step == 7:
            raise Interrupt

    ckpt = tmp_path / "bop.pt"
    with pytest.raises(Interrupt):
        _train(rule, checkpoint=ckpt, on_step=stop)
    resumed, again = _train(rule, checkpoint=ckpt)
    assert again["test"] == out["test"]
    torch.testing.assert_close(resumed.recurrent.sign_rule.momentum, whole.recurrent.sign_rule.momentum)
    assert torch.equal(binary_sign(resumed.recurrent.u), binary_sign(whole.recurrent.u))


def test_fast_path_still_taken_with_a_rule():
    # the rule changes only the gradient reaching u: the linear recurrence keeps its fast path
    if not fast_hadamard.available():
        pytest.skip("the fast Hadamard extension is not built here")
    model = _model({"method": "ste", "project": True})
    task = CopyTask(**SMALL, seed=0)
    x, _ = task.batch("train", torch.arange(4))
    fast = model(x)
    model.recurrent.fast = False
    torch.testing.assert_close(fast, model(x), rtol=1e-5, atol=1e-5)


def test_the_sign_study_compares_each_method_over_seeds_from_the_same_start():
    from qornn.experiments import get_config
    from qornn.experiments.hadamrnn import SIGN_METHODS, SIGN_SEEDS
    from qornn.experiments.runner import _build

    for experiment in ("hadamrnn-signs-pmnist", "hadamrnn-signs-smnist", "hadamrnn-signs-copy"):
        config = get_config(experiment, "cpu")
        assert set(config.models) == {f"{m}-seed{s}" for m in SIGN_METHODS for s in SIGN_SEEDS}
        hashes = {results_hash(config, run) for run in config.models}
        assert len(hashes) == len(config.models)  # every run its own record entry and checkpoint
        trains = [config.train_config(run) for run in config.models]
        assert len({(t.epochs, t.batch_size, t.lr) for t in trains}) == 1  # the same budget for all
    config = get_config("hadamrnn-signs-copy", "smoke")
    task = CopyTask(**SMALL, seed=0)
    start = {run: _build(config, run, task, seed=0).state_dict() for run in
             ("frozen-seed0", "released-seed0", "bop-seed0", "released-seed1")}
    for run in ("released-seed0", "bop-seed0"):  # same seed: the same initial weights
        for key, value in start["frozen-seed0"].items():
            assert torch.equal(value, start[run][key]), (run, key)
    assert not torch.equal(start["released-seed0"]["recurrent.u"], start["released-seed1"]["recurrent.u"])
    assert config.run_seed("released-seed1", 0) == 1 and config.run_seed("released-seed1", 5) == 1


def results_hash(config, run):
    from qornn import results

    return results.config_hash(config.run_config(run, 0))


def test_flip_probe_measures_true_changes_and_leaves_the_model_as_it_was():
    from qornn.sign_probe import flip_predictions

    model = _model({"method": "ste", "project": True})
    task = CopyTask(**SMALL, seed=0)
    x, y = task.batch("train", torch.arange(8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = flip_predictions(model, x, y, task.loss, count=5, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.recurrent.sign_rule is not None and model.training
    i = out["index"][0]
    with torch.no_grad():
        model.recurrent.u[i] *= -1
        flipped = float(task.loss(model(x), y))
    assert flipped - out["loss"] == pytest.approx(out["true"][0], abs=1e-6)
    # the two predictions differ by the same constant, 2⟨g, s⟩/n, for every flip
    gaps = [p - s for p, s in zip(out["projected"], out["ste"], strict=True)]
    assert gaps == pytest.approx([2 * out["rescaling"]] * 5, rel=1e-4, abs=1e-7)
    assert 0 <= out["agreement_ste"] <= 1 and len(out["true"]) == 5


def test_the_units_said_to_shrink_are_those_whose_u_the_first_adam_step_shrinks():
    from qornn.sign_probe import rescaling_share

    model = _model()  # the released method: the plain straight-through gradient
    task = CopyTask(**SMALL, seed=0)
    x, y = task.batch("train", torch.arange(8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = rescaling_share(model, x, y, task.loss)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and model.training
    # one Adam step on u alone, small enough that no sign flips: |u_i| falls exactly where said
    u = model.recurrent.u
    g = torch.autograd.grad(task.loss(model(x), y), u)[0]
    cosine = float(g @ binary_sign(u)) / (u.numel() ** 0.5 * float(g.norm()))
    assert out["rescaling_share"] == pytest.approx(cosine, rel=1e-5)
    old = u.detach().abs().clone()
    optimizer = torch.optim.Adam([u], lr=1e-5)
    u.grad = g
    optimizer.step()
    moved = g != 0
    shrunk = (u.detach().abs() < old)[moved]
    assert float(shrunk.double().mean()) * float(moved.double().mean()) == pytest.approx(out["shrinking"])
    assert -1 <= out["rescaling_share"] <= 1 and 0 <= out["shrinking"] <= 1


def test_the_start_probe_records_each_learned_sign_run_of_an_experiment_at_its_start():
    from qornn import results
    from qornn.experiments import get_config
    from qornn.experiments.runner import _build
    from qornn.sign_probe import PROBE_EXPERIMENT, run_start_probe, start_variant
    from qornn.tasks import build_task

    record = run_start_probe("copy", "smoke")
    config = get_config("copy", "smoke")
    learned = {run for run, spec in config.models.items()
               if spec["model"] in ("hadamrnn", "block-hadamrnn") and spec.get("learn_signs", True)}
    assert learned and set(record["runs"]) == learned
    assert results.record_path(PROBE_EXPERIMENT, "smoke", start_variant("copy")).exists()
    task = build_task(config.task, **config.task_options, seed=0)
    for run, data in record["runs"].items():
        batch = data["config"]["batch"]
        x, y = task.batch("train", torch.arange(batch))
        model = _build(config, run, task, 0)  # the weights its training starts from
        with torch.no_grad():
            loss = float(task.loss(model.eval()(x), y))
        assert data["probe"]["loss"] == pytest.approx(loss, rel=1e-6)
        assert data["config"]["state"] == "start" and 0 <= data["test"]["shrinking"] <= 1


def test_verified_flips_keep_only_flips_that_lower_the_loss():
    rule = SignRule(4, "verified", gamma=0.5, normalize=False, tries=3)
    u = torch.nn.Parameter(torch.tensor([0.2, 0.2, 0.2, 0.2]))
    target = torch.tensor([-1.0, 1.0, -1.0, 1.0])

    def loss():  # lowest with s = target; flipping s_0 helps, s_1 would hurt
        return ((binary_sign(u) - target) ** 2).sum() + 0.0 * u.sum()

    u.grad = torch.tensor([3.0, 2.0, 1.0, -1.0])  # pushes s·m > 0 on 0, 1, 2 (2 is tried last)
    kept = rule.verify_(u, loss)
    assert kept == 2 and binary_sign(u).tolist() == [-1, 1, -1, 1]  # 0 and 2 kept, 1 undone
    assert u.grad is None and rule.momentum[0] == 0 and rule.momentum[1] != 0
    rule2 = SignRule(4, "verified", every=2)
    u.grad = torch.ones(4)
    assert rule2.verify_(u, loss) == 0  # step 1 of every 2: the moments move, nothing is tried
    assert rule2.momentum.abs().sum() > 0


def test_verified_flips_through_the_training_loop():
    model, out = _train({"method": "verified", "gamma": 0.2, "tries": 2, "project": True})
    assert "sign_flips_per_step" in out["history"][-1]["diagnostics"]
    assert model.recurrent.u.grad is None
    assert all(model.recurrent.u is not p for g in model.optimizer_groups() for p in g["params"])
