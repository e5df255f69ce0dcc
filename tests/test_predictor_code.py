"""tools/predictor_code.py: the closed-loop code of a backward-adaptive predictor's error."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

pc = pytest.importorskip("predictor_code")

from fastdrum.mulaw import mu_law_decode, mu_law_encode  # noqa: E402

SR = 44100


def _partials(T, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / SR
    y = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (1530.0, 2870.0, 4410.0))
    y = y + 0.01 * np.std(y) * rng.standard_normal(T)
    return 0.95 * y / np.abs(y).max()


def test_the_decoder_follows_the_encoder_exactly():
    """Closed loop: the codes alone give back the encoder's decoded samples, bit for bit."""
    x = _partials(3000)
    codes, decoded = pc.encode(x, 16, 1024, 128, 4.0)
    np.testing.assert_array_equal(pc.decode(codes, 16, 1024, 128, 4.0), decoded)
    assert codes.min() >= 0 and codes.max() < 256


def test_without_a_predictor_it_is_plain_mu_law():
    """A first hop (no past: zero coefficients) of gain 1 is mu-law of the clip itself."""
    x = _partials(500)
    codes, decoded = pc.encode(x, 8, 1024, 1000, 1.0)
    np.testing.assert_array_equal(codes, mu_law_encode(x, 256))
    np.testing.assert_allclose(decoded, mu_law_decode(codes, 256))


def test_predicted_partials_are_coded_finer_than_by_mu_law():
    """Steady partials are predicted, so their error is small: at gain 4 the code's noise is under
    plain mu-law's (a higher SNR); the loop is stable (the decoded clip stays bounded)."""
    x = _partials(8192, seed=1)
    _, decoded = pc.encode(x, 32, 2048, 256, 4.0)
    plain = mu_law_decode(mu_law_encode(x, 256), 256)
    assert np.abs(decoded).max() < 2
    assert pc.snr_db(x[2048:], decoded[2048:]) > pc.snr_db(x[2048:], plain[2048:]) + 6


def test_bad_options_exit_2(capsys):
    for argv in (["--voices", "cowbell"], ["--gains", "x"], ["--gains", "0"], ["--order", "0"]):
        with pytest.raises(SystemExit) as exc:
            pc.main(argv)
        assert exc.value.code == 2
    assert "cowbell" in capsys.readouterr().err
