"""The same-seed contract across backends: the kernel and the reference part only at ties.

Within one backend a seed gives the same clips for any batch size and thread
count (tests/test_generate.py). Across backends the logits agree to float32
rounding only, so a clip can part where a uniform falls within that rounding
of a boundary of the cumulative distribution. Here uniforms are put exactly
on such boundaries (found from the reference's own distribution) to make the
backends part, and every parting found, forced or not, must be a tie in the
sense of ``bench.partings.tie``: neighbouring codes at float32 rounding. With
an epsilon cutoff a clip can also part where a code's probability lies within
that rounding of the cutoff (one backend keeps it, the other does not); here
the cutoff is put exactly on a code's probability to force such partings.
"""

import shutil

import numpy as np
import pytest
from conftest import TINY_DRUMS

import fastdrum
from bench.partings import _p, _primers, main, measure, partings, tie
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


def _cutoff_at(p, k):
    """The largest epsilon whose threshold, computed as ``_reference.sample`` computes it
    (``min(epsilon * total, 1)``), is at most p[k]: the reference keeps code k, just."""
    total = p[None].sum(axis=1, keepdims=True)[0, 0]
    epsilon = float(p[k] / total)
    while min(epsilon * total, 1.0) > p[k]:
        epsilon = float(np.nextafter(epsilon, 0.0))
    return epsilon


def test_tie_tells_a_cutoff_tie_from_a_parting_away_from_the_cutoff():
    """Logits whose code 3 sits exactly at the reference's cutoff; the kernel's logit of code 3
    one float32 rounding lower, so the kernel cuts it. The kept sets differ, the CDFs with them,
    and the draws part far from any boundary: a cutoff tie. The same partings without a code
    at the cutoff, or codes neither kept set draws at u, are not ties."""
    lr = np.log(np.float32([1.0, 1.0, 1.0, 0.25]))
    epsilon = _cutoff_at(_p(lr, 1.0), 3)
    lk = lr.copy()
    while _reference.sample(lk[None], [0.64], 1.0, epsilon)[0] == 2:  # kernel cuts code 3
        lk[3] = np.nextafter(lk[3], np.float32(-np.inf))
    assert abs(float(lk[3]) - float(lr[3])) < 1e-6  # float32 rounding apart
    # Reference keeps code 3: cdf 1/3.25, 2/3.25, 3/3.25, 1; the kernel does not: 1/3, 2/3, 1.
    assert _reference.sample(lr[None], [0.64, 0.95], 1.0, epsilon).tolist() == [2, 3]
    assert _reference.sample(np.stack([lk, lk]), [0.64, 0.95], 1.0, epsilon).tolist() == [1, 2]

    f = tie(lk, lr, 0.64, 1.0, 1, 2, epsilon)
    assert f["at_tie"] and f["kind"] == "cutoff" and f["at_cutoff"] == [3]
    assert f["distance"] > 0.02 > 1000 * f["tol"]  # far from the boundary between codes 1 and 2
    assert f["cutoff_distance"] <= f["tol"]
    g = tie(lk, lr, 0.95, 1.0, 2, 3, epsilon)  # the cut code itself is the reference's draw
    assert g["at_tie"] and g["kind"] == "cutoff"
    # The check can fail.
    assert not tie(lk, lr, 0.64, 1.0, 1, 2)["at_tie"]  # no cutoff: a parting off any boundary
    far = tie(lk, lr, 0.64, 1.0, 1, 2, epsilon / 3)  # threshold ~0.08, p of code 3 is 0.25
    assert not far["at_tie"] and far["kind"] is None and far["at_cutoff"] == []
    assert far["cutoff_distance"] > 0.5
    assert not tie(lk, lr, 0.64, 1.0, 0, 2, epsilon)["at_tie"]  # no kept set draws 0 at 0.64
    assert not tie(lk, lr, 0.2, 1.0, 1, 0, epsilon)["at_tie"]  # both kept sets draw 0 at 0.2
    assert tie(lr, lr, 2 / 3.25, 1.0, 1, 2, epsilon)["kind"] == "boundary"  # u on cdf[1]


@pytest.mark.parametrize("seed", [0, 1])
def test_forced_cutoff_ties_part_and_every_parting_is_a_tie(seed):
    """The compiled kernel beside the reference, one step at a time on the kernel's codes, with
    each step's epsilon put exactly on the reference's probability of its second most probable
    code: where the kernel's rounding puts that code on the other side of its own cutoff, the
    two keep different codes and part wherever u falls in the stretch their CDFs disagree."""
    model = random_model(seed=seed, quantization_channels=64, dilations=(1, 2, 4, 8), scale=2.0)
    rng = np.random.default_rng(seed)
    T, Q = 200, model.quantization_channels
    kernel, ref = _backends.get("c")(model, 1), _backends.get("numpy")(model, 1)
    codes = np.full((1, T), Q // 2, np.int32)
    lk, lr = np.empty((1, 1, Q), np.float32), np.empty((1, 1, Q), np.float32)
    found = []
    for t in range(T - 1):
        ref.run(codes, T, np.zeros((1, 1)), TEMPERATURE, t, t + 1, logits_out=lr)  # no draw
        epsilon = _cutoff_at(_p(lr[0, 0], TEMPERATURE), int(np.argsort(lr[0, 0])[-2]))
        u = rng.random(1)
        kernel.run(codes, 1, u[:, None], TEMPERATURE, t, t + 1, logits_out=lk, epsilon=epsilon)
        drawn = _reference.sample(lr[:, 0], u, TEMPERATURE, epsilon)
        if drawn[0] != codes[0, t + 1]:
            found.append(
                tie(lk[0, 0], lr[0, 0], u[0], TEMPERATURE, codes[0, t + 1], drawn[0], epsilon)
            )
    cutoff = [f for f in found if f["kind"] == "cutoff"]
    assert len(cutoff) >= 5, f"only {len(cutoff)} cutoff ties in {T - 1} forced steps"
    assert all(f["at_tie"] for f in found), [f for f in found if not f["at_tie"]][:3]
    tol = max(f["tol"] for f in cutoff)
    assert max(f["distance"] for f in cutoff) > 1000 * tol  # not at a boundary: the old check fails


def test_measure_draws_with_the_voices_epsilon(tmp_path, monkeypatch):
    """A voice's epsilon (meta["voices"]) is what both backends draw with: the row reports it,
    the kernel's clips are those a kernel run with that epsilon makes from the same primers,
    conditioning and uniforms (and not those of epsilon 0), and the reference, drawing beside
    it with the same epsilon, parts from it only at ties."""
    model = fastdrum.load_model(TINY_DRUMS)
    model.meta["voices"]["kick"]["epsilon"] = 0.05
    path = tmp_path / "tiny.npz"
    model.save(path)
    clips = []
    real_get = _backends.get

    def get(name):
        State = real_get(name)
        if name != "c":
            return State

        class Recording(State):
            def run(self, codes, *args, **kwargs):
                if not any(c is codes for c in clips):
                    clips.append(codes)
                return super().run(codes, *args, **kwargs)

        return Recording

    monkeypatch.setattr(_backends, "get", get)
    row = measure(f"{path}:kick", draws=600, batch_size=8)
    monkeypatch.undo()
    assert row["model"] == f"{path}:kick" and row["voice"] == "kick"
    assert (row["temperature"], row["epsilon"]) == (0.8, 0.05)
    assert row["all_at_ties"] and row["partings"] <= 2
    kick = fastdrum.load_model(path).with_voice("kick")
    T, n = row["clip_samples"], row["clips"]
    assert T == 320 and sum(len(c) for c in clips) == n == 2
    codes = np.concatenate(clips)
    P = _primers(kick, 1).shape[1]
    u = np.random.default_rng(0).random((n, T - 1))  # one batch: measure's uniforms
    bias = kick.conditioning("kick")
    cond = np.ascontiguousarray(np.broadcast_to(bias, (n,) + bias.shape))
    for epsilon, same in [(0.05, True), (0.0, False)]:
        again = np.zeros((n, T), np.int32)
        again[:, :P] = _primers(kick, n)
        _backends.get("c")(kick, n, cond=cond).run(again, P, u, 0.8, 0, T - 1, epsilon=epsilon)
        assert np.array_equal(again, codes) == same, epsilon


def test_main_names_every_voice_of_a_conditioned_model(shipped_folder, capsys, monkeypatch):
    """By default every voice of a shipped conditioned model is measured, rows ``drums:VOICE``; a
    conditioned model named without a voice (a file, or ``drums``) stands for all its voices;
    ``NAME:VOICE`` and a shipped voice's own name pick one; the table has an epsilon column."""
    import bench.partings

    shutil.copy(TINY_DRUMS, shipped_folder / "drums.npz")
    measured = []

    def fake(name, draws, seed, batch_size):
        measured.append(name)
        return {
            "model": name,
            "temperature": 1.0,
            "epsilon": 0.01,
            "clip_samples": 10,
            "clips": 1,
            "draws": 9,
            "partings": 0,
            "per_million_draws": 0.0,
            "clips_parted": 0,
            "all_at_ties": True,
            "cutoff_ties": 0,
        }

    monkeypatch.setattr(bench.partings, "measure", fake)
    voices = fastdrum.load_model(TINY_DRUMS).voices
    assert main([]) == 0
    assert measured == [f"drums:{v}" for v in voices]
    assert "| epsilon |" in capsys.readouterr().out
    measured.clear()
    assert main([str(TINY_DRUMS), "drums:snare", "kick", "drums"]) == 0
    assert measured == (
        [f"{TINY_DRUMS}:{v}" for v in voices]
        + ["drums:snare", "kick"]
        + [f"drums:{v}" for v in voices]
    )
