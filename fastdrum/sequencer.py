"""The drum machine: step patterns, timing (BPM, swing, humanise) and mixing.

A :class:`Pattern` is one bar as a grid of steps per instrument. Rendering
has two halves, usable separately:

- :func:`schedule` turns a pattern into timed :class:`Hit` s (seconds,
  instrument, velocity); :mod:`fastdrum.midi` writes those as a MIDI file;
- :func:`mix` plays hits with a :class:`fastdrum.kit.Kit`, like
  ``librosa.clicks``: each hit adds a clip (picked at random among the kit's
  variations) scaled by its velocity, into a float32 buffer.

:func:`render` does both. Timing: with ``steps_per_beat`` steps to a beat, step
``k`` of the whole beat starts at ``(k + swing * (k % 2)) * 60 / bpm /
steps_per_beat`` seconds, and a beat of `bars` bars lasts ``round(bars *
steps * 60 / bpm / steps_per_beat * sr)`` samples plus the tail of whatever
still rings after the last bar.

Examples
--------
>>> import numpy as np
>>> from fastdrum.kit import Kit
>>> kit = Kit({"kick": [np.ones(10)], "snare": [np.ones(10)]}, sr=1000)
>>> y = render(Pattern.parse("kick=x...,snare=..x."), kit, bpm=60, bars=2, post=False)
>>> y.shape     # 2 bars of 4 beats (a 4-step bar is 4/4 in quarter notes) at 60 BPM: 8 s
(8000,)
"""

import itertools
import math
import re
from collections import namedtuple

import numpy as np

from . import _checks
from .errors import PatternError
from .instruments import (
    canonical_instrument,
    fallback_chain,
    first_available,
    gains,
    pans,
)
from .presets import PRESETS

__all__ = [
    "MAX_SAMPLES",
    "MAX_SECONDS",
    "MAX_HITS",
    "MAX_STEPS",
    "VELOCITIES",
    "Hit",
    "Pattern",
    "as_pattern",
    "schedule",
    "mix",
    "render",
    "beat_length",
]

#: Velocity of each grid character; digits 1-9 are n / 9, and "0" is a rest.
VELOCITIES = {".": 0.0, "-": 0.0, "_": 0.0, "0": 0.0, "x": 0.7, "X": 1.0, "o": 0.35, "O": 0.5}
VELOCITIES.update({str(d): d / 9 for d in range(1, 10)})

#: Upper bound on a rendered beat's length in samples (about 38 minutes at 44.1 kHz).
MAX_SAMPLES = 100_000_000
#: Upper bound on a scheduled beat's duration in seconds.
MAX_SECONDS = 3600
#: Upper bound on the hits of one beat (a pattern's or a MIDI file's), checked before any is made:
#: an hour of sixteenth notes on 8 instruments at 130 BPM is 250,000.
MAX_HITS = 250_000
#: Upper bound on the steps of a pattern's bar (a grid of more is refused before it is parsed).
MAX_STEPS = 65_536

Hit = namedtuple("Hit", ["time", "instrument", "velocity"])
Hit.__doc__ = """One drum hit: `time` in seconds, `instrument` name, `velocity` in (0, 1]."""


def _number(name, value, **bounds):
    return _checks.number(name, value, error=PatternError, **bounds)


def _integer(name, value, *, lo, hi):
    return _checks.integer(name, value, lo=lo, hi=hi, error=PatternError)


def _parse_row(instrument, text):
    cells = [c for c in text if c not in "| \t"]
    if not cells:
        raise PatternError(
            f"the grid of {_checks.short(instrument)} has no steps: {_checks.short(text)}"
        )
    if len(cells) > MAX_STEPS:
        raise PatternError(
            f"the grid of {_checks.short(instrument)} has {len(cells)} steps, more than the limit of {MAX_STEPS}"
        )
    bad = sorted({c for c in cells if c not in VELOCITIES})
    if bad:
        raise PatternError(
            f"bad step character(s) {_checks.short(''.join(bad))} in the grid of {_checks.short(instrument)}: "
            f"{_checks.short(text)} (use X accent, x hit, o ghost, 1-9 velocity, . rest)"
        )
    return [VELOCITIES[c] for c in cells]


class Pattern:
    """One bar of drum steps per instrument.

    Parameters
    ----------
    tracks : mapping of str to str or sequence of float
        Instrument (or alias) -> its steps, as a grid string (see
        :meth:`parse`) or velocities in [0, 1] (0 is a rest). Tracks shorter
        than the longest are repeated, so their lengths must divide it.
    steps_per_beat : float, optional
        Default: ``steps / 4`` (a 4/4 bar: 16 steps are sixteenth notes).
    bpm, swing : float, optional
        Defaults used by :func:`render` when it is given none.
    name : str, optional

    Attributes
    ----------
    tracks : dict of str to ndarray of float64
        Canonical instrument name -> velocities, each of length `steps`.
    steps : int
    steps_per_beat : float

    Examples
    --------
    >>> p = Pattern({"kick": "x.x.", "hh": [0.5, 0.5]})
    >>> p.steps, p.steps_per_beat, p.tracks["hihat"].tolist()
    (4, 1.0, [0.5, 0.5, 0.5, 0.5])
    """

    def __init__(self, tracks, *, steps_per_beat=None, bpm=None, swing=None, name=None):
        if not hasattr(tracks, "items") or not tracks:
            raise PatternError(f"a pattern needs at least one instrument track, got {tracks!r}")
        rows = {}
        for inst, steps in tracks.items():
            canon = canonical_instrument(inst)
            if canon in rows:
                raise PatternError(f"instrument {inst!r} ({canon!r}) appears twice in the pattern")
            if isinstance(steps, str):
                vel = _parse_row(inst, steps)
            else:
                try:
                    vel = [float(v) for v in steps]
                except (TypeError, ValueError):
                    raise PatternError(
                        f"steps of {inst!r} must be a grid string or numbers, got {steps!r}"
                    ) from None
                if not vel:
                    raise PatternError(f"the track of {inst!r} has no steps")
                for v in vel:
                    _number(f"velocity of {inst!r}", v, lo=0.0, hi=1.0)
            rows[canon] = vel
        steps = max(len(v) for v in rows.values())
        for inst, vel in rows.items():
            if steps % len(vel):
                raise PatternError(
                    f"the track of {inst!r} has {len(vel)} steps, which does not divide "
                    f"the pattern's {steps} steps"
                )
        self.tracks = {
            k: np.array(v * (steps // len(v)), dtype=np.float64) for k, v in rows.items()
        }
        for v in self.tracks.values():
            v.setflags(write=False)
        self.steps = steps
        if steps_per_beat is None:
            steps_per_beat = steps / 4
        self.steps_per_beat = _number(
            "steps_per_beat", steps_per_beat, lo=0.0, hi=1e4, lo_open=True
        )
        self.bpm = None if bpm is None else _checks.bpm(bpm, error=PatternError)
        self.swing = None if swing is None else _check_swing(swing)
        self.name = name

    @property
    def instruments(self):
        """The instruments with at least one hit, in the pattern's order."""
        return [k for k, v in self.tracks.items() if v.any()]

    @classmethod
    def parse(cls, text, *, steps_per_beat=None):
        """A pattern from a preset name or a grid.

        Parameters
        ----------
        text : str
            A preset's name (see :data:`fastdrum.presets.PRESETS`), or
            ``"instrument=grid"`` tracks separated by ``,``, ``;`` or new
            lines. In a grid, each character is a step: ``X`` accent (velocity
            1), ``x`` hit (0.7), ``O`` (0.5), ``o`` ghost (0.35), ``1``-``9``
            velocity in ninths, ``.``, ``-``, ``_`` or ``0`` rest; ``|`` and
            spaces are ignored (use them to mark beats). Lines starting with
            ``#`` are comments.
        steps_per_beat : float, optional

        Raises
        ------
        PatternError
            If a preset is unknown, or the grid cannot be parsed.

        Examples
        --------
        >>> p = Pattern.parse("kick=X...x..., snare=....X...")
        >>> p.tracks["kick"].tolist()[:5]
        [1.0, 0.0, 0.0, 0.0, 0.7]
        >>> Pattern.parse("house").name
        'house'
        """
        if not isinstance(text, str):
            raise PatternError(f"a pattern must be a string, got {_checks.short(text)}")
        if "=" not in text:
            pattern = cls.preset(text)
            if steps_per_beat is not None:
                pattern.steps_per_beat = _number(
                    "steps_per_beat", steps_per_beat, lo=0.0, hi=1e4, lo_open=True
                )
            return pattern
        lines = [ln for ln in text.splitlines() if not ln.strip().startswith("#")]
        tracks = {}
        for item in re.split(r"[,;\n]", "\n".join(lines)):
            if not item.strip():
                continue
            if item.count("=") != 1:
                raise PatternError(
                    f"cannot parse pattern track {_checks.short(item.strip())}: expected instrument=grid"
                )
            inst, grid = (s.strip() for s in item.split("="))
            if not inst:
                raise PatternError(
                    f"cannot parse pattern track {_checks.short(item.strip())}: no instrument name"
                )
            if inst in tracks:
                raise PatternError(f"instrument {_checks.short(inst)} appears twice in the pattern")
            tracks[inst] = grid
        if not tracks:
            raise PatternError(
                f"cannot parse pattern {_checks.short(text)}: no instrument=grid tracks"
            )
        return cls(tracks, steps_per_beat=steps_per_beat)

    @classmethod
    def preset(cls, name):
        """A named preset pattern (``"house"``, ``"techno"``, ``"hip-hop"``, ``"breakbeat"``, ...).

        Examples
        --------
        >>> p = Pattern.preset("techno")
        >>> p.bpm, p.steps
        (130.0, 16)
        """
        key = name.strip().lower().replace("_", "-") if isinstance(name, str) else name
        if key == "hiphop":
            key = "hip-hop"
        if key not in PRESETS:
            raise PatternError(
                f"unknown preset {_checks.short(name)}; presets: {', '.join(sorted(PRESETS))} "
                "(or give a grid such as 'kick=x...x...,snare=....x...')"
            )
        p = PRESETS[key]
        pattern = cls.parse(p["grid"])
        pattern.bpm, pattern.swing, pattern.name = p["bpm"], p["swing"], key
        return pattern

    def to_grid(self):
        """The pattern in grid syntax (velocities rounded to the nearest grid character).

        Examples
        --------
        >>> Pattern.parse("kick=X.x.o.9.").to_grid()
        'kick=X.x.o.X.'
        """
        chars = sorted(((v, c) for c, v in VELOCITIES.items() if c in "Xxo."), reverse=True)

        def char(v):
            return min(chars, key=lambda vc: abs(vc[0] - v))[1]

        return ",".join(f"{k}=" + "".join(char(v) for v in row) for k, row in self.tracks.items())

    def __repr__(self):
        return f"<Pattern {self.name + ' ' if self.name else ''}{self.to_grid()!r} steps_per_beat={self.steps_per_beat:g}>"


def _check_swing(swing):
    return _number("swing", swing, lo=0.0, hi=1.0, hi_open=True)


def as_pattern(pattern):
    """`pattern` as a :class:`Pattern`: a Pattern as it is, a preset name or a grid parsed."""
    if isinstance(pattern, Pattern):
        return pattern
    if isinstance(pattern, str):
        return Pattern.parse(pattern)
    raise PatternError(f"expected a Pattern, a preset name or a grid string, got {pattern!r}")


def beat_length(pattern, *, bpm=None, bars=1, sr):
    """Samples in `bars` bars of `pattern` at `bpm` (without any tail).

    ``round(bars * steps * 60 / bpm / steps_per_beat * sr)``.

    Examples
    --------
    >>> beat_length("house", bpm=120, bars=4, sr=16000)   # 16 beats at 2 beats/s
    128000
    """
    pattern = as_pattern(pattern)
    bpm = _checks.pattern_bpm(bpm, pattern, error=PatternError)
    bars = _integer("bars", bars, lo=1, hi=100_000)
    sr = _checks.sample_rate(sr, error=PatternError)
    return round(bars * pattern.steps * 60.0 / bpm / pattern.steps_per_beat * sr)


def _rng_pair(seed):
    a, b = _checks.seed_sequence(seed, PatternError).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def schedule(
    pattern, *, bpm=None, bars=1, swing=None, humanize_time=0.0, humanize_velocity=0.0, seed=None
):
    """The hits of `bars` bars of `pattern`, in time order.

    Parameters
    ----------
    pattern : Pattern or str
        A pattern, preset name or grid.
    bpm : float, optional
        Beats per minute (> 0); default the pattern's, else 120.
    bars : int, default 1
    swing : float, optional
        In [0, 1): the off-beat steps (odd steps: the 2nd of each pair) are
        delayed by this fraction of a step; 1/3 gives a triplet shuffle.
        Default the pattern's, else 0.
    humanize_time : float, default 0
        Standard deviation of random timing offsets, in seconds (hits never
        move before 0).
    humanize_velocity : float, default 0
        Standard deviation of random velocity changes (velocities stay in
        [0.05, 1]).
    seed : int or numpy.random.SeedSequence, optional
        For the humanisation.

    Returns
    -------
    hits : list of Hit

    Examples
    --------
    >>> [(h.time, h.instrument) for h in schedule("kick=x.x.", bpm=60, swing=0.5)]
    [(0.0, 'kick'), (2.0, 'kick')]
    >>> [h.time for h in schedule("hihat=xxxx", bpm=60, swing=0.5)]
    [0.0, 1.5, 2.0, 3.5]
    """
    pattern = as_pattern(pattern)
    bpm = _checks.pattern_bpm(bpm, pattern, error=PatternError)
    swing = _check_swing(swing if swing is not None else (pattern.swing or 0.0))
    bars = _integer("bars", bars, lo=1, hi=100_000)
    humanize_time = _number("humanize_time", humanize_time, lo=0.0, hi=1.0)
    humanize_velocity = _number("humanize_velocity", humanize_velocity, lo=0.0, hi=1.0)
    rng, _ = _rng_pair(seed)
    step = 60.0 / bpm / pattern.steps_per_beat
    if bars * pattern.steps * step > MAX_SECONDS:
        raise PatternError(
            f"{bars} bars at {bpm:g} BPM would last {bars * pattern.steps * step:.0f} s, "
            f"more than the limit of {MAX_SECONDS} s"
        )
    template = [
        (i, inst, row[i])
        for i in range(pattern.steps)
        for inst, row in pattern.tracks.items()
        if row[i] > 0
    ]  # one bar's hits, in the order they are drawn
    if bars * len(template) > MAX_HITS:
        raise PatternError(
            f"{bars} bars of {len(template)} hits would make {bars * len(template)} hits, "
            f"more than the limit of {MAX_HITS}"
        )
    hits = []
    for bar in range(bars):
        for i, inst, v in template:
            k = bar * pattern.steps + i
            t = (k + swing * (k % 2)) * step
            if humanize_time:
                t_hit = max(0.0, t + rng.normal(0.0, humanize_time))
            else:
                t_hit = t
            if humanize_velocity:
                v = float(np.clip(v + rng.normal(0.0, humanize_velocity), 0.05, 1.0))
            hits.append(Hit(t_hit, inst, float(v)))
    hits.sort(key=lambda h: h.time)
    return hits


def _source(kit, instrument, substitute):
    """The kit's instrument that plays `instrument` (itself, or a fallback); else PatternError."""
    source = first_available(instrument, kit.instruments, substitute=substitute)
    if source is None:
        chain = fallback_chain(instrument)[1:] if substitute else []
        nor = f" (nor {', '.join(map(repr, chain))})" if chain else ""
        raise PatternError(
            f"the kit has no {instrument!r} clips{nor}; "
            f"it has {', '.join(kit.instruments) or 'none'}"
        )
    return source


def _pan_gains(p):
    theta = (p + 1.0) * math.pi / 4.0  # constant-power pan law
    return math.cos(theta), math.sin(theta)


def mix(
    hits,
    kit,
    *,
    length=None,
    tail=True,
    seed=None,
    no_repeat=False,
    stereo=False,
    pan=None,
    gain=None,
    post=True,
    substitute=True,
):
    """Play timed hits with a kit's clips, additively, into one float32 signal.

    Parameters
    ----------
    hits : iterable of Hit or (time, instrument, velocity)
    kit : fastdrum.kit.Kit
        Clips per instrument at ``kit.sr``.
    length : int, optional
        Samples of the beat (its grid); default: up to the end of the last clip.
    tail : bool, default True
        Let the clips ring past `length` (the result is longer); if False the
        result is exactly `length` samples (for loops).
    seed : int or numpy.random.SeedSequence, optional
        Which clip each hit plays (uniformly at random among the variations).
    no_repeat : bool, default False
        Never play the same clip twice (like the original experiment);
        a :class:`~fastdrum.PatternError` if an instrument has fewer clips
        than hits.
    stereo : bool, default False
        Return ``(2, T)``, each instrument placed by `pan`.
    pan : mapping of str to float, optional
        -1 (left) .. 1 (right), constant-power; defaults
        :data:`fastdrum.instruments.DEFAULT_PAN`.
    gain : mapping of str to float, optional
        Linear level of each instrument, in [0, 15.8] (+24 dB); defaults
        :data:`fastdrum.instruments.DEFAULT_GAIN`.
    post : bool, default True
        Master the mix (:func:`fastdrum.post.master`: 20 Hz high-pass,
        gentle compression, peak at -1 dBFS). Either way the result never
        exceeds 1 in magnitude: a louder mix is scaled down.
    substitute : bool, default True
        Borrow an instrument the kit lacks from a similar one
        (:data:`fastdrum.instruments.FALLBACKS`).

    Returns
    -------
    y : ndarray of float32, shape (T,) or (2, T)

    Examples
    --------
    >>> from fastdrum.kit import Kit
    >>> kit = Kit({"kick": [np.array([0.5, 0.25])]}, sr=10)
    >>> mix([Hit(0.0, "kick", 1.0), Hit(0.3, "kick", 0.5)], kit, length=5, post=False)
    array([0.5  , 0.25 , 0.   , 0.25 , 0.125], dtype=float32)
    """
    hits = [Hit(*h) for h in itertools.islice(hits, MAX_HITS + 1)]
    if len(hits) > MAX_HITS:
        raise PatternError(f"more than the limit of {MAX_HITS} hits")
    if length is not None:
        length = _integer("length", length, lo=0, hi=MAX_SAMPLES)
    _, rng = _rng_pair(seed)
    onsets, sources, amps = _place(hits, kit, gains(gain), pans(pan), substitute)
    chosen = _choose_clips(sources, kit, rng, no_repeat)
    end = max((o + len(c) for o, c in zip(onsets, chosen)), default=0)
    T = end if length is None else (max(length, end) if tail else length)
    if T > MAX_SAMPLES:
        raise PatternError(f"the beat would have {T} samples, more than the limit of {MAX_SAMPLES}")
    y = _add_clips(onsets, chosen, amps, T, stereo)
    return _master(y, kit.sr, post)


def _place(hits, kit, gain, pan, substitute):
    """Per hit: its onset (samples), the kit's instrument that plays it, (amplitude, pan)."""
    onsets, sources, amps = [], [], []
    for h in hits:
        t = _number("hit time", h.time, lo=0.0, hi=MAX_SAMPLES)
        v = _number("hit velocity", h.velocity, lo=0.0, hi=1.0)
        inst = canonical_instrument(h.instrument)
        sources.append(_source(kit, inst, substitute))
        onsets.append(round(t * kit.sr))
        amps.append((v * gain.get(inst, 1.0), pan.get(inst, 0.0)))
    return onsets, sources, amps


def _choose_clips(sources, kit, rng, no_repeat):
    """The clip each hit plays: uniformly at random among its instrument's, or never one twice."""
    by_source = {}
    for i, source in enumerate(sources):
        by_source.setdefault(source, []).append(i)
    chosen = [None] * len(sources)
    for source in sorted(by_source):  # the draws' order does not depend on the hits' order
        idx = by_source[source]
        variations = kit[source]
        if no_repeat:
            if len(idx) > len(variations):
                raise PatternError(
                    f"no_repeat needs {len(idx)} different {source!r} clips, "
                    f"the kit has {len(variations)} (generate more, or allow "
                    "repeats)"
                )
            picks = rng.permutation(len(variations))[: len(idx)]
        else:
            picks = rng.integers(len(variations), size=len(idx))
        for i, j in zip(idx, picks):
            chosen[i] = variations[j]
    return chosen


def _add_clips(onsets, clips, amps, T, stereo):
    """The clips, scaled (and panned if `stereo`), added at their onsets into T samples: float32."""
    out = np.zeros((2 if stereo else 1, T), dtype=np.float64)
    for onset, clip, (amp, p) in zip(onsets, clips, amps):
        n = min(len(clip), T - onset)
        if n <= 0:
            continue
        seg = clip[:n].astype(np.float64) * amp
        if stereo:
            gl, gr = _pan_gains(p)
            out[0, onset : onset + n] += gl * seg
            out[1, onset : onset + n] += gr * seg
        else:
            out[0, onset : onset + n] += seg
    return (out if stereo else out[0]).astype(np.float32)


def _master(y, sr, post):
    """The mix mastered (`post`), or only kept within [-1, 1]; an empty mix as it is."""
    from . import post as _post

    if y.shape[-1] == 0:
        return y
    if post and np.any(y):
        return _post.master(y, sr)
    return _post.limit(y)


def render(
    pattern,
    kit,
    *,
    bpm=None,
    bars=1,
    swing=None,
    seed=None,
    humanize_time=0.0,
    humanize_velocity=0.0,
    no_repeat=False,
    stereo=False,
    pan=None,
    gain=None,
    post=True,
    tail=True,
    substitute=True,
):
    """Render a drum pattern with a kit into audio.

    Parameters
    ----------
    pattern : Pattern or str
        A pattern, a preset name (``"house"``) or a grid
        (``"kick=x...x...,snare=....x..."``).
    kit : fastdrum.kit.Kit
    bpm, bars, swing, humanize_time, humanize_velocity
        See :func:`schedule`.
    seed : int, optional
        Makes the humanisation and the choice of clips repeatable.
    no_repeat, stereo, pan, gain, post, tail, substitute
        See :func:`mix`.

    Returns
    -------
    y : ndarray of float32, shape (T,) or (2, T)
        At ``kit.sr``; ``T = beat_length(...)`` plus the tail that rings past
        the last bar (none if ``tail=False``).

    Raises
    ------
    PatternError
        For a bad pattern or argument, an instrument the kit cannot play, or
        too few clips for `no_repeat`.

    Examples
    --------
    >>> from fastdrum.kit import Kit
    >>> kit = Kit({"kick": [np.r_[1.0, np.zeros(99)]]}, sr=1000)
    >>> p = Pattern.parse("kick=xx.x", steps_per_beat=4)   # steps of 125 ms at 120 BPM
    >>> y = render(p, kit, bpm=120, swing=0.2, post=False, tail=False)
    >>> np.flatnonzero(y).tolist()   # off-beats (steps 1 and 3) 0.2 step = 25 ms late
    [0, 150, 400]
    """
    pattern = as_pattern(pattern)
    bpm = _checks.pattern_bpm(bpm, pattern, error=PatternError)
    s1, s2 = _seed_pair(seed)
    hits = schedule(
        pattern,
        bpm=bpm,
        bars=bars,
        swing=swing,
        humanize_time=humanize_time,
        humanize_velocity=humanize_velocity,
        seed=s1,
    )
    length = beat_length(pattern, bpm=bpm, bars=bars, sr=kit.sr)
    return mix(
        hits,
        kit,
        length=length,
        tail=tail,
        seed=s2,
        no_repeat=no_repeat,
        stereo=stereo,
        pan=pan,
        gain=gain,
        post=post,
        substitute=substitute,
    )


def _seed_pair(seed):
    return _checks.seed_sequence(seed, PatternError).spawn(2)
