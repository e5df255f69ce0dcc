"""Quality evaluation of generated drum clips (issue: a pretrained kit that sounds like drums).

Four checks, each against a stated definition:

1. **recognisable** -- a simple classifier (standardised log-band spectrum and
   envelope features, multinomial logistic regression from scikit-learn),
   fitted on real one-shots from kits *not used for training*, names the
   instrument of each generated clip. Its accuracy on real held-out clips (by
   leave-one-kit-out cross-validation) is reported beside it.
2. **new** -- the largest normalised cross-correlation (over all lags) of each
   generated clip with every training clip; a clip above ``copy_threshold``
   (0.95) counts as a copy.
3. **varied** -- the same correlation between every pair of generated clips;
   a pair above the threshold counts as a near-duplicate.
4. **sound** -- finite, not silent, decaying (the last quarter's energy at
   least ``decay_db`` below the first quarter's), no DC offset.

Run from the repository root, e.g.::

    python -m training.evaluate --models fastdrum/models --n 100 --out eval.json
"""

import numpy as np
import scipy.fft
from scipy import signal

__all__ = [
    "features",
    "InstrumentClassifier",
    "max_normalised_xcorr",
    "novelty",
    "variety",
    "sound_checks",
]

_N_BANDS = 24
_ENV_POINTS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.12, 0.16, 0.2, 0.25)


def features(y, sr, *, duration=0.25):
    """Instrument features of one clip: log-band spectrum shape and envelope.

    The clip is cut or padded to `duration` seconds. Features are gain
    independent: the band spectrum is relative to its mean, the envelope to
    its peak.

    Parameters
    ----------
    y : ndarray, shape (T,)
    sr : int
    duration : float

    Returns
    -------
    ndarray of float64, shape (_N_BANDS + len(_ENV_POINTS) + 3,)
    """
    n = int(round(duration * sr))
    y = np.asarray(y, dtype=np.float64)[:n]
    y = np.pad(y, (0, n - len(y)))
    y = y - y.mean()
    eps = 1e-10
    # Log energy in bands spaced evenly on the mel scale from 30 Hz to 10 kHz.
    spec = np.abs(np.fft.rfft(y * np.hanning(n))) ** 2
    freqs = np.fft.rfftfreq(n, 1 / sr)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges_mel = np.linspace(mel(30), mel(min(10000, sr / 2)), _N_BANDS + 1)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    bands = np.array([spec[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    log_bands = np.log10(bands + eps * spec.sum() + eps)
    log_bands -= log_bands.mean()
    # Envelope: RMS in 5 ms frames, in dB relative to the peak frame, at fixed times.
    frame = max(1, int(0.005 * sr))
    n_frames = n // frame
    rms = np.sqrt((y[: n_frames * frame].reshape(n_frames, frame) ** 2).mean(axis=1) + eps)
    env_db = 20 * np.log10(rms / rms.max())
    times = (np.arange(n_frames) + 0.5) * frame / sr
    env = np.interp(_ENV_POINTS, times, env_db)
    centroid = (freqs * spec).sum() / (spec.sum() + eps)
    zcr = np.mean(np.abs(np.diff(np.signbit(y).astype(np.int8))))
    peak_time = np.argmax(rms) * frame / sr
    return np.concatenate([log_bands, env / 20, [np.log10(centroid + 1), zcr * 10, peak_time * 100]])


class InstrumentClassifier:
    """Logistic regression on :func:`features`, fitted on labelled real one-shots."""

    def __init__(self, C=1.0):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))

    def fit(self, clips, labels, sr):
        X = np.array([features(c, sr) for c in clips])
        self.pipeline.fit(X, np.asarray(labels))
        return self

    def predict(self, clips, sr):
        X = np.array([features(c, sr) for c in clips])
        return self.pipeline.predict(X)

    @property
    def classes(self):
        return list(self.pipeline.classes_)


def _unit(y):
    y = np.asarray(y, dtype=np.float64)
    y = y - y.mean()
    norm = np.linalg.norm(y)
    return y / norm if norm > 0 else y


def max_normalised_xcorr(a, b):
    """Largest |normalised cross-correlation| of two clips over all lags, in [0, 1].

    ``max_k |sum_t a(t) b(t + k)| / (||a|| ||b||)`` after removing each clip's mean;
    1 means one clip is a shifted, scaled copy of the other.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> round(max_normalised_xcorr(x, 0.5 * np.roll(np.pad(x, (0, 50)), 50)), 6)
    1.0
    """
    c = signal.correlate(_unit(a), _unit(b), mode="full", method="fft")
    return float(np.abs(c).max())


def _pairwise_max_xcorr(A, B):
    """Matrix of max_normalised_xcorr for every clip of A against every clip of B."""
    n = max(A.shape[1], B.shape[1])
    size = scipy.fft.next_fast_len(2 * n - 1)
    FA = np.fft.rfft(np.array([_unit(a) for a in A]), size)
    FB = np.fft.rfft(np.array([_unit(b) for b in B]), size)
    out = np.empty((len(A), len(B)))
    for i in range(len(A)):
        out[i] = np.abs(np.fft.irfft(FA[i] * np.conj(FB), size)).max(axis=1)
    return out


def novelty(generated, training, *, copy_threshold=0.95):
    """Largest correlation of each generated clip with any training clip, and the copy rate."""
    m = _pairwise_max_xcorr(np.asarray(generated), np.asarray(training)).max(axis=1)
    return {"max_xcorr_median": float(np.median(m)), "max_xcorr_max": float(m.max()),
            "copy_rate": float(np.mean(m > copy_threshold))}


def variety(generated, *, copy_threshold=0.95):
    """Fraction of pairs of generated clips that correlate above the threshold."""
    g = np.asarray(generated)
    m = _pairwise_max_xcorr(g, g)
    iu = np.triu_indices(len(g), k=1)
    pairs = m[iu]
    return {"pair_xcorr_median": float(np.median(pairs)), "duplicate_pair_rate": float(np.mean(pairs > copy_threshold))}


def sound_checks(clips, *, silence_peak=0.01, decay_db=6.0, max_dc=0.02):
    """Fraction of clips that are finite, not silent, decaying, without DC offset."""
    clips = np.asarray(clips, dtype=np.float64)
    finite = np.isfinite(clips).all(axis=1)
    safe = np.where(np.isfinite(clips), clips, 0.0)
    peak = np.abs(safe).max(axis=1)
    q = clips.shape[1] // 4
    first = (safe[:, :q] ** 2).mean(axis=1) + 1e-20
    last = (safe[:, -q:] ** 2).mean(axis=1) + 1e-20
    decaying = 10 * np.log10(first / last) >= decay_db
    dc = np.abs(safe.mean(axis=1)) / np.maximum(peak, 1e-12)
    ok = finite & (peak > silence_peak) & decaying & (dc < max_dc)
    return {"finite": float(finite.mean()), "not_silent": float(np.mean(peak > silence_peak)),
            "decaying": float(decaying.mean()), "no_dc": float(np.mean(dc < max_dc)),
            "all_sound_checks": float(ok.mean())}


# ----------------------------------------------------------------------------- the driver
DEFAULT_KITS = "/usr/share/hydrogen/data/drumkits"

#: Classes the classifier tells apart: the shipped instruments. (With toms
#: added, kick/tom confusion drops its grouped-CV accuracy on real held-out
#: clips from 93% to 70%: too weak a judge; pass classes= to try others.)
DEFAULT_CLASSES = ("kick", "snare", "hihat")
_CLASS_PATTERNS = {"tom": r"\btom|floor|rack", "cymbal": r"crash|ride|cymbal|splash|china"}


def _real_clips(instrument, *, sample_rate, clip_samples, kit_dirs, holdout_kits=()):
    """Audio (n, clip_samples) and group names of real one-shots of an instrument class."""
    from .data import load_clips
    from .errors import DataError

    try:
        clips, _ = load_clips(instrument=_CLASS_PATTERNS.get(instrument, instrument), sample_rate=sample_rate,
                              clip_samples=clip_samples, kit_dirs=kit_dirs, holdout_kits=holdout_kits)
    except DataError:
        return np.zeros((0, clip_samples), np.float32), []
    audio = np.array([np.pad(c.audio[:clip_samples], (0, max(0, clip_samples - len(c.audio))))
                      for c in clips], dtype=np.float32)
    return audio, [c.group for c in clips]


def heldout_classifier(*, sample_rate, kits_root, holdout_kits, classes=DEFAULT_CLASSES, clip_seconds=0.3):
    """Fit the classifier on the held-out kits; return it and its grouped cross-validated accuracy."""
    import os

    from sklearn.model_selection import GroupKFold, cross_val_predict

    kit_dirs = [os.path.join(kits_root, k) for k in holdout_kits]
    n = int(round(clip_seconds * sample_rate))
    clips, labels, groups = [], [], []
    for cls in classes:
        audio, g = _real_clips(cls, sample_rate=sample_rate, clip_samples=n, kit_dirs=kit_dirs)
        clips.extend(audio)
        labels.extend([cls] * len(audio))
        groups.extend(g)
    counts = {c: labels.count(c) for c in classes}
    present = [c for c in classes if counts[c] >= 2]
    keep = [i for i, lab in enumerate(labels) if lab in present]
    clips = [clips[i] for i in keep]
    labels = np.array([labels[i] for i in keep])
    groups = [groups[i] for i in keep]
    clf = InstrumentClassifier()
    X = np.array([features(c, sample_rate) for c in clips])
    # Cross-validation by group (all velocity layers of one instrument together), so a
    # layer is never scored by a classifier that saw its neighbour.
    n_splits = min(5, len(set(groups)))
    pred = cross_val_predict(clf.pipeline, X, labels, groups=groups, cv=GroupKFold(n_splits=n_splits))
    real = {c: float(np.mean(pred[labels == c] == c)) for c in present}
    real["all"] = float(np.mean(pred == labels))
    clf.pipeline.fit(X, labels)
    return clf, {"counts": counts, "classes": present, "real_accuracy": real}


def evaluate_model(model, clf, *, n=100, seed=0, post=True, kits_root=DEFAULT_KITS, **generate_kwargs):
    """All four checks for one model; returns a dict (one row of the evaluation table)."""
    import fastdrum

    inst = model.instrument
    y = fastdrum.generate(model, n, seed=seed, **generate_kwargs)
    if post:
        from fastdrum.post import process

        y = process(y, model.sample_rate, instrument=inst)
    pred = clf.predict(y, model.sample_rate)
    train, _ = _real_clips(inst, sample_rate=model.sample_rate, clip_samples=y.shape[1],
                           kit_dirs=[kits_root], holdout_kits=model.meta.get("holdout_kits", ()))
    row = {"instrument": inst, "n": n, "post": post, "recognised": float(np.mean(pred == inst)),
           "predicted": {c: int(np.sum(pred == c)) for c in clf.classes}, "training_clips": len(train)}
    row.update(novelty(y, train))
    row.update(variety(y))
    row.update(sound_checks(y))
    return row


def _table(rows, classifier_info):
    lines = ["| instrument | recognised | real held-out clips recognised | copies (xcorr > 0.95) | "
             "duplicate pairs | median max xcorr with training | sound checks |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        real = classifier_info["real_accuracy"].get(r["instrument"], float("nan"))
        lines.append(f"| {r['instrument']} | {r['recognised']:.0%} | {real:.0%} | {r['copy_rate']:.0%} | "
                     f"{r['duplicate_pair_rate']:.1%} | {r['max_xcorr_median']:.2f} | {r['all_sound_checks']:.0%} |")
    return "\n".join(lines)


def main(argv=None):
    """``python -m training.evaluate``: evaluate shipped (or given) models, print a markdown table."""
    import argparse
    import json
    import sys

    import fastdrum

    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=main.__doc__)
    p.add_argument("models", nargs="*", help="model names or paths (default: every shipped model)")
    p.add_argument("-n", type=int, default=100, help="clips generated per model (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kits", default=DEFAULT_KITS, help="folder of Hydrogen kits")
    p.add_argument("--no-post", action="store_true", help="evaluate the raw network output")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--json", help="write the results here as JSON")
    args = p.parse_args(argv)
    try:
        models = [fastdrum.load_model(m) for m in (args.models or fastdrum.available_models())]
        if not models:
            raise fastdrum.FastDrumError("no models to evaluate")
        holdout = sorted({k for m in models for k in m.meta.get("holdout_kits", [])})
        if not holdout:
            raise fastdrum.FastDrumError("the models name no held-out kits (meta['holdout_kits'])")
        results = {"holdout_kits": holdout, "rows": []}
        by_rate = {}
        for m in models:
            if m.sample_rate not in by_rate:
                by_rate[m.sample_rate] = heldout_classifier(sample_rate=m.sample_rate, kits_root=args.kits,
                                                            holdout_kits=holdout)
            clf, info = by_rate[m.sample_rate]
            results["classifier"] = info
            kw = {} if args.temperature is None else {"temperature": args.temperature}
            row = evaluate_model(m, clf, n=args.n, seed=args.seed, post=not args.no_post, kits_root=args.kits, **kw)
            results["rows"].append(row)
            print(json.dumps(row), file=sys.stderr)
    except (fastdrum.FastDrumError, OSError) as exc:
        print(f"python -m training.evaluate: error: {exc}", file=sys.stderr)
        return 2
    results["table"] = _table(results["rows"], results["classifier"])
    print(f"classifier on held-out kits {holdout}: {results['classifier']}")
    print(results["table"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
