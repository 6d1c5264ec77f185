"""The ``gator`` commands (typer).  The entry point is :mod:`gator_core.cli`."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand

from gator_core.states import FAILURES, Result

__all__ = ["app", "FlagHelpCommand"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Gator: run trees of jobs written in YAML, locally or on a farm.  "
         "'gator SPEC \\[options]' is 'gator run SPEC \\[options]'.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"gator: error: {message}", err=True)
    raise typer.Exit(code)


class FlagHelpCommand(TyperCommand):
    """A command whose help shows no value placeholder for flags.

    typer puts every option's type in the help, so a flag reads ``--quiet
    <bool>`` as if it took a value.  An empty metavar leaves that column blank;
    the help option itself is made here, so it cannot be given one directly.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


# Help panels of `run` and `rerun`: the options read by what they are for.
SCHEDULER_PANEL = "Scheduler"
OUTPUT_PANEL = "Output"
LIMITS_PANEL = "Pass/fail limits"
CONTROL_PANEL = "Run control"
HUB_PANEL = "Hub and notifications"
HUB_CLOSE_WAIT = 10.0  # seconds a finished run waits for its hub to take the rest

# Options shared by `run` and `rerun`.
Scheduler = Annotated[Optional[str], typer.Option(
    "--scheduler", "-s", metavar="NAME", rich_help_panel=SCHEDULER_PANEL,
    help="Scheduler plugin to launch children with (default: local).")]
SchedArg = Annotated[Optional[list[str]], typer.Option(
    "--sched-arg", "-a", metavar="KEY=VALUE", rich_help_panel=SCHEDULER_PANEL,
    help="Scheduler option; repeat for more.")]
Tracking = Annotated[Optional[Path], typer.Option(
    "--tracking", "-t", metavar="DIR", rich_help_panel=OUTPUT_PANEL,
    help="Directory for the run's records, new or empty (default: tracking/<timestamp>).")]
Progress = Annotated[bool, typer.Option(
    "--progress", rich_help_panel=OUTPUT_PANEL, help="Live display of progress.")]
Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", rich_help_panel=OUTPUT_PANEL, help="Print only the final summary.")]
Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", rich_help_panel=OUTPUT_PANEL,
    help="Also print groups and arrays, the tiers' warnings and, in a rerun, the jobs carried over.")]
# The seed system's spelling for printing every message.  The console prints the
# tiers' warnings only when verbose, so that is what it means here.
AllMsg = Annotated[bool, typer.Option(
    "--all-msg", rich_help_panel=OUTPUT_PANEL, help="The same as --verbose (the seed system's spelling).")]
Junit = Annotated[Optional[Path], typer.Option(
    "--junit", metavar="FILE", rich_help_panel=OUTPUT_PANEL, help="Write a JUnit XML report.")]
Param = Annotated[Optional[list[str]], typer.Option(
    "--param", metavar="NAME=VALUE", rich_help_panel=CONTROL_PANEL,
    help="Value of a param of the spec's top node, for {{ NAME }}; repeat for more.")]
Hub = Annotated[Optional[str], typer.Option(
    "--hub", metavar="URL", rich_help_panel=HUB_PANEL, envvar="GATOR_HUB", show_envvar=False,
    help="Report the run live to this hub: http://host:port or host:port (default: $GATOR_HUB).")]
HubTokenFile = Annotated[Optional[Path], typer.Option(
    "--hub-token-file", metavar="FILE", rich_help_panel=HUB_PANEL,
    help="File holding the hub's ingest token (default: $GATOR_HUB_TOKEN).")]
Notify = Annotated[Optional[str], typer.Option(
    "--notify", metavar="URL", rich_help_panel=HUB_PANEL, envvar="GATOR_NOTIFY", show_envvar=False,
    help="Post the run's summary as JSON to this webhook when it ends (default: $GATOR_NOTIFY).")]


def _execute(spec: Any, label: str, *, progress: bool, quiet: bool, verbose: bool, junit: Optional[Path],
             hub: Optional[str] = None, hub_token_file: Optional[Path] = None, notify: Optional[str] = None,
             **run_options: Any) -> None:
    """Run a tree with the console the options ask for; exit with the run's code."""
    from gator_core.job.proctree import become_subreaper
    from gator_core.report.console import Console
    from gator_core.runtime.runner import run_async
    from gator_core.store.readback import load_overview

    console: Any
    if progress and sys.stdout.isatty():
        from gator_core.report.progress import ProgressConsole

        console = ProgressConsole(quiet=quiet, verbose=verbose)
    else:
        console = Console(quiet=quiet, verbose=verbose)
        if progress:
            from gator_core.report.progress import PlainProgress

            console = PlainProgress(console)

    def warn(issue: Any) -> None:
        typer.echo(f"gator: {issue}", err=True)

    def started(directory: Path, seed: int) -> None:
        console.note(f"Gator: running {label} with the {run_options['scheduler']} scheduler, seed {seed}; "
                     f"tracking {directory}")

    if notify:
        from gator_core.plugins import plugin_manager
        from gator_core.report.notify import Notify

        try:
            plugin_manager().register(Notify(notify), name="notify")
        except ValueError as exc:
            _fail(str(exc))
    observers = []
    if hub:
        from gator_core.plugins import hub_reporter

        observers.append(hub_reporter(hub, hub_token_file, console.alert))
    become_subreaper()  # orphans of the run come back to us, so that none outlives it
    try:
        outcome = asyncio.run(run_async(spec, sink=console, on_warning=warn, on_start=started,
                                        handle_signals=True, observers=observers, **run_options))
    finally:
        for observer in observers:  # the hub takes what is left, within a time limit
            for line in observer.close(HUB_CLOSE_WAIT):
                console.alert(line)
    console.close()
    top, failed = load_overview(outcome.tracking)
    console.summary(top, failed, str(outcome.tracking), outcome.interrupted)
    if junit is not None:
        from gator_core.report.junit import write_junit

        counts = write_junit(outcome.tracking, junit)
        console.note(f"JUnit report: {junit} ({counts['tests']} tests, {counts['failures']} failures, "
                     f"{counts['errors']} errors)")
    raise typer.Exit(outcome.exit_code)


@app.command(cls=FlagHelpCommand)
def run(
    spec: Annotated[Path, typer.Argument(metavar="SPEC", help="YAML spec file (!Job, !JobGroup or !JobArray).")],
    scheduler: Scheduler = None,
    sched_arg: SchedArg = None,
    tracking: Tracking = None,
    progress: Progress = False,
    limit_warning: Annotated[Optional[int], typer.Option(
        "--limit-warning", metavar="N", rich_help_panel=LIMITS_PANEL,
        help="Warnings a job may log and still pass (default: no limit).")] = None,
    limit_error: Annotated[int, typer.Option(
        "--limit-error", metavar="N", rich_help_panel=LIMITS_PANEL,
        help="Errors a job may log and still pass.")] = 0,
    limit_critical: Annotated[int, typer.Option(
        "--limit-critical", metavar="N", rich_help_panel=LIMITS_PANEL,
        help="Critical messages a job may log and still pass.")] = 0,
    interval: Annotated[float, typer.Option(
        "--interval", metavar="SECONDS", rich_help_panel=CONTROL_PANEL,
        help="Heartbeat interval; a silent child is lost after two.")] = 5.0,
    grace: Annotated[float, typer.Option(
        "--grace", metavar="SECONDS", rich_help_panel=CONTROL_PANEL,
        help="Time between SIGTERM and SIGKILL when stopping jobs.")] = 3.0,
    seed: Annotated[Optional[int], typer.Option(
        "--seed", metavar="N", rich_help_panel=CONTROL_PANEL,
        help="Run seed; every job's GATOR_SEED derives from it (default: random).")] = None,
    param: Param = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    all_msg: AllMsg = False,
    junit: Junit = None,
    hub: Hub = None,
    hub_token_file: HubTokenFile = None,
    notify: Notify = None,
) -> None:
    """Run a tree of jobs.  'gator SPEC ...' does the same."""
    from gator_core.config import Limits
    from gator_core.runtime.runner import parse_params, parse_sched_args

    for name, value in (("--limit-warning", limit_warning), ("--limit-error", limit_error),
                        ("--limit-critical", limit_critical)):
        if value is not None and value < 0:
            _fail(f"{name} must be 0 or more")
    if grace < 0:
        _fail("--grace must be 0 or more")
    _execute(spec, str(spec), progress=progress, quiet=quiet, verbose=verbose or all_msg, junit=junit,
             hub=hub, hub_token_file=hub_token_file, notify=notify,
             tracking=tracking, scheduler=scheduler or "local", sched_args=parse_sched_args(sched_arg or []),
             limits=Limits(warning=limit_warning, error=limit_error, critical=limit_critical),
             interval=interval, grace=grace, seed=seed, params=parse_params(param or []))


@app.command(cls=FlagHelpCommand)
def rerun(
    earlier: Annotated[Path, typer.Argument(
        metavar="EARLIER", help="Tracking directory of the run to repeat, or a directory of runs for its newest.")],
    failed: Annotated[bool, typer.Option(
        "--failed", rich_help_panel=CONTROL_PANEL,
        help="Run again every job that did not pass (failed, lost, skipped, not started).")] = False,
    job: Annotated[Optional[list[str]], typer.Option(
        "--job", metavar="PATH", rich_help_panel=CONTROL_PANEL,
        help="Run this job again too, whatever its result; repeat for more.")] = None,
    param: Param = None,
    env: Annotated[Optional[list[str]], typer.Option(
        "--env", metavar="NAME=VALUE", rich_help_panel=CONTROL_PANEL,
        help="Set this variable in the jobs run again (over their own); repeat for more.")] = None,
    append_args: Annotated[Optional[list[str]], typer.Option(
        "--append-args", metavar="ARGS", rich_help_panel=CONTROL_PANEL,
        help="Arguments added after each job's own, split as a shell would ('+dump +verbose=3').")] = None,
    new_seeds: Annotated[bool, typer.Option(
        "--new-seeds/--same-seeds", rich_help_panel=CONTROL_PANEL,
        help="Give the jobs new seeds, or the seeds they had (the default).")] = False,
    scheduler: Scheduler = None,
    sched_arg: SchedArg = None,
    tracking: Tracking = None,
    progress: Progress = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    all_msg: AllMsg = False,
    junit: Junit = None,
    hub: Hub = None,
    hub_token_file: HubTokenFile = None,
    notify: Notify = None,
) -> None:
    """Run again the jobs of an earlier run that did not pass, into a new tracking directory.

    The spec, seed, limits and scheduler of the earlier run are used (the
    scheduler and its options can be changed).  Jobs that passed are carried
    over, and count as passed for dependencies.
    """
    import shlex
    from dataclasses import replace

    from gator_core.config import Limits, RunConfig
    from gator_core.runtime.rerun import apply_overrides, plan_rerun
    from gator_core.runtime.runner import parse_params, parse_sched_args

    if not failed and not job:
        _fail("say what to run again: --failed, --job PATH, or both")
    from gator_core.store.readback import find_run

    extra_env = parse_sched_args(env or [], option="--env")
    params = parse_params(param or [])
    try:
        extra_args = [arg for text in append_args or [] for arg in shlex.split(text)]
    except ValueError as exc:
        _fail(f"--append-args: {exc}")
    root, attrs, plan = plan_rerun(find_run(earlier), failed=failed, jobs=job or ())
    root = apply_overrides(root, extra_env, extra_args)
    overrides = {key: value for key, value in (("jobs", list(job or [])), ("params", params), ("env", extra_env),
                                               ("append_args", extra_args),
                                               ("seeds", "new" if new_seeds else "same")) if value}
    plan = replace(plan, overrides=overrides)
    before = RunConfig.from_dict(attrs["run"]) if "run" in attrs else None
    options: dict[str, Any] = {"scheduler": scheduler or (before.scheduler if before else "local")}
    if sched_arg is not None:
        options["sched_args"] = parse_sched_args(sched_arg)
    elif before is not None and options["scheduler"] == before.scheduler:
        options["sched_args"] = dict(before.sched_options)
    if before is not None:
        options.update(limits=before.limits, interval=before.interval, grace=before.grace, seed=before.seed,
                       launch_dir=before.launch_dir)
    else:
        options.update(limits=Limits(), seed=attrs.get("seed"), launch_dir=attrs.get("launch_dir"))
    if new_seeds:
        options["seed"] = None  # a new run seed: every job's GATOR_SEED changes
    if not quiet:
        typer.echo(f"gator: running again {len(plan.paths)} job{'s' if len(plan.paths) != 1 else ''} "
                   f"of {plan.earlier}")
    _execute(root, f"the jobs of {plan.earlier} that did not pass", progress=progress, quiet=quiet,
             verbose=verbose or all_msg, junit=junit, hub=hub, hub_token_file=hub_token_file, notify=notify,
             tracking=tracking, rerun=plan, params=params, **options)


RESULT_NAMES = tuple(result.value for result in Result)


def _say_run_state(tracking: Path) -> None:
    """On stderr: for a run that has not finished, whether its `gator run` still lives;
    for a rerun, what it reran and with which overrides."""
    from gator_core.store.liveness import run_state
    from gator_core.store.nodestore import StoreReader

    with StoreReader(tracking) as store:
        attrs = store.attrs()
    state = run_state(attrs)
    if state is not None:
        typer.echo(f"gator: {tracking}: {state.describe()}", err=True)
    if attrs.get("rerun_of"):  # a rerun: of what, and what it changed
        from gator_core.runtime.rerun import describe_overrides

        changed = describe_overrides(attrs.get("rerun_overrides") or {})
        typer.echo(f"gator: {tracking}: a rerun of {attrs['rerun_of']}" + (f" with {changed}" if changed else ""),
                   err=True)


@app.command(cls=FlagHelpCommand)
def show(
    tracking: Annotated[Path, typer.Argument(
        help="Tracking directory of a run (finished or running), or a directory of runs "
             "for its newest.")] = Path("tracking"),
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the tree (or the jobs, or the buckets) as JSON (a stable format).")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only the jobs that failed or were lost.")] = False,
    result: Annotated[Optional[list[str]], typer.Option(
        "--result", metavar="RESULT", help="Only the jobs with this result; repeat for more.")] = None,
    buckets: Annotated[bool, typer.Option(
        "--buckets", help="The failed and lost jobs grouped by the signature of their first error.")] = False,
    junit: Junit = None,
) -> None:
    """Print the tree of a run: each node's result, exit code, messages, duration, memory and metrics.

    With --failed or --result, print the matching jobs as a list instead.

    With --buckets, print the failed jobs grouped by their first error (numbers, paths and such masked).
    """
    from gator_core.report.jsonout import write_json_list, write_json_tree
    from gator_core.report.show import print_jobs, print_tree_of
    from gator_core.store.readback import find_run, iter_jobs, walk_results

    # A run of 10^5 jobs is 10^6 objects read and dropped, none of them in a cycle: the
    # cyclic collector would only walk them again and again (a third of the time).
    gc.disable()
    tracking = find_run(tracking)

    wanted = set(result or [])
    unknown = wanted - set(RESULT_NAMES)
    if unknown:
        _fail(f"unknown result {sorted(unknown)[0]!r}; use one of {', '.join(RESULT_NAMES)}")
    if buckets and wanted:
        _fail("--buckets groups the failed and lost jobs: it does not take --result")
    if failed:
        wanted |= set(FAILURES)
    if junit is not None:
        from gator_core.report.junit import write_junit

        counts = write_junit(tracking, junit)
        typer.echo(f"JUnit report: {junit} ({counts['tests']} tests, {counts['failures']} failures, "
                   f"{counts['errors']} errors)", err=True)
        if not as_json and not wanted and not buckets:
            return
    if buckets:
        from gator_core.report.buckets import job_buckets
        from gator_core.report.show import print_buckets

        found = job_buckets(iter_jobs(tracking))
        if as_json:
            typer.echo(json.dumps({"buckets": [bucket.to_json() for bucket in found],
                                   "failed": sum(bucket.count for bucket in found)}, indent=2))
        else:
            _say_run_state(tracking)
            print_buckets(found, sys.stdout)
        return
    if wanted:
        jobs = (job for job in iter_jobs(tracking) if job.result in wanted)
        if as_json:
            write_json_list((job.to_json() for job in jobs), sys.stdout)
        else:
            print_jobs(list(jobs), sys.stdout)
        return
    if as_json:
        write_json_tree(tracking, sys.stdout)
    else:
        _say_run_state(tracking)
        print_tree_of(((depth, node) for depth, node, end in walk_results(tracking) if node.kind == "job" or not end),
                      sys.stdout)


@app.command(cls=FlagHelpCommand)
def logs(
    tracking: Annotated[Path, typer.Argument(
        help="Tracking directory of a run, or a directory of runs for its newest.")],
    path: Annotated[Optional[str], typer.Argument(
        help="Node path as 'gator show' prints it (default: the top).")] = None,
    severity: Annotated[str, typer.Option(
        "--severity", metavar="LEVEL", help="Lowest severity shown: debug, info, warning, error, critical.")]
    = "debug",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message.")] = False,
) -> None:
    """Print the messages of one node."""
    from gator_core.report.show import print_messages
    from gator_core.store.nodestore import severity_value
    from gator_core.store.readback import find_node, find_run

    try:
        minimum = severity_value(severity)
    except ValueError as exc:
        _fail(str(exc))
    run = find_run(tracking)
    node = find_node(run, path)
    _say_run_state(run)
    print_messages(Path(node.tracking), minimum, as_json, sys.stdout)


@app.command(cls=FlagHelpCommand)
def schema() -> None:
    """Print a JSON Schema of the spec language, for editors."""
    from gator_core.spec import spec_schema

    typer.echo(json.dumps(spec_schema(), indent=2))


@app.command(cls=FlagHelpCommand)
def parsers() -> None:
    """List the installed log parser plugins and the package that provides each."""
    from gator_core.plugins import available_parsers

    _list_plugins(available_parsers())


def _list_plugins(found: dict[str, Any]) -> None:
    width = max([len(name) for name in found] + [4])
    typer.echo(f"{'NAME':<{width}}  {'PACKAGE':<28}  DESCRIPTION")
    for name in sorted(found):
        info = found[name]
        typer.echo(f"{name:<{width}}  {info.distribution:<28}  {getattr(info.cls, 'description', '')}")


@app.command(cls=FlagHelpCommand)
def runners() -> None:
    """List the installed runners (exec, shell, python and plugins') and the package of each."""
    from gator_core.plugins import available_runners

    _list_plugins(available_runners())


@app.command(cls=FlagHelpCommand)
def schedulers() -> None:
    """List the installed scheduler plugins and the package that provides each."""
    from gator_core.plugins import available_schedulers

    _list_plugins(available_schedulers())


@app.command("log")
def log_command(
    message: Annotated[list[str], typer.Argument(help="The message (words are joined with spaces).")],
    severity: Annotated[str, typer.Option("--severity", "-s", metavar="LEVEL",
                                          help="debug, info, warning, error or critical.")] = "info",
) -> None:
    """From inside a job: log a message to the job's wrapper."""
    from gator_core.job import jobcli

    raise typer.Exit(jobcli.log_command(message, severity))


@app.command("metric")
def metric_command(
    name: Annotated[str, typer.Argument(help="Metric name.")],
    value: Annotated[str, typer.Argument(help="A number.")],
) -> None:
    """From inside a job: record a numeric metric of the job."""
    from gator_core.job import jobcli

    # The value stays text here: jobcli reads it, so a bad one gets the same message either way.
    raise typer.Exit(jobcli.metric_command(name, value))
