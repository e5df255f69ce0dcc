"""Shared fixtures: every API test runs on each generation backend."""

import numpy as np
import pytest

from fastdrum import _backends

#: Tolerances written once, per dtype: (rtol, atol) for logits.
TOLERANCES = {np.float64: (1e-9, 1e-9), np.float32: (2e-4, 2e-4)}

ALL_BACKENDS = ["numpy", "c"]


@pytest.fixture(params=ALL_BACKENDS)
def backend(request):
    """The name of a generation backend; "c" fails loudly if the kernel is not built."""
    if request.param not in _backends.available():
        pytest.fail(f"backend {request.param!r} is not built: run `pip install -e .`")
    return request.param
