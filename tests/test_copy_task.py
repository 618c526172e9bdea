import math

import pytest
import torch

from qornn.tasks import CopyTask, build_task, memoryless_cross_entropy


def test_layout_of_a_copy_sequence():
    task = CopyTask(length=30, symbols=5, train_size=8, val_size=4, test_size=4, seed=1)
    x, y = task.batch("train", torch.arange(8))
    assert x.shape == y.shape == (8, 30) and x.dtype == torch.long
    symbols = x[:, :5]
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert (x[:, 5:25] == 0).all() and (x[:, 25] == 9).all() and (x[:, 26:] == 0).all()
    assert (y[:, :25] == 0).all() and torch.equal(y[:, 25:], symbols)


def test_memoryless_baseline_value():
    assert memoryless_cross_entropy(1000) == pytest.approx(10 * math.log(8) / 1000)
    task = CopyTask(length=100, symbols=10, train_size=1, val_size=1, test_size=1)
    assert task.baselines()["memoryless_cross_entropy"] == pytest.approx(0.2079441541679836)


def test_memoryless_baseline_is_the_loss_of_the_memoryless_predictor():
    task = CopyTask(length=40, symbols=5, train_size=64, val_size=4, test_size=4)
    x, y = task.batch("train", torch.arange(64))
    logits = torch.full((64, 40, 9), -1e9)
    logits[:, :35, 0] = 0  # blank, with certainty
    logits[:, 35:, 1:] = 0  # uniform over the 8 symbols
    assert task.loss(logits, y).item() == pytest.approx(memoryless_cross_entropy(40, 5), rel=1e-6)


def test_same_seed_same_data_and_splits_differ():
    a = CopyTask(length=30, symbols=5, train_size=16, val_size=16, test_size=16, seed=3)
    b = CopyTask(length=30, symbols=5, train_size=16, val_size=16, test_size=16, seed=3)
    idx = torch.arange(16)
    assert torch.equal(a.batch("train", idx)[0], b.batch("train", idx)[0])
    assert not torch.equal(a.batch("train", idx)[0], a.batch("val", idx)[0])


@pytest.mark.parametrize("options,match", [
    ({"length": 20, "symbols": 10}, "must exceed twice"),
    ({"length": 0}, "length must be a positive int"),
    ({"train_size": -5}, "train_size"),
])
def test_bad_copy_options(options, match):
    with pytest.raises(ValueError, match=match):
        CopyTask(**options)


def test_unknown_task_and_split():
    with pytest.raises(ValueError, match="unknown task 'cpy'.*copy"):
        build_task("cpy")
    with pytest.raises(ValueError, match="unknown split"):
        CopyTask(length=30, symbols=5, train_size=4, val_size=4, test_size=4).num_samples("dev")


def test_sequence_cross_entropy_is_the_flat_cross_entropy_and_its_gradient():
    import torch.nn.functional as F

    from qornn.tasks.base import sequence_cross_entropy

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 37, 9, generator=gen, dtype=torch.float64)
    target = torch.randint(0, 9, (5, 37), generator=gen)
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    flat = F.cross_entropy(a.reshape(-1, 9), target.reshape(-1))
    ours = sequence_cross_entropy(b, target)
    flat.backward()
    ours.backward()
    assert torch.allclose(ours, flat, rtol=1e-14, atol=0)
    assert torch.allclose(b.grad, a.grad, rtol=1e-12, atol=1e-15)
