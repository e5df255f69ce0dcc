"""Choose the kits held out for evaluation, from the real data alone: ``python -m training.holdout``.

The evaluation (training/evaluate.py) compares generated clips with the real
clips of whole kits that no model trains on. Its "hiss" figure is the median
share of energy above 5 kHz, and the kits differ in it by 30-40 dB within one
voice (an 808 emulation's kicks against a SoundFont's bright rock kicks). So a
held-out set of a few kits can sit far from the data a model learns from, and a
model that reproduces its training data exactly would still fail: the first
held-out set (five kits chosen for the classifier, before this figure existed)
put the held-out kicks 12 dB darker than the training kicks.

The rule here: hold out whole Hydrogen kits (``--min-kits`` to ``--max-kits``
of them, at least ``--min-clips`` clips of every voice held out) and, among
every such set, take the one whose held-out clips are *representative*: the
largest difference, over the voices, between the held-out and the remaining
clips' median share above 5 kHz is smallest (ties: the smaller sum over the
voices). It looks at real clips only, never at a model's output. The report
also gives, over every candidate set, how often a model that matched its
training data exactly would be within 3 dB of the held-out median for each voice.
"""

from __future__ import annotations

import itertools

import numpy as np


def gaps(values, held):
    """Per voice, the held-out median minus the remaining median (dB), or None if a voice has no held-out clip.

    `values` maps ``(voice, kit)`` to the figures of that kit's clips of that voice.
    """
    out = {}
    for v in sorted({v for v, _ in values}):
        h = [x for (vv, k), xs in values.items() if vv == v and k in held for x in xs]
        t = [x for (vv, k), xs in values.items() if vv == v and k not in held for x in xs]
        if not h or not t:
            return None
        out[v] = float(np.median(h) - np.median(t))
    return out


def candidates(values, kits, *, min_kits, max_kits, min_clips):
    """Every held-out set of `kits` (sizes `min_kits`..`max_kits`) with `min_clips` clips of every voice: ``(set, gaps)``."""
    voices = sorted({v for v, _ in values})
    for r in range(min_kits, max_kits + 1):
        for held in itertools.combinations(sorted(kits), r):
            held = set(held)
            n = {v: sum(len(values.get((v, k), ())) for k in held) for v in voices}
            if min(n.values()) < min_clips:
                continue
            g = gaps(values, held)
            if g is not None:
                yield held, g


def choose(values, kits, *, min_kits=4, max_kits=6, min_clips=3):
    """The most representative held-out set (see the module's docstring): ``(sorted kits, gaps, every candidate's gaps)``."""
    best, every = None, []
    for held, g in candidates(
        values, kits, min_kits=min_kits, max_kits=max_kits, min_clips=min_clips
    ):
        every.append(g)
        key = (max(abs(x) for x in g.values()), sum(abs(x) for x in g.values()), sorted(held))
        if best is None or key < best[0]:
            best = (key, sorted(held), g)
    if best is None:
        raise ValueError("no set of kits meets the constraints")
    return best[1], best[2], every


#: The held-out kits of the first conditioned run (chosen for the classifier, before the hiss figure).
FIRST_HOLDOUT = "Millo_MultiLayered3,VariBreaks,rumpf_kit_z01_h2,TR808EmulationKit,Millo-Drums_v.1"


def _values(sample_rate, kits, sf2_files):
    """``{(voice, kit): [share above 5 kHz, dB]}`` of every real clip, and the Hydrogen kits' names
    (``{folder or name: name}``)."""
    from .evaluate import hf_share_db
    from .voices import load_voice_clips

    clips, _, _ = load_voice_clips(
        sample_rate=sample_rate, kit_dirs=[kits], sf2_files=list(sf2_files)
    )
    values, hydrogen = {}, {}
    for c in clips:
        e = c.entry
        values.setdefault((e["voice"], e["kit"]), []).append(hf_share_db(c.audio, sample_rate))
        if e["source"] == "hydrogen":
            hydrogen[e["kit"]] = hydrogen[e["file"].split("/", 1)[0]] = e["kit"]
    return values, hydrogen


def _row(name, g, values, held):
    voices = sorted(g)
    n = [sum(len(values.get((v, k), ())) for k in held) for v in voices]
    cells = " | ".join(f"{g[v]:+.1f} ({c})" for v, c in zip(voices, n))
    return f"| {name} | {cells} | {max(abs(x) for x in g.values()):.1f} |"


def main(argv=None):
    """Choose the held-out kits and print the figures behind the choice (markdown)."""
    import argparse

    from .evaluate import DEFAULT_KITS, DEFAULT_SF2

    p = argparse.ArgumentParser(prog="python -m training.holdout", description=main.__doc__)
    p.add_argument("--kits", default=DEFAULT_KITS, help="folder of Hydrogen kits")
    p.add_argument(
        "--sf2",
        action="append",
        help="SoundFont files (training data only; default: AVL and Fluid)",
    )
    p.add_argument("--sample-rate", type=int, default=44100)
    p.add_argument("--min-kits", type=int, default=4)
    p.add_argument("--max-kits", type=int, default=6)
    p.add_argument(
        "--min-clips", type=int, default=3, help="held-out clips of every voice at least"
    )
    p.add_argument(
        "--compare",
        default=FIRST_HOLDOUT,
        help="a held-out set to show beside (default: the first run's)",
    )
    args = p.parse_args(argv)
    values, hydrogen = _values(args.sample_rate, args.kits, args.sf2 or DEFAULT_SF2)
    held, g, every = choose(
        values,
        set(hydrogen.values()),
        min_kits=args.min_kits,
        max_kits=args.max_kits,
        min_clips=args.min_clips,
    )
    voices = sorted(g)
    print(f"held-out kits: {','.join(held)}\n")
    print(
        "held-out median minus the remaining clips' median, share above 5 kHz, dB (held-out clips)\n"
    )
    print("| held-out set | " + " | ".join(voices) + " | largest |")
    print("|---|" + "---|" * (len(voices) + 1))
    print(_row("chosen", g, values, held))
    compare = {hydrogen.get(k, k) for k in args.compare.split(",") if k}
    cg = gaps(values, compare)
    if cg is not None:
        print(_row("compared", cg, values, compare))
    a = np.array([[abs(x[v]) for v in voices] for x in every])
    print(f"\nover all {len(every)} candidate sets, the share within 3 dB:")
    print("| " + " | ".join(voices) + " | every voice |")
    print("|" + "---|" * (len(voices) + 1))
    print(
        "| "
        + " | ".join(f"{m:.0%}" for m in (a <= 3).mean(0))
        + f" | {np.mean((a <= 3).all(1)):.2%} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
