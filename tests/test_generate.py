"""fastdrum.generate on every backend: shapes, seeds, primers, temperature, distribution."""

import numpy as np
import pytest

import fastdrum
from fastdrum import GenerationError, ModelNotFoundError, mu_law_decode, mu_law_encode
from fastdrum.testing import random_model


@pytest.fixture(scope="module")
def model():
    return random_model(
        seed=11, dilations=[1, 2, 4, 8, 1], sample_rate=8000, primers=5, clip_duration=0.004
    )


def test_shape_dtype_range(model, backend):
    y = fastdrum.generate(model, 3, duration=0.01, seed=0, backend=backend)
    assert y.shape == (3, 80) and y.dtype == np.float32
    assert np.all(np.abs(y) <= 1)


def test_default_duration_comes_from_meta(model, backend):
    y = fastdrum.generate(model, seed=0, backend=backend)
    assert y.shape == (1, round(0.004 * 8000))


def test_same_seed_same_clips(model, backend):
    a = fastdrum.generate(model, 4, duration=0.01, seed=5, backend=backend)
    b = fastdrum.generate(model, 4, duration=0.01, seed=5, backend=backend)
    c = fastdrum.generate(model, 4, duration=0.01, seed=6, backend=backend)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_clip_does_not_depend_on_n_or_batch_size(model, backend):
    many = fastdrum.generate(model, 5, duration=0.01, seed=3, backend=backend, batch_size=2)
    few = fastdrum.generate(model, 2, duration=0.01, seed=3, backend=backend)
    np.testing.assert_array_equal(many[:2], few)


def test_model_method_is_the_function(model, backend):
    np.testing.assert_array_equal(
        model.generate(2, duration=0.01, seed=1, backend=backend),
        fastdrum.generate(model, 2, duration=0.01, seed=1, backend=backend),
    )


def test_given_primer_starts_every_clip(model, backend):
    primer = np.array([3, 30, 7, 16])
    y = fastdrum.generate(model, 2, duration=0.01, seed=0, primer=primer, backend=backend)
    np.testing.assert_array_equal(y[:, :4], np.broadcast_to(mu_law_decode(primer, 32), (2, 4)))


def test_silence_primer(model, backend):
    y = fastdrum.generate(model, 2, duration=0.01, seed=0, primer="silence", backend=backend)
    np.testing.assert_array_equal(mu_law_encode(y[:, 0], 32), [16, 16])


def test_data_primer_comes_from_the_model(model, backend):
    y = fastdrum.generate(model, 6, duration=0.01, seed=0, primer="data", backend=backend)
    starts = {tuple(r) for r in mu_law_encode(y[:, :8], 32)}
    assert starts <= {tuple(r) for r in model.primers}
    noisy = fastdrum.generate(
        model, 6, duration=0.01, seed=0, primer="data", primer_noise=0.05, backend=backend
    )
    assert not np.array_equal(noisy[:, :8], y[:, :8])


def test_epsilon_never_draws_a_less_probable_code_and_keeps_the_rest_in_proportion(model, backend):
    """One sampled step from a fixed primer with epsilon sampling: no code below the cutoff is
    drawn; the others follow softmax(logits) restricted to them and renormalised."""
    n = 4000
    primer = np.array([16, 20])
    logits = model.forward(primer, dtype=np.float64)[-1]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    ranked = np.sort(p)[::-1]
    eps = (ranked[5] + ranked[6]) / 2  # six codes kept, the cutoff far from every probability
    assert min(ranked[5] - eps, eps - ranked[6]) > 1e-3
    y = fastdrum.generate(
        model,
        n,
        duration=3 / 8000,
        seed=0,
        primer=primer,
        epsilon=eps,
        backend=backend,
        batch_size=n,
    )
    counts = np.bincount(mu_law_encode(y[:, 2], 32), minlength=32)
    kept = p >= eps
    assert counts[~kept].sum() == 0
    q = np.where(kept, p, 0) / p[kept].sum()
    chi2 = ((counts[kept] - n * q[kept]) ** 2 / (n * q[kept])).sum()
    assert chi2 < 40  # 5 dof: a p-value of about 1e-7
    # without the cutoff the same draws reach the less probable codes
    y0 = fastdrum.generate(
        model, n, duration=3 / 8000, seed=0, primer=primer, backend=backend, batch_size=n
    )
    assert np.bincount(mu_law_encode(y0[:, 2], 32), minlength=32)[~kept].sum() > 0


@pytest.mark.parametrize("eps", [-0.1, 1.0, float("nan"), float("inf"), "0.1", True])
def test_epsilon_outside_0_1_is_refused(model, eps):
    with pytest.raises(GenerationError, match="epsilon must be"):
        fastdrum.generate(model, duration=0.01, epsilon=eps, backend="numpy")


def test_temperature_zero_is_deterministic_argmax(model, backend):
    a = fastdrum.generate(
        model, 2, duration=0.01, seed=1, temperature=0, primer="silence", backend=backend
    )
    b = fastdrum.generate(
        model, 2, duration=0.01, seed=2, temperature=0, primer="silence", backend=backend
    )
    np.testing.assert_array_equal(a, b)
    codes = mu_law_encode(a[0], 32)
    # greedy decoding: each code is the argmax of the logits given the codes before it
    np.testing.assert_array_equal(codes[1:], model.forward(codes).argmax(axis=1)[:-1])


def test_samples_follow_the_model_distribution(model, backend):
    """One sampled step from a fixed primer: the empirical histogram matches softmax(logits)."""
    n = 4000
    primer = np.array([16, 20])
    y = fastdrum.generate(
        model, n, duration=3 / 8000, seed=0, primer=primer, backend=backend, batch_size=n
    )
    counts = np.bincount(mu_law_encode(y[:, 2], 32), minlength=32)
    logits = model.forward(primer, dtype=np.float64)[-1]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    # chi-square over codes with expected count >= 5; 31 dof, p-value of 1e-6 ~ chi2 70
    keep = n * p >= 5
    chi2 = ((counts[keep] - n * p[keep]) ** 2 / (n * p[keep])).sum()
    assert chi2 < 70
    assert counts[~keep].sum() <= max(5 * (~keep).sum(), 10)


def test_progress_bar(model, backend, capsys):
    y = fastdrum.generate(model, 2, duration=0.01, seed=0, backend=backend, progress=True)
    assert y.shape == (2, 80)
    assert "sample" in capsys.readouterr().err


def test_auto_is_the_kernel():
    assert fastdrum._backends.get("auto") is fastdrum._backends.get("c")


def test_unknown_backend(model):
    with pytest.raises(GenerationError, match="backend must be one of"):
        fastdrum.generate(model, backend="gpu")


def test_unknown_model_name():
    with pytest.raises(ModelNotFoundError, match="no model named 'tuba'"):
        fastdrum.generate("tuba")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=0), "n must be an integer >= 1"),
        (dict(n=2.5), "n must be an integer"),
        (dict(duration=-1.0), "duration must be a finite number > 0"),
        (dict(duration=float("nan")), "duration must be a finite number > 0"),
        (dict(temperature=-0.5), "temperature must be 0 \\(argmax\\) or a finite number"),
        (dict(primer=np.arange(100)), "longer than the clip"),
        (dict(primer=[0, 99]), r"primer codes must lie in \[0, 32\)"),
        (dict(primer="drums"), "primer must be"),
        (dict(seed=-1), "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments(model, kwargs, match):
    with pytest.raises(GenerationError, match=match):
        fastdrum.generate(model, **{"duration": 0.01, **kwargs})


def test_limit_is_checked_and_can_be_raised(model):
    with pytest.raises(fastdrum.LimitExceededError, match="max_samples"):
        fastdrum.generate(model, 10**9, duration=1.0)
    y = fastdrum.generate(model, 2, duration=0.01, max_samples=160, backend="numpy")
    assert y.shape == (2, 80)
