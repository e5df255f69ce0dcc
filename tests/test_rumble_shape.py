"""tools/rumble_shape.py: a clip's energy below 30 Hz split into its offset and its strongest bin."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

rumble_shape = pytest.importorskip("rumble_shape")

from training.evaluate import lf_share_db  # noqa: E402

SR = 8000


def test_an_offset_is_dc_and_the_tone_is_the_peak():
    """A 100 Hz sine of amplitude 1 over 0.25 s (25 whole cycles from the onset, sample 0) plus an
    offset of 0.8: DC holds 0.64 / (0.5 + 0.64) of the energy. Under the Hann window the offset's
    bin would be stronger than the tone's (0.4 N against 0.25 N): the peak is the tone's only because
    the mean is removed first."""
    t = np.arange(SR) / SR
    y = np.sin(2 * np.pi * 100 * t) + 0.8
    lf, _, _, dc, peak = rumble_shape.shape(y, SR)
    assert dc == pytest.approx(10 * np.log10(0.64 / 1.14), abs=0.1)
    assert peak == 100.0
    assert lf == lf_share_db(y, SR)


def test_the_share_below_30_hz_splits_at_10_hz():
    """Cosines of 4, 20 and 100 Hz (amplitudes 0.1, 0.3, 1), whole cycles over the 0.25 s from the
    onset (sample 0, the peak): 0.01 / 1.1 of the energy below 10 Hz, 0.09 / 1.1 between 10 and 30."""
    t = np.arange(SR) / SR
    y = sum(a * np.cos(2 * np.pi * f * t) for a, f in ((0.1, 4), (0.3, 20), (1.0, 100)))
    lf, low, mid, _, _ = rumble_shape.shape(y, SR)
    assert low == pytest.approx(10 * np.log10(0.01 / 1.1), abs=0.01)
    assert mid == pytest.approx(10 * np.log10(0.09 / 1.1), abs=0.01)
    assert lf == pytest.approx(10 * np.log10(0.1 / 1.1), abs=0.01)


def test_a_wander_as_strong_as_the_body_is_the_peak_and_without_it_the_tone():
    t = np.arange(SR // 2) / SR
    tone = np.sin(2 * np.pi * 68 * t) * 10.0 ** (-t / 0.2)
    wander = np.sin(2 * np.pi * 4 * t + 1.0) * 10.0 ** (-t / 0.4)
    assert abs(rumble_shape.shape(tone, SR)[4] - 68) <= 2
    assert rumble_shape.shape(tone + wander, SR)[4] == 4.0
    # the wander raises the share below 30 Hz by more than 10 dB
    assert lf_share_db(tone + wander, SR) > lf_share_db(tone, SR) + 10


def test_the_drift_baseline_reads_its_tone_and_its_wander():
    for wander, want in ((False, rumble_shape.TONE), (True, rumble_shape.WANDER)):
        got = rumble_shape.shapes(rumble_shape.drift_baseline(20, SR // 2, SR, wander), SR)
        assert abs(np.median(got[:, 4]) - want) <= 2, (wander, got[:, 4])


def test_clips_with_nothing_to_measure_are_refused():
    with pytest.raises(ValueError, match="nothing after its onset"):
        rumble_shape.shape(np.r_[np.zeros(100), 1.0], SR)
    with pytest.raises(ValueError, match="silent"):
        rumble_shape.shape(np.zeros(1000), SR)


def test_summary_is_median_and_quartiles():
    assert rumble_shape.summary(np.array([-30.0, -20, -10, 0, 10]), 1) == "-10.0 (-20.0 to 0.0)"


def test_unknown_voices_are_refused(tmp_path, capsys):
    from fastdrum.testing import random_model

    random_model(voices=("a", "b")).save(tmp_path / "m.npz")
    with pytest.raises(SystemExit) as exc:
        rumble_shape.main([str(tmp_path / "m.npz")])
    assert exc.value.code == 2
    assert "unknown voices ['hihat', 'kick', 'snare', 'tom_low']" in capsys.readouterr().err


def test_the_shared_part_tells_one_offset_from_independent_wanders():
    sr, n = 8000, 16
    t = np.arange(sr // 2) / sr
    rng = np.random.default_rng(3)
    hit = np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.05)
    # the same slow offset under every clip: all of it shared
    same = [hit * rng.uniform(0.5, 1) + 0.1 * np.exp(-t / 0.1) for _ in range(n)]
    assert rumble_shape.shared_db(same, sr) > -1.0
    # a 4-12 Hz wander of random phase under each: about 1/n of it shared
    own = [
        hit + 0.1 * np.sin(2 * np.pi * rng.uniform(4, 12) * t + rng.uniform(0, 7)) for _ in range(n)
    ]
    assert -10 * np.log10(n) - 4 < rumble_shape.shared_db(own, sr) < -10 * np.log10(n) + 4
