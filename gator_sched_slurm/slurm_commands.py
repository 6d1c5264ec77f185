"""Slurm's commands as pure functions: build each command line, parse each answer.

Nothing here runs anything; :mod:`gator_sched_slurm.slurm` does, and the unit
tests feed these functions text.  Facts from Slurm's documentation:

* ``sbatch --parsable`` prints ``jobid`` or ``jobid;cluster``;
* ``--array=0,3,7%2`` submits those indices, two running at once; each task
  sees ``SLURM_ARRAY_TASK_ID`` and is named ``<jobid>_<index>``;
* ``squeue -r`` lists array tasks one per line; ``-t all`` keeps recently
  finished jobs (for MinJobAge seconds) with their final state;
* ``sacct -X -P`` prints one ``|``-separated line per allocation; pending
  array tasks appear as ``<jobid>_[3-7,9]``; ``ExitCode`` is ``code:signal``;
* a state may carry a suffix (``CANCELLED by 1000``).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from gator_core import CHILD_KEY, NativeStatus, Resources, Submission

__all__ = ["STATES", "TRANSIENT", "sbatch_command", "batch_script", "parse_sbatch", "task_ids",
           "squeue_command", "parse_squeue", "sacct_command", "parse_sacct", "scancel_command",
           "is_transient", "job_name", "base_ids", "SQUEUE_FORMAT", "memory_kill", "leftovers",
           "SWEEP_FORMAT"]

# Slurm's job states, and what each means for a child.
STATES: dict[str, str] = {
    "PENDING": "pending", "REQUEUED": "pending", "REQUEUE_HOLD": "pending", "REQUEUE_FED": "pending",
    "CONFIGURING": "pending", "RESV_DEL_HOLD": "pending", "SPECIAL_EXIT": "pending",
    "RUNNING": "running", "COMPLETING": "running", "SUSPENDED": "running", "STAGE_OUT": "running",
    "SIGNALING": "running", "RESIZING": "running", "STOPPED": "running",
    "COMPLETED": "finished", "FAILED": "finished", "CANCELLED": "finished", "TIMEOUT": "finished",
    "OUT_OF_MEMORY": "finished", "NODE_FAIL": "finished", "PREEMPTED": "finished",
    "BOOT_FAIL": "finished", "DEADLINE": "finished", "REVOKED": "finished",
}

# Messages of a controller that is busy or unreachable: worth trying again.
TRANSIENT = (
    "socket timed out", "temporarily unable", "resource temporarily unavailable",
    "unable to contact slurm controller", "connection refused", "try again",
    "slurm_persist_conn_open_without_init", "zero bytes were transmitted or received",
    "transient", "communication connection failure",
)

SQUEUE_FORMAT = "%i|%T|%r|%N"


def job_name(run_id: str, path: str) -> str:
    """Every job of a run shares this prefix, so the run can find (and cancel) all of them."""
    return f"gator.{run_id[:8]}.{path}"[:200]


def slurm_minutes(seconds: float) -> int:
    """``--time`` in whole minutes, rounded up (Slurm's granularity is a minute)."""
    return max(1, math.ceil(seconds / 60))


def _megabytes(size: int) -> int:
    return max(1, math.ceil(size / (1 << 20)))


def _resource_options(resources: Resources, kind: str) -> list[str]:
    out = []
    if kind == "job":
        cores = 1 if resources.cores is None else max(1, resources.cores)
        out.append(f"--cpus-per-task={cores}")
        if resources.memory:
            out.append(f"--mem={_megabytes(resources.memory)}M")
        if resources.licenses:
            held = sorted(resources.licenses.items())
            out.append("--licenses=" + ",".join(f"{name}:{count}" for name, count in held))
        if resources.features:
            out.append("--constraint=" + "&".join(sorted(resources.features)))
    else:
        out.append("--cpus-per-task=1")  # a tier mostly waits
    return out


def sbatch_command(submission: Submission, settings: Mapping[str, Any], name: str) -> list[str]:
    """The sbatch command for one submission (the script goes to its stdin)."""
    first = submission.requests[0]
    argv = ["sbatch", "--parsable", "--export=ALL", f"--job-name={name}", f"--chdir={first.cwd}",
            "--kill-on-invalid-dep=yes",
            # Gator decides what runs again: a job Slurm requeued (after a node
            # failure) would come back after its tier has already reported it lost.
            "--no-requeue"]
    if submission.is_array:
        # Each element's own directory: <array tier>/<template id>_<index>/gator.log
        parent = first.log_path.parent.parent
        argv.append(f"--output={parent / (first.array.template + '_%a') / first.log_path.name}")  # type: ignore[union-attr]
        throttle = settings.get("array_throttle")
        indices = ",".join(str(i) for i in submission.indices)
        argv.append(f"--array={indices}" + (f"%{throttle}" if throttle else ""))
    else:
        argv.append(f"--output={first.log_path}")
    for option in ("partition", "account", "qos"):
        if settings.get(option):
            argv.append(f"--{option}={settings[option]}")
    if first.time_limit is not None:  # the spec's timeout, with room for Gator to stop it first
        argv.append(f"--time={slurm_minutes(first.time_limit)}")
    elif settings.get("time"):
        argv.append(f"--time={settings['time']}")
    argv += _resource_options(submission.resources, first.kind)
    argv += list(settings.get("sbatch_args") or [])
    return argv


def batch_script(submission: Submission, argv: Sequence[str]) -> str:
    """The job script: which child this is, then the child's command.

    The parent's URL and the run's token are not in it: they travel in the
    environment sbatch exports (never on a command line).
    """
    first = submission.requests[0]
    lines = ["#!/bin/sh"]
    if submission.is_array:
        base = shlex.quote(first.array.template + "_")  # type: ignore[union-attr]
        lines.append(f'{CHILD_KEY}={base}"$SLURM_ARRAY_TASK_ID"')
    else:
        lines.append(f"{CHILD_KEY}={shlex.quote(first.key)}")
    lines.append(f"export {CHILD_KEY}")
    lines.append("exec " + " ".join(shlex.quote(part) for part in argv))
    return "\n".join(lines) + "\n"


def parse_sbatch(stdout: str) -> str:
    """The job id from ``sbatch --parsable``; ValueError when there is none."""
    text = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    job_id = text.split(";", 1)[0].strip()
    if not job_id.isdigit():
        raise ValueError(f"sbatch printed no job id: {stdout.strip()!r}")
    return job_id


def task_ids(job_id: str, submission: Submission) -> list[str]:
    """The native id of each child of a submission."""
    if submission.is_array:
        return [f"{job_id}_{index}" for index in submission.indices]
    return [job_id]


def base_ids(native_ids: Sequence[str]) -> list[str]:
    """Job ids to ask about (one per array, whatever its number of tasks)."""
    return sorted({native_id.split("_", 1)[0] for native_id in native_ids}, key=int)


def squeue_command(native_ids: Sequence[str]) -> list[str]:
    return ["squeue", "-h", "-r", "-t", "all", "-j", ",".join(base_ids(native_ids)), "-o", SQUEUE_FORMAT]


def _state(text: str) -> str:
    return text.strip().split(" ", 1)[0].rstrip("+")


def _expand(native_id: str) -> list[str]:
    """``123_[3-5,9]`` (pending tasks, not yet split) to ``123_3 123_4 123_5 123_9``."""
    match = re.fullmatch(r"(\d+)_\[([0-9,\-%]+)\]", native_id)
    if not match:
        return [native_id]
    job, spec = match.group(1), match.group(2).split("%", 1)[0]
    out = []
    for part in spec.split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            out += [f"{job}_{i}" for i in range(int(low), int(high) + 1)]
        elif part:
            out.append(f"{job}_{part}")
    return out


def parse_squeue(stdout: str) -> dict[str, NativeStatus]:
    out: dict[str, NativeStatus] = {}
    for line in stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4:
            continue
        native_id, state, reason, nodes = parts[0], _state(parts[1]), parts[2], parts[3]
        reason = None if reason in ("None", "") else reason
        for one in _expand(native_id):
            out[one] = NativeStatus(one, state, reason, nodes or None)
    return out


def sacct_command(native_ids: Sequence[str]) -> list[str]:
    return ["sacct", "-n", "-P", "-X", "-j", ",".join(base_ids(native_ids)),
            "-o", "JobID,State,ExitCode,Reason,NodeList"]


def parse_sacct(stdout: str) -> dict[str, NativeStatus]:
    out: dict[str, NativeStatus] = {}
    for line in stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 5:
            continue
        native_id, state, exit_code, reason, nodes = parts[:5]
        state = _state(state)
        code, _, signal = exit_code.partition(":")
        returncode = None
        if code.isdigit() and signal.isdigit():
            returncode = -int(signal) if int(signal) else int(code)
        reason = None if reason in ("None", "") else reason
        host = None if nodes in ("", "None assigned") else nodes
        for one in _expand(native_id):
            out[one] = NativeStatus(one, state, reason, host, returncode)
    return out


# What slurmstepd writes into a job's output when it kills the job for its memory
# (jobacct_gather's OverMemoryKill); clusters with task/cgroup say OUT_OF_MEMORY themselves.
MEMORY_KILL = ("exceeded job memory limit", "exceeded memory limit", "oom-kill", "out-of-memory")


def memory_kill(output_tail: str) -> str | None:
    """What slurmstepd wrote into a job's output when it killed the job for its memory
    (the line with the sizes when there is one), or None."""
    found = None
    for line in output_tail.splitlines():
        lowered = line.lower()
        if "slurmstepd" in lowered and any(fragment in lowered for fragment in MEMORY_KILL):
            text = line.split("error:", 1)[-1].strip()
            if found is None or "(" in text:
                found = text
    return found


SWEEP_FORMAT = "%i|%j|%T"


def leftovers(stdout: str, prefix: str) -> list[str]:
    """Ids to cancel among ``squeue -h -o SWEEP_FORMAT`` lines: the jobs named with
    ``prefix`` that are pending or running.  A pending array range keeps its
    brackets, without the throttle (``77_[3-9%2]`` to ``77_[3-9]``), as scancel
    takes it."""
    out = []
    for line in stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3 or not parts[1].startswith(prefix):
            continue
        native_id, state = parts[0], _state(parts[2])
        if STATES.get(state) in ("pending", "running"):
            out.append(native_id.split("%", 1)[0] + ("]" if "%" in native_id else ""))
    return out


def scancel_command(native_ids: Sequence[str], *, kill: bool = False) -> list[str]:
    """Cancel; with ``kill``, SIGKILL every step of the running ones first (the batch
    step included), so that they end now rather than after the cluster's KillWait."""
    return ["scancel", *(["--signal=KILL"] if kill else []), *native_ids]


def is_transient(message: str) -> bool:
    lowered = message.lower()
    return any(fragment in lowered for fragment in TRANSIENT)
