"""What the training loop draws from: clips per voice, pre-emphasised, and random crops of them.

A :class:`TrainingSet` holds, for every voice, every pitch-shifted version of
every training clip as float32 audio *after* pre-emphasis (the signal the
network models). A batch is B rows; each row picks a voice (uniformly, so
small voices train as often as large ones; or in proportion to the voice's clip
length, so that every second of every voice's clips is drawn equally often and a
crash's 1.5 s tail is not seen a third as often as a kick's 0.5 s; or in proportion to a weight
given per voice, so a voice the model is weak on is drawn more), a clip of it, a pitch version, a
gain, and a window of ``crop`` samples. Half the windows start at the onset
(the attack, where most of a drum's character is); the rest start anywhere in
the clip. A window that starts after the onset has no true context for its
first ``receptive_field - 1`` outputs (the network sees zeros there), so the
loss mask leaves those out; a window at the onset has its true context
(silence) everywhere.

With input noise (``--input-noise SIGMA``, as FFTNet's noise injection) the network's *inputs* are the
window's codes each moved by ``round(SIGMA * N(0, 1))`` (clipped to the code range), while its targets
stay the clean next codes: it learns to continue from contexts carrying the kind of errors its own draws
make in generation. The noise is drawn after every other draw of the batch, so the clean codes, voices,
mask and starts are those of the same rng without noise; without noise nothing more is drawn.

With input drift (``--input-drift SIGMA``) the inputs are instead the codes of the window plus a slow
random signal (:func:`drift`: a few cosines below ``--input-drift-hz``, by default :data:`DRIFT_HZ`, of
RMS SIGMA in the units of the modelled signal, after pre-emphasis), in every window or in a share of
them (``--input-drift-share``), the targets again the clean next codes: the network learns not to
continue a slow wander of its context, the kind its own draws begin in generation and a de-emphasis
decoder carries on as rumble. It is drawn last of all, after the voice dropout.

With decay conditioning (``--decay-conditioning``) each row also carries its clip's decay feature z =
(ln d - mean) / scale (:func:`fastdrum._reference.decay_z`): d is the clip's decay time
(:func:`training.evaluate.decay_times`, 20 dB below its loudest 10 ms), measured on each pitch-shifted
version as it is prepared (cut or padded to the voice's length and peak-normalised, before the fade-out),
or the voice's clip length if it never falls that far; mean and scale are those of ln d over the
unshifted training clips of every voice. Looking z up draws nothing, so the batches are those without it.

With an envelope (``--envelope``, which needs decay conditioning; docs/format.md, "Envelope") each clip,
faded out as above and before pre-emphasis, is divided by the envelope of its own decay time d
(:func:`fastdrum._reference.envelope`, t counted from the clip's onset) over its whole length and
clipped to [-1, 1] (:func:`envelope_normalise`): the network models the normalised clip, windows are
cut from it, and generation multiplies the envelope back. The share of samples the clipping touched
is kept per voice (:attr:`TrainingSet.envelope_clipped`). An envelope model's d is not the 20 dB time
above but the clip's upper contour (:func:`envelope_decay_seconds`): the slowest fall of 20 dB per d
that still lies above 99.9% of the clip's samples; z, the statistics and the recorded decays are of it.

Every draw is a function of ``(seed, step)``: a resumed run repeats exactly.
"""

from dataclasses import dataclass

import numpy as np

from fastdrum import predictor as fastdrum_predictor
from fastdrum._reference import decay_z, envelope
from fastdrum.mulaw import mu_law_decode

from . import data as data_mod
from .evaluate import decay_times

__all__ = [
    "preemphasize",
    "fade_out",
    "decay_seconds",
    "envelope_decay_seconds",
    "envelope_normalise",
    "drift",
    "TrainingSet",
    "Batch",
]

#: Share of each clip's length over which training clips fade out (half a cosine): the
#: network learns that a one-shot ends in silence, never in a cut.
FADE_FRACTION = 0.2

#: The level drop (dB below the loudest frame) that defines a clip's decay time.
DECAY_DROP_DB = 20.0
#: Floor of the scale of ln d: clips that all decay alike get z near 0, not a division by ~0.
MIN_DECAY_SCALE = 0.1


def preemphasize(y, a, b=0.0, shelf=(0.0, 0.0)):
    """The signal a model with pre-emphasis `a` (and leaky integration `b`, and a low shelf
    ``(c, p)``) learns: ``e(t) = (u(t) - a*u(t-1)) / (1 + |a|)``, u(-1) = 0, with ``u = y``, or for
    ``b > 0`` ``u(t) = (1 - b)*y(t) + b*u(t-1)``, `y` first taken through the shelf
    ``(1 - c z^-1) / (1 - p z^-1)`` where ``c != p`` (:func:`fastdrum.mulaw.preemphasis`, in float32;
    the shelf in float64).

    Examples
    --------
    >>> preemphasize(np.array([1.0, 1.0, 0.0], dtype=np.float32), 0.5).tolist()
    [0.6666666865348816, 0.3333333432674408, -0.3333333432674408]
    >>> preemphasize(np.array([1.0, 1.0, 0.0], dtype=np.float32), 0.0, 0.5).tolist()
    [0.5, 0.75, 0.375]
    """
    from scipy.signal import lfilter

    y = np.asarray(y, dtype=np.float32)
    c, p = shelf
    if c != p:
        y = lfilter([1.0, -c], [1.0, -p], np.asarray(y, np.float64), axis=-1).astype(np.float32)
    if b:
        y = lfilter([1.0 - b], [1.0, -b], y, axis=-1).astype(np.float32)
    if a == 0:
        return y.copy()
    e = y.copy()
    e[..., 1:] -= np.float32(a) * y[..., :-1]
    return e / np.float32(1.0 + abs(a))


def fade_out(y, fraction=FADE_FRACTION):
    """`y` with its last `fraction` of samples faded to zero by half a cosine."""
    y = np.array(y, dtype=np.float32)
    n = int(round(fraction * y.shape[-1]))
    if n > 0:
        y[..., -n:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    return y


def decay_seconds(clips, sample_rate):
    """Decay times (s) of equally long clips (N, n): :func:`training.evaluate.decay_times` at
    :data:`DECAY_DROP_DB`; a clip that never falls that far gets the clips' length, n / `sample_rate`."""
    clips = np.asarray(clips)
    d = decay_times(clips, sample_rate, drop_db=DECAY_DROP_DB)
    return np.where(np.isfinite(d), d, clips.shape[-1] / sample_rate)


#: An envelope model's clip decay: the envelope of d must lie above this share of the clip's samples
#: (after the hold, above the floor), so that dividing by it clips about 1 - this share of them.
ENVELOPE_QUANTILE = 0.999
#: An envelope model's decay times lie in [ENVELOPE_MIN_DECAY, ENVELOPE_MAX_LENGTHS x clip length].
ENVELOPE_MIN_DECAY = 0.005
ENVELOPE_MAX_LENGTHS = 4.0

#: Input drift (:func:`drift`): its cosines' frequencies are uniform in [0, DRIFT_HZ) Hz by default, the
#: band of the rumble criterion (``training.evaluate.RUMBLE_HZ``), DRIFT_COSINES of them per row.
DRIFT_HZ = 30.0
DRIFT_COSINES = 3


def drift(rng, rows, n, sample_rate, sigma, *, max_hz=DRIFT_HZ, k=DRIFT_COSINES):
    """`rows` slow random signals of `n` samples (float64): ``sigma * sqrt(2 / k) * sum_j g_j
    cos(2 pi f_j t / sample_rate + phi_j)``, per row k cosines with g_j ~ N(0, 1), f_j ~ U(0, max_hz)
    and phi_j ~ U(0, 2 pi), drawn in that order; the RMS over rows and time is `sigma`.

    Examples
    --------
    >>> d = drift(np.random.default_rng(0), 4000, 64, 8000, 0.5)
    >>> round(float(np.sqrt((d ** 2).mean())), 1)
    0.5
    """
    g = rng.standard_normal((rows, k, 1))
    f = rng.uniform(0.0, max_hz, size=(rows, k, 1))
    phi = rng.uniform(0.0, 2 * np.pi, size=(rows, k, 1))
    t = np.arange(n) / float(sample_rate)
    return sigma * np.sqrt(2.0 / k) * (g * np.cos(2 * np.pi * f * t + phi)).sum(axis=1)


def envelope_decay_seconds(clips, sample_rate, env, quantile=ENVELOPE_QUANTILE):
    """An envelope model's decay times (s) of equally long clips (N, n): each clip's upper contour.

    For clip y with peak p, sample i at t = i / `sample_rate` past the hold h (``env["hold"]``) and
    above the floor (|y_i| / p > 10 ** (floor_db / 20)) lies under the envelope of d exactly when
    ``d >= (t - h) / -log10(|y_i| / p)``; d is the `quantile` of those bounds over the clip's
    samples (numpy's ``method="higher"``: one of them), so that the envelope of d lies above that
    share of them and dividing by it clips the rest. It is kept within
    [:data:`ENVELOPE_MIN_DECAY`, :data:`ENVELOPE_MAX_LENGTHS` x the clip length] (a clip with no
    sample past the hold above the floor gets the minimum; one that holds its peak, the maximum).
    The 20 dB decay time of decay conditioning (:func:`decay_seconds`) follows the loudest 10 ms and
    so misses a slow ring after a fast fall: the ring then lies far above the envelope and clipping
    it loses it (on the real clips, up to half a kick's samples with hold 0.01 s).

    Examples
    --------
    >>> # Past the hold of 1 s, samples of 0.1 (1 s later: d = 1) and 0.01 (2 s later: d = 1)
    >>> envelope_decay_seconds([[1.0, 1.0, 0.1, 0.01]], 1, {"hold": 1.0, "floor_db": -60.0}).tolist()
    [1.0]
    """
    clips = np.abs(np.asarray(clips, dtype=np.float64))
    n = clips.shape[-1]
    t = np.arange(n) / float(sample_rate) - float(env["hold"])
    floor = 10.0 ** (float(env["floor_db"]) / 20.0)
    lo, hi = ENVELOPE_MIN_DECAY, ENVELOPE_MAX_LENGTHS * n / float(sample_rate)
    out = np.empty(len(clips))
    for i, y in enumerate(clips):
        peak = y.max()
        a = y / peak if peak > 0 else y
        ok = (t > 0) & (a > floor)
        if not ok.any():
            out[i] = lo
            continue
        fall = -np.log10(np.minimum(a[ok], 1.0))  # > 0, or 0 at the peak: no finite d contains it
        with np.errstate(divide="ignore"):
            bounds = np.where(fall > 0, t[ok] / fall, np.inf)
        out[i] = np.clip(np.quantile(bounds, quantile, method="higher"), lo, hi)
    return out


def envelope_normalise(clips, seconds, sample_rate, env):
    """Clips (N, n) each divided by the envelope of its decay time and clipped to [-1, 1].

    `seconds` (N,) are the clips' decay times, `env` a model's ``meta["envelope"]``
    (``{"hold", "floor_db"}``): clip i is divided by :func:`fastdrum._reference.envelope` of
    ``seconds[i]`` (float64, t = 0 at its first sample). Returns the float32 clips and the number of
    samples whose magnitude exceeded 1 before the clipping.

    Examples
    --------
    >>> y, clipped = envelope_normalise([[0.5, 0.05, 0.02]], [0.25], 4, {"hold": 0.0, "floor_db": -60})
    >>> y.tolist(), clipped
    ([[0.5, 0.5, 1.0]], 1)
    """
    clips = np.asarray(clips)
    e = envelope(clips.shape[-1], sample_rate, seconds, env["hold"], env["floor_db"])
    y = clips.astype(np.float64) / e
    return np.clip(y, -1.0, 1.0).astype(np.float32), int((np.abs(y) > 1.0).sum())


def clip_ends(clips, floor_db):
    """Each clip's end: one past its last sample whose magnitude exceeds ``10 ** (floor_db / 20)``
    (0 for a clip with none), an int64 array of the clips' leading shape.

    An envelope model's ``end_mask`` trains nothing past it: what follows is the silence of a clip
    that ended before its voice's length, or a tail below the envelope's floor.

    Examples
    --------
    >>> clip_ends([[0.5, 0.2, 0.0, 0.001], [0.0, 0.0, 0.0, 0.0]], -40.0).tolist()
    [2, 0]
    """
    above = np.abs(np.asarray(clips, dtype=np.float64)) > 10.0 ** (floor_db / 20.0)
    last = above.shape[-1] - np.argmax(above[..., ::-1], axis=-1)
    return np.where(above.any(axis=-1), last, 0).astype(np.int64)


@dataclass
class Batch:
    """``codes`` (B, W) int32, ``voices`` (B,) int32, ``mask`` (B, W - 1) float32 (which logits count),
    ``starts`` (B,) int32 (each window's first sample, counted from its clip's onset), ``inputs`` (B, W)
    int32 (what the network is fed: ``codes`` unless input noise corrupted them; the targets are always
    ``codes[:, 1:]``), ``decay_z`` (B,) float32 (each row's clip's decay feature; 0 without decay
    conditioning)."""

    codes: np.ndarray
    voices: np.ndarray
    mask: np.ndarray
    starts: np.ndarray = None
    inputs: np.ndarray = None
    decay_z: np.ndarray = None

    def __post_init__(self):
        if self.starts is None:
            self.starts = np.zeros(len(self.codes), dtype=np.int32)
        if self.inputs is None:
            self.inputs = self.codes
        if self.decay_z is None:
            self.decay_z = np.zeros(len(self.codes), dtype=np.float32)


def _check_options(lengths, crop, voice_weights, decay_conditioning, envelope, end_mask):
    """ValueError naming the first of :class:`TrainingSet`'s options that does not fit the others."""
    if envelope is not None and not decay_conditioning:
        raise ValueError("an envelope needs decay_conditioning (it falls with each decay time)")
    if end_mask and envelope is None:
        raise ValueError("end_mask needs an envelope (a clip ends below the envelope's floor)")
    if voice_weights is not None and not isinstance(voice_weights, str):
        w = np.asarray(voice_weights, dtype=np.float64)
        if (
            w.shape != (len(lengths),)
            or not np.all(np.isfinite(w))
            or np.any(w < 0)
            or not w.sum() > 0
        ):
            raise ValueError(
                f"voice_weights must be one weight >= 0 per voice ({len(lengths)}), not all 0, "
                f"got {voice_weights!r}"
            )
    elif voice_weights not in (None, "length"):
        raise ValueError(
            f"voice_weights must be None, 'length' or a weight per voice, got {voice_weights!r}"
        )
    if not crop and len(set(lengths)) != 1:
        raise ValueError("whole-clip training needs one clip length for every voice")


class TrainingSet:
    """Pre-emphasised training clips of one or more voices, and the batches drawn from them.

    Parameters
    ----------
    clips_by_voice : list of list of Clip
        Training clips, one list per voice (the model's voice order).
    val_by_voice : list of list of Clip
        Validation clips, one list per voice (may be empty).
    lengths : list of int
        Clip length of each voice (samples).
    crop : int
        Window length W; 0 means whole clips (then every voice must have one length).
    receptive_field, quantization_channels : int
    preemphasis : float or sequence of float
        The coefficient of every voice, or one a voice.
    integration : float or sequence of float
        The leaky integration's coefficient of every voice, or one a voice (0: none).
    shelf : pair of (float or sequence of float)
        The low shelf's zero(s) and pole(s) (:func:`preemphasize`), likewise (equal: none).
    shifts : list of float
        Pitch shifts (semitones) of the augmentation, 0 included.
    peak : float
        Level clips are normalised to before pre-emphasis.
    fade : bool
        Fade each clip's end (voices whose clips are cut while still ringing).
    voice_weights : {None, "length"} or sequence of float
        How a row picks its voice: None, uniformly; ``"length"``, in proportion to the voice's
        clip length; a weight per voice (>= 0, not all 0), in proportion to it.
    sample_rate : int, optional
        Needed with `decay_conditioning`.
    decay_conditioning : bool
        Measure every clip's decay time: each row then carries its clip's ``decay_z``, and
        :attr:`decay_stats` and :attr:`voice_decays` say what the model file records.
    envelope : dict, optional
        ``{"hold": seconds, "floor_db": dB}`` (needs `decay_conditioning`): every clip, faded and
        before pre-emphasis, is divided by the envelope of its own decay time and clipped to
        [-1, 1] (:func:`envelope_normalise`); the model file records it as ``meta["envelope"]``.
    end_mask : bool
        With an envelope: no target at or past a clip's end (:func:`clip_ends` of the faded clip at
        the envelope's floor) counts in the loss, training or validation. The network then learns no
        silence: the envelope brings every clip down; only the fade-out of a clip that lasts its
        voice's whole length is learned.
    predictor : dict, optional
        ``{"order", "window", "hop", "gain"}``: each clip, after pre-emphasis, becomes the decoded
        error of the closed-loop backward-adaptive predictor (:func:`fastdrum.predictor.encode`), so
        the codes the network learns are the predictor's (format 6); the model file records it as
        ``meta["predictor"]``.
    predictor_loop : bool
        With `predictor`: the predictor inside the sampling loop (format 7). ``inputs`` of a batch
        are then (B, W, 3): at step t the error's code (as format 6's, moved by input noise and
        drift if asked), the code of the decoded signal at t and of the prediction of sample t + 1
        (:func:`fastdrum.predictor.loop_inputs`); the targets stay the error's codes. Gain
        augmentation scales all three. No validation clips.
    attack : tuple of (int, float), optional
        ``(K, w)``: in a training window that starts at the onset, the loss of each of the first K
        targets (samples 1 to K of the clip) counts w times (w > 0). The attack of a drum, the few
        milliseconds that carry most of a tom's or a kick's energy above 5 kHz, is a small share of
        the samples; this gives it a larger share of what the network learns. Each target's
        conditional is still fitted by maximum likelihood, so nothing is biased, only weighted.
        Validation losses are not weighted.

    Attributes
    ----------
    decay_stats : dict or None
        ``{"mean", "scale", "drop_db"}``: mean and scale of ln d (seconds) over the unshifted training
        clips of every voice (the scale floored at :data:`MIN_DECAY_SCALE`), with decay conditioning.
    voice_decays : list of list of float, or None
        Each voice's training decay times (seconds, unshifted clips), sorted, to 3 decimals.
    envelope : dict or None
        The `envelope` given.
    envelope_clipped : list of float, or None
        With an envelope: per voice, the share of the samples of its training clips (every pitch
        version) and validation clips that the clipping to [-1, 1] changed.
    ends, val_ends : list of ndarray, or None
        With `end_mask`: per voice, the ends of its training clips, (versions, N), and of its
        validation clips, (N,) (None for a voice without).
    """

    def __init__(
        self,
        clips_by_voice,
        val_by_voice,
        lengths,
        *,
        crop,
        receptive_field,
        quantization_channels,
        preemphasis=0.0,
        integration=0.0,
        shelf=(0.0, 0.0),
        shifts=(0.0,),
        peak=0.95,
        fade=False,
        voice_weights=None,
        sample_rate=None,
        decay_conditioning=False,
        envelope=None,
        end_mask=False,
        attack=None,
        predictor=None,
        predictor_loop=False,
    ):
        _check_options(lengths, crop, voice_weights, decay_conditioning, envelope, end_mask)
        if attack is not None:
            k, w = attack
            if int(k) != k or k < 1 or not w > 0 or not np.isfinite(w):
                raise ValueError(f"attack must be (K >= 1 samples, weight > 0), got {attack!r}")
        self.attack = None if attack is None else (int(attack[0]), float(attack[1]))
        self.envelope = None if envelope is None else dict(envelope)
        self.predictor = None if predictor is None else dict(predictor)
        if predictor_loop and (predictor is None or any(val_by_voice)):
            raise ValueError("predictor_loop needs a predictor and no validation clips")
        # Format 7: per voice, (2, versions, N, T) levels of the decoded signal and the prediction.
        self.loop_audio = [] if predictor_loop else None
        self.V = len(clips_by_voice)
        self.voice_p = None
        if voice_weights is not None:
            w = lengths if isinstance(voice_weights, str) else voice_weights
            self.voice_p = np.asarray(w, dtype=np.float64) / float(np.sum(w))
        self.Q = quantization_channels
        self.rf = receptive_field
        a = np.broadcast_to(np.asarray(preemphasis, dtype=np.float64), (self.V,))
        self.a = [float(x) for x in a]  # each voice's
        b = np.broadcast_to(np.asarray(integration, dtype=np.float64), (self.V,))
        self.b = [float(x) for x in b]
        self.shelf = [
            (float(c), float(p))
            for c, p in zip(*(np.broadcast_to(np.asarray(x, np.float64), (self.V,)) for x in shelf))
        ]
        self.crop = int(crop) or int(lengths[0])
        self.lengths = [max(int(n), self.crop) for n in lengths]
        self._fade, self._peak, self._sample_rate = fade, peak, sample_rate
        self.audio, self.base, self.val = [], [], []
        self.envelope_clipped = None if self.envelope is None else []
        # With end_mask: each clip's end (clip_ends of the faded clip), (versions, N) per voice, and
        # each validation clip's (N,).
        self.ends = self.val_ends = None
        if end_mask:
            self.ends, self.val_ends = [], []
        seconds = [] if decay_conditioning else None  # (versions, base, validation) per voice
        for clips, val_clips, n, T in zip(clips_by_voice, val_by_voice, lengths, self.lengths):
            d = self._add_voice(clips, val_clips, n, T, shifts, decay_conditioning)
            if seconds is not None:
                seconds.append(d)
        self.n_shift = len(shifts)
        self.decay_stats = self.voice_decays = self._decay_z = self._val_decay_z = None
        if seconds is not None:
            self._set_decays(seconds)

    def _fitted(self, clips, shift, n):
        """`clips` pitch-shifted by `shift` semitones, cut or padded to n samples and
        peak-normalised: (N, n)."""
        return np.stack(
            [data_mod.fit(data_mod.pitch_shift(c.audio, shift), n, self._peak) for c in clips]
        )

    def _decay_times(self, base, ys, val):
        """The decay times (s) of the (unfaded) clips ``(base, versions, validation)``: the 20 dB
        time, or for an envelope model the envelope that lies above each clip."""
        sr, env = self._sample_rate, self.envelope

        def measure(y):
            return decay_seconds(y, sr) if env is None else envelope_decay_seconds(y, sr, env)

        return measure(base), [measure(y) for y in ys], None if val is None else measure(val)

    def _prepare(self, y, T, d, clipped, a, loop=None):
        """`y` (faded if the set fades) with an envelope divided by that of decay times `d` (s, one
        per clip) and clipped (the samples changed and all added to `clipped`, a [changed, all]
        pair, unless None); pre-emphasised with `a`, a (pre-emphasis, integration, shelf) triple; padded to T.
        With a predictor in the loop, the levels of the decoded signal and of the prediction, (2, N,
        T), are appended to the list `loop`."""
        if self.envelope is not None:
            y, n_clipped = envelope_normalise(y, d, self._sample_rate, self.envelope)
            if clipped is not None:
                clipped[0] += n_clipped
                clipped[1] += y.size
        y = preemphasize(y, *a)
        pad = [(0, 0), (0, T - y.shape[-1])]
        if self.predictor is not None:
            y, inputs = self._predictor_errors(y)
            if loop is not None:
                loop.append(np.pad(inputs, [(0, 0)] + pad))
        return np.pad(y, pad)

    def _predictor_errors(self, y):
        """Rows `y` as the decoded errors of :attr:`predictor`'s closed loop, and (format 7; else
        None) the decoded signal and the prediction (2, N, n) of its inputs: each sample the level
        of its code, so :func:`training.data.encode` gives the code back (float32)."""
        p = self.predictor
        # Format 6 needs only the errors' codes; format 7 the loop's other codes too.
        code = (
            fastdrum_predictor.loop_inputs
            if self.loop_audio is not None
            else fastdrum_predictor.encode
        )
        rows = [code(row, p["order"], p["window"], p["hop"], p["gain"], self.Q) for row in y]
        errors = mu_law_decode(np.stack([r[0] for r in rows]), self.Q)
        if self.loop_audio is None:
            return errors, None
        signal, prediction = (mu_law_decode(np.stack([r[k] for r in rows]), self.Q) for k in (1, 2))
        return errors, np.stack([signal, prediction])

    def _add_voice(self, clips, val_clips, n, T, shifts, decay_conditioning):
        """Prepare one voice: its clips of every shift in :attr:`audio`, the unshifted ones in
        :attr:`base`, its validation clips in :attr:`val`, and what the envelope and the end mask
        record. Returns its decay times ``(versions, base, validation)`` with decay conditioning,
        else None."""
        ys = [self._fitted(clips, s, n) for s in shifts]
        base = ys[shifts.index(0.0)] if 0.0 in shifts else self._fitted(clips, 0.0, n)
        val = self._fitted(val_clips, 0.0, n) if val_clips else None
        d_base, d_ys, d_val = None, [None] * len(ys), None
        if decay_conditioning:
            d_base, d_ys, d_val = self._decay_times(base, ys, val)

        def faded(y):
            return fade_out(y) if self._fade else y

        f_ys, f_val = [faded(y) for y in ys], None if val is None else faded(val)
        clipped = [0, 0]  # samples the envelope's clipping changed, all
        v = len(self.audio)
        a = self.a[v], self.b[v], self.shelf[v]  # this voice's pre-emphasis, integration, shelf
        loop = None if self.loop_audio is None else []
        self.audio.append(
            np.stack([self._prepare(y, T, d, clipped, a, loop) for y, d in zip(f_ys, d_ys)])
        )
        if loop is not None:
            self.loop_audio.append(np.stack(loop, axis=1))
        self.base.append(self._prepare(faded(base), T, d_base, None, a))
        self.val.append(
            None if val is None else self._prepare(f_val, T, d_val, clipped, a)[:, : self.crop]
        )
        if self.envelope_clipped is not None:
            self.envelope_clipped.append(clipped[0] / max(clipped[1], 1))
        if self.ends is not None:
            floor = self.envelope["floor_db"]
            self.ends.append(np.stack([clip_ends(y, floor) for y in f_ys]))
            self.val_ends.append(None if val is None else clip_ends(f_val, floor))
        return (d_ys, d_base, d_val) if decay_conditioning else None

    def _set_decays(self, seconds):
        """Each clip's decay feature z from its decay times ``(versions, base, validation)`` per
        voice, and what the model file records."""
        logs = np.log(np.concatenate([base for _, base, _ in seconds]))
        mean, scale = float(logs.mean()), max(float(logs.std()), MIN_DECAY_SCALE)
        self.decay_stats = dict(mean=mean, scale=scale, drop_db=DECAY_DROP_DB)
        self.voice_decays = [sorted(round(float(x), 3) for x in base) for _, base, _ in seconds]

        def z(d):
            return None if d is None else decay_z(d, mean, scale).astype(np.float32)

        self._decay_z = [np.stack([z(d) for d in versions]) for versions, _, _ in seconds]
        self._val_decay_z = [z(val) for _, _, val in seconds]

    @property
    def n_clips(self):
        """Training clips per voice."""
        return [a.shape[1] for a in self.audio]

    def primers(self, n_codes):
        """First `n_codes` codes of every unshifted training clip, and the voice of each: ``(codes, voices)``."""
        codes = [data_mod.encode(a[:, :n_codes], self.Q) for a in self.base]
        voices = [np.full(len(c), v, dtype=np.int32) for v, c in enumerate(codes)]
        return np.concatenate(codes), np.concatenate(voices)

    def batch(
        self,
        rng,
        batch_size,
        gain_db=0.0,
        onset_share=0.5,
        input_noise=None,
        voice_dropout=0.0,
        input_drift=None,
        input_drift_hz=DRIFT_HZ,
        input_drift_share=1.0,
    ):
        """One batch drawn with `rng` (a ``numpy.random.Generator``).

        `input_noise` (SIGMA, codes; None or 0: off) makes ``inputs`` the codes each moved by
        ``round(SIGMA * N(0, 1))`` and clipped to ``[0, Q - 1]``, drawn after everything else.
        `voice_dropout` (p; 0: off) gives each row's ``voices`` the index ``V`` (one past the data's
        voices: the model's :data:`training.voices.ANY_VOICE`) with probability p, drawn after the
        input noise, so the rest of the batch is that of a run without it. `input_drift` (SIGMA, in the
        units of the modelled signal; None or 0: off) makes ``inputs`` the codes of each window plus a
        :func:`drift` of RMS SIGMA below `input_drift_hz` Hz (then moved by the input noise, if any),
        drawn after the voice dropout; with `input_drift_share` below 1, only that share of the rows
        (drawn after the drift) carry it.

        With ``end_mask``, the targets at or past their clip's end are masked, and a window that does
        not start at the onset starts early enough that some target past the receptive field is
        before the end (else it starts at the onset). With ``attack`` ``(K, w)``, the first K targets
        of a window that starts at the onset weigh w in ``mask``.
        """
        B, W = batch_size, self.crop
        voices = (
            rng.integers(self.V, size=B)
            if self.voice_p is None
            else rng.choice(self.V, size=B, p=self.voice_p)
        )
        codes = np.empty((B, W), dtype=np.int32)
        loop = self.loop_audio is not None  # format 7: the signal's and the prediction's codes fed
        windows = np.empty((B, W), dtype=np.float32) if input_drift else None
        extra = np.empty((B, W, 2), dtype=np.int32) if loop else None
        mask = np.ones((B, W - 1), dtype=np.float32)
        starts = np.zeros(B, dtype=np.int32)
        dz = np.zeros(B, dtype=np.float32)
        gains = 10.0 ** (-rng.uniform(0.0, gain_db, size=B) / 20.0)
        for b, v in enumerate(voices):
            a = self.audio[v]
            clip, ver = rng.integers(a.shape[1]), rng.integers(a.shape[0])
            last = a.shape[2] - W
            end = None if self.ends is None else int(self.ends[v][ver, clip])
            if end is not None:
                last = max(min(last, end - self.rf - 1), 0)
            start = (
                0 if (last == 0 or rng.random() < onset_share) else int(rng.integers(1, last + 1))
            )
            window = a[ver, clip, start : start + W] * np.float32(gains[b])
            codes[b] = data_mod.encode(window, self.Q)
            if loop:  # step t is fed the signal at t and the prediction of t + 1
                signal, pred = self.loop_audio[v][:, ver, clip]
                pred = pred[start + 1 : start + W + 1]
                both = np.stack([signal[start : start + W], np.pad(pred, (0, W - len(pred)))], -1)
                extra[b] = data_mod.encode(both * np.float32(gains[b]), self.Q)
            if windows is not None:
                windows[b] = window
            if start > 0:
                mask[b, : self.rf - 1] = 0.0
            if end is not None:  # target t is sample start + t + 1
                mask[b, max(end - start - 1, 0) :] = 0.0
            if start == 0 and self.attack is not None:
                mask[b, : self.attack[0]] *= np.float32(self.attack[1])
            starts[b] = start
            if self._decay_z is not None:
                dz[b] = self._decay_z[v][ver, clip]
        inputs, noise = codes, None
        if input_noise:
            noise = np.rint(np.float64(input_noise) * rng.standard_normal((B, W)))
            inputs = np.clip(inputs + noise, 0, self.Q - 1).astype(np.int32)
        if voice_dropout:
            voices = np.where(rng.random(B) < voice_dropout, self.V, voices)
        if input_drift:
            if self._sample_rate is None:
                raise ValueError("input drift needs the sample rate (its band is in Hz)")
            d = drift(
                rng, B, W, self._sample_rate, float(input_drift), max_hz=float(input_drift_hz)
            )
            if input_drift_share < 1:
                d *= (rng.random(B) < input_drift_share)[:, None]
            moved = windows + d
            inputs = data_mod.encode(moved, self.Q)  # clipped to [-1, 1] by the encoder
            if noise is not None:
                inputs = np.clip(inputs + noise, 0, self.Q - 1).astype(np.int32)
        if loop:
            inputs = np.concatenate([inputs[..., None], extra], axis=-1)
        return Batch(
            codes=codes,
            voices=voices.astype(np.int32),
            mask=mask,
            starts=starts,
            inputs=inputs,
            decay_z=dz,
        )

    def validation(self):
        """The validation windows (each voice's clips from their onset): a :class:`Batch`, or None."""
        parts = [(v, x) for v, x in enumerate(self.val) if x is not None]
        if not parts:
            return None
        codes = np.concatenate([data_mod.encode(x, self.Q) for _, x in parts])
        voices = np.concatenate([np.full(len(x), v, dtype=np.int32) for v, x in parts])
        dz = None
        if self._val_decay_z is not None:
            dz = np.concatenate([self._val_decay_z[v] for v, _ in parts])
        mask = np.ones((len(codes), codes.shape[1] - 1), np.float32)
        if self.val_ends is not None:  # as in batch(): no target at or past the clip's end
            ends = np.concatenate([self.val_ends[v] for v, _ in parts])
            mask[np.arange(mask.shape[1]) >= ends[:, None] - 1] = 0.0
        return Batch(codes=codes, voices=voices, mask=mask, decay_z=dz)
