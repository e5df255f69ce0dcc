"""What negative-voice guidance costs: the compiled kernel on the shipped shape with and without it.

Guidance (``negative_voice``, ``guidance``; docs/format.md) runs a second row per clip, conditioned on
the voice steered away from, and mixes the two rows' logits before the draw. These cases time the
recipe's shape (``recipe-44k``, float16-exact weights, time features) generating its first voice (the
kick), plain and steered away from the low tom at weight 0.5, side by side, one group per batch size (clips),
one thread, so one report gives the ratio. The throughput figures count clip samples (a guided clip's
two rows are one clip). Each case checks its codes against the definition.
"""

import pytest

from fastdrum import _backends

from .cases import RECIPE, ROUNDS, STEPS, Workload, get_model
from .test_generate import plan, time_and_check


@pytest.mark.parametrize("guidance", [None, 0.5])
@pytest.mark.parametrize("batch", [1, 32])
def test_guidance_cost(benchmark, batch, guidance, sgemm_gflops):
    if "c" not in _backends.available():
        pytest.skip("the compiled kernel is not built")
    steps, rounds, warmup = plan(benchmark, STEPS["c"][batch], ROUNDS["c"])
    model = get_model(RECIPE)
    w = Workload(
        "c",
        model,
        batch,
        1,
        steps,
        rounds + warmup,
        state_kwargs=None,
        negative=None if guidance is None else "tom_low",
        guidance=guidance,
    )
    benchmark.group = f"guidance {RECIPE} batch={batch}"
    benchmark.extra_info.update(
        backend=f"c/guidance={guidance}",
        config=RECIPE,
        batch=batch,
        guidance=guidance,
        steps_per_round=steps,
    )
    time_and_check(benchmark, w, rounds, warmup, sgemm_gflops)
