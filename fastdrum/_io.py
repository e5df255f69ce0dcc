"""Atomic file and folder writing, and audio file I/O.

Every file fastdrum writes goes through here: it is written to a temporary
name in the destination's own directory and put in place only once complete,
so an interrupted write (an error, Ctrl-C, SIGTERM or SIGHUP under
:func:`handle_signals`) leaves no partial file behind. An existing
destination is never replaced unless the caller says so (``overwrite=True``,
``--force``), and then a folder only if fastdrum wrote it (:data:`MANIFEST`).
Publishing never replaces by accident: of two writers racing for one new
name, exactly one wins and the other gets :class:`OutputExistsError`.
"""

import contextlib
import errno
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading

from .errors import AudioFormatError, NotWritableError, OutputExistsError

__all__ = [
    "Interrupted",
    "atomic_file",
    "atomic_dir",
    "check_dest",
    "handle_signals",
    "write_audio",
    "write_audio_data",
    "read_audio",
    "AUDIO_FORMATS",
    "MANIFEST",
    "TEMP_PREFIX",
    "stale_temporaries",
]

#: Audio container -> (soundfile format, subtype). 24-bit PCM keeps the
#: generated clips' resolution and is read by every sampler.
AUDIO_FORMATS = {"wav": ("WAV", "PCM_24"), "flac": ("FLAC", "PCM_24")}


#: Start of the names that files and folders are written under before their rename.
TEMP_PREFIX = ".fastdrum-"

#: The file fastdrum puts in every folder it writes, listing the folder's files; ``--force``
#: (``overwrite=True``) replaces only a folder that holds it and nothing it does not list.
#: (Not a TEMP_PREFIX name: it stays.)
MANIFEST = ".fastdrum.manifest.json"
MAX_MANIFEST_BYTES = 2**20


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


def _exists_error(path):
    return OutputExistsError(
        f"{path!r} already exists (pass overwrite=True, or --force, to replace it)"
    )


def _read_manifest(path):
    """The file names a fastdrum manifest in folder `path` lists, or None if it has no valid one."""
    mpath = os.path.join(path, MANIFEST)
    try:
        if (
            os.path.islink(mpath)
            or not os.path.isfile(mpath)
            or os.path.getsize(mpath) > MAX_MANIFEST_BYTES
        ):
            return None
        with open(mpath, encoding="utf-8") as f:
            data = json.load(f)
        files = data["files"] if data.get("written_by") == "fastdrum" else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    if not isinstance(files, list) or not all(isinstance(n, str) for n in files):
        return None
    return set(files)


def _check_replaceable(path, *, folder):
    """Raise unless the existing `path` may be replaced by a file (`folder` False) or a folder.

    A folder replaces only a folder fastdrum wrote (its manifest lists every
    entry), never the working folder or one holding it; a file replaces only a
    file or a link, never a folder.
    """
    is_dir = os.path.isdir(path) and not os.path.islink(path)
    if not folder:
        if is_dir:
            raise OutputExistsError(f"{path!r} is a folder; refusing to replace it with a file")
        return
    if not is_dir:
        raise OutputExistsError(
            f"{path!r} exists and is not a folder; refusing to replace it with a folder"
        )
    real = os.path.realpath(path)
    cwd = os.path.realpath(os.getcwd())
    if cwd == real or cwd.startswith(real.rstrip(os.sep) + os.sep):
        raise OutputExistsError(
            f"{path!r} is the working folder or holds it; refusing to replace it"
        )
    listed = _read_manifest(path)
    if listed is None:
        raise OutputExistsError(
            f"{path!r} is a folder fastdrum did not write (it has no {MANIFEST}); "
            "refusing to replace it, even with --force"
        )
    extra = sorted(set(os.listdir(path)) - listed - {MANIFEST})
    if extra:
        shown = ", ".join(map(repr, extra[:3])) + (
            f" and {len(extra) - 3} more" if len(extra) > 3 else ""
        )
        raise OutputExistsError(
            f"{path!r} holds files fastdrum did not write ({shown}); "
            "refusing to replace it, even with --force"
        )


def check_dest(path, *, overwrite=False, folder=False):
    """Check, before any work, that `path` can be written (a file, or a folder if `folder`).

    Parameters
    ----------
    path : str or os.PathLike
    overwrite : bool, default False
        Allow replacing an existing `path`: a file replaces a file; a folder
        replaces only a folder that fastdrum wrote (it holds fastdrum's
        manifest and nothing it does not list), never the working folder or
        one holding it.
    folder : bool, default False

    Returns
    -------
    path : str
    parent : str
        The absolute path of the folder that holds `path`.

    Raises
    ------
    OutputExistsError
        If `path` exists and may not be replaced.
    FileNotFoundError
        If the folder that would hold `path` does not exist.
    NotWritableError
        If that folder is not writable.
    """
    path = os.fspath(path)
    if os.path.lexists(path):
        if not overwrite:
            raise _exists_error(path)
        _check_replaceable(path, folder=folder)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"cannot write {path!r}: directory {parent!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NotWritableError(f"cannot write {path!r}: directory {parent!r} is not writable")
    return path, parent


def _fsync(path):
    """Flush a file's or a folder's data and metadata to the disk (where the OS can)."""
    flags = os.O_RDONLY
    if os.path.isdir(path):
        flags |= getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # e.g. a folder cannot be opened on this OS
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # a file system without fsync for this kind of file
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


# -- signals ----------------------------------------------------------------------------------
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived (under :func:`handle_signals`); `signum` says which."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


_STOPPING = []  # non-empty once a handled signal has been raised: later ones are ignored


_RAISED = []  # the signal _on_signal raised in the last handle_signals block (see raised_signal)
_RESTORING = 0  # the mark on _STOPPING while the old handlers go back
_DEFERRED = []  # signals that reached _on_signal while the old handlers went back


def _on_signal(signum, frame):
    if _STOPPING == [_RESTORING]:
        # Held back from this thread, the signal reached another one (a BLAS or server thread), and
        # Python runs its handler here all the same: pass it on once the old handlers are back.
        _DEFERRED.append(signum)
        return
    if _STOPPING:
        return  # already stopping: let the clean-up finish
    _STOPPING.append(signum)
    _RAISED[:] = [signum]
    raise Interrupted(signum)


def raised_signal():
    """The signal whose :class:`Interrupted` the last :func:`handle_signals` block raised, or None.

    For an exception that C code put in the Interrupted's place: a signal that lands while NumPy's
    extension imports ``datetime`` comes out as "ImportError: PyCapsule_Import could not import
    module" with no cause to follow back to it.
    """
    return _RAISED[0] if _RAISED else None


@contextlib.contextmanager
def handle_signals():
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` (a KeyboardInterrupt) in this block.

    So every signal that ends the process runs the same clean-up as Ctrl-C:
    temporary files are removed, and a replacement either completes or leaves
    the old output. Signals after the first are ignored while the clean-up
    runs. A signal whose exception Python swallows (its handler ran in a
    ``__del__`` or a weakref callback) is raised when the block ends
    (:func:`_on_unraisable`). Outside the main thread this does nothing
    (Python delivers signals there only).
    """
    import threading as _threading

    if _threading.current_thread() is not _threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in _SIGNALS}
    _STOPPING.clear()
    _RAISED.clear()
    old_hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_on_unraisable, old_hook)
    _SWALLOWED.clear()
    for s in _SIGNALS:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        swallowed = list(_SWALLOWED)
        _SWALLOWED.clear()
        try:
            _restore_handlers(old)
        finally:
            sys.unraisablehook = old_hook
    if swallowed:  # the block ran to its end: the signal Python swallowed ends it now
        raise Interrupted(swallowed[0])


_SWALLOWED = []  # a signal whose Interrupted Python swallowed (see _on_unraisable)


def _on_unraisable(old_hook, unraisable):
    """sys.unraisablehook under :func:`handle_signals`: an :class:`Interrupted` that Python swallowed
    is kept for the block's end, silently; anything else goes to `old_hook`.

    Python runs a signal's handler at whatever instruction the main thread is at. In a weakref's
    callback (an import's module lock), a ``__del__`` or a garbage collection, an exception cannot
    leave: Python prints "Exception ignored in ..." with a traceback and goes on (CI saw a SIGHUP
    so lost). So the signal is not lost: the block raises it when it ends, unless another signal
    stops it first (the next one raises at once, as a first one does).
    """
    exc = unraisable.exc_value
    if isinstance(exc, Interrupted) and [exc.signum] == _STOPPING:
        _STOPPING.clear()  # not stopping yet: a later signal raises where it lands
        _SWALLOWED.append(exc.signum)
        return
    old_hook(unraisable)


def _restore_handlers(old):
    """Put `old` handlers back; a signal arriving meanwhile goes to them once they are in place.

    The signals are held back while the handlers change, so none is delivered
    to this thread before the old handlers are in place. One that lands just
    before they are held back (it raises :class:`Interrupted` here) is raised
    again once every handler is back. One delivered meanwhile to another
    thread, whose handler Python still runs in this one, is passed on to the
    old handler with :func:`signal.raise_signal` once it is back.
    """
    landed = None
    while True:
        try:
            with _uninterrupted():
                _DEFERRED.clear()
                _STOPPING.append(_RESTORING)  # our handler defers what lands from here on
                for s, h in old.items():
                    signal.signal(s, h if h is not None else signal.SIG_DFL)
                _STOPPING.clear()
            break
        except Interrupted as exc:
            landed = exc
    deferred = list(_DEFERRED)
    _DEFERRED.clear()
    for signum in deferred:
        signal.raise_signal(signum)
    if landed is not None:
        raise landed


@contextlib.contextmanager
def _uninterrupted():
    """Hold back SIGINT, SIGTERM and SIGHUP in this block; they are delivered when it ends.

    Used where an output is put in place and where temporary files are removed,
    so that neither is cut half-way, whatever handler the program has.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# -- publishing without replacing -------------------------------------------------------------
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_RENAMEAT2 = []


def _renameat2(src, dst, flags):
    """Linux renameat2(2): True if done, False where the OS or file system lacks it; OSError else."""
    if not _RENAMEAT2:
        fn = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                fn = ctypes.CDLL(None, use_errno=True).renameat2
                fn.argtypes = [
                    ctypes.c_int,
                    ctypes.c_char_p,
                    ctypes.c_int,
                    ctypes.c_char_p,
                    ctypes.c_uint,
                ]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError):  # no glibc 2.28+ wrapper
                fn = None
        _RENAMEAT2.append(fn)
    fn = _RENAMEAT2[0]
    if fn is None:
        return False
    import ctypes

    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(dst))


def _publish_file(tmp, path, overwrite):
    """Move the finished `tmp` to `path`; unless `overwrite`, never over an existing `path`.

    Without overwrite: a hard link (atomic, fails if `path` exists) and then
    the temporary name is removed; where the file system has no hard links,
    renameat2(RENAME_NOREPLACE); where that is missing too, `path` is claimed
    with an exclusive create and then replaced.
    """
    if overwrite:
        if os.path.isdir(path) and not os.path.islink(path):
            raise OutputExistsError(f"{path!r} is a folder; refusing to replace it with a file")
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError:  # no hard links here (e.g. FAT, some network file systems)
        if _rename_noreplace(tmp, path):
            return
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise _exists_error(path) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _rename_noreplace(tmp, path):
    """``renameat2(RENAME_NOREPLACE)``: True if done, False if the system lacks it; "exists" if `path` does."""
    try:
        return _renameat2(tmp, path, _RENAME_NOREPLACE)
    except FileExistsError:
        raise _exists_error(path) from None


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _publish_dir(tmp, path, overwrite):
    """Move the finished folder `tmp` to `path` (see :func:`atomic_dir`)."""
    if overwrite and os.path.lexists(path):
        _check_replaceable(path, folder=True)
        if _renameat2(tmp, path, _RENAME_EXCHANGE):
            _remove(tmp)  # it now holds the previous output
            return
        # Fallback (no renameat2): move the old folder aside, put the new one in place, delete the old.
        old = tempfile.mkdtemp(
            prefix=TEMP_PREFIX + "old-", dir=os.path.dirname(os.path.abspath(path))
        )
        os.rmdir(old)
        os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.rename(old, path)
            raise
        _remove(old)
        return
    if _rename_noreplace(tmp, path):
        return
    # Fallback (no renameat2): claim the name with an exclusive mkdir, then rename onto that empty
    # folder (rename(2) replaces an empty folder, and fails if another writer put anything in it).
    try:
        os.mkdir(path)
    except FileExistsError:
        raise _exists_error(path) from None
    try:
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        raise


def _write_manifest(folder):
    names = sorted(n for n in os.listdir(folder) if n != MANIFEST)
    from ._version import __version__

    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump({"written_by": "fastdrum", "version": __version__, "files": names}, f, indent=1)
        f.write("\n")


@contextlib.contextmanager
def _atomic(path, overwrite, *, folder, make, mode, seal, publish):
    """What :func:`atomic_file` and :func:`atomic_dir` share: yield ``make(parent)``, then publish it.

    The temporary (made with signals held back, given `mode` less the umask)
    is flushed to the disk by ``seal(tmp)`` and put in place by
    ``publish(tmp, path, overwrite)``, then `path`'s folder is flushed; it is
    removed if anything raises, KeyboardInterrupt included.
    """
    path, parent = check_dest(path, overwrite=overwrite, folder=folder)
    tmp = None
    try:
        with _uninterrupted():
            tmp = make(parent)
        os.chmod(tmp, mode & ~_umask())
        yield tmp
        seal(tmp)
        with _uninterrupted():
            publish(tmp, path, overwrite)
            tmp = None
        _fsync(parent)
    except BaseException:
        if tmp is not None:
            with _uninterrupted():
                _remove(tmp)
        raise


def atomic_file(path, *, overwrite=False, suffix=""):
    """Context manager yielding a temporary path that becomes `path` on success.

    fastdrum's one writer of files. The temporary file lives in `path`'s
    directory (so the final rename is atomic); it is removed if the block
    raises, KeyboardInterrupt included. When the block ends the file is
    flushed to the disk (fsync), put in place, and the folder is flushed too,
    so a crash leaves the old file or the new one, never a part. Without
    `overwrite` the file is published with a hard link, which fails if `path`
    exists: of two writers racing for one name, exactly one wins.

    Parameters
    ----------
    path : str or os.PathLike
        The destination.
    overwrite : bool, default False
        Replace `path` if it exists (a file, never a folder); otherwise raise
        :class:`OutputExistsError`.
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

    def make(parent):
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix + ".tmp", dir=parent)
        os.close(fd)
        return tmp

    # mkstemp makes 0600: give the file normal permissions
    return _atomic(
        path, overwrite, folder=False, make=make, mode=0o666, seal=_fsync, publish=_publish_file
    )


def atomic_dir(path, *, overwrite=False):
    """Context manager yielding a temporary folder that becomes `path` on success.

    The folder is filled under a temporary name beside `path`; a manifest
    (:data:`MANIFEST`, listing its files) is added, and it is renamed into
    place without replacing anything (renameat2 ``RENAME_NOREPLACE``). With
    `overwrite`, an existing `path` that fastdrum wrote (see
    :func:`check_dest`) is swapped with the new folder in one step
    (``RENAME_EXCHANGE``) and then deleted. Where renameat2 is missing (not
    Linux, or an old C library or file system), the name is claimed with an
    exclusive ``mkdir`` before the rename, and a replaced folder is moved aside
    first; signals are held back meanwhile, so either way the swap completes
    or the old folder stays.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_dir(os.path.join(d, "kit")) as tmp:
    ...     open(os.path.join(tmp, "x.txt"), "w").close()
    >>> sorted(os.listdir(d)), sorted(os.listdir(os.path.join(d, "kit")))
    (['kit'], ['.fastdrum.manifest.json', 'x.txt'])
    """

    def make(parent):
        return tempfile.mkdtemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=parent)

    def seal(tmp):
        _write_manifest(tmp)
        for name in os.listdir(tmp):
            _fsync(os.path.join(tmp, name))
        _fsync(tmp)

    # mkdtemp makes 0700
    return _atomic(
        path, overwrite, folder=True, make=make, mode=0o777, seal=seal, publish=_publish_dir
    )


def check_regular_file(path, what):
    """Raise FileNotFoundError (or OSError for a FIFO, device or folder) unless `path` is a regular file.

    Examples
    --------
    >>> check_regular_file("/dev/null", "MIDI file")
    Traceback (most recent call last):
    ...
    OSError: MIDI file '/dev/null' is not a regular file (a device, FIFO or folder)
    """
    import stat

    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path!r} does not exist") from None
    if not stat.S_ISREG(mode):
        raise OSError(f"{what} {path!r} is not a regular file (a device, FIFO or folder)")
    return path


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
    """The container ("wav" or "flac") for `path`: its extension, else `format`; never another.

    A name with another extension (``beat.mp3``, ``out.txt``) is refused
    rather than given WAV data under a name that says otherwise.

    Examples
    --------
    >>> audio_format("beat.FLAC"), audio_format("beat", "wav")
    ('flac', 'wav')
    >>> audio_format("beat.mp3")
    Traceback (most recent call last):
    ...
    fastdrum.errors.AudioFormatError: cannot write audio as 'beat.mp3': fastdrum writes .flac or .wav files
    """
    if format is not None and format not in AUDIO_FORMATS:
        raise AudioFormatError(
            f"audio format must be one of {sorted(AUDIO_FORMATS)!r}, got {format!r}"
        )
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext in AUDIO_FORMATS:
        if format is not None and format != ext:
            raise AudioFormatError(
                f"format {format!r} does not match the extension of {os.fspath(path)!r}"
            )
        return ext
    if not ext and format is not None:
        return format
    raise AudioFormatError(
        f"cannot write audio as {os.fspath(path)!r}: fastdrum writes "
        f"{' or '.join('.' + f for f in sorted(AUDIO_FORMATS))} files"
    )


def write_audio_data(path, y, sr, format):
    """Write audio to `path` in `format`, with no temporary name: for the files of an :func:`atomic_dir`.

    Stereo is ``(2, T)``; samples are clipped to [-1, 1]; a failed write (a
    full disk) is an OSError.
    """
    import numpy as np
    import soundfile as sf

    fmt, subtype = AUDIO_FORMATS[format]
    y = np.asarray(y, dtype=np.float32)
    data = y.T if y.ndim == 2 else y  # fastdrum's stereo is (2, T); soundfile wants (T, 2)
    try:
        sf.write(path, np.clip(data, -1.0, 1.0), int(sr), format=fmt, subtype=subtype)
    except RuntimeError as exc:  # soundfile.LibsndfileError (e.g. "System error." on a full disk)
        raise OSError(
            errno.EIO,
            f"cannot write audio ({' '.join(str(exc).split())}; is the disk full?)",
            os.fspath(path),
        ) from None


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
    >>> import numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> write_audio(p, np.zeros(100, dtype=np.float32), 16000)
    >>> read_audio(p)[0].shape
    (100,)
    """
    format = audio_format(path, format)
    with atomic_file(path, overwrite=overwrite, suffix="." + format) as tmp:
        write_audio_data(tmp, y, sr, format)


def read_audio(path):
    """Read an audio file as float32: ``(y, sr)``, ``y`` of shape (T,) or (channels, T)."""
    import numpy as np
    import soundfile as sf

    path = os.fspath(path)
    check_regular_file(path, "audio file")
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    y = data[:, 0] if data.shape[1] == 1 else data.T
    return np.ascontiguousarray(y), int(sr)
