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
    assert row["samples_per_s"] == round(
        6 * 160 / row["seconds"]
    )  # 160 samples a clip: 0.01 s at 16 kHz
    assert row["clips_per_s"] == 6 / row["seconds"]
    assert "| 0 (in process) | 6 |" in _table([row])


def test_measure_in_plain_processes_writes_the_same_library(tmp_path):
    """The ceiling row (pN) runs the library's own shard tasks: its clips are the in-process ones."""
    import json

    import fastdrum

    path = tmp_path / "tiny.npz"
    random_model(seed=0, clip_duration=0.01).save(path)
    args = argparse.Namespace(voices=[str(path)], n=5, duration=None, shard_size=2, seed=3)
    from .library_throughput import _start

    make, close, startup = _start("pool", 1)
    try:
        result = make(str(tmp_path / "pool"), args)
    finally:
        close()
    assert result["clips"] == 5 and startup >= 0
    fastdrum.library(tmp_path / "here", [str(path)], 5, seed=3, shard_size=2, workers=0)
    with open(result["manifest"], encoding="utf-8") as f:
        pool_rows = [json.loads(line) for line in f]
    with open(tmp_path / "here" / "manifest.jsonl", encoding="utf-8") as f:
        here_rows = [json.loads(line) for line in f]
    assert [r["sha256"] for r in pool_rows] == [r["sha256"] for r in here_rows]
