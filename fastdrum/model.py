"""The :class:`Model`: a WaveNet's weights in model format 1 to 7, and how to load one."""

import copy
import functools
import json
import math
import os
from importlib import resources

import numpy as np

from . import _checks, _format, _reference, predictor
from .errors import (
    GenerationError,
    LimitExceededError,
    ModelFormatError,
    ModelNotFoundError,
)
from .instruments import ANY_VOICE
from .mulaw import mu_law_decode, mu_law_encode, preemphasis, silence_code

__all__ = ["Model", "load_model", "available_models", "as_model"]

_MODELS_PACKAGE = "fastdrum.models"

#: Default cap on the length of :meth:`Model.forward` and :meth:`Model.log_prob`:
#: the whole-sequence reference keeps every step's activations (about
#: Q + 3R + 4D + 2S values a step, 3 KB in the standard config).
MAX_FORWARD_SAMPLES = 2**18


def _nonzero(coefficients):
    """Whether a model's coefficient(s) hold anything but 0 (a value validation will reject counts)."""
    try:
        return bool(np.any(np.asarray(coefficients) != 0))
    except (TypeError, ValueError):
        return True  # let validation name it


def _as_array(key, value):
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"model key {key!r}: not an array ({exc})") from None


def _as_taps(filters):
    """An output filter's taps as an array: numbers as float32 (validation checks the rest)."""
    a = _as_array(_format.OUTPUT_FILTER_KEY, filters)
    return a.astype(np.float32) if a.dtype.kind in "iuf" else a


def _check_max_samples(max_samples):
    return _checks.integer("max_samples", max_samples, lo=1, error=GenerationError)


def _models_folder():
    """The folder of the shipped models (a function, so that tests can point it elsewhere)."""
    return resources.files(_MODELS_PACKAGE)


def _shipped_files():
    """The shipped model files in name order: ``[(stem, path, voices)]``, voices () for a model of
    one instrument. Only the small ``format_version`` and ``voices`` members of each file are read."""
    folder = _models_folder()
    out = []
    for stem, p in sorted((p.name[:-4], p) for p in folder.iterdir() if p.name.endswith(".npz")):
        arrays = _format.read_arrays(os.fspath(p), only=("format_version", "voices"))
        version = arrays.get("format_version")
        voices = ()
        if (
            version is not None
            and version.shape == ()
            and version.dtype.kind in "iu"
            and int(version) >= 2  # format 1 has no voices (its unknown keys are ignored)
        ):
            found = np.atleast_1d(arrays.get("voices", np.array([], dtype=str))).tolist()
            voices = tuple(
                v for v in found if isinstance(v, str) and _format.VOICE_NAME.fullmatch(v)
            )
        out.append((stem, os.fspath(p), voices))
    return out


def _names(files):
    names = {stem: (path, None) for stem, path, _ in files}
    for _, path, voices in files:
        for v in voices:
            names.setdefault(v, (path, v))
    return names


def _shipped():
    """Every shipped name: ``{name: (path, voice)}``, voice None for a model of its own.

    A file ``NAME.npz`` is the model ``NAME``; each voice of a shipped
    conditioned model (format 2 with ``voices``) is a name too, resolving to
    that model with the voice as its default. A model file of its own wins
    over a voice of the same name (the more specific file is the one someone
    put there on purpose); a voice in several conditioned files resolves to
    the first file in name order. Only the small ``voices`` member of each
    file is read.
    """
    return _names(_shipped_files())


def _shipped_instruments():
    """The shipped names that each play one instrument, sorted: what a kit, a plot or the drum
    machine makes "from the shipped models".

    Every name of :func:`available_models` but the file name of a conditioned model (``drums`` of
    ``drums.npz``): its voices are names of their own, and the file alone names no voice to play;
    and but :data:`fastdrum.instruments.ANY_VOICE`, the unconditional voice, which is no instrument.
    """
    files = _shipped_files()
    conditioned = {stem for stem, _, voices in files if voices and stem not in voices}
    return sorted(n for n in _names(files) if n not in conditioned and n != ANY_VOICE)


def available_models():
    """Names of the pretrained models shipped in the package.

    A shipped model file is a name, and so is each voice of a shipped
    conditioned model (see :func:`load_model`; a model file of its own wins
    over a voice of the same name): the package ships ``drums.npz``,
    conditioned on the ten voices of the drum machine and on ``any``, its
    unconditional voice, so the names are ``drums`` (that model, no voice
    chosen), ``kick``, ``snare``, ... and ``any`` (that model playing the
    voice).

    Returns
    -------
    names : list of str
        Sorted; each is accepted by :func:`load_model` and :func:`fastdrum.generate`.

    Examples
    --------
    >>> isinstance(available_models(), list)
    True
    """
    return sorted(_shipped())


def _resolve(path_or_name):
    """Return (path, voice): voice is the default voice a shipped name selects, or None."""
    if isinstance(path_or_name, (str, os.PathLike)):
        path = os.fspath(path_or_name)
        if os.path.isfile(path):
            return path, None
        if isinstance(path_or_name, str) and os.sep not in path and not path.endswith(".npz"):
            shipped = _shipped()
            if path in shipped:
                return shipped[path]
            raise ModelNotFoundError(
                f"no model named {path!r}; shipped models: {sorted(shipped)!r} "
                "(or pass the path of a .npz model file)"
            )
        raise ModelNotFoundError(f"model file {path!r} does not exist")
    raise ModelNotFoundError(
        f"expected a model name or path, got {type(path_or_name).__name__} {path_or_name!r}"
    )


def load_model(path_or_name, *, max_bytes=_format.DEFAULT_MAX_BYTES):
    """Load a model from a .npz file (format 1 to 7) or by the name of a shipped model.

    A shipped name is a model file of that name (``kick`` is ``kick.npz``)
    or, failing that, a voice of a shipped conditioned model: ``"kick"`` then
    returns that conditioned model with ``default_voice="kick"``, which
    :func:`fastdrum.generate` uses when no ``voice=`` is given. A file of its
    own wins over a voice of the same name.

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
        If the file is not a valid model (format 1 to 7); the message names the key.

    Examples
    --------
    >>> import tempfile, os
    >>> from fastdrum.testing import random_model
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.npz")
    >>> random_model(dilations=[1, 2], seed=0).save(path)
    >>> load_model(path).receptive_field
    5
    """
    path, voice = _resolve(path_or_name)
    try:
        model = Model._from_arrays(_format.read_arrays(path, max_bytes=max_bytes))
    except ModelFormatError as exc:  # say which file, once
        if repr(os.fspath(path)) in str(exc):
            raise
        raise ModelFormatError(f"{os.fspath(path)!r}: {exc}") from None
    model.path = path
    if voice is not None:
        model = model.with_voice(voice)
    return model


def as_model(model_or_name):
    """`model_or_name` as a :class:`Model`: a Model as it is, else :func:`load_model` of it.

    Parameters
    ----------
    model_or_name : Model, str or os.PathLike
        A Model, a shipped model's name, or a model file.

    Returns
    -------
    Model
        `model_or_name` itself if it is a Model, else the model it names.

    Raises
    ------
    GenerationError
        If `model_or_name` is none of these.
    ModelNotFoundError, ModelFormatError
        As :func:`load_model`.

    Examples
    --------
    >>> from fastdrum.testing import random_model
    >>> m = random_model(seed=0)
    >>> as_model(m) is m
    True
    """
    if isinstance(model_or_name, Model):
        return model_or_name
    if isinstance(model_or_name, (str, os.PathLike)):
        return load_model(model_or_name)
    raise GenerationError(
        f"expected a Model, a shipped model's name or a model path, got {model_or_name!r}"
    )


class Model:
    """A WaveNet in model format 1 to 7: unconditional, or conditioned on a voice.

    Build one with :func:`load_model`, or from arrays with the keyword
    arguments below (the keys of docs/format.md). Weights are stored read-only as
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
    preemphasis : float or sequence of float, default 0.0
        Format 2: the coefficient ``a`` in (-1, 1) of the pre-emphasis the
        network models (generation undoes it); 0 is none. With `voices`, one
        coefficient a voice may be given instead (:meth:`preemphasis_of`).
    integration : float or sequence of float, default 0.0
        Format 3: the coefficient ``b`` in [0, 1) of the leaky integration the
        network's signal is taken through before pre-emphasis
        (:func:`fastdrum.mulaw.preemphasis`; generation undoes it with a first
        difference); 0 is none. With `voices`, one a voice may be given.
    shelf_zero, shelf_pole : float or sequence of float, default 0.0
        Format 4: the zero ``c`` and the pole ``p`` (``0 <= c <= p < 1``) of
        the low shelf ``(1 - c z^-1) / (1 - p z^-1)`` the clips are taken
        through first (:func:`fastdrum.mulaw.preemphasis`; generation undoes
        it, cutting what the network adds below the zero's corner); equal is
        none. With `voices`, one a voice may be given.
    output_filter : array_like of float, shape (K,) or (V, K), optional
        Format 5: the taps of a fixed causal FIR filter :func:`fastdrum.generate`
        takes the finished clips through (after de-emphasis and the envelope,
        before the peak limit; :func:`fastdrum.mulaw.fir_filter`): (K,) for a
        model without voices, (V, K) with `voices`, one row a voice (the unit
        impulse ``[1, 0, ..., 0]`` for a voice with no correction);
        ``1 <= K <= 8192``, each tap finite with ``|h| <= 1000``. Given, the
        model is format 5 (:meth:`output_filter_of`, :meth:`with_output_filter`).
    voices : sequence of str, optional
        Format 2: the names of the voices the network is conditioned on.
    voice_emb : array_like, shape (V, E), optional
    cond_w : array_like, shape (L, E, 2D), optional
        Format 2: the voice embeddings and the per-layer projections of the
        conditioning vector into the gate pre-activation (given together with `voices`).
    primer_voices : array_like of int, shape (N,), optional
        Format 2: the voice index of each primer row (needed when both
        `primers` and `voices` are given).
    time_tau : array_like of float, shape (F,), optional
    time_block : int, optional
    time_w : array_like, shape (L, F, 2D), optional
        Format 2: time-since-onset conditioning (given together). Step t adds
        ``sum_k exp(-b / time_tau[k]) * time_w[l, k]`` to z of layer l, where
        ``b = time_block * (t // time_block)`` (docs/format.md).
    decay_w : array_like, shape (L, 2D), optional
        Format 2: decay-time conditioning of a model with voices; `meta` then
        holds ``"decay"`` (``mean``, ``scale``, ``drop_db``) and every voice's
        ``"decays"``. A clip of decay time d adds ``z * decay_w[l]`` to z of
        layer l, ``z = (ln d - mean) / scale`` (:meth:`conditioning`).

    Attributes
    ----------
    format_version : int
        1 to 5: a model built here is format 1 unless it uses a format-2
        key (pre-emphasis other than 0, voices, time or decay conditioning),
        format 3 when its integration is not 0, format 4 when its low shelf's
        zero or pole is not 0, and format 5 when it has an output filter
        (whatever the rest); a loaded one keeps its file's.
    voices : tuple of str
        Empty for an unconditioned model.
    preemphasis : float or tuple of float
        0.0 for format 1; a tuple, one coefficient a voice, for a model whose
        voices have their own (:meth:`preemphasis_of` gives any voice's).
    integration : float or tuple of float
        0.0 before format 3; likewise one a voice (:meth:`integration_of`).
    shelf_zero, shelf_pole : float or tuple of float
        0.0 before format 4; likewise one a voice (:meth:`shelf_of`).
    output_filter : ndarray of float32 or None
        Format 5's output filter (read-only), shape (K,), or (V, K) for a model
        with voices (:meth:`output_filter_of` gives any voice's); None before format 5.
    weights : dict of ndarray
        The float32 arrays of the network (read-only): the format-1 weights,
        ``voice_emb`` and ``cond_w`` of a conditioned model, ``time_w`` of a
        time-conditioned one, ``decay_w`` of a decay-conditioned one.
    primers, primer_voices : ndarray of int32 or None
    time_tau : ndarray of float32 or None
        The time constants (samples) of a time-conditioned model.
    time_block : int or None
    decay : dict or None
        A decay-conditioned model's ``meta["decay"]``: ``mean`` and ``scale``
        of ln d (d in seconds) over its training clips, and ``drop_db`` (the
        level drop that defines d, 20 dB).
    voice_decays : dict or None
        A decay-conditioned model's training decay times (seconds) of each
        voice, ``{voice: read-only float64 array}``: what :func:`fastdrum.generate`
        draws from when given no `decay`.
    envelope : dict or None
        An envelope-normalised model's ``meta["envelope"]``, ``{"hold": seconds, "floor_db": dB}``:
        its network models each clip divided by the envelope of the clip's decay time
        (:func:`fastdrum._reference.envelope`), and :func:`fastdrum.generate` multiplies the
        envelope back. Only with decay conditioning.
    predictor : dict or None
        Format 6's ``meta["predictor"]``, ``{"order", "window", "hop", "gain"}``: the codes are those
        of the error of a backward-adaptive linear predictor (:mod:`fastdrum.predictor`), and
        :func:`fastdrum.generate` runs the predictor on the decoded errors. A model is format 6 when
        its `meta` has one (its output filter then defaults to the unit impulse).
    sig_w, pred_w : array_like of float32, shape (Q, R), optional
        Format 7 (both or neither): the tables of the decoded signal's code and of the prediction's.
        The predictor then runs inside the sampling loop: at each step the network is fed, beside
        the error's code (``input_w``, as in format 6), the code of the sample just decoded
        (``sig_w``) and of the prediction of the sample it draws (``pred_w``), and draws the code of
        that sample's error (docs/format.md, "Format 7"). Needs a `meta` predictor. :attr:`loop`
        says whether a model has it.

    Raises
    ------
    ModelFormatError
        If the arrays do not form a valid model.
    """

    def __init__(
        self,
        *,
        sample_rate,
        dilations,
        primers=None,
        meta=None,
        preemphasis=0.0,
        integration=0.0,
        shelf_zero=0.0,
        shelf_pole=0.0,
        voices=None,
        voice_emb=None,
        cond_w=None,
        primer_voices=None,
        time_tau=None,
        time_block=None,
        time_w=None,
        decay_w=None,
        output_filter=None,
        sig_w=None,
        pred_w=None,
        **weights,
    ):
        format2 = dict(
            voices=voices,
            voice_emb=voice_emb,
            cond_w=cond_w,
            primer_voices=primer_voices,
            time_tau=time_tau,
            time_block=time_block,
            time_w=time_w,
            decay_w=decay_w,
        )
        format2 = {k: v for k, v in format2.items() if v is not None}
        if isinstance(meta, dict) and "predictor" in meta:
            version = 6 if sig_w is None and pred_w is None else 7
            if output_filter is None:  # format 6 holds format 5's filter: the unit impulse
                n_voices = 0 if voices is None else len(voices)  # voices may be an array
                output_filter = np.ones((n_voices, 1) if n_voices else (1,), dtype=np.float32)
        elif output_filter is not None:
            version = 5
        elif _nonzero(shelf_zero) or _nonzero(shelf_pole):
            version = 4
        elif _nonzero(integration):
            version = 3
        else:
            version = 2 if format2 or _nonzero(preemphasis) else 1
        arrays = {
            "format_version": np.array(version),
            "sample_rate": _as_array("sample_rate", sample_rate),
            "dilations": _as_array("dilations", dilations),
        }
        unknown = set(weights) - set(_format.WEIGHT_KEYS)
        if unknown:
            raise TypeError(f"unknown model keys {sorted(unknown)!r}")
        for k, v in weights.items():
            arrays[k] = _as_array(k, v)
        for k in _format.WEIGHT_KEYS:
            if k not in arrays:
                raise ModelFormatError(f"model key {k!r}: missing")
        if version >= 2:
            coefficients = dict(
                preemphasis=(preemphasis, 2),  # each key with the version that brings it
                integration=(integration, 3),
                shelf_zero=(shelf_zero, 4),
                shelf_pole=(shelf_pole, 4),
            )
            for k, (v, since) in coefficients.items():
                if version >= since:
                    a = _as_array(k, v)
                    arrays[k] = a.astype(np.float32) if a.dtype.kind in "iuf" else a
            for k, v in format2.items():
                if k == "voices" and not isinstance(v, (np.ndarray, str)):
                    v = [str(x) if isinstance(x, str) else x for x in v]
                if k == "time_tau" and np.asarray(v).dtype.kind in "iuf":
                    v = np.asarray(v, dtype=np.float32)
                arrays[k] = _as_array(k, v)
        if output_filter is not None:
            arrays[_format.OUTPUT_FILTER_KEY] = _as_taps(output_filter)
        for k, v in zip(_format.LOOP_KEYS, (sig_w, pred_w)):
            if v is not None:
                arrays[k] = _as_array(k, v)
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
        self.format_version = info["version"]
        self.sample_rate = info["sample_rate"]
        self.dilations = info["dilations"]
        self.meta = info["meta"]
        self.primers = info["primers"]
        if self.primers is not None:
            self.primers.setflags(write=False)
        self.preemphasis = info["preemphasis"]
        self.integration = info["integration"]
        self.shelf_zero, self.shelf_pole = info["shelf_zero"], info["shelf_pole"]
        self.output_filter = info["output_filter"]  # read-only float32, or None
        self.voices = info["voices"]
        self.primer_voices = info["primer_voices"]
        if self.primer_voices is not None:
            self.primer_voices.setflags(write=False)
        self.time_tau, self.time_block = info["time_tau"], info["time_block"]
        if self.time_tau is not None:
            self.time_tau.setflags(write=False)
        self.decay, self.voice_decays = info["decay"], info["voice_decays"]
        self.envelope = info["envelope"]
        self.predictor = info["predictor"]
        self.loop = info["loop"]  # format 7: the predictor inside the sampling loop
        self._sizes = {k: info[k] for k in "LQRDS"}
        self.weights = {}
        keys = _format.WEIGHT_KEYS + (("voice_emb", "cond_w") if self.voices else ())
        keys += ("time_w",) if self.time_tau is not None else ()
        keys += (_format.DECAY_KEY,) if self.decay is not None else ()
        keys += _format.LOOP_KEYS if self.loop else ()
        for k in keys:
            a = np.array(arrays[k], dtype=np.float32, order="C")  # own, contiguous copy
            a.setflags(write=False)
            self.weights[k] = a
        inst = self.meta.get("instrument")
        self._default_voice = inst if inst in self.voices else None

    # -- voices ----------------------------------------------------------------------
    @property
    def default_voice(self):
        """The voice generation uses when given none (None: none; see :meth:`with_voice`).

        :func:`load_model` sets it when a shipped name is a voice of a
        conditioned model; a model file sets it with ``meta["instrument"]``.
        """
        return self._default_voice

    def with_voice(self, voice):
        """The same model (sharing its read-only weights) with `voice` as its default voice.

        Parameters
        ----------
        voice : str or None
            One of :attr:`voices`, or None for no default.

        Returns
        -------
        Model

        Raises
        ------
        GenerationError
            If the model has no such voice.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0, voices=["kick", "snare"])
        >>> m.with_voice("snare").default_voice, m.with_voice("snare").instrument
        ('snare', 'snare')
        """
        if voice is not None:
            if not isinstance(voice, str):
                raise GenerationError(f"a default voice must be one voice's name, got {voice!r}")
            self.voice_weights(voice)  # checks the name
        other = copy.copy(self)
        other._default_voice = voice
        return other

    def voice_weights(self, voice=None):
        """The normalised voice weights ``w`` (shape (V,)) that `voice` asks for.

        Parameters
        ----------
        voice : str, dict or None
            A voice name, or a blend ``{name: weight}`` (weights non-negative,
            not all zero; they are divided by their sum), or None for
            :attr:`default_voice`.

        Returns
        -------
        w : ndarray of float64, shape (V,)
            Non-negative, summing to 1.

        Raises
        ------
        GenerationError
            If the model is not conditioned, if `voice` is None and there is
            no default voice, or if it names voices the model does not have or
            has invalid weights.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0, voices=["kick", "snare", "tom_low"])
        >>> m.voice_weights({"tom_low": 1, "kick": 3}).tolist()
        [0.75, 0.0, 0.25]
        """
        if not self.voices:
            if voice is None:
                raise GenerationError("the model is not conditioned on a voice")
            raise GenerationError(
                f"voice={voice!r} given, but the model is not conditioned on voices"
            )
        if voice is None:
            voice = self._default_voice
            if voice is None:
                raise GenerationError(
                    f"the model is conditioned on voices {list(self.voices)!r} and has no default "
                    "voice: pass voice= (a name, or a blend such as {'kick': 0.5, 'tom_low': 0.5})"
                )
        w = np.zeros(len(self.voices))
        if isinstance(voice, str):
            voice = {voice: 1.0}
        if not isinstance(voice, dict) or not voice:
            raise GenerationError(
                f"voice must be a voice name or a non-empty dict of weights, got {voice!r}"
            )
        unknown = [k for k in voice if k not in self.voices]
        if unknown:
            raise GenerationError(
                f"unknown voices {unknown!r}; the model has {list(self.voices)!r}"
            )
        for k, v in voice.items():
            w[self.voices.index(k)] = _checks.number(
                f"voice weight of {k!r}", v, lo=0.0, error=GenerationError
            )
        total = w.sum()
        if not total > 0 or not math.isfinite(total):
            raise GenerationError(f"voice weights must not all be zero, got {voice!r}")
        return w / total

    def conditioning(self, voice=None, decay=None):
        """The per-layer bias ``(w @ voice_emb) @ cond_w[l]`` that `voice` adds to every z.

        A decay-conditioned model adds ``z * decay_w[l]`` for a clip of decay
        time `decay`: ``z = (ln decay - mean) / scale``, `mean` and `scale`
        those of :attr:`decay` (:func:`fastdrum._reference.decay_z`).

        Parameters
        ----------
        voice : str, dict or None
            As in :meth:`voice_weights`.
        decay : float, optional
            Seconds for the clip to fall 20 dB below its loudest 10 ms (see
            ``meta["decay"]["drop_db"]``). None adds no decay term (z = 0:
            the geometric mean of the training clips' decay times). Only for a
            decay-conditioned model.

        Returns
        -------
        bias : ndarray of float32, shape (L, 2D)
            Added to the gate pre-activation of every layer at every step
            (computed in float64, rounded once).

        Raises
        ------
        GenerationError
            As :meth:`voice_weights`; or if `decay` is not a finite number of
            seconds > 0, or is given to a model without decay conditioning.
        """
        w = self.voice_weights(voice)
        c = w @ self.weights["voice_emb"].astype(np.float64)
        bias = np.einsum("e,led->ld", c, self.weights["cond_w"].astype(np.float64))
        if decay is not None:
            bias = bias + self._decay_bias(decay)
        return np.ascontiguousarray(bias, dtype=np.float32)

    def _decay_bias(self, decay):
        """``z * decay_w`` (float64, (L, 2D)) of a clip of `decay` seconds; GenerationError if it cannot be."""
        if self.decay is None:
            raise GenerationError(
                f"decay={_checks.short(decay)} given, but the model is not conditioned on a "
                "decay time (it has no decay_w)"
            )
        d = _checks.decay(decay, error=GenerationError)
        z = _reference.decay_z(d, self.decay["mean"], self.decay["scale"])
        bias = z * self.weights[_format.DECAY_KEY].astype(np.float64)
        if not np.abs(bias).max() < np.finfo(np.float32).max:
            raise GenerationError(
                f"decay={d!r} s puts the conditioning bias beyond float32's range"
            )
        return bias

    def _envelope(self, n_samples, decay):
        """The envelope (float64, ``np.shape(decay) + (n_samples,)``) of clips of `decay` seconds
        (:func:`fastdrum._reference.envelope` with this envelope model's hold and floor)."""
        e = self.envelope
        return _reference.envelope(n_samples, self.sample_rate, decay, e["hold"], e["floor_db"])

    def _voice_defaults(self, voice):
        """Generation defaults for `voice` (a name or None): meta["generation"], then meta["voices"][voice]."""
        g = self.meta.get("generation")
        out = dict(g) if isinstance(g, dict) else {}
        per_voice = self.meta.get("voices")
        if (
            voice is not None
            and isinstance(per_voice, dict)
            and isinstance(per_voice.get(voice), dict)
        ):
            out.update(per_voice[voice])
        return out

    # -- description ---------------------------------------------------------------
    @property
    def instrument(self):
        """The instrument the model makes: its :attr:`default_voice`, else ``meta["instrument"]``, or None."""
        if self._default_voice is not None:
            return self._default_voice
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
        """Default clip duration in seconds, or None.

        The default voice's ``duration`` (``meta["voices"]``), else
        ``meta["generation"]["duration"]``, else ``meta["clip_duration"]``.
        """
        return self._voice_defaults(self._default_voice).get(
            "duration", self.meta.get("clip_duration")
        )

    @property
    def generation_defaults(self):
        """Recommended generation settings, or {}.

        ``meta["generation"]`` (temperature, primer_noise, duration), updated
        with the default voice's entry of ``meta["voices"]`` if there is one.
        """
        return self._voice_defaults(self._default_voice)

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
        input taps are unchanged, and so are a conditioned model's
        ``voice_emb`` and ``cond_w``, ``time_w`` and ``decay_w``: they make one bias per
        clip (or per block of steps), not a product per step, so rounding them
        would cost accuracy and save nothing. (A format-5 model's output filter is
        not a weight of the network: it is kept as it is too.) The result keeps its format and computes in float32; on the three
        format-1 models shipped before the conditioned one the teacher-forced
        likelihood moved by less than 1e-5 nats a sample. `meta["rounded_weights"]` records it.

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
                    f"model key {k!r}: {big} weights exceed float16's range ({_format.FLOAT16_MAX:g})"
                )
            arrays[k] = w.astype(np.float16).astype(np.float32)
        meta = dict(self.meta)
        meta["rounded_weights"] = "float16"
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        return Model._from_arrays(arrays)

    def __repr__(self):
        L, Q, R, D, S = (self._sizes[k] for k in "LQRDS")
        extra = f" voices={len(self.voices)}" if self.voices else ""
        a = self.preemphasis
        if isinstance(a, tuple):
            extra += " preemphasis=(" + ", ".join(f"{x:g}" for x in a) + ")"
        elif a:
            extra += f" preemphasis={a:g}"
        for name in ("integration", "shelf_zero", "shelf_pole"):
            b = getattr(self, name)
            if isinstance(b, tuple):
                extra += f" {name}=(" + ", ".join(f"{x:g}" for x in b) + ")"
            elif b:
                extra += f" {name}={b:g}"
        extra += f" time_features={len(self.time_tau)}" if self.time_tau is not None else ""
        extra += " decay_conditioned" if self.decay is not None else ""
        extra += " envelope" if self.envelope is not None else ""
        if self.predictor is not None:
            extra += " predictor=" + ",".join(f"{k}={v:g}" for k, v in self.predictor.items())
            extra += " in the loop" if self.loop else ""
        if self.output_filter is not None:
            extra += f" output_filter={self.output_filter.shape[-1]} taps"
        return (
            f"<fastdrum.Model instrument={self.instrument!r} sample_rate={self.sample_rate} "
            f"L={L} Q={Q} R={R} D={D} S={S} receptive_field={self.receptive_field}{extra}>"
        )

    def _arrays(self):
        arrays = {
            "format_version": np.array(self.format_version, dtype=np.int64),
            "sample_rate": np.array(self.sample_rate, dtype=np.int64),
            "dilations": np.array(self.dilations, dtype=np.int64),
        }
        arrays.update(self.weights)
        int_codes = np.int16 if self.quantization_channels <= 32768 else np.int32
        if self.primers is not None:
            arrays["primers"] = np.asarray(self.primers, dtype=int_codes)
        if self.format_version >= 2:
            arrays["preemphasis"] = np.array(self.preemphasis, dtype=np.float32)
            if self.format_version >= 3:
                arrays["integration"] = np.array(self.integration, dtype=np.float32)
            if self.format_version >= 4:
                arrays["shelf_zero"] = np.array(self.shelf_zero, dtype=np.float32)
                arrays["shelf_pole"] = np.array(self.shelf_pole, dtype=np.float32)
            if self.format_version >= 5:
                arrays[_format.OUTPUT_FILTER_KEY] = np.array(self.output_filter, dtype=np.float32)
            if self.voices:
                arrays["voices"] = np.array(self.voices, dtype=str)
            if self.primer_voices is not None:
                arrays["primer_voices"] = np.asarray(self.primer_voices, dtype=np.int16)
            if self.time_tau is not None:
                arrays["time_tau"] = np.array(self.time_tau, dtype=np.float32)
                arrays["time_block"] = np.array(self.time_block, dtype=np.int64)
        arrays["meta"] = np.array(json.dumps(self.meta, sort_keys=True))
        return arrays

    def _reference_weights(self):
        w = {k: self.weights[k] for k in _format.WEIGHT_KEYS}
        w["dilations"] = self.dilations
        if self.time_tau is not None:
            w.update(
                time_w=self.weights["time_w"], time_tau=self.time_tau, time_block=self.time_block
            )
        if self.loop:
            w.update({k: self.weights[k] for k in _format.LOOP_KEYS})
        return w

    def preemphasis_of(self, voice=None):
        """The pre-emphasis coefficient the clips of `voice` are modelled with (generation undoes it).

        :attr:`preemphasis` for a model with one coefficient (whatever `voice`
        is); for one with a coefficient a voice, that of `voice`, or for a blend
        the mean of the blend's voices' coefficients weighted as the blend
        (:meth:`voice_weights`; None is the default voice).

        Raises
        ------
        GenerationError
            If the model has a coefficient a voice and `voice` is not one of
            its voices or blends.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0, voices=["kick", "hihat"], preemphasis=[0.8, -0.4])
        >>> [round(m.preemphasis_of(v), 6) for v in ("kick", "hihat", {"kick": 1, "hihat": 3})]
        [0.8, -0.4, -0.1]
        """
        return self._coefficient_of(self.preemphasis, voice)

    def integration_of(self, voice=None):
        """The leaky-integration coefficient of `voice`'s clips, as :meth:`preemphasis_of` gives theirs.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0, voices=["kick", "hihat"], integration=[0.0, 0.9])
        >>> [round(m.integration_of(v), 6) for v in ("kick", "hihat", {"kick": 1, "hihat": 3})]
        [0.0, 0.9, 0.675]
        """
        return self._coefficient_of(self.integration, voice)

    def shelf_of(self, voice=None):
        """The low shelf ``(c, p)`` of `voice`'s clips (format 4), each as :meth:`preemphasis_of`
        gives its coefficient; ``(0.0, 0.0)`` before format 4 (no shelf).

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0, voices=["kick", "hihat"], shelf_zero=[0.99, 0.0],
        ...                  shelf_pole=[0.999, 0.0])
        >>> [tuple(round(x, 6) for x in m.shelf_of(v)) for v in ("kick", "hihat")]
        [(0.99, 0.999), (0.0, 0.0)]
        """
        return (
            self._coefficient_of(self.shelf_zero, voice),
            self._coefficient_of(self.shelf_pole, voice),
        )

    def output_filter_of(self, voice=None):
        """The output filter `voice`'s clips are taken through (format 5), float64 taps (K,), or
        None for a model without one.

        A model without voices has one filter (whatever `voice` is); a model with voices has one
        a voice: that of `voice`, or for a blend the mean of its voices' filters weighted as the
        blend (:meth:`voice_weights`; None is the default voice), as :meth:`preemphasis_of` gives
        a coefficient.

        Raises
        ------
        GenerationError
            If the model has a filter a voice and `voice` is not one of its voices or blends.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0, voices=["kick", "hihat"],
        ...                  output_filter=[[1.0, 0.0, 0.0], [0.5, 0.25, 0.25]])
        >>> m.output_filter_of("hihat").tolist(), m.output_filter_of({"kick": 1, "hihat": 3}).tolist()
        ([0.5, 0.25, 0.25], [0.625, 0.1875, 0.1875])
        >>> random_model(seed=0).output_filter_of() is None
        True
        """
        h = self.output_filter
        if h is None:
            return None
        if h.ndim == 1:
            return h.astype(np.float64)
        return self.voice_weights(voice) @ h.astype(np.float64)

    def with_output_filter(self, filters):
        """A new model (format 5), this one with the output filter `filters` (the same network,
        primers and meta; its default voice kept).

        Parameters
        ----------
        filters : array_like of float, shape (K,) or (V, K), or None
            As the `output_filter` of :class:`Model`: (K,) for a model without voices, one row a
            voice for a model with them. None removes the model's filter: the result is the
            model at the version it has without one (4 with a low shelf, 3 with integration, 2
            with any other format-2 key, else 1; a model without a filter keeps its version), or
            for a model with a predictor (format 6, which keeps a filter) the unit impulse.

        Returns
        -------
        Model

        Raises
        ------
        ModelFormatError
            If `filters` is not a valid output filter for this model.

        Examples
        --------
        >>> from fastdrum.testing import random_model
        >>> m = random_model(seed=0, shelf_zero=0.9, shelf_pole=0.99)
        >>> f = m.with_output_filter([1.0, -0.5])
        >>> f.format_version, f.output_filter.tolist(), f.with_output_filter(None).format_version
        (5, [1.0, -0.5], 4)
        """
        arrays = self._arrays()
        if filters is None and self.predictor is not None:  # format 6 keeps one: the unit impulse
            filters = np.ones((len(self.voices), 1) if self.voices else (1,), dtype=np.float32)
        if filters is None:
            if self.output_filter is not None:
                del arrays[_format.OUTPUT_FILTER_KEY]
                arrays["format_version"] = np.array(self._version_without_filter(), np.int64)
        else:
            version = (7 if self.loop else 6) if self.predictor else 5
            arrays["format_version"] = np.array(version, dtype=np.int64)
            for k in ("preemphasis", "integration", "shelf_zero", "shelf_pole"):
                arrays[k] = np.array(getattr(self, k), dtype=np.float32)
            arrays[_format.OUTPUT_FILTER_KEY] = _as_taps(filters)
        other = Model._from_arrays(arrays)
        other._default_voice = self._default_voice
        return other

    def _version_without_filter(self):
        """The format that holds this model without its output filter (as :class:`Model` picks)."""
        if _nonzero(self.shelf_zero) or _nonzero(self.shelf_pole):
            return 4
        if _nonzero(self.integration):
            return 3
        conditioned = self.voices or self.time_tau is not None or self.decay is not None
        return 2 if conditioned or _nonzero(self.preemphasis) else 1

    def _coefficient_of(self, values, voice):
        if not isinstance(values, tuple):
            return values
        w = self.voice_weights(voice)
        # The weighted mean, within the values despite rounding.
        return float(np.clip(np.dot(w, values), min(values), max(values)))

    def _check_voice(self, voice, decay=None):
        """The (L, 2D) conditioning bias of `voice` (and `decay`), or None for an unconditioned model."""
        if not self.voices:
            if voice is not None:
                self.voice_weights(voice)  # raises: not conditioned
            if decay is not None:
                self._decay_bias(decay)  # raises: not decay-conditioned
            return None
        return self.conditioning(voice, decay=decay)

    def save(self, path, *, overwrite=False):
        """Write the model to `path` in its format (:attr:`format_version`), atomically.

        The file is written under a temporary name in the same folder, flushed
        to the disk and renamed into place, as every file fastdrum writes.

        Parameters
        ----------
        path : str or os.PathLike
        overwrite : bool, default False
            Replace an existing file (as every fastdrum writer, only when asked).

        Raises
        ------
        OutputExistsError
            A FileExistsError: `path` exists and `overwrite` is False.
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
            raise LimitExceededError(
                f"{codes.size} codes exceed max_samples={max_samples} "
                "(pass a larger max_samples= to allow it)"
            )
        if codes.dtype.kind not in "iu":
            raise GenerationError(f"codes must be integers, got dtype {codes.dtype}")
        if codes.ndim != 1 or codes.size == 0:
            raise GenerationError(f"codes must be a non-empty 1-D array, got shape {codes.shape}")
        q = self.quantization_channels
        if codes.min() < 0 or codes.max() >= q:
            raise GenerationError(
                f"codes must lie in [0, {q}), got range [{codes.min()}, {codes.max()}]"
            )
        return codes.astype(np.int64)

    def forward(
        self,
        codes,
        *,
        voice=None,
        decay=None,
        dtype=np.float32,
        max_samples=MAX_FORWARD_SAMPLES,
        signal=None,
        predictions=None,
    ):
        """Logits of the whole sequence: the non-incremental definition of the network.

        Parameters
        ----------
        codes : array_like of int, shape (T,)
            mu-law codes in ``[0, Q)``.
        voice : str or dict, optional
            A conditioned model's voice or blend (see :meth:`voice_weights`;
            default :attr:`default_voice`). Not allowed for an unconditioned model.
        decay : float, optional
            A decay-conditioned model's decay time in seconds (see
            :meth:`conditioning`; None: no decay term).
        dtype : numpy dtype, default float32
            Precision of the computation: float32 or float64.
        max_samples : int, default 2**18
            Refuse longer sequences (every step's activations are kept).
        signal, predictions : array_like of int, shape (T,)
            A format-7 model's (:attr:`loop`; required there, refused elsewhere): step t's code of
            the decoded sample t and of the prediction of sample t + 1, fed beside ``codes[t]``, the
            error's (:func:`fastdrum.predictor.loop_inputs`).

        Returns
        -------
        logits : ndarray, shape (T, Q)
            ``logits[t]`` is the (unnormalised log) distribution of ``codes[t+1]`` (of a format-7
            model: of the code of the error of sample t + 1).

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
        cond = self._check_voice(voice, decay)
        codes = self._check_codes(codes, max_samples)
        loop = {"signal": signal, "predictions": predictions}
        for name, v in loop.items():
            if (v is None) == self.loop:
                raise GenerationError(
                    f"{name}= is required by a format-7 model (its predictor in the loop) and "
                    "refused by any other"
                )
            if v is not None:
                loop[name] = self._check_codes(v, max_samples)
                if loop[name].shape != codes.shape:
                    raise GenerationError(
                        f"{name} must have the codes' shape {codes.shape}, got {loop[name].shape}"
                    )
        return _reference.forward(self._reference_weights(), codes, dtype=dt, cond=cond, **loop)

    def _loop_inputs(self, codes):
        """A format-7 model's other inputs along its error codes: ``{"signal", "predictions"}``,
        the codes of each decoded sample and of the prediction of the next (the loop's decoder,
        :func:`fastdrum.predictor.synthesise`; the last step's prediction, never scored, silence)."""
        p, Q = self.predictor, self.quantization_channels
        errors = mu_law_decode(codes, Q).astype(np.float64) / np.float64(p["gain"])
        y = predictor.synthesise(errors, p["order"], p["window"], p["hop"])
        signal, predictions = predictor.loop_codes(codes, y, p["hop"], p["gain"], Q)
        return dict(signal=signal, predictions=np.append(predictions[1:], silence_code(Q)))

    def log_prob(self, y, *, codes=False, voice=None, decay=None, max_samples=MAX_FORWARD_SAMPLES):
        """Log-likelihood (nats) of a clip under the model.

        The first sample is given (not scored); each later one is scored by the
        distribution the network predicts from the samples before it.

        Parameters
        ----------
        y : array_like, shape (T,)
            Audio in [-1, 1], or codes if `codes` is True (a model with an
            output filter, format 5 to 7, scores codes only: the filter is not inverted; a format-7
            model is fed the loop's decoded samples and predictions of the error codes, as
            :func:`fastdrum.generate` feeds it). Audio is
            pre-emphasised (:func:`fastdrum.mulaw.preemphasis` with
            :attr:`preemphasis`) and mu-law encoded first, as in training;
            for an envelope model it is first divided by the envelope of
            `decay` and clipped to [-1, 1], as in training (codes are taken
            to be of that normalised signal).
        codes : bool, default False
        voice : str or dict, optional
            As in :meth:`forward`.
        decay : float, optional
            As in :meth:`forward`; an envelope model needs it to score audio.
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
        cond = self._check_voice(voice, decay)
        if codes:
            q = self._check_codes(y, max_samples)
        else:
            if self.output_filter is not None:
                raise GenerationError(
                    "a model with an output filter (format 5 to 7) scores codes (codes=True), not "
                    "audio: its filter is not inverted"
                )
            max_samples = _check_max_samples(max_samples)
            try:
                y = np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise GenerationError(f"y must be a 1-D array of numbers ({exc})") from None
            if y.size > max_samples:
                raise LimitExceededError(
                    f"{y.size} samples exceed max_samples={max_samples} "
                    "(pass a larger max_samples= to allow it)"
                )
            if y.ndim != 1 or y.size == 0:
                raise GenerationError(f"y must be a non-empty 1-D array, got shape {y.shape}")
            if not np.isfinite(y).all():
                raise GenerationError("y contains NaN or Inf")
            if self.envelope is not None:
                if decay is None:
                    raise GenerationError(
                        "an envelope model scores audio divided by the envelope of its decay time: "
                        "pass decay= (or codes=True with codes of the normalised signal)"
                    )
                y = np.clip(y / self._envelope(len(y), float(decay)), -1.0, 1.0)
            e = preemphasis(
                y, self.preemphasis_of(voice), self.integration_of(voice), self.shelf_of(voice)
            )
            q = mu_law_encode(e, self.quantization_channels).astype(np.int64)
        if len(q) < 2:
            return 0.0
        loop = self._loop_inputs(q) if self.loop else {}
        W = self._reference_weights()
        logits = _reference.forward(W, q, dtype=np.float64, cond=cond, **loop)[:-1]
        m = logits.max(axis=1, keepdims=True)
        log_z = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
        return float((logits[np.arange(len(q) - 1), q[1:]] - log_z).sum())

    def generate(self, n=1, **kwargs):
        """Generate `n` clips; see :func:`fastdrum.generate` for the parameters."""
        from ._generate import generate

        return generate(self, n, **kwargs)
