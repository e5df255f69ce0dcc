"""What format 6's predictor costs: ``fastdrum.generate()`` end to end, plain and with a predictor.

A format-6 model's codes are a linear predictor's error (docs/format.md, "Format 6"); after the
kernel has drawn them, generate() runs the predictor on them (:func:`fastdrum.predictor.synthesise`:
a fit every hop, an all-pole filter a sample), one clip at a time. These cases time the recipe's
shape (``recipe-44k``, float16-exact weights) generating 0.25 s kicks through the compiled kernel,
as format 5 and with the predictor the trainer's ``--predictor-order 256`` writes (window 4096, hop
256), side by side, one group per batch size, one thread (BLAS pinned), so one report gives the
ratio. ``extra_info["samples_per_s"]`` counts clip samples; the speed goal (twice real time at
44.1 kHz, batch 1) is judged on it. Each case checks that the predictor changed the clips.
"""

import numpy as np
import pytest

import fastdrum
from fastdrum import _backends
from fastdrum.testing import random_model

from .cases import RECIPE, RECIPE_CONFIG

SECONDS = 0.25
PREDICTOR = dict(order=256, window=4096, hop=256, gain=1.0)


def _model(predictor):
    extra = (
        dict(predictor=PREDICTOR)
        if predictor
        else dict(output_filter=np.ones((len(RECIPE_CONFIG["voices"]), 1)))
    )
    return random_model(**RECIPE_CONFIG, seed=0, **extra).round_weights()


@pytest.mark.parametrize("predictor", [False, True])
@pytest.mark.parametrize("batch", [1, 32])
def test_predictor_cost(benchmark, batch, predictor):
    if "c" not in _backends.available():
        pytest.skip("the compiled kernel is not built")
    model = _model(predictor)
    assert model.format_version == (6 if predictor else 5)

    def run():
        return fastdrum.generate(model, batch, voice="kick", duration=SECONDS, seed=0, backend="c")

    benchmark.group = f"predictor {RECIPE} batch={batch}"
    y = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    plain = fastdrum.generate(
        _model(False), batch, voice="kick", duration=SECONDS, seed=0, backend="c"
    )
    # The same network and seed draw the same codes: the predictor is all that differs.
    assert np.allclose(y, plain) != predictor
    samples = batch * y.shape[-1]
    median = benchmark.stats.stats.median if benchmark.stats else float("nan")
    benchmark.extra_info.update(
        backend=f"c/predictor={predictor}",
        config=RECIPE,
        batch=batch,
        samples_per_s=samples / median,
    )
