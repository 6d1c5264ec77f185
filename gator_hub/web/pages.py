"""The HTML pages: runs, one run, its failure buckets, a comparison, a job, and a job's
history.  Each handler reads its parameters, asks :mod:`gator_hub.web.views` for the
data (in the thread pool) and renders a template; an error the hub raises on purpose
becomes an error page with its status (a 401 offers a field for the read token)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gator_core import Result, Severity, human_bytes
from gator_hub.errors import HubError
from gator_hub.store.hubstore import HubStore
from gator_hub.store.queries import RunFilter
from gator_hub.web import params, views
from gator_hub.web.access import Access
from gator_hub.web.render import html, link_query, took, when
from gator_hub.web.svg import Point, chart

__all__ = ["RUNS_PAGE", "page_routes"]

RUNS_PAGE = 50
RESULTS = tuple(result.value for result in Result)
_TITLES = {400: "bad request", 401: "a read token is needed", 404: "not found", 413: "too large"}

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(access: Access, handler: Handler) -> Handler:
    """Check the reader first (taking a ``?token=`` into a cookie); hub errors as pages."""
    async def page(request: Request) -> Response:
        try:
            redirect = access.take_query_token(request)
            if redirect is not None:
                return redirect
            access.check(request)
            return await handler(request)
        except HubError as exc:
            return html("error.html", exc.status, status=exc.status, title=_TITLES.get(exc.status, "error"),
                        message=str(exc))
    return page


def _blank_run() -> dict[str, Any]:
    """An empty row for the runs page's <template>, which its script fills for new runs."""
    return {"id": "", "spec_name": "", "user": "", "started": None, "duration": None, "state": "running",
            "result": None, "passed": 0, "failed": 0, "lost": 0, "skipped": 0, "done": 0, "total": 0}


def _resource_charts(samples: list[list[Any]]) -> tuple[Any, Any]:
    """CPU percent and resident memory of the job's process tree over its life."""
    start = samples[0][0] if samples else 0.0

    def seconds(value: float) -> str:
        return took(value) if value else "0 s"

    cpu = [Point(row[0] - start, float(row[1] or 0)) for row in samples]
    rss = [Point(row[0] - start, float(row[2] or 0)) for row in samples]
    return (chart(cpu, title="CPU (percent of one core)", y_text=lambda value: f"{value:.0f}%", x_text=seconds,
                  css="cpu"),
            chart(rss, title="Resident memory", y_text=human_bytes, x_text=seconds, css="memory",
                  binary=True))


def _history_chart(view: dict[str, Any]) -> Any:
    """The node's duration run by run, each run a mark coloured by the node's result."""
    path, rows = view["path"], view["runs"]
    points = [Point(index, float(row["duration"] or 0), mark=row["result"] or "absent",
                    label=f"{row['run']}: {row['result'] or 'not in this run'}, {took(row['duration'])}, "
                          f"{when(row['started'])}",
                    href=f"/runs/{quote(row['run'], safe='')}/jobs/{quote(path, safe='')}",
                    joined=row["duration"] is not None)
              for index, row in enumerate(rows)]
    ticks = sorted({round(step * (len(rows) - 1) / 3) for step in range(4)})
    return chart(points, title=f"Duration of {path}, run by run", y_text=took, x_ticks=ticks, css="history",
                 x_text=lambda index: when(rows[int(index)]["started"] or rows[int(index)]["listed_at"])[5:16])


def page_routes(store: HubStore, access: Access) -> list[Route]:
    async def runs_page(request: Request) -> Response:
        filters = RunFilter(spec=params.text(request, "spec"), user=params.text(request, "user"),
                            result=params.choice(request, "result", RESULTS), text=params.text(request, "q"),
                            since=params.day(request, "from"), until=params.day(request, "to", end=True))
        before = params.text(request, "before")
        view = await run_in_threadpool(views.runs_view, store, filters, before=before, limit=RUNS_PAGE)
        specs = await run_in_threadpool(views.queries.spec_names, store)
        shown = {"spec": filters.spec, "user": filters.user, "result": filters.result, "q": filters.text,
                 "from": params.text(request, "from"), "to": params.text(request, "to")}
        return html("runs.html", **view, filters=shown, specs=specs, results=RESULTS, before=before,
                    narrowed=filters.narrowed, first_page=not before and not filters.narrowed, blank=_blank_run())

    async def run_page(request: Request) -> Response:
        run_id = params.run_id(request)
        view = await run_in_threadpool(views.run_view, store, run_id, under=params.text(request, "under"),
                                       page=params.number(request, "page", 1, 1, 1_000_000))
        return html("run.html", run=view, **view)

    async def buckets_page(request: Request) -> Response:
        view = await run_in_threadpool(views.buckets_view, store, params.run_id(request))
        return html("buckets.html", **view)

    async def compare_page(request: Request) -> Response:
        view = await run_in_threadpool(views.compare_view, store, params.run_id(request),
                                       params.other_run(request, "with"))
        return html("compare.html", compared=view.pop("with"), **view)

    async def job_page(request: Request) -> Response:
        run_id, path = params.run_id(request), params.job_path(request)
        after = params.number(request, "after", 0, 0, 2**62)
        limit = params.number(request, "limit", views.MESSAGES_PAGE, 1, views.MAX_MESSAGES_PAGE)
        min_severity, q = params.severity(request), params.text(request, "q")

        def read() -> tuple[dict[str, Any], dict[str, Any]]:
            source = views.job_source(store, run_id, path)
            return views.job_view(*source), views.messages_view(source[2], after=after, min_severity=min_severity,
                                                                text=q, limit=limit)

        view, page = await run_in_threadpool(read)
        severity_name = Severity.of(min_severity).key if min_severity else None
        follow = page["next"] is None  # at the end of the messages: new ones are appended live
        events = (f"/runs/{quote(run_id, safe='')}/jobs/{quote(path, safe='')}/events"
                  f"{link_query(after=page['last'], severity=severity_name, q=q)}")
        cpu_chart, memory_chart = _resource_charts(view["samples"])
        return html("job.html", **view, **page, q=q, severity_name=severity_name,
                    severities=[member.key for member in Severity], follow=follow, events=events,
                    cpu_chart=cpu_chart, memory_chart=memory_chart)

    async def history_page(request: Request) -> Response:
        spec = params.required(request, "spec")
        view = await run_in_threadpool(views.history_view, store, spec, params.text(request, "path"))
        return html("history.html", **view, chart=_history_chart(view))

    pages: dict[str, Handler] = {
        "/": runs_page,
        "/runs/{run_id}": run_page,
        "/runs/{run_id}/buckets": buckets_page,
        "/runs/{run_id}/compare": compare_page,
        "/runs/{run_id}/jobs/{path}": job_page,
        "/history": history_page,
    }
    return [Route(path, _guarded(access, handler)) for path, handler in pages.items()]

