"""The kernel's "simd" and "avx512" product paths, timed in interleaved rounds of one process.

    python -m bench.interleave_paths recipe-44k 1 40     # case, batch, rounds

bench/test_kernel_paths.py times each path in its own block of rounds; on a shared machine the load
changes between blocks, and a 5% difference between paths can read either way from one run to the
next. Here each round of one path is followed by a round of the other (the same case of
bench/cases.py, one thread, BLAS pinned, 4,096 samples a round), so both see the same load; it
prints each path's median and best samples/s and the median (and quartiles) of the per-pair time
ratio avx512 / simd. The evidence behind "auto" avoiding the AVX-512F tiles on AMD CPUs
(docs/benchmarks.md). Needs the compiled kernel and a CPU with AVX-512F; exits 2 otherwise.
"""

import argparse
import sys
import time

import numpy as np
import threadpoolctl

from .cases import Workload, get_model

PATHS = ("simd", "avx512")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.interleave_paths", description=__doc__)
    p.add_argument("case", help="a model case of bench/cases.py, e.g. recipe-44k, standard-f16")
    p.add_argument("batch", type=int)
    p.add_argument("rounds", type=int)
    a = p.parse_args(argv)
    if a.batch < 1 or a.rounds < 1:
        p.error("batch and rounds must be at least 1")
    from fastdrum import _backends

    if "c" not in _backends.available():
        p.error("the compiled kernel is not built")
    from fastdrum._ext import _wavenet

    missing = sorted(set(PATHS) - set(_wavenet.gemm_paths()))
    if missing:
        p.error(f"this CPU lacks the kernel path(s) {missing}")
    threadpoolctl.threadpool_limits(1)
    model = get_model(a.case)
    steps = max(1, 4096 // a.batch)
    runs = {
        path: Workload("c", model, a.batch, 1, steps, a.rounds + 1, state_kwargs={"_gemm": path})
        for path in PATHS
    }
    for run in runs.values():  # one warm-up round each
        run()
    seconds = {path: [] for path in PATHS}
    for _ in range(a.rounds):
        for path, run in runs.items():
            t0 = time.perf_counter()
            run()
            seconds[path].append(time.perf_counter() - t0)
    for path in PATHS:
        s = np.array(seconds[path])
        print(
            f"{path}: median {steps * a.batch / np.median(s):,.0f} samples/s, "
            f"best {steps * a.batch / s.min():,.0f}"
        )
    ratio = np.array(seconds["avx512"]) / np.array(seconds["simd"])
    q25, q50, q75 = np.percentile(ratio, [25, 50, 75])
    print(f"avx512 / simd time per pair: median {q50:.3f} (quartiles {q25:.3f}-{q75:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
