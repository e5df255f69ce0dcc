"""tools/lpc_partials.py: a backward-adaptive linear predictor, and what it keeps of partials."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

lp = pytest.importorskip("lpc_partials")

SR = 44100


def _partials(T, seed, noise=0.01):
    """Three steady partials under white noise `noise` times their RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / SR
    y = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (1530.0, 2870.0, 4410.0))
    return y + noise * np.std(y) * rng.standard_normal(T)


def test_coefficients_predict_a_sinusoid_and_silence_gives_zeros():
    """x(t) = 2 cos(w) x(t - 1) - x(t - 2) for a sinusoid: order 2 finds it, but for the bias of the
    windowed autocorrelation and the white-noise correction; silence has nothing to predict."""
    w = 2 * np.pi * 1000 / SR
    x = np.sin(w * np.arange(4096))
    a = lp.lpc_coefficients(x, 2, 4096)
    np.testing.assert_allclose(a, [2 * np.cos(w), -1.0], atol=0.02)
    np.testing.assert_array_equal(lp.lpc_coefficients(np.zeros(100), 8, 256), np.zeros(8))


def test_the_error_is_the_clip_less_the_loop_prediction():
    x = _partials(3000, 1)
    order, window, hop = 6, 1024, 200
    e = lp.prediction_error(x, order, window, hop)
    np.testing.assert_array_equal(e[:window], x[:window])
    for t in (window, window + 7, window + hop + 3, len(x) - 1):
        s = window + (t - window) // hop * hop
        a = lp.lpc_coefficients(x[:s], order, window)
        assert e[t] == pytest.approx(x[t] - a @ x[t - order : t][::-1], abs=1e-12)


def test_partials_are_predicted_and_synthesis_keeps_them_white_noise_is_not():
    """Steady partials: the predictor takes them out of the error (high gain, the error's persistence
    near noise's) and, run on its own output driven by noise at the error's level, rings them on.
    White noise: no gain, and nothing lasts."""
    rng = np.random.default_rng(0)
    T = int(0.6 * SR)
    gain, clip, error, primed, short = lp.figures(_partials(T, 2), SR, 32, 4096, 256, rng)
    assert gain > 20 and clip > 0.4 and abs(error) < clip / 4
    assert primed > 0.25
    noise = np.random.default_rng(3).standard_normal(T)
    gain, clip, error, primed, _ = lp.figures(noise, SR, 32, 4096, 256, rng)
    assert abs(gain) < 1 and abs(clip) < 0.05 and abs(error) < 0.05


def test_bad_options_exit_2(capsys):
    for argv in (["--voices", "cowbell"], ["--orders", "x"], ["--orders", "5000"]):
        with pytest.raises(SystemExit) as exc:
            lp.main(argv)
        assert exc.value.code == 2
    assert "cowbell" in capsys.readouterr().err
