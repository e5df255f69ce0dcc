"""Train a WaveNet on drum one-shots and export it to model format 1.

Run from the repository root::

    python -m training.train --kits /usr/share/hydrogen/data/drumkits --instrument kick \\
        --out fastdrum/models/kick.npz --steps 2000 --sample-rate 22050 --clip-duration 0.3

Checkpoints go to ``--run-dir`` (default ``runs/<out name>``) every
``--checkpoint-every`` steps; rerun the same command with ``--resume`` after a
kill to continue from the last checkpoint. TensorBoard scalars (loss,
val_loss, steps_per_sec) are written to ``<run-dir>/tb``.
"""

import argparse
import json
import math
import os
import signal
import sys
import threading
import time

import numpy as np

from fastdrum import FastDrumError, __version__ as fastdrum_version

from . import data as data_mod
from . import voices as voices_mod
from .batches import TrainingSet
from .errors import ConfigError, DivergedError, ResumeError

__all__ = ["main", "train", "parse_dilations", "build_parser", "TrainResult"]

#: Options that may change between a run and its resumption.
RESUMABLE_CHANGES = {"steps", "resume", "out", "run_dir", "log_every", "checkpoint_every", "patience",
                     "loss_threshold", "eval_every", "snapshot_every", "from_snapshot"}


def parse_dilations(text):
    """Parse dilations: ``"1,2,4,8"``, ``"1..512"`` (powers of two), ``"1..512x2"`` (repeated).

    Examples
    --------
    >>> parse_dilations("1..8x2")
    [1, 2, 4, 8, 1, 2, 4, 8]
    >>> parse_dilations("1,3,9")
    [1, 3, 9]
    """
    s = str(text).replace(" ", "")
    repeat = 1
    if "x" in s:
        s, _, r = s.rpartition("x")
        try:
            repeat = int(r)
        except ValueError:
            raise ConfigError(f"dilations {text!r}: repeat count {r!r} is not an integer") from None
    out = []
    try:
        for item in s.split(","):
            if ".." in item:
                a, b = (int(v) for v in item.split(".."))
                if a < 1 or b < a or (a & (a - 1)) or (b & (b - 1)):
                    raise ConfigError(f"dilations {text!r}: range {item!r} must go between powers of two")
                out += [2 ** i for i in range(a.bit_length() - 1, b.bit_length())]
            else:
                out.append(int(item))
    except ValueError:
        raise ConfigError(f"dilations {text!r}: expected e.g. '1..512x2' or '1,2,4,8'") from None
    if repeat < 1 or not out or min(out) < 1:
        raise ConfigError(f"dilations {text!r}: need positive dilations and repeat count")
    return out * repeat


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    p = _Parser(prog="python -m training.train", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--data", action="append", default=[], metavar="DIR",
                   help="folder of WAV/FLAC one-shots (repeatable); files whose names match --instrument")
    g.add_argument("--kits", action="append", default=[], metavar="DIR",
                   help="a Hydrogen kit, or a folder of kits (repeatable)")
    g.add_argument("--instrument",
                   help=f"class {sorted(data_mod.INSTRUMENT_CLASSES)} or a regular expression on names; "
                        "'all' takes every file of --data (one unconditioned model)")
    g.add_argument("--voices", default=None,
                   help="comma-separated voices of one conditioned model (format 2), or 'all': "
                        f"{','.join(voices_mod.VOICES)}")
    g.add_argument("--sf2", action="append", default=[], metavar="FILE",
                   help="a SoundFont 2 drum kit file (repeatable; with --voices)")
    g.add_argument("--voice-durations", default="", metavar="V=S,...",
                   help="clip seconds per voice, overriding the defaults "
                        f"({','.join(f'{k}={v}' for k, v in voices_mod.VOICE_DURATIONS.items())})")
    g.add_argument("--holdout-kits", action="append", default=[], metavar="NAMES",
                   help="comma-separated kit names kept out of training entirely (for evaluation)")
    g.add_argument("--val-fraction", type=float, default=0.1,
                   help="fraction of clips held out for validation (whole instruments at a time)")
    g.add_argument("--licence", default=None, help="licence recorded for files from --data")
    g.add_argument("--sample-rate", type=int, default=16000, metavar="HZ")
    g.add_argument("--clip-duration", type=float, default=0.2, metavar="SECONDS")
    g.add_argument("--onset-threshold", type=float, default=0.1,
                   help="a clip starts where it first reaches this fraction of its peak")
    g.add_argument("--peak", type=float, default=0.95, help="peak level clips are normalised to")
    g.add_argument("--gain-db", type=float, default=0.0,
                   help="augmentation: random gain reduction of up to this many dB per clip and step")
    g.add_argument("--pitch-semitones", type=float, default=0.0,
                   help="augmentation: pitch shifts (by resampling) of up to +- this many semitones")
    g.add_argument("--pitch-steps", type=int, default=5, help="number of pitch-shifted versions, incl. 0")
    g.add_argument("--preemphasis", type=float, default=0.0, metavar="A",
                   help="model e(t) = (y(t) - A y(t-1)) / (1 + A) instead of y: 8-bit noise lands under the "
                        "spectrum (0: off; the model file records A and generate() undoes it)")
    g.add_argument("--crop", type=int, default=0, metavar="SAMPLES",
                   help="train on random windows of this many samples (half at the onset); 0: whole clips")
    m = p.add_argument_group("model")
    m.add_argument("--quantization-channels", type=int, default=256, metavar="Q")
    m.add_argument("--residual-channels", type=int, default=32, metavar="R")
    m.add_argument("--dilation-channels", type=int, default=32, metavar="D")
    m.add_argument("--skip-channels", type=int, default=128, metavar="S")
    m.add_argument("--dilations", default="1..512x2", help="e.g. '1..512x2' or '1,2,4,8'")
    m.add_argument("--embedding-size", type=int, default=16, metavar="E", help="voice embedding size")
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, metavar="FILE.npz",
                   help="exported model (format 1; format 2 with --voices or --preemphasis)")
    t.add_argument("--steps", type=int, default=2000, help="step budget")
    t.add_argument("--batch-size", type=int, default=4, help="clips per step")
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--clipnorm", type=float, default=1.0, help="global gradient norm clip (0: off)")
    t.add_argument("--loss-threshold", type=float, default=0.0,
                   help="stop when the mean training loss of the last --log-every steps falls below (0: off)")
    t.add_argument("--eval-every", type=int, default=50, help="steps between validation losses")
    t.add_argument("--patience", type=int, default=10,
                   help="stop after this many validations without improvement (0: off); "
                        "the best-validation weights are exported")
    t.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    t.add_argument("--snapshot-every", type=int, default=0, metavar="STEPS",
                   help="also keep the weights every this many steps in <run-dir>/snapshots/ "
                        "(to pick a step by listening, not by validation loss; 0: off)")
    t.add_argument("--from-snapshot", type=int, default=0, metavar="STEP",
                   help="with --resume: train no further; export the weights of <run-dir>/snapshots/ at STEP")
    t.add_argument("--run-dir", default=None, help="checkpoints and logs (default runs/<out name>)")
    t.add_argument("--resume", action="store_true", help="continue from the run dir's last checkpoint")
    t.add_argument("--primers", type=int, default=32, help="codes of each training clip stored as primers")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-xla", dest="xla", action="store_false", help="disable jit_compile (XLA)")
    t.add_argument("--log-every", type=int, default=10, help="steps between progress lines")
    return p


def _check_args(a):
    def positive(name, v, integer=False):
        if not (v > 0) or (integer and int(v) != v) or not math.isfinite(v):
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive "
                              f"{'integer' if integer else 'number'}, got {v!r}")
    if a.from_snapshot and not a.resume:
        raise ConfigError("--from-snapshot exports a snapshot of a run: it needs --resume")
    if a.snapshot_every < 0:
        raise ConfigError(f"--snapshot-every must be >= 0, got {a.snapshot_every!r}")
    for name in ("sample_rate", "steps", "batch_size", "eval_every", "checkpoint_every", "log_every",
                 "pitch_steps", "primers"):
        positive(name, getattr(a, name), integer=True)
    for name in ("clip_duration", "learning_rate", "peak"):
        positive(name, getattr(a, name))
    for name in ("gain_db", "pitch_semitones", "loss_threshold", "clipnorm"):
        v = getattr(a, name)
        if not (math.isfinite(v) and v >= 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {v!r}")
    if a.patience < 0:
        raise ConfigError(f"--patience must be >= 0, got {a.patience!r}")
    if a.peak > 1:
        raise ConfigError(f"--peak must lie in (0, 1], got {a.peak!r}")
    if not 0 < a.onset_threshold <= 1:
        raise ConfigError(f"--onset-threshold must lie in (0, 1], got {a.onset_threshold!r}")
    if (a.instrument is None) == (a.voices is None):
        raise ConfigError("give exactly one of --instrument (one model per instrument) and --voices")
    if a.sf2 and not a.voices:
        raise ConfigError("--sf2 needs --voices (SoundFont kits are read by General MIDI note)")
    if not (math.isfinite(a.preemphasis) and 0 <= a.preemphasis < 1):
        raise ConfigError(f"--preemphasis must lie in [0, 1), got {a.preemphasis!r}")
    if a.crop < 0 or (a.voices and a.crop == 0):
        raise ConfigError(f"--crop must be a positive number of samples with --voices (>= 0 otherwise), "
                          f"got {a.crop!r}")
    if not 1 <= a.embedding_size <= 1024:
        raise ConfigError(f"--embedding-size must lie in [1, 1024], got {a.embedding_size!r}")
    if not a.out.endswith(".npz"):
        raise ConfigError(f"--out must name a .npz file, got {a.out!r}")


class TrainResult(dict):
    """What :func:`train` returns: ``model`` (fastdrum.Model), ``net`` (Keras), ``path``, figures."""


def _log(msg):
    print(msg, flush=True)


def _fmt_time(s):
    s = int(round(s))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _snapshot(net, path):
    """The net's weights as plain arrays (format-1 names, plus voice_emb/cond_w) in `path`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + f".{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **net.format1_weights(), **net.conditioning_weights())
    os.replace(tmp, path)


def _durations(text):
    """``"kick=0.5,crash=1.5"`` -> {"kick": 0.5, "crash": 1.5}."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--voice-durations: {item!r} is not VOICE=SECONDS") from None
        if name.strip() not in voices_mod.VOICES or not 0 < out[name.strip()] <= 10:
            raise ConfigError(f"--voice-durations: {item!r} needs a voice of {voices_mod.VOICES} "
                              "and seconds in (0, 10]")
    return out


def _shifts(args):
    if args.pitch_semitones > 0 and args.pitch_steps > 1:
        return [float(s) for s in np.linspace(-args.pitch_semitones, args.pitch_semitones, args.pitch_steps)]
    return [0.0]


def _prepare_data(args, cfg):
    """The dataset (clips and manifest), the :class:`TrainingSet` and the voice names ([] for one instrument)."""
    holdout = [k for item in args.holdout_kits for k in item.split(",") if k.strip()]
    rf = cfg.receptive_field
    if args.voices:
        voices = list(voices_mod.VOICES) if args.voices == "all" else [v.strip() for v in args.voices.split(",")]
        unknown = [v for v in voices if v not in voices_mod.VOICES]
        if unknown or len(set(voices)) != len(voices) or not voices:
            raise ConfigError(f"--voices {args.voices!r}: unknown or repeated voice(s) {unknown!r}; "
                              f"known: {', '.join(voices_mod.VOICES)}")
        durations = dict(voices_mod.VOICE_DURATIONS, **_durations(args.voice_durations))
        dataset = voices_mod.build_voice_dataset(
            voices=voices, sample_rate=args.sample_rate, durations=durations, val_fraction=args.val_fraction,
            seed=args.seed, kit_dirs=args.kits, sf2_files=args.sf2, holdout_kits=holdout,
            onset_threshold=args.onset_threshold, peak=args.peak)
        lengths = [int(round(durations[v] * args.sample_rate)) for v in voices]
        by_voice = [[c for c in dataset.train if c.entry["voice"] == v] for v in voices]
        val_by_voice = [[c for c in dataset.val if c.entry["voice"] == v] for v in voices]
    else:
        voices = []
        T = int(round(args.clip_duration * args.sample_rate))
        lengths = [T]
        dataset = data_mod.build_dataset(
            instrument=args.instrument, sample_rate=args.sample_rate, clip_samples=T,
            val_fraction=args.val_fraction, seed=args.seed, data_dirs=args.data, kit_dirs=args.kits,
            holdout_kits=holdout, licence=args.licence, onset_threshold=args.onset_threshold, peak=args.peak)
        by_voice, val_by_voice = [dataset.train], [dataset.val]
    window = args.crop or min(lengths)
    if window <= rf or (not args.crop and min(lengths) <= rf):
        raise ConfigError(f"{'--crop' if args.crop else 'clip'} of {window} samples "
                          f"({window / args.sample_rate:g} s at {args.sample_rate} Hz) is not longer than the "
                          f"receptive field ({rf} samples): lengthen "
                          f"{'--crop' if args.crop else '--clip-duration'} or use fewer/smaller --dilations")
    trainset = TrainingSet(by_voice, val_by_voice, lengths, crop=args.crop, receptive_field=rf,
                           quantization_channels=cfg["quantization_channels"], preemphasis=args.preemphasis,
                           shifts=_shifts(args), peak=args.peak, fade=bool(voices))
    return dataset, trainset, voices


def _meta(args, config, cfg, dataset, voices, *, exported_step, steps_done, stop_reason, train_loss, val_best,
          val_last, seconds, trainer):
    """The exported model's ``meta``: what it learned from, how long, and how far."""
    def rounded(v):
        return None if not math.isfinite(v) else round(v, 5)

    meta = dict(
        instrument=args.instrument, sample_rate=args.sample_rate,
        clip_duration=(args.clip_duration if not voices else max(d for d in dataset.manifest["durations"].values())),
        steps=exported_step, steps_trained=steps_done, stop_reason=stop_reason,
        losses=dict(train=rounded(train_loss), val_best=rounded(val_best), val_last=rounded(val_last)),
        training_seconds=round(seconds, 1),
        manifest_sha256=dataset.manifest["sha256"],
        holdout_kits=dataset.manifest["holdout_kits"],
        data=[{k: e.get(k) for k in ("file", "kit", "instrument", "voice", "licence", "sha256", "split")}
              for e in dataset.manifest["files"]],
        kits={k: v["licence"] for k, v in dataset.manifest["kits"].items()},
        config={k: v for k, v in config.items() if k not in ("resume",)},
        receptive_field=cfg.receptive_field,
        trainer=trainer,
    )
    if voices:
        meta["voices"] = {v: dict(duration=dataset.manifest["durations"][v]) for v in voices}
        meta["holdout_data"] = [{k: e.get(k) for k in ("file", "kit", "instrument", "voice", "licence", "sha256")}
                                for e in dataset.manifest["holdout"]]
    return meta


def _open_run_dir(args, config, manifest):
    """Create or check the run dir: a resume must keep every option outside RESUMABLE_CHANGES and the data."""
    run_dir = args.run_dir or os.path.join("runs", os.path.splitext(os.path.basename(args.out))[0])
    os.makedirs(run_dir, exist_ok=True)
    ckpt_dir = os.path.join(run_dir, "ckpt")
    config_path = os.path.join(run_dir, "config.json")
    has_ckpt = os.path.isdir(ckpt_dir) and any(f.startswith("ckpt-") for f in os.listdir(ckpt_dir))
    if has_ckpt and not args.resume:
        raise ResumeError(f"run dir {run_dir!r} already has checkpoints: pass --resume to continue it, "
                          "or choose another --run-dir")
    if has_ckpt:
        try:
            with open(config_path, encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError) as exc:
            raise ResumeError(f"cannot read {config_path!r} to resume: {exc}") from None
        for k in sorted(set(saved["config"]) | set(config)):
            if k not in RESUMABLE_CHANGES and saved["config"].get(k) != config.get(k):
                raise ResumeError(f"cannot resume {run_dir!r}: option {k!r} was "
                                  f"{saved['config'].get(k)!r}, now {config.get(k)!r}")
        if saved["manifest_sha256"] != manifest["sha256"]:
            raise ResumeError(f"cannot resume {run_dir!r}: the training data changed (manifest hash)")
    _write_json(config_path, {"config": config, "manifest_sha256": manifest["sha256"]})
    _write_json(os.path.join(run_dir, "manifest.json"), manifest)
    return run_dir


def train(args):
    """Train and export as `args` (the parsed command line) says; returns a :class:`TrainResult`."""
    _check_args(args)
    dilations = parse_dilations(args.dilations)
    from .network import WaveNetConfig  # imports TensorFlow

    cfg = WaveNetConfig(quantization_channels=args.quantization_channels,
                        residual_channels=args.residual_channels, dilation_channels=args.dilation_channels,
                        skip_channels=args.skip_channels, dilations=dilations)
    dataset, trainset, voices = _prepare_data(args, cfg)
    config = {k: v for k, v in sorted(vars(args).items())}
    config["dilations"] = dilations
    run_dir = _open_run_dir(args, config, dataset.manifest)
    ckpt_dir = os.path.join(run_dir, "ckpt")
    primers, primer_voices = trainset.primers(args.primers)
    val = trainset.validation()
    _log(f"data: {len(dataset.train)} training and {len(dataset.val)} validation clips of "
         f"{args.instrument or ','.join(voices)!r} (per voice {dict(zip(voices or [args.instrument], trainset.n_clips))}) "
         f"from {len(dataset.manifest['kits'])} kit(s), {len(args.sf2)} SF2 file(s) and {len(args.data)} folder(s); "
         f"held out kits {dataset.manifest['holdout_kits']}; {trainset.n_shift} pitch version(s); "
         f"window {trainset.crop} samples, receptive field {cfg.receptive_field}")

    import keras
    import tensorflow as tf

    from .network import WaveNet, export_model, to_fastdrum_model

    keras.utils.set_random_seed(args.seed)
    net = WaveNet(cfg, n_voices=len(voices), embedding_size=args.embedding_size)
    opt_kwargs = {"global_clipnorm": args.clipnorm} if args.clipnorm > 0 else {}
    optimizer = keras.optimizers.Adam(args.learning_rate, **opt_kwargs)
    optimizer.build(net.trainable_variables)
    variables = net.trainable_variables

    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    best_val = tf.Variable(np.inf, dtype=tf.float64, trainable=False, name="best_val")
    best_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_step")
    bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_evals")
    last_val = tf.Variable(np.nan, dtype=tf.float64, trainable=False, name="last_val")
    elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed")
    best_weights = [tf.Variable(v.numpy(), trainable=False) for v in variables]
    ckpt = tf.train.Checkpoint(model=net, optimizer=optimizer, step=step, best_val=best_val,
                               best_step=best_step, bad_evals=bad_evals, last_val=last_val,
                               elapsed=elapsed, best_weights=best_weights)
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=2)
    if args.resume and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        _log(f"resumed from checkpoint {manager.latest_checkpoint} at step {int(step)}")
    elif args.resume:
        _log(f"--resume: no checkpoint in {ckpt_dir!r} yet, starting at step 0")

    def loss_fn(codes, voice_ids, mask):
        logits = net(codes[:, :-1], voice_ids if voices else None)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=codes[:, 1:], logits=logits)
        return tf.reduce_sum(nll * mask) / tf.reduce_sum(mask)

    @tf.function(jit_compile=args.xla, reduce_retracing=True)
    def train_step(codes, voice_ids, mask):
        with tf.GradientTape() as tape:
            loss = loss_fn(codes, voice_ids, mask)
        grads = tape.gradient(loss, variables)
        # The last layer's residual output feeds nothing: a zero gradient, not None.
        grads = [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)]
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    @tf.function(jit_compile=args.xla)
    def val_step(codes, voice_ids, mask):
        return loss_fn(codes, voice_ids, mask)

    writer = tf.summary.create_file_writer(os.path.join(run_dir, "tb"))
    from tensorflow.core.framework import summary_pb2

    # tf.summary.scalar lives in the tensorboard package; tf.summary.write with the
    # scalars plugin's metadata writes the same event without that dependency.
    scalar_meta = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_SCALAR)
    scalar_meta.plugin_data.plugin_name = "scalars"

    def scalar(tag, value, s):
        with writer.as_default():
            tf.summary.write(tag, tf.constant(value, tf.float32), step=s, metadata=scalar_meta)
    B = args.batch_size
    recent, stop_reason, last_mean = [], "step budget", float("nan")
    t_log, s_log = time.perf_counter(), int(step)
    t_start = time.perf_counter()
    elapsed0 = float(elapsed.numpy())
    first_step_at = None
    rate = float("nan")

    def evaluate():
        v = float(val_step(tf.constant(val.codes), tf.constant(val.voices), tf.constant(val.mask)))
        last_val.assign(v)
        if v < float(best_val):
            best_val.assign(v)
            best_step.assign(int(step))
            bad_evals.assign(0)
            for bw, w in zip(best_weights, variables):
                bw.assign(w)
        else:
            bad_evals.assign_add(1)
        scalar("val_loss", v, int(step))
        return v

    # SIGTERM stops a run gracefully: it finishes the step, checkpoints and exports the best weights.
    stop_signal = []
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, lambda signum, frame: stop_signal.append(signum))
    try:
        while int(step) < args.steps and not args.from_snapshot:
            if args.patience and val is not None and int(bad_evals) >= args.patience:
                stop_reason = (f"early stopping: no validation improvement in {args.patience} evaluations "
                               f"(best {float(best_val):.4f} at step {int(best_step)})")
                break
            if stop_signal:
                stop_reason = f"stopped by SIGTERM at step {int(step)}"
                break
            s = int(step)
            rng = np.random.default_rng([args.seed, s])    # a function of (seed, step): resumes repeat exactly
            batch = trainset.batch(rng, B, gain_db=args.gain_db)
            loss = float(train_step(tf.constant(batch.codes), tf.constant(batch.voices), tf.constant(batch.mask)))
            if not math.isfinite(loss):
                raise DivergedError(f"training loss became {loss} at step {s + 1}")
            step.assign_add(1)
            s += 1
            recent.append(loss)
            if first_step_at is None:
                first_step_at = time.perf_counter()
                _log(f"step 1 done (tracing and XLA compilation {first_step_at - t_start:.1f} s)")
                t_log, s_log = first_step_at, s
            elapsed.assign(elapsed0 + time.perf_counter() - t_start)
            if s % args.eval_every == 0 and val is not None:
                evaluate()
            if s % args.log_every == 0 or s == args.steps:
                now = time.perf_counter()
                if s > s_log:
                    rate = (s - s_log) / (now - t_log)
                mean = last_mean = float(np.mean(recent))
                scalar("loss", mean, s)
                if math.isfinite(rate):
                    scalar("steps_per_sec", rate, s)
                left = (args.steps - s) / rate if rate > 0 else float("nan")
                _log(f"step {s}/{args.steps} loss {mean:.4f} val {float(last_val):.4f} "
                     f"(best {float(best_val):.4f} @ {int(best_step)}) {rate:.2f} steps/s "
                     f"{1000 / rate / 60 if rate > 0 else float('nan'):.1f} min/1000 steps, "
                     f"left {_fmt_time(left) if math.isfinite(left) else '?'}")
                t_log, s_log = now, s
                if args.loss_threshold > 0 and mean < args.loss_threshold:
                    stop_reason = f"training loss {mean:.4f} < threshold {args.loss_threshold}"
                    recent = []
                    break
                recent = []
            if s % args.checkpoint_every == 0:
                manager.save(checkpoint_number=s)
            if args.snapshot_every and s % args.snapshot_every == 0:
                _snapshot(net, os.path.join(run_dir, "snapshots", f"step-{s:06d}.npz"))
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    if val is not None and (int(step) % args.eval_every or not math.isfinite(float(last_val))):
        evaluate()
    final_train_loss = float(np.mean(recent)) if recent else last_mean
    if not args.from_snapshot:          # an export of a snapshot leaves the run as it is
        manager.save(checkpoint_number=int(step))
    writer.flush()
    steps_done = int(step)
    _log(f"stopped at step {steps_done}: {stop_reason}")

    exported_step = steps_done
    if args.from_snapshot:
        snap = os.path.join(run_dir, "snapshots", f"step-{args.from_snapshot:06d}.npz")
        if not os.path.isfile(snap):
            raise ResumeError(f"no snapshot {snap!r} (--snapshot-every writes them while a run trains)")
        with np.load(snap, allow_pickle=False) as z:
            net.set_weights_from({k: z[k] for k in z.files})
        exported_step, stop_reason = args.from_snapshot, f"exported from snapshot of step {args.from_snapshot}"
    elif val is not None and int(best_step) > 0:
        for w, bw in zip(variables, best_weights):
            w.assign(bw)
        exported_step = int(best_step)
    meta = _meta(args, config, cfg, dataset, voices, exported_step=exported_step, steps_done=steps_done,
                 stop_reason=stop_reason, train_loss=final_train_loss, val_best=float(best_val),
                 val_last=float(last_val), seconds=float(elapsed.numpy()),
                 trainer=dict(fastdrum=fastdrum_version, tensorflow=tf.__version__, keras=keras.__version__))
    model = to_fastdrum_model(net, sample_rate=args.sample_rate, primers=primers, meta=meta,
                              preemphasis=args.preemphasis, voices=voices, primer_voices=primer_voices)
    path = export_model(model, args.out)
    _log(f"exported {path} (weights of step {exported_step}; train loss {meta['losses']['train']}, "
         f"best val loss {meta['losses']['val_best']})")
    return TrainResult(model=model, net=net, path=path, steps=steps_done, exported_step=exported_step,
                       steps_per_sec=rate, stop_reason=stop_reason, meta=meta, run_dir=run_dir)


def main(argv=None):
    """Command line entry point; returns the exit status (2 on bad input, one line on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        train(args)
    except FastDrumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: resume with --resume (the last checkpoint is kept)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
