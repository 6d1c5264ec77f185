"""Faults that Slurm and Grid Engine share, one test each run against both real clusters:
a job cancelled behind Gator's back, and a run interrupted with jobs queued and running."""

from __future__ import annotations

import signal
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from batchruns import command, finish, job_prefix, show, shown_node
from helpers import need_cluster, node, wait_for

pytestmark = pytest.mark.cluster


def squeue_jobs() -> list[tuple[str, str]]:
    """(name, state) of every job (array task) in squeue."""
    lines = command("squeue", "-h", "-r", "-o", "%j|%T").splitlines()
    return [(name, state) for name, _, state in (line.partition("|") for line in lines)]


def qstat_jobs() -> list[tuple[str, str]]:
    """(name, state) of every job in qstat (pending bulk tasks share one entry)."""
    root = ElementTree.fromstring(command("qstat", "-xml", "-u", "*"))
    return [(job.findtext("JB_name") or "", job.get("state", "").upper()) for job in root.iter("job_list")]


@dataclass(frozen=True)
class BatchSystem:
    scheduler: str
    cancel: str  # the command that cancels a job behind Gator's back
    cancelled_states: tuple[str, ...]  # what the lost job's reason starts with
    cancelled_says: str  # and what else it names
    jobs: Callable[[], list[tuple[str, str]]]
    repeats: int  # elements of the array that cannot all run at once (4 cores each, 16 in all)
    queued_at_least: int  # jobs of the run in the queue before the interrupt
    gone_within: float  # seconds the queue may take to forget cancelled jobs (qdel returns early)


SYSTEMS = {
    "slurm": BatchSystem("slurm", "scancel", ("CANCELLED",), "", squeue_jobs, 30, 30, 0.0),
    # qdel kills the job outright (no final report); DRMAA calls that "aborted", which
    # Gator names DELETED once it has seen the job run (ABORTED if the kill came first).
    "sge": BatchSystem("sge", "qdel", ("DELETED", "ABORTED"), "qdel", qstat_jobs, 12, 5, 30.0),
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


def test_an_interrupted_run_leaves_nothing_in_the_queue(runs: Any, system: BatchSystem) -> None:
    """Ctrl-C cancels running and pending jobs (here nested ones, and an array), in batches."""
    proc, tracking = runs.start(f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: runs, command: sleep, args: ['300']}}
  - !JobGroup
    id: inner
    jobs:
    - !Job {{id: deep, command: sleep, args: ['300']}}
    - !JobArray
      id: many
      repeats: {system.repeats}
      jobs:
      - !Job {{id: step, command: sleep, args: ['300'], resources: [!Cores 4]}}
""", "--sched-arg", "poll=1")
    wait_for(lambda: (n := shown_node(tracking, "top.inner.deep")) and n["result"] == "running", 60,
             "the nested job to run")
    prefix = job_prefix(tracking)
    queued = wait_for(lambda: len(jobs := run_jobs(system, prefix)) >= system.queued_at_least and jobs, 60,
                      "the array to be queued")
    assert any(state == "PENDING" for _, state in queued)  # the array cannot all fit in 16 cores
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc, timeout=120)
    assert code != 0
    if system.gone_within:
        wait_for(lambda: not run_jobs(system, prefix), system.gone_within, "the queue to list none of the run's jobs")
    assert run_jobs(system, prefix) == []
    tree = show(tracking)
    assert tree["result"] == "fail" and "interrupted" in (tree.get("reason") or "")
