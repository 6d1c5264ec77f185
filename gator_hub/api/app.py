"""The hub's Starlette application: ingest (write token) and read endpoints.

The store is synchronous SQLAlchemy; its calls run in Starlette's thread pool
so that one slow query does not stall the event loop.  Every error the hub
raises on purpose becomes a JSON ``{"error": ...}`` with its status; anything
else becomes a JSON 500 and the hub keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gator_hub import web
from gator_hub.api import payloads
from gator_hub.errors import BadRequest, HubError, TooLarge, Unauthorized
from gator_hub.live import Live
from gator_hub.store.hubstore import HubStore
from gator_hub.tracking import holds_run, read_tracking

__all__ = ["MAX_BODY", "DEFAULT_LIMIT", "MAX_LIMIT", "create_app"]

MAX_BODY = 16 * 1024 * 1024
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
RECONCILE_BATCH = 1000  # nodes a transaction when the hub reads a run's end itself
PRUNE_EVERY = 3600.0  # seconds between pruning passes when a retention is set
log = logging.getLogger("gator_hub")


def _bearer_ok(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # compare_digest on bytes: constant time, and no TypeError on non-ASCII input
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def _body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (declared or not)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge(f"the body is over the limit of {limit} bytes")
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _int_param(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        raise BadRequest(f"{name} must be between {low} and {high}" if high else f"{name} must be >= {low}")
    return value


async def _keep_pruning(hub: HubStore, live: Live, retention: float) -> None:
    """Forget runs that ended more than ``retention`` seconds ago: at start, then hourly."""
    while True:
        try:
            removed = await run_in_threadpool(hub.prune_ids, retention)
            live.forget(removed)
            if removed:
                log.warning("hub: removed %d runs past the retention of %g days", len(removed), retention / 86400)
        except Exception as exc:  # noqa: BLE001 - a failed prune is retried, never fatal
            log.error("hub: pruning failed: %r", exc)
        await asyncio.sleep(PRUNE_EVERY)


def reconcile_run(store: HubStore, run_id: str, tracking: str, done: Callable[[], None]) -> None:
    """Bring a finished run's nodes to what its tracking directory holds (as a push would)."""
    try:
        upload = read_tracking(tracking)
        if upload.run_id != run_id:
            log.warning("hub: %s now holds run %s, not %s: not reconciled", tracking, upload.run_id, run_id)
            return
        for start in range(0, len(upload.nodes), RECONCILE_BATCH):
            store.upsert_nodes(run_id, upload.nodes[start:start + RECONCILE_BATCH])
        if upload.end is not None:
            store.finish_run(run_id, upload.end)
    except Exception as exc:  # noqa: BLE001 - logged; the run's own last state stays
        log.error("hub: reading the end of run %s from %s failed: %r", run_id, tracking, exc)
    finally:
        done()


def create_app(db_url: str, token: str, read_token: str | None = None, *, max_body: int = MAX_BODY,
               store: HubStore | None = None, retention: float | None = None) -> Starlette:
    """The hub for the database at ``db_url`` (migrated at start).  Ingest needs ``token``;
    reads need ``read_token`` when one is given, else are open.  With ``retention``
    (seconds), runs that ended longer ago are removed at start and every hour."""
    if not token:
        raise ValueError("the hub needs an ingest token")
    hub = store or HubStore(db_url)
    live = Live()

    def guard(check: Callable[[Request], bool]) -> Callable[[Request], None]:
        def require(request: Request) -> None:
            if not check(request):
                raise Unauthorized("a valid 'Authorization: Bearer <token>' header is needed")
        return require

    ingested = {"requests": 0}  # ingest requests served, for /api/health (runs' request budgets)

    def writer(request: Request) -> None:
        if not _bearer_ok(request, token):
            raise Unauthorized("a valid 'Authorization: Bearer <token>' header is needed")
        ingested["requests"] += 1

    # The ingest token can read as well: whoever may write a run may see it.
    reader = guard(lambda request: read_token is None or _bearer_ok(request, read_token)
                   or _bearer_ok(request, token))

    async def json_body(request: Request) -> Any:
        return payloads.parse_json(await _body(request, max_body))

    def ingest(parse: Callable[[Any], Any], write: Callable[[HubStore, str, Any], Any],
               answer: Callable[[str, Any, Any], dict[str, Any]]) -> Callable[[Request], Any]:
        """An ingest endpoint: check the token, the run id and the body, write in the thread
        pool (one transaction), tell live pages, answer (with the jobs pages follow)."""
        async def endpoint(request: Request) -> Response:
            writer(request)
            run_id = payloads.check_run_id(request.path_params["run_id"])
            data = parse(await json_body(request))
            result = await run_in_threadpool(write, hub, run_id, data)
            await live.publish(run_id)
            return JSONResponse({"id": run_id, **answer(run_id, data, result)})
        return endpoint

    def follow(run_id: str, *_: Any) -> dict[str, Any]:
        return {"follow": live.followed(run_id)}

    def register_run(store: HubStore, run_id: str, data: dict[str, Any]) -> bool | None:
        store.register_run(run_id, data)
        if "tracking" not in data:
            return None
        readable = holds_run(data["tracking"], run_id)  # can the hub read messages there itself?
        store.set_readable(run_id, readable)
        return readable

    register = ingest(payloads.run_payload, register_run,
                      lambda run_id, _data, readable: {"readable": readable, **follow(run_id)})
    add_nodes = ingest(payloads.nodes_payload, HubStore.upsert_nodes,
                       lambda run_id, _data, count: {"nodes": count, **follow(run_id)})
    add_job_data = ingest(payloads.job_data_payload, HubStore.add_job_data,
                          lambda run_id, _data, count: {"messages": count, **follow(run_id)})
    loop: dict[str, asyncio.AbstractEventLoop] = {}  # the serving loop, for threads to publish on

    def finish_run(store: HubStore, run_id: str, data: dict[str, Any]) -> None:
        reconcile = data.pop("reconcile", False)
        store.finish_run(run_id, data)
        record = store.get_run(run_id) if reconcile else {}
        if record.get("readable") and record.get("tracking"):
            # The run asked the hub to read its final tree from the tracking directory it can
            # read, so that the run need not send it all again at its end; done off the request.
            def publish() -> None:
                if "running" in loop:
                    asyncio.run_coroutine_threadsafe(live.publish(run_id), loop["running"])

            threading.Thread(target=reconcile_run, args=(store, run_id, record["tracking"], publish),
                             name=f"gator-hub-reconcile-{run_id[:8]}", daemon=True).start()

    finish = ingest(payloads.finish_payload, finish_run, lambda *_: {})

    async def list_runs(request: Request) -> Response:
        reader(request)
        params = request.query_params
        limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int_param(request, "offset", 0, 0)
        found = await run_in_threadpool(lambda: hub.list_runs(
            limit=limit, offset=offset, before=params.get("before"), spec=params.get("spec"),
            user=params.get("user"), result=params.get("result")))
        page: dict[str, Any] = {"runs": found, "limit": limit}
        if len(found) == limit:
            page["next"] = found[-1]["id"]  # pass as ?before= for the next page
        return JSONResponse(page)

    async def show_run(request: Request) -> Response:
        reader(request)
        run_id = payloads.check_run_id(request.path_params["run_id"])
        tree = await run_in_threadpool(hub.get_tree, run_id)
        if request.query_params.get("with") == "run":
            record = await run_in_threadpool(hub.get_run, run_id)
            return JSONResponse({"run": record, "tree": tree})
        if tree is None:
            return JSONResponse({"error": f"run {run_id!r} has no nodes yet"}, status_code=404)
        return JSONResponse(tree)

    async def health(_request: Request) -> Response:
        return JSONResponse({"ok": True, "ingest_requests": ingested["requests"]})

    async def on_hub_error(_request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, HubError) else 500
        return JSONResponse({"error": str(exc)}, status_code=status)

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def on_anything(_request: Request, exc: Exception) -> Response:
        log.error("hub: unexpected error: %r", exc, exc_info=exc)
        return JSONResponse({"error": "internal error (see the hub's log)"}, status_code=500)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        loop["running"] = asyncio.get_running_loop()
        pruner = asyncio.ensure_future(_keep_pruning(hub, live, retention)) if retention else None
        yield
        if pruner is not None:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner
        if store is None:
            hub.close()

    routes = [
        Route("/api/health", health),
        Route("/api/ingest/runs/{run_id}", register, methods=["PUT"]),
        Route("/api/ingest/runs/{run_id}/nodes", add_nodes, methods=["POST"]),
        Route("/api/ingest/runs/{run_id}/finish", finish, methods=["POST"]),
        Route("/api/ingest/runs/{run_id}/jobs", add_job_data, methods=["POST"]),
        Route("/api/runs", list_runs),
        Route("/api/runs/{run_id}", show_run),
        *web.routes(hub, live, reader),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        HubError: on_hub_error, HTTPException: on_http_error, Exception: on_anything})
    app.state.store = hub
    app.state.live = live
    return app
