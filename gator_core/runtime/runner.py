"""Running a tree: the root tier, inside the calling process.

``run()`` is the library call behind ``gator run``: it validates the spec and
the scheduler options, checks that every resource request can ever fit,
creates a fresh tracking directory, runs the root tier with the chosen
scheduler and returns the result tree read back from the stores.  Nothing
starts until all of that has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gator_core.config import DEFAULT_GRACE, DEFAULT_INTERVAL, Limits, NodeConfig, RunConfig
from gator_core.exceptions import GatorError, SchedulerError, SpecError, SpecIssue, UsageError
from gator_core.plugins import plugin_manager, scheduler_class
from gator_core.runtime.hooks import HOOK_TIME_LIMIT, hook_observer
from gator_core.runtime.observers import RunInfo, RunObserver, Tee
from gator_core.runtime.rerun import Rerun
from gator_core.runtime.tier import ChangeSink, Tier
from gator_core.sched.agent import release_interpreter
from gator_core.sched.contract import Resources, Scheduler, SchedulerContext
from gator_core.spec import Job, JobArray, JobGroup, Node, dump_spec, load_spec, root_path, validate
from gator_core.spec.model import child_id
from gator_core.spec.params import child_scope, override_params, substitute_node
from gator_core.store.liveness import HEARTBEAT, OWNER, owner_record
from gator_core.store.readback import NodeResult, load_results
from gator_core.store.summary import Summary

__all__ = ["run", "run_async", "RunOutcome", "prepare_tracking", "parse_sched_args", "parse_params"]


@dataclass
class RunOutcome:
    """A finished (or interrupted) run: where it is kept, and how it ended."""

    tracking: Path
    top_result: str
    interrupted: bool = False

    @property
    def result(self) -> NodeResult:
        """The whole result tree, read from the stores (large for a large run)."""
        return load_results(self.tracking)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 0 if self.top_result == "pass" else 1


def _pairs(pairs: list[str] | tuple[str, ...], option: str, shape: str, *, strip: bool) -> dict[str, str]:
    """``NAME=VALUE`` items to a dict (split at the first '='); UsageError naming ``option``
    for an item without '=' or without a name."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{option} takes {shape}, got {pair!r}")
        out[name.strip()] = value.strip() if strip else value
    return out


def parse_sched_args(pairs: list[str] | tuple[str, ...], option: str = "--sched-arg") -> dict[str, str]:
    """``["a=1", "license.vcs=4"]`` to a dict, values stripped; UsageError (naming
    ``option``) for a pair without '=' or without a name."""
    return _pairs(pairs, option, "KEY=VALUE", strip=True)


def parse_params(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["seed=3", "cfg=a=b"]`` to ``{"seed": "3", "cfg": "a=b"}`` (the value is kept as
    written, after the first '='); UsageError for a pair without '=' or without a name."""
    return _pairs(pairs, "--param", "NAME=VALUE", strip=False)


def prepare_tracking(tracking: str | Path | None, base: Path) -> Path:
    """A fresh tracking directory.  An explicit one must be new or empty; the default,
    ``tracking/<timestamp>``, gets a suffix when that name is taken."""
    if tracking is not None:
        path = Path(tracking)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UsageError(
                f"tracking directory {path} already holds files; Gator never writes over a run. "
                "Choose another --tracking directory or remove that one."
            )
        path.mkdir(parents=True, exist_ok=True)
        return path.resolve()
    root = base / "tracking"
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        path = root / (stamp if attempt == 0 else f"{stamp}-{attempt + 1}")
        try:
            path.mkdir()  # atomic: two runs started in the same second get different names
            return path.resolve()
        except FileExistsError:
            continue
    raise UsageError(f"cannot create a tracking directory under {root}")


def _jobs(node: Node, path: str) -> list[tuple[str, Job]]:
    if isinstance(node, Job):
        return [(path, node)]
    out = []
    for pos, child in enumerate(node.jobs):
        out.extend(_jobs(child, f"{path}.{child_id(child, pos)}"))
    return out


async def _tick(sink: Any, tier: Tier) -> None:
    """Give a live display the whole tree's counts about twice a second."""
    while True:
        await asyncio.sleep(0.5)
        sink.tick(tier.current_summary())


def _check_parsers(root: Node, path: str, source: str) -> list[SpecIssue]:
    """Every `parsers:` name must be an installed log parser."""
    from gator_core.plugins import available_parsers
    from gator_core.textutil import did_you_mean

    known = sorted(available_parsers())
    problems = []

    def visit(node: Node, node_path: str) -> None:
        for index, name in enumerate(node.parsers):
            if name not in known:
                file, line, column = node.origin.at("parsers", index) if node.origin else (source, 0, 0)
                problems.append(SpecIssue(file, line, column, f"{node_path}: no log parser called '{name}'"
                                          f"{did_you_mean(name, known)} (installed: {', '.join(known) or 'none'})"))
        if not isinstance(node, Job):
            for pos, child in enumerate(node.jobs):
                visit(child, f"{node_path}.{child_id(child, pos)}")

    visit(root, path)
    return problems


def _check_runners(root: Node, path: str, source: str) -> list[SpecIssue]:
    """Every job's runner is installed and takes its runner_args."""
    from gator_core.job.runners import runner_class

    problems = []
    for job_path, job in _jobs(root, path):
        if job.runner is None and not job.runner_args:
            continue
        try:
            runner_class(job.runner_name)(job.runner_args)
        except (UsageError, ValueError) as exc:
            field = "runner" if isinstance(exc, UsageError) else "runner_args"
            file, line, column = job.origin.at(field) if job.origin else (source, 0, 0)
            problems.append(SpecIssue(file, line, column, f"{job_path}: {exc}"))
    return problems


def _load(spec: str | Path | Node, on_warning: Callable[[SpecIssue], None] | None) -> tuple[Node, str]:
    if isinstance(spec, (str, Path)):
        return load_spec(spec, on_warning=on_warning), str(spec)
    issues = validate(spec)
    if any(issue.severity == "error" for issue in issues):
        raise SpecError(issues)
    for issue in issues:
        if on_warning is not None:
            on_warning(issue)
    return spec, "<python>"


async def run_async(
    spec: str | Path | Node,
    *,
    tracking: str | Path | None = None,
    scheduler: str = "local",
    sched_args: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    interval: float = DEFAULT_INTERVAL,
    grace: float = DEFAULT_GRACE,
    sink: ChangeSink | None = None,
    on_warning: Callable[[SpecIssue], None] | None = None,
    on_start: Callable[[Path, int], None] | None = None,
    handle_signals: bool = False,
    seed: int | None = None,
    rerun: Rerun | None = None,
    launch_dir: str | None = None,
    observers: Sequence[RunObserver] = (),
    params: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """Run a tree and return its outcome.  See :func:`run`."""
    if interval <= 0:
        raise UsageError("--interval must be greater than zero")
    if seed is None:
        seed = secrets.randbelow(1 << 31)  # recorded, so that the run can be repeated
    root, source = _load(spec, on_warning)
    # The top node's params as given (--param): spec.yaml holds them, so a rerun keeps them.
    root = override_params(root, params or {})
    if isinstance(root, Job):  # a lone job runs under an implicit group
        root = JobGroup(id="root", jobs=[root])
    cls = scheduler_class(scheduler)
    options = dict(sched_args or {})
    cls.parse_options(options)  # bad options are reported before anything is created
    launch_dir = launch_dir or os.getcwd()  # where jobs run by default (a rerun: as before)
    path = root_path(root)
    token = secrets.token_urlsafe(32)
    run_id = uuid.uuid4().hex
    # The scheduler is made first, to check every request against what it can ever
    # give; its events reach the root tier, which exists only once all is well.
    late: dict[str, Any] = {}
    context = SchedulerContext(
        path=path, token=token, tracking=Path(launch_dir), interval=interval, grace=grace,
        events=lambda event: late["events"](event),
        log=lambda severity, text: late["log"](severity, text), run_id=run_id,
    )
    instance = cls(options, context)
    problems = _check_parsers(root, path, source) + _check_runners(root, path, source)
    for job_path, job in _jobs(root, path):
        why = instance.check_resources(job_path, Resources.from_spec(job.resources))
        if why:
            origin = job.origin
            problems.append(SpecIssue(origin.file if origin else source, origin.line if origin else 0,
                                      origin.column if origin else 0, f"{job_path}: {why} ({scheduler} scheduler)"))
    if problems:
        raise SpecError(problems)
    directory = prepare_tracking(tracking, Path(os.getcwd()))
    run_config = RunConfig(
        run_id=run_id, tracking_root=str(directory), launch_dir=launch_dir,
        scheduler=scheduler, sched_options=options, interval=interval, grace=grace, limits=limits or Limits(),
        seed=seed,
    )
    scope = child_scope({}, root)  # the top's own params; each tier passes them on, adding its children's
    top = substitute_node(root, scope)
    node = NodeConfig(path=path, tracking=str(directory),
                      cwd=[launch_dir, *([top.cwd] if top.cwd else [])], params=scope,
                      rerun_from=str(rerun.earlier) if rerun else None,
                      rerun_only=list(rerun.paths) if rerun else None)
    spec_text = dump_spec(root)
    (directory / "spec.yaml").write_text(spec_text, encoding="utf-8")
    console = sink
    hooks = hook_observer(plugin_manager(), lambda text: _say(console, text))  # plugins' run hooks
    everyone = [*observers, *([hooks] if hooks is not None else [])]
    tee = None
    if everyone:
        tee = Tee(console, everyone, lambda text: _say(console, text))
        sink = tee
    tier = Tier(top, node, run_config, key=path, token=token, sink=sink)
    tier.beats = True
    late.update(events=tier.scheduler_context().events, log=tier.message)
    context.tracking = directory
    tier.store.set_attrs({"run_id": run_config.run_id, "spec_file": source, "seed": seed,
                          "argv": sys.argv, "launch_dir": launch_dir, "run": run_config.to_dict(),
                          "rerun_of": str(rerun.earlier) if rerun else None,
                          "rerun_overrides": dict(rerun.overrides) if rerun else None,
                          OWNER: owner_record(), HEARTBEAT: time.time()})
    tier.store.flush()  # who runs it is on disk before anything starts
    info = RunInfo(run_id=run_id, tracking=directory, spec_name=path, kind="array" if isinstance(root, JobArray)
                   else "group", spec_file=source, spec_text=spec_text,
                   scheduler=scheduler, seed=seed, started=time.time())
    if on_start is not None:
        on_start(directory, seed)
    if tee is not None:
        tee.started(info)
    interrupted = False
    loop = asyncio.get_running_loop()
    signals = [signal.SIGINT, signal.SIGTERM]
    # SIGHUP means the terminal went away, so the run stops cleanly; but a run started under
    # nohup has chosen to outlive its terminal and must keep ignoring it.
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signals.append(signal.SIGHUP)

    def interrupt(name: str) -> None:
        nonlocal interrupted
        if interrupted:  # a second Ctrl-C: do not wait for the grace period of the tree
            _say(sink, f"gator: interrupted again by {name}: killing every job now and cancelling "
                       "what is queued")
            tier.force_stop(f"interrupted again by {name}")
            return
        interrupted = True
        _say(sink, f"gator: interrupted by {name}: stopping the running jobs and cancelling the others "
                   "(interrupt again to kill them at once)")
        tier.stop(f"interrupted by {name}")

    summary: Summary | None = None
    try:
        try:
            await instance.start()
        except GatorError as exc:
            reason = f"the {scheduler} scheduler did not start: {exc}"
            tier.abandon(reason)
            await instance.close()
            raise SchedulerError(reason) from None
        finally:
            release_interpreter()
        async with _closing(instance) as sched:
            if handle_signals:
                for sig in signals:
                    loop.add_signal_handler(sig, interrupt, signal.Signals(sig).name)
            ticker = asyncio.ensure_future(_tick(sink, tier)) if hasattr(sink, "tick") else None
            try:
                summary = await tier.run(sched)
            finally:
                if ticker is not None:
                    ticker.cancel()
                if handle_signals:
                    for sig in signals:
                        loop.remove_signal_handler(sig)
    finally:
        tier.close()
        if tee is not None and summary is not None:  # it ended (rather than failed to start)
            tee.finished(info, summary, interrupted)
        if hooks is not None:  # the plugins' hooks get a bounded time to finish, whatever happened
            for line in hooks.close(HOOK_TIME_LIMIT):
                _say(console, line)
    return RunOutcome(directory, summary["result"], interrupted)


def _say(sink: Any, text: str) -> None:
    """Tell the user at once, on the console if there is one (even a quiet one)."""
    alert = getattr(sink, "alert", None)
    if alert is not None:
        alert(text)
    else:
        print(text, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def _closing(instance: Scheduler) -> AsyncIterator[Scheduler]:
    """A started scheduler, closed on the way out whatever happens."""
    try:
        yield instance
    finally:
        await instance.close()


def run(spec: str | Path | Node, **kwargs: Any) -> NodeResult:
    """Run a tree (a spec file or a tree of Job/JobGroup/JobArray) and return its results.

    Keyword arguments: ``tracking`` (directory, default ``./tracking/<timestamp>``),
    ``scheduler`` (default ``"local"``), ``sched_args`` (dict of scheduler
    options), ``limits`` (:class:`~gator_core.Limits`), ``interval`` (heartbeat
    seconds), ``grace`` (seconds between SIGTERM and SIGKILL), ``seed`` (the run
    seed each job's ``GATOR_SEED`` derives from; random when not given), ``params``
    (values for params of the top node, as ``gator run --param``).  Raises
    :class:`~gator_core.SpecError` for a bad spec and
    :class:`~gator_core.UsageError` for bad options, before anything runs.
    """
    return asyncio.run(run_async(spec, **kwargs)).result
