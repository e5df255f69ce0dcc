"""tools/primed_tails.py: the tail figures on clips whose continuation is known."""

import os
import sys

import numpy as np
import pytest

import fastdrum

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

primed_tails = pytest.importorskip("primed_tails")

SR = 8000


def decaying_clips(n=6, seconds=1.0, tau=0.2, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, len(t))) * np.exp(-t / tau)


def test_a_continuation_equal_to_the_real_one_is_0_db_off():
    real = decaying_clips()
    r = primed_tails.compare(real, real, 800, SR)
    assert r == dict(median_gap_db=0.0, within_6db=1.0, decaying=1.0, decaying_real=1.0)


def test_the_level_change_is_that_of_the_envelope():
    # from the primer's last 50 ms (0.05-0.1 s) to the last quarter (0.75-1 s) of exp(-t / 0.2):
    # the mean square of e^(-2t/0.2) over each window, in dB
    t = np.arange(SR) / SR
    env = np.exp(-t / 0.2)[None] * np.sign(np.sin(2 * np.pi * 1000 * t + 0.1))
    want = 10 * np.log10(np.mean(env[0, 6000:] ** 2) / np.mean(env[0, 400:800] ** 2))
    assert primed_tails.tail_change_db(env, 800, SR)[0] == pytest.approx(want)

    def mean_square(a, b, tau=0.2):  # of exp(-t / tau) over [a, b), exactly
        return tau / (2 * (b - a)) * (np.exp(-2 * a / tau) - np.exp(-2 * b / tau))

    assert want == pytest.approx(
        10 * np.log10(mean_square(0.75, 1.0) / mean_square(0.05, 0.1)), abs=0.1
    )


def test_bad_continuations_fail():
    real = decaying_clips()
    held = primed_tails.compare(primed_tails.baseline("hold", real, 800, SR), real, 800, SR)
    dead = primed_tails.compare(primed_tails.baseline("silence", real, 800, SR), real, 800, SR)
    assert held["median_gap_db"] > 20 and held["within_6db"] == 0 and held["decaying"] == 0
    assert dead["median_gap_db"] < -100 and dead["within_6db"] == 0
    assert np.array_equal(primed_tails.baseline("silence", real, 800, SR)[:, :800], real[:, :800])


def test_an_envelope_models_codes_are_the_clip_divided_by_its_envelope():
    """The primers (and the scored codes of tools/tail_fit.py) of an envelope model are the real
    clips as its training prepared them: faded, divided by the envelope of each clip's own decay
    time and clipped, pre-emphasised, mu-law encoded; a model without an envelope's are not divided."""
    from tail_fit import training_codes

    from fastdrum.testing import random_model
    from training.batches import fade_out, preemphasize

    kw = dict(voices=["a"], decays={"a": [0.05, 0.1]}, sample_rate=SR, preemphasis=0.85, seed=0)
    env = {"hold": 0.01, "floor_db": -40.0}
    m, plain = random_model(envelope=env, **kw), random_model(**kw)
    clips = (0.9 * decaying_clips(n=2, seconds=0.2, tau=0.3) / 4).astype(np.float32)
    seconds = np.array([0.05, 0.1])
    t = np.arange(clips.shape[1]) / SR
    e = np.maximum(10 ** (-np.maximum(0, t - 0.01) / seconds[:, None]), 10 ** (-40 / 20))
    faded = fade_out(clips)
    assert (np.abs(faded / e) > 1).any()  # the clipping is exercised
    want = fastdrum.mu_law_encode(
        preemphasize(np.clip(faded / e, -1, 1).astype(np.float32), 0.85), 32
    )
    np.testing.assert_array_equal(training_codes(clips, seconds, m), want)
    np.testing.assert_array_equal(
        training_codes(clips, seconds, plain), fastdrum.mu_law_encode(preemphasize(faded, 0.85), 32)
    )
