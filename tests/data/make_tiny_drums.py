"""Write tests/data/tiny_drums.npz: a tiny format-2 model conditioned on ten voices.

Random weights, written with plain NumPy (not fastdrum), as another program
would write a format-2 file (docs/format.md). Run from the repository root:

    python tests/data/make_tiny_drums.py

The tests load the committed file; rerunning this script rewrites the same arrays.
"""

import json
import os

import numpy as np

VOICES = [
    "kick",
    "snare",
    "hihat",
    "openhat",
    "clap",
    "tom_low",
    "tom_mid",
    "tom_high",
    "crash",
    "ride",
]
DILATIONS = [1, 2, 4]
Q, R, D, S, E = 32, 8, 6, 10, 5
N_PRIMERS, P = 20, 8
PREEMPHASIS = 0.85
META = {
    "clip_duration": 0.01,
    "generation": {"temperature": 1.0, "primer_noise": 0.0},
    "voices": {"kick": {"temperature": 0.8, "duration": 0.02}, "crash": {"duration": 0.03}},
    "training": {"note": "random weights for tests (tests/data/make_tiny_drums.py)"},
}


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    L, V = len(DILATIONS), len(VOICES)

    def w(*shape, fan_in):
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)

    return {
        "format_version": np.array(2, dtype=np.int64),
        "sample_rate": np.array(16000, dtype=np.int64),
        "dilations": np.array(DILATIONS, dtype=np.int64),
        "input_w": w(2, Q, R, fan_in=2),
        "input_b": w(R, fan_in=4),
        "dil_w": w(L, 2, R, 2 * D, fan_in=2 * R),
        "dil_b": w(L, 2 * D, fan_in=4),
        "res_w": w(L, D, R, fan_in=D),
        "res_b": w(L, R, fan_in=4),
        "skip_w": w(L, D, S, fan_in=D),
        "skip_b": w(L, S, fan_in=4),
        "out1_w": w(S, S, fan_in=S),
        "out1_b": w(S, fan_in=4),
        "out2_w": w(S, Q, fan_in=S / 4),
        "out2_b": w(Q, fan_in=4),
        "preemphasis": np.array(PREEMPHASIS, dtype=np.float32),
        "voices": np.array(VOICES),
        "voice_emb": w(V, E, fan_in=1),
        "cond_w": w(L, E, 2 * D, fan_in=E),
        "primers": rng.integers(0, Q, size=(N_PRIMERS, P)).astype(np.int16),
        "primer_voices": (np.arange(N_PRIMERS) % V).astype(np.int16),
        "meta": np.array(json.dumps(META, sort_keys=True)),
    }


if __name__ == "__main__":
    np.savez_compressed(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_drums.npz"), **arrays()
    )
