"""Fit each voice's output filter (model format 5): a correction of the network's average spectrum.

A network that learned its voice perfectly would give clips whose average log-mel spectrum is its
training clips'; the shipped ones are off by up to 8 dB in places (the clap: too much from 70 to
700 Hz and above 14 kHz, too little from 1 to 5 kHz; docs/evaluation.md, "An output filter fitted on
the training clips"). This tool measures that error and writes its inverse into the model as a fixed
minimum-phase FIR filter that :func:`fastdrum.generate` applies to every clip of the voice (after
de-emphasis and the envelope, before the peak limit), so the correction is part of the raw output on
every backend::

    python -m training.match_eq fastdrum/models/clap.npz -o runs/clap-eq.npz

For each voice:

1. **Fit** (clips of seed 7, drawn by no other step): `n` clips at the model's default sampling
   settings, without any output filter. The correction is the difference, band by band, between the
   mean log-mel spectrum (:func:`training.evaluate.mean_log_mel`, 64 bands) of the voice's training
   clips, as training saw them (through the run's ``--highpass-hz`` filter when it had one), and that
   of the generated clips; measured again once through the filter and added (two passes). Only the
   training sources' clips are used: the held-out kits judge the result and choose nothing of it.
   Below the lowest band's centre the filter never boosts (the gain there is the lowest band's, if
   a cut, else 0 dB): what lies below the bands is rumble. The filter (:func:`minimum_phase_fir`,
   1,024 taps by default) is minimum-phase, so it adds no pre-echo before an attack, and scaled so the
   fit clips keep their mean power.
2. **Screen** (clips of seed 6 by default; the same clips for every candidate): the correction at
   each strength of ``--strengths`` (0, half and whole by default; the gains in dB scaled; 0 is no
   filter) judged as ``python -m training.evaluate FILE -n N --seed 6`` judges it
   (:func:`training.tune.shortfall`); the least short wins, ties the weaker. Matching the training
   clips moves a voice toward its training kits, which differ from the held-out kits (the kick's
   clips, matched, end 5.6 dB darker above 5 kHz than the held-out kicks): the screen keeps a
   correction only where the whole evaluation gains.

``meta["output_filter_choice"]`` records each voice's band gains, every strength's shortfall and the
choice. A model whose voices all choose 0 is written without an output filter.
"""

import argparse
import sys

import numpy as np

import fastdrum
from fastdrum import _io
from fastdrum.mulaw import fir_filter

from . import window
from .errors import ConfigError
from .evaluate import _fit_len, mean_log_mel
from .tune import shortfall

__all__ = [
    "band_centres",
    "minimum_phase_fir",
    "correction_db",
    "strength_filter",
    "choose_strength",
    "main",
]

#: The strengths screened by default: no filter, half the correction (in dB), the whole correction.
STRENGTHS = (0.0, 0.5, 1.0)
#: Taps of the filter: 23 ms at 44.1 kHz, a frequency resolution of about 43 Hz.
TAPS = 1024
#: The seed of the fit clips (no other step draws it) and the screen's default seed.
FIT_SEED, SCREEN_SEED = 7, 6


def band_centres(sample_rate, n_mels=64, fmin=30.0):
    """The centre frequencies (Hz) of :func:`training.evaluate.mean_log_mel`'s mel bands."""
    mel = 2595 * np.log10(1 + np.array([fmin, sample_rate / 2]) / 700)
    points = np.linspace(mel[0], mel[1], n_mels + 2)[1:-1]
    return 700 * (10 ** (points / 2595) - 1)


def minimum_phase_fir(gain_db, sample_rate, taps=TAPS, n_fft=16384):
    """A minimum-phase FIR filter of `taps` taps whose gain at each mel band's centre is `gain_db`.

    The gain is interpolated linearly (in dB) between the band centres, held above the highest, and
    below the lowest is the lowest band's only if that is a cut (else 0 dB). The minimum phase comes
    from the folded real cepstrum of the log magnitude (the homomorphic method); the response is cut
    to `taps` and tapered by the second half of a Hann window.
    """
    gain_db = np.asarray(gain_db, dtype=np.float64)
    centres = band_centres(sample_rate, len(gain_db))
    f = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    g = np.interp(f, centres, gain_db)
    g[f < centres[0]] = min(gain_db[0], 0.0)
    cepstrum = np.fft.irfft(g * (np.log(10.0) / 20.0), n_fft)
    folded = np.zeros(n_fft)
    folded[0] = cepstrum[0]
    folded[1 : n_fft // 2] = 2 * cepstrum[1 : n_fft // 2]
    folded[n_fft // 2] = cepstrum[n_fft // 2]
    h = np.fft.irfft(np.exp(np.fft.rfft(folded)), n_fft)[:taps]
    return h * np.hanning(2 * taps)[taps:]


def correction_db(generated, target, sample_rate, *, taps=TAPS):
    """The band gains (dB, one a mel band) that take the mean log-mel spectrum of clips `generated`
    to that of clips `target`: their difference, then measured once more through the filter and added."""
    want = mean_log_mel(target, sample_rate)
    gain = want - mean_log_mel(generated, sample_rate)
    h = minimum_phase_fir(gain, sample_rate, taps)
    return gain + want - mean_log_mel(fir_filter(generated, h), sample_rate)


def strength_filter(gain_db, strength, generated, sample_rate, *, taps=TAPS):
    """The filter of `strength` times the gains `gain_db`, scaled so that clips `generated` keep
    their mean power through it (float32, as the model stores it; 0 is the unit impulse)."""
    if strength == 0:
        h = np.zeros(taps)
        h[0] = 1.0
        return h.astype(np.float32)
    h = minimum_phase_fir(strength * np.asarray(gain_db), sample_rate, taps)
    power = np.mean(np.square(generated))
    filtered = np.mean(np.square(fir_filter(generated, h)))
    if filtered > 0 and power > 0:
        h = h * np.sqrt(power / filtered)
    return h.astype(np.float32)


def choose_strength(shortfalls):
    """The strength of least shortfall in ``{strength: shortfall}``; ties: the weaker."""
    return min(shortfalls, key=lambda s: (shortfalls[s], s))


def target_clips(model, real, voice, n_samples):
    """The voice's training clips as training saw them: cut or padded to `n_samples`, through the
    run's ``--highpass-hz`` filter when it had one (:func:`fastdrum.post.highpass`)."""
    from fastdrum.post import highpass

    clips = _fit_len(real.train[voice], n_samples)
    hz = ((model.meta or {}).get("config") or {}).get("highpass_hz")
    if hz:
        clips = np.array([highpass(c, model.sample_rate, cutoff=hz) for c in clips])
    if not len(clips):
        raise ConfigError(f"no training clips of {voice!r} to fit an output filter to")
    return np.asarray(clips, dtype=np.float64)


def _rows(model, filters, taps):
    """The output-filter array of `model` with `filters` ({voice: taps}); the unit impulse elsewhere."""
    impulse = np.zeros(taps, dtype=np.float32)
    impulse[0] = 1.0
    if not model.voices:
        return filters.get(None, impulse)
    return np.stack([filters.get(v, impulse) for v in model.voices])


def fit_voice(model, voice, real, judge, *, n, strengths, taps, fit_seed=FIT_SEED):
    """``(filter taps of the chosen strength, record)`` for `voice` of `model` (no output filter)."""
    sr = model.sample_rate
    fit = np.asarray(fastdrum.generate(model, n, seed=fit_seed, voice=voice), dtype=np.float64)
    gain = correction_db(fit, target_clips(model, real, voice, fit.shape[1]), sr, taps=taps)
    filters, shortfalls = {}, {}
    for s in strengths:
        filters[s] = strength_filter(gain, s, fit, sr, taps=taps)
        candidate = model.with_output_filter(_rows(model, {voice: filters[s]}, taps))
        shortfalls[s] = shortfall(judge(candidate, voice))
    chosen = choose_strength(shortfalls)
    record = dict(
        strength=chosen,
        shortfall={f"{s:g}": round(x, 3) for s, x in shortfalls.items()},
        gain_db=[round(float(g), 2) for g in gain],
    )
    return filters[chosen], record


def matched_model(model, filters, records, *, n, seed, taps, fit_seed=FIT_SEED):
    """`model` with the chosen filters (none if every voice chose 0) and the record in its meta."""
    chosen = {v: h for v, h in filters.items() if records[v]["strength"] != 0}
    out = model.with_output_filter(_rows(model, chosen, taps) if chosen else None)
    meta = dict(out.meta)
    meta["output_filter_choice"] = dict(
        n=n,
        seed=seed,
        fit_seed=fit_seed,
        taps=taps,
        voices={str(v): r for v, r in records.items()},
    )
    out.meta = meta
    return out


def _strengths(text):
    try:
        values = sorted({float(s) for s in text.split(",")})
    except ValueError:
        values = []
    if not values or values[0] < 0 or values[-1] > 2:
        raise argparse.ArgumentTypeError(f"expected strengths in [0, 2] like 0,0.5,1, got {text!r}")
    return values


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m training.match_eq", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("model", help="the model file (.npz); an output filter it has is refitted")
    p.add_argument("--voices", help="voices to fit, comma-separated (default: the model's voices)")
    p.add_argument(
        "--strengths",
        type=_strengths,
        default=list(STRENGTHS),
        help="strengths of the correction to screen (default 0,0.5,1)",
    )
    p.add_argument("--taps", type=int, default=TAPS, help=f"filter length (default {TAPS})")
    window.screen_options(p, n=100, each="strength", seed=SCREEN_SEED, why="drawn by no other step")
    args = p.parse_args(argv)
    if args.n < 2:
        p.error("-n must be at least 2 (duplicate pairs need two clips)")
    if not 16 <= args.taps <= 8192:
        p.error("--taps must lie in [16, 8192]")
    try:
        _io.check_dest(args.out, overwrite=args.overwrite)
        model = fastdrum.load_model(args.model).with_output_filter(None)
        voices = args.voices.split(",") if args.voices else list(model.voices or (None,))
        for v in voices:
            if v is not None and v not in model.voices:
                raise ConfigError(f"voice {v!r} is not one of the model's {list(model.voices)}")
        real = window.real_clips(model, args.kits, seed=args.seed)
        judge = window._judge(real, args.n, args.seed, label=lambda m: "output filter")
        filters, records = {}, {}
        for v in voices:
            filters[v], records[v] = fit_voice(
                model, v, real, judge, n=args.n, strengths=args.strengths, taps=args.taps
            )
        out = matched_model(model, filters, records, n=args.n, seed=args.seed, taps=args.taps)
        out.save(args.out, overwrite=args.overwrite)
    except fastdrum.FastDrumError as exc:
        print(f"python -m training.match_eq: error: {exc}", file=sys.stderr)
        return 2
    print("| voice | " + " | ".join(f"strength {s:g}" for s in args.strengths) + " | chosen |")
    print("|---|" + "---|" * (len(args.strengths) + 1))
    for v, r in records.items():
        cells = " | ".join(f"{r['shortfall'][f'{s:g}']:.2f}" for s in args.strengths)
        print(f"| {v} | {cells} | {r['strength']:g} |")
    print(f"{args.out}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
