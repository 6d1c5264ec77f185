"""A run's tracking directory as what the hub ingests: the run's record, its nodes
(``gator show --json``'s node objects without ``children``, plus ``parent``), and
its end.

Everything comes from gator_core's public API: the tree from ``load_results``,
and what a tree does not hold (the run id, command line, scheduler; the first
error messages of a failed job) from the stores through ``StoreReader``.
"""

from __future__ import annotations

import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gator_core import GatorError, NodeResult, Result, Severity, StoreReader, load_results
from gator_hub.errors import BadTracking, PushError

__all__ = ["FIRST_ERRORS", "RunUpload", "read_tracking", "holds_run", "first_errors", "job_data", "MESSAGE_CHUNK"]

DB_NAME = "db.sqlite"
FIRST_ERRORS = 5  # error and critical messages kept per failed node


@dataclass
class RunUpload:
    """Everything one push sends."""

    run_id: str
    run: dict[str, Any]
    nodes: list[dict[str, Any]]
    end: dict[str, Any] | None  # None while the run has not ended


def _attrs(directory: Path) -> dict[str, Any]:
    try:
        with StoreReader(directory) as store:
            return store.attrs()
    except (GatorError, ValueError) as exc:  # ValueError: an attribute that is not JSON
        raise PushError(f"cannot read {directory / DB_NAME}: {exc}") from None


def first_errors(directory: Path) -> list[str]:
    if not (directory / DB_NAME).exists():
        return []
    try:
        with StoreReader(directory) as store:
            return [row[3] for row in store.messages(int(Severity.ERROR), limit=FIRST_ERRORS)]
    except GatorError:
        return []  # a store that cannot be read: the node is still worth sending


def _owner(path: Path) -> str | None:
    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (OSError, KeyError):
        return None


def _nodes(top: NodeResult) -> list[dict[str, Any]]:
    """Parents before children, each with its position among its siblings."""
    out: list[dict[str, Any]] = []
    stack: list[tuple[NodeResult, str | None, int]] = [(top, None, 0)]
    while stack:
        node, parent, position = stack.pop()
        item = node.to_json()
        item.pop("children")
        item.update(parent=parent, position=position)
        item["result"] = str(item["result"])
        if Result(node.result).failed:
            errors = first_errors(Path(node.tracking))
            if errors:
                item["first_errors"] = errors
        out.append(item)
        stack.extend((child, node.path, index) for index, child in reversed(list(enumerate(node.children))))
    return out


def read_tracking(tracking: str | Path) -> RunUpload:
    """Read the run in ``tracking`` (a run's own directory)."""
    directory = Path(tracking)
    if not directory.is_dir():
        raise BadTracking(f"{directory} is not a directory")
    if not (directory / DB_NAME).exists():
        raise BadTracking(f"{directory} is not a Gator tracking directory (no {DB_NAME})")
    try:
        top = load_results(directory)
    except GatorError as exc:
        raise BadTracking(f"cannot read the run in {directory}: {exc}") from None
    attrs = _attrs(directory)
    run_id = attrs.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise BadTracking(f"{directory} has no run id: is it the top of a run?")
    settings = attrs.get("run") if isinstance(attrs.get("run"), dict) else {}
    owner = attrs.get("owner") if isinstance(attrs.get("owner"), dict) else {}
    spec_file = directory / "spec.yaml"
    try:
        spec = spec_file.read_text(encoding="utf-8")
    except OSError:
        spec = None
    argv = attrs.get("argv")
    run = {
        "spec": spec,
        "spec_file": attrs.get("spec_file") if isinstance(attrs.get("spec_file"), str) else None,
        "spec_name": top.id,
        "user": _owner(directory / DB_NAME),
        "host": owner.get("host") if isinstance(owner.get("host"), str) else None,
        "argv": [str(arg) for arg in argv] if isinstance(argv, list) else None,
        "scheduler": settings.get("scheduler") if isinstance(settings.get("scheduler"), str) else None,
        "seed": top.seed,
        "tracking": str(directory.resolve()),
        "started": top.started,
    }
    end = None
    if Result(top.result).final:
        interrupted = top.gone or top.result == Result.CANCELLED
        end = {"result": str(top.result), "jobs": dict(top.jobs), "stopped": top.stopped,
               "state": "interrupted" if interrupted else "finished"}
    return RunUpload(run_id=run_id, run=run, nodes=_nodes(top), end=end)




def holds_run(tracking: str | None, run_id: str) -> bool:
    """Whether this machine can read the run ``run_id`` in ``tracking``: its top store
    opens and holds that run id (a path that exists here but is another run's, or
    another machine's, does not count)."""
    if not tracking:
        return False
    directory = Path(tracking)
    try:
        if not (directory / DB_NAME).is_file():
            return False
        with StoreReader(directory) as store:
            return store.attrs().get("run_id") == run_id
    except (GatorError, ValueError, OSError):
        return False


MESSAGE_CHUNK = 50_000  # message rows read (and sent) at a time


def job_data(directory: Path, path: str, after: int = 0, *, details: bool = True) -> tuple[dict[str, Any], int]:
    """What the hub keeps of a job it cannot read itself: its messages after the one
    with id ``after`` (at most MESSAGE_CHUNK), and with ``details`` its attributes and
    CPU/memory samples.  Returns the payload and the last message id in it."""
    item: dict[str, Any] = {"path": path}
    last = after
    if not (directory / DB_NAME).exists():
        return item, last
    try:
        with StoreReader(directory) as store:
            rows = [[row[0], row[1], row[2], row[3]] for row in store.messages(after=after, limit=MESSAGE_CHUNK)]
            if details:
                item["attrs"] = store.attrs()
                item["samples"] = [list(sample) for sample in store.samples()]
    except (GatorError, ValueError):
        return item, last
    if rows:
        item["messages"] = rows
        last = rows[-1][0]
    return item, last

