"""Model.round_weights and Model.float16_exact against their definition."""

import numpy as np
import pytest

import fastdrum
from fastdrum import ModelFormatError
from fastdrum._format import MATRIX_KEYS, WEIGHT_KEYS
from fastdrum.testing import random_model


def test_matrices_become_their_nearest_float16_and_nothing_else_changes(tmp_path):
    model = random_model(dilations=[1, 2, 4, 8], residual_channels=6, skip_channels=10, seed=4)
    rounded = model.round_weights()
    for k in WEIGHT_KEYS:
        if k in MATRIX_KEYS:
            w = model.weights[k]
            want = w.astype(np.float16).astype(np.float32)
            np.testing.assert_array_equal(rounded.weights[k], want)
            # nearest float16: at most half a float16 ulp (2**-11 relative) in the normal range
            normal = np.abs(want) >= np.finfo(np.float16).tiny
            assert np.all(np.abs(want - w)[normal] <= np.abs(w)[normal] * 2.0**-11)
        else:
            np.testing.assert_array_equal(rounded.weights[k], model.weights[k])
    assert rounded.float16_exact and not model.float16_exact
    assert rounded.meta == dict(model.meta, rounded_weights="float16")
    assert rounded.dilations == model.dilations and rounded.sample_rate == model.sample_rate
    # still format 1: it saves and loads back unchanged
    rounded.save(tmp_path / "r.npz")
    again = fastdrum.load_model(tmp_path / "r.npz")
    assert again.float16_exact
    for k in WEIGHT_KEYS:
        np.testing.assert_array_equal(again.weights[k], rounded.weights[k])
    # rounding twice changes nothing
    for k in MATRIX_KEYS:
        np.testing.assert_array_equal(rounded.round_weights().weights[k], rounded.weights[k])


def test_rounded_model_keeps_its_likelihood():
    model = random_model(dilations=[1, 2, 4, 8], quantization_channels=64, seed=2)
    y = np.sin(np.linspace(0, 40, 400)) * np.linspace(1, 0, 400)
    a, b = model.log_prob(y), model.round_weights().log_prob(y)
    assert abs(a - b) <= 1e-3 * abs(a)


def test_shipped_models_are_float16_exact():
    for name in fastdrum.available_models():
        model = fastdrum.load_model(name)
        assert model.float16_exact, name
        assert model.meta.get("rounded_weights") == "float16", name


@pytest.mark.parametrize("dtype", ["float32", "int8", "bfloat16", None, 3])
def test_only_float16_is_offered(dtype):
    with pytest.raises(ModelFormatError, match="dtype must be 'float16'"):
        random_model(seed=0).round_weights(dtype)


def test_weights_beyond_float16_range_are_refused():
    model = random_model(seed=1)
    w = {k: v.copy() for k, v in model.weights.items()}
    w["skip_w"][0, 0, 0] = 7e4
    big = fastdrum.Model(sample_rate=model.sample_rate, dilations=model.dilations, **w)
    with pytest.raises(ModelFormatError, match="'skip_w': 1 weights exceed float16's range"):
        big.round_weights()
    assert not big.float16_exact


def test_float16_exact_accepts_subnormals_and_zeros():
    model = random_model(seed=5)
    w = {k: v.copy() for k, v in model.round_weights().weights.items()}
    w["res_w"][0, 0, :3] = [0.0, -0.0, np.float32(np.float16(6e-8))]  # a float16 subnormal
    m = fastdrum.Model(sample_rate=model.sample_rate, dilations=model.dilations, **w)
    assert m.float16_exact
