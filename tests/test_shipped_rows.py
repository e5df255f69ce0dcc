"""tools/shipped_rows.py: the shipped JSON with voices replaced, and README's lines of it."""

import json
import os
import re
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import shipped_rows  # noqa: E402

from training.errors import DataError  # noqa: E402
from training.tune import shortfall  # noqa: E402


def _readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


# The shipped JSON: the one README links as the shipped models' results (tests/test_readme.py).
SHIPPED = os.path.join(ROOT, re.search(r"\nResults: \[(docs/[^\]]+\.json)\]", _readme()).group(1))


def _shipped():
    with open(SHIPPED, encoding="utf-8") as f:
        return json.load(f)


def test_merge_replaces_the_voice_row_and_keeps_the_rest():
    base = _shipped()
    new = dict(base["rows"][0], mel_db=1.0)
    merged = shipped_rows.merge(base, [[new]])
    assert merged["rows"][0] == new
    assert merged["rows"][1:] == base["rows"][1:]
    assert merged["classifier"] == base["classifier"]
    assert base["rows"][0]["mel_db"] != 1.0  # the base is not changed


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(voice="cowbell"), "not in the base"),
        (dict(source="runs/clap-seed0.npz"), "evaluate the installed model"),
    ],
)
def test_merge_refuses_a_row_it_cannot_place(change, words):
    base = _shipped()
    with pytest.raises(DataError, match=words):
        shipped_rows.merge(base, [[dict(base["rows"][0], **change)]])


def test_merge_refuses_a_voice_replaced_twice():
    base = _shipped()
    with pytest.raises(DataError, match="twice"):
        shipped_rows.merge(base, [[base["rows"][0]], [base["rows"][0]]])


def test_readme_holds_the_lines_of_the_shipped_json():
    """README's table, post-processed line, pitch line, partials line and total are those of the
    JSON it links."""
    readme = _readme()
    data = _shipped()
    table, post, pitch, partials, _ = shipped_rows.readme_lines(data).split("\n\n")
    assert table in readme
    assert f"\n{post}\n" in readme
    assert f"\n{pitch}\n" in readme
    assert partials.startswith("partials that last") and f"\n{partials}\n" in readme
    total = sum(shortfall(r) for r in data["rows"])
    assert f"The shipped models' total shortfall is **{total:.2f}**" in readme


def test_main_writes_the_merge_and_refuses_an_existing_file(tmp_path, capsys):
    base = _shipped()
    new = tmp_path / "new.json"
    row = dict(base["rows"][0], mel_db=99.0)
    new.write_text(json.dumps(dict(base, rows=[row])))
    out = tmp_path / "out.json"
    assert shipped_rows.main([SHIPPED, str(new), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["rows"][0]["mel_db"] == 99.0
    assert "| 99.0 (" in capsys.readouterr().out
    assert shipped_rows.main([SHIPPED, str(new), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
