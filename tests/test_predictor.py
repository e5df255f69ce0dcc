"""fastdrum.predictor (format 6's code) and format-6 models: the loader, generate() on both backends."""

import json

import numpy as np
import pytest

import fastdrum
from fastdrum import predictor as P
from fastdrum.errors import ModelFormatError
from fastdrum.mulaw import mu_law_decode, mu_law_encode
from fastdrum.testing import random_model

PRED = dict(order=8, window=64, hop=32, gain=1.0)


def ar2(n, seed=0):
    """An AR(2) process y(t) = 1.6 y(t-1) - 0.8 y(t-2) + e(t): a resonance near 0.1 of the rate."""
    e = np.random.default_rng(seed).standard_normal(n)
    y = np.zeros(n)
    for t in range(2, n):
        y[t] = 1.6 * y[t - 1] - 0.8 * y[t - 2] + e[t]
    return y


def ringing(n, sr=8000, seed=0):
    """Two decaying partials under a little noise, peak about 0.8: what a drum rings."""
    t = np.arange(n) / sr
    noise = 1e-3 * np.random.default_rng(seed).standard_normal(n)
    return (
        0.5 * np.exp(-3 * t) * (np.sin(2 * np.pi * 180 * t) + 0.6 * np.sin(2 * np.pi * 437 * t))
        + noise
    )


def test_coefficients_recover_an_ar2_process():
    a = P.coefficients(ar2(30000), 2, 16384)
    assert np.allclose(a, [1.6, -0.8], atol=0.03)


def test_coefficients_of_silence_and_of_nothing_are_zero():
    assert not P.coefficients(np.zeros(100), 8, 64).any()
    assert not P.coefficients(np.zeros(0), 8, 64).any()


def test_first_hop_is_plain_mu_law_of_the_signal_times_the_gain():
    x = ringing(200)
    codes, _ = P.encode(x, 8, 64, 32, 2.0)
    assert np.array_equal(codes[:32], mu_law_encode(np.clip(2.0 * x[:32], -1, 1)))


@pytest.mark.parametrize(("order", "window", "hop", "gain"), [(8, 64, 32, 1.0), (16, 100, 7, 3.0)])
def test_the_reference_decoder_follows_the_encoder_bit_for_bit(order, window, hop, gain):
    x = ringing(700)
    codes, decoded = P.encode(x, order, window, hop, gain)
    errors = mu_law_decode(codes).astype(np.float64) / gain
    assert np.array_equal(P.synthesise_reference(errors, order, window, hop), decoded)


@pytest.mark.parametrize(("order", "window", "hop"), [(8, 64, 32), (16, 100, 7), (32, 256, 64)])
def test_the_hop_at_a_time_decoder_is_the_reference(order, window, hop):
    rng = np.random.default_rng(order)
    errors = 0.05 * rng.standard_normal((3, 2, 701))  # any leading shape; T not a multiple of hop
    errors[..., :40] += ringing(40)  # something for the first fit to ring on
    got = P.synthesise(errors, order, window, hop)
    want = P.synthesise_reference(errors, order, window, hop)
    assert got.shape == errors.shape
    assert np.allclose(got, want, rtol=1e-9, atol=1e-9)


def test_the_code_keeps_a_ringing_signal_finer_than_mu_law():
    x = ringing(4000)
    _, decoded = P.encode(x, 32, 512, 64, 1.0)
    plain = mu_law_decode(mu_law_encode(x)).astype(np.float64)

    def snr(y):
        return 10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2))

    assert snr(decoded) > snr(plain) + 10


# --- format 6 -------------------------------------------------------------------------------------


def test_a_model_with_a_predictor_is_format_6_and_round_trips(tmp_path):
    m = random_model(seed=0, predictor=PRED)
    assert m.format_version == 6 and m.predictor == PRED
    assert m.output_filter.tolist() == [1.0]  # format 5's filter, the unit impulse
    path = tmp_path / "p.npz"
    m.save(path)
    back = fastdrum.load_model(path)
    assert back.format_version == 6 and back.predictor == PRED


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_generate_runs_the_predictor_on_the_decoded_errors(backend):
    pred = dict(PRED, gain=2.0)
    m = random_model(seed=3, predictor=pred)
    plain = random_model(seed=3)  # the same network, format 1: its output is the decoded codes
    y = fastdrum.generate(m, 3, seed=5, backend=backend)
    codes_decoded = fastdrum.generate(plain, 3, seed=5, backend=backend).astype(np.float64)
    want = P.synthesise(codes_decoded / 2.0, 8, 64, 32)
    want /= np.maximum(np.abs(want).max(axis=-1, keepdims=True), 1.0)  # generate()'s peak limit
    assert np.allclose(y, want, atol=1e-6)
    assert not np.allclose(y, codes_decoded, atol=1e-3)  # the predictor did something


def test_removing_the_output_filter_of_a_format_6_model_leaves_the_unit_impulse():
    m = random_model(seed=0, predictor=PRED).with_output_filter([1.0, 0.5])
    assert m.format_version == 6 and m.output_filter.tolist() == [1.0, 0.5]
    plain = m.with_output_filter(None)
    assert plain.format_version == 6 and plain.output_filter.tolist() == [1.0]
    assert plain.predictor == PRED
    voiced = random_model(seed=0, voices=["kick", "snare"], predictor=PRED)
    assert voiced.with_output_filter(None).output_filter.tolist() == [[1.0], [1.0]]


def _arrays(model):
    return dict(model._arrays())


def _with_meta(arrays, **change):
    meta = json.loads(str(arrays["meta"]))
    for k, v in change.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


@pytest.mark.parametrize(
    ("predictor", "match"),
    [
        (None, "predictor is required in format 6"),
        ([8, 64, 32, 1.0], "predictor is required in format 6, an object"),
        (dict(PRED, extra=1), "unknown key"),
        (dict(PRED, order=0), r"predictor\['order'\] must be an integer in \[1, 512\]"),
        (dict(PRED, order=True), r"predictor\['order'\]"),
        (dict(PRED, order=8.0), r"predictor\['order'\]"),
        (dict(PRED, hop=1), r"predictor\['hop'\] must be an integer in \[32,"),
        (dict(PRED, window=10**6), r"predictor\['window'\]"),
        (dict(PRED, gain=0), r"predictor\['gain'\]"),
        (dict(PRED, gain="1"), r"predictor\['gain'\]"),
        (dict(PRED, order=64), "order 64 must be below its window 64"),
    ],
)
def test_bad_predictors_are_refused(tmp_path, predictor, match):
    arrays = _with_meta(_arrays(random_model(seed=0, predictor=PRED)), predictor=predictor)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelFormatError, match=match):
        fastdrum.load_model(path)


def test_a_predictor_before_format_6_is_refused(tmp_path):
    arrays = _with_meta(_arrays(random_model(seed=0, output_filter=[1.0])), predictor=PRED)
    assert int(arrays["format_version"]) == 5
    path = tmp_path / "old.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelFormatError, match="predictor needs format 6"):
        fastdrum.load_model(path)


def test_info_shows_the_predictor(tmp_path, capsys):
    from fastdrum.cli import main

    path = tmp_path / "p.npz"
    random_model(seed=0, predictor=PRED).save(path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "order 8, refitted every 32 samples on the last 64, error gain 1" in out
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["predictor"] == PRED


def test_the_scalar_mu_law_is_the_array_one():
    v = np.concatenate([np.linspace(-1, 1, 20001), [0.0, -0.0, 1e-9, -1e-9]])
    mu, log_mu = 255, np.log1p(255)
    got = [P._mu_law_code(float(x), mu, log_mu) for x in v]
    assert np.array_equal(got, mu_law_encode(v))


# --- training ---------------------------------------------------------------------------------------


def test_the_training_set_codes_the_predictors_error_of_the_prepared_clip():
    """TrainingSet(predictor=...): every batch row's codes are fastdrum.predictor.encode's codes of
    the clip as training prepares it (fitted, pre-emphasised), and the primers are their first codes."""
    from training import data as data_mod
    from training.batches import TrainingSet, preemphasize

    sr, n = 8000, 1200
    clips = [
        data_mod.Clip(audio=ringing(n - 40 * i, sr, seed=i).astype(np.float32), entry={})
        for i in range(3)
    ]

    def make(predictor):
        return TrainingSet(
            [clips],
            [[]],
            [n],
            crop=0,
            receptive_field=16,
            quantization_channels=256,
            preemphasis=0.5,
            predictor=predictor,
        )

    ts, plain = make(PRED), make(None)
    assert ts.predictor == PRED and plain.predictor is None
    b = ts.batch(np.random.default_rng(0), 6, onset_share=1.0)
    for row in b.codes:
        want = [
            P.encode(preemphasize(data_mod.fit(c.audio, n, 0.95)[None], 0.5)[0], 8, 64, 32, 1.0)[0]
            for c in clips
        ]
        assert any(np.array_equal(row, w) for w in want)
    codes, plain_codes = ts.primers(60)[0], plain.primers(60)[0]
    assert np.array_equal(codes[:, :32], plain_codes[:, :32])  # the first hop: plain mu-law
    assert not np.array_equal(codes[:, 32:], plain_codes[:, 32:])  # then the error's


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--predictor-order", "513"], r"--predictor-order must lie in \[0, 512\]"),
        (["--predictor-order", "-1"], r"--predictor-order must lie in"),
        (["--predictor-order", "64", "--predictor-window", "64"], "--predictor-window must exceed"),
        (["--predictor-order", "8", "--predictor-hop", "16"], r"--predictor-hop must lie in \[32,"),
        (["--predictor-order", "8", "--predictor-gain", "nan"], "--predictor-gain must lie in"),
        (["--predictor-order", "8", "--predictor-gain", "100"], "--predictor-gain must lie in"),
    ],
)
def test_predictor_options_are_checked(argv, match):
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    args = build_parser().parse_args(["--voices", "kick", "--crop", "64", "--out", "m.npz", *argv])
    with pytest.raises(ConfigError, match=match):
        _check_args(args)


def test_the_predictor_of_a_run_is_its_options():
    from training.train import _predictor, build_parser

    def predictor(*argv):
        return _predictor(build_parser().parse_args(["--voices", "kick", "--out", "m.npz", *argv]))

    assert predictor() is None
    assert predictor("--predictor-order", "256") == dict(order=256, window=4096, hop=256, gain=1.0)
    got = predictor(
        *[
            "--predictor-order",
            "8",
            "--predictor-window",
            "64",
            "--predictor-hop",
            "32",
            "--predictor-gain",
            "2",
        ]
    )
    assert got == dict(order=8, window=64, hop=32, gain=2.0)
