"""Where are a model's toms pitched? ``python tools/peak_pitch.py MODEL``

A low tom pitched as a mid tom may be heard as one, by a listener or the evaluation's classifier.
This measures each clip's pitch as its **peak**: the frequency of the strongest spectral peak between
40 and 400 Hz over 20-200 ms after the onset (a Hann window, zero-padded to 1 Hz bins or finer). Per
voice it prints the median and quartiles over the model's generated clips (raw ``generate()`` at the
voice's defaults, seed 0), over the held-out real clips (the kits the model's run held out), and
over the training clips, those also per source: whether a model's toms are pitched as its data are,
and whether its data are pitched as the held-out kits. ``--baseline sine`` (decaying sines at 73,
106 and 140 Hz in white noise 20 dB down) must read those frequencies::

    python tools/peak_pitch.py fastdrum/models/drums.npz --baseline sine

Figures: docs/evaluation.md. About 1 min for 40 clips of the three toms on two cores.
"""

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import fastdrum  # noqa: E402
from fastdrum.errors import FastDrumError  # noqa: E402
from training.evaluate import (  # noqa: E402
    DEFAULT_KITS,
    DEFAULT_SF2,
    holdout_for,
    peak_pitch,
    peak_pitches,
)
from training.voices import VOICES, load_voice_clips  # noqa: E402

#: The frequencies (Hz) of ``--baseline sine``: the held-out kits' median low, mid and high tom.
SINES = (73.0, 106.0, 140.0)

#: The measure itself: :func:`training.evaluate.peak_pitch` (rows of the evaluation carry it too).
peak, peaks = peak_pitch, peak_pitches


def sine_baseline(n, T, sample_rate, seed=0):
    """`n` clips of T samples: sines at the frequencies of :data:`SINES` in turn, falling 20 dB per
    0.2 s, in white noise 20 dB below the sine's RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / sample_rate
    f = np.resize(np.asarray(SINES), n)[:, None]
    y = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n, 1))) * 10.0 ** (-t / 0.2)
    return y + 0.1 * np.sqrt(0.5) * rng.standard_normal((n, T)) * 10.0 ** (-t / 0.2)


def summary(p):
    """The median and quartiles of peaks `p` (Hz) as "median (q25-q75)"."""
    q25, q50, q75 = np.percentile(p, [25, 50, 75])
    return f"{q50:.0f} ({q25:.0f}-{q75:.0f})"


def _source(clip):
    """A training clip's source: its kit or SF2 file."""
    return str(clip.group).split("/")[0]


def add_model_arguments(p):
    """The options this tool shares with tools/attack_share.py: the model, its voices, the clips."""
    p.add_argument("model", help="a model file conditioned on voices")
    p.add_argument("--voices", default="tom_low,tom_mid,tom_high", help="comma-separated")
    p.add_argument("--n", type=int, default=40, help="clips generated a voice (default 40)")
    p.add_argument("--kits", default=DEFAULT_KITS, help="folder of Hydrogen kits")
    p.add_argument("--sf2", action="append", help=f"SF2 files (default: {', '.join(DEFAULT_SF2)})")


def model_and_clips(p, a):
    """``(model, voices, training clips, held-out clips)`` of :func:`add_model_arguments`' options
    `a`, the clips those of the sources the model's run trained on and held out (``p.error`` when the
    model or a voice is not there)."""
    try:
        model = fastdrum.load_model(a.model)
    except FastDrumError as exc:
        p.error(str(exc))
    voices = a.voices.split(",")
    unknown = sorted(set(voices) - set(model.voices or ()))
    if unknown:
        p.error(f"unknown voices {unknown}; the model has {list(model.voices or ())}")
    try:
        train, held, _ = load_voice_clips(
            sample_rate=model.sample_rate,
            kit_dirs=[a.kits],
            sf2_files=a.sf2 or list(DEFAULT_SF2),
            holdout_kits=list(holdout_for(model)),
            voices=VOICES,  # all, as the evaluation: near-duplicates are dropped across voices
        )
    except FastDrumError as exc:
        p.error(str(exc))
    return model, voices, train, held


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/peak_pitch.py", description=__doc__.split("\n")[0]
    )
    add_model_arguments(p)
    p.add_argument("--baseline", choices=("sine",), action="append", default=[])
    a = p.parse_args(argv)
    model, voices, train, held = model_and_clips(p, a)
    sr = model.sample_rate
    print("| voice | generated | held-out real | training | training, by source (clips: median) |")
    print("|---|---|---|---|---|")
    for v in voices:
        gen = peaks(fastdrum.generate(model, a.n, voice=v, seed=0), sr)
        ours = [c for c in train if c.entry["voice"] == v]
        by = collections.defaultdict(list)
        for c in ours:
            by[_source(c)].append(peak(c.audio, sr))
        sources = ", ".join(f"{s} ({len(x)}: {np.median(x):.0f})" for s, x in sorted(by.items()))
        real = peaks([c.audio for c in held if c.entry["voice"] == v], sr)
        print(
            f"| {v} | {summary(gen)} | {summary(real) if len(real) else '-'} | "
            f"{summary(peaks([c.audio for c in ours], sr))} | {sources} |",
            flush=True,
        )
    for kind in a.baseline:
        y = sine_baseline(3 * a.n, int(0.5 * sr), sr)
        got = peaks(y, sr).reshape(a.n, 3)
        print(
            f"\nbaseline {kind}: medians {np.median(got, axis=0).round(1).tolist()} Hz, built at {list(SINES)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
