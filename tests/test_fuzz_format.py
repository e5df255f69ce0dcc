"""Fuzzing the model loader with hostile files (issue 8).

The fast, deterministic subset of tools/fuzz_models.py (the long run is
``python tools/fuzz_models.py --cases 10000``), plus the cases that need a
measurement of their own: zip bombs in a subprocess (peak RSS, time), pickles
that must never run, and the file variants that must load to the same model.
tests/test_format.py has one test per kind of bad file; this file does not
repeat them.
"""

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastdrum
from fastdrum import FastDrumError, ModelFormatError, load_model
from fastdrum.testing import random_model
from tools import fuzz_models as fz

#: Peak Python/NumPy allocation allowed while loading a fuzz case: the arrays,
#: the model's own copies and the isfinite temporaries, all bounded by the
#: max_bytes the oracle passes (fz.LOAD_LIMIT = 4 MiB). A valid case peaks
#: around 0.1 MiB; reading before checking sizes would blow through this.
LOAD_PEAK_LIMIT = 3 * fz.LOAD_LIMIT

#: The CI subset's bzip2/lzma bombs (MiB of zeros): cheap to build (about
#: 0.4 s for both), yet well above LOAD_PEAK_LIMIT if a reader inflates them.
SMALL_BOMBS = {"bzip2": 32, "lzma": 32}

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _load_peak(path):
    """Peak traced allocation (bytes) of load_model(path), whatever its outcome."""
    tracemalloc.start()
    try:
        load_model(path, max_bytes=fz.LOAD_LIMIT)
    except FastDrumError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@FUZZ
@given(rnd=st.randoms(use_true_random=False))
def test_hostile_files_load_correctly_or_raise_fastdrum_errors(workdir, rnd):
    marker = workdir / "MARKER-pickle-executed"
    path = workdir / "case.npz"
    with mock.patch.dict(fz.BOMB_MIB, SMALL_BOMBS):
        data, case = fz.make_case(rnd, str(marker))
    path.write_bytes(data)
    peak = _load_peak(path)
    assert peak <= LOAD_PEAK_LIMIT, f"loading {case.steps} allocated {peak} bytes"
    fz.check_file(
        path, case
    )  # raises CaseFailure unless: loaded and generated right, or FastDrumError
    assert not marker.exists(), f"a pickle ran: {case.steps}"


def test_the_long_run_tool_finds_no_failure_in_a_short_run():
    """tools/fuzz_models.run as the long run drives it (its own case stream, per-case alarm)."""
    import io
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    out = io.StringIO()
    try:
        with mock.patch.dict(fz.BOMB_MIB, SMALL_BOMBS):
            outcomes, failures = fz.run(60, seed="ci", timeout=30, out=out)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))  # run() capped it
    assert failures == []
    assert sum(outcomes.values()) == 60
    assert set(outcomes) <= {"loaded", "ModelFormatError"}, outcomes


# -- the cases that get a measurement of their own --------------------------------------
_CHILD = textwrap.dedent("""
    import json, sys, time, tracemalloc
    import fastdrum
    import fastdrum.model, fastdrum._format  # fastdrum loads its modules on first use: not inside the measurement

    def status(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    results = []
    for path in sys.argv[1:]:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (peak RSS) to the current RSS
        rss = status("VmRSS")
        tracemalloc.start()
        t = time.monotonic()
        try:
            fastdrum.load_model(path)  # the default max_bytes (256 MiB)
            outcome = "loaded"
        except Exception as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - t
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results.append([path, outcome, seconds, (status("VmHWM") - rss) * 1024, traced])
    print(json.dumps(results))
""")


def test_zip_bombs_are_refused_without_inflating_them(workdir):
    """Each bomb inflates to 32 MiB (bzip2, lzma) or 2 GiB (deflate); memory must stay flat.

    Measured in a fresh process: the growth of peak RSS (VmHWM, reset before
    each file) and the peak of traced Python/NumPy allocations.
    """
    case = fz.Case(__import__("random").Random(0), str(workdir / "unused"))
    others = [m for m in case.members() if m.name != "input_w.npy"]
    paths = []
    with mock.patch.dict(fz.BOMB_MIB, SMALL_BOMBS):
        for kind in ("header", "small-claim", "zeros", "bzip2", "lzma"):
            path = workdir / f"bomb-{kind}.npz"
            path.write_bytes(fz.zip_bytes(others + fz.bomb_members(kind)))
            paths.append(str(path))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *paths],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    for path, outcome, seconds, rss_growth, traced in json.loads(proc.stdout):
        name = os.path.basename(path)
        assert outcome.startswith("ModelFormatError: ") and "model key 'input_w'" in outcome, (
            name,
            outcome,
        )
        assert seconds < 5, (name, seconds)
        assert rss_growth < 8 * 2**20, f"{name}: peak RSS grew by {rss_growth / 2**20:.0f} MiB"
        assert traced < 2**20, f"{name}: {traced / 2**20:.0f} MiB allocated"


def test_bomb_messages_say_why(workdir):
    case = fz.Case(__import__("random").Random(1), str(workdir / "unused"))
    others = [m for m in case.members() if m.name != "input_w.npy"]
    expect = {
        "header": "size limit",
        "small-claim": "sizes do not agree",
        "zeros": "unreadable array header",
        "bzip2": "compression method 12 is not allowed",
        "lzma": "compression method 14 is not allowed",
    }
    with mock.patch.dict(fz.BOMB_MIB, SMALL_BOMBS):
        for kind, message in expect.items():
            path = workdir / f"why-{kind}.npz"
            path.write_bytes(fz.zip_bytes(others + fz.bomb_members(kind)))
            with pytest.raises(ModelFormatError, match=f"'input_w'.*{message}"):
                load_model(path)


def test_a_directory_of_many_entries_is_refused_before_parsing(workdir):
    path = workdir / "many.npz"
    path.write_bytes(fz.zip_bytes([fz.Member(f"m{i}", b"") for i in range(20_000)]))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match="zip directory of 20000 entries"):
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # zipfile would build 20,000 ZipInfo objects (about 10 MB)


@pytest.mark.parametrize(
    "kind",
    [
        "object-member",
        "pickle-file",
        "pickle-member",
        "pk-pickle",
        "header-code",
        "object-unknown-key",
    ],
)
def test_pickles_never_run(workdir, kind):
    marker = workdir / f"MARKER-{kind}"
    evil = fz.Evil(marker)
    case = fz.Case(__import__("random").Random(2), str(marker))
    if kind == "object-member":
        case.arrays["meta"] = np.array([evil], dtype=object)
        data = case.to_bytes()
    elif kind == "pickle-file":
        data = __import__("pickle").dumps({"input_w": evil})
    elif kind == "pickle-member":
        case.forged["input_w"] = __import__("pickle").dumps(evil)
        data = case.to_bytes()
    elif kind == "pk-pickle":
        data = b"PK\x03\x04" + __import__("pickle").dumps(evil)
    elif kind == "header-code":
        case.forged["dil_w"] = fz.forged_npy(
            f"{{'descr': '<f4', 'fortran_order': False, 'shape': (__import__('os').system('touch {marker}'),)}}"
        )
        data = case.to_bytes()
    else:
        case.extra.append(fz.Member("evil.npy", fz.npy_bytes(np.array([evil], dtype=object))))
        data = case.to_bytes()
    path = workdir / f"{kind}.npz"
    path.write_bytes(data)
    if kind == "object-unknown-key":  # unknown members are never read: the model loads
        load_model(path)
    else:
        with pytest.raises(ModelFormatError):
            load_model(path)
    assert not marker.exists()


# -- variants that must load to the same model --------------------------------------------
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    big_endian=st.sets(st.sampled_from(sorted(fastdrum._format.REQUIRED_KEYS + ("primers",)))),
    fortran=st.sets(st.sampled_from(sorted(fastdrum._format.WEIGHT_KEYS + ("primers",)))),
    deflated=st.sets(st.sampled_from(sorted(fastdrum._format.REQUIRED_KEYS))),
    int_dtype=st.sampled_from(["<i8", ">i8", "<i4", "<u2", "|u1", ">u4"]),
    unknown_members=st.booleans(),
)
def test_friendly_variants_load_to_the_same_model(
    workdir, big_endian, fortran, deflated, int_dtype, unknown_members
):
    """Big-endian, fortran order, deflate, any integer dtype, extra members: same model, same audio."""
    model = random_model(dilations=[1, 2, 4, 8], seed=3, primers=2)
    case = fz.Case(__import__("random").Random(3), str(workdir / "unused"))
    arrays = model._arrays()
    arrays["dilations"] = arrays["dilations"].astype(int_dtype)
    for key in big_endian:
        arrays[key] = arrays[key].astype(arrays[key].dtype.newbyteorder(">"))
    case.arrays = arrays
    case.fortran = set(fortran)
    case.methods = {k: zipfile.ZIP_DEFLATED for k in deflated}
    if unknown_members:
        case.extra = [
            fz.Member("notes.txt", b"hello"),
            fz.Member("future_key.npy", fz.npy_bytes(np.arange(4))),
        ]
    path = workdir / "variant.npz"
    path.write_bytes(case.to_bytes())
    back = load_model(path)
    assert back.dilations == model.dilations and back.sample_rate == model.sample_rate
    assert back.meta == model.meta
    np.testing.assert_array_equal(back.primers, model.primers)
    for k, v in model.weights.items():
        assert back.weights[k].dtype == np.float32 and back.weights[k].dtype.isnative
        assert back.weights[k].flags.c_contiguous
        np.testing.assert_array_equal(back.weights[k], v)
    y = fastdrum.generate(back, 2, duration=0.002, seed=5, backend="numpy")
    np.testing.assert_array_equal(
        y, fastdrum.generate(model, 2, duration=0.002, seed=5, backend="numpy")
    )


def test_duplicate_members_are_refused_not_resolved_silently(workdir):
    case = fz.Case(__import__("random").Random(4), str(workdir / "unused"))
    case.extra.append(fz.Member("out1_b.npy", fz.npy_bytes(np.zeros_like(case.arrays["out1_b"]))))
    path = workdir / "dup.npz"
    path.write_bytes(case.to_bytes())
    with pytest.raises(ModelFormatError, match="duplicate zip member 'out1_b.npy'"):
        load_model(path)
