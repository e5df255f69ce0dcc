"""tools/attack_share.py: a voice's energy above 5 kHz, split into its attack and its body."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

attack_share = pytest.importorskip("attack_share")
from scipy.signal import butter, sosfiltfilt, sosfreqz  # noqa: E402

SR = 16000


def _by_hand(y, attack_ms):
    """The definition: from the first sample at a tenth of the peak, the 5 kHz high-passed energy
    of the attack and of the rest of 0.25 s, over the clip's energy in those 0.25 s, in dB."""
    on = next(i for i, v in enumerate(np.abs(y)) if v >= 0.1 * np.abs(y).max())
    high = sosfiltfilt(butter(4, 5000, "highpass", fs=SR, output="sos"), y)
    k, n = int(round(attack_ms * SR / 1000)), SR // 4
    total = np.sum(y[on : on + n] ** 2)
    return (
        10 * np.log10(np.sum(high[on : on + k] ** 2) / total),
        10 * np.log10(np.sum(high[on + k : on + n] ** 2) / total),
    )


def test_split_share_is_the_definition():
    rng = np.random.default_rng(4)
    t = np.arange(SR) / SR
    y = np.r_[np.zeros(300), np.sin(2 * np.pi * 150 * t) * np.exp(-t / 0.1)]
    y[300:400] += 0.8 * rng.standard_normal(100)
    y[300:] += 0.01 * rng.standard_normal(SR)
    for ms in (5.0, 20.0):
        np.testing.assert_allclose(attack_share.split_share(y, SR, ms), _by_hand(y, ms), atol=1e-9)
    a, b = attack_share.split_share(y, SR)
    assert a > b + 10  # the burst is the high end


def test_the_baselines_put_the_high_end_where_they_were_built():
    click = attack_share.medians(attack_share.baseline("click", 8, SR // 2, SR), SR)
    noise = attack_share.medians(attack_share.baseline("noise", 8, SR // 2, SR), SR)
    assert click[0] > click[1] + 20
    # white noise: the share of its energy the zero-phase high-pass keeps (the mean over frequency
    # of |H|^4; 3/8 with an ideal filter), split 20 : 230 ms between the two stretches
    _, h = sosfreqz(butter(4, 5000, "highpass", fs=SR, output="sos"), worN=4096, fs=SR)
    kept = np.mean(np.abs(h) ** 4)
    assert 0.3 < kept < 0.375
    np.testing.assert_allclose(noise, 10 * np.log10(kept * np.array([20, 230]) / 250), atol=0.3)


def test_a_silent_clip_reads_the_floor():
    assert attack_share.split_share(np.zeros(SR), SR) == (attack_share.FLOOR_DB,) * 2


def test_bad_options_are_refused(tmp_path, capsys):
    from fastdrum.testing import random_model

    random_model(voices=("a", "b")).save(tmp_path / "m.npz")
    for argv, msg in [
        (["--attack-ms", "300"], "--attack-ms must lie in (0, 250), got 300"),
        ([], "unknown voices ['tom_high', 'tom_low', 'tom_mid']"),
    ]:
        with pytest.raises(SystemExit) as exc:
            attack_share.main([str(tmp_path / "m.npz")] + argv)
        assert exc.value.code == 2
        assert msg in capsys.readouterr().err
