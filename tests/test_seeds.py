"""training.seeds: among runs of one recipe on different training seeds, the least short by its clips."""

import pytest
from test_tune import PASSING

import fastdrum
import training.evaluate
import training.seeds
from training.errors import ConfigError
from training.seeds import check_one_recipe, choose_seed, judge_seeds, main, seed_chosen_model

TINY = "tests/data/tiny_drums.npz"


def _run_file(tmp_path, seed, **config):
    """TINY as the file of a run of training seed `seed` (one recipe: steps 100, crop 64)."""
    model = fastdrum.load_model(TINY)
    cfg = dict(steps=100, crop=64, seed=seed, out=f"runs/x-seed{seed}.npz")
    cfg.update(run_dir=f"runs/x-seed{seed}", resume=seed == 1, **config)
    model.meta = dict(model.meta, config=cfg)
    path = tmp_path / f"x-seed{seed}.npz"
    model.save(path)
    return str(path)


def _judge_by_seed(mel, seen):
    """A judge whose log-mel distance is ``mel[training seed]`` dB beyond the real kits'."""

    def judge(m, voice):
        seen.append((m.meta["config"]["seed"], voice))
        return dict(PASSING, mel_db=PASSING["mel_db_real"] + mel[m.meta["config"]["seed"]])

    return judge


def test_each_seed_is_judged_per_voice_and_the_least_short_wins_ties_the_first(tmp_path):
    models = [fastdrum.load_model(_run_file(tmp_path, s)) for s in (0, 1, 2)]
    seen = []
    rows = judge_seeds(models, _judge_by_seed({0: 3.0, 1: 0.5, 2: 1.25}, seen))
    voices = models[0].voices
    assert seen == [(s, v) for s in (0, 1, 2) for v in voices]
    assert [r["seed"] for r in rows] == [0, 1, 2]
    assert [r["shortfall"] for r in rows] == pytest.approx(
        [3.0 * len(voices), 0.5 * len(voices), 1.25 * len(voices)]
    )
    assert rows[1]["voices"] == {v: pytest.approx(0.5) for v in voices}
    assert choose_seed(rows) == 1
    tied = [dict(seed=s, shortfall=x) for s, x in ((4, 1.0), (3, 0.5), (5, 0.5))]
    assert choose_seed(tied) == 1  # the first of the tie, whatever its seed
    # a tie in shortfall (passing files, most often) goes to the larger margin, then the first
    assert rows[0]["margin"] == pytest.approx(-3.0) and rows[1]["margin"] == pytest.approx(-0.5)
    tied = [dict(seed=s, shortfall=0.0, margin=m) for s, m in ((0, 0.1), (1, 0.4), (2, 0.4))]
    assert choose_seed(tied) == 1
    assert (
        choose_seed(
            [dict(seed=0, shortfall=0.5, margin=-0.1), dict(seed=1, shortfall=0.0, margin=0.0)]
        )
        == 1
    )


def test_the_record_names_every_seed_and_the_choice(tmp_path):
    model = fastdrum.load_model(_run_file(tmp_path, 2))
    rows = [dict(seed=s, shortfall=x, margin=-x) for s, x in ((0, 3.5801), (1, 1.0), (2, 0.5))]
    out = seed_chosen_model(model, rows, 2, n=100, seed=5)
    assert out.meta["seed_choice"] == dict(
        n=100,
        seed=5,
        seeds=[0, 1, 2],
        chosen=2,
        shortfall={"0": 3.58, "1": 1.0, "2": 0.5},
        margin={"0": -3.58, "1": -1.0, "2": -0.5},
    )
    assert out.meta["config"]["seed"] == 2


def test_only_runs_of_one_recipe_are_compared(tmp_path):
    paths = [_run_file(tmp_path, s) for s in (0, 1)]  # differ in seed, out, run_dir, resume only
    assert check_one_recipe([fastdrum.load_model(p) for p in paths], paths) == [0, 1]
    (tmp_path / "b").mkdir()
    other = _run_file(tmp_path / "b", 2, steps=200)
    with pytest.raises(
        ConfigError,
        match=r"x-seed2.npz: not .*x-seed0.npz's recipe: training option steps 200 against 100",
    ):
        check_one_recipe([fastdrum.load_model(p) for p in paths + [other]], paths + [other])
    twice = [paths[0], paths[0]]
    with pytest.raises(ConfigError, match=r"seeds \[0, 0\]: a seed is given twice"):
        check_one_recipe([fastdrum.load_model(p) for p in twice], twice)
    with pytest.raises(ConfigError, match="tiny_drums.npz: no training config"):
        check_one_recipe([fastdrum.load_model(TINY)] * 2, [TINY] * 2)


def test_cli_writes_the_chosen_file_once_and_fails_in_one_line(tmp_path, monkeypatch, capsys):
    paths = [_run_file(tmp_path, s) for s in (0, 1, 2)]
    # the noise class of the classifier drawn with the clips' seed, as training.evaluate draws it
    monkeypatch.setattr(training.evaluate, "RealClips", lambda *a, seed, **k: f"real clips {seed}")

    def judge_with(real, n, seed):
        assert (real, n, seed) == ("real clips 7", 5, 7)
        return _judge_by_seed({0: 2.0, 1: 3.0, 2: 0.25}, [])

    monkeypatch.setattr(training.seeds, "_judge", judge_with)
    out = tmp_path / "chosen.npz"
    assert main(paths + ["-n", "5", "--seed", "7", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"| {paths[2]} | 2 | " in printed and f"{out}: training seed 2 ({paths[2]})" in printed
    chosen = fastdrum.load_model(out)
    assert chosen.meta["seed_choice"]["chosen"] == 2 and chosen.meta["config"]["seed"] == 2
    for k, w in fastdrum.load_model(paths[2]).weights.items():
        assert (chosen.weights[k] == w).all()  # the candidate's weights, unchanged
    before = out.read_bytes()
    monkeypatch.setattr(training.seeds, "_judge", None)  # refused before any judging
    assert main(paths + ["-n", "5", "-o", str(out)]) == 2  # exists, no --overwrite
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("python -m training.seeds: error:") and "exists" in err[-1]
    assert out.read_bytes() == before
    assert main([paths[0], TINY, "-n", "5", "-o", str(tmp_path / "y.npz")]) == 2
    assert "no training config" in capsys.readouterr().err
    assert not (tmp_path / "y.npz").exists()
    for bad in ([paths[0]], ["-n", "1"] + paths):
        with pytest.raises(SystemExit) as e:
            main(bad + ["-o", str(tmp_path / "z.npz")])
        assert e.value.code == 2
