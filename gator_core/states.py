"""Gator's vocabulary, defined once: message severities, node results and child states.

They are enums, but their values are what the stores, the wire protocol and
``--json`` have always carried: severities are logging's numbers (a plugin
may pass ``logging.WARNING`` or ``Severity.WARNING`` alike) and are counted
under their lower-case names; results and states are ``StrEnum``s, so
``Result.PASS == "pass"`` and JSON holds ``"pass"``.
"""

from __future__ import annotations

import enum

__all__ = ["FAILURES", "Severity", "SEVERITY_KEYS", "SEVERITY_VALUES", "SEVERITY_NAMES", "Result", "ChildState"]


class Severity(enum.IntEnum):
    """How serious a message is; the numbers are the :mod:`logging` levels."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @property
    def key(self) -> str:
        """The name messages are counted under: ``"warning"``."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """A severity from its name, any case (``"Warning"``); ValueError names the choices."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}; use one of {', '.join(SEVERITY_KEYS)}") from None

    @classmethod
    def of(cls, value: int) -> Severity:
        """The severity of a stored number; a number between levels counts as the level below
        it (25 is INFO), as logging files it."""
        for member in reversed(cls):
            if value >= member:
                return member
        return cls.DEBUG


SEVERITY_KEYS: tuple[str, ...] = tuple(member.key for member in Severity)
# Plain views for the paths that run once per line of output (a job may print millions):
# enum members cost there, and SQLite adapts an int subclass more slowly than an int.
SEVERITY_VALUES: dict[str, int] = {member.key: int(member) for member in Severity}  # "warning" -> 30
SEVERITY_NAMES: dict[int, str] = {int(member): member.key for member in Severity}  # 30 -> "warning"


class Result(enum.StrEnum):
    """How a node stands.  ``final`` is false while it may still change (PSI/J's job
    states carry the same flag)."""

    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"  # a dependency ruled it out
    LOST = "lost"  # it died or went silent without a final word
    CANCELLED = "cancelled"  # it never started: the run (or its tier) was stopped first
    TIMEOUT = "timeout"  # it ran past its time limit and was stopped: a failure
    RUNNING = "running"
    PENDING = "pending"

    @property
    def final(self) -> bool:
        return self not in (Result.RUNNING, Result.PENDING)

    @property
    def failed(self) -> bool:
        """Whether this result is a failure: fail, lost or timeout."""
        return self in FAILURES

    @property
    def count_key(self) -> str:
        """The key jobs with this result are counted under in a summary's ``jobs``."""
        return _COUNT_KEYS[self]


# A timeout is counted among the failed jobs: the counts keep their keys.
_COUNT_KEYS = {Result.PASS: "passed", Result.FAIL: "failed", Result.SKIPPED: "skipped", Result.LOST: "lost",
               Result.CANCELLED: "cancelled", Result.TIMEOUT: "failed", Result.RUNNING: "running",
               Result.PENDING: "pending"}
# The results that are failures; plain strings compare equal to them ("fail" in FAILURES).
FAILURES = frozenset({Result.FAIL, Result.LOST, Result.TIMEOUT})


class ChildState(enum.StrEnum):
    """Where a tier's child is in its life, as the tier sees it."""

    PENDING = "pending"  # waiting for its dependencies or for the tier to launch it
    LAUNCHED = "launched"  # handed to the scheduler; its process has not said hello
    RUNNING = "running"  # connected
    DONE = "done"  # its final summary is recorded

    @property
    def final(self) -> bool:
        return self is ChildState.DONE
