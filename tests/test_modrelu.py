"""modReLU, the recurrence of the QORNN authors' QRNN: the function, the hand-written backward of the
dense recurrence against autograd, and the network options that go with it (no recurrence bias,
readout without ReLU)."""

import pytest
import torch

from qornn.export import load_packed, save_packed
from qornn.models import build_model, dense_recurrence
from qornn.models.recurrent import MODRELU_EPS, _dense_states, modrelu


def test_modrelu_keeps_the_sign_and_shrinks_the_magnitude():
    z = torch.tensor([-2.0, -0.5, 0.0, 0.3, 2.0])
    b = torch.tensor([-1.0, -1.0, 0.5, -1.0, 0.5])
    expected = torch.tensor([-(1.0 + MODRELU_EPS), 0.0, 0.0, 0.0, 2.5 + MODRELU_EPS])
    torch.testing.assert_close(modrelu(z, b), expected)


def test_modrelu_without_eps_is_the_shrink_of_the_activation_quantized_networks():
    z = torch.tensor([-2.0, -0.5, 0.0, 0.3, 2.0])
    b = torch.tensor([-1.0, -1.0, 0.5, -1.0, 0.5])
    torch.testing.assert_close(modrelu(z, b, eps=0.0), torch.tensor([-1.0, 0.0, 0.0, 0.0, 2.5]),
                               rtol=0, atol=0)
    assert torch.equal(modrelu(z, 0.0, eps=0.0), z)  # a bias of 0 off the grid: the identity


@pytest.mark.parametrize("last_only", [False, True])
def test_dense_modrelu_backward_equals_autograd(last_only):
    # the hand-written backward (δ passes where h ≠ 0; ∂b = Σ δ sign h) against autograd through
    # the step-by-step loop, in float64, for W, the inputs and modReLU's bias
    torch.manual_seed(3)
    T, B, n = 40, 5, 16
    latent = torch.randn(n, n, dtype=torch.float64, requires_grad=True)
    x = torch.randn(T, B, 3, dtype=torch.float64, requires_grad=True)
    u = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    b = (torch.rand(n, dtype=torch.float64) - 0.7).requires_grad_()
    upstream = torch.randn(*((B, n) if last_only else (T, B, n)), dtype=torch.float64)
    results = []
    for fused in (True, False):
        w = torch.linalg.qr(latent)[0]
        a = torch.matmul(x, u.t())
        states = (dense_recurrence(a, w, "modrelu", bias=b, overwrite=True) if fused
                  else _dense_states(a, w, "modrelu", a.new_zeros(B, n), b))
        out = states[-1] if last_only else states
        results.append((out.detach().clone(), *torch.autograd.grad(out, (latent, x, u, b), upstream)))
    assert (results[1][0] == 0).any() and (results[1][0] < 0).any()  # the test reaches both cases
    for mine, autograds in zip(*results, strict=True):
        torch.testing.assert_close(mine, autograds, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # no gradient needed: the in-place loop, the same states
        a = torch.matmul(x, u.t())
        torch.testing.assert_close(dense_recurrence(a, w, "modrelu", bias=b),
                                   _dense_states(a, w, "modrelu", a.new_zeros(B, n), b), rtol=0, atol=0)


def test_modrelu_needs_its_bias_and_only_it_takes_one():
    a, w = torch.randn(3, 2, 4), torch.eye(4)
    with pytest.raises(ValueError, match="modReLU recurrence needs its bias"):
        dense_recurrence(a, w, "modrelu")
    with pytest.raises(ValueError, match="modReLU recurrence needs its bias"):
        dense_recurrence(a, w, "relu", bias=torch.zeros(4))


def _authors_qrnn(**options):
    return build_model("qornn-ste-bjorck", input_size=10, output_size=9, hidden_size=16, bits=6,
                       nonlinearity="modrelu", recurrent_bias=False, readout_relu=False,
                       many_to_many=True, **options)


def test_the_authors_qrnn_is_modrelu_without_recurrence_bias_read_without_relu():
    torch.manual_seed(0)
    model = _authors_qrnn()
    assert model.input.bias is None and model.modrelu_bias.abs().max() <= 0.01
    tokens = torch.randint(0, 10, (3, 25))
    # the network against the recurrence written out: h = modReLU(q(W) h + q(U)[:, x]), y = V h + c
    w, u = model.recurrent.matrix().detach(), model.input.effective_weight().detach()
    h = torch.zeros(3, 16)
    expected = []
    for t in range(25):
        h = modrelu(h @ w.t() + u[:, tokens[:, t]].t(), model.modrelu_bias.detach())
        expected.append(model.readout(h))
    torch.testing.assert_close(model(tokens).detach(), torch.stack(expected, 1).detach())
    # 32 bits for each of the n modReLU biases, none for the missing recurrence bias
    def relu_net(**options):
        return build_model("qornn-ste-bjorck", input_size=10, output_size=9, hidden_size=16, bits=6,
                           **options)

    no_bias = relu_net(recurrent_bias=False)
    assert relu_net().size_bits() - no_bias.size_bits() == 32 * 16  # b
    assert model.size_bits() - no_bias.size_bits() == 32 * 16  # m
    loss = model(tokens).square().mean()
    loss.backward()
    assert model.modrelu_bias.grad is not None and model.modrelu_bias.grad.abs().sum() > 0


def test_the_authors_qrnn_packs_and_loads_to_the_same_outputs(tmp_path):
    torch.manual_seed(1)
    model = _authors_qrnn().eval()
    build = {"model": "qornn-ste-bjorck", "input_size": 10, "output_size": 9, "hidden_size": 16, "bits": 6,
             "nonlinearity": "modrelu", "recurrent_bias": False, "readout_relu": False, "many_to_many": True}
    save_packed(model, tmp_path / "m.npz", build)
    tokens = torch.randint(0, 10, (2, 30))
    with torch.no_grad():
        assert torch.equal(load_packed(tmp_path / "m.npz")(tokens), model(tokens))


@pytest.mark.parametrize("option, value", [("recurrent_bias", 0), ("readout_relu", "no")])
def test_the_new_switches_refuse_what_is_not_a_bool(option, value):
    with pytest.raises(ValueError, match=f"{option} must be True or False, got {value!r}"):
        build_model("ornn-bjorck", input_size=2, output_size=2, hidden_size=4, **{option: value})
