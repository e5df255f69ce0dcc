"""tools/exposure_bias.py: the error of a model's predicted mean along a clip's codes."""

import os
import sys
import types

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

exposure_bias = pytest.importorskip("exposure_bias")

from fastdrum.mulaw import mu_law_decode, mu_law_encode, preemphasis  # noqa: E402
from fastdrum.testing import random_model  # noqa: E402

Q, SR = 16, 8000
LEVELS = mu_law_decode(np.arange(Q), Q)


def _stub(logits_of):
    """A model of Q channels whose forward gives ``logits_of(codes)``."""
    return types.SimpleNamespace(
        quantization_channels=Q,
        sample_rate=SR,
        forward=lambda q, voice=None, decay=None: logits_of(np.asarray(q)),
    )


def _codes(n=4000, seed=0):
    t = np.arange(n) / SR
    slow = 0.5 * np.sin(2 * np.pi * 5 * t)  # below 30 Hz
    fast = 0.3 * np.random.default_rng(seed).uniform(-1, 1, n)
    return mu_law_encode(slow + fast, Q)


def test_a_model_sure_of_every_next_code_has_no_error():
    q = _codes()
    sure = np.full((len(q), Q), -1e9)
    sure[np.arange(len(q) - 1), q[1:]] = 0.0  # the last step's row is dropped
    sure[-1] = 0.0
    assert exposure_bias.prediction_errors(_stub(lambda c: sure), q) == (0.0, 0.0)


def test_a_model_that_always_predicts_silence_errs_by_the_signal():
    """A distribution with mean 0 misses each next value by the value itself: the error's RMS is the
    signal's, and its part below 30 Hz is the slow sine's (RMS 0.5 / sqrt 2, less the codes' rounding)."""
    q = _codes()
    flat = np.zeros((len(q), Q))  # uniform over symmetric levels: mean 0
    rms, low = exposure_bias.prediction_errors(_stub(lambda c: flat), q)
    x = LEVELS[q[1:]]
    assert rms == pytest.approx(np.sqrt((x**2).mean()), rel=1e-6)
    assert low == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    # the same codes without the slow sine have little below 30 Hz
    q_fast = mu_law_encode(LEVELS[q] - 0.5 * np.sin(2 * np.pi * 5 * np.arange(len(q)) / SR), Q)
    assert exposure_bias.prediction_errors(_stub(lambda c: flat), q_fast)[1] < low / 4


def test_codes_are_what_the_network_models():
    """Without an envelope: the clip scaled to a peak of at most 1, pre-emphasised with the voice's
    coefficient, coded."""
    m = types.SimpleNamespace(
        envelope=None,
        preemphasis_of={"kick": 0.5}.get,
        integration_of={"kick": 0.0}.get,
        shelf_of={"kick": (0.0, 0.0)}.get,
        quantization_channels=Q,
        sample_rate=SR,
    )
    y = np.array([[0.0, 2.0, -1.0, 0.5], [0.1, 0.2, 0.3, 0.4]])
    want = mu_law_encode(preemphasis(y / np.array([[2.0], [1.0]]), 0.5), Q)
    np.testing.assert_array_equal(exposure_bias.codes(m, y, None, "kick"), want)


def test_a_real_model_runs_end_to_end():
    m = random_model(quantization_channels=Q, seed=0)
    rows = exposure_bias.errors(m, np.sin(np.arange(300)[None] / 7.0), None, [None])
    assert rows.shape == (1, 2) and 0 < rows[0, 1] <= rows[0, 0] < 2


def test_codes_of_a_format_3_model_are_of_the_integral():
    """The codes a format-3 model's network models: the clip integrated, then pre-emphasised."""
    model = random_model(
        quantization_channels=Q, sample_rate=SR, seed=0, preemphasis=0.5, integration=0.9
    )
    y = np.random.default_rng(0).uniform(-0.9, 0.9, (2, 300))
    np.testing.assert_array_equal(
        exposure_bias.codes(model, y, None), mu_law_encode(preemphasis(y, 0.5, 0.9), Q)
    )
    np.testing.assert_array_equal(
        exposure_bias.codes(model, y, None, a=0.0, b=0.0), mu_law_encode(y, Q)
    )


def test_partials_kept_by_a_model_that_predicts_them_and_one_that_does_not():
    """Codes of steady partials: a model sure of every next code predicts them (its error, none:
    zero); one that predicts silence leaves them in its error as they were in the clip."""
    from training.evaluate import partial_persistence

    t = np.arange(SR) / SR
    y = 0.3 * sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate((700.0, 1300.0, 2900.0)))
    q = mu_law_encode(y, Q)
    sure = np.full((len(q), Q), -1e9)
    sure[np.arange(len(q) - 1), q[1:]] = 0.0
    sure[-1] = 0.0
    clip, mean, error = exposure_bias.partials_kept(_stub(lambda c: sure), q)
    assert clip == pytest.approx(partial_persistence(LEVELS[q[1:]], SR)) and clip > 0.5
    assert mean == pytest.approx(clip) and np.isnan(error)  # no error at all: no frames to read
    flat = np.zeros((len(q), Q))
    clip, mean, error = exposure_bias.partials_kept(_stub(lambda c: flat), q)
    assert error == pytest.approx(clip) and np.isnan(mean)  # the mean is 0 throughout
