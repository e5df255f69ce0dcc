"""Benchmark fixtures: BLAS pinned to one thread, the machine's sgemm peak, the machine described.

Both OpenBLAS libraries in the process are pinned: numpy's, and scipy's own,
which the kernel calls through ``scipy.linalg.cython_blas``. Both are loaded
before the limit is set, so the limit reaches them.
"""

import os
import platform
import time

import numpy as np
import pytest

from fastdrum import _backends

#: Filled during the run; merged into the JSON's machine_info at the end.
RUN_INFO = {}

SGEMM_N = 512


def _load_blas():
    import scipy.linalg
    import scipy.linalg.cython_blas  # noqa: F401  (loads scipy's OpenBLAS)

    if "c" in _backends.available():
        _backends.get("c")


@pytest.fixture(scope="session", autouse=True)
def pinned_blas():
    """Every BLAS in the process limited to one thread for the whole session."""
    from threadpoolctl import threadpool_info, threadpool_limits

    _load_blas()
    RUN_INFO["loadavg_start"] = _loadavg()
    with threadpool_limits(limits=1, user_api="blas"):
        RUN_INFO["blas"] = [
            {
                k: lib.get(k)
                for k in (
                    "internal_api",
                    "version",
                    "architecture",
                    "threading_layer",
                    "num_threads",
                    "filepath",
                )
            }
            for lib in threadpool_info()
            if lib.get("user_api") == "blas"
        ]
        yield
    RUN_INFO["loadavg_end"] = _loadavg()


def measure_sgemm(n=SGEMM_N, repeats=20):
    """Best-of-`repeats` GFLOP/s of a float32 n x n x n numpy matmul (BLAS as currently limited)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)
    best = min(_timed(np.matmul, a, b, c) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(f, a, b, c):
    t = time.perf_counter()
    f(a, b, out=c)
    return time.perf_counter() - t


@pytest.fixture(scope="session")
def sgemm_gflops(pinned_blas):
    """Single-thread float32 sgemm GFLOP/s of this machine, measured once per session."""
    g = measure_sgemm()
    RUN_INFO["sgemm_gflops_session"] = g
    return g


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return None


def _cpuinfo():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key and key not in info:
                    info[key] = value
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    return {
        "model_name": info.get("model name") or platform.processor(),
        "family_model": f"family {info.get('cpu family')} model {info.get('model')}"
        if "cpu family" in info
        else None,
        "cache_size": info.get("cache size"),
        "mhz": info.get("cpu MHz"),
        "simd": " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags),
    }


def _versions():
    from importlib import metadata

    out = {}
    for dist in (
        "numpy",
        "scipy",
        "fastdrum",
        "tensorflow-cpu",
        "tensorflow",
        "threadpoolctl",
        "pytest-benchmark",
        "Cython",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["fastdrum"] = {
        "cpu": _cpuinfo(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "versions": _versions(),
        "backends": _backends.available(),
        "kernel": _kernel_info(),
        **RUN_INFO,
    }


def pytest_runtest_logreport(report):
    """Remember skipped cases and why, for the report."""
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        RUN_INFO.setdefault("skipped", []).append(f"{report.nodeid.split('::')[-1]}: {reason}")


def _kernel_info():
    if "c" not in _backends.available():
        return None
    try:
        from fastdrum.testing import STANDARD_CONFIG, random_model

        model = random_model(**STANDARD_CONFIG, seed=0)
        s = _backends.get("c")(model, 1, n_threads=1)
        info = {k: getattr(s, k, None) for k in ("gemm_path", "act_path", "weight_dtype")}
        info["weight_dtype_f16"] = getattr(
            _backends.get("c")(model.round_weights(), 1), "weight_dtype", None
        )
        return info
    except Exception as exc:  # describing the machine must not hide the results
        return {"error": repr(exc)}
