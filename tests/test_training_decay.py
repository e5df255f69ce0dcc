"""Decay-time conditioning in training (``--decay-conditioning``): each row's decay feature, the
network's projection of it, the exported decay_w and meta, and a tiny run end to end."""

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
soundfile = pytest.importorskip("soundfile")

from test_training_voices import tiny_conditioned_argv, tiny_net, write_two_voice_kits  # noqa: E402

import fastdrum  # noqa: E402
from fastdrum._reference import decay_z  # noqa: E402
from training import data as data_mod  # noqa: E402
from training.batches import FADE_FRACTION, TrainingSet  # noqa: E402
from training.evaluate import decay_times  # noqa: E402
from training.train import main  # noqa: E402

SR = 8000
N = 2400  # samples per clip (0.3 s: its fade-out falls 20 dB in its last 10 ms)
SHIFTS = (0.0, 2.0)


def _clips(taus, seed):
    """Noise clips decaying as exp(-t / tau) (tau in samples; None: no decay), of varied lengths."""
    rng = np.random.default_rng(seed)
    out = []
    for i, tau in enumerate(taus):
        n = N - 100 + 60 * i  # some cut, some padded to N
        env = np.ones(n) if tau is None else np.exp(-np.arange(n) / tau)
        audio = (rng.uniform(-0.5, 0.5, n) * env).astype(np.float32)
        out.append(data_mod.Clip(audio=audio, entry={}))
    return out


def _set(
    decay_conditioning=True, envelope=None, shifts=SHIFTS, end_mask=False, crop=0, attack=None
):
    train = [_clips([40.0, 120.0, None], 1), _clips([15.0, 300.0], 2)]
    val = [_clips([80.0], 3), []]
    return TrainingSet(
        train,
        val,
        [N, N],
        crop=crop,
        receptive_field=16,
        quantization_channels=256,
        preemphasis=0.85,
        shifts=shifts,
        fade=True,
        sample_rate=SR,
        decay_conditioning=decay_conditioning,
        envelope=envelope,
        end_mask=end_mask,
        attack=attack,
    )


def _seconds(clip, shift):
    """The definition: decay_times of the clip cut or padded to N and peak-normalised (before the
    fade), or the clip length where it never falls 20 dB."""
    y = data_mod.fit(data_mod.pitch_shift(clip.audio, shift), N, 0.95)
    d = decay_times(y[None], SR, drop_db=20.0)[0]
    return d if np.isfinite(d) else N / SR


def test_each_row_carries_its_clips_decay_feature():
    on, off = _set(), _set(decay_conditioning=False)
    clips = [_clips([40.0, 120.0, None], 1), _clips([15.0, 300.0], 2)]
    base = np.array([_seconds(c, 0.0) for voice in clips for c in voice])
    # The never-decaying clip gets the clip length, though its fade-out falls 20 dB before the end.
    assert base[2] == N / SR and decay_times(_faded(clips[0][2])[None], SR)[0] < N / SR
    logs = np.log(base)
    assert on.decay_stats == dict(mean=logs.mean(), scale=logs.std(), drop_db=20.0)
    assert on.voice_decays == [sorted(round(x, 3) for x in base[:3]), sorted(base[3:].round(3))]
    assert off.decay_stats is None and off.voice_decays is None
    b_on = on.batch(np.random.default_rng(7), 24)
    b_off = off.batch(np.random.default_rng(7), 24)
    # Nothing more is drawn: the rows are those without the option, and carry z.
    for k in ("codes", "voices", "mask", "starts", "inputs"):
        np.testing.assert_array_equal(getattr(b_on, k), getattr(b_off, k))
    np.testing.assert_array_equal(b_off.decay_z, np.zeros(24, np.float32))
    assert b_on.decay_z.dtype == np.float32
    seen = set()
    for b, v in enumerate(b_on.voices):
        # The row's clip and pitch version: the one whose codes the row holds.
        (ver, clip), *rest = [
            (s, c)
            for s in range(len(SHIFTS))
            for c in range(len(clips[v]))
            if np.array_equal(data_mod.encode(on.audio[v][s, c], 256), b_on.codes[b])
        ]
        assert not rest
        seen.add((v, ver, clip))
        d = _seconds(clips[v][clip], SHIFTS[ver])
        want = np.float32(decay_z(d, logs.mean(), logs.std()))
        assert b_on.decay_z[b] == want
    assert len(seen) > 5  # rows of both voices, both pitch versions, several clips
    # Validation windows: the validation clips' decays, with the training clips' mean and scale.
    val = on.validation()
    d = _seconds(_clips([80.0], 3)[0], 0.0)
    np.testing.assert_array_equal(val.decay_z, [np.float32(decay_z(d, logs.mean(), logs.std()))])
    np.testing.assert_array_equal(off.validation().decay_z, [0.0])


def _faded(clip):
    from training.batches import fade_out

    return fade_out(data_mod.fit(clip.audio, N, 0.95), FADE_FRACTION)


def test_alike_clips_get_the_floored_scale():
    clips = [[data_mod.Clip(audio=np.ones(N, np.float32) * 0.3, entry={}) for _ in range(2)]]
    ts = TrainingSet(
        clips,
        [[]],
        [N],
        crop=0,
        receptive_field=4,
        quantization_channels=32,
        sample_rate=SR,
        decay_conditioning=True,
    )
    assert ts.decay_stats["scale"] == 0.1 and ts.voice_decays == [[0.3, 0.3]]
    np.testing.assert_array_equal(ts.batch(np.random.default_rng(0), 4).decay_z, np.zeros(4))


def test_a_new_decay_projection_changes_nothing_and_a_set_one_is_exported():
    from training.errors import TrainingError
    from training.network import WaveNet, to_fastdrum_model

    cfg = dict(
        quantization_channels=32,
        residual_channels=4,
        dilation_channels=4,
        skip_channels=8,
        dilations=[1, 2, 4],
    )
    plain = WaveNet(cfg, n_voices=2, embedding_size=3)
    net = WaveNet(cfg, n_voices=2, embedding_size=3, decay_conditioning=True)
    new = net.conditioning_weights()["decay_w"]
    assert new.shape == (3, 8) and not new.any()  # zero-initialised
    net.set_weights_from(dict(plain.format1_weights(), **plain.conditioning_weights(), decay_w=new))
    codes = np.random.default_rng(3).integers(0, 32, (2, 30)).astype(np.int32)
    voices, zs = np.array([0, 1], np.int32), np.array([-1.5, 2.0], np.float32)
    np.testing.assert_array_equal(net(codes, voices, None, zs), plain(codes, voices))
    decay_w = np.random.default_rng(4).standard_normal((3, 8)).astype(np.float32)
    net.set_weights_from(
        dict(plain.format1_weights(), **plain.conditioning_weights(), decay_w=decay_w)
    )
    np.testing.assert_array_equal(net.conditioning_weights()["decay_w"], decay_w)
    meta = dict(
        decay=dict(mean=-1.0, scale=0.5, drop_db=20.0),
        voices={"kick": dict(decays=[0.2, 0.3]), "snare": dict(decays=[0.1])},
    )
    model = to_fastdrum_model(net, sample_rate=SR, meta=meta, voices=["kick", "snare"])
    keras_logits = net(codes, voices, None, zs).numpy()
    for row, voice in enumerate(("kick", "snare")):
        d = float(np.exp(-1.0 + 0.5 * float(zs[row])))  # the decay whose z is zs[row]
        np.testing.assert_allclose(
            model.forward(codes[row], voice=voice, decay=d), keras_logits[row], rtol=1e-4, atol=1e-4
        )
    with pytest.raises(TrainingError, match="lack decay_w"):
        net.set_weights_from(dict(plain.format1_weights(), **plain.conditioning_weights()))


def test_decay_conditioning_needs_voices():
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    args = build_parser().parse_args(
        ["--instrument", "kick", "--out", "m.npz", "--decay-conditioning"]
    )
    with pytest.raises(ConfigError, match="--decay-conditioning needs --voices"):
        _check_args(args)


@pytest.mark.slow
def test_training_with_decay_conditioning_exports_and_generates(tmp_path, capsys):
    """--decay-conditioning: a few steps train; the file has decay_w, meta["decay"] and every
    voice's decays; it generates with and without decay=; snapshots average; the card has a row;
    a resume must keep the option."""
    from training import model_card
    from training.average import averaged_model

    kits = write_two_voice_kits(tmp_path)
    # Decays of 0.01 s to longer than the clip (0.05 s): the clips' z differ.
    rng = np.random.default_rng(5)
    for i, wav in enumerate(sorted(kits.glob("*/*.wav"))):
        tau = (30.0, 60.0, 150.0, 400.0)[i % 4]
        soundfile.write(wav, rng.standard_normal(800) * np.exp(-np.arange(800) / tau) * 0.4, 16000)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=3, every=3)
    assert main(argv + ["--decay-conditioning", "--snapshot-every", "3"]) == 0
    model = fastdrum.load_model(out)
    assert model.meta["config"]["decay_conditioning"] is True
    assert model.weights["decay_w"].shape == (model.n_layers, 2 * model.dilation_channels)
    assert np.abs(model.weights["decay_w"]).max() > 0  # trained from zero
    assert set(model.voice_decays) == {"kick", "snare"}
    assert len({x for d in model.voice_decays.values() for x in d}) > 1
    for d in model.voice_decays.values():
        assert len(d) >= 1 and list(d) == sorted(d) and (d > 0).all() and (d <= 0.05).all()
    stats = model.decay
    assert (
        stats["drop_db"] == 20.0
        and stats["scale"] > 0
        and np.isfinite(model.meta["losses"]["val_last"])
    )
    drawn = fastdrum.generate(model, 3, voice="kick", seed=0, duration=0.02)
    given = fastdrum.generate(
        model, 3, voice="kick", seed=0, duration=0.02, decay=[0.005, 0.02, 0.5]
    )
    for y in (drawn, given):
        assert y.shape == (3, 160) and np.isfinite(y).all() and np.abs(y).max() <= 1.0
    np.testing.assert_array_equal(
        fastdrum.generate(model, 2, voice="snare", seed=1, duration=0.01, backend="numpy"),
        fastdrum.generate(model, 2, voice="snare", seed=1, duration=0.01, backend="c"),
    )
    averaged = averaged_model(model, tmp_path / "run", 3)
    assert averaged.decay == model.decay
    snap = np.load(tmp_path / "run" / "snapshots" / "step-000003.npz")
    np.testing.assert_array_equal(averaged.weights["decay_w"], snap["decay_w"])
    assert model_card.main([str(out)]) == 0
    assert "| decay time | each clip's time to fall 20 dB" in (tmp_path / "drums.md").read_text()
    capsys.readouterr()
    assert main(argv + ["--resume", "--steps", "4"]) == 2  # without --decay-conditioning: refused
    assert "option 'decay_conditioning' was True, now None" in capsys.readouterr().err


# ----------------------------------------------------------------------------- --envelope
ENV = {"hold": 0.002, "floor_db": -50.0}


def _env_set(envelope=ENV, shifts=SHIFTS):
    return _set(envelope=envelope, shifts=shifts)


def _contour_seconds(clip, shift, env=ENV):
    """The definition of an envelope model's decay (docs/format.md, "Envelope"): over the samples
    of the clip (cut or padded to N, peak-normalised, before the fade) past the hold and above the
    floor, the bounds (t - hold) / -log10(|y| / peak) sorted, the one at ceil(0.999 (m - 1)), kept
    within [0.005 s, 4 N / SR]."""
    y = np.abs(data_mod.fit(data_mod.pitch_shift(clip.audio, shift), N, 0.95).astype(np.float64))
    peak, bounds = y.max(), []
    for i, v in enumerate(y):
        t = i / SR - env["hold"]
        if t > 0 and v / peak > 10 ** (env["floor_db"] / 20):
            fall = -math.log10(min(v / peak, 1.0))
            bounds.append(t / fall if fall > 0 else math.inf)
    if not bounds:
        return 0.005
    d = sorted(bounds)[math.ceil(0.999 * (len(bounds) - 1))]
    return min(max(d, 0.005), 4 * N / SR)


def _normalised(clip, shift, env=ENV):
    """The definition (docs/format.md, "Envelope"): the clip cut or padded to N and peak-normalised,
    faded, divided by max(10 ** (-max(0, t - hold) / d), 10 ** (floor_db / 20)) of its own decay d,
    clipped to [-1, 1]; then pre-emphasised as any clip."""
    from training.batches import fade_out, preemphasize

    y = fade_out(data_mod.fit(data_mod.pitch_shift(clip.audio, shift), N, 0.95), FADE_FRACTION)
    t = np.arange(N) / SR
    d = _contour_seconds(clip, shift, env)
    e = np.maximum(10.0 ** (-np.maximum(0.0, t - env["hold"]) / d), 10.0 ** (env["floor_db"] / 20))
    return preemphasize(np.clip(y / e, -1, 1).astype(np.float32), 0.85), np.abs(y / e) > 1


def test_envelope_clips_are_the_clips_divided_by_the_envelope_of_their_decay():
    on, off = _env_set(), _set()
    clips = [_clips([40.0, 120.0, None], 1), _clips([15.0, 300.0], 2)]
    over, total = [0, 0], [0, 0]
    for v, voice in enumerate(clips):
        for ver, shift in enumerate(SHIFTS):
            for c, clip in enumerate(voice):
                want, clipped = _normalised(clip, shift)
                np.testing.assert_allclose(on.audio[v][ver, c], want, rtol=0, atol=2e-7)
                over[v] += clipped.sum()
                total[v] += clipped.size
        for c, clip in enumerate(voice):  # the primers' clips: the unshifted ones
            np.testing.assert_allclose(on.base[v][c], _normalised(clip, 0.0)[0], rtol=0, atol=2e-7)
    want_val, val_clipped = _normalised(_clips([80.0], 3)[0], 0.0)
    np.testing.assert_allclose(on.val[0][0], want_val, rtol=0, atol=2e-7)
    assert on.val[1] is None
    over[0] += val_clipped.sum()
    total[0] += val_clipped.size
    # The clipping is counted per voice (training clips of every version, and validation clips).
    assert on.envelope_clipped == pytest.approx([over[0] / total[0], over[1] / total[1]], abs=0)
    assert on.envelope == ENV and off.envelope is None and off.envelope_clipped is None
    # The envelope is no identity: the fast decays' tails are lifted many times over.
    assert (
        np.abs(on.audio[1][0, 0, N // 2 :]).max() > 10 * np.abs(off.audio[1][0, 0, N // 2 :]).max()
    )
    # The decays recorded, and z, are the contours of the unshifted training clips.
    base = [[_contour_seconds(c, 0.0) for c in voice] for voice in clips]
    assert on.voice_decays == [sorted(round(d, 3) for d in voice) for voice in base]
    logs = np.log(np.concatenate(base))
    assert on.decay_stats["mean"] == pytest.approx(logs.mean(), rel=1e-12)
    assert on.decay_stats["scale"] == pytest.approx(max(logs.std(), 0.1), rel=1e-12)
    assert on.voice_decays != off.voice_decays  # not the 20 dB times
    # Same draws; only the codes (and z) are those of the normalised clips.
    b_on, b_off = on.batch(np.random.default_rng(7), 24), off.batch(np.random.default_rng(7), 24)
    for k in ("voices", "mask", "starts"):
        np.testing.assert_array_equal(getattr(b_on, k), getattr(b_off, k))
    assert not np.array_equal(b_on.codes, b_off.codes)
    codes, voices = on.primers(20)
    np.testing.assert_array_equal(
        codes, np.concatenate([data_mod.encode(a[:, :20], 256) for a in on.base])
    )
    np.testing.assert_array_equal(on.validation().codes, data_mod.encode(on.val[0], 256))


def test_envelope_decay_is_the_upper_contour():
    from training.batches import envelope_decay_seconds

    env = {"hold": 1.0, "floor_db": -60.0}
    # Past the hold, 0.1 one second on and 0.01 two seconds on both give d = 1; 0.5 three seconds
    # on gives 3 / log10(2) and is the largest of the four bounds, so the 99.9th percentile.
    y = [[1.0, 1.0, 0.1, 0.01, 0.5]]
    assert envelope_decay_seconds(y, 1, env).tolist() == [pytest.approx(3 / math.log10(2))]
    # Scaling a clip changes nothing (the bound is relative to its peak); a quantile of 0 takes the
    # smallest bound; below the floor and within the hold count for nothing.
    assert envelope_decay_seconds(np.multiply(y, 0.3), 1, env)[0] == pytest.approx(
        3 / math.log10(2)
    )
    assert envelope_decay_seconds(y, 1, env, quantile=0.0)[0] == pytest.approx(1.0)
    assert envelope_decay_seconds([[1.0, 0.9, 1e-4, 1e-4]], 1, env).tolist() == [0.005]
    # A clip that holds its peak past the hold gets the largest d, 4 clip lengths; silence the least.
    assert envelope_decay_seconds([[1.0, 0.5, 0.5, 1.0], [0.0] * 4], 2, env).tolist() == [
        8.0,
        0.005,
    ]
    # On a noisy exponential decay with one loud late spike, the contour ignores the spike (one
    # sample of about 7,000) but lies above all but 0.1% of the samples.
    rng = np.random.default_rng(1)
    sr, n = 8000, 8000
    t = np.arange(n) / sr
    clip = rng.uniform(-1, 1, n) * 10 ** (-t / 0.4)  # 20 dB per 0.4 s
    clip[6000] = 0.9
    d = envelope_decay_seconds([clip], sr, {"hold": 0.01, "floor_db": -60.0})[0]
    e = np.maximum(10 ** (-np.maximum(0, t - 0.01) / d), 1e-3)
    a = np.abs(clip) / np.abs(clip).max()
    over = (a > e).sum() / ((t > 0.01) & (a > 1e-3)).sum()
    assert 0 < over <= 0.001 and 0.3 < d < 0.5


def test_envelope_normalise_is_the_definition():
    from training.batches import envelope_normalise

    rng = np.random.default_rng(0)
    clips = rng.uniform(-0.95, 0.95, (3, 500)).astype(np.float32)
    d = np.array([0.01, 0.05, 1.0])
    y, clipped = envelope_normalise(clips, d, SR, ENV)
    t = np.arange(500) / SR
    e = np.maximum(10.0 ** (-np.maximum(0.0, t - 0.002) / d[:, None]), 10.0 ** (-50 / 20))
    np.testing.assert_array_equal(y, np.clip(clips / e, -1, 1).astype(np.float32))
    assert clipped == int((np.abs(clips / e) > 1).sum()) > 0 and y.dtype == np.float32


def test_an_envelope_needs_decay_conditioning_in_the_training_set_and_the_trainer():
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    with pytest.raises(ValueError, match="an envelope needs decay_conditioning"):
        TrainingSet(
            [_clips([40.0], 1)],
            [[]],
            [N],
            crop=0,
            receptive_field=4,
            quantization_channels=32,
            sample_rate=SR,
            envelope=ENV,
        )
    base = ["--voices", "kick,snare", "--crop", "64", "--out", "m.npz"]
    for extra, match in (
        (["--envelope"], "--envelope needs --decay-conditioning"),
        (["--decay-conditioning", "--envelope-hold", "0.1"], "need --envelope"),
        (["--decay-conditioning", "--envelope-floor-db", "-40"], "need --envelope"),
        (["--decay-conditioning", "--envelope", "--envelope-hold", "-0.1"], "in \\[0, 1\\] sec"),
        (["--decay-conditioning", "--envelope", "--envelope-hold", "nan"], "--envelope-hold"),
        (["--decay-conditioning", "--envelope", "--envelope-floor-db", "0"], "\\[-120, 0\\) dB"),
        (["--decay-conditioning", "--envelope", "--envelope-floor-db", "-200"], "floor-db"),
    ):
        with pytest.raises(ConfigError, match=match):
            _check_args(build_parser().parse_args(base + extra))


@pytest.mark.slow
def test_training_with_an_envelope_exports_it_and_generates(tmp_path, capsys):
    """--envelope: a few steps train; the file's meta has the envelope (the defaults, or the options
    given); it generates; the card has a row; a resume must keep the option."""
    from training import model_card

    kits = write_two_voice_kits(tmp_path)
    rng = np.random.default_rng(5)
    for i, wav in enumerate(sorted(kits.glob("*/*.wav"))):
        tau = (30.0, 60.0, 150.0, 400.0)[i % 4]
        soundfile.write(wav, rng.standard_normal(800) * np.exp(-np.arange(800) / tau) * 0.4, 16000)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=3, every=3)
    argv += ["--decay-conditioning", "--envelope", "--preemphasis", "0.85"]
    assert main(argv + ["--envelope-hold", "0.002"]) == 0
    log = capsys.readouterr().out
    assert "envelope: clips divided by 1 for 0.002 s" in log and "normalised clips" in log
    model = fastdrum.load_model(out)
    assert model.envelope == {"hold": 0.002, "floor_db": -60.0} == model.meta["envelope"]
    assert model.meta["config"]["envelope"] is True
    assert model.meta["config"]["envelope_hold"] == 0.002
    assert model.decay is not None and np.isfinite(model.meta["losses"]["val_last"])
    y = fastdrum.generate(model, 3, voice="kick", seed=0, duration=0.05, decay=[0.003, 0.01, 0.04])
    assert y.shape == (3, 400) and np.isfinite(y).all() and np.abs(y).max() <= 1.0
    # From 37.5 ms on, long past hold + 3 d = 11 ms, the 3 ms clip's envelope is its floor, -60 dB:
    # at most that times the largest de-emphasised code, (1 + a) / (1 - a).
    assert np.abs(y[0, 300:]).max() <= 10 ** (-60 / 20) * (1 + 0.85) / (1 - 0.85)
    assert model_card.main([str(out)]) == 0
    card = (tmp_path / "drums.md").read_text()
    assert (
        "| envelope | the network models each clip divided by an envelope of its decay time: 1 "
        "for 0.002 s" in card
    )
    assert "| decay time | each clip's upper contour" in card and "(`--end-mask`)" not in card
    assert main(argv + ["--envelope-hold", "0.002", "--resume", "--steps", "4"]) == 0
    capsys.readouterr()
    no_env = [a for a in argv if a != "--envelope"]
    assert main(no_env + ["--resume", "--steps", "5"]) == 2  # without --envelope: refused
    assert "option 'envelope' was True, now None" in capsys.readouterr().err
    # The defaults: hold 0.03 s, floor -60 dB.
    out2 = tmp_path / "drums2.npz"
    argv2 = tiny_conditioned_argv(kits, out2, tmp_path / "run2", steps=2, every=2)
    assert main(argv2 + ["--decay-conditioning", "--envelope"]) == 0
    assert fastdrum.load_model(out2).envelope == {"hold": 0.03, "floor_db": -60.0}


# ----------------------------------------------------------------------------- --end-mask
def _end(clip, shift, env=ENV):
    """The definition: one past the last sample of the clip (cut or padded to N, peak-normalised,
    faded) whose magnitude exceeds 10 ** (floor_db / 20); 0 if none does."""
    from training.batches import fade_out

    y = fade_out(data_mod.fit(data_mod.pitch_shift(clip.audio, shift), N, 0.95), FADE_FRACTION)
    end = 0
    for i, v in enumerate(np.abs(y.astype(np.float64))):
        if v > 10 ** (env["floor_db"] / 20):
            end = i + 1
    return end


def test_clip_ends_is_the_definition():
    from training.batches import clip_ends

    assert clip_ends([[0.5, 0.2, 0.0, 0.001], [0.0] * 4, [0.0, 0.0, 0.0, 0.9]], -40.0).tolist() == [
        2,
        0,
        4,
    ]
    # Exactly at the floor is not above it; the shape is the clips' leading shape.
    assert clip_ends(np.full((2, 3, 5), 0.01), -40.0).tolist() == [[0] * 3] * 2
    assert clip_ends(np.full((2, 3, 5), 0.0101), -40.0).tolist() == [[5] * 3] * 2


def test_end_mask_leaves_out_every_target_past_its_clips_end():
    """Each clip's end is the definition's; a row's mask is 0 exactly on the targets at or past its
    clip's end (and, off the onset, the receptive field's warm-up); windows off the onset start
    where some target is trained; the codes, voices and decays are those of a set without it."""
    rf, crop = 16, 600
    on = _set(envelope=ENV, end_mask=True, crop=crop)
    off = _set(envelope=ENV, crop=crop)
    clips = [_clips([40.0, 120.0, None], 1), _clips([15.0, 300.0], 2)]
    for v, voice in enumerate(clips):
        want = [[_end(c, s) for c in voice] for s in SHIFTS]
        assert on.ends[v].tolist() == want
    assert on.val_ends[0].tolist() == [_end(_clips([80.0], 3)[0], 0.0)] and on.val_ends[1] is None
    ends = [int(e) for v in range(2) for e in on.ends[v].ravel()]
    assert min(ends) < N // 2 and max(ends) > (1 - FADE_FRACTION) * N  # early; within the fade
    assert off.ends is None and off.val_ends is None
    for seed in range(20):
        b = on.batch(np.random.default_rng(seed), 8)
        for row in range(8):
            v, start = int(b.voices[row]), int(b.starts[row])
            match = [
                (ver, c)
                for ver in range(len(SHIFTS))
                for c in range(on.audio[v].shape[1])
                if np.array_equal(
                    b.codes[row], data_mod.encode(on.audio[v][ver, c, start : start + crop], 256)
                )
            ]
            end = {int(on.ends[v][ver, c]) for ver, c in match}
            assert len(end) == 1, "the row's clip (and so its end) is one"
            end = end.pop()
            target = start + 1 + np.arange(crop - 1)  # the sample each target is
            want = (target < end).astype(np.float32)
            if start > 0:
                want[: rf - 1] = 0.0
                assert start <= end - rf - 1
            np.testing.assert_array_equal(b.mask[row], want)
            assert b.mask[row].any() or start == 0
    val = on.validation()
    t = 1 + np.arange(val.mask.shape[1])
    np.testing.assert_array_equal(val.mask[0], (t < on.val_ends[0][0]).astype(np.float32))
    np.testing.assert_array_equal(val.codes, off.validation().codes)


def test_end_mask_needs_an_envelope():
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    with pytest.raises(ValueError, match="end_mask needs an envelope"):
        _set(end_mask=True)
    base = ["--voices", "kick,snare", "--crop", "64", "--out", "m.npz", "--decay-conditioning"]
    with pytest.raises(ConfigError, match="--end-mask needs --envelope"):
        _check_args(build_parser().parse_args(base + ["--end-mask"]))
    _check_args(build_parser().parse_args(base + ["--envelope", "--end-mask"]))


def test_a_batch_with_every_target_masked_has_a_norm_of_one():
    """A batch of --end-mask can mask every target: its loss is then 0, not 0 / 0."""
    from training import distribute
    from training.batches import Batch

    tf = pytest.importorskip("tensorflow")
    batch = Batch(
        codes=np.zeros((2, 8), np.int32),
        voices=np.zeros(2, np.int32),
        mask=np.zeros((2, 7), np.float32),
    )
    strategy = tf.distribute.get_strategy()  # the default: one replica
    values = distribute.distribute_batch(strategy, batch, False)
    assert float(values[6]) == 1.0


def test_a_step_on_a_batch_with_every_target_masked_is_zero_and_changes_nothing():
    """The same on the plain path (no strategy): the step's loss and the validation loss are 0, not
    NaN, and the weights stay as they were (a zero gradient). Without the norm's floor of 1 both are
    0 / 0."""
    import keras

    from training.batches import Batch
    from training.train import _make_steps

    net = tiny_net(quantization_channels=16, embedding_size=2)
    optimizer = keras.optimizers.Adam(1e-2, global_clipnorm=1.0)
    optimizer.build(net.trainable_variables)
    train_step, val_step = _make_steps(
        tf, net, optimizer, None, conditioned=True, xla=False, clipnorm=1.0
    )
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 16, (2, 12)).astype(np.int32)
    batch = Batch(
        codes=codes, voices=np.array([0, 1], np.int32), mask=np.zeros((2, 11), np.float32)
    )
    before = [v.numpy().copy() for v in net.trainable_variables]
    loss, _ = train_step(batch, False)
    assert loss == 0.0 and val_step(batch) == 0.0
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, net.trainable_variables))
    counted = Batch(
        codes=codes, voices=np.array([0, 1], np.int32), mask=np.ones((2, 11), np.float32)
    )
    loss = val_step(counted)  # the same step counts the targets of a batch that has some
    assert math.isfinite(loss) and loss > 0


def test_the_attack_weight_weighs_the_first_targets_of_onset_windows_only():
    """With attack (K, w): a row from the onset has w on its first K targets and the end mask's (or
    1) elsewhere; a row off the onset is as without it; the codes and the validation are the same."""
    K, w, crop = 50, 4.0, 600
    plain = _set(envelope=ENV, end_mask=True, crop=crop)
    weighed = _set(envelope=ENV, end_mask=True, crop=crop, attack=(K, w))
    seen = set()
    for seed in range(10):
        a = plain.batch(np.random.default_rng(seed), 8)
        b = weighed.batch(np.random.default_rng(seed), 8)
        np.testing.assert_array_equal(a.codes, b.codes)
        for row in range(8):
            want = a.mask[row].copy()
            if a.starts[row] == 0:
                want[:K] *= w
            np.testing.assert_array_equal(b.mask[row], want)
            seen.add(bool(a.starts[row] == 0))
    assert seen == {True, False}
    np.testing.assert_array_equal(weighed.validation().mask, plain.validation().mask)
    for bad in [(0, 2.0), (10, 0.0), (10, -1.0), (10, float("nan")), (2.5, 2.0)]:
        with pytest.raises(ValueError, match="attack must be"):
            _set(attack=bad)


def test_attack_weight_options_are_checked():
    from training.errors import ConfigError
    from training.train import _attack, _check_args, build_parser

    base = ["--voices", "kick,snare", "--crop", "64", "--out", "m.npz", "--sample-rate", "16000"]
    for extra, msg in [
        (["--attack-ms", "10"], "--attack-ms needs --attack-weight"),
        (["--attack-weight", "0"], "--attack-weight must be a number above 0, got 0.0"),
        (["--attack-weight", "nan"], "--attack-weight must be a number above 0"),
        (["--attack-weight", "2", "--attack-ms", "0"], r"--attack-ms must lie in \(0, 1000\]"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            _check_args(build_parser().parse_args(base + extra))
    assert _attack(build_parser().parse_args(base)) is None
    assert _attack(build_parser().parse_args(base + ["--attack-weight", "3"])) == (320, 3.0)
    got = _attack(build_parser().parse_args(base + ["--attack-weight", "2", "--attack-ms", "5"]))
    assert got == (80, 2.0)


def test_the_training_loss_is_the_weighted_mean_of_the_targets_nll():
    """The step's loss with a weighted mask is sum(w * nll) / sum(w), nll the targets' own (the
    validation step's of each target alone, weight 1)."""
    import keras

    from training.batches import Batch
    from training.train import _make_steps

    net = tiny_net(quantization_channels=16, embedding_size=2)
    optimizer = keras.optimizers.SGD(0.0)  # the weights stay: both steps see one network
    optimizer.build(net.trainable_variables)
    train_step, val_step = _make_steps(
        tf, net, optimizer, None, conditioned=True, xla=False, clipnorm=0.0
    )
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 16, (2, 12)).astype(np.int32)
    voices = np.array([0, 1], np.int32)
    nll = np.zeros((2, 11))
    for r in range(2):
        for t in range(11):
            one = np.zeros((2, 11), np.float32)
            one[r, t] = 1.0
            nll[r, t] = val_step(Batch(codes=codes, voices=voices, mask=one))
    mask = np.ones((2, 11), np.float32)
    mask[:, :3] = 4.0
    mask[1, 9:] = 0.0
    loss, _ = train_step(Batch(codes=codes, voices=voices, mask=mask), False)
    assert abs(float(loss) - (mask * nll).sum() / mask.sum()) < 1e-4
    assert abs((mask * nll).sum() / mask.sum() - nll[mask > 0].mean()) > 1e-3  # the weights count


@pytest.mark.slow
def test_training_with_an_end_mask_logs_and_records_it(tmp_path, capsys):
    kits = write_two_voice_kits(tmp_path)
    rng = np.random.default_rng(5)
    for i, wav in enumerate(sorted(kits.glob("*/*.wav"))):
        n = (300, 500, 800)[i % 3]  # clips that end before the voice's length
        soundfile.write(wav, rng.standard_normal(n) * np.exp(-np.arange(n) / 200.0) * 0.4, 16000)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=3, every=3)
    assert main(argv + ["--decay-conditioning", "--envelope", "--end-mask"]) == 0
    log = capsys.readouterr().out
    assert "end mask: no loss past a clip's end" in log
    model = fastdrum.load_model(out)
    assert model.meta["config"]["end_mask"] is True
    from training import model_card

    assert model_card.main([str(out)]) == 0
    assert "above the floor (`--end-mask`) |" in (tmp_path / "drums.md").read_text()
    assert np.isfinite(model.meta["losses"]["val_last"]) and np.isfinite(
        model.meta["losses"]["train"]
    )
    # A resume must keep it.
    assert main(argv + ["--decay-conditioning", "--envelope", "--resume", "--steps", "4"]) == 2
    assert "option 'end_mask' was True, now None" in capsys.readouterr().err


@pytest.mark.slow
def test_training_with_an_attack_weight_logs_and_records_it(tmp_path, capsys):
    kits = write_two_voice_kits(tmp_path)
    out = tmp_path / "drums.npz"
    argv = tiny_conditioned_argv(kits, out, tmp_path / "run", steps=3, every=3)
    assert main(argv + ["--attack-weight", "3", "--attack-ms", "2"]) == 0
    assert "the first 16 targets (2 ms) weigh 3 in the training loss" in capsys.readouterr().out
    model = fastdrum.load_model(out)
    assert model.meta["config"]["attack_weight"] == 3.0
    assert model.meta["config"]["attack_ms"] == 2.0
    from training import model_card

    assert model_card.main([str(out)]) == 0
    card = (tmp_path / "drums.md").read_text()
    assert "the loss of the first 2 ms of targets counts 3 times (`--attack-weight`" in card
    # A resume must keep it.
    assert main(argv + ["--resume", "--steps", "4"]) == 2
    assert "option 'attack_ms' was 2.0, now None" in capsys.readouterr().err
