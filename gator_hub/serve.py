"""Running the hub under uvicorn on a socket we bind ourselves, so that the URL
printed is the one served (``--port 0`` picks a free port)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from gator_hub.api import create_app
from gator_hub.errors import HubUsageError

__all__ = ["serve"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only for a
    # socket that says it is TCP; without it a kept-alive request waited ~40 ms (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HubUsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(db_url: str, token: str, read_token: str | None, host: str, port: int,
          retention: float | None = None) -> None:
    """Serve until interrupted (SIGINT or SIGTERM end it cleanly)."""
    # Migrates first: a bad database fails before we listen.
    app = create_app(db_url, token, read_token, retention=retention)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"gator hub: serving on http://{shown}:{bound}/", flush=True)
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"gator hub: listening on {host}, not only this machine: use https in front of it",
              file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=5,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
