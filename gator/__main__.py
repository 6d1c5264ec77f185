"""``python -m gator ...``: the ``gator`` command, with its exit code."""

import sys

from gator_core.cli.main import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
