"""tools/feature_contributions.py: the classifier's vote split into feature groups."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

pytest.importorskip("sklearn")
fc = pytest.importorskip("feature_contributions")

from training.evaluate import InstrumentClassifier, features  # noqa: E402

SR = 22050


def _clips(rng, n=12):
    """Decaying low sines ("kick") and stationary white noise ("noise")."""
    t = np.arange(SR // 2) / SR
    kicks = [np.sin(2 * np.pi * rng.uniform(50, 80) * t) * np.exp(-t / 0.08) for _ in range(n)]
    noise = [0.3 * rng.standard_normal(len(t)) for _ in range(n)]
    return kicks, noise


def test_groups_cover_every_feature_once_and_name_their_columns():
    width = len(features(np.zeros(SR // 2), SR))
    covered = np.zeros(width, int)
    for s in fc.feature_groups().values():
        covered[s] += 1
    np.testing.assert_array_equal(covered, 1)
    # the flatness group is the feature's own column (features() stores it times 10)
    from training.evaluate import spectral_flatness

    y = np.random.default_rng(1).standard_normal(SR // 2) * np.exp(-np.arange(SR // 2) / 2000)
    col = features(y, SR)[fc.feature_groups()["flatness"]]
    assert col == pytest.approx([10 * spectral_flatness(y, SR)], rel=1e-12)


def test_parts_sum_to_the_classifiers_score_difference():
    rng = np.random.default_rng(3)
    kicks, noise = _clips(rng)
    hats = [np.diff(c, prepend=0) for c in noise[:6]]
    clf = InstrumentClassifier().fit(
        kicks + noise + hats, ["kick"] * 12 + ["noise"] * 12 + ["hihat"] * 6, SR
    )
    test_kicks, test_noise = _clips(rng, 5)
    X = np.array([features(c, SR) for c in test_kicks + test_noise])
    parts, const = fc.contributions(clf, X, "kick")
    d = clf.pipeline.decision_function(X)
    classes = list(clf.classes)
    want = d[:, classes.index("kick")] - d[:, classes.index("noise")]
    np.testing.assert_allclose(sum(parts.values()) + const, want, rtol=1e-10, atol=1e-10)
    # kicks score above noise, noise below: the split is of a vote that separates them
    assert (want[:5] > 0).all() and (want[5:] < 0).all()


def test_unknown_class_is_named():
    rng = np.random.default_rng(4)
    kicks, noise = _clips(rng)
    clf = InstrumentClassifier().fit(kicks + noise, ["kick"] * 12 + ["noise"] * 12, SR)
    X = np.array([features(kicks[0], SR)])
    with pytest.raises(ValueError, match="no class 'snare'"):
        fc.contributions(clf, X, "snare")


def test_a_voice_the_model_lacks_exits_2_before_anything_is_loaded(tmp_path, capsys):
    from fastdrum.testing import random_model

    path = tmp_path / "m.npz"
    random_model(seed=0).save(path)
    with pytest.raises(SystemExit) as exc:
        fc.main([str(path), "--voice", "snare"])
    assert exc.value.code == 2
    assert "no voice 'snare'" in capsys.readouterr().err
