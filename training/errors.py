"""Errors raised by training/: each is a FastDrumError and the builtin it means."""

from fastdrum import FastDrumError

__all__ = ["TrainingError", "DataError", "ConfigError", "ResumeError", "DivergedError"]


class TrainingError(FastDrumError):
    """Root of the errors raised by training/."""


class DataError(TrainingError, ValueError):
    """The training data cannot be used: no clips, unreadable audio, bad kit file."""


class ConfigError(TrainingError, ValueError):
    """A training option is invalid or inconsistent (e.g. clip shorter than the receptive field)."""


class ResumeError(TrainingError, RuntimeError):
    """A run directory cannot be resumed (or would be overwritten)."""


class DivergedError(TrainingError, FloatingPointError):
    """The training loss became NaN or Inf."""
