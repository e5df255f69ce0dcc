"""fastdrum's exceptions and warning, all in one module.

Every error fastdrum raises on purpose derives from :class:`FastDrumError` and
also from the builtin exception it means, so ``except ValueError`` (or
``except FileExistsError``, ``except KeyError``, ...) keeps working for
callers who do not know fastdrum. Each is exported from :mod:`fastdrum`.

Examples
--------
>>> import fastdrum
>>> issubclass(fastdrum.OutputExistsError, FileExistsError)
True
>>> issubclass(fastdrum.InstrumentNotFoundError, KeyError)
True
"""

__all__ = [
    "FastDrumError",
    "FastDrumWarning",
    "ModelFormatError",
    "ModelNotFoundError",
    "GenerationError",
    "LimitExceededError",
    "BackendUnavailableError",
    "MissingExtraError",
    "MuLawError",
    "PatternError",
    "MidiError",
    "KitError",
    "InstrumentNotFoundError",
    "PostProcessingError",
    "AudioFormatError",
    "OutputExistsError",
    "NotWritableError",
    "LibraryError",
    "SchedulerUnavailableError",
    "CLIError",
    "ServeError",
    "RequestError",
    "BusyError",
    "ClosedError",
]


class FastDrumError(Exception):
    """Root of every exception raised by fastdrum."""


class FastDrumWarning(UserWarning):
    """Input fastdrum can use but that looks wrong (e.g. clips too short to be drum hits)."""


# -- models and generation ------------------------------------------------------------
class ModelFormatError(FastDrumError, ValueError):
    """A model file is not a valid model (format 1 to 7); the message names the key."""


class ModelNotFoundError(FastDrumError, FileNotFoundError):
    """A model name or path does not resolve to a model file."""


class GenerationError(FastDrumError, ValueError):
    """An argument to a generation call is invalid."""


class LimitExceededError(GenerationError):
    """A request would exceed a resource limit (raise the limit to allow it)."""


class BackendUnavailableError(FastDrumError, ImportError):
    """The requested generation backend is not available (e.g. not built)."""


class MissingExtraError(FastDrumError, ImportError):
    """A part of fastdrum needs a package that is not installed (the message names the extra)."""


class MuLawError(FastDrumError, ValueError):
    """An argument of mu-law companding or pre-emphasis is invalid (:mod:`fastdrum.mulaw`)."""


# -- the drum machine -----------------------------------------------------------------
class PatternError(FastDrumError, ValueError):
    """A drum pattern, preset or sequencer argument is invalid."""


class MidiError(FastDrumError, ValueError):
    """A MIDI file cannot be read, or a MIDI argument is invalid."""


class KitError(FastDrumError, ValueError):
    """A kit, its folder or a kit argument is invalid."""


class InstrumentNotFoundError(KitError, KeyError):
    """The kit has no clips of the instrument asked for (``kit["cowbell"]``): a KeyError."""

    __str__ = Exception.__str__  # the message as it is (KeyError's own str() quotes it)


class PostProcessingError(FastDrumError, ValueError):
    """A post-processing argument is invalid."""


# -- files ----------------------------------------------------------------------------
class AudioFormatError(FastDrumError, ValueError):
    """An audio file name or format fastdrum does not write (it writes .wav and .flac)."""


class OutputExistsError(FastDrumError, FileExistsError):
    """The output path exists and overwriting was not allowed."""


class NotWritableError(FastDrumError, PermissionError):
    """An output folder cannot be made or written."""


# -- libraries on Dask ----------------------------------------------------------------
class LibraryError(FastDrumError, ValueError):
    """A library argument is invalid, or the folder holds something else."""


class SchedulerUnavailableError(FastDrumError, ConnectionError):
    """A Dask scheduler cannot be reached at the address given."""


# -- the command line and the server --------------------------------------------------
class CLIError(FastDrumError, ValueError):
    """A bad command-line argument (reported as one line, exit status 2)."""


class ServeError(FastDrumError, ValueError):
    """The server cannot start (missing extra, port taken, bad address)."""


class RequestError(FastDrumError, ValueError):
    """A request the server cannot serve (answered with HTTP 400 and the message)."""


class BusyError(FastDrumError, RuntimeError):
    """Every worker is busy and the queue is full (HTTP 429: try again shortly)."""


class ClosedError(FastDrumError, RuntimeError):
    """The server is shutting down (HTTP 503)."""
