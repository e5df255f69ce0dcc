"""Helpers for tests, benchmarks and examples: random models of any shape.

Examples
--------
>>> from fastdrum.testing import random_model, STANDARD_CONFIG
>>> random_model(**STANDARD_CONFIG, seed=0).flops_per_sample
466944
"""

import numpy as np

from .model import Model

__all__ = ["random_model", "STANDARD_CONFIG"]

#: The configuration used for benchmarks (docs/format.md): Q = 256,
#: R = D = 32, S = 128, dilations 1..512 twice (20 layers).
STANDARD_CONFIG = dict(
    quantization_channels=256, residual_channels=32, dilation_channels=32, skip_channels=128,
    dilations=[2**i for i in range(10)] * 2,
)


def random_model(*, dilations=(1, 2, 4), quantization_channels=32, residual_channels=8,
                 dilation_channels=6, skip_channels=10, sample_rate=16000, seed=None,
                 scale=1.0, primers=None, instrument="random", clip_duration=0.05):
    """A Model with random weights, scaled so activations stay in a useful range.

    Parameters
    ----------
    dilations : sequence of int
    quantization_channels, residual_channels, dilation_channels, skip_channels : int
        ``Q``, ``R``, ``D``, ``S``.
    sample_rate : int
    seed : int, optional
    scale : float, default 1.0
        Multiplies every weight's standard deviation.
    primers : int, optional
        If given, add this many random primer rows of 8 codes.
    instrument : str
    clip_duration : float

    Returns
    -------
    Model
    """
    rng = np.random.default_rng(seed)
    L, Q, R, D, S = len(dilations), quantization_channels, residual_channels, dilation_channels, skip_channels

    def w(*shape, fan_in):
        return (rng.standard_normal(shape) * scale / np.sqrt(fan_in)).astype(np.float32)

    arrays = dict(
        input_w=w(2, Q, R, fan_in=2), input_b=w(R, fan_in=4),
        dil_w=w(L, 2, R, 2 * D, fan_in=2 * R), dil_b=w(L, 2 * D, fan_in=4),
        res_w=w(L, D, R, fan_in=D), res_b=w(L, R, fan_in=4),
        skip_w=w(L, D, S, fan_in=D), skip_b=w(L, S, fan_in=4),
        out1_w=w(S, S, fan_in=S), out1_b=w(S, fan_in=4),
        out2_w=w(S, Q, fan_in=S / 4), out2_b=w(Q, fan_in=4),
    )
    if primers:
        primers = rng.integers(0, Q, size=(primers, 8))
    return Model(sample_rate=sample_rate, dilations=list(dilations), primers=primers,
                 meta={"instrument": instrument, "clip_duration": clip_duration}, **arrays)
