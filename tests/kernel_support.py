"""The compiled kernel's product and activation paths, shared by the kernel tests.

Products: "blas" (scipy's BLAS), "simd" (the AVX2 + FMA + F16C panels of _simd.h) and
"avx512" (the same panels in AVX-512F tiles, which must give "simd"'s results bit for bit).
Activations: "scalar" (libm) and "simd" (AVX2). PATHS pairs them: every pair of the first
two product paths, and the AVX-512 products with the AVX2 activations (the activations do
not depend on the product path, so the other pair would only repeat a case).
"""

import pytest

GEMM_PATHS = ["blas", "simd", "avx512"]
ACT_PATHS = ["scalar", "simd"]
PATHS = [(g, a) for g in ("blas", "simd") for a in ACT_PATHS] + [("avx512", "simd")]
#: The product paths that read packed panels and compute every element in one fixed order
#: (bit-identical whatever the rows are split into; binary16 storage possible).
PANEL_PATHS = ("simd", "avx512")


def need(wavenet, *paths):
    """Skip the test unless this CPU runs every kernel path named in `paths`."""
    have = wavenet.gemm_paths()
    if "simd" in paths and not wavenet.simd_available():
        pytest.skip("this CPU has no AVX2 + FMA + F16C")
    if "avx512" in paths and "avx512" not in have:
        pytest.skip("this CPU has no AVX-512F")
