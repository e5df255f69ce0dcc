"""Would the classifier hear the missing partials? The evaluation's classifier refitted with
:func:`training.evaluate.partial_persistence` as one more feature, beside the classifier in force.

    python tools/partials_judge.py -n 40

Both classifiers are fitted as ``training.evaluate`` fits its own (the training sources' real clips
of every voice and the reject class's noise, 44.1 kHz, the default held-out kits); the second's
features are :func:`training.evaluate.features` plus ten times the clip's persistence (the scale of
the other scalar features). Per voice it prints, for each classifier: how many held-out real clips
it names right; how often it names the voice noise under a real training clip's envelope matched to
the training spectrum (``tools/matched_baselines.py --baselines enveloped-noise``'s matched clips,
the kind of bad clip the crash and the clap nearly pass with); and how often it names the shipped
model's clips at their defaults (``-n`` clips of seed 0) the voice, and noise. A judge that adds the
feature must keep its accuracy on the real clips (docs/evaluation.md, "Partials that last").
"""

import argparse
import sys

import numpy as np

import fastdrum
from training.evaluate import (
    CLASSIFIER_SECONDS,
    DEFAULT_HOLDOUT,
    DEFAULT_KITS,
    InstrumentClassifier,
    RealClips,
    _fit_len,
    features,
    matched_baseline,
    partial_persistence,
)
from training.voices import VOICE_DURATIONS, VOICES


def _features(clips, sr):
    """The clips cut or padded to the classifier's length, and their :func:`features` rows."""
    clips = _fit_len(clips, int(round(CLASSIFIER_SECONDS * sr)))
    return clips, np.array([features(c, sr) for c in clips])


def _column(clips, sr):
    """10 x :func:`partial_persistence` of each clip (0 where it has none)."""
    return 10 * np.nan_to_num([partial_persistence(c, sr) for c in clips])


def rows_with_persistence(clips, sr):
    """``features`` of each clip (cut or padded to the classifier's length) and 10 x its
    :func:`partial_persistence` (0 where it has none) in one more column: (n, features + 1)."""
    clips, X = _features(clips, sr)
    return np.column_stack([X, _column(clips, sr)])


def classifiers(real):
    """``{"in force": real.classifier, "with partials": the same fit with the column}``: the feature
    rows `real` was fitted on, each given its clip's column."""
    X, labels, _, Xn = real._leave_kit_out
    n = int(round(CLASSIFIER_SECONDS * real.sr))
    train = [c for v in VOICES for c in _fit_len(real.train[v], n)]
    rows = np.vstack(
        [
            np.column_stack([X, _column(train, real.sr)]),
            np.column_stack([Xn, _column(real.noise, real.sr)]),
        ]
    )
    refit = InstrumentClassifier().fit_features(rows, list(labels) + ["noise"] * len(Xn))
    return {"in force": real.classifier, "with partials": refit}


def _named(clf, clips, sr, extended):
    clips, X = _features(clips, sr)
    return clf.pipeline.predict(np.column_stack([X, _column(clips, sr)]) if extended else X)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--voices", default=",".join(VOICES), help="comma-separated (default: all ten)")
    p.add_argument("-n", type=int, default=40, help="clips a voice and kind (default 40)")
    args = p.parse_args(argv)
    voices = args.voices.split(",")
    unknown = [v for v in voices if v not in VOICES]
    if unknown:
        p.error(f"--voices: unknown {', '.join(unknown)} (known: {', '.join(VOICES)})")
    real = RealClips(44100, kits=[DEFAULT_KITS], holdout_kits=DEFAULT_HOLDOUT, seed=0)
    sr = real.sr
    clfs = classifiers(real)
    print(
        "| voice | held-out named right (clips) | enveloped noise named the voice "
        "| generated named the voice | generated named noise |"
    )
    print("|---|---|---|---|---|")
    print("| | in force / with partials | | | |")
    totals = dict.fromkeys(clfs, 0)
    for voice in voices:
        k = VOICES.index(voice)
        target = _fit_len(real.train[voice], int(round(VOICE_DURATIONS[voice] * sr)))
        _, env = matched_baseline(
            "enveloped-noise", target, sr, args.n, seed=500 + k, fit_seed=600 + k
        )
        gen = fastdrum.generate(voice, args.n, seed=0)
        cells = {"held": [], "env": [], "gen": [], "noise": []}
        for name, clf in clfs.items():
            ext = name != "in force"
            held = int(np.sum(_named(clf, real.held[voice], sr, ext) == voice))
            totals[name] += held
            cells["held"].append(str(held))
            cells["env"].append(f"{np.mean(_named(clf, env, sr, ext) == voice):.0%}")
            g = _named(clf, gen, sr, ext)
            cells["gen"].append(f"{np.mean(g == voice):.0%}")
            cells["noise"].append(f"{np.mean(g == 'noise'):.0%}")
        print(
            f"| {voice} | {' / '.join(cells['held'])} ({len(real.held[voice])}) | "
            + " | ".join(" / ".join(cells[c]) for c in ("env", "gen", "noise"))
            + " |",
            flush=True,
        )
    print(f"\nheld-out clips named right in all: {' / '.join(str(t) for t in totals.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
