"""The SSH agent: one process per run that places every job on an SSH host.

The root tier's scheduler starts it (``python -m gator_sched_ssh.agent``);
every tier's scheduler talks to it over a Unix socket, in the protocol of
:mod:`gator_core.sched.agent`.  Why one agent: one SSH connection per host for
the whole run, and slots and licences that hold across the whole tree.

* Tiers (groups, arrays) run on this machine, as processes of the agent: they
  mostly wait, and their children must reach them.
* Jobs run on the hosts: each host runs one child server for the run
  (``python -m gator_core.remote``, in one session of its one connection),
  which forks every job from a warm interpreter.  The job's variables (URL,
  token) travel in the server's stdin, never on a command line.  A job goes
  to the host with the most free slots that fits its ``!Cores`` and
  ``!Memory``; licences are counted across all hosts.
* A job's tracking data (its store, messages and its own ``gator.log``) is
  written on the host and copied back over SFTP when it ends, unless the host
  shares this machine's filesystem.
* A host that stops answering is lost: its running jobs end with the reason,
  and it is reconnected a bounded number of times while the others go on.

Asyncio in the main thread; paramiko's blocking calls in threads, which hand
their results back with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import posixpath
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gator_core import (
    HOST_LAUNCH_DIR,
    HOST_TRACKING,
    HOST_TRACKING_ROOT,
    PARENT_URL,
    Backoff,
    Capacity,
    HostPaths,
    ResourcePool,
    Resources,
    answer_hello,
    take_fitting,
)

from .hosts import HostsConfig
from .link import HostError, HostLink, route_path

__all__ = ["main", "SshAgent"]

CHILD_COMMAND = ("-m", "gator_core.child")  # what a tier's request runs after the interpreter
LOOKAHEAD = 64  # queued jobs examined past one that does not fit (bounded backfill)
FETCH_ATTEMPTS = 3


@dataclass(eq=False)
class Client:
    writer: asyncio.StreamWriter
    authenticated: bool = False
    requests: dict[str, Request] = field(default_factory=dict)  # key -> live request


@dataclass(eq=False)
class Request:
    client: Client
    key: str
    path: str
    kind: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    tracking: str
    log: str
    resources: Resources
    inputs: list[str] = field(default_factory=list)  # artefacts here it needs on its host
    link: HostLink | None = None
    rid: str = ""  # its id with the host's child server
    generation: int = 0  # the connection it was started on
    pid: int | None = None
    remote: str | None = None  # its tracking directory on the host (None: shared filesystem)
    process: asyncio.subprocess.Process | None = None
    terminated: bool = False
    holds: bool = False  # slots and licences taken


class SshAgent:
    def __init__(self, config: dict[str, Any]) -> None:
        self.token = config["token"].encode()
        self.socket_path = config["socket"]
        self.grace = float(config["grace"])
        self.run_id = config["run_id"]
        self.tracking_root = config["tracking_root"]
        self.close_wait = float(config["close_wait"])
        hosts = HostsConfig.from_dict(config["hosts"])
        self.reconnects = int(config["reconnect"])
        self.licenses = ResourcePool(Capacity(slots=1 << 30, licenses=dict(config["licenses"]),
                                              features=dict(config["features"])))
        self.ports: set[int] = set()  # local ports of this run's tiers: the only ones forwarded
        self.loop = asyncio.get_running_loop()
        self.links: dict[str, HostLink] = {}
        self.pools: dict[str, ResourcePool] = {}
        self.given_up: dict[str, str] = {}  # host -> why it is out for the rest of the run
        for host in hosts.hosts:
            self.links[host.name] = HostLink(
                host, hosts.known_hosts, connect_timeout=float(config["connect_timeout"]),
                keepalive=float(config["keepalive"]), dead_after=float(config["dead_after"]), grace=self.grace,
                allowed=self.ports.__contains__, on_lost=self._lost_from_thread, on_event=self._event_from_thread,
                warn=self._warn_from_thread)
            self.pools[host.name] = ResourcePool(Capacity(slots=host.slots, memory=host.memory))
        self.queue: deque[Request] = deque()
        self.by_id: dict[str, Request] = {}  # remote jobs by their id with their host's server
        # Jobs whose tracking data is still on their host, by their tracking directory here,
        # and what waits for it to come back (a job that needs an artefact kept in it).
        self.coming_back: dict[str, Request] = {}
        self.after_back: dict[Request, list[Any]] = {}
        self.next_id = 0
        self.clients: list[Client] = []
        self.live: set[Request] = set()
        self.stopping = False
        self.idle = asyncio.Event()
        self.hostname = socket.gethostname()

    # -- start -----------------------------------------------------------------------------------
    async def connect_all(self) -> list[str]:
        """Connect every host at once; the problems, one per host that failed."""
        async def one(link: HostLink) -> str | None:
            try:
                await asyncio.to_thread(link.connect)
            except HostError as exc:
                return str(exc)
            return None

        return [problem for problem in await asyncio.gather(*(one(link) for link in self.links.values()))
                if problem]

    # -- clients ---------------------------------------------------------------------------------
    async def serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(writer)
        self.clients.append(client)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                self.handle(client, json.loads(line))
        except (ConnectionError, ValueError):
            pass
        finally:
            self.clients.remove(client)
            for request in list(client.requests.values()):  # its tier is gone: stop what it started
                self.terminate(request)

    def send(self, client: Client, message: dict[str, Any]) -> None:
        if client in self.clients and not client.writer.is_closing():
            client.writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def broadcast_error(self, text: str) -> None:
        # Also to the agent's log: a warning raised while connecting has no tier listening yet.
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)
        for client in self.clients:
            if client.authenticated:
                self.send(client, {"ev": "error", "reason": text})

    def handle(self, client: Client, message: dict[str, Any]) -> None:
        op = message.get("op")
        if not client.authenticated:
            client.authenticated, reply = answer_hello(message, self.token)
            self.send(client, reply)
            if not client.authenticated:
                client.writer.close()
            return
        if op == "launch":
            for item in message["requests"]:
                request = Request(client, item["key"], item.get("path", item["key"]), item.get("kind", "job"),
                                  list(item["argv"]), dict(item["env"]), item["cwd"], item.get("tracking", ""),
                                  item["log"], Resources.from_dict(item["resources"]),
                                  inputs=list(item.get("inputs", ())))
                client.requests[request.key] = request
                self.queue.append(request)
            self.schedule()
        elif op in ("terminate", "kill"):
            for key in message["keys"]:
                request = client.requests.get(key)
                if request is not None:
                    self.terminate(request, kill=op == "kill")
        else:
            self.send(client, {"ev": "error", "reason": f"unknown op {op!r}"})

    def finish(self, request: Request, event: dict[str, Any]) -> None:
        """The one final event of a request; its slots go back."""
        if request.client.requests.get(request.key) is not request:
            return
        del request.client.requests[request.key]
        self.release(request)
        self.live.discard(request)
        if self.coming_back.get(request.tracking) is request:
            del self.coming_back[request.tracking]
        for resume in self.after_back.pop(request, ()):
            resume()
        if event.get("ev") == "exited" and request.pid is not None:
            event = {**event, "pid": request.pid}  # which process of the key (it may run again)
        self.send(request.client, {"key": request.key, **event})
        if not self.live and not self.queue:
            self.idle.set()
        self.schedule()

    def release(self, request: Request) -> None:
        if request.holds and request.link is not None:
            request.holds = False
            self.pools[request.link.host.name].give(request.resources)
            self.licenses.give(request.resources)

    # -- placing -----------------------------------------------------------------------------------
    def schedule(self) -> None:
        """Start what can start, in order, looking past at most LOOKAHEAD jobs that do not
        fit (as the local agent does), so a long queue costs nothing per event."""
        if self.stopping:
            return
        placed: dict[Request, HostLink | str] = {}  # a job's host, or why it can never run now

        def leaves(request: Request) -> bool:
            if request.client.requests.get(request.key) is not request or request.kind != "job":
                return True  # terminated while queued (dropped), or a tier: it runs here, unlimited
            where = self.place(request) or self.never(request)
            if where:
                placed[request] = where
            return bool(where)

        remote: list[tuple[Request, HostLink]] = []
        failed: list[tuple[Request, str]] = []
        for request in take_fitting(self.queue, leaves, LOOKAHEAD):
            where = placed.pop(request, None)
            if isinstance(where, str):
                failed.append((request, where))
            elif where is not None:
                # Booked at once: the next request is placed against what is left.
                request.link = where
                request.holds = True
                self.pools[where.host.name].take(request.resources)
                self.licenses.take(request.resources)
                self.live.add(request)
                self.idle.clear()
                remote.append((request, where))
            elif request.client.requests.get(request.key) is request:
                self.live.add(request)
                self.idle.clear()
                asyncio.ensure_future(self.run_local(request))
        # Only now that the scan is over: starting may requeue and failing schedules again,
        # and either would change the queue under it.
        for request, link in remote:
            self.start_remote(request, link)
        for request, why in failed:
            self.finish(request, {"ev": "failed", "reason": why})

    def place(self, request: Request) -> HostLink | None:
        if not self.licenses.fits(request.resources):
            return None
        best, room = None, -1
        for name, link in self.links.items():
            pool = self.pools[name]
            if link.up and pool.fits(request.resources):
                free = pool.capacity.slots - pool.slots
                if free > room:
                    best, room = link, free
        return best

    def never(self, request: Request) -> str | None:
        """Why a request can never run now (every host that could take it is given up)."""
        fit = [name for name, pool in self.pools.items() if pool.capacity.never_fits(request.resources) is None]
        if fit and all(name in self.given_up for name in fit):
            return "no host left to run it: " + "; ".join(f"{name}: {self.given_up[name]}" for name in fit)
        return None

    # -- tiers, on this machine -----------------------------------------------------------------
    async def run_local(self, request: Request) -> None:
        try:
            os.makedirs(os.path.dirname(request.log) or ".", exist_ok=True)
            with open(request.log, "ab") as log:
                process = await asyncio.create_subprocess_exec(
                    *request.argv, env={**os.environ, **request.env}, cwd=request.cwd, stdin=asyncio.subprocess.DEVNULL,
                    stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self.finish(request, {"ev": "failed", "reason": f"cannot start {request.argv[0]}: {exc}"})
            return
        request.process = process
        self.send(request.client, {"ev": "running", "key": request.key, "pid": process.pid, "host": self.hostname})
        if request.terminated:
            self.terminate(request)
        code = await process.wait()
        self.finish(request, {"ev": "exited", "code": code})

    # -- jobs, on the hosts ------------------------------------------------------------------------
    def start_remote(self, request: Request, link: HostLink) -> None:
        """Ask the host's child server to fork the job (in this, the loop's, thread)."""
        host = link.host
        env = dict(request.env)
        tier_port = urlsplit(env.get(PARENT_URL, "")).port or 0
        self.ports.add(tier_port)
        env[PARENT_URL] = f"ws://127.0.0.1:{link.forward_port}{route_path(tier_port)}"
        cwd, log = request.cwd, request.log
        request.remote = None
        uploads: list[tuple[str, str]] = []
        if not host.shared:
            relative = os.path.relpath(request.tracking, self.tracking_root)
            request.remote = f"{link.workdir}/{self.run_id[:8]}/{relative}"
            env[HOST_TRACKING] = request.remote
            env[HOST_LAUNCH_DIR] = link.workdir
            env[HOST_TRACKING_ROOT] = self.host_root(link)
            cwd, log = link.workdir, f"{request.remote}/gator.log"
            producer = self._still_away(request.inputs)
            if producer is not None:  # what it needs is still on its producer's host
                self.after_back.setdefault(producer, []).append(lambda: self._resume(request, link))
                return
            try:
                uploads = self.uploads(request, link)
            except OSError as exc:
                self.finish(request, {"ev": "failed", "reason": f"{link.host.label}: cannot copy the artefacts "
                                                                 f"it needs there: {exc}"})
                return
        # Gator's own child runs in the forked server; any other command as given (the
        # interpreter that runs gator here is the host's own there).
        argv = None
        if list(request.argv[1:]) != list(CHILD_COMMAND):
            head = host.python if request.argv[0] == sys.executable else request.argv[0]
            argv = [head, *request.argv[1:]]
        start = {"op": "start", "env": env, "cwd": cwd, "log": log, "argv": argv, "collect": request.remote}
        if uploads:  # the artefacts it needs go first, off the loop's thread
            threading.Thread(target=self._upload_then_start, args=(request, link, uploads, start),
                             name=f"put-{request.key}", daemon=True).start()
            return
        self.send_start(request, link, start)

    def _resume(self, request: Request, link: HostLink) -> None:
        """Start a job that waited for its artefacts to come back, unless it was dropped."""
        if request.client.requests.get(request.key) is not request or request.link is not link:
            return
        if request.terminated:
            self.finish(request, {"ev": "exited", "code": None, "reason": "terminated before it started"})
        elif not link.up:
            self.requeue(request)
        else:
            self.start_remote(request, link)

    def _still_away(self, inputs: list[str]) -> Request | None:
        """A job whose tracking data (with the artefacts it kept) has not come back yet,
        and holds one of ``inputs``."""
        for path in inputs:
            directory = os.path.dirname(path)
            while directory.startswith(self.tracking_root) and directory != self.tracking_root:
                producer = self.coming_back.get(directory)
                if producer is not None:
                    return producer
                directory = os.path.dirname(directory)
        return None

    def host_root(self, link: HostLink) -> str:
        """What stands for the run's tracking directory on a host without its files."""
        return f"{link.workdir}/{self.run_id[:8]}"

    def uploads(self, request: Request, link: HostLink) -> list[tuple[str, str]]:
        """The files (here, there) of the artefacts a job needs that its host lacks yet."""
        paths = HostPaths(self.tracking_root, request.cwd, self.host_root(link), link.workdir)
        files = []
        for path in request.inputs:
            there = paths.to_host(path)
            if not os.path.isdir(path):
                os.stat(path)  # gone since it was produced: say so now
                files.append((path, there))
                continue
            for root, _, names in os.walk(path):
                for name in names:
                    local = os.path.join(root, name)
                    files.append((local, posixpath.join(there, *Path(os.path.relpath(local, path)).parts)))
        return [(local, remote) for local, remote in files if remote not in link.uploaded]

    def _upload_then_start(self, request: Request, link: HostLink, uploads: list[tuple[str, str]],
                           start: dict[str, Any]) -> None:
        try:
            link.put(uploads)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problem = f"{link.host.label}: copying the artefacts it needs there failed: {type(exc).__name__}: {exc}"
            self.loop.call_soon_threadsafe(self._not_started, request, link, problem)
            return
        self.loop.call_soon_threadsafe(self.send_start, request, link, start)

    def _not_started(self, request: Request, link: HostLink, problem: str) -> None:
        if not link.up:  # lost meanwhile: it goes back in the queue
            self.requeue(request)
        else:
            self.finish(request, {"ev": "failed", "reason": problem})

    def send_start(self, request: Request, link: HostLink, start: dict[str, Any]) -> None:
        """Ask the host's child server to fork the job (in the loop's thread)."""
        if request.client.requests.get(request.key) is not request or request.link is not link:
            return  # requeued while its artefacts were being copied
        if request.terminated:
            self.finish(request, {"ev": "exited", "code": None, "reason": "terminated before it started"})
            return
        self.next_id += 1
        request.rid = str(self.next_id)
        request.generation = link.generation
        self.by_id[request.rid] = request
        if request.remote is not None:
            self.coming_back[request.tracking] = request
        try:
            link.send({**start, "id": request.rid})
        except HostError as exc:
            self.by_id.pop(request.rid, None)
            if not link.up:  # lost before it started: it goes back in the queue
                self.requeue(request)
            else:
                self.finish(request, {"ev": "failed", "reason": str(exc)})

    def _event_from_thread(self, link: HostLink, message: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.host_event, link, message)

    def host_event(self, link: HostLink, message: dict[str, Any]) -> None:
        request = self.by_id.get(str(message.get("id")))
        if request is None or request.link is not link:
            return
        ev = message.get("ev")
        if ev == "running":
            request.pid = int(message["pid"])
            if request.client.requests.get(request.key) is request:
                self.send(request.client, {"ev": "running", "key": request.key, "pid": request.pid,
                                           "host": link.host.name})
            if request.terminated:
                self.terminate(request)
        elif ev == "exited":
            del self.by_id[request.rid]
            self.release(request)  # its slots are free now; the copy does not need them
            self.schedule()
            event = {"ev": "exited", "code": message.get("code")}
            if request.remote is not None and message.get("files") is not None:
                problem = self._unpack(message["files"], request.tracking)
                if problem:
                    event["reason"] = problem
            elif request.remote is not None and message.get("fetch"):  # too big to come inline
                self.idle.clear()
                threading.Thread(target=self._fetch_then_finish, args=(request, link, event),
                                 name=f"fetch-{request.key}", daemon=True).start()
                return
            self.finish(request, event)
        elif ev == "failed":
            del self.by_id[request.rid]
            self.finish(request, {"ev": "failed", "reason": f"{link.host.label}: {message.get('reason')}"})

    @staticmethod
    def _unpack(files: dict[str, list[Any]], directory: str) -> str | None:
        """Write the files a job's host sent back (``[base64, mode]`` by relative path)
        into its tracking directory here."""
        try:
            for relative, (data, mode) in files.items():
                path = os.path.normpath(os.path.join(directory, relative))
                if not path.startswith(os.path.normpath(directory) + os.sep):
                    continue  # nothing outside the job's own directory
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(base64.b64decode(data))
                os.chmod(path, int(mode) & 0o7777)
        except (OSError, ValueError) as exc:
            return f"could not store its tracking data here: {exc}"
        return None

    def _fetch_then_finish(self, request: Request, link: HostLink, event: dict[str, Any]) -> None:
        assert request.remote is not None
        problem = self._fetch(link, request.remote, request.tracking)
        if problem:
            event = {**event, "reason": problem}
            # A child that already sent its final report has its EXITED ignored by the tier,
            # so the copy-back failure is said as a warning too.
            self.loop.call_soon_threadsafe(self.broadcast_error, f"{request.path}: {problem}")
        self.loop.call_soon_threadsafe(self.finish, request, event)

    def _fetch(self, link: HostLink, remote: str, local: str) -> str | None:
        last = ""
        for _ in range(FETCH_ATTEMPTS):
            try:
                link.fetch(remote, local)
                return None
            except FileNotFoundError:
                return None  # the child never wrote anything (it could not start)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                last = f"{type(exc).__name__}: {exc}"
                if not link.up:
                    break
        return f"copying its tracking data back from {link.host.name} failed ({last}); it stays in {remote}"

    def requeue(self, request: Request) -> None:
        self.release(request)
        self.live.discard(request)
        request.link = None
        if request.client.requests.get(request.key) is request:
            self.queue.appendleft(request)
        self.schedule()

    # -- stopping --------------------------------------------------------------------------------
    def terminate(self, request: Request, *, kill: bool = False, whole_tree: bool = False) -> None:
        """Stop one request: SIGTERM (then SIGKILL after the grace period), or SIGKILL at
        once with ``kill``.  ``whole_tree`` (the run is gone) signals the jobs below a
        wrapper too, as it may be busy trying to reach its tier."""
        request.terminated = True
        if request in self.live:
            if request.link is not None and request.rid in self.by_id:
                message = {"op": "kill" if kill else "terminate", "id": request.rid}
                if whole_tree:
                    message["tree"] = True
                try:
                    request.link.send(message)
                except HostError:
                    pass  # the host is gone: its jobs end with it
            elif request.process is not None and request.process.returncode is None:
                self._signal(request.process, signal.SIGKILL if kill else signal.SIGTERM)
                if not kill:
                    self.loop.call_later(self.grace, self._signal, request.process, signal.SIGKILL)
        else:
            self.finish(request, {"ev": "exited", "code": None, "reason": "terminated before it started"})

    @staticmethod
    def _signal(process: asyncio.subprocess.Process, sig: int) -> None:
        if process.returncode is None:
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    async def shutdown(self) -> None:
        """Stop everything (bounded), then close every connection."""
        self.stopping = True
        for request in list(self.queue):
            self.finish(request, {"ev": "exited", "code": None, "reason": "terminated before it started"})
        self.queue.clear()
        for request in list(self.live):  # normally none: their tiers closed first
            self.terminate(request, whole_tree=True)
        if self.live:
            try:
                await asyncio.wait_for(self.idle.wait(), 2 * self.grace + self.close_wait)
            except asyncio.TimeoutError:
                pass
        for link in self.links.values():
            try:  # what was copied there for jobs goes, and empty directories; a dead host
                # is not waited for
                await asyncio.wait_for(asyncio.to_thread(link.clean_up, self.host_root(link)),
                                       link.connect_timeout)
            except Exception:  # noqa: BLE001 - best effort at the end of the run
                pass
            link.close()
        for client in self.clients:
            client.writer.close()

    # -- hosts lost and found -------------------------------------------------------------------------
    def _lost_from_thread(self, link: HostLink, reason: str) -> None:
        self.loop.call_soon_threadsafe(self.host_lost, link, reason)

    def _warn_from_thread(self, text: str) -> None:
        self.loop.call_soon_threadsafe(self.broadcast_error, text)

    def host_lost(self, link: HostLink, reason: str) -> None:
        for request in [r for r in self.by_id.values() if r.link is link]:
            del self.by_id[request.rid]
            self.finish(request, {"ev": "exited", "code": None, "state": "HOST_LOST",
                                  "reason": f"host {link.host.label} lost: {reason}"})
        if self.stopping:
            return
        self.broadcast_error(f"host {link.host.label} lost: {reason}; its running jobs are lost, and it is "
                             f"reconnected up to {self.reconnects} times")
        asyncio.ensure_future(self.reconnect(link, reason))

    async def reconnect(self, link: HostLink, reason: str) -> None:
        # Equal jitter: hosts lost together (a network blip) are not all dialled again
        # at once, and the bounded attempts still span about as long as planned.
        delays = Backoff(first=2.0, cap=30.0, jitter="equal").delays()
        for attempt in range(1, self.reconnects + 1):
            await asyncio.sleep(next(delays))
            if self.stopping:
                return
            try:
                await asyncio.wait_for(asyncio.to_thread(link.connect), link.connect_timeout * 2 + 10)
            except (HostError, asyncio.TimeoutError) as exc:
                reason = str(exc) or "connecting timed out"
                continue
            self.broadcast_error(f"host {link.host.label} is back (attempt {attempt})")
            self.schedule()
            return
        self.given_up[link.host.name] = reason
        self.broadcast_error(f"host {link.host.label} given up after {self.reconnects} attempts: {reason}")
        self.schedule()


async def _serve(config: dict[str, Any]) -> int:
    agent = SshAgent(config)
    problems = await agent.connect_all()
    if problems:
        for link in agent.links.values():
            link.close()
        sys.stdout.write("error: " + " | ".join(problems) + "\n")
        sys.stdout.flush()
        return 1
    server = await asyncio.start_unix_server(agent.serve_client, agent.socket_path, limit=1 << 24)
    os.chmod(agent.socket_path, 0o600)
    sys.stdout.write(f"ready {os.getpid()}\n")
    sys.stdout.flush()
    # The lifeline: when the scheduler that started us closes our stdin, we stop.
    stopped = asyncio.Event()
    reader = asyncio.StreamReader()
    await agent.loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    agent.loop.add_signal_handler(signal.SIGTERM, stopped.set)

    async def lifeline() -> None:
        while await reader.read(4096):
            pass
        stopped.set()

    watcher = asyncio.ensure_future(lifeline())
    await stopped.wait()
    watcher.cancel()
    server.close()
    await agent.shutdown()
    return 0


def main() -> int:
    """Read the configuration line from stdin, say ready on stdout, serve until stdin closes."""
    config = json.loads(sys.stdin.readline())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run decides when to stop
    log = os.open(config["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        ready_out = os.dup(1)
        os.dup2(log, 2)
        sys.stdout = os.fdopen(ready_out, "w", buffering=1)
        return asyncio.run(_serve(config))
    except Exception:  # noqa: BLE001 - the scheduler shows the log
        traceback.print_exc()
        return 1
    finally:
        os.close(log)


if __name__ == "__main__":
    sys.exit(main())
