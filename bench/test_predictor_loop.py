"""What format 7's loop costs today: ``fastdrum.generate()`` of a format-7 model (the predictor inside
the sampling loop, which only the NumPy reference runs) beside the same network as format 6 on the
NumPy reference and on the compiled kernel.

A format-7 model is fed the code of each decoded sample and of the next prediction at every step
(docs/format.md, "Format 7"), so the network and the predictor alternate a sample at a time:
:class:`fastdrum.predictor.Loop` does so around the reference's state. These cases time the recipe's
shape (``recipe-44k``) generating 0.05 s kicks, one thread (BLAS pinned), one group per batch size,
so one report gives the two ratios: the loop against the reference without it (what the loop adds)
and against the kernel (what a format-7 model gives up until the kernel runs the loop).
``extra_info["samples_per_s"]`` counts clip samples.
"""

import pytest

import fastdrum
from fastdrum import _backends
from fastdrum.testing import random_model

from .cases import RECIPE, RECIPE_CONFIG

SECONDS = 0.05
PREDICTOR = dict(order=256, window=4096, hop=256, gain=1.0)


@pytest.mark.parametrize(
    ("case", "loop", "backend"),
    [
        ("format 6, kernel", False, "c"),
        ("format 6, reference", False, "numpy"),
        ("format 7", True, "numpy"),
    ],
)
@pytest.mark.parametrize("batch", [1, 32])
def test_loop_cost(benchmark, batch, case, loop, backend):
    if backend == "c" and "c" not in _backends.available():
        pytest.skip("the compiled kernel is not built")
    model = random_model(**RECIPE_CONFIG, seed=0, predictor=PREDICTOR, loop=loop).round_weights()
    assert model.format_version == (7 if loop else 6)

    def run():
        return fastdrum.generate(
            model, batch, voice="kick", duration=SECONDS, seed=0, backend=backend
        )

    benchmark.group = f"predictor loop {RECIPE} batch={batch}"
    y = benchmark.pedantic(run, rounds=2, warmup_rounds=0)
    assert y.shape == (batch, round(SECONDS * model.sample_rate))
    samples = batch * y.shape[-1]
    median = benchmark.stats.stats.median if benchmark.stats else float("nan")
    benchmark.extra_info.update(
        backend=case, config=RECIPE, batch=batch, samples_per_s=samples / median
    )
