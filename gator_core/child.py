"""``python -m gator_core.child``: the stable command every scheduler starts a child with.

Schedulers (and SSH hosts running another release of Gator) name this module,
so it stays here; the child itself is :mod:`gator_core.runtime.childmain`.
"""

import sys

from gator_core.runtime.childmain import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
