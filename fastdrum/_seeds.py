"""One rule for the `seed` argument of every public function."""

import numbers

import numpy as np


def seed_sequence(seed, error):
    """Return `seed` as a SeedSequence: None, a non-negative int, or a SeedSequence (as is).

    Anything else raises `error` (the caller's FastDrumError subclass).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise error(f"seed must be a non-negative integer or None, got {seed!r}")
    return np.random.SeedSequence(seed)
