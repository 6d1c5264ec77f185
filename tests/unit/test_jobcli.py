"""``gator log`` and ``gator metric``: one implementation for the quick path and the typer commands.

The API calls themselves are replaced by recorders here; tests/integration/test_job_api.py
runs the real thing inside jobs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from typing import Any

import pytest
from helpers import ROOT, units

from gator_core.job import api, jobcli


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """What reached the job API, as ("log", message, severity) or ("metric", name, value).
    The real functions check their values first, as they would in a job."""
    calls: list[tuple[Any, ...]] = []

    def log(message: str, severity: str = "info") -> None:
        if severity.lower() not in api.SEVERITY_NAMES:
            raise ValueError(f"unknown severity {severity!r}")
        calls.append(("log", message, severity))

    def metric(name: str, value: float) -> None:
        calls.append(("metric", name, api.check_metric(name, value)))

    monkeypatch.setattr(api, "log", log)
    monkeypatch.setattr(api, "metric", metric)
    return calls


@pytest.mark.parametrize("args,expected", [
    (["log", "two", "words"], ("log", "two words", "info")),
    (["log", "--severity", "warning", "careful"], ("log", "careful", "warning")),
    (["log", "--severity=error", "bad"], ("log", "bad", "error")),
    (["log", "-s", "debug", "--", "-x", "y"], ("log", "-x y", "debug")),
    (["log", "-"], ("log", "-", "info")),
    (["metric", "coverage", "87.5"], ("metric", "coverage", 87.5)),
])
def test_the_quick_path_sends_what_it_was_given(sent: list, args: list[str], expected: tuple) -> None:
    assert jobcli.job_api_main(args) == 0
    assert sent == [expected]


@pytest.mark.parametrize("args,message", [
    (["log"], "gator log: a message is needed"),
    (["log", "--severity"], "gator log: unknown option '--severity'"),
    (["log", "--loud", "x"], "gator log: unknown option '--loud'"),
    (["log", "-s", "loud", "x"], "gator log: unknown severity 'loud'"),
    (["metric", "x"], "gator metric: metric takes a NAME and a VALUE"),
    (["metric", "x", "many"], "gator metric: value 'many' is not a number"),
    (["metric", "wall_time", "1"], "gator metric: metric name 'wall_time' is reserved"),
])
def test_bad_usage_says_why_and_how_with_exit_code_2(sent: list, capsys: pytest.CaptureFixture[str],
                                                     args: list[str], message: str) -> None:
    assert jobcli.job_api_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.endswith(jobcli.USAGE + "\n")
    assert sent == []


@pytest.mark.parametrize("args", [["log", "-h"], ["log", "--help"], ["metric", "-h"], ["metric", "--help"]])
def test_help_shows_the_usage(capsys: pytest.CaptureFixture[str], sent: list, args: list[str]) -> None:
    assert jobcli.job_api_main(args) == 0
    assert capsys.readouterr().out == jobcli.USAGE + "\n"
    assert sent == []


def test_outside_a_job_it_says_so_without_the_usage(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def not_in_job(*_: Any, **__: Any) -> None:
        raise api.NotInJobError("not inside a Gator job: GATOR_API is not set")

    monkeypatch.setattr(api, "log", not_in_job)
    monkeypatch.setattr(api, "metric", not_in_job)
    assert jobcli.log_command(["hello"]) == 2
    assert jobcli.metric_command("x", 1.0) == 2
    assert capsys.readouterr().err == ("gator log: not inside a Gator job: GATOR_API is not set\n"
                                       "gator metric: not inside a Gator job: GATOR_API is not set\n")


def test_the_functions_take_values_already_parsed(sent: list) -> None:
    assert jobcli.log_command(["a", "b"], "critical") == 0
    assert jobcli.metric_command("score", 3) == 0
    assert jobcli.metric_command("score", "4.5") == 0
    assert sent == [("log", "a b", "critical"), ("metric", "score", 3.0), ("metric", "score", 4.5)]


def test_the_typer_commands_pass_their_values_straight_through(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.main import get_command

    from gator_core.cli.commands import app

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(jobcli, "log_command", lambda message, severity: calls.append((message, severity)) or 0)
    monkeypatch.setattr(jobcli, "metric_command", lambda name, value: calls.append((name, value)) or 2)
    group = get_command(app)
    assert group(args=["log", "-s", "warning", "hello", "there"], prog_name="gator", standalone_mode=False) == 0
    assert group(args=["metric", "n", "x"], prog_name="gator", standalone_mode=False) == 2
    assert calls == [(["hello", "there"], "warning"), ("n", "x")]


def test_the_command_line_modules_do_not_import_each_other() -> None:
    """cli.main imports cli.commands (lazily); commands must not import main back."""
    tree = ast.parse((ROOT / "gator_core" / "cli" / "commands.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(name and name.startswith("gator_core.cli.main") for name in imported), imported


def test_the_quick_path_never_loads_the_command_line_parser() -> None:
    code = ("import sys\nfrom gator_core.cli.main import main\ncode = main(['metric', '-h'])\n"
            "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=units(30)).stdout
    assert out.splitlines()[-1] == "0 []"
