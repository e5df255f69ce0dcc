"""What format 7's loop costs: ``fastdrum.generate()`` of a format-7 model (the predictor inside
the sampling loop) on the compiled kernel and on the NumPy reference, beside the same network as
format 6 (the predictor run after the codes are drawn) on the kernel.

A format-7 model is fed the code of each decoded sample and of the next prediction at every step
(docs/format.md, "Format 7"), so the network and the predictor alternate a sample at a time: the
kernel decodes, fits (every hop: the autocorrelation of the last `window` samples by direct sums and
a Levinson recursion) and predicts inside its step; :class:`fastdrum.predictor.Loop` does so around
the reference's state. These cases time the recipe's shape (``recipe-44k``, float16-exact weights)
generating 0.25 s kicks, one thread (BLAS pinned), one group per batch size, so one report gives the
ratios. ``extra_info["samples_per_s"]`` counts clip samples; the speed goal (twice real time at
44.1 kHz, batch 1) is judged on it.
"""

import pytest

import fastdrum
from fastdrum import _backends
from fastdrum.testing import random_model

from .cases import RECIPE, RECIPE_CONFIG

SECONDS = 0.25
PREDICTOR = dict(order=256, window=4096, hop=256, gain=1.0)


@pytest.mark.parametrize(
    ("case", "loop", "backend"),
    [
        ("format 6, kernel", False, "c"),
        ("format 7, kernel", True, "c"),
        ("format 7, reference", True, "numpy"),
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
