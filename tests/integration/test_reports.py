"""JUnit reports, filters of `gator show`, seeds, and reruns of what did not pass."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from helpers import gator, logs, node, run_spec, write

TREE = """
!JobGroup
  id: top
  jobs:
  - !Job {id: build, command: sh, args: [-c, 'echo compiling; test -f fixed || { echo "broken: missing fixed" >&2; exit 1; }']}
  - !JobArray
      id: tests
      repeats: 3
      on_pass: [build]
      jobs:
      - !Job {id: t, command: sh, args: [-c, 'echo seed $GATOR_SEED']}
  - !Job {id: docs, command: echo, args: [docs]}
  - !JobArray
      id: flaky
      repeats: 3
      jobs:
      - !Job {id: f, command: sh, args: [-c, 'test -f fixed || test $GATOR_ARRAY_INDEX != 1']}
"""


def test_junit_report_of_a_run_and_of_a_past_run(tmp_path: Path):
    junit = tmp_path / "report.xml"
    _, tracking, tree = run_spec(tmp_path, TREE, "--junit", str(junit), check=1)
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuites"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("8", "2", "0", "3")
    cases = {f"{c.get('classname')}.{c.get('name')}": c for c in suite.iter("testcase")}
    assert sorted(cases) == sorted(["top.build", "top.docs", *(f"top.tests.t_{i}" for i in range(3)),
                                    *(f"top.flaky.f_{i}" for i in range(3))])
    failure = cases["top.build"].find("failure")
    assert failure is not None and failure.get("message") == "exit code 1; 1 error message (limit 0)"
    assert failure.text == "broken: missing fixed"  # the job's first error messages
    assert cases["top.tests.t_0"].find("skipped").get("message") == "on_pass: 'build' failed"
    assert float(cases["top.docs"].get("time")) > 0
    assert f"log: {tracking / 'docs' / 'messages.log'}" in cases["top.docs"].find("system-out").text
    again = tmp_path / "again.xml"
    gator("show", tracking, "--junit", again, check=0)
    assert ET.parse(again).getroot().get("tests") == "8"


def test_show_filters_jobs_by_result(tmp_path: Path):
    _, tracking, _ = run_spec(tmp_path, TREE, check=1)
    failed = json.loads(gator("show", tracking, "--failed", "--json", check=0).stdout)
    assert [j["path"] for j in failed] == ["top.build", "top.flaky.f_1"]
    skipped = json.loads(gator("show", tracking, "--result", "skipped", "--json", check=0).stdout)
    assert [j["path"] for j in skipped] == [f"top.tests.t_{i}" for i in range(3)]
    text = gator("show", tracking, "--failed", check=0).stdout
    assert "FAIL      top.build" in text and f"log: {tracking / 'build' / 'messages.log'}" in text
    proc = gator("show", tracking, "--result", "good", check=2)
    assert "unknown result 'good'" in proc.stderr


def test_seeds_are_reproducible_and_shown(tmp_path: Path):
    spec = "!JobArray\n  id: a\n  repeats: 3\n  jobs:\n  - !Job {id: s, command: sh, args: [-c, 'echo $GATOR_SEED']}\n"
    _, first, tree1 = run_spec(tmp_path, spec, "--seed", "7")
    _, second, tree2 = run_spec(tmp_path, spec, "--seed", "7")
    _, third, tree3 = run_spec(tmp_path, spec, "--seed", "8")
    seeds1 = [int(logs(first, f"a.s_{i}")[0]) for i in range(3)]
    assert seeds1 == [int(logs(second, f"a.s_{i}")[0]) for i in range(3)]
    assert len(set(seeds1)) == 3  # each path its own seed
    assert seeds1 != [int(logs(third, f"a.s_{i}")[0]) for i in range(3)]
    assert [node(tree1, f"a.s_{i}")["seed"] for i in range(3)] == seeds1
    _, fourth, tree4 = run_spec(tmp_path, spec)  # no --seed: random, and recorded
    shown = node(tree4, "a.s_0")["seed"]
    assert shown == int(logs(fourth, "a.s_0")[0])
    assert str(shown) in gator("show", fourth, check=0).stdout


def test_rerun_runs_what_did_not_pass_and_carries_the_rest(tmp_path: Path):
    _, first, tree = run_spec(tmp_path, TREE, "--seed", "11", check=1)
    (tmp_path / "fixed").write_text("")
    second = tmp_path / "second"
    proc = gator("rerun", first, "--failed", "--tracking", second, cwd=tmp_path, check=0)
    assert f"running again 5 jobs of {first}" in proc.stdout  # build, flaky.f_1 and the 3 skipped tests
    again = json.loads(gator("show", second, "--json", check=0).stdout)
    assert again["result"] == "pass" and again["jobs"]["passed"] == 8
    docs = node(again, "top.docs")
    assert docs["reason"] == f"passed in {first / 'docs'} (not run again)"
    assert docs["started"] == node(tree, "top.docs")["started"]  # carried over, not run
    assert logs(second, "top.docs") == ["docs"]  # its records are reachable from the new run
    for i in range(3):
        assert node(again, f"top.tests.t_{i}")["seed"] == node(tree, f"top.tests.t_{i}")["seed"]
    assert logs(second, "top.tests.t_1") == [f"seed {node(tree, 'top.tests.t_1')['seed']}"]
    assert "carried over" not in proc.stdout  # carried jobs are quiet unless --verbose
    proc = gator("rerun", second, "--failed", cwd=tmp_path, check=2)
    assert "nothing to run again: every job of" in proc.stderr
    proc = gator("rerun", first, cwd=tmp_path, check=2)
    assert "say what to run again: --failed" in proc.stderr


def test_rerun_of_a_directory_that_is_not_a_run(tmp_path: Path):
    write(tmp_path / "x.txt", "")
    proc = gator("rerun", tmp_path, "--failed", check=2)
    assert f"{tmp_path} is not a Gator tracking directory" in proc.stderr


def test_rerun_runs_jobs_where_the_first_run_did(tmp_path: Path):
    """Jobs run in the directory the first run was started in, wherever the rerun starts."""
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "project" / "s.yaml", "!JobGroup\n  jobs:\n  - !Job {id: here, command: sh, args: [-c, 'pwd; test -f ok']}\n")
    gator("run", "s.yaml", "-t", tmp_path / "first", cwd=tmp_path / "project", check=1)
    (tmp_path / "project" / "ok").write_text("")
    gator("rerun", tmp_path / "first", "--failed", "-t", tmp_path / "second", cwd=tmp_path / "elsewhere", check=0)
    assert logs(tmp_path / "second", "root.here") == [str(tmp_path / "project")]


def test_the_run_seed_is_shown(tmp_path: Path):
    proc, _, tree = run_spec(tmp_path, "!Job {command: 'true'}", "--seed", "1234")
    assert "seed 1234;" in proc.stdout
    assert tree["seed"] == 1234


def test_show_streams_the_tree_it_would_load(tmp_path: Path):
    """`gator show` reads the stores as a stream (10^5 jobs are never held at once): what it
    prints must be the tree load_results builds, unstarted arrays (from the spec) included."""
    import io

    from gator_core.report.show import print_tree
    from gator_core.store.readback import load_results

    _, tracking, _ = run_spec(tmp_path, TREE, check=1)
    root = load_results(tracking)
    proc = gator("show", tracking, "--json", check=0)
    assert json.loads(proc.stdout) == json.loads(json.dumps(root.to_json()))
    job_lines = [line for line in proc.stdout.splitlines() if '"kind": "job"' in line]
    assert len(job_lines) == 8  # one line per job
    assert all(json.loads(line.strip().rstrip(","))["kind"] == "job" for line in job_lines)
    expected = io.StringIO()
    print_tree(root, expected)
    assert gator("show", tracking, check=0).stdout == expected.getvalue()
    assert "└─ t_2" in expected.getvalue() and "├─ t_0" in expected.getvalue()
