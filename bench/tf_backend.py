"""The TensorFlow 2 incremental generator (``training.tfgen.TFGenerator``) behind the ``State`` interface.

TensorFlow runs its ops on one intra-op and one inter-op thread, like the
other single-thread cases, when it can still be configured (before its
runtime starts); :func:`tf_threads` reports what it actually uses.
"""

import importlib.util

import numpy as np

__all__ = ["TFState", "unavailable_reason", "tf_threads"]

_pinned = None


def unavailable_reason():
    """Why the TensorFlow backend cannot run here, or None."""
    if importlib.util.find_spec("tensorflow") is None:
        return "TensorFlow is not installed (pip install -e '.[train]')"
    try:
        spec = importlib.util.find_spec("training.tfgen")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return "training.tfgen (the TensorFlow 2 generator) is not importable from here"
    return None


def _tf():
    global _pinned
    import tensorflow as tf

    if _pinned is None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            _pinned = True
        except RuntimeError:  # the runtime already started (e.g. training tests in this session)
            _pinned = False
    return tf


def tf_threads():
    """(intra-op, inter-op) thread counts TensorFlow was given (0 means its default: all cores)."""
    tf = _tf()
    return (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )


class TFState:
    """``TFGenerator``'s step loop with the ``run()`` contract of ``fastdrum._reference.State``.

    Each step is one call of the generator's ``tf.function`` step, as its own
    ``generate()`` makes it: ``sample_step`` when the next code is sampled,
    ``step`` under teacher forcing. Uniforms are passed as float32, as
    ``generate()`` draws them.

    Parameters
    ----------
    model : fastdrum.Model
    batch_size : int
    n_threads : int
        Must be 1 (TensorFlow is pinned to one thread).
    """

    def __init__(self, model, batch_size, n_threads=1):
        if n_threads != 1:
            raise ValueError(f"the TensorFlow cases run on one thread, got n_threads={n_threads!r}")
        self.tf = _tf()
        from training.tfgen import TFGenerator

        self.gen = TFGenerator(model, batch_size)
        self.batch_size = batch_size
        self.t = 0

    def run(self, codes, n_primer, uniforms, temperature, start, stop, logits_out=None):
        """Advance steps ``t = start .. stop - 1``; steps must follow on from the previous call."""
        tf = self.tf
        if start != self.t:
            raise ValueError(
                f"the TensorFlow generator is at step {self.t}, cannot start at {start}"
            )
        if logits_out is not None:
            raise ValueError("the TensorFlow adapter does not return logits")
        temp = tf.constant(float(temperature), tf.float32)
        u32 = np.asarray(uniforms, dtype=np.float32)
        T = codes.shape[1]
        for t in range(start, stop):
            q = tf.constant(codes[:, t], tf.int32)
            if t + 1 >= n_primer and t + 1 < T:
                codes[:, t + 1] = self.gen.sample_step(
                    q, tf.constant(u32[:, t - start]), temp
                ).numpy()
            else:
                self.gen.step(q)
        self.t = stop
