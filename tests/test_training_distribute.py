"""Training under tf.distribute: MirroredStrategy over 2 logical CPU devices, MultiWorkerMirroredStrategy
over 2 local worker processes; each must train what one undistributed process trains on the same batches.

The definition is the default strategy's run: the same seed draws the same global batch at every step,
each replica takes its share of it, and the summed gradient is the batch's gradient. So the exported
weights agree with the undistributed run's to float32 rounding (sums taken in another order).
"""

import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("soundfile")
tf = pytest.importorskip("tensorflow")

from test_training import TINY, write_clips  # noqa: E402

import fastdrum  # noqa: E402
from training import train as train_mod  # noqa: E402
from training.errors import ConfigError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Steps of every run here; the resumed run stops at RESUME_AT first.
STEPS, RESUME_AT = 4, 2

#: Weights of a distributed run against the undistributed one: float32 rounding of sums taken in
#: another order (seen: 3e-8), with room for Adam, which moves a weight by about the learning rate
#: whatever its gradient's size once that gradient is well above its epsilon (1e-7).
WEIGHT_ATOL, WEIGHT_RTOL = 1e-5, 1e-4


def _argv(data_dir, out, run_dir, *extra, steps=STEPS):
    return (
        [
            "--data",
            str(data_dir),
            "--instrument",
            "kick",
            "--out",
            str(out),
            "--run-dir",
            str(run_dir),
            "--steps",
            str(steps),
            "--val-fraction",
            "0",
            "--checkpoint-every",
            "1",
            "--seed",
            "3",
        ]
        + TINY
        + ["--batch-size", "4"]
        + list(extra)
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return write_clips(tmp_path_factory.mktemp("clips"), [f"kick_{i}.wav" for i in range(4)])


@pytest.fixture(scope="module")
def undistributed(clips, tmp_path_factory):
    """The definition: the same run under the default strategy, in this process."""
    d = tmp_path_factory.mktemp("default")
    assert train_mod.main(_argv(clips, d / "m.npz", d / "run")) == 0
    return fastdrum.load_model(d / "m.npz")


def _run(argv, env=None, timeout=900):
    proc = subprocess.run(
        [sys.executable, "-m", "training.train"] + argv,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _same_training(model, definition):
    assert model.meta["steps_trained"] == STEPS
    for key, w in definition.weights.items():
        np.testing.assert_allclose(
            model.weights[key], w, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL, err_msg=key
        )
    y = fastdrum.generate(model, 2, seed=0, duration=0.01)
    assert y.shape == (2, 80) and np.isfinite(y).all()


# -- arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra, env, match",
    [
        (["--cpu-devices", "2"], {}, "--cpu-devices .* --strategy mirrored only"),
        (["--strategy", "multiworker"], {}, "needs TF_CONFIG"),
        (
            ["--strategy", "multiworker"],
            {"TF_CONFIG": '{"cluster": {}}'},
            "does not name a cluster",
        ),
        (
            ["--strategy", "multiworker"],
            {
                "TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", '
                '"index": 1}}'
            },
            "does not name a cluster",
        ),
        (
            ["--strategy", "mirrored", "--cpu-devices", "65"],
            {},
            r"--cpu-devices must lie in \[0, 64\]",
        ),
    ],
)
def test_strategy_options_are_checked(tmp_path, capsys, monkeypatch, clips, extra, env, match):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert train_mod.main(_argv(clips, tmp_path / "m.npz", tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(match, err[0]), err
    assert not (tmp_path / "run").exists() and not (tmp_path / "m.npz").exists()


def test_global_batch_must_divide_among_replicas():
    class TwoReplicas:
        num_replicas_in_sync = 2
        cluster_resolver = None

    args = train_mod.build_parser().parse_args(
        ["--out", "m.npz", "--instrument", "kick", "--batch-size", "3", "--strategy", "mirrored"]
    )
    with pytest.raises(ConfigError, match="--batch-size 3 must be a multiple of the 2 replicas"):
        train_mod._check_replicas(args, TwoReplicas())


# -- strategies against the definition ----------------------------------------------------------
@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_resumes_and_equals_default(tmp_path, clips, undistributed):
    """MirroredStrategy over 2 logical CPU devices, killed at step 2 (a run with --steps 2) and resumed."""
    run = tmp_path / "run"
    extra = ("--strategy", "mirrored", "--cpu-devices", "2")
    first = _run(_argv(clips, tmp_path / "m.npz", run, *extra, steps=RESUME_AT))
    assert "strategy mirrored: 2 replica(s) of 2 clip(s) each" in first
    assert fastdrum.load_model(tmp_path / "m.npz").meta["steps_trained"] == RESUME_AT
    second = _run(_argv(clips, tmp_path / "m.npz", run, *extra) + ["--resume"])
    assert f"at step {RESUME_AT}" in second and "resumed from checkpoint" in second
    model = fastdrum.load_model(tmp_path / "m.npz")
    _same_training(model, undistributed)
    assert (
        model.meta["trainer"]["strategy"] == "mirrored" and model.meta["trainer"]["replicas"] == 2
    )
    assert model.format_version == undistributed.format_version == 1


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.mark.slow
def test_multiworker_on_two_local_processes_equals_default(tmp_path, clips, undistributed):
    """Two workers on loopback ports: the chief alone writes the run dir and the model; the other
    worker's checkpoints go to a temporary folder that is gone at the end."""
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    out, run = tmp_path / "m.npz", tmp_path / "run"
    procs, tmps = [], []
    for index in range(2):
        tmps.append(tmp_path / f"tmp{index}")
        tmps[-1].mkdir()
        env = dict(
            os.environ,
            TMPDIR=str(tmps[-1]),
            TF_CONFIG=json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "training.train"]
                + _argv(clips, out, run, "--strategy", "multiworker"),
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        logs = [p.communicate(timeout=900)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(l[-3000:] for l in logs)
    assert "strategy multiworker: 2 replica(s) of 2 clip(s) each" in logs[0]
    assert "not the chief" in logs[1] and "exported" not in logs[1] and "exported" in logs[0]
    model = fastdrum.load_model(out)
    _same_training(model, undistributed)
    assert {n.split(".")[0] for n in os.listdir(run / "ckpt")} == {
        "checkpoint",
        f"ckpt-{STEPS - 1}",
        f"ckpt-{STEPS}",
    }
    assert [os.listdir(t) for t in tmps] == [[], []]  # the other worker's checkpoints are gone


@pytest.mark.slow
def test_mirrored_conditioned_model_is_format2_and_equals_default(tmp_path):
    """--voices under MirroredStrategy: each replica conditions its rows on their own voices."""
    import soundfile
    from test_training import write_kit

    kits = tmp_path / "kits"
    for k in range(2):
        write_kit(
            kits,
            f"kit{k}",
            [("Kick", 36, [f"k{k}a.wav", f"k{k}b.wav"]), ("Snare", 38, [f"s{k}.wav"])],
        )
    rng = np.random.default_rng(4)
    for wav in sorted(kits.glob("*/*.wav")):  # distinct sounds (near-duplicates are removed)
        soundfile.write(
            wav, rng.standard_normal(800) * np.exp(-np.arange(800) / 150.0) * 0.5, 16000
        )
    argv = [
        "--kits",
        str(kits),
        "--voices",
        "kick,snare",
        "--sample-rate",
        "8000",
        "--val-fraction",
        "0",
        "--voice-durations",
        "kick=0.05,snare=0.05",
        "--crop",
        "64",
        "--preemphasis",
        "0.85",
        "--dilations",
        "1..4x2",
        "--residual-channels",
        "4",
        "--dilation-channels",
        "4",
        "--skip-channels",
        "8",
        "--quantization-channels",
        "32",
        "--embedding-size",
        "3",
        "--batch-size",
        "4",
        "--steps",
        "3",
        "--log-every",
        "3",
        "--seed",
        "2",
    ]
    assert (
        train_mod.main(
            argv + ["--out", str(tmp_path / "d.npz"), "--run-dir", str(tmp_path / "drun")]
        )
        == 0
    )
    _run(
        argv
        + [
            "--out",
            str(tmp_path / "m.npz"),
            "--run-dir",
            str(tmp_path / "mrun"),
            "--strategy",
            "mirrored",
            "--cpu-devices",
            "2",
        ]
    )
    model, definition = (
        fastdrum.load_model(tmp_path / "m.npz"),
        fastdrum.load_model(tmp_path / "d.npz"),
    )
    assert model.format_version == definition.format_version == 2 and model.voices == (
        "kick",
        "snare",
    )
    assert sorted(model.weights) == sorted(definition.weights)
    for key, w in definition.weights.items():
        np.testing.assert_allclose(
            model.weights[key], w, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL, err_msg=key
        )
    y = fastdrum.generate(model, 2, voice="snare", seed=0, duration=0.01)
    assert y.shape == (2, 80) and np.isfinite(y).all()
