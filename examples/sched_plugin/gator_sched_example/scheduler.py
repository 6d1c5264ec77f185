"""Run every child through a command prefix, at most ``slots`` at a time.

Everything a scheduler must do is here: declare options, start children with
the command and environment Gator gives, report what happens to them, stop
them on request, and leave nothing behind on close.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
from collections.abc import Sequence
from typing import Any

from gator_core import ChildEvent, EventKind, LaunchRequest, Option, Scheduler, parse_positive_int

__all__ = ["PrefixScheduler"]


class PrefixScheduler(Scheduler):
    name = "example"
    description = "in-house example: children run through a command prefix"
    options = (
        Option("slots", parse_positive_int, 2, "children running at once (per tier)"),
        Option("prefix", shlex.split, [], "command put in front of every child, e.g. 'nice -n 10'"),
    )

    def __init__(self, options: Any, context: Any) -> None:
        super().__init__(options, context)
        self._slots = asyncio.Semaphore(self.settings["slots"])
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelled: set[str] = set()
        self._closing = False

    async def launch(self, requests: Sequence[LaunchRequest]) -> None:
        # Return at once: children wait for a slot in their own task.
        for request in requests:
            self._cancelled.discard(request.key)  # a retried job comes again under its old key
            task = asyncio.create_task(self._run(request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, request: LaunchRequest) -> None:
        events = self.context.events
        async with self._slots:
            if request.key in self._cancelled or self._closing:
                events(ChildEvent(request.key, EventKind.EXITED, reason="cancelled before it started"))
                return
            os.makedirs(request.tracking, exist_ok=True)
            with open(request.log_path, "ab") as log:
                try:
                    proc = await asyncio.create_subprocess_exec(
                        *self.settings["prefix"], *request.argv,
                        env={**os.environ, **request.env}, cwd=request.cwd,
                        stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                        start_new_session=True,
                    )
                except OSError as exc:
                    events(ChildEvent(request.key, EventKind.FAILED, reason=f"cannot start: {exc}"))
                    return
            self._procs[request.key] = proc
            events(ChildEvent(request.key, EventKind.RUNNING, native_id=str(proc.pid),
                              host=socket.gethostname()))
            code = await proc.wait()
            self._procs.pop(request.key, None)
            events(ChildEvent(request.key, EventKind.EXITED, returncode=code))

    async def terminate(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._cancelled.add(key)
            proc = self._procs.get(key)
            if proc is not None:
                self._signal(proc, signal.SIGTERM)
                asyncio.get_running_loop().call_later(self.context.grace, self._signal, proc, signal.SIGKILL)

    @staticmethod
    def _signal(proc: asyncio.subprocess.Process, sig: int) -> None:
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass

    async def close(self) -> None:
        self._closing = True  # children still waiting for a slot end without starting
        for proc in list(self._procs.values()):
            self._signal(proc, signal.SIGTERM)
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=self.context.grace)
            for proc in list(self._procs.values()):
                self._signal(proc, signal.SIGKILL)
            for task in pending:  # no event may follow close()
                task.cancel()
