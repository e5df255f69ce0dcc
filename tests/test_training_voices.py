"""Tests of the conditioned (format 2) training path: SF2 reading, the batch sampler, export = Keras net."""

import struct

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
tf = pytest.importorskip("tensorflow")

from test_training import write_kit  # noqa: E402

import fastdrum  # noqa: E402
from fastdrum.mulaw import mu_law_encode  # noqa: E402
from training import data as data_mod  # noqa: E402
from training.batches import TrainingSet, preemphasize  # noqa: E402
from training.sf2 import read_sf2  # noqa: E402
from training.train import main  # noqa: E402


# ----------------------------------------------------------------------------- SF2
def _chunk(cid, data):
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind, *chunks):
    return _chunk(b"LIST", kind + b"".join(chunks))


def write_sf2(path, pcm, notes=(36, 38), preset=0):
    """A drum-bank SF2 (bank 128, program `preset`): note ``notes[0]`` (36) plays sample 0 (mono);
    note ``notes[1]`` (38) plays samples 1 (left) + 2 (right)."""
    a, b = notes
    starts, smpl = [], b""
    for p in pcm:
        starts.append(len(smpl) // 2)
        smpl += np.asarray(p, "<i2").tobytes() + b"\0" * 92  # 46 zero frames between samples
    shdr = b""
    kinds = [(1, 0), (4, 2), (2, 1)]  # (type, link)
    for i, p in enumerate(pcm):
        s, e = starts[i], starts[i] + len(p)
        shdr += struct.pack(
            "<20sIIIIIBbHH", f"s{i}".encode(), s, e, s, e, 44100, 60, 0, kinds[i][1], kinds[i][0]
        )
    shdr += struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)
    # instrument 0: zone (keys 36-36, sample 0), zones (keys 38-38, samples 1 and 2)
    igen = b"".join(
        struct.pack("<HH", op, amt)
        for op, amt in [
            (43, a | a << 8),
            (53, 0),
            (43, b | b << 8),
            (53, 1),
            (43, b | b << 8),
            (53, 2),
        ]
    )
    igen += struct.pack("<HH", 0, 0)
    ibag = b"".join(struct.pack("<HH", g, 0) for g in (0, 2, 4, 6))
    inst = struct.pack("<20sH", b"kit", 0) + struct.pack("<20sH", b"EOI", 3)
    pgen = struct.pack("<HH", 41, 0) + struct.pack("<HH", 0, 0)
    pbag = struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0)
    phdr = struct.pack("<20sHHHIII", b"Standard", preset, 128, 0, 0, 0, 0) + struct.pack(
        "<20sHHHIII", b"EOP", 0, 0, 1, 0, 0, 0
    )
    pdta = _list(
        b"pdta",
        _chunk(b"phdr", phdr),
        _chunk(b"pbag", pbag),
        _chunk(b"pmod", b"\0" * 10),
        _chunk(b"pgen", pgen),
        _chunk(b"inst", inst),
        _chunk(b"ibag", ibag),
        _chunk(b"imod", b"\0" * 10),
        _chunk(b"igen", igen),
        _chunk(b"shdr", shdr),
    )
    body = (
        b"sfbk"
        + _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)))
        + _list(b"sdta", _chunk(b"smpl", smpl))
        + pdta
    )
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_sf2_reader_notes_samples_and_pcm(tmp_path):
    rng = np.random.default_rng(0)
    pcm = [rng.integers(-30000, 30000, n) for n in (100, 80, 80)]
    write_sf2(tmp_path / "kit.sf2", pcm)
    samples, zones, reader = read_sf2(tmp_path / "kit.sf2")
    assert [(z.bank, z.note, z.sample) for z in zones] == [(128, 36, 0), (128, 38, 1), (128, 38, 2)]
    by_index = {s.index: s for s in samples}
    for i, p in enumerate(pcm):
        np.testing.assert_array_equal(reader(by_index[i]), np.asarray(p) / 32768.0)
    assert by_index[1].kind == 4 and by_index[1].link == 2


@pytest.mark.parametrize(
    "preset, notes, voices",
    [
        (0, (36, 39), ["kick", "clap"]),  # a standard set: 39 is a hand clap
        (40, (36, 39), ["kick"]),  # GS's Brush set: 39 is a brush slap
        (40, (36, 40), ["kick"]),  # and 40 a brush swirl
        (48, (36, 41), ["kick"]),  # the Orchestra set: 41-53 are timpani
        (48, (53, 54), []),  # 53 a timpano too; 54 (tambourine) is no voice anywhere
        (48, (38, 39), ["snare", "clap"]),  # the rest of the Orchestra set is General MIDI
    ],
)
def test_sf2_notes_that_gs_drum_sets_redefine_are_left_out(tmp_path, preset, notes, voices):
    from training.voices import _sf2_candidates

    rng = np.random.default_rng(0)
    write_sf2(
        tmp_path / "kit.sf2", [rng.integers(-30000, 30000, 100) for _ in range(3)], notes, preset
    )
    assert [c[0] for c in _sf2_candidates([str(tmp_path / "kit.sf2")])] == voices


def test_fluids_brush_variants_and_orchestra_kit_are_left_out_where_gs_redefines_them():
    from training.voices import GS_REDEFINED_NOTES, SF2_SOURCES

    fluid = SF2_SOURCES["/usr/share/sounds/sf2/FluidR3_GM.sf2"]["skip_preset_notes"]
    assert fluid[40] == fluid[41] == fluid[42] == (39, 40) and fluid[48] == GS_REDEFINED_NOTES[48]
    assert GS_REDEFINED_NOTES[48] == tuple(range(41, 54))


def test_sf2_reader_refuses_other_files(tmp_path):
    from training.errors import DataError

    (tmp_path / "x.sf2").write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(DataError, match="not a SoundFont 2"):
        read_sf2(tmp_path / "x.sf2")


# ----------------------------------------------------------------------------- batches
def test_batches_windows_mask_and_preemphasis():
    rng = np.random.default_rng(1)
    clips = [
        [
            data_mod.Clip(audio=rng.uniform(-0.5, 0.5, 400).astype(np.float32), entry={})
            for _ in range(3)
        ],
        [
            data_mod.Clip(audio=rng.uniform(-0.5, 0.5, 300).astype(np.float32), entry={})
            for _ in range(2)
        ],
    ]
    ts = TrainingSet(
        clips,
        [[], []],
        [400, 300],
        crop=64,
        receptive_field=16,
        quantization_channels=32,
        preemphasis=0.85,
    )
    b = ts.batch(np.random.default_rng(2), 200)
    assert b.codes.shape == (200, 64) and b.mask.shape == (200, 63)
    assert set(b.voices.tolist()) == {0, 1}
    starts_at_onset = b.mask[:, 0] == 1
    assert 0.3 < starts_at_onset.mean() < 0.7  # half the windows start at the onset
    assert (b.mask[~starts_at_onset, :15] == 0).all() and (b.mask[:, 15:] == 1).all()
    # Every window at the onset is the encoded pre-emphasised start of one of its voice's clips.
    for codes, v in zip(b.codes[starts_at_onset], b.voices[starts_at_onset]):
        starts = [
            mu_law_encode(
                preemphasize(data_mod.fit(c.audio, len(c.audio) if v == 0 else 300), 0.85)[:64], 32
            )
            for c in clips[v]
        ]
        assert any(np.array_equal(codes, s) for s in starts)


def test_batches_voice_weights_by_length():
    """--voice-weights length: rows pick voices in proportion to their clip lengths; default uniform."""
    rng = np.random.default_rng(1)
    lengths = [100, 300]
    clips = [
        [data_mod.Clip(audio=rng.uniform(-0.5, 0.5, n).astype(np.float32), entry={})]
        for n in lengths
    ]
    kw = dict(crop=64, receptive_field=16, quantization_channels=32)
    shares = {}
    for weights in (None, "length"):
        ts = TrainingSet(clips, [[], []], lengths, voice_weights=weights, **kw)
        shares[weights] = ts.batch(np.random.default_rng(3), 4000).voices.mean()
    assert abs(shares[None] - 0.5) < 0.03  # voice 1's share, uniform
    assert abs(shares["length"] - 0.75) < 0.03  # 300 / (100 + 300)
    # The default keeps the draws of runs made before the option existed (resumes repeat exactly).
    b = TrainingSet(clips, [[], []], lengths, **kw).batch(np.random.default_rng(5), 8)
    assert b.voices.tolist() == np.random.default_rng(5).integers(2, size=8).tolist()
    with pytest.raises(ValueError, match="voice_weights"):
        TrainingSet(clips, [[], []], lengths, voice_weights="duration", **kw)


def test_batches_voice_weights_given():
    """A weight per voice: rows pick voices in proportion to it; a voice weighing 0 is never drawn."""
    rng = np.random.default_rng(1)
    lengths = [100, 300, 200]
    clips = [
        [data_mod.Clip(audio=rng.uniform(-0.5, 0.5, n).astype(np.float32), entry={})]
        for n in lengths
    ]
    kw = dict(crop=64, receptive_field=16, quantization_channels=32)
    ts = TrainingSet(clips, [[], [], []], lengths, voice_weights=[3.0, 1.0, 0.0], **kw)
    v = ts.batch(np.random.default_rng(3), 4000).voices
    assert abs(np.mean(v == 0) - 0.75) < 0.03
    assert not np.any(v == 2)
    for bad in ([1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [1.0, np.nan, 1.0]):
        with pytest.raises(ValueError, match="voice_weights"):
            TrainingSet(clips, [[], [], []], lengths, voice_weights=bad, **kw)


def _noise_set(Q=256):
    """A TrainingSet of two voices whose codes stay away from 0 and Q - 1 (clipping rarely binds)."""
    rng = np.random.default_rng(1)
    lengths = [400, 300]
    clips = [
        [
            data_mod.Clip(audio=rng.uniform(-0.5, 0.5, n).astype(np.float32), entry={})
            for _ in range(2)
        ]
        for n in lengths
    ]
    kw = dict(crop=64, receptive_field=16, quantization_channels=Q, preemphasis=0.85)
    return TrainingSet(clips, [[], []], lengths, **kw)


def test_batches_input_noise_corrupts_inputs_only_and_draws_it_last():
    """--input-noise SIGMA: inputs = clip(round(codes + SIGMA N(0, 1))); codes (targets) stay clean."""
    ts = _noise_set()
    clean = ts.batch(np.random.default_rng(2), 200, gain_db=6.0)
    noisy = ts.batch(np.random.default_rng(2), 200, gain_db=6.0, input_noise=1.0)
    # The noise is drawn after everything else: the clean part is that of the same rng without noise.
    for k in ("codes", "voices", "mask", "starts"):
        np.testing.assert_array_equal(getattr(noisy, k), getattr(clean, k))
    assert noisy.inputs.dtype == np.int32 and noisy.inputs.shape == noisy.codes.shape
    assert noisy.inputs.min() >= 0 and noisy.inputs.max() <= 255
    inner = (clean.codes >= 6) & (
        clean.codes <= 249
    )  # where clipping cannot bind at SIGMA 1 (5 sd)
    assert inner.mean() > 0.9
    diff = (noisy.inputs - noisy.codes)[inner]
    assert abs((diff != 0).mean() - 0.617) < 0.02  # P(|round(N(0, 1))| >= 1) = P(|N| >= 0.5)
    assert (
        abs(diff.std() - np.sqrt(1 + 1 / 12)) < 0.05
    )  # sd of round(N(0, 1)): sigma, plus rounding
    assert abs(diff.mean()) < 0.05
    wide = ts.batch(np.random.default_rng(2), 200, input_noise=3.0)
    d3 = (wide.inputs - wide.codes)[(wide.codes >= 20) & (wide.codes <= 235)]
    assert abs(d3.std() - 3.0) < 0.1
    # Clipping keeps every input a code.
    assert wide.inputs.min() >= 0 and wide.inputs.max() <= 255


def test_batches_without_input_noise_are_those_of_earlier_runs():
    """SIGMA None or 0 draws nothing more: the batch is bit-identical to the one drawn before the option
    existed (so runs made before it resume exactly), and inputs are the codes."""
    import hashlib

    ts = _noise_set(Q=32)
    for sigma in (None, 0.0):
        b = ts.batch(np.random.default_rng(7), 16, gain_db=6.0, input_noise=sigma)
        np.testing.assert_array_equal(b.inputs, b.codes)
        h = hashlib.sha256()
        for x in (b.codes, b.voices, b.mask, b.starts):
            h.update(np.ascontiguousarray(x).tobytes())
        assert h.hexdigest()[:16] == "0a0575cf32d25c52"  # drawn by the code before --input-noise
    # Validation windows are clean.
    assert ts.validation() is None
    b = TrainingSet(
        [[data_mod.Clip(audio=np.ones(64, np.float32) * 0.1, entry={})]],
        [[data_mod.Clip(audio=np.ones(64, np.float32) * 0.1, entry={})]],
        [64],
        crop=64,
        receptive_field=4,
        quantization_channels=32,
    ).validation()
    assert b.inputs is b.codes


def tiny_net(quantization_channels=32, dilations=(1, 2), embedding_size=3):
    """A Keras WaveNet of 4 residual and dilation channels, 8 skip channels, on two voices."""
    from training.network import WaveNet

    return WaveNet(
        dict(
            quantization_channels=quantization_channels,
            residual_channels=4,
            dilation_channels=4,
            skip_channels=8,
            dilations=list(dilations),
        ),
        n_voices=2,
        embedding_size=embedding_size,
    )


def test_loss_feeds_the_inputs_and_scores_the_clean_codes():
    from training.train import _masked_nll_sum

    net = tiny_net()
    b = _noise_set(Q=32).batch(np.random.default_rng(4), 4, input_noise=2.0)
    assert (b.inputs != b.codes).any()

    def loss(inputs):
        return float(
            _masked_nll_sum(tf, net, True, inputs, b.codes, b.voices, b.mask, b.starts).numpy()
        )

    clean = loss(b.codes)
    assert loss(b.codes.copy()) == clean
    assert loss(b.inputs) != clean
    # The labels are the clean codes: the loss of noisy inputs is the net's NLL of codes[:, 1:].
    logits = net(b.inputs[:, :-1], b.voices, b.starts).numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -(np.take_along_axis(logp, b.codes[:, 1:, None], -1)[..., 0] * b.mask).sum()
    assert loss(b.inputs) == pytest.approx(want, rel=1e-4)


def _drift_set(sr=8000):
    """A TrainingSet of two voices of quiet noise that knows its sample rate (input drift needs it)."""
    rng = np.random.default_rng(1)
    lengths = [800, 600]
    clips = [
        [data_mod.Clip(audio=rng.uniform(-0.1, 0.1, n).astype(np.float32), entry={})]
        for n in lengths
    ]
    kw = dict(crop=512, receptive_field=16, quantization_channels=256, preemphasis=0.85)
    return TrainingSet(clips, [[], []], lengths, sample_rate=sr, **kw)


def test_drift_is_slow_and_of_the_rms_asked():
    """drift(): RMS sigma over rows, its power below max_hz (the cosines' band)."""
    from training.batches import drift

    sr, n = 8000, 8000
    d = drift(np.random.default_rng(5), 400, n, sr, 0.02, max_hz=30.0)
    assert d.shape == (400, n)
    assert abs(np.sqrt((d**2).mean()) - 0.02) < 0.002
    power = (np.abs(np.fft.rfft(d * np.hanning(n), axis=1)) ** 2).sum(axis=0)
    f = np.fft.rfftfreq(n, 1 / sr)
    assert power[f < 32].sum() > 0.999 * power.sum()  # 2 Hz of Hann leakage past the band
    # Every row draws its own cosines: rows differ.
    assert np.corrcoef(d[0], d[1])[0, 1] ** 2 < 0.99


def test_batches_input_drift_moves_inputs_only_slowly_and_draws_it_last():
    """--input-drift SIGMA: inputs = codes of (window + drift); the targets, voices, mask and starts are
    those of the same rng without it, and so is the voice dropout drawn before it."""
    from fastdrum.mulaw import mu_law_decode

    ts = _drift_set()
    clean = ts.batch(np.random.default_rng(2), 64, gain_db=6.0, voice_dropout=0.3)
    moved = ts.batch(np.random.default_rng(2), 64, gain_db=6.0, voice_dropout=0.3, input_drift=0.05)
    for k in ("codes", "voices", "mask", "starts"):
        np.testing.assert_array_equal(getattr(moved, k), getattr(clean, k))
    assert moved.inputs.dtype == np.int32 and moved.inputs.shape == moved.codes.shape
    # What moved the inputs is the drift: decoded, the difference is slow (within mu-law's steps)
    # and of RMS about SIGMA.
    diff = mu_law_decode(moved.inputs, 256) - mu_law_decode(moved.codes, 256)
    assert abs(np.sqrt((diff**2).mean()) - 0.05) < 0.015
    step = np.abs(np.diff(diff, axis=1)).mean()  # sample to sample: quantisation, not the drift
    assert step < 0.2 * np.abs(diff).mean()
    # Input noise on top moves the drifted codes, and draws before the drift.
    both = ts.batch(np.random.default_rng(2), 64, input_noise=1.0, input_drift=0.05)
    noisy = ts.batch(np.random.default_rng(2), 64, input_noise=1.0)
    np.testing.assert_array_equal(both.codes, noisy.codes)
    assert (both.inputs != noisy.inputs).mean() > 0.5


def test_batches_input_drift_off_draws_nothing_and_needs_the_sample_rate():
    ts = _drift_set()
    for sigma in (None, 0.0):
        b = ts.batch(np.random.default_rng(7), 8, input_drift=sigma)
        ref = ts.batch(np.random.default_rng(7), 8)
        np.testing.assert_array_equal(b.inputs, ref.codes)
        np.testing.assert_array_equal(b.codes, ref.codes)
    with pytest.raises(ValueError, match="sample rate"):
        _noise_set().batch(np.random.default_rng(7), 8, input_drift=0.01)


def test_batches_input_drift_band_is_the_one_asked():
    """input_drift_hz bounds the drift's cosines: at 1 kHz a 512-sample window resolves 2 Hz, and the
    moved inputs' power lies below 12 Hz when the band is 10 Hz, about half of it when it is 30."""
    from fastdrum.mulaw import mu_law_decode

    ts = _drift_set(sr=1000)

    def share_below_12_hz(hz):
        b = ts.batch(np.random.default_rng(3), 200, input_drift=0.05, input_drift_hz=hz)
        d = mu_law_decode(b.inputs, 256) - mu_law_decode(b.codes, 256)
        power = (np.abs(np.fft.rfft(d * np.hanning(d.shape[1]), axis=1)) ** 2).sum(axis=0)
        return power[np.fft.rfftfreq(d.shape[1], 1 / 1000) < 12].sum() / power.sum()

    assert share_below_12_hz(10.0) > 0.97
    assert 0.2 < share_below_12_hz(30.0) < 0.7


def test_batches_input_drift_share_moves_that_share_of_the_rows():
    """input_drift_share P: about P of the rows carry the drift, the others are fed their clean codes;
    P = 1 draws nothing more than before the option."""
    ts = _drift_set()
    b = ts.batch(np.random.default_rng(4), 400, input_drift=0.05, input_drift_share=0.25)
    moved = (b.inputs != b.codes).any(axis=1)
    assert abs(moved.mean() - 0.25) < 0.06
    every = ts.batch(np.random.default_rng(4), 400, input_drift=0.05, input_drift_share=1.0)
    np.testing.assert_array_equal(
        every.inputs, ts.batch(np.random.default_rng(4), 400, input_drift=0.05).inputs
    )
    # A moved row is moved by the drift of the same draws as without the share.
    np.testing.assert_array_equal(b.inputs[moved], every.inputs[moved])


@pytest.mark.parametrize("value", ["0", "-1", "nan", "22051"])
def test_input_drift_hz_must_lie_below_nyquist(value):
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    args = build_parser().parse_args(
        ["--voices", "kick", "--crop", "64", "--out", "m.npz", "--input-drift-hz", value]
        + ["--input-drift", "0.01", "--sample-rate", "44100"]
    )
    with pytest.raises(ConfigError, match="--input-drift-hz must lie in"):
        _check_args(args)


@pytest.mark.parametrize("option", ["--input-noise", "--input-drift"])
@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_input_noise_must_be_finite_and_not_negative(option, value):
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    args = build_parser().parse_args(
        ["--voices", "kick", "--crop", "64", "--out", "m.npz", option, value]
    )
    with pytest.raises(ConfigError, match=f"{option} must be a finite number >= 0"):
        _check_args(args)


@pytest.mark.parametrize(
    "key, on", [("input_noise", 2.0), ("input_drift", 0.01), ("decay_conditioning", True)]
)
def test_runs_made_before_an_option_resume_without_it(tmp_path, key, on):
    """A saved config without the option's key resumes with it off (None, as train() records off);
    with it on, it does not."""
    import json

    from training.errors import ResumeError
    from training.train import _open_run_dir, build_parser

    run = tmp_path / "run"
    (run / "ckpt").mkdir(parents=True)
    (run / "ckpt" / "ckpt-1.index").write_bytes(b"")
    args = build_parser().parse_args(
        ["--voices", "kick", "--out", "m.npz", "--run-dir", str(run), "--resume"]
    )
    config = dict(sorted(vars(args).items()), **{key: None})
    old = {k: v for k, v in config.items() if k != key}
    (run / "config.json").write_text(json.dumps({"config": old, "manifest_sha256": "x"}))
    assert _open_run_dir(args, config, {"sha256": "x"}, write=False) == str(run)
    with pytest.raises(ResumeError, match=key):
        _open_run_dir(args, dict(config, **{key: on}), {"sha256": "x"}, write=False)


# ----------------------------------------------------------------------------- end to end
def write_two_voice_kits(tmp_path):
    """Three Hydrogen kits of two kicks and two snares each, distinct decaying noises: the kits folder."""
    kits = tmp_path / "kits"
    for k in range(3):
        write_kit(
            kits,
            f"kit{k}",
            [
                ("Kick", 36, [f"k{k}a.wav", f"k{k}b.wav"]),
                ("Snare", 38, [f"s{k}a.wav", f"s{k}b.wav"]),
            ],
        )
    # Distinct sounds (similar decaying sines would be removed as near-duplicates of the held-out kit's).
    rng = np.random.default_rng(4)
    for wav in sorted(kits.glob("*/*.wav")):
        soundfile.write(
            wav, rng.standard_normal(800) * np.exp(-np.arange(800) / 150.0) * 0.5, 16000
        )
    return kits


def tiny_conditioned_argv(kits, out, run_dir, *, steps, every):
    """Trainer arguments of a tiny two-voice conditioned run (receptive field 16 samples, 8 kHz)."""
    return [
        *("--kits", str(kits), "--voices", "kick,snare", "--holdout-kits", "kit2"),
        *("--sample-rate", "8000", "--voice-durations", "kick=0.05,snare=0.05", "--crop", "64"),
        *("--dilations", "1..4x2", "--residual-channels", "4", "--dilation-channels", "4"),
        *("--skip-channels", "8", "--quantization-channels", "32", "--embedding-size", "3"),
        *("--batch-size", "2", "--steps", str(steps), "--eval-every", str(every)),
        *("--log-every", str(every), "--out", str(out), "--run-dir", str(run_dir), "--no-xla"),
    ]


@pytest.mark.slow
def test_conditioned_training_exports_format2_equal_to_keras(tmp_path):
    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=4, every=2)
    argv += ["--preemphasis", "0.85", "--snapshot-every", "2"]
    assert main(argv) == 0
    model = fastdrum.load_model(out)
    assert model.voices == ("kick", "snare") and model.preemphasis == pytest.approx(0.85)
    assert sorted(e["voice"] for e in model.meta["holdout_data"]) == [
        "kick",
        "kick",
        "snare",
        "snare",
    ]
    # The exported file computes what the Keras net computes, per voice.
    net = tiny_net(dilations=model.dilations)
    # Weights that lack a key, or hold another number of layers, are named, not a KeyError.
    from training.errors import TrainingError

    with pytest.raises(TrainingError, match="lack cond_w"):
        net.set_weights_from({k: v for k, v in model.weights.items() if k != "cond_w"})
    short = dict(model.weights, dil_w=model.weights["dil_w"][:-1])
    with pytest.raises(TrainingError, match="dil_w hold"):
        net.set_weights_from(short)
    net.set_weights_from(model.weights)  # format-1 keys plus voice_emb and cond_w
    codes = np.random.default_rng(3).integers(0, 32, (2, 40)).astype(np.int32)
    keras_logits = net(codes, np.array([0, 1], np.int32)).numpy()
    for row, voice in enumerate(("kick", "snare")):
        np.testing.assert_allclose(
            model.forward(codes[row], voice=voice), keras_logits[row], rtol=1e-4, atol=1e-4
        )
    # A kept snapshot exports too, and generation decodes every voice.
    assert main(argv + ["--resume", "--from-snapshot", "2", "--out", str(tmp_path / "s2.npz")]) == 0
    y = fastdrum.generate(
        fastdrum.load_model(tmp_path / "s2.npz"), 2, voice="snare", seed=0, duration=0.02
    )
    assert y.shape == (2, 160) and np.isfinite(y).all() and np.abs(y).max() <= 1.0


@pytest.mark.slow
def test_training_with_input_noise_records_it(tmp_path, capsys):
    """--input-noise 2: a few steps train; the model's meta config and card record it; a resume must
    keep it."""
    from training import model_card

    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=3, every=3)
    assert main(argv + ["--input-noise", "2"]) == 0
    model = fastdrum.load_model(out)
    assert model.meta["config"]["input_noise"] == 2.0
    assert np.isfinite(model.meta["losses"]["val_last"])
    assert model_card.main([str(out)]) == 0
    assert "| input noise | 2 codes (training only)" in (tmp_path / "drums.md").read_text()
    capsys.readouterr()
    assert main(argv + ["--resume", "--steps", "4"]) == 2  # without --input-noise: refused
    assert "option 'input_noise' was 2.0, now None" in capsys.readouterr().err


@pytest.mark.slow
def test_a_model_of_one_voice_plays_it_by_default(tmp_path):
    """--voices snare (a model of its own for one voice, as the shipped clap.npz): the file records
    the voice as its instrument, so generate() plays it without voice=, as it does a kick.npz."""
    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "snare.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=2, every=2)
    argv[argv.index("kick,snare")] = "snare"
    assert main(argv + ["--val-fraction", "0"]) == 0
    model = fastdrum.load_model(out)
    assert model.voices == ("snare",) and model.meta["instrument"] == "snare"
    assert model.default_voice == "snare" and model.instrument == "snare"
    np.testing.assert_array_equal(
        fastdrum.generate(model, 2, seed=0, duration=0.01, backend="numpy"),
        fastdrum.generate(model, 2, voice="snare", seed=0, duration=0.01, backend="numpy"),
    )


@pytest.mark.slow
def test_training_without_a_validation_split_trains_on_every_clip(tmp_path):
    """--val-fraction 0 (the weights are a mean of snapshots, so no validation loss chooses them):
    every clip not held out trains, no validation loss is recorded, the snapshots average and the
    card says so."""
    from training import model_card
    from training.average import main as average

    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=4, every=2)
    assert main(argv + ["--val-fraction", "0", "--snapshot-every", "2"]) == 0
    model = fastdrum.load_model(out)
    # kit0 and kit1 train (two kicks and two snares each); kit2 is held out.
    assert sorted((e["voice"], e["split"]) for e in model.meta["data"]) == (
        [("kick", "train")] * 4 + [("snare", "train")] * 4
    )
    assert model.meta["losses"]["val_best"] is None and model.meta["losses"]["val_last"] is None
    run = ("--run-dir", str(tmp_path / "run"))
    assert average([str(out), *run, "--first", "2", "-o", str(out), "--overwrite"]) == 0
    assert model_card.main([str(out)]) == 0
    assert "| validation loss | none (no validation split) |" in (tmp_path / "drums.md").read_text()


def test_voice_weights_option(tmp_path, capsys):
    """--voice-weights VOICE=W: a weight per voice of the model in its order (1 where not named);
    a weight that is not a number, below 0, or of a voice the model lacks is refused in one line."""
    from training.train import _voice_weights

    assert _voice_weights("snare=3", ("kick", "snare", "clap")) == [1.0, 3.0, 1.0]
    assert _voice_weights("length", ("kick",)) == "length" and _voice_weights(None, ()) is None
    kits = write_two_voice_kits(tmp_path)
    argv = tiny_conditioned_argv(kits, tmp_path / "d.npz", tmp_path / "run", steps=1, every=1)
    for bad in ("snare=x", "snare=-1", "bogus=2", "clap=2", "kick=0,snare=0"):
        capsys.readouterr()
        assert main(argv + ["--voice-weights", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert "--voice-weights" in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "d.npz").exists()
    # A weight accepted: the log gives the shares, the model's config records the option.
    assert main(argv + ["--voice-weights", "snare=3"]) == 0
    out = capsys.readouterr()
    assert "drawn with the shares {'kick': '25%', 'snare': '75%'}" in out.out + out.err
    assert fastdrum.load_model(tmp_path / "d.npz").meta["config"]["voice_weights"] == "snare=3"


# ----------------------------------------------------------------------------- folders of one-shots
@pytest.mark.parametrize(
    "name, voice",
    [
        ("kick01", "kick"),
        ("bassdrum_acoustic01", "kick"),
        ("clap03", "clap"),
        ("snare_rim01", "snare"),
        ("hihat_closed02", "hihat"),
        ("hihat_opened01", "openhat"),
        ("tom_hi01", "tom_high"),
        ("tom_mid01", "tom_mid"),
        ("Floor Tom", "tom_low"),
        ("crash01", "crash"),
        ("ride02", "ride"),
        ("tom01", None),  # a tom, but which?
        ("hihat_foot_pedal01", None),
        ("shaker01", None),
        ("crash ride", None),  # each excludes the other
    ],
)
def test_voice_of_a_file_name(name, voice):
    from training.voices import voice_of_name

    assert voice_of_name(name) == voice


def write_one_shots(folder, names, sr=8000, seed=5):
    """Decaying noises, one per name (a different one each), in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        y = rng.standard_normal(800) * np.exp(-np.arange(800) / 150.0) * 0.5
        soundfile.write(folder / name, y, sr)
    return folder


def test_a_folder_of_one_shots_gives_clips_by_file_name(tmp_path):
    """--data with --voices: each file whose name says a voice is a clip of it (tom01 and the pedal
    hat say none); a file that is not audio is left out and listed, not fatal; the folder's name is
    the clips' kit, and it can be held out as a kit."""
    from training.voices import load_voice_clips

    shots = write_one_shots(
        tmp_path / "shots",
        ["kick01.wav", "bassdrum02.wav", "clap01.flac", "tom01.wav", "hihat_foot_pedal01.wav"],
    )
    (shots / "kick_broken.ogg").write_bytes(b"RIFF not audio")
    kw = dict(sample_rate=8000, voices=("kick", "clap"), durations=dict(kick=0.05, clap=0.05))
    train, held, info = load_voice_clips(data_dirs=[str(shots)], **kw)
    assert held == [] and info["counts"] == {"kick": 2, "clap": 1}
    assert sorted(c.entry["instrument"] for c in train) == ["bassdrum02", "clap01", "kick01"]
    e = next(c.entry for c in train if c.entry["instrument"] == "clap01")
    assert (e["voice"], e["kit"], e["source"], e["licence"]) == (
        "clap",
        "shots",
        "folder",
        "unknown",
    )
    assert [u["file"] for u in info["unreadable"]] == [str(shots / "kick_broken.ogg")]
    assert "not a readable audio file" in info["unreadable"][0]["reason"]
    # Held out by its name, beside Hydrogen kits that train (their kicks and snares).
    kits = write_two_voice_kits(tmp_path)
    kw = dict(sample_rate=8000, voices=("kick", "snare"), durations=dict(kick=0.05, snare=0.05))
    train, held, info = load_voice_clips(
        kit_dirs=[str(kits)], data_dirs=[str(shots)], holdout_kits=["shots"], **kw
    )
    assert sorted(c.entry["instrument"] for c in held) == ["bassdrum02", "kick01"]
    assert all(c.entry["kit"] != "shots" for c in train) and info["holdout_kits"] == ["shots"]
    assert info["counts"] == {"kick": 6, "snare": 6}
    with pytest.raises(data_mod.DataError, match="not found"):
        load_voice_clips(data_dirs=[str(shots)], holdout_kits=["elsewhere"], **kw)


def test_a_known_folder_names_its_kit_and_licence(tmp_path, monkeypatch):
    """A folder of :data:`training.voices.FOLDER_SOURCES` (LMMS's drum samples) gives its clips the
    kit name and the licence of record there."""
    from training import voices

    shots = write_one_shots(tmp_path / "drums", ["kick01.wav", "clap01.wav"])
    spec = dict(kit="Some samples/drums", licence="GPL-2+ (a copyright file)")
    monkeypatch.setitem(voices.FOLDER_SOURCES, str(shots.resolve()), spec)
    train, _, _ = voices.load_voice_clips(
        sample_rate=8000,
        data_dirs=[str(shots)],
        voices=("kick", "clap"),
        durations=dict(kick=0.05, clap=0.05),
    )
    assert {(c.entry["kit"], c.entry["licence"]) for c in train} == {tuple(spec.values())}


def test_training_takes_voices_from_a_folder_beside_kits(tmp_path):
    """The trainer's --data folders join the kits for a conditioned model: their clips train, the
    model's data lists them, its config the folder (which the evaluation reads back)."""
    from training.evaluate import data_folders

    kits = write_two_voice_kits(tmp_path)
    shots = write_one_shots(tmp_path / "shots", ["kick01.wav", "snare_electro01.wav"], seed=9)
    out = tmp_path / "d.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=1, every=1)
    assert main(argv + ["--data", str(shots), "--val-fraction", "0"]) == 0
    model = fastdrum.load_model(out)
    folder = sorted(e["instrument"] for e in model.meta["data"] if e["kit"] == "shots")
    assert folder == ["kick01", "snare_electro01"]
    assert data_folders(model) == (str(shots),)
    assert data_folders(model, ["/elsewhere"]) == ("/elsewhere",)


def test_batches_voice_dropout_replaces_voices_and_draws_them_last():
    """--voice-dropout p: each row's voice becomes V (the model's "any") with probability p, drawn after
    everything else, so the rest of the batch, input noise included, is that of a run without it."""
    ts = _noise_set()
    plain = ts.batch(np.random.default_rng(2), 400, gain_db=6.0, input_noise=1.0)
    dropped = ts.batch(
        np.random.default_rng(2), 400, gain_db=6.0, input_noise=1.0, voice_dropout=0.3
    )
    for k in ("codes", "inputs", "mask", "starts"):
        np.testing.assert_array_equal(getattr(dropped, k), getattr(plain, k))
    kept = dropped.voices != ts.V
    np.testing.assert_array_equal(dropped.voices[kept], plain.voices[kept])
    assert dropped.voices.dtype == np.int32 and set(np.unique(dropped.voices)) <= {0, 1, 2}
    assert abs((~kept).mean() - 0.3) < 0.07  # 400 Bernoulli(0.3) draws: sd 0.023
    off = ts.batch(np.random.default_rng(2), 400, gain_db=6.0, input_noise=1.0, voice_dropout=0.0)
    np.testing.assert_array_equal(off.voices, plain.voices)


@pytest.mark.slow
def test_voice_dropout_from_initial_weights_adds_an_unconditional_voice(tmp_path, capsys):
    """--voice-dropout with --init-from a model of the same voices: the run starts from that model's
    weights, the "any" voice's embedding from the mean of the others'; the export has the voice, with
    every clip's decay times, and generate() plays it and guides away from it; the evaluation's
    voices leave it out."""
    from training.evaluate import model_voices

    kits = write_two_voice_kits(tmp_path)
    base = tmp_path / "base.npz"
    argv = tiny_conditioned_argv(kits, base, tmp_path / "run0", steps=2, every=2)
    argv += ["--decay-conditioning", "--val-fraction", "0", "--preemphasis", "0.85"]
    assert main(argv) == 0
    first = fastdrum.load_model(base)
    out = tmp_path / "cfg.npz"
    argv1 = tiny_conditioned_argv(kits, out, tmp_path / "run1", steps=1, every=1)
    argv1 += ["--decay-conditioning", "--val-fraction", "0", "--preemphasis", "0.85"]
    argv1 += ["--learning-rate", "1e-12"]
    assert main(argv1 + ["--voice-dropout", "0.5", "--init-from", str(base)]) == 0
    model = fastdrum.load_model(out)
    assert model.voices == ("kick", "snare", "any")
    emb = model.weights["voice_emb"]
    np.testing.assert_allclose(emb[:2], first.weights["voice_emb"], atol=1e-6)
    np.testing.assert_allclose(emb[2], first.weights["voice_emb"].mean(axis=0), atol=1e-6)
    for k in ("dil_w", "cond_w", "decay_w", "out2_w"):
        np.testing.assert_allclose(model.weights[k], first.weights[k], atol=1e-6)
    voices = model.meta["voices"]
    assert voices["any"]["decays"] == sorted(voices["kick"]["decays"] + voices["snare"]["decays"])
    assert voices["any"]["duration"] == 0.05
    assert model.meta["config"]["voice_dropout"] == 0.5
    assert model_voices(model) == ["kick", "snare"]
    from training import model_card

    assert model_card.main([str(out)]) == 0
    card = (tmp_path / "cfg.md").read_text()
    assert "| voice dropout | 0.5: each window's voice replaced by 'any'" in card
    assert "| initial weights | those of base.npz |" in card
    y = fastdrum.generate(model, 2, voice="any", seed=0, duration=0.01, backend="numpy")
    g = fastdrum.generate(
        model, 2, voice="kick", negative_voice="any", guidance=1.0, seed=0, duration=0.01
    )
    assert y.shape == g.shape == (2, 80) and np.isfinite(g).all()
    # --train-only voice_emb with every window dropped: the network and the voices' embeddings stay
    # exactly as they were; only "any"'s embedding moves from the mean.
    only = tmp_path / "only.npz"
    argv3 = tiny_conditioned_argv(kits, only, tmp_path / "run4", steps=3, every=3)
    argv3 += ["--decay-conditioning", "--val-fraction", "0", "--preemphasis", "0.85"]
    argv3 += ["--voice-dropout", "1", "--train-only", "voice_emb", "--init-from", str(base)]
    assert main(argv3 + ["--learning-rate", "0.01"]) == 0
    fitted = fastdrum.load_model(only)
    assert fitted.voices == ("kick", "snare", "any")
    for k, w in first.weights.items():
        if k != "voice_emb":
            np.testing.assert_array_equal(fitted.weights[k], w, err_msg=k)
    np.testing.assert_array_equal(fitted.weights["voice_emb"][:2], first.weights["voice_emb"])
    moved = fitted.weights["voice_emb"][2] - first.weights["voice_emb"].mean(axis=0)
    assert np.abs(moved).max() > 1e-3
    for v in ("kick", "snare"):  # so the voices generate what they did
        np.testing.assert_array_equal(
            fastdrum.generate(fitted, 2, voice=v, seed=1, duration=0.01, backend="numpy"),
            fastdrum.generate(first, 2, voice=v, seed=1, duration=0.01, backend="numpy"),
        )
    assert model_card.main([str(only)]) == 0
    card = (tmp_path / "only.md").read_text()
    assert (
        "| initial weights | those of base.npz; only voice_emb trained, every other weight kept |"
        in card
    )
    # What does not fit is named, with exit status 2.
    capsys.readouterr()
    assert main(argv3[:-2] + ["--learning-rate", "0.01"]) == 2
    assert "--train-only needs --init-from" in capsys.readouterr().err
    other = tiny_conditioned_argv(kits, tmp_path / "x.npz", tmp_path / "run2", steps=1, every=1)
    other[other.index("kick,snare")] = "snare"
    assert main(other + ["--decay-conditioning", "--init-from", str(base)]) == 2
    assert "its voices ['kick', 'snare'] are not the run's ['snare']" in capsys.readouterr().err
    assert main(other + ["--init-from", str(tmp_path / "missing.npz")]) == 2
    assert "--init-from" in capsys.readouterr().err
    argv2 = tiny_conditioned_argv(kits, tmp_path / "y.npz", tmp_path / "run3", steps=1, every=1)
    assert main(argv2 + ["--decay-conditioning", "--init-from", str(base)]) == 2
    assert "pre-emphasis 0.85" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--voice-dropout", "1.5"], "--voice-dropout must lie in [0, 1]"),
        (["--voice-dropout", "nan"], "--voice-dropout must lie in [0, 1]"),
    ],
)
def test_voice_dropout_out_of_range_is_refused(tmp_path, capsys, extra, message):
    argv = tiny_conditioned_argv(tmp_path, tmp_path / "x.npz", tmp_path / "run", steps=1, every=1)
    assert main(argv + extra) == 2
    assert message in capsys.readouterr().err


def test_voice_dropout_needs_voices(tmp_path, capsys):
    argv = ["--instrument", "kick", "--out", str(tmp_path / "k.npz"), "--voice-dropout", "0.1"]
    assert main(argv) == 2
    assert "--voice-dropout needs --voices" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "nan"])
def test_input_drift_share_must_lie_in_0_1(value):
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    args = build_parser().parse_args(
        ["--voices", "kick", "--crop", "64", "--out", "m.npz", "--input-drift-share", value]
    )
    with pytest.raises(ConfigError, match="--input-drift-share must lie in"):
        _check_args(args)


# ------------------------------------------------------------------- pre-emphasis a voice
def test_each_voice_is_pre_emphasised_with_its_own_coefficient():
    rng = np.random.default_rng(6)
    clips = [
        [data_mod.Clip(audio=rng.uniform(-0.5, 0.5, n).astype(np.float32), entry={})]
        for n in (400, 300)
    ]
    kw = dict(crop=64, receptive_field=16, quantization_channels=32)
    ts = TrainingSet(clips, [[], []], [400, 300], preemphasis=[0.85, 0.0], **kw)
    for v, (a, n) in enumerate([(0.85, 400), (0.0, 300)]):
        want = preemphasize(data_mod.fit(clips[v][0].audio, n), a)
        np.testing.assert_allclose(ts.base[v][0, :n], want, rtol=1e-6)
    # One coefficient for both is the same as that coefficient given a voice.
    one = TrainingSet(clips, [[], []], [400, 300], preemphasis=0.85, **kw)
    both = TrainingSet(clips, [[], []], [400, 300], preemphasis=[0.85, 0.85], **kw)
    for x, y in zip(one.base, both.base):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--instrument", "kick", "--voice-preemphasis", "kick=0"], "needs --voices"),
        (["--voices", "kick", "--voice-preemphasis", "snare=0"], "needs a voice of \\('kick',\\)"),
        (["--voices", "kick", "--voice-preemphasis", "kick=1"], "a coefficient in \\(-1, 1\\)"),
        (["--voices", "kick", "--voice-preemphasis", "kick"], "'kick' is not VOICE=NUMBER"),
    ],
)
def test_voice_preemphasis_is_checked(argv, match):
    from training.errors import ConfigError
    from training.train import _check_args, _preemphasis, build_parser

    args = build_parser().parse_args(["--crop", "64", "--out", "m.npz", *argv])
    with pytest.raises(ConfigError, match=match):
        _check_args(args)
        _preemphasis(args, ["kick"])


def test_voice_preemphasis_gives_every_other_voice_the_run_s():
    from training.train import _preemphasis, build_parser

    args = build_parser().parse_args(
        ["--voices", "all", "--out", "m.npz", "--preemphasis", "0.85"]
        + ["--voice-preemphasis", "hihat=0,openhat=0.5"]
    )
    assert _preemphasis(args, ["kick", "hihat", "openhat", "any"]) == [0.85, 0.0, 0.5, 0.85]
    args.voice_preemphasis = None
    assert _preemphasis(args, ["kick", "hihat"]) == 0.85


@pytest.mark.slow
def test_conditioned_training_exports_a_coefficient_a_voice(tmp_path):
    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=2, every=2)
    argv += ["--preemphasis", "0.85", "--voice-preemphasis", "snare=0.25"]
    assert main(argv) == 0
    model = fastdrum.load_model(out)
    assert model.voices == ("kick", "snare")
    assert model.preemphasis == pytest.approx((0.85, 0.25))
    assert model.meta["config"]["voice_preemphasis"] == "snare=0.25"


# ------------------------------------------------------------------- leaky integration (format 3)
def test_each_voice_is_integrated_with_its_own_coefficient():
    rng = np.random.default_rng(6)
    clips = [
        [data_mod.Clip(audio=rng.uniform(-0.5, 0.5, n).astype(np.float32), entry={})]
        for n in (400, 300)
    ]
    kw = dict(crop=64, receptive_field=16, quantization_channels=32, preemphasis=0.5)
    ts = TrainingSet(clips, [[], []], [400, 300], integration=[0.0, 0.9], **kw)
    for v, (b, n) in enumerate([(0.0, 400), (0.9, 300)]):
        y = data_mod.fit(clips[v][0].audio, n)
        np.testing.assert_allclose(ts.base[v][0, :n], preemphasize(y, 0.5, b), rtol=1e-6)
        want = fastdrum.mulaw.preemphasis(y, 0.5, b)  # the definition generation undoes
        np.testing.assert_allclose(ts.base[v][0, :n], want, rtol=1e-4, atol=1e-6)
    assert not np.allclose(
        ts.base[1][0, :300], preemphasize(data_mod.fit(clips[1][0].audio, 300), 0.5)
    )


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--voices", "kick", "--integration", "1"], "--integration must lie in \\[0, 1\\)"),
        (["--voices", "kick", "--integration", "-0.5"], "--integration must lie in"),
        (["--instrument", "kick", "--voice-integration", "kick=0.9"], "needs --voices"),
        (["--voices", "kick", "--voice-integration", "kick=1"], "a coefficient in \\[0, 1\\)"),
    ],
)
def test_integration_options_are_checked(argv, match):
    from training.errors import ConfigError
    from training.train import _check_args, _integration, build_parser

    args = build_parser().parse_args(["--crop", "64", "--out", "m.npz", *argv])
    with pytest.raises(ConfigError, match=match):
        _check_args(args)
        _integration(args, ["kick"])


@pytest.mark.slow
def test_conditioned_training_exports_an_integration_a_voice(tmp_path):
    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=2, every=2)
    argv += ["--preemphasis", "0.85", "--voice-integration", "snare=0.9"]
    assert main(argv) == 0
    model = fastdrum.load_model(out)
    assert model.format_version == 3 and model.integration == pytest.approx((0.0, 0.9))
    assert model.meta["config"]["voice_integration"] == "snare=0.9"
    assert fastdrum.generate(model, 2, voice="snare", duration=0.01, seed=0).shape == (2, 80)


# ---------------------------------------------------------------------------- low shelf (format 4)
def test_each_voice_is_shelved_with_its_own_shelf():
    """The shelf comes first, in float64 (a long pole), then the integration and the pre-emphasis:
    the definition generation undoes (fastdrum.mulaw.preemphasis)."""
    rng = np.random.default_rng(7)
    clips = [
        [data_mod.Clip(audio=rng.uniform(-0.5, 0.5, n).astype(np.float32), entry={})]
        for n in (400, 300)
    ]
    shelf = fastdrum.mulaw.shelf_coefficients(40, 16000)
    kw = dict(crop=64, receptive_field=16, quantization_channels=32, preemphasis=0.5)
    ts = TrainingSet(clips, [[], []], [400, 300], shelf=([0.0, shelf[0]], [0.0, shelf[1]]), **kw)
    for v, (s, n) in enumerate([((0.0, 0.0), 400), (shelf, 300)]):
        y = data_mod.fit(clips[v][0].audio, n)
        want = fastdrum.mulaw.preemphasis(y, 0.5, 0.0, s)
        np.testing.assert_allclose(ts.base[v][0, :n], want, rtol=1e-4, atol=1e-6)
    assert not np.allclose(
        ts.base[1][0, :300], preemphasize(data_mod.fit(clips[1][0].audio, 300), 0.5)
    )


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--voices", "kick", "--shelf-hz", "-1"], "--shelf-hz must lie in \\[0, 1000\\] Hz"),
        (["--voices", "kick", "--shelf-hz", "nan"], "--shelf-hz must lie in"),
        (["--voices", "kick", "--shelf-db", "0"], "--shelf-db must lie in \\(0, 60\\] dB"),
        (
            ["--instrument", "kick", "--voice-shelf-hz", "kick=40"],
            "--voice-shelf-hz needs --voices",
        ),
        (["--voices", "kick", "--voice-shelf-hz", "kick=2000"], "a corner in \\[0, 1000\\] Hz"),
        (["--voices", "kick", "--sample-rate", "4000", "--shelf-hz", "1000"], "must lie below 636"),
    ],
)
def test_shelf_options_are_checked(argv, match):
    from training.errors import ConfigError
    from training.train import _check_args, _shelf, build_parser

    args = build_parser().parse_args(["--crop", "64", "--out", "m.npz", *argv])
    with pytest.raises(ConfigError, match=match):
        _check_args(args)
        _shelf(args, ["kick"])


def test_the_shelf_of_a_run_is_its_corner_and_depth():
    from training.train import _shelf, build_parser

    def shelf(*argv):
        args = build_parser().parse_args(["--voices", "kick,snare", "--out", "m.npz", *argv])
        return _shelf(args, ["kick", "snare"])

    assert shelf() == (0.0, 0.0)
    c, p = fastdrum.mulaw.shelf_coefficients(40, 16000, 30)
    assert shelf("--sample-rate", "16000", "--shelf-hz", "40", "--shelf-db", "30") == (c, p)
    c, p = fastdrum.mulaw.shelf_coefficients(40, 44100)
    assert shelf("--sample-rate", "44100", "--voice-shelf-hz", "kick=40") == ([c, 0.0], [p, 0.0])


@pytest.mark.slow
def test_conditioned_training_exports_a_shelf_a_voice(tmp_path):
    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=2, every=2)
    argv += ["--preemphasis", "0.85", "--voice-shelf-hz", "kick=40"]
    assert main(argv) == 0
    model = fastdrum.load_model(out)
    c, p = fastdrum.mulaw.shelf_coefficients(40, model.sample_rate)
    assert model.format_version == 4 and model.integration == 0.0
    assert model.shelf_zero == pytest.approx((c, 0.0)) and model.shelf_pole == pytest.approx(
        (p, 0.0)
    )
    assert model.meta["config"]["voice_shelf_hz"] == "kick=40"
    assert fastdrum.generate(model, 2, voice="kick", duration=0.01, seed=0).shape == (2, 80)


def test_init_from_checks_each_voice_s_shelf(tmp_path):
    """The fit of 'any' on a format-4 model: the file's shelf a voice, 'any' the run's (none)."""
    from fastdrum.testing import random_model
    from training.errors import ConfigError
    from training.train import _initial_weights, build_parser

    c, p = fastdrum.mulaw.shelf_coefficients(40, 16000)
    path = tmp_path / "base.npz"
    random_model(
        seed=0,
        voices=["kick", "hihat"],
        shelf_zero=[c, 0.0],
        shelf_pole=[p, 0.0],
        sample_rate=16000,
    ).save(path)

    def args(*extra):
        return build_parser().parse_args(
            ["--voices", "kick,hihat", "--out", "m.npz", "--init-from", str(path)]
            + ["--sample-rate", "16000", *extra]
        )

    arrays = _initial_weights(args("--voice-shelf-hz", "kick=40"), ["kick", "hihat", "any"])
    assert arrays["voice_emb"].shape[0] == 3
    with pytest.raises(ConfigError, match="low shelf \\(0.984"):
        _initial_weights(args(), ["kick", "hihat"])


def test_init_from_checks_each_voice_s_integration(tmp_path):
    """The fit of 'any' on a format-3 model: the file's integration a voice, 'any' the run's."""
    from fastdrum.testing import random_model
    from training.errors import ConfigError
    from training.train import _initial_weights, build_parser

    path = tmp_path / "base.npz"
    random_model(seed=0, voices=["kick", "hihat"], integration=[0.0, 0.995]).save(path)

    def args(*extra):
        return build_parser().parse_args(
            ["--voices", "kick,hihat", "--out", "m.npz", "--init-from", str(path)]
            + ["--sample-rate", "16000", *extra]
        )

    arrays = _initial_weights(args("--voice-integration", "hihat=0.995"), ["kick", "hihat", "any"])
    assert arrays["voice_emb"].shape[0] == 3
    with pytest.raises(ConfigError, match="integration \\(0.0, 0.995"):
        _initial_weights(args(), ["kick", "hihat"])


# ------------------------------------------------------------------- the mean's low band
def _mean_lf_share_numpy(logits, codes, mask, levels, width):
    """:func:`training.train.mean_lf_share` by its definition, in NumPy."""
    p = np.exp(logits - logits.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    m = (mask > 0).astype(np.float64)
    err = (p @ levels - levels[codes[:, 1:]]) * m
    lows, n = 0.0, 0
    for b in range(err.shape[0]):
        for t in range(err.shape[1] - width + 1):
            if m[b, t : t + width].all():
                lows += err[b, t : t + width].mean() ** 2
                n += 1
    return (lows / max(n, 1)) / ((err**2).sum() / m.sum())


def test_mean_lf_share_is_its_definition():
    from training.train import mean_lf_share

    rng = np.random.default_rng(7)
    Q, B, T, W = 16, 3, 60, 7
    levels = fastdrum.mu_law_decode(np.arange(Q), Q)
    logits = rng.normal(size=(B, T - 1, Q))
    codes = rng.integers(0, Q, size=(B, T))
    mask = (rng.random((B, T - 1)) > 0.1) * np.where(rng.random((B, T - 1)) > 0.5, 1.0, 3.0)
    got = mean_lf_share(tf, tf.constant(logits), tf.constant(codes), tf.constant(mask), levels, W)
    assert float(got) == pytest.approx(
        _mean_lf_share_numpy(logits, codes, mask, levels, W), rel=1e-9
    )


def test_mean_lf_share_of_white_and_of_a_constant_bias():
    from training.train import mean_lf_share

    Q, T, W = 256, 20001, 50
    levels = fastdrum.mu_law_decode(np.arange(Q), Q)
    rng = np.random.default_rng(8)
    codes = rng.integers(100, 156, size=(4, T))
    sure = np.full((4, T - 1, Q), -30.0)  # a model sure of one code at each step
    mask = np.ones((4, T - 1))

    def share(predicted, codes):
        logits = sure.copy()
        np.put_along_axis(logits, predicted[..., None], 30.0, axis=2)
        return float(mean_lf_share(tf, tf.constant(logits), tf.constant(codes), mask, levels, W))

    # errors independent from step to step: 1 / W
    assert share(rng.integers(100, 156, size=(4, T - 1)), codes) == pytest.approx(1 / W, rel=0.1)
    # one code too high at every step of a steady signal: a constant bias, all in the low band
    steady = np.full((4, T), 140)
    assert share(steady[:, 1:] + 1, steady) == pytest.approx(1.0, rel=1e-4)
    # half a window too high, half too low: little in the low band
    flip = np.where((np.arange(T - 1) // (W // 2)) % 2 == 0, 141, 139)
    assert share(np.broadcast_to(flip, (4, T - 1)), steady) < 0.1


@pytest.mark.slow
def test_mean_lf_weight_changes_training_and_off_is_off(tmp_path):
    kits = write_two_voice_kits(tmp_path)

    def run(name, *extra):
        out = tmp_path / f"{name}.npz"
        argv = tiny_conditioned_argv(kits, out, tmp_path / name, steps=3, every=3)
        assert main([*argv, "--seed", "3", *extra]) == 0
        return fastdrum.load_model(out)

    plain = run("plain")
    off = run("off", "--mean-lf-weight", "0")
    on = run("on", "--mean-lf-weight", "100", "--mean-lf-hz", "400")
    for k, w in plain.weights.items():
        np.testing.assert_array_equal(off.weights[k], w)
    assert any(not np.array_equal(on.weights[k], w) for k, w in plain.weights.items())
    assert on.meta["config"]["mean_lf_weight"] == 100 and on.meta["config"]["mean_lf_hz"] == 400
    assert plain.meta["config"]["mean_lf_weight"] is None


def test_mean_lf_band_must_fit_a_window():
    from training.errors import ConfigError
    from training.network import WaveNetConfig
    from training.train import _mean_lf, build_parser

    args = build_parser().parse_args(
        ["--voices", "kick", "--crop", "2000", "--out", "m.npz", "--mean-lf-weight", "10"]
        + ["--sample-rate", "44100", "--dilations", "1..256x2"]
    )
    cfg = WaveNetConfig(dilations=[2**i for i in range(9)] * 2)
    with pytest.raises(ConfigError, match="moving average \\(1470 samples\\) is longer"):
        _mean_lf(args, cfg)
    args.crop = 8192
    weight, width, levels = _mean_lf(args, cfg)
    assert (weight, width, levels.shape) == (10.0, 1470, (256,))


def test_init_from_checks_each_voice_s_coefficient(tmp_path):
    from fastdrum.testing import random_model
    from training.errors import ConfigError
    from training.train import _initial_weights, build_parser

    path = tmp_path / "base.npz"
    random_model(seed=0, voices=["kick", "snare"], preemphasis=[0.85, 0.25]).save(path)

    def args(*extra):
        return build_parser().parse_args(
            ["--voices", "kick,snare", "--out", "m.npz", "--init-from", str(path)]
            + ["--sample-rate", "16000", "--preemphasis", "0.85", *extra]
        )

    # the run of its 'any' voice: the file's two coefficients, and one more for 'any'
    arrays = _initial_weights(args("--voice-preemphasis", "snare=0.25"), ["kick", "snare", "any"])
    assert arrays["voice_emb"].shape[0] == 3
    with pytest.raises(ConfigError, match="pre-emphasis \\(0.85"):
        _initial_weights(args(), ["kick", "snare"])  # one coefficient: not the file's two
    with pytest.raises(ConfigError, match="the run's are 16000 Hz, \\[0.85, 0.5\\]"):
        _initial_weights(args("--voice-preemphasis", "snare=0.5"), ["kick", "snare"])


def test_highpass_takes_out_what_lies_below_its_corner_and_nothing_before_the_onset():
    """--highpass-hz: each clip through a second-order Butterworth high-pass (scipy.signal), causal;
    off (0), the clips as given."""
    from training.data import Clip
    from training.evaluate import lf_share_db
    from training.train import _highpassed, build_parser

    sr = 16000
    t = np.arange(sr) / sr
    body = np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.1)
    wander = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)  # an offset and a 4 Hz wander under the hit
    audio = np.r_[np.zeros(100), body + wander].astype(np.float32)
    clip = Clip(audio=audio, entry={"voice": "clap"})
    args = build_parser().parse_args(
        ["--voices", "clap", "--out", "m.npz", "--sample-rate", "16000"]
    )
    assert _highpassed([clip], args)[0] is clip  # off by default
    args.highpass_hz = 200.0
    (out,) = _highpassed([clip], args)
    assert out.entry is clip.entry and out.audio.dtype == np.float32
    assert not out.audio[:100].any()  # causal: nothing before the onset
    assert lf_share_db(out.audio, sr) < lf_share_db(audio, sr) - 30.0
    # the 1 kHz body keeps its level (Butterworth: -0.02 dB at five times the corner)
    late = slice(100 + sr // 10, 100 + sr // 5)
    gain = np.std(out.audio[late]) / np.std(body[sr // 10 : sr // 5])
    assert abs(20 * np.log10(gain)) < 0.2


@pytest.mark.parametrize("hz", ["-1", "600", "nan"])
def test_highpass_corner_is_checked(hz):
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    args = build_parser().parse_args(["--voices", "clap", "--crop", "64", "--out", "m.npz"])
    args.highpass_hz = float(hz)
    with pytest.raises(ConfigError, match="--highpass-hz must lie in \\[0, 500\\] Hz"):
        _check_args(args)
