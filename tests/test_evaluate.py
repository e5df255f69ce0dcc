"""The quality evaluation's measures against known signals."""

import numpy as np
import pytest

import fastdrum
from training.evaluate import max_normalised_xcorr, novelty, sound_checks, variety

SR = 22050


def decaying(freq, tau, rng, noise=0.0, n=SR // 4):
    t = np.arange(n) / SR
    return np.exp(-t / tau) * (np.sin(2 * np.pi * freq * t) + noise * rng.standard_normal(n))


def test_xcorr_of_shifted_scaled_copy_is_one():
    rng = np.random.default_rng(0)
    x = decaying(100, 0.05, rng, noise=0.3)
    assert max_normalised_xcorr(x, -0.3 * np.roll(x, 37)) == pytest.approx(1.0, abs=0.02)


def test_xcorr_of_independent_noise_is_small():
    rng = np.random.default_rng(1)
    assert max_normalised_xcorr(rng.standard_normal(4000), rng.standard_normal(4000)) < 0.1


def test_novelty_counts_copies():
    rng = np.random.default_rng(2)
    train = np.array([rng.standard_normal(2000) for _ in range(5)])
    gen = np.vstack([train[:2] * 0.5, [rng.standard_normal(2000) for _ in range(8)]])
    assert novelty(gen, train)["copy_rate"] == pytest.approx(0.2)


def test_variety_counts_duplicate_pairs():
    rng = np.random.default_rng(3)
    clips = [rng.standard_normal(2000) for _ in range(4)]
    clips.append(clips[0] * 2)  # one duplicate pair among C(5, 2) = 10
    assert variety(np.array(clips))["duplicate_pair_rate"] == pytest.approx(0.1)


def test_pairs_of_one_set_are_max_normalised_xcorr_of_each_pair_once():
    """variety's pairs, each transformed once, are max_normalised_xcorr of pairs i < j, in the order
    of np.triu_indices; and against another set, every pair."""
    from training.evaluate import _pairwise_max_xcorr, max_normalised_xcorr

    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((6, 300)), rng.standard_normal((3, 300))
    want = [max_normalised_xcorr(a[i], a[j]) for i, j in zip(*np.triu_indices(6, k=1))]
    np.testing.assert_allclose(_pairwise_max_xcorr(a), want, rtol=1e-9)
    cross = [[max_normalised_xcorr(x, y) for y in b] for x in a]
    np.testing.assert_allclose(_pairwise_max_xcorr(a, b), cross, rtol=1e-9)
    assert _pairwise_max_xcorr(a[:1]).shape == (0,)


def test_sound_checks():
    rng = np.random.default_rng(4)
    good = decaying(200, 0.03, rng)
    flat = np.sin(np.arange(SR // 4) * 0.1)
    silent = np.zeros(SR // 4)
    nan = good.copy()
    nan[10] = np.nan
    dc = good + 0.5
    r = sound_checks(np.array([good, flat, silent, nan, dc]))
    assert r["finite"] == pytest.approx(0.8)
    assert r["not_silent"] == pytest.approx(0.8)
    assert r["all_sound_checks"] == pytest.approx(0.2)


def _kick(rng):
    """A synthetic kick: a decaying 45-70 Hz sine under a little noise."""
    return decaying(rng.uniform(45, 70), rng.uniform(0.08, 0.15), rng, noise=0.05)


def _hat(rng):
    """A synthetic closed hat: a short burst of differentiated (blue) noise."""
    return np.diff(decaying(0, rng.uniform(0.01, 0.03), rng, noise=1.0), prepend=0)


def test_classifier_separates_known_instruments():
    pytest.importorskip("sklearn")
    from training.evaluate import InstrumentClassifier

    rng = np.random.default_rng(5)

    clips = [_kick(rng) for _ in range(15)] + [_hat(rng) for _ in range(15)]
    labels = ["kick"] * 15 + ["hihat"] * 15
    clf = InstrumentClassifier().fit(clips, labels, SR)
    test = [_kick(rng) for _ in range(10)] + [_hat(rng) for _ in range(10)]
    assert list(clf.predict(test, SR)) == ["kick"] * 10 + ["hihat"] * 10


def test_unseen_kit_accuracy_leaves_each_kit_out_of_the_fit():
    """Voices alike in every kit are named right from kits the classifier never saw (1.0); voices whose
    kinds swap between the two kits are named wrong every time (0.0): each kit's clips are judged by a
    classifier fitted on the other kit alone, where its kick is the other's hat."""
    pytest.importorskip("sklearn")
    from training.evaluate import noise_clips, unseen_kit_accuracy

    rng = np.random.default_rng(6)

    n = 8
    noise = noise_clips(10, SR // 2, SR, seed=0)
    clips = [_kick(rng) for _ in range(3 * n)] + [_hat(rng) for _ in range(3 * n)]
    labels = ["kick"] * 3 * n + ["hihat"] * 3 * n
    kits = (["a", "b", "c"] * n)[: 3 * n] * 2
    assert unseen_kit_accuracy(clips, labels, kits, SR, noise=noise) == {"kick": 1.0, "hihat": 1.0}
    # Kit "a" calls its kicks hats and its hats kicks.
    swapped = [_kick(rng) for _ in range(n)] + [_hat(rng) for _ in range(n)]
    swapped += [_hat(rng) for _ in range(n)] + [_kick(rng) for _ in range(n)]
    labels = ["kick"] * n + ["hihat"] * n + ["kick"] * n + ["hihat"] * n
    kits = ["b"] * 2 * n + ["a"] * 2 * n
    assert unseen_kit_accuracy(swapped, labels, kits, SR, noise=noise) == {
        "kick": 0.0,
        "hihat": 0.0,
    }


def test_hf_share_of_known_mixture():
    from training.evaluate import hf_share_db

    t = np.arange(SR // 2) / SR
    # 100 Hz at amplitude 1 and 8 kHz at amplitude 0.1: the 8 kHz share is 0.01 / 1.01 of the energy.
    y = np.sin(2 * np.pi * 100 * t) + 0.1 * np.sin(2 * np.pi * 8000 * t)
    assert hf_share_db(y, SR) == pytest.approx(10 * np.log10(0.01 / 1.01), abs=0.2)


def test_lf_share_of_known_mixture_and_of_dc():
    from training.evaluate import lf_share_db

    t = np.arange(SR // 2) / SR
    # 100 Hz at amplitude 1 and 15 Hz at amplitude 0.1: the 15 Hz share is 0.01 / 1.01 of the energy.
    y = np.sin(2 * np.pi * 100 * t) + 0.1 * np.sin(2 * np.pi * 15 * t)
    assert lf_share_db(y, SR) == pytest.approx(10 * np.log10(0.01 / 1.01), abs=0.3)
    # A DC offset is rumble too: 0.1 under a 1 kHz tone of RMS 1 is 0.01 / 1.01 of the energy.
    z = np.sqrt(2) * np.sin(2 * np.pi * 1000 * t) + 0.1
    assert lf_share_db(z, SR) == pytest.approx(10 * np.log10(0.01 / 1.01), abs=0.3)
    assert lf_share_db(np.sin(2 * np.pi * 1000 * t), SR) < -60


def test_evaluate_clips_fails_clips_that_rumble():
    """Decaying tones with a slow drift under them (a 12 Hz wave, as a de-emphasised model's noise
    makes) fail the rumble criterion against the same tones without it, which pass it."""
    from training.evaluate import evaluate_clips

    rng = np.random.default_rng(11)
    T, sr = SR // 2, SR
    t = np.arange(T) / sr

    def toms(n, drift):
        return np.array(
            [
                decaying(rng.uniform(90, 110), 0.1, rng, n=T)
                + drift * np.exp(-t / 0.2) * np.sin(2 * np.pi * 12 * t + rng.uniform(0, 6))
                for _ in range(n)
            ]
        )

    real = _FakeRealClips(sr, toms(8, 0.0), toms(8, 0.0), voice="tom_low")
    clean = evaluate_clips(toms(8, 0.0), "tom_low", real)
    assert clean["passes"]["rumble"] and clean["lf_db"] < clean["lf_db_real"] + 3
    rumbling = evaluate_clips(toms(8, 0.3), "tom_low", real)
    assert not rumbling["passes"]["rumble"] and not rumbling["pass"]
    assert rumbling["lf_db"] > rumbling["lf_db_real"] + 10


def test_evaluate_clips_fails_clips_too_quiet_for_the_level_they_were_trained_at():
    """Decaying tones peak-normalised as training normalises its clips (0.95) pass the level criterion,
    and still do 6 dB down (the gain augmentation's floor); the same tones with a third of them 14 dB
    down fail it, and no other criterion changes its verdict."""
    from training.evaluate import QUIET_PEAK, evaluate_clips, quiet_share
    from training.tune import shortfall

    rng = np.random.default_rng(13)
    T = SR // 2

    def toms(n):
        clips = np.array([decaying(rng.uniform(90, 110), 0.1, rng, n=T) for _ in range(n)])
        return 0.95 * clips / np.abs(clips).max(axis=1, keepdims=True)

    assert abs(QUIET_PEAK - 0.95 * 10 ** (-12 / 20)) < 1e-12
    real = _FakeRealClips(SR, toms(8), toms(8), voice="tom_low")
    loud = evaluate_clips(toms(9), "tom_low", real)
    assert loud["passes"]["level"] and loud["quiet"] == 0.0 and loud["quiet_real"] == 0.0
    assert evaluate_clips(toms(9) * 10 ** (-6 / 20), "tom_low", real)["passes"]["level"]
    y = toms(9)
    y[::3] *= 10 ** (-14 / 20)
    assert quiet_share(y) == pytest.approx(1 / 3)
    quiet = evaluate_clips(y, "tom_low", real)
    assert not quiet["passes"]["level"] and not quiet["pass"]
    failed = {k for k, ok in quiet["passes"].items() if not ok}
    assert failed == {k for k, ok in loud["passes"].items() if not ok} | {"level"}
    assert shortfall(quiet) - shortfall(dict(quiet, quiet=0.0)) == pytest.approx(
        (1 / 3 - 0.1) / 0.1
    )


def test_rows_of_pitched_voices_carry_their_pitch():
    """A tom row gives the median peak pitch of its clips and of the real ones (decaying tones built
    at 150 Hz, the real ones at 100 and 90 Hz), and the pitch line prints them; a cymbal row has no
    pitch, and rows without one print no line."""
    from training.evaluate import evaluate_clips, pitch_line

    rng = np.random.default_rng(12)
    T = SR // 2

    def toms(n, f):
        return np.array([decaying(f * rng.uniform(0.99, 1.01), 0.1, rng, n=T) for _ in range(n)])

    real = _FakeRealClips(SR, toms(8, 100.0), toms(8, 90.0), voice="tom_high")
    row = evaluate_clips(toms(8, 150.0), "tom_high", real)
    assert row["pitch_hz"] == pytest.approx(150, abs=3)
    assert row["pitch_hz_real"] == pytest.approx(100, abs=3)
    assert row["pitch_hz_train"] == pytest.approx(90, abs=3)
    assert "pitch" not in row["passes"]
    row["source"] = "drums"
    assert pitch_line([row]).endswith(
        f"tom_high {row['pitch_hz']:.0f} ({row['pitch_hz_real']:.0f}; "
        f"{row['pitch_hz_train']:.0f}) [drums]"
    )
    cymbal = evaluate_clips(
        toms(8, 150.0), "crash", _FakeRealClips(SR, toms(8, 100.0), toms(8, 90.0), voice="crash")
    )
    assert not any(k.startswith("pitch") for k in cymbal)
    assert pitch_line([cymbal]) == ""


def test_rows_carry_the_partials_that_last_and_the_line_prints_them():
    """Ringing tones (real held-out and training here) against noise: the row's persistence is the
    generated clips' median, the real clips' beside it, and the line prints the three; rows without
    the figure (files written before it) print no line."""
    from training.evaluate import baseline_clips, evaluate_clips, persistence_line

    rng = np.random.default_rng(3)
    T = SR // 2
    tones = np.array([decaying(f, 0.2, rng, n=T) for f in (3000, 3100, 3200, 3300)])
    real = _FakeRealClips(SR, tones, tones[::-1], voice="crash")
    row = evaluate_clips(
        baseline_clips("decaying-noise", 8, T, SR, seed=5, decays=[0.2]), "crash", real
    )
    assert abs(row["persistence"]) < 0.1 < 0.5 < row["persistence_real"]
    assert row["persistence_train"] == pytest.approx(row["persistence_real"])
    row["source"] = "drums"
    assert persistence_line([row]).endswith(
        f"crash {row['persistence']:.3f} ({row['persistence_real']:.3f}; "
        f"{row['persistence_train']:.3f}) [drums]"
    )
    old = {k: v for k, v in row.items() if not k.startswith("persistence")}
    assert persistence_line([old]) == ""


def test_decay_and_abrupt_cut():
    from training.evaluate import abrupt_cuts, decays

    rng = np.random.default_rng(6)
    good = decaying(200, 0.05, rng, n=SR // 2)
    steady = rng.standard_normal(SR // 2) * 0.3
    cut = steady.copy()
    cut[SR // 4 :] = 0.0  # noise, then digital silence
    assert decays(np.array([good, steady, cut])).tolist() == [True, False, True]
    assert abrupt_cuts(np.array([good, steady, cut]), SR).tolist() == [False, False, True]


def test_mel_distance_zero_for_same_clips_and_large_for_noise():
    from training.evaluate import colored_noise, mel_distance_db

    rng = np.random.default_rng(7)
    kicks = np.array([decaying(rng.uniform(50, 70), 0.1, rng, n=SR // 2) for _ in range(8)])
    assert mel_distance_db(kicks, kicks, SR) == 0.0
    other = np.array([decaying(rng.uniform(50, 70), 0.1, rng, n=SR // 2) for _ in range(8)])
    white = colored_noise(8, SR // 2, rng, exponent=0)
    assert mel_distance_db(white, kicks, SR) > 5 * mel_distance_db(other, kicks, SR)


def test_colored_noise_slopes():
    from training.evaluate import colored_noise

    rng = np.random.default_rng(8)
    n = 1 << 14
    f = np.fft.rfftfreq(n)
    for exponent, slope in ((0, 0.0), (1, -10 * np.log10(2)), (2, -20 * np.log10(2))):
        p = (np.abs(np.fft.rfft(colored_noise(16, n, rng, exponent=exponent), axis=1)) ** 2).mean(
            axis=0
        )
        lo = p[(f > 0.01) & (f < 0.02)].mean()
        hi = p[(f > 0.02) & (f < 0.04)].mean()
        assert 10 * np.log10(hi / lo) == pytest.approx(slope, abs=1.0)  # dB per octave


def test_decaying_noise_baseline_is_white_noise_under_the_envelopes_of_the_given_decays():
    from training.evaluate import baseline_clips, decay_times

    T, sr = 8000, 8000
    y = baseline_clips("decaying-noise", 12, T, sr, seed=3, decays=[0.1, 0.4])
    # Each clip's level over a 50 ms window is that of an envelope holding 30 ms, then falling 20 dB
    # per d of 0.1 s or 0.4 s (white noise, its window RMS within 2 dB of the envelope's).
    rms = np.sqrt((y[:, 800:1200] ** 2).mean(axis=1)) / np.sqrt((y[:, :200] ** 2).mean(axis=1))
    want = {d: 10 ** (-(0.125 - 0.03) / d) for d in (0.1, 0.4)}
    for r in rms:
        d = min(want, key=lambda k: abs(np.log(want[k] / r)))
        assert 20 * np.log10(r / want[d]) == pytest.approx(0, abs=2)
    assert {min(want, key=lambda k: abs(np.log(want[k] / r))) for r in rms} == {0.1, 0.4}
    # They decay as the evaluation counts decay, and the 20 dB time is that of their envelope.
    d20 = decay_times(y, sr)
    assert ((d20 > 0.08) & (d20 < 0.16) | (d20 > 0.35) & (d20 < 0.47)).all()
    np.testing.assert_array_equal(
        y, baseline_clips("decaying-noise", 12, T, sr, seed=3, decays=[0.1, 0.4])
    )
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_clips("silence", 2, T, sr)


def test_with_weights_takes_a_snapshots_weights_and_keeps_the_models_frame(tmp_path):
    import fastdrum
    from fastdrum._format import WEIGHT_KEYS
    from training.evaluate import with_weights

    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    rng = np.random.default_rng(0)
    arrays = {
        k: v + rng.normal(0, 0.05, v.shape).astype(np.float32) for k, v in model.weights.items()
    }
    snap = tmp_path / "step-000250.npz"
    np.savez(snap, **arrays)
    m = with_weights(model, snap)
    assert m.meta["steps"] == 250 and list(m.voices) == list(model.voices)
    assert m.sample_rate == model.sample_rate and m.preemphasis == model.preemphasis
    for k in WEIGHT_KEYS + ("voice_emb", "cond_w"):
        np.testing.assert_array_equal(m.weights[k], arrays[k])
    np.testing.assert_array_equal(m.primers, model.primers)
    voice = model.voices[0]
    assert not np.array_equal(
        fastdrum.generate(m, 2, voice=voice, seed=1),
        fastdrum.generate(model, 2, voice=voice, seed=1),
    )
    del arrays["cond_w"]
    np.savez(tmp_path / "bad.npz", **arrays, stray=np.zeros(3))
    with pytest.raises(fastdrum.ModelFormatError, match="bad.npz"):
        with_weights(model, tmp_path / "bad.npz")


@pytest.mark.parametrize(
    "content",
    [b"step 250: not an archive\n", b"PK\x03\x04 cut short", None, "missing"],
    ids=["text", "damaged-zip", "single-npy", "missing"],
)
def test_evaluate_cli_weights_not_a_snapshot_exits_2_naming_it(tmp_path, capsys, content):
    """``--weights FILE`` that is not a snapshot: exit status 2, one line on stderr naming FILE."""
    from training.evaluate import main

    path = tmp_path / "notasnapshot.txt"
    if content is None:
        np.save(tmp_path / "notasnapshot.npy", np.zeros(3, np.float32))
        path = tmp_path / "notasnapshot.npy"
    elif content != "missing":
        path.write_bytes(content)
    assert main(["tests/data/tiny_drums.npz", "--weights", str(path), "-n", "2"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("python -m training.evaluate: error: ")
    assert str(path) in err


def test_with_weights_of_another_models_snapshot_names_it(tmp_path):
    """Weights of another shape: a ModelFormatError naming the snapshot, not the model's key alone."""
    import fastdrum
    from fastdrum.testing import random_model
    from training.evaluate import with_weights

    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    other = random_model(dilations=[1, 2], residual_channels=3, seed=1)
    np.savez(tmp_path / "step-000010.npz", **other.weights)
    with pytest.raises(fastdrum.ModelFormatError, match="step-000010.npz"):
        with_weights(model, tmp_path / "step-000010.npz")


def _replace_meta(m, meta):
    """A shallow copy of model `m` with `meta` over its own."""
    import copy

    m = copy.copy(m)
    m.meta = dict(m.meta, **meta)
    return m


def test_holdout_for_takes_the_models_own_held_out_kits_and_refuses_its_training_kits():
    """A model is judged on the kits its run held out; a kit it trained on cannot be held out for it."""
    from training.errors import DataError
    from training.evaluate import DEFAULT_HOLDOUT, holdout_for, trained_kits

    data = [
        dict(kit="KitA", file="KitA/kick.wav"),
        dict(kit="rumpf_kit_z01_gm", file="rumpf_kit_z01_h2/kick.flac"),
        dict(kit="KitH", file="KitH/kick.wav", split="holdout"),
    ]
    import fastdrum

    tiny = fastdrum.load_model("tests/data/tiny_drums.npz")
    m = _replace_meta(tiny, dict(kits={"KitA": "GPL"}, data=data, holdout_kits=["KitH"]))
    assert trained_kits(m) == {"KitA", "rumpf_kit_z01_gm", "rumpf_kit_z01_h2"}
    assert holdout_for(m) == ("KitH",)
    assert holdout_for(m, ["KitH", "KitZ"]) == ("KitH", "KitZ")
    with pytest.raises(DataError, match="rumpf_kit_z01_h2"):
        holdout_for(m, ["KitH", "rumpf_kit_z01_h2"])
    assert holdout_for(None) == DEFAULT_HOLDOUT
    assert holdout_for(_replace_meta(m, dict(holdout_kits=None))) == DEFAULT_HOLDOUT


def test_decay_times_of_known_envelopes():
    """A tone decaying 20 dB in 0.3 s (exp(-t/tau), tau = 0.3 / ln 10) after a 0.05 s rise; a steady tone."""
    from training.evaluate import decay_times

    sr = 8000
    t = np.arange(sr) / sr
    tau = 0.3 / np.log(10)  # amplitude down 10x (20 dB) in 0.3 s
    env = np.where(t < 0.05, t / 0.05, np.exp(-(t - 0.05) / tau))
    tone = np.sin(2 * np.pi * 400 * t)
    got = decay_times(np.stack([env * tone, tone]), sr)
    # Frames of 10 ms: the loudest frame is the one at 0.05 s; 20 dB down 0.3 s later, within a frame.
    assert got[0] == pytest.approx(0.3, abs=0.015)
    assert np.isinf(got[1])


def test_shipped_names_are_judged_once_per_voice(shipped_folder):
    """No model named: each shipped file once (a conditioned one with all its voices but those a
    file of their own plays); a shipped voice's name (kick of drums.npz): that voice alone."""
    import shutil

    from conftest import TINY_DRUMS

    from fastdrum.instruments import INSTRUMENTS
    from fastdrum.testing import random_model
    from training.evaluate import _jobs, _models, _parser

    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    args = _parser().parse_args([])
    models = _models(args)
    assert [name for name, _ in models] == ["drums"]
    assert [(name, v) for name, _, v in _jobs(args, models, {})] == [
        ("drums", v) for v in INSTRUMENTS
    ]
    # A voice with a file of its own (clap.npz, a model conditioned on the clap alone) is judged
    # once, from that file: what fastdrum.generate("clap") plays.
    random_model(seed=0, voices=["clap"], dilations=[1, 2]).save(shipped_folder / "clap.npz")
    models = _models(args)
    assert [(name, v) for name, _, v in _jobs(args, models, {})] == [("clap", "clap")] + [
        ("drums", v) for v in INSTRUMENTS if v != "clap"
    ]
    assert all(m.path == str(shipped_folder / f"{name}.npz") for name, m in models)
    # With the unconditional voice 'any' among drums.npz's (a name, no drum) and the hi-hat in a file
    # of its own: the nine other drums from drums.npz, and not 'any' (it has no real clips to judge).
    (shipped_folder / "clap.npz").unlink()
    voices = [*INSTRUMENTS, "any"]
    random_model(seed=0, voices=voices, dilations=[1, 2]).save(
        shipped_folder / "drums.npz", overwrite=True
    )
    random_model(seed=0, voices=["hihat"], dilations=[1, 2]).save(shipped_folder / "hihat.npz")
    models = _models(args)
    assert [(name, v) for name, _, v in _jobs(args, models, {})] == [
        ("drums", v) for v in INSTRUMENTS if v != "hihat"
    ] + [("hihat", "hihat")]
    args = _parser().parse_args(["kick", "crash", "tests/data/tiny_drums.npz", "--voices", "kick"])
    jobs = _jobs(args, _models(args), {})
    assert [(name, v) for name, _, v in jobs] == [
        ("kick", "kick"),
        ("tests/data/tiny_drums.npz", "kick"),
    ]


def test_sampling_settings_are_the_voices_defaults_that_generate_uses(tmp_path):
    from training.average import model_with_arrays
    from training.evaluate import sampling_settings

    tiny = fastdrum.load_model("tests/data/tiny_drums.npz")
    meta = dict(
        tiny.meta,
        voices={
            "kick": {"temperature": 0.8, "epsilon": 0.01},
            "openhat": {"negative_voice": "hihat", "guidance": 0.5},
        },
    )
    meta["generation"] = {"temperature": 0.9}
    m = model_with_arrays(tiny, dict(tiny.weights), meta, "test")
    assert sampling_settings(m, "kick") == {"temperature": 0.8, "epsilon": 0.01}
    assert sampling_settings(m, "snare") == {"temperature": 0.9, "epsilon": 0.0}
    assert sampling_settings(m, "openhat") == dict(
        temperature=0.9, epsilon=0.0, negative_voice="hihat", guidance=0.5
    )
    for v in ("kick", "openhat"):
        np.testing.assert_array_equal(
            fastdrum.generate(m, 2, voice=v, seed=0, duration=0.005),
            fastdrum.generate(m, 2, voice=v, seed=0, duration=0.005, **sampling_settings(m, v)),
        )


def test_decay_time_factors_by_definition():
    from training.evaluate import DECAY_TIME_FACTOR, decay_time_factors

    row = dict(
        decay_time=0.1, decay_time_real=0.4, decay_time_train=0.3, samples=8000, sample_rate=8000
    )
    assert decay_time_factors(row) == pytest.approx((4.0, DECAY_TIME_FACTOR))
    # Longer or shorter by the same factor is the same distance.
    assert decay_time_factors(dict(row, decay_time=1.0, samples=16000))[0] == pytest.approx(2.5)
    # Two groups of real kits 3x apart allow 3x.
    assert decay_time_factors(dict(row, decay_time_train=1.2, samples=16000))[1] == pytest.approx(
        3.0
    )
    # A median that is inf counts as the clip length (here 1 s): 2.5x the real clips' 0.4 s.
    assert decay_time_factors(dict(row, decay_time=np.inf))[0] == pytest.approx(2.5)
    # Both inf: as long as each other.
    inf = dict(row, decay_time=np.inf, decay_time_real=np.inf)
    assert decay_time_factors(inf)[0] == 1.0


class _FakeRealClips:
    """A stand-in for RealClips: given real clips, a classifier that names every clip the voice."""

    def __init__(self, sr, held, train, voice="openhat"):
        from training.evaluate import RealClips

        self.sr, self.held, self.train = sr, {voice: held}, {voice: train}
        self.real_accuracy = {voice: 1.0}
        self._reference = {}
        self.reference = RealClips.reference.__get__(self)

    def recognised(self, clips, voice):
        return 1.0, {voice: len(clips)}


def test_evaluate_clips_fails_clips_that_die_too_soon_on_the_decay_time():
    """Open hats that fall 20 dB in a quarter of the real clips' time fail the decay-time criterion
    though they decay (the decay criterion passes them); the same noise with the real decay passes."""
    from training.evaluate import baseline_clips, evaluate_clips

    T, sr = 8000, 8000
    held = baseline_clips("decaying-noise", 8, T, sr, seed=1, decays=[0.4])
    train = baseline_clips("decaying-noise", 8, T, sr, seed=2, decays=[0.3])
    real = _FakeRealClips(sr, held, train)
    short = evaluate_clips(
        baseline_clips("decaying-noise", 8, T, sr, seed=3, decays=[0.1]), "openhat", real
    )
    assert short["passes"]["decay"] and not short["passes"]["decay_time"] and not short["pass"]
    assert short["decay_time_factor"] > 3 and short["decay_time_allowed"] == 2.0
    alike = evaluate_clips(
        baseline_clips("decaying-noise", 8, T, sr, seed=4, decays=[0.4]), "openhat", real
    )
    assert alike["passes"]["decay_time"] and alike["decay_time_factor"] < 1.3
    # Flatness is reported beside (white noise, as the real clips here are): not a criterion.
    assert alike["flatness"] == pytest.approx(alike["flatness_real"], abs=0.05)
    assert "flatness" not in alike["passes"]
    # So are the partials that last (noise has none): beside, not a criterion.
    assert abs(alike["persistence"]) < 0.05 and abs(alike["persistence_real"]) < 0.05
    assert "persistence" not in alike["passes"]


def test_spectral_flatness_of_white_noise_a_tone_and_the_classifiers_feature():
    """White noise's periodogram bins are exponential: geometric over arithmetic mean exp(-Euler's
    gamma) = 0.561; a tone's is near 0; and it is the classifier's flatness feature (x 10)."""
    from training.evaluate import features, spectral_flatness

    sr = 16000
    rng = np.random.default_rng(0)
    white = rng.standard_normal(sr)
    assert spectral_flatness(white, sr) == pytest.approx(np.exp(-np.euler_gamma), abs=0.02)
    t = np.arange(sr) / sr
    assert spectral_flatness(np.sin(2 * np.pi * 1000 * t) + 1e-3 * white, sr) < 0.01
    # Three partials under a little noise: far from white, though broadband in the noise floor.
    partials = sum(np.sin(2 * np.pi * f * t) for f in (3000, 4700, 6100)) + 0.01 * white
    assert spectral_flatness(partials, sr) < 0.1
    for y in (white, partials):
        assert spectral_flatness(y, sr) == pytest.approx(features(y, sr)[-2] / 10, rel=1e-12)


def test_partial_persistence_hears_ringing_partials_not_a_noise_spectrum_or_envelope():
    """Partials that ring from frame to frame score high, under noise too; noise scores about 0
    whatever its spectral envelope (filtered) and time envelope (decaying), as the reject class's
    shaped noise does; the figure does not depend on the gain; a clip of under two frames has none."""
    from scipy import signal

    from training.evaluate import partial_persistence

    sr = 44100
    rng = np.random.default_rng(0)
    t = np.arange(sr // 2) / sr
    env = np.exp(-t / 0.15)
    white = rng.standard_normal(len(t))
    shaped = signal.lfilter(*signal.butter(2, [3000, 9000], "bandpass", fs=sr), white) * env
    cymbal = sum(
        np.sin(2 * np.pi * f * t + p) for f, p in zip((3170, 4410, 5230, 7390), (0, 1, 2, 3))
    )
    cymbal = cymbal * env
    noisy = cymbal + 0.3 * np.std(cymbal) * white * env  # partials 10 dB over the noise
    assert abs(partial_persistence(white, sr)) < 0.05
    assert abs(partial_persistence(shaped, sr)) < 0.05
    assert partial_persistence(cymbal, sr) > 0.9
    assert 0.3 < partial_persistence(noisy, sr) < partial_persistence(cymbal, sr)
    assert partial_persistence(1e-3 * noisy, sr) == pytest.approx(partial_persistence(noisy, sr))
    assert np.isnan(partial_persistence(cymbal[: int(0.06 * sr)], sr, duration=0.06))


def test_matched_noise_is_shaped_like_each_voices_training_clips_and_decays():
    """The reject class's noise shaped like the voices: the training clips' mean spectrum, their decay
    times, one set a voice with clips; not the clips the decaying-noise baseline of any seed draws."""
    from training.evaluate import (
        baseline_clips,
        decays,
        matched_noise_clips,
        mean_log_mel,
    )
    from training.voices import VOICE_DURATIONS

    sr = 16000
    rng = np.random.default_rng(3)
    T = int(round(VOICE_DURATIONS["tom_low"] * sr))
    t = np.arange(T) / sr
    # a decaying partial over a decaying noise floor 26 dB down
    toms = [
        (np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(T)) * np.exp(-t / 0.1)
        for f in rng.uniform(70, 110, 10)
    ]
    train = {"tom_low": toms, "snare": []}
    out = matched_noise_clips(train, sr, 6, seed=0)
    assert len(out) == 6 and all(len(c) == T and np.abs(c).max() <= 1.0 for c in out)
    plain = baseline_clips("decaying-noise", 6, T, sr, seed=0, decays=[0.3] * 10)
    distance = lambda a, b: np.sqrt(np.mean((mean_log_mel(a, sr) - mean_log_mel(b, sr)) ** 2))  # noqa: E731
    assert distance(out, toms) < 2.5 < 8.0 < distance(plain, toms)  # white noise is far from toms
    assert decays(np.array(out)).mean() == 1.0
    assert all(np.array_equal(a, b) for a, b in zip(out, matched_noise_clips(train, sr, 6, seed=0)))
    assert not np.allclose(out[0], matched_noise_clips(train, sr, 6, seed=1)[0])


def test_enveloped_noise_follows_a_real_clips_envelope_and_matching_takes_its_spectrum():
    """Noise under real envelopes: each clip is white noise where one target clip sounds and silent
    where none does; through matched_baseline it takes the targets' mean spectrum."""
    from training.evaluate import enveloped_noise, matched_baseline, mean_log_mel

    sr = 16000
    T = int(0.4 * sr)
    t = np.arange(T) / sr
    # two kinds of target: sounding only in the first 0.1 s, or only from 0.2 to 0.3 s
    early = [np.sin(2 * np.pi * 200 * t) * (t < 0.1) for _ in range(4)]
    late = [np.sin(2 * np.pi * 300 * t + 1) * ((t >= 0.2) & (t < 0.3)) for _ in range(4)]
    target = np.array(early + late)
    y = enveloped_noise(target, sr, 20, seed=0)
    assert y.shape == (20, T) and np.abs(y).max() <= 0.5
    np.testing.assert_array_equal(y, enveloped_noise(target, sr, 20, seed=0))
    assert not np.allclose(y, enveloped_noise(target, sr, 20, seed=1))
    a, b = (t > 0.01) & (t < 0.09), (t > 0.21) & (t < 0.29)
    quiet = (t > 0.12) & (t < 0.18)
    kinds = set()
    for c in y:
        e = [np.mean(c[m] ** 2) for m in (a, b)]
        assert np.mean(c[quiet] ** 2) < 1e-6 * max(e)  # silent where no target sounds
        assert max(e) > 1e4 * min(e)  # one target's envelope, not a mix
        kinds.add(int(np.argmax(e)))
    assert kinds == {0, 1}  # both kinds drawn
    _, matched = matched_baseline("enveloped-noise", target, sr, 20, seed=0, fit_seed=1)
    assert matched.shape == (20, T) and np.abs(matched).max() <= 1.0
    d = lambda u: np.sqrt(np.mean((mean_log_mel(u, sr) - mean_log_mel(target, sr)) ** 2))  # noqa: E731
    assert d(matched) < 0.5 * d(y)


def test_predicted_noise_keeps_the_attack_and_rings_what_it_predicts():
    """The format-6 baseline: the first hop is the clip's own (decoded through the code), the rest
    is the predictor run on noise at the error's level, so a ringing clip's partials carry on."""
    from training.evaluate import predicted_noise

    sr, T = 8000, 4000
    t = np.arange(T) / sr
    clip = 0.8 * np.exp(-4 * t) * np.sin(2 * np.pi * 300 * t)
    p = dict(order=16, window=512, hop=64, gain=1.0)
    y = predicted_noise(clip[None], 3, seed=0, predictor=p)
    assert y.shape == (3, T) and np.abs(y).max() <= 1.0
    assert np.allclose(y[:, :64], clip[:64], atol=0.02)  # the real attack, through 8-bit mu-law
    late = np.abs(np.fft.rfft(y[:, T // 2 :], axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(T - T // 2, 1 / sr)
    # the partial, still ringing a quarter of a second on (the predictor's own, near the clip's)
    assert abs(freqs[late.argmax()] - 300) < 45 and late.max() > 10 * np.median(late)
    assert not np.allclose(y[0], y[1])  # each clip its own noise
