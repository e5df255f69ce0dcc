"""Sample libraries: many clips of several voices, made in shards, on a Dask cluster or in this process.

A library folder holds, per voice, shard folders of clips, plus a manifest:

.. code-block:: text

    DIR/library.json                       the arguments (a rerun must match them)
    DIR/manifest.jsonl                     one JSON row per clip, voice by voice, in clip order
    DIR/kick/0000000-0000127/kick_0000000.flac ...
    DIR/kick/0000000-0000127/manifest.jsonl   that shard's rows

A shard is a run of consecutive clips of one voice, generated as one kernel
batch and written as one folder that appears whole or not at all
(:func:`fastdrum._io.atomic_dir`). Clip ``i`` of a voice is clip ``i`` of
``fastdrum.generate(voice, n_per_voice, seed=seed, ...)``: its own seed stream,
whatever the shard size, the number of workers or the order shards finish in.
A rerun with the same arguments checks every shard (each clip's SHA-256
against the shard's manifest) and makes only those that are missing or bad.

Dask (``pip install 'fastdrum[scale]'``) is imported only when a cluster is used.
"""

import hashlib
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile

import numpy as np

from . import _checks, _io
from ._generate import DEFAULT_MAX_SAMPLES, generate
from ._version import __version__
from .errors import (
    BackendUnavailableError,
    LibraryError,
    NotWritableError,
    SchedulerUnavailableError,
)
from .model import load_model

__all__ = ["library", "read_library_params", "DEFAULT_SHARD_SIZE", "LIBRARY_FILE", "MANIFEST_FILE"]

#: Clips per shard. The kernel reaches its batch throughput from about 32
#: rows; 128 clips of 0.2 s at 16 kHz are a few seconds of work, so a killed
#: worker loses little and the scheduler's cost per task (about 1 ms) is noise.
DEFAULT_SHARD_SIZE = 128

#: The arguments of the library, written once when the folder is made.
LIBRARY_FILE = "library.json"

#: The whole library's manifest (and, inside each shard folder, that shard's).
MANIFEST_FILE = "manifest.jsonl"

#: Bound on `n_per_voice`: clip names have at most 9 digits.
MAX_CLIPS_PER_VOICE = 10**9

#: Seconds to wait for a scheduler named by its address.
CONNECT_TIMEOUT = 10.0

#: Bytes of a shard manifest row, at most (a larger file is not ours: the shard is redone).
_MAX_ROW_BYTES = 4096

#: A voice's folder name: the voice itself, or a model file's stem.
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")

#: Environment of the local cluster's worker processes: one kernel thread each, and no BLAS or
#: OpenMP thread pool beside it (two pools on two cores would take turns instead of running).
_WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: Models this process has loaded for its shards: voice -> (path, (size, mtime), SHA-256, Model).
#: A worker reads, checks and hashes each model file once, not once per shard.
_MODELS = {}


# -- arguments --------------------------------------------------------------------------
def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _voice_plan(voice, *, duration, temperature, shard_size):
    """Resolve one voice: its model file's hash, folder, sample rate, duration and temperature."""
    if not isinstance(voice, (str, os.PathLike)) or not os.fspath(voice):
        raise LibraryError(f"a voice must be a model name or a model file, got {voice!r}")
    voice = os.fspath(voice)
    model = load_model(voice)  # ModelNotFoundError / ModelFormatError name the bad voice
    folder = voice
    if os.path.isfile(voice):  # a model file: absolute, for workers in another directory
        voice = os.path.abspath(voice)
        folder = os.path.splitext(os.path.basename(voice))[0]
    if not _FOLDER_NAME.fullmatch(folder):
        raise LibraryError(
            f"voice {voice!r} gives no usable folder name (letters, digits, _.+- only)"
        )
    sr = model.sample_rate
    if duration is None:
        duration = model.duration
        if duration is None:
            raise LibraryError(
                f"voice {voice!r}: the model has no default clip_duration; pass duration="
            )
    duration = _checks.duration(duration, error=LibraryError)
    T = round(min(duration * sr, DEFAULT_MAX_SAMPLES + 1))
    if T < 1 or shard_size * T > DEFAULT_MAX_SAMPLES:
        raise LibraryError(
            f"voice {voice!r}: a shard of {shard_size} clips of {duration!r} s at {sr} Hz "
            f"must hold 1 to {DEFAULT_MAX_SAMPLES} samples (lower shard_size or duration)"
        )
    temp = model.generation_defaults.get("temperature", 1.0) if temperature is None else temperature
    temp = _checks.temperature(temp, error=LibraryError)
    return {
        "voice": voice,
        "folder": folder,
        "model_sha256": _sha256(model.path),
        "sample_rate": sr,
        "duration": duration,
        "temperature": temp,
    }


def _params(voices, n_per_voice, *, seed, temperature, duration, shard_size, format):
    """Check every argument; the library's parameters as stored in library.json."""
    if isinstance(voices, (str, os.PathLike)):
        voices = [voices]
    try:
        voices = list(voices)
    except TypeError:
        raise LibraryError(
            f"voices must be a list of model names or files, got {voices!r}"
        ) from None
    if not voices:
        raise LibraryError("voices is empty: name at least one voice")
    n_per_voice = _checks.integer(
        "n_per_voice", n_per_voice, lo=1, hi=MAX_CLIPS_PER_VOICE, error=LibraryError
    )
    shard_size = _checks.integer("shard_size", shard_size, lo=1, hi=65536, error=LibraryError)
    seed = _checks.integer("seed", seed, lo=0, hi=2**63 - 1, error=LibraryError)
    if format not in _io.AUDIO_FORMATS:
        raise LibraryError(f"format must be one of {sorted(_io.AUDIO_FORMATS)!r}, got {format!r}")
    plans = [
        _voice_plan(v, duration=duration, temperature=temperature, shard_size=shard_size)
        for v in voices
    ]
    folders = [p["folder"] for p in plans]
    dup = next((f for f in folders if folders.count(f) > 1), None)
    if dup is not None:
        raise LibraryError(f"two voices would share the folder {dup!r}")
    return {
        "library_version": 1,
        "n_per_voice": n_per_voice,
        "seed": seed,
        "shard_size": shard_size,
        "format": format,
        "voices": plans,
    }


# -- the folder -------------------------------------------------------------------------
def read_library_params(out_dir):
    """The parameters a library folder was made with, or None if it holds no library.

    Parameters
    ----------
    out_dir : str or os.PathLike

    Returns
    -------
    dict or None
        The contents of ``library.json``: ``seed``, ``n_per_voice``, ``shard_size``,
        ``format`` and, per voice, its model file's SHA-256, sample rate,
        duration and temperature.

    Raises
    ------
    LibraryError
        If ``library.json`` exists but cannot be read as a library's.

    Examples
    --------
    >>> import tempfile
    >>> read_library_params(tempfile.mkdtemp()) is None
    True
    """
    path = os.path.join(os.fspath(out_dir), LIBRARY_FILE)
    if not os.path.isfile(path):
        return None
    try:
        if os.path.getsize(path) > 1 << 20:
            raise ValueError("larger than 1 MiB")
        with open(path, encoding="utf-8") as f:
            params = json.load(f)
        if not isinstance(params, dict) or not isinstance(params.get("voices"), list):
            raise ValueError("not a library description")
    except (OSError, ValueError) as exc:
        raise LibraryError(f"{path!r} is not a fastdrum library file ({exc})") from None
    return params


def _check_folder(out_dir, params):
    """Check, writing nothing, that `out_dir` is new, empty or this very library; return (path, its params)."""
    out_dir = os.path.abspath(os.fspath(out_dir))
    parent = os.path.dirname(out_dir)
    if not os.path.isdir(parent):
        raise NotWritableError(f"cannot write {out_dir!r}: directory {parent!r} does not exist")
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise NotWritableError(f"cannot write the library to {out_dir!r}: it is not a directory")
    old = read_library_params(out_dir) if os.path.isdir(out_dir) else None
    if old is None and os.path.isdir(out_dir) and os.listdir(out_dir):
        raise LibraryError(
            f"{out_dir!r} is not empty and holds no library: choose a new or empty folder"
        )
    if old is not None and old != params:
        where, there, here = _difference(old, params)
        raise LibraryError(
            f"{out_dir!r} holds a library made with other arguments ({where}: "
            f"{_short(there)} there, {_short(here)} now); "
            "rerun with the same arguments to resume, or choose a new folder"
        )
    return out_dir, old


def _make_folder(out_dir, params, old):
    """Make `out_dir` and its voice folders, and write library.json unless it is there."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        # A real write: os.access says yes to root even on a read-only file system.
        fd, probe = tempfile.mkstemp(prefix=_io.TEMP_PREFIX, suffix=".tmp", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
        for v in params["voices"]:
            os.makedirs(os.path.join(out_dir, v["folder"]), exist_ok=True)
        if old is None:
            with _io.atomic_file(os.path.join(out_dir, LIBRARY_FILE)) as tmp:
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(params, f, indent=1)
    except OSError as exc:
        raise NotWritableError(
            f"cannot write the library to {out_dir!r}: {exc.strerror or exc}"
        ) from None
    return out_dir


def _difference(a, b, where=""):
    """(path, value in a, value in b) of the first place where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _difference(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _difference(x, y, f"{where}[{i}]")
    return where, a, b


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- shards -----------------------------------------------------------------------------
def _shards(out_dir, params):
    """One task description per shard, voice by voice, in clip order."""
    n, size = params["n_per_voice"], params["shard_size"]
    width = max(7, len(str(n - 1)))
    for v in params["voices"]:
        for start in range(0, n, size):
            stop = min(start + size, n)
            yield dict(
                v,
                out_dir=out_dir,
                start=start,
                stop=stop,
                width=width,
                seed=params["seed"],
                format=params["format"],
                version=__version__,
                shard=f"{v['folder']}/{start:0{width}d}-{stop - 1:0{width}d}",
            )


def _clip_name(spec, i):
    return f"{spec['folder']}_{i:0{spec['width']}d}.{spec['format']}"


def _row(spec, i, clip, digest):
    """One manifest row (JSON-ready): where the clip is, how it was made, what it measures."""
    from .post import loudness

    peak = float(np.max(np.abs(clip)))
    lufs = loudness(clip, spec["sample_rate"])
    return {
        "path": f"{spec['shard']}/{_clip_name(spec, i)}",
        "voice": spec["voice"],
        "index": i,
        "seed": spec["seed"],
        "temperature": spec["temperature"],
        "model_sha256": spec["model_sha256"],
        "sample_rate": spec["sample_rate"],
        "duration": clip.shape[-1] / spec["sample_rate"],
        "peak": peak,
        "loudness_lufs": lufs if math.isfinite(lufs) else None,
        "sha256": digest,
    }


_ROW_KEYS = ("voice", "seed", "temperature", "model_sha256", "sample_rate")


def _verified(spec):
    """Whether the shard's folder holds all its clips, each matching its manifest row's SHA-256."""
    folder = os.path.join(spec["out_dir"], spec["shard"])
    manifest = os.path.join(folder, MANIFEST_FILE)
    try:
        if os.path.getsize(manifest) > _MAX_ROW_BYTES * (spec["stop"] - spec["start"]):
            return False
        with open(manifest, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        if [r["index"] for r in rows] != list(range(spec["start"], spec["stop"])):
            return False
        for r in rows:
            if any(r[k] != spec[k] for k in _ROW_KEYS):
                return False
            if r["path"] != f"{spec['shard']}/{_clip_name(spec, r['index'])}":
                return False
            if _sha256(os.path.join(spec["out_dir"], r["path"])) != r["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _stamp(path):
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _shard_model(voice):
    """`voice`'s Model and its file's SHA-256, loaded once per process (again if the file changed)."""
    hit = _MODELS.get(voice)
    try:
        if hit is not None and _stamp(hit[0]) == hit[1]:
            return hit[3], hit[2]
    except OSError:  # gone: load_model says so
        pass
    model = load_model(voice)
    stamp = _stamp(model.path)
    digest = _sha256(model.path)
    _MODELS[voice] = (model.path, stamp, digest, model)
    return model, digest


def _write_clip(path, clip, spec):
    """Write one clip into the shard's private folder; return the file's SHA-256.

    The audio is encoded in memory and written as plain bytes: libsndfile flushes every file it
    closes to disk (``sf_write_sync``, an fsync), one disk flush a clip that workers then wait for
    in turn. A shard needs none of them: its folder is private until it is renamed into place, and
    a rerun remakes any shard whose clips fail their checksums. (One worker, a loaded machine:
    26 ms a clip written by libsndfile, 7 ms encoded in memory; the bytes are the same.)
    """
    buf = io.BytesIO()
    _io.write_audio_data(buf, clip, spec["sample_rate"], spec["format"])
    data = buf.getbuffer()
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def _make_shard(spec):
    """Make one shard unless it is already complete and verified; return (clips, written?)."""
    n = spec["stop"] - spec["start"]
    if _verified(spec):
        return n, False
    if spec["version"] != __version__:
        raise LibraryError(f"this worker runs fastdrum {__version__}, the client {spec['version']}")
    model, digest = _shard_model(spec["voice"])
    if digest != spec["model_sha256"]:
        raise LibraryError(
            f"the model of voice {spec['voice']!r} on this worker differs from the client's"
        )
    # Clip i draws from the i-th child of SeedSequence(seed), as in generate(voice, n_per_voice):
    # a SeedSequence that has spawned `start` children already spawns exactly those of this shard.
    seq = np.random.SeedSequence(spec["seed"], n_children_spawned=spec["start"])
    y = generate(
        model,
        n,
        seed=seq,
        duration=spec["duration"],
        temperature=spec["temperature"],
        batch_size=n,
        n_threads=1,
        backend=spec.get("backend", "auto"),
    )
    with _io.atomic_dir(os.path.join(spec["out_dir"], spec["shard"]), overwrite=True) as tmp:
        rows = []
        for k, clip in enumerate(y):
            digest = _write_clip(os.path.join(tmp, _clip_name(spec, spec["start"] + k)), clip, spec)
            rows.append(_row(spec, spec["start"] + k, clip, digest))
        with open(os.path.join(tmp, MANIFEST_FILE), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, allow_nan=False) + "\n" for r in rows)
    return n, True


# -- running ----------------------------------------------------------------------------
def _run_here(specs, bar):
    written = 0
    for spec in specs:
        n, new = _make_shard(spec)
        written += new
        if bar is not None:
            bar.update(n)
    return written


def _connect(client, workers, progress):
    """(client, cluster we started or None, whether we own the client)."""
    try:
        import distributed
    except ImportError:
        raise BackendUnavailableError(
            "running a library on Dask needs dask and distributed: pip install 'fastdrum[scale]'"
        ) from None
    if isinstance(client, distributed.Client):
        return client, None, False
    if isinstance(client, str):
        try:
            return distributed.Client(client, timeout=CONNECT_TIMEOUT), None, True
        except (OSError, ValueError, TypeError) as exc:
            raise SchedulerUnavailableError(
                f"cannot reach a Dask scheduler at {client!r}: {' '.join(str(exc).split())}"
            ) from None
    if client is not None:
        raise LibraryError(
            f"client must be a distributed.Client, a scheduler address or None, got {client!r}"
        )
    cluster = local_cluster(workers, dashboard=progress)
    if progress:
        print(f"Dask dashboard: {cluster.dashboard_link}", file=sys.stderr)
    return distributed.Client(cluster), cluster, True


def local_cluster(workers=None, *, dashboard=True):
    """A ``distributed.LocalCluster`` for libraries: `workers` processes (default one a CPU), one
    thread each, BLAS and OpenMP pinned to that thread, the workers' statistical profiler off (a
    thread sampling every stack 100 times a second, on cores the kernel wants whole). The
    dashboard (a Bokeh server in this process, on a free port) only with `dashboard`: on a machine
    whose cores all run workers it costs them about 10% (docs/scale-out.md)."""
    import dask
    import distributed

    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0" if dashboard else None,
            env=_WORKER_ENV,
        )


def _run_dask(specs, client, bar):
    from distributed import KilledWorker, as_completed

    # retries=1: a shard whose worker died is rescheduled by Dask anyway; this covers a
    # shard run twice at once (its second rename then fails) without hiding a real error.
    futures = client.map(
        _make_shard,
        specs,
        key=[f"fastdrum-library-{s['shard']}" for s in specs],
        pure=False,
        retries=1,
    )
    written = 0
    try:
        for fut in as_completed(futures):
            n, new = fut.result()
            written += new
            if bar is not None:
                bar.update(n)
            fut.release()
    except KilledWorker as exc:
        raise LibraryError(
            f"Dask gave up on a shard after its workers died ({exc}); "
            "rerun with the same arguments to resume"
        ) from None
    finally:
        client.cancel(futures)
    return written


def _finish(out_dir, params):
    """Remove what killed workers left half-made; write the whole manifest from the shards'."""
    for folder in [out_dir] + [os.path.join(out_dir, v["folder"]) for v in params["voices"]]:
        for name in _io.stale_temporaries(folder):
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    with _io.atomic_file(os.path.join(out_dir, MANIFEST_FILE), overwrite=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as out:
            for spec in _shards(out_dir, params):
                with open(
                    os.path.join(out_dir, spec["shard"], MANIFEST_FILE), encoding="utf-8"
                ) as f:
                    out.writelines(f)


def library(
    out_dir,
    voices,
    n_per_voice,
    *,
    seed,
    temperature=None,
    duration=None,
    shard_size=DEFAULT_SHARD_SIZE,
    format="flac",
    client=None,
    workers=None,
    backend="auto",
    progress=False,
):
    """Generate a library of `n_per_voice` clips per voice into `out_dir`, on Dask or in this process.

    Clip ``i`` of a voice is clip ``i`` of ``fastdrum.generate(voice,
    n_per_voice, seed=seed, temperature=..., duration=...)`` (the same seed
    stream), whatever `shard_size`, the number of workers, or the order shards
    finish in. Rerun with the same arguments to resume: complete shards whose
    clips match their manifest checksums are kept, the rest are made again.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The library folder: new, empty, or holding this same library (its
        parent must exist).
    voices : sequence of str or os.PathLike
        What ``fastdrum.generate`` takes as its first argument: a shipped
        model's name (:func:`fastdrum.available_models`) or a model file.
        Each voice's clips go to a folder named after it (a file's stem).
    n_per_voice : int
        Clips per voice.
    seed : int
        The library's seed (required: it is what makes resuming possible).
    temperature : float, optional
        Default: each model's recommended value (as ``generate``), recorded
        in ``library.json`` and the manifest.
    duration : float, optional
        Seconds per clip; default each model's clip duration.
    shard_size : int, default DEFAULT_SHARD_SIZE
        Clips per shard: per task, kernel batch and folder.
    format : {"flac", "wav"}
        Audio files, 24-bit PCM.
    client : distributed.Client or str, optional
        A Dask client, or the address of a scheduler to connect to (any
        deployment; its workers must see `out_dir` and the same models). Default:
        start a ``LocalCluster`` of `workers` processes, one kernel thread each.
    workers : int, optional
        Processes of the local cluster (default: one per CPU). 0 runs every
        shard in this process, without Dask.
    backend : {"auto", "c", "numpy"}
        Generation backend (``generate``'s).
    progress : bool, default False
        A progress bar (clips/s) on stderr, and the dashboard link of a local cluster.

    Returns
    -------
    dict
        ``clips`` (in the library), ``shards``, ``written`` (shards made by
        this call; the others were complete and verified) and ``manifest``
        (path of ``manifest.jsonl``).

    Raises
    ------
    LibraryError
        If an argument is invalid, or `out_dir` holds something else.
    ModelNotFoundError
        If a voice names no model.
    NotWritableError
        If `out_dir` cannot be written.
    SchedulerUnavailableError
        If the scheduler at the address `client` cannot be reached.
    BackendUnavailableError
        If Dask is needed and not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastdrum.testing import random_model
    >>> d = tempfile.mkdtemp()
    >>> random_model(seed=0).save(os.path.join(d, "tiny.npz"))
    >>> out = os.path.join(d, "lib")
    >>> library(out, [os.path.join(d, "tiny.npz")], 5, seed=1, shard_size=2, workers=0)["written"]
    3
    >>> sorted(os.listdir(os.path.join(out, "tiny")))
    ['0000000-0000001', '0000002-0000003', '0000004-0000004']
    >>> library(out, [os.path.join(d, "tiny.npz")], 5, seed=1, shard_size=2, workers=0)["written"]
    0
    """
    params = _params(
        voices,
        n_per_voice,
        seed=seed,
        temperature=temperature,
        duration=duration,
        shard_size=shard_size,
        format=format,
    )
    if workers is not None:
        workers = _checks.integer("workers", workers, lo=0, hi=4096, error=LibraryError)
    if workers is not None and client is not None:
        raise LibraryError("workers= sizes a local cluster: pass it or client=, not both")
    if backend not in ("auto", "c", "numpy"):
        raise LibraryError(f"backend must be 'auto', 'c' or 'numpy', got {backend!r}")
    out_dir, old = _check_folder(out_dir, params)
    dask_client = cluster = None
    owned = False
    if workers != 0:  # connect before writing anything: an unreachable scheduler leaves no folder
        dask_client, cluster, owned = _connect(client, workers, progress)
    bar = None
    try:
        _make_folder(out_dir, params, old)
        specs = [dict(s, backend=backend) for s in _shards(out_dir, params)]
        total = params["n_per_voice"] * len(params["voices"])
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="clip", desc="library", smoothing=0.1)
        if dask_client is None:
            written = _run_here(specs, bar)
        else:
            written = _run_dask(specs, dask_client, bar)
    finally:
        if bar is not None:
            bar.close()
        if owned:
            dask_client.close()
        if cluster is not None:
            cluster.close()
    _finish(out_dir, params)
    return {
        "clips": total,
        "shards": len(specs),
        "written": written,
        "manifest": os.path.join(out_dir, MANIFEST_FILE),
    }
