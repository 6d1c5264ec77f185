"""Thin websocket layer over :mod:`gator_core.wire.protocol`.

The server (the websockets library) authenticates every peer at the HTTP
handshake: the request must carry ``Authorization: Bearer <run token>``;
anything else gets 401 and a log line, and the server keeps serving.  The
client side (:mod:`gator_core.wire.wsclient` over asyncio streams) sends the token
the same way; it comes from the environment, never from a command line.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import logging
import socket
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from gator_core.backoff import Backoff
from gator_core.exceptions import ChildError, ProtocolError
from gator_core.wire.protocol import ChildSide, Message, ParentSide, Refuse, encode
from gator_core.wire.synclink import SEND_TIMEOUT
from gator_core.wire.wsclient import (
    ChildSession,
    HandshakeReader,
    LinkClosed,
    handshake_request,
    parse_url,
)

__all__ = ["ParentServer", "PeerLink", "ParentLink", "connect_parent", "ConnectionClosed", "LinkClosed",
           "MAX_MESSAGE"]

MAX_MESSAGE = 256 * 1024 * 1024  # a welcome for a large subtree can be big
_log = logging.getLogger("gator.transport")
# websockets logs every failed handshake with a traceback; the refusals are
# reported by us, once, in plain words.
logging.getLogger("websockets").setLevel(logging.CRITICAL)


class PeerLink:
    """The parent's end of one child connection."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.protocol = ParentSide()
        self.remote = ws.remote_address

    async def receive(self) -> Message:
        """Next message; raises ProtocolError (bad message) or ConnectionClosed."""
        return self.protocol.receive(await self.ws.recv())

    async def send(self, message: Message) -> None:
        await self.ws.send(encode(message))

    async def refuse(self, reason: str) -> None:
        """Tell the peer why, then close with 1008 (policy violation)."""
        try:
            await self.ws.send(encode(Refuse(reason)))
            await self.ws.close(1008, reason[:120])
        except ConnectionClosed:
            pass


class ParentServer:
    """The websocket server of a tier: accepts its children."""

    def __init__(
        self,
        host: str,
        token: str,
        handler: Callable[[PeerLink], Awaitable[None]],
        on_refused: Callable[[str], None],
    ) -> None:
        self.host = host
        self._token = token.encode()
        self._handler = handler
        self._on_refused = on_refused
        self._server: Server | None = None
        self.url = ""

    def _authenticate(self, ws: ServerConnection, request: Request) -> Response | None:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self._token):
            return None
        peer = ws.remote_address
        self._on_refused(f"refused a connection from {peer[0]}:{peer[1]}: "
                         f"{'wrong token' if given else 'no token'}")
        return ws.respond(http.HTTPStatus.UNAUTHORIZED, "gator: authentication required\n")

    async def _serve(self, ws: ServerConnection) -> None:
        await self._handler(PeerLink(ws))

    async def start(self) -> str:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = await serve(
            self._serve,
            self.host,
            0,  # the kernel picks a free port; we read it back (no bind-close-rebind race)
            family=family,
            process_request=self._authenticate,
            compression=None,
            ping_interval=None,  # liveness is the protocol's heartbeat
            max_size=MAX_MESSAGE,
            max_queue=None,
            server_header=None,
        )
        port = self._server.sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"ws://{host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close(close_connections=True)
            try:
                await asyncio.wait_for(server.wait_closed(), timeout=5)
            except asyncio.TimeoutError:  # pragma: no cover - defensive
                _log.warning("websocket server did not close within 5 s")


class ParentLink:
    """A child's connection to its parent, over asyncio streams (used by tiers).

    The bytes are interpreted by :class:`~gator_core.wire.wsclient.ChildSession`,
    exactly as the wrapper's synchronous link does.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 leftover: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.session = ChildSession(leftover)
        self._inbox: list[Message] = []
        self._closed = False

    @property
    def protocol(self) -> ChildSide:
        return self.session.protocol

    async def send(self, message: Message) -> None:
        await self._write(self.session.message_bytes(message))

    async def _write(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed("the connection to the parent is closed")
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), SEND_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            self._closed = True
            raise LinkClosed(f"cannot send to the parent: {exc}") from None

    async def receive(self) -> Message:
        """The next message; raises LinkClosed when the connection ends."""
        while not self._inbox:
            data = self.session.take_leftover()
            if not data:
                if self._closed:
                    raise LinkClosed("the parent closed the connection")
                try:
                    data = await self.reader.read(1 << 20)
                except OSError as exc:
                    self._closed = True
                    raise LinkClosed(f"connection to the parent broke: {exc}") from None
                if not data:
                    self._closed = True
                    raise LinkClosed("the parent closed the connection")
            self._inbox.extend(self.session.receive_data(data))
            answer = self.session.data_to_send()
            if answer:
                try:
                    await self._write(answer)
                except LinkClosed:
                    pass
            if self.session.closed:
                self._closed = True
        return self._inbox.pop(0)

    async def close(self) -> None:
        if not self._closed:
            try:
                await self._write(self.session.closing_frame())  # 1002 or 1007 after a broken frame
            except LinkClosed:
                pass
            self._closed = True
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (asyncio.TimeoutError, OSError):
            pass


async def _attempt(url: str, token: str, timeout: float) -> ParentLink:
    endpoint = parse_url(url)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.host, endpoint.port), timeout)
    try:
        request, key = handshake_request(endpoint, {"Authorization": f"Bearer {token}"})
        writer.write(request)
        handshake = HandshakeReader(key)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data = await asyncio.wait_for(reader.read(65536), max(0.1, deadline - loop.time()))
            if not data:
                raise ConnectionResetError("parent closed the connection during the handshake")
            rest = handshake.feed(data)
            if rest is not None:
                return ParentLink(reader, writer, rest)
    except BaseException:
        writer.close()
        raise


async def connect_parent(url: str, token: str, *, timeout: float) -> ParentLink:
    """Connect to a parent, retrying with back-off until ``timeout`` seconds pass.

    A refusal (wrong token) is not retried.  Raises :class:`ChildError`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    # Full jitter, as for wrappers: the child tiers of a restarted tier must not all
    # knock again at once.
    delays = Backoff(first=0.05, cap=2.0, jitter="full").delays()
    last = "no attempt"
    while True:
        remaining = deadline - loop.time()
        try:
            return await _attempt(url, token, max(0.5, min(remaining, 10.0)))
        except ProtocolError as exc:
            raise ChildError(f"parent at {url} refused the connection: {exc}") from None
        except (OSError, asyncio.TimeoutError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        delay = next(delays)
        if loop.time() + delay > deadline:
            raise ChildError(f"cannot reach parent at {url} within {timeout:.0f} s ({last})")
        await asyncio.sleep(delay)
