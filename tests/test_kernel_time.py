"""Time-since-onset conditioning (format 2) in the compiled kernel, against the NumPy reference.

Step t adds to z of layer l the bias sum_k phi_k(t) * time_w[l, k], with
phi_k(t) = float32(exp(-b / time_tau[k])) and b = time_block * (t // time_block)
(fastdrum._reference.time_bias). The kernel folds it into its bias of z and
refreshes that only when t enters a new block, so the tests cross several
blocks and cut run() into chunks that start inside a block.
"""

import numpy as np
import pytest
from conftest import ODD_SIZES, TOLERANCES
from kernel_support import PANEL_PATHS, PATHS, need

import fastdrum
from fastdrum import GenerationError, _reference
from fastdrum.testing import random_model

_wavenet = pytest.importorskip(
    "fastdrum._ext._wavenet", reason="kernel not built: pip install -e ."
)

RTOL, ATOL = TOLERANCES[np.float32]
VOICES = ["a", "b", "c"]
TAU = [1.0, 7.0, 60.0, 900.0, 2.0**24]
T = 200
#: Chunks of run() whose starts are not multiples of the time blocks (except 1).
CHUNKS = [0, 5, 17, 64, 65, 130, T]


def _need(*paths):
    need(_wavenet, *paths)


def _model(time_block, voiced, rounded=False, seed=0, **kwargs):
    model = random_model(
        **ODD_SIZES,
        voices=VOICES if voiced else None,
        embedding_size=3,
        time_tau=TAU,
        time_block=time_block,
        seed=seed,
        **kwargs,
    )
    return model.round_weights() if rounded else model


def _cond(model, B):
    """Per-row conditioning bias of a voiced model (a different voice blend each row), or None."""
    if not model.voices:
        return None
    rows = [model.conditioning({VOICES[i % 3]: 1, VOICES[(i + 1) % 3]: i % 4}) for i in range(B)]
    return np.ascontiguousarray(np.stack(rows))


def _codes(model, B, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, model.quantization_channels, (B, T)).astype(np.int32)


def _kernel_logits(
    model, codes, gemm="auto", act="auto", n_threads=1, bounds=(0, T), cond=None, weights="auto"
):
    """Teacher-forced logits (B, T, Q) of the kernel, run() called once per chunk of `bounds`."""
    B = codes.shape[0]
    state = _wavenet.State(model, B, n_threads, cond, _gemm=gemm, _act=act, _weights=weights)
    codes = codes.copy()
    out = np.empty((B, T, model.quantization_channels), np.float32)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        part = np.empty((B, stop - start, model.quantization_channels), np.float32)
        state.run(codes, T, np.zeros((B, stop - start)), 1.0, start, stop, part)
        out[:, start:stop] = part
    return out


def _reference_logits(model, codes, cond=None):
    B = codes.shape[0]
    out = np.empty((B, T, model.quantization_channels), np.float32)
    state = _reference.State(model._reference_weights(), B, cond=cond)
    state.run(codes.copy(), T, np.zeros((B, T)), 1.0, 0, T, out)
    return out


@pytest.mark.parametrize("rounded", [False, True], ids=["float32", "float16-exact"])
@pytest.mark.parametrize("voiced", [False, True], ids=["unvoiced", "voiced"])
@pytest.mark.parametrize("time_block", [1, 3, 64])
@pytest.mark.parametrize("gemm, act", PATHS)
def test_time_conditioned_logits_match_reference(gemm, act, time_block, voiced, rounded):
    _need(gemm, act)
    model = _model(time_block, voiced, rounded, seed=time_block)
    for B in (1, 6):
        codes = _codes(model, B)
        cond = _cond(model, B)
        expected = _reference_logits(model, codes, cond)
        whole = {}
        for n_threads in (1, 2):
            whole[n_threads] = _kernel_logits(model, codes, gemm, act, n_threads, cond=cond)
            np.testing.assert_allclose(whole[n_threads], expected, rtol=RTOL, atol=ATOL)
            # Chunks starting inside a block: the very same numbers as one call.
            chunked = _kernel_logits(model, codes, gemm, act, n_threads, CHUNKS, cond)
            np.testing.assert_array_equal(chunked, whole[n_threads])
        if gemm in PANEL_PATHS:  # BLAS may round differently for other row counts (see test_kernel)
            np.testing.assert_array_equal(whole[2], whole[1])


def test_float16_storage_keeps_the_time_weights_float32():
    """binary16 product weights with the time bias: the very numbers of float32 storage."""
    _need("simd")
    model = _model(3, True, rounded=True)
    assert _wavenet.State(model, 2).weight_dtype == "float16"
    codes, cond = _codes(model, 4), _cond(model, 4)
    np.testing.assert_array_equal(
        _kernel_logits(model, codes, "simd", "simd", 2, CHUNKS, cond, weights="float16"),
        _kernel_logits(model, codes, "simd", "simd", 2, CHUNKS, cond, weights="float32"),
    )


def _without_time(model, dil_b=None):
    """The same network without the time arrays (optionally with another dil_b)."""
    w = {k: v for k, v in model.weights.items() if k != "time_w"}
    if dil_b is not None:
        w["dil_b"] = dil_b
    kwargs = {}
    if model.voices:
        kwargs = dict(voices=model.voices)
    return fastdrum.Model(
        sample_rate=model.sample_rate,
        dilations=model.dilations,
        preemphasis=model.preemphasis,
        **kwargs,
        **w,
    )


def _with_time_w(model, time_w):
    w = dict(model.weights, time_w=time_w)
    kwargs = dict(voices=model.voices) if model.voices else {}
    return fastdrum.Model(
        sample_rate=model.sample_rate,
        dilations=model.dilations,
        preemphasis=model.preemphasis,
        time_tau=model.time_tau,
        time_block=model.time_block,
        **kwargs,
        **w,
    )


@pytest.mark.parametrize("voiced", [False, True], ids=["unvoiced", "voiced"])
@pytest.mark.parametrize("gemm, act", PATHS)
def test_zero_time_weights_change_nothing(gemm, act, voiced):
    _need(gemm, act)
    model = _model(3, voiced)
    zero = _with_time_w(model, np.zeros_like(model.weights["time_w"]))
    plain = _without_time(model)
    assert plain.time_tau is None and zero.time_tau is not None
    for B, n_threads in ((1, 1), (5, 2)):
        codes, cond = _codes(model, B), _cond(model, B)
        np.testing.assert_array_equal(
            _kernel_logits(zero, codes, gemm, act, n_threads, CHUNKS, cond),
            _kernel_logits(plain, codes, gemm, act, n_threads, CHUNKS, cond),
        )


@pytest.mark.parametrize("voiced", [False, True], ids=["unvoiced", "voiced"])
@pytest.mark.parametrize("gemm, act", PATHS)
def test_time_bias_is_used_and_changes_per_block(gemm, act, voiced):
    """In the first block the time bias is time_bias(0): the same as folding it into dil_b.
    From the second block on it differs (the features decay with b)."""
    _need(gemm, act)
    block = 16
    model = _model(block, voiced, scale=2.0)
    first = _reference.time_bias(model.weights["time_w"], model.time_tau, block, 0)
    folded = _without_time(model, dil_b=model.weights["dil_b"] + first)
    B = 4
    codes, cond = _codes(model, B), _cond(model, B)
    got = _kernel_logits(model, codes, gemm, act, 2, CHUNKS, cond)
    same = _kernel_logits(folded, codes, gemm, act, 2, CHUNKS, cond)
    np.testing.assert_allclose(got[:, :block], same[:, :block], rtol=RTOL, atol=ATOL)
    differ = np.abs(got - same).max(axis=(0, 2))[block:]
    assert differ.min() > 100 * ATOL, differ.min()
    plain = _kernel_logits(_without_time(model), codes, gemm, act, 2, CHUNKS, cond)
    assert np.abs(got - plain).max(axis=(0, 2)).min() > 100 * ATOL


@pytest.mark.parametrize("gemm, act", PATHS)
def test_sampled_codes_independent_of_threads_and_chunking(gemm, act):
    """Sampling through the blocks: the same codes for any split, and those codes'
    teacher-forced logits are the reference's."""
    _need(gemm, act)
    model = _model(7, True)
    B, n_primer = 5, 3
    rng = np.random.default_rng(4)
    start_codes = np.zeros((B, T), np.int32)
    start_codes[:, :n_primer] = rng.integers(0, model.quantization_channels, (B, n_primer))
    uniforms = rng.random((B, T - 1))
    cond = _cond(model, B)
    results = []
    for n_threads in (1, 2):
        for bounds in ([0, T - 1], [0, 5, 17, 100, 101, T - 1]):
            codes = start_codes.copy()
            state = _wavenet.State(model, B, n_threads, cond, _gemm=gemm, _act=act)
            for start, stop in zip(bounds[:-1], bounds[1:]):
                u = np.ascontiguousarray(uniforms[:, start:stop])
                state.run(codes, n_primer, u, 0.9, start, stop)
            results.append(codes)
    for codes in results[1:]:
        np.testing.assert_array_equal(codes, results[0])
    assert len(np.unique(results[0][:, n_primer:])) >= 5
    np.testing.assert_allclose(
        _kernel_logits(model, results[0], gemm, act, cond=cond),
        _reference_logits(model, results[0], cond),
        rtol=RTOL,
        atol=ATOL,
    )


class _Fake:
    """A stand-in model whose time arrays can be inconsistent (Model validates its own)."""

    def __init__(self, model, **changes):
        self.weights = dict(model.weights)
        self.dilations = model.dilations
        self.float16_exact = model.float16_exact
        self.time_tau, self.time_block = model.time_tau, model.time_block
        for k, v in changes.items():
            if k == "time_w":
                if v is None:
                    del self.weights["time_w"]
                else:
                    self.weights["time_w"] = v
            else:
                setattr(self, k, v)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(time_w=None), "time_tau, time_block and weights"),
        (dict(time_tau=None), "time_tau, time_block and weights"),
        (dict(time_block=None), "time_tau, time_block and weights"),
        (dict(time_block=0), r"time_block must be in \[1, 65536\]"),
        (dict(time_block=2.0), "time_block must be an integer"),
        (dict(time_tau=np.float32([0.5] * 5)), "time_tau must lie in"),
        (dict(time_tau=np.float32([np.nan] * 5)), "time_tau must lie in"),
        (dict(time_tau=np.ones((5, 1), np.float32)), "time_tau must have one dimension"),
        (dict(time_w=np.zeros((5, 4, 10), np.float32)), "time_w must have shape"),
    ],
)
def test_inconsistent_time_arrays_raise(changes, message):
    model = _model(3, False)
    _wavenet.State(_Fake(model), 2)  # the stand-in itself is fine
    with pytest.raises(GenerationError, match=message):
        _wavenet.State(_Fake(model, **changes), 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_generate_c_equals_numpy_with_time(seed):
    from test_kernel import check_generate_c_equals_numpy

    model = random_model(
        dilations=[1, 2, 4, 8, 1, 2, 4, 8],
        quantization_channels=16,
        seed=6,
        sample_rate=1000,
        time_tau=[2.0, 10.0, 30.0],
        time_block=3,
    )
    check_generate_c_equals_numpy(model, seed)
