"""The tier: runs a ``!JobGroup`` or ``!JobArray`` by launching its children.

A tier serves a websocket for its children, launches each one through the
scheduler once its dependencies allow, answers its hello with its part of the
spec, follows its updates, and records everything in its store.  It rolls its
children's summaries up and reports them to its own parent (or, at the root,
to the console).

Nothing waits without a limit.  A child that stops sending heartbeats for two
intervals, that ends without a final report, or that never connects after its
scheduler says it started, is marked lost with the reason.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from gator_core.backoff import Backoff
from gator_core.config import NodeConfig, RunConfig, job_seed
from gator_core.envvars import ATTEMPT, CHILD_KEY, PARENT_URL, TOKEN
from gator_core.exceptions import GatorError, ProtocolError
from gator_core.job.proctree import describe_status
from gator_core.runtime.dependencies import READY, Dependencies
from gator_core.runtime.plan import (
    Child,
    child_layer,
    child_params,
    child_parsers,
    child_rules,
    count_jobs,
    descendant_keys,
    plan_children,
    resolve_cwd,
)
from gator_core.runtime.rerun import split_rerun
from gator_core.sched.contract import (
    CHILD_LOG_NAME,
    ArrayRef,
    ChildEvent,
    EventKind,
    LaunchRequest,
    Resources,
    Scheduler,
    SchedulerContext,
)
from gator_core.spec.deps import DepTarget
from gator_core.spec.model import Job, JobArray, JobGroup
from gator_core.spec.params import matrix_elements
from gator_core.spec.serial import to_dict
from gator_core.states import FAILURES, ChildState, Result, Severity
from gator_core.store.liveness import HEARTBEAT
from gator_core.store.nodestore import LOG_NAME, Store, StoreReader
from gator_core.store.summary import (
    FINAL_RESULTS,
    Summary,
    dependency_outcome,
    empty_jobs,
    empty_messages,
    fold_into,
    job_counts,
    job_metrics,
    new_summary,
    summary_artefacts,
    summary_without_report,
    tier_result,
)
from gator_core.textutil import duration_text, parse_duration
from gator_core.wire.protocol import Ack, Change, Complete, Heartbeat, Hello, Stop, Update, Welcome
from gator_core.wire.transport import ConnectionClosed, ParentServer, PeerLink

__all__ = ["Tier", "ChangeSink", "CHILD_COMMAND"]

CHILD_COMMAND = ("-m", "gator_core.child")  # after the interpreter
LAUNCH_BATCH = 500  # children handed to the scheduler in one call
ROWS_PER_COMMIT = 2000  # children's rows encoded and buffered before they are written
KILL_WAIT = 2.0  # seconds children told to kill their jobs at once have to report it
RETRY_BACKOFF = Backoff(first=1.0, cap=30.0, jitter="equal")  # between attempts of a job
RETRY_SCAN = 100_000  # messages searched for a retry_on message pattern
FARM_MARGIN = 60.0  # seconds a batch system's time limit leaves beyond the spec's timeout and grace
REPORT_HOLD = 60.0  # seconds beyond the grace period a failed job's report waits for its process's end


class ChangeSink(Protocol):
    """Where a root tier sends what happens below it (the console)."""

    def change(self, change: dict[str, Any]) -> None: ...


def _tail(path: Path, lines: int = 6) -> str:
    """Last lines of a child's own log, to explain why it died."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept: list[str] = []
    for line in reversed(text.splitlines()):  # the last distinct lines, in order
        line = line.strip()
        if line and line not in kept:
            kept.insert(0, line)
            if len(kept) == lines:
                break
    return " | ".join(kept)


class Tier:
    """One group or array.  Create, make a scheduler with :meth:`scheduler_context`, then
    ``await tier.run(scheduler)``."""

    def __init__(
        self,
        spec: JobGroup | JobArray,
        node: NodeConfig,
        run: RunConfig,
        *,
        key: str,
        token: str,
        sink: ChangeSink | None = None,
    ) -> None:
        self.spec = spec
        self.node = node
        self.run_config = run
        self.key = key
        self.token = token
        self.sink = sink
        self.poke: Callable[[], None] = lambda: None  # set by the uplink of a child tier
        self.tracking = Path(node.tracking)
        self.layer = child_layer(node.env, spec) if node.env or spec.env else {}
        self.rules = child_rules(node.rules, spec)
        self.parsers = child_parsers(node.parsers, spec)
        # A matrix array's elements: each one's values are params of its children.
        self.elements = matrix_elements(spec)
        self.children = plan_children(spec, self.elements)
        self.deps = Dependencies(spec, self.children, node.watch, self._produced)
        # Siblings whose artefacts someone needs: their children keep them once finished.
        self._producers = {target.sibling for child in self.children for _, target in child.needs
                            if not target.subpath}
        self._read_back: dict[Path, dict[str, list[str]] | None] = {}
        self._job_counts = [count_jobs(node) for node in spec.jobs]
        self._carried, self._rerun_below = split_rerun(self.children, node.rerun_only, node.rerun_from)
        self.store = Store(self.tracking)
        self.scheduler: Scheduler | None = None
        self.url = ""
        self.summary = new_summary(Result.RUNNING, job=False)
        self.stopping: str | None = None
        self.remaining = len(self.children)
        self.active: dict[str, Child] = {}  # launched or running
        # The launched children that have started or have news (an exit, a held report):
        # the only ones the monitor must look at, and whose summaries are live.  The rest
        # of ``active`` waits in the scheduler's queue (all 100,000 of an array can, on
        # the local agent), counted, not visited, every period.
        self._live: dict[str, Child] = {}
        self._queued_jobs = 0  # jobs of the children in ``active`` but not in ``_live``
        self._ready: deque[Child] = deque()  # ready, in the order they became so
        self._wake = asyncio.Event()
        self._changes: list[Change] = []
        self._dirty: set[Child] = set()
        self._all_dirty = False  # every child's row is to be written (a set of 10^5 is not built)
        self._done = {"messages": empty_messages(), "jobs": empty_jobs(), "metrics": {}}
        self._pending_jobs = sum(self._job_counts[c.decl] for c in self.children)
        self._failed = False
        self._timed_out = False  # its own time limit (the spec's timeout) stopped it
        self._spec_cache: dict[int, dict[str, Any]] = {}
        self._run_dict = {"run": run.to_dict()}
        self._stop_deadline = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_deadline_span = 0.0
        # The root tier stamps a heartbeat into its store at every flush, so that
        # `gator show` can tell when the `gator run` process is gone (see liveness).
        self.beats = False
        self._killing: str | None = None  # interrupted twice: the reason

    def child(self, key: str) -> Child | None:
        """The child named ``key``, or None."""
        return self.deps.named(key)

    def _known(self, key: str) -> Child:
        child = self.child(key)
        assert child is not None, key
        return child

    # -- reruns ----------------------------------------------------------------------------------
    def _carry(self, child: Child, row: dict[str, Any]) -> None:
        """A child that passed in the earlier run: its records are linked, not redone."""
        earlier = Path(self.node.rerun_from or "") / child.key
        here = self.tracking / child.key
        if earlier.exists() and not here.exists():
            try:
                here.symlink_to(earlier, target_is_directory=True)
            except OSError:
                pass
        summary = dict(row["summary"])
        summary["reason"] = f"passed in {earlier} (not run again)"
        self._finish(child, summary, carried=True)

    # -- scheduler wiring -------------------------------------------------------------------------
    def scheduler_context(self) -> SchedulerContext:
        return SchedulerContext(
            path=self.node.path,
            token=self.token,
            tracking=self.tracking,
            interval=self.run_config.interval,
            grace=self.run_config.grace,
            events=self._on_event,
            log=self.message,
            inherited=dict(self.run_config.sched_inherited),  # a child tier: never None
            run_id=self.run_config.run_id,
        )

    def message(self, severity: int, text: str) -> None:
        """A message of the tier itself, stored and (when serious) passed up."""
        self.store.add_message(severity, text)
        if severity >= Severity.WARNING:
            self._change({"event": "message", "path": self.node.path, "severity":
                          Severity.of(severity).key, "text": text})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- reporting ------------------------------------------------------------------------------
    def _change(self, change: Change) -> None:
        if self.sink is not None:
            self.sink.change(change)
        else:
            self._changes.append(change)
            self.poke()

    def _child_path(self, child: Child) -> str:
        return f"{self.node.path}.{child.key}"

    def current_summary(self) -> Summary:
        """This tier's summary now: finished children folded in, the rest added live."""
        summary = self.summary
        totals = {"messages": dict(self._done["messages"]), "jobs": dict(self._done["jobs"]),
                  "metrics": {name: dict(stats) for name, stats in self._done["metrics"].items()}}
        jobs = totals["jobs"]
        jobs["pending"] += self._pending_jobs + self._queued_jobs
        jobs["total"] += self._pending_jobs + self._queued_jobs
        for child in self._live.values():
            part = child.summary
            if part is None:
                count = self._job_counts[child.decl]
                jobs["total"] += count
                jobs["running" if child.state is ChildState.RUNNING else "pending"] += count
                continue
            fold_into(totals, part, child.kind)
        summary.update(totals)
        return summary

    def snapshot(self) -> tuple[Summary, list[Change], dict[str, str]]:
        """For the uplink: summary, changes since the last call, watched outcomes."""
        changes, self._changes = self._changes, []
        return self.current_summary(), changes, dict(self.deps.sent)

    # -- child bookkeeping ----------------------------------------------------------------------
    def _row(self, child: Child) -> dict[str, Any]:
        summary = child.summary or {}
        return {
            "id": child.key, "path": self._child_path(child), "decl": child.decl,
            "seed": job_seed(self.run_config.seed, self._child_path(child)) if child.kind == "job" else None,
            "index": child.index, "result": summary.get("result", child.state
                                                         if child.state != ChildState.LAUNCHED else "pending"),
            "summary": summary, "native_id": child.native_id, "host": child.host,
            "pending_reason": child.pending_reason,
        }

    def _activate(self, child: Child) -> None:
        """The child was handed to the scheduler (or connected): it is active."""
        if child.key not in self.active:
            self.active[child.key] = child
            self._queued_jobs += self._job_counts[child.decl]

    def _go_live(self, child: Child) -> None:
        """An active child started, or has news: the monitor watches it from now on."""
        if child.key in self.active and child.key not in self._live:
            self._live[child.key] = child
            self._queued_jobs -= self._job_counts[child.decl]

    def _deactivate(self, child: Child) -> None:
        """The child finished, or goes back to pending for another attempt."""
        if self.active.pop(child.key, None) is not None and self._live.pop(child.key, None) is None:
            self._queued_jobs -= self._job_counts[child.decl]

    def _touch(self, child: Child) -> None:
        self._dirty.add(child)

    def _flush(self) -> None:
        dirty: Iterable[Child] = self.children if self._all_dirty else self._dirty
        self._all_dirty = False
        for count, child in enumerate(dirty, 1):
            self.store.set_child(child.key, child.position, child.kind, child.state, self._row(child))
            if child.state == ChildState.DONE:
                # Folded in and stored: what only its row needed goes, so that a large
                # array stays small as it finishes.
                child.summary = child.exit_event = child.native_id = child.host = child.pending_reason = None
                child.last_seen = child.started_at = child.exit_at = 0.0
            if count % ROWS_PER_COMMIT == 0:  # 10^5 rows at the start are not held at once
                self.store.flush()
        self._dirty.clear()
        self.store.set_attr("summary", self.current_summary())
        if self.beats:
            self.store.set_attr(HEARTBEAT, time.time())
        self.store.flush()

    def _finish(self, child: Child, summary: dict[str, Any], *, carried: bool = False) -> None:
        """Record a child's final summary and let its dependants move (or, for a job whose
        failure is worth another attempt, start it again)."""
        if child.state == ChildState.DONE:
            return
        why = None if carried else self._worth_retrying(child, summary)
        if why is not None:
            self._retry(child, summary, why)
            return
        if child.attempts:  # the final attempt decides; the earlier ones are kept beside it
            summary = {**summary, "attempts": child.attempts}
        was_pending = child.state == ChildState.PENDING
        child.state = ChildState.DONE
        child.summary = summary
        child.outcome = dependency_outcome(summary, child.kind)
        if child.decl in self._producers:
            child.artefacts = summary_artefacts(summary)
        child.link = None
        self._deactivate(child)
        if was_pending:
            self._pending_jobs -= self._job_counts[child.decl]
        fold_into(self._done, summary, child.kind)
        if summary.get("result") in FAILURES or child.outcome == Result.FAIL:
            self._failed = True
        self.remaining -= 1
        self._touch(child)
        path = self._child_path(child)
        started, stopped = summary.get("started"), summary.get("stopped")
        self._change({
            "event": "finish", "path": path, "kind": child.kind,
            "result": summary.get("result"), "exit_code": summary.get("exit_code"),
            "reason": summary.get("reason"),
            "duration": (stopped - started) if started and stopped else None,
            "log": str(self.tracking / child.key / LOG_NAME),
            "messages": summary.get("messages", {}),
            "carried": carried,
            **({"attempts": len(child.attempts) + 1} if child.attempts else {}),
        })
        self._update_dependants(child)
        self._report_watched()
        self._wake.set()

    # -- retries ----------------------------------------------------------------------------------
    def _worth_retrying(self, child: Child, summary: dict[str, Any]) -> str | None:
        """Why a job's failed attempt is worth another (a retry_on rule), or None."""
        node = child.node
        if child.kind != "job" or not getattr(node, "retries", 0) or self.stopping:
            return None
        if child.state not in (ChildState.LAUNCHED, ChildState.RUNNING):  # it never ran: skipped, cancelled
            return None
        if len(child.attempts or ()) >= node.retries:
            return None
        result = summary.get("result")
        for rule in node.retry_on or ["lost"]:
            if rule in ("lost", "timeout") and result == rule:
                return rule
            if isinstance(rule, dict) and result == Result.FAIL:
                codes = rule.get("exit")
                if codes is not None and summary.get("exit_code") in (codes if isinstance(codes, list) else [codes]):
                    return f"exit code {summary.get('exit_code')}"
                pattern = rule.get("message")
                if pattern is not None and self._said(child, pattern):
                    return f"a message matched {pattern!r}"
        return None

    def _said(self, child: Child, pattern: str) -> bool:
        """Whether the job's messages (its store, read back) hold ``pattern``."""
        import re

        regex = re.compile(pattern)
        try:
            with StoreReader(self.tracking / child.key) as store:
                return any(regex.search(row[3]) for row in store.messages(limit=RETRY_SCAN))
        except GatorError:
            return False

    def _retry(self, child: Child, summary: dict[str, Any], why: str) -> None:
        """Keep the failed attempt beside the job's directory and launch the job again
        after a jittered back-off; its dependants wait for the final attempt."""
        attempt = len(child.attempts or ()) + 1
        directory = self.tracking / child.key
        kept = directory.with_name(f"{child.key}.attempt-{attempt}")
        try:
            directory.rename(kept)
        except OSError as exc:
            self.message(Severity.WARNING, f"{self._child_path(child)}: cannot keep attempt {attempt} "
                                           f"({exc}); the next attempt writes over it")
            kept = directory
        child.attempts = [*(child.attempts or ()), {
            "attempt": attempt, "result": summary.get("result"), "reason": summary.get("reason"),
            "exit_code": summary.get("exit_code"), "started": summary.get("started"),
            "stopped": summary.get("stopped"), "tracking": str(kept), "native_id": child.native_id,
            "host": child.host, "retried_for": why}]
        delay = random.uniform(RETRY_BACKOFF.floor(attempt - 1), RETRY_BACKOFF.ceiling(attempt - 1))
        self.message(Severity.WARNING, f"{self._child_path(child)}: attempt {attempt} ended {summary.get('result')}"
                                       f" ({summary.get('reason') or 'no reason'}); {why}: attempt {attempt + 1} "
                                       f"of {child.node.retries + 1} in {delay:.1f} s")
        self._deactivate(child)
        child.state = ChildState.PENDING
        child.summary = child.link = child.native_id = child.host = child.exit_event = child.held = None
        child.report = None
        child.started_at = child.exit_at = child.held_until = 0.0
        child.pending_reason = None
        self._pending_jobs += self._job_counts[child.decl]
        self._touch(child)
        asyncio.get_running_loop().call_later(delay, self._consider, child)

    def _final_summary(self, child: Child, result: str, reason: str, *, unstarted: str | None = None
                       ) -> dict[str, Any]:
        """A summary the tier writes for a child that could not give its own."""
        seed = job_seed(self.run_config.seed, self._child_path(child)) if child.kind == "job" else None
        return summary_without_report(child.summary, kind=child.kind, result=result, reason=reason,
                                      expected_jobs=self._job_counts[child.decl], seed=seed, now=time.time(),
                                      unstarted=unstarted)

    def lose(self, child: Child, reason: str) -> None:
        if child.state == ChildState.DONE:
            return
        self.message(Severity.ERROR, f"{self._child_path(child)} lost: {reason}")
        if child.link is not None:
            self._spawn(child.link.refuse(f"marked lost: {reason}"))
        self._finish(child, self._final_summary(child, Result.LOST, reason))
        if self.scheduler is not None:
            self._spawn(self._terminate([child.key]))

    def _fail(self, child: Child, reason: str) -> None:
        self.message(Severity.ERROR, f"{self._child_path(child)} failed: {reason}")
        self._finish(child, self._final_summary(child, Result.FAIL, reason))

    def _skip(self, child: Child, reason: str) -> None:
        self._finish(child, self._final_summary(child, Result.SKIPPED, reason))

    def _cancel(self, child: Child) -> None:
        """The child never started and never will: the tier is stopping."""
        self._finish(child, self._final_summary(child, Result.CANCELLED, f"not started: {self.stopping}"))

    async def _terminate(self, keys: list[str]) -> None:
        assert self.scheduler is not None
        try:
            await self.scheduler.terminate(keys)
        except Exception as exc:  # the scheduler's trouble must not take the tier down
            self.message(Severity.ERROR, f"scheduler could not terminate {', '.join(keys)}: {exc}")

    # -- dependencies ---------------------------------------------------------------------------
    def _consider(self, child: Child) -> None:
        if child.state != ChildState.PENDING:
            return
        if self.stopping:
            self._cancel(child)
            return
        verdict = self.deps.check(child) if child.deps or child.needs else READY
        if verdict == READY:
            self._ready.append(child)
            self._wake.set()
        elif verdict is not None:
            self._skip(child, verdict)

    def _produced(self, child: Child, need: str, target: DepTarget) -> list[str] | None:
        """The paths of ``need``'s artefact for ``child`` (Dependencies.produced): from the
        producer's final report, or, below a sibling that has ended, from its store."""
        artefact = need.rpartition(".")[2]
        other = self.deps.at(target.sibling, child.index)
        if other is None:
            return None
        if not target.subpath:
            return None if other.artefacts is None else other.artefacts.get(artefact, [])
        paths: list[str] = []
        for keys in descendant_keys(other.node, target.subpath):
            directory = self.tracking.joinpath(other.key, *keys)
            if directory not in self._read_back:
                try:
                    with StoreReader(directory) as store:
                        self._read_back[directory] = summary_artefacts(store.attrs().get("summary"))
                except GatorError:
                    self._read_back[directory] = None
            produced = self._read_back[directory]
            if produced is None or not produced.get(artefact):
                return None if produced is None else []
            paths.extend(produced[artefact])
        return list(dict.fromkeys(paths))  # elements' globs may overlap

    def _artefacts_for(self, child: Child) -> dict[str, list[str]]:
        """What ``child`` and everything below it may use: our own, then its needs."""
        if not child.needs:
            return self.node.artefacts
        values = dict(self.node.artefacts)
        for need, target in child.needs:
            values[need] = self._produced(child, need, target) or []
        return values

    def _update_dependants(self, child: Child) -> None:
        for dependant in self.deps.dependants_of(child):
            self._consider(dependant)

    def _report_watched(self) -> None:
        """Outcomes of descendants our parent waits on, as soon as they are known."""
        if self.deps.newly_decided():
            self.poke()

    # -- scheduler events ---------------------------------------------------------------------
    def _on_event(self, event: ChildEvent) -> None:
        child = self.child(event.key)
        if child is None or child.state == ChildState.DONE:
            return
        if child.attempts and (child.state == ChildState.PENDING or (
                event.native_id and any(event.native_id == old.get("native_id") for old in child.attempts))):
            return  # news of an earlier attempt of a retried job (its exit, typically)
        kind = event.kind
        if kind is EventKind.SUBMITTED:
            child.native_id = event.native_id
            self._touch(child)
        elif kind is EventKind.PENDING:
            child.pending_reason = event.reason
            self._touch(child)
        elif kind is EventKind.RUNNING:
            child.host = event.host or child.host
            child.native_id = event.native_id or child.native_id
            if not child.started_at:
                child.started_at = time.monotonic()
            self._go_live(child)
            self._touch(child)
        elif kind is EventKind.FAILED:
            self._fail(child, event.reason or "the scheduler could not launch it")
        elif kind is EventKind.EXITED:
            child.exit_event = event
            child.exit_at = time.monotonic()
            self._go_live(child)
            if child.held is not None:
                self._settle_held(child)
            elif child.report is not None:
                self._settle_report(child)
            elif child.link is None:
                self._exited_without_report(child)
            # else: the final report may still be in flight; the monitor gives it a moment

    def _settle_held(self, child: Child) -> None:
        """Finish a child that reported itself lost, with the scheduler's word first."""
        summary, child.held = child.held, None
        assert summary is not None
        event = child.exit_event
        if event is not None and event.state:
            summary["reason"] = f"{event.state}: {summary.get('reason') or 'lost'}"
        if event is not None and event.timed_out and child.kind == "job":
            # The farm's time limit (the spec's timeout behind it) killed the wrapper.
            summary.update(result=Result.TIMEOUT, jobs=job_counts(Result.TIMEOUT))
            summary.setdefault("metrics", {}).update(job_metrics(Result.TIMEOUT, summary.get("messages", {})))
        self._finish(child, summary)

    def _hold_for_retry(self, child: Child, summary: dict[str, Any]) -> bool:
        """Whether a final report waits for the process's end before a retry is decided."""
        node = child.node
        return (child.kind == "job" and self.scheduler is not None and child.exit_event is None
                and summary.get("result") in FAILURES and summary.get("result") != Result.LOST
                and len(child.attempts or ()) < getattr(node, "retries", 0))

    def _settle_report(self, child: Child) -> None:
        summary, child.report = child.report, None
        assert summary is not None
        self._finish(child, summary)

    def _exited_without_report(self, child: Child) -> None:
        event = child.exit_event
        if self.stopping and child.state == ChildState.LAUNCHED:
            self._cancel(child)
            return
        if event.state:  # the scheduler's own word comes first: "OUT_OF_MEMORY: ..."
            reason = event.state + (f": {event.reason}" if event.reason else "")
            reason += f" ({describe_status(event.returncode)})" if event.returncode is not None else ""
            reason += "; ended without a final report"
        else:
            detail = describe_status(event.returncode) + (f": {event.reason}" if event.reason else "")
            reason = f"process ended without a final report ({detail})"
        tail = _tail(self.tracking / child.key / CHILD_LOG_NAME, 3)
        if tail and tail not in reason:
            reason += f"; its last output: {tail}"
        if event.timed_out:
            self.message(Severity.ERROR, f"{self._child_path(child)} ran past its time limit: {reason}")
            self._finish(child, self._final_summary(child, Result.TIMEOUT, reason))
            return
        self.lose(child, reason)

    # -- serving children --------------------------------------------------------------------------
    def _refused(self, text: str) -> None:
        self.message(Severity.WARNING, text)

    def _welcome(self, child: Child) -> Welcome:
        params, own = child_params(self.node.params, child, self.elements)  # own: {{ name }} put in
        spec = self._spec_cache.get(child.decl) if own is child.node else to_dict(own)
        if spec is None:
            spec = self._spec_cache[child.decl] = to_dict(child.node)
        arrays = list(self.node.arrays)
        if isinstance(self.spec, JobArray) and child.index is not None:
            arrays.append((self.spec.id or self.key, child.index))
        node = NodeConfig(
            path=self._child_path(child),
            tracking=str(self.tracking / child.key),
            cwd=resolve_cwd(self.node.cwd, own),
            env=child_layer(self.layer, own),
            arrays=arrays,
            watch=self.deps.watch_for(child),
            rules=child_rules(self.rules, child.node),
            parsers=child_parsers(self.parsers, child.node),
            params=params,
            artefacts=self._artefacts_for(child),
            rerun_from=str(Path(self.node.rerun_from) / child.key) if self.node.rerun_from else None,
            rerun_only=self._rerun_below.get(child.key),
        )
        return Welcome(spec=spec, config={**self._run_dict, "node": node.to_dict()})

    async def _serve(self, link: PeerLink) -> None:
        timeout = max(10.0, 2 * self.run_config.interval)
        try:
            hello = await asyncio.wait_for(link.receive(), timeout)
        except ProtocolError as exc:
            self.message(Severity.WARNING, f"refused a peer at {link.remote}: {exc}")
            await link.refuse(str(exc))
            return
        except (ConnectionClosed, asyncio.TimeoutError):
            return
        assert isinstance(hello, Hello)
        child = self.child(hello.key)
        problem = self._hello_problem(hello, child)
        if problem is None and child is not None and child.state == ChildState.DONE:
            await self._serve_finished(link, child)  # it reconnected to repeat its final report
            return
        if problem is not None or child is None:
            self.message(Severity.WARNING, f"refused a peer at {link.remote}: {problem}")
            await link.refuse(problem or "refused")
            return
        child.link = link
        child.last_seen = time.monotonic()
        child.host = hello.host or child.host
        if child.state != ChildState.RUNNING:
            child.state = ChildState.RUNNING
            child.started_at = child.started_at or time.monotonic()
            self._activate(child)
            self._go_live(child)
            # Every child's start goes up, tiers' too: whoever follows the run from the
            # root (a hub) sees the whole tree form, not jobs under unknown parents.
            self._change({"event": "start", "path": self._child_path(child), "kind": child.kind,
                          "time": time.time(), "log": str(self.tracking / child.key / LOG_NAME)})
        self._touch(child)
        try:
            await link.send(self._welcome(child))
            while True:
                message = await link.receive()
                child.last_seen = time.monotonic()
                if isinstance(message, Heartbeat):
                    continue
                if isinstance(message, (Update, Complete)):
                    for change in message.changes:
                        self._change(change)
                    if message.watched:
                        child.watched = {**(child.watched or {}), **message.watched}
                        self._update_dependants(child)
                        self._report_watched()
                if isinstance(message, Update):
                    if child.state != ChildState.DONE:
                        child.summary = message.summary
                        self._touch(child)
                        self.poke()
                elif isinstance(message, Complete):
                    summary = dict(message.summary)
                    if summary.get("result") not in FINAL_RESULTS:
                        summary["result"] = Result.FAIL
                        summary["reason"] = "final report without a final result"
                    if self._hold_for_retry(child, summary):
                        child.report, child.link = summary, None
                        child.report_until = time.monotonic() + self.run_config.grace + REPORT_HOLD
                        assert self.scheduler is not None
                        self.scheduler.reported(child.key)
                        if child.exit_event is not None:
                            self._settle_report(child)
                    elif summary["result"] == Result.LOST and child.kind == "job" and self.scheduler is not None:
                        # Killed from outside: the scheduler may say why (CANCELLED,
                        # PREEMPTED, NODE_FAIL): wait for it, boundedly, before settling.
                        child.held = summary
                        child.held_until = time.monotonic() + self.scheduler.status_latency
                        child.link = None
                        if child.exit_event is not None:
                            self._settle_held(child)
                    else:
                        self._finish(child, summary)
                        if self.scheduler is not None:
                            self.scheduler.reported(child.key)
                    await link.send(Ack())
                    return
        except ProtocolError as exc:
            self.message(Severity.WARNING, f"{self._child_path(child)} sent a bad message: {exc}")
            await link.refuse(str(exc))
        except ConnectionClosed:
            pass
        finally:
            if child.link is link:
                child.link = None
                if child.exit_event is not None and child.state != ChildState.DONE:
                    self._exited_without_report(child)

    def _hello_problem(self, hello: Hello, child: Child | None) -> str | None:
        """Why a hello is refused, or None."""
        if child is None:
            return f"no child '{hello.key}' here"
        attempt = len(child.attempts or ()) + 1
        if child.kind == "job" and hello.attempt != attempt:
            # An earlier attempt's wrapper, back after its retry began (it was taken for
            # lost): it must not pass for the new one.  The refusal makes it stop its job.
            return f"attempt {hello.attempt} of '{hello.key}' was replaced by attempt {attempt}"
        if child.state == ChildState.DONE:
            return None if hello.resume else f"child '{hello.key}' has already finished"
        if child.link is not None and not hello.resume:
            return f"child '{hello.key}' is already connected"
        return None

    async def _serve_finished(self, link: PeerLink, child: Child) -> None:
        """A finished child lost its connection before our ack: acknowledge again."""
        try:
            await link.send(self._welcome(child))
            while True:
                if isinstance(await link.receive(), Complete):
                    await link.send(Ack())
                    return
        except (ProtocolError, ConnectionClosed):
            return

    # -- launching ------------------------------------------------------------------------------
    def _request(self, child: Child) -> LaunchRequest:
        assert self.scheduler is not None
        node = child.node
        resources = Resources.from_spec(node.resources) if isinstance(node, Job) else Resources(cores=0)
        array = None
        # Batch systems name array tasks <template>_<index>: a matrix element, named by its
        # values, is submitted on its own.
        if child.index is not None and self.elements is None:
            array = ArrayRef(self.node.path, child.index, self.spec.repeats,  # type: ignore[union-attr]
                             node.id or f"T{child.decl}")
        request = LaunchRequest(
            key=child.key,
            path=self._child_path(child),
            kind=child.kind,
            argv=(self.scheduler.python, *CHILD_COMMAND),
            env={PARENT_URL: self.url, TOKEN: self.token, CHILD_KEY: child.key,
                 ATTEMPT: str(len(child.attempts or ()) + 1)},
            cwd=self.run_config.launch_dir,
            tracking=str(self.tracking / child.key),
            resources=resources,
            array=array,
            time_limit=(parse_duration(node.timeout) + self.run_config.grace + FARM_MARGIN
                        if node.timeout is not None else None),
            inputs=tuple(path for paths in self._artefacts_for(child).values() for path in paths)
            if child.kind == "job" else (),
        )
        url = self.scheduler.parent_url(request, self.url)
        if url != self.url:
            request = LaunchRequest(**{**request.__dict__, "env": {**request.env, PARENT_URL: url}})
        return request

    async def _launch_ready(self) -> None:
        """Hand ready children to the scheduler in batches (a batch system may submit one
        batch as one array), as many as its launch window has room for: all of them,
        unless it has a window.  The rest wait in ``_ready``; each child's end wakes the
        tier, which hands over more."""
        ready = self._ready
        if self.stopping:
            while ready:
                self._consider(ready.popleft())  # skips it
            return
        assert self.scheduler is not None
        window = self.scheduler.launch_window()
        while ready and not self.stopping:
            room = LAUNCH_BATCH if window is None else min(LAUNCH_BATCH, window - len(self.active))
            if room <= 0:
                return
            launched = []
            while ready and len(launched) < room:
                child = ready.popleft()
                if child.state != ChildState.PENDING:  # considered twice
                    continue
                launched.append(child)
                child.state = ChildState.LAUNCHED
                self._pending_jobs -= self._job_counts[child.decl]
                self._activate(child)
                self._touch(child)
            if not launched:
                continue
            requests = [self._request(child) for child in launched]
            try:
                await self.scheduler.launch(requests)
            except Exception as exc:  # a broken plugin must not hang the tree
                for child in launched:
                    if child.state != ChildState.DONE:
                        self._fail(child, f"scheduler could not launch it: {type(exc).__name__}: {exc}")
            del requests

    # -- monitoring -----------------------------------------------------------------------------
    async def _monitor(self) -> None:
        interval = self.run_config.interval
        period = min(max(interval / 4, 0.05), 0.5)
        limit = 2 * interval
        # A child whose heartbeats stopped is given a little longer (at most another 2 x
        # interval): the scheduler may be about to say why (its host was lost, the batch
        # system killed it), which is worth more than "no heartbeat".
        latency = self.scheduler.status_latency if self.scheduler is not None else 0.0
        silence = limit + min(max(latency, 0.0), limit)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for child in list(self._live.values()):
                if child.state == ChildState.DONE:
                    continue
                if child.held is not None:
                    if now > child.held_until:
                        self._settle_held(child)
                elif child.report is not None:
                    if now > child.report_until:
                        self._settle_report(child)
                elif child.exit_event is not None and now - child.exit_at > 1.0:
                    self._exited_without_report(child)
                elif child.state == ChildState.RUNNING and now - child.last_seen > silence:
                    silent = now - child.last_seen
                    self.lose(child, f"no heartbeat for {silent:.1f} s (interval {interval:g} s)")
                elif child.state == ChildState.LAUNCHED and child.started_at and now - child.started_at > limit:
                    self.lose(child, f"started but did not connect within {limit:g} s")
            if self.stopping and self._stop_deadline and now > self._stop_deadline:
                if self._killing:
                    self._kill_the_rest()
                for child in list(self.active.values()):
                    self.lose(child, f"did not stop within {self._stop_deadline_span:g} s")
                self._stop_deadline = 0.0

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self._flush()

    def stop(self, reason: str, from_outside: bool = False) -> None:
        """Stop the subtree: nothing new starts, and running children are told to stop.
        ``from_outside``: the stop came neither from the run's user nor from the parent
        (a signal to a tier below the root): the tier fails.

        A child that has not started (waiting for its dependencies, or launched but not
        yet connected, such as a job still in a batch queue) is ``cancelled`` at once:
        its scheduler drops it, and should its process start after all, its hello is
        refused, so its job never runs.  The tier need not wait for the batch system to
        confirm that."""
        if from_outside:
            self._failed = True
        if self.stopping:
            return
        self.stopping = reason
        self.message(Severity.WARNING, f"stopping: {reason}")
        span = self.run_config.grace + 2 * self.run_config.interval + 5.0
        self._stop_deadline_span = span
        self._stop_deadline = time.monotonic() + span
        if self.scheduler is not None:
            self.scheduler.stopping()
        for child in self.children:
            if child.state == ChildState.PENDING:
                self._cancel(child)
        queued = []
        for child in list(self.active.values()):
            if child.link is not None:
                self._spawn(self._send_stop(child.link, reason))
                continue
            queued.append(child.key)
            if child.state == ChildState.LAUNCHED:
                self._cancel(child)
        if self.scheduler is not None and queued:
            self._spawn(self._terminate(queued))
        self._wake.set()

    def _limit_reason(self) -> str:
        return f"ran past its {duration_text(self.spec.timeout)} limit"

    def _time_out(self) -> None:
        """The subtree ran past the spec's time limit: stop it; the tier's result is timeout."""
        if self.stopping or self.remaining <= 0:
            return
        self._timed_out = True
        self.stop(self._limit_reason())

    def force_stop(self, reason: str) -> None:
        """Stop without a grace period: connected children are told to kill their jobs
        at once (``stop`` with ``kill``) and given KILL_WAIT seconds to say so; then
        whatever has not reported is recorded as killed, and the scheduler's ``close``,
        which follows, kills what may be left."""
        self.stop(reason)
        if self._killing:
            return
        self._killing = reason
        if self.scheduler is not None:
            self.scheduler.stopping(kill=True)
        for child in list(self.active.values()):
            if child.link is not None:
                self._spawn(self._send_stop(child.link, reason, kill=True))
        self._stop_deadline_span = KILL_WAIT
        self._stop_deadline = time.monotonic() + KILL_WAIT
        self._wake.set()

    def _kill_the_rest(self) -> None:
        for child in list(self.active.values()):
            self.message(Severity.ERROR, f"{self._child_path(child)} killed: {self._killing}")
            self._finish(child, self._final_summary(child, Result.FAIL, f"killed: {self._killing}",
                                                    unstarted=Result.CANCELLED))

    async def _send_stop(self, link: PeerLink, reason: str, *, kill: bool = False) -> None:
        try:
            await link.send(Stop(reason, kill=kill))
        except ConnectionClosed:
            pass

    # -- the run ------------------------------------------------------------------------------
    def abandon(self, reason: str) -> dict[str, Any]:
        """Record that the tier could not run at all (its scheduler did not start), so
        that ``gator show`` says why instead of showing a run that never ends."""
        now = time.time()
        self.stopping = reason  # nothing may be considered for launch any more
        for child in self.children:  # none of them can run now: lost, each with the reason
            self._finish(child, self._final_summary(child, Result.LOST, f"not started: {reason}"))
        self._all_dirty = True
        summary = self.current_summary()
        summary.update(result=Result.FAIL, reason=reason, started=now, stopped=now)
        self.store.set_attrs({"id": self.key, "path": self.node.path, "started": now, "stopped": now,
                              "kind": "array" if isinstance(self.spec, JobArray) else "group",
                              "result": Result.FAIL, "reason": reason, "summary": summary})
        self.store.add_message(Severity.ERROR, reason)
        self._flush()
        return summary

    async def run(self, scheduler: Scheduler) -> dict[str, Any]:
        """Run every child to completion (or until stopped); return the final summary."""
        self.scheduler = scheduler
        # What this tier's scheduler exports reaches the schedulers of its child tiers.
        self.run_config = replace(self.run_config, sched_inherited=scheduler.export())
        self._run_dict = {"run": self.run_config.to_dict()}
        started = time.time()
        self.summary["started"] = started
        self.store.set_attrs({
            "id": self.key, "path": self.node.path, "kind": "array" if isinstance(self.spec, JobArray)
            else "group", "started": started, "scheduler": type(scheduler).name,
            "expected_jobs": count_jobs(self.spec),
        })
        server = ParentServer(scheduler.listen_host(), self.token, self._serve, self._refused)
        self.url = await server.start()
        self.store.set_attr("url", self.url)
        monitor = asyncio.create_task(self._monitor())
        flusher = asyncio.create_task(self._flush_periodically())
        limit = parse_duration(self.spec.timeout) if self.spec.timeout is not None else None
        timer = asyncio.get_running_loop().call_later(limit, self._time_out) if limit else None
        self._all_dirty = True  # every child is visible to `gator show` from the start
        try:
            for key, row in self._carried.items():
                self._carry(self._known(key), row)
            for child in self.children:
                self._consider(child)
            while self.remaining > 0:
                await self._wake.wait()
                self._wake.clear()
                if self._ready:
                    await self._launch_ready()
        finally:
            if timer is not None:
                timer.cancel()
            monitor.cancel()
            flusher.cancel()
            await server.close()
            for task in list(self._tasks):
                task.cancel()
        stopped = time.time()
        summary = self.current_summary()
        summary.update(result=tier_result(summary["jobs"], failed=self._failed), stopped=stopped)
        if self._timed_out:
            summary.update(result=Result.TIMEOUT, reason=self._limit_reason())
        elif self.stopping:
            summary["reason"] = f"stopped: {self.stopping}"
        self.store.set_attrs({"stopped": stopped, "result": summary["result"],
                              "reason": summary["reason"], "summary": summary})
        self._flush()
        return summary

    def close(self) -> None:
        self.store.close()
