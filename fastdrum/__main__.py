"""``python -m fastdrum``: the same as the ``fastdrum`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
