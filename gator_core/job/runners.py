"""Runners: how a job's command becomes the process its wrapper starts.

A spec names one with ``runner: NAME`` (and ``runner_args: {...}``), or
``shell: true`` for the shell runner; without either, the ``exec`` runner runs
the command without a shell, as Gator always has.  A runner turns the job's
command, arguments, environment and working directory into the argv and
environment the wrapper starts; the wrapper still captures the output, serves
the job API, samples, and decides pass or fail.

Plugins add runners through the ``gator_runners`` hook (``gator runners`` lists
them).  The built-in ones are here, and are found without loading any plugin,
so that a job's start stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from gator_core.envvars import expand
from gator_core.hookspecs import hookimpl

__all__ = ["Runner", "JobCommand", "ExecRunner", "ShellRunner", "PythonRunner", "BUILTIN_RUNNERS",
           "runner_class", "gator_runners"]


@dataclass
class JobCommand:
    """What a runner is given and gives back.  ``command`` and ``args`` are as the spec
    wrote them (``$VAR`` not yet expanded); ``argv`` is what the wrapper starts."""

    command: str
    args: list[str]
    env: dict[str, str]
    cwd: str
    argv: list[str] = field(default_factory=list)


class Runner:
    """Base of runners.  Subclasses set ``name`` (what ``runner:`` selects), may set
    ``description`` and ``options`` (the ``runner_args`` keys they take) and
    implement :meth:`prepare`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, runner_args: Mapping[str, Any] | None = None) -> None:
        self.runner_args = dict(runner_args or {})
        unknown = sorted(set(self.runner_args) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "none"
            raise ValueError(f"runner '{self.name}' does not take {', '.join(unknown)} (it takes: {takes})")

    def prepare(self, job: JobCommand) -> JobCommand:
        """Return the job with ``argv`` (and ``env``, ``cwd`` when needed) set."""
        raise NotImplementedError


def _expanded(job: JobCommand) -> list[str]:
    return [expand(job.command, job.env), *(expand(arg, job.env) for arg in job.args)]


class ExecRunner(Runner):
    """The command and its arguments, ``$VAR`` expanded, started without a shell."""

    name = "exec"
    description = "the command, without a shell (the default)"

    def prepare(self, job: JobCommand) -> JobCommand:
        return replace(job, argv=_expanded(job))


class ShellRunner(Runner):
    """``/bin/sh -c COMMAND sh ARGS...``: the command is one shell string (the shell
    expands it), the arguments are its ``$1``, ``$2`` ... (``$VAR``-expanded first)."""

    name = "shell"
    description = "the command as one /bin/sh -c string; args are $1, $2 ..."
    options = ("shell",)

    def prepare(self, job: JobCommand) -> JobCommand:
        shell = str(self.runner_args.get("shell") or "/bin/sh")
        args = [expand(arg, job.env) for arg in job.args]
        return replace(job, argv=[shell, "-c", job.command, "sh", *args])


class PythonRunner(Runner):
    """``command: package.module:function``, called in a fresh interpreter of the run's
    Python with the arguments as strings.  A number it returns is the metric
    ``return_value`` (a mapping of numbers: one metric each); an exception is the
    failure, its traceback on stderr."""

    name = "python"
    description = "calls module:function in a fresh interpreter; returns metrics, raises failures"
    options = ("python",)

    def prepare(self, job: JobCommand) -> JobCommand:
        python = str(self.runner_args.get("python") or sys.executable)
        argv = _expanded(job)
        return replace(job, argv=[python, "-m", "gator_core.job.pyrunner", *argv])


BUILTIN_RUNNERS: dict[str, type[Runner]] = {cls.name: cls for cls in (ExecRunner, ShellRunner, PythonRunner)}


def runner_class(name: str) -> type[Runner]:
    """The runner called ``name``: a built-in one without loading any plugin, else an
    installed one; UsageError listing the installed ones otherwise."""
    if name in BUILTIN_RUNNERS:
        return BUILTIN_RUNNERS[name]
    from gator_core.exceptions import UsageError
    from gator_core.plugins import available_runners
    from gator_core.textutil import did_you_mean

    runners = available_runners()
    if name not in runners:
        names = sorted(runners)
        raise UsageError(f"no runner called '{name}'{did_you_mean(name, names)} (installed: {', '.join(names)})")
    return runners[name].cls


@hookimpl
def gator_runners() -> list[type[Runner]]:
    return list(BUILTIN_RUNNERS.values())
