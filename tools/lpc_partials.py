"""Could a linear predictor carry the partials the networks lack? ``python tools/lpc_partials.py``

No shipped network gives partials that last (docs/evaluation.md, "Partials that last"), not even
continuing a real clip that has them (``tools/primed_tails.py``). A linear predictor is what
vocoders put beside a network (LPCNet's, order 16, from features); a backward-adaptive one (ITU-T
G.728's kind) is fitted to the signal already made, so a decoder needs nothing sent. This measures
one on the held-out real clips of each voice at 44.1 kHz: every ``--hop`` samples, the coefficients
of order ``--orders`` fitted (autocorrelation method, Hann window, Levinson recursion with a 1.0001
white-noise correction) to the last ``--window`` samples, then used to predict each next sample of
the hop from the samples before it. Per voice and order it prints the median over clips of

- the **prediction gain** (dB): the clip's power over the prediction error's, from the first full
  window on;
- the **persistence** (:func:`training.evaluate.partial_persistence`) of the clip and of the error
  from 0.1 s on: what the predictor leaves of the partials;
- the persistence, from 0.1 s on, of **synthesis**: the predictor run on its own output, driven by
  white noise at the error's 5 ms RMS contour (what a network would have to draw if it modelled only
  the error), primed with the clip's first 0.1 s, and primed with its first ``order`` samples only.

About 1 min a voice at order 256 (a pure-Python loop over the samples).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fastdrum.predictor import coefficients  # noqa: E402
from training.evaluate import (  # noqa: E402
    DEFAULT_HOLDOUT,
    DEFAULT_KITS,
    DEFAULT_SF2,
    partial_persistence,
)
from training.voices import VOICES, load_voice_clips  # noqa: E402

#: The fit (fastdrum.predictor.coefficients, format 6's): Hann-windowed autocorrelation, lag 0 times
#: 1.0001, the Levinson recursion; zeros for silence.
lpc_coefficients = coefficients


def prediction_error(x, order, window, hop):
    """`x` less its backward-adaptive prediction from sample `window` on (before it, `x` itself)."""
    x = np.asarray(x, dtype=np.float64)
    e = x.copy()
    for s in range(window, len(x), hop):
        a = lpc_coefficients(x[:s], order, window)
        stop = min(s + hop, len(x))
        lags = np.lib.stride_tricks.sliding_window_view(x[s - order : stop - 1], order)[:, ::-1]
        e[s:stop] = x[s:stop] - lags @ a
    return e


def synthesise(primer, T, excitation, order, window, hop, rng):
    """`T` samples: `primer`, then the backward-adaptive predictor run on its own output plus white
    noise scaled by `excitation` (T,), sample by sample."""
    y = np.zeros(T + order)
    P = len(primer)
    y[order : order + P] = primer
    for s in range(P, T, hop):
        a = lpc_coefficients(y[order : order + s], order, window)
        for t in range(s, min(s + hop, T)):
            y[order + t] = a @ y[t : order + t][::-1] + excitation[t] * rng.standard_normal()
    return y[order:]


def figures(x, sr, order, window, hop, rng, start=0.1):
    """``(gain dB, persistence of x, of the error, of synthesis primed start s, primed order
    samples)`` from `start` s on, for one clip `x`."""
    e = prediction_error(x, order, window, hop)
    gain = 10 * np.log10(np.var(x[window:]) / max(np.var(e[window:]), 1e-30))
    k = int(round(0.005 * sr))
    contour = np.sqrt(np.convolve(e**2, np.ones(k) / k, "same"))
    P = int(round(start * sr))
    primed = synthesise(x[:P], len(x), contour, order, window, hop, rng)
    short = synthesise(x[:order], len(x), contour, order, window, hop, rng)
    return (gain,) + tuple(partial_persistence(y[P:], sr) for y in (x, e, primed, short))


def predictor_options(p, default_voices, n):
    """Add ``--voices``, ``--window``, ``--hop`` and ``-n`` to parser `p`: the options of both
    predictor tools (this one and ``tools/predictor_code.py``)."""
    p.add_argument(
        "--voices", default=default_voices, help=f"comma-separated (default {default_voices})"
    )
    p.add_argument("--window", type=int, default=4096, help="samples fitted (default 4096)")
    p.add_argument("--hop", type=int, default=256, help="samples between fits (default 256)")
    p.add_argument("-n", type=int, default=n, help=f"held-out clips a voice (default {n})")


def held_out(p, args, seconds, sr=44100):
    """``{voice: (n, T) float64}``: up to ``args.n`` held-out real clips of each of ``args.voices``
    (the default held-out kits), their first `seconds` (zero-padded); ``p.error`` for an unknown
    voice, or a hop below 1."""
    voices = args.voices.split(",")
    unknown = [v for v in voices if v not in VOICES]
    if unknown:
        p.error(f"--voices: unknown {', '.join(unknown)} (known: {', '.join(VOICES)})")
    if args.hop < 1:
        p.error("--hop must be at least 1")
    _, held, _ = load_voice_clips(
        sample_rate=sr,
        kit_dirs=[DEFAULT_KITS],
        sf2_files=list(DEFAULT_SF2),
        holdout_kits=list(DEFAULT_HOLDOUT),
        voices=VOICES,
    )
    T = int(round(seconds * sr))
    out = {}
    for v in voices:
        clips = [c.audio[:T] for c in held if c.entry["voice"] == v][: args.n]
        out[v] = np.array([np.pad(c, (0, T - len(c))) for c in clips], dtype=np.float64)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/lpc_partials.py", description=__doc__.split("\n\n")[0]
    )
    predictor_options(p, "crash,ride", 12)
    p.add_argument("--orders", default="32,256", help="predictor orders (default 32,256)")
    args = p.parse_args(argv)
    try:
        orders = [int(o) for o in args.orders.split(",")]
    except ValueError:
        p.error(f"--orders: expected integers like 32,256, got {args.orders!r}")
    if not all(1 <= o < args.window for o in orders):
        p.error("--orders must lie in [1, --window)")
    sr = 44100
    clips_of = held_out(p, args, 0.6, sr)  # 0.1 s of primer and the 0.5 s the persistence reads
    print(
        "| voice | order | prediction gain, dB | persistence: clip | error | synthesis, "
        "primed 0.1 s | primed `order` samples |"
    )
    print("|---|---|---|---|---|---|---|")
    for v, clips in clips_of.items():
        for order in orders:
            rng = np.random.default_rng(0)
            rows = np.array([figures(x, sr, order, args.window, args.hop, rng) for x in clips])
            med = np.nanmedian(rows, axis=0)
            print(
                f"| {v} | {order} | {med[0]:.1f} | {med[1]:.3f} | {med[2]:.3f} | {med[3]:.3f} "
                f"| {med[4]:.3f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
