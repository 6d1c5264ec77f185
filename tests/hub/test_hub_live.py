"""`gator run --hub`: a real run reporting live to a real `gator hub serve` process.

The run must reach the hub while it goes on (a running job shows as running,
a failed one with its first errors), end there exactly as `gator show --json`
prints it, make a bounded number of requests, and never be failed or slowed by
a hub that is down, comes back, or refuses its token.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import gator, jobs_of, node, units, wait_for, write
from hubtools import TOKEN, get_json

pytestmark = pytest.mark.slow

SPEC = """\
!JobGroup
  id: nightly
  jobs:
  - !Job {id: waits, command: sh, args: [-c, "echo waiting; while [ ! -e release ]; do sleep 0.05; done; echo released"]}
  - !Job {id: broken, command: sh, args: [-c, "echo 'ERROR: checksum 0x1f mismatch' >&2; exit 3"]}
  - !JobArray
      id: sweep
      repeats: 3
      jobs:
      - !Job {id: sim, command: sh, args: [-c, "echo $GATOR_ARRAY_INDEX"]}
"""


def get(url: str) -> Any:
    return get_json(url, TOKEN)


def gator_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "GATOR_HUB_TOKEN": TOKEN, **extra}


def start_run(tmp_path: Path, spec: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    write(tmp_path / "spec.yaml", spec)
    return subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", "spec.yaml", "--tracking",
                             str(tmp_path / "tracking"), *args], cwd=tmp_path, env=env or gator_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=units(timeout))
    return proc.returncode, out


def shown(tmp_path: Path) -> dict[str, Any]:
    return json.loads(gator("show", tmp_path / "tracking", "--json", check=0).stdout)


def only_run(url: str) -> dict[str, Any] | None:
    runs = get(f"{url}/api/runs")["runs"]
    return runs[0] if runs else None


def ends_as_shown(url: str, run_id: str, tmp_path: Path) -> dict[str, Any]:
    """The run's record once the hub's tree is what gator show prints (a hub that can read
    the tracking directory reads the final tree there itself, just after the run ends)."""
    expected = shown(tmp_path)
    return wait_for(lambda: (lambda record: record if record["tree"] == expected else None)(
        get(f"{url}/api/runs/{run_id}?with=run")), 30, "the hub's tree to be gator show's")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_run_reports_live_and_ends_as_gator_show_json(tmp_path: Path, server_for: Any, token_file: Path) -> None:
    server = server_for(token_file)
    proc = start_run(tmp_path, SPEC, "--hub", server.url)
    try:
        run = wait_for(lambda: only_run(server.url), 30, "the run to register")
        assert run["state"] == "running" and run["spec_name"] == "nightly"

        def live_tree() -> dict[str, Any] | None:
            tree = get(f"{server.url}/api/runs/{run['id']}?with=run")["tree"]
            if tree is None:
                return None
            paths = {item["path"]: item for item in jobs_of(tree)}
            waiting, broken = paths.get("nightly.waits"), paths.get("nightly.broken")
            if waiting and waiting["result"] == "running" and broken and broken["result"] == "fail":
                return tree
            return None

        wait_for(live_tree, 30, "the running job and the failed one at the hub while the run goes on")
        assert proc.poll() is None  # all of that arrived while the run was going on
    finally:
        (tmp_path / "release").touch()
    code, out = finish(proc)
    assert code == 1, out
    assert "hub" not in out.lower(), out  # a healthy hub is not worth a line
    record = ends_as_shown(server.url, run["id"], tmp_path)  # exactly what gator show prints
    info = record["run"]
    assert (info["state"], info["result"], info["scheduler"]) == ("finished", "fail", "local")
    assert info["user"] == pwd.getpwuid(os.getuid()).pw_name and info["host"] == socket.gethostname()
    assert info["tracking"] == str(tmp_path / "tracking") and "--hub" in info["argv"]
    assert "id: waits" in info["spec_text"] and len(info["spec_hash"]) == 64
    assert info["jobs"]["failed"] == 1 and info["jobs"]["passed"] == 4
    assert info["readable"] is True


def test_first_errors_of_a_failed_job_reach_the_hub(tmp_path: Path, server_for: Any, token_file: Path) -> None:
    server = server_for(token_file)
    (tmp_path / "release").touch()
    code, out = finish(start_run(tmp_path, SPEC, "--hub", server.url))
    assert code == 1, out
    run = only_run(server.url)
    assert run is not None
    from gator_hub.store import HubStore

    store = HubStore(server.db_url)
    try:
        with store.engine.connect() as connection:
            from sqlalchemy import text

            errors = connection.execute(text("SELECT first_errors FROM nodes WHERE path = 'nightly.broken'")).scalar()
    finally:
        store.close()
    if isinstance(errors, str):
        errors = json.loads(errors)
    assert errors == ["ERROR: checksum 0x1f mismatch"]


def test_a_large_run_makes_a_bounded_number_of_requests(tmp_path: Path, server_for: Any, token_file: Path) -> None:
    server = server_for(token_file)
    spec = "!JobArray\n  id: many\n  repeats: 400\n  jobs:\n  - !Job {id: t, command: 'true'}\n"
    code, out = finish(start_run(tmp_path, spec, "--hub", server.url), timeout=120)
    assert code == 0, out
    requests = get(f"{server.url}/api/health")["ingest_requests"]
    tree = ends_as_shown(server.url, only_run(server.url)["id"], tmp_path)["tree"]
    assert tree["jobs"]["passed"] == 400
    # Batches twice a second, counts at most as often, and the end: far fewer than one per job.
    assert requests < 400 / 4, requests


def test_the_run_goes_on_when_the_hub_is_down_and_push_sends_it_later(
        tmp_path: Path, server_for: Any, token_file: Path) -> None:
    port = free_port()  # nothing listens there
    (tmp_path / "release").touch()
    code, out = finish(start_run(tmp_path, SPEC, "--hub", f"127.0.0.1:{port}"))  # the seed's host:port form
    assert code == 1, out  # the jobs' result, not the hub's
    assert out.count("is unreachable") == 1, out  # said once
    assert f"gator hub push {tmp_path / 'tracking'} --hub http://127.0.0.1:{port}" in out, out
    server = server_for(token_file)
    pushed = subprocess.run([sys.executable, "-m", "gator_hub", "push", str(tmp_path / "tracking"), "--hub",
                             server.url], env=gator_env(), capture_output=True, text=True, timeout=units(60))
    assert pushed.returncode == 0, pushed.stderr
    assert get(f"{server.url}/api/runs/{only_run(server.url)['id']}") == shown(tmp_path)


def test_a_hub_that_comes_back_is_sent_what_it_missed(tmp_path: Path, server_for: Any, token_file: Path) -> None:
    port = free_port()
    proc = start_run(tmp_path, SPEC, "--hub", f"http://127.0.0.1:{port}")
    lines: list[str] = []  # the run's output, read as it comes: the hub starts once the run found it down
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("is unreachable" in line for line in lines), 30, "the run to find the hub down")
        server = server_for(token_file, "--port", str(port))  # the hub starts late
        wait_for(lambda: only_run(server.url), 60, "the run to reach the hub once it is up")
    finally:
        (tmp_path / "release").touch()
    proc.wait(timeout=units(60))
    reader.join(timeout=units(10))
    code, out = proc.returncode, "".join(lines)
    assert code == 1, out
    assert out.count("is unreachable") == 1 and out.count("answers again; it is catching up") == 1, out
    assert "gator hub push" not in out, out
    record = ends_as_shown(server.url, only_run(server.url)["id"], tmp_path)
    assert record["run"]["state"] == "finished"


def test_a_refused_token_is_said_once_and_the_run_goes_on(tmp_path: Path, server_for: Any, token_file: Path) -> None:
    server = server_for(token_file)
    (tmp_path / "release").touch()
    code, out = finish(start_run(tmp_path, SPEC, "--hub", server.url, env=gator_env(GATOR_HUB_TOKEN="wrong")))
    assert code == 1, out
    assert out.count("refused the token (401)") == 1, out
    assert f"gator hub push {tmp_path / 'tracking'}" in out, out
    assert get(f"{server.url}/api/runs")["runs"] == []


def test_hub_without_a_token_is_a_usage_error(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "GATOR_HUB_TOKEN"}
    write(tmp_path / "spec.yaml", "!Job {id: a, command: 'true'}\n")
    proc = subprocess.run([sys.executable, "-m", "gator_core.cli", "run", "spec.yaml", "--hub", "http://127.0.0.1:9"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=units(30))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--hub needs the hub's token" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "tracking").exists()  # nothing ran


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare, to hide the run from the hub as another machine would")
def test_a_hub_that_cannot_read_the_tracking_is_sent_the_messages(
        tmp_path: Path, db_url: str, token_file: Path) -> None:
    """A live run, and a run pushed afterwards, both to a hub that sees an empty
    directory where their tracking directories are."""
    from hubtools import Server

    private = tmp_path / "private"  # what the hub cannot see: it gets an empty directory there
    (private / "live").mkdir(parents=True)
    (private / "later").mkdir()
    server = Server(db_url, token_file, hide=private)
    try:
        spec = SPEC.replace("while [ ! -e release ]; do sleep 0.05; done; ", "")
        code, out = finish(start_run(private / "live", spec, "--hub", server.url))
        assert code == 1, out
        code, out = finish(start_run(private / "later", spec, env={**os.environ}))
        assert code == 1, out
        pushed = subprocess.run([sys.executable, "-m", "gator_hub", "push", str(private / "later" / "tracking"),
                                 "--hub", server.url], env=gator_env(), capture_output=True, text=True,
                                timeout=units(60))
        assert pushed.returncode == 0, pushed.stderr
        runs = get(f"{server.url}/api/runs")["runs"]
        assert len(runs) == 2
        for run, where in zip(runs, ("later", "live"), strict=True):  # newest first
            check_sent_messages(server.url, db_url, run["id"], private / where)
    finally:
        server.stop()


def check_sent_messages(url: str, db_url: str, run_id: str, launch_dir: Path) -> None:
    from sqlalchemy import text

    from gator_hub.store import HubStore

    record = get(f"{url}/api/runs/{run_id}?with=run")
    assert record["run"]["readable"] is False
    assert node(record["tree"], "nightly.broken")["result"] == "fail"
    store = HubStore(db_url)
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(text("SELECT path, text FROM messages WHERE run_id = :run ORDER BY path, seq"),
                                      {"run": run_id}).all()
            details = dict(connection.execute(text("SELECT path, attrs FROM details WHERE run_id = :run"),
                                              {"run": run_id}).all())
    finally:
        store.close()
    texts = [(path, line) for path, line in rows]
    assert ("nightly.waits", "waiting") in texts and ("nightly.waits", "released") in texts
    assert ("nightly.broken", "ERROR: checksum 0x1f mismatch") in texts
    assert len({path for path, _ in texts}) == 5 and len(texts) == len(set(texts))  # every job's, once
    attrs = details["nightly.broken"]
    attrs = json.loads(attrs) if isinstance(attrs, str) else attrs
    assert attrs["argv"][0] == "sh" and attrs["cwd"] == str(launch_dir)
