"""Planning a tier's children: ids, paths, directories, environment and dependencies.

Pure functions over the spec, so they are tested without processes.  A
``!JobGroup`` has one child per entry of ``jobs``; a ``!JobArray`` runs its
``jobs`` once per element: ``repeats`` times, naming each child
``<id>_<index>`` as the seed system did, or once per combination of its
``matrix``, naming each ``<id>_<values>``.  Inside an array, dependencies
between template jobs hold within one element: ``run`` with ``on_pass:
[build]`` waits for the ``build`` of its own index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gator_core.spec.artefacts import resolve_need
from gator_core.spec.deps import CONDITIONS, DepTarget, resolve_dependency
from gator_core.spec.model import Job, JobArray, JobGroup, Node, iter_children, kind_of
from gator_core.spec.params import Element, child_scope, element_count, substitute_node
from gator_core.states import ChildState

__all__ = ["Child", "plan_children", "count_jobs", "child_layer", "child_rules", "child_parsers", "resolve_cwd",
           "child_params", "descendant_keys"]


@dataclass(eq=False, slots=True)
class Child:
    """A tier's record of one child.  Kept small: a tier may have 10^5 of them."""

    position: int  # order among the tier's children
    key: str  # id among siblings; also the name of its tracking directory
    decl: int  # position of its template in the tier's ``jobs``
    index: int | None  # repetition, for elements of an array
    node: Node
    kind: str
    deps: list[tuple[str, DepTarget]]
    needs: list[tuple[str, DepTarget]] = field(default_factory=list)  # (build.binary, its producer)
    state: ChildState = ChildState.PENDING
    summary: dict[str, Any] | None = None
    outcome: str | None = None  # for dependants: pass, fail, skipped (once final)
    watch: list[str] = field(default_factory=list)  # shared by all elements of one template
    watched: dict[str, str] | None = None
    link: Any = None
    last_seen: float = 0.0
    started_at: float = 0.0  # when the scheduler said it runs
    native_id: str | None = None
    host: str | None = None
    pending_reason: str | None = None
    exit_event: Any = None
    exit_at: float = 0.0
    # A final report saying the child was lost (e.g. killed from outside), held until
    # the scheduler says what happened, or until ``held_until``.
    held: dict[str, Any] | None = None
    held_until: float = 0.0
    # A failed job's final report, kept until the scheduler says its process ended: only
    # then are its files here (a host without this machine's files sends them back last),
    # and a retry reads its messages and keeps its directory.  Until ``report_until``.
    report: dict[str, Any] | None = None
    report_until: float = 0.0
    attempts: list[dict[str, Any]] | None = None  # earlier attempts of a retried job, oldest first
    artefacts: dict[str, list[str]] | None = None  # a finished job's: name -> paths (none: not produced)


def count_jobs(node: Node) -> int:
    """How many jobs a subtree runs (arrays multiply, by ``repeats`` or their matrix)."""
    if isinstance(node, Job):
        return 1
    inner = sum(count_jobs(child) for child in node.jobs)
    return inner * element_count(node) if isinstance(node, JobArray) else inner


def plan_children(spec: JobGroup | JobArray, elements: Sequence[Element] | None = None) -> list[Child]:
    """One :class:`Child` per child process the tier will start, in launch order
    (``elements``: a matrix array's, when the caller has built them already)."""
    templates = list(spec.jobs)
    resolved: list[list[tuple[str, DepTarget]]] = []
    needs: list[list[tuple[str, DepTarget]]] = []
    watch: dict[int, set[str]] = {}
    for pos, node in enumerate(templates):
        deps = []
        for cond in CONDITIONS:
            for name in getattr(node, cond):
                res = resolve_dependency(templates, pos, name)
                if res.target is None:  # the validator reports these before any run
                    raise ValueError(res.error)
                deps.append((cond, res.target))
                if res.target.subpath:
                    watch.setdefault(res.target.sibling, set()).add(".".join(res.target.subpath))
        resolved.append(deps)
        wanted = []
        for name in node.needs:
            need = resolve_need(templates, pos, name)
            if need.target is None:
                raise ValueError(need.error)
            wanted.append((name, need.target))
            if need.target.subpath:
                watch.setdefault(need.target.sibling, set()).add(".".join(need.target.subpath))
        needs.append(wanted)
    watch_lists = {pos: sorted(paths) for pos, paths in watch.items()}
    no_watch: list[str] = []
    kinds = [kind_of(node) for node in templates]
    # Straight from the generator: a tier of 10^5 children builds no second list of them.
    # An element's index is its position when the array has one template: one int, not two.
    return [Child(position=position, key=key, decl=pos, index=position if index == position else index,
                  node=node, kind=kinds[pos],
                  deps=resolved[pos], needs=needs[pos], watch=watch_lists.get(pos, no_watch))
            for position, (key, pos, index, node) in enumerate(iter_children(spec, elements))]


def descendant_keys(node: Node, subpath: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The directories, as keys below ``node``'s own, of the nodes a dotted subpath names
    (``inner.run``): inside an array, one per element."""
    found: list[tuple[str, ...]] = [()]
    for part in subpath:
        if isinstance(node, Job):
            return []
        matches = [(key, template) for key, pos, _index, template in iter_children(node)
                   if (template.id or f"T{pos}") == part]
        if not matches:
            return []
        found = [prefix + (key,) for prefix in found for key, _ in matches]
        node = matches[0][1]
    return found


def child_layer(parent_layer: dict[str, str | None], node: Node) -> dict[str, str | None]:
    """The merged spec environment of a child: its parent's, then its own ``env``."""
    if not node.env:
        return parent_layer
    layer = dict(parent_layer)
    layer.update(node.env)
    return layer


def child_rules(parent_rules: list[list[str]], node: Node) -> list[list[str]]:
    """A child's output rules: its own first (they win), then its parent's."""
    own = [[rule.pattern, rule.severity, rule.stream] for rule in node.rules]
    return own + parent_rules if own else parent_rules


def child_parsers(parent_parsers: list[str], node: Node) -> list[str]:
    """A child's log parsers: its own first, then its parent's, each once."""
    if not node.parsers:
        return parent_parsers
    return list(dict.fromkeys([*node.parsers, *parent_parsers]))


def resolve_cwd(parent_cwd: list[str], node: Node) -> list[str]:
    """A child's working directory, as parts to join: its parent's, then its own ``cwd``.

    The parts stay apart until the job's environment is known, so that
    ``cwd: $SCRATCH/run`` is expanded before it is joined (an absolute part
    replaces everything before it, as ``os.path.join`` does).
    """
    if not node.cwd:
        return parent_cwd
    return [*parent_cwd, node.cwd]


def child_params(parent_params: dict[str, str], child: Child, elements: list[Element] | None
                 ) -> tuple[dict[str, str], Node]:
    """The params a child sees (its parent's, its own, and for an element of a matrix array
    the element's values), and the child's node with ``{{ name }}`` put in its own command,
    args, cwd and env (the template itself when it has none).  Its children are left as
    they are: the child's own tier puts in theirs, with these params passed down."""
    values = elements[child.index].values if elements is not None and child.index is not None else None
    params = child_scope(parent_params, child.node, values)
    return params, substitute_node(child.node, params)
