"""Long run: generate millions of samples in one process and check that memory stays flat.

Generation is repeated, call after call, as a server or a kit builder would
do it, with the standard benchmark configuration (a random model: the weights
do not change the memory). RSS is read from /proc/self/status at the start
(model built, imports done), after every call, and at the end. The first
tenth of the calls is the warm-up: the allocator settles there (glibc raises
its mmap threshold after the first large frees, so later buffers come from
the heap and stay resident). The run fails if RSS grows by more than
``--max-growth-mib`` after the warm-up, or if any output is not finite audio
in [-1, 1].

Usage::

    python tools/longrun.py                      # 10 million samples, the C kernel
    python tools/longrun.py --backend numpy --samples 200000

With ``--backend auto`` the C kernel is used when built; otherwise the run
says so and falls back to a 200,000-sample run of the NumPy reference.
"""

import argparse
import json
import sys
import time

import numpy as np


def _status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))


def rss_mib():
    """Resident set size now (MiB)."""
    return _status("VmRSS")


def peak_rss_mib():
    """Peak resident set size of the process so far (MiB)."""
    return _status("VmHWM")


def run(
    samples,
    backend,
    *,
    clips_per_call=32,
    clip_duration=0.5,
    batch_size=32,
    n_threads=1,
    max_growth_mib=16.0,
    out=sys.stdout,
):
    """Generate at least `samples` samples; return a report dict (``ok`` says whether memory was flat)."""
    from threadpoolctl import threadpool_limits

    import fastdrum
    from fastdrum.testing import STANDARD_CONFIG, random_model

    model = random_model(**STANDARD_CONFIG, seed=0, sample_rate=16000)
    T = round(clip_duration * model.sample_rate)
    per_call = clips_per_call * T
    calls = max(2, -(-samples // per_call))
    warmup = max(1, calls // 10)
    report = {
        "backend": backend,
        "samples_requested": samples,
        "samples_per_call": per_call,
        "calls": calls,
        "warmup_calls": warmup,
        "batch_size": batch_size,
        "clip_samples": T,
        "n_threads": n_threads,
    }
    with threadpool_limits(limits=1):
        report["rss_start_mib"] = rss_mib()
        t0 = time.monotonic()
        trace = []
        bad = 0
        for i in range(calls):
            y = fastdrum.generate(
                model,
                clips_per_call,
                duration=clip_duration,
                seed=i,
                backend=backend,
                batch_size=batch_size,
                n_threads=n_threads,
            )
            if not (
                y.shape == (clips_per_call, T) and np.isfinite(y).all() and np.abs(y).max() <= 1.0
            ):
                bad += 1
            del y
            trace.append(rss_mib())
            if i == 0:
                report["rss_after_first_call_mib"] = trace[0]
            if i == warmup - 1:
                report["rss_after_warmup_mib"] = trace[-1]
                t_warm = time.monotonic()
            if (i + 1) % max(1, calls // 10) == 0 or i + 1 == calls:
                done = (i + 1) * per_call
                print(
                    f"{done:>11,d} samples  {time.monotonic() - t0:7.1f} s  RSS {trace[-1]:7.1f} MiB",
                    file=out,
                    flush=True,
                )
        elapsed = time.monotonic() - t0
    report.update(
        samples_generated=calls * per_call,
        seconds=round(elapsed, 1),
        samples_per_second=round(
            (calls - warmup) * per_call / max(time.monotonic() - t_warm, 1e-9)
        ),
        rss_end_mib=trace[-1],
        rss_max_after_warmup_mib=max(trace[warmup - 1 :]),
        peak_rss_mib=peak_rss_mib(),
        growth_after_warmup_mib=round(max(trace[warmup - 1 :]) - trace[warmup - 1], 2),
        rss_trace_mib=[round(r, 1) for r in trace[:: max(1, calls // 20)]] + [round(trace[-1], 1)],
        bad_outputs=bad,
    )
    report["ok"] = bad == 0 and report["growth_after_warmup_mib"] <= max_growth_mib
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help="samples to generate (default 10,000,000; 200,000 for the NumPy reference)",
    )
    parser.add_argument("--backend", default="auto", choices=["auto", "c", "numpy"])
    parser.add_argument("--clips-per-call", type=int, default=32)
    parser.add_argument("--clip-duration", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-growth-mib", type=float, default=16.0)
    args = parser.parse_args(argv)

    from fastdrum import _backends

    backend = args.backend
    if backend == "auto":
        if "c" in _backends.available():
            backend = "c"
        else:
            print(
                "the C kernel is not built: the 10-million-sample run cannot be done yet; "
                "running the NumPy reference on 200,000 samples instead"
            )
            backend = "numpy"
    samples = args.samples
    if samples is None:
        samples = 10_000_000 if backend == "c" else 200_000
    report = run(
        samples,
        backend,
        clips_per_call=args.clips_per_call,
        clip_duration=args.clip_duration,
        batch_size=args.batch_size,
        n_threads=args.threads,
        max_growth_mib=args.max_growth_mib,
    )
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
