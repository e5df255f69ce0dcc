"""Model format 2 (docs/format.md): pre-emphasis and voice conditioning, in files and in Model.

One test per kind of bad format-2 file (format 1's are in test_format.py), round trips, and
how shipped names resolve to voices of a conditioned model.
"""

import json
import shutil

import numpy as np
import pytest
from conftest import TINY_DRUMS

import fastdrum
from fastdrum import (
    GenerationError,
    ModelFormatError,
    ModelNotFoundError,
    _backends,
    _io,
    load_model,
)
from fastdrum.instruments import INSTRUMENTS
from fastdrum.testing import random_model

VOICES = tuple(INSTRUMENTS)


@pytest.fixture
def good():
    """The arrays of the tiny conditioned model, as its generator wrote them."""
    with np.load(TINY_DRUMS, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def write(tmp_path, arrays, name="m.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_the_tiny_file_loads_as_written(good):
    m = load_model(TINY_DRUMS)
    assert m.format_version == 2 and m.voices == VOICES
    assert m.preemphasis == float(np.float32(0.85))
    assert m.default_voice is None and m.instrument is None
    np.testing.assert_array_equal(m.weights["voice_emb"], good["voice_emb"])
    np.testing.assert_array_equal(m.weights["cond_w"], good["cond_w"])
    np.testing.assert_array_equal(m.primer_voices, good["primer_voices"])
    assert m.meta["voices"]["kick"] == {"temperature": 0.8, "duration": 0.02}


def test_round_trip(tmp_path, tiny_drums):
    tiny_drums.save(tmp_path / "d.npz")
    back = load_model(tmp_path / "d.npz")
    assert (back.format_version, back.voices, back.preemphasis) == (
        2,
        VOICES,
        tiny_drums.preemphasis,
    )
    assert back.meta == tiny_drums.meta
    for k, v in tiny_drums.weights.items():
        np.testing.assert_array_equal(back.weights[k], v)
    np.testing.assert_array_equal(back.primer_voices, tiny_drums.primer_voices)
    np.testing.assert_array_equal(
        back.forward([1, 2, 3], voice="clap"), tiny_drums.forward([1, 2, 3], voice="clap")
    )


def test_unconditioned_format_2(tmp_path, good):
    for k in ("voices", "voice_emb", "cond_w", "primer_voices"):
        del good[k]
    del good["meta"]
    m = load_model(write(tmp_path, good))
    assert m.format_version == 2 and m.voices == () and m.preemphasis > 0
    y = fastdrum.generate(m, duration=0.002, seed=0, backend="numpy")
    assert y.shape == (1, 32)


def test_a_coefficient_a_voice_round_trips(tmp_path, good):
    good["preemphasis"] = np.linspace(0, 0.9, len(VOICES)).astype(np.float32)
    m = load_model(write(tmp_path, good))
    assert m.preemphasis == tuple(float(x) for x in good["preemphasis"])
    assert "preemphasis=(0, 0.1, " in repr(m)
    m.save(tmp_path / "back.npz")
    with np.load(tmp_path / "back.npz") as f:
        np.testing.assert_array_equal(f["preemphasis"], good["preemphasis"])
    assert load_model(tmp_path / "back.npz").preemphasis == m.preemphasis


def test_coefficients_a_voice_need_voices(tmp_path, good):
    for k in ("voices", "voice_emb", "cond_w", "primer_voices"):
        del good[k]
    del good["meta"]
    good["preemphasis"] = np.array([0.5], np.float32)
    with pytest.raises(
        ModelFormatError, match="has 1 coefficients, one a voice, but the model has 0"
    ):
        load_model(write(tmp_path, good))


def test_models_built_without_format_2_keys_stay_format_1(tmp_path):
    random_model(seed=0).save(tmp_path / "one.npz")
    random_model(seed=0, preemphasis=0.5).save(tmp_path / "two.npz")
    random_model(seed=0, voices=["kick"]).save(tmp_path / "three.npz")
    versions = [
        int(np.load(tmp_path / f"{n}.npz")["format_version"]) for n in ("one", "two", "three")
    ]
    assert versions == [1, 2, 2]
    assert "preemphasis" not in np.load(tmp_path / "one.npz").files


def test_format_1_ignores_format_2_keys(tmp_path, good):
    """In a format-1 file the format-2 keys are unknown keys: ignored, as format 1 says."""
    good["format_version"] = np.array(1)
    m = load_model(write(tmp_path, good))
    assert m.format_version == 1 and m.voices == () and m.preemphasis == 0.0
    assert "voice_emb" not in m.weights


# -- one test per kind of bad format-2 file ----------------------------------------------------
@pytest.mark.parametrize(
    "value, match",
    [
        (None, "'preemphasis': missing"),
        (np.array(0.5), "'preemphasis': must be a float32 scalar or \\(V,\\) array"),
        (
            np.array([0.5], np.float32),
            "'preemphasis': has 1 coefficients, one a voice, but the model has 10",
        ),
        (np.zeros((10, 1), np.float32), "'preemphasis': must be a float32 scalar or"),
        (np.array([0.5] * 9 + [1.0], np.float32), r"'preemphasis': must lie in \(-1, 1\), got 1.0"),
        (np.array([0.5] * 9 + [np.nan], np.float32), r"'preemphasis': must lie in \(-1, 1\)"),
        (np.array(1.0, np.float32), r"'preemphasis': must lie in \(-1, 1\)"),
        (np.array(-1.0, np.float32), r"'preemphasis': must lie in \(-1, 1\)"),
        (np.array(np.nan, np.float32), r"'preemphasis': must lie in \(-1, 1\)"),
    ],
)
def test_bad_preemphasis(tmp_path, good, value, match):
    if value is None:
        del good["preemphasis"]
    else:
        good["preemphasis"] = value
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "voices, match",
    [
        (["kick"] * 2 + list(VOICES[2:]), r"'voices': names must be unique, got \['kick'\]"),
        (["Kick"] + list(VOICES[1:]), "'voices': names must match .*'Kick'"),
        (["9x"] + list(VOICES[1:]), "'voices': names must match"),
        (["a" * 33] + list(VOICES[1:]), "'voices': names must match"),
        ([""] + list(VOICES[1:]), "'voices': names must match"),
        (
            np.array([v.encode() for v in VOICES]),
            "'voices': dtype .* is not an integer, float or unicode",
        ),
        (np.array([VOICES[:5], VOICES[5:]]), "'voices': must be a 1-D unicode array"),
        (np.array([], dtype="<U4"), "'voices': needs 1 to 256 voices"),
    ],
)
def test_bad_voices(tmp_path, good, voices, match):
    good["voices"] = np.asarray(voices)
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "key, edit, match",
    [
        ("voice_emb", lambda a: a[:9], r"'voice_emb': shape must be \(10, 5\)"),
        ("voice_emb", lambda a: a.astype(np.float64), "'voice_emb': dtype must be float32"),
        ("voice_emb", lambda a: a[0], r"'voice_emb': must be 2-D"),
        (
            "voice_emb",
            lambda a: np.zeros((10, 1025), np.float32),
            r"'voice_emb': embedding size E must lie in \[1, 1024\]",
        ),
        ("cond_w", lambda a: a[:, :4], r"'cond_w': shape must be \(3, 5, 12\)"),
        ("cond_w", lambda a: a.astype(np.float16), "'cond_w': dtype must be float32"),
    ],
)
def test_bad_conditioning_arrays(tmp_path, good, key, edit, match):
    good[key] = edit(good[key])
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize("key", ["voice_emb", "cond_w"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_conditioning_not_finite(tmp_path, good, key, bad):
    good[key] = good[key].copy()
    good[key].flat[7] = bad
    with pytest.raises(ModelFormatError, match=f"'{key}': contains NaN or Inf"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "dropped", [["voices"], ["voice_emb"], ["cond_w"], ["voice_emb", "cond_w"]]
)
def test_partial_conditioning_names_the_missing_key(tmp_path, good, dropped):
    for k in dropped:
        del good[k]
    with pytest.raises(
        ModelFormatError, match=f"'{dropped[0]}': missing: voices, voice_emb and cond_w go together"
    ):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda g: g.update(primer_voices=np.full(20, 10)),
            r"'primer_voices': voice indices must lie in \[0, 10\)",
        ),
        (
            lambda g: g.update(primer_voices=np.full(20, -1)),
            r"'primer_voices': voice indices must lie in \[0, 10\)",
        ),
        (
            lambda g: g.update(primer_voices=np.zeros(19, np.int64)),
            r"'primer_voices': must be a 1-D integer array of shape \(20,\)",
        ),
        (
            lambda g: g.update(primer_voices=np.zeros(20, np.float32)),
            "'primer_voices': must be a 1-D integer",
        ),
        (lambda g: g.pop("primer_voices"), "'primer_voices': missing"),
        (lambda g: g.pop("primers"), "'primer_voices': given, but the model has no primers"),
        (
            lambda g: [g.pop(k) for k in ("voices", "voice_emb", "cond_w")],
            "'primer_voices': given, but the model has no voices",
        ),
    ],
)
def test_bad_primer_voices(tmp_path, good, edit, match):
    edit(good)
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "meta, match",
    [
        (
            {"instrument": "cowbell"},
            "'meta': instrument of a conditioned model must be one of its voices",
        ),
        ({"voices": {"cowbell": {}}}, "'meta': voices names 'cowbell'"),
        ({"voices": ["kick"]}, "'meta': voices must map voice names to objects"),
        ({"voices": {"kick": 0.5}}, r"'meta': voices\['kick'\] must be an object"),
    ],
)
def test_bad_voice_meta(tmp_path, good, meta, match):
    good["meta"] = np.array(json.dumps(meta))
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


def test_model_constructor_validates_format_2_too():
    with pytest.raises(ModelFormatError, match="'cond_w': missing"):
        random_model(seed=0).__class__(**_kwargs_without_cond_w())


def _kwargs_without_cond_w():
    m = random_model(seed=0, voices=["kick", "snare"])
    kw = {k: v for k, v in m.weights.items() if k != "cond_w"}
    return dict(sample_rate=m.sample_rate, dilations=m.dilations, voices=m.voices, **kw)


# -- voices: choosing, blending, defaults -------------------------------------------------------
def test_voice_weights_are_normalised(tiny_drums):
    w = tiny_drums.voice_weights({"tom_low": 1.0, "kick": 3})
    expected = np.zeros(10)
    expected[[0, 5]] = [0.75, 0.25]
    np.testing.assert_array_equal(w, expected)
    np.testing.assert_array_equal(tiny_drums.voice_weights("ride"), np.eye(10)[9])


@pytest.mark.parametrize(
    "voice, match",
    [
        ("cowbell", r"unknown voices \['cowbell'\]"),
        ({"kick": 0.5, "gong": 0.2, "bell": 0.3}, r"unknown voices \['gong', 'bell'\]"),
        (
            {"kick": -0.5, "snare": 1.5},
            "voice weight of 'kick' must be a finite number >= 0.0, got -0.5",
        ),
        ({"kick": float("nan")}, "voice weight of 'kick'"),
        ({"kick": True}, "voice weight of 'kick'"),
        ({"kick": 0, "snare": 0.0}, "must not all be zero"),
        ({}, "non-empty dict"),
        (["kick"], "voice must be a voice name or a non-empty dict"),
    ],
)
def test_bad_voice_requests(tiny_drums, voice, match):
    with pytest.raises(GenerationError, match=match):
        fastdrum.generate(tiny_drums, voice=voice, backend="numpy")
    with pytest.raises(GenerationError, match=match):
        tiny_drums.forward([1, 2], voice=voice)


def test_conditioned_model_needs_a_voice(tiny_drums):
    with pytest.raises(
        GenerationError, match="conditioned on voices .* has no default voice: pass voice="
    ):
        fastdrum.generate(tiny_drums, backend="numpy")
    with pytest.raises(GenerationError, match="no default voice"):
        tiny_drums.log_prob([0.0, 0.1])


def test_voice_for_an_unconditioned_model_is_an_error():
    m = random_model(seed=0)
    with pytest.raises(
        GenerationError, match="voice='kick' given, but the model is not conditioned"
    ):
        fastdrum.generate(m, voice="kick", backend="numpy")
    with pytest.raises(GenerationError, match="not conditioned"):
        m.forward([1, 2], voice="kick")


def test_default_voice(tiny_drums):
    snare = tiny_drums.with_voice("snare")
    assert snare.default_voice == "snare" and snare.instrument == "snare"
    assert tiny_drums.default_voice is None  # a copy; the original is unchanged
    assert snare.weights["cond_w"] is tiny_drums.weights["cond_w"]  # shared, read-only
    np.testing.assert_array_equal(
        snare.forward([3, 4, 5]), tiny_drums.forward([3, 4, 5], voice="snare")
    )
    with pytest.raises(GenerationError, match="unknown voices"):
        tiny_drums.with_voice("cowbell")
    with pytest.raises(GenerationError, match="one voice's name"):
        tiny_drums.with_voice({"kick": 1})


def test_meta_instrument_is_the_default_voice(tmp_path, good):
    meta = json.loads(str(good["meta"]))
    meta["instrument"] = "clap"
    good["meta"] = np.array(json.dumps(meta))
    m = load_model(write(tmp_path, good))
    assert m.default_voice == "clap"
    y = fastdrum.generate(m, 2, seed=0, backend="numpy")
    np.testing.assert_array_equal(y, fastdrum.generate(m, 2, voice="clap", seed=0, backend="numpy"))


def test_per_voice_generation_defaults(tiny_drums):
    kick = tiny_drums.with_voice("kick")
    assert kick.generation_defaults == {"temperature": 0.8, "primer_noise": 0.0, "duration": 0.02}
    assert kick.duration == 0.02 and tiny_drums.with_voice("snare").duration == 0.01
    # the duration (and temperature) of the voice; of a blend, of its heaviest voice
    assert fastdrum.generate(tiny_drums, voice="kick", backend="numpy").shape == (1, 320)
    assert fastdrum.generate(
        tiny_drums, voice={"crash": 0.6, "kick": 0.4}, backend="numpy"
    ).shape == (1, 480)
    assert fastdrum.generate(tiny_drums, voice="snare", backend="numpy").shape == (1, 160)
    a = fastdrum.generate(tiny_drums, 2, voice="kick", seed=1, backend="numpy")
    b = fastdrum.generate(
        tiny_drums, 2, voice="kick", seed=1, temperature=0.8, duration=0.02, backend="numpy"
    )
    np.testing.assert_array_equal(a, b)


def test_a_voices_epsilon_is_its_default(tmp_path, good):
    meta = json.loads(str(good["meta"]))
    meta["voices"]["kick"]["epsilon"] = 0.3
    meta.setdefault("generation", {})["epsilon"] = 0.1  # the voice's entry wins over the model's
    good["meta"] = np.array(json.dumps(meta))
    m = load_model(write(tmp_path, good))
    a = fastdrum.generate(m, 3, voice="kick", seed=1, backend="numpy")
    np.testing.assert_array_equal(
        a, fastdrum.generate(m, 3, voice="kick", seed=1, epsilon=0.3, backend="numpy")
    )
    assert not np.array_equal(
        a, fastdrum.generate(m, 3, voice="kick", seed=1, epsilon=0.0, backend="numpy")
    )
    np.testing.assert_array_equal(
        fastdrum.generate(m, 3, voice="snare", seed=1, backend="numpy"),
        fastdrum.generate(m, 3, voice="snare", seed=1, epsilon=0.1, backend="numpy"),
    )


def test_data_primers_are_those_of_the_voice(tmp_path, good):
    """A "data" primer is a primer row of the voice (of a blend: of its heaviest voice)."""
    good["preemphasis"] = np.array(
        0.0, np.float32
    )  # so that each clip starts with its primer's codes
    m = load_model(write(tmp_path, good))
    for voice, index in (("tom_mid", 6), ({"hihat": 0.7, "ride": 0.3}, 2)):
        y = fastdrum.generate(m, 6, voice=voice, primer="data", seed=3, backend="numpy")
        rows = fastdrum.mu_law_decode(m.primers[m.primer_voices == index], 32)
        others = fastdrum.mu_law_decode(m.primers[m.primer_voices != index], 32)
        for clip in y:
            assert any(np.array_equal(clip[:8], r) for r in rows)
            assert not any(np.array_equal(clip[:8], r) for r in others)


def test_a_voice_without_primers_starts_from_silence(tmp_path, good):
    good["primer_voices"] = np.zeros(20, np.int64)  # every primer is a kick
    m = load_model(write(tmp_path, good))
    with pytest.raises(GenerationError, match="no primers of voice 'snare'"):
        fastdrum.generate(m, voice="snare", primer="data", backend="numpy")
    auto = fastdrum.generate(m, voice="snare", seed=0, backend="numpy")
    silence = fastdrum.generate(m, voice="snare", primer="silence", seed=0, backend="numpy")
    np.testing.assert_array_equal(auto, silence)


def test_round_weights_keeps_the_conditioning(tiny_drums):
    r = tiny_drums.round_weights()
    assert r.float16_exact and r.voices == VOICES and r.preemphasis == tiny_drums.preemphasis
    for k in ("voice_emb", "cond_w"):
        np.testing.assert_array_equal(r.weights[k], tiny_drums.weights[k])
    np.testing.assert_array_equal(r.primer_voices, tiny_drums.primer_voices)
    assert r.format_version == 2


def test_log_prob_scores_the_pre_emphasised_clip(tiny_drums):
    y = np.sin(np.arange(40) / 3.0) * 0.5
    e = fastdrum.mulaw.preemphasis(y, tiny_drums.preemphasis)
    q = fastdrum.mu_law_encode(e, 32)
    assert tiny_drums.log_prob(y, voice="kick") == tiny_drums.log_prob(q, codes=True, voice="kick")


# -- shipped names: files and voices --------------------------------------------------------------
def test_a_voice_of_a_shipped_conditioned_model_is_a_name(shipped_folder):
    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    assert fastdrum.available_models() == sorted(VOICES + ("drums",))
    m = load_model("tom_low")
    assert m.default_voice == "tom_low" and m.instrument == "tom_low" and m.voices == VOICES
    assert m.path == str(shipped_folder / "drums.npz")
    assert load_model("drums").default_voice is None
    a = fastdrum.generate("tom_low", 2, seed=0, backend="numpy")
    b = fastdrum.generate(load_model(TINY_DRUMS), 2, voice="tom_low", seed=0, backend="numpy")
    np.testing.assert_array_equal(a, b)
    with pytest.raises(
        ModelNotFoundError, match=r"no model named 'cowbell'; shipped models: \['clap', 'crash'"
    ):
        load_model("cowbell")


def test_a_model_file_of_its_own_wins_over_a_voice(shipped_folder):
    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    random_model(seed=0, instrument="kick").save(shipped_folder / "kick.npz")
    assert fastdrum.available_models().count("kick") == 1
    kick = load_model("kick")
    assert (
        kick.format_version == 1
        and kick.voices == ()
        and kick.path == str(shipped_folder / "kick.npz")
    )
    assert load_model("snare").voices == VOICES


def test_a_voice_in_two_conditioned_files_resolves_to_the_first(shipped_folder):
    shutil.copy(TINY_DRUMS, shipped_folder / "b.npz")
    random_model(seed=0, voices=["kick", "cowbell"]).save(shipped_folder / "a.npz")
    assert load_model("kick").path == str(shipped_folder / "a.npz")
    assert load_model("cowbell").path == str(shipped_folder / "a.npz")
    assert load_model("snare").path == str(shipped_folder / "b.npz")


def test_the_instruments_of_the_shipped_models_leave_out_a_conditioned_files_name(shipped_folder):
    from fastdrum.model import _shipped_instruments

    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    assert _shipped_instruments() == sorted(VOICES)  # "drums" alone plays no voice
    random_model(seed=0, instrument="cowbell").save(shipped_folder / "cowbell.npz")
    random_model(seed=0, voices=["kick", "bongo"]).save(shipped_folder / "perc.npz")
    assert _shipped_instruments() == sorted(VOICES + ("bongo", "cowbell"))
    assert fastdrum.available_models() == sorted(VOICES + ("bongo", "cowbell", "drums", "perc"))
    # The unconditional voice of --voice-dropout is a name, but no instrument a kit plays.
    random_model(seed=0, voices=["kick", "any"]).save(shipped_folder / "cfg.npz")
    assert "any" in fastdrum.available_models() and load_model("any").default_voice == "any"
    assert _shipped_instruments() == sorted(VOICES + ("bongo", "cowbell"))


def test_the_shipped_models_still_resolve():
    """The package's own models: every name loads; a voice's name or a model file of one instrument
    plays that instrument, the unconditional voice 'any' plays itself though no kit plays it, and a
    conditioned model's file name is that model with no voice chosen."""
    from fastdrum.instruments import ANY_VOICE
    from fastdrum.model import _shipped_instruments

    playable = _shipped_instruments()
    for name in fastdrum.available_models():
        model = load_model(name)
        if name in playable or name == ANY_VOICE:
            assert model.instrument == name
        else:
            assert model.voices and model.default_voice is None and name not in model.voices


def test_the_shipped_models_play_every_instrument_of_the_drum_machine_themselves():
    """Every instrument has its own shipped model or voice: nothing borrows another's clips
    (fastdrum.instruments.FALLBACKS), and each generates with its own settings."""
    from fastdrum.instruments import first_available
    from fastdrum.model import _shipped_instruments

    playable = _shipped_instruments()
    for inst in INSTRUMENTS:
        assert first_available(inst, playable) == inst
        model = load_model(inst)
        assert model.instrument == inst
        assert model.duration > 0  # a clip length of its own (the voice's, of a conditioned model)
        y = fastdrum.generate(inst, 2, seed=0, duration=0.005)  # the kernel, default temperature
        assert y.shape == (2, round(0.005 * model.sample_rate)) and y.dtype == np.float32
        assert np.isfinite(y).all() and np.abs(y).max() <= 1.0


# -- the CLI's generate --voice -----------------------------------------------------------------
def test_cli_generate_voice(tmp_path, shipped_folder, capsys):
    import soundfile as sf

    from fastdrum.cli import main

    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    args = ["-n", "2", "--seed", "4", "--backend", "numpy", "--no-post", "-q", "--format", "flac"]
    assert (
        main(
            [
                "generate",
                str(TINY_DRUMS),
                "--voice",
                "tom_low=1,kick=3",
                "-o",
                str(tmp_path / "a"),
                *args,
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != _io.MANIFEST) == [
        "kick_000.flac",
        "kick_001.flac",
    ]
    y, sr = sf.read(tmp_path / "a" / "kick_000.flac", dtype="float32")
    want = fastdrum.generate(
        TINY_DRUMS, 2, voice={"tom_low": 0.25, "kick": 0.75}, seed=4, backend="numpy"
    )
    np.testing.assert_allclose(y, want[0], atol=2**-15)  # 16-bit FLAC
    assert (
        main(["generate", "snare", "-o", str(tmp_path / "b"), *args]) == 0
    )  # a shipped voice by its name
    assert main(["generate", "drums", "--voice", "ride", "-o", str(tmp_path / "c"), *args]) == 0
    assert sorted(p.name for p in (tmp_path / "c").iterdir() if p.name != _io.MANIFEST) == [
        "ride_000.flac",
        "ride_001.flac",
    ]
    capsys.readouterr()
    for bad in (["drums", "--voice", "cowbell"], ["drums"], ["drums", "--voice", "kick=0.5,,x"]):
        assert main(["generate", *bad, "-o", str(tmp_path / "d"), *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "d").exists()


# -- a pre-emphasis coefficient a voice ------------------------------------------------------------
def _with_preemphasis(m, a):
    """`m` (conditioned, 2 voices) with pre-emphasis `a`: the same network, so the same codes."""
    return fastdrum.Model(
        sample_rate=m.sample_rate,
        dilations=m.dilations,
        meta=m.meta,
        preemphasis=a,
        voices=list(m.voices),
        **m.weights,
    )


@pytest.mark.parametrize("backend", _backends.available())
def test_each_voice_is_deemphasised_with_its_own_coefficient(backend):
    """A model with a coefficient a voice generates, for each voice, what the same network with that
    voice's coefficient for all generates; a blend, what its weighted mean does."""
    base = random_model(seed=3, voices=["kick", "hihat"], preemphasis=0.5)
    per_voice = _with_preemphasis(base, [0.8, 0.0])
    kw = dict(n=3, duration=0.01, seed=4, backend=backend)
    for voice, a in (("kick", 0.8), ("hihat", 0.0), ({"kick": 1, "hihat": 3}, 0.2)):
        want = fastdrum.generate(_with_preemphasis(base, a), voice=voice, **kw)
        got = fastdrum.generate(per_voice, voice=voice, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # The coefficient matters: the kick's clips are not those of the hi-hat's coefficient.
    other = fastdrum.generate(_with_preemphasis(base, 0.0), voice="kick", **kw)
    assert not np.allclose(fastdrum.generate(per_voice, voice="kick", **kw), other)


def test_log_prob_pre_emphasises_with_the_voice_s_coefficient():
    base = random_model(seed=5, voices=["kick", "hihat"], preemphasis=0.5)
    per_voice = _with_preemphasis(base, [0.8, 0.0])
    y = np.sin(np.linspace(0, 20, 200)) * 0.5
    for voice, a in (("kick", 0.8), ("hihat", 0.0)):
        assert per_voice.log_prob(y, voice=voice) == _with_preemphasis(base, a).log_prob(
            y, voice=voice
        )
    assert per_voice.preemphasis_of({"kick": 1, "hihat": 1}) == pytest.approx(0.4)
    with pytest.raises(GenerationError, match="snare"):
        per_voice.preemphasis_of("snare")
