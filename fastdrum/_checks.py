"""One home for the checks of numbers and quantities that fastdrum's functions take.

Each check takes the argument's name, its value and the exception class to
raise (the caller's :class:`~fastdrum.FastDrumError` subclass, so that a bad
``bpm`` is a :class:`~fastdrum.PatternError` in the sequencer and a bad ``sr``
a :class:`~fastdrum.KitError` in a kit), and returns the value as a plain
``int`` or ``float``. Every message has one form::

    <name> must be <what> <range>, got <value!r>

The command line's argparse types (:func:`integer_arg`) say ``expected <what>,
got <text!r>`` instead, after argparse's own ``argument --bars:``.

Each limit is a named constant here, and every module checks against it.
The module imports no NumPy at import time: the command line uses it before
NumPy loads.

Examples
--------
>>> integer("bars", 4, lo=1, hi=100, error=ValueError)
4
>>> number("swing", 1.0, lo=0.0, hi=1.0, hi_open=True, error=ValueError)
Traceback (most recent call last):
...
ValueError: swing must be a finite number in [0.0, 1.0), got 1.0
"""

import math
import numbers

__all__ = [
    "MAX_SAMPLE_RATE",
    "TEMPERATURE_RANGE",
    "GUIDANCE_RANGE",
    "BPM_RANGE",
    "DEFAULT_BPM",
    "MAX_GAIN",
    "integer",
    "integer_arg",
    "number",
    "sample_rate",
    "duration",
    "temperature",
    "epsilon",
    "decay",
    "bpm",
    "pattern_bpm",
    "gain",
    "pan",
    "flag",
    "short",
    "seed_sequence",
]

#: Sample rates lie in [1, MAX_SAMPLE_RATE] Hz: models, kits, files read, post-processing, beats.
MAX_SAMPLE_RATE = 768_000

#: Temperatures other than 0 (argmax) lie in this range: outside it the
#: float32 division in sampling overflows or underflows.
TEMPERATURE_RANGE = (1e-3, 1e3)

#: Negative-voice guidance weights lie in this range (0: off), as the compiled kernel's State checks.
GUIDANCE_RANGE = (0.0, 1000.0)

#: Tempos lie in (lo, hi] beats per minute.
BPM_RANGE = (0.0, 10_000.0)
#: The tempo of a beat whose caller and pattern name none.
DEFAULT_BPM = 120.0

#: Largest linear mix gain of an instrument (+24 dB).
MAX_GAIN = 10.0 ** (24.0 / 20.0)


def _range(lo, hi, lo_open=False, hi_open=False):
    """The words for a range: ``"in [0, 1)"``, ``">= 1"``, ``"> 0"``, ``"<= 5"`` or ``""``."""
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi}"
    return ""


def _as_float(value):
    """(value as a float, else nan; what a message shows: the float, else the value as given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan, value
    try:
        v = float(value)
    except OverflowError:  # an int beyond float's range
        return math.nan, value
    return v, v  # a message shows nan, not np.float32(nan)


def integer(name, value, *, lo=None, hi=None, error):
    """`value` as an int, if it is an integer (not a bool) in [lo, hi]; else `error`.

    Examples
    --------
    >>> integer("n", 0, lo=1, error=ValueError)
    Traceback (most recent call last):
    ...
    ValueError: n must be an integer >= 1, got 0
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise error(f"{name} must be an integer{_range(lo, hi)}, got {value!r}")
    return int(value)


def integer_arg(lo, hi=None, *, what=None):
    """An argparse type: the text as an int in [lo, hi] (no upper bound when `hi` is None).

    Anything else raises ``argparse.ArgumentTypeError("expected <what>, got <text!r>")``,
    which argparse prints as one line (exit status 2); `what` defaults to "an integer"
    and the range.

    Examples
    --------
    >>> integer_arg(0, 15)(" 9")
    9
    >>> integer_arg(1, what="a positive integer")("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer, got '0'
    """
    import argparse

    if what is None:
        what = f"an integer{_range(lo, hi)}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


def number(name, value, *, lo=None, hi=None, lo_open=False, hi_open=False, error):
    """`value` as a float, if it is a finite real number (not a bool) in the range; else `error`.

    `lo_open` and `hi_open` leave a bound out of the range.

    Examples
    --------
    >>> number("duration", 0, lo=0.0, lo_open=True, error=ValueError)
    Traceback (most recent call last):
    ...
    ValueError: duration must be a finite number > 0.0, got 0.0
    """
    v, shown = _as_float(value)
    ok = (
        math.isfinite(v)
        and (lo is None or v > lo or (v == lo and not lo_open))
        and (hi is None or v < hi or (v == hi and not hi_open))
    )
    if not ok:
        raise error(
            f"{name} must be a finite number{_range(lo, hi, lo_open, hi_open)}, got {shown!r}"
        )
    return v


def sample_rate(value, *, name="sr", error):
    """`value` as an int, if it is an integer sample rate in [1, MAX_SAMPLE_RATE] Hz; else `error`.

    Examples
    --------
    >>> sample_rate(10**7, error=ValueError)
    Traceback (most recent call last):
    ...
    ValueError: sr must be an integer sample rate in [1, 768000] Hz, got 10000000
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 1 <= value <= MAX_SAMPLE_RATE
    ):
        raise error(
            f"{name} must be an integer sample rate in [1, {MAX_SAMPLE_RATE}] Hz, got {value!r}"
        )
    return int(value)


def duration(value, *, name="duration", hi=None, error):
    """`value` as a float, if it is a finite number of seconds > 0 (and <= `hi`); else `error`."""
    return number(name, value, lo=0.0, lo_open=True, hi=hi, error=error)


def temperature(value, *, name="temperature", hi=TEMPERATURE_RANGE[1], error):
    """`value` as a float, if it is 0 (argmax) or in :data:`TEMPERATURE_RANGE`; else `error`.

    `hi` lowers the top of the range to a caller's own limit (``fastdrum
    serve``'s); `name` is the argument's name in the message.

    Examples
    --------
    >>> temperature(1e-9, error=ValueError)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be 0 (argmax) or a finite number in [0.001, 1000.0], got 1e-09
    >>> temperature(20, name="kick.temperature", hi=10.0, error=ValueError)
    Traceback (most recent call last):
    ...
    ValueError: kick.temperature must be 0 (argmax) or a finite number in [0.001, 10.0], got 20.0
    """
    lo, hi = TEMPERATURE_RANGE[0], min(hi, TEMPERATURE_RANGE[1])
    v, shown = _as_float(value)
    if not (v == 0 or lo <= v <= hi):
        raise error(f"{name} must be 0 (argmax) or a finite number in [{lo}, {hi}], got {shown!r}")
    return v


def epsilon(value, *, error):
    """`value` as a float, if it is a probability cutoff in [0, 1) (0: none); else `error`.

    Examples
    --------
    >>> epsilon(0.01, error=ValueError)
    0.01
    >>> epsilon(1, error=ValueError)
    Traceback (most recent call last):
    ...
    ValueError: epsilon must be a finite number in [0, 1) (0: no cutoff), got 1.0
    """
    v, shown = _as_float(value)
    if not (0.0 <= v < 1.0):
        raise error(f"epsilon must be a finite number in [0, 1) (0: no cutoff), got {shown!r}")
    return v


def decay(value, *, name="decay", error):
    """`value` as a float, if it is a decay time: a finite number of seconds > 0; else `error`.

    Examples
    --------
    >>> decay(0.8, error=ValueError)
    0.8
    >>> decay(0, error=ValueError)
    Traceback (most recent call last):
    ...
    ValueError: decay must be a finite number of seconds > 0, got 0.0
    """
    v, shown = _as_float(value)
    if not (math.isfinite(v) and v > 0):
        raise error(f"{name} must be a finite number of seconds > 0, got {shown!r}")
    return v


def bpm(value, *, error):
    """`value` as a float, if it is a tempo in :data:`BPM_RANGE` (beats a minute); else `error`."""
    lo, hi = BPM_RANGE
    return number("bpm", value, lo=lo, hi=hi, lo_open=True, error=error)


def pattern_bpm(value, pattern, *, error):
    """The tempo of a beat: `value`, else the pattern's (``pattern.bpm``), else :data:`DEFAULT_BPM`.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> pattern_bpm(None, SimpleNamespace(bpm=None), error=ValueError)
    120.0
    >>> pattern_bpm(None, SimpleNamespace(bpm=90.0), error=ValueError)
    90.0
    """
    if value is None:
        value = getattr(pattern, "bpm", None) or DEFAULT_BPM
    return bpm(value, error=error)


def gain(name, value, *, error):
    """`value` as a float, if it is a linear gain in [0, MAX_GAIN]; else `error`."""
    return number(name, value, lo=0.0, hi=MAX_GAIN, error=error)


def pan(name, value, *, error):
    """`value` as a float, if it is a stereo position in [-1, 1] (left to right); else `error`."""
    return number(name, value, lo=-1.0, hi=1.0, error=error)


def flag(name, value, *, error):
    """`value` as a bool, if it is True or False (a NumPy bool too); else `error`."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise error(f"{name} must be True or False, got {value!r}")


def short(value, width=60):
    """``repr(value)``, cut to about `width` characters: a message never echoes a huge input.

    Examples
    --------
    >>> short("x" * 100, width=10)
    "'xxxxxxxxx... (100 characters)"
    """
    text = repr(value)
    if len(text) <= width:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
    return f"{text[:width]}... ({size})"


def seed_sequence(seed, error):
    """`seed` as a SeedSequence: None, a non-negative int, or a SeedSequence (as is); else `error`.

    The one rule for the `seed` argument of every public function.

    Examples
    --------
    >>> seed_sequence(5, ValueError).entropy
    5
    """
    import numpy as np  # here, not at the top: the command line imports this module before NumPy

    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
    ):
        raise error(f"seed must be a non-negative integer or None, got {seed!r}")
    return np.random.SeedSequence(seed)
