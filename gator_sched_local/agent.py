"""The local agent: one process per run that starts every child on this machine.

Why an agent: the concurrency limit, memory and licences must hold across the
whole tree, not per tier, so one process owns the pool and every tier asks it
to start children.  And starting a Python child from scratch costs a few
hundred milliseconds of imports; the agent imports Gator once and *forks*
each child from itself (a warm start), which costs about a millisecond.  A
request whose command is not Gator's own child entry (another interpreter,
chosen with ``--sched-arg python=...``) is started from scratch instead.

The agent is single-threaded (forking is safe) and driven by ``selectors``.
It talks newline-delimited JSON over a Unix socket in a private directory;
each connection first proves it knows the run's token.

    client -> agent   {"op": "hello", "token": T}
                      {"op": "launch", "requests": [{key, argv, env, cwd, log, resources}, ...]}
                      {"op": "terminate", "keys": [...]}
                      {"op": "kill", "keys": [...]}        (SIGKILL, no grace period)
    agent -> client   {"ev": "running", "key": K, "pid": P}
                      {"ev": "exited", "key": K, "code": C, "pid": P}   (C < 0: killed by signal -C)
                      {"ev": "failed", "key": K, "reason": R}

It is a child subreaper: orphans of dead children come to it and are
killed.  It stops everything it started, then exits, when the process that
started it closes its stdin, or on SIGTERM.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gator_core import (
    RELEASE_FD,
    Capacity,
    ResourcePool,
    Resources,
    answer_hello,
    become_subreaper,
    descendants,
    exit_now,
    preload_child,
    reap_zombies,
    run_forked,
    settle_forked,
    signal_tree,
    take_fitting,
)

__all__ = ["main", "Agent"]

LOOKAHEAD = 64  # queued requests examined past one that does not fit (bounded backfill)


@dataclass(eq=False)
class Client:
    sock: socket.socket
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    authenticated: bool = False
    closed: bool = False
    live: dict[str, int] = field(default_factory=dict)  # key -> pid


@dataclass(eq=False)
class Request:
    client: Client
    key: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    log: str
    resources: Resources
    release_fd: int = -1  # our end of the pipe the wrapper signals job end on
    released: bool = False


class Agent:
    def __init__(self, socket_path: str, token: str, capacity: Capacity, grace: float) -> None:
        self.socket_path = socket_path
        self.token = token.encode()
        self.pool = ResourcePool(capacity)
        self.grace = grace
        self.selector = selectors.DefaultSelector()
        self.queue: deque[Request] = deque()
        self.running: dict[int, Request] = {}  # pid -> request
        self.kill_at: dict[int, float] = {}  # pid -> when to SIGKILL its process group
        self.clients: list[Client] = []
        self.stopping = False
        self.warm_argv = [sys.executable, "-m", "gator_core.child"]
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path)
        os.chmod(socket_path, 0o600)
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, "listen")
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        self.selector.register(self.wake_r, selectors.EVENT_READ, "signal")
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "lifeline")
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run decides when to stop

    # -- connections ------------------------------------------------------------------------
    def accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        client = Client(sock)
        self.clients.append(client)
        self.selector.register(sock, selectors.EVENT_READ, client)

    def send(self, client: Client, message: dict[str, Any]) -> None:
        if client.closed:
            return
        client.outbuf += json.dumps(message, separators=(",", ":")).encode() + b"\n"
        self.flush_client(client)

    def flush_client(self, client: Client) -> None:
        if not client.outbuf or client.closed:
            return
        try:
            sent = client.sock.send(client.outbuf)
            del client.outbuf[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self.drop(client)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbuf else 0)
        self.selector.modify(client.sock, events, client)

    def readable(self, client: Client) -> None:
        try:
            data = client.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(client)
            return
        client.inbuf += data
        while True:
            end = client.inbuf.find(b"\n")
            if end < 0:
                break
            line = bytes(client.inbuf[:end])
            del client.inbuf[: end + 1]
            try:
                self.handle(client, json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                self.send(client, {"ev": "error", "reason": f"bad request: {exc}"})

    def drop(self, client: Client) -> None:
        """A client went away: what it started is orphaned, so stop it."""
        if client.closed:
            return
        client.closed = True
        try:
            self.selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
        self.clients.remove(client)
        self.queue = deque(r for r in self.queue if r.client is not client)
        for pid in client.live.values():
            self.terminate_pid(pid)

    def handle(self, client: Client, message: dict[str, Any]) -> None:
        op = message["op"]
        if not client.authenticated:
            client.authenticated, reply = answer_hello(message, self.token)
            self.send(client, reply)
            if not client.authenticated:
                self.drop(client)
            return
        if op == "launch":
            for item in message["requests"]:
                self.queue.append(Request(
                    client, item["key"], list(item["argv"]), dict(item["env"]), item["cwd"],
                    item["log"], Resources.from_dict(item["resources"]),
                ))
            self.schedule()
        elif op in ("terminate", "kill"):
            keys = set(message["keys"])
            kept: deque[Request] = deque()
            for request in self.queue:
                if request.client is client and request.key in keys:
                    self.send(client, {"ev": "exited", "key": request.key, "code": None,
                                       "reason": "terminated before it started"})
                else:
                    kept.append(request)
            self.queue = kept
            for key in keys:
                pid = client.live.get(key)
                if pid is None:
                    continue
                if op == "kill":
                    signal_tree(pid, signal.SIGKILL, include_descendants_of=pid)
                else:
                    self.terminate_pid(pid)
        else:
            self.send(client, {"ev": "error", "reason": f"unknown op {op!r}"})

    # -- starting children ------------------------------------------------------------------
    def schedule(self) -> None:
        """Start queued requests that fit, in order, looking a little past one that does not.

        Only the head of the queue is examined (at most LOOKAHEAD requests that
        do not fit past the first), so a long queue costs nothing per event.
        """
        if self.stopping:
            return
        # start() takes the request's room before the next one is examined.
        queue = self.queue
        for request in take_fitting(queue, lambda request: self.pool.fits(request.resources), LOOKAHEAD):
            self.start(request)
            if self.queue is not queue:
                # Telling a client failed and dropped it, which made a new queue without its
                # requests: go on with that one, or the rest would start twice.
                self.schedule()
                return

    def start(self, request: Request) -> None:
        # A job's slot is free again as soon as the job ends; its wrapper still has
        # to report, and the next job should not wait for that.
        child_end = -1
        res = request.resources
        if res.cores != 0 or res.memory or res.licenses or res.features:
            request.release_fd, child_end = os.pipe()
            os.set_inheritable(child_end, True)
            request.env = {**request.env, RELEASE_FD: str(child_end)}
        try:
            if request.argv == self.warm_argv:
                pid = self.fork(request)
            else:
                pid = self.spawn(request)
        except OSError as exc:
            if child_end >= 0:
                os.close(child_end)
                os.close(request.release_fd)
            self.send(request.client, {"ev": "failed", "key": request.key,
                                       "reason": f"cannot start {request.argv[0]}: {exc}"})
            return
        if child_end >= 0:
            os.close(child_end)
            self.selector.register(request.release_fd, selectors.EVENT_READ, request)
        self.pool.take(request.resources)
        self.running[pid] = request
        request.client.live[request.key] = pid
        self.send(request.client, {"ev": "running", "key": request.key, "pid": pid})

    def spawn(self, request: Request) -> int:
        os.makedirs(os.path.dirname(request.log), exist_ok=True)
        log = os.open(request.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            env = {**os.environ, **request.env}
            actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                       (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)]
            if request.release_fd >= 0:  # only the child's end of the pipe may reach it
                actions.append((os.POSIX_SPAWN_CLOSE, request.release_fd))
            # posix_spawn has no chdir: go through the directory the child needs.
            here = os.getcwd()
            os.chdir(request.cwd)
            try:
                return os.posix_spawnp(request.argv[0], request.argv, env, file_actions=actions,
                                       setsid=True)
            finally:
                os.chdir(here)
        finally:
            os.close(log)

    def fork(self, request: Request) -> int:
        os.makedirs(os.path.dirname(request.log), exist_ok=True)
        pid = os.fork()
        if pid:
            return pid
        run_forked(lambda: self.become_child(request))  # never returns

    def become_child(self, request: Request) -> None:
        """In a freshly forked child: shed everything of the agent."""
        self.selector.close()
        self.listener.close()
        for client in self.clients:
            client.sock.close()
        for other in self.running.values():
            if other.release_fd >= 0:
                os.close(other.release_fd)
        if request.release_fd >= 0:
            os.close(request.release_fd)
        os.close(self.wake_r)
        os.close(self.wake_w)
        settle_forked(request.log, request.cwd, request.env)

    # -- ending children ----------------------------------------------------------------------
    def terminate_pid(self, pid: int, *, whole_tree: bool = False) -> None:
        """SIGTERM to a child's process group (it leads one), SIGKILL after the grace
        period.  With ``whole_tree`` (the run is gone), to every process below it too:
        its job, in a session of its own, must not wait for a wrapper still trying
        to reach a tier that no longer exists."""
        if not signal_tree(pid, signal.SIGTERM, include_descendants_of=pid if whole_tree else None):
            return
        self.kill_at.setdefault(pid, time.monotonic() + self.grace)

    def release(self, request: Request) -> None:
        """Give a job's resources back (when it signals its end, or at exit)."""
        if request.release_fd >= 0:
            self.selector.unregister(request.release_fd)
            os.close(request.release_fd)
            request.release_fd = -1
        if not request.released:
            request.released = True
            self.pool.give(request.resources)

    def reap(self) -> None:
        for pid, status in reap_zombies():
            self.kill_at.pop(pid, None)
            request = self.running.pop(pid, None)
            if request is None:
                continue  # an orphan we adopted and that has now ended
            code = os.waitstatus_to_exitcode(status)
            self.release(request)
            if request.client.live.get(request.key) == pid:  # not a retried job's newer process
                del request.client.live[request.key]
            self.send(request.client, {"ev": "exited", "key": request.key, "code": code, "pid": pid})
            if code != 0:
                self.sweep_orphans()
        self.schedule()

    def sweep_orphans(self) -> None:
        """Processes re-parented to us whose parent died: nobody watches them, so stop them."""
        me = os.getpid()
        for proc in descendants():
            if proc.pid in self.running:
                continue
            try:
                if proc.ppid() != me:
                    continue
                proc.terminate()
            except Exception:  # psutil.Error: it is already gone
                continue
            self.kill_at.setdefault(proc.pid, time.monotonic() + self.grace)

    def expire(self) -> None:
        """SIGKILL whatever did not end within the grace period after SIGTERM."""
        now = time.monotonic()
        for pid, when in list(self.kill_at.items()):
            if now < when:
                continue
            del self.kill_at[pid]
            try:
                os.killpg(pid, signal.SIGKILL)  # our children lead their own process group
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, signal.SIGKILL)  # an adopted orphan may not
                except (ProcessLookupError, PermissionError):
                    pass

    # -- main loop ------------------------------------------------------------------------------
    def serve(self) -> None:
        while not self.stopping:
            timeout = None
            if self.kill_at:
                timeout = max(0.0, min(self.kill_at.values()) - time.monotonic())
            for key, events in self.selector.select(timeout):
                tag = key.data
                if tag == "listen":
                    self.accept()
                elif tag == "signal":
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                elif tag == "lifeline":
                    if not os.read(sys.stdin.fileno(), 512):
                        self.stopping = True
                elif isinstance(tag, Request):
                    self.release(tag)
                    self.schedule()
                elif isinstance(tag, Client):
                    if events & selectors.EVENT_WRITE:
                        self.flush_client(tag)
                    if events & selectors.EVENT_READ and not tag.closed:
                        self.readable(tag)
            self.expire()
        self.shutdown()

    def shutdown(self) -> None:
        """Stop everything: SIGTERM, a grace period, then SIGKILL to every descendant."""
        self.queue.clear()
        for pid in list(self.running):
            self.terminate_pid(pid, whole_tree=True)
        deadline = time.monotonic() + self.grace
        while self.running and time.monotonic() < deadline:
            time.sleep(0.02)
            self.reap()
        if _has_children():  # scanning every process for descendants costs tens of ms
            for proc in descendants():
                try:
                    proc.kill()
                except Exception:
                    pass
            time.sleep(0.02)
            self.reap()
        for client in list(self.clients):
            self.flush_client(client)
        try:
            os.unlink(self.socket_path)
        except OSError:
            pass


def _has_children() -> bool:
    """Whether any process is still our child (a subreaper's children include orphans)."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def main() -> int:
    """Read the configuration line from stdin, say ready on stdout, serve until stdin closes."""
    config = json.loads(sys.stdin.readline())
    become_subreaper()
    preload_child()
    gc.collect()
    gc.freeze()  # forked children then do not touch (and copy) these pages when they collect
    agent = Agent(config["socket"], config["token"], Capacity.from_dict(config["capacity"]),
                  float(config["grace"]))
    sys.stdout.write(f"ready {os.getpid()}\n")
    sys.stdout.flush()
    log = os.open(config["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:
        agent.serve()
    except BaseException:
        traceback.print_exc()
        agent.shutdown()
        return 1
    return 0


if __name__ == "__main__":
    exit_now(main())  # everything is stopped and closed: no teardown to wait for
