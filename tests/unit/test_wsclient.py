"""The sans-I/O websocket client: handshake checks and framing, fed bytes directly."""

from __future__ import annotations

import base64
import hashlib
import os
import struct

import pytest

from gator_core import ProtocolError
from gator_core.wire.wsclient import (
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    Endpoint,
    FrameReader,
    HandshakeReader,
    encode_frame,
    handshake_request,
    parse_url,
)


def accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())


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


def test_handshake_response_accepted_in_pieces_with_frames_after_it():
    _, key = handshake_request(Endpoint("h", 1, "/"), {})
    response = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept(key) + b"\r\n\r\n")
    frame = encode_frame(OP_TEXT, b"hi", mask=False)
    reader = HandshakeReader(key)
    assert reader.feed(response[:10]) is None
    assert reader.feed(response[10:] + frame) == frame


@pytest.mark.parametrize("response, reason", [
    (b"HTTP/1.1 401 Unauthorized\r\n\r\n", "HTTP 401"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
    (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: wrong\r\n\r\n", "Accept"),
])
def test_bad_handshake_responses(response, reason):
    _, key = handshake_request(Endpoint("h", 1, "/"), {})
    with pytest.raises(ProtocolError, match=reason):
        HandshakeReader(key).feed(response)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 300_000])
def test_frames_of_every_length_class_round_trip(size):
    payload = os.urandom(size)
    frame = encode_frame(OP_TEXT, payload)  # masked, as a client sends
    assert frame[1] & 0x80
    reader = FrameReader()
    # byte-by-byte for small frames, in chunks for big ones
    step = 1 if size < 200 else 4096
    out = []
    for start in range(0, len(frame), step):
        out += reader.feed(frame[start:start + step])
    assert out == [(OP_TEXT, payload)]


def test_fragmented_message_is_reassembled_around_a_control_frame():
    first = struct.pack("!BB", OP_TEXT, 3) + b"abc"  # FIN clear
    ping = encode_frame(OP_PING, b"p", mask=False)
    last = struct.pack("!BB", 0x80 | 0x0, 3) + b"def"
    assert FrameReader().feed(first + ping + last) == [(OP_PING, b"p"), (OP_TEXT, b"abcdef")]


def test_reserved_bits_and_oversized_messages_are_refused():
    with pytest.raises(ProtocolError, match="reserved bits"):
        FrameReader().feed(bytes([0xC1, 0x00]))
    with pytest.raises(ProtocolError, match="over the limit"):
        FrameReader(max_size=10).feed(encode_frame(OP_TEXT, b"x" * 11, mask=False))


def test_close_frame_is_a_control_frame():
    frames = FrameReader().feed(encode_frame(OP_CLOSE, struct.pack("!H", 1000), mask=False))
    assert frames == [(OP_CLOSE, b"\x03\xe8")]


def test_child_session_answers_pings_and_the_close_handshake():
    from gator_core.wire.protocol import Welcome, encode
    from gator_core.wire.wsclient import ChildSession

    session = ChildSession(leftover=encode_frame(OP_PING, b"p", mask=False))
    welcome = encode_frame(OP_TEXT, encode(Welcome({}, {})).encode(), mask=False)
    assert session.receive_data(session.take_leftover()) == []
    pong = FrameReader().feed(session.data_to_send())
    assert pong == [(0xA, b"p")]
    assert session.receive_data(welcome) == [Welcome({}, {})]
    assert not session.closed
    session.receive_data(encode_frame(OP_CLOSE, b"\x03\xe8", mask=False))
    assert session.closed
    assert FrameReader().feed(session.data_to_send())[0].opcode == OP_CLOSE


def test_child_session_refuses_messages_out_of_order():
    from gator_core.wire.protocol import Ack, encode
    from gator_core.wire.wsclient import ChildSession

    with pytest.raises(ProtocolError, match="expected welcome"):
        ChildSession().receive_data(encode_frame(OP_TEXT, encode(Ack()).encode(), mask=False))
