"""The ``gator`` command: entry point and the quick path for the job API.

``gator log`` and ``gator metric`` run inside jobs, often thousands of times;
they are handled here before anything heavy is imported.  Every other command
goes to the typer application in :mod:`gator_core.commands`.

Exit codes: 0 everything passed; 1 a job failed or was lost; 2 a bad spec,
bad usage, or a scheduler that could not start (nothing ran); 130 interrupted.
Errors are printed as one clear message, never a traceback (set GATOR_DEBUG=1
to see one for an unexpected error).
"""

from __future__ import annotations

import os
import sys
import traceback

from .exceptions import GatorError, SchedulerError, SpecError, StoreError, UsageError

__all__ = ["main", "job_api_command"]

_API_USAGE = ("usage: gator log [--severity LEVEL] MESSAGE...\n"
              "       gator metric NAME VALUE")


def job_api_command(args: list[str]) -> int:
    """``log [--severity S] MESSAGE...`` or ``metric NAME VALUE``; returns the exit code."""
    from . import api

    command, rest = args[0], list(args[1:])
    try:
        if command == "log":
            severity = "info"
            while rest and rest[0].startswith("-") and rest[0] != "-":
                option = rest.pop(0)
                if option in ("-h", "--help"):
                    print(_API_USAGE)
                    return 0
                if option in ("--severity", "-s") and rest:
                    severity = rest.pop(0)
                elif option.startswith("--severity="):
                    severity = option.split("=", 1)[1]
                elif option == "--":
                    break
                else:
                    raise ValueError(f"unknown option {option!r}")
            if not rest:
                raise ValueError("a message is needed")
            api.log(" ".join(rest), severity=severity)
        else:
            if rest[:1] in (["-h"], ["--help"]):
                print(_API_USAGE)
                return 0
            if len(rest) != 2:
                raise ValueError("metric takes a NAME and a VALUE")
            try:
                value = float(rest[1])
            except ValueError:
                raise ValueError(f"value {rest[1]!r} is not a number") from None
            api.metric(rest[0], value)
    except (ValueError, TypeError) as exc:
        print(f"gator {command}: {exc}\n{_API_USAGE}", file=sys.stderr)
        return 2
    except api.NotInJobError as exc:
        print(f"gator {command}: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run a command and turn errors into exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("log", "metric"):
        return job_api_command(args)
    import typer

    from .commands import app

    try:
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        code = app(args=args, prog_name="gator", standalone_mode=False)
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
