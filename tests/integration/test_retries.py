"""Retries on the local scheduler: what is worth a retry (exit codes, a message, lost,
timeout; by default only lost), every attempt kept, the final one deciding, and how
show, --json and JUnit say how many attempts a job took."""

from __future__ import annotations

from pathlib import Path

from helpers import gator, logs, node, run_spec, write

COUNTER = "n=$(cat {name} 2>/dev/null || echo 0); echo $((n+1)) > {name}; "


def flaky(name: str, fails: int, failing: str) -> str:
    """A shell line that fails (with ``failing``) on its first ``fails`` attempts."""
    return COUNTER.format(name=name) + f'echo "attempt $((n+1))"; if [ $n -lt {fails} ]; then {failing}; fi'


def test_what_is_worth_a_retry_is_retried_and_the_last_attempt_decides(tmp_path: Path) -> None:
    spec = f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: code, command: sh, args: [-c, '{flaky("c1", 1, "exit 3")}'], retries: 2, retry_on: [{{exit: [3]}}]}}
  - !Job {{id: lic, command: sh, args: [-c, '{flaky("c2", 2, "echo Unable to checkout license vcs >&2; exit 1")}'],
          retries: 2, retry_on: [{{message: "Unable to checkout license"}}]}}
  - !Job {{id: lost, command: sh, args: [-c, '{flaky("c3", 1, "kill -9 $PPID")}; sleep 0.2'], retries: 1}}
  - !Job {{id: slow, command: sh, args: [-c, '{flaky("c4", 1, "sleep 30")}'], timeout: 1s, retries: 1,
          retry_on: [timeout]}}
  - !Job {{id: other, command: sh, args: [-c, '{flaky("c5", 1, "exit 4")}'], retries: 2, retry_on: [{{exit: [3]}}]}}
  - !Job {{id: default, command: sh, args: [-c, '{flaky("c6", 1, "exit 3")}'], retries: 2}}
  - !Job {{id: gives_up, command: sh, args: [-c, 'exit 3'], retries: 2, retry_on: [{{exit: [3]}}]}}
  - !Job {{id: after, command: 'true', on_pass: [code, lic]}}
"""
    proc, tracking, tree = run_spec(tmp_path, spec, "--grace", "1", "--junit", str(tmp_path / "j.xml"), check=1)
    for path, attempts in (("code", 2), ("lic", 3), ("lost", 2), ("slow", 2)):
        job = node(tree, f"top.{path}")
        assert job["result"] == "pass" and len(job["attempts"]) == attempts - 1, (path, job)
        assert logs(tracking, f"top.{path}") == [f"attempt {attempts}"]  # the final attempt's own messages
        for number, earlier in enumerate(job["attempts"], 1):
            assert earlier["attempt"] == number and Path(earlier["tracking"]).name == f"{path}.attempt-{number}"
            assert Path(earlier["tracking"], "db.sqlite").exists()  # every attempt kept
    assert [a["result"] for a in node(tree, "top.lost")["attempts"]] == ["lost"]
    assert [a["result"] for a in node(tree, "top.slow")["attempts"]] == ["timeout"]
    assert node(tree, "top.lic")["attempts"][0]["retried_for"] == "a message matched 'Unable to checkout license'"
    for path in ("other", "default"):  # exit 4 is not in the list; by default only lost is retried
        assert node(tree, f"top.{path}")["result"] == "fail" and node(tree, f"top.{path}")["attempts"] is None
    gives_up = node(tree, "top.gives_up")
    assert gives_up["result"] == "fail" and len(gives_up["attempts"]) == 2  # 3 attempts in all
    assert node(tree, "top.after")["result"] == "pass"  # it waited for the final attempts
    assert "PASS  top.lic" in proc.stdout and "(attempt 3)" in proc.stdout
    shown = gator("show", tracking, check=0).stdout
    assert "passed on attempt 3" in shown and "after attempt 3" in shown
    assert '<property name="attempts" value="3"/>' in (tmp_path / "j.xml").read_text()


def test_retry_mistakes_are_spec_errors_with_their_place(tmp_path: Path) -> None:
    spec = write(tmp_path / "bad.yaml", """!JobGroup
  jobs:
  - !Job {id: a, command: x, retries: -1}
  - !Job {id: b, command: x, retries: 2, retry_on: [sometimes]}
  - !Job {id: c, command: x, retries: 2, retry_on: [{message: "(unclosed"}]}
  - !Job {id: d, command: x, retry_on: [lost]}
""")
    err = gator("run", spec, cwd=tmp_path, check=2).stderr
    assert "bad.yaml:3:" in err and "'retries' of !Job must be a whole number" in err
    assert "bad.yaml:4:" in err and "must be lost, timeout, {exit: [CODES]} or {message: REGEX}" in err
    assert "bad.yaml:5:" in err and "is not a regular expression" in err
    assert "bad.yaml:6:" in err and "'retry_on' without 'retries'" in err


def test_an_attempt_taken_for_lost_that_comes_back_does_not_pass_for_the_next(tmp_path: Path) -> None:
    """Attempt 1's wrapper is frozen (SIGSTOP) until its tier calls it lost and starts
    attempt 2, then thawed while attempt 2 runs: its end must not be taken for attempt
    2's, and its job must not outlive it."""
    spec = """
!JobGroup
  id: top
  jobs:
  - !Job
    id: slow
    retries: 1
    command: sh
    args: [-c, 'echo "attempt $GATOR_ATTEMPT"; if [ "$GATOR_ATTEMPT" = 1 ]; then echo $$$$ > job1.pid;
                (sleep 0.3; kill -STOP $PPID; sleep 4; kill -CONT $PPID) & sleep 30; else sleep 6; fi']
"""
    proc, tracking, tree = run_spec(tmp_path, spec, "--interval", "0.5", "--grace", "10")
    slow = node(tree, "top.slow")
    assert slow["result"] == "pass" and [a["result"] for a in slow["attempts"]] == ["lost"]
    assert logs(tracking, "top.slow") == ["attempt 2"]
    import psutil

    first_job = int((tmp_path / "job1.pid").read_text())
    assert not psutil.pid_exists(first_job) or psutil.Process(first_job).status() == psutil.STATUS_ZOMBIE
