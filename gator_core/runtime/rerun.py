"""Running again what did not pass (``gator rerun``).

:func:`plan_rerun` reads an earlier run: its spec, its settings, and every job
that did not pass (failed, lost, skipped, never started).  The new run
carries over everything else: in each tier, :func:`split_rerun` tells which
children passed before (their records are linked into the new run and they
count as passed for dependencies) and, for each child group or array, which
paths below it run again.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gator_core.exceptions import UsageError
from gator_core.runtime.plan import Child
from gator_core.spec import Job, JobGroup, Node, root_path
from gator_core.store.liveness import run_state
from gator_core.store.nodestore import DB_NAME, StoreReader
from gator_core.textutil import did_you_mean

__all__ = ["Rerun", "plan_rerun", "split_rerun", "apply_overrides", "describe_overrides"]


@dataclass(frozen=True)
class Rerun:
    """What a rerun repeats: the earlier run, and the paths (below its top) of the
    jobs to run again.  Everything else that passed is carried over."""

    earlier: Path
    paths: tuple[str, ...]
    # What the rerun changed, recorded in its tracking directory and shown by gator show:
    # env, append_args, jobs (chosen with --job), seeds ("same" or "new"), params.
    overrides: Mapping[str, Any] = field(default_factory=dict)


def plan_rerun(earlier: str | Path, *, failed: bool = True, jobs: Sequence[str] = ()
               ) -> tuple[Node, dict[str, Any], Rerun]:
    """The spec, the settings and the jobs to run again of an earlier run: with
    ``failed``, every job that did not pass (failed, lost, timeout, skipped,
    cancelled or never started); and the jobs named in ``jobs`` (full paths, or
    paths below the top), whatever their result.  Everything else that passed is
    carried over and counts as passed for dependencies.  A run whose ``gator run``
    died is accepted (what it had not finished counts as lost); one still running
    is refused."""
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
    paths: list[str] = []
    known: list[str] = []
    for job in iter_jobs(directory):
        relative = job.path[len(top) + 1:] if job.path.startswith(top + ".") else job.path
        known.append(relative)
        if failed and job.result != "pass":
            paths.append(relative)
    for wanted in jobs:
        relative = wanted[len(top) + 1:] if wanted.startswith(top + ".") else wanted
        if relative not in known:
            raise UsageError(f"--job {wanted}: no such job in {directory}"
                             f"{did_you_mean(f'{top}.{relative}', [f'{top}.{path}' for path in known])}")
        if relative not in paths:
            paths.append(relative)
    if not paths:
        raise UsageError(f"nothing to run again: every job of {directory} passed")
    return root, attrs, Rerun(directory, tuple(paths))


def apply_overrides(root: Node, env: Mapping[str, str], append_args: Sequence[str]) -> Node:
    """A copy of the tree whose every job gets ``env`` over its own variables and
    ``append_args`` after its arguments (jobs carried over do not run, so setting
    them everywhere changes only what runs again)."""
    if not env and not append_args:
        return root
    tree = copy.deepcopy(root)
    stack: list[Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Job):
            node.env = {**node.env, **env}
            node.args = [*node.args, *append_args]
        else:
            stack.extend(node.jobs)
    return tree


def describe_overrides(overrides: Mapping[str, Any]) -> str:
    """The overrides as the options that gave them: ``--env A=1 --new-seeds``."""
    parts = [f"--job {path}" for path in overrides.get("jobs") or ()]
    parts += [f"--param {name}={value}" for name, value in (overrides.get("params") or {}).items()]
    parts += [f"--env {name}={value}" for name, value in (overrides.get("env") or {}).items()]
    if overrides.get("append_args"):
        parts.append(f"--append-args {shlex.quote(shlex.join(overrides['append_args']))}")
    if overrides.get("seeds") == "new":
        parts.append("--new-seeds")
    return " ".join(parts)


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
