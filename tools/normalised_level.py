"""Does an envelope model's own signal go silent? ``python tools/normalised_level.py MODEL``

An envelope model (docs/format.md, "Envelope") generates each clip divided by the envelope of its
decay time, and ``generate()`` multiplies the envelope back. Its training clips, so divided, hold
their level until the clip ends; a network that falls silent of its own accord makes clips that die
faster than their envelope, whatever the envelope says. This generates ``--n`` clips of each voice
at its defaults (seed 0), each with a decay time drawn from its voice's training decays, divides
them by their envelopes again, and prints per voice the share of clips that go **silent**: the
median RMS of their 50 ms windows from 0.15 s to three quarters of the clip more than 30 dB below
their loudest window; and the median over clips of that level, which also shows a fall short of
silence. Beside it, the same share of the held-out real clips divided by theirs (the
kits the model's run held out, measured as training measures them). ``--baseline silence`` (white
noise 0.1 s long, then nothing) and ``--baseline hold`` (white noise throughout) must come out
100% and 0%::

    python tools/normalised_level.py fastdrum/models/drums.npz --baseline silence --baseline hold

Figures: docs/evaluation.md. About 90 s for 40 clips of every voice on two cores.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tail_fit import held_out_audio  # noqa: E402

import fastdrum  # noqa: E402
from fastdrum.errors import FastDrumError  # noqa: E402
from training.batches import envelope_normalise  # noqa: E402
from training.evaluate import model_voices  # noqa: E402

#: Windows (s), where the measured stretch starts (s) and ends (share of the clip), and how far
#: below the loudest window (dB) its median must be for a clip to count as silent.
WINDOW, FROM, TO, SILENT_DB = 0.05, 0.15, 0.75, -30.0


def silent(clips, sample_rate):
    """Per clip (rows of `clips`): is its :func:`level` more than -`SILENT_DB` dB below its loudest
    window?

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.standard_normal((2, 1000))
    >>> noise[1, 200:] *= 1e-3  # 60 dB down after 0.2 s
    >>> silent(noise, 1000).tolist()
    [False, True]
    """
    return level(clips, sample_rate) < SILENT_DB


def level(clips, sample_rate):
    """Per clip (rows of `clips`): the median RMS of its `WINDOW` s windows from `FROM` s to `TO` of
    its length, in dB relative to its loudest window (at least one window is measured). A clip that
    holds its level reads near 0; one that dies, far below.

    Examples
    --------
    A square wave held, and one falling 40 dB a second: the median of windows 3 to 14 lies between
    windows 8 and 9, 16 and 18 dB below window 0.

    >>> t = np.arange(1000)
    >>> level(np.stack([np.sign(np.sin(t)), np.sign(np.sin(t)) * 10.0 ** (-t / 500)]), 1000).round(1)
    array([  0. , -16.9])
    """
    clips = np.asarray(clips, dtype=np.float64)
    w = max(1, int(round(WINDOW * sample_rate)))
    k = clips.shape[-1] // w
    rms = np.sqrt((clips[:, : k * w].reshape(len(clips), k, w) ** 2).mean(axis=-1))
    db = 20 * np.log10(np.maximum(rms / np.maximum(rms.max(axis=1, keepdims=True), 1e-300), 1e-15))
    a = min(int(round(FROM / WINDOW)), k - 1)
    b = max(a + 1, int(TO * k))
    return np.median(db[:, a:b], axis=1)


def baseline(kind, n, T, sample_rate, seed=0):
    """`n` clips of T samples: white noise for 0.1 s then silence (``"silence"``), or throughout
    (``"hold"``)."""
    y = np.random.default_rng(seed).standard_normal((n, T))
    if kind == "silence":
        y[:, int(0.1 * sample_rate) :] = 0.0
    return y


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/normalised_level.py", description=__doc__.split("\n")[0]
    )
    p.add_argument("model", help="an envelope model's file")
    p.add_argument("--voices", help="comma-separated (default: every voice of the model)")
    p.add_argument("--n", type=int, default=40, help="clips a voice (default 40)")
    p.add_argument("--baseline", choices=("silence", "hold"), action="append", default=[])
    a = p.parse_args(argv)
    try:
        model = fastdrum.load_model(a.model)
    except FastDrumError as exc:
        p.error(str(exc))
    if model.envelope is None:
        p.error(f"{a.model} is not an envelope model (it has no meta['envelope'])")
    drums = model_voices(model)  # not 'any': no kit has its clips
    voices = a.voices.split(",") if a.voices else drums
    unknown = sorted(set(voices) - set(drums))
    if unknown:
        p.error(f"unknown voices {unknown}; the model has {drums}")
    sr = model.sample_rate
    real = held_out_audio(model, voices, 40)
    rng = np.random.default_rng(0)
    print("| voice | source | clips | silent (real held-out) | median level, dB (real held-out) |")
    print("|---|---|---|---|---|")
    for v in voices:
        fitted, seconds = real[v]
        z_real, _ = envelope_normalise(fitted, seconds, sr, model.envelope)
        of_real = level(z_real, sr)
        pool = np.asarray(model.voice_decays[v], dtype=np.float64)
        d = pool[rng.integers(len(pool), size=a.n)]
        y = np.asarray(fastdrum.generate(model, a.n, voice=v, seed=0, decay=list(d)), np.float64)
        rows = [(os.path.basename(a.model), y / model._envelope(y.shape[-1], d))]
        rows += [(k, baseline(k, a.n, y.shape[-1], sr)) for k in a.baseline]
        for name, z in rows:
            db = level(z, sr)
            print(
                f"| {v} | {name} | {a.n} | {np.mean(db < SILENT_DB):.0%} "
                f"({np.mean(of_real < SILENT_DB):.0%}) | {np.median(db):.1f} ({np.median(of_real):.1f}) |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
