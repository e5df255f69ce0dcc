"""The original's generator, in TensorFlow 2: Fast WaveNet's queues as per-layer ring buffers.

Fast WaveNet (Paine et al. 2016, arXiv 1611.09482) generates one sample per
step and keeps, per layer, a queue of that layer's past inputs so a step costs
O(layers). This is that approach written with TensorFlow ops: a
``tf.function`` step over ``tf.Variable`` ring buffers, one Python call per
sample, as the original drum-machine experiment ran it. It loads a format-1
model, so benchmarks can compare fastdrum's kernel with it on equal terms.

Examples
--------
>>> from fastdrum.testing import random_model
>>> gen = TFGenerator(random_model(seed=0), batch_size=2)
>>> gen.generate(10, seed=0).shape
(2, 10)
"""

import numpy as np
import tensorflow as tf

import fastdrum
from fastdrum.mulaw import mu_law_decode, silence_code

from .errors import ConfigError

__all__ = ["TFGenerator"]


class TFGenerator:
    """Incremental generation with TensorFlow ring buffers.

    Parameters
    ----------
    model : fastdrum.Model, str or os.PathLike
        A model, a model file or a shipped model's name (:func:`fastdrum.load_model`), without any
        of format 2's additions (voices, time features, pre-emphasis, decay conditioning, an
        envelope): ConfigError names those it has.
    batch_size : int, default 1
        Clips generated together (rows of every matrix product).
    """

    def __init__(self, model, batch_size=1):
        if not isinstance(model, fastdrum.Model):
            model = fastdrum.load_model(model)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        missing = [
            what
            for what, has in (
                ("voice conditioning", bool(model.voices)),
                ("time features", model.time_tau is not None),
                ("pre-emphasis", bool(np.any(np.asarray(model.preemphasis) != 0))),
                ("integration", bool(np.any(np.asarray(model.integration) != 0))),
                ("decay conditioning", model.decay is not None),
                ("an envelope", model.envelope is not None),
            )
            if has
        ]
        if missing:  # format 2's additions: generating without them would be another network
            raise ConfigError(
                f"TFGenerator runs format-1 networks; this model has {', '.join(missing)} "
                "(use fastdrum.generate)"
            )
        self.model = model
        self.batch_size = B = int(batch_size)
        W = model.weights
        L, R, D = model.n_layers, model.residual_channels, model.dilation_channels
        self.Q, self.D = model.quantization_channels, D
        c = tf.constant
        self.input_w0, self.input_w1, self.input_b = (
            c(W["input_w"][0]),
            c(W["input_w"][1]),
            c(W["input_b"]),
        )
        # The two taps fused: [x(t-d), x(t)] @ dil_w[l].reshape(2R, 2D).
        self.dil_w = [c(W["dil_w"][l].reshape(2 * R, 2 * D)) for l in range(L)]
        self.dil_b = [c(W["dil_b"][l]) for l in range(L)]
        self.res_w = [c(W["res_w"][l]) for l in range(L)]
        self.res_b = [c(W["res_b"][l]) for l in range(L)]
        self.skip_w = [c(W["skip_w"][l]) for l in range(L)]
        self.skip_b = [c(W["skip_b"][l]) for l in range(L)]
        self.out1_w, self.out1_b = c(W["out1_w"]), c(W["out1_b"])
        self.out2_w, self.out2_b = c(W["out2_w"]), c(W["out2_b"])
        self.dilations = list(model.dilations)
        # Per layer, the last d inputs x_l; zeros are the causal padding before t = 0.
        self.queues = [tf.Variable(tf.zeros((d, B, R)), trainable=False) for d in self.dilations]
        self.prev_tap = tf.Variable(
            tf.zeros((B, R)), trainable=False
        )  # input_w[0][q(t-1)], 0 at t = 0
        self.t = tf.Variable(0, dtype=tf.int64, trainable=False)

    def reset(self):
        """Zero every ring buffer: the next step is t = 0."""
        for q in self.queues:
            q.assign(tf.zeros_like(q))
        self.prev_tap.assign(tf.zeros_like(self.prev_tap))
        self.t.assign(0)

    @tf.function
    def step(self, codes):
        """Feed q(t), a (B,) int32 tensor, at the next step t; return the logits (B, Q) of q(t+1).

        One step of the ring buffers, as :meth:`generate` makes them (``reset()`` starts at t = 0).
        """
        x = tf.gather(self.input_w1, codes) + self.input_b + self.prev_tap
        self.prev_tap.assign(tf.gather(self.input_w0, codes))
        skip = 0.0
        for l, d in enumerate(self.dilations):
            i = tf.reshape(self.t % d, (1, 1))
            x_old = tf.gather_nd(self.queues[l], i)[0]  # x_l(t - d)
            self.queues[l].scatter_nd_update(i, x[None])  # x_l(t) takes its place
            z = tf.concat([x_old, x], axis=1) @ self.dil_w[l] + self.dil_b[l]
            h = tf.tanh(z[:, : self.D]) * tf.sigmoid(z[:, self.D :])
            skip = skip + h @ self.skip_w[l] + self.skip_b[l]
            x = x + h @ self.res_w[l] + self.res_b[l]
        self.t.assign_add(1)
        hidden = tf.nn.relu(tf.nn.relu(skip) @ self.out1_w + self.out1_b)
        return hidden @ self.out2_w + self.out2_b

    @tf.function
    def sample_step(self, codes, uniforms, temperature):
        """:meth:`step`, then q(t+1) per row by inverse-CDF sampling: (B,) int32.

        `uniforms`: (B,) float32 tensor in [0, 1); `temperature`: float32 scalar tensor, 0 for argmax.
        """
        logits = self.step(codes)
        if temperature == 0.0:
            return tf.cast(tf.argmax(logits, axis=1), tf.int32)
        z = logits / temperature
        p = tf.exp(z - tf.reduce_max(z, axis=1, keepdims=True))
        cdf = tf.cumsum(p, axis=1)
        below = tf.cast(cdf <= (uniforms * cdf[:, -1])[:, None], tf.int32)
        return tf.minimum(tf.reduce_sum(below, axis=1), self.Q - 1)

    def teacher_forced_logits(self, codes):
        """Logits (B, T, Q) of every step when `codes` (B, T) or (T,) are fed in turn."""
        codes = np.asarray(codes)
        if codes.ndim == 1:
            codes = np.broadcast_to(codes, (self.batch_size, codes.shape[0]))
        self._check_codes(codes)
        self.reset()
        out = [self.step(tf.constant(codes[:, t], tf.int32)).numpy() for t in range(codes.shape[1])]
        return np.stack(out, axis=1)

    def _check_codes(self, codes):
        if (
            codes.dtype.kind not in "iu"
            or codes.ndim != 2
            or codes.shape[0] != self.batch_size
            or codes.shape[1] == 0
        ):
            raise ConfigError(
                f"codes must be integers of shape ({self.batch_size}, T), "
                f"got {codes.dtype} {codes.shape}"
            )
        if codes.min() < 0 or codes.max() >= self.Q:
            raise ConfigError(
                f"codes must lie in [0, {self.Q}), got range [{codes.min()}, {codes.max()}]"
            )

    def generate(self, n_samples, seed=None, *, temperature=1.0, primer=None, return_codes=False):
        """Generate `batch_size` clips of `n_samples` samples.

        Parameters
        ----------
        n_samples : int
        seed : int, optional
            Seeds the uniforms (``numpy.random.default_rng(seed)``, shape (B, n_samples)).
        temperature : float, default 1.0
            0 is argmax decoding.
        primer : array_like of int, shape (P,) or (B, P), optional
            Known first codes (teacher forcing); default the silence code.
        return_codes : bool
            Return the codes instead of decoded audio.

        Returns
        -------
        ndarray, shape (B, n_samples): float32 audio, or int32 codes.
        """
        if (
            isinstance(n_samples, bool)
            or not isinstance(n_samples, (int, np.integer))
            or n_samples < 1
        ):
            raise ConfigError(f"n_samples must be a positive integer, got {n_samples!r}")
        if not np.isfinite(temperature) or temperature < 0:
            raise ConfigError(f"temperature must be a finite number >= 0, got {temperature!r}")
        B = self.batch_size
        if primer is None:
            primer = np.full((B, 1), silence_code(self.Q), dtype=np.int32)
        primer = np.asarray(primer)
        if primer.ndim == 1:
            primer = np.broadcast_to(primer, (B, primer.shape[0]))
        self._check_codes(primer)
        P = primer.shape[1]
        if n_samples < P:
            raise ConfigError(f"primer of {P} codes is longer than n_samples={n_samples}")
        codes = np.zeros((B, n_samples), dtype=np.int32)
        codes[:, :P] = primer
        uniforms = np.random.default_rng(seed).random((B, n_samples), dtype=np.float32)
        temp = tf.constant(float(temperature), tf.float32)
        self.reset()
        for t in range(P - 1):
            self.step(tf.constant(codes[:, t]))
        for t in range(P - 1, n_samples - 1):
            nxt = self.sample_step(tf.constant(codes[:, t]), tf.constant(uniforms[:, t]), temp)
            codes[:, t + 1] = nxt.numpy()
        return codes if return_codes else mu_law_decode(codes, self.Q)
