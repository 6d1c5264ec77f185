"""The ``gator`` command: entry point and the quick path for the job API.

``gator log`` and ``gator metric`` run inside jobs, often thousands of times;
they go to :mod:`gator_core.job.jobcli` before anything heavy is imported.
Every other command goes to the typer application in
:mod:`gator_core.cli.commands`.

The seed system's forms work too: ``gator SPEC [options]`` and ``gator
[options] SPEC`` run as ``gator run SPEC [options]`` (see :func:`seed_form`),
and ``python -m gator`` is ``gator``.

Exit codes: 0 everything passed; 1 a job failed or was lost; 2 a bad spec,
bad usage, or a scheduler that could not start (nothing ran); 130 interrupted.
Errors are printed as one clear message, never a traceback (set GATOR_DEBUG=1
to see one for an unexpected error).
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from gator_core.exceptions import GatorError, SchedulerError, SpecError, StoreError, UsageError

__all__ = ["main", "seed_form"]


# The seed system's own plumbing: a child was started with its id and its
# parent's address.  Gator hands both to its children in their environment.
_SEED_INTERNAL = ("--id", "--parent")


def _value_options(command: Any) -> set[str]:
    """The option names of ``command`` that take a value (``--tracking DIR``, ``-s NAME``)."""
    names: set[str] = set(_SEED_INTERNAL)
    for param in command.params:
        opts = getattr(param, "opts", [])
        if opts and opts[0].startswith("-") and not getattr(param, "is_flag", False) \
                and not getattr(param, "count", False):
            names.update(opts, getattr(param, "secondary_opts", []))
    return names


def _short_takes_next(token: str, value_options: Collection[str]) -> bool:
    """Whether a cluster of short options (``-qv``, ``-qs local``, ``-slocal``) ends
    with one that takes its value from the next argument."""
    for position, letter in enumerate(token[1:], start=1):
        if f"-{letter}" in value_options:
            return position == len(token) - 1  # otherwise the rest of the token is the value
    return False


def _scan(args: list[str], value_options: Collection[str]) -> Iterator[tuple[int, bool]]:
    """``(index, is_positional)`` of every argument that is not an option's value,
    as the command's parser will read them."""
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            yield from ((rest, True) for rest in range(index + 1, len(args)))
            return
        if token.startswith("--"):
            yield index, False
            if "=" not in token and token in value_options:
                index += 1
        elif token.startswith("-") and token != "-":
            yield index, False
            if _short_takes_next(token, value_options):
                index += 1
        else:
            yield index, True
        index += 1


def _refuse_seed_internal(args: list[str], value_options: Collection[str]) -> None:
    """Refuse ``--id`` and ``--parent``, saying why, rather than as unknown options."""
    for index, positional in _scan(args, value_options):
        name = args[index].split("=", 1)[0]
        if not positional and name in _SEED_INTERNAL:
            raise UsageError(f"{name} is not needed: Gator tells every child its id and its parent "
                             "itself (the seed system's --id and --parent were internal); start a run "
                             "with 'gator SPEC' or 'gator run SPEC'")


def _not_a_command(word: str, commands: Collection[str]) -> UsageError:
    close = difflib.get_close_matches(word, list(commands), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return UsageError(f"No such command '{word}', and no such spec file '{word}'{hint}\n"
                      f"  commands: {', '.join(sorted(commands))} ('gator -h' for help); "
                      "a spec file runs as 'gator SPEC [options]'")


def seed_form(args: list[str], group: Any) -> list[str]:
    """The arguments for ``group`` (the typer application's click group), with the
    seed system's ``gator [options] SPEC [options]`` turned into ``run ...``.

    Anything else is left as it is, except that ``--id`` and ``--parent`` given to
    ``run`` or ``rerun`` are refused with a :class:`UsageError`, as is a first word
    that is neither a command nor an existing file.
    """
    commands = dict(group.commands)
    help_names = group.context_settings.get("help_option_names", ["--help"])
    if args and args[0] not in commands and args[0] not in help_names:
        args = _as_run(args, commands)
    if args and args[0] in ("run", "rerun"):
        _refuse_seed_internal(args[1:], _value_options(commands[args[0]]))
    return args


def _as_run(args: list[str], commands: dict[str, Any]) -> list[str]:
    """``args`` that do not start with a command, as ``run`` arguments when they are meant so."""
    value_options = _value_options(commands["run"])
    index = next((index for index, positional in _scan(args, value_options) if positional), None)
    if index is None:
        # Options alone (`gator --progress`): `run` says what is missing, or which option it does not know.
        return ["run", *args]
    word = args[index]
    if word in commands:
        # `gator --progress show`: no command takes options before its name; the group says so.
        return args
    if Path(word).exists() or index > 0:
        # After options it can only be meant as a spec; `run` reports one that does not exist.
        return ["run", *args]
    raise _not_a_command(word, commands)


def console() -> None:
    """The ``gator`` command: :func:`main`, then exit without the interpreter's teardown
    (``gator run`` has closed everything by then; a user waits for every millisecond)."""
    from gator_core.job.proctree import exit_now

    exit_now(main())


def _starts_a_run(args: list[str]) -> bool:
    """Whether the command line runs a tree (``run``, ``rerun``, or the seed's ``gator SPEC``),
    judged cheaply, before the parser is even imported."""
    if not args or any(arg in ("--help", "-h") for arg in args):
        return False
    return args[0] in ("run", "rerun") or args[0].endswith((".yaml", ".yml"))


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run a command and turn errors into exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("log", "metric"):
        from gator_core.job.jobcli import job_api_main

        return job_api_main(args)
    if _starts_a_run(args):
        from gator_core.sched.agent import prestart_interpreter

        prestart_interpreter()  # the agent's interpreter starts while we parse and load
    import typer
    from typer.main import get_command

    from gator_core.cli.commands import app
    from gator_core.cli.extensions import add_extension_commands

    try:
        group = get_command(app)
        add_extension_commands(group, args)  # `gator hub` and other packages' commands
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        code = group(args=seed_form(args, group), prog_name="gator", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except SpecError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        errors = sum(1 for issue in exc.issues if issue.severity == "error")
        print(f"gator: {errors} error{'s' if errors != 1 else ''} in spec; nothing was run", file=sys.stderr)
        return 2
    except (UsageError, StoreError, SchedulerError) as exc:  # SchedulerError: it could not start
        print(f"gator: error: {exc}", file=sys.stderr)
        return 2
    except GatorError as exc:
        print(f"gator: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gator: interrupted", file=sys.stderr)
        return 130
    except typer.Abort:
        return 130
    except Exception as exc:
        # Usage errors of the command-line parser (click, vendored by recent typer)
        # know how to show themselves and which code to exit with.
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return int(exc.exit_code)
        if os.environ.get("GATOR_DEBUG"):
            traceback.print_exc()
        print(f"gator: internal error: {type(exc).__name__}: {exc} "
              "(set GATOR_DEBUG=1 for the traceback)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
