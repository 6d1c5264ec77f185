"""`--scheduler sge` against the real test Grid Engine (sge_qmaster, sge_execd) through DRMAA.

The cluster is brought up by tests/cluster/up.sh: queue all.q with 16 slots,
parallel environment ``smp``, and a consumable ``gatorlic`` with two seats.
"""

from __future__ import annotations

import signal
import sys
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
from batchruns import command, finish, job_prefix, show, shown_node
from helpers import need_cluster, node, wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def runs(runs_on: Any) -> Any:
    need_cluster("sge")
    return runs_on("sge")


def queued_names() -> list[str]:
    """Names of every job (task) in qstat."""
    root = ElementTree.fromstring(command("qstat", "-xml", "-u", "*"))
    return [job.findtext("JB_name") or "" for job in root.iter("job_list")]


def test_an_array_goes_in_as_bulk_jobs(runs: Any) -> None:
    _, _, tree = runs.run("""
!JobArray
  id: sweep
  repeats: 8
  jobs:
  - !Job {id: step, command: sh, args: [-c, 'echo "index $GATOR_ARRAY_INDEX task $SGE_TASK_ID"']}
""", check=0)
    ids = [node(tree, f"sweep.step_{i}")["native_id"] for i in range(8)]
    bases = {native_id.split(".")[0] for native_id in ids}
    assert len(bases) == 1, ids  # one bulk job
    base = bases.pop()
    assert ids == [f"{base}.{i + 1}" for i in range(8)]  # Grid Engine counts tasks from 1
    out = command(sys.executable, "-m", "gator_core.cli", "logs", tree["tracking"], "sweep.step_3")
    assert "index 3 task 4" in out


def test_cores_and_licences_go_through_the_native_specification(runs: Any) -> None:
    """!Cores asks the smp environment for slots; two jobs holding both seats of gatorlic
    never run at once."""
    _, _, tree = runs.run("""
!JobGroup
  id: res
  jobs:
  - !Job {id: wide, command: sh, args: [-c, 'echo "slots $NSLOTS"'], resources: [!Cores 3]}
  - !Job {id: a, command: sleep, args: ['2'], resources: [!License [gatorlic, 2]]}
  - !Job {id: b, command: sleep, args: ['2'], resources: [!License [gatorlic, 2]]}
""", check=0)
    out = command(sys.executable, "-m", "gator_core.cli", "logs", tree["tracking"], "res.wide")
    assert "slots 3" in out
    first, second = sorted([node(tree, "res.a"), node(tree, "res.b")], key=lambda item: item["started"])
    assert second["started"] >= first["stopped"] - 0.5


def test_a_job_deleted_behind_gators_back_is_lost_with_that_state(runs: Any) -> None:
    proc, tracking = runs.start("""
!JobGroup
  id: top
  jobs:
  - !Job {id: victim, command: sleep, args: ['120']}
  - !Job {id: fine, command: sleep, args: ['1']}
""", "--sched-arg", "poll=1")
    victim = wait_for(lambda: (n := shown_node(tracking, "top.victim")) and n.get("native_id")
                      and n["result"] == "running" and n, 60, "the victim to run")
    command("qdel", victim["native_id"])
    code, out, err = finish(proc)
    assert code == 1, out + err
    victim = node(show(tracking), "top.victim")
    assert victim["result"] == "lost"
    # qdel kills the job outright (no final report); DRMAA calls that "aborted", which
    # Gator names DELETED once it has seen the job run (ABORTED if the kill came first).
    assert victim["reason"].split(":")[0] in ("DELETED", "ABORTED"), victim["reason"]
    assert "qdel" in victim["reason"]
    assert node(show(tracking), "top.fine")["result"] == "pass"


def test_an_interrupted_run_leaves_nothing_in_qstat(runs: Any) -> None:
    proc, tracking = runs.start("""
!JobGroup
  id: top
  jobs:
  - !Job {id: runs, command: sleep, args: ['300']}
  - !JobGroup
    id: inner
    jobs:
    - !Job {id: deep, command: sleep, args: ['300']}
    - !JobArray
      id: many
      repeats: 12
      jobs:
      - !Job {id: step, command: sleep, args: ['300'], resources: [!Cores 4]}
""", "--sched-arg", "poll=1")
    wait_for(lambda: (n := shown_node(tracking, "top.inner.deep")) and n["result"] == "running", 60,
             "the nested job to run")
    prefix = job_prefix(tracking)
    wait_for(lambda: sum(name.startswith(prefix) for name in queued_names()) >= 5, 60, "jobs in qstat")
    proc.send_signal(signal.SIGINT)
    code, _, _ = finish(proc, timeout=120)
    assert code != 0
    # qdel returns before the execd has reaped the tasks: give it a moment, boundedly.
    wait_for(lambda: not [name for name in queued_names() if name.startswith(prefix)], 30,
             "qstat to list none of the run's jobs")
    assert show(tracking)["result"] == "fail"


def test_a_missing_drmaa_library_is_named(runs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRMAA_LIBRARY_PATH", "/nonexistent/libdrmaa.so")
    proc, _, tree = runs.run("!Job {id: one, command: 'true'}", check=2)
    assert "DRMAA_LIBRARY_PATH" in proc.stderr and "/nonexistent/libdrmaa.so" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree["result"] == "fail" and "did not start" in tree["reason"]
