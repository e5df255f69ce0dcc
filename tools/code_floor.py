"""What would a perfect network score through the model's code? ``python tools/code_floor.py MODEL``

A model's network draws one of 256 mu-law codes a step; ``generate()`` decodes them, undoes the
pre-emphasis a and the leaky integration b (model formats 2 and 3), and multiplies the envelope
back.
Even a network that drew exactly the codes of a real clip would not give back the real clip: the
8-bit quantisation noise of the signal it models passes through the decoding filter
``(1 + |a|)(1 - b z^-1) / ((1 - b)(1 - a z^-1))``, which raises it below the pole at a (rumble) and
above the zero at b (the top octave). This measures that floor: the held-out real clips of each
voice (the kits the model's run held out), coded as training codes them (divided by the envelope of
their decay time and clipped, integrated and pre-emphasised, mu-law coded:
``tools/exposure_bias.py``'s :func:`modelled`) and decoded as ``generate()`` decodes them
(``fastdrum._generate._finish``), then judged beside the clean clips, per voice and per pair (a, b)
(``--clips training``: the training sources' clips instead, to choose coefficients without looking
at the held-out kits):

- the medians of the evaluation's share below 30 Hz and above 5 kHz (``training.evaluate``), clean
  and through the code;
- the log-mel damage: the RMS over the 64 mel bands of the difference of the mean log-mel spectra
  (``training.evaluate.mean_log_mel``) of the clips through the code and the clean ones (dB), and
  the mean of that difference over the top eighth of the bands (about 14-22 kHz at 44.1 kHz);
- the median peak of the coded signal (before mu-law): how much of the code's range it uses;
- the median spectral flatness (``training.evaluate.spectral_flatness``, one of the classifier's
  features), clean and through the code: how much of a generated clip's flatness the code alone
  explains (docs/evaluation.md, "Why the hi-hat is named noise");
- the median persistence of partials (``training.evaluate.partial_persistence``), clean and through
  the code: how much of the partials that last from frame to frame the code alone would take away
  (docs/evaluation.md, "Partials that last").

``--coefficients A:B,...`` names the pairs (default: the model's own for each voice); ``A:B:HZ``
adds a low shelf at HZ, 20 dB deep, and ``A:B:HZ:DB`` one DB deep (training's ``--shelf-hz`` and
``--shelf-db``). No model is
run: only its code, its envelope and its sample rate are used, so any trained model of the voices
will do (a format-5 model's output filter, a correction of its network's spectrum, is left out: the
floor is the code's). Figures: docs/evaluation.md ("The code's floor")::

    python tools/code_floor.py fastdrum/models/drums.npz --voices hihat,openhat --coefficients 0:0,0.85:0,0:0.995

Loading the clips takes a few seconds, then about 0.3 s a voice and pair on two cores (21 pairs of
three voices in 6 s with the shipped model, 2026-12-05).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from exposure_bias import modelled  # noqa: E402
from peak_pitch import add_model_arguments, model_and_clips  # noqa: E402

from fastdrum._generate import _finish  # noqa: E402
from fastdrum.mulaw import mu_law_encode, shelf_coefficients, shelf_corner  # noqa: E402
from training.batches import envelope_decay_seconds  # noqa: E402
from training.evaluate import (  # noqa: E402
    _median_persistence,
    hf_share_db,
    lf_share_db,
    mean_log_mel,
    spectral_flatness,
)

#: The mel bands whose mean damage is reported apart: the top eighth of the 64.
TOP_BANDS = 8


def through_code(model, clips, a, b, shelf=(0.0, 0.0)):
    """``(clean, decoded, peaks)``: `clips` (N, T) as the network of `model` would model them with
    coefficients (a, b) and the low shelf `shelf` (``(c, p)``), divided by their envelope and clipped as training divides them, then
    multiplied back (``clean``: what a perfect network should give); ``decoded``, the same through
    8-bit codes and ``generate()``'s decoding; ``peaks``, each clip's peak before mu-law."""
    y = np.asarray(clips, dtype=np.float64)
    decays = None
    if model.envelope is not None:
        decays = envelope_decay_seconds(y, model.sample_rate, model.envelope)
    normalised, e = modelled(model, y, decays, a=a, b=b, shelf=shelf)
    q = mu_law_encode(e, model.quantization_channels)
    # Not the output filter (format 5): it corrects the network's spectrum, not the code's.
    unfiltered = None if model.output_filter is None else np.ones(1)
    decoded = _finish(q, model, decays, a=a, b=b, shelf=shelf, fir=unfiltered)
    clean = normalised
    if decays is not None:
        clean = normalised * model._envelope(y.shape[-1], np.asarray(decays, dtype=np.float64))
    peaks = np.abs(e).max(axis=-1)
    return clean, np.asarray(decoded, dtype=np.float64), peaks


def floor(model, clips, a, b, shelf=(0.0, 0.0)):
    """The figures of :func:`through_code` (module docstring) as a dict."""
    sr = model.sample_rate
    clean, decoded, peaks = through_code(model, clips, a, b, shelf)
    damage = mean_log_mel(decoded, sr) - mean_log_mel(clean, sr)
    return dict(
        lf_clean=float(np.median([lf_share_db(c, sr) for c in clean])),
        lf=float(np.median([lf_share_db(c, sr) for c in decoded])),
        hf_clean=float(np.median([hf_share_db(c, sr) for c in clean])),
        hf=float(np.median([hf_share_db(c, sr) for c in decoded])),
        mel_damage=float(np.sqrt((damage**2).mean())),
        top_damage=float(damage[-TOP_BANDS:].mean()),
        peak=float(np.median(peaks)),
        flatness_clean=float(np.median([spectral_flatness(c, sr) for c in clean])),
        flatness=float(np.median([spectral_flatness(c, sr) for c in decoded])),
        persistence_clean=_median_persistence(clean, sr),
        persistence=_median_persistence(decoded, sr),
    )


def parse_pairs(text):
    """``"A:B,..."`` as [(a, b, 0.0, 20.0), ...], ``"A:B:HZ"`` as (a, b, HZ, 20.0), HZ the corner of
    a low shelf (0: none), ``"A:B:HZ:DB"`` as (a, b, HZ, DB), DB its depth as training's
    ``--shelf-db`` (ValueError naming an item that is not two to four numbers)."""
    pairs = []
    for item in text.split(","):
        try:
            numbers = [float(x) for x in item.split(":")]
            if len(numbers) not in (2, 3, 4):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"--coefficients: {item!r} is not A:B, A:B:HZ or A:B:HZ:DB (two to four numbers)"
            ) from None
        pairs.append(tuple(numbers + [0.0, 20.0][len(numbers) - 2 :]))
    return pairs


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/code_floor.py", description=__doc__.split("\n")[0]
    )
    add_model_arguments(p)
    p.set_defaults(voices="hihat,openhat")
    p.add_argument(
        "--coefficients",
        metavar="A:B[:HZ[:DB]],...",
        help="(a, b) pairs, or with a low shelf's corner HZ and depth DB (default 20, as training's "
        "--shelf-db) (default the model's own)",
    )
    p.add_argument(
        "--clips",
        choices=("held-out", "training"),
        default="held-out",
        help="whose clips: the held-out kits' (default; what the evaluation judges against) or the "
        "training sources' (to choose coefficients without looking at the held-out kits)",
    )
    a = p.parse_args(argv)
    try:
        pairs = parse_pairs(a.coefficients) if a.coefficients else None
    except ValueError as exc:
        p.error(str(exc))
    model, voices, train, held = model_and_clips(p, a)
    clips = held if a.clips == "held-out" else train
    print(
        "| voice | a | b | shelf, Hz / dB | n | below 30 Hz, dB: clean / coded | above 5 kHz, dB: clean "
        "/ coded | log-mel damage, dB RMS | top eighth, dB | peak coded | flatness: clean / coded "
        "| partials that last: clean / coded |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    sr = model.sample_rate
    for v in voices:
        real = [c.audio for c in clips if c.entry["voice"] == v]
        if not real:
            continue
        T = min(len(c) for c in real)
        real = np.array([c[:T] for c in real])
        own = [(model.preemphasis_of(v), model.integration_of(v), model.shelf_of(v))]
        triples = (
            [(pa, pb, shelf_coefficients(hz, sr, db)) for pa, pb, hz, db in pairs] if pairs else own
        )
        for pa, pb, shelf in triples:
            f = floor(model, real, pa, pb, shelf)
            hz, db = shelf_corner(shelf, sr)
            print(
                f"| {v} | {pa:g} | {pb:g} | {hz:.0f} / {db:.0f} | {len(real)} | "
                f"{f['lf_clean']:.1f} / {f['lf']:.1f} | "
                f"{f['hf_clean']:.1f} / {f['hf']:.1f} | {f['mel_damage']:.2f} | "
                f"{f['top_damage']:+.1f} | {f['peak']:.3f} | "
                f"{f['flatness_clean']:.3f} / {f['flatness']:.3f} | "
                f"{f['persistence_clean']:.3f} / {f['persistence']:.3f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
