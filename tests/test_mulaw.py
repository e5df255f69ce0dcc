import numpy as np
import pytest

from fastdrum import FastDrumError, mu_law_decode, mu_law_encode


@pytest.mark.parametrize("q", [2, 16, 256, 65536])
def test_codes_round_trip(q):
    codes = np.arange(q)
    np.testing.assert_array_equal(mu_law_encode(mu_law_decode(codes, q), q), codes)


def test_known_values():
    # mu = 255: f(0.5) = log(1 + 127.5) / log(256) = 0.87601..., code = floor(1.87601 / 2 * 255 + 0.5)
    assert mu_law_encode([0.5])[0] == int(
        np.floor((1 + np.log1p(127.5) / np.log(256)) / 2 * 255 + 0.5)
    )
    np.testing.assert_array_equal(mu_law_encode([-1.0, 0.0, 1.0, 2.0, -3.0]), [0, 128, 255, 255, 0])
    np.testing.assert_allclose(mu_law_decode([0, 255]), [-1.0, 1.0])


def test_decode_is_monotonic_and_bounded():
    y = mu_law_decode(np.arange(256))
    assert y.dtype == np.float32
    assert np.all(np.diff(y) > 0) and y.min() == -1 and y.max() == 1


def test_quantisation_error_is_half_a_step():
    # A code step is 2 / mu in the companded domain; dy/df = ln(1 + mu) * (1 + mu |y|) / mu,
    # so rounding to the nearest code errs by at most half a step times the slope.
    mu = 255
    y = np.linspace(-1, 1, 20001)
    slope = np.log1p(mu) * (1 + mu * np.abs(y)) / mu
    bound = 0.5 * (2 / mu) * slope * 1.02  # 2% for the slope's change within one step
    assert np.all(np.abs(mu_law_decode(mu_law_encode(y)) - y) <= bound)


@pytest.mark.parametrize("bad", [[np.nan], [0.0, np.nan]])
def test_encode_rejects_nan(bad):
    with pytest.raises(FastDrumError, match="NaN"):
        mu_law_encode(bad)


def test_decode_rejects_bad_codes():
    with pytest.raises(FastDrumError, match=r"\[0, 256\)"):
        mu_law_decode([256])
    with pytest.raises(FastDrumError, match="integers"):
        mu_law_decode([0.5])
    with pytest.raises(FastDrumError, match="quantization_channels"):
        mu_law_decode([0], 1)
