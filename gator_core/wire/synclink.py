"""A child's connection to its parent, driven synchronously (used by the wrapper).

The wrapper runs a plain ``selectors`` loop; this link gives it a socket to
watch, ``send`` for messages out and ``poll`` for messages in.  Every wait
has a time limit: connecting retries with back-off until a deadline, sends
time out, and ``receive`` takes a timeout.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from gator_core.backoff import Backoff
from gator_core.exceptions import ChildError, ProtocolError
from gator_core.wire.protocol import Message
from gator_core.wire.wsclient import (
    ChildSession,
    HandshakeReader,
    LinkClosed,
    handshake_request,
    parse_url,
)

__all__ = ["SyncParentLink", "SEND_TIMEOUT"]

SEND_TIMEOUT = 30.0  # a parent that does not read for this long is treated as gone


def _open(host: str, port: int, timeout: float) -> socket.socket:
    """Connect a TCP socket.  Address literals skip the resolver: a wrapper connects
    once per job, and getaddrinfo costs more than the whole connection."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((host, port), timeout=timeout)


class SyncParentLink:
    def __init__(self, sock: socket.socket, leftover: bytes) -> None:
        self.sock = sock
        self.session = ChildSession(leftover)
        self._inbox: list[Message] = []
        self._closed = False

    # -- connecting -------------------------------------------------------------------------
    @classmethod
    def connect(cls, url: str, token: str, *, timeout: float,
                give_up: Callable[[], bool] | None = None) -> SyncParentLink:
        """Connect and upgrade, retrying with back-off for up to ``timeout`` seconds.
        A refusal (wrong token) is not retried, nor is anything once ``give_up()`` is
        true (the process was told to stop meanwhile).  Raises :class:`ChildError`."""
        endpoint = parse_url(url)
        deadline = time.monotonic() + timeout
        # Full jitter: thousands of wrappers lose a restarted tier at once, and must
        # not knock again all at once.
        delays = Backoff(first=0.05, cap=2.0, jitter="full").delays()
        while True:
            remaining = deadline - time.monotonic()
            try:
                return cls._attempt(endpoint, token, max(0.5, min(remaining, 10.0)))
            except ProtocolError as exc:
                raise ChildError(f"parent at {url} refused the connection: {exc}") from None
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            delay = next(delays)
            if time.monotonic() + delay > deadline:
                raise ChildError(f"cannot reach parent at {url} within {timeout:.0f} s ({last})")
            time.sleep(delay)  # a signal's handler runs meanwhile, and may ask to give up
            if give_up is not None and give_up():
                raise ChildError(f"gave up reaching parent at {url}: told to stop ({last})")

    @classmethod
    def _attempt(cls, endpoint: object, token: str, timeout: float) -> SyncParentLink:
        host, port, _path = endpoint  # type: ignore[misc]
        sock = _open(host, port, timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request, key = handshake_request(endpoint, {"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]
            sock.sendall(request)
            reader = HandshakeReader(key)
            while True:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionResetError("parent closed the connection during the handshake")
                rest = reader.feed(data)
                if rest is not None:
                    break
            # Non-blocking from here on: every wait below is an explicit select with a
            # limit (a socket timeout would make even MSG_DONTWAIT reads wait).
            sock.setblocking(False)
            return cls(sock, rest)
        except BaseException:
            sock.close()
            raise

    # -- traffic ----------------------------------------------------------------------------
    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: Message) -> None:
        self._send_raw(self.session.message_bytes(message))

    def _send_raw(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed("the connection to the parent is closed")
        view = memoryview(data)
        deadline = time.monotonic() + SEND_TIMEOUT
        try:
            while view:
                try:
                    sent = self.sock.send(view)
                    view = view[sent:]
                except BlockingIOError:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not select.select([], [self.sock], [], remaining)[1]:
                        raise TimeoutError(f"parent did not read for {SEND_TIMEOUT:g} s") from None
        except OSError as exc:
            self._closed = True
            raise LinkClosed(f"cannot send to the parent: {exc}") from None

    def _absorb(self, data: bytes) -> None:
        self._inbox.extend(self.session.receive_data(data))
        answer = self.session.data_to_send()
        if answer:
            try:
                self._send_raw(answer)
            except LinkClosed:
                pass
        if self.session.closed:
            self._closed = True

    def _read(self) -> bytes:
        leftover = self.session.take_leftover()
        return leftover if leftover else self.sock.recv(1 << 20)

    def poll(self) -> list[Message]:
        """Messages that have arrived, without waiting.  Raises LinkClosed when the
        connection has ended (after returning what came before the end)."""
        while not self._closed:
            try:
                data = self._read()
            except BlockingIOError:
                break
            except OSError as exc:
                self._closed = True
                if not self._inbox:
                    raise LinkClosed(f"connection to the parent broke: {exc}") from None
                break
            if not data:
                self._closed = True
                break
            self._absorb(data)
        messages, self._inbox = self._inbox, []
        if not messages and self._closed:
            raise LinkClosed("the parent closed the connection")
        return messages

    def receive(self, timeout: float) -> Message:
        """Wait up to ``timeout`` seconds for the next message."""
        deadline = time.monotonic() + timeout
        while not self._inbox:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message from the parent in time")
            if self._closed:
                raise LinkClosed("the parent closed the connection")
            leftover = self.session.take_leftover()
            if not leftover and not select.select([self.sock], [], [], remaining)[0]:
                continue
            try:
                data = leftover or self.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError as exc:
                self._closed = True
                raise LinkClosed(f"connection to the parent broke: {exc}") from None
            if not data:
                self._closed = True
                continue
            self._absorb(data)
        return self._inbox.pop(0)

    def detach(self) -> tuple[socket.socket, bytes]:
        """Give up the socket (and bytes read but not yet framed) to another driver."""
        if self._inbox:
            raise ProtocolError("messages are still waiting; cannot hand the connection over")
        sock, self._closed = self.sock, True
        return sock, self.session.take_leftover() + self.session.frames.buffered

    def close(self) -> None:
        if not self._closed:
            try:
                # Best effort, never waiting on a closing parent; 1002 or 1007 when it broke RFC 6455.
                self.sock.send(self.session.closing_frame())
            except OSError:
                pass
            self._closed = True
        self.sock.close()
