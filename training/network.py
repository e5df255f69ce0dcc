"""The WaveNet of model format 1 in Keras 3, and its export to a :class:`fastdrum.Model`.

The layers are exactly the network of docs/format.md: a width-2 causal convolution over
one-hot codes, then per layer a width-2 dilated causal convolution (tap 0 is
x(t-d), tap 1 is x(t)), the gate tanh(z[:D]) * sigmoid(z[D:]), a residual and
a skip 1x1 projection, and the relu-dense-relu-dense output. Keras' Conv1D with
``padding="causal"`` pads with zeros before t = 0, as the format requires, and
its kernel ``(2, in, out)`` is the format's ``(tap, in, out)`` layout as is.

Format 2 adds optional biases of every layer's z: the voice (an embedding
projected by ``cond_l``, one bias per clip), the time since the onset (the
features ``exp(-b / tau_k)`` of the step's block start b, projected by
``time_l``) and the clip's decay time (its feature z = (ln d - mean) / scale,
projected by ``decay_l``, one bias per clip; docs/format.md).
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

import fastdrum

from .errors import ConfigError, TrainingError

__all__ = ["WaveNetConfig", "WaveNet", "to_fastdrum_model", "export_model"]


class WaveNetConfig(dict):
    """Sizes of a WaveNet: ``quantization_channels`` (Q), ``residual_channels`` (R),
    ``dilation_channels`` (D), ``skip_channels`` (S), ``dilations``."""

    KEYS = (
        "quantization_channels",
        "residual_channels",
        "dilation_channels",
        "skip_channels",
        "dilations",
    )

    def __init__(
        self,
        *,
        quantization_channels=256,
        residual_channels=32,
        dilation_channels=32,
        skip_channels=128,
        dilations=tuple(2**i for i in range(10)) * 2,
    ):
        super().__init__(
            quantization_channels=quantization_channels,
            residual_channels=residual_channels,
            dilation_channels=dilation_channels,
            skip_channels=skip_channels,
            dilations=[int(d) for d in dilations],
        )
        for k in ("residual_channels", "dilation_channels", "skip_channels"):
            if (
                isinstance(self[k], bool)
                or not isinstance(self[k], int)
                or not 1 <= self[k] <= 4096
            ):
                raise ConfigError(f"{k} must be an integer in [1, 4096], got {self[k]!r}")
        q = self["quantization_channels"]
        if isinstance(q, bool) or not isinstance(q, int) or not 2 <= q <= 65536:
            raise ConfigError(f"quantization_channels must be an integer in [2, 65536], got {q!r}")
        if not self["dilations"] or min(self["dilations"]) < 1 or max(self["dilations"]) > 2**20:
            raise ConfigError(
                f"dilations must be a non-empty list of integers in [1, 2**20], "
                f"got {list(dilations)!r}"
            )

    @property
    def receptive_field(self):
        """``sum(dilations) + 2`` samples."""
        return sum(self["dilations"]) + 2


class WaveNet(keras.Model):
    """Keras 3 WaveNet: ``call(codes (B, T) int) -> logits (B, T, Q)``, logits[t] predicts codes[t+1].

    `time_tau` (time constants in samples, optional) and `time_block` add the
    time-since-onset conditioning, `decay_conditioning` the clip's decay feature; their
    projections start at zero, so a new net with them computes what the same net without
    them does. `prediction_input` (format 7) feeds the net two more codes a step, the decoded
    signal's and the prediction's of the sample it predicts: ``call`` then takes codes (B, T, 3),
    the error's code (what ``input_conv`` is fed, as in format 6), the signal's and the
    prediction's, and adds ``sig_emb`` and ``pred_emb`` of the last two to the input layer's
    output; both tables start at zero, so a new net computes what its format-6 net does.
    """

    def __init__(
        self,
        config,
        *,
        n_voices=0,
        embedding_size=16,
        time_tau=(),
        time_block=64,
        decay_conditioning=False,
        prediction_input=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.config = WaveNetConfig(**config)
        self.n_voices, self.E = int(n_voices), int(embedding_size)
        self.time_tau = np.asarray(time_tau if time_tau is not None else (), dtype=np.float32)
        self.time_block = int(time_block)
        self.decay_conditioning = bool(decay_conditioning)
        self.prediction_input = bool(prediction_input)
        Q, R, D, S = (
            self.config[k]
            for k in (
                "quantization_channels",
                "residual_channels",
                "dilation_channels",
                "skip_channels",
            )
        )
        self.Q, self.D = Q, D
        self.input_conv = keras.layers.Conv1D(R, 2, padding="causal", name="input_conv")
        if self.prediction_input:  # format 7's sig_w and pred_w: tables of two more codes
            self.sig_emb, self.pred_emb = (
                keras.layers.Embedding(Q, R, embeddings_initializer="zeros", name=name)
                for name in ("sig_emb", "pred_emb")
            )
        self.dil = [
            keras.layers.Conv1D(2 * D, 2, dilation_rate=d, padding="causal", name=f"dil_{l}")
            for l, d in enumerate(self.config["dilations"])
        ]
        self.res = [keras.layers.Dense(R, name=f"res_{l}") for l in range(len(self.dil))]
        self.skip = [keras.layers.Dense(S, name=f"skip_{l}") for l in range(len(self.dil))]
        self.out1 = keras.layers.Dense(S, name="out1")
        self.out2 = keras.layers.Dense(Q, name="out2")
        # Global conditioning (format 2): an embedding per voice, projected into every layer's z.
        if self.n_voices:
            self.voice_emb = keras.layers.Embedding(self.n_voices, self.E, name="voice_emb")
            self.cond = [
                keras.layers.Dense(2 * D, use_bias=False, name=f"cond_{l}")
                for l in range(len(self.dil))
            ]
        if self.time_tau.size:
            self.time = [
                keras.layers.Dense(
                    2 * D, use_bias=False, kernel_initializer="zeros", name=f"time_{l}"
                )
                for l in range(len(self.dil))
            ]
        if self.decay_conditioning:
            self.decay_proj = [
                keras.layers.Dense(
                    2 * D, use_bias=False, kernel_initializer="zeros", name=f"decay_{l}"
                )
                for l in range(len(self.dil))
            ]
        self.build((None, None))

    def build(self, input_shape):
        R = self.config["residual_channels"]
        self.input_conv.build((None, None, self.Q))
        if self.prediction_input:
            self.sig_emb.build((None, None))
            self.pred_emb.build((None, None))
        for dil, res, skip in zip(self.dil, self.res, self.skip):
            dil.build((None, None, R))
            res.build((None, None, self.D))
            skip.build((None, None, self.D))
        self.out1.build((None, None, self.config["skip_channels"]))
        self.out2.build((None, None, self.config["skip_channels"]))
        if self.n_voices:
            self.voice_emb.build((None,))
            for c in self.cond:
                c.build((None, self.E))
        if self.time_tau.size:
            for c in self.time:
                c.build((None, None, self.time_tau.size))
        if self.decay_conditioning:
            for c in self.decay_proj:
                c.build((None, 1))
        self.built = True

    def time_features(self, starts, T):
        """(B, T, F) float32 features of steps ``starts[b] + 0 .. T-1``: ``exp(-b / tau_k)``, b the block start."""
        t = tf.cast(starts, tf.int64)[:, None] + tf.range(T, dtype=tf.int64)[None, :]
        b = tf.cast((t // self.time_block) * self.time_block, tf.float64)
        tau = tf.constant(self.time_tau, dtype=tf.float64)
        return tf.cast(tf.exp(-b[..., None] / tau), tf.float32)

    def call(self, codes, voices=None, starts=None, decay_z=None):
        """Logits (B, T, Q) of codes (B, T); `voices` (B,) int voice indices for a conditioned net.

        `starts` (B,) int: the step of each row's first code, counted from the clip's onset (a
        time-conditioned net; None: 0). `decay_z` (B,) float: each row's decay feature (a
        decay-conditioned net; None: 0).
        """
        if self.prediction_input:  # (B, T, 3): the error's code, the signal's, the prediction's
            x = self.input_conv(tf.one_hot(codes[..., 0], self.Q))
            x = x + self.sig_emb(codes[..., 1]) + self.pred_emb(codes[..., 2])
            codes = codes[..., 0]
        else:
            x = self.input_conv(tf.one_hot(codes, self.Q))
        c = self.voice_emb(voices) if self.n_voices else None
        phi = None
        if self.time_tau.size:
            if starts is None:
                starts = tf.zeros(tf.shape(codes)[:1], tf.int32)
            phi = self.time_features(starts, tf.shape(codes)[1])
        dz = None
        if self.decay_conditioning:
            if decay_z is None:
                decay_z = tf.zeros(tf.shape(codes)[:1], tf.float32)
            dz = tf.cast(decay_z, tf.float32)[:, None]  # (B, 1)
        gates = []
        for l, (dil, res) in enumerate(zip(self.dil, self.res)):
            z = dil(x)
            if c is not None:
                z = (
                    z + self.cond[l](c)[:, None, :]
                )  # a per-clip bias: WaveNet's global conditioning
            if phi is not None:
                z = z + self.time[l](phi)  # a per-block bias: the time since the onset
            if dz is not None:
                z = z + self.decay_proj[l](dz)[:, None, :]  # a per-clip bias: the decay time
            h = tf.tanh(z[..., : self.D]) * tf.sigmoid(z[..., self.D :])
            gates.append(h)
            x = x + res(h)
        # sum_l skip_l(h_l) as one product: [h_1 .. h_L] (L*D) times the stacked skip kernels. Same
        # sum, but no (B, T, S) running total to read and write per layer (about 20% of a step).
        skip_w = tf.concat([sk.kernel for sk in self.skip], axis=0)
        skip_b = tf.add_n([sk.bias for sk in self.skip])
        skip = tf.tensordot(tf.concat(gates, axis=-1), skip_w, axes=1) + skip_b
        return self.out2(tf.nn.relu(self.out1(tf.nn.relu(skip))))

    def format1_weights(self):
        """The weights as format-1 arrays (float32)."""

        def np32(v):
            return np.asarray(v.numpy(), dtype=np.float32)

        return dict(
            input_w=np32(self.input_conv.kernel),
            input_b=np32(self.input_conv.bias),
            dil_w=np.stack([np32(l.kernel) for l in self.dil]),
            dil_b=np.stack([np32(l.bias) for l in self.dil]),
            res_w=np.stack([np32(l.kernel) for l in self.res]),
            res_b=np.stack([np32(l.bias) for l in self.res]),
            skip_w=np.stack([np32(l.kernel) for l in self.skip]),
            skip_b=np.stack([np32(l.bias) for l in self.skip]),
            out1_w=np32(self.out1.kernel),
            out1_b=np32(self.out1.bias),
            out2_w=np32(self.out2.kernel),
            out2_b=np32(self.out2.bias),
        )

    def set_weights_from(self, arrays):
        """Load weights given as :meth:`format1_weights` and :meth:`conditioning_weights` arrays.

        Raises TrainingError naming what is missing or does not fit (a key, the number of layers, a shape).
        """
        need = ["input_w", "input_b", "out1_w", "out1_b", "out2_w", "out2_b"]
        need += ["dil_w", "dil_b", "res_w", "res_b", "skip_w", "skip_b"]
        need += ["voice_emb", "cond_w"] if self.n_voices else []
        need += ["time_w"] if self.time_tau.size else []
        need += ["decay_w"] if self.decay_conditioning else []
        need += ["sig_w", "pred_w"] if self.prediction_input else []
        missing = [k for k in need if k not in arrays]
        if missing:
            raise TrainingError(f"weights lack {', '.join(missing)}")
        for k in [k for k in need[6:] if k not in ("voice_emb", "sig_w", "pred_w")]:  # per layer
            if len(arrays[k]) != len(self.dil):
                raise TrainingError(
                    f"weights {k} hold {len(arrays[k])} layers; the network has {len(self.dil)}"
                )
        pairs = [
            (self.input_conv.kernel, arrays["input_w"]),
            (self.input_conv.bias, arrays["input_b"]),
            (self.out1.kernel, arrays["out1_w"]),
            (self.out1.bias, arrays["out1_b"]),
            (self.out2.kernel, arrays["out2_w"]),
            (self.out2.bias, arrays["out2_b"]),
        ]
        for l, (dil, res, skip) in enumerate(zip(self.dil, self.res, self.skip)):
            pairs += [
                (dil.kernel, arrays["dil_w"][l]),
                (dil.bias, arrays["dil_b"][l]),
                (res.kernel, arrays["res_w"][l]),
                (res.bias, arrays["res_b"][l]),
                (skip.kernel, arrays["skip_w"][l]),
                (skip.bias, arrays["skip_b"][l]),
            ]
        if self.n_voices:
            pairs.append((self.voice_emb.embeddings, arrays["voice_emb"]))
            pairs += [(c.kernel, arrays["cond_w"][l]) for l, c in enumerate(self.cond)]
        if self.time_tau.size:
            pairs += [(c.kernel, arrays["time_w"][l]) for l, c in enumerate(self.time)]
        if self.decay_conditioning:  # decay_w[l] (2D,) is the kernel (1, 2D) of a scalar input
            pairs += [(c.kernel, arrays["decay_w"][l][None]) for l, c in enumerate(self.decay_proj)]
        if self.prediction_input:
            pairs.append((self.sig_emb.embeddings, arrays["sig_w"]))
            pairs.append((self.pred_emb.embeddings, arrays["pred_w"]))
        for var, value in pairs:
            if tuple(var.shape) != tuple(np.shape(value)):
                raise TrainingError(
                    f"weights of shape {np.shape(value)} do not fit {var.path} {tuple(var.shape)}"
                )
            var.assign(np.asarray(value, dtype=np.float32))

    def conditioning_weights(self):
        """Format 2's learned arrays: ``voice_emb`` (V, E) and ``cond_w`` (L, E, 2D) of a voice-conditioned
        net, ``time_w`` (L, F, 2D) of a time-conditioned one, ``decay_w`` (L, 2D) of a
        decay-conditioned one; {} for none."""
        out = {}
        if self.n_voices:
            out.update(
                voice_emb=np.asarray(self.voice_emb.embeddings.numpy(), dtype=np.float32),
                cond_w=np.stack([np.asarray(c.kernel.numpy(), np.float32) for c in self.cond]),
            )
        if self.time_tau.size:
            out["time_w"] = np.stack([np.asarray(c.kernel.numpy(), np.float32) for c in self.time])
        if self.decay_conditioning:
            out["decay_w"] = np.stack(
                [np.asarray(c.kernel.numpy()[0], np.float32) for c in self.decay_proj]
            )
        if self.prediction_input:
            out["sig_w"] = np.asarray(self.sig_emb.embeddings.numpy(), dtype=np.float32)
            out["pred_w"] = np.asarray(self.pred_emb.embeddings.numpy(), dtype=np.float32)
        return out


def to_fastdrum_model(
    net,
    *,
    sample_rate,
    primers=None,
    meta=None,
    preemphasis=0.0,
    integration=0.0,
    shelf=(0.0, 0.0),
    voices=(),
    primer_voices=None,
):
    """A :class:`fastdrum.Model` holding `net`'s weights (validated by fastdrum's format checks).

    An unconditioned net without pre-emphasis is a format-1 model; pre-emphasis,
    voices, time or decay conditioning make it format 2, leaky integration
    format 3, a low shelf (`shelf`, its zero(s) and pole(s)) format 4 (docs/format.md). A
    decay-conditioned net's `meta` must hold ``"decay"`` and every voice's
    ``"decays"``.
    """
    arrays = net.format1_weights()
    timed = bool(net.time_tau.size)
    preemphasis = np.asarray(preemphasis, dtype=np.float32)  # () or, a voice, (V,)
    integration = np.asarray(integration, dtype=np.float32)
    zero, pole = (np.asarray(x, dtype=np.float32) for x in shelf)
    if (
        np.any(preemphasis != 0)
        or np.any(integration != 0)
        or np.any(zero != 0)
        or np.any(pole != 0)
        or voices
        or timed
        or net.decay_conditioning
        or net.prediction_input
    ):
        arrays["preemphasis"] = preemphasis
        if np.any(integration != 0):
            arrays["integration"] = integration
        if np.any(zero != 0) or np.any(pole != 0):
            arrays.update(shelf_zero=zero, shelf_pole=pole)
        arrays.update(net.conditioning_weights())
        if timed:
            arrays.update(time_tau=net.time_tau, time_block=net.time_block)
        if voices:
            arrays["voices"] = np.array(list(voices))
            if primers is not None:
                arrays["primer_voices"] = np.asarray(primer_voices, dtype=np.int32)
    return fastdrum.Model(
        sample_rate=int(sample_rate),
        dilations=list(net.config["dilations"]),
        primers=primers,
        meta=meta,
        **arrays,
    )


def export_model(model, path):
    """Save `model` to `path`, replacing an old file only after the new one loads and validates.

    Writes a temporary file beside `path`, loads it with
    :func:`fastdrum.load_model` (format-1 validation), checks its weights equal
    `model`'s, then renames it over `path`.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".npz", dir=directory)
    os.close(fd)
    try:
        model.save(tmp, overwrite=True)  # the temp file mkstemp just made
        loaded = fastdrum.load_model(tmp)
        for k, v in model.weights.items():
            if not np.array_equal(loaded.weights[k], v):
                raise TrainingError(f"exported model key {k!r} does not read back equal")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a normal file, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
