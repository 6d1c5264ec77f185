"""The launch contract between a tier and a scheduler plugin.

A tier never starts a process itself.  For every child that is ready it
builds a :class:`LaunchRequest` (a command, Gator's environment variables, a
working directory, the child's tracking directory and its resource request)
and hands a batch of them to its scheduler.  The scheduler starts each child
wherever it runs children: a fork on this machine, a Slurm job, a process on
an SSH host.  What the child does next does not depend on the scheduler: it
connects to the URL in ``GATOR_PARENT_URL``, authenticates with
``GATOR_TOKEN`` and fetches its spec.

The scheduler reports what it learns about each child as :class:`ChildEvent`
objects through ``context.events``: submitted (with the scheduler's own id),
pending (with the reason), running (with the host), exited (with the exit
status and, for batch systems, the final state), or failed to launch (with
the submit command's message).  Children report their own progress over the
protocol; events from the scheduler are there to catch children that never
start or that die without a final report.

Guarantees a scheduler gives (the conformance suite in tests/conformance
checks them for every scheduler):

* :meth:`Scheduler.launch` returns quickly; children it cannot start at once
  are queued, and every request ends with exactly one ``EXITED`` or
  ``FAILED`` event, even if the child never ran.
* After :meth:`Scheduler.close` returns, no child process started through
  the scheduler is left running, and no event is sent.
* ``close`` may be called more than once.
* After :meth:`Scheduler.stopping`, ``close`` returns within a few seconds:
  a stopped run must give the prompt back at once.

Errors: a scheduler raises :class:`~gator_core.exceptions.LaunchError` (with
``transient``) for a failed submission it gives up on, and reports it as a
``FAILED`` event with the message quoted, rather than raising out of
``launch``.  :class:`~gator_core.exceptions.UsageError` is for bad options.
"""

from __future__ import annotations

import abc
import enum
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gator_core.exceptions import UsageError
from gator_core.spec.model import Cores, Feature, License, Memory, Resource
from gator_core.textutil import did_you_mean

__all__ = [
    "Resources",
    "ArrayRef",
    "LaunchRequest",
    "EventKind",
    "ChildEvent",
    "SchedulerContext",
    "Option",
    "Scheduler",
    "parse_size",
    "parse_bool",
    "parse_positive_int",
    "CHILD_LOG_NAME",
]

CHILD_LOG_NAME = "gator.log"  # a child process's own stdout and stderr


@dataclass(frozen=True)
class Resources:
    """What a job asks for.  ``cores`` is None when the spec does not say (one slot)."""

    cores: int | None = None
    memory: int | None = None  # bytes
    licenses: Mapping[str, int] = field(default_factory=dict)
    features: Mapping[str, int] = field(default_factory=dict)
    arch: str | None = None

    @classmethod
    def from_spec(cls, resources: Sequence[Resource]) -> Resources:
        cores = memory = arch = None
        licenses: dict[str, int] = {}
        features: dict[str, int] = {}
        for res in resources:
            if isinstance(res, Cores):
                cores, arch = res.count, res.arch
            elif isinstance(res, Memory):
                memory = res.bytes
            elif isinstance(res, License):
                licenses[res.name] = res.count
            elif isinstance(res, Feature):
                features[res.name] = res.count
        return cls(cores, memory, licenses, features, arch)

    def to_dict(self) -> dict[str, Any]:
        return {"cores": self.cores, "memory": self.memory, "licenses": dict(self.licenses),
                "features": dict(self.features), "arch": self.arch}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resources:
        return cls(data.get("cores"), data.get("memory"), dict(data.get("licenses") or {}),
                   dict(data.get("features") or {}), data.get("arch"))


@dataclass(frozen=True)
class ArrayRef:
    """The place of a child in a ``!JobArray``: batch systems submit these together."""

    array_path: str
    index: int
    size: int
    template: str  # id of the template job within the array


@dataclass(frozen=True)
class LaunchRequest:
    """Everything a scheduler needs to start one child (a wrapper or a tier)."""

    key: str  # unique among the children of one tier
    path: str  # full dotted path of the child in the tree
    kind: str  # "job", "group" or "array"
    argv: tuple[str, ...]  # the command that starts the child process
    env: Mapping[str, str]  # Gator's variables; the scheduler supplies the base environment
    cwd: str  # directory the child process starts in
    tracking: str  # the child's tracking directory (absolute)
    resources: Resources = Resources()
    array: ArrayRef | None = None
    # Seconds the child may run, for a batch system's own limit (sbatch --time, h_rt):
    # the spec's timeout plus the grace period plus a margin, so that Gator stops the
    # child first and the farm's limit is only a backstop.  None: no limit.
    time_limit: float | None = None
    # Files here that the child reads and other jobs made (the artefacts it needs).  A
    # scheduler whose hosts do not see this machine's files copies them there first, to
    # the path the child maps them to; one on a shared filesystem ignores them.
    inputs: tuple[str, ...] = ()

    @property
    def log_path(self) -> Path:
        """Where the child process's own stdout and stderr should go."""
        return Path(self.tracking) / CHILD_LOG_NAME


class EventKind(enum.Enum):
    SUBMITTED = "submitted"  # accepted by the scheduler; native_id set
    PENDING = "pending"  # waiting in a queue; reason set
    RUNNING = "running"  # the process started; host set where known
    EXITED = "exited"  # the process ended; returncode or state set
    FAILED = "failed"  # could not be launched at all; reason quotes the error

    @property
    def final(self) -> bool:
        return self in (EventKind.EXITED, EventKind.FAILED)


@dataclass(frozen=True)
class ChildEvent:
    """Something a scheduler learned about one child."""

    key: str
    kind: EventKind
    native_id: str | None = None
    host: str | None = None
    reason: str | None = None
    returncode: int | None = None  # negative: killed by that signal
    state: str | None = None  # the scheduler's own final state, e.g. OUT_OF_MEMORY

    @property
    def timed_out(self) -> bool:
        """The batch system ended the child at its time limit (state ``TIMEOUT``, as
        Slurm says it; other schedulers report that state for the same case)."""
        return self.state == "TIMEOUT"


@dataclass
class SchedulerContext:
    """What a tier gives the scheduler it uses."""

    path: str  # the tier's path
    token: str  # the run's secret (never put it on a command line)
    tracking: Path  # the tier's tracking directory (at the top: the launch directory until start())
    interval: float  # heartbeat interval of the run, seconds
    grace: float  # seconds between SIGTERM and SIGKILL when stopping a child
    events: Callable[[ChildEvent], None]
    # (severity, text) into the tier's messages: a Severity, or a logging level
    # (logging.WARNING is Severity.WARNING), never a bare number.
    log: Callable[[int, str], None]
    inherited: Mapping[str, Any] | None = None  # what the parent tier's scheduler exported; None at the top
    run_id: str = ""  # the run's id: names its batch jobs, so that they can all be found

    @property
    def top(self) -> bool:
        """True for the scheduler of the root tier (the ``gator run`` process)."""
        return self.inherited is None


@dataclass(frozen=True)
class Option:
    """One ``--sched-arg`` a scheduler accepts.  ``prefix`` options take ``name.KEY``."""

    name: str
    parse: Callable[[str], Any]
    default: Any = None
    help: str = ""
    prefix: bool = False


def parse_positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def parse_size(text: str) -> int:
    """``"512MB"``, ``"4 GB"``, ``"1024"`` (MB) to bytes; units are binary multiples."""
    from gator_core.spec.model import MEMORY_UNITS

    raw = text.strip().upper().replace(" ", "")
    unit = next((u for u in MEMORY_UNITS if raw.endswith(u)), None)
    number = float(raw[: -len(unit)] if unit else raw)
    factor = MEMORY_UNITS[unit or "MB"]
    if number <= 0:
        raise ValueError("must be greater than zero")
    return int(number * factor)


_COMMON_OPTIONS = (
    Option("python", str, None,
           "interpreter that runs child tiers and wrappers (default: the one running gator)"),
)


class Scheduler(abc.ABC):
    """Base class of scheduler plugins.  Use it as an async context manager.

    Subclasses set ``name`` (what ``--scheduler`` takes), ``description`` and
    ``options``, and implement :meth:`launch`, :meth:`terminate` and
    :meth:`close`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    # Seconds within which the scheduler reports that a child's process ended (or its
    # host was lost): how long a tier waits for the scheduler's account of a child
    # that died, and (up to 2 x interval more) of one whose heartbeats stopped.
    status_latency: float = 2.0

    def __init__(self, options: Mapping[str, str], context: SchedulerContext) -> None:
        self.context = context
        self.settings = self.parse_options(options)
        self.python: str = self.settings.get("python") or sys.executable

    # -- options --------------------------------------------------------------------------
    @classmethod
    def all_options(cls) -> tuple[Option, ...]:
        return _COMMON_OPTIONS + tuple(cls.options)

    @classmethod
    def parse_options(cls, raw: Mapping[str, str]) -> dict[str, Any]:
        """Check ``--sched-arg`` values against ``options``; raise UsageError naming each problem.

        Prefix options come back as a dict under their name:
        ``license.vcs=4`` gives ``{"license": {"vcs": 4}}``.
        """
        known = {opt.name: opt for opt in cls.all_options()}
        settings: dict[str, Any] = {}
        for opt in known.values():
            settings[opt.name] = {} if opt.prefix else opt.default
        problems = []
        for key, text in raw.items():
            head, _, tail = key.partition(".")
            opt = known.get(head)
            if opt is None or (opt.prefix and not tail) or (not opt.prefix and tail):
                names = [o.name + (".NAME" if o.prefix else "") for o in known.values()]
                problems.append(
                    f"unknown option '{key}' for scheduler '{cls.name}'{did_you_mean(key, names)}"
                    f" (it takes: {', '.join(names)})"
                )
                continue
            try:
                value = opt.parse(text)
            except (ValueError, TypeError) as exc:
                problems.append(f"bad value {text!r} for '{key}': {exc}")
                continue
            if opt.prefix:
                settings[head][tail] = value
            else:
                settings[head] = value
        if problems:
            raise UsageError("; ".join(problems))
        return settings

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:  # noqa: B027 - optional to override, not abstract
        """Prepare to launch (connect to a daemon, start helpers).  Default: nothing."""

    async def __aenter__(self) -> Scheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def launch(self, requests: Sequence[LaunchRequest]) -> None:
        """Start (or queue) the children.  Report through ``context.events``.

        A key may come again after its child ended, even after ``terminate``: a job
        being retried.  Treat it as a new child; forget what was kept of the old one."""

    @abc.abstractmethod
    async def terminate(self, keys: Sequence[str]) -> None:
        """Ask the children to stop: SIGTERM (or cancel), then SIGKILL after a grace period.
        Children still queued are dropped and reported ``EXITED``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop everything still running and release resources.  Idempotent."""

    def stopping(self, *, kill: bool = False) -> None:  # noqa: B027 - optional to override, not abstract
        """The tier is stopping (interrupted, or told to by its parent).  It launches
        nothing more, terminates what it has not heard from, and calls ``close`` as soon
        as its children have reported; that ``close`` should be quick: cancel whatever is
        left and never wait for the batch system's accounting.

        ``kill=True`` follows when the user interrupts again: ``close`` comes at once,
        and must kill every child still running at once (SIGKILL, no grace period),
        besides cancelling what is queued.  Default: nothing."""

    def reported(self, key: str) -> None:  # noqa: B027 - optional to override, not abstract
        """The child sent its final report: its process ends by itself shortly, and
        ``close`` should let it rather than cancel it.  Default: nothing."""

    def launch_window(self) -> int | None:
        """How many of a tier's children to hold at once, launched and not yet ended;
        the tier hands over more as they end.  None (the default): every ready child at
        once, for a scheduler whose queue is cheap to fill (a batch system's)."""
        return None

    # -- placement --------------------------------------------------------------------------
    def listen_host(self) -> str:
        """Address the tier's websocket server binds to; children must reach it."""
        return "127.0.0.1"

    def parent_url(self, request: LaunchRequest, url: str) -> str:
        """URL the child should use for its parent (a tunnel may change it)."""
        return url

    def check_resources(self, path: str, resources: Resources) -> str | None:
        """Why a request can never be met here, or None.  Called before anything runs."""
        return None

    def export(self) -> dict[str, Any]:
        """JSON-ready state handed to the schedulers of child tiers (``context.inherited``)."""
        return {}
