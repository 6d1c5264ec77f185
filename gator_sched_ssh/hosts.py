"""SSH hosts: the hosts file and the short inline form, as pure functions.

A hosts file (``--sched-arg hosts=FILE``)::

    known_hosts: ~/.ssh/known_hosts     # optional; this is the default
    shared_filesystem: false            # optional: true if every host sees this machine's files
    hosts:
      - name: build1                    # optional; default: the address
        address: build1.example.com
        port: 22                        # optional
        user: alice                     # optional; default: your user name
        key: ~/.ssh/id_ed25519          # optional; without it the ssh agent is used
        slots: 8                        # jobs' !Cores that fit at once
        memory: 64GB                    # optional: what !Memory requests count against
        python: /opt/gator/bin/python   # an interpreter that can import gator_core
        workdir: /scratch/alice/gator   # where jobs run and keep their tracking data
        shared: false                   # optional, overrides shared_filesystem
        accept_unknown_host_key: false  # optional: trust a key not in known_hosts (and record it)

The inline form, for one host: ``--sched-arg host=[user@]address[:port]``
with optional ``,slots=N,python=PATH,workdir=DIR,key=FILE,name=NAME,shared=true``.

Passwords are refused: use a key or the ssh agent.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gator_core import UsageError, parse_bool, parse_size

__all__ = ["Host", "HostsConfig", "load_hosts", "parse_inline", "expand_path", "DEFAULT_KNOWN_HOSTS"]

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_HOST_FIELDS = {"name", "address", "port", "user", "key", "slots", "memory", "python", "workdir", "shared",
                "accept_unknown_host_key"}
_SECRET_FIELDS = {"password", "passphrase", "passwd"}


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    key: str | None = None  # None: the ssh agent
    slots: int = 1
    memory: int | None = None
    python: str = "python3"
    workdir: str = "gator-work"  # relative: to the user's home on the host
    shared: bool = False
    accept_unknown_host_key: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Host:
        return cls(**data)

    @property
    def label(self) -> str:
        """How messages name the host: ``h1 (gatortest@10.200.1.2:22)``."""
        return f"{self.name} ({self.user}@{self.address}:{self.port})"


@dataclass(frozen=True)
class HostsConfig:
    hosts: tuple[Host, ...]
    known_hosts: str

    def to_dict(self) -> dict[str, Any]:
        return {"hosts": [host.to_dict() for host in self.hosts], "known_hosts": self.known_hosts}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HostsConfig:
        return cls(tuple(Host.from_dict(item) for item in data["hosts"]), data["known_hosts"])


def expand_path(path: str, base: Path | None) -> str:
    """``~`` and ``$VAR`` expanded; a relative path taken from ``base`` when one is given."""
    expanded = os.path.expanduser(os.path.expandvars(path))
    if base is not None and not os.path.isabs(expanded):
        expanded = str(base / expanded)
    return expanded


def _host(raw: Any, where: str, shared_default: bool, base: Path | None) -> Host:
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where}: a host is a mapping with at least 'address' (got {type(raw).__name__})")
    secrets = sorted(_SECRET_FIELDS & set(raw))
    if secrets:
        raise UsageError(f"{where}: '{secrets[0]}' is not accepted: a hosts file never holds passwords; "
                         "use 'key: FILE' or the ssh agent")
    unknown = sorted(set(raw) - _HOST_FIELDS)
    if unknown:
        raise UsageError(f"{where}: unknown field '{unknown[0]}' (a host takes: {', '.join(sorted(_HOST_FIELDS))})")
    if not raw.get("address"):
        raise UsageError(f"{where}: 'address' is required")
    try:
        slots = int(raw.get("slots", 1))
        port = int(raw.get("port", 22))
        memory = parse_size(str(raw["memory"])) if raw.get("memory") is not None else None
        shared = parse_bool(str(raw["shared"])) if "shared" in raw else shared_default
        accept = parse_bool(str(raw.get("accept_unknown_host_key", False)))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None
    if slots < 1:
        raise UsageError(f"{where}: 'slots' must be at least 1")
    if not 0 < port < 65536:
        raise UsageError(f"{where}: 'port' must be 1-65535")
    address = str(raw["address"])
    key = expand_path(str(raw["key"]), base) if raw.get("key") else None
    return Host(name=str(raw.get("name") or address), address=address, port=port,
                user=str(raw.get("user") or getpass.getuser()), key=key, slots=slots, memory=memory,
                python=str(raw.get("python") or "python3"), workdir=str(raw.get("workdir") or "gator-work"),
                shared=shared, accept_unknown_host_key=accept)


def _check_names(hosts: list[Host], where: str) -> None:
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise UsageError(f"{where}: two hosts are named '{host.name}'")
        seen.add(host.name)


def load_hosts(path: str | Path) -> HostsConfig:
    """Read a hosts file; UsageError naming the file (and host) for anything wrong."""
    import yaml

    file = Path(expand_path(str(path), None))
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"hosts file {file}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise UsageError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("hosts"), list) or not data["hosts"]:
        raise UsageError(f"{file}: a hosts file is a mapping with a non-empty 'hosts' list")
    unknown = sorted(set(data) - {"hosts", "known_hosts", "shared_filesystem"})
    if unknown:
        raise UsageError(f"{file}: unknown field '{unknown[0]}' (known: hosts, known_hosts, shared_filesystem)")
    try:
        shared = parse_bool(str(data.get("shared_filesystem", False)))
    except ValueError as exc:
        raise UsageError(f"{file}: shared_filesystem {exc}") from None
    base = file.parent
    hosts = [_host(raw, f"{file}: hosts[{index}]", shared, base) for index, raw in enumerate(data["hosts"])]
    _check_names(hosts, str(file))
    known = expand_path(str(data.get("known_hosts") or DEFAULT_KNOWN_HOSTS), base)
    return HostsConfig(tuple(hosts), known)


def parse_inline(text: str, known_hosts: str | None = None) -> HostsConfig:
    """``[user@]address[:port][,field=value...]``: one host."""
    head, *fields = [part.strip() for part in text.split(",")]
    raw: dict[str, Any] = {}
    if "@" in head:
        raw["user"], head = head.split("@", 1)
    if head.startswith("["):  # [v6 address]:port
        address, _, rest = head[1:].partition("]")
        raw["address"] = address
        if rest.startswith(":"):
            raw["port"] = rest[1:]
    elif head.count(":") == 1:
        raw["address"], raw["port"] = head.split(":", 1)
    else:
        raw["address"] = head
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"host={text!r}: expected NAME=VALUE after a comma, got {item!r}")
        raw[name.strip()] = value.strip()
    host = _host(raw, f"host={text!r}", False, None)
    return HostsConfig((host,), expand_path(known_hosts or DEFAULT_KNOWN_HOSTS, None))
