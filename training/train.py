"""Train a WaveNet on drum one-shots and export it to model format 1.

Run from the repository root::

    python -m training.train --kits /usr/share/hydrogen/data/drumkits --instrument kick \\
        --out runs/kick.npz --steps 2000 --sample-rate 22050 --clip-duration 0.3

(A file put in ``fastdrum/models/`` ships: ``kick.npz`` there would replace the shipped model's
``kick`` voice. ``training/ship_models.sh`` trains the shipped model, conditioned on every voice.)

Checkpoints go to ``--run-dir`` (default ``runs/<out name>``) every
``--checkpoint-every`` steps; rerun the same command with ``--resume`` after a
kill to continue from the last checkpoint. TensorBoard scalars (loss,
val_loss, steps_per_sec) are written to ``<run-dir>/tb``.

``--strategy mirrored`` trains on several GPUs (or ``--cpu-devices N`` parts of
the CPU) of one machine, ``--strategy multiworker`` on several machines named
by ``TF_CONFIG`` (:mod:`training.distribute`, docs/scale-out.md); the exported
model is the same file either way.
"""

import argparse
import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time

import numpy as np

from fastdrum import FastDrumError, _io, predictor
from fastdrum import __version__ as fastdrum_version
from fastdrum.mulaw import mu_law_decode, shelf_coefficients
from fastdrum.post import highpass

from . import data as data_mod
from . import distribute
from . import voices as voices_mod
from .average import read_snapshot
from .batches import TrainingSet
from .errors import ConfigError, DivergedError, ResumeError
from .voices import ANY_VOICE

__all__ = ["main", "train", "parse_dilations", "build_parser", "TrainResult"]

#: Options that may change between a run and its resumption.
RESUMABLE_CHANGES = {
    "steps",
    "resume",
    "out",
    "run_dir",
    "log_every",
    "checkpoint_every",
    "patience",
    "loss_threshold",
    "eval_every",
    "snapshot_every",
    "from_snapshot",
    "strategy",
    "cpu_devices",
}


#: The envelope of ``--envelope`` when --envelope-hold and --envelope-floor-db are not given.
DEFAULT_ENVELOPE = {"hold": 0.03, "floor_db": -60.0}

#: The last step's learning rate under ``--lr-decay`` as a fraction of the first, when --lr-final is not given.
DEFAULT_LR_FINAL = 0.01

#: The attack's length of ``--attack-weight`` when --attack-ms is not given (ms): where the stick's
#: crack of a tom or a kick lies (docs/evaluation.md, "The toms' missing attack").
DEFAULT_ATTACK_MS = 20.0


def learning_rate_at(step, args):
    """The learning rate of step `step` (0-based) of a run of ``args.steps`` steps.

    Constant without ``--lr-decay``; with ``--lr-decay cosine``, ``lr * (f + (1 - f) * (1 + cos(pi *
    step / (steps - 1))) / 2)`` for ``f = --lr-final``: ``lr`` at step 0, ``f * lr`` at the last step
    (``steps - 1``) and after it. A
    function of the step alone, so a resumed run continues the same schedule (the horizon is the
    --steps given to the run that is training now).
    """
    lr = args.learning_rate
    if args.lr_decay is None:
        return lr
    final = DEFAULT_LR_FINAL if args.lr_final is None else args.lr_final
    progress = min(max(step / max(args.steps - 1, 1), 0.0), 1.0)
    return lr * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress)))


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
                    raise ConfigError(
                        f"dilations {text!r}: range {item!r} must go between powers of two"
                    )
                out += [2**i for i in range(a.bit_length() - 1, b.bit_length())]
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
    """The argument parser of ``python -m training.train``."""
    p = _Parser(
        prog="python -m training.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = p.add_argument_group("data")
    _add_source_arguments(data)
    _add_clip_arguments(data)
    _add_emphasis_arguments(data)
    _add_predictor_arguments(data)
    _add_input_arguments(data)
    _add_model_arguments(p.add_argument_group("model"))
    t = p.add_argument_group("training")
    t.add_argument(
        "--out",
        required=True,
        metavar="FILE.npz",
        help="exported model (format 1; format 2 with --voices or --preemphasis)",
    )
    _add_optimiser_arguments(t)
    _add_run_arguments(t)
    _add_device_arguments(t)
    t.add_argument("--log-every", type=int, default=10, help="steps between progress lines")
    return p


def _add_source_arguments(g):
    """The clips' sources and voices, and what is kept out of training (held-out kits, validation)."""
    g.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of one-shots (WAV, FLAC, AIFF, Ogg; repeatable): with --instrument the files whose "
        "names match it, with --voices every file whose name says a voice (kick01, tom_hi01, ...)",
    )
    g.add_argument(
        "--kits",
        action="append",
        default=[],
        metavar="DIR",
        help="a Hydrogen kit, or a folder of kits (repeatable)",
    )
    g.add_argument(
        "--instrument",
        help=f"class {sorted(data_mod.INSTRUMENT_CLASSES)} or a regular expression on names; "
        "'all' takes every file of --data (one unconditioned model)",
    )
    g.add_argument(
        "--voices",
        default=None,
        help="comma-separated voices of one conditioned model (format 2), or 'all': "
        f"{','.join(voices_mod.VOICES)}",
    )
    g.add_argument(
        "--sf2",
        action="append",
        default=[],
        metavar="FILE",
        help="a SoundFont 2 drum kit file (repeatable; with --voices)",
    )
    g.add_argument(
        "--voice-durations",
        default="",
        metavar="V=S,...",
        help="clip seconds per voice, overriding the defaults "
        f"({','.join(f'{k}={v}' for k, v in voices_mod.VOICE_DURATIONS.items())})",
    )
    g.add_argument(
        "--holdout-kits",
        action="append",
        default=[],
        metavar="NAMES",
        help="comma-separated kit names kept out of training entirely (for evaluation)",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="fraction of clips held out for validation (whole instruments at a time)",
    )
    g.add_argument("--licence", default=None, help="licence recorded for files from --data")


def _add_clip_arguments(g):
    """How each clip is cut, normalised and augmented."""
    g.add_argument("--sample-rate", type=int, default=16000, metavar="HZ")
    g.add_argument("--clip-duration", type=float, default=0.2, metavar="SECONDS")
    g.add_argument(
        "--onset-threshold",
        type=float,
        default=0.1,
        help="a clip starts where it first reaches this fraction of its peak",
    )
    g.add_argument(
        "--peak", type=float, default=data_mod.PEAK, help="peak level clips are normalised to"
    )
    g.add_argument(
        "--highpass-hz",
        type=float,
        default=0.0,
        metavar="HZ",
        help="high-pass every training and validation clip first (a second-order Butterworth, "
        "causal): what the clips carry below HZ (DC, a sampler's sub-bass wander) is not learned "
        "and generate() undoes nothing (0: off)",
    )
    g.add_argument(
        "--gain-db",
        type=float,
        default=0.0,
        help="augmentation: random gain reduction of up to this many dB per clip and step",
    )
    g.add_argument(
        "--pitch-semitones",
        type=float,
        default=0.0,
        help="augmentation: pitch shifts (by resampling) of up to +- this many semitones",
    )
    g.add_argument(
        "--pitch-steps", type=int, default=5, help="number of pitch-shifted versions, incl. 0"
    )
    g.add_argument(
        "--crop",
        type=int,
        default=0,
        metavar="SAMPLES",
        help="train on random windows of this many samples (half at the onset); 0: whole clips",
    )
    g.add_argument(
        "--voice-weights",
        default=None,
        metavar="length|VOICE=W,...",
        help="with --voices: draw each row's voice in proportion to its clip length ('length'), "
        "so long voices' tails are seen as often as short voices' bodies, or to the weights given "
        "(e.g. 'clap=2,tom_low=2'; a voice not named weighs 1) (default: uniformly)",
    )
    g.add_argument(
        "--voice-dropout",
        type=float,
        default=0.0,
        metavar="P",
        help=f"with --voices: the model has one more voice, {ANY_VOICE!r}, which each training window "
        "is given instead of its own with probability P: the network conditioned on it is "
        "unconditional, the negative voice of classifier-free guidance (default/0: off; 1, with "
        "--train-only voice_emb: fit only that voice's embedding to every clip)",
    )


def _add_emphasis_arguments(g):
    """The filters of the signal the network models: pre-emphasis and leaky integration."""
    g.add_argument(
        "--preemphasis",
        type=float,
        default=0.0,
        metavar="A",
        help="model e(t) = (y(t) - A y(t-1)) / (1 + |A|) instead of y, -1 < A < 1: 8-bit noise lands "
        "under the spectrum, of a low voice with A > 0, of a high one with A < 0 (0: off; the model "
        "file records A and generate() undoes it)",
    )
    g.add_argument(
        "--voice-preemphasis",
        default=None,
        metavar="VOICE=A,...",
        help="with --voices: these voices' own pre-emphasis coefficients (e.g. 'hihat=0,openhat=0'); "
        "a voice not named has --preemphasis's. The model file records one a voice",
    )
    g.add_argument(
        "--integration",
        type=float,
        default=0.0,
        metavar="B",
        help="model the leaky integral u(t) = (1 - B) y(t) + B u(t-1) of the clips (then "
        "pre-emphasised), 0 <= B < 1: generate() takes its first difference, which moves the "
        "network's sampling noise away from the lowest frequencies (0: off; format 3)",
    )
    g.add_argument(
        "--voice-integration",
        default=None,
        metavar="VOICE=B,...",
        help="with --voices: these voices' own integration coefficients (e.g. 'hihat=0.95'); "
        "a voice not named has --integration's",
    )
    g.add_argument(
        "--shelf-hz",
        type=float,
        default=0.0,
        metavar="HZ",
        help="take the clips through a low shelf (1 - c z^-1) / (1 - p z^-1) first, its zero's "
        "corner at HZ (c = 1 - 2 pi HZ / rate) and its pole --shelf-db lower: generate() undoes "
        "it, cutting what the network adds below HZ, the slow wander under kicks and toms "
        "(0: off; format 4)",
    )
    g.add_argument(
        "--voice-shelf-hz",
        default=None,
        metavar="VOICE=HZ,...",
        help="with --voices: these voices' own shelf corners (e.g. 'kick=40'); a voice not named "
        "has --shelf-hz's",
    )
    g.add_argument(
        "--shelf-db",
        type=float,
        default=20.0,
        metavar="DB",
        help="the low shelf's depth: its gain at DC in training, and generate()'s cut there, "
        "20 log10((1 - c) / (1 - p)) dB (default 20)",
    )


def _add_predictor_arguments(g):
    """Model format 6: the codes of a backward-adaptive linear predictor's error."""
    g.add_argument(
        "--predictor-order",
        type=int,
        default=0,
        metavar="N",
        help="model the codes of the error of a backward-adaptive linear predictor of order N, "
        "closed loop as ADPCM, which generate() runs on the decoded errors: it holds the partials "
        "a drum rings (0: off; format 6; fastdrum.predictor)",
    )
    g.add_argument(
        "--predictor-window",
        type=int,
        default=4096,
        metavar="SAMPLES",
        help="with --predictor-order: the predictor is fitted to the last SAMPLES decoded (default 4096)",
    )
    g.add_argument(
        "--predictor-hop",
        type=int,
        default=256,
        metavar="SAMPLES",
        help="with --predictor-order: it is fitted again every SAMPLES samples (default 256)",
    )
    g.add_argument(
        "--predictor-gain",
        type=float,
        default=1.0,
        metavar="G",
        help="with --predictor-order: the error times G is coded (default 1)",
    )
    g.add_argument(
        "--predictor-loop",
        action="store_true",
        help="with --predictor-order: the predictor inside the sampling loop (format 7): the network "
        "is fed the decoded signal's code and the prediction's, as LPCNet's is, and draws the "
        "error's (no validation split)",
    )


def _add_input_arguments(g):
    """What the network is fed in training instead of its clean codes (the targets stay clean)."""
    g.add_argument(
        "--input-noise",
        type=float,
        default=None,
        metavar="SIGMA",
        help="training only: feed the network its input codes each moved by round(SIGMA * N(0, 1)) "
        "(clipped), the targets staying the clean next codes, so that it learns to continue from "
        "contexts with errors like its own draws' (FFTNet's noise injection; default/0: off)",
    )
    g.add_argument(
        "--input-drift",
        type=float,
        default=None,
        metavar="SIGMA",
        help="training only: feed the network its input windows plus a slow random signal (a few "
        "cosines below --input-drift-hz, RMS SIGMA in the units of the pre-emphasised signal), the targets "
        "staying the clean next codes, so that it learns not to carry on a slow wander of its "
        "own draws (rumble) (default/0: off)",
    )
    g.add_argument(
        "--input-drift-hz",
        type=float,
        default=30.0,
        metavar="HZ",
        help="with --input-drift: the drift's cosines lie below this frequency (30: the rumble "
        "criterion's band)",
    )
    g.add_argument(
        "--input-drift-share",
        type=float,
        default=1.0,
        metavar="P",
        help="with --input-drift: the share of the windows that carry it (each drawn with "
        "probability P)",
    )
    g.add_argument(
        "--mean-lf-weight",
        type=float,
        default=None,
        metavar="W",
        help="add to the loss W times the share below --mean-lf-hz of the error of the predicted "
        "mean (the mean of each step's distribution less the next value, on the training windows): "
        "the cross-entropy barely sees a slow bias of the mean, which the de-emphasis raises into "
        "rumble (white error: 1 / window; default/0: off)",
    )
    g.add_argument(
        "--mean-lf-hz",
        type=float,
        default=30.0,
        metavar="HZ",
        help="with --mean-lf-weight: the band, as a moving average over sample_rate / HZ samples",
    )


def _add_model_arguments(g):
    """The network's sizes and dilations."""
    g.add_argument("--quantization-channels", type=int, default=256, metavar="Q")
    g.add_argument("--residual-channels", type=int, default=32, metavar="R")
    g.add_argument("--dilation-channels", type=int, default=32, metavar="D")
    g.add_argument("--skip-channels", type=int, default=128, metavar="S")
    g.add_argument("--dilations", default="1..512x2", help="e.g. '1..512x2' or '1,2,4,8'")
    g.add_argument(
        "--embedding-size", type=int, default=16, metavar="E", help="voice embedding size"
    )
    g.add_argument(
        "--time-constants",
        default=None,
        metavar="SECONDS",
        help="time-since-onset conditioning (format 2): comma-separated time constants of its "
        "features exp(-t / tau), e.g. '0.0025,0.01,0.04,0.16,0.64' (default: none)",
    )
    g.add_argument(
        "--time-block",
        type=int,
        default=None,
        metavar="SAMPLES",
        help="with --time-constants: the time features change once every this many samples "
        "(default 64)",
    )
    g.add_argument(
        "--decay-conditioning",
        action="store_true",
        help="with --voices: tell the network each clip's decay time (seconds to fall 20 dB below "
        "its loudest 10 ms, ln-normalised), a per-clip bias of every layer as the voice is; "
        "generate(decay=) then sets it (format 2's decay_w)",
    )
    g.add_argument(
        "--envelope",
        action="store_true",
        help="with --decay-conditioning: the network models each clip divided by a decay envelope "
        "(1 for --envelope-hold s, then 20 dB down per decay time, floored at --envelope-floor-db; "
        "before pre-emphasis, clipped to [-1, 1]) and generate() multiplies it back, so the level is "
        "not left to the network; the validation loss is then a loss on the normalised clips "
        "(meta['envelope'])",
    )
    g.add_argument(
        "--envelope-hold",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"with --envelope: seconds the envelope holds at 1 after the onset "
        f"(default {DEFAULT_ENVELOPE['hold']:g})",
    )
    g.add_argument(
        "--envelope-floor-db",
        type=float,
        default=None,
        metavar="DB",
        help=f"with --envelope: the envelope's floor, dB in [-120, 0) "
        f"(default {DEFAULT_ENVELOPE['floor_db']:g})",
    )
    g.add_argument(
        "--end-mask",
        action="store_true",
        help="with --envelope: no loss on a clip past its last sample above the envelope's floor "
        "(the silence of a clip shorter than its voice's length), so the network learns no "
        "silence and the envelope alone brings a clip down",
    )
    g.add_argument(
        "--attack-weight",
        type=float,
        default=None,
        metavar="W",
        help="in a window that starts at the onset, the loss of the first --attack-ms of targets "
        "counts W times (the attack: most of a tom's or a kick's energy above 5 kHz); "
        "validation losses are not weighted (default: off)",
    )
    g.add_argument(
        "--attack-ms",
        type=float,
        default=None,
        metavar="MS",
        help=f"with --attack-weight: the attack's length (default {DEFAULT_ATTACK_MS:g} ms)",
    )


def _add_optimiser_arguments(g):
    """Steps, batches, the optimiser and when to stop."""
    g.add_argument("--steps", type=int, default=2000, help="step budget")
    g.add_argument("--batch-size", type=int, default=4, help="clips per step")
    g.add_argument("--learning-rate", type=float, default=1e-3)
    g.add_argument(
        "--lr-decay",
        choices=("cosine",),
        default=None,
        help="decay the learning rate over --steps on a half cosine, from --learning-rate at step 0 "
        "to --lr-final times it at the last step (default: constant)",
    )
    g.add_argument(
        "--lr-final",
        type=float,
        default=None,
        metavar="FRACTION",
        help=f"with --lr-decay: the last step's rate as a fraction of --learning-rate "
        f"(default {DEFAULT_LR_FINAL:g})",
    )
    g.add_argument("--clipnorm", type=float, default=1.0, help="global gradient norm clip (0: off)")
    g.add_argument(
        "--loss-threshold",
        type=float,
        default=0.0,
        help="stop when the mean training loss of the last --log-every steps falls below (0: off)",
    )
    g.add_argument("--eval-every", type=int, default=50, help="steps between validation losses")
    g.add_argument(
        "--patience",
        type=int,
        default=10,
        help="stop after this many validations without improvement (0: off); "
        "the best-validation weights are exported",
    )


def _add_run_arguments(g):
    """The run: its directory, checkpoints, snapshots and resumption; the primers exported; the seed."""
    g.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    g.add_argument(
        "--snapshot-every",
        type=int,
        default=0,
        metavar="STEPS",
        help="also keep the weights every this many steps in <run-dir>/snapshots/ "
        "(to pick a step by listening, not by validation loss; 0: off)",
    )
    g.add_argument(
        "--from-snapshot",
        type=int,
        default=0,
        metavar="STEP",
        help="with --resume: train no further; export the weights of <run-dir>/snapshots/ at STEP",
    )
    g.add_argument("--run-dir", default=None, help="checkpoints and logs (default runs/<out name>)")
    g.add_argument(
        "--resume", action="store_true", help="continue from the run dir's last checkpoint"
    )
    g.add_argument(
        "--init-from",
        default=None,
        metavar="MODEL",
        help="start from the weights of this model file (the same network and voices; with "
        f"--voice-dropout, its voices and not yet {ANY_VOICE!r}, whose embedding starts as the mean of "
        "the others'), not from random ones; a resumed run continues from its checkpoint",
    )
    g.add_argument(
        "--train-only",
        choices=["voice_emb"],
        default=None,
        help="with --init-from: train the voice embeddings alone, every other weight kept as it "
        "is (with --voice-dropout 1, only the 'any' voice's embedding moves: the network the "
        "model was is unchanged, and gains an unconditional voice)",
    )
    g.add_argument(
        "--primers", type=int, default=32, help="codes of each training clip stored as primers"
    )
    g.add_argument("--seed", type=int, default=0)


def _add_device_arguments(g):
    """XLA and tf.distribute: where the steps run."""
    g.add_argument("--no-xla", dest="xla", action="store_false", help="disable jit_compile (XLA)")
    g.add_argument(
        "--strategy",
        choices=distribute.STRATEGIES,
        default="default",
        help="tf.distribute: none, MirroredStrategy (this machine's GPUs or --cpu-devices), or "
        "MultiWorkerMirroredStrategy (the workers of TF_CONFIG); --batch-size is the global batch",
    )
    g.add_argument(
        "--cpu-devices",
        type=int,
        default=0,
        metavar="N",
        help="with --strategy mirrored and no GPU: split the CPU into N logical devices (0: one)",
    )


def _check_args(a):
    """ConfigError naming the first option that is out of range or lacks a partner."""
    _check_numbers(a)
    _check_voice_options(a)
    _check_model_options(a)
    if not a.out.endswith(".npz"):
        raise ConfigError(f"--out must name a .npz file, got {a.out!r}")
    distribute.check_strategy_args(a.strategy, a.cpu_devices)


def _check_numbers(a):
    """The run's counts, rates and levels: positive, finite, within their ranges."""

    def positive(name, v, integer=False):
        if not (v > 0) or (integer and int(v) != v) or not math.isfinite(v):
            raise ConfigError(
                f"--{name.replace('_', '-')} must be a positive "
                f"{'integer' if integer else 'number'}, got {v!r}"
            )

    if a.from_snapshot and not a.resume:
        raise ConfigError("--from-snapshot exports a snapshot of a run: it needs --resume")
    if a.snapshot_every < 0:
        raise ConfigError(f"--snapshot-every must be >= 0, got {a.snapshot_every!r}")
    for name in (
        "sample_rate",
        "steps",
        "batch_size",
        "eval_every",
        "checkpoint_every",
        "log_every",
        "pitch_steps",
        "primers",
    ):
        positive(name, getattr(a, name), integer=True)
    for name in ("clip_duration", "learning_rate", "peak"):
        positive(name, getattr(a, name))
    for name in ("gain_db", "pitch_semitones", "loss_threshold", "clipnorm"):
        v = getattr(a, name)
        if not (math.isfinite(v) and v >= 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {v!r}")
    for name in ("input_noise", "input_drift", "mean_lf_weight"):
        v = getattr(a, name)
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {v!r}")
    if not (math.isfinite(a.input_drift_hz) and 0 < a.input_drift_hz <= a.sample_rate / 2):
        raise ConfigError(
            f"--input-drift-hz must lie in (0, {a.sample_rate / 2:g}] (half the sample rate), "
            f"got {a.input_drift_hz!r}"
        )
    if not (math.isfinite(a.mean_lf_hz) and 0 < a.mean_lf_hz <= a.sample_rate / 2):
        raise ConfigError(
            f"--mean-lf-hz must lie in (0, {a.sample_rate / 2:g}] (half the sample rate), "
            f"got {a.mean_lf_hz!r}"
        )
    if not 0 < a.input_drift_share <= 1:  # also False for NaN
        raise ConfigError(f"--input-drift-share must lie in (0, 1], got {a.input_drift_share!r}")
    if not 0 <= a.voice_dropout <= 1:  # also False for NaN
        raise ConfigError(f"--voice-dropout must lie in [0, 1], got {a.voice_dropout!r}")
    if a.train_only and not a.init_from:
        raise ConfigError("--train-only needs --init-from (the weights it keeps)")
    if a.lr_final is not None:
        if a.lr_decay is None:
            raise ConfigError("--lr-final needs --lr-decay")
        if not (math.isfinite(a.lr_final) and 0 <= a.lr_final <= 1):
            raise ConfigError(f"--lr-final must lie in [0, 1], got {a.lr_final!r}")
    if a.patience < 0:
        raise ConfigError(f"--patience must be >= 0, got {a.patience!r}")
    if a.peak > 1:
        raise ConfigError(f"--peak must lie in (0, 1], got {a.peak!r}")
    if not 0 < a.onset_threshold <= 1:
        raise ConfigError(f"--onset-threshold must lie in (0, 1], got {a.onset_threshold!r}")


def _check_voice_options(a):
    """One of --instrument and --voices, and the options that need --voices (or each other)."""
    if (a.instrument is None) == (a.voices is None):
        raise ConfigError(
            "give exactly one of --instrument (one model per instrument) and --voices"
        )
    if a.sf2 and not a.voices:
        raise ConfigError("--sf2 needs --voices (SoundFont kits are read by General MIDI note)")
    if a.voice_weights and not a.voices:
        raise ConfigError("--voice-weights needs --voices (it weights the voices of one model)")
    if a.voice_weights:
        _voice_weights(a.voice_weights, voices_mod.VOICES)  # its form, before the data is read
    if a.voice_dropout and not a.voices:
        raise ConfigError(
            "--voice-dropout needs --voices (it drops the voice of a conditioned model)"
        )
    if a.decay_conditioning and not a.voices:
        raise ConfigError(
            "--decay-conditioning needs --voices (the model stores each voice's decay times)"
        )
    if (a.envelope_hold is not None or a.envelope_floor_db is not None) and not a.envelope:
        raise ConfigError("--envelope-hold and --envelope-floor-db need --envelope")
    if a.end_mask and not a.envelope:
        raise ConfigError("--end-mask needs --envelope (a clip ends below the envelope's floor)")
    if a.envelope and not a.decay_conditioning:
        raise ConfigError(
            "--envelope needs --decay-conditioning (the envelope falls with each clip's decay time)"
        )
    if a.envelope_hold is not None and not (0 <= a.envelope_hold <= 1):  # also False for NaN
        raise ConfigError(f"--envelope-hold must lie in [0, 1] seconds, got {a.envelope_hold!r}")
    if a.envelope_floor_db is not None and not (-120 <= a.envelope_floor_db < 0):
        raise ConfigError(
            f"--envelope-floor-db must lie in [-120, 0) dB, got {a.envelope_floor_db!r}"
        )


def _check_predictor(a):
    """--predictor-* within what a format-6 file may hold (fastdrum.predictor's bounds)."""
    if not 1 <= a.predictor_order <= predictor.MAX_ORDER:
        raise ConfigError(
            f"--predictor-order must lie in [0, {predictor.MAX_ORDER}], got {a.predictor_order}"
        )
    if not a.predictor_order < a.predictor_window <= predictor.MAX_WINDOW:
        raise ConfigError(
            f"--predictor-window must exceed the order and be at most {predictor.MAX_WINDOW}, "
            f"got {a.predictor_window}"
        )
    if not predictor.MIN_HOP <= a.predictor_hop <= a.predictor_window:
        raise ConfigError(
            f"--predictor-hop must lie in [{predictor.MIN_HOP}, --predictor-window], "
            f"got {a.predictor_hop}"
        )
    lo, hi = predictor.GAIN_RANGE
    if not (math.isfinite(a.predictor_gain) and lo <= a.predictor_gain <= hi):
        raise ConfigError(
            f"--predictor-gain must lie in [{lo:g}, {hi:g}], got {a.predictor_gain!r}"
        )


def _check_model_options(a):
    """Pre-emphasis, the crop, the attack weight, the voice embedding and the time features."""
    if not (math.isfinite(a.preemphasis) and -1 < a.preemphasis < 1):
        raise ConfigError(f"--preemphasis must lie in (-1, 1), got {a.preemphasis!r}")
    if not (math.isfinite(a.integration) and 0 <= a.integration < 1):
        raise ConfigError(f"--integration must lie in [0, 1), got {a.integration!r}")
    if not (math.isfinite(a.shelf_hz) and 0 <= a.shelf_hz <= _MAX_SHELF_HZ):
        raise ConfigError(f"--shelf-hz must lie in [0, {_MAX_SHELF_HZ:g}] Hz, got {a.shelf_hz!r}")
    if not (math.isfinite(a.highpass_hz) and 0 <= a.highpass_hz <= _MAX_HIGHPASS_HZ):
        raise ConfigError(
            f"--highpass-hz must lie in [0, {_MAX_HIGHPASS_HZ:g}] Hz, got {a.highpass_hz!r}"
        )
    if not (math.isfinite(a.shelf_db) and 0 < a.shelf_db <= 60):
        raise ConfigError(f"--shelf-db must lie in (0, 60] dB, got {a.shelf_db!r}")
    if a.predictor_order:
        _check_predictor(a)
    elif a.predictor_loop:
        raise ConfigError("--predictor-loop needs --predictor-order (the predictor it runs)")
    for flag in ("preemphasis", "integration", "shelf_hz"):
        if getattr(a, f"voice_{flag}") is not None and not a.voices:
            raise ConfigError(
                f"--voice-{flag.replace('_', '-')} needs --voices (it gives voices their own "
                "coefficients)"
            )
    if a.crop < 0 or (a.voices and a.crop == 0):
        raise ConfigError(
            f"--crop must be a positive number of samples with --voices (>= 0 otherwise), "
            f"got {a.crop!r}"
        )
    if a.attack_ms is not None and a.attack_weight is None:
        raise ConfigError("--attack-ms needs --attack-weight")
    if a.attack_weight is not None and not (0 < a.attack_weight < math.inf):  # False for NaN
        raise ConfigError(f"--attack-weight must be a number above 0, got {a.attack_weight!r}")
    if a.attack_ms is not None and not (0 < a.attack_ms <= 1000):
        raise ConfigError(f"--attack-ms must lie in (0, 1000] ms, got {a.attack_ms!r}")
    if not 1 <= a.embedding_size <= 1024:
        raise ConfigError(f"--embedding-size must lie in [1, 1024], got {a.embedding_size!r}")
    if a.time_constants is not None:
        try:
            taus = [float(x) for x in a.time_constants.split(",")]
        except ValueError:
            taus = []
        if not taus or not all(math.isfinite(x) and x > 0 for x in taus) or len(taus) > 64:
            raise ConfigError(
                "--time-constants must be 1 to 64 comma-separated positive seconds, "
                f"got {a.time_constants!r}"
            )
        if not all(1 <= x * a.sample_rate <= 2**24 for x in taus):
            raise ConfigError(
                f"--time-constants must lie between 1 and 2**24 samples at {a.sample_rate} Hz, "
                f"got {a.time_constants!r}"
            )
    if a.time_block is not None and a.time_constants is None:
        raise ConfigError("--time-block needs --time-constants")
    if a.time_block is not None and not 1 <= a.time_block <= 65536:
        raise ConfigError(f"--time-block must lie in [1, 65536] samples, got {a.time_block!r}")


class TrainResult(dict):
    """What :func:`train` returns: ``model`` (fastdrum.Model), ``net`` (Keras), ``path``, figures."""


#: Samples per block of the time features when --time-block is not given (1.45 ms at 44.1 kHz).
DEFAULT_TIME_BLOCK = 64


def _attack(args):
    """``(K samples, weight)`` of ``--attack-weight`` (at least one sample), or None."""
    if args.attack_weight is None:
        return None
    ms = DEFAULT_ATTACK_MS if args.attack_ms is None else args.attack_ms
    return max(1, int(round(ms * args.sample_rate / 1000.0))), float(args.attack_weight)


def _envelope(args):
    """The ``meta["envelope"]`` of ``--envelope`` (its defaults where not given), or None."""
    if not args.envelope:
        return None
    hold, floor_db = args.envelope_hold, args.envelope_floor_db
    return {
        "hold": DEFAULT_ENVELOPE["hold"] if hold is None else float(hold),
        "floor_db": DEFAULT_ENVELOPE["floor_db"] if floor_db is None else float(floor_db),
    }


def _time_tau(args):
    """The time constants of --time-constants in samples (float32), or () for none."""
    if args.time_constants is None:
        return ()
    return np.array(
        [float(x) * args.sample_rate for x in args.time_constants.split(",")], dtype=np.float32
    )


def _log(msg):
    print(msg, flush=True)


def _fmt_time(s):
    s = int(round(s))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _write_json(path, obj):
    with _io.atomic_file(path, overwrite=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, sort_keys=True)


def _snapshot(net, path):
    """The net's weights as plain arrays (format-1 names, plus its conditioning weights) in `path`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with _io.atomic_file(path, overwrite=True) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **net.format1_weights(), **net.conditioning_weights())


def _voice_numbers(option, text, voices, want, ok):
    """``"kick=0.5,crash=1.5"`` -> {"kick": 0.5, "crash": 1.5}: the numbers `option` gives the
    `voices` named, each of which `ok` must accept (`want` says what it accepts)."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = (t.strip() for t in item.partition("="))
        try:
            x = float(value)
        except ValueError:
            raise ConfigError(f"{option}: {item!r} is not VOICE=NUMBER") from None
        if name not in voices or not ok(x):
            raise ConfigError(f"{option}: {item!r} needs a voice of {tuple(voices)} and {want}")
        out[name] = x
    return out


def _durations(text):
    """``"kick=0.5,crash=1.5"`` -> {"kick": 0.5, "crash": 1.5}."""
    return _voice_numbers(
        "--voice-durations", text, voices_mod.VOICES, "seconds in (0, 10]", lambda x: 0 < x <= 10
    )


def _voice_weights(text, voices):
    """What :class:`TrainingSet` takes for ``--voice-weights`` `text`, for the model's `voices`:
    None, ``"length"``, or a weight per voice (``"clap=2,tom_low=2"``: 1 for a voice not named)."""
    if text is None or text == "length":
        return text
    given = _voice_numbers(
        "--voice-weights", text, voices, "a weight >= 0", lambda w: math.isfinite(w) and w >= 0
    )
    out = [given.get(v, 1.0) for v in voices]
    if not sum(out) > 0:
        raise ConfigError(f"--voice-weights {text!r}: every voice weighs 0")
    return out


def _preemphasis(args, voices):
    """The pre-emphasis coefficient of the run (--preemphasis), or with --voice-preemphasis a list,
    one for each of `voices` (--preemphasis's for a voice not named, and for 'any')."""
    return _coefficients(
        args, voices, "preemphasis", "a coefficient in (-1, 1)", lambda x: -1 < x < 1
    )


def _integration(args, voices):
    """The leaky integration's coefficient of the run (--integration), or with --voice-integration
    a list, as :func:`_preemphasis`."""
    return _coefficients(
        args, voices, "integration", "a coefficient in [0, 1)", lambda x: 0 <= x < 1
    )


def _coefficients(args, voices, name, want, ok):
    """The run's `name` (an option's value), or with ``--voice-NAME`` a list, one for each of
    `voices` (the option's for a voice not named); each given must be `ok` (`want` says what is)."""
    one = getattr(args, name)
    text = getattr(args, f"voice_{name}")
    if text is None:
        return one
    flag = f"--voice-{name.replace('_', '-')}"
    given = _voice_numbers(flag, text, voices, want, ok)
    return [given.get(v, one) for v in voices]


#: The highest corner of the low shelf: well below any voice's fundamental is what it is for.
_MAX_SHELF_HZ = 1000.0


def _shelf(args, voices):
    """``(zeros, poles)``: the low shelf of the run (--shelf-hz, --shelf-db) as its filter's zero c
    and pole p, each a float, or with --voice-shelf-hz a list, one a voice as :func:`_preemphasis`
    (:func:`fastdrum.mulaw.shelf_coefficients`: c = p = 0 where HZ is 0)."""
    hz = _coefficients(
        args,
        voices,
        "shelf_hz",
        f"a corner in [0, {_MAX_SHELF_HZ:g}] Hz",
        lambda x: 0 <= x <= _MAX_SHELF_HZ,
    )

    def pair(f):
        try:
            return shelf_coefficients(f, args.sample_rate, args.shelf_db)
        except FastDrumError as exc:  # a corner above the sample rate's bound
            raise ConfigError(f"--shelf-hz: {exc}") from None

    if not isinstance(hz, list):
        return pair(hz)
    pairs = [pair(f) for f in hz]
    return [c for c, _ in pairs], [p for _, p in pairs]


def _predictor(args):
    """``{"order", "window", "hop", "gain"}`` of --predictor-*, or None without --predictor-order."""
    if not args.predictor_order:
        return None
    return dict(
        order=args.predictor_order,
        window=args.predictor_window,
        hop=args.predictor_hop,
        gain=args.predictor_gain,
    )


def _shifts(args):
    if args.pitch_semitones > 0 and args.pitch_steps > 1:
        return [
            float(s)
            for s in np.linspace(-args.pitch_semitones, args.pitch_semitones, args.pitch_steps)
        ]
    return [0.0]


#: The highest --highpass-hz: under every voice's body (claps lie above 1 kHz, kicks' fundamentals
#: about 50-70 Hz) is what it is for.
_MAX_HIGHPASS_HZ = 500.0


def _highpassed(clips, args):
    """`clips` (:class:`training.data.Clip`) with their audio through --highpass-hz's filter
    (:func:`fastdrum.post.highpass`, the drum machine's: a second-order Butterworth, causal, so
    nothing moves before a clip's onset); as given where it is 0."""
    if not args.highpass_hz:
        return clips
    return [
        dataclasses.replace(c, audio=highpass(c.audio, args.sample_rate, cutoff=args.highpass_hz))
        for c in clips
    ]


def _voice_dataset(args, holdout):
    """``(voices, dataset, lengths, by_voice, val_by_voice)`` of a --voices run: the voices named (or
    all), their clips from every source with each voice's length, training and validation by voice."""
    voices = (
        list(voices_mod.VOICES)
        if args.voices == "all"
        else [v.strip() for v in args.voices.split(",")]
    )
    unknown = [v for v in voices if v not in voices_mod.VOICES]
    if unknown or len(set(voices)) != len(voices) or not voices:
        raise ConfigError(
            f"--voices {args.voices!r}: unknown or repeated voice(s) {unknown!r}; "
            f"known: {', '.join(voices_mod.VOICES)}"
        )
    durations = dict(voices_mod.VOICE_DURATIONS, **_durations(args.voice_durations))
    dataset = voices_mod.build_voice_dataset(
        voices=voices,
        sample_rate=args.sample_rate,
        durations=durations,
        val_fraction=args.val_fraction,
        seed=args.seed,
        kit_dirs=args.kits,
        sf2_files=args.sf2,
        data_dirs=args.data,
        holdout_kits=holdout,
        onset_threshold=args.onset_threshold,
        peak=args.peak,
    )
    lengths = [int(round(durations[v] * args.sample_rate)) for v in voices]
    by_voice = [[c for c in dataset.train if c.entry["voice"] == v] for v in voices]
    val_by_voice = [[c for c in dataset.val if c.entry["voice"] == v] for v in voices]
    return voices, dataset, lengths, by_voice, val_by_voice


def _prepare_data(args, cfg):
    """The dataset (clips and manifest), the :class:`TrainingSet` and the voice names ([] for one instrument)."""
    holdout = [k for item in args.holdout_kits for k in item.split(",") if k.strip()]
    rf = cfg.receptive_field
    if args.voices:
        voices, dataset, lengths, by_voice, val_by_voice = _voice_dataset(args, holdout)
    else:
        voices = []
        T = int(round(args.clip_duration * args.sample_rate))
        lengths = [T]
        dataset = data_mod.build_dataset(
            instrument=args.instrument,
            sample_rate=args.sample_rate,
            clip_samples=T,
            val_fraction=args.val_fraction,
            seed=args.seed,
            data_dirs=args.data,
            kit_dirs=args.kits,
            holdout_kits=holdout,
            licence=args.licence,
            onset_threshold=args.onset_threshold,
            peak=args.peak,
        )
        by_voice, val_by_voice = [dataset.train], [dataset.val]
    by_voice = [_highpassed(clips, args) for clips in by_voice]
    val_by_voice = [_highpassed(clips, args) for clips in val_by_voice]
    window = args.crop or min(lengths)
    if window <= rf or (not args.crop and min(lengths) <= rf):
        raise ConfigError(
            f"{'--crop' if args.crop else 'clip'} of {window} samples "
            f"({window / args.sample_rate:g} s at {args.sample_rate} Hz) is not longer than the "
            f"receptive field ({rf} samples): lengthen "
            f"{'--crop' if args.crop else '--clip-duration'} or use fewer/smaller --dilations"
        )
    trainset = TrainingSet(
        by_voice,
        val_by_voice,
        lengths,
        crop=args.crop,
        receptive_field=rf,
        quantization_channels=cfg["quantization_channels"],
        preemphasis=_preemphasis(args, voices),
        integration=_integration(args, voices),
        shelf=_shelf(args, voices),
        predictor=_predictor(args),
        predictor_loop=args.predictor_loop,
        shifts=_shifts(args),
        peak=args.peak,
        fade=bool(voices),
        voice_weights=_voice_weights(args.voice_weights, voices) if voices else None,
        sample_rate=args.sample_rate,
        decay_conditioning=args.decay_conditioning,
        envelope=_envelope(args),
        end_mask=args.end_mask,
        attack=_attack(args),
    )
    return dataset, trainset, voices


def _meta(
    args,
    config,
    cfg,
    dataset,
    voices,
    trainset,
    *,
    exported_step,
    steps_done,
    stop_reason,
    train_loss,
    val_best,
    val_last,
    seconds,
    trainer,
):
    """The exported model's ``meta``: what it learned from, how long, and how far (and, with decay
    conditioning, the decay statistics and each voice's training decay times of `trainset`)."""

    def rounded(v):
        return None if not math.isfinite(v) else round(v, 5)

    meta = dict(
        # A model of one voice plays it by default (fastdrum.Model.default_voice).
        instrument=voices[0] if len(voices) == 1 else args.instrument,
        sample_rate=args.sample_rate,
        clip_duration=(
            args.clip_duration
            if not voices
            else max(d for d in dataset.manifest["durations"].values())
        ),
        steps=exported_step,
        steps_trained=steps_done,
        stop_reason=stop_reason,
        losses=dict(
            train=rounded(train_loss), val_best=rounded(val_best), val_last=rounded(val_last)
        ),
        training_seconds=round(seconds, 1),
        manifest_sha256=dataset.manifest["sha256"],
        holdout_kits=dataset.manifest["holdout_kits"],
        data=[
            {
                k: e.get(k)
                for k in ("file", "kit", "instrument", "voice", "licence", "sha256", "split")
            }
            for e in dataset.manifest["files"]
        ],
        kits={k: v["licence"] for k, v in dataset.manifest["kits"].items()},
        config={k: v for k, v in config.items() if k not in ("resume",)},
        receptive_field=cfg.receptive_field,
        trainer=trainer,
    )
    if voices:
        durations = dict(dataset.manifest["durations"])
        durations.setdefault(ANY_VOICE, max(durations.values()))  # its clips are any voice's
        meta["voices"] = {v: dict(duration=durations[v]) for v in voices}
        if trainset.decay_stats is not None:
            meta["decay"] = dict(trainset.decay_stats)
            for v, decays in zip(voices, trainset.voice_decays):
                meta["voices"][v]["decays"] = decays
            if ANY_VOICE in meta["voices"]:  # every clip's: a dropped window keeps its clip's decay
                meta["voices"][ANY_VOICE]["decays"] = sorted(
                    d for decays in trainset.voice_decays for d in decays
                )
        if trainset.envelope is not None:
            meta["envelope"] = dict(trainset.envelope)
        meta["holdout_data"] = [
            {k: e.get(k) for k in ("file", "kit", "instrument", "voice", "licence", "sha256")}
            for e in dataset.manifest["holdout"]
        ]
    if trainset.predictor is not None:
        meta["predictor"] = dict(trainset.predictor)
    return meta


def _open_run_dir(args, config, manifest, *, write=True):
    """Create or check the run dir: a resume must keep every option outside RESUMABLE_CHANGES and the data.

    Only the chief (`write`) creates it and records the run's config and manifest; another worker checks.
    """
    run_dir = args.run_dir or os.path.join("runs", os.path.splitext(os.path.basename(args.out))[0])
    if write:
        os.makedirs(run_dir, exist_ok=True)
    ckpt_dir = os.path.join(run_dir, "ckpt")
    config_path = os.path.join(run_dir, "config.json")
    has_ckpt = os.path.isdir(ckpt_dir) and any(f.startswith("ckpt-") for f in os.listdir(ckpt_dir))
    if has_ckpt and not args.resume:
        raise ResumeError(
            f"run dir {run_dir!r} already has checkpoints: pass --resume to continue it, "
            "or choose another --run-dir"
        )
    if has_ckpt:
        try:
            with open(config_path, encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError) as exc:
            raise ResumeError(f"cannot read {config_path!r} to resume: {exc}") from None
        for k in sorted(set(saved["config"]) | set(config)):
            if k not in RESUMABLE_CHANGES and saved["config"].get(k) != config.get(k):
                raise ResumeError(
                    f"cannot resume {run_dir!r}: option {k!r} was "
                    f"{saved['config'].get(k)!r}, now {config.get(k)!r}"
                )
        if saved["manifest_sha256"] != manifest["sha256"]:
            raise ResumeError(
                f"cannot resume {run_dir!r}: the training data changed (manifest hash)"
            )
    if write:
        _write_json(config_path, {"config": config, "manifest_sha256": manifest["sha256"]})
        _write_json(os.path.join(run_dir, "manifest.json"), manifest)
    return run_dir


class _State:
    """The run's counters and best weights: saved in every checkpoint beside the model and optimizer."""

    def __init__(self, tf, variables):
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.best_val = tf.Variable(np.inf, dtype=tf.float64, trainable=False, name="best_val")
        self.best_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_step")
        self.bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_evals")
        self.last_val = tf.Variable(np.nan, dtype=tf.float64, trainable=False, name="last_val")
        self.elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed")
        self.best_weights = [tf.Variable(v.numpy(), trainable=False) for v in variables]

    def checkpoint(self, tf, net, optimizer):
        """A ``tf.train.Checkpoint`` of everything a resumed run needs (the keys of every earlier run)."""
        return tf.train.Checkpoint(
            model=net,
            optimizer=optimizer,
            step=self.step,
            best_val=self.best_val,
            best_step=self.best_step,
            bad_evals=self.bad_evals,
            last_val=self.last_val,
            elapsed=self.elapsed,
            best_weights=self.best_weights,
        )


class _Scalars:
    """TensorBoard scalars in ``<run-dir>/tb`` (the chief's; other workers write nothing)."""

    def __init__(self, tf, run_dir, chief):
        from tensorflow.core.framework import summary_pb2

        self.tf = tf
        self.writer = (
            tf.summary.create_file_writer(os.path.join(run_dir, "tb"))
            if chief
            else tf.summary.create_noop_writer()
        )
        # tf.summary.scalar lives in the tensorboard package; tf.summary.write with the
        # scalars plugin's metadata writes the same event without that dependency.
        self.meta = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_SCALAR)
        self.meta.plugin_data.plugin_name = "scalars"

    def __call__(self, tag, value, step):
        with self.writer.as_default():
            self.tf.summary.write(
                tag, self.tf.constant(value, self.tf.float32), step=step, metadata=self.meta
            )

    def flush(self):
        self.writer.flush()


def _masked_nll_sum(tf, net, conditioned, inputs, codes, voice_ids, mask, starts, decay_z=None):
    """Sum over the batch of each counted position's negative log-likelihood (nats).

    The network is fed ``inputs[:, :-1]`` (the codes, or the codes with input noise) and predicts the
    clean ``codes[:, 1:]``; `decay_z` is each row's decay feature (a decay-conditioned net).
    """
    logits = net(inputs[:, :-1], voice_ids if conditioned else None, starts, decay_z)
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=codes[:, 1:], logits=logits)
    return tf.reduce_sum(nll * mask)


def mean_lf_share(tf, logits, codes, mask, levels, width):
    """The share of the energy of the error of the predicted mean that a moving average over `width`
    steps keeps (below about sample_rate / width Hz): ``mean(box(err)**2) / mean(err**2)``, the
    denominator held constant for the gradient; for white error, 1 / width.

    ``err[b, t]`` is the mean of ``softmax(logits[b, t])`` over the decoded `levels` (Q,) less
    ``levels[codes[b, t + 1]]``, at the counted positions (``mask > 0``; 0 elsewhere); the moving
    average counts the windows of `width` counted positions only. 0 when there are none.
    """
    levels = tf.cast(levels, logits.dtype)
    mean = tf.tensordot(tf.nn.softmax(logits), levels, axes=[[2], [0]])
    m = tf.cast(mask > 0, logits.dtype)
    err = (mean - tf.gather(levels, codes[:, 1:])) * m

    def sums(x):  # moving sums over `width` steps: (B, T - 1 - width + 1)
        c = tf.cumsum(tf.pad(x, [[0, 0], [1, 0]]), axis=1)
        return c[:, width:] - c[:, :-width]

    full = tf.cast(sums(m) > width - 0.5, logits.dtype)
    low = tf.reduce_sum((sums(err) / width) ** 2 * full) / tf.maximum(tf.reduce_sum(full), 1.0)
    total = tf.reduce_sum(err**2) / tf.maximum(tf.reduce_sum(m), 1.0)
    return low / (tf.stop_gradient(total) + 1e-12)


def _mean_lf(args, cfg):
    """``(weight, width, levels)`` of --mean-lf-weight for :func:`_make_steps`, or None when off.

    Raises ConfigError when a training window holds no `width` counted steps."""
    if not args.mean_lf_weight:
        return None
    width = max(1, int(round(args.sample_rate / args.mean_lf_hz)))
    counted = (args.crop or int(round(args.clip_duration * args.sample_rate))) - cfg.receptive_field
    if width > counted:
        raise ConfigError(
            f"--mean-lf-hz {args.mean_lf_hz:g}: its moving average ({width} samples) is longer "
            f"than the {counted} steps a window counts: raise --mean-lf-hz or --crop"
        )
    q = cfg["quantization_channels"]
    return float(args.mean_lf_weight), width, mu_law_decode(np.arange(q), q).astype(np.float32)


def _make_steps(tf, net, optimizer, strategy, *, conditioned, xla, clipnorm, mean_lf=None):
    """``(train_step(batch, stop) -> (loss, stop_any), val_step(batch) -> loss)`` for `strategy` (None: none).

    Without a strategy one XLA-compiled function computes and applies the gradient. Under one, XLA
    compiles each replica's gradient; the sum across replicas and the update run outside it, and
    validation (the whole validation batch, on every worker alike) runs without XLA. `mean_lf`,
    ``(weight, width, levels)``, adds ``weight`` times :func:`mean_lf_share` to the training loss
    (each replica its share of it).
    """
    variables = net.trainable_variables
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1

    def gradients(inputs, codes, voice_ids, mask, starts, decay_z, norm):
        with tf.GradientTape() as tape:
            logits = net(inputs[:, :-1], voice_ids if conditioned else None, starts, decay_z)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=codes[:, 1:], logits=logits)
            loss = tf.reduce_sum(nll * mask) / norm
            if mean_lf is not None:
                weight, width, levels = mean_lf
                share = mean_lf_share(tf, logits, codes, mask, levels, width)
                loss += (weight / replicas) * share
        grads = tape.gradient(loss, variables)
        # The last layer's residual output feeds nothing: a zero gradient, not None.
        return loss, [
            tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)
        ]

    @tf.function(jit_compile=xla and strategy is None)
    def val_loss(inputs, codes, voice_ids, mask, starts, decay_z):
        nll = _masked_nll_sum(tf, net, conditioned, inputs, codes, voice_ids, mask, starts, decay_z)
        return nll / tf.maximum(tf.reduce_sum(mask), 1.0)

    def tensors(batch):
        return [
            tf.constant(x)
            for x in (
                batch.inputs,
                batch.codes,
                batch.voices,
                batch.mask,
                batch.starts,
                batch.decay_z,
            )
        ]

    def val_step(batch):
        return float(val_loss(*tensors(batch)))

    if strategy is None:

        @tf.function(jit_compile=xla, reduce_retracing=True)
        def step(inputs, codes, voice_ids, mask, starts, decay_z):
            loss, grads = gradients(
                inputs,
                codes,
                voice_ids,
                mask,
                starts,
                decay_z,
                tf.maximum(tf.reduce_sum(mask), 1.0),
            )
            optimizer.apply_gradients(zip(grads, variables))
            return loss

        def train_step(batch, stop):
            return float(step(*tensors(batch))), stop

        return train_step, val_step
    return _make_replica_step(
        tf, strategy, optimizer, variables, tf.function(gradients, jit_compile=xla), clipnorm
    ), val_step


def _make_replica_step(tf, strategy, optimizer, variables, gradients, clipnorm):
    """The distributed ``train_step``: each replica's gradient, summed over replicas, clipped, applied."""
    SUM = tf.distribute.ReduceOp.SUM

    def replica_step(inputs, codes, voice_ids, mask, starts, decay_z, norm, stop):
        loss, grads = gradients(inputs, codes, voice_ids, mask, starts, decay_z, norm)
        ctx = tf.distribute.get_replica_context()
        # Keras clips each replica's gradient before it sums them; the global norm is the norm of the
        # sum. So sum here, clip, and hand the optimizer 1/N of it: its own sum makes it whole again.
        # The voice embedding's gradient comes as IndexedSlices (rows of the batch's voices): dense
        # (a V x E table) so that it sums, clips and divides like the rest.
        grads = ctx.all_reduce(SUM, [tf.convert_to_tensor(g) for g in grads])
        if clipnorm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clipnorm)
        optimizer.apply_gradients(zip([g / ctx.num_replicas_in_sync for g in grads], variables))
        return loss, stop

    @tf.function(reduce_retracing=True)
    def step(inputs):
        loss, stop = strategy.run(replica_step, args=inputs)
        return strategy.reduce(SUM, loss, axis=None), strategy.reduce(SUM, stop, axis=None)

    def train_step(batch, stop):
        loss, stop_any = step(distribute.distribute_batch(strategy, batch, stop))
        return float(loss), float(stop_any) > 0

    return train_step


@contextlib.contextmanager
def _sigterm_requests():
    """A list that SIGTERM appends to while the block runs (in the main thread): a graceful stop."""
    requests = []
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return
    old = signal.signal(signal.SIGTERM, lambda signum, frame: requests.append(signum))
    try:
        yield requests
    finally:
        signal.signal(signal.SIGTERM, old)


class _Progress:
    """Training losses since the last progress line, and the rate in steps/s."""

    def __init__(self, args, start_step):
        self.args, self.recent, self.last_mean, self.rate = args, [], float("nan"), float("nan")
        self.t_start = self.t_log = time.perf_counter()
        self.s_log, self.first = start_step, True

    def add(self, s, loss):
        self.recent.append(loss)
        if self.first:
            self.first, now = False, time.perf_counter()
            _log(
                f"first step (step {s}) done (tracing and XLA compilation {now - self.t_start:.1f} s)"
            )
            self.t_log, self.s_log = now, s

    def line(self, s, state):
        """Close the interval ending at step `s`: its mean loss, logged with the validation figures."""
        now = time.perf_counter()
        if s > self.s_log:
            self.rate = (s - self.s_log) / (now - self.t_log)
        mean = self.last_mean = float(np.mean(self.recent))
        rate, steps = self.rate, self.args.steps
        left = (steps - s) / rate if rate > 0 else float("nan")
        _log(
            f"step {s}/{steps} loss {mean:.4f} val {float(state.last_val):.4f} "
            f"(best {float(state.best_val):.4f} @ {int(state.best_step)}) {rate:.2f} steps/s "
            f"{1000 / rate / 60 if rate > 0 else float('nan'):.1f} min/1000 steps, "
            f"left {_fmt_time(left) if math.isfinite(left) else '?'}"
        )
        self.t_log, self.s_log, self.recent = now, s, []
        return mean

    def final_loss(self):
        return float(np.mean(self.recent)) if self.recent else self.last_mean


class _Trainer:
    """One run's TensorFlow side: net, optimizer, counters, checkpoints, and the loop that trains them."""

    def __init__(self, args, cfg, trainset, voices, *, strategy, run_dir, chief):
        import keras
        import tensorflow as tf

        from .network import WaveNet

        self.args, self.tf, self.trainset, self.voices, self.run_dir = (
            args,
            tf,
            trainset,
            voices,
            run_dir,
        )
        self.strategy, self.chief = strategy, chief
        distributed = args.strategy != "default"
        keras.utils.set_random_seed(args.seed)
        with strategy.scope():
            self.net = WaveNet(
                cfg,
                n_voices=len(voices),
                embedding_size=args.embedding_size,
                time_tau=_time_tau(args),
                time_block=args.time_block or DEFAULT_TIME_BLOCK,
                decay_conditioning=args.decay_conditioning,
                prediction_input=args.predictor_loop,
            )
            if args.train_only:  # every other layer frozen: the optimizer sees its variables alone
                for layer in self.net.layers:
                    layer.trainable = layer is getattr(self.net, args.train_only)
            # Under a strategy the step clips the replicas' summed gradient itself (_make_replica_step).
            clip = (
                {"global_clipnorm": args.clipnorm} if args.clipnorm > 0 and not distributed else {}
            )
            self.optimizer = keras.optimizers.Adam(args.learning_rate, **clip)
            self.optimizer.build(self.net.trainable_variables)
        self.variables = self.net.trainable_variables
        self.state = _State(tf, self.variables)
        self.checkpoints = distribute.CheckpointWriter(
            self.state.checkpoint(tf, self.net, self.optimizer),
            os.path.join(run_dir, "ckpt"),
            chief=chief,
        )
        self.train_step, self.val_step = _make_steps(
            tf,
            self.net,
            self.optimizer,
            strategy if distributed else None,
            conditioned=bool(voices),
            xla=args.xla,
            clipnorm=args.clipnorm,
            mean_lf=_mean_lf(args, cfg),
        )
        self.scalar = _Scalars(tf, run_dir, chief)
        self.val = trainset.validation()

    def restore(self):
        """Continue from the run's last checkpoint under --resume (under any strategy)."""
        if not self.args.resume:
            return
        latest = self.checkpoints.restore()
        if latest:
            _log(f"resumed from checkpoint {latest} at step {int(self.state.step)}")
        else:
            _log(
                f"--resume: no checkpoint in {self.checkpoints.ckpt_dir!r} yet, starting at step 0"
            )

    def evaluate(self):
        """Validation loss of the current weights; keep them if they are the best so far."""
        st = self.state
        v = self.val_step(self.val)
        st.last_val.assign(v)
        if v < float(st.best_val):
            st.best_val.assign(v)
            st.best_step.assign(int(st.step))
            st.bad_evals.assign(0)
            for bw, w in zip(st.best_weights, self.variables):
                bw.assign(w)
        else:
            st.bad_evals.assign_add(1)
        self.scalar("val_loss", v, int(st.step))
        return v

    def _patience_spent(self):
        a, st = self.args, self.state
        if a.patience and self.val is not None and int(st.bad_evals) >= a.patience:
            return (
                f"early stopping: no validation improvement in {a.patience} evaluations "
                f"(best {float(st.best_val):.4f} at step {int(st.best_step)})"
            )
        return None

    def _after_step(self, s, progress):
        """Validation, progress line, checkpoint and snapshot due at step `s`; a stop reason or None."""
        a, reason = self.args, None
        if s % a.eval_every == 0 and self.val is not None:
            self.evaluate()
        if s % a.log_every == 0 or s == a.steps:
            mean = progress.line(s, self.state)
            self.scalar("loss", mean, s)
            self.scalar("learning_rate", learning_rate_at(s - 1, a), s)
            if math.isfinite(progress.rate):
                self.scalar("steps_per_sec", progress.rate, s)
            if a.loss_threshold > 0 and mean < a.loss_threshold:
                reason = f"training loss {mean:.4f} < threshold {a.loss_threshold}"
        if s % a.checkpoint_every == 0:
            self.checkpoints.save(s)
        if self.chief and a.snapshot_every and s % a.snapshot_every == 0:
            _snapshot(self.net, os.path.join(self.run_dir, "snapshots", f"step-{s:06d}.npz"))
        return reason

    def loop(self, progress):
        """Train to the step budget, early stopping, the loss threshold or SIGTERM; the stop reason."""
        a, st = self.args, self.state
        elapsed0, t0 = float(st.elapsed.numpy()), time.perf_counter()
        with _sigterm_requests() as sigterm:
            while int(st.step) < a.steps:
                reason = self._patience_spent()
                if reason:
                    return reason
                s = int(st.step)
                rng = np.random.default_rng(
                    [a.seed, s]
                )  # a function of (seed, step): resumes repeat exactly
                batch = self.trainset.batch(
                    rng,
                    a.batch_size,
                    gain_db=a.gain_db,
                    input_noise=a.input_noise,
                    voice_dropout=a.voice_dropout,
                    input_drift=a.input_drift,
                    input_drift_hz=a.input_drift_hz,
                    input_drift_share=a.input_drift_share,
                )
                if a.lr_decay is not None:
                    self.optimizer.learning_rate = learning_rate_at(s, a)
                loss, stop = self.train_step(batch, bool(sigterm))
                if not math.isfinite(loss):
                    raise DivergedError(f"training loss became {loss} at step {s + 1}")
                st.step.assign_add(1)
                progress.add(s + 1, loss)
                st.elapsed.assign(elapsed0 + time.perf_counter() - t0)
                reason = self._after_step(s + 1, progress)
                if stop:  # any worker's SIGTERM: every worker stops after this same step
                    return f"stopped by SIGTERM at step {s + 1}"
                if reason:
                    return reason
        return "step budget"

    def finish(self):
        """Validate the last weights if not yet done; checkpoint (unless exporting a snapshot)."""
        st = self.state
        if self.val is not None and (
            int(st.step) % self.args.eval_every or not math.isfinite(float(st.last_val))
        ):
            self.evaluate()
        if not self.args.from_snapshot:  # an export of a snapshot leaves the run as it is
            self.checkpoints.save(int(st.step))
        self.scalar.flush()

    def exported_weights(self, stop_reason):
        """Load the weights to export into the net: a snapshot's, the best validation's, or the last."""
        a, st = self.args, self.state
        if a.from_snapshot:
            snap = os.path.join(self.run_dir, "snapshots", f"step-{a.from_snapshot:06d}.npz")
            if not os.path.isfile(snap):
                raise ResumeError(
                    f"no snapshot {snap!r} (--snapshot-every writes them while a run trains)"
                )
            self.net.set_weights_from(read_snapshot(snap))
            return a.from_snapshot, f"exported from snapshot of step {a.from_snapshot}"
        if self.val is not None and int(st.best_step) > 0:
            for w, bw in zip(self.variables, st.best_weights):
                w.assign(bw)
            return int(st.best_step), stop_reason
        return int(st.step), stop_reason


def _log_data(args, cfg, dataset, trainset, voices):
    _log(
        f"data: {len(dataset.train)} training and {len(dataset.val)} validation clips of "
        f"{args.instrument or ','.join(voices)!r} (per voice {dict(zip(voices or [args.instrument], trainset.n_clips))}) "
        f"from {len(dataset.manifest['kits'])} kit(s), {len(args.sf2)} SF2 file(s) and {len(args.data)} folder(s); "
        f"held out kits {dataset.manifest['holdout_kits']}; {trainset.n_shift} pitch version(s); "
        f"window {trainset.crop} samples, receptive field {cfg.receptive_field}"
    )
    skipped = dataset.manifest.get("skipped") or ()
    if skipped:
        _log(
            f"left out {len(skipped)} file(s): "
            + "; ".join(
                s["reason"]
                if s["file"] in s.get("reason", "")
                else f"{s['file']} ({s.get('reason')})"
                for s in skipped
            )
        )
    if trainset.envelope is not None:
        env = trainset.envelope
        shares = {
            v: f"{100 * x:.3g}%"
            for v, x in zip(voices or [args.instrument], trainset.envelope_clipped)
        }
        _log(
            f"envelope: clips divided by 1 for {env['hold']:g} s, then 20 dB down per decay time, "
            f"floored at {env['floor_db']:g} dB; samples clipped to [-1, 1] per voice {shares}; "
            "the losses are those of the normalised clips"
        )
    if trainset.ends is not None:
        shares = {
            v: f"{100 * (1 - e.sum() / (e.size * n)):.3g}%"
            for v, e, n in zip(voices or [args.instrument], trainset.ends, trainset.lengths)
        }
        _log(
            "end mask: no loss past a clip's end; share of each voice's samples (clips padded to "
            f"the window) past it {shares}"
        )
    if trainset.voice_p is not None:
        shares = {v: f"{100 * p:.3g}%" for v, p in zip(voices, trainset.voice_p)}
        _log(f"voices: each row's voice drawn with the shares {shares} (--voice-weights)")
    if trainset.attack is not None:
        k, w = trainset.attack
        _log(
            f"attack: in windows that start at the onset, the first {k} targets "
            f"({1000 * k / args.sample_rate:g} ms) weigh {w:g} in the training loss (not in the "
            "validation loss)"
        )


def _check_replicas(args, strategy):
    n = distribute.replicas(strategy)
    if args.batch_size % n:
        raise ConfigError(
            f"--batch-size {args.batch_size} must be a multiple of the {n} replicas of "
            f"--strategy {args.strategy} (each replica takes an equal share of the batch)"
        )
    _log(
        f"strategy {args.strategy}: {n} replica(s) of {args.batch_size // n} clip(s) each"
        + ("" if distribute.is_chief(strategy) else " (not the chief: the run dir is the chief's)")
    )


def train(args):
    """Train and export as `args` (the parsed command line) says; returns a :class:`TrainResult`.

    Under a strategy whose process is not the chief, nothing is exported (``path`` is None).
    """
    _check_args(args)
    dilations = parse_dilations(args.dilations)
    strategy = distribute.make_strategy(args.strategy, args.cpu_devices)  # before any other TF op
    _check_replicas(args, strategy)
    from .network import WaveNetConfig

    cfg = WaveNetConfig(
        quantization_channels=args.quantization_channels,
        residual_channels=args.residual_channels,
        dilation_channels=args.dilation_channels,
        skip_channels=args.skip_channels,
        dilations=dilations,
    )
    dataset, trainset, voices = _prepare_data(args, cfg)
    if args.voice_dropout:  # the index one past the data's voices (TrainingSet.batch)
        voices = voices + [ANY_VOICE]
    config = {k: v for k, v in sorted(vars(args).items())}
    config["dilations"] = dilations
    # Off is None whether absent or 0, as in the configs of runs made before the option existed.
    config["input_noise"] = args.input_noise or None
    config["input_drift"] = args.input_drift or None
    config["input_drift_hz"] = args.input_drift_hz if args.input_drift else None
    # 1 (every window) is recorded as None, as in the configs of drift runs made before the option.
    share = args.input_drift_share
    config["input_drift_share"] = share if args.input_drift and share < 1 else None
    # As the drift: off is None, as in the configs of runs made before the option.
    config["mean_lf_weight"] = args.mean_lf_weight or None
    config["mean_lf_hz"] = args.mean_lf_hz if args.mean_lf_weight else None
    config["decay_conditioning"] = args.decay_conditioning or None
    # As the decay conditioning: off is None, as in the configs of runs made before the option.
    envelope = _envelope(args)
    config["envelope"] = args.envelope or None
    config["envelope_hold"] = None if envelope is None else envelope["hold"]
    config["envelope_floor_db"] = None if envelope is None else envelope["floor_db"]
    config["end_mask"] = args.end_mask or None
    config["voice_dropout"] = args.voice_dropout or None
    attack = trainset.attack  # (samples, weight) of --attack-weight, or None
    config["attack_weight"] = None if attack is None else attack[1]
    config["attack_ms"] = None if attack is None else 1000.0 * attack[0] / args.sample_rate
    chief = distribute.is_chief(strategy)
    run_dir = _open_run_dir(args, config, dataset.manifest, write=chief)
    _log_data(args, cfg, dataset, trainset, voices)
    trainer = _Trainer(args, cfg, trainset, voices, strategy=strategy, run_dir=run_dir, chief=chief)
    if args.init_from:  # before restore(): a resumed run's checkpoint wins
        trainer.net.set_weights_from(_initial_weights(args, voices))
    with trainer.checkpoints:
        trainer.restore()
        progress = _Progress(args, int(trainer.state.step))
        stop_reason = "step budget" if args.from_snapshot else trainer.loop(progress)
        trainer.finish()
    steps_done = int(trainer.state.step)
    _log(f"stopped at step {steps_done}: {stop_reason}")
    exported_step, stop_reason = trainer.exported_weights(stop_reason)
    return _export(
        args,
        config,
        cfg,
        dataset,
        voices,
        trainer,
        progress,
        steps_done=steps_done,
        exported_step=exported_step,
        stop_reason=stop_reason,
    )


def _initial_weights(args, voices):
    """The arrays of ``--init-from``'s model for a net of `voices` (its voices, and with
    --voice-dropout :data:`ANY_VOICE` after them, whose embedding is then the mean of the others').

    Raises ConfigError naming what does not fit: the file, its voices, sample rate or pre-emphasis
    (the network's shapes are checked as the weights are set).
    """
    import fastdrum

    where = f"--init-from {args.init_from!r}"
    try:
        model = fastdrum.load_model(args.init_from)
    except (OSError, FastDrumError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    theirs = list(model.voices)
    if theirs not in (voices, [v for v in voices if v != ANY_VOICE]):
        raise ConfigError(f"{where}: its voices {theirs} are not the run's {voices}")
    n = max(len(theirs), 1)  # each voice's coefficient, one for all broadcast to them

    def same(file_values, run_values):
        if isinstance(run_values, list):
            run_values = run_values[:n]  # not 'any', which the file does not have yet
        return np.array_equal(  # the file keeps them in float32
            np.broadcast_to(np.float32(file_values), (n,)),
            np.broadcast_to(np.float32(run_values), (n,)),
        )

    ours = _preemphasis(args, voices), _integration(args, voices), *_shelf(args, voices)
    filed = model.preemphasis, model.integration, model.shelf_zero, model.shelf_pole
    if model.sample_rate != args.sample_rate or not all(map(same, filed, ours)):
        raise ConfigError(
            f"{where}: {model.sample_rate} Hz, pre-emphasis {filed[0]}, integration "
            f"{filed[1]}, low shelf {filed[2]}, {filed[3]}; the run's are "
            f"{args.sample_rate} Hz, {', '.join(map(str, ours))}"
        )
    arrays = dict(model.weights)
    if voices and theirs != voices:
        emb = arrays["voice_emb"]
        arrays["voice_emb"] = np.concatenate([emb, emb.mean(axis=0, keepdims=True)])
    _log(f"initial weights from {args.init_from} ({len(theirs)} voices)")
    return arrays


def _export(
    args, config, cfg, dataset, voices, trainer, progress, *, steps_done, exported_step, stop_reason
):
    """The model of the net's weights (format 1, or 2 with voices or pre-emphasis), written by the chief."""
    import keras
    import tensorflow as tf

    from .network import export_model, to_fastdrum_model

    st = trainer.state
    primers, primer_voices = trainer.trainset.primers(args.primers)
    meta = _meta(
        args,
        config,
        cfg,
        dataset,
        voices,
        trainer.trainset,
        exported_step=exported_step,
        steps_done=steps_done,
        stop_reason=stop_reason,
        train_loss=progress.final_loss(),
        val_best=float(st.best_val),
        val_last=float(st.last_val),
        seconds=float(st.elapsed.numpy()),
        trainer=dict(
            fastdrum=fastdrum_version,
            tensorflow=tf.__version__,
            keras=keras.__version__,
            strategy=args.strategy,
            replicas=distribute.replicas(trainer.strategy),
        ),
    )
    model = to_fastdrum_model(
        trainer.net,
        sample_rate=args.sample_rate,
        primers=primers,
        meta=meta,
        preemphasis=_preemphasis(args, voices),
        integration=_integration(args, voices),
        shelf=_shelf(args, voices),
        voices=voices,
        primer_voices=primer_voices,
    )
    path = export_model(model, args.out) if trainer.chief else None
    if path:
        _log(
            f"exported {path} (weights of step {exported_step}; train loss {meta['losses']['train']}, "
            f"best val loss {meta['losses']['val_best']})"
        )
    return TrainResult(
        model=model,
        net=trainer.net,
        path=path,
        steps=steps_done,
        exported_step=exported_step,
        steps_per_sec=progress.rate,
        stop_reason=stop_reason,
        meta=meta,
        run_dir=trainer.run_dir,
    )


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
