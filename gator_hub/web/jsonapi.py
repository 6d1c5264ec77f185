"""The pages' data as JSON, for scripts: buckets, comparisons, a job's details and
messages, and a job's history.  Same views as the HTML; the same read check (the
header, or the pages' cookie); errors are the API's ``{"error": ...}`` with a 4xx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gator_hub.store.hubstore import HubStore
from gator_hub.web import params, views
from gator_hub.web.access import Access

__all__ = ["json_routes"]

Handler = Callable[[Request], Awaitable[Any]]


def json_routes(store: HubStore, access: Access) -> list[Route]:
    def answer(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def respond(request: Request) -> Response:
            access.check(request)
            return JSONResponse(await handler(request), headers={"Cache-Control": "no-store"})
        return respond

    async def buckets(request: Request) -> Any:
        return await run_in_threadpool(views.buckets_view, store, params.run_id(request))

    async def compare(request: Request) -> Any:
        return await run_in_threadpool(views.compare_view, store, params.run_id(request),
                                       params.other_run(request, "with"))

    async def job(request: Request) -> Any:
        source = await run_in_threadpool(views.job_source, store, params.run_id(request), params.job_path(request))
        return await run_in_threadpool(views.job_view, *source)

    async def job_messages(request: Request) -> Any:
        run_id, path = params.run_id(request), params.job_path(request)
        after = params.number(request, "after", 0, 0, 2**62)
        limit = params.number(request, "limit", views.MESSAGES_PAGE, 1, views.MAX_MESSAGES_PAGE)
        min_severity, text = params.severity(request), params.text(request, "q")

        def read() -> dict[str, Any]:
            _, _, data = views.job_source(store, run_id, path)
            return views.messages_view(data, after=after, min_severity=min_severity, text=text, limit=limit)

        return await run_in_threadpool(read)

    async def job_history(request: Request) -> Any:
        spec = params.required(request, "spec")
        limit = params.number(request, "limit", views.HISTORY_RUNS, 1, views.HISTORY_RUNS)
        return await run_in_threadpool(views.history_view, store, spec, params.text(request, "path"), limit)

    handlers: dict[str, Handler] = {
        "/api/runs/{run_id}/buckets": buckets,
        "/api/runs/{run_id}/compare": compare,
        "/api/runs/{run_id}/jobs/{path}": job,
        "/api/runs/{run_id}/jobs/{path}/messages": job_messages,
        "/api/history": job_history,
    }
    return [Route(path, answer(handler)) for path, handler in handlers.items()]
