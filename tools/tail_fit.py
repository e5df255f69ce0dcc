"""How well models predict the held-out real clips, by time since the onset: ``python tools/tail_fit.py``.

Each held-out real clip of a voice (the kits a model's run held out) is prepared as training prepares
its clips for each model (cut or padded to the voice's length, peak-normalised, faded over its last
fifth, for an envelope model divided by the envelope of the clip's decay time, pre-emphasised, mu-law
encoded), and the model scores every next code given the real codes before it
(teacher forcing, `fastdrum.Model.forward`, float32, conditioned on the voice and, for a model with
decay conditioning, on the clip's own decay time as training measures it). Printed per voice and
stretch of time since the onset: the mean negative log-likelihood of the real codes (nats; lower is a
better fit) and the mean entropy of the predicted distributions (nats; what the model would spread its
draws over). A model that has learned a voice's tail predicts it as sharply as its attack; one that has
not is wide there, and at temperature 1 its draws add noise the real tail does not have. About 1 min a
model on two cores::

    python tools/tail_fit.py fastdrum/models/drums.npz runs/drums-lw-seed0.npz --voices crash,ride

Figures: docs/evaluation.md. Silence (codes of the real clip at the mu-law centre) is scored as well.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import fastdrum  # noqa: E402
from fastdrum import predictor  # noqa: E402
from training import data as data_mod  # noqa: E402
from training.batches import (  # noqa: E402
    decay_seconds,
    envelope_decay_seconds,
    envelope_normalise,
    fade_out,
    preemphasize,
)
from training.evaluate import DEFAULT_KITS, holdout_for  # noqa: E402
from training.voices import VOICE_DURATIONS, load_voice_clips  # noqa: E402

#: Stretches of time since the onset (seconds) the figures are averaged over.
EDGES = (0.0, 0.05, 0.2, 0.5, 1.0, 1.5)


def clip_decays(fitted, model):
    """Decay times (s) of `fitted` clips (n, T) as `model`'s training measured its clips' (before the
    fade): an envelope model's upper contour, else the 20 dB time of ``--decay-conditioning``."""
    if model.envelope is not None:
        return envelope_decay_seconds(fitted, model.sample_rate, model.envelope)
    return decay_seconds(fitted, model.sample_rate)


def held_out_audio(model, voices, max_clips):
    """{voice: ((n, T) float32 clips, (n,) decay times in s)} of the held-out real clips (the kits
    `model`'s run held out), cut or padded to the voice's length and peak-normalised as in training;
    the decay times those `model`'s training measures (:func:`clip_decays`)."""
    _, held, _ = load_voice_clips(
        sample_rate=model.sample_rate,
        kit_dirs=[DEFAULT_KITS],
        holdout_kits=list(holdout_for(model)),
        voices=voices,
    )
    out = {}
    for v in voices:
        T = int(round(VOICE_DURATIONS[v] * model.sample_rate))
        clips = [c.audio for c in held if c.entry["voice"] == v][:max_clips]
        fitted = np.stack([data_mod.fit(a, T, 0.95) for a in clips])
        out[v] = fitted, clip_decays(fitted, model)
    return out


def training_codes(fitted, seconds, model, voice=None):
    """The codes of `fitted` clips (n, T) as `model` was trained on them: faded; for an envelope
    model divided by the envelope of each clip's decay time (`seconds`) and clipped; through
    `voice`'s low shelf, leaky integration and pre-emphasis (:meth:`fastdrum.Model.shelf_of`,
    ``integration_of``, ``preemphasis_of``); mu-law encoded, or for a model with a predictor (format
    6) the codes of its closed loop's error (:func:`fastdrum.predictor.encode`). A format-7 model's
    network is fed more than codes: refused."""
    if model.loop:
        raise fastdrum.GenerationError(
            "a format-7 model is fed the prediction's codes too; these tools score codes alone"
        )
    y = fade_out(fitted)
    if model.envelope is not None:
        y, _ = envelope_normalise(y, seconds, model.sample_rate, model.envelope)
    coded = preemphasize(
        y, model.preemphasis_of(voice), model.integration_of(voice), model.shelf_of(voice)
    )
    q, p = model.quantization_channels, model.predictor
    if p is None:
        return data_mod.encode(coded, q)
    rows = [predictor.encode(r, p["order"], p["window"], p["hop"], p["gain"], q)[0] for r in coded]
    return np.stack(rows)


def held_out_clips(model, voices, max_clips):
    """{voice: ((n, T) int codes, (n,) decay times in s)} of the held-out real clips, prepared as
    `model`'s training prepared its clips (:func:`held_out_audio`, :func:`training_codes`)."""
    return {
        v: (training_codes(fitted, seconds, model, v), seconds)
        for v, (fitted, seconds) in held_out_audio(model, voices, max_clips).items()
    }


def fit_by_time(model, voice, codes, decays=None):
    """Mean NLL and entropy (nats) of the next code, per stretch of :data:`EDGES`: two lists.

    `decays` (s, one per clip) condition a decay-conditioned model on each clip's decay time."""
    nll, ent = [], []
    for i, q in enumerate(codes):
        d = decays[i] if decays is not None and model.decay is not None else None
        logits = model.forward(q, voice=voice, decay=d).astype(np.float64)[:-1]
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        nll.append(-logp[np.arange(len(q) - 1), q[1:]])
        ent.append(-(np.exp(logp) * logp).sum(axis=1))
    nll, ent = np.mean(nll, axis=0), np.mean(ent, axis=0)
    t = np.arange(1, len(codes[0])) / model.sample_rate
    spans = [(a, b) for a, b in zip(EDGES, EDGES[1:]) if a < t[-1]]
    return (
        [float(nll[(t >= a) & (t < b)].mean()) for a, b in spans],
        [float(ent[(t >= a) & (t < b)].mean()) for a, b in spans],
        spans,
    )


def main(argv=None):
    p = argparse.ArgumentParser(prog="python tools/tail_fit.py", description=__doc__.split("\n")[0])
    p.add_argument(
        "models", nargs="+", help="conditioned model files (the first sets the held-out kits)"
    )
    p.add_argument(
        "--voices", default="kick,snare,hihat,openhat,clap,tom_low,tom_mid,tom_high,crash,ride"
    )
    p.add_argument("--max-clips", type=int, default=8, help="held-out clips a voice (default 8)")
    a = p.parse_args(argv)
    models = [fastdrum.load_model(m) for m in a.models]
    voices = a.voices.split(",")
    clips = held_out_audio(models[0], voices, a.max_clips)
    print(
        "| voice | model | clips | "
        + " | ".join(f"{x:g}-{y:g} s" for x, y in zip(EDGES, EDGES[1:]))
        + " |"
    )
    print("|---|---|---|" + "---|" * (len(EDGES) - 1))
    for v in voices:
        fitted, _ = clips[v]
        for name, m in zip(a.models, models):
            seconds = clip_decays(fitted, m)
            codes = training_codes(fitted, seconds, m, v)
            nll, ent, spans = fit_by_time(m, v, codes, seconds)
            cells = [f"{n:.2f} ({e:.2f})" for n, e in zip(nll, ent)]
            cells += [""] * (len(EDGES) - 1 - len(cells))
            print(f"| {v} | {name} | {len(codes)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
