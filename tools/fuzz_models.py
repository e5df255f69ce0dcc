"""Fuzz fastdrum's model loader with hostile model files (formats 1 to 7).

Each case starts from a valid, randomly sized format-1 or format-2 model
(pre-emphasis, and voice conditioning or none) and mutates it:
structured mutations of its arrays (shapes, dtypes, NaN/Inf, object arrays
holding a pickle that would create a marker file, absurd dilations, bad meta
JSON, primer codes out of range, fortran order, big-endian; format 2's
pre-emphasis, voice names, partial conditioning keys, primer voices and
per-voice meta; format 5's output filter), of its container
(duplicate, unknown and non-.npy members, bzip2/lzma/unsupported compression,
encrypted flag, forged .npy headers, declared sizes that disagree), byte-level
damage (truncation, flips, insertions) and whole-file replacements (pickles,
bare .npy, junk, zip bombs: a header claiming gigabytes, and deflated zeros
that inflate to 2 GiB).

The oracle: loading either raises a :class:`fastdrum.FastDrumError` subclass,
or succeeds, and then the model must hold exactly the weights that were
written and generate finite audio in [-1, 1] (with its first voice, if it
is conditioned) with every available backend
(the NumPy reference, and the C kernel once built). Never
another exception, a hang (per-case alarm), a large allocation (the address
space is capped, so one becomes a MemoryError) or code execution (the marker
file must never appear).

Usage (the long run; prints outcomes by class and exits 1 on any failure)::

    python tools/fuzz_models.py --cases 10000 [--seed 0] [--timeout 20]

The fast, deterministic subset runs in CI: tests/test_fuzz_format.py.
"""

import argparse
import collections
import functools
import io
import json
import os
import pickle
import random
import resource
import signal
import struct
import sys
import tempfile
import time
import warnings
import zipfile
import zlib

import numpy as np

import fastdrum
import fastdrum._backends  # noqa: F401 - fastdrum._backends.available() below; not imported by fastdrum
from fastdrum import FastDrumError, load_model
from fastdrum.instruments import INSTRUMENTS
from fastdrum.testing import random_model

#: max_bytes passed to load_model: valid fuzz models are tens of KB, so any
#: allocation far above this is a bug (sizes not checked before reading).
LOAD_LIMIT = 4 * 2**20

#: Size of the zip bomb's inflated member (2 GiB; the 32-bit zip fields hold it).
BOMB_BYTES = 2**31


# -- pickles that would run code ------------------------------------------------------
class Evil:
    """Unpickling this creates ``marker``: the proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = os.fspath(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -- .npy members ---------------------------------------------------------------------
def npy_bytes(a, fortran=False):
    """An .npy file of `a` as np.save writes it (object arrays are pickled)."""
    buf = io.BytesIO()
    a = np.asfortranarray(a) if fortran and a.ndim > 1 else a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.lib.format.write_array(buf, a, allow_pickle=True)
    return buf.getvalue()


def forged_npy(header, data=b"", version=(1, 0), magic=b"\x93NUMPY"):
    """An .npy file with an arbitrary header text (a dict literal, or anything)."""
    text = header if isinstance(header, str) else repr(header)
    text = text.encode("latin1", "replace")
    pad = 64 - (len(magic) + 2 + (2 if version == (1, 0) else 4) + len(text) + 1) % 64
    text += b" " * (pad % 64) + b"\n"
    size = struct.pack("<H", len(text)) if version == (1, 0) else struct.pack("<I", len(text))
    return magic + bytes(version) + size + text + data


# -- zip archives, written by hand so that any field can lie ------------------------
class Member:
    """One zip entry: `payload` is the uncompressed data unless `raw` is given."""

    def __init__(
        self,
        name,
        payload=b"",
        method=zipfile.ZIP_STORED,
        *,
        raw=None,
        crc=None,
        file_size=None,
        flags=0,
    ):
        self.name = name
        self.method = method
        self.flags = flags
        if raw is None:
            raw = compress(payload, method)
        self.raw = raw
        self.crc = zlib.crc32(payload) if crc is None else crc
        self.file_size = len(payload) if file_size is None else file_size


def compress(data, method):
    if method == zipfile.ZIP_DEFLATED:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    if method == zipfile.ZIP_BZIP2:
        import bz2

        return bz2.compress(data)
    if method == zipfile.ZIP_LZMA:
        c = zipfile.LZMACompressor()
        return c.compress(data) + c.flush()
    return data  # stored, or a method nobody implements (the bytes are left as they are)


def zip_bytes(members, prefix=b"", comment=b""):
    """Local headers, data, central directory and end record (no zip64)."""
    out = bytearray(prefix)
    central = bytearray()
    for m in members:
        name = m.name.encode("utf-8")
        offset = len(out)
        sizes = (m.crc & 0xFFFFFFFF, len(m.raw) & 0xFFFFFFFF, m.file_size & 0xFFFFFFFF)
        out += struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, m.flags, m.method, 0, 0x21, *sizes, len(name), 0
        )
        out += name + m.raw
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            m.flags,
            m.method,
            0,
            0x21,
            *sizes,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset & 0xFFFFFFFF,
        )
        central += name
    cd_offset = len(out)
    out += central
    n = len(members) & 0xFFFF
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(central), cd_offset, len(comment))
    return bytes(out + comment)


# -- zip bombs --------------------------------------------------------------------------
def _gf2_times(mat, vec):
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_zeros(crc, n):
    """``zlib.crc32(b"\\0" * n, crc)`` in O(log n), as zlib's crc32_combine does."""
    reg = crc ^ 0xFFFFFFFF  # the raw register
    odd = [0xEDB88320] + [1 << k for k in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while n:
        even = _gf2_square(odd)  # first: one zero byte
        if n & 1:
            reg = _gf2_times(even, reg)
        n >>= 1
        if not n:
            break
        odd = _gf2_square(even)
        if n & 1:
            reg = _gf2_times(odd, reg)
        n >>= 1
    return reg ^ 0xFFFFFFFF


@functools.lru_cache(maxsize=4)
def deflated_zeros(n_mib):
    """A raw deflate stream of ``n_mib`` MiB of zeros, built from one repeated block.

    After Z_FULL_FLUSH the compressor starts afresh, so every 1 MiB piece
    compresses to the same bytes: the stream costs 1 KiB per MiB to build.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(bytes(2**20)) + c.flush(zlib.Z_FULL_FLUSH)
    return piece * n_mib + c.flush()


def _deflate_prefix_then_zeros(prefix, n_zero_mib):
    """Deflate of ``prefix + zeros``: the prefix is its own flushed block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    return head + deflated_zeros(n_zero_mib)


@functools.lru_cache(maxsize=4)
def compressed_zeros(method, n_mib):
    """bzip2 or lzma (zip flavour) of ``n_mib`` MiB of zeros: ratios of 10^6 and 10^4.

    zipfile decompresses these without an output bound, so a reader that
    merely opens such a member to read a 6-byte magic inflates a whole chunk.
    Building them costs about 13 ms (bzip2) and 10 ms (lzma) a MiB, once.
    """
    return compress(bytes(n_mib * 2**20), method)


#: Sizes of the bzip2 and lzma bombs (MiB of zeros); the CI subset lowers them.
BOMB_MIB = {"bzip2": 512, "lzma": 128}


def bomb_members(kind):
    """Members whose data inflates to BOMB_BYTES; `kind` picks how the header lies."""
    n_mib = BOMB_BYTES // 2**20
    if kind in ("bzip2", "lzma"):
        method = {"bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}[kind]
        mib = BOMB_MIB[kind]
        header = npy_bytes(np.zeros((2, 16, 8), dtype=np.float32))
        return [
            Member(
                "input_w.npy",
                raw=compressed_zeros(method, mib),
                method=method,
                crc=crc32_zeros(0, mib * 2**20),
                file_size=len(header),
            )
        ]
    if kind == "zeros":  # no .npy header at all: 2 GiB of zeros
        return [
            Member(
                "input_w.npy",
                raw=deflated_zeros(n_mib),
                method=zipfile.ZIP_DEFLATED,
                crc=crc32_zeros(0, BOMB_BYTES),
                file_size=BOMB_BYTES,
            )
        ]
    # A true header: a float32 array of 2 GiB, followed by its (zero) data.
    n = BOMB_BYTES // 4
    header = forged_npy({"descr": "<f4", "fortran_order": False, "shape": (2, n // 2 // 8, 8)})
    size = BOMB_BYTES
    if kind == "small-claim":  # the directory claims (and checksums) 64 bytes; the stream is 2 GiB
        size = 64
    return [
        Member(
            "input_w.npy",
            raw=_deflate_prefix_then_zeros(header, n_mib),
            method=zipfile.ZIP_DEFLATED,
            crc=crc32_zeros(zlib.crc32(header), size),
            file_size=len(header) + size,
        )
    ]


# -- valid starting points ---------------------------------------------------------------
def base_arrays(rnd):
    """The arrays of a valid random format-1 model, as some program might write them."""
    L = rnd.randint(1, 4)
    model = random_model(
        dilations=[rnd.choice([1, 2, 3, 4, 8]) for _ in range(L)],
        quantization_channels=rnd.choice([2, 3, 16, 32, 256]),
        residual_channels=rnd.randint(1, 8),
        dilation_channels=rnd.randint(1, 8),
        skip_channels=rnd.randint(1, 8),
        sample_rate=rnd.choice([8000, 16000, 22050]),
        seed=rnd.randrange(2**32),
        primers=rnd.choice([None, 1, 3]),
        clip_duration=rnd.choice([0.01, 0.2]),
    )
    int_dtype = rnd.choice(
        [np.int64, np.int32, np.uint16, np.uint8 if max(model.dilations) < 256 else np.int64]
    )
    arrays = {
        "format_version": np.array(1, dtype=rnd.choice([np.int64, np.int32, np.uint8])),
        "sample_rate": np.array(model.sample_rate, dtype=rnd.choice([np.int64, np.int32])),
        "dilations": np.array(model.dilations, dtype=int_dtype),
    }
    arrays.update({k: np.array(v) for k, v in model.weights.items()})
    if model.primers is not None:
        arrays["primers"] = np.array(
            model.primers, dtype=rnd.choice([np.int16, np.int32, np.int64])
        )
    if rnd.random() < 0.8:
        arrays["meta"] = np.array(json.dumps(model.meta))
    if rnd.random() < 0.4:
        _make_format_2(arrays, model, rnd)
    return arrays


VOICE_NAMES = list(INSTRUMENTS)


def _make_format_2(arrays, model, rnd):
    """Turn the arrays into format 2: pre-emphasis, (half the time) time-since-onset conditioning,
    and (half the time) voice conditioning, then (half of those) decay conditioning; a quarter
    of them format 3 (leaky integration), a quarter of those format 4 (a low shelf), half of
    those format 5 (an output filter), half of those format 6 (a predictor), half of those format 7
    (the predictor in the loop: the signal's and the prediction's tables)."""
    arrays["format_version"] = np.array(2, dtype=rnd.choice([np.int64, np.int32, np.uint8]))
    arrays["preemphasis"] = np.array(rnd.choice([0.0, 0.5, 0.85, 0.999]), dtype=np.float32)
    if rnd.random() < 0.25:  # format 3: leaky integration
        arrays["format_version"] = np.array(3, dtype=np.int64)
        arrays["integration"] = np.array(rnd.choice([0.0, 0.5, 0.95, 0.999]), dtype=np.float32)
        if rnd.random() < 0.25:  # format 4: a low shelf, zero <= pole
            arrays["format_version"] = np.array(4, dtype=np.int64)
            c, p = rnd.choice([(0.0, 0.0), (0.5, 0.5), (0.99, 0.999), (0.0, 0.9999)])
            arrays["shelf_zero"] = np.array(c, np.float32)
            arrays["shelf_pole"] = np.array(p, np.float32)
            if rnd.random() < 0.5:  # format 5: the filter is added last, once the voices are known
                arrays["format_version"] = np.array(5, dtype=np.int64)
    _add_format_2_keys(arrays, model, rnd)
    if int(arrays["format_version"]) == 5:
        V = len(arrays["voices"]) if "voices" in arrays else None
        arrays["output_filter"] = _output_filter(V, rnd)
        if rnd.random() < 0.5:  # format 6: a predictor in meta
            arrays["format_version"] = np.array(6, dtype=np.int64)
            meta = _meta_object(arrays)
            meta["predictor"] = dict(_GOOD_PREDICTOR)
            arrays["meta"] = np.array(json.dumps(meta))
            if rnd.random() < 0.5:  # format 7: the signal's and the prediction's tables
                arrays["format_version"] = np.array(7, dtype=np.int64)
                arrays["sig_w"], arrays["pred_w"] = _pred_w(arrays, rnd), _pred_w(arrays, rnd)


def _pred_w(arrays, rnd):
    """A valid format-7 table, ``sig_w`` or ``pred_w``, (Q, R) for `arrays`' network."""
    _, Q, R = arrays["input_w"].shape
    return np.random.default_rng(rnd.randrange(2**32)).standard_normal((Q, R)).astype(np.float32)


def _output_filter(V, rnd):
    """A valid output filter: (K,) taps, or with V voices (V, K), some rows the unit impulse."""
    K = rnd.choice([1, 3, 64, 8192])
    nprng = np.random.default_rng(rnd.randrange(2**32))
    h = (nprng.standard_normal((V or 1, K)) * rnd.choice([0.01, 1.0, 300.0])).astype(np.float32)
    h = np.clip(h, -1000.0, 1000.0)
    for row in h:
        if rnd.random() < 0.3:
            row[:] = 0.0
            row[0] = 1.0
    return h if V else h[0]


def _add_format_2_keys(arrays, model, rnd):
    """The rest of :func:`_make_format_2`: time, voice and decay conditioning."""
    L, D2 = model.n_layers, 2 * model.dilation_channels
    nprng = np.random.default_rng(rnd.randrange(2**32))
    if rnd.random() < 0.5:
        F = rnd.randint(1, 4)
        arrays["time_tau"] = np.array(rnd.sample([1.0, 3.0, 50.0, 1e4, 2.0**24], F), np.float32)
        arrays["time_block"] = np.array(
            rnd.choice([1, 3, 64, 65535]), dtype=rnd.choice([np.int64, np.int32, np.uint16])
        )
        arrays["time_w"] = (nprng.standard_normal((L, F, D2)) / np.sqrt(F)).astype(np.float32)
    if rnd.random() < 0.5:
        return
    V, E = rnd.randint(1, 4), rnd.randint(1, 5)
    arrays["voices"] = np.array(rnd.sample(VOICE_NAMES, V))
    arrays["voice_emb"] = nprng.standard_normal((V, E)).astype(np.float32)
    arrays["cond_w"] = (nprng.standard_normal((L, E, D2)) / np.sqrt(E)).astype(np.float32)
    if "primers" in arrays:
        n = arrays["primers"].shape[0]
        arrays["primer_voices"] = nprng.integers(0, V, n).astype(
            rnd.choice([np.int16, np.int64, np.uint8])
        )
    if rnd.random() < 0.5:
        _add_decay(arrays, [str(v) for v in arrays["voices"]], L, D2, nprng)


def _meta_object(arrays):
    """The arrays' meta as a dict: {} if it is absent or (after another mutation) not an object."""
    try:
        meta = json.loads(str(arrays["meta"]))
    except (KeyError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _add_decay(arrays, voices, L, D2, nprng):
    """Decay conditioning: decay_w, meta["decay"] and every voice's decays."""
    meta = _meta_object(arrays)
    meta["decay"] = dict(mean=-1.0, scale=0.8, drop_db=20.0)
    meta["voices"] = {
        v: dict(decays=sorted(nprng.uniform(0.01, 2.0, 3).round(3).tolist())) for v in voices
    }
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["decay_w"] = nprng.standard_normal((L, D2)).astype(np.float32)


# -- structured mutations (they edit `case` and return a description) ------------------
class Case:
    """A file under construction: arrays, their .npy form and the zip around them."""

    def __init__(self, rnd, marker):
        self.rnd = rnd
        self.marker = marker
        self.arrays = base_arrays(rnd)
        self.fortran = set()
        self.forged = {}  # key -> raw .npy bytes replacing the array
        self.extra = []  # extra Members
        self.methods = {}  # key -> compression method
        self.flags = {}  # key -> zip flag bits
        self.size_lies = {}  # key -> declared file_size
        self.exact = True  # False once the file no longer says exactly `arrays`
        self.whole = None  # bytes replacing the whole file
        self.steps = []

    def keys(self):
        return sorted(self.arrays)

    def members(self):
        out = []
        for key in self.arrays:
            payload = self.forged.get(key)
            if payload is None:
                payload = npy_bytes(self.arrays[key], fortran=key in self.fortran)
            m = Member(
                key + ".npy",
                payload,
                self.methods.get(key, zipfile.ZIP_STORED),
                flags=self.flags.get(key, 0),
            )
            if key in self.size_lies:
                m.file_size = self.size_lies[key]
            out.append(m)
        out += self.extra
        self.rnd.shuffle(out)
        return out

    def to_bytes(self):
        return self.whole if self.whole is not None else zip_bytes(self.members())


def _random_shape(rnd):
    return tuple(rnd.choice([0, 1, 2, 3, 5]) for _ in range(rnd.randint(0, 5)))


def m_drop_key(c, rnd):
    key = rnd.choice(c.keys())
    del c.arrays[key]
    return f"drop {key}"


def m_wrong_shape(c, rnd):
    key = rnd.choice(c.keys())
    shape = _random_shape(rnd)
    c.arrays[key] = np.zeros(
        shape, dtype=c.arrays[key].dtype if c.arrays[key].dtype.kind != "U" else np.float32
    )
    return f"{key} shape {shape}"


_DTYPES = [
    "<f8",
    "<f2",
    "<i4",
    "|i1",
    "|u1",
    "|b1",
    "<c8",
    "<U3",
    "|S3",
    "|V4",
    "<M8[s]",
    ">f4",
    "<f4",
    ">i8",
    "<u8",
]


def m_wrong_dtype(c, rnd):
    key = rnd.choice(c.keys())
    dtype = np.dtype(rnd.choice(_DTYPES))
    a = c.arrays[key]
    if a.dtype.kind in "iuf" and dtype.kind in "iufcb":
        with np.errstate(all="ignore"):
            c.arrays[key] = a.astype(dtype)
    else:
        c.arrays[key] = np.zeros(a.shape, dtype=dtype)
    return f"{key} dtype {dtype.str}"


def m_special_value(c, rnd):
    floats = [k for k in c.arrays if c.arrays[k].dtype.kind == "f" and c.arrays[k].size]
    key = rnd.choice(sorted(floats) or ["input_b"])
    if key not in c.arrays or not c.arrays[key].size:
        return "special value: nothing to edit"
    a = np.array(c.arrays[key])
    value = rnd.choice([np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-45, 0.0, 1e30])
    a.flat[rnd.randrange(a.size)] = value
    c.arrays[key] = a
    return f"{key}[.] = {value!r}"


def m_zero_d_or_empty(c, rnd):
    key = rnd.choice(c.keys())
    a = c.arrays[key]
    if rnd.random() < 0.5:
        c.arrays[key] = np.array(a.flat[0] if a.size else 0, dtype=a.dtype)
        return f"{key} 0-d"
    shape = list(a.shape) or [1]
    shape[rnd.randrange(len(shape))] = 0
    c.arrays[key] = np.zeros(shape, dtype=a.dtype)
    return f"{key} empty {tuple(shape)}"


def m_fortran(c, rnd):
    key = rnd.choice(c.keys())
    c.fortran.add(key)
    return f"{key} fortran order"


def m_big_endian(c, rnd):
    key = rnd.choice(c.keys())
    a = c.arrays[key]
    if a.dtype.kind in "iuf":
        c.arrays[key] = a.astype(a.dtype.newbyteorder(">"))
    return f"{key} big-endian"


def m_object(c, rnd):
    key = rnd.choice(c.keys())
    evil = Evil(c.marker)
    c.arrays[key] = rnd.choice(
        [
            np.array([evil], dtype=object),
            np.array(evil, dtype=object),
            np.array([1.0, evil], dtype=object),
        ]
    )
    return f"{key} object array with a pickle"


_DILATIONS = [0, -1, -(2**40), 2**40, 2**20, 2**20 + 1, 2**31, 2**63 - 1, 1, 2, 3, 1024]


def m_dilations(c, rnd):
    L = (
        np.size(c.arrays.get("dilations", [1]))
        if rnd.random() < 0.8
        else rnd.choice([0, 1, 5, 5000])
    )
    values = [rnd.choice(_DILATIONS) for _ in range(min(L, 8))] + [1] * max(0, L - 8)
    dtype = np.uint64 if min(values, default=0) >= 0 and rnd.random() < 0.3 else np.int64
    c.arrays["dilations"] = np.array(values, dtype=dtype)
    return f"dilations {values[:8]}{'...' if L > 8 else ''}"


def m_scalar(c, rnd):
    key = rnd.choice(["sample_rate", "format_version"])
    value = rnd.choice([0, -1, 1, 2, 2**40, 768000, 768001, 16000, 2**63 - 1])
    form = rnd.choice(["int", "float", "vector", "string", "uint"])
    c.arrays[key] = {
        "int": lambda: np.array(value, dtype=np.int64),
        "uint": lambda: np.array(abs(value), dtype=np.uint64),
        "float": lambda: np.array(float(value)),
        "vector": lambda: np.array([value], dtype=np.int64),
        "string": lambda: np.array(str(value)),
    }[form]()
    return f"{key} = {value!r} as {form}"


_BAD_META = [
    "",
    "{",
    "null",
    "[]",
    '"x"',
    "1",
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000,
    '{"clip_duration": NaN}',
    '{"clip_duration": Infinity}',
    '{"clip_duration": -1}',
    '{"clip_duration": 0}',
    '{"clip_duration": "0.2"}',
    '{"clip_duration": true}',
    '{"clip_duration": 1e400}',
    '{"clip_duration": 1' + "0" * 400 + "}",
    '{"clip_duration": 1e300}',
    '{"clip_duration": 1' + "0" * 5000 + "}",
    '{"instrument": 5}',
    '{"instrument": ["kick"]}',
    '{"instrument": "\\ud800"}',
    "\x00",
    '{"x": 1}',
    '{"clip_duration": 0.05, "instrument": "kick", "training": {"steps": 5}}',
]


def m_meta(c, rnd):
    text = rnd.choice(_BAD_META)
    form = rnd.choice(["U", "U", "U", "S", "vector", "huge"])
    if form == "S":
        c.arrays["meta"] = np.array(text.encode("utf-8", "surrogatepass"))
    elif form == "vector":
        c.arrays["meta"] = np.array([text, text])
    elif form == "huge":
        c.arrays["meta"] = np.array('{"pad": "' + "a" * rnd.choice([2**20, 2**21 + 7]) + '"}')
    else:
        c.arrays["meta"] = np.array(text)
    return f"meta {text[:30]!r} as {form}"


def m_primers(c, rnd):
    q = c.arrays["input_w"].shape[1] if c.arrays.get("input_w", np.zeros(0)).ndim == 3 else 32
    bad = rnd.choice([-1, q, q - 1, 0, 2**31, 2**63 - 1])
    shape = rnd.choice([(2, 4), (4,), (1, 2, 3), (0, 4), (3, 0), (1, 3000)])
    dtype = rnd.choice([np.int64, np.int32, np.uint64, np.float32, np.int8])
    a = np.zeros(shape, dtype=dtype)
    if a.size:
        with np.errstate(all="ignore"):
            a.flat[rnd.randrange(a.size)] = (
                np.array(bad).astype(dtype) if dtype != np.uint64 else abs(bad)
            )
    c.arrays["primers"] = a
    return f"primers {shape} {np.dtype(dtype).str} with {bad}"


_BAD_VOICES = [
    ["kick", "kick"],
    ["Kick"],
    ["9"],
    [""],
    ["a" * 33],
    ["kick", "sn are"],
    ["\u00e9t\u00e9"],
    ["x"] * 300,
    [f"v{i}" for i in range(257)],
    [],
]
_BAD_VOICE_META = [
    '{"instrument": "cowbell"}',
    '{"voices": {"cowbell": {}}}',
    '{"voices": ["kick"]}',
    '{"voices": {"kick": 1}}',
    '{"voices": null}',
    '{"voices": {"kick": {"temperature": -1}}}',
]


def m_format2(c, rnd):
    """Format 2's, 3's and 4's own keys: versions, pre-emphasis, integration, the low shelf,
    voices, partial conditioning, primer voices, time conditioning."""
    kind = rnd.choice(
        ["version", "preemphasis", "voices", "partial", "primer_voices", "meta", "emb", "time"]
        + ["decay", "envelope", "integration", "shelf_zero", "shelf_pole", "output_filter"]
        + ["predictor"]
    )
    if kind == "predictor":
        return _bad_predictor(c, rnd)
    if kind == "output_filter":
        return _bad_output_filter(c, rnd)
    if kind == "time":
        return _bad_time(c, rnd)
    if kind == "decay":
        return _bad_decay(c, rnd)
    if kind == "envelope":
        return _bad_envelope(c, rnd)
    if kind == "version":
        v = rnd.choice([1, 2, 3, 4])
        c.arrays["format_version"] = np.array(v)
        return f"format_version {v}"
    if kind in ("preemphasis", "integration", "shelf_zero", "shelf_pole"):
        if kind == "integration":
            c.arrays["format_version"] = np.array(3)
        if kind.startswith("shelf"):  # format 4, the other key valid: the bad one is this
            c.arrays["format_version"] = np.array(4)
            c.arrays.setdefault("integration", np.array(0.0, np.float32))
            c.arrays["shelf_zero"] = np.array(0.99, np.float32)
            c.arrays["shelf_pole"] = np.array(0.999, np.float32)
        value = rnd.choice([1.0, -0.1, np.nan, np.inf, 0.5, 2.0, 0.0])
        form = rnd.choice(["f4", "f8", "vector", "absent", "int"])
        if form == "absent":
            c.arrays.pop(kind, None)
        else:
            c.arrays[kind] = {
                "f4": lambda: np.array(value, np.float32),
                "f8": lambda: np.array(value),
                "vector": lambda: np.array([value], np.float32),
                "int": lambda: np.array(1),
            }[form]()
        return f"{kind} {value!r} as {form}"
    if kind == "voices":
        names = rnd.choice(_BAD_VOICES)
        form = rnd.choice(["U", "U", "S", "2d"])
        a = np.array(names, dtype=str) if names else np.array([], dtype="<U4")
        if form == "S":  # bytes (UTF-8: astype("S") cannot encode a name such as "été")
            a = np.array([n.encode() for n in names], dtype="S") if names else a.astype("S")
        elif form == "2d":
            a = a.reshape(1, -1)
        c.arrays["voices"] = a
        return f"voices {names[:3]} ({len(names)}) as {form}"
    if kind == "partial":
        key = rnd.choice(["voices", "voice_emb", "cond_w"])
        if key in c.arrays:
            del c.arrays[key]
            return f"drop {key}"
        c.arrays[key] = {
            "voices": np.array(["kick"]),
            "voice_emb": np.zeros((1, 2), np.float32),
            "cond_w": np.zeros((1, 2, 2), np.float32),
        }[key]
        return f"add only {key}"
    if kind == "primer_voices":
        n = c.arrays["primers"].shape[0] if c.arrays.get("primers", np.zeros(0)).ndim == 2 else 2
        bad = rnd.choice([-1, 4, 255, 2**40, 0])
        shape = rnd.choice([(n,), (n + 1,), (n, 1), ()])
        a = np.full(shape, bad, dtype=rnd.choice([np.int64, np.float32]))
        c.arrays["primer_voices"] = a
        return f"primer_voices {shape} = {bad}"
    if kind == "meta":
        c.arrays["meta"] = np.array(rnd.choice(_BAD_VOICE_META))
        return f"voice meta {str(c.arrays['meta'])[:30]}"
    key = rnd.choice(["voice_emb", "cond_w"])
    shape = rnd.choice([(1, 1025), (0, 3), (2, 2, 2), (5,)])
    c.arrays[key] = np.ones(shape, dtype=np.float32)
    return f"{key} shape {shape}"


def _bad_output_filter(c, rnd):
    """Format 5 (the shelf keys valid) with an output filter that is missing, misshapen, of the
    wrong dtype, too long, empty or holding NaN, Inf or values beyond 1000; or a valid one."""
    c.arrays["format_version"] = np.array(5)
    for key, value in (("preemphasis", 0.0), ("integration", 0.0)):
        c.arrays.setdefault(key, np.array(value, np.float32))
    c.arrays["shelf_zero"] = np.array(0.99, np.float32)
    c.arrays["shelf_pole"] = np.array(0.999, np.float32)
    voices = c.arrays.get("voices")
    V = len(voices) if voices is not None and voices.ndim == 1 else None
    h = _output_filter(V, rnd)
    kind = rnd.choice(
        ["valid", "absent", "f8", "f2", "int", "scalar", "3d", "rows", "flat", "empty", "long"]
        + ["nan", "inf", "big"]
    )
    if kind == "absent":
        c.arrays.pop("output_filter", None)
        return "output_filter absent"
    if kind in ("f8", "f2", "int"):
        h = h.astype({"f8": np.float64, "f2": np.float16, "int": np.int32}[kind])
    elif kind == "scalar":
        h = np.array(1.0, np.float32)
    elif kind == "3d":
        h = h.reshape((1,) + h.shape + (1,))
    elif kind == "rows":
        h = np.ones((rnd.choice([2, 5, 300]), 4), np.float32)
    elif kind == "flat":
        h = np.atleast_2d(h)[0]
    elif kind == "empty":
        h = np.zeros(h.shape[:-1] + (0,), np.float32)
    elif kind == "long":
        h = np.zeros(h.shape[:-1] + (8193,), np.float32)
    elif kind != "valid":
        bad = {"nan": np.nan, "inf": -np.inf, "big": rnd.choice([1000.5, -3e38])}[kind]
        h = h.copy()
        h.reshape(-1)[rnd.randrange(h.size)] = bad
    c.arrays["output_filter"] = h
    return f"output_filter {kind} {h.dtype} {h.shape}"


def _bad_time(c, rnd):
    """A partial, out-of-range or misshapen set of the time-since-onset keys."""
    L = len(np.atleast_1d(c.arrays["dilations"]))
    kind = rnd.choice(["partial", "tau", "block", "time_w"])
    if kind == "partial":
        key = rnd.choice(["time_tau", "time_block", "time_w"])
        if key in c.arrays:
            del c.arrays[key]
            return f"drop {key}"
        c.arrays[key] = {
            "time_tau": np.array([10.0], np.float32),
            "time_block": np.array(4),
            "time_w": np.zeros((L, 1, 2), np.float32),
        }[key]
        return f"add only {key}"
    c.arrays.setdefault("time_tau", np.array([10.0, 100.0], np.float32))
    c.arrays.setdefault("time_block", np.array(4))
    c.arrays.setdefault("time_w", np.zeros((L, 2, 2), np.float32))
    if kind == "tau":
        value = rnd.choice([0.0, -1.0, 0.5, np.nan, np.inf, 2.0**25])
        shape = rnd.choice([(2,), (1, 2), (0,), (65,)])
        c.arrays["time_tau"] = np.full(shape, value, dtype=rnd.choice([np.float32, np.float64]))
        return f"time_tau {shape} = {value!r}"
    if kind == "block":
        value = rnd.choice([0, -1, 65537, 2**40])
        c.arrays["time_block"] = np.array(value, dtype=rnd.choice([np.int64, np.float64]))
        return f"time_block {value!r}"
    shape = rnd.choice([(L, 2, 3), (L + 1, 2, 2), (2,), (L, 2, 2, 1)])
    c.arrays["time_w"] = np.full(shape, rnd.choice([1.0, np.nan]), dtype=np.float32)
    return f"time_w {shape}"


#: Bad values of meta["decay"]'s entries and of a voice's decays.
_BAD_DECAY_STATS = [np.nan, np.inf, -1.0, 0.0, 21.0, 1e4, 10**400, "1", True, None, [1.0]]
_BAD_DECAYS = [[], [0.0], [-0.1], [np.nan], [1e4], ["0.2"], [True], 0.3, None, [[0.1]]]


def _bad_decay(c, rnd):
    """Decay conditioning with a partner missing, or a misshapen or out-of-range part."""
    L = len(np.atleast_1d(c.arrays["dilations"]))
    D2 = np.shape(c.arrays["dil_b"])[-1] if np.ndim(c.arrays["dil_b"]) else 2
    voices = [str(v) for v in np.atleast_1d(c.arrays.get("voices", np.array(["kick"])))]
    if "decay_w" not in c.arrays:
        _add_decay(c.arrays, voices, L, D2, np.random.default_rng(rnd.randrange(2**32)))
    meta = _meta_object(c.arrays)
    meta.setdefault("decay", {})
    if not isinstance(meta.get("voices"), dict):
        meta["voices"] = {}
    entry = meta["voices"].setdefault(rnd.choice(voices), {})
    kind = rnd.choice(["drop", "decay_w", "stats", "decays"])
    if kind == "drop":
        what = rnd.choice(["decay_w", "decay", "decays"])
        if what == "decay_w":
            del c.arrays["decay_w"]
        elif what == "decay":
            del meta["decay"]
        else:
            entry.pop("decays", None)
    elif kind == "decay_w":
        shape = rnd.choice([(L, D2 + 1), (L + 1, D2), (D2,), (L, 1, D2)])
        what = rnd.choice([1.0, np.nan, -np.inf])
        c.arrays["decay_w"] = np.full(shape, what, dtype=rnd.choice([np.float32, np.float64]))
        what = f"{shape} = {what!r}"
    elif kind == "stats":
        key, value = rnd.choice(["mean", "scale", "drop_db"]), rnd.choice(_BAD_DECAY_STATS)
        if isinstance(meta["decay"], dict):
            meta["decay"][key] = value
        what = f"{key} = {value!r}"
    else:
        what = rnd.choice(_BAD_DECAYS)
        if isinstance(entry, dict):
            entry["decays"] = what
    c.arrays["meta"] = np.array(json.dumps(meta))
    return f"decay: {kind} {what!r}"[:80]


_BAD_ENVELOPES = [
    {"hold": -0.1, "floor_db": -60.0},
    {"hold": 1.5, "floor_db": -60.0},
    {"hold": np.nan, "floor_db": -60.0},
    {"hold": 0.03, "floor_db": 0.0},
    {"hold": 0.03, "floor_db": -121.0},
    {"hold": 0.03, "floor_db": np.inf},
    {"hold": "0.03", "floor_db": -60.0},
    {"hold": True, "floor_db": -60.0},
    {"hold": 0.03},
    {"floor_db": -60.0},
    {"hold": 0.03, "floor_db": -60.0, "decay": 1.0},
    {"hold": 10**400, "floor_db": -60.0},
    [0.03, -60.0],
    "envelope",
    None,
]


def _bad_envelope(c, rnd):
    """An envelope (meta["envelope"]) out of range or misshapen, or a good one without the decay
    conditioning it needs, or (a valid file) a good one with it."""
    L = len(np.atleast_1d(c.arrays["dilations"]))
    D2 = np.shape(c.arrays["dil_b"])[-1] if np.ndim(c.arrays["dil_b"]) else 2
    voices = [str(v) for v in np.atleast_1d(c.arrays.get("voices", np.array(["kick"])))]
    kind = rnd.choice(["bad", "no-decay", "good"])
    if kind != "no-decay" and "decay_w" not in c.arrays:
        _add_decay(c.arrays, voices, L, D2, np.random.default_rng(rnd.randrange(2**32)))
    if kind == "no-decay":
        c.arrays.pop("decay_w", None)
    meta = _meta_object(c.arrays)
    env = rnd.choice(_BAD_ENVELOPES) if kind == "bad" else {"hold": 0.03, "floor_db": -60.0}
    meta["envelope"] = env
    if kind == "no-decay":
        meta.pop("decay", None)
    c.arrays["meta"] = np.array(json.dumps(meta))
    return f"envelope: {kind} {env!r}"[:80]


_GOOD_PREDICTOR = {"order": 8, "window": 64, "hop": 32, "gain": 1.0}
_BAD_PREDICTORS = [
    {**_GOOD_PREDICTOR, "order": 0},
    {**_GOOD_PREDICTOR, "order": 513},
    {**_GOOD_PREDICTOR, "order": 64},
    {**_GOOD_PREDICTOR, "order": True},
    {**_GOOD_PREDICTOR, "order": 8.5},
    {**_GOOD_PREDICTOR, "window": 2**40},
    {**_GOOD_PREDICTOR, "hop": 1},
    {**_GOOD_PREDICTOR, "hop": -32},
    {**_GOOD_PREDICTOR, "gain": 0.0},
    {**_GOOD_PREDICTOR, "gain": np.inf},
    {**_GOOD_PREDICTOR, "gain": 10**400},
    {**_GOOD_PREDICTOR, "gain": "1"},
    {**_GOOD_PREDICTOR, "lag": 1},
    {"order": 8, "window": 64, "hop": 32},
    [8, 64, 32, 1.0],
    "predictor",
    None,
]


def _bad_predictor(c, rnd):
    """Format 6's predictor (meta["predictor"]) out of range or misshapen, a good one in a file of
    format 5, or (a valid file) a good one in format 6; or one of format 7's tables misshapen,
    missing, not float32 or not finite, or in a file of format 6."""
    kind = rnd.choice(["bad", "old", "good", "loop"])
    if kind == "loop":
        return _bad_pred_w(c, rnd)
    _bad_predictor_good(c, rnd)
    c.arrays["format_version"] = np.array(5 if kind == "old" else 6)
    meta = _meta_object(c.arrays)
    p = rnd.choice(_BAD_PREDICTORS) if kind == "bad" else dict(_GOOD_PREDICTOR)
    meta["predictor"] = p
    c.arrays["meta"] = np.array(json.dumps(meta))
    return f"predictor: {kind} {p!r}"[:80]


def _bad_pred_w(c, rnd):
    """A format-7 file whose ``sig_w`` or ``pred_w`` is bad, or good tables in a format-6 file."""
    _bad_predictor_good(c, rnd)
    c.arrays["format_version"] = np.array(7)
    key = rnd.choice(["sig_w", "pred_w"])
    other = "pred_w" if key == "sig_w" else "sig_w"
    c.arrays[other] = _pred_w(c.arrays, rnd)
    w = _pred_w(c.arrays, rnd)
    kind = rnd.choice(["old", "missing", "shape", "dtype", "nan", "good"])
    if kind == "old":
        c.arrays["format_version"] = np.array(6)
    elif kind == "shape":
        w = w[:, :-1] if w.shape[1] > 1 else w[:-1]
    elif kind == "dtype":
        w = w.astype(rnd.choice([np.float64, np.float16, np.int32]))
    elif kind == "nan":
        w[rnd.randrange(len(w))] = rnd.choice([np.nan, np.inf])
    if kind != "missing":
        c.arrays[key] = w
    return f"{key}: {kind}"


def _bad_predictor_good(c, rnd):
    """`c` made a valid format-6 file: an output filter and a good predictor."""
    c.arrays["format_version"] = np.array(6)
    if "output_filter" not in c.arrays:
        V = len(c.arrays["voices"]) if "voices" in c.arrays else None
        c.arrays["output_filter"] = _output_filter(V, rnd)
    meta = _meta_object(c.arrays)
    meta["predictor"] = dict(_GOOD_PREDICTOR)
    c.arrays["meta"] = np.array(json.dumps(meta))


def m_extra_member(c, rnd):
    kind = rnd.choice(["unknown-npy", "not-npy", "directory", "duplicate", "nested", "pickle-npy"])
    key = rnd.choice(c.keys())
    if kind == "unknown-npy":
        c.extra.append(Member("future_key.npy", npy_bytes(np.arange(3))))
    elif kind == "not-npy":
        c.extra.append(
            Member(rnd.choice(["README.txt", key, key + ".pkl"]), pickle.dumps(Evil(c.marker)))
        )
    elif kind == "directory":
        c.extra.append(Member("weights/", b""))
    elif kind == "duplicate":
        c.extra.append(Member(key + ".npy", npy_bytes(np.zeros(3, dtype=np.float32))))
    elif kind == "nested":
        c.extra.append(Member("sub/" + key + ".npy", npy_bytes(np.zeros(3))))
    else:
        c.extra.append(Member("evil.npy", npy_bytes(np.array([Evil(c.marker)], dtype=object))))
    return f"extra member: {kind} ({key})"


def m_compression(c, rnd):
    key = rnd.choice(c.keys())
    method = rnd.choice(
        [zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 9, 99]
    )
    c.methods[key] = method
    if rnd.random() < 0.1:
        c.flags[key] = 0x1  # "encrypted"
    return f"{key} compression {method}"


_HEADERS = [
    {"descr": "<f4", "fortran_order": False, "shape": (2**40,)},
    {"descr": "<f4", "fortran_order": False, "shape": (2**62, 2**62)},
    {"descr": "<f4", "fortran_order": False, "shape": (-1,)},
    {"descr": "<f4", "fortran_order": False, "shape": ("a",)},
    {"descr": "<f4", "fortran_order": False, "shape": (True, 3)},
    {"descr": "<f4", "fortran_order": False, "shape": (1,) * 40},
    {"descr": "<f4", "fortran_order": False, "shape": (1,) * 70},
    {"descr": "|O", "fortran_order": False, "shape": (1,)},
    {"descr": [("a", "<f4"), ("b", "|O")], "fortran_order": False, "shape": (1,)},
    {"descr": "|V0", "fortran_order": False, "shape": (2**60,)},
    {"descr": "<U0", "fortran_order": False, "shape": ()},
    {"descr": "<U1000000000", "fortran_order": False, "shape": ()},
    {"descr": "bogus", "fortran_order": False, "shape": (1,)},
    {"descr": "<f4", "fortran_order": "x", "shape": (1,)},
    {"descr": "<f4", "shape": (1,)},
    {"descr": "<f4", "fortran_order": False, "shape": (1,), "extra": 1},
    "[1, 2, 3]",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "-" * 5000 + "1,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "(" * 300 + ")" * 300 + ",)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (__import__('os').system('touch MARKER'),)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1" * 20000 + ",)}",
]


def m_forged_header(c, rnd):
    key = rnd.choice(c.keys())
    header = rnd.choice(_HEADERS)
    if isinstance(header, str):
        header = header.replace("MARKER", c.marker)
    data = bytes(rnd.choice([0, 4, 64, 4096]))
    version = rnd.choice([(1, 0), (2, 0), (3, 0), (4, 0)])
    magic = b"\x93NUMPY" if rnd.random() < 0.95 else b"\x93NUMPX"
    c.forged[key] = forged_npy(header, data, version, magic)
    return f"{key} forged header {str(header)[:60]!r} v{version}"


def m_size_lie(c, rnd):
    key = rnd.choice(c.keys())
    c.size_lies[key] = (
        rnd.choice([0, 1, 2**32 - 1, 2**31, 10**9])
        if rnd.random() < 0.5
        else len(npy_bytes(c.arrays[key])) + rnd.choice([-1, 1, -64, 4096])
    )
    return f"{key} declared size {c.size_lies[key]}"


STRUCTURED = [
    m_drop_key,
    m_wrong_shape,
    m_wrong_dtype,
    m_special_value,
    m_zero_d_or_empty,
    m_fortran,
    m_big_endian,
    m_object,
    m_dilations,
    m_scalar,
    m_meta,
    m_primers,
    m_extra_member,
    m_compression,
    m_forged_header,
    m_size_lie,
    m_format2,
]
#: Mutations after which the file still states exactly `case.arrays` (if it loads).
KEEPS_EXACT = {
    m_fortran,
    m_big_endian,
    m_compression,
    m_extra_member,
    m_special_value,
    m_dilations,
    m_scalar,
    m_meta,
    m_primers,
    m_wrong_dtype,
    m_wrong_shape,
    m_zero_d_or_empty,
    m_drop_key,
    m_format2,
}


# -- byte-level damage -------------------------------------------------------------------
def damage(data, rnd):
    data = bytearray(data)
    kind = rnd.choice(["truncate", "flip", "insert", "delete", "zero", "append", "prepend"])
    pos = rnd.randrange(len(data) + 1)
    if kind == "truncate":
        del data[pos:]
    elif kind == "flip":
        for _ in range(rnd.randint(1, 8)):
            if data:
                data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    elif kind == "insert":
        data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 64)))
    elif kind == "delete":
        del data[pos : pos + rnd.randint(1, 64)]
    elif kind == "zero":
        data[pos : pos + rnd.randint(1, 512)] = bytes(len(data[pos : pos + rnd.randint(1, 512)]))
    elif kind == "append":
        data += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 256)))
    else:
        data[0:0] = b"junk" * rnd.randint(1, 64)
    return bytes(data), f"damage: {kind} at {pos}"


def whole_file(c, rnd):
    kind = rnd.choice(
        [
            "empty",
            "junk",
            "pickle",
            "npy",
            "pk-pickle",
            "text",
            "no-members",
            "many-members",
            "bomb-header",
            "bomb-small-claim",
            "bomb-zeros",
            "bomb-bzip2",
            "bomb-lzma",
            "huge-directory-claim",
        ]
    )
    if kind == "empty":
        data = b""
    elif kind == "junk":
        data = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4096)))
    elif kind == "pickle":
        data = pickle.dumps({"input_w": Evil(c.marker)})
    elif kind == "npy":
        data = npy_bytes(np.zeros((2, 3), dtype=np.float32))
    elif kind == "pk-pickle":
        data = b"PK\x03\x04" + pickle.dumps(Evil(c.marker))
    elif kind == "text":
        data = b"format_version = 1\n"
    elif kind == "no-members":
        data = zip_bytes([])
    elif kind == "many-members":
        data = zip_bytes([Member(f"m{i}", b"") for i in range(rnd.choice([300, 5000]))])
    elif kind == "huge-directory-claim":
        data = zip_bytes(c.members())
        # The end record claims 65535 entries and a 4 GiB directory.
        data = data[:-22] + struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFF0, 0, 0
        )
    else:
        members = [m for m in c.members() if m.name != "input_w.npy"] + bomb_members(kind[5:])
        data = zip_bytes(members)
    c.exact = False
    return data, f"whole file: {kind}"


# -- one case ------------------------------------------------------------------------------
def make_case(rnd, marker):
    """Build one hostile file; return (bytes, description, case)."""
    c = Case(rnd, marker)
    if rnd.random() < 0.08:
        data, step = whole_file(c, rnd)
        c.steps.append(step)
        return data, c
    # Mostly one mutation: validation stops at the first error, so a second
    # one would often hide the first from the checks after it.
    for _ in range(rnd.choice([0, 1, 1, 1, 1, 1, 2, 3])):
        m = rnd.choice(STRUCTURED)
        c.steps.append(m(c, rnd))
        if m not in KEEPS_EXACT:
            c.exact = False
    data = c.to_bytes()
    if rnd.random() < 0.2:
        data, step = damage(data, rnd)
        c.steps.append(step)
        c.exact = False
    return data, c


class CaseFailure(AssertionError):
    """A hostile file got something other than success or a FastDrumError."""


def check_file(path, case=None, *, generate=True):
    """The oracle. Return an outcome label; raise CaseFailure if the file got anything else.

    Labels: ``"loaded"`` (and generated correctly) or the FastDrumError subclass name.
    """
    try:
        model = load_model(path, max_bytes=LOAD_LIMIT)
    except FastDrumError as exc:
        if not str(exc):
            raise CaseFailure(f"{type(exc).__name__} without a message") from None
        return type(exc).__name__
    except BaseException as exc:  # noqa: BLE001 - the point is to see what escapes
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CaseFailure(f"load_model raised {type(exc).__name__}: {exc}") from exc
    if case is not None and case.exact:
        # It loaded: it must hold exactly what was written (in native float32).
        for k in fastdrum._format.WEIGHT_KEYS:
            want = np.asarray(case.arrays[k]).astype(np.float32)
            if not np.array_equal(model.weights[k], want):
                raise CaseFailure(f"loaded weights {k!r} differ from the file's")
        if tuple(int(d) for d in case.arrays["dilations"]) != model.dilations:
            raise CaseFailure("loaded dilations differ from the file's")
        if model.voices:
            for k in ("voice_emb", "cond_w"):
                if not np.array_equal(
                    model.weights[k], np.asarray(case.arrays[k]).astype(np.float32)
                ):
                    raise CaseFailure(f"loaded weights {k!r} differ from the file's")
            if model.voices != tuple(str(v) for v in case.arrays["voices"]):
                raise CaseFailure("loaded voices differ from the file's")
        if model.time_tau is not None and not (
            np.array_equal(model.weights["time_w"], case.arrays["time_w"])
            and np.array_equal(model.time_tau, case.arrays["time_tau"])
            and model.time_block == int(case.arrays["time_block"])
        ):
            raise CaseFailure("loaded time conditioning differs from the file's")
        if model.decay is not None and not np.array_equal(
            model.weights["decay_w"], case.arrays["decay_w"]
        ):
            raise CaseFailure("loaded decay_w differs from the file's")
        for key in ("preemphasis", "integration")[: model.format_version - 1]:
            if not np.array_equal(np.asarray(getattr(model, key), np.float32), case.arrays[key]):
                raise CaseFailure(f"loaded {key} differs from the file's")
        if model.format_version >= 5 and not np.array_equal(
            model.output_filter, case.arrays["output_filter"]
        ):
            raise CaseFailure("loaded output_filter differs from the file's")
    if not generate:
        return "loaded"
    T = 16
    for backend in fastdrum._backends.available():  # the kernel too, once built
        try:
            # Finite but extreme weights (e.g. 3e38) overflow float32 inside the
            # network; NumPy's warnings about that are not the loader's concern.
            with np.errstate(all="ignore"):
                y = model.generate(
                    2,
                    duration=T / model.sample_rate,
                    seed=0,
                    backend=backend,
                    voice=model.voices[0] if model.voices else None,
                )
        except FastDrumError as exc:
            return "loaded, then " + type(exc).__name__
        except Exception as exc:
            raise CaseFailure(
                f"generate(backend={backend!r}) raised {type(exc).__name__}: {exc}"
            ) from exc
        if y.dtype != np.float32 or y.ndim != 2 or y.shape[0] != 2:
            raise CaseFailure(f"generate(backend={backend!r}) returned {y.dtype} {y.shape}")
        if not (np.isfinite(y).all() and np.abs(y).max() <= 1.0):
            raise CaseFailure(f"generate(backend={backend!r}): audio is not finite in [-1, 1]")
    return "loaded"


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _cap_address_space(extra_bytes):
    """Cap this process's address space: a large allocation becomes a MemoryError."""
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return limit


def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(
    cases,
    seed=0,
    timeout=20.0,
    extra_address_space=2**30,
    max_growth_mib=256,
    verbose=False,
    out=sys.stdout,
):
    """Run `cases` cases; return (outcomes Counter, failures list)."""
    outcomes = collections.Counter()
    failures = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        return _run(
            cases,
            seed,
            timeout,
            extra_address_space,
            max_growth_mib,
            verbose,
            out,
            outcomes,
            failures,
        )
    finally:
        signal.signal(signal.SIGALRM, previous)


def _run(
    cases, seed, timeout, extra_address_space, max_growth_mib, verbose, out, outcomes, failures
):
    with tempfile.TemporaryDirectory(prefix="fastdrum-fuzz-") as tmp:
        marker = os.path.join(tmp, "MARKER-pickle-executed")
        path = os.path.join(tmp, "case.npz")
        # Build the cached bomb stream before the cap (it is 2 MiB).
        deflated_zeros(BOMB_BYTES // 2**20)
        compressed_zeros(zipfile.ZIP_BZIP2, BOMB_MIB["bzip2"])
        compressed_zeros(zipfile.ZIP_LZMA, BOMB_MIB["lzma"])
        limit = _cap_address_space(extra_address_space)
        peak0 = peak_rss_mib()
        print(
            f"address space capped at {limit / 2**30:.2f} GiB; RSS {rss_mib():.0f} MiB, "
            f"peak so far {peak0:.0f} MiB",
            file=out,
        )
        t0 = time.monotonic()
        for i in range(cases):
            rnd = random.Random(f"{seed}-{i}")
            data, case = make_case(rnd, marker)
            with open(path, "wb") as f:
                f.write(data)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                label = check_file(path, case)
            except CaseFailure as exc:
                label = "FAILURE"
                failures.append((i, case.steps, str(exc)))
            except _Timeout:
                label = "FAILURE"
                failures.append((i, case.steps, f"timed out after {timeout} s"))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if os.path.exists(marker):
                os.unlink(marker)
                label = "FAILURE"
                failures.append((i, case.steps, "a pickle was executed (marker file created)"))
            if peak_rss_mib() > peak0 + max_growth_mib:
                label = "FAILURE"
                failures.append((i, case.steps, f"peak RSS grew to {peak_rss_mib():.0f} MiB"))
                peak0 = peak_rss_mib()
            outcomes[label] += 1
            if verbose:
                print(i, label, case.steps, file=out)
            if (i + 1) % 1000 == 0:
                print(
                    f"{i + 1} cases, {time.monotonic() - t0:.0f} s, RSS {rss_mib():.0f} MiB, "
                    f"{len(failures)} failures",
                    file=out,
                    flush=True,
                )
    return outcomes, failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", default="0", help="cases are reproducible from (seed, index)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    outcomes, failures = run(args.cases, args.seed, args.timeout, verbose=args.verbose)
    elapsed = time.monotonic() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{args.cases} cases in {elapsed:.0f} s (seed {args.seed!r}); peak RSS {peak:.0f} MiB")
    for label, count in outcomes.most_common():
        print(f"{count:7d}  {label}")
    for i, steps, why in failures[:50]:
        print(f"FAILURE case {i}: {why}\n    steps: {steps}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
