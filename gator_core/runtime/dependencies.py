"""When a tier's children may start, and what its parent waits to hear.

Pure bookkeeping over the tier's :class:`~gator_core.runtime.plan.Child`
records: a child is ready when every condition it names holds, is skipped as
soon as one can no longer hold, and waits otherwise.  Targets below a sibling
(``g.h.j``) are answered by that sibling through the ``watched`` outcomes it
reports; a tier in turn reports the outcomes its own parent asked for in
``watch``.  Outcomes are ``pass``, ``fail`` or ``skipped`` (see
:func:`gator_core.store.summary.dependency_outcome`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gator_core.runtime.plan import Child
from gator_core.spec.deps import DepTarget
from gator_core.spec.model import Job, JobArray, JobGroup
from gator_core.spec.params import has_matrix
from gator_core.states import ChildState, Result

__all__ = ["Dependencies", "READY", "Produced"]

READY = "ready"
# The paths of a need's artefact as its producer left them: [] when it was not produced,
# None when that is not known (the producer never ran).
Produced = Callable[[Child, str, DepTarget], "list[str] | None"]


def _combine(outcomes: Iterable[str | None]) -> str | None:
    """Every element's outcome into one: None while any is unknown."""
    values = list(outcomes)
    if any(value is None for value in values):
        return None
    if Result.FAIL in values:
        return Result.FAIL
    if Result.SKIPPED in values:
        return Result.SKIPPED
    return Result.PASS


class Dependencies:
    """Conditions between the children of one tier, and the outcomes its parent watches."""

    def __init__(self, spec: JobGroup | JobArray, children: Sequence[Child], watch: Sequence[str],
                 produced: Produced | None = None) -> None:
        self.spec = spec
        self.watch = list(watch)
        self.produced = produced
        self.children = children
        self._templates = len(spec.jobs)
        # Children by key: an array by index finds them by arithmetic (see named); other
        # tiers keep a dict.
        self._decls = {self._id(decl): decl for decl in range(self._templates)}
        by_index = isinstance(spec, JobArray) and not has_matrix(spec)
        self._by_key = None if by_index else {child.key: child for child in children}
        self.by_decl: dict[int, list[Child]] = {}
        self.dependants: dict[int, list[Child]] = {}
        for child in children:
            self.by_decl.setdefault(child.decl, []).append(child)
            for target in {target.sibling for _, target in (*child.deps, *child.needs)}:
                self.dependants.setdefault(target, []).append(child)
        self.sent: dict[str, str] = {}  # watched outcomes already decided

    def at(self, decl: int, index: int | None) -> Child | None:
        """The child of template ``decl`` in element ``index`` (None in a group).  Children
        come in launch order, element by element, so its place is computed, not looked up:
        an array of 10^5 children keeps no second index of them."""
        position = decl if index is None else index * self._templates + decl
        if 0 <= decl < self._templates and 0 <= position < len(self.children):
            child = self.children[position]
            if child.decl == decl and child.index == index:
                return child
        return None

    def named(self, key: str) -> Child | None:
        """The child named ``key`` (``<template id>_<index>`` in an array by index), or None."""
        if self._by_key is not None:
            return self._by_key.get(key)
        template, _, index = key.rpartition("_")
        decl = self._decls.get(template)
        if decl is None or not index.isdigit():
            return None
        child = self.at(decl, int(index))
        return child if child is not None and child.key == key else None

    def _id(self, decl: int) -> str:
        return self.spec.jobs[decl].id or f"T{decl}"

    # -- conditions ----------------------------------------------------------------------
    def target_outcome(self, child: Child, target: DepTarget) -> str | None:
        other = self.at(target.sibling, child.index)
        if other is None:
            return Result.SKIPPED
        if not target.subpath:
            return other.outcome
        name = ".".join(target.subpath)
        if other.watched and name in other.watched:
            return other.watched[name]
        if other.state == ChildState.DONE:  # it ended without saying: it never ran that part
            return Result.SKIPPED if other.outcome == Result.SKIPPED else Result.FAIL
        return None

    def _describe(self, target: DepTarget, outcome: str) -> str:
        whole = not target.subpath and not isinstance(self.spec.jobs[target.sibling], Job)
        if outcome == Result.SKIPPED:
            return "did not run every job" if whole else "did not run"
        return Result(outcome).count_key

    def check(self, child: Child) -> str | None:
        """READY, a reason to skip the child, or None to keep waiting."""
        waiting = False
        for cond, target in child.deps:
            outcome = self.target_outcome(child, target)
            label = ".".join((self._id(target.sibling), *target.subpath))
            if outcome is None:
                waiting = True
            elif cond == "on_pass" and outcome != Result.PASS:
                return f"on_pass: '{label}' {self._describe(target, outcome)}"
            elif cond == "on_fail" and outcome != Result.FAIL:
                return f"on_fail: '{label}' {self._describe(target, outcome)}"
        for need, target in child.needs:
            verdict = self._need(child, need, target)
            if verdict is None:
                waiting = True
            elif verdict != READY:
                return verdict
        return None if waiting else READY

    def _need(self, child: Child, need: str, target: DepTarget) -> str | None:
        """A need holds once its producer passed with the artefact in place.  A producer
        below a sibling is read back from its store, so the whole sibling must have ended."""
        outcome = self.target_outcome(child, target)
        other = self.at(target.sibling, child.index)
        if outcome is None or (target.subpath and other is not None and other.state != ChildState.DONE):
            return None
        files = self.produced(child, need, target) if self.produced is not None else None
        if outcome == Result.PASS:
            return READY if files else f"needs: artefact '{need}' was not produced"
        if outcome == Result.FAIL and files == [] and not target.subpath:  # it failed for want of it
            return f"needs: artefact '{need}' was not produced"
        return f"needs: '{need.rpartition('.')[0]}' {self._describe(target, outcome)}"

    def dependants_of(self, child: Child) -> list[Child]:
        """Children whose conditions name ``child`` (in arrays: of the same repetition)."""
        return [other for other in self.dependants.get(child.decl, ()) if other.index == child.index]

    # -- watched outcomes --------------------------------------------------------------------
    def watch_for(self, child: Child) -> list[str]:
        """Paths below ``child`` whose outcome someone waits for: asked by its siblings,
        or passed down from our own parent (``a.b.c`` asked of us reaches ``a`` as ``b.c``)."""
        wanted = set(child.watch)
        own_id = self._id(child.decl)
        for name in self.watch:
            head, _, rest = name.partition(".")
            if head == own_id and rest:
                wanted.add(rest)
        return sorted(wanted)

    def newly_decided(self) -> dict[str, str]:
        """Watched outcomes known now that were not known before (and remembers them)."""
        found: dict[str, str] = {}
        for name in self.watch:
            if name in self.sent:
                continue
            head, _, rest = name.partition(".")
            decl = next((p for p in range(len(self.spec.jobs)) if self._id(p) == head), None)
            if decl is None:
                continue
            outcome = _combine(self._element_outcome(child, rest) for child in self.by_decl.get(decl, ()))
            if outcome is not None:
                self.sent[name] = found[name] = outcome
        return found

    @staticmethod
    def _element_outcome(child: Child, rest: str) -> Any:
        if not rest:
            return child.outcome
        value = (child.watched or {}).get(rest)
        if value is None and child.state == ChildState.DONE:
            value = Result.SKIPPED if child.outcome == Result.SKIPPED else Result.FAIL
        return value
