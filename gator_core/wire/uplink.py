"""A child's conversation with its parent after the welcome.

:class:`UpLink` sends an ``update`` soon after something changed (at most
five a second), a ``heartbeat`` every interval when nothing did, and the
final ``complete``, for which it waits for the parent's ``ack``.  It hands a
``stop`` from the parent to the node.  If the connection drops it reconnects
(``hello`` with ``resume``) for up to two intervals; after that the parent is
considered gone and the node is told to stop.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from gator_core.envvars import attempt_number
from gator_core.exceptions import ChildError, ProtocolError
from gator_core.wire.protocol import Ack, Change, Complete, Heartbeat, Hello, Refuse, Stop, Update, Welcome
from gator_core.wire.transport import LinkClosed, ParentLink, connect_parent

__all__ = ["UpLink", "Snapshot", "MIN_UPDATE_GAP"]

MIN_UPDATE_GAP = 0.2  # seconds between two updates, so a busy job cannot flood its parent
Snapshot = Callable[[], "tuple[Mapping[str, Any], list[Change], dict[str, str]]"]  # summary, changes, watched


class UpLink:
    def __init__(
        self,
        link: ParentLink,
        *,
        url: str,
        token: str,
        key: str,
        interval: float,
        snapshot: Snapshot,
        on_stop: Callable[[str], None],
        on_kill: Callable[[str], None] | None = None,
    ) -> None:
        self.link = link
        self.url, self.token, self.key = url, token, key
        self.interval = interval
        self.snapshot = snapshot
        self.on_stop = on_stop
        self.on_kill = on_kill or on_stop
        self.parent_lost: str | None = None
        self._dirty = asyncio.Event()
        self._acked = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop = asyncio.get_running_loop()
        self._last_send = 0.0
        self._completing = False
        self._final: Complete | None = None

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._sender(), name="uplink-sender"),
            asyncio.create_task(self._receiver(), name="uplink-receiver"),
        ]

    def poke(self) -> None:
        """Something changed: send an update soon."""
        self._dirty.set()

    async def _send(self, message: Any) -> bool:
        async with self._send_lock:
            try:
                await self.link.send(message)
                self._last_send = self._loop.time()
                return True
            except (LinkClosed, OSError):
                return False

    async def _sender(self) -> None:
        while not self._completing:
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout=self.interval)
            except asyncio.TimeoutError:
                pass
            if self._completing:
                return
            gap = self._loop.time() - self._last_send
            if self._dirty.is_set() and gap < MIN_UPDATE_GAP:
                await asyncio.sleep(MIN_UPDATE_GAP - gap)
            if self._dirty.is_set():
                self._dirty.clear()
                summary, changes, watched = self.snapshot()
                await self._send(Update(summary, changes, watched))
            else:
                await self._send(Heartbeat())

    async def _receiver(self) -> None:
        while True:
            try:
                message = await self.link.receive()
            except LinkClosed:
                if self._acked.is_set():
                    return
                if not await self._reconnect():
                    return
                continue
            except ProtocolError as exc:
                # A parent that speaks nonsense is as good as gone.
                self._lose(f"parent sent a malformed message: {exc}")
                return
            if isinstance(message, Stop):
                (self.on_kill if message.kill else self.on_stop)(message.reason)
            elif isinstance(message, Ack):
                self._acked.set()
                return
            elif isinstance(message, Refuse):
                self._lose(f"parent refused this child: {message.reason}")
                return

    def _lose(self, reason: str) -> None:
        if self.parent_lost is None:
            self.parent_lost = reason
            self.on_stop(reason)
            self._acked.set()  # nobody will acknowledge any more

    async def _reconnect(self) -> bool:
        timeout = 2 * self.interval
        try:
            link = await connect_parent(self.url, self.token, timeout=timeout)
            await link.send(Hello(self.key, pid=os.getpid(), host=socket.gethostname(), resume=True,
                                  attempt=attempt_number()))
            reply = await asyncio.wait_for(link.receive(), timeout=timeout)
            if not isinstance(reply, Welcome):
                raise ChildError(f"parent answered the reconnection with {reply.TYPE}")
        except (ChildError, ProtocolError, LinkClosed, OSError, asyncio.TimeoutError) as exc:
            self._lose(f"lost the connection to the parent and could not reconnect: {exc}")
            return False
        self.link = link
        self._dirty.set()  # the parent may have missed updates
        if self._final is not None:  # the final report may not have arrived: say it again
            await self._send(self._final)
        return True

    async def complete(self, summary: dict[str, Any], changes: list[dict[str, Any]],
                       watched: dict[str, str]) -> bool:
        """Send the final summary and wait (bounded) for the parent's ack."""
        self._completing = True
        self._dirty.set()
        self._final = Complete(summary, changes, watched)
        deadline = self._loop.time() + max(10.0, 2 * self.interval)
        while self.parent_lost is None:
            if await self._send(self._final):
                remaining = deadline - self._loop.time()
                try:
                    await asyncio.wait_for(asyncio.shield(self._acked.wait()), timeout=max(0.1, remaining))
                except asyncio.TimeoutError:
                    self._lose("parent did not acknowledge the final report")
                break
            # The send failed: the receiver is reconnecting; wait for it, then resend.
            if self._loop.time() > deadline:
                self._lose("could not deliver the final report")
                break
            await asyncio.sleep(0.1)
        return self.parent_lost is None

    async def close(self) -> None:
        self._completing = True
        self._dirty.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.link.close()
