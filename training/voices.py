"""Training data for a voice-conditioned model: every drum voice, from every source, deduplicated.

Sources are Hydrogen kits (drumkit.xml; voices found by instrument name, or by
General MIDI note where the kit's notes mean something), SoundFont 2 kits
(the note each sample plays: General MIDI drum notes) and folders of one-shots
(each file's voice found by its name, as a Hydrogen instrument's). Each clip is read,
downmixed, resampled to the model's rate and aligned to its onset by
:func:`training.data.preprocess`, exactly as single-instrument data is.

Duplicates are removed across sources in two passes: bit-identical audio
(after decoding to float, so one recording stored twice, or in two SF2 presets,
counts once), then near-identical recordings of one voice (normalised
correlation of the first 0.1 s above :data:`DUPLICATE_CORRELATION`: the same
sample stored in two formats or at two rates). A training clip that duplicates
a clip of a held-out kit is dropped, so the evaluation's real clips are never
trained on.
"""

import hashlib
import os
import re

import numpy as np

from fastdrum.instruments import ANY_VOICE, INSTRUMENTS

from . import data as data_mod
from .errors import DataError
from .sf2 import read_sf2

__all__ = [
    "ANY_VOICE",
    "VOICES",
    "VOICE_DURATIONS",
    "GM_NOTES",
    "SF2_SOURCES",
    "FOLDER_SOURCES",
    "voice_of_name",
    "load_voice_clips",
    "dedupe",
    "build_voice_dataset",
]

#: The voices of the drum machine, in the order of the model's embedding table.
VOICES = tuple(INSTRUMENTS)


#: Clip length per voice (seconds): long enough for each voice's decay (cymbals and open hats >= 1 s).
VOICE_DURATIONS = dict(
    kick=0.5,
    snare=0.5,
    hihat=0.3,
    openhat=1.0,
    clap=0.4,
    tom_low=0.8,
    tom_mid=0.7,
    tom_high=0.6,
    crash=1.5,
    ride=1.2,
)

#: General MIDI drum notes of each voice (GM level 1 percussion map). 44 (pedal hat) is left out:
#: it is neither a closed nor an open hat; 37 (side stick) and the percussion above 59 likewise.
GM_NOTES = dict(
    kick=(35, 36),
    snare=(38, 40),
    clap=(39,),
    hihat=(42,),
    openhat=(46,),
    tom_low=(41, 43),
    tom_mid=(45, 47),
    tom_high=(48, 50),
    crash=(49, 52, 55, 57),
    ride=(51, 53, 59),
)

#: Roland GS drum sets that give General MIDI drum notes other sounds, by preset number (bank 128):
#: the Brush set (40) plays Brush Slap and Brush Swirl at 39 and 40 (not a hand clap and a snare), the
#: Orchestra set (48) timpani at 41-53 (not toms, hats and cymbals). Their zones there are left out.
GS_REDEFINED_NOTES = {40: (39, 40), 48: tuple(range(41, 54))}

#: SoundFont sources: file, licence of record, notes to skip (not General MIDI in that file) and, by
#: preset number, notes to skip in that preset only (default: :data:`GS_REDEFINED_NOTES`).
SF2_SOURCES = {
    # AVL Drumkits: GM up to 47; 48 is a hat swish, 50/52/58 cymbal chokes, 60 a gong.
    "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2": dict(
        licence="GPL-2+ (Debian's copyright file of avldrums.lv2-soundfont)",
        skip_notes=(48, 50, 52, 58),
    ),
    "/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2": dict(
        licence="GPL-2+ (Debian's copyright file of avldrums.lv2-soundfont)",
        skip_notes=(48, 50, 52, 58),
    ),
    # FluidR3 follows GS: its Brush set plays a brush snare ("Brush Snr 2") at 39 and a swirl at 40,
    # as do its Brush 1 and Brush 2 (41, 42); its Orchestra Kit plays timpani at 41-53.
    "/usr/share/sounds/sf2/FluidR3_GM.sf2": dict(
        licence="MIT (Debian's copyright file of fluid-soundfont-gm)",
        skip_notes=(),
        skip_preset_notes={**GS_REDEFINED_NOTES, 41: (39, 40), 42: (39, 40)},
    ),
}

#: Folders of one-shots: the kit name their clips carry and the licence of record.
FOLDER_SOURCES = {
    # LMMS's drum samples: mostly electronic (kicks, snares, claps, hats, a few toms and cymbals);
    # its untitled toms (tom01-05), rims, shakers and effects match no voice by name.
    "/usr/share/lmms/samples/drums": dict(
        kit="LMMS samples/drums",
        licence="GPL-2+ (Debian's copyright file of lmms-common)",
    ),
}

#: Two recordings of one voice whose onset-aligned first 0.1 s correlate above this are one sound.
DUPLICATE_CORRELATION = 0.98


def _voice_of_note(note, skip=()):
    """The voice General MIDI gives drum note `note` (None: no voice, or a note in `skip`)."""
    if note in skip:
        return None
    for v, notes in GM_NOTES.items():
        if note in notes:
            return v
    return None


def voice_of_name(name):
    """The voice a one-shot's file name says (None: none, or more than one).

    Underscores, digits and punctuation count as spaces ("tom_hi01" is "tom hi"), then the name is
    matched as a Hydrogen instrument's name is (:func:`training.data.instrument_matcher`, by name
    alone: a file has no MIDI note)."""
    words = re.sub(r"[\W_\d]+", " ", name).strip()
    found = [v for v in VOICES if data_mod.instrument_matcher(v)(words)]
    return found[0] if len(found) == 1 else None


def _folder_source(folder):
    """``(kit name, licence)`` of a folder of one-shots: :data:`FOLDER_SOURCES`' or its own name's."""
    spec = FOLDER_SOURCES.get(os.path.realpath(folder), {})
    return (
        spec.get("kit") or os.path.basename(os.path.normpath(folder)),
        spec.get("licence", "unknown"),
    )


def _folder_candidates(data_dirs, holdout):
    """``(voice, path, entry, group, held_out)`` for every one-shot of the folders whose name says a voice."""
    out = []
    for folder in data_dirs:
        kit, licence = _folder_source(folder)
        for path in data_mod._folder_files(folder):
            rel = os.path.relpath(path, folder)
            voice = voice_of_name(os.path.splitext(rel)[0])
            if voice is None:
                continue
            entry = dict(
                file=os.path.abspath(path),
                kit=kit,
                instrument=os.path.splitext(os.path.basename(path))[0],
                midi_note=None,
                voice=voice,
                licence=licence,
                source="folder",
            )
            out.append((voice, path, entry, f"file:{os.path.abspath(path)}", kit in holdout))
    return out


def _hydrogen_candidates(kit_dirs, holdout, found_elsewhere=frozenset()):
    """``(voice, path, entry, group, held_out)`` for every sample of every voice in the kits; a
    DataError for a held-out kit neither among them nor in `found_elsewhere`."""
    out, found = [], set()
    for kits_path in kit_dirs:
        for kit_dir in data_mod.find_kits(kits_path):
            kit = data_mod.parse_kit(kit_dir)
            base = os.path.basename(os.path.normpath(kit_dir))
            held = kit["name"] in holdout or base in holdout
            if held:
                found |= {kit["name"], base} & holdout
            taken = set()
            for voice in VOICES:
                for ins in data_mod.select_instruments(kit, voice):
                    if id(ins) in taken:
                        continue
                    taken.add(id(ins))
                    for path in ins["files"]:
                        if not os.path.isfile(path):
                            continue
                        entry = dict(
                            file=os.path.relpath(path, os.path.dirname(kit["dir"])),
                            kit=kit["name"],
                            instrument=ins["name"],
                            midi_note=ins["midi_note"],
                            voice=voice,
                            licence=kit["licence"],
                            source="hydrogen",
                        )
                        out.append((voice, path, entry, f"kit:{kit['name']}/{ins['name']}", held))
    missing = holdout - found - set(found_elsewhere)
    if missing:
        raise DataError(f"held-out kit(s) {sorted(missing)!r} not found among the kits given")
    return out


def _sf2_candidates(sf2_files):
    """``(voice, (path, sample, reader), entry, group, False)`` for every drum sample of the SF2 files."""
    out = []
    for path in sf2_files:
        spec = SF2_SOURCES.get(os.path.realpath(path), dict(licence="unknown", skip_notes=()))
        by_preset = spec.get("skip_preset_notes", GS_REDEFINED_NOTES)
        samples, zones, reader = read_sf2(path)
        by_index = {s.index: s for s in samples}
        drums = [z for z in zones if z.bank == 128] or zones
        seen = set()
        for z in drums:
            preset_skip = by_preset.get(z.preset, ()) if z.bank == 128 else ()
            voice = _voice_of_note(z.note, (*spec["skip_notes"], *preset_skip))
            s = by_index[z.sample]
            if voice is None or s.kind & 2:  # right halves join their left half below
                continue
            key = (voice, s.index)
            if key in seen:
                continue
            seen.add(key)
            right = by_index.get(s.link) if s.kind & 4 else None
            entry = dict(
                file=f"{os.path.basename(path)}#{s.name}",
                kit=f"{os.path.basename(path)}:{z.preset_name}",
                instrument=s.name,
                midi_note=z.note,
                voice=voice,
                licence=spec["licence"],
                source="sf2",
                velocity=list(z.velocity),
            )
            out.append(
                (
                    voice,
                    (path, s, right, reader),
                    entry,
                    f"sf2:{os.path.basename(path)}/{z.preset_name}/{z.note}",
                    False,
                )
            )
    return out


def _read(src):
    """Mono float64 audio and its rate, from a file path or an SF2 sample (a stereo pair is averaged)."""
    if isinstance(src, str):
        return data_mod.read_audio(src)
    _path, s, right, reader = src
    y = reader(s)
    if right is not None and right.end - right.start == s.end - s.start:
        y = 0.5 * (y + reader(right))
    return y, s.rate


def dedupe(clips, *, threshold=DUPLICATE_CORRELATION, window=None):
    """Indices of `clips` to keep: the first of every group of near-identical clips of one voice.

    A clip is dropped when its onset-aligned first `window` samples correlate
    (normalised, lag 0) above `threshold` with a clip kept before it. Clips of
    held-out kits come first in `clips`, so they are the ones kept.
    """
    keep, kept_by_voice = [], {}
    for i, c in enumerate(clips):
        w = c.audio[: window or len(c.audio)].astype(np.float64)
        n = np.linalg.norm(w)
        if n == 0:
            continue
        w = w / n
        prev = kept_by_voice.setdefault(c.entry["voice"], [])
        if any(len(p) == len(w) and float(p @ w) > threshold for p in prev):
            c.entry["duplicate"] = True
            continue
        prev.append(w)
        keep.append(i)
    return keep


def load_voice_clips(
    *,
    sample_rate,
    kit_dirs=(),
    sf2_files=(),
    data_dirs=(),
    holdout_kits=(),
    voices=VOICES,
    durations=None,
    onset_threshold=0.1,
    peak=data_mod.PEAK,
    margin=1.25,
):
    """Every clip of every voice: ``(train_clips, holdout_clips, info)``.

    Each clip's entry has ``voice`` and provenance (file, kit, licence, sha256 of
    the decoded audio). A file of a folder in `data_dirs` that cannot be read as audio is left out
    and listed in ``info["unreadable"]`` (a folder is taken as found); a kit's or SoundFont's sample
    that cannot be read is an error. Clips are :func:`training.data.preprocess`-ed to
    ``durations[voice]`` seconds at `sample_rate` (times `margin`).

    Raises
    ------
    DataError
        No source given, a held-out kit not found, or a voice with no clip.
    """
    if not kit_dirs and not sf2_files and not data_dirs:
        raise DataError("no training data: give --kits DIR, --sf2 FILE and/or --data DIR")
    durations = dict(VOICE_DURATIONS, **(durations or {}))
    holdout = {h.strip() for h in holdout_kits if h.strip()}
    folders = _folder_candidates(data_dirs, holdout)
    held_folders = {_folder_source(f)[0] for f in data_dirs} & holdout
    cands = _hydrogen_candidates(kit_dirs, holdout, held_folders) + _sf2_candidates(sf2_files)
    cands = [c for c in cands + folders if c[0] in voices]
    cands.sort(key=lambda c: not c[4])  # held-out clips first: dedupe keeps them
    clips, held, digests, copies, unreadable = [], [], set(), 0, []
    for voice, src, entry, group, is_held in cands:
        try:
            y, sr = _read(src)
        except DataError as exc:
            if entry["source"] != "folder":
                raise
            unreadable.append(dict(file=entry["file"], reason=str(exc)))
            continue
        digest = hashlib.sha256(np.ascontiguousarray(y, dtype="<f8").tobytes()).hexdigest()
        if digest in digests:
            copies += 1
            continue
        digests.add(digest)
        T = int(round(durations[voice] * sample_rate))
        audio = data_mod.preprocess(
            y,
            sr,
            sample_rate=sample_rate,
            clip_samples=T,
            margin=margin,
            onset_threshold=onset_threshold,
            peak=peak,
        )
        if audio is None:
            continue
        entry.update(
            sha256=digest,
            source_sample_rate=int(sr),
            source_samples=int(len(y)),
            split="holdout" if is_held else None,
        )
        clip = data_mod.Clip(audio=audio, entry=entry, group=group)
        (held if is_held else clips).append(clip)
    every, n_held = held + clips, len(held)
    keep = set(dedupe(every, window=int(0.1 * sample_rate)))
    near = len(every) - len(keep)
    held = [every[i] for i in range(n_held) if i in keep]
    clips = [every[i] for i in range(n_held, len(every)) if i in keep]
    counts = {v: sum(c.entry["voice"] == v for c in clips) for v in voices}
    empty = [v for v, n in counts.items() if n == 0]
    if empty:
        raise DataError(f"no training clip of voice(s) {empty!r} in the sources given")
    info = dict(
        counts=counts,
        holdout_counts={v: sum(c.entry["voice"] == v for c in held) for v in voices},
        bit_identical_copies=copies,
        near_duplicates=near,
        holdout_kits=sorted(holdout),
        unreadable=unreadable,
    )
    return clips, held, info


def build_voice_dataset(*, voices, sample_rate, durations, val_fraction=0.1, seed=0, **kwargs):
    """:func:`load_voice_clips`, a validation split per voice, and the manifest: a ``data.Dataset``.

    The manifest also lists the held-out clips (``holdout``): the evaluation's real clips.
    """
    clips, held, info = load_voice_clips(
        sample_rate=sample_rate, voices=voices, durations=durations, **kwargs
    )
    train, val = [], []
    for v in voices:
        t, va = data_mod.split([c for c in clips if c.entry["voice"] == v], val_fraction, seed)
        train += t
        val += va
    for c in train:
        c.entry["split"] = "train"
    for c in val:
        c.entry["split"] = "val"
    entries = [c.entry for c in train + val]
    kits = {}
    for e in entries:
        kits.setdefault(e["kit"], dict(licence=e["licence"]))
    manifest = dict(
        voices=list(voices),
        files=entries,
        holdout=[c.entry for c in held],
        kits=kits,
        holdout_kits=info["holdout_kits"],
        durations={v: durations[v] for v in voices},
        counts=info["counts"],
        holdout_counts=info["holdout_counts"],
        bit_identical_copies=info["bit_identical_copies"],
        near_duplicates=info["near_duplicates"],
        skipped=list(info["unreadable"]),
        sha256=data_mod.manifest_hash(entries),
    )
    return data_mod.Dataset(train=train, val=val, manifest=manifest)
