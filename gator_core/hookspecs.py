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
    from gator_core.job.runners import Runner
    from gator_core.runtime.observers import RunInfo, RunObserver
    from gator_core.sched.contract import Scheduler
    from gator_core.store.readback import NodeResult
    from gator_core.store.summary import Summary
    from gator_core.wire.protocol import Change

__all__ = ["hookspec", "hookimpl", "PROJECT", "gator_schedulers", "gator_log_parsers", "gator_runners",
           "gator_hub_reporter",
           "gator_run_started", "gator_node_started", "gator_node_finished", "gator_run_finished"]

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


@hookspec
def gator_runners() -> list[type[Runner]]:
    """Return the runner classes this plugin provides.

    Each class subclasses :class:`gator_core.Runner` and sets ``name``, the value a
    spec's ``runner: NAME`` selects it by (with ``runner_args: {...}``, the keys its
    ``options`` lists).  Wrappers make one instance per job and ask it, through
    ``prepare``, for the argv and environment to start.  ``exec``, ``shell`` and
    ``python`` are built in.  Two plugins offering the same name is an error that
    names both.

    :return: a list of :class:`gator_core.Runner` subclasses (may be empty).
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


# -- run hooks ---------------------------------------------------------------------------------
# Called in the root process, each plugin on a thread of its own and in order; the
# run never waits for them.  A hook that raises is reported once with its plugin's
# name; one that takes longer than 10 s is reported and the plugin's later hooks are
# skipped; after the run they have at most 10 s to finish (docs/running.md, "Hooks").


@hookspec
def gator_run_started(run: RunInfo) -> None:
    """A run is about to start its first child.

    :param run: who runs what, where: run id, tracking directory, spec, user, host,
        command line, scheduler, seed (:class:`gator_core.RunInfo`).
    """


@hookspec
def gator_node_started(run: RunInfo, path: str, kind: str, time: float) -> None:
    """A node below the top (a job, group or array) started.

    :param path: its dotted path; ``kind``: job, group or array; ``time``: Unix seconds.
    """


@hookspec
def gator_node_finished(run: RunInfo, path: str, kind: str, summary: Change) -> None:
    """A node below the top finished.

    :param summary: how it ended: ``result``, ``exit_code``, ``reason``, ``duration``,
        ``messages`` (counts by severity), ``log`` (its messages.log).
    """


@hookspec
def gator_run_finished(run: RunInfo, summary: Summary, result: NodeResult, interrupted: bool) -> None:
    """The run ended.

    :param summary: the top node's final summary (result, counts, metrics, times).
    :param result: the whole result tree, read from the tracking directory when a
        plugin asks for it (:class:`gator_core.NodeResult`).
    :param interrupted: whether the run was stopped by a signal (Ctrl-C).
    """
