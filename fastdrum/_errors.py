"""The old home of fastdrum's exceptions: they live in :mod:`fastdrum.errors`.

Kept only because the compiled kernel (fastdrum/_ext/_wavenet.pyx) imports
its errors from here; new code imports :mod:`fastdrum.errors`.
"""

from .errors import *  # noqa: F403
from .errors import __all__  # noqa: F401
