"""Stochastic weight averaging of a run's snapshots (training/average.py) against known means."""

import numpy as np
import pytest

import fastdrum
from training.average import average_snapshots, averaged_model, main, snapshot_steps

TINY = "tests/data/tiny_drums.npz"


def _run_dir(tmp_path, steps=(250, 500, 750, 1000)):
    """A run dir whose snapshot at step s is the tiny model's weights plus s / 100,000 everywhere."""
    model = fastdrum.load_model(TINY)
    snaps = tmp_path / "run" / "snapshots"
    snaps.mkdir(parents=True)
    for s in steps:
        np.savez(
            snaps / f"step-{s:06d}.npz", **{k: v + s / 100_000 for k, v in model.weights.items()}
        )
    (snaps / "notes.txt").write_text("not a snapshot")
    return model, tmp_path / "run"


def test_mean_of_the_chosen_steps(tmp_path):
    model, run = _run_dir(tmp_path)
    assert snapshot_steps(run) == [250, 500, 750, 1000]
    arrays, steps = average_snapshots(run, 500, 750)
    assert steps == [500, 750]
    for k, v in model.weights.items():
        np.testing.assert_allclose(arrays[k], v + 0.00625, rtol=0, atol=1e-6)
        assert arrays[k].dtype == np.float32
    _, steps = average_snapshots(run, 600)
    assert steps == [750, 1000]


def test_averaged_model_keeps_the_frame_and_records_the_steps(tmp_path):
    model, run = _run_dir(tmp_path)
    m = averaged_model(model, run, 250)
    assert m.meta["weights_averaged"] == {"first": 250, "last": 1000, "snapshots": 4}
    assert m.meta["steps"] == 1000
    assert list(m.voices) == list(model.voices) and m.preemphasis == model.preemphasis
    np.testing.assert_allclose(m.weights["cond_w"], model.weights["cond_w"] + 0.00625, atol=1e-6)
    np.testing.assert_array_equal(m.primers, model.primers)


def test_bad_snapshots_are_named(tmp_path):
    model, run = _run_dir(tmp_path)
    with pytest.raises(fastdrum.ModelFormatError, match=r"steps 2000\.\.end"):
        average_snapshots(run, 2000)
    bad = dict(model.weights)
    bad["cond_w"] = bad["cond_w"][:, :3]
    np.savez(run / "snapshots" / "step-001250.npz", **bad)
    with pytest.raises(fastdrum.ModelFormatError, match="step-001250.npz.*differ"):
        average_snapshots(run, 250)
    (run / "snapshots" / "step-001500.npz").write_bytes(b"not a zip")
    with pytest.raises(fastdrum.ModelFormatError, match="step-001500.npz"):
        average_snapshots(run, 1400)
    with pytest.raises(fastdrum.ModelFormatError, match="no snapshots"):
        snapshot_steps(tmp_path / "nowhere")


def test_cli_writes_once_and_fails_in_one_line(tmp_path, capsys):
    _, run = _run_dir(tmp_path)
    out = tmp_path / "swa.npz"
    assert main([TINY, "--run-dir", str(run), "--first", "500", "-o", str(out)]) == 0
    assert "mean of 3 snapshots, steps 500..1000" in capsys.readouterr().out
    before = out.read_bytes()
    assert main([TINY, "--run-dir", str(run), "--first", "250", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert out.read_bytes() == before
    assert main([TINY, "--run-dir", str(run), "--first", "250", "-o", str(out), "--overwrite"]) == 0
    assert fastdrum.load_model(out).meta["weights_averaged"]["snapshots"] == 4
    assert (
        main(
            [
                TINY,
                "--run-dir",
                str(tmp_path / "none"),
                "--first",
                "1",
                "-o",
                str(tmp_path / "x.npz"),
            ]
        )
        == 2
    )
    assert "no snapshots" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_temperatures_become_the_voices_defaults(tmp_path, capsys):
    model, run = _run_dir(tmp_path)
    voice, other = model.voices[0], model.voices[1]
    out = tmp_path / "t.npz"
    args = [TINY, "--run-dir", str(run), "--first", "250", "-o", str(out)]
    assert main([*args, "--temperature", f"{voice}=0.5"]) == 0
    m = fastdrum.load_model(out)
    assert m.meta["voices"][voice]["temperature"] == 0.5
    assert "temperature" not in m.meta["voices"].get(other, {})
    np.testing.assert_array_equal(
        fastdrum.generate(m, 2, voice=voice, seed=3, duration=0.05),
        fastdrum.generate(m, 2, voice=voice, seed=3, duration=0.05, temperature=0.5),
    )
    assert not np.array_equal(
        fastdrum.generate(m, 2, voice=voice, seed=3, duration=0.05),
        fastdrum.generate(m, 2, voice=voice, seed=3, duration=0.05, temperature=1.0),
    )
    assert main([*args, "--overwrite", "--temperature", "cowbell=0.5"]) == 2
    assert "no voice 'cowbell'" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--temperature", f"{voice}=-1"]) == 2
    assert "temperature must be" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([*args, "--temperature", "kick"])
    assert exc.value.code == 2
    assert fastdrum.load_model(out).meta["voices"][voice]["temperature"] == 0.5
