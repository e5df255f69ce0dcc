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
    assert os.umask(0o027) == 0o027   # unchanged by the write
