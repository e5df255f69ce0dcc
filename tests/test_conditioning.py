"""Voice conditioning and pre-emphasis (format 2) in the maths: the reference, the kernel, generate().

The definitions (docs/format.md): c = w @ voice_emb, z_l(t) += c @ cond_w[l] at every step;
generate() decodes mu-law, then y = lfilter([1 + a], [1, -a], e), then divides each clip
whose peak exceeds 1 by its peak.
"""

import numpy as np
import pytest
from conftest import ODD_SIZES, TINY_DRUMS, TOLERANCES
from kernel_support import PATHS, need
from scipy.signal import lfilter

import fastdrum
from fastdrum import GenerationError, Model, _reference, load_model
from fastdrum.testing import random_model

RTOL, ATOL = TOLERANCES[np.float32]
BLENDS = ["kick", {"tom_low": 0.5, "kick": 0.5}, {"snare": 1, "crash": 2, "ride": 3}, "ride"]


def table_maths(path, codes, w):
    """Logits of format 2's network, straight from the .npz file with voice weights `w` (V,).

    Independent of fastdrum: float64, plain loops over time, np.load only.
    """
    f = np.load(path, allow_pickle=False)
    W = {k: f[k].astype(np.float64) for k in f.files if f[k].dtype.kind == "f"}
    c = np.asarray(w, dtype=np.float64) @ W["voice_emb"]
    T, R = len(codes), W["input_b"].shape[0]
    D = W["dil_b"].shape[1] // 2
    x = np.zeros((T, R))
    for t in range(T):
        x[t] = (
            W["input_w"][1, codes[t]] + W["input_b"] + (W["input_w"][0, codes[t - 1]] if t else 0)
        )
    skip = np.zeros((T, W["skip_b"].shape[1]))
    for l, d in enumerate(f["dilations"]):
        nxt = np.zeros_like(x)
        for t in range(T):
            past = x[t - d] if t - d >= 0 else np.zeros(R)
            z = (
                past @ W["dil_w"][l, 0]
                + x[t] @ W["dil_w"][l, 1]
                + W["dil_b"][l]
                + c @ W["cond_w"][l]
            )
            h = np.tanh(z[:D]) / (1 + np.exp(-z[D:]))
            skip[t] += h @ W["skip_w"][l] + W["skip_b"][l]
            nxt[t] = x[t] + h @ W["res_w"][l] + W["res_b"][l]
        x = nxt
    return (
        np.maximum(np.maximum(skip, 0) @ W["out1_w"] + W["out1_b"], 0) @ W["out2_w"] + W["out2_b"]
    )


@pytest.fixture(scope="module")
def drums():
    return load_model(TINY_DRUMS)


@pytest.fixture(scope="module")
def bigger():
    """A conditioned model with more layers and odd sizes (padding in the kernel)."""
    return random_model(
        **ODD_SIZES,
        seed=4,
        embedding_size=3,
        voices=["a", "b", "c"],
        preemphasis=0.9,
    )


def _row_conditioning(model, voices):
    return np.ascontiguousarray(np.stack([model.conditioning(v) for v in voices]))


@pytest.mark.parametrize("voice", BLENDS)
def test_forward_is_the_table(drums, voice):
    codes = np.random.default_rng(0).integers(0, 32, 40)
    want = table_maths(TINY_DRUMS, codes, drums.voice_weights(voice))
    np.testing.assert_allclose(
        drums.forward(codes, voice=voice, dtype=np.float64), want, rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(drums.forward(codes, voice=voice), want, rtol=RTOL, atol=ATOL)


def test_conditioning_is_linear_in_the_voice_weights(drums):
    """c = w @ voice_emb: a blend's bias is the blend of the voices' biases."""
    blend = drums.conditioning({"tom_low": 0.25, "kick": 0.75}).astype(np.float64)
    parts = 0.25 * drums.conditioning("tom_low").astype(np.float64) + 0.75 * drums.conditioning(
        "kick"
    )
    np.testing.assert_allclose(blend, parts, rtol=1e-6, atol=1e-7)
    e, cw = (
        drums.weights["voice_emb"].astype(np.float64),
        drums.weights["cond_w"].astype(np.float64),
    )
    np.testing.assert_allclose(
        drums.conditioning("snare"), np.einsum("e,led->ld", e[1], cw), rtol=1e-6, atol=1e-7
    )


def test_incremental_reference_matches_forward_per_row(bigger):
    """Teacher forcing through the reference State, every row with its own voice, = forward()."""
    voices = ["a", "c", {"a": 0.3, "b": 0.7}, "b"]
    codes = np.random.default_rng(1).integers(0, 29, (len(voices), 30)).astype(np.int32)
    state = _reference.State(
        bigger._reference_weights(),
        len(voices),
        dtype=np.float64,
        cond=_row_conditioning(bigger, voices),
    )
    got = np.stack([state.step(codes[:, t]) for t in range(codes.shape[1])], axis=1)
    for i, v in enumerate(voices):
        np.testing.assert_allclose(
            got[i], bigger.forward(codes[i], voice=v, dtype=np.float64), rtol=1e-9, atol=1e-9
        )


_wavenet = pytest.importorskip(
    "fastdrum._ext._wavenet", reason="kernel not built: pip install -e ."
)


def _need(*paths):
    need(_wavenet, *paths)


@pytest.mark.parametrize("rounded", [False, True], ids=["float32-weights", "float16-exact-weights"])
@pytest.mark.parametrize("gemm, act", PATHS)
@pytest.mark.parametrize("B", [1, 7])
def test_kernel_logits_and_codes_match_the_reference(bigger, gemm, act, B, rounded):
    """Per-row conditioning: same logits as forward(), same codes as the reference from the same uniforms."""
    _need(gemm, act)
    model = bigger.round_weights() if rounded else bigger
    voices = [
        ["a", "b", "c", {"a": 0.5, "c": 0.5}, "b", {"b": 1, "c": 3}, "a"][i] for i in range(B)
    ]
    cond = _row_conditioning(model, voices)
    T, n_primer = 40, 6
    rng = np.random.default_rng(B)
    start = np.zeros((B, T), np.int32)
    start[:, :n_primer] = rng.integers(0, 29, (B, n_primer))
    uniforms = rng.random((B, T - 1))
    drawn = []
    for n_threads in (1, 3):
        codes, logits = start.copy(), np.empty((B, T - 1, 29), np.float32)
        state = _wavenet.State(model, B, n_threads, cond, _gemm=gemm, _act=act)
        state.run(codes, n_primer, uniforms, 0.9, 0, T - 1, logits)
        for i, v in enumerate(voices):
            np.testing.assert_allclose(
                logits[i], model.forward(codes[i], voice=v)[: T - 1], rtol=RTOL, atol=ATOL
            )
        drawn.append(codes)
    ref = start.copy()
    _reference.State(model._reference_weights(), B, cond=cond).run(
        ref, n_primer, uniforms, 0.9, 0, T - 1
    )
    np.testing.assert_array_equal(drawn[0], ref)
    np.testing.assert_array_equal(drawn[1], ref)


def test_kernel_checks_the_conditioning_array(bigger):
    good = _row_conditioning(bigger, ["a", "b"])
    for bad in (
        good[:1],
        good.astype(np.float64),
        good[:, :, :-1],
        np.asfortranarray(good),
        list(good),
    ):
        with pytest.raises(GenerationError, match="cond"):
            _wavenet.State(bigger, 2, 1, bad)


def test_generate_same_clips_on_both_backends(drums):
    for voice in BLENDS:
        c = fastdrum.generate(drums, 5, voice=voice, seed=2, backend="c", batch_size=3)
        ref = fastdrum.generate(drums, 5, voice=voice, seed=2, backend="numpy")
        np.testing.assert_array_equal(c, ref)


def _with_bias(model, voice):
    """The unconditioned model whose dil_b is dil_b + the voice's conditioning (a float32 sum)."""
    w = {k: v for k, v in model.weights.items() if k not in ("voice_emb", "cond_w")}
    w["dil_b"] = model.weights["dil_b"] + model.conditioning(voice)
    return Model(
        sample_rate=model.sample_rate,
        dilations=model.dilations,
        preemphasis=model.preemphasis,
        meta={"clip_duration": 0.01},
        **w,
    )


@pytest.mark.parametrize("voice", BLENDS)
def test_a_voice_is_the_model_whose_bias_is_its_c(drums, voice, backend):
    """Conditioning is exactly a per-layer bias: a voice or blend gives bit-identical clips
    to the unconditioned model with c @ cond_w folded into dil_b."""
    folded = _with_bias(drums, voice)
    kw = dict(seed=7, primer="silence", duration=0.01, backend=backend, temperature=0.9)
    np.testing.assert_array_equal(
        fastdrum.generate(drums, 4, voice=voice, **kw), fastdrum.generate(folded, 4, **kw)
    )
    codes = np.arange(30) % 32
    np.testing.assert_array_equal(drums.forward(codes, voice=voice), folded.forward(codes))


def test_format_1_results_are_unchanged_by_format_2(backend):
    """A format-1 model and the same network as format 2 (pre-emphasis 0; conditioned on
    one voice whose cond_w is zero) give bit-identical clips and logits."""
    m1 = random_model(seed=3, dilations=[1, 2, 4, 8], primers=4)
    w = dict(m1.weights)
    m2 = Model(
        sample_rate=m1.sample_rate,
        dilations=m1.dilations,
        primers=m1.primers,
        meta={"clip_duration": 0.05},
        preemphasis=0.0,
        voices=["x"],
        voice_emb=np.ones((1, 2), np.float32),
        cond_w=np.zeros((4, 2, 12), np.float32),
        primer_voices=np.zeros(4, int),
        **w,
    )
    assert (m1.format_version, m2.format_version) == (1, 2)
    kw = dict(seed=1, duration=0.005, backend=backend)
    y1 = fastdrum.generate(m1, 3, **kw)
    np.testing.assert_array_equal(y1, fastdrum.generate(m2, 3, voice="x", **kw))
    np.testing.assert_array_equal(
        m1.forward(np.arange(20) % 32), m2.forward(np.arange(20) % 32, voice="x")
    )


def test_de_emphasis_then_peak_limiting(drums, backend):
    """generate() = lfilter([1 + a], [1, -a], mu-law decoded codes), each clip over 1 divided by its peak."""
    a = drums.preemphasis
    w = {k: v for k, v in drums.weights.items()}
    plain = Model(
        sample_rate=drums.sample_rate,
        dilations=drums.dilations,
        meta=drums.meta,
        primers=drums.primers,
        primer_voices=drums.primer_voices,
        voices=drums.voices,
        preemphasis=0.0,
        **w,
    )  # same network, same codes; no de-emphasis
    kw = dict(voice="kick", seed=5, duration=0.03, backend=backend)
    e = fastdrum.generate(plain, 8, **kw).astype(np.float64)
    want = lfilter([1 + a], [1, -a], e, axis=-1)
    peak = np.abs(want).max(axis=1, keepdims=True)
    want = np.where(peak > 1, want / peak, want)
    got = fastdrum.generate(drums, 8, **kw)
    assert got.dtype == np.float32 and np.abs(got).max() <= 1.0
    assert (peak > 1).any()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)


def test_only_clips_over_full_scale_are_scaled(drums, backend):
    """Clips made of their primer only: one stays under 1 after de-emphasis (unscaled), one does not."""
    a = drums.preemphasis
    codes = np.array(
        [[16, 17, 17, 16, 15, 16, 16, 16], [31, 31, 31, 31, 30, 31, 31, 31]]
    )  # e small; e near 1
    e = fastdrum.mu_law_decode(codes, 32).astype(np.float64)
    want = lfilter([1 + a], [1, -a], e, axis=-1)
    peak = np.abs(want).max(axis=1)
    assert peak[0] < 1 < peak[1]
    want[1] /= peak[1]
    got = fastdrum.generate(
        drums, 2, voice="snare", primer=codes, duration=8 / 16000, backend=backend
    )
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
    assert np.abs(got[1]).max() == 1.0


def test_preemphasis_and_deemphasis_are_inverse():
    y = np.random.default_rng(0).uniform(-1, 1, (3, 50))
    for a in (0.0, 0.5, 0.85, 0.97, -0.5, -0.85):
        e = fastdrum.mulaw.preemphasis(y, a)
        np.testing.assert_allclose(fastdrum.mulaw.deemphasis(e, a), y, atol=1e-12)
        np.testing.assert_allclose(e[:, 1:], (y[:, 1:] - a * y[:, :-1]) / (1 + abs(a)))
        # 1 + |a| keeps e in [-1, 1]: y = +-1 alternating (a > 0) or held (a < 0) reaches it
        worst = (-np.sign(a or 1)) ** np.arange(50)
        assert np.abs(fastdrum.mulaw.preemphasis(worst, a)).max() == pytest.approx(1.0)
    assert fastdrum.mulaw.preemphasis(y, 0) is not None
    np.testing.assert_array_equal(fastdrum.mulaw.deemphasis(y, 0.0), y)
    for bad in (1.0, -1.0, float("nan"), "0.5", True):
        with pytest.raises(fastdrum.FastDrumError, match="pre-emphasis coefficient"):
            fastdrum.mulaw.deemphasis(y, bad)
