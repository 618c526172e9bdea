"""QORNN recurrent weights, PTQ, activation PTQ, Hadamard theory and the model registry."""

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qornn.models import (
    MODELS,
    ActivationQuantizedNet,
    ActivationRanges,
    BjorckWeight,
    FixedQuantizedWeight,
    PenaltyWeight,
    ProjUNNWeight,
    RecurrentNet,
    build_model,
    calibrate_activations,
    integer_weights,
    model_size_bits,
    quantize_post_training,
)
from qornn.models.hadamard_theory import (
    binary_orthogonal_matrix,
    hadamard_matrix,
    hadamard_order_possible,
    orthogonal_ternary_matrix,
    ternary_sparsity,
)
from qornn.orthogonal import orthogonality_error
from qornn.quantize import uniform_quantize
from qornn.tasks import CopyTask


@pytest.fixture(autouse=True)
def one_thread():
    """Small matrices: one thread is faster, and leaves the other core to whoever needs it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(model, steps=25, lr=1e-2, hidden_task=None):
    task = hidden_task or CopyTask(length=30, symbols=3, train_size=64, val_size=8, test_size=8, seed=0)
    x, y = task.batch("train", torch.arange(64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = task.loss(model(x), y)
        loss.backward()
        opt.step()
        model.apply_constraints_()
        losses.append(loss.item())
    return losses


def _build(name, **options):
    if name == "block-hadamrnn":
        options.setdefault("block", 4)
    return build_model(name, input_size=CopyTask.input_size, output_size=CopyTask.output_size,
                       hidden_size=16, many_to_many=True, **options)


# -- every registered model trains -----------------------------------------------------------------
# The transformer gives one output per sequence (no copy task): tests/test_transformer.py trains it.
@pytest.mark.parametrize("name", sorted(set(MODELS) - {"transformer"}))
def test_every_registered_model_trains_on_a_tiny_copy_task(name):
    torch.manual_seed(0)
    model = _build(name)
    losses = _train(model)
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.8 * losses[0], losses


# -- the mechanisms keep W orthogonal --------------------------------------------------------------
@pytest.mark.parametrize("bits", [None, 4])
def test_bjorck_weight_is_orthogonal_before_quantization(bits):
    torch.manual_seed(0)
    model = _build("ornn-bjorck" if bits is None else "qornn-ste-bjorck", **({} if bits is None else
                                                                            {"bits": bits}))
    _train(model, steps=10)
    w = model.recurrent.orthogonal_matrix()
    assert orthogonality_error(w) < 1e-3
    if bits is None:
        torch.testing.assert_close(model.recurrent.matrix(), w)


@pytest.mark.parametrize("variant", ["D", "T"])
@pytest.mark.parametrize("rank", [1, 3, None])
def test_projunn_weight_stays_orthogonal_during_training(variant, rank):
    torch.manual_seed(0)
    model = _build("qornn-ste-projunn", bits=5, variant=variant, rank=rank)
    w0 = model.recurrent.weight.detach().clone()
    _train(model, steps=10)
    w = model.recurrent.weight.detach()
    assert orthogonality_error(w) < 1e-5
    assert not torch.equal(w, w0)  # it moved
    torch.testing.assert_close(model.recurrent.anchor, w)


def test_projunn_weight_with_sgd_is_the_projunn_step():
    """With SGD the optimiser's update is lr·G, so one step equals projunn_step(W, G, lr)."""
    from qornn.orthogonal import projunn_step

    torch.manual_seed(0)
    weight = ProjUNNWeight(8, None, rank=2, variant="T")
    w0 = weight.weight.detach().clone()
    g = torch.randn(8, 8)
    weight.weight.grad = g.clone()
    torch.optim.SGD(weight.parameters(), lr=0.1).step()
    weight.apply_constraints_()
    torch.testing.assert_close(weight.weight.detach(), projunn_step(w0, g, lr=0.1, rank=2, variant="T"))


def test_penalty_gradient_is_that_of_the_penalty_term():
    torch.manual_seed(0)
    weight = PenaltyWeight(6, bits=None, penalty=0.7)
    with torch.no_grad():
        weight.weight.add_(0.1 * torch.randn(6, 6))
    g = torch.randn(6, 6)
    (weight.matrix() * g).sum().backward()
    got = weight.weight.grad.clone()
    weight.weight.grad = None
    ((weight.weight * g).sum() + weight.penalty()).backward()
    torch.testing.assert_close(got, weight.weight.grad)


def test_penalty_pulls_a_perturbed_matrix_back_towards_orthogonal():
    torch.manual_seed(0)
    model = _build("qornn-penalty", bits=6, penalty=10.0)
    with torch.no_grad():
        model.recurrent.weight.add_(0.2 * torch.randn(16, 16))
    before = orthogonality_error(model.recurrent.weight)
    _train(model, steps=20)
    assert orthogonality_error(model.recurrent.weight) < 0.5 * before


# -- quantizers: levels, idempotence, STE ----------------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(bits=st.integers(2, 8), seed=st.integers(0, 10_000))
def test_quantized_recurrent_weights_have_at_most_2k_levels(bits, seed):
    torch.manual_seed(seed)
    for weight in (BjorckWeight(8, bits), ProjUNNWeight(8, bits), PenaltyWeight(8, bits)):
        w = weight.matrix().detach()
        assert w.unique().numel() <= 2**bits
        base = weight.orthogonal_matrix() if isinstance(weight, BjorckWeight) else weight.weight
        step = base.detach().abs().max() / 2 ** (bits - 1)  # α/2^(k−1), α = max|w| before q_k
        torch.testing.assert_close(w / step, torch.round(w / step), atol=1e-4, rtol=0)
        levels = torch.round(w / step)
        assert levels.min() >= -(2 ** (bits - 1)) and levels.max() <= 2 ** (bits - 1) - 1


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_ptq_weights_are_idempotent_with_their_stored_scale(bits):
    torch.manual_seed(0)
    w = torch.randn(8, 8)
    fixed = FixedQuantizedWeight(w, bits)
    q = fixed.matrix()
    torch.testing.assert_close(uniform_quantize(q, bits, fixed.alpha), q)
    assert float(fixed.alpha) == pytest.approx(float(w.abs().max()))
    torch.testing.assert_close(fixed.integer_matrix().float() * fixed.alpha / 2 ** (bits - 1), q)


@pytest.mark.parametrize("cls", [BjorckWeight, ProjUNNWeight, PenaltyWeight])
def test_ste_gradient_is_the_identity_through_the_quantizer(cls):
    torch.manual_seed(0)
    float_w, quant_w = cls(6, None), cls(6, 3)
    quant_w.load_state_dict(float_w.state_dict())
    g = torch.randn(6, 6)
    (float_w.matrix() * g).sum().backward()
    (quant_w.matrix() * g).sum().backward()
    torch.testing.assert_close(quant_w.weight.grad, float_w.weight.grad)
    assert not torch.allclose(quant_w.matrix(), float_w.matrix())


@pytest.mark.parametrize("name", ["qornn-ste-bjorck", "qornn-ste-projunn", "qornn-penalty"])
def test_quantized_w_is_built_once_per_forward_pass_not_once_per_time_step(name, monkeypatch):
    # Björck and q_k cost O(n³) and O(n²): once per sequence batch, never inside the time loop.
    model = build_model(name, input_size=2, output_size=3, hidden_size=8, bits=4)
    cls, calls = type(model.recurrent), []
    original = cls.matrix
    monkeypatch.setattr(cls, "matrix", lambda self: calls.append(1) or original(self))
    model(torch.randn(2, 30, 2)).sum().backward()
    assert len(calls) == 1


# -- PTQ and activation PTQ ------------------------------------------------------------------------
def test_post_training_quantization_quantizes_w_and_u_and_leaves_the_model():
    torch.manual_seed(0)
    model = _build("ornn-bjorck")
    _train(model, steps=5)
    x = torch.randint(0, 10, (4, 30))
    before = model(x).detach()
    q = quantize_post_training(model, 4)
    torch.testing.assert_close(model(x).detach(), before)
    assert isinstance(q.recurrent, FixedQuantizedWeight)
    assert q.recurrent.matrix().unique().numel() <= 16
    assert q.input.effective_weight().unique().numel() <= 16
    assert q.readout.bits is None  # the paper quantizes W and U
    w = model.recurrent.matrix().detach()
    assert float(q.recurrent.alpha) == pytest.approx(float(w.abs().max()))
    q8 = quantize_post_training(model, 8)
    assert (q8(x) - before).abs().max() < (q(x) - before).abs().max()
    ints = integer_weights(q)
    assert set(ints) == {"W", "U"} and ints["W"][0].abs().max() <= 8


def test_ptq_of_a_model_in_training_mode_quantizes_the_matrix_its_weights_give():
    """Fresh from training, a Björck model is in training mode, where reading W moves its power
    iteration vector: PTQ reads it in eval mode, so every width quantizes one matrix, the one its
    packed weights (loaded in eval mode) give, and the source keeps its vector."""
    torch.manual_seed(0)
    model = _build("ornn-bjorck")
    _train(model, steps=5)
    model.train()
    u = model.recurrent.power_u.clone()
    reference = copy.deepcopy(model).eval()
    first, second = quantize_post_training(model, 4), quantize_post_training(model, 4)
    torch.testing.assert_close(model.recurrent.power_u, u, rtol=0, atol=0)
    assert model.training and model.recurrent.training
    for q in (first, second):
        torch.testing.assert_close(q.recurrent.weight, quantize_post_training(reference, 4).recurrent.weight,
                                   rtol=0, atol=0)


def test_ptq_quantizes_w_inside_a_text_embedding():
    torch.manual_seed(0)
    model = build_model("ornn-bjorck", input_size=50, output_size=2, hidden_size=8, embedding_size=4)
    q = quantize_post_training(model, 4)
    assert isinstance(q.model.recurrent, FixedQuantizedWeight)
    assert q.size_bits() < quantize_post_training(build_model("lstm", input_size=50, output_size=2,
                                                              hidden_size=8, embedding_size=4), 4).size_bits()


@pytest.mark.parametrize(("name", "options", "message"), [
    ("ornn-bjorck", {"iters": 0}, "Björck iters must be an int >= 1, got 0"),
    ("ornn-bjorck", {"beta": 2.0}, r"Björck beta must be a number in \(0, 0.5\], got 2.0"),
    ("ornn-bjorck", {"tol": -1.0}, "Björck tol must be a finite number >= 0, got -1.0"),
    ("ornn-bjorck", {"power_iters": 1.5}, "power_iters must be an int >= 1, got 1.5"),
    ("ornn-projunn", {"method": "foo"}, "unknown low-rank method 'foo'; valid: svd, rsvd"),
    ("ornn-projunn", {"reproject_every": -3}, "reproject_every.*must be an int >= 0, got -3"),
])
def test_bad_orthogonality_options_fail_when_the_model_is_built(name, options, message):
    # not at the first forward or optimiser step: a run builds its models before it trains any
    with pytest.raises(ValueError, match=message):
        _build(name, **options)


def test_ptq_of_a_baseline_quantizes_every_matrix():
    model = build_model("lstm", input_size=3, output_size=2, hidden_size=8)
    q = quantize_post_training(model, 5, output_bits=5)
    assert q.input.bits == q.recurrent.bits == q.readout.bits == 5
    assert model.input.bits is None


def test_activation_ptq_puts_hidden_states_on_a_power_of_two_grid():
    torch.manual_seed(0)
    model = RecurrentNet(3, 2, BjorckWeight(8, 6), input_bits=6, nonlinearity="relu")
    xs = [torch.randn(5, 20, 3) for _ in range(2)]
    ranges = calibrate_activations(model, xs)
    net = ActivationQuantizedNet(model, ranges, act_bits=10)
    h = net.hidden_states(xs[0])
    r = 2.0 ** math.ceil(math.log2(ranges.hidden_max))
    assert r >= ranges.hidden_max and net.hidden_step == r / 2**9
    torch.testing.assert_close(h / net.hidden_step, torch.round(h / net.hidden_step))
    # with many activation bits it matches the float-activation model
    fine = ActivationQuantizedNet(model, ranges, act_bits=16)
    assert (fine(xs[0]) - model(xs[0])).abs().max() < 1e-2
    assert (net(xs[0]) - model(xs[0])).abs().max() < 0.2
    assert net.size_bits() == model.size_bits()


# -- model size --------------------------------------------------------------------------------------
def test_size_bits_match_a_hand_count():
    n, d, o, k = 16, 10, 9, 4
    w = k * n * n + 32           # k-bit recurrent matrix + its scale
    u = k * n * d + 32 + 32 * n  # k-bit input matrix + scale + float bias
    v = k * o * n + 32 + 32 * o  # k-bit readout + scale + float bias
    v_float = 32 * o * n + 32 * o
    for name in ("qornn-ste-bjorck", "qornn-ste-projunn", "qornn-penalty"):
        # QORNN: W and U quantized, V float by default
        assert model_size_bits(_build(name, bits=k)) == w + u + v_float
        assert model_size_bits(_build(name, bits=k, output_bits="same")) == w + u + v
    float_size = 32 * (n * n + n * d + n + o * n + o)
    assert model_size_bits(_build("ornn-projunn")) == float_size
    # HadamRNN: n sign bits for W, k-bit U and V
    assert model_size_bits(_build("hadamrnn", bits=k)) == n + u + v
    # PTQ: W and U
    q = quantize_post_training(_build("ornn-polar"), k)
    assert model_size_bits(q) == w + u + v_float


# -- Hadamard theory ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 4, 8, 12, 16, 20, 24, 32, 40, 44, 48, 64])
def test_binary_orthogonal_matrices_are_orthogonal_and_binary(n):
    signs = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    w = binary_orthogonal_matrix(n, signs)
    assert orthogonality_error(w) < 1e-5
    torch.testing.assert_close(w.abs(), torch.full((n, n), 1 / math.sqrt(n)))


@pytest.mark.parametrize("n", [3, 5, 6, 7, 10, 14, 18, 30, 66])
def test_the_theorem_refuses_impossible_binary_orders(n):
    assert not hadamard_order_possible(n)
    with pytest.raises(ValueError, match="mod 4"):
        binary_orthogonal_matrix(n)


def test_orders_believed_possible_but_not_constructed_say_so():
    with pytest.raises(NotImplementedError, match="conjecture"):
        hadamard_matrix(28)


@pytest.mark.parametrize("n,block", [(16, 4), (16, 16), (32, 8), (24, 12), (12, 4), (8, 1)])
def test_block_ternary_matrices_are_orthogonal_with_the_advertised_sparsity(n, block):
    w = orthogonal_ternary_matrix(n, block)
    assert orthogonality_error(w) < 1e-5
    zeros = float((w == 0).float().mean())
    assert zeros == pytest.approx(ternary_sparsity(n, block)) == pytest.approx(1 - block / n)
    assert set((w * math.sqrt(block)).round().unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert ((w != 0).sum(1) == block).all()  # a weighing matrix W(n, block)


def test_block_ternary_constructor_errors():
    with pytest.raises(ValueError, match="divide"):
        orthogonal_ternary_matrix(12, 8)
    with pytest.raises(ValueError, match="mod 4"):
        orthogonal_ternary_matrix(12, 6)


def test_block_hadamrnn_weight_agrees_with_the_checked_constructor():
    model = _build("block-hadamrnn", block=4)
    from qornn.quantize import binary_sign

    signs = binary_sign(model.recurrent.u.detach())
    torch.testing.assert_close(model.recurrent.matrix(), orthogonal_ternary_matrix(16, 4, signs))


# -- registry ----------------------------------------------------------------------------------------
def test_registry_errors_are_clear():
    with pytest.raises(ValueError, match="bits"):
        _build("qornn-ste-bjorck", bits=None)
    with pytest.raises(ValueError, match="bad options"):
        _build("ornn-bjorck", bits=4)
    with pytest.raises(ValueError, match="variant"):
        _build("qornn-ste-projunn", variant="X")
    model = build_model("qornn-ste-bjorck", bits=4, hidden_size=8, input_size=3, output_size=2)
    assert model(torch.randn(2, 5, 3)).shape == (2, 2)


# -- training loop: stateful mechanisms resume exactly ------------------------------------------------
class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("name,options", [("qornn-ste-bjorck", {"bits": 4}),
                                          ("qornn-ste-projunn", {"bits": 4, "variant": "T", "rank": 2}),
                                          ("fastgrnn", {"bits": 6})])
def test_resumed_training_equals_uninterrupted(tmp_path, name, options):
    """The power-iteration vector, the projUNN anchor and step counter are buffers in the checkpoint."""
    from qornn.train import TrainConfig, train

    def run(checkpoint=None, on_step=None):
        torch.manual_seed(0)
        task = CopyTask(length=20, symbols=2, train_size=48, val_size=16, test_size=16, seed=0)
        model = build_model(name, input_size=task.input_size, output_size=task.output_size,
                            hidden_size=8, many_to_many=True, **options)
        cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-2, checkpoint_every=2, eval_batch_size=16)
        train(model, task, cfg, seed=0, checkpoint=checkpoint, progress=False, on_step=on_step)
        return model

    reference = run()

    def stop(step):
        if step == 5:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        run(tmp_path / "ckpt.pt", stop)
    resumed = run(tmp_path / "ckpt.pt")
    for (key, a), b in zip(resumed.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


@pytest.mark.parametrize("nonlinearity", ["linear", "relu"])
@pytest.mark.parametrize("act_bits", [6, 8, 12])
def test_integer_activation_path_equals_the_exact_float_simulation(nonlinearity, act_bits):
    """The integer-only loop (integer products, fixed-point rescaling, one shift) gives exactly the
    hidden codes of the float simulation computed in float64, over 100 steps."""
    torch.manual_seed(1)
    model = build_model("qornn-ste-bjorck", input_size=3, output_size=5, hidden_size=32, bits=4,
                        nonlinearity=nonlinearity).eval().double()
    x = torch.randn(20, 100, 3, dtype=torch.float64)
    ranges = calibrate_activations(model, [x])
    simulated = ActivationQuantizedNet(model, ranges, act_bits)
    integer = ActivationQuantizedNet(model, ranges, act_bits, integer=True)
    h_float = simulated.hidden_states(x) / simulated.hidden_step
    h_int = integer.hidden_states(x) / integer.hidden_step
    torch.testing.assert_close(h_int, torch.round(h_int), rtol=0, atol=0)  # integer codes
    torch.testing.assert_close(h_int, h_float, rtol=0, atol=0)
    torch.testing.assert_close(integer(x), simulated(x), rtol=0, atol=1e-9)


def test_integer_activation_path_reads_tokens_and_refuses_float_weights():
    torch.manual_seed(2)
    model = build_model("qornn-ste-bjorck", input_size=7, output_size=7, hidden_size=16, bits=5,
                        many_to_many=True).eval().double()
    tokens = torch.randint(0, 7, (4, 30))
    ranges = calibrate_activations(model, [tokens])
    a = ActivationQuantizedNet(model, ranges, 10).hidden_states(tokens)
    b = ActivationQuantizedNet(model, ranges, 10, integer=True).hidden_states(tokens).double()
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    float_model = build_model("ornn-bjorck", input_size=3, output_size=2, hidden_size=8)
    with pytest.raises(ValueError, match="W, U is in float"):
        ActivationQuantizedNet(float_model, ActivationRanges(1.0, 1.0), 8, integer=True)


def test_lsq_model_learns_its_ranges_and_exports_with_them():
    torch.manual_seed(3)
    model = build_model("qornn-lsq-bjorck", input_size=3, output_size=4, hidden_size=8, bits=3,
                        nonlinearity="linear")
    start = (model.recurrent.range.alpha.item(), model.input.range.alpha.item())
    assert start[0] == pytest.approx(float(model.recurrent.orthogonal_matrix().detach().abs().max()))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = torch.randn(16, 12, 3), torch.randint(0, 4, (16,))
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model.recurrent.range.alpha.item(), model.input.range.alpha.item()) != start
    ints = integer_weights(model)
    alpha = model.recurrent.range.alpha.item()
    torch.testing.assert_close(ints["W"][0].float() * ints["W"][1], model.recurrent.matrix().detach())
    assert ints["W"][1] == pytest.approx(alpha / 4)
    with pytest.raises(ValueError, match="learned_range"):
        build_model("qornn-ste-projunn", input_size=3, output_size=4, hidden_size=8, learned_range=True)


def test_integer_activation_path_equals_the_float_simulation_with_modrelu():
    # the authors' QRNN: modReLU, no recurrence bias, V h read without a ReLU
    torch.manual_seed(5)
    model = build_model("qornn-ste-bjorck", input_size=3, output_size=5, hidden_size=32, bits=6,
                        nonlinearity="modrelu", recurrent_bias=False, readout_relu=False).eval().double()
    with torch.no_grad():
        model.modrelu_bias.uniform_(-0.3, 0.1)  # trained-looking: some units shrink, some pass
    x = torch.randn(20, 100, 3, dtype=torch.float64)
    ranges = calibrate_activations(model, [x])
    for act_bits in (6, 8, 10, 12):
        simulated = ActivationQuantizedNet(model, ranges, act_bits)
        integer = ActivationQuantizedNet(model, ranges, act_bits, integer=True)
        h_float = simulated.hidden_states(x) / simulated.hidden_step
        h_int = integer.hidden_states(x) / integer.hidden_step
        assert (h_int < 0).any() and (h_int == 0).any()  # signed states, some zeroed
        torch.testing.assert_close(h_int, torch.round(h_int), rtol=0, atol=0)
        # code for code (the fixed-point multipliers' rounding could move a code, by one, where a sum
        # falls within 2^-32 of a rounding boundary; no sum here does)
        torch.testing.assert_close(h_int, h_float, rtol=0, atol=0)
    # a finer grid stays closer to the float model
    with torch.no_grad():
        error = {ka: float((ActivationQuantizedNet(model, ranges, ka)(x) - model(x)).abs().mean())
                 for ka in (6, 12)}
    assert error[12] < error[6] / 10


@pytest.mark.parametrize("block", [None, 4])
def test_hadamrnn_w_is_integer_up_to_its_step_and_its_integer_activation_path_is_the_simulation(block):
    # HadamRNN's W = diag(s)(I ⊗ H_m)/√m: integers in {-1, 0, 1} times 1/√m, so that the
    # integer-only loop of activation PTQ runs it as it runs a k-bit W
    torch.manual_seed(6)
    name = "hadamrnn" if block is None else "block-hadamrnn"
    options = {} if block is None else {"block": block}
    model = build_model(name, input_size=3, output_size=5, hidden_size=16, bits=4, **options).eval().double()
    w_int, step = integer_weights(model)["W"]
    assert set(w_int.unique().tolist()) == ({-1.0, 1.0} if block is None else {-1.0, 0.0, 1.0})
    assert step == pytest.approx(1 / math.sqrt(block or 16))
    torch.testing.assert_close(w_int.double() * step, model.recurrent.matrix().detach(), rtol=0, atol=1e-15)
    x = torch.randn(8, 60, 3, dtype=torch.float64)
    ranges = calibrate_activations(model, [x])
    for act_bits in (6, 8, 10):
        simulated = ActivationQuantizedNet(model, ranges, act_bits)
        integer = ActivationQuantizedNet(model, ranges, act_bits, integer=True)
        torch.testing.assert_close(integer.hidden_states(x).double(), simulated.hidden_states(x),
                                   rtol=0, atol=0)


def test_activation_ptq_gives_the_biases_a_grid_of_their_own():
    # a wide hidden range makes a coarse hidden grid; the bias b keeps its own ka-bit grid, whose
    # range follows max|b| (rounding b on the hidden grid errs the same way at every step)
    torch.manual_seed(7)
    model = build_model("qornn-ste-bjorck", input_size=3, output_size=5, hidden_size=16, bits=6,
                        nonlinearity="linear").eval().double()
    with torch.no_grad():
        model.input.bias.uniform_(-0.2, 0.2)
        model.input.bias[0] = 0.3
    net = ActivationQuantizedNet(model, ActivationRanges(input_max=1.0, hidden_max=100.0), 12)
    assert net.hidden_step == 128 / 2**11 and net.bias_step == 0.5 / 2**11  # R_b = 2^⌈log₂ 0.3⌉
    error = (net._on_bias_grid(model.input.bias) - model.input.bias).abs().max()
    assert 0 < error <= net.bias_step / 2
    x = torch.randn(4, 50, 3, dtype=torch.float64)
    integer = ActivationQuantizedNet(model, ActivationRanges(input_max=1.0, hidden_max=100.0), 12,
                                     integer=True)
    torch.testing.assert_close(integer.hidden_states(x).double(), net.hidden_states(x), rtol=0, atol=0)
