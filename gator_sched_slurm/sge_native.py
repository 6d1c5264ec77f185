"""Grid Engine through DRMAA, as pure functions: job templates, bulk ranges, states.

Nothing here loads the DRMAA library; :mod:`gator_sched_slurm.drmaa_agent`
does, in its own process.  Facts from Grid Engine's and DRMAA's documentation:

* a bulk job is an array job ``-t start-end:1``; task ids start at 1, and
  each task sees ``SGE_TASK_ID``; DRMAA names a task ``<jobid>.<task>``;
* DRMAA's ``jobEnvironment`` cuts each value at its first ``=``
  (``A=x=y`` arrives as ``A=x``), so the environment goes through ``-V``;
* the native specification takes qsub options: ``-pe NAME N`` for slots,
  ``-l NAME=VALUE`` for resources (``h_vmem``, ``h_rt``, consumables), ``-q``
  for the queue, ``-P`` for the project;
* DRMAA reports a job as queued, on hold, running, suspended, done or failed;
  once it has ended, ``wait`` tells whether it exited (with a status), was
  killed by a signal, or was aborted before it ran.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from gator_core import CHILD_KEY, NativeStatus, Resources, Submission

__all__ = ["STATES", "native_specification", "job_template", "contiguous_runs", "bulk_ids",
           "status_from_info", "job_name"]

# DRMAA's job states (as the drmaa package names them), and what each means for a child.
STATES: dict[str, str] = {
    "undetermined": "pending", "queued_active": "pending", "system_on_hold": "pending",
    "user_on_hold": "pending", "user_system_on_hold": "pending",
    "running": "running", "system_suspended": "running", "user_suspended": "running",
    "user_system_suspended": "running",
    "done": "finished", "failed": "finished",
    # What an ended job's wait() information turns into (see status_from_info).
    "EXITED": "finished", "KILLED": "finished", "ABORTED": "finished", "DELETED": "finished",
}

# Grid Engine job names may not hold these (qsub refuses them).
_NAME_FORBIDDEN = str.maketrans({c: "_" for c in "\n\t\r /:'\\@*?"})


def job_name(run_id: str, path: str) -> str:
    """Every job of a run shares this prefix, so the run can find (and delete) all of them."""
    return f"gator.{run_id[:8]}.{path}".translate(_NAME_FORBIDDEN)[:200]


def _megabytes(size: int) -> int:
    return max(1, math.ceil(size / (1 << 20)))


def native_specification(resources: Resources, kind: str, settings: Mapping[str, Any],
                         time_limit: float | None = None) -> str:
    """The qsub options of one submission, as DRMAA's native specification."""
    # -b y: the command is a binary (the shell), not a script to copy.  -V: the job
    # gets the environment the agent has when it submits (DRMAA's own jobEnvironment
    # cuts values at their first '=').
    parts: list[str] = ["-b", "y", "-V"]
    if settings.get("queue"):
        parts += ["-q", settings["queue"]]
    if settings.get("project"):
        parts += ["-P", settings["project"]]
    requests: list[str] = []
    if time_limit is not None:  # the spec's timeout, with room for Gator to stop it first
        requests.append(f"h_rt={math.ceil(time_limit)}")
    elif settings.get("time"):
        requests.append(f"h_rt={settings['time']}")
    if kind == "job":
        cores = 1 if resources.cores is None else max(1, resources.cores)
        if cores > 1:
            parts += ["-pe", settings.get("pe") or "smp", str(cores)]
        if resources.memory:
            # Grid Engine counts memory per slot: divide so the job gets what it asked for.
            per_slot = _megabytes(math.ceil(resources.memory / cores))
            requests.append(f"{settings.get('memory_resource') or 'h_vmem'}={per_slot}M")
        requests += [f"{name}={count}" for name, count in sorted(resources.licenses.items())]
        requests += [f"{name}=TRUE" for name in sorted(resources.features)]
    if requests:
        parts += ["-l", ",".join(requests)]
    return " ".join(shlex.quote(part) for part in parts + list(settings.get("native") or []))


def contiguous_runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted indices as inclusive (first, last) runs: a bulk job covers one run."""
    runs: list[tuple[int, int]] = []
    for index in sorted(indices):
        if runs and index == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def split_for_bulk(submission: Submission) -> list[Submission]:
    """An array submission as one submission per contiguous run of indices."""
    if not submission.is_array:
        return [submission]
    by_index = {request.array.index: request for request in submission.requests}  # type: ignore[union-attr]
    return [Submission(tuple(by_index[i] for i in range(first, last + 1)))
            for first, last in contiguous_runs(list(by_index))]


def job_template(submission: Submission, argv: Sequence[str], env: Mapping[str, str],
                 settings: Mapping[str, Any], name: str) -> dict[str, Any]:
    """What the DRMAA agent needs to submit one submission (a single job, or one
    bulk job over a contiguous run of array indices)."""
    first = submission.requests[0]
    command = "exec " + " ".join(shlex.quote(part) for part in argv)
    if submission.is_array:
        # Task ids count from 1, gator's indices from 0: the child's key is
        # <template>_<index>, and the script sends its output to that element's
        # directory itself (DRMAA's path placeholder knows only the task id).
        template = first.array.template  # type: ignore[union-attr]
        offset = first.array.index  # type: ignore[union-attr]
        element = f'{shlex.quote(template + "_")}"$((SGE_TASK_ID - 1))"'
        parent = shlex.quote(str(first.log_path.parent.parent) + "/")
        log = shlex.quote("/" + first.log_path.name)
        script = (f"{CHILD_KEY}={element}; export {CHILD_KEY}; "
                  f'exec >>{parent}"${CHILD_KEY}"{log} 2>&1; {command}')
        output = "/dev/null"
        bulk: list[int] | None = [offset + 1, offset + len(submission.requests)]
    else:
        script = f"{CHILD_KEY}={shlex.quote(first.key)}; export {CHILD_KEY}; {command}"
        output = str(first.log_path)
        bulk = None
    return {
        "remoteCommand": "/bin/sh",
        "args": ["-c", script],
        "workingDirectory": first.cwd,
        "environment": dict(env),  # exported through -V (see native_specification)
        "outputPath": output,
        "joinFiles": True,
        "jobName": name,
        "nativeSpecification": native_specification(submission.resources, first.kind, settings,
                                                    first.time_limit),
        "bulk": bulk,
    }


def bulk_ids(job_ids: Sequence[str], submission: Submission) -> list[str]:
    """The native id of each child, in request order (DRMAA returns one id per task)."""
    if len(job_ids) != len(submission.requests):
        raise ValueError(f"DRMAA returned {len(job_ids)} ids for {len(submission.requests)} children")
    return list(job_ids)


def status_from_info(native_id: str, info: Mapping[str, Any]) -> NativeStatus:
    """An ended job's wait() information as a status: EXITED, KILLED or ABORTED."""
    if info.get("aborted"):
        return NativeStatus(native_id, "ABORTED", "deleted (qdel) or failed before it ran")
    signal = info.get("signal")
    if signal:
        return NativeStatus(native_id, "KILLED", None, returncode=info.get("signum"))
    return NativeStatus(native_id, "EXITED", None, returncode=info.get("exit_status"))
