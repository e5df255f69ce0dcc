"""tools/graft_any.py: a model given the 'any' voice another run fitted to its network."""

import os
import sys

import numpy as np
import pytest

import fastdrum

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
graft_any = pytest.importorskip("graft_any")

TINY_DRUMS = os.path.join(os.path.dirname(__file__), "data", "tiny_drums.npz")


def _fitted(base, emb_row, preemphasis=None, integration=None, **weights):
    """BASE's network with an 'any' voice of embedding `emb_row` (and `weights` changed), as a run of
    --voice-dropout 1 --train-only voice_emb exports it."""
    meta = dict(base.meta, voices=dict(base.meta["voices"]))
    meta["voices"]["any"] = {"duration": 0.1}
    meta["config"] = dict(base.meta.get("config", {}), learning_rate=0.003)
    meta.update(steps_trained=7, training_seconds=1.5, manifest_sha256="0" * 64)
    arrays = dict(base.weights, **weights)
    arrays["voice_emb"] = np.concatenate([base.weights["voice_emb"], emb_row[None]])
    return fastdrum.Model(
        sample_rate=base.sample_rate,
        dilations=base.dilations,
        primers=base.primers,
        meta=meta,
        preemphasis=base.preemphasis if preemphasis is None else preemphasis,
        integration=base.integration if integration is None else integration,
        voices=list(base.voices) + ["any"],
        primer_voices=base.primer_voices,
        time_tau=base.time_tau,
        time_block=base.time_block,
        **arrays,
    )


def test_graft_keeps_the_base_and_adds_the_fitted_voice(tmp_path):
    base = fastdrum.load_model(TINY_DRUMS)
    row = np.linspace(-0.1, 0.1, base.weights["voice_emb"].shape[1]).astype(np.float32)
    fitted_path = tmp_path / "fitted.npz"
    _fitted(base, row).save(fitted_path)
    out = tmp_path / "out.npz"
    assert graft_any.main([TINY_DRUMS, str(fitted_path), str(out)]) == 0
    got = fastdrum.load_model(out)
    assert got.voices == base.voices + ("any",)
    np.testing.assert_array_equal(got.weights["voice_emb"][-1], row)
    for k, w in base.weights.items():
        np.testing.assert_array_equal(got.weights[k][: len(w)], w)
    # its meta is the base's (its data, its tuned settings), with the voice and the fitting's record
    assert {k: v for k, v in got.meta.items() if k not in ("voices", "any_voice")} == {
        k: v for k, v in base.meta.items() if k != "voices"
    }
    longest = max(e["duration"] for e in base.meta["voices"].values())
    assert got.meta["voices"]["any"] == {
        "duration": longest
    }  # tiny_drums has no decay conditioning
    assert got.meta["any_voice"]["steps"] == 7 and got.meta["any_voice"]["learning_rate"] == 0.003
    for v in base.voices:  # the base's voices play what they played
        np.testing.assert_array_equal(
            fastdrum.generate(got, 2, voice=v, seed=1, duration=0.01),
            fastdrum.generate(base, 2, voice=v, seed=1, duration=0.01),
        )


def test_graft_keeps_a_format5_bases_output_filter(tmp_path):
    """The base's filters stay its voices'; 'any' gets the unit impulse (it plays unfiltered)."""
    plain = fastdrum.load_model(TINY_DRUMS)
    h = np.random.default_rng(4).standard_normal((len(plain.voices), 8)) * 0.2
    h[:, 0] = 1.0
    base_path = tmp_path / "base.npz"
    plain.with_output_filter(h).save(base_path)
    base = fastdrum.load_model(base_path)
    row = np.linspace(-0.1, 0.1, base.weights["voice_emb"].shape[1]).astype(np.float32)
    fitted_path = tmp_path / "fitted.npz"
    _fitted(plain, row).save(fitted_path)
    out = tmp_path / "out.npz"
    assert graft_any.main([str(base_path), str(fitted_path), str(out)]) == 0
    got = fastdrum.load_model(out)
    np.testing.assert_array_equal(got.output_filter[:-1], base.output_filter)
    np.testing.assert_array_equal(got.output_filter[-1], np.eye(1, 8)[0])
    for v in base.voices:
        np.testing.assert_array_equal(
            fastdrum.generate(got, 2, voice=v, seed=1, duration=0.01),
            fastdrum.generate(base, 2, voice=v, seed=1, duration=0.01),
        )


def test_graft_refuses_another_network_and_bad_arguments(tmp_path, capsys):
    base = fastdrum.load_model(TINY_DRUMS)
    row = np.zeros(base.weights["voice_emb"].shape[1], np.float32)
    other = tmp_path / "other.npz"
    _fitted(base, row, out2_b=base.weights["out2_b"] + 1e-3).save(other)
    assert graft_any.main([TINY_DRUMS, str(other), str(tmp_path / "out.npz")]) == 2
    assert "out2_b differs" in capsys.readouterr().err
    assert not (tmp_path / "out.npz").exists()
    assert graft_any.main([TINY_DRUMS, TINY_DRUMS, str(tmp_path / "out.npz")]) == 2
    assert "are not BASE's and 'any'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        graft_any.main([TINY_DRUMS])
    assert exit_.value.code == 2


def test_graft_replaces_out_only_with_overwrite(tmp_path, capsys):
    base = fastdrum.load_model(TINY_DRUMS)
    row = np.full(base.weights["voice_emb"].shape[1], 0.05, np.float32)
    fitted_path = tmp_path / "fitted.npz"
    _fitted(base, row).save(fitted_path)
    out = tmp_path / "base.npz"
    base.save(out)
    before = out.read_bytes()
    assert graft_any.main([str(out), str(fitted_path), str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == before  # untouched without --overwrite
    # in place, as training/ship_models.sh runs it
    assert graft_any.main([str(out), str(fitted_path), str(out), "--overwrite"]) == 0
    got = fastdrum.load_model(out)
    assert got.voices == base.voices + ("any",)
    np.testing.assert_array_equal(got.weights["voice_emb"][-1], row)


def test_graft_keeps_a_coefficient_a_voice(tmp_path, capsys):
    """A base whose voices have their own pre-emphasis: OUT keeps them, 'any' gets FITTED's."""
    arrays = fastdrum.load_model(TINY_DRUMS)._arrays()
    arrays["preemphasis"] = np.linspace(0, 0.9, len(arrays["voices"])).astype(np.float32)
    base = fastdrum.Model._from_arrays(arrays)
    base.save(tmp_path / "base.npz")
    row = np.zeros(base.weights["voice_emb"].shape[1], np.float32)
    _fitted(base, row, list(base.preemphasis) + [0.5]).save(tmp_path / "fitted.npz")
    paths = [str(tmp_path / n) for n in ("base.npz", "fitted.npz", "out.npz")]
    assert graft_any.main(paths) == 0
    got = fastdrum.load_model(paths[2])
    assert got.preemphasis == base.preemphasis + (0.5,)
    for v in base.voices:  # each voice de-emphasised as before
        np.testing.assert_array_equal(
            fastdrum.generate(got, 2, voice=v, seed=1, duration=0.01),
            fastdrum.generate(base, 2, voice=v, seed=1, duration=0.01),
        )
    wrong = [0.5] + list(base.preemphasis)
    _fitted(base, row, wrong).save(tmp_path / "wrong.npz")
    assert graft_any.main([paths[0], str(tmp_path / "wrong.npz"), str(tmp_path / "o2.npz")]) == 2
    assert "pre-emphasis" in capsys.readouterr().err
    assert not (tmp_path / "o2.npz").exists()


def test_graft_keeps_an_integration_a_voice(tmp_path, capsys):
    """A format-3 base whose hats are integrated: OUT keeps each voice's b, 'any' gets FITTED's."""
    arrays = fastdrum.load_model(TINY_DRUMS)._arrays()
    arrays["format_version"] = np.array(3)
    b = [0.995 if v in ("hihat", "openhat") else 0.0 for v in arrays["voices"]]
    arrays["integration"] = np.array(b, np.float32)
    base = fastdrum.Model._from_arrays(arrays)
    base.save(tmp_path / "base.npz")
    row = np.zeros(base.weights["voice_emb"].shape[1], np.float32)
    _fitted(base, row, integration=list(base.integration) + [0.0]).save(tmp_path / "fitted.npz")
    paths = [str(tmp_path / n) for n in ("base.npz", "fitted.npz", "out.npz")]
    assert graft_any.main(paths) == 0
    got = fastdrum.load_model(paths[2])
    assert got.format_version == 3 and got.integration == base.integration + (0.0,)
    for v in ("kick", "hihat"):
        np.testing.assert_array_equal(
            fastdrum.generate(got, 2, voice=v, seed=1, duration=0.01),
            fastdrum.generate(base, 2, voice=v, seed=1, duration=0.01),
        )
    _fitted(base, row, integration=[0.5] * (len(b) + 1)).save(tmp_path / "wrong.npz")
    assert graft_any.main([paths[0], str(tmp_path / "wrong.npz"), str(tmp_path / "o2.npz")]) == 2
    assert "integration" in capsys.readouterr().err
    assert not (tmp_path / "o2.npz").exists()
