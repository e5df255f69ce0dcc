"""The front end of generation: checks every argument, then drives a backend."""

import contextlib

import numpy as np

from . import _backends, _checks, predictor
from .errors import GenerationError, LimitExceededError
from .model import as_model
from .mulaw import deemphasis, fir_filter, mu_law_decode, mu_law_encode, silence_code

__all__ = ["generate", "DEFAULT_MAX_SAMPLES"]

#: Default cap on ``n * duration * sample_rate`` for one call (about 400 MB of
#: working memory); pass ``max_samples=`` to raise it deliberately.
DEFAULT_MAX_SAMPLES = 50_000_000

#: Cap on the generation state of one batch: a ring buffer of d steps of R
#: float32 channels per layer and clip, batch x sum(dilations) x R x 4 bytes.
#: A tiny model file can declare dilations that make this gigabytes.
MAX_STATE_BYTES = 2**30

#: Steps per call into the backend: between calls, progress is reported and
#: Ctrl-C is honoured.
_CHUNK = 2048


def _primer_pool(model, voice):
    """The primer rows generation may draw from: all, or those of `voice` (an index), or None."""
    if model.primers is None:
        return None
    if voice is None or model.primer_voices is None:
        return model.primers
    rows = model.primers[model.primer_voices == voice]
    return rows if len(rows) else None


def _primers(model, primer, n, T, noise, rngs, voice=None):
    """Return the (n, P) int32 primer codes, one row per clip.

    `voice` (an index into ``model.voices``, or None) restricts ``"data"`` to
    the primers of that voice.
    """
    q = model.quantization_channels
    if isinstance(primer, str):
        pool = _primer_pool(model, voice)
        if primer == "auto":
            primer = "data" if pool is not None else "silence"
        if primer == "silence":
            return np.full((n, 1), silence_code(q), dtype=np.int32)
        if primer == "data":
            if pool is None:
                if model.primers is None:
                    raise GenerationError(
                        "primer='data' needs a model with primers; this one has none"
                    )
                raise GenerationError(
                    f"primer='data': the model has no primers of voice {model.voices[voice]!r}"
                )
            P = min(pool.shape[1], T)
            rows = []
            for rng in rngs:
                codes = pool[rng.integers(len(pool)), :P]
                if noise > 0:
                    y = mu_law_decode(codes, q) + rng.normal(0.0, noise, size=P)
                    codes = mu_law_encode(y, q)
                rows.append(codes)
            return np.asarray(rows, dtype=np.int32)
        raise GenerationError(
            f"primer must be 'auto', 'data', 'silence' or an array of codes, got {primer!r}"
        )
    codes = np.asarray(primer)
    if codes.dtype.kind not in "iu":
        raise GenerationError(f"primer codes must be integers, got dtype {codes.dtype}")
    if codes.ndim == 1:
        codes = np.broadcast_to(codes, (n, codes.shape[0]))
    if codes.ndim != 2 or codes.shape[0] != n or codes.shape[1] == 0:
        raise GenerationError(
            f"primer must have shape (P,) or (n, P) = ({n}, P), got {codes.shape}"
        )
    if codes.shape[1] > T:
        raise GenerationError(
            f"primer of {codes.shape[1]} codes is longer than the clip ({T} samples)"
        )
    if codes.min() < 0 or codes.max() >= q:
        raise GenerationError(
            f"primer codes must lie in [0, {q}), got range [{codes.min()}, {codes.max()}]"
        )
    return np.array(codes, dtype=np.int32, order="C")


def _finish(codes, model, decays=None, a=None, b=None, shelf=None, fir=None):
    """Codes to audio: mu-law decode; for a model with a predictor (format 6), the predictor run on
    the decoded errors (:func:`fastdrum.predictor.synthesise`); for a pre-emphasis model, de-emphasis with coefficient `a`
    (default :attr:`Model.preemphasis`; a model with one a voice needs it given) and, for one with
    leaky integration, its first difference with coefficient `b` (likewise), and for one with a
    low shelf, the shelf's inverse (`shelf`, ``(c, p)``; likewise); for an envelope
    model, times the envelope of each clip's decay time (`decays`, seconds, one per clip); for a
    model with an output filter (format 5), through the FIR filter `fir` (taps (K,); default the
    model's own, which a model with one a voice needs given: :meth:`Model.output_filter_of`);
    then, for any of these, peak limiting."""
    a = _voice_coefficient(model.preemphasis if a is None else a, "a pre-emphasis")
    b = _voice_coefficient(model.integration if b is None else b, "an integration")
    if shelf is None:
        shelf = tuple(
            _voice_coefficient(v, "a low shelf") for v in (model.shelf_zero, model.shelf_pole)
        )
    if fir is None and model.output_filter is not None:
        if model.output_filter.ndim != 1:
            raise GenerationError(
                "a model with an output filter a voice needs the voice's to be finished"
            )
        fir = model.output_filter
    y = mu_law_decode(codes, model.quantization_channels)
    if model.predictor is not None:  # format 6: the codes are the predictor's error's
        p = model.predictor
        y = predictor.synthesise(y / np.float64(p["gain"]), p["order"], p["window"], p["hop"])
    if a == 0 and b == 0 and shelf[0] == shelf[1] and model.envelope is None and fir is None:
        return y  # a = 0 is the identity: format-1 output exactly as it always was
    y = deemphasis(y, a, b, shelf)
    if model.envelope is not None:
        if decays is None:
            raise GenerationError("an envelope model's clips need their decay times to be finished")
        y = y * model._envelope(y.shape[-1], np.asarray(decays, dtype=np.float64))
    if fir is not None:
        y = fir_filter(y, fir)  # format 5's output filter, before the peak limit
    # De-emphasis can leave [-1, 1]: a clip whose peak exceeds 1 is divided by it.
    peak = np.abs(y).max(axis=-1, keepdims=True)
    return (y / np.maximum(peak, 1.0)).astype(np.float32)


def _voice_coefficient(value, what):
    if isinstance(value, tuple):
        raise GenerationError(f"a model with {what} a voice needs the voice's to be finished")
    return value


def _resolve_voice(model, voice):
    """(conditioning bias (L, 2D) or None, index of the heaviest voice or None)."""
    if not model.voices:
        if voice is not None:
            model.voice_weights(voice)  # raises: the model has no voices
        return None, None
    w = model.voice_weights(voice)
    return model.conditioning(voice), int(np.argmax(w))


def generate(
    instrument_or_model,
    n=1,
    *,
    voice=None,
    duration=None,
    seed=None,
    temperature=None,
    epsilon=None,
    negative_voice=None,
    guidance=None,
    decay=None,
    primer="auto",
    primer_noise=None,
    backend="auto",
    n_threads=1,
    batch_size=64,
    progress=False,
    max_samples=DEFAULT_MAX_SAMPLES,
):
    """Generate `n` drum clips from a WaveNet.

    Parameters
    ----------
    instrument_or_model : str, os.PathLike or Model
        A shipped model's name (e.g. ``"kick"``: a model file, or a voice of
        a shipped conditioned model), a model file, or a Model.
    n : int, default 1
        Number of clips.
    voice : str or dict, optional
        For a model conditioned on voices (format 2): a voice name, or a
        blend of voices ``{"tom_low": 0.5, "kick": 0.5}`` (non-negative
        weights, divided by their sum). Default: the model's
        ``default_voice`` (set when it was loaded by a voice's name); a
        conditioned model with neither is an error, and so is a voice for an
        unconditioned model. Per-voice defaults (``meta["voices"]``) and
        ``"data"`` primers are those of the voice (of a blend: its heaviest voice).
    duration : float, optional
        Seconds per clip; default the voice's or the model's recommended
        duration, else the model's ``meta["clip_duration"]``.
    seed : int or numpy.random.SeedSequence, optional
        Same seed, same clips on one backend, for any `n_threads` and
        `batch_size`: clip ``i`` draws from its own stream
        (``SeedSequence(seed).spawn(n)[i]``). Across backends (and where
        products go through OpenBLAS) a clip can part, differing from there
        on, where a uniform falls within float32 rounding of a boundary
        between two codes, or (with an `epsilon` cutoff) a code's probability
        within that rounding of the cutoff (docs/format.md). A SeedSequence
        object is spawned from, so passing the same object again gives new clips.
    temperature : float, optional
        Softmax temperature; 0 is argmax (deterministic) decoding. Default: the
        voice's recommended value (``meta["voices"][voice]["temperature"]``,
        chosen for each voice of the shipped model by ``training/tune.py``),
        else the model's (``meta["generation"]["temperature"]``), else 1.0.
    epsilon : float in [0, 1), optional
        Probability cutoff (epsilon sampling): codes whose probability, after
        the temperature, is below `epsilon` are never drawn, and the rest are
        drawn in proportion (the most probable code always stays). It removes
        the broadband hiss that unlikely codes add without narrowing the
        distribution as a lower temperature does. 0 draws from the whole
        softmax. Default: the voice's (``meta["voices"][voice]["epsilon"]``),
        else the model's (``meta["generation"]["epsilon"]``), else 0.
    negative_voice : str or dict, optional
        For a conditioned model: a voice (or blend) to steer away from. Every step also runs
        the network on it (a second row per clip: about twice the arithmetic, less than twice
        the time where streaming the weights bounds it) and draws from
        ``l + guidance * (l - n)``, where ``l`` and ``n`` are the logits of `voice` and of
        `negative_voice` (:func:`fastdrum._reference.guide`, then the temperature and
        `epsilon` as without). It moves probability to what tells the voice apart from its
        neighbour: open hats from closed ones, low toms from mid toms. Default: the voice's
        (``meta["voices"][voice]["negative_voice"]``, chosen with its `guidance` for the
        shipped model by ``training/tune.py``), else none; a blend of voices has none.
    guidance : float, optional
        The weight of `negative_voice`, in [0, 1000]; 0 turns guidance off. Default: the
        voice's (``meta["voices"][voice]["guidance"]``), else 1.0 when a `negative_voice` is
        given, else 0. A weight above 0 needs a negative voice.
    decay : float or array_like of float, optional
        For a model conditioned on the decay time (format 2's ``decay_w``):
        seconds for each clip to fall 20 dB below its loudest 10 ms, as the
        training clips were measured (``meta["decay"]``), one number for
        every clip or `n` numbers, one per clip. Default: each clip draws one
        of its voice's training decay times (``meta["voices"][voice]["decays"]``;
        of a blend, its heaviest voice's) uniformly, from its own stream. That
        draw is made whether or not `decay` is given, so a seed's clips differ
        between decays only by the decay. Not allowed for a model without
        decay conditioning. An envelope model (``meta["envelope"]``)
        multiplies each clip by the envelope of its decay time (below).
    primer : {"auto", "data", "silence"} or array_like of int
        Known codes fed first (teacher forcing). ``"data"``: the first codes of
        a random training clip (the model's ``primers``) plus `primer_noise`;
        ``"silence"``: the silence code; ``"auto"``: ``"data"`` when the model
        has primers, else ``"silence"``; or codes of shape (P,) or (n, P).
        Codes are of the signal the network models: pre-emphasised and, for
        an envelope model, divided by the envelope (a ``"data"`` primer is
        so; codes you give are taken to be so, as is the noise added).
    primer_noise : float, optional
        Standard deviation of Gaussian noise added (in audio units) to a
        ``"data"`` primer, so clips start alike but not identically. Default:
        ``meta["generation"]["primer_noise"]``, else 0.0.
    backend : {"auto", "c", "numpy"}
        ``"c"``: the compiled kernel; ``"numpy"``: the reference; ``"auto"``:
        the kernel (an error says how to build it if it is missing).
    n_threads : int, default 1
        Threads the kernel splits each batch across (results do not change).
    batch_size : int, default 64
        Clips generated together (the rows of every matrix product).
    progress : bool, default False
        Show a tqdm progress bar.
    max_samples : int
        Refuse requests of more than ``n * duration * sample_rate`` samples.

    Returns
    -------
    y : ndarray of float32, shape (n, round(duration * sample_rate))
        Audio in [-1, 1] at ``model.sample_rate``; the primer is its start.
        For a model with pre-emphasis ``a`` (format 2), the mu-law decoded
        output is de-emphasised (:func:`fastdrum.mulaw.deemphasis`); for an
        envelope model it is multiplied by the envelope of each clip's decay
        time (:func:`fastdrum._reference.envelope`); for a model with an
        output filter (format 5) it is filtered with the voice's
        (:meth:`Model.output_filter_of`, :func:`fastdrum.mulaw.fir_filter`);
        then each clip whose peak exceeds 1 is divided by its peak.

    Raises
    ------
    GenerationError
        If an argument is invalid.
    LimitExceededError
        If the request exceeds `max_samples`.
    BackendUnavailableError
        If the requested backend is not available.

    Examples
    --------
    >>> from fastdrum.testing import random_model
    >>> m = random_model(seed=0, sample_rate=8000)
    >>> y = generate(m, 2, duration=0.01, seed=1, backend="numpy")
    >>> y.shape, y.dtype
    ((2, 80), dtype('float32'))
    >>> bool(np.array_equal(y, generate(m, 2, duration=0.01, seed=1, backend="numpy")))
    True
    """
    model = as_model(instrument_or_model)
    n = _checks.integer("n", n, lo=1, error=GenerationError)
    cond, heaviest = _resolve_voice(model, voice)
    a, b, shelf = model.preemphasis_of(voice), model.integration_of(voice), model.shelf_of(voice)
    fir = model.output_filter_of(voice)  # format 5's, or None
    defaults = model._voice_defaults(None if heaviest is None else model.voices[heaviest])
    duration, temperature, epsilon, primer_noise = _sampling_options(
        model, defaults, duration, temperature, epsilon, primer_noise
    )
    # A voice's default guidance is for that voice: a blend gets guidance only when asked.
    negative_voice, guidance = _guidance_options(
        model, {} if isinstance(voice, dict) else defaults, negative_voice, guidance
    )
    pairs = 2 if guidance else 1  # rows a clip takes: the voice's, and the negative voice's
    progress = _checks.flag("progress", progress, error=GenerationError)
    n_threads = _checks.integer("n_threads", n_threads, lo=1, hi=256, error=GenerationError)
    batch_size = _checks.integer("batch_size", batch_size, lo=1, hi=65536, error=GenerationError)
    T = _clip_samples(model, n, duration, max_samples)
    seq = _checks.seed_sequence(seed, GenerationError)
    _primers(model, primer, n, T, primer_noise, [], heaviest)  # check it up front (draws nothing)
    decays = _decays(model, decay, n)
    _check_state_bytes(model, pairs * min(batch_size, n))
    State = _backends.get(backend)

    out = np.empty((n, T), dtype=np.float32)
    with _progress_bar(progress, model, n * (T - 1)) as bar:
        for b0 in range(0, n, batch_size):
            b1 = min(b0 + batch_size, n)
            # Clip i's stream is the i-th child of `seq` whatever the batch
            # size: spawning batch by batch yields the same children as
            # seq.spawn(n), without n Generators alive at once.
            rngs = [np.random.default_rng(s) for s in seq.spawn(b1 - b0)]
            primers = _primers(
                model, _primer_rows(primer, b0, b1), b1 - b0, T, primer_noise, rngs, heaviest
            )
            chosen = None  # each clip's decay time (a decay-conditioned model)
            if model.decay is None:
                rows = _rows(cond, b1 - b0)
            else:
                given = None if decays is None else decays[b0:b1]
                rows, chosen = _decay_rows(model, voice, heaviest, given, rngs)
            if pairs == 1:
                state = State(model, b1 - b0, n_threads=n_threads, cond=rows)
            else:
                rows = _guided_rows(model, rows, negative_voice, chosen)
                state = State(model, 2 * (b1 - b0), n_threads, rows, guidance=guidance)
                primers = np.repeat(primers, 2, axis=0)
            if model.loop and State is _backends.ReferenceState:  # the kernel runs it itself
                state = predictor.Loop(state, model.predictor, T, model.quantization_channels)
            codes = _sample(state, primers, T, rngs, temperature, epsilon, bar)
            out[b0:b1] = _finish(codes[::pairs], model, chosen, a, b, shelf, fir)
    return out


def _sampling_options(model, defaults, duration, temperature, epsilon, primer_noise):
    """(duration, temperature, epsilon, primer_noise): each argument, else its default, checked."""
    if duration is None:
        duration = defaults.get("duration", model.meta.get("clip_duration"))
        if duration is None:
            raise GenerationError("the model has no default clip_duration; pass duration=")
    duration = _checks.duration(duration, error=GenerationError)
    if temperature is None:
        temperature = defaults.get("temperature", 1.0)
    if epsilon is None:
        epsilon = defaults.get("epsilon", 0.0)
    if primer_noise is None:
        primer_noise = defaults.get("primer_noise", 0.0)
    temperature = _checks.temperature(temperature, error=GenerationError)
    epsilon = _checks.epsilon(epsilon, error=GenerationError)
    primer_noise = _checks.number("primer_noise", primer_noise, lo=0.0, error=GenerationError)
    return duration, temperature, epsilon, primer_noise


def _guidance_options(model, defaults, negative_voice, guidance):
    """(negative voice or None, guidance weight): the arguments, else the voice's defaults, checked.

    A weight of 0 (or none) gives (None, 0.0): generation without guidance.
    """
    if negative_voice is None:
        negative_voice = defaults.get("negative_voice")
        if guidance is None:
            guidance = defaults.get("guidance", 0.0) if negative_voice is not None else 0.0
    elif guidance is None:
        guidance = defaults.get("guidance", 1.0)
    lo, hi = _checks.GUIDANCE_RANGE
    guidance = _checks.number("guidance", guidance, lo=lo, hi=hi, error=GenerationError)
    if guidance == 0:
        return None, 0.0
    if negative_voice is None:
        raise GenerationError(f"guidance={guidance!r} needs a negative_voice to steer away from")
    if not model.voices:
        raise GenerationError(
            "negative_voice needs a model conditioned on voices; this one has none"
        )
    model.voice_weights(negative_voice)  # an unknown voice or a bad blend is refused here
    return negative_voice, guidance


def _guided_rows(model, rows, negative_voice, decays):
    """The conditioning of a guided batch, (2 rows, L, 2D): each clip's row (`rows`), then the
    negative voice's (with the clip's decay time, for a decay-conditioned model)."""
    if decays is None:
        neg = np.broadcast_to(model.conditioning(negative_voice), rows.shape)
    else:
        neg = np.stack([model.conditioning(negative_voice, decay=d) for d in decays])
    out = np.empty((2 * len(rows),) + rows.shape[1:], dtype=np.float32)
    out[0::2], out[1::2] = rows, neg
    return out


def _clip_samples(model, n, duration, max_samples):
    """Samples T of each clip, once ``n * T`` is known to be within `max_samples`."""
    max_samples = _checks.integer("max_samples", max_samples, lo=1, error=GenerationError)
    if duration * model.sample_rate > max_samples:  # before round(): a huge duration overflows it
        raise LimitExceededError(
            f"duration * sample_rate = {duration!r} * {model.sample_rate} samples exceeds "
            f"max_samples={max_samples} (pass a larger max_samples= to allow it)"
        )
    T = round(duration * model.sample_rate)
    if T < 1:
        raise GenerationError(
            f"duration {duration!r} s is shorter than one sample at {model.sample_rate} Hz"
        )
    if n * T > max_samples:
        raise LimitExceededError(
            f"n * duration * sample_rate = {n} * {T} = {n * T} samples exceeds "
            f"max_samples={max_samples} (pass a larger max_samples= to allow it)"
        )
    return T


def _check_state_bytes(model, rows):
    """Refuse a batch of `rows` clips whose ring buffers (and a format-7 model's predictor state,
    two windows of float64 samples and the coefficients a row) would exceed MAX_STATE_BYTES."""
    per_row = sum(model.dilations) * model.residual_channels * 4
    if model.loop:
        per_row += (2 * model.predictor["window"] + model.predictor["order"] + 1) * 8
    state_bytes = rows * per_row
    if state_bytes > MAX_STATE_BYTES:
        raise LimitExceededError(
            f"a batch of {rows} clips needs {state_bytes} bytes of generation state (receptive "
            f"field {model.receptive_field}, R={model.residual_channels}), more than "
            f"{MAX_STATE_BYTES}; lower batch_size="
        )


@contextlib.contextmanager
def _progress_bar(progress, model, total):
    """A tqdm bar of `total` samples if `progress`, else None; closed when the block ends."""
    if not progress:
        yield None
        return
    from tqdm.auto import tqdm

    desc = f"generating {model.instrument}" if model.instrument else "generating"
    bar = tqdm(total=total, unit="sample", unit_scale=True, desc=desc)
    try:
        yield bar
    finally:
        bar.close()


def _primer_rows(primer, b0, b1):
    """The primer of clips b0..b1: a name or a (P,) row as it is, rows b0:b1 of an (n, P) array."""
    if isinstance(primer, str):
        return primer
    primer = np.asarray(primer)
    return primer[b0:b1] if primer.ndim == 2 else primer


def _rows(cond, rows):
    """The conditioning bias repeated for each of `rows` clips (every clip has the same voice)."""
    if cond is None:
        return None
    return np.ascontiguousarray(np.broadcast_to(cond, (rows,) + cond.shape))


def _decays(model, decay, n):
    """`decay` as n seconds (float64), or None; GenerationError naming what is wrong."""
    if decay is None:
        return None
    if model.decay is None:
        raise GenerationError(
            f"decay={_checks.short(decay)} given, but the model is not conditioned on a decay "
            "time (it has no decay_w)"
        )
    if not isinstance(decay, (list, tuple, np.ndarray)):
        values = np.full(n, _checks.decay(decay, error=GenerationError))
        model._decay_bias(values[0])  # a bias beyond float32's range is refused before any work
        return values
    try:
        values = np.asarray(decay)
    except (TypeError, ValueError) as exc:  # e.g. a ragged nested list
        raise GenerationError(f"decay must be seconds, one number or {n} of them ({exc})") from None
    if values.shape != (n,):
        raise GenerationError(
            f"decay must be seconds, one number or {n} of them (one per clip), "
            f"got shape {values.shape}"
        )
    values = np.array(
        [
            _checks.decay(v, name=f"decay[{i}]", error=GenerationError)
            for i, v in enumerate(values.tolist())
        ]
    )
    for d in np.unique(values):
        model._decay_bias(d)
    return values


def _decay_rows(model, voice, heaviest, decays, rngs):
    """The conditioning bias of each clip of a decay-conditioned model, (rows, L, 2D) float32, and
    each clip's decay time (seconds, (rows,) float64: what an envelope model's envelope falls with).

    Every clip draws one of its voice's training decays from its rng (so that the draws after it
    are the same whether `decays` is given or not); `decays` (seconds, one per clip), if given,
    replaces the drawn ones.
    """
    pool = model.voice_decays[model.voices[heaviest]]
    drawn = [pool[rng.integers(len(pool))] for rng in rngs]
    chosen = np.asarray(drawn if decays is None else decays, dtype=np.float64)
    rows = np.stack([model.conditioning(voice, decay=d) for d in chosen])
    return np.ascontiguousarray(rows), chosen


def _sample(state, primers, T, rngs, temperature, epsilon, bar):
    """Run `state` from the primers to T codes a row, drawing each clip's uniforms from its rng.

    A guided state has two rows a clip (as many primers as rows); both get the clip's uniforms.
    """
    P = primers.shape[1]
    rows = len(primers) // len(rngs)
    codes = np.empty((len(primers), T), dtype=np.int32)
    codes[:, :P] = primers
    for start in range(0, T - 1, _CHUNK):
        stop = min(start + _CHUNK, T - 1)
        uniforms = np.empty((len(primers), stop - start), dtype=np.float64)
        for i, rng in enumerate(rngs):
            uniforms[rows * i : rows * (i + 1)] = rng.random(stop - start)
        state.run(codes, P, uniforms, temperature, start, stop, epsilon=epsilon)
        if bar is not None:
            bar.update(len(rngs) * (stop - start))
    return codes
