"""Telling a live run from a dead one.

The root tier (the ``gator run`` process) records who it is in its store when
the run starts (``owner``: pid, host and the process's start time) and
refreshes ``heartbeat`` about twice a second until it records the run's final
result.  A run with no final result whose root is gone (killed with SIGKILL,
by the OOM killer, with its login node) would otherwise show as running for
ever; :func:`run_gone` says when it is gone and since when.

On the root's own host the answer is exact: the process is alive or not
(its start time guards against a reused pid).  Elsewhere, for example on
another login node sharing the filesystem, the heartbeat decides: a run is
gone once it is older than :func:`stale_after` of its interval.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OWNER", "HEARTBEAT", "owner_record", "run_gone", "RunState", "run_state", "stale_after"]

OWNER = "owner"  # attrs key of the root's store: {"pid", "host", "started"}
HEARTBEAT = "heartbeat"  # attrs key: time.time() of the root's last flush


def owner_record() -> dict[str, Any]:
    """Who runs this root tier: this process."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _start_time(os.getpid())}


def _start_time(pid: int) -> float | None:
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:  # noqa: BLE001 - gone, or not ours to see: no start time
        return None


def stale_after(interval: float) -> float:
    """Seconds without a heartbeat after which a root on another host counts as gone:
    generous, since a shared filesystem may show writes late."""
    return max(30.0, 6 * interval)


@dataclass(frozen=True)
class RunState:
    """How an unfinished run stands: its root's pid and host, when it was last seen,
    and whether it is gone."""

    pid: int | None
    host: str | None
    last_seen: float | None
    gone: bool

    @property
    def reason(self) -> str:
        """``interrupted: gator run is gone (last seen 14:02:11)``, for a gone run."""
        seen = time.strftime("%H:%M:%S", time.localtime(self.last_seen)) if self.last_seen else "never"
        return f"interrupted: gator run is gone (last seen {seen})"

    def describe(self) -> str:
        """One line for ``gator show`` and ``gator logs``."""
        if self.gone:
            return f"{self.reason}; it ran as pid {self.pid} on {self.host}"
        seen = time.strftime("%H:%M:%S", time.localtime(self.last_seen)) if self.last_seen else "-"
        return f"running: gator run is pid {self.pid} on {self.host} (last seen {seen})"


def run_state(attrs: Mapping[str, Any], *, now: float | None = None) -> RunState | None:
    """The state of a run from its root store's attributes: None when it has finished,
    or when it predates these records (nothing can be said)."""
    if attrs.get("result"):
        return None
    owner = attrs.get(OWNER)
    if not isinstance(owner, Mapping):
        return None
    pid, host = owner.get("pid"), owner.get("host")
    last = attrs.get(HEARTBEAT) or owner.get("started")
    now = time.time() if now is None else now
    if host == socket.gethostname() and isinstance(pid, int):
        started = _start_time(pid)
        recorded = owner.get("started")
        alive = started is not None and (recorded is None or abs(started - float(recorded)) < 1.0)
    else:
        interval = float(((attrs.get("run") or {}).get("interval")) or 5.0)
        alive = last is not None and now - float(last) <= stale_after(interval)
    return RunState(pid, host, float(last) if last is not None else None, gone=not alive)


def run_gone(attrs: Mapping[str, Any], *, now: float | None = None) -> str | None:
    """Why an unfinished run is known to be dead, or None (finished, live, or unknown)."""
    state = run_state(attrs, now=now)
    return state.reason if state is not None and state.gone else None
