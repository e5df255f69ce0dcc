"""The machine's yardstick: single-thread float32 sgemm, and a check that BLAS really is pinned."""

import numpy as np

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
