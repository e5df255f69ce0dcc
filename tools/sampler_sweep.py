"""Try sampling rules the kernel does not have, on a model's real logits: ``python tools/sampler_sweep.py``.

The compiled kernel computes each step's logits (``State.run(..., logits_out=)``, with its own sampling
switched off by an ``n_primer`` past the end), and this script draws the next code in NumPy by a rule of
its own: a temperature that changes with the time since the onset (a linear ramp from ``T`` to
``T_end`` over ``t_ramp`` seconds), an absolute cutoff (``eps``: epsilon sampling), a cutoff relative
to the most probable code (``min_p``) or nucleus sampling (``top_p``). It then judges the clips as
``python -m training.evaluate`` does, with the median time from the peak to 20 dB below it. One step
per call: about 25 s for 40 clips of a 1 s voice. docs/evaluation.md gives what it measured::

    python tools/sampler_sweep.py fastdrum/models/drums.npz crash,ride \\
        '[{"name": "T 0.9", "T": 0.9}, {"name": "0.97 to 0.88 over 0.6 s", "T": 0.97, "T_end": 0.88, "t_ramp": 0.6}]'

Clips use seed 1 (the tuner's), default primers and each voice's default length.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import fastdrum  # noqa: E402
from fastdrum import _backends, _generate  # noqa: E402
from training.evaluate import DEFAULT_KITS, RealClips, evaluate_clips, holdout_for  # noqa: E402


def draw(logits, u, T, eps=0.0, top_p=1.0, min_p=0.0):
    """One code per row from softmax(logits / T), restricted by the cutoffs, by inverse CDF."""
    z = logits.astype(np.float64) / T
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if eps > 0:
        p = np.where(p >= np.minimum(eps, p.max(axis=1, keepdims=True)), p, 0.0)
    if min_p > 0:
        p = np.where(p >= min_p * p.max(axis=1, keepdims=True), p, 0.0)
    if top_p < 1:
        order = np.argsort(-p, axis=1)
        ranked = np.take_along_axis(p, order, 1)
        keep = np.zeros_like(p, dtype=bool)
        np.put_along_axis(keep, order, (np.cumsum(ranked, 1) - ranked) < top_p, 1)
        p = np.where(keep, p, 0.0)
    cdf = np.cumsum(p, axis=1)
    return np.minimum((cdf <= (u * cdf[:, -1])[:, None]).sum(axis=1), p.shape[1] - 1)


def generate(model, voice, n, seed, rule):
    """`n` clips of `voice`, each step drawn by ``draw(..., **rule(t_seconds))``; primers, decay times
    (of a decay-conditioned model) and uniforms drawn as ``fastdrum.generate`` draws them, so that
    the rule ``{"T": T}`` gives its clips at temperature T."""
    cond, heaviest = _generate._resolve_voice(model, voice)
    d = model._voice_defaults(model.voices[heaviest])
    T = round(d.get("duration", model.meta.get("clip_duration")) * model.sample_rate)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]
    primers = _generate._primers(model, "auto", n, T, d.get("primer_noise", 0.0), rngs, heaviest)
    # Each clip's decay time, drawn as generate() draws it (a decay-conditioned model).
    decays = None
    if model.decay is None:
        rows = _generate._rows(cond, n)
    else:
        rows, decays = _generate._decay_rows(model, voice, heaviest, None, rngs)
    state = _backends.get("c")(model, n, cond=rows)
    P = primers.shape[1]
    codes = np.empty((n, T), np.int32)
    codes[:, :P] = primers
    logits = np.empty((n, 1, model.quantization_channels), np.float32)
    uniforms = np.stack([r.random(T) for r in rngs])
    none = np.zeros((n, 1))
    for t in range(T - 1):
        state.run(codes, T + 1, none, 1.0, t, t + 1, logits)  # n_primer T + 1: no draw
        if t + 1 >= P:
            codes[:, t + 1] = draw(logits[:, 0], uniforms[:, t], **rule(t / model.sample_rate))
    return _generate._finish(
        codes, model, decays, model.preemphasis_of(voice), fir=model.output_filter_of(voice)
    )


def rule_of(setting):
    """A setting's rule: t -> draw() options (a ramp when it has T_end and t_ramp)."""
    s = {k: v for k, v in setting.items() if k != "name"}
    if "T_end" not in s:
        return lambda t: s
    T0, T1, ramp = s.pop("T"), s.pop("T_end"), s.pop("t_ramp")
    return lambda t: dict(s, T=T0 + (T1 - T0) * min(1.0, t / ramp))


def main(argv):
    if len(argv) < 3 or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0])
        print("usage: python tools/sampler_sweep.py MODEL VOICES SETTINGS_JSON [N]")
        return
    model = fastdrum.load_model(argv[0])
    settings = json.loads(argv[2])
    n = int(argv[3]) if len(argv) > 3 else 40
    real = RealClips(model.sample_rate, kits=[DEFAULT_KITS], holdout_kits=holdout_for(model))
    for voice in argv[1].split(","):
        for setting in settings:
            y = np.asarray(generate(model, voice, n, 1, rule_of(setting)), np.float64)
            r = evaluate_clips(y, voice, real)
            failed = [k for k, ok in r["passes"].items() if not ok]
            print(
                f"{voice} {setting['name']}: above 5 kHz {r['hf_db']:.1f} dB ({r['hf_db_real']:.1f}), "
                f"decay {r['decaying']:.0%}, log-mel {r['mel_db']:.1f} ({r['mel_db_real']:.1f}), "
                f"recognised {r['recognised']:.0%} ({r['recognised_real']:.0%}), "
                f"20 dB fall {r['decay_time']:.3g} s ({r['decay_time_real']:.3g} s): "
                f"{'fails ' + ', '.join(failed) if failed else 'passes'}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
