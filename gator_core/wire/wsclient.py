"""The client side of RFC 6455 websockets, without any I/O.

Why not the websockets library here: a run starts one wrapper process per
job, often ten thousand of them, forked from a preloaded agent, and each one
pays for every object it creates and every page it touches after the fork.
``bench/ws_clients/run`` measured this client against the library's own
sans-I/O client (``websockets.client.ClientProtocol``, driven by the same
socket code): 1,000 wrappers forked from a preloaded process, each doing the
handshake, hello, welcome, three updates, the final report and its ack (2
shared cores, Python 3.11, websockets 17.4; medians per fork, from wait4):

    ====================  ==========  ===========
    per fork              CPU         page faults
    ====================  ==========  ===========
    bare fork and exit    1.02 ms     239
    + this module         +2.24 ms    +463
    + the library         +3.59 ms    +749
    ====================  ==========  ===========

The library costs 1.35 ms and 286 page faults more per job (1.24 ms in a
second run; still 0.95 ms when both clients had run once in the preloaded
process before it forked), far over the 0.2 ms the issue allowed, so this
module stays.  Its checks follow RFC 6455: the handshake (status, Upgrade,
Connection, Sec-WebSocket-Accept, no extension or subprotocol that was not
asked for) and every frame (below).

Tiers serve their children with the websockets library; children (wrappers
and tiers) talk to their parent through this module, driven synchronously by
the wrapper (:mod:`gator_core.wire.synclink`) and by asyncio in tiers
(:mod:`gator_core.wire.transport`).

What it covers is what a child needs: the opening handshake (with an
``Authorization`` header), masked text frames out, unmasked frames in
(fragmented or not), ping/pong and the close handshake.  No extensions.
Anything RFC 6455 tells a client to refuse raises :class:`FrameError` (a
:class:`~gator_core.exceptions.ProtocolError`) carrying the close code to
fail the connection with: 1002 for a masked frame, reserved bits, an unknown
opcode, a fragmented or oversized control frame, a data frame out of
sequence, or a malformed close frame; 1003 for a binary message (the
protocol is text); 1007 for text that is not UTF-8; 1009 for a message over
the size limit.
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
    "FrameError",
    "OP_CONT",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "CLOSE_NORMAL",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_UNSUPPORTED_DATA",
    "CLOSE_INVALID_DATA",
    "CLOSE_TOO_BIG",
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
_OPCODES = frozenset({OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG})
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_UNSUPPORTED_DATA = 1000, 1002, 1003
CLOSE_INVALID_DATA, CLOSE_TOO_BIG = 1007, 1009
# Codes a peer may send in a close frame (RFC 6455 7.4, and the IANA registry);
# 1005, 1006 and 1015 are for reporting only and must never be on the wire.
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
_MAX_CONTROL = 125
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HEAD = 16384


class LinkClosed(ConnectionError):
    """The connection to the parent ended or broke."""


class FrameError(ProtocolError):
    """The parent sent what RFC 6455 tells a client to refuse.  ``code`` is the close
    code to fail the connection with."""

    def __init__(self, message: str, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


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


# -- the opening handshake --------------------------------------------------------------------
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


def _header_fields(lines: list[str]) -> dict[str, str]:
    """Header lines to lower-case names and their values (repeated fields joined, as HTTP does)."""
    fields: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        fields[name] = f"{fields[name]}, {value.strip()}" if name in fields else value.strip()
    return fields


def _check_upgrade(fields: dict[str, str], expected_accept: bytes) -> None:
    """RFC 6455 4.1: the answers a client must fail the connection for."""
    if fields.get("upgrade", "").lower() != "websocket":
        raise ProtocolError("response does not upgrade to websocket")
    if "upgrade" not in (token.strip().lower() for token in fields.get("connection", "").split(",")):
        raise ProtocolError("response has no 'Connection: Upgrade'")
    if fields.get("sec-websocket-accept", "").encode() != expected_accept:
        raise ProtocolError("wrong Sec-WebSocket-Accept in handshake response")
    # This client asks for neither; a server that picks one anyway speaks something else.
    for name in ("sec-websocket-extensions", "sec-websocket-protocol"):
        if fields.get(name):
            raise ProtocolError(f"response selects {name} {fields[name]!r}, which was not asked for")


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
        _check_upgrade(_header_fields(lines[1:]), self._expected)
        return rest


# -- frames out -------------------------------------------------------------------------------
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


def close_frame(code: int = CLOSE_NORMAL, reason: str = "") -> bytes:
    # A control frame carries at most 125 bytes: the code and 123 of the reason,
    # cut on a character boundary so that the reason stays valid UTF-8.
    text = reason.encode()[:_MAX_CONTROL - 2].decode("utf-8", "ignore").encode()
    return encode_frame(OP_CLOSE, struct.pack("!H", code) + text)


# -- frames in --------------------------------------------------------------------------------
class Frame(NamedTuple):
    """A control frame or a whole (reassembled) data message.  ``text`` is the decoded
    payload of a text message, None for anything else."""

    opcode: int
    payload: bytes
    text: str | None = None


class _Header(NamedTuple):
    fin: bool
    opcode: int
    size: int
    offset: int  # where the payload starts


def _parse_header(buf: bytearray) -> _Header | None:
    """The header at the start of ``buf``, None while it is incomplete.  Refuses what
    RFC 6455 5.2-5.5 says a client must not accept, before waiting for the payload."""
    if len(buf) < 2:
        return None
    first, second = buf[0], buf[1]
    fin, opcode, size = bool(first & 0x80), first & 0x0F, second & 0x7F
    if first & 0x70:
        raise FrameError("frame uses reserved bits (no extension was agreed)")
    if opcode not in _OPCODES:
        raise FrameError(f"unknown opcode {opcode:#x}")
    if second & 0x80:
        raise FrameError("masked frame from the server (servers must not mask)")
    if opcode >= OP_CLOSE:
        if not fin:
            raise FrameError("fragmented control frame")
        if size > _MAX_CONTROL:  # 126 and 127 announce longer lengths: refused as well
            raise FrameError(f"control frame with a payload over {_MAX_CONTROL} bytes")
        return _Header(fin, opcode, size, 2)
    if size < 126:
        return _Header(fin, opcode, size, 2)
    if size == 126:
        return _Header(fin, opcode, struct.unpack_from("!H", buf, 2)[0], 4) if len(buf) >= 4 else None
    if len(buf) < 10:
        return None
    size = struct.unpack_from("!Q", buf, 2)[0]
    if size >> 63:
        raise FrameError("frame length has its most significant bit set")
    return _Header(fin, opcode, size, 10)


def _check_close(payload: bytes) -> None:
    """RFC 6455 5.5.1 and 7.4: a close frame is empty, or a valid code and a UTF-8 reason."""
    if not payload:
        return
    if len(payload) == 1:
        raise FrameError("close frame with a one-byte payload")
    code = struct.unpack_from("!H", payload)[0]
    if code not in _SENDABLE_CODES and not 3000 <= code < 5000:
        raise FrameError(f"close frame with invalid code {code}")
    _utf8(payload[2:], "close reason")


def _utf8(payload: bytes, what: str) -> str:
    try:
        return payload.decode("utf-8")  # strict: overlong forms and surrogates are refused too
    except UnicodeDecodeError as exc:
        raise FrameError(f"{what} is not valid UTF-8 (byte {exc.start})", CLOSE_INVALID_DATA) from None


class FrameReader:
    """Turns received bytes into whole messages and control frames.

    Fragmented messages are reassembled; ``feed`` returns complete items
    only, text messages decoded.  ``max_size`` bounds one message.  Raises
    :class:`FrameError` for anything RFC 6455 refuses; the reader must not be
    fed again after that (the connection is failed).
    """

    def __init__(self, max_size: int = 256 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._message_op: int | None = None  # opcode of the message being reassembled
        self._message_size = 0
        self.max_size = max_size

    @property
    def buffered(self) -> bytes:
        """Bytes received but not yet part of a whole frame (to hand a connection over)."""
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        out: list[Frame] = []
        while (header := _parse_header(self._buffer)) is not None:
            if header.opcode < OP_CLOSE:
                self._check_data(header)  # before waiting for a payload that may never be wanted
            end = header.offset + header.size
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[header.offset:end])
            del self._buffer[:end]
            if header.opcode >= OP_CLOSE:  # control frames may come between fragments
                if header.opcode == OP_CLOSE:
                    _check_close(payload)
                out.append(Frame(header.opcode, payload))
                continue
            message = self._add_fragment(header, payload)
            if message is not None:
                out.append(message)
        return out

    def _check_data(self, header: _Header) -> None:
        """RFC 6455 5.4: a message is one data frame and continuations, never interleaved."""
        if header.opcode == OP_CONT and self._message_op is None:
            raise FrameError("continuation frame with no message started")
        if header.opcode != OP_CONT and self._message_op is not None:
            raise FrameError("new data frame in the middle of a fragmented message")
        if self._message_size + header.size > self.max_size:
            raise FrameError(f"message of more than {self.max_size} bytes is over the limit", CLOSE_TOO_BIG)

    def _add_fragment(self, header: _Header, payload: bytes) -> Frame | None:
        """Adds a (checked) data frame; returns the message once its last frame arrived."""
        if header.opcode != OP_CONT:
            self._message_op = header.opcode
        self._fragments.append(payload)
        self._message_size += len(payload)
        if not header.fin:
            return None
        opcode, whole = self._message_op, b"".join(self._fragments)
        self._message_op, self._fragments, self._message_size = None, [], 0
        assert opcode is not None
        return Frame(opcode, whole, _utf8(whole, "text message") if opcode == OP_TEXT else None)


class ChildSession:
    """A child's side of an upgraded connection: bytes in, protocol messages out.

    ``receive_data`` returns the messages that arrived (checked by
    :class:`~gator_core.wire.protocol.ChildSide`); answers the protocol owes (a pong,
    the close handshake) collect in ``data_to_send``.  The synchronous and the
    asyncio drivers both use it, so both speak exactly the same.

    When the parent breaks RFC 6455, ``receive_data`` raises :class:`FrameError`,
    the session is failed (``failure``) and refuses any further data, and
    :meth:`closing_frame` carries the failure's close code.
    """

    def __init__(self, leftover: bytes = b"") -> None:
        self.protocol = ChildSide()
        self.frames = FrameReader()
        self.closed = False
        self.failure: FrameError | None = None
        self._outgoing: list[bytes] = []
        self._leftover = leftover

    def take_leftover(self) -> bytes:
        """Bytes that arrived with the handshake answer, to be fed first."""
        data, self._leftover = self._leftover, b""
        return data

    def receive_data(self, data: bytes) -> list[Message]:
        if self.failure is not None:  # RFC 6455 7.1.7: nothing more is processed
            raise ProtocolError(f"the connection to the parent has failed: {self.failure}")
        try:
            return self._receive_frames(self.frames.feed(data))
        except FrameError as exc:
            self.failure, self.closed = exc, True
            raise

    def _receive_frames(self, frames: list[Frame]) -> list[Message]:
        messages = []
        for frame in frames:
            if frame.text is not None:
                messages.append(self.protocol.receive(frame.text))
            elif frame.opcode == OP_PING:
                self._outgoing.append(encode_frame(OP_PONG, frame.payload))
            elif frame.opcode == OP_CLOSE:
                if not self.closed:
                    self._outgoing.append(close_frame())
                self.closed = True
                break  # RFC 6455 1.4: whatever follows a close frame is discarded
            elif frame.opcode == OP_BINARY:
                raise FrameError("binary message (the protocol is JSON text)", CLOSE_UNSUPPORTED_DATA)
        return messages

    def closing_frame(self) -> bytes:
        """The close frame to end the connection with: the failure's code when the parent
        broke RFC 6455, 1000 (normal closure) otherwise."""
        if self.failure is None:
            return close_frame()
        return close_frame(self.failure.code, str(self.failure))

    def data_to_send(self) -> bytes:
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        return data

    @staticmethod
    def message_bytes(message: Message) -> bytes:
        return encode_frame(OP_TEXT, encode(message).encode())
