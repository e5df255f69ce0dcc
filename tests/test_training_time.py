"""The trainer's side of time-since-onset conditioning: features, windows' start steps, the CLI, export."""

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
tf = pytest.importorskip("tensorflow")

from test_training import as_older_run  # noqa: E402
from test_training_voices import write_two_voice_kits  # noqa: E402

import fastdrum  # noqa: E402
from fastdrum import _reference  # noqa: E402
from fastdrum.mulaw import mu_law_encode  # noqa: E402
from training import data as data_mod  # noqa: E402
from training.average import averaged_model  # noqa: E402
from training.batches import TrainingSet, preemphasize  # noqa: E402
from training.errors import TrainingError  # noqa: E402
from training.network import WaveNet, to_fastdrum_model  # noqa: E402
from training.train import main  # noqa: E402

CFG = dict(
    quantization_channels=32,
    residual_channels=4,
    dilation_channels=4,
    skip_channels=8,
    dilations=[1, 2, 4, 1, 2, 4],
)
TAU = np.array([5.0, 30.0, 200.0], np.float32)


def timed_net(block=4, seed=0):
    net = WaveNet(CFG, n_voices=2, embedding_size=3, time_tau=TAU, time_block=block)
    rng = np.random.default_rng(seed)
    for c in net.time:
        c.kernel.assign(rng.standard_normal(c.kernel.shape).astype(np.float32))
    return net


def test_new_time_projections_start_at_zero():
    net = WaveNet(CFG, n_voices=2, embedding_size=3, time_tau=TAU)
    assert all(not np.any(c.kernel.numpy()) for c in net.time)


def test_features_are_the_reference_time_bias_at_each_window_step():
    net = timed_net()
    tw = np.stack([c.kernel.numpy() for c in net.time])
    starts = np.array([0, 13, 4096])
    phi = net.time_features(starts, 20).numpy()
    for row, s in enumerate(starts):
        for i in range(20):
            np.testing.assert_allclose(
                np.einsum("k,lkd->ld", phi[row, i], tw),
                _reference.time_bias(tw, TAU, 4, s + i),
                rtol=1e-6,
                atol=1e-7,
            )


def test_export_computes_what_keras_computes_and_names_a_missing_time_w():
    net = timed_net()
    model = to_fastdrum_model(net, sample_rate=8000, voices=["kick", "snare"], preemphasis=0.5)
    assert model.time_block == 4 and np.array_equal(model.time_tau, TAU)
    codes = np.random.default_rng(3).integers(0, 32, (2, 60)).astype(np.int32)
    keras_logits = net(codes, np.array([0, 1], np.int32)).numpy()  # windows at the onset
    for row, voice in enumerate(("kick", "snare")):
        np.testing.assert_allclose(
            model.forward(codes[row], voice=voice), keras_logits[row], rtol=1e-4, atol=1e-4
        )
    # A window told it starts at step 40 computes the clip's own logits once its context is inside
    # the window (receptive field 16: steps 56..59); told it starts at 0, it does not.
    voices = np.array([0, 1], np.int32)
    late = net(codes[:, 40:], voices, np.array([40, 40], np.int32)).numpy()
    np.testing.assert_allclose(late[:, 16:], keras_logits[:, 56:], rtol=1e-5, atol=1e-5)
    wrong = net(codes[:, 40:], voices, np.array([0, 0], np.int32)).numpy()
    assert np.abs(wrong[:, 16:] - keras_logits[:, 56:]).max() > 1e-2
    other = WaveNet(CFG, n_voices=2, embedding_size=3, time_tau=TAU, time_block=4)
    with pytest.raises(TrainingError, match="lack time_w"):
        other.set_weights_from({k: v for k, v in model.weights.items() if k != "time_w"})
    other.set_weights_from(model.weights)
    np.testing.assert_array_equal(other(codes, np.array([0, 1], np.int32)).numpy(), keras_logits)


def test_a_window_gets_its_start_step():
    rng = np.random.default_rng(1)
    clips = [[data_mod.Clip(audio=rng.uniform(-0.5, 0.5, 400).astype(np.float32), entry={})]]
    ts = TrainingSet(
        clips, clips, [400], crop=64, receptive_field=16, quantization_channels=32, preemphasis=0.85
    )
    b = ts.batch(np.random.default_rng(2), 100)
    assert b.starts.dtype == np.int32 and (b.starts == 0).any() and (b.starts > 0).any()
    assert ((b.starts == 0) == (b.mask[:, 0] == 1)).all()
    audio = preemphasize(data_mod.fit(clips[0][0].audio, 400), 0.85)
    for codes, s in zip(
        b.codes, b.starts
    ):  # gain is 0 dB: the window is the clip at its start step
        np.testing.assert_array_equal(codes, mu_law_encode(audio[s : s + 64], 32))
    val = ts.validation()  # windows at the onset
    assert val.starts.tolist() == [0] and val.mask.all()


def _argv(tmp_path, kits):
    return [
        "--kits", str(kits), "--voices", "kick,snare", "--holdout-kits", "kit2",
        "--sample-rate", "8000", "--voice-durations", "kick=0.05,snare=0.05", "--crop", "64",
        "--preemphasis", "0.85", "--dilations", "1..4x2", "--residual-channels", "4",
        "--dilation-channels", "4", "--skip-channels", "8", "--quantization-channels", "32",
        "--embedding-size", "3", "--batch-size", "2", "--steps", "4", "--eval-every", "2",
        "--log-every", "2", "--snapshot-every", "2", "--run-dir", str(tmp_path / "run"), "--no-xla",
    ]  # fmt: skip


@pytest.mark.slow
def test_cli_trains_exports_and_averages_a_time_conditioned_model(tmp_path):
    argv = _argv(tmp_path, write_two_voice_kits(tmp_path)) + ["--out", str(tmp_path / "t.npz")]
    argv += ["--time-constants", "0.001,0.01", "--time-block", "8"]
    assert main(argv) == 0
    model = fastdrum.load_model(tmp_path / "t.npz")
    assert model.time_block == 8 and model.weights["time_w"].shape == (6, 2, 8)
    np.testing.assert_array_equal(model.time_tau, np.array([8.0, 80.0], np.float32))
    assert np.any(model.weights["time_w"])  # trained away from its zero start
    mean = averaged_model(model, tmp_path / "run", first=2)
    assert mean.time_block == 8 and np.array_equal(mean.time_tau, model.time_tau)
    y = fastdrum.generate(mean, 2, voice="kick", seed=0, duration=0.02)
    assert y.shape == (2, 160) and np.isfinite(y).all()


@pytest.mark.slow
def test_a_run_from_before_time_conditioning_still_resumes(tmp_path):
    argv = _argv(tmp_path, write_two_voice_kits(tmp_path)) + ["--out", str(tmp_path / "m.npz")]
    assert main(argv) == 0
    as_older_run(tmp_path / "run", ("time_constants", "time_block"))
    assert main(argv + ["--resume", "--steps", "6"]) == 0
    assert fastdrum.load_model(tmp_path / "m.npz").time_tau is None


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--time-block", "8"], "--time-block needs --time-constants"),
        (["--time-constants", "0.01,x"], "--time-constants must be"),
        (["--time-constants", "0.01,-1"], "--time-constants must be"),
        (["--time-constants", "1e-6"], "between 1 and 2\\*\\*24 samples"),
        (["--time-constants", "0.01", "--time-block", "0"], "--time-block must lie"),
    ],
)
def test_bad_time_options_are_one_line_and_exit_2(tmp_path, capsys, extra, match):
    argv = _argv(tmp_path, tmp_path / "nokits") + ["--out", str(tmp_path / "m.npz")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    import re

    assert re.search(match, err[0]), err[0]
    assert not (tmp_path / "m.npz").exists()
