"""Each node's SQLite store, and the readers used by ``gator show`` and ``gator logs``.

Every node (job or tier) keeps ``db.sqlite`` in its tracking directory, in
WAL mode so that another process can read it while the run goes on.  Writes
are buffered in memory and committed by :meth:`Store.flush`, which the
wrapper and the tier call at least once a second; nothing is held in an open
transaction between flushes, so a crash loses at most the last second.

Tables::

    attrs(key, value)                 JSON values: id, path, kind, result, ...
    messages(id, ts, severity, text, source, line)
    metrics(name, value)
    samples(ts, cpu, rss, procs)      CPU percent and RSS of the job's process tree
    children(key, position, kind, state, data)   a tier's view of each child (JSON)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

from gator_core.exceptions import StoreError
from gator_core.states import SEVERITY_KEYS, Severity

__all__ = [
    "severity_value",
    "Store",
    "StoreReader",
    "DB_NAME",
    "LOG_NAME",
]

DB_NAME = "db.sqlite"
LOG_NAME = "messages.log"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attrs (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, severity INTEGER NOT NULL,
    text TEXT NOT NULL, source TEXT, line INTEGER);
CREATE TABLE IF NOT EXISTS metrics (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS samples (ts REAL NOT NULL, cpu REAL, rss INTEGER, procs INTEGER);
CREATE TABLE IF NOT EXISTS children (
    key TEXT PRIMARY KEY, position INTEGER NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, data TEXT NOT NULL);
"""


def severity_value(name: str) -> int:
    """``"warning"`` -> 30; raises ``ValueError`` naming the known severities."""
    return int(Severity.parse(name))


_template: bytes | None = None


# Bytes 18 and 19 of an SQLite file (its format's write and read versions) are 2 in
# WAL mode: that is how ``PRAGMA journal_mode=WAL`` persists (SQLite's documented
# file format, "File format version numbers").
_WAL_HEADER = slice(18, 20)


def _empty_database() -> bytes:
    """An empty store with the schema, in WAL mode, as bytes.

    Writing these bytes is several times cheaper than creating the schema,
    which matters when a run creates ten thousand stores.  They are made in
    memory where Python can serialise a database (3.11 on): a file made for the
    purpose, which SQLite syncs, cost a wrapper started cold (on a batch farm's
    node) 3 ms of CPU for its one store.
    """
    global _template
    if _template is None:
        _template = _template_in_memory() if hasattr(sqlite3.Connection, "serialize") else _template_in_file()
    return _template


def _template_in_memory() -> bytes:
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db.executescript(_SCHEMA)
        image = bytearray(db.serialize())  # type: ignore[attr-defined,unused-ignore]
    finally:
        db.close()
    image[_WAL_HEADER] = b"\x02\x02"
    return bytes(image)


def _template_in_file() -> bytes:
    import tempfile  # Python 3.10 only

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / DB_NAME
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()
        return path.read_bytes()


class Store:
    """Write side of one node's store.  One owner thread calls its methods.

    ``durable=False`` skips fsync (``synchronous=OFF``): what was committed
    survives a crash of the process, but not necessarily of the machine.  Job
    stores use it, since ten thousand fsyncs would cost more than the jobs;
    tier stores stay durable.

    Messages arrive one by one (``add_message``) or as batches of lines of one
    severity (``add_lines``, the cheap path for a job's output).  When a flush
    has many messages to write, it hands them to a writer thread and returns
    at once, so that reading a job's output and writing it overlap (SQLite
    lets go of the GIL while it works); the next flush waits for the previous
    one, which bounds the memory held.  ``close`` waits for everything.
    """

    THREAD_THRESHOLD = 4000  # messages in one flush before a writer thread is worth it

    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        try:
            fresh = True
            try:
                try:
                    self._write_template()
                except FileNotFoundError:
                    # Its scheduler usually made the directory already (the child's log
                    # is there), so it is made only when missing: in a forked wrapper, an
                    # existing directory's EEXIST cost 0.3 ms and 100 page faults.
                    self.directory.mkdir(parents=True, exist_ok=True)
                    self._write_template()
            except FileExistsError:
                fresh = False  # a store being reopened: keep what it holds
            # isolation_level=None: we open and commit transactions ourselves.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
            if not fresh:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot create store {self.path}: {exc}") from None
        self._attrs: dict[str, Any] = {}
        # In arrival order: a row (ts, severity, text, source, line), or a batch
        # (ts, severity, [texts]) of lines that share a time and a severity.
        self._messages: list[tuple[Any, ...]] = []
        self._pending_messages = 0
        self._metrics: dict[str, float] = {}
        self._samples: list[tuple[float, float, int, int]] = []
        self._children: dict[str, tuple[int, str, str, str]] = {}
        self._writer: threading.Thread | None = None
        self._failure: StoreError | None = None
        self.closed = False

    def _write_template(self) -> None:
        with open(self.path, "xb") as handle:
            handle.write(_empty_database())  # already in WAL mode, with the schema

    # -- buffered writes ----------------------------------------------------------------
    def set_attr(self, key: str, value: Any) -> None:
        self._attrs[key] = value

    def set_attrs(self, values: dict[str, Any]) -> None:
        self._attrs.update(values)

    def add_message(
        self, severity: int, text: str, ts: float | None = None,
        source: str | None = None, line: int | None = None,
    ) -> None:
        self._messages.append((ts if ts is not None else time.time(), severity, text, source, line))
        self._pending_messages += 1

    def add_messages(self, rows: Iterable[tuple[float, int, str, str | None, int | None]]) -> None:
        before = len(self._messages)
        self._messages.extend(rows)
        self._pending_messages += len(self._messages) - before

    def add_lines(self, ts: float, severity: int, texts: list[str]) -> None:
        """Many messages at once: the lines of a job's output of one severity."""
        self._messages.append((ts, severity, texts))
        self._pending_messages += len(texts)

    @property
    def pending_messages(self) -> int:
        return self._pending_messages

    def set_metric(self, name: str, value: float) -> None:
        self._metrics[name] = value

    def add_sample(self, ts: float, cpu: float, rss: int, procs: int) -> None:
        self._samples.append((ts, cpu, rss, procs))

    def set_child(self, key: str, position: int, kind: str, state: str, data: dict[str, Any]) -> None:
        self._children[key] = (position, kind, state, json.dumps(data, separators=(",", ":")))

    @property
    def pending(self) -> bool:
        return bool(self._attrs or self._messages or self._metrics or self._samples or self._children)

    # -- committing -------------------------------------------------------------------------
    def flush(self, *, wait: bool = False) -> None:
        """Commit everything buffered so far, in one transaction.

        A large batch of messages is written by a thread (``wait=True`` waits for
        it).  Raises StoreError if this or an earlier write failed.
        """
        self._join()
        if self.closed or not self.pending:
            return
        batch = (self._attrs, self._messages, self._metrics, self._samples, self._children)
        threaded = self._pending_messages >= self.THREAD_THRESHOLD and not wait
        self._attrs, self._messages, self._metrics, self._samples, self._children = {}, [], {}, [], {}
        self._pending_messages = 0
        if threaded:
            self._writer = threading.Thread(target=self._write_caught, args=batch, name="store-writer",
                                            daemon=True)
            self._writer.start()
        else:
            self._write(*batch)

    def _join(self) -> None:
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _write_caught(self, *batch: Any) -> None:
        try:
            self._write(*batch)
        except StoreError as exc:
            self._failure = exc

    def _write(self, attrs: dict[str, Any], messages: list[tuple[Any, ...]], metrics: dict[str, float],
               samples: list[tuple[float, float, int, int]],
               children: dict[str, tuple[int, str, str, str]]) -> None:
        db = self._db
        try:
            db.execute("BEGIN")
            if attrs:
                db.executemany(
                    "INSERT OR REPLACE INTO attrs(key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in attrs.items()],
                )
            rows: list[tuple[Any, ...]] = []
            for item in messages:
                if len(item) == 5:
                    rows.append(item)
                    continue
                if rows:
                    db.executemany(_INSERT_ROW, rows)
                    rows = []
                ts, severity, texts = item
                _insert_lines(db, ts, severity, texts)
            if rows:
                db.executemany(_INSERT_ROW, rows)
            if metrics:
                db.executemany("INSERT OR REPLACE INTO metrics(name, value) VALUES (?, ?)",
                               list(metrics.items()))
            if samples:
                db.executemany("INSERT INTO samples(ts, cpu, rss, procs) VALUES (?, ?, ?, ?)", samples)
            if children:
                db.executemany(
                    "INSERT OR REPLACE INTO children(key, position, kind, state, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    ((k, *v) for k, v in children.items()),
                )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StoreError(f"cannot write store {self.path}: {exc}") from None

    def close(self) -> None:
        """Flush, wait for the writer and close; calling it again does nothing."""
        if self.closed:
            return
        try:
            self.flush(wait=True)
        finally:
            self.closed = True
            self._db.close()


_INSERT_ROW = "INSERT INTO messages(ts, severity, text, source, line) VALUES (?, ?, ?, ?, ?)"
_INSERT_LINE = "INSERT INTO messages(ts, severity, text) VALUES (?, ?, ?)"
# One statement for a whole batch of lines, which SQLite takes apart itself: three times
# faster than binding a row per line (1,000,000 lines: 0.23 s against 0.68 s here).
# json_each is built into SQLite from 3.38; json_each yields an array's items in order.
_INSERT_LINES = "INSERT INTO messages(ts, severity, text) SELECT ?, ?, value FROM json_each(?)"
_JSON_LINES = sqlite3.sqlite_version_info >= (3, 38, 0)
_JSON_BATCH = 16  # fewer lines than this go row by row


def _insert_lines(db: sqlite3.Connection, ts: float, severity: int, texts: list[str]) -> None:
    if _JSON_LINES and len(texts) >= _JSON_BATCH:
        payload = json.dumps(texts, ensure_ascii=False)
        if "\\u0000" not in payload:  # SQLite would cut a line at a NUL: those go row by row
            db.execute(_INSERT_LINES, (ts, severity, payload))
            return
    db.executemany(_INSERT_LINE, zip(repeat(ts), repeat(severity), texts))


class StoreReader:
    """Read side of one node's store (``db.sqlite`` in its tracking directory): its
    attributes, metrics and messages.  Safe to use while the writer is running; a
    context manager."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        if not self.path.exists():
            raise StoreError(f"no store at {self.path}")
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from None

    def attrs(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._query("SELECT key, value FROM attrs")}

    def metrics(self) -> dict[str, float]:
        return dict(self._query("SELECT name, value FROM metrics"))

    def children(self) -> list[dict[str, Any]]:
        return list(self.iter_children())

    def iter_children(self) -> Iterator[dict[str, Any]]:
        """A tier's rows one at a time (a large array must not be held at once)."""
        try:
            cursor = self._db.execute("SELECT key, kind, state, data FROM children ORDER BY position")
            for key, kind, state, data in cursor:
                item = json.loads(data)
                item.update({"key": key, "kind": kind, "state": state})
                yield item
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from None

    def message_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITY_KEYS, 0)
        for severity, count in self._query("SELECT severity, COUNT(*) FROM messages GROUP BY severity"):
            counts[Severity.of(severity).key] += count
        return counts

    def messages(self, min_severity: int = 0, limit: int | None = None, *, after: int = 0
                 ) -> Iterator[tuple[Any, ...]]:
        """Rows ``(id, ts, severity, text, source, line)`` in order, of at least
        ``min_severity``, with ids above ``after`` (to follow a store that grows)."""
        sql = ("SELECT id, ts, severity, text, source, line FROM messages "
               "WHERE severity >= ? AND id > ? ORDER BY id")
        args: tuple[Any, ...] = (min_severity, after)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        try:
            yield from self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from None

    def samples(self) -> list[tuple[float, float, int, int]]:
        return self._query("SELECT ts, cpu, rss, procs FROM samples ORDER BY ts")  # type: ignore[return-value]
