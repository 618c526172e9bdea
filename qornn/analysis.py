"""Measurements on trained models, recorded beside their test metrics (``analysis`` in a run's record).

**How orthogonal is a quantized orthogonal matrix.** For W ∈ O(n) and its k-bit quantization
Q = q_k(W) = W + E, with step δ = α/2^(k−1) (α = max|W_ij|):

    QᵀQ − I = WᵀE + EᵀW + EᵀE,   so   ‖QᵀQ − I‖₂ ≤ 2‖E‖₂ + ‖E‖₂²,   and   σ_i(Q) ∈ [1 − ‖E‖₂, 1 + ‖E‖₂]

(Weyl: σ_i(W + E) is within ‖E‖₂ of σ_i(W) = 1). Every entry of E is at most δ/2 in magnitude,
except the entries clipped at the top level 2^(k−1) − 1 (those equal to +α), which are off by δ;
hence ‖E‖₂ ≤ ‖E‖_F ≤ n·δ, the a-priori bound :func:`step_size_bound`. Rounding errors behave like
independent uniform noise of variance δ²/12, for which ‖E‖₂ ≈ 2√n·δ/√12 (the edge of the
Marchenko–Pastur law): :func:`random_rounding_estimate`, the typical rather than the worst case.

**Activation quantization.** :func:`activation_ptq` evaluates a weight-quantized network with its
hidden state on a ka-bit grid (:class:`~qornn.models.qornn.ActivationQuantizedNet`) at each ka.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable

import torch
from torch import nn

from .models.network import RecurrentNet
from .models.qornn import ActivationQuantizedNet, calibrate_activations, float_matrix
from .models.recurrent import HadamardWeight
from .orthogonal import ORTHOGONAL_INITS, henaff_orthogonal
from .quantize import check_bits, quantization_scale, uniform_quantize
from .tasks import Task

__all__ = ["orthogonality", "quantized_orthogonality", "step_size_bound", "random_rounding_estimate",
           "random_orthogonal_study", "haar_orthogonal", "start_matrix", "start_alpha",
           "quantized_growth", "recurrent_matrices", "analyse_model", "activation_ptq",
           "ANALYSIS_BITS", "ACTIVATION_BITS"]

#: weight bit widths at which a float W is quantized for the orthogonality study
ANALYSIS_BITS = (3, 4, 5, 6, 8)
#: hidden-state bit widths ka of the activation PTQ (the authors' notebook tried 6, 8, 10, 12)
ACTIVATION_BITS = (6, 8, 10, 12)


@contextlib.contextmanager
def _one_thread():
    """Small dense factorisations run on one thread: with two threads on a machine where another
    process holds a core, LAPACK's threads wait on each other and an eigendecomposition of a 256 × 256
    matrix took minutes instead of a tenth of a second."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def orthogonality(w: torch.Tensor) -> dict[str, float]:
    """‖WᵀW − I‖ (spectral and Frobenius), the extreme singular values and the spectral radius
    ρ(W) = max|λ(W)| of a square W. A linear recurrence h_t = W h_{t−1} + … grows like ρ(W)^t: over
    T = 784 steps, ρ = 1.03 already multiplies the state by 10^10."""
    if w.dim() != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"orthogonality needs a square matrix, got shape {tuple(w.shape)}")
    w = w.detach().double()
    with _one_thread():
        gram = w.t() @ w - torch.eye(w.shape[0], dtype=w.dtype)
        sv = torch.linalg.svdvals(w)
        return {"spectral": float(torch.linalg.matrix_norm(gram, 2)),
                "frobenius": float(torch.linalg.matrix_norm(gram, "fro")),
                "sigma_min": float(sv.min()), "sigma_max": float(sv.max()),
                "spectral_radius": float(torch.linalg.eigvals(w).abs().max())}


def step_size_bound(n: int, bits: int, alpha: float) -> float:
    """The a-priori bound on ‖q_k(W)ᵀq_k(W) − I‖₂ for W ∈ O(n): 2ε + ε² with ε = n·δ, δ = α/2^(k−1)."""
    eps = n * alpha / 2 ** (bits - 1)
    return 2 * eps + eps**2


def random_rounding_estimate(n: int, bits: int, alpha: float) -> float:
    """The typical ‖q_k(W)ᵀq_k(W) − I‖₂ if rounding errors were iid uniform: 2ε + ε², ε = 2√n·δ/√12."""
    eps = 2 * math.sqrt(n) * (alpha / 2 ** (bits - 1)) / math.sqrt(12)
    return 2 * eps + eps**2


def quantized_orthogonality(w: torch.Tensor, bits: Iterable[int] = ANALYSIS_BITS) -> dict[str, dict]:
    """{k: orthogonality(q_k(W)) with α = max|W|, the step δ and both bounds} for each k."""
    w = w.detach()
    n, alpha = w.shape[0], float(quantization_scale(w))
    out = {}
    for k in bits:
        check_bits(k)
        out[str(k)] = {**orthogonality(uniform_quantize(w, k)), "step": alpha / 2 ** (k - 1),
                       "alpha": alpha, "step_size_bound": step_size_bound(n, k, alpha),
                       "random_rounding_estimate": random_rounding_estimate(n, k, alpha)}
    return out


def random_orthogonal_study(n: int, bits: Iterable[int] = ANALYSIS_BITS, samples: int = 20,
                            seed: int = 0) -> list[dict]:
    """Rows {n, bits, sample, spectral, frobenius, sigma_min, sigma_max, step, alpha, bounds} for
    ``samples`` Haar-random W ∈ O(n) (QR of a Gaussian matrix, signs fixed) quantized at each k."""
    with _one_thread():
        return _random_orthogonal_study(n, list(bits), samples, seed)


def haar_orthogonal(n: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-random W ∈ O(n) in float32: Q of the QR of a Gaussian matrix, its columns' signs set by
    R's diagonal (without that, the law of Q is not Haar)."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


def start_matrix(n: int, start: str, generator: torch.Generator) -> torch.Tensor:
    """One draw of an orthogonal start W₀ ∈ O(n), as training begins from it: ``"haar"``
    (:func:`haar_orthogonal`) or ``"henaff"`` (:func:`qornn.orthogonal.henaff_orthogonal`, rotations of
    random angles on pairs of units)."""
    if start == "haar":
        return haar_orthogonal(n, generator)
    if start == "henaff":
        return henaff_orthogonal(n, generator).float()
    raise ValueError(f"unknown orthogonal start {start!r}; valid: {', '.join(ORTHOGONAL_INITS)}")


def start_alpha(n: int, start: str = "haar", samples: int = 8, seed: int = 0) -> float:
    """Mean of α_W = max|W₀| over ``samples`` draws of the start ``start`` (:func:`start_matrix`): the
    range an untrained orthogonal W of size n gives q_k, beside which a trained model's α_W says how
    far training moved W. About 0.36 for a Haar-random W at n = 128, about 0.9999 for Henaff's start
    (an angle near a multiple of π/2 puts an entry near ±1)."""
    generator = torch.Generator().manual_seed(seed)
    with _one_thread():
        return sum(float(start_matrix(n, start, generator).abs().max()) for _ in range(samples)) / samples


def quantized_growth(n: int, steps: int, bits: Iterable[int] = ANALYSIS_BITS, samples: int = 8,
                     seed: int = 0) -> list[dict]:
    """How much a linear recurrence h_t = q_k(W) h_{t−1} + … can grow over ``steps`` steps when W is a
    Haar-random orthogonal matrix of size n: rows {bits, sample, spectral_radius, growth} with
    ρ = max|λ(q_k(W))| and growth = ρ^steps, the factor by which the component of h along the top
    eigenvector is multiplied (σ_max(q_k(W))^steps bounds every component, ρ^steps is what the long
    run reaches). W is orthogonal, ρ(W) = 1; rounding its entries to k bits moves ρ above 1 for every
    k, and over the copy task's ~1,000 steps a ρ of 1 + ε is a factor of e^{1000ε}."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    with _one_thread():
        for sample in range(samples):
            w = haar_orthogonal(n, generator).double()
            for k in bits:
                radius = float(torch.linalg.eigvals(uniform_quantize(w, check_bits(k))).abs().max())
                rows.append({"bits": k, "sample": sample, "spectral_radius": radius,
                             "growth": radius ** steps})
    return rows


def _random_orthogonal_study(n: int, bits: list[int], samples: int, seed: int) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for sample in range(samples):
        w = haar_orthogonal(n, generator)
        for k, measures in quantized_orthogonality(w, bits).items():
            rows.append({"n": n, "bits": int(k), "sample": sample, **measures})
    return rows


def recurrent_matrices(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(the float W before quantization, the W the network uses) of an orthogonal RecurrentNet, or
    None for other models (LSTM, FastRNN, HadamRNN)."""
    if not isinstance(model, RecurrentNet) or isinstance(model.recurrent, HadamardWeight):
        return None
    rec = model.recurrent
    was_training = rec.training
    rec.eval()  # do not move Björck's power-iteration vector
    try:
        with torch.no_grad():
            used = rec.matrix().detach()
    finally:
        rec.train(was_training)
    return float_matrix(rec), used


def _singular_values(w: torch.Tensor) -> torch.Tensor:
    with _one_thread():
        return torch.linalg.svdvals(w.detach().double())


def analyse_model(model: nn.Module) -> dict:
    """What the book's orthogonality page reads for one trained model: for an orthogonal
    RecurrentNet, the orthogonality of the W it uses and its singular values; for a float W, the
    same after quantizing it at each of :data:`ANALYSIS_BITS`. Empty for other models."""
    matrices = recurrent_matrices(model)
    if matrices is None:
        return {}
    latent, used = matrices
    out = {"hidden_size": used.shape[0], "alpha_W": float(quantization_scale(latent)),
           "W": orthogonality(used),
           "singular_values": [round(float(v), 6) for v in _singular_values(used)]}
    if getattr(model.recurrent, "bits", None) is None:
        out["quantized_W"] = quantized_orthogonality(used)
    learned = getattr(model.recurrent, "range", None)
    if learned is not None:  # the range α that training ended with (started at alpha_W's rule)
        out["learned_alpha_W"] = float(learned.alpha.detach())
        out["learned_alpha_U"] = float(model.input.alpha())
    return out


def activation_ptq(model: RecurrentNet, task: Task, *, act_bits: Iterable[int] = ACTIVATION_BITS,
                   calibration_size: int = 2000, test_size: int | None = 2000, batch_size: int = 500,
                   integer: bool = True, progress: bool = False, description: str = "activation PTQ"
                   ) -> dict[str, dict[str, float]]:
    """Test metrics of ``model`` with its hidden state quantized to ka bits, for each ka, beside the
    same model with float activations (key ``"float"``), all on the first ``test_size`` test samples
    (None: all). Ranges are calibrated on the first ``calibration_size`` training samples (max|x|,
    max|h|, as in the authors' notebook). ``integer``: run the integer-only loop (else the float
    simulation). ``progress``: a bar (``description``) over the calibration and the evaluations,
    which take minutes for a long sequence at n = 512."""
    from tqdm.auto import tqdm

    from .train import evaluate  # late: train imports the models package too

    act_bits = list(act_bits)
    bar = tqdm(total=len(act_bits) + 2, disable=not progress, desc=description, unit="pass")

    n_cal = min(calibration_size, task.num_samples("train"))
    batches = (task.batch("train", torch.arange(i, min(i + batch_size, n_cal)))[0]
               for i in range(0, n_cal, batch_size))
    ranges = calibrate_activations(model, batches)
    bar.update()
    cpu = torch.device("cpu")
    n_test = task.num_samples("test") if test_size is None else min(test_size, task.num_samples("test"))
    out = {"calibration": {"input_max": ranges.input_max, "hidden_max": ranges.hidden_max,
                           "samples": n_cal, "test_samples": n_test, "integer": integer},
           "float": evaluate(model, task, "test", batch_size, cpu, limit=n_test)}
    bar.update()
    for ka in act_bits:
        bar.set_postfix_str(f"ka={ka}")
        net = ActivationQuantizedNet(model, ranges, ka, integer=integer)
        out[str(ka)] = evaluate(net, task, "test", batch_size, cpu, limit=n_test)
        bar.update()
    bar.close()
    return out
