"""Write a model card (Markdown) for an exported model, from the model's own metadata.

    python -m training.model_card fastdrum/models/drums.npz [--check]

writes ``fastdrum/models/drums.md`` beside it. ``--check`` also generates a
few clips (the compiled kernel if built, else the NumPy reference) and records
a sanity check: no NaN, not silent, and the clip decays.
"""

import argparse
import collections
import math
import os
import sys

import numpy as np

import fastdrum
from fastdrum import FastDrumError, _io
from fastdrum.mulaw import shelf_corner

__all__ = ["sanity_check", "render", "main"]


def sanity_check(model, n=4, seed=0, duration=None, voice=None):
    """Generate `n` clips (of `voice`, for a conditioned model) and measure them: NaN, peak, and
    energy of each quarter of the clip.

    Returns a dict with ``backend``, ``duration``, ``finite``, ``peaks``,
    ``quarter_rms`` (n, 4) and ``decays`` (RMS of the last quarter below half the first's).
    """
    from fastdrum import _backends

    backend = "c" if "c" in _backends.available() else "numpy"
    kw = dict(voice=voice) if voice else {}
    y = fastdrum.generate(model, n, duration=duration, seed=seed, backend=backend, **kw)
    duration = round(y.shape[1] / model.sample_rate, 4)  # each voice's own default if None
    finite = bool(np.isfinite(y).all())
    quarters = np.array_split(y, 4, axis=1)
    rms = np.stack([np.sqrt(np.mean(q.astype(np.float64) ** 2, axis=1)) for q in quarters], axis=1)
    return dict(
        voice=voice,
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
    return (
        [
            "## Configuration",
            "",
            "| | |",
            "|---|---|",
            f"| sample rate | {model.sample_rate} Hz |",
            f"| clip duration | {'per voice (below)' if model.voices else f'{model.duration} s'} |",
            f"| quantization (mu-law) Q | {model.quantization_channels} |",
            f"| residual / dilation / skip channels R, D, S | {model.residual_channels}, "
            f"{model.dilation_channels}, {model.skip_channels} |",
            f"| layers L | {model.n_layers} (dilations {_dilations_text(model.dilations)}) |",
            f"| receptive field | {rf} samples ({1000 * rf / model.sample_rate:.0f} ms) |",
            f"| parameters | {sum(w.size for w in model.weights.values()):,} |",
            f"| cost per generated sample | {model.flops_per_sample:,} FLOPs |",
            f"| primers | {None if model.primers is None else model.primers.shape} (first codes of each training clip) |",
        ]
        + _format2_config_rows(model)
        + [""]
    )


def _format2_config_rows(model):
    """Rows of what formats 2 to 6 add: pre-emphasis, integration, the low shelf, the voice embedding, the time
    since the onset, the decay time, the envelope, the output filter, the predictor."""
    return _signal_rows(model) + _conditioning_rows(model) + _finish_rows(model)


def _signal_rows(model):
    """Rows of the filters of the signal the network models: pre-emphasis, integration, low shelf."""
    rows = []
    a = model.preemphasis
    if isinstance(a, tuple):
        each = ", ".join(f"{v} {x:g}" for v, x in zip(model.voices, a))
        rows.append(
            f"| pre-emphasis | y(t) - a y(t-1) before mu-law, a by voice ({each}); undone by `generate()` |"
        )
    elif a:
        rows.append(f"| pre-emphasis | y(t) - {a:g} y(t-1) before mu-law; undone by `generate()` |")
    b = model.integration
    if b:
        each = (
            ", ".join(f"{v} {x:g}" for v, x in zip(model.voices, b))
            if isinstance(b, tuple)
            else f"{b:g}"
        )
        rows.append(
            f"| integration | u(t) = (1 - b) y(t) + b u(t-1) before pre-emphasis, b {each}; undone by "
            "`generate()`'s first difference |"
        )
    shelves = [
        (v, shelf_corner(model.shelf_of(v), model.sample_rate)) for v in model.voices or [None]
    ]
    shelves = [(v, hz, db) for v, (hz, db) in shelves if hz]
    if shelves:
        each = ", ".join(
            (f"{v} " if v else "") + f"{hz:.0f} Hz, {db:.0f} dB" for v, hz, db in shelves
        )
        rows.append(
            f"| low shelf | (1 - c z^-1) / (1 - p z^-1) before integration and pre-emphasis, corner "
            f"and depth {each}; undone by `generate()`, which cuts below the corner |"
        )
    return rows


def _conditioning_rows(model):
    """Rows of what the network is conditioned on (voices, time since the onset, decay time) and
    the envelope that goes with the decay time."""
    rows = []
    if model.voices:
        E = model.weights["voice_emb"].shape[1]
        rows.append(
            f"| voices | {len(model.voices)}, a learned embedding of {E} values each, added to every "
            "layer's gate pre-activation |"
        )
    if model.time_tau is not None:
        ms = ", ".join(f"{1000 * t / model.sample_rate:g}" for t in model.time_tau)
        rows.append(
            f"| time since the onset | {len(model.time_tau)} features exp(-t / tau), tau = {ms} ms, "
            f"updated every {model.time_block} samples, added to every layer's gate pre-activation |"
        )
    if model.decay is not None:
        seconds = np.concatenate(list(model.voice_decays.values()))
        measure = (
            f"each clip's time to fall {model.decay['drop_db']:g} dB below its loudest 10 ms"
            if model.envelope is None
            else "each clip's upper contour (the slowest fall of 20 dB per d seconds that lies above "
            "99.9% of its samples past the hold and above the floor)"
        )
        rows.append(
            f"| decay time | {measure} ({seconds.min():g} to {seconds.max():g} s in training, geometric mean "
            f"{math.exp(model.decay['mean']):.3g} s), ln-normalised, projected into every layer's gate "
            "pre-activation; `generate(decay=)` sets it (default: one of the voice's training clips') |"
        )
    if model.envelope is not None:
        env = model.envelope
        rows.append(
            f"| envelope | the network models each clip divided by an envelope of its decay time: 1 "
            f"for {env['hold']:g} s, then 20 dB down per decay time, floored at {env['floor_db']:g} "
            "dB; `generate()` multiplies it back (the losses are those of the normalised clips)"
            + (
                "; no loss past a clip's last sample above the floor (`--end-mask`)"
                if model.meta.get("config", {}).get("end_mask")
                else ""
            )
            + " |"
        )
    return rows


def _finish_rows(model):
    """Rows of how codes become clips beyond de-emphasis: the output filter and the predictor."""
    rows = []
    if model.output_filter is not None:
        rows.append(_output_filter_row(model))
    if model.predictor is not None:
        p = model.predictor
        rows.append(
            f"| predictor | format 6: the codes are the 8-bit mu-law of the error (times {p['gain']:g}) "
            f"of a backward-adaptive linear predictor of order {p['order']}, refitted every "
            f"{p['hop']} samples on the last {p['window']} decoded, closed loop; `generate()` runs "
            "the predictor on the decoded errors before de-emphasis (`fastdrum.predictor`) |"
        )
        if model.loop:
            rows.append(
                "| predictor in the loop | format 7: at each step the network is fed, beside the "
                "error's code, the codes of the sample just decoded and of the prediction of the "
                "next (`sig_w`, `pred_w`), as LPCNet's is, the predictor run by the kernel too |"
            )
    return rows


def _output_filter_row(model):
    """Format 5's row: the output filter, and how training/match_eq.py fitted and chose it."""
    taps = model.output_filter.shape[-1]
    choice = model.meta.get("output_filter_choice") or {}
    chosen = {v: r["strength"] for v, r in (choice.get("voices") or {}).items() if r["strength"]}
    how = ""
    if chosen:
        each = ", ".join(f"{v} {s:g}" for v, s in chosen.items())
        how = (
            f"; the correction of the network's mean log-mel spectrum toward its training clips' "
            f"(`training/match_eq.py`, fitted on {choice['n']} clips of seed {choice['fit_seed']}), "
            f"at the strength chosen on {choice['n']} clips of seed {choice['seed']} against the "
            f"held-out kits ({each})"
        )
    return (
        f"| output filter | a minimum-phase FIR of {taps} taps a voice that `generate()` applies "
        f"after de-emphasis and the envelope, before the peak limit{how} |"
    )


def _data_lines(model):
    m = model.meta
    cfg = m.get("config", {})
    counts = collections.defaultdict(lambda: collections.Counter())
    for e in m.get("data", []):
        counts[e.get("kit") or "(folder)"][e.get("split")] += 1
    lic = m.get("kits", {})
    length = "each voice's clip length (below)" if model.voices else f"{model.duration} s"
    n_train, n_val = (sum(c[s] for c in counts.values()) for s in ("train", "val"))
    split = (
        f"{n_train} training and {n_val} validation clips (whole instruments held out for validation)"
        if n_val
        else f"{n_train} training clips (no validation split: every clip not held out trains)"
    )
    lines = [
        "## Data",
        "",
        f"{split}, from Debian's `hydrogen-drumkits` and `hydrogen-data` kits"
        + (
            " and SoundFont kits (`FILE.sf2:PRESET`, from `avldrums.lv2-soundfont` and "
            "`fluid-soundfont-gm`)"
            if any(".sf2:" in k for k in counts)
            else ""
        )
        + (
            " and folders of one-shots (" + ", ".join(f"`{d}`" for d in cfg["data"]) + ")"
            if model.voices and cfg.get("data")
            else ""
        )
        + ". Licences as recorded by Debian's copyright files "
        "(`/usr/share/doc/<package>/copyright`).",
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
        f"the onset (first sample at {cfg.get('onset_threshold')} of the peak, 1 ms pre-roll), "
        + _highpass_words(cfg)
        + f"cut or zero-padded to {length}, peak-normalised to {cfg.get('peak')}, mu-law encoded.",
        "- Augmentation: "
        + (
            f"random gain down to -{cfg.get('gain_db')} dB; pitch shifts of +-{cfg.get('pitch_semitones')} "
            f"semitones by resampling ({cfg.get('pitch_steps')} versions)."
            if cfg.get("gain_db") or cfg.get("pitch_semitones")
            else "none."
        ),
        "",
    ]


def _highpass_words(cfg):
    """The preprocessing's words for ``--highpass-hz`` ('' for a run without it)."""
    hz = cfg.get("highpass_hz")
    if not hz:
        return ""
    return (
        f"high-passed at {hz:g} Hz (a second-order Butterworth, causal: what the sources carry "
        "below it is not learned, and `generate()` undoes nothing), "
    )


def _training_lines(meta):
    cfg, losses, trainer = meta.get("config", {}), meta.get("losses", {}), meta.get("trainer", {})
    return [
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| steps trained | {meta.get('steps_trained')} (batch {cfg.get('batch_size')} clips, Adam lr "
        f"{cfg.get('learning_rate')}, gradient clip {cfg.get('clipnorm')}) |",
        _windows_row(cfg),
        *_input_noise_rows(cfg),
        *_input_drift_rows(cfg),
        *_voice_dropout_rows(cfg),
        *_attack_rows(cfg),
        _exported_row(meta, losses),
        f"| stopped by | {meta.get('stop_reason')} |",
        f"| training loss (last {cfg.get('log_every')} steps) | {losses.get('train')} nats |",
        *_validation_rows(meta, losses),
        f"| training time | {meta.get('training_seconds', 0) / 60:.1f} min on 2 shared CPU cores |",
        f"| trainer | fastdrum {trainer.get('fastdrum')}, TensorFlow "
        f"{trainer.get('tensorflow')}, Keras {trainer.get('keras')} |",
        _seed_row(meta, cfg),
        "",
    ]


def _seed_row(meta, cfg):
    """The training seed, and where training/seeds.py chose it, among which and by what."""
    chosen = meta.get("seed_choice")
    if not chosen:
        return f"| seed | {cfg.get('seed')} |"
    screens = ", ".join(f"{s}: {chosen['shortfall'][str(s)]:g}" for s in chosen["seeds"])
    return (
        f"| seed | {cfg.get('seed')}: of the runs of training seeds {chosen['seeds']}, the least short "
        f"by {chosen['n']} clips a voice, seed {chosen['seed']} (`training/seeds.py`; shortfall "
        f"{screens}) |"
    )


def _validation_rows(meta, losses):
    """The validation-loss rows, or one row saying the run had no validation split (no validation
    loss and no validation clip in its data)."""
    no_val = not any(e.get("split") == "val" for e in meta.get("data", []))
    if no_val and losses.get("val_best") is None and losses.get("val_last") is None:
        return ["| validation loss | none (no validation split) |"]
    return [
        f"| validation loss, best | {losses.get('val_best')} nats |",
        f"| validation loss, last | {losses.get('val_last')} nats |",
    ]


def _windows_row(cfg):
    if not cfg.get("crop"):
        return "| windows | whole clips |"
    weights = cfg.get("voice_weights")
    if not weights:
        drawn = "uniformly"
    elif weights == "length":
        drawn = "in proportion to its clip length"
    else:
        drawn = f"in proportion to the weights {weights} (a voice not named: 1)"
    return (
        f"| windows | {cfg['crop']} samples, half from the onset, the rest anywhere in the clip; "
        f"each row's voice drawn {drawn} |"
    )


def _input_noise_rows(cfg):
    """The input-noise row (``--input-noise``), or none when the run had no input noise."""
    sigma = cfg.get("input_noise")
    if not sigma:
        return []
    return [
        f"| input noise | {sigma:g} codes (training only): each input code moved by "
        "round(SIGMA N(0, 1)), the targets clean |"
    ]


def _input_drift_rows(cfg):
    """The input-drift row (``--input-drift``), or none when the run had no input drift."""
    sigma = cfg.get("input_drift")
    if not sigma:
        return []
    share = cfg.get("input_drift_share")
    which = f"a share {share:g} of the input windows" if share else "each input window"
    return [
        f"| input drift | RMS {sigma:g} (training only): {which} plus a few random cosines below "
        f"{cfg.get('input_drift_hz') or 30:g} Hz, the targets clean |"
    ]


def _voice_dropout_rows(cfg):
    """The rows of ``--voice-dropout`` and ``--init-from``, or none for a run without them."""
    rows = []
    if cfg.get("voice_dropout"):
        rows.append(
            f"| voice dropout | {cfg['voice_dropout']:g}: each window's voice replaced by 'any' "
            "with that probability, so 'any' is the unconditional network (classifier-free "
            "guidance's negative) |"
        )
    if cfg.get("init_from"):
        kept = (
            f"; only {cfg['train_only']} trained, every other weight kept"
            if cfg.get("train_only")
            else ""
        )
        rows.append(f"| initial weights | those of {os.path.basename(cfg['init_from'])}{kept} |")
    return rows


def _attack_rows(cfg):
    """The attack-weight row (``--attack-weight``), or none when the run did not weight the attack."""
    w = cfg.get("attack_weight")
    if not w:
        return []
    return [
        f"| attack weight | in windows from the onset, the loss of the first {cfg['attack_ms']:g} ms "
        f"of targets counts {w:g} times (`--attack-weight`; the training loss below is so weighted, "
        "the validation losses are not) |"
    ]


def _exported_row(meta, losses):
    avg = meta.get("weights_averaged")
    if avg:
        chosen = meta.get("window_choice")
        how = ""
        if chosen:
            how = (
                f"; the window chosen among {len(chosen['shortfall'])} by the shortfall of "
                f"{chosen['n']} clips a voice, seed {chosen['seed']} (`training/window.py`; the "
                f"run's own began at step {chosen['own_first']})"
            )
        mean = (
            f"the snapshot of step {avg['last']} alone"
            if avg["snapshots"] == 1
            else f"the mean of {avg['snapshots']} snapshots, steps {avg['first']} to {avg['last']}"
        )
        return f"| exported weights | {mean} (`training/average.py`){how} |"
    best = " (best validation loss)" if losses.get("val_best") is not None else ""
    return f"| exported weights | step {meta.get('steps')}{best} |"


def _voices_lines(model):
    """Per voice: clip length, default temperature and epsilon (and how they were chosen), clips
    trained on and held out."""
    m = model.meta
    train = collections.Counter(
        e.get("voice") for e in m.get("data", []) if e.get("split") == "train"
    )
    held = collections.Counter(e.get("voice") for e in m.get("holdout_data", []))
    tuning = m.get("temperature_tuning") or {}
    guided = m.get("guidance_tuning") or {}
    # what generate(voice=v) uses: meta["generation"], then the voice's
    specs = {v: model._voice_defaults(v) for v in model.voices}
    steer = any(s.get("negative_voice") is not None for s in specs.values()) or guided
    lines = [
        "## Voices",
        "",
        "| voice | clip length | default temperature | default epsilon | "
        + ("default guidance | " if steer else "")
        + "training clips | held-out clips |",
        "|---|---|---|---|" + ("---|" if steer else "") + "---|---|",
    ]
    for v, spec in specs.items():
        away = ""
        if steer:
            u = spec.get("negative_voice")
            away = "none | " if u is None else f"away from {u} x{spec.get('guidance', 1.0)} | "
        lines.append(
            f"| {v} | {spec.get('duration')} s | {spec.get('temperature', 1.0)} "
            f"| {spec.get('epsilon', 0.0)} | {away}{train[v]} | {held[v]} |"
        )
    if tuning:
        # grid: [temperature, epsilon] pairs; a file tuned before epsilon sampling lists temperatures
        pairs = [p if isinstance(p, list) else [p, 0.0] for p in tuning["grid"]]
        temps = sorted({p[0] for p in pairs})
        eps = sorted({p[1] for p in pairs})
        lines += [
            "",
            f"Default temperatures and epsilons chosen by `training/tune.py` among temperatures "
            f"{temps} and epsilons {eps}: the pair whose {tuning['n']} clips (seed {tuning['seed']}) "
            "fall least short of the evaluation's criteria; the shortfall of each (0: passes) is in "
            '`meta["temperature_tuning"]`.',
        ]
        second = tuning.get("confirm")
        if isinstance(second, dict) and second.get("shortfall"):
            k = max(collections.Counter(key.split("@")[0] for key in second["shortfall"]).values())
            lines[-1] += (
                f" Then each voice's {k} best pairs of that screen were judged again on "
                f"{second.get('n')} clips (seed {second.get('seed')}) and the pair with the least "
                'shortfall there taken (`training/tune.py --confirm`; `meta["temperature_tuning"]'
                '["confirm"]`).'
            )
    if guided:
        fresh = guided.get("confirm")
        kept = "guidance kept only where it falls less short of the criteria"
        record = '`meta["guidance_tuning"]`'
        if isinstance(fresh, dict) and fresh.get("seeds"):
            kept += (
                f", and then only where it also falls less short than no guidance on "
                f"{fresh.get('n')} clips of each of the seeds {fresh['seeds']}"
            )
            record = (
                f'`training/tune.py --guidance-seeds`; {record}, its fresh seeds in `["confirm"]`'
            )
        lines += [
            "",
            "Default guidance chosen by `training/tune.py --guidance`: each voice steered away from "
            f"its neighbours in a kit at weights {guided.get('weights')}, beside no guidance, on "
            f"{guided.get('n')} clips (seed {guided.get('seed')}) at its default temperature and "
            f"epsilon; {kept} ({record}).",
        ]
    return lines + [""]


def _check_lines(checks):
    lines = ["## Sanity check", ""]
    for check in checks:
        who = f"`{check['voice']}`: " if check.get("voice") else ""
        lines.append(
            f"- {who}{check['n']} clips of {check['duration']} s, seed {check['seed']}, backend "
            f"`{check['backend']}`: all finite: {check['finite']}; peaks {check['peaks']}; RMS per quarter "
            f"of each clip {check['quarter_rms']}; last quarter's RMS below half the first's: {check['decays']}."
        )
    return lines + [""]


def render(model, name, check=None, note=None):
    """The model card of `model` (Markdown): configuration, data, training, notes and sanity check."""
    if len(model.voices) == 1:
        what = (
            f"A WaveNet of one voice, **{model.voices[0]}**, at {model.sample_rate} Hz, in fastdrum "
            f"model format {model.format_version} (conditioned on that voice alone, which it plays by "
            "default)."
        )
    elif model.voices:
        what = (
            f"A WaveNet conditioned on the voice that generates **{len(model.voices)} voices** "
            f"({', '.join(model.voices)}) at {model.sample_rate} Hz, in fastdrum model format "
            f"{model.format_version}."
        )
    else:
        what = (
            f"An unconditional WaveNet that generates **{model.meta.get('instrument')}** one-shots "
            f"({model.sample_rate} Hz, {model.duration} s clips), in fastdrum model format 1."
        )
    lines = [f"# `{name}` model card", "", what, ""]
    if model.meta.get("stand_in"):  # a placeholder for a model still training: say so first
        lines += [f"> **Stand-in, not a trained model.** {model.meta['stand_in']}", ""]
    lines += _config_lines(model) + _data_lines(model)
    if model.voices:
        lines += _voices_lines(model)
    lines += _training_lines(model.meta)
    if note:
        lines += ["## Notes", "", note, ""]
    if check is not None:
        lines += _check_lines(check if isinstance(check, list) else [check])
    lines += [
        "## Evaluation",
        "",
        f"`python -m training.evaluate {name}.npz -n 100` judges raw output against the held-out kits "
        "above; definitions and figures: docs/evaluation.md in the repository.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m training.model_card", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("model", help="a model file (.npz, format 1 to 6)")
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
        check = None
        if args.check:
            check = [
                sanity_check(model, duration=args.check_duration, voice=v)
                for v in (model.voices or [None])
            ]
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
        for c in check:
            who = f"{c['voice']}: " if c["voice"] else ""
            print(f"sanity: {who}finite={c['finite']} peaks={c['peaks']} decays={c['decays']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
