"""Runners with real runs: the python runner's metrics and failures, a mistyped runner
or bad runner_args refused with its place before anything runs, gator runners."""

from __future__ import annotations

from pathlib import Path

from helpers import gator, logs, node, run_spec, write


def test_the_python_runner_records_what_a_function_returns_and_fails_on_what_it_raises(tmp_path: Path) -> None:
    write(tmp_path / "checks.py", """
def coverage(target):
    print("merging coverage for", target)
    return {"line_coverage": 87.5, "toggles": 1200}

def checkout():
    raise RuntimeError("Unable to checkout license vcs")
""")
    spec = """
!JobGroup
  id: top
  jobs:
  - !Job {id: cov, command: 'checks:coverage', args: [alu], runner: python}
  - !Job {id: lic, command: 'checks:checkout', runner: python}
  - !Job {id: missing, command: 'nosuchmodule:f', runner: python}
"""
    _, tracking, tree = run_spec(tmp_path, spec, check=1)
    cov = node(tree, "top.cov")
    assert cov["result"] == "pass" and cov["metrics"]["line_coverage"] == 87.5 and cov["metrics"]["toggles"] == 1200
    assert logs(tracking, "top.cov") == ["merging coverage for alu"]
    assert node(tree, "top.lic")["exit_code"] == 1
    assert "RuntimeError: Unable to checkout license vcs" in logs(tracking, "top.lic", "--severity", "error")
    missing = node(tree, "top.missing")
    assert missing["exit_code"] == 2
    assert any("cannot import nosuchmodule" in line for line in logs(tracking, "top.missing"))


def test_runner_mistakes_are_named_by_place_and_nothing_runs(tmp_path: Path) -> None:
    spec = write(tmp_path / "bad.yaml", """!JobGroup
  jobs:
  - !Job {id: c, command: x, runner_args: {shell: /bin/bash}}
  - !Job {id: d, command: x, shell: true, runner: python}
""")
    err = gator("run", spec, cwd=tmp_path, check=2).stderr
    assert "bad.yaml:3:" in err and "'runner_args' needs a 'runner'" in err
    assert "bad.yaml:4:" in err and "'shell: true' and 'runner: python' contradict each other" in err
    spec = write(tmp_path / "unknown.yaml", """!JobGroup
  jobs:
  - !Job {id: a, command: x, runner: pyhton}
  - !Job {id: b, command: x, runner: shell, runner_args: {colour: red}}
""")
    err = gator("run", spec, cwd=tmp_path, check=2).stderr  # the installed runners are checked next
    assert "unknown.yaml:3:" in err and "no runner called 'pyhton'; did you mean 'python'?" in err
    assert "unknown.yaml:4:" in err and "runner 'shell' does not take colour (it takes: shell)" in err
    assert not (tmp_path / "tracking").exists()


def test_gator_runners_lists_the_built_in_ones(tmp_path: Path) -> None:
    out = gator("runners", cwd=tmp_path, check=0).stdout
    for name in ("exec", "shell", "python"):
        assert any(line.split()[0] == name for line in out.splitlines()[1:]), out
