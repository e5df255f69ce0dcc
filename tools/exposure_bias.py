"""How well does a model predict real clips, and its own? ``python tools/exposure_bias.py MODEL``

A WaveNet is trained on real contexts (teacher forcing) and generates from its own draws. Where its
own contexts are ones it never saw, its predictions are less sure there, and an error it makes is
carried on (exposure bias). This feeds clips through :meth:`fastdrum.Model.forward` (the whole
sequence at once) and, at each step, compares the mean of the predicted distribution of the next
value (``softmax(logits) @ mu_law_decode(codes)``) with the value that came: the error of the
predicted mean, in the units of the signal the network models (mu-law decoded; for a model with
pre-emphasis, the pre-emphasised signal; for an envelope model, divided by the clip's envelope).
Printed per voice, the median over clips of its RMS, and of the RMS of its part below 30 Hz (a
zero-phase 4th-order Butterworth low-pass), for:

- **held-out real** clips (the kits the model's run held out), each divided by the envelope of its
  decay time as training divides it (``training.batches.envelope_decay_seconds``), pre-emphasised
  and coded: teacher forcing;
- **generated** clips, the model's own (``generate()`` at temperature 1 without a cutoff, decay
  ``--decay`` s for a decay-conditioned model, seed 0), divided by the same envelope and coded again:
  the contexts it generates from.

The first ``--seconds`` (0.25) of each clip, from its first sample. ``--n`` (8) clips each. Figures:
docs/evaluation.md ("Input drift, a rumble lever")::

    python tools/exposure_bias.py fastdrum/models/drums.npz --voices kick,tom_low

About 30 s for 8 clips of two voices on two cores (measured on the shipped model, 2026-12-04).

``--partials`` prints instead, for the held-out real clips (teacher forcing), the medians of
:func:`partials_kept`: the partials that last (``training.evaluate.partial_persistence``) in the
coded clip, in the predicted mean and in its error (docs/evaluation.md, "Partials given and lost")::

    python tools/exposure_bias.py fastdrum/models/crash.npz --voices crash --partials --seconds 0.5
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
from fastdrum.mulaw import mu_law_decode, mu_law_encode, preemphasis  # noqa: E402
from training.batches import envelope_decay_seconds, envelope_normalise  # noqa: E402
from training.evaluate import RUMBLE_HZ, partial_persistence  # noqa: E402


def modelled(model, clips, decays, voice=None, *, a=None, b=None, shelf=None):
    """``(normalised, coded)``: `clips` (N, T) of `decays` (s, one per clip; None for a model
    without an envelope) divided by the envelope and clipped, scaled to a peak of at most 1; and
    that taken through the low shelf, integrated and pre-emphasised (`shelf`, ``(c, p)``, and
    coefficients `b` and `a`, default `voice`'s of the model): the signal the network of `model`
    models, before mu-law."""
    y = np.asarray(clips, dtype=np.float64)
    if model.envelope is not None:
        y, _ = envelope_normalise(y, decays, model.sample_rate, model.envelope)
    y = y / np.maximum(np.abs(y).max(axis=-1, keepdims=True), 1.0)
    a = model.preemphasis_of(voice) if a is None else a
    b = model.integration_of(voice) if b is None else b
    shelf = model.shelf_of(voice) if shelf is None else shelf
    return y, preemphasis(y, a, b, shelf)


def codes(model, clips, decays, voice=None, *, a=None, b=None):
    """The codes the network of `model` models for `clips`: :func:`modelled`'s signal, mu-law
    coded."""
    _, e = modelled(model, clips, decays, voice, a=a, b=b)
    return mu_law_encode(e, model.quantization_channels)


def predicted_means(model, q, *, voice=None, decay=None):
    """``(mean, came)``: at each step t along codes `q`, the mean of the distribution of
    ``logits[t]`` over the decoded levels, and the decoded ``q[t + 1]`` that came."""
    levels = mu_law_decode(np.arange(model.quantization_channels), model.quantization_channels)
    logits = np.asarray(model.forward(q, voice=voice, decay=decay), dtype=np.float64)[:-1]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p @ levels, levels[np.asarray(q)[1:]]


def prediction_errors(model, q, *, voice=None, decay=None):
    """``(RMS, RMS below 30 Hz)`` of the error of the predicted mean along codes `q`
    (:func:`predicted_means`: the mean less the value that came).
    """
    mean, came = predicted_means(model, q, voice=voice, decay=decay)
    error = mean - came
    low = sosfiltfilt(butter(4, RUMBLE_HZ, fs=model.sample_rate, output="sos"), error)
    return float(np.sqrt((error**2).mean())), float(np.sqrt((low**2).mean()))


def partials_kept(model, q, *, voice=None, decay=None):
    """``(clip, mean, error)``: :func:`training.evaluate.partial_persistence` of the coded clip
    along codes `q`, of the predicted mean and of its error (:func:`predicted_means`). A network that
    predicts the partials ringing in its context leaves none in the error; one that predicts only
    the spectral envelope leaves them there as they were in the clip."""
    mean, came = predicted_means(model, q, voice=voice, decay=decay)
    sr = model.sample_rate
    return tuple(partial_persistence(y, sr) for y in (came, mean, came - mean))


def errors(model, clips, voice, decays):
    """:func:`prediction_errors` of each of `clips` (N, T), as rows (N, 2)."""
    q = codes(model, clips, decays, voice)
    ds = [None] * len(q) if model.decay is None else decays
    return np.array([prediction_errors(model, c, voice=voice, decay=d) for c, d in zip(q, ds)])


def cut(clips, T):
    """`clips` cut or zero-padded to T samples: (N, T)."""
    return np.array([np.pad(c[:T], (0, max(0, T - len(c)))) for c in clips])


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/exposure_bias.py", description=__doc__.split("\n")[0]
    )
    add_model_arguments(p)
    p.set_defaults(voices="kick,tom_low", n=8)
    p.add_argument("--seconds", type=float, default=0.25, help="length measured (default 0.25)")
    p.add_argument("--decay", type=float, default=0.2, help="generated clips' decay (default 0.2)")
    p.add_argument(
        "--partials",
        action="store_true",
        help="the partials that last in the held-out clips, their predicted mean and its error",
    )
    a = p.parse_args(argv)
    model, voices, _, held = model_and_clips(p, a)
    sr, T = model.sample_rate, int(a.seconds * model.sample_rate)
    if a.partials:
        print("| voice | clips | partials that last: coded clip | predicted mean | error |")
        print("|---|---|---|---|---|")
        for v in voices:
            real = cut([c.audio for c in held if c.entry["voice"] == v][: a.n], T)
            if not len(real):
                continue
            decays = [None] * len(real)
            if model.envelope is not None:
                decays = envelope_decay_seconds(real, sr, model.envelope)
            q = codes(model, real, decays, v)
            ds = decays if model.decay is not None else [None] * len(real)
            rows = [partials_kept(model, c, voice=v, decay=d) for c, d in zip(q, ds)]
            f = np.nanmedian(np.array(rows, dtype=np.float64), axis=0)
            print(f"| {v} | {len(real)} | {f[0]:.3f} | {f[1]:.3f} | {f[2]:.3f} |", flush=True)
        return 0
    print("| voice | clips | n | error RMS | error RMS below 30 Hz |")
    print("|---|---|---|---|---|")
    for v in voices:
        real = cut([c.audio for c in held if c.entry["voice"] == v][: a.n], T)
        if len(real) and model.envelope is not None:
            real_decays = envelope_decay_seconds(real, sr, model.envelope)
        else:
            real_decays = [None] * len(real)
        decay = a.decay if model.decay is not None else None
        kw = {} if decay is None else {"decay": decay}
        own = fastdrum.generate(model, a.n, voice=v, seed=0, temperature=1.0, epsilon=0.0, **kw)
        for name, clips, decays in (
            ("held-out real, teacher forcing", real, real_decays),
            ("generated, its own draws", cut(own, T), [decay] * a.n),
        ):
            if len(clips):
                e = np.median(errors(model, clips, v, decays), axis=0)
                print(f"| {v} | {name} | {len(clips)} | {e[0]:.4f} | {e[1]:.5f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
