"""Read-only queries behind the hub's pages and their JSON: the run list with search,
a run's tree one page of a group at a time, its failures, two runs side by side, a
job across runs, and a job's own data (messages, attributes, samples) from wherever
it is kept.

:class:`~gator_hub.store.hubstore.HubStore` writes; this module only reads, through
the store's engine and the tables of :mod:`gator_hub.store.schema`.  Each function
is one or two indexed queries, never one per row: a run of 10,000 jobs and a hub of
thousands of runs must stay fast.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from sqlalchemy import Text, and_, case, cast, func, or_, select

from gator_core import GatorError, Result, Severity, StoreReader
from gator_hub.errors import BadRequest, NotFound
from gator_hub.store.hubstore import RUN_FIELDS, HubStore
from gator_hub.store.schema import details, messages, nodes, runs

__all__ = ["FAILED", "NO_MESSAGE", "NODE_FIELDS", "contains", "RunFilter", "search_runs", "runs_by_id",
           "spec_names", "top_node", "get_node", "children", "first_children", "child_counts", "failed_jobs",
           "failure_texts", "job_results", "previous_run", "history", "Message", "JobData", "StoredJobData",
           "UploadedJobData", "job_data", "job_directory"]

FAILED = tuple(result.value for result in Result if result.failed)  # fail, lost, timeout: on every page
NO_MESSAGE = "failed without a message"  # what a failure with no error and no reason says (as gator show)
# What a page shows of a node (all but the tracking paths and the log).
NODE_FIELDS = ("path", "parent", "position", "node_id", "kind", "result", "reason", "exit_code", "started",
               "stopped", "duration", "peak_memory", "messages", "jobs", "metrics", "first_errors")
_NODE_COLUMNS = [nodes.c[name] for name in NODE_FIELDS]


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]


def contains(column: Any, text: str) -> Any:
    """``column`` holds ``text``, any case; LIKE's wildcards in ``text`` are meant literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


# -- runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFilter:
    """What the run list is narrowed to.  Each word of ``text`` must be found (any case) in
    the spec name, spec file, user, host or command line; ``since``/``until`` bound the
    start (seconds since the epoch, ``until`` excluded)."""

    spec: str | None = None
    user: str | None = None
    result: str | None = None
    text: str | None = None
    since: float | None = None
    until: float | None = None

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        for column, value in ((runs.c.spec_name, self.spec), (runs.c.user, self.user),
                              (runs.c.result, self.result)):
            if value:
                found.append(column == value)
        if self.since is not None:
            found.append(runs.c.listed_at >= self.since)
        if self.until is not None:
            found.append(runs.c.listed_at < self.until)
        searched = (runs.c.spec_name, runs.c.spec_file, runs.c.user, runs.c.host, cast(runs.c.argv, Text))
        for word in (self.text or "").split()[:10]:  # every word, each in any of them
            found.append(or_(*(contains(column, word) for column in searched)))
        return found

    @property
    def narrowed(self) -> bool:
        return any(value not in (None, "") for value in vars(self).values())


def search_runs(store: HubStore, filters: RunFilter, *, limit: int = 50, before: str | None = None
                ) -> list[dict[str, Any]]:
    """Runs newest first, as :meth:`HubStore.list_runs` gives them (plus ``listed_at``),
    narrowed by ``filters``; ``before`` is the id of the last run of the previous page."""
    query = select(*(runs.c[name] for name in RUN_FIELDS), runs.c.listed_at).where(*filters.conditions())
    with store.engine.connect() as connection:
        if before:
            mark = connection.execute(select(runs.c.listed_at).where(runs.c.id == before)).first()
            if mark is None:
                raise BadRequest(f"before: no run {before!r}")
            query = query.where(or_(runs.c.listed_at < mark.listed_at,
                                    and_(runs.c.listed_at == mark.listed_at, runs.c.id < before)))
        query = query.order_by(runs.c.listed_at.desc(), runs.c.id.desc()).limit(limit)
        return _rows(connection.execute(query))


def runs_by_id(store: HubStore, ids: list[str]) -> list[dict[str, Any]]:
    """The runs among ``ids`` that exist, as :func:`search_runs` gives them."""
    if not ids:
        return []
    query = select(*(runs.c[name] for name in RUN_FIELDS), runs.c.listed_at).where(runs.c.id.in_(ids))
    with store.engine.connect() as connection:
        return _rows(connection.execute(query))


def spec_names(store: HubStore, limit: int = 500) -> list[str]:
    """The spec names runs were made of, for the filter's suggestions (ix_runs_spec)."""
    query = (select(runs.c.spec_name).where(runs.c.spec_name.is_not(None)).distinct()
             .order_by(runs.c.spec_name).limit(limit))
    with store.engine.connect() as connection:
        return [row.spec_name for row in connection.execute(query)]


# -- one run's tree ----------------------------------------------------------------


def _failed_first() -> Any:
    """Failures, then what is still going, then the rest: the order children are listed in."""
    return case((nodes.c.result.in_(FAILED), 0), (nodes.c.result.in_(("running", "pending")), 1), else_=2)


def top_node(store: HubStore, run_id: str) -> dict[str, Any] | None:
    query = select(*_NODE_COLUMNS, nodes.c.tracking).where(nodes.c.run_id == run_id, nodes.c.parent.is_(None))
    with store.engine.connect() as connection:
        row = connection.execute(query.limit(1)).first()
    return dict(row._mapping) if row else None


def get_node(store: HubStore, run_id: str, path: str) -> dict[str, Any]:
    """Every column of one node (its primary key), or :class:`NotFound`."""
    with store.engine.connect() as connection:
        row = connection.execute(select(nodes).where(nodes.c.run_id == run_id, nodes.c.path == path)).first()
    if row is None:
        raise NotFound(f"run {run_id!r} has no node {path!r}")
    return dict(row._mapping)


def children(store: HubStore, run_id: str, parent: str, *, offset: int = 0, limit: int = 200
             ) -> tuple[list[dict[str, Any]], int]:
    """One page of a node's children, failed first, and how many children it has."""
    where = (nodes.c.run_id == run_id, nodes.c.parent == parent)
    query = (select(*_NODE_COLUMNS).where(*where)
             .order_by(_failed_first(), nodes.c.position, nodes.c.path).offset(offset).limit(limit))
    with store.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(nodes).where(*where)).scalar_one()
        return _rows(connection.execute(query)), int(total)


def first_children(store: HubStore, run_id: str, parents: list[str], per_parent: int
                   ) -> dict[str, list[dict[str, Any]]]:
    """The first ``per_parent`` children (failed first) of each of ``parents``, in one query."""
    if not parents:
        return {}
    rank = func.row_number().over(partition_by=nodes.c.parent,
                                  order_by=(_failed_first(), nodes.c.position, nodes.c.path)).label("rank")
    inner = select(*_NODE_COLUMNS, rank).where(nodes.c.run_id == run_id, nodes.c.parent.in_(parents)).subquery()
    query = select(inner).where(inner.c.rank <= per_parent).order_by(inner.c.parent, inner.c.rank)
    found: dict[str, list[dict[str, Any]]] = {parent: [] for parent in parents}
    with store.engine.connect() as connection:
        for row in _rows(connection.execute(query)):
            row.pop("rank")
            found[row["parent"]].append(row)
    return found


def child_counts(store: HubStore, run_id: str, parents: list[str]) -> dict[str, int]:
    """How many children each of ``parents`` has (ix_nodes_parent)."""
    if not parents:
        return {}
    query = (select(nodes.c.parent, func.count().label("count"))
             .where(nodes.c.run_id == run_id, nodes.c.parent.in_(parents)).group_by(nodes.c.parent))
    with store.engine.connect() as connection:
        counts = {row.parent: int(row.count) for row in connection.execute(query)}
    return {parent: counts.get(parent, 0) for parent in parents}


def failed_jobs(store: HubStore, run_id: str, limit: int = 200) -> tuple[list[dict[str, Any]], int]:
    """The run's failed and lost jobs by path (ix_nodes_result), and how many there are."""
    where = (nodes.c.run_id == run_id, nodes.c.result.in_(FAILED), nodes.c.kind == "job")
    with store.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(nodes).where(*where)).scalar_one()
        rows = _rows(connection.execute(select(*_NODE_COLUMNS).where(*where).order_by(nodes.c.path).limit(limit)))
    return rows, int(total)


def failure_texts(store: HubStore, run_id: str) -> Iterator[tuple[str, str]]:
    """``(path, first error)`` of each failed or lost job: its first error message, else
    the reason it failed, else nothing."""
    query = (select(nodes.c.path, nodes.c.first_errors, nodes.c.reason)
             .where(nodes.c.run_id == run_id, nodes.c.result.in_(FAILED), nodes.c.kind == "job")
             .order_by(nodes.c.path))
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    for row in rows:
        errors = row.first_errors if isinstance(row.first_errors, list) else []
        first = errors[0] if errors and isinstance(errors[0], str) else None
        yield row.path, first or row.reason or NO_MESSAGE


# -- across runs --------------------------------------------------------------------


def job_results(store: HubStore, run_id: str) -> dict[str, tuple[str, float | None]]:
    """Every job of a run: path -> (result, duration)."""
    query = select(nodes.c.path, nodes.c.result, nodes.c.duration).where(nodes.c.run_id == run_id,
                                                                        nodes.c.kind == "job")
    with store.engine.connect() as connection:
        return {row.path: (row.result, row.duration) for row in connection.execute(query)}


def previous_run(store: HubStore, run_id: str) -> str | None:
    """The newest run of the same spec that started before ``run_id`` (ix_runs_spec)."""
    with store.engine.connect() as connection:
        mark = connection.execute(select(runs.c.spec_name, runs.c.listed_at).where(runs.c.id == run_id)).first()
        if mark is None:
            raise NotFound(f"no run {run_id!r}")
        if mark.spec_name is None:
            return None
        query = (select(runs.c.id)
                 .where(runs.c.spec_name == mark.spec_name,
                        or_(runs.c.listed_at < mark.listed_at,
                            and_(runs.c.listed_at == mark.listed_at, runs.c.id < run_id)))
                 .order_by(runs.c.listed_at.desc(), runs.c.id.desc()).limit(1))
        row = connection.execute(query).first()
    return row.id if row else None


def history(store: HubStore, spec: str, path: str, limit: int = 100) -> list[dict[str, Any]]:
    """The last ``limit`` runs of ``spec``, oldest first, each with how the node ``path``
    went in it (None when that run had no such node): one query over ix_runs_spec, joined
    to nodes by their primary key."""
    newest = (select(runs.c.id, runs.c.listed_at, runs.c.started, runs.c.state, runs.c.result)
              .where(runs.c.spec_name == spec).order_by(runs.c.listed_at.desc(), runs.c.id.desc())
              .limit(limit).subquery())
    query = (select(newest.c.id.label("run"), newest.c.listed_at, newest.c.started, newest.c.state,
                    newest.c.result.label("run_result"), nodes.c.result, nodes.c.duration, nodes.c.peak_memory)
             .select_from(newest.outerjoin(nodes, and_(nodes.c.run_id == newest.c.id, nodes.c.path == path)))
             .order_by(newest.c.listed_at, newest.c.id))
    with store.engine.connect() as connection:
        return _rows(connection.execute(query))


# -- a job's own data ----------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One line a job logged; ``seq`` is its id in the job's store (increasing)."""

    seq: int
    time: float
    severity: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, "severity": self.severity,
                "level": Severity.of(self.severity).key, "text": self.text}


class JobData(Protocol):
    """What a job page reads beyond the node: the same questions, wherever the answers live."""

    def attrs(self) -> dict[str, Any]: ...

    def metrics(self) -> dict[str, Any] | None: ...

    def samples(self) -> list[tuple[float, float | None, int | None, int | None]]: ...

    def messages(self, *, after: int = 0, min_severity: int = 0, text: str | None = None,
                 limit: int = 500) -> list[Message]: ...


def _matches(text: str | None) -> Any:
    needle = text.casefold() if text else None
    return lambda message: needle is None or needle in message.casefold()


class StoredJobData:
    """A job's data read from its own store (``runs.readable``): complete and current while
    the job runs.  Each call opens the store read-only and closes it again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _read(self, what: Any) -> Any:
        try:
            with StoreReader(self.directory) as reader:
                return what(reader)
        except (GatorError, ValueError, OSError):
            return None  # gone, or not written yet: the page shows what the hub has

    def attrs(self) -> dict[str, Any]:
        return self._read(lambda reader: reader.attrs()) or {}

    def metrics(self) -> dict[str, Any] | None:
        return self._read(lambda reader: reader.metrics())

    def samples(self) -> list[tuple[float, float | None, int | None, int | None]]:
        return [tuple(row) for row in self._read(lambda reader: reader.samples()) or []]

    def messages(self, *, after: int = 0, min_severity: int = 0, text: str | None = None,
                 limit: int = 500) -> list[Message]:
        wanted = _matches(text)

        def read(reader: StoreReader) -> list[Message]:
            # a text filter is applied here, so SQLite's LIMIT can only be used without one
            rows = reader.messages(min_severity, None if text else limit, after=after)
            found = (row for row in rows if wanted(row[3]))
            return [Message(row[0], row[1], row[2], row[3]) for row in itertools.islice(found, limit)]

        return self._read(read) or []


class UploadedJobData:
    """A job's data as the run uploaded it (``POST /api/ingest/runs/{id}/jobs``): the hub's
    ``messages`` and ``details`` tables, for runs whose directory the hub cannot read."""

    def __init__(self, store: HubStore, run_id: str, path: str) -> None:
        self.store, self.run_id, self.path = store, run_id, path

    def _details(self) -> Any:
        query = select(details.c.attrs, details.c.samples).where(details.c.run_id == self.run_id,
                                                                  details.c.path == self.path)
        with self.store.engine.connect() as connection:
            return connection.execute(query).first()

    def attrs(self) -> dict[str, Any]:
        row = self._details()
        return row.attrs if row is not None and isinstance(row.attrs, dict) else {}

    def metrics(self) -> dict[str, Any] | None:
        return None  # the node's own metrics are all the hub has

    def samples(self) -> list[tuple[float, float | None, int | None, int | None]]:
        row = self._details()
        found = row.samples if row is not None and isinstance(row.samples, list) else []
        return [tuple(item[:4]) for item in found if isinstance(item, list) and len(item) >= 4]

    def messages(self, *, after: int = 0, min_severity: int = 0, text: str | None = None,
                 limit: int = 500) -> list[Message]:
        query = select(messages.c.seq, messages.c.time, messages.c.severity, messages.c.text).where(
            messages.c.run_id == self.run_id, messages.c.path == self.path, messages.c.seq > after)
        if min_severity:
            query = query.where(messages.c.severity >= min_severity)
        if text:
            query = query.where(contains(messages.c.text, text))
        with self.store.engine.connect() as connection:
            rows = connection.execute(query.order_by(messages.c.seq).limit(limit))
            return [Message(int(row.seq), row.time, row.severity, row.text) for row in rows]


def job_directory(run_tracking: str | None, top_tracking: str | None, node_tracking: str | None
                  ) -> Path | None:
    """Where a node's store is on this machine: the node's tracking directory taken
    relative to the top node's, under the run's (absolute) tracking directory.  A node's
    own path may be relative to wherever the run was pushed from; ``..`` is refused."""
    if not run_tracking or not node_tracking:
        return None
    node = PurePosixPath(node_tracking)
    if top_tracking:
        try:
            node = node.relative_to(PurePosixPath(top_tracking))
        except ValueError:
            pass
    if node.is_absolute():
        return Path(node) if node.is_relative_to(run_tracking) else None
    if ".." in node.parts:
        return None
    return Path(run_tracking) / node


def job_data(store: HubStore, run: dict[str, Any], node: dict[str, Any], top_tracking: str | None) -> JobData:
    """The job's own store when the hub can read the run's directory, else what was uploaded."""
    if run.get("readable"):
        directory = job_directory(run.get("tracking"), top_tracking, node.get("tracking"))
        if directory is not None and directory.is_dir():
            return StoredJobData(directory)
    return UploadedJobData(store, run["id"], node["path"])
