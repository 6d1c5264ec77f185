"""The hub's JSON API, in process: ingest, reads, tokens, limits and hostile input."""

from __future__ import annotations

from typing import Any

import pytest
from hubtools import AUTH, READ_TOKEN, TOKEN


def tree_nodes() -> list[dict[str, Any]]:
    common = {"messages": {"debug": 0, "info": 1, "warning": 0, "error": 0, "critical": 0},
              "metrics": {}, "started": 1.0, "stopped": 2.0, "duration": 1.0, "peak_memory": None,
              "native_id": None, "host": None, "exit_code": None, "reason": None, "seed": None}
    return [
        {**common, "id": "top", "path": "top", "kind": "group", "result": "fail", "parent": None,
         "jobs": {"total": 2, "passed": 1, "failed": 1}, "tracking": "/t", "log": "/t/messages.log"},
        {**common, "id": "b", "path": "top.b", "kind": "job", "result": "fail", "parent": "top", "position": 1,
         "exit_code": 3, "jobs": {"total": 1, "failed": 1}, "tracking": "/t/b", "log": "/t/b/messages.log",
         "seed": 77, "first_errors": ["bad"]},
        {**common, "id": "a", "path": "top.a", "kind": "job", "result": "pass", "parent": "top", "position": 0,
         "exit_code": 0, "jobs": {"total": 1, "passed": 1}, "tracking": "/t/a", "log": "/t/a/messages.log"},
    ]


def ingest(client: Any, run_id: str = "run1", **run: Any) -> None:
    body = {"spec": "x", "spec_name": "top", "spec_file": "s.yaml", "user": "alice", "host": "h",
            "argv": ["gator", "run", "s.yaml"], "scheduler": "local", "seed": 5, "started": 100.0, **run}
    assert client.put(f"/api/ingest/runs/{run_id}", json=body, headers=AUTH).status_code == 200
    answer = client.post(f"/api/ingest/runs/{run_id}/nodes", json=tree_nodes(), headers=AUTH)
    assert answer.status_code == 200 and answer.json()["nodes"] == 3
    finish = {"result": "fail", "stopped": 200.0, "jobs": {"total": 2, "passed": 1, "failed": 1}}
    assert client.post(f"/api/ingest/runs/{run_id}/finish", json=finish, headers=AUTH).status_code == 200


SHOW_KEYS = {"id", "path", "kind", "result", "exit_code", "reason", "messages", "jobs", "metrics", "started",
             "stopped", "duration", "peak_memory", "tracking", "log", "native_id", "host", "seed", "attempts",
             "artefacts", "children"}


def test_register_nodes_finish_then_read_the_list_and_the_tree(client: Any) -> None:
    ingest(client)
    runs = client.get("/api/runs").json()["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert run["id"] == "run1" and run["state"] == "finished" and run["result"] == "fail"
    assert (run["spec_name"], run["spec_file"], run["user"], run["host"]) == ("top", "s.yaml", "alice", "h")
    assert (run["started"], run["stopped"], run["jobs"]["failed"]) == (100.0, 200.0, 1)
    tree = client.get("/api/runs/run1").json()
    assert set(tree) == SHOW_KEYS
    assert [child["id"] for child in tree["children"]] == ["a", "b"]  # by position, as sent
    b = tree["children"][1]
    assert set(b) == SHOW_KEYS and b["exit_code"] == 3 and b["seed"] == 77 and b["children"] == []


def test_sending_everything_twice_gives_one_run(client: Any) -> None:
    ingest(client)
    ingest(client)
    assert [run["id"] for run in client.get("/api/runs").json()["runs"]] == ["run1"]
    assert len(client.get("/api/runs/run1").json()["children"]) == 2


def test_unknown_run_is_404_with_a_message(client: Any) -> None:
    answer = client.get("/api/runs/nosuchrun")
    assert answer.status_code == 404 and "nosuchrun" in answer.json()["error"]
    answer = client.post("/api/ingest/runs/nosuchrun/nodes", json=tree_nodes(), headers=AUTH)
    assert answer.status_code == 404 and "register it first" in answer.json()["error"]


def test_list_is_newest_first_paged_and_filtered(client: Any) -> None:
    for index in range(5):
        body = {"spec_name": "even" if index % 2 == 0 else "odd", "user": f"u{index % 2}",
                "started": 1000.0 + index}
        assert client.put(f"/api/ingest/runs/r{index}", json=body, headers=AUTH).status_code == 200
    client.post("/api/ingest/runs/r3/finish", json={"result": "pass"}, headers=AUTH)
    page = client.get("/api/runs?limit=2").json()
    assert [run["id"] for run in page["runs"]] == ["r4", "r3"] and page["next"] == "r3"
    page = client.get(f"/api/runs?limit=2&before={page['next']}").json()
    assert [run["id"] for run in page["runs"]] == ["r2", "r1"]
    assert [run["id"] for run in client.get("/api/runs?offset=4").json()["runs"]] == ["r0"]
    assert [run["id"] for run in client.get("/api/runs?spec=odd").json()["runs"]] == ["r3", "r1"]
    assert [run["id"] for run in client.get("/api/runs?user=u0").json()["runs"]] == ["r4", "r2", "r0"]
    assert [run["id"] for run in client.get("/api/runs?result=pass").json()["runs"]] == ["r3"]
    for bad in ("limit=0", "limit=501", "limit=x", "offset=-1", "before=nosuch"):
        answer = client.get(f"/api/runs?{bad}")
        assert answer.status_code == 400 and answer.json()["error"], bad
    assert client.get("/api/runs?limit=500").status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": "Bearer t\u00e9st".encode("latin-1")}])
def test_ingest_without_the_right_token_is_401_and_the_hub_keeps_serving(client: Any, headers: dict) -> None:
    answer = client.put("/api/ingest/runs/run1", json={"spec_name": "x"}, headers=headers)
    assert answer.status_code == 401 and "Bearer" in answer.json()["error"]
    for path in ("/api/ingest/runs/run1/nodes", "/api/ingest/runs/run1/finish"):
        assert client.post(path, json=[], headers=headers).status_code == 401
    assert client.get("/api/runs").json()["runs"] == []  # nothing stored, still answering
    ingest(client)
    assert len(client.get("/api/runs").json()["runs"]) == 1


def test_a_read_token_is_enforced_when_set(client_for: Any) -> None:
    client = client_for(read_token=READ_TOKEN)
    ingest(client)
    for path in ("/api/runs", "/api/runs/run1"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {READ_TOKEN}"}).status_code == 200
    # the read token does not let anyone write
    answer = client.put("/api/ingest/runs/run2", json={}, headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert answer.status_code == 401


def test_a_body_over_the_limit_is_413_and_nothing_changes(client_for: Any) -> None:
    client = client_for(max_body=4096)
    ingest(client)
    big = [{**tree_nodes()[1], "reason": "x" * 5000}]
    answer = client.post("/api/ingest/runs/run1/nodes", json=big, headers=AUTH)
    assert answer.status_code == 413 and "limit" in answer.json()["error"]

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b" " * 1000

    answer = client.post("/api/ingest/runs/run1/nodes", content=chunks(), headers=AUTH)
    assert answer.status_code == 413
    assert client.get("/api/runs/run1").json()["children"][1]["reason"] is None


def test_the_default_limit_is_16_mib(client: Any) -> None:
    body = b"[" + b" " * (16 * 1024 * 1024) + b"]"
    assert client.post("/api/ingest/runs/run1/nodes", content=body, headers=AUTH).status_code == 413


HOSTILE = [
    ("PUT", "/api/ingest/runs/run1", b"not json"),
    ("PUT", "/api/ingest/runs/run1", b"[1, 2]"),
    ("PUT", "/api/ingest/runs/run1", b'{"seed": "five"}'),
    ("PUT", "/api/ingest/runs/run1", b'{"seed": 99999999999999999999999}'),
    ("PUT", "/api/ingest/runs/run1", b'{"argv": [1, 2]}'),
    ("PUT", "/api/ingest/runs/run1", b'{"state": "exploded"}'),
    ("PUT", "/api/ingest/runs/run1", b'{"surprise": 1}'),
    ("PUT", "/api/ingest/runs/run1", b'{"user": "nul\\u0000"}'),
    ("PUT", "/api/ingest/runs/run1", b'{"started": NaN}'),
    ("PUT", "/api/ingest/runs/run1", b'{"jobs": {"total": -1}}'),
    ("PUT", "/api/ingest/runs/run1", b"\xff\xfe"),
    ("PUT", "/api/ingest/runs/run1", b"[" * 100_000 + b"]" * 100_000),
    ("PUT", "/api/ingest/runs/run1", b'{"jobs": ' + b'{"a": ' * 40 + b"1" + b"}" * 41),
    ("PUT", "/api/ingest/runs/bad%20id", b"{}"),
    ("POST", "/api/ingest/runs/run1/nodes", b'{"id": "x"}'),
    ("POST", "/api/ingest/runs/run1/nodes", b'[{"id": "x", "path": "top.x", "kind": "job", "result": "pass"}]'),
    ("POST", "/api/ingest/runs/run1/nodes", b'[{"path": "top.x", "kind": "job", "result": "pass", "parent": "top"}]'),
    ("POST", "/api/ingest/runs/run1/nodes",
     b'[{"id": "x", "path": "top.x", "kind": "job", "result": "great", "parent": "top"}]'),
    ("POST", "/api/ingest/runs/run1/nodes",
     b'[{"id": "x", "path": "top.x", "kind": "job", "result": "pass", "parent": "elsewhere"}]'),
    ("POST", "/api/ingest/runs/run1/nodes",
     b'[{"id": "x", "path": "top.x", "kind": "job", "result": "pass", "parent": "top", "exit_code": true}]'),
    ("POST", "/api/ingest/runs/run1/nodes", b"[5]"),
    ("POST", "/api/ingest/runs/run1/finish", b"{}"),
    ("POST", "/api/ingest/runs/run1/finish", b'{"result": "pass", "stopped": "later"}'),
    ("POST", "/api/ingest/runs/run1/jobs", b'[]'),
    ("POST", "/api/ingest/runs/run1/jobs", b'{"jobs": [{"messages": []}]}'),
    ("POST", "/api/ingest/runs/run1/jobs", b'{"jobs": [{"path": "top.a", "messages": [[1, 2.0, 20]]}]}'),
    ("POST", "/api/ingest/runs/run1/jobs", b'{"jobs": [{"path": "top.a", "messages": [[-1, 2.0, 20, "x"]]}]}'),
    ("POST", "/api/ingest/runs/run1/jobs", b'{"jobs": [{"path": "top.a", "messages": [[1, 2.0, 20, 7]]}]}'),
    ("POST", "/api/ingest/runs/run1/jobs", b'{"jobs": [{"path": "top.a", "attrs": [1]}]}'),
    ("POST", "/api/ingest/runs/run1/jobs", b'{"jobs": [{"path": "top.a", "extra": 1}]}'),
    ("POST", "/api/ingest/runs/nobody/jobs", b'{"jobs": [{"path": "top.a", "messages": [[1, 2.0, 20, "x"]]}]}'),
]


@pytest.mark.parametrize(("method", "path", "body"), HOSTILE, ids=range(len(HOSTILE)))
def test_malformed_or_hostile_json_is_a_4xx_and_loses_nothing(client: Any, method: str, path: str,
                                                              body: bytes) -> None:
    ingest(client)
    before = client.get("/api/runs/run1").json()
    answer = client.request(method, path, content=body, headers=AUTH)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]
    assert client.get("/api/runs/run1").json() == before
    assert [run["id"] for run in client.get("/api/runs").json()["runs"]] == ["run1"]


def test_unknown_routes_and_methods_answer_in_json(client: Any) -> None:
    assert client.get("/api/nothing").status_code == 404
    answer = client.get("/api/ingest/runs/run1")
    assert answer.status_code == 405 and answer.json()["error"]


def test_a_retention_forgets_runs_that_ended_before_it(db_url: str, client_for: Any) -> None:
    import time

    from gator_hub.store import HubStore

    store = HubStore(db_url)
    try:
        now = time.time()
        store.register_run("ancient", {"started": now - 100 * 86400})
        store.finish_run("ancient", {"result": "pass", "stopped": now - 95 * 86400})
        store.register_run("recent", {"started": now - 60})
        store.finish_run("recent", {"result": "pass", "stopped": now - 30})
    finally:
        store.close()
    client = client_for(retention=90 * 86400)  # pruned when the hub starts
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = [run["id"] for run in client.get("/api/runs").json()["runs"]]
        if ids == ["recent"]:
            break
        time.sleep(0.05)
    assert ids == ["recent"]


def test_job_data_is_kept_once_per_message(client: Any) -> None:
    ingest(client)
    body = {"jobs": [{"path": "top.a", "messages": [[1, 5.0, 20, "hello"], [2, 6.0, 40, "bad"]],
                      "attrs": {"argv": ["sim"]}, "samples": [[5.0, 0.5, 1000, 1]]}]}
    for _ in range(2):  # sent twice, kept once
        answer = client.post("/api/ingest/runs/run1/jobs", json=body, headers=AUTH)
        assert answer.status_code == 200 and answer.json()["messages"] == 2, answer.text
    store = client.app.state.store
    from sqlalchemy import text

    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT seq, severity, text FROM messages WHERE run_id = 'run1'")).all()
    assert sorted(tuple(row) for row in rows) == [(1, 20, "hello"), (2, 40, "bad")]
