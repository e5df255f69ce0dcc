"""Time-since-onset conditioning (format 2's time keys): the definition, the file, the reference."""

import json

import numpy as np
import pytest

import fastdrum
from fastdrum import _reference
from fastdrum.errors import ModelFormatError
from fastdrum.testing import random_model

TAU = [3.0, 20.0, 150.0]


def timed(seed=0, block=4, **kw):
    return random_model(
        dilations=[1, 2, 4, 1, 2, 4], seed=seed, time_tau=TAU, time_block=block, **kw
    )


def test_time_bias_is_the_definition():
    L, F, D2 = 2, 2, 3
    time_w = np.arange(L * F * D2, dtype=np.float32).reshape(L, F, D2)
    tau = np.array([10.0, 40.0], np.float32)
    for t, b in [(0, 0), (7, 0), (8, 8), (15, 8), (16, 16), (1000, 1000)]:
        phi = np.exp(-b / tau.astype(np.float64)).astype(np.float32)
        want = phi[0] * time_w[:, 0] + phi[1] * time_w[:, 1]
        np.testing.assert_allclose(_reference.time_bias(time_w, tau, 8, t), want, rtol=1e-6)
    # a known value: one feature, tau = block, one block in: exp(-1) times the weights
    np.testing.assert_allclose(
        _reference.time_bias(np.ones((1, 1, 2), np.float32), [64.0], 64, 64),
        [[np.exp(-1)] * 2],
        rtol=1e-6,
    )


@pytest.mark.parametrize("voices", [None, ("kick", "snare")])
def test_reference_forward_and_state_agree(voices):
    m = timed(voices=voices, instrument="kick")
    codes = np.random.default_rng(1).integers(0, 32, 50)
    cond = m.conditioning("snare") if voices else None
    full = _reference.forward(m._reference_weights(), codes, dtype=np.float64, cond=cond)
    st = _reference.State(
        m._reference_weights(), 1, dtype=np.float64, cond=None if cond is None else cond[None]
    )
    steps = np.stack([st.step(codes[t : t + 1])[0] for t in range(len(codes))])
    np.testing.assert_allclose(steps, full, rtol=1e-9, atol=1e-9)


def with_time_w(m, time_w):
    """`m` with other time weights."""
    a = {k: v for k, v in m._arrays().items() if k not in ("format_version", "meta")}
    return fastdrum.Model(**dict(a, time_w=time_w))


def test_time_weights_change_the_logits_and_zero_ones_do_not():
    m = timed()
    plain = random_model(dilations=[1, 2, 4, 1, 2, 4], seed=0)  # the same draws before time_w
    codes = np.random.default_rng(2).integers(0, 32, 40)
    zero = with_time_w(m, np.zeros_like(m.weights["time_w"]))
    base = plain.forward(codes)
    np.testing.assert_array_equal(zero.forward(codes), base)
    assert np.abs(m.forward(codes) - base).max() > 1e-2


def test_file_round_trip_and_version(tmp_path):
    m = timed(block=5)
    assert m.format_version == 2 and m.preemphasis == 0.0 and m.voices == ()
    assert "time_features=3" in repr(m)
    m.save(tmp_path / "m.npz")
    back = fastdrum.load_model(tmp_path / "m.npz")
    assert back.time_block == 5 and back.time_tau.dtype == np.float32
    np.testing.assert_array_equal(back.time_tau, TAU)
    np.testing.assert_array_equal(back.weights["time_w"], m.weights["time_w"])
    r = m.round_weights()
    np.testing.assert_array_equal(r.weights["time_w"], m.weights["time_w"])  # not rounded
    assert r.time_block == 5
    assert random_model(seed=0).time_tau is None and random_model(seed=0).time_block is None


def _arrays(m, **change):
    a = m._arrays()
    a.update(change)
    return {k: v for k, v in a.items() if v is not None}


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(time_w=None), "'time_w'.*go together"),
        (dict(time_tau=None, time_w=None), "'time_tau'.*go together"),
        (dict(time_tau=np.array([0.5, 20, 150], np.float32)), "'time_tau'.*lie in"),
        (dict(time_tau=np.array([np.nan, 20, 150], np.float32)), "'time_tau'.*lie in"),
        (dict(time_tau=np.array([3, 20, 2.0**25], np.float32)), "'time_tau'.*lie in"),
        (dict(time_tau=np.array([3, 20, 150], np.float64)), "'time_tau'.*float32"),
        (dict(time_tau=np.ones((1, 3), np.float32)), "'time_tau'.*1-D"),
        (dict(time_tau=np.ones(65, np.float32)), "'time_tau'.*1-D"),
        (dict(time_block=np.array(0)), "'time_block'.*lie in"),
        (dict(time_block=np.array(4.0)), "'time_block'.*integer"),
        (dict(time_w=np.zeros((6, 2, 12), np.float32)), "'time_w'.*shape"),
        (dict(time_w=np.full((6, 3, 12), np.inf, np.float32)), "'time_w'.*NaN or Inf"),
    ],
)
def test_loader_names_bad_time_keys(tmp_path, change, match):
    bad = _arrays(timed(), **change)
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ModelFormatError, match=match):
        fastdrum.load_model(tmp_path / "bad.npz")


def test_generate_on_the_numpy_backend_uses_time():
    m = timed(block=2)
    y = fastdrum.generate(m, 2, seed=0, duration=0.002, backend="numpy", temperature=0)
    zero = with_time_w(m, np.zeros_like(m.weights["time_w"]))
    z = fastdrum.generate(zero, 2, seed=0, duration=0.002, backend="numpy", temperature=0)
    assert y.shape == z.shape == (2, 32) and not np.array_equal(y, z)


def test_info_shows_the_time_conditioning(tmp_path, capsys):
    from fastdrum.cli import main

    timed(block=8).save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    assert "time since onset  3 features, tau 0.1875, 1.25, 9.375 ms, block 8" in out
    assert main(["info", "--json", str(tmp_path / "m.npz")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["time_constants_samples"] == TAU and info["time_block"] == 8


def test_model_card_states_the_time_conditioning():
    from training.model_card import render

    card = render(timed(block=8), "timed")
    assert "| time since the onset | 3 features exp(-t / tau), tau = 0.1875, 1.25, 9.375 ms" in card
    assert "updated every 8 samples" in card
