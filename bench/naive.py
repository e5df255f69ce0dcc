"""The naive generator: WaveNet generation before Fast WaveNet.

Every step recomputes the whole receptive field with the non-incremental
definition (:meth:`fastdrum.Model.forward`) and keeps only the last logits,
so one step costs about ``receptive_field`` times an incremental step.
It has the backends' ``State`` interface, so the benchmarks drive it alike.
"""

import numpy as np

from fastdrum import _reference

__all__ = ["NaiveState"]


class NaiveState:
    """A ``State`` (see ``fastdrum._backends``) that keeps no state but the codes.

    Parameters
    ----------
    model : fastdrum.Model
    batch_size : int
    n_threads : int
        Accepted for the common interface; must be 1.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrum.testing import random_model
    >>> m = random_model(dilations=[1, 2], seed=0)
    >>> codes = np.full((1, 6), 16, dtype=np.int32)
    >>> NaiveState(m, 1).run(codes, 1, np.full((1, 5), 0.5), 1.0, 0, 5)
    >>> bool(((codes >= 0) & (codes < m.quantization_channels)).all())
    True
    """

    def __init__(self, model, batch_size, n_threads=1):
        if n_threads != 1:
            raise ValueError(f"the naive generator is single-threaded, got n_threads={n_threads!r}")
        self.model = model
        self.batch_size = int(batch_size)
        self.window = model.receptive_field

    def run(self, codes, n_primer, uniforms, temperature, start, stop, logits_out=None):
        """Advance steps ``t = start .. stop - 1`` (same contract as ``fastdrum._reference.State.run``).

        Step ``t`` runs the full network over the last ``receptive_field`` codes
        ``codes[:, t - receptive_field + 1 : t + 1]``; with causal zero padding
        its last logits are exactly those of the whole sequence.
        """
        for t in range(start, stop):
            lo = max(0, t + 1 - self.window)
            logits = np.stack(
                [self.model.forward(codes[b, lo : t + 1])[-1] for b in range(self.batch_size)]
            )
            if logits_out is not None:
                logits_out[:, t - start] = logits
            if t + 1 >= n_primer and t + 1 < codes.shape[1]:
                codes[:, t + 1] = _reference.sample(logits, uniforms[:, t - start], temperature)
