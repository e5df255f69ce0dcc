"""tools/matched_baselines.py: its command line (the tables it prints: docs/evaluation.md)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

pytest.importorskip("sklearn")
matched_baselines = pytest.importorskip("matched_baselines")


def test_an_unknown_baseline_exits_2_naming_it_before_anything_is_loaded(capsys):
    with pytest.raises(SystemExit) as exc:
        matched_baselines.main(["--baselines", "noise,hum"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown hum" in err and "enveloped-noise" in err
