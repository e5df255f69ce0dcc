"""What the benchmarks run: backends, models, cases, and the check every case makes.

A *backend* is a ``State`` factory ``State(model, batch_size, n_threads=1)``
with ``run(codes, n_primer, uniforms, temperature, start, stop,
logits_out=None)`` (see ``fastdrum._backends``; the compiled kernel and the reference also take
``epsilon=``, the sampling cutoff, which bench/test_epsilon.py times):

``naive``
    :class:`bench.naive.NaiveState`: the whole receptive field recomputed for
    every sample (WaveNet before Fast WaveNet).
``numpy``
    ``fastdrum._reference.State``: the incremental NumPy reference.
``c``
    ``fastdrum._ext._wavenet.State``: the compiled kernel.
``tf``
    the TensorFlow 2 incremental generator of the original approach
    (``training.tfgen``), through :class:`bench.tf_backend.TFState`.

A backend that is not available is skipped with the reason.
"""

import functools
import os
import time
from dataclasses import dataclass

import numpy as np

import fastdrum
from fastdrum import _backends, _reference
from fastdrum.instruments import INSTRUMENTS
from fastdrum.mulaw import silence_code
from fastdrum.testing import STANDARD_CONFIG, random_model

from .naive import NaiveState

__all__ = [
    "BACKENDS",
    "BATCHES",
    "STANDARD_F16",
    "STANDARD_COND",
    "RECIPE",
    "RECIPE_CONFIG",
    "Case",
    "cases",
    "get_model",
    "state_factory",
    "Workload",
    "check_generation",
]

#: In the order the report shows them.
BACKENDS = ("naive", "numpy", "tf", "c")
BATCHES = (1, 8, 32, 128)
#: The naive generator takes about 0.04 s a sample: only small batches.
NAIVE_BATCHES = (1, 8)
KERNEL_THREADS = (1, 2)

#: Generated steps per timed round, by backend and batch size: rounds of
#: about 0.05 to 0.5 s on a 2-core Zen machine, so the suite takes minutes.
STEPS = {
    "naive": {1: 4, 8: 1},
    "numpy": {1: 256, 8: 128, 32: 64, 128: 64},
    "tf": {1: 64, 8: 64, 32: 64, 128: 64},
    "c": {1: 4096, 8: 1024, 32: 512, 128: 256},
}
ROUNDS = {"naive": 3, "numpy": 7, "tf": 5, "c": 15}
#: With --benchmark-disable each case runs one round of at most this many steps.
DISABLED_STEPS = 16
#: Generated steps whose codes are checked against the definition (Model.forward).
CHECK_STEPS = 16
TEMPERATURE = 1.0


#: Extra model files to benchmark, separated by os.pathsep; each is named by its file stem.
MODELS_ENV = "FASTDRUM_BENCH_MODELS"


def _extra_models():
    paths = [p for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p]
    return {os.path.splitext(os.path.basename(p))[0]: p for p in paths}


#: The standard config with its weight matrices rounded to float16 values
#: (Model.round_weights, as the shipped model's are): the kernel stores them as
#: binary16 and computes the same float32 numbers; the other backends are
#: unaffected by the rounding, so only numpy and c run it.
STANDARD_F16 = "standard-f16"
#: standard-f16 conditioned on ten voices (embedding size 16), generating one
#: of them: beside standard-f16, it shows what conditioning costs per step
#: (the kernel folds the voice into the bias of z once per clip: nothing).
STANDARD_COND = "standard-f16-voices"
#: standard-f16-voices with time-since-onset conditioning too (5 features, block 64): beside it, what
#: the time bias costs per step (the kernel refreshes it once a block: should be nothing).
STANDARD_TIME = "standard-f16-time"
#: The time constants (samples) of STANDARD_TIME: 2.5 ms to 0.64 s at 44.1 kHz.
TIME_TAU = [110.25, 441.0, 1764.0, 7056.0, 28224.0]
#: The architecture training/ship_models.sh trains (44,100 Hz, dilations 1..1024 twice, ten voices,
#: embedding size 16, pre-emphasis 0.85, the time features of TIME_TAU in blocks of 64, decay-time
#: conditioning and the envelope of its defaults), random weights rounded to float16 values as shipped
#: ones are: issue 12's speed goals (batch 1 at least twice real time, batch 32 at least 60% of sgemm)
#: are judged on it before a trained model of that shape ships. Dense products take the same time
#: whatever the weights, so random ones measure the trained model's speed. The decay joins the
#: voice's bias once per clip, and the envelope is one multiplication per sample after the kernel.
RECIPE = "recipe-44k"
RECIPE_CONFIG = dict(
    STANDARD_CONFIG,
    dilations=[2**i for i in range(11)] * 2,
    sample_rate=44100,
    voices=list(INSTRUMENTS),
    embedding_size=16,
    # a coefficient a voice, as training/ship_models.sh trains: 0 for the hats, 0.85 for the rest
    preemphasis=[0.0 if v in ("hihat", "openhat") else 0.85 for v in INSTRUMENTS],
    time_tau=TIME_TAU,
    time_block=64,
    decays={v: [0.1, 0.4] for v in INSTRUMENTS},
    envelope={"hold": 0.03, "floor_db": -60.0},
)


@functools.cache
def get_model(config):
    """The model of a case: ``"standard"`` (random weights, the standard config of
    docs/benchmarks.md, 16 kHz),
    ``"standard-f16"`` (the same, weight matrices rounded to float16 values), a shipped
    model's name, ``"recipe-44k"`` (:data:`RECIPE_CONFIG`), or the stem of a file listed in
    ``$FASTDRUM_BENCH_MODELS``."""
    if config == "standard":
        return random_model(**STANDARD_CONFIG, seed=0)
    if config == STANDARD_F16:
        return get_model("standard").round_weights()
    if config in (STANDARD_COND, STANDARD_TIME):
        voices = list(INSTRUMENTS)
        time = dict(time_tau=TIME_TAU, time_block=64) if config == STANDARD_TIME else {}
        return random_model(
            **STANDARD_CONFIG, seed=0, voices=voices, embedding_size=16, **time
        ).round_weights()
    if config == RECIPE:
        return random_model(**RECIPE_CONFIG, seed=0).round_weights()
    return fastdrum.load_model(_extra_models().get(config, config))


def _shipped_files():
    """One name per shipped model file: a conditioned model is benchmarked once, not once per voice."""
    stems = []
    for name in fastdrum.available_models():
        stem = os.path.splitext(os.path.basename(fastdrum.load_model(name).path))[0]
        if stem not in stems:
            stems.append(stem)
    return stems


def configs():
    """``"standard"``, ``"standard-f16"``, ``"standard-f16-voices"``, ``"standard-f16-time"``,
    ``"recipe-44k"``, every shipped model file, then the files of ``$FASTDRUM_BENCH_MODELS``."""
    names = ["standard", STANDARD_F16, STANDARD_COND, STANDARD_TIME, RECIPE] + _shipped_files()
    return names + [n for n in _extra_models() if n not in names]


def conditioned(config):
    """Whether the model of `config` is conditioned on voices (only the numpy and c backends take a voice)."""
    return bool(get_model(config).voices)


@dataclass(frozen=True)
class Case:
    """One group of the report: a model, a batch size and a thread count."""

    config: str
    batch: int
    threads: int

    @property
    def id(self):
        return f"{self.config}-b{self.batch}-t{self.threads}"

    @property
    def group(self):
        return f"generate {self.config} batch={self.batch} threads={self.threads}"


def cases():
    """(case, backend) pairs of the main suite."""
    out = []
    for config in configs():
        for batch in BATCHES:
            for backend in BACKENDS:
                if backend == "naive" and batch not in NAIVE_BATCHES:
                    continue
                if (config == STANDARD_F16 or conditioned(config)) and backend not in (
                    "numpy",
                    "c",
                ):
                    continue
                for threads in KERNEL_THREADS if backend == "c" else (1,):
                    out.append((Case(config, batch, threads), backend))
    return out


def unavailable_reason(backend):
    """Why `backend` cannot run here, or None."""
    if backend == "c" and "c" not in _backends.available():
        return (
            "the compiled kernel fastdrum._ext._wavenet is not built "
            "(pip install -e . --no-build-isolation, or python setup.py build_ext --inplace)"
        )
    if backend == "tf":
        from . import tf_backend

        return tf_backend.unavailable_reason()
    return None


def state_factory(backend):
    """The ``State`` factory of `backend` (check :func:`unavailable_reason` first)."""
    if backend == "naive":
        return NaiveState
    if backend == "tf":
        from . import tf_backend

        return tf_backend.TFState
    return _backends.get(backend)


class Workload:
    """One long generation cut into timed rounds of `steps` steps each.

    The State is created once, before any round (not timed); round ``k``
    continues the generation with steps ``start + k*steps ..``. Incremental
    backends start at ``t = 0`` from one silence code. The naive generator
    starts at ``t = receptive_field - 1`` after a random primer of
    ``receptive_field`` codes, so that every timed step recomputes a full
    receptive field (its steady state). A conditioned model generates its
    default voice, else its first (:attr:`voice`). With `negative` (a voice) and `guidance`
    (a weight), each of the `batch` clips is a pair of rows, the second conditioned on `negative`
    (negative-voice guidance, docs/format.md; the incremental backends only).
    """

    def __init__(
        self,
        backend,
        model,
        batch,
        threads,
        steps,
        n_calls,
        seed=0,
        state_kwargs=None,
        epsilon=0.0,
        negative=None,
        guidance=None,
    ):
        self.model, self.batch, self.steps = model, batch, steps
        #: epsilon sampling's cutoff (0: none, the only value the naive and tf backends take)
        self.epsilon = epsilon
        self.negative, self.guidance = negative, guidance
        #: rows of the State a clip takes: 2 with guidance
        self.pairs = 1 if guidance is None else 2
        rng = np.random.default_rng(seed)
        q = model.quantization_channels
        if backend == "naive":
            self.n_primer = model.receptive_field
            self.start = model.receptive_field - 1
        else:
            self.n_primer = 1
            self.start = 0
        T = self.start + steps * n_calls + 1
        self.codes = np.zeros((self.pairs * batch, T), dtype=np.int32)
        if backend == "naive":
            self.codes[:, : self.n_primer] = rng.integers(0, q, size=(batch, self.n_primer))
        else:
            self.codes[:, 0] = silence_code(q)
        self.primer = self.codes[:, : self.n_primer].copy()
        # both rows of a pair get the clip's uniforms (the second row's are not used)
        self.uniforms = np.repeat(rng.random((batch, steps * n_calls)), self.pairs, axis=0)
        # One C-contiguous block of uniforms per round, made before timing.
        self._u = [
            np.ascontiguousarray(self.uniforms[:, k * steps : (k + 1) * steps])
            for k in range(n_calls)
        ]
        self.voice = None
        kwargs = dict(state_kwargs or {})
        if model.voices:
            self.voice = model.default_voice or model.voices[0]
            rows = [model.conditioning(self.voice)]
            if guidance is not None:
                rows.append(model.conditioning(negative))
                kwargs["guidance"] = guidance
            kwargs["cond"] = np.ascontiguousarray(np.stack(rows * batch))
        elif guidance is not None:
            raise ValueError("negative-voice guidance needs a conditioned model")
        self.state = state_factory(backend)(model, self.pairs * batch, n_threads=threads, **kwargs)
        self.calls = 0
        #: CPU time of the whole process (all its threads) in each round, seconds.
        self.cpu_seconds = []

    def __call__(self):
        """One timed round: generate `steps` more samples in every row."""
        k = self.calls
        t0 = self.start + k * self.steps
        cpu = time.process_time()
        if self.epsilon:
            self.state.run(
                self.codes,
                self.n_primer,
                self._u[k],
                TEMPERATURE,
                t0,
                t0 + self.steps,
                epsilon=self.epsilon,
            )
        else:
            self.state.run(self.codes, self.n_primer, self._u[k], TEMPERATURE, t0, t0 + self.steps)
        self.cpu_seconds.append(time.process_time() - cpu)
        self.calls += 1

    @property
    def generated(self):
        """Samples generated so far, all rows."""
        return self.batch * self.steps * self.calls


def check_generation(w, n_steps=CHECK_STEPS):
    """Check what a workload generated against the definition of the network.

    Every generated code lies in ``[0, Q)``, the primer is untouched, and in
    the first and the last row the first `n_steps` generated codes are exactly
    those that inverse-CDF sampling (:func:`fastdrum._reference.sample`) picks
    from the full causal forward pass (:meth:`fastdrum.Model.forward`) with the
    same uniforms (and the workload's epsilon). With guidance, of the first and
    the last clip: both rows of the pair hold the same codes, drawn from
    :func:`fastdrum._reference.guide` of the voice's and the negative voice's logits.
    """
    q = w.model.quantization_channels
    end = w.start + w.steps * w.calls + 1
    done = w.codes[:, :end]
    assert w.calls >= 1
    assert ((done >= 0) & (done < q)).all(), f"codes outside [0, {q}): {done.min()}..{done.max()}"
    np.testing.assert_array_equal(w.codes[:, : w.n_primer], w.primer)
    n = min(n_steps, w.steps * w.calls)
    for row in sorted({0, w.pairs * (w.batch - 1)}):
        logits = w.model.forward(w.codes[row, : w.start + n], voice=w.voice)
        if w.guidance is not None:
            np.testing.assert_array_equal(w.codes[row], w.codes[row + 1])
            negative = w.model.forward(w.codes[row, : w.start + n], voice=w.negative)
            logits = _reference.guide(logits, negative, w.guidance)
        expected = [
            int(
                _reference.sample(
                    logits[t : t + 1],
                    w.uniforms[row, t - w.start : t - w.start + 1],
                    TEMPERATURE,
                    w.epsilon,
                )[0]
            )
            for t in range(w.start, w.start + n)
        ]
        got = w.codes[row, w.start + 1 : w.start + n + 1].tolist()
        assert got == expected, f"row {row}: generated {got}, the definition gives {expected}"
