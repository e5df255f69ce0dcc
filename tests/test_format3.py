"""Model format 3 (docs/format.md): leaky integration, in files, in Model and in generation.

The network of a format-3 model learns the leaky integral u(t) = (1 - b) y(t) + b u(t-1) of each
clip (then pre-emphasised as in format 2); generation undoes it with the first difference
y(t) = (u(t) - b u(t-1)) / (1 - b), whose zero at z = b moves the sampling noise away from the
lowest frequencies.
"""

import json

import numpy as np
import pytest
from conftest import tiny_drums_arrays
from conftest import write_arrays as write

import fastdrum
from fastdrum import GenerationError, ModelFormatError, _backends, _format, load_model
from fastdrum.cli import main
from fastdrum.mulaw import deemphasis, preemphasis
from fastdrum.testing import random_model


def _integral(y, b):
    """u(t) = (1 - b) y(t) + b u(t-1), u(-1) = 0, by its definition."""
    u, prev = np.empty(len(y)), 0.0
    for t, x in enumerate(y):
        prev = (1 - b) * x + b * prev
        u[t] = prev
    return u


@pytest.mark.parametrize("a", [0.0, 0.85, -0.5])
@pytest.mark.parametrize("b", [0.0, 0.5, 0.95])
def test_preemphasis_integrates_first_and_deemphasis_undoes_both(a, b):
    y = np.random.default_rng(0).uniform(-1, 1, 300)
    u = _integral(y, b)
    want = np.concatenate([[u[0]], u[1:] - a * u[:-1]]) / (1 + abs(a))
    e = preemphasis(y, a, b)
    np.testing.assert_allclose(e, want, atol=1e-12)
    assert np.abs(e).max() <= 1.0  # stays in mu-law's range
    np.testing.assert_allclose(deemphasis(e, a, b), y, atol=1e-9)


def test_the_first_difference_passes_dc_at_unity_and_lifts_the_top():
    """Its impulse response is (1, -b) / (1 - b): gain 1 at DC, (1 + b) / (1 - b) at Nyquist."""
    b = 0.95
    impulse = np.zeros(6)
    impulse[0] = 1.0
    np.testing.assert_allclose(deemphasis(impulse, 0.0, b)[:3], [20.0, -19.0, 0.0])
    np.testing.assert_allclose(deemphasis(np.ones(5), 0.0, b)[1:], 1.0)
    alternating = (-1.0) ** np.arange(6)
    np.testing.assert_allclose(deemphasis(alternating, 0.0, b)[1:], 39.0 * alternating[1:])


@pytest.mark.parametrize("b", [-0.1, 1.0, np.nan, "x"])
def test_bad_integration_coefficients_are_named(b):
    with pytest.raises(fastdrum.MuLawError, match="the integration coefficient"):
        preemphasis([0.1, 0.2], 0.0, b)


# -- files -----------------------------------------------------------------------------------------
@pytest.fixture
def good():
    """The tiny conditioned model's arrays made format 3: one integration coefficient a voice."""
    arrays = tiny_drums_arrays()
    arrays["format_version"] = np.array(3)
    arrays["integration"] = np.linspace(0, 0.9, len(arrays["voices"])).astype(np.float32)
    return arrays


def test_a_format_3_file_round_trips(tmp_path, good):
    m = load_model(write(tmp_path, good))
    assert m.format_version == 3
    assert m.integration == tuple(float(x) for x in good["integration"])
    assert "integration=(0, 0.1, " in repr(m)
    m.save(tmp_path / "back.npz")
    with np.load(tmp_path / "back.npz") as f:
        np.testing.assert_array_equal(f["integration"], good["integration"])
        assert int(f["format_version"]) == 3
    assert load_model(tmp_path / "back.npz").integration == m.integration


def test_models_without_integration_keep_their_format(tmp_path, tiny_drums):
    """Format 3 only where it is needed: format-2 files stay format 2, without the key."""
    tiny_drums.save(tmp_path / "two.npz")
    with np.load(tmp_path / "two.npz") as f:
        assert int(f["format_version"]) == 2 and "integration" not in f.files
    assert tiny_drums.integration == 0.0
    assert random_model(seed=0).integration == 0.0 and random_model(seed=0).format_version == 1
    assert random_model(seed=0, integration=0.5).format_version == 3


def test_a_reader_of_formats_1_and_2_refuses_format_3(tmp_path, good, monkeypatch):
    """It would ignore the unknown key and play the integral: it must refuse the file instead."""
    monkeypatch.setattr(_format, "FORMAT_VERSIONS", (1, 2))
    with pytest.raises(ModelFormatError, match="'format_version': unknown version 3"):
        load_model(write(tmp_path, good))


@pytest.mark.parametrize(
    "value, match",
    [
        (None, "'integration': missing \\(required in format 3\\)"),
        (np.array(0.5), "'integration': must be a float32 scalar or \\(V,\\) array"),
        (np.zeros((10, 1), np.float32), "'integration': must be a float32 scalar or"),
        (np.array([0.5], np.float32), "'integration': has 1 coefficients, one a voice, but the mo"),
        (np.array(1.0, np.float32), "'integration': must lie in \\[0, 1\\), got 1.0"),
        (np.array(-0.25, np.float32), "'integration': must lie in \\[0, 1\\), got -0.25"),
        (np.array([0.5] * 9 + [np.nan], np.float32), "'integration': must lie in \\[0, 1\\)"),
    ],
)
def test_bad_integration(tmp_path, good, value, match):
    if value is None:
        del good["integration"]
    else:
        good["integration"] = value
    with pytest.raises(ModelFormatError, match=match):
        load_model(write(tmp_path, good))


def test_info_shows_the_integration(tmp_path, good, capsys):
    path = write(tmp_path, good)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format" in out and "kick 0, snare 0.1" in out and "first difference" in out
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 3 and info["integration"][1] == pytest.approx(0.1)


def test_info_says_none_for_coefficients_that_are_all_zero(tmp_path, good, capsys):
    good["preemphasis"] = np.zeros(len(good["voices"]), np.float32)
    assert main(["info", str(write(tmp_path, good))]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("pre-emphasis")]
    assert row[0].split()[-1] == "none"


# -- generation and scoring ------------------------------------------------------------------------
def _with(m, b, a=0.0):
    """`m` (conditioned, 2 voices) with integration `b`: the same network, so the same codes."""
    return fastdrum.Model(
        sample_rate=m.sample_rate,
        dilations=m.dilations,
        meta=m.meta,
        preemphasis=a,
        integration=b,
        voices=list(m.voices),
        **m.weights,
    )


@pytest.mark.parametrize("backend", _backends.available())
def test_generate_takes_each_voice_s_first_difference(backend):
    """Each voice's clips are the first difference (its own b; a blend's weighted mean) of what the
    same network without integration generates, peak-limited to [-1, 1]."""
    base = random_model(seed=3, voices=["kick", "hihat"])
    per_voice = _with(base, [0.0, 0.9])
    kw = dict(n=3, duration=0.01, seed=4, backend=backend)
    for voice, b in (("kick", 0.0), ("hihat", 0.9), ({"kick": 1, "hihat": 3}, 0.675)):
        plain = fastdrum.generate(_with(base, 0.0), voice=voice, **kw)
        want = deemphasis(plain, 0.0, b)
        want /= np.maximum(np.abs(want).max(axis=-1, keepdims=True), 1.0)
        got = fastdrum.generate(per_voice, voice=voice, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(fastdrum.generate(per_voice, voice="hihat", **kw), plain)


def test_generate_de_emphasises_then_differences():
    base = random_model(seed=7, voices=["kick", "hihat"])
    kw = dict(n=2, duration=0.01, seed=1, backend="numpy", voice="hihat")
    plain = fastdrum.generate(_with(base, 0.0), **kw)
    want = deemphasis(plain, 0.85, 0.5)
    want /= np.maximum(np.abs(want).max(axis=-1, keepdims=True), 1.0)
    got = fastdrum.generate(_with(base, 0.5, a=0.85), **kw)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_log_prob_scores_the_integrated_clip():
    m = _with(random_model(seed=5, voices=["kick", "hihat"]), [0.0, 0.9], a=0.5)
    y = np.sin(np.linspace(0, 20, 200)) * 0.5
    q = fastdrum.mu_law_encode(preemphasis(y, 0.5, 0.9), m.quantization_channels)
    assert m.log_prob(y, voice="hihat") == m.log_prob(q, codes=True, voice="hihat")
    assert m.log_prob(y, voice="hihat") != m.log_prob(y, voice="kick")
    with pytest.raises(GenerationError, match="snare"):
        m.integration_of("snare")
