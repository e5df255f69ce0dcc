"""``python -m training.compare A.json B.json ...``: the shortfall of evaluation runs, voice by voice.

Each file is the ``--json`` output of ``python -m training.evaluate``; each model or baseline in it is
a column. The table gives, for every voice, each column's distance to passing the criteria
(:func:`training.tune.shortfall`: 0 for a voice that passes), then the total and the voices that
pass: the figures by which docs/evaluation.md compares runs of the recipe. Raw rows only (the
post-processed figures inside each row are not judged).
"""

import json
import os
import sys

from .errors import DataError
from .tune import shortfall

__all__ = ["read_rows", "shortfalls", "compare_table", "main"]

#: Larger files are not evaluation output (the largest in docs/ is under 20 KB).
MAX_BYTES = 16 * 1024 * 1024


def read_rows(path):
    """``[(source, rows), ...]``: the raw rows of one ``training.evaluate --json`` file, grouped by the
    model or baseline they judge, in order; :class:`DataError` naming the file when it is missing, not
    JSON, too large or not evaluation output."""
    name = os.fspath(path)
    try:
        if os.path.getsize(name) > MAX_BYTES:
            raise DataError(f"{name}: larger than {MAX_BYTES} bytes, not evaluation output")
        with open(name, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise DataError(f"{name}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{name}: not JSON ({exc})") from None
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise DataError(f"{name}: no 'rows' list (not the output of training.evaluate --json)")
    groups = {}
    for r in rows:
        try:
            shortfall(r)
            r["voice"], r["pass"]
        except (KeyError, TypeError) as exc:
            raise DataError(f"{name}: a row lacks a figure of the criteria ({exc})") from None
        groups.setdefault(str(r.get("source", "")), []).append(r)
    return list(groups.items())


def shortfalls(rows):
    """``{voice: shortfall}`` of one file's rows."""
    return {r["voice"]: shortfall(r) for r in rows}


def compare_table(named_rows):
    """The markdown table of ``[(name, rows), ...]``: one row per voice (in the first file's order,
    then any voice the first lacks), one column per file; then the total and the voices passing."""
    cols = [(name, shortfalls(rows), rows) for name, rows in named_rows]
    voices = []
    for _, s, _ in cols:
        voices += [v for v in s if v not in voices]
    lines = ["| voice | " + " | ".join(name for name, _, _ in cols) + " |"]
    lines.append("|---" * (len(cols) + 1) + "|")
    for v in voices:
        cells = [f"{s[v]:.2f}" if v in s else "" for _, s, _ in cols]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines.append(
        "| **total** | " + " | ".join(f"**{sum(s.values()):.2f}**" for _, s, _ in cols) + " |"
    )
    passing = [", ".join(r["voice"] for r in rows if r["pass"]) or "none" for _, _, rows in cols]
    lines.append("| passing | " + " | ".join(passing) + " |")
    return "\n".join(lines)


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m training.compare", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "files",
        nargs="+",
        help="training.evaluate --json files (each model or baseline in a file is a column)",
    )
    args = p.parse_args(argv)
    named = []
    try:
        for f in args.files:
            groups = read_rows(f)
            base = os.path.basename(f)
            named += [
                (base if len(groups) == 1 else f"{base}: {src}", rows) for src, rows in groups
            ]
    except DataError as exc:
        print(f"python -m training.compare: error: {exc}", file=sys.stderr)
        return 2
    print(compare_table(named))
    return 0


if __name__ == "__main__":
    sys.exit(main())
