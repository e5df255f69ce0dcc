"""The NumPy reference against the format-1 maths written out independently."""

import numpy as np
import pytest

from fastdrum import _reference
from fastdrum.testing import random_model


def table_maths(path, codes):
    """The network of docs/format.md, step by step, straight from an .npz file.

    Written independently of fastdrum (plain loops over time, np.load only),
    so that a file written by any program is checked against the table.
    """
    f = np.load(path, allow_pickle=False)
    w = {k: f[k].astype(np.float64) for k in f.files if k not in ("meta", "primers")}
    dil = [int(d) for d in f["dilations"]]
    T, R = len(codes), w["input_b"].shape[0]
    D = w["dil_b"].shape[1] // 2
    x = np.zeros((T, R))
    for t in range(T):
        x[t] = w["input_w"][1, codes[t]] + w["input_b"]
        if t > 0:
            x[t] += w["input_w"][0, codes[t - 1]]
    skip = np.zeros((T, w["skip_b"].shape[1]))
    for l, d in enumerate(dil):
        nxt = np.zeros_like(x)
        for t in range(T):
            past = x[t - d] if t - d >= 0 else np.zeros(R)
            z = past @ w["dil_w"][l, 0] + x[t] @ w["dil_w"][l, 1] + w["dil_b"][l]
            h = np.tanh(z[:D]) * (1 / (1 + np.exp(-z[D:])))
            skip[t] += h @ w["skip_w"][l] + w["skip_b"][l]
            nxt[t] = x[t] + h @ w["res_w"][l] + w["res_b"][l]
        x = nxt
    hidden = np.maximum(np.maximum(skip, 0) @ w["out1_w"] + w["out1_b"], 0)
    return hidden @ w["out2_w"] + w["out2_b"]


SHAPES = [
    dict(dilations=[1]),  # one layer
    dict(dilations=[1, 2, 4, 8], residual_channels=7, dilation_channels=5, skip_channels=11),  # odd
    dict(dilations=[2, 2, 1, 1, 3]),  # repeated, non-power-of-2
    dict(dilations=[1, 64], quantization_channels=7),  # dilation longer than the clip
]


@pytest.mark.parametrize(
    "shape", SHAPES, ids=["one-layer", "odd-channels", "repeated", "long-dilation"]
)
def test_forward_equals_the_table(tmp_path, shape):
    model = random_model(seed=1, **shape)
    path = tmp_path / "m.npz"
    model.save(path)
    codes = np.random.default_rng(2).integers(0, model.quantization_channels, 40)
    expected = table_maths(path, codes)
    np.testing.assert_allclose(
        model.forward(codes, dtype=np.float64), expected, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(model.forward(codes), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "shape", SHAPES, ids=["one-layer", "odd-channels", "repeated", "long-dilation"]
)
@pytest.mark.parametrize("batch", [1, 3])
def test_incremental_teacher_forcing_reproduces_forward(shape, batch):
    model = random_model(seed=3, **shape)
    T = 50
    codes = (
        np.random.default_rng(4)
        .integers(0, model.quantization_channels, (batch, T))
        .astype(np.int32)
    )
    state = _reference.State(model._reference_weights(), batch, dtype=np.float64)
    logits = np.zeros((batch, T, model.quantization_channels))
    # n_primer = T: every step is teacher-forced, codes are left untouched.
    state.run(codes, T, np.zeros((batch, T)), 1.0, 0, T, logits_out=logits)
    for b in range(batch):
        np.testing.assert_allclose(
            logits[b], model.forward(codes[b], dtype=np.float64), rtol=1e-12, atol=1e-12
        )


def test_run_in_chunks_equals_one_call():
    model = random_model(seed=5, dilations=[1, 3, 2])
    T, B = 30, 2
    rng = np.random.default_rng(6)
    u = rng.random((B, T))
    first = np.full((B, T), 16, dtype=np.int32)
    _reference.State(model._reference_weights(), B).run(first, 1, u[:, : T - 1], 1.0, 0, T - 1)
    second = np.full((B, T), 16, dtype=np.int32)
    state = _reference.State(model._reference_weights(), B)
    for start, stop in [(0, 7), (7, 8), (8, T - 1)]:
        state.run(second, 1, u[:, start:stop], 1.0, start, stop)
    np.testing.assert_array_equal(first, second)


def test_sample_is_inverse_cdf():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]] * 5, dtype=np.float32))
    u = np.array([0.0, 0.05, 0.15, 0.5, 0.99])
    # cumulative 0.1, 0.3, 0.6, 1.0: first k with cdf[k] > u
    np.testing.assert_array_equal(_reference.sample(logits, u, 1.0), [0, 0, 1, 2, 3])


def test_sample_temperature_zero_is_argmax():
    logits = np.array([[0.0, 3.0, 3.0, 1.0], [5.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(_reference.sample(logits, np.array([0.99, 0.99]), 0.0), [1, 0])


def test_low_temperature_sharpens():
    logits = np.log(np.array([[0.3, 0.7]], dtype=np.float32))
    # at T = 0.25 the probabilities are 0.3^4 : 0.7^4, so p(0) = 0.0081 / (0.0081 + 0.2401)
    p0 = 0.3**4 / (0.3**4 + 0.7**4)
    assert _reference.sample(logits, np.array([p0 * 0.99]), 0.25)[0] == 0
    assert _reference.sample(logits, np.array([p0 * 1.01]), 0.25)[0] == 1


def test_log_prob_matches_forward_softmax():
    model = random_model(seed=7, dilations=[1, 2])
    codes = np.random.default_rng(8).integers(0, model.quantization_channels, 20)
    logits = model.forward(codes, dtype=np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = np.log(p[np.arange(19), codes[1:]]).sum()
    assert model.log_prob(codes, codes=True) == pytest.approx(expected, rel=1e-10)


# -- epsilon sampling ----------------------------------------------------------------------

#: A uniform grid over [0, 1): the share of it mapping to a code is that code's probability.
GRID = (np.arange(10_000) + 0.5) / 10_000


def _draws(probs, epsilon, temperature=1.0):
    """The codes of every uniform of GRID from one row of probabilities."""
    logits = np.tile(np.log(np.asarray(probs, dtype=np.float32)), (len(GRID), 1))
    return _reference.sample(logits, GRID, temperature, epsilon)


def _old_sample(logits, uniforms, temperature):
    """_reference.sample before epsilon: the rule epsilon = 0 must keep bit for bit."""
    z = logits / np.float32(temperature)
    p = np.exp((z - z.max(axis=1, keepdims=True)).astype(np.float32)).astype(np.float64)
    cdf = np.cumsum(p, axis=1)
    k = (cdf <= (uniforms * cdf[:, -1])[:, None]).sum(axis=1)
    return np.minimum(k, logits.shape[1] - 1).astype(np.int32)


def test_epsilon_never_draws_a_code_just_below_it():
    probs = [0.0499, 0.0501, 0.3, 0.6]
    drawn = _draws(probs, 0.05)
    assert 0 not in drawn  # 0.0499 < 0.05, whatever u
    assert set(drawn) == {1, 2, 3}  # 0.0501 >= 0.05 is drawn
    assert 0 in _draws(probs, 0.0498)  # and 0.0499 is, once the cutoff is below it


def test_epsilon_above_every_probability_draws_the_argmax():
    np.testing.assert_array_equal(_draws([0.2, 0.3, 0.45, 0.05], 0.9), 2)
    np.testing.assert_array_equal(_draws([0.2, 0.3, 0.45, 0.05], 0.46), 2)
    # Exact ties at the top (p = 1 each) both survive a cutoff capped at 1.
    assert set(_draws([0.4, 0.2, 0.4], 0.9)) == {0, 2}


@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.6])
def test_epsilon_zero_is_the_old_rule(temperature):
    rng = np.random.default_rng(9)
    logits = (rng.standard_normal((500, 256)) * 3).astype(np.float32)
    u = rng.random(500)
    old = _old_sample(logits, u, temperature)
    np.testing.assert_array_equal(_reference.sample(logits, u, temperature), old)
    np.testing.assert_array_equal(_reference.sample(logits, u, temperature, 0.0), old)
    assert not np.array_equal(_reference.sample(logits, u, temperature, 0.01), old)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
@pytest.mark.parametrize("epsilon", [0.02, 0.1, 0.3])
def test_epsilon_draws_the_renormalised_kept_probabilities(epsilon, temperature):
    probs = np.array([0.01, 0.04, 0.15, 0.03, 0.25, 0.005, 0.405, 0.11])
    p = probs ** (1 / temperature)  # the temperature first, then the cutoff
    p /= p.sum()
    kept = np.where(p < epsilon, 0.0, p)
    assert 0 < np.count_nonzero(kept) < len(probs)  # the cutoff removes some codes, not all
    share = np.bincount(_draws(probs, epsilon, temperature), minlength=len(probs)) / len(GRID)
    np.testing.assert_allclose(share, kept / kept.sum(), atol=1.5 / len(GRID))
