"""fastdrum.library: sample libraries in shards, checked against generate(), resumed, on Dask.

The definition: clip i of a voice is clip i of ``generate(voice, n_per_voice,
seed=seed, temperature=..., duration=...)``, stored as 24-bit PCM, and its
manifest row holds that clip's SHA-256, peak and loudness.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastdrum
from fastdrum import _io, _library
from fastdrum.cli import main
from fastdrum.post import loudness
from fastdrum.testing import random_model

#: 24-bit PCM: a stored sample is within half a step of the float clip.
PCM24_STEP = 2.0**-23


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """Two tiny model files (one with training primers, so clips draw their primer too)."""
    d = tmp_path_factory.mktemp("models")
    paths = []
    for i, name in enumerate(["tom", "clap"]):
        path = d / f"{name}.npz"
        random_model(
            seed=10 + i, instrument=name, clip_duration=0.01, primers=3 if i == 0 else None
        ).save(path)
        paths.append(str(path))
    return paths


def rows_of(out):
    with open(os.path.join(out, _library.MANIFEST_FILE), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def shard_dirs(out, folder):
    return sorted(n for n in os.listdir(os.path.join(out, folder)) if not n.startswith("."))


def all_verified(out):
    params = _library.read_library_params(out)
    return all(_library._verified(dict(s)) for s in _library._shards(out, params))


def snapshot(out, folder):
    """(inode, mtime) of every shard folder: unchanged when a rerun keeps the shard."""
    root = os.path.join(out, folder)
    return {
        n: (os.stat(os.path.join(root, n)).st_ino, os.stat(os.path.join(root, n)).st_mtime_ns)
        for n in shard_dirs(out, folder)
    }


# -- the definition, in this process -------------------------------------------------------
def test_clips_are_generate_output(tmp_path, voices):
    out = str(tmp_path / "lib")
    n = 7
    result = fastdrum.library(out, voices, n, seed=5, shard_size=3, workers=0, format="wav")
    assert result == {
        "clips": 2 * n,
        "shards": 6,
        "written": 6,
        "manifest": os.path.join(out, "manifest.jsonl"),
    }
    rows = rows_of(out)
    assert [(r["voice"], r["index"]) for r in rows] == [(v, i) for v in voices for i in range(n)]
    for v in voices:
        model = fastdrum.load_model(v)
        expected = fastdrum.generate(v, n, seed=5)
        for r, clip in zip((r for r in rows if r["voice"] == v), expected):
            y, sr = _io.read_audio(os.path.join(out, r["path"]))
            assert sr == model.sample_rate == r["sample_rate"]
            np.testing.assert_allclose(y, clip, rtol=0, atol=PCM24_STEP)
            assert r["sha256"] == _library._sha256(os.path.join(out, r["path"]))
            assert r["model_sha256"] == _library._sha256(v)
            assert r["temperature"] == model.generation_defaults.get("temperature", 1.0)
            assert r["duration"] == clip.shape[0] / sr
            assert r["peak"] == pytest.approx(np.abs(clip).max(), rel=1e-6)
            assert r["loudness_lufs"] == pytest.approx(loudness(clip, sr), abs=1e-6)
            assert r["seed"] == 5
    assert all_verified(out)


def test_shipped_voice_by_name(tmp_path):
    out = str(tmp_path / "lib")
    fastdrum.library(out, ["kick"], 2, seed=1, duration=0.005, workers=0)
    (r0, r1) = rows_of(out)
    y = fastdrum.generate("kick", 2, seed=1, duration=0.005)
    np.testing.assert_allclose(
        _io.read_audio(os.path.join(out, r1["path"]))[0], y[1], atol=PCM24_STEP, rtol=0
    )
    assert r0["path"].startswith("kick/") and r0["voice"] == "kick"


def test_shard_size_does_not_change_clips(tmp_path, voices):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    fastdrum.library(a, voices, 6, seed=2, temperature=0.7, shard_size=4, workers=0)
    fastdrum.library(b, voices, 6, seed=2, temperature=0.7, shard_size=6, workers=0)
    ra, rb = rows_of(a), rows_of(b)
    assert [r["path"] for r in ra] != [r["path"] for r in rb]  # different shard folders...
    assert [r["sha256"] for r in ra] == [r["sha256"] for r in rb]  # ...same clips, byte for byte
    assert {r["temperature"] for r in ra} == {0.7}


def test_rerun_writes_only_missing_and_bad_shards(tmp_path, voices):
    out = str(tmp_path / "lib")
    kwargs = dict(seed=3, shard_size=2, workers=0)
    fastdrum.library(out, voices, 6, **kwargs)
    first = rows_of(out)
    folder = "tom"
    shards = shard_dirs(out, folder)
    before = snapshot(out, folder)
    stale = os.path.join(out, folder, _io.TEMP_PREFIX + "killed.tmp")
    os.mkdir(stale)  # what a killed writer leaves: a temporary shard folder
    with open(os.path.join(stale, "half.flac"), "wb") as f:
        f.write(b"fLaC")
    shutil.rmtree(os.path.join(out, folder, shards[0]))  # a shard never written
    bad = next(r for r in first if r["path"].startswith(f"{folder}/{shards[2]}/"))
    with open(os.path.join(out, bad["path"]), "r+b") as f:  # a clip damaged afterwards
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    assert not all_verified(out)
    result = fastdrum.library(out, voices, 6, **kwargs)
    assert result["written"] == 2
    after = snapshot(out, folder)
    assert after[shards[1]] == before[shards[1]]  # kept, untouched
    assert after[shards[2]] != before[shards[2]]
    assert not os.path.exists(stale)
    assert rows_of(out) == first
    assert all_verified(out)


def test_cli_resumes_with_the_library_seed(tmp_path, voices, capsys):
    out = str(tmp_path / "lib")
    args = [
        "library",
        "-o",
        out,
        "--voices",
        ",".join(voices),
        "-n",
        "3",
        "--workers",
        "0",
        "--shard-size",
        "2",
    ]
    assert main(args) == 0
    seed = _library.read_library_params(out)["seed"]
    first = rows_of(out)
    assert f"seed {seed}" in capsys.readouterr().out
    assert main(args + ["-q"]) == 0  # no --seed: the library's own
    assert rows_of(out) == first
    assert capsys.readouterr().out == ""


def test_help(capsys):
    assert main(["library", "--help"]) == 0
    assert "usage: fastdrum library" in capsys.readouterr().out


def test_dask_is_imported_only_for_a_cluster():
    code = (
        "import sys, fastdrum; fastdrum.library; import fastdrum.cli; fastdrum.cli.build_parser(); "
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


# -- bad input: an exception of fastdrum's, and exit status 2 with one line -------------------
def _cli_fails(capsys, args, match):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert match in err


def test_unknown_voice(tmp_path, capsys):
    out = str(tmp_path / "lib")
    with pytest.raises(fastdrum.ModelNotFoundError, match="no model named 'bogus'"):
        fastdrum.library(out, ["kick", "bogus"], 2, seed=0, workers=0)
    _cli_fails(
        capsys,
        ["library", "-o", out, "--voices", "kick,bogus", "-n", "2", "--workers", "0"],
        "bogus",
    )
    assert not os.path.exists(out)


def test_unwritable_folder(tmp_path, voices, capsys):
    afile = tmp_path / "file"
    afile.write_text("x")
    out = str(afile / "lib")  # its parent is a file
    with pytest.raises(fastdrum.NotWritableError):
        fastdrum.library(out, voices, 1, seed=0, workers=0)
    with pytest.raises(fastdrum.NotWritableError, match="not a directory"):
        fastdrum.library(str(afile), voices, 1, seed=0, workers=0)
    _cli_fails(
        capsys,
        ["library", "-o", out, "--voices", voices[0], "-n", "1", "--workers", "0"],
        "cannot write",
    )
    assert afile.read_text() == "x"


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders"
)
def test_read_only_folder(tmp_path, voices):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(fastdrum.NotWritableError):
            fastdrum.library(str(ro / "lib"), voices, 1, seed=0, workers=0)
    finally:
        ro.chmod(0o755)


def test_folder_holding_something_else(tmp_path, voices):
    out = tmp_path / "lib"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(fastdrum.LibraryError, match="holds no library"):
        fastdrum.library(str(out), voices, 1, seed=0, workers=0)
    assert os.listdir(out) == ["mine.txt"]


def test_other_arguments_than_the_library(tmp_path, voices):
    out = str(tmp_path / "lib")
    fastdrum.library(out, voices, 2, seed=0, workers=0)
    first = rows_of(out)
    for change, where in [
        (dict(seed=1), "seed"),
        (dict(temperature=0.5), "voices[0].temperature"),
        (dict(shard_size=1), "shard_size"),
        (dict(format="wav"), "format"),
    ]:
        kwargs = dict(seed=0, workers=0)
        kwargs.update(change)
        with pytest.raises(fastdrum.LibraryError, match=re.escape(f"({where}:")):
            fastdrum.library(out, voices, 2, **kwargs)
    assert rows_of(out) == first


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_per_voice=0), "n_per_voice"),
        (dict(n_per_voice=2.5), "n_per_voice"),
        (dict(seed=-1), "seed"),
        (dict(seed=None), "seed"),
        (dict(shard_size=0), "shard_size"),
        (dict(format="mp3"), "format"),
        (dict(temperature=1e9), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(duration=1e9), "shard"),
        (dict(duration=0.0), r"duration must be a finite number > 0\.0, got 0\.0"),
        (dict(workers=-1), "workers"),
        (dict(workers=1, client="tcp://127.0.0.1:9"), "not both"),
        (dict(backend="gpu"), "backend"),
        (dict(voices=[]), "voices"),
        (dict(voices=[3]), "voice"),
    ],
)
def test_bad_arguments(tmp_path, voices, kwargs, match):
    args = dict(voices=voices, n_per_voice=2, seed=0, workers=0)
    args.update(kwargs)
    out = str(tmp_path / "lib")
    with pytest.raises(fastdrum.LibraryError, match=match):
        fastdrum.library(out, args.pop("voices"), args.pop("n_per_voice"), **args)
    assert not os.path.exists(out)


def test_two_voices_one_folder(tmp_path, voices):
    with pytest.raises(fastdrum.LibraryError, match="share the folder 'tom'"):
        fastdrum.library(str(tmp_path / "lib"), [voices[0], voices[0]], 1, seed=0, workers=0)


def test_unreachable_scheduler(tmp_path, voices, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(_library, "CONNECT_TIMEOUT", 0.5)
    out = str(tmp_path / "lib")
    with pytest.raises(fastdrum.SchedulerUnavailableError, match="tcp://127.0.0.1:9"):
        fastdrum.library(out, voices, 1, seed=0, client="tcp://127.0.0.1:9")
    _cli_fails(
        capsys,
        [
            "library",
            "-o",
            out,
            "--voices",
            voices[0],
            "-n",
            "1",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
        "cannot reach a Dask scheduler",
    )
    assert not os.path.exists(out)


# -- on a local Dask cluster of 2 worker processes --------------------------------------------
def _cluster(n=2):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return cluster, Client(cluster)


@pytest.fixture(scope="module")
def client():
    cluster, client = _cluster()
    yield client
    client.close()
    cluster.close()


@pytest.mark.slow
def test_cluster_equals_one_process(tmp_path, voices, client):
    here, there = str(tmp_path / "here"), str(tmp_path / "there")
    fastdrum.library(here, voices, 9, seed=4, shard_size=2, workers=0)
    result = fastdrum.library(there, voices, 9, seed=4, shard_size=2, client=client)
    assert result["written"] == 10
    assert rows_of(there) == rows_of(here)
    assert all_verified(there)


#: Enough work that killing a worker at the first finished shard lands mid-run.
KILL_RUN = dict(n_per_voice=60, seed=6, shard_size=2, duration=0.05)


@pytest.mark.slow
def test_killed_worker(tmp_path):
    """A worker process killed (SIGKILL) mid-run: Dask reruns its shard; the library ends whole."""
    cluster, client = _cluster()
    out = str(tmp_path / "lib")
    try:
        pids = list(client.run(os.getpid).values())
        errors = []

        def run():
            try:
                fastdrum.library(out, ["kick"], client=client, **KILL_RUN)
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 300
        while not (os.path.isdir(os.path.join(out, "kick")) and shard_dirs(out, "kick")):
            assert t.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        assert t.is_alive(), "the run ended before a worker could be killed"
        os.kill(pids[0], signal.SIGKILL)
        t.join(600)
        assert not errors, errors
        assert pids[0] not in client.run(os.getpid).values()  # that worker did die
    finally:
        client.close()
        cluster.close()
    assert _io.stale_temporaries(os.path.join(out, "kick")) == []
    assert all_verified(out)
    ref = str(tmp_path / "ref")
    fastdrum.library(ref, ["kick"], workers=0, **KILL_RUN)
    assert rows_of(out) == rows_of(ref)


@pytest.mark.slow
def test_rerun_after_interrupted_run(tmp_path, voices, client):
    """The command killed (SIGKILL, with its local cluster) mid-run; a rerun writes the rest only."""
    out = str(tmp_path / "lib")
    args = [
        "library",
        "-o",
        out,
        "--voices",
        "kick",
        "-n",
        "60",
        "--seed",
        "7",
        "--shard-size",
        "2",
        "--duration",
        "0.05",
        "-q",
    ]
    cmd = [sys.executable, "-m", "fastdrum"] + args + ["--workers", "1"]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (os.path.isdir(os.path.join(out, "kick")) and len(shard_dirs(out, "kick")) >= 3):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = snapshot(out, "kick")
    assert 3 <= len(done) < 30
    assert not os.path.exists(os.path.join(out, _library.MANIFEST_FILE))
    result = fastdrum.library(out, ["kick"], 60, seed=7, shard_size=2, duration=0.05, client=client)
    assert result["written"] == 30 - len(done)
    after = snapshot(out, "kick")
    assert {k: after[k] for k in done} == done  # the shards made before were kept as they were
    assert _io.stale_temporaries(os.path.join(out, "kick")) == []
    assert all_verified(out)
    assert len(rows_of(out)) == 60
