"""Tests of training/: data pipeline, Keras network = format 1, checkpoints/resume, errors, TF generator.

Every model here is tiny and trains for a few steps; the audio is synthesised
into tmp_path. Needs the ``train`` extra (TensorFlow, Keras).
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
tf = pytest.importorskip("tensorflow")

from conftest import TOLERANCES  # noqa: E402

import fastdrum  # noqa: E402
from fastdrum.mulaw import mu_law_encode  # noqa: E402
from fastdrum.testing import random_model  # noqa: E402
from training import data as data_mod  # noqa: E402
from training.errors import ConfigError, DataError, ResumeError, TrainingError  # noqa: E402
from training.network import WaveNet, WaveNetConfig, to_fastdrum_model  # noqa: E402
from training.tfgen import TFGenerator  # noqa: E402
from training.train import build_parser, main, parse_dilations, train  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RTOL, ATOL = TOLERANCES[np.float32]

#: A tiny configuration: receptive field 1+2+4+1+2+4+2 = 16 samples.
TINY = [
    "--sample-rate",
    "8000",
    "--clip-duration",
    "0.03",
    "--dilations",
    "1..4x2",
    "--residual-channels",
    "4",
    "--dilation-channels",
    "4",
    "--skip-channels",
    "8",
    "--quantization-channels",
    "32",
    "--batch-size",
    "2",
    "--log-every",
    "2",
]


def hit(sr, seconds, freq, decay, delay=0.0, stereo=False, seed=0):
    """A synthetic drum hit: a decaying sine plus a little noise, after `delay` seconds of silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = (np.sin(2 * np.pi * freq * t) + 0.1 * rng.standard_normal(t.size)) * np.exp(-decay * t)
    y = np.concatenate([np.zeros(int(delay * sr)), y]) * 0.5
    return np.stack([y, 0.5 * y], axis=1) if stereo else y


def write_clips(folder, names, sr=16000, seconds=0.1):
    os.makedirs(folder, exist_ok=True)
    for i, name in enumerate(names):
        soundfile.write(
            os.path.join(folder, name),
            hit(sr, seconds, 80 + 20 * i, 30, delay=0.002 * i, stereo=i % 2 == 1, seed=i),
            sr,
        )
    return folder


KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>{name}</name>
 <license>CC0</license>
 <instrumentList>
{instruments}
 </instrumentList>
</drumkit_info>
"""

INSTRUMENT_XML = """  <instrument>
   <id>{i}</id><name>{name}</name><midiOutNote>{note}</midiOutNote>
   <instrumentComponent><component_id>0</component_id>
{layers}
   </instrumentComponent>
  </instrument>"""


def write_kit(root, name, instruments, sr=16000):
    """A Hydrogen kit folder: `instruments` is a list of (name, midi_note, [sample file names])."""
    kit = os.path.join(root, name)
    os.makedirs(kit, exist_ok=True)
    parts = []
    k = 0
    for i, (iname, note, files) in enumerate(instruments):
        layers = "\n".join(
            f"    <layer><filename>{f}</filename><min>0</min><max>1</max></layer>" for f in files
        )
        parts.append(INSTRUMENT_XML.format(i=i, name=iname, note=note, layers=layers))
        for f in files:
            k += 1
            # Distinct content per kit (identical files are deduplicated by hash).
            seed = sum(map(ord, name)) * 100 + k
            soundfile.write(os.path.join(kit, f), hit(sr, 0.08, 60 + 15 * k, 25, seed=seed), sr)
    with open(os.path.join(kit, "drumkit.xml"), "w", encoding="utf-8") as fh:
        fh.write(KIT_XML.format(name=name, instruments="\n".join(parts)))
    return kit


# ----------------------------------------------------------------------------- data
def test_parse_dilations():
    assert parse_dilations("1..512x2") == [2**i for i in range(10)] * 2
    assert parse_dilations("1,2,4") == [1, 2, 4]
    assert parse_dilations("4..16") == [4, 8, 16]
    for bad in ("1..6", "a,b", "1..4xq", "0,1"):
        with pytest.raises(ConfigError, match="dilations"):
            parse_dilations(bad)


def test_preprocess_aligns_resamples_and_normalises():
    sr_in, sr = 44100, 16000
    delay = 0.05
    y = hit(sr_in, 0.2, 200, 20, delay=delay)
    clip_samples = 1600
    out = data_mod.preprocess(
        y, sr_in, sample_rate=sr, clip_samples=clip_samples, preroll_s=0.0, peak=0.9
    )
    assert out.dtype == np.float32 and out.shape == (int(np.ceil(clip_samples * 1.25)),)
    assert np.abs(out).max() == pytest.approx(0.9, rel=1e-6)
    # The onset (first sample reaching 10% of the peak) is now at index 0.
    assert np.abs(out[0]) >= 0.1 * 0.9 - 1e-6
    # Resampled by the exact ratio: the hit's content sits where the original's does, scaled by sr/sr_in.
    ref = data_mod.resample(y, sr_in, sr)
    start = data_mod.onset(ref, 0.1)
    assert abs(start - delay * sr) <= 2
    np.testing.assert_allclose(
        out[:100], ref[start : start + 100] * (0.9 / np.abs(ref[start:]).max()), atol=1e-6
    )
    fitted = data_mod.fit(out, 500, peak=0.5)
    assert fitted.shape == (500,) and np.abs(fitted).max() == pytest.approx(0.5)
    assert data_mod.preprocess(np.zeros(1000), 16000, sample_rate=16000, clip_samples=100) is None


def test_pitch_shift_changes_frequency():
    sr = 16000
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * 500 * t)
    up = data_mod.pitch_shift(y, 12.0)  # an octave up: half as long, twice the frequency
    assert abs(len(up) - sr / 2) <= 2
    spectrum = np.abs(np.fft.rfft(up[:4000]))
    assert abs(np.argmax(spectrum) * sr / 4000 - 1000) <= 8


def test_kits_select_by_name_and_note_and_write_manifest(tmp_path):
    write_kit(
        tmp_path / "kits",
        "KitA",
        [
            ("Kick", 36, ["k1.wav", "k2.wav"]),
            ("Snare", 38, ["s1.wav"]),
            ("Closed HH", 42, ["h1.wav"]),
            ("Open HH", 46, ["o1.wav"]),
        ],
    )
    # Notes are meaningful here (distinct), so "Thing" (GM note 35) is a kick by its note.
    write_kit(
        tmp_path / "kits", "KitB", [("Thing", 35, ["b1.wav"]), ("Hat Closed", 42, ["b2.wav"])]
    )
    # Every note 60: notes carry no meaning, names decide.
    write_kit(tmp_path / "kits", "KitC", [("Pearl Kick", 60, ["c1.wav"]), ("Tom", 60, ["c2.wav"])])
    clips, info = data_mod.load_clips(
        instrument="kick", sample_rate=8000, clip_samples=400, kit_dirs=[str(tmp_path / "kits")]
    )
    got = sorted((c.entry["kit"], c.entry["instrument"]) for c in clips)
    assert got == [("KitA", "Kick"), ("KitA", "Kick"), ("KitB", "Thing"), ("KitC", "Pearl Kick")]
    hats, _ = data_mod.load_clips(
        instrument="hihat", sample_rate=8000, clip_samples=400, kit_dirs=[str(tmp_path / "kits")]
    )
    assert sorted(c.entry["instrument"] for c in hats) == ["Closed HH", "Hat Closed"]
    for c in clips:
        path = tmp_path / "kits" / c.entry["file"]
        assert c.entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert c.entry["licence"] == "CC0"
    # Held-out kits are left out entirely; an unknown held-out name is an error.
    kept, info = data_mod.load_clips(
        instrument="kick",
        sample_rate=8000,
        clip_samples=400,
        kit_dirs=[str(tmp_path / "kits")],
        holdout_kits=["KitB"],
    )
    assert {c.entry["kit"] for c in kept} == {"KitA", "KitC"} and info["holdout_kits"] == ["KitB"]
    with pytest.raises(DataError, match="NoSuchKit"):
        data_mod.load_clips(
            instrument="kick",
            sample_rate=8000,
            clip_samples=400,
            kit_dirs=[str(tmp_path / "kits")],
            holdout_kits=["NoSuchKit"],
        )


def test_split_holds_out_whole_groups():
    clips = [
        data_mod.Clip(audio=np.zeros(4, np.float32), entry={"n": i}, group=f"g{i // 3}")
        for i in range(12)
    ]
    train, val = data_mod.split(clips, 0.25, seed=1)
    assert len(train) + len(val) == 12 and len(val) >= 3 and train
    assert not {c.group for c in train} & {c.group for c in val}
    assert data_mod.split(clips, 0.25, seed=1)[1] == val  # seeded: repeatable
    assert data_mod.split(clips, 0.0, seed=1) == (clips, [])


# ----------------------------------------------------------------------------- network
def test_keras_network_is_format_1():
    """The Keras model's logits equal the format-1 definition (fastdrum's NumPy forward)."""
    tf.keras.utils.set_random_seed(3)
    cfg = WaveNetConfig(
        quantization_channels=16,
        residual_channels=5,
        dilation_channels=3,
        skip_channels=7,
        dilations=[1, 2, 4, 8, 1, 3],
    )
    net = WaveNet(cfg)
    # Non-zero biases so that every bias is checked too.
    for v in net.trainable_variables:
        v.assign(v + np.random.default_rng(len(v.path)).normal(0, 0.1, v.shape).astype(np.float32))
    model = to_fastdrum_model(net, sample_rate=8000)
    codes = np.random.default_rng(0).integers(0, 16, size=50)
    keras_logits = net(codes[None].astype(np.int32)).numpy()[0]
    np.testing.assert_allclose(model.forward(codes), keras_logits, rtol=RTOL, atol=ATOL)


def test_train_export_load_matches_keras(tmp_path):
    data_dir = write_clips(
        tmp_path / "clips", [f"kick_{i}.wav" for i in range(5)] + ["snare_0.wav"]
    )
    out = tmp_path / "model.npz"
    args = build_parser().parse_args(
        [
            "--data",
            str(data_dir),
            "--instrument",
            "kick",
            "--out",
            str(out),
            "--steps",
            "6",
            "--run-dir",
            str(tmp_path / "run"),
            "--eval-every",
            "3",
            "--checkpoint-every",
            "3",
            "--val-fraction",
            "0.2",
            "--gain-db",
            "6",
            "--pitch-semitones",
            "1",
            "--pitch-steps",
            "3",
            "--primers",
            "8",
            "--seed",
            "1",
        ]
        + TINY
    )
    result = train(args)
    model = fastdrum.load_model(out)
    codes = np.random.default_rng(0).integers(0, 32, size=200)
    keras_logits = result["net"](codes[None].astype(np.int32)).numpy()[0]
    np.testing.assert_allclose(model.forward(codes), keras_logits, rtol=RTOL, atol=ATOL)
    # What the model says it learned from.
    meta = model.meta
    assert (
        meta["instrument"] == "kick"
        and meta["sample_rate"] == 8000
        and meta["clip_duration"] == 0.03
    )
    assert meta["steps_trained"] == 6 and 1 <= meta["steps"] <= 6
    assert np.isfinite(meta["losses"]["train"]) and np.isfinite(meta["losses"]["val_best"])
    files = sorted(os.path.basename(e["file"]) for e in meta["data"])
    assert files == [f"kick_{i}.wav" for i in range(5)]  # the snare was not picked
    assert {e["split"] for e in meta["data"]} == {"train", "val"}
    with open(tmp_path / "run" / "manifest.json", encoding="utf-8") as f:
        manifest = json.load(f)
    assert (
        manifest["sha256"] == meta["manifest_sha256"] == data_mod.manifest_hash(manifest["files"])
    )
    # Primers: the first 8 codes of each training clip, as the pipeline encodes it.
    train_entries = [e for e in manifest["files"] if e["split"] == "train"]
    assert model.primers.shape == (len(train_entries), 8)
    y, sr = soundfile.read(train_entries[0]["file"])
    clip = data_mod.fit(
        data_mod.preprocess(
            y.mean(axis=1) if y.ndim == 2 else y, sr, sample_rate=8000, clip_samples=240
        ),
        240,
    )
    np.testing.assert_array_equal(model.primers[0], mu_law_encode(clip, 32)[:8])
    # The exported weights are the best-validation ones: their val loss is the recorded best.
    val_entries = [e for e in manifest["files"] if e["split"] == "val"]
    total, n = 0.0, 0
    for e in val_entries:
        y, sr = soundfile.read(e["file"])
        c = mu_law_encode(
            data_mod.fit(
                data_mod.preprocess(
                    y.mean(axis=1) if y.ndim == 2 else y, sr, sample_rate=8000, clip_samples=240
                ),
                240,
            ),
            32,
        )
        total += -model.log_prob(c, codes=True)
        n += len(c) - 1
    assert total / n == pytest.approx(meta["losses"]["val_best"], abs=1e-4)


def test_export_replaces_only_after_validation(tmp_path, monkeypatch):
    from training import network

    path = tmp_path / "m.npz"
    old = random_model(seed=0)
    old.save(path)
    before = path.read_bytes()

    def broken_load(p):
        raise fastdrum.ModelFormatError("model key 'dil_w': simulated bad file")

    monkeypatch.setattr(network.fastdrum, "load_model", broken_load)
    with pytest.raises(fastdrum.ModelFormatError, match="simulated"):
        network.export_model(random_model(seed=1), path)
    assert path.read_bytes() == before  # the old model is untouched
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # and no temporary file is left


# ----------------------------------------------------------------------------- errors
def run_main(argv, capsys):
    status = main(argv)
    err = capsys.readouterr().err
    return status, err


@pytest.mark.parametrize(
    "case",
    ["empty", "not_audio", "no_instrument", "clip_too_short", "holdout", "bad_xml", "bad_option"],
)
def test_broken_input_gives_a_clear_error(tmp_path, capsys, case):
    out = str(tmp_path / "m.npz")
    base = ["--out", out, "--steps", "2", "--run-dir", str(tmp_path / "run")] + TINY
    if case == "empty":
        os.makedirs(tmp_path / "empty")
        argv, match = ["--data", str(tmp_path / "empty"), "--instrument", "kick"], "no audio files"
    elif case == "not_audio":
        write_clips(tmp_path / "d", ["kick_0.wav"])
        (tmp_path / "d" / "kick_1.wav").write_bytes(b"this is not a wave file at all" * 10)
        argv, match = (
            ["--data", str(tmp_path / "d"), "--instrument", "kick"],
            "kick_1.wav.*not a readable audio",
        )
    elif case == "no_instrument":
        write_kit(tmp_path / "kits", "OnlySnares", [("Snare", 38, ["s.wav"])])
        argv, match = (
            ["--kits", str(tmp_path / "kits"), "--instrument", "kick"],
            "OnlySnares.*'kick'",
        )
    elif case == "clip_too_short":
        write_clips(tmp_path / "d", ["kick_0.wav"])
        argv = ["--data", str(tmp_path / "d"), "--instrument", "kick", "--clip-duration", "0.001"]
        match = "not longer than the receptive field"
    elif case == "holdout":
        write_kit(tmp_path / "kits", "KitA", [("Kick", 36, ["k.wav"])])
        argv = ["--kits", str(tmp_path / "kits"), "--instrument", "kick", "--holdout-kits", "KitZ"]
        match = "KitZ"
    elif case == "bad_xml":
        os.makedirs(tmp_path / "kits" / "Broken")
        (tmp_path / "kits" / "Broken" / "drumkit.xml").write_text("<drumkit_info><name>x</name>")
        argv, match = ["--kits", str(tmp_path / "kits"), "--instrument", "kick"], "not valid XML"
    else:
        write_clips(tmp_path / "d", ["kick_0.wav"])
        argv, match = (
            ["--data", str(tmp_path / "d"), "--instrument", "kick", "--gain-db", "-3"],
            "--gain-db",
        )
    status, err = run_main(base + argv, capsys)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    import re

    assert re.search(match, lines[0]), lines[0]
    assert not os.path.exists(out)


def test_errors_are_fastdrum_errors_and_builtins(tmp_path):
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DataError, match="no audio files") as info:
        data_mod.load_clips(
            instrument="kick",
            sample_rate=8000,
            clip_samples=100,
            data_dirs=[str(tmp_path / "empty")],
        )
    assert isinstance(info.value, fastdrum.FastDrumError) and isinstance(info.value, ValueError)
    assert issubclass(ResumeError, RuntimeError) and issubclass(ResumeError, TrainingError)


def test_cli_argument_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--instrument", "kick"])  # --out missing
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0]


# ----------------------------------------------------------------------------- checkpoints
def as_older_run(run_dir, keys):
    """Make the run in `run_dir` look like one of a trainer without the options `keys`: their keys
    are dropped from its config.json, as an older trainer never wrote them."""
    path = run_dir / "config.json"
    saved = json.loads(path.read_text())
    for k in keys:
        del saved["config"][k]
    path.write_text(json.dumps(saved))


def test_refuses_to_overwrite_a_run_without_resume(tmp_path, capsys):
    data_dir = write_clips(tmp_path / "clips", [f"kick_{i}.wav" for i in range(3)])
    argv = [
        "--data",
        str(data_dir),
        "--instrument",
        "kick",
        "--out",
        str(tmp_path / "m.npz"),
        "--steps",
        "2",
        "--run-dir",
        str(tmp_path / "run"),
        "--checkpoint-every",
        "1",
    ] + TINY
    assert main(argv) == 0
    status, err = run_main(argv, capsys)
    assert status == 2 and "--resume" in err
    status, err = run_main(argv + ["--resume", "--seed", "5"], capsys)
    assert status == 2 and "'seed'" in err


def test_kill_and_resume(tmp_path):
    """SIGKILL a training process after a checkpoint appears; --resume continues from that step; SIGTERM
    stops it gracefully and exports."""
    data_dir = write_clips(tmp_path / "clips", [f"kick_{i}.wav" for i in range(4)])
    run_dir = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "training.train",
        "--data",
        str(data_dir),
        "--instrument",
        "kick",
        "--out",
        str(tmp_path / "m.npz"),
        "--run-dir",
        str(run_dir),
        "--checkpoint-every",
        "5",
        "--eval-every",
        "5",
        "--val-fraction",
        "0.25",
    ] + TINY
    log = open(tmp_path / "log1.txt", "w")  # noqa: SIM115 - the child writes it; closed below
    proc = subprocess.Popen(
        argv + ["--steps", "100000"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT
    )
    ckpt_dir = run_dir / "ckpt"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if (ckpt_dir / "checkpoint").exists():
                break
            if proc.poll() is not None:
                pytest.fail(f"training exited early: {(tmp_path / 'log1.txt').read_text()}")
            time.sleep(0.1)
        else:
            pytest.fail("no checkpoint appeared within 90 s")
        time.sleep(0.5)  # let it run on past the checkpoint
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "m.npz").exists()
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    ckpt_step = int(latest.rsplit("-", 1)[1])
    assert ckpt_step % 5 == 0 and ckpt_step >= 5
    # Resume; then SIGTERM, which stops gracefully: checkpoint, export of the best weights, status 0.
    err = open(tmp_path / "err2.txt", "w")  # noqa: SIM115 - the child writes it; closed below
    proc = subprocess.Popen(
        argv + ["--steps", "100000", "--resume"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("step ") and "/" in line.split()[1]:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    lines += rest.splitlines()
    assert proc.returncode == 0, "\n".join(lines) + (tmp_path / "err2.txt").read_text()
    assert f"resumed from checkpoint {latest} at step {ckpt_step}" in lines
    # It continued from the checkpoint: its first progress line (every 2 steps) is the next after it.
    steps_logged = [
        int(l.split()[1].split("/")[0])
        for l in lines
        if l.startswith("step ") and "/" in l.split()[1]
    ]
    assert steps_logged[0] == (ckpt_step // 2 + 1) * 2
    meta = fastdrum.load_model(tmp_path / "m.npz").meta
    assert meta["stop_reason"].startswith("stopped by SIGTERM")
    assert meta["steps_trained"] >= steps_logged[-1] > ckpt_step


# ----------------------------------------------------------------------------- TF generator
def test_tfgen_teacher_forced_logits_match_forward():
    model = random_model(
        dilations=[1, 2, 4, 1, 3],
        quantization_channels=16,
        residual_channels=5,
        dilation_channels=4,
        skip_channels=6,
        seed=2,
    )
    gen = TFGenerator(model, batch_size=2)
    codes = np.random.default_rng(1).integers(0, 16, size=(2, 30))
    logits = gen.teacher_forced_logits(codes)
    for b in range(2):
        np.testing.assert_allclose(logits[b], model.forward(codes[b]), rtol=RTOL, atol=ATOL)
    # Running again restarts from zeroed ring buffers.
    np.testing.assert_allclose(gen.teacher_forced_logits(codes), logits, rtol=0, atol=0)


def test_tfgen_generate_samples_from_the_model():
    model = random_model(
        dilations=[1, 2],
        quantization_channels=8,
        residual_channels=3,
        dilation_channels=2,
        skip_channels=4,
        seed=4,
    )
    gen = TFGenerator(model, batch_size=3)
    codes = gen.generate(20, seed=7, return_codes=True, primer=[4, 5])
    assert codes.shape == (3, 20) and codes.dtype == np.int32
    np.testing.assert_array_equal(codes[:, :2], [[4, 5]] * 3)
    np.testing.assert_array_equal(gen.generate(20, seed=7, return_codes=True, primer=[4, 5]), codes)
    # Argmax decoding follows Model.forward's argmax at every step.
    greedy = gen.generate(12, temperature=0.0, return_codes=True)
    for row in greedy:
        np.testing.assert_array_equal(np.argmax(model.forward(row[:-1]), axis=1), row[1:])
    # The NumPy reference's inverse-CDF rule with the same uniforms draws the same codes.
    from fastdrum import _reference

    u = np.random.default_rng(7).random((3, 20), dtype=np.float32)
    for t in range(1, 19):
        logits = np.stack([model.forward(r[: t + 1])[-1] for r in codes])
        np.testing.assert_array_equal(_reference.sample(logits, u[:, t], 1.0), codes[:, t + 1])
    audio = gen.generate(10, seed=0)
    assert audio.dtype == np.float32 and np.all(np.abs(audio) <= 1)
    with pytest.raises(ConfigError, match="n_samples"):
        gen.generate(0)


@pytest.mark.parametrize(
    "kw, named",
    [
        (dict(voices=("a", "b")), "voice conditioning"),
        (dict(time_tau=[100.0]), "time features"),
        (dict(preemphasis=0.85), "pre-emphasis"),
        (
            dict(voices=("a",), decays={"a": [0.01]}, envelope={"hold": 0.0, "floor_db": -60.0}),
            "voice conditioning, decay conditioning, an envelope",
        ),
    ],
)
def test_tfgen_refuses_what_format_1_lacks(kw, named):
    """A network of format 2's additions run without them would be another network: refused."""
    model = random_model(dilations=[1, 2], quantization_channels=8, seed=4, **kw)
    with pytest.raises(ConfigError, match=f"this model has {named} "):
        TFGenerator(model)


# ----------------------------------------------------------------------------- model card
def test_model_card_describes_the_model(tmp_path):
    from training import model_card

    model = random_model(dilations=[1, 2, 4, 1, 2, 4], sample_rate=8000, seed=0, primers=3)
    meta = dict(
        model.meta,
        data=[
            dict(
                file="KitA/k1.wav",
                kit="KitA",
                instrument="Kick",
                licence="CC0",
                sha256="0" * 64,
                split="train",
            ),
            dict(
                file="KitA/k2.wav",
                kit="KitA",
                instrument="Kick",
                licence="CC0",
                sha256="1" * 64,
                split="train",
            ),
            dict(
                file="KitB/k.wav",
                kit="KitB",
                instrument="Kick",
                licence="GPL-2",
                sha256="2" * 64,
                split="val",
            ),
        ],
        kits={"KitA": "CC0", "KitB": "GPL-2"},
        holdout_kits=["KitZ"],
        steps=40,
        steps_trained=90,
        losses=dict(train=1.5, val_best=1.75, val_last=1.9),
        stop_reason="early stopping",
        config=dict(
            gain_db=6.0, pitch_semitones=1.0, pitch_steps=5, peak=0.95, onset_threshold=0.1
        ),
    )
    w = dict(model.weights)
    model = fastdrum.Model(
        sample_rate=8000, dilations=model.dilations, primers=model.primers, meta=meta, **w
    )
    path = tmp_path / "kick.npz"
    model.save(path)
    assert model_card.main([str(path), "--check", "--check-duration", "0.01"]) == 0
    card = (tmp_path / "kick.md").read_text()
    assert "| KitA | CC0 | 2 | 0 |" in card and "| KitB | GPL-2 | 0 | 1 |" in card
    assert "held out of training entirely (for evaluation): KitZ" in card
    assert "dilations 1..4 x 2" in card and f"{model.receptive_field} samples" in card
    assert "| exported weights | step 40 (best validation loss) |" in card
    check = model_card.sanity_check(model, n=2, duration=0.01)
    assert check["finite"] and len(check["peaks"]) == 2 and np.shape(check["quarter_rms"]) == (2, 4)


def test_early_stopping_exports_the_best_step(tmp_path):
    """With a learning rate too small to change the float32 loss, validation never improves after its
    first evaluation: training stops after `patience` more evaluations and exports that first step."""
    data_dir = write_clips(tmp_path / "clips", [f"kick_{i}.wav" for i in range(4)])
    args = build_parser().parse_args(
        [
            "--data",
            str(data_dir),
            "--instrument",
            "kick",
            "--out",
            str(tmp_path / "m.npz"),
            "--steps",
            "50",
            "--run-dir",
            str(tmp_path / "run"),
            "--eval-every",
            "2",
            "--patience",
            "2",
            "--val-fraction",
            "0.25",
            "--learning-rate",
            "1e-12",
        ]
        + TINY
    )
    result = train(args)
    meta = result["meta"]
    assert meta["steps_trained"] == 6 and meta["steps"] == 2
    assert meta["stop_reason"].startswith("early stopping")
    assert meta["losses"]["val_last"] >= meta["losses"]["val_best"]
