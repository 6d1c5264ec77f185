"""Checking what clients send, before anything touches the database.

Anything a client sends is suspect: not JSON, the wrong types, missing
fields, nesting deep enough to exhaust the stack, numbers the database
cannot hold, NUL characters PostgreSQL refuses.  Each is a
:class:`BadRequest` naming the field, never a 500.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gator_core import Result
from gator_hub.errors import BadRequest
from gator_hub.store.schema import RUN_STATES

__all__ = ["MAX_DEPTH", "MAX_BATCH", "parse_json", "check_run_id", "run_payload", "nodes_payload",
           "finish_payload", "job_data_payload"]

MAX_DEPTH = 32  # of any JSON value the hub keeps (metrics are small, flat maps)
MAX_BATCH = 10_000  # nodes in one request
MAX_PATH_DEPTH = 200  # dots in a node's path
_INT_LIMIT = 2**63
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
KINDS = ("job", "group", "array")
RESULTS = tuple(result.value for result in Result)  # gator_core's vocabulary, not a copy of it


def _walk(value: Any) -> None:
    """Depth, NUL characters, numbers: every nested value, without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            if "\x00" in item:
                raise BadRequest("strings must not hold NUL characters")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise BadRequest("numbers must be finite")
        elif isinstance(item, dict):
            for key, inner in item.items():
                stack.append((key, depth + 1))
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)


def parse_json(body: bytes) -> Any:
    try:
        value = json.loads(body)
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    _walk(value)
    return value


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.fullmatch(run_id):
        raise BadRequest("a run id is 1 to 64 letters, digits, '_', '.' or '-'")
    return run_id


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


def _field(data: dict[str, Any], key: str, kinds: tuple[type, ...], what: str, *, required: bool = False,
           nullable: bool = True, choices: tuple[str, ...] | None = None) -> None:
    if key not in data:
        if required:
            raise BadRequest(f"{what}: '{key}' is missing")
        return
    value = data[key]
    if value is None:
        if not nullable:
            raise BadRequest(f"{what}: '{key}' must not be null")
        return
    # bool is an int in Python, never in these payloads
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(kind.__name__.replace("str", "string").replace("int", "integer") for kind in kinds)
        raise BadRequest(f"{what}: '{key}' must be {names}, not {type(value).__name__}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_LIMIT:
        raise BadRequest(f"{what}: '{key}' is out of range")
    if choices is not None and value not in choices:
        raise BadRequest(f"{what}: '{key}' must be one of {', '.join(choices)}")


def _counts(data: dict[str, Any], key: str, what: str) -> None:
    """A map of names to non-negative integers (message and job counts)."""
    _field(data, key, (dict,), what)
    for name, value in (data.get(key) or {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _INT_LIMIT:
            raise BadRequest(f"{what}: '{key}.{name}' must be a count (a non-negative integer)")


_NUMBER = (int, float)
_RUN_KEYS = {"spec": (str,), "spec_file": (str,), "spec_name": (str,), "user": (str,), "host": (str,),
             "argv": (list,), "scheduler": (str,), "seed": (int,), "tracking": (str,), "started": _NUMBER,
             "stopped": _NUMBER, "result": (str,)}


def run_payload(value: Any) -> dict[str, Any]:
    """A run's registration; every key is optional, unknown keys are refused."""
    data = _object(value, "a run")
    unknown = set(data) - set(_RUN_KEYS) - {"state", "jobs"}
    if unknown:
        raise BadRequest(f"a run: unknown keys {', '.join(sorted(unknown))}")
    for key, kinds in _RUN_KEYS.items():
        _field(data, key, kinds, "a run", choices=RESULTS if key == "result" else None)
    _field(data, "state", (str,), "a run", nullable=False, choices=RUN_STATES)
    _counts(data, "jobs", "a run")
    if any(not isinstance(arg, str) for arg in data.get("argv") or []):
        raise BadRequest("a run: 'argv' must be a list of strings")
    return data


def _node(value: Any, index: int) -> dict[str, Any]:
    what = f"node {index}"
    data = _object(value, what)
    for key in ("id", "path"):
        _field(data, key, (str,), what, required=True, nullable=False)
    _field(data, "kind", (str,), what, required=True, nullable=False, choices=KINDS)
    _field(data, "result", (str,), what, required=True, nullable=False, choices=RESULTS)
    if "parent" not in data:
        raise BadRequest(f"{what}: 'parent' is missing (null for the top node)")
    _field(data, "parent", (str,), what)
    for key in ("reason", "tracking", "log", "native_id", "host"):
        _field(data, key, (str,), what)
    for key in ("exit_code", "seed", "position"):
        _field(data, key, (int,), what)
    for key in ("started", "stopped", "duration", "peak_memory"):
        _field(data, key, _NUMBER, what)
    _counts(data, "messages", what)
    _counts(data, "jobs", what)
    _field(data, "metrics", (dict,), what)
    _field(data, "attempts", (list,), what)
    if any(not isinstance(item, dict) for item in data.get("attempts") or []):
        raise BadRequest(f"{what}: 'attempts' must be a list of objects")
    _field(data, "artefacts", (dict,), what)
    _field(data, "first_errors", (list,), what)
    if any(not isinstance(text, str) for text in data.get("first_errors") or []):
        raise BadRequest(f"{what}: 'first_errors' must be a list of strings")
    path, parent = data["path"], data["parent"]
    if not path or path.count(".") > MAX_PATH_DEPTH:
        raise BadRequest(f"{what}: 'path' must be a path of at most {MAX_PATH_DEPTH + 1} ids")
    expected = path.rsplit(".", 1)[0] if "." in path else None
    if parent != expected:
        raise BadRequest(f"{what}: the parent of '{path}' is {expected!r}, not {parent!r}")
    return data


def nodes_payload(value: Any) -> list[dict[str, Any]]:
    """A batch of nodes: a list, or ``{"nodes": [...]}``."""
    if isinstance(value, dict) and "nodes" in value:
        value = value["nodes"]
    if not isinstance(value, list):
        raise BadRequest("nodes must be a JSON list of node objects (or {\"nodes\": [...]})")
    if len(value) > MAX_BATCH:
        raise BadRequest(f"at most {MAX_BATCH} nodes a request")
    return [_node(item, index) for index, item in enumerate(value)]


def finish_payload(value: Any) -> dict[str, Any]:
    data = _object(value, "a run's end")
    _field(data, "result", (str,), "a run's end", required=True, nullable=False, choices=RESULTS)
    _field(data, "stopped", _NUMBER, "a run's end")
    _field(data, "state", (str,), "a run's end", nullable=False, choices=RUN_STATES)
    _counts(data, "jobs", "a run's end")
    _field(data, "reconcile", (bool,), "a run's end")
    return data


MAX_MESSAGES = 100_000  # message rows in one request


def _message_row(row: Any, what: str) -> None:
    if not isinstance(row, list) or len(row) != 4:
        raise BadRequest(f"{what}: a message is [seq, time, severity, text]")
    seq, ts, severity, text = row
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < _INT_LIMIT:
        raise BadRequest(f"{what}: a message's seq must be a non-negative integer")
    if isinstance(ts, bool) or not isinstance(ts, _NUMBER):
        raise BadRequest(f"{what}: a message's time must be a number")
    if isinstance(severity, bool) or not isinstance(severity, int) or not 0 <= severity <= 1000:
        raise BadRequest(f"{what}: a message's severity must be an integer from 0 to 1000")
    if not isinstance(text, str):
        raise BadRequest(f"{what}: a message's text must be a string")


def job_data_payload(value: Any) -> list[dict[str, Any]]:
    """Messages and details of jobs: ``{"jobs": [{"path", "messages"?, "attrs"?, "samples"?}]}``."""
    data = _object(value, "job data")
    jobs = data.get("jobs")
    if not isinstance(jobs, list):
        raise BadRequest("job data: 'jobs' must be a list")
    total = 0
    for index, job in enumerate(jobs):
        what = f"job {index}"
        _object(job, what)
        unknown = set(job) - {"path", "messages", "attrs", "samples"}
        if unknown:
            raise BadRequest(f"{what}: unknown keys {', '.join(sorted(unknown))}")
        _field(job, "path", (str,), what, required=True, nullable=False)
        _field(job, "messages", (list,), what)
        _field(job, "attrs", (dict,), what)
        _field(job, "samples", (list,), what)
        for row in job.get("messages") or ():
            _message_row(row, what)
        total += len(job.get("messages") or ())
        if total > MAX_MESSAGES:
            raise BadRequest(f"at most {MAX_MESSAGES} messages a request")
    return jobs
