"""A small client of the hub's ingest API (urllib: nothing to install), and
``push``: send a tracking directory to a hub.

Every request has a timeout; every failure is a :class:`PushError` that says
what went wrong in words (hub unreachable, token refused, the hub's message).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gator_hub.errors import PushError
from gator_hub.tracking import MESSAGE_CHUNK, job_data, read_tracking

__all__ = ["BATCH", "TIMEOUT", "HubClient", "push", "send_job_data"]

BATCH = 1000  # nodes a request
JOBS_A_REQUEST = 50  # jobs' data in one request (each up to MESSAGE_CHUNK messages)
TIMEOUT = 30.0  # seconds for any one request


class HubClient:
    def __init__(self, url: str, token: str, timeout: float = TIMEOUT) -> None:
        if not url.startswith(("http://", "https://")):
            raise PushError(f"the hub's URL must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except (ValueError, AttributeError, OSError):
                message = exc.reason
            if exc.code == 401:
                raise PushError(f"the hub at {self.url} refused the token (401): {message}", 401) from None
            raise PushError(f"the hub at {self.url} answered {exc.code}: {message}", exc.code) from None
        except urllib.error.URLError as exc:
            raise PushError(f"the hub at {self.url} is unreachable: {exc.reason}") from None
        except TimeoutError:
            raise PushError(f"the hub at {self.url} did not answer within {self.timeout:g} s") from None
        except (OSError, ValueError) as exc:
            raise PushError(f"talking to the hub at {self.url} failed: {exc}") from None


def send_job_data(post: Callable[[list[dict[str, Any]]], Any], jobs: list[tuple[str, Path]],
                  sent: dict[str, int] | None = None) -> None:
    """Send jobs' messages and details (for a hub that cannot read the tracking directory):
    ``post(items)`` sends one request.  ``sent`` maps a path to the last message id the
    hub already has (a job a browser followed while it ran)."""
    items: list[dict[str, Any]] = []
    for path, directory in jobs:
        after = (sent or {}).get(path, 0)
        details = True  # with the first chunk
        while True:  # every message, a chunk at a time
            item, last = job_data(directory, path, after, details=details)
            details = False
            items.append(item)
            if len(items) >= JOBS_A_REQUEST or len(item.get("messages", ())) >= MESSAGE_CHUNK:
                post(items)
                items = []
            if len(item.get("messages", ())) < MESSAGE_CHUNK:
                break
            after = last
    if items:
        post(items)


def push(tracking: str | Path, client: HubClient, batch: int = BATCH,
         say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Send the run in ``tracking``: register, nodes in batches, finish (when it has ended).
    Safe to repeat: every step is an upsert."""
    upload = read_tracking(tracking)
    base = f"/api/ingest/runs/{quote(upload.run_id, safe='')}"
    answer = client.call("PUT", base, upload.run)
    for start in range(0, len(upload.nodes), batch):
        client.call("POST", f"{base}/nodes", upload.nodes[start:start + batch])
    if isinstance(answer, dict) and answer.get("readable") is False:  # the hub cannot read the stores
        send_job_data(lambda items: client.call("POST", f"{base}/jobs", {"jobs": items}),
                      [(node["path"], Path(node["tracking"])) for node in upload.nodes
                       if node["kind"] == "job" and node.get("tracking")])
    if upload.end is not None:
        client.call("POST", f"{base}/finish", upload.end)
    summary = {"run_id": upload.run_id, "nodes": len(upload.nodes), "finished": upload.end is not None}
    if say is not None:
        state = "" if upload.end is not None else " (still running: not marked finished)"
        say(f"pushed run {upload.run_id}: {len(upload.nodes)} nodes to {client.url}{state}")
    return summary
