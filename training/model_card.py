"""Write a model card (Markdown) for an exported model, from the model's own metadata.

    python -m training.model_card fastdrum/models/kick.npz [--check]

writes ``fastdrum/models/kick.md`` beside it. ``--check`` also generates a
few clips (the compiled kernel if built, else the NumPy reference) and records
a sanity check: no NaN, not silent, and the clip decays.
"""

import argparse
import collections
import os
import sys

import numpy as np

import fastdrum
from fastdrum import FastDrumError, _io

__all__ = ["sanity_check", "render", "main"]


def sanity_check(model, n=4, seed=0, duration=None):
    """Generate `n` clips and measure them: NaN, peak, and energy of each quarter of the clip.

    Returns a dict with ``backend``, ``duration``, ``finite``, ``peaks``,
    ``quarter_rms`` (n, 4) and ``decays`` (RMS of the last quarter below half the first's).
    """
    backend = "c" if "c" in fastdrum._backends.available() else "numpy"
    duration = duration or model.duration
    y = fastdrum.generate(model, n, duration=duration, seed=seed, backend=backend)
    finite = bool(np.isfinite(y).all())
    quarters = np.array_split(y, 4, axis=1)
    rms = np.stack([np.sqrt(np.mean(q.astype(np.float64) ** 2, axis=1)) for q in quarters], axis=1)
    return dict(
        backend=backend,
        duration=duration,
        n=n,
        seed=seed,
        finite=finite,
        peaks=[round(float(p), 3) for p in np.abs(y).max(axis=1)],
        quarter_rms=rms.round(4).tolist(),
        decays=[bool(r[-1] < 0.5 * r[0]) for r in rms],
    )


def _dilations_text(dilations):
    """``1..512 x 2`` for repeated power-of-two stacks, else the list."""
    d = list(dilations)
    stack = [1]
    while len(stack) < len(d) and stack[-1] * 2 in d:
        stack.append(stack[-1] * 2)
        if d[: len(stack)] != stack:
            stack.pop()
            break
    k = len(d) // len(stack)
    if stack and len(stack) > 1 and d == stack * k:
        return f"{stack[0]}..{stack[-1]} x {k}"
    return str(d)


def _config_lines(model):
    rf = model.receptive_field
    return [
        "## Configuration",
        "",
        "| | |",
        "|---|---|",
        f"| sample rate | {model.sample_rate} Hz |",
        f"| clip duration | {model.duration} s |",
        f"| quantization (mu-law) Q | {model.quantization_channels} |",
        f"| residual / dilation / skip channels R, D, S | {model.residual_channels}, "
        f"{model.dilation_channels}, {model.skip_channels} |",
        f"| layers L | {model.n_layers} (dilations {_dilations_text(model.dilations)}) |",
        f"| receptive field | {rf} samples ({1000 * rf / model.sample_rate:.0f} ms) |",
        f"| parameters | {sum(w.size for w in model.weights.values()):,} |",
        f"| cost per generated sample | {model.flops_per_sample:,} FLOPs |",
        f"| primers | {None if model.primers is None else model.primers.shape} (first codes of each training clip) |",
        "",
    ]


def _data_lines(model):
    m = model.meta
    cfg = m.get("config", {})
    counts = collections.defaultdict(lambda: collections.Counter())
    for e in m.get("data", []):
        counts[e.get("kit") or "(folder)"][e.get("split")] += 1
    lic = m.get("kits", {})
    lines = [
        "## Data",
        "",
        f"{sum(c['train'] for c in counts.values())} training and {sum(c['val'] for c in counts.values())} "
        f"validation clips (whole instruments held out for validation), from Debian's `hydrogen-drumkits` "
        "and `hydrogen-data` kits. Licences as recorded by Debian's copyright files "
        "(`/usr/share/doc/hydrogen-drumkits/copyright`, `/usr/share/doc/hydrogen-data/copyright`).",
        "",
        "| kit | licence | training clips | validation clips |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {kit} | {lic.get(kit, 'unknown')} | {counts[kit]['train']} | {counts[kit]['val']} |"
        for kit in sorted(counts)
    ]
    return lines + [
        "",
        f"- Kits held out of training entirely (for evaluation): {', '.join(m.get('holdout_kits', [])) or 'none'}.",
        f"- Manifest SHA-256: `{m.get('manifest_sha256')}`; every file with its SHA-256, kit, licence and "
        'split is listed in the model\'s `meta["data"]` (`fastdrum.load_model(path).meta`).',
        f"- Preprocessing: mono, resampled to {model.sample_rate} Hz (`scipy.signal.resample_poly`), aligned to "
        f"the onset (first sample at {cfg.get('onset_threshold')} of the peak, 1 ms pre-roll), cut or "
        f"zero-padded to {model.duration} s, peak-normalised to {cfg.get('peak')}, mu-law encoded.",
        "- Augmentation: "
        + (
            f"random gain down to -{cfg.get('gain_db')} dB; pitch shifts of +-{cfg.get('pitch_semitones')} "
            f"semitones by resampling ({cfg.get('pitch_steps')} versions)."
            if cfg.get("gain_db") or cfg.get("pitch_semitones")
            else "none."
        ),
        "",
    ]


def _training_lines(meta):
    cfg, losses, trainer = meta.get("config", {}), meta.get("losses", {}), meta.get("trainer", {})
    return [
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| steps trained | {meta.get('steps_trained')} (batch {cfg.get('batch_size')} clips, Adam lr "
        f"{cfg.get('learning_rate')}, gradient clip {cfg.get('clipnorm')}) |",
        f"| exported weights | step {meta.get('steps')}"
        f"{' (best validation loss)' if losses.get('val_best') is not None else ''} |",
        f"| stopped by | {meta.get('stop_reason')} |",
        f"| training loss (last {cfg.get('log_every')} steps) | {losses.get('train')} nats |",
        f"| validation loss, best | {losses.get('val_best')} nats |",
        f"| validation loss, last | {losses.get('val_last')} nats |",
        f"| training time | {meta.get('training_seconds', 0) / 60:.1f} min on 2 shared CPU cores |",
        f"| trainer | fastdrum {trainer.get('fastdrum')}, TensorFlow "
        f"{trainer.get('tensorflow')}, Keras {trainer.get('keras')} |",
        f"| seed | {cfg.get('seed')} |",
        "",
    ]


def _check_lines(check):
    return [
        "## Sanity check",
        "",
        f"{check['n']} clips of {check['duration']} s, seed {check['seed']}, backend `{check['backend']}`: "
        f"all finite: {check['finite']}; peaks {check['peaks']}; RMS per quarter of each clip "
        f"{check['quarter_rms']}; last quarter's RMS below half the first's: {check['decays']}.",
        "",
    ]


def render(model, name, check=None, note=None):
    """The model card of `model` (Markdown): configuration, data, training, notes and sanity check."""
    lines = [
        f"# `{name}` model card",
        "",
        f"An unconditional WaveNet that generates **{model.meta.get('instrument')}** one-shots "
        f"({model.sample_rate} Hz, {model.duration} s clips), in fastdrum model format 1.",
        "",
    ]
    lines += _config_lines(model) + _data_lines(model) + _training_lines(model.meta)
    if note:
        lines += ["## Notes", "", note, ""]
    if check is not None:
        lines += _check_lines(check)
    lines += [
        "## Evaluation",
        "",
        "To be filled in by the evaluation step (held-out kits above).",
        "",
        "| metric | value |",
        "|---|---|",
        "| | |",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m training.model_card", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("model", help="a format-1 .npz file")
    p.add_argument("--out", default=None, help="card path (default: the model's path with .md)")
    p.add_argument(
        "--check", action="store_true", help="generate a few clips and record a sanity check"
    )
    p.add_argument(
        "--check-duration", type=float, default=None, help="seconds per sanity-check clip"
    )
    p.add_argument(
        "--note", default=None, help="a paragraph for a Notes section (e.g. why this checkpoint)"
    )
    args = p.parse_args(argv)
    try:
        model = fastdrum.load_model(args.model)
        check = sanity_check(model, duration=args.check_duration) if args.check else None
    except FastDrumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = os.path.splitext(os.path.basename(args.model))[0]
    out = args.out or os.path.splitext(args.model)[0] + ".md"
    text = render(model, name, check, args.note)
    with _io.atomic_file(out, overwrite=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    print(out)
    if check is not None:
        print(f"sanity: finite={check['finite']} peaks={check['peaks']} decays={check['decays']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
