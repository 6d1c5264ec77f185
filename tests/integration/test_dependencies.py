"""Dependencies between siblings: all conditions must hold; a condition that cannot hold skips."""

from __future__ import annotations

from pathlib import Path

from helpers import node, run_spec


def test_pass_fail_done_and_skips_that_cascade(tmp_path: Path):
    spec = """
!JobGroup
  id: top
  jobs:
  - !Job {id: good, command: "true"}
  - !Job {id: bad, command: "false"}
  - !Job {id: after_good, command: "true", on_pass: [good]}
  - !Job {id: needs_bad_to_pass, command: "true", on_pass: [bad]}
  - !Job {id: triage, command: "true", on_fail: [bad]}
  - !Job {id: wrong_triage, command: "true", on_fail: [good]}
  - !Job {id: both, command: "true", on_pass: [good], on_fail: [bad]}
  - !Job {id: chained, command: "true", on_pass: [needs_bad_to_pass]}
  - !Job {id: cleanup, command: "true", on_done: [bad, chained]}
"""
    _, _, tree = run_spec(tmp_path, spec, check=1)
    result = {child["id"]: child["result"] for child in tree["children"]}
    assert result == {"good": "pass", "bad": "fail", "after_good": "pass", "needs_bad_to_pass": "skipped",
                      "triage": "pass", "wrong_triage": "skipped", "both": "pass", "chained": "skipped",
                      "cleanup": "pass"}
    assert node(tree, "top.chained")["reason"] == "on_pass: 'needs_bad_to_pass' did not run"


def test_skipped_jobs_alone_do_not_fail_the_run(tmp_path: Path):
    """In the seed system a skipped job made the whole run fail."""
    spec = """
!JobGroup
  jobs:
  - !Job {id: good, command: "true"}
  - !Job {id: only_on_failure, command: "true", on_fail: [good]}
"""
    _, _, tree = run_spec(tmp_path, spec, check=0)
    assert tree["result"] == "pass"
    assert tree["jobs"]["skipped"] == 1 and tree["jobs"]["passed"] == 1


def test_a_dependency_on_an_array_waits_for_every_element(tmp_path: Path):
    """The seed system looked only at the array's last element.  Here element 0
    fails late while the last one passes at once: the dependant must be skipped."""
    spec = """
!JobGroup
  jobs:
  - !JobArray
      id: arr
      repeats: 3
      jobs:
      - !Job {id: e, command: sh, args: [-c, 'if [ $GATOR_ARRAY_INDEX = 0 ]; then sleep 0.5; exit 1; fi']}
  - !Job {id: after_pass, command: "true", on_pass: [arr]}
  - !Job {id: after_fail, command: "true", on_fail: [arr]}
  - !Job {id: after_done, command: "true", on_done: [arr]}
"""
    _, _, tree = run_spec(tmp_path, spec, check=1)
    arr = node(tree, "root.arr")
    assert node(tree, "root.after_pass")["result"] == "skipped"
    for name in ("after_fail", "after_done"):
        job = node(tree, f"root.{name}")
        assert job["result"] == "pass"
        assert job["started"] >= max(child["stopped"] for child in arr["children"])


def test_dependencies_inside_an_array_hold_per_repetition(tmp_path: Path):
    spec = """
!JobArray
  id: arr
  repeats: 3
  jobs:
  - !Job {id: build, command: sh, args: [-c, 'test $GATOR_ARRAY_INDEX != 1']}
  - !Job {id: run, command: "true", on_pass: [build]}
"""
    _, _, tree = run_spec(tmp_path, spec, check=1)
    assert [node(tree, f"arr.run_{i}")["result"] for i in range(3)] == ["pass", "skipped", "pass"]


def test_dependency_on_a_job_inside_a_sibling_group(tmp_path: Path):
    """`on_pass: [g.slow]` waits for that job only, not for the whole group."""
    spec = """
!JobGroup
  jobs:
  - !JobGroup
      id: g
      jobs:
      - !Job {id: quick, command: "true"}
      - !Job {id: slow, command: sleep, args: [1.5]}
  - !Job {id: after_quick, command: "true", on_pass: [g.quick]}
  - !Job {id: after_g, command: "true", on_pass: [g]}
"""
    _, _, tree = run_spec(tmp_path, spec)
    slow = node(tree, "root.g.slow")
    assert node(tree, "root.after_quick")["started"] < slow["stopped"]
    assert node(tree, "root.after_g")["started"] >= slow["stopped"]


def test_dependency_on_a_job_two_levels_down(tmp_path: Path):
    """`on_pass: [g.h.j]` waits for j, two tiers down, and sees that it passed."""
    spec = """
!JobGroup
  jobs:
  - !JobGroup
      id: g
      jobs:
      - !JobGroup
          id: h
          jobs:
          - !Job {id: j, command: "true"}
          - !Job {id: other, command: "false"}
  - !Job {id: after_j, command: "true", on_pass: [g.h.j]}
  - !Job {id: after_other, command: "true", on_fail: [g.h.other]}
  - !Job {id: after_h, command: "true", on_pass: [g.h]}
"""
    _, _, tree = run_spec(tmp_path, spec, check=1)
    assert node(tree, "root.after_j")["result"] == "pass"
    assert node(tree, "root.after_other")["result"] == "pass"
    assert node(tree, "root.after_h")["result"] == "skipped"
    assert node(tree, "root.after_h")["reason"] == "on_pass: 'g.h' failed"


def test_a_group_with_a_skipped_job_does_not_satisfy_on_pass(tmp_path: Path):
    spec = """
!JobGroup
  jobs:
  - !JobGroup
      id: g
      jobs:
      - !Job {id: a, command: "true"}
      - !Job {id: b, command: "true", on_fail: [a]}
  - !Job {id: after, command: "true", on_pass: [g]}
  - !Job {id: cleanup, command: "true", on_done: [g]}
"""
    _, _, tree = run_spec(tmp_path, spec, check=0)
    assert node(tree, "root.g")["result"] == "pass"
    assert node(tree, "root.after")["reason"] == "on_pass: 'g' did not run every job"
    assert node(tree, "root.cleanup")["result"] == "pass"
