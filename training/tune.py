"""Choose each voice's default sampling settings by judging generated clips: ``python -m training.tune``.

One setting does not fit every voice of a conditioned model (docs/evaluation.md: at temperature 0.8
kicks lose their hiss while snares and cymbals turn 7 dB too dark; at 1.0 open hats stop decaying).
For every voice and every pair of a temperature of ``--temperatures`` and an epsilon (the probability
cutoff of epsilon sampling, :func:`fastdrum.generate`) of ``--epsilons``, this generates ``-n`` raw
clips and judges them as ``python -m training.evaluate`` does, against the kits the model's run held
out. A voice gets the pair whose clips fall least short of the criteria (:func:`shortfall`; ties go to
the temperature nearest 1, then the smallest epsilon: the settings that change the learned
distribution least), recorded as its defaults in ``meta["voices"][voice]["temperature"]`` and
``["epsilon"]``, with the figures behind the choice in ``meta["temperature_tuning"]``::

    python -m training.tune runs/drums-seed0.npz -o runs/drums-seed0.npz --overwrite

The clips are drawn with ``--seed`` 1 by default: the evaluation's own figures use seed 0, so the
choice is not made on the clips it is then judged on. ``--confirm K`` judges each voice's K best
pairs again on ``--confirm-n`` clips of seed ``--seed`` + 1 and takes the best of those: the least
shortfall of a dozen noisy screens flatters its pair (:func:`confirm`). ``--reuse-screen`` takes the
screen from the model's own record (a model tuned before, on the same grid, ``-n`` and ``--seed``) and
judges only the second time: a tuned model gets its confirmation in the time of that step alone::

    python -m training.tune drums.npz -o drums-confirmed.npz --reuse-screen --confirm 3

``--guidance W,W,...`` then tries negative-voice guidance (:func:`fastdrum.generate`'s
``negative_voice`` and ``guidance``) on each voice at its chosen pair: every voice of
:data:`NEIGHBOURS` that the model has, at every weight, judged on the same clips, beside the chosen
pair without guidance; the least short wins (ties: none). Guidance runs a second row of the
network for every clip (1.5x to 1.8x the time), so a voice keeps its winner only if it also falls less
short than without on each of ``--guidance-seeds`` K fresh sets of ``-n`` clips (seeds ``--seed`` + 1
to ``--seed`` + K; default 3; :func:`confirm_guidance`): on the shipped model the screen's winners
had won by 0.02 and 0.05, where the paired difference between seeds had an SD of 1.01 and 0.37
(docs/evaluation.md, "Guidance that earns its cost"). The choice is recorded as ``meta["voices"][voice]["negative_voice"]``
and ``["guidance"]``, the figures in ``meta["guidance_tuning"]`` (the fresh seeds' in its
``"confirm"``). ``--guidance-only`` keeps the model's own defaults (temperature, epsilon) and judges
guidance alone; with ``--reuse-screen`` too it takes the guidance screen from the model's record and
judges only the fresh seeds::

    python -m training.tune drums.npz -o drums-guided.npz --guidance 0.5,1 --guidance-only
    python -m training.tune drums.npz -o drums-confirmed.npz --guidance 0.5,1,2 --guidance-only --reuse-screen
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

import fastdrum
from fastdrum import FastDrumError, _checks

from .average import SNAPSHOT_KEYS, model_with_arrays, with_temperatures
from .evaluate import decay_time_factors
from .voices import ANY_VOICE

__all__ = [
    "DEFAULT_GRID",
    "DEFAULT_EPSILONS",
    "NEIGHBOURS",
    "shortfall",
    "choose",
    "confirm",
    "recorded_screen",
    "choose_guidance",
    "confirm_guidance",
    "recorded_guidance",
    "tuned_model",
    "main",
]

#: The temperatures tried by default (0.7 was never chosen for a voice of the recipe; 1.1 with a
#: cutoff lets toms ring as long as real ones; the shipped snare and clap were tuned to 1.1, the edge
#: of the grid before 1.2 and 1.3 were added; then the snare chose 1.2, the high tom and the crash 1.3,
#: the new edge: docs/evaluation.md, "A wider tuning grid").
DEFAULT_GRID = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)

#: The epsilons (sampling cutoffs) tried by default, each with every temperature: a cutoff takes the
#: hiss out of tonal voices (toms, kicks), but also the noise that snares and cymbals are made of, so
#: 0 (no cutoff) is always tried too.
DEFAULT_EPSILONS = (0.0, 0.005, 0.01)

#: The voices each voice is steered away from when ``--guidance`` is tried: its neighbours in a kit
#: (the same family, the next pitch or the next articulation), not the classifier's confusions, which
#: would fit the choice to the judge: the snare's is the clap, though snares are mistaken for rides
#: (docs/evaluation.md, "Negative-voice guidance", says which runs came before this table).
NEIGHBOURS = {
    "kick": ("tom_low",),
    "snare": ("clap",),
    "hihat": ("openhat",),
    "openhat": ("hihat",),
    "clap": ("snare",),
    "tom_low": ("tom_mid",),
    "tom_mid": ("tom_low", "tom_high"),
    "tom_high": ("tom_mid",),
    "crash": ("ride",),
    "ride": ("crash",),
}


def shortfall(row):
    """How far an evaluation row (training.evaluate.evaluate_clips) falls short of the criteria.

    The sum over the criteria of the distance to passing, each in a unit of its own scale: dB beyond
    the 3 dB hiss band (per 3 dB), rumble more than 3 dB above the real clips' (per 3 dB; a row judged
    before that criterion, 2026-12-03, has no ``lf_db`` and no such term), decay below 90% (per 10
    points), more than 10% quiet clips (per 10 points; :func:`training.evaluate.quiet_share`, a row
    judged before that criterion, 2026-12-06, has no ``quiet`` and no such term), a decay time further
    from the real clips' than allowed (per doubling,
    :func:`training.evaluate.decay_time_factors`), log-mel distance above the real kits' (per dB),
    recognition below the real clips' minus 5 points (per 10 points), copies above 10% and duplicate
    pairs above 5% (per 10 points). 0 when the row passes.
    """
    factor, allowed = decay_time_factors(row)
    return (
        max(0.0, abs(row["hf_db"] - row["hf_db_real"]) - 3.0) / 3.0
        + (max(0.0, row["lf_db"] - row["lf_db_real"] - 3.0) / 3.0 if "lf_db" in row else 0.0)
        + max(0.0, 0.9 - row["decaying"]) / 0.1
        + (max(0.0, row["quiet"] - 0.10) / 0.1 if "quiet" in row else 0.0)
        + max(0.0, math.log2(factor / allowed))
        + max(0.0, row["mel_db"] - row["mel_db_real"])
        + max(0.0, row["recognised_real"] - 0.05 - row["recognised"]) / 0.1
        + max(0.0, row["copy_rate"] - 0.10) / 0.1
        + max(0.0, row["duplicate_pair_rate"] - 0.05) / 0.1
    )


def margin(row):
    """How far an evaluation row stands inside the criteria on the one nearest failing: the least,
    over the criteria, of the distance to failing in :func:`shortfall`'s units (dB of hiss per 3 dB,
    points of decay per 10, ...; a doubling of the decay time's factor, a dB of log-mel distance).
    Positive when the row passes (it passes every criterion by at least that much), negative or 0
    when it does not. The tie-break among rows that all pass (:func:`training.seeds.choose_seed`)."""
    factor, allowed = decay_time_factors(row)
    slack = [
        (3.0 - abs(row["hf_db"] - row["hf_db_real"])) / 3.0,
        (row["decaying"] - 0.9) / 0.1,
        math.log2(allowed / factor),
        row["mel_db_real"] - row["mel_db"],
        (row["recognised"] - (row["recognised_real"] - 0.05)) / 0.1,
        (0.10 - row["copy_rate"]) / 0.1,
        (0.05 - row["duplicate_pair_rate"]) / 0.1,
    ]
    if "lf_db" in row:
        slack.append((3.0 - (row["lf_db"] - row["lf_db_real"])) / 3.0)
    if "quiet" in row:
        slack.append((0.10 - row["quiet"]) / 0.1)
    return min(slack)


def choose(voices, grid, judge):
    """``({voice: (temperature, epsilon)}, rows)``: for each voice, the pair of `grid` whose row
    ``judge(voice, temperature, epsilon)`` has the least :func:`shortfall` (ties: the temperature
    nearest 1.0, then the lower, then the smaller epsilon)."""
    chosen, rows = {}, []
    for v in voices:
        chosen[v], judged = _best(v, grid, judge)
        rows += judged
    return chosen, rows


def _order(row):
    """A judged row's rank: least shortfall, then the temperature nearest 1.0, then the lower, then
    the smaller epsilon (the settings that change the learned distribution least)."""
    return (row["shortfall"], abs(row["temperature"] - 1.0), row["temperature"], row["epsilon"])


def _best(voice, pairs, judge):
    """``((temperature, epsilon), rows)``: `pairs` of `voice` judged, each row with its
    :func:`shortfall`, and the first of them by :func:`_order`."""
    rows = []
    for t, eps in pairs:
        row = dict(judge(voice, t, eps), voice=voice, temperature=t, epsilon=eps)
        row["shortfall"] = shortfall(row)
        rows.append(row)
    best = min(rows, key=_order)
    return (best["temperature"], best["epsilon"]), rows


def confirm(rows, k, judge):
    """``({voice: (temperature, epsilon)}, confirm_rows)``: each voice's `k` best pairs of the screen
    `rows` (:func:`choose`'s, in its order: least shortfall, then its ties) judged again by
    ``judge(voice, temperature, epsilon)`` (other clips, more of them), and the least shortfall of
    those taken, ties as in :func:`choose`.

    The screen's least shortfall is the best of many noisy figures, so it flatters its pair (the
    winner's curse); a second judgement of the few best on fresh clips does not.
    """
    chosen, out = {}, []
    for v in dict.fromkeys(r["voice"] for r in rows):
        best = sorted((r for r in rows if r["voice"] == v), key=_order)[:k]
        chosen[v], judged = _best(v, [(r["temperature"], r["epsilon"]) for r in best], judge)
        out += judged
    return chosen, out


def choose_guidance(chosen, weights, judge, neighbours=None):
    """``({voice: (negative voice, weight) or None}, rows)``: each voice of `chosen` (``{voice:
    (temperature, epsilon)}``) judged at its pair without guidance, then with every voice of
    `neighbours` (default :data:`NEIGHBOURS`; those the model lacks are left to the caller to drop)
    at every weight of `weights`, by ``judge(voice, temperature, epsilon, negative, weight)``; the
    least :func:`shortfall` wins, ties to no guidance, then the smaller weight."""
    neighbours = NEIGHBOURS if neighbours is None else neighbours
    out, rows = {}, []
    for v, (t, eps) in chosen.items():
        judged = [_guided_row(judge, v, t, eps, u, w) for u, w in _tries(v, weights, neighbours)]
        out[v] = _pick(judged)
        rows += judged
    return out, rows


def confirm_guidance(chosen, choice, judges):
    """``({voice: (negative voice, weight) or None}, rows)``: each voice that `choice` (of
    :func:`choose_guidance`) guides, judged again at its pair of `chosen` without guidance and with
    its pick by each ``(seed, judge)`` of `judges` (fresh clips, one seed each); the voice keeps
    its pick only where it falls less short than without on every one of them.

    Guidance runs a second row of the network for every clip (1.5x to 1.8x the time a sample,
    docs/benchmarks.md), and the screen's least shortfall is the best of several noisy figures: a
    pick with no real effect wins each fresh judgement about half the time, all K of them about one
    time in 2 ** K.
    """
    out, rows = dict(choice), []
    for v, pick in choice.items():
        if pick is None:
            continue
        t, eps = chosen[v]
        wins = []
        for seed, judge in judges:
            plain, guided = (
                _guided_row(judge, v, t, eps, u, w, seed=seed) for u, w in ((None, 0.0), pick)
            )
            rows += [plain, guided]
            wins.append(guided["shortfall"] < plain["shortfall"])
        out[v] = pick if all(wins) else None
    return out, rows


def recorded_guidance(model, chosen, weights, neighbours, *, n, seed):
    """``({voice: (negative voice, weight) or None}, rows)`` as :func:`choose_guidance` would judge
    them, from the screen `model` recorded in ``meta["guidance_tuning"]`` (:func:`tuned_model`).

    Raises :class:`fastdrum.ModelFormatError` naming what differs if the model has no record, or one
    of other weights, `n` or `seed`, or one that lacks a try of a voice of `chosen`. The record's
    shortfalls are rounded to 3 decimals: a tie there that was not one when judged goes to no
    guidance, then the smaller weight.
    """
    where = model.path or "the model"
    rec = model.meta.get("guidance_tuning")
    if not isinstance(rec, dict) or not isinstance(rec.get("shortfall"), dict):
        raise fastdrum.ModelFormatError(f"{where}: no guidance screen recorded to reuse")
    what = f"{where}: its recorded guidance screen"
    _check_record(rec, what, weights=[float(w) for w in weights], n=n, seed=seed)

    out, rows = {}, []
    for v, (t, eps) in chosen.items():
        judged = []
        for u, w in _tries(v, weights, neighbours):
            row = dict(voice=v, temperature=t, epsilon=eps, negative_voice=u, guidance=w)
            judged.append(dict(row, shortfall=_recorded(rec, _guided_key(row), what)))
        out[v] = _pick(judged)
        rows += judged
    return out, rows


def _tries(voice, weights, neighbours):
    """The settings :func:`choose_guidance` judges for `voice`: none, then each neighbour at each
    weight."""
    return [(None, 0.0)] + [(u, w) for u in neighbours.get(voice, ()) for w in weights if w > 0]


def _guided_row(judge, v, t, eps, u, w, **extra):
    """``judge(v, t, eps, u, w)``'s row, named by its settings, with its :func:`shortfall`."""
    row = dict(
        judge(v, t, eps, u, w),
        voice=v,
        temperature=t,
        epsilon=eps,
        negative_voice=u,
        guidance=w,
        **extra,
    )
    row["shortfall"] = shortfall(row)
    return row


def _pick(judged):
    """The least short of a voice's judged guidance rows (ties: no guidance, then the smaller
    weight) as ``(negative voice, weight)``, or None."""
    best = min(judged, key=lambda r: (r["shortfall"], r["guidance"]))
    return None if best["negative_voice"] is None else (best["negative_voice"], best["guidance"])


def recorded_screen(model, voices, grid, *, n, seed):
    """The screen rows (voice, temperature, epsilon, shortfall) of `voices` on `grid` recorded in
    `model`'s ``meta["temperature_tuning"]`` by :func:`tuned_model`, in :func:`choose`'s order.

    Raises :class:`fastdrum.ModelFormatError` naming what differs if the model has no record, or one
    of another grid, `n` or `seed`, or one that lacks a pair of `voices` x `grid`.
    """
    where = model.path or "the model"
    rec = model.meta.get("temperature_tuning")
    if not isinstance(rec, dict) or not isinstance(rec.get("shortfall"), dict):
        raise fastdrum.ModelFormatError(f"{where}: no tuning screen recorded to reuse")
    if rec.get("grid") != [list(pair) for pair in grid]:
        raise fastdrum.ModelFormatError(
            f"{where}: its recorded screen is of {_pairs_text(rec.get('grid'))}, not "
            f"{_pairs_text(grid)} as asked"
        )
    _check_record(rec, f"{where}: its recorded screen", n=n, seed=seed)
    rows = []
    for v in voices:
        for t, eps in grid:
            row = dict(voice=v, temperature=t, epsilon=eps)
            value = _recorded(rec, _key(row), f"{where}: its recorded screen")
            rows.append(dict(row, shortfall=value))
    return rows


def _check_record(rec, what, **want):
    """ModelFormatError unless the tuning record `rec` has each of `want`'s values."""
    for k, value in want.items():
        if rec.get(k) != value:
            raise fastdrum.ModelFormatError(
                f"{what} has {k} = {_checks.short(rec.get(k))}, not {value} as asked"
            )


def _recorded(rec, key, what):
    """The shortfall the tuning record `rec` holds for `key`: a number >= 0, else ModelFormatError."""
    value = rec["shortfall"].get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise fastdrum.ModelFormatError(f"{what} has no shortfall >= 0 for {key}")
    return float(value)


def _pairs_text(grid):
    """A tuning grid of (temperature, epsilon) pairs in words: its temperatures and epsilons."""
    try:
        temps, eps = (sorted({float(p[i]) for p in grid}) for i in (0, 1))
    except (TypeError, ValueError, IndexError, KeyError):
        return f"grid {_checks.short(grid)}"
    return f"temperatures {temps} and epsilons {eps}"


def _key(row):
    """A row's name in ``meta["temperature_tuning"]["shortfall"]``: ``voice@temperature/epsilon``."""
    return f"{row['voice']}@{row['temperature']}/{row['epsilon']}"


def _guided_key(row):
    """A row's name in ``meta["guidance_tuning"]["shortfall"]``: ``voice@T/eps`` and, with
    guidance, ``-negative*weight``."""
    key = _key(row)
    return (
        key if row["negative_voice"] is None else f"{key}-{row['negative_voice']}*{row['guidance']}"
    )


def tuned_model(
    model, chosen, *, grid, n, seed, rows, confirmed=None, guided=None, guidance_confirmed=None
):
    """`model` with `chosen` (``{voice: (temperature, epsilon)}``) as its voices' default sampling
    settings and the tuning recorded in its meta (with `confirmed`, ``(n, seed, rows)`` of
    :func:`confirm`, its second judgement too; with `guided`, ``(weights, choice, rows)`` of
    :func:`choose_guidance`, each voice's negative voice and guidance, or none, and with
    `guidance_confirmed`, ``(n, seeds, rows)`` of :func:`confirm_guidance`, its fresh judgements:
    `guided`'s choice is then the one they left). A `grid` of None
    keeps the model's record of its temperature tuning as it is (``--guidance-only``). Temperatures
    tuned without `guided` drop the guidance defaults of the voices of `chosen` (and the record of
    their tuning): they were chosen at the old temperatures and were not judged at the new ones."""
    meta = with_temperatures(model, {v: t for v, (t, _) in chosen.items()})
    for v, (_, eps) in chosen.items():
        meta["voices"][v]["epsilon"] = _checks.epsilon(eps, error=fastdrum.ModelFormatError)
    if guided is None and grid is not None:
        for v in chosen:
            meta["voices"][v].pop("negative_voice", None)
            meta["voices"][v].pop("guidance", None)
        meta.pop("guidance_tuning", None)
    if guided is not None:
        weights, choice, grows = guided
        for v, pick in choice.items():
            meta["voices"][v].pop("negative_voice", None)
            meta["voices"][v].pop("guidance", None)
            if pick is not None:
                meta["voices"][v]["negative_voice"], meta["voices"][v]["guidance"] = pick
        meta["guidance_tuning"] = dict(
            weights=list(weights),
            n=n,
            seed=seed,
            shortfall={_guided_key(r): round(r["shortfall"], 3) for r in grows},
        )
        if guidance_confirmed is not None:
            gn, seeds, crows = guidance_confirmed
            meta["guidance_tuning"]["confirm"] = dict(
                n=gn,
                seeds=list(seeds),
                shortfall={
                    str(s): {
                        _guided_key(r): round(r["shortfall"], 3) for r in crows if r["seed"] == s
                    }
                    for s in seeds
                },
            )
    if grid is not None:
        meta["temperature_tuning"] = dict(
            grid=[list(pair) for pair in grid],
            n=n,
            seed=seed,
            shortfall={_key(r): round(r["shortfall"], 3) for r in rows},
        )
    if confirmed is not None:
        cn, cseed, crows = confirmed
        meta["temperature_tuning"]["confirm"] = dict(
            n=cn, seed=cseed, shortfall={_key(r): round(r["shortfall"], 3) for r in crows}
        )
    arrays = {k: model.weights[k] for k in SNAPSHOT_KEYS if k in model.weights}
    return model_with_arrays(model, arrays, meta, model.path or "the model")


def _grid(text):
    try:
        grid = tuple(float(t) for t in text.split(","))
        for t in grid:
            _checks.temperature(t, error=ValueError)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected temperatures like 0.8,0.9,1.0: {exc}") from None
    if not grid or any(t == 0 for t in grid):
        raise argparse.ArgumentTypeError("expected sampling temperatures above 0, like 0.8,0.9,1.0")
    return grid


def _epsilons(text):
    try:
        grid = tuple(_checks.epsilon(float(e), error=ValueError) for e in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected epsilons like 0,0.01,0.02: {exc}") from None
    return grid


def _weights(text):
    try:
        weights = tuple(
            _checks.number(
                "guidance",
                float(w),
                lo=0.0,
                hi=_checks.GUIDANCE_RANGE[1],
                lo_open=True,
                error=ValueError,
            )
            for w in text.split(",")
        )
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected guidance weights like 0.5,1: {exc}") from None
    return weights


def _parser():
    from .evaluate import DEFAULT_KITS

    p = argparse.ArgumentParser(
        prog="python -m training.tune", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("model", help="a conditioned model file (.npz)")
    p.add_argument("-o", "--out", required=True, help="the tuned model file (.npz)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--temperatures",
        type=_grid,
        default=DEFAULT_GRID,
        metavar="T,T,...",
        help="the temperatures tried (default: " + ",".join(map(str, DEFAULT_GRID)) + ")",
    )
    p.add_argument(
        "--epsilons",
        type=_epsilons,
        default=DEFAULT_EPSILONS,
        metavar="E,E,...",
        help="the sampling cutoffs tried with each temperature (default: "
        + ",".join(map(str, DEFAULT_EPSILONS))
        + ")",
    )
    p.add_argument(
        "--guidance",
        type=_weights,
        default=(),
        metavar="W,W,...",
        help="then try negative-voice guidance at these weights (> 0) against each voice's "
        f"neighbours (NEIGHBOURS; and {ANY_VOICE!r}, a model trained with --voice-dropout), at its "
        "chosen pair (default: none, and a voice's guidance default is dropped with its old "
        "temperature)",
    )
    p.add_argument(
        "--guidance-seeds",
        type=int,
        default=3,
        metavar="K",
        help="a voice keeps the guidance it won with only if it also falls less short than "
        "without on -n clips of each of K fresh seeds (--seed + 1 .. --seed + K; default 3; "
        "0: the screen alone decides)",
    )
    p.add_argument(
        "--guidance-only",
        action="store_true",
        help="keep the model's default temperatures and epsilons and judge --guidance alone",
    )
    p.add_argument("-n", type=int, default=40, help="clips generated per voice and temperature")
    p.add_argument("--seed", type=int, default=1, help="seed of the clips (default 1; see above)")
    p.add_argument("--kits", default=DEFAULT_KITS, help="folder of Hydrogen kits")
    p.add_argument(
        "--confirm",
        type=int,
        default=0,
        metavar="K",
        help="judge each voice's K best pairs again on --confirm-n clips of seed --seed + 1 and "
        "take the best of those (against the screen's winner's curse; default 0: off)",
    )
    p.add_argument(
        "--confirm-n", type=int, default=100, help="clips of the second judgement (default 100)"
    )
    p.add_argument(
        "--reuse-screen",
        action="store_true",
        help="take the screen from the model's recorded tuning (same grid, -n and --seed) instead "
        "of judging it again; needs --confirm (with --guidance-only: the recorded guidance "
        "screen, same --guidance weights, and --guidance-seeds judges only the fresh seeds)",
    )
    return p


def _judge_with(model, real, n, seed):
    """``judge(voice, temperature, epsilon, negative_voice=None, guidance=0)``: the evaluation row
    of `n` clips of `seed` (a line on stderr says what fails)."""
    from .evaluate import evaluate_clips

    def judge(voice, t, eps, negative=None, weight=0.0):
        y = fastdrum.generate(
            model,
            n,
            seed=seed,
            voice=voice,
            temperature=t,
            epsilon=eps,
            negative_voice=negative,
            guidance=weight,
        )
        row = evaluate_clips(np.asarray(y, dtype=np.float64), voice, real)
        failed = [k for k, ok in row["passes"].items() if not ok]
        away = f" away from {negative} x{weight}" if negative is not None else ""
        print(
            f"{voice} T={t} epsilon={eps}{away} ({n} clips, seed {seed}): "
            f"{'fails ' + ', '.join(failed) if failed else 'passes'}",
            file=sys.stderr,
        )
        return row

    return judge


def _print_tables(args, grid, rows, chosen, confirmed, guided=None, gconfirmed=None):
    """The screen's shortfalls (a markdown table), the second judgement's and the choice."""
    if guided is not None:
        for r in guided[2]:
            print(f"{_guided_key(r)}: {r['shortfall']:.2f}")
        for r in gconfirmed[2] if gconfirmed is not None else ():
            print(f"{_guided_key(r)} (seed {r['seed']}): {r['shortfall']:.2f}")
        print(f"{args.out}: negative voice and guidance {guided[1]}")
    if grid is None:
        return
    print("| voice | " + " | ".join(f"T {t}, eps {e}" for t, e in grid) + " | chosen |")
    print("|---|" + "---|" * (len(grid) + 1))
    for v, (t, e) in chosen.items():
        cells = [f"{r['shortfall']:.2f}" for r in rows if r["voice"] == v]
        print(f"| {v} | " + " | ".join(cells) + f" | T {t}, eps {e} |")
    if confirmed is not None:
        print(f"\nsecond judgement ({confirmed[0]} clips, seed {confirmed[1]}):")
        for r in confirmed[2]:
            print(f"{_key(r)}: {r['shortfall']:.2f}")
    print(f"{args.out}: default (temperature, epsilon) {chosen}")


def main(argv=None):
    from .evaluate import RealClips, data_folders, holdout_for, model_voices, sampling_settings

    p = _parser()
    args = p.parse_args(argv)
    if args.n < 2 or args.confirm_n < 2:
        p.error("-n and --confirm-n must be at least 2 (duplicate pairs need two clips)")
    if args.confirm < 0:
        p.error(f"--confirm must be 0 (off) or a number of pairs, got {args.confirm}")
    if args.guidance_seeds < 0:
        p.error(f"--guidance-seeds must be 0 (off) or a number of seeds, got {args.guidance_seeds}")
    if args.reuse_screen and not args.confirm and not args.guidance_only:
        p.error("--reuse-screen judges only the second time: give --confirm K too")
    if args.guidance_only and (not args.guidance or args.confirm):
        p.error("--guidance-only judges guidance alone: give --guidance, and not --confirm")
    if args.guidance_only and args.reuse_screen and not args.guidance_seeds:
        p.error(
            "--guidance-only --reuse-screen judges only the fresh seeds: give --guidance-seeds K"
        )
    try:
        model = fastdrum.load_model(args.model)
        voices = model_voices(model)
        if not model.voices:
            raise fastdrum.ModelFormatError(f"{args.model}: not a conditioned model (no voices)")
        grid = [(t, eps) for t in args.temperatures for eps in args.epsilons]
        if args.guidance_only:
            grid = rows = None
            settings = {v: sampling_settings(model, v) for v in voices}
            chosen = {v: (s["temperature"], s["epsilon"]) for v, s in settings.items()}
        if args.reuse_screen and not args.guidance_only:  # the second judgement below chooses
            rows = recorded_screen(model, voices, grid, n=args.n, seed=args.seed)
        real = RealClips(
            model.sample_rate,
            kits=[args.kits],
            holdout_kits=holdout_for(model),
            data_dirs=data_folders(model),
        )
        if not args.reuse_screen and not args.guidance_only:
            chosen, rows = choose(voices, grid, _judge_with(model, real, args.n, args.seed))
        confirmed = None
        if args.confirm:
            cseed = args.seed + 1
            judge = _judge_with(model, real, args.confirm_n, cseed)
            chosen, crows = confirm(rows, args.confirm, judge)
            confirmed = (args.confirm_n, cseed, crows)
        guided = gconfirmed = None
        if args.guidance:
            guided, gconfirmed = _tune_guidance(args, model, voices, chosen, real)
        tuned = tuned_model(
            model,
            chosen,
            grid=grid,
            n=args.n,
            seed=args.seed,
            rows=rows,
            confirmed=confirmed,
            guided=guided,
            guidance_confirmed=gconfirmed,
        )
        tuned.save(args.out, overwrite=args.overwrite)
    except FastDrumError as exc:
        print(f"python -m training.tune: error: {exc}", file=sys.stderr)
        return 2
    _print_tables(args, grid, rows, chosen, confirmed, guided, gconfirmed)
    return 0


def _tune_guidance(args, model, voices, chosen, real):
    """``((weights, choice, rows), confirmed or None)`` for :func:`tuned_model`: the guidance
    screen (judged, or the model's record with --reuse-screen), then its fresh seeds."""
    near = {v: tuple(u for u in NEIGHBOURS.get(v, ()) if u in voices) for v in voices}
    if ANY_VOICE in model.voices:  # trained unconditional: every voice's true CFG negative
        near = {v: (ANY_VOICE,) + us for v, us in near.items()}
    # a voice none of whose neighbours the model has (a model of one voice) is not judged
    steerable = {v: pair for v, pair in chosen.items() if near.get(v)}
    if args.reuse_screen:
        choice, grows = recorded_guidance(
            model, steerable, args.guidance, near, n=args.n, seed=args.seed
        )
    else:
        judge = _judge_with(model, real, args.n, args.seed)
        choice, grows = choose_guidance(steerable, args.guidance, judge, near)
    confirmed = None
    if args.guidance_seeds:
        seeds = [args.seed + 1 + i for i in range(args.guidance_seeds)]
        judges = [(s, _judge_with(model, real, args.n, s)) for s in seeds]
        choice, crows = confirm_guidance(steerable, choice, judges)
        confirmed = (args.n, seeds, crows)
    return (args.guidance, choice, grows), confirmed


if __name__ == "__main__":
    sys.exit(main())
