"""`--scheduler sge` against the real test Grid Engine (sge_qmaster, sge_execd) through DRMAA.

The cluster is brought up by tests/cluster/up.sh: queue all.q with 16 slots,
parallel environment ``smp``, and a consumable ``gatorlic`` with two seats.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from batchruns import command
from helpers import need_cluster, node, units, wait_for

from gator_sched_slurm import sge_native

pytestmark = pytest.mark.cluster


@pytest.fixture
def runs(runs_on: Any) -> Any:
    need_cluster("sge")
    return runs_on("sge")


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


def test_a_missing_drmaa_library_is_named(runs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRMAA_LIBRARY_PATH", "/nonexistent/libdrmaa.so")
    proc, _, tree = runs.run("!Job {id: one, command: 'true'}", check=2)
    assert "DRMAA_LIBRARY_PATH" in proc.stderr and "/nonexistent/libdrmaa.so" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree["result"] == "fail" and "did not start" in tree["reason"]


def qacct_failed(native_id: str) -> str | None:
    """The ``failed`` line of Grid Engine's accounting for a job, once it is there (the
    test cluster flushes the accounting file every second)."""
    out = subprocess.run(["qacct", "-j", native_id], capture_output=True, text=True, timeout=units(30))
    return next((line.split(None, 1)[1] for line in out.stdout.splitlines() if line.startswith("failed")), None)


def test_a_job_grid_engine_kills_at_its_h_rt_limit_ends_as_timeout(runs: Any) -> None:
    """``time`` gives every job an h_rt of 5 s and no job has a timeout of its own, so Gator
    does not stop them: Grid Engine kills ``slow`` at its limit (SIGKILL, no final report),
    and Gator reports a timeout naming the limit.  Jobs killed by other means while under
    the same limit stay lost: one SIGKILLed by something else, one deleted with qdel."""
    _, _, tree = runs.run("""
!JobGroup
  id: top
  jobs:
  - !Job {id: slow, command: sleep, args: ['60']}
  - !Job {id: shot, command: sh, args: [-c, 'sleep 1; kill -9 $PPID']}
  - !Job {id: deleted, command: sh, args: [-c, 'sleep 1; qdel "$JOB_ID"; sleep 60']}
  - !Job {id: quick, command: 'true'}
""", "--sched-arg", "time=5", "--sched-arg", "poll=1", check=1, timeout=120)
    slow = node(tree, "top.slow")
    assert slow["result"] == "timeout", slow
    assert slow["reason"].startswith("TIMEOUT: reached its h_rt limit of 5 s (killed by SIGKILL)"), slow["reason"]
    # Grid Engine's own record agrees that it enforced the limit (Gator does not ask it).
    failed = wait_for(lambda: qacct_failed(slow["native_id"]), 30, "the job in qacct")
    assert failed.startswith("37"), failed
    shot, deleted = node(tree, "top.shot"), node(tree, "top.deleted")
    assert shot["result"] == "lost" and shot["reason"].startswith("KILLED"), shot
    assert deleted["result"] == "lost" and deleted["reason"].split(":")[0] in ("DELETED", "ABORTED"), deleted
    assert node(tree, "top.quick")["result"] == "pass"
    assert tree["jobs"]["failed"] == 1 and tree["jobs"]["lost"] == 2


def test_every_task_of_a_bulk_job_killed_at_h_rt_is_a_timeout(runs: Any) -> None:
    _, _, tree = runs.run("""
!JobArray
  id: sweep
  repeats: 3
  jobs:
  - !Job {id: slow, command: sleep, args: ['60']}
""", "--sched-arg", "time=0:0:4", "--sched-arg", "poll=1", check=1, timeout=120)
    for i in range(3):
        task = node(tree, f"sweep.slow_{i}")
        assert task["native_id"].endswith(f".{i + 1}")
        assert (task["result"], task["reason"].split(" (")[0]) == ("timeout", "TIMEOUT: reached its h_rt limit of 4 s")


def test_h_rt_is_read_from_the_native_specification_as_qsub_reads_it() -> None:
    assert sge_native.h_rt_seconds("-b y -V -l h_rt=3662,h_vmem=100M") == 3662
    assert sge_native.h_rt_seconds("-b y -V -l h_rt=1:00:00") == 3600
    assert sge_native.h_rt_seconds("-l h_rt=::30") == 30
    assert sge_native.h_rt_seconds("-l h_rt=100 -l arch=x -l h_rt=5") == 5  # the last wins
    assert sge_native.h_rt_seconds("-l h_rt=100 -soft -l h_rt=7") == 100  # soft requests do not limit
    assert sge_native.h_rt_seconds("-l s_rt=100") is None
    assert sge_native.h_rt_seconds("-l h_rt=INFINITY") is None
    assert sge_native.h_rt_seconds("-b y -V") is None


def test_only_a_sigkill_at_the_h_rt_limit_is_a_timeout() -> None:
    """What DRMAA's wait() said for jobs of the test cluster (h_rt=3: killed after 4 s)."""
    def status(h_rt: float | None, **info: Any) -> tuple[str, str | None]:
        found = sge_native.status_from_info("9", {"signal": None, **info}, h_rt)
        return found.state, found.reason

    at_limit = {"signal": "SIGKILL", "signum": -9, "wallclock": 4.0}
    assert status(3, **at_limit) == ("TIMEOUT", "reached its h_rt limit of 3 s")
    assert status(5, **at_limit)[0] == "TIMEOUT"  # a second short: Grid Engine counts whole seconds
    assert status(6, **at_limit)[0] == "KILLED"  # killed before its limit: by something else
    assert status(None, **at_limit)[0] == "KILLED"  # no limit known
    assert status(3, **{**at_limit, "wallclock": None})[0] == "KILLED"
    assert status(3, **{**at_limit, "signal": "SIGTERM", "signum": -15})[0] == "KILLED"
    assert status(3, **{**at_limit, "aborted": True})[0] == "ABORTED"  # qdel, even at the limit
    assert status(3, exit_status=0, wallclock=4.0)[0] == "EXITED"
