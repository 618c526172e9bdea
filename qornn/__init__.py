"""qornn: quantized, orthogonal recurrent networks (QORNN, HadamRNN) and their experiments."""

from .hadamard import block_hadamard, fwht, sylvester_hadamard
from .models import build_model, model_names, model_size_bits
from .quantize import quantize_ste, sign_ste, uniform_quantize
from .tasks import build_task
from .weights import load_weights

__version__ = "0.1.0"

__all__ = [
    "block_hadamard",
    "build_model",
    "build_task",
    "fwht",
    "load_weights",
    "model_names",
    "model_size_bits",
    "quantize_ste",
    "sign_ste",
    "sylvester_hadamard",
    "uniform_quantize",
]
