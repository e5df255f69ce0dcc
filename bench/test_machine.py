"""The machine's yardsticks: single-thread float32 sgemm and weight streaming, and a check that
BLAS really is pinned."""

import numpy as np

from fastdrum.testing import STANDARD_CONFIG, random_model

from .conftest import SGEMM_N


def test_blas_pinned():
    """Every BLAS library loaded in the process (numpy's and scipy's OpenBLAS) runs one thread."""
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    assert blas, "no BLAS library found by threadpoolctl"
    assert {lib["num_threads"] for lib in blas} == {1}, blas


def test_sgemm(benchmark):
    """numpy float32 matmul 512 x 512 x 512, one BLAS thread: the machine's FMA peak, roughly."""
    n = SGEMM_N
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    benchmark.group = "machine: sgemm 512^3 float32, 1 thread"
    benchmark.pedantic(np.matmul, args=(a, b), kwargs={"out": c}, rounds=30, warmup_rounds=3)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=0, atol=1e-3)
    if not benchmark.disabled:
        benchmark.extra_info["gflops"] = 2 * n**3 / benchmark.stats.stats.min / 1e9
        benchmark.extra_info["gflops_median"] = 2 * n**3 / benchmark.stats.stats.median / 1e9


def test_weight_stream(benchmark):
    """numpy float32 GEMV (256 x 912) over as many weights as the standard config's products hold
    (233,472, 0.93 MB), one BLAS thread. A batch-1 step must read every one of those weights once,
    so one pass of this is a yardstick for the fastest possible batch-1 step with float32 weights."""
    n_weights = random_model(**STANDARD_CONFIG, seed=0).flops_per_sample // 2
    rng = np.random.default_rng(0)
    w = rng.standard_normal((256, n_weights // 256), dtype=np.float32)
    x = rng.standard_normal(n_weights // 256, dtype=np.float32)
    y = np.empty(256, dtype=np.float32)
    benchmark.group = "machine: weight stream, 0.93 MB float32, 1 thread"
    benchmark.pedantic(
        np.dot, args=(w, x), kwargs={"out": y}, rounds=50, iterations=20, warmup_rounds=5
    )
    np.testing.assert_allclose(y, w.astype(np.float64) @ x, rtol=0, atol=1e-3)
    if not benchmark.disabled:
        benchmark.extra_info["weights"] = int(w.size)
        benchmark.extra_info["passes_per_s"] = 1 / benchmark.stats.stats.min
        benchmark.extra_info["passes_per_s_median"] = 1 / benchmark.stats.stats.median
