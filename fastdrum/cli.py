"""The ``fastdrum`` command: generate clips, export kits, render beats, describe and plot models, make libraries.

Run ``fastdrum --help`` or ``fastdrum SUBCOMMAND --help``; ``python -m fastdrum``
is the same command. :func:`main` is the entry point and never raises on bad
input: it prints one line on stderr and returns 2.

Examples
--------
>>> main(["beat", "-o", "beat.wav", "--pattern", "salsa"])   # no such preset: one line on stderr
2
"""

import argparse
import collections
import json
import os
import secrets
import sys

from . import _checks, _io
from ._version import __version__
from .errors import CLIError, FastDrumError, MidiError

__all__ = ["main"]

PROG = "fastdrum"

#: Bound on a pattern file's size (a bar of MAX_STEPS steps on every instrument is about 700 KB).
MAX_PATTERN_BYTES = 2**20


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- argument types ---------------------------------------------------------------------
_positive_int = _checks.integer_arg(1, what="a positive integer")
_nonneg_int = _checks.integer_arg(0, what="a non-negative integer")


def _sample_rate(text):
    value = _positive_int(text)
    if value > _checks.MAX_SAMPLE_RATE:
        raise argparse.ArgumentTypeError(
            f"expected a sample rate in [1, {_checks.MAX_SAMPLE_RATE}] Hz, got {text!r}"
        )
    return value


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _voice(text):
    """``snare`` -> "snare"; ``tom_low=0.5,kick=0.5`` -> {"tom_low": 0.5, "kick": 0.5}."""
    if "=" not in text:
        return text
    blend = {}
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        if not sep or not name.strip() or name.strip() in blend:
            raise argparse.ArgumentTypeError(f"expected VOICE or VOICE=WEIGHT,..., got {text!r}")
        blend[name.strip()] = _number(weight)
    return blend


# -- shared options ---------------------------------------------------------------------
def _common(parser, *, models=True, generation=True, guidance=True):
    if models:
        parser.add_argument(
            "--model",
            action="append",
            default=[],
            metavar="[INSTRUMENT=]NAME_OR_PATH",
            help="use this model (a shipped model's name or a .npz file) for INSTRUMENT; "
            "repeatable, e.g. --model kick=my_kick.npz",
        )
    if generation:
        _backend_option(parser)
        parser.add_argument(
            "--threads",
            type=_positive_int,
            default=1,
            metavar="N",
            help="threads for generation (default 1)",
        )
        parser.add_argument(
            "--seed",
            type=_nonneg_int,
            default=None,
            metavar="N",
            help="random seed: the same seed gives the same output (default: random, printed)",
        )
        _duration_option(parser)
        _temperature_option(parser)
        parser.add_argument(
            "--epsilon",
            type=_number,
            default=None,
            metavar="P",
            help="never draw a code less probable than P (epsilon sampling; 0: none) "
            "(default: each model's recommended value, else 0)",
        )
        if guidance:
            parser.add_argument(
                "--guidance",
                type=_number,
                default=None,
                metavar="W",
                help="weight of negative-voice guidance for the voices that recommend a negative "
                "voice (e.g. open hats away from closed hats), 0 for none; other voices are not "
                "guided (default: each voice's recommended weight)",
            )
        parser.add_argument(
            "--primer-noise",
            type=_number,
            default=None,
            metavar="STD",
            help="noise added to the training primers that start each clip (default: each model's recommended value, else 0)",
        )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")


def _backend_option(parser):
    """--backend: the generation backend."""
    parser.add_argument(
        "--backend",
        choices=["auto", "c", "numpy"],
        default="auto",
        help="generation backend (default: auto, the compiled kernel)",
    )


def _duration_option(parser):
    """--duration: seconds per clip."""
    parser.add_argument(
        "--duration",
        type=_number,
        default=None,
        metavar="SECONDS",
        help="clip length in seconds (default: each model's own)",
    )


def _temperature_option(parser):
    """--temperature: the sampling temperature."""
    parser.add_argument(
        "--temperature",
        type=_number,
        default=None,
        metavar="T",
        help="sampling temperature; 0 is deterministic argmax "
        "(default: each model's recommended value, else 1)",
    )


def _output(parser, *, what, audio=True):
    parser.add_argument(
        "-o", "--output", required=True, metavar="PATH", help=f"where to write the {what}"
    )
    parser.add_argument("--force", action="store_true", help="replace the output if it exists")
    if audio:
        parser.add_argument(
            "--format",
            choices=sorted(_io.AUDIO_FORMATS),
            default=None,
            help="audio file format (default: from the file name, else wav)",
        )
        parser.add_argument(
            "--sample-rate",
            type=_sample_rate,
            default=None,
            metavar="HZ",
            help="resample the audio to this rate (default: the models')",
        )
        parser.add_argument(
            "--no-post",
            dest="post",
            action="store_false",
            help="no post-processing (EQ, compression, gate, normalisation)",
        )


def build_parser():
    """The argparse parser of the ``fastdrum`` command.

    Examples
    --------
    >>> build_parser().parse_args(["beat", "-o", "b.wav", "--bpm", "90"]).bpm
    90.0
    """
    parser = _Parser(
        prog=PROG,
        description="New drum sounds from small WaveNets, and a drum machine to play them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subs.required = True

    _add_generate(subs)
    _add_kit(subs)
    _add_beat(subs)
    _add_info(subs)
    _add_plot(subs)
    _add_library(subs)

    from .serve.command import add_parser as add_serve_parser  # the drum machine in the browser

    add_serve_parser(subs)
    return parser


def _add_generate(subs):
    """The ``fastdrum generate`` subcommand."""
    p = subs.add_parser(
        "generate",
        help="generate one-shots of an instrument into a folder",
        description="Generate N one-shots of one instrument as audio files in a new folder "
        "(INSTRUMENT_000.wav, ...).",
    )
    p.add_argument(
        "instrument",
        metavar="INSTRUMENT",
        help="a shipped model's name (e.g. kick) or a model file",
    )
    p.add_argument(
        "-n", type=_positive_int, default=16, metavar="N", help="number of clips (default 16)"
    )
    p.add_argument(
        "--voice",
        type=_voice,
        default=None,
        metavar="VOICE|VOICE=W,...",
        help="for a model conditioned on voices: a voice (e.g. snare), or a blend of voices "
        "with weights, e.g. tom_low=0.5,kick=0.5 (default: the voice INSTRUMENT names)",
    )
    p.add_argument(
        "--negative-voice",
        type=_voice,
        default=None,
        metavar="VOICE|VOICE=W,...",
        help="for a model conditioned on voices: a voice (or blend) to steer away from, e.g. "
        "hihat for open hats (negative-voice guidance; about twice the arithmetic) "
        "(default: the voice's recommended one, if any)",
    )
    p.add_argument(
        "--guidance",
        type=_number,
        default=None,
        metavar="W",
        help="weight of --negative-voice, 0 for none (default: the voice's recommended weight, "
        "else 1 with --negative-voice)",
    )
    p.add_argument(
        "--decay",
        type=_number,
        default=None,
        metavar="SECONDS",
        help="for a model conditioned on the decay time: seconds for each clip to fall 20 dB "
        "below its loudest 10 ms (default: each clip draws one of its voice's training clips')",
    )
    _output(p, what="folder of clips")
    _common(p, guidance=False)  # its own --guidance, with --negative-voice
    p.set_defaults(func=_cmd_generate)


def _add_kit(subs):
    """The ``fastdrum kit`` subcommand."""
    p = subs.add_parser(
        "kit",
        help="generate a drum kit folder (clips, SFZ, Hydrogen drumkit.xml)",
        description="Generate N variations of each instrument and write them as a kit folder: "
        "audio files, an SFZ instrument (GM notes, round robin) and a Hydrogen "
        "drumkit.xml.",
    )
    p.add_argument(
        "-n",
        type=_positive_int,
        default=8,
        metavar="N",
        help="variations per instrument (default 8)",
    )
    p.add_argument(
        "--instruments",
        default=None,
        metavar="LIST",
        help="comma-separated instruments (default: every instrument of the shipped models, "
        "or only the --model ones)",
    )
    p.add_argument("--author", default="fastdrum", help="author written into drumkit.xml")
    p.add_argument("--license", default="CC0", help="licence written into drumkit.xml")
    _output(p, what="kit folder")
    _common(p)
    p.set_defaults(func=_cmd_kit)


def _add_beat(subs):
    """The ``fastdrum beat`` subcommand."""
    from .presets import PRESETS

    p = subs.add_parser(
        "beat",
        help="render a drum beat to audio (and/or MIDI)",
        description="Render a beat from a pattern (a preset or a grid) or a MIDI file, with "
        "freshly generated clips or a kit folder. Writes audio, or a General MIDI "
        "file if the output ends in .mid.",
        epilog="Grid syntax: instrument=steps, separated by commas, e.g. "
        "'kick=x...x...x...x...,snare=....x.......x...,hihat=..x...x...x...x.'. "
        "Steps: X accent, x hit, o ghost, 1-9 velocity, . rest; | and spaces are "
        "ignored. 16 steps are sixteenth notes. Presets: " + ", ".join(sorted(PRESETS)),
    )
    _add_beat_timing(p)
    _add_beat_sources(p)
    _add_beat_mix(p)
    _output(p, what="beat (.wav, .flac or .mid)")
    _common(p)
    p.set_defaults(func=_cmd_beat)


def _add_beat_timing(p):
    """``fastdrum beat``: what is played when (pattern, tempo, bars, swing, humanisation)."""
    p.add_argument(
        "--pattern",
        default=None,
        metavar="PRESET_OR_GRID",
        help="a preset name, a grid, or a file holding a grid (default: house)",
    )
    p.add_argument(
        "--bpm", type=_number, default=None, help="tempo (default: the preset's, else 120)"
    )
    p.add_argument("--bars", type=_positive_int, default=4, help="number of bars (default 4)")
    p.add_argument(
        "--swing",
        type=_number,
        default=None,
        help="delay of the off-beat steps as a fraction of a step, in [0, 1) (default: the preset's, else 0)",
    )
    p.add_argument(
        "--steps-per-beat",
        type=_number,
        default=None,
        metavar="N",
        help="steps in a beat (default: steps in the bar / 4)",
    )
    p.add_argument(
        "--humanize-time",
        type=_number,
        default=0.0,
        metavar="MS",
        help="random timing offsets, standard deviation in milliseconds (default 0)",
    )
    p.add_argument(
        "--humanize-velocity",
        type=_number,
        default=0.0,
        metavar="V",
        help="random velocity changes, standard deviation in [0, 1] (default 0)",
    )


def _add_beat_sources(p):
    """``fastdrum beat``: where the notes and the clips come from (MIDI, kit, variations)."""
    p.add_argument(
        "--midi",
        default=None,
        metavar="FILE",
        help="play this MIDI file's drum notes instead of a pattern",
    )
    p.add_argument(
        "--midi-out",
        default=None,
        metavar="FILE",
        help="also write the pattern as a General MIDI file",
    )
    p.add_argument(
        "--kit",
        default=None,
        metavar="DIR",
        help="use the clips of this kit folder instead of generating",
    )
    p.add_argument(
        "--variations",
        type=_positive_int,
        default=8,
        metavar="N",
        help="clips generated per instrument (default 8; with --no-repeat, at least one per hit)",
    )
    p.add_argument("--no-repeat", action="store_true", help="never play the same clip twice")


def _add_beat_mix(p):
    """``fastdrum beat``: how the hits are mixed (stereo, pan, levels, tail)."""
    p.add_argument("--stereo", action="store_true", help="stereo output, instruments panned")
    p.add_argument(
        "--pan",
        action="append",
        default=[],
        metavar="INSTRUMENT=P",
        help="stereo position of an instrument, -1 (left) to 1 (right); repeatable",
    )
    p.add_argument(
        "--level",
        action="append",
        default=[],
        metavar="INSTRUMENT=DB",
        help="mix level of an instrument in dB (default: kick 0, snare -2, hats -7, ...); repeatable",
    )
    p.add_argument(
        "--no-tail",
        dest="tail",
        action="store_false",
        help="cut the beat at the end of the last bar (for loops)",
    )


def _add_info(subs):
    """The ``fastdrum info`` subcommand."""
    p = subs.add_parser(
        "info",
        help="describe a model",
        description="Describe a model: sizes, receptive field, cost per sample, metadata.",
    )
    p.add_argument("model", metavar="MODEL", help="a shipped model's name or a model file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="accepted for symmetry (info only prints)"
    )
    p.set_defaults(func=_cmd_info)


def _add_plot(subs):
    """The ``fastdrum plot`` subcommand."""
    p = subs.add_parser(
        "plot",
        help="plot generated clips beside training primers (PNG)",
        description="Draw waveforms and spectrograms of generated clips beside the model's "
        "training primers (the first samples of its training clips), per "
        "instrument, into a PNG (needs matplotlib: pip install 'fastdrum[plot]').",
    )
    p.add_argument(
        "instruments",
        nargs="*",
        metavar="INSTRUMENT",
        help="instruments to plot (default: every instrument of the shipped models, "
        "or the --model ones)",
    )
    p.add_argument(
        "-n", type=_positive_int, default=4, metavar="N", help="clips per instrument (default 4)"
    )
    _output(p, what="PNG file", audio=False)
    p.add_argument("--no-post", dest="post", action="store_false", help="plot the raw clips")
    _common(p)
    p.set_defaults(func=_cmd_plot)


# -- helpers ----------------------------------------------------------------------------
def _progress(args):
    return not args.quiet and sys.stderr.isatty()


def _say(args, text):
    if not args.quiet:
        print(text)


def _check_output(path, force, *, folder=False):
    """Fail early (before any work) if `path` cannot be written (or, with --force, replaced)."""
    return _io.check_dest(path, overwrite=force, folder=folder)[0]


def _model_overrides(args):
    """--model options -> {instrument: Model}, loaded now so that a bad one fails before any work."""
    from .instruments import ALIASES, INSTRUMENTS, instrument_name
    from .model import load_model

    out = {}
    for spec in args.model:
        if "=" in spec:
            inst, _, target = (part.strip() for part in spec.partition("="))
            if not inst or not target:
                raise CLIError(f"bad --model {spec!r}: expected INSTRUMENT=NAME_OR_PATH")
            model = load_model(target)
        else:
            model = load_model(spec)
            stem = os.path.splitext(os.path.basename(spec))[0].lower()
            cands = [str(model.instrument or "").lower(), stem]
            inst = next((c for c in cands if c in INSTRUMENTS or c in ALIASES), None)
            if inst is None:
                raise CLIError(
                    f"cannot tell which instrument the model {spec!r} plays "
                    f"(meta instrument {model.instrument!r}); use --model INSTRUMENT={spec}"
                )
        key = instrument_name(inst)
        if key in out:
            raise CLIError(f"--model given twice for {key!r}")
        out[key] = model
    return out


def _seed(args):
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)
    return args.seed


def _gen_kwargs(args):
    return dict(
        duration=args.duration,
        temperature=args.temperature,
        epsilon=args.epsilon,
        primer_noise=args.primer_noise,
        backend=args.backend,
        n_threads=args.threads,
        progress=_progress(args),
    )


def _resolve_instrument_model(inst, overrides):
    """(source instrument, model or shipped name) that plays `inst`, following FALLBACKS; or (None, None)."""
    from .instruments import first_available
    from .model import available_models

    source = first_available(inst, set(overrides) | set(available_models()))
    if source is None:
        return None, None
    return source, overrides.get(source, source)


# -- subcommands ------------------------------------------------------------------------
def _cmd_generate(args):
    """``fastdrum generate``."""
    from ._generate import generate
    from ._resample import resample
    from .instruments import instrument_from_filename, instrument_name
    from .model import load_model

    out = _check_output(args.output, args.force, folder=True)
    overrides = _model_overrides(args)
    target = args.instrument
    # A voice (of a blend, the heaviest) names the clips and chooses their post-processing.
    voice = args.voice if not isinstance(args.voice, dict) else max(args.voice, key=args.voice.get)
    if os.path.isfile(target) or target.endswith(".npz"):
        model = load_model(target)
        inst = instrument_name(
            instrument_from_filename(voice or str(model.instrument or ""))
            or instrument_from_filename(os.path.splitext(os.path.basename(target))[0])
            or "clip"
        )
    else:
        inst = instrument_name(voice or target)
        model = overrides[inst] if inst in overrides else load_model(target)
    fmt = args.format or "wav"
    seed = _seed(args)
    y = generate(
        model,
        args.n,
        seed=seed,
        voice=args.voice,
        negative_voice=args.negative_voice,
        guidance=args.guidance,
        decay=args.decay,
        **_gen_kwargs(args),
    )
    sr = model.sample_rate
    if args.post:
        from . import post

        y = post.process(y, sr, instrument=inst)
    if args.sample_rate:
        y = resample(y, sr, args.sample_rate)
        sr = args.sample_rate
    with _io.atomic_dir(out, overwrite=args.force) as tmp:
        for i, clip in enumerate(y):
            _io.write_audio_data(os.path.join(tmp, f"{inst}_{i:03d}.{fmt}"), clip, sr, fmt)
    _say(
        args,
        f"wrote {args.n} {inst} clips ({y.shape[1] / sr:.3f} s, {sr} Hz) to {out} (seed {seed})",
    )
    return 0


def _instrument_list(args, overrides):
    from .instruments import instrument_name
    from .model import _shipped_instruments

    if getattr(args, "instruments", None) is not None and args.instruments != []:
        items = (
            args.instruments if isinstance(args.instruments, list) else args.instruments.split(",")
        )
        names = [instrument_name(s) for s in items if s.strip()]
        if not names:
            raise CLIError(f"no instruments in {args.instruments!r}")
        return list(dict.fromkeys(names))
    if overrides:
        return list(overrides)
    # Not available_models(): a conditioned file's name (drums) plays no instrument, its voices do.
    names = _shipped_instruments()
    if not names:
        raise CLIError("no shipped models are installed; pass --model INSTRUMENT=PATH")
    return names


def _models_for(instruments, overrides):
    from .model import _shipped_files, _shipped_instruments, available_models

    models = {}
    for inst in instruments:
        if inst in overrides:
            models[inst] = overrides[inst]
        elif inst in _shipped_instruments():
            models[inst] = inst
        elif inst in available_models():  # a conditioned file's name: it plays its voices
            voices = next(v for stem, _, v in _shipped_files() if stem == inst)
            raise CLIError(
                f"{inst!r} is a model of {len(voices)} voices, not one instrument: name the "
                f"voices to play, e.g. --instruments {','.join(voices[:2])} (it has {','.join(voices)})"
            )
        else:
            raise CLIError(
                f"no model for instrument {inst!r}: shipped models are {available_models()!r}; "
                f"pass --model {inst}=PATH"
            )
    return models


def _cmd_kit(args):
    """``fastdrum kit``."""
    from .kit import generate_kit

    out = _check_output(args.output, args.force, folder=True)
    overrides = _model_overrides(args)
    instruments = _instrument_list(args, overrides)
    models = _models_for(instruments, overrides)
    seed = _seed(args)
    kit = generate_kit(
        models,
        n=args.n,
        seed=seed,
        post=args.post,
        sr=args.sample_rate,
        guidance=args.guidance,
        **_gen_kwargs(args),
    )
    kit.export(
        out,
        format=args.format or "wav",
        overwrite=args.force,
        author=args.author,
        license=args.license,
    )
    _say(
        args,
        f"wrote kit {out}: {', '.join(f'{k} x{len(v)}' for k, v in kit.items())} at {kit.sr} Hz (seed {seed})",
    )
    return 0


def _read_pattern(args):
    from .sequencer import Pattern

    text = "house" if args.pattern is None else args.pattern
    if "=" not in text and os.path.exists(text):
        _io.check_regular_file(text, "pattern file")
        if os.path.getsize(text) > MAX_PATTERN_BYTES:
            raise CLIError(
                f"pattern file {text!r} is more than the limit of {MAX_PATTERN_BYTES} bytes"
            )
        try:
            with open(text, encoding="utf-8") as f:
                text = f.read(MAX_PATTERN_BYTES)
        except UnicodeDecodeError as exc:
            raise CLIError(
                f"pattern file {args.pattern!r} is not UTF-8 text ({exc.reason})"
            ) from None
    return Pattern.parse(text, steps_per_beat=args.steps_per_beat)


def _instrument_values(specs, option, *, lo, hi):
    """["hihat=0.5", ...] -> {"hihat": 0.5}, checked."""
    from .instruments import canonical_instrument

    out = {}
    for spec in specs:
        inst, sep, value = spec.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or number is None or not lo <= number <= hi:
            raise CLIError(
                f"bad {option} {spec!r}: expected INSTRUMENT=NUMBER with the number in [{lo:g}, {hi:g}]"
            )
        out[canonical_instrument(inst)] = number
    return out


def _beat_kit(args, hits, seed):
    """Generate the clips the hits need: per instrument (or its fallback) with a model."""
    from .instruments import canonical_instrument, fallback_chain
    from .kit import Kit, generate_kit
    from .model import available_models

    overrides = _model_overrides(args)
    models, counts = {}, {}
    for h in hits:
        inst = canonical_instrument(h.instrument)
        source, model = _resolve_instrument_model(inst, overrides)
        if source is None:
            chain = fallback_chain(inst)[1:]
            also = f" (nor for {', '.join(map(repr, chain))}, which it can borrow)" if chain else ""
            raise CLIError(
                f"no model for instrument {inst!r}{also}: shipped models are {available_models()!r}; "
                f"pass --model {inst}=PATH"
            )
        models[source] = model
        counts[source] = counts.get(source, 0) + 1
    kits = []
    for source, model in models.items():
        n = max(args.variations, counts[source]) if args.no_repeat else args.variations
        kits.append(
            generate_kit(
                {source: model},
                n=n,
                seed=seed,
                post=args.post,
                guidance=args.guidance,
                **_gen_kwargs(args),
            )
        )
    rate = max(k.sr for k in kits)
    return Kit({inst: clips for k in kits for inst, clips in k.resample(rate).items()}, rate)


#: What a beat plays: its hits; the pattern and schedule they came from (None for a MIDI file),
#: which --midi-out writes; its length in samples at a rate; and a description.
_Beat = collections.namedtuple("_Beat", "hits pattern schedule length what")


def _pattern_beat(args, seed):
    """The beat of --pattern (a preset, a grid or a file), --bpm, --bars, --swing, humanising."""
    from . import sequencer

    pattern = _read_pattern(args)
    bpm = _checks.pattern_bpm(args.bpm, pattern, error=CLIError)
    schedule = dict(
        bpm=bpm,
        bars=args.bars,
        swing=args.swing,
        seed=seed,
        humanize_time=args.humanize_time / 1000.0,
        humanize_velocity=args.humanize_velocity,
    )
    hits = sequencer.schedule(pattern, **schedule)
    what = (
        f"{args.bars} bar{'s' if args.bars != 1 else ''} of {pattern.name or 'pattern'} "
        f"at {bpm:g} BPM"
    )

    def length(sr):
        return sequencer.beat_length(pattern, bpm=bpm, bars=args.bars, sr=sr)

    return _Beat(hits, pattern, schedule, length, what)


def _midi_beat(args):
    """The beat of --midi: its drum notes, as long as the file."""
    from . import midi

    if args.midi_out:
        raise CLIError("--midi-out writes a pattern; it cannot be combined with --midi")
    if args.pattern is not None:
        raise CLIError("--pattern and --midi cannot be combined: the MIDI file is the pattern")
    if not args.tail:
        raise CLIError("--no-tail applies to patterns, not to --midi")
    hits, seconds = midi.read_midi(args.midi, with_length=True)
    if not hits:
        raise MidiError(f"MIDI file {args.midi!r} has no GM drum notes on channel 10")

    def length(sr):
        return round(seconds * sr)  # as render_midi does, without reading the file again

    return _Beat(hits, None, None, length, os.path.basename(args.midi))


def _beat_outputs(args):
    """--output, and --midi-out if given: checked before any work."""
    out = _check_output(args.output, args.force)
    if args.midi_out:
        _check_output(args.midi_out, args.force)
        if os.path.abspath(args.midi_out) == os.path.abspath(out):
            raise CLIError(f"--midi-out {args.midi_out!r} is the same file as --output")
    return out


def _cmd_beat(args):
    """``fastdrum beat``."""
    from . import midi, sequencer
    from .kit import Kit

    out = _beat_outputs(args)
    pan = _instrument_values(args.pan, "--pan", lo=-1.0, hi=1.0)
    levels = _instrument_values(args.level, "--level", lo=-120.0, hi=24.0)
    gain = {k: 10.0 ** (v / 20.0) for k, v in levels.items()}
    seed = _seed(args)
    kit_seed, sched_seed, mix_seed = _seed_triple(seed)
    if not 0.0 <= args.humanize_time <= 1000.0:  # also refuses nan
        raise CLIError(f"--humanize-time must be in [0, 1000] ms, got {args.humanize_time!r}")
    beat = _pattern_beat(args, sched_seed) if args.midi is None else _midi_beat(args)

    is_midi_out = out.lower().endswith((".mid", ".midi"))
    if not is_midi_out:
        _io.audio_format(
            out, args.format
        )  # before any work: .wav, .flac (or --format, no extension)
    if args.midi_out and not args.midi_out.lower().endswith((".mid", ".midi")):
        raise CLIError(f"--midi-out {args.midi_out!r} must end in .mid or .midi")
    if is_midi_out:
        if beat.pattern is None:
            raise CLIError("a .mid output needs a pattern, not --midi")
        midi.write_midi(out, beat.pattern, overwrite=args.force, **beat.schedule)
        _say(args, f"wrote {out}: {beat.what} (General MIDI, channel 10)")
        return 0

    if args.kit is not None:
        if args.model:
            raise CLIError("--kit and --model cannot be combined")
        kit = Kit.load(args.kit)
    else:
        kit = _beat_kit(args, beat.hits, kit_seed)
    if args.sample_rate:
        kit = kit.resample(args.sample_rate)
    y = sequencer.mix(
        beat.hits,
        kit,
        length=beat.length(kit.sr),
        tail=args.tail,
        seed=mix_seed,
        no_repeat=args.no_repeat,
        stereo=args.stereo,
        post=args.post,
        pan=pan,
        gain=gain,
    )
    if args.midi_out:
        midi.write_midi(args.midi_out, beat.pattern, overwrite=args.force, **beat.schedule)
    _io.write_audio(out, y, kit.sr, format=args.format, overwrite=args.force)
    _say(
        args,
        f"wrote {out}: {beat.what}, {y.shape[-1] / kit.sr:.2f} s, {kit.sr} Hz, "
        f"{'stereo' if args.stereo else 'mono'} (seed {seed})",
    )
    if args.midi_out:
        _say(args, f"wrote {args.midi_out} (General MIDI, channel 10)")
    return 0


def _seed_triple(seed):
    """Three independent seeds drawn from `seed`: the kit's, the schedule's, the mix's."""
    import numpy as np

    return (int(v) for v in np.random.SeedSequence(seed).generate_state(3))


def _describe(model):
    n_params = int(sum(w.size for w in model.weights.values()))
    rf = model.receptive_field
    return {
        "path": model.path,
        "format_version": model.format_version,
        "instrument": model.instrument,
        "voices": list(model.voices),
        "default_voice": model.default_voice,
        "preemphasis": list(a) if isinstance(a := model.preemphasis, tuple) else a,
        "integration": list(b) if isinstance(b := model.integration, tuple) else b,
        "shelf_zero": list(c) if isinstance(c := model.shelf_zero, tuple) else c,
        "shelf_pole": list(p) if isinstance(p := model.shelf_pole, tuple) else p,
        "output_filter_taps": None if (h := model.output_filter) is None else h.shape[-1],
        "output_filter_voices": _filtered_voices(model),
        "time_constants_samples": None if model.time_tau is None else model.time_tau.tolist(),
        "time_block": model.time_block,
        "decay": model.decay,
        "decay_seconds_range": _decay_range(model),
        "envelope": model.envelope,
        "predictor": model.predictor,
        "predictor_in_loop": model.loop,
        "sample_rate": model.sample_rate,
        "layers": model.n_layers,
        "dilations": list(model.dilations),
        "quantization_channels": model.quantization_channels,
        "residual_channels": model.residual_channels,
        "dilation_channels": model.dilation_channels,
        "skip_channels": model.skip_channels,
        "receptive_field_samples": rf,
        "receptive_field_ms": round(1000.0 * rf / model.sample_rate, 2),
        "parameters": n_params,
        "flops_per_sample": model.flops_per_sample,
        "float16_exact": model.float16_exact,
        "clip_duration": model.duration,
        "primers": None if model.primers is None else list(model.primers.shape),
        "meta": model.meta,
    }


def _filtered_voices(model):
    """The voices whose output filter (format 5) is not the unit impulse, or None (no voices, or
    no filter)."""
    h = model.output_filter
    if h is None or h.ndim != 2:
        return None
    identity = (h[:, 0] == 1) & ~h[:, 1:].any(axis=1)
    return [v for v, same in zip(model.voices, identity) if not same]


def _output_filter_row(info):
    """`fastdrum info`'s output-filter row (format 5): its taps and the voices it corrects."""
    K = info["output_filter_taps"]
    taps = f"{K} tap" + ("s" if K != 1 else "")
    note = " (generation filters its output)"
    voices = info["output_filter_voices"]
    if voices is None:
        return taps + note
    return f"{taps} a voice, correcting {', '.join(voices) if voices else 'none'}" + note


def _decay_range(model):
    """[shortest, longest] training decay time (s) of a decay-conditioned model, else None."""
    if model.voice_decays is None:
        return None
    values = [float(x) for d in model.voice_decays.values() for x in d]
    return [min(values), max(values)]


def _dilations(d):
    """1, 2, 4, ..., 512 x2 for repeated doubling stacks; the list itself otherwise."""
    for k in range(1, len(d) + 1):
        block = d[:k]
        if (
            len(d) % k == 0
            and block * (len(d) // k) == d
            and block == [2**i for i in range(k)]
            and k > 4
        ):
            text = f"1, 2, 4, ..., {block[-1]}"
            return text + (f" x{len(d) // k}" if len(d) > k else "")
    return ", ".join(map(str, d))


def _short(value, width=100):
    """One line for a metadata value: long lists are counted, long text is cut (--json has it all)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if isinstance(value, (list, dict)):
        kind = "list" if isinstance(value, list) else "mapping"
        return f"({kind} of {len(value)} entries; see --json)"
    return text[: width - 3] + "..."


def _coefficients(values, voices, note):
    """A `fastdrum info` row of a model's coefficient(s): one, or one a voice; "none" for 0."""
    if isinstance(values, (list, tuple)):
        text = ", ".join(f"{v} {x:g}" for v, x in zip(voices, values)) if any(values) else ""
    else:
        text = f"{values:g}" if values else ""
    return f"{text} ({note})" if text else "none"


def _shelf_row(info):
    """`fastdrum info`'s low-shelf row: each voice's corner and the depth of generation's cut
    below it (:func:`fastdrum.mulaw.shelf_corner`); "none" where a voice has no shelf."""
    from .mulaw import shelf_corner

    voices = info["voices"] or [None]
    zeros, poles = (
        v if isinstance(v, list) else [v] * len(voices)
        for v in (info["shelf_zero"], info["shelf_pole"])
    )
    parts = []
    for v, c, p in zip(voices, zeros, poles):
        hz, db = shelf_corner((c, p), info["sample_rate"])
        parts += [(f"{v} " if v else "") + f"{hz:.0f} Hz, {db:.0f} dB"] if hz else []
    return ", ".join(parts) + " (generation cuts below)" if parts else "none"


def _format2_rows(info):
    """The rows of `fastdrum info` that only a format-2 (or later) model has: format, voices,
    pre-emphasis, integration (format 3), low shelf (format 4), output filter (format 5), time,
    decay, envelope."""
    voices = info["voices"]
    if voices:
        shown = (
            ", ".join(voices)
            if len(voices) <= 12
            else ", ".join(voices[:12]) + f" and {len(voices) - 12} more"
        )
        default = info["default_voice"]
        voices_row = f"{len(voices)}: {shown}" + (f" (default {default})" if default else "")
    else:
        voices_row = "none (not conditioned)"
    pre = _coefficients(info["preemphasis"], voices, "generation de-emphasises its output")
    integ = _coefficients(info["integration"], voices, "generation takes its first difference")
    rows = [("format", str(info["format_version"])), ("voices", voices_row), ("pre-emphasis", pre)]
    rows += [("integration", integ)] if info["format_version"] >= 3 else []
    rows += [("low shelf", _shelf_row(info))] if info["format_version"] >= 4 else []
    rows += [("output filter", _output_filter_row(info))] if info["format_version"] >= 5 else []
    if (p := info["predictor"]) is not None:
        rows.append(
            (
                "predictor",
                f"order {p['order']}, refitted every {p['hop']} samples on the last {p['window']}, "
                f"error gain {p['gain']:g} (the codes are its error's"
                + (
                    "; inside the sampling loop, the signal and the prediction fed to the network)"
                    if info["predictor_in_loop"]
                    else ")"
                ),
            )
        )
    taus = info["time_constants_samples"]
    if taus is not None:
        ms = ", ".join(f"{1000 * t / info['sample_rate']:g}" for t in taus)
        rows.append(
            ("time since onset", f"{len(taus)} features, tau {ms} ms, block {info['time_block']}")
        )
    if info["decay"] is not None:
        lo, hi = info["decay_seconds_range"]
        rows.append(
            (
                "decay time",
                f"conditioned (generate --decay SECONDS); training clips fall "
                f"{info['decay']['drop_db']:g} dB in {lo:g} to {hi:g} s",
            )
        )
    env = info["envelope"]
    if env is not None:
        rows.append(
            (
                "envelope",
                f"normalised: the network models each clip divided by an envelope falling 20 dB "
                f"per decay time after {env['hold']:g} s, down to {env['floor_db']:g} dB",
            )
        )
    return rows


def _cmd_info(args):
    """``fastdrum info``."""
    from .model import load_model

    info = _describe(load_model(args.model))
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
        return 0
    d = info["dilations"]
    rows = [
        ("model", info["path"]),
        ("instrument", info["instrument"]),
        ("sample rate", f"{info['sample_rate']} Hz"),
        ("layers", f"{info['layers']} (dilations {_dilations(d)})"),
        (
            "channels",
            f"Q={info['quantization_channels']} R={info['residual_channels']} "
            f"D={info['dilation_channels']} S={info['skip_channels']}",
        ),
        (
            "receptive field",
            f"{info['receptive_field_samples']} samples ({info['receptive_field_ms']} ms)",
        ),
        ("parameters", f"{info['parameters']:,}"),
        ("flops/sample", f"{info['flops_per_sample']:,}"),
        (
            "weight matrices",
            "float16 values (the kernel stores them in half the memory)"
            if info["float16_exact"]
            else "float32",
        ),
        (
            "clip duration",
            "unknown" if info["clip_duration"] is None else f"{info['clip_duration']} s",
        ),
        (
            "primers",
            "none" if info["primers"] is None else "{} x {} codes".format(*info["primers"]),
        ),
    ]
    if info["format_version"] >= 2:
        rows[1:1] = _format2_rows(info)
    for k, v in sorted(info["meta"].items()):
        if k not in ("instrument", "clip_duration"):
            rows.append((f"meta.{k}", _short(v)))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def _cmd_plot(args):
    """``fastdrum plot``."""
    from . import plotting

    plotting.require_matplotlib()  # before any work
    import numpy as np

    from ._generate import generate
    from .kit import kit_guidance
    from .model import as_model

    out = _check_output(args.output, args.force)
    if os.path.splitext(out)[1].lower() != ".png":
        raise CLIError(f"fastdrum plot writes PNG files: name the output .png, not {out!r}")
    overrides = _model_overrides(args)
    instruments = _instrument_list(args, overrides)
    models = {inst: as_model(m) for inst, m in _models_for(instruments, overrides).items()}
    seed = _seed(args)
    seeds = np.random.SeedSequence(seed).spawn(len(models))
    rows = []
    for (inst, model), s in zip(models.items(), seeds):
        g = kit_guidance(model, args.guidance)
        y = generate(model, args.n, seed=s, guidance=g, **_gen_kwargs(args))
        if args.post:
            from . import post

            y = post.process(y, model.sample_rate, instrument=inst)
        rows.append((inst, model.sample_rate, y, _primer_audio(model, args.n)))
    plotting.write_png(plotting.clips_figure(rows), out, overwrite=args.force)
    _say(args, f"wrote {out}: {', '.join(models)} (seed {seed})")
    return 0


def _primer_audio(model, n):
    """The first `n` of the model's training primers as audio, or None if it has none.

    A conditioned model's are those generation draws from for its default voice (None if no voice
    is chosen), de-emphasised as generated clips are (:func:`fastdrum.mulaw.deemphasis`) and, for
    a model with an output filter (format 5), filtered with the voice's
    (:func:`fastdrum.mulaw.fir_filter`).
    """
    from ._generate import _primer_pool
    from .mulaw import deemphasis, fir_filter, mu_law_decode

    if model.voices and model.default_voice is None:
        return None
    voice = model.voices.index(model.default_voice) if model.voices else None
    primers = _primer_pool(model, voice)
    if primers is None or not len(primers):
        return None
    y = mu_law_decode(primers[:n], model.quantization_channels)
    v = model.default_voice
    a, b, shelf = model.preemphasis_of(v), model.integration_of(v), model.shelf_of(v)
    y = deemphasis(y, a, b, shelf)
    h = model.output_filter_of(v)
    if h is not None:
        y = fir_filter(y, h)
    return y.astype("float32", copy=False)


# -- fastdrum library (on Dask: fastdrum/_library.py) ----------------------------------
def _add_library(subs):
    """The ``fastdrum library`` subcommand."""
    from ._library import DEFAULT_SHARD_SIZE

    p = subs.add_parser(
        "library",
        help="generate a sample library: many clips per voice, on Dask",
        description="Generate N clips of each voice into a library folder (shards of clips and "
        "a manifest.jsonl) on a local Dask cluster or an existing one. Rerun the "
        "same command to resume: complete, verified shards are kept.",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="library folder: new, empty, or this library (to resume)",
    )
    p.add_argument(
        "--voices",
        required=True,
        metavar="LIST",
        help="comma-separated voices: shipped model names (e.g. kick,snare) or model files",
    )
    p.add_argument(
        "-n", "--n", type=_positive_int, required=True, metavar="N", help="clips per voice"
    )
    p.add_argument(
        "--seed",
        type=_nonneg_int,
        default=None,
        metavar="N",
        help="random seed (default: the library's own when resuming, else random, printed)",
    )
    _temperature_option(p)
    _duration_option(p)
    p.add_argument(
        "--shard-size",
        type=_positive_int,
        default=DEFAULT_SHARD_SIZE,
        metavar="N",
        help=f"clips per shard: one task, one kernel batch, one folder (default {DEFAULT_SHARD_SIZE})",
    )
    p.add_argument(
        "--format",
        choices=sorted(_io.AUDIO_FORMATS),
        default="flac",
        help="audio file format, 24-bit (default flac)",
    )
    _backend_option(p)
    _add_library_cluster(p)
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, summary or Dask dashboard"
    )
    p.set_defaults(func=_cmd_library)


def _add_library_cluster(p):
    """``fastdrum library``: where it runs (an existing Dask cluster, a local one, or this process)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on the Dask cluster of this scheduler (e.g. tcp://host:8786)",
    )
    where.add_argument(
        "--workers",
        type=_nonneg_int,
        default=None,
        metavar="N",
        help="worker processes of a local Dask cluster (default: one per CPU; "
        "0: run in this process, without Dask)",
    )


def _cmd_library(args):
    """``fastdrum library``."""
    from ._library import library, read_library_params

    voices = [v.strip() for v in args.voices.split(",") if v.strip()]
    seed = args.seed
    if seed is None:
        old = read_library_params(args.output) if os.path.isdir(args.output) else None
        seed = old.get("seed") if old is not None else None
        if not isinstance(seed, int):
            seed = secrets.randbelow(2**31)
    result = library(
        args.output,
        voices,
        args.n,
        seed=seed,
        temperature=args.temperature,
        duration=args.duration,
        shard_size=args.shard_size,
        format=args.format,
        client=args.scheduler,
        workers=args.workers,
        backend=args.backend,
        progress=_progress(args),
    )
    kept = result["shards"] - result["written"]
    _say(
        args,
        f"library {args.output}: {result['clips']} clips; {result['written']} shards written, {kept} "
        f"complete already; seed {seed}; manifest {result['manifest']}",
    )
    return 0


def main(argv=None):
    """Run the ``fastdrum`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on bad input (one line on stderr), 128 + the signal's number on
        SIGINT (Ctrl-C: 130), SIGTERM (143) or SIGHUP (129), after removing temporary files.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     status = main(["info", "--help"])
    >>> status, out.getvalue().splitlines()[0]
    (0, 'usage: fastdrum info [-h] [--json] [-q] MODEL')
    """
    import signal

    try:
        # SIGTERM and SIGHUP clean up as Ctrl-C does; a Ctrl-C that lands as the block ends,
        # after the old handler is back, is caught here too
        with _io.handle_signals():
            parser = build_parser()
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:  # --help, --version, argparse errors
                return exc.code if isinstance(exc.code, int) else 2
            return _run(args)
    except (ImportError, KeyboardInterrupt) as exc:
        # A signal that lands while an extension module initialises (scipy's, imported lazily)
        # comes out as "ImportError: initialization failed" caused by our KeyboardInterrupt.
        exc = _interrupt_behind(exc)
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"{PROG}: {_stopped_by(signum)}", file=sys.stderr)
        return 128 + int(signum)


def _interrupt_behind(exc):
    """The KeyboardInterrupt in `exc`'s chain of causes, or, for an ImportError without one, the
    signal the block's handler raised (C code can drop the cause: :func:`_io.raised_signal`);
    re-raises `exc` if there is neither."""
    seen, e = set(), exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    signum = _io.raised_signal()
    if isinstance(exc, ImportError) and signum is not None:
        return _io.Interrupted(signum)
    raise exc


def _stopped_by(signum):
    import signal

    return {signal.SIGINT: "interrupted"}.get(signum) or f"stopped by {signal.Signals(signum).name}"


def _run(args):
    import warnings

    from .errors import FastDrumWarning

    def show(message, category, *rest, **kwargs):
        print(f"{PROG} {args.command}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", FastDrumWarning)
            warnings.showwarning = show  # restored on leaving the block
            return args.func(args)
    except BrokenPipeError:  # e.g. `fastdrum info kick | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except MemoryError:
        print(
            f"{PROG} {args.command}: error: out of memory (ask for less: fewer clips, bars or hits)",
            file=sys.stderr,
        )
        return 2
    except (FastDrumError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        # the library's hint names a Python argument; the command's equivalent is asking for less
        message = message.replace(
            "(pass a larger max_samples= to allow it)",
            "(ask for fewer clips with -n, or a shorter --duration)",
        )
        if len(message) > 500:  # never echo a huge argument whole
            message = message[:400] + f" ... ({len(message)} characters)"
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2
