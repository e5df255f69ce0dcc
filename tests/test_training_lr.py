"""The learning-rate schedule of training/train.py (``--lr-decay cosine``): its definition, that the
optimiser follows it, and that runs from before it still resume. Needs the ``train`` extra."""

import math
import types

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
tf = pytest.importorskip("tensorflow")

from test_training import TINY, as_older_run, run_main, write_clips  # noqa: E402

from training.average import read_snapshot  # noqa: E402
from training.train import DEFAULT_LR_FINAL, learning_rate_at, main  # noqa: E402


def _args(steps, decay="cosine", final=None, lr=1e-3):
    return types.SimpleNamespace(learning_rate=lr, lr_decay=decay, lr_final=final, steps=steps)


def test_constant_without_decay():
    a = _args(100, decay=None)
    assert [learning_rate_at(s, a) for s in (0, 50, 99)] == [1e-3] * 3


def test_cosine_by_definition():
    a = _args(101, final=0.1)
    assert learning_rate_at(0, a) == pytest.approx(1e-3)
    assert learning_rate_at(100, a) == pytest.approx(1e-4)  # the last step: --lr-final of the rate
    assert learning_rate_at(50, a) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half way: the mean
    # a quarter of the way: cos(pi / 4)
    assert learning_rate_at(25, a) == pytest.approx(1e-3 * (0.1 + 0.9 * (1 + math.sqrt(0.5)) / 2))
    rates = [learning_rate_at(s, a) for s in range(101)]
    assert all(x > y for x, y in zip(rates, rates[1:]))  # falls at every step
    assert learning_rate_at(100, _args(101)) == pytest.approx(1e-3 * DEFAULT_LR_FINAL)
    assert learning_rate_at(500, a) == pytest.approx(
        1e-4
    )  # past the horizon (--steps cut on resume)


def _argv(tmp_path, run="run"):
    data_dir = write_clips(tmp_path / "clips", [f"kick_{i}.wav" for i in range(3)])
    return [
        "--data", str(data_dir), "--instrument", "kick", "--out", str(tmp_path / f"{run}.npz"),
        "--steps", "3", "--run-dir", str(tmp_path / run), "--snapshot-every", "1",
        "--eval-every", "1", "--no-xla",
    ] + TINY  # fmt: skip


def _snapshots(tmp_path, run):
    return [read_snapshot(tmp_path / run / "snapshots" / f"step-{s:06d}.npz") for s in (1, 2, 3)]


def _moved(a, b):
    return any(not np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_the_optimiser_follows_the_schedule(tmp_path):
    """With --lr-final 0 the last step's rate is 0: Adam leaves every weight where it was. Without the
    decay, the same last step moves them (so the equality is the schedule's doing)."""
    assert main(_argv(tmp_path, "cos") + ["--lr-decay", "cosine", "--lr-final", "0"]) == 0
    s1, s2, s3 = _snapshots(tmp_path, "cos")
    assert _moved(s1, s2)  # step 2 at half the rate still trains
    assert not _moved(s2, s3)  # step 3 at rate 0 does not
    assert main(_argv(tmp_path, "const")) == 0
    c1, c2, c3 = _snapshots(tmp_path, "const")
    assert _moved(c2, c3)
    np.testing.assert_array_equal(s1["dil_w"], c1["dil_w"])  # step 1 is at the full rate in both


@pytest.mark.slow
def test_options_are_checked_and_old_runs_resume(tmp_path, capsys):
    argv = _argv(tmp_path)
    status, err = run_main(argv + ["--lr-final", "0.1"], capsys)
    assert status == 2 and "--lr-final needs --lr-decay" in err
    status, err = run_main(argv + ["--lr-decay", "cosine", "--lr-final", "2"], capsys)
    assert status == 2 and "--lr-final must lie in [0, 1]" in err
    assert main(argv) == 0
    as_older_run(tmp_path / "run", ("lr_decay", "lr_final"))
    assert main(argv + ["--resume", "--steps", "4"]) == 0
    status, err = run_main(argv + ["--resume", "--steps", "5", "--lr-decay", "cosine"], capsys)
    assert status == 2 and "'lr_decay'" in err  # the schedule cannot change on resume
