"""Training under ``tf.distribute``: the strategy of ``--strategy``, who the chief is, where checkpoints go.

- ``default``: no distribution (one device; TensorFlow uses every core for it), the XLA-compiled step.
- ``mirrored``: :class:`tf.distribute.MirroredStrategy` over this machine's GPUs, or over its CPU
  split into ``--cpu-devices`` logical devices (a CPU-only stand-in for several GPUs: tests, debugging).
- ``multiworker``: :class:`tf.distribute.MultiWorkerMirroredStrategy` across the machines that the
  ``TF_CONFIG`` environment variable of each worker lists (the same command on every worker).

Every replica gets an equal slice of the global batch (``--batch-size``): every worker draws the whole
batch of step ``s`` from ``(seed, s)``, as a single process does, and keeps its replicas' rows, so a
distributed run trains on the same examples as an undistributed one. Checkpoints are saved by every
worker, as TensorFlow's multi-worker guide asks (saving may involve collective operations), but only
the chief's land in the run dir: the others go to a temporary folder that is removed again.
"""

import json
import os
import shutil
import tempfile

import numpy as np

from .errors import ConfigError

__all__ = [
    "STRATEGIES",
    "make_strategy",
    "is_chief",
    "replicas",
    "distribute_batch",
    "CheckpointWriter",
]

#: Values of ``--strategy``.
STRATEGIES = ("default", "mirrored", "multiworker")

#: Most logical CPU devices ``--cpu-devices`` may ask for.
MAX_CPU_DEVICES = 64


def check_strategy_args(strategy, cpu_devices):
    """Raise ConfigError for a ``--strategy`` / ``--cpu-devices`` pair that cannot run."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not 0 <= cpu_devices <= MAX_CPU_DEVICES:
        raise ConfigError(f"--cpu-devices must lie in [0, {MAX_CPU_DEVICES}], got {cpu_devices!r}")
    if cpu_devices and strategy != "mirrored":
        raise ConfigError("--cpu-devices splits this machine's CPU for --strategy mirrored only")
    if strategy == "multiworker":
        _check_tf_config(os.environ.get("TF_CONFIG"))


def _check_tf_config(text):
    """TF_CONFIG must name the cluster's workers and this process's task in it."""
    if not text:
        raise ConfigError(
            "--strategy multiworker needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
            '"task": {"type": "worker", "index": 0}} (docs/scale-out.md)'
        )
    try:
        conf = json.loads(text)
        cluster, task = conf["cluster"], conf["task"]
        tasks = cluster[task["type"]]
        ok = isinstance(tasks, list) and 0 <= int(task["index"]) < len(tasks)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ConfigError(
            f"TF_CONFIG {text[:120]!r} does not name a cluster and this task's place in it"
        )


def _split_cpu(tf, n):
    """Make the CPU `n` logical devices (possible only before TensorFlow's runtime starts)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * n
        )
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            raise ConfigError(
                f"--cpu-devices {n}: TensorFlow already runs with {have} CPU device(s) "
                "in this process (start a new one)"
            ) from None


def make_strategy(strategy, cpu_devices=0):
    """The ``tf.distribute`` strategy named by `strategy`; call it before any other TensorFlow op."""
    check_strategy_args(strategy, cpu_devices)
    import tensorflow as tf

    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cpu_devices:
        _split_cpu(tf, cpu_devices)
    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    return tf.distribute.MirroredStrategy(
        devices or [d.name for d in tf.config.list_logical_devices("CPU")]
    )


def replicas(strategy):
    """Replicas that share each step's batch."""
    return strategy.num_replicas_in_sync


def is_chief(strategy):
    """Whether this process writes the run's files: the chief task, else worker 0, else the only process."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def distribute_batch(strategy, batch, stop):
    """Per-replica inputs of a step: each replica's rows of `batch`, the batch's mask total, `stop`.

    Returns what the replica step takes as arguments:
    ``(inputs, codes, voices, mask, starts, decay_z, norm, stop)`` (`inputs`: what the network is fed,
    the codes themselves unless input noise corrupted them; `decay_z`: each row's decay feature), where `norm` (the loss mask's sum over the whole
    global batch) makes the sum of the replicas' losses the global batch's mean loss, and `stop` (1.0
    if this worker was asked to stop) is summed across workers so that all stop after the same step.
    """
    import tensorflow as tf

    n = replicas(strategy)
    rows = len(batch.codes) // n
    norm = np.float32(max(batch.mask.sum(), 1.0))  # an all-masked batch (--end-mask) adds nothing

    def value(ctx):
        part = slice(ctx.replica_id_in_sync_group * rows, (ctx.replica_id_in_sync_group + 1) * rows)
        return (
            tf.constant(batch.inputs[part]),
            tf.constant(batch.codes[part]),
            tf.constant(batch.voices[part]),
            tf.constant(batch.mask[part]),
            tf.constant(batch.starts[part]),
            tf.constant(batch.decay_z[part]),
            tf.constant(norm),
            tf.constant(np.float32(stop)),
        )

    return strategy.experimental_distribute_values_from_function(value)


class CheckpointWriter:
    """Checkpoints of a run: the chief's in `ckpt_dir`; another worker's in a temporary folder, removed.

    Every worker restores from `ckpt_dir` (which all of them must see, as on a shared file system).
    """

    def __init__(self, checkpoint, ckpt_dir, *, chief, max_to_keep=2):
        import tensorflow as tf

        self.ckpt_dir, self.chief, self.checkpoint = ckpt_dir, chief, checkpoint
        self.write_dir = ckpt_dir if chief else tempfile.mkdtemp(prefix="fastdrum-worker-ckpt-")
        self.manager = tf.train.CheckpointManager(
            checkpoint, self.write_dir, max_to_keep=max_to_keep
        )

    def latest(self):
        """The path of the run's last checkpoint, or None."""
        import tensorflow as tf

        return tf.train.latest_checkpoint(self.ckpt_dir)

    def restore(self):
        """Restore the last checkpoint if there is one; return its path or None."""
        latest = self.latest()
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        return latest

    def save(self, step):
        """Save at `step` (every worker calls this at the same steps)."""
        self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)

    def close(self):
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
