"""The side-by-side check against the HadamRNN authors' code (qornn.peer).

The comparison logic is tested without the authors' code: against a stand-in written here from the
formula in qornn.peer's docstring, with the authors' parameter names. The last test runs the real
check on the smoke profile when the authors' code and the ``peer`` extra are here, and skips
cleanly otherwise.
"""

from __future__ import annotations

import math

import pytest
import torch
from _notebook_helpers import write_mnist_idx
from torch import nn
from torch.nn.utils import parametrize

from qornn import peer, report
from qornn.hadamard import block_hadamard
from qornn.models import build_model
from qornn.quantize import quantize_ste
from qornn.tasks import build_task


class _Quantize(nn.Module):
    def forward(self, w):
        return quantize_ste(w, 4)


class _SignedHadamard(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.sign_vector = nn.Parameter(torch.empty(1, n).uniform_(-0.3, 0.3))
        self.bias = nn.Parameter(torch.empty(n).uniform_(-0.1, 0.1))
        self.register_buffer("h", block_hadamard(n, n) / math.sqrt(n))

    def forward(self, h):
        s = self.sign_vector.reshape(-1)
        s = s + (torch.where(s >= 0, 1.0, -1.0) - s).detach()  # sign with a straight-through gradient
        return h @ (s[:, None] * self.h).t() + self.bias


class StandIn(nn.Module):
    """h_t = diag(sign v) H/√n h_{t-1} + b + q_4(A) x_t, y = q_4(C) ReLU(h_T) + c, with the authors'
    parameter names (their BinadamSSM's), written from the formula, step by step."""

    def __init__(self, n, input_size=1, output_size=10, many_to_many=False):
        super().__init__()
        self.input_layer = nn.Linear(input_size, n, bias=False)
        self.recurrent_layer = _SignedHadamard(n)
        self.output_layer = nn.Linear(n, output_size)
        self.many_to_many = many_to_many  # an output at every step (their copy-task config)
        for layer in (self.input_layer, self.output_layer):
            parametrize.register_parametrization(layer, "weight", _Quantize())

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.recurrent_layer.bias.shape[0])
        states = []
        for x_t in x.unbind(1):
            h = self.recurrent_layer(h) + self.input_layer(x_t)
            states.append(h)
        return self.output_layer(torch.relu(torch.stack(states, 1) if self.many_to_many else h))


def _pair(n=16, learn_signs=True):
    torch.manual_seed(3)
    theirs = StandIn(n)
    theirs.recurrent_layer.sign_vector.requires_grad_(learn_signs)
    ours = build_model("hadamrnn", input_size=1, output_size=10, hidden_size=n, bits=4,
                       learn_signs=learn_signs)
    peer.copy_parameters(theirs, ours, {b: a for a, b in peer.PEER_PARAMETERS.items()})
    return ours, theirs


def _batch(n=8, steps=12):
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, steps, 1, generator=gen), torch.randint(0, 10, (n,), generator=gen)


@pytest.mark.parametrize("fast", [True, False])
def test_the_same_function_gives_the_same_outputs_and_gradients(fast):
    ours, theirs = _pair()
    ours.recurrent.fast = fast
    x, y = _batch()
    diffs = peer.compare_gradients(ours, theirs, peer.PEER_PARAMETERS, x, y, nn.functional.cross_entropy)
    assert set(diffs) == {"output", "loss", *peer.PEER_PARAMETERS}
    assert max(diffs.values()) < 1e-4, diffs


def test_a_different_weight_is_caught():
    ours, theirs = _pair()
    with torch.no_grad():
        ours.readout.bias[0] += 1.0
    diffs = peer.compare_gradients(ours, theirs, peer.PEER_PARAMETERS, *_batch(), nn.functional.cross_entropy)
    assert diffs["output"] > 1e-2 and diffs["readout.bias"] > 1e-2


def test_a_wrong_name_map_is_refused():
    ours, theirs = _pair()
    with pytest.raises(KeyError, match="no parameter 'recurrent.v'"):
        peer.copy_parameters(ours, theirs, {"recurrent.v": "recurrent_layer.sign_vector"})
    with pytest.raises(ValueError, match="entries"):
        peer.copy_parameters(ours, theirs, {"input.bias": "output_layer.bias"})


def test_relative_difference_and_flips():
    a = torch.tensor([1.0, 2.0])
    assert peer.relative_difference(a, a) == 0.0
    assert peer.relative_difference(a, torch.zeros(2)) == pytest.approx(math.sqrt(5))
    assert peer.sign_flips(torch.tensor([0.5, -0.1, 0.0]), torch.tensor([-0.5, -0.2, 0.0])) == 1


@pytest.mark.parametrize("learn_signs", [True, False])
def test_side_by_side_training_of_equal_models_gives_equal_curves(tmp_path, monkeypatch, learn_signs):
    monkeypatch.setenv("QORNN_MNIST", str(write_mnist_idx(tmp_path / "mnist")))
    task = build_task("pmnist", train_size=64, val_size=16, test_size=32)
    ours, theirs = _pair(learn_signs=learn_signs)
    other, _ = _pair(learn_signs=learn_signs)
    curves = peer.train_side_by_side({"a": ours, "b": other},
                                     {"a": ours.recurrent.u, "b": other.recurrent.u}, task, steps=3,
                                     batch_size=16, lr=1e-2, eval_every=2, eval_size=32, progress=False)
    assert curves["eval_steps"] == [0, 2, 3] and curves["steps"] == [1, 2, 3]
    for key in ("loss", "batch_accuracy", "flips", "mean_abs_u", "test_accuracy"):
        assert curves["a"][key] == curves["b"][key], key
        assert len(curves["a"][key]) == (3 if key != "test_accuracy" else 3)
    if not learn_signs:
        assert curves["a"]["flips"] == [0, 0, 0]


def test_the_peer_check_runs_full_hadamard_and_blocks():
    assert peer.peer_check_runs("smoke") == [(16, None, True), (16, None, False), (16, 4, True),
                                             (16, 4, False)]
    assert peer.peer_check_runs("cpu", [512]) == [(512, None, True), (512, None, False)]
    assert peer.run_name(128, True) == "n128-learned-signs"
    assert peer.run_name(128, False, 16) == "n128-m16-frozen-signs"


def test_the_training_table_of_the_side_by_side_runs():
    def curves(flips, accuracy):
        return {"flips": flips, "mean_abs_u": [0.1] * len(flips), "test_accuracy": [0.1, accuracy],
                "wall_time_s": 12.0}

    def run(block, learn, authors_flips, qornn_flips):
        config = {"hidden_size": 128, "learn_signs": learn, "steps": 8, **({"block": block} if block else {})}
        return {"config": config,
                "curves": {"authors": curves(authors_flips, 0.5), "qornn": curves(qornn_flips, 0.6)}}

    record = {"runs": {"n128-learned-signs": run(None, True, [9] * 6 + [4, 2], [9] * 6 + [2, 2]),
                       "n128-m16-learned-signs": run(16, True, [0] * 6 + [3, 5], [0] * 8),
                       "copy-paper-hadamrnn-seed0": {"config": {"check": "trained copy model"}, "test": {}}}}
    frame = report.peer_training_frame(record)
    assert list(zip(frame["W"], frame["code"], strict=True)) == [
        ("full Hadamard", "authors' code"), ("full Hadamard", "qornn"),
        ("blocks of 16", "authors' code"), ("blocks of 16", "qornn")]  # the copy check is not a row
    assert list(frame["flips per step (last quarter)"]) == [3.0, 2.0, 4.0, 0.0]  # the last 2 of 8 steps
    assert list(frame["test accuracy"]) == [0.5, 0.6, 0.5, 0.6]
    assert report.peer_training_frame({"runs": {}}).empty
    text = report.peer_learned_signs_text(record).split("\n")
    assert text == [
        "- n = 128, full Hadamard, 8 steps: test accuracy 50.0% (authors' code) and 60.0% (qornn); 3 and 2 "
        "signs flipped per step over the last quarter of the steps; final mean |u| 0.1 and 0.1.",
        "- n = 128, blocks of 16, 8 steps: test accuracy 50.0% (authors' code) and 60.0% (qornn); 4 and 0 "
        "signs flipped per step over the last quarter of the steps; final mean |u| 0.1 and 0.1."]
    assert report.peer_learned_signs_text({"runs": {}}) == ""


def test_a_missing_checkout_is_a_clear_error(tmp_path):
    with pytest.raises(peer.PeerUnavailable, match="no checkout of the HadamRNN authors' code"):
        peer.load_peer(tmp_path)
    (tmp_path / "SOURCE").write_text("owner/repo @ 0123abcd (MIT)\n")
    assert peer.peer_source(tmp_path) == {"repository": "owner/repo", "commit": "0123abcd",
                                          "path": str(tmp_path)}
    with pytest.raises(ValueError, match="unknown peer-check profile"):
        peer.run_peer_check("paper", peer_path=tmp_path)


def test_the_real_peer_check_on_the_smoke_profile(tmp_path, monkeypatch):
    # Needs the authors' code (QORNN_PEER_HADAMRNN or ../shared/peers/hadamRNN) and the peer extra.
    try:
        peer.load_peer()
    except peer.PeerUnavailable as err:
        pytest.skip(str(err))
    monkeypatch.setenv("QORNN_MNIST", str(write_mnist_idx(tmp_path / "mnist")))
    record = peer.run_peer_check("smoke", progress=False)
    assert set(record["runs"]) == {"n16-learned-signs", "n16-frozen-signs", "n16-m4-learned-signs",
                                   "n16-m4-frozen-signs"}
    assert record["runs"]["n16-m4-frozen-signs"]["config"]["block"] == 4
    assert "block" not in record["runs"]["n16-frozen-signs"]["config"]
    for run in record["runs"].values():
        for diffs in run["gradient_check"].values():
            assert max(diffs.values()) < 1e-4, diffs
        first = run["curves"]["authors"]["loss"][0]
        assert first == pytest.approx(run["curves"]["qornn"]["loss"][0], rel=1e-4)
        assert run["config"]["peer"]["commit"]


def test_a_trained_copy_model_is_evaluated_by_both_codes_and_recorded(monkeypatch):
    from types import SimpleNamespace

    from qornn import experiments, results
    from qornn.experiments import get_config

    config = get_config("copy", "paper").run_config("hadamrnn", 0)
    config["task_options"] = {"length": 30, "symbols": 4, "train_size": 8, "val_size": 8, "test_size": 10}
    config["model"] = {**config["model"], "hidden_size": 16}
    results.save_run("copy", "paper", "hadamrnn", {
        "config": config, "config_hash": results.config_hash(config), "history": [],
        "test": {"loss": 0.1, "recall_accuracy": 0.0}, "baselines": {}, "size_bits": 1,
        "provenance": {"commit": "89abcdef01234567", "dirty": False, "profile": "paper", "seed": 0,
                       "device": "cpu", "wall_time_s": 1.0, "date": "2026-12-04T08:00:00+00:00"}})
    torch.manual_seed(5)
    trained = build_model("hadamrnn", input_size=10, output_size=9, hidden_size=16, bits=4, many_to_many=True)
    loads = []
    monkeypatch.setattr(experiments, "load_trained", lambda *a, **k: loads.append(a) or trained)

    def binadam(input_size, n, output_size, *, manytomany, **_):
        return StandIn(n, input_size, output_size, many_to_many=manytomany)

    monkeypatch.setattr(peer, "load_peer", lambda path=None: SimpleNamespace(BinadamSSM=binadam))
    record = peer.check_trained_copy_models("smoke")
    run = record["runs"][report.copy_check_name("hadamrnn", 0)]
    assert run["config"]["source"] == {"experiment": "copy", "profile": "paper", "run": "hadamrnn",
                                       "seed": 0, "config_hash": results.config_hash(config)}
    test = run["test"]
    assert test["loss"] == pytest.approx(test["authors_loss"], rel=1e-5)
    assert test["loss_relative_difference"] < 1e-5
    assert test["recall_accuracy"] == test["authors_recall_accuracy"]
    assert test["loss"] > 1.0  # an untrained model: far from solving it, and both codes agree on that
    # recorded for this source record by unchanged code: not evaluated again; by changed code: again
    monkeypatch.setattr(results, "code_changed_since", lambda run, *a, **k: None)
    peer.check_trained_copy_models("smoke")
    assert len(loads) == 1
    monkeypatch.setattr(results, "code_changed_since", lambda run, *a, **k: "qornn/ has changed since")
    peer.check_trained_copy_models("smoke")
    assert len(loads) == 2


@pytest.mark.parametrize("block", [None, 16])
def test_the_authors_copy_network_computes_ours_with_the_same_parameters(block):
    # Needs the authors' code; the many-to-many copy config, full Hadamard or blocks of 16
    try:
        authors = peer.load_peer()
    except peer.PeerUnavailable as err:
        pytest.skip(str(err))
    torch.manual_seed(1)
    name, options = ("hadamrnn", {}) if block is None else ("block-hadamrnn", {"block": block})
    ours = build_model(name, input_size=10, output_size=9, hidden_size=32, bits=4, many_to_many=True,
                       **options).eval()
    theirs = peer.build_peer_model(authors, 32, input_size=10, output_size=9, many_to_many=True, block=block)
    peer.copy_parameters(ours, theirs, peer.PEER_PARAMETERS)
    x = torch.randint(0, 10, (4, 25))
    with torch.no_grad():
        assert peer.relative_difference(ours(x), theirs(nn.functional.one_hot(x, 10).float())) < 1e-5
