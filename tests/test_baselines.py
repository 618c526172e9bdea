"""Baselines: vanilla RNN, LSTM, GRU, FastRNN, FastGRNN (float and k-bit)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from qornn.models import BASELINES, GRU, LSTM, FastGRNN, FastRNN, build_model, model_size_bits
from qornn.tasks import CopyTask


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_lstm_matches_torch_lstm():
    torch.manual_seed(0)
    ref = nn.LSTM(3, 5)
    ours = LSTM(3, 2, 5, many_to_many=True)
    with torch.no_grad():
        ours.input.weight.copy_(ref.weight_ih_l0)
        ours.input.bias.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
        ours.recurrent.weight.copy_(ref.weight_hh_l0)
    x = torch.randn(4, 7, 3)
    out, _ = ref(x.transpose(0, 1))
    torch.testing.assert_close(ours.hidden_states(x), out)


def test_gru_matches_torch_gru():
    torch.manual_seed(0)
    ref = nn.GRU(3, 5)
    ours = GRU(3, 2, 5)
    with torch.no_grad():
        ours.input.weight.copy_(ref.weight_ih_l0)
        ours.input.bias.copy_(ref.bias_ih_l0)
        ours.recurrent.weight.copy_(ref.weight_hh_l0)
        ours.recurrent.bias.copy_(ref.bias_hh_l0)
    x = torch.randn(4, 7, 3)
    out, _ = ref(x.transpose(0, 1))
    torch.testing.assert_close(ours.hidden_states(x), out)


@pytest.mark.parametrize("cls", [LSTM, GRU, FastGRNN])
@pytest.mark.parametrize("options", [{}, {"bits": 4}, {"recurrent_rank": 3, "input_rank": 2}])
def test_fused_kernel_equals_the_python_loop(cls, options):
    # torch.lstm / torch.gru on the effective matrices, FastGRNN's hand-written backward: same states
    # and same gradient of every parameter (STE through the k-bit weights, both low-rank factors, and
    # FastGRNN's ζ̂, ν̂, b_z, b_h) as the cell-by-cell definition.
    torch.manual_seed(0)
    model = cls(3, 2, 8, many_to_many=True, **options).double()  # float64: summation order aside
    with torch.no_grad():  # ζ, ν away from their initial saturation, so that their gradients count
        for name in ("zeta", "nu"):
            if hasattr(model, name):
                getattr(model, name).fill_(0.3)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    grads = []
    for fused in (True, False):
        model.fused = fused
        model.zero_grad()
        out = model(x)
        out.square().sum().backward()
        grads.append((out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (fused_out, fused_grads), (loop_out, loop_grads) = grads
    torch.testing.assert_close(fused_out, loop_out)
    assert fused_grads.keys() == loop_grads.keys()
    for name in loop_grads:
        torch.testing.assert_close(fused_grads[name], loop_grads[name], msg=name)


def test_fastgrnn_fused_recurrence_passes_gradcheck_and_takes_tokens():
    # float64 finite differences against the hand-written backward, every input at once
    from qornn.models.baselines import _FastGRNNRecurrence

    torch.manual_seed(0)
    T, B, n = 5, 3, 4
    args = [torch.randn(T, B, n), torch.randn(n, n) / 2, torch.randn(n), torch.randn(n),
            torch.tensor(0.2), torch.tensor(-0.4)]
    args = [t.double().requires_grad_() for t in args]
    assert torch.autograd.gradcheck(_FastGRNNRecurrence.apply, args)
    model = FastGRNN(6, 2, 8)
    tokens = torch.randint(0, 6, (2, 7))
    fused = model.hidden_states(tokens)
    model.fused = False
    torch.testing.assert_close(fused, model.hidden_states(tokens))


def test_fused_kernel_rejects_a_bad_shape():
    with pytest.raises(ValueError, match=r"\(batch, time, 3\)"):
        LSTM(3, 2, 8)(torch.randn(4, 9, 2))


def test_fastrnn_and_fastgrnn_one_step_by_hand():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 3)
    m = FastRNN(3, 1, 4)
    a = F.linear(x[:, 0], m.input.weight, m.input.bias)
    h1 = torch.sigmoid(m.alpha) * torch.tanh(a)  # h0 = 0
    torch.testing.assert_close(m.hidden_states(x)[0], h1)
    g = FastGRNN(3, 1, 4)
    p = F.linear(x[:, 0], g.input.weight)
    z = torch.sigmoid(p + g.bias_gate)
    h1 = (torch.sigmoid(g.zeta) * (1 - z) + torch.sigmoid(g.nu)) * torch.tanh(p + g.bias_update)
    torch.testing.assert_close(g.hidden_states(x)[0], h1)
    # second step uses U h1 in both the gate and the candidate
    x2 = torch.randn(2, 2, 3)
    h = g.hidden_states(x2)
    p2 = F.linear(x2[:, 1], g.input.weight) + F.linear(h[0], g.recurrent.weight)
    z2 = torch.sigmoid(p2 + g.bias_gate)
    gate = torch.sigmoid(g.zeta) * (1 - z2) + torch.sigmoid(g.nu)
    want = gate * torch.tanh(p2 + g.bias_update) + z2 * h[0]
    torch.testing.assert_close(h[1], want)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_interface_shapes_and_tokens_equal_one_hot(name):
    torch.manual_seed(0)
    many = build_model(name, input_size=6, output_size=3, hidden_size=8, many_to_many=True)
    one = build_model(name, input_size=6, output_size=3, hidden_size=8)
    tokens = torch.randint(0, 6, (2, 9))
    assert many(tokens).shape == (2, 9, 3)
    assert one(tokens).shape == (2, 3)
    torch.testing.assert_close(many(tokens), many(F.one_hot(tokens, 6).float()))
    with pytest.raises(ValueError, match="float input"):
        many(torch.randn(2, 9, 5))


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("bits", [2, 4])
def test_k_bit_baselines_use_at_most_2k_levels_and_train(name, bits):
    torch.manual_seed(0)
    task = CopyTask(length=30, symbols=3, train_size=64, val_size=8, test_size=8)
    model = build_model(name, input_size=task.input_size, output_size=task.output_size, hidden_size=16,
                        many_to_many=True, bits=bits)
    for layer in (model.input, model.recurrent, model.readout):
        assert layer.effective_weight().unique().numel() <= 2**bits
    x, y = task.batch("train", torch.arange(64))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = task.loss(model(x), y)
        loss.backward()
        opt.step()
        model.apply_constraints_()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_size_bits_hand_count():
    d, n, o = 10, 16, 9
    # float LSTM: W (4n×d), U (4n×n), bias 4n, V (o×n), bias o
    lstm = build_model("lstm", input_size=d, output_size=o, hidden_size=n)
    assert model_size_bits(lstm) == 32 * (4 * n * d + 4 * n * n + 4 * n + o * n + o)
    # 4-bit LSTM: every matrix 4 bits an entry + one 32-bit scale; biases float
    q = build_model("lstm", input_size=d, output_size=o, hidden_size=n, bits=4)
    assert model_size_bits(q) == 4 * (4 * n * d + 4 * n * n + o * n) + 3 * 32 + 32 * (4 * n + o)
    # GRU has the recurrent bias too (torch's form)
    gru = build_model("gru", input_size=d, output_size=o, hidden_size=n)
    assert model_size_bits(gru) == 32 * (3 * n * d + 3 * n * n + 6 * n + o * n + o)
    # FastRNN: + α, β; FastGRNN: no input bias, b_z, b_h, ζ, ν
    fr = build_model("fastrnn", input_size=d, output_size=o, hidden_size=n)
    assert model_size_bits(fr) == 32 * (n * d + n * n + n + o * n + o + 2)
    fg = build_model("fastgrnn", input_size=d, output_size=o, hidden_size=n)
    assert model_size_bits(fg) == 32 * (n * d + n * n + 2 * n + o * n + o + 2)
    # low rank: W = W2 W1 with rank r, U = U2 U1 with rank s
    r, s = 3, 5
    lr = build_model("fastgrnn", input_size=d, output_size=o, hidden_size=n, input_rank=r,
                     recurrent_rank=s)
    assert model_size_bits(lr) == 32 * (r * d + n * r + s * n + n * s + 2 * n + o * n + o + 2)
    assert int(torch.linalg.matrix_rank(lr.recurrent.effective_weight().detach())) <= s


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        build_model("rnn", input_size=2, output_size=2, hidden_size=4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="bits"):
        build_model("lstm", input_size=2, output_size=2, hidden_size=4, bits=1)
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(2, 2, 0)


@pytest.mark.parametrize("name", ["lstm", "qornn-ste-bjorck", "hadamrnn"])
def test_embedding_front_end(name):
    from qornn.models import EmbeddingNet

    torch.manual_seed(0)
    vocab, emb, n = 50, 12, 8
    last = build_model(name, input_size=vocab, output_size=1, hidden_size=n, embedding_size=emb,
                       embedding_bits=4)
    assert isinstance(last, EmbeddingNet)
    tokens = torch.randint(1, vocab, (3, 7))
    assert last(tokens).shape == (3, 1)
    inner = last.model.size_bits()
    assert model_size_bits(last) == 4 * vocab * emb + 32 + inner
    mean = build_model(name, input_size=vocab, output_size=1, hidden_size=n, embedding_size=emb,
                       pool="mean", embedding_dropout=0.5).eval()
    padded = torch.cat([tokens, torch.zeros(3, 2, dtype=torch.long)], 1)
    per_step = mean.model(F.embedding(padded, mean.weight))
    torch.testing.assert_close(mean(padded), per_step[:, :7].mean(1))
    # training reaches the embedding and the model
    loss = mean.train()(padded).pow(2).sum()
    loss.backward()
    assert mean.weight.grad[tokens].abs().sum() > 0 and mean.weight.grad[0].abs().sum() == 0


def test_embedding_options_need_embedding_size():
    with pytest.raises(ValueError, match="embedding_size"):
        build_model("lstm", input_size=5, output_size=1, hidden_size=4, pool="mean")
