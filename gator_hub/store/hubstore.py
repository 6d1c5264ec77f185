"""The hub's operations on its database: register, ingest and finish runs, list them,
read one back as a tree in the shape of ``gator show --json``, and prune old ones.

Every write is an upsert keyed by the run id (and a node's path), so sending the
same data twice leaves one run; each call is one transaction, so a refused or
failed request changes nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, and_, create_engine, delete, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gator_hub.errors import BadRequest, NotFound
from gator_hub.store.migrate import upgrade
from gator_hub.store.schema import details, messages, nodes, runs

__all__ = ["HubStore", "RUN_FIELDS", "NODE_COLUMNS", "make_engine"]

PRUNE_CHUNK = 5  # runs deleted per transaction (a 10,000-job run is 10,000 node rows)

# What the run list shows of each run.
RUN_FIELDS = ("id", "spec_name", "spec_file", "user", "host", "state", "result", "started", "stopped", "jobs")
# Node keys of ``gator show --json`` and the column each is kept in.
NODE_COLUMNS = {"id": "node_id", "path": "path", "kind": "kind", "result": "result", "exit_code": "exit_code",
                "reason": "reason", "messages": "messages", "jobs": "jobs", "metrics": "metrics",
                "started": "started", "stopped": "stopped", "duration": "duration",
                "peak_memory": "peak_memory", "tracking": "tracking", "log": "log",
                "native_id": "native_id", "host": "host", "seed": "seed", "attempts": "attempts",
                "artefacts": "artefacts"}


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout, so readers and the
    one writer do not stop each other."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class HubStore:
    """The hub's database, migrated to the newest schema when opened."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- writing -------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        """An INSERT that can say ON CONFLICT DO UPDATE (both dialects spell it the same)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def register_run(self, run_id: str, data: dict[str, Any]) -> None:
        """Create the run, or update what ``data`` says about it (keys not given keep their value)."""
        now = time.time()
        values = {key: value for key, value in data.items() if key != "spec"}
        if "spec" in data:
            values["spec_text"] = data["spec"]
            values["spec_hash"] = hashlib.sha256(data["spec"].encode()).hexdigest() if data["spec"] else None
        values["updated"] = now
        first = {"id": run_id, "state": "running", "listed_at": data.get("started") or now, **values}
        changes = dict(values)
        if data.get("started"):
            changes["listed_at"] = data["started"]
        statement = self._insert(runs).values(**first)
        statement = statement.on_conflict_do_update(index_elements=[runs.c.id], set_=changes)
        with self.engine.begin() as connection:
            connection.execute(statement)

    def _need_run(self, connection: Any, run_id: str, hint: str = "") -> None:
        if connection.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
            raise NotFound(f"no run {run_id!r}{hint}")

    def upsert_nodes(self, run_id: str, batch: Iterable[dict[str, Any]]) -> int:
        """Insert or replace nodes by (run, path); returns how many."""
        # A node sent again updates only the keys it has: a live run first says a job
        # started, later how it ended, and the second must not erase the start time.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        count = 0
        for item in batch:
            row = {column: item[key] for key, column in NODE_COLUMNS.items() if key in item}
            row.update(run_id=run_id, parent=item.get("parent"))
            for key in ("position", "first_errors"):
                if key in item:
                    row[key] = item[key]
            groups.setdefault(tuple(sorted(row)), []).append(row)
            count += 1
        if not count:
            return 0
        with self.engine.begin() as connection:
            self._need_run(connection, run_id, f": register it first (PUT /api/ingest/runs/{run_id})")
            for keys, rows in groups.items():
                statement = self._insert(nodes)
                changes = {name: statement.excluded[name] for name in keys if name not in ("run_id", "path")}
                if "position" not in keys:
                    for row in rows:
                        row["position"] = 0  # a new node's place until a full node says otherwise
                statement = statement.on_conflict_do_update(index_elements=[nodes.c.run_id, nodes.c.path],
                                                            set_=changes)
                connection.execute(statement, rows)
            connection.execute(update(runs).where(runs.c.id == run_id).values(updated=time.time()))
        return count

    def add_job_data(self, run_id: str, jobs: list[dict[str, Any]]) -> int:
        """Keep jobs' messages (``[seq, time, severity, text]`` rows, seq being the id in the
        job's store, so sending a row twice keeps one) and details (``attrs``, ``samples``).
        Returns how many messages came."""
        rows = [{"run_id": run_id, "path": job["path"], "seq": seq, "time": ts, "severity": severity,
                 "text": text} for job in jobs for seq, ts, severity, text in job.get("messages") or ()]
        extra = [{"run_id": run_id, "path": job["path"], "attrs": job.get("attrs"), "samples": job.get("samples")}
                 for job in jobs if "attrs" in job or "samples" in job]
        with self.engine.begin() as connection:
            self._need_run(connection, run_id, f": register it first (PUT /api/ingest/runs/{run_id})")
            if rows:
                insert = self._insert(messages).on_conflict_do_nothing(
                    index_elements=[messages.c.run_id, messages.c.path, messages.c.seq])
                connection.execute(insert, rows)
            if extra:
                insert = self._insert(details)
                insert = insert.on_conflict_do_update(
                    index_elements=[details.c.run_id, details.c.path],
                    set_={"attrs": insert.excluded.attrs, "samples": insert.excluded.samples})
                connection.execute(insert, extra)
        return len(rows)

    def set_readable(self, run_id: str, readable: bool) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(runs).where(runs.c.id == run_id).values(readable=readable))

    def finish_run(self, run_id: str, data: dict[str, Any]) -> None:
        """Record the end: result, counts, stopped time and state (finished unless said otherwise)."""
        values = {key: data[key] for key in ("result", "jobs", "stopped") if key in data}
        values["state"] = data.get("state") or ("interrupted" if data.get("result") == "cancelled" else "finished")
        values["updated"] = time.time()
        if values.get("stopped") is None:
            values["stopped"] = values["updated"]
        with self.engine.begin() as connection:
            self._need_run(connection, run_id, f": register it first (PUT /api/ingest/runs/{run_id})")
            connection.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def prune(self, older_than_seconds: float, now: float | None = None) -> int:
        """Delete runs (and their nodes) that ended before ``now - older_than_seconds``;
        runs that have not ended are kept whatever their age.  Returns how many runs went."""
        return len(self.prune_ids(older_than_seconds, now))

    def prune_ids(self, older_than_seconds: float, now: float | None = None) -> list[str]:
        """:meth:`prune`, returning the ids of the runs removed."""
        cutoff = (time.time() if now is None else now) - older_than_seconds
        old = select(runs.c.id).where(runs.c.stopped.is_not(None), runs.c.stopped < cutoff)
        with self.engine.connect() as connection:
            ids = [row.id for row in connection.execute(old)]
        # A transaction per few runs: SQLite has one writer, and a live run's reporter
        # must not wait behind a year of deletions (its requests time out after 5 s).
        for start in range(0, len(ids), PRUNE_CHUNK):
            chunk = ids[start:start + PRUNE_CHUNK]
            with self.engine.begin() as connection:
                for table in (messages, details, nodes):
                    connection.execute(delete(table).where(table.c.run_id.in_(chunk)))
                connection.execute(delete(runs).where(runs.c.id.in_(chunk)))
        return ids

    # -- reading -------------------------------------------------------------------

    def list_runs(self, *, limit: int = 50, before: str | None = None, offset: int = 0,
                  spec: str | None = None, user: str | None = None, result: str | None = None
                  ) -> list[dict[str, Any]]:
        """Runs newest first.  ``before`` is a run id: the page starts after it (a cursor
        that does not shift when new runs arrive)."""
        query = select(*(runs.c[name] for name in RUN_FIELDS), runs.c.listed_at)
        if spec is not None:
            query = query.where(runs.c.spec_name == spec)
        if user is not None:
            query = query.where(runs.c.user == user)
        if result is not None:
            query = query.where(runs.c.result == result)
        with self.engine.connect() as connection:
            if before is not None:
                mark = connection.execute(select(runs.c.listed_at).where(runs.c.id == before)).first()
                if mark is None:
                    raise BadRequest(f"before: no run {before!r}")
                query = query.where(or_(runs.c.listed_at < mark.listed_at,
                                        and_(runs.c.listed_at == mark.listed_at, runs.c.id < before)))
            query = query.order_by(runs.c.listed_at.desc(), runs.c.id.desc()).limit(limit).offset(offset)
            return [{name: row._mapping[name] for name in RUN_FIELDS} for row in connection.execute(query)]

    def count_runs(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(runs)).scalar_one())

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run's own record (everything but the tree)."""
        with self.engine.connect() as connection:
            row = connection.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        record = dict(row._mapping)
        record.pop("listed_at")
        return record

    def get_tree(self, run_id: str) -> dict[str, Any] | None:
        """The run's nodes as one tree, each node in the shape of ``gator show --json``;
        None when no node has arrived yet."""
        with self.engine.connect() as connection:
            self._need_run(connection, run_id)
            rows = connection.execute(select(nodes).where(nodes.c.run_id == run_id)).all()
        children: dict[str | None, list[Any]] = {}
        for row in rows:
            children.setdefault(row.parent, []).append(row)
        for siblings in children.values():
            siblings.sort(key=lambda row: (row.position, row.path))

        def build(row: Any) -> dict[str, Any]:
            item = {key: row._mapping[column] for key, column in NODE_COLUMNS.items()}
            item["children"] = [build(child) for child in children.get(row.path, [])]
            return item

        tops = children.get(None, [])
        return build(tops[0]) if tops else None
