"""A run of training/train.py is a function of its data, options and seed: a second run of the same
command, resumed after a stop, ends on the weights of an unbroken one (each step's batch is drawn from
(seed, step), the checkpoint holds the optimiser's state). Shown here on a tiny network; whether a full
run of ``training/ship_models.sh`` rebuilds drums.npz bit for bit is docs/evaluation.md's question."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from test_training import TINY, write_clips  # noqa: E402

import fastdrum  # noqa: E402
from training.train import main  # noqa: E402


def _train(tmp_path, clips, name, steps, seed=3, resume=False):
    out = tmp_path / f"{name}.npz"
    argv = ["--data", str(clips), "--instrument", "kick", "--out", str(out)]
    argv += ["--run-dir", str(tmp_path / name), "--steps", str(steps), "--seed", str(seed)]
    argv += ["--val-fraction", "0", "--checkpoint-every", "3", *TINY]
    assert main(argv + ["--resume"] * resume) == 0
    return fastdrum.load_model(out).weights


@pytest.mark.slow
def test_the_same_seed_trains_the_same_weights_and_a_resume_repeats_the_run(tmp_path):
    clips = write_clips(tmp_path / "clips", [f"kick_{i}.wav" for i in range(4)])
    unbroken = _train(tmp_path, clips, "unbroken", 6)
    _train(tmp_path, clips, "resumed", 3)  # a second run, stopped at its checkpoint of step 3,
    resumed = _train(tmp_path, clips, "resumed", 6, resume=True)  # then resumed to step 6
    other_seed = _train(tmp_path, clips, "other", 6, seed=4)
    for key, w in unbroken.items():
        np.testing.assert_array_equal(resumed[key], w, err_msg=key)  # bit for bit
    assert any(not np.array_equal(other_seed[k], w) for k, w in unbroken.items())
