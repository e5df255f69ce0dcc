"""Why does the evaluation's classifier name a voice's clips noise? Each feature's share of the vote.

    python tools/feature_contributions.py fastdrum/models/hihat.npz -n 100

The classifier of ``training.evaluate`` (``RealClips.classifier``) is a logistic regression on
standardised :func:`training.evaluate.features`, so the difference between two classes' scores for a
clip, ``logit(voice) - logit(noise)``, is a sum over the features plus a constant. This tool splits
that sum into the feature groups (the 24 band energies, the 11 envelope points, then the centroid,
zero-crossing rate, peak time, spectral flatness and late/early energy) and prints each group's mean
over four sets of clips: the voice's held-out real clips, its training clips, noise shaped like the
voice (:func:`training.evaluate.matched_noise_clips`, drawn with another seed than the classifier's
own), and the model's clips at its default settings (``-n`` clips of ``--seed``, as the evaluation
draws them). A group whose mean for the generated clips sits with the shaped noise's, far from the real
clips', is what the classifier hears as noise (docs/evaluation.md, "Why the hi-hat is named noise").
"""

import argparse
import sys

import numpy as np

import fastdrum
from training.evaluate import (
    _ENV_POINTS,
    _N_BANDS,
    CLASSIFIER_SECONDS,
    DEFAULT_KITS,
    RealClips,
    _fit_len,
    _generate,
    data_folders,
    features,
    holdout_for,
    matched_noise_clips,
    model_voices,
)

#: The scalar features after the bands and the envelope points, in :func:`features`' order.
SCALARS = ("centroid", "zcr", "peak_time", "flatness", "late")


def feature_groups():
    """``{name: slice}`` of :func:`training.evaluate.features`' columns: ``"bands"``, ``"envelope"``,
    then one group per scalar of :data:`SCALARS`. The slices cover every column once."""
    n_env = len(_ENV_POINTS)
    groups = {"bands": slice(0, _N_BANDS), "envelope": slice(_N_BANDS, _N_BANDS + n_env)}
    for i, name in enumerate(SCALARS):
        groups[name] = slice(_N_BANDS + n_env + i, _N_BANDS + n_env + i + 1)
    return groups


def contributions(classifier, X, voice, against="noise"):
    """``(parts, constant)``: each feature group's share of ``logit(voice) - logit(against)`` for
    the feature rows `X` (n, features) under `classifier` (an ``InstrumentClassifier``): `parts` maps
    each group of :func:`feature_groups` to an (n,) array; ``sum(parts.values()) + constant`` equals
    the difference of the classifier's decision values for the two classes, row by row."""
    scaler, lr = classifier.pipeline[0], classifier.pipeline[-1]
    classes = list(lr.classes_)
    for c in (voice, against):
        if c not in classes:
            raise ValueError(f"the classifier has no class {c!r} (it has {', '.join(classes)})")
    i, j = classes.index(voice), classes.index(against)
    z = scaler.transform(np.asarray(X, dtype=np.float64))
    w = lr.coef_[i] - lr.coef_[j]
    parts = {name: z[:, s] @ w[s] for name, s in feature_groups().items()}
    return parts, float(lr.intercept_[i] - lr.intercept_[j])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a model file (.npz)")
    p.add_argument("--voice", help="the voice to judge (default: the model's first)")
    p.add_argument("-n", type=int, default=100, help="generated clips (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated clips (default 0)")
    args = p.parse_args(argv)
    model = fastdrum.load_model(args.model)
    voice = args.voice or model_voices(model)[0]
    if voice not in model_voices(model):
        p.error(f"--voice: the model has no voice {voice!r} ({', '.join(model_voices(model))})")
    sr = model.sample_rate
    real = RealClips(
        sr,
        kits=[DEFAULT_KITS],
        holdout_kits=holdout_for(model),
        data_dirs=data_folders(model),
        seed=0,
    )
    n = int(round(CLASSIFIER_SECONDS * sr))
    sets = {
        "held-out": real.held[voice],
        "training": real.train[voice],
        "shaped noise": matched_noise_clips({voice: real.train[voice]}, sr, 40, seed=77),
        "generated": list(_generate(model, voice, args.n, args.seed)),
    }
    clf = real.classifier
    print(f"logit({voice}) - logit(noise), mean over each set's clips, by feature group\n")
    print("| group | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    rows, named = {}, {}
    for name, clips in sets.items():
        X = np.array([features(c, sr) for c in _fit_len(clips, n)])
        rows[name] = contributions(clf, X, voice)
        pred = clf.pipeline.predict(X)
        named[name] = f"{np.mean(pred == voice):.0%} / {np.mean(pred == 'noise'):.0%} ({len(X)})"
    for g in feature_groups():
        print(f"| {g} | " + " | ".join(f"{rows[s][0][g].mean():.2f}" for s in sets) + " |")
    totals = [sum(parts.values()).mean() + const for parts, const in rows.values()]
    print("| total | " + " | ".join(f"{t:.2f}" for t in totals) + " |")
    print(f"| named {voice} / noise (clips) | " + " | ".join(named.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
