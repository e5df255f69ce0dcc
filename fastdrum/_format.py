"""Model formats 1 to 7: reading, validating and writing WaveNet weights in .npz files.

The tables in the project's docs (docs/format.md) are the contract: format 2
is format 1 plus pre-emphasis and (optionally) voice conditioning. Reading is
strict and bounded: the zip directory is bounded before it is parsed, and
every member's header (dtype, shape, declared size) is checked *before* its
data is read, so a hostile file can neither execute code (no pickles) nor make
the loader allocate more than ``max_bytes`` (docs/hardening.md lists what each
kind of bad file gets; tools/fuzz_models.py is the fuzzer that checks it).
"""

import json
import math
import os
import re
import struct
import tokenize
import zipfile
import zlib

import numpy as np

from . import _io, predictor
from ._checks import MAX_SAMPLE_RATE
from .errors import ModelFormatError

#: The versions this fastdrum reads (and writes: the lowest one that holds a model).
FORMAT_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
#: The newest version.
FORMAT_VERSION = 7

#: Default bound on the total uncompressed size of a model file's arrays.
DEFAULT_MAX_BYTES = 256 * 2**20

#: Bounds that keep a valid file's generation cost and memory finite.
MAX_DILATION = 2**20
MAX_LAYERS = 4096
MAX_CHANNELS = 65536
#: Bound on sum(dilations): the ring buffers of generation hold that many
#: steps of state per clip.
MAX_RECEPTIVE_FIELD = 2**22

#: Bounds on the container, checked before it is parsed: a format-2 file has
#: at most 26 members; a header or directory beyond these is hostile.
MAX_MEMBERS = 256
MAX_DIRECTORY_BYTES = 2**20
MAX_HEADER_BYTES = 10_000
MAX_NDIM = 4
#: Bound on the meta JSON string (characters).
MAX_META_CHARS = 2**20

WEIGHT_KEYS = (
    "input_w",
    "input_b",
    "dil_w",
    "dil_b",
    "res_w",
    "res_b",
    "skip_w",
    "skip_b",
    "out1_w",
    "out1_b",
    "out2_w",
    "out2_b",
)
REQUIRED_KEYS = ("format_version", "sample_rate", "dilations") + WEIGHT_KEYS
#: The weight matrices of the per-step products, which generation streams
#: from memory at every step (the input taps are a table lookup, biases adds).
MATRIX_KEYS = ("dil_w", "res_w", "skip_w", "out1_w", "out2_w")
#: Largest finite float16.
FLOAT16_MAX = 65504.0


def is_float16_exact(a):
    """Whether every element of float32 array `a` is exactly a float16 value."""
    a = np.asarray(a, dtype=np.float32)
    if a.size and not float(np.abs(a).max()) <= FLOAT16_MAX:
        return False
    return bool(np.array_equal(a.astype(np.float16).astype(np.float32), a))


OPTIONAL_KEYS = ("primers", "meta")
#: Format 2's conditioning keys: all present (a conditioned model) or all absent.
CONDITIONING_KEYS = ("voices", "voice_emb", "cond_w")
#: Format 2's time-since-onset keys: all present (a time-conditioned model) or all absent.
TIME_KEYS = ("time_tau", "time_block", "time_w")
#: Format 2's decay-time key: present with ``meta["decay"]`` and every voice's ``"decays"``.
DECAY_KEY = "decay_w"
#: Every optional key of format 2 (``preemphasis`` is required in format 2).
OPTIONAL_KEYS_2 = OPTIONAL_KEYS + CONDITIONING_KEYS + ("primer_voices",) + TIME_KEYS + (DECAY_KEY,)
#: Every key either format reads.
#: Format 4's low shelf: the zero and the pole of the filter the clips are taken through in training.
SHELF_KEYS = ("shelf_zero", "shelf_pole")
#: Format 5's output filter: a causal FIR (one a voice) generation takes the finished clips through.
OUTPUT_FILTER_KEY = "output_filter"
#: Format 7's tables of the decoded signal's code and of the prediction's: the network is fed both.
LOOP_KEYS = ("sig_w", "pred_w")
KNOWN_KEYS = (
    REQUIRED_KEYS
    + OPTIONAL_KEYS_2
    + ("preemphasis", "integration")
    + SHELF_KEYS
    + (OUTPUT_FILTER_KEY,)
    + LOOP_KEYS
)

#: Bounds of format 2: voices V, embedding size E, and the voice-name pattern.
MAX_VOICES = 256
MAX_EMBEDDING = 1024
VOICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Bounds of the time-since-onset conditioning: features F, time constants and block (samples).
MAX_TIME_FEATURES = 64
MAX_TIME_TAU = 2.0**24
MAX_TIME_BLOCK = 65536
#: Bounds of the decay-time conditioning (``meta["decay"]`` and each voice's ``"decays"``):
#: the mean (ln seconds) and scale of ln d, the level drop that defines d (dB), the decays
#: stored per voice and each one's range (seconds).
MAX_DECAY_LOG_MEAN = 20.0
DECAY_SCALE_RANGE = (1e-3, 1e3)
MAX_DECAY_DROP_DB = 200.0
MAX_DECAYS = 100_000
MAX_DECAY_SECONDS = 1000.0
#: Bounds of an envelope-normalised model's ``meta["envelope"]``: the hold (seconds, [0, max]) and
#: the floor (dB, [lo, hi)).
MAX_ENVELOPE_HOLD = 1.0
ENVELOPE_FLOOR_DB_RANGE = (-120.0, 0.0)
#: Bounds of format 5's output filter: taps K a filter, and each tap's magnitude.
MAX_OUTPUT_FILTER_TAPS = 8192
MAX_OUTPUT_FILTER_VALUE = 1000.0


def expected_shapes(L, Q, R, D, S):
    """Shape of every weight key for the given sizes (format 1 table)."""
    return {
        "input_w": (2, Q, R),
        "input_b": (R,),
        "dil_w": (L, 2, R, 2 * D),
        "dil_b": (L, 2 * D),
        "res_w": (L, D, R),
        "res_b": (L, R),
        "skip_w": (L, D, S),
        "skip_b": (L, S),
        "out1_w": (S, S),
        "out1_b": (S,),
        "out2_w": (S, Q),
        "out2_b": (Q,),
    }


def _fail(key, what):
    raise ModelFormatError(f"model key {key!r}: {what}")


def _not_a_model(path, why):
    raise ModelFormatError(f"not a model file (.npz archive) {os.fspath(path)!r}: {why}")


#: Errors the standard library and NumPy raise on malformed zip or .npy data.
#: RecursionError: a deeply nested .npy header (ast.literal_eval); struct.error
#: and OverflowError: absurd fields in zip records; RuntimeError includes
#: NotImplementedError (unsupported zip features) and "File is encrypted";
#: tokenize.TokenError: NumPy tokenizes version 1.0/2.0 headers. Found by
#: tools/fuzz_models.py; MemoryError is deliberately not here (sizes are
#: checked first, so one would be a bug to see, not to hide).
_READ_ERRORS = (
    ValueError,
    EOFError,
    OSError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    RuntimeError,
    RecursionError,
    SyntaxError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    struct.error,
    zlib.error,
    UnicodeDecodeError,
    tokenize.TokenError,
)

#: Format-1 arrays are integers, floats or (meta) a unicode string.
_ALLOWED_KINDS = "iufU"


def _check_directory(f, path):
    """Bound the zip's central directory *before* zipfile parses it.

    ``zipfile.ZipFile`` builds one ``ZipInfo`` per directory entry, so a file
    whose directory holds millions of tiny entries would cost gigabytes of
    memory before any member is looked at. This reads the end-of-directory
    record with zipfile's own locator (so both agree on which record counts).
    """
    try:
        endrec = zipfile._EndRecData(f)  # the function ZipFile.__init__ uses
    except _READ_ERRORS as exc:
        _not_a_model(path, f"unreadable zip directory ({exc})")
    if not endrec:
        _not_a_model(path, "no zip end-of-directory record (a truncated or damaged file?)")
    entries, size = endrec[zipfile._ECD_ENTRIES_TOTAL], endrec[zipfile._ECD_SIZE]
    if entries > MAX_MEMBERS or size > MAX_DIRECTORY_BYTES:
        _not_a_model(
            path,
            f"zip directory of {entries} entries and {size} bytes exceeds "
            f"{MAX_MEMBERS} entries or {MAX_DIRECTORY_BYTES} bytes",
        )
    f.seek(0)


def _read_header(f):
    """Return (shape, fortran_order, dtype) of an .npy stream, reading only its header."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
    # 2.0 and 3.0 share the layout (3.0 is utf-8; format-1 headers are ASCII).
    return np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)


def _check_member(key, info, shape, dtype, header_bytes):
    """Check an .npy member's header against the zip entry; return its data size."""
    if dtype.hasobject:
        _fail(key, f"object arrays are not allowed (dtype {dtype!r}); they would need unpickling")
    if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.itemsize == 0:
        _fail(key, f"dtype {dtype!r} is not an integer, float or unicode type")
    if len(shape) > MAX_NDIM:
        _fail(key, f"shape {shape!r} has more than {MAX_NDIM} dimensions")
    n = 1
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            _fail(key, f"invalid shape {shape!r}")
        n *= s
    nbytes = n * dtype.itemsize
    # np.save writes exactly header + data; any other declared size means a
    # truncated member, trailing data or a forged directory entry.
    if info.file_size != header_bytes + nbytes:
        _fail(
            key,
            f"sizes do not agree: shape {shape!r} of {dtype} needs {header_bytes} + {nbytes} "
            f"bytes, the zip entry declares {info.file_size}",
        )
    return nbytes


def read_arrays(path, *, max_bytes=DEFAULT_MAX_BYTES, only=None):
    """Read the arrays of a model file into a dict, bounded and pickle-free.

    Every member's header is checked (dtype, shape, declared sizes, and the
    running total against `max_bytes`) before any array data is read; only
    stored and deflated members are read (their decompression is bounded by
    the sizes checked), and nothing is ever unpickled. Non-native byte order
    (e.g. big-endian ``'>f4'`` written on another machine) is converted to
    native.

    `only`, a collection of keys, reads just those (those present; none is
    required): e.g. the voices of a file, without its weights.
    """
    with open(path, "rb") as f:
        magic = f.read(4)
        if magic[:4] != b"PK\x03\x04" and magic[:4] != b"PK\x05\x06":
            if magic[:1] == b"\x93":
                why = "a single .npy array, not an .npz archive"
            elif magic[:1] == b"\x80":
                why = "pickled data (never unpickled)"
            elif not magic:
                why = "the file is empty"
            else:
                why = f"not a zip archive (starts with {magic!r})"
            _not_a_model(path, why)
        _check_directory(f, path)
        try:
            zf = zipfile.ZipFile(f)
        except _READ_ERRORS as exc:
            _not_a_model(path, f"unreadable zip archive ({exc})")
        with zf:
            return _read_members(zf, path, max_bytes, only)


def _read_members(zf, path, max_bytes, only=None):
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        _not_a_model(path, f"{len(infos)} zip members exceed {MAX_MEMBERS}")
    members = {}
    total = 0
    seen = set()
    for info in infos:
        name = info.filename
        if name in seen:
            _not_a_model(path, f"duplicate zip member {name!r}")
        seen.add(name)
        if not name.endswith(".npy"):
            continue  # other members are ignored (forward compatible)
        key = name[:-4]
        if key not in KNOWN_KEYS:
            continue  # unknown keys are ignored (forward compatible)
        if only is not None and key not in only:
            continue
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2 and lzma members are decompressed without an output bound.
            _fail(
                key,
                f"zip compression method {info.compress_type!r} is not allowed "
                "(only stored or deflated, as np.savez and np.savez_compressed write)",
            )
        if info.flag_bits & 0x1:
            _fail(key, "the zip member is encrypted")
        try:
            with zf.open(info) as f:
                shape, _, dtype = _read_header(f)
                header_bytes = f.tell()
        except _READ_ERRORS as exc:
            _fail(key, f"unreadable array header ({exc})")
        total += _check_member(key, info, shape, dtype, header_bytes)
        if total > max_bytes:
            raise ModelFormatError(
                f"model key {key!r}: arrays exceed the size limit of {max_bytes} bytes "
                f"(pass max_bytes= to raise it)"
            )
        members[key] = info
    for key in REQUIRED_KEYS if only is None else ():
        if key not in members:
            _fail(key, "missing")
    arrays = {}
    for key, info in members.items():
        try:
            with zf.open(info) as f:
                # The header promised exactly the member's size, so reading the
                # data reaches the member's end, where zipfile checks its CRC.
                a = np.lib.format.read_array(
                    f, allow_pickle=False, max_header_size=MAX_HEADER_BYTES
                )
        except _READ_ERRORS as exc:
            _fail(key, f"unreadable array data ({exc})")
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        arrays[key] = a
    return arrays


def _as_int_scalar(arrays, key, lo, hi):
    a = arrays[key]
    if a.shape != ():
        _fail(key, f"must be a scalar, got shape {a.shape}")
    if a.dtype.kind not in "iu":
        _fail(key, f"must be an integer, got dtype {a.dtype}")
    v = int(a)
    if not lo <= v <= hi:
        _fail(key, f"must lie in [{lo}, {hi}], got {v!r}")
    return v


def _as_array(key, value):
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:  # e.g. a ragged nested list
        _fail(key, f"not an array ({exc})")


def _is_float32(dtype):
    """float32 in either byte order ('<f4' or '>f4')."""
    return dtype.kind == "f" and dtype.itemsize == 4


def _json_number(value):
    """`value` as a float if it is a finite JSON number (an int or float, not a bool), else NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    try:
        v = float(value)
    except OverflowError:  # an integer beyond float range
        return math.nan
    return v if math.isfinite(v) else math.nan


def _check_meta(m):
    if m.shape != () or m.dtype.kind != "U":
        _fail("meta", f"must be a unicode string scalar, got {m.dtype} {m.shape}")
    text = str(m)
    if len(text) > MAX_META_CHARS:
        _fail("meta", f"JSON of {len(text)} characters exceeds {MAX_META_CHARS}")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        _fail("meta", f"is not valid JSON ({type(exc).__name__}: {str(exc)[:200]})")
    if not isinstance(meta, dict):
        _fail("meta", f"must hold a JSON object, got {type(meta).__name__}")
    dur = meta.get("clip_duration")
    if dur is not None and not _json_number(dur) > 0:  # also False for NaN
        _fail("meta", f"clip_duration must be a finite positive number, got {str(dur)[:100]!r}")
    inst = meta.get("instrument")
    if inst is not None and not isinstance(inst, str):
        _fail("meta", f"instrument must be a string, got {str(inst)[:100]!r}")
    return meta


#: Where each size can be read: (key, ndim, axis, divisor). Each size is the
#: value most keys agree on, so a shape error names the odd key out.
_SIZE_SOURCES = {
    "Q": [("input_w", 3, 1, 1), ("out2_w", 2, 1, 1), ("out2_b", 1, 0, 1)],
    "R": [
        ("input_w", 3, 2, 1),
        ("input_b", 1, 0, 1),
        ("dil_w", 4, 2, 1),
        ("res_w", 3, 2, 1),
        ("res_b", 2, 1, 1),
    ],
    "D": [("dil_w", 4, 3, 2), ("dil_b", 2, 1, 2), ("res_w", 3, 1, 1), ("skip_w", 3, 1, 1)],
    "S": [
        ("skip_w", 3, 2, 1),
        ("skip_b", 2, 1, 1),
        ("out1_w", 2, 0, 1),
        ("out1_w", 2, 1, 1),
        ("out1_b", 1, 0, 1),
        ("out2_w", 2, 0, 1),
    ],
}


def _vote(arrays, name):
    votes = {}
    for key, ndim, axis, div in _SIZE_SOURCES[name]:
        a = arrays[key]
        if a.ndim == ndim and a.shape[axis] % div == 0:
            v = a.shape[axis] // div
            votes[v] = votes.get(v, 0) + 1
    if not votes:
        key = _SIZE_SOURCES[name][0][0]
        _fail(
            key, f"cannot infer size {name} from shape {arrays[key].shape} (see the format-1 table)"
        )
    return max(votes, key=votes.get)  # ties: the first source listed


def validate(arrays):
    """Check a dict of arrays against format 1, 2, 3, 4, 5 or 6 and return what they describe.

    Returns a dict with version, L, Q, R, D, S, sample_rate, dilations
    (tuple), meta (dict), primers (int32 array or None), preemphasis (float,
    0.0 in format 1; or a tuple of floats, one a voice), integration (likewise, 0.0
    before format 3), shelf_zero and shelf_pole (likewise, 0.0 before format 4),
    output_filter (a read-only float32 array, (K,) or with voices (V, K); None before
    format 5), voices
    (tuple of str, empty when unconditioned), E (the
    embedding size, or None), primer_voices (int32 array or None), time_tau
    (float32 array (F,) or None), time_block (int or None), decay (dict of
    mean, scale and drop_db, or None) and voice_decays ({voice: read-only
    float64 array of seconds}, or None), envelope ({"hold", "floor_db"} as floats, or None) and
    predictor ({"order", "window", "hop"} as ints and "gain" as a float; None before format 6) and
    loop (True in format 7: the predictor runs inside the sampling loop and the network is also fed
    the decoded signal's code and the prediction's, ``sig_w`` and ``pred_w``; docs/format.md,
    "Format 7").
    Weights
    may be float32 in either byte order (callers convert to native);
    everything else about the tables is strict. A format-1 file's format-2
    keys are unknown keys to it, so they are ignored.
    """
    arrays = _check_arrays(arrays)
    version = _check_version(arrays["format_version"])
    sample_rate = _as_int_scalar(arrays, "sample_rate", 1, MAX_SAMPLE_RATE)
    dilations = _check_dilations(arrays["dilations"])
    L = len(dilations)
    Q, R, D, S = _check_weights(arrays, L)
    primers = _check_primers(arrays.get("primers"), Q)
    meta = _check_meta(arrays["meta"]) if "meta" in arrays else {}
    info = dict(
        version=version,
        L=L,
        Q=Q,
        R=R,
        D=D,
        S=S,
        sample_rate=sample_rate,
        dilations=dilations,
        meta=meta,
        primers=primers,
        preemphasis=0.0,
        voices=(),
        E=None,
        primer_voices=None,
        time_tau=None,
        time_block=None,
        decay=None,
        voice_decays=None,
    )
    if version >= 2:
        info.update(_validate_2(arrays, info))
    info["integration"] = _validate_integration(arrays, info) if version >= 3 else 0.0
    info.update(
        _validate_shelf(arrays, info) if version >= 4 else dict(shelf_zero=0.0, shelf_pole=0.0)
    )
    info["output_filter"] = _validate_output_filter(arrays, info) if version >= 5 else None
    info["envelope"] = _validate_envelope(meta, info["decay"])
    info["predictor"] = _validate_predictor(meta, version)
    info["loop"] = _validate_loop(arrays, info)
    return info


def _check_arrays(arrays):
    """`arrays` with every required key, each value an array (not of objects)."""
    for key in REQUIRED_KEYS:
        if key not in arrays:
            _fail(key, "missing")
    arrays = {k: _as_array(k, v) for k, v in arrays.items()}
    for key, a in arrays.items():
        if a.dtype.hasobject:
            _fail(key, f"object arrays are not allowed (dtype {a.dtype!r})")
    return arrays


def _check_version(version):
    """The format version as an int, if this fastdrum reads it."""
    if version.shape != () or version.dtype.kind not in "iu":
        _fail("format_version", f"must be an integer scalar, got {version.dtype} {version.shape}")
    version = int(version)
    if version not in FORMAT_VERSIONS:
        _fail(
            "format_version",
            f"unknown version {version!r} (this fastdrum reads "
            f"{', '.join(map(str, FORMAT_VERSIONS))})",
        )
    return version


def _check_dilations(dil):
    """The dilations as a tuple of ints, within the layer, dilation and receptive-field limits."""
    if dil.ndim != 1 or dil.dtype.kind not in "iu":
        _fail("dilations", f"must be a 1-D integer array, got {dil.dtype} {dil.shape}")
    if not 1 <= dil.shape[0] <= MAX_LAYERS:
        _fail("dilations", f"needs 1 to {MAX_LAYERS} layers, got {dil.shape[0]}")
    if dil.min() < 1 or dil.max() > MAX_DILATION:
        _fail("dilations", f"each must lie in [1, {MAX_DILATION}], got {dil.tolist()!r}")
    dilations = tuple(int(d) for d in dil)
    if sum(dilations) > MAX_RECEPTIVE_FIELD:
        _fail(
            "dilations",
            f"sum {sum(dilations)} exceeds the receptive-field limit {MAX_RECEPTIVE_FIELD}",
        )
    return dilations


def _check_weights(arrays, L):
    """(Q, R, D, S) that the weights of an `L`-layer network agree on; each weight float32, finite."""
    for key in WEIGHT_KEYS:
        if not _is_float32(arrays[key].dtype):
            _fail(key, f"dtype must be float32, got {arrays[key].dtype}")
    Q, R, D, S = (_vote(arrays, name) for name in "QRDS")
    if not 2 <= Q <= MAX_CHANNELS:
        _fail("input_w", f"quantization channels Q must lie in [2, {MAX_CHANNELS}], got {Q}")
    for name, v in (("R", R), ("D", D), ("S", S)):
        if not 1 <= v <= MAX_CHANNELS:
            _fail(
                _SIZE_SOURCES[name][0][0],
                f"channel count {name} must lie in [1, {MAX_CHANNELS}], got {v}",
            )
    sizes = f"L={L}, Q={Q}, R={R}, D={D}, S={S}"
    for key, shape in expected_shapes(L, Q, R, D, S).items():
        _check_float32(arrays, key, shape, sizes)
    return Q, R, D, S


def _check_primers(primers, Q):
    """The primers as int32 codes in [0, Q), or None."""
    if primers is None:
        return None
    if primers.ndim != 2 or primers.dtype.kind not in "iu" or 0 in primers.shape:
        _fail(
            "primers",
            f"must be a non-empty 2-D integer array (N, P), got {primers.dtype} {primers.shape}",
        )
    if primers.min() < 0 or primers.max() >= Q:
        _fail(
            "primers",
            f"codes must lie in [0, {Q}), got range [{primers.min()}, {primers.max()}]",
        )
    return primers.astype(np.int32)


def _check_float32(arrays, key, shape, sizes):
    a = arrays[key]
    if not _is_float32(a.dtype):
        _fail(key, f"dtype must be float32, got {a.dtype}")
    if a.shape != shape:
        _fail(key, f"shape must be {shape} ({sizes}), got {a.shape}")
    if not np.isfinite(a).all():
        _fail(key, "contains NaN or Inf")


def _validate_2(arrays, info):
    """The format-2 keys (docs/format.md): pre-emphasis, time, voices and their primers, decay."""
    a = _validate_coefficients(arrays, "preemphasis", 2, "(-1, 1)", lambda x: -1.0 < x < 1.0)
    out = dict(preemphasis=a)
    out.update(_validate_time(arrays, info))
    out.update(_validate_voices(arrays, info))
    _check_one_a_voice("preemphasis", a, out.get("voices", ()))
    out.update(_validate_decay(arrays, info, out.get("voices", ())))
    return out


def _validate_coefficients(arrays, key, version, bounds, ok):
    """`key`, required from format `version` on: a float32 scalar, or one a voice (V,); each `ok`
    (written `bounds`). A float, or a tuple of floats (:func:`_check_one_a_voice` checks their count)."""
    if key not in arrays:
        _fail(key, f"missing (required in format {version})")
    a = arrays[key]
    if a.ndim > 1 or not _is_float32(a.dtype):
        _fail(key, f"must be a float32 scalar or (V,) array, got {a.dtype} {a.shape}")
    values = [float(x) for x in a.reshape(-1)]
    bad = [x for x in values if not ok(x)]  # also NaN
    if bad or not values:
        _fail(key, f"must lie in {bounds}, got {bad[0] if bad else 'no value'!r}")
    return values[0] if a.ndim == 0 else tuple(values)


def _check_one_a_voice(key, values, voices):
    """Coefficients one a voice (a tuple) must be as many as the voices."""
    if isinstance(values, tuple) and len(values) != len(voices):
        _fail(
            key,
            f"has {len(values)} coefficients, one a voice, but the model has {len(voices)} voices",
        )


def _validate_integration(arrays, info):
    """Format 3's leaky integration, each coefficient in [0, 1)."""
    b = _validate_coefficients(arrays, "integration", 3, "[0, 1)", lambda x: 0.0 <= x < 1.0)
    _check_one_a_voice("integration", b, info["voices"])
    return b


def _validate_shelf(arrays, info):
    """Format 4's low shelf: its zero c and pole p, each in [0, 1), and c <= p for every voice."""
    out = {}
    for key in SHELF_KEYS:
        out[key] = _validate_coefficients(arrays, key, 4, "[0, 1)", lambda x: 0.0 <= x < 1.0)
        _check_one_a_voice(key, out[key], info["voices"])
    n = len(info["voices"]) or 1
    zeros, poles = (v if isinstance(v, tuple) else (v,) * n for v in out.values())
    for i, (c, p) in enumerate(zip(zeros, poles)):
        if c > p:
            where = f" (voice {info['voices'][i]!r})" if info["voices"] else ""
            _fail("shelf_zero", f"{c:.7g} exceeds the shelf's pole {p:.7g}{where}: it must not")
    return out


def _validate_output_filter(arrays, info):
    """Format 5's output filter: float32 taps, (K,) for a model without voices or (V, K), one row a
    voice; 1 <= K <= MAX_OUTPUT_FILTER_TAPS, each tap finite with magnitude at most
    MAX_OUTPUT_FILTER_VALUE. A read-only native float32 copy."""
    key = OUTPUT_FILTER_KEY
    if key not in arrays:
        _fail(key, "missing (required in formats 5 and 6)")
    h = arrays[key]
    if not _is_float32(h.dtype):
        _fail(key, f"dtype must be float32, got {h.dtype}")
    voices = info["voices"]
    if voices:
        if h.ndim != 2:
            _fail(
                key,
                f"must be 2-D (V, K), one filter a voice, for a model with voices, got shape {h.shape}",
            )
        if h.shape[0] != len(voices):
            _fail(
                key,
                f"has {h.shape[0]} rows, one filter a voice, but the model has {len(voices)} voices",
            )
    elif h.ndim != 1:
        _fail(key, f"must be 1-D (K,) for a model without voices, got shape {h.shape}")
    K = h.shape[-1]
    if not 1 <= K <= MAX_OUTPUT_FILTER_TAPS:
        _fail(key, f"needs 1 to {MAX_OUTPUT_FILTER_TAPS} taps, got {K}")
    if not np.isfinite(h).all():
        _fail(key, "contains NaN or Inf")
    big = np.abs(h) > MAX_OUTPUT_FILTER_VALUE
    if big.any():
        _fail(
            key,
            f"each tap must lie in [-{MAX_OUTPUT_FILTER_VALUE:g}, {MAX_OUTPUT_FILTER_VALUE:g}], "
            f"got {float(h[big][0])!r}",
        )
    out = np.array(h, dtype=np.float32, order="C")  # own, native, contiguous copy
    out.setflags(write=False)
    return out


def _validate_voices(arrays, info):
    """The voice keys of format 2 (all or none) and the primers' voices."""
    out = {}
    present = [k for k in CONDITIONING_KEYS if k in arrays]
    if present and len(present) < len(CONDITIONING_KEYS):
        missing = [k for k in CONDITIONING_KEYS if k not in arrays]
        _fail(
            missing[0],
            "missing: voices, voice_emb and cond_w go together "
            f"(the file has {', '.join(present)})",
        )
    if not present:
        if "primer_voices" in arrays:
            _fail("primer_voices", "given, but the model has no voices")
        return out

    voices = arrays["voices"]
    if voices.ndim != 1 or voices.dtype.kind != "U":
        _fail("voices", f"must be a 1-D unicode array, got {voices.dtype} {voices.shape}")
    V = voices.shape[0]
    if not 1 <= V <= MAX_VOICES:
        _fail("voices", f"needs 1 to {MAX_VOICES} voices, got {V}")
    names = tuple(str(v) for v in voices)
    bad = [v for v in names if not VOICE_NAME.fullmatch(v)]
    if bad:
        _fail("voices", f"names must match {VOICE_NAME.pattern}, got {bad[0][:40]!r}")
    if len(set(names)) != V:
        dup = sorted({v for v in names if names.count(v) > 1})
        _fail("voices", f"names must be unique, got {dup!r} more than once")

    emb = arrays["voice_emb"]
    if emb.ndim != 2:
        _fail("voice_emb", f"must be 2-D (V, E), got shape {emb.shape}")
    E = emb.shape[1]
    if not 1 <= E <= MAX_EMBEDDING:
        _fail("voice_emb", f"embedding size E must lie in [1, {MAX_EMBEDDING}], got {E}")
    L, D = info["L"], info["D"]
    sizes = f"V={V}, E={E}, L={L}, D={D}"
    _check_float32(arrays, "voice_emb", (V, E), sizes)
    _check_float32(arrays, "cond_w", (L, E, 2 * D), sizes)
    out.update(voices=names, E=E)
    _check_voice_meta(info["meta"], names)

    primers = info["primers"]
    pv = arrays.get("primer_voices")
    if primers is None:
        if pv is not None:
            _fail("primer_voices", "given, but the model has no primers")
        return out
    if pv is None:
        _fail("primer_voices", "missing (required when primers and voices are both present)")
    N = primers.shape[0]
    if pv.shape != (N,) or pv.dtype.kind not in "iu":
        _fail(
            "primer_voices",
            f"must be a 1-D integer array of shape ({N},) (one per primer), "
            f"got {pv.dtype} {pv.shape}",
        )
    if pv.min() < 0 or pv.max() >= V:
        _fail(
            "primer_voices",
            f"voice indices must lie in [0, {V}), got range [{pv.min()}, {pv.max()}]",
        )
    out.update(primer_voices=pv.astype(np.int32))
    return out


def _validate_time(arrays, info):
    """The time-since-onset keys of format 2: all three or none (docs/format.md)."""
    present = [k for k in TIME_KEYS if k in arrays]
    if not present:
        return {}
    if len(present) < len(TIME_KEYS):
        missing = [k for k in TIME_KEYS if k not in arrays]
        _fail(
            missing[0],
            f"missing: time_tau, time_block and time_w go together (the file has {', '.join(present)})",
        )
    tau = arrays["time_tau"]
    if tau.ndim != 1 or not 1 <= tau.shape[0] <= MAX_TIME_FEATURES:
        _fail(
            "time_tau", f"must be 1-D with 1 to {MAX_TIME_FEATURES} values, got shape {tau.shape}"
        )
    if not _is_float32(tau.dtype):
        _fail("time_tau", f"dtype must be float32, got {tau.dtype}")
    if not ((tau >= 1) & (tau <= MAX_TIME_TAU)).all():  # also False for NaN
        _fail(
            "time_tau", f"each must lie in [1, {MAX_TIME_TAU:g}] samples, got {tau.tolist()[:8]!r}"
        )
    block = _as_int_scalar(arrays, "time_block", 1, MAX_TIME_BLOCK)
    L, D, F = info["L"], info["D"], tau.shape[0]
    _check_float32(arrays, "time_w", (L, F, 2 * D), f"L={L}, F={F}, D={D}")
    return dict(time_tau=tau.astype(np.float32), time_block=block)


def _validate_decay(arrays, info, voices):
    """The decay-time conditioning of format 2: ``decay_w`` with ``meta["decay"]`` and every voice's
    ``"decays"`` (docs/format.md), or none of them."""
    meta = info["meta"]
    per_voice = meta.get("voices") if isinstance(meta.get("voices"), dict) else {}
    if DECAY_KEY not in arrays:
        if "decay" in meta:
            _fail(DECAY_KEY, "missing: meta has decay, which goes with decay_w")
        for name, d in per_voice.items():
            if isinstance(d, dict) and "decays" in d:
                _fail(
                    DECAY_KEY, f"missing: meta voices[{name[:40]!r}] has decays, which go with it"
                )
        return {}
    if not voices:
        _fail(DECAY_KEY, "given, but the model has no voices (decays are stored per voice)")
    L, D = info["L"], info["D"]
    _check_float32(arrays, DECAY_KEY, (L, 2 * D), f"L={L}, D={D}")
    stats = meta.get("decay")
    if not isinstance(stats, dict):
        _fail(
            "meta",
            "decay must be an object {mean, scale, drop_db} when the model has decay_w, "
            f"got {str(stats)[:100]!r}",
        )
    lo, hi = DECAY_SCALE_RANGE
    checks = (
        (
            "mean",
            lambda v: abs(v) <= MAX_DECAY_LOG_MEAN,
            f"in [-{MAX_DECAY_LOG_MEAN:g}, {MAX_DECAY_LOG_MEAN:g}] (ln seconds)",
        ),
        ("scale", lambda v: lo <= v <= hi, f"in [{lo:g}, {hi:g}]"),
        ("drop_db", lambda v: 0 < v <= MAX_DECAY_DROP_DB, f"in (0, {MAX_DECAY_DROP_DB:g}] dB"),
    )
    out = {}
    for key, ok, what in checks:
        v = _json_number(stats.get(key))
        if not ok(v):  # also False for NaN
            _fail(
                "meta",
                f"decay[{key!r}] must be a finite number {what}, got {repr(stats.get(key))[:100]}",
            )
        out[key] = v
    decays = {}
    for name in voices:
        entry = per_voice.get(name)
        d = entry.get("decays") if isinstance(entry, dict) else None
        where = f"voices[{name!r}]['decays']"
        if not isinstance(d, list) or not 1 <= len(d) <= MAX_DECAYS:
            _fail(
                "meta",
                f"{where} must be a list of 1 to {MAX_DECAYS} decay times (s) when the model has "
                f"decay_w, got {str(d)[:100]!r}",
            )
        values = np.array([_json_number(x) for x in d], dtype=np.float64)
        ok = (values > 0) & (values <= MAX_DECAY_SECONDS)  # also False for NaN
        if not ok.all():
            bad = d[int(np.flatnonzero(~ok)[0])]
            _fail(
                "meta",
                f"{where}: each must be a finite number of seconds in (0, {MAX_DECAY_SECONDS:g}], "
                f"got {repr(bad)[:100]}",
            )
        values.setflags(write=False)
        decays[name] = values
    return dict(decay=out, voice_decays=decays)


def _validate_envelope(meta, decay):
    """``meta["envelope"]`` (docs/format.md, "Envelope") as ``{"hold", "floor_db"}`` floats, or None.

    Checked in every format: an envelope falls with each clip's decay time, so it needs decay
    conditioning (a format-1 file has none), and a file that has one cannot be generated without it.
    """
    if "envelope" not in meta:
        return None
    env = meta["envelope"]
    if not isinstance(env, dict):
        _fail("meta", f"envelope must be an object {{hold, floor_db}}, got {str(env)[:100]!r}")
    extra = sorted(k for k in env if k not in ("hold", "floor_db"))
    if extra:
        _fail(
            "meta", f"envelope has unknown key(s) {str(extra)[:100]} (it holds hold and floor_db)"
        )
    lo, hi = ENVELOPE_FLOOR_DB_RANGE
    checks = (
        (
            "hold",
            lambda v: 0 <= v <= MAX_ENVELOPE_HOLD,
            f"of seconds in [0, {MAX_ENVELOPE_HOLD:g}]",
        ),
        ("floor_db", lambda v: lo <= v < hi, f"of dB in [{lo:g}, {hi:g})"),
    )
    out = {}
    for key, ok, what in checks:
        v = _json_number(env.get(key))
        if not ok(v):  # also False for NaN: missing, not a number, a bool, not finite
            _fail(
                "meta",
                f"envelope[{key!r}] must be a finite number {what}, got {repr(env.get(key))[:100]}",
            )
        out[key] = v
    if decay is None:
        _fail(
            "meta",
            "envelope needs decay conditioning (decay_w, meta decay and every voice's decays): the "
            "envelope falls with each clip's decay time",
        )
    return out


def _validate_predictor(meta, version):
    """Format 6's ``meta["predictor"]`` (docs/format.md, "Format 6") as ``{"order", "window", "hop",
    "gain"}``, or None before format 6 (where the key is refused: an older reader would ignore it)."""
    if version < 6:
        if "predictor" in meta:
            _fail("meta", f"predictor needs format 6 (the file says format {version})")
        return None
    p = meta.get("predictor")
    if not isinstance(p, dict):
        _fail("meta", f"predictor is required in format {version}, an object, got {str(p)[:100]!r}")
    keys = ("order", "window", "hop", "gain")
    extra = sorted(k for k in p if k not in keys)
    if extra:
        _fail(
            "meta", f"predictor has unknown key(s) {str(extra)[:100]} (it holds {', '.join(keys)})"
        )
    out = {}
    for key, lo, hi in (
        ("order", 1, predictor.MAX_ORDER),
        ("window", 2, predictor.MAX_WINDOW),
        ("hop", predictor.MIN_HOP, predictor.MAX_WINDOW),
    ):
        v = p.get(key)
        if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi):
            _fail(
                "meta",
                f"predictor[{key!r}] must be an integer in [{lo}, {hi}], got {repr(v)[:100]}",
            )
        out[key] = v
    lo, hi = predictor.GAIN_RANGE
    g = _json_number(p.get("gain"))
    if not lo <= g <= hi:  # also False for NaN: missing, not a number, a bool, not finite
        _fail(
            "meta",
            f"predictor['gain'] must be a number in [{lo:g}, {hi:g}], got {repr(p.get('gain'))[:100]}",
        )
    out["gain"] = g
    if not out["order"] < out["window"]:
        _fail("meta", f"predictor's order {out['order']} must be below its window {out['window']}")
    return out


def _validate_loop(arrays, info):
    """Format 7's ``sig_w`` and ``pred_w``, (Q, R) float32 each: True in format 7, False before it
    (where the keys are refused: an older reader would feed the network without them)."""
    Q, R = info["Q"], info["R"]
    for key in LOOP_KEYS:
        if info["version"] < 7:
            if key in arrays:
                _fail(key, f"needs format 7 (the file says format {info['version']})")
            continue
        if key not in arrays:
            _fail(key, "missing (required in format 7)")
        _check_float32(arrays, key, (Q, R), f"Q={Q}, R={R}")
    return info["version"] >= 7


def _check_voice_meta(meta, voices):
    inst = meta.get("instrument")
    if inst is not None and inst not in voices:
        _fail(
            "meta",
            f"instrument of a conditioned model must be one of its voices, got {inst[:100]!r}",
        )
    per_voice = meta.get("voices")
    if per_voice is None:
        return
    if not isinstance(per_voice, dict):
        _fail("meta", f"voices must map voice names to objects, got {str(per_voice)[:100]!r}")
    for name, d in per_voice.items():
        if name not in voices:
            _fail("meta", f"voices names {name[:100]!r}, which is not a voice of the model")
        if not isinstance(d, dict):
            _fail("meta", f"voices[{name!r}] must be an object, got {str(d)[:100]!r}")


def write(path, arrays, *, overwrite=False):
    """Write arrays as a deflate-compressed .npz, atomically (:func:`fastdrum._io.atomic_file`).

    (Compressed: float16-exact weights, such as the shipped model's, shrink to
    about 60%; loading costs a few milliseconds more.)

    Raises
    ------
    OutputExistsError
        If `path` exists and `overwrite` is False.
    """
    with _io.atomic_file(path, overwrite=overwrite, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
