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
    partials = r.pop("partials")
    assert partials == r.pop("partials_real") and abs(partials) < 0.1  # noise has none
    assert r == dict(median_gap_db=0.0, within_6db=1.0, decaying=1.0, decaying_real=1.0)


def test_partials_that_ring_on_are_heard_in_the_continuation():
    """Decaying partials continued as they were keep their persistence; continued by noise at the
    primer's level (the hold baseline), they lose it."""
    t = np.arange(SR) / SR
    rng = np.random.default_rng(5)
    real = np.array(
        [
            sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (1210.0, 2330.0, 3170.0))
            * np.exp(-t / 0.4)
            for _ in range(4)
        ]
    )
    same = primed_tails.compare(real, real, 800, SR)
    held = primed_tails.compare(primed_tails.baseline("hold", real, 800, SR), real, 800, SR)
    assert same["partials"] == same["partials_real"] > 0.8
    assert abs(held["partials"]) < 0.1 and held["partials_real"] == same["partials_real"]


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


def test_a_model_with_integration_and_a_shelf_gets_its_voices_codes_and_decodes_them():
    """A crash-like model (integration b = 0.99, a low shelf): the codes are the clip through the
    shelf, the integration and the pre-emphasis, as training codes it (without them the primer of
    such a model was a clip it never saw, and decoding it as the tool decodes raised)."""
    from tail_fit import training_codes

    from fastdrum._generate import _finish
    from fastdrum.testing import random_model
    from training.batches import fade_out, preemphasize

    shelf = fastdrum.mulaw.shelf_coefficients(80.0, SR)
    kw = dict(voices=["a"], sample_rate=SR, preemphasis=0.85, quantization_channels=256, seed=0)
    m = random_model(integration=0.99, shelf_zero=shelf[0], shelf_pole=shelf[1], **kw)
    clips = (0.9 * decaying_clips(n=2, seconds=0.2, tau=0.3) / 4).astype(np.float32)
    q = training_codes(clips, None, m, "a")
    want = preemphasize(fade_out(clips), 0.85, np.float32(0.99), m.shelf_of("a"))
    np.testing.assert_array_equal(q, fastdrum.mu_law_encode(want, 256))
    y = _finish(q, m, None, m.preemphasis_of("a"), m.integration_of("a"), m.shelf_of("a"))
    assert np.corrcoef(y.ravel(), fade_out(clips).ravel())[0, 1] > 0.9


def test_a_format_6_models_codes_are_its_predictors_and_format_7_is_refused():
    """tools/tail_fit.py's codes of a format-6 model are the closed loop's error codes of the clip as
    training prepares it (they were plain mu-law of the clip); a format-7 model is refused by name."""
    from tail_fit import training_codes

    from fastdrum import predictor
    from fastdrum.testing import random_model
    from training.batches import fade_out, preemphasize

    pred = dict(order=8, window=64, hop=32, gain=1.0)
    kw = dict(sample_rate=SR, preemphasis=0.85, seed=0, predictor=pred)
    clips = (0.9 * decaying_clips(n=2, seconds=0.2, tau=0.3) / 4).astype(np.float32)
    coded = preemphasize(fade_out(clips), 0.85)
    want = np.stack([predictor.encode(r, 8, 64, 32, 1.0, 32)[0] for r in coded])
    got = training_codes(clips, None, random_model(**kw))
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, fastdrum.mu_law_encode(coded, 32))
    with pytest.raises(fastdrum.GenerationError, match="format-7 model is fed the prediction"):
        training_codes(clips, None, random_model(loop=True, **kw))
