"""Envelope-normalised models (``meta["envelope"]``): the definition, the file, generate(), training.

docs/format.md, "Envelope": such a model's network models a clip divided by the envelope
env(t) = max(10 ** (-max(0, t - hold) / d), 10 ** (floor_db / 20)) of the clip's decay time d, and
generate() multiplies its clips by it. Models without an envelope generate what they always did.
"""

import importlib.util
import os

import numpy as np

DATA = os.path.join(os.path.dirname(__file__), "data")


def _saved_clips_module():
    spec = importlib.util.spec_from_file_location(
        "make_saved_clips", os.path.join(DATA, "make_saved_clips.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- no envelope
def test_models_without_an_envelope_generate_the_saved_clips(backend):
    """Clips saved before envelope models existed: bit for bit, on every backend."""
    saved = np.load(os.path.join(DATA, "saved_clips.npz"))
    got = _saved_clips_module().clips(backend)
    assert sorted(got) == sorted(saved.files)
    for name, y in got.items():
        assert y.dtype == saved[name].dtype == np.float32, name
        np.testing.assert_array_equal(y, saved[name], err_msg=name)
