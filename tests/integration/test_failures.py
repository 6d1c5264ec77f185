"""Children that die, go silent or are interrupted: reported with the reason, never a hang."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import psutil
import pytest
from helpers import gator, gator_processes, node, units, wait_for, write
from killed_run import kill_and_check, killed_run


def start_run(tmp_path: Path, spec_text: str, *args: str, **popen: object) -> tuple[subprocess.Popen[str], Path]:
    spec = write(tmp_path / "spec.yaml", spec_text)
    tracking = tmp_path / "t"
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", str(spec), "--tracking",
                             str(tracking), *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)  # type: ignore[call-overload]
    return proc, tracking


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=units(timeout))
    return proc.returncode, out, err


def find_job(marker: str) -> psutil.Process:
    def look() -> psutil.Process | None:
        for candidate in psutil.process_iter(["cmdline"]):
            if marker in " ".join(candidate.info["cmdline"] or []):
                return candidate
        return None
    return wait_for(look, 30, f"a job running {marker}")


def show(tracking: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "gator_core.cli", "show", str(tracking), "--json"],
                         capture_output=True, text=True, check=True, timeout=units(30)).stdout
    return json.loads(out)


def test_a_wrapper_killed_before_reporting_is_lost_with_the_reason(tmp_path: Path):
    """The seed system's parent hung forever when a child died before reporting."""
    marker = f"{1000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    proc, tracking = start_run(tmp_path, f"!JobGroup\n  jobs:\n  - !Job {{id: victim, command: sleep, "
                               f"args: ['{marker}']}}\n  - !Job {{id: fine, command: 'true'}}\n")
    job = find_job(marker)
    wrapper = job.parent()
    wrapper.kill()
    code, out, _ = finish(proc)
    assert code == 1
    victim = node(show(tracking), "root.victim")
    assert victim["result"] == "lost"
    assert victim["reason"].startswith("process ended without a final report (killed by SIGKILL)")
    assert node(show(tracking), "root.fine")["result"] == "pass"
    assert "LOST  root.victim" in out
    wait_for(lambda: not gator_processes(marker), 10, "the orphaned job to be stopped")


def test_a_silent_child_is_lost_within_two_heartbeat_intervals(tmp_path: Path):
    marker = f"{2000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    proc, tracking = start_run(tmp_path, f"!Job {{id: frozen, command: sleep, args: ['{marker}']}}",
                               "--interval", "0.5", "--grace", "0.5")
    wrapper = find_job(marker).parent()
    wrapper.suspend()  # alive, but it says nothing any more
    stopped_at = time.monotonic()
    code, _, _ = finish(proc, timeout=30)
    elapsed = time.monotonic() - stopped_at
    assert code == 1
    frozen = node(show(tracking), "root.frozen")
    assert frozen["result"] == "lost"
    assert frozen["reason"].startswith("no heartbeat for")
    assert elapsed < units(1.0) + 2 * 0.5 + 2.0  # two intervals, plus shutdown
    wait_for(lambda: not gator_processes(marker), 10, "the silent child and its job to be stopped")


def test_a_child_that_cannot_start_is_lost_with_its_own_words(tmp_path: Path):
    """A wrong interpreter for children must not hang the run (it did in the seed system)."""
    bogus = write(tmp_path / "fakepython", "#!/bin/sh\necho 'this interpreter cannot run gator' >&2\nexit 9\n")
    bogus.chmod(0o755)
    proc, tracking = start_run(tmp_path, "!Job {id: j, command: 'true'}", "--sched-arg", f"python={bogus}")
    code, _, _ = finish(proc, timeout=30)
    assert code == 1
    job = node(show(tracking), "root.j")
    assert job["result"] == "lost"
    assert "exit code 9" in job["reason"] and "this interpreter cannot run gator" in job["reason"]


@pytest.mark.parametrize("sig, name", [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM"),
                                       (signal.SIGHUP, "SIGHUP")])  # SIGHUP: the terminal closed
def test_interrupt_stops_everything_and_keeps_the_results(tmp_path: Path, sig: int, name: str):
    marker = f"{3000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    spec = f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: quick, command: echo, args: [done]}}
  - !Job {{id: stubborn, command: sh, args: [-c, "trap '' TERM; sleep {marker}"], on_pass: [quick]}}
  - !JobGroup
      id: g
      jobs:
      - !Job {{id: daemon, command: sh, args: [-c, "setsid sleep {marker} & sleep {marker}"]}}
  - !Job {{id: never, command: 'true', on_pass: [stubborn]}}
"""
    # A suite started under nohup passes SIGHUP ignored to its children, and gator run then
    # rightly keeps ignoring it: this run must start as if from a terminal.
    proc, tracking = start_run(tmp_path, spec, "--grace", "1", "--junit", str(tmp_path / "report.xml"),
                               preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    wait_for(lambda: len(gator_processes(marker)) >= 3, 30, "jobs to start")
    proc.send_signal(sig)
    code, out, _ = finish(proc, timeout=30)
    assert code == 130
    tree = show(tracking)
    assert node(tree, "top.quick")["result"] == "pass"  # results so far are kept
    assert node(tree, "top.stubborn")["result"] in ("fail", "lost")
    assert f"interrupted by {name}" in node(tree, "top.stubborn")["reason"]
    assert node(tree, "top.never")["result"] == "cancelled"  # it never started
    assert node(tree, "top.never")["reason"] == f"not started: interrupted by {name}"
    assert "INTERRUPTED" in out and ", 1 cancelled in " in out  # the summary line counts it apart
    assert tree["jobs"]["cancelled"] == 1 and tree["jobs"]["skipped"] == 0
    assert "never      job    cancelled" in gator("show", tracking, check=0).stdout
    cases = {case.get("name"): case for case in ElementTree.parse(tmp_path / "report.xml").iter("testcase")}
    skipped = cases["never"].find("skipped")
    assert skipped is not None and skipped.get("message") == f"cancelled: not started: interrupted by {name}"
    assert gator_processes(marker) == [], "a process of the run outlived it"
    assert gator_processes(str(tracking)) == []


def test_the_agent_turns_away_a_peer_without_the_runs_token(tmp_path: Path):
    """Anyone who can reach the agent's socket must still hold the token to launch anything."""
    marker = f"{6000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    proc, tracking = start_run(tmp_path, f"!Job {{id: j, command: sh, args: [-c, 'sleep 1.5 # {marker}']}}")
    find_job(marker)
    # The agent is the child listening on agent.sock (it may have started as the run's
    # warm interpreter, `python -m gator_core.runtime.warm`).
    path = next(c.laddr for child in psutil.Process(proc.pid).children()
                for c in child.net_connections(kind="unix") if c.laddr and c.laddr.endswith("agent.sock"))
    with socket.socket(socket.AF_UNIX) as peer:
        peer.settimeout(units(10))
        peer.connect(path)
        peer.sendall(json.dumps({"op": "hello", "token": "not the token"}).encode() + b"\n")
        try:
            peer.sendall(json.dumps({"op": "launch", "requests": []}).encode() + b"\n")
        except BrokenPipeError:
            pass  # the agent may have hung up on the bad hello already: the refusal below is what counts
        answer = peer.makefile("rb").read()  # the agent answers, then hangs up
    assert [json.loads(line) for line in answer.splitlines()] == [{"ev": "error", "reason": "authentication failed"}]
    code, out, _ = finish(proc)
    assert code == 0, out
    assert node(show(tracking), "root.j")["result"] == "pass"


def test_a_run_started_under_nohup_ignores_sighup(tmp_path: Path):
    marker = f"{5000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    proc, tracking = start_run(tmp_path, f"!Job {{id: j, command: sh, args: [-c, 'echo started; sleep 2 # {marker}']}}",
                               preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    find_job(marker)
    proc.send_signal(signal.SIGHUP)
    code, out, _ = finish(proc, timeout=30)
    assert code == 0, out
    assert node(show(tracking), "root.j")["result"] == "pass"


def test_the_run_ends_even_when_killed_hard_and_the_store_keeps_what_was_done(tmp_path: Path):
    """The seed system kept everything in one open transaction: a crash lost it all, and
    `gator show` went on calling a dead run running."""
    with killed_run(tmp_path) as scenario:
        kill_and_check(scenario, [], gator_processes)


def test_a_run_outlives_the_pipe_it_prints_to(tmp_path: Path):
    """`gator run ... | head -1`, or a terminal that goes away: the run goes on to the end."""
    proc, tracking = start_run(tmp_path, "!JobGroup\n  jobs:\n"
                               + "".join(f"  - !Job {{id: j{i}, command: sh, args: [-c, 'sleep 0.2']}}\n"
                                         for i in range(6)))
    assert proc.stdout is not None
    proc.stdout.readline()  # the first line, then the reader goes away
    proc.stdout.close()
    assert proc.wait(timeout=units(60)) == 0
    tree = show(tracking)
    assert tree["result"] == "pass" and tree["jobs"]["passed"] == 6
