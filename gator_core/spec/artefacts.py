"""Artefacts: what jobs produce (``artefacts``) and what their dependants use (``needs``).

A job declares ``artefacts: {binary: build/sim.exe, reports: "out/*.xml"}``:
names and paths (or globs) relative to its working directory.  A sibling
(or a group or array, for everything below it) names one as
``needs: [build.binary]``: the dependency's path, then the artefact's name.
A need is also a dependency: the dependant waits for that job to pass.

Below a node that needs ``build.binary``, ``{{ artefacts.build.binary }}``
in a job's command, args, cwd or env becomes the artefact's paths, and the
job's environment holds ``GATOR_ARTEFACT_BUILD_BINARY``.  An argument that is
nothing but the placeholder becomes one argument per path; elsewhere the
paths are joined with spaces.

The functions here are pure and serve the validator, the tier and the wrapper.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gator_core.textutil import did_you_mean

from .deps import DepTarget, resolve_dependency
from .model import Job, JobArray, JobGroup, Node, child_id
from .params import substituted_texts

__all__ = [
    "ARTEFACT_NAME",
    "NeedResolution",
    "resolve_need",
    "references",
    "env_name",
    "substitute_artefacts",
    "expand_arg",
    "artefact_environment",
    "check_artefact_references",
]

ARTEFACT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # also part of an environment variable's name
_REFERENCE = re.compile(r"\{\{\s*artefacts\.([A-Za-z0-9_][A-Za-z0-9_+\-.]*)\s*\}\}")


@dataclass(frozen=True)
class NeedResolution:
    """A resolved need: the job that produces it (a sibling, or a path below one)."""

    target: DepTarget | None
    artefact: str = ""
    error: str | None = None
    note: str | None = None


def _below(node: Node, subpath: Sequence[str]) -> Node | None:
    for part in subpath:
        if isinstance(node, Job):
            return None
        kids = {child_id(kid, pos): kid for pos, kid in enumerate(node.jobs)}
        if part not in kids:
            return None
        node = kids[part]
    return node


def resolve_need(jobs: list[Node], self_pos: int, need: str) -> NeedResolution:
    """Resolve one entry of ``jobs[self_pos].needs``: ``<dependency>.<artefact>``."""
    dependency, _, artefact = need.rpartition(".")
    if not dependency or not artefact:
        return NeedResolution(None, error=f"need '{need}' must name a job and one of its artefacts, "
                                          "as <job>.<artefact> (build.binary)")
    found = resolve_dependency(jobs, self_pos, dependency)
    if found.target is None:
        hint = ""
        if str(found.error).startswith("unknown dependency") and "." not in dependency:
            hint = did_you_mean(dependency, [child_id(job, pos) for pos, job in enumerate(jobs) if pos != self_pos])
            hint = hint or ("; a need names a sibling or a job below one (for a job beside an enclosing "
                            "group or array, put the need on that group or array)")
        return NeedResolution(None, error=f"need '{need}': {found.error}{hint}")
    producer = _below(jobs[found.target.sibling], found.target.subpath)
    if not isinstance(producer, Job):
        return NeedResolution(None, error=f"need '{need}': '{dependency}' is a group, not a job; "
                                          "name a job in it, then its artefact")
    declared = producer.artefacts if isinstance(producer.artefacts, dict) else {}
    if artefact not in declared:
        return NeedResolution(None, error=f"need '{need}': '{dependency}' declares no artefact '{artefact}'"
                                          f"{did_you_mean(artefact, list(declared))}")
    return NeedResolution(found.target, artefact, note=found.note)


def references(text: str) -> list[str]:
    """The needs a text refers to as ``{{ artefacts.<need> }}``."""
    return _REFERENCE.findall(text) if "{{" in text else []


def env_name(need: str) -> str:
    """``build.binary`` -> ``GATOR_ARTEFACT_BUILD_BINARY``."""
    return "GATOR_ARTEFACT_" + re.sub(r"[^A-Za-z0-9]", "_", need).upper()


def substitute_artefacts(text: str, values: Mapping[str, Sequence[str]]) -> str:
    """``{{ artefacts.<need> }}`` replaced by the paths, joined with spaces."""
    if "{{" not in text:
        return text
    return _REFERENCE.sub(lambda m: " ".join(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


def expand_arg(arg: str, values: Mapping[str, Sequence[str]]) -> list[str]:
    """One argument: an argument that is only ``{{ artefacts.<need> }}`` becomes one per path."""
    whole = _REFERENCE.fullmatch(arg.strip()) if "{{" in arg else None
    if whole is not None and whole.group(1) in values:
        return list(values[whole.group(1)])
    return [substitute_artefacts(arg, values)]


def artefact_environment(values: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """``GATOR_ARTEFACT_<NEED>`` for every need: its paths, joined with spaces."""
    return {env_name(need): " ".join(paths) for need, paths in values.items()}


Report = Callable[..., None]


def check_artefact_references(root: Node, path: str, report: Report) -> None:
    """Every ``{{ artefacts.<need> }}`` must be a need of its node or of a node above it.

    ``report(obj, path, message, field=None, index=None)`` receives each problem."""

    def visit(node: Node, where: str, available: frozenset[str]) -> None:
        if not isinstance(node, (Job, JobGroup, JobArray)):
            return
        needs = node.needs if isinstance(node.needs, list) else []
        available = available | {need for need in needs if isinstance(need, str)}
        for field, index, text in substituted_texts(node):
            if field == "artefacts":  # a producer's own paths name no need
                continue
            for need in references(text):
                if need not in available:
                    report(node, where, f"'{{{{ artefacts.{need} }}}}' in {field} is not a need here or "
                           f"above: add '{need}' to needs{did_you_mean(need, sorted(available))}", field, index)
        if isinstance(node, Job) or not isinstance(node.jobs, list):
            return
        for pos, child in enumerate(node.jobs):
            visit(child, f"{where}.{child_id(child, pos)}", available)

    visit(root, path, frozenset())
