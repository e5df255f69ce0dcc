"""Format 7: the predictor inside the sampling loop (fastdrum.predictor.Loop and loop_inputs), the
reference network fed the signal's and the prediction's codes, the loader, generate(), and
training's inputs."""

import numpy as np
import pytest
from test_predictor import PRED, _arrays, ringing

import fastdrum
from fastdrum import _reference
from fastdrum import predictor as P
from fastdrum.errors import GenerationError, ModelFormatError
from fastdrum.mulaw import mu_law_decode, mu_law_encode, silence_code
from fastdrum.testing import random_model

Q = 32


def _loop_model(seed=0, **kw):
    return random_model(seed=seed, predictor=PRED, loop=True, quantization_channels=Q, **kw)


def test_loop_inputs_are_the_closed_loops_codes_signal_and_prediction():
    x = ringing(300)
    errors, signal, predictions = P.loop_inputs(x, 8, 64, 32, 2.0, 256)
    codes, decoded = P.encode(x, 8, 64, 32, 2.0, 256)
    levels = mu_law_decode(np.arange(256), 256).astype(np.float64) / 2.0
    np.testing.assert_array_equal(errors, codes)
    np.testing.assert_array_equal(signal, mu_law_encode(decoded, 256))
    np.testing.assert_array_equal(predictions[:32], silence_code(256))  # nothing predicted yet
    np.testing.assert_array_equal(predictions, mu_law_encode(decoded - levels[codes], 256)[:300])
    assert len(set(predictions[32:].tolist())) > 10  # it predicts a ringing signal


class _Recorder:
    """A state that records what it is fed and returns fixed logits."""

    def __init__(self, batch_size, q):
        self.batch_size, self.q, self.fed = batch_size, q, []

    def step(self, codes, signal, predictions):
        self.fed.append((np.array(codes), np.array(signal), np.array(predictions)))
        return np.zeros((self.batch_size, self.q), np.float32)

    def draw(self, logits, uniforms, temperature, epsilon=0.0):
        return np.zeros(len(logits), np.int32)


def test_the_loop_feeds_what_training_feeds_for_the_same_codes():
    """Teacher-forced on a clip's error codes, the loop decodes the clip's closed-loop signal and
    feeds the network errors[t], signal[t] and predictions[t + 1] at step t, as training does."""
    x = np.stack([ringing(300, seed=0), 0.5 * ringing(300, seed=1)[::-1]])
    rows = [P.loop_inputs(r, 8, 64, 32, 1.0, Q) for r in x]
    codes = np.stack([r[0] for r in rows]).astype(np.int32)
    rec = _Recorder(2, Q)
    loop = P.Loop(rec, PRED, 300, Q)
    loop.run(codes.copy(), 300, np.zeros((2, 150)), 1.0, 0, 150)
    loop.run(codes.copy(), 300, np.zeros((2, 149)), 1.0, 150, 299)
    fed_errors, fed_signal, fed_pred = (np.stack(f, axis=1) for f in zip(*rec.fed))
    np.testing.assert_array_equal(fed_errors, codes[:, :299])
    np.testing.assert_array_equal(fed_signal, np.stack([r[1] for r in rows])[:, :299])
    np.testing.assert_array_equal(fed_pred, np.stack([r[2] for r in rows])[:, 1:300])
    decoded = P.synthesise(mu_law_decode(codes, Q)[:, :299], 8, 64, 32)
    np.testing.assert_allclose(loop.decoded, decoded, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="starts at step 0, but the loop is at step 299"):
        loop.run(codes, 300, np.zeros((2, 1)), 1.0, 0, 1)


def test_the_reference_state_is_fed_the_prediction_as_forward_is():
    m = _loop_model(seed=2)
    rng = np.random.default_rng(0)
    codes, sigs, preds = (rng.integers(0, Q, (2, 40)) for _ in range(3))
    state = _reference.State(m._reference_weights(), 2)
    steps = np.stack([state.step(codes[:, t], sigs[:, t], preds[:, t]) for t in range(40)], axis=1)
    for b in range(2):
        want = m.forward(codes[b], signal=sigs[b], predictions=preds[b])
        np.testing.assert_allclose(steps[b], want, rtol=1e-5, atol=1e-5)
    base = m.forward(codes[0], signal=sigs[0], predictions=preds[0])
    for moved in (
        dict(signal=(sigs[0] + 1) % Q, predictions=preds[0]),
        dict(signal=sigs[0], predictions=(preds[0] + 1) % Q),
    ):
        assert not np.allclose(m.forward(codes[0], **moved), base)  # sig_w and pred_w are used


def test_forward_needs_predictions_exactly_for_a_format_7_model():
    with pytest.raises(GenerationError, match="signal= is required by a format-7 model"):
        _loop_model().forward([1, 2, 3])
    with pytest.raises(GenerationError, match="predictions= is required by a format-7 model"):
        _loop_model().forward([1, 2, 3], signal=[1, 2, 3])
    with pytest.raises(GenerationError, match="predictions= is required"):
        random_model(seed=0, quantization_channels=Q).forward([1, 2], predictions=[1, 2])
    with pytest.raises(GenerationError, match="predictions must have the codes' shape"):
        _loop_model().forward([1, 2, 3], signal=[1, 2, 3], predictions=[1, 2])


def test_generation_draws_what_the_network_fed_the_loop_predicts():
    """At temperature 0 every drawn error code is the argmax of forward() of the signal decoded from
    the codes before it and of the predictions: the definition, not the loop's own bookkeeping."""
    m = _loop_model(seed=5, scale=2.0)
    T = 200
    state = _reference.State(m._reference_weights(), 3)
    loop = P.Loop(state, PRED, T, Q)
    codes = np.full((3, T), silence_code(Q), np.int32)
    codes[:, 0] = [3, 16, 28]
    loop.run(codes, 1, np.zeros((3, T - 1)), 0.0, 0, T - 1)
    for b in range(3):
        errors, signal, preds = _loop_codes(codes[b])
        logits = m.forward(errors[:-1], signal=signal[:-1], predictions=preds[1:], dtype=np.float64)
        np.testing.assert_array_equal(codes[b, 1:], np.argmax(logits, axis=1))
    assert len(np.unique(codes)) > 4  # not stuck on one code


def _loop_codes(codes):
    """The error codes' closed loop by the definition: the sample-at-a-time decoder, then the codes
    of the decoded signal and of each prediction (the sample less its error)."""
    levels = mu_law_decode(codes, Q).astype(np.float64) / PRED["gain"]
    y = P.synthesise_reference(levels, PRED["order"], PRED["window"], PRED["hop"])
    return codes, mu_law_encode(y, Q), mu_law_encode(y - levels, Q)


def test_generate_runs_a_format_7_model_on_the_reference_and_decodes_its_loop():
    m = _loop_model(seed=5, scale=2.0)
    y = fastdrum.generate(m, 3, duration=0.0125, seed=4, temperature=0.0, backend="numpy")
    assert y.shape == (3, 200) and np.isfinite(y).all()  # 200 samples
    # The clips are the loop's decoded signal (peak-normalised where it exceeds 1).
    state = _reference.State(m._reference_weights(), 3)
    loop = P.Loop(state, PRED, 200, Q)
    codes = np.full((3, 200), silence_code(Q), np.int32)
    loop.run(codes, 1, np.zeros((3, 199)), 0.0, 0, 199)
    loop.run(codes, 1, np.zeros((3, 1)), 0.0, 199, 200)
    want = loop.decoded / np.maximum(np.abs(loop.decoded).max(axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-6)


def _kernel():
    from fastdrum import _backends

    if "c" not in _backends.available():
        pytest.skip("the compiled kernel is not built")
    from fastdrum._ext import _wavenet

    return _wavenet


@pytest.mark.parametrize(
    "pred",
    [
        PRED,
        dict(order=40, window=64, hop=32, gain=2.0),  # order > hop: predicted from a part-fit past
        dict(order=63, window=64, hop=64, gain=0.5),  # order next to the window
    ],
)
@pytest.mark.parametrize(("batch", "threads"), [(1, 1), (5, 2)])
def test_the_kernel_runs_the_loop_as_the_reference_does(pred, batch, threads):
    """Teacher-forced on the same codes (a primer as long as the clip), the kernel's logits are the
    reference Loop's (float32 rounding); the run is split across calls and threads."""
    m = random_model(
        seed=2, predictor=pred, loop=True, quantization_channels=Q, scale=2.0, voices=["a", "b"]
    )
    cond = np.stack([m.conditioning("a" if i % 2 else "b") for i in range(batch)])
    T = 301
    x = np.stack([ringing(T, seed=i) * (0.3 + 0.1 * i) for i in range(batch)])
    codes = np.stack(
        [
            P.loop_inputs(r, pred["order"], pred["window"], pred["hop"], pred["gain"], Q)[0]
            for r in x
        ]
    )
    codes = codes.astype(np.int32)
    want = np.zeros((batch, T - 1, Q), np.float32)
    ref = P.Loop(_reference.State(m._reference_weights(), batch, cond=cond), pred, T, Q)
    ref.run(codes.copy(), T, np.zeros((batch, T - 1)), 1.0, 0, T - 1, logits_out=want)
    got = np.zeros_like(want)
    k = _kernel().State(m, batch, threads, cond)
    for a, b in ((0, 97), (97, 250), (250, T - 1)):
        part = np.zeros((batch, b - a, Q), np.float32)
        k.run(codes.copy(), T, np.zeros((batch, b - a)), 1.0, a, b, logits_out=part)
        got[:, a:b] = part
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.abs(want).max() > 1.0  # logits that say something
    with pytest.raises(GenerationError, match="format-7 State is at step 300"):
        k.run(codes, T, np.zeros((batch, 1)), 1.0, 0, 1)


def test_the_kernel_draws_the_references_clips():
    """Free-running, the kernel and the reference draw the same clips (their logits differ by float32
    rounding, so a draw at a boundary may differ: at most one clip in eight), with and without
    negative-voice guidance."""
    _kernel()
    m = random_model(
        seed=5, predictor=PRED, loop=True, quantization_channels=Q, scale=2.0, voices=["a", "b"]
    )
    for kw in (dict(voice="a"), dict(voice="a", negative_voice="b", guidance=1.5)):
        c = fastdrum.generate(m, 8, duration=0.03, seed=3, backend="c", **kw)
        r = fastdrum.generate(m, 8, duration=0.03, seed=3, backend="numpy", **kw)
        assert (np.abs(c - r).max(axis=1) < 1e-6).sum() >= 7
        assert np.std(c) > 1e-3


def test_a_format_7_model_round_trips_and_keeps_its_format(tmp_path):
    m = _loop_model()
    assert m.format_version == 7 and m.loop and m.weights["pred_w"].shape == (Q, 8)
    assert m.weights["sig_w"].shape == (Q, 8)
    m.save(tmp_path / "m.npz")
    back = fastdrum.load_model(tmp_path / "m.npz")
    assert back.format_version == 7 and back.loop and back.predictor == PRED
    for k in ("sig_w", "pred_w"):
        np.testing.assert_array_equal(back.weights[k], m.weights[k])
    filtered = m.with_output_filter([1.0, 0.5])
    assert filtered.format_version == 7 and filtered.with_output_filter(None).format_version == 7
    plain = random_model(seed=0, predictor=PRED, quantization_channels=Q)
    assert plain.format_version == 6 and not plain.loop


def _save(tmp_path, arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.pop("pred_w"), r"'pred_w': missing \(required in format 7\)"),
        (lambda a: a.pop("sig_w"), r"'sig_w': missing \(required in format 7\)"),
        (lambda a: a.update(sig_w=np.zeros((Q + 1, 8), np.float32)), r"'sig_w'.*shape must be"),
        (lambda a: a.update(pred_w=np.zeros((Q, 7), np.float32)), r"shape must be \(32, 8\)"),
        (lambda a: a.update(pred_w=np.zeros((Q, 8), np.float64)), "dtype must be float32"),
        (lambda a: a.update(pred_w=np.full((Q, 8), np.nan, np.float32)), "pred_w"),
        (lambda a: a.update(format_version=np.array(6)), "sig_w': needs format 7"),
        (
            lambda a: [a.update(format_version=np.array(6)), a.pop("sig_w")],
            "pred_w': needs format 7",
        ),
    ],
)
def test_bad_format_7_files_are_refused(tmp_path, change, match):
    arrays = _arrays(_loop_model())
    change(arrays)
    with pytest.raises(ModelFormatError, match=match):
        fastdrum.load_model(_save(tmp_path, arrays))


def test_format_7_needs_a_predictor(tmp_path):
    arrays = _arrays(_loop_model())
    arrays["meta"] = np.array('{"clip_duration": 0.05}')
    with pytest.raises(ModelFormatError, match="predictor is required in format 7"):
        fastdrum.load_model(_save(tmp_path, arrays))


def _ringing_clips(n=1200, sr=8000):
    from training import data as data_mod

    return [
        data_mod.Clip(audio=ringing(n - 40 * i, sr, seed=i).astype(np.float32), entry={})
        for i in range(3)
    ]


def _loop_set(clips, val=(), **kw):
    from training.batches import TrainingSet

    return TrainingSet(
        [clips],
        [list(val)],
        [1200],
        crop=kw.pop("crop", 0),
        receptive_field=16,
        quantization_channels=256,
        preemphasis=0.5,
        predictor=PRED,
        predictor_loop=True,
        **kw,
    )


def test_a_training_batch_feeds_the_signal_and_the_next_prediction():
    """Each row: targets the error codes, inputs[..., 0] the same codes, inputs[..., 1] the decoded
    signal's codes at t and inputs[..., 2] the prediction's codes of t + 1, of the clip as training
    prepares it."""
    from training import data as data_mod
    from training.batches import preemphasize

    clips = _ringing_clips()
    ts = _loop_set(clips, crop=400)
    want = [
        P.loop_inputs(preemphasize(data_mod.fit(c.audio, 1200, 0.95)[None], 0.5)[0], 8, 64, 32, 1.0)
        for c in clips
    ]
    b = ts.batch(np.random.default_rng(0), 8, onset_share=0.5)
    assert b.inputs.shape == (8, 400, 3) and b.codes.shape == (8, 400)
    for row, inputs, start in zip(b.codes, b.inputs, b.starts):
        ((e, s, p),) = [w for w in want if np.array_equal(row, w[0][start : start + 400])]
        np.testing.assert_array_equal(inputs[:, 0], row)
        np.testing.assert_array_equal(inputs[:, 1], s[start : start + 400])
        tail = p[start + 1 : start + 401]
        np.testing.assert_array_equal(inputs[: len(tail), 2], tail)
    assert (b.starts > 0).any() and (b.starts == 0).any()
    with pytest.raises(ValueError, match="predictor_loop needs a predictor and no validation"):
        _loop_set(clips, val=clips[:1])


@pytest.mark.parametrize("option", [dict(input_drift=0.05), dict(input_noise=2.0)])
def test_drift_and_noise_move_the_errors_code_only(option):
    ts = _loop_set(_ringing_clips(), crop=400, sample_rate=8000)
    plain = ts.batch(np.random.default_rng(1), 4)
    moved = ts.batch(np.random.default_rng(1), 4, **option)
    np.testing.assert_array_equal(moved.codes, plain.codes)
    np.testing.assert_array_equal(moved.inputs[..., 1:], plain.inputs[..., 1:])
    assert (moved.inputs[..., 0] != plain.inputs[..., 0]).mean() > 0.3


def test_the_keras_net_fed_the_prediction_is_the_exported_format_7_model():
    pytest.importorskip("tensorflow")
    from training.network import WaveNet, to_fastdrum_model

    cfg = dict(
        quantization_channels=Q,
        residual_channels=4,
        dilation_channels=4,
        skip_channels=8,
        dilations=[1, 2, 4],
    )
    net, plain = WaveNet(cfg, prediction_input=True), WaveNet(cfg)
    rng = np.random.default_rng(3)
    inputs = rng.integers(0, Q, (2, 30, 3)).astype(np.int32)
    w = {
        k: rng.standard_normal(v.shape).astype(np.float32)
        for k, v in plain.format1_weights().items()
    }
    plain.set_weights_from(w)
    net.set_weights_from(dict(w, **net.conditioning_weights()))  # its new tables: zeros
    np.testing.assert_array_equal(net(inputs).numpy(), plain(inputs[..., 0]).numpy())
    tables = {k: rng.standard_normal((Q, 4)).astype(np.float32) for k in ("sig_w", "pred_w")}
    net.set_weights_from(dict(w, **tables))
    model = to_fastdrum_model(net, sample_rate=8000, meta=dict(predictor=PRED))
    assert model.format_version == 7
    keras_logits = net(inputs).numpy()
    for b in range(2):
        got = model.forward(inputs[b, :, 0], signal=inputs[b, :, 1], predictions=inputs[b, :, 2])
        np.testing.assert_allclose(got, keras_logits[b], rtol=1e-4, atol=1e-4)


def test_predictor_loop_needs_a_predictor():
    from training.errors import ConfigError
    from training.train import _check_args, build_parser

    args = build_parser().parse_args(
        ["--voices", "kick", "--crop", "64", "--out", "m.npz", "--predictor-loop"]
    )
    with pytest.raises(ConfigError, match="--predictor-loop needs --predictor-order"):
        _check_args(args)


@pytest.mark.slow
def test_a_tiny_run_with_the_predictor_in_the_loop_exports_format_7(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("soundfile")
    from test_training_voices import tiny_conditioned_argv, write_two_voice_kits

    from training.train import main

    out = tmp_path / "loop.npz"
    argv = tiny_conditioned_argv(
        write_two_voice_kits(tmp_path), out, tmp_path / "run", steps=4, every=2
    )
    argv += ["--val-fraction", "0", "--snapshot-every", "2"]
    argv += ["--predictor-order", "8", "--predictor-window", "64", "--predictor-hop", "32"]
    assert main(argv + ["--predictor-loop"]) == 0
    model = fastdrum.load_model(out)
    assert model.format_version == 7 and model.loop and model.predictor["order"] == 8
    y = fastdrum.generate(model, 2, voice="snare", seed=0, duration=0.02)
    assert y.shape == (2, 160) and np.isfinite(y).all()
    from training.average import averaged_model

    averaged = averaged_model(model, tmp_path / "run", 2)
    assert averaged.format_version == 7
    for k in ("sig_w", "pred_w"):
        assert averaged.weights[k].shape == model.weights[k].shape


def test_info_and_the_model_card_say_the_predictor_is_in_the_loop(tmp_path, capsys):
    import json

    from fastdrum.cli import main
    from training.model_card import _finish_rows

    path = tmp_path / "p.npz"
    _loop_model().save(path)
    assert main(["info", str(path)]) == 0
    assert "inside the sampling loop, the signal and the prediction fed" in capsys.readouterr().out
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["predictor_in_loop"] is True and info["format_version"] == 7
    assert any("predictor in the loop | format 7" in r for r in _finish_rows(_loop_model()))
    assert not any("in the loop" in r for r in _finish_rows(random_model(seed=0, predictor=PRED)))


def test_a_format_6_model_of_voices_given_as_an_array_gets_a_unit_filter_a_voice():
    """Training exports voices as an array; format 6's default filter took its truth value."""
    m = random_model(seed=0, predictor=PRED)
    voiced = fastdrum.Model(
        sample_rate=m.sample_rate,
        dilations=m.dilations,
        meta=dict(predictor=PRED),
        voices=np.array(["kick", "snare"]),
        voice_emb=np.zeros((2, 3), np.float32),
        cond_w=np.zeros((m.n_layers, 3, 12), np.float32),
        **{k: m.weights[k] for k in fastdrum._format.WEIGHT_KEYS},
    )
    assert voiced.format_version == 6 and voiced.output_filter.shape == (2, 1)


def test_the_state_bound_counts_the_predictors_state(monkeypatch):
    """generate()'s bound on a batch's state counts a format-7 model's predictor (two windows of
    samples and the coefficients a row), not the ring buffers alone."""
    from fastdrum import _generate
    from fastdrum.errors import LimitExceededError

    plain, looped = random_model(seed=0, predictor=PRED), _loop_model()
    rings = sum(plain.dilations) * plain.residual_channels * 4  # bytes a row
    monkeypatch.setattr(_generate, "MAX_STATE_BYTES", 4 * rings + 10)
    assert fastdrum.generate(plain, 4, duration=0.01, seed=0).shape == (4, 160)
    with pytest.raises(LimitExceededError, match="a batch of 4 clips needs"):
        fastdrum.generate(looped, 4, duration=0.01, seed=0)
    monkeypatch.setattr(_generate, "MAX_STATE_BYTES", 4 * (rings + (2 * 64 + 9) * 8))
    assert fastdrum.generate(looped, 4, duration=0.01, seed=0).shape == (4, 160)


def test_log_prob_of_a_format_7_model_feeds_the_loop_of_its_codes():
    """log_prob(codes=True) of a format-7 model scores each error code with the network fed the
    closed loop's decoded samples and next predictions (loop_inputs of the clip the codes are of)."""
    from scipy.special import log_softmax

    m = _loop_model(seed=3, scale=2.0)
    x = ringing(400, seed=2)
    errors, signal, preds = P.loop_inputs(x, 8, 64, 32, 1.0, Q)
    next_preds = np.append(preds[1:], silence_code(Q))
    logits = m.forward(errors, signal=signal, predictions=next_preds, dtype=np.float64)
    want = float(log_softmax(logits[:-1], axis=1)[np.arange(399), errors[1:]].sum())
    assert m.log_prob(errors, codes=True) == pytest.approx(want, rel=1e-9)
    with pytest.raises(GenerationError, match="scores codes"):
        m.log_prob(x)
