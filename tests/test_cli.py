"""The fastdrum command, driven through main([...]) with tiny random model files."""

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import mido
import numpy as np
import pytest
import soundfile as sf
from conftest import TINY_DRUMS

import fastdrum
from fastdrum import _io
from fastdrum.cli import main
from fastdrum.instruments import INSTRUMENTS
from fastdrum.kit import Kit
from fastdrum.midi import write_midi
from fastdrum.sequencer import Pattern
from fastdrum.testing import random_model

SR = 16000
CLIP = 0.01  # seconds per generated clip


@pytest.fixture
def models(tmp_path):
    """Model files for kick, snare and hi-hat, and the CLI options that use them."""
    d = tmp_path / "models"
    d.mkdir()
    opts = ["--backend", "numpy", "--quiet"]
    for i, name in enumerate(["kick", "snare", "hihat"]):
        path = d / f"{name}.npz"
        random_model(seed=i, instrument=name, clip_duration=CLIP, primers=2).save(path)
        opts += ["--model", f"{name}={path}"]
    return opts


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def grid_samples(bars, steps, bpm, steps_per_beat, sr=SR):
    return round(bars * steps * 60 / bpm / steps_per_beat * sr)


# -- beat ---------------------------------------------------------------------------------
def test_beat_with_nothing_else_renders_a_house_beat(models, out):
    path = out / "beat.wav"
    assert main(["beat", "-o", str(path), *models]) == 0
    y, sr = sf.read(path, dtype="float32")
    grid = grid_samples(4, 16, 124.0, 4)  # house: 124 BPM; 4 bars by default
    assert sr == SR and y.ndim == 1
    assert grid <= len(y) <= grid + round(CLIP * SR)
    assert 0.5 < abs(y).max() <= 1.0


def test_without_model_options_the_shipped_models_are_used_by_name(
    shipped_folder, out, monkeypatch
):
    """Stand-in shipped models (the real ones are large): the command must ask for them by name."""
    import fastdrum.model

    for i, name in enumerate(["kick", "snare", "hihat", "clap"]):
        random_model(seed=i, instrument=name, clip_duration=CLIP).save(
            shipped_folder / f"{name}.npz"
        )
    asked = []
    real_load = fastdrum.model.load_model

    def load_shipped(name, **kwargs):
        asked.append(name)
        return real_load(name, **kwargs)

    monkeypatch.setattr(fastdrum.model, "load_model", load_shipped)  # as_model loads names with it
    assert main(["beat", "-o", str(out / "b.wav"), "--backend", "numpy", "-q", "--bars", "1"]) == 0
    assert sorted(asked) == [
        "hihat",
        "kick",
        "snare",
    ]  # house plays these three, nothing else is generated
    asked.clear()
    assert main(["kit", "-o", str(out / "kit"), "-n", "1", "--backend", "numpy", "-q"]) == 0
    assert sorted(asked) == ["clap", "hihat", "kick", "snare"]  # a kit has every shipped instrument
    assert Kit.load(out / "kit").instruments == ["kick", "snare", "hihat", "clap"]


#: One hit of every instrument of the drum machine.
EVERY_INSTRUMENT = ",".join(
    f"{inst}={'.' * (i % 4)}x{'.' * (3 - i % 4)}" for i, inst in enumerate(INSTRUMENTS)
)


def test_a_conditioned_models_file_name_is_no_instrument_and_the_error_says_what_to_name(
    shipped_folder, out, capsys
):
    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    capsys.readouterr()
    assert main(["kit", "--instruments", "drums", "-o", str(out / "k"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'drums' is a model of 10 voices, not one instrument" in err
    assert "--instruments kick,snare" in err and "pass voice=" not in err
    assert not os.path.exists(out / "k")


def test_a_shipped_conditioned_model_plays_every_instrument_with_its_own_voice(
    shipped_folder, out, monkeypatch
):
    """A conditioned drums.npz ships (as fastdrum/models/drums.npz does): kit and beat play each
    instrument with its own voice, at that voice's settings; "drums" itself is no instrument, and
    nothing borrows another instrument's clips."""
    import fastdrum._generate

    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    voices = []  # the voice each generate() call made
    real = fastdrum._generate.generate

    def generate(model, *args, **kwargs):
        voices.append(kwargs.get("voice") or model.default_voice)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(fastdrum._generate, "generate", generate)
    opts = ["--backend", "numpy", "-q", "--seed", "3", "--no-post"]
    assert main(["kit", "-o", str(out / "kit"), "-n", "2", *opts]) == 0
    assert sorted(voices) == sorted(INSTRUMENTS)  # one call per voice, none for "drums"
    kit = Kit.load(out / "kit")
    assert kit.instruments == list(INSTRUMENTS)
    drums = fastdrum.load_model(TINY_DRUMS)
    for inst in INSTRUMENTS:  # each voice's own clip length (meta["voices"]), else the model's
        duration = drums.with_voice(inst).duration
        assert [len(c) for c in kit[inst]] == [round(duration * drums.sample_rate)] * 2, inst
    voices.clear()
    beat = ["beat", "-o", str(out / "b.wav"), "--pattern", EVERY_INSTRUMENT, "--bars", "1"]
    assert main([*beat, *opts]) == 0
    assert sorted(voices) == sorted(INSTRUMENTS)  # each instrument from its own voice
    y, sr = sf.read(out / "b.wav", dtype="float32")
    assert sr == drums.sample_rate and np.abs(y).max() > 0


@pytest.mark.parametrize("bpm, bars", [(120.0, 2), (97.3, 3)])
def test_beat_length_is_exact_for_bpm_and_bars(models, out, bpm, bars):
    pattern = "kick=x...x...x...x...,snare=....x.......x...,hihat=..x...x...x...x."
    path = out / "b.wav"
    assert (
        main(
            [
                "beat",
                "-o",
                str(path),
                "--pattern",
                pattern,
                "--bpm",
                str(bpm),
                "--bars",
                str(bars),
                "--seed",
                "1",
                *models,
            ]
        )
        == 0
    )
    last_onset = round(((bars - 1) * 16 + 14) * 60 / bpm / 4 * SR)  # the last hi-hat
    grid = grid_samples(bars, 16, bpm, 4)
    assert sf.info(path).frames == max(grid, last_onset + round(CLIP * SR))
    assert (
        main(
            [
                "beat",
                "-o",
                str(path),
                "--pattern",
                pattern,
                "--bpm",
                str(bpm),
                "--bars",
                str(bars),
                "--no-tail",
                "--force",
                *models,
            ]
        )
        == 0
    )
    assert sf.info(path).frames == grid


def test_steps_per_beat_and_humanise_options(models, out):
    path = out / "s.wav"
    assert (
        main(
            [
                "beat",
                "-o",
                str(path),
                "--pattern",
                "kick=x...x...",
                "--steps-per-beat",
                "4",
                "--bars",
                "1",
                "--bpm",
                "120",
                "--no-tail",
                *models,
            ]
        )
        == 0
    )
    assert sf.info(path).frames == grid_samples(1, 8, 120.0, 4)
    assert (
        main(
            [
                "beat",
                "-o",
                str(path),
                "--pattern",
                "house",
                "--steps-per-beat",
                "2",
                "--bars",
                "1",
                "--bpm",
                "120",
                "--no-tail",
                "--force",
                "--humanize-time",
                "3",
                "--humanize-velocity",
                "0.1",
                *models,
            ]
        )
        == 0
    )
    assert sf.info(path).frames == grid_samples(1, 16, 120.0, 2)


def test_beat_seed_repeats_and_options_apply(models, out):
    args = ["--pattern", "hip-hop", "--bars", "1", "--seed", "42", *models]
    assert main(["beat", "-o", str(out / "a.wav"), *args]) == 0
    assert main(["beat", "-o", str(out / "b.wav"), *args]) == 0
    assert (
        main(
            [
                "beat",
                "-o",
                str(out / "c.flac"),
                "--stereo",
                "--sample-rate",
                "22050",
                "--no-post",
                "--swing",
                "0.2",
                *args,
            ]
        )
        == 0
    )
    a, _ = sf.read(out / "a.wav")
    b, _ = sf.read(out / "b.wav")
    np.testing.assert_array_equal(a, b)
    info = sf.info(out / "c.flac")
    assert info.format == "FLAC" and info.channels == 2 and info.samplerate == 22050


def test_pan_and_level_options(models, out):
    base = [
        "--pattern",
        "kick=x...,hihat=..x.",
        "--bars",
        "1",
        "--seed",
        "0",
        "--stereo",
        "--no-post",
        "--bpm",
        "60",
        *models,
    ]
    assert (
        main(["beat", "-o", str(out / "a.wav"), "--pan", "hihat=-1", "--level", "kick=-120", *base])
        == 0
    )
    y, _ = sf.read(out / "a.wav")
    kick = y[:SR]  # the kick's beat: muted
    hat = y[2 * SR : 3 * SR]  # the hi-hat's beat: hard left
    assert abs(kick).max() < 1e-5 and abs(hat[:, 0]).max() > 0.1 and abs(hat[:, 1]).max() < 1e-5


def test_beat_no_repeat_generates_a_clip_per_hit(models, out):
    assert (
        main(
            [
                "beat",
                "-o",
                str(out / "a.wav"),
                "--pattern",
                "kick=xxxxxxxxxxxxxxxx",
                "--bars",
                "2",
                "--no-repeat",
                "--no-post",
                "--seed",
                "3",
                *models,
            ]
        )
        == 0
    )
    assert sf.info(out / "a.wav").frames >= grid_samples(2, 16, 120.0, 4)


def test_beat_from_a_midi_file(models, out):
    mid = out / "in.mid"
    write_midi(mid, "breakbeat", bpm=140, bars=1)
    path = out / "m.wav"
    assert main(["beat", "-o", str(path), "--midi", str(mid), "--seed", "0", *models]) == 0
    length = round(mido.MidiFile(mid).length * SR)
    assert length <= sf.info(path).frames <= length + round(CLIP * SR)


def test_beat_writes_midi(models, out):
    assert main(["beat", "-o", str(out / "p.mid"), "--pattern", "techno", "--bars", "2"]) == 0
    mid = mido.MidiFile(out / "p.mid")
    assert sum(1 for m in mid if m.type == "note_on" and m.velocity > 0) == 2 * sum(
        int(np.count_nonzero(r)) for r in Pattern.preset("techno").tracks.values()
    )
    assert (
        main(
            [
                "beat",
                "-o",
                str(out / "q.wav"),
                "--midi-out",
                str(out / "q.mid"),
                "--bars",
                "1",
                *models,
            ]
        )
        == 0
    )
    assert os.path.isfile(out / "q.wav") and os.path.isfile(out / "q.mid")


def test_beat_with_a_kit_folder(models, out):
    kit = out / "kit"
    assert main(["kit", "-o", str(kit), "-n", "2", "--seed", "0", *models]) == 0
    assert (
        main(
            [
                "beat",
                "-o",
                str(out / "k.wav"),
                "--kit",
                str(kit),
                "--pattern",
                "rock",
                "--bars",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    assert sf.info(out / "k.wav").frames >= grid_samples(1, 16, 110.0, 4)


# -- kit, generate, info, plot -------------------------------------------------------------
def test_kit_writes_clips_sfz_and_drumkit_xml(models, out):
    kit = out / "mykit"
    assert main(["kit", "-o", str(kit), "-n", "3", "--format", "flac", "--seed", "0", *models]) == 0
    files = sorted(os.listdir(kit))
    assert "mykit.sfz" in files and "drumkit.xml" in files
    assert sum(f.endswith(".flac") for f in files) == 9
    root = ET.parse(kit / "drumkit.xml").getroot()
    for fn in root.iter("{http://www.hydrogen-music.org/drumkit}filename"):
        assert os.path.isfile(kit / fn.text)
    loaded = Kit.load(kit)
    assert {k: len(v) for k, v in loaded.items()} == {"kick": 3, "snare": 3, "hihat": 3}


def test_kit_instruments_option(models, out):
    assert main(["kit", "-o", str(out / "k"), "-n", "1", "--instruments", "kick,hh", *models]) == 0
    assert Kit.load(out / "k").instruments == ["kick", "hihat"]


def test_generate_writes_n_clips(models, out, tmp_path):
    assert (
        main(
            [
                "generate",
                "kick",
                "-n",
                "5",
                "-o",
                str(out / "kicks"),
                "--duration",
                "0.005",
                *models,
            ]
        )
        == 0
    )
    files = sorted(os.listdir(out / "kicks"))
    assert files == [_io.MANIFEST] + [f"kick_{i:03d}.wav" for i in range(5)]
    assert sf.info(out / "kicks" / files[1]).frames == 80
    path = tmp_path / "models" / "snare.npz"
    assert (
        main(["generate", str(path), "-n", "2", "-o", str(out / "s"), "--backend", "numpy", "-q"])
        == 0
    )
    assert sorted(os.listdir(out / "s")) == [_io.MANIFEST, "snare_000.wav", "snare_001.wav"]


def test_generate_epsilon_option_is_the_cutoff_of_generate(out, tmp_path):
    model = tmp_path / "k.npz"
    random_model(seed=4, instrument="kick", clip_duration=CLIP).save(model)
    for eps, name in ((0.3, "cut"), (0.0, "whole")):
        argv = ["generate", str(model), "-n", "3", "-o", str(out / name), "--seed", "7"]
        assert main(argv + ["--epsilon", str(eps), "--backend", "numpy", "--no-post", "-q"]) == 0
    cut = [sf.read(out / "cut" / f"kick_{i:03d}.wav", dtype="float32")[0] for i in range(3)]
    expected = fastdrum.generate(str(model), 3, seed=7, epsilon=0.3, backend="numpy")
    np.testing.assert_allclose(cut, expected, atol=1 / 2**15)  # as written to 16-bit WAV
    whole = [sf.read(out / "whole" / f"kick_{i:03d}.wav", dtype="float32")[0] for i in range(3)]
    assert not np.allclose(whole, cut, atol=1 / 2**15)


def test_info_describes_the_model(tmp_path, capsys):
    path = tmp_path / "m.npz"
    m = random_model(dilations=[1, 2, 4, 8], seed=0, instrument="kick", sample_rate=22050)
    m.save(path)
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert (
        "17 samples (0.77 ms)" in text
        and f"{m.flops_per_sample:,}" in text
        and "Q=32 R=8 D=6 S=10" in text
    )
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["receptive_field_samples"] == 1 + 2 + 4 + 8 + 2 == m.receptive_field
    assert info["flops_per_sample"] == m.flops_per_sample and info["sample_rate"] == 22050
    assert info["parameters"] == sum(w.size for w in m.weights.values())
    assert info["meta"]["instrument"] == "kick"
    assert info["float16_exact"] is False
    m.round_weights().save(path, overwrite=True)
    assert main(["info", str(path)]) == 0
    assert re.search(r"^weight matrices +float16 values", capsys.readouterr().out, re.M)
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["float16_exact"] is True


def test_info_shows_a_format_2_models_voices_and_preemphasis(tmp_path, capsys):
    m = random_model(seed=0, voices=["kick", "snare", "tom_low"], preemphasis=0.85)
    m.save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^format +2$", text, re.M)
    assert re.search(r"^voices +3: kick, snare, tom_low$", text, re.M)
    assert re.search(r"^pre-emphasis +0\.85 ", text, re.M)
    assert main(["info", str(tmp_path / "m.npz"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 2 and info["voices"] == ["kick", "snare", "tom_low"]
    assert info["preemphasis"] == pytest.approx(0.85)
    # a format-1 model has no such rows
    random_model(seed=0).save(tmp_path / "one.npz")
    assert main(["info", str(tmp_path / "one.npz")]) == 0
    assert not re.search(r"^(voices|pre-emphasis) ", capsys.readouterr().out, re.M)


def test_info_shows_a_coefficient_a_voice(tmp_path, capsys):
    m = random_model(seed=0, voices=["kick", "hihat"], preemphasis=[0.85, 0.0])
    m.save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    assert re.search(r"^pre-emphasis +kick 0\.85, hihat 0 \(", capsys.readouterr().out, re.M)
    assert main(["info", str(tmp_path / "m.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["preemphasis"] == pytest.approx([0.85, 0.0])


def test_info_summarises_long_metadata_and_dilation_stacks(tmp_path, capsys):
    m = random_model(dilations=[1, 2, 4, 8, 16, 32] * 3, seed=0, instrument="snare")
    m.meta["data"] = [{"file": f"clip{i}.wav", "sha256": "0" * 64} for i in range(50)]
    m.save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    text = capsys.readouterr().out
    assert "18 (dilations 1, 2, 4, ..., 32 x3)" in text
    assert "(list of 50 entries; see --json)" in text
    assert max(len(line) for line in text.splitlines()) < 130


def test_plot_writes_a_png(models, out):
    pytest.importorskip("matplotlib")
    path = out / "p.png"
    assert main(["plot", "-o", str(path), "-n", "2", "--seed", "0", *models]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_draws_a_voices_own_training_primers_as_audio():
    """Of a conditioned model: the primers of the voice plotted, de-emphasised as its clips are."""
    from fastdrum.cli import _primer_audio
    from fastdrum.mulaw import deemphasis, mu_law_decode

    drums = fastdrum.load_model(TINY_DRUMS)
    own = drums.primers[drums.primer_voices == drums.voices.index("snare")]
    want = deemphasis(mu_law_decode(own[:2], drums.quantization_channels), drums.preemphasis)
    got = _primer_audio(drums.with_voice("snare"), 2)
    assert got.shape == (2, drums.primers.shape[1])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert _primer_audio(drums, 2) is None  # no voice chosen: no voice's primers
    one = random_model(seed=0, primers=3)  # format 1: its primers as they are
    np.testing.assert_array_equal(_primer_audio(one, 2), mu_law_decode(one.primers[:2], 32))


def test_plot_without_matplotlib_is_a_clean_error(models, out, monkeypatch, capsys):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", "-o", str(out / "p.png"), *models]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matplotlib" in err and not os.path.exists(out / "p.png")


# -- bad input: exit 2, one line on stderr -------------------------------------------------
BAD = [
    (["beat", "--pattern", "cowbell=x..."], "'cowbell'"),
    (["beat", "--pattern", "salsa"], "'salsa'"),
    (["beat", "--pattern", "kick=x?.."], "'?'"),
    (["beat", "--pattern", "kick=x...,snare=x.."], "3 steps"),
    (["beat", "--bpm", "0"], "bpm"),
    (["beat", "--bpm", "-120"], "-120"),
    (["beat", "--bpm", "fast"], "'fast'"),
    (["beat", "--bpm", "nan"], "nan"),
    (["beat", "--swing", "1.5"], "1.5"),
    (["beat", "--bars", "0"], "'0'"),
    (["beat", "--format", "mp3"], "'mp3'"),
    (["beat", "--format", "flac"], "does not match"),
    (["beat", "--pan", "hihat=2"], "'hihat=2'"),
    (["beat", "--level", "kick"], "'kick'"),
    (["beat", "--pan", "cowbell=0.5"], "'cowbell'"),
    (["beat", "--bars", "100000", "--bpm", "1"], "limit"),
    (["beat", "--steps-per-beat", "0"], "steps_per_beat"),
    (["beat", "--humanize-velocity", "2"], "humanize_velocity"),
    (["beat", "--humanize-time", "-5"], "--humanize-time"),
    (["beat", "--pattern", ""], "''"),
    (
        [
            "beat",
            "--pattern",
            "kick=xxxxxxxxxxxxxxxx",
            "--no-repeat",
            "--variations",
            "1",
            "--kit",
            "{kit}",
        ],
        "no_repeat needs",
    ),
    (["beat", "--kit", "{missing}"], "missing"),
    (["beat", "--midi", "{missing}", "--pattern", "house"], "cannot be combined"),
    (["beat", "--midi", "{missing}"], "missing"),
    (["beat", "--model", "kick=/no/such/model.npz"], "'/no/such/model.npz'"),
    (["beat", "--model", "kick=nosuchmodel"], "'nosuchmodel'"),
    (
        ["beat", "--pattern", "clap=x..."],
        "'snare'",
    ),  # clap borrows the snare, which has no model here
    (["generate", "cowbell"], "'cowbell'"),
    (["generate", "kick", "--epsilon", "1.5"], "epsilon must be"),
    (["kit", "--epsilon", "-0.1"], "epsilon must be"),
    (["info", "nosuchmodel"], "'nosuchmodel'"),
    (["kit", "--instruments", "kick,cowbell"], "'cowbell'"),
    (["kit", "--instruments", ""], "no instruments"),
    (["info", "{missing}"], "missing"),
    (["kit", "--backend", "gpu"], "'gpu'"),
    (["frobnicate"], "frobnicate"),
]


@pytest.mark.parametrize("argv, match", BAD)
def test_bad_input_exits_2_with_one_line_on_stderr(argv, match, tmp_path, capsys, monkeypatch):
    import fastdrum.model

    monkeypatch.setattr(fastdrum.model, "available_models", lambda: [])  # whatever is shipped
    kit = Kit({"kick": [np.ones(100)]}, SR).export(tmp_path / "kit")
    argv = [a.format(kit=kit, missing=tmp_path / "missing") for a in argv]
    model = tmp_path / "kick.npz"
    random_model(seed=0, instrument="kick", clip_duration=CLIP).save(model)
    extra = []
    if argv[0] in ("beat", "kit", "generate") and "--model" not in argv and "--kit" not in argv:
        extra = ["--model", f"kick={model}", "--backend", "numpy"]
    if argv[0] != "frobnicate" and argv[0] != "info":
        extra += ["-o", str(tmp_path / "o.wav")]
    capsys.readouterr()
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert match in err
    assert not os.path.exists(tmp_path / "o.wav")


def test_unwritable_and_existing_outputs(models, tmp_path, capsys):
    assert main(["beat", "-o", str(tmp_path / "no" / "dir" / "b.wav"), *models]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    existing = tmp_path / "b.wav"
    existing.write_bytes(b"mine")
    assert main(["beat", "-o", str(existing), *models]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and existing.read_bytes() == b"mine"
    assert main(["beat", "-o", str(existing), "--force", "--bars", "1", *models]) == 0
    assert sf.info(existing).frames > 0
    os.mkdir(tmp_path / "kitdir")
    assert main(["kit", "-o", str(tmp_path / "kitdir"), *models]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_ctrl_c_leaves_no_partial_files(models, out, monkeypatch, capsys):
    real = _io.write_audio_data

    def interrupted(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"RIFF partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(_io, "write_audio_data", interrupted)
    assert main(["beat", "-o", str(out / "b.wav"), "--bars", "1", *models]) == 130
    assert main(["kit", "-o", str(out / "kit"), "-n", "2", *models]) == 130
    assert main(["generate", "kick", "-n", "2", "-o", str(out / "g"), *models]) == 130
    assert os.listdir(out) == []
    assert capsys.readouterr().err.count("interrupted") == 3
    monkeypatch.setattr(_io, "write_audio_data", real)


# -- help, version, python -m ----------------------------------------------------------
@pytest.mark.parametrize("sub", [[], ["generate"], ["kit"], ["beat"], ["info"], ["plot"]])
def test_help_everywhere(sub, capsys):
    assert main(sub + ["--help"]) == 0
    assert "usage: fastdrum" in capsys.readouterr().out


def test_python_dash_m_runs_the_same_command():
    r = subprocess.run(
        [sys.executable, "-m", "fastdrum", "--version"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and r.stdout.strip() == f"fastdrum {fastdrum.__version__}"
    r = subprocess.run(
        [sys.executable, "-m", "fastdrum", "beat", "--bpm", "-1", "-o", "x.wav"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_model_option_without_instrument_uses_the_models_own(tmp_path, out, capsys):
    random_model(seed=0, instrument="snare", clip_duration=CLIP).save(tmp_path / "x.npz")
    random_model(seed=0, instrument="random", clip_duration=CLIP).save(tmp_path / "weird.npz")
    base = ["--pattern", "snare=x...", "--bars", "1", "--backend", "numpy", "-q"]
    assert main(["beat", "-o", str(out / "a.wav"), "--model", str(tmp_path / "x.npz"), *base]) == 0
    assert (
        main(["beat", "-o", str(out / "b.wav"), "--model", str(tmp_path / "weird.npz"), *base]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'random'" in err and "INSTRUMENT=" in err


def test_kit_and_beat_guidance_weighs_the_voices_that_recommend_a_negative_voice(
    shipped_folder, out, monkeypatch
):
    """--guidance W (kit, beat): a voice whose model recommends a negative voice is generated at
    weight W away from it (0: none), the others unguided; without it, each voice's default."""
    import fastdrum._generate

    drums = fastdrum.load_model(TINY_DRUMS)
    meta = dict(drums.meta, voices=dict(drums.meta.get("voices", {})))
    meta["voices"]["kick"] = dict(
        meta["voices"].get("kick", {}), negative_voice="snare", guidance=0.5
    )
    drums.meta = meta
    drums.save(shipped_folder / "drums.npz")
    asked = {}
    real = fastdrum._generate.generate

    def generate(model, *args, **kwargs):
        asked[kwargs.get("voice") or model.default_voice] = kwargs.get("guidance")
        return real(model, *args, **kwargs)

    monkeypatch.setattr(fastdrum._generate, "generate", generate)
    opts = ["--backend", "numpy", "-q", "--seed", "3", "--instruments", "kick,snare"]
    for extra, want in (([], None), (["--guidance", "0"], 0.0), (["--guidance", "2"], 2.0)):
        asked.clear()
        target = out / f"kit{len(extra)}{want}"
        assert main(["kit", "-o", str(target), "-n", "1", *opts, *extra]) == 0
        assert asked == {"kick": want, "snare": None}
    asked.clear()
    beat = ["beat", "-o", str(out / "b.wav"), "--pattern", "kick=x...,snare=..x.", "--bars", "1"]
    assert main([*beat, "--backend", "numpy", "-q", "--seed", "3", "--guidance", "0"]) == 0
    assert asked == {"kick": 0.0, "snare": None}
    # the kick's clips follow the weight: 0 is unguided, the default guides
    k0 = Kit.load(out / "kit20.0")["kick"][0]
    kd = Kit.load(out / "kit0None")["kick"][0]
    assert not np.array_equal(k0, kd)
