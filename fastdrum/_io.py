"""Atomic file and folder writing, and audio file I/O.

Every file fastdrum writes goes through here: it is written to a temporary
name in the destination's own directory and renamed into place with
:func:`os.replace` only once complete, so an interrupted write (an error, or
Ctrl-C) leaves no partial file behind. An existing destination is never
replaced unless the caller says so (``overwrite=True``, ``--force``).
"""

import contextlib
import os
import shutil
import tempfile
import threading

import numpy as np

from ._errors import FastDrumError

__all__ = ["OutputExistsError", "atomic_file", "atomic_dir", "write_audio", "read_audio",
           "AUDIO_FORMATS", "TEMP_PREFIX", "stale_temporaries"]

#: Audio container -> (soundfile format, subtype). 24-bit PCM keeps the
#: generated clips' resolution and is read by every sampler.
AUDIO_FORMATS = {"wav": ("WAV", "PCM_24"), "flac": ("FLAC", "PCM_24")}


#: Start of the names that files and folders are written under before their rename.
TEMP_PREFIX = ".fastdrum-"


class OutputExistsError(FastDrumError, FileExistsError):
    """The output path exists and overwriting was not allowed."""


_UMASK_LOCK = threading.Lock()


def _umask():
    """The process's umask, read without changing it where the OS tells it (Linux 4.7+).

    Elsewhere it is read by setting and restoring it, under a lock; a file
    another thread of the program creates at that instant may get mode 0o022.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _check_dest(path, overwrite):
    path = os.fspath(path)
    if not overwrite and os.path.lexists(path):
        raise OutputExistsError(f"{path!r} already exists (pass overwrite=True, or --force, to replace it)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"cannot write {path!r}: directory {parent!r} does not exist")
    return path, parent


@contextlib.contextmanager
def atomic_file(path, *, overwrite=False, suffix=""):
    """Context manager yielding a temporary path that becomes `path` on success.

    The temporary file lives in `path`'s directory (so the final rename is
    atomic); it is removed if the block raises, KeyboardInterrupt included.

    Parameters
    ----------
    path : str or os.PathLike
        The destination.
    overwrite : bool, default False
        Replace `path` if it exists; otherwise raise :class:`OutputExistsError`.
    suffix : str
        Suffix of the temporary name (some writers choose a format by it).

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_file(os.path.join(d, "a.txt")) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("hello")
    >>> os.listdir(d)
    ['a.txt']
    """
    path, parent = _check_dest(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix + ".tmp", dir=parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        yield tmp
        if not overwrite and os.path.lexists(path):
            raise OutputExistsError(f"{path!r} already exists (pass overwrite=True, or --force, to replace it)")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path, *, overwrite=False):
    """Context manager yielding a temporary folder that becomes `path` on success.

    The folder is filled under a temporary name beside `path`, then renamed.
    With `overwrite`, an existing `path` is moved aside first and deleted only
    after the new folder is in place.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_dir(os.path.join(d, "kit")) as tmp:
    ...     open(os.path.join(tmp, "x.txt"), "w").close()
    >>> sorted(os.listdir(d)), os.listdir(os.path.join(d, "kit"))
    (['kit'], ['x.txt'])
    """
    path, parent = _check_dest(path, overwrite)
    tmp = tempfile.mkdtemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=parent)
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        yield tmp
        if os.path.lexists(path):
            if not overwrite:
                raise OutputExistsError(f"{path!r} already exists (pass overwrite=True, or --force, to replace it)")
            old = tempfile.mkdtemp(prefix=TEMP_PREFIX + "old-", dir=parent)
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        if old is not None and not os.path.lexists(path):
            os.replace(old, path)  # put the previous version back
            old = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            if os.path.isdir(old) and not os.path.islink(old):
                shutil.rmtree(old, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(old)


def stale_temporaries(folder):
    """Names in `folder` that :func:`atomic_file` and :func:`atomic_dir` write under.

    Those calls remove them when they end, even on an exception; a name still
    there once no writer runs is what a killed process left behind.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(d, TEMP_PREFIX + "x.tmp")); open(os.path.join(d, "a.wav"), "w").close()
    >>> stale_temporaries(d)
    ['.fastdrum-x.tmp']
    """
    return sorted(n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX))


def audio_format(path, format=None):
    """The container ("wav" or "flac") for `path`: `format`, else the extension."""
    if format is None:
        ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
        format = ext if ext in AUDIO_FORMATS else "wav"
    if format not in AUDIO_FORMATS:
        raise FastDrumError(f"audio format must be one of {sorted(AUDIO_FORMATS)!r}, got {format!r}")
    return format


def _write_audio_raw(path, y, sr, format):
    import soundfile as sf

    fmt, subtype = AUDIO_FORMATS[format]
    y = np.asarray(y, dtype=np.float32)
    data = y.T if y.ndim == 2 else y  # fastdrum's stereo is (2, T); soundfile wants (T, 2)
    sf.write(path, np.clip(data, -1.0, 1.0), int(sr), format=fmt, subtype=subtype)


def write_audio(path, y, sr, *, format=None, overwrite=False):
    """Write mono ``(T,)`` or stereo ``(2, T)`` float audio to a WAV or FLAC file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    y : ndarray, shape (T,) or (channels, T)
    sr : int
    format : {"wav", "flac"}, optional
        Default: from the extension (else WAV).
    overwrite : bool, default False

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> write_audio(p, np.zeros(100, dtype=np.float32), 16000)
    >>> read_audio(p)[0].shape
    (100,)
    """
    format = audio_format(path, format)
    with atomic_file(path, overwrite=overwrite, suffix="." + format) as tmp:
        _write_audio_raw(tmp, y, sr, format)


def read_audio(path):
    """Read an audio file as float32: ``(y, sr)``, ``y`` of shape (T,) or (channels, T)."""
    import soundfile as sf

    data, sr = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    y = data[:, 0] if data.shape[1] == 1 else data.T
    return np.ascontiguousarray(y), int(sr)
