"""The compiled kernel's product paths side by side: AVX-512F and AVX2 panels against scipy's BLAS.

The kernel chooses its path once per State: "avx512" (the AVX-512F tiles of
``_simd.h``) on a CPU with AVX-512F, else "simd" (its AVX2 + FMA + F16C
small-matrix products) whenever the CPU has those instructions, else "blas"
(scipy's ``cython_blas``). These cases force each path on the standard config,
float32 and float16-exact weights, one thread, so that one report shows what
the choice is worth (the evidence behind "auto" in the kernel's docstring;
figures in docs/benchmarks.md); a path the CPU lacks is skipped. Each case
checks what it generated against the definition of the network, as every case
of the suite."""

import pytest

from fastdrum import _backends

from .cases import BATCHES, ROUNDS, STANDARD_F16, STEPS, Workload, get_model
from .test_generate import plan, time_and_check


def _paths():
    if "c" not in _backends.available():
        return []
    from fastdrum._ext import _wavenet

    return _wavenet.gemm_paths()


@pytest.mark.parametrize("path", ["simd", "avx512", "blas"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("config", ["standard", STANDARD_F16])
def test_kernel_path(benchmark, config, batch, path, sgemm_gflops):
    if path not in _paths():
        pytest.skip(
            f"kernel path {path!r} unavailable here (kernel not built, or the CPU lacks it)"
        )
    steps, rounds, warmup = plan(benchmark, STEPS["c"][batch], ROUNDS["c"])
    model = get_model(config)
    w = Workload("c", model, batch, 1, steps, rounds + warmup, state_kwargs={"_gemm": path})
    assert w.state.gemm_path == path
    benchmark.group = f"kernel path {config} batch={batch}"
    # backend "c/<path>": the report lists these cases, never mistaking them for test_generate's
    benchmark.extra_info.update(
        backend=f"c/{path}",
        config=config,
        batch=batch,
        gemm_path=path,
        act_path=w.state.act_path,
        weight_dtype=w.state.weight_dtype,
        steps_per_round=steps,
    )
    time_and_check(benchmark, w, rounds, warmup, sgemm_gflops)
