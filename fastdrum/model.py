"""The :class:`Model`: a WaveNet's weights in model format 1, and how to load one."""

import functools
import json
import os
from importlib import resources

import numpy as np

from . import _format, _reference
from ._errors import GenerationError, LimitExceededError, ModelFormatError, ModelNotFoundError
from .mulaw import mu_law_encode

__all__ = ["Model", "load_model", "available_models"]

_MODELS_PACKAGE = "fastdrum.models"

#: Default cap on the length of :meth:`Model.forward` and :meth:`Model.log_prob`:
#: the whole-sequence reference keeps every step's activations (about
#: Q + 3R + 4D + 2S values a step, 3 KB in the standard config).
MAX_FORWARD_SAMPLES = 2**18


def _as_array(key, value):
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"model key {key!r}: not an array ({exc})") from None


def _check_max_samples(max_samples):
    if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)) or max_samples < 1:
        raise GenerationError(f"max_samples must be a positive integer, got {max_samples!r}")
    return int(max_samples)


def available_models():
    """Names of the pretrained models shipped in the package.

    Returns
    -------
    names : list of str
        Sorted; each is accepted by :func:`load_model` and :func:`fastdrum.generate`.

    Examples
    --------
    >>> isinstance(available_models(), list)
    True
    """
    folder = resources.files(_MODELS_PACKAGE)
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".npz"))


def _resolve(path_or_name):
    if isinstance(path_or_name, (str, os.PathLike)):
        path = os.fspath(path_or_name)
        if os.path.isfile(path):
            return path
        if isinstance(path_or_name, str) and os.sep not in path and not path.endswith(".npz"):
            candidate = resources.files(_MODELS_PACKAGE) / f"{path}.npz"
            if candidate.is_file():
                return os.fspath(candidate)
            names = available_models()
            raise ModelNotFoundError(
                f"no model named {path!r}; shipped models: {names!r} "
                "(or pass the path of a .npz model file)"
            )
        raise ModelNotFoundError(f"model file {path!r} does not exist")
    raise ModelNotFoundError(
        f"expected a model name or path, got {type(path_or_name).__name__} {path_or_name!r}")


def load_model(path_or_name, *, max_bytes=_format.DEFAULT_MAX_BYTES):
    """Load a model from a format-1 .npz file or by the name of a shipped model.

    Parameters
    ----------
    path_or_name : str or os.PathLike
        A path to a .npz file, or the name of a shipped model (see
        :func:`available_models`).
    max_bytes : int, optional
        Refuse files whose arrays would take more memory than this
        (default 256 MiB); checked before any array is read.

    Returns
    -------
    model : Model

    Raises
    ------
    ModelNotFoundError
        If no such file or shipped model exists.
    ModelFormatError
        If the file is not valid model format 1; the message names the key.

    Examples
    --------
    >>> import tempfile, os
    >>> from fastdrum.testing import random_model
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.npz")
    >>> random_model(dilations=[1, 2], seed=0).save(path)
    >>> load_model(path).receptive_field
    5
    """
    path = _resolve(path_or_name)
    try:
        model = Model._from_arrays(_format.read_arrays(path, max_bytes=max_bytes))
    except ModelFormatError as exc:  # say which file, once
        if repr(os.fspath(path)) in str(exc):
            raise
        raise ModelFormatError(f"{os.fspath(path)!r}: {exc}") from None
    model.path = path
    return model


class Model:
    """An unconditional WaveNet in model format 1.

    Build one with :func:`load_model`, or from arrays with the keyword
    arguments below (the format-1 keys). Weights are stored read-only as
    float32; a model is safe to share between threads.

    Parameters
    ----------
    sample_rate : int
    dilations : sequence of int
    input_w, input_b, dil_w, dil_b, res_w, res_b, skip_w, skip_b, out1_w, out1_b, out2_w, out2_b : array_like
        The weights, shaped as in the format-1 table.
    primers : array_like of int, shape (N, P), optional
        The first codes of training clips, used to seed generation.
    meta : dict, optional
        JSON-serialisable description (instrument, clip_duration, training ...).

    Raises
    ------
    ModelFormatError
        If the arrays do not form a valid format-1 model.
    """

    def __init__(self, *, sample_rate, dilations, primers=None, meta=None, **weights):
        arrays = {"format_version": np.array(_format.FORMAT_VERSION),
                  "sample_rate": _as_array("sample_rate", sample_rate),
                  "dilations": _as_array("dilations", dilations)}
        unknown = set(weights) - set(_format.WEIGHT_KEYS)
        if unknown:
            raise TypeError(f"unknown model keys {sorted(unknown)!r}")
        for k, v in weights.items():
            arrays[k] = _as_array(k, v)
        for k in _format.WEIGHT_KEYS:
            if k not in arrays:
                raise ModelFormatError(f"model key {k!r}: missing")
        if primers is not None:
            arrays["primers"] = _as_array("primers", primers)
        if meta is not None:
            try:
                arrays["meta"] = np.array(json.dumps(meta))
            except (TypeError, ValueError) as exc:
                raise ModelFormatError(f"model key 'meta': not JSON-serialisable ({exc})") from None
        self._init(arrays)

    @classmethod
    def _from_arrays(cls, arrays):
        self = cls.__new__(cls)
        self._init(arrays)
        return self

    def _init(self, arrays):
        info = _format.validate(arrays)
        self.path = None
        self.sample_rate = info["sample_rate"]
        self.dilations = info["dilations"]
        self.meta = info["meta"]
        self.primers = info["primers"]
        if self.primers is not None:
            self.primers.setflags(write=False)
        self._sizes = {k: info[k] for k in "LQRDS"}
        self.weights = {}
        for k in _format.WEIGHT_KEYS:
            a = np.array(arrays[k], dtype=np.float32, order="C")  # own, contiguous copy
            a.setflags(write=False)
            self.weights[k] = a

    # -- description ---------------------------------------------------------------
    @property
    def instrument(self):
        """The instrument the model was trained on (``meta["instrument"]``), or None."""
        return self.meta.get("instrument")

    @property
    def quantization_channels(self):
        """Number of mu-law codes ``Q``."""
        return self._sizes["Q"]

    @property
    def residual_channels(self):
        """``R``."""
        return self._sizes["R"]

    @property
    def dilation_channels(self):
        """``D`` (the gated activation's width)."""
        return self._sizes["D"]

    @property
    def skip_channels(self):
        """``S``."""
        return self._sizes["S"]

    @property
    def n_layers(self):
        """Number of dilated layers ``L``."""
        return self._sizes["L"]

    @property
    def receptive_field(self):
        """Samples of context the network sees: ``sum(dilations) + 2``."""
        return sum(self.dilations) + 2

    @property
    def duration(self):
        """Default clip duration in seconds (``meta["clip_duration"]``), or None."""
        return self.meta.get("clip_duration")

    @property
    def generation_defaults(self):
        """Recommended generation settings (``meta["generation"]``: temperature, primer_noise), or {}."""
        g = self.meta.get("generation")
        return dict(g) if isinstance(g, dict) else {}

    @property
    def flops_per_sample(self):
        """Floating-point operations (2 per multiply-add) of one incremental step."""
        L, Q, R, D, S = (self._sizes[k] for k in "LQRDS")
        return 2 * (L * (2 * R * 2 * D + D * (R + S)) + S * S + S * Q)

    @functools.cached_property
    def float16_exact(self):
        """Whether every weight matrix holds only float16 values (see :meth:`round_weights`).

        The compiled kernel then keeps those matrices in half the memory and
        widens them to the same float32 numbers as it computes: identical
        results, about 1.6x the speed at batch size 1 on AVX2 CPUs.
        Computed once per model (the weights are read-only).
        """
        return all(_format.is_float16_exact(self.weights[k]) for k in _format.MATRIX_KEYS)

    def round_weights(self, dtype="float16"):
        """A copy of the model whose weight matrices are rounded to float16 values.

        The matrices of the per-step products (``dil_w``, ``res_w``,
        ``skip_w``, ``out1_w``, ``out2_w``) are rounded to the nearest
        float16 (relative change at most 2**-11 down to 6.1e-5, float16's
        smallest normal; at most 3e-8 absolute below it); biases and the
        input taps are unchanged. The result is still a
        float32 format-1 model and computes in float32; on the shipped
        models the teacher-forced likelihood moved by less than 1e-5 nats a
        sample. `meta["rounded_weights"]` records it.

        Parameters
        ----------
        dtype : {"float16"}
            The only rounding offered.

        Returns
        -------
        Model
            ``float16_exact`` is True for it.

        Raises
        ------
        ModelFormatError
            If `dtype` is not "float16", or a weight exceeds float16's range
            (65504).

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0)
        >>> m.float16_exact, m.round_weights().float16_exact
        (False, True)
        """
        try:
            ok = np.dtype(dtype) == np.float16
        except TypeError:
            ok = False
        if not ok:
            raise ModelFormatError(f"round_weights: dtype must be 'float16', got {dtype!r}")
        arrays = self._arrays()
        for k in _format.MATRIX_KEYS:
            w = self.weights[k]
            big = int((np.abs(w) > _format.FLOAT16_MAX).sum())
            if big:
                raise ModelFormatError(
                    f"model key {k!r}: {big} weights exceed float16's range ({_format.FLOAT16_MAX:g})")
            arrays[k] = w.astype(np.float16).astype(np.float32)
        meta = dict(self.meta)
        meta["rounded_weights"] = "float16"
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        return Model._from_arrays(arrays)

    def __repr__(self):
        L, Q, R, D, S = (self._sizes[k] for k in "LQRDS")
        return (f"<fastdrum.Model instrument={self.instrument!r} sample_rate={self.sample_rate} "
                f"L={L} Q={Q} R={R} D={D} S={S} receptive_field={self.receptive_field}>")

    def _arrays(self):
        arrays = {"format_version": np.array(_format.FORMAT_VERSION, dtype=np.int64),
                  "sample_rate": np.array(self.sample_rate, dtype=np.int64),
                  "dilations": np.array(self.dilations, dtype=np.int64)}
        arrays.update(self.weights)
        if self.primers is not None:
            arrays["primers"] = np.asarray(self.primers, dtype=np.int16 if self.quantization_channels <= 32768 else np.int32)
        arrays["meta"] = np.array(json.dumps(self.meta, sort_keys=True))
        return arrays

    def _reference_weights(self):
        w = dict(self.weights)
        w["dilations"] = self.dilations
        return w

    def save(self, path, *, overwrite=True):
        """Write the model to `path` in format 1, atomically.

        Parameters
        ----------
        path : str or os.PathLike
        overwrite : bool, default True
            If False, refuse to replace an existing file.

        Raises
        ------
        FileExistsError
            If `path` exists and `overwrite` is False.
        """
        _format.write(path, self._arrays(), overwrite=overwrite)

    # -- the reference maths ---------------------------------------------------------
    def _check_codes(self, codes, max_samples):
        max_samples = _check_max_samples(max_samples)
        try:
            codes = np.asarray(codes)
        except (TypeError, ValueError) as exc:
            raise GenerationError(f"codes must be a 1-D array of integers ({exc})") from None
        if codes.size > max_samples:
            raise LimitExceededError(f"{codes.size} codes exceed max_samples={max_samples} "
                                     "(pass a larger max_samples= to allow it)")
        if codes.dtype.kind not in "iu":
            raise GenerationError(f"codes must be integers, got dtype {codes.dtype}")
        if codes.ndim != 1 or codes.size == 0:
            raise GenerationError(f"codes must be a non-empty 1-D array, got shape {codes.shape}")
        q = self.quantization_channels
        if codes.min() < 0 or codes.max() >= q:
            raise GenerationError(f"codes must lie in [0, {q}), got range [{codes.min()}, {codes.max()}]")
        return codes.astype(np.int64)

    def forward(self, codes, *, dtype=np.float32, max_samples=MAX_FORWARD_SAMPLES):
        """Logits of the whole sequence: the non-incremental definition of the network.

        Parameters
        ----------
        codes : array_like of int, shape (T,)
            mu-law codes in ``[0, Q)``.
        dtype : numpy dtype, default float32
            Precision of the computation: float32 or float64.
        max_samples : int, default 2**18
            Refuse longer sequences (every step's activations are kept).

        Returns
        -------
        logits : ndarray, shape (T, Q)
            ``logits[t]`` is the (unnormalised log) distribution of ``codes[t+1]``.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(quantization_channels=16, seed=0)
        >>> m.forward([8, 9, 7]).shape
        (3, 16)
        """
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise GenerationError(f"dtype must be float32 or float64, got {dtype!r}")
        return _reference.forward(self._reference_weights(), self._check_codes(codes, max_samples), dtype=dt)

    def log_prob(self, y, *, codes=False, max_samples=MAX_FORWARD_SAMPLES):
        """Log-likelihood (nats) of a clip under the model.

        The first sample is given (not scored); each later one is scored by the
        distribution the network predicts from the samples before it.

        Parameters
        ----------
        y : array_like, shape (T,)
            Audio in [-1, 1] (mu-law encoded first), or codes if `codes` is True.
        codes : bool, default False
        max_samples : int, default 2**18
            Refuse longer clips (every step's activations are kept).

        Returns
        -------
        float
            ``sum_t log p(q[t+1] | q[:t+1])``; divide by ``T - 1`` for a mean.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(quantization_channels=16, seed=0)
        >>> m.log_prob([0.0, 0.1, -0.1]) < 0
        True
        """
        if codes:
            q = self._check_codes(y, max_samples)
        else:
            max_samples = _check_max_samples(max_samples)
            try:
                y = np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise GenerationError(f"y must be a 1-D array of numbers ({exc})") from None
            if y.size > max_samples:
                raise LimitExceededError(f"{y.size} samples exceed max_samples={max_samples} "
                                         "(pass a larger max_samples= to allow it)")
            if y.ndim != 1 or y.size == 0:
                raise GenerationError(f"y must be a non-empty 1-D array, got shape {y.shape}")
            if not np.isfinite(y).all():
                raise GenerationError("y contains NaN or Inf")
            q = mu_law_encode(y, self.quantization_channels).astype(np.int64)
        if len(q) < 2:
            return 0.0
        logits = _reference.forward(self._reference_weights(), q, dtype=np.float64)[:-1]
        m = logits.max(axis=1, keepdims=True)
        log_z = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
        return float((logits[np.arange(len(q) - 1), q[1:]] - log_z).sum())

    def generate(self, n=1, **kwargs):
        """Generate `n` clips; see :func:`fastdrum.generate` for the parameters."""
        from ._generate import generate

        return generate(self, n, **kwargs)
