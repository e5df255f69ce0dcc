"""bench/interleave_paths.py runs and prints both paths and their ratio (not a timing: the suite's
cases time; this checks the tool that compares the two paths round by round)."""

import re

import pytest

from . import interleave_paths


def test_prints_each_path_and_the_ratio(capsys):
    from fastdrum import _backends

    if "c" not in _backends.available():
        pytest.skip("the compiled kernel is not built")
    from fastdrum._ext import _wavenet

    if "avx512" not in _wavenet.gemm_paths():
        pytest.skip("this CPU has no AVX-512F")
    assert interleave_paths.main(["standard", "2", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out[:2]] == ["simd", "avx512"]
    assert re.fullmatch(r"avx512 / simd time per pair: median \d+\.\d{3} \(quartiles .*\)", out[2])


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        interleave_paths.main(["standard", "0", "2"])
    assert exc.value.code == 2
    assert "batch and rounds must be at least 1" in capsys.readouterr().err
