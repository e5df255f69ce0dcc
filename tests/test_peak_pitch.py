"""tools/peak_pitch.py: the pitch of toms as their strongest low spectral peak."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

peak_pitch = pytest.importorskip("peak_pitch")

SR = 8000


def _tone(f, t, tau=0.3):
    return np.sin(2 * np.pi * f * t) * np.exp(-t / tau)


def test_the_peak_is_the_strongest_in_band_after_the_attack():
    t = np.arange(SR) / SR
    y = np.zeros(SR + 400)
    # 50 ms of silence, then a 20 ms attack at 300 Hz louder than all else, then the body:
    # 90 Hz at half the amplitude of 150 Hz, and 600 Hz (out of band) twice as loud as 150 Hz
    body = 0.5 * _tone(90, t) + _tone(150, t) + 2 * _tone(600, t)
    y[400:] = body
    y[400 : 400 + 160] += 10 * np.sin(2 * np.pi * 300 * t[:160])
    assert abs(peak_pitch.peak(y, SR) - 150) < 1.0
    # without the 150 Hz partial the 90 Hz one is the peak
    y2 = np.zeros_like(y)
    y2[400:] = 0.5 * _tone(90, t) + 2 * _tone(600, t)
    assert abs(peak_pitch.peak(y2, SR) - 90) < 1.0


def test_the_attack_is_not_measured():
    """A tone that ends 20 ms after the onset leaves only the later one, 500 times quieter (the
    Hann window alone would not hide the first: its weight there averages about 0.03)."""
    t = np.arange(SR) / SR
    y = 0.1 * _tone(200, t)
    y[:150] += 50 * np.sin(2 * np.pi * 60 * t[:150])
    assert abs(peak_pitch.peak(y, SR) - 200) < 1.0


def test_a_clip_with_nothing_after_its_onset_is_refused():
    with pytest.raises(ValueError, match="no 0.02-0.2 s after its onset"):
        peak_pitch.peak(np.r_[np.zeros(100), 1.0, np.zeros(50)], SR)


def test_the_sine_baseline_reads_its_frequencies():
    got = peak_pitch.peaks(peak_pitch.sine_baseline(30, SR // 2, SR), SR).reshape(10, 3)
    np.testing.assert_allclose(np.median(got, axis=0), peak_pitch.SINES, atol=1.0)


def test_summary_is_median_and_quartiles():
    assert peak_pitch.summary(np.array([70.0, 80, 90, 100, 110])) == "90 (80-100)"


def test_unknown_voices_are_refused(tmp_path, capsys):
    from fastdrum.testing import random_model

    random_model(voices=("a", "b")).save(tmp_path / "m.npz")
    with pytest.raises(SystemExit) as exc:
        peak_pitch.main([str(tmp_path / "m.npz")])
    assert exc.value.code == 2
    assert "unknown voices ['tom_high', 'tom_low', 'tom_mid']" in capsys.readouterr().err


def test_the_shipped_kick_and_toms_are_pitched_kick_low_mid_high():
    """What the drum machine plays as its low, mid and high tom (``fastdrum.generate(voice)``, the
    shipped model of each voice at its defaults, 16 clips, seed 0) rises in pitch in that order, as
    the real toms' do (the held-out kits' median peaks 73, 106 and 140 Hz, :data:`peak_pitch.SINES`),
    and its kick lies under the low tom, as the training kits' kicks do (59 Hz against 96; the
    held-out kits' kicks, 95 Hz, lie above their low toms). The evaluation's criteria cannot see a
    high tom pitched under the mid tom: its classifier names none of the held-out high toms, and
    nothing else it measures is a pitch."""
    import fastdrum

    pitch = {}
    for voice in ("kick", "tom_low", "tom_mid", "tom_high"):
        model = fastdrum.load_model(voice)
        clips = fastdrum.generate(model, 16, voice=voice, seed=0)
        pitch[voice] = float(np.median(peak_pitch.peaks(clips, model.sample_rate)))
    assert pitch["kick"] < pitch["tom_low"] < pitch["tom_mid"] < pitch["tom_high"], pitch
