"""The drum machine's voices: names, aliases, General MIDI notes, fallbacks, gains and pans.

Every module that names an instrument reads these tables and functions: the
sequencer (patterns and mixing), :mod:`fastdrum.midi` (reading and writing
notes), :mod:`fastdrum.kit` (SFZ and Hydrogen export, reading kit folders),
the command line and the browser drum machine.

Examples
--------
>>> canonical_instrument("HH"), INSTRUMENTS["kick"]
('hihat', 36)
>>> fallback_chain("crash")          # a kit without a crash plays its open hi-hat, else its hi-hat
['crash', 'openhat', 'hihat']
>>> first_available("tom_high", {"kick", "snare"})
'kick'
"""

import re

from . import _checks
from .errors import KitError, PatternError

__all__ = [
    "ANY_VOICE",
    "INSTRUMENTS",
    "ALIASES",
    "FALLBACKS",
    "NOTE_TO_INSTRUMENT",
    "DEFAULT_GAIN",
    "DEFAULT_PAN",
    "canonical_instrument",
    "instrument_name",
    "instrument_from_filename",
    "gm_note",
    "gm_notes",
    "fallback_chain",
    "first_available",
    "gains",
    "pans",
]

#: The voice of a conditioned model trained with ``--voice-dropout`` (training/train.py): the network
#: conditioned on it is unconditional, a drum of any voice, the negative voice of classifier-free
#: guidance (docs/format.md). A name that :func:`fastdrum.load_model` and :func:`fastdrum.generate`
#: accept, but no instrument: kits, plots and the drum machine leave it out.
ANY_VOICE = "any"

#: The instruments a pattern can name, with their General MIDI drum notes.
INSTRUMENTS = {
    "kick": 36,
    "snare": 38,
    "hihat": 42,
    "openhat": 46,
    "clap": 39,
    "tom_low": 41,
    "tom_mid": 45,
    "tom_high": 48,
    "crash": 49,
    "ride": 51,
}

#: Other names accepted for the instruments (case-insensitive).
ALIASES = {
    "bd": "kick",
    "bass": "kick",
    "bassdrum": "kick",
    "kickdrum": "kick",
    "sd": "snare",
    "snaredrum": "snare",
    "hh": "hihat",
    "hat": "hihat",
    "hats": "hihat",
    "ch": "hihat",
    "chh": "hihat",
    "closedhat": "hihat",
    "closed_hat": "hihat",
    "hi_hat": "hihat",
    "hi-hat": "hihat",
    "oh": "openhat",
    "ohh": "openhat",
    "open_hat": "openhat",
    "openhihat": "openhat",
    "cp": "clap",
    "handclap": "clap",
    "claps": "clap",
    "lt": "tom_low",
    "lowtom": "tom_low",
    "tom1": "tom_high",
    "mt": "tom_mid",
    "midtom": "tom_mid",
    "tom2": "tom_mid",
    "ht": "tom_high",
    "hightom": "tom_high",
    "tom3": "tom_low",
    "tom": "tom_mid",
    "cy": "crash",
    "cymbal": "crash",
    "rd": "ride",
}

#: When a kit lacks an instrument, its clips are borrowed from this one (:func:`fallback_chain`).
#: The shipped model plays all ten instruments itself; these serve kit folders and ``--model``
#: sets that lack some.
FALLBACKS = {
    "openhat": "hihat",
    "clap": "snare",
    "crash": "openhat",
    "ride": "hihat",
    "tom_low": "kick",
    "tom_mid": "tom_low",
    "tom_high": "tom_mid",
}

#: GM percussion note -> instrument, for reading MIDI files and for the notes an exported SFZ kit
#: plays: every General MIDI drum note from 35 (acoustic bass drum) to 59 (ride cymbal 2). The three
#: GM notes with no instrument of their own play the nearest one: 54 tambourine the closed hi-hat,
#: 56 cowbell the ride (a struck bell), 58 vibraslap the open hi-hat (a rattle that rings on).
NOTE_TO_INSTRUMENT = {
    35: "kick",
    36: "kick",
    37: "snare",
    38: "snare",
    40: "snare",
    39: "clap",
    42: "hihat",
    44: "hihat",
    46: "openhat",
    41: "tom_low",
    43: "tom_low",
    45: "tom_mid",
    47: "tom_mid",
    48: "tom_high",
    50: "tom_high",
    49: "crash",
    52: "crash",
    55: "crash",
    57: "crash",
    51: "ride",
    53: "ride",
    59: "ride",
    54: "hihat",
    56: "ride",
    58: "openhat",
}

#: Mix level (linear) and stereo position (-1 left .. 1 right) of each instrument.
DEFAULT_GAIN = {
    "kick": 1.0,
    "snare": 0.8,
    "hihat": 0.45,
    "openhat": 0.45,
    "clap": 0.7,
    "tom_low": 0.7,
    "tom_mid": 0.7,
    "tom_high": 0.7,
    "crash": 0.45,
    "ride": 0.45,
}
DEFAULT_PAN = {
    "kick": 0.0,
    "snare": -0.1,
    "hihat": 0.35,
    "openhat": 0.35,
    "clap": -0.2,
    "tom_low": -0.4,
    "tom_mid": 0.0,
    "tom_high": 0.4,
    "crash": -0.5,
    "ride": 0.5,
}

#: A kit's own instrument name: lowercase letters, digits, "_" and "-".
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _key(name, error):
    """`name` trimmed and in lowercase, if it is a string; else `error`."""
    if not isinstance(name, str):
        raise error(f"instrument name must be a string, got {_checks.short(name)}")
    return name.strip().lower()


def canonical_instrument(name):
    """The canonical name of `name`: one of :data:`INSTRUMENTS`, or an alias of one.

    Raises
    ------
    PatternError
        If the name is not known.

    Examples
    --------
    >>> canonical_instrument("HH"), canonical_instrument("kick")
    ('hihat', 'kick')
    """
    key = _key(name, PatternError)
    if key in INSTRUMENTS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise PatternError(
        f"unknown instrument {_checks.short(name)}; known: {', '.join(INSTRUMENTS)} "
        f"(or aliases {', '.join(sorted(ALIASES))})"
    )


def instrument_name(name):
    """The name a kit files `name` under: an alias resolved, else `name` itself in lowercase.

    A kit holds any instrument (a ``cowbell`` too); its name is lowercase
    letters, digits, ``_`` and ``-``.

    Raises
    ------
    KitError
        If `name` is not a string, or holds characters other than letters,
        digits, ``_`` and ``-``.

    Examples
    --------
    >>> instrument_name(" BD "), instrument_name("Cowbell")
    ('kick', 'cowbell')
    """
    key = _key(name, KitError)
    key = ALIASES.get(key, key)
    if not _NAME_RE.match(key):
        raise KitError(f"bad instrument name {name!r} (letters, digits, '_' and '-' only)")
    return key


_HAT = {"hat", "hats", "hh", "hihat", "hihats", "chh", "ch", "ohh", "oh"}
_WORDS = [  # (instrument, words any of which names it), tried in order
    ("kick", {"kick", "kik", "kck", "bd", "bassdrum", "kickdrum"}),
    ("snare", {"snare", "snr", "sd", "sn", "snaredrum"}),
    ("clap", {"clap", "claps", "cp", "handclap"}),
    ("crash", {"crash", "cymbal", "cym", "cy", "splash", "china"}),
    ("ride", {"ride", "rd"}),
]


def _hat_or_tom(tokens, joined):
    """The hi-hat or tom a file name's words name, or None."""
    hat = bool(tokens & _HAT) or "hihat" in joined or "hat" in joined
    if hat and ({"open", "opened", "ohh", "oh"} & tokens or "open" in joined):
        return "openhat"
    if hat and not ({"ride", "crash"} & tokens):
        return "hihat"
    if "tom" in tokens or "tom" in joined:
        if {"floor", "low", "lo"} & tokens or "floor" in joined:
            return "tom_low"
        if {"high", "hi", "rack"} & tokens:
            return "tom_high"
        return "tom_mid"
    return None


def instrument_from_filename(stem):
    """Guess the instrument a file, folder or Hydrogen instrument name means (None: no letters).

    ``Kick-Soft`` -> kick, ``HatOpen-Hard`` and ``Hi-Hat Open`` -> openhat,
    ``hh3`` and ``HatClosed`` -> hihat, ``Floor Tom`` -> tom_low,
    ``snares`` -> snare; a name with no known word gives its first word
    (``Bell-Hard`` -> bell).

    Examples
    --------
    >>> [instrument_from_filename(s) for s in ("808_Kick_Long", "HatOpen-Hard", "Bell-Hard", "123")]
    ['kick', 'openhat', 'bell', None]
    """
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(stem))  # split camelCase: HatOpen -> Hat Open
    s = text.strip().lower()
    words = re.findall(r"[a-z]+", s)
    if not words:
        return None
    before_digit = re.split(r"\d", s, maxsplit=1)[0].strip(" _-.")
    for c in (before_digit, before_digit.replace("-", "_"), before_digit.replace(" ", "_")):
        if c in INSTRUMENTS:
            return c
        if c in ALIASES:
            return ALIASES[c]
    tokens = set(words) | {w[:-1] for w in words if w.endswith("s") and len(w) > 3}  # snares
    found = _hat_or_tom(tokens, "".join(words))
    if found is not None:
        return found
    for inst, names in _WORDS:
        if names & tokens:
            return inst
    for w in words:
        if w in ALIASES:
            return ALIASES[w]
    custom = re.sub(r"[^a-z0-9_-]+", "_", words[0]).strip("_-")
    return custom or None


def gm_note(instrument, *, taken=()):
    """The General MIDI drum note of `instrument`; others get free notes from 60 up.

    Examples
    --------
    >>> gm_note("kick"), gm_note("cowbell"), gm_note("cowbell", taken={60})
    (36, 60, 61)
    """
    if instrument in INSTRUMENTS:
        return INSTRUMENTS[instrument]
    note = 60
    while note in taken or note in INSTRUMENTS.values():
        note += 1
    return note


def gm_notes(instruments):
    """``{instrument: note}``: :func:`gm_note` of each, no two others on one note.

    Examples
    --------
    >>> gm_notes(["kick", "cowbell", "shaker"])
    {'kick': 36, 'cowbell': 60, 'shaker': 61}
    """
    notes, taken = {}, set()
    for inst in instruments:
        notes[inst] = gm_note(inst, taken=taken)
        taken.add(notes[inst])
    return notes


def fallback_chain(instrument):
    """`instrument`, then the instruments it borrows from in turn (:data:`FALLBACKS`).

    Examples
    --------
    >>> fallback_chain("tom_high"), fallback_chain("kick")
    (['tom_high', 'tom_mid', 'tom_low', 'kick'], ['kick'])
    """
    chain = [instrument]
    while FALLBACKS.get(chain[-1]) is not None and FALLBACKS[chain[-1]] not in chain:
        chain.append(FALLBACKS[chain[-1]])
    return chain


def first_available(instrument, available, *, substitute=True):
    """The first of :func:`fallback_chain` of `instrument` that is in `available`, or None.

    With ``substitute=False`` only `instrument` itself counts.

    Examples
    --------
    >>> first_available("clap", ["snare"]), first_available("clap", ["snare"], substitute=False)
    ('snare', None)
    """
    chain = fallback_chain(instrument) if substitute else [instrument]
    return next((inst for inst in chain if inst in available), None)


def gains(overrides=None, *, error=PatternError):
    """:data:`DEFAULT_GAIN` updated with `overrides` (``{instrument: linear gain}``), checked.

    Examples
    --------
    >>> gains({"kick": 0.5})["kick"], gains()["snare"]
    (0.5, 0.8)
    """
    out = dict(DEFAULT_GAIN)
    for inst, value in (overrides or {}).items():
        out[inst] = _checks.gain(f"gain of {inst!r}", value, error=error)
    return out


def pans(overrides=None, *, error=PatternError):
    """:data:`DEFAULT_PAN` updated with `overrides` (``{instrument: -1 .. 1}``), checked.

    Examples
    --------
    >>> pans({"kick": 2.0})
    Traceback (most recent call last):
    ...
    fastdrum.errors.PatternError: pan of 'kick' must be a finite number in [-1.0, 1.0], got 2.0
    """
    out = dict(DEFAULT_PAN)
    for inst, value in (overrides or {}).items():
        out[inst] = _checks.pan(f"pan of {inst!r}", value, error=error)
    return out
