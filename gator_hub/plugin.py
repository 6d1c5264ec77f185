"""gator_hub's plugin for Gator: ``gator run --hub URL`` reports the run here.

Registered through the entry-point group ``gator``; it imports nothing heavy
until a run asks for a hub, so that every other ``gator`` command starts as fast
as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gator_core import hookimpl

__all__ = ["gator_hub_reporter", "hub_url"]


def hub_url(text: str) -> str:
    """``http://host:port`` as given, or the seed's ``host:port`` as ``http://host:port``."""
    text = text.strip().rstrip("/")
    return text if "://" in text else f"http://{text}"


@hookimpl
def gator_hub_reporter(url: str, token_file: Path | None, say: Callable[[str], None]) -> Any:
    from gator_hub import settings
    from gator_hub.client import HubClient
    from gator_hub.errors import HubUsageError, PushError
    from gator_hub.reporter import TIMEOUT, HubReporter

    if token_file is not None:
        token = settings.read_token(Path(token_file))
    else:
        token = os.environ.get(settings.TOKEN_ENV, "").strip()
        if not token:
            raise HubUsageError(f"--hub needs the hub's token: give --hub-token-file FILE or set "
                                f"{settings.TOKEN_ENV}")
    try:
        client = HubClient(hub_url(url), token, timeout=TIMEOUT)
    except PushError as exc:
        raise HubUsageError(str(exc)) from None
    return HubReporter(client, say)
