"""What each page shows, as plain JSON-ready dicts: the HTML pages render these and
the JSON routes return them, so the two always agree.  Each function is synchronous
(it queries the database) and runs in Starlette's thread pool."""

from __future__ import annotations

import time
from typing import Any

from gator_core import bucket_failures
from gator_hub.errors import NotFound
from gator_hub.store import queries
from gator_hub.store.hubstore import HubStore
from gator_hub.store.queries import FAILED
from gator_hub.web.jobinfo import rerun_command, spec_env

__all__ = ["PER_PAGE", "PREVIEW", "FAILURES_SHOWN", "MESSAGES_PAGE", "MAX_MESSAGES_PAGE", "HISTORY_RUNS",
           "TOP_CHANGES", "LIST_CAP", "progress", "run_summary", "runs_view", "run_view", "live_run",
           "buckets_view", "compare_view", "job_view", "job_source", "messages_view", "history_view"]

PER_PAGE = 200  # children of a group on one page of a run
PREVIEW = 20  # children shown inside a collapsed group, failed first
FAILURES_SHOWN = 200  # failed jobs listed at the top of a run
MESSAGES_PAGE = 500  # messages on one page of a job, by default
MAX_MESSAGES_PAGE = 5000
HISTORY_RUNS = 100
TOP_CHANGES = 20  # the biggest duration changes a comparison lists
LIST_CAP = 1000  # jobs listed under each heading of a comparison (the counts are complete)
_FINAL_COUNTS = ("passed", "failed", "skipped", "lost", "cancelled")


def progress(jobs: dict[str, Any] | None) -> dict[str, int]:
    """How many jobs have ended, of how many."""
    jobs = jobs or {}
    return {"done": sum(int(jobs.get(key) or 0) for key in _FINAL_COUNTS), "total": int(jobs.get("total") or 0)}


def run_summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the list shows it, with its progress and how long it has taken."""
    keep = ("id", "spec_name", "spec_file", "user", "host", "state", "result", "started", "stopped", "jobs")
    summary = {key: run.get(key) for key in keep}
    started, stopped = run.get("started"), run.get("stopped")
    end = stopped if stopped is not None else (time.time() if run.get("state") == "running" else None)
    summary["duration"] = end - started if started is not None and end is not None else None
    jobs = run.get("jobs") or {}
    summary.update({key: int(jobs.get(key) or 0) for key in ("passed", "failed", "lost", "skipped")})
    summary.update(progress(jobs))
    return summary


def runs_view(store: HubStore, filters: queries.RunFilter, *, before: str | None, limit: int) -> dict[str, Any]:
    found = queries.search_runs(store, filters, limit=limit, before=before)
    return {"runs": [run_summary(run) for run in found],
            "next": found[-1]["id"] if len(found) == limit else None}


def _resources(node: dict[str, Any]) -> dict[str, Any]:
    """cpu_time and wall_time of a node: a job's own figures, a group's sums."""
    metrics = node.get("metrics") or {}
    out = {}
    for name in ("cpu_time", "wall_time"):
        value = metrics.get(name)
        out[name] = value.get("sum") if isinstance(value, dict) else value
    return {**node, **out}


def _first_error(node: dict[str, Any]) -> str | None:
    errors = node.get("first_errors")
    return errors[0] if isinstance(errors, list) and errors else None


def _run_state(store: HubStore, run: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's summary with its failure count, and its first failed jobs."""
    failures, failed = queries.failed_jobs(store, run["id"], FAILURES_SHOWN)
    for node in failures:
        node["first_error"] = _first_error(node)
    return {**run_summary(run), "failed_jobs": failed}, failures


def live_run(store: HubStore, run_id: str) -> dict[str, Any]:
    """What a run's page updates while it runs: state, counts, progress, failures so far."""
    state, failures = _run_state(store, store.get_run(run_id))
    state["failures"] = [{key: node[key] for key in ("path", "result", "reason", "first_error")}
                         for node in failures]
    return state


def run_view(store: HubStore, run_id: str, *, under: str | None, page: int) -> dict[str, Any]:
    """The run, its failures, and one page of the children of ``under`` (default: the top),
    each group among them with its first few children."""
    run = store.get_run(run_id)
    view, failures = _run_state(store, run)
    top = queries.top_node(store, run_id)
    view.update(argv=run.get("argv"), tracking=run.get("tracking"), scheduler=run.get("scheduler"),
                seed=run.get("seed"), top=top and _resources(top),
                failures=[_resources(node) for node in failures])
    view["previous"] = queries.previous_run(store, run_id)
    if top is None:
        view.update(under=None, children=[], total_children=0, page=1, pages=1, previews={}, counts={})
        return view
    under = under or top["path"]
    if under != top["path"]:
        queries.get_node(store, run_id, under)  # NotFound for a path the run does not have
    rows, total = queries.children(store, run_id, under, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    groups = [row["path"] for row in rows if row["kind"] != "job"]
    previews = queries.first_children(store, run_id, groups, PREVIEW)
    view.update(under=under, children=[_resources(row) for row in rows], total_children=total, page=page,
                pages=max(1, -(-total // PER_PAGE)), counts=queries.child_counts(store, run_id, groups),
                previews={parent: [_resources(row) for row in found] for parent, found in previews.items()})
    return view


def buckets_view(store: HubStore, run_id: str, examples: int = 5) -> dict[str, Any]:
    """The run's failed and lost jobs grouped by the signature of their first error."""
    run = store.get_run(run_id)
    buckets = bucket_failures(queries.failure_texts(store, run_id), examples=examples)
    return {"run": run_summary(run), "failures": sum(bucket.count for bucket in buckets),
            "buckets": [bucket.to_json() for bucket in buckets]}


def compare_view(store: HubStore, run_id: str, other: str | None) -> dict[str, Any]:
    """``run_id`` against ``other`` (default: the previous run of its spec): jobs newly
    failing, newly passing, still failing, and the biggest changes of duration."""
    run = store.get_run(run_id)
    other = other or queries.previous_run(store, run_id)
    base = store.get_run(other) if other else None
    view: dict[str, Any] = {"run": run_summary(run), "with": run_summary(base) if base else None}
    now = queries.job_results(store, run_id)
    before = queries.job_results(store, other) if other else {}
    lists: dict[str, list[dict[str, Any]]] = {"newly_failing": [], "newly_passing": [], "still_failing": []}
    changes = []
    for path in sorted(now):
        result, duration = now[path]
        earlier, earlier_duration = before.get(path, (None, None))
        entry = {"path": path, "result": result, "before": earlier}
        if result in FAILED:
            lists["still_failing" if earlier in FAILED else "newly_failing"].append(entry)
        elif result == "pass" and earlier in FAILED:
            lists["newly_passing"].append(entry)
        if duration is not None and earlier_duration is not None:
            changes.append({"path": path, "before": earlier_duration, "after": duration,
                            "change": duration - earlier_duration})
    if base is None:
        lists = {key: [] for key in lists}  # nothing to compare with: nothing is new
    changes.sort(key=lambda item: (-abs(item["change"]), item["path"]))
    view["counts"] = {key: len(found) for key, found in lists.items()}
    view.update({key: found[:LIST_CAP] for key, found in lists.items()})
    view["duration_changes"] = changes[:TOP_CHANGES]
    return view


def job_source(store: HubStore, run_id: str, path: str) -> tuple[dict[str, Any], dict[str, Any], queries.JobData]:
    """The run, the node, and where the job's own data is read from."""
    run = store.get_run(run_id)
    node = queries.get_node(store, run_id, path)
    top = queries.top_node(store, run_id)
    return run, node, queries.job_data(store, run, node, top and top.get("tracking"))


def job_view(run: dict[str, Any], node: dict[str, Any], data: queries.JobData) -> dict[str, Any]:
    """Everything about one job (from :func:`job_source`) but its messages: those come a
    page at a time."""
    path = node["path"]
    attrs = data.attrs()
    argv = attrs.get("argv")
    if not isinstance(argv, list):
        command = attrs.get("command")
        argv = [command, *(attrs.get("args") or [])] if command else None
    return {
        "run": run_summary(run),
        "node": _resources({key: node.get(key) for key in (*queries.NODE_FIELDS, "tracking", "log", "native_id",
                                                            "host", "seed")}),
        "argv": argv,
        "cwd": attrs.get("cwd"),
        "host": node.get("host") or attrs.get("host"),
        "pid": attrs.get("job_pid") or attrs.get("pid"),
        "metrics": data.metrics() or node.get("metrics") or {},
        "samples": [list(row) for row in data.samples()],
        "env": spec_env(run.get("spec_text"), path),
        "rerun": rerun_command(run.get("tracking")),
        "source": "store" if isinstance(data, queries.StoredJobData) else "upload",
    }


def messages_view(data: queries.JobData, *, after: int, min_severity: int, text: str | None,
                  limit: int) -> dict[str, Any]:
    """One page of a job's messages after ``after``; ``next`` is set when there are more."""
    found = data.messages(after=after, min_severity=min_severity, text=text, limit=limit)
    last = found[-1].seq if found else after
    return {"messages": [message.to_json() for message in found], "after": after, "last": last,
            "next": last if len(found) == limit else None}


def history_view(store: HubStore, spec: str, path: str | None, limit: int = HISTORY_RUNS) -> dict[str, Any]:
    """A node (default: the top) across the last ``limit`` runs of ``spec``, oldest first."""
    rows = queries.history(store, spec, path or spec, limit)
    if not rows:
        raise NotFound(f"no run of the spec {spec!r}")
    return {"spec": spec, "path": path or spec, "runs": rows}
