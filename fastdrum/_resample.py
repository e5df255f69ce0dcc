"""Resampling one-shots from one sample rate to another (kits, and the ``generate`` command)."""

from fractions import Fraction

import numpy as np
from scipy import signal

from .errors import KitError

__all__ = ["MAX_CLIP_SECONDS", "resample"]

#: Longest clip, in seconds, that a kit holds (read from a file, or after resampling).
MAX_CLIP_SECONDS = 30


def resample(y, sr_from, sr_to, *, what="a clip"):
    """`y` (last axis) from `sr_from` to `sr_to` Hz, float32; at most MAX_CLIP_SECONDS long after.

    Polyphase (:func:`scipy.signal.resample_poly`), or FFT where the ratio's
    terms exceed 4096.

    Raises
    ------
    KitError
        If the result would be longer than :data:`MAX_CLIP_SECONDS` (`what` names the clip).

    Examples
    --------
    >>> resample(np.zeros((2, 160)), 16000, 44100).shape
    (2, 441)
    """
    if sr_from == sr_to:
        return np.asarray(y, dtype=np.float32)
    n = np.shape(y)[-1]
    n_out = -(-n * int(sr_to) // int(sr_from))
    if n_out > MAX_CLIP_SECONDS * sr_to:
        raise KitError(
            f"{what} of {n} samples at {sr_from} Hz would be {n_out / sr_to:.1f} s at "
            f"{sr_to} Hz, longer than the limit of {MAX_CLIP_SECONDS} s a clip"
        )
    frac = Fraction(int(sr_to), int(sr_from))
    y = np.asarray(y, dtype=np.float64)
    if max(frac.numerator, frac.denominator) > 4096:
        # resample_poly's filter has ~20 * max(up, down) taps (768000/767999: 15 million):
        # FFT instead
        return signal.resample(y, n_out, axis=-1).astype(np.float32)
    up, down = frac.numerator, frac.denominator
    return signal.resample_poly(y, up, down, axis=-1).astype(np.float32)
