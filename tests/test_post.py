"""Post-processing checked against definitions: filter responses, levels, known signals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import freqz

from fastdrum import FastDrumError, PostProcessingError, post

SR = 16000


def tone(freq, seconds=1.0, amp=1.0, sr=SR):
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def db(x):
    return 20 * np.log10(x)


def rms_db(y):
    return 10 * np.log10(np.mean(np.asarray(y, np.float64) ** 2) + 1e-300)


def gain_at(b, a, f, sr):
    _, h = freqz(b, a, worN=[f], fs=sr)
    return db(abs(h[0]))


# -- DC and high-pass ---------------------------------------------------------------------
def test_highpass_removes_dc_to_zero():
    y = np.full(SR, 0.5, dtype=np.float32)
    z = post.highpass(y, SR, cutoff=30.0)
    assert abs(z[-SR // 4 :]).max() < 1e-4  # the steady state of DC through a high-pass is 0


def test_highpass_keeps_the_passband_and_its_cutoff_is_minus_3_db():
    y = tone(1000.0) + 0.3
    z = post.highpass(y, SR, cutoff=30.0)
    steady = z[SR // 2 :]
    assert abs(steady.mean()) < 1e-3
    assert abs(db(abs(steady).max()) - 0.0) < 0.05  # 1 kHz, far above 30 Hz, passes unchanged
    # at the cutoff a Butterworth high-pass is -3.01 dB
    zc = post.highpass(tone(200.0, seconds=2.0), SR, cutoff=200.0)
    assert abs(db(abs(zc[SR:]).max()) - (-3.0103)) < 0.05


def test_remove_dc_makes_the_mean_zero():
    y = np.random.default_rng(0).normal(0.3, 0.1, (3, 500)).astype(np.float32)
    np.testing.assert_allclose(post.remove_dc(y).mean(axis=-1), 0.0, atol=1e-6)


# -- EQ -----------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    f=st.floats(50.0, 7000.0),
    gain=st.floats(-18.0, 18.0),
    q=st.floats(0.3, 8.0),
    sr=st.sampled_from([16000, 22050, 44100, 48000]),
)
def test_peaking_gain_at_centre_equals_the_asked_db(f, gain, q, sr):
    b, a = post.biquad("peaking", f, sr, gain_db=gain, q=q)
    assert abs(gain_at(b, a, f, sr) - gain) < 1e-6


@pytest.mark.parametrize("gain", [-12.0, -3.0, 4.0, 9.0])
def test_shelves_reach_their_gain_and_half_of_it_at_the_corner(gain):
    sr = 48000
    b, a = post.biquad("lowshelf", 200.0, sr, gain_db=gain)
    assert abs(gain_at(b, a, 0.0, sr) - gain) < 1e-6  # shelf level at DC
    assert abs(gain_at(b, a, 200.0, sr) - gain / 2) < 1e-6  # RBJ: the midpoint (in dB) at f0
    assert abs(gain_at(b, a, 20000.0, sr)) < 0.05  # unchanged far above
    b, a = post.biquad("highshelf", 4000.0, sr, gain_db=gain)
    assert abs(gain_at(b, a, sr / 2, sr) - gain) < 1e-6  # shelf level at Nyquist
    assert abs(gain_at(b, a, 4000.0, sr) - gain / 2) < 1e-6
    assert abs(gain_at(b, a, 20.0, sr)) < 0.05


def test_eq_applies_the_filters_response_to_a_tone():
    bands = [("peaking", 1000.0, 6.0, 2.0), ("lowshelf", 100.0, -6.0)]
    z = post.eq(tone(1000.0, amp=0.1), SR, bands)
    expected = sum(
        gain_at(
            *post.biquad(k, f, SR, gain_db=g, **({"q": b[3]} if len(b) == 4 else {})), 1000.0, SR
        )
        for b in bands
        for k, f, g in [b[:3]]
    )
    amplitude = np.sqrt(2 * np.mean(z[SR // 2 :].astype(np.float64) ** 2))  # 500 whole periods
    assert abs(db(amplitude / 0.1) - expected) < 0.01


def test_lowpass_and_highpass_biquads_are_minus_3_db_at_cutoff_for_q_0707():
    for kind in ("lowpass", "highpass"):
        b, a = post.biquad(kind, 1000.0, SR, q=1 / np.sqrt(2))
        assert abs(gain_at(b, a, 1000.0, SR) - (-3.0103)) < 1e-3


# -- dynamics -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "level, threshold, ratio", [(-6.0, -18.0, 4.0), (-3.0, -20.0, 2.0), (-10.0, -30.0, 10.0)]
)
def test_compressor_reduces_a_loud_tone_by_the_expected_amount(level, threshold, ratio):
    y = tone(440.0, seconds=1.0, amp=np.sqrt(2) * 10 ** (level / 20))  # RMS = level dBFS
    z = post.compress(y, SR, threshold_db=threshold, ratio=ratio, time=0.01)
    expected = threshold + (level - threshold) / ratio
    assert abs(rms_db(z[SR // 2 :]) - expected) < 0.05


def test_compressor_leaves_quiet_signals_alone_and_adds_makeup():
    y = tone(440.0, amp=0.05)  # RMS -29 dB, below the threshold
    np.testing.assert_allclose(post.compress(y, SR, threshold_db=-18.0), y, rtol=1e-6, atol=1e-7)
    z = post.compress(y, SR, threshold_db=-18.0, makeup_db=6.0)
    np.testing.assert_allclose(z, y * 10 ** (6 / 20), rtol=1e-5, atol=1e-7)


def test_linked_compressor_applies_one_gain_to_both_channels():
    y = np.stack([tone(440.0, amp=0.9), tone(440.0, amp=0.1)])
    z = post.compress(y, SR, threshold_db=-20.0, ratio=4.0, link=True)
    ratio = (
        z[1, SR // 2 :][np.abs(y[1, SR // 2 :]) > 0.01]
        / y[1, SR // 2 :][np.abs(y[1, SR // 2 :]) > 0.01]
    )
    ratio0 = (
        z[0, SR // 2 :][np.abs(y[1, SR // 2 :]) > 0.01]
        / y[0, SR // 2 :][np.abs(y[1, SR // 2 :]) > 0.01]
    )
    np.testing.assert_allclose(ratio, ratio0, rtol=1e-4)


@pytest.mark.parametrize("target", [-1.0, -6.0, 0.0])
def test_peak_normalisation_hits_its_target(target):
    y = np.random.default_rng(1).normal(0, 0.2, (4, 300)).astype(np.float32)
    z = post.normalize(y, target_db=target)
    np.testing.assert_allclose(abs(z).max(axis=1), 10 ** (target / 20), rtol=1e-6)


def test_rms_normalisation_hits_its_target_and_silence_stays_silent():
    y = tone(300.0, amp=0.3)
    z = post.normalize(y, mode="rms", target_db=-20.0)
    assert abs(rms_db(z) - (-20.0)) < 1e-4
    silent = np.zeros((2, 10), dtype=np.float32)
    np.testing.assert_array_equal(post.normalize(silent), silent)


def test_k_weighting_at_48k_is_bs1770s_published_filter():
    sos = post.k_weighting(48000)
    np.testing.assert_allclose(
        sos[0],
        [
            1.53512485958697,
            -2.69169618940638,
            1.19839281085285,
            1.0,
            -1.69065929318241,
            0.73248077421585,
        ],
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], rtol=1e-9
    )


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_loudness_of_the_calibration_tone_and_lufs_normalisation(sr):
    y = tone(
        997.0, seconds=2.0, sr=sr
    )  # BS.1770: a full-scale 997 Hz sine in one channel is -3.01 LUFS
    tol = (
        0.005 if sr == 48000 else 0.05
    )  # at other rates the bilinear transform warps the shelf a little
    assert abs(post.loudness(y, sr) - (-3.0103)) < tol
    stereo = np.stack([y, y])  # channels add: +3.01 dB
    assert abs(post.loudness(stereo, sr) - (-3.0103 + 10 * np.log10(2))) < tol
    z = post.normalize(y * 0.1, mode="lufs", target_db=-14.0, sr=sr)
    assert abs(post.loudness(z, sr) - (-14.0)) < 1e-6
    with pytest.raises(PostProcessingError, match="sr="):
        post.normalize(y, mode="lufs")


def test_normalize_axis_none_uses_one_gain_for_all_channels():
    y = np.array([[0.5, -0.25], [0.1, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(post.normalize(y, target_db=0.0, axis=None), y * 2)


def test_limit_scales_down_with_one_gain_and_never_exceeds_the_ceiling():
    y = np.array([0.5, -3.0, 2.0], dtype=np.float32)
    z = post.limit(y)
    np.testing.assert_allclose(z, y / 3.0, rtol=1e-6)
    assert abs(z).max() <= 1.0


def test_gate_silences_the_quiet_tail_and_keeps_the_body():
    body = tone(500.0, seconds=0.05, amp=0.8)
    hiss = np.random.default_rng(0).normal(0, 1e-3, SR // 10).astype(np.float32)  # about -58 dB
    y = np.r_[body, hiss]
    z = post.gate(y, SR, threshold_db=-40.0, release=0.005)
    n_body = len(body) - round(
        0.005 * SR
    )  # the window reaching into the hiss does not move the body
    np.testing.assert_array_equal(z[:n_body], y[:n_body])
    assert np.all(z[len(body) + round(0.01 * SR) :] == 0.0)


@pytest.mark.parametrize("hold, time", [(0.02, 0.07), (0.05, 0.2)])
def test_decay_holds_a_steady_tone_to_the_exponential_ceiling(hold, time):
    y = tone(
        500.0, seconds=0.5
    )  # 32 samples a period; the 10 ms window holds 5 periods: a flat envelope
    z = post.decay(y, SR, hold=hold, time=time)
    t = np.arange(len(y)) / SR
    ceiling = np.exp(-np.maximum(t - hold, 0) / time)
    inner = slice(160, len(y) - 160)  # away from the window's half-empty edges
    np.testing.assert_allclose(z[inner], (y * ceiling)[inner], atol=1e-6)


def test_decay_leaves_a_clip_that_dies_away_faster_untouched():
    t = np.arange(round(0.3 * SR)) / SR
    hit = (np.exp(-t / 0.02) * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    np.testing.assert_array_equal(post.decay(hit, SR, hold=0.02, time=0.07), hit)


@pytest.mark.parametrize("n", [1, 7, 80, 161])
def test_every_stage_handles_clips_shorter_than_its_windows(n):
    y = np.random.default_rng(n).normal(0, 0.3, n).astype(np.float32)
    for inst in post.SETTINGS:
        z = post.process(y, SR, instrument=inst)
        assert z.shape == (n,) and np.isfinite(z).all()
    assert post.gate(y, SR).shape == post.decay(y, SR).shape == (n,)


def test_fade_out_reaches_zero_and_leaves_the_rest():
    y = np.ones(1000, dtype=np.float32)
    z = post.fade_out(y, 1000, duration=0.1)
    assert z[-1] == 0.0
    np.testing.assert_array_equal(z[:900], 1.0)
    assert np.all(np.diff(z[900:]) <= 0)


# -- the chains ---------------------------------------------------------------------------
def _band_level(y, f, sr=SR):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return spectrum[round(f * len(y) / sr)]


def test_hihat_chain_high_passes_and_kick_chain_keeps_the_lows():
    y = tone(100.0, amp=0.4) + tone(3000.0, amp=0.4)
    hat = post.process(y, SR, instrument="hihat", gate_db=None, fade=None)
    kick = post.process(y, SR, instrument="kick", gate_db=None, fade=None, compress=None)
    drop_hat = db(_band_level(hat, 100) / _band_level(hat, 3000))
    drop_kick = db(_band_level(kick, 100) / _band_level(kick, 3000))
    # 2nd-order Butterworth at 300 Hz: 10*log10(1 + (300/100)**4) = 19.1 dB down at 100 Hz
    assert drop_hat < -17.0
    assert drop_kick > -1.0  # kick: 30 Hz high-pass and a low-shelf boost keep 100 Hz


@pytest.mark.parametrize("instrument", ["kick", "snare", "hihat"])
def test_default_chain_silences_a_hiss_tail_45_db_down(instrument):
    t = np.arange(round(0.3 * SR)) / SR
    body = np.exp(-t / 0.02) * np.sin(2 * np.pi * (60 if instrument == "kick" else 2000) * t)
    hiss = 10 ** (-45 / 20) * np.random.default_rng(0).uniform(
        -1, 1, len(t)
    )  # WaveNet-like tail noise
    z = post.process((body + hiss).astype(np.float32), SR, instrument=instrument)
    raw = post.process((body + hiss).astype(np.float32), SR, instrument=instrument, gate_db=None)
    tail = slice(len(t) // 2, None)  # the body has decayed by 65 dB there: only hiss is left
    assert rms_db(raw[tail]) > -60.0  # without the gate the hiss stays
    assert rms_db(z[tail]) < -100.0  # with it, silence (only the EQ's decaying ringing)


def test_process_normalises_each_clip_to_minus_1_dbfs_and_keeps_shape():
    y = np.random.default_rng(3).normal(0, 0.3, (3, 400)).astype(np.float32)
    for inst in list(post.SETTINGS) + [None, "cowbell"]:
        z = post.process(y, SR, instrument=inst)
        assert z.shape == y.shape and z.dtype == np.float32
        np.testing.assert_allclose(abs(z).max(axis=1), 10 ** (-1 / 20), rtol=1e-5)


def test_process_with_every_stage_off_is_the_identity():
    y = np.random.default_rng(4).normal(0, 0.3, 300).astype(np.float32)
    z = post.process(
        y, SR, highpass=None, eq=(), compress=None, gate_db=None, fade=None, normalize=None
    )
    np.testing.assert_array_equal(z, y)


def test_master_peaks_at_minus_1_db_and_handles_stereo():
    y = np.random.default_rng(5).normal(0, 1.0, (2, 4000)).astype(np.float32)
    z = post.master(y, SR)
    assert z.shape == (2, 4000)
    assert abs(db(abs(z).max()) - (-1.0)) < 1e-4


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: post.biquad("notch", 100.0, SR), "'notch'"),
        (lambda: post.biquad("peaking", 9000.0, SR), "9000.0"),
        (lambda: post.biquad("peaking", 100.0, SR, q=0), "0"),
        (lambda: post.highpass(np.zeros(10), SR, cutoff=-5.0), "-5.0"),
        (lambda: post.highpass(np.zeros(10), 0), "0"),
        (lambda: post.compress(np.zeros(10), SR, ratio=0.5), "0.5"),
        (lambda: post.normalize(np.zeros(10), mode="lufs"), "'lufs'"),
        (lambda: post.process(np.zeros(10), SR, bass=3), "'bass'"),
        (lambda: post.process(np.array([0.0, np.nan]), SR), "NaN"),
        (lambda: post.eq(np.zeros(10), SR, ["peaking"]), "'peaking'"),
        (lambda: post.process(np.zeros(0), SR), r"\(0,\)"),
    ],
)
def test_bad_arguments_raise_postprocessingerror_showing_the_value(call, match):
    with pytest.raises(PostProcessingError, match=match) as info:
        call()
    assert isinstance(info.value, FastDrumError) and isinstance(info.value, ValueError)
