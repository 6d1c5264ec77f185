"""``--scheduler ssh``: jobs run on plain SSH hosts; tiers run on this machine.

Options (``--sched-arg KEY=VALUE``):

* ``hosts=FILE``: the hosts file (see :mod:`gator_sched_ssh.hosts`), or
  ``host=[user@]address[:port][,slots=N,python=PATH,workdir=DIR,key=FILE]``
  for one host;
* ``known_hosts=FILE``: overrides the hosts file's (default ``~/.ssh/known_hosts``);
* ``shared=true``: every host sees this machine's files (nothing is copied back);
* ``license.NAME=N``, ``feature.NAME=N``: limits that hold across all hosts;
* ``keepalive`` (2 s) and ``dead_after`` (6 s): a host that does not answer
  within ``dead_after`` is lost; ``reconnect`` (3): attempts to get it back;
  ``connect_timeout`` (15 s).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from gator_core import (
    AgentScheduler,
    Option,
    Resources,
    UsageError,
    human_bytes,
    parse_bool,
    parse_positive_int,
    parse_seconds,
)

from .hosts import HostsConfig, expand_path, load_hosts, parse_inline

__all__ = ["SshScheduler"]


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


class SshScheduler(AgentScheduler):
    name = "ssh"
    description = "run jobs on plain SSH hosts (tiers run here)"
    agent_module = "gator_sched_ssh.agent"
    agent_name = "SSH agent"
    close_wait = 60.0  # children copy their tracking data back before they end
    start_timeout = 180.0  # the agent connects to every host (each up to connect_timeout, with retries)
    options = (
        Option("hosts", str, None, "hosts file (YAML): address, port, user, key, slots, python, workdir"),
        Option("host", str, None, "one host: [user@]address[:port][,slots=N,python=PATH,workdir=DIR,key=FILE]"),
        Option("known_hosts", str, None, "known_hosts file (default: the hosts file's, else ~/.ssh/known_hosts)"),
        Option("shared", parse_bool, None, "true: every host sees this machine's files (nothing is copied)"),
        Option("license", _count, None, "limit of a named licence across all hosts", prefix=True),
        Option("feature", _count, None, "limit of a named feature across all hosts", prefix=True),
        Option("keepalive", parse_seconds, 2.0, "seconds between liveness checks of each host"),
        Option("dead_after", parse_seconds, 6.0, "seconds without an answer after which a host is lost"),
        Option("reconnect", parse_positive_int, 3, "attempts to reconnect a lost host"),
        Option("connect_timeout", parse_seconds, 15.0, "seconds to connect to a host"),
    )

    def __init__(self, options: Any, context: Any) -> None:
        super().__init__(options, context)
        inherited = context.inherited or {}
        if "hosts" in inherited:  # a child tier: the root read the hosts already
            self.hosts = HostsConfig.from_dict(inherited["hosts"])
            return
        settings = self.settings
        if settings["hosts"] and settings["host"]:
            raise UsageError("give either hosts=FILE or host=... for the ssh scheduler, not both")
        if settings["hosts"]:
            hosts = load_hosts(settings["hosts"])
            if settings["known_hosts"]:
                hosts = replace(hosts, known_hosts=expand_path(settings["known_hosts"], Path.cwd()))
        elif settings["host"]:
            hosts = parse_inline(settings["host"], settings["known_hosts"])
        else:
            raise UsageError("the ssh scheduler needs its hosts: --sched-arg hosts=FILE, or "
                             "--sched-arg host=user@address:port,slots=N,python=PATH")
        if settings["shared"] is not None:
            hosts = replace(hosts, hosts=tuple(replace(h, shared=settings["shared"]) for h in hosts.hosts))
        self.hosts = hosts

    @property
    def status_latency(self) -> float:  # type: ignore[override]
        # A lost host is known after dead_after seconds of silence, checked every keepalive.
        return float(self.settings["dead_after"]) + float(self.settings["keepalive"]) + 1.0

    def listen_host(self) -> str:
        return "127.0.0.1"  # tiers run here; hosts reach them through their reverse forward

    def agent_config(self) -> dict[str, Any]:
        settings = self.settings
        return {**super().agent_config(), "hosts": self.hosts.to_dict(), "run_id": self.context.run_id,
                "tracking_root": str(self.context.tracking), "licenses": dict(settings["license"]),
                "features": dict(settings["feature"]), "keepalive": settings["keepalive"],
                "dead_after": settings["dead_after"], "reconnect": settings["reconnect"],
                "connect_timeout": settings["connect_timeout"], "close_wait": self.close_wait}

    def agent_export(self) -> dict[str, Any]:
        return {"hosts": self.hosts.to_dict()}

    def check_resources(self, path: str, resources: Resources) -> str | None:
        hosts = self.hosts.hosts
        cores = 1 if resources.cores is None else resources.cores
        widest = max(hosts, key=lambda h: h.slots)
        if cores > widest.slots:
            return f"asks for {cores} cores but the largest host ({widest.name}) has {widest.slots} slots"
        if resources.memory and all(h.memory is not None for h in hosts):
            largest = max(hosts, key=lambda h: h.memory or 0)
            if resources.memory > (largest.memory or 0):
                return (f"asks for {human_bytes(resources.memory)} of memory but the largest host "
                        f"({largest.name}) has {human_bytes(largest.memory or 0)}")
        for kind, limits, wanted in (("licence", self.settings["license"], resources.licenses),
                                     ("feature", self.settings["feature"], resources.features)):
            for name, count in wanted.items():
                if name in limits and count > limits[name]:
                    return f"asks for {count} of {kind} '{name}' but the limit is {limits[name]}"
        return None
