"""What is a voice's energy below 30 Hz: an offset or a wander? ``python tools/rumble_shape.py MODEL``

The evaluation's rumble figure (``training.evaluate.lf_share_db``) is the share of a clip's energy
below 30 Hz, DC included, over its first 0.25 s from the onset. It does not say what that energy is:
a constant offset, the leakage of a low fundamental, or a slow wander of a few hertz under the hit.
This splits it, over the same 0.25 s:

- the share below 10 Hz and that between 10 and 30 Hz (the same measure with a cutoff of 10 Hz, and
  the difference): real kicks hold their share between 10 and 30 Hz, the low tail of their body,
  and -40 dB below 10 Hz;
- ``dc``: the mean alone, as a share (dB) of the energy;
- ``peak``: the frequency of the strongest bin of the segment with its mean removed, under a Hann
  window (its own length, no zero-padding: 4 Hz bins over 0.25 s). A drum's peak is its fundamental
  or above (real kicks about 70 Hz); a wander puts it at a few hertz.

Then, per voice, the part of the clips' energy below 30 Hz that they all share (generated and real): each
clip's first 0.25 s from its onset kept below 30 Hz (its spectrum cut there), the energy of their
mean over the mean of their energies, in dB: 0 when every clip carries the same slow trajectory (an
offset the network adds to every clip of the voice), -10 log10(n) for n independent wanders.

Printed per voice, as median (quartiles): over the model's generated clips (raw ``generate()`` at the
voice's defaults, seed 0) and over the held-out real clips (the kits the model's run held out).
``--baseline drift`` (decaying 68 Hz sines, then the same with a 4 Hz wander of their amplitude
under them) must read a peak of 68 Hz without the wander and 4 Hz with it::

    python tools/rumble_shape.py fastdrum/models/drums.npz --voices kick,hihat --baseline drift

Figures: docs/evaluation.md ("Input drift, a rumble lever"). About 20 s for 40 clips of two voices
on two cores (measured on the shipped model, 2026-12-04).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peak_pitch import add_model_arguments, model_and_clips  # noqa: E402

import fastdrum  # noqa: E402
from training.evaluate import _onset, lf_share_db  # noqa: E402

#: The stretch measured from the onset (s), as the evaluation's rumble and hiss figures.
WINDOW = 0.25

#: Where the share below 30 Hz is split (Hz).
LOW = 10.0

#: ``--baseline drift``: the tone (Hz), the wander (Hz) and the wander's amplitude against the tone's.
TONE, WANDER, WANDER_AMPLITUDE = 68.0, 4.0, 1.0


def shape(y, sample_rate):
    """``(below 30 Hz, below 10 Hz, 10 to 30 Hz, DC: dB; peak: Hz)`` of clip `y` over :data:`WINDOW` s
    from its onset.

    Examples
    --------
    >>> sr = 8000; t = np.arange(sr) / sr
    >>> lf, lf10, mid, dc, pk = shape(np.sin(2 * np.pi * 100 * t) + 0.1, sr)
    >>> round(dc), float(pk)
    (-17, 100.0)
    """
    y = np.asarray(y, dtype=np.float64)
    on = _onset(y)
    seg = y[on : on + int(WINDOW * sample_rate)]
    if len(seg) < 2:
        raise ValueError(f"a clip of {len(y)} samples has nothing after its onset")
    energy = float((seg**2).sum())
    if energy <= 0:
        raise ValueError("a silent clip has no spectrum")
    dc = max(seg.mean() ** 2 * len(seg) / energy, 1e-30)
    spectrum = np.abs(np.fft.rfft((seg - seg.mean()) * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1.0 / sample_rate)
    lf, lf10 = lf_share_db(y, sample_rate), lf_share_db(y, sample_rate, cutoff=LOW)
    mid = 10 * np.log10(max(10 ** (lf / 10) - 10 ** (lf10 / 10), 1e-30))
    return lf, lf10, float(mid), float(10 * np.log10(dc)), float(freqs[np.argmax(spectrum)])


def below(y, sample_rate, cutoff=30.0):
    """The first :data:`WINDOW` s from the onset of clip `y` with its spectrum cut above `cutoff` Hz."""
    y = np.asarray(y, dtype=np.float64)
    on = _onset(y)
    seg = np.zeros(int(WINDOW * sample_rate))
    part = y[on : on + len(seg)]
    seg[: len(part)] = part
    spectrum = np.fft.rfft(seg)
    spectrum[np.fft.rfftfreq(len(seg), 1.0 / sample_rate) >= cutoff] = 0
    return np.fft.irfft(spectrum, len(seg))


def shared_db(clips, sample_rate):
    """The part of `clips`' energy below 30 Hz that all of them share (dB; module docstring).

    Examples
    --------
    >>> sr = 400; t = np.arange(sr) / sr
    >>> same = [np.sin(2 * np.pi * 50 * t) + np.sin(2 * np.pi * 4 * t)] * 8
    >>> round(shared_db(same, sr), 6)
    0.0
    """
    low = np.array([below(c, sample_rate) for c in clips])
    each = float((low**2).sum(axis=1).mean())
    if each <= 0:
        return float("-inf")
    return float(10 * np.log10(max((low.mean(axis=0) ** 2).sum() / each, 1e-30)))


def shapes(clips, sample_rate):
    """:func:`shape` of each of `clips`, as an array of rows."""
    return np.array([shape(c, sample_rate) for c in clips])


def drift_baseline(n, T, sample_rate, wander, seed=0):
    """`n` clips of T samples: 68 Hz sines falling 20 dB per 0.2 s, each with a random phase; with
    `wander`, a 4 Hz sine of their amplitude (random phase) under each, falling 20 dB per
    0.4 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / sample_rate
    y = np.sin(2 * np.pi * TONE * t + rng.uniform(0, 2 * np.pi, (n, 1))) * 10.0 ** (-t / 0.2)
    if wander:
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        y = y + WANDER_AMPLITUDE * np.sin(2 * np.pi * WANDER * t + phase) * 10.0 ** (-t / 0.4)
    return y


def summary(x, digits=0):
    """The median and quartiles of `x` as "median (q25 to q75)"."""
    q25, q50, q75 = np.percentile(x, [25, 50, 75])
    return f"{q50:.{digits}f} ({q25:.{digits}f} to {q75:.{digits}f})"


def row(name, clips, sample_rate):
    """A table row of the medians (quartiles) of `clips`' shapes."""
    s = shapes(clips, sample_rate)
    cells = [summary(s[:, i], 1) for i in range(4)] + [summary(s[:, 4])]
    return f"| {name} | {len(s)} | " + " | ".join(cells) + " |"


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/rumble_shape.py", description=__doc__.split("\n")[0]
    )
    add_model_arguments(p)
    p.set_defaults(voices="kick,tom_low,snare,hihat")
    p.add_argument("--baseline", choices=("drift",), action="append", default=[])
    a = p.parse_args(argv)
    model, voices, _, held = model_and_clips(p, a)
    sr = model.sample_rate
    print("| clips | n | below 30 Hz, dB | below 10 Hz, dB | 10-30 Hz, dB | DC, dB | peak, Hz |")
    print("|---|---|---|---|---|---|---|")
    shared = []
    for v in voices:
        gen = fastdrum.generate(model, a.n, voice=v, seed=0)
        print(row(f"{v}, generated", gen, sr))
        real = [c.audio for c in held if c.entry["voice"] == v]
        if real:
            print(row(f"{v}, held-out real", real, sr), flush=True)
        shared.append(
            (v, shared_db(gen, sr), len(gen), shared_db(real, sr) if real else None, len(real))
        )
    for kind in a.baseline:
        for wander in (False, True):
            y = drift_baseline(a.n, int(0.5 * sr), sr, wander)
            print(row(f"baseline {kind}, {'with' if wander else 'without'} the wander", y, sr))
    print(
        "\n| voice | energy below 30 Hz that the clips all share, dB: generated "
        "(independent wanders) | held-out real (independent) |"
    )
    print("|---|---|---|")
    for v, db, n, real_db, n_real in shared:
        real_cell = "-" if real_db is None else f"{real_db:.1f} ({-10 * np.log10(n_real):.1f})"
        print(f"| {v} | {db:.1f} ({-10 * np.log10(n):.1f}) | {real_cell} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
