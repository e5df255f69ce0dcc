"""What would a code of a linear predictor's error keep? ``python tools/predictor_code.py``

The networks code a drum as 8-bit mu-law of the signal itself (after pre-emphasis or integration);
none of them rings the partials a real drum rings (docs/evaluation.md, "Partials given and lost").
The lever ``tools/lpc_partials.py`` points at is a network that models the error of a backward-
adaptive linear predictor instead. This measures the code such a network would learn, without any
network: the structure of ADPCM, closed loop, so the decoder can follow the encoder exactly (since
session 59 model format 6's code, :mod:`fastdrum.predictor`, whose fit computes the autocorrelation by FFT
where this tool's own loop did it directly: the same sums to rounding). Every
``--hop`` samples, coefficients of order ``--order`` are fitted to the last ``--window`` samples
*decoded* (:func:`fastdrum.predictor.coefficients`); each sample's prediction from the decoded past is
subtracted, the error times a gain (``--gains``) is clipped to [-1, 1] and coded in 8-bit mu-law; the
decoded sample is the prediction plus the decoded error over the gain. :func:`decode` rebuilds the
same samples from the codes alone.

Per voice and gain, over the held-out real clips (peak-normalised to 0.95, their first 0.6 s at 44.1
kHz), the median SNR (dB) of the decoded clip, and over the set the log-mel damage (dB RMS of the
mean log-mel difference to the clean clips, ``training.evaluate.mean_log_mel``) and the median
partials that last (``training.evaluate.partial_persistence``), for plain 8-bit mu-law and for the
predictor's code. About 1 min a voice and gain (a pure-Python loop over the samples).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lpc_partials import held_out, predictor_options  # noqa: E402

from fastdrum import predictor as fastdrum_predictor  # noqa: E402
from fastdrum.mulaw import mu_law_decode, mu_law_encode  # noqa: E402
from training.evaluate import _median_persistence, mean_log_mel  # noqa: E402


def encode(x, order, window, hop, gain, q=256):
    """``(codes, decoded)`` of clip `x` under the closed-loop predictor's code
    (:func:`fastdrum.predictor.encode`, model format 6's)."""
    return fastdrum_predictor.encode(x, order, window, hop, gain, q)


def decode(codes, order, window, hop, gain, q=256):
    """The samples `codes` decode to: the decoder half of :func:`encode`'s loop, a sample at a time
    (:func:`fastdrum.predictor.synthesise_reference` of the decoded errors over the gain)."""
    errors = mu_law_decode(np.asarray(codes), q).astype(np.float64) / gain
    return fastdrum_predictor.synthesise_reference(errors, order, window, hop)


def snr_db(clean, decoded):
    clean = np.asarray(clean, dtype=np.float64)
    err = np.sum((clean - decoded) ** 2)
    return float(10 * np.log10(np.sum(clean**2) / err)) if err > 0 else float("inf")


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/predictor_code.py", description=__doc__.split("\n\n")[0]
    )
    predictor_options(p, "crash,ride,hihat", 10)
    p.add_argument("--gains", default="1,4", help="gains on the error before mu-law (default 1,4)")
    p.add_argument("--order", type=int, default=256, help="predictor order (default 256)")
    args = p.parse_args(argv)
    try:
        gains = [float(g) for g in args.gains.split(",")]
    except ValueError:
        p.error(f"--gains: expected numbers like 1,4, got {args.gains!r}")
    if not all(g > 0 for g in gains) or not 1 <= args.order < args.window:
        p.error("--gains must be > 0 and --order in [1, --window)")
    sr = 44100
    clips_of = held_out(p, args, 0.6, sr)
    print(
        "| voice | code | SNR, dB | log-mel damage, dB | partials that last (clean) |\n"
        "|---|---|---|---|---|"
    )
    for v, clean in clips_of.items():
        clean = 0.95 * clean / np.abs(clean).max(axis=1, keepdims=True)
        ref = mean_log_mel(clean, sr)
        kept = _median_persistence(clean, sr)
        plain = mu_law_decode(mu_law_encode(clean, 256), 256)
        coded = [("8-bit mu-law", plain)]
        for g in gains:
            y = np.array([encode(c, args.order, args.window, args.hop, g)[1] for c in clean])
            coded.append((f"order {args.order} error, gain {g:g}", y))
        for name, y in coded:
            damage = float(np.sqrt(((mean_log_mel(y, sr) - ref) ** 2).mean()))
            snr = np.median([snr_db(c, d) for c, d in zip(clean, y)])
            print(
                f"| {v} | {name} | {snr:.1f} | {damage:.2f} | "
                f"{_median_persistence(y, sr):.3f} ({kept:.3f}) |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
