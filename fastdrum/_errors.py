"""fastdrum's exceptions.

Every error fastdrum raises on purpose derives from :class:`FastDrumError` and
also from the builtin exception it means, so ``except ValueError`` keeps
working for callers who do not know fastdrum.
"""

__all__ = [
    "FastDrumError",
    "ModelFormatError",
    "ModelNotFoundError",
    "GenerationError",
    "LimitExceededError",
    "BackendUnavailableError",
    "PatternError",
    "FastDrumWarning",
    "LibraryError",
    "NotWritableError",
    "SchedulerUnavailableError",
]


class FastDrumError(Exception):
    """Root of every exception raised by fastdrum."""


class ModelFormatError(FastDrumError, ValueError):
    """A model file is not a valid model (format 1 or 2); the message names the key."""


class ModelNotFoundError(FastDrumError, FileNotFoundError):
    """A model name or path does not resolve to a model file."""


class GenerationError(FastDrumError, ValueError):
    """An argument to a generation call is invalid."""


class LimitExceededError(GenerationError):
    """A request would exceed a resource limit (raise the limit to allow it)."""


class BackendUnavailableError(FastDrumError, ImportError):
    """The requested generation backend is not available (e.g. not built)."""


class PatternError(FastDrumError, ValueError):
    """A drum pattern, preset or sequencer argument is invalid."""


class FastDrumWarning(UserWarning):
    """Input fastdrum can use but that looks wrong (e.g. clips too short to be drum hits)."""


class LibraryError(FastDrumError, ValueError):
    """A library argument is invalid, or the folder holds something else."""


class NotWritableError(FastDrumError, PermissionError):
    """An output folder cannot be made or written."""


class SchedulerUnavailableError(FastDrumError, ConnectionError):
    """A Dask scheduler cannot be reached at the address given."""
