"""Model format 4 (docs/format.md): a low shelf, in files, in Model, in generation and in training.

The network of a format-4 model learns each clip taken first through the low shelf
S(z) = (1 - c z^-1) / (1 - p z^-1), c <= p (its gain (1 - c) / (1 - p) at DC, about 1 above the
zero's corner); generation undoes it with 1 / S, which cuts what the network adds below the corner
(the slow wander under kicks and toms) and leaves the band above it alone.
"""

import json

import numpy as np
import pytest
from conftest import tiny_drums_arrays
from conftest import write_arrays as write

import fastdrum
from fastdrum import GenerationError, ModelFormatError, MuLawError, _backends, _format, load_model
from fastdrum.cli import main
from fastdrum.mulaw import deemphasis, preemphasis, shelf_coefficients
from fastdrum.testing import random_model

SHELF = shelf_coefficients(40, 44100)  # the kick's of docs/evaluation.md


def _shelved(y, c, p):
    """s(t) = y(t) - c y(t-1) + p s(t-1), s(-1) = y(-1) = 0, by its definition."""
    s, prev_y, prev_s = np.empty(len(y)), 0.0, 0.0
    for t, x in enumerate(y):
        prev_s = x - c * prev_y + p * prev_s
        prev_y = x
        s[t] = prev_s
    return s


@pytest.mark.parametrize("a, b", [(0.0, 0.0), (0.85, 0.0), (0.85, 0.9)])
def test_preemphasis_takes_the_shelf_first_and_deemphasis_undoes_all(a, b):
    y = np.random.default_rng(0).uniform(-1, 1, 3000)
    s = _shelved(y, *SHELF)
    np.testing.assert_allclose(preemphasis(y, a, b, SHELF), preemphasis(s, a, b), atol=1e-9)
    np.testing.assert_allclose(deemphasis(preemphasis(y, a, b, SHELF), a, b, SHELF), y, atol=1e-8)


def test_the_shelf_lifts_dc_by_its_depth_and_passes_the_top():
    """Training's filter: gain (1 - c) / (1 - p) = 10 (20 dB) at DC, (1 + c) / (1 + p) at Nyquist;
    generation's inverse the reverse."""
    c, p = SHELF
    n = 200_000  # long enough for the pole's time constant, 1 / (1 - p) = 1,755 samples
    np.testing.assert_allclose(preemphasis(np.ones(n), 0.0, 0.0, SHELF)[-1], 10.0, rtol=1e-6)
    np.testing.assert_allclose(deemphasis(np.ones(n), 0.0, 0.0, SHELF)[-1], 0.1, rtol=1e-6)
    alternating = (-1.0) ** np.arange(n)
    top = preemphasis(alternating, 0.0, 0.0, SHELF)[-1] * alternating[-1]
    np.testing.assert_allclose(top, (1 + c) / (1 + p), rtol=1e-6)


def test_shelf_coefficients_follow_their_corner_and_depth():
    c, p = shelf_coefficients(100, 48000, depth_db=30)
    assert c == pytest.approx(1 - 2 * np.pi * 100 / 48000)
    assert 20 * np.log10((1 - c) / (1 - p)) == pytest.approx(30)
    assert shelf_coefficients(0, 44100) == (0.0, 0.0)
    with pytest.raises(MuLawError, match="corner 8000 Hz must lie below"):
        shelf_coefficients(8000, 44100)


@pytest.mark.parametrize(
    "shelf, match",
    [
        ((0.99, 0.9), "zero 0.99 must not exceed its pole 0.9"),
        ((0.5, 1.0), "the low shelf's pole"),
        ((-0.1, 0.5), "the low shelf's zero"),
        ((0.5,), "must be a pair"),
        (0.5, "must be a pair"),
    ],
)
def test_bad_shelves_are_named(shelf, match):
    with pytest.raises(MuLawError, match=match):
        preemphasis([0.1, 0.2], 0.0, 0.0, shelf)


# -- files -----------------------------------------------------------------------------------------
@pytest.fixture
def good():
    """The tiny conditioned model's arrays made format 4: a shelf on the first voice only."""
    arrays = tiny_drums_arrays()
    V = len(arrays["voices"])
    arrays["format_version"] = np.array(4)
    arrays["integration"] = np.zeros(V, np.float32)
    arrays["shelf_zero"] = np.array([SHELF[0]] + [0.0] * (V - 1), np.float32)
    arrays["shelf_pole"] = np.array([SHELF[1]] + [0.0] * (V - 1), np.float32)
    return arrays


def test_a_format_4_file_round_trips(tmp_path, good):
    m = load_model(write(tmp_path, good))
    assert m.format_version == 4
    assert m.shelf_zero == tuple(float(x) for x in good["shelf_zero"])
    assert m.shelf_of(m.voices[0]) == (float(good["shelf_zero"][0]), float(good["shelf_pole"][0]))
    assert m.shelf_of(m.voices[1]) == (0.0, 0.0)
    assert "shelf_zero=(0.994301, 0," in repr(m)
    m.save(tmp_path / "back.npz")
    with np.load(tmp_path / "back.npz") as f:
        for key in ("shelf_zero", "shelf_pole"):
            np.testing.assert_array_equal(f[key], good[key])
        assert int(f["format_version"]) == 4
    assert load_model(tmp_path / "back.npz").shelf_pole == m.shelf_pole


def test_models_without_a_shelf_keep_their_format(tmp_path, tiny_drums):
    tiny_drums.save(tmp_path / "two.npz")
    with np.load(tmp_path / "two.npz") as f:
        assert int(f["format_version"]) == 2 and "shelf_zero" not in f.files
    assert tiny_drums.shelf_of() == (0.0, 0.0)
    assert random_model(seed=0, integration=0.5).format_version == 3
    m = random_model(seed=0, shelf_zero=SHELF[0], shelf_pole=SHELF[1])
    assert m.format_version == 4 and m.integration == 0.0


def test_a_reader_of_formats_1_to_3_refuses_format_4(tmp_path, good, monkeypatch):
    """It would ignore the unknown keys and play the shelved clip: it must refuse the file."""
    monkeypatch.setattr(_format, "FORMAT_VERSIONS", (1, 2, 3))
    with pytest.raises(ModelFormatError, match="'format_version': unknown version 4"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("shelf_zero", None, "'shelf_zero': missing \\(required in format 4\\)"),
        ("shelf_pole", None, "'shelf_pole': missing \\(required in format 4\\)"),
        ("shelf_pole", np.array(0.5), "'shelf_pole': must be a float32 scalar or \\(V,\\) array"),
        ("shelf_zero", np.array([0.5], np.float32), "'shelf_zero': has 1 coefficients, one a"),
        ("shelf_pole", np.array(1.0, np.float32), "'shelf_pole': must lie in \\[0, 1\\), got 1.0"),
        ("shelf_zero", np.array(np.nan, np.float32), "'shelf_zero': must lie in \\[0, 1\\)"),
        (
            "shelf_zero",
            np.array(0.9995, np.float32),
            "0.9995 exceeds the shelf's pole 0.99943.. \\(voice 'kick'\\)",
        ),
    ],
)
def test_bad_shelves_in_files(tmp_path, good, key, value, match):
    if value is None:
        del good[key]
    else:
        good[key] = value
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


def test_info_shows_the_shelf(tmp_path, good, capsys):
    path = write(tmp_path, good)
    assert main(["info", str(path)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("low shelf")]
    voice, hz = str(good["voices"][0]), 40 * int(good["sample_rate"]) / 44100  # the same c
    assert row and f"{voice} {hz:.0f} Hz, 20 dB (generation cuts below)" in row[0]
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 4 and info["shelf_pole"][1] == 0.0


# -- generation and scoring ------------------------------------------------------------------------
def _with(m, shelf, a=0.0, b=0.0):
    """`m` (conditioned, 2 voices) with a shelf a voice: the same network, so the same codes."""
    return fastdrum.Model(
        sample_rate=m.sample_rate,
        dilations=m.dilations,
        meta=m.meta,
        preemphasis=a,
        integration=b,
        shelf_zero=[s[0] for s in shelf],
        shelf_pole=[s[1] for s in shelf],
        voices=list(m.voices),
        **m.weights,
    )


@pytest.mark.parametrize("backend", _backends.available())
def test_generate_undoes_each_voice_s_shelf(backend):
    """Each voice's clips are what the same network without a shelf generates, through the inverse
    of its own shelf (a blend's: its voices' zeros and poles weighted as the blend), peak-limited."""
    base = random_model(seed=3, voices=["kick", "hihat"], sample_rate=44100)
    none = [(0.0, 0.0)] * 2
    per_voice = _with(base, [SHELF, (0.0, 0.0)])
    kw = dict(n=3, duration=0.01, seed=4, backend=backend)
    blend = {"kick": 3, "hihat": 1}
    for voice, shelf in (
        ("kick", SHELF),
        ("hihat", (0.0, 0.0)),
        (blend, tuple(0.75 * x for x in SHELF)),
    ):
        plain = fastdrum.generate(_with(base, none), voice=voice, **kw)  # the decoded codes
        want = deemphasis(plain, 0.0, 0.0, shelf)
        want /= np.maximum(np.abs(want).max(axis=-1, keepdims=True), 1.0)
        got = fastdrum.generate(per_voice, voice=voice, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    unshelved = fastdrum.generate(_with(base, none), voice="kick", **kw)
    assert not np.allclose(fastdrum.generate(per_voice, voice="kick", **kw), unshelved)


def test_log_prob_scores_the_shelved_clip():
    m = _with(random_model(seed=5, voices=["kick", "hihat"], sample_rate=44100), [SHELF, (0, 0)])
    y = np.sin(np.linspace(0, 20, 200)) * 0.5
    q = fastdrum.mu_law_encode(preemphasis(y, 0.0, 0.0, SHELF), m.quantization_channels)
    assert m.log_prob(y, voice="kick") == m.log_prob(q, codes=True, voice="kick")
    assert m.log_prob(y, voice="kick") != m.log_prob(y, voice="hihat")
    with pytest.raises(GenerationError, match="snare"):
        m.shelf_of("snare")
