"""``python -m gator_core.remote``: the stable command of a host's child server.

The SSH scheduler runs this on every host (whose Gator may be another
release), so it stays here; the server itself is
:mod:`gator_core.runtime.hostserver`.
"""

import sys

from gator_core.runtime.hostserver import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
