"""Every error Gator raises on purpose derives from :class:`GatorError`.

The tree::

    GatorError
    ├── SpecError            a spec is malformed; carries every SpecIssue found
    ├── UsageError           bad command-line or API usage (unknown scheduler,
    │                        bad --sched-arg, tracking directory in use, ...)
    ├── ProtocolError        a peer sent something the protocol does not allow
    ├── SchedulerError       a scheduler could not do what was asked
    │   └── LaunchError      a child could not be launched (``transient`` says
    │                        whether trying again may help)
    ├── StoreError           a tracking store cannot be opened or read
    └── ChildError           a child process could not reach or talk to its parent

Messages are short, lower-case facts that name the offending value, the file
and line, or the command with its exit code and output.  The CLI prints them
without a traceback and maps them onto exit codes (2 for spec and usage
errors).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "GatorError",
    "SpecIssue",
    "SpecError",
    "UsageError",
    "ProtocolError",
    "SchedulerError",
    "LaunchError",
    "StoreError",
    "ChildError",
]


class GatorError(Exception):
    """Base class of every error Gator raises on purpose."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in a spec, located by file, line and column (1-based)."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


class SpecError(GatorError):
    """A spec failed validation.  ``issues`` lists every problem, not just the first."""

    def __init__(self, issues: Iterable[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column))
        errors = [i for i in self.issues if i.severity == "error"]
        lines = [str(i) for i in self.issues]
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''} in spec"
        super().__init__("\n".join(lines + [count]))


class UsageError(GatorError):
    """Gator was asked for something it cannot do as asked."""


class ProtocolError(GatorError):
    """A message broke the wire protocol (malformed, unknown or out of order)."""


class SchedulerError(GatorError):
    """A scheduler plugin failed."""


class LaunchError(SchedulerError):
    """A child could not be launched.

    ``transient`` is true when trying again later may succeed (a busy
    controller), false when it never will (a malformed request).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class StoreError(GatorError):
    """A tracking store could not be opened, written or read."""


class ChildError(GatorError):
    """A child process could not reach its parent or lost it."""
