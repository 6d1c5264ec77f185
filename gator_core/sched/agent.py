"""A base for schedulers that start children through one agent process per run.

Why an agent: limits (slots, memory, licences) must hold across the whole
tree, not per tier, and some resources are costly to set up per tier (a warm
interpreter to fork from, an SSH connection per host).  So the root tier's
scheduler starts one agent process; the schedulers of child tiers find it
through what the root exported and connect to it.  The local scheduler and the
SSH scheduler are built this way.

The agent listens on a Unix socket in a private directory and speaks
newline-delimited JSON; every connection first proves it knows the run's
token::

    client -> agent   {"op": "hello", "token": T}
                      {"op": "launch", "requests": [{key, path, kind, argv, env, cwd, tracking, log,
                                                     resources, inputs}, ...]}  (inputs optional)
                      {"op": "terminate", "keys": [...]}
    agent -> client   {"ev": "welcome"}
                      {"ev": "running", "key": K, "pid": P, "host": H}       (host optional)
                      {"ev": "exited", "key": K, "code": C, "reason": R, "state": S, "pid": P}
                      {"ev": "failed", "key": K, "reason": R}
                      {"ev": "error", "reason": R}                      (logged by the tier)

The agent is started as ``python -m <agent_module>``; it reads one JSON line
of configuration on stdin, answers ``ready`` on stdout, and serves until its
stdin closes (the lifeline: it then stops everything it started and exits).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any, ClassVar

from gator_core.exceptions import SchedulerError
from gator_core.sched.contract import ChildEvent, EventKind, LaunchRequest, Scheduler
from gator_core.states import Severity

__all__ = ["AgentScheduler", "AGENT_START_TIMEOUT", "answer_hello", "prestart_interpreter", "release_interpreter"]

AGENT_START_TIMEOUT = 60.0  # a cold interpreter on a loaded machine can be slow to import
KILL_WAIT = 3.0  # seconds a killing close waits for the agent to see its children end
WARM_MODULE = "gator_core.runtime.warm"
_warm: list[subprocess.Popen[bytes]] = []  # an interpreter started ahead, for the first agent


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            start_new_session=True)  # Ctrl-C reaches gator run only; it decides


def prestart_interpreter() -> None:
    """Start the interpreter the run's agent will become, now (``gator run`` calls this
    first of all): its start-up and imports overlap the run's own (see
    :mod:`gator_core.runtime.warm`).  Unused, it exits when this process does."""
    if not _warm:
        try:
            _warm.append(_spawn([sys.executable, "-m", WARM_MODULE]))
        except OSError:
            pass  # the agent starts cold, as it would have anyway


def release_interpreter() -> None:
    """Let go of an interpreter started ahead that no agent took (its stdin closes, so
    it exits); a run whose scheduler started does not keep it idle for hours."""
    import threading

    while _warm:
        process = _warm.pop()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        threading.Thread(target=process.wait, name="warm-reaper", daemon=True).start()


def answer_hello(message: dict[str, Any], token: bytes) -> tuple[bool, dict[str, Any]]:
    """The agent's side of a tier's first message, which must be ``hello`` with the run's
    token: whether the tier is let in, and the reply to send it (``welcome`` or an error)."""
    offered = str(message.get("token", "")).encode()
    if message.get("op") == "hello" and hmac.compare_digest(offered, token):
        return True, {"ev": "welcome", "pid": os.getpid()}
    return False, {"ev": "error", "reason": "authentication failed"}


class AgentScheduler(Scheduler):
    """Base class of schedulers whose children are started by a per-run agent.

    Subclasses set ``agent_module`` (run as ``python -m``) and ``agent_name``
    (for messages), and may extend :meth:`agent_config` (what the agent reads
    on start) and :meth:`agent_export` (what child tiers receive besides the
    agent's socket).  ``close_wait`` is how long, beyond the grace period, a
    closing tier waits for its children to end (an SSH child copies its
    tracking data back first).  ``start_timeout`` bounds the agent's start
    (an SSH agent connects to every host first).
    """

    agent_module: ClassVar[str] = ""
    agent_name: ClassVar[str] = "agent"
    close_wait: ClassVar[float] = 5.0
    start_timeout: ClassVar[float] = AGENT_START_TIMEOUT  # seconds for the agent to say it is ready

    def __init__(self, options: Any, context: Any) -> None:
        super().__init__(options, context)
        inherited = context.inherited or {}
        self._socket_path: str | None = inherited.get("agent")
        self._owns_agent = self._socket_path is None
        self._agent: subprocess.Popen[bytes] | None = None
        self._socket_dir: str | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._live: set[str] = set()  # keys launched and not yet ended
        self._pids: dict[str, str] = {}  # key -> pid of its latest process (a key may run again)
        self._reported: set[str] = set()  # keys whose child sent its final report
        self._all_ended = asyncio.Event()
        self._closed = False
        self._killing = False  # interrupted twice: close kills without a grace period
        self._hostname = socket.gethostname()

    # -- what subclasses provide ----------------------------------------------------------------
    def agent_config(self) -> dict[str, Any]:
        """The agent's configuration (JSON-ready).  Extend, keeping these keys."""
        assert self._socket_path is not None
        return {"socket": self._socket_path, "token": self.context.token, "grace": self.context.grace,
                "log": str(self.context.tracking / "agent.log")}

    def agent_export(self) -> dict[str, Any]:
        """What child tiers' schedulers receive besides the agent's socket."""
        return {}

    # -- the agent ---------------------------------------------------------------------------------
    async def _start_agent(self) -> None:
        self._socket_dir = tempfile.mkdtemp(prefix=f"gator-{self.name}-")  # mode 0700
        self._socket_path = f"{self._socket_dir}/agent.sock"
        config = self.agent_config()
        lines = json.dumps(config).encode() + b"\n"
        warm = _warm.pop() if _warm else None
        if warm is not None and warm.poll() is None:
            self._agent, lines = warm, self.agent_module.encode() + b"\n" + lines
        else:
            self._agent = _spawn([sys.executable, "-m", self.agent_module])
        assert self._agent.stdin is not None and self._agent.stdout is not None
        loop = asyncio.get_running_loop()
        try:
            self._agent.stdin.write(lines)
            self._agent.stdin.flush()
            # A blocking read in a thread: the process was not started by this loop.  On
            # a timeout, stopping the agent ends the read.
            line = await asyncio.wait_for(loop.run_in_executor(None, self._agent.stdout.readline),
                                          self.start_timeout)
        except asyncio.TimeoutError:
            line = f"no answer within {self.start_timeout:g} s".encode()
        except OSError as exc:  # it died before reading its configuration
            line = f"{type(exc).__name__}: {exc}".encode()
        if line.startswith(b"error: "):  # the agent says what is wrong (e.g. a host it cannot use)
            await self._stop_agent()
            raise SchedulerError(line[7:].decode(errors="replace").strip())
        if not line.startswith(b"ready"):
            await self._stop_agent()
            detail = line.decode(errors="replace").strip()
            try:
                with open(config["log"], encoding="utf-8", errors="replace") as handle:
                    detail = (detail + "\n" + handle.read()[-2000:]).strip()
            except OSError:
                pass
            raise SchedulerError(f"the {self.agent_name} did not start ({sys.executable} -m "
                                 f"{self.agent_module}){': ' + detail if detail else ''}")

    async def _stop_agent(self) -> None:
        agent, self._agent = self._agent, None
        if agent is not None:
            if agent.stdin is not None:
                try:
                    agent.stdin.close()  # the agent's lifeline: it stops everything and exits
                except OSError:
                    pass
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(loop.run_in_executor(None, agent.wait),
                                       self.context.grace + self.close_wait + 10)
            except asyncio.TimeoutError:
                agent.kill()
                await loop.run_in_executor(None, agent.wait)
            if agent.stdout is not None:
                agent.stdout.close()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    async def start(self) -> None:
        if self._owns_agent:
            await self._start_agent()
        assert self._socket_path is not None
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(self._socket_path, limit=1 << 24)
        except OSError as exc:
            raise SchedulerError(f"cannot reach the {self.agent_name} at {self._socket_path}: {exc}") from None
        await self._send({"op": "hello", "token": self.context.token})
        try:
            line = await asyncio.wait_for(self._reader.readline(), AGENT_START_TIMEOUT)
            reply = json.loads(line or b"{}")
        except (asyncio.TimeoutError, ConnectionError, ValueError) as exc:
            reason = f"no welcome within {AGENT_START_TIMEOUT:g} s" if isinstance(exc, asyncio.TimeoutError) \
                else f"{type(exc).__name__}: {exc}"
            raise SchedulerError(f"the {self.agent_name} did not answer this tier: {reason}") from None
        if reply.get("ev") != "welcome":
            raise SchedulerError(f"the {self.agent_name} refused this tier: {reply.get('reason', 'no answer')}")
        self._listener = asyncio.create_task(self._listen())

    async def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None:
            raise SchedulerError(f"the {self.agent_name} connection is closed")
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
                self._pids[key] = str(message["pid"])
                events(ChildEvent(key, EventKind.RUNNING, native_id=str(message["pid"]),
                                  host=message.get("host") or self._hostname))
            elif ev == "exited":
                pid = str(message["pid"]) if message.get("pid") is not None else None
                # The end of an earlier process under a key launched again (a retried job's
                # old attempt) is passed on with its pid, and the key stays live.
                if pid is None or self._pids.get(key, pid) == pid:
                    self._pids.pop(key, None)
                    self._ended(key)
                events(ChildEvent(key, EventKind.EXITED, native_id=pid, returncode=message.get("code"),
                                  reason=message.get("reason"), state=message.get("state")))
            elif ev == "failed":
                self._ended(key)
                events(ChildEvent(key, EventKind.FAILED, reason=message.get("reason")))
            elif ev == "error":
                self.context.log(Severity.ERROR, f"{self.agent_name}: {message.get('reason')}")
        if not self._closed:  # the agent went away under us
            for key in sorted(self._live):
                events(ChildEvent(key, EventKind.EXITED, reason=f"the {self.agent_name} went away"))
            self._live.clear()
            self._all_ended.set()

    def _ended(self, key: str) -> None:
        self._live.discard(key)
        self._reported.discard(key)  # both sets hold live keys only: 10^5 jobs must not fill them
        if not self._live:
            self._all_ended.set()

    # -- the contract -------------------------------------------------------------------------
    async def launch(self, requests: Sequence[LaunchRequest]) -> None:
        items = []
        for request in requests:
            self._live.add(request.key)
            self._reported.discard(request.key)  # a retried job: a new child under its old key
            items.append({
                "key": request.key, "path": request.path, "kind": request.kind, "argv": list(request.argv),
                "env": dict(request.env), "cwd": request.cwd, "tracking": request.tracking,
                "log": str(request.log_path), "resources": request.resources.to_dict(),
                **({"inputs": list(request.inputs)} if request.inputs else {}),
            })
        if items:
            self._all_ended.clear()
            await self._send({"op": "launch", "requests": items})

    async def terminate(self, keys: Sequence[str]) -> None:
        if keys and self._writer is not None:
            await self._send({"op": "terminate", "keys": list(keys)})

    def reported(self, key: str) -> None:
        if key in self._live:  # one that ended already needs nothing more at close
            self._reported.add(key)

    def stopping(self, *, kill: bool = False) -> None:
        self._killing = self._killing or kill

    async def close(self) -> None:
        if self._closed:
            return
        if self._live and self._writer is not None:
            # Children still running when their tier closes: stop those that did not
            # report (those that did are ending by themselves), and wait (bounded).
            try:
                if self._killing:  # everything, reported or not, and at once
                    await self._send({"op": "kill", "keys": sorted(self._live)})
                    wait = KILL_WAIT
                else:
                    unreported = sorted(self._live - self._reported)
                    if unreported:
                        await self._send({"op": "terminate", "keys": unreported})
                    wait = self.context.grace + self.close_wait
                await asyncio.wait_for(self._all_ended.wait(), wait)
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

    def export(self) -> dict[str, Any]:
        return {"agent": self._socket_path, **self.agent_export()}
