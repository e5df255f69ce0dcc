"""training.window: a run's averaging window chosen by the shortfall of its generated clips."""

import numpy as np
import pytest
from test_tune import PASSING

import fastdrum
import training.evaluate
import training.window
from training.average import averaged_model
from training.window import choose_window, judge_windows, main, windowed_model

TINY = "tests/data/tiny_drums.npz"
STEPS = (250, 500, 750, 1000)


def _run_dir(tmp_path, model):
    """A run dir whose snapshot at step s is `model`'s weights plus s / 100,000 everywhere."""
    snaps = tmp_path / "run" / "snapshots"
    snaps.mkdir(parents=True)
    for s in STEPS:
        np.savez(
            snaps / f"step-{s:06d}.npz", **{k: v + s / 100_000 for k, v in model.weights.items()}
        )
    return tmp_path / "run"


def _judge_towards(model, offset, seen):
    """A judge whose log-mel distance grows with the candidate's mean offset from `offset` (1 dB of
    shortfall per 0.001 of it) on the voice's ``cond_w``; it records what it was given."""

    def judge(m, voice):
        seen.append((m.float16_exact, voice))
        off = float(np.mean(m.weights["cond_w"] - model.weights["cond_w"]))
        return dict(PASSING, mel_db=PASSING["mel_db_real"] + abs(off - offset) * 1000)

    return judge


def test_each_window_is_judged_rounded_per_voice_and_the_least_shortfall_wins(tmp_path):
    model = fastdrum.load_model(TINY)
    run = _run_dir(tmp_path, model)
    seen = []
    # the mean of steps 750 and 1000 is offset 0.00875: that window passes, the others fall short
    rows = judge_windows(model, run, [250, 500, 750, 1000], _judge_towards(model, 0.00875, seen))
    assert [(r["first"], r["last"], r["snapshots"]) for r in rows] == [
        (250, 1000, 4),
        (500, 1000, 3),
        (750, 1000, 2),
        (1000, 1000, 1),
    ]
    nv = len(model.voices)
    assert seen == [(True, v) for _ in STEPS for v in model.voices]
    # per voice: |0.00625 - 0.00875| * 1000 = 2.5 dB beyond the real kits', summed over the voices
    assert rows[0]["shortfall"] == pytest.approx(2.5 * nv, abs=0.02 * nv)
    assert rows[0]["voices"] == {v: pytest.approx(2.5, abs=0.02) for v in model.voices}
    assert rows[2]["shortfall"] == pytest.approx(0, abs=0.02 * nv)
    assert choose_window(rows)["first"] == 750


def test_ties_go_to_the_models_own_window_then_to_the_earlier():
    rows = [dict(first=f, shortfall=s) for f, s in ((250, 1.0), (500, 0.5), (750, 0.5), (1000, 2))]
    assert choose_window(rows)["first"] == 500
    assert choose_window(rows, own_first=750)["first"] == 750
    assert choose_window(rows, own_first=250)["first"] == 500  # the own window is not least


def test_windowed_model_is_the_rounded_mean_and_drops_stale_tuning_records(tmp_path):
    model = fastdrum.load_model(TINY)
    run = _run_dir(tmp_path, model)
    v = model.voices[0]
    model.meta = dict(
        model.meta,
        weights_averaged={"first": 500, "last": 1000, "snapshots": 3},
        temperature_tuning={"n": 40},
        guidance_tuning={"n": 40},
        voices={v: {"temperature": 0.9, "epsilon": 0.005}},
    )
    rows = [dict(first=500, shortfall=1.0), dict(first=750, shortfall=0.25)]
    out = windowed_model(model, run, rows, rows[1], n=40, seed=1)
    want = averaged_model(model, run, 750).round_weights()
    for k, w in want.weights.items():
        np.testing.assert_array_equal(out.weights[k], w)
    assert out.float16_exact
    assert out.meta["weights_averaged"] == {"first": 750, "last": 1000, "snapshots": 2}
    assert "temperature_tuning" not in out.meta and "guidance_tuning" not in out.meta
    assert out.meta["voices"][v] == {"temperature": 0.9, "epsilon": 0.005}
    assert out.meta["window_choice"] == dict(
        n=40, seed=1, own_first=500, chosen_first=750, shortfall={"500": 1.0, "750": 0.25}
    )
    # the model's own window chosen: its tuning records still judge these weights
    kept = windowed_model(model, run, rows, rows[0], n=40, seed=1)
    assert kept.meta["temperature_tuning"] == {"n": 40}
    assert kept.meta["window_choice"]["chosen_first"] == 500


def test_cli_writes_the_chosen_window_once_and_fails_in_one_line(tmp_path, monkeypatch, capsys):
    model = fastdrum.load_model(TINY)
    run = _run_dir(tmp_path, model)
    monkeypatch.setattr(training.evaluate, "RealClips", lambda *a, **k: "real clips")

    def judge_with(real, n, seed):
        assert (real, n, seed) == ("real clips", 5, 1)
        return _judge_towards(model, 0.01, [])

    monkeypatch.setattr(training.window, "_judge", judge_with)
    out = tmp_path / "chosen.npz"
    args = [TINY, "--run-dir", str(run), "-n", "5", "-o", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert (
        "| 1000..1000 | 1 | 0.00 |" in printed
        and "window 1000..1000 (not the model's own" in printed
    )
    chosen = fastdrum.load_model(out)
    assert chosen.meta["window_choice"]["chosen_first"] == 1000
    assert sorted(chosen.meta["window_choice"]["shortfall"]) == ["1000", "250", "500", "750"]
    before = out.read_bytes()
    monkeypatch.setattr(training.window, "_judge", None)  # refused before any judging
    assert main(args + ["--firsts", "250,500"]) == 2  # exists, no --overwrite
    monkeypatch.setattr(training.window, "_judge", judge_with)
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("python -m training.window: error:")
    assert "exists" in err.splitlines()[-1] and out.read_bytes() == before
    assert main(args + ["--firsts", "250,500", "--overwrite"]) == 0
    assert fastdrum.load_model(out).meta["window_choice"]["chosen_first"] == 500
    assert main(args[:2] + [str(tmp_path / "none"), "-n", "5", "-o", str(tmp_path / "x.npz")]) == 2
    assert "no snapshots" in capsys.readouterr().err
    for bad in (["--firsts", "a,b"], ["--firsts", "-5"], ["-n", "1"]):
        with pytest.raises(SystemExit) as e:
            main(args + bad)
        assert e.value.code == 2
