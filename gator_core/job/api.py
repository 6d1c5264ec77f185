"""The job API: a running job logs messages and records metrics through its wrapper.

From Python::

    from gator_core import api

    api.log("coverage merged", severity="info")
    api.metric("coverage", 87.5)

From a shell, or any program: ``gator log [--severity S] MESSAGE`` and
``gator metric NAME VALUE``.

The wrapper listens on a Unix socket in the abstract namespace (no file, so it
works on any filesystem) named in ``GATOR_API``; ``GATOR_API_KEY`` proves the
caller is the job.  Each call sends one line at once: nothing is buffered in
the job, so nothing is lost when it exits, however it exits, and messages are
stored in the order they were sent.  A message counts towards the job's
limits exactly as a line of its output does.

The wire format, one JSON array per line after a greeting line::

    GATOR-API 1 <key>
    ["log", "error", "the message"]
    ["metric", "coverage", 87.5]
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import threading
from typing import Any

from gator_core.envvars import API_ADDRESS, API_KEY
from gator_core.exceptions import GatorError
from gator_core.states import SEVERITY_KEYS

__all__ = ["log", "metric", "NotInJobError", "SEVERITY_NAMES", "RESERVED_METRICS", "API_VERSION",
           "parse_record", "check_metric"]

API_VERSION = 1
ADDRESS = API_ADDRESS
KEY = API_KEY
SEVERITY_NAMES = SEVERITY_KEYS  # the job-facing spelling of gator_core.states
# Metrics every job has already; a job cannot set these.
RESERVED_METRICS = frozenset({"wall_time", "cpu_time", "peak_memory"})
RESERVED_PREFIXES = ("msg_", "jobs_")
_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]{0,127}$")


class NotInJobError(GatorError):
    """The API was called from a process that no Gator wrapper started."""


def check_metric(name: Any, value: Any) -> float:
    """The value as a float, or ValueError/TypeError saying what is wrong."""
    if not isinstance(name, str) or not _METRIC_NAME.match(name):
        raise ValueError(f"metric name {name!r} must start with a letter or '_' and hold only letters, "
                         "digits, '_', '.', ':' and '-' (at most 128)")
    if name in RESERVED_METRICS or name.startswith(RESERVED_PREFIXES):
        raise ValueError(f"metric name {name!r} is reserved for Gator's own metrics")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"metric {name!r} must be a number, not {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"metric {name!r} must be finite, not {value}")
    return value


def parse_record(line: bytes) -> tuple[str, str, Any]:
    """One API line to ("log", severity, text) or ("metric", name, value).

    Raises ValueError (with the reason) for anything else; the wrapper records
    that as a warning of the job and goes on.
    """
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(record, list) or len(record) != 3:
        raise ValueError("a record is a JSON array of three items")
    kind, first, second = record
    if kind == "log":
        if first not in SEVERITY_NAMES:
            raise ValueError(f"unknown severity {first!r}")
        if not isinstance(second, str):
            raise ValueError("a log message must be a string")
        return kind, first, second
    if kind == "metric":
        return kind, first, check_metric(first, second)
    raise ValueError(f"unknown record type {kind!r}")


class _Client:
    """One connection per process (re-made after a fork), shared by threads."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        address = os.environ.get(ADDRESS)
        key = os.environ.get(KEY, "")
        if not address:
            raise NotInJobError(f"not inside a Gator job: {ADDRESS} is not set "
                                "(the job API works in processes started by a Gator wrapper)")
        target = "\0" + address[1:] if address.startswith("@") else address
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(target)
            sock.sendall(f"GATOR-API {API_VERSION} {key}\n".encode())
        except OSError as exc:
            sock.close()
            raise NotInJobError(f"cannot reach this job's wrapper at {address}: {exc.strerror or exc}") from None
        return sock

    def send(self, record: list[Any]) -> None:
        data = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        with self._lock:
            if self._sock is None or self._pid != os.getpid():
                self._sock = self._connect()
                self._pid = os.getpid()
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self._sock = None
                raise NotInJobError(f"this job's wrapper stopped listening: {exc.strerror or exc}") from None


_client = _Client()


def log(message: str, severity: str = "info") -> None:
    """Log ``message`` at ``severity`` (debug, info, warning, error or critical)."""
    severity = severity.lower()
    if severity not in SEVERITY_NAMES:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITY_NAMES)}")
    _client.send(["log", severity, str(message)])


def metric(name: str, value: float) -> None:
    """Record a numeric metric of this job (the last value for a name wins)."""
    _client.send(["metric", name, check_metric(name, value)])
