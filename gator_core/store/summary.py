"""Summaries: what a node reports about itself, and how tiers roll them up.

A summary is a JSON-ready dict::

    {"result": "pass", "exit_code": 0, "reason": None,
     "messages": {"debug": 0, "info": 3, "warning": 0, "error": 0, "critical": 0},
     "jobs": {"total": 1, "passed": 1, "failed": 0, "skipped": 0, "lost": 0,
              "cancelled": 0, "running": 0, "pending": 0},
     "metrics": {...}, "started": 1700000000.0, "stopped": 1700000001.5}

A job's ``metrics`` maps names to numbers.  A tier's maps names to
``{"min", "max", "mean", "sum", "count"}`` over the jobs below it, merged from
its children's summaries, so every tier sees every job without asking.  Tiers
never count themselves in ``jobs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NotRequired, TypedDict

from gator_core.states import FAILURES, SEVERITY_KEYS, Result

__all__ = [
    "summary_artefacts",
    "Summary",
    "JobCounts",
    "MessageCounts",
    "job_metrics",
    "unreported_jobs_metrics",
    "RESULTS",
    "FINAL_RESULTS",
    "SEVERITY_KEYS",
    "JOB_COUNT_KEYS",
    "SETTLED_COUNT_KEYS",
    "tier_result",
    "empty_messages",
    "empty_jobs",
    "job_counts",
    "new_summary",
    "rollup",
    "dependency_outcome",
    "fold_into",
    "summary_without_report",
    "merge_stats",
]

# The vocabulary is gator_core.states; these are the summary's views of it.
RESULTS = tuple(Result)
FINAL_RESULTS = frozenset(result for result in Result if result.final)
# dict.fromkeys: in order, once each (a timeout counts among the failed).
JOB_COUNT_KEYS = tuple(dict.fromkeys(("total", *(result.count_key for result in Result))))
SETTLED_COUNT_KEYS = tuple(dict.fromkeys(result.count_key for result in Result if result.final))  # final results


class MessageCounts(TypedDict):
    """How many messages of each severity (the keys are ``SEVERITY_KEYS``)."""

    debug: int
    info: int
    warning: int
    error: int
    critical: int


# The keys of JOB_COUNT_KEYS; "pass" is counted under "passed", and so on (Result.count_key).
class JobCounts(TypedDict):
    total: int
    passed: int
    failed: int
    skipped: int
    lost: int
    cancelled: int
    running: int
    pending: int


class Summary(TypedDict):
    """A node's summary, as stores, ``update`` and ``complete`` carry it (JSON as it is)."""

    result: str  # a Result value
    exit_code: int | None
    reason: str | None
    messages: MessageCounts
    jobs: JobCounts
    metrics: dict[str, Any]  # a job's: name -> number; a tier's: name -> {min, max, sum, count, mean}
    started: float | None
    stopped: float | None
    seed: NotRequired[int | None]  # jobs: their GATOR_SEED


def empty_messages() -> dict[str, int]:
    return dict.fromkeys(SEVERITY_KEYS, 0)


def empty_jobs() -> dict[str, int]:
    return dict.fromkeys(JOB_COUNT_KEYS, 0)


def job_counts(result: str) -> dict[str, int]:
    """The ``jobs`` counts of a single job with this result."""
    counts = empty_jobs()
    counts["total"] = 1
    counts[Result(result).count_key] = 1
    return counts


def new_summary(result: str = Result.PENDING, *, job: bool) -> Summary:
    return {
        "result": result,
        "exit_code": None,
        "reason": None,
        "messages": empty_messages(),  # type: ignore[typeddict-item]
        "jobs": job_counts(result) if job else empty_jobs(),  # type: ignore[typeddict-item]
        "metrics": {},
        "started": None,
        "stopped": None,
    }


def job_metrics(result: str, messages: Mapping[str, int]) -> dict[str, float]:
    """A job's built-in metrics besides its times and memory: one per severity
    (``msg_error`` ...) and one per result (``jobs_passed`` ... and ``jobs_total``),
    so that tiers roll them up like any other metric."""
    out: dict[str, float] = {f"msg_{name}": int(messages.get(name, 0)) for name in SEVERITY_KEYS}
    counts = job_counts(result)
    for name in (*SETTLED_COUNT_KEYS, "total"):
        out[f"jobs_{name}"] = counts[name]
    return out


def unreported_jobs_metrics(result: str, count: int) -> dict[str, dict[str, float]]:
    """Statistics of ``count`` jobs that ended as ``result`` without ever reporting
    (below a lost or skipped tier): no messages, one result each."""
    out: dict[str, dict[str, float]] = {}
    for name, value in job_metrics(result, {}).items():
        out[name] = {"min": value, "max": value, "sum": value * count, "count": count, "mean": value}
    return out


def merge_stats(into: dict[str, float], other: Mapping[str, float] | float) -> None:
    """Fold a number, or another ``{min, max, sum, count}``, into ``into``."""
    if isinstance(other, (int, float)):
        other = {"min": other, "max": other, "sum": other, "count": 1}
    if not other.get("count"):
        return
    if not into.get("count"):
        into.update(min=other["min"], max=other["max"], sum=other["sum"], count=other["count"])
    else:
        into["min"] = min(into["min"], other["min"])
        into["max"] = max(into["max"], other["max"])
        into["sum"] += other["sum"]
        into["count"] += other["count"]
    into["mean"] = into["sum"] / into["count"]


def rollup(children: Iterable[Mapping[str, Any]], kinds: Iterable[str]) -> dict[str, Any]:
    """Messages, job counts and metric statistics over a tier's children.

    ``kinds`` gives each child's kind ("job", "group", "array") in the same
    order: a job's plain metric values are folded in as single samples.
    """
    messages = empty_messages()
    jobs = empty_jobs()
    metrics: dict[str, dict[str, float]] = {}
    for summary, kind in zip(children, kinds, strict=True):
        for key, value in summary.get("messages", {}).items():
            if key in messages:
                messages[key] += int(value)
        for key, value in summary.get("jobs", {}).items():
            if key in jobs:
                jobs[key] += int(value)
        for name, value in summary.get("metrics", {}).items():
            if kind == "job" and not isinstance(value, (int, float)):
                continue
            merge_stats(metrics.setdefault(name, {}), value)
    return {"messages": messages, "jobs": jobs, "metrics": metrics}


def fold_into(totals: dict[str, Any], part: Mapping[str, Any], kind: str) -> None:
    """Add one child's summary into running totals ``{"messages", "jobs", "metrics"}``.

    A job's plain metric values count as single samples; a tier's statistics
    are merged.
    """
    messages, jobs, metrics = totals["messages"], totals["jobs"], totals["metrics"]
    for name, value in part.get("messages", {}).items():
        if name in messages:
            messages[name] += int(value)
    for name, value in part.get("jobs", {}).items():
        if name in jobs:
            jobs[name] += int(value)
    for name, value in part.get("metrics", {}).items():
        if kind == "job" and not isinstance(value, (int, float)):
            continue
        merge_stats(metrics.setdefault(name, {}), value)


def summary_without_report(last: Mapping[str, Any] | None, *, kind: str, result: str, reason: str,
                           expected_jobs: int, seed: int | None, now: float,
                           unstarted: str | None = None) -> Summary:
    """The final summary a tier writes for a child that could not give its own
    (lost, failed to launch, skipped, cancelled), from the last thing it did say.

    For a group or array, the jobs it had not finished count under ``result``
    (lost with a lost tier, skipped with a skipped one, cancelled with a
    cancelled one).  With ``unstarted``, those it last said were pending count
    under that result instead (a tier killed on a second Ctrl-C: its running
    jobs failed, its pending ones were cancelled).
    """
    last = last or {}
    summary = new_summary(result, job=kind == "job")
    summary["reason"] = reason
    summary["messages"] = dict(last.get("messages") or empty_messages())
    summary["metrics"] = dict(last.get("metrics") or {})
    summary["started"] = last.get("started")
    summary["stopped"] = now if summary["started"] else None
    if kind == "job":
        summary["metrics"].update(job_metrics(result, summary["messages"]))
        summary["seed"] = seed
        return summary
    jobs = empty_jobs()
    for name in SETTLED_COUNT_KEYS:
        jobs[name] = int((last.get("jobs") or {}).get(name, 0))
    unsettled = max(0, expected_jobs - sum(jobs.values()))
    shares = [(result, unsettled)]
    if unstarted is not None:
        waiting = min(unsettled, int((last.get("jobs") or {}).get("pending", 0)))
        shares = [(unstarted, waiting), (result, unsettled - waiting)]
    for share_result, count in shares:
        if not count:
            continue
        jobs[Result(share_result).count_key] += count
        for name, stats in unreported_jobs_metrics(share_result, count).items():
            merged = dict(summary["metrics"].get(name) or {})
            merge_stats(merged, stats)
            summary["metrics"][name] = merged
    jobs["total"] = expected_jobs
    summary["jobs"] = jobs
    return summary


# How a finished job counts for its dependants: lost is a failure, cancelled is skipped.
_JOB_OUTCOMES = {Result.PASS: Result.PASS, Result.FAIL: Result.FAIL, Result.LOST: Result.FAIL,
                 Result.TIMEOUT: Result.FAIL, Result.SKIPPED: Result.SKIPPED, Result.CANCELLED: Result.SKIPPED}


def dependency_outcome(summary: Mapping[str, Any], kind: str) -> Result | None:
    """How a finished node counts for its dependents: pass, fail or skipped.

    None while it has not finished.  A group or array passes only when every
    job in it passed; it fails when any job in it failed or was lost.  A node
    that was cancelled (never ran) counts as skipped: it neither passed nor failed.
    """
    result = summary.get("result")
    if result not in FINAL_RESULTS:
        return None
    if kind == "job":
        return _JOB_OUTCOMES[Result(result)]
    if result in FAILURES:
        return Result.FAIL
    jobs = summary.get("jobs", {})
    if jobs.get("failed", 0) or jobs.get("lost", 0):
        return Result.FAIL
    if result in (Result.SKIPPED, Result.CANCELLED) or jobs.get("skipped", 0) or jobs.get("cancelled", 0):
        return Result.SKIPPED
    return Result.PASS


def tier_result(jobs: Mapping[str, int], *, failed: bool) -> Result:
    """A group's or array's own result once it ends: ``fail`` when a job below it failed
    or was lost (or the tier itself failed), ``cancelled`` when jobs below it never ran
    because the run was stopped, otherwise ``pass`` (skipped jobs do not make a tier
    fail: a dependency ruled them out)."""
    if failed or jobs.get("failed", 0) or jobs.get("lost", 0):
        return Result.FAIL
    if jobs.get("cancelled", 0):
        return Result.CANCELLED
    return Result.PASS


def summary_artefacts(summary: Mapping[str, Any] | None) -> dict[str, list[str]] | None:
    """A job's artefacts as its summary records them: name -> paths (empty: not
    produced).  None when the summary has no record of them (the job never ran)."""
    recorded = (summary or {}).get("artefacts")
    if not isinstance(recorded, dict):
        return None
    return {name: [item["path"] for item in info.get("files", ())] for name, info in recorded.items()}
