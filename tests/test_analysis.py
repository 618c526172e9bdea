"""qornn.analysis: the orthogonality of quantized orthogonal matrices, and activation PTQ records."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qornn import analysis
from qornn.models import build_model
from qornn.quantize import uniform_quantize
from qornn.tasks import CopyTask


def test_orthogonality_of_known_matrices():
    q, _ = torch.linalg.qr(torch.randn(12, 12, dtype=torch.float64))
    exact = analysis.orthogonality(q)
    assert exact["spectral"] < 1e-12 and exact["frobenius"] < 1e-12
    assert exact["sigma_min"] == pytest.approx(1) and exact["sigma_max"] == pytest.approx(1)
    doubled = analysis.orthogonality(2 * torch.eye(5))
    assert doubled["spectral"] == pytest.approx(3) and doubled["frobenius"] == pytest.approx(3 * 5**0.5)
    assert doubled["spectral_radius"] == pytest.approx(2) and exact["spectral_radius"] == pytest.approx(1)
    rotation_plus_shear = torch.tensor([[1.0, 5.0], [0.0, 1.0]])  # ρ = 1 while σ_max > 5
    shear = analysis.orthogonality(rotation_plus_shear)
    assert shear["spectral_radius"] == pytest.approx(1) and shear["sigma_max"] > 5
    with pytest.raises(ValueError, match="square"):
        analysis.orthogonality(torch.ones(2, 3))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(4, 48), seed=st.integers(0, 10_000))
def test_quantized_orthogonal_matrices_respect_the_step_size_bound(n, seed):
    """‖q_k(W)ᵀq_k(W) − I‖₂ ≤ 2ε + ε² with ε = n·δ, and σ(q_k(W)) within ‖E‖₂ of 1 (Weyl)."""
    rows = analysis.random_orthogonal_study(n, bits=(3, 4, 6, 8), samples=1, seed=seed)
    for row in rows:
        assert row["spectral"] <= row["step_size_bound"] + 1e-9
        eps = (row["step_size_bound"] + 1) ** 0.5 - 1  # back from 2ε + ε²
        assert 1 - eps - 1e-9 <= row["sigma_min"] <= row["sigma_max"] <= 1 + eps + 1e-9
        assert row["spectral_radius"] <= row["sigma_max"] + 1e-9
    by_bits = {row["bits"]: row["frobenius"] for row in rows}
    assert by_bits[8] < by_bits[3]


def test_random_rounding_estimate_is_the_right_order_at_moderate_size():
    rows = analysis.random_orthogonal_study(128, bits=(4, 6, 8), samples=3, seed=0)
    for row in rows:
        ratio = row["spectral"] / row["random_rounding_estimate"]
        assert 0.5 < ratio < 2.0, row


def test_analyse_model_reports_the_used_matrix_and_quantizes_a_float_one():
    torch.manual_seed(0)
    float_model = build_model("ornn-bjorck", input_size=2, output_size=3, hidden_size=16)
    out = analysis.analyse_model(float_model)
    assert out["W"]["spectral"] < 1e-3 and len(out["singular_values"]) == 16
    assert set(out["quantized_W"]) == {str(k) for k in analysis.ANALYSIS_BITS}
    w = float_model.recurrent.matrix().detach()
    assert out["quantized_W"]["4"]["frobenius"] == pytest.approx(
        analysis.orthogonality(uniform_quantize(w, 4))["frobenius"])
    qat = build_model("qornn-ste-bjorck", input_size=2, output_size=3, hidden_size=16, bits=4)
    out = analysis.analyse_model(qat)
    assert "quantized_W" not in out and out["W"]["spectral"] > 1e-3
    parametrized = analysis.analyse_model(build_model("ornn", input_size=2, output_size=3, hidden_size=8))
    assert parametrized["W"]["spectral"] < 1e-5 and "quantized_W" in parametrized
    assert analysis.analyse_model(build_model("lstm", input_size=2, output_size=3, hidden_size=4)) == {}
    assert analysis.analyse_model(build_model("hadamrnn", input_size=2, output_size=3, hidden_size=16)) == {}


def test_activation_ptq_record_has_every_width_and_its_calibration():
    torch.manual_seed(0)
    task = CopyTask(length=12, symbols=3, train_size=32, val_size=8, test_size=16)
    model = build_model("qornn-ste-bjorck", input_size=task.input_size, output_size=task.output_size,
                        hidden_size=8, bits=5, many_to_many=True, nonlinearity="linear")
    out = analysis.activation_ptq(model, task, act_bits=(6, 12), calibration_size=16, batch_size=8)
    assert set(out) == {"calibration", "float", "6", "12"} and out["calibration"]["samples"] == 16
    assert set(out["12"]) == {"loss", "recall_accuracy"}


def test_haar_alpha_falls_with_n_and_haar_samples_are_orthogonal():
    from qornn.analysis import haar_orthogonal, start_alpha

    w = haar_orthogonal(32, torch.Generator().manual_seed(0))
    torch.testing.assert_close(w.T @ w, torch.eye(32), atol=1e-5, rtol=0)
    alphas = [start_alpha(n, "haar", samples=4) for n in (32, 128, 512)]
    assert alphas[0] > alphas[1] > alphas[2] > 0
    assert start_alpha(32, samples=4, seed=1) == start_alpha(32, samples=4, seed=1)


def test_henaff_start_has_an_entry_near_one_where_a_haar_start_does_not():
    from qornn.analysis import start_alpha, start_matrix
    from qornn.orthogonal import henaff_orthogonal

    generator = torch.Generator().manual_seed(3)
    w = start_matrix(64, "henaff", generator)
    torch.testing.assert_close(w.T @ w, torch.eye(64), atol=1e-5, rtol=0)
    # the same draws as henaff_orthogonal's own, so the page's α_W is that of the start training uses
    torch.testing.assert_close(w, henaff_orthogonal(64, torch.Generator().manual_seed(3)).float())
    assert start_alpha(128, "henaff", samples=4) > 0.99 > 0.6 > start_alpha(128, "haar", samples=4)
    with pytest.raises(ValueError, match="'cayley'"):
        start_alpha(8, "cayley")


def test_quantized_growth_falls_with_the_bits_and_is_the_spectral_radius_to_the_steps():
    from qornn.analysis import quantized_growth

    rows = quantized_growth(32, steps=100, bits=(3, 8), samples=3, seed=0)
    assert len(rows) == 6 and rows == quantized_growth(32, steps=100, bits=(3, 8), samples=3, seed=0)
    for row in rows:
        assert row["growth"] == pytest.approx(row["spectral_radius"] ** 100)
    mean = {k: sum(r["spectral_radius"] for r in rows if r["bits"] == k) / 3 for k in (3, 8)}
    assert mean[3] > mean[8] > 0.99  # coarser rounding moves ρ further from an orthogonal W's 1
    with pytest.raises(ValueError):
        quantized_growth(8, steps=10, bits=(0,))
