"""A small, bounded reader of SoundFont 2 drum kits: which sample each note plays.

SF2 is a RIFF file (``RIFF sfbk``): 16-bit PCM in ``sdta/smpl`` (with the low
8 bits of 24-bit samples in an optional ``sdta/sm24``), and the "hydra" in
``pdta``: presets (``phdr``), their zones (``pbag``) and generators
(``pgen``), instruments (``inst``, ``ibag``, ``igen``) and sample headers
(``shdr``). A preset zone's generator 41 names an instrument; an instrument
zone's generator 53 names a sample; generators 43 and 44 limit a zone to a key
range and a velocity range. Records are fixed-size little-endian structs
(SoundFont 2.04 specification, section 7).

Why not a library: the one on PyPI (sf2utils) imports ``audioop``, which
Python 3.13 removed (and 3.11 warns about), and it mis-merges 24-bit samples.
This reader does only what the training data needs: kits (presets) -> note ->
the samples it plays, as float arrays, never more bytes than the file holds.
"""

import os
import struct
from dataclasses import dataclass

import numpy as np

from .errors import DataError

__all__ = ["SF2Sample", "SF2Zone", "read_sf2", "kit_zones"]

#: Generator numbers used here (SoundFont 2.04, section 8.1.2).
GEN_INSTRUMENT, GEN_KEY_RANGE, GEN_VEL_RANGE, GEN_SAMPLE_ID = 41, 43, 44, 53
#: Record sizes of the hydra's sub-chunks.
_RECORDS = {
    "phdr": 38,
    "pbag": 4,
    "pmod": 10,
    "pgen": 4,
    "inst": 22,
    "ibag": 4,
    "imod": 10,
    "igen": 4,
    "shdr": 46,
}
#: Bound on the file size read into memory.
MAX_SF2_BYTES = 2**31


@dataclass(frozen=True)
class SF2Sample:
    """One sample header: ``name``, ``start``/``end`` (sample frames in smpl), ``rate``, ``link``, ``kind``."""

    index: int
    name: str
    start: int
    end: int
    rate: int
    link: int
    kind: int  # 1 mono, 2 right, 4 left, 8 linked (bit 0x8000: ROM)


@dataclass(frozen=True)
class SF2Zone:
    """A note of a preset and one sample it plays (with the zone's velocity range)."""

    bank: int
    preset: int
    preset_name: str
    note: int
    velocity: tuple
    sample: int


def _cstr(b):
    return b.split(b"\0", 1)[0].decode("latin-1").strip()


def _chunks(buf, start, end, path):
    """Yield ``(id, data_start, data_end)`` of the RIFF chunks in ``buf[start:end]``."""
    pos = start
    while pos + 8 <= end:
        cid = buf[pos : pos + 4].decode("latin-1")
        (size,) = struct.unpack_from("<I", buf, pos + 4)
        if pos + 8 + size > end:
            raise DataError(f"{path!r}: SF2 chunk {cid!r} runs past the end of its container")
        yield cid, pos + 8, pos + 8 + size
        pos += 8 + size + (size & 1)


class _SF2:
    def __init__(self, path):
        self.path = path
        size = os.path.getsize(path)
        if size > MAX_SF2_BYTES:
            raise DataError(f"{path!r}: SF2 file of {size} bytes is larger than {MAX_SF2_BYTES}")
        with open(path, "rb") as f:
            self.buf = f.read()
        buf = self.buf
        if len(buf) < 12 or buf[:4] != b"RIFF" or buf[8:12] != b"sfbk":
            raise DataError(f"{path!r} is not a SoundFont 2 file (no RIFF sfbk header)")
        (riff_size,) = struct.unpack_from("<I", buf, 4)
        end = min(len(buf), 8 + riff_size)
        self.smpl = self.sm24 = None
        hydra = {}
        for cid, a, b in _chunks(buf, 12, end, path):
            if cid != "LIST":
                continue
            kind = buf[a : a + 4]
            for sub, c, d in _chunks(buf, a + 4, b, path):
                if kind == b"sdta" and sub == "smpl":
                    self.smpl = (c, d)
                elif kind == b"sdta" and sub == "sm24":
                    self.sm24 = (c, d)
                elif kind == b"pdta" and sub in _RECORDS:
                    hydra[sub] = (c, d)
        missing = [k for k in _RECORDS if k not in hydra]
        if self.smpl is None or missing:
            raise DataError(
                f"{path!r}: SF2 file lacks {(['smpl'] if self.smpl is None else []) + missing}"
            )
        self.hydra = {}
        for k, (c, d) in hydra.items():
            n = (d - c) // _RECORDS[k]
            if n < 1:
                raise DataError(f"{path!r}: SF2 chunk {k!r} holds no record")
            self.hydra[k] = (c, n)

    def records(self, key, fmt):
        c, n = self.hydra[key]
        size = _RECORDS[key]
        return [struct.unpack_from(fmt, self.buf, c + i * size) for i in range(n)]


def _zone_gens(bags, gens, first, last):
    """Generators of zones ``first..last-1``: a list of dicts ``{oper: raw 16-bit amount}``."""
    out = []
    for z in range(first, min(last, len(bags) - 1)):
        g0, g1 = bags[z][0], bags[z + 1][0]
        out.append({op: amt for op, amt in gens[g0 : min(g1, len(gens))]})
    return out


def _range(amount):
    return amount & 0xFF, (amount >> 8) & 0xFF


def read_sf2(path):
    """Parse an SF2 file: ``(samples, zones, reader)``.

    ``samples`` is a list of :class:`SF2Sample`; ``zones`` lists, for every
    preset and every note 0-127 it plays, the samples it plays there
    (:class:`SF2Zone`). Read PCM with ``reader(sample)``: float64 in [-1, 1).

    Raises
    ------
    DataError
        Not an SF2 file, or a structure that points outside the file.
    """
    sf = _SF2(os.fspath(path))
    phdr = sf.records("phdr", "<20sHHHIII")
    pbag = sf.records("pbag", "<HH")
    pgen = sf.records("pgen", "<HH")
    inst = sf.records("inst", "<20sH")
    ibag = sf.records("ibag", "<HH")
    igen = sf.records("igen", "<HH")
    shdr = sf.records("shdr", "<20sIIIIIBbHH")
    n_smpl = (sf.smpl[1] - sf.smpl[0]) // 2
    samples = []
    for i, (name, start, end, _ls, _le, rate, _pitch, _corr, link, kind) in enumerate(shdr[:-1]):
        if not (start < end <= n_smpl) or not 1 <= rate <= 768_000:
            continue  # a bad or ROM header: never read
        samples.append(SF2Sample(i, _cstr(name), start, end, rate, link, kind))
    by_index = {s.index: s for s in samples}

    inst_zones = []
    for i in range(len(inst) - 1):
        zs = _zone_gens(ibag, igen, inst[i][1], inst[i + 1][1])
        glob = zs[0] if zs and GEN_SAMPLE_ID not in zs[0] else {}
        inst_zones.append([{**glob, **z} for z in zs if GEN_SAMPLE_ID in z])
    zones = []
    for p in range(len(phdr) - 1):
        name, preset, bank, bag0 = _cstr(phdr[p][0]), phdr[p][1], phdr[p][2], phdr[p][3]
        pzs = _zone_gens(pbag, pgen, bag0, phdr[p + 1][3])
        pglob = pzs[0] if pzs and GEN_INSTRUMENT not in pzs[0] else {}
        for pz in pzs:
            if GEN_INSTRUMENT not in pz or pz[GEN_INSTRUMENT] >= len(inst_zones):
                continue
            pz = {**pglob, **pz}
            plo, phi = _range(pz.get(GEN_KEY_RANGE, 0x7F00))
            for iz in inst_zones[pz[GEN_INSTRUMENT]]:
                if iz[GEN_SAMPLE_ID] not in by_index:
                    continue
                lo, hi = _range(iz.get(GEN_KEY_RANGE, 0x7F00))
                vel = _range(iz.get(GEN_VEL_RANGE, 0x7F00))
                for note in range(max(lo, plo), min(hi, phi) + 1):
                    zones.append(SF2Zone(bank, preset, name, note, vel, iz[GEN_SAMPLE_ID]))

    def reader(sample):
        a = sf.smpl[0] + 2 * sample.start
        pcm = np.frombuffer(sf.buf, dtype="<i2", count=sample.end - sample.start, offset=a).astype(
            np.float64
        )
        if sf.sm24 is not None and sf.sm24[0] + sample.end <= sf.sm24[1]:
            low = np.frombuffer(
                sf.buf,
                dtype=np.uint8,
                count=sample.end - sample.start,
                offset=sf.sm24[0] + sample.start,
            ).astype(np.float64)
            return (pcm * 256.0 + low) / 2.0**23
        return pcm / 2.0**15

    return samples, zones, reader


def kit_zones(zones, *, drum_bank_only=True):
    """The zones of drum kits: bank 128 presets (or, if the file has none, every preset)."""
    drums = [z for z in zones if z.bank == 128]
    if drums or drum_bank_only is False:
        return drums if drums else zones
    return zones
