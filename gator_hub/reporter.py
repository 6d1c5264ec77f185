"""Reporting a live run to a hub, from the run's root process (``gator run --hub``).

The root tier tells a :class:`HubReporter` what it tells the console (see
:class:`gator_core.RunObserver`).  Those calls only note what changed, under a
lock; a thread of the reporter's own sends it, about twice a second, in
batches: a run of 10,000 jobs makes a few hundred requests, not one per job.

The hub never fails or slows a run:

* every request has a short timeout, and runs on the reporter's thread;
* when the hub is down or slow, the run goes on; the console says so once, and
  again once when it is back;
* what is not sent yet is kept coalesced, one entry per node (a later state
  replaces an earlier one), so the backlog is bounded by the size of the tree,
  and by ``BACKLOG`` entries beyond which only the end is sent;
* at the end the whole tree is read back from the tracking directory and sent
  (as ``gator hub push`` does), so the hub ends up with exactly what
  ``gator show --json`` prints, whatever was missed on the way.

When the hub cannot read the run's tracking directory (another machine), the
reporter also sends each finished job's messages and details, and the new
messages of the jobs a browser follows while they run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gator_core import Backoff, Result, RunInfo
from gator_hub.client import HubClient, send_job_data
from gator_hub.errors import PushError
from gator_hub.tracking import first_errors, job_data, read_tracking

__all__ = ["HubReporter", "FLUSH_EVERY", "BACKLOG", "TIMEOUT"]

FLUSH_EVERY = 0.5  # seconds between batches
FOLLOW_POLL = 1.0  # seconds between requests of a quiet run, for a hub that cannot read its stores
TIMEOUT = 5.0  # seconds for one request: a slow hub costs the reporter's thread, never the run
BATCH = 1000  # nodes a request
BACKLOG = 200_000  # node entries kept unsent before only the end is sent
FAILED = tuple(result.value for result in Result if result.failed)


def _parent(path: str) -> str | None:
    return path.rsplit(".", 1)[0] if "." in path else None


def node_of_change(change: dict[str, Any]) -> dict[str, Any] | None:
    """A change from the root tier as the (partial) node the hub keeps, or None."""
    event, path = change.get("event"), change.get("path")
    if event not in ("start", "finish") or not path:
        return None
    node: dict[str, Any] = {"id": path.rsplit(".", 1)[-1], "path": path, "parent": _parent(path),
                            "kind": change.get("kind") or "job"}
    log = change.get("log")
    if log:
        node["log"] = log
        node["tracking"] = os.path.dirname(log)
    if event == "start":
        node.update(result=str(Result.RUNNING), started=change.get("time"))
        return node
    now = time.time()
    duration = change.get("duration")
    node.update(result=str(change.get("result") or Result.FAIL), exit_code=change.get("exit_code"),
                reason=change.get("reason"), duration=duration, stopped=now,
                messages=change.get("messages") or {})
    if duration is not None:
        node["started"] = now - duration
    return node


class HubReporter:
    """A :class:`gator_core.RunObserver` that streams a run to a hub."""

    def __init__(self, client: HubClient, say: Callable[[str], None]) -> None:
        self.client = client
        self.say = say
        self._lock = threading.Lock()
        self._nodes: dict[str, dict[str, Any]] = {}  # path -> what is not sent yet (merged)
        self._failed_jobs: list[tuple[str, str]] = []  # (path, tracking dir): first errors to read
        self._finished_jobs: list[tuple[str, str]] = []  # (path, tracking dir): data to send (unreadable)
        self._data_sent: set[str] = set()  # jobs whose data the hub has
        self._jobs: dict[str, int] | None = None  # the latest counts
        self._sent_jobs: dict[str, int] | None = None
        self._run: RunInfo | None = None
        self._end: dict[str, Any] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._base = ""
        self._registered = False
        self._readable: bool | None = None
        self._follow: list[str] = []
        self._followed_at: dict[str, int] = {}  # path -> last message id sent
        self._down: str | None = None  # why the hub is unreachable, while it is
        self._said_down = self._said_back = False
        self._last_call = 0.0
        self._refused: str | None = None  # the hub refused us for good (token)
        self._complete = False  # the whole run, and its end, reached the hub

    # -- the root tier's side: note, never wait ----------------------------------------

    def run_started(self, run: RunInfo) -> None:
        self._run = run
        self._base = f"/api/ingest/runs/{quote(run.run_id, safe='')}"
        self._thread = threading.Thread(target=self._loop, name="gator-hub-reporter", daemon=True)
        self._thread.start()

    def change(self, change: dict[str, Any]) -> None:
        node = node_of_change(change)
        if node is None:
            return
        path = node["path"]
        with self._lock:
            if path in self._nodes:
                self._nodes[path].update(node)
            elif len(self._nodes) < BACKLOG:  # past it, dropped: the end sends the whole tree anyway
                self._nodes[path] = node
            if change.get("event") == "finish" and node["kind"] == "job" and "tracking" in node:
                if node["result"] in FAILED:
                    self._failed_jobs.append((path, node["tracking"]))
                self._finished_jobs.append((path, node["tracking"]))
            if len(self._nodes) >= BATCH:
                self._wake.set()

    def tick(self, summary: dict[str, Any]) -> None:
        self._jobs = summary.get("jobs")

    def run_finished(self, run: RunInfo, summary: dict[str, Any], interrupted: bool) -> None:
        result = str(summary.get("result") or Result.FAIL)
        self._end = {"result": result, "jobs": dict(summary.get("jobs") or {}),
                     "stopped": summary.get("stopped") or time.time(),
                     "state": "interrupted" if interrupted or result == Result.CANCELLED else "finished"}
        self._wake.set()

    def close(self, timeout: float) -> list[str]:
        """Wait (at most ``timeout`` s) for the end to reach the hub; say what did not."""
        if self._thread is None:
            return []
        if self._end is not None and self._down is None:
            self._done.wait(timeout)  # set at once when the thread gave up or failed
        self._stop.set()
        self._wake.set()
        self._thread.join(1.0)
        if self._complete:
            return []
        run = self._run
        where = run.tracking if run else "TRACKING"
        # Why was said when it happened; a slow hub has not been mentioned yet.
        why = "" if self._refused or self._down else f" (it took longer than {timeout:g} s)"
        return [f"gator: the hub does not have the whole run{why}; send it with: "
                f"gator hub push {where} --hub {self.client.url}"]

    # -- the reporter's thread ------------------------------------------------------------

    def _loop(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # noqa: BLE001 - a bug here must not hang or break the run
            self._refused = f"the reporter failed: {type(exc).__name__}: {exc}"
            self.say(f"gator: reporting to the hub stopped: {self._refused} (the run goes on)")
        finally:
            self._done.set()

    def _serve(self) -> None:
        policy = Backoff(first=1.0, cap=15.0, jitter="equal")
        delays = policy.delays()
        while not self._stop.is_set():
            self._wake.wait(FLUSH_EVERY)
            self._wake.clear()
            try:
                if self._flush():
                    self._complete = True
                    return
            except PushError as exc:
                if exc.answered is not None and 400 <= exc.answered < 500:  # sending again cannot help
                    self._refused = str(exc)
                    self.say(f"gator: {exc}; the run goes on without the hub")
                    return
                if not self._said_down:  # once a run: a flapping hub must not flood the console
                    self._said_down = True
                    self.say(f"gator: {exc}; the run goes on, and the hub will be sent what it missed "
                             "when it answers again")
                self._down = str(exc)
                if self._stop.wait(next(delays)):
                    return
                continue
            if self._down is not None:
                self._down = None
                delays = policy.delays()
                if not self._said_back:
                    self._said_back = True
                    self.say(f"gator: the hub at {self.client.url} answers again; it is catching up")

    def _call(self, method: str, suffix: str, body: Any) -> dict[str, Any]:
        answer = self.client.call(method, f"{self._base}{suffix}", body)
        self._last_call = time.monotonic()
        if isinstance(answer, dict) and isinstance(answer.get("follow"), list):
            self._follow = [path for path in answer["follow"] if isinstance(path, str)]
        return answer if isinstance(answer, dict) else {}

    def _register(self) -> None:
        run = self._run
        assert run is not None
        answer = self._call("PUT", "", {
            "spec": run.spec_text, "spec_file": run.spec_file, "spec_name": run.spec_name, "user": run.user,
            "host": run.host, "argv": [str(arg) for arg in run.argv], "scheduler": run.scheduler,
            "seed": run.seed, "tracking": str(run.tracking), "started": run.started, "state": "running"})
        self._readable = bool(answer.get("readable"))
        self._registered = True
        top = {"id": run.spec_name, "path": run.spec_name, "parent": None, "kind": run.kind, "position": 0,
               "result": str(Result.RUNNING), "started": run.started, "tracking": str(run.tracking),
               "log": str(run.tracking / "messages.log")}
        with self._lock:  # the top node first: the tree hangs from it
            self._nodes[run.spec_name] = {**top, **self._nodes.get(run.spec_name, {})}

    def _flush(self) -> bool:
        """Send what is new; at the end, the whole run.  True once the end is at the hub."""
        if not self._registered:
            self._register()
        with self._lock:
            nodes, self._nodes = self._nodes, {}
            failed, self._failed_jobs = self._failed_jobs, []
            finished, self._finished_jobs = self._finished_jobs, []
        try:
            self._send_nodes(nodes, failed)
        except PushError:
            with self._lock:  # keep them; what arrived meanwhile is newer
                for path, node in self._nodes.items():
                    nodes.setdefault(path, {}).update(node)
                self._nodes = nodes
                self._failed_jobs[:0] = failed
                self._finished_jobs[:0] = finished
            raise
        self._send_job_data(finished)
        self._send_followed()
        if self._end is not None:
            self._send_end()
            return True
        if self._jobs is not None and self._jobs != self._sent_jobs:
            counts = dict(self._jobs)
            self._call("PUT", "", {"jobs": counts})
            self._sent_jobs = counts
        elif self._readable is False and time.monotonic() - self._last_call >= FOLLOW_POLL:
            # A hub that cannot read the stores says in its answers which running jobs a
            # browser follows; a quiet run asks now and then, or it would never hear.
            self._call("PUT", "", {})
        return False

    def _send_nodes(self, nodes: dict[str, dict[str, Any]], failed: list[tuple[str, str]]) -> None:
        for path, directory in failed:
            errors = first_errors(Path(directory))
            if errors and path in nodes:
                nodes[path]["first_errors"] = errors
        batch = sorted(nodes.values(), key=lambda node: node["path"].count("."))  # parents first
        for start in range(0, len(batch), BATCH):
            self._call("POST", "/nodes", batch[start:start + BATCH])

    def _send_job_data(self, jobs: list[tuple[str, str]]) -> None:
        """Finished jobs' messages and details, when the hub cannot read them itself."""
        if self._readable or not jobs:
            return
        send_job_data(self._post_jobs, [(path, Path(directory)) for path, directory in jobs], self._followed_at)
        self._data_sent.update(path for path, _ in jobs)

    def _post_jobs(self, items: list[dict[str, Any]]) -> None:
        if items:
            self._call("POST", "/jobs", {"jobs": items})

    def _send_followed(self) -> None:
        """New messages of running jobs a browser follows, when the hub cannot read them."""
        if self._readable or not self._follow or self._run is None:
            return
        items = []
        for path in self._follow:
            directory = self._directory_of(path)
            if directory is None:
                continue
            item, last = job_data(directory, path, self._followed_at.get(path, 0), details=False)
            if "messages" in item:
                items.append(item)
                self._followed_at[path] = last
        self._post_jobs(items)

    def _directory_of(self, path: str) -> Path | None:
        """A job's tracking directory from its path: the run's directory, then one
        directory per id below the top."""
        run = self._run
        if run is None or not path.startswith(run.spec_name + "."):
            return None
        return run.tracking.joinpath(*path[len(run.spec_name) + 1:].split("."))

    def _send_end(self) -> None:
        """The end.  A hub that can read the tracking directory reads the final tree
        there itself (``reconcile``), so the run's last moments cost one request; to
        one that cannot, the whole tree as the stores hold it, and the data of every
        job not sent yet, go first."""
        run = self._run
        assert run is not None and self._end is not None
        if self._readable:
            self._call("POST", "/finish", {**self._end, "reconcile": True})
            return
        upload = read_tracking(run.tracking)
        for start in range(0, len(upload.nodes), BATCH):
            self._call("POST", "/nodes", upload.nodes[start:start + BATCH])
        self._send_job_data([(node["path"], node["tracking"]) for node in upload.nodes
                             if node["kind"] == "job" and node.get("tracking") and node["path"] not in self._data_sent])
        self._call("POST", "/finish", upload.end or self._end)
