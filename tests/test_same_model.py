"""tools/same_model.py: two model files are the same model when every array is equal bit for bit and
the meta is equal but for the run's own paths and wall times."""

import os
import sys

import numpy as np
import pytest

import fastdrum

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
same_model = pytest.importorskip("same_model")

TINY_DRUMS = os.path.join(os.path.dirname(__file__), "data", "tiny_drums.npz")


def _variant(path, meta=None, **weights):
    """tiny_drums.npz with `weights` replaced and `meta` merged into its meta, saved at `path`."""
    base = fastdrum.load_model(TINY_DRUMS)
    fastdrum.Model(
        sample_rate=base.sample_rate,
        dilations=base.dilations,
        primers=base.primers,
        meta=dict(base.meta, **(meta or {})),
        preemphasis=base.preemphasis,
        voices=list(base.voices),
        primer_voices=base.primer_voices,
        time_tau=base.time_tau,
        time_block=base.time_block,
        **dict(base.weights, **weights),
    ).save(path)
    return str(path)


def test_a_model_is_the_same_as_its_copy(tmp_path, capsys):
    copy = _variant(tmp_path / "copy.npz")
    assert same_model.main([TINY_DRUMS, copy]) == 0
    assert "the same model" in capsys.readouterr().out


def test_one_weight_one_ulp_apart_is_another_model(tmp_path, capsys):
    w = fastdrum.load_model(TINY_DRUMS).weights["res_w"].copy()
    w.flat[3] = np.nextafter(w.flat[3], np.float32(np.inf))
    other = _variant(tmp_path / "other.npz", res_w=w)
    assert same_model.main([TINY_DRUMS, other]) == 1
    out = capsys.readouterr().out
    share = 1 / w.size
    assert f"array res_w: {share:.2%} of elements differ" in out
    assert "1 difference(s)" in out


def test_the_runs_own_paths_and_wall_times_do_not_count(tmp_path):
    base = fastdrum.load_model(TINY_DRUMS)
    config = dict(base.meta.get("config", {}), out="elsewhere.npz", run_dir="runs/x", resume=True)
    rerun = _variant(tmp_path / "rerun.npz", meta={"config": config, "training_seconds": 123.4})
    assert same_model.main([TINY_DRUMS, rerun]) == 0
    # ... unless asked: with another --ignore, the wall time is a difference like any other
    assert same_model.main([TINY_DRUMS, rerun, "--ignore", "config.*"]) == 1


def test_any_other_meta_difference_counts(tmp_path, capsys):
    base = fastdrum.load_model(TINY_DRUMS)
    voices = {v: dict(e) for v, e in base.meta["voices"].items()}
    first = base.voices[0]
    voices[first]["temperature"] = 0.123
    other = _variant(tmp_path / "tuned.npz", meta={"voices": voices})
    assert same_model.main([TINY_DRUMS, other]) == 1
    assert f"meta voices.{first}.temperature:" in capsys.readouterr().out


def test_an_option_newer_than_a_file_counts_only_off_its_default(tmp_path, capsys):
    """A rerun's config holds the options added since the older file was trained: at the trainer's
    default (the high-pass off) it is the same model, at any other value another one."""
    config = {"seed": 0, "steps": 10}
    old = _variant(tmp_path / "old.npz", meta={"config": config})
    off = _variant(tmp_path / "off.npz", meta={"config": dict(config, highpass_hz=0.0)})
    assert same_model.main([off, old]) == 0
    on = _variant(tmp_path / "on.npz", meta={"config": dict(config, highpass_hz=60.0)})
    assert same_model.main([old, on]) == 1
    assert "meta config.highpass_hz: only in B" in capsys.readouterr().out
    # an option whose default is None (a voice's own shelf corners) at None
    none = _variant(tmp_path / "none.npz", meta={"config": dict(config, voice_shelf_hz=None)})
    assert same_model.main([none, old]) == 0
    # a key no trainer option has counts whatever its value
    odd = _variant(tmp_path / "odd.npz", meta={"config": dict(config, no_such_option=None)})
    assert same_model.main([old, odd]) == 1


def test_a_file_that_is_not_a_model_exits_2_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    assert same_model.main([str(bad), TINY_DRUMS]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("same_model: error:") and "\n" not in err


def test_another_format_version_is_named_not_a_crash(tmp_path, capsys):
    """A model and its format-5 copy (an output filter added): the version, a scalar, is one of the
    differences named (a 0-d array has no byte view to compare)."""
    base = fastdrum.load_model(TINY_DRUMS)
    h = np.zeros((len(base.voices), 4), dtype=np.float32)
    h[:, 0] = 1.0
    path = str(tmp_path / "eq.npz")
    base.with_output_filter(h).save(path)
    assert same_model.main([TINY_DRUMS, path]) == 1
    out = capsys.readouterr().out
    assert "array format_version: " in out and "array output_filter: only in B" in out
