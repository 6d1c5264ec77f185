"""Resolving dependency names (``on_pass`` / ``on_fail`` / ``on_done``).

A dependency names a sibling: another entry of the same ``jobs`` list.  Two
more forms are accepted, both resolved to a node below a sibling:

* a dotted path, ``inner.say_hi``: the sibling ``inner``, then ``say_hi`` in it;
* a bare name that is not a sibling but names exactly one node below the
  siblings.  The seed system's README depends on a job inside a sibling group
  this way; its files must keep running, so the name is resolved and a warning
  says where it went.

A target inside a ``!JobArray`` template stands for every element of it.  The
functions here are pure and are used both by the validator and by the tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .model import Job, Node, child_id

__all__ = ["DepTarget", "Resolution", "resolve_dependency", "find_cycles", "CONDITIONS"]

CONDITIONS = ("on_pass", "on_fail", "on_done")


@dataclass(frozen=True)
class DepTarget:
    """A resolved dependency: a sibling (by position) and a path of ids below it."""

    sibling: int
    subpath: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    target: DepTarget | None
    error: str | None = None
    note: str | None = None  # set when a compatibility rule was used


def _children(node: Node) -> list[Node]:
    return [] if isinstance(node, Job) else list(node.jobs or [])


def _walk(node: Node, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Node]]:
    for pos, child in enumerate(_children(node)):
        path = prefix + (child_id(child, pos),)
        yield path, child
        yield from _walk(child, path)


def resolve_dependency(jobs: list[Node], self_pos: int, name: str) -> Resolution:
    """Resolve ``name`` as written in ``jobs[self_pos]``'s dependency lists."""
    ids = [child_id(node, pos) for pos, node in enumerate(jobs)]
    if name in ids:
        pos = ids.index(name)
        if pos == self_pos:
            return Resolution(None, f"'{ids[self_pos]}' depends on itself")
        return Resolution(DepTarget(pos))
    if "." in name:
        head, *rest = name.split(".")
        if head not in ids:
            return Resolution(None, f"unknown dependency '{name}': no sibling '{head}'")
        pos = ids.index(head)
        if pos == self_pos:
            return Resolution(None, f"'{ids[self_pos]}' depends on '{name}', which is inside itself")
        node = jobs[pos]
        for depth, part in enumerate(rest):
            kids = _children(node)
            kid_ids = [child_id(k, p) for p, k in enumerate(kids)]
            if part not in kid_ids:
                so_far = ".".join([head, *rest[:depth]])
                return Resolution(None, f"unknown dependency '{name}': '{so_far}' has no '{part}'")
            node = kids[kid_ids.index(part)]
        return Resolution(DepTarget(pos, tuple(rest)))
    matches: list[tuple[int, tuple[str, ...]]] = []
    for pos, sibling in enumerate(jobs):
        if pos == self_pos:
            continue
        for path, _node in _walk(sibling, ()):
            if path[-1] == name:
                matches.append((pos, path))
    if len(matches) == 1:
        pos, path = matches[0]
        dotted = ".".join((ids[pos],) + path)
        return Resolution(
            DepTarget(pos, path),
            note=f"dependency '{name}' is not a sibling; it resolves to '{dotted}'",
        )
    if len(matches) > 1:
        options = ", ".join(".".join((ids[p],) + path) for p, path in matches)
        return Resolution(None, f"ambiguous dependency '{name}' matches {options}; write its path")
    return Resolution(None, f"unknown dependency '{name}'")


def find_cycles(edges: dict[int, set[int]]) -> list[list[int]]:
    """Cycles found by depth-first search, each set of nodes reported once.

    ``edges[a]`` holds the positions ``a`` waits for.  A cycle comes back as the
    list of positions along it, starting at its smallest position.  The search
    is iterative: a chain of ten thousand siblings must not hit the recursion
    limit.
    """
    found: list[list[int]] = []
    seen: set[frozenset[int]] = set()
    state: dict[int, int] = {}  # absent: unvisited, 1: on the stack, 2: done
    for root in sorted(edges):
        if root in state:
            continue
        stack: list[tuple[int, list[int]]] = [(root, sorted(edges.get(root, ())))]
        path: list[int] = [root]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            nxt = todo.pop(0)
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(edges.get(nxt, ()))))
            elif state[nxt] == 1:
                cycle = path[path.index(nxt):]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    first = cycle.index(min(cycle))
                    found.append(cycle[first:] + cycle[:first])
    return found
