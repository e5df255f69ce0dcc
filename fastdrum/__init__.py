"""fastdrum: new drum sounds from small WaveNets, generated fast on the CPU.

Examples
--------
>>> import fastdrum
>>> from fastdrum.testing import random_model
>>> y = fastdrum.generate(random_model(seed=0), 2, duration=0.01, seed=0, backend="numpy")
>>> y.shape
(2, 160)
"""

from ._errors import (
    BackendUnavailableError,
    FastDrumError,
    GenerationError,
    LimitExceededError,
    ModelFormatError,
    ModelNotFoundError,
    PatternError,
)
from ._generate import generate
from ._version import __version__
from .model import Model, available_models, load_model
from .mulaw import mu_law_decode, mu_law_encode

__all__ = [
    "__version__",
    "generate",
    "load_model",
    "available_models",
    "Model",
    "mu_law_encode",
    "mu_law_decode",
    "FastDrumError",
    "ModelFormatError",
    "ModelNotFoundError",
    "GenerationError",
    "LimitExceededError",
    "BackendUnavailableError",
    "PatternError",
]
