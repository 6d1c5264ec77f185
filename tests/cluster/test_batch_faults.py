"""Faults that Slurm and Grid Engine share, one test each run against both real clusters:
a job cancelled behind Gator's back, and a run interrupted with jobs queued and running."""

from __future__ import annotations

import json
import signal
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from batchruns import command, finish, job_prefix, show, shown_node
from helpers import jobs_of, need_cluster, node, wait_for

pytestmark = pytest.mark.cluster


def squeue_jobs() -> list[tuple[str, str]]:
    """(name, state) of every job (array task) in squeue."""
    lines = command("squeue", "-h", "-r", "-o", "%j|%T").splitlines()
    return [(name, state) for name, _, state in (line.partition("|") for line in lines)]


def qstat_entries() -> list[ElementTree.Element]:
    """Every job_list entry of ``qstat -xml`` (pending bulk tasks share one entry)."""
    return list(ElementTree.fromstring(command("qstat", "-xml", "-u", "*")).iter("job_list"))


def qstat_jobs() -> list[tuple[str, str]]:
    """(name, state: PENDING or RUNNING) of every job in qstat."""
    return [(job.findtext("JB_name") or "", job.get("state", "").upper()) for job in qstat_entries()]


def squeue_not_leaving() -> list[tuple[str, str]]:
    """Jobs in squeue that no scancel has reached (cancelled ones are COMPLETING a moment)."""
    return [(name, state) for name, state in squeue_jobs() if state not in ("COMPLETING", "CANCELLED")]


def qstat_not_leaving() -> list[tuple[str, str]]:
    """Jobs in qstat that no qdel has reached: Grid Engine lists a running task it was
    told to delete as ``dr`` until its execution daemon reports it killed."""
    jobs = [(job.findtext("JB_name") or "", (job.findtext("state") or "").strip()) for job in qstat_entries()]
    return [(name, code) for name, code in jobs if "d" not in code]


@dataclass(frozen=True)
class BatchSystem:
    scheduler: str
    cancel: str  # the command that cancels a job behind Gator's back
    cancelled_states: tuple[str, ...]  # what the lost job's reason starts with
    cancelled_says: str  # and what else it names
    jobs: Callable[[], list[tuple[str, str]]]
    not_leaving: Callable[[], list[tuple[str, str]]]  # jobs that no cancel has reached
    repeats: int  # elements of the array that cannot all run at once (4 cores each, 16 in all)
    queued_at_least: int  # jobs of the run in the queue before the interrupt


SYSTEMS = {
    "slurm": BatchSystem("slurm", "scancel", ("CANCELLED",), "", squeue_jobs, squeue_not_leaving, 30, 30),
    # qdel kills the job outright (no final report); DRMAA calls that "aborted", which
    # Gator names DELETED once it has seen the job run (ABORTED if the kill came first).
    "sge": BatchSystem("sge", "qdel", ("DELETED", "ABORTED"), "qdel", qstat_jobs, qstat_not_leaving, 12, 5),
}


@pytest.fixture(params=sorted(SYSTEMS))
def system(request: pytest.FixtureRequest) -> BatchSystem:
    need_cluster(request.param)
    return SYSTEMS[request.param]


@pytest.fixture
def runs(runs_on: Any, system: BatchSystem) -> Any:
    return runs_on(system.scheduler)


def run_jobs(system: BatchSystem, prefix: str) -> list[tuple[str, str]]:
    return [(name, state) for name, state in system.jobs() if name.startswith(prefix)]


def assert_nothing_left(system: BatchSystem, prefix: str) -> None:
    """When the prompt is back, every job of the run still listed has been told to go
    (the batch system may take a few seconds more to remove a running one), and soon
    none is listed: nothing of the run waits to start or goes on running."""
    assert [job for job in system.not_leaving() if job[0].startswith(prefix)] == []
    wait_for(lambda: not run_jobs(system, prefix), 30, "the run's cancelled jobs to leave the queue")


def test_a_job_cancelled_behind_gators_back_is_lost_with_that_state(runs: Any, system: BatchSystem) -> None:
    proc, tracking = runs.start("""
!JobGroup
  id: top
  jobs:
  - !Job {id: victim, command: sleep, args: ['120']}
  - !Job {id: fine, command: sleep, args: ['1']}
""", "--sched-arg", "poll=1")
    victim = wait_for(lambda: (n := shown_node(tracking, "top.victim")) and n.get("native_id")
                      and n["result"] == "running" and n, 60, "the victim to run")
    command(system.cancel, victim["native_id"])
    code, out, err = finish(proc)
    assert code == 1, out + err
    victim = node(show(tracking), "top.victim")
    assert victim["result"] == "lost"
    assert victim["reason"].split(":")[0] in system.cancelled_states, victim["reason"]
    assert system.cancelled_says in victim["reason"]
    assert node(show(tracking), "top.fine")["result"] == "pass"


NESTED = """
!JobGroup
  id: top
  jobs:
  - !Job {{id: runs, command: sh, args: [-c, {runs}]}}
  - !JobGroup
    id: inner
    jobs:
    - !Job {{id: deep, command: sleep, args: ['300']}}
    - !JobArray
      id: many
      repeats: {repeats}
      jobs:
      - !Job {{id: step, command: sleep, args: ['300'], resources: [!Cores 4]}}
"""


def start_nested(runs: Any, system: BatchSystem, *args: str, runs_command: str = "sleep 300"
                 ) -> tuple[Any, Path, str]:
    """A run with a single job, a nested one and an array that cannot all fit in the
    farm's 16 cores, started until some of the array waits in the queue."""
    proc, tracking = runs.start(NESTED.format(runs=json.dumps(runs_command), repeats=system.repeats),
                                "--sched-arg", "poll=1", *args)
    for path in ("top.runs", "top.inner.deep"):
        wait_for(lambda path=path: (n := shown_node(tracking, path)) and n["result"] == "running", 60,
                 f"{path} to run")
    prefix = job_prefix(tracking)
    queued = wait_for(lambda: len(jobs := run_jobs(system, prefix)) >= system.queued_at_least and jobs, 60,
                      "the array to be queued")
    assert any(state == "PENDING" for _, state in queued)  # the array cannot all fit in 16 cores
    return proc, tracking, prefix


def interrupt(proc: Any, sig: int) -> tuple[int, str, float]:
    """Send ``sig``; the exit code, stdout and stderr, and the seconds until the run exited."""
    sent = time.monotonic()
    proc.send_signal(sig)
    code, out, err = finish(proc, timeout=120)
    return code, out + err, time.monotonic() - sent


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_stops_in_seconds_and_leaves_nothing_in_the_queue(
        runs: Any, system: BatchSystem, sig: signal.Signals) -> None:
    """Ctrl-C with a single job, a nested one and an array running and queued: the prompt is
    back within 5 s, with the queue empty; what ran failed, what waited was cancelled."""
    proc, tracking, prefix = start_nested(runs, system)
    code, output, took = interrupt(proc, sig)
    assert code == 130, output
    assert took < 5.0, f"the run took {took:.1f} s to exit"
    assert_nothing_left(system, prefix)
    tree = show(tracking)
    assert tree["result"] == "fail" and f"interrupted by {sig.name}" in tree["reason"]
    jobs = jobs_of(tree)
    ran = [job for job in jobs if job["result"] == "fail"]
    waited = [job for job in jobs if job["result"] == "cancelled"]
    assert len(ran) + len(waited) == len(jobs), [(job["path"], job["result"]) for job in jobs]
    assert {"top.runs", "top.inner.deep"} <= {job["path"] for job in ran}
    assert all(f"stopped (interrupted by {sig.name})" in job["reason"] for job in ran)
    assert waited and all(job["reason"] == f"not started: interrupted by {sig.name}" for job in waited)
    assert all(job["path"].startswith("top.inner.many.") for job in waited)
    assert tree["jobs"]["cancelled"] == len(waited) and tree["jobs"]["failed"] == len(ran)
    assert f"{len(ran)} failed, {len(waited)} cancelled" in output  # the summary line
    assert "LOST" not in output


def test_a_second_ctrl_c_kills_at_once_and_still_empties_the_queue(runs: Any, system: BatchSystem) -> None:
    """A job that ignores SIGTERM, with a grace period of a minute: the second Ctrl-C does
    not wait for it."""
    proc, tracking, prefix = start_nested(runs, system, "--grace", "60",
                                          runs_command="trap '' TERM; sleep 300 & wait; sleep 300")
    proc.send_signal(signal.SIGINT)
    time.sleep(1.5)
    assert proc.poll() is None, "the job ignoring SIGTERM has a minute's grace"
    code, output, took = interrupt(proc, signal.SIGINT)
    assert code == 130, output
    assert took < 5.0, f"the run took {took:.1f} s to exit after the second Ctrl-C"
    assert "interrupted again by SIGINT: killing every job now" in output
    assert_nothing_left(system, prefix)
    stubborn = node(show(tracking), "top.runs")
    assert stubborn["result"] == "fail" and "killed: interrupted again by SIGINT" in stubborn["reason"], stubborn
    assert {job["result"] for job in jobs_of(show(tracking))} == {"fail", "cancelled"}
