"""tools/normalised_level.py: which clips' envelope-normalised level goes silent."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

normalised_level = pytest.importorskip("normalised_level")

SR = 1000  # 50-sample windows; a 1 s clip is measured over windows 3 to 14 (0.15 s to 0.75 s)


def _level_by_hand(clip):
    """The definition: the median over 50 ms windows 0.15 s .. 0.75 of the clip of each window's
    RMS in dB relative to the loudest window."""
    w = 50
    rms = [np.sqrt(np.mean(clip[i : i + w] ** 2)) for i in range(0, len(clip) - w + 1, w)]
    db = [20 * np.log10(r / max(rms)) if r > 0 else -300.0 for r in rms]
    k = len(rms)
    return float(np.median(db[3 : int(0.75 * k)]))


def _by_hand(clip):
    """Silent: that level below -30 dB."""
    return _level_by_hand(clip) < -30


def test_silent_is_the_definition():
    rng = np.random.default_rng(3)
    t = np.arange(SR) / SR
    clips = rng.standard_normal((7, SR))
    clips[1] *= 10 ** (-t / 0.1)  # 20 dB per 0.1 s: down 60 dB by 0.3 s, silent
    clips[2] *= 10 ** (-t / 0.5)  # 20 dB per 0.5 s: down 18 dB at the median window, not silent
    clips[3, 150:] *= 0.02  # 34 dB down from 0.15 s on: silent
    clips[4, 150:] *= 0.05  # 26 dB down: not silent
    clips[5, 600:] = 0.0  # silent from 0.6 s: the median window (0.45 s) is not
    clips[6, 400:] = 0.0  # from 0.4 s: more than half of windows 3..14 are silent
    want = [_by_hand(c) for c in clips]
    assert want == [False, True, False, True, False, False, True]
    assert normalised_level.silent(clips, SR).tolist() == want
    level = normalised_level.level(clips, SR)
    np.testing.assert_allclose(
        level[[0, 2, 3, 4]], [_level_by_hand(clips[i]) for i in (0, 2, 3, 4)]
    )
    # as built above, within the noise of 50-sample windows: 17 dB down (windows 8 and 9), 34, 0
    assert abs(level[2] + 17) < 3 and abs(level[3] + 34) < 3 and abs(level[0]) < 3


def test_the_baselines_are_silent_and_not():
    assert normalised_level.silent(normalised_level.baseline("silence", 5, SR, SR), SR).all()
    assert not normalised_level.silent(normalised_level.baseline("hold", 5, SR, SR), SR).any()


def test_a_model_without_an_envelope_is_refused(tmp_path, capsys):
    from fastdrum.testing import random_model

    random_model(voices=("a", "b"), decays={"a": [0.01], "b": [0.02]}).save(tmp_path / "m.npz")
    with pytest.raises(SystemExit) as exc:
        normalised_level.main([str(tmp_path / "m.npz")])
    assert exc.value.code == 2
    assert "is not an envelope model" in capsys.readouterr().err


def test_the_unconditional_voice_is_no_voice_to_measure(tmp_path, capsys):
    """'any' (a model's voice of no drum) has no held-out clips: asking for it is refused as an
    unknown voice, and it is not among the voices measured by default."""
    from fastdrum.testing import random_model

    decays = {"a": [0.01], "any": [0.01]}
    model = random_model(
        voices=("a", "any"), decays=decays, envelope={"hold": 0.03, "floor_db": -60.0}
    )
    model.save(tmp_path / "m.npz")
    with pytest.raises(SystemExit) as exc:
        normalised_level.main([str(tmp_path / "m.npz"), "--voices", "a,any"])
    assert exc.value.code == 2
    assert "unknown voices ['any']; the model has ['a']" in capsys.readouterr().err
