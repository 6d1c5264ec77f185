"""`--scheduler slurm` against the real test cluster (slurmctld, slurmd, slurmdbd, MariaDB).

The cluster is brought up by tests/cluster/up.sh: one node with 16 CPUs,
accounting on, memory enforced by jobacct_gather's OverMemoryKill, and a
licence ``gatorlic`` with two seats.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from batchruns import command, finish, job_prefix, run_attr, show, shown_node
from helpers import need_cluster, node, units, wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def runs(runs_on: Any) -> Any:
    need_cluster("slurm")
    return runs_on("slurm")


def slurm(*argv: str) -> str:
    return command(*argv)


def run_jobs(prefix: str) -> list[str]:
    """This run's jobs still in squeue (pending, running or completing), one line per task."""
    lines = slurm("squeue", "-h", "-r", "-o", "%i|%j|%T").splitlines()
    return [line for line in lines if line.split("|")[1].startswith(prefix)]


# -- arrays ------------------------------------------------------------------------------------------

def test_an_array_reaches_slurm_as_one_array_job(runs: Any) -> None:
    _, tracking, tree = runs.run("""
!JobArray
  id: sweep
  repeats: 12
  jobs:
  - !Job {id: step, command: sh, args: [-c, 'echo "index $GATOR_ARRAY_INDEX"']}
""", check=0)
    assert tree["jobs"]["passed"] == 12
    ids = [node(tree, f"sweep.step_{i}")["native_id"] for i in range(12)]
    bases = {native_id.split("_")[0] for native_id in ids}
    assert len(bases) == 1, ids  # one sbatch for the twelve
    base = bases.pop()
    assert sorted(ids) == sorted(f"{base}_{i}" for i in range(12))

    def accounted() -> list[str] | None:
        lines = slurm("sacct", "-n", "-X", "-P", "-j", base, "-o", "JobID,JobName,State").splitlines()
        done = [line for line in lines if line.endswith("|COMPLETED")]
        return lines if len(done) == 12 else None

    lines = wait_for(accounted, 30, "sacct to list the twelve array tasks completed")
    assert {line.split("|")[0] for line in lines} == set(ids)
    assert {line.split("|")[1] for line in lines} == {f"gator.{run_attr(tracking, 'run_id')[:8]}.sweep.step"}


def test_array_throttle_and_pending_reason(runs: Any) -> None:
    """With array_throttle=1 the tasks run one at a time; the waiting ones show why."""
    proc, tracking = runs.start("""
!JobArray
  id: slow
  repeats: 3
  jobs:
  - !Job {id: step, command: sleep, args: ['2']}
""", "--sched-arg", "array_throttle=1", "--sched-arg", "poll=1")
    waiting = wait_for(lambda: (n := shown_node(tracking, "slow.step_2")) and n.get("reason") and n, 60,
                       "a pending task with its reason")
    assert "JobArrayTaskLimit" in waiting["reason"] or "Priority" in waiting["reason"], waiting
    code, out, err = finish(proc)
    assert code == 0, out + err
    tree = show(tracking)
    spans = sorted((node(tree, f"slow.step_{i}")["started"], node(tree, f"slow.step_{i}")["stopped"])
                   for i in range(3))
    for (_, end), (begin, _) in zip(spans, spans[1:], strict=False):
        assert begin >= end - 0.5  # one at a time (clock granularity aside)


# -- resources ---------------------------------------------------------------------------------------

def test_licences_limit_jobs_across_the_cluster(runs: Any) -> None:
    """Two jobs that each take both seats of gatorlic never run at once."""
    _, _, tree = runs.run("""
!JobGroup
  id: lic
  jobs:
  - !Job {id: a, command: sleep, args: ['2'], resources: [!License [gatorlic, 2]]}
  - !Job {id: b, command: sleep, args: ['2'], resources: [!License [gatorlic, 2]]}
""", check=0)
    a, b = node(tree, "lic.a"), node(tree, "lic.b")
    first, second = sorted([a, b], key=lambda item: item["started"])
    assert second["started"] >= first["stopped"] - 0.5


def test_a_job_over_its_memory_is_lost_with_out_of_memory(runs: Any) -> None:
    _, tracking, tree = runs.run("""
!JobGroup
  id: mem
  jobs:
  - !Job
    id: hog
    resources: [!Memory 50]
    command: python3
    args: [-c, "import time; block = bytearray(400 << 20); time.sleep(60)"]
  - !Job {id: fine, command: 'true', resources: [!Memory 50]}
""", check=1)
    hog = node(tree, "mem.hog")
    assert hog["result"] == "lost"
    assert hog["reason"].startswith("OUT_OF_MEMORY: "), hog["reason"]
    assert "exceeded memory limit" in hog["reason"]
    assert node(tree, "mem.fine")["result"] == "pass"


# -- failures ----------------------------------------------------------------------------------------

def test_a_refused_sbatch_is_quoted(runs: Any) -> None:
    proc, _, tree = runs.run("!Job {id: one, command: 'true'}", "--sched-arg", "partition=nowhere",
                        check=1)
    one = node(tree, "root.one")
    assert one["result"] in ("fail", "lost")
    assert one["reason"] == ("sbatch failed (exit code 1): sbatch: error: Batch job submission failed: "
                             "Invalid partition name specified")
    assert "LOST  root.one" in proc.stdout or "FAIL  root.one" in proc.stdout


INNER_TIER = """
!JobGroup
  id: inner
  jobs:
  - !JobArray
    id: many
    repeats: 30
    jobs:
    - !Job {id: step, command: sleep, args: ['300'], resources: [!Cores 4]}
"""


def start_inner_tier(runs: Any, path: str) -> tuple[Any, Path, dict[str, Any], str]:
    """A run whose tier at ``path`` (top.inner or top.outer.inner) has an array of 30 that
    cannot all run at once, beside a job `fine`; started until the array is queued.
    Returns the run, its tracking directory, the inner tier's node and the run's job prefix."""
    parent = path.rsplit(".", 1)[0]
    depth = parent.count(".") + 1  # how deep the inner group sits
    inner = "\n".join("  " * depth + line if line else line for line in INNER_TIER.strip().splitlines()[1:])
    spec = "!JobGroup\n  id: top\n  jobs:\n"
    if parent != "top":
        spec += "  - !JobGroup\n    id: outer\n    jobs:\n"
    spec += f"{'  ' * depth}- !Job {{id: fine, command: 'true'}}\n{'  ' * depth}- !JobGroup\n{inner}\n"
    proc, tracking = runs.start(spec, "--sched-arg", "poll=1")
    node_now = wait_for(lambda: (n := shown_node(tracking, path)) and n.get("native_id") and n, 60,
                        "the inner tier to run")
    prefix = job_prefix(tracking)
    wait_for(lambda: len([j for j in run_jobs(prefix) if f".{path}.many." in j]) >= 30, 60,
             "the inner tier's array to be queued")
    return proc, tracking, node_now, prefix


def test_a_tier_killed_mid_run_leaves_nothing_of_its_subtree_in_squeue(runs: Any) -> None:
    """A tier SIGKILLed cannot cancel its children; its parent (not the root) sweeps them."""
    proc, tracking, inner, prefix = start_inner_tier(runs, "top.outer.inner")
    # --batch: SIGKILL to the tier itself at once (a whole-job signal starts with SIGTERM).
    slurm("scancel", "--signal=KILL", "--batch", inner["native_id"])
    code, out, err = finish(proc, timeout=180)
    assert code == 1, out + err
    tree = show(tracking)
    assert node(tree, "top.outer.inner")["result"] == "lost"
    assert node(tree, "top.outer.fine")["result"] == "pass"
    assert run_jobs(prefix) == []


def test_a_tier_cancelled_from_outside_fails_and_its_queued_jobs_are_cancelled(runs: Any) -> None:
    """scancel of a tier's job (SIGTERM first): the tier stops its subtree in time, but the
    user did not ask for it, so the tier and the run fail; what was queued never ran."""
    proc, tracking, inner, prefix = start_inner_tier(runs, "top.inner")
    slurm("scancel", inner["native_id"])
    code, out, err = finish(proc, timeout=180)
    assert code == 1, out + err
    tree = show(tracking)
    assert tree["result"] == "fail"
    tier = node(tree, "top.inner")
    assert tier["result"] == "fail" and "received SIGTERM" in tier["reason"], tier
    steps = node(tree, "top.inner.many")["children"]
    assert {step["result"] for step in steps} <= {"cancelled", "fail"} and tree["jobs"]["cancelled"] > 0
    assert node(tree, "top.fine")["result"] == "pass"
    assert run_jobs(prefix) == []


@pytest.fixture
def node_name() -> Any:
    """The cluster's one node; resumed after the test whatever happens."""
    name = slurm("sinfo", "-h", "-N", "-o", "%N").split()[0]
    yield name
    subprocess.run(["scontrol", "update", f"nodename={name}", "state=resume"], capture_output=True,
                   timeout=units(30))

    def idle() -> bool:
        state = slurm("sinfo", "-h", "-N", "-n", name, "-o", "%T").strip()
        return state in ("idle", "mixed", "allocated")
    wait_for(idle, 60, f"node {name} to come back")


def test_a_node_set_down_mid_run_gives_lost_jobs_with_the_reason(runs: Any, node_name: str) -> None:
    proc, tracking = runs.start("""
!JobGroup
  id: top
  jobs:
  - !Job {id: a, command: sleep, args: ['120']}
  - !Job {id: b, command: sleep, args: ['120']}
""", "--sched-arg", "poll=1")
    for path in ("top.a", "top.b"):
        wait_for(lambda p=path: (n := shown_node(tracking, p)) and n["result"] == "running", 60, f"{path} to run")
    started = time.monotonic()
    slurm("scontrol", "update", f"nodename={node_name}", "state=down", "reason=gator-test")
    code, out, err = finish(proc, timeout=120)
    assert code == 1, out + err
    assert time.monotonic() - started < units(60)
    tree = show(tracking)
    for path in ("top.a", "top.b"):
        item = node(tree, path)
        assert item["result"] == "lost", item
        assert item["reason"].split(":")[0] in ("NODE_FAIL", "CANCELLED", "FAILED"), item["reason"]
