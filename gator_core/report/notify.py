"""The built-in ``notify`` plugin: post the run's summary as JSON to a webhook.

Off by default; ``gator run --notify URL`` (or ``$GATOR_NOTIFY``) registers it for
that run.  It implements ``gator_run_finished``, so it runs on the hooks' thread:
a webhook that is slow or down costs the run nothing but a line on the console.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from gator_core.hookspecs import hookimpl
from gator_core.states import FAILURES

__all__ = ["Notify", "NOTIFY_TIMEOUT", "FAILED_LISTED", "run_report"]

NOTIFY_TIMEOUT = 8.0  # seconds for the POST: within the hooks' time limit
FAILED_LISTED = 50  # failed jobs named in the report; the counts say how many there were


def run_report(run: Any, summary: dict[str, Any], result: Any, interrupted: bool) -> dict[str, Any]:
    """What the webhook receives."""
    failed = [{"path": job.path, "result": str(job.result), "reason": job.reason}
              for job in result.jobs_only() if job.result in FAILURES]
    return {
        "run_id": run.run_id, "spec": run.spec_name, "spec_file": run.spec_file, "tracking": str(run.tracking),
        "user": run.user, "host": run.host, "scheduler": run.scheduler, "seed": run.seed,
        "result": str(summary.get("result")), "interrupted": interrupted, "jobs": summary.get("jobs"),
        "started": summary.get("started"), "stopped": summary.get("stopped"),
        "failed": failed[:FAILED_LISTED],
    }


class Notify:
    """Posts the run-finished report to ``url``."""

    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--notify needs an http:// or https:// URL, not {url!r}")
        self.url = url

    @hookimpl
    def gator_run_finished(self, run: Any, summary: dict[str, Any], result: Any, interrupted: bool) -> None:
        body = json.dumps(run_report(run, summary, result, interrupted)).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=NOTIFY_TIMEOUT) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{self.url} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RuntimeError(f"cannot post to {self.url}: {reason}") from None
