"""One test for each defect of the seed system (shared/notes/seed-system.md) that the
core touches.  Where the natural home of a test is another file, it is named here:

* 210 ms and a 50 MB process per job ............. test_wrappers_are_forked_and_share_memory (+ bench/)
* 100,000 lines took 71 s ........................... test_a_hundred_thousand_lines_are_all_kept_in_order
* children started with the python3 on PATH ........ test_cli.py::test_runs_from_a_virtualenv_that_is_not_on_path
* parent hangs when a child dies; SIGTERM ignored .. test_failures.py (killed wrapper, SIGTERM)
* env entries replace the environment .............. test_jobs.py::test_environment_overlays_and_expansion_without_a_shell
* a dependency on an array sees its last element ... test_dependencies.py::test_a_dependency_on_an_array_waits_for_every_element
* a skipped job fails the run ...................... test_dependencies.py::test_skipped_jobs_alone_do_not_fail_the_run
* stdin open; 64 KiB lines hang; bad UTF-8 raises .. test_jobs.py (stdin, output lines)
* child CPU recorded as 0; KB converted wrongly .... test_jobs.py::test_cpu_of_child..., unit/test_spec_language.py
* one open transaction; a second run is "locked" ... test_cli.py (show while running, used tracking dir),
                                                     test_failures.py (killed hard)
* cycles beyond self-dependency; unnamed siblings .. unit/test_spec_errors.py
* 0.0.0.0 without auth; shell strings; port race ... test_protocol_server.py, test_commands_are_not_shell_strings,
                                                     test_many_tiers_start_at_once
* metrics only summed; tiers counted as jobs ....... test_metrics_are_rolled_up_with_statistics
* nested array indices overwrite each other ........ test_nested_array_indices_are_all_available
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
from helpers import logs, node, run_spec, units, wait_for, write


def test_wrappers_are_forked_and_share_memory(tmp_path: Path):
    """A wrapper is forked from the warm agent: its own (unique) memory is small."""
    marker = f"{7 + uuid.uuid4().int % 3}.{os.getpid() % 1000}{uuid.uuid4().int % 100}"
    spec = write(tmp_path / "s.yaml", f"!Job {{id: j, command: sleep, args: ['{marker}']}}")
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", str(spec), "-t", str(tmp_path / "t")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def wrapper() -> psutil.Process | None:
            for candidate in psutil.process_iter(["cmdline"]):
                if marker in " ".join(candidate.info["cmdline"] or []):
                    return candidate.parent()
            return None
        found = wait_for(wrapper, 30, "the wrapper")
        agent = found.parent()
        # The run's agent (started as its warm interpreter): a child of `gator run`, on agent.sock.
        assert agent.ppid() == proc.pid
        assert any(c.laddr and c.laddr.endswith("agent.sock") for c in agent.net_connections(kind="unix"))
        assert found.memory_full_info().uss < 20 * 1024 * 1024
    finally:
        proc.terminate()
        proc.wait(timeout=units(30))


def test_a_hundred_thousand_lines_are_all_kept_in_order(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, "!Job {id: seq, command: seq, args: [100000]}")
    assert node(tree, "root.seq")["messages"]["info"] == 100000
    lines = logs(tracking, "root.seq")
    assert lines == [str(i) for i in range(1, 100001)]


def test_commands_are_not_shell_strings(tmp_path: Path):
    spec = """!Job {id: j, command: printf, args: ['%s|', 'two words', '$(id)', '; echo hacked', "it's", '*']}"""
    _, tracking, _ = run_spec(tmp_path, spec)
    assert logs(tracking, "root.j") == ["two words|$(id)|; echo hacked|it's|*|"]


def test_many_tiers_start_at_once(tmp_path: Path):
    """Every tier binds its own port (port 0, read back): thirty at once do not collide."""
    groups = "".join(f"  - !JobGroup {{id: g{i}, jobs: [!Job {{command: 'true'}}]}}\n" for i in range(30))
    _, _, tree = run_spec(tmp_path, f"!JobGroup\n  id: top\n  jobs:\n{groups}", "-a", "concurrency=30")
    assert tree["result"] == "pass" and tree["jobs"]["passed"] == 30


def test_metrics_are_rolled_up_with_statistics(tmp_path: Path):
    spec = """
!JobGroup
  id: top
  jobs:
  - !Job {id: a, command: sleep, args: [0.1]}
  - !JobGroup {id: g, jobs: [!Job {id: b, command: sleep, args: [0.3]}, !Job {id: c, command: 'true'}]}
"""
    _, _, tree = run_spec(tmp_path, spec)
    wall = tree["metrics"]["wall_time"]
    assert wall["count"] == 3  # three jobs; the groups are not counted
    assert wall["min"] < 0.1 <= wall["mean"] < wall["max"] and wall["max"] >= 0.3
    assert abs(wall["sum"] - sum(node(tree, p)["metrics"]["wall_time"] for p in
                                 ("top.a", "top.g.b", "top.g.c"))) < 1e-6
    assert tree["jobs"]["total"] == 3 and node(tree, "top.g")["jobs"]["total"] == 2


def test_nested_array_indices_are_all_available(tmp_path: Path):
    spec = """
!JobArray
  id: outer
  repeats: 2
  jobs:
  - !JobArray
      id: inner
      repeats: 3
      jobs:
      - !Job
          id: show
          command: sh
          args: [-c, 'echo $GATOR_ARRAY_INDEX_OUTER/$GATOR_ARRAY_INDEX_INNER $GATOR_ARRAY_INDEX $GATOR_ARRAY_INDICES']
"""
    _, tracking, _ = run_spec(tmp_path, spec)
    assert logs(tracking, "outer.inner_1.show_2") == ["1/2 2 1,2"]
    assert logs(tracking, "outer.inner_0.show_1") == ["0/1 1 0,1"]
