"""Negative-voice guidance: the rule (fastdrum._reference.guide), the kernel held to the reference,
and generate()'s arguments and defaults.

The definition: rows come in pairs (a voice, the voice steered away from) fed the same codes; the pair
draws one code by ``sample(guide(l, n, w))`` with the first row's uniform, where l and n are the two
rows' logits.
"""

import numpy as np
import pytest
from conftest import ODD_SIZES, TINY_DRUMS
from kernel_support import PATHS, need

import fastdrum
from fastdrum import GenerationError, _reference
from fastdrum.testing import random_model

_wavenet = pytest.importorskip("fastdrum._ext._wavenet")


@pytest.fixture(scope="module")
def bigger():
    """A conditioned, decay- and time-conditioned model with odd sizes (padding in the kernel)."""
    return random_model(
        **ODD_SIZES,
        seed=7,
        embedding_size=3,
        voices=["a", "b", "c"],
        preemphasis=0.9,
        time_tau=[2.0, 30.0],
        time_block=4,
        decays={"a": [0.1, 0.3], "b": [0.2], "c": [0.05, 0.5]},
    )


def _need(*paths):
    need(_wavenet, *paths)


def test_guide_is_the_rule_in_its_docstring():
    l = np.array([[2.0, 1.0, -1.0]], np.float32)
    n = np.array([[1.0, 1.0, 0.0]], np.float32)
    np.testing.assert_array_equal(_reference.guide(l, n, 0.0), l)
    # l + 0.5 (l - n) = [2.5, 1.0, -1.5]: exact in float32
    np.testing.assert_array_equal(_reference.guide(l, n, 0.5), [[2.5, 1.0, -1.5]])
    # the same voice on both rows: no change at any weight
    np.testing.assert_array_equal(_reference.guide(l, l, 7.0), l)
    assert _reference.guide(l, n, 0.1).dtype == np.float32


def _pairs(model, voices, negatives):
    rows = []
    for v, u in zip(voices, negatives, strict=True):
        rows += [model.conditioning(v, decay=0.2), model.conditioning(u, decay=0.2)]
    return np.ascontiguousarray(np.stack(rows))


@pytest.mark.parametrize("rounded", [False, True], ids=["float32-weights", "float16-exact-weights"])
@pytest.mark.parametrize("gemm, act", PATHS)
def test_kernel_draws_the_reference_codes_and_feeds_both_rows(bigger, gemm, act, rounded):
    """Same codes as the reference for every thread split (pairs stay whole in a block), the same
    code in both rows of a pair, the network's own logits in logits_out, and guidance changes the
    draws."""
    _need(gemm, act)
    model = bigger.round_weights() if rounded else bigger
    cond = _pairs(model, ["a", "b", {"a": 0.5, "c": 0.5}], ["b", "c", "a"])
    B, T, n_primer, w = 6, 48, 5, 1.5
    rng = np.random.default_rng(3)
    start = np.zeros((B, T), np.int32)
    start[:, :n_primer] = np.repeat(rng.integers(0, 29, (B // 2, n_primer)), 2, axis=0)
    uniforms = rng.random((B, T - 1))
    ref = start.copy()
    _reference.State(model._reference_weights(), B, cond=cond, guidance=w).run(
        ref, n_primer, uniforms, 0.9, 0, T - 1
    )
    np.testing.assert_array_equal(ref[0::2], ref[1::2])
    for n_threads in (1, 2, 3, 5):
        codes, logits = start.copy(), np.empty((B, T - 1, 29), np.float32)
        state = _wavenet.State(model, B, n_threads, cond, guidance=w, _gemm=gemm, _act=act)
        state.run(codes, n_primer, uniforms, 0.9, 0, T - 1, logits)
        np.testing.assert_array_equal(codes, ref)
        plain = np.empty_like(logits)
        _wavenet.State(model, B, 1, cond, _gemm=gemm, _act=act).run(
            codes.copy(), T, uniforms, 0.9, 0, T - 1, plain
        )
        np.testing.assert_array_equal(logits, plain)  # each row's own logits, before guidance
    unguided = start.copy()
    _reference.State(model._reference_weights(), B, cond=cond).run(
        unguided, n_primer, uniforms, 0.9, 0, T - 1
    )
    assert (unguided[0::2] != ref[0::2]).any()


def test_each_drawn_code_is_the_draw_from_the_guided_logits_of_forward(bigger):
    """The definition, from the whole-sequence forward(): every code after the primer is
    sample(guide(forward(voice), forward(negative), w)) of the code before, with its uniform."""
    B, T, n_primer, w, temp, eps = 4, 40, 3, 0.75, 1.1, 0.01
    cond = _pairs(bigger, ["a", "c"], ["c", "b"])
    rng = np.random.default_rng(5)
    codes = np.zeros((B, T), np.int32)
    codes[:, :n_primer] = np.repeat(rng.integers(0, 29, (B // 2, n_primer)), 2, axis=0)
    uniforms = rng.random((B, T - 1))
    W = bigger._reference_weights()
    _reference.State(W, B, dtype=np.float64, cond=cond, guidance=w).run(
        codes, n_primer, uniforms, temp, 0, T - 1, epsilon=eps
    )
    for k in range(B // 2):
        lp = _reference.forward(W, codes[2 * k], np.float64, cond[2 * k])
        ln = _reference.forward(W, codes[2 * k], np.float64, cond[2 * k + 1])
        steps = np.arange(n_primer - 1, T - 1)
        want = _reference.sample(
            _reference.guide(lp[steps], ln[steps], w), uniforms[2 * k, steps], temp, eps
        )
        np.testing.assert_array_equal(codes[2 * k, steps + 1], want)


def test_a_guided_state_needs_an_even_batch_and_a_weight_in_range(bigger):
    cond = _pairs(bigger, ["a"], ["b"])
    for bad, match in (
        (-0.5, "guidance must be in"),
        (float("nan"), "guidance must be in"),
        (1e4, "guidance must be in"),
        ("1", "must be a number"),
        (True, "must be a number"),
    ):
        with pytest.raises(GenerationError, match=match):
            _wavenet.State(bigger, 2, 1, cond, guidance=bad)
    with pytest.raises(GenerationError, match="batch_size must be even"):
        _wavenet.State(bigger, 3, 1, np.concatenate([cond, cond[:1]]), guidance=1.0)
    with pytest.raises(ValueError, match="pairs"):
        _reference.State(bigger._reference_weights(), 3, guidance=1.0)


@pytest.mark.parametrize("voice, negative", [("kick", "snare"), ({"kick": 1, "snare": 1}, "hihat")])
def test_generate_guided_is_the_same_on_both_backends_and_any_split(tiny_drums, voice, negative):
    kw = dict(voice=voice, negative_voice=negative, guidance=0.8, seed=4, duration=0.004)
    c = fastdrum.generate(tiny_drums, 5, backend="c", **kw)
    np.testing.assert_array_equal(c, fastdrum.generate(tiny_drums, 5, backend="numpy", **kw))
    np.testing.assert_array_equal(
        c, fastdrum.generate(tiny_drums, 5, batch_size=2, n_threads=3, **kw)
    )
    plain = fastdrum.generate(tiny_drums, 5, voice=voice, seed=4, duration=0.004)
    assert not np.array_equal(c, plain)
    # a weight of 0 is generation without guidance, exactly
    off = fastdrum.generate(tiny_drums, 5, **dict(kw, guidance=0))
    np.testing.assert_array_equal(off, plain)


def test_generate_guided_decay_model_gives_the_negative_row_the_clips_decay(bigger):
    """A decay-conditioned model: each clip's negative row carries the clip's own decay time."""
    kw = dict(voice="a", negative_voice="b", guidance=0.6, seed=2, duration=0.01)
    y = fastdrum.generate(bigger, 3, decay=[0.1, 0.3, 0.2], **kw)
    np.testing.assert_array_equal(
        y, fastdrum.generate(bigger, 3, decay=[0.1, 0.3, 0.2], backend="numpy", **kw)
    )
    for i, d in enumerate((0.1, 0.3, 0.2)):
        one = fastdrum.generate(bigger, 3, decay=d, **kw)[i]
        np.testing.assert_array_equal(y[i], one)


def test_the_voices_defaults_are_used_and_an_argument_overrides_them(tiny_drums):
    # (tools/asan.sh runs this file in a copy of the package without training/: skipped there)
    model_with_arrays = pytest.importorskip("training.average").model_with_arrays
    meta = dict(tiny_drums.meta)
    meta["voices"] = {v: dict(s) for v, s in (meta.get("voices") or {}).items()}
    meta["voices"].setdefault("kick", {}).update(negative_voice="snare", guidance=0.7)
    guided = model_with_arrays(tiny_drums, dict(tiny_drums.weights), meta, "tiny")
    kw = dict(voice="kick", seed=1, duration=0.004)
    explicit = fastdrum.generate(tiny_drums, 3, negative_voice="snare", guidance=0.7, **kw)
    np.testing.assert_array_equal(fastdrum.generate(guided, 3, **kw), explicit)
    # guidance=0 turns the default off; another negative voice takes the default weight
    np.testing.assert_array_equal(
        fastdrum.generate(guided, 3, guidance=0, **kw), fastdrum.generate(tiny_drums, 3, **kw)
    )
    np.testing.assert_array_equal(
        fastdrum.generate(guided, 3, negative_voice="hihat", **kw),
        fastdrum.generate(tiny_drums, 3, negative_voice="hihat", guidance=0.7, **kw),
    )
    # a blend gets no default guidance, even of its heaviest voice
    blend = dict(kw, voice={"kick": 2, "snare": 1})
    np.testing.assert_array_equal(
        fastdrum.generate(guided, 3, **blend), fastdrum.generate(tiny_drums, 3, **blend)
    )
    # without a default weight, a negative voice given alone has weight 1
    np.testing.assert_array_equal(
        fastdrum.generate(tiny_drums, 3, negative_voice="hihat", **kw),
        fastdrum.generate(tiny_drums, 3, negative_voice="hihat", guidance=1.0, **kw),
    )


def test_bad_guidance_arguments_raise(tiny_drums):
    kw = dict(voice="kick", duration=0.004)
    with pytest.raises(GenerationError, match="needs a negative_voice"):
        fastdrum.generate(tiny_drums, **kw, guidance=1.0)
    with pytest.raises(GenerationError, match="guidance must be a finite number"):
        fastdrum.generate(tiny_drums, **kw, negative_voice="snare", guidance=-1)
    with pytest.raises(GenerationError, match="gong"):
        fastdrum.generate(tiny_drums, **kw, negative_voice="gong")
    one = random_model(seed=0, sample_rate=8000)
    with pytest.raises(GenerationError, match="conditioned on voices"):
        fastdrum.generate(one, duration=0.004, negative_voice="snare")


def test_cli_negative_voice_and_guidance_are_generates(tmp_path, capsys):
    import soundfile as sf

    from fastdrum.cli import main

    out = tmp_path / "hats"
    argv = ["generate", str(TINY_DRUMS), "--voice", "kick", "-n", "2", "-o", str(out)]
    argv += ["--seed", "3", "--duration", "0.004", "--no-post", "-q"]
    assert main(argv + ["--negative-voice", "snare", "--guidance", "0.5"]) == 0
    got = [sf.read(p, dtype="float32")[0] for p in sorted(out.glob("*.wav"))]
    want = fastdrum.generate(
        str(TINY_DRUMS),
        2,
        voice="kick",
        seed=3,
        duration=0.004,
        negative_voice="snare",
        guidance=0.5,
    )
    np.testing.assert_allclose(got, want, atol=1 / 2**15)  # as written to 16-bit WAV
    argv[argv.index(str(out))] = str(tmp_path / "x")
    assert main(argv + ["--negative-voice", "gong"]) == 2
    assert not (tmp_path / "x").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gong" in err and "Traceback" not in err
