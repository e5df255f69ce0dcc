"""Run the benchmark suite and write its report: JSON, a markdown table and a PNG plot.

Usage (from the repository root)::

    python -m bench.report                  # run the suite, then write the report
    python -m bench.report --no-run         # only (re)write the report from the JSON
    python -m bench.report -- -k standard   # arguments after -- go to pytest

The suite runs as ``pytest bench --benchmark-enable --benchmark-json=JSON``;
the report goes next to the JSON (default ``bench/results/latest.{json,md,png}``).
"""

import argparse
import json
import os
import subprocess
import sys

__all__ = ["main", "render_markdown", "plot", "load"]

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JSON = os.path.join(HERE, "results", "latest.json")

#: Kernel goals (issue 7): c at batch 1 vs numpy, c samples/s at batch 1, c at batch 32 vs sgemm.
GOAL_SPEEDUP_B1 = 50.0
GOAL_SPS_B1 = 64_000.0
GOAL_SGEMM_FRACTION_B32 = 0.60

COLUMNS = [("naive", 1), ("numpy", 1), ("tf", 1), ("c", 1), ("c", 2)]


def load(path):
    """The benchmark JSON, with one flat record per generation benchmark."""
    with open(path) as f:
        data = json.load(f)
    records = []
    for b in data["benchmarks"]:
        info = dict(b.get("extra_info", {}))
        info["group"] = b["group"]
        info["name"] = b["name"]
        info["min"] = b["stats"]["min"]
        info["median"] = b["stats"]["median"]
        info["rounds"] = b["stats"]["rounds"]
        records.append(info)
    return data, records


def sgemm_gflops(records, data):
    """The machine's single-thread sgemm GFLOP/s: test_sgemm's best round, else the session's."""
    for r in records:
        if r["name"].startswith("test_sgemm") and "gflops" in r:
            return r["gflops"]
    return data.get("machine_info", {}).get("fastdrum", {}).get("sgemm_gflops_session")


def _find(records, **want):
    for r in records:
        if "samples_per_s" in r and all(r.get(k) == v for k, v in want.items()):
            return r
    return None


def _fmt(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def _sig(x):
    """About 3 significant figures, with thousands separators."""
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _generate_records(records):
    return [r for r in records if r["name"].startswith("test_generate") and "samples_per_s" in r]


def _configs(records):
    seen = []
    for r in _generate_records(records):
        if r["config"] not in seen:
            seen.append(r["config"])
    return seen


def _machine(data, records, sgemm):
    m = data.get("machine_info", {})
    fd = m.get("fastdrum", {})
    cpu = fd.get("cpu", {})
    lines = ["## Machine", ""]
    cpu_desc = cpu.get("model_name") or m.get("cpu", {}).get("brand_raw") or m.get("processor")
    if cpu.get("family_model"):
        cpu_desc += f" ({cpu['family_model']})"
    lines.append(
        f"- CPU: {cpu_desc}; {fd.get('logical_cpus')} logical CPUs "
        f"({fd.get('usable_cpus')} usable), {cpu.get('mhz')} MHz, cache {cpu.get('cache_size')}, "
        f"SIMD: {cpu.get('simd')}"
    )
    for lib in fd.get("blas", []):
        lines.append(
            f"- BLAS: {lib.get('internal_api')} {lib.get('version')} ({lib.get('architecture')}, "
            f"{lib.get('threading_layer')}), pinned to {lib.get('num_threads')} thread: "
            f"`{os.path.basename(lib.get('filepath') or '')}`"
        )
    if sgemm:
        lines.append(
            f"- sgemm 512³ float32, 1 thread: **{sgemm:.1f} GFLOP/s** (best round of the run)"
        )
    versions = dict(fd.get("versions", {}))
    lines.append(
        "- Python "
        + str(m.get("python_version"))
        + ", "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
    )
    kernel = fd.get("kernel")
    if kernel:
        lines.append(
            f"- Kernel paths at the standard config: products `{kernel.get('gemm_path')}`, "
            f"activations `{kernel.get('act_path')}`, weights stored as `{kernel.get('weight_dtype')}` "
            f"(`{kernel.get('weight_dtype_f16')}` for standard-f16)"
        )
    else:
        lines.append("- Kernel: not built in this run (c cases skipped)")
    tf_threads = {tuple(r["tf_threads"]) for r in records if r.get("tf_threads")}
    if tf_threads:
        lines.append(
            f"- TensorFlow threads (intra-op, inter-op): {', '.join(map(str, sorted(tf_threads)))} "
            "(0 = TensorFlow's default, all cores)"
        )
    lines.append(
        f"- Load average at start / end: {fd.get('loadavg_start')} / {fd.get('loadavg_end')}"
    )
    commit = data.get("commit_info", {})
    lines.append(
        f"- Run: {data.get('datetime', '')[:19]} UTC, commit {str(commit.get('id'))[:10]}"
        f"{' (dirty tree)' if commit.get('dirty') else ''}"
    )
    return lines


#: The configs the goals are judged on, and how their rows are labelled.
GOAL_CONFIGS = (("standard", ""), ("standard-f16", ", float16-exact weights"))


def _goals(records, sgemm):
    lines = [
        "## Kernel goals (standard config, one thread)",
        "",
        "Measured on the median round, the best round in brackets; *CPU time*: from the process's "
        "CPU time in the median round instead of wall time (other jobs on the cores hardly change it). "
        "*Met* judges the median round. *float16-exact weights*: the standard config with its weight "
        "matrices rounded to float16 values (`Model.round_weights()`, as the shipped model's are); the "
        "kernel stores them as binary16, every backend computes in float32.",
        "",
        "| goal | target | measured | CPU time | met |",
        "|---|---|---|---|---|",
    ]
    header = len(lines)

    def cpu(r, f=lambda x: x):
        return f(r["samples_per_cpu_s"]) if r.get("samples_per_cpu_s") else None

    for config, label in GOAL_CONFIGS:
        num1 = _find(records, config=config, batch=1, threads=1, backend="numpy")
        c1 = _find(records, config=config, batch=1, threads=1, backend="c")
        c32 = _find(records, config=config, batch=32, threads=1, backend="c")
        if c1 and num1:
            s, sb = (
                c1["samples_per_s"] / num1["samples_per_s"],
                c1["samples_per_s_best"] / num1["samples_per_s_best"],
            )
            sc = cpu(c1) / cpu(num1) if cpu(c1) and cpu(num1) else None
            lines.append(
                f"| c vs numpy, batch 1{label} | {GOAL_SPEEDUP_B1:.0f}x | {s:.1f}x ({sb:.1f}x) | "
                f"{f'{sc:.1f}x' if sc else '–'} | {'yes' if s >= GOAL_SPEEDUP_B1 else 'no'} |"
            )
        if c1:
            s, sb = c1["samples_per_s"], c1["samples_per_s_best"]
            lines.append(
                f"| c samples/s, batch 1{label} | {GOAL_SPS_B1:,.0f} | {s:,.0f} ({sb:,.0f}) | "
                f"{_fmt(cpu(c1))} | {'yes' if s >= GOAL_SPS_B1 else 'no'} |"
            )
        if c32 and sgemm:
            f, fb = c32["gflops"] / sgemm, c32["gflops_best"] / sgemm
            fc = cpu(c32, lambda x, c32=c32: x * c32["flops_per_sample"] / 1e9 / sgemm)
            lines.append(
                f"| c GFLOP/s at batch 32 as a fraction of sgemm{label} | "
                f"{GOAL_SGEMM_FRACTION_B32:.0%} | "
                f"{c32['gflops']:.1f} GFLOP/s = {f:.0%} ({fb:.0%}) | {f'{fc:.0%}' if fc else '–'} | "
                f"{'yes' if f >= GOAL_SGEMM_FRACTION_B32 else 'no'} |"
            )
    if len(lines) == header:
        lines.append("| (no kernel results in this run) | | | | |")
    stream = next(
        (r for r in records if r["name"].startswith("test_weight_stream") and "passes_per_s" in r),
        None,
    )
    num1 = _find(records, config="standard", batch=1, threads=1, backend="numpy")
    c1 = _find(records, config="standard", batch=1, threads=1, backend="c")
    if stream and c1 and num1:
        need = GOAL_SPEEDUP_B1 * num1["samples_per_s"]
        lines += [
            "",
            f"Batch-1 ceiling with float32 weights: one pass over as many float32 weights as the "
            f"standard config's products hold ({stream['weights']:,}, numpy sgemv, 1 thread) ran "
            f"{stream['passes_per_s']:,.0f} passes/s (best round) = "
            f"{stream['passes_per_s'] / num1['samples_per_s']:.1f}x numpy's batch-1 samples/s. "
            f"A batch-1 step reads every weight once: the kernel's {c1['samples_per_s']:,.0f} samples/s "
            f"are {c1['samples_per_s'] / stream['passes_per_s']:.0%} of that pass rate, and "
            f"{GOAL_SPEEDUP_B1:.0f}x numpy ({need:,.0f}/s) would be "
            f"{need / stream['passes_per_s']:.2f}x it.",
        ]
    tf1 = _find(records, config="standard", batch=1, threads=1, backend="tf")
    if c1 and tf1:
        lines += [
            "",
            f"For scale: the original experiment generated about 640 samples/s on a GTX 1080 "
            f"(quoted, not measured here); its approach in TensorFlow 2 on this CPU made "
            f"{tf1['samples_per_s']:,.0f} samples/s at batch 1 in this run, the kernel "
            f"{c1['samples_per_s']:,.0f}.",
        ]
    return lines


#: Issue 12's speed goals for models at 44.1 kHz: batch 1 at least this many times real time on one
#: thread, batch 32 at least GOAL_SGEMM_FRACTION_B32 of sgemm.
GOAL_REALTIME_B1 = 2.0
GOAL_RATE = 44100


def _rate_goals(records, sgemm):
    """Issue 12's goals, on every benchmarked model at 44.1 kHz (the recipe's shape, shipped ones)."""
    lines = []
    for config in _configs(records):
        c1 = _find(records, config=config, batch=1, threads=1, backend="c")
        c32 = _find(records, config=config, batch=32, threads=1, backend="c")
        if not c1 or c1["sample_rate"] != GOAL_RATE:
            continue
        need = GOAL_REALTIME_B1 * c1["sample_rate"]
        s, sb = c1["samples_per_s"], c1["samples_per_s_best"]
        cpu1 = c1.get("samples_per_cpu_s")
        lines.append(
            f"| {config}: c samples/s, batch 1 | {need:,.0f} ({GOAL_REALTIME_B1:.0f}x real time) | "
            f"{s:,.0f} ({sb:,.0f}) = {s / c1['sample_rate']:.2f}x | {_fmt(cpu1)} | "
            f"{'yes' if s >= need else 'no'} |"
        )
        if c32 and sgemm:
            f, fb = c32["gflops"] / sgemm, c32["gflops_best"] / sgemm
            lines.append(
                f"| {config}: c at batch 32 as a fraction of sgemm | {GOAL_SGEMM_FRACTION_B32:.0%} | "
                f"{c32['gflops']:.1f} GFLOP/s = {f:.0%} ({fb:.0%}) | – | "
                f"{'yes' if f >= GOAL_SGEMM_FRACTION_B32 else 'no'} |"
            )
    if not lines:
        return []
    return [
        "## Speed goals at 44,100 Hz (issue 12, one thread)",
        "",
        "On every benchmarked model at 44,100 Hz: `recipe-44k` is the shape `training/ship_models.sh` "
        "trains, with random float16-exact weights. Median round, best in brackets.",
        "",
        "| goal | target | measured | CPU time | met |",
        "|---|---|---|---|---|",
        *lines,
        "",
    ]


def _throughput(records, sgemm):
    lines = []
    for config in _configs(records):
        any_r = next(r for r in _generate_records(records) if r["config"] == config)
        lines += [
            f"## Samples/s: {config} (L={any_r['layers']}, receptive field {any_r['receptive_field']}, "
            f"{any_r['flops_per_sample']:,} FLOP a sample, {any_r['sample_rate']:,} Hz)",
            "",
            "Median round, all rows of the batch counted. c×1 / c×2: the kernel on 1 / 2 threads. "
            "RTF: real-time factor of c×1 at the model's rate.",
            "",
            "| batch | naive | numpy | tf | c×1 | c×2 | c×1 / numpy | c×1 / tf | c×1 RTF "
            "| c×1 GFLOP/s | c×1 % sgemm |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        batches = sorted({r["batch"] for r in _generate_records(records) if r["config"] == config})
        for batch in batches:
            cells = [
                _find(records, config=config, batch=batch, threads=t, backend=b) for b, t in COLUMNS
            ]
            sps = [c["samples_per_s"] if c else None for c in cells]
            numpy_, tf_, c1 = sps[1], sps[2], sps[3]
            c1r = cells[3]
            row = [str(batch)] + [_sig(s) for s in sps]
            row.append(f"{c1 / numpy_:.1f}x" if c1 and numpy_ else "–")
            row.append(f"{c1 / tf_:.0f}x" if c1 and tf_ else "–")
            row.append(f"{c1r['realtime_factor']:.1f}" if c1r else "–")
            row.append(f"{c1r['gflops']:.1f}" if c1r else "–")
            row.append(f"{c1r['gflops'] / sgemm:.0%}" if c1r and sgemm else "–")
            lines.append("| " + " | ".join(row) + " |")
        lines += [
            "",
            "Samples per CPU-second of the process, median round (c×2 counts both threads' CPU time):",
            "",
            "| batch | naive | numpy | tf | c×1 | c×2 | c×1 / numpy |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for batch in batches:
            cells = [
                _find(records, config=config, batch=batch, threads=t, backend=b) for b, t in COLUMNS
            ]
            cps = [c.get("samples_per_cpu_s") if c else None for c in cells]
            row = [str(batch)] + [_sig(x) for x in cps]
            row.append(f"{cps[3] / cps[1]:.1f}x" if cps[3] and cps[1] else "–")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return lines


def _scaling(records):
    rows = [r for r in records if r["name"].startswith("test_layers") and "samples_per_s" in r]
    if not rows:
        return []
    layers = sorted({r["layers"] for r in rows})
    lines = [
        "## Scaling with the number of layers (batch 1, one thread, median round)",
        "",
        "Time per sample. Incremental generators should grow linearly with layers (µs per layer "
        "steady); the naive one with layers × receptive field (ns per layer·RF steady).",
        "",
        "| layers | receptive field | naive µs | numpy µs | c µs | naive ns / (layer·RF) "
        "| numpy µs / layer | c µs / layer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in layers:

        def us(backend, n=n):
            r = next((r for r in rows if r["layers"] == n and r["backend"] == backend), None)
            return (1e6 / r["samples_per_s"], r["receptive_field"]) if r else (None, None)

        (naive, rf1), (numpy_, rf2), (c, rf3) = us("naive"), us("numpy"), us("c")
        rf = rf1 or rf2 or rf3
        lines.append(
            f"| {n} | {rf} | {_sig(naive)} | {_sig(numpy_)} | {_sig(c)} | "
            f"{_sig(naive * 1e3 / (n * rf)) if naive else '–'} | "
            f"{_sig(numpy_ / n) if numpy_ else '–'} | {f'{c / n:.3f}' if c else '–'} |"
        )
    lines.append("")
    return lines


def _details(records, sgemm):
    lines = [
        "## Every case",
        "",
        "Times are per round (State creation not timed; each round continues the same generation).",
        "",
        "| group | backend | rounds | steps/round | min s | median s | samples/s (best) "
        "| RTF | GFLOP/s | % sgemm |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        if "samples_per_s" not in r:
            continue
        lines.append(
            f"| {r['group']} | {r['backend']} | {r['rounds']} | {r['steps_per_round']} | {r['min']:.4f} | "
            f"{r['median']:.4f} | {_sig(r['samples_per_s'])} ({_sig(r['samples_per_s_best'])}) | "
            f"{r['realtime_factor']:.2f} | {r['gflops']:.2f} | "
            f"{(r['gflops'] / sgemm if sgemm else r['fraction_of_sgemm']):.1%} |"
        )
    return lines


def render_markdown(data, records):
    """The report as markdown text."""
    sgemm = sgemm_gflops(records, data)
    lines = [
        "# fastdrum generation benchmarks",
        "",
        "Written by `python -m bench.report` from the JSON beside this file. The machine is shared "
        "(2 cores, other jobs such as training may run): absolute timings are noisy, compare ratios "
        "within one run. BLAS is pinned to one thread (threadpoolctl, numpy's and scipy's OpenBLAS); "
        "TensorFlow to one intra-op and one inter-op thread. All cases sample at temperature 1 "
        "and check their codes against `Model.forward`.",
        "",
    ]
    lines += _machine(data, records, sgemm) + [""]
    lines += _goals(records, sgemm) + [""]
    lines += _rate_goals(records, sgemm)
    lines += _throughput(records, sgemm)
    lines += _scaling(records)
    lines += _details(records, sgemm)
    skipped = data.get("machine_info", {}).get("fastdrum", {}).get("skipped")
    if skipped:
        lines += ["", "## Skipped", ""] + [f"- `{s}`" for s in skipped]
    return "\n".join(lines) + "\n"


#: Line colour of each backend in the plots.
_COLORS = {"naive": "tab:gray", "numpy": "tab:blue", "tf": "tab:orange", "c": "tab:green"}


def plot(records, path):
    """samples/s against batch size per backend, and µs a sample against layers; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    _plot_throughput(ax1, records)
    _plot_depth(ax2, records)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _log_log_axes(ax, xticks, **labels):
    """Log-log axes with `labels` (xlabel, ylabel, title), `xticks` (if any) in plain numbers, a grid."""
    from matplotlib import ticker

    ax.set(xscale="log", yscale="log", **labels)
    if xticks:
        ax.set_xticks(xticks)
    ax.get_xaxis().set_major_formatter(ticker.ScalarFormatter())
    ax.get_xaxis().set_minor_formatter(ticker.NullFormatter())
    ax.grid(True, which="both", alpha=0.3)


def _plot_throughput(ax, records):
    """samples/s against batch size: a line per config, backend and thread count; real time marked."""
    styles = ["-", "--", ":", "-."]
    gen = _generate_records(records)
    for i, config in enumerate(_configs(records)):
        for backend, threads in COLUMNS:
            pts = sorted(
                (r["batch"], r["samples_per_s"])
                for r in gen
                if r["config"] == config and r["backend"] == backend and r["threads"] == threads
            )
            if not pts:
                continue
            x, y = zip(*pts)
            label = f"{backend}{f' ×{threads}' if backend == 'c' else ''} ({config})"
            ax.plot(
                x,
                y,
                styles[i % len(styles)],
                marker="o" if threads == 1 else "s",
                color=_COLORS[backend],
                alpha=1.0 if threads == 1 else 0.6,
                label=label,
            )
    rates = sorted({r["sample_rate"] for r in gen})
    for rate in rates:
        ax.axhline(rate, color="k", lw=0.6, ls=":")
        ax.text(1, rate, f" real time at {rate} Hz", va="bottom", fontsize=7)
    _log_log_axes(
        ax,
        sorted({r["batch"] for r in gen}) or [1],
        xlabel="batch size",
        ylabel="samples/s (median round)",
        title="Generation throughput",
    )
    ax.legend(fontsize=7, ncol=2)


def _plot_depth(ax, records):
    """µs a sample (batch 1) against layers per backend, beside a line of slope 1 (cost ∝ layers)."""
    rows = [r for r in records if r["name"].startswith("test_layers") and "samples_per_s" in r]
    for backend in ("naive", "numpy", "c"):
        pts = sorted(
            (r["layers"], 1e6 / r["samples_per_s"]) for r in rows if r["backend"] == backend
        )
        if pts:
            x, y = zip(*pts)
            ax.plot(x, y, marker="o", color=_COLORS[backend], label=backend)
    if rows:
        # Slope 1 on log-log axes is cost proportional to layers (the incremental generators);
        # the naive generator's slope is about 2 (layers x receptive field).
        lo, hi = min(r["layers"] for r in rows), max(r["layers"] for r in rows)
        ref = [r for r in rows if r["backend"] == "c" and r["layers"] == lo] or rows[:1]
        y0 = 1e6 / ref[0]["samples_per_s"]
        ax.plot([lo, hi], [y0, y0 * hi / lo], color="k", lw=0.8, ls=":", label="∝ layers")
    _log_log_axes(
        ax,
        sorted({r["layers"] for r in rows}),
        xlabel="layers (dilations 1..512 cycled)",
        ylabel="µs per sample (batch 1)",
        title="Cost against depth (log-log: slope 1 is linear)",
    )
    if rows:
        ax.legend(fontsize=8)


def run_suite(json_path, pytest_args=()):
    """``pytest bench --benchmark-enable --benchmark-json=json_path``; returns pytest's exit code."""
    root = os.path.dirname(HERE)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "bench",
        "-p",
        "no:cacheprovider",
        "--benchmark-enable",
        f"--benchmark-json={json_path}",
        "--benchmark-sort=name",
        "--benchmark-columns=min,median,rounds",
        *pytest_args,
    ]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=root)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "json", nargs="?", default=DEFAULT_JSON, help="benchmark JSON (default %(default)s)"
    )
    parser.add_argument(
        "--no-run", action="store_true", help="do not run the suite; report the existing JSON"
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    args = parser.parse_args(argv)
    json_path = os.path.abspath(args.json)
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    if not args.no_run:
        code = run_suite(json_path, args.pytest_args)
        if code != 0:
            print(f"pytest exited with {code}; not writing the report", file=sys.stderr)
            return code
    data, records = load(json_path)
    stem = os.path.splitext(json_path)[0]
    with open(stem + ".md", "w") as f:
        f.write(render_markdown(data, records))
    plot(records, stem + ".png")
    print(f"wrote {stem}.md and {stem}.png", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
