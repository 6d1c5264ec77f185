"""The hub's database: migrations, idempotent ingest, prune."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text

from gator_hub.store import HubStore
from gator_hub.store.hubstore import make_engine
from gator_hub.store.migrate import VERSION_TABLE, upgrade

HEAD = "0004"  # the newest migration in gator_hub/migrations/versions


def node(path: str, result: str = "pass", kind: str = "job", **extra: Any) -> dict[str, Any]:
    parent = path.rsplit(".", 1)[0] if "." in path else None
    return {"id": path.rsplit(".", 1)[-1], "path": path, "kind": kind, "result": result, "parent": parent, **extra}


def test_migrations_create_the_schema_and_a_second_start_is_a_no_op(db_url: str) -> None:
    first = HubStore(db_url)
    try:
        tables = set(inspect(first.engine).get_table_names())
        assert {"runs", "nodes", "messages", "details", VERSION_TABLE} <= tables
        indexes = {index["name"] for index in inspect(first.engine).get_indexes("runs")}
        assert {"ix_runs_listed", "ix_runs_spec", "ix_runs_user", "ix_runs_result"} <= indexes
        first.register_run("r1", {"spec_name": "top", "started": 10.0})
        with first.engine.connect() as connection:
            version = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()
        assert version == HEAD
    finally:
        first.close()
    second = HubStore(db_url)  # opening again migrates nothing and keeps the data
    try:
        with second.engine.connect() as connection:
            versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        assert [row[0] for row in versions] == [HEAD]
        assert [run["id"] for run in second.list_runs()] == ["r1"]
    finally:
        second.close()


def test_a_database_of_the_first_schema_is_upgraded_and_keeps_its_runs(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")  # a hub of the first release
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO runs (id, listed_at, state, updated) "
                                "VALUES ('old', 1.0, 'finished', 1.0)"))
    engine.dispose()
    store = HubStore(db_url)
    try:
        assert [run["id"] for run in store.list_runs()] == ["old"]
        assert store.get_run("old")["readable"] is None  # the column the second schema added
        assert "messages" in inspect(store.engine).get_table_names()
    finally:
        store.close()


def test_the_same_data_twice_gives_one_run_and_one_set_of_nodes(store: HubStore) -> None:
    for _ in range(2):
        store.register_run("r1", {"spec": "!Job {id: a}", "spec_name": "top", "started": 5.0})
        store.upsert_nodes("r1", [node("top", kind="group"), node("top.a")])
        store.finish_run("r1", {"result": "pass", "stopped": 9.0, "jobs": {"total": 1, "passed": 1}})
    assert store.count_runs() == 1
    tree = store.get_tree("r1")
    assert [child["path"] for child in tree["children"]] == ["top.a"]
    record = store.get_run("r1")
    assert record["state"] == "finished" and record["result"] == "pass" and record["stopped"] == 9.0
    assert len(record["spec_hash"]) == 64


def test_a_later_registration_keeps_what_it_does_not_say(store: HubStore) -> None:
    store.register_run("r1", {"spec_name": "top", "user": "alice"})
    store.finish_run("r1", {"result": "fail"})
    store.register_run("r1", {"host": "h1"})
    record = store.get_run("r1")
    assert (record["user"], record["host"], record["state"], record["result"]) == ("alice", "h1", "finished", "fail")


def test_prune_removes_only_runs_that_ended_before_the_cutoff(store: HubStore) -> None:
    now = 1_000_000.0
    store.register_run("old", {"started": now - 100 * 86400})
    store.upsert_nodes("old", [node("top", kind="group"), node("top.a")])
    store.finish_run("old", {"result": "pass", "stopped": now - 91 * 86400})
    store.register_run("recent", {"started": now - 10})
    store.finish_run("recent", {"result": "pass", "stopped": now - 5})
    store.register_run("old-but-running", {"started": now - 200 * 86400})
    assert store.prune(90 * 86400, now=now) == 1
    assert sorted(run["id"] for run in store.list_runs()) == ["old-but-running", "recent"]
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM nodes")).scalar_one() == 0
    assert store.prune(90 * 86400, now=now) == 0


def test_a_node_sent_again_keeps_what_it_does_not_say(store: HubStore) -> None:
    store.register_run("r1", {"spec_name": "top"})
    store.upsert_nodes("r1", [node("top", kind="group", result="running"),
                              node("top.a", result="running", started=5.0, position=1)])
    store.upsert_nodes("r1", [node("top.a", result="fail", exit_code=3, stopped=9.0)])  # a live run's finish
    item = store.get_tree("r1")["children"][0]
    assert (item["result"], item["exit_code"], item["started"], item["stopped"]) == ("fail", 3, 5.0, 9.0)
    store.upsert_nodes("r1", [node("top.b", result="pass")])  # a new node without a position comes first
    assert [child["id"] for child in store.get_tree("r1")["children"]] == ["b", "a"]
