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
  killed by a signal, or was aborted before it ran;
* a job that reaches its hard run-time limit (``h_rt``) is killed by its
  execution daemon with SIGKILL within about a second (the daemon checks
  every second; seen on the test cluster, and in sge_execd's source).  DRMAA then says "killed by SIGKILL", not
  "aborted", as it would for any other SIGKILL; what sets the limit apart is
  the job's wall-clock time (``ru_wallclock`` in ``wait``'s resource usage):
  at least the limit.  (The accounting agrees: ``qacct`` says ``failed 37 :
  qmaster enforced h_rt, h_cpu, or h_vmem limit``, but only once the
  accounting file is flushed, and ``failed 100`` for another SIGKILL.)  A job
  deleted with ``qdel``, running or not, is "aborted" instead; so is one the
  qmaster removes because its node stopped answering, and a node that dies
  takes the shepherd, which would report the SIGKILL, with it.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from gator_core import CHILD_KEY, NativeStatus, Resources, Submission

__all__ = ["STATES", "native_specification", "job_template", "contiguous_runs", "bulk_ids",
           "status_from_info", "job_name", "h_rt_seconds", "parse_time", "H_RT_SLACK"]

# DRMAA's job states (as the drmaa package names them), and what each means for a child.
STATES: dict[str, str] = {
    "undetermined": "pending", "queued_active": "pending", "system_on_hold": "pending",
    "user_on_hold": "pending", "user_system_on_hold": "pending",
    "running": "running", "system_suspended": "running", "user_suspended": "running",
    "user_system_suspended": "running",
    "done": "finished", "failed": "finished",
    # What an ended job's wait() information turns into (see status_from_info).
    "EXITED": "finished", "KILLED": "finished", "ABORTED": "finished", "DELETED": "finished",
    "TIMEOUT": "finished",
}

# Seconds by which a job killed at its h_rt may seem to have run less than the limit:
# Grid Engine counts whole seconds, and starts the limit's clock when the execution
# daemon first sees the job running, which may be in the second before the job's
# own start time.
H_RT_SLACK = 1.0

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


def parse_time(text: str) -> float | None:
    """A Grid Engine time (``3600``, ``1:00:00``, ``::30``) in seconds; None for
    ``INFINITY`` or what is not a time."""
    text = text.strip()
    if text.upper() in ("INFINITY", ""):
        return None
    try:
        parts = [float(part) if part else 0.0 for part in text.split(":")]
    except ValueError:
        return None
    if len(parts) > 3 or any(part < 0 for part in parts):
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def h_rt_seconds(specification: str) -> float | None:
    """The hard run-time limit a native specification asks for, in seconds (qsub takes
    the last ``-l h_rt=`` of the hard requests), or None."""
    try:
        words = shlex.split(specification)
    except ValueError:
        return None
    limit: float | None = None
    hard = True
    for i, word in enumerate(words):
        if word in ("-hard", "-soft"):
            hard = word == "-hard"
        elif word == "-l" and hard and i + 1 < len(words):
            for request in words[i + 1].split(","):
                name, _, value = request.partition("=")
                if name.strip() == "h_rt":
                    limit = parse_time(value)
    return limit


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def status_from_info(native_id: str, info: Mapping[str, Any], h_rt: float | None = None) -> NativeStatus:
    """An ended job's wait() information as a status: EXITED, KILLED, ABORTED, or
    TIMEOUT when Grid Engine killed it at ``h_rt``, the hard run-time limit (seconds)
    it was submitted with: killed by SIGKILL, not aborted (not qdel), after a
    wall-clock time of at least the limit."""
    if info.get("aborted"):
        return NativeStatus(native_id, "ABORTED", "deleted (qdel) or failed before it ran")
    signal = info.get("signal")
    if signal:
        wallclock = _number(info.get("wallclock"))
        if (signal == "SIGKILL" and h_rt is not None and wallclock is not None
                and wallclock >= h_rt - H_RT_SLACK):
            limit = f"{h_rt:.0f}" if h_rt == int(h_rt) else f"{h_rt:g}"
            return NativeStatus(native_id, "TIMEOUT", f"reached its h_rt limit of {limit} s",
                                returncode=info.get("signum"))
        return NativeStatus(native_id, "KILLED", None, returncode=info.get("signum"))
    return NativeStatus(native_id, "EXITED", None, returncode=info.get("exit_status"))
