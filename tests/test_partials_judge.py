"""tools/partials_judge.py: the classifier refitted with the partials that last as one more feature."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

pytest.importorskip("sklearn")
pj = pytest.importorskip("partials_judge")

from training.evaluate import (  # noqa: E402
    CLASSIFIER_SECONDS,
    InstrumentClassifier,
    features,
    partial_persistence,
)

SR = 44100


def _ringing(rng, n):
    """Four partials (a cymbal's few modes) under noise 10 dB down, decaying."""
    t = np.arange(SR // 2) / SR
    out = []
    for _ in range(n):
        f = rng.uniform(3000, 8000, 4)
        y = sum(np.sin(2 * np.pi * fk * t + rng.uniform(0, 6)) for fk in f)
        out.append((y + 0.3 * np.std(y) * rng.standard_normal(len(t))) * np.exp(-t / 0.2))
    return out


def _noise_like(clips, rng):
    """Band-limited noise (3-8 kHz, where the partials lie) under each clip's envelope and level."""
    from scipy import signal

    sos = signal.butter(4, [3000, 8000], "bandpass", fs=SR, output="sos")
    t = np.arange(SR // 2) / SR
    out = []
    for c in clips:
        y = signal.sosfilt(sos, rng.standard_normal(len(t))) * np.exp(-t / 0.2)
        out.append(y * np.std(c) / np.std(y))
    return out


def test_the_column_is_ten_times_the_persistence_after_the_features():
    rng = np.random.default_rng(0)
    clips = _ringing(rng, 3) + [np.zeros(SR // 4)]  # a silent clip has none: 0
    X = pj.rows_with_persistence(clips, SR)
    n = int(round(CLASSIFIER_SECONDS * SR))
    for row, c in zip(X, clips):
        c = np.pad(c[:n], (0, n - len(c[:n])))
        np.testing.assert_allclose(row[:-1], features(c, SR), rtol=1e-5, atol=1e-6)  # float32 clips
        p = partial_persistence(c, SR)
        assert row[-1] == pytest.approx(0.0 if np.isnan(p) else 10 * p, abs=1e-4)
    assert X[-1, -1] == 0 and X[0, -1] > 1


def test_the_column_tells_ringing_partials_from_noise_in_their_band():
    """Ringing partials against noise in their band under their envelope: the column alone
    separates them, and a classifier fitted on it alone names fresh clips of each right."""
    rng = np.random.default_rng(1)
    ring = _ringing(rng, 16)
    noise = _noise_like(_ringing(rng, 16), rng)
    Xr, Xn = pj.rows_with_persistence(ring, SR), pj.rows_with_persistence(noise, SR)
    assert Xr[:, -1].min() > Xn[:, -1].max()
    clf = InstrumentClassifier().fit_features(
        np.vstack([Xr, Xn])[:, -1:], ["crash"] * 16 + ["noise"] * 16
    )
    test = np.vstack(
        [
            pj.rows_with_persistence(_ringing(rng, 6), SR),
            pj.rows_with_persistence(_noise_like(_ringing(rng, 6), rng), SR),
        ]
    )
    assert list(clf.pipeline.predict(test[:, -1:])) == ["crash"] * 6 + ["noise"] * 6


def test_an_unknown_voice_exits_2_before_anything_is_loaded(capsys):
    with pytest.raises(SystemExit) as exc:
        pj.main(["--voices", "kick,cowbell"])
    assert exc.value.code == 2
    assert "unknown cowbell" in capsys.readouterr().err
