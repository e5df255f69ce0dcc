"""mu-law companding between audio in [-1, 1] and integer codes in [0, Q).

The standard mu-law curve with ``mu = Q - 1`` (ITU-T G.711 style, continuous
form), the same quantisation as the WaveNet paper and ibab/tensorflow-wavenet:

    f(y)   = sign(y) * log1p(mu * |y|) / log1p(mu)
    code   = floor((f(y) + 1) / 2 * mu + 0.5)
    y(code) = sign(f) * ((1 + mu) ** |f| - 1) / mu,  with f = 2 * code / mu - 1
"""

import numpy as np

from . import _checks
from .errors import MuLawError

__all__ = ["mu_law_encode", "mu_law_decode", "silence_code", "preemphasis", "deemphasis"]


def _check_q(quantization_channels):
    q = int(quantization_channels)
    if q != quantization_channels or not 2 <= q <= 65536:
        raise MuLawError(
            f"quantization_channels must be an integer in [2, 65536], got {quantization_channels!r}"
        )
    return q


def silence_code(quantization_channels=256):
    """Return the code that encodes silence (``Q // 2``).

    Examples
    --------
    >>> silence_code(256)
    128
    """
    return _check_q(quantization_channels) // 2


def _check_a(a):
    return _checks.number(
        "the pre-emphasis coefficient",
        a,
        lo=-1.0,
        hi=1.0,
        lo_open=True,
        hi_open=True,
        error=MuLawError,
    )


def _check_b(b):
    return _checks.number(
        "the integration coefficient", b, lo=0.0, hi=1.0, hi_open=True, error=MuLawError
    )


def preemphasis(y, a, b=0.0):
    """Pre-emphasis ``e(t) = (u(t) - a*u(t-1)) / (1 + |a|)``, ``u = y`` or `y` integrated, along the last axis.

    What a format-2 model with ``preemphasis = a`` models (before mu-law);
    dividing by ``1 + |a|`` keeps ``e`` in [-1, 1] when ``y`` is. ``a = 0`` is
    the identity: `y` is returned unchanged. A positive `a` lifts high
    frequencies in `e` (generation's de-emphasis then lowers the model's
    sampling noise there and raises it at low frequencies); a negative `a`
    the reverse, for voices whose energy is high (hi-hats).

    With ``b > 0`` (format 3's ``integration``), ``u`` is the leaky integral
    ``u(t) = (1 - b)*y(t) + b*u(t-1)``, a one-pole low-pass of unit gain at DC
    that keeps ``u`` in [-1, 1] when ``y`` is. Its inverse in :func:`deemphasis`
    is a first difference, whose zero at ``z = b`` takes the model's sampling
    noise away from the lowest frequencies (rumble) and up towards the top:
    for voices with nothing down there (hi-hats). ``u(-1) = y(-1) = 0``.

    Parameters
    ----------
    y : array_like of float
    a : float in (-1, 1)
    b : float in [0, 1), default 0

    Returns
    -------
    e : ndarray (float64 unless `a` and `b` are 0)

    Examples
    --------
    >>> preemphasis([1.0, 1.0, 0.0], 0.5).tolist()
    [0.6666666666666666, 0.3333333333333333, -0.3333333333333333]
    >>> preemphasis([1.0, 1.0, 0.0], 0.0, 0.5).tolist()
    [0.5, 0.75, 0.375]
    """
    a, b = _check_a(a), _check_b(b)
    if a == 0 and b == 0:
        return np.asarray(y)
    u = np.asarray(y, dtype=np.float64)
    if b:
        from scipy.signal import lfilter  # scipy.signal is slow to import: only when needed

        u = lfilter([1.0 - b], [1.0, -b], u, axis=-1)
    e = u.copy()
    e[..., 1:] -= a * u[..., :-1]
    return e / (1.0 + abs(a))


def deemphasis(e, a, b=0.0):
    """Undo :func:`preemphasis`: de-emphasis ``u(t) = (1 + |a|)*e(t) + a*u(t-1)``, then ``y = u``.

    ``scipy.signal.lfilter([1 + |a|], [1, -a], e)``, ``u(-1) = 0``, along the
    last axis; then for ``b > 0`` the first difference that undoes the leaky
    integration, ``y(t) = (u(t) - b*u(t-1)) / (1 - b)``. ``a = b = 0`` is the identity: `e` is returned unchanged.

    Parameters
    ----------
    e : array_like of float
    a : float in (-1, 1)
    b : float in [0, 1), default 0

    Returns
    -------
    y : ndarray (float64 unless `a` and `b` are 0)

    Examples
    --------
    >>> y = np.array([0.5, -0.25, 1.0, 0.0])
    >>> bool(np.allclose(deemphasis(preemphasis(y, 0.85), 0.85), y))
    True
    >>> bool(np.allclose(deemphasis(preemphasis(y, -0.85), -0.85), y))
    True
    >>> bool(np.allclose(deemphasis(preemphasis(y, 0.85, 0.95), 0.85, 0.95), y))
    True
    """
    a, b = _check_a(a), _check_b(b)
    if a == 0 and b == 0:
        return np.asarray(e)
    from scipy.signal import lfilter  # scipy.signal is slow to import: only when needed

    u = np.asarray(e, dtype=np.float64)
    if a:
        u = lfilter([1.0 + abs(a)], [1.0, -a], u, axis=-1)
    if not b:
        return u
    y = u / (1.0 - b)
    y[..., 1:] -= (b / (1.0 - b)) * u[..., :-1]
    return y


def mu_law_encode(y, quantization_channels=256):
    """Encode audio in [-1, 1] as integer mu-law codes in [0, Q).

    Parameters
    ----------
    y : array_like of float
        Audio samples. Values outside [-1, 1] are clipped; NaN is rejected.
    quantization_channels : int, default 256
        Number of codes ``Q``; ``mu = Q - 1``.

    Returns
    -------
    codes : ndarray of int32
        Same shape as `y`.

    Raises
    ------
    MuLawError
        If `y` contains NaN or `quantization_channels` is out of range.

    Examples
    --------
    >>> mu_law_encode([-1.0, 0.0, 1.0])
    array([  0, 128, 255], dtype=int32)
    """
    q = _check_q(quantization_channels)
    y = np.asarray(y, dtype=np.float64)
    if np.isnan(y).any():
        raise MuLawError("audio contains NaN")
    mu = q - 1
    y = np.clip(y, -1.0, 1.0)
    f = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
    return np.floor((f + 1.0) / 2.0 * mu + 0.5).astype(np.int32)


def mu_law_decode(codes, quantization_channels=256):
    """Decode integer mu-law codes in [0, Q) to float32 audio in [-1, 1].

    Parameters
    ----------
    codes : array_like of int
        Codes in ``[0, Q)``.
    quantization_channels : int, default 256
        Number of codes ``Q``; ``mu = Q - 1``.

    Returns
    -------
    y : ndarray of float32
        Same shape as `codes`.

    Raises
    ------
    MuLawError
        If a code is out of range or not an integer.

    Examples
    --------
    >>> mu_law_decode([0, 255])
    array([-1.,  1.], dtype=float32)
    >>> bool(np.all(mu_law_encode(mu_law_decode(np.arange(256))) == np.arange(256)))
    True
    """
    q = _check_q(quantization_channels)
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise MuLawError(f"codes must be integers, got dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() >= q):
        raise MuLawError(f"codes must lie in [0, {q}), got range [{codes.min()}, {codes.max()}]")
    mu = q - 1
    f = 2.0 * codes.astype(np.float64) / mu - 1.0
    y = np.sign(f) * np.expm1(np.abs(f) * np.log1p(mu)) / mu
    return y.astype(np.float32)
