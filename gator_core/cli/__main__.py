"""``python -m gator_core.cli ...``: the ``gator`` command."""

import sys

from gator_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
