"""Library throughput: clips/s of ``fastdrum.library`` on a local Dask cluster of 1 and 2 workers.

Usage (from the repository root, on a quiet machine; needs ``fastdrum[scale]``)::

    python -m bench.library_throughput --workers 1,2,p1,p2 --n 256 --shard-size 32
    python -m bench.library_throughput --workers 1,2,4 --n 1024 --json bench/results/library.json

For each worker count ``N`` a fresh cluster (``fastdrum._library.local_cluster``: processes, one
thread each, BLAS pinned, the workers' profiler and the dashboard off) is started and timed, warmed up with one shard
per worker (imports, model loading), then timed over a whole library written to a new temporary
folder (deleted afterwards): the start-up is reported beside the run, not inside it. ``0`` is the
same library made in this process without Dask, BLAS pinned to one thread. ``pN`` runs the very
same shard tasks in ``N`` plain processes (``concurrent.futures``, no Dask): the machine's own
ceiling, which shows what share of a shortfall is Dask's and what share is the hardware's (two
busy cores run slower than one on many machines: shared caches, power limits, SMT siblings).

The scaling ratio is clips/s with N over clips/s with 1 of the same kind (issue 16's goal: at
least 1.8 with 2 Dask workers on a 2-core machine). The load average is printed beside each
figure: a figure taken beside other work is not a measurement of the library.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
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

    return fastdrum.library(
        out,
        args.voices,
        args.n,
        seed=args.seed,
        duration=args.duration,
        shard_size=args.shard_size,
        **kwargs,
    )


def _pool_run(out, args, pool):
    """The library's shards, run as plain tasks of `pool` (a process pool): what Dask runs, without Dask."""
    from fastdrum import _library

    params = _library._params(
        args.voices,
        args.n,
        seed=args.seed,
        temperature=None,
        duration=args.duration,
        shard_size=args.shard_size,
        format="flac",
    )
    out, old = _library._check_folder(out, params)
    _library._make_folder(out, params, old)
    specs = list(_library._shards(out, params))
    for _ in pool.map(_library._make_shard, specs):
        pass
    _library._finish(out, params)
    return {
        "clips": params["n_per_voice"] * len(params["voices"]),
        "manifest": os.path.join(out, _library.MANIFEST_FILE),
    }


def _start(kind, workers):
    """Start what runs the shards: ``(make(out, args), close(), seconds it took to start)``."""
    t0 = time.perf_counter()
    if kind == "dask":
        from distributed import Client

        from fastdrum._library import local_cluster

        cluster = local_cluster(workers, dashboard=False)
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()

        return (
            (lambda out, args: _library(out, args, client=client)),
            close,
            time.perf_counter() - t0,
        )
    if kind == "pool":
        os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn")
        )
        return (
            (lambda out, args: _pool_run(out, args, pool)),
            pool.shutdown,
            time.perf_counter() - t0,
        )
    return (lambda out, args: _library(out, args, workers=0)), (lambda: None), 0.0


def measure(workers, args):
    """One row of the table: the library of `args` made with `workers` (0: in process; "pN": N plain processes)."""
    from threadpoolctl import threadpool_limits

    kind = "pool" if str(workers).startswith("p") else ("dask" if int(workers) else "here")
    n = int(str(workers).lstrip("p"))
    tmp = tempfile.mkdtemp(prefix="fastdrum-bench-library-")
    close = None
    try:
        make, close, startup = _start(kind, n)
        warm = argparse.Namespace(**dict(vars(args), n=args.shard_size * max(n, 1)))
        load0 = _loadavg()
        with threadpool_limits(limits=1):
            make(os.path.join(tmp, "warm-up"), warm)
            t0 = time.perf_counter()
            result = make(os.path.join(tmp, "library"), args)
            seconds = time.perf_counter() - t0
        with open(result["manifest"], encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        samples = sum(round(r["duration"] * r["sample_rate"]) for r in rows)
    finally:
        if close is not None:
            close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "workers": workers if kind == "pool" else n,
        "kind": kind,
        "clips": result["clips"],
        "seconds": seconds,
        "startup_seconds": round(startup, 2),
        "clips_per_s": result["clips"] / seconds,
        "samples_per_s": round(samples / seconds),
        "loadavg_start": load0,
        "loadavg_end": _loadavg(),
    }


def _table(rows):
    base = {r["kind"]: r["clips_per_s"] for r in rows if str(r["workers"]).lstrip("p") == "1"}
    lines = [
        "| workers | clips | seconds | start-up s | clips/s | samples/s | vs 1 of its kind | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = base.get(r["kind"])
        ratio = f"{r['clips_per_s'] / b:.2f}x" if b and r["kind"] != "here" else "-"
        name = {"here": "0 (in process)", "pool": f"{r['workers']} (plain processes)"}.get(
            r["kind"], str(r["workers"])
        )
        lines.append(
            f"| {name} | {r['clips']} | {r['seconds']:.2f} | {r['startup_seconds']} | "
            f"{r['clips_per_s']:.1f} | {r['samples_per_s']:,} | {ratio} | "
            f"{r['loadavg_start']} -> {r['loadavg_end']} |"
        )
    return "\n".join(lines)


def main(argv=None):
    """Measure, print a markdown table, and optionally write JSON; returns 0."""
    p = argparse.ArgumentParser(
        prog="python -m bench.library_throughput", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--voices", default="kick,snare", help="comma-separated voices (default kick,snare)"
    )
    p.add_argument("--n", type=int, default=256, help="clips per voice (default 256)")
    p.add_argument(
        "--duration", type=float, default=None, help="seconds per clip (default: the models')"
    )
    p.add_argument("--shard-size", type=int, default=32, help="clips per shard (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--workers",
        default="0,1,2,p1,p2",
        help="comma-separated: N Dask workers, 0 in process, pN plain processes (default 0,1,2,p1,p2)",
    )
    p.add_argument(
        "--json", default=None, metavar="PATH", help="also write the rows and settings here"
    )
    args = p.parse_args(argv)
    args.voices = args.voices.split(",")
    counts = [w if w.startswith("p") else int(w) for w in args.workers.split(",")]
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
