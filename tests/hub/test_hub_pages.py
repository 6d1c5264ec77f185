"""The hub's pages, their JSON and their event streams: data ingested through the API
(in process, and into a real `gator hub serve` for the streams), then every page and
endpoint checked for what it shows, in what order, a page at a time, behind the read
token, and with whatever jobs print shown as text."""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from helpers import run_spec, units
from hubtools import AUTH, READ_TOKEN, TOKEN

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def node(path: str, result: str = "pass", kind: str = "job", **extra: Any) -> dict[str, Any]:
    parent = path.rsplit(".", 1)[0] if "." in path else None
    return {"id": path.rsplit(".", 1)[-1], "path": path, "kind": kind, "result": result, "parent": parent,
            **extra}


def put_run(client: Any, run_id: str, nodes: list[dict[str, Any]] | None = None, *, finish: str | None = "fail",
            **run: Any) -> None:
    """Register a run, send its nodes (in batches), and finish it unless ``finish`` is None."""
    body = {"spec_name": "top", "user": "alice", "host": "h1", "started": 1000.0,
            "argv": ["gator", "run", "top.yaml"], **run}
    answer = client.put(f"/api/ingest/runs/{run_id}", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    nodes = nodes or []
    for start in range(0, len(nodes), 5000):
        answer = client.post(f"/api/ingest/runs/{run_id}/nodes", json=nodes[start:start + 5000], headers=AUTH)
        assert answer.status_code == 200, answer.text
    if finish is not None:
        jobs = run.get("jobs") or {"total": 1, "failed": 1}
        answer = client.post(f"/api/ingest/runs/{run_id}/finish", json={"result": finish, "jobs": jobs},
                             headers=AUTH)
        assert answer.status_code == 200, answer.text


def run_ids(page: str) -> list[str]:
    """The runs a runs page lists, in order (the row template has an empty id)."""
    return [run_id for run_id in re.findall(r'<tr data-run="([^"]*)"', page) if run_id]


def listed_paths(page: str) -> list[str]:
    """The job paths the page links to, in order."""
    return [urllib.parse.unquote(path) for path in re.findall(r'/jobs/([^"/?]+)"', page)]


# -- the runs page ---------------------------------------------------------------------


def test_runs_page_is_newest_first_with_counts_progress_filters_and_paging(client: Any) -> None:
    for index in range(55):
        put_run(client, f"r{index:02d}", spec_name="even" if index % 2 == 0 else "odd",
                user="alice" if index < 50 else "bob", started=86400.0 * 365 + 3600.0 * index,
                finish="pass" if index % 3 else "fail", jobs={"total": 4, "passed": 3, "failed": 1})
    put_run(client, "going", finish=None, spec_name="nightly", started=86400.0 * 400,
            argv=["gator", "run", "nightly.yaml", "--seed", "4242"],
            jobs={"total": 10, "passed": 3, "failed": 1, "running": 2, "pending": 4})
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    listed = run_ids(page.text)
    assert listed == ["going"] + [f"r{index:02d}" for index in range(54, 5, -1)]  # 50 a page
    row = page.text.split('<tr data-run="going">', 1)[1].split("</tr>", 1)[0]
    assert 'value="4" max="10"' in row and "4/10" in row and ">running<" in row
    assert '<td class="num" data-field="failed">1</td>' in row
    # the next page starts after the last run shown, and keeps the filters
    assert 'href="/?before=r06"' in page.text
    assert run_ids(client.get("/?before=r06").text) == [f"r{index:02d}" for index in range(5, -1, -1)]
    assert run_ids(client.get("/?spec=odd&user=bob").text) == ["r53", "r51"]
    assert 'href="/?before=' not in client.get("/?spec=odd&user=bob").text
    assert run_ids(client.get("/?result=fail&user=bob").text) == ["r54", "r51"]
    assert run_ids(client.get("/?q=SEED+4242").text) == ["going"]  # argv, any case
    assert run_ids(client.get("/?q=BO").text) == ["r54", "r53", "r52", "r51", "r50"]  # user
    assert run_ids(client.get("/?q=50%25").text) == []  # % is literal, not a wildcard
    # started on 1971-01-01 (day 365) from 21:00 on, and the next day: the "to" day is included
    assert run_ids(client.get("/?from=1971-01-01&to=1971-01-01&spec=odd").text)[:2] == ["r23", "r21"]
    assert run_ids(client.get("/?from=1971-01-02&to=1971-01-02").text)[-1] == "r24"
    assert "No runs match" in client.get("/?spec=nothing").text
    for bad in ("from=yesterday", "result=great", "before=nosuch", "q=a%00b"):
        answer = client.get(f"/?{bad}")
        assert answer.status_code == 400 and "<h1>400" in answer.text, bad


def test_the_runs_page_stays_a_few_queries_however_many_runs(client: Any) -> None:
    from sqlalchemy import event

    for index in range(120):
        put_run(client, f"r{index}", started=1000.0 + index)
    engine = client.app.state.store.engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert client.get("/?q=alice").status_code == 200
    assert len(statements) <= 3, statements  # the page, the spec names: not one query per run


# -- a run -----------------------------------------------------------------------------


def big_run() -> list[dict[str, Any]]:
    """top: ok (pass), lone (lost), and arr: 450 jobs of which 3 fail, plus a nested group."""
    nodes = [node("top", "fail", "group", jobs={"total": 452, "failed": 3, "lost": 1, "passed": 448}),
             node("top.ok", position=0, duration=1.0),
             node("top.arr", "fail", "array", position=1, jobs={"total": 450, "failed": 3, "passed": 447}),
             node("top.lone", "lost", position=2, reason="went silent"),
             node("top.inner", "pass", "group", position=3, jobs={"total": 1, "passed": 1}),
             node("top.inner.deep", position=0)]
    failing = {7, 300, 449}
    nodes += [node(f"top.arr.j_{index}", "fail" if index in failing else "pass", position=index,
                   duration=2.0 + index, peak_memory=1024.0 * index, metrics={"cpu_time": 0.5, "wall_time": 2.0},
                   first_errors=[f"ERROR: case {index} broke"] if index in failing else None)
              for index in range(450)]
    return nodes


def test_a_run_lists_failures_first_and_pages_a_big_group(client: Any) -> None:
    put_run(client, "big", big_run(), jobs={"total": 452, "failed": 3, "lost": 1, "passed": 448})
    page = client.get("/runs/big").text
    failures = page.split('id="failure-list"', 1)[1].split("</ol>", 1)[0]
    assert listed_paths(failures) == ["top.arr.j_300", "top.arr.j_449", "top.arr.j_7", "top.lone"]
    assert "ERROR: case 300 broke" in failures and "went silent" in failures
    assert '<span id="failed-count">4</span>' in page
    tree = page.split('<section class="tree">', 1)[1]
    # children of the top: the failed and lost first, each group open with its failures first
    assert tree.index("?under=top.arr") < tree.index("/jobs/top.lone") < tree.index("/jobs/top.ok")
    preview = tree.split("?under=top.arr", 1)[1].split("</details>", 1)[0]
    assert listed_paths(preview)[:4] == ["top.arr.j_7", "top.arr.j_300", "top.arr.j_449", "top.arr.j_0"]
    assert len(listed_paths(preview)) == 20 and "all 450 children of arr" in preview
    assert "1.0 s" in tree and "cpu 500 ms / wall 2.0 s" in tree  # durations and resources
    for link in ("/runs/big/buckets", "/runs/big/compare", "/history?spec=top"):
        assert f'href="{link}"' in page
    # a big group a page at a time: 200, 200, 50, failed first and no job twice
    seen: list[str] = []
    for number, size in ((1, 200), (2, 200), (3, 50)):
        part = client.get(f"/runs/big?under=top.arr&page={number}")
        assert part.status_code == 200
        paths = listed_paths(part.text.split('<section class="tree">', 1)[1])
        assert len(paths) == size, number
        seen += paths
    assert seen[:3] == ["top.arr.j_7", "top.arr.j_300", "top.arr.j_449"] and len(set(seen)) == 450
    assert 'href="/runs/big?under=top.arr&amp;page=2"' in client.get("/runs/big?under=top.arr").text
    assert client.get("/runs/big?under=top.nothing").status_code == 404
    assert client.get("/runs/big?page=0").status_code == 400
    assert client.get("/runs/nosuch").status_code == 404


def test_a_run_page_is_a_few_queries_for_a_big_tree(client: Any) -> None:
    from sqlalchemy import event

    put_run(client, "big", big_run())
    statements: list[str] = []
    event.listen(client.app.state.store.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    assert client.get("/runs/big").status_code == 200
    assert len(statements) <= 10, statements


# -- failure buckets -----------------------------------------------------------------------


def test_300_failures_from_3_causes_are_3_buckets(client: Any) -> None:
    nodes = [node("top", "fail", "group")]
    for index in range(300):
        cause = index % 3
        extra: dict[str, Any] = {"reason": f"exit code {index % 7 + 1}"}
        if cause == 0:
            extra["first_errors"] = [f"UVM_ERROR @ {index * 10}ns: scoreboard mismatch: expected 0x{index:x} "
                                     f"got 0x{index + 1:x}", "later error"]
        elif cause == 1:
            extra["first_errors"] = [f"Assertion failed in /work/tb/case_{index}.sv:{index + 3}"]
        nodes.append(node(f"top.t{index}", "lost" if index == 299 else "fail", position=index, **extra))
    nodes.append(node("top.fine", position=300))
    put_run(client, "r1", nodes)
    data = client.get("/api/runs/r1/buckets").json()
    assert data["failures"] == 300
    assert [bucket["count"] for bucket in data["buckets"]] == [100, 100, 100]
    signatures = {bucket["signature"] for bucket in data["buckets"]}
    assert any(sig.startswith("UVM_ERROR @ <N>ns: scoreboard mismatch") for sig in signatures), signatures
    assert any(sig.startswith("Assertion failed in <PATH>") for sig in signatures), signatures
    assert any(sig.startswith("exit code <N>") for sig in signatures), signatures  # no first error: the reason
    for bucket in data["buckets"]:
        assert len(bucket["examples"]) == 5
        assert all(example["path"].startswith("top.t") and example["text"] for example in bucket["examples"])
    page = client.get("/runs/r1/buckets").text
    assert page.count('<tr class="bucket">') == 3 and "300 failed or lost jobs in 3 buckets" in page
    assert 'href="/runs/r1/jobs/top.t0"' in page and "UVM_ERROR @ 0ns" in page
    assert client.get("/api/runs/nosuch/buckets").status_code == 404


# -- compare -----------------------------------------------------------------------------------


def test_compare_finds_new_failures_new_passes_and_duration_changes(client: Any) -> None:
    def jobs(results: dict[str, tuple[str, float]]) -> list[dict[str, Any]]:
        return [node("top", "fail", "group")] + [node(f"top.{name}", result, position=index, duration=duration)
                                                 for index, (name, (result, duration)) in enumerate(results.items())]

    put_run(client, "before", jobs({"a": ("pass", 1.0), "b": ("fail", 1.0), "c": ("fail", 1.0),
                                    "d": ("pass", 1.0), "gone": ("fail", 1.0)}), started=100.0)
    put_run(client, "other-spec", jobs({"a": ("fail", 1.0)}), spec_name="elsewhere", started=150.0)
    put_run(client, "now", jobs({"a": ("fail", 1.5), "b": ("pass", 0.5), "c": ("lost", 1.0), "d": ("pass", 31.0),
                                 "new": ("fail", 2.0)}), started=200.0)
    put_run(client, "later", jobs({"a": ("pass", 1.0)}), started=300.0)
    data = client.get("/api/runs/now/compare").json()
    assert data["with"]["id"] == "before"  # the previous run of the same spec, not a later one
    assert [item["path"] for item in data["newly_failing"]] == ["top.a", "top.new"]
    assert [item["before"] for item in data["newly_failing"]] == ["pass", None]
    assert [item["path"] for item in data["newly_passing"]] == ["top.b"]
    assert [(item["path"], item["result"], item["before"]) for item in data["still_failing"]] == [
        ("top.c", "lost", "fail")]
    changes = data["duration_changes"]
    assert [item["path"] for item in changes] == ["top.d", "top.a", "top.b", "top.c"]
    assert changes[0]["change"] == 30.0 and changes[2]["change"] == -0.5
    assert data["counts"] == {"newly_failing": 2, "newly_passing": 1, "still_failing": 1}
    # another run, chosen
    chosen = client.get("/api/runs/now/compare?with=other-spec").json()
    assert chosen["with"]["id"] == "other-spec" and [i["path"] for i in chosen["still_failing"]] == ["top.a"]
    page = client.get("/runs/now/compare").text
    newly = page.split('class="compare newly_failing"', 1)[1].split("</section>", 1)[0]
    assert listed_paths(newly) == ["top.a", "top.a", "top.new", "top.new"]  # this run's job, and the earlier's
    assert 'href="/runs/before/jobs/top.a"' in newly
    assert "+30.0 s" in page and "−500 ms" in page
    # the first run of a spec has nothing to compare with
    first = client.get("/api/runs/before/compare").json()
    assert first["with"] is None and first["newly_failing"] == [] and first["duration_changes"] == []
    assert "No earlier run" in client.get("/runs/before/compare").text
    assert client.get("/api/runs/now/compare?with=nosuch").status_code == 404
    answer = client.get("/api/runs/now/compare?with=bad%20id")
    assert answer.status_code == 400 and answer.json()["error"]


# -- history -----------------------------------------------------------------------------------


def test_history_of_a_job_across_runs(client: Any) -> None:
    outcomes = [("pass", 1.0), ("fail", 3.0), None, ("pass", 2.0)]
    for index, outcome in enumerate(outcomes):
        nodes = [node("top", "pass", "group"), node("top.other", position=0)]
        if outcome:
            nodes.append(node("top.x", outcome[0], position=1, duration=outcome[1]))
        put_run(client, f"r{index}", nodes, started=100.0 * (index + 1))
    put_run(client, "unrelated", [node("top", "pass", "group"), node("top.x", "fail")], spec_name="other")
    data = client.get("/api/history?spec=top&path=top.x").json()
    assert [row["run"] for row in data["runs"]] == ["r0", "r1", "r2", "r3"]  # oldest first
    assert [row["result"] for row in data["runs"]] == ["pass", "fail", None, "pass"]
    assert [row["duration"] for row in data["runs"]] == [1.0, 3.0, None, 2.0]
    assert [row["run"] for row in client.get("/api/history?spec=top&path=top.x&limit=2").json()["runs"]] == [
        "r2", "r3"]
    page = client.get("/history?spec=top&path=top.x").text
    assert "<svg" in page and page.count('class="mark pass"') == 2 and page.count('class="mark fail"') == 1
    assert page.count('class="mark absent"') == 1 and 'href="/runs/r1/jobs/top.x"' in page
    table = page.split('<table class="history">', 1)[1]
    assert table.index("r3") < table.index("r0") and "not in this run" in table  # newest first
    top = client.get("/api/history?spec=top").json()  # the top node by default
    assert top["path"] == "top" and len(top["runs"]) == 4
    assert client.get("/api/history").status_code == 400
    assert client.get("/history?spec=nosuch").status_code == 404
    assert client.get("/api/history?spec=top&limit=1000").status_code == 400


# -- a job -------------------------------------------------------------------------------------

SPEC = """\
!JobGroup
  id: top
  env: {PLAIN: visible-value, API_TOKEN: tok-secret-1, DB_PASSWORD: pw-secret-2}
  jobs:
  - !JobArray
      id: arr
      repeats: 3
      env: {LEVEL: array}
      jobs:
      - !Job {id: sim, command: sim, env: {LEVEL: job, AWS_SECRET_ACCESS_KEY: key-secret-3, DROPPED: null}}
"""


def job_run(client: Any) -> None:
    nodes = [node("top", "fail", "group"), node("top.arr", "fail", "array"),
             node("top.arr.sim_2", "fail", position=2, exit_code=3, reason="exit code 3", native_id="4711",
                  host="node7", seed=99, duration=12.5, peak_memory=2.0 * 1024 * 1024,
                  metrics={"cpu_time": 3.25, "wall_time": 12.5, "coverage": 87.5})]
    put_run(client, "r1", nodes, spec=SPEC, tracking="/nowhere/tracking dir")
    messages = [[seq, 1000.0 + seq, (10, 20, 30, 40)[seq % 4], f"line {seq}" + (" needle" if seq % 100 == 0 else "")]
                for seq in range(1, 1201)]
    body = {"jobs": [{"path": "top.arr.sim_2", "messages": messages,
                      "attrs": {"argv": ["sim", "+seed=99", "--name", "a b"], "cwd": "/work/sim dir"},
                      "samples": [[1000.0, 50.0, 1 << 20, 1], [1001.0, 150.0, 3 << 20, 2], [1002.0, 90.0, 2 << 20, 2]]}]}
    answer = client.post("/api/ingest/runs/r1/jobs", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text


def test_a_job_page_shows_its_command_environment_rerun_and_resources(client: Any) -> None:
    job_run(client)
    data = client.get("/api/runs/r1/jobs/top.arr.sim_2").json()
    assert data["argv"] == ["sim", "+seed=99", "--name", "a b"] and data["cwd"] == "/work/sim dir"
    assert data["host"] == "node7" and data["node"]["native_id"] == "4711" and data["node"]["seed"] == 99
    assert data["rerun"] == "gator rerun '/nowhere/tracking dir' --failed" and data["source"] == "upload"
    env = {item["name"]: item for item in data["env"]}
    assert env["PLAIN"]["value"] == "visible-value" and env["PLAIN"]["set_by"] == "top"
    assert env["LEVEL"]["value"] == "job" and env["LEVEL"]["set_by"] == "top.arr.sim_2"
    assert env["DROPPED"]["value"] is None
    for name in ("API_TOKEN", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert env[name]["hidden"] and env[name]["value"] == "(hidden)"
    assert len(data["samples"]) == 3 and data["metrics"]["coverage"] == 87.5
    page = client.get("/runs/r1/jobs/top.arr.sim_2").text
    for secret in ("tok-secret-1", "pw-secret-2", "key-secret-3"):
        assert secret not in page and secret not in str(data)
    assert "sim +seed=99 --name &#39;a b&#39;" in page and "/work/sim dir" in page
    assert "gator rerun &#39;/nowhere/tracking dir&#39; --failed" in page
    assert "visible-value" in page and "4711" in page and "node7" in page and "exit code 3" in page
    assert page.count("<svg") == 2 and page.count("<polyline") == 2  # CPU and memory over time
    assert "150%</text>" in page and "MB</text>" in page and "2.0 MB" in page
    assert client.get("/runs/r1/jobs/top.nothing").status_code == 404
    assert client.get("/api/runs/r1/jobs/top.nothing").status_code == 404


def test_job_messages_are_paged_filtered_and_searched(client: Any) -> None:
    job_run(client)
    base = "/api/runs/r1/jobs/top.arr.sim_2/messages"
    first = client.get(base).json()
    assert [m["seq"] for m in first["messages"]] == list(range(1, 501)) and first["next"] == 500
    assert first["messages"][0] == {"seq": 1, "time": 1001.0, "severity": 20, "level": "info", "text": "line 1"}
    last = client.get(f"{base}?after=1000").json()
    assert [m["seq"] for m in last["messages"]] == list(range(1001, 1201)) and last["next"] is None
    errors = client.get(f"{base}?severity=error&limit=1000").json()["messages"]
    assert len(errors) == 300 and {m["level"] for m in errors} == {"error"}
    assert client.get(f"{base}?severity=30&limit=5000").json()["messages"][0]["level"] == "warning"
    found = client.get(f"{base}?q=NEEDLE").json()["messages"]
    assert [m["seq"] for m in found] == list(range(100, 1201, 100))
    assert client.get(f"{base}?q=50%25").json()["messages"] == []  # literal %, not a wildcard
    for bad in ("after=-1", "limit=0", "limit=5001", "severity=loud", "after=x"):
        answer = client.get(f"{base}?{bad}")
        assert answer.status_code == 400 and answer.json()["error"], bad
    page = client.get("/runs/r1/jobs/top.arr.sim_2?severity=warning&q=line").text
    assert page.count("<tr class=\"warning\">") + page.count("<tr class=\"error\">") == 500
    assert 'href="?severity=warning&amp;q=line&amp;after=' in page  # the next page keeps the filters
    assert 'data-follow="no"' in page  # not at the end: the page does not append live
    tail = client.get("/runs/r1/jobs/top.arr.sim_2?after=1100").text
    assert 'data-follow="yes"' in tail and "events?after=1200" in tail


@pytest.mark.slow
def test_a_readable_run_is_read_from_the_jobs_own_stores(tmp_path: Path, client: Any) -> None:
    from gator_hub.tracking import read_tracking

    spec = """\
!JobGroup
  id: top
  jobs:
  - !Job {id: talk, command: sh, args: [-c, "echo first; echo 'ERROR: second' >&2; echo third"]}
"""
    _, tracking, _ = run_spec(tmp_path, spec, check=1)
    upload = read_tracking(tracking)
    assert client.put(f"/api/ingest/runs/{upload.run_id}", json=upload.run, headers=AUTH).json()["readable"]
    client.post(f"/api/ingest/runs/{upload.run_id}/nodes", json=upload.nodes, headers=AUTH)
    data = client.get(f"/api/runs/{upload.run_id}/jobs/top.talk").json()
    assert data["source"] == "store" and data["argv"][0] == "sh" and data["cwd"] == str(tmp_path)
    base = f"/api/runs/{upload.run_id}/jobs/top.talk/messages"
    every = client.get(base).json()["messages"]
    assert sorted(m["text"] for m in every) == ["ERROR: second", "first", "third"]  # stdout and stderr race
    assert [m["text"] for m in client.get(f"{base}?severity=error").json()["messages"]] == ["ERROR: second"]
    assert client.get(f"{base}?after={every[0]['seq']}").json()["messages"] == every[1:]
    assert [m["text"] for m in client.get(f"{base}?q=THIRD").json()["messages"]] == ["third"]
    assert [m["text"] for m in client.get(f"{base}?q=i&limit=1").json()["messages"]] == [
        next(m["text"] for m in every if "i" in m["text"])]
    assert "from the job&#39;s store" in client.get(f"/runs/{upload.run_id}/jobs/top.talk").text


def test_where_a_jobs_store_is_found() -> None:
    from gator_hub.store.queries import job_directory

    assert job_directory("/abs/run", "tr", "tr/a/b") == Path("/abs/run/a/b")
    assert job_directory("/abs/run", "/abs/run", "/abs/run/a") == Path("/abs/run/a")
    assert job_directory("/abs/run", "tr", "../etc") is None
    assert job_directory("/abs/run", None, "/elsewhere/a") is None
    assert job_directory(None, "tr", "tr/a") is None


# -- text, never HTML ----------------------------------------------------------------------------


def test_what_jobs_print_is_shown_as_text_on_every_page(client: Any) -> None:
    hostile = f"{SCRIPT} and {IMG}"
    spec = f"!JobGroup\n  id: top\n  jobs:\n  - !Job {{id: evil, command: sh, env: {{NOTE: '{IMG}'}}}}\n"
    nodes = [node("top", "fail", "group"),
             node("top.evil", "fail", reason=hostile, first_errors=[hostile], host=IMG, native_id=SCRIPT,
                  metrics={SCRIPT: 1.0})]
    for run_id, started in (("r0", 100.0), ("r1", 200.0)):
        put_run(client, run_id, nodes, spec=spec, started=started, user=SCRIPT, host=IMG, tracking=f"/t/{IMG}",
                argv=["gator", "run", hostile], spec_file=SCRIPT, spec_name=f"top {IMG}")
    body = {"jobs": [{"path": "top.evil", "messages": [[1, 1.0, 40, hostile], [2, 2.0, 20, "fine"]],
                      "attrs": {"argv": ["sh", "-c", hostile], "cwd": f"/w/{SCRIPT}"}}]}
    assert client.post("/api/ingest/runs/r1/jobs", json=body, headers=AUTH).status_code == 200
    pages = ["/", f"/?q={urllib.parse.quote(SCRIPT)}", "/runs/r1", "/runs/r1?under=top", "/runs/r1/buckets",
             "/runs/r1/compare", "/runs/r1/compare?with=r0", "/runs/r1/jobs/top.evil",
             "/runs/r1/jobs/top.evil?severity=error",
             f"/history?spec={urllib.parse.quote(f'top {IMG}')}&path=top.evil",
             f"/runs/r1/jobs/{urllib.parse.quote(IMG, safe='')}", f"/?before={urllib.parse.quote(IMG)}"]
    for url in pages:
        answer = client.get(url)
        assert answer.status_code in (200, 400, 404), url
        assert SCRIPT not in answer.text and "<img src=x" not in answer.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text or "&lt;img src=x" in answer.text, url
        assert "script-src 'self'" in answer.headers["content-security-policy"]
    job = client.get("/runs/r1/jobs/top.evil").text
    # in the messages, the reason, the command line, the directory, the spec's env, the metrics
    assert job.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6 and job.count("&lt;img src=x") >= 5
    assert job.count("<script") == 1  # the page's own script, from /static/
    # JSON carries the text as it was, for scripts to show as text
    assert client.get("/api/runs/r1/jobs/top.evil/messages").json()["messages"][0]["text"] == hostile


# -- the read token ----------------------------------------------------------------------------------


PAGES = ["/", "/runs/r1", "/runs/r1/buckets", "/runs/r1/compare", "/runs/r1/jobs/top.a", "/history?spec=top"]
JSON = ["/api/runs/r1/buckets", "/api/runs/r1/compare", "/api/runs/r1/jobs/top.a",
        "/api/runs/r1/jobs/top.a/messages", "/api/history?spec=top"]
STREAMS = ["/events", "/runs/r1/events", "/runs/r1/jobs/top.a/events"]


def test_pages_json_and_streams_need_the_read_token_when_one_is_set(client_for: Any) -> None:
    client = client_for(read_token=READ_TOKEN)
    put_run(client, "r1", [node("top", "fail", "group"), node("top.a", "fail", first_errors=["boom"])])
    for url in PAGES + JSON + STREAMS:
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401, url
    client.cookies.set("gator_hub_token", "wrong")
    for url in PAGES + JSON + STREAMS:
        assert client.get(url).status_code == 401, url
    client.cookies.clear()
    assert 'name="token"' in client.get("/runs/r1").text  # a page asks for the token
    assert client.get("/api/runs/r1/buckets").json()["error"]
    for url in PAGES + JSON:
        for token in (READ_TOKEN, TOKEN):
            assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200, url
    assert client.get("/static/hub.js").status_code == 200  # no data in it
    # a browser: ?token= once, then the cookie (the redirect drops the token from the URL)
    answer = client.get(f"/runs/r1/compare?with=r1&token={READ_TOKEN}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/runs/r1/compare?with=r1"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"gator_hub_token={READ_TOKEN};") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert client.get("/?token=wrong", follow_redirects=False).status_code == 401
    assert client.cookies.get("gator_hub_token") == READ_TOKEN  # kept like a browser keeps it
    for url in PAGES + JSON:
        assert client.get(url).status_code == 200, url


# -- live: server-sent events from a real hub ------------------------------------------------------------


class EventStream:
    """A client of one event stream: ``next()`` is the next event as (name, data)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        import json

        self._json = json
        parts = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=units(10))
        self.connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                                headers=headers or {})
        self.response = self.connection.getresponse()

    def next(self, timeout: float) -> tuple[str, Any]:
        self.connection.sock.settimeout(timeout)
        name, data = None, None
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = self._json.loads(line[6:])
            elif not line and name:
                return name, data

    def close(self) -> None:
        self.connection.close()


def ingest(url: str, method: str, path: str, body: Any) -> Any:
    import json
    import urllib.request

    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(), method=method,
                                     headers={**AUTH, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=units(10)) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_an_ingest_reaches_open_event_streams_within_a_second(tmp_path: Path, server_for: Any) -> None:
    token_file = tmp_path / "t"
    token_file.write_text(TOKEN)
    server = server_for(token_file)
    ingest(server.url, "PUT", "/api/ingest/runs/r1", {"spec_name": "top", "started": 10.0,
                                                        "jobs": {"total": 2, "running": 2}})
    ingest(server.url, "POST", "/api/ingest/runs/r1/nodes", [node("top", "running", "group"),
                                                            node("top.a", "running")])
    streams = {name: EventStream(f"{server.url}{path}") for name, path in
               (("runs", "/events?ids=r1"), ("run", "/runs/r1/events"), ("job", "/runs/r1/jobs/top.a/events"))}
    try:
        assert streams["runs"].response.getheader("content-type").startswith("text/event-stream")
        name, data = streams["runs"].next(units(5))
        assert name == "runs" and data["runs"][0]["id"] == "r1" and data["runs"][0]["done"] == 0
        name, data = streams["run"].next(units(5))
        assert name == "run" and data["state"] == "running" and data["failures"] == []
        name, data = streams["job"].next(units(5))
        assert name == "job" and data["result"] == "running" and data["exit_code"] is None
        # the hub cannot read this run: while the job's page is open, the run is asked for its messages
        assert ingest(server.url, "PUT", "/api/ingest/runs/r1", {})["follow"] == ["top.a"]
        # a job fails and says why: every stream hears of it within a second
        started = time.monotonic()
        ingest(server.url, "POST", "/api/ingest/runs/r1/nodes",
               [node("top.a", "fail", reason="exit code 1", first_errors=["ERROR: x"], exit_code=1)])
        ingest(server.url, "POST", "/api/ingest/runs/r1/jobs",
               {"jobs": [{"path": "top.a", "messages": [[1, 11.0, 40, "ERROR: x"], [2, 12.0, 20, "bye"]]}]})
        ingest(server.url, "PUT", "/api/ingest/runs/r1", {"jobs": {"total": 2, "failed": 1, "running": 1}})
        name, data = streams["run"].next(1.0)
        while not data["failures"]:
            name, data = streams["run"].next(max(0.01, 1.0 - (time.monotonic() - started)))
        assert data["failures"] == [{"path": "top.a", "result": "fail", "reason": "exit code 1",
                                     "first_error": "ERROR: x"}]
        events = dict([streams["job"].next(1.0), streams["job"].next(1.0)])
        assert events["job"]["result"] == "fail" and events["job"]["exit_code"] == 1
        assert [m["text"] for m in events["messages"]["messages"]] == ["ERROR: x", "bye"]
        name, data = streams["runs"].next(1.0)
        while data["runs"][0]["failed"] != 1:
            name, data = streams["runs"].next(max(0.01, 1.0 - (time.monotonic() - started)))
        assert time.monotonic() - started < 1.5  # three ingests and three streams, each well within 1 s
        # the run ends: the job's stream says so and closes
        ingest(server.url, "POST", "/api/ingest/runs/r1/finish", {"result": "fail"})
        name, _ = streams["job"].next(units(2))
        while name != "done":
            name, _ = streams["job"].next(units(2))
        assert streams["job"].response.read() == b""  # the server ended the stream
    finally:
        for stream in streams.values():
            stream.close()

