"""How the cost of a sample grows with the number of layers, at batch 1 on one thread.

The incremental generators (numpy, c) cost O(layers) a sample; the naive one
recomputes a receptive field of ``sum(dilations) + 2`` samples for each, so
its cost grows with layers times receptive field. Dilations cycle
1, 2, ..., 512 as in the standard config; R = D = 32, S = 128, Q = 256.
"""

import functools

import pytest

from fastdrum.testing import STANDARD_CONFIG, random_model

from .test_generate import run_case

LAYERS = (10, 20, 30, 40)
STEPS = {"naive": 2, "numpy": 128, "c": 1024}
ROUNDS = {"naive": 3, "numpy": 5, "c": 15}


@functools.cache
def layered_model(n_layers):
    config = dict(STANDARD_CONFIG, dilations=[2 ** (i % 10) for i in range(n_layers)])
    return random_model(**config, seed=0)


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("backend", list(STEPS))
def test_layers(benchmark, backend, layers, sgemm_gflops):
    benchmark.group = f"scaling layers: {backend} batch=1 threads=1"
    benchmark.extra_info["config"] = f"layers={layers}"
    w = run_case(
        benchmark,
        backend,
        layered_model(layers),
        1,
        1,
        STEPS[backend],
        ROUNDS[backend],
        sgemm_gflops,
    )
    assert w.model.n_layers == layers
