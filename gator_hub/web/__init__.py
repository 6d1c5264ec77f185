"""The hub's HTML pages and their live event streams (being written: see docs/hub.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

__all__ = ["routes"]


def routes(store: Any, live: Any, reader: Callable[[Request], None]) -> list[BaseRoute]:
    """The page routes, mounted by :func:`gator_hub.api.create_app` beside the API."""
    return []
