"""Generation speed of every backend, side by side: one group per model, batch size and thread count.

Each case times rounds of one continuing generation (the State is created
before timing), records samples/s, the real-time factor at the model's
sample rate and the achieved GFLOP/s, then checks the generated codes
against the definition of the network.
"""

import statistics

import pytest

from .cases import (
    DISABLED_STEPS,
    ROUNDS,
    STEPS,
    Case,
    Workload,
    cases,
    check_generation,
    get_model,
    unavailable_reason,
)


def throughput(per_round, seconds, flops_per_sample, sample_rate, sgemm_gflops, label=""):
    """The figures of a round of `seconds` that generated `per_round` samples (all rows)."""
    sps = per_round / seconds
    gflops = flops_per_sample * sps / 1e9
    return {
        f"samples_per_s{label}": sps,
        f"realtime_factor{label}": sps / sample_rate,
        f"gflops{label}": gflops,
        f"fraction_of_sgemm{label}": gflops / sgemm_gflops,
    }


def record(benchmark, w, sgemm_gflops, warmup):
    """Throughput figures into the benchmark's extra_info: from the median round, and the best
    (``_best``); and samples per CPU-second of the process from the median timed round
    (``samples_per_cpu_s``), which other jobs taking the cores hardly change."""
    stats = benchmark.stats.stats
    for label, seconds in (("", stats.median), ("_best", stats.min)):
        benchmark.extra_info.update(
            throughput(
                w.batch * w.steps,
                seconds,
                w.model.flops_per_sample,
                w.model.sample_rate,
                sgemm_gflops,
                label,
            )
        )
    benchmark.extra_info["sgemm_gflops"] = sgemm_gflops
    cpu = statistics.median(w.cpu_seconds[warmup:])
    benchmark.extra_info["cpu_seconds_median"] = cpu
    benchmark.extra_info["samples_per_cpu_s"] = w.batch * w.steps / cpu if cpu > 0 else None


def plan(benchmark, steps, rounds):
    """(steps, rounds, warmup) of a case: one warm-up round before the timed ones, or, with
    benchmarks disabled (a correctness run), one short untimed round."""
    if benchmark.disabled:
        return min(steps, DISABLED_STEPS), 1, 0
    return steps, rounds, 1


def time_and_check(benchmark, w, rounds, warmup, sgemm_gflops):
    """Time workload `w`'s rounds, check what it generated against the definition, record figures."""
    benchmark.pedantic(w, rounds=rounds, warmup_rounds=warmup)
    check_generation(w)
    if not benchmark.disabled:
        record(benchmark, w, sgemm_gflops, warmup)


def run_case(benchmark, backend, model, batch, threads, steps, rounds, sgemm_gflops):
    reason = unavailable_reason(backend)
    if reason:
        pytest.skip(f"backend {backend!r} unavailable: {reason}")
    steps, rounds, warmup = plan(benchmark, steps, rounds)
    w = Workload(backend, model, batch, threads, steps, rounds + warmup)
    benchmark.extra_info.update(
        backend=backend,
        batch=batch,
        threads=threads,
        steps_per_round=steps,
        sample_rate=model.sample_rate,
        flops_per_sample=model.flops_per_sample,
        layers=model.n_layers,
        receptive_field=model.receptive_field,
    )
    if backend == "tf":
        from .tf_backend import tf_threads

        benchmark.extra_info["tf_threads"] = tf_threads()
    time_and_check(benchmark, w, rounds, warmup, sgemm_gflops)
    return w


@pytest.mark.parametrize(
    "config,batch,threads,backend",
    [pytest.param(c.config, c.batch, c.threads, b, id=f"{c.id}-{b}") for c, b in cases()],
)
def test_generate(benchmark, config, batch, threads, backend, sgemm_gflops):
    case = Case(config, batch, threads)
    if benchmark.disabled and backend == "tf" and config != "standard" and batch != 1:
        # Each TensorFlow generator traces its step (1 to 2 s): keep the correctness run short.
        pytest.skip(
            "benchmarks disabled: the tf backend is checked on the standard config "
            "and at batch 1 only"
        )
    benchmark.group = case.group
    benchmark.extra_info["config"] = config
    run_case(
        benchmark,
        backend,
        get_model(config),
        batch,
        threads,
        STEPS[backend][batch],
        ROUNDS[backend],
        sgemm_gflops,
    )
