"""The small transformer baseline: positions, shapes, token input, size in bits, and that it learns."""

from __future__ import annotations

import math

import pytest
import torch

from qornn.models import build_model
from qornn.models.transformer import TransformerClassifier, sinusoidal_positions


def test_sinusoidal_positions_follow_the_formula():
    table = sinusoidal_positions(7, 6)
    for t in range(7):
        for i in range(3):
            angle = t / 10_000 ** (2 * i / 6)
            assert table[t, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[t, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert sinusoidal_positions(4, 5).shape == (4, 5)  # odd width: the last column is a sine


def test_size_is_32_bits_a_parameter_and_matches_hadamrnn_on_pmnist():
    model = build_model("transformer", input_size=1, output_size=10, hidden_size=12, feedforward=14)
    assert model.size_bits() == 32 * sum(p.numel() for p in model.parameters()) == 38_784
    hadamrnn = build_model("hadamrnn", input_size=1, output_size=10, hidden_size=512, bits=4)
    assert abs(model.size_bits() - hadamrnn.size_bits()) / hadamrnn.size_bits() < 0.03


def test_float_and_token_inputs_agree():
    model = TransformerClassifier(5, 3, 8, heads=2)
    tokens = torch.randint(0, 5, (4, 9))
    one_hot = torch.nn.functional.one_hot(tokens, 5).float()
    assert model(tokens).shape == (4, 3)
    torch.testing.assert_close(model(tokens), model(one_hot))


def test_the_output_does_not_depend_on_the_batch():
    model = TransformerClassifier(2, 3, 8)
    x = torch.randn(5, 11, 2)
    torch.testing.assert_close(model(x)[1:2], model(x[1:2]))


@pytest.mark.parametrize(("options", "match"), [
    ({"hidden_size": 10, "heads": 3}, "multiple of heads=3"),
    ({"hidden_size": 8, "layers": 0}, "layers must be a positive int"),
    ({"hidden_size": 8, "many_to_many": True}, "many_to_many"),
])
def test_bad_options_name_the_value(options, match):
    with pytest.raises(ValueError, match=match):
        build_model("transformer", input_size=1, output_size=2, **options)


def test_it_learns_to_tell_the_first_token():
    torch.manual_seed(0)
    model = TransformerClassifier(1, 2, 8)
    x = torch.randn(64, 6, 1)
    y = (x[:, 0, 0] > 0).long()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(x).argmax(1) == y).float().mean() > 0.9
