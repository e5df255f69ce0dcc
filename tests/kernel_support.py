"""The compiled kernel's product and activation paths, shared by the kernel tests.

Products: "blas" (scipy's BLAS), "simd" (the AVX2 + FMA + F16C panels of _simd.h) and
"avx512" (the same panels in AVX-512F tiles, which must give "simd"'s results bit for bit).
Activations: "scalar" (libm) and "simd" (AVX2). PATHS pairs them: every pair of the first
two product paths, and the AVX-512 products with the AVX2 activations (the activations do
not depend on the product path, so the other pair would only repeat a case).
"""

import pytest

ACT_PATHS = ["scalar", "simd"]
PATHS = [(g, a) for g in ("blas", "simd") for a in ACT_PATHS] + [("avx512", "simd")]
#: The product paths that read packed panels and compute every element in one fixed order
#: (bit-identical whatever the rows are split into; binary16 storage possible).
PANEL_PATHS = ("simd", "avx512")


def need(wavenet, *paths):
    """Skip the test unless this CPU runs every kernel path named in `paths` ("simd" activations
    need what the "simd" products need: AVX2, FMA and F16C)."""
    missing = [p for p in PANEL_PATHS if p in paths and p not in wavenet.gemm_paths()]
    if missing:
        pytest.skip(f"this CPU cannot run the kernel path(s) {missing}")
