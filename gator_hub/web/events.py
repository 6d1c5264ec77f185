"""Live updates for open pages, as server-sent events (``text/event-stream``).

* ``/events?ids=A,B``: the runs page.  Wakes on any run's change (``Live.ANY``) and
  sends ``runs``: the newest runs and the runs ``ids`` names.
* ``/runs/{id}/events``: a run's page.  Wakes on that run's change and sends ``run``:
  its state, counts, progress and failures so far.
* ``/runs/{id}/jobs/{path}/events?after=SEQ&severity=&q=``: a job's page.  Sends
  ``messages`` (those after SEQ that pass the filters; the event's id is the last
  one's seq, so a reconnecting browser resumes after it) and ``job`` (its result and
  figures) when they change, then ``done`` once the job and its run have ended.
  When the hub reads the job's own store (``runs.readable``) it polls the store every
  quarter second; otherwise it wakes when the run uploads more, and while the stream
  is open the hub asks the run for that job's new messages (``Live.following``).

Each stream sends its current state at once, then waits with a time limit: a comment
line goes out after 15 s without news (a dead connection is noticed when it fails),
and a stream ends after 30 min (the browser reconnects).  A stream also ends when
the client has gone.  The read check happens before the stream starts, so a missing
token is a plain 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gator_core import Result
from gator_hub.api.payloads import check_run_id
from gator_hub.errors import BadRequest, HubError
from gator_hub.live import Live
from gator_hub.store import queries
from gator_hub.store.hubstore import HubStore
from gator_hub.web import params, views
from gator_hub.web.access import Access
from gator_hub.web.render import SECURITY_HEADERS

__all__ = ["HEARTBEAT", "POLL", "MIN_GAP", "LIFETIME", "MAX_IDS", "BATCH", "event", "event_routes"]

HEARTBEAT = 15.0  # seconds without news before a comment line
POLL = 0.25  # how often a readable job's store is read
MIN_GAP = 0.2  # between two updates of one stream: a burst of ingests gives few events
LIFETIME = 30 * 60.0  # a stream's length; the browser reconnects after it
MAX_IDS = 200  # runs one runs-page stream follows
BATCH = 1000  # messages in one event
_PING = ": keep-alive\n\n"


def event(name: str, data: Any, ident: int | None = None) -> str:
    """One event; ``json.dumps`` escapes newlines, so the data is one line."""
    head = f"event: {name}\n" + (f"id: {ident}\n" if ident is not None else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


def _stream(events: AsyncIterator[str]) -> Response:
    async def framed() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        async for chunk in _ending_quietly(events):
            yield chunk

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", **SECURITY_HEADERS}
    return StreamingResponse(framed(), media_type="text/event-stream", headers=headers)


Read = Callable[[], Awaitable[Any]]


async def _ending_quietly(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The events, ending the stream (rather than failing it) when the run is pruned meanwhile."""
    try:
        async for chunk in events:
            yield chunk
    except HubError:
        return


async def _follow(request: Request, live: Live, key: str, name: str, read: Read) -> AsyncIterator[str]:
    """``name`` events of ``read()`` at once and after each change of ``key``."""
    seen = live.version(key)  # before the first read: a change during it is not lost
    yield event(name, await read())
    loop = asyncio.get_running_loop()
    end, sent = loop.time() + LIFETIME, loop.time()
    while loop.time() < end and not await request.is_disconnected():
        version = await live.wait(key, seen, HEARTBEAT)
        if version == seen:
            yield _PING
            continue
        await asyncio.sleep(max(0.0, sent + MIN_GAP - loop.time()))
        seen = live.version(key)
        yield event(name, await read())
        sent = loop.time()


def _job_state(node: dict[str, Any]) -> dict[str, Any]:
    keep = ("result", "exit_code", "reason", "duration", "stopped", "messages", "peak_memory")
    return {key: node.get(key) for key in keep}


def _ended(node: dict[str, Any], run: dict[str, Any]) -> bool:
    try:
        final = Result(node["result"]).final
    except ValueError:
        final = True
    return final and run.get("state") != "running"


def event_routes(store: HubStore, live: Live, access: Access) -> list[Route]:
    async def runs_events(request: Request) -> Response:
        access.check(request)
        ids = [check_run_id(part) for part in (params.text(request, "ids") or "").split(",") if part]
        if len(ids) > MAX_IDS:
            raise BadRequest(f"ids: at most {MAX_IDS} runs")

        def read() -> dict[str, Any]:
            found = {run["id"]: run for run in queries.search_runs(store, queries.RunFilter(), limit=50)}
            for run in queries.runs_by_id(store, [run_id for run_id in ids if run_id not in found]):
                found[run["id"]] = run
            ordered = sorted(found.values(), key=lambda run: (run["listed_at"], run["id"]), reverse=True)
            return {"runs": [views.run_summary(run) for run in ordered]}

        return _stream(_follow(request, live, Live.ANY, "runs", lambda: run_in_threadpool(read)))

    async def run_events(request: Request) -> Response:
        access.check(request)
        run_id = params.run_id(request)
        await run_in_threadpool(store.get_run, run_id)  # 404 before the stream starts
        return _stream(_follow(request, live, run_id, "run",
                               lambda: run_in_threadpool(views.live_run, store, run_id)))

    async def job_events(request: Request) -> Response:
        access.check(request)
        run_id, path = params.run_id(request), params.job_path(request)
        after = params.number(request, "after", 0, 0, 2**62)
        resumed = request.headers.get("last-event-id", "")
        if resumed.isdigit():
            after = max(after, int(resumed))
        min_severity, text = params.severity(request), params.text(request, "q")
        seen = live.version(run_id)
        run, node, data = await run_in_threadpool(views.job_source, store, run_id, path)
        polled = isinstance(data, queries.StoredJobData)

        async def events() -> AsyncIterator[str]:
            # a run the hub cannot read: while this page follows the job, the hub's answers to the
            # run's requests ask it for the job's new messages
            with contextlib.nullcontext() if polled else live.following(run_id, path):
                async for chunk in follow():
                    yield chunk

        async def follow() -> AsyncIterator[str]:
            nonlocal after, seen, run, node
            state = _job_state(node)
            yield event("job", state)
            loop = asyncio.get_running_loop()
            end, quiet_since, more = loop.time() + LIFETIME, loop.time(), True
            while loop.time() < end and not await request.is_disconnected():
                if not more:
                    if polled:
                        await asyncio.sleep(POLL)
                    else:
                        await live.wait(run_id, seen, HEARTBEAT)
                changed = live.version(run_id) != seen
                if changed:
                    seen = live.version(run_id)
                    run = await run_in_threadpool(store.get_run, run_id)
                    node = await run_in_threadpool(queries.get_node, store, run_id, path)
                    if _job_state(node) != state:
                        state = _job_state(node)
                        yield event("job", state)
                        quiet_since = loop.time()
                found: list[queries.Message] = []
                if polled or changed or more:
                    found = await run_in_threadpool(partial(data.messages, after=after, min_severity=min_severity,
                                                            text=text, limit=BATCH))
                more = len(found) == BATCH
                if found:
                    after = found[-1].seq
                    yield event("messages", {"messages": [message.to_json() for message in found]}, after)
                    quiet_since = loop.time()
                elif _ended(node, run):
                    yield event("done", {"last": after})
                    return
                if loop.time() - quiet_since >= HEARTBEAT:
                    yield _PING
                    quiet_since = loop.time()

        return _stream(events())

    return [Route("/events", runs_events), Route("/runs/{run_id}/events", run_events),
            Route("/runs/{run_id}/jobs/{path}/events", job_events)]
