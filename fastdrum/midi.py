"""General MIDI drum files: write a pattern as a ``.mid``, or play a MIDI file's drums with a kit.

Drums are on MIDI channel 10 (``channel=9`` in mido, which counts from 0),
one note per instrument (:data:`fastdrum.instruments.INSTRUMENTS`: 36 kick,
38 snare, 42 closed hi-hat, 46 open hi-hat, 39 clap, 41/45/48 toms, 49 crash,
51 ride). Reading also accepts the neighbouring GM drum notes
(:data:`fastdrum.instruments.NOTE_TO_INSTRUMENT`, e.g. 35 kick, 40 snare, 44 pedal hi-hat).

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

from . import _checks, _io
from .errors import MidiError, PatternError
from .instruments import INSTRUMENTS, NOTE_TO_INSTRUMENT
from .sequencer import Hit, as_pattern, mix, schedule

__all__ = [
    "DRUM_CHANNEL",
    "MAX_MIDI_BYTES",
    "MAX_TEMPO_CHANGES",
    "to_midi",
    "write_midi",
    "read_midi",
    "render_midi",
]

#: mido's (0-based) number of General MIDI's percussion channel 10.
DRUM_CHANNEL = 9


def to_midi(
    pattern,
    *,
    bpm=None,
    bars=1,
    swing=None,
    humanize_time=0.0,
    humanize_velocity=0.0,
    seed=None,
    ticks_per_beat=480,
):
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

    pattern = as_pattern(pattern)
    bpm = _checks.pattern_bpm(bpm, pattern, error=PatternError)
    tpb = _checks.integer("ticks_per_beat", ticks_per_beat, lo=24, hi=32767, error=MidiError)
    hits = schedule(
        pattern,
        bpm=bpm,
        bars=bars,
        swing=swing,
        humanize_time=humanize_time,
        humanize_velocity=humanize_velocity,
        seed=seed,
    )
    note_len = max(1, round(tpb / pattern.steps_per_beat / 2))
    events = []  # (tick, order, message): note-offs sort before note-ons at the same tick
    for h in hits:
        tick = round(h.time * bpm / 60.0 * tpb)
        note = INSTRUMENTS[h.instrument]
        vel = int(np.clip(round(127 * h.velocity), 1, 127))
        events.append(
            (tick, 1, mido.Message("note_on", channel=DRUM_CHANNEL, note=note, velocity=vel))
        )
        events.append(
            (
                tick + note_len,
                0,
                mido.Message("note_off", channel=DRUM_CHANNEL, note=note, velocity=0),
            )
        )
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


#: Bounds on reading a MIDI file, checked before the data they bound is read:
#: the file's size, and the number of tempo changes (drum notes kept are bounded
#: by :data:`fastdrum.sequencer.MAX_HITS`, its length by ``MAX_SECONDS``).
MAX_MIDI_BYTES = 16 * 2**20
MAX_TEMPO_CHANGES = 100_000

_SMPTE_FPS = {24: 24.0, 25: 25.0, 29: 29.97, 30: 30.0}


def _midi_bytes(path_or_midi):
    """(bytes, name) of a MIDI file path or a mido.MidiFile, the size bounded before reading."""
    import io

    import mido

    if isinstance(path_or_midi, mido.MidiFile):
        name = getattr(path_or_midi, "filename", None)
        buf = io.BytesIO()
        try:
            path_or_midi.save(file=buf)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise MidiError(f"cannot write the MIDI object {name!r} out: {exc}") from None
        return buf.getvalue(), name
    if not isinstance(path_or_midi, (str, bytes, os.PathLike)):
        raise MidiError(f"expected a MIDI file path or a mido.MidiFile, got {path_or_midi!r}")
    path = _io.check_regular_file(path_or_midi, "MIDI file")
    size = os.path.getsize(path)
    if size > MAX_MIDI_BYTES:
        raise MidiError(
            f"MIDI file {path!r} is {size} bytes, more than the limit of {MAX_MIDI_BYTES}"
        )
    with open(path, "rb") as f:
        data = f.read(size + 1)  # (read(n) allocates n bytes first)
    if len(data) > MAX_MIDI_BYTES:
        raise MidiError(f"MIDI file {path!r} is more than the limit of {MAX_MIDI_BYTES} bytes")
    return data, path


class _Reader:
    """Standard MIDI File events, every field's length checked against what is left."""

    def __init__(self, data, name):
        self.data, self.name = data, name

    def fail(self, pos, what):
        raise MidiError(f"cannot read MIDI file {self.name!r}: {what} (at byte {pos})")

    def vlq(self, pos, end):
        """A variable-length quantity (at most 4 bytes, as the standard says) -> (value, new pos)."""
        value = 0
        for i in range(4):
            if pos + i >= end:
                self.fail(pos, "the track ends inside a variable-length number")
            b = self.data[pos + i]
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                return value, pos + i + 1
        self.fail(pos, "a variable-length number longer than 4 bytes")

    def track(self, pos, end, keep, tempos):
        """Walk one MTrk chunk's events; `keep(tick, status, note, velocity)`, tempos += (tick, us).

        Returns the tick of its last event.
        """
        data = self.data
        tick, status = 0, None
        while pos < end:
            delta, pos = self.vlq(pos, end)
            tick += delta
            if pos >= end:
                self.fail(pos, "the track ends after a delta time, before its event")
            b = data[pos]
            if b == 0xFF:  # meta event: type, length, data
                if pos + 1 >= end:
                    self.fail(pos, "the track ends inside a meta event")
                kind = data[pos + 1]
                length, start = self.vlq(pos + 2, end)
                if start + length > end:
                    self.fail(pos, f"a meta event of {length} bytes runs past the end of its track")
                if kind == 0x51:
                    us = int.from_bytes(data[start : start + length], "big")
                    if length != 3 or us == 0:
                        self.fail(pos, f"a bad tempo event ({length} bytes, {us} us a beat)")
                    if len(tempos) >= MAX_TEMPO_CHANGES:
                        self.fail(pos, f"more than {MAX_TEMPO_CHANGES} tempo changes")
                    tempos.append((tick, us))
                pos = start + length
                status = None
                if kind == 0x2F:  # end of track
                    break
            elif b in (0xF0, 0xF7):  # system exclusive: length, data
                length, start = self.vlq(pos + 1, end)
                if start + length > end:
                    self.fail(
                        pos,
                        f"a system-exclusive event of {length} bytes runs past the end of its track",
                    )
                pos, status = start + length, None
            else:
                if b & 0x80:
                    if b >= 0xF0:
                        self.fail(pos, f"status byte 0x{b:02X} has no place in a MIDI file")
                    status, pos = b, pos + 1
                elif status is None:
                    self.fail(pos, f"data byte 0x{b:02X} without a status byte")
                n = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                if pos + n > end:
                    self.fail(pos, "the track ends inside a channel message")
                args = data[pos : pos + n]
                if any(a & 0x80 for a in args):
                    self.fail(pos, f"a data byte above 127 in a channel message ({args.hex()})")
                if status & 0xF0 == 0x90 and args[1] > 0:
                    keep(tick, status & 0x0F, args[0], args[1])
                pos += n
        return tick


def _parse(data, name, channel):
    """(ticks, notes, velocities, tempo ticks, tempos, division, end tick) of the drum notes kept."""
    from array import array

    from .sequencer import MAX_HITS

    r = _Reader(data, name)
    if not data:
        r.fail(0, "the file is empty")
    if not b"MThd".startswith(data[:4]):
        r.fail(0, "no MThd header (not a Standard MIDI File)")
    if len(data) < 14:
        r.fail(len(data), "the file ends early, inside its header")
    hlen = int.from_bytes(data[4:8], "big")
    if hlen < 6 or 8 + hlen > len(data):
        r.fail(4, f"a header of {hlen} bytes (6 expected, {len(data) - 8} in the file)")
    fmt, ntracks, division = (int.from_bytes(data[i : i + 2], "big") for i in (8, 10, 12))
    if fmt == 2:
        raise MidiError(
            f"MIDI file {name!r} is type 2 (asynchronous tracks), which has no single timeline"
        )
    if fmt > 2:
        r.fail(8, f"unknown MIDI file type {fmt}")
    if division & 0x8000:
        fps = 256 - (division >> 8)
        if fps not in _SMPTE_FPS or not division & 0xFF:
            r.fail(12, f"a bad SMPTE time division 0x{division:04X}")
    elif division == 0:
        r.fail(12, "ticks per beat of 0")
    ticks, notes, vels = array("q"), array("B"), array("B")
    tempos = []

    def keep(tick, ch, note, vel):
        if (channel is None or ch == channel) and note in NOTE_TO_INSTRUMENT:
            if len(ticks) >= MAX_HITS:
                r.fail(pos, f"more than {MAX_HITS} drum notes")
            ticks.append(tick)
            notes.append(note)
            vels.append(vel)

    pos, found, last = 8 + hlen, 0, 0
    while pos + 8 <= len(data) and found < ntracks:
        kind, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        if pos + 8 + length > len(data):
            r.fail(
                pos,
                f"the file ends early: chunk {bytes(kind)!r} claims {length} bytes, "
                f"{len(data) - pos - 8} are left",
            )
        if kind == b"MTrk":
            found += 1
            last = max(last, r.track(pos + 8, pos + 8 + length, keep, tempos))
        pos += 8 + length
    if found < ntracks:
        r.fail(pos, f"the file ends after {found} of the {ntracks} tracks its header declares")
    return ticks, notes, vels, tempos, division, last


def _seconds(ticks, tempos, division):
    """Tick positions -> seconds, through the tempo map (default 120 BPM), as mido computes them."""
    ticks = np.asarray(ticks, dtype=np.float64)
    if division & 0x8000:  # SMPTE: a fixed number of ticks a second
        return ticks / (_SMPTE_FPS[256 - (division >> 8)] * (division & 0xFF))
    order = sorted(
        range(len(tempos)), key=lambda i: tempos[i][0]
    )  # stable: track order at equal ticks
    at = np.array([0] + [tempos[i][0] for i in order], dtype=np.float64)
    us = np.array([500_000] + [tempos[i][1] for i in order], dtype=np.float64)
    sec_per_tick = us / 1e6 / division
    start = np.concatenate([[0.0], np.cumsum(np.diff(at) * sec_per_tick[:-1])])
    seg = np.searchsorted(at, ticks, side="right") - 1
    return start[seg] + (ticks - at[seg]) * sec_per_tick[seg]


def read_midi(path_or_midi, *, channel=DRUM_CHANNEL, with_length=False):
    """The drum hits of a MIDI file, in seconds (tempo changes honoured).

    The file is read once, by fastdrum's own reader of Standard MIDI Files,
    which checks the length of every field before it reads it (variable-length
    numbers of at most 4 bytes, chunks and events inside the file), and keeps
    only the drum notes asked for: memory grows with the notes kept, never
    with the rest of the file.

    Parameters
    ----------
    path_or_midi : str, os.PathLike or mido.MidiFile
    channel : int or None, default 9
        Channel to read (mido numbering: 9 is GM channel 10); None for all.
    with_length : bool, default False
        Also return the file's length in seconds (to its last event).

    Returns
    -------
    hits : list of fastdrum.sequencer.Hit
        One per note-on with a GM drum note fastdrum knows
        (:data:`fastdrum.instruments.NOTE_TO_INSTRUMENT`), velocity ``v / 127``.
    length : float
        Only if `with_length`.

    Raises
    ------
    MidiError
        If the file is not a readable MIDI file (or is type 2), or passes a
        bound: :data:`MAX_MIDI_BYTES`, :data:`MAX_TEMPO_CHANGES`,
        :data:`fastdrum.sequencer.MAX_HITS` notes kept,
        :data:`fastdrum.sequencer.MAX_SECONDS` long.

    Examples
    --------
    >>> [(h.time, h.instrument, round(h.velocity, 2)) for h in read_midi(to_midi("sd=..X.", bpm=60))]
    [(2.0, 'snare', 1.0)]
    """
    from .sequencer import MAX_SECONDS

    if channel is not None:
        _checks.integer("channel (or None; 9 is GM drums)", channel, lo=0, hi=15, error=MidiError)
    data, name = _midi_bytes(path_or_midi)
    ticks, notes, vels, tempos, division, last = _parse(data, name, channel)
    length = float(_seconds([last], tempos, division)[0])
    if length > MAX_SECONDS:
        raise MidiError(
            f"MIDI file {name!r} lasts {length:.0f} s, more than the limit of {MAX_SECONDS} s"
        )
    order = np.argsort(np.asarray(ticks, dtype=np.int64), kind="stable")
    times = _seconds(np.asarray(ticks, dtype=np.int64)[order], tempos, division)
    hits = [
        Hit(float(t), NOTE_TO_INSTRUMENT[notes[i]], vels[i] / 127.0)
        for t, i in zip(times, order.tolist())
    ]
    return (hits, length) if with_length else hits


def render_midi(
    path_or_midi,
    kit,
    *,
    channel=DRUM_CHANNEL,
    seed=None,
    no_repeat=False,
    stereo=False,
    pan=None,
    gain=None,
    post=True,
    substitute=True,
):
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
    hits, seconds = read_midi(path_or_midi, channel=channel, with_length=True)
    if not hits:
        name = getattr(path_or_midi, "filename", path_or_midi)
        raise MidiError(
            f"MIDI file {os.fspath(name) if name is not None else None!r} has no drum notes on "
            f"{'any channel' if channel is None else f'channel {channel + 1}'} "
            f"(GM notes {sorted(NOTE_TO_INSTRUMENT)})"
        )
    length = round(seconds * kit.sr)
    return mix(
        hits,
        kit,
        length=length,
        seed=seed,
        no_repeat=no_repeat,
        stereo=stereo,
        pan=pan,
        gain=gain,
        post=post,
        substitute=substitute,
    )
