"""The hub's HTML pages, their JSON and their live event streams (docs/hub.md, "The pages").

Server-rendered pages (Jinja2, autoescaped), a small script of our own in
``static/`` that applies live updates as text, and plots drawn as SVG on the
server: nothing is fetched from another site, and nothing needs a build step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from gator_hub.web.access import Access
from gator_hub.web.events import event_routes
from gator_hub.web.jsonapi import json_routes
from gator_hub.web.pages import page_routes
from gator_hub.web.render import STATIC

__all__ = ["routes"]


def routes(store: Any, live: Any, reader: Callable[[Request], None]) -> list[BaseRoute]:
    """The page routes, mounted by :func:`gator_hub.api.create_app` beside the API.
    ``reader`` raises Unauthorized when a read token is needed and missing."""
    access = Access(reader)
    return [
        *json_routes(store, access),
        *event_routes(store, live, access),
        *page_routes(store, access),
        # the stylesheet and the script hold no data: served to anyone
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
