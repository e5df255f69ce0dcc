"""Drum kits: generated clips per instrument, exported as SFZ and Hydrogen kits, and imported back.

A :class:`Kit` holds several variations (one-shot clips) of each instrument
at one sample rate. :func:`generate_kit` makes one with the WaveNets;
:meth:`Kit.export` writes it as a folder of WAV or FLAC files with an SFZ
instrument (General MIDI notes, round robin over the variations) and a
Hydrogen ``drumkit.xml``; :meth:`Kit.load` reads any folder of clips.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> kit = Kit({"kick": np.zeros((2, 100)), "hh": [np.zeros(100)]}, sr=16000)
>>> kit
<Kit sr=16000 kick: 2, hihat: 1>
>>> path = kit.export(os.path.join(tempfile.mkdtemp(), "mykit"))
>>> sorted(os.listdir(path))
['.fastdrum.manifest.json', 'drumkit.xml', 'hihat_000.wav', 'kick_000.wav', 'kick_001.wav', 'mykit.sfz']
>>> Kit.load(path)
<Kit sr=16000 kick: 2, hihat: 1>
"""

import os
import re
import warnings
import xml.etree.ElementTree as ET
import zlib

import numpy as np

from . import _checks, _io
from ._resample import MAX_CLIP_SECONDS, resample
from .errors import FastDrumWarning, InstrumentNotFoundError, KitError
from .instruments import (
    DEFAULT_PAN,
    INSTRUMENTS,
    NOTE_TO_INSTRUMENT,
    first_available,
    gm_notes,
    instrument_from_filename,
    instrument_name,
)
from .sequencer import MAX_SAMPLES

__all__ = ["Kit", "generate_kit", "HYDROGEN_MAX_LAYERS", "DEFAULT_CLIP_SECONDS"]

#: Hydrogen (1.x) loads at most this many layers per instrument component;
#: the drumkit.xml lists the first 16 variations (the SFZ lists them all).
HYDROGEN_MAX_LAYERS = 16

#: Bounds on a kit: audio files in a folder, samples (times channels) in one file, seconds of a
#: clip (also after resampling to the kit's rate). Sample rates lie in
#: [1, fastdrum._checks.MAX_SAMPLE_RATE].
MAX_KIT_FILES = 10_000
MAX_FILE_SAMPLES = 2**24
#: Clips shorter than this (seconds) are read, with a warning: a truncated file?
MIN_CLIP_SECONDS = 0.005
#: Seconds of each generated clip whose model names no duration, when generate_kit is given none.
DEFAULT_CLIP_SECONDS = 0.25
MAX_DRUMKIT_XML_BYTES = 4 * 2**20

_AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aif", ".aiff")

#: Display names in drumkit.xml, and Hydrogen mute (choke) groups.
_DISPLAY = {
    "kick": "Kick",
    "snare": "Snare",
    "hihat": "Hi-Hat Closed",
    "openhat": "Hi-Hat Open",
    "clap": "Clap",
    "tom_low": "Tom Low",
    "tom_mid": "Tom Mid",
    "tom_high": "Tom High",
    "crash": "Crash",
    "ride": "Ride",
}
_CHOKE = {"hihat": 1, "openhat": 1}


def _check_sr(sr, what="sr"):
    return _checks.sample_rate(sr, name=what, error=KitError)


def _sfz_notes(instruments):
    """{instrument: sorted MIDI notes it plays}: its GM notes, those of the GM instruments it stands in for."""
    notes = {inst: set() for inst in instruments}
    for note, inst in NOTE_TO_INSTRUMENT.items():
        source = first_available(inst, notes)
        if source is not None:
            notes[source].add(note)
    own = gm_notes(instruments)
    return {inst: sorted(notes[inst] | {own[inst]}) for inst in instruments}


_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _check_text(what, text, *, newlines=False):
    """`text` if XML 1.0 and an SFZ line can hold it: no control characters, valid UTF-8; else KitError."""
    if not isinstance(text, str):
        raise KitError(f"{what} must be a string, got {text!r}")
    bad = _BAD_XML_CHARS.search(text) or (None if newlines else re.search("[\r\n\t]", text))
    if bad:
        kind = "invalid UTF-8" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        raise KitError(
            f"{what} {text[:60]!r} holds {kind} ({bad.group()!r}), which drumkit.xml and SFZ "
            "files cannot hold"
        )
    return text


class Kit:
    """Variations of each instrument's one-shot, at one sample rate.

    Parameters
    ----------
    clips : mapping of str to array_like
        Instrument (a name from :data:`fastdrum.instruments.INSTRUMENTS`, an
        alias, or any other lowercase name) -> its clips: an ``(n, T)`` array
        or a sequence of 1-D arrays (lengths may differ).
    sr : int
        Sample rate in Hz.
    name : str, default "fastdrum"

    Attributes
    ----------
    sr : int
    name : str
    instruments : list of str
        General MIDI instruments first, in :data:`fastdrum.instruments.INSTRUMENTS` order.

    Examples
    --------
    >>> kit = Kit({"snare": np.zeros((3, 10))}, sr=8000)
    >>> kit.instruments, len(kit["snare"]), kit["snare"][0].dtype
    (['snare'], 3, dtype('float32'))
    """

    def __init__(self, clips, sr, *, name="fastdrum"):
        _check_sr(sr)
        if not hasattr(clips, "items") or not clips:
            raise KitError(f"a kit needs clips for at least one instrument, got {clips!r}")
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\0"):
            raise KitError(f"bad kit name {name!r}")
        self.sr = int(sr)
        self.name = name
        data = {}
        for inst, rows in clips.items():
            key = instrument_name(inst)
            if key in data:
                raise KitError(f"instrument {inst!r} ({key!r}) given twice")
            if isinstance(rows, np.ndarray) and rows.ndim == 1:
                raise KitError(
                    f"clips of {inst!r} must be (n, T) or a list of 1-D arrays, got shape {rows.shape!r}"
                )
            out = []
            for y in rows:
                y = np.array(y, dtype=np.float32)
                if y.ndim != 1 or y.size == 0:
                    raise KitError(
                        f"each clip of {inst!r} must be non-empty and 1-D, got shape {y.shape!r}"
                    )
                if not np.isfinite(y).all():
                    raise KitError(f"a clip of {inst!r} contains NaN or Inf")
                y.setflags(write=False)
                out.append(y)
            if not out:
                raise KitError(f"instrument {inst!r} has no clips")
            data[key] = tuple(out)
        order = [k for k in INSTRUMENTS if k in data] + sorted(
            k for k in data if k not in INSTRUMENTS
        )
        self._clips = {k: data[k] for k in order}

    @property
    def instruments(self):
        """The instruments, General MIDI ones first (in :data:`fastdrum.instruments.INSTRUMENTS` order), then the others."""
        return list(self._clips)

    def __getitem__(self, instrument):
        """The clips of `instrument` (a name or an alias), a tuple of read-only float32 arrays.

        Raises
        ------
        InstrumentNotFoundError
            A KeyError (and a KitError), if the kit has no such instrument.
        """
        key = instrument_name(instrument)
        if key not in self._clips:
            raise InstrumentNotFoundError(
                f"the kit has no {instrument!r}; it has {', '.join(self._clips)}"
            )
        return self._clips[key]

    def __contains__(self, instrument):
        try:
            return instrument_name(instrument) in self._clips
        except KitError:
            return False

    def items(self):
        """(instrument, clips) pairs."""
        return self._clips.items()

    def __repr__(self):
        inner = ", ".join(f"{k}: {len(v)}" for k, v in self._clips.items())
        return f"<Kit sr={self.sr} {inner}>"

    def resample(self, sr):
        """This kit at another sample rate (polyphase resampling, :func:`scipy.signal.resample_poly`).

        Examples
        --------
        >>> Kit({"kick": np.zeros((1, 160))}, sr=16000).resample(44100)["kick"][0].shape
        (441,)
        """
        _check_sr(sr)
        if sr == self.sr:
            return self
        return Kit(
            {k: [resample(y, self.sr, sr) for y in v] for k, v in self._clips.items()},
            int(sr),
            name=self.name,
        )

    def process(self, **overrides):
        """Each clip through :func:`fastdrum.post.process` with its instrument's settings.

        Parameters
        ----------
        **overrides
            Settings for every instrument (see :func:`fastdrum.post.process`).

        Examples
        --------
        >>> kit = Kit({"kick": [np.r_[0.1, -0.2, 0.05]]}, sr=8000).process(highpass=None, fade=None)
        >>> round(float(abs(kit["kick"][0]).max()), 4)   # peak at -1 dBFS
        0.8913
        """
        from . import post

        return Kit(
            {
                k: [post.process(y, self.sr, instrument=k, **overrides) for y in v]
                for k, v in self._clips.items()
            },
            self.sr,
            name=self.name,
        )

    # -- export --------------------------------------------------------------------
    def _filenames(self, ext):
        return {k: [f"{k}_{i:03d}.{ext}" for i in range(len(v))] for k, v in self._clips.items()}

    def export(
        self,
        directory,
        *,
        format="wav",
        overwrite=False,
        author="fastdrum",
        license="CC0",
        info=None,
    ):
        """Write the kit as a folder: audio files, ``<name>.sfz`` and Hydrogen's ``drumkit.xml``.

        The folder is filled under a temporary name and renamed when
        complete, so an interrupted export leaves nothing behind.

        Parameters
        ----------
        directory : str or os.PathLike
            The kit folder to create (its base name also names the kit in
            the SFZ and drumkit.xml files).
        format : {"wav", "flac"}
            24-bit PCM either way.
        overwrite : bool, default False
            Replace an existing folder.
        author, license, info : str
            Written into drumkit.xml.

        Returns
        -------
        path : str
            `directory`.

        Raises
        ------
        OutputExistsError
            If `directory` exists and `overwrite` is False.

        Examples
        --------
        >>> import tempfile
        >>> kit = Kit({"kick": np.zeros((2, 100)), "snare": np.zeros((1, 80))}, sr=16000)
        >>> path = kit.export(os.path.join(tempfile.mkdtemp(), "808ish"), format="flac")
        >>> sorted(os.listdir(path))
        ['.fastdrum.manifest.json', '808ish.sfz', 'drumkit.xml', 'kick_000.flac', 'kick_001.flac', 'snare_000.flac']
        """
        if format not in _io.AUDIO_FORMATS:
            raise KitError(f"format must be one of {sorted(_io.AUDIO_FORMATS)!r}, got {format!r}")
        directory = os.fspath(directory)
        name = _check_text("kit name", os.path.basename(os.path.normpath(directory)) or self.name)
        for what, text in (("author", author), ("license", license)):
            _check_text(what, text)
        if info is not None:
            _check_text("info", info, newlines=True)
        files = self._filenames(format)
        with _io.atomic_dir(directory, overwrite=overwrite) as tmp:
            for inst, clips in self._clips.items():
                for fname, y in zip(files[inst], clips):
                    _io.write_audio_data(os.path.join(tmp, fname), y, self.sr, format)
            with open(os.path.join(tmp, f"{name}.sfz"), "w", encoding="utf-8") as f:
                f.write(self.to_sfz(files, name=name))
            tree = self.to_hydrogen(files, name=name, author=author, license=license, info=info)
            tree.write(os.path.join(tmp, "drumkit.xml"), encoding="UTF-8", xml_declaration=True)
        return directory

    def to_sfz(self, files, *, name="fastdrum"):
        """The SFZ text: ``<group>`` s on every General MIDI drum note, round robin over the files.

        Each instrument plays on every GM note that fastdrum's own player maps
        to it (:data:`fastdrum.instruments.NOTE_TO_INSTRUMENT`, and for instruments
        the kit lacks, their :data:`fastdrum.instruments.FALLBACKS`): one group
        per note. Each group has ``seq_length`` = the number of variations, and
        each ``<region>`` its ``seq_position``; samples play to the end
        (``loop_mode=one_shot``), and the closed hi-hats choke the open one.

        Parameters
        ----------
        files : mapping of str to list of str
            Each instrument's file names, one per clip.
        name : str

        Examples
        --------
        >>> kit = Kit({"kick": np.zeros((2, 10)), "snare": np.zeros((1, 10))}, sr=8000)
        >>> sfz = kit.to_sfz({"kick": ["k1.wav", "k2.wav"], "snare": ["s.wav"]})
        >>> print(sfz.split("// snare")[1])   # 37, 38, 40 are snares; a clap (39) borrows the snare
        : 1 variation, notes 37, 38, 39, 40
        <group> key=37 seq_length=1
        <region> sample=s.wav seq_position=1
        <group> key=38 seq_length=1
        <region> sample=s.wav seq_position=1
        <group> key=39 seq_length=1
        <region> sample=s.wav seq_position=1
        <group> key=40 seq_length=1
        <region> sample=s.wav seq_position=1
        <BLANKLINE>
        >>> [line for line in sfz.splitlines() if line.startswith("// kick")]   # toms borrow the kick
        ['// kick: 2 variations, notes 35, 36, 41, 43, 45, 47, 48, 50']
        """
        name = _check_text("kit name", name)
        keys = _sfz_notes(self._clips)
        lines = [
            f"// {name}: drum kit generated by fastdrum. "
            "General MIDI drum notes, round robin over the variations",
            "<global>",
            "loop_mode=one_shot",
            "amp_veltrack=100",
            "",
        ]
        choke_ids = {"hihat": 1, "openhat": 2}
        for inst in self._clips:
            n = len(files[inst])
            lines.append(
                f"// {inst}: {n} variation{'s' if n != 1 else ''}, "
                f"note{'s' if len(keys[inst]) > 1 else ''} {', '.join(map(str, keys[inst]))}"
            )
            for key in keys[inst]:
                group = f"<group> key={key} seq_length={n}"
                if inst in choke_ids:
                    group += f" group={choke_ids[inst]}"
                    if inst == "openhat":
                        group += f" off_by={choke_ids['hihat']}"
                lines.append(group)
                for i, fname in enumerate(files[inst]):
                    lines.append(f"<region> sample={fname} seq_position={i + 1}")
            lines.append("")
        return "\n".join(lines)

    def to_hydrogen(self, files, *, name="fastdrum", author="fastdrum", license="CC0", info=None):
        """The Hydrogen drumkit.xml as an :class:`xml.etree.ElementTree.ElementTree`.

        The schema is Hydrogen 1.2's (as in its GMRockKit): ``componentList``
        with one component, and per instrument an ``instrumentComponent``
        whose layers (all velocities 0..1) are played ``ROUND_ROBIN``.

        Examples
        --------
        >>> kit = Kit({"hihat": np.zeros((1, 10))}, sr=8000)
        >>> tree = kit.to_hydrogen({"hihat": ["hh.wav"]}, name="demo")
        >>> ns = "{http://www.hydrogen-music.org/drumkit}"
        >>> [e.text for e in tree.getroot().iter(ns + "midiOutNote")], tree.getroot().find(ns + "name").text
        (['42'], 'demo')
        """
        ns = "http://www.hydrogen-music.org/drumkit"
        ET.register_namespace("", ns)
        ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")

        def sub(parent, tag, text=None):
            e = ET.SubElement(parent, f"{{{ns}}}{tag}")
            if text is not None:
                e.text = str(text)
            return e

        name = _check_text("kit name", name)
        author = _check_text("author", author)
        license = _check_text("license", license)
        if info is not None:
            info = _check_text("info", info, newlines=True)
        root = ET.Element(f"{{{ns}}}drumkit_info")
        sub(root, "name", name)
        sub(root, "author", author)
        sub(
            root,
            "info",
            info
            if info is not None
            else "Drum one-shots generated by fastdrum's WaveNets; several variations per instrument, "
            "played round robin.",
        )
        sub(root, "license", license)
        sub(root, "image", "")
        sub(root, "imageLicense", "undefined license")
        comp = sub(sub(root, "componentList"), "drumkitComponent")
        sub(comp, "id", 0)
        sub(comp, "name", "Main")
        sub(comp, "volume", 1)
        ilist = sub(root, "instrumentList")
        notes = gm_notes(self._clips)

        for i, inst in enumerate(self._clips):
            e = sub(ilist, "instrument")
            for tag, value in [
                ("id", i),
                ("name", _DISPLAY.get(inst, inst.replace("_", " ").title())),
                ("volume", 1),
                ("isMuted", "false"),
                ("isSoloed", "false"),
                ("pan", DEFAULT_PAN.get(inst, 0.0)),
                ("pitchOffset", 0),
                ("randomPitchFactor", 0),
                ("gain", 1),
                ("applyVelocity", "true"),
                ("filterActive", "false"),
                ("filterCutoff", 1),
                ("filterResonance", 0),
                ("Attack", 0),
                ("Decay", 0),
                ("Sustain", 1),
                ("Release", 1000),
                ("muteGroup", _CHOKE.get(inst, -1)),
                ("midiOutChannel", -1),
                ("midiOutNote", notes[inst]),
                ("isStopNote", "false"),
                ("sampleSelectionAlgo", "ROUND_ROBIN"),
                ("isHihat", -1),
                ("lower_cc", 0),
                ("higher_cc", 127),
                ("FX1Level", 0),
                ("FX2Level", 0),
                ("FX3Level", 0),
                ("FX4Level", 0),
            ]:
                sub(e, tag, value)
            ic = sub(e, "instrumentComponent")
            sub(ic, "component_id", 0)
            sub(ic, "gain", 1)
            for fname in files[inst][:HYDROGEN_MAX_LAYERS]:
                layer = sub(ic, "layer")
                for tag, value in [
                    ("filename", fname),
                    ("min", 0),
                    ("max", 1),
                    ("gain", 1),
                    ("pitch", 0),
                ]:
                    sub(layer, tag, value)
        ET.indent(root, space=" ")
        return ET.ElementTree(root)

    # -- import --------------------------------------------------------------------
    @classmethod
    def load(cls, directory, *, sr=None, name=None):
        """Read a folder of one-shots as a kit.

        Instruments are found by subfolder (``kick/*.wav``) or, for files at
        the top, by a Hydrogen ``drumkit.xml`` beside them (its instruments'
        names, else their MIDI notes) or by file name (``kick_000.wav``,
        ``Kick-Soft.flac``, ``808_Kick_Long.wav``, ``hh3.wav``,
        ``HatOpen-Hard.wav``), accepting the names and aliases of
        :data:`fastdrum.instruments.INSTRUMENTS`; other names become
        instruments of their own (their first word). Stereo files are mixed to mono; all
        clips are resampled to `sr` (default the highest rate found).

        Parameters
        ----------
        directory : str or os.PathLike
        sr : int, optional
        name : str, optional
            Default: the folder's name.

        Returns
        -------
        Kit

        Raises
        ------
        KitError
            If the folder holds no audio files, or one whose instrument cannot be told.
        FileNotFoundError
            If the folder does not exist.

        Examples
        --------
        >>> import tempfile
        >>> import soundfile as sf
        >>> d = tempfile.mkdtemp()
        >>> for f in ["Kick-Soft.wav", "Kick-Hard.wav", "HatOpen-1.wav"]:
        ...     sf.write(os.path.join(d, f), np.zeros(441), 44100)
        >>> Kit.load(d)
        <Kit sr=44100 kick: 2, openhat: 1>
        """
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            if os.path.exists(directory):
                raise KitError(f"kit folder {directory!r} is not a folder")
            raise FileNotFoundError(f"kit folder {directory!r} does not exist")
        _refuse_links_out(directory)
        loaded = _read_clips(directory, _find_clips(directory))
        target = _check_sr(
            sr if sr is not None else max(rate for ys in loaded.values() for _, rate, _ in ys)
        )
        clips, total = {}, 0
        for inst, ys in loaded.items():
            for y, rate, p in ys:
                clips.setdefault(inst, []).append(resample(y, rate, target, what=repr(p)))
                total += clips[inst][-1].size
                if total > MAX_SAMPLES:
                    raise KitError(
                        f"the clips of {directory!r} at {target} Hz add up to more than "
                        f"the limit of {MAX_SAMPLES} samples"
                    )
        kit_name = name or os.path.basename(os.path.normpath(directory)) or "kit"
        return cls(clips, int(target), name=kit_name)


def _audio_files(folder):
    """The audio files directly in `folder` (not hidden ones), in natural order."""
    return sorted(
        (
            f
            for f in os.listdir(folder)
            if f.lower().endswith(_AUDIO_EXTENSIONS)
            and not f.startswith(".")
            and os.path.isfile(os.path.join(folder, f))
        ),
        key=_natural_key,
    )


def _find_clips(directory):
    """{instrument: [paths]} of a kit folder: by subfolder, else by drumkit.xml or file name."""
    found = {}
    for entry in sorted(os.listdir(directory)):
        sub = os.path.join(directory, entry)
        if os.path.isdir(sub) and not entry.startswith("."):
            paths = _audio_files(sub)
            inst = instrument_from_filename(entry) if paths else None
            if inst:
                found.setdefault(inst, []).extend(os.path.join(sub, p) for p in paths)
    top = _audio_files(directory)
    n_files = sum(len(v) for v in found.values()) + len(top)
    if n_files > MAX_KIT_FILES:
        raise KitError(
            f"kit folder {directory!r} holds {n_files} audio files, more than the limit "
            f"of {MAX_KIT_FILES}"
        )
    named = _hydrogen_map(directory)
    for f in top:
        inst = named.get(f) or instrument_from_filename(os.path.splitext(f)[0])
        if inst is None:
            raise KitError(
                f"cannot tell the instrument of {os.path.join(directory, f)!r} from its "
                "name (start file names with an instrument, e.g. kick_001.wav, or use "
                "subfolders)"
            )
        found.setdefault(inst, []).append(os.path.join(directory, f))
    if not found:
        raise KitError(
            f"no audio files ({', '.join(_AUDIO_EXTENSIONS)}) in {directory!r} or its subfolders"
        )
    return found


def _read_clips(directory, found):
    """{instrument: [(y, rate, path)]}, empty files left out; a warning names clips too short."""
    loaded, short = {}, []
    for inst, paths in found.items():
        for p in paths:
            y, rate = _read_clip(p)
            if y.size == 0:
                continue
            if y.size < MIN_CLIP_SECONDS * rate:
                short.append(f"{os.path.relpath(p, directory)!r} ({1000 * y.size / rate:.1f} ms)")
            loaded.setdefault(inst, []).append((y, rate, p))
    if not loaded:
        raise KitError(f"every audio file in {directory!r} is empty")
    if short:
        more = f" and {len(short) - 3} more" if len(short) > 3 else ""
        # stacklevel 3: the warning names the line that called Kit.load
        warnings.warn(
            f"kit folder {directory!r}: {len(short)} clip"
            f"{'s are' if len(short) > 1 else ' is'} shorter than "
            f"{1000 * MIN_CLIP_SECONDS:g} ms (truncated files?): " + ", ".join(short[:3]) + more,
            FastDrumWarning,
            stacklevel=3,
        )
    return loaded


def _read_clip(path):
    """A kit file as mono float32 and its rate; its rate and size are checked from the header first."""
    import soundfile as sf

    try:
        _io.check_regular_file(path, "audio file")
        info = sf.info(path)
        _check_sr(info.samplerate, f"cannot read {path!r}: its sample rate")
        if (
            info.frames * info.channels > MAX_FILE_SAMPLES
            or info.frames > MAX_CLIP_SECONDS * info.samplerate
        ):
            raise KitError(
                f"cannot read {path!r}: {info.frames} frames of {info.channels} channels at "
                f"{info.samplerate} Hz is more than a one-shot (limits: {MAX_CLIP_SECONDS} s, "
                f"{MAX_FILE_SAMPLES} samples)"
            )
        y, rate = _io.read_audio(path)
    except RuntimeError as exc:  # soundfile.LibsndfileError
        raise KitError(f"cannot read {path!r}: {' '.join(str(exc).split())}") from None
    if y.ndim == 2:
        y = y.mean(axis=0)
    if not np.isfinite(y).all():
        raise KitError(f"cannot read {path!r}: it holds NaN or Inf samples")
    return y, rate


def _refuse_links_out(directory):
    """Raise KitError naming every entry of the kit folder (and its subfolders) that resolves outside it."""
    root = os.path.realpath(directory)
    outside = []
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        targets = [(entry, path)]
        if os.path.isdir(path):
            real = os.path.realpath(path)
            if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                targets += [
                    (os.path.join(entry, f), os.path.join(path, f))
                    for f in sorted(os.listdir(path))
                ]
        for name, p in targets:
            real = os.path.realpath(p)
            if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
                outside.append(f"{name!r} -> {real!r}")
    if outside:
        shown = ", ".join(outside[:3]) + (
            f" and {len(outside) - 3} more" if len(outside) > 3 else ""
        )
        raise KitError(
            f"kit folder {directory!r} has links that lead outside it, which fastdrum does not "
            f"follow: {shown}"
        )


def _natural_key(s):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def _hydrogen_map(directory):
    """{file name: instrument} from a Hydrogen drumkit.xml in `directory`, or {} if none (or unreadable)."""
    path = os.path.join(directory, "drumkit.xml")
    if not os.path.isfile(path):
        return {}
    if os.path.getsize(path) > MAX_DRUMKIT_XML_BYTES:
        raise KitError(
            f"cannot read {path!r}: {os.path.getsize(path)} bytes, more than the limit of "
            f"{MAX_DRUMKIT_XML_BYTES}"
        )
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise KitError(f"cannot read {path!r}: {exc}") from None

    def local(e):
        return e.tag.rsplit("}", 1)[-1] if isinstance(e.tag, str) else ""

    mapping = {}
    for inst in (e for e in root.iter() if local(e) == "instrument"):
        fields = {local(c): (c.text or "").strip() for c in inst}
        name = instrument_from_filename(fields.get("name", ""))
        note = fields.get("midiOutNote", "")
        note = int(note) if re.fullmatch(r"[0-9]{1,3}", note, flags=re.ASCII) else None
        if note is not None and (name is None or name not in INSTRUMENTS):
            name = NOTE_TO_INSTRUMENT.get(note, name)
        if name is None:
            continue
        for fn in (e for e in inst.iter() if local(e) == "filename"):
            if fn.text:
                mapping.setdefault(os.path.basename(fn.text.strip()), name)
    return mapping


def _seed_for(base, instrument):
    return np.random.SeedSequence(base.entropy, spawn_key=(zlib.crc32(instrument.encode()),))


def generate_kit(
    models=None,
    *,
    n=8,
    duration=None,
    seed=None,
    temperature=None,
    primer="auto",
    primer_noise=None,
    backend="auto",
    n_threads=1,
    batch_size=64,
    post=True,
    sr=None,
    name="fastdrum",
    progress=False,
):
    """Generate a kit: `n` new clips of each instrument from its WaveNet.

    Parameters
    ----------
    models : mapping or sequence, optional
        Instrument -> model (a :class:`~fastdrum.Model`, a shipped model's
        name or a model file); or a sequence of shipped model names (each
        names its instrument). Default: every shipped model
        (:func:`fastdrum.available_models`).
    n : int, default 8
        Variations per instrument.
    duration : float or mapping, optional
        Seconds per clip (per instrument if a mapping); default each model's
        (:attr:`fastdrum.Model.duration`), else :data:`DEFAULT_CLIP_SECONDS`
        (0.25 s) for a model that names none.
    seed : int, optional
        Repeatable kits; each instrument draws from its own stream, derived
        from `seed` and its name, so adding an instrument changes no other.
    temperature, primer, primer_noise, backend, n_threads, batch_size
        Passed to :func:`fastdrum.generate`.
    post : bool, default True
        Clean each clip up with :func:`fastdrum.post.process` and its
        instrument's settings.
    sr : int, optional
        Sample rate of the kit; default the highest of the models' (others
        are resampled).
    name : str
    progress : bool
        tqdm progress bars on stderr.

    Returns
    -------
    Kit

    Examples
    --------
    >>> from fastdrum.testing import random_model
    >>> kit = generate_kit({"kick": random_model(seed=0), "hihat": random_model(seed=1)},
    ...                    n=2, duration=0.01, seed=0, backend="numpy")
    >>> kit
    <Kit sr=16000 kick: 2, hihat: 2>
    """
    from ._generate import generate
    from .post import process

    resolved = _kit_models(models)
    rate = _check_sr(sr if sr is not None else max(m.sample_rate for m in resolved.values()))
    base = _checks.seed_sequence(seed, KitError)
    clips = {}
    for inst, model in resolved.items():
        d = duration.get(inst) if hasattr(duration, "get") else duration
        if d is None and model.duration is None:
            d = DEFAULT_CLIP_SECONDS
        y = generate(
            model,
            n,
            duration=d,
            seed=_seed_for(base, inst),
            temperature=temperature,
            primer=primer,
            primer_noise=primer_noise,
            backend=backend,
            n_threads=n_threads,
            batch_size=batch_size,
            progress=progress,
        )
        if post:
            y = process(y, model.sample_rate, instrument=inst)
        clips[inst] = list(resample(y, model.sample_rate, rate))
    return Kit(clips, rate, name=name)


def _kit_models(models):
    """{instrument: Model} of generate_kit's `models` (a mapping, a sequence or None: every shipped one)."""
    from .model import as_model, available_models

    if models is None:
        names = available_models()
        if not names:
            raise KitError(
                "no shipped models are installed; pass models= (instrument -> model file)"
            )
        models = {nm: nm for nm in names}
    if not hasattr(models, "items"):
        models = {_model_instrument(m): m for m in models}
    if not models:
        raise KitError("models is empty: a kit needs at least one instrument")
    resolved = {}
    for inst, m in models.items():
        key = instrument_name(inst)
        if key in resolved:
            raise KitError(f"instrument {inst!r} ({key!r}) given twice")
        resolved[key] = as_model(m)
    return resolved


def _model_instrument(m):
    """The instrument a model of a sequence plays: a Model's own, a name's or a file's stem."""
    from .model import Model

    if isinstance(m, Model):
        key = m.instrument
    elif isinstance(m, (str, os.PathLike)):
        key = os.path.splitext(os.path.basename(os.fspath(m)))[0]
    else:
        raise KitError(f"expected a model, a model name or a path, got {m!r}")
    if not key:
        raise KitError(f"cannot tell the instrument of {m!r}; pass a mapping instrument -> model")
    return key
