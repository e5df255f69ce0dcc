"""Choose among runs of one recipe on different training seeds by the clips each generates.

Runs of one recipe that differ only in the training seed differ in sound more than most levers
measured: the kick's recipe fell 3.58, 1.06 and 0.58 short on training seeds 0, 1 and 2, the clap's
3.08, 2.95 and 4.32 (docs/evaluation.md). Each candidate file, already averaged, rounded and tuned,
generates its voices at its own default sampling settings and is judged against the held-out kits as
the evaluation judges (:func:`training.tune.shortfall`, summed over the voices); the least short wins,
ties (files that all pass, most often) the one of the largest margin (:func:`training.tune.margin`, the
least over the voices: how far inside the criteria it stands on the one nearest failing), then the
first given::

    python -m training.seeds runs/kick-seed0.npz runs/kick-seed1.npz runs/kick-seed2.npz \\
        -o runs/kick-seeds0-2.npz

Each file is judged as ``python -m training.evaluate FILE -n N --seed S`` judges it (the seed draws
the clips and the classifier's noise class). The screen's clips are 100 a voice of seed 5 by default:
no clip of that seed is drawn by training.tune (seed 1, its guidance checks 2-4), training.window
(seed 1) or the evaluation's own figures (seed 0), so the chosen file's evaluation is judged on clips
the choice never saw. The candidates must be one recipe: the same training options but the seed
(and where the files went).
``meta["seed_choice"]`` of the output records every candidate's training seed and shortfall, the
clips judged and the choice.
"""

import argparse
import sys

import fastdrum
from fastdrum import _io

from . import window
from .errors import ConfigError
from .tune import margin, shortfall

__all__ = ["judge_seeds", "choose_seed", "seed_chosen_model", "main"]

#: Training options in which runs of one recipe may differ: the seed and where the run went.
RUN_OPTIONS = ("seed", "out", "run_dir", "resume")


def _recipe(model, path):
    cfg = (model.meta or {}).get("config")
    if not isinstance(cfg, dict) or "seed" not in cfg:
        raise ConfigError(
            f"{path}: no training config with a seed (meta['config']): not a run's file"
        )
    return {k: v for k, v in cfg.items() if k not in RUN_OPTIONS}


def check_one_recipe(models, paths):
    """The candidates' training seeds; :class:`ConfigError` naming the file and option where one
    is not the first's recipe (its options but :data:`RUN_OPTIONS`, its voices), or a seed repeats."""
    first = _recipe(models[0], paths[0])
    for m, path in zip(models[1:], paths[1:]):
        cfg = _recipe(m, path)
        differ = sorted(k for k in set(first) | set(cfg) if first.get(k) != cfg.get(k))
        if differ:
            raise ConfigError(
                f"{path}: not {paths[0]}'s recipe: training option {differ[0]} "
                f"{cfg.get(differ[0])!r} against {first.get(differ[0])!r}"
            )
        if list(m.voices or ()) != list(models[0].voices or ()):
            raise ConfigError(f"{path}: voices {m.voices} against {models[0].voices}")
    seeds = [int(m.meta["config"]["seed"]) for m in models]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"training seeds {seeds}: a seed is given twice")
    return seeds


def judge_seeds(models, judge):
    """One row per model: ``{"seed", "shortfall", "voices", "margin"}``, its
    :func:`training.tune.shortfall` per voice of ``judge(model, voice)`` (an evaluation row) and
    summed, and the least :func:`training.tune.margin` over the voices."""
    rows = []
    for m in models:
        judged = {v: judge(m, v) for v in (m.voices or (None,))}
        per = {v: shortfall(r) for v, r in judged.items()}
        rows.append(
            dict(
                seed=int(m.meta["config"]["seed"]),
                shortfall=sum(per.values()),
                voices=per,
                margin=min(margin(r) for r in judged.values()),
            )
        )
    return rows


def choose_seed(rows):
    """The index of the row of least shortfall; ties: the largest margin (a row without one, 0),
    then the first."""
    return min(
        range(len(rows)), key=lambda i: (rows[i]["shortfall"], -rows[i].get("margin", 0.0), i)
    )


def seed_chosen_model(model, rows, chosen, *, n, seed):
    """`model` (the chosen candidate) with the screen recorded in ``meta["seed_choice"]``."""
    meta = dict(model.meta)
    meta["seed_choice"] = dict(
        n=n,
        seed=seed,
        seeds=[r["seed"] for r in rows],
        chosen=rows[chosen]["seed"],
        shortfall={str(r["seed"]): round(r["shortfall"], 3) for r in rows},
        margin={str(r["seed"]): round(r["margin"], 3) for r in rows if "margin" in r},
    )
    model.meta = meta
    return model


def _judge(real, n, seed):
    return window._judge(real, n, seed, label=lambda m: f"training seed {m.meta['config']['seed']}")


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m training.seeds", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("models", nargs="+", help="the runs' averaged, tuned model files (.npz)")
    window.screen_options(p, n=100, each="file", seed=5, why="see above")
    args = p.parse_args(argv)
    if args.n < 2:
        p.error("-n must be at least 2 (duplicate pairs need two clips)")
    if len(args.models) < 2:
        p.error("give at least two model files to choose from")
    try:
        _io.check_dest(args.out, overwrite=args.overwrite)  # before minutes of judging, not after
        models = [fastdrum.load_model(path) for path in args.models]
        check_one_recipe(models, args.models)
        real = window.real_clips(models[0], args.kits, seed=args.seed)
        rows = judge_seeds(models, _judge(real, args.n, args.seed))
        chosen = choose_seed(rows)
        out = seed_chosen_model(models[chosen], rows, chosen, n=args.n, seed=args.seed)
        out.save(args.out, overwrite=args.overwrite)
    except fastdrum.FastDrumError as exc:
        print(f"python -m training.seeds: error: {exc}", file=sys.stderr)
        return 2
    print("| file | training seed | shortfall | margin |")
    print("|---|---|---|---|")
    for path, r in zip(args.models, rows):
        print(f"| {path} | {r['seed']} | {r['shortfall']:.2f} | {r['margin']:.2f} |")
    print(f"{args.out}: training seed {rows[chosen]['seed']} ({args.models[chosen]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
