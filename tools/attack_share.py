"""Where is a voice's high end: in its attack or its body? ``python tools/attack_share.py MODEL``

The evaluation's hiss figure is the share of a clip's energy above 5 kHz over its first 0.25 s from
the onset. For a tom or a kick nearly all of that share is the attack, the stick's crack in the first
milliseconds; for a snare or a clap it is the body. This splits the figure at ``--attack-ms`` (20)
after the onset: the energy above 5 kHz (a zero-phase 4th-order Butterworth high-pass) in the attack,
and in the rest of the 0.25 s, each as a share (dB) of the clip's whole energy over the 0.25 s.
Printed per voice, the medians over the model's generated clips (raw ``generate()`` at the voice's
defaults, seed 0), over the held-out real clips (the kits the model's run held out) and over the
training clips. ``--baseline click`` (a 2 ms white-noise burst on a decaying 100 Hz sine) must put its
high end in the attack, ``--baseline noise`` (white noise throughout) in the body::

    python tools/attack_share.py fastdrum/models/drums.npz --voices tom_low,kick --baseline click

Figures: docs/evaluation.md ("The toms' missing attack"). About 1 min for 40 clips of three voices.
"""

import argparse
import os
import sys

import numpy as np
from scipy.signal import butter, sosfiltfilt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peak_pitch import add_model_arguments, model_and_clips  # noqa: E402

import fastdrum  # noqa: E402
from training.evaluate import _onset  # noqa: E402

#: The cutoff (Hz) and window after the onset (s) of the evaluation's hiss figure, and the floor of a
#: share (dB).
HF_CUTOFF, WINDOW, FLOOR_DB = 5000.0, 0.25, -300.0


def split_share(y, sample_rate, attack_ms=20.0):
    """``(attack, body)``: the energy of `y` above :data:`HF_CUTOFF` Hz in its first `attack_ms`
    from the onset (the evaluation's), and in the rest of the :data:`WINDOW` s, each in dB of its
    whole energy over the window.

    Examples
    --------
    A 100 Hz tone with white noise in its first 10 ms: the high end is all in the attack.

    >>> t = np.arange(8000) / 16000
    >>> y = np.sin(2 * np.pi * 100 * t)
    >>> y[:160] += np.random.default_rng(0).standard_normal(160)
    >>> a, b = split_share(y, 16000)
    >>> bool(a > -25 and b < -60)
    True
    """
    y = np.asarray(y, dtype=np.float64)
    on = _onset(y)
    n, k = int(WINDOW * sample_rate), int(round(attack_ms * sample_rate / 1000.0))
    sos = butter(4, HF_CUTOFF, "highpass", fs=sample_rate, output="sos")
    high = sosfiltfilt(sos, y)
    total = np.sum(y[on : on + n] ** 2)

    def db(e):
        return max(10.0 * np.log10(e / total), FLOOR_DB) if e > 0 and total > 0 else FLOOR_DB

    return db(np.sum(high[on : on + k] ** 2)), db(np.sum(high[on + k : on + n] ** 2))


def medians(clips, sample_rate, attack_ms=20.0):
    """The medians over `clips` of :func:`split_share`: ``(attack, body)``."""
    parts = np.array([split_share(c, sample_rate, attack_ms) for c in clips])
    return tuple(np.median(parts, axis=0))


def baseline(kind, n, T, sample_rate, seed=0):
    """`n` clips of T samples: ``"click"``, a 2 ms white-noise burst on a 100 Hz sine falling 20 dB
    per 0.2 s; ``"noise"``, white noise throughout."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.standard_normal((n, T))
    t = np.arange(T) / sample_rate
    y = np.sin(2 * np.pi * 100.0 * t + rng.uniform(0, 2 * np.pi, (n, 1))) * 10.0 ** (-t / 0.2)
    k = int(0.002 * sample_rate)
    y[:, :k] += rng.standard_normal((n, k))
    return y


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/attack_share.py", description=__doc__.split("\n")[0]
    )
    add_model_arguments(p)
    p.add_argument("--attack-ms", type=float, default=20.0, help="the attack's length (default 20)")
    p.add_argument("--baseline", choices=("click", "noise"), action="append", default=[])
    a = p.parse_args(argv)
    if not 0 < a.attack_ms < 1000 * WINDOW:
        p.error(f"--attack-ms must lie in (0, {1000 * WINDOW:g}), got {a.attack_ms:g}")
    model, voices, train, held = model_and_clips(p, a)
    sr = model.sample_rate
    ms = f"{a.attack_ms:g} ms"
    print(
        f"| voice | source | clips | above {HF_CUTOFF:g} Hz: first {ms}, dB | the rest of {WINDOW:g} s, dB |"
    )
    print("|---|---|---|---|---|")
    for v in voices:
        rows = [
            ("generated", fastdrum.generate(model, a.n, voice=v, seed=0)),
            ("held-out real", [c.audio for c in held if c.entry["voice"] == v]),
            ("training", [c.audio for c in train if c.entry["voice"] == v]),
        ]
        for name, clips in rows:
            if len(clips):
                _row(v, name, clips, sr, a.attack_ms)
    for kind in a.baseline:
        _row(
            "-", f"baseline {kind}", baseline(kind, a.n, int(WINDOW * sr) + 1, sr), sr, a.attack_ms
        )
    return 0


def _row(voice, name, clips, sample_rate, attack_ms):
    att, body = medians(clips, sample_rate, attack_ms)
    print(f"| {voice} | {name} | {len(clips)} | {att:.1f} | {body:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
