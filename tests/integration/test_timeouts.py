"""Time limits (`timeout:`) on the local scheduler: what a timed-out job leaves behind
(nothing), and how the result reads everywhere: show, --failed, JUnit, rerun, exit code."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from helpers import gator, gator_processes, node, run_spec, write


def test_a_timed_out_job_leaves_no_process_and_reads_as_timeout_everywhere(tmp_path: Path) -> None:
    marker = f"{400 + uuid.uuid4().int % 100}.{uuid.uuid4().int % 1000}"
    spec = f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: hangs, command: sh, args: [-c, "sleep {marker} & sleep {marker}; wait"], timeout: 1s}}
  - !Job {{id: fine, command: 'true'}}
"""
    proc, tracking, tree = run_spec(tmp_path, spec, "--grace", "1", "--junit", str(tmp_path / "junit.xml"), check=1)
    hangs = node(tree, "top.hangs")
    assert (hangs["result"], hangs["reason"]) == ("timeout", "ran past its 1s limit")
    assert not gator_processes(marker)  # its whole process tree is gone
    assert "TIME  top.hangs" in proc.stdout and "1 failed" in proc.stdout
    assert tree["jobs"]["failed"] == 1 and tree["jobs"]["passed"] == 1
    listed = gator("show", tracking, "--failed", check=0).stdout
    assert "top.hangs" in listed and "top.fine" not in listed
    junit = (tmp_path / "junit.xml").read_text()
    assert 'type="timeout"' in junit and 'failures="1"' in junit
    again = tmp_path / "again"
    gator("rerun", tracking, "--failed", "--tracking", again, cwd=tmp_path, check=1)  # its grace: 1 s, as before
    rerun = json.loads(gator("show", again, "--json", check=0).stdout)
    assert node(rerun, "top.hangs")["result"] == "timeout"  # run again, not carried over
    assert node(rerun, "top.fine")["result"] == "pass"


def test_the_top_groups_limit_bounds_the_run(tmp_path: Path) -> None:
    spec = """
!JobArray
  id: sweep
  timeout: 2s
  repeats: 3
  jobs:
  - !Job {id: sim, command: sleep, args: ["60"]}
"""
    _, _, tree = run_spec(tmp_path, spec, "--grace", "1", check=1)
    assert (tree["result"], tree["reason"]) == ("timeout", "ran past its 2s limit")
    results = [node(tree, f"sweep.sim_{i}")["result"] for i in range(3)]
    assert "fail" in results and set(results) <= {"fail", "cancelled"}  # stopped, or never started
    assert 2 <= tree["stopped"] - tree["started"] < 10


def test_a_bad_timeout_is_a_spec_error_with_its_place(tmp_path: Path) -> None:
    spec = write(tmp_path / "bad.yaml", "!JobGroup\n  jobs:\n  - !Job {id: a, command: 'true', timeout: -5m}\n")
    proc = gator("run", spec, cwd=tmp_path, check=2)
    assert "bad.yaml:3:" in proc.stderr and "'timeout' of !Job" in proc.stderr
    assert not (tmp_path / "tracking").exists()
