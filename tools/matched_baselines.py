"""Can an output filter make a bad generator pass? The evaluation's baselines, each matched to the
training clips' spectrum the way training/match_eq.py matches a model's, then judged.

    python tools/matched_baselines.py --voices clap,tom_low -n 100

For each voice and each baseline of ``training.evaluate --baseline`` (white noise, an untrained
network, white noise under the envelope of real decay times, and with ``--baselines`` white noise
under real training clips' envelopes, ``enveloped-noise``): the baseline's clips of seed 7 give
the correction (:func:`training.evaluate.matched_baseline`, the whole strength), and the baseline's clips
of seed 0 are judged before and after the filter against the held-out kits, as ``python -m
training.evaluate --baseline KIND -n N`` judges them. A filter corrects the average spectrum only:
what the baselines lack otherwise (a drum's decay, its timbre over time) must still fail them.
"""

import argparse
import sys

import numpy as np

from training.evaluate import (
    BASELINES,
    DEFAULT_HOLDOUT,
    DEFAULT_KITS,
    MATCHED_BASELINES,
    RealClips,
    _fit_len,
    evaluate_clips,
    matched_baseline,
)
from training.tune import shortfall
from training.voices import VOICE_DURATIONS


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--voices", default="clap,tom_low,tom_mid", help="comma-separated voices")
    p.add_argument("-n", type=int, default=100, help="clips a voice and baseline (default 100)")
    p.add_argument(
        "--baselines",
        default=",".join(BASELINES[:3]),
        help=f"comma-separated, of {', '.join(MATCHED_BASELINES)} (default: the first three)",
    )
    args = p.parse_args(argv)
    kinds = args.baselines.split(",")
    unknown = sorted(set(kinds) - set(MATCHED_BASELINES))
    if unknown:
        p.error(
            f"--baselines: unknown {', '.join(unknown)} (known: {', '.join(MATCHED_BASELINES)})"
        )
    real = RealClips(44100, kits=[DEFAULT_KITS], holdout_kits=DEFAULT_HOLDOUT, seed=0)
    print(
        "| voice | baseline | shortfall | fails | matched: shortfall | fails | log-mel (real kits) |"
    )
    print("|---|---|---|---|---|---|---|")
    for voice in args.voices.split(","):
        for kind in kinds:
            T = int(round(VOICE_DURATIONS[voice] * real.sr))
            target = _fit_len(real.train[voice], T)
            y, matched = matched_baseline(kind, target, real.sr, args.n, seed=0, fit_seed=7)
            cells = []
            for clips in (y, matched):
                row = evaluate_clips(np.asarray(clips, dtype=np.float64), voice, real)
                fails = ", ".join(k for k, ok in row["passes"].items() if not ok)
                cells += [f"{shortfall(row):.2f}", fails]
            print(
                f"| {voice} | {kind} | {' | '.join(cells)} | "
                f"{row['mel_db']:.2f} ({row['mel_db_real']:.2f}) |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
