"""Scratch benchmarks of the compiled kernel's paths (the kernel engineer's; not the suite).

Run (prints a summary table at the end)::

    /work/venv/bin/pytest bench/bench_kernel_dev.py -p no:cacheprovider -s \
        --benchmark-columns=min,median,rounds --benchmark-group-by=group

Every BLAS library in the process runs one thread. Figures: samples/s (clips x
steps per second), real-time factor at 16 kHz and 44.1 kHz, GFLOP/s from
``model.flops_per_sample``; sgemm 512^3 through scipy's BLAS (the library
cython_blas calls) from the same run.
"""

import time

import numpy as np
import pytest
import scipy.linalg.blas
from threadpoolctl import threadpool_limits

from fastdrum import _reference
from fastdrum._ext import _wavenet
from fastdrum.testing import STANDARD_CONFIG, random_model

MODEL = random_model(**STANDARD_CONFIG, seed=0)
FLOPS = MODEL.flops_per_sample
RESULTS = []


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    print("\n\nbatch threads path        samples/s   x16kHz  x44.1kHz  GFLOP/s  samples/CPU-s")
    for name, value, *cpu in RESULTS:
        if name.startswith(("sgemm", "stream")):
            print(f"{name:28s} {value:45.1f}")
        else:
            extra = f"{cpu[0]:12.0f}" if cpu else ""
            print(f"{name:28s}{value:10.0f} {value / 16000:8.2f} {value / 44100:9.2f} "
                  f"{value * FLOPS / 1e9:8.1f} {extra}")


def _steps(B):
    return max(64, 16384 // B)


def _bench_state(benchmark, state, B, name, rounds=7):
    T = _steps(B) + 2
    codes = np.full((B, T), 128, np.int32)
    uniforms = np.random.default_rng(0).random((B, T - 1))
    benchmark.pedantic(state.run, args=(codes, 1, uniforms, 1.0, 0, T - 1), rounds=rounds,
                       warmup_rounds=1)
    if not benchmark.disabled:
        rate = B * (T - 1) / benchmark.stats.stats.median
        benchmark.extra_info["samples_per_s"] = rate
        benchmark.extra_info["gflops"] = rate * FLOPS / 1e9
        # CPU time of all the process's threads: on a machine shared with other
        # jobs, samples per CPU-second shows the kernel's own cost.
        cpu = time.process_time()
        state.run(codes, 1, uniforms, 1.0, 0, T - 1)
        cpu = time.process_time() - cpu
        benchmark.extra_info["samples_per_cpu_s"] = B * (T - 1) / cpu
        RESULTS.append((name, rate, B * (T - 1) / cpu))


def test_sgemm_scipy(benchmark):
    n = 512
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    b = np.asfortranarray(rng.standard_normal((n, n), dtype=np.float32))
    c = np.zeros((n, n), np.float32, order="F")
    benchmark.group = "sgemm"
    benchmark.pedantic(scipy.linalg.blas.sgemm, args=(1.0, a, b), kwargs=dict(c=c, overwrite_c=1),
                       rounds=30, warmup_rounds=3)
    if not benchmark.disabled:
        RESULTS.append(("sgemm 512^3 scipy (min)", 2 * n**3 / benchmark.stats.stats.min / 1e9))
        RESULTS.append(("sgemm 512^3 scipy (median)", 2 * n**3 / benchmark.stats.stats.median / 1e9))


def test_numpy_reference_batch1(benchmark):
    B, T = 1, 130
    state = _reference.State(MODEL._reference_weights(), B)
    codes = np.full((B, T), 128, np.int32)
    uniforms = np.random.default_rng(0).random((B, T - 1))
    benchmark.group = "batch 1"
    benchmark.pedantic(state.run, args=(codes, 1, uniforms, 1.0, 0, T - 1), rounds=3, warmup_rounds=1)
    if not benchmark.disabled:
        cpu = time.process_time()
        state.run(codes, 1, uniforms, 1.0, 0, T - 1)
        cpu = time.process_time() - cpu
        RESULTS.append(("1 1 numpy-reference", B * (T - 1) / benchmark.stats.stats.median,
                        B * (T - 1) / cpu))


@pytest.mark.parametrize("B", [1, 8, 32, 128])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("gemm", ["auto", "simd", "blas"])
def test_kernel(benchmark, B, n_threads, gemm):
    if gemm == "simd" and not _wavenet.simd_available():
        pytest.skip("no AVX2 + FMA")
    state = _wavenet.State(MODEL, B, n_threads, _gemm=gemm)
    benchmark.group = f"batch {B}"
    _bench_state(benchmark, state, B, f"{B} {n_threads} {gemm}/{state.act_path}")


def test_stream_weights(benchmark):
    """The bound of batch 1: reading every weight once (scipy sdot of the flat weights with
    themselves, one pass over ~0.9 MB, i.e. L2 bandwidth), in passes per second."""
    flat = np.concatenate([w.ravel() for w in MODEL.weights.values()])
    benchmark.group = "batch 1"
    benchmark.pedantic(scipy.linalg.blas.sdot, args=(flat, flat), rounds=200, iterations=10,
                       warmup_rounds=5)
    if not benchmark.disabled:
        RESULTS.append(("stream weights (passes/s)", 1 / benchmark.stats.stats.median))
