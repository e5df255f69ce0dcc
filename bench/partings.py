"""Where the compiled kernel and the NumPy reference part on the same uniforms, and how often.

Usage (from the repository root; minutes on a quiet 2-core machine)::

    python -m bench.partings                        # every shipped voice, 1,000,000 draws each
    python -m bench.partings drums:kick --draws 200000 --json partings.json

A model is a shipped name (``kick``: a voice of a shipped conditioned model,
or a model file's name), a model file, or ``NAME:VOICE`` for one voice of a
conditioned model (``drums:snare``, ``path/to/model.npz:snare``). A
conditioned model named without a voice (``drums``) stands for all its
voices, one row each (``drums:kick``, ``drums:snare``, ...); with no model
named, every shipped model is measured that way: each voice of ``drums.npz``.

Both backends draw code ``q(t+1)`` by inverse-CDF sampling from
``softmax(logits(t) / temperature)``, cut off at ``epsilon`` (codes whose
probability is below it are removed; :func:`fastdrum._reference.sample`),
with the same uniform ``u``. Their logits agree to float32 rounding, not bit
for bit (different summation orders, the kernel's vectorised exp), so where
``u`` falls within that rounding of a boundary of the cumulative
distribution, or a code's probability within that rounding of the cutoff
(one backend keeps the code, the other removes it), the two can pick
different codes: the clip *parts*, and from there on each backend continues
its own clip.

How it is measured: the kernel generates clips (the model's or voice's
recommended temperature, epsilon and duration, resolved as
:func:`fastdrum.generate` resolves them; its training primers without noise,
else silence; of a conditioned model, the voice's primers, conditioned on
that voice; uniforms from ``numpy.random.default_rng(seed)``), recording its
logits; the reference is fed the kernel's codes (teacher forcing) and at
every generated step draws with the same uniform and epsilon from its own
logits. A *parting* is a step where the two draws differ: the rate at which a
free-running reference leaves the kernel's clip. Every parting is checked by
:func:`tie`; the script exits with status 1 if one is not at a tie.
"""

import argparse
import itertools
import json
import os
import sys

import numpy as np

__all__ = ["tie", "partings", "measure", "main"]

#: float32's machine epsilon: the rounding unit of every quantity the two backends compute.
EPS32 = float(np.finfo(np.float32).eps)
#: Steps per kernel call (the logits of one call are kept: batch x steps x Q floats).
CHUNK = 256
#: :func:`tie` tries every kept set the cutoff can give the kernel when at most this many codes
#: lie at the cutoff (2**MAX_NEAR_CUTOFF sets); with more, a parting is taken as a cutoff tie.
MAX_NEAR_CUTOFF = 10


def _p(logits, temperature):
    """Unnormalised probabilities exp(z - max z) of z = logits / temperature, as the backends
    compute them (float32), taken as float64; shape (Q,)."""
    z = np.asarray(logits, np.float32) / np.float32(temperature)
    return np.exp((z - z.max()).astype(np.float32)).astype(np.float64)


def _threshold(p, epsilon):
    """The cutoff min(epsilon * sum p, 1) of :func:`fastdrum._reference.sample` (0: no cutoff)."""
    return min(epsilon * float(p.sum()), 1.0) if epsilon > 0 else 0.0


def _cdf(p, kept):
    """Normalised cumulative distribution of `p` over the `kept` codes (bool (Q,)), float64."""
    c = np.cumsum(np.where(kept, p, 0.0))
    return c / c[-1]


def _drawn_under(c, kept, u, code, tol):
    """Whether a backend whose CDF is within `tol` of `c` (kept set `kept`) can draw `code` at u."""
    lower = c[code - 1] if code > 0 else 0.0
    return bool(kept[code]) and lower - tol <= u <= c[code] + tol


def tie(logits_kernel, logits_ref, u, temperature, code_kernel, code_ref, epsilon=0.0):
    """Whether two different draws from one step's logits happened at a tie.

    The kernel drew `code_kernel` from `logits_kernel`, the reference
    `code_ref` from `logits_ref` (shape (Q,) each), both with the uniform `u`
    and the cutoff `epsilon`. Each probability of one backend is the other's
    times ``exp(e)`` with ``|e| <= eps = 2 * delta / temperature`` plus
    float32 rounding (``delta``: the largest difference of the two logits),
    so each value of the normalised CDF over the same kept codes moves by at
    most ``tol = expm1(2 * eps)``. Two kinds of tie can make the draws differ:

    * **boundary** (``kind == "boundary"``): both backends keep the same
      codes; draws of different codes ``lo < hi`` are then only possible if
      the reference's CDF (over the codes it keeps) puts ``u`` within `tol`
      of the boundary ``cdf[lo]`` and gives the codes strictly between them
      less than `tol` of probability mass: the two codes are neighbours at
      float32 rounding.
    * **cutoff** (``kind == "cutoff"``, only with ``epsilon > 0``): the
      threshold ``min(epsilon * total, 1)`` is a sum of the p, so it too
      moves by a factor within ``exp(+-eps)``, and a code's ratio
      ``p / threshold`` by one within ``exp(+-2 * eps)``. The backends keep
      different codes only if for some code ``|p / threshold - 1| <= tol``
      (the same bound, now relative to the threshold; checked on the p of
      either backend's logits): those are the codes *at the cutoff*. The
      kernel's kept set is then the reference's with some of them flipped,
      its total and so its whole CDF differ, and the draws can differ far
      from any boundary. A parting is a cutoff tie if, for some non-empty
      set of codes at the cutoff flipped, the CDF over the resulting kept
      set (from the reference's p, so again within `tol` of the kernel's)
      lets the kernel draw `code_kernel` at ``u``, to within `tol`. With
      more than ``MAX_NEAR_CUTOFF`` codes at the cutoff, any parting is
      taken as a cutoff tie.

    A parting that is neither means the backends do not implement the same
    rule.

    Returns
    -------
    dict
        ``at_tie`` (bool), ``kind`` (``"boundary"``, ``"cutoff"`` or None),
        ``lo``, ``hi``, ``mass_between``, ``distance`` (``|u - cdf[lo]|``,
        on the reference's CDF), ``tol``, ``delta``, ``threshold`` (the
        reference's cutoff, 0 without one), ``cutoff_distance`` (the smallest
        ``|p / threshold - 1|`` of any code, either backend; None without a
        cutoff) and ``at_cutoff`` (the codes within `tol` of the cutoff).
    """
    lk = np.asarray(logits_kernel, np.float32)
    lr = np.asarray(logits_ref, np.float32)
    delta = float(np.max(np.abs(lk.astype(np.float64) - lr)))
    zmax = float(np.max(np.abs(lr))) / temperature
    eps = 2 * delta / temperature + 4 * EPS32 * (2 + zmax)
    tol = float(np.expm1(2 * eps))
    pr = _p(lr, temperature)
    th = _threshold(pr, epsilon)
    kept = pr >= th
    c = _cdf(pr, kept)
    lo, hi = sorted((int(code_kernel), int(code_ref)))
    mass_between = float(c[hi - 1] - c[lo]) if hi > lo + 1 else 0.0
    distance = abs(float(u) - float(c[lo]))
    boundary = lo != hi and mass_between <= tol and distance <= tol

    at_cutoff, cutoff_distance, cutoff = [], None, False
    if epsilon > 0:
        pk = _p(lk, temperature)
        rel = np.minimum(
            np.abs(pr / th - 1), np.abs(pk / _threshold(pk, epsilon) - 1)
        )  # th > 0: the largest p is exactly 1
        cutoff_distance = float(rel.min())
        at_cutoff = [int(k) for k in np.flatnonzero(rel <= tol)]
        if lo != hi and not boundary and at_cutoff:
            if len(at_cutoff) > MAX_NEAR_CUTOFF:
                cutoff = True
            else:
                for r in range(1, len(at_cutoff) + 1):
                    for flipped in itertools.combinations(at_cutoff, r):
                        other = kept.copy()
                        other[list(flipped)] ^= True
                        if other.any() and _drawn_under(
                            _cdf(pr, other), other, float(u), int(code_kernel), tol
                        ):
                            cutoff = True
                            break
                    if cutoff:
                        break
    return {
        "at_tie": boundary or cutoff,
        "kind": "boundary" if boundary else "cutoff" if cutoff else None,
        "lo": lo,
        "hi": hi,
        "mass_between": mass_between,
        "distance": distance,
        "tol": tol,
        "delta": delta,
        "threshold": th,
        "cutoff_distance": cutoff_distance,
        "at_cutoff": at_cutoff,
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


def partings(model, n, T, temperature, seed=0, batch_size=64, epsilon=0.0):
    """Generate `n` clips of `T` samples on the kernel; the reference draws beside it.

    Both draw at `temperature` with the cutoff `epsilon`.

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
            kernel.run(codes, P, uk, temperature, start, stop, logits_out=lk, epsilon=epsilon)
            ref.run(codes, T, uk, temperature, start, stop, logits_out=lr)  # teacher forced
            for t in range(max(start, P - 1), stop):
                j = t - start
                drawn = _reference.sample(lr[:, j], u[:, t], temperature, epsilon)
                draws += B
                for i in np.flatnonzero(drawn != codes[:, t + 1]):
                    f = tie(
                        lk[i, j], lr[i, j], u[i, t], temperature, codes[i, t + 1], drawn[i], epsilon
                    )
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


def _split(name):
    """(model name or file, voice or None) of ``NAME``, a model file, or ``NAME:VOICE``."""
    if os.path.isfile(name) or ":" not in name:
        return name, None
    name, _, voice = name.rpartition(":")
    return name, voice


def _load(name):
    """The model `name` stands for (:func:`_split`), with its voice as its default voice."""
    import fastdrum

    path, voice = _split(name)
    model = fastdrum.load_model(path)
    return model.with_voice(voice) if voice is not None else model


def _expand(name):
    """`name`, or of a conditioned model named without a voice, ``name:VOICE`` for each voice."""
    model = _load(name)
    if model.voices and model.default_voice is None:
        return [f"{name}:{v}" for v in model.voices]
    return [name]


def _shipped_models():
    """What the script measures by default: every shipped model file, a conditioned one as
    ``NAME:VOICE`` for each of its voices (``drums:kick``, ...)."""
    from fastdrum.model import _shipped_files

    out = []
    for stem, _, voices in _shipped_files():
        out += [f"{stem}:{v}" for v in voices] if voices else [stem]
    return out


def measure(name, draws=1_000_000, seed=0, batch_size=64):
    """Partings of the model `name` over at least `draws` draws, as :func:`fastdrum.generate`
    draws by default: the voice's temperature and epsilon, else the model's, else 1 and 0.

    `name`: a shipped name, a model file or ``NAME:VOICE``; a conditioned model without a
    default voice is measured on its first voice (``main`` names each voice instead).
    """
    model = _load(name)
    if model.voices and model.default_voice is None:
        model = model.with_voice(_voice(model))
    # What generate() uses by default: the voice's settings, then the model's.
    defaults = model.generation_defaults
    temperature = float(defaults.get("temperature", 1.0))
    epsilon = float(defaults.get("epsilon", 0.0))
    duration = float(model.duration or 0.25)
    T = round(duration * model.sample_rate)
    P = _primers(model, 1).shape[1]
    n = -(-draws // (T - P))
    total, found = partings(
        model, n, T, temperature, seed=seed, batch_size=batch_size, epsilon=epsilon
    )
    parted = {f["clip"] for f in found}
    return {
        "model": name,
        "voice": model.default_voice,
        "temperature": temperature,
        "epsilon": epsilon,
        "clip_samples": T,
        "clips": n,
        "draws": total,
        "partings": len(found),
        "per_million_draws": 1e6 * len(found) / total,
        "clips_parted": len(parted),
        "all_at_ties": all(f["at_tie"] for f in found),
        "neighbours": sum(f["hi"] == f["lo"] + 1 for f in found),
        "cutoff_ties": sum(f["kind"] == "cutoff" for f in found),
        "found": found,
    }


def _table(rows):
    lines = [
        "| model | temperature | epsilon | clip samples | clips | draws | partings "
        "| per million draws | clips parted | cutoff ties | all at ties |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['temperature']} | {r['epsilon']} | {r['clip_samples']:,} | "
            f"{r['clips']} | {r['draws']:,} | {r['partings']} | {r['per_million_draws']:.1f} | "
            f"{r['clips_parted']} ({r['clips_parted'] / r['clips']:.1%}) | {r['cutoff_ties']} | "
            f"{'yes' if r['all_at_ties'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.partings", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "models",
        nargs="*",
        help="shipped names, model files or NAME:VOICE (a conditioned model without a voice: "
        "each of its voices; default: every voice of every shipped model)",
    )
    parser.add_argument("--draws", type=int, default=1_000_000, help="at least this many per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", help="write every parting found to this file")
    args = parser.parse_args(argv)

    models = [m for name in args.models for m in _expand(name)] or _shipped_models()
    rows = [measure(m, args.draws, args.seed, args.batch_size) for m in models]
    print(_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["all_at_ties"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
