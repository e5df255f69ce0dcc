"""The shipped models' evaluation JSON with some voices' rows replaced, and the README's lines of it.

When one voice's model is replaced, the shipped JSON (README's "Results:" link) is the previous one
with that voice's row taken from ``python -m training.evaluate VOICE -n 100 --seed 0 --post --json
NEW.json`` on the installed file; the other rows are unchanged. From the repository root::

    PYTHONPATH=. python tools/shipped_rows.py docs/OLD.json NEW.json ... -o docs/SHIPPED.json

writes the merged JSON (refusing an existing file) and prints what README.md takes from it: the
quality table, the post-processed line, the pitch line, the partials line and the total shortfall
(:func:`training.tune.shortfall` summed over the voices). Without ``-o`` it only prints, from the
merge. A replacing row must come from the shipped file its voice plays from (its ``source``, as
``training.evaluate`` records it for an installed model: the voice's name, or ``drums``), and name a
voice the base has.
"""

import argparse
import json
import os
import sys

from fastdrum import FastDrumError, _io
from training.compare import read_rows
from training.errors import DataError
from training.evaluate import persistence_line, pitch_line, table
from training.tune import shortfall
from training.voices import VOICES

__all__ = ["merge", "post_line", "readme_lines", "main"]


def _load(path):
    read_rows(path)  # checks it is evaluation output, with a clear error
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def merge(base, replacements):
    """`base` (a ``training.evaluate --json`` dict) with each row of `replacements` (lists of rows)
    in place of the base's row of its voice; :class:`DataError` if a voice is not in the base, is
    replaced twice, or a row's source is not a shipped file's (the voice's name or ``drums``)."""
    rows = [dict(r) for r in base["rows"]]
    index = {r["voice"]: i for i, r in enumerate(rows)}
    seen = set()
    for new in replacements:
        for r in new:
            v = r["voice"]
            if v not in index:
                raise DataError(f"voice {v!r} is not in the base's rows")
            if v in seen:
                raise DataError(f"voice {v!r} is replaced twice")
            if r.get("source") not in (v, "drums"):
                raise DataError(
                    f"the {v} row's source is {r.get('source')!r}: evaluate the installed model "
                    f"(python -m training.evaluate {v} ...), whose source is the shipped file's"
                )
            seen.add(v)
            rows[index[v]] = r
    return dict(base, rows=rows)


def post_line(rows):
    """README's line of the post-processed figures: above 5 kHz, below 30 Hz, decay, recognised."""
    cells = [
        f"{r['voice']} {r['post']['hf_db']:.1f}, {r['post']['lf_db']:.1f}, "
        f"{r['post']['decaying']:.0%}, {r['post']['recognised']:.0%}"
        for r in rows
        if "post" in r
    ]
    return "above 5 kHz / below 30 Hz / decay / recognised: " + "; ".join(cells) + "."


def readme_lines(data):
    """The README's table, post-processed line, pitch line, partials line and total of a shipped
    JSON's rows."""
    rows = sorted(data["rows"], key=lambda r: VOICES.index(r["voice"]))
    total = sum(shortfall(r) for r in rows)
    per = ", ".join(f"{r['voice']} {shortfall(r):.2f}" for r in rows)
    return "\n\n".join(
        [
            table(rows, readme=True),
            post_line(rows),
            pitch_line(rows),
            persistence_line(rows),
            f"total shortfall {total:.2f} ({per})",
        ]
    )


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python tools/shipped_rows.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("base", help="the shipped models' evaluation JSON so far")
    p.add_argument("new", nargs="*", help="training.evaluate --json files of the replaced voices")
    p.add_argument("-o", "--out", help="write the merged JSON here (refused if it exists)")
    args = p.parse_args(argv)
    try:
        if args.out and os.path.exists(args.out):
            raise DataError(f"{args.out}: exists; name a new file")
        merged = merge(_load(args.base), [_load(f)["rows"] for f in args.new])
    except DataError as exc:
        print(f"python tools/shipped_rows.py: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        try:
            with _io.atomic_file(args.out) as tmp, open(tmp, "w", encoding="utf-8") as f:
                json.dump(merged, f, indent=1)
        except FastDrumError as exc:  # the file appeared since the check above
            print(f"python tools/shipped_rows.py: error: {exc}", file=sys.stderr)
            return 2
    print(readme_lines(merged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
