"""``--scheduler local``: every child runs on this machine, through one agent per run.

The root tier starts the agent (:mod:`gator_sched_local.agent`); child tiers
find it through what the root's scheduler exported, so one limit covers the
whole tree:

* ``concurrency=N``: job slots in use at once (default: the CPU count).  A job
  takes ``!Cores`` slots, one if it does not say; tiers take none.
* ``memory=SIZE``: memory that ``!Memory`` requests count against (default: the
  memory available when the run starts), e.g. ``memory=16GB``.
* ``license.NAME=N`` and ``feature.NAME=N``: how many of a named licence or
  feature may be held at once, across the tree.  A name without a limit is
  not limited.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import psutil

from gator_core import (
    Capacity,
    ChildEvent,
    EventKind,
    LaunchRequest,
    Option,
    Resources,
    Scheduler,
    SchedulerError,
    parse_positive_int,
    parse_size,
)

__all__ = ["LocalScheduler"]

AGENT_START_TIMEOUT = 60.0  # a cold interpreter on a loaded machine can be slow to import


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


class LocalScheduler(Scheduler):
    name = "local"
    description = "run children on this machine (the default)"
    options = (
        Option("concurrency", parse_positive_int, None,
               "job slots in use at once across the whole tree (default: CPU count)"),
        Option("memory", parse_size, None,
               "memory that !Memory requests count against (default: available memory)"),
        Option("license", _count, None, "limit of a named licence, e.g. license.vcs=4", prefix=True),
        Option("feature", _count, None, "limit of a named feature, e.g. feature.gpu=1", prefix=True),
    )

    def __init__(self, options: Any, context: Any) -> None:
        super().__init__(options, context)
        inherited = context.inherited or {}
        if "capacity" in inherited:
            self.capacity = Capacity.from_dict(inherited["capacity"])
        else:
            self.capacity = Capacity(
                slots=self.settings["concurrency"] or os.cpu_count() or 1,
                memory=self.settings["memory"] or psutil.virtual_memory().available,
                licenses=dict(self.settings["license"]),
                features=dict(self.settings["feature"]),
            )
        self._socket_path: str | None = inherited.get("agent")
        self._owns_agent = self._socket_path is None
        self._agent: asyncio.subprocess.Process | None = None
        self._socket_dir: str | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._live: set[str] = set()  # keys launched and not yet ended
        self._all_ended = asyncio.Event()
        self._closed = False
        self._hostname = socket.gethostname()

    # -- agent --------------------------------------------------------------------------------
    async def _start_agent(self) -> None:
        self._socket_dir = tempfile.mkdtemp(prefix="gator-agent-")  # mode 0700
        self._socket_path = os.path.join(self._socket_dir, "agent.sock")
        log = str(self.context.tracking / "agent.log")
        self._agent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gator_sched_local.agent",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches gator run only; it decides
        )
        config = {"socket": self._socket_path, "token": self.context.token, "log": log,
                  "capacity": self.capacity.to_dict(), "grace": self.context.grace}
        assert self._agent.stdin is not None and self._agent.stdout is not None
        self._agent.stdin.write(json.dumps(config).encode() + b"\n")
        await self._agent.stdin.drain()
        try:
            line = await asyncio.wait_for(self._agent.stdout.readline(), AGENT_START_TIMEOUT)
        except asyncio.TimeoutError:
            line = b""
        if not line.startswith(b"ready"):
            await self._stop_agent()
            detail = ""
            try:
                with open(log, encoding="utf-8", errors="replace") as handle:
                    detail = handle.read()[-2000:].strip()
            except OSError:
                pass
            raise SchedulerError(f"the local agent did not start ({sys.executable} -m "
                                 f"gator_sched_local.agent){': ' + detail if detail else ''}")

    async def start(self) -> None:
        if self._owns_agent:
            await self._start_agent()
        assert self._socket_path is not None
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(
                self._socket_path, limit=1 << 24)
        except OSError as exc:
            raise SchedulerError(f"cannot reach the local agent at {self._socket_path}: {exc}") from None
        await self._send({"op": "hello", "token": self.context.token})
        line = await asyncio.wait_for(self._reader.readline(), AGENT_START_TIMEOUT)
        reply = json.loads(line or b"{}")
        if reply.get("ev") != "welcome":
            raise SchedulerError(f"the local agent refused this tier: {reply.get('reason', 'no answer')}")
        self._listener = asyncio.create_task(self._listen())

    async def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None:
            raise SchedulerError("the local agent connection is closed")
        self._writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        await self._writer.drain()

    async def _listen(self) -> None:
        assert self._reader is not None
        events = self.context.events
        while True:
            try:
                line = await self._reader.readline()
            except (ConnectionError, asyncio.LimitOverrunError, ValueError):
                line = b""
            if not line:
                break
            message = json.loads(line)
            ev, key = message.get("ev"), message.get("key")
            if ev == "running":
                events(ChildEvent(key, EventKind.RUNNING, native_id=str(message["pid"]),
                                  host=self._hostname))
            elif ev == "exited":
                self._ended(key)
                events(ChildEvent(key, EventKind.EXITED, returncode=message.get("code"),
                                  reason=message.get("reason")))
            elif ev == "failed":
                self._ended(key)
                events(ChildEvent(key, EventKind.FAILED, reason=message.get("reason")))
            elif ev == "error":
                self.context.log(40, f"local agent: {message.get('reason')}")
        if not self._closed:  # the agent went away under us
            for key in sorted(self._live):
                events(ChildEvent(key, EventKind.EXITED, reason="the local agent went away"))
            self._live.clear()
            self._all_ended.set()

    def _ended(self, key: str) -> None:
        self._live.discard(key)
        if not self._live:
            self._all_ended.set()

    # -- the contract -------------------------------------------------------------------------
    async def launch(self, requests: Sequence[LaunchRequest]) -> None:
        items = []
        for request in requests:
            self._live.add(request.key)
            items.append({
                "key": request.key, "argv": list(request.argv), "env": dict(request.env),
                "cwd": request.cwd, "log": str(request.log_path),
                "resources": request.resources.to_dict(),
            })
        if items:
            self._all_ended.clear()
            await self._send({"op": "launch", "requests": items})

    async def terminate(self, keys: Sequence[str]) -> None:
        if keys and self._writer is not None:
            await self._send({"op": "terminate", "keys": list(keys)})

    async def close(self) -> None:
        if self._closed:
            return
        if self._live and self._writer is not None:
            # Children still running when their tier closes: stop them and wait (bounded).
            try:
                await self._send({"op": "terminate", "keys": sorted(self._live)})
                await asyncio.wait_for(self._all_ended.wait(), self.context.grace + 5)
            except (asyncio.TimeoutError, SchedulerError, ConnectionError):
                pass
        self._closed = True
        if self._writer is not None:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 2)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass
            self._writer = None
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass
        if self._owns_agent:
            await self._stop_agent()

    async def _stop_agent(self) -> None:
        agent, self._agent = self._agent, None
        if agent is not None:
            if agent.stdin is not None:
                agent.stdin.close()  # the agent's lifeline: it stops everything and exits
            try:
                await asyncio.wait_for(agent.wait(), self.context.grace + 10)
            except asyncio.TimeoutError:
                agent.kill()
                await agent.wait()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    # -- placement and limits -----------------------------------------------------------------
    def check_resources(self, path: str, resources: Resources) -> str | None:
        return self.capacity.never_fits(resources)

    def export(self) -> dict[str, Any]:
        return {"agent": self._socket_path, "capacity": self.capacity.to_dict()}

    def unlimited_names(self, resources: Resources) -> list[str]:
        """Licences and features a request names that have no limit here."""
        out = [f"licence '{n}'" for n in resources.licenses if n not in self.capacity.licenses]
        out += [f"feature '{n}'" for n in resources.features if n not in self.capacity.features]
        return out
