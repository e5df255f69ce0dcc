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

__all__ = [
    "mu_law_encode",
    "mu_law_decode",
    "silence_code",
    "preemphasis",
    "deemphasis",
    "shelf_coefficients",
    "shelf_corner",
    "fir_filter",
]


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


def _check_shelf(shelf):
    """A low shelf's ``(c, p)``: the zero and the pole of its training filter, ``0 <= c <= p < 1``."""
    try:
        c, p = shelf
    except (TypeError, ValueError):
        raise MuLawError(f"the low shelf must be a pair (c, p), got {shelf!r}") from None
    c = _checks.number("the low shelf's zero", c, lo=0.0, hi=1.0, hi_open=True, error=MuLawError)
    p = _checks.number("the low shelf's pole", p, lo=0.0, hi=1.0, hi_open=True, error=MuLawError)
    if c > p:
        raise MuLawError(f"the low shelf's zero {c!r} must not exceed its pole {p!r}")
    return c, p


def shelf_coefficients(hz, sample_rate, depth_db=20.0):
    """The low shelf ``(c, p)`` whose zero's corner is `hz` and whose depth is `depth_db`.

    ``c = 1 - 2 pi hz / sample_rate`` (the zero, near which the filter's gain
    falls back to about 1) and ``p = 1 - (1 - c) / 10^(depth_db / 20)`` (the
    pole): :func:`preemphasis` lifts DC by `depth_db` and :func:`deemphasis`
    cuts it by as much. ``hz = 0`` is none, ``(0.0, 0.0)``.

    Examples
    --------
    >>> c, p = shelf_coefficients(40, 44100)
    >>> round(c, 6), round(p, 7), round(float(20 * np.log10((1 - c) / (1 - p))), 6)
    (0.994301, 0.9994301, 20.0)
    """
    hz = _checks.number("the low shelf's corner", hz, lo=0.0, error=MuLawError)
    rate = _checks.number("the sample rate", sample_rate, lo=0.0, lo_open=True, error=MuLawError)
    depth_db = _checks.number(
        "the low shelf's depth", depth_db, lo=0.0, hi=200.0, lo_open=True, error=MuLawError
    )
    if not hz:
        return (0.0, 0.0)
    c = 1.0 - 2.0 * np.pi * hz / rate
    if not 0.0 <= c < 1.0:
        bound = rate / (2 * np.pi)
        raise MuLawError(f"the low shelf's corner {hz:g} Hz must lie below {bound:g} Hz")
    return (c, 1.0 - (1.0 - c) / 10.0 ** (depth_db / 20.0))


def shelf_corner(shelf, sample_rate):
    """``(hz, depth_db)`` of a low shelf ``(c, p)``: the inverse of :func:`shelf_coefficients`
    (``(0.0, 0.0)`` where ``c == p``, no shelf).

    Examples
    --------
    >>> [round(x, 6) for x in shelf_corner(shelf_coefficients(40, 44100), 44100)]
    [40.0, 20.0]
    """
    c, p = _check_shelf(shelf)
    if c == p:
        return (0.0, 0.0)
    return ((1.0 - c) * sample_rate / (2.0 * np.pi), 20.0 * float(np.log10((1.0 - c) / (1.0 - p))))


def preemphasis(y, a, b=0.0, shelf=(0.0, 0.0)):
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

    With a `shelf` ``(c, p)``, ``c < p`` (format 4), `y` is first taken through
    the low shelf ``s(t) = y(t) - c*y(t-1) + p*s(t-1)``, ``S(z) = (1 - c z^-1)
    / (1 - p z^-1)``: gain (1 - c) / (1 - p) at DC, about 1 above the zero's
    corner ``(1 - c) fs / 2 pi``. Its inverse in :func:`deemphasis` cuts
    whatever the model adds below that corner (the slow wander of kicks and
    toms) by up to the same factor, and leaves the band above it alone.

    Parameters
    ----------
    y : array_like of float
    a : float in (-1, 1)
    b : float in [0, 1), default 0
    shelf : pair of float, default (0, 0)
        ``(c, p)``, ``0 <= c <= p < 1``; ``c == p`` is none.

    Returns
    -------
    e : ndarray (float64 unless `a` and `b` are 0)

    Examples
    --------
    >>> preemphasis([1.0, 1.0, 0.0], 0.5).tolist()
    [0.6666666666666666, 0.3333333333333333, -0.3333333333333333]
    >>> preemphasis([1.0, 1.0, 0.0], 0.0, 0.5).tolist()
    [0.5, 0.75, 0.375]
    >>> preemphasis([1.0, 1.0, 0.0], 0.0, 0.0, (0.5, 0.75)).tolist()
    [1.0, 1.25, 0.4375]
    """
    a, b, (c, p) = _check_a(a), _check_b(b), _check_shelf(shelf)
    if a == 0 and b == 0 and c == p:
        return np.asarray(y)
    u = np.asarray(y, dtype=np.float64)
    if c != p or b:
        from scipy.signal import lfilter  # scipy.signal is slow to import: only when needed

        if c != p:
            u = lfilter([1.0, -c], [1.0, -p], u, axis=-1)
        if b:
            u = lfilter([1.0 - b], [1.0, -b], u, axis=-1)
    e = u.copy()
    e[..., 1:] -= a * u[..., :-1]
    return e / (1.0 + abs(a))


def deemphasis(e, a, b=0.0, shelf=(0.0, 0.0)):
    """Undo :func:`preemphasis`: de-emphasis ``u(t) = (1 + |a|)*e(t) + a*u(t-1)``, then ``y = u``.

    ``scipy.signal.lfilter([1 + |a|], [1, -a], e)``, ``u(-1) = 0``, along the
    last axis; then for ``b > 0`` the first difference that undoes the leaky
    integration, ``y(t) = (u(t) - b*u(t-1)) / (1 - b)``; then for a `shelf`
    ``(c, p)`` with ``c < p``, its inverse ``y(t) = s(t) - p*s(t-1) + c*y(t-1)``,
    ``lfilter([1, -p], [1, -c], s)``. ``a = b = 0`` without a shelf is the
    identity: `e` is returned unchanged.

    Parameters
    ----------
    e : array_like of float
    a : float in (-1, 1)
    b : float in [0, 1), default 0
    shelf : pair of float, default (0, 0)

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
    >>> s = (0.99, 0.999)
    >>> bool(np.allclose(deemphasis(preemphasis(y, 0.85, 0.0, s), 0.85, 0.0, s), y))
    True
    """
    a, b, (c, p) = _check_a(a), _check_b(b), _check_shelf(shelf)
    if a == 0 and b == 0 and c == p:
        return np.asarray(e)
    from scipy.signal import lfilter  # scipy.signal is slow to import: only when needed

    u = np.asarray(e, dtype=np.float64)
    if a:
        u = lfilter([1.0 + abs(a)], [1.0, -a], u, axis=-1)
    if b:
        y = u / (1.0 - b)
        y[..., 1:] -= (b / (1.0 - b)) * u[..., :-1]
        u = y
    if c != p:
        u = lfilter([1.0, -p], [1.0, -c], u, axis=-1)
    return u


def fir_filter(y, h):
    """Causal FIR filtering along the last axis, cut to the input's length: ``out(t) = sum_k h(k) y(t-k)``.

    What :func:`fastdrum.generate` takes a model's output filter (format 5) through:
    ``scipy.signal.lfilter(h, [1], y, axis=-1)``, computed by FFT (float64).

    Parameters
    ----------
    y : array_like of float, shape (..., T)
    h : array_like of float, shape (K,)

    Returns
    -------
    out : ndarray of float64, shape (..., T)

    Examples
    --------
    >>> fir_filter([1.0, 2.0, 3.0], [0.5, 0.25])
    array([0.5 , 1.25, 2.  ])
    """
    y = np.asarray(y, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64).reshape(-1)
    T = y.shape[-1]
    if T == 0 or h.size == 0:
        return np.zeros_like(y)
    n = 1 << int(np.ceil(np.log2(T + min(h.size, T) - 1)))
    spectrum = np.fft.rfft(y, n, axis=-1) * np.fft.rfft(h[:T], n)
    return np.fft.irfft(spectrum, n, axis=-1)[..., :T]


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
