"""fastdrum._io: the umask it gives new files, read without being changed."""

import os
import stat
import sys

import pytest

from fastdrum import _io


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status is Linux's")
def test_umask_is_read_without_setting_it(umask_027, monkeypatch):
    def no_umask(_):
        raise AssertionError("os.umask called: the process umask was changed to read it")

    monkeypatch.setattr(_io.os, "umask", no_umask)
    assert _io._umask() == 0o027


def test_new_files_get_the_umask_permissions(umask_027, tmp_path):
    path = tmp_path / "out.bin"
    with _io.atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"x")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.umask(0o027) == 0o027  # unchanged by the write


def _record_fsyncs(monkeypatch):
    """Record the path behind every descriptor os.fsync is given."""
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(_io.os, "fsync", fsync)
    return synced


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd is Linux's")
def test_a_file_is_flushed_before_it_is_put_in_place_and_its_folder_after(tmp_path, monkeypatch):
    synced = _record_fsyncs(monkeypatch)
    path = tmp_path / "a.bin"
    with _io.atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"data")
        assert synced == []
    assert len(synced) == 2
    assert os.path.basename(synced[0]).startswith(_io.TEMP_PREFIX)  # the file, by its temp name
    assert os.path.dirname(synced[0]) == str(tmp_path)
    assert synced[1] == str(tmp_path)  # then the folder that now holds it
    assert path.read_bytes() == b"data"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd is Linux's")
def test_a_folder_is_flushed_file_by_file_before_it_is_put_in_place(tmp_path, monkeypatch):
    synced = _record_fsyncs(monkeypatch)
    with _io.atomic_dir(tmp_path / "kit") as tmp:
        for name in ("a.wav", "b.wav"):
            (tmp_path / tmp / name).write_bytes(b"x")
    names = [os.path.basename(p) for p in synced]
    assert sorted(names[:3]) == sorted(["a.wav", "b.wav", _io.MANIFEST])
    assert names[3].startswith(_io.TEMP_PREFIX) and synced[4] == str(tmp_path)
    assert sorted(os.listdir(tmp_path / "kit")) == sorted(["a.wav", "b.wav", _io.MANIFEST])


def test_the_model_writer_is_the_one_atomic_writer(tmp_path, monkeypatch):
    """Model.save goes through _io.atomic_file: it refuses, flushes and cleans up as every writer."""
    from fastdrum.testing import random_model

    calls = []
    real = _io.atomic_file

    def spy(path, **kwargs):
        calls.append((os.fspath(path), kwargs))
        return real(path, **kwargs)

    monkeypatch.setattr(_io, "atomic_file", spy)
    random_model(seed=0).save(tmp_path / "m.npz")
    assert calls == [(str(tmp_path / "m.npz"), {"overwrite": False, "suffix": ".npz"})]
