"""The same-seed contract across backends: the kernel and the reference part only at ties.

Within one backend a seed gives the same clips for any batch size and thread
count (tests/test_generate.py). Across backends the logits agree to float32
rounding only, so a clip can part where a uniform falls within that rounding
of a boundary of the cumulative distribution. Here uniforms are put exactly
on such boundaries (found from the reference's own distribution) to make the
backends part, and every parting found, forced or not, must be a tie in the
sense of ``bench.partings.tie``: neighbouring codes at float32 rounding.
"""

import shutil

import numpy as np
import pytest
from conftest import TINY_DRUMS

import fastdrum
from bench.partings import _primers, measure, partings, tie
from fastdrum import _backends, _reference
from fastdrum.testing import random_model

pytestmark = pytest.mark.skipif("c" not in _backends.available(), reason="kernel not built")

TEMPERATURE = 1.0


def _step_by_step(model, B, T, seed):
    """Kernel and reference side by side, one step at a time, on the kernel's codes. Even rows
    get a uniform exactly on a boundary of the reference's CDF (a forced tie), odd rows a
    random one. Returns (draws, partings as dicts of `tie` plus ``forced``)."""
    rng = np.random.default_rng(seed)
    Q = model.quantization_channels
    kernel, ref = _backends.get("c")(model, B), _backends.get("numpy")(model, B)
    codes = np.full((B, T), Q // 2, np.int32)
    lk, lr = np.empty((B, 1, Q), np.float32), np.empty((B, 1, Q), np.float32)
    draws, found = 0, []
    for t in range(T - 1):
        ref.run(codes, T, np.zeros((B, 1)), TEMPERATURE, t, t + 1, logits_out=lr)  # no draw
        u = rng.random(B)
        for i in range(0, B, 2):
            p = np.exp(lr[i, 0] - lr[i, 0].max()).astype(np.float64)
            cdf = np.cumsum(p) / p.sum()
            inner = np.flatnonzero((cdf > 0.05) & (cdf < 0.95))
            if inner.size:
                u[i] = cdf[rng.choice(inner)]
        kernel.run(codes, 1, u[:, None].copy(), TEMPERATURE, t, t + 1, logits_out=lk)
        drawn = _reference.sample(lr[:, 0], u, TEMPERATURE)
        draws += B
        for i in np.flatnonzero(drawn != codes[:, t + 1]):
            f = tie(lk[i, 0], lr[i, 0], u[i], TEMPERATURE, codes[i, t + 1], drawn[i])
            found.append(dict(f, forced=i % 2 == 0, t=t, row=int(i)))
    return draws, found


@pytest.mark.parametrize("seed", [0, 1])
def test_forced_ties_part_and_every_parting_is_a_tie(seed):
    model = random_model(seed=seed, quantization_channels=64, dilations=(1, 2, 4, 8))
    draws, found = _step_by_step(model, 8, 120, seed)
    assert draws == 8 * 119
    forced = [f for f in found if f["forced"]]
    assert len(forced) >= 5, f"only {len(forced)} partings at {draws // 2} forced ties"
    bad = [f for f in found if not f["at_tie"]]
    assert not bad, f"partings away from a tie: {bad[:3]}"
    assert all(f["hi"] == f["lo"] + 1 or f["mass_between"] <= f["tol"] for f in found)


def test_free_generation_partings_are_ties():
    """The measuring script's own loop (uniforms from a seed, nothing forced) on a model with
    wide logits: whatever partings it finds are ties, and its counts add up."""
    model = random_model(seed=3, quantization_channels=256, dilations=(1, 2, 4, 8, 16), scale=3.0)
    draws, found = partings(model, 16, 400, TEMPERATURE, seed=0, batch_size=8)
    assert draws == 16 * 399
    assert all(f["at_tie"] for f in found), [f for f in found if not f["at_tie"]][:3]
    assert all(f["kernel"] != f["reference"] for f in found)


def test_tie_rejects_a_parting_away_from_a_boundary():
    """The check can fail: different codes drawn from the same logits with a uniform in the
    middle of a code's interval, or two codes with probability mass between them."""
    logits = np.log(np.array([0.25, 0.25, 0.25, 0.25], np.float32))
    assert tie(logits, logits, 0.5, 1.0, 1, 2)["at_tie"]  # u on cdf[1] = 0.5
    assert not tie(logits, logits, 0.375, 1.0, 1, 2)["at_tie"]  # u inside code 1's interval
    assert not tie(logits, logits, 0.25, 1.0, 0, 2)["at_tie"]  # code 1's 0.25 lies between
    assert not tie(logits, logits, 0.5, 1.0, 2, 2)["at_tie"]  # no parting at all
    skewed = logits + np.float32([0, 0, 0.1, 0])  # logits 0.1 apart: a wide tie
    assert tie(skewed, logits, 0.52, 1.0, 1, 2)["at_tie"]
    assert not tie(logits, logits, 0.52, 1.0, 1, 2)["at_tie"]


def test_a_shipped_voice_is_measured_as_generate_makes_it(shipped_folder, monkeypatch):
    """A voice of a shipped conditioned model: its own temperature, clip length and primers, and
    both backends conditioned on it (not the bare network)."""
    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    made = []
    real_get = _backends.get

    def get(name):
        State = real_get(name)

        def make(model, batch_size, n_threads=1, cond=None):
            made.append((name, cond))
            return State(model, batch_size, n_threads=n_threads, cond=cond)

        return make

    monkeypatch.setattr(_backends, "get", get)
    row = measure("kick", draws=600, batch_size=8)
    kick = fastdrum.load_model("kick")
    assert row["temperature"] == kick.generation_defaults["temperature"] == 0.8  # the voice's
    assert row["clip_samples"] == round(kick.duration * kick.sample_rate) == 320
    assert row["all_at_ties"]
    assert {name for name, _ in made} == {"c", "numpy"}
    for _, cond in made:
        assert cond.shape[1:] == kick.conditioning("kick").shape
        np.testing.assert_array_equal(cond, np.broadcast_to(kick.conditioning("kick"), cond.shape))
    own = kick.primers[kick.primer_voices == kick.voices.index("kick")]
    np.testing.assert_array_equal(_primers(kick, len(own)), own)
