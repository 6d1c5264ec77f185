"""Reading a page's query parameters: each bad one is a :class:`BadRequest` that names
it (a 400 with ``{"error": ...}`` on the JSON routes, an error page on the HTML ones),
never a 500.  Text that PostgreSQL would refuse (NUL characters) is refused here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from starlette.requests import Request

from gator_core import Severity
from gator_hub.api.payloads import check_run_id
from gator_hub.errors import BadRequest

__all__ = ["MAX_TEXT", "text", "required", "number", "day", "severity", "choice", "run_id", "other_run",
           "job_path"]

MAX_TEXT = 1000  # characters of any one text parameter


def _clean(value: str, name: str) -> str:
    if "\x00" in value:
        raise BadRequest(f"{name} must not hold NUL characters")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{name} is longer than {MAX_TEXT} characters")
    return value


def text(request: Request, name: str) -> str | None:
    """A text parameter, stripped; None when missing or empty."""
    value = request.query_params.get(name)
    if value is None:
        return None
    return _clean(value, name).strip() or None


def required(request: Request, name: str) -> str:
    """A text parameter that must be there."""
    value = text(request, name)
    if value is None:
        raise BadRequest(f"the parameter {name} is needed")
    return value


def number(request: Request, name: str, default: int, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``."""
    value = text(request, name)
    if value is None:
        return default
    try:
        found = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if not low <= found <= high:
        raise BadRequest(f"{name} must be from {low} to {high}")
    return found


def day(request: Request, name: str, *, end: bool = False) -> float | None:
    """A date ``YYYY-MM-DD`` (UTC) as seconds since the epoch: its first second, or with
    ``end`` the first second of the next day (so that a range's last day is included)."""
    value = text(request, name)
    if value is None:
        return None
    try:
        start = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        raise BadRequest(f"{name} must be a date: YYYY-MM-DD") from None
    return (start + timedelta(days=1 if end else 0)).timestamp()


def severity(request: Request, name: str = "severity") -> int:
    """The lowest severity wanted, by name (``warning``) or number; 0 (all) when missing."""
    value = text(request, name)
    if value is None:
        return 0
    if value.isdigit():
        return int(value)
    try:
        return int(Severity.parse(value))
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def choice(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = text(request, name)
    if value is not None and value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}")
    return value


def run_id(request: Request, name: str = "run_id") -> str:
    """A run id from the URL's path."""
    return check_run_id(request.path_params[name])


def other_run(request: Request, name: str) -> str | None:
    """A run id from the query (``?with=``), or None."""
    value = text(request, name)
    return check_run_id(value) if value is not None else None


def job_path(request: Request) -> str:
    """A node's path from the URL's path."""
    return _clean(request.path_params["path"], "the job's path")
