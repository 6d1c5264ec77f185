"""The spec language as plain Python classes.

``Job``, ``JobGroup`` and ``JobArray`` form the tree; ``Cores``, ``Memory``,
``License`` and ``Feature`` are resource requests.  The same objects come out
of the YAML loader and go into the runner, so a tree built in Python and a
tree read from YAML are indistinguishable (and dump back to the same YAML).

Field order matters: the positional sequence form (``!Cores [2]``,
``!Job [id, env, cwd, command, ...]``) fills fields in the order of
``FIELDS`` below, which is the order the seed system used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Union

if TYPE_CHECKING:
    from .params import Element

__all__ = [
    "Origin",
    "Cores",
    "Memory",
    "License",
    "Feature",
    "Resource",
    "Rule",
    "Job",
    "JobGroup",
    "JobArray",
    "Node",
    "MEMORY_UNITS",
    "child_id",
    "kind_of",
    "expand_children",
    "iter_children",
]

# Binary multiples, as Slurm's --mem and Grid Engine's h_vmem read them.
MEMORY_UNITS: dict[str, int] = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


@dataclass(frozen=True)
class Origin:
    """Where a spec object was written: file, 1-based line and column, and the
    positions of its fields and of the items of its list fields."""

    file: str
    line: int
    column: int
    fields: dict[str, tuple[int, int]] = field(default_factory=dict, hash=False)
    items: dict[str, list[tuple[int, int]]] = field(default_factory=dict, hash=False)

    def at(self, name: str | None = None, index: int | None = None) -> tuple[str, int, int]:
        """Best position for a field (or one item of a list field)."""
        if name is not None and index is not None:
            items = self.items.get(name, [])
            if 0 <= index < len(items):
                return (self.file, *items[index])
        if name is not None and name in self.fields:
            return (self.file, *self.fields[name])
        return (self.file, self.line, self.column)


def _no_origin() -> Any:
    return field(default=None, compare=False, repr=False)


@dataclass
class Cores:
    """``!Cores [count, arch]``: CPU cores a job needs (0 means it takes no slot)."""

    count: int
    arch: str | None = None
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "Cores"
    FIELDS: ClassVar[tuple[str, ...]] = ("count", "arch")
    REQUIRED: ClassVar[tuple[str, ...]] = ("count",)


@dataclass
class Memory:
    """``!Memory [size, unit]``: memory a job needs; unit KB, MB (default), GB or TB."""

    size: float
    unit: str = "MB"
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "Memory"
    FIELDS: ClassVar[tuple[str, ...]] = ("size", "unit")
    REQUIRED: ClassVar[tuple[str, ...]] = ("size",)

    @property
    def bytes(self) -> int:
        """The request in bytes (units are binary multiples)."""
        return int(self.size * MEMORY_UNITS[str(self.unit).strip().upper()])


@dataclass
class License:
    """``!License [name, count]``: a floating licence a job holds while it runs."""

    name: str
    count: int = 1
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "License"
    FIELDS: ClassVar[tuple[str, ...]] = ("name", "count")
    REQUIRED: ClassVar[tuple[str, ...]] = ("name",)


@dataclass
class Feature:
    """``!Feature [name, count]``: a machine feature (node-locked licence, accelerator)."""

    name: str
    count: int = 1
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "Feature"
    FIELDS: ClassVar[tuple[str, ...]] = ("name", "count")
    REQUIRED: ClassVar[tuple[str, ...]] = ("name",)


Resource = Union[Cores, Memory, License, Feature]


@dataclass
class Rule:
    """``!Rule [pattern, severity, stream]``: output lines matching ``pattern`` (a
    regular expression, searched anywhere in the line) get ``severity``.  ``stream``
    is ``stdout``, ``stderr`` or ``both`` (the default)."""

    pattern: str
    severity: str
    stream: str = "both"
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "Rule"
    FIELDS: ClassVar[tuple[str, ...]] = ("pattern", "severity", "stream")
    REQUIRED: ClassVar[tuple[str, ...]] = ("pattern", "severity")


@dataclass
class Job:
    """``!Job``: one command, run under its own wrapper process."""

    id: str | None = None
    env: dict[str, Any] = field(default_factory=dict)
    cwd: str | None = None
    command: str | None = None
    args: list[Any] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    on_done: list[str] = field(default_factory=list)
    on_fail: list[str] = field(default_factory=list)
    on_pass: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    parsers: list[str] = field(default_factory=list)
    timeout: str | float | None = None  # "90m", "30s", "2h" or seconds: its process tree is stopped after it
    shell: bool = False  # the command is one /bin/sh -c string (the shell runner)
    runner: str | None = None  # a runner plugin's name (gator runners); exec when unset
    runner_args: dict[str, Any] = field(default_factory=dict)  # options of that runner
    retries: int = 0  # attempts after the first, when a failure is worth one (retry_on)
    retry_on: list[Any] = field(default_factory=list)  # lost, timeout, {exit: [..]}, {message: RE}; [lost]
    params: dict[str, Any] = field(default_factory=dict)  # {{ name }} in command, args, cwd and env
    # What it produces: name -> path or glob, relative to its cwd; each must exist when it ends.
    artefacts: dict[str, Any] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)  # artefacts of siblings it uses: build.binary
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "Job"
    # The seed's fields first, in the seed's order (the positional form), then ours.
    FIELDS: ClassVar[tuple[str, ...]] = (
        "id", "env", "cwd", "command", "args", "resources", "on_done", "on_fail", "on_pass",
        "rules", "parsers", "timeout", "shell", "runner", "runner_args", "retries", "retry_on", "params",
        "artefacts", "needs",
    )
    REQUIRED: ClassVar[tuple[str, ...]] = ("command",)

    @property
    def runner_name(self) -> str:
        """The runner that starts it: ``runner``, else shell with ``shell: true``, else exec."""
        return self.runner or ("shell" if self.shell else "exec")

    @property
    def ident(self) -> str | None:
        """The seed system's later name for ``id``."""
        return self.id


@dataclass
class JobGroup:
    """``!JobGroup``: a set of jobs and groups run under one tier process."""

    id: str | None = None
    jobs: list[Node] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)
    cwd: str | None = None
    on_fail: list[str] = field(default_factory=list)
    on_pass: list[str] = field(default_factory=list)
    on_done: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    parsers: list[str] = field(default_factory=list)
    timeout: str | float | None = None  # bounds the whole subtree
    params: dict[str, Any] = field(default_factory=dict)  # for its own fields and everything below
    needs: list[str] = field(default_factory=list)  # artefacts of siblings, for every job below
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "JobGroup"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "id", "jobs", "env", "cwd", "on_fail", "on_pass", "on_done", "rules", "parsers", "timeout",
        "params", "needs",
    )
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    @property
    def ident(self) -> str | None:
        return self.id


@dataclass
class JobArray:
    """``!JobArray``: a group whose jobs are repeated ``repeats`` times."""

    id: str | None = None
    repeats: int = 1
    jobs: list[Node] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)
    cwd: str | None = None
    on_fail: list[str] = field(default_factory=list)
    on_pass: list[str] = field(default_factory=list)
    on_done: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    parsers: list[str] = field(default_factory=list)
    timeout: str | float | None = None  # bounds the whole subtree
    params: dict[str, Any] = field(default_factory=dict)  # for its own fields and everything below
    # Elements from values: the product of the lists, less exclude, plus include (see spec/params.py).
    matrix: dict[str, list[Any]] = field(default_factory=dict)
    exclude: list[dict[str, Any]] = field(default_factory=list)
    include: list[dict[str, Any]] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)  # artefacts of siblings, for every job below
    origin: Origin | None = _no_origin()

    TAG: ClassVar[str] = "JobArray"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "id", "repeats", "jobs", "env", "cwd", "on_fail", "on_pass", "on_done", "rules", "parsers", "timeout",
        "params", "matrix", "exclude", "include", "needs",
    )
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    @property
    def ident(self) -> str | None:
        return self.id


Node = Union[Job, JobGroup, JobArray]

SPEC_CLASSES: dict[str, type] = {
    cls.TAG: cls for cls in (Job, JobGroup, JobArray, Cores, Memory, License, Feature, Rule)
}


def child_id(node: Node, position: int) -> str:
    """The id a child goes by: its own, or ``T<position>`` when unnamed (as in the seed)."""
    return node.id if node.id else f"T{position}"


def iter_children(spec: JobGroup | JobArray, elements: Sequence[Element] | None = None
                  ) -> Iterator[tuple[str, int, int | None, Node]]:
    """The children a group or array runs, in launch order, as ``(key, position of the
    template in jobs, element index or None, template)``.  An array runs its jobs once
    per element and names each child ``<id>_<element>``: ``<id>_<index>`` for ``repeats``,
    as the seed system did, and ``<id>_cfg=fast,seed=3`` for a ``matrix``.

    A generator, so that a tier of 10^5 children never holds a second list of them: the
    child at ``(position, index)`` is always number ``index * len(jobs) + position``.
    ``elements``: a matrix array's, when the caller has them already (they are built
    from the matrix, which costs as much as the rest for 10^5 elements)."""
    if not isinstance(spec, JobArray):
        for position, node in enumerate(spec.jobs):
            yield child_id(node, position), position, None, node
        return
    from .params import array_elements, has_matrix  # they build on this module

    ids = [child_id(node, position) for position, node in enumerate(spec.jobs)]
    if not has_matrix(spec):  # by index: no element records to build
        repeats = spec.repeats if isinstance(spec.repeats, int) and spec.repeats > 0 else 0
        for index in range(repeats):
            for position, node in enumerate(spec.jobs):
                yield f"{ids[position]}_{index}", position, index, node
        return
    for element in array_elements(spec) if elements is None else elements:
        for position, node in enumerate(spec.jobs):
            yield f"{ids[position]}_{element.name}", position, element.index, node


def expand_children(spec: JobGroup | JobArray) -> list[tuple[str, int, int | None, Node]]:
    """:func:`iter_children` as a list."""
    return list(iter_children(spec))


def kind_of(node: Node) -> str:
    """``job``, ``group`` or ``array``."""
    if isinstance(node, Job):
        return "job"
    if isinstance(node, JobArray):
        return "array"
    return "group"
