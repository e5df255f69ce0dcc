"""Quality evaluation of generated drum clips, judged on raw ``generate()`` output.

Per voice, generated clips are set beside real clips of that voice from kits
kept out of training entirely (the held-out kits a model's metadata names):

1. **hiss** -- median share of energy above 5 kHz in the first 0.25 s from the
   onset (:func:`hf_share_db`), generated beside real. **rumble** -- the same below
   30 Hz, DC included (:func:`lf_share_db`): at most 3 dB above the real clips'.
2. **decay** -- share of clips whose last quarter's RMS is below half their
   first quarter's (:func:`decays`), and share with an abrupt cut: a 5 ms
   frame more than 30 dB below the frame before it (:func:`abrupt_cuts`).
   **decay time** -- the median time from the loudest 10 ms to 20 dB below it
   (:func:`decay_times`), within a factor of the real clips' (:func:`decay_time_factors`).
   Reported beside, not judged: the spectral flatness (:func:`spectral_flatness`) and
   the partials that last from one 46 ms frame to the next (:func:`partial_persistence`).
3. **spectrum** -- RMS distance (dB) between the average log-mel spectra of
   generated and real clips (:func:`mel_distance_db`), beside the same
   distance between the real clips of the training kits and those of the
   held-out kits: two disjoint groups of real kits.
4. **recognised** -- a classifier (:class:`InstrumentClassifier`) fitted on the
   real clips of the training sources *plus a reject class "noise"*
   (stationary white, pink and brown noise, and the output of untrained
   networks: :func:`noise_clips`) names the voice of each clip; its accuracy
   on the real held-out clips is stated beside it.
5. **new and varied** -- copies of training clips and near-duplicate pairs
   (items 2 and 3 below).

An evaluation must be able to fail: ``--baseline noise``, ``--baseline
untrained`` and ``--baseline decaying-noise`` evaluate white noise, an untrained
network and white noise under decay envelopes of the voice's real decay times
in place of a model; docs/evaluation.md shows them failing. ``--baseline
predicted-noise`` is a format-6 model's predictor run on noise at the level of a
real clip's error, from the clip's attack (:func:`predicted_noise`). The measures used by both the earlier
and this evaluation:

1. **recognisable** -- a simple classifier (standardised log-band spectrum and
   envelope features, multinomial logistic regression from scikit-learn),
   fitted on real one-shots from kits *not used for training*, names the
   instrument of each generated clip. Its accuracy on real held-out clips (by
   leave-one-kit-out cross-validation) is reported beside it.
2. **new** -- the largest normalised cross-correlation (over all lags) of each
   generated clip with every training clip; a clip above ``copy_threshold``
   (0.95) counts as a copy.
3. **varied** -- the same correlation between every pair of generated clips;
   a pair above the threshold counts as a near-duplicate.
4. **sound** -- finite, not silent, decaying (the last quarter's energy at
   least ``decay_db`` below the first quarter's), no DC offset.

Run from the repository root, e.g.::

    python -m training.evaluate -n 100 --post --json eval.json
"""

import functools
import os

import numpy as np
import scipy.fft
from scipy import signal

from .data import PEAK

__all__ = [
    "features",
    "hf_share_db",
    "lf_share_db",
    "RUMBLE_HZ",
    "decays",
    "abrupt_cuts",
    "mean_log_mel",
    "mel_distance_db",
    "colored_noise",
    "noise_clips",
    "RealClips",
    "evaluate_clips",
    "table",
    "InstrumentClassifier",
    "max_normalised_xcorr",
    "novelty",
    "variety",
    "sound_checks",
    "spectral_flatness",
    "partial_persistence",
]

_N_BANDS = 24
_ENV_POINTS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.12, 0.16, 0.2, 0.25, 0.35, 0.5)


def features(y, sr, *, duration=0.5):
    """Instrument features of one clip: log-band spectrum shape and envelope.

    The clip is cut or padded to `duration` seconds. Features are gain
    independent: the band spectrum is relative to its mean, the envelope to
    its peak.

    Parameters
    ----------
    y : ndarray, shape (T,)
    sr : int
    duration : float

    Returns
    -------
    ndarray of float64, shape (_N_BANDS + len(_ENV_POINTS) + 5,)
    """
    n = int(round(duration * sr))
    y = np.asarray(y, dtype=np.float64)[:n]
    y = np.pad(y, (0, n - len(y)))
    y = y - y.mean()
    eps = 1e-10
    # Log energy in bands spaced evenly on the mel scale from 30 Hz to 10 kHz.
    spec = np.abs(np.fft.rfft(y * np.hanning(n))) ** 2
    freqs = np.fft.rfftfreq(n, 1 / sr)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges_mel = np.linspace(mel(30), mel(min(16000, sr / 2)), _N_BANDS + 1)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    bands = np.array(
        [spec[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])]
    )
    log_bands = np.log10(bands + eps * spec.sum() + eps)
    log_bands -= log_bands.mean()
    # Envelope: RMS in 5 ms frames, in dB relative to the peak frame, at fixed times.
    frame = max(1, int(0.005 * sr))
    n_frames = n // frame
    rms = np.sqrt((y[: n_frames * frame].reshape(n_frames, frame) ** 2).mean(axis=1) + eps)
    env_db = 20 * np.log10(rms / rms.max())
    times = (np.arange(n_frames) + 0.5) * frame / sr
    env = np.interp(_ENV_POINTS, times, env_db)
    centroid = (freqs * spec).sum() / (spec.sum() + eps)
    zcr = np.mean(np.abs(np.diff(np.signbit(y).astype(np.int8))))
    peak_time = np.argmax(rms) * frame / sr
    # Stationary noise is flat in spectrum and in time: spectral flatness and late/early energy.
    flatness = _flatness(spec, freqs, sr, eps)
    q = max(1, n_frames // 4)
    late = 10 * np.log10((rms[-q:] ** 2).mean() / (rms[:q] ** 2).mean())
    return np.concatenate(
        [
            log_bands,
            env / 20,
            [np.log10(centroid + 1), zcr * 10, peak_time * 100, flatness * 10, late / 20],
        ]
    )


class InstrumentClassifier:
    """Logistic regression on :func:`features`, fitted on labelled real one-shots."""

    def __init__(self, C=1.0):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))

    def fit(self, clips, labels, sr):
        return self.fit_features(np.array([features(c, sr) for c in clips]), labels)

    def fit_features(self, X, labels):
        """Fit on :func:`features` rows `X` already computed."""
        self.pipeline.fit(X, np.asarray(labels))
        return self

    def predict(self, clips, sr):
        X = np.array([features(c, sr) for c in clips])
        return self.pipeline.predict(X)

    @property
    def classes(self):
        return list(self.pipeline.classes_)


def unseen_kit_accuracy(clips, labels, kits, sr, *, noise=()):
    """How often the classifier names a real clip's voice when the clip's kit is not among those it
    was fitted on: each kit's clips judged by an :class:`InstrumentClassifier` fitted on every other
    kit's clips (and on `noise`, labelled ``"noise"``), as the evaluation fits it.

    This is what a model that draws new clips like its training kits' could expect to be recognised,
    beside the held-out kits' own accuracy (a voice whose held-out clips are of a kind the training
    kits seldom hold is recognised more often there than the training kits' clips are).

    Parameters
    ----------
    clips : sequence of ndarray
    labels : sequence of str
        each clip's voice.
    kits : sequence of str
        each clip's kit; the clips of one kit are left out together.
    sr : int
    noise : sequence of ndarray
        the reject class, in every fit.

    Returns
    -------
    dict
        voice -> share of its clips named that voice.
    """
    X = np.array([features(c, sr) for c in clips])
    Xn = np.array([features(c, sr) for c in noise]).reshape(len(noise), X.shape[1])
    return _unseen_kit_accuracy(X, labels, kits, Xn)


def _unseen_kit_accuracy(X, labels, kits, Xn):
    """:func:`unseen_kit_accuracy` of the :func:`features` rows `X` (clips) and `Xn` (noise)."""
    labels, kits = np.asarray(labels), np.asarray(kits)
    pred = np.empty(len(labels), dtype=object)
    for k in dict.fromkeys(kits.tolist()):
        out = kits == k
        clf = InstrumentClassifier().fit_features(
            np.concatenate([X[~out], Xn]),
            np.concatenate([labels[~out], np.full(len(Xn), "noise")]),
        )
        pred[out] = clf.pipeline.predict(X[out])
    return {v: float(np.mean(pred[labels == v] == v)) for v in dict.fromkeys(labels.tolist())}


def _unit(y):
    y = np.asarray(y, dtype=np.float64)
    y = y - y.mean()
    norm = np.linalg.norm(y)
    return y / norm if norm > 0 else y


def max_normalised_xcorr(a, b):
    """Largest |normalised cross-correlation| of two clips over all lags, in [0, 1].

    ``max_k |sum_t a(t) b(t + k)| / (||a|| ||b||)`` after removing each clip's mean;
    1 means one clip is a shifted, scaled copy of the other.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> round(max_normalised_xcorr(x, 0.5 * np.roll(np.pad(x, (0, 50)), 50)), 3)
    1.0
    """
    c = signal.correlate(_unit(a), _unit(b), mode="full", method="fft")
    return float(np.abs(c).max())


def _pairwise_max_xcorr(A, B=None):
    """Matrix of max_normalised_xcorr for every clip of A against every clip of B; without B, the
    values of A's pairs i < j (:func:`variety`'s), each computed once: half the transforms."""
    n = A.shape[1] if B is None else max(A.shape[1], B.shape[1])
    size = scipy.fft.next_fast_len(2 * n - 1)
    FA = np.fft.rfft(np.array([_unit(a) for a in A]), size)
    if B is None:
        return np.concatenate(
            [
                np.abs(np.fft.irfft(FA[i] * np.conj(FA[i + 1 :]), size)).max(axis=1)
                for i in range(len(A) - 1)
            ]
            or [np.empty(0)]
        )
    FB = np.fft.rfft(np.array([_unit(b) for b in B]), size)
    out = np.empty((len(A), len(B)))
    for i in range(len(A)):
        out[i] = np.abs(np.fft.irfft(FA[i] * np.conj(FB), size)).max(axis=1)
    return out


def novelty(generated, training, *, copy_threshold=0.95):
    """Largest correlation of each generated clip with any training clip, and the copy rate."""
    m = _pairwise_max_xcorr(np.asarray(generated), np.asarray(training)).max(axis=1)
    return {
        "max_xcorr_median": float(np.median(m)),
        "max_xcorr_max": float(m.max()),
        "copy_rate": float(np.mean(m > copy_threshold)),
    }


def variety(generated, *, copy_threshold=0.95):
    """Fraction of pairs of generated clips that correlate above the threshold."""
    pairs = _pairwise_max_xcorr(np.asarray(generated))  # in the order of np.triu_indices(n, 1)
    return {
        "pair_xcorr_median": float(np.median(pairs)),
        "duplicate_pair_rate": float(np.mean(pairs > copy_threshold)),
    }


def sound_checks(clips, *, silence_peak=0.01, decay_db=6.0, max_dc=0.02):
    """Fraction of clips that are finite, not silent, decaying, without DC offset."""
    clips = np.asarray(clips, dtype=np.float64)
    finite = np.isfinite(clips).all(axis=1)
    safe = np.where(np.isfinite(clips), clips, 0.0)
    peak = np.abs(safe).max(axis=1)
    q = clips.shape[1] // 4
    first = (safe[:, :q] ** 2).mean(axis=1) + 1e-20
    last = (safe[:, -q:] ** 2).mean(axis=1) + 1e-20
    decaying = 10 * np.log10(first / last) >= decay_db
    dc = np.abs(safe.mean(axis=1)) / np.maximum(peak, 1e-12)
    ok = finite & (peak > silence_peak) & decaying & (dc < max_dc)
    return {
        "finite": float(finite.mean()),
        "not_silent": float(np.mean(peak > silence_peak)),
        "decaying": float(decaying.mean()),
        "no_dc": float(np.mean(dc < max_dc)),
        "all_sound_checks": float(ok.mean()),
    }


# ----------------------------------------------------------------------------- raw-output measures
def _onset(y, threshold=0.1):
    a = np.abs(y)
    peak = a.max() if a.size else 0.0
    return int(np.argmax(a >= threshold * peak)) if peak > 0 else 0


#: The voices whose rows carry a pitch (:func:`peak_pitch`): the drums tuned to a note. Reported
#: beside the criteria, not one: a high tom pitched under the mid tom passes every criterion (its
#: classifier names none of the held-out high toms), and only this figure shows it.
PITCHED_VOICES = ("kick", "tom_low", "tom_mid", "tom_high")

#: :func:`peak_pitch`'s band (Hz) and the stretch after the onset it measures (s): past the attack,
#: within the body of the shortest toms.
PITCH_LOW_HZ, PITCH_HIGH_HZ, PITCH_START, PITCH_STOP = 40.0, 400.0, 0.02, 0.2


def peak_pitch(y, sample_rate):
    """The pitch of a drum hit as the frequency (Hz) of `y`'s strongest spectral peak between
    :data:`PITCH_LOW_HZ` and :data:`PITCH_HIGH_HZ` over :data:`PITCH_START` to :data:`PITCH_STOP` s
    after its onset (the first sample at a tenth of its peak magnitude): a Hann window, zero-padded
    to 1 Hz bins or finer. A clip with less than two samples there raises ValueError.

    Examples
    --------
    >>> t = np.arange(22050) / 22050
    >>> float(round(peak_pitch(np.sin(2 * np.pi * 91 * t) * np.exp(-t / 0.2), 22050)))
    91.0
    """
    y = np.asarray(y, dtype=np.float64)
    on = _onset(y)
    seg = y[on + int(PITCH_START * sample_rate) : on + int(PITCH_STOP * sample_rate)]
    if len(seg) < 2:
        raise ValueError(
            f"a clip of {len(y)} samples has no {PITCH_START}-{PITCH_STOP} s after its onset"
        )
    n = 1 << max(int(np.ceil(np.log2(sample_rate))), int(np.ceil(np.log2(len(seg)))))
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n))
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    band = (f >= PITCH_LOW_HZ) & (f <= PITCH_HIGH_HZ)
    return float(f[band][np.argmax(spectrum[band])])


def peak_pitches(clips, sample_rate):
    """:func:`peak_pitch` of each of `clips`, an array."""
    return np.array([peak_pitch(c, sample_rate) for c in clips])


def _median_pitch(clips, sr):
    """The median :func:`peak_pitch` (Hz) of `clips`; nan for none."""
    return float(np.median(peak_pitches(clips, sr))) if len(clips) else float("nan")


def _flatness(spec, freqs, sr, eps=1e-10):
    """Geometric over arithmetic mean of power spectrum `spec` between 100 Hz and 16 kHz (or Nyquist)."""
    band = spec[(freqs > 100) & (freqs < min(16000, sr / 2))] + eps
    return float(np.exp(np.mean(np.log(band))) / np.mean(band))


def spectral_flatness(y, sr, *, duration=0.5):
    """Spectral flatness of one clip's first `duration` s (cut or padded), as the classifier's feature.

    The geometric over the arithmetic mean of the Hann-windowed power spectrum between 100 Hz and
    16 kHz: about ``exp(-0.5772) = 0.56`` (Euler's constant) for white noise, whose periodogram
    bins are exponentially distributed, and near 0 for a tone or a spectrum of a few partials.

    Examples
    --------
    >>> sr = 44100; t = np.arange(sr // 2) / sr
    >>> spectral_flatness(np.sin(2 * np.pi * 440 * t), sr) < 0.01
    True
    """
    n = int(round(duration * sr))
    y = np.asarray(y, dtype=np.float64)[:n]
    y = np.pad(y, (0, n - len(y)))
    y = y - y.mean()
    spec = np.abs(np.fft.rfft(y * np.hanning(n))) ** 2
    return _flatness(spec, np.fft.rfftfreq(n, 1 / sr), sr)


#: The rumble criterion's band: energy below this many Hz (:func:`lf_share_db`).
RUMBLE_HZ = 30.0


def partial_persistence(y, sr, *, duration=0.5, frame=0.04644, smooth_hz=344.0, floor_db=40.0):
    """How much of a clip's spectral fine structure lasts from one frame to the next: its partials.

    The clip's first `duration` s (cut or padded) in frames of `frame` s (2,048 samples at 44.1 kHz;
    Hann-windowed, none overlapping); in each, the log power spectrum between 100 Hz and 16 kHz (or
    Nyquist) less its moving average over `smooth_hz` (the spectral envelope), leaving the peaks and
    dips; then the correlation of that fine structure between each pair of consecutive frames, mean
    weighted by the pair's energy, over the frames within `floor_db` of the loudest. A partial that
    rings through two frames puts a peak at the same place in both: 1 for a steady tone, about 0 for
    noise, whatever its spectral envelope or time envelope (each frame's noise draws its peaks
    afresh). Real crashes and rides, whose modes ring, stand at 0.4-0.7 (median of the held-out
    kits), hats at 0.15-0.35, kicks, snares and toms at 0.03-0.27 (docs/evaluation.md, "Partials that
    last"). NaN for a clip with fewer than two frames above the floor.

    Examples
    --------
    >>> sr = 44100; t = np.arange(sr // 2) / sr
    >>> round(partial_persistence(np.sin(2 * np.pi * 440 * t) * np.exp(-4 * t), sr), 2)
    1.0
    >>> abs(partial_persistence(np.random.default_rng(0).standard_normal(sr // 2), sr)) < 0.05
    True
    """
    from scipy.ndimage import uniform_filter1d

    n = int(round(duration * sr))
    y = np.asarray(y, dtype=np.float64)[:n]
    y = np.pad(y, (0, n - len(y)))
    n_fft = int(round(frame * sr))
    k = n // n_fft
    if k < 2:
        return float("nan")
    power = np.abs(np.fft.rfft(y[: k * n_fft].reshape(k, n_fft) * np.hanning(n_fft), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    power = power[:, (freqs > 100) & (freqs < min(16000, sr / 2))]
    energy = power.sum(axis=1)
    if energy.max() <= 0:
        return float("nan")
    log = np.log(power + 1e-12 * power.max())
    width = max(3, int(round(smooth_hz / (sr / n_fft))))
    fine = log - uniform_filter1d(log, width, axis=1, mode="nearest")
    fine -= fine.mean(axis=1, keepdims=True)
    loud = energy >= energy.max() * 10 ** (-floor_db / 10)
    pairs = np.flatnonzero(loud[:-1] & loud[1:])
    if not len(pairs):
        return float("nan")
    a, b = fine[pairs], fine[pairs + 1]
    r = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1) + 1e-30)
    return float(np.average(r, weights=np.sqrt(energy[pairs] * energy[pairs + 1])))


def _median_persistence(clips, sr):
    """Median :func:`partial_persistence` of the clips that have one; NaN if none has."""
    values = np.array([partial_persistence(c, sr) for c in clips])
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def _power_from_onset(y, sr, window):
    """(power, Hz, length) of the one-sided spectrum of `window` s of `y` from its onset (rectangular window:
    the onset is where the clip starts). With ``power[1:-1] * 2`` (and the last bin too for an odd
    length) the bins sum to the stretch's energy (Parseval); :func:`hf_share_db` sums them unweighted,
    as it always has (its band has neither DC nor Nyquist)."""
    y = np.asarray(y, dtype=np.float64)
    i = _onset(y)
    seg = y[i : i + int(round(window * sr))]
    return np.abs(np.fft.rfft(seg)) ** 2, np.fft.rfftfreq(len(seg), 1 / sr), len(seg)


def hf_share_db(y, sr, *, cutoff=5000.0, window=0.25):
    """Energy above `cutoff` Hz as a share of all energy (dB), over `window` s from the onset.

    Examples
    --------
    >>> sr = 44100; t = np.arange(sr // 4) / sr
    >>> round(hf_share_db(np.sin(2 * np.pi * 100 * t) + 0.1 * np.sin(2 * np.pi * 8000 * t), sr), 1)
    -20.0
    """
    spec, freqs, _ = _power_from_onset(y, sr, window)
    total = spec.sum()
    if total <= 0:
        return float("-inf")
    return float(10 * np.log10(max(spec[freqs >= cutoff].sum(), 1e-30) / total))


def lf_share_db(y, sr, *, cutoff=RUMBLE_HZ, window=0.25):
    """Energy below `cutoff` Hz (DC included) as a share of all energy (dB), over `window` s from the
    onset: the rumble criterion's measure. No drum's fundamental lies below 30 Hz; the de-emphasis
    of a pre-emphasis model raises low frequencies by up to (1 + a) / (1 - a) (21.8 dB at a = 0.85),
    its sampling noise with them.

    Examples
    --------
    >>> sr = 44100; t = np.arange(sr // 4) / sr
    >>> round(lf_share_db(np.sin(2 * np.pi * 100 * t) + 0.1 * np.sin(2 * np.pi * 20 * t), sr))
    -20
    >>> round(lf_share_db(np.sqrt(2) * np.sin(2 * np.pi * 1000 * t) + 0.1, sr))  # DC: 0.01 / 1.01
    -20
    """
    spec, freqs, n = _power_from_onset(y, sr, window)
    weights = np.full(len(spec), 2.0)  # one-sided: every bin but DC (and Nyquist) stands for two
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    spec = spec * weights
    total = spec.sum()
    if total <= 0:
        return float("-inf")
    return float(10 * np.log10(max(spec[freqs < cutoff].sum(), 1e-30) / total))


def decays(clips):
    """Per clip: is the RMS of its last quarter below half the RMS of its first quarter?"""
    clips = np.asarray(clips, dtype=np.float64)
    q = clips.shape[1] // 4
    first = np.sqrt((clips[:, :q] ** 2).mean(axis=1))
    last = np.sqrt((clips[:, -q:] ** 2).mean(axis=1))
    return last < 0.5 * first


def decay_times(clips, sr, *, frame=0.01, drop_db=20.0):
    """Per clip: seconds from its loudest `frame` until a frame is `drop_db` below it (inf if none is)."""
    clips = np.asarray(clips, dtype=np.float64)
    f = max(1, int(round(frame * sr)))
    n = clips.shape[1] // f
    e = 10 * np.log10(np.mean(clips[:, : n * f].reshape(len(clips), n, f) ** 2, axis=2) + 1e-20)
    out = np.full(len(clips), np.inf)
    for i, row in enumerate(e):
        pk = int(row.argmax())
        below = np.flatnonzero(row[pk:] < row[pk] - drop_db)
        if len(below):
            out[i] = below[0] * f / sr
    return out


def _median_time(clips, sr):
    """The median of :func:`decay_times` (inf if most clips never fall 20 dB)."""
    return float(np.median(decay_times(clips, sr)))


#: The decay-time criterion's tolerance: generated clips may ring up to this many times longer or
#: shorter (median 20 dB decay time) than the held-out real clips, or as many times as the training
#: kits' median differs from the held-out kits' where that is more.
DECAY_TIME_FACTOR = 2.0


def decay_time_factors(row):
    """``(factor, allowed)`` of an evaluation row: how many times longer or shorter (>= 1) the
    generated clips' median 20 dB decay time (``decay_time``) is than the held-out real clips'
    (``decay_time_real``), and the most the decay-time criterion allows: :data:`DECAY_TIME_FACTOR`,
    or the training kits' factor from the held-out kits (``decay_time_train``) where that is larger
    (two groups of real kits differ that much). A median that is inf (most clips never fall 20 dB)
    counts as the clip length, ``samples / sample_rate``, a lower bound on it.

    Examples
    --------
    >>> row = dict(decay_time=0.1, decay_time_real=0.4, decay_time_train=0.3, samples=44100,
    ...            sample_rate=44100)
    >>> decay_time_factors(row)
    (4.0, 2.0)
    >>> decay_time_factors(dict(row, decay_time=float("inf"), decay_time_train=0.1))
    (2.5, 4.0)
    """
    length = row["samples"] / row["sample_rate"]
    gen, held, train = (
        min(float(row[k]), length) for k in ("decay_time", "decay_time_real", "decay_time_train")
    )

    def factor(a, b):
        return max(a, b) / min(a, b)

    return factor(gen, held), max(DECAY_TIME_FACTOR, factor(train, held))


#: The peak every training clip is normalised to (:data:`training.data.PEAK`), and how far under it
#: a generated clip's peak may lie before the level criterion calls it quiet: 12 dB, 6 dB under the
#: quietest the recipe's gain augmentation (``--gain-db 6``) trains on. The other measures are
#: level-free, so a temperature that collapses the attack (a kick at 0.8) passed them.
TRAINED_PEAK = PEAK
QUIET_DB = 12.0
QUIET_PEAK = TRAINED_PEAK * 10 ** (-QUIET_DB / 20)


def quiet_share(clips, *, peak=QUIET_PEAK):
    """The share of `clips` (n, T) whose absolute peak lies under `peak` (the level criterion)."""
    clips = np.asarray(clips, dtype=np.float64)
    if not len(clips):
        return float("nan")
    return float(np.mean(np.abs(clips).max(axis=1) < peak))


def abrupt_cuts(clips, sr, *, frame=0.005, drop_db=30.0, floor_db=-50.0):
    """Per clip: does it fall more than `drop_db` within one `frame` from above `floor_db` (re its peak)?

    A struck drum decays at most a few dB per 5 ms; a cut to digital silence
    falls by 40 dB or more at once. The clip's own end is not a cut.
    """
    clips = np.asarray(clips, dtype=np.float64)
    n = max(1, int(round(frame * sr)))
    m = clips.shape[1] // n
    rms = np.sqrt((clips[:, : m * n].reshape(len(clips), m, n) ** 2).mean(axis=2)) + 1e-12
    db = 20 * np.log10(rms / rms.max(axis=1, keepdims=True))
    drop = db[:, :-1] - db[:, 1:]
    return ((drop > drop_db) & (db[:, :-1] > floor_db)).any(axis=1)


def _mel_filterbank(sr, n_fft, n_mels=64, fmin=30.0, fmax=None):
    fmax = fmax or sr / 2
    mel = lambda f: 2595 * np.log10(1 + np.asarray(f) / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (np.asarray(m) / 2595) - 1)  # noqa: E731
    pts = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    fb = np.zeros((n_mels, len(freqs)))
    for k in range(n_mels):
        lo, mid, hi = pts[k], pts[k + 1], pts[k + 2]
        fb[k] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return fb


def mean_log_mel(clips, sr, *, n_mels=64, n_fft=1024):
    """Average over clips of each clip's time-averaged log-mel spectrum (dB, each clip's mean removed)."""
    fb = _mel_filterbank(sr, n_fft, n_mels)
    out = []
    for y in np.asarray(clips, dtype=np.float64):
        _, _, Z = signal.stft(y, nperseg=n_fft, noverlap=n_fft // 2, boundary=None, padded=False)
        power = (np.abs(Z) ** 2).mean(axis=1)
        db = 10 * np.log10(fb @ power + 1e-20)
        out.append(db - db.mean())
    return np.mean(out, axis=0)


def mel_distance_db(a, b, sr, **kw):
    """RMS (dB) of the difference of the average log-mel spectra of clip sets `a` and `b`."""
    return float(np.sqrt(np.mean((mean_log_mel(a, sr, **kw) - mean_log_mel(b, sr, **kw)) ** 2)))


def colored_noise(n, length, rng, *, exponent):
    """`n` stationary noise clips with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), peak 1."""
    spec = np.fft.rfft(rng.standard_normal((n, length)), axis=1)
    f = np.fft.rfftfreq(length)
    f[0] = f[1]
    y = np.fft.irfft(spec / f ** (exponent / 2), length, axis=1)
    return y / np.abs(y).max(axis=1, keepdims=True)


def untrained_clips(n, length, sr, *, seed=0):
    """Raw output of untrained networks (random weights, the shipped model's sizes)."""
    import fastdrum
    from fastdrum.testing import STANDARD_CONFIG, random_model

    out = []
    for k in range(4):
        m = random_model(**STANDARD_CONFIG, sample_rate=sr, seed=seed + k, scale=0.5 + 0.5 * k)
        out.append(
            fastdrum.generate(m, -(-n // 4), duration=length / sr, seed=seed + k, primer="silence")
        )
    return np.concatenate(out)[:n, :length]


def noise_clips(n, length, sr, *, seed=0):
    """The reject class: stationary white, pink and brown noise at random levels, and untrained networks."""
    rng = np.random.default_rng(seed)
    k = n // 4
    parts = [colored_noise(k, length, rng, exponent=e) for e in (0, 1, 2)]
    parts.append(untrained_clips(n - 3 * k, length, sr, seed=seed))
    y = np.concatenate(parts)
    return y * rng.uniform(0.1, 1.0, size=(len(y), 1))


#: Clips a voice in the reject class's noise shaped like the voices (:func:`matched_noise_clips`).
MATCHED_NOISE_CLIPS = 12


def matched_noise_clips(train, sr, n, *, seed=0):
    """Noise shaped like each voice: for every voice of `train` (``{voice: training clips}``; voices
    without clips are skipped), `n` clips of white noise under the envelope of the voice's training
    decay times (:func:`baseline_clips`, ``"decaying-noise"``, at the voice's clip length), through the
    minimum-phase filter that takes such noise (another draw) to the training clips' mean log-mel
    spectrum (:func:`training.match_eq.correction_db`, the whole strength): what an output filter
    (model format 5) makes of noise. In the classifier's reject class since 2026-12-07: without it,
    such noise matched to a tom's spectrum was named a tom in two clips of three (docs/evaluation.md,
    "An output filter fitted on the training clips"). Training clips only: the held-out kits choose
    nothing. A list of 1-D arrays."""
    from .voices import VOICE_DURATIONS

    out = []
    for k, (voice, clips) in enumerate(train.items()):
        if not len(clips):
            continue
        target = _fit_len(clips, int(round(VOICE_DURATIONS[voice] * sr)))
        draw = seed + 1000 + 10 * k  # clips no baseline of --seed draws
        _, matched = matched_baseline("decaying-noise", target, sr, n, seed=draw, fit_seed=draw + 1)
        out += list(matched)
    return out


def enveloped_noise(target, sr, n, *, seed):
    """`n` clips of white noise, each under the 5 ms RMS contour of a clip of `target` (m, T) drawn at
    random (the contour scaled to peak 1, the noise to peak 0.5 before it): noise with a real drum's
    envelope, attack and all. Not in the classifier's reject class (whose shaped noise falls 20 dB per
    decay time by arithmetic): what it names such noise says whether the judge hears more than the
    envelope it was shown (docs/evaluation.md, "Noise under real envelopes")."""
    target = np.asarray(target, dtype=np.float64)
    rng = np.random.default_rng(seed)
    w = max(1, int(round(0.005 * sr)))
    idx = rng.integers(0, len(target), n)
    power = signal.fftconvolve(target[idx] ** 2, np.ones((1, w)) / w, mode="same", axes=1)
    env = np.sqrt(np.maximum(power, 0.0))
    env /= np.maximum(env.max(axis=1, keepdims=True), 1e-12)
    return colored_noise(n, target.shape[1], rng, exponent=0) * 0.5 * env


def matched_baseline(kind, target, sr, n, *, seed, fit_seed):
    """``(clips, matched)``: `n` clips of :func:`baseline_clips` `kind` (seed `seed`) as long as the
    voice's clips `target` (m, T) (their decay times for ``"decaying-noise"``; for
    ``"enveloped-noise"``, :func:`enveloped_noise` under their envelopes; for ``"predicted-noise"``,
    :func:`predicted_noise` from their attacks), and the same clips
    through the filter that takes the baseline's clips of seed `fit_seed` to `target`'s mean log-mel
    spectrum (:func:`training.match_eq.correction_db`, the whole strength), then peak-limited as
    :func:`fastdrum.generate` limits: what an output filter (model format 5) makes of the baseline."""
    from fastdrum.mulaw import fir_filter

    from .match_eq import correction_db, strength_filter

    T = target.shape[1]
    if kind == "enveloped-noise":
        draw = lambda s: enveloped_noise(target, sr, n, seed=s)  # noqa: E731
    elif kind == "predicted-noise":
        draw = lambda s: predicted_noise(target, n, seed=s)  # noqa: E731
    else:
        decays = np.nan_to_num(decay_times(target, sr), posinf=T / sr)
        draw = lambda s: baseline_clips(kind, n, T, sr, seed=s, decays=decays)  # noqa: E731
    fit = draw(fit_seed)
    h = strength_filter(correction_db(fit, target, sr), 1.0, fit, sr)
    y = draw(seed)
    matched = fir_filter(y, h)
    return y, matched / np.maximum(np.abs(matched).max(axis=-1, keepdims=True), 1.0)


#: The predictor of :func:`predicted_noise`: the trainer's ``--predictor-order 256`` defaults.
BASELINE_PREDICTOR = dict(order=256, window=4096, hop=256, gain=1.0)


def predicted_noise(target, n, *, seed, predictor=None):
    """`n` clips a model of format 6 (docs/format.md) would make if its network drew nothing but
    the level of the error: for a clip of `target` (m, T) drawn at random, its closed-loop
    predictor's error (:func:`fastdrum.predictor.encode`, `predictor` as a format-6 file's, default
    :data:`BASELINE_PREDICTOR`) kept for the first hop (the real attack, which the predictor is fitted
    on), then white noise under the error's RMS over each hop; the predictor run on that
    (:func:`fastdrum.predictor.synthesise`) and the clip peak-limited to 1. The partials it rings are
    the predictor's own, from a real attack: whether the judge names such clips the voice says what a
    network of the error has to add."""
    from fastdrum import predictor as fp
    from fastdrum.mulaw import mu_law_decode

    p = dict(BASELINE_PREDICTOR if predictor is None else predictor)
    order, window, hop, gain = p["order"], p["window"], p["hop"], p["gain"]
    target = np.asarray(target, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(target), n)
    T = target.shape[1]
    errors = np.empty((n, T))
    for i, j in enumerate(idx):
        codes, _ = fp.encode(target[j], order, window, hop, gain)
        e = mu_law_decode(codes).astype(np.float64) / gain
        rms = np.sqrt(np.mean(np.pad(e, (0, -T % hop)).reshape(-1, hop) ** 2, axis=1))
        errors[i] = np.repeat(rms, hop)[:T] * rng.standard_normal(T)
        errors[i, :hop] = e[:hop]
    y = fp.synthesise(errors, order, window, hop)
    return y / np.maximum(np.abs(y).max(axis=-1, keepdims=True), 1.0)


# ----------------------------------------------------------------------------- the driver
DEFAULT_KITS = "/usr/share/hydrogen/data/drumkits"
DEFAULT_SF2 = (
    "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2",
    "/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
)
#: The kits held out of the shipped recipe's training (``python -m training.holdout`` chose them):
#: the real clips a model is judged against when its file does not name its own.
DEFAULT_HOLDOUT = (
    "Audiophob",
    "ColomboAcousticDrumkit",
    "Forzee Stereo Drumkit",
    "Millo-Drums_v.1",
    "Millo_MultiLayered2",
)
#: Length of the clips the classifier sees (seconds).
CLASSIFIER_SECONDS = 0.5
#: The done-when figures of the evaluation (issue 12): a voice passes when every one holds.
CRITERIA = {
    "hiss": "share above 5 kHz within 3 dB of the held-out real clips' median",
    "rumble": f"share below {RUMBLE_HZ:g} Hz at most 3 dB above the held-out real clips' median",
    "decay": "at least 90% of clips decay",
    "level": f"at most 10% of clips peak more than {QUIET_DB:g} dB under the training clips' level "
    f"({TRAINED_PEAK:g})",
    "decay_time": f"median 20 dB decay time within a factor of {DECAY_TIME_FACTOR:g} of the held-out "
    "real clips' median, or of the training kits' factor from it where that is larger",
    "spectrum": "log-mel distance to held-out real clips no larger than between two groups of real kits",
    "recognised": "recognised at least as often as real held-out clips, minus 5 points",
    "copies": "at most 10% copies of training clips",
    "duplicates": "at most 5% near-duplicate pairs",
}


def _fit_len(clips, n):
    return np.array([np.pad(c[:n], (0, max(0, n - len(c[:n])))) for c in clips], dtype=np.float32)


class RealClips:
    """Real clips of every voice at one rate: training sources and held-out kits, and the classifier.

    The training sources are the Hydrogen kits `kits` (but the held-out ones), the SoundFonts
    `sf2_files` and the folders of one-shots `data_dirs` (:func:`training.voices.load_voice_clips`).

    The classifier is fitted on the training sources' clips plus the reject
    class ``"noise"`` (:func:`noise_clips`, and since 2026-12-07 noise shaped like
    each voice, :func:`matched_noise_clips`); its accuracy on the held-out kits' clips is
    ``real_accuracy`` (per voice).
    """

    def __init__(
        self,
        sample_rate,
        *,
        kits=(DEFAULT_KITS,),
        sf2_files=DEFAULT_SF2,
        data_dirs=(),
        holdout_kits=DEFAULT_HOLDOUT,
        seed=0,
    ):
        from .voices import VOICE_DURATIONS, VOICES, load_voice_clips

        self.sr = sample_rate
        self._reference = {}
        train, held, self.info = load_voice_clips(
            sample_rate=sample_rate,
            kit_dirs=list(kits),
            sf2_files=list(sf2_files),
            data_dirs=list(data_dirs),
            holdout_kits=list(holdout_kits),
            durations={v: max(d, CLASSIFIER_SECONDS) for v, d in VOICE_DURATIONS.items()},
        )
        self.train = {v: [c.audio for c in train if c.entry["voice"] == v] for v in VOICES}
        self.held = {v: [c.audio for c in held if c.entry["voice"] == v] for v in VOICES}
        n = int(round(CLASSIFIER_SECONDS * sample_rate))
        # The classifier's training rows: every training clip (voice by voice), then the noise class.
        labels = [v for v in VOICES for _ in self.train[v]]
        kits = [c.entry["kit"] for v in VOICES for c in train if c.entry["voice"] == v]
        X = [features(c, sample_rate) for v in VOICES for c in _fit_len(self.train[v], n)]
        noise = noise_clips(max(40, len(X) // len(VOICES)), n, sample_rate, seed=seed)
        # ... and noise shaped like each voice, what an output filter would make of noise
        matched = matched_noise_clips(self.train, sample_rate, MATCHED_NOISE_CLIPS, seed=seed)
        noise = list(noise) + list(_fit_len(matched, n))
        self.noise = noise  # the reject class's clips, for refits with other features (tools/)
        Xn = [features(c, sample_rate) for c in noise]
        self.classifier = InstrumentClassifier().fit_features(
            np.array(X + Xn), labels + ["noise"] * len(Xn)
        )
        self._leave_kit_out = (np.array(X), labels, kits, np.array(Xn))
        self.real_accuracy = {}
        for v in VOICES:
            if self.held[v]:
                pred = self.classifier.predict(_fit_len(self.held[v], n), sample_rate)
                self.real_accuracy[v] = float(np.mean(pred == v))

    @functools.cached_property
    def unseen_kit_accuracy(self):
        """Per voice, the share of the training kits' clips the classifier names right when fitted
        without their kit (:func:`unseen_kit_accuracy`; computed once, on first use)."""
        return _unseen_kit_accuracy(*self._leave_kit_out)

    def reference(self, voice, T):
        """The real clips' own figures for `voice` at clip length `T` (computed once per voice and length)."""
        key = (voice, T)
        if key not in self._reference:
            sr = self.sr
            held, train = _fit_len(self.held[voice], T), _fit_len(self.train[voice], T)
            self._reference[key] = dict(
                hf_db_real=float(np.median([hf_share_db(c, sr) for c in held])),
                # What the model was asked to learn: the training kits' median, beside (not a criterion).
                hf_db_train=float(np.median([hf_share_db(c, sr) for c in train])),
                lf_db_real=float(np.median([lf_share_db(c, sr) for c in held])),
                lf_db_train=float(np.median([lf_share_db(c, sr) for c in train])),
                decaying_real=float(decays(held).mean()),
                decay_time_real=_median_time(held, sr),
                decay_time_train=_median_time(train, sr),
                abrupt_cut_real=float(abrupt_cuts(held, sr).mean()),
                flatness_real=float(np.median([spectral_flatness(c, sr) for c in held])),
                flatness_train=float(np.median([spectral_flatness(c, sr) for c in train])),
                persistence_real=_median_persistence(held, sr),
                persistence_train=_median_persistence(train, sr),
                mel_db_real=mel_distance_db(train, held, sr),
            )
            if voice in PITCHED_VOICES:
                self._reference[key].update(
                    pitch_hz_real=_median_pitch(held, sr), pitch_hz_train=_median_pitch(train, sr)
                )
        return self._reference[key]

    def recognised(self, clips, voice):
        pred = self.classifier.predict(
            _fit_len(clips, int(round(CLASSIFIER_SECONDS * self.sr))), self.sr
        )
        return float(np.mean(pred == voice)), {c: int(np.sum(pred == c)) for c in set(pred)}


def evaluate_clips(y, voice, real):
    """Every measure of generated clips `y` (n, T) of `voice` against :class:`RealClips` `real`: a dict."""
    sr, T = real.sr, y.shape[1]
    held, train = _fit_len(real.held[voice], T), _fit_len(real.train[voice], T)
    rec, predicted = real.recognised(y, voice)
    row = dict(
        voice=voice,
        n=len(y),
        samples=T,
        sample_rate=sr,
        hf_db=float(np.median([hf_share_db(c, sr) for c in y])),
        lf_db=float(np.median([lf_share_db(c, sr) for c in y])),
        decaying=float(decays(y).mean()),
        # Seconds from the peak to 20 dB below it (median): the decay-time criterion.
        decay_time=_median_time(y, sr),
        abrupt_cut=float(abrupt_cuts(y, sr).mean()),
        quiet=quiet_share(y),
        quiet_real=quiet_share(held),
        # Reported, not a criterion: how white the clips' noise is (median; real clips beside).
        flatness=float(np.median([spectral_flatness(c, sr) for c in y])),
        # Reported, not a criterion: the partials that last from frame to frame (median; real beside).
        persistence=_median_persistence(y, sr),
        mel_db=mel_distance_db(y, held, sr),
        recognised=rec,
        recognised_real=real.real_accuracy.get(voice, float("nan")),
        predicted=predicted,
        n_real_heldout=len(held),
        n_real_train=len(train),
        **real.reference(voice, T),
    )
    if voice in PITCHED_VOICES:
        # Reported beside the criteria (median Hz; the real clips' in the reference): not one.
        row["pitch_hz"] = _median_pitch(y, sr)
    row.update(novelty(y, train))
    row.update(variety(y))
    row["decay_time_factor"], row["decay_time_allowed"] = decay_time_factors(row)
    row["passes"] = {
        "hiss": abs(row["hf_db"] - row["hf_db_real"]) <= 3.0,
        "rumble": row["lf_db"] <= row["lf_db_real"] + 3.0,
        "decay": row["decaying"] >= 0.9,
        "level": row["quiet"] <= 0.10,
        "decay_time": row["decay_time_factor"] <= row["decay_time_allowed"],
        "spectrum": row["mel_db"] <= row["mel_db_real"],
        "recognised": row["recognised"] >= row["recognised_real"] - 0.05,
        "copies": row["copy_rate"] <= 0.10,
        "duplicates": row["duplicate_pair_rate"] <= 0.05,
    }
    row["pass"] = all(row["passes"].values())
    return row


def post_figures(y, voice, real):
    """Hiss, rumble, decay and recognition of `y` after the drum machine's post-processing (beside,
    never instead)."""
    from fastdrum.post import process

    z = np.asarray(
        process(np.asarray(y, dtype=np.float32), real.sr, instrument=voice), dtype=np.float64
    )
    return dict(
        hf_db=float(np.median([hf_share_db(c, real.sr) for c in z])),
        lf_db=float(np.median([lf_share_db(c, real.sr) for c in z])),
        decaying=float(decays(z).mean()),
        recognised=real.recognised(z, voice)[0],
    )


def with_weights(model, snapshot):
    """`model` (its sample rate, dilations, primers, pre-emphasis, voices, meta) with the weights of
    `snapshot`, a run's ``snapshots/step-N.npz`` (train.py ``--snapshot-every``): a checkpoint of a
    run that is still training can be heard without TensorFlow and without stopping it.

    A file that is not a snapshot, or weights that do not fit `model`, raise a ModelFormatError
    naming it (:func:`training.average.read_snapshot`, :func:`training.average.model_with_arrays`).
    """
    from .average import model_with_arrays, read_snapshot

    arrays = read_snapshot(snapshot)
    name = os.path.basename(os.fspath(snapshot))
    meta = dict(model.meta, weights_from=name)
    step = name.removeprefix("step-").removesuffix(".npz")
    if step.isdigit():
        meta["steps"] = meta["steps_trained"] = int(step)
    return model_with_arrays(model, arrays, meta, os.fspath(snapshot))


def model_voices(model):
    """The voices a model generates: its conditioning voices, or its one instrument. The voice of
    ``--voice-dropout`` (:data:`training.voices.ANY_VOICE`) is not a drum of the kit and not one."""
    from .voices import ANY_VOICE

    voices = [v for v in getattr(model, "voices", ()) or () if v != ANY_VOICE]
    return voices or [model.instrument]


def _generate(model, voice, n, seed):
    import fastdrum

    if getattr(model, "voices", ()):
        return fastdrum.generate(model, n, seed=seed, voice=voice)
    return fastdrum.generate(model, n, seed=seed)


#: The baselines of ``--baseline``: bad generators the evaluation must fail.
BASELINES = ("noise", "untrained", "decaying-noise", "predicted-noise")
#: The baselines :func:`matched_baseline` knows: those and one that needs the voice's own clips.
MATCHED_BASELINES = BASELINES + ("enveloped-noise",)


def baseline_clips(kind, n, T, sr, seed=0, decays=None):
    """Clips of a bad generator: stationary white ``"noise"``, an ``"untrained"`` network, or
    ``"decaying-noise"``: white noise times an envelope that holds for 0.03 s and then falls 20 dB
    per d seconds, each clip's d drawn from `decays` (seconds; a voice's real decay times). The last
    decays by arithmetic, as an envelope-normalised model's clips do whatever its network draws, so
    the evaluation must fail it on what is left: timbre and recognition."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return colored_noise(n, T, rng, exponent=0) * 0.5
    if kind == "untrained":
        return untrained_clips(n, T, sr, seed=seed)
    if kind == "decaying-noise":
        from fastdrum._reference import envelope

        d = rng.choice(np.asarray(decays, dtype=np.float64), size=n)
        env = envelope(T, sr, d, 0.03, -60.0)
        return colored_noise(n, T, rng, exponent=0) * 0.5 * env
    raise ValueError(f"unknown baseline {kind!r}")


def table(rows, *, readme=False):
    """The markdown table of evaluation rows (generated / real held-out in each cell).

    With `readme`, the first column is headed "model" (each row's source: the shipped model's name)
    and the hiss cell leaves out the training kits' figure: the README's quality table."""
    first, hiss = ("model", "(real)") if readme else ("source", "(real; training kits)")
    head = (
        f"| {first} | voice | above 5 kHz, dB {hiss} | below {RUMBLE_HZ:g} Hz, dB {hiss} "
        "| decay (real) | decay time, s (real) | abrupt cuts | quiet | log-mel dist, dB (real kits) "
        "| recognised (real) | copies | dup. pairs | pass |"
    )
    lines = [head, "|---" * 13 + "|"]
    nan = float("nan")
    for r in rows:
        failed = [k for k, ok in r["passes"].items() if not ok]
        training = "" if readme else f"; {r.get('hf_db_train', nan):.1f}"
        lf_training = "" if readme else f"; {r.get('lf_db_train', nan):.1f}"
        lines.append(
            f"| {r.get('source', '')} | {r['voice']} | "
            f"{r['hf_db']:.1f} ({r['hf_db_real']:.1f}{training}) | "
            f"{r.get('lf_db', nan):.1f} ({r.get('lf_db_real', nan):.1f}{lf_training}) | "
            f"{r['decaying']:.0%} ({r['decaying_real']:.0%}) | "
            f"{r['decay_time']:.2f} ({r['decay_time_real']:.2f}) | {r['abrupt_cut']:.0%} | "
            f"{r.get('quiet', nan):.0%} | "
            f"{r['mel_db']:.1f} ({r['mel_db_real']:.1f}) | {r['recognised']:.0%} ({r['recognised_real']:.0%}) | "
            f"{r['copy_rate']:.0%} | {r['duplicate_pair_rate']:.1%} | "
            f"{'yes' if r['pass'] else 'no: ' + ', '.join(failed)} |"
        )
    return "\n".join(lines)


def _figure_line(rows, key, fmt, title):
    """``title`` and one cell a row that has `key`: "voice generated (real held-out; training kits)",
    each figure in format `fmt`, the source where it is not the voice; "" when no row has `key`."""
    cells = [
        f"{r['voice']} {r[key]:{fmt}} ({r[key + '_real']:{fmt}}; {r[key + '_train']:{fmt}})"
        + (f" [{r['source']}]" if r.get("source") and r["source"] != r["voice"] else "")
        for r in rows
        if key in r
    ]
    return title + ", ".join(cells) if cells else ""


def pitch_line(rows):
    """The rows' pitches (:func:`peak_pitch`, median Hz) as one line, generated (real held-out;
    training kits) for each row of a :data:`PITCHED_VOICES` voice; "" when no row has one."""
    return _figure_line(
        rows,
        "pitch_hz",
        ".0f",
        f"pitch, the strongest peak {PITCH_LOW_HZ:g}-{PITCH_HIGH_HZ:g} Hz {PITCH_START:g}-{PITCH_STOP:g} s "
        "after the onset, median Hz, generated (real held-out; training kits), not a criterion: ",
    )


def persistence_line(rows):
    """The rows' partials that last (:func:`partial_persistence`, median) as one line, generated (real
    held-out; training kits) for each row that has the figure; "" when none has."""
    return _figure_line(
        rows,
        "persistence",
        ".3f",
        "partials that last, the correlation of the spectral fine structure between consecutive "
        "46 ms frames, median, generated (real held-out; training kits), not a criterion "
        "(noise: 0): ",
    )


def _parser():
    """The argument parser of ``python -m training.evaluate``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=main.__doc__)
    p.add_argument(
        "models",
        nargs="*",
        help="model names or paths: a shipped voice's name judges that voice, a conditioned "
        "model's file every voice (default: every shipped model file, each voice from the file "
        "fastdrum.generate plays it with)",
    )
    p.add_argument(
        "--voices",
        default=None,
        help="comma-separated voices to evaluate (default: all of each model)",
    )
    p.add_argument("-n", type=int, default=100, help="clips generated per voice (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kits", default=DEFAULT_KITS, help="folder of Hydrogen kits")
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of one-shots among the training sources (the classifier's clips and those "
        "copies are sought among), beside the kits and SoundFonts; repeatable (default: the --data "
        "folders each model's run trained on, as its file records; for baselines none)",
    )
    p.add_argument(
        "--holdout-kits",
        help="comma-separated kits to judge against (default: the kits each model's run held out, "
        "as its file records; for baselines " + ",".join(DEFAULT_HOLDOUT) + ")",
    )
    p.add_argument(
        "--baseline",
        choices=BASELINES,
        action="append",
        default=[],
        help="also evaluate a bad generator in place of a model (shows the evaluation can fail)",
    )
    p.add_argument("--sample-rate", type=int, default=44100, help="rate of the baselines")
    p.add_argument(
        "--post",
        action="store_true",
        help="also give the figures after post-processing, beside the raw ones",
    )
    p.add_argument("--json", help="write the rows here as JSON")
    p.add_argument(
        "--weights",
        metavar="SNAPSHOT",
        help="with one model: evaluate it with the weights of this snapshot of its run "
        "(<run-dir>/snapshots/step-N.npz), e.g. while the run still trains",
    )
    return p


def _models(args):
    """(name, Model) of each model named (every shipped one if none and no baseline), or of the
    one model with the weights of ``--weights``."""
    import fastdrum

    if args.baseline and not args.models:
        return []
    if not args.models:
        return _shipped_models()
    models = [(m, fastdrum.load_model(m)) for m in args.models]
    if args.weights:
        return [(args.weights, with_weights(models[0][1], args.weights))]
    return models


def _shipped_models():
    """(name, Model) of every shipped model file, each voice once, from the file ``fastdrum.generate``
    plays it with (:func:`fastdrum.model._shipped`): a conditioned file (drums) with all its voices,
    or, where another file plays some of them (clap.npz), once per voice it still plays (that voice
    its default)."""
    import fastdrum
    from fastdrum.model import _shipped, _shipped_files

    from .voices import ANY_VOICE

    resolved = _shipped()
    models = []
    for stem, path, voices in _shipped_files():
        m = fastdrum.load_model(path)
        drums = [v for v in voices if v != ANY_VOICE]  # 'any' is a name, but no drum to judge
        played = [v for v in drums if resolved.get(v) == (path, v)]
        if stem in voices or played == drums:
            models.append((stem, m))
        else:
            models += [(stem, m.with_voice(v)) for v in played]
    return models


def trained_kits(model):
    """Every name (kit name and folder) of the kits `model`'s training data came from, as its file records."""
    names = set((model.meta.get("kits") or {}).keys())
    for e in model.meta.get("data") or ():
        if e.get("split") != "holdout":
            names.add(e.get("kit"))
            names.add(str(e.get("file", "")).split("/", 1)[0])
    return names - {None, ""}


def holdout_for(model, requested=None):
    """The held-out kits to judge `model` against: `requested`, else those its run held out.

    Raises DataError if one of them is a kit the model trained on (its clips are
    not held out for it).
    """
    from .errors import DataError

    kits = tuple(
        requested or (model.meta.get("holdout_kits") if model else None) or DEFAULT_HOLDOUT
    )
    seen = sorted(set(kits) & trained_kits(model)) if model else []
    if seen:
        raise DataError(f"the model trained on {', '.join(seen)}: not held out for it")
    return kits


def data_folders(model, requested=()):
    """The folders of one-shots to count among the training sources when judging `model`:
    `requested`, else the ``--data`` folders its run trained on (as its file records; none for a
    model of one instrument or a baseline)."""
    if requested:
        return tuple(requested)
    if model is None or not getattr(model, "voices", ()):
        return ()
    return tuple((model.meta.get("config") or {}).get("data") or ())


def _real_key(args, m):
    """The (sample rate, held-out kits, folders of one-shots) of the real clips model `m` (None: a
    baseline) is judged against."""
    requested = [k for k in (args.holdout_kits or "").split(",") if k.strip()]
    return (
        m.sample_rate if m is not None else args.sample_rate,
        holdout_for(m, requested),
        data_folders(m, args.data),
    )


def _real_clips(args, models):
    """The real clips every model (and baseline) is judged against: {(rate, held-out kits): RealClips}."""
    keys = {_real_key(args, m) for _, m in models} | (
        {_real_key(args, None)} if args.baseline else set()
    )
    return {
        key: RealClips(
            key[0], kits=[args.kits], holdout_kits=key[1], data_dirs=key[2], seed=args.seed
        )
        for key in sorted(keys)
    }


def _jobs(args, models, real):
    """(source name, Model or None for a baseline, voice) of every row to evaluate."""
    want = args.voices.split(",") if args.voices else None
    jobs = [(name, m, v) for name, m in models for v in _judged_voices(m) if not want or v in want]
    jobs += [
        (f"baseline: {b}", None, v)
        for b in args.baseline
        for v in (want or list(real[_real_key(args, None)].held))
    ]
    return jobs


def _judged_voices(m):
    """The voices judged of model `m`: a conditioned model's default voice (the one a shipped
    voice's name chose: ``kick`` of ``drums.npz``), else every voice it generates (:func:`model_voices`)."""
    if getattr(m, "voices", ()) and m.default_voice is not None:
        return [m.default_voice]
    return model_voices(m)


def sampling_settings(model, voice):
    """The default temperature and epsilon :func:`fastdrum.generate` draws `voice` of `model` with,
    and its negative voice and guidance where it has them."""
    d = model._voice_defaults(voice if getattr(model, "voices", ()) else None)
    out = dict(temperature=d.get("temperature", 1.0), epsilon=d.get("epsilon", 0.0))
    if d.get("negative_voice") is not None:
        out.update(negative_voice=d["negative_voice"], guidance=d.get("guidance", 1.0))
    return out


def _evaluate_job(args, name, m, v, real):
    """Generate `args.n` clips of voice `v` with model `m` (or the baseline `name`) and evaluate them."""
    key = _real_key(args, m)
    sr = key[0]
    if m is not None:
        y = _generate(m, v, args.n, args.seed)
    else:
        from .voices import VOICE_DURATIONS

        T = int(round(VOICE_DURATIONS[v] * sr))
        kind = name.split(": ")[1]
        decays = None
        if kind in ("decaying-noise", "predicted-noise"):
            train = _fit_len(real[key].train[v], T)
        if kind == "decaying-noise":
            # The decay times of the voice's real training clips, those that never fall 20 dB
            # counted at the clip length: each clip's is drawn from them.
            decays = np.nan_to_num(decay_times(train, sr), posinf=T / sr)
        if kind == "predicted-noise":  # from the voice's own clips: not of baseline_clips
            y = predicted_noise(train, args.n, seed=args.seed)
        else:
            y = baseline_clips(kind, args.n, T, sr, seed=args.seed, decays=decays)
    row = evaluate_clips(np.asarray(y, dtype=np.float64), v, real[key])
    row["source"] = name
    row["holdout_kits"] = list(key[1])
    if key[2]:
        row["data_folders"] = list(key[2])
    if m is not None:
        row["sampling"] = sampling_settings(m, v)
    if args.post and m is not None:
        row["post"] = post_figures(y, v, real[key])
    return row


def _post_table(rows):
    """The markdown table of the figures after post-processing (of the rows that have them)."""
    lines = [
        "\nafter post-processing (fastdrum.post.process):\n\n| source | voice | above 5 kHz, dB "
        f"| below {RUMBLE_HZ:g} Hz, dB | decay | recognised |\n|---|---|---|---|---|---|"
    ]
    for r in rows:
        if "post" in r:
            q = r["post"]
            lines.append(
                f"| {r['source']} | {r['voice']} | {q['hf_db']:.1f} | {q.get('lf_db', float('nan')):.1f} "
                f"| {q['decaying']:.0%} | {q['recognised']:.0%} |"
            )
    return "\n".join(lines)


def _write_json(path, rows, real):
    """The rows, the criteria and the classifier's accuracy on real clips, as JSON in `path`."""
    import json

    with open(path, "w") as f:
        json.dump(
            dict(
                criteria=CRITERIA,
                rows=rows,
                classifier=[
                    dict(
                        sample_rate=sr,
                        holdout_kits=list(kits),
                        data_folders=list(folders),
                        real_accuracy=r.real_accuracy,
                        unseen_kit_accuracy=r.unseen_kit_accuracy,
                    )
                    for (sr, kits, folders), r in real.items()
                ],
            ),
            f,
            indent=1,
        )


def main(argv=None):
    """``python -m training.evaluate``: evaluate models (default: the shipped ones) on raw output."""
    import json
    import sys

    import fastdrum

    p = _parser()
    args = p.parse_args(argv)
    if args.weights and len(args.models) != 1:
        p.error("--weights needs exactly one model (the run's export) to take the rest from")
    try:
        models = _models(args)
        real = _real_clips(args, models)
        rows = []
        for name, m, v in _jobs(args, models, real):
            row = _evaluate_job(args, name, m, v, real)
            rows.append(row)
            print(
                json.dumps({k: row[k] for k in ("source", "voice", "pass", "passes")}),
                file=sys.stderr,
            )
    except (fastdrum.FastDrumError, OSError) as exc:
        print(f"python -m training.evaluate: error: {exc}", file=sys.stderr)
        return 2
    print(table(rows))
    for (sr, _, _), r in real.items():
        acc = ", ".join(f"{v} {a:.0%}" for v, a in r.unseen_kit_accuracy.items())
        print(f"\nrecognised, training kits' clips judged without their kit ({sr} Hz): {acc}")
    for line in (pitch_line(rows), persistence_line(rows)):
        if line:
            print(f"\n{line}")
    if args.post:
        print(_post_table(rows))
    if args.json:
        _write_json(args.json, rows, real)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
