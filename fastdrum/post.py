"""Post-processing of drum clips and beats: filters, EQ, dynamics, normalisation.

The original experiment applied no EQ or compression, "which would do
wonders". Each function here takes audio ``y`` (float, time on the last axis,
so a clip ``(T,)``, a batch of clips ``(n, T)`` or a stereo beat ``(2, T)``)
and returns a new float32 array of the same shape. :func:`process` chains
them with sensible per-instrument settings (:data:`SETTINGS`).

Filters are RBJ "Audio EQ Cookbook" biquads (:func:`biquad`) and
:func:`scipy.signal.butter` high-passes, applied with :mod:`scipy.signal`.

Examples
--------
>>> import numpy as np
>>> from fastdrum import post
>>> sr = 16000
>>> y = np.sin(2 * np.pi * 100 * np.arange(sr // 10) / sr).astype(np.float32) + 0.5
>>> z = post.process(y, sr, instrument="kick")
>>> z.dtype, z.shape, bool(abs(z).max() <= 1.0)
(dtype('float32'), (1600,), True)
"""

import math

import numpy as np
from scipy import signal

from . import _checks
from .errors import PostProcessingError

__all__ = [
    "SETTINGS",
    "biquad",
    "remove_dc",
    "highpass",
    "eq",
    "compress",
    "gate",
    "decay",
    "fade_out",
    "k_weighting",
    "loudness",
    "normalize",
    "limit",
    "process",
    "master",
]


# fmt: off
#: Per instrument: high-pass (Hz), decay ceiling (hold, time), gate (dB), fade-out (seconds).
_STAGES = {
    #            highpass  decay          gate_db  fade
    "default":  (20.0,     None,          -50.0,   0.005),
    "kick":     (30.0,     (0.05, 0.085), -42.0,   0.01),
    "snare":    (60.0,     (0.03, 0.075), -42.0,   0.008),
    "hihat":    (300.0,    (0.02, 0.07),  -40.0,   0.005),
    "openhat":  (300.0,    (0.05, 0.2),   -45.0,   0.01),
    "clap":     (150.0,    (0.03, 0.075), -42.0,   0.008),
    "crash":    (200.0,    (0.1, 0.5),    -50.0,   0.02),
    "ride":     (200.0,    (0.1, 0.5),    -50.0,   0.02),
    "tom_low":  (40.0,     (0.05, 0.1),   -45.0,   0.01),
    "tom_mid":  (40.0,     (0.05, 0.1),   -45.0,   0.01),
    "tom_high": (40.0,     (0.05, 0.1),   -45.0,   0.01),
}
#: EQ bands; an instrument not named here has none.
_EQ = {
    "kick": (("lowshelf", 80.0, 4.0, 0.707), ("peaking", 350.0, -3.0, 1.0)),
    "snare": (("peaking", 200.0, 2.0, 1.0), ("highshelf", 5000.0, 2.0, 0.707)),
    "hihat": (("highshelf", 8000.0, 2.0, 0.707),),
    "openhat": (("highshelf", 8000.0, 2.0, 0.707),),
    "clap": (("peaking", 1200.0, 2.0, 1.0),),
    "tom_low": (("peaking", 3000.0, 2.0, 1.0),),
    "tom_mid": (("peaking", 3000.0, 2.0, 1.0),),
    "tom_high": (("peaking", 3000.0, 2.0, 1.0),),
}
#: Compressor (threshold_db, ratio, time); an instrument not named here has none.
_COMPRESS = {
    "kick":     (-14.0, 3.0, 0.005),
    "snare":    (-16.0, 3.0, 0.003),
    "clap":     (-16.0, 3.0, 0.003),
    "tom_low":  (-16.0, 2.5, 0.005),
    "tom_mid":  (-16.0, 2.5, 0.005),
    "tom_high": (-16.0, 2.5, 0.005),
}
# fmt: on

#: Default chain per instrument, used by :func:`process` (any key can be
#: overridden there). ``eq`` bands are ``(kind, frequency_hz, gain_db, q)``;
#: ``gate_db`` is relative to the clip's peak (on the ~300 Hydrogen one-shots
#: installed with Debian's hydrogen-drumkits, these thresholds remove at most
#: 0.13% of a clip's energy, while a WaveNet's hiss tail some 40 dB down
#: goes); ``decay`` is ``(hold, time)`` of :func:`decay`, set so that the median
#: real one-shot loses nothing to it (docs/drum-machine.md has the figures);
#: ``None`` skips a stage.
SETTINGS = {
    inst: dict(
        highpass=highpass,
        decay=decay,
        eq=_EQ.get(inst, ()),
        compress=(
            dict(zip(("threshold_db", "ratio", "time"), _COMPRESS[inst]))
            if inst in _COMPRESS
            else None
        ),
        gate_db=gate_db,
        fade=fade,
        normalize="peak",
        target_db=-1.0,
    )
    for inst, (highpass, decay, gate_db, fade) in _STAGES.items()
}

_KINDS = ("peaking", "lowshelf", "highshelf", "lowpass", "highpass")


def _num(name, value, **bounds):
    return _checks.number(name, value, error=PostProcessingError, **bounds)


def _audio(y):
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 0 or y.shape[-1] == 0:
        raise PostProcessingError(
            f"y must have at least one sample on its last axis, got shape {y.shape!r}"
        )
    if not np.isfinite(y).all():
        raise PostProcessingError("y contains NaN or Inf")
    return y


def _sr(sr):
    return _checks.sample_rate(sr, error=PostProcessingError)


def _freq(name, f, sr):
    f = _num(name, f, lo=0.0, lo_open=True)
    if f >= sr / 2:
        raise PostProcessingError(
            f"{name} must be below the Nyquist frequency {sr / 2} Hz, got {f!r}"
        )
    return f


def biquad(kind, frequency, sr, *, gain_db=0.0, q=0.7071067811865476):
    """Coefficients of an RBJ Audio-EQ-Cookbook biquad.

    Parameters
    ----------
    kind : {"peaking", "lowshelf", "highshelf", "lowpass", "highpass"}
    frequency : float
        Centre (peaking), corner (shelves: the midpoint of the transition) or
        cutoff frequency in Hz.
    sr : int
        Sample rate in Hz.
    gain_db : float
        Gain at `frequency` (peaking) or of the shelf, in dB.
    q : float
        Quality factor (for shelves, ``Q`` in the cookbook's sense; 0.707 is
        the steepest slope without overshoot).

    Returns
    -------
    b, a : ndarray of float64, shape (3,)
        Normalised so that ``a[0] == 1``; use with :func:`scipy.signal.lfilter`.

    Examples
    --------
    >>> from scipy.signal import freqz
    >>> b, a = biquad("peaking", 1000.0, 48000, gain_db=6.0, q=1.0)
    >>> _, h = freqz(b, a, worN=[1000.0], fs=48000)
    >>> round(float(20 * np.log10(abs(h[0]))), 6)
    6.0
    """
    if kind not in _KINDS:
        raise PostProcessingError(f"biquad kind must be one of {_KINDS!r}, got {kind!r}")
    sr = _sr(sr)
    f0 = _freq("frequency", frequency, sr)
    gain_db = _num("gain_db", gain_db, lo=-60.0, hi=60.0)
    q = _num("q", q, lo=0.0, lo_open=True)
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * f0 / sr
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    if kind == "peaking":
        b = [1 + alpha * A, -2 * cw, 1 - alpha * A]
        a = [1 + alpha / A, -2 * cw, 1 - alpha / A]
    elif kind == "lowshelf":
        s = 2 * math.sqrt(A) * alpha
        b = [
            A * ((A + 1) - (A - 1) * cw + s),
            2 * A * ((A - 1) - (A + 1) * cw),
            A * ((A + 1) - (A - 1) * cw - s),
        ]
        a = [(A + 1) + (A - 1) * cw + s, -2 * ((A - 1) + (A + 1) * cw), (A + 1) + (A - 1) * cw - s]
    elif kind == "highshelf":
        s = 2 * math.sqrt(A) * alpha
        b = [
            A * ((A + 1) + (A - 1) * cw + s),
            -2 * A * ((A - 1) + (A + 1) * cw),
            A * ((A + 1) + (A - 1) * cw - s),
        ]
        a = [(A + 1) - (A - 1) * cw + s, 2 * ((A - 1) - (A + 1) * cw), (A + 1) - (A - 1) * cw - s]
    elif kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    else:  # highpass
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    b, a = np.array(b), np.array(a)
    return b / a[0], a / a[0]


def remove_dc(y):
    """Subtract the mean of each signal (along the last axis).

    Examples
    --------
    >>> remove_dc(np.array([1.0, 2.0, 3.0]))
    array([-1.,  0.,  1.], dtype=float32)
    """
    y = _audio(y)
    return (y - y.mean(axis=-1, keepdims=True, dtype=np.float64)).astype(np.float32)


def highpass(y, sr, *, cutoff=20.0, order=2):
    """Butterworth high-pass filter (removes DC and rumble below `cutoff`).

    Parameters
    ----------
    y : array_like, time on the last axis
    sr : int
    cutoff : float
        -3 dB frequency in Hz.
    order : int, default 2
        Slope of ``6 * order`` dB/octave.

    Examples
    --------
    >>> sr = 8000
    >>> y = np.full(sr, 0.5, dtype=np.float32)   # pure DC
    >>> bool(abs(highpass(y, sr, cutoff=50.0)[-100:]).max() < 1e-4)
    True
    """
    y = _audio(y)
    sr = _sr(sr)
    cutoff = _freq("cutoff", cutoff, sr)
    order = _checks.integer("order", order, lo=1, hi=8, error=PostProcessingError)
    sos = signal.butter(order, cutoff, btype="highpass", fs=sr, output="sos")
    return signal.sosfilt(sos, y, axis=-1).astype(np.float32)


def eq(y, sr, bands):
    """Apply a chain of RBJ biquads (shelves, peaks, ...).

    Parameters
    ----------
    y : array_like, time on the last axis
    sr : int
    bands : sequence of (kind, frequency, gain_db, q)
        See :func:`biquad`; ``q`` may be left out (0.707).

    Examples
    --------
    >>> sr = 16000
    >>> t = np.arange(sr) / sr
    >>> y = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    >>> z = eq(y, sr, [("peaking", 1000.0, 6.0, 2.0)])
    >>> round(float(20 * np.log10(abs(z[sr // 2:]).max() / 0.1)), 1)
    6.0
    """
    y = _audio(y)
    out = y.astype(np.float64)
    for band in bands:
        if isinstance(band, str) or len(band) not in (3, 4):
            raise PostProcessingError(
                f"an EQ band must be (kind, frequency, gain_db[, q]), got {band!r}"
            )
        kind, f, g = band[:3]
        q = band[3] if len(band) == 4 else 0.7071067811865476
        b, a = biquad(kind, f, sr, gain_db=g, q=q)
        out = signal.lfilter(b, a, out, axis=-1)
    return out.astype(np.float32)


def compress(y, sr, *, threshold_db=-18.0, ratio=4.0, time=0.01, makeup_db=0.0, link=False):
    """Feed-forward RMS compressor.

    The level is the mean square of ``y`` smoothed by a one-pole filter with
    time constant `time`; above `threshold_db` (dBFS, RMS) the output level
    rises only ``1 / ratio`` dB per dB. A steady tone at RMS level ``L > T``
    therefore leaves at ``T + (L - T) / ratio + makeup_db``.

    Parameters
    ----------
    y : array_like, time on the last axis
    sr : int
    threshold_db : float
    ratio : float, >= 1
    time : float
        Detector time constant in seconds (attack and release alike).
    makeup_db : float
        Gain added after compression.
    link : bool, default False
        Use one detector for all signals (e.g. both channels of a stereo
        beat) so the image does not shift.

    Examples
    --------
    >>> sr = 16000
    >>> t = np.arange(sr) / sr
    >>> y = (np.sqrt(2) * 10 ** (-6 / 20) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    >>> z = compress(y, sr, threshold_db=-18.0, ratio=4.0)   # -6 dB RMS in: -15 dB out
    >>> round(float(10 * np.log10(np.mean(z[sr // 2:] ** 2.0))), 1)
    -15.0
    """
    y = _audio(y)
    sr = _sr(sr)
    threshold_db = _num("threshold_db", threshold_db, lo=-120.0, hi=0.0)
    ratio = _num("ratio", ratio, lo=1.0)
    time = _num("time", time, lo=0.0, lo_open=True)
    makeup_db = _num("makeup_db", makeup_db, lo=-60.0, hi=60.0)
    x = y.astype(np.float64)
    power = x * x
    if link and x.ndim > 1:
        power = power.reshape(-1, x.shape[-1]).mean(axis=0)
    k = 1.0 - math.exp(-1.0 / (time * sr))
    ms = signal.lfilter([k], [1.0, k - 1.0], power, axis=-1)
    level_db = 10.0 * np.log10(np.maximum(ms, 1e-20))
    over = np.maximum(level_db - threshold_db, 0.0)
    gain_db = -over * (1.0 - 1.0 / ratio) + makeup_db
    return (x * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def gate(y, sr, *, threshold_db=-50.0, release=0.01, window=0.005):
    """Silence the quiet tail of a one-shot (WaveNets leave hiss there).

    The envelope (moving RMS over `window` seconds) is compared with the
    signal's peak envelope; after the last point where it is above
    `threshold_db` relative to that peak, the signal fades to zero over
    `release` seconds (raised cosine) and stays silent. Nothing before that
    point changes.

    Examples
    --------
    >>> y = np.r_[np.ones(100), 1e-4 * np.ones(900)].astype(np.float32)
    >>> z = gate(y, 1000, threshold_db=-40.0, release=0.01)
    >>> bool(np.all(z[:100] == 1.0)), bool(np.all(z[200:] == 0.0))
    (True, True)
    """
    y = _audio(y)
    sr = _sr(sr)
    threshold_db = _num("threshold_db", threshold_db, lo=-200.0, hi=0.0)
    release = _num("release", release, lo=0.0)
    window = _num("window", window, lo=0.0, lo_open=True)
    n_win = max(1, round(window * sr))
    n_rel = round(release * sr)
    flat = y.reshape(-1, y.shape[-1])
    out = flat.copy()
    for row, x in zip(out, flat):
        env = _moving_rms(x, n_win)
        peak = env.max()
        if peak <= 0:
            continue
        loud = np.flatnonzero(env >= peak * 10.0 ** (threshold_db / 20.0))
        end = int(loud[-1]) + 1
        ramp = _fade_curve(n_rel)[: max(0, len(x) - end)]
        row[end : end + len(ramp)] *= ramp
        row[end + len(ramp) :] = 0.0
    return out.reshape(y.shape)


def decay(y, sr, *, hold=0.03, time=0.08, window=0.01):
    """Hold a one-shot's envelope under an exponential decay (a ceiling, not a fade).

    The ceiling is the signal's peak envelope for `hold` seconds, then falls
    as ``exp(-(t - hold) / time)``. Wherever the envelope (moving RMS over
    `window` seconds) rises above it, the gain brings it down to it; a clip
    that decays faster than the ceiling is unchanged. It reins in generated
    clips that do not die away (a WaveNet drifting into noise) while leaving
    real hits alone.

    Parameters
    ----------
    y : array_like, time on the last axis
    sr : int
    hold : float
        Seconds from the start at full level.
    time : float
        Time constant of the ceiling, in seconds (-8.7 dB per `time`).
    window : float
        Envelope window in seconds.

    Examples
    --------
    >>> sr = 1000
    >>> level = np.ones(sr, dtype=np.float32)   # never decays
    >>> decay(level, sr, hold=0.1, time=0.1)[[0, 100, 200, 500]]   # 1 until 0.1 s, then exp(-(t - 0.1) / 0.1)
    array([1.        , 1.        , 0.36787945, 0.01831564], dtype=float32)
    >>> noise = np.random.default_rng(0).uniform(-1, 1, sr)
    >>> hit = (np.exp(-np.arange(sr) / 20.0) * noise).astype(np.float32)   # dies away in 20 ms
    >>> bool(np.array_equal(decay(hit, sr, hold=0.1, time=0.1), hit))
    True
    """
    y = _audio(y)
    sr = _sr(sr)
    hold = _num("hold", hold, lo=0.0)
    time = _num("time", time, lo=0.0, lo_open=True)
    window = _num("window", window, lo=0.0, lo_open=True)
    n_win = max(1, round(window * sr))
    t = np.arange(y.shape[-1]) / sr
    ceiling = np.exp(-np.maximum(t - hold, 0.0) / time)
    flat = y.reshape(-1, y.shape[-1])
    out = flat.astype(np.float64)
    for row in out:
        env = _moving_rms(row, n_win)
        peak = env.max()
        if peak <= 0:
            continue
        over = env > ceiling * peak
        if over.any():
            gain = np.ones_like(env)
            gain[over] = ceiling[over] * peak / env[over]
            row *= gain
    return out.reshape(y.shape).astype(np.float32) if np.any(out != flat) else y.copy()


def _moving_rms(x, n_win):
    """Centred moving RMS over n_win samples, as long as x (the window may be longer than x)."""
    full = np.convolve(np.asarray(x, dtype=np.float64) ** 2, np.ones(n_win) / n_win, mode="full")
    start = (n_win - 1) // 2
    return np.sqrt(np.maximum(full[start : start + len(x)], 0.0))


def _fade_curve(n):
    """Raised-cosine fade from 1 to 0 over n samples (both ends excluded)."""
    return (0.5 * (1.0 + np.cos(np.pi * np.arange(1, n + 1) / (n + 1)))).astype(np.float32)


def fade_out(y, sr, *, duration=0.005):
    """Raised-cosine fade over the last `duration` seconds (no click at the end).

    Examples
    --------
    >>> fade_out(np.ones(5, dtype=np.float32), 1000, duration=0.003)
    array([1.  , 1.  , 0.75, 0.25, 0.  ], dtype=float32)
    """
    y = _audio(y)
    sr = _sr(sr)
    duration = _num("duration", duration, lo=0.0)
    n = min(round(duration * sr), y.shape[-1])
    out = y.copy()
    if n > 0:
        curve = np.r_[_fade_curve(n - 1), np.float32(0.0)] if n > 1 else np.zeros(1, np.float32)
        out[..., -n:] *= curve
    return out


def k_weighting(sr):
    """ITU-R BS.1770 K-weighting filter at `sr` as second-order sections.

    The two stages (a high shelf modelling the head, and the "RLB" high-pass)
    are designed from their analogue prototypes for any rate, as libebur128
    does; at 48 kHz they are BS.1770's published coefficients.

    Examples
    --------
    >>> np.round(k_weighting(48000)[0], 8)
    array([ 1.53512486, -2.69169619,  1.19839281,  1.        , -1.69065929,
            0.73248077])
    """
    sr = _sr(sr)
    f0, G, Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    K = math.tan(math.pi * f0 / sr)
    Vh = 10.0 ** (G / 20.0)
    Vb = Vh**0.4996667741545416
    a0 = 1.0 + K / Q + K * K
    shelf = [
        (Vh + Vb * K / Q + K * K) / a0,
        2.0 * (K * K - Vh) / a0,
        (Vh - Vb * K / Q + K * K) / a0,
        1.0,
        2.0 * (K * K - 1.0) / a0,
        (1.0 - K / Q + K * K) / a0,
    ]
    f0, Q = 38.13547087602444, 0.5003270373238773
    K = math.tan(math.pi * f0 / sr)
    a0 = 1.0 + K / Q + K * K
    rlb = [1.0, -2.0, 1.0, 1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0]
    return np.array([shelf, rlb])


def loudness(y, sr):
    """Loudness in LUFS (ITU-R BS.1770 K-weighted mean square, without gating).

    Drum one-shots are shorter than BS.1770's 400 ms gating blocks, so the
    measure is the ungated K-weighted power of the whole signal, summed over
    channels (``y`` of shape (channels, T)); a full-scale 997 Hz sine in one
    channel reads -3.01 LUFS (BS.1770's calibration).

    Examples
    --------
    >>> sr = 48000
    >>> y = np.sin(2 * np.pi * 997 * np.arange(sr) / sr)
    >>> round(loudness(y, sr), 2)
    -3.01
    """
    y = _audio(y)
    sr = _sr(sr)
    z = signal.sosfilt(k_weighting(sr), y.astype(np.float64), axis=-1)
    power = np.mean(z * z, axis=-1).sum()
    return float(-0.691 + 10.0 * np.log10(power)) if power > 0 else -math.inf


def normalize(y, *, mode="peak", target_db=-1.0, axis=-1, sr=None):
    """Scale audio to a target peak, RMS or loudness level.

    Parameters
    ----------
    y : array_like
    mode : {"peak", "rms", "lufs"}
        ``"peak"``: ``max|y|`` becomes ``10 ** (target_db / 20)``; ``"rms"``:
        the root mean square does (dBFS); ``"lufs"``: the :func:`loudness`
        becomes `target_db` LUFS (needs `sr`). After ``"rms"`` or ``"lufs"``
        the peak may exceed 1 (see :func:`limit`).
    target_db : float
    axis : int or None, default -1
        Normalise each signal along this axis separately; None: the whole
        array with one gain (e.g. both channels of a stereo beat; with
        ``"lufs"`` the channels are always measured together).
    sr : int, optional
        Sample rate, for ``"lufs"``.

    Silent signals are returned unchanged.

    Examples
    --------
    >>> normalize(np.array([0.25, -0.5]), target_db=0.0)
    array([ 0.5, -1. ], dtype=float32)
    """
    y = _audio(y)
    target_db = _num("target_db", target_db, lo=-120.0, hi=20.0)
    x = y.astype(np.float64)
    if mode == "lufs":
        if sr is None:
            raise PostProcessingError("mode='lufs' needs the sample rate: pass sr=")
        if axis is None or x.ndim == 1:
            return (_lufs_gain(x, sr, target_db) * x).astype(np.float32)
        moved = np.moveaxis(x, axis, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        out = np.stack([_lufs_gain(r, sr, target_db) * r for r in flat]).reshape(moved.shape)
        return np.moveaxis(out, -1, axis).astype(np.float32)
    kw = dict(axis=axis, keepdims=True) if axis is not None else {}
    if mode == "peak":
        level = np.abs(x).max(**kw)
    elif mode == "rms":
        level = np.sqrt(np.mean(x * x, **kw))
    else:
        raise PostProcessingError(f"mode must be 'peak', 'rms' or 'lufs', got {mode!r}")
    target = 10.0 ** (target_db / 20.0)
    gain = np.where(level > 0, target / np.where(level > 0, level, 1.0), 1.0)
    return (x * gain).astype(np.float32)


def _lufs_gain(x, sr, target_db):
    level = loudness(x, sr)
    return 1.0 if not math.isfinite(level) else 10.0 ** ((target_db - level) / 20.0)


def limit(y, *, ceiling=1.0):
    """Scale the whole array down (one gain) if its peak exceeds `ceiling`; never clips.

    Examples
    --------
    >>> limit(np.array([0.5, -2.0]))
    array([ 0.25, -1.  ], dtype=float32)
    >>> limit(np.array([0.5, -0.25]))
    array([ 0.5 , -0.25], dtype=float32)
    """
    y = _audio(y)
    ceiling = _num("ceiling", ceiling, lo=0.0, lo_open=True)
    peak = float(np.abs(y).max())
    if peak <= ceiling:
        return y.copy()
    out = (y.astype(np.float64) * (ceiling / peak)).astype(np.float32)
    # float32 rounding may land a hair above the ceiling: nudge those samples
    return np.clip(out, -ceiling, ceiling)


def process(y, sr, *, instrument=None, **overrides):
    """Clean up generated one-shots: the default chain for `instrument`.

    Stages, in this order, each skipped when its setting is None or empty:
    high-pass (removes DC too; ``highpass``, Hz), decay ceiling (``decay``,
    ``(hold, time)`` of :func:`decay`), tail gate (``gate_db``),
    EQ (``eq`` bands), compressor (``compress``, keyword arguments of
    :func:`compress`), fade-out (``fade``, seconds), normalisation
    (``normalize`` mode to ``target_db``).

    Parameters
    ----------
    y : array_like, shape (T,) or (n, T)
        One clip or a batch of clips at `sr`.
    sr : int
    instrument : str, optional
        Key of :data:`SETTINGS` (unknown or None: ``"default"``).
    **overrides
        Replace any setting, e.g. ``highpass=None`` or ``target_db=-3.0``.

    Returns
    -------
    ndarray of float32, same shape as `y`

    Examples
    --------
    >>> sr = 16000
    >>> y = np.random.default_rng(0).normal(0, 0.1, (2, 800)).astype(np.float32)
    >>> z = process(y, sr, instrument="hihat")
    >>> np.round(20 * np.log10(abs(z).max(axis=1)), 3)
    array([-1., -1.], dtype=float32)
    """
    y = _audio(y)
    sr = _sr(sr)
    settings = dict(SETTINGS.get(instrument, SETTINGS["default"]))
    unknown = set(overrides) - set(settings)
    if unknown:
        raise PostProcessingError(
            f"unknown post-processing settings {sorted(unknown)!r}; known: {sorted(settings)!r}"
        )
    settings.update(overrides)
    if settings["highpass"]:
        y = highpass(y, sr, cutoff=min(settings["highpass"], 0.45 * sr))
    if settings["decay"]:
        hold, time = settings["decay"]
        y = decay(y, sr, hold=hold, time=time)
    if settings["gate_db"] is not None:  # before EQ and compression, as in a channel strip
        y = gate(y, sr, threshold_db=settings["gate_db"])
    if settings["eq"]:
        bands = [b for b in settings["eq"] if b[1] < 0.45 * sr]  # skip bands above Nyquist
        y = eq(y, sr, bands)
    if settings["compress"]:
        y = compress(y, sr, **settings["compress"])
    if settings["fade"]:
        y = fade_out(y, sr, duration=settings["fade"])
    if settings["normalize"]:
        y = normalize(y, mode=settings["normalize"], target_db=settings["target_db"], sr=sr)
    return limit(y) if settings["normalize"] != "peak" else y


def master(y, sr, *, compress_settings=None, target_db=-1.0):
    """The beat's master bus: high-pass 20 Hz, gentle linked compression, peak normalisation.

    Parameters
    ----------
    y : array_like, shape (T,) or (2, T)
    sr : int
    compress_settings : dict, optional
        Keyword arguments of :func:`compress` (default: threshold -10 dB,
        ratio 2, 20 ms, linked).
    target_db : float
        Peak level of the result (dBFS, <= 0).

    Examples
    --------
    >>> y = np.zeros((2, 1000), dtype=np.float32); y[:, 10] = 3.0
    >>> round(float(20 * np.log10(abs(master(y, 16000)).max())), 3)
    -1.0
    """
    y = _audio(y)
    sr = _sr(sr)
    target_db = _num("target_db", target_db, lo=-120.0, hi=0.0)
    settings = dict(threshold_db=-10.0, ratio=2.0, time=0.02, link=True)
    settings.update(compress_settings or {})
    y = highpass(y, sr, cutoff=min(20.0, 0.45 * sr))
    y = compress(y, sr, **settings)
    return normalize(y, mode="peak", target_db=target_db, axis=None)
