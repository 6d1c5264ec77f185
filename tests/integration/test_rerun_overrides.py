"""gator rerun with overrides: chosen jobs (--job), variables (--env), extra arguments
(--append-args), seeds (--same-seeds, --new-seeds); recorded in the new run and shown."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import gator, logs, node, run_spec

SPEC = """
!JobGroup
  id: top
  jobs:
  - !Job {id: ok, command: sh, args: [-c, 'echo "seed=$GATOR_SEED mode=$MODE args=$*"', sh]}
  - !Job {id: bad, command: sh, args: [-c, 'echo "seed=$GATOR_SEED mode=$MODE args=$*"; exit 1', sh],
          env: {MODE: own}}
  - !Job {id: other, command: 'true'}
"""


def rerun(tmp_path: Path, earlier: Path, name: str, *args: str, check: int = 1) -> tuple[str, dict]:
    target = tmp_path / name
    proc = gator("rerun", earlier, *args, "--tracking", target, cwd=tmp_path, check=check)
    return proc.stdout + proc.stderr, json.loads(gator("show", target, "--json", check=0).stdout)


def test_overrides_reach_the_jobs_run_again_and_are_recorded(tmp_path: Path) -> None:
    _, earlier, first = run_spec(tmp_path, SPEC, check=1)
    _, tree = rerun(tmp_path, earlier, "again", "--failed", "--job", "top.ok", "--env", "MODE=debug",
                    "--append-args", "+dump +verbosity=3")
    again = tmp_path / "again"
    assert logs(again, "top.bad") == [f"seed={node(first, 'top.bad')['seed']} mode=debug args=+dump +verbosity=3"]
    assert logs(again, "top.ok")[0].endswith("mode=debug args=+dump +verbosity=3")  # chosen: run again
    assert node(tree, "top.other")["result"] == "pass" and not logs(again, "top.other")  # carried over
    shown = gator("show", again, check=0)
    assert (f"a rerun of {earlier} with --job top.ok --env MODE=debug --append-args '+dump +verbosity=3'"
            in shown.stderr)


def test_new_seeds_change_every_seed_and_same_seeds_keep_them(tmp_path: Path) -> None:
    _, earlier, first = run_spec(tmp_path, SPEC, check=1)
    _, same = rerun(tmp_path, earlier, "same", "--failed", "--same-seeds")
    _, new = rerun(tmp_path, earlier, "new", "--failed", "--new-seeds")
    assert node(same, "top.bad")["seed"] == node(first, "top.bad")["seed"]
    assert node(new, "top.bad")["seed"] != node(first, "top.bad")["seed"]
    assert "--new-seeds" in gator("show", tmp_path / "new", check=0).stderr


def test_a_job_that_is_not_in_the_run_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    _, earlier, _ = run_spec(tmp_path, SPEC, check=1)
    proc = gator("rerun", earlier, "--job", "top.okk", "--tracking", tmp_path / "x", cwd=tmp_path, check=2)
    assert "--job top.okk: no such job" in proc.stderr and "did you mean 'top.ok'" in proc.stderr
    proc = gator("rerun", earlier, "--env", "NOEQUALS", "--failed", cwd=tmp_path, check=2)
    assert "--env takes KEY=VALUE" in proc.stderr
    proc = gator("rerun", earlier, cwd=tmp_path, check=2)
    assert "--failed, --job PATH, or both" in proc.stderr


def test_a_param_given_again_changes_what_reruns(tmp_path: Path) -> None:
    spec = """
!JobGroup
  id: top
  params: {mode: fast}
  jobs:
  - !Job {id: a, command: sh, args: [-c, 'echo "mode={{ mode }}"; exit 1']}
"""
    _, earlier, _ = run_spec(tmp_path, spec, check=1)
    rerun(tmp_path, earlier, "slow", "--failed", "--param", "mode=slow")
    assert logs(tmp_path / "slow", "top.a") == ["mode=slow"]
    assert "with --param mode=slow" in gator("show", tmp_path / "slow", check=0).stderr
    proc = gator("rerun", earlier, "--failed", "--param", "mdoe=slow", cwd=tmp_path, check=2)
    assert "did you mean 'mode'?" in proc.stderr
