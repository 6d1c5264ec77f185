"""`--scheduler sge` against the real test Grid Engine (sge_qmaster, sge_execd) through DRMAA.

The cluster is brought up by tests/cluster/up.sh: queue all.q with 16 slots,
parallel environment ``smp``, and a consumable ``gatorlic`` with two seats.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from batchruns import command
from helpers import need_cluster, node

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
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
