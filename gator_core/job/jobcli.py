"""The job API from a shell: ``gator log [--severity S] MESSAGE...`` and ``gator metric NAME VALUE``.

Jobs run these thousands of times, so :func:`job_api_main` reads its own
arguments and is called by ``gator``'s entry point before the command-line
parser is even imported.  The parser's ``log`` and ``metric`` commands (for
``gator -h``) call :func:`log_command` and :func:`metric_command` with the
values it read.  Either way: exit code 0 when sent, 2 for bad usage or outside
a job, with one line on standard error saying why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from gator_core.job import api

__all__ = ["USAGE", "log_command", "metric_command", "job_api_main"]

USAGE = ("usage: gator log [--severity LEVEL] MESSAGE...\n"
         "       gator metric NAME VALUE")
_HELP = ("-h", "--help")


def _refuse(command: str, reason: object, *, usage: bool = True) -> int:
    """Say why ``command`` did nothing (with how it is used, for bad usage); exit code 2."""
    print(f"gator {command}: {reason}" + (f"\n{USAGE}" if usage else ""), file=sys.stderr)
    return 2


def _run(command: str, call: Callable[[], None]) -> int:
    """Run one API call; its exit code."""
    try:
        call()
    except (ValueError, TypeError) as exc:  # a bad value: bad usage
        return _refuse(command, exc)
    except api.NotInJobError as exc:  # usage was fine: no need to show it
        return _refuse(command, exc, usage=False)
    return 0


def _log(message: Sequence[str], severity: str) -> None:
    if not message:
        raise ValueError("a message is needed")
    api.log(" ".join(message), severity=severity)


def _metric(name: str, value: str | float) -> None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"value {value!r} is not a number") from None
    api.metric(name, value)


def log_command(message: Sequence[str], severity: str = "info") -> int:
    """Log the words of ``message``, joined with spaces; the exit code."""
    return _run("log", lambda: _log(message, severity))


def metric_command(name: str, value: str | float) -> int:
    """Record metric ``name``; ``value`` may still be text (as typed); the exit code."""
    return _run("metric", lambda: _metric(name, value))


def _log_arguments(args: list[str]) -> tuple[list[str], str] | None:
    """``log``'s arguments as (message words, severity); None for help.
    ValueError for an option it does not know."""
    severity = "info"
    rest = list(args)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        option = rest.pop(0)
        if option in _HELP:
            return None
        if option in ("--severity", "-s") and rest:
            severity = rest.pop(0)
        elif option.startswith("--severity="):
            severity = option.split("=", 1)[1]
        elif option == "--":
            break
        else:
            raise ValueError(f"unknown option {option!r}")
    return rest, severity


def _log_main(args: list[str]) -> int:
    try:
        parsed = _log_arguments(args)
    except ValueError as exc:
        return _refuse("log", exc)
    if parsed is None:
        print(USAGE)
        return 0
    return log_command(*parsed)


def _metric_main(args: list[str]) -> int:
    if args and args[0] in _HELP:
        print(USAGE)
        return 0
    if len(args) != 2:
        return _refuse("metric", "metric takes a NAME and a VALUE")
    return metric_command(args[0], args[1])


def job_api_main(args: Sequence[str]) -> int:
    """``gator``'s arguments (``log ...`` or ``metric ...``); the exit code."""
    command, rest = args[0], list(args[1:])
    return _log_main(rest) if command == "log" else _metric_main(rest)
