"""Envelope-normalised models (``meta["envelope"]``): the definition, the file, generate(), training.

docs/format.md, "Envelope": such a model's network models a clip divided by the envelope
env(t) = max(10 ** (-max(0, t - hold) / d), 10 ** (floor_db / 20)) of the clip's decay time d, and
generate() multiplies its clips by it. Models without an envelope generate what they always did.
"""

import importlib.util
import json
import os

import numpy as np
import pytest
from conftest import ODD_SIZES

import fastdrum
from fastdrum import GenerationError, ModelFormatError, _reference
from fastdrum._generate import _finish
from fastdrum.mulaw import deemphasis, mu_law_decode, silence_code
from fastdrum.testing import random_model

DATA = os.path.join(os.path.dirname(__file__), "data")


def _saved_clips_module():
    spec = importlib.util.spec_from_file_location(
        "make_saved_clips", os.path.join(DATA, "make_saved_clips.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- no envelope
def test_models_without_an_envelope_generate_the_saved_clips(backend):
    """Clips saved before envelope models existed: bit for bit, on every backend."""
    saved = np.load(os.path.join(DATA, "saved_clips.npz"))
    got = _saved_clips_module().clips(backend)
    assert sorted(got) == sorted(saved.files)
    for name, y in got.items():
        assert y.dtype == saved[name].dtype == np.float32, name
        np.testing.assert_array_equal(y, saved[name], err_msg=name)


# ----------------------------------------------------------------------------- the definition
def test_envelope_by_hand():
    # 1 kHz, hold 10 ms, d = 0.1 s (20 dB every 0.1 s), floor -60 dB (0.001)
    env = _reference.envelope(600, 1000, 0.1, 0.01, -60.0)
    assert env.dtype == np.float64 and env.shape == (600,)
    np.testing.assert_array_equal(env[:11], 1.0)  # t = 0 .. 0.01 s: the hold
    assert env[11] == pytest.approx(10 ** (-0.001 / 0.1), rel=1e-12)  # 0.2 dB below
    assert env[60] == pytest.approx(10**-0.5, rel=1e-12)  # t = hold + d / 2: -10 dB
    assert env[110] == pytest.approx(0.1, rel=1e-12)  # t = hold + d: -20 dB
    assert env[210] == pytest.approx(0.01, rel=1e-12)  # t = hold + 2 d: -40 dB
    assert env[309] == pytest.approx(10**-(2.99), rel=1e-12)  # just above the floor
    np.testing.assert_array_equal(env[311:], 0.001)  # the floor, -60 dB, from hold + 3 d on
    assert env[310] == pytest.approx(0.001, rel=1e-12)
    # No hold: the fall starts at the first sample.
    assert _reference.envelope(3, 10, 0.1, 0.0, -60.0).tolist() == pytest.approx([1, 0.1, 0.01])
    # d = inf: a clip that never falls 20 dB has no envelope.
    np.testing.assert_array_equal(_reference.envelope(50, 1000, np.inf, 0.01, -60.0), 1.0)
    # One envelope per decay, and each is the scalar one.
    both = _reference.envelope(600, 1000, [0.1, 0.3], 0.01, -60.0)
    assert both.shape == (2, 600)
    np.testing.assert_array_equal(both[0], env)
    np.testing.assert_array_equal(both[1], _reference.envelope(600, 1000, 0.3, 0.01, -60.0))
    for bad in (0.0, -0.1, np.nan, [0.1, 0.0]):
        with pytest.raises(ValueError, match="decay must be seconds > 0"):
            _reference.envelope(10, 1000, bad, 0.01, -60.0)


# ----------------------------------------------------------------------------- the file
VOICES = ["a", "b"]
DECAYS = {"a": [0.004, 0.01, 0.05], "b": [0.002, 0.03]}
ENVELOPE = {"hold": 0.001, "floor_db": -40.0}


def enveloped(envelope=ENVELOPE, seed=4, **kw):
    """A random decay-conditioned model (odd sizes: padding in the kernel) with `envelope`; the same
    weights whatever `envelope` is."""
    kw = dict(dict(voices=VOICES, decays=DECAYS, sample_rate=8000, primers=4), **kw)
    return random_model(**ODD_SIZES, seed=seed, embedding_size=3, envelope=envelope, **kw)


def _arrays(model, edit):
    a = model._arrays()
    meta = json.loads(str(a["meta"]))
    edit(meta)
    a["meta"] = np.array(json.dumps(meta))
    return a


def _with_envelope(value):
    def edit(meta):
        meta["envelope"] = value

    return edit


HOLD, FLOOR = r"envelope\['hold'\] must be a finite number", r"envelope\['floor_db'\] must be"
BAD_ENVELOPES = [
    (None, r"'meta': envelope must be an object \{hold, floor_db\}, got 'None'"),
    ([0.01, -60.0], "envelope must be an object"),
    ("0.01", "envelope must be an object"),
    (dict(ENVELOPE, drop_db=20.0), r"envelope has unknown key\(s\) \['drop_db'\]"),
    ({"floor_db": -60.0}, HOLD + r" of seconds in \[0, 1\], got None"),
    ({"hold": 0.01}, FLOOR + r" a finite number of dB in \[-120, 0\), got None"),
    (dict(ENVELOPE, hold=float("nan")), HOLD + ".* got nan"),
    (dict(ENVELOPE, hold=float("inf")), HOLD + ".* got inf"),
    (dict(ENVELOPE, hold=-0.001), HOLD + ".* got -0.001"),
    (dict(ENVELOPE, hold=1.5), HOLD + ".* got 1.5"),
    (dict(ENVELOPE, hold="0.01"), HOLD + ".* got '0.01'"),
    (dict(ENVELOPE, hold=True), HOLD + ".* got True"),
    (dict(ENVELOPE, hold=[0.01]), HOLD + r".* got \[0.01\]"),
    (dict(ENVELOPE, floor_db=0.0), FLOOR + ".* got 0.0"),
    (dict(ENVELOPE, floor_db=6.0), FLOOR + ".* got 6.0"),
    (dict(ENVELOPE, floor_db=-121.0), FLOOR + ".* got -121.0"),
    (dict(ENVELOPE, floor_db=float("-inf")), FLOOR + ".* got -inf"),
    (dict(ENVELOPE, floor_db=float("nan")), FLOOR + ".* got nan"),
    (dict(ENVELOPE, floor_db="-60"), FLOOR + ".* got '-60'"),
    (dict(ENVELOPE, floor_db=False), FLOOR + ".* got False"),
]


@pytest.mark.parametrize("value, match", BAD_ENVELOPES)
def test_loader_refuses_a_bad_envelope_naming_it(tmp_path, value, match):
    np.savez(tmp_path / "bad.npz", **_arrays(enveloped(), _with_envelope(value)))
    with pytest.raises(ModelFormatError, match=match) as info:
        fastdrum.load_model(tmp_path / "bad.npz")
    assert "'meta'" in str(info.value) and "envelope" in str(info.value)
    if value is not None:  # and so does the constructor (envelope=None is no envelope)
        with pytest.raises(ModelFormatError, match=match):
            enveloped(envelope=value)


@pytest.mark.parametrize(
    "value", [{"hold": 0, "floor_db": -120}, {"hold": 1.0, "floor_db": -1e-9}, ENVELOPE]
)
def test_the_ends_of_the_ranges_load(tmp_path, value):
    np.savez(tmp_path / "m.npz", **_arrays(enveloped(), _with_envelope(value)))
    assert fastdrum.load_model(tmp_path / "m.npz").envelope == {
        k: float(v) for k, v in value.items()
    }


def test_an_envelope_needs_decay_conditioning(tmp_path):
    match = r"'meta': envelope needs decay conditioning"
    with pytest.raises(ModelFormatError, match=match):  # voices, no decay_w
        random_model(seed=0, voices=VOICES, envelope=ENVELOPE)
    with pytest.raises(ModelFormatError, match=match):  # format 1
        random_model(seed=0, envelope=ENVELOPE)
    with pytest.raises(ModelFormatError, match=match):  # format 2, no voices
        random_model(seed=0, preemphasis=0.5, envelope=ENVELOPE)
    plain = random_model(seed=0, voices=VOICES)
    np.savez(tmp_path / "m.npz", **_arrays(plain, _with_envelope(ENVELOPE)))
    with pytest.raises(ModelFormatError, match=match):
        fastdrum.load_model(tmp_path / "m.npz")


def test_file_round_trip(tmp_path):
    m = enveloped()
    assert m.envelope == ENVELOPE and "envelope" in repr(m) and m.format_version == 2
    m.save(tmp_path / "m.npz")
    back = fastdrum.load_model(tmp_path / "m.npz")
    assert back.envelope == ENVELOPE and back.meta["envelope"] == ENVELOPE
    assert back.round_weights().envelope == ENVELOPE
    assert back.with_voice("b").envelope == ENVELOPE
    assert enveloped(envelope=None).envelope is None
    assert "envelope" not in repr(enveloped(envelope=None))
    assert fastdrum.load_model(os.path.join(DATA, "tiny_drums.npz")).envelope is None


# ----------------------------------------------------------------------------- generate()
def drawn_decays(model, n, seed, voice, data_primer):
    """The decay time clip i of ``generate(model, n, seed=seed, voice=voice)`` draws: after its
    "data" primer's row (if any), one of its voice's training decays (docs/format.md)."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]
    rows = int((model.primer_voices == model.voices.index(voice)).sum())
    pool = model.voice_decays[voice]
    out = []
    for rng in rngs:
        if data_primer:
            rng.integers(rows)
        out.append(pool[rng.integers(len(pool))])
    return np.array(out)


def env_of(model, T, decays):
    e = model.envelope
    return _reference.envelope(T, model.sample_rate, decays, e["hold"], e["floor_db"])


@pytest.mark.parametrize("primer", ["data", "silence"])
@pytest.mark.parametrize("decay", [None, 0.02, [0.001, 0.004, 0.05, 1.0, 30.0]])
def test_generate_is_the_model_without_envelope_times_the_envelope(backend, decay, primer):
    """Without pre-emphasis the plain model's clips are the decoded codes (their peak is at most 1),
    so the envelope model's are exactly those times env of each clip's decay, given or drawn."""
    env_model, plain = enveloped(), enveloped(envelope=None)
    kw = dict(voice="a", seed=3, duration=0.01, decay=decay, primer=primer, backend=backend)
    got = fastdrum.generate(env_model, 5, **kw)
    base = fastdrum.generate(plain, 5, **kw)
    if decay is None:
        d = drawn_decays(plain, 5, 3, "a", primer == "data")
        assert len(set(d.tolist())) > 1
    else:
        d = np.broadcast_to(np.asarray(decay, np.float64), (5,))
    want = (base.astype(np.float64) * env_of(env_model, 80, d)).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    # The envelope is no identity here: from 5 ms on, the clips of 4 ms or less are 20 dB down.
    short = d <= 0.004
    if short.any():
        assert np.abs(base[short, 40:]).max() > 0.1
        assert np.abs(got[short, 40:]).max() <= 0.1 * np.abs(base[short, 40:]).max()


def by_definition(model, n, seed, T, voice, decays, temperature=0.9):
    """docs/format.md's clips of an envelope model with pre-emphasis, primed with silence: the
    reference State's codes, mu-law decoded, de-emphasised, times each clip's envelope, then each
    clip whose peak exceeds 1 divided by its peak."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]
    pool = model.voice_decays[voice]
    drawn = [pool[rng.integers(len(pool))] for rng in rngs]
    d = np.asarray(drawn if decays is None else decays, np.float64)
    cond = np.stack([model.conditioning(voice, decay=x) for x in d])
    codes = np.zeros((n, T), np.int32)
    codes[:, 0] = silence_code(model.quantization_channels)
    uniforms = np.stack([rng.random(T - 1) for rng in rngs])
    _reference.State(model._reference_weights(), n, cond=cond).run(
        codes, 1, uniforms, temperature, 0, T - 1
    )
    y = deemphasis(mu_law_decode(codes, model.quantization_channels), model.preemphasis)
    y = y * env_of(model, T, d)
    return (y / np.maximum(np.abs(y).max(axis=1, keepdims=True), 1.0)).astype(np.float32)


@pytest.mark.parametrize("decay", [None, [0.002, 0.01, 0.3, 2.0]])
def test_generate_with_preemphasis_is_the_definition(backend, decay):
    m = enveloped(preemphasis=0.85, envelope={"hold": 0.002, "floor_db": -30.0})
    want = by_definition(m, 4, 8, 120, "b", decay)
    kw = dict(voice="b", seed=8, duration=0.015, primer="silence", temperature=0.9, decay=decay)
    got = fastdrum.generate(m, 4, backend=backend, **kw)
    np.testing.assert_array_equal(got, want)
    # ... and not the clips of the model without the envelope
    plain = fastdrum.generate(enveloped(preemphasis=0.85, envelope=None), 4, backend=backend, **kw)
    assert not np.allclose(got, plain, atol=0.01)


def test_each_clip_keeps_its_decay_whatever_the_batch(backend):
    """Batches of 2 and 3: each clip is still the plain model's times the envelope of its own decay."""
    m, plain = enveloped(), enveloped(envelope=None)
    for decay in (None, [0.001, 0.004, 0.05, 1.0, 30.0]):
        kw = dict(voice="b", seed=2, duration=0.01, decay=decay, backend=backend)
        d = drawn_decays(m, 5, 2, "b", True) if decay is None else np.asarray(decay)
        want = fastdrum.generate(plain, 5, **kw).astype(np.float64) * env_of(m, 80, d)
        got = fastdrum.generate(m, 5, batch_size=2, **kw)
        np.testing.assert_array_equal(got, want.astype(np.float32))
        np.testing.assert_array_equal(got, fastdrum.generate(m, 5, **kw))
    kw = dict(voice="b", seed=2, duration=0.01, backend=backend)
    np.testing.assert_array_equal(
        fastdrum.generate(m, 3, **kw), fastdrum.generate(m, 7, batch_size=3, **kw)[:3]
    )


def test_finishing_an_envelope_models_codes_needs_their_decays():
    m = enveloped()
    codes = np.full((2, 10), silence_code(29), np.int32)
    with pytest.raises(GenerationError, match="need their decay times"):
        _finish(codes, m)
    np.testing.assert_array_equal(_finish(codes, m, [0.1, 0.2]), np.zeros((2, 10), np.float32))


def test_log_prob_of_audio_divides_it_by_the_envelope():
    env_model, plain = enveloped(), enveloped(envelope=None)
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, 60) * np.exp(-np.arange(60) / 40.0)
    normalised = np.clip(y / env_of(env_model, 60, 0.004), -1.0, 1.0)
    assert (np.abs(y / env_of(env_model, 60, 0.004)) > 1).any()  # the clipping is exercised
    got = env_model.log_prob(y, voice="a", decay=0.004)
    assert got == plain.log_prob(normalised, voice="a", decay=0.004)
    assert got != plain.log_prob(y, voice="a", decay=0.004)
    codes = rng.integers(0, 29, 30)
    assert env_model.log_prob(codes, codes=True, voice="a", decay=0.004) == plain.log_prob(
        codes, codes=True, voice="a", decay=0.004
    )
    with pytest.raises(GenerationError, match="pass decay="):
        env_model.log_prob(y, voice="a")


def test_info_shows_the_envelope(tmp_path, capsys):
    from fastdrum.cli import main

    enveloped().save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert "envelope" in out and "after 0.001 s, down to -40 dB" in out
    assert main(["info", "--json", str(tmp_path / "m.npz")]) == 0
    assert json.loads(capsys.readouterr().out)["envelope"] == ENVELOPE
    enveloped(envelope=None).save(tmp_path / "plain.npz")
    assert main(["info", "--json", str(tmp_path / "plain.npz")]) == 0
    assert json.loads(capsys.readouterr().out)["envelope"] is None
