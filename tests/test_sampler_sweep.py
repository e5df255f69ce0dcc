"""tools/sampler_sweep.py: its own sampling loop, held to generate() where their rules agree."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))

pytest.importorskip("fastdrum._ext._wavenet")
sampler_sweep = pytest.importorskip("sampler_sweep")

from test_envelope import enveloped  # noqa: E402

import fastdrum  # noqa: E402


@pytest.mark.parametrize("envelope", [{"hold": 0.001, "floor_db": -40.0}, None])
def test_the_rule_of_a_temperature_gives_generates_clips(envelope):
    """At a plain temperature the sweep's draws are generate()'s: the same primers, decay times
    (of a decay-conditioned model; an envelope model's clips are finished with them) and uniforms.
    Before it drew the decays, it ran a decay-conditioned model at z = 0 and could not finish an
    envelope model's clips at all."""
    model = enveloped(envelope=envelope)
    for T in (1.0, 0.7):
        got = sampler_sweep.generate(model, "a", 3, 1, lambda t, T=T: {"T": T})
        want = fastdrum.generate(
            model, 3, voice="a", seed=1, temperature=T, epsilon=0.0, backend="c"
        )
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
