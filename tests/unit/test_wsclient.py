"""The sans-I/O websocket client: handshake checks and framing, fed bytes directly.

Server frames are crafted byte by byte here (``server_frame``), independently of
the module's own encoder, so that every refusal RFC 6455 asks of a client is
shown on the exact bytes that must be refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

import pytest

from gator_core import ProtocolError
from gator_core.wire.protocol import Ack, Welcome, encode
from gator_core.wire.wsclient import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ChildSession,
    Endpoint,
    FrameError,
    FrameReader,
    HandshakeReader,
    close_frame,
    encode_frame,
    handshake_request,
    parse_url,
)

PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA, TOO_BIG = 1002, 1003, 1007, 1009


def accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())


def server_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                 mask: bytes | None = None, length: int | None = None) -> bytes:
    """A frame as a server (or a broken server) would put it on the wire.  ``length``
    overrides the announced payload length, ``mask`` masks it (which servers must not)."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    flag = 0x80 if mask is not None else 0
    if size < 126:
        head = struct.pack("!BB", first, flag | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, flag | 126, size)
    else:
        head = struct.pack("!BBQ", first, flag | 127, size)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_client_frame(data: bytes) -> tuple[bool, int, bytes]:
    """FIN, opcode and unmasked payload of one frame a client sent (which must be masked)."""
    assert data[1] & 0x80, "client frames must be masked"
    size, offset = data[1] & 0x7F, 2
    if size == 126:
        size, offset = struct.unpack_from("!H", data, 2)[0], 4
    elif size == 127:
        size, offset = struct.unpack_from("!Q", data, 2)[0], 10
    key, payload = data[offset:offset + 4], data[offset + 4:]
    assert len(payload) == size
    return bool(data[0] & 0x80), data[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def refused(data: bytes, *, max_size: int = 256 * 1024 * 1024) -> FrameError:
    with pytest.raises(FrameError) as info:
        FrameReader(max_size=max_size).feed(data)
    assert isinstance(info.value, ProtocolError)  # one exception tree
    return info.value


# -- the handshake ----------------------------------------------------------------------------
def test_parse_url():
    assert parse_url("ws://127.0.0.1:8080") == Endpoint("127.0.0.1", 8080, "/")
    assert parse_url("ws://[::1]:9/x") == Endpoint("::1", 9, "/x")
    with pytest.raises(ProtocolError):
        parse_url("http://host:1")


def test_handshake_request_carries_the_token_header():
    request, key = handshake_request(Endpoint("h", 1, "/"), {"Authorization": "Bearer s3cret"})
    text = request.decode()
    assert text.startswith("GET / HTTP/1.1\r\n")
    assert "Authorization: Bearer s3cret\r\n" in text
    assert f"Sec-WebSocket-Key: {key.decode()}\r\n" in text
    assert text.endswith("\r\n\r\n")


def upgrade_response(key: bytes, *extra: bytes, connection: bytes = b"Upgrade",
                     upgrade: bytes = b"websocket") -> bytes:
    lines = [b"HTTP/1.1 101 Switching Protocols", b"Upgrade: " + upgrade, b"Connection: " + connection,
             b"Sec-WebSocket-Accept: " + accept(key), *extra]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_handshake_response_accepted_in_pieces_with_frames_after_it():
    _, key = handshake_request(Endpoint("h", 1, "/"), {})
    response = upgrade_response(key, connection=b"keep-alive, upgrade")  # a token list, any case
    frame = server_frame(OP_TEXT, b"hi")
    reader = HandshakeReader(key)
    assert reader.feed(response[:10]) is None
    assert reader.feed(response[10:] + frame) == frame


@pytest.mark.parametrize("extra, connection, upgrade, reason", [
    ((), b"close", b"websocket", "Connection: Upgrade"),
    ((), b"Upgrade", b"h2c", "does not upgrade to websocket"),
    ((b"Sec-WebSocket-Extensions: permessage-deflate",), b"Upgrade", b"websocket", "not asked for"),
    ((b"Sec-WebSocket-Protocol: chat",), b"Upgrade", b"websocket", "not asked for"),
])
def test_upgrades_a_client_must_fail(extra, connection, upgrade, reason):
    _, key = handshake_request(Endpoint("h", 1, "/"), {})
    with pytest.raises(ProtocolError, match=reason):
        HandshakeReader(key).feed(upgrade_response(key, *extra, connection=connection, upgrade=upgrade))


@pytest.mark.parametrize("response, reason", [
    (b"HTTP/1.1 401 Unauthorized\r\n\r\n", "HTTP 401"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
    (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
     "Accept"),
])
def test_bad_handshake_responses(response, reason):
    _, key = handshake_request(Endpoint("h", 1, "/"), {})
    with pytest.raises(ProtocolError, match=reason):
        HandshakeReader(key).feed(response)


# -- frames that must be accepted -------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 300_000])
def test_client_frames_are_masked_for_every_length_class(size):
    payload = os.urandom(size)
    assert read_client_frame(encode_frame(OP_BINARY, payload)) == (True, OP_BINARY, payload)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 300_000])
def test_server_frames_of_every_length_class_are_read_in_any_pieces(size):
    payload = os.urandom(size)
    frame = server_frame(OP_BINARY, payload)
    reader = FrameReader()
    step = 1 if size < 200 else 4096  # byte by byte for small frames, in chunks for big ones
    out = []
    for start in range(0, len(frame), step):
        out += reader.feed(frame[start:start + step])
    assert out == [(OP_BINARY, payload, None)]
    assert reader.buffered == b""


def test_fragmented_text_is_reassembled_around_a_control_frame_and_decoded_whole():
    text = "naïve ☃"
    data = text.encode()
    cut = data.index("☃".encode()) + 1  # the fragments split a character: valid once whole
    frames = (server_frame(OP_TEXT, data[:cut], fin=False) + server_frame(OP_PING, b"p")
              + server_frame(OP_CONT, data[cut:-1], fin=False) + server_frame(OP_CONT, data[-1:]))
    assert FrameReader().feed(frames) == [(OP_PING, b"p", None), (OP_TEXT, data, text)]


@pytest.mark.parametrize("opcode, payload", [
    (OP_PING, b"x" * 125),
    (OP_PONG, b""),
    (OP_CLOSE, b""),
    (OP_CLOSE, struct.pack("!H", 1000)),
    (OP_CLOSE, struct.pack("!H", 1001) + "au revoir, ça va".encode()),
    (OP_CLOSE, struct.pack("!H", 4999)),
])
def test_valid_control_frames_are_returned(opcode, payload):
    assert FrameReader().feed(server_frame(opcode, payload)) == [(opcode, payload, None)]


# -- frames RFC 6455 says a client must refuse ------------------------------------------------
def test_masked_server_frames_are_refused():
    error = refused(server_frame(OP_TEXT, b"hello", mask=b"\x01\x02\x03\x04"))
    assert error.code == PROTOCOL_ERROR
    assert "masked" in str(error)


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
def test_control_frames_over_125_bytes_are_refused_on_their_header(opcode):
    frame = server_frame(opcode, b"\x03\xe8" + b"x" * 124)  # 126 bytes: announced with the 16-bit length
    error = refused(frame[:2])  # refused before the payload is waited for
    assert (error.code, "over 125 bytes" in str(error)) == (PROTOCOL_ERROR, True)
    assert refused(server_frame(opcode, length=70_000)).code == PROTOCOL_ERROR  # a 64-bit length too


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
def test_fragmented_control_frames_are_refused(opcode):
    error = refused(server_frame(opcode, b"", fin=False))
    assert error.code == PROTOCOL_ERROR
    assert "fragmented control frame" in str(error)


@pytest.mark.parametrize("first, second", [(OP_TEXT, OP_TEXT), (OP_TEXT, OP_BINARY), (OP_BINARY, OP_TEXT)])
def test_a_new_data_frame_inside_a_fragmented_message_is_refused(first, second):
    data = server_frame(first, b"ab", fin=False) + server_frame(OP_PING) + server_frame(second, b"cd")
    error = refused(data)
    assert error.code == PROTOCOL_ERROR
    assert "middle of a fragmented message" in str(error)


def test_a_continuation_with_no_message_started_is_refused():
    assert "no message started" in str(refused(server_frame(OP_CONT, b"x")))
    # nor after a message has ended
    data = server_frame(OP_TEXT, b"a", fin=False) + server_frame(OP_CONT, b"b") + server_frame(OP_CONT, b"c")
    assert refused(data).code == PROTOCOL_ERROR


@pytest.mark.parametrize("payload", [
    b"\xff",
    b"caf\xe9",  # latin-1
    b"\xc0\xaf",  # overlong '/'
    b"\xed\xa0\x80",  # a UTF-16 surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"ok \xe2\x98",  # truncated at the end of the message
])
def test_text_that_is_not_utf8_is_refused_with_1007(payload):
    assert refused(server_frame(OP_TEXT, payload)).code == INVALID_DATA
    fragmented = server_frame(OP_TEXT, payload[:1], fin=False) + server_frame(OP_CONT, payload[1:])
    assert refused(fragmented).code == INVALID_DATA


@pytest.mark.parametrize("rsv", [1, 2, 4, 7])
def test_reserved_bits_are_refused(rsv):
    error = refused(server_frame(OP_TEXT, b"x", rsv=rsv))
    assert (error.code, "reserved bits" in str(error)) == (PROTOCOL_ERROR, True)


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_unknown_opcodes_are_refused(opcode):
    error = refused(server_frame(opcode, b"x"))
    assert (error.code, f"unknown opcode {opcode:#x}" in str(error)) == (PROTOCOL_ERROR, True)


@pytest.mark.parametrize("payload, code", [
    (b"\x03", PROTOCOL_ERROR),  # a code is two bytes
    (struct.pack("!H", 999), PROTOCOL_ERROR),
    (struct.pack("!H", 1005), PROTOCOL_ERROR),  # for reporting only, never sent
    (struct.pack("!H", 1006), PROTOCOL_ERROR),
    (struct.pack("!H", 1015), PROTOCOL_ERROR),
    (struct.pack("!H", 2000), PROTOCOL_ERROR),
    (struct.pack("!H", 5000), PROTOCOL_ERROR),
    (struct.pack("!H", 1000) + b"\xff", INVALID_DATA),
])
def test_malformed_close_frames_are_refused(payload, code):
    assert refused(server_frame(OP_CLOSE, payload)).code == code


def test_a_length_with_its_top_bit_set_is_refused():
    header = struct.pack("!BBQ", 0x80 | OP_BINARY, 127, 1 << 63)
    assert refused(header).code == PROTOCOL_ERROR


def test_messages_over_the_limit_are_refused_with_1009_whole_or_in_fragments():
    assert refused(server_frame(OP_BINARY, b"x" * 11), max_size=10).code == TOO_BIG
    fragments = server_frame(OP_TEXT, b"x" * 6, fin=False) + server_frame(OP_CONT, b"x" * 5)
    assert refused(fragments, max_size=10).code == TOO_BIG
    assert FrameReader(max_size=10).feed(server_frame(OP_TEXT, b"x" * 10)) == [(OP_TEXT, b"x" * 10, "x" * 10)]


# -- the session --------------------------------------------------------------------------------
def test_close_frames_keep_their_reason_valid_and_short():
    fin, opcode, payload = read_client_frame(close_frame(1001, "é" * 100))
    assert (fin, opcode, payload[:2]) == (True, OP_CLOSE, b"\x03\xe9")
    assert len(payload) <= 125
    assert payload[2:].decode() == "é" * 61  # cut on a character boundary


def test_child_session_answers_pings_and_the_close_handshake():
    session = ChildSession(leftover=server_frame(OP_PING, b"p"))
    welcome = server_frame(OP_TEXT, encode(Welcome({}, {})).encode())
    assert session.receive_data(session.take_leftover()) == []
    assert read_client_frame(session.data_to_send()) == (True, OP_PONG, b"p")
    assert session.receive_data(welcome) == [Welcome({}, {})]
    assert not session.closed
    # a close frame ends it: what follows it is discarded
    session.receive_data(server_frame(OP_CLOSE, b"\x03\xe8") + server_frame(OP_TEXT, b'{"type": "ack"}'))
    assert session.closed
    assert read_client_frame(session.data_to_send()) == (True, OP_CLOSE, b"\x03\xe8")
    assert read_client_frame(session.closing_frame())[2] == b"\x03\xe8"


def test_child_session_refuses_messages_out_of_order():
    with pytest.raises(ProtocolError, match="expected welcome"):
        ChildSession().receive_data(server_frame(OP_TEXT, encode(Ack()).encode()))


def test_child_session_refuses_binary_messages_with_1003():
    with pytest.raises(FrameError) as info:
        ChildSession().receive_data(server_frame(OP_BINARY, b"{}"))
    assert info.value.code == UNSUPPORTED_DATA


@pytest.mark.parametrize("data, code", [
    (server_frame(OP_TEXT, b"\xff"), INVALID_DATA),
    (server_frame(OP_TEXT, b"{}", mask=b"abcd"), PROTOCOL_ERROR),
    (server_frame(OP_PING, fin=False), PROTOCOL_ERROR),
])
def test_a_failed_session_closes_with_the_code_and_processes_nothing_more(data, code):
    session = ChildSession()
    with pytest.raises(FrameError):
        session.receive_data(data)
    assert session.closed
    assert session.failure is not None and session.failure.code == code
    fin, opcode, payload = read_client_frame(session.closing_frame())
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (OP_CLOSE, code)
    payload[2:].decode()  # the reason is valid UTF-8
    with pytest.raises(ProtocolError, match="has failed"):
        session.receive_data(server_frame(OP_TEXT, encode(Welcome({}, {})).encode()))


@pytest.mark.parametrize("frame, code", [
    (server_frame(OP_TEXT, b"{}", mask=b"abcd"), 1002),
    (server_frame(OP_TEXT, b"\xff\xfe"), 1007),
], ids=["masked", "not-utf8"])
def test_the_sync_driver_fails_the_connection_with_the_frames_close_code(frame: bytes, code: int) -> None:
    """Refusing is not enough: the parent is told why, with the close code RFC 6455 names."""
    import socket

    from gator_core.wire.synclink import SyncParentLink

    ours, parent = socket.socketpair()
    with ours, parent:
        ours.setblocking(False)
        link = SyncParentLink(ours, b"")
        parent.sendall(frame)
        with pytest.raises(ProtocolError):
            link.poll()
        link.close()
        parent.settimeout(5)
        fin, opcode, payload = read_client_frame(parent.recv(4096))
        assert (fin, opcode) == (True, OP_CLOSE)
        assert struct.unpack("!H", payload[:2])[0] == code
