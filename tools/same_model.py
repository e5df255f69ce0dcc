"""Are two model files the same model: every array bit for bit, the meta equal but for the run's own?

Usage: python tools/same_model.py A B [--ignore PATTERN ...] [--show N]

Both files are read with fastdrum.load_model (so each is a valid model first). Every weight and every
other array of the format (primers, dilations, pre-emphasis, voices, time constants) must be equal
bit for bit: dtype, shape and bytes. The meta is compared key by key, nested keys written with dots
(``config.out``, ``voices.kick.temperature``); keys matching an --ignore pattern (fnmatch, e.g.
``*training_seconds``) are left out. By default the keys a rerun of the same recipe cannot share are
left out: where its files went (``config.out``, ``config.run_dir``), whether it was resumed
(``config.resume``) and its wall times (``training_seconds``); every other difference counts,
the losses and the tuned settings among them. A trainer option newer than one of the files is in the
other's ``config`` only; where its value there is the option's default (``training.train``'s parser),
the run did what the older trainer did, and the key is not a difference (``--highpass-hz``, added in
session 43, is 0 in a rerun of a model trained before it).

This is the check that training/ship_models.sh reproduces a shipped model, e.g.
``python tools/same_model.py runs/drums-seed0.npz fastdrum/models/drums.npz`` (docs/evaluation.md,
"Reproducing drums.npz"). Exit code 0: the same model; 1: they differ (each difference on a line, the
first --show of them: an array's share of elements that differ and its largest difference, or a meta
key's two values); 2: a file cannot be read as a model.
"""

import argparse
import fnmatch
import functools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import fastdrum  # noqa: E402

#: Meta keys a rerun of the same recipe cannot share: its paths, its --resume, its wall times.
RUN_OWN = ("config.out", "config.run_dir", "config.resume", "*training_seconds")


def arrays(model):
    """Every array the model's file holds but the meta: those Model.save writes (the weights, the
    format version, dilations, primers, pre-emphasis, voices, time constants), as it writes them."""
    out = model._arrays()
    del out["meta"]
    return out


def array_differences(a, b):
    """One line per array of A or B that is not bit for bit the same in the other."""
    lines = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x is None or y is None:
            lines.append(f"array {k}: only in {'A' if y is None else 'B'}")
            continue
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != y.dtype or x.shape != y.shape:
            lines.append(f"array {k}: {x.dtype}{list(x.shape)} against {y.dtype}{list(y.shape)}")
        elif x.tobytes() != y.tobytes():
            x, y = np.atleast_1d(x), np.atleast_1d(y)  # a 0-d array has no byte view
            differ = x != y if x.dtype.kind in "fc" else x.view(np.uint8) != y.view(np.uint8)
            line = f"array {k}: {np.mean(differ):.2%} of elements differ"
            if x.dtype.kind in "iuf":
                big = np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))
                line += f", by up to {big:.3g}"
            lines.append(line)
    return lines


def flatten(meta, prefix=""):
    """{'a.b.c': value} of a nested dict; lists and other values are leaves."""
    out = {}
    for k, v in meta.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def meta_differences(a, b, ignore=RUN_OWN):
    """One line per meta key (dotted) whose values differ, but for the keys matching `ignore`."""
    fa, fb = flatten(a), flatten(b)
    missing = object()
    lines = []
    for k in sorted(set(fa) | set(fb)):
        if any(fnmatch.fnmatchcase(k, p) for p in ignore):
            continue
        x, y = fa.get(k, missing), fb.get(k, missing)
        if (x is missing or y is missing) and _trainer_default(k, y if x is missing else x):
            continue
        if x is missing or y is missing:
            lines.append(f"meta {k}: only in {'A' if y is missing else 'B'}")
        elif x != y:
            lines.append(f"meta {k}: {_short(x)} against {_short(y)}")
    return lines


@functools.cache
def _trainer_defaults():
    """Every trainer option's parsed default, by name (--out, the one required, left out)."""
    from training.train import build_parser

    defaults = vars(build_parser().parse_args(["--out", "x.npz"]))
    del defaults["out"]
    return defaults


def _trainer_default(key, value):
    """Is `key` a trainer option (``config.NAME``) and `value` its default: what a trainer without
    the option did?"""
    name = key.removeprefix("config.")
    if name == key or "." in name:
        return False
    defaults = _trainer_defaults()
    return name in defaults and defaults[name] == value


def _short(value, n=60):
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python tools/same_model.py",
        description="Check that two model files hold the same model (arrays bit for bit, the meta "
        "but for the run's own paths and wall times).",
    )
    parser.add_argument("a", metavar="A")
    parser.add_argument("b", metavar="B")
    parser.add_argument(
        "--ignore",
        action="append",
        metavar="PATTERN",
        help="meta keys to leave out (fnmatch on the dotted key; repeatable); "
        f"default: {' '.join(RUN_OWN)}",
    )
    parser.add_argument(
        "--show",
        type=int,
        default=40,
        metavar="N",
        help="print the first N differences (default 40)",
    )
    args = parser.parse_args(argv)  # a usage error exits with code 2
    try:
        a, b = fastdrum.load_model(args.a), fastdrum.load_model(args.b)
    except (OSError, fastdrum.FastDrumError) as exc:
        print(f"same_model: error: {exc}", file=sys.stderr)
        return 2
    ignore = RUN_OWN if args.ignore is None else tuple(args.ignore)
    ours = arrays(a)
    lines = array_differences(ours, arrays(b)) + meta_differences(a.meta, b.meta, ignore)
    for line in lines[: max(0, args.show)]:
        print(line)
    if not lines:
        print(f"{args.a} and {args.b}: the same model ({len(ours)} arrays bit for bit)")
        return 0
    print(f"{args.a} and {args.b}: {len(lines)} difference(s)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
