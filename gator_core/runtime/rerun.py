"""Running again what did not pass (``gator rerun``).

:func:`plan_rerun` reads an earlier run: its spec, its settings, and every job
that did not pass (failed, lost, skipped, never started).  The new run
carries over everything else: in each tier, :func:`split_rerun` tells which
children passed before (their records are linked into the new run and they
count as passed for dependencies) and, for each child group or array, which
paths below it run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gator_core.exceptions import UsageError
from gator_core.runtime.plan import Child
from gator_core.spec import Job, JobGroup, Node, root_path
from gator_core.store.liveness import run_state
from gator_core.store.nodestore import DB_NAME, StoreReader

__all__ = ["Rerun", "plan_rerun", "split_rerun"]


@dataclass(frozen=True)
class Rerun:
    """What a rerun repeats: the earlier run, and the paths (below its top) of the
    jobs to run again.  Everything else that passed is carried over."""

    earlier: Path
    paths: tuple[str, ...]


def plan_rerun(earlier: str | Path) -> tuple[Node, dict[str, Any], Rerun]:
    """The spec, the settings and the jobs to run again of an earlier run: every job
    that did not pass (failed, lost, skipped, cancelled or never started).  Jobs that
    passed are carried over and count as passed for dependencies.  A run whose
    ``gator run`` died is accepted (what it had not finished counts as lost); one
    still running is refused."""
    from gator_core.spec import loads_spec
    from gator_core.store.readback import iter_jobs

    directory = Path(earlier).resolve()
    spec_file = directory / "spec.yaml"
    if not spec_file.exists():
        raise UsageError(f"{directory} has no spec.yaml: is it the top of a Gator tracking directory?")
    with StoreReader(directory) as store:
        attrs = store.attrs()
    state = run_state(attrs)
    if state is not None and not state.gone:  # its jobs may still pass: nothing to decide yet
        raise UsageError(f"{directory} is still running ({state.describe()}); "
                         "wait for it to end, or stop it, before running it again")
    root = loads_spec(spec_file.read_text(encoding="utf-8"), str(spec_file))
    top = root_path(root if not isinstance(root, Job) else JobGroup(id="root", jobs=[root]))
    paths = []
    for job in iter_jobs(directory):
        if job.result != "pass":
            relative = job.path[len(top) + 1:] if job.path.startswith(top + ".") else job.path
            paths.append(relative)
    if not paths:
        raise UsageError(f"nothing to run again: every job of {directory} passed")
    return root, attrs, Rerun(directory, tuple(paths))


def split_rerun(children: Sequence[Child], only: Sequence[str] | None, earlier: str | None
                ) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """For one tier of a rerun: its children carried over (key -> their row in the
    earlier run, which holds their final summary), and for each child tier the
    paths below it that run again.  Outside a rerun both are empty."""
    if only is None:
        return {}, {}
    wanted: dict[str, list[str]] = {}
    for path in only:
        head, _, rest = path.partition(".")
        wanted.setdefault(head, []).append(rest)
    old_rows: dict[str, dict[str, Any]] = {}
    if earlier and (Path(earlier) / DB_NAME).exists():
        with StoreReader(Path(earlier)) as store:
            old_rows = {row["key"]: row for row in store.iter_children()}
    carried: dict[str, dict[str, Any]] = {}
    below: dict[str, list[str]] = {}
    for child in children:
        if child.key in wanted:
            if child.kind != "job":
                below[child.key] = [rest for rest in wanted[child.key] if rest]
        elif (old_rows.get(child.key) or {}).get("summary", {}).get("result") == "pass":
            carried[child.key] = old_rows[child.key]
    return carried, below
