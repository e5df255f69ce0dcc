"""Choose a run's averaging window by the clips it generates.

The shipped weights are the mean of a run's snapshots from a first step to the end (training/average.py);
the recipe's first step is a quarter of the run, a window never judged on sound. Validation loss does
not tell two windows apart (runs 0.004 nats apart were opposite in sound: docs/evaluation.md), so each
candidate window (by default: each snapshot step as the first, to the run's last) is averaged, rounded to
float16 values as shipped, and its voices generated at the model's own default sampling settings and
judged against the held-out kits as the tuner's screen is (:func:`training.tune.shortfall`, summed over
the voices). The least wins; ties go to the model's own window, then to the earlier first step (the
longer mean)::

    python -m training.window runs/kick-seed0.npz --run-dir runs/kick-seed0 -o runs/kick-seed0.npz --overwrite

The sampling defaults were tuned on the model's own window: after a change of window, tune again
(``python -m training.tune``; the output drops the stale tuning records and says so).
``meta["window_choice"]`` records every candidate's shortfall, the clips judged and the choice.
"""

import argparse
import sys

import numpy as np

import fastdrum
from fastdrum import FastDrumError, _io

from .average import averaged_model, snapshot_steps
from .tune import shortfall

__all__ = ["judge_windows", "choose_window", "windowed_model", "main"]

#: The tuning records of a model's sampling defaults (training/tune.py): screens of the old weights.
TUNING_RECORDS = ("temperature_tuning", "guidance_tuning")


def voice_shortfalls(model, judge):
    """``{voice: shortfall}`` of ``judge(model, voice)`` (an evaluation row) for each of `model`'s voices."""
    return {v: shortfall(judge(model, v)) for v in (model.voices or (None,))}


def judge_windows(model, run_dir, firsts, judge):
    """One row per first step of `firsts`: ``{"first", "last", "snapshots", "shortfall", "voices"}``.

    Each window (the snapshots from `first` to the run's last) is averaged into `model`'s frame and
    rounded as shipped; ``judge(candidate_model, voice)`` gives the evaluation row of the voice's clips
    (:func:`training.evaluate.evaluate_clips`), whose :func:`training.tune.shortfall` is kept per voice
    and summed.
    """
    rows = []
    for first in firsts:
        m = averaged_model(model, run_dir, first).round_weights()
        w = m.meta["weights_averaged"]
        per = voice_shortfalls(m, judge)
        rows.append(
            dict(
                first=w["first"],
                last=w["last"],
                snapshots=w["snapshots"],
                shortfall=sum(per.values()),
                voices=per,
            )
        )
    return rows


def choose_window(rows, own_first=None):
    """The row of least shortfall; ties: the window starting at `own_first`, then the earlier."""
    return min(rows, key=lambda r: (r["shortfall"], r["first"] != own_first, r["first"]))


def windowed_model(model, run_dir, rows, chosen, *, n, seed):
    """`model` with the rounded mean weights of `chosen`'s window and the screen recorded in
    ``meta["window_choice"]``; when the window is not the model's own, its tuning records
    (:data:`TUNING_RECORDS`) are dropped: they judged other weights. The default sampling settings stay."""
    own = (model.meta.get("weights_averaged") or {}).get("first")
    out = averaged_model(model, run_dir, chosen["first"]).round_weights()
    meta = dict(out.meta)
    if chosen["first"] != own:
        for key in TUNING_RECORDS:
            meta.pop(key, None)
    meta["window_choice"] = dict(
        n=n,
        seed=seed,
        own_first=own,
        chosen_first=chosen["first"],
        shortfall={str(r["first"]): round(r["shortfall"], 3) for r in rows},
    )
    out.meta = meta
    return out


def _firsts(text):
    try:
        firsts = [int(s) for s in text.split(",")]
    except ValueError:
        firsts = []
    if not firsts or min(firsts) < 0:
        raise argparse.ArgumentTypeError(f"expected steps like 250,500,1000, got {text!r}")
    return firsts


def _window_label(m):
    w = m.meta["weights_averaged"]
    return f"window {w['first']}..{w['last']}"


def _judge(real, n, seed, label=_window_label):
    """``judge(model, voice)``: the evaluation row of `n` clips of `seed` at the model's default
    sampling settings (a line on stderr gives ``label(model)`` and the shortfall)."""
    from .evaluate import evaluate_clips

    def judge(m, voice):
        y = fastdrum.generate(m, n, seed=seed, voice=voice)
        row = evaluate_clips(np.asarray(y, dtype=np.float64), voice, real)
        print(f"{label(m)}, {voice}: {shortfall(row):.2f} short", file=sys.stderr)
        return row

    return judge


def screen_options(p, *, n, each, seed, why):
    """The options of a screen by generated clips: -n, --seed, --kits, -o and --overwrite."""
    from .evaluate import DEFAULT_KITS

    p.add_argument("-n", type=int, default=n, help=f"clips a voice and {each} (default {n})")
    p.add_argument(
        "--seed", type=int, default=seed, help=f"seed of the clips (default {seed}, {why})"
    )
    p.add_argument("--kits", default=DEFAULT_KITS, help="folder of Hydrogen kits")
    p.add_argument("-o", "--out", required=True, help="the chosen model file (.npz)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def real_clips(model, kits, seed=0):
    """The held-out real clips `model` is judged against (its held-out kits in folder `kits`, its
    extra data folders' held-out clips), at its sample rate; `seed` draws the classifier's noise
    class (training.evaluate's ``--seed`` does the same; this tool's screen keeps 0)."""
    from .evaluate import RealClips, data_folders, holdout_for

    return RealClips(
        model.sample_rate,
        kits=[kits],
        holdout_kits=holdout_for(model),
        data_dirs=data_folders(model),
        seed=seed,
    )


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m training.window", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("model", help="the run's averaged, tuned model file (.npz)")
    p.add_argument("--run-dir", required=True, help="the run directory holding snapshots/")
    p.add_argument(
        "--firsts",
        type=_firsts,
        default=None,
        help="the candidate first steps, e.g. 250,750,1500 (default: every snapshot's step)",
    )
    screen_options(p, n=40, each="window", seed=1, why="the tuner's")
    args = p.parse_args(argv)
    if args.n < 2:
        p.error("-n must be at least 2 (duplicate pairs need two clips)")
    try:
        _io.check_dest(args.out, overwrite=args.overwrite)  # before minutes of judging, not after
        model = fastdrum.load_model(args.model)
        firsts = args.firsts or snapshot_steps(args.run_dir)
        judge = _judge(real_clips(model, args.kits), args.n, args.seed)
        rows = judge_windows(model, args.run_dir, firsts, judge)
        own = (model.meta.get("weights_averaged") or {}).get("first")
        chosen = choose_window(rows, own)
        out = windowed_model(model, args.run_dir, rows, chosen, n=args.n, seed=args.seed)
        out.save(args.out, overwrite=args.overwrite)
    except FastDrumError as exc:
        print(f"python -m training.window: error: {exc}", file=sys.stderr)
        return 2
    print("| window | snapshots | shortfall |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['first']}..{r['last']} | {r['snapshots']} | {r['shortfall']:.2f} |")
    again = "" if chosen["first"] == own else " (not the model's own: tune it again)"
    print(f"{args.out}: window {chosen['first']}..{chosen['last']}{again}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
