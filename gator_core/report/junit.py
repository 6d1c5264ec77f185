"""JUnit XML reports of a run, for CI systems (``--junit FILE``).

One ``<testcase>`` per job, named by its id, with the path of its parent as
``classname`` and its wall time as ``time``.  A failed job carries a
``<failure>`` with the reason and its first error and critical messages; a
lost job an ``<error>``; a skipped or cancelled job ``<skipped>``.  Each test case's
``<system-out>`` names the job's log.  Jobs are streamed from the stores, so
a report of 10^5 jobs costs little memory.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from gator_core.states import Severity
from gator_core.store.nodestore import StoreReader
from gator_core.store.readback import NodeResult, iter_jobs

__all__ = ["write_junit", "FIRST_MESSAGES"]

FIRST_MESSAGES = 10  # error and critical messages quoted in a failure


def _first_errors(job: NodeResult) -> list[str]:
    try:
        with StoreReader(Path(job.tracking)) as store:
            return [row[3] for row in store.messages(Severity.ERROR, limit=FIRST_MESSAGES)]
    except Exception:  # a job that never started has no store: the reason says why
        return []


def _testcase(job: NodeResult) -> str:
    parent, _, name = job.path.rpartition(".")
    attrs = f"classname={quoteattr(parent)} name={quoteattr(name)} time=\"{job.duration or 0:.3f}\""
    body = ""
    if job.result in ("fail", "timeout"):
        text = "\n".join(_first_errors(job))
        body = (f"<failure message={quoteattr(job.reason or 'failed')} type={quoteattr(job.result)}>"
                f"{escape(text)}</failure>")
    elif job.result == "lost":
        text = "\n".join(_first_errors(job))
        body = f"<error message={quoteattr(job.reason or 'lost')} type=\"lost\">{escape(text)}</error>"
    elif job.result in ("skipped", "cancelled", "pending", "running"):
        why = f"{job.result}: {job.reason}" if job.reason and job.result == "cancelled" else job.reason
        body = f"<skipped message={quoteattr(why or job.result)}/>"
    out = f"<system-out>{escape(f'log: {job.log}')}</system-out>" if Path(job.log).exists() else ""
    if job.attempts:  # retried: how many attempts it took (the last one decided)
        body = f"<properties><property name=\"attempts\" value=\"{job.attempt_count}\"/></properties>{body}"
    return f"    <testcase {attrs}>{body}{out}</testcase>\n"


def write_junit(tracking: str | Path, path: str | Path) -> dict[str, int]:
    """Write the report of the run in ``tracking`` to ``path`` (atomically).

    Returns the counts written: tests, failures, errors, skipped.
    """
    top: list[NodeResult] = []
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=".junit-", suffix=".xml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as body:
            for job in iter_jobs(tracking, top):
                counts["tests"] += 1
                if job.result in ("fail", "timeout"):
                    counts["failures"] += 1
                elif job.result == "lost":
                    counts["errors"] += 1
                elif job.result != "pass":
                    counts["skipped"] += 1
                body.write(_testcase(job))
        root = top[0]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(root.started or time.time()))
        totals = " ".join(f'{k}="{v}"' for k, v in counts.items())
        head = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<testsuites name={quoteattr(root.path)} {totals} time="{root.duration or 0:.3f}">\n'
                f'  <testsuite name={quoteattr(root.path)} {totals} time="{root.duration or 0:.3f}" '
                f'timestamp="{stamp}">\n')
        final = f"{scratch}.whole"
        with open(scratch, encoding="utf-8") as body_in, open(final, "w", encoding="utf-8") as out:
            out.write(head)
            for line in body_in:
                out.write(line)
            out.write("  </testsuite>\n</testsuites>\n")
        os.replace(final, target)  # readers never see half a report
    finally:
        os.unlink(scratch)
    return counts
