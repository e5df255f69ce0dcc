"""Memory and time bounded by the input: MIDI files, kit folders, patterns; one-line errors in the CLI."""

import os
import resource
import struct
import subprocess
import sys
import tracemalloc

import mido
import numpy as np
import pytest
import soundfile as sf

from fastdrum import FastDrumWarning, KitError, MidiError
from fastdrum._format import MAX_SAMPLE_RATE
from fastdrum.cli import main
from fastdrum.kit import MAX_CLIP_SECONDS, Kit
from fastdrum.midi import MAX_MIDI_BYTES, read_midi
from fastdrum.sequencer import MAX_HITS, MAX_STEPS, Pattern, PatternError, schedule

SR = 16000


def smf(*tracks, fmt=1, division=96, ntracks=None):
    """A Standard MIDI File from raw track bodies."""
    out = b"MThd" + struct.pack(
        ">IHHH", 6, fmt, len(tracks) if ntracks is None else ntracks, division
    )
    for body in tracks:
        out += b"MTrk" + struct.pack(">I", len(body)) + body
    return out


NOTE = b"\x00\x99\x24\x64"  # delta 0, note on channel 10, kick, velocity 100
END = b"\x00\xff\x2f\x00"


def write(tmp_path, data, name="f.mid"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- MIDI ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data, match",
    [
        (smf(NOTE + END, division=0), "ticks per beat of 0"),
        (
            smf(NOTE + b"\x00\xff\x59\x02\x09\x05" + END),
            None,
        ),  # a bad key signature: ignored, not an error
        (smf(b"\xff\xff\xff\xff\x7f" + NOTE + END), "longer than 4 bytes"),
        (smf(b"\xff" * 1000), "longer than 4 bytes"),
        (
            b"MThd"
            + struct.pack(">IHHH", 6, 1, 1, 96)
            + b"MTrk"
            + struct.pack(">I", 2**32 - 1)
            + NOTE,
            "claims 4294967295 bytes",
        ),
        (b"MThd" + struct.pack(">I", 2**32 - 1) + b"\0" * 6, "a header of 4294967295 bytes"),
        (smf(NOTE + END)[:-3], "ends"),
        (smf(NOTE + END, ntracks=3), "ends after 1 of the 3 tracks"),
        (smf(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + END), "bad tempo"),
        (smf(b"\x00\x24\x64" + END), "without a status byte"),
        (smf(b"\x00\x99\x24\xe4" + END), "above 127"),
        (smf(b"\x00\xf0\x85\x00" + END), "runs past the end"),
        (smf(NOTE + END, fmt=2), "type 2"),
        (b"", "the file is empty"),
        (b"MThd\0\0", "the file ends early"),
        (b"RIFF....", "no MThd"),
    ],
)
def test_bad_midi_files_are_one_midi_error_naming_the_file(data, match, tmp_path):
    path = write(tmp_path, data)
    if match is None:
        assert [h.instrument for h in read_midi(path)] == ["kick"]
        return
    with pytest.raises(MidiError, match=match) as info:
        read_midi(path)
    assert "f.mid" in str(info.value) and "\n" not in str(info.value)


def test_midi_reader_agrees_with_mido_on_tempo_maps_smpte_and_lengths(tmp_path):
    """mido's own timeline (msg.time in seconds, MidiFile.length) is the definition."""
    rng = np.random.default_rng(0)
    for case in range(20):
        mid = mido.MidiFile(type=1, ticks_per_beat=int(rng.integers(24, 960)))
        for _ in range(int(rng.integers(1, 4))):
            track = mido.MidiTrack()
            for _ in range(int(rng.integers(0, 30))):
                delta = int(rng.integers(0, 500))
                if rng.random() < 0.15:
                    track.append(
                        mido.MetaMessage(
                            "set_tempo", tempo=int(rng.integers(200_000, 1_500_000)), time=delta
                        )
                    )
                else:
                    track.append(
                        mido.Message(
                            "note_on",
                            channel=int(rng.choice([9, 9, 0])),
                            note=int(rng.choice([36, 38, 42, 60])),
                            velocity=int(rng.integers(0, 128)),
                            time=delta,
                        )
                    )
            mid.tracks.append(track)
        path = tmp_path / f"{case}.mid"
        mid.save(path)
        expected, now = [], 0.0
        for msg in mido.MidiFile(path):
            now += msg.time
            if (
                msg.type == "note_on"
                and msg.velocity > 0
                and msg.channel == 9
                and msg.note in (36, 38, 42)
            ):
                expected.append((now, msg.note, msg.velocity))
        hits, length = read_midi(path, with_length=True)
        assert len(hits) == len(expected)
        for h, (t, _note, vel) in zip(hits, expected):
            assert h.time == pytest.approx(t, abs=1e-9) and h.velocity == vel / 127
        assert length == pytest.approx(mido.MidiFile(path).length, abs=1e-9)
    smpte = smf(
        b"\x00\x99\x24\x64\x81\x00\x99\x26\x64" + END, division=((256 - 25) << 8) | 40
    )  # 25 fps x 40
    hits = read_midi(write(tmp_path, smpte))
    assert [h.time for h in hits] == [0.0, pytest.approx(128 / 1000)]


def test_midi_bounds_file_size_notes_and_length(tmp_path):
    big = tmp_path / "big.mid"
    with open(big, "wb") as f:
        f.truncate(MAX_MIDI_BYTES + 1)
    with pytest.raises(MidiError, match="more than the limit"):
        read_midi(big)
    many = smf(NOTE * (MAX_HITS + 1) + END)
    tracemalloc.start()
    with pytest.raises(MidiError, match=f"more than {MAX_HITS} drum notes"):
        read_midi(write(tmp_path, many))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * len(many)  # arrays of kept notes, not Python objects for every event
    long = smf(b"\x8f\xff\xff\x7f\x99\x24\x64" * 40 + END)  # 40 deltas of 2**28 - 1 ticks
    with pytest.raises(MidiError, match=r"lasts \d+ s, more than the limit"):
        read_midi(write(tmp_path, long))


def test_midi_that_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.mid")
    with pytest.raises(OSError, match="not a regular file"):
        read_midi(tmp_path / "fifo.mid")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_midi(tmp_path / "nope.mid")


def test_a_hostile_midi_file_is_fast(tmp_path):
    """1 MB of 0xFF delta bytes: refused at the first delta (mido took ~2 minutes of CPU)."""
    path = write(tmp_path, smf(b"\xff" * 2**20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    with pytest.raises(MidiError):
        read_midi(path)
    assert (
        resource.getrusage(resource.RUSAGE_SELF).ru_utime - before < 5.0
    )  # generous: a loaded machine


# -- kits ---------------------------------------------------------------------------------
def test_kit_sample_rates_and_lengths_are_bounded(tmp_path):
    d = tmp_path / "kit"
    d.mkdir()
    sf.write(d / "kick_000.wav", np.zeros(4410), 44100)
    sf.write(
        d / "snare_000.wav", np.zeros(2000), 1
    )  # 2,000 s at 1 Hz: 88 million samples at 44.1 kHz
    with pytest.raises(KitError, match=f"more than a one-shot \\(limits: {MAX_CLIP_SECONDS} s"):
        Kit.load(d)
    with pytest.raises(KitError, match=f"longer than the limit of {MAX_CLIP_SECONDS} s"):
        Kit({"kick": [np.zeros(2000)]}, 1).resample(44100)
    for bad in (0, MAX_SAMPLE_RATE + 1, 2**31 - 1, 1.5, True):
        with pytest.raises(KitError, match=f"sample rate in \\[1, {MAX_SAMPLE_RATE}\\] Hz"):
            Kit({"kick": [np.zeros(10)]}, bad)
    with pytest.raises(KitError, match="sample rate"):
        Kit({"kick": [np.zeros(10)]}, 16000).resample(10**9)
    # an awkward ratio resamples in bounded memory (resample_poly would build 15 million taps)
    kit = Kit({"kick": [np.zeros(1000)]}, 767_999)
    tracemalloc.start()
    out = kit.resample(MAX_SAMPLE_RATE)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(out["kick"][0]) == 1001 and peak < 2**20


def test_short_clips_are_named_in_a_warning(tmp_path):
    d = tmp_path / "kit"
    d.mkdir()
    sf.write(d / "kick_000.wav", np.zeros(4410), 44100)
    sf.write(d / "snare_000.wav", np.zeros(18), 22050)  # a truncated file: 0.8 ms
    with pytest.warns(FastDrumWarning, match=r"'snare_000.wav' \(0.8 ms\)"):
        Kit.load(d)


def test_drumkit_xml_midi_notes_that_are_not_numbers(tmp_path):
    d = tmp_path / "h2"
    d.mkdir()
    sf.write(d / "a.wav", np.zeros(441), 44100)
    for note in ["²", "9" * 5000, "-1", "36.0"]:
        (d / "drumkit.xml").write_text(
            f"""<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info><instrumentList><instrument><name>Boom</name><midiOutNote>{note}</midiOutNote>
<layer><filename>a.wav</filename></layer></instrument></instrumentList></drumkit_info>""",
            encoding="utf-8",
        )
        assert Kit.load(d).instruments == ["boom"]  # the note is ignored, the name decides


# -- patterns and hits --------------------------------------------------------------------
def test_hits_from_arguments_are_counted_before_they_are_made():
    p = Pattern.parse("hh=" + "x" * 100, steps_per_beat=10000)
    tracemalloc.start()
    with pytest.raises(PatternError, match=f"more than the limit of {MAX_HITS}"):
        schedule(p, bpm=10000, bars=100_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2**20
    with pytest.raises(PatternError, match=f"more than the limit of {MAX_STEPS}"):
        Pattern.parse("kick=" + "x" * (MAX_STEPS + 1))


def test_errors_never_echo_a_huge_input(tmp_path, capsys):
    pattern = tmp_path / "nul.txt"
    pattern.write_bytes(b"\0" * 500_000)
    argv = ["beat", "-o", str(tmp_path / "b.wav"), "--pattern", "\0" * 500_000]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 1000


# -- the command: one line, whatever happens --------------------------------------------------
def test_cli_bad_sample_rates_and_midi_are_one_line(tmp_path, capsys):
    from fastdrum.testing import random_model

    model = tmp_path / "kick.npz"
    random_model(seed=0, instrument="kick", clip_duration=0.01).save(model)
    opts = ["--model", f"kick={model}", "--backend", "numpy", "-q"]
    for argv in (
        ["generate", "kick", "-o", str(tmp_path / "g"), "--sample-rate", "1000000000"],
        [
            "beat",
            "-o",
            str(tmp_path / "b.wav"),
            "--midi",
            str(write(tmp_path, smf(NOTE + END, division=0))),
        ],
        ["beat", "-o", str(tmp_path / "b.wav"), "--midi", str(write(tmp_path, b"MThd"))],
        [
            "beat",
            "-o",
            str(tmp_path / "b.wav"),
            "--pattern",
            "hh=" + "x" * 100,
            "--steps-per-beat",
            "10000",
            "--bpm",
            "10000",
            "--bars",
            "100000",
        ],
    ):
        assert main(argv + opts) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert not err.rstrip().endswith(":"), err
    assert os.listdir(tmp_path) == ["kick.npz", "f.mid"]


def test_memory_error_in_the_command_is_one_line(tmp_path, monkeypatch, capsys):
    import fastdrum.model

    def boom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(fastdrum.model, "load_model", boom)
    assert main(["info", "kick"]) == 2
    err = capsys.readouterr().err
    assert err == "fastdrum info: error: out of memory (ask for less: fewer clips, bars or hits)\n"


def test_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    import soundfile

    kit = _tiny_kit(tmp_path)

    def full(*args, **kwargs):
        raise soundfile.LibsndfileError(2)  # SF_ERR_SYSTEM: what libsndfile reports for ENOSPC

    monkeypatch.setattr(soundfile, "write", full)
    assert main(["beat", "-o", str(tmp_path / "b.wav"), "--kit", str(kit), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "System error" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["kit"]


def _tiny_kit(tmp_path):
    return Kit(
        {"kick": [np.ones(200)], "snare": [np.ones(200)], "hihat": [np.ones(200)]}, SR
    ).export(tmp_path / "kit")


@pytest.mark.slow
def test_ctrl_c_while_python_imports_numpy_is_one_line(tmp_path):
    """The command handles signals from its first line, before NumPy (and the rest) is imported."""
    code = (
        "import os, signal, sys\n"
        "from fastdrum import cli\n"
        "real = cli.build_parser\n"
        "def parser():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real()\n"
        "cli.build_parser = parser\n"
        "sys.exit(cli.main(['info', 'kick']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    assert proc.returncode == 130 and proc.stderr == "fastdrum: interrupted\n"
    code = "import sys; import fastdrum.cli; print(sorted({'numpy', 'scipy'} & set(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    assert proc.stdout == "[]\n"  # so nothing slow runs before main() takes over the signals
