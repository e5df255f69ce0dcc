"""Model format 5 (docs/format.md): an output filter, in files, in Model, in generation and in the CLI.

A format-5 model is a format-4 model plus a fixed causal FIR filter a voice (``output_filter``,
(K,) without voices or (V, K) with them) that generation takes each finished clip through: after
de-emphasis and the envelope, before the peak limit (:func:`fastdrum.mulaw.fir_filter`). It is not
part of what the network models, so the same network draws the same codes with or without it.
"""

import json

import numpy as np
import pytest
import scipy.signal
from conftest import ODD_SIZES, tiny_drums_arrays
from conftest import write_arrays as write

import fastdrum
from fastdrum import GenerationError, ModelFormatError, _format, load_model
from fastdrum._generate import _finish
from fastdrum.cli import _primer_audio, main
from fastdrum.mulaw import deemphasis, fir_filter, mu_law_decode, shelf_coefficients
from fastdrum.testing import random_model

SHELF = shelf_coefficients(40, 16000)
VOICES = ["kick", "hihat"]
#: A random correction (its gain lifts peaks above 1: the limit has work to do).
H_KICK = np.random.default_rng(11).normal(0.0, 0.6, 33).astype(np.float32)
DELAY = np.array([0.0, 0.0, 1.0], np.float32)


def _impulse(K):
    h = np.zeros(K, np.float32)
    h[0] = 1.0
    return h


def _limit(y):
    """generate()'s peak limit: a clip whose peak exceeds 1 is divided by its peak; float32."""
    y = np.asarray(y, dtype=np.float64)
    return (y / np.maximum(np.abs(y).max(axis=-1, keepdims=True), 1.0)).astype(np.float32)


def _rows(*filters):
    """Filters of different lengths as (V, K) rows, zero-padded to the longest."""
    K = max(len(h) for h in filters)
    return np.array([np.pad(h, (0, K - len(h))) for h in filters], dtype=np.float32)


# -- files -----------------------------------------------------------------------------------------
@pytest.fixture
def good():
    """The tiny conditioned model's arrays made format 5: a shelf and a 5-tap correction on the
    first voice only (the others: no shelf, the unit impulse)."""
    arrays = tiny_drums_arrays()
    V = len(arrays["voices"])
    arrays["format_version"] = np.array(5)
    arrays["integration"] = np.zeros(V, np.float32)
    arrays["shelf_zero"] = np.array([SHELF[0]] + [0.0] * (V - 1), np.float32)
    arrays["shelf_pole"] = np.array([SHELF[1]] + [0.0] * (V - 1), np.float32)
    h = np.zeros((V, 5), np.float32)
    h[:, 0] = 1.0
    h[0] = [0.9, 0.3, -0.2, 0.05, 0.1]
    arrays["output_filter"] = h
    return arrays


def test_a_format_5_file_round_trips_bit_for_bit(tmp_path, good):
    m = load_model(write(tmp_path, good))
    assert m.format_version == 5
    assert m.output_filter.dtype == np.float32 and m.output_filter.shape == (10, 5)
    assert m.output_filter.tobytes() == good["output_filter"].tobytes()
    assert not m.output_filter.flags.writeable
    with pytest.raises(ValueError):
        m.output_filter[0, 0] = 2.0
    kick = m.output_filter_of("kick")
    assert kick.dtype == np.float64 and kick.tolist() == good["output_filter"][0].tolist()
    assert m.output_filter_of("snare").tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert m.shelf_of("kick") == (float(good["shelf_zero"][0]), float(good["shelf_pole"][0]))
    assert "output_filter=5 taps" in repr(m)
    m.save(tmp_path / "back.npz")
    with np.load(tmp_path / "back.npz") as f:
        assert int(f["format_version"]) == 5
        assert f["output_filter"].dtype == np.float32
        assert f["output_filter"].tobytes() == good["output_filter"].tobytes()
        for key in ("preemphasis", "integration", "shelf_zero", "shelf_pole"):
            np.testing.assert_array_equal(f[key], np.asarray(good[key], np.float32))
    back = load_model(tmp_path / "back.npz")
    assert back.output_filter.tobytes() == m.output_filter.tobytes()
    assert back.format_version == 5 and back.shelf_zero == m.shelf_zero


def test_a_model_without_voices_has_one_filter(tmp_path):
    h = np.array([0.5, 0.25, 0.125], np.float32)
    m = random_model(seed=0, output_filter=h)
    assert m.format_version == 5 and m.output_filter.shape == (3,)
    assert m.output_filter_of().tolist() == [0.5, 0.25, 0.125]
    m.save(tmp_path / "one.npz")
    back = load_model(tmp_path / "one.npz")
    assert back.output_filter.tobytes() == h.tobytes()
    with np.load(tmp_path / "one.npz") as f:  # format 4's keys too, 0 where none
        assert float(f["preemphasis"]) == 0.0 and float(f["shelf_pole"]) == 0.0


def test_the_version_is_the_lowest_that_holds_the_model():
    assert random_model(seed=0).format_version == 1
    assert random_model(seed=0, preemphasis=0.5).format_version == 2
    assert random_model(seed=0, shelf_zero=SHELF[0], shelf_pole=SHELF[1]).format_version == 4
    # An output filter makes format 5 whatever else the model has (even the unit impulse).
    assert random_model(seed=0, output_filter=[1.0]).format_version == 5
    assert random_model(seed=0, integration=0.5, output_filter=[1.0]).format_version == 5
    shelved = random_model(seed=0, shelf_zero=SHELF[0], shelf_pole=SHELF[1], output_filter=[1.0])
    assert shelved.format_version == 5 and shelved.shelf_of() == tuple(
        float(np.float32(x)) for x in SHELF
    )
    assert random_model(seed=0, voices=VOICES).output_filter is None


def test_a_reader_of_formats_1_to_4_refuses_format_5(tmp_path, good, monkeypatch):
    """It would ignore the unknown key and play the clips uncorrected: it must refuse the file."""
    monkeypatch.setattr(_format, "FORMAT_VERSIONS", (1, 2, 3, 4))
    with pytest.raises(ModelFormatError, match="'format_version': unknown version 5"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "value, match",
    [
        (None, "'output_filter': missing \\(required in formats 5 and 6\\)"),
        (np.ones((10, 3)), "'output_filter': dtype must be float32, got float64"),
        (np.ones((10, 3), np.int32), "'output_filter': dtype must be float32, got int32"),
        (np.ones(3, np.float32), "'output_filter': must be 2-D \\(V, K\\), one filter a voice"),
        (np.ones((10, 3, 1), np.float32), "'output_filter': must be 2-D \\(V, K\\)"),
        (np.ones((9, 3), np.float32), "'output_filter': has 9 rows, one filter a voice, but the"),
        (np.ones((11, 3), np.float32), "'output_filter': has 11 rows"),
        (np.ones((10, 0), np.float32), "'output_filter': needs 1 to 8192 taps, got 0"),
        (np.ones((10, 8193), np.float32), "'output_filter': needs 1 to 8192 taps, got 8193"),
        (np.full((10, 3), np.nan, np.float32), "'output_filter': contains NaN or Inf"),
        (np.full((10, 3), -np.inf, np.float32), "'output_filter': contains NaN or Inf"),
        (
            np.full((10, 3), 1000.5, np.float32),
            "'output_filter': each tap must lie in \\[-1000, 1000\\], got 1000.5",
        ),
        (
            np.full((10, 3), -3e38, np.float32),
            "'output_filter': each tap must lie in \\[-1000, 1000\\], got -3",
        ),
    ],
)
def test_bad_output_filters_in_files(tmp_path, good, value, match):
    if value is None:
        del good["output_filter"]
    else:
        good["output_filter"] = value
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


def test_the_bounds_themselves_are_allowed(tmp_path, good):
    h = np.zeros((10, _format.MAX_OUTPUT_FILTER_TAPS), np.float32)
    h[:, 0], h[0, -1] = _format.MAX_OUTPUT_FILTER_VALUE, -_format.MAX_OUTPUT_FILTER_VALUE
    good["output_filter"] = h
    m = load_model(write(tmp_path, good))
    assert m.output_filter.shape == (10, 8192) and m.output_filter_of("kick")[-1] == -1000.0
    good["output_filter"] = np.ones((10, 1), np.float32)
    assert load_model(write(tmp_path, good)).output_filter.shape == (10, 1)


@pytest.mark.parametrize(
    "value, match",
    [
        (np.ones((1, 3), np.float32), "must be 1-D \\(K,\\) for a model without voices"),
        (np.array(1.0, np.float32), "must be 1-D \\(K,\\)"),
        (np.zeros(0, np.float32), "needs 1 to 8192 taps, got 0"),
    ],
)
def test_bad_output_filters_of_a_model_without_voices(tmp_path, value, match):
    arrays = random_model(seed=0, output_filter=[1.0])._arrays()
    arrays["output_filter"] = value
    with pytest.raises(ModelFormatError, match="'output_filter': " + match):
        load_model(write(tmp_path, arrays))


def test_model_refuses_bad_filters_as_the_loader_does():
    with pytest.raises(ModelFormatError, match="'output_filter': must be 2-D \\(V, K\\)"):
        random_model(seed=0, voices=VOICES, output_filter=[1.0, 0.0])
    with pytest.raises(ModelFormatError, match="'output_filter': contains NaN or Inf"):
        random_model(seed=0, output_filter=[1.0, np.nan])
    with pytest.raises(ModelFormatError, match="'output_filter': not an array"):
        random_model(seed=0, output_filter=[[1.0], [1.0, 2.0]])
    m = random_model(seed=0, voices=VOICES)
    with pytest.raises(ModelFormatError, match="'output_filter': has 3 rows"):
        m.with_output_filter(np.ones((3, 4)))


# -- Model ---------------------------------------------------------------------------------------
def test_output_filter_of_a_blend_is_the_weighted_mean():
    h = _rows(H_KICK, DELAY).astype(np.float64)
    m = random_model(seed=1, voices=VOICES, output_filter=h)
    np.testing.assert_array_equal(m.output_filter_of("kick"), h[0])
    np.testing.assert_array_equal(m.output_filter_of("hihat"), h[1])
    blend = m.output_filter_of({"kick": 1, "hihat": 3})
    np.testing.assert_allclose(blend, 0.25 * h[0] + 0.75 * h[1], rtol=1e-15, atol=1e-17)
    assert not np.allclose(blend, h[0]) and not np.allclose(blend, h[1])
    assert m.with_voice("hihat").output_filter_of().tolist() == h[1].tolist()  # the default voice
    with pytest.raises(GenerationError, match="unknown voices \\['snare'\\]"):
        m.output_filter_of("snare")
    with pytest.raises(GenerationError, match="no default voice"):
        m.output_filter_of()
    assert random_model(seed=1, voices=VOICES).output_filter_of("kick") is None


def test_with_output_filter_adds_and_removes_it(tmp_path):
    four = random_model(
        seed=2, voices=VOICES, preemphasis=[0.85, 0.5], shelf_zero=[SHELF[0], 0.0],
        shelf_pole=[SHELF[1], 0.0], primers=4,
    )  # fmt: skip
    four = four.with_voice("hihat")
    five = four.with_output_filter(_rows(H_KICK, _impulse(1)))
    assert (four.format_version, five.format_version) == (4, 5)
    assert five.meta == four.meta and five.default_voice == "hihat"
    assert five.output_filter.shape == (2, 33)
    for k, w in four.weights.items():
        np.testing.assert_array_equal(five.weights[k], w)
    np.testing.assert_array_equal(five.primers, four.primers)
    assert five.shelf_of("kick") == four.shelf_of("kick")
    back = five.with_output_filter(None)
    assert back.format_version == 4 and back.output_filter is None
    assert back.default_voice == "hihat"
    a, b = four._arrays(), back._arrays()
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # A format-1 model goes to 5 (format 4's keys 0) and back to 1.
    one = random_model(seed=0)
    assert one.with_output_filter([0.5]).format_version == 5
    assert one.with_output_filter([0.5]).with_output_filter(None).format_version == 1
    assert random_model(seed=0, integration=0.5).with_output_filter([1.0]).with_output_filter(
        None
    ).format_version == 3  # fmt: skip
    # A model without a filter keeps its version.
    assert four.with_output_filter(None).format_version == 4


def test_round_weights_keeps_the_filter():
    h = _rows(H_KICK + np.float32(1e-4), _impulse(1))  # values that are no float16 values
    assert not _format.is_float16_exact(h)
    m = random_model(seed=3, voices=VOICES, output_filter=h)
    r = m.round_weights()
    assert r.float16_exact and not m.float16_exact
    assert r.format_version == 5
    assert r.output_filter.tobytes() == m.output_filter.tobytes()


def test_log_prob_scores_codes_not_audio():
    base = random_model(seed=5, voices=VOICES, preemphasis=0.85)
    m = base.with_output_filter(_rows(H_KICK, _impulse(1)))
    with pytest.raises(GenerationError, match="scores codes \\(codes=True\\), not audio"):
        m.log_prob(np.zeros(50), voice="kick")
    q = np.random.default_rng(0).integers(0, m.quantization_channels, 60)
    got = m.log_prob(q, codes=True, voice="kick")
    assert got < 0 and got == base.log_prob(q, codes=True, voice="kick")  # the same network


# -- generation -------------------------------------------------------------------------------------
def _model(filters=None, **kw):
    """A random model with two voices (odd sizes: padding in the kernel); the same network whatever
    the decoding (`kw`) and the filter, so the same codes."""
    m = random_model(**ODD_SIZES, seed=3, voices=VOICES, sample_rate=16000, **kw)
    return m if filters is None else m.with_output_filter(filters)


KW = dict(n=3, duration=0.02, seed=4, primer="silence")


def test_the_unit_impulse_changes_nothing(backend):
    """A filter of unit impulses gives the model's clips (to FFT rounding: fir_filter computes in
    float64 by FFT, far below float32's resolution)."""
    for kw in (dict(), dict(preemphasis=[0.85, 0.5], shelf_zero=[SHELF[0], 0.0],
                            shelf_pole=[SHELF[1], 0.0])):  # fmt: skip
        plain, five = _model(**kw), _model(np.tile(_impulse(4), (2, 1)), **kw)
        for voice in ("kick", "hihat", {"kick": 1, "hihat": 1}):
            want = fastdrum.generate(plain, voice=voice, backend=backend, **KW)
            got = fastdrum.generate(five, voice=voice, backend=backend, **KW)
            assert got.dtype == np.float32 and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12)
            assert np.abs(want).max() > 0.05  # clips with something in them


def test_generate_is_the_model_without_the_filter_then_fir_filter_then_the_limit(backend):
    """Of a model whose clips the limit leaves alone (a = 0: the decoded codes): sample for sample,
    the same arithmetic."""
    plain = _model()
    five = _model(_rows(H_KICK, DELAY))
    for voice, h in (("kick", H_KICK), ("hihat", DELAY)):
        y = fastdrum.generate(plain, voice=voice, backend=backend, **KW)
        assert np.abs(y).max() <= 1.0
        got = fastdrum.generate(five, voice=voice, backend=backend, **KW)
        np.testing.assert_array_equal(got, _limit(fir_filter(y, h)))
        if voice == "kick":  # and that is lfilter's FIR, limited
            np.testing.assert_allclose(
                got, _limit(scipy.signal.lfilter(H_KICK, [1.0], y, axis=-1)), rtol=1e-6, atol=1e-7
            )
            assert np.isclose(np.abs(got).max(axis=-1), 1.0).any()  # the limit did work
            assert not np.allclose(got, y, atol=0.01)
        else:  # a delay of 2 samples
            np.testing.assert_allclose(got[:, 2:], y[:, :-2], rtol=0, atol=1e-12)
            np.testing.assert_allclose(got[:, :2], 0.0, rtol=0, atol=1e-12)


def test_generate_filters_after_deemphasis_and_before_the_limit(backend):
    """With pre-emphasis and a low shelf a voice: each voice's clips are the decoded codes,
    de-emphasised with its own coefficients, through its own filter (a blend's: its voices'
    coefficients and filters weighted as the blend), peak-limited."""
    decoding = dict(preemphasis=[0.85, 0.5], shelf_zero=[SHELF[0], 0.0], shelf_pole=[SHELF[1], 0.0])
    five = _model(_rows(H_KICK, DELAY), **decoding)
    codes_of = _model()  # the same network decoding nothing: its clips are the decoded codes
    blend = {"kick": 1, "hihat": 3}
    for voice in ("kick", "hihat", blend):
        decoded = fastdrum.generate(codes_of, voice=voice, backend=backend, **KW)
        a, shelf = five.preemphasis_of(voice), five.shelf_of(voice)
        h = five.output_filter_of(voice)
        want = _limit(scipy.signal.lfilter(h, [1.0], deemphasis(decoded, a, 0.0, shelf), axis=-1))
        got = fastdrum.generate(five, voice=voice, backend=backend, **KW)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        unfiltered = _limit(deemphasis(decoded, a, 0.0, shelf))
        assert not np.allclose(got, unfiltered, atol=1e-3)
    # (Filter and de-emphasis are both linear and time-invariant, so they commute; the envelope and
    # the limit do not: test_the_filter_follows_the_envelope, and the limit above.)


def test_the_filter_follows_the_envelope():
    decays = {"kick": [0.004, 0.01], "hihat": [0.002]}
    m = random_model(
        **ODD_SIZES, seed=4, voices=VOICES, decays=decays, sample_rate=8000, preemphasis=0.5,
        envelope={"hold": 0.001, "floor_db": -40.0}, output_filter=_rows(H_KICK, DELAY),
    )  # fmt: skip
    codes = np.random.default_rng(1).integers(0, 29, (2, 120)).astype(np.int32)
    d = [0.004, 0.01]
    y = deemphasis(mu_law_decode(codes, 29), 0.5)
    env = m._envelope(120, np.asarray(d))
    want = _limit(fir_filter(y * env, H_KICK))
    got = _finish(codes, m, d, fir=m.output_filter_of("kick"))
    np.testing.assert_array_equal(got, want)
    assert not np.allclose(got, _limit(fir_filter(y, H_KICK) * env), atol=1e-3)
    # A filter a voice: finishing needs the voice's.
    with pytest.raises(GenerationError, match="an output filter a voice needs the voice's"):
        _finish(codes, m, d)


def test_finish_uses_a_model_s_single_filter_and_no_filter_without_one():
    m = random_model(seed=0, quantization_channels=29, output_filter=DELAY)
    codes = np.random.default_rng(2).integers(0, 29, (2, 40)).astype(np.int32)
    y = mu_law_decode(codes, 29)
    np.testing.assert_allclose(_finish(codes, m), _limit(np.pad(y, ((0, 0), (2, 0)))[:, :40]),
                               rtol=0, atol=1e-12)  # fmt: skip
    # Without a filter: the decoded codes exactly, as they always were (format 1).
    plain = random_model(seed=0, quantization_channels=29)
    np.testing.assert_array_equal(_finish(codes, plain), y)
    # An explicit filter overrides: the unit impulse, to FFT rounding.
    np.testing.assert_allclose(_finish(codes, m, fir=[1.0]), y, rtol=0, atol=1e-12)


# -- the CLI ---------------------------------------------------------------------------------------
def test_info_shows_the_output_filter(tmp_path, good, capsys):
    path = write(tmp_path, good)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    row = [line for line in out if line.startswith("output filter")]
    assert row and "5 taps a voice, correcting kick (generation filters its output)" in row[0]
    assert any(line.startswith("format ") and line.rstrip().endswith("5") for line in out)
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 5
    assert info["output_filter_taps"] == 5 and info["output_filter_voices"] == ["kick"]
    # One filter, no voices.
    one = tmp_path / "one.npz"
    random_model(seed=0, output_filter=[1.0, 0.5, 0.25]).save(one)
    assert main(["info", str(one)]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("output filter")]
    assert row and row[0].split(None, 2)[2] == "3 taps (generation filters its output)"
    # No row before format 5.
    four = tmp_path / "four.npz"
    random_model(seed=0, shelf_zero=SHELF[0], shelf_pole=SHELF[1]).save(four)
    assert main(["info", str(four)]) == 0
    assert "output filter" not in capsys.readouterr().out


def test_plotted_primers_are_filtered_as_clips_are(tmp_path, good):
    m = load_model(write(tmp_path, good)).with_voice("kick")
    own = m.primers[m.primer_voices == m.voices.index("kick")]
    q = m.quantization_channels
    y = deemphasis(mu_law_decode(own[:2], q), m.preemphasis, 0.0, m.shelf_of("kick"))
    want = scipy.signal.lfilter(good["output_filter"][0].astype(np.float64), [1.0], y, axis=-1)
    got = _primer_audio(m, 2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, y, atol=1e-3)
