import math

import pytest
import torch

from qornn.hadamard import sylvester_hadamard
from qornn.models import (
    HadamardWeight,
    OrthogonalWeight,
    RecurrentNet,
    build_model,
    dense_recurrence,
    model_names,
    model_size_bits,
)


def orthogonality_error(w: torch.Tensor) -> float:
    return (w.T @ w - torch.eye(w.shape[0], dtype=w.dtype)).abs().max().item()


@pytest.mark.parametrize("n", [1, 2, 16, 128])
def test_hadamard_weight_is_orthogonal_for_any_u_including_zeros(n):
    weight = HadamardWeight(n)
    with torch.no_grad():
        weight.u.copy_(torch.randn(n))
        weight.u[::3] = 0.0  # sign(0) must be +1, not 0
    w = weight.matrix()
    assert orthogonality_error(w) < 1e-5
    torch.testing.assert_close(w.abs(), torch.full((n, n), 1 / math.sqrt(n)))


def test_hadamard_weight_equals_diag_sign_times_h():
    weight = HadamardWeight(8)
    s = torch.where(weight.u >= 0, 1.0, -1.0)
    torch.testing.assert_close(weight.matrix(), torch.diag(s) @ sylvester_hadamard(8) / math.sqrt(8))


def test_block_hadamard_weight_is_sparse_ternary_and_orthogonal():
    weight = HadamardWeight(64, block=16)
    w = weight.matrix()
    assert orthogonality_error(w) < 1e-5
    assert (w != 0).float().mean().item() == pytest.approx(16 / 64)
    assert set((w * 4).round().unique().tolist()) == {-1.0, 0.0, 1.0}


def test_ste_gradient_reaches_u_and_constraints_clamp_it():
    model = build_model("hadamrnn", input_size=3, output_size=2, hidden_size=8)
    model(torch.randn(4, 5, 3)).sum().backward()
    assert model.recurrent.u.grad is not None and model.recurrent.u.grad.abs().sum() > 0
    with torch.no_grad():
        model.recurrent.u.mul_(10)
    model.apply_constraints_()
    assert model.recurrent.u.abs().max() <= 1.0


def test_without_the_clamp_u_leaves_the_unit_interval_and_w_keeps_its_signs():
    """clamp_signs=False trains as the authors' released step does: u is left where the optimiser
    puts it; W depends on u's signs only, so the recurrence is the same."""
    model = build_model("hadamrnn", input_size=3, output_size=2, hidden_size=8, clamp_signs=False)
    with torch.no_grad():
        model.recurrent.u.mul_(-10)
    w = model.recurrent.matrix().clone()
    u = model.recurrent.u.detach().clone()
    model.apply_constraints_()
    assert torch.equal(model.recurrent.u.detach(), u) and u.abs().max() > 1.0
    assert torch.equal(model.recurrent.matrix(), w)
    assert model.recurrent.diagnostics()["mean_abs_u"] == pytest.approx(u.abs().mean().item())
    with pytest.raises(ValueError, match="clamp_signs.*'off'"):
        build_model("block-hadamrnn", input_size=3, output_size=2, hidden_size=8, block=4, clamp_signs="off")


def test_orthogonal_weight_stays_orthogonal_after_a_step():
    weight = OrthogonalWeight(16)
    opt = torch.optim.SGD(weight.parameters(), lr=0.5)
    (weight.matrix().sum() ** 2).backward()
    opt.step()
    # float32 matrix exponential of a large skew-symmetric matrix: round-off of order 1e-5
    assert orthogonality_error(weight.matrix()) < 1e-4


@pytest.mark.parametrize("nonlinearity", ["linear", "relu", "tanh"])
def test_recurrence_matches_a_step_by_step_loop(nonlinearity):
    a = torch.randn(6, 3, 4, dtype=torch.float64)
    w = torch.randn(4, 4, dtype=torch.float64)
    h = torch.zeros(3, 4, dtype=torch.float64)
    expected = []
    for t in range(6):
        h = w @ h.T + a[t].T
        h = {"linear": h.T, "relu": torch.relu(h.T), "tanh": torch.tanh(h.T)}[nonlinearity]
        expected.append(h)
    torch.testing.assert_close(dense_recurrence(a, w, nonlinearity), torch.stack(expected))


def test_token_input_equals_one_hot_input():
    model = build_model("hadamrnn", input_size=10, output_size=9, hidden_size=16, many_to_many=True)
    tokens = torch.randint(0, 10, (3, 12))
    one_hot = torch.nn.functional.one_hot(tokens, 10).float()
    torch.testing.assert_close(model(tokens), model(one_hot))
    assert model(tokens).shape == (3, 12, 9)


def test_many_to_one_output_shape():
    model = build_model("ornn", input_size=1, output_size=10, hidden_size=8)
    assert model(torch.randn(5, 20, 1)).shape == (5, 10)


def test_model_size_bits_matches_a_hand_count():
    # HadamRNN n=8, d=3 inputs, 2 outputs, 4-bit U and V:
    #   W: 8 sign bits; U: 8·3·4 + 32 (scale) ; b: 8·32 ; V: 2·8·4 + 32 ; c: 2·32
    model = build_model("hadamrnn", input_size=3, output_size=2, hidden_size=8, bits=4)
    assert model_size_bits(model) == 8 + (96 + 32) + 256 + (64 + 32) + 64
    # float ORNN: everything 32 bits
    ornn = build_model("ornn", input_size=3, output_size=2, hidden_size=8)
    assert model_size_bits(ornn) == 32 * (64 + 24 + 8 + 16 + 2)


def test_unknown_model_and_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'hadamard'.*hadamrnn"):
        build_model("hadamard", input_size=1, output_size=1, hidden_size=8)
    with pytest.raises(ValueError, match="power of two.*got 100"):
        build_model("hadamrnn", input_size=1, output_size=1, hidden_size=100)
    with pytest.raises(ValueError, match="bits=1"):
        build_model("hadamrnn", input_size=1, output_size=1, hidden_size=8, bits=1)
    with pytest.raises(ValueError, match="bad options for model 'ornn'"):
        build_model("ornn", input_size=1, output_size=1, hidden_size=8, bits=4)
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        build_model("ornn", input_size=1, output_size=1, hidden_size=8, nonlinearity="tanhh")
    assert {"hadamrnn", "block-hadamrnn", "ornn"} <= set(model_names())


def test_bad_input_shapes_are_clear_errors():
    model = build_model("ornn", input_size=2, output_size=1, hidden_size=4)
    with pytest.raises(ValueError, match=r"\(batch, time, 2\)"):
        model(torch.randn(3, 5, 7))
    assert isinstance(model, RecurrentNet)


def test_fixed_signs_keep_w_and_still_train_u_v():
    torch.manual_seed(0)
    model = build_model("hadamrnn", input_size=3, output_size=4, hidden_size=16, bits=4,
                        many_to_many=True, learn_signs=False)
    w0 = model.recurrent.matrix().clone()
    readout0 = model.readout.weight.detach().clone()
    opt = torch.optim.Adam(model.parameters(), 0.1)
    for _ in range(3):
        loss = model(torch.randn(2, 7, 3)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.apply_constraints_()
    assert torch.equal(model.recurrent.matrix(), w0) and model.recurrent.u.grad is None
    assert not torch.equal(model.readout.weight.detach(), readout0)
    assert "fixed signs" in repr(model.recurrent)
    with pytest.raises(ValueError, match="learn_signs.*'no'"):
        build_model("hadamrnn", input_size=3, output_size=4, hidden_size=16, learn_signs="no")


def test_hadamrnn_counts_sign_flips_per_step():
    model = build_model("hadamrnn", input_size=2, output_size=2, hidden_size=8)
    with torch.no_grad():
        model.recurrent.u.copy_(torch.tensor([0.5, -0.5, 0.1, -0.1, 0.2, 0.3, -0.4, 0.6]))
    model.apply_constraints_()  # the first step only takes the reference signs
    with torch.no_grad():
        model.recurrent.u[:3] *= -1  # three flips
    model.apply_constraints_()
    model.apply_constraints_()  # no flip
    out = model.diagnostics()
    assert out["sign_flips_per_step"] == 1.5
    assert out["mean_abs_u"] == pytest.approx(2.7 / 8)
    assert "sign_flips_per_step" not in model.diagnostics()  # counters reset, no step since
    assert build_model("ornn", input_size=2, output_size=2, hidden_size=8).diagnostics() == {}


def test_hadamrnn_recurrent_bias_starts_as_the_authors_and_zero_stays_an_option():
    """The authors' recurrent layer is an nn.Linear(n, n): its bias b starts uniform in ±1/√n."""
    torch.manual_seed(0)
    n = 64
    model = build_model("hadamrnn", input_size=1, output_size=10, hidden_size=n)
    b = model.input.bias.detach()
    assert model.recurrent_bias_init == "uniform"
    assert b.abs().max() <= 1 / n ** 0.5 and b.abs().min() > 0 and b.std() > 0.3 / n ** 0.5
    zero = build_model("block-hadamrnn", input_size=1, output_size=10, hidden_size=n, block=8,
                       recurrent_bias_init="zero")
    assert torch.count_nonzero(zero.input.bias) == 0
    ornn = build_model("ornn", input_size=1, output_size=10, hidden_size=8)
    assert torch.count_nonzero(ornn.input.bias) == 0
    with pytest.raises(ValueError, match="recurrent_bias_init 'gauss'"):
        build_model("hadamrnn", input_size=1, output_size=10, hidden_size=n, recurrent_bias_init="gauss")


@pytest.mark.parametrize("nonlinearity", ["linear", "relu", "tanh"])
@pytest.mark.parametrize("last_only", [False, True])
def test_dense_recurrence_backward_is_autograds_bit_for_bit(nonlinearity, last_only):
    # the hand-written backward against autograd through the same step-by-step loop: equal gradients
    # (torch.equal, not allclose), for W reached through a parametrization as in STE-Björck
    from qornn.models.recurrent import _dense_states

    torch.manual_seed(3)
    T, B, n = 40, 5, 16
    latent = torch.randn(n, n, requires_grad=True)
    x = torch.randn(T, B, 3, requires_grad=True)
    u = torch.randn(n, 3, requires_grad=True)
    upstream = torch.randn(B, n) if last_only else torch.randn(T, B, n)
    grads = []
    for fused in (True, False):
        w = torch.linalg.qr(latent)[0]
        a = (x @ u.t()).transpose(0, 1).transpose(0, 1)  # a view, as the networks pass it
        if fused:
            states = dense_recurrence(a, w, nonlinearity)
        else:
            states = _dense_states(a, w, nonlinearity, a.new_zeros(B, n))
        out = states[-1] if last_only else states
        grads.append((out.detach(), *torch.autograd.grad(out, (latent, x, u), upstream)))
    for mine, autograds in zip(grads[0], grads[1], strict=True):
        assert torch.equal(mine, autograds)
    with torch.no_grad():  # no gradient needed: the plain loop, the same states
        assert torch.equal(dense_recurrence(a, w, nonlinearity), states)


@pytest.mark.parametrize("nonlinearity", ["linear", "relu", "tanh"])
def test_dense_recurrence_overwriting_its_input_gives_the_same_bits(nonlinearity):
    # overwrite=True writes the states into a (the network's own temporary) instead of a new tensor:
    # the same states and gradients, bit for bit, with and without a gradient
    torch.manual_seed(4)
    T, B, n = 30, 4, 16
    latent = torch.randn(n, n, requires_grad=True)
    x = torch.randn(T, B, 3, requires_grad=True)
    u = torch.randn(n, 3, requires_grad=True)
    upstream = torch.randn(T, B, n)
    outs = []
    for overwrite in (False, True):
        w = torch.linalg.qr(latent)[0]
        a = torch.matmul(x, u.t())  # contiguous (T, B, n), not needed after the recurrence
        states = dense_recurrence(a, w, nonlinearity, overwrite=overwrite)
        assert (states.data_ptr() == a.data_ptr()) == overwrite
        outs.append((states.detach().clone(), *torch.autograd.grad(states, (latent, x, u), upstream)))
    for first, second in zip(*outs, strict=True):
        assert torch.equal(first, second)
    with torch.no_grad():
        a = torch.matmul(x, u.t())
        kept = a.clone()
        assert torch.equal(dense_recurrence(a.clone(), w, nonlinearity, overwrite=True), outs[0][0])
        assert torch.equal(dense_recurrence(a, w, nonlinearity), outs[0][0]) and torch.equal(a, kept)
        # a view that is not contiguous is left alone: a new tensor holds the states
        view = kept.transpose(0, 1).contiguous().transpose(0, 1)
        assert torch.equal(dense_recurrence(view, w, nonlinearity, overwrite=True), outs[0][0])
        assert torch.equal(view, kept)


def test_token_preactivations_are_the_lookup_plus_bias_bit_for_bit():
    # one lookup in the table U^T + b, against F.embedding(x, U^T) + b under autograd: the same
    # values and the same gradients for U and b (torch.equal)
    from qornn.models.network import _TokenPreactivations

    torch.manual_seed(5)
    T, B, d, n = 50, 6, 10, 32
    tokens = torch.randint(0, d, (B, T))
    u = torch.randn(n, d, requires_grad=True)
    b = torch.randn(n, requires_grad=True)
    upstream = torch.randn(T, B, n)
    mine = _TokenPreactivations.apply(tokens.t(), u.t(), b)
    reference = torch.nn.functional.embedding(tokens.t(), u.t()) + b
    assert torch.equal(mine, reference)
    for g, h in zip(torch.autograd.grad(mine, (u, b), upstream),
                    torch.autograd.grad(reference, (u, b), upstream), strict=True):
        assert torch.equal(g, h)
