"""The hub's exceptions: one branch of gator_core's tree, so ``except GatorError``
catches them too, each carrying the HTTP status it answers with."""

from __future__ import annotations

from gator_core import GatorError, UsageError

__all__ = ["HubError", "BadRequest", "Unauthorized", "NotFound", "TooLarge", "HubUsageError", "PushError",
           "BadTracking"]


class HubError(GatorError):
    """Base of every error the hub raises on purpose; ``status`` is its HTTP answer."""

    status = 500


class BadRequest(HubError):
    """A request the hub will not act on: not JSON, wrong types, missing fields."""

    status = 400


class Unauthorized(HubError):
    """No token, or the wrong one."""

    status = 401


class NotFound(HubError):
    """No such run."""

    status = 404


class TooLarge(HubError):
    """A request body over the size limit."""

    status = 413


class HubUsageError(HubError, UsageError):
    """The command line was asked for something it cannot do (exit code 2)."""

    status = 400


class PushError(HubError):
    """A run could not be sent to a hub: hub unreachable, refused, or a bad directory.

    ``answered`` is the hub's HTTP status when it answered with an error (None when
    it could not be reached): 4xx means sending the same again cannot help."""

    def __init__(self, message: str, answered: int | None = None) -> None:
        super().__init__(message)
        self.answered = answered


class BadTracking(PushError, UsageError):
    """``gator hub push`` was given something that is not a run's tracking directory (exit code 2)."""
