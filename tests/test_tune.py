"""training.tune: per-voice default temperatures chosen by the evaluation's criteria."""

import math

import numpy as np
import pytest

import fastdrum
import training.evaluate
import training.tune
from fastdrum.testing import random_model
from training.tune import choose, confirm, main, recorded_screen, shortfall, tuned_model

PASSING = dict(
    hf_db=-40.0,
    hf_db_real=-41.0,
    lf_db=-43.0,
    lf_db_real=-45.0,
    decaying=0.95,
    quiet=0.05,
    mel_db=3.0,
    mel_db_real=4.0,
    recognised=0.80,
    recognised_real=0.80,
    copy_rate=0.0,
    duplicate_pair_rate=0.0,
    decay_time=0.2,
    decay_time_real=0.3,
    decay_time_train=0.25,
    samples=44100,
    sample_rate=44100,
)


def test_shortfall_is_zero_when_a_row_passes_and_adds_each_criterions_distance():
    assert shortfall(PASSING) == 0.0
    # 6 dB from the real median (3 dB beyond the band: 1), 70% decay (2), 1 dB too far in spectrum (1),
    # recognised 45% against 80% real (0.3 below the 75% bar: 3), 20% copies (1), 15% dup. pairs (1),
    # decay time 0.0375 s against 0.3 s real (8x where 2x is allowed: two doublings, 2).
    row = dict(
        PASSING,
        hf_db=-35.0,
        decaying=0.70,
        mel_db=5.0,
        recognised=0.45,
        copy_rate=0.20,
        duplicate_pair_rate=0.15,
        decay_time=0.0375,
    )
    assert shortfall(row) == pytest.approx(1 + 2 + 1 + 3 + 1 + 1 + 2)
    # Within the allowed factor, the decay time adds nothing.
    assert shortfall(dict(PASSING, decay_time=0.6)) == 0.0
    # Rumble: one-sided, per 3 dB beyond 3 dB above the real clips'; a row judged before the
    # criterion (no lf_db) adds nothing for it.
    assert shortfall(dict(PASSING, lf_db=-30.0)) == pytest.approx((15 - 3) / 3)  # 15 dB above
    assert shortfall(dict(PASSING, lf_db=-70.0)) == 0.0
    old_row = {k: v for k, v in PASSING.items() if k not in ("lf_db", "lf_db_real")}
    assert shortfall(dict(old_row, hf_db=-35.0)) == pytest.approx(1)
    # Level: quiet clips beyond 10%, per 10 points; a row judged before the criterion adds nothing.
    assert shortfall(dict(PASSING, quiet=0.10)) == 0.0
    assert shortfall(dict(PASSING, quiet=0.53)) == pytest.approx(4.3)
    assert shortfall({k: v for k, v in PASSING.items() if k != "quiet"}) == 0.0


def test_choose_takes_the_least_shortfall_and_on_a_tie_the_temperature_nearest_one():
    figures = {
        ("kick", 0.8, 0.0): dict(PASSING, hf_db=-47.0),  # 3 dB beyond the band: 1
        ("kick", 0.9, 0.0): dict(PASSING, hf_db=-46.0),  # 2 dB beyond: 0.667
        ("kick", 1.0, 0.0): dict(PASSING, decaying=0.8),  # 1
        ("snare", 0.8, 0.0): PASSING,
        ("snare", 0.9, 0.0): PASSING,
        ("snare", 1.0, 0.0): dict(PASSING, decaying=0.5),
    }
    grid = [(0.8, 0.0), (0.9, 0.0), (1.0, 0.0)]
    chosen, rows = choose(["kick", "snare"], grid, lambda v, t, e: figures[v, t, e])
    assert chosen == {"kick": (0.9, 0.0), "snare": (0.9, 0.0)}
    assert [(r["voice"], r["temperature"], r["epsilon"]) for r in rows] == list(figures)
    assert rows[1]["shortfall"] == pytest.approx(2 / 3)


def test_choose_prefers_on_a_tie_the_smaller_epsilon_and_takes_a_cutoff_that_passes():
    figures = {
        ("kick", 1.0, 0.0): dict(PASSING, hf_db=-20.0),  # hiss: 17 dB beyond the band
        ("kick", 1.0, 0.01): PASSING,
        ("kick", 1.0, 0.02): PASSING,
        ("snare", 1.0, 0.0): PASSING,
        ("snare", 1.0, 0.01): PASSING,
        ("snare", 1.0, 0.02): PASSING,
    }
    grid = [(1.0, 0.0), (1.0, 0.01), (1.0, 0.02)]
    chosen, _ = choose(["kick", "snare"], grid, lambda v, t, e: figures[v, t, e])
    assert chosen == {"kick": (1.0, 0.01), "snare": (1.0, 0.0)}


def test_tuned_model_records_the_temperatures_generate_then_uses():
    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    v0, v1 = model.voices[:2]
    rows = [
        dict(voice=v0, temperature=0.7, epsilon=0.0, shortfall=0.5),
        dict(voice=v1, temperature=0.7, epsilon=0.0, shortfall=0),
    ]
    grid = [(0.7, 0.0), (0.9, 0.2)]
    tuned = tuned_model(model, {v0: (0.7, 0.0), v1: (0.9, 0.2)}, grid=grid, n=4, seed=1, rows=rows)
    assert tuned.meta["voices"][v0]["temperature"] == 0.7
    assert tuned.meta["voices"][v1] == dict(
        model.meta["voices"].get(v1, {}), temperature=0.9, epsilon=0.2
    )
    assert tuned.meta["temperature_tuning"]["shortfall"] == {
        f"{v0}@0.7/0.0": 0.5,
        f"{v1}@0.7/0.0": 0,
    }
    assert tuned.meta["temperature_tuning"]["grid"] == [[0.7, 0.0], [0.9, 0.2]]
    for k, w in model.weights.items():
        np.testing.assert_array_equal(tuned.weights[k], w)
    for v, t, eps in ((v0, 0.7, 0.0), (v1, 0.9, 0.2)):
        np.testing.assert_array_equal(
            fastdrum.generate(tuned, 2, voice=v, seed=3, duration=0.01),
            fastdrum.generate(model, 2, voice=v, seed=3, duration=0.01, temperature=t, epsilon=eps),
        )


def test_tuned_model_keeps_the_output_filter():
    """A format-5 model's output filter is the model's, not the defaults': tuning keeps it bit for
    bit and generates through it (until 2026-12-07 the tuned file lost it)."""
    base = fastdrum.load_model("tests/data/tiny_drums.npz")
    rng = np.random.default_rng(2)
    h = rng.standard_normal((len(base.voices), 16)) * 0.3
    h[:, 0] = 1.0
    model = base.with_output_filter(h)
    v0 = model.voices[0]
    rows = [dict(voice=v0, temperature=0.7, epsilon=0.0, shortfall=0.5)]
    tuned = tuned_model(model, {v0: (0.7, 0.0)}, grid=[(0.7, 0.0)], n=4, seed=1, rows=rows)
    assert tuned.format_version == 5
    np.testing.assert_array_equal(tuned.output_filter, model.output_filter)
    np.testing.assert_array_equal(
        fastdrum.generate(tuned, 2, voice=v0, seed=3, duration=0.01),
        fastdrum.generate(model, 2, voice=v0, seed=3, duration=0.01, temperature=0.7, epsilon=0.0),
    )


def test_cli_refuses_a_format1_model_and_a_bad_grid_with_exit_2(tmp_path, capsys):
    out = tmp_path / "tuned.npz"
    one = tmp_path / "kick.npz"
    random_model(seed=0, instrument="kick").save(one)  # format 1 (the shipped kick is a voice now)
    assert main([str(one), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a conditioned model" in err
    with pytest.raises(SystemExit) as exc:
        main(["tests/data/tiny_drums.npz", "-o", str(out), "--temperatures", "0.8,hot"])
    assert exc.value.code == 2
    assert "expected temperatures" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["tests/data/tiny_drums.npz", "-o", str(out), "--epsilons", "0,1"])
    assert exc.value.code == 2
    assert "expected epsilons" in capsys.readouterr().err
    assert not out.exists()


def test_confirm_judges_each_voices_best_pairs_again_and_takes_the_best_of_those():
    """The screen's winner (kick at 0.9: it passed on the screen's clips) falls short on fresh clips;
    the runner-up passes there and is taken. Only the k best of the screen are judged again, in the
    screen's order; ties of the second judgement go as in choose()."""
    screen = {
        ("kick", 0.8, 0.0): dict(PASSING, decaying=0.85),  # 0.5
        ("kick", 0.9, 0.0): PASSING,  # 0
        ("kick", 1.0, 0.0): dict(PASSING, decaying=0.5),  # 4: not among the 2 best
        ("snare", 0.8, 0.0): PASSING,
        ("snare", 0.9, 0.0): PASSING,
        ("snare", 1.0, 0.0): PASSING,
    }
    grid = [(0.8, 0.0), (0.9, 0.0), (1.0, 0.0)]
    chosen, rows = choose(["kick", "snare"], grid, lambda v, t, e: screen[v, t, e])
    assert chosen == {"kick": (0.9, 0.0), "snare": (1.0, 0.0)}
    second = {
        ("kick", 0.9, 0.0): dict(PASSING, recognised=0.70),  # 0.5 below the bar's 0.75
        ("kick", 0.8, 0.0): PASSING,
        ("snare", 1.0, 0.0): PASSING,
        ("snare", 0.9, 0.0): PASSING,
    }
    asked = []

    def judge(v, t, e):
        asked.append((v, t, e))
        return second[v, t, e]

    chosen, confirmed = confirm(rows, 2, judge)
    assert chosen == {"kick": (0.8, 0.0), "snare": (1.0, 0.0)}
    assert asked == [
        ("kick", 0.9, 0.0),
        ("kick", 0.8, 0.0),
        ("snare", 1.0, 0.0),
        ("snare", 0.9, 0.0),
    ]
    assert [r["shortfall"] for r in confirmed] == [pytest.approx(0.5), 0, 0, 0]
    # k = 1 judges the winner alone: the screen's choice stands.
    assert confirm(rows, 1, lambda v, t, e: second[v, t, e])[0] == {
        "kick": (0.9, 0.0),
        "snare": (1.0, 0.0),
    }


def test_tuned_model_records_the_second_judgement():
    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    v0 = model.voices[0]
    rows = [dict(voice=v0, temperature=0.9, epsilon=0.0, shortfall=0.25)]
    crows = [dict(voice=v0, temperature=0.9, epsilon=0.0, shortfall=1.5)]
    tuned = tuned_model(
        model, {v0: (0.9, 0.0)}, grid=[(0.9, 0.0)], n=4, seed=1, rows=rows, confirmed=(8, 2, crows)
    )
    assert tuned.meta["temperature_tuning"]["confirm"] == dict(
        n=8, seed=2, shortfall={f"{v0}@0.9/0.0": 1.5}
    )
    plain = tuned_model(model, {v0: (0.9, 0.0)}, grid=[(0.9, 0.0)], n=4, seed=1, rows=rows)
    assert "confirm" not in plain.meta["temperature_tuning"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--confirm", "-1"], "--confirm must be 0"),
        (["--confirm", "2", "--confirm-n", "1"], "at least 2"),
    ],
)
def test_cli_refuses_a_bad_confirm_with_exit_2(tmp_path, capsys, extra, match):
    out = tmp_path / "tuned.npz"
    with pytest.raises(SystemExit) as exc:
        main(["tests/data/tiny_drums.npz", "-o", str(out)] + extra)
    assert exc.value.code == 2 and match in capsys.readouterr().err
    assert not out.exists()


GRID = [(0.9, 0.0), (0.9, 0.005), (1.0, 0.0), (1.0, 0.005)]


def _screened(tmp_path, best, *, n=4, seed=1):
    """tiny_drums.npz with a recorded screen on GRID (n 4, seed 1) in which voice i's least
    shortfall is at pair ``best(i)`` (the others 1, 2, ...), saved: the file --reuse-screen reads.
    Returns the loaded model and the rows recorded."""
    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    rows = []
    for i, v in enumerate(model.voices):
        others = iter(range(1, len(GRID)))
        for j, (t, e) in enumerate(GRID):
            s = 0.25 * i if j == best(i) else float(next(others)) + 0.5 * i
            rows.append(dict(voice=v, temperature=t, epsilon=e, shortfall=s))
    path = tmp_path / "screened.npz"
    chosen = {v: GRID[best(i)] for i, v in enumerate(model.voices)}
    tuned_model(model, chosen, grid=GRID, n=n, seed=seed, rows=rows).save(path)
    return fastdrum.load_model(path), rows


def test_recorded_screen_reads_back_the_screen_a_tuned_model_saved(tmp_path):
    model, rows = _screened(tmp_path, lambda i: i % len(GRID))
    got = recorded_screen(model, model.voices, GRID, n=4, seed=1)
    assert got == rows
    # so confirm() takes the same best pairs from it as from the screen itself
    winners = {v: GRID[i % len(GRID)] for i, v in enumerate(model.voices)}
    assert confirm(got, 1, lambda v, t, e: PASSING)[0] == winners


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(grid=GRID[:2]),
            r"temperatures \[0.9, 1.0\] and epsilons \[0.0, 0.005\], not temperatures \[0.9\]",
        ),
        (dict(n=40), "n = 4, not 40"),
        (dict(seed=2), "seed = 1, not 2"),
    ],
)
def test_recorded_screen_refuses_a_record_of_another_screen(tmp_path, kwargs, match):
    model, _ = _screened(tmp_path, lambda i: 0)
    args = dict(grid=GRID, n=4, seed=1) | kwargs
    with pytest.raises(fastdrum.ModelFormatError, match=match):
        recorded_screen(model, model.voices, args.pop("grid"), **args)


def test_recorded_screen_refuses_a_model_without_one_or_with_a_pair_missing(tmp_path):
    plain = fastdrum.load_model("tests/data/tiny_drums.npz")
    with pytest.raises(fastdrum.ModelFormatError, match="no tuning screen recorded"):
        recorded_screen(plain, plain.voices, GRID, n=4, seed=1)
    model, _ = _screened(tmp_path, lambda i: 0)
    with pytest.raises(fastdrum.ModelFormatError, match=r"no shortfall >= 0 for gong@0.9/0.0"):
        recorded_screen(model, list(model.voices) + ["gong"], GRID, n=4, seed=1)


def _fake_judging(monkeypatch):
    """Judge every pair as passing without generating, and list what was asked: (voice,
    temperature, epsilon, clips, seed)."""
    asked = []

    def judge_with(model, real, n, seed):
        def judge(v, t, e):
            asked.append((v, t, e, n, seed))
            return PASSING

        return judge

    monkeypatch.setattr(training.evaluate, "RealClips", lambda *a, **k: None)
    monkeypatch.setattr(training.tune, "_judge_with", judge_with)
    return asked


def test_cli_reuse_screen_judges_only_each_voices_best_pairs_again(tmp_path, monkeypatch):
    model, _ = _screened(tmp_path, lambda i: (3 * i) % len(GRID))
    asked = _fake_judging(monkeypatch)
    out = tmp_path / "confirmed.npz"
    argv = [model.path, "-o", str(out), "--temperatures", "0.9,1.0", "--epsilons", "0,0.005"]
    assert main(argv + ["-n", "4", "--reuse-screen", "--confirm", "1", "--confirm-n", "7"]) == 0
    best = [GRID[(3 * i) % len(GRID)] for i in range(len(model.voices))]
    # the screen is not judged again: only each voice's winner, on 7 clips of seed 1 + 1
    assert asked == [(v, t, e, 7, 2) for v, (t, e) in zip(model.voices, best, strict=True)]
    tuned = fastdrum.load_model(out)
    rec = tuned.meta["temperature_tuning"]
    assert rec["shortfall"] == model.meta["temperature_tuning"]["shortfall"]
    assert rec["confirm"]["n"] == 7 and rec["confirm"]["seed"] == 2
    for v, (t, e) in zip(model.voices, best, strict=True):
        assert (tuned.meta["voices"][v]["temperature"], tuned.meta["voices"][v]["epsilon"]) == (
            t,
            e,
        )


def test_cli_reuse_screen_of_another_grid_or_without_confirm_exits_2(tmp_path, monkeypatch, capsys):
    model, _ = _screened(tmp_path, lambda i: 0)
    asked = _fake_judging(monkeypatch)
    out = tmp_path / "confirmed.npz"
    argv = [model.path, "-o", str(out), "-n", "4", "--reuse-screen"]
    # the default grid is not the one recorded
    assert main(argv + ["--confirm", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its recorded screen is of temperatures [0.9, 1.0]" in err
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "give --confirm K too" in capsys.readouterr().err
    assert asked == [] and not out.exists()


def test_choose_guidance_keeps_guidance_only_where_it_falls_less_short():
    short = {
        ("kick", None, 0.0): 0.5,
        ("kick", "tom_low", 0.5): 0.2,
        ("kick", "tom_low", 1.0): 0.2,  # a tie: the smaller weight
        ("snare", None, 0.0): 0.3,
        ("snare", "clap", 0.5): 0.3,  # a tie with none: none
        ("snare", "clap", 1.0): 0.9,
    }
    asked = []

    def judge(v, t, e, u, w):
        asked.append((v, t, e, u, w))
        return dict(PASSING, recognised=PASSING["recognised_real"] - 0.05 - short[(v, u, w)] / 10)

    choice, rows = training.tune.choose_guidance(
        {"kick": (0.9, 0.005), "snare": (1.2, 0.0)}, (0.5, 1.0), judge
    )
    assert choice == {"kick": ("tom_low", 0.5), "snare": None}
    assert asked[0] == ("kick", 0.9, 0.005, None, 0.0) and len(asked) == 6
    assert [round(r["shortfall"], 6) for r in rows] == [0.5, 0.2, 0.2, 0.3, 0.3, 0.9]


def test_cli_guidance_only_keeps_the_sampling_defaults_and_records_the_choice(
    tmp_path, monkeypatch
):
    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    asked = []

    def judge_with(m, real, n, seed):
        def judge(v, t, e, u=None, w=0.0):
            asked.append((v, t, e, u, w, n, seed))
            # guidance away from the first neighbour at weight 1 is the only pass
            miss = 0.0 if (u is not None and w == 1.0) else 0.2
            return dict(PASSING, recognised=PASSING["recognised_real"] - 0.05 - miss)

        return judge

    monkeypatch.setattr(training.evaluate, "RealClips", lambda *a, **k: None)
    monkeypatch.setattr(training.tune, "_judge_with", judge_with)
    near = {
        v: tuple(u for u in training.tune.NEIGHBOURS.get(v, ()) if u in model.voices)
        for v in model.voices
    }
    out = tmp_path / "guided.npz"
    argv = ["tests/data/tiny_drums.npz", "-o", str(out), "-n", "4", "--guidance", "0.5,1"]
    assert main(argv + ["--guidance-only"]) == 0
    tuned = fastdrum.load_model(out)
    for v in model.voices:
        d = model._voice_defaults(v)
        t, e = d.get("temperature", 1.0), d.get("epsilon", 0.0)
        tries = [(v, t, e, None, 0.0, 4, 1)] + [
            (v, t, e, u, w, 4, 1) for u in near[v] for w in (0.5, 1.0)
        ]
        assert [a for a in asked if a[0] == v and a[6] == 1] == tries
        # the winner is judged again, without and with its pick, on each fresh seed (2, 3, 4)
        fresh = [
            (v, t, e, u, w, 4, s) for s in (2, 3, 4) for u, w in ((None, 0.0), (near[v][0], 1.0))
        ]
        assert [a for a in asked if a[0] == v and a[6] != 1] == (fresh if near[v] else [])
        got = tuned.meta["voices"][v]
        assert (got.get("temperature", 1.0), got.get("epsilon", 0.0)) == (t, e)
        if near[v]:
            assert (got["negative_voice"], got["guidance"]) == (near[v][0], 1.0)
        else:
            assert "negative_voice" not in got and "guidance" not in got
    assert tuned.meta.get("temperature_tuning") == model.meta.get("temperature_tuning")
    assert tuned.meta["guidance_tuning"]["weights"] == [0.5, 1.0]
    with pytest.raises(SystemExit) as exc:
        main(["tests/data/tiny_drums.npz", "-o", str(tmp_path / "x.npz"), "--guidance-only"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(argv[:-2] + ["--guidance", "0,1"])
    assert exc.value.code == 2


def test_temperatures_tuned_without_guidance_drop_the_stale_guidance_defaults():
    """Guidance chosen at old temperatures was not judged at the new ones: a temperature tune without
    --guidance drops the defaults of the voices it tunes (and the guidance record), so generate()
    plays them unguided; --guidance-only (grid None) keeps the temperatures and sets guidance."""
    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    v0, v1 = model.voices[:2]
    guided = tuned_model(
        model,
        {v0: (0.9, 0.0), v1: (0.9, 0.0)},
        grid=None,
        n=4,
        seed=1,
        rows=None,
        guided=((0.5,), {v0: (v1, 0.5), v1: (v0, 0.5)}, []),
    )
    assert guided.meta["voices"][v0]["negative_voice"] == v1
    rows = [dict(voice=v0, temperature=0.7, epsilon=0.0, shortfall=0.5)]
    retuned = tuned_model(guided, {v0: (0.7, 0.0)}, grid=[(0.7, 0.0)], n=4, seed=1, rows=rows)
    assert "negative_voice" not in retuned.meta["voices"][v0]
    assert "guidance" not in retuned.meta["voices"][v0]
    assert "guidance_tuning" not in retuned.meta
    assert retuned.meta["voices"][v1]["negative_voice"] == v0  # a voice not tuned keeps its own
    np.testing.assert_array_equal(
        fastdrum.generate(retuned, 2, voice=v0, seed=3, duration=0.01),
        fastdrum.generate(guided, 2, voice=v0, seed=3, duration=0.01, temperature=0.7, guidance=0),
    )


def test_cli_guidance_tries_the_any_voice_of_voice_dropout_first_and_never_tunes_it(
    tmp_path, monkeypatch
):
    """A model trained with --voice-dropout has the voice "any" (unconditional): every voice is
    judged against it beside its neighbours, and "any" itself, not a drum of the kit, is not judged."""
    path = tmp_path / "m.npz"
    random_model(seed=0, voices=("kick", "tom_low", "any")).save(path)
    asked = []

    def judge_with(m, real, n, seed):
        def judge(v, t, e, u=None, w=0.0):
            asked.append((v, u, w))
            miss = 0.0 if u == "any" else 0.2  # guidance away from "any" is the only pass
            return dict(PASSING, recognised=PASSING["recognised_real"] - 0.05 - miss)

        return judge

    monkeypatch.setattr(training.evaluate, "RealClips", lambda *a, **k: None)
    monkeypatch.setattr(training.tune, "_judge_with", judge_with)
    out = tmp_path / "guided.npz"
    argv = [str(path), "-o", str(out), "-n", "4", "--guidance", "1", "--guidance-only"]
    assert main(argv + ["--guidance-seeds", "0"]) == 0
    assert asked == [
        ("kick", None, 0.0),
        ("kick", "any", 1.0),
        ("kick", "tom_low", 1.0),
        ("tom_low", None, 0.0),
        ("tom_low", "any", 1.0),
    ]
    tuned = fastdrum.load_model(out)
    assert tuned.meta["voices"]["kick"]["negative_voice"] == "any"
    assert (
        "any" not in tuned.meta.get("voices", {}) or "guidance" not in tuned.meta["voices"]["any"]
    )


def _short_judge(short, asked):
    """A judge whose row for (voice, negative voice, weight, seed) falls short[...] short."""

    def judge_for(seed):
        def judge(v, t, e, u=None, w=0.0):
            asked.append((v, u, w, seed))
            miss = short[(v, u, w, seed)] / 10
            return dict(PASSING, recognised=PASSING["recognised_real"] - 0.05 - miss)

        return judge

    return judge_for


def test_confirm_guidance_keeps_a_pick_only_where_it_wins_every_fresh_seed():
    short = {}
    for s in (2, 3):
        short.update({("kick", None, 0.0, s): 0.5, ("kick", "tom_low", 0.5, s): 0.2})
        # the snare's pick wins seed 2 and ties seed 3: a tie is not a win
        short.update(
            {("snare", None, 0.0, s): 0.4, ("snare", "clap", 1.0, s): 0.1 + 0.3 * (s == 3)}
        )
    asked = []
    judge_for = _short_judge(short, asked)
    chosen = {"kick": (0.9, 0.005), "snare": (1.2, 0.0), "clap": (1.0, 0.0)}
    choice = {"kick": ("tom_low", 0.5), "snare": ("clap", 1.0), "clap": None}
    kept, rows = training.tune.confirm_guidance(chosen, choice, [(s, judge_for(s)) for s in (2, 3)])
    assert kept == {"kick": ("tom_low", 0.5), "snare": None, "clap": None}
    # a voice the screen left unguided is not judged again
    assert asked == [
        ("kick", None, 0.0, 2),
        ("kick", "tom_low", 0.5, 2),
        ("kick", None, 0.0, 3),
        ("kick", "tom_low", 0.5, 3),
        ("snare", None, 0.0, 2),
        ("snare", "clap", 1.0, 2),
        ("snare", None, 0.0, 3),
        ("snare", "clap", 1.0, 3),
    ]
    assert [(r["seed"], round(r["shortfall"], 6)) for r in rows][-2:] == [(3, 0.4), (3, 0.4)]


def test_recorded_guidance_reads_back_the_screen_a_tuned_model_saved(tmp_path):
    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    v0, v1 = model.voices[:2]
    near = {v0: (v1,), v1: (v0,)}
    short = {(v0, None, 0.0, 1): 0.5, (v0, v1, 0.5, 1): 0.25, (v0, v1, 1.0, 1): 0.25}
    short.update({(v1, None, 0.0, 1): 0.25, (v1, v0, 0.5, 1): 0.75, (v1, v0, 1.0, 1): 0.25})
    chosen = {v0: (0.9, 0.0), v1: (1.0, 0.005)}
    choice, rows = training.tune.choose_guidance(
        chosen, (0.5, 1.0), _short_judge(short, [])(1), near
    )
    assert choice == {v0: (v1, 0.5), v1: None}
    tuned = tuned_model(
        model, chosen, grid=None, n=4, seed=1, rows=None, guided=((0.5, 1.0), choice, rows)
    )
    path = tmp_path / "tuned.npz"
    tuned.save(path)
    again = fastdrum.load_model(path)
    got, got_rows = training.tune.recorded_guidance(again, chosen, (0.5, 1.0), near, n=4, seed=1)
    assert got == choice
    assert [round(r["shortfall"], 6) for r in got_rows] == [round(r["shortfall"], 6) for r in rows]
    for kwargs, match in [
        (dict(weights=(0.5, 2.0), n=4, seed=1), r"has weights = \[0.5, 1.0\], not \[0.5, 2.0\]"),
        (dict(weights=(0.5, 1.0), n=40, seed=1), "has n = 4, not 40"),
        (dict(weights=(0.5, 1.0), n=4, seed=2), "has seed = 1, not 2"),
    ]:
        w = kwargs.pop("weights")
        with pytest.raises(fastdrum.ModelFormatError, match=match):
            training.tune.recorded_guidance(again, chosen, w, near, **kwargs)
    with pytest.raises(fastdrum.ModelFormatError, match=rf"no shortfall >= 0 for {v0}@0.8/0.0"):
        training.tune.recorded_guidance(again, {v0: (0.8, 0.0)}, (0.5, 1.0), near, n=4, seed=1)
    with pytest.raises(fastdrum.ModelFormatError, match="no guidance screen recorded"):
        training.tune.recorded_guidance(model, chosen, (0.5, 1.0), near, n=4, seed=1)


def test_cli_guidance_reuse_screen_judges_only_the_fresh_seeds(tmp_path, monkeypatch, capsys):
    """--guidance-only --reuse-screen takes the screen from the model's record and judges only the
    fresh seeds: a pick that loses one of them is dropped, and the record says why."""
    model = fastdrum.load_model("tests/data/tiny_drums.npz")
    near = {
        v: tuple(u for u in training.tune.NEIGHBOURS.get(v, ()) if u in model.voices)
        for v in model.voices
    }
    v0 = next(v for v in model.voices if near[v])  # the screen guides it, and it alone
    chosen = {
        v: (
            model._voice_defaults(v).get("temperature", 1.0),
            model._voice_defaults(v).get("epsilon", 0.0),
        )
        for v in model.voices
        if near[v]
    }
    rows = [
        dict(voice=v, temperature=t, epsilon=e, negative_voice=u, guidance=w, shortfall=s)
        for v, (t, e) in chosen.items()
        for u, w, s in [(None, 0.0, 0.5)] + [(u, 1.0, 0.2 if v == v0 else 0.9) for u in near[v]]
    ]
    screened = tuned_model(
        model,
        chosen,
        grid=None,
        n=4,
        seed=1,
        rows=None,
        guided=(
            (1.0,),
            {v: (near[v][0], 1.0) if v == v0 else None for v in chosen},
            rows,
        ),
    )
    path = tmp_path / "screened.npz"
    screened.save(path)
    asked = []
    short = {}
    for s in (2, 3):
        short[(v0, None, 0.0, s)] = 0.5
        short[(v0, near[v0][0], 1.0, s)] = 0.2 if s == 2 else 0.6  # loses the second fresh seed
    monkeypatch.setattr(training.evaluate, "RealClips", lambda *a, **k: None)
    monkeypatch.setattr(
        training.tune, "_judge_with", lambda m, real, n, seed: _short_judge(short, asked)(seed)
    )
    out = tmp_path / "confirmed.npz"
    argv = [str(path), "-o", str(out), "-n", "4", "--guidance", "1", "--guidance-only"]
    assert main(argv + ["--reuse-screen", "--guidance-seeds", "2"]) == 0
    assert asked == [(v0, u, w, s) for s in (2, 3) for u, w in ((None, 0.0), (near[v0][0], 1.0))]
    tuned = fastdrum.load_model(out)
    assert "negative_voice" not in tuned.meta["voices"][v0]
    rec = tuned.meta["guidance_tuning"]
    assert rec["shortfall"] == screened.meta["guidance_tuning"]["shortfall"]
    key = f"{v0}@{chosen[v0][0]}/{chosen[v0][1]}"
    assert rec["confirm"] == dict(
        n=4,
        seeds=[2, 3],
        shortfall={
            "2": {key: 0.5, f"{key}-{near[v0][0]}*1.0": 0.2},
            "3": {key: 0.5, f"{key}-{near[v0][0]}*1.0": 0.6},
        },
    )
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--reuse-screen", "--guidance-seeds", "0"])
    assert exc.value.code == 2 and "give --guidance-seeds K" in capsys.readouterr().err


def test_margin_is_the_slack_of_the_criterion_nearest_failing_and_negative_exactly_when_short():
    from training.tune import margin

    # PASSING's nearest criterion: rumble, 2 dB above the real clips' where 3 are allowed (per 3 dB)
    assert margin(PASSING) == pytest.approx(1 / 3)
    # then the decay time's: 0.2 s against 0.3 (x1.5 of x2 allowed: log2(2 / 1.5) of a doubling)
    assert margin(dict(PASSING, lf_db=-46.0)) == pytest.approx(math.log2(2 / 1.5))
    changes = [
        dict(hf_db=-36.0),
        dict(hf_db=-46.0),
        dict(lf_db=-40.0),
        dict(decaying=0.85),
        dict(quiet=0.2),
        dict(mel_db=4.5),
        dict(recognised=0.70),
        dict(copy_rate=0.15),
        dict(duplicate_pair_rate=0.08),
        dict(decay_time=1.0),
        dict(decay_time=0.05),
    ]
    for change in changes:
        row = dict(PASSING, **change)
        assert shortfall(row) > 0 and margin(row) < 0, change
    assert margin(dict(PASSING, mel_db=4.5)) == pytest.approx(-0.5)  # 0.5 dB beyond the real kits'
    old = {
        k: v for k, v in PASSING.items() if k not in ("lf_db", "quiet")
    }  # rows judged before those
    assert margin(old) == pytest.approx(math.log2(2 / 1.5))  # without them, the decay time's
