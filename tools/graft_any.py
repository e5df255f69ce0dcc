"""Give a conditioned model the unconditional voice 'any' that another run fitted to its network.

Usage: python tools/graft_any.py BASE FITTED OUT [--overwrite]

FITTED is BASE's network with one more voice, 'any', trained alone (``training/train.py --init-from
BASE --voice-dropout 1 --train-only voice_emb``, averaged with training/average.py). OUT is BASE
(its primers, and its meta: the data its network learned from, its tuned settings) with FITTED's
embeddings, the voice 'any' (the longest voice's duration, every voice's training decay times) and a
record of the fitting in ``meta["any_voice"]``; the voice's decay times are every voice's, for a
decay-conditioned BASE; a format-5 BASE keeps its output filter, 'any' a unit impulse (no
filter). Every other weight of FITTED must be BASE's bit for bit, and OUT's voices generate BASE's
clips: both are checked before OUT is written. An existing OUT is replaced only with --overwrite (OUT may be BASE: training/ship_models.sh grafts in place). This
is how the shipped drums.npz got its 'any' voice (docs/evaluation.md, "A trained unconditional
voice"); training/ship_models.sh runs the fit and the graft.
"""

import argparse
import sys

import numpy as np

import fastdrum
from fastdrum.instruments import ANY_VOICE


def graft(base, fitted):
    """BASE with FITTED's 'any' voice (both fastdrum.Model); ValueError if FITTED is not BASE's network."""
    if fitted.voices != base.voices + (ANY_VOICE,):
        raise ValueError(f"FITTED's voices {fitted.voices} are not BASE's and {ANY_VOICE!r}")
    for k, w in base.weights.items():
        theirs = fitted.weights[k][:-1] if k == "voice_emb" else fitted.weights[k]
        if not np.array_equal(theirs, w):
            raise ValueError(f"FITTED's {k} differs from BASE's: not BASE's network")
    a = fitted.preemphasis  # one, or one a voice: then 'any''s is FITTED's, the others BASE's
    if (a[:-1] if isinstance(a, tuple) else a) != base.preemphasis:
        raise ValueError(f"FITTED's pre-emphasis {a} is not BASE's {base.preemphasis}")
    b = fitted.integration  # likewise
    if (b[:-1] if isinstance(b, tuple) else b) != base.integration:
        raise ValueError(f"FITTED's integration {b} is not BASE's {base.integration}")
    meta = dict(base.meta)
    meta["voices"] = {v: dict(e) for v, e in base.meta["voices"].items()}
    entries = base.meta["voices"].values()
    meta["voices"][ANY_VOICE] = {"duration": max(e["duration"] for e in entries)}
    if base.decay is not None:  # a decay-conditioned model: every voice's training decay times
        meta["voices"][ANY_VOICE]["decays"] = sorted(d for e in entries for d in e["decays"])
    cfg = fitted.meta["config"]
    meta["any_voice"] = dict(
        fitted="embedding alone, the network frozen (training/train.py --init-from BASE "
        "--voice-dropout 1 --train-only voice_emb), every window's voice 'any'",
        steps=fitted.meta["steps_trained"],
        learning_rate=cfg["learning_rate"],
        averaged=fitted.meta.get("weights_averaged"),
        training_seconds=fitted.meta["training_seconds"],
        manifest_sha256=fitted.meta["manifest_sha256"],
    )
    output_filter = None
    if base.output_filter is not None:  # format 5: 'any' plays unfiltered (a unit impulse)
        unit = np.zeros((1, base.output_filter.shape[-1]), dtype=base.output_filter.dtype)
        unit[0, 0] = 1.0
        output_filter = np.concatenate([base.output_filter, unit])
    return fastdrum.Model(
        sample_rate=base.sample_rate,
        dilations=base.dilations,
        primers=base.primers,
        meta=meta,
        preemphasis=fitted.preemphasis,
        integration=fitted.integration,
        shelf_zero=fitted.shelf_zero,
        shelf_pole=fitted.shelf_pole,
        voices=list(fitted.voices),
        primer_voices=base.primer_voices,
        time_tau=base.time_tau,
        time_block=base.time_block,
        output_filter=output_filter,
        **dict(base.weights, voice_emb=fitted.weights["voice_emb"]),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python tools/graft_any.py",
        description="Give a conditioned model (BASE) the voice 'any' fitted to its network (FITTED).",
    )
    parser.add_argument("base", metavar="BASE")
    parser.add_argument("fitted", metavar="FITTED")
    parser.add_argument("out", metavar="OUT")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    args = parser.parse_args(argv)  # a usage error exits with code 2
    try:
        base, fitted = fastdrum.load_model(args.base), fastdrum.load_model(args.fitted)
        out = graft(base, fitted)
        for (
            v
        ) in base.voices:  # every voice generates what it did, checked before anything is written
            a = fastdrum.generate(out, 2, voice=v, seed=5, duration=0.05)
            if not np.array_equal(a, fastdrum.generate(base, 2, voice=v, seed=5, duration=0.05)):
                raise ValueError(f"voice {v!r} generates other clips than in BASE")
        out.save(args.out, overwrite=args.overwrite)
    except (ValueError, OSError, fastdrum.FastDrumError) as exc:
        print(f"graft_any: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {args.base} with the voice {ANY_VOICE!r} of {args.fitted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
