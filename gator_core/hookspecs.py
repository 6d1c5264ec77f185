"""The whole plugin contract of Gator: every hook a plugin may implement.

Plugins are modules (or objects) registered through the entry-point group
``gator``::

    [project.entry-points.gator]
    mysched = "my_package.gator_plugin"

and mark their implementations with ``gator_core.hookimpl``::

    from gator_core import hookimpl

    @hookimpl
    def gator_schedulers():
        return [MyScheduler]

Hooks are called with keyword arguments; an implementation may accept fewer
arguments than the specification lists, so that hooks can grow.  Hooks are
synchronous: they return classes or objects, and the asynchronous work lives
on those.  Set ``GATOR_TRACE_HOOKS=1`` to print every hook call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from gator_core.job.classify import LogParser
    from gator_core.runtime.observers import RunObserver
    from gator_core.sched.contract import Scheduler

__all__ = ["hookspec", "hookimpl", "PROJECT", "gator_schedulers", "gator_log_parsers", "gator_hub_reporter"]

PROJECT = "gator"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- schedulers ----------------------------------------------------------------------------

@hookspec
def gator_schedulers() -> list[type[Scheduler]]:
    """Return the scheduler classes this plugin provides.

    Each class subclasses :class:`gator_core.Scheduler` and sets ``name``, the
    value ``--scheduler`` selects it by.  Two plugins offering the same name
    is an error that names both.

    :return: a list of :class:`gator_core.Scheduler` subclasses (may be empty).
    """


# -- output ------------------------------------------------------------------------------------

@hookspec
def gator_log_parsers() -> list[type[LogParser]]:
    """Return the log parser classes this plugin provides.

    Each class subclasses :class:`gator_core.LogParser` and sets ``name``, the
    value a spec's ``parsers: [...]`` refers to it by.  Wrappers make one
    instance per job and ask it about every output line that no rule of the
    spec matched.  Two plugins offering the same name is an error that names
    both.

    :return: a list of :class:`gator_core.LogParser` subclasses (may be empty).
    """


# -- following a run ---------------------------------------------------------------------------

@hookspec(firstresult=True)
def gator_hub_reporter(url: str, token_file: Path | None, say: Callable[[str], None]) -> RunObserver | None:
    """Return an observer that reports the run to the hub at ``url`` (``gator run --hub``).

    The first plugin that returns one wins; ``gator_hub`` provides it.  The token
    comes from ``token_file`` when given, else from the plugin's environment
    variable, never from the command line.  ``say`` prints a line on the run's
    console; the observer must use it sparingly (once per problem).

    :return: a :class:`gator_core.RunObserver`, or None when this plugin does not report to hubs.
    :raises gator_core.UsageError: the URL or the token cannot be used.
    """
