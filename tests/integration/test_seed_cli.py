"""The seed system's command line: `gator SPEC`, options before SPEC, `python -m gator`, its option spellings."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import gator, logs, node, on_terminal, units, write

ONE = "!JobGroup\n  id: top\n  jobs:\n  - !Job {id: hi, command: echo, args: [hello]}\n"
# Two jobs that would overlap if they could: the second waits for a slot with concurrency=1.
TWO_SLOW = ("!JobGroup\n  id: top\n  jobs:\n"
            "  - !Job {id: a, command: sleep, args: ['0.6']}\n"
            "  - !Job {id: b, command: sleep, args: ['0.6']}\n")
NESTED = ("!JobGroup\n  id: top\n  jobs:\n"
          "  - !JobGroup\n      id: inner\n      jobs:\n      - !Job {id: hi, command: echo, args: [hello]}\n")
ONE_ERROR = "!Job {id: e, command: sh, args: [-c, 'echo bad >&2']}\n"


def python_m_gator(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m gator ...``, started in ``cwd`` so that only the installed package can answer."""
    return subprocess.run([sys.executable, "-m", "gator", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=units(60))


def run_settings(tracking: Path) -> dict[str, Any]:
    """The settings a run recorded in its top store (what its tiers were given)."""
    with sqlite3.connect(tracking / "db.sqlite") as db:
        (value,) = db.execute("SELECT value FROM attrs WHERE key = 'run'").fetchone()
    return json.loads(value)


def shown(tracking: Path) -> dict[str, Any]:
    return json.loads(gator("show", tracking, "--json", check=0).stdout)


def job_lines(stdout: str) -> list[str]:
    """The console's START/PASS/... lines without their time stamps and durations."""
    lines = []
    for line in stdout.splitlines():
        match = re.match(r"\[\d\d:\d\d:\d\d\] (\S+)\s+(\S+)", line)
        if match:
            lines.append(f"{match[1]} {match[2]}")
    return lines


# -- gator SPEC ------------------------------------------------------------------------------------

def test_spec_first_with_options_after_runs_it(tmp_path: Path):
    write(tmp_path / "job.yaml", ONE)
    proc = gator("job.yaml", "--tracking", "here", cwd=tmp_path, check=0)
    assert "PASS  top.hi" in proc.stdout and f"Tracking: {tmp_path / 'here'}" in proc.stdout
    assert logs(tmp_path / "here", "top.hi") == ["hello"]
    assert not (tmp_path / "tracking").exists()  # --tracking was obeyed, not the default


@pytest.mark.parametrize("options", [
    ["--tracking", "here", "--quiet"],
    ["--tracking=here", "-q"],
    ["-qt", "here"],
    ["-t", "here", "-slocal", "-q"],
    ["--seed", "-5", "-q", "-t", "here"],
], ids=["long", "long=value", "short-cluster", "attached-value", "negative-value"])
def test_options_before_the_spec_are_read_as_run_reads_them(tmp_path: Path, options: list[str]):
    """Each option's value is skipped when looking for SPEC, in every spelling the parser takes."""
    write(tmp_path / "job.yaml", ONE)
    proc = gator(*options, "job.yaml", cwd=tmp_path, check=0)
    assert "START" not in proc.stdout and proc.stdout.lstrip().startswith("PASS: 1 job")
    assert shown(tmp_path / "here")["result"] == "pass"


def test_scheduler_and_sched_args_before_the_spec(tmp_path: Path):
    write(tmp_path / "slow.yaml", TWO_SLOW)
    gator("--scheduler", "local", "--sched-arg", "concurrency=1", "-t", "t", "slow.yaml", cwd=tmp_path, check=0)
    settings = run_settings(tmp_path / "t")
    assert settings["scheduler"] == "local"
    assert str(settings["sched_options"]["concurrency"]) == "1"
    first, second = sorted((node(shown(tmp_path / "t"), f"top.{key}") for key in "ab"), key=lambda n: n["started"])
    assert second["started"] - first["started"] >= 0.5, "with one slot the second job waits for the first"
    # An option the scheduler does not know is caught in the seed form as in `gator run`.
    proc = gator("--scheduler", "lokal", "slow.yaml", cwd=tmp_path, check=2)
    assert "no scheduler called 'lokal'; did you mean 'local'?" in proc.stderr


def test_a_command_name_wins_over_a_file_of_that_name(tmp_path: Path):
    write(tmp_path / "schema", ONE)
    proc = gator("schema", cwd=tmp_path, check=0)
    assert json.loads(proc.stdout)["$schema"].startswith("https://json-schema.org/")
    assert not (tmp_path / "tracking").exists()


# -- python -m gator -------------------------------------------------------------------------------

def test_python_m_gator_runs_a_spec(tmp_path: Path):
    write(tmp_path / "job.yaml", ONE)
    proc = python_m_gator("job.yaml", "-t", "t", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert logs(tmp_path / "t", "top.hi") == ["hello"]
    write(tmp_path / "bad.yaml", ONE_ERROR)
    assert python_m_gator("bad.yaml", "-t", "t2", cwd=tmp_path).returncode == 1  # the run's exit code


def test_python_m_gator_help_and_subcommands(tmp_path: Path):
    proc = python_m_gator("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "Usage: gator " in proc.stdout
    assert "rerun" in proc.stdout and "schedulers" in proc.stdout
    # Brackets are not taken for markup: the seed form is spelled out whole.
    assert "'gator SPEC [options]' is 'gator run SPEC [options]'" in " ".join(proc.stdout.replace("│", " ").split())
    write(tmp_path / "job.yaml", ONE)
    python_m_gator("run", "job.yaml", "-t", "t", "-q", cwd=tmp_path)
    proc = python_m_gator("show", "t", "--json", cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["result"] == "pass"
    proc = python_m_gator("frobnicate", cwd=tmp_path)
    assert proc.returncode == 2 and "No such command 'frobnicate'" in proc.stderr


def test_the_gator_package_imports_nothing(tmp_path: Path):
    """`import gator` must not drag in Gator or typer: it only names the entry."""
    code = "import sys, gator; print(sorted(m for m in sys.modules if m.startswith(('gator_core', 'typer'))))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=units(30))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# -- the seed's option spellings ---------------------------------------------------------------------

def test_quiet_prints_only_the_summary(tmp_path: Path):
    write(tmp_path / "job.yaml", ONE)
    proc = gator("job.yaml", "--quiet", "-t", "t", cwd=tmp_path, check=0)
    assert proc.stdout.lstrip().startswith("PASS: 1 job, 1 passed")
    assert "START" not in proc.stdout and "Gator: running" not in proc.stdout
    loud = gator("job.yaml", "-t", "t2", cwd=tmp_path, check=0)
    assert "START top.hi" in loud.stdout  # the control: without --quiet the lines are there


def test_all_msg_prints_what_verbose_prints(tmp_path: Path):
    write(tmp_path / "nested.yaml", NESTED)
    plain = job_lines(gator("nested.yaml", "-t", "t0", cwd=tmp_path, check=0).stdout)
    verbose = job_lines(gator("nested.yaml", "--verbose", "-t", "t1", cwd=tmp_path, check=0).stdout)
    all_msg = job_lines(gator("--all-msg", "nested.yaml", "-t", "t2", cwd=tmp_path, check=0).stdout)
    assert "START top.inner" not in plain and "PASS top.inner" not in plain
    assert "START top.inner" in verbose and "PASS top.inner" in verbose
    assert sorted(all_msg) == sorted(verbose)


def test_rerun_takes_all_msg_as_verbose(tmp_path: Path):
    write(tmp_path / "mixed.yaml", "!JobGroup\n  id: top\n  jobs:\n  - !Job {id: ok, command: 'true'}\n"
          "  - !Job {id: bad, command: 'false'}\n")
    gator("mixed.yaml", "-q", "-t", "t0", cwd=tmp_path, check=1)
    plain = gator("rerun", "t0", "--failed", "-t", "t1", cwd=tmp_path, check=1).stdout
    all_msg = gator("rerun", "t0", "--failed", "--all-msg", "-t", "t2", cwd=tmp_path, check=1).stdout
    # Jobs carried over are listed only when verbose.
    assert "top.ok  (carried over, not run again)" not in plain
    assert "top.ok  (carried over, not run again)" in all_msg


@pytest.mark.parametrize("severity,option", [("error", "--limit-error"), ("critical", "--limit-critical"),
                                             ("warning", "--limit-warning")])
def test_limit_options_set_how_many_messages_a_job_may_log(tmp_path: Path, severity: str, option: str):
    spec = ("!Job {id: m, command: " + json.dumps(sys.executable)
            + f", args: [-m, gator_core.cli, log, --severity, {severity}, one {severity}]}}\n")
    write(tmp_path / "job.yaml", spec)
    # Warnings pass by default and errors fail: each limit is tried against its own default.
    strict, lenient = ("0", "1") if severity == "warning" else (None, "1")
    before = ["--quiet", "-t", "t0"] + ([option, strict] if strict else [])
    gator(*before, "job.yaml", cwd=tmp_path, check=1)
    gator("job.yaml", option, lenient, "-q", "-t", "t1", cwd=tmp_path, check=0)
    assert node(shown(tmp_path / "t1"), "root.m")["messages"][severity] == 1


def test_interval_reaches_the_run(tmp_path: Path):
    write(tmp_path / "job.yaml", ONE)
    gator("--interval", "0.7", "job.yaml", "-q", "-t", "t", cwd=tmp_path, check=0)
    assert run_settings(tmp_path / "t")["interval"] == 0.7
    proc = gator("--interval", "0", "job.yaml", cwd=tmp_path, check=2)
    assert "--interval must be greater than zero" in proc.stderr


def test_progress_before_the_spec_draws_the_live_display(tmp_path: Path):
    write(tmp_path / "job.yaml", ONE)
    code, text = on_terminal(["--progress", "job.yaml", "-t", "t"], tmp_path)
    assert code == 0, text
    assert "elapsed" in text and "pending" in text and "START top.hi" not in text
    code, text = on_terminal(["job.yaml", "-t", "t2"], tmp_path)
    assert code == 0 and "START top.hi" in text and "elapsed" not in text


# -- errors ----------------------------------------------------------------------------------------

def test_an_unknown_word_is_neither_a_command_nor_a_spec(tmp_path: Path):
    proc = gator("frobnicate", cwd=tmp_path, check=2)
    assert "No such command 'frobnicate', and no such spec file 'frobnicate'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "tracking").exists()
    proc = gator("shw", cwd=tmp_path, check=2)
    assert "did you mean 'show'?" in proc.stderr
    # After options the word can only be a spec, and is reported as one.
    proc = gator("--progress", "missing.yaml", cwd=tmp_path, check=2)
    assert "missing.yaml: error: no such spec file" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [
    ["--id", "3", "job.yaml"],
    ["job.yaml", "--parent", "localhost:4000"],
    ["run", "job.yaml", "--parent=localhost:4000"],
    ["rerun", "earlier", "--failed", "--id", "7"],
], ids=["id-first", "parent-after", "run-parent=", "rerun-id"])
def test_the_seeds_internal_options_are_refused_with_the_reason(tmp_path: Path, args: list[str]):
    write(tmp_path / "job.yaml", ONE)
    proc = gator(*args, cwd=tmp_path, check=2)
    name = "--id" if "--id" in args else "--parent"
    assert f"gator: error: {name} is not needed: Gator tells every child its id and its parent itself" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "tracking").exists()


@pytest.mark.parametrize("command,panels", [
    ("run", ["Scheduler", "Output", "Pass/fail limits", "Run control"]),
    ("rerun", ["Scheduler", "Output", "Run control"]),
])
def test_help_shows_no_value_for_flags_and_groups_the_options(tmp_path: Path, command: str, panels: list[str]):
    text = gator(command, "--help", env={"COLUMNS": "100"}, check=0).stdout
    assert "<bool>" not in text and "BOOLEAN" not in text
    for panel in panels:
        assert re.search(rf"─ {re.escape(panel)} ─", text), panel
    lines = {match[1]: line for line in text.splitlines() if (match := re.search(r"(--[a-z-]+)", line))}
    for flag in ("--quiet", "--verbose", "--all-msg", "--progress", "--help"):
        assert re.fullmatch(rf"│ {flag}\s+(-\w\s+)?[A-Z][^<]*│", lines[flag].rstrip()), lines[flag]
    assert "DIR" in lines["--tracking"] and "KEY=VALUE" in lines["--sched-arg"]  # values still say what they take
