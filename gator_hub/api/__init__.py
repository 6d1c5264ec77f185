"""The hub's HTTP API (Starlette)."""

from gator_hub.api.app import MAX_BODY, create_app

__all__ = ["MAX_BODY", "create_app"]
