"""Do tails follow real ones from real context? ``python tools/primed_tails.py MODEL...``

A free-running network can lose a tail in two places: in the attack it makes (a context unlike any
real one), or in the tail itself (each draw feeding the next, the level drifting). This separates the
two. Each held-out real clip of a voice (the kits the first model's run held out), prepared as
training prepares its clips, gives its first ``--primer`` seconds to `fastdrum.generate` as the
primer; the network makes the rest at the voice's default temperature and epsilon, or at
``--temperature`` and ``--epsilon`` (a model with
decay conditioning is given the real clip's own decay time, as training measures it; an envelope
model's primer is the real clip divided by the envelope of that decay time, as its training clips
were). Per clip, the
level of the last quarter relative to the last 50 ms of the primer is compared with the same ratio
of the real clip's own continuation. Printed per voice and model: the median of generated minus
real (dB; above 0 the tails hold, below 0 they die), the share of clips within 6 dB of their real
continuation, and the share that decay (``training.evaluate.decays``) beside the real clips'; and
the partials that last in the continuation (``training.evaluate.partial_persistence`` of the 0.5 s
after the primer, median) beside the real continuation's: whether the network rings on the partials
it is given (docs/evaluation.md, "Partials that last").

``--baseline hold`` and ``--baseline silence`` replace the network's continuation by white noise at
the primer's level and by silence: they must come out far above and far below 0 dB::

    python tools/primed_tails.py fastdrum/models/drums.npz --voices crash,ride --baseline hold

Figures: docs/evaluation.md. About 2 min a model for crash and ride on two cores.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import fastdrum  # noqa: E402
from fastdrum._generate import _finish  # noqa: E402
from training.evaluate import _median_persistence, decays  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tail_fit import clip_decays, held_out_audio, training_codes  # noqa: E402

#: The window at the end of the primer the tail's level is measured against (seconds).
REFERENCE = 0.05

#: Voices whose clips are long enough for a primer and a tail after it.
DEFAULT_VOICES = "openhat,crash,ride"


def _level_db(y):
    return 10 * np.log10(np.mean(np.asarray(y, dtype=np.float64) ** 2, axis=-1) + 1e-20)


def tail_change_db(clips, primer, sr):
    """Per clip: the last quarter's level minus that of the primer's last 50 ms (dB)."""
    clips = np.asarray(clips, dtype=np.float64)
    ref = clips[:, max(0, primer - int(round(REFERENCE * sr))) : primer]
    return _level_db(clips[:, -(clips.shape[1] // 4) :]) - _level_db(ref)


def compare(generated, real, primer, sr):
    """Generated against real continuations of the same primers: a dict of the printed figures."""
    gap = tail_change_db(generated, primer, sr) - tail_change_db(real, primer, sr)
    return dict(
        median_gap_db=float(np.median(gap)),
        within_6db=float(np.mean(np.abs(gap) <= 6.0)),
        decaying=float(decays(generated).mean()),
        decaying_real=float(decays(real).mean()),
        partials=_median_persistence(np.asarray(generated)[:, primer:], sr),
        partials_real=_median_persistence(np.asarray(real)[:, primer:], sr),
    )


def baseline(kind, real, primer, sr, seed=0):
    """`real` with everything after the primer replaced: white noise at the primer's level, or silence."""
    out = np.array(real, dtype=np.float64)
    if kind == "silence":
        out[:, primer:] = 0.0
        return out
    rng = np.random.default_rng(seed)
    ref = out[:, max(0, primer - int(round(REFERENCE * sr))) : primer]
    rms = np.sqrt(np.mean(ref**2, axis=1, keepdims=True))
    out[:, primer:] = rms * rng.standard_normal((len(out), out.shape[1] - primer))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/primed_tails.py", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "models", nargs="+", help="conditioned model files (the first sets the held-out kits)"
    )
    p.add_argument("--voices", default=DEFAULT_VOICES)
    p.add_argument(
        "--primer", type=float, default=0.1, help="seconds of real context (default 0.1)"
    )
    p.add_argument("--max-clips", type=int, default=40, help="held-out clips a voice (default 40)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--baseline", choices=("hold", "silence"), action="append", default=[])
    p.add_argument("--temperature", type=float, help="instead of each voice's default")
    p.add_argument("--epsilon", type=float, help="instead of each voice's default")
    a = p.parse_args(argv)
    models = [fastdrum.load_model(m) for m in a.models]
    sr = models[0].sample_rate
    voices = a.voices.split(",")
    clips = held_out_audio(models[0], voices, a.max_clips)
    P = int(round(a.primer * sr))
    print(
        "| voice | source | clips | tail minus real's, median dB | within 6 dB | decay (real) "
        "| partials that last (real) |"
    )
    print("|---|---|---|---|---|---|---|")
    for v in voices:
        fitted, seconds = clips[v]
        # The real clips as the first model codes and decodes them (its envelope, if any, undone;
        # not its output filter, format 5's correction of the network's spectrum: they are real).
        real = _finish(
            training_codes(fitted, seconds, models[0], v),
            models[0],
            seconds,
            models[0].preemphasis_of(v),
            models[0].integration_of(v),
            models[0].shelf_of(v),
            fir=None if models[0].output_filter is None else np.ones(1),
        )
        sources = [(name, None) for name in a.baseline] + list(zip(a.models, models))
        for name, m in sources:
            if m is None:
                y = baseline(name, real, P, sr, seed=a.seed)
            else:
                own = clip_decays(fitted, m)  # each clip's decay as m's training measured it
                d = own if m.decay is not None else None
                y = m.generate(
                    len(fitted),
                    seed=a.seed,
                    voice=v,
                    primer=training_codes(fitted, own, m, v)[:, :P],
                    decay=d,
                    temperature=a.temperature,
                    epsilon=a.epsilon,
                )
            r = compare(y, real, P, sr)
            print(
                f"| {v} | {name} | {len(fitted)} | {r['median_gap_db']:+.1f} | {r['within_6db']:.0%} "
                f"| {r['decaying']:.0%} ({r['decaying_real']:.0%}) "
                f"| {r['partials']:.3f} ({r['partials_real']:.3f}) |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
