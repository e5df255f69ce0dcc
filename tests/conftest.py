"""Shared fixtures: every API test runs on each generation backend."""

from pathlib import Path

import numpy as np
import pytest

from fastdrum import _backends

#: Tolerances written once, per dtype: (rtol, atol) for logits.
TOLERANCES = {np.float64: (1e-9, 1e-9), np.float32: (2e-4, 2e-4)}

ALL_BACKENDS = ["numpy", "c"]

#: Sizes of a small random model that are no multiple of any SIMD width (padding in the kernel).
ODD_SIZES = dict(
    dilations=[1, 2, 4, 8, 3],
    residual_channels=7,
    dilation_channels=5,
    skip_channels=11,
    quantization_channels=29,
)


@pytest.fixture(params=ALL_BACKENDS)
def backend(request):
    """The name of a generation backend; "c" fails loudly if the kernel is not built."""
    if request.param not in _backends.available():
        pytest.fail(f"backend {request.param!r} is not built: run `pip install -e .`")
    return request.param


#: A tiny format-2 model conditioned on the sequencer's ten voices, with
#: pre-emphasis 0.85 (random weights; made by tests/data/make_tiny_drums.py).
TINY_DRUMS = Path(__file__).parent / "data" / "tiny_drums.npz"


def tiny_drums_arrays():
    """The tiny conditioned model's arrays, by key (to be made another format, or broken)."""
    with np.load(TINY_DRUMS, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def write_arrays(tmp_path, arrays):
    """`arrays` saved as tmp_path/m.npz (np.savez: any keys, valid or not); its path."""
    path = tmp_path / "m.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture
def tiny_drums():
    """The tiny conditioned model, loaded from its file."""
    from fastdrum import load_model

    return load_model(TINY_DRUMS)


@pytest.fixture
def shipped_folder(tmp_path, monkeypatch):
    """An empty folder that stands in for the shipped models (fastdrum/models) during the test."""
    from fastdrum import model

    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(model, "_models_folder", lambda: folder)
    return folder
