"""General MIDI drum files: notes land on the right ticks and, played back, on the right samples."""

import os

import mido
import numpy as np
import pytest

from fastdrum import FastDrumError, MidiError, OutputExistsError
from fastdrum.instruments import INSTRUMENTS
from fastdrum.kit import Kit
from fastdrum.midi import DRUM_CHANNEL, read_midi, render_midi, to_midi, write_midi
from fastdrum.sequencer import Hit, Pattern

SR = 16000


def note_ons(mid):
    """(absolute tick, channel, note, velocity) of every note-on."""
    out = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                out.append((tick, msg.channel, msg.note, msg.velocity))
    return sorted(out)


@pytest.mark.parametrize("swing", [0.0, 0.25, 0.5])
@pytest.mark.parametrize("tpb", [96, 480])
def test_notes_land_on_the_right_ticks(swing, tpb):
    p = Pattern.parse("kick=X...x...X...x...,snare=....X.......X..o,hihat=xxxxxxxxxxxxxxxx")
    mid = to_midi(p, bpm=100, bars=2, swing=swing, ticks_per_beat=tpb)
    expected = []
    for bar in range(2):
        for i in range(16):
            k = bar * 16 + i
            tick = round((k + swing * (k % 2)) * tpb / 4)
            for inst, row in p.tracks.items():
                if row[i] > 0:
                    expected.append((tick, 9, INSTRUMENTS[inst], max(1, round(127 * row[i]))))
    assert note_ons(mid) == sorted(expected)
    assert mid.ticks_per_beat == tpb and mid.type == 0


def test_midi_file_has_tempo_time_signature_and_ends_after_the_last_bar():
    mid = to_midi("kick=x...x...x...x...", bpm=93.5, bars=3)
    metas = {m.type: m for m in mid.tracks[0] if m.is_meta}
    assert metas["set_tempo"].tempo == mido.bpm2tempo(93.5)
    assert (metas["time_signature"].numerator, metas["time_signature"].denominator) == (4, 4)
    assert sum(m.time for m in mid.tracks[0]) == 3 * 4 * 480  # 3 bars of 4 beats
    offs = [m for m in mid.tracks[0] if m.type == "note_off"]
    assert len(offs) == 12 and all(m.channel == DRUM_CHANNEL for m in offs)


def test_write_then_read_gives_the_scheduled_hits(tmp_path):
    path = tmp_path / "beat.mid"
    write_midi(path, "house", bpm=124, bars=2)
    hits = read_midi(path)
    p = Pattern.preset("house")
    step = 60 / 124 / 4
    expected = sorted(
        (bar * 16 + i) * step
        for bar in range(2)
        for row in p.tracks.values()
        for i in np.flatnonzero(row)
    )
    np.testing.assert_allclose(sorted(h.time for h in hits), expected, atol=1e-6)
    assert {h.instrument for h in hits} == {"kick", "snare", "hihat"}


def test_read_honours_tempo_changes_channels_and_gm_aliases(tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=100)
    tempo = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500000, time=0),  # 120 BPM
            mido.MetaMessage("set_tempo", tempo=1000000, time=200),
        ]
    )  # 60 BPM from beat 2
    notes = mido.MidiTrack(
        [
            mido.Message(
                "note_on", channel=9, note=35, velocity=127, time=0
            ),  # acoustic bass drum -> kick
            mido.Message(
                "note_on", channel=9, note=40, velocity=64, time=100
            ),  # electric snare at 0.5 s
            mido.Message(
                "note_on", channel=0, note=36, velocity=100, time=0
            ),  # piano channel: ignored
            mido.Message(
                "note_on", channel=9, note=44, velocity=50, time=200
            ),  # pedal hat at 1.0 + 1.0 s
            mido.Message(
                "note_on", channel=9, note=81, velocity=50, time=0
            ),  # triangle: not played
            mido.Message(
                "note_on", channel=9, note=44, velocity=0, time=10
            ),  # a note-off as velocity 0
        ]
    )
    mid.tracks += [tempo, notes]
    path = tmp_path / "t.mid"
    mid.save(path)
    hits = read_midi(path)
    assert [(round(h.time, 9), h.instrument, round(h.velocity * 127)) for h in hits] == [
        (0.0, "kick", 127),
        (0.5, "snare", 64),
        (2.0, "hihat", 50),
    ]
    assert len(read_midi(path, channel=None)) == 4


def test_render_midi_places_hits_on_the_right_samples():
    clip = np.r_[1.0, np.zeros(31)]
    kit = Kit({"kick": [clip], "snare": [clip]}, SR)
    mid = to_midi("kick=x...x...,snare=..x...x.", bpm=110, swing=0.3)
    y = render_midi(mid, kit, post=False)
    step = 60 / 110 / 2  # 8 steps a bar: eighth notes
    expected = sorted(round((k + 0.3 * (k % 2)) * step * SR) for k in (0, 2, 4, 6))
    assert np.flatnonzero(y).tolist() == expected
    assert len(y) == round(mid.length * SR)


def test_bad_midi_files(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"this is not a midi file")
    with pytest.raises(MidiError, match="bad.mid") as info:
        read_midi(bad)
    assert isinstance(info.value, FastDrumError)
    with pytest.raises(FileNotFoundError, match="nope.mid"):
        read_midi(tmp_path / "nope.mid")
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=0, note=60, velocity=9)]))
    with pytest.raises(MidiError, match="no drum notes"):
        render_midi(empty, Kit({"kick": [np.ones(3)]}, SR))
    with pytest.raises(MidiError, match="16"):
        read_midi(empty, channel=16)


def test_write_midi_is_atomic_and_refuses_to_overwrite(tmp_path, monkeypatch):
    path = tmp_path / "a.mid"
    write_midi(path, "techno")
    with pytest.raises(OutputExistsError, match="a.mid"):
        write_midi(path, "house")
    write_midi(path, "house", overwrite=True)
    assert Hit(0.0, "kick", 1.0) in read_midi(path)

    def interrupted(self, filename=None, file=None):
        file.write(b"MThd")
        raise KeyboardInterrupt

    monkeypatch.setattr(mido.MidiFile, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_midi(tmp_path / "b.mid", "house")
    assert os.listdir(tmp_path) == ["a.mid"]
