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
    quantization_channels=256,
    residual_channels=32,
    dilation_channels=32,
    skip_channels=128,
    dilations=[2**i for i in range(10)] * 2,
)


def random_model(
    *,
    dilations=(1, 2, 4),
    quantization_channels=32,
    residual_channels=8,
    dilation_channels=6,
    skip_channels=10,
    sample_rate=16000,
    seed=None,
    scale=1.0,
    primers=None,
    instrument="random",
    clip_duration=0.05,
    voices=None,
    embedding_size=4,
    preemphasis=0.0,
    integration=0.0,
    shelf_zero=0.0,
    shelf_pole=0.0,
    output_filter=None,
    time_tau=None,
    time_block=64,
    decays=None,
    envelope=None,
    predictor=None,
    loop=False,
):
    """A Model with random weights, scaled so activations stay in a useful range.

    With `voices`, a non-zero `preemphasis`, `time_tau` or `decays` it is a format-2 model; with a
    non-zero `integration`, format 3; with a low shelf (`shelf_zero`, `shelf_pole`), format 4; with
    an `output_filter`, format 5.

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
        ``meta["instrument"]``; of a conditioned model, only if it is one of `voices`.
    clip_duration : float
    voices : sequence of str, optional
        Condition the model on these voices (random ``voice_emb`` of
        `embedding_size` values, ``cond_w`` and, with `primers`, ``primer_voices``).
    embedding_size : int, default 4
    preemphasis : float or sequence of float, default 0.0
        One coefficient, or with `voices` one a voice.
    integration : float or sequence of float, default 0.0
        The leaky integration's coefficient(s) in [0, 1), likewise.
    shelf_zero, shelf_pole : float or sequence of float, default 0.0
        The low shelf's zero and pole, ``0 <= c <= p < 1``, likewise.
    output_filter : array_like of float, shape (K,) or (V, K), optional
        Format 5's output filter: its taps, or with `voices` one row of taps a voice.
    time_tau : sequence of float, optional
        Time constants (samples) of time-since-onset conditioning: random
        ``time_w`` of shape (L, F, 2D), with `time_block`.
    time_block : int, default 64
    decays : dict, optional
        Decay-time conditioning (needs `voices`): ``{voice: [seconds, ...]}``
        for every voice, stored as ``meta["voices"][voice]["decays"]``; random
        ``decay_w`` of shape (L, 2D), and ``meta["decay"]`` with the mean and
        standard deviation of ln d over all of them.
    envelope : dict, optional
        ``{"hold": seconds, "floor_db": dB}``, stored as ``meta["envelope"]``: an
        envelope-normalised model (needs `decays`).
    predictor : dict, optional
        ``{"order", "window", "hop", "gain"}``, stored as ``meta["predictor"]``: a format-6 model
        (:mod:`fastdrum.predictor`).
    loop : bool, default False
        With `predictor`: a format-7 model, its predictor inside the sampling loop (random
        ``sig_w`` and ``pred_w``, drawn after every other array).

    Returns
    -------
    Model
    """
    rng = np.random.default_rng(seed)
    L, Q, R, D, S = (
        len(dilations),
        quantization_channels,
        residual_channels,
        dilation_channels,
        skip_channels,
    )

    def w(*shape, fan_in):
        return (rng.standard_normal(shape) * scale / np.sqrt(fan_in)).astype(np.float32)

    arrays = dict(
        input_w=w(2, Q, R, fan_in=2),
        input_b=w(R, fan_in=4),
        dil_w=w(L, 2, R, 2 * D, fan_in=2 * R),
        dil_b=w(L, 2 * D, fan_in=4),
        res_w=w(L, D, R, fan_in=D),
        res_b=w(L, R, fan_in=4),
        skip_w=w(L, D, S, fan_in=D),
        skip_b=w(L, S, fan_in=4),
        out1_w=w(S, S, fan_in=S),
        out1_b=w(S, fan_in=4),
        out2_w=w(S, Q, fan_in=S / 4),
        out2_b=w(Q, fan_in=4),
    )
    meta = {"instrument": instrument, "clip_duration": clip_duration}
    if voices is not None:
        V, E = len(voices), embedding_size
        arrays.update(
            voices=list(voices), voice_emb=w(V, E, fan_in=1), cond_w=w(L, E, 2 * D, fan_in=E)
        )
        if instrument not in voices:
            del meta["instrument"]
    if time_tau is not None:
        arrays.update(
            time_tau=np.asarray(time_tau, dtype=np.float32),
            time_block=time_block,
            time_w=w(L, len(time_tau), 2 * D, fan_in=len(time_tau)),
        )
    if decays is not None:
        logs = np.log(np.concatenate([np.asarray(d, dtype=np.float64) for d in decays.values()]))
        meta["decay"] = dict(mean=float(logs.mean()), scale=float(logs.std()) or 1.0, drop_db=20.0)
        meta["voices"] = {v: dict(decays=sorted(float(x) for x in d)) for v, d in decays.items()}
        arrays["decay_w"] = w(L, 2 * D, fan_in=1)
    if envelope is not None:
        meta["envelope"] = envelope
    if predictor is not None:
        meta["predictor"] = predictor
    if primers:
        n_rows = primers
        primers = rng.integers(0, Q, size=(n_rows, 8))
        if voices is not None:
            arrays["primer_voices"] = np.arange(n_rows) % len(voices)
    if loop:
        arrays.update(sig_w=w(Q, R, fan_in=2), pred_w=w(Q, R, fan_in=2))
    return Model(
        sample_rate=sample_rate,
        dilations=list(dilations),
        primers=primers,
        meta=meta,
        preemphasis=preemphasis,
        integration=integration,
        shelf_zero=shelf_zero,
        shelf_pole=shelf_pole,
        output_filter=output_filter,
        **arrays,
    )
