"""Training data: one-shots from Hydrogen drum kits or from folders of audio files.

Pipeline for each clip (all in NumPy/SciPy, no TensorFlow):
downmix to mono -> resample to the model's rate (``scipy.signal.resample_poly``)
-> align to the onset -> trim or zero-pad to the clip length -> peak-normalise.
mu-law encoding happens per batch (after augmentation) in :func:`encode`.

Every clip carries a manifest entry (file, kit, licence, SHA-256 of the file's
bytes), so an exported model records exactly what it learned from.
"""

import fnmatch
import hashlib
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import scipy.signal
import soundfile

from fastdrum import mu_law_encode

from .errors import ConfigError, DataError

__all__ = [
    "INSTRUMENT_CLASSES",
    "Clip",
    "Dataset",
    "parse_kit",
    "find_kits",
    "select_instruments",
    "load_clips",
    "preprocess",
    "split",
    "encode",
    "manifest_hash",
    "licence_for_kit",
    "AUDIO_EXTENSIONS",
    "HYDROGEN_COPYRIGHT_FILES",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg")

#: Debian's copyright files for the Hydrogen kits (the licence of record).
HYDROGEN_COPYRIGHT_FILES = (
    "/usr/share/doc/hydrogen-drumkits/copyright",
    "/usr/share/doc/hydrogen-data/copyright",
)

#: Instrument classes: General MIDI notes, and name patterns (all of ``name``
#: must match, ``exclude`` must not). An instrument whose kit has meaningful
#: MIDI notes (more than one distinct note) also belongs to a class through
#: its note, unless its name names another class.
INSTRUMENT_CLASSES = {
    "kick": dict(notes=(35, 36), name=(r"kick|bass ?drum|\bbd\b",), exclude=None),
    "snare": dict(notes=(38, 40), name=(r"snare",), exclude=r"\broll\b"),
    "hihat": dict(
        notes=(42,),
        name=(r"hi[- ]?hat|\bhh\b|\bhat\b|\bchh\b", r"clos|\bcl\b|\bchh\b"),
        exclude=r"open|pedal|foot",
    ),
    "hihat-open": dict(
        notes=(46,),
        name=(r"hi[- ]?hat|\bhh\b|\bhat\b|\bohh\b", r"open|\bop\b|\bohh\b"),
        exclude=r"semi",
    ),
    "hihat-pedal": dict(
        notes=(44,), name=(r"hi[- ]?hat|\bhh\b|\bhat\b", r"pedal|foot|\bpd\b"), exclude=None
    ),
    # The other voices of the drum machine (training/voices.py); notes are General MIDI's.
    "clap": dict(notes=(39,), name=(r"clap",), exclude=None),
    "tom_low": dict(notes=(41, 43), name=(r"tom", r"low|floor|\blo\b"), exclude=None),
    "tom_mid": dict(notes=(45, 47), name=(r"tom", r"mid|med"), exclude=None),
    "tom_high": dict(notes=(48, 50), name=(r"tom", r"\bhi\b|high|tomhi"), exclude=r"floor"),
    "crash": dict(
        notes=(49, 52, 55, 57), name=(r"crash|splash|china|cymbal",), exclude=r"ride|choke"
    ),
    "ride": dict(notes=(51, 53, 59), name=(r"ride",), exclude=r"crash|choke"),
}
INSTRUMENT_CLASSES["openhat"] = INSTRUMENT_CLASSES["hihat-open"]

#: Names that are no drum voice even where their General MIDI note says one (a kit that puts a
#: stick click on note 39, the clap's): the note alone never makes them a voice.
NOT_A_VOICE = r"stick|rim ?(click|shot)?$|cowbell|tambourine|clave|shaker|conga|agogo|maraca|whistle|bongo|cajon"


@dataclass
class Clip:
    """One training clip: aligned, normalised audio at the model's rate and its provenance."""

    audio: np.ndarray  # float32, aligned to the onset, longer than the clip (for pitch shifts)
    entry: dict  # manifest entry: file, kit, instrument, licence, sha256, ...
    group: str = ""  # clips of one group go to the same split (velocity layers of one instrument)


@dataclass
class Dataset:
    """Training and validation clips of one instrument, with the manifest describing them."""

    train: list
    val: list
    manifest: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- kits
def _strip_ns(root):
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def _parse_copyright(path):
    """Map Debian copyright ``Files:`` patterns to their ``License:`` (first line)."""
    rules = []
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return rules
    for para in re.split(r"\n\s*\n", text):
        m_files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", para, re.M)
        m_lic = re.search(r"^License:\s*(.+)$", para, re.M)
        if m_files and m_lic:
            patterns = m_files.group(1).split()
            rules.append((patterns, m_lic.group(1).strip()))
    return rules


def licence_for_kit(kit_dir, xml_licence=None, copyright_files=HYDROGEN_COPYRIGHT_FILES):
    """Licence of a kit: Debian's copyright record if it lists the kit, else drumkit.xml's.

    Returns ``(licence, source)``.
    """
    name = os.path.basename(os.path.normpath(kit_dir))
    for path in copyright_files:
        rules = _parse_copyright(path)
        for patterns, licence in rules:
            for pat in patterns:
                base = os.path.basename(pat)
                if base.endswith(".h2drumkit") and fnmatch.fnmatchcase(
                    name, base[: -len(".h2drumkit")]
                ):
                    return licence, path
        # hydrogen-data ships its kits under its catch-all "Files: *" stanza.
        if "hydrogen-data" in path and os.path.realpath(kit_dir).startswith(
            "/usr/share/hydrogen/data/drumkits"
        ):
            pkg_list = "/var/lib/dpkg/info/hydrogen-data.list"
            try:
                with open(pkg_list, encoding="utf-8") as f:
                    owned = f.read()
            except OSError:
                owned = ""
            if os.path.join(os.path.realpath(kit_dir), "drumkit.xml") in owned:
                for patterns, licence in rules:
                    if "*" in patterns:
                        return licence, path
    if xml_licence:
        return xml_licence, "drumkit.xml"
    return "unknown", None


def parse_kit(kit_dir):
    """Parse a Hydrogen kit's drumkit.xml.

    Returns
    -------
    dict with ``name``, ``dir``, ``licence``, ``licence_source`` and
    ``instruments``: a list of dicts (``name``, ``midi_note`` or None, ``files``:
    absolute paths of its sample layers, in file order).

    Raises
    ------
    DataError
        If drumkit.xml is missing or not valid XML.
    """
    xml_path = os.path.join(kit_dir, "drumkit.xml")
    if not os.path.isfile(xml_path):
        raise DataError(f"{kit_dir!r} is not a Hydrogen kit: it has no drumkit.xml")
    try:
        root = _strip_ns(ET.parse(xml_path).getroot())
    except ET.ParseError as exc:
        raise DataError(f"{xml_path!r} is not valid XML: {exc}") from None
    if root.tag != "drumkit_info":
        raise DataError(f"{xml_path!r} is not a Hydrogen drumkit.xml (root element {root.tag!r})")
    xml_licence = (root.findtext("license") or "").strip() or None
    licence, source = licence_for_kit(kit_dir, xml_licence)
    instruments = []
    for ins in root.iter("instrument"):
        name = (ins.findtext("name") or "").strip()
        note_text = (ins.findtext("midiOutNote") or "").strip()
        try:
            note = int(note_text) if note_text else None
        except ValueError:
            note = None
        files = [(l.findtext("filename") or "").strip() for l in ins.iter("layer")]
        if not files and ins.findtext("filename"):  # old single-sample format
            files = [ins.findtext("filename").strip()]
        files = [os.path.join(kit_dir, f) for f in files if f]
        instruments.append(dict(name=name, midi_note=note, files=files))
    return dict(
        name=(root.findtext("name") or os.path.basename(kit_dir)).strip(),
        dir=os.path.abspath(kit_dir),
        licence=licence,
        licence_source=source,
        xml_licence=xml_licence,
        instruments=instruments,
    )


def find_kits(path):
    """Kit folders under `path`: `path` itself if it holds drumkit.xml, else its subfolders that do."""
    if not os.path.isdir(path):
        raise DataError(f"kits folder {path!r} does not exist or is not a folder")
    if os.path.isfile(os.path.join(path, "drumkit.xml")):
        return [path]
    kits = sorted(
        os.path.join(path, d)
        for d in os.listdir(path)
        if os.path.isfile(os.path.join(path, d, "drumkit.xml"))
    )
    if not kits:
        raise DataError(f"no Hydrogen kits (folders with a drumkit.xml) in {path!r}")
    return kits


def _name_matches(cls, name):
    spec = INSTRUMENT_CLASSES[cls]
    if not all(re.search(p, name, re.I) for p in spec["name"]):
        return False
    return not (spec["exclude"] and re.search(spec["exclude"], name, re.I))


def instrument_matcher(instrument):
    """A predicate ``(name, midi_note, notes_meaningful) -> bool`` for an instrument class or name.

    Known classes (:data:`INSTRUMENT_CLASSES`) match by name patterns and by
    General MIDI note; any other `instrument` is a case-insensitive regular
    expression searched in the instrument's (or file's) name.
    """
    if not isinstance(instrument, str) or not instrument.strip():
        raise ConfigError(f"instrument must be a non-empty name, got {instrument!r}")
    key = instrument.strip().lower()
    if key in INSTRUMENT_CLASSES:
        notes = INSTRUMENT_CLASSES[key]["notes"]
        others = [
            c for c in INSTRUMENT_CLASSES if INSTRUMENT_CLASSES[c] is not INSTRUMENT_CLASSES[key]
        ]

        def match(name, note=None, notes_meaningful=False):
            if _name_matches(key, name):
                return True
            return (
                notes_meaningful
                and note in notes
                and not re.search(NOT_A_VOICE, name, re.I)
                and not any(_name_matches(c, name) for c in others)
            )

        return match
    try:
        rx = re.compile(instrument, re.I)
    except re.error as exc:
        raise ConfigError(
            f"instrument {instrument!r} is neither a known class "
            f"{sorted(INSTRUMENT_CLASSES)!r} nor a valid regular expression: {exc}"
        ) from None
    return lambda name, note=None, notes_meaningful=False: bool(rx.search(name))


def select_instruments(kit, instrument):
    """The instruments of a parsed kit that belong to `instrument` (a class or a name pattern)."""
    match = instrument_matcher(instrument)
    notes = {i["midi_note"] for i in kit["instruments"] if i["files"]}
    meaningful = len(notes - {None}) > 1
    return [
        i for i in kit["instruments"] if i["files"] and match(i["name"], i["midi_note"], meaningful)
    ]


# ----------------------------------------------------------------------------- audio
def sha256_file(path):
    """The SHA-256 of the file at `path`, as hex digits (read in blocks, as hashlib reads it)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_audio(path):
    """Read an audio file as mono float64 and its rate; a clear DataError if it is not audio."""
    try:
        y, sr = soundfile.read(path, dtype="float64", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError) as exc:
        raise DataError(f"{path!r} is not a readable audio file: {exc}") from None
    if y.shape[0] == 0:
        raise DataError(f"{path!r} holds no audio samples")
    if not np.isfinite(y).all():
        raise DataError(f"{path!r} contains NaN or Inf samples")
    return y.mean(axis=1), int(sr)


def resample(y, sr_in, sr_out):
    """Resample with a polyphase filter (``scipy.signal.resample_poly``) by the exact ratio."""
    if sr_in == sr_out:
        return np.asarray(y, dtype=np.float64)
    ratio = Fraction(int(sr_out), int(sr_in))
    return scipy.signal.resample_poly(y, ratio.numerator, ratio.denominator)


def onset(y, threshold=0.1, preroll=0):
    """Index where the hit starts: the first sample reaching `threshold` x peak, minus `preroll`."""
    a = np.abs(y)
    peak = a.max() if a.size else 0.0
    if peak == 0:
        return 0
    first = int(np.argmax(a >= threshold * peak))
    return max(0, first - int(preroll))


SILENCE_PEAK = 1e-4
#: The peak every clip is normalised to (the trainer's ``--peak`` default; the evaluation's level
#: criterion measures generated clips against it).
PEAK = 0.95


def preprocess(
    y,
    sr_in,
    *,
    sample_rate,
    clip_samples,
    margin=1.25,
    onset_threshold=0.1,
    preroll_s=0.001,
    peak=PEAK,
):
    """Mono audio -> aligned, peak-normalised audio at `sample_rate`, ``margin x clip_samples`` long.

    The extra length lets pitch-shift augmentation (which shortens a clip
    when it raises the pitch) still fill `clip_samples`; :func:`fit` trims.
    Returns None for a silent clip.
    """
    y = resample(y, sr_in, sample_rate)
    if np.abs(y).max(initial=0.0) < SILENCE_PEAK:
        return None
    start = onset(y, onset_threshold, round(preroll_s * sample_rate))
    n = int(math.ceil(clip_samples * margin))
    seg = np.zeros(n, dtype=np.float64)
    part = y[start : start + n]
    seg[: len(part)] = part
    return (seg * (peak / np.abs(seg).max())).astype(np.float32)


def fit(y, clip_samples, peak=PEAK):
    """Trim or zero-pad to `clip_samples` and peak-normalise to `peak`."""
    out = np.zeros(clip_samples, dtype=np.float64)
    part = np.asarray(y[:clip_samples], dtype=np.float64)
    out[: len(part)] = part
    m = np.abs(out).max()
    if m > 0:
        out *= peak / m
    return out.astype(np.float32)


def pitch_shift(y, semitones):
    """Shift pitch (and duration) by resampling: ``semitones > 0`` plays faster and higher."""
    if semitones == 0:
        return np.asarray(y, dtype=np.float32)
    ratio = Fraction(2.0 ** (-semitones / 12.0)).limit_denominator(200)
    return scipy.signal.resample_poly(y, ratio.numerator, ratio.denominator).astype(np.float32)


def encode(audio, quantization_channels):
    """mu-law codes (int32) of audio clips (any shape)."""
    return mu_law_encode(audio, quantization_channels)


# ----------------------------------------------------------------------------- loading
def _folder_files(folder):
    if not os.path.isdir(folder):
        raise DataError(f"data folder {folder!r} does not exist or is not a folder")
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.lower().endswith(AUDIO_EXTENSIONS):
                files.append(os.path.join(dirpath, fn))
    if not files:
        raise DataError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {folder!r}")
    return files


class _Collector:
    """Reads and preprocesses clips, once per file content (SHA-256); keeps the silent ones it skipped."""

    def __init__(self, **preprocess_kwargs):
        self.kwargs = preprocess_kwargs
        self.clips, self.skipped, self.seen = [], [], {}

    def add(self, path, entry, group):
        digest = sha256_file(path)
        if digest in self.seen:  # the same file listed twice (e.g. two instruments share it)
            first = self.seen[digest]
            first["also"] = first.get("also", []) + [entry.get("instrument") or entry["file"]]
            return
        y, sr = read_audio(path)
        audio = preprocess(y, sr, **self.kwargs)
        entry.update(sha256=digest, source_sample_rate=sr, source_samples=int(len(y)))
        if audio is None:
            self.skipped.append(dict(entry, reason="silent"))
            return
        self.seen[digest] = entry
        self.clips.append(Clip(audio=audio, entry=entry, group=group))


def _add_folder(collector, folder, instrument, match, licence):
    """Every audio file under `folder` whose relative path (without extension) `match`-es."""
    matched = 0
    for path in _folder_files(folder):
        rel = os.path.relpath(path, folder)
        if not match(os.path.splitext(rel)[0]):
            continue
        matched += 1
        collector.add(
            path,
            dict(
                file=os.path.abspath(path),
                kit=None,
                instrument=None,
                midi_note=None,
                licence=licence or "unknown",
            ),
            group=f"file:{os.path.abspath(path)}",
        )
    if not matched:
        raise DataError(
            f"no audio file in {folder!r} has a name matching instrument {instrument!r}"
            " (use --instrument all to take every file)"
        )


def _add_kits(collector, kits_path, instrument, holdout, holdout_found):
    """The `instrument` samples of every kit under `kits_path` but the held-out ones; the kits used.

    Adds the held-out names it meets to `holdout_found`.
    """
    kits = find_kits(kits_path)
    used = {}
    for kit_dir in kits:
        kit = parse_kit(kit_dir)
        names = {kit["name"], os.path.basename(os.path.normpath(kit_dir))}
        if names & holdout:
            holdout_found |= names & holdout
            continue
        chosen = select_instruments(kit, instrument)
        if chosen:
            used[kit["name"]] = dict(
                licence=kit["licence"], licence_source=kit["licence_source"], dir=kit["dir"]
            )
        for ins in chosen:
            for path in ins["files"]:
                if not os.path.isfile(path):
                    raise DataError(
                        f"kit {kit['name']!r}: instrument {ins['name']!r} names a sample "
                        f"file that does not exist: {path!r}"
                    )
                collector.add(
                    path,
                    dict(
                        file=os.path.relpath(path, os.path.dirname(kit["dir"])),
                        kit=kit["name"],
                        instrument=ins["name"],
                        midi_note=ins["midi_note"],
                        licence=kit["licence"],
                    ),
                    group=f"kit:{kit['name']}/{ins['name']}",
                )
    if not used and not holdout_found:
        names = ", ".join(repr(parse_kit(k)["name"]) for k in kits)
        raise DataError(f"no instrument of kit(s) {names} is a {instrument!r}")
    return used


def load_clips(
    *,
    instrument,
    sample_rate,
    clip_samples,
    data_dirs=(),
    kit_dirs=(),
    holdout_kits=(),
    licence=None,
    onset_threshold=0.1,
    peak=PEAK,
    margin=1.25,
):
    """Find, read and preprocess every clip of `instrument`.

    Parameters
    ----------
    instrument : str
        A class of :data:`INSTRUMENT_CLASSES` or a regular expression on names.
    sample_rate, clip_samples : int
    data_dirs : sequence of str
        Folders of audio files; a file belongs to `instrument` if its path
        (relative to the folder) matches, or if `instrument` is ``"all"``.
    kit_dirs : sequence of str
        Hydrogen kits, or folders of kits.
    holdout_kits : sequence of str
        Kit names (or folder names) left out entirely; an unknown name is an error.
    licence : str, optional
        Licence recorded for files from `data_dirs`.

    Returns
    -------
    clips : list of Clip
    info : dict
        ``kits`` (name -> licence), ``holdout_kits``, ``skipped`` (silent files).

    Raises
    ------
    DataError
        No data given, no clips found, an unreadable file, a bad kit.
    """
    if not data_dirs and not kit_dirs:
        raise DataError(
            "no training data: give --data DIR (audio files) and/or --kits DIR (Hydrogen kits)"
        )
    match = (
        instrument_matcher(instrument) if instrument.lower() != "all" else (lambda *a, **k: True)
    )
    collector = _Collector(
        sample_rate=sample_rate,
        clip_samples=clip_samples,
        onset_threshold=onset_threshold,
        peak=peak,
        margin=margin,
    )
    holdout = {h.strip() for h in holdout_kits if h.strip()}
    holdout_found, kits_used = set(), {}
    for folder in data_dirs:
        _add_folder(collector, folder, instrument, match, licence)
    for kits_path in kit_dirs:
        kits_used.update(_add_kits(collector, kits_path, instrument, holdout, holdout_found))
    missing = holdout - holdout_found
    if missing:
        raise DataError(f"held-out kit(s) {sorted(missing)!r} not found among the kits given")
    if not collector.clips:
        raise DataError(
            f"no usable (non-silent) clips of {instrument!r} found"
            + (f"; {len(collector.skipped)} silent file(s) skipped" if collector.skipped else "")
        )
    return collector.clips, dict(
        kits=kits_used, holdout_kits=sorted(holdout), skipped=collector.skipped
    )


def split(clips, val_fraction, seed):
    """Hold whole groups (all velocity layers of one instrument) out for validation.

    Returns ``(train, val)``; `val` holds at least ``ceil(val_fraction x N)``
    clips when ``val_fraction > 0`` and at least two groups exist; `train` is
    never empty.
    """
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"val_fraction must lie in [0, 1), got {val_fraction!r}")
    groups = {}
    for c in clips:
        groups.setdefault(c.group, []).append(c)
    names = sorted(groups)
    if val_fraction == 0 or len(names) < 2:
        return list(clips), []
    order = np.random.default_rng(seed).permutation(len(names))
    want = math.ceil(val_fraction * len(clips))
    val_groups = []
    n_val = 0
    for i in order:
        if n_val >= want or len(val_groups) == len(names) - 1:
            break
        val_groups.append(names[i])
        n_val += len(groups[names[i]])
    val_set = set(val_groups)
    train = [c for c in clips if c.group not in val_set]
    val = [c for c in clips if c.group in val_set]
    return train, val


def manifest_hash(entries):
    """SHA-256 of the manifest entries as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest()


def build_dataset(*, instrument, sample_rate, clip_samples, val_fraction=0.1, seed=0, **kwargs):
    """:func:`load_clips` + :func:`split` + the manifest."""
    clips, info = load_clips(
        instrument=instrument, sample_rate=sample_rate, clip_samples=clip_samples, **kwargs
    )
    train, val = split(clips, val_fraction, seed)
    for c in train:
        c.entry["split"] = "train"
    for c in val:
        c.entry["split"] = "val"
    entries = [c.entry for c in train + val]
    manifest = dict(
        instrument=instrument,
        files=entries,
        kits=info["kits"],
        holdout_kits=info["holdout_kits"],
        skipped=info["skipped"],
        sha256=manifest_hash(entries),
    )
    return Dataset(train=train, val=val, manifest=manifest)
