"""What a job page tells beyond the database: the environment the spec gives the job,
with secret-looking values hidden, and the commands that run it again.

The environment comes from the run's spec text (``runs.spec_text``) read with
gator_core's ``loads_spec``: the ``env`` of each enclosing group or array from the
top down, then the job's own (docs/spec.md, "How a job's environment is built").
What the job inherited from its wrapper's environment is not in the spec and not
shown.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache
from typing import Any

from gator_core import GatorError, JobArray, loads_spec

__all__ = ["SECRET_NAME", "HIDDEN", "is_secret", "spec_env", "rerun_command"]

# Names whose values are not shown: API_TOKEN, DB_PASSWORD, SSH_KEY_FILE, AWS_SECRET...
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|KEY|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE",
                         re.IGNORECASE)
HIDDEN = "(hidden)"


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


@lru_cache(maxsize=16)
def _parse(spec_text: str) -> Any:
    """The spec tree (parsed once per text: a page and its refreshes ask again)."""
    return loads_spec(spec_text, "spec.yaml")


def _child(node: Any, part: str) -> Any:
    """The spec node that runs as child ``part`` of ``node``: a group's child goes by its
    id (``T<position>`` without one); an array's by ``<id>_<index>``."""
    for position, child in enumerate(getattr(node, "jobs", None) or []):
        base = child.id if child.id else f"T{position}"
        if isinstance(node, JobArray):
            index = part[len(base) + 1:] if part.startswith(f"{base}_") else ""
            if index.isdigit() and int(index) < node.repeats:
                return child
        elif part == base:
            return child
    return None


def spec_env(spec_text: str | None, path: str) -> list[dict[str, Any]] | None:
    """The variables the spec sets for the node ``path``: ``name``, ``value`` (None when
    the spec removes it; ``HIDDEN`` for secret-looking names), ``hidden`` and ``set_by``
    (the path of the node whose ``env`` gave it).  None when the spec cannot be read or
    has no such node."""
    if not spec_text:
        return None
    try:
        node = _parse(spec_text)
    except (GatorError, ValueError):
        return None
    parts = path.split(".")
    layers = [(parts[0], node)]
    for depth, part in enumerate(parts[1:], start=2):
        node = _child(node, part)
        if node is None:
            return None
        layers.append((".".join(parts[:depth]), node))
    merged: dict[str, tuple[Any, str]] = {}
    for where, layer in layers:
        for name, value in (layer.env or {}).items():
            merged[str(name)] = (value, where)
    return [{"name": name, "value": None if value is None else (HIDDEN if is_secret(name) else str(value)),
             "hidden": is_secret(name) and value is not None, "set_by": where}
            for name, (value, where) in sorted(merged.items())]


def rerun_command(tracking: str | None) -> str | None:
    """``gator rerun`` of the run: it runs again every job that did not pass (this one
    among them) into a new tracking directory, with the same spec, seed and limits."""
    if not tracking:
        return None
    return f"gator rerun {shlex.quote(tracking)} --failed"
