"""training.match_eq: each voice's output filter, fitted on its training clips and screened."""

import types

import numpy as np
import pytest
from scipy import signal
from test_tune import PASSING

import fastdrum
import training.match_eq
import training.window
from fastdrum.mulaw import fir_filter
from training.evaluate import _mel_filterbank, mean_log_mel
from training.match_eq import (
    band_centres,
    choose_strength,
    correction_db,
    main,
    minimum_phase_fir,
    strength_filter,
)

TINY = "tests/data/tiny_drums.npz"
SR = 44100


def _response_db(h, freqs, sr=SR, n_fft=1 << 16):
    """The gain of FIR `h` at each of `freqs` (dB), from a dense FFT."""
    H = np.abs(np.fft.rfft(h, n_fft))
    f = np.fft.rfftfreq(n_fft, 1 / sr)
    return 20 * np.log10(np.interp(freqs, f, H))


def _gains(n=64):
    """A tilt of 12 dB across the bands with a 6 dB bump in the middle: a gain curve to fit."""
    k = np.arange(n)
    return -6 + 12 * k / (n - 1) + 6 * np.exp(-0.5 * ((k - n / 2) / 4) ** 2)


def test_band_centres_are_the_peaks_of_the_evaluations_mel_bands():
    n_fft = 1 << 15
    fb = _mel_filterbank(SR, n_fft)
    peaks = np.fft.rfftfreq(n_fft, 1 / SR)[fb.argmax(axis=1)]
    assert np.abs(peaks - band_centres(SR)).max() <= SR / n_fft  # within one bin
    assert band_centres(SR)[0] == pytest.approx(69.67, abs=0.01)


def test_zero_gain_is_the_unit_impulse():
    h = minimum_phase_fir(np.zeros(64), SR)
    expected = np.zeros(len(h))
    expected[0] = 1.0
    assert len(h) == training.match_eq.TAPS
    assert np.allclose(h, expected, atol=1e-9)


def test_the_filter_meets_its_band_gains_above_its_resolution():
    g = _gains()
    h = minimum_phase_fir(g, SR)
    centres = band_centres(SR)
    resolved = centres > 200  # 1,024 taps resolve about 43 Hz
    err = _response_db(h, centres[resolved]) - g[resolved]
    assert np.abs(err).max() < 0.5
    # a weaker filter of the same gains is weaker: half the dB
    half = _response_db(minimum_phase_fir(g / 2, SR), centres[resolved])
    assert np.abs(half - g[resolved] / 2).max() < 0.5


def test_it_never_boosts_below_the_lowest_band():
    low = np.array([5.0, 10.0, 20.0])
    up = minimum_phase_fir(np.full(64, 6.0), SR, taps=8192)
    assert np.abs(_response_db(up, low)).max() < 0.5  # a boost there would lift rumble: 0 dB
    down = minimum_phase_fir(np.full(64, -6.0), SR, taps=8192)
    assert np.abs(_response_db(down, low) + 6.0).max() < 0.5  # a cut is kept


def test_the_filter_is_minimum_phase_its_energy_first():
    """Among filters of one magnitude the minimum-phase one has the most energy in its first n taps,
    for every n: here against the linear-phase filter of the same gains (all its energy centred)."""
    h = minimum_phase_fir(_gains(), SR, taps=4096, n_fft=4096)
    H = np.abs(np.fft.rfft(h))
    linear = np.roll(np.fft.irfft(H, 4096), 2048)
    e_min, e_lin = np.cumsum(h**2), np.cumsum(linear**2)
    assert np.all(e_min >= e_lin - 1e-9 * e_lin[-1])
    assert e_min[64] > 0.5 * e_min[-1] > e_lin[64]


def _bursts(n, T, seed):
    rng = np.random.default_rng(seed)
    env = np.exp(-np.arange(T) / (0.05 * SR))
    return rng.standard_normal((n, T)) * env


def test_the_correction_recovers_a_known_filter():
    """Clips, and the same kind of clips through a known filter: the correction is that filter's gain."""
    known = _gains()
    h_known = minimum_phase_fir(known, SR)
    generated = _bursts(40, 8192, seed=1)
    target = fir_filter(_bursts(40, 8192, seed=2), h_known)
    gain = correction_db(generated, target, SR)
    # the spectra are compared shape for shape (each clip's mean level removed): up to a constant
    err = (gain - gain.mean()) - (known - known.mean())
    assert np.sqrt(np.mean(err[8:] ** 2)) < 0.5
    fixed = fir_filter(generated, minimum_phase_fir(gain, SR))
    before = np.sqrt(np.mean((mean_log_mel(generated, SR) - mean_log_mel(target, SR)) ** 2))
    after = np.sqrt(np.mean((mean_log_mel(fixed, SR) - mean_log_mel(target, SR)) ** 2))
    assert before > 3.0 and after < 0.5


def test_each_strength_keeps_the_fit_clips_power_and_zero_is_no_filter():
    clips = _bursts(8, 4096, seed=3)
    g = _gains()
    zero = strength_filter(g, 0.0, clips, SR)
    assert zero.dtype == np.float32 and zero[0] == 1.0 and not zero[1:].any()
    for s in (0.5, 1.0):
        h = strength_filter(g, s, clips, SR)
        assert np.mean(fir_filter(clips, h) ** 2) == pytest.approx(np.mean(clips**2), rel=1e-3)
    ref = signal.lfilter(strength_filter(g, 1.0, clips, SR), [1.0], clips, axis=-1)
    assert np.allclose(fir_filter(clips, strength_filter(g, 1.0, clips, SR)), ref, atol=1e-9)


def test_the_least_short_strength_wins_ties_the_weaker():
    assert choose_strength({0.0: 1.0, 0.5: 0.25, 1.0: 0.5}) == 0.5
    assert choose_strength({0.0: 0.0, 0.5: 0.0, 1.0: 0.0}) == 0.0
    assert choose_strength({1.0: 0.5, 0.5: 0.5, 0.0: 2.0}) == 0.5


def _fake_real(model, voices, seed):
    """Training clips of each voice: noise bursts through a tilt the tiny model does not have."""
    T = int(round(model.sample_rate * 0.1))
    h = minimum_phase_fir(_gains(), model.sample_rate)
    clips = fir_filter(np.random.default_rng(seed).standard_normal((12, T)), h)
    return types.SimpleNamespace(train={v: list(clips) for v in voices})


def test_cli_fits_screens_and_records_each_voice(tmp_path, monkeypatch, capsys):
    model = fastdrum.load_model(TINY)
    model.meta = dict(model.meta, clip_duration=0.1)  # clips long enough for a spectrum
    tiny = str(tmp_path / "tiny.npz")
    model.save(tiny)
    voice = "snare"  # no duration of its own: the clip_duration below
    monkeypatch.setattr(
        training.window, "real_clips", lambda m, kits, seed: _fake_real(m, m.voices, seed)
    )
    seen = []

    def judge_with(real, n, seed, label):
        assert (n, seed) == (4, 6)

        def judge(m, v):
            h = m.output_filter_of(v) if m.output_filter is not None else None
            seen.append(h)
            # the half-strength candidate (the second screened) is the least short
            return dict(PASSING, mel_db=PASSING["mel_db_real"] + [2.0, 0.25, 1.0][len(seen) - 1])

        return judge

    monkeypatch.setattr(training.window, "_judge", judge_with)
    out = tmp_path / "eq.npz"
    argv = [tiny, "--voices", voice, "-n", "4", "--taps", "256"]
    assert main(argv + ["-o", str(out)]) == 0
    assert len(seen) == 3 and seen[0][0] == 1.0 and not seen[0][1:].any()
    printed = capsys.readouterr().out
    assert f"| {voice} | 2.00 | 0.25 | 1.00 | 0.5 |" in printed
    m = fastdrum.load_model(out)
    assert m.format_version == 5
    record = m.meta["output_filter_choice"]
    assert record["voices"][voice]["strength"] == 0.5 and (record["seed"], record["fit_seed"]) == (
        6,
        7,
    )
    assert np.array_equal(m.output_filter_of(voice), seen[1])
    others = [v for v in m.voices if v != voice]
    assert all(
        m.output_filter_of(v)[0] == 1.0 and not m.output_filter_of(v)[1:].any() for v in others
    )
    for k, w in model.weights.items():
        assert np.array_equal(m.weights[k], w)  # the network is unchanged
    before = out.read_bytes()
    assert main(argv + ["-o", str(out)]) == 2  # exists, no --overwrite: refused, file kept
    assert "exists" in capsys.readouterr().err.splitlines()[-1]
    assert out.read_bytes() == before
    assert main([tiny, "--voices", "cowbell", "-n", "4", "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("python -m training.match_eq: error:") and "cowbell" in err[-1]
    assert not (tmp_path / "x.npz").exists()
    for bad in (["--strengths", "0,3"], ["--taps", "8"], ["-n", "1"]):
        with pytest.raises(SystemExit) as e:
            main([tiny, *bad, "-o", str(tmp_path / "y.npz")])
        assert e.value.code == 2
