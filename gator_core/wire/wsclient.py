"""The client side of RFC 6455 websockets, without any I/O.

Why not the websockets library here: a run starts one wrapper process per
job, often ten thousand of them, and each one pays for every object it
touches after being forked.  The library's client (with asyncio) costs a
wrapper several milliseconds of CPU; the handful of functions below cost a
fraction of one.  Tiers serve their children with the websockets library;
children (wrappers and tiers) talk to their parent through this module,
driven synchronously by the wrapper (:mod:`gator_core.wire.synclink`) and by
asyncio in tiers (:mod:`gator_core.wire.uplink`).

What it covers is what a child needs: the opening handshake (with an
``Authorization`` header), masked text frames out, unmasked frames in
(fragmented or not), ping/pong and the close handshake.  No extensions.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from typing import NamedTuple
from urllib.parse import urlsplit

from gator_core.exceptions import ProtocolError
from gator_core.wire.protocol import ChildSide, Message, encode

__all__ = [
    "LinkClosed",
    "OP_CONT",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "Endpoint",
    "parse_url",
    "handshake_request",
    "HandshakeReader",
    "encode_frame",
    "close_frame",
    "FrameReader",
    "Frame",
    "ChildSession",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HEAD = 16384


class LinkClosed(ConnectionError):
    """The connection to the parent ended or broke."""


class Endpoint(NamedTuple):
    host: str
    port: int
    path: str


def parse_url(url: str) -> Endpoint:
    """``ws://host:port/path`` to its parts.  Only ``ws://`` is supported."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ProtocolError(f"not a ws:// URL: {url!r}")
    return Endpoint(parts.hostname, parts.port or 80, parts.path or "/")


def _accept_for(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def handshake_request(endpoint: Endpoint, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """The HTTP upgrade request and the key its answer must echo (hashed)."""
    key = base64.b64encode(os.urandom(16))
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    lines = [
        f"GET {endpoint.path} HTTP/1.1",
        f"Host: {host}:{endpoint.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


class HandshakeReader:
    """Collects the server's answer to the upgrade request and checks it."""

    def __init__(self, key: bytes) -> None:
        self._expected = _accept_for(key)
        self._buffer = b""

    def feed(self, data: bytes) -> bytes | None:
        """Returns the bytes after the response once it is complete (frames may
        follow it in the same read), None while more is needed.  Raises
        ProtocolError for a refusal or a malformed answer."""
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ProtocolError("handshake response too long")
            return None
        head, rest = self._buffer[:end], self._buffer[end + 4:]
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1."):
            raise ProtocolError(f"not an HTTP response: {lines[0]!r}")
        if status[1] != "101":
            raise ProtocolError(f"HTTP {status[1]} {status[2] if len(status) > 2 else ''}".strip())
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("upgrade", "").lower() != "websocket":
            raise ProtocolError("response does not upgrade to websocket")
        if fields.get("sec-websocket-accept", "").encode() != self._expected:
            raise ProtocolError("wrong Sec-WebSocket-Accept in handshake response")
        return rest


def _mask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    size = len(data)
    repeated = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")


def encode_frame(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    """One final frame.  Clients must mask; the server side of tests may not."""
    size = len(payload)
    first = 0x80 | opcode
    flag = 0x80 if mask else 0
    if size < 126:
        head = struct.pack("!BB", first, flag | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, flag | 126, size)
    else:
        head = struct.pack("!BBQ", first, flag | 127, size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _mask(payload, key)


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])


class Frame(NamedTuple):
    opcode: int
    payload: bytes


class FrameReader:
    """Turns received bytes into whole messages and control frames.

    Fragmented messages are reassembled; ``feed`` returns complete items
    only.  ``max_size`` bounds one message.
    """

    def __init__(self, max_size: int = 256 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_op = 0
        self.max_size = max_size

    @property
    def buffered(self) -> bytes:
        """Bytes received but not yet part of a whole frame (to hand a connection over)."""
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        out: list[Frame] = []
        buf = self._buffer
        while True:
            if len(buf) < 2:
                break
            first, second = buf[0], buf[1]
            if first & 0x70:
                raise ProtocolError("frame uses reserved bits (no extension was agreed)")
            size = second & 0x7F
            offset = 2
            if size == 126:
                if len(buf) < 4:
                    break
                size = struct.unpack_from("!H", buf, 2)[0]
                offset = 4
            elif size == 127:
                if len(buf) < 10:
                    break
                size = struct.unpack_from("!Q", buf, 2)[0]
                offset = 10
            if size > self.max_size:
                raise ProtocolError(f"message of {size} bytes is over the limit")
            masked = bool(second & 0x80)
            key = b""
            if masked:
                if len(buf) < offset + 4:
                    break
                key = bytes(buf[offset:offset + 4])
                offset += 4
            if len(buf) < offset + size:
                break
            payload = bytes(buf[offset:offset + size])
            del buf[:offset + size]
            if masked:
                payload = _mask(payload, key)
            fin, opcode = bool(first & 0x80), first & 0x0F
            if opcode >= 0x8:  # control frames are never fragmented
                out.append(Frame(opcode, payload))
                continue
            if opcode != OP_CONT:
                self._fragment_op, self._fragments = opcode, []
            self._fragments.append(payload)
            if fin:
                message = b"".join(self._fragments)
                self._fragments = []
                out.append(Frame(self._fragment_op, message))
        return out


class ChildSession:
    """A child's side of an upgraded connection: bytes in, protocol messages out.

    ``receive_data`` returns the messages that arrived (checked by
    :class:`~gator_core.wire.protocol.ChildSide`); answers the protocol owes (a pong,
    the close handshake) collect in ``data_to_send``.  The synchronous and the
    asyncio drivers both use it, so both speak exactly the same.
    """

    def __init__(self, leftover: bytes = b"") -> None:
        self.protocol = ChildSide()
        self.frames = FrameReader()
        self.closed = False
        self._outgoing: list[bytes] = []
        self._leftover = leftover

    def take_leftover(self) -> bytes:
        """Bytes that arrived with the handshake answer, to be fed first."""
        data, self._leftover = self._leftover, b""
        return data

    def receive_data(self, data: bytes) -> list[Message]:
        messages = []
        for frame in self.frames.feed(data):
            if frame.opcode == OP_TEXT:
                messages.append(self.protocol.receive(frame.payload.decode("utf-8", "replace")))
            elif frame.opcode == OP_PING:
                self._outgoing.append(encode_frame(OP_PONG, frame.payload))
            elif frame.opcode == OP_CLOSE:
                if not self.closed:
                    self._outgoing.append(close_frame())
                self.closed = True
            elif frame.opcode != OP_PONG:
                raise ProtocolError(f"unexpected frame type {frame.opcode}")
        return messages

    def data_to_send(self) -> bytes:
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        return data

    @staticmethod
    def message_bytes(message: Message) -> bytes:
        return encode_frame(OP_TEXT, encode(message).encode())
