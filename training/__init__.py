"""Training fastdrum's WaveNets in TensorFlow (Keras 3) and exporting them to model format 1.

This package is not part of the installed ``fastdrum`` package: it needs the
``train`` extra (TensorFlow, Keras). ``fastdrum`` itself never imports it.
Run it from the repository root, e.g. ``python -m training.train --help``.
"""

import os as _os

# TensorFlow's C++ INFO/WARNING lines would drown the progress lines of a run.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
