"""The report writer on a small synthetic benchmark JSON: derived ratios, goals, files."""

import json

from . import report
from .test_generate import throughput

FLOPS, RATE, SGEMM = 466_944, 16_000, 100.0


def _bench(name, group, stats, rate=RATE, **info):
    median, best = stats
    per_round = info["batch"] * info["steps_per_round"]
    for label, seconds in (("", median), ("_best", best)):
        info.update(throughput(per_round, seconds, FLOPS, rate, SGEMM, label))
    info.update(sample_rate=rate, flops_per_sample=FLOPS, layers=20, receptive_field=2048)
    return {
        "name": name,
        "group": group,
        "stats": {"min": best, "median": median, "rounds": 5},
        "extra_info": info,
    }


def _data():
    benches = []
    for config, c_b1 in (("standard", 0.004), ("standard-f16", 0.0019)):
        for batch, numpy_s, c_s in ((1, 0.1, c_b1), (32, 0.2, 0.1)):
            for backend, seconds in (("numpy", numpy_s), ("c", c_s)):
                b = _bench(
                    f"test_generate[{config}-b{batch}-t1-{backend}]",
                    f"generate {config} batch={batch} threads=1",
                    (seconds, seconds * 0.9),
                    config=config,
                    backend=backend,
                    batch=batch,
                    threads=1,
                    steps_per_round=256,
                )
                # CPU time per round: c 0.01 s against numpy 0.1 s at batch 1 (10x).
                b["extra_info"]["samples_per_cpu_s"] = (
                    batch * 256 / (0.1 if backend == "numpy" else 0.01)
                )
                benches.append(b)
    for layers, seconds in ((10, 0.01), (20, 0.02)):
        b = _bench(
            f"test_layers[c-{layers}]",
            "scaling layers: c batch=1 threads=1",
            (seconds, seconds),
            config=f"layers={layers}",
            backend="c",
            batch=1,
            threads=1,
            steps_per_round=1024,
        )
        b["extra_info"]["layers"] = layers
        benches.append(b)
    benches.append(
        {
            "name": "test_weight_stream",
            "group": "machine",
            "extra_info": {"weights": 233_472, "passes_per_s": 100_000.0},
            "stats": {"min": 1e-5, "median": 1e-5, "rounds": 50},
        }
    )
    sgemm_seconds = 2 * 512**3 / (SGEMM * 1e9)
    benches.append(
        {
            "name": "test_sgemm",
            "group": "machine",
            "extra_info": {"gflops": SGEMM},
            "stats": {"min": sgemm_seconds, "median": sgemm_seconds, "rounds": 30},
        }
    )
    return {
        "benchmarks": benches,
        "datetime": "2026-01-01T00:00:00",
        "commit_info": {"id": "abc"},
        "machine_info": {
            "python_version": "3.11",
            "fastdrum": {
                "cpu": {"model_name": "Test CPU"},
                "logical_cpus": 2,
                "usable_cpus": 2,
                "skipped": ["test_generate[standard-b1-t1-tf]: no TensorFlow"],
            },
        },
    }


def test_report_files(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(_data()))
    assert report.main([str(path), "--no-run"]) == 0
    md = (tmp_path / "run.md").read_text()
    # c vs numpy at batch 1: 0.1 s against 0.004 s a round of the same work.
    assert "| c vs numpy, batch 1 | 50x | 25.0x (25.0x) | 10.0x | no |" in md
    # 0.1 s against 0.0019 s: 52.6x, met
    assert (
        "| c vs numpy, batch 1, float16-exact weights | 50x | 52.6x (52.6x) | 10.0x | yes |" in md
    )
    sps_b1 = 256 / 0.004
    assert f"| c samples/s, batch 1 | 64,000 | {sps_b1:,.0f} (" in md
    frac = 32 * 256 / 0.1 * FLOPS / 1e9 / SGEMM
    assert f"= {frac:.0%} (" in md
    assert "Test CPU" in md and "no TensorFlow" in md
    assert "| 20 | 2048 |" in md  # the scaling table
    # numpy 2,560/s at batch 1; c 64,000/s = 64% of 100,000 passes/s; 50x = 128,000/s = 1.28x it
    assert (
        "ran 100,000 passes/s (best round) = 39.1x numpy's batch-1 samples/s. A batch-1 step reads "
        "every weight once: the kernel's 64,000 samples/s are 64% of that pass rate, and 50x numpy "
        "(128,000/s) would be 1.28x it."
    ) in md
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_speed_goals_at_44100_judge_every_model_at_that_rate(tmp_path):
    def markdown(data):
        path = tmp_path / "run.json"
        path.write_text(json.dumps(data))
        return report.render_markdown(*report.load(path))

    data = _data()
    md16 = markdown(data)
    assert "Speed goals at 44,100 Hz" not in md16  # no model at 44.1 kHz in the run
    for batch, seconds in ((1, 0.004), (32, 0.1)):
        data["benchmarks"].append(
            _bench(
                f"test_generate[recipe-44k-b{batch}-t1-c]",
                f"generate recipe-44k batch={batch} threads=1",
                (seconds, seconds * 0.8),
                rate=44100,
                config="recipe-44k",
                backend="c",
                batch=batch,
                threads=1,
                steps_per_round=256,
            )
        )
    md = markdown(data)
    # 256 samples in 0.004 s = 64,000/s = 1.45x real time at 44.1 kHz: short of 2x (88,200/s).
    assert (
        "| recipe-44k: c samples/s, batch 1 | 88,200 (2x real time) | 64,000 (80,000) = 1.45x | – | no |"
        in md
    )
    frac = 32 * 256 / 0.1 * FLOPS / 1e9 / SGEMM
    assert (
        f"| recipe-44k: c at batch 32 as a fraction of sgemm | 60% | {frac * SGEMM:.1f} GFLOP/s = "
        f"{frac:.0%} ({frac / 0.8:.0%}) | – | {'yes' if frac >= 0.6 else 'no'} |"
    ) in md
