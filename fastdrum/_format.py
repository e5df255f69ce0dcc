"""Model format 1: reading, validating and writing WaveNet weights in .npz files.

The table in the project's docs (docs/format.md) is the contract. Reading is
strict and bounded: every member's header (shape, dtype) is checked *before*
its data is read, so a hostile file can neither execute code (no pickles) nor
make the loader allocate more than ``max_bytes``.
"""

import io
import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from ._errors import ModelFormatError

FORMAT_VERSION = 1

#: Default bound on the total uncompressed size of a model file's arrays.
DEFAULT_MAX_BYTES = 256 * 2**20

#: Bounds that keep a valid file's generation cost and memory finite.
MAX_DILATION = 2**20
MAX_LAYERS = 4096
MAX_CHANNELS = 65536
MAX_SAMPLE_RATE = 768_000

WEIGHT_KEYS = (
    "input_w", "input_b", "dil_w", "dil_b", "res_w", "res_b",
    "skip_w", "skip_b", "out1_w", "out1_b", "out2_w", "out2_b",
)
REQUIRED_KEYS = ("format_version", "sample_rate", "dilations") + WEIGHT_KEYS
OPTIONAL_KEYS = ("primers", "meta")


def expected_shapes(L, Q, R, D, S):
    """Shape of every weight key for the given sizes (format 1 table)."""
    return {
        "input_w": (2, Q, R), "input_b": (R,),
        "dil_w": (L, 2, R, 2 * D), "dil_b": (L, 2 * D),
        "res_w": (L, D, R), "res_b": (L, R),
        "skip_w": (L, D, S), "skip_b": (L, S),
        "out1_w": (S, S), "out1_b": (S,),
        "out2_w": (S, Q), "out2_b": (Q,),
    }


def _fail(key, what):
    raise ModelFormatError(f"model key {key!r}: {what}")


def _read_header(zf, member):
    """Return (shape, dtype) of an .npy member without reading its data."""
    with zf.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:  # pragma: no cover - read_magic only returns known versions
            raise ValueError(f"unsupported .npy version {version}")
    return shape, dtype


def _check_member(key, shape, dtype, info):
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        _fail(key, f"dtype {dtype} is not a plain numeric or string type")
    n = 1
    for s in shape:
        if not isinstance(s, int) or s < 0:
            _fail(key, f"invalid shape {shape!r}")
        n *= s
    expected = n * dtype.itemsize
    # The member's declared uncompressed size must hold the data it claims:
    # a shape promising more data than the member has is a truncated file.
    if info.file_size < expected:
        _fail(key, f"truncated: shape {shape!r} needs {expected} bytes, member has {info.file_size}")
    return expected


def read_arrays(path, *, max_bytes=DEFAULT_MAX_BYTES):
    """Read the arrays of a format-1 file into a dict, bounded and pickle-free."""
    with open(path, "rb") as fh:  # we own the handle: closed even when np.load fails
        try:
            npz = np.load(fh, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"not a model file (.npz) {os.fspath(path)!r}: {exc}") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ModelFormatError(f"not a model file (.npz archive) {os.fspath(path)!r}: a single .npy array")
        with npz:
            return _read_members(npz, max_bytes)


def _read_members(npz, max_bytes):
    arrays = {}
    zf = npz.zip
    members = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        if not name.endswith(".npy"):
            continue
        key = name[:-4]
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            continue  # unknown keys are ignored (forward compatible)
        try:
            shape, dtype = _read_header(zf, name)
        except (ValueError, EOFError, OSError, zipfile.BadZipFile, RuntimeError,
                SyntaxError, TypeError, KeyError, zlib.error) as exc:
            _fail(key, f"unreadable array header ({exc})")
        total += _check_member(key, shape, dtype, info)
        if total > max_bytes:
            raise ModelFormatError(
                f"model key {key!r}: arrays exceed the size limit of {max_bytes} bytes "
                f"(pass max_bytes= to raise it)"
            )
        members[key] = name
    for key in REQUIRED_KEYS:
        if key not in members:
            _fail(key, "missing")
    for key, name in members.items():
        try:
            with zf.open(name) as f:
                arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, EOFError, OSError, zipfile.BadZipFile, RuntimeError,
                zlib.error) as exc:
            _fail(key, f"unreadable array data ({exc})")
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


# Where each size appears: (key, axis, divisor). A size is what most keys
# agree on, so an inconsistent file's error names the odd key out.
_SIZE_SOURCES = {
    "Q": (("input_w", 1, 1), ("out2_w", 1, 1), ("out2_b", 0, 1)),
    "R": (("input_w", 2, 1), ("input_b", 0, 1), ("dil_w", 2, 1), ("res_w", 2, 1), ("res_b", 1, 1)),
    "D": (("dil_w", 3, 2), ("dil_b", 1, 2), ("res_w", 1, 1), ("skip_w", 1, 1)),
    "S": (("skip_w", 2, 1), ("skip_b", 1, 1), ("out1_w", 0, 1), ("out1_w", 1, 1), ("out2_w", 0, 1)),
}


def _infer_sizes(arrays):
    sizes = []
    for name in "QRDS":
        votes = [arrays[key].shape[axis] // div for key, axis, div in _SIZE_SOURCES[name]]
        sizes.append(max(votes, key=votes.count))  # ties: the first source listed
    return sizes


def validate(arrays):
    """Check a dict of arrays against format 1 and return the sizes.

    Returns a dict with L, Q, R, D, S, sample_rate, dilations (tuple), meta
    (dict) and primers (int32 array or None).
    """
    version = arrays["format_version"]
    if version.shape != () or version.dtype.kind not in "iu":
        _fail("format_version", f"must be an integer scalar, got {version.dtype} {version.shape}")
    if int(version) != FORMAT_VERSION:
        _fail("format_version", f"unknown version {int(version)!r} (this fastdrum reads {FORMAT_VERSION})")
    sample_rate = _as_int_scalar(arrays, "sample_rate", 1, MAX_SAMPLE_RATE)

    dil = arrays["dilations"]
    if dil.ndim != 1 or dil.dtype.kind not in "iu":
        _fail("dilations", f"must be a 1-D integer array, got {dil.dtype} {dil.shape}")
    if not 1 <= dil.shape[0] <= MAX_LAYERS:
        _fail("dilations", f"needs 1 to {MAX_LAYERS} layers, got {dil.shape[0]}")
    if dil.min() < 1 or dil.max() > MAX_DILATION:
        _fail("dilations", f"each must lie in [1, {MAX_DILATION}], got {dil.tolist()!r}")
    dilations = tuple(int(d) for d in dil)

    for key in WEIGHT_KEYS:
        if arrays[key].dtype != np.float32:
            _fail(key, f"dtype must be float32, got {arrays[key].dtype}")
    for key in WEIGHT_KEYS:
        if arrays[key].ndim != len(expected_shapes(1, 1, 1, 1, 1)[key]):
            _fail(key, f"must have {len(expected_shapes(1, 1, 1, 1, 1)[key])} dimensions, got shape {arrays[key].shape}")
    L = len(dilations)
    Q, R, D, S = _infer_sizes(arrays)
    if not 2 <= Q <= MAX_CHANNELS:
        _fail("input_w", f"quantization channels Q must lie in [2, {MAX_CHANNELS}], got {Q}")
    for name, v in (("R", R), ("D", D), ("S", S)):
        if not 1 <= v <= MAX_CHANNELS:
            _fail({"R": "input_w", "D": "dil_w", "S": "skip_w"}[name],
                  f"channel count {name} must lie in [1, {MAX_CHANNELS}], got {v}")
    for key, shape in expected_shapes(L, Q, R, D, S).items():
        if arrays[key].shape != shape:
            _fail(key, f"shape must be {shape} (L={L}, Q={Q}, R={R}, D={D}, S={S}), got {arrays[key].shape}")
        if not np.isfinite(arrays[key]).all():
            _fail(key, "contains NaN or Inf")

    primers = arrays.get("primers")
    if primers is not None:
        if primers.ndim != 2 or primers.dtype.kind not in "iu" or 0 in primers.shape:
            _fail("primers", f"must be a non-empty 2-D integer array (N, P), got {primers.dtype} {primers.shape}")
        if primers.min() < 0 or primers.max() >= Q:
            _fail("primers", f"codes must lie in [0, {Q}), got range [{primers.min()}, {primers.max()}]")
        primers = primers.astype(np.int32)

    meta = {}
    if "meta" in arrays:
        m = arrays["meta"]
        if m.shape != () or m.dtype.kind != "U":
            _fail("meta", f"must be a unicode string scalar, got {m.dtype} {m.shape}")
        try:
            meta = json.loads(str(m))
        except ValueError as exc:
            _fail("meta", f"is not valid JSON ({exc})")
        if not isinstance(meta, dict):
            _fail("meta", f"must hold a JSON object, got {type(meta).__name__}")
        dur = meta.get("clip_duration")
        if dur is not None and (not isinstance(dur, (int, float)) or isinstance(dur, bool)
                                or not math.isfinite(dur) or dur <= 0):
            _fail("meta", f"clip_duration must be a positive number, got {dur!r}")
        inst = meta.get("instrument")
        if inst is not None and not isinstance(inst, str):
            _fail("meta", f"instrument must be a string, got {inst!r}")
    return dict(L=L, Q=Q, R=R, D=D, S=S, sample_rate=sample_rate, dilations=dilations,
                meta=meta, primers=primers)


def write(path, arrays, *, overwrite=True):
    """Write arrays as an .npz atomically: a temporary file, then a rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists (pass overwrite=True to replace it)")
    fd, tmp = tempfile.mkstemp(prefix=".fastdrum-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
