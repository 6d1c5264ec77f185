"""Environment handling: overlays, ``$VAR`` expansion and Gator's own variables.

A job's environment is the environment ``gator run`` was started in, with the
``env`` of each enclosing group laid over it from the top down, then the
job's own ``env``.  A value of ``None`` (YAML ``null``) removes a variable.
Nothing else is removed: PATH and HOME survive unless a spec changes them.

``$VAR`` and ``${VAR}`` in ``command`` and ``args`` are expanded against that
environment by Gator itself; no shell is involved, so spaces, quotes and
``;`` reach the program unchanged.  ``$$`` gives a literal ``$``.  A name that
is not set is left as written, as ``os.path.expandvars`` does, so that a
missing variable shows up in the job's command line rather than vanishing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

__all__ = [
    "PARENT_URL",
    "TOKEN",
    "CHILD_KEY",
    "ATTEMPT",
    "attempt_number",
    "RELEASE_FD",
    "HOST_TRACKING",
    "HOST_LAUNCH_DIR",
    "HOST_TRACKING_ROOT",
    "CONTROL_VARIABLES",
    "overlay",
    "expand",
    "expand_path",
    "array_variables",
    "job_environment",
]

# Variables through which a parent tells a child how to reach it.  They are
# control data for Gator's own processes and never reach a job: the token is
# a secret of the run.
PARENT_URL = "GATOR_PARENT_URL"
TOKEN = "GATOR_TOKEN"
CHILD_KEY = "GATOR_CHILD"
# Which attempt of a job this is (1, then 2... when it is retried).  The job sees it too.
ATTEMPT = "GATOR_ATTEMPT"
# Optional, set by a scheduler: a file descriptor the wrapper writes one byte to
# when its job has ended, so that the job's slot can be reused while the
# wrapper is still reporting.
RELEASE_FD = "GATOR_RELEASE_FD"
# The job API's address and key (set by each wrapper for its own job).
API_ADDRESS = "GATOR_API"
API_KEY = "GATOR_API_KEY"
# Optional, set by a scheduler that runs a child on a host without the
# submitting machine's filesystem: where the child keeps its tracking data,
# and the directory that stands for the run's launch directory there.
HOST_TRACKING = "GATOR_HOST_TRACKING"
HOST_LAUNCH_DIR = "GATOR_HOST_LAUNCH_DIR"
# ... and what stands there for the run's tracking directory (artefacts are copied to and
# from the host under it; see gator_core.job.hostpaths).
HOST_TRACKING_ROOT = "GATOR_HOST_TRACKING_ROOT"
CONTROL_VARIABLES = (PARENT_URL, TOKEN, CHILD_KEY, RELEASE_FD, API_ADDRESS, API_KEY, HOST_TRACKING,
                     HOST_LAUNCH_DIR, HOST_TRACKING_ROOT)

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def attempt_number(environ: Mapping[str, str] = os.environ) -> int:
    """This child's attempt (``GATOR_ATTEMPT``; 1 when unset or not a number)."""
    text = environ.get(ATTEMPT, "")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def overlay(base: Mapping[str, str], *layers: Mapping[str, str | None]) -> dict[str, str]:
    """``base`` with each layer laid over it in turn; ``None`` values remove a name."""
    env = dict(base)
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
    return env


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$VAR``, ``${VAR}`` and ``$$`` in ``text`` against ``env``."""
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name is None:
            return "$"
        return env.get(name, match.group(0))

    return _VAR.sub(replace, text)


def expand_path(parts: list[str], env: Mapping[str, str]) -> str:
    """Expand each part of a path, then join them (an absolute part starts over)."""
    return os.path.normpath(os.path.join(*(expand(part, env) for part in parts)))


def _suffix(array_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", array_id).upper()


def array_variables(indices: list[tuple[str, int]]) -> dict[str, str]:
    """Variables for a node inside (possibly nested) arrays.

    ``indices`` lists ``(array id, index)`` from the outermost array inwards.
    ``GATOR_ARRAY_INDEX`` is the innermost index; ``GATOR_ARRAY_INDICES`` all
    of them, outermost first, comma-separated; ``GATOR_ARRAY_INDEX_<ID>`` the
    index of each enclosing array by its id (upper-cased, other characters
    replaced by ``_``).
    """
    if not indices:
        return {}
    env = {
        "GATOR_ARRAY_INDEX": str(indices[-1][1]),
        "GATOR_ARRAY_INDICES": ",".join(str(i) for _, i in indices),
    }
    for array_id, index in indices:
        env[f"GATOR_ARRAY_INDEX_{_suffix(array_id)}"] = str(index)
    return env


def job_environment(inherited: Mapping[str, str], layer: Mapping[str, str | None]) -> dict[str, str]:
    """The environment a job runs in: the inherited one without Gator's control
    variables, with the merged spec layer over it."""
    env = {k: v for k, v in inherited.items() if k not in CONTROL_VARIABLES}
    return overlay(env, layer)
