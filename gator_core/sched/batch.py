"""A base for schedulers that hand children to a batch system (Slurm, Grid Engine, ...).

The base owns the plumbing every batch back end needs, so that a back end is
mostly small, pure functions and tables:

* **grouping**: children of one ``!JobArray`` that share a template and a
  resource request are submitted together, as one array (``Submission``);
* **pacing**: at most ``submit_rate`` submissions a second and at most
  ``max_queued`` children submitted and not yet finished;
* **retries**: a submission that fails with a transient error (a busy or
  unreachable controller) is tried again with exponential back-off, up to
  ``retries`` times; then every child in it fails with the error quoted;
* **status**: children report their own progress over the protocol, so the
  batch system is asked only to catch children that never start or that die
  without a report.  One status query per poll interval covers every child of
  the tier; when the query is slow or fails, the interval doubles (up to five
  minutes) until it succeeds again;
* **closing**: cancels go out in batches; ``close`` cancels everything still
  queued or running and checks that nothing is left.  After something went
  wrong, it also sweeps the queue for the run's leftovers (:meth:`leftovers`);
* **stopping**: when the run is interrupted, ``close`` is quick: it cancels
  what has not reported, and the top of the run looks at the queue every half
  second, for at most ``STOP_WAIT`` seconds, cancelling any job of the run it
  still finds.  It never waits for the batch system's accounting.

A back end implements :meth:`submit`, :meth:`query` and :meth:`cancel` (async,
usually by running a command), and a ``STATES`` table mapping its state names
to ``pending``, ``running`` or ``finished``; and, to sweep the queue,
:meth:`leftovers`.
"""

from __future__ import annotations

import abc
import asyncio
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gator_core.backoff import Backoff
from gator_core.exceptions import LaunchError, UsageError
from gator_core.sched.contract import (
    ChildEvent,
    EventKind,
    LaunchRequest,
    Option,
    Resources,
    Scheduler,
    parse_positive_int,
)
from gator_core.states import Severity

__all__ = ["BatchScheduler", "Submission", "NativeStatus", "group_submissions", "group_key", "parse_seconds",
           "MAX_POLL", "STOP_WAIT"]

MAX_POLL = 300.0  # seconds: the longest a back-off stretches the poll interval
CANCEL_BATCH = 500  # ids in one cancel call
ENDING_WAIT = 15.0  # seconds close() lets children that reported end by themselves
GONE_WAIT = 20.0  # seconds beyond --grace that closing waits for cancelled jobs to leave the queue
CLOSE_FIRST_LOOK = 1.0  # seconds after a tier starts closing that it first looks at the queue
STOP_WAIT = 3.0  # seconds a stopped run's top looks for its jobs still in the queue
STOP_LOOK_GAP = 0.5  # seconds between those looks


def parse_seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


@dataclass(frozen=True)
class Submission:
    """One submit call: a single child, or the elements of an array sharing a
    template and a resource request."""

    requests: tuple[LaunchRequest, ...]

    @property
    def is_array(self) -> bool:
        return self.requests[0].array is not None and len(self.requests) > 1

    @property
    def indices(self) -> list[int]:
        return [request.array.index for request in self.requests if request.array is not None]

    @property
    def resources(self) -> Resources:
        return self.requests[0].resources

    @property
    def path(self) -> str:
        """What to name the batch job after: the child's path, or for an array
        ``<array path>.<template id>``."""
        first = self.requests[0]
        if self.is_array:
            return f"{first.array.array_path}.{first.array.template}"  # type: ignore[union-attr]
        return first.path


@dataclass(frozen=True)
class NativeStatus:
    """What the batch system says about one of its jobs (or array tasks)."""

    native_id: str
    state: str  # the batch system's own name, e.g. PENDING, OUT_OF_MEMORY
    reason: str | None = None
    host: str | None = None
    returncode: int | None = None  # negative: killed by that signal


def group_key(request: LaunchRequest) -> Any:
    """Requests with the same key may go in as one array; None: only on its own."""
    if request.array is None:
        return None
    return (request.array.array_path, request.array.template, repr(request.resources), request.kind)


def group_submissions(requests: Sequence[LaunchRequest], max_array: int) -> list[Submission]:
    """Arrays by (array, template, resources); everything else one by one."""
    groups: dict[Any, list[LaunchRequest]] = {}
    singles: list[Submission] = []
    for request in requests:
        key = group_key(request)
        if key is None:
            singles.append(Submission((request,)))
            continue
        groups.setdefault(key, []).append(request)
    out = list(singles)
    for members in groups.values():
        for start in range(0, len(members), max_array):
            out.append(Submission(tuple(members[start:start + max_array])))
    return out


@dataclass
class _Tracked:
    key: str
    log_path: str = ""  # the child process's own output (batch systems write it)
    native_id: str | None = None
    state: str | None = None
    reason: str | None = None
    running: bool = False
    submitted_at: float = field(default_factory=time.monotonic)


class BatchScheduler(Scheduler):
    """Base class of batch-system schedulers (see the module docstring)."""

    STATES: ClassVar[Mapping[str, str]] = {}  # native state -> pending | running | finished
    options = (
        Option("poll", parse_seconds, None,
               "seconds between status queries (default: the heartbeat interval, at least 5)"),
        Option("submit_rate", parse_seconds, 10.0, "submissions per second at most"),
        Option("max_queued", parse_positive_int, None, "children submitted and not finished at most"),
        Option("array_throttle", parse_positive_int, None, "array elements running at once (the % of --array)"),
        Option("max_array", parse_positive_int, 1000, "elements in one array submission at most"),
        Option("retries", parse_positive_int, 5, "attempts of a submission that fails transiently"),
        Option("host", str, None, "address or host name tiers listen on; compute nodes must reach it "
                                  "(default: this host's name)"),
        Option("interface", str, None, "network interface whose IPv4 address tiers listen on"),
    )

    def __init__(self, options: Mapping[str, str], context: Any) -> None:
        super().__init__(options, context)
        self._queue: list[Submission] = []
        self._tracked: dict[str, _Tracked] = {}  # key -> state
        self._by_native: dict[str, str] = {}  # native id -> key
        self._cancelled: set[str] = set()
        self._reported: set[str] = set()  # keys whose child sent its final report
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        # Something went wrong (a child ended without reporting, something was
        # terminated or cancelled): the top of the run then sweeps the queue for
        # leftovers of the whole run.
        self.troubled = False
        # A child died or was killed without reporting: if it was a tier, its own
        # children may be left in the queue, so this tier sweeps its subtree.
        self.lost_children = False
        self._stopping = False  # the tier is stopping: close quickly
        self._killing = False  # ... and kill what runs, without a grace period
        self._poll_base = self.settings["poll"] or max(5.0, float(context.interval))
        self._poll_interval = self._poll_base
        self._last_query = float("-inf")  # monotonic time of the last status query
        self.calls: dict[str, int] = {}  # command name -> calls made (for benchmarks and tests)

    # -- the back end ---------------------------------------------------------------------------
    @abc.abstractmethod
    async def submit(self, submission: Submission) -> list[str]:
        """Submit; return the native id of each request, in order.

        Raise :class:`~gator_core.LaunchError` with ``transient=True`` for an
        error worth retrying (the controller is busy), ``False`` otherwise.
        """

    @abc.abstractmethod
    async def query(self, native_ids: Sequence[str]) -> dict[str, NativeStatus]:
        """The status of these jobs, in one call.  A job missing from the answer has
        left the batch system's view (finished, as far as it can tell).  Raise
        any exception to signal a failed query (the base backs off)."""

    async def queued(self, native_ids: Sequence[str]) -> dict[str, NativeStatus]:
        """Which of these jobs the batch system still holds (pending or running), for a
        closing tier to wait on.  The default is :meth:`query`; override it when the
        query answers from something slower than the queue itself."""
        return await self.query(native_ids)

    @abc.abstractmethod
    async def cancel(self, native_ids: Sequence[str]) -> None:
        """Cancel these jobs (queued or running), in one call."""

    async def leftovers(self, prefix: str) -> list[str] | None:
        """The ids of this run's jobs whose batch name starts with ``prefix`` (a path;
        ``""`` for the whole run) that are still pending or running, from one query of
        the whole queue; None when the query failed or the back end cannot list the
        queue.  Default: None (no sweeps)."""
        return None

    async def cancel_leftovers(self, native_ids: list[str]) -> None:
        """Cancel ids that :meth:`leftovers` found.  Default: :meth:`cancel`, in batches."""
        await self._cancel_ids(native_ids)

    async def kill(self, native_ids: Sequence[str]) -> None:
        """Cancel these jobs, killing what runs at once, without the batch system's usual
        grace period (a second Ctrl-C).  Default: :meth:`cancel`."""
        await self.cancel(native_ids)

    @property
    def status_latency(self) -> float:  # type: ignore[override]
        return self._poll_interval + 10.0  # one poll, and a slow answer

    def listen_host(self) -> str:
        """The address children connect back to: ``host``, else ``interface``'s IPv4
        address, else what this machine's name resolves to."""
        host = self.settings.get("host")
        if host:
            return socket.gethostbyname(host)
        interface = self.settings.get("interface")
        if interface:
            import psutil

            for address in psutil.net_if_addrs().get(interface, []):
                if address.family == socket.AF_INET:
                    return address.address
            raise UsageError(f"interface {interface!r} has no IPv4 address "
                             f"(interfaces: {', '.join(sorted(psutil.net_if_addrs()))})")
        return socket.gethostbyname(socket.gethostname())

    def explain(self, status: NativeStatus, log_path: str) -> NativeStatus:
        """A child's final status, made more precise where the back end can (e.g. from
        what the batch system wrote into the child's output).  Default: as it is."""
        return status

    def split(self, submission: Submission) -> list[Submission]:
        """Cut a submission into the pieces one submit call can take.  Default: as it is."""
        return [submission]

    def count(self, name: str) -> None:
        """Record one call of a batch-system command (see ``calls``)."""
        self.calls[name] = self.calls.get(name, 0) + 1

    # -- the contract ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._submitter(), name="batch-submitter"),
                       asyncio.create_task(self._poller(), name="batch-poller")]

    async def launch(self, requests: Sequence[LaunchRequest]) -> None:
        for request in requests:
            self._tracked[request.key] = _Tracked(request.key, str(request.log_path))
            self._cancelled.discard(request.key)  # a retried job: a new child under its old key
            self._reported.discard(request.key)
        self._queue.extend(group_submissions(requests, self.settings["max_array"]))
        self._wake.set()

    async def terminate(self, keys: Sequence[str]) -> None:
        self.troubled = True
        if keys:
            self.lost_children = True
        ids = []
        for key in keys:
            tracked = self._tracked.get(key)
            if tracked is None:
                continue
            if tracked.native_id is None:
                self._cancelled.add(key)  # dropped from the queue before it is submitted
            else:
                ids.append(tracked.native_id)
        self._drop_cancelled()
        await self._cancel_ids(ids)

    def reported(self, key: str) -> None:
        self._reported.add(key)
        self._wake.set()  # its slot under max_queued is free

    def stopping(self, *, kill: bool = False) -> None:
        self.troubled = True
        self._stopping = True
        self._killing = self._killing or kill

    def sweep_scope(self) -> str | None:
        """Whose leftover jobs a closing tier should look for in the queue (a path prefix;
        ``""`` for the whole run), or None for nobody's.  The top of the run sweeps the
        whole run when anything went wrong; any other tier sweeps its own subtree when
        a child died or was killed without reporting (a tier's children outlive it).
        A run where nothing went wrong makes no sweep query at all."""
        if self.context.top and self.troubled:
            return ""
        if self.lost_children:
            return self.context.path + "."
        return None

    async def sweep_queue(self, scope: str) -> None:
        """Cancel this run's jobs under ``scope`` still in the queue, until none is left,
        for a bounded time (``--grace`` + GONE_WAIT): after something went wrong, jobs
        of tiers that died are left behind, and nothing will use them.  Each is
        cancelled once.  Queries are paced by :meth:`pace_query`, so a closing tier
        still makes one per poll interval at most."""
        deadline = time.monotonic() + self.context.grace + GONE_WAIT
        done: set[str] = set()
        left: list[str] = []
        while self._next_query_at() <= deadline:
            await self.pace_query()
            found = await self.leftovers(scope)
            if found is None:
                return
            left = found
            await self._cancel_fresh(left, done)
            if not left:
                return
        self.context.log(Severity.ERROR, f"{len(left)} jobs of this run still in the queue after cancelling: "
                             f"{', '.join(left[:10])}")

    async def _cancel_fresh(self, found: list[str], done: set[str]) -> None:
        fresh = [native_id for native_id in found if native_id not in done]
        if fresh:
            self.context.log(Severity.WARNING, f"{'killing' if self._killing else 'cancelling'} {len(fresh)} jobs "
                                 "of this run still in the queue")
            if self._killing:
                await self._cancel_ids(fresh, kill=True)
            else:
                await self.cancel_leftovers(fresh)
            done.update(fresh)

    async def pace_query(self) -> None:
        """Wait until a status query is allowed: the first a moment after closing starts
        (at the end of a run most jobs are gone by then), any other a poll interval
        after the last.  Call it before any query of your own (a sweep)."""
        await asyncio.sleep(max(0.0, self._next_query_at() - time.monotonic()))
        self._last_query = time.monotonic()

    def _next_query_at(self) -> float:
        if self._last_query == float("-inf"):
            return time.monotonic() + min(CLOSE_FIRST_LOOK, self._poll_base)
        return self._last_query + self._poll_base

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._queue.clear()
        live = [t for t in self._tracked.values() if t.native_id is not None and not self._done(t)]
        if self._stopping:
            await self._close_stopped(live)
            return
        # Children that reported are ending by themselves: let them, so that the batch
        # system's accounting shows them completed rather than cancelled.  Those that
        # hang on past ENDING_WAIT are cancelled; the others are cancelled at once.
        ending = [t.native_id for t in live if t.key in self._reported]
        others = [t.native_id for t in live if t.key not in self._reported]
        # The first look comes soon, not a whole poll interval after the poller's last:
        # a child that reported ends within moments, and the run (or the parent tier)
        # waits for this look.  That is one query more, once, at a tier's end.
        self._last_query = min(self._last_query, time.monotonic() - self._poll_base + CLOSE_FIRST_LOOK)
        if others:
            self.troubled = True
            await self._cancel_ids(others)  # type: ignore[arg-type]
        if ending or others:
            await self._wait_gone([*ending, *others], self.context.grace + GONE_WAIT + ENDING_WAIT,  # type: ignore[list-item]
                                  ending=set(ending))  # type: ignore[arg-type]
        scope = self.sweep_scope()
        if scope is not None and self.context.run_id:
            await self.sweep_queue(scope)

    async def _close_stopped(self, live: list[_Tracked]) -> None:
        """Closing a stopped tier: cancel what has not reported, at once.  Only the top
        of the run looks at the queue (one query of the whole queue covers every
        tier's jobs), a few times, for at most STOP_WAIT seconds: a tier below it
        gives the prompt back sooner by leaving that to the top."""
        cancelled = [t.native_id for t in live if t.key not in self._reported]
        await self._cancel_ids(cancelled, kill=self._killing)  # type: ignore[arg-type]
        if not self.context.top:
            return
        deadline = time.monotonic() + STOP_WAIT
        done = set(cancelled)
        asked = [t.native_id for t in live]
        while True:
            found = await self._stopped_leftovers(asked)
            if found is None:
                self.context.log(Severity.WARNING, "could not check that the run's jobs have left the queue")
                return
            await self._cancel_fresh(found, done)  # reported, yet still there: cancel them too
            if not found:
                return
            if time.monotonic() + STOP_LOOK_GAP > deadline:
                self.context.log(Severity.WARNING, f"{len(found)} cancelled jobs of this run are still leaving the "
                                     f"queue: {', '.join(found[:10])}")
                return
            await asyncio.sleep(STOP_LOOK_GAP)

    async def _stopped_leftovers(self, asked: list[str | None]) -> list[str] | None:
        """The run's jobs still queued or running: from a sweep of the whole queue where
        the back end can, else from a query of this tier's own jobs."""
        if self.context.run_id:
            found = await self.leftovers("")
            if found is not None:
                return found
        ids = [native_id for native_id in asked if native_id is not None]
        if not ids:
            return []
        try:
            statuses = await self.queued(ids)
        except Exception:  # noqa: BLE001 - a failed look is reported by the caller
            return None
        return [i for i in ids if i in statuses and self.STATES.get(statuses[i].state) in ("pending", "running")]

    # -- submitting ------------------------------------------------------------------------------
    def _drop_cancelled(self) -> None:
        kept = []
        for submission in self._queue:
            requests = tuple(r for r in submission.requests if r.key not in self._cancelled)
            for request in submission.requests:
                if request.key in self._cancelled:
                    self._final(request.key, EventKind.EXITED, reason="cancelled before it was submitted")
            if requests:
                kept.append(Submission(requests))
        self._queue = kept

    def _in_flight(self) -> int:
        return sum(1 for t in self._tracked.values()
                   if t.native_id is not None and not self._done(t) and t.key not in self._reported)

    @staticmethod
    def _done(tracked: _Tracked) -> bool:
        return tracked.state == "__final__"

    async def _submitter(self) -> None:
        gap = 1.0 / self.settings["submit_rate"]
        last = 0.0
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                limit = self.settings["max_queued"]
                if limit is not None and self._in_flight() >= limit:
                    break  # a child ending wakes us
                submission = self._queue[0]
                if limit is not None:
                    room = limit - self._in_flight()
                    if len(submission.requests) > room:
                        head, tail = submission.requests[:room], submission.requests[room:]
                        submission = Submission(head)
                        self._queue[0] = Submission(tail)
                    else:
                        self._queue.pop(0)
                else:
                    self._queue.pop(0)
                    submission = self._coalesce(submission, limit)
                for part in self.split(submission):
                    wait = last + gap - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    last = time.monotonic()
                    await self._submit_with_retries(part)

    def _coalesce(self, head: Submission, limit: int | None) -> Submission:
        """Merge into ``head`` the queued submissions of the same array (a tier hands
        over a big array in several launch calls): one submission, up to max_array."""
        key = group_key(head.requests[0])
        if key is None or limit is not None:
            return head
        requests = list(head.requests)
        kept = []
        for submission in self._queue:
            if (group_key(submission.requests[0]) == key
                    and len(requests) + len(submission.requests) <= self.settings["max_array"]):
                requests.extend(submission.requests)
            else:
                kept.append(submission)
        self._queue = kept
        return Submission(tuple(requests))

    async def _submit_with_retries(self, submission: Submission) -> None:
        attempts = self.settings["retries"]
        # Equal jitter: many tiers meet one busy controller, so their retries are
        # spread, yet each waits at least half as long as planned.
        delays = Backoff(first=1.0, cap=60.0, jitter="equal").delays()
        for attempt in range(1, attempts + 1):
            try:
                ids = await self.submit(submission)
                if len(ids) != len(submission.requests):
                    raise LaunchError(f"the batch system returned {len(ids)} ids for "
                                      f"{len(submission.requests)} children")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure fails the children, never the tier
                if not isinstance(exc, LaunchError):
                    exc = LaunchError(str(exc) or type(exc).__name__, transient=False)
                if exc.transient and attempt < attempts:
                    delay = next(delays)
                    self.context.log(Severity.WARNING, f"submission failed (attempt {attempt} of {attempts}), "
                                         f"trying again in {delay:.1f} s: {exc}")
                    await asyncio.sleep(delay)
                    continue
                for request in submission.requests:
                    self._final(request.key, EventKind.FAILED, reason=str(exc))
                return
            for request, native_id in zip(submission.requests, ids, strict=True):
                tracked = self._tracked[request.key]
                tracked.native_id = native_id
                tracked.submitted_at = time.monotonic()
                self._by_native[native_id] = request.key
                self.context.events(ChildEvent(request.key, EventKind.SUBMITTED, native_id=native_id))
            # Terminated while the submission was on its way: cancel what it made.
            late = [native_id for request, native_id in zip(submission.requests, ids, strict=True)
                    if request.key in self._cancelled]
            if late:
                await self._cancel_ids(late)
            return

    # -- status ------------------------------------------------------------------------------------
    async def _poller(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            live = [t.native_id for t in self._tracked.values()
                    if t.native_id is not None and not self._done(t)]
            if not live:
                continue
            started = self._last_query = time.monotonic()
            try:
                statuses = await self.query(live)
            except Exception as exc:  # a slow or refusing controller: ask less often
                self._poll_interval = min(self._poll_interval * 2, MAX_POLL)
                self.context.log(Severity.WARNING, f"status query failed; next in {self._poll_interval:g} s: {exc}")
                continue
            took = time.monotonic() - started
            if took > self._poll_base / 2:  # the controller is struggling: give it room
                self._poll_interval = min(self._poll_interval * 2, MAX_POLL)
            else:
                self._poll_interval = self._poll_base
            try:
                self._apply(live, statuses)
            except Exception as exc:  # noqa: BLE001 - the poller must outlive any one answer
                self.context.log(Severity.ERROR, f"could not apply the batch system's answer: {exc!r}")

    def _apply(self, asked: Sequence[str], statuses: Mapping[str, NativeStatus]) -> None:
        for native_id in asked:
            key = self._by_native.get(native_id)
            tracked = self._tracked.get(key) if key else None
            if tracked is None or self._done(tracked):
                continue
            status = statuses.get(native_id)
            if key not in self._reported and (status is None or self.STATES.get(status.state) == "finished"):
                self.troubled = self.lost_children = True  # a child ended without reporting
            if status is None:
                # Gone from the batch system's view, and no final state was seen.
                self._final(key, EventKind.EXITED, state="GONE", reason="left the queue without a final state")  # type: ignore[arg-type]
                continue
            phase = self.STATES.get(status.state, "finished")
            if phase == "pending":
                if status.reason and status.reason != tracked.reason:  # only what the batch system says
                    tracked.reason = status.reason
                    self.context.events(ChildEvent(tracked.key, EventKind.PENDING, native_id=native_id,
                                                   reason=status.reason or status.state))
            elif phase == "running":
                if not tracked.running:
                    tracked.running = True
                    self.context.events(ChildEvent(tracked.key, EventKind.RUNNING, native_id=native_id,
                                                   host=status.host))
            else:
                status = self.explain(status, tracked.log_path)
                self._final(tracked.key, EventKind.EXITED, state=status.state, returncode=status.returncode,
                            reason=status.reason, host=status.host)

    def _final(self, key: str, kind: EventKind, **fields: Any) -> None:
        tracked = self._tracked.get(key)
        if tracked is None or self._done(tracked):
            return
        tracked.state = "__final__"
        self.context.events(ChildEvent(key, kind, native_id=tracked.native_id, **fields))
        self._wake.set()  # room for more under max_queued

    # -- cancelling -------------------------------------------------------------------------------
    async def _cancel_ids(self, ids: Sequence[str], *, kill: bool = False) -> None:
        for start in range(0, len(ids), CANCEL_BATCH):
            try:
                await (self.kill if kill else self.cancel)(list(ids[start:start + CANCEL_BATCH]))
            except Exception as exc:
                self.context.log(Severity.ERROR, f"cancelling {len(ids)} jobs failed: {exc}")

    async def _wait_gone(self, ids: Sequence[str], timeout: float, *, ending: set[str] | None = None) -> list[str]:
        """Ask (bounded) until none of ``ids`` is queued or running; return those that are.
        Those in ``ending`` (their child reported) are given ENDING_WAIT to leave by
        themselves, then cancelled.  Looks are a poll interval apart, counted from the
        poller's last query too: when thousands of tiers stop at once, the controller
        must not see more than one query per interval from each."""
        deadline = time.monotonic() + timeout
        give_up_ending = time.monotonic() + ENDING_WAIT
        remaining = list(ids)
        ending = set(ending or ())
        while remaining and self._next_query_at() <= deadline:
            await self.pace_query()
            try:
                statuses = await self.queued(remaining)
            except Exception:
                continue
            remaining = [i for i in remaining
                         if i in statuses and self.STATES.get(statuses[i].state) in ("pending", "running")]
            hanging = [i for i in remaining if i in ending] if time.monotonic() >= give_up_ending else []
            if hanging:  # reported, yet still running: cancelled like the rest
                self.troubled = True
                ending.difference_update(hanging)
                await self._cancel_ids(hanging)
        if remaining:
            self.context.log(Severity.ERROR, f"{len(remaining)} jobs still in the queue after cancelling: "
                                 f"{', '.join(remaining[:10])}")
        return remaining
