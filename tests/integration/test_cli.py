"""The command line: exit codes, output, tracking directories, show, logs, schema, schedulers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import gator, logs, node, run_spec, units, wait_for, write

TREE = """
!JobGroup
  id: top
  jobs:
  - !Job {id: ok, command: echo, args: [fine]}
  - !Job {id: broken, command: sh, args: [-c, 'echo bad >&2; exit 4']}
"""


def test_exit_codes_and_console_lines(tmp_path: Path):
    proc, tracking, _ = run_spec(tmp_path, TREE, check=1)
    out = proc.stdout
    assert "START top.ok" in out and "PASS  top.ok" in out
    assert "FAIL  top.broken" in out and "exit code 4" in out
    summary = out[out.index("\nFAIL: "):]
    assert "2 jobs, 1 passed, 1 failed" in summary
    assert f"log: {tracking / 'broken' / 'messages.log'}" in summary
    assert (tracking / "broken" / "messages.log").read_text().endswith("[ERROR   ] bad\n")
    assert f"Tracking: {tracking}" in summary
    run_spec(tmp_path, "!Job {command: 'true'}", check=0)


def test_quiet_prints_only_the_summary(tmp_path: Path):
    proc, _, _ = run_spec(tmp_path, TREE, "--quiet", check=1)
    assert "START" not in proc.stdout and "PASS  top.ok" not in proc.stdout
    assert proc.stdout.lstrip().startswith("FAIL: 2 jobs")


def test_bad_spec_exits_2_with_every_error_and_no_traceback(tmp_path: Path):
    write(tmp_path / "bad.yaml", "!JobGroup\n  jobs:\n  - !Job {comand: x}\n  - !Job {command: y, on_pass: [q]}\n")
    proc = gator("run", "bad.yaml", cwd=tmp_path, check=2)
    assert "bad.yaml:3:11: error: unknown field 'comand' in !Job; did you mean 'command'?" in proc.stderr
    assert "bad.yaml:4:33: error: root.T1: unknown dependency 'q' in on_pass" in proc.stderr
    assert "bad.yaml:3:5: error: !Job needs a 'command'" in proc.stderr
    assert "3 errors in spec; nothing was run" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "tracking").exists()


def test_bad_usage_exits_2(tmp_path: Path):
    spec = write(tmp_path / "s.yaml", "!Job {command: 'true'}")
    proc = gator("run", spec, "--scheduler", "lokal", cwd=tmp_path, check=2)
    assert "no scheduler called 'lokal'; did you mean 'local'?" in proc.stderr
    proc = gator("run", tmp_path / "missing.yaml", cwd=tmp_path, check=2)
    assert "missing.yaml: error: no such spec file" in proc.stderr
    proc = gator("run", spec, "--interval", "0", cwd=tmp_path, check=2)
    assert "--interval must be greater than zero" in proc.stderr
    proc = gator("frobnicate", cwd=tmp_path, check=2)
    assert "No such command" in proc.stderr


def test_a_used_tracking_directory_is_refused_and_left_alone(tmp_path: Path):
    """The seed system failed with 'database is locked' on a second run into the same directory."""
    spec = write(tmp_path / "s.yaml", "!Job {command: 'true'}")
    tracking = tmp_path / "t"
    gator("run", spec, "--tracking", tracking, cwd=tmp_path, check=0)
    before = sorted(p.name for p in tracking.iterdir())
    proc = gator("run", spec, "--tracking", tracking, cwd=tmp_path, check=2)
    assert f"tracking directory {tracking} already holds files" in proc.stderr
    assert sorted(p.name for p in tracking.iterdir()) == before


def test_default_tracking_directories_never_collide(tmp_path: Path):
    spec = write(tmp_path / "s.yaml", "!Job {command: 'true'}")
    procs = [subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", str(spec), "-q"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    assert [p.wait(timeout=units(60)) for p in procs] == [0, 0, 0]
    runs = list((tmp_path / "tracking").iterdir())
    assert len(runs) == 3


def test_show_json_contract(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, TREE, check=1)
    for item in (tree, node(tree, "top.ok")):
        for key in ("id", "path", "kind", "result", "exit_code", "messages", "metrics", "children"):
            assert key in item, key
        assert set(item["messages"]) == {"debug", "info", "warning", "error", "critical"}
    assert tree["kind"] == "group" and tree["result"] == "fail"
    broken = node(tree, "top.broken")
    assert (broken["kind"], broken["result"], broken["exit_code"]) == ("job", "fail", 4)
    assert broken["messages"]["error"] == 1
    assert broken["metrics"]["wall_time"] > 0
    assert tree["jobs"]["total"] == 2  # the group itself is not counted as a job
    text = gator("show", tracking, check=0).stdout
    assert "broken" in text and "fail" in text and "exit code 4" in text
    # Where each job ran: the scheduler's id (a pid here) and the host.
    import socket

    assert broken["host"] == socket.gethostname() and broken["native_id"].isdigit()
    assert f"{broken['native_id']} on {broken['host']}" in text


def test_show_and_logs_take_a_directory_of_runs_for_its_newest(tmp_path: Path):
    write(tmp_path / "first.yaml", TREE)
    write(tmp_path / "second.yaml", TREE.replace("exit 4", "exit 5"))
    gator("run", "first.yaml", cwd=tmp_path, check=1)
    time.sleep(1.1)  # run directories are named by the second they start in
    gator("run", "second.yaml", cwd=tmp_path, check=1)
    second = max((tmp_path / "tracking").iterdir())
    text = gator("show", cwd=tmp_path, check=0).stdout  # default: ./tracking
    assert "exit code 5" in text and "exit code 4" not in text
    text = gator("logs", tmp_path / "tracking", "top.broken", check=0).stdout
    assert "bad" in text
    assert gator("show", tmp_path / "tracking", "--json", check=0).stdout == \
        gator("show", second, "--json", check=0).stdout


def test_show_and_logs_while_the_run_is_going(tmp_path: Path):
    """Stores are committed at least once a second and readable while the run goes on."""
    spec = write(tmp_path / "s.yaml",
                 "!Job {id: slow, command: sh, args: [-c, 'echo first; sleep 30; echo never']}")
    tracking = tmp_path / "t"
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", str(spec), "-t", str(tracking)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (tracking / "slow" / "db.sqlite").exists(), 30, "the job's store")
        def first_line() -> bool:
            out = gator("logs", tracking, "root.slow").stdout
            return out.endswith("[INFO    ] first\n")

        wait_for(first_line, 10, "the first line in the store")
        tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
        assert node(tree, "root.slow")["result"] == "running"
        assert tree["result"] == "running"
    finally:
        proc.terminate()
        proc.wait(timeout=units(30))


def test_logs_filters_and_formats(tmp_path: Path):
    _, tracking, _ = run_spec(tmp_path, TREE, check=1)
    text = gator("logs", tracking, "top.broken", check=0).stdout
    assert text.endswith("[ERROR   ] bad\n")
    assert logs(tracking, "broken") == ["bad"]  # the root's id may be left out
    assert logs(tracking, "top.ok", "--severity", "error") == []
    proc = gator("logs", tracking, "top.nothing", check=2)
    assert "no node 'top.nothing'" in proc.stderr
    proc = gator("logs", tracking, "top.ok", "--severity", "loud", check=2)
    assert "unknown severity 'loud'" in proc.stderr
    proc = gator("show", tmp_path / "nowhere", check=2)
    assert "not a Gator tracking directory" in proc.stderr


def test_schema_is_json(tmp_path: Path):
    schema = json.loads(gator("schema", check=0).stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"Job", "JobGroup", "JobArray", "Cores", "Memory", "License"} <= set(schema["$defs"])


def test_schedulers_lists_plugins_and_their_package(tmp_path: Path):
    out = gator("schedulers", check=0).stdout
    line = next(line for line in out.splitlines() if line.startswith("local "))
    assert "gator-runner" in line


def test_runs_from_a_virtualenv_that_is_not_on_path(tmp_path: Path):
    """The seed system started children with whatever python3 was first on PATH, and hung."""
    spec = write(tmp_path / "s.yaml", "!Job {id: j, command: /bin/echo, args: [ok]}")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gator_core.cli", "run", str(spec), "-t", str(tmp_path / "t")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=units(60))
    assert proc.returncode == 0, proc.stderr
    assert logs(tmp_path / "t", "root.j") == ["ok"]


def test_progress_without_a_terminal_falls_back_to_lines(tmp_path: Path):
    proc, _, _ = run_spec(tmp_path, TREE, "--progress", check=1)
    assert "PASS  top.ok" in proc.stdout and "FAIL: 2 jobs" in proc.stdout


def test_interval_is_respected_by_heartbeats(tmp_path: Path):
    """With a short interval a healthy long job is not mistaken for a lost one."""
    start = time.monotonic()
    _, _, tree = run_spec(tmp_path, "!Job {id: s, command: sleep, args: [2]}", "--interval", "0.3")
    assert node(tree, "root.s")["result"] == "pass"
    assert time.monotonic() - start >= 2


def test_a_scheduler_that_cannot_start_stops_the_run_and_says_why(tmp_path: Path):
    """Nothing runs (exit 2), and the tracking directory records why for `gator show`."""
    write(tmp_path / "s.yaml", TREE)
    tracking = tmp_path / "t"
    proc = gator("run", "s.yaml", "-t", tracking, "--scheduler", "ssh", "--sched-arg",
                 "host=nobody@127.0.0.1:1,slots=1", cwd=tmp_path, check=2)
    assert "the ssh scheduler did not start" in proc.stderr and "127.0.0.1:1" in proc.stderr
    assert "cannot connect" in proc.stderr and "Traceback" not in proc.stderr
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert tree["result"] == "fail" and "did not start" in tree["reason"]
    for path in ("top.ok", "top.broken"):
        item = node(tree, path)
        assert item["result"] == "lost" and item["reason"].startswith("not started: the ssh scheduler"), item
    assert tree["jobs"]["lost"] == 2 and tree["jobs"]["pending"] == 0
    assert "0/2 passed, 2 lost" in gator("show", tracking, check=0).stdout
