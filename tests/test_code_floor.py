"""tools/code_floor.py: real clips through a model's code as a perfect network would draw them."""

import os
import sys

import numpy as np
import pytest
from scipy.signal import lfilter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

code_floor = pytest.importorskip("code_floor")

from fastdrum.mulaw import mu_law_decode, mu_law_encode, shelf_coefficients  # noqa: E402
from fastdrum.testing import random_model  # noqa: E402

SR = 44100


def _model():
    return random_model(quantization_channels=256, sample_rate=SR, seed=0)


def _noise(kind, n=8, T=4410, seed=0):
    """Noise clips of peak 0.9: ``"rising"``, white noise differenced (6 dB an octave up, nothing at
    DC: hat-like); ``"falling"``, white noise through 1 / (1 - 0.95 z^-1) (kick-like)."""
    w = np.random.default_rng(seed).standard_normal((n, T + 1))
    y = np.diff(w, axis=1) if kind == "rising" else lfilter([1.0], [1.0, -0.95], w[:, 1:], axis=1)
    return 0.9 * y / np.abs(y).max(axis=1, keepdims=True)


def test_without_coefficients_the_floor_is_the_mu_law_round_trip():
    y = _noise("rising")
    clean, decoded, peaks = code_floor.through_code(_model(), y, 0.0, 0.0)
    np.testing.assert_array_equal(clean, y)
    want = mu_law_decode(mu_law_encode(y, 256), 256).astype(np.float32)
    np.testing.assert_array_equal(decoded, want)
    np.testing.assert_allclose(peaks, 0.9)


def test_the_floor_is_low_where_the_coefficients_whiten_the_clips():
    """Mu-law's noise is white and about proportional to the coded signal; decoding shapes it by
    (1 + |a|)(1 - b z^-1) / ((1 - b)(1 - a z^-1)). It follows the clips' spectrum (a low floor) when
    the coding whitens them: integration for rising noise, pre-emphasis a = 0.95 for falling; the
    other way round, it lifts the noise where the clips have little (their top octave, or DC)."""
    model = _model()
    falling = {
        ab: code_floor.floor(model, _noise("falling"), *ab) for ab in ((0.95, 0), (0, 0.995))
    }
    assert falling[0.95, 0]["mel_damage"] < 0.2
    assert falling[0, 0.995]["top_damage"] > 6.0
    assert falling[0, 0.995]["hf"] > falling[0, 0.995]["hf_clean"] + 6.0
    rising = {ab: code_floor.floor(model, _noise("rising"), *ab) for ab in ((0, 0.995), (0.85, 0))}
    assert rising[0, 0.995]["mel_damage"] < 0.2
    assert rising[0.85, 0]["lf"] > rising[0.85, 0]["lf_clean"] + 10.0
    assert rising[0.85, 0]["mel_damage"] > 3.0


def test_the_peak_is_the_coded_signals():
    """Integration at b = 0.995 divides the falling noise's top by (1 + b) / (1 - b) = 399 and keeps
    its DC: the coded peak falls."""
    _, _, peaks = code_floor.through_code(_model(), _noise("falling"), 0.0, 0.995)
    assert np.all(peaks < 0.5)


def _partials(freqs, tau, T, seed):
    """Four clips of decaying partials at `freqs` (random phases), peak 0.9."""
    t = np.arange(T) / SR
    rng = np.random.default_rng(seed)
    y = np.array(
        [
            sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs) * np.exp(-t / tau)
            for _ in range(4)
        ]
    )
    return 0.9 * y / np.abs(y).max(axis=1, keepdims=True)


def test_flatness_is_the_evaluations_clean_and_through_the_code():
    """Three decaying partials are far from flat (a tone's flatness is near 0); the code's white
    noise fills the spectrum between them, so through the code they are flatter."""
    from training.evaluate import spectral_flatness

    y = _partials((3100.0, 5270.0, 8830.0), 0.03, 4410, seed=1)
    f = code_floor.floor(_model(), y, 0.0, 0.995)
    clean, decoded, _ = code_floor.through_code(_model(), y, 0.0, 0.995)
    assert f["flatness_clean"] == pytest.approx(
        np.median([spectral_flatness(c, SR) for c in clean])
    )
    assert f["flatness"] == pytest.approx(np.median([spectral_flatness(c, SR) for c in decoded]))
    assert f["flatness_clean"] < 0.05
    assert f["flatness"] > 2 * f["flatness_clean"]


def test_persistence_is_the_evaluations_clean_and_through_the_code():
    """Steady partials ring from frame to frame; through the code, mu-law's white noise fills the
    spectrum between them and draws its own fine structure there, so less of it lasts; the figures
    are the evaluation's medians of each set."""
    from training.evaluate import partial_persistence

    y = _partials((1100.0, 2270.0, 3830.0), 0.3, SR // 2, seed=2)
    f = code_floor.floor(_model(), y, 0.0, 0.0)
    clean, decoded, _ = code_floor.through_code(_model(), y, 0.0, 0.0)
    assert f["persistence_clean"] == pytest.approx(
        np.median([partial_persistence(c, SR) for c in clean])
    )
    assert f["persistence"] == pytest.approx(
        np.median([partial_persistence(c, SR) for c in decoded])
    )
    assert f["persistence_clean"] > 0.9 > f["persistence"] > 0.3


def test_a_low_shelf_takes_the_code_s_noise_off_below_its_corner():
    """Pre-emphasis a = 0.85 lifts mu-law's noise under hat-like noise at DC (the floor's rumble);
    a 40 Hz shelf in the code cuts it there by up to 20 dB, and leaves kick-like noise, whose
    energy is low, as unharmed as without it."""
    model = _model()
    shelf = shelf_coefficients(40, model.sample_rate)
    rising, falling = _noise("rising"), _noise("falling")
    plain = code_floor.floor(model, rising, 0.85, 0.0)
    shelved = code_floor.floor(model, rising, 0.85, 0.0, shelf)
    assert shelved["lf"] < plain["lf"] - 6.0
    assert shelved["lf_clean"] == plain["lf_clean"]
    assert code_floor.floor(model, falling, 0.85, 0.0, shelf)["mel_damage"] < 0.2


def test_pairs_are_parsed_and_a_bad_one_is_named():
    assert code_floor.parse_pairs("0.5:0.9,0:0:40,0.85:0:200:30") == [
        (0.5, 0.9, 0.0, 20.0),
        (0.0, 0.0, 40.0, 20.0),
        (0.85, 0.0, 200.0, 30.0),
    ]
    with pytest.raises(ValueError, match="'0.5' is not A:B, A:B:HZ or A:B:HZ:DB"):
        code_floor.parse_pairs("0.85:0,0.5")
    with pytest.raises(ValueError, match="'1:2:3:4:5' is not A:B, A:B:HZ or A:B:HZ:DB"):
        code_floor.parse_pairs("1:2:3:4:5")


def test_a_bad_pair_exits_2_before_anything_is_loaded(capsys):
    with pytest.raises(SystemExit) as exc:
        code_floor.main(["no-such-model.npz", "--coefficients", "x:1"])
    assert exc.value.code == 2
    assert "'x:1' is not A:B" in capsys.readouterr().err
