"""python -m training.compare: the shortfall table of evaluation JSON files, and its errors."""

import copy
import json
import os

import pytest

from training.compare import compare_table, main, read_rows

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
SHIPPED = os.path.join(DOCS, "evaluation-v2-grid13-seed0-shipped.json")
BASELINES = os.path.join(DOCS, "evaluation-v2-baselines-decay-time.json")


def _cells(table, first):
    line = next(x for x in table.splitlines() if x.startswith(f"| {first} |"))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def test_known_shortfalls(tmp_path):
    """A passing row is 0; the same row 9 dB too bright is 2 (one per 3 dB beyond the 3 dB band) and
    no longer passes; a row that recognises 20 points too few clips adds 1.5 (per 10 beyond 5)."""
    with open(SHIPPED, encoding="utf-8") as f:
        data = json.load(f)
    hihat = next(r for r in data["rows"] if r["voice"] == "hihat")
    assert hihat["pass"]
    bright = copy.deepcopy(hihat)
    bright["hf_db"] = hihat["hf_db_real"] + 9.0
    bright["recognised"] = hihat["recognised_real"] - 0.20
    bright["pass"] = False
    bright["source"] = "bright"
    path = tmp_path / "bright.json"
    path.write_text(json.dumps({"rows": [bright]}))
    table = compare_table([("ok", [hihat]), ("bright", read_rows(path)[0][1])])
    assert _cells(table, "hihat") == ["0.00", "3.50"]
    assert _cells(table, "passing") == ["hihat", "none"]


def test_files_and_baselines(capsys):
    """The shipped model's total is the figure docs/evaluation.md gives; each baseline of a file is a
    column of its own, and white noise falls short by more than ten times as much."""
    assert main([SHIPPED, BASELINES]) == 0
    table = capsys.readouterr().out
    head = _cells(table, "voice")
    assert head == [
        "evaluation-v2-grid13-seed0-shipped.json",
        "evaluation-v2-baselines-decay-time.json: baseline: noise",
        "evaluation-v2-baselines-decay-time.json: baseline: untrained",
    ]
    totals = [float(c.strip("*")) for c in _cells(table, "**total**")]
    assert totals[0] == pytest.approx(21.13, abs=0.005)
    assert min(totals[1:]) > 10 * totals[0]
    assert _cells(table, "passing") == ["hihat, crash, ride", "none", "none"]


@pytest.mark.parametrize("case", ["missing", "not_json", "no_rows", "row_lacks_figure"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case):
    path = tmp_path / "x.json"
    if case == "not_json":
        path.write_text("not json")
    elif case == "no_rows":
        path.write_text(json.dumps({"criteria": {}}))
    elif case == "row_lacks_figure":
        path.write_text(json.dumps({"rows": [{"voice": "kick", "source": "m", "pass": True}]}))
    before = sorted(os.listdir(tmp_path))
    assert main([SHIPPED, str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "x.json" in err[0] and "Traceback" not in captured.err
    assert captured.out == ""  # no partial table
    assert sorted(os.listdir(tmp_path)) == before
