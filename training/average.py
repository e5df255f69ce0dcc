"""Average the weight snapshots of a run (stochastic weight averaging) into a model file.

A run trained at a constant learning rate keeps wandering around the minimum: two snapshots 250 steps
apart have the same validation loss and opposite sound (at step 5,000 of the conditioned run 90% of
generated kicks decayed, at step 6,250 10%). The mean of the snapshots over a stretch of the run
(Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and Better Generalization"; the
Polyak averaging of Parallel WaveNet) sits in the middle of that wandering, and generates steadily:
docs/evaluation.md has the figures. Averaging is done offline from the run's ``snapshots/`` (train.py
``--snapshot-every``), so it needs neither TensorFlow nor a stop of a run still training::

    python -m training.average runs/drums-seed0.npz --run-dir runs/drums-seed0 --first 4000 \\
        -o runs/drums-seed0-swa.npz

The model file given first supplies everything but the weights (sample rate, dilations, primers,
pre-emphasis, voices, meta); ``meta["weights_averaged"]`` records the steps averaged.
``--temperature kick=0.8`` (repeatable) records a voice's recommended temperature, the one
``generate()`` uses by default (``meta["voices"][voice]["temperature"]``, docs/format.md).
"""

import argparse
import os
import re
import sys

import numpy as np

import fastdrum
from fastdrum import FastDrumError, _checks
from fastdrum._format import WEIGHT_KEYS, read_arrays

__all__ = [
    "SNAPSHOT_KEYS",
    "read_snapshot",
    "snapshot_steps",
    "average_snapshots",
    "model_with_arrays",
    "averaged_model",
    "with_temperatures",
    "main",
]

_SNAPSHOT = re.compile(r"step-(\d+)\.npz")

#: The arrays of a weight snapshot (train.py ``--snapshot-every``): format 1's weights, and the
#: voice weights of a conditioned model, the time weights of a time-conditioned one and the decay
#: weights of a decay-conditioned one, and the signal's and the prediction's tables of a format-7 one.
SNAPSHOT_KEYS = WEIGHT_KEYS + ("voice_emb", "cond_w", "time_w", "decay_w", "sig_w", "pred_w")


def read_snapshot(path):
    """The arrays of the weight snapshot `path`, by their format names.

    Read as a model file is (sizes bounded, nothing unpickled; members other than
    :data:`SNAPSHOT_KEYS` ignored); a file that is missing or not a snapshot raises
    :class:`fastdrum.ModelFormatError` naming it.
    """
    try:
        return read_arrays(path, only=SNAPSHOT_KEYS)
    except (OSError, fastdrum.ModelFormatError) as exc:
        raise fastdrum.ModelFormatError(
            f"{os.fspath(path)}: not a weight snapshot ({exc})"
        ) from None


def snapshot_steps(run_dir):
    """The steps of the snapshots kept in ``<run_dir>/snapshots/``, ascending."""
    folder = os.path.join(os.fspath(run_dir), "snapshots")
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise fastdrum.ModelFormatError(f"no snapshots in {run_dir!r}: {exc.strerror}") from None
    return sorted(int(m.group(1)) for n in names if (m := _SNAPSHOT.fullmatch(n)))


def average_snapshots(run_dir, first, last=None):
    """The element-wise mean of the run's snapshots from step `first` through `last` (inclusive).

    Returns ``(arrays, steps)``: float32 arrays (summed in float64) and the steps averaged. Every
    snapshot must hold the same arrays with the same shapes; one that does not is named.
    """
    steps = [s for s in snapshot_steps(run_dir) if s >= first and (last is None or s <= last)]
    if not steps:
        span = f"{first}..{'end' if last is None else last}"
        raise fastdrum.ModelFormatError(f"no snapshot of {run_dir!r} in steps {span}")
    total = None
    for s in steps:
        path = os.path.join(os.fspath(run_dir), "snapshots", f"step-{s:06d}.npz")
        arrays = read_snapshot(path)
        if total is None:
            total = {k: v.astype(np.float64) for k, v in arrays.items()}
            continue
        shapes = {k: v.shape for k, v in arrays.items()}
        if shapes != {k: v.shape for k, v in total.items()}:
            raise fastdrum.ModelFormatError(
                f"{path}: its arrays differ from step {steps[0]}'s (names or shapes)"
            )
        for k, v in arrays.items():
            total[k] += v
    return {k: (v / len(steps)).astype(np.float32) for k, v in total.items()}, steps


def model_with_arrays(model, arrays, meta, source):
    """`model`'s frame (sample rate, dilations, primers, pre-emphasis, voices, time constants,
    output filter) with other weights.

    `arrays` are the weight arrays by their format names, `meta` the new model's meta; arrays that do
    not fit the frame raise :class:`fastdrum.ModelFormatError` naming `source`. A format-5 model's
    output filter is kept as it is (``python -m training.tune`` rewrites a model's defaults through
    this: until 2026-12-07 it dropped the filter); it was fitted to `model`'s own network, so where
    the weights are another network's, ``python -m training.match_eq`` fits it again.
    """
    extra = {}
    if model.voices:
        extra = dict(voices=list(model.voices), primer_voices=model.primer_voices)
    if model.time_tau is not None:
        extra.update(time_tau=model.time_tau, time_block=model.time_block)
    try:
        return fastdrum.Model(
            sample_rate=model.sample_rate,
            dilations=model.dilations,
            primers=model.primers,
            meta=meta,
            preemphasis=model.preemphasis,
            integration=model.integration,
            shelf_zero=model.shelf_zero,
            shelf_pole=model.shelf_pole,
            output_filter=model.output_filter,
            **extra,
            **arrays,
        )
    except (TypeError, fastdrum.ModelFormatError) as exc:  # missing or extra names, other shapes
        raise fastdrum.ModelFormatError(
            f"{source}: not a snapshot of this model's weights ({exc})"
        ) from None


def averaged_model(model, run_dir, first, last=None, temperatures=None):
    """`model` (everything but its weights) with the mean weights of its run's snapshots.

    `temperatures` (``{voice: temperature}``, optional) become those voices' default temperatures.
    """
    arrays, steps = average_snapshots(run_dir, first, last)
    meta = with_temperatures(model, temperatures or {})
    meta["weights_averaged"] = {"first": steps[0], "last": steps[-1], "snapshots": len(steps)}
    meta["steps"] = meta["steps_trained"] = steps[-1]
    return model_with_arrays(model, arrays, meta, f"the snapshots of {run_dir!r}")


def with_temperatures(model, temperatures):
    """A copy of `model`'s meta with ``{voice: temperature}`` as the voices' default temperatures."""
    meta = dict(model.meta)
    voices = {v: dict(s) for v, s in (meta.get("voices") or {}).items()}
    for voice, t in temperatures.items():
        if voice not in model.voices:
            raise fastdrum.ModelFormatError(
                f"--temperature {voice}=...: the model has no voice {voice!r} "
                f"(it has {list(model.voices)!r})"
            )
        voices.setdefault(voice, {})["temperature"] = _checks.temperature(
            t, error=fastdrum.ModelFormatError
        )
    meta["voices"] = voices
    return meta


def _voice_temperature(text):
    voice, sep, t = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return voice.strip(), float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected VOICE=T, e.g. kick=0.8, got {text!r}") from None


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m training.average", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "model", help="the run's exported .npz (everything but the weights comes from it)"
    )
    p.add_argument("--run-dir", required=True, help="the run directory holding snapshots/")
    p.add_argument("--first", type=int, required=True, help="first step averaged")
    p.add_argument(
        "--last", type=int, default=None, help="last step averaged (default: the last kept)"
    )
    p.add_argument("-o", "--out", required=True, help="the averaged model file (.npz)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--temperature",
        type=_voice_temperature,
        action="append",
        default=[],
        metavar="VOICE=T",
        help="record a voice's default temperature (repeatable)",
    )
    args = p.parse_args(argv)
    try:
        model = averaged_model(
            fastdrum.load_model(args.model),
            args.run_dir,
            args.first,
            args.last,
            temperatures=dict(args.temperature),
        )
        model.save(args.out, overwrite=args.overwrite)
    except FastDrumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    w = model.meta["weights_averaged"]
    print(f"{args.out}: mean of {w['snapshots']} snapshots, steps {w['first']}..{w['last']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
