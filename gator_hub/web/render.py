"""Turning page data into HTML: the Jinja2 environment (autoescape on for every
template, so whatever a job printed is shown as text), the filters the templates
share, and the security headers every page answer carries.

The Content-Security-Policy allows scripts and styles only from the hub's own
``/static/`` files: even a value that somehow escaped escaping could not run.
"""

from __future__ import annotations

import shlex
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from starlette.responses import HTMLResponse, Response

from gator_core import human_bytes

__all__ = ["SECURITY_HEADERS", "TEMPLATES", "STATIC", "environment", "html", "secure", "when", "took",
           "link_query"]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a ?token= must never travel to another site
}


def when(stamp: float | None) -> str:
    """Seconds since the epoch as ``2024-05-01 13:02:07`` (UTC)."""
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def took(seconds: float | None) -> str:
    """A duration, short: ``850 ms``, ``12.3 s``, ``4 m 05 s``, ``2 h 03 m``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def elapsed(run: dict[str, Any]) -> float | None:
    """How long a run took, or has taken so far."""
    started, stopped = run.get("started"), run.get("stopped")
    if started is None:
        return None
    return (stopped if stopped is not None else time.time()) - started


def link_query(**params: Any) -> str:
    """``?a=1&b=2`` of the parameters that have a value ('' when none)."""
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return f"?{urlencode(kept)}" if kept else ""


def _path_part(value: str) -> str:
    return quote(str(value), safe="")


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=ChainableUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, took=took, size=human_bytes, url=_path_part, number=_number,
                       shell=lambda argv: shlex.join(str(arg) for arg in argv or []))
    env.globals.update(query=link_query, elapsed=elapsed)
    return env


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


_ENV = environment()


def html(template: str, code: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``templates/<template>`` with the security headers."""
    body = _ENV.get_template(template).render(**context)
    answer = HTMLResponse(body, status_code=code, headers={"Cache-Control": "no-store"})
    secure(answer)
    return answer
