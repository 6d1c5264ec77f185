"""A child's parent link over the websockets library's sans-I/O client (bench only).

``LibrarySyncLink`` is :class:`gator_core.wire.synclink.SyncParentLink` with the
hand-written client (:mod:`gator_core.wire.wsclient`) swapped for
``websockets.client.ClientProtocol``: the same socket code, the same
``selectors``-friendly interface, only the websocket handshake and framing
differ, so that ``bench/ws_clients/run`` measures the clients and nothing else.

It is what Gator would ship if the library cost a forked wrapper no more than
0.2 ms per job; see ``run`` for the measurement and the decision.  Only the
synchronous link is covered: a tier hands its connection to the asyncio
``ParentLink`` after the welcome, which keeps the hand-written session here
(tiers are few; the bench is about wrappers).
"""

from __future__ import annotations

import socket

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import WebSocketURI

from gator_core.exceptions import ProtocolError
from gator_core.wire import synclink
from gator_core.wire.protocol import ChildSide, Message, encode
from gator_core.wire.transport import MAX_MESSAGE
from gator_core.wire.wsclient import Endpoint

__all__ = ["LibrarySession", "LibrarySyncLink", "install"]


class LibrarySession:
    """Same interface as :class:`gator_core.wire.wsclient.ChildSession`, over an
    opened ``ClientProtocol``.  The library checks frames (masking, control
    frames, fragmentation, opcodes, reserved bits) and answers pings and closes;
    this class reassembles text messages and decodes them strictly (1007)."""

    def __init__(self, client: ClientProtocol, leftover: bytes) -> None:
        self.client = client
        self.protocol = ChildSide()
        self.closed = False
        self._parts: list[bytes] = []
        self._leftover = leftover

    @property
    def frames(self) -> LibrarySession:
        return self  # SyncParentLink.detach asks for ``session.frames.buffered``

    @property
    def buffered(self) -> bytes:
        return bytes(self.client.reader.buffer)

    def take_leftover(self) -> bytes:
        data, self._leftover = self._leftover, b""
        return data

    def receive_data(self, data: bytes) -> list[Message]:
        self.client.receive_data(data)
        messages = [message for frame in self.client.events_received()
                    if (message := self._message(frame)) is not None]
        if self.client.parser_exc is not None:
            raise ProtocolError(f"parent broke RFC 6455: {self.client.parser_exc}")
        if self.client.close_rcvd is not None or self.client.state is State.CLOSED:
            self.closed = True
        return messages

    def _message(self, frame: Frame) -> Message | None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.CONT:  # the library checks the order
            self._parts.append(bytes(frame.data))
            if not frame.fin:
                return None
            payload, self._parts = b"".join(self._parts), []
            try:
                text = payload.decode()
            except UnicodeDecodeError as exc:
                self.client.fail(1007, "invalid UTF-8")
                raise ProtocolError(f"invalid UTF-8 in a text message: {exc.reason}") from None
            return self.protocol.receive(text)
        if frame.opcode is Opcode.BINARY:
            self.client.fail(1003, "binary messages are not part of the protocol")
            raise ProtocolError("unexpected binary message")
        return None  # control frames: the library has answered them

    def data_to_send(self) -> bytes:
        return b"".join(self.client.data_to_send())  # SEND_EOF is b"": the link closes the socket

    def message_bytes(self, message: Message) -> bytes:
        self.client.send_text(encode(message).encode())
        return b"".join(self.client.data_to_send())


def _handshake(sock: socket.socket, client: ClientProtocol) -> bytes:
    """Read the upgrade response and feed it, and only it, to the client: the bytes
    after it (frames sent at once) are returned, to be fed like any later read."""
    buffer = b""
    while True:
        data = sock.recv(65536)
        if not data:
            raise ConnectionResetError("parent closed the connection during the handshake")
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(buffer) > 16384:
            raise ProtocolError("handshake response too long")
    client.receive_data(buffer[:end + 4])
    events = client.events_received()
    if client.handshake_exc is not None or not events or not isinstance(events[0], Response):
        raise ProtocolError(f"handshake refused: {client.handshake_exc}")
    return buffer[end + 4:]


class LibrarySyncLink(synclink.SyncParentLink):
    """The wrapper's link, with the library's client in place of the hand-written one."""

    def __init__(self, sock: socket.socket, session: LibrarySession) -> None:  # type: ignore[override]
        # The base class's attributes, set directly: its __init__ would build a
        # hand-written session for nothing.
        self.sock = sock
        self.session = session  # type: ignore[assignment]
        self._inbox: list[Message] = []
        self._closed = False

    @classmethod
    def _attempt(cls, endpoint: Endpoint, token: str, timeout: float) -> synclink.SyncParentLink:  # type: ignore[override]
        host, port, path = endpoint
        sock = synclink._open(host, port, timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = ClientProtocol(WebSocketURI(False, host, port, path, ""), max_size=MAX_MESSAGE)
            request = client.connect()
            request.headers["Authorization"] = f"Bearer {token}"
            client.send_request(request)
            sock.sendall(b"".join(client.data_to_send()))
            rest = _handshake(sock, client)
            sock.setblocking(False)
            return cls(sock, LibrarySession(client, rest))  # type: ignore[arg-type]
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        if not self._closed:
            session: LibrarySession = self.session  # type: ignore[assignment]
            try:
                session.client.send_close(1000)
                self.sock.send(session.data_to_send())  # best effort, as the base class
            except OSError:
                pass
            self._closed = True
        self.sock.close()


def install() -> None:
    """Make every SyncParentLink of this process (and of its forks) use the library.
    Patches the class in place, so modules that imported it already see it too."""
    for name in ("__init__", "_attempt", "close"):
        setattr(synclink.SyncParentLink, name, LibrarySyncLink.__dict__[name])
