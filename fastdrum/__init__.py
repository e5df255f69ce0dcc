"""fastdrum: new drum sounds from small WaveNets, generated fast on the CPU.

Examples
--------
>>> import fastdrum
>>> from fastdrum.testing import random_model
>>> y = fastdrum.generate(random_model(seed=0), 2, duration=0.01, seed=0, backend="numpy")
>>> y.shape
(2, 160)
"""

from ._version import __version__
from .errors import (
    AudioFormatError,
    BackendUnavailableError,
    BusyError,
    CLIError,
    ClosedError,
    FastDrumError,
    FastDrumWarning,
    GenerationError,
    InstrumentNotFoundError,
    KitError,
    LibraryError,
    LimitExceededError,
    MidiError,
    MissingExtraError,
    ModelFormatError,
    ModelNotFoundError,
    MuLawError,
    NotWritableError,
    OutputExistsError,
    PatternError,
    PostProcessingError,
    RequestError,
    SchedulerUnavailableError,
    ServeError,
)

# Modules and names load on first use (PEP 562): the drum machine needs
# scipy.signal, which alone takes longer to import than the rest of fastdrum,
# and the `fastdrum` command must set up its signal handling before it imports
# NumPy (a Ctrl-C during that import would otherwise end in a traceback).
_LAZY_MODULES = (
    "sequencer",
    "kit",
    "post",
    "midi",
    "presets",
    "cli",
    "testing",
    "instruments",
    "plotting",
)
_LAZY_NAMES = {
    "Kit": "kit",
    "generate_kit": "kit",
    "Pattern": "sequencer",
    "render": "sequencer",
    "generate": "_generate",
    "Model": "model",
    "available_models": "model",
    "load_model": "model",
    "mu_law_encode": "mulaw",
    "mu_law_decode": "mulaw",
    "library": "_library",
}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'fastdrum' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_NAMES))


__all__ = [
    "__version__",
    "generate",
    "load_model",
    "available_models",
    "Model",
    "mu_law_encode",
    "mu_law_decode",
    "Kit",
    "generate_kit",
    "Pattern",
    "render",
    "library",
    # the exceptions of fastdrum.errors, in the order of their names
    "AudioFormatError",
    "BackendUnavailableError",
    "BusyError",
    "CLIError",
    "ClosedError",
    "FastDrumError",
    "FastDrumWarning",
    "GenerationError",
    "InstrumentNotFoundError",
    "KitError",
    "LibraryError",
    "LimitExceededError",
    "MidiError",
    "MissingExtraError",
    "ModelFormatError",
    "ModelNotFoundError",
    "MuLawError",
    "NotWritableError",
    "OutputExistsError",
    "PatternError",
    "PostProcessingError",
    "RequestError",
    "SchedulerUnavailableError",
    "ServeError",
]
