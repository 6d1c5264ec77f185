"""``python -m gator_core.child``: the stable command every scheduler starts a child with.

Schedulers (and SSH hosts running another release of Gator) name this module,
so it stays here; the child itself is :mod:`gator_core.runtime.childmain`.
"""

from gator_core.runtime.childmain import main

__all__ = ["main"]

if __name__ == "__main__":
    from gator_core.job.proctree import exit_now

    # As a forked child does (run_forked): every store and connection is closed when
    # main() returns, so the interpreter's teardown is skipped.  On a batch farm each
    # array task starts this cold, and the teardown cost it about 9 ms of CPU.
    exit_now(main())
