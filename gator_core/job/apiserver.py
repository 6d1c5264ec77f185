"""The wrapper's end of the job API (see :mod:`gator_core.job.api` for the client).

A Unix socket in the abstract namespace, served from the wrapper's
``selectors`` loop: connections are accepted, greeted with the job's key,
and their lines handed to the wrapper as messages and metrics.  A bad line
becomes a warning of the job; a wrong key closes the connection.
"""

from __future__ import annotations

import os
import secrets
import selectors
import socket
from collections.abc import Callable

from gator_core.job.api import ADDRESS, API_VERSION, KEY, parse_record

__all__ = ["ApiServer"]

_MAX_LINE = 16 * 1024 * 1024


class ApiServer:
    def __init__(self, selector: selectors.BaseSelector, on_log: Callable[[str, str], None],
                 on_metric: Callable[[str, float], None]) -> None:
        self.selector = selector
        self.on_log = on_log
        self.on_metric = on_metric
        self.name = f"@gator-{os.getpid()}-{secrets.token_hex(6)}"
        self.key = secrets.token_hex(16)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind("\0" + self.name[1:])
        self._listener.listen(64)
        self._listener.setblocking(False)
        selector.register(self._listener, selectors.EVENT_READ, "api")
        self._buffers: dict[int, bytearray] = {}
        self._greeted: set[int] = set()
        self._socks: dict[int, socket.socket] = {}

    def environment(self) -> dict[str, str]:
        """What the job needs to find us."""
        return {ADDRESS: self.name, KEY: self.key}

    @property
    def connections(self) -> int:
        return len(self._socks)

    def ready(self, fd: int) -> None:
        if fd == self._listener.fileno():
            self._accept()
        else:
            self._read(fd)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, OSError):
                return
            sock.setblocking(False)
            self._socks[sock.fileno()] = sock
            self._buffers[sock.fileno()] = bytearray()
            self.selector.register(sock, selectors.EVENT_READ, "api")

    def _read(self, fd: int) -> None:
        sock = self._socks.get(fd)
        if sock is None:
            return
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._feed(fd, data)
        else:
            self._feed(fd, b"\n" if self._buffers.get(fd) else b"")  # a last line without newline
            self._drop(fd)

    def _feed(self, fd: int, data: bytes) -> None:
        buffer = self._buffers[fd]
        buffer += data
        end = buffer.rfind(b"\n")
        if end < 0:
            if len(buffer) > _MAX_LINE:
                self.on_log("warning", "job API: a record longer than 16 MiB was dropped")
                buffer.clear()
            return
        lines = bytes(buffer[:end]).split(b"\n")
        del buffer[:end + 1]
        for line in lines:
            if not line:
                continue
            if fd not in self._greeted:
                if line.decode("latin-1") != f"GATOR-API {API_VERSION} {self.key}":
                    self.on_log("warning", "job API: refused a connection with a wrong greeting or key")
                    self._drop(fd)
                    return
                self._greeted.add(fd)
                continue
            try:
                kind, first, second = parse_record(line)
            except ValueError as exc:
                self.on_log("warning", f"job API: ignored a bad record ({exc})")
                continue
            if kind == "log":
                self.on_log(first, second)
            else:
                self.on_metric(first, second)

    def _drop(self, fd: int) -> None:
        sock = self._socks.pop(fd, None)
        self._buffers.pop(fd, None)
        self._greeted.discard(fd)
        if sock is not None:
            try:
                self.selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()

    def close(self) -> None:
        """Read what is already waiting on every connection, then close everything."""
        for fd in list(self._socks):
            while fd in self._socks:
                try:
                    data = self._socks[fd].recv(1 << 20)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                self._feed(fd, data)
            if fd in self._socks:
                if self._buffers.get(fd):
                    self._feed(fd, b"\n")  # a last record without newline
                self._drop(fd)
        try:
            self.selector.unregister(self._listener)
        except (KeyError, ValueError):
            pass
        self._listener.close()
