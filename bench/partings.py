"""Where the compiled kernel and the NumPy reference part on the same uniforms, and how often.

Usage (from the repository root; minutes on a quiet 2-core machine)::

    python -m bench.partings                        # every shipped voice, 1,000,000 draws each
    python -m bench.partings kick --draws 200000 --json partings.json

Both backends draw code ``q(t+1)`` by inverse-CDF sampling from
``softmax(logits(t) / temperature)`` with the same uniform ``u``. Their logits
agree to float32 rounding, not bit for bit (different summation orders, the
kernel's vectorised exp), so where ``u`` falls within that rounding of a
boundary of the cumulative distribution, the two can pick neighbouring codes:
the clip *parts*, and from there on each backend continues its own clip.

How it is measured: the kernel generates clips (the model's recommended
temperature and duration, its training primers without noise, else silence;
of a conditioned model, its default voice's, conditioned on that voice;
uniforms from ``numpy.random.default_rng(seed)``), recording its logits; the
reference is fed the kernel's codes (teacher forcing) and at every generated
step draws with the same uniform from its own logits. A *parting* is a step
where the two draws differ: the rate at which a free-running reference leaves
the kernel's clip. Every parting is checked by :func:`tie`; the script exits
with status 1 if one is not at a tie.
"""

import argparse
import json
import sys

import numpy as np

__all__ = ["tie", "partings", "measure", "main"]

#: float32's machine epsilon: the rounding unit of every quantity the two backends compute.
EPS32 = float(np.finfo(np.float32).eps)
#: Steps per kernel call (the logits of one call are kept: batch x steps x Q floats).
CHUNK = 256


def _cdf(logits, temperature):
    """Normalised cumulative distribution of softmax(logits / temperature), float64, shape (Q,)."""
    z = np.asarray(logits, np.float32) / np.float32(temperature)
    p = np.exp((z - z.max()).astype(np.float32)).astype(np.float64)
    c = np.cumsum(p)
    return c / c[-1]


def tie(logits_kernel, logits_ref, u, temperature, code_kernel, code_ref):
    """Whether two different draws from one step's logits happened at a tie.

    The kernel drew `code_kernel` from `logits_kernel`, the reference
    `code_ref` from `logits_ref` (shape (Q,) each), both with the uniform `u`.
    Each probability of one backend is the other's times ``exp(e)`` with
    ``|e| <= eps = 2 * delta / temperature`` plus float32 rounding (``delta``:
    the largest difference of the two logits), so each value of the
    normalised CDF moves by at most ``tol = expm1(2 * eps)``. Draws of
    different codes ``lo < hi`` are then only possible if the reference's
    CDF puts ``u`` within `tol` of the boundary ``cdf[lo]`` and gives the
    codes strictly between them less than `tol` of probability mass: the two
    codes are neighbours at float32 rounding. A parting anywhere else means
    the backends do not implement the same rule.

    Returns
    -------
    dict
        ``at_tie`` (bool), ``lo``, ``hi``, ``mass_between``, ``distance``
        (``|u - cdf[lo]|``), ``tol``, ``delta``.
    """
    lk = np.asarray(logits_kernel, np.float32)
    lr = np.asarray(logits_ref, np.float32)
    delta = float(np.max(np.abs(lk.astype(np.float64) - lr)))
    zmax = float(np.max(np.abs(lr))) / temperature
    eps = 2 * delta / temperature + 4 * EPS32 * (2 + zmax)
    tol = float(np.expm1(2 * eps))
    c = _cdf(lr, temperature)
    lo, hi = sorted((int(code_kernel), int(code_ref)))
    mass_between = float(c[hi - 1] - c[lo]) if hi > lo + 1 else 0.0
    distance = abs(float(u) - float(c[lo]))
    return {
        "at_tie": lo != hi and mass_between <= tol and distance <= tol,
        "lo": lo,
        "hi": hi,
        "mass_between": mass_between,
        "distance": distance,
        "tol": tol,
        "delta": delta,
    }


def _primers(model, n):
    """(n, P) primer codes: the training primers generation draws from (cycled, no noise), else
    silence; of a conditioned model, those of its default voice."""
    from fastdrum._generate import _primer_pool
    from fastdrum.mulaw import silence_code

    primers = _primer_pool(model, model.voices.index(_voice(model)) if model.voices else None)
    if primers is not None and len(primers):
        return np.asarray(primers, np.int32)[np.arange(n) % len(primers)]
    return np.full((n, 1), silence_code(model.quantization_channels), np.int32)


def _voice(model):
    """The voice a conditioned model generates here: its default voice, else its first."""
    return model.default_voice or model.voices[0]


def _cond(model, batch):
    """The per-row conditioning bias of :func:`_voice` for a batch (None: not conditioned)."""
    if not model.voices:
        return None
    bias = model.conditioning(_voice(model))
    return np.ascontiguousarray(np.broadcast_to(bias, (batch,) + bias.shape))


def partings(model, n, T, temperature, seed=0, batch_size=64):
    """Generate `n` clips of `T` samples on the kernel; the reference draws beside it.

    Returns
    -------
    draws : int
        Generated steps compared (all clips).
    found : list of dict
        One per parting: ``clip``, ``t`` (the code drawn is ``q(t + 1)``),
        ``kernel``, ``reference``, ``u`` and the fields of :func:`tie`.
    """
    from fastdrum import _backends, _reference

    Kernel, Reference = _backends.get("c"), _backends.get("numpy")
    rng = np.random.default_rng(seed)
    primers = _primers(model, n)
    P = primers.shape[1]
    draws, found = 0, []
    for b0 in range(0, n, batch_size):
        B = min(batch_size, n - b0)
        codes = np.zeros((B, T), np.int32)
        codes[:, :P] = primers[b0 : b0 + B]
        u = rng.random((B, T - 1))
        cond = _cond(model, B)
        kernel, ref = Kernel(model, B, cond=cond), Reference(model, B, cond=cond)
        for start in range(0, T - 1, CHUNK):
            stop = min(start + CHUNK, T - 1)
            uk = np.ascontiguousarray(u[:, start:stop])
            lk = np.empty((B, stop - start, model.quantization_channels), np.float32)
            lr = np.empty_like(lk)
            kernel.run(codes, P, uk, temperature, start, stop, logits_out=lk)
            ref.run(codes, T, uk, temperature, start, stop, logits_out=lr)  # teacher forced
            for t in range(max(start, P - 1), stop):
                j = t - start
                drawn = _reference.sample(lr[:, j], u[:, t], temperature)
                draws += B
                for i in np.flatnonzero(drawn != codes[:, t + 1]):
                    f = tie(lk[i, j], lr[i, j], u[i, t], temperature, codes[i, t + 1], drawn[i])
                    found.append(
                        {
                            "clip": b0 + int(i),
                            "t": t,
                            "kernel": int(codes[i, t + 1]),
                            "reference": int(drawn[i]),
                            "u": float(u[i, t]),
                            **f,
                        }
                    )
    return draws, found


def measure(name, draws=1_000_000, seed=0, batch_size=64):
    """Partings of the model `name` (shipped name or file) over at least `draws` draws."""
    import fastdrum

    model = fastdrum.load_model(name)
    if model.voices and model.default_voice is None:
        model = model.with_voice(_voice(model))
    # What generate() uses by default: the voice's settings, then the model's.
    temperature = float(model.generation_defaults.get("temperature", 1.0))
    duration = float(model.duration or 0.25)
    T = round(duration * model.sample_rate)
    P = _primers(model, 1).shape[1]
    n = -(-draws // (T - P))
    total, found = partings(model, n, T, temperature, seed=seed, batch_size=batch_size)
    parted = {f["clip"] for f in found}
    return {
        "model": name,
        "temperature": temperature,
        "clip_samples": T,
        "clips": n,
        "draws": total,
        "partings": len(found),
        "per_million_draws": 1e6 * len(found) / total,
        "clips_parted": len(parted),
        "all_at_ties": all(f["at_tie"] for f in found),
        "neighbours": sum(f["hi"] == f["lo"] + 1 for f in found),
        "found": found,
    }


def _table(rows):
    lines = [
        "| model | temperature | clip samples | clips | draws | partings | per million draws "
        "| clips parted | all at ties |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['temperature']} | {r['clip_samples']} | {r['clips']} | "
            f"{r['draws']:,} | {r['partings']} | {r['per_million_draws']:.1f} | "
            f"{r['clips_parted']} ({r['clips_parted'] / r['clips']:.1%}) | "
            f"{'yes' if r['all_at_ties'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.partings", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "models", nargs="*", help="shipped names or model files (default: every shipped voice)"
    )
    parser.add_argument("--draws", type=int, default=1_000_000, help="at least this many per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", help="write every parting found to this file")
    args = parser.parse_args(argv)
    from fastdrum.model import _shipped_instruments

    models = args.models or _shipped_instruments()
    rows = [measure(m, args.draws, args.seed, args.batch_size) for m in models]
    print(_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["all_at_ties"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
