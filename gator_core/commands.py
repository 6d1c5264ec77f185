"""The ``gator`` commands (typer).  The entry point is :mod:`gator_core.cli`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Gator: run trees of jobs written in YAML, locally or on a farm.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"gator: error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="YAML spec file (!Job, !JobGroup or !JobArray).")],
    scheduler: Annotated[str, typer.Option("--scheduler", "-s", help="Scheduler plugin to launch children with.")]
    = "local",
    sched_arg: Annotated[Optional[list[str]], typer.Option(
        "--sched-arg", "-a", metavar="KEY=VALUE", help="Scheduler option; repeat for more.")] = None,
    tracking: Annotated[Optional[Path], typer.Option(
        "--tracking", "-t", help="Directory for the run's records (default: tracking/<timestamp>).")] = None,
    progress: Annotated[bool, typer.Option("--progress", help="Live display of progress.")] = False,
    limit_warning: Annotated[Optional[int], typer.Option(
        "--limit-warning", metavar="N", help="Warnings a job may log and still pass (default: no limit).")] = None,
    limit_error: Annotated[int, typer.Option(
        "--limit-error", metavar="N", help="Errors a job may log and still pass.")] = 0,
    limit_critical: Annotated[int, typer.Option(
        "--limit-critical", metavar="N", help="Critical messages a job may log and still pass.")] = 0,
    interval: Annotated[float, typer.Option(
        "--interval", metavar="SECONDS", help="Heartbeat interval; a silent child is lost after two.")] = 5.0,
    grace: Annotated[float, typer.Option(
        "--grace", metavar="SECONDS", help="Time between SIGTERM and SIGKILL when stopping jobs.")] = 3.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print groups and tier messages.")] = False,
) -> None:
    """Run a tree of jobs."""
    from .config import Limits
    from .console import Console
    from .procs import become_subreaper
    from .runner import parse_sched_args, run_async

    for name, value in (("--limit-warning", limit_warning), ("--limit-error", limit_error),
                        ("--limit-critical", limit_critical)):
        if value is not None and value < 0:
            _fail(f"{name} must be 0 or more")
    if grace < 0:
        _fail("--grace must be 0 or more")
    console: Any
    if progress and sys.stdout.isatty():
        from .progress import ProgressConsole

        console = ProgressConsole(quiet=quiet, verbose=verbose)
    else:
        console = Console(quiet=quiet, verbose=verbose)
        if progress:
            from .progress import PlainProgress

            console = PlainProgress(console)

    def warn(issue: Any) -> None:
        typer.echo(f"gator: {issue}", err=True)

    def started(directory: Path) -> None:
        console.note(f"Gator: running {spec} with the {scheduler} scheduler; tracking {directory}")

    become_subreaper()  # orphans of the run come back to us, so that none outlives it
    limits = Limits(warning=limit_warning, error=limit_error, critical=limit_critical)
    outcome = asyncio.run(run_async(
        spec, tracking=tracking, scheduler=scheduler, sched_args=parse_sched_args(sched_arg or []),
        limits=limits, interval=interval, grace=grace, sink=console, on_warning=warn,
        on_start=started, handle_signals=True,
    ))
    close = getattr(console, "close", None)
    if close is not None:
        close()
    from .results import load_overview

    top, failed = load_overview(outcome.tracking)
    console.summary(top, failed, str(outcome.tracking), outcome.interrupted)
    raise typer.Exit(outcome.exit_code)


@app.command()
def show(
    tracking: Annotated[Path, typer.Argument(help="Tracking directory of a run (finished or running).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the tree as JSON (a stable format).")] = False,
) -> None:
    """Print the tree of a run: each node's result, exit code, messages, duration and memory."""
    from .results import load_results
    from .showing import print_tree

    root = load_results(tracking)
    if as_json:
        typer.echo(json.dumps(root.to_json(), indent=2))
    else:
        print_tree(root, sys.stdout)


@app.command()
def logs(
    tracking: Annotated[Path, typer.Argument(help="Tracking directory of a run.")],
    path: Annotated[Optional[str], typer.Argument(
        help="Node path as 'gator show' prints it (default: the top).")] = None,
    severity: Annotated[str, typer.Option(
        "--severity", metavar="LEVEL", help="Lowest severity shown: debug, info, warning, error, critical.")]
    = "debug",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message.")] = False,
) -> None:
    """Print the messages of one node."""
    from .results import load_results, node_directory
    from .showing import print_messages
    from .store import severity_value

    try:
        minimum = severity_value(severity)
    except ValueError as exc:
        _fail(str(exc))
    root = load_results(tracking)
    node = node_directory(root, path) if path else root
    print_messages(Path(node.tracking), minimum, as_json, sys.stdout)


@app.command()
def schema() -> None:
    """Print a JSON Schema of the spec language, for editors."""
    from .spec import spec_schema

    typer.echo(json.dumps(spec_schema(), indent=2))


@app.command()
def schedulers() -> None:
    """List the installed scheduler plugins and the package that provides each."""
    from .plugins import available_schedulers

    found = available_schedulers()
    width = max([len(name) for name in found] + [4])
    typer.echo(f"{'NAME':<{width}}  {'PACKAGE':<28}  DESCRIPTION")
    for name in sorted(found):
        info = found[name]
        typer.echo(f"{name:<{width}}  {info.distribution:<28}  {getattr(info.cls, 'description', '')}")


@app.command("log")
def log_command(
    message: Annotated[list[str], typer.Argument(help="The message (words are joined with spaces).")],
    severity: Annotated[str, typer.Option("--severity", "-s", metavar="LEVEL",
                                          help="debug, info, warning, error or critical.")] = "info",
) -> None:
    """From inside a job: log a message to the job's wrapper."""
    from .cli import job_api_command

    raise typer.Exit(job_api_command(["log", "--severity", severity, *message]))


@app.command("metric")
def metric_command(
    name: Annotated[str, typer.Argument(help="Metric name.")],
    value: Annotated[str, typer.Argument(help="A number.")],
) -> None:
    """From inside a job: record a numeric metric of the job."""
    from .cli import job_api_command

    raise typer.Exit(job_api_command(["metric", name, value]))
