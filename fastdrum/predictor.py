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

A format-7 model (docs/format.md, "Format 7") runs the same predictor inside the sampling loop
(:class:`Loop`): at every step the network is fed, beside the error's code, the code of the sample
just decoded and of the prediction of the next, as LPCNet feeds its network the last excitation, the
last sample and the prediction, so that it sees what the predictor will ring and can draw the error
that corrects it. :func:`loop_inputs` gives the same inputs for a clip in training.
"""

import functools
import math

import numpy as np
import scipy.fft
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

from .mulaw import mu_law_decode, mu_law_encode

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


def loop_inputs(x, order, window, hop, gain, quantization_channels=256):
    """The closed loop on clip `x` (1-D) as a format-7 network is trained on it: ``(errors, signal,
    predictions)``, int32 codes (T,) each: :func:`encode`'s codes, the mu-law codes of the decoded
    samples, and of the predictions (``predictions[t]`` of sample t; 0 in the first hop, where
    nothing is predicted). Step t of the network is fed ``errors[t]``, ``signal[t]`` and
    ``predictions[t + 1]`` and its logits are of ``errors[t + 1]``, as :class:`Loop` runs it."""
    q = int(quantization_channels)
    codes, decoded = encode(x, order, window, hop, gain, q)
    return (codes,) + loop_codes(codes, decoded, hop, gain, q)


def loop_codes(codes, decoded, hop, gain, quantization_channels=256):
    """``(signal, predictions)`` of error `codes` and the samples they decode to (both (T,)): the
    mu-law codes of the decoded samples and of each sample's prediction (the sample less its decoded
    error; exactly 0 in the first hop, where nothing is predicted)."""
    q = int(quantization_channels)
    levels = mu_law_decode(np.arange(q), q).astype(np.float64) / gain
    prediction = decoded - levels[codes]
    prediction[: min(hop, len(prediction))] = 0.0  # exactly, not to rounding
    return mu_law_encode(decoded, q), mu_law_encode(prediction, q)


class Loop:
    """A format-7 model's sampling on the NumPy reference: the predictor inside the loop, around
    its state (the compiled kernel runs the same loop inside its step, ``_loop_input``).

    ``run`` has :meth:`fastdrum._reference.State.run`'s interface; `codes` are the error codes (the
    primers' too). Before step t, sample t is decoded, ``y(t) = pred(t) + e(t) / gain``; after the
    sample that ends a hop, each row's coefficients are fitted to its decoded past
    (:func:`coefficients`, as :func:`encode` fits them); the state is then fed the codes of e(t), of
    y(t) and of ``pred(t + 1)``, and its logits give the code of e(t + 1). :attr:`decoded` holds each row's
    samples so far (float64), which :func:`synthesise` of the error codes gives too (to rounding).

    Parameters
    ----------
    state : object
        A state whose ``step(codes, signal, predictions)`` returns the logits (B, Q) and whose ``draw``
        draws from them (the NumPy reference's :class:`fastdrum._reference.State`).
    predictor : dict
        ``{"order", "window", "hop", "gain"}``.
    n_samples, quantization_channels : int
    """

    def __init__(self, state, predictor, n_samples, quantization_channels=256):
        self.state = state
        self.order, self.window = int(predictor["order"]), int(predictor["window"])
        self.hop, gain = int(predictor["hop"]), float(predictor["gain"])
        self.q = int(quantization_channels)
        self.levels = mu_law_decode(np.arange(self.q), self.q).astype(np.float64) / gain
        B = state.batch_size
        self._y = np.zeros((B, self.order + int(n_samples)))  # [:, order + t]: sample t
        self._a = np.zeros((B, self.order))  # each row's coefficients, oldest sample's first
        self._pred = np.zeros(B)  # the prediction of the next sample to decode
        self.t = 0

    @property
    def decoded(self):
        """(B, t) float64: the samples decoded so far."""
        return self._y[:, self.order : self.order + self.t]

    def run(
        self, codes, n_primer, uniforms, temperature, start, stop, logits_out=None, epsilon=0.0
    ):
        """Advance steps ``t = start .. stop - 1`` (see :class:`Loop`); `codes` modified in place."""
        if start != self.t:
            raise ValueError(f"run starts at step {start}, but the loop is at step {self.t}")
        o, y = self.order, self._y
        for t in range(start, stop):
            y[:, o + t] = self._pred + self.levels[codes[:, t]]
            self.t = t + 1
            if (t + 1) % self.hop == 0:
                for b in range(len(y)):
                    self._a[b] = coefficients(y[b, o : o + t + 1], o, self.window)[::-1]
            if t + 1 >= self.hop:
                self._pred = np.einsum("bk,bk->b", self._a, y[:, t + 1 : o + t + 1])
            logits = self.state.step(
                codes[:, t], mu_law_encode(y[:, o + t], self.q), mu_law_encode(self._pred, self.q)
            )
            if logits_out is not None:
                logits_out[:, t - start] = logits
            if t + 1 >= n_primer and t + 1 < codes.shape[1]:
                codes[:, t + 1] = self.state.draw(
                    logits, uniforms[:, t - start], temperature, epsilon
                )
