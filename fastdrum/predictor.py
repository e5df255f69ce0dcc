"""Backward-adaptive linear prediction: the code of a format-6 model (docs/format.md, "Format 6").

A format-6 model's codes are not the 8-bit mu-law of the signal but of the error of a linear
predictor that adapts to the signal decoded so far, the structure of ADPCM: every `hop` samples the
coefficients ``a`` of order `order` are fitted (:func:`coefficients`) to the last `window` samples
decoded, each sample is predicted from the `order` decoded samples before it, ``pred(t) = a @
[y(t-1), ..., y(t-order)]``, and the decoded sample is the prediction plus the decoded error over the
gain, ``y(t) = pred(t) + e(t) / gain``. Before the first hop ends nothing has been decoded: ``a`` is
zero and the code is plain mu-law of the signal times the gain. The decoder needs only the codes, so
a network that learns the error's codes can leave the partials a drum rings to the predictor, which
holds them from one hop to the next (docs/evaluation.md, "Partials given and lost").

:func:`encode` is the closed loop training runs (the error of the prediction from the *decoded* past,
so the decoder follows it); :func:`synthesise` is the decoder :func:`fastdrum.generate` runs, a hop at
a time through :func:`scipy.signal.lfilter`; :func:`synthesise_reference` is the same maths a sample at
a time, which the tests hold both to.
"""

import functools
import math

import numpy as np
import scipy.fft
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

from .mulaw import mu_law_decode

#: The white-noise correction of the autocorrelation's lag 0 (a -40 dB floor under the fit).
WHITE_NOISE = 1.0001

#: Bounds a model file's predictor is checked against (docs/format.md): they bound the decoder's
#: work per sample, ``order`` multiply-adds plus a fit of ``O(window log window + order^2)`` a hop.
MAX_ORDER = 512
MAX_WINDOW = 16384
MIN_HOP = 32
GAIN_RANGE = (1.0 / 64, 64.0)


def coefficients(past, order, window):
    """Prediction coefficients ``a`` (``x(t) ~ a @ [x(t-1), ..., x(t-order)]``) fitted to the last
    `window` samples of `past` (zeros before its start) under a Hann window: the autocorrelation
    method (through the FFT), lag 0 times :data:`WHITE_NOISE`, the Levinson recursion
    (:func:`scipy.linalg.solve_toeplitz`). Zeros for silence or a fit that is not finite."""
    x = np.asarray(past, dtype=np.float64)[-window:]
    x = np.pad(x, (window - len(x), 0)) * _hann(window)
    n = scipy.fft.next_fast_len(window + order + 1, real=True)
    spectrum = scipy.fft.rfft(x, n)
    r = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n)[: order + 1]
    if not r[0] > 0:
        return np.zeros(order)
    r[0] *= WHITE_NOISE
    a = solve_toeplitz(r[:order], r[1 : order + 1])
    return a if np.isfinite(a).all() else np.zeros(order)


@functools.lru_cache(maxsize=8)
def _hann(window):
    w = np.hanning(window)
    w.setflags(write=False)
    return w


def _mu_law_code(v, mu, log_mu):
    """:func:`fastdrum.mulaw.mu_law_encode` of one float, in [-1, 1]."""
    f = math.copysign(math.log1p(mu * abs(v)) / log_mu, v) if v else 0.0
    return math.floor((f + 1.0) / 2.0 * mu + 0.5)


def encode(x, order, window, hop, gain, quantization_channels=256):
    """The closed loop on clip `x` (1-D): ``(codes, decoded)``, int32 codes and the float64 samples
    they decode to. The error times `gain` is clipped to [-1, 1] before it is coded."""
    x = np.asarray(x, dtype=np.float64)
    q = int(quantization_channels)
    mu, log_mu = q - 1, math.log1p(q - 1)
    levels = mu_law_decode(np.arange(q), q).astype(np.float64) / gain
    T = len(x)
    y = np.zeros(T + order)  # y[order + t] is decoded sample t
    codes = np.empty(T, dtype=np.int32)
    for s in range(0, T, hop):
        a = coefficients(y[order : order + s], order, window)[::-1] if s else None
        for t in range(s, min(s + hop, T)):
            pred = float(a @ y[t : order + t]) if s else 0.0
            v = min(max((x[t] - pred) * gain, -1.0), 1.0)
            c = _mu_law_code(v, mu, log_mu)
            codes[t] = c
            y[order + t] = pred + levels[c]
    return codes, y[order:]


def synthesise_reference(errors, order, window, hop):
    """The decoder a sample at a time: `errors` (..., T), each the decoded error over the gain, to
    the samples ``y(t) = a @ [y(t-1), ..., y(t-order)] + errors(t)``."""
    e = np.asarray(errors, dtype=np.float64)
    out = np.empty(e.shape)
    for idx in np.ndindex(e.shape[:-1]):
        row, T = e[idx], e.shape[-1]
        y = np.zeros(T + order)
        for s in range(0, T, hop):
            a = coefficients(y[order : order + s], order, window)[::-1] if s else None
            for t in range(s, min(s + hop, T)):
                y[order + t] = (float(a @ y[t : order + t]) if s else 0.0) + row[t]
        out[idx] = y[order:]
    return out


def synthesise(errors, order, window, hop):
    """:func:`synthesise_reference`'s samples a hop at a time: the all-pole filter ``1 / (1 - a(z))``
    of the hop's coefficients through :func:`scipy.signal.lfilter`, its state from the samples
    before the hop. Float64, the shape of `errors`."""
    e = np.asarray(errors, dtype=np.float64)
    out = np.empty(e.shape)
    for idx in np.ndindex(e.shape[:-1]):
        row, T = e[idx], e.shape[-1]
        y = np.empty(T)
        y[: min(hop, T)] = row[:hop]  # no coefficients before the first hop's end
        for s in range(hop, T, hop):
            a = coefficients(y[:s], order, window)
            stop = min(s + hop, T)
            # Direct form II transposed (lfilter's): state m is sum_j a[m + j] * y(s - 1 - j).
            past = y[max(s - order, 0) : s][::-1]
            zi = np.correlate(a, past, "full")[len(past) - 1 :][:order]
            y[s:stop] = lfilter([1.0], np.r_[1.0, -a], row[s:stop], zi=zi)[0]
        out[idx] = y
    return out
