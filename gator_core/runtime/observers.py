"""Following a run from its root process: what a run observer is told, and when.

An observer (a hub reporter, for one) sees what the console sees: the run's
start, every change below the root tier (a node started, finished, or a tier
said something serious), the whole tree's counts about twice a second, and the
end.  The root tier calls it on its event loop, so every call must return at
once: an observer queues the work and does it elsewhere (a thread).  A failing
observer is the observer's problem, never the run's: :class:`Tee` catches what
it raises and says so once.
"""

from __future__ import annotations

import getpass
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gator_core.store.summary import Summary
from gator_core.wire.protocol import Change

__all__ = ["RunInfo", "RunObserver", "Tee"]


@dataclass
class RunInfo:
    """Who runs what, where: a run as an observer learns of it before anything starts."""

    run_id: str
    tracking: Path
    spec_name: str  # the top node's id
    kind: str  # the top node's kind: group or array
    spec_file: str  # the file given, or "<python>"
    spec_text: str  # the tree as written into the tracking directory (spec.yaml)
    scheduler: str
    seed: int
    started: float
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    user: str = field(default_factory=getpass.getuser)
    host: str = field(default_factory=socket.gethostname)


class RunObserver(Protocol):
    """What a run observer implements.  Every method but :meth:`close` must return at once."""

    def run_started(self, run: RunInfo) -> None:
        """The run is about to start its first child; its tracking directory exists."""

    def change(self, change: Change) -> None:
        """A node below the root started or finished, or a tier said something serious."""

    def tick(self, summary: Summary) -> None:
        """The whole tree's counts, about twice a second."""

    def run_finished(self, run: RunInfo, summary: Summary, interrupted: bool) -> None:
        """The root tier is done; ``summary`` is the top node's final summary."""

    def close(self, timeout: float) -> list[str]:
        """Finish the observer's work within ``timeout`` seconds; returns what the user
        should be told (for instance that some of it could not be done)."""


class Tee:
    """The root tier's sink: the console first, then every observer.  Attributes the
    console has and observers do not (``alert``, ``note``) are the console's."""

    def __init__(self, console: Any, observers: list[RunObserver], say: Any) -> None:
        self.console = console
        self.observers = list(observers)
        self._say = say
        self._failed: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        if self.console is None:
            raise AttributeError(name)
        return getattr(self.console, name)

    def _each(self, method: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(*args)
            except Exception as exc:  # noqa: BLE001 - an observer never stops a run
                if id(observer) not in self._failed:
                    self._failed.add(id(observer))
                    self._say(f"gator: the run observer {type(observer).__name__} failed in {method}: "
                              f"{type(exc).__name__}: {exc} (the run goes on)")

    def change(self, change: Change) -> None:
        if self.console is not None:
            self.console.change(change)
        self._each("change", change)

    def tick(self, summary: Summary) -> None:
        if self.console is not None and hasattr(self.console, "tick"):
            self.console.tick(summary)
        self._each("tick", summary)

    def started(self, run: RunInfo) -> None:
        self._each("run_started", run)

    def finished(self, run: RunInfo, summary: Summary, interrupted: bool) -> None:
        self._each("run_finished", run, summary, interrupted)
