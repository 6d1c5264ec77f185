"""The result tree of a run, read back from its tracking directory.

``gator show``, ``gator run``'s summary and the Python API's ``run()`` all
read results here, from the stores, so that a finished run and one still
going look the same.  A tier's store holds a row per child; a group or array
child is read from its own store, a job from its parent's row (which carries
its final summary), so a large array is read without opening every job's
database.

``NodeResult.to_json()`` is the stable contract of ``gator show --json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gator_core.exceptions import GatorError, StoreError
from gator_core.states import FAILURES, Result
from gator_core.store.liveness import run_gone
from gator_core.store.nodestore import DB_NAME, LOG_NAME, StoreReader
from gator_core.store.summary import FINAL_RESULTS, empty_jobs, empty_messages

__all__ = ["NodeResult", "as_result", "find_run", "load_results", "load_overview", "iter_jobs", "walk_results",
           "find_node"]


def as_result(value: object) -> Result:
    """A stored result as a :class:`Result`; what is not one yet (a child only launched,
    or nothing) is pending."""
    try:
        return Result(value)
    except ValueError:
        return Result.PENDING


@dataclass
class NodeResult:
    """One node of a run: what it was, how it ended, and its children."""

    id: str
    path: str
    kind: str  # job, group or array
    result: Result
    exit_code: int | None = None
    reason: str | None = None
    messages: dict[str, int] = field(default_factory=empty_messages)
    jobs: dict[str, int] = field(default_factory=empty_jobs)
    metrics: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    stopped: float | None = None
    tracking: str = ""
    native_id: str | None = None
    host: str | None = None
    seed: int | None = None  # jobs: their GATOR_SEED
    children: list[NodeResult] = field(default_factory=list)
    # A retried job's earlier attempts, oldest first (attempt, result, reason, exit_code,
    # started, stopped, tracking, retried_for); None when it ran once.
    attempts: list[dict[str, Any]] | None = None
    # A job's declared artefacts: name -> {"pattern", "files": [{"path", "size", "sha256"}]}.
    artefacts: dict[str, dict[str, Any]] | None = None
    gone: bool = False  # the top of a run whose `gator run` died (its reason says when)

    @property
    def duration(self) -> float | None:
        if self.started and self.stopped:
            return max(0.0, self.stopped - self.started)
        return None

    @property
    def peak_memory(self) -> float | None:
        value = self.metrics.get("peak_memory")
        if isinstance(value, dict):
            return value.get("max")
        return value

    @property
    def attempt_count(self) -> int:
        """How many attempts the job took (1 when it was not retried)."""
        return len(self.attempts or ()) + 1

    @property
    def log(self) -> str:
        return str(Path(self.tracking) / LOG_NAME)

    def walk(self) -> Iterator[NodeResult]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def jobs_only(self) -> Iterator[NodeResult]:
        return (node for node in self.walk() if node.kind == "job")

    def find(self, path: str) -> NodeResult | None:
        for node in self.walk():
            if node.path == path:
                return node
        return None

    def to_json(self) -> dict[str, Any]:
        return {**self.own_json(), "children": [child.to_json() for child in self.children]}

    def own_json(self) -> dict[str, Any]:
        """:meth:`to_json` without ``children`` (which comes last in it)."""
        return {
            "id": self.id,
            "path": self.path,
            "kind": self.kind,
            "result": self.result,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "messages": dict(self.messages),
            "jobs": dict(self.jobs),
            "metrics": self.metrics,
            "started": self.started,
            "stopped": self.stopped,
            "duration": self.duration,
            "peak_memory": self.peak_memory,
            "tracking": self.tracking,
            "log": self.log,
            "native_id": self.native_id,
            "host": self.host,
            "seed": self.seed,
            "attempts": self.attempts,
            "artefacts": self.artefacts,
        }


def _from_summary(node: NodeResult, summary: dict[str, Any]) -> None:
    node.result = as_result(summary.get("result") or node.result)
    node.exit_code = summary.get("exit_code")
    node.reason = summary.get("reason")
    node.messages = {**empty_messages(), **(summary.get("messages") or {})}
    node.jobs = {**empty_jobs(), **(summary.get("jobs") or {})}
    node.metrics = summary.get("metrics") or {}
    node.started = summary.get("started")
    node.stopped = summary.get("stopped")
    node.seed = summary.get("seed", node.seed)
    node.attempts = summary.get("attempts") or None
    node.artefacts = summary.get("artefacts") or None


@dataclass(frozen=True)
class _Ended:
    """Why what is unfinished below a node that ended counts as lost.  When the whole
    run is gone, that reason replaces whatever an unfinished node last said."""

    reason: str
    overrides: bool = False

    @classmethod
    def of(cls, node: NodeResult) -> _Ended | None:
        if node.result not in FINAL_RESULTS:
            return None
        if node.gone:
            return cls(node.reason or "lost", True)
        return cls(f"{node.path} ended ({node.result})")

    def apply(self, node: NodeResult) -> None:
        if node.result not in FINAL_RESULTS:
            node.result = Result.LOST
            node.reason = self.reason if self.overrides else (node.reason or self.reason)
            _unfinished_lost(node)


def _unfinished_lost(node: NodeResult) -> None:
    """A tier's counts once nothing below it can still run: its running and pending jobs
    were lost."""
    jobs = node.jobs
    jobs["lost"] = jobs.get("lost", 0) + jobs.get("running", 0) + jobs.get("pending", 0)
    jobs["running"] = jobs["pending"] = 0


def _settle(node: NodeResult, ended: _Ended) -> None:
    """Below a node that ended, nothing can still be running: it was lost with it."""
    for child in node.children:
        ended.apply(child)
        _settle(child, ended)


def _tier_node(directory: Path, attrs: dict[str, Any], row: dict[str, Any] | None) -> NodeResult:
    """A tier as its own store describes it, corrected by its parent's row."""
    node = NodeResult(id=attrs.get("id", directory.name), path=attrs.get("path", directory.name),
                      kind=attrs.get("kind", "group"), result=Result.RUNNING, tracking=str(directory))
    _from_summary(node, attrs.get("summary") or {})
    if attrs.get("result"):
        node.result = as_result(attrs["result"])
    if row is None:
        node.seed = attrs.get("seed")  # the top node: the run's seed
        gone = run_gone(attrs)
        if gone is not None:  # `gator run` died without a final word: nothing below runs on
            node.result, node.reason, node.gone = Result.LOST, gone, True
            _unfinished_lost(node)
    else:
        node.native_id, node.host = row.get("native_id"), row.get("host")
        if row.get("result") in FINAL_RESULTS and row.get("summary"):
            # The parent's word is final (for example: this tier was lost).
            _from_summary(node, row["summary"])
    return node


class _SpecIndex:
    """The run's spec (``spec.yaml`` at the top of the tracking directory), to name
    the jobs of groups and arrays that never started and so have no store."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._root: Any = None
        self._loaded = False
        self.seed: int | None = None

    def children(self, path: str) -> list[tuple[str, str]]:
        """(key, kind) of each child of the node at ``path``; [] when unknown."""
        from gator_core.spec import Job, JobGroup, expand_children, iter_children, kind_of, loads_spec, root_path

        if not self._loaded:
            self._loaded = True
            try:
                root = loads_spec((self.top / "spec.yaml").read_text(encoding="utf-8"))
                self._root = JobGroup(id="root", jobs=[root]) if isinstance(root, Job) else root
                with StoreReader(self.top) as store:
                    self.seed = store.attrs().get("seed")
            except (OSError, GatorError):
                self._root = None
        node = self._root
        if node is None:
            return []
        head, *rest = path.split(".")
        if head != root_path(node):
            return []
        for part in rest:
            if isinstance(node, Job):
                return []
            match = next((child for key, _, _, child in iter_children(node) if key == part), None)
            if match is None:
                return []
            node = match
        if isinstance(node, Job):
            return []
        return [(key, kind_of(child)) for key, _, _, child in expand_children(node)]


def _unstarted(index: _SpecIndex, tier: NodeResult) -> None:
    """Fill in the children of a group or array that never started, from the spec:
    every job below it shares its result (skipped, lost, cancelled, pending) and reason."""
    shared = (Result.SKIPPED, Result.LOST, Result.CANCELLED, Result.FAIL)
    result = tier.result if tier.result in shared else Result.PENDING
    for key, kind in index.children(tier.path):
        child = NodeResult(id=key, path=f"{tier.path}.{key}", kind=kind, result=result, reason=tier.reason,
                           tracking=str(Path(tier.tracking) / key))
        if kind != "job":
            _unstarted(index, child)
        elif index.seed is not None:
            from gator_core.config import job_seed

            child.seed = job_seed(index.seed, child.path)
        tier.children.append(child)


def _row_node(parent_dir: Path, row: dict[str, Any], index: _SpecIndex) -> NodeResult:
    """A child as its parent's row describes it: a job, or a group or array that never
    started (its subtree then comes from the spec)."""
    directory = parent_dir / row["key"]
    node = NodeResult(id=row.get("id", row["key"]), path=row.get("path", row["key"]), kind=row["kind"],
                      result=as_result(row.get("result")), tracking=str(directory),
                      native_id=row.get("native_id"), host=row.get("host"))
    node.seed = row.get("seed")
    if row.get("summary"):
        _from_summary(node, row["summary"])
    if row.get("state") == "pending":
        node.result = Result.PENDING
    if row.get("pending_reason") and node.result == Result.PENDING:
        node.reason = row["pending_reason"]
    if node.kind != "job":
        _unstarted(index, node)
    return node


def _walk_tier(directory: Path, row: dict[str, Any] | None, index: _SpecIndex, depth: int,
               inherited: _Ended | None) -> Iterator[tuple[int, NodeResult, bool]]:
    with StoreReader(directory) as store:
        node = _tier_node(directory, store.attrs(), row)
        # What is unfinished below a node that ended by itself was lost with it; the
        # nearest such node names the reason.
        ended = _Ended.of(node) or inherited
        if inherited is not None:
            inherited.apply(node)
        yield depth, node, False
        for child_row in store.iter_children():
            child_dir = directory / child_row["key"]
            if child_row["kind"] != "job" and (child_dir / DB_NAME).exists():
                try:
                    with StoreReader(child_dir) as child_store:
                        child_store.attrs()
                except StoreError:
                    pass  # unreadable: its parent's row stands for it
                else:
                    yield from _walk_tier(child_dir, child_row, index, depth + 1, ended)
                    continue
            child = _row_node(directory, child_row, index)
            if ended is not None:
                ended.apply(child)
                _settle(child, ended)
            yield from _walk_built(child, depth + 1)
    yield depth, node, True


def _walk_built(node: NodeResult, depth: int) -> Iterator[tuple[int, NodeResult, bool]]:
    """The events of a subtree already in memory (a tier that never started)."""
    if node.kind == "job":
        yield depth, node, True
        return
    children, node.children = node.children, []
    yield depth, node, False
    for child in children:
        yield from _walk_built(child, depth + 1)
    yield depth, node, True


def walk_results(tracking: str | Path) -> Iterator[tuple[int, NodeResult, bool]]:
    """Every node of a run, depth first, without holding its tree (a run of 10^5 jobs is
    streamed through the stores): ``(depth, node, end)``.  A group or array comes twice,
    before its children (``end`` False) and after them (``end`` True); a job comes once,
    with ``end`` True.  ``node.children`` stays empty.  Below a node that ended, nothing is
    still running: it counts as lost with it."""
    directory = Path(tracking)
    if not (directory / DB_NAME).exists():
        raise StoreError(f"{directory} is not a Gator tracking directory (no {DB_NAME})")
    yield from _walk_tier(directory, None, _SpecIndex(directory), 0, None)


def find_run(path: str | Path) -> Path:
    """The run a path names: a run's own tracking directory, or a directory of runs
    (such as ``./tracking``), meaning its newest run."""
    directory = Path(path)
    if (directory / DB_NAME).exists():
        return directory
    try:
        runs = [entry for entry in directory.iterdir() if (entry / DB_NAME).exists()]
    except OSError:
        runs = []
    if runs:  # the newest: the one started last (its spec copy is written once, at the start)
        def started(entry: Path) -> tuple[float, str]:
            marker = entry / "spec.yaml"
            return (marker if marker.exists() else entry / DB_NAME).stat().st_mtime, entry.name

        return max(runs, key=started)
    raise StoreError(f"{directory} is not a Gator tracking directory (no {DB_NAME}), "
                     f"nor a directory of runs")


def load_results(tracking: str | Path) -> NodeResult:
    """The result tree of the run in ``tracking`` (finished or still running)."""
    stack: list[NodeResult] = []  # the open tiers, the top first
    root: NodeResult | None = None
    for _depth, node, end in walk_results(tracking):
        if end and stack and stack[-1] is node:  # a tier's children are all in
            root = stack.pop()
            continue
        if stack:
            stack[-1].children.append(node)
        if not end:  # a tier: its children follow
            stack.append(node)
    if root is None:
        raise StoreError(f"{tracking}: no result tree")
    return root


def iter_jobs(tracking: str | Path, top: list[NodeResult] | None = None) -> Iterator[NodeResult]:
    """Every job of a run, depth first, without building the tree (see :func:`walk_results`).
    If ``top`` is a list, the top node (without children) is appended to it first."""
    for depth, node, end in walk_results(tracking):
        if depth == 0 and not end and top is not None:
            top.append(node)
        if end and node.kind == "job":
            yield node


def load_overview(tracking: str | Path, *, keep: tuple[str, ...] = tuple(FAILURES)
                  ) -> tuple[NodeResult, list[NodeResult]]:
    """The top node (without children) and the jobs whose result is in ``keep``."""
    top: list[NodeResult] = []
    kept = [job for job in iter_jobs(tracking, top) if job.result in keep]
    return top[0], kept


def find_node(tracking: str | Path, path: str | None = None) -> NodeResult:
    """The node at ``path`` (with or without the top's own id in front; None: the top),
    read as a stream: the tree of a large run is not built to find one node."""
    top: NodeResult | None = None
    for _depth, node, _end in walk_results(tracking):
        if top is None:
            top = node
            if path is None:
                return top
        if node.path in (path, f"{top.path}.{path}"):
            return node
    raise StoreError(f"no node '{path}' in this run")
