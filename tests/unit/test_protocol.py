"""The wire protocol, without sockets: encoding, checking, and message order."""

from __future__ import annotations

import json

import pytest

from gator_core import ProtocolError
from gator_core.wire.protocol import (
    Ack,
    ChildSide,
    Complete,
    Heartbeat,
    Hello,
    ParentSide,
    Refuse,
    Stop,
    Update,
    Welcome,
    decode,
    encode,
)

ALL = [Hello("a", pid=3, host="h"), Welcome({"tag": "Job"}, {"run": {}}), Update({"result": "running"}),
       Heartbeat(), Complete({"result": "pass"}, [{"event": "finish"}], {"x": "pass"}), Ack(), Stop("why"),
       Refuse("no")]


@pytest.mark.parametrize("message", ALL, ids=lambda m: m.TYPE)
def test_every_message_round_trips(message):
    assert decode(encode(message)) == message


@pytest.mark.parametrize("text, reason", [
    ("not json", "message is not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"key": "a"}', "has no 'type'"),
    ('{"type": "launch_missiles"}', "unknown message type 'launch_missiles'"),
    ('{"type": "hello", "version": 1}', "hello message lacks 'key'"),
    ('{"type": "hello", "key": 5, "version": 1}', "field 'key' of hello must be str"),
    ('{"type": "hello", "key": "a", "version": true}', "must be int, not bool"),
    ('{"type": "heartbeat", "extra": 1}', "unknown field 'extra'"),
    ('{"type": "hello", "key": "a", "version": 99}', "unsupported protocol version 99"),
])
def test_malformed_messages_are_refused_with_a_reason(text, reason):
    with pytest.raises(ProtocolError, match=reason):
        decode(text)


def test_binary_frames_are_refused():
    with pytest.raises(ProtocolError, match="binary"):
        decode(b"{}")


def test_parent_side_order():
    parent = ParentSide()
    with pytest.raises(ProtocolError, match="expected hello first"):
        ParentSide().receive(encode(Heartbeat()))
    assert isinstance(parent.receive(encode(Hello("k"))), Hello)
    assert parent.key == "k"
    parent.receive(encode(Update({})))
    parent.receive(encode(Heartbeat()))
    with pytest.raises(ProtocolError, match="may not send ack"):
        parent.receive(encode(Ack()))
    parent.receive(encode(Complete({"result": "pass"})))
    with pytest.raises(ProtocolError, match="after the child completed"):
        parent.receive(encode(Heartbeat()))


def test_child_side_order():
    child = ChildSide()
    with pytest.raises(ProtocolError, match="expected welcome"):
        ChildSide().receive(encode(Stop()))
    child.receive(encode(Welcome({}, {})))
    assert isinstance(child.receive(encode(Stop("x"))), Stop)
    with pytest.raises(ProtocolError, match="may not send welcome"):
        child.receive(encode(Welcome({}, {})))
    child.receive(encode(Ack()))
    with pytest.raises(ProtocolError, match="after the conversation ended"):
        child.receive(encode(Stop()))


def test_encoding_is_compact_json_with_a_type():
    data = json.loads(encode(Stop("because")))
    assert data == {"type": "stop", "reason": "because"}
