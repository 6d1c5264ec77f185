"""The parent-child wire protocol, without any I/O.

Every message is one JSON object in one websocket text frame, with a
``type`` field.  This module turns text into message objects and back,
checks fields and types, and tracks the order in which messages may come on
one connection.  The websocket layer (:mod:`gator_core.wire.transport`) and the
tier and wrapper use it; tests feed it text and read messages out.  The
protocol is written down in docs/protocol.md.

Version 1 conversation::

    child                                   parent
      | -- hello {version, key, pid, host} --> |   (token checked at the handshake)
      | <-- welcome {version, spec, config} -- |
      | -- update {summary, changes, ...} ---> |   whenever something changed
      | -- heartbeat {} ---------------------> |   every interval when idle
      | <-- stop {reason, kill?} ------------- |   any time: terminate gracefully (kill: at once)
      | -- complete {summary, changes, ...} -> |
      | <-- ack {} --------------------------- |   the child may now exit
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypedDict, Union

from gator_core.exceptions import ProtocolError

__all__ = [
    "Change",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "Hello",
    "Welcome",
    "Update",
    "Heartbeat",
    "Complete",
    "Ack",
    "Stop",
    "Refuse",
    "Message",
    "encode",
    "decode",
    "ParentSide",
    "ChildSide",
]

# 2: hello carries the attempt (a retried job's earlier attempt must not pass for it).
PROTOCOL_VERSION = 2
SUPPORTED_VERSIONS = frozenset({1, 2})


@dataclass(frozen=True)
class Hello:
    """First message of a child: who it is.  ``resume`` marks a reconnection; ``attempt``
    which attempt of a retried job it runs (from ``GATOR_ATTEMPT``)."""

    key: str
    version: int = PROTOCOL_VERSION
    pid: int = 0
    host: str = ""
    resume: bool = False
    attempt: int = 1
    TYPE: ClassVar[str] = "hello"


@dataclass(frozen=True)
class Welcome:
    """The parent's answer to hello: the child's part of the spec and the run's settings."""

    spec: dict[str, Any]
    config: dict[str, Any]
    version: int = PROTOCOL_VERSION
    TYPE: ClassVar[str] = "welcome"


class Change(TypedDict, total=False):
    """One entry of ``changes``: a node below the sender started, finished, or said
    something serious.  ``event`` says which; the other keys are those of that event
    (docs/protocol.md, "Changes")."""

    event: Literal["start", "finish", "message"]
    path: str
    kind: str  # job, group or array (start, finish)
    time: float  # start
    log: str  # start, finish: the node's messages.log
    result: str  # finish: a Result value
    exit_code: int | None
    reason: str | None
    duration: float | None
    messages: dict[str, int]  # finish: counts by severity key
    carried: bool  # finish: carried over from an earlier run (reruns)
    severity: str  # message: a severity key
    text: str  # message


@dataclass(frozen=True)
class Update:
    """Progress of a child: its rolled-up summary, and what changed below it."""

    summary: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    watched: dict[str, str] = field(default_factory=dict)
    TYPE: ClassVar[str] = "update"


@dataclass(frozen=True)
class Heartbeat:
    """Sent every interval by a child with nothing new to say."""

    TYPE: ClassVar[str] = "heartbeat"


@dataclass(frozen=True)
class Complete:
    """Last message of a child: its final summary."""

    summary: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    watched: dict[str, str] = field(default_factory=dict)
    TYPE: ClassVar[str] = "complete"


@dataclass(frozen=True)
class Ack:
    """The parent has stored the child's final summary; the child may exit."""

    TYPE: ClassVar[str] = "ack"


@dataclass(frozen=True)
class Stop:
    """The parent asks the child to stop its jobs and finish; with ``kill``, to kill
    them at once, without a grace period (the user interrupted twice)."""

    reason: str = "stopped by parent"
    kill: bool = False
    TYPE: ClassVar[str] = "stop"


@dataclass(frozen=True)
class Refuse:
    """Either side refuses the conversation; the connection is closed after it."""

    reason: str
    TYPE: ClassVar[str] = "refuse"


Message = Union[Hello, Welcome, Update, Heartbeat, Complete, Ack, Stop, Refuse]

_CLASSES: dict[str, type] = {
    cls.TYPE: cls for cls in (Hello, Welcome, Update, Heartbeat, Complete, Ack, Stop, Refuse)
}

# Expected JSON types of each field: (type or tuple of types, required).
_FIELDS: dict[str, dict[str, tuple[Any, bool]]] = {
    "hello": {"key": (str, True), "version": (int, True), "pid": (int, False),
              "host": (str, False), "resume": (bool, False), "attempt": (int, False)},
    "welcome": {"spec": (dict, True), "config": (dict, True), "version": (int, True)},
    "update": {"summary": (dict, True), "changes": (list, False), "watched": (dict, False)},
    "heartbeat": {},
    "complete": {"summary": (dict, True), "changes": (list, False), "watched": (dict, False)},
    "ack": {},
    "stop": {"reason": (str, False), "kill": (bool, False)},
    "refuse": {"reason": (str, True)},
}

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode(message: Message) -> str:
    """The JSON text of a message."""
    data = {"type": message.TYPE, **message.__dict__}  # fields are plain JSON values already
    if isinstance(message, Stop) and not message.kill:
        del data["kill"]  # as version 1 first had it: a child of an older Gator reads it
    return _encoder.encode(data)


def decode(text: str | bytes) -> Message:
    """Parse and check one message.  Raises :class:`ProtocolError` with the reason."""
    if isinstance(text, bytes):
        raise ProtocolError("binary frames are not part of the protocol")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"message is not JSON: {exc.msg} at offset {exc.pos}") from None
    if not isinstance(data, dict):
        raise ProtocolError("message is not a JSON object")
    kind = data.pop("type", None)
    if not isinstance(kind, str):
        raise ProtocolError("message has no 'type'")
    cls = _CLASSES.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    fields = _FIELDS[kind]
    for name, value in data.items():
        if name not in fields:
            raise ProtocolError(f"unknown field {name!r} in {kind} message")
        expected, _required = fields[name]
        if expected is int and isinstance(value, bool):
            raise ProtocolError(f"field {name!r} of {kind} must be int, not bool")
        if not isinstance(value, expected):
            raise ProtocolError(
                f"field {name!r} of {kind} must be {expected.__name__}, not {type(value).__name__}"
            )
    missing = [name for name, (_t, required) in fields.items() if required and name not in data]
    if missing:
        raise ProtocolError(f"{kind} message lacks {', '.join(repr(m) for m in missing)}")
    if "version" in data and data["version"] not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            f"unsupported protocol version {data['version']}; this side speaks "
            f"{', '.join(str(v) for v in sorted(SUPPORTED_VERSIONS))}"
        )
    return cls(**data)  # type: ignore[no-any-return]


class ParentSide:
    """Order of messages a parent accepts on one child connection.

    ``receive`` decodes and checks one frame and returns the message; anything
    out of order raises :class:`ProtocolError`.  After ``complete`` nothing
    more is accepted.
    """

    def __init__(self) -> None:
        self.state = "await-hello"
        self.key: str | None = None

    def receive(self, text: str | bytes) -> Message:
        message = decode(text)
        if self.state == "await-hello":
            if not isinstance(message, Hello):
                raise ProtocolError(f"expected hello first, got {message.TYPE}")
            self.key = message.key
            self.state = "active"
        elif self.state == "active":
            if isinstance(message, (Update, Heartbeat)):
                pass
            elif isinstance(message, Complete):
                self.state = "complete"
            elif isinstance(message, Refuse):
                self.state = "closed"
            else:
                raise ProtocolError(f"a child may not send {message.TYPE} here")
        else:
            ended = "completed" if self.state == "complete" else "refused the conversation"
            raise ProtocolError(f"{message.TYPE} received after the child {ended}")
        return message


class ChildSide:
    """Order of messages a child accepts from its parent."""

    def __init__(self) -> None:
        self.state = "await-welcome"

    def receive(self, text: str | bytes) -> Message:
        message = decode(text)
        if isinstance(message, Refuse):
            self.state = "closed"
            return message
        if self.state == "await-welcome":
            if not isinstance(message, Welcome):
                raise ProtocolError(f"expected welcome, got {message.TYPE}")
            self.state = "active"
        elif self.state == "active":
            if not isinstance(message, (Stop, Ack)):
                raise ProtocolError(f"a parent may not send {message.TYPE} here")
            if isinstance(message, Ack):
                self.state = "done"
        else:
            raise ProtocolError(f"{message.TYPE} received after the conversation ended")
        return message
