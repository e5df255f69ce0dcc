"""General MIDI drum files: write a pattern as a ``.mid``, or play a MIDI file's drums with a kit.

Drums are on MIDI channel 10 (``channel=9`` in mido, which counts from 0),
one note per instrument (:data:`fastdrum.sequencer.INSTRUMENTS`: 36 kick,
38 snare, 42 closed hi-hat, 46 open hi-hat, 39 clap, 41/45/48 toms, 49 crash,
51 ride). Reading also accepts the neighbouring GM drum notes
(:data:`NOTE_TO_INSTRUMENT`, e.g. 35 kick, 40 snare, 44 pedal hi-hat).

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "beat.mid")
>>> write_midi(path, "kick=x...x...x...x...", bpm=120)
>>> [(round(h.time, 3), h.instrument) for h in read_midi(path)]
[(0.0, 'kick'), (0.5, 'kick'), (1.0, 'kick'), (1.5, 'kick')]
"""

import os

import numpy as np

from . import _io
from ._errors import FastDrumError
from .sequencer import INSTRUMENTS, Hit, _as_pattern, _check_bpm, _integer, mix, schedule

__all__ = ["MidiError", "DRUM_CHANNEL", "NOTE_TO_INSTRUMENT", "to_midi", "write_midi", "read_midi",
           "render_midi"]

#: mido's (0-based) number of General MIDI's percussion channel 10.
DRUM_CHANNEL = 9

#: GM percussion note -> fastdrum instrument, for reading MIDI files.
NOTE_TO_INSTRUMENT = {
    35: "kick", 36: "kick", 37: "snare", 38: "snare", 40: "snare", 39: "clap",
    42: "hihat", 44: "hihat", 46: "openhat",
    41: "tom_low", 43: "tom_low", 45: "tom_mid", 47: "tom_mid", 48: "tom_high", 50: "tom_high",
    49: "crash", 52: "crash", 55: "crash", 57: "crash", 51: "ride", 53: "ride", 59: "ride",
}


class MidiError(FastDrumError, ValueError):
    """A MIDI file cannot be read, or a MIDI argument is invalid."""


def to_midi(pattern, *, bpm=None, bars=1, swing=None, humanize_time=0.0, humanize_velocity=0.0,
            seed=None, ticks_per_beat=480):
    """A :class:`mido.MidiFile` (type 0) playing `pattern` on the GM drum channel.

    Parameters
    ----------
    pattern : Pattern or str
        A pattern, preset name or grid.
    bpm, bars, swing, humanize_time, humanize_velocity, seed
        As in :func:`fastdrum.sequencer.schedule`; the tempo is written as a
        ``set_tempo`` event.
    ticks_per_beat : int, default 480

    Returns
    -------
    mido.MidiFile
        Step ``k`` starts at tick ``round((k + swing * (k % 2)) *
        ticks_per_beat / steps_per_beat)``; each note lasts half a step;
        velocity ``round(127 * v)`` (at least 1).

    Examples
    --------
    >>> mid = to_midi("kick=x...,snare=..X.", bpm=100, ticks_per_beat=96)
    >>> [(m.type, m.note, m.velocity) for m in mid.tracks[0] if m.type == "note_on"]
    [('note_on', 36, 89), ('note_on', 38, 127)]
    """
    import mido

    pattern = _as_pattern(pattern)
    bpm = _check_bpm(bpm if bpm is not None else (pattern.bpm or 120.0))
    tpb = _integer("ticks_per_beat", ticks_per_beat, lo=24, hi=32767)
    hits = schedule(pattern, bpm=bpm, bars=bars, swing=swing, humanize_time=humanize_time,
                    humanize_velocity=humanize_velocity, seed=seed)
    note_len = max(1, round(tpb / pattern.steps_per_beat / 2))
    events = []  # (tick, order, message): note-offs sort before note-ons at the same tick
    for h in hits:
        tick = round(h.time * bpm / 60.0 * tpb)
        note = INSTRUMENTS[h.instrument]
        vel = int(np.clip(round(127 * h.velocity), 1, 127))
        events.append((tick, 1, mido.Message("note_on", channel=DRUM_CHANNEL, note=note, velocity=vel)))
        events.append((tick + note_len, 0, mido.Message("note_off", channel=DRUM_CHANNEL, note=note, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=pattern.name or "fastdrum", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    end = round(bars * pattern.steps * tpb / pattern.steps_per_beat)
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    mid = mido.MidiFile(type=0, ticks_per_beat=tpb)
    mid.tracks.append(track)
    return mid


def write_midi(path, pattern, *, overwrite=False, **kwargs):
    """Write `pattern` as a General MIDI drum file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    pattern : Pattern or str
    overwrite : bool, default False
    **kwargs
        Passed to :func:`to_midi` (bpm, bars, swing, ...).

    Raises
    ------
    OutputExistsError
        If `path` exists and `overwrite` is False.

    Examples
    --------
    >>> import os, tempfile, mido
    >>> path = os.path.join(tempfile.mkdtemp(), "hiphop.mid")
    >>> write_midi(path, "hip-hop", bars=2)
    >>> round(mido.MidiFile(path).length, 3)   # 2 bars of 4 beats at the preset's 90 BPM
    5.333
    """
    mid = to_midi(pattern, **kwargs)
    with _io.atomic_file(path, overwrite=overwrite, suffix=".mid") as tmp:
        with open(tmp, "wb") as f:
            mid.save(file=f)


def _load(path_or_midi):
    import mido

    if isinstance(path_or_midi, mido.MidiFile):
        return path_or_midi
    path = os.fspath(path_or_midi)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MIDI file {path!r} does not exist")
    try:
        return mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise MidiError(f"cannot read MIDI file {path!r}: {exc}") from None


def read_midi(path_or_midi, *, channel=DRUM_CHANNEL):
    """The drum hits of a MIDI file, in seconds (tempo changes honoured).

    Parameters
    ----------
    path_or_midi : str, os.PathLike or mido.MidiFile
    channel : int or None, default 9
        Channel to read (mido numbering: 9 is GM channel 10); None for all.

    Returns
    -------
    hits : list of fastdrum.sequencer.Hit
        One per note-on with a GM drum note fastdrum knows
        (:data:`NOTE_TO_INSTRUMENT`), velocity ``v / 127``.

    Raises
    ------
    MidiError
        If the file is not a readable MIDI file (or is type 2).

    Examples
    --------
    >>> [(h.time, h.instrument, round(h.velocity, 2)) for h in read_midi(to_midi("sd=..X.", bpm=60))]
    [(2.0, 'snare', 1.0)]
    """
    mid = _load(path_or_midi)
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel <= 15):
        raise MidiError(f"channel must be None or an integer in [0, 15] (9 is GM drums), got {channel!r}")
    if mid.type == 2:
        raise MidiError(f"MIDI file {getattr(mid, 'filename', None)!r} is type 2 (asynchronous tracks), "
                        "which has no single timeline")
    hits = []
    t = 0.0
    try:
        for msg in mid:  # merged tracks, msg.time in seconds
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0 and (channel is None or msg.channel == channel):
                inst = NOTE_TO_INSTRUMENT.get(msg.note)
                if inst is not None:
                    hits.append(Hit(t, inst, msg.velocity / 127.0))
    except (ValueError, KeyError, TypeError) as exc:
        raise MidiError(f"cannot read MIDI file {getattr(mid, 'filename', None)!r}: {exc}") from None
    return hits


def render_midi(path_or_midi, kit, *, channel=DRUM_CHANNEL, seed=None, no_repeat=False,
                stereo=False, pan=None, gain=None, post=True, substitute=True):
    """Play a MIDI file's drum notes with a kit.

    Parameters
    ----------
    path_or_midi : str, os.PathLike or mido.MidiFile
    kit : fastdrum.kit.Kit
    channel : int or None
        See :func:`read_midi`.
    seed, no_repeat, stereo, pan, gain, post, substitute
        See :func:`fastdrum.sequencer.mix`.

    Returns
    -------
    y : ndarray of float32, shape (T,) or (2, T)
        At ``kit.sr``, as long as the MIDI file plus the last clip's tail.

    Raises
    ------
    MidiError
        If the file has no drum notes fastdrum can play.

    Examples
    --------
    >>> from fastdrum.kit import Kit
    >>> kit = Kit({"kick": [np.r_[1.0, np.zeros(9)]]}, sr=1000)
    >>> y = render_midi(to_midi("kick=x.x.", bpm=120), kit, post=False)
    >>> np.flatnonzero(y).tolist()   # two beats apart at 120 BPM: 1 s
    [0, 1000]
    """
    mid = _load(path_or_midi)
    hits = read_midi(mid, channel=channel)
    if not hits:
        raise MidiError(f"MIDI file {getattr(mid, 'filename', None)!r} has no drum notes on "
                        f"{'any channel' if channel is None else f'channel {channel + 1}'} "
                        f"(GM notes {sorted(NOTE_TO_INSTRUMENT)})")
    length = round(mid.length * kit.sr)
    return mix(hits, kit, length=length, seed=seed, no_repeat=no_repeat, stereo=stereo, pan=pan,
               gain=gain, post=post, substitute=substitute)
