"""A warm interpreter: ``python -m gator_core.runtime.warm``, started before it is needed.

``gator run`` starts one as its first act, before it has even parsed its
options, so that a fresh interpreter's start-up and the imports every agent
needs (what a child needs: :func:`gator_core.runtime.childmain.preload`) run
on another core while the run gets ready.  When the run's scheduler starts
its agent, it hands this process the agent's module name on the first line of
its stdin (see :func:`gator_core.sched.agent.prestart_interpreter`); the
module then runs as ``python -m`` would run it, reading its own configuration
from the following lines.  A run that needs no agent closes the pipe, and the
process exits without a word.
"""

from __future__ import annotations

import runpy
import sys

__all__ = ["main"]


def main() -> int:
    from gator_core.runtime.childmain import preload

    preload()
    module = sys.stdin.readline().strip()
    if not module:  # no agent wanted: the run closed our stdin
        return 0
    sys.argv = [module]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    from gator_core.job.proctree import exit_now

    exit_now(main())
