"""Library throughput: clips/s of ``fastdrum.library`` on a local Dask cluster of 1 and 2 workers.

Usage (from the repository root, on a quiet machine; needs ``fastdrum[scale]``)::

    python -m bench.library_throughput                     # kick,snare; 256 clips each; workers 0, 1, 2
    python -m bench.library_throughput --workers 1,2,4 --n 1024 --json bench/results/library.json

For each worker count a fresh ``LocalCluster`` is started (processes, one
thread each: the nanny sets OPENBLAS_NUM_THREADS=1 in them), warmed up with one
shard per worker (imports, model loading), then timed over a whole library
written to a new temporary folder (deleted afterwards). ``0`` workers is the
same library made in this process without Dask, with BLAS pinned to one thread:
the baseline that shows Dask's own cost. The scaling ratio is clips/s with N
workers over clips/s with 1 (issue 16's goal: at least 1.8 with 2 workers on a
2-core machine). The load average is printed beside each figure: a figure
taken beside other work is not a measurement of the library.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

__all__ = ["measure", "main"]


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _library(out, args, **kwargs):
    import fastdrum

    return fastdrum.library(out, args.voices, args.n, seed=args.seed, duration=args.duration,
                            shard_size=args.shard_size, **kwargs)


def measure(workers, args):
    """One row of the table: the library of `args` made with `workers` local workers (0: in process)."""
    from threadpoolctl import threadpool_limits

    tmp = tempfile.mkdtemp(prefix="fastdrum-bench-library-")
    cluster = client = None
    try:
        kwargs = {"workers": 0}
        if workers:
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0")
            client = Client(cluster)
            kwargs = {"client": client}
        warm = argparse.Namespace(**dict(vars(args), n=args.shard_size * max(workers, 1)))
        load0 = _loadavg()
        with threadpool_limits(limits=1):
            _library(os.path.join(tmp, "warm-up"), warm, **kwargs)
            t0 = time.perf_counter()
            result = _library(os.path.join(tmp, "library"), args, **kwargs)
            seconds = time.perf_counter() - t0
        with open(result["manifest"], encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        samples = sum(round(r["duration"] * r["sample_rate"]) for r in rows)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"workers": workers, "clips": result["clips"], "seconds": seconds,
            "clips_per_s": result["clips"] / seconds, "samples_per_s": round(samples / seconds),
            "loadavg_start": load0, "loadavg_end": _loadavg()}


def _table(rows):
    base = next((r["clips_per_s"] for r in rows if r["workers"] == 1), None)
    lines = ["| workers | clips | seconds | clips/s | samples/s | vs 1 worker | load avg |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['clips_per_s'] / base:.2f}x" if base and r["workers"] else "-"
        name = "0 (in process)" if r["workers"] == 0 else str(r["workers"])
        lines.append(f"| {name} | {r['clips']} | {r['seconds']:.2f} | {r['clips_per_s']:.1f} | "
                     f"{r['samples_per_s']:,} | {ratio} | {r['loadavg_start']} -> {r['loadavg_end']} |")
    return "\n".join(lines)


def main(argv=None):
    """Measure, print a markdown table, and optionally write JSON; returns 0."""
    p = argparse.ArgumentParser(prog="python -m bench.library_throughput", description=__doc__.split("\n")[0])
    p.add_argument("--voices", default="kick,snare", help="comma-separated voices (default kick,snare)")
    p.add_argument("--n", type=int, default=256, help="clips per voice (default 256)")
    p.add_argument("--duration", type=float, default=None, help="seconds per clip (default: the models')")
    p.add_argument("--shard-size", type=int, default=32, help="clips per shard (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", default="0,1,2", help="comma-separated worker counts (default 0,1,2)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the rows and settings here")
    args = p.parse_args(argv)
    args.voices = args.voices.split(",")
    counts = [int(w) for w in args.workers.split(",")]
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "workers")}
    print(f"library of {settings} on {os.cpu_count()} CPUs", file=sys.stderr)
    rows = [measure(w, args) for w in counts]
    print(_table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"settings": settings, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
