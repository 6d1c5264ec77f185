"""A host's child server: ``python -m gator_core.remote``, run on another host (over SSH).

A remote-exec scheduler starts one of these per host and per run, in one
session, and keeps its stdin and stdout: newline-delimited JSON both ways.
It imports Gator once and *forks* each child from itself (a warm start costs
a few milliseconds; a fresh interpreter, tens to hundreds).

    scheduler -> server   {"grace": 3.0}                                  (first line)
                          {"op": "start", "id": I, "env": {...}, "cwd": DIR, "log": FILE, "argv": null,
                           "collect": DIR}                                 (collect: optional)
                          {"op": "terminate", "id": I, "tree": B}   (tree: its jobs too)
                          {"op": "kill", "id": I}            (SIGKILL its whole tree now)
    server -> scheduler   {"ev": "ready", "pid": P, "host": H}            (first line)
                          {"ev": "running", "id": I, "pid": P}
                          {"ev": "exited", "id": I, "code": C, "files": {NAME: BASE64}}
                                                   (C < 0: killed by signal -C; see collect)
                          {"ev": "failed", "id": I, "reason": R}

``collect`` names the child's tracking directory on a host that does not
share the scheduler's filesystem: when the child exits, its files (up to
INLINE_LIMIT bytes in all) come back in the ``exited`` event and the
directory is removed, which saves the scheduler a dozen round trips a job.
A bigger directory stays, and the event says ``"fetch": true`` instead.

A child's variables (its parent's URL, the run's token) arrive in ``env``,
over the session: they are put in the child's environment and never appear
on a command line any user of the host could read.  ``argv`` null runs
Gator's own child in the forked process; otherwise that command is executed.
The child's stdout and stderr go to ``log``.

stdin is the lifeline: when it closes (the scheduler is done, or the SSH
connection is gone) every child gets SIGTERM, as a batch system would do,
then SIGKILL after twice the grace period, and the server exits.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import socket
import stat
import sys
import time
from typing import Any, NoReturn

from gator_core.job.proctree import signal_tree

__all__ = ["main", "HostServer", "BANNER"]

BANNER = "ready"  # the event that says the server is up
INLINE_LIMIT = 1 << 20  # bytes of tracking data sent back in the exited event at most
SKIP = (".sqlite-shm",)  # SQLite's shared-memory index: meaningful only on this host


def collect(directory: str, limit: int = INLINE_LIMIT) -> dict[str, list[Any]] | None:
    """The files of a child's tracking directory (``[base64, mode]`` by relative path:
    an artefact kept there may be a program), then the directory is removed; None (and
    nothing removed) when they exceed ``limit``."""
    import base64
    import shutil

    found: list[tuple[str, str]] = []
    total = 0
    for root, _, names in os.walk(directory):
        for name in names:
            if name.endswith(SKIP):
                continue
            path = os.path.join(root, name)
            total += os.path.getsize(path)
            if total > limit:
                return None
            found.append((os.path.relpath(path, directory), path))
    files = {}
    for relative, path in found:
        with open(path, "rb") as handle:
            files[relative] = [base64.b64encode(handle.read()).decode(),
                               stat.S_IMODE(os.fstat(handle.fileno()).st_mode)]
    shutil.rmtree(directory, ignore_errors=True)
    return files


class HostServer:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.selector = selectors.DefaultSelector()
        self.inbuf = bytearray()
        self.children: dict[int, str] = {}  # pid -> id
        self.pids: dict[str, int] = {}  # id -> pid
        self.collect: dict[str, str] = {}  # id -> tracking directory to send back
        self.kill_at: dict[int, float] = {}
        self.closing_since: float | None = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self._close_input())
        signal.signal(signal.SIGHUP, lambda *_: self._close_input())
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.set_blocking(0, False)
        self.selector.register(0, selectors.EVENT_READ, "input")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "signal")

    # -- talking -----------------------------------------------------------------------------------
    @staticmethod
    def send(message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        while data:
            try:
                written = os.write(1, data)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return  # the scheduler is gone: the lifeline will say so
            data = data[written:]

    def _close_input(self) -> None:
        if self.closing_since is None:
            self.closing_since = time.monotonic()
            for pid in list(self.children):
                self._terminate(pid, whole_tree=True)

    def read_input(self) -> None:
        try:
            data = os.read(0, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(0)
            self._close_input()
            return
        self.inbuf += data
        while b"\n" in self.inbuf:
            line, _, rest = bytes(self.inbuf).partition(b"\n")
            self.inbuf = bytearray(rest)
            if line.strip():
                self.handle(json.loads(line))

    def handle(self, message: dict[str, Any]) -> None:
        op, ident = message.get("op"), str(message.get("id"))
        if op == "start":
            if self.closing_since is not None:
                self.send({"ev": "failed", "id": ident, "reason": "the host's server is stopping"})
                return
            self.start(ident, message)
        elif op == "terminate":
            pid = self.pids.get(ident)
            if pid is not None:
                self._terminate(pid, whole_tree=bool(message.get("tree")))
        elif op == "kill":  # the user interrupted twice: no grace period
            pid = self.pids.get(ident)
            if pid is not None:
                signal_tree(pid, signal.SIGKILL, include_descendants_of=pid)

    # -- children ----------------------------------------------------------------------------------
    def start(self, ident: str, message: dict[str, Any]) -> None:
        cwd, log = str(message["cwd"]), str(message["log"])
        try:
            os.makedirs(cwd, exist_ok=True)
            os.makedirs(os.path.dirname(log) or ".", exist_ok=True)
        except OSError as exc:
            self.send({"ev": "failed", "id": ident, "reason": f"cannot make {exc.filename}: {exc.strerror}"})
            return
        pid = os.fork()
        if pid == 0:
            self._become_child(message)  # never returns
        self.children[pid] = ident
        self.pids[ident] = pid
        if message.get("collect"):
            self.collect[ident] = str(message["collect"])
        self.send({"ev": "running", "id": ident, "pid": pid})

    def _become_child(self, message: dict[str, Any]) -> NoReturn:
        from gator_core.runtime.childmain import run_forked  # loaded already: the server preloads the child

        run_forked(lambda: self._shed(message))

    def _shed(self, message: dict[str, Any]) -> None:
        """In the forked child: drop the server's state, take the job's files, directory
        and environment; exec the command when it is not Gator's own child."""
        from gator_core.runtime.childmain import settle_forked

        self.selector.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        settle_forked(str(message["log"]), str(message["cwd"]),
                      {str(k): str(v) for k, v in dict(message["env"]).items()})
        argv = message.get("argv")
        if argv:
            try:
                # The host's interpreter may be given as ~/venv/bin/python (see docs/ssh.md).
                os.execvp(os.path.expanduser(str(argv[0])), [str(part) for part in argv])
            except OSError as exc:
                print(f"gator: cannot start {argv[0]}: {exc.strerror}", file=sys.stderr)
                raise SystemExit(127) from None

    def _terminate(self, pid: int, *, whole_tree: bool = False) -> None:
        """SIGTERM to a child (it leads its own process group), SIGKILL later.  With
        ``whole_tree`` (the scheduler is gone), to every process below it too: its
        jobs, in sessions of their own, must not wait for a wrapper still trying to
        reach a tier that no longer exists."""
        if not signal_tree(pid, signal.SIGTERM, include_descendants_of=pid if whole_tree else None):
            return
        self.kill_at.setdefault(pid, time.monotonic() + 2 * self.grace + 5)

    def reap(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.kill_at.pop(pid, None)
            ident = self.children.pop(pid, None)
            if ident is not None:
                self.pids.pop(ident, None)
                event: dict[str, Any] = {"ev": "exited", "id": ident, "code": os.waitstatus_to_exitcode(status)}
                directory = self.collect.pop(ident, None)
                if directory is not None:
                    try:
                        files = collect(directory)
                    except OSError:
                        files = None
                    if files is None:
                        event["fetch"] = True
                    else:
                        event["files"] = files
                self.send(event)

    def expire(self) -> None:
        now = time.monotonic()
        for pid, when in list(self.kill_at.items()):
            if now >= when:
                del self.kill_at[pid]
                signal_tree(pid, signal.SIGKILL, include_descendants_of=pid)

    def serve(self) -> None:
        while True:
            if self.closing_since is not None and not self.children:
                return
            timeout = 1.0
            if self.kill_at:
                timeout = max(0.0, min(timeout, min(self.kill_at.values()) - time.monotonic()))
            for key, _ in self.selector.select(timeout):
                if key.data == "input":
                    self.read_input()
                else:
                    self.reap()
            self.reap()
            self.expire()


def main() -> int:
    first = b""
    while not first.endswith(b"\n"):  # unbuffered: nothing past the first line may be taken
        chunk = os.read(0, 1)
        if not chunk:
            return 2
        first += chunk
    try:
        grace = float(json.loads(first).get("grace", 3.0))
    except (ValueError, AttributeError) as exc:
        print(f"gator remote: expected a JSON line on stdin ({exc})", file=sys.stderr)
        return 2
    from gator_core.runtime.childmain import preload

    preload()  # import once here; every forked child starts warm
    gc.collect()
    gc.freeze()
    server = HostServer(grace)
    server.send({"ev": BANNER, "pid": os.getpid(), "host": socket.gethostname()})
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
