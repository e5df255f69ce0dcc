"""The quality evaluation's measures against known signals."""

import numpy as np
import pytest

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


def test_classifier_separates_known_instruments():
    pytest.importorskip("sklearn")
    from training.evaluate import InstrumentClassifier

    rng = np.random.default_rng(5)

    def kick():
        return decaying(rng.uniform(45, 70), rng.uniform(0.08, 0.15), rng, noise=0.05)

    def hat():
        return np.diff(decaying(0, rng.uniform(0.01, 0.03), rng, noise=1.0), prepend=0)

    clips = [kick() for _ in range(15)] + [hat() for _ in range(15)]
    labels = ["kick"] * 15 + ["hihat"] * 15
    clf = InstrumentClassifier().fit(clips, labels, SR)
    test = [kick() for _ in range(10)] + [hat() for _ in range(10)]
    assert list(clf.predict(test, SR)) == ["kick"] * 10 + ["hihat"] * 10
