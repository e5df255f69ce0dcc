"""training/ship_models.sh: the commands it runs, recorded by a stand-in for Python.

The script is the shipped recipe; these tests run it with ``PYTHON`` pointing at a small script
that records its arguments and exits 0, so they check the pipeline (train, average the snapshots,
round to float16 values, fit and graft the voice 'any', tune the temperatures, all on one file)
without training anything. The stand-in answers the script's question "has the model 'any'
already?" with exit code ``HAS_ANY`` (default 0: no), and "is the window training/window.py chose
another than the run's own?" with ``OWN_WINDOW`` (default 0: yes, another).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bench.cases import RECIPE_CONFIG
from fastdrum.mulaw import shelf_coefficients
from training.evaluate import DEFAULT_HOLDOUT
from training.train import (
    DEFAULT_TIME_BLOCK,
    _envelope,
    _integration,
    _preemphasis,
    _time_tau,
    build_parser,
    parse_dilations,
)
from training.voices import VOICES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "training", "ship_models.sh")

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")


def _run(tmp_path, **env):
    """The script's calls, run with `env` (MODELS drums unless given; None: unset, the default)."""
    env = {"MODELS": "drums", **env}
    log = tmp_path / "calls.jsonl"
    fake = tmp_path / "fake-python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1] == '-c' and \"'any' in\" in sys.argv[2]:\n"
        "    sys.exit(int(os.environ.get('HAS_ANY', '0')))\n"
        "if sys.argv[1] == '-c' and 'window_choice' in sys.argv[2]:\n"
        "    sys.exit(int(os.environ.get('OWN_WINDOW', '0')))\n"
    )
    fake.chmod(0o755)
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("RESUME", "SEED", "STEPS", "OUT", "SWA_FIRST", "VARIANT", "TRAIN_ARGS", "MODELS")
    }
    full_env.update(PYTHON=str(fake))
    full_env.update({k: v for k, v in env.items() if v is not None})
    subprocess.run(["sh", SCRIPT], cwd=ROOT, env=full_env, check=True, capture_output=True)
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _option(argv, name):
    """The value of option `name` (its last: the trainer's argparse keeps the last)."""
    return argv[len(argv) - 1 - argv[::-1].index(name) + 1]


def _without(argv, names):
    """`argv` without every occurrence of the options `names` and their values."""
    argv = list(argv)
    for name in names:
        while name in argv:
            i = argv.index(name)
            del argv[i : i + 2]
    return argv


#: The steps of one conditioned model (drums), in order, by the module or script each runs.
DRUMS_STEPS = [
    "training.train",
    "training.average",
    "round",
    "has-any",
    "training.train",
    "training.average",
    "tools/graft_any.py",
    "training.tune",
    "training.match_eq",
]


def _step(argv):
    if argv[0] == "-m":
        return argv[1]
    if argv[0] == "-c":
        if "window_choice" in argv[1]:
            return "window-changed"
        return "round" if "round_weights()" in argv[1] else "has-any"
    return argv[0]


def test_trains_averages_rounds_fits_any_and_tunes_the_same_file(tmp_path):
    out = str(tmp_path / "drums.npz")
    calls = _run(tmp_path, SEED="3", STEPS="400", OUT=out)
    assert [_step(c) for c in calls] == DRUMS_STEPS
    train, average, round_, has_any, any_train, any_average, graft, tune, eq = calls
    assert _option(train, "--steps") == "400"
    assert _option(train, "--seed") == "3"
    assert _option(train, "--out") == out
    assert _option(train, "--run-dir") == "runs/drums-seed3"
    assert "--resume" not in train
    # No validation split: the weights are a mean of snapshots and the defaults are tuned on
    # generated clips, so every clip that is not held out trains (docs/evaluation.md).
    assert _option(train, "--val-fraction") == "0"
    # The mean of the snapshots from a quarter of the run to its end replaces the export.
    assert average[2] == out
    assert _option(average, "--run-dir") == "runs/drums-seed3"
    assert _option(average, "--first") == "100"
    assert _option(average, "-o") == out
    assert round_[2:] == [out] and has_any[2:] == [out]
    # 'any': the embedding alone fitted to every clip on the rounded network, 1,000 steps, averaged
    # over 500-1,000, then grafted onto the model in place
    fit = build_parser().parse_args(any_train[2:])
    assert fit.init_from == out and fit.voice_dropout == 1 and fit.train_only == "voice_emb"
    assert (fit.steps, fit.learning_rate, fit.snapshot_every, fit.seed) == (1000, 0.003, 100, 3)
    assert (fit.out, fit.run_dir) == ("runs/drums-seed3-any.npz", "runs/drums-seed3-any")
    main = vars(build_parser().parse_args(train[2:]))
    changed = {"init_from", "voice_dropout", "train_only", "steps", "learning_rate"}
    changed |= {"snapshot_every", "out", "run_dir"}
    assert {k: v for k, v in vars(fit).items() if k not in changed} == {
        k: v for k, v in main.items() if k not in changed
    }  # the same data, augmentation and network
    assert any_average[2] == "runs/drums-seed3-any.npz" and _option(any_average, "--first") == "500"
    assert _option(any_average, "--run-dir") == "runs/drums-seed3-any"
    assert graft[1:] == [out, "runs/drums-seed3-any.npz", out, "--overwrite"]
    assert tune[2] == out and _option(tune, "-o") == out
    # then negative-voice guidance, tried at the chosen pair of each voice (and away from 'any')
    assert _option(tune, "--guidance") == "0.5,1,2"
    assert "--temperatures" not in tune and "--epsilons" not in tune  # the tuner's default grid
    # then the output filter of the two voices drums.npz plays, in place
    assert eq[2:] == [out, "--voices", "tom_high,ride", "-o", out, "--overwrite"]


def test_a_model_trained_with_any_skips_the_fit(tmp_path):
    """A lever that trains the voice 'any' with the network (--voice-dropout P) keeps it."""
    calls = _run(tmp_path, HAS_ANY="1", VARIANT="cfg", TRAIN_ARGS="--voice-dropout 0.1")
    steps = [_step(c) for c in calls]
    assert steps == [
        "training.train",
        "training.average",
        "round",
        "has-any",
        "training.tune",
        "training.match_eq",
    ]
    assert _option(calls[0], "--voice-dropout") == "0.1"


def test_a_window_that_is_the_runs_own_is_not_tuned_again(tmp_path):
    """training/window.py keeps the run's own window: its tuning stands. A voice without the step
    (the open hat) has none."""
    one_voice = ["training.train", "training.average", "round", "training.tune"]
    calls = _run(tmp_path, MODELS="tom_low", OWN_WINDOW="1")
    eq = ["training.match_eq"]  # each voice's output filter, last
    assert [_step(c) for c in calls] == one_voice + WINDOW_STEPS[:2] + eq
    (tmp_path / "openhat").mkdir()
    steps = [_step(c) for c in _run(tmp_path / "openhat", MODELS="openhat")]
    assert steps == one_voice + (eq if "openhat" in EQ_MODELS else [])


#: The shipped one-voice models, in the order the script trains them by default: each one's steps,
#: (pre-emphasis a, leaky integration b) as the trainer resolves them, and extra data folders.
ONE_VOICE_MODELS = {
    "hihat": (1500, ([0.0], [0.995], 0.0), []),
    "openhat": (3000, ([0.0], [0.995], 0.0), []),
    "clap": (3000, (0.85, 0.0, 200.0), ["/usr/share/lmms/samples/drums"]),
    "crash": (3000, (0.85, [0.99], 0.0), []),
    "tom_mid": (3000, (0.85, 0.0, 80.0), []),
    "tom_low": (3000, (0.85, 0.0, 60.0), []),
    "snare": (1500, (0.85, 0.0, 80.0), []),
    "kick": (1500, (0.85, 0.0, 0.0), []),
}

#: The one-voice models whose averaging window training/window.py chooses after the tuning (tuned
#: again when it is not the run's own), and those steps.
WINDOW_VOICES = ("clap", "crash", "tom_mid", "tom_low", "kick")
WINDOW_STEPS = ["training.window", "window-changed", "training.tune"]

#: The one-voice models trained on three training seeds, of which training/seeds.py keeps the least
#: short by its clips.
CHOOSE_VOICES = ("hihat", "clap", "kick", "snare")


#: The models whose output filter training/match_eq.py fits last (model format 5), and the voices
#: it fits ("all": every voice of the file).
EQ_MODELS = {"hihat": "all", "clap": "all", "tom_low": "all", "crash": "all", "openhat": "all"}

#: The one-voice models tuned on a grid of their own (the tuner's default epsilons): their
#: temperatures, and whether a second judgement picks among the screen's best (--confirm K).
OWN_GRIDS = {
    "clap": ([round(0.8 + 0.1 * k, 1) for k in range(11)], None),
    "hihat": ([round(0.6 + 0.1 * k, 1) for k in range(7)], "3"),
}


def _voice_steps(voice):
    """The steps the script runs for one-voice model `voice` (OWN_WINDOW 0: each window another)."""
    one = ["training.train", "training.average", "round", "training.tune"]
    one += WINDOW_STEPS if voice in WINDOW_VOICES else []
    steps = one * 3 + ["training.seeds"] if voice in CHOOSE_VOICES else one
    return steps + (["training.match_eq"] if voice in EQ_MODELS else [])


def _coefficients(args, voice):
    """A one-voice run's (pre-emphasis, integration, low-shelf corner in Hz) as the trainer takes them."""
    return _preemphasis(args, [voice]), _integration(args, [voice]), args.shelf_hz


def test_by_default_it_trains_drums_and_the_one_voice_models(tmp_path):
    """drums.npz (every voice, 10,000 steps), then hihat.npz and openhat.npz (each hat alone at a = 0,
    b = 0.995, high-passed at 60 Hz, 1,500 and 3,000 steps), then clap.npz (the claps alone, with LMMS's folder of one-shots, high-passed
    at 60 Hz, a = 0.85 with a low shelf at 200 Hz, 30 dB, 3,000 steps), then crash.npz (the crashes alone at a = 0.85, b = 0.99, high-passed at 60 Hz, 3,000 steps), then
    tom_mid.npz and tom_low.npz (each tom alone at a = 0.85 with a low shelf at 80 and 60 Hz, 3,000
    steps), then snare.npz (the snares alone the same way, the shelf at 80 Hz), then kick.npz (the
    kicks alone at a = 0.85, high-passed at 30 Hz, 1,500 steps), all shipped, by default; MODELS="drums clap" trains drums and the clap alone. Each one-voice model in
    its own run, averaged from a quarter of its own steps, rounded and tuned (one voice: no 'any'; the
    clap on temperatures 0.8-1.8, the hi-hat on 0.6-1.2 with a second judgement, the others on the
    tuner's default grid); the clap's, the crash's, the
    toms' and the kick's averaging window then chosen by their clips (training/window.py) and tuned again;
    the clap and the kick each on training seeds 0, 1 and 2, the least short kept (training/seeds.py)."""
    (tmp_path / "default").mkdir()
    calls = _run(tmp_path / "default", MODELS=None)
    want = list(DRUMS_STEPS)
    for voice in ONE_VOICE_MODELS:
        want += _voice_steps(voice)
    assert [_step(c) for c in calls] == want
    trains = [i for i, c in enumerate(calls) if _step(c) == "training.train"][2:]
    # each voice's first run (a voice trained on three seeds: its seed 0's)
    voices = [_option(calls[i], "--voices") for i in trains]
    starts = [i for k, i in enumerate(trains) if voices[k] not in voices[:k]]
    for i, (voice, (steps, coefficients, _)) in enumerate(ONE_VOICE_MODELS.items()):
        args = build_parser().parse_args(calls[starts[i]][2:])
        assert (
            args.voices == voice and args.steps == steps and args.out == f"runs/{voice}-seed0.npz"
        )
        assert _coefficients(args, voice) == coefficients
        # the clap's pick sat on the default grid's edge (1.3): it tries temperatures to 1.8; the
        # hi-hat, retuned under the reject class with shaped noise, 0.6-1.2 and a second judgement
        own, confirm = OWN_GRIDS.get(voice, (None, None))
        # the tuning, and where the window step runs the tuning again, each on the voice's grid
        tunes = [calls[starts[i] + 3]] + ([calls[starts[i] + 6]] if voice in WINDOW_VOICES else [])
        for tune in tunes:
            assert _step(tune) == "training.tune" and _option(tune, "--guidance") == "0.5,1,2"
            assert ("--temperatures" in tune) == (own is not None) and "--epsilons" not in tune
            if own:
                assert [float(t) for t in _option(tune, "--temperatures").split(",")] == own
            assert ("--confirm" in tune) == (confirm is not None)
            if confirm:
                assert _option(tune, "--confirm") == confirm
    calls = _run(tmp_path, MODELS="drums clap")
    assert [_step(c) for c in calls] == DRUMS_STEPS + _voice_steps("clap")
    # drums, then the clap's seed 0, seeds 1 and 2, the choice and the output filter
    drums, clap = calls[: len(DRUMS_STEPS)], calls[len(DRUMS_STEPS) :]
    assert _option(drums[0], "--voices") == "all" and "--data" not in drums[0]
    assert _option(drums[0], "--steps") == "10000" and _option(drums[1], "--first") == "2500"
    assert _option(clap[0], "--voices") == "clap"
    assert _option(clap[0], "--data") == "/usr/share/lmms/samples/drums"
    assert _option(clap[0], "--steps") == "3000" and _option(clap[1], "--first") == "750"
    assert _option(clap[0], "--run-dir") == "runs/clap-seed0"
    assert (
        _option(clap[0], "--out") == clap[1][2] == clap[2][2] == clap[3][2] == "runs/clap-seed0.npz"
    )

    # The same network and recipe but the data, the clap's high-pass and shelf: every other option
    # is drums.npz's.
    data = ("--voices", "--voice-preemphasis", "--voice-integration", "--data", "--steps", "--out")
    data += ("--run-dir", "--highpass-hz", "--shelf-hz", "--shelf-db")
    assert _without(clap[0], data) == _without(drums[0], data)
    args = build_parser().parse_args(clap[0][2:])  # the trainer accepts it
    assert args.voices == "clap" and args.data == ["/usr/share/lmms/samples/drums"]
    assert (args.highpass_hz, args.shelf_hz, args.shelf_db) == (60.0, 200.0, 30.0)


def test_a_voice_alone_trains_its_clips_with_the_recipe_for_1500_steps(tmp_path):
    """MODELS=kick: the one-voice lever runs of docs/evaluation.md. The kick's clips of the recipe's
    sources, 1,500 steps, averaged from step 375, rounded and tuned (one voice: no 'any'); every
    other option of the trainer is drums.npz's, a variant's added."""
    (tmp_path / "drums").mkdir()
    drums = _run(tmp_path / "drums")[0]
    calls = _run(
        tmp_path,
        MODELS="kick",
        VARIANT="pe0.7",
        TRAIN_ARGS="--preemphasis 0.7",
    )
    assert [_step(c) for c in calls] == _voice_steps("kick")
    train, average, round_, tune, window, changed, retune = calls[:7]
    assert _option(train, "--voices") == "kick" and "--data" not in train
    # the kick's window chosen by its clips on the run's snapshots, in place, then tuned again
    out = "runs/kick-pe0.7-seed0.npz"
    assert (
        window[2] == changed[2] == out and _option(window, "--run-dir") == "runs/kick-pe0.7-seed0"
    )
    assert _option(window, "-o") == out and "--overwrite" in window
    assert retune == tune
    assert _option(train, "--steps") == "1500" and _option(average, "--first") == "375"
    assert _option(train, "--run-dir") == _option(average, "--run-dir") == "runs/kick-pe0.7-seed0"
    assert (
        _option(train, "--out") == average[2] == round_[2] == tune[2] == "runs/kick-pe0.7-seed0.npz"
    )
    assert _option(train, "--preemphasis") == "0.7"
    # training seeds 0, 1 and 2, each its own run of the same steps; the least short of the three kept
    for seed in (1, 2):
        run = calls[7 * seed : 7 * seed + 7]
        assert _without(run[0], ("--seed", "--out", "--run-dir")) == _without(
            train, ("--seed", "--out", "--run-dir")
        )
        assert _option(run[0], "--seed") == str(seed)
        assert _option(run[0], "--run-dir") == f"runs/kick-pe0.7-seed{seed}"
        assert (
            {c[2] for c in run[1:]}
            == {_option(run[0], "--out")}
            == {f"runs/kick-pe0.7-seed{seed}.npz"}
        )
    seeds = calls[-1]
    assert seeds[2:] == [
        "runs/kick-pe0.7-seed0.npz",
        "runs/kick-pe0.7-seed1.npz",
        "runs/kick-pe0.7-seed2.npz",
        "-o",
        "runs/kick-pe0.7-seeds0-2.npz",
        "--overwrite",
    ]
    args = build_parser().parse_args(train[2:])  # the trainer accepts it; the variant's option wins
    assert args.voices == "kick" and args.preemphasis == 0.7 and args.input_drift_share == 0.25

    own = ("--voices", "--steps", "--out", "--run-dir", "--preemphasis", "--voice-preemphasis")
    own += ("--voice-integration", "--highpass-hz")
    assert _without(train, own) == _without(drums, own)
    assert args.highpass_hz == 30.0  # the shipped kick's own option (kick.npz)
    for voice in VOICES:
        if voice != "clap":  # MODELS=clap is the clap model with LMMS's one-shots (above)
            (tmp_path / voice).mkdir()
            alone = _run(tmp_path / voice, MODELS=voice)[0]
            assert _option(alone, "--voices") == voice
            # a shipped one-voice model's coefficients (the hats at a = 0, b = 0.995, the crash at
            # b = 0.99, the mid tom's shelf); the others have the recipe's (0.85, 0, no shelf)
            args = build_parser().parse_args(alone[2:])
            coefficients = ONE_VOICE_MODELS.get(voice, (None, (0.85, 0.0, 0.0)))[1]
            assert _coefficients(args, voice) == coefficients


def test_a_voice_chosen_among_seeds_trains_the_next_three_for_each_seed_of_its_recipe(tmp_path):
    """SEED=1 of a voice trained on three seeds: training seeds 3, 4 and 5, each resumed with
    RESUME, the choice written to OUT (or runs/VOICE-seeds3-5.npz)."""
    voice = CHOOSE_VOICES[0]
    out = str(tmp_path / "chosen.npz")
    calls = _run(tmp_path, MODELS=voice, SEED="1", RESUME="--resume", OUT=out)
    trains = [c for c in calls if _step(c) == "training.train"]
    assert [_option(c, "--seed") for c in trains] == ["3", "4", "5"]
    assert all("--resume" in c for c in trains)
    assert [_option(c, "--out") for c in trains] == [f"runs/{voice}-seed{s}.npz" for s in (3, 4, 5)]
    seeds = [c for c in calls if _step(c) == "training.seeds"]
    assert len(seeds) == 1
    assert seeds[0][2:] == [_option(c, "--out") for c in trains] + ["-o", out, "--overwrite"]
    # then the output filter, fitted on the chosen file in place
    assert calls[-1] == ["-m", "training.match_eq", out, "-o", out, "--overwrite"]
    (tmp_path / "default").mkdir()
    calls = _run(tmp_path / "default", MODELS=voice, SEED="1")
    assert [c for c in calls if _step(c) == "training.seeds"][0][-2] == f"runs/{voice}-seeds3-5.npz"
    assert calls[-1][2] == f"runs/{voice}-seeds3-5.npz"


def test_out_names_one_file_and_models_are_known(tmp_path):
    fail = tmp_path / "fail"
    fail.mkdir()
    for env in (dict(MODELS="drums clap", OUT=str(tmp_path / "x.npz")), dict(MODELS="cowbell")):
        with pytest.raises(subprocess.CalledProcessError) as info:
            _run(fail, **env)
        assert info.value.returncode == 2 and b"ship_models.sh: " in info.value.stderr
        assert not (fail / "calls.jsonl").exists()  # refused before anything ran


def test_a_variant_trains_into_its_own_run_with_its_extra_options(tmp_path):
    calls = _run(
        tmp_path, SEED="1", VARIANT="in2", TRAIN_ARGS="--input-noise 2 --voice-weights length"
    )
    train, average, round_, _, any_train, _, graft, tune, eq = calls
    assert _option(train, "--run-dir") == "runs/drums-in2-seed1"
    assert _option(train, "--out") == "runs/drums-in2-seed1.npz"
    assert _option(train, "--input-noise") == "2" and _option(train, "--voice-weights") == "length"
    args = build_parser().parse_args(train[2:])  # the trainer accepts every option it is given
    assert args.input_noise == 2.0 and args.voice_weights == "length"
    assert _option(average, "--run-dir") == "runs/drums-in2-seed1"
    assert average[2] == round_[2] == graft[3] == tune[2] == eq[2] == "runs/drums-in2-seed1.npz"
    # the fit of 'any' sees the same data as the network did, in a run of the variant's own
    assert _option(any_train, "--input-noise") == "2"
    assert _option(any_train, "--run-dir") == "runs/drums-in2-seed1-any"
    (tmp_path / "plain").mkdir()
    plain = _run(tmp_path / "plain")[0]  # without the variables: the recipe's own run
    assert _option(plain, "--run-dir") == "runs/drums-seed0" and "--input-noise" not in plain


def test_resume_reaches_the_trainer_and_the_holdout_is_the_evaluations_default(tmp_path):
    calls = _run(tmp_path, RESUME="--resume", OUT=str(tmp_path / "x.npz"))
    train = calls[0]
    assert "--resume" in train and "--resume" in calls[4]  # and the fit of 'any' resumes too
    assert _option(train, "--holdout-kits").split(",") == list(DEFAULT_HOLDOUT)
    assert _option(train, "--sample-rate") == "44100"
    assert _option(train, "--voices") == "all"


def test_the_benchmarks_recipe_case_has_the_shape_the_script_trains(tmp_path):
    """bench's recipe-44k stands in for the shipped model in the speed goals: it must match the recipe."""
    args = build_parser().parse_args(_run(tmp_path, OUT=str(tmp_path / "x.npz"))[0][2:])
    voices = list(VOICES) if args.voices == "all" else args.voices.split(",")
    trained = dict(
        dilations=parse_dilations(args.dilations),
        sample_rate=args.sample_rate,
        quantization_channels=args.quantization_channels,
        residual_channels=args.residual_channels,
        dilation_channels=args.dilation_channels,
        skip_channels=args.skip_channels,
        embedding_size=args.embedding_size,
        preemphasis=_preemphasis(args, voices),
        voices=voices,
        time_tau=[float(t) for t in _time_tau(args)],
        time_block=args.time_block or DEFAULT_TIME_BLOCK,
        decays=args.decay_conditioning,
        envelope=_envelope(args),
    )
    assert args.end_mask  # the recipe trains nothing past a clip's end (no bearing on the kernel)
    assert (args.input_drift, args.input_drift_share) == (0.01, 0.25)  # training only, likewise
    assert trained == dict(RECIPE_CONFIG, decays=True)


def _shape(model):
    """What of a model the recipe sets: its network's shape, voices and conditioning."""
    return dict(
        dilations=list(model.dilations),
        sample_rate=model.sample_rate,
        quantization_channels=model.quantization_channels,
        residual_channels=model.residual_channels,
        dilation_channels=model.dilation_channels,
        skip_channels=model.skip_channels,
        embedding_size=model.weights["voice_emb"].shape[1],
        preemphasis=model.preemphasis,
        voices=list(model.voices),
        time_tau=model.time_tau.tolist(),
        time_block=model.time_block,
        decays=bool(model.voice_decays),
        envelope=model.envelope,
    )


def _recipe(**changes):
    import numpy as np

    return dict(
        RECIPE_CONFIG,
        decays=True,
        # one coefficient a voice, stored as float32 ('any' has the recipe's --preemphasis, 0.85)
        preemphasis=tuple(
            float(np.float32(a))
            for a in RECIPE_CONFIG["preemphasis"] + [0.85] * ("any" in changes.get("voices", ()))
        ),
        time_tau=np.float32(RECIPE_CONFIG["time_tau"]).tolist(),
        **changes,
    )


def _tuning_grid(tune_call):
    """The (temperature, epsilon) pairs a call of training.tune tries, by the tuner's own parser."""
    from training.tune import _parser

    args = _parser().parse_args(tune_call[2:])
    return [[t, e] for t in args.temperatures for e in args.epsilons]


def _assert_rounded_and_tuned(model, voices, tuned=None, grid=None):
    from training.tune import DEFAULT_EPSILONS, DEFAULT_GRID

    assert model.float16_exact and model.meta["rounded_weights"] == "float16"
    assert model.meta["config"]["end_mask"]
    assert sorted(model.meta["voices"]) == sorted(voices)
    for v in voices if tuned is None else tuned:
        settings = model.meta["voices"][v]
        assert settings["duration"] > 0 and settings["temperature"] > 0, v
        assert 0 <= settings["epsilon"] < 1, v
    tuning = model.meta["temperature_tuning"]
    assert set(tuning) >= {"grid", "n", "seed"}
    default = [[t, e] for t in DEFAULT_GRID for e in DEFAULT_EPSILONS]
    assert tuning["grid"] == (default if grid is None else grid)


def test_the_shipped_model_has_the_shape_the_script_trains():
    """fastdrum/models/drums.npz is the recipe's output: the shape of bench's recipe-44k (whose
    speed the docs quote for it), every voice with its own clip length (train.py) and default
    temperature (tune.py), and float16-exact weights (the script's rounding step)."""
    import fastdrum

    model = fastdrum.load_model("drums")
    assert _shape(model) == _recipe(voices=list(VOICES) + ["any"])  # and the fitted 'any' voice
    _assert_rounded_and_tuned(model, VOICES + ("any",), tuned=VOICES)
    _assert_output_filter_is_the_tools_choice(model, model.voices, "tom_high,ride")


def test_drums_any_voice_and_each_voices_guidance_is_the_tuners_pick():
    """drums.npz's 'any' voice is tools/graft_any.py's (an embedding fitted to every clip with the network
    frozen, recorded in meta["any_voice"]), no instrument a kit plays; each voice's negative voice and
    guidance, or none, are the least short of its rows in meta["guidance_tuning"] (ties to no
    guidance, then the smaller weight), kept only where it also fell less short than no guidance on
    every fresh seed of the record's "confirm" (training/tune.py's rule, --guidance-seeds)."""
    import fastdrum
    from fastdrum.model import _shipped_instruments

    model = fastdrum.load_model("drums")
    assert model.voices[-1] == "any" and model.meta["any_voice"]["steps"] == 1000
    voices = model.meta["voices"]  # tools/graft_any.py: every voice's training decay times
    assert voices["any"]["decays"] == sorted(d for v in VOICES for d in voices[v]["decays"])
    shortfall = model.meta["guidance_tuning"]["shortfall"]
    fresh = model.meta["guidance_tuning"]["confirm"]
    assert fresh["seeds"] and fresh["n"] == model.meta["guidance_tuning"]["n"]
    for v in VOICES:
        d = model._voice_defaults(v)
        plain = f"{v}@{d['temperature']}/{d['epsilon']}"
        rows = [k for k in shortfall if k == plain or k.startswith(plain + "-")]
        assert len(rows) > 1, v  # judged unguided and guided
        pick = min(rows, key=lambda k: (shortfall[k], k != plain, float(k.partition("*")[2] or 0)))
        if pick != plain:  # the screen's winner, judged again on each fresh seed
            judged = [fresh["shortfall"][str(s)] for s in fresh["seeds"]]
            pick = pick if all(j[pick] < j[plain] for j in judged) else plain
        negative = d.get("negative_voice")
        assert pick == (plain if negative is None else f"{plain}-{negative}*{d['guidance']}"), v
    assert _shipped_instruments() == sorted(VOICES)


def _stored(coefficients):
    """A coefficient of the trainer's (one, or a list a voice) as a model file stores it (float32)."""
    if isinstance(coefficients, (list, tuple)):
        return tuple(float(np.float32(c)) for c in coefficients)
    return float(np.float32(coefficients))


@pytest.mark.parametrize("voice", ONE_VOICE_MODELS)
def test_the_shipped_one_voice_models_are_the_scripts(tmp_path, voice):
    """fastdrum/models/hihat.npz, openhat.npz, clap.npz, crash.npz, tom_mid.npz, tom_low.npz,
    snare.npz and kick.npz, which play those voices, are MODELS=VOICE's output with the default
    seed (training seed 0; the hi-hat, the clap and the kick: the least short of seeds 0, 1 and 2): the recipe's network on that voice alone (the hats at a = 0 and b = 0.995 for 1,500 steps, the
    open hat 3,000, both hats' clips high-passed at 60 Hz; the
    clap, LMMS's claps among its data, high-passed at 60 Hz, at 0.85 with a low shelf at 200 Hz, 30 dB,
    for 3,000; the crash at 0.85 and b = 0.99, high-passed at 60 Hz,
    for 3,000; the toms and the snare at 0.85 with a low shelf, 20 dB, at 80 Hz (mid tom,
    snare) and 60 Hz (low tom), for 1,500 (the toms 3,000); the kick at 0.85, its clips high-passed at 30 Hz, for
    1,500), rounded and tuned on the script's grid (the clap's temperatures to 1.8, the hi-hat's
    0.6-1.2)."""
    import fastdrum

    steps, coefficients, data = ONE_VOICE_MODELS[voice]
    model = fastdrum.load_model(voice)
    assert os.path.basename(model.path) == f"{voice}.npz"
    calls = _run(tmp_path, MODELS=voice)
    args = build_parser().parse_args(calls[0][2:])
    preemphasis, integration, shelf_hz = _coefficients(args, voice)
    assert (_stored(preemphasis), _stored(integration), shelf_hz) == (
        *map(_stored, coefficients[:2]),
        coefficients[2],
    )
    shelf = tuple(
        _stored(x) for x in shelf_coefficients(shelf_hz, model.sample_rate, args.shelf_db)
    )
    assert (model.shelf_zero, model.shelf_pole) == shelf
    assert _shape(model) == dict(_recipe(voices=[voice]), preemphasis=_stored(preemphasis))
    assert model.integration == _stored(integration)
    assert model.meta["config"]["data"] == args.data == data
    assert model.meta["config"].get("highpass_hz", 0.0) == args.highpass_hz
    assert model.meta["steps_trained"] == args.steps == steps
    tunes = [c for c in calls if _step(c) == "training.tune"]
    _assert_rounded_and_tuned(model, (voice,), grid=_tuning_grid(tunes[-1]))  # the script's grid
    # SEED's default: training seed 0, or for a voice trained on three, the least short of 0, 1, 2
    choice = model.meta.get("seed_choice")
    assert (choice is not None) == (voice in CHOOSE_VOICES) and args.seed == 0
    if choice is None:
        assert model.meta["config"]["seed"] == 0
    else:
        from training.seeds import choose_seed

        assert (choice["n"], choice["seed"], choice["seeds"]) == (100, 5, [0, 1, 2])
        margins = choice.get("margin", {})  # recorded since session 59
        rows = [
            dict(seed=s, shortfall=choice["shortfall"][str(s)], margin=margins.get(str(s), 0.0))
            for s in choice["seeds"]
        ]
        chosen = rows[choose_seed(rows)]["seed"]
        assert chosen == choice["chosen"] == model.meta["config"]["seed"]
        seeds = [c for c in calls if _step(c) == "training.seeds"][0]
        assert seeds[2:5] == [f"runs/{voice}-seed{s}.npz" for s in (0, 1, 2)]
    # the window training/window.py chose: every snapshot's step judged, the least short taken
    record = model.meta.get("window_choice")
    assert (record is not None) == (voice in WINDOW_VOICES)
    if record is not None:
        from training.window import choose_window

        snapshots = list(range(250, steps + 1, 250))
        assert record["own_first"] == min(s for s in snapshots if s >= steps // 4)
        assert sorted(int(f) for f in record["shortfall"]) == snapshots
        assert (record["n"], record["seed"]) == (40, 1)
        rows = [dict(first=int(f), shortfall=x) for f, x in record["shortfall"].items()]
        chosen = choose_window(rows, record["own_first"])["first"]
        assert chosen == record["chosen_first"] == model.meta["weights_averaged"]["first"]


def _assert_output_filter_is_the_tools_choice(model, voices, eq):
    """`model`'s output filter is training/match_eq.py's: each fitted voice's strength the least short
    of its record (ties the weaker), a filter where one is above 0 and the unit impulse elsewhere."""
    from training.match_eq import choose_strength

    record = model.meta.get("output_filter_choice")
    assert (record is not None) == (eq is not None)
    if record is None:
        assert model.output_filter is None
        return
    fitted = list(voices) if eq == "all" else eq.split(",")
    assert sorted(record["voices"]) == sorted(fitted)
    assert (record["n"], record["seed"], record["fit_seed"], record["taps"]) == (100, 6, 7, 1024)
    for v in model.voices:
        h = model.output_filter_of(v)
        r = record["voices"].get(v)
        strength = choose_strength({float(k): x for k, x in r["shortfall"].items()}) if r else 0
        assert (r or {}).get("strength", 0) == strength, v
        if strength:
            assert h.shape == (1024,) and np.any(h[1:] != 0), v
        else:
            assert h is None or (h[0] == 1 and not np.any(h[1:])), v


@pytest.mark.parametrize("voice", ONE_VOICE_MODELS)
def test_the_shipped_output_filters_are_the_scripts(tmp_path, voice):
    """The script fits the output filter of the voices in EQ_MODELS last (training/match_eq.py, in
    place), and each shipped file holds the tool's choice."""
    import fastdrum

    calls = _run(tmp_path, MODELS=voice)
    eq = EQ_MODELS.get(voice)
    assert (_step(calls[-1]) == "training.match_eq") == (eq is not None)
    if eq is not None:
        assert calls[-1][2] == calls[-1][4] and calls[-1][3] == "-o"
        assert ("--voices" in calls[-1]) == (eq != "all")
    model = fastdrum.load_model(voice)
    assert (model.format_version == 5) == (eq is not None)
    _assert_output_filter_is_the_tools_choice(model, model.voices, eq)


def test_the_shipped_models_fit_in_10_mb_and_each_has_a_card():
    """Issue 12's size budget: the shipped model files together under 10 MB (10**7 bytes), each with
    the model card of its own name beside it; and each of the script's one-voice models is shipped."""
    import fastdrum.models

    folder = os.path.dirname(fastdrum.models.__file__)
    models = sorted(f for f in os.listdir(folder) if f.endswith(".npz"))
    assert sum(os.path.getsize(os.path.join(folder, f)) for f in models) < 10**7
    for name in models:
        assert os.path.isfile(os.path.join(folder, name[: -len(".npz")] + ".md")), name
    assert {f"{v}.npz" for v in ONE_VOICE_MODELS} | {"drums.npz"} == set(models)
