"""The library throughput script, run as a correctness check on a tiny model in this process."""

import argparse

from fastdrum.testing import random_model

from .library_throughput import _table, measure


def test_measure_in_process(tmp_path):
    path = tmp_path / "tiny.npz"
    random_model(seed=0, clip_duration=0.01).save(path)
    args = argparse.Namespace(voices=[str(path)], n=6, duration=None, shard_size=4, seed=0)
    row = measure(0, args)
    assert row["workers"] == 0 and row["clips"] == 6
    assert row["samples_per_s"] == round(6 * 160 / row["seconds"])  # 160 samples a clip: 0.01 s at 16 kHz
    assert row["clips_per_s"] == 6 / row["seconds"]
    assert "| 0 (in process) | 6 |" in _table([row])
