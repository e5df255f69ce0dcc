"""The NumPy reference: the definition of the network, written for clarity.

Two views of the same maths (docs/format.md):

* :func:`forward`, the full causal convolution stack over a whole sequence,
  non-incremental: the definition everything else is tested against;
* :class:`State`, the Fast WaveNet incremental generator (Paine et al. 2016):
  a ring buffer per dilated layer holding that layer's last ``d`` inputs, so
  that one step costs O(layers), not O(receptive field).

``State`` has the same interface as the compiled kernel's state
(``fastdrum._ext._wavenet.State``), so the front end drives both alike.
Nothing here is written for speed.
"""

import numpy as np

__all__ = ["forward", "sample", "guide", "time_bias", "decay_z", "envelope", "State"]


#: Entries of a weights mapping that are not float arrays of the network.
_NOT_WEIGHTS = ("dilations", "time_tau", "time_block")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _shift(x, d):
    """x(t - d) along axis 0, with causal zero padding before t = 0."""
    out = np.zeros_like(x)
    if d < len(x):
        out[d:] = x[: len(x) - d]
    return out


def _layer_bias(W, cond, dtype):
    """dil_b[l] + cond[..., l, :] for every layer: the bias of z (the conditioning folded in)."""
    if cond is None:
        return W["dil_b"]
    return (W["dil_b"].astype(np.float32) + np.asarray(cond, dtype=np.float32)).astype(dtype)


def time_bias(time_w, time_tau, time_block, t):
    """The bias of z that time-since-onset conditioning adds at step `t`: (L, 2D) float32.

    ``b = time_block * (t // time_block)``; feature k is ``exp(-b / time_tau[k])``
    (in float64, rounded to float32); layer l gets ``sum_k feature_k * time_w[l, k]``.
    Step 0 feeds the clip's first code. The bias changes once every
    `time_block` steps (docs/format.md).
    """
    b = int(time_block) * (int(t) // int(time_block))
    phi = np.exp(-b / np.asarray(time_tau, dtype=np.float64)).astype(np.float32)
    return np.einsum("k,lkd->ld", phi, np.asarray(time_w, dtype=np.float32))


def decay_z(seconds, mean, scale):
    """The decay feature of a clip of decay time `seconds`: ``(ln seconds - mean) / scale``, float64.

    `mean` and `scale` are those of ln d over a decay-conditioned model's
    training clips (``meta["decay"]``), so the training clips' z have mean 0
    and standard deviation 1 (or less, where the scale was floored). Layer l
    of such a model adds ``z * decay_w[l]`` to the clip's conditioning bias
    (:meth:`fastdrum.Model.conditioning`; docs/format.md). Works on arrays too.
    """
    return (np.log(np.asarray(seconds, dtype=np.float64)) - float(mean)) / float(scale)


def envelope(n_samples, sample_rate, decay, hold, floor_db):
    """The envelope of an envelope-normalised model's clip of decay time `decay`: float64.

    ``env(t) = max(10 ** (-max(0, t - hold) / decay), 10 ** (floor_db / 20))`` at
    ``t = i / sample_rate``, ``i = 0 .. n_samples - 1`` (t counted from the clip's onset), computed
    in float64: 1 for the first `hold` seconds, then falling 20 dB every `decay` seconds (the
    clip's decay time: for an envelope model, the upper contour of its training clip) down to
    `floor_db`. ``decay = inf`` gives 1 everywhere. Training divides each clip by it and
    generation multiplies each clip by it (docs/format.md, "Envelope"); this function is the one
    definition both use.

    Parameters
    ----------
    n_samples : int
    sample_rate : int or float
    decay : float or array_like of float
        Seconds, > 0 (inf allowed); an array gives one envelope per value.
    hold : float
        Seconds, >= 0.
    floor_db : float
        dB, <= 0.

    Returns
    -------
    env : ndarray of float64, shape ``np.shape(decay) + (n_samples,)``

    Examples
    --------
    >>> envelope(5, 4, 0.25, 0.25, -50.0).tolist()  # the floor: 10 ** (-50 / 20)
    [1.0, 1.0, 0.1, 0.01, 0.0031622776601683794]
    """
    d = np.asarray(decay, dtype=np.float64)
    if not (d > 0).all():  # also False for NaN
        raise ValueError(f"decay must be seconds > 0 (inf allowed), got {decay!r}")
    t = np.arange(int(n_samples), dtype=np.float64) / float(sample_rate)
    fall = 10.0 ** (-np.maximum(0.0, t - float(hold)) / d[..., None])
    return np.maximum(fall, 10.0 ** (float(floor_db) / 20.0))


def _time_biases(w, T, dtype):
    """(T, L, 2D) time biases of steps 0..T-1, or None for a model without time conditioning."""
    if "time_w" not in w:
        return None
    block = int(w["time_block"])
    per_block = [
        time_bias(w["time_w"], w["time_tau"], block, t).astype(dtype) for t in range(0, T, block)
    ]
    return np.repeat(np.stack(per_block), block, axis=0)[:T]


def forward(w, codes, dtype=np.float32, cond=None, signal=None, predictions=None):
    """Logits of every step of a code sequence: ``logits[t]`` predicts ``codes[t+1]``.

    Parameters
    ----------
    w : mapping
        The format-1 arrays (``input_w``, ``dil_w``, ...) and ``dilations``.
    codes : ndarray of int, shape (T,)
    dtype : numpy dtype
        Precision of the computation (float64 for tight comparisons).
    cond : ndarray of float32, shape (L, 2D), optional
        A conditioned model's bias ``c @ cond_w[l]`` (format 2), added to z
        of layer l at every step (the sum with ``dil_b`` is taken in float32,
        as the kernel does).

    A time-conditioned model (``time_w``, ``time_tau``, ``time_block`` in `w`)
    adds :func:`time_bias` of step t to every layer's z; ``codes[0]`` is step 0.
    A format-7 model (``sig_w`` and ``pred_w`` in `w`) is also fed `signal` and `predictions` (T,),
    the codes of the decoded sample t and of the prediction of sample t + 1 (whose error's code
    ``logits[t]`` is of): ``sig_w[signal[t]] + pred_w[predictions[t]]`` is added to the input
    layer's output at step t.

    Returns
    -------
    logits : ndarray, shape (T, Q)
    """
    W = {k: np.asarray(v, dtype=dtype) for k, v in w.items() if k not in _NOT_WEIGHTS}
    codes = np.asarray(codes)
    D = W["dil_b"].shape[1] // 2
    # Input layer: a causal convolution of width 2 over one-hot codes,
    # i.e. two table look-ups; the tap at t - 1 is all-zero at t = 0.
    x = W["input_w"][1][codes] + W["input_b"]
    x[1:] += W["input_w"][0][codes[:-1]]
    if "pred_w" in W:
        x = x + W["sig_w"][np.asarray(signal)] + W["pred_w"][np.asarray(predictions)]
    bias = _layer_bias(W, cond, dtype)
    tb = _time_biases(w, len(codes), dtype)
    skip = 0.0
    for l, d in enumerate(w["dilations"]):
        z = _shift(x, d) @ W["dil_w"][l, 0] + x @ W["dil_w"][l, 1] + bias[l]
        if tb is not None:
            z = z + tb[:, l]
        h = np.tanh(z[:, :D]) * _sigmoid(z[:, D:])
        skip = skip + h @ W["skip_w"][l] + W["skip_b"][l]
        x = x + h @ W["res_w"][l] + W["res_b"][l]
    hidden = np.maximum(np.maximum(skip, 0) @ W["out1_w"] + W["out1_b"], 0)
    return hidden @ W["out2_w"] + W["out2_b"]


def sample(logits, uniforms, temperature, epsilon=0.0):
    """Draw one code per row from ``softmax(logits / temperature)``, cut off at `epsilon`.

    The rule (the compiled kernel implements the same one, so both pick the
    same code from the same uniform, up to float32 rounding at a CDF boundary
    or at the cutoff):

    * ``temperature == 0``: argmax (the first maximum); `epsilon` is ignored.
    * Otherwise ``z = logits / float32(temperature)``; ``p = exp(z - max z)``
      computed in float32, then taken as float64 (unnormalised; the most
      probable code has p exactly 1).
    * If ``epsilon > 0`` (epsilon sampling, Hewitt et al. 2022; LPCNet's
      sampling threshold): ``total`` = the float64 sum of p over the row;
      ``threshold = min(epsilon * total, 1.0)``; every p below threshold is
      set to 0 (so the most probable code always survives, even when epsilon
      exceeds its probability). ``epsilon == 0`` skips this step entirely.
    * The draw is inverse-CDF sampling with a pre-drawn uniform ``u`` in
      [0, 1): the first code whose cumulative sum of p (float64) exceeds
      ``u * (sum of the kept p)``. Since u < 1 that code exists and has
      p > 0 (the clamp to Q - 1 below is a guard). The kernel's AVX2 draw sums
      the total in another order; where that total rounds above the running
      sum and u is within an ulp of 1, it takes the last code with p > 0.

    Parameters
    ----------
    logits : ndarray, shape (B, Q)
    uniforms : ndarray, shape (B,)
    temperature : float, >= 0
    epsilon : float in [0, 1), default 0
        Probability cutoff: codes whose probability (after the temperature)
        is below it are never drawn.

    Returns
    -------
    codes : ndarray of int32, shape (B,)
    """
    logits = np.asarray(logits)
    if temperature == 0:
        return np.argmax(logits, axis=1).astype(np.int32)
    z = logits / np.float32(temperature)
    p = np.exp((z - z.max(axis=1, keepdims=True)).astype(np.float32)).astype(np.float64)
    if epsilon > 0:
        threshold = np.minimum(epsilon * p.sum(axis=1, keepdims=True), 1.0)
        p = np.where(p < threshold, 0.0, p)
    cdf = np.cumsum(p, axis=1)
    threshold = np.asarray(uniforms, dtype=np.float64) * cdf[:, -1]
    k = (cdf <= threshold[:, None]).sum(axis=1)
    return np.minimum(k, logits.shape[1] - 1).astype(np.int32)


def guide(logits, negative, guidance):
    """Negative-voice guidance: ``logits + guidance * (logits - negative)``, rounded to float32.

    `logits` and `negative` are a voice's and the negative voice's logits of the same step (rows
    alike); the draw is then :func:`sample` of the result. The rule, which the compiled kernel
    follows: the difference in float32, ``guidance`` taken as float32, the rest in float64 (where
    the product of two float32 values is exact), rounded once to float32. ``guidance = 0`` gives
    `logits` back; larger weights move probability towards codes the voice makes likelier than
    the negative voice does (the classifier-free guidance of Ho and Salimans 2022, with the
    negative voice in place of the unconditional model).

    Examples
    --------
    >>> guide(np.array([[1.0, 0.0]], np.float32), np.array([[0.0, 0.0]], np.float32), 2.0)
    array([[3., 0.]], dtype=float32)
    """
    l = np.asarray(logits, dtype=np.float32)
    d = (l - np.asarray(negative, dtype=np.float32)).astype(np.float64)
    return (l.astype(np.float64) + np.float64(np.float32(guidance)) * d).astype(np.float32)


class State:
    """Incremental generation state for a batch of rows (the reference).

    Parameters
    ----------
    w : mapping
        The format-1 arrays and ``dilations``.
    batch_size : int
    dtype : numpy dtype, default float32
    cond : ndarray of float32, shape (batch_size, L, 2D), optional
        Per-row conditioning bias (format 2), added to z of every layer at
        every step.
    guidance : float, optional
        Negative-voice guidance: rows come in pairs (row 2k conditioned on a voice, row 2k + 1
        on the voice to steer away from, both fed the same codes); each pair draws one code by
        :func:`sample` of :func:`guide` of its two rows' logits, with row 2k's uniform (row
        2k + 1's is not used). `batch_size` must be even.

    A time-conditioned model's weights (``time_w``, ``time_tau``,
    ``time_block``) add :func:`time_bias` of the step count: the first
    :meth:`step` is step 0.
    """

    def __init__(self, w, batch_size, dtype=np.float32, cond=None, guidance=None):
        if guidance is not None and int(batch_size) % 2:
            raise ValueError(f"a guided State's rows come in pairs, got batch_size {batch_size}")
        self.guidance = guidance
        self.w = {k: np.asarray(v, dtype=dtype) for k, v in w.items() if k not in _NOT_WEIGHTS}
        self.time = (w["time_w"], w["time_tau"], w["time_block"]) if "time_w" in w else None
        self.dtype = dtype
        self.t = 0  # the step the next call of step() runs
        self.dilations = [int(d) for d in w["dilations"]]
        self.batch_size = int(batch_size)
        # (L, 2D) shared, or (B, L, 2D) one per row; indexed [..., l, :] either way
        self.bias = _layer_bias(self.w, cond, dtype)
        R = self.w["input_b"].shape[0]
        self.D = self.w["dil_b"].shape[1] // 2
        # One ring buffer per layer: its last d inputs; zeros are the causal padding.
        self.queues = [np.zeros((d, self.batch_size, R), dtype=dtype) for d in self.dilations]
        self.heads = [0] * len(self.dilations)
        self.prev_codes = None  # q(t-1); None before t = 0 (an all-zero one-hot)

    def step(self, codes, signal=None, predictions=None):
        """Feed q(t) for every row; return the logits of q(t+1), shape (B, Q).

        A format-7 model is fed `signal` and `predictions` too: each row's code of the decoded
        sample t and of the prediction of sample t + 1 (:class:`fastdrum.predictor.Loop` runs it)."""
        W, D = self.w, self.D
        x = W["input_w"][1][codes] + W["input_b"]
        if self.prev_codes is not None:
            x = x + W["input_w"][0][self.prev_codes]
        if "pred_w" in W:
            x = x + W["sig_w"][signal] + W["pred_w"][predictions]
        self.prev_codes = np.array(codes)
        tb = None if self.time is None else time_bias(*self.time, self.t).astype(self.dtype)
        self.t += 1
        skip = 0.0
        for l, d in enumerate(self.dilations):
            queue, head = self.queues[l], self.heads[l]
            x_old = queue[head].copy()  # x_l(t - d)
            queue[head] = x  # x_l(t) replaces it
            self.heads[l] = (head + 1) % d
            z = x_old @ W["dil_w"][l, 0] + x @ W["dil_w"][l, 1] + self.bias[..., l, :]
            if tb is not None:
                z = z + tb[l]
            h = np.tanh(z[:, :D]) * _sigmoid(z[:, D:])
            skip = skip + h @ W["skip_w"][l] + W["skip_b"][l]
            x = x + h @ W["res_w"][l] + W["res_b"][l]
        hidden = np.maximum(np.maximum(skip, 0) @ W["out1_w"] + W["out1_b"], 0)
        return hidden @ W["out2_w"] + W["out2_b"]

    def run(
        self, codes, n_primer, uniforms, temperature, start, stop, logits_out=None, epsilon=0.0
    ):
        """Advance steps ``t = start .. stop - 1``.

        Step ``t`` feeds ``codes[:, t]``; if ``t + 1 >= n_primer`` it samples
        ``codes[:, t + 1]`` from the logits with ``uniforms[:, t - start]``
        (teacher forcing below ``n_primer``), by :func:`sample` with
        `temperature` and `epsilon`. ``logits_out[:, t - start]``
        receives the logits when given. `codes` is modified in place.
        """
        if start != self.t:
            raise ValueError(f"run starts at step {start}, but the state is at step {self.t}")
        for t in range(start, stop):
            logits = self.step(codes[:, t])
            if logits_out is not None:
                logits_out[:, t - start] = logits
            if t + 1 >= n_primer and t + 1 < codes.shape[1]:
                codes[:, t + 1] = self.draw(logits, uniforms[:, t - start], temperature, epsilon)

    def draw(self, logits, uniforms, temperature, epsilon=0.0):
        """Each row's code drawn from `logits` (B, Q) with `uniforms` (B,): :func:`sample`, or for a
        guided state :func:`sample` of :func:`guide` of each pair's logits with the pair's first
        uniform, the code given to both rows."""
        if self.guidance is None:
            return sample(logits, uniforms, temperature, epsilon)
        g = guide(logits[0::2], logits[1::2], self.guidance)
        return np.repeat(sample(g, uniforms[0::2], temperature, epsilon), 2)
