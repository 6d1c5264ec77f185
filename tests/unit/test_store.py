"""The SQLite store: WAL, committed on flush, readable by another process meanwhile."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from gator_core.states import Severity
from gator_core.store.nodestore import Store, StoreReader, severity_value


def test_store_is_in_wal_mode_and_readable_while_open(tmp_path):
    store = Store(tmp_path / "node")
    store.set_attr("id", "a")
    store.add_message(Severity.ERROR, "boom")
    store.flush()
    mode = sqlite3.connect(tmp_path / "node" / "db.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    # Another process reads the committed data while the writer is still open.
    code = ("import sys; from gator_core.store.nodestore import StoreReader;"
            "r = StoreReader(sys.argv[1]); print(r.attrs()['id'], r.message_counts()['error'])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "node")], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    assert out.split() == ["a", "1"]
    store.close()


def test_nothing_is_visible_before_flush_and_everything_after(tmp_path):
    store = Store(tmp_path)
    store.add_messages([(1.0, 20, f"line {i}", None, None) for i in range(1000)])
    with StoreReader(tmp_path) as reader:
        assert reader.message_counts()["info"] == 0
        store.flush()
        assert reader.message_counts()["info"] == 1000
        assert [row[3] for row in reader.messages(limit=2)] == ["line 0", "line 1"]
    store.close()


def test_reopening_keeps_what_was_stored(tmp_path):
    first = Store(tmp_path)
    first.set_metric("m", 2.5)
    first.close()
    second = Store(tmp_path, durable=False)
    second.set_metric("n", 1)
    second.close()
    with StoreReader(tmp_path) as reader:
        assert reader.metrics() == {"m": 2.5, "n": 1}


def test_children_rows_round_trip(tmp_path):
    store = Store(tmp_path)
    store.set_child("b", 1, "job", "done", {"result": "pass"})
    store.set_child("a", 0, "group", "running", {"result": "running"})
    store.close()
    with StoreReader(tmp_path) as reader:
        rows = reader.children()
    assert [(r["key"], r["kind"], r["state"], r["result"]) for r in rows] == [
        ("a", "group", "running", "running"), ("b", "job", "done", "pass")]


def test_close_is_idempotent(tmp_path):
    store = Store(tmp_path)
    store.close()
    store.close()


def test_severity_names():
    assert severity_value("Warning") == 30
    try:
        severity_value("loud")
    except ValueError as exc:
        assert "use one of debug, info, warning, error, critical" in str(exc)
    else:
        raise AssertionError("no error")


def test_a_store_makes_its_missing_directories_and_names_what_it_cannot_make(tmp_path):
    from gator_core import StoreError

    store = Store(tmp_path / "a" / "b")
    store.set_attr("id", "deep")
    store.close()
    with StoreReader(tmp_path / "a" / "b") as reader:
        assert reader.attrs()["id"] == "deep"
    (tmp_path / "file").write_text("not a directory")
    try:
        Store(tmp_path / "file" / "node")
    except StoreError as exc:
        assert str(tmp_path / "file" / "node" / "db.sqlite") in str(exc)
    else:
        raise AssertionError("no error")


def test_missing_store_is_a_clear_error(tmp_path):
    from gator_core import StoreError

    try:
        StoreReader(tmp_path / "nothing")
    except StoreError as exc:
        assert "no store at" in str(exc)
    else:
        raise AssertionError("no error")
    assert not os.path.exists(tmp_path / "nothing")


def test_batches_of_lines_are_stored_exactly_and_in_order(tmp_path):
    """A batch of output lines goes in as one statement (SQLite splits a JSON array);
    a batch with a NUL, which SQLite would cut there, goes row by row: nothing changes."""
    odd = ["caf\u00e9 \u2603", "tab\there", 'quote " and \\ backslash', "\U0001F600", ""]
    batches = [
        [f"line {i}" for i in range(1000)] + odd,  # the one-statement path
        ["before", "a\x00b", *odd, *(f"n{i}" for i in range(20))],  # a NUL: row by row
        ["literal \\u0000", *(f"m{i}" for i in range(20))],  # looks like one: row by row too
        ["few", "lines"],  # a small batch: row by row
    ]
    store = Store(tmp_path)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    for number, texts in enumerate(batches):
        store.add_lines(100.0 + number, 20 + number, texts)
    store.flush(wait=True)
    store.close()
    assert sum("json_each" in statement for statement in statements) == 1  # the first batch only
    with StoreReader(tmp_path) as reader:
        rows = list(reader.messages())
    expected = [(100.0 + number, 20 + number, text) for number, texts in enumerate(batches) for text in texts]
    assert [(ts, severity, text) for _id, ts, severity, text, _source, _line in rows] == expected
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)


def test_a_store_made_in_a_fresh_process_is_a_wal_database_with_the_schema(tmp_path):
    # The template is made in memory and marked WAL in its header; a process that
    # has not made it yet (a wrapper started cold on a batch node) makes it first.
    code = ("import sys, pathlib; from gator_core.store.nodestore import Store;"
            "s = Store(pathlib.Path(sys.argv[1])); s.set_attr('id', 'x'); s.add_message(40, 'e'); s.flush();"
            "s.close()")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=30)
    db = sqlite3.connect(tmp_path / "db.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"attrs", "messages", "metrics", "samples", "children"}
    assert db.execute("SELECT severity, text FROM messages").fetchall() == [(40, "e")]


def test_both_ways_of_making_the_template_give_an_empty_wal_store_with_the_schema(tmp_path):
    # In memory where Python serialises databases (3.11 on); in a file on 3.10.
    from gator_core.store import nodestore

    ways = [nodestore._template_in_file]
    if hasattr(sqlite3.Connection, "serialize"):
        ways.append(nodestore._template_in_memory)
    for number, way in enumerate(ways):
        path = tmp_path / f"{number}.sqlite"
        path.write_bytes(way())
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"attrs", "messages", "metrics", "samples", "children"}
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
        db.close()
