"""One SSH connection to one host, shared by every child that runs there.

Blocking paramiko code, used from threads of the SSH agent
(:mod:`gator_sched_ssh.agent`).  One :class:`HostLink` holds:

* the connection, its host key checked against known_hosts;
* one reverse port forward: the host's ``127.0.0.1:<port>`` leads back to
  this machine, so that a child there reaches its tier even when the host
  cannot open any connection to us.  A child's URL names its tier's local
  port in its path (``ws://127.0.0.1:<forward>/via/<tier port>``); only ports
  of this run's tiers are let through;
* one session running the host's child server (``python -m gator_core.remote``),
  which forks every child of the run on that host from a warm interpreter,
  and an SFTP session to copy tracking data back;
* a liveness check: a request the server must answer every ``keepalive``
  seconds; no answer within ``dead_after`` seconds and the host is lost.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import selectors
import shlex
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko

from .hosts import Host

__all__ = ["HostLink", "HostError", "route_path", "parse_route", "shell_path"]

_ROUTE = re.compile(rb"^GET /via/(\d{1,5})[ /?]")
EXEC_TIMEOUT = 60.0  # a setup command on the host (mkdir, probing python)


class HostError(Exception):
    """Something about one host, said so that the user can act on it."""


def route_path(port: int) -> str:
    return f"/via/{port}"


def shell_path(path: str) -> str:
    """``path`` for the host's shell: quoted, except that a leading ``~`` still means the
    remote home directory (quoting alone would make it a directory literally named ``~``)."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        rest = path[2:]
        return '"$HOME"/' + shlex.quote(rest) if rest else '"$HOME"/'
    return shlex.quote(path)


def parse_route(head: bytes) -> int | None:
    """The tier port a forwarded connection's first request line asks for."""
    match = _ROUTE.match(head)
    return int(match.group(1)) if match else None


class _RecordUnknown(paramiko.MissingHostKeyPolicy):
    """For a host the user trusts explicitly: accept an unknown key and append it to
    known_hosts, so that from then on it is checked like any other."""

    def __init__(self, path: str, warn: Callable[[str], None]) -> None:
        self.path = path
        self.warn = warn

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
        self.warn(f"{hostname}: accepted an unknown {key.get_name()} host key (fingerprint "
                  f"{key.fingerprint}) and added it to {self.path}")


class HostLink:
    def __init__(self, host: Host, known_hosts: str, *, connect_timeout: float, keepalive: float,
                 dead_after: float, grace: float, allowed: Callable[[int], bool],
                 on_lost: Callable[[HostLink, str], None], on_event: Callable[[HostLink, dict[str, Any]], None],
                 warn: Callable[[str], None]) -> None:
        self.host = host
        self.known_hosts = known_hosts
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.dead_after = dead_after
        self.grace = grace
        self.allowed = allowed
        self.on_lost = on_lost
        self.on_event = on_event
        self.warn = warn
        self.client: paramiko.SSHClient | None = None
        self.transport: paramiko.Transport | None = None
        self.forward_port = 0
        self.workdir = host.workdir
        self.up = False
        self.generation = 0  # counts connections: a child knows which one it ran on
        self.lost_reason = ""
        self.closed = False
        self._lock = threading.Lock()
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_lock = threading.Lock()
        self.uploaded: set[str] = set()  # files put on the host for jobs (artefacts they need)
        self._server: paramiko.Channel | None = None  # the host's child server
        self._pending = b""  # what the server said after its first line, before we listened
        self._send_lock = threading.Lock()

    # -- connecting ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Connect, check the host can run gator, open the reverse forward.  HostError says why not."""
        host = self.host
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(self.known_hosts)
        except FileNotFoundError:
            pass  # no known hosts at all: every host is unknown
        except Exception as exc:  # noqa: BLE001 - paramiko raises many kinds for a malformed line
            raise HostError(f"{host.label}: cannot read known_hosts {self.known_hosts}: "
                            f"{type(exc).__name__}: {exc}") from None
        if host.accept_unknown_host_key:
            client.set_missing_host_key_policy(_RecordUnknown(self.known_hosts, self.warn))
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(host.address, port=host.port, username=host.user, key_filename=host.key,
                           allow_agent=host.key is None, look_for_keys=False, timeout=self.connect_timeout,
                           banner_timeout=self.connect_timeout, auth_timeout=self.connect_timeout)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostError(f"{host.label}: its host key ({exc.key.get_name()} {exc.key.fingerprint}) is not "
                            f"the one {self.known_hosts} has for it: refusing to connect (if the host was "
                            f"reinstalled, remove its old line from {self.known_hosts})") from None
        except paramiko.AuthenticationException as exc:
            client.close()
            how = f"key {host.key}" if host.key else "the ssh agent"
            raise HostError(f"{host.label}: authentication failed with {how}: {exc}") from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                where = host.address if host.port == 22 else f"-p {host.port} {host.address}"
                raise HostError(f"{host.label}: unknown host: its key is not in {self.known_hosts}. Check it and "
                                f"add it (ssh-keyscan {where} >> {self.known_hosts}), or set "
                                f"'accept_unknown_host_key: true' for this host") from None
            raise HostError(f"{host.label}: SSH failed: {exc}") from None
        except (OSError, EOFError) as exc:
            client.close()
            raise HostError(f"{host.label}: cannot connect: {exc}") from None
        transport = client.get_transport()
        assert transport is not None
        self.client, self.transport = client, transport
        try:
            self.workdir = self._prepare()
            self.forward_port = transport.request_port_forward("127.0.0.1", 0, handler=self._forwarded)
            self._server = self._start_server()
        except HostError:
            client.close()
            raise
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise HostError(f"{host.label}: {exc}") from None
        with self._lock:
            self.generation += 1
            self.up = True
            self.lost_reason = ""
        threading.Thread(target=self._watch, args=(self.generation,), name=f"watch-{host.name}",
                         daemon=True).start()
        threading.Thread(target=self._listen, args=(self._server, self.generation), name=f"listen-{host.name}",
                         daemon=True).start()

    def _prepare(self) -> str:
        """Make the work directory (its absolute path comes back) and check the interpreter."""
        host = self.host
        workdir, python = shell_path(host.workdir), shell_path(host.python)
        # The interpreter is probed from the home directory, where the child server will run
        # too, so a relative interpreter path means the same thing in both places.
        code, out, err = self.run(f"mkdir -p -- {workdir} && (cd -- {workdir} && pwd) && "
                                  f"exec {python} -c 'import gator_core.remote'")
        lines = out.strip().splitlines()
        if code != 0:
            why = (err.strip() or out.strip() or f"exit status {code}").splitlines()[-1]
            if not lines:
                raise HostError(f"{host.label}: cannot use work directory {host.workdir}: {why}")
            raise HostError(f"{host.label}: {host.python} cannot run gator ({why}); install gator in that "
                            "interpreter on the host (see docs/ssh.md)")
        return lines[0]

    def _start_server(self) -> paramiko.Channel:
        """Start the host's child server; it answers ``ready`` once it has imported Gator."""
        assert self.transport is not None
        channel = self.transport.open_session(timeout=self.connect_timeout)
        channel.set_combine_stderr(True)
        channel.exec_command(f"exec {shell_path(self.host.python)} -m gator_core.remote")
        channel.sendall((json.dumps({"grace": self.grace}) + "\n").encode())
        channel.settimeout(EXEC_TIMEOUT)
        head = b""
        try:
            while b"\n" not in head:
                data = channel.recv(65536)
                if not data:
                    break
                head += data
        except TimeoutError:
            pass
        line = head.split(b"\n", 1)[0]
        try:
            ready = json.loads(line).get("ev") == "ready"
        except ValueError:
            ready = False
        if not ready:
            channel.close()
            text = head.decode(errors="replace").strip() or "no answer"
            raise HostError(f"{self.host.label}: the child server ({self.host.python} -m gator_core.remote) "
                            f"did not start: {text[-500:]}")
        channel.settimeout(None)
        self._pending = head.split(b"\n", 1)[1]
        return channel

    def send(self, message: dict[str, Any]) -> None:
        """A request to the host's child server; HostError when the host is not connected."""
        channel = self._server
        if channel is None or not self.up:
            raise HostError(f"{self.host.label}: not connected ({self.lost_reason or 'connecting'})")
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            with self._send_lock:
                channel.sendall(data)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise HostError(f"{self.host.label}: {exc}") from None

    def _listen(self, channel: paramiko.Channel, generation: int) -> None:
        """Read the child server's events; its end (with the connection up) loses the host."""
        buffer = bytearray(self._pending)
        tail = b""
        while True:
            while b"\n" in buffer:
                line, _, rest = bytes(buffer).partition(b"\n")
                buffer = bytearray(rest)
                try:
                    message = json.loads(line)
                except ValueError:
                    tail = line[-300:]  # not ours: something the server printed when it failed
                    continue
                self.on_event(self, message)
            try:
                data = channel.recv(65536)
            except (OSError, paramiko.SSHException, EOFError):
                data = b""
            if not data:
                break
            buffer += data
        if self.generation == generation:
            why = tail.decode(errors="replace").strip()
            self.lose(f"its child server ended{': ' + why if why else ''}")

    def run(self, command: str, timeout: float = EXEC_TIMEOUT) -> tuple[int, str, str]:
        """A short command on the host: (exit status, stdout, stderr), within ``timeout``."""
        assert self.transport is not None
        channel = self.transport.open_session(timeout=self.connect_timeout)
        try:
            channel.settimeout(timeout)
            channel.exec_command(command)
            channel.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout
            while not (channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready()):
                if time.monotonic() > deadline:
                    raise HostError(f"{self.host.label}: '{command}' did not finish within {timeout:g} s")
                if channel.recv_ready():
                    out += channel.recv(65536)
                elif channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                else:
                    time.sleep(0.01)
            return channel.recv_exit_status(), out.decode(errors="replace"), err.decode(errors="replace")
        finally:
            channel.close()

    # -- liveness --------------------------------------------------------------------------------
    def _watch(self, generation: int) -> None:
        transport = self.transport
        while not self.closed and self.generation == generation and transport is not None:
            time.sleep(self.keepalive)
            if self.closed or self.generation != generation:
                return
            answered = threading.Event()
            threading.Thread(target=_ask, args=(transport, answered), daemon=True).start()
            if not answered.wait(self.dead_after) or not transport.is_active():
                self.lose(f"no answer within {self.dead_after:g} s" if transport.is_active()
                          else "the connection closed")
                return

    def lose(self, reason: str) -> None:
        """Declare the host lost: close the connection (its children's channels end)."""
        with self._lock:
            if not self.up:
                return
            self.up = False
            self.lost_reason = reason
            client, self.client, self.transport = self.client, None, None
            self._sftp = None
            self._server = None
        if client is not None:
            threading.Thread(target=client.close, daemon=True).start()  # may block on a dead socket
        self.on_lost(self, reason)

    def close(self) -> None:
        self.closed = True
        with self._lock:
            self.up = False
            client, self.client, self.transport = self.client, None, None
        if client is not None:
            client.close()

    # -- children ---------------------------------------------------------------------------------
    def _sftp_session(self) -> paramiko.SFTPClient:
        """The connection's one SFTP session (opened on first use); hold ``_sftp_lock``."""
        if self._sftp is None:
            if self.client is None:
                raise HostError(f"{self.host.label}: not connected")
            self._sftp = self.client.open_sftp()
        return self._sftp

    def fetch(self, remote: str, local: str) -> int:
        """Copy a directory tree from the host, then remove it there.  Returns files copied."""
        with self._sftp_lock:
            sftp = self._sftp_session()
            count = _get_tree(sftp, remote, Path(local), skip=(".sqlite-shm",))
            _remove_tree(sftp, remote)
            return count

    def put(self, files: list[tuple[str, str]]) -> None:
        """Copy files here to paths on the host, making directories and keeping modes (a
        built binary stays executable).  Each path is remembered in ``uploaded`` and never
        written twice: two jobs that need it start together, and the first may already
        run it while the second's copy would rewrite it (exit 127, text file busy)."""
        with self._sftp_lock:
            sftp = self._sftp_session()
            made: set[str] = set()
            for local, remote in files:
                if remote in self.uploaded:  # put meanwhile for another job, which may run it
                    continue
                _make_dirs(sftp, posixpath.dirname(remote), made)
                sftp.put(local, remote)
                sftp.chmod(remote, stat.S_IMODE(os.stat(local).st_mode))
                self.uploaded.add(remote)

    def clean_up(self, root: str) -> None:
        """At the end of the run: remove what :meth:`put` copied, then every directory
        under ``root`` (and ``root``) left empty.  Files there (a job's tracking data that
        could not come back) stay.  Best effort."""
        with self._sftp_lock:
            if self.client is None:
                return
            sftp = self._sftp_session()
            for remote in sorted(self.uploaded):
                try:
                    sftp.remove(remote)
                except OSError:
                    pass
            self.uploaded.clear()
            _prune(sftp, root)

    # -- the reverse forward ------------------------------------------------------------------------
    def _forwarded(self, channel: paramiko.Channel, origin: Any, server: Any) -> None:
        threading.Thread(target=self._bridge, args=(channel,), name="bridge", daemon=True).start()

    def _bridge(self, channel: paramiko.Channel) -> None:
        head = b""
        try:
            channel.settimeout(10.0)
            while b"\r\n" not in head and len(head) < 8192:
                data = channel.recv(8192)
                if not data:
                    channel.close()
                    return
                head += data
            port = parse_route(head)
            if port is None or not self.allowed(port):
                channel.close()  # not one of this run's tiers: nothing is let through
                return
            sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
        except (OSError, paramiko.SSHException, EOFError):
            channel.close()
            return
        try:
            sock.sendall(head)
            channel.settimeout(None)
            sock.settimeout(None)
            _pump(channel, sock)
        except (OSError, paramiko.SSHException, EOFError):
            pass
        finally:
            channel.close()
            sock.close()


def _ask(transport: paramiko.Transport, answered: threading.Event) -> None:
    """A request the server must answer (any answer will do: it is alive)."""
    try:
        transport.global_request("keepalive@openssh.com", wait=True)
    except Exception:  # noqa: BLE001 - any outcome ends the wait
        pass
    answered.set()


def _pump(channel: paramiko.Channel, sock: socket.socket) -> None:
    """Copy both ways until either side closes."""
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ)
    selector.register(sock, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in selector.select(timeout=30.0):
                source = key.fileobj
                data = source.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                (sock if source is channel else channel).sendall(data)
            if channel.closed:
                return
    finally:
        selector.close()


def _get_tree(sftp: paramiko.SFTPClient, remote: str, local: Path, skip: tuple[str, ...] = ()) -> int:
    """Copy a tree; files ending in ``skip`` stay (SQLite's shared-memory index is only
    meaningful to processes on that host)."""
    local.mkdir(parents=True, exist_ok=True)
    count = 0
    for entry in sftp.listdir_attr(remote):
        source = f"{remote}/{entry.filename}"
        if stat.S_ISDIR(entry.st_mode or 0):
            count += _get_tree(sftp, source, local / entry.filename, skip)
        elif entry.filename.endswith(skip):
            continue
        else:
            sftp.get(source, str(local / entry.filename))
            os.chmod(local / entry.filename, stat.S_IMODE(entry.st_mode or 0o644))
            count += 1
    return count


def _make_dirs(sftp: paramiko.SFTPClient, directory: str, made: set[str]) -> None:
    """``mkdir -p`` over SFTP (``made``: directories known to exist)."""
    missing = []
    while directory and directory not in made and directory != "/":
        try:
            sftp.stat(directory)
            break
        except FileNotFoundError:
            missing.append(directory)
            directory = posixpath.dirname(directory)
    for path in reversed(missing):
        sftp.mkdir(path)
    made.update(missing)
    made.add(directory)


def _prune(sftp: paramiko.SFTPClient, directory: str) -> bool:
    """Remove the empty directories of a tree, deepest first; whether it is all gone."""
    try:
        entries = sftp.listdir_attr(directory)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    empty = True
    for entry in entries:
        if not (stat.S_ISDIR(entry.st_mode or 0) and _prune(sftp, f"{directory}/{entry.filename}")):
            empty = False
    if empty:
        try:
            sftp.rmdir(directory)
        except OSError:
            return False
    return empty


def _remove_tree(sftp: paramiko.SFTPClient, remote: str) -> None:
    for entry in sftp.listdir_attr(remote):
        path = f"{remote}/{entry.filename}"
        if stat.S_ISDIR(entry.st_mode or 0):
            _remove_tree(sftp, path)
        else:
            sftp.remove(path)
    sftp.rmdir(remote)
