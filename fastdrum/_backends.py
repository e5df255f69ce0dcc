"""Generation backends: the compiled kernel ("c") and the NumPy reference ("numpy").

A backend is a ``State`` factory ``State(model, batch_size, n_threads=1, cond=None,
guidance=None)``
whose ``run(codes, n_primer, uniforms, temperature, start, stop,
logits_out=None, epsilon=0.0)`` advances generation (see ``fastdrum._reference.State``).
There is no silent fallback: asking for the kernel when it is not built is an
error that says how to build it.
"""

from . import _reference
from .errors import BackendUnavailableError, GenerationError

__all__ = ["get", "available", "BACKENDS"]

BACKENDS = ("auto", "c", "numpy")

_BUILD_HELP = (
    "fastdrum's compiled kernel (fastdrum._ext._wavenet) is not built{why}. "
    "Install the package with `pip install .` (or `pip install -e .` in a checkout), "
    "or build it in place with `python setup.py build_ext --inplace`; "
    "pass backend='numpy' to use the slow NumPy reference instead."
)


class ReferenceState(_reference.State):
    def __init__(self, model, batch_size, n_threads=1, cond=None, guidance=None):
        super().__init__(model._reference_weights(), batch_size, cond=cond, guidance=guidance)


def _kernel():
    try:
        from ._ext import _wavenet
    except ImportError as exc:
        raise BackendUnavailableError(_BUILD_HELP.format(why=f" ({exc})")) from None
    return _wavenet


def get(name):
    """Return the State factory of backend `name` ("auto", "c" or "numpy")."""
    if name == "numpy":
        return ReferenceState
    if name in ("auto", "c"):
        return _kernel().State
    raise GenerationError(f"backend must be one of {BACKENDS!r}, got {name!r}")


def available():
    """Names of the backends usable in this installation."""
    names = ["numpy"]
    try:
        _kernel()
    except BackendUnavailableError:
        pass
    else:
        names.insert(0, "c")
    return names
