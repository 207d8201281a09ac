"""``python -m hostpatrol.collector.cli``: the same as ``hostpatrol-collector``."""

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
