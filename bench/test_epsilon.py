"""What epsilon sampling's cutoff costs: the compiled kernel on the shipped shape with and without it.

The cutoff (``epsilon``, docs/format.md) adds one pass over the Q probabilities of every draw. These
cases time the recipe's shape (``recipe-44k``, float16-exact weights, time features) at epsilon 0 and
0.01 side by side, one group per batch size, one thread, so one report gives the ratio. Each case
checks its codes against the definition (:func:`fastdrum._reference.sample` with the same cutoff).
"""

import pytest

from fastdrum import _backends

from .cases import RECIPE, ROUNDS, STEPS, Workload, get_model
from .test_generate import plan, time_and_check


@pytest.mark.parametrize("epsilon", [0.0, 0.01])
@pytest.mark.parametrize("batch", [1, 32])
def test_epsilon_cost(benchmark, batch, epsilon, sgemm_gflops):
    if "c" not in _backends.available():
        pytest.skip("the compiled kernel is not built")
    steps, rounds, warmup = plan(benchmark, STEPS["c"][batch], ROUNDS["c"])
    model = get_model(RECIPE)
    w = Workload("c", model, batch, 1, steps, rounds + warmup, epsilon=epsilon)
    benchmark.group = f"epsilon cutoff {RECIPE} batch={batch}"
    # backend "c/epsilon=...": the report lists these cases apart from test_generate's
    benchmark.extra_info.update(
        backend=f"c/epsilon={epsilon}",
        config=RECIPE,
        batch=batch,
        epsilon=epsilon,
        steps_per_round=steps,
    )
    time_and_check(benchmark, w, rounds, warmup, sgemm_gflops)
