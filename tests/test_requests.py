"""Absurd requests (issue 8): each gets a clear FastDrumError before any large allocation.

Every call runs under a memory guard: tracemalloc must see a small peak, and
the address space is capped about 1 GiB above its current size, so a missing
check fails this test with a MemoryError instead of exhausting the machine.
"""

import contextlib
import fractions
import re
import resource
import tracemalloc

import numpy as np
import pytest

import fastdrum
from fastdrum import FastDrumError, GenerationError, LimitExceededError, ModelNotFoundError
from fastdrum._generate import DEFAULT_MAX_SAMPLES
from fastdrum.testing import random_model

#: A rejected request may allocate at most this much (the model is tiny).
SMALL = 4 * 2**20

SR = 16000


@pytest.fixture(scope="module")
def model():
    return random_model(seed=0, sample_rate=SR, clip_duration=0.01, primers=2)


def _vm_size():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


@contextlib.contextmanager
def bounded(peak_limit=SMALL, headroom=2**30):
    """Fail if the block allocates more than `peak_limit` bytes (tracemalloc).

    The address space is capped `headroom` above its current size meanwhile,
    so that a multi-GB allocation becomes a MemoryError, not an OOM kill.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_size() + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert peak <= peak_limit, (
        f"peak allocation {peak / 2**20:.1f} MiB > {peak_limit / 2**20:.1f} MiB"
    )


def _rejects(call, exc, match):
    with bounded():
        with pytest.raises(exc, match=match) as info:
            call()
    assert isinstance(info.value, FastDrumError)
    return info.value


YEAR = 365 * 24 * 3600.0

# (keyword arguments of generate(model, **kw), exception, message pattern): the
# message must show the bad value.
BAD_GENERATE = [
    # n: a billion, wrong types, not positive
    (
        dict(n=10**9),
        LimitExceededError,
        r"1000000000 \* 160 = 160000000000 samples exceeds max_samples=50000000",
    ),
    (dict(n=0), GenerationError, r"n must be an integer >= 1, got 0"),
    (dict(n=-3), GenerationError, r"n must be an integer >= 1, got -3"),
    (dict(n=2.0), GenerationError, r"n must be an integer >= 1, got 2\.0"),
    (dict(n="2"), GenerationError, r"n must be an integer >= 1, got '2'"),
    (dict(n=True), GenerationError, r"n must be an integer >= 1, got True"),
    (dict(n=None), GenerationError, r"n must be an integer >= 1, got None"),
    (dict(n=np.float64(3)), GenerationError, r"n must be an integer"),
    # duration: negative, NaN, inf, zero, a year, wrong types, under one sample
    (dict(duration=-0.1), GenerationError, r"duration must be a finite number > 0\.0, got -0\.1"),
    (
        dict(duration=float("nan")),
        GenerationError,
        r"duration must be a finite number > 0\.0, got nan",
    ),
    (
        dict(duration=float("inf")),
        GenerationError,
        r"duration must be a finite number > 0\.0, got inf",
    ),
    (dict(duration=-float("inf")), GenerationError, r"got -inf"),
    (dict(duration=0), GenerationError, r"duration must be a finite number > 0\.0, got 0"),
    (dict(duration=np.float32("nan")), GenerationError, r"got nan"),
    (
        dict(duration=YEAR),
        LimitExceededError,
        r"(504576000000|31536000\.0 \* 16000) samples exceeds max_samples=50000000",
    ),
    (dict(duration="0.1"), GenerationError, r"duration must be a finite number > 0\.0, got '0\.1'"),
    (dict(duration=True), GenerationError, r"duration must be a finite number > 0\.0, got True"),
    (
        dict(duration=1e-9),
        GenerationError,
        r"duration 1e-09 s is shorter than one sample at 16000 Hz",
    ),
    # temperature: negative, NaN, inf, wrong types
    (
        dict(temperature=-1.0),
        GenerationError,
        r"temperature must be 0 \(argmax\) or a finite number in \[0\.001, 1000\.0\], got -1\.0",
    ),
    (dict(temperature=float("nan")), GenerationError, r"temperature .* got nan"),
    (dict(temperature=float("inf")), GenerationError, r"temperature .* got inf"),
    (
        dict(temperature="hot"),
        GenerationError,
        r"temperature must be 0 \(argmax\) or a finite number in \[0\.001, 1000\.0\], got 'hot'",
    ),
    (
        dict(temperature=[1.0]),
        GenerationError,
        r"temperature must be 0 \(argmax\) or a finite number in \[0\.001, 1000\.0\], got \[1.0\]",
    ),
    # primer: longer than the clip, codes out of range, wrong types and shapes
    (
        dict(primer=np.full(161, 3)),
        GenerationError,
        r"primer of 161 codes is longer than the clip \(160 samples\)",
    ),
    (
        dict(primer=[3, -1]),
        GenerationError,
        r"primer codes must lie in \[0, 32\), got range \[-1, 3\]",
    ),
    (
        dict(primer=[32]),
        GenerationError,
        r"primer codes must lie in \[0, 32\), got range \[32, 32\]",
    ),
    (dict(primer=[2**40]), GenerationError, r"primer codes must lie in \[0, 32\)"),
    (dict(primer=[1.5, 2.0]), GenerationError, r"primer codes must be integers, got dtype float64"),
    (dict(primer=[True]), GenerationError, r"primer codes must be integers, got dtype bool"),
    (dict(primer=None), GenerationError, r"primer codes must be integers, got dtype object"),
    (dict(primer=[]), GenerationError, r"primer codes must be integers"),
    (
        dict(primer=np.zeros((2, 3), dtype=int)),
        GenerationError,
        r"primer must have shape \(P,\) or \(n, P\) = \(1, P\), got \(2, 3\)",
    ),
    (dict(primer=np.zeros((1, 1, 3), dtype=int)), GenerationError, r"primer must have shape"),
    (dict(primer=np.zeros((1, 0), dtype=int)), GenerationError, r"primer must have shape"),
    (
        dict(primer="noise"),
        GenerationError,
        r"primer must be 'auto', 'data', 'silence' or an array of codes, got 'noise'",
    ),
    (
        dict(primer_noise=-0.1),
        GenerationError,
        r"primer_noise must be a finite number >= 0\.0, got -0\.1",
    ),
    (dict(primer_noise=float("nan")), GenerationError, r"primer_noise .* got nan"),
    # batch_size, n_threads, seed, backend, max_samples
    (dict(batch_size=0), GenerationError, r"batch_size must be an integer in \[1, 65536\], got 0"),
    (
        dict(batch_size=10**9),
        GenerationError,
        r"batch_size must be an integer in \[1, 65536\], got 1000000000",
    ),
    (
        dict(batch_size=8.0),
        GenerationError,
        r"batch_size must be an integer in \[1, 65536\], got 8\.0",
    ),
    (dict(n_threads=0), GenerationError, r"n_threads must be an integer in \[1, 256\], got 0"),
    (
        dict(n_threads=10**6),
        GenerationError,
        r"n_threads must be an integer in \[1, 256\], got 1000000",
    ),
    (dict(seed=-1), GenerationError, r"seed must be a non-negative integer or None, got -1"),
    (
        dict(seed=np.int64(-5)),
        GenerationError,
        r"seed must be a non-negative integer or None, got np\.int64\(-5\)",
    ),
    (dict(seed=1.5), GenerationError, r"seed must be a non-negative integer or None, got 1\.5"),
    (dict(seed="abc"), GenerationError, r"seed must be a non-negative integer or None, got 'abc'"),
    (dict(seed=True), GenerationError, r"seed must be a non-negative integer or None, got True"),
    (
        dict(backend="gpu"),
        GenerationError,
        r"backend must be one of \('auto', 'c', 'numpy'\), got 'gpu'",
    ),
    (dict(backend=None), GenerationError, r"backend must be one of .* got None"),
    (dict(max_samples=0), GenerationError, r"max_samples must be an integer >= 1, got 0"),
    (
        dict(max_samples=float("inf")),
        GenerationError,
        r"max_samples must be an integer >= 1, got inf",
    ),
    (dict(max_samples=True), GenerationError, r"max_samples must be an integer >= 1, got True"),
]


@pytest.mark.parametrize(
    "kwargs,exc,match", BAD_GENERATE, ids=[repr(c[0])[:60] for c in BAD_GENERATE]
)
def test_absurd_generate_requests_fail_clearly_and_cheaply(model, kwargs, exc, match):
    kw = dict(n=1, duration=0.01, backend="numpy")
    kw.update(kwargs)
    n = kw.pop("n")
    _rejects(lambda: fastdrum.generate(model, n, **kw), exc, match)


@pytest.mark.parametrize(
    "kwargs,exc,match", BAD_GENERATE[::5], ids=[repr(c[0])[:60] for c in BAD_GENERATE[::5]]
)
def test_model_generate_checks_the_same(model, kwargs, exc, match):
    kw = dict(n=1, duration=0.01, backend="numpy")
    kw.update(kwargs)
    n = kw.pop("n")
    _rejects(lambda: model.generate(n, **kw), exc, match)


@pytest.mark.parametrize(
    "what,exc,match",
    [
        (42, GenerationError, r"expected a Model, a shipped model's name or a model path, got 42"),
        (None, GenerationError, r"got None"),
        (b"kick", GenerationError, r"got b'kick'"),
        ("cowbell-9000", ModelNotFoundError, r"no model named 'cowbell-9000'"),
        (
            "/nonexistent/dir/kick.npz",
            ModelNotFoundError,
            r"'/nonexistent/dir/kick\.npz' does not exist",
        ),
    ],
)
def test_absurd_models(what, exc, match):
    _rejects(lambda: fastdrum.generate(what, 1, duration=0.01, backend="numpy"), exc, match)


def test_model_without_default_duration_asks_for_one():
    m = random_model(seed=1)
    m.meta.pop("clip_duration")
    _rejects(lambda: fastdrum.generate(m, 1, backend="numpy"), GenerationError, r"pass duration=")


def test_data_primer_on_a_model_without_primers():
    _rejects(
        lambda: fastdrum.generate(
            random_model(seed=1), 1, duration=0.01, primer="data", backend="numpy"
        ),
        GenerationError,
        r"primer='data' needs a model with primers",
    )


def test_the_sample_limit_is_exact_and_can_be_raised_deliberately(model):
    """n * T samples: one over the limit is refused, the limit itself is allowed."""
    T = round(0.01 * SR)
    _rejects(
        lambda: fastdrum.generate(model, 4, duration=0.01, max_samples=4 * T - 1, backend="numpy"),
        LimitExceededError,
        rf"4 \* {T} = {4 * T} samples exceeds max_samples={4 * T - 1} "
        r"\(pass a larger max_samples= to allow it\)",
    )
    y = fastdrum.generate(model, 4, duration=0.01, max_samples=4 * T, seed=0, backend="numpy")
    assert y.shape == (4, T) and np.isfinite(y).all() and np.abs(y).max() <= 1
    # Beyond the default limit, raising it is what lets a request through.
    n_big = DEFAULT_MAX_SAMPLES // T + 1
    _rejects(
        lambda: fastdrum.generate(model, n_big, duration=0.01, backend="numpy"),
        LimitExceededError,
        "max_samples=50000000",
    )


def test_exotic_but_valid_numbers_are_accepted(model):
    """numbers.Integral / numbers.Real values that are not int/float still work."""
    a = fastdrum.generate(
        model,
        np.int64(2),
        duration=fractions.Fraction(1, 100),
        seed=np.uint8(3),
        temperature=np.float32(1.0),
        batch_size=np.int16(1),
        backend="numpy",
    )
    b = fastdrum.generate(model, 2, duration=0.01, seed=3, temperature=1.0, backend="numpy")
    np.testing.assert_array_equal(a, b)


# -- checks missing in files this test does not own (fixes in docs/hardening.md) ----------------
@pytest.mark.parametrize("duration", [1e305, 1.7e308])
def test_huge_finite_duration_is_a_limit_error(model, duration):
    _rejects(
        lambda: fastdrum.generate(model, 1, duration=duration, backend="numpy"),
        LimitExceededError,
        r"exceeds max_samples",
    )


@pytest.mark.parametrize("temperature", [5e-324, 1e-50, 1e-40, 1e300])
def test_temperature_outside_float32_range_is_refused(model, temperature):
    _rejects(
        lambda: fastdrum.generate(
            model, 1, duration=0.01, temperature=temperature, backend="numpy"
        ),
        GenerationError,
        r"temperature must be 0 \(argmax\) or a finite number in \[.*\], got "
        + re.escape(repr(temperature)),
    )


def test_many_one_sample_clips_cost_memory_in_proportion_to_the_output(model):
    """20,000 clips of 1 sample are 80 KB of output, within max_samples; memory must match.

    (At the default limit that would be 5e7 clips of one sample: 45 GB of Generators.)
    """
    n = 20_000
    with bounded(peak_limit=SMALL):
        y = fastdrum.generate(model, n, duration=1 / SR, seed=0, backend="numpy")
    assert y.shape == (n, 1)


def test_progress_must_be_a_bool(model):
    _rejects(
        lambda: fastdrum.generate(model, 1, duration=0.01, progress="no", backend="numpy"),
        GenerationError,
        r"progress must be True or False, got 'no'",
    )


@pytest.mark.parametrize("method", ["forward", "log_prob"])
def test_forward_and_log_prob_of_absurd_length_are_limit_errors(model, method):
    codes = np.zeros(2**24, dtype=np.int8)  # 16 MB of codes; the logits alone would be 2 GB
    call = getattr(model, method)
    kw = {"codes": True} if method == "log_prob" else {}
    _rejects(lambda: call(codes, **kw), LimitExceededError, r"max_samples")
    # The limit is the caller's to raise: a short sequence passes when allowed.
    with pytest.raises(LimitExceededError, match=r"max_samples=99"):
        call(np.zeros(100, dtype=np.int8), max_samples=99, **kw)
    call(np.zeros(100, dtype=np.int8), max_samples=100, **kw)


@pytest.mark.parametrize("dtype", [np.int8, np.float16, np.complex64, object])
def test_forward_dtype_must_be_float32_or_float64(model, dtype):
    _rejects(
        lambda: model.forward([1, 2, 3], dtype=dtype),
        GenerationError,
        r"dtype must be float32 or float64",
    )


@pytest.mark.parametrize("y", ["abc", [0.1, "x"], [[0.1], [0.2, 0.3]]])
def test_log_prob_of_non_numbers_is_a_generation_error(model, y):
    _rejects(lambda: model.log_prob(y), GenerationError, r"y must be")


def test_model_from_ragged_arrays_is_a_format_error(model):
    _rejects(
        lambda: fastdrum.Model(sample_rate=SR, dilations=[1, [2]], **model.weights),
        fastdrum.ModelFormatError,
        r"'dilations'",
    )


def test_load_model_of_a_number_is_a_fastdrum_error():
    _rejects(lambda: fastdrum.load_model(42), FastDrumError, r"got int")


def test_a_tiny_model_with_huge_dilations_cannot_make_generate_allocate_gigabytes():
    """A valid 1 KB file with dilations 2**20 (x4) and R = 8: a batch of 64 needs 8.6 GB of rings.

    It must be refused (LimitExceededError naming batch_size) before the rings are allocated.
    """
    m = random_model(dilations=[2**20] * 4, residual_channels=8, seed=0, sample_rate=SR)
    _rejects(
        lambda: fastdrum.generate(m, 64, duration=0.001, seed=0, backend="numpy"),
        LimitExceededError,
        r"batch_size",
    )
