"""Run hooks with real runs: a plugin registered in-process hears every node and the
end with the result tree; the built-in notify plugin posts the summary to a real
local HTTP server; a webhook that is down costs the run one line, not its result."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from helpers import gator, run_spec, write

from gator_core import Job, JobGroup, hookimpl, run
from gator_core.plugins import plugin_manager

SPEC = """
!JobGroup
  id: nightly
  jobs:
  - !Job {id: ok, command: 'true'}
  - !Job {id: bad, command: sh, args: [-c, 'exit 4']}
  - !JobGroup {id: inner, jobs: [!Job {id: deep, command: 'true'}]}
"""


class Webhook:
    """A local HTTP server that keeps what it is posted."""

    def __init__(self) -> None:
        received: list[Any] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server spelling
                length = int(self.headers.get("Content-Length") or 0)
                received.append((self.headers.get("Content-Type"), json.loads(self.rfile.read(length))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_notify_posts_the_summary_of_the_run(tmp_path: Path) -> None:
    hook = Webhook()
    try:
        proc, tracking, tree = run_spec(tmp_path, SPEC, "--notify", hook.url, check=1)
    finally:
        hook.close()
    assert len(hook.received) == 1, proc.stdout + proc.stderr
    kind, report = hook.received[0]
    assert kind == "application/json"
    assert (report["spec"], report["result"], report["interrupted"]) == ("nightly", "fail", False)
    assert report["jobs"]["failed"] == 1 and report["jobs"]["passed"] == 2
    assert report["tracking"] == str(tracking) and report["run_id"]
    assert report["failed"] == [{"path": "nightly.bad", "result": "fail", "reason": "exit code 4"}]
    assert "plugin" not in proc.stdout + proc.stderr  # nothing went wrong, nothing to say


def test_a_webhook_that_is_down_costs_one_line_not_the_result(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    spec = "!JobGroup\n  id: fine\n  jobs:\n  - !Job {id: a, command: 'true'}\n"
    proc, _, tree = run_spec(tmp_path, spec, "--notify", f"http://127.0.0.1:{port}/", check=0)
    out = proc.stdout + proc.stderr
    assert tree["result"] == "pass"
    assert out.count("the notify plugin's gator_run_finished hook failed") == 1, out
    assert f"cannot post to http://127.0.0.1:{port}/" in out


def test_a_bad_notify_url_is_a_usage_error(tmp_path: Path) -> None:
    spec = write(tmp_path / "spec.yaml", "!Job {id: a, command: 'true'}\n")
    proc = gator("run", spec, "--notify", "ftp://x", cwd=tmp_path, check=2)
    assert "--notify needs an http:// or https:// URL" in proc.stderr
    assert not (tmp_path / "tracking").exists()  # nothing ran


class Listener:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.result: Any = None

    @hookimpl
    def gator_run_started(self, run: Any) -> None:
        self.events.append(("run", run.spec_name))

    @hookimpl
    def gator_node_started(self, path: str, kind: str) -> None:
        self.events.append(("start", path))

    @hookimpl
    def gator_node_finished(self, path: str, summary: Any) -> None:
        self.events.append((summary["result"], path))

    @hookimpl
    def gator_run_finished(self, result: Any, summary: Any) -> None:
        self.result = (result.path, [job.path for job in result.jobs_only()], summary["result"])


class Broken:
    @hookimpl
    def gator_node_started(self, path: str) -> None:
        raise KeyError(path)


def test_an_in_process_plugin_hears_every_node_and_a_broken_one_changes_nothing(tmp_path: Path,
                                                                               capsys: Any) -> None:
    listener, broken = Listener(), Broken()
    pm = plugin_manager()
    pm.register(listener, name="listener")
    pm.register(broken, name="broken")
    try:
        tree = JobGroup(id="top", jobs=[Job(id="a", command="true"),
                                        JobGroup(id="g", jobs=[Job(id="b", command="true")])])
        outcome = run(tree, tracking=tmp_path / "t")
    finally:
        pm.unregister(listener)
        pm.unregister(broken)
    assert outcome.result == "pass"
    assert listener.events[0] == ("run", "top")
    assert {("start", "top.a"), ("start", "top.g"), ("start", "top.g.b"), ("pass", "top.a"), ("pass", "top.g"),
            ("pass", "top.g.b")} <= set(listener.events)
    assert listener.events.index(("start", "top.g.b")) < listener.events.index(("pass", "top.g.b"))
    assert listener.result == ("top", ["top.a", "top.g.b"], "pass")
    assert capsys.readouterr().err.count("the broken plugin's gator_node_started hook failed: KeyError") == 1
