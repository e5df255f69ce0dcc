"""Decay-time conditioning (format 2's decay_w): the definition, the file, generate(), the kernel.

The definitions (docs/format.md): a clip of decay time d (seconds) has z = (ln d - mean) / scale,
mean and scale those of meta["decay"], and every layer l adds z * decay_w[l] to the clip's
conditioning bias. generate(decay=None) gives clip i the decay
``decays[rng_i.integers(len(decays))]`` of its voice, drawn after its primer and before its
uniforms, whether or not decay= is given.
"""

import json
from unittest import mock

import numpy as np
import pytest
import soundfile as sf
from conftest import ODD_SIZES, TOLERANCES
from kernel_support import PATHS, need

import fastdrum
from fastdrum import GenerationError, ModelFormatError, _backends, _reference
from fastdrum.mulaw import mu_law_decode, silence_code
from fastdrum.testing import random_model

RTOL, ATOL = TOLERANCES[np.float32]
VOICES = ["a", "b", "c"]
DECAYS = {"a": [0.04, 0.05, 0.2], "b": [0.5, 0.8], "c": [0.01, 0.3, 1.2, 2.5]}


def decayed(seed=4, voices=VOICES, decays=DECAYS, **kw):
    """A decay-conditioned model with odd sizes (padding in the kernel)."""
    return random_model(
        **ODD_SIZES,
        seed=seed,
        embedding_size=3,
        voices=voices,
        decays=decays,
        sample_rate=8000,
        **kw,
    )


@pytest.fixture(scope="module")
def model():
    return decayed()


# ----------------------------------------------------------------------------- the definition
def test_decay_z_is_the_normalised_log():
    assert _reference.decay_z(np.e, 1.0, 2.0) == 0.0
    assert _reference.decay_z(np.e**3, 1.0, 2.0) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(
        _reference.decay_z([0.1, 1.0], -1.0, 0.5), (np.log([0.1, 1.0]) + 1) / 0.5, rtol=1e-15
    )


def test_conditioning_adds_z_times_decay_w(model):
    stats = model.decay
    emb, cw = (model.weights[k].astype(np.float64) for k in ("voice_emb", "cond_w"))
    for voice, w in (("b", [0, 1, 0]), ({"a": 1, "c": 3}, [0.25, 0, 0.75])):
        voice_part = np.einsum("e,led->ld", np.asarray(w, float) @ emb, cw)
        np.testing.assert_array_equal(model.conditioning(voice), voice_part.astype(np.float32))
        for d in (0.01, 0.3, 7.0):
            z = (np.log(d) - stats["mean"]) / stats["scale"]
            want = voice_part + z * model.weights["decay_w"].astype(np.float64)
            np.testing.assert_array_equal(
                model.conditioning(voice, decay=d), want.astype(np.float32)
            )
    # The geometric mean of the training decays is z = 0: no decay term.
    np.testing.assert_allclose(
        model.conditioning("a", decay=np.exp(stats["mean"])),
        model.conditioning("a"),
        rtol=0,
        atol=1e-6,
    )


def test_forward_and_log_prob_take_the_decay(model):
    codes = np.random.default_rng(1).integers(0, 29, 30)
    short = model.forward(codes, voice="a", decay=0.02)
    long = model.forward(codes, voice="a", decay=2.0)
    assert np.abs(short - long).max() > 1e-2
    want = _reference.forward(
        model._reference_weights(), codes, cond=model.conditioning("a", decay=0.02)
    )
    np.testing.assert_array_equal(short, want)
    assert model.log_prob(codes, codes=True, voice="a", decay=0.02) != model.log_prob(
        codes, codes=True, voice="a", decay=2.0
    )
    with pytest.raises(GenerationError, match="not conditioned on a decay time"):
        random_model(seed=0).forward(codes % 8, decay=0.5)
    with pytest.raises(GenerationError, match="decay must be a finite number of seconds > 0"):
        model.forward(codes, voice="a", decay=-1.0)


# ----------------------------------------------------------------------------- the file
def test_file_round_trip(tmp_path, model):
    assert model.format_version == 2 and "decay_conditioned" in repr(model)
    model.save(tmp_path / "m.npz")
    back = fastdrum.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.weights["decay_w"], model.weights["decay_w"])
    assert back.decay == model.decay and back.decay["drop_db"] == 20.0
    assert {v: d.tolist() for v, d in back.voice_decays.items()} == DECAYS
    rounded = model.round_weights()
    np.testing.assert_array_equal(rounded.weights["decay_w"], model.weights["decay_w"])  # kept
    assert random_model(seed=0, voices=VOICES).decay is None
    assert random_model(seed=0, voices=VOICES).voice_decays is None


def _arrays(model, meta=None, **change):
    a = model._arrays()
    if meta is not None:
        m = json.loads(str(a["meta"]))
        meta(m)
        a["meta"] = np.array(json.dumps(m))
    a.update(change)
    return {k: v for k, v in a.items() if v is not None}


def _set(path, value):
    """An edit of the meta dict: the item at `path` (keys) set to `value`, or removed if None."""

    def edit(meta):
        d = meta
        for k in path[:-1]:
            d = d[k]
        if value is None:
            del d[path[-1]]
        else:
            d[path[-1]] = value

    return edit


L, D2 = 5, 10
BAD = [
    # partners missing
    (dict(decay_w=None), None, "'decay_w': missing: meta has decay"),
    (dict(), _set(["decay"], None), "'meta': decay must be an object"),
    (dict(), _set(["decay"], [1, 2]), "'meta': decay must be an object"),
    (dict(), _set(["voices", "b", "decays"], None), r"voices\['b'\]\['decays'\] must be a list"),
    (dict(), _set(["voices", "c"], None), r"voices\['c'\]\['decays'\] must be a list"),
    # the weights
    (dict(decay_w=np.zeros((L, D2 // 2), np.float32)), None, "'decay_w': shape must be"),
    (dict(decay_w=np.zeros((L + 1, D2), np.float32)), None, "'decay_w': shape must be"),
    (dict(decay_w=np.zeros((L, D2), np.float64)), None, "'decay_w': dtype must be float32"),
    (dict(decay_w=np.full((L, D2), np.nan, np.float32)), None, "'decay_w': contains NaN"),
    (dict(decay_w=np.full((L, D2), -np.inf, np.float32)), None, "'decay_w': contains NaN"),
    # mean, scale, drop_db
    (dict(), _set(["decay", "mean"], float("nan")), r"decay\['mean'\] must be a finite number"),
    (dict(), _set(["decay", "mean"], 21.0), r"decay\['mean'\] must be a finite number in \[-20"),
    (dict(), _set(["decay", "mean"], "0.1"), r"decay\['mean'\] must be a finite number"),
    (dict(), _set(["decay", "mean"], None), r"decay\['mean'\] must be a finite number"),
    (dict(), _set(["decay", "scale"], 0), r"decay\['scale'\] must be a finite number in \[0.001"),
    (dict(), _set(["decay", "scale"], -1.0), r"decay\['scale'\]"),
    (dict(), _set(["decay", "scale"], float("inf")), r"decay\['scale'\]"),
    (dict(), _set(["decay", "scale"], True), r"decay\['scale'\]"),
    (dict(), _set(["decay", "scale"], 10**400), r"decay\['scale'\]"),
    (dict(), _set(["decay", "drop_db"], 0.0), r"decay\['drop_db'\] must be a finite number in \(0"),
    # the decays of a voice
    (dict(), _set(["voices", "a", "decays"], []), r"voices\['a'\]\['decays'\] must be a list"),
    (dict(), _set(["voices", "a", "decays"], 0.3), r"voices\['a'\]\['decays'\] must be a list"),
    (dict(), _set(["voices", "a", "decays"], [0.1, -0.2]), r"\['decays'\]: each .* got -0.2"),
    (dict(), _set(["voices", "a", "decays"], [0.0]), r"\['decays'\]: each .* got 0.0"),
    (dict(), _set(["voices", "a", "decays"], [float("nan")]), r"\['decays'\]: each .* got nan"),
    (dict(), _set(["voices", "a", "decays"], [0.1, "x"]), r"\['decays'\]: each .* got 'x'"),
    (dict(), _set(["voices", "a", "decays"], [0.1, 1e4]), r"\['decays'\]: each .* got 10000.0"),
]


@pytest.mark.parametrize("change, meta, match", BAD)
def test_loader_names_bad_decay_keys(tmp_path, model, change, meta, match):
    bad = _arrays(model, meta, **change)
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ModelFormatError, match=match):
        fastdrum.load_model(tmp_path / "bad.npz")


def test_decays_without_decay_w_are_refused(tmp_path, model):
    """Each voice's decays, like meta["decay"], go with decay_w: without it they are an error."""
    stray = _arrays(model, _set(["decay"], None), decay_w=None)
    np.savez(tmp_path / "stray.npz", **stray)
    with pytest.raises(
        ModelFormatError, match=r"'decay_w': missing: meta voices\['a'\] has decays"
    ):
        fastdrum.load_model(tmp_path / "stray.npz")


def test_decay_w_needs_voices():
    plain = random_model(seed=0, dilations=[1, 2])
    arrays = {k: v for k, v in plain._arrays().items() if k not in ("format_version", "meta")}
    meta = dict(decay=dict(mean=0.0, scale=1.0, drop_db=20.0))
    with pytest.raises(ModelFormatError, match="'decay_w': given, but the model has no voices"):
        fastdrum.Model(**arrays, meta=meta, preemphasis=0.0, decay_w=np.zeros((2, 12), np.float32))


# ----------------------------------------------------------------------------- generate()
def by_definition(model, n, seed, T, voice, temperature=1.0, decay=None):
    """Clips of docs/format.md's definition, primed with silence: clip i's stream draws its voice's
    decay (an index into the heaviest voice's decays), then its uniforms; the reference runs it."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]
    heaviest = model.voices[int(np.argmax(model.voice_weights(voice)))]
    pool = model.voice_decays[heaviest]
    drawn = [pool[rng.integers(len(pool))] for rng in rngs]
    decays = drawn if decay is None else np.broadcast_to(decay, (n,))
    cond = np.stack([model.conditioning(voice, decay=d) for d in decays])
    codes = np.zeros((n, T), np.int32)
    codes[:, 0] = silence_code(model.quantization_channels)
    uniforms = np.stack([rng.random(T - 1) for rng in rngs])
    state = _reference.State(model._reference_weights(), n, cond=cond)
    state.run(codes, 1, uniforms, temperature, 0, T - 1)
    return mu_law_decode(codes, model.quantization_channels), np.asarray(drawn)


@pytest.mark.parametrize("voice", ["a", "c", {"a": 1, "b": 2}])
def test_generate_is_the_definition(model, voice):
    kw = dict(voice=voice, seed=11, duration=0.004, primer="silence", backend="numpy")
    want, drawn = by_definition(model, 6, 11, 32, voice, temperature=0.9)
    np.testing.assert_array_equal(fastdrum.generate(model, 6, temperature=0.9, **kw), want)
    # The clips drew different decays: the default is not one decay for every clip.
    assert len(set(drawn.tolist())) > 1
    # Given decays replace the drawn ones, and the draws after them stay those of the seed.
    want, _ = by_definition(model, 6, 11, 32, voice, temperature=0.9, decay=0.07)
    np.testing.assert_array_equal(
        fastdrum.generate(model, 6, temperature=0.9, decay=0.07, **kw), want
    )
    np.testing.assert_array_equal(
        fastdrum.generate(model, 6, temperature=0.9, decay=drawn, **kw),
        fastdrum.generate(model, 6, temperature=0.9, **kw),
    )


def test_a_model_without_decay_w_draws_only_its_uniforms():
    """Without decay conditioning nothing more is drawn: clip i's stream is its uniforms alone."""
    m = decayed(decays=None)
    assert m.decay is None
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(3).spawn(4)]
    codes = np.full((4, 40), silence_code(29), np.int32)
    uniforms = np.stack([rng.random(39) for rng in rngs])
    cond = np.ascontiguousarray(np.broadcast_to(m.conditioning("b"), (4,) + (5, 10)))
    _reference.State(m._reference_weights(), 4, cond=cond).run(codes, 1, uniforms, 1.0, 0, 39)
    got = fastdrum.generate(
        m, 4, voice="b", seed=3, duration=0.005, primer="silence", backend="numpy"
    )
    np.testing.assert_array_equal(got, mu_law_decode(codes, 29))


def test_same_clips_on_both_backends_and_for_any_batch(model):
    for decay in (None, 0.3, [0.01, 0.1, 1.0, 10.0, 0.05]):
        kw = dict(voice={"b": 1, "c": 1}, seed=2, duration=0.01, decay=decay)
        c = fastdrum.generate(model, 5, backend="c", batch_size=2, **kw)
        np.testing.assert_array_equal(c, fastdrum.generate(model, 5, backend="numpy", **kw))
        np.testing.assert_array_equal(c, fastdrum.generate(model, 5, backend="c", **kw))
    # Clip i is clip i whatever n: its decay comes from its own stream.
    kw = dict(voice="c", seed=9, duration=0.01)
    np.testing.assert_array_equal(
        fastdrum.generate(model, 3, **kw), fastdrum.generate(model, 7, batch_size=3, **kw)[:3]
    )


def test_one_decay_is_that_decay_for_every_clip(model, backend):
    kw = dict(voice="a", seed=5, duration=0.01, backend=backend)
    one = fastdrum.generate(model, 3, decay=0.25, **kw)
    np.testing.assert_array_equal(one, fastdrum.generate(model, 3, decay=[0.25] * 3, **kw))
    np.testing.assert_array_equal(
        one, fastdrum.generate(model, 3, decay=np.float32(0.25).item(), **kw)
    )
    other = fastdrum.generate(model, 3, decay=5.0, **kw)
    assert not np.array_equal(other, fastdrum.generate(model, 3, decay=0.02, **kw))


def test_the_primer_does_not_depend_on_the_decay(backend):
    m = decayed(primers=6)
    kw = dict(voice="c", seed=1, duration=0.01, primer="data", backend=backend)
    a, b = (fastdrum.generate(m, 4, decay=d, **kw) for d in (0.01, 3.0))
    np.testing.assert_array_equal(a[:, :8], b[:, :8])
    np.testing.assert_array_equal(a[:, :8], fastdrum.generate(m, 4, **kw)[:, :8])


@pytest.mark.parametrize(
    "decay, match",
    [
        (0, r"decay must be a finite number of seconds > 0, got 0.0"),
        (-0.5, r"decay must be a finite number of seconds > 0, got -0.5"),
        (float("nan"), r"decay must be a finite number of seconds > 0, got nan"),
        (float("inf"), r"decay must be a finite number of seconds > 0, got inf"),
        (True, r"decay must be a finite number of seconds > 0, got True"),
        ("0.5", r"decay must be a finite number of seconds > 0, got '0.5'"),
        ([0.5, 0.5], r"decay must be seconds, one number or 3 of them .* got shape \(2,\)"),
        ([[0.5, 0.5, 0.5]], r"got shape \(1, 3\)"),
        ([0.5, 0, 0.5], r"decay\[1\] must be a finite number of seconds > 0, got 0"),
        (np.array([0.5, np.nan, 1.0]), r"decay\[1\] must be .* got nan"),
    ],
)
def test_bad_decays_are_refused(model, decay, match):
    with pytest.raises(GenerationError, match=match):
        fastdrum.generate(model, 3, voice="a", decay=decay, duration=0.01, backend="numpy")


def test_a_decay_whose_bias_overflows_float32_is_refused(model):
    arrays = _arrays(model, decay_w=np.full((L, D2), 1e36, np.float32))
    big = fastdrum.Model(
        **{k: v for k, v in arrays.items() if k not in ("format_version", "meta")}, meta=model.meta
    )
    assert np.isfinite(big.conditioning("a", decay=1.0)).all()
    with pytest.raises(GenerationError, match=r"decay=1e\+300 s puts the conditioning bias beyond"):
        fastdrum.generate(big, 1, voice="a", decay=1e300, duration=0.001, backend="numpy")
    with (
        pytest.raises(GenerationError, match=r"decay=1e\+300 s"),
        mock.patch.object(_backends, "get", side_effect=AssertionError("a backend was asked for")),
    ):  # refused up front, before any clip is generated
        fastdrum.generate(big, 3, voice="a", decay=[1.0, 1.0, 1e300], batch_size=1, duration=0.001)


def test_decay_for_a_model_without_decay_conditioning_is_an_error():
    for m, kw in ((random_model(seed=0), {}), (decayed(decays=None), dict(voice="a"))):
        with pytest.raises(GenerationError, match="not conditioned on a decay time"):
            fastdrum.generate(m, 2, decay=0.5, duration=0.01, backend="numpy", **kw)


# ----------------------------------------------------------------------------- the kernel
@pytest.fixture(scope="module")
def wavenet():
    return pytest.importorskip(
        "fastdrum._ext._wavenet", reason="kernel not built: pip install -e ."
    )


@pytest.mark.parametrize("rounded", [False, True], ids=["float32", "float16-exact"])
@pytest.mark.parametrize("gemm, act", PATHS)
@pytest.mark.parametrize("B", [1, 6])
def test_kernel_with_a_decay_per_row_matches_the_reference(wavenet, model, gemm, act, B, rounded):
    """Each row its own decay (and voice): the kernel's logits are forward()'s, its codes the
    reference State's from the same uniforms."""
    need(wavenet, gemm, act)
    m = model.round_weights() if rounded else model
    rows = [("a", 0.01), ("a", 3.0), ("b", 0.2), ({"a": 1, "c": 2}, 0.05), ("c", 1.0), ("b", 9.0)]
    rows = rows[:B]
    cond = np.ascontiguousarray(np.stack([m.conditioning(v, decay=d) for v, d in rows]))
    T, n_primer = 48, 5
    rng = np.random.default_rng(B)
    start = np.zeros((B, T), np.int32)
    start[:, :n_primer] = rng.integers(0, 29, (B, n_primer))
    uniforms = rng.random((B, T - 1))
    ref = start.copy()
    _reference.State(m._reference_weights(), B, cond=cond).run(
        ref, n_primer, uniforms, 0.9, 0, T - 1
    )
    for n_threads in (1, 3):
        codes, logits = start.copy(), np.empty((B, T - 1, 29), np.float32)
        state = wavenet.State(m, B, n_threads, cond, _gemm=gemm, _act=act)
        state.run(codes, n_primer, uniforms, 0.9, 0, T - 1, logits)
        for i, (v, d) in enumerate(rows):
            np.testing.assert_allclose(
                logits[i], m.forward(codes[i], voice=v, decay=d)[: T - 1], rtol=RTOL, atol=ATOL
            )
        np.testing.assert_array_equal(codes, ref)
    if B > 1:  # the rows' decays matter: one voice at two decays gives other logits
        same = m.forward(codes[0], voice="a", decay=3.0)[: T - 1]
        assert np.abs(logits[0] - same).max() > 1e-2


# ----------------------------------------------------------------------------- command line
def test_cli_generate_decay_is_the_decay_of_generate(tmp_path, model):
    from fastdrum.cli import main

    path = tmp_path / "m.npz"
    model.save(path)
    argv = ["generate", str(path), "--voice", "b", "-n", "3", "--seed", "7", "--duration", "0.01"]
    argv += ["--backend", "numpy", "--no-post", "-q"]
    assert main(argv + ["-o", str(tmp_path / "d"), "--decay", "0.3"]) == 0
    got = [sf.read(tmp_path / "d" / f"b_{i:03d}.wav", dtype="float32")[0] for i in range(3)]
    want = fastdrum.generate(path, 3, voice="b", seed=7, duration=0.01, decay=0.3, backend="numpy")
    np.testing.assert_allclose(got, want, atol=1 / 2**15)  # as written to 16-bit WAV


@pytest.mark.parametrize(
    "value, match",
    [
        ("0", "decay must be a finite number of seconds > 0"),
        ("-1", "decay must be a finite number of seconds > 0"),
        ("nan", "decay must be a finite number of seconds > 0"),
        ("long", "argument --decay: expected a number, got 'long'"),
    ],
)
def test_cli_bad_decay_exits_2_with_one_line(tmp_path, model, capsys, value, match):
    from fastdrum.cli import main

    model.save(tmp_path / "m.npz")
    argv = ["generate", str(tmp_path / "m.npz"), "--voice", "a", "-o", str(tmp_path / "o")]
    assert main(argv + ["--decay", value, "--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err
    assert not (tmp_path / "o").exists()


def test_cli_decay_for_a_model_without_it(tmp_path, capsys):
    from fastdrum.cli import main

    random_model(seed=0, clip_duration=0.01).save(tmp_path / "m.npz")
    argv = ["generate", str(tmp_path / "m.npz"), "-o", str(tmp_path / "o"), "--decay", "0.5"]
    assert main(argv + ["--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not conditioned on a decay time" in err


def test_info_shows_the_decay_conditioning(tmp_path, model, capsys):
    from fastdrum.cli import main

    model.save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert "decay time" in out and "training clips fall 20 dB in 0.01 to 2.5 s" in out
    assert main(["info", "--json", str(tmp_path / "m.npz")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["decay"] == model.decay and info["decay_seconds_range"] == [0.01, 2.5]
