"""An in-house scheduler, installed as its own package, runs a tree through Gator."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import ROOT, gator, logs, with_plugin


def test_the_example_plugin_is_listed_with_its_package(example_plugin: Path):
    out = gator("schedulers", env=with_plugin(example_plugin), check=0).stdout
    line = next(line for line in out.splitlines() if line.startswith("example "))
    assert "gator-sched-example 0.1.0" in line
    assert any(line.startswith("local ") for line in out.splitlines())


def test_a_tree_runs_through_the_example_plugin(example_plugin: Path, tmp_path: Path):
    tracking = tmp_path / "t"
    gator("run", ROOT / "examples" / "seed" / "readme_tree_id.yaml", "--tracking", tracking,
          "--scheduler", "example", "--sched-arg", "slots=3", "--sched-arg", "prefix=nice -n 5",
          env=with_plugin(example_plugin), check=0)
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert tree["result"] == "pass" and tree["jobs"]["passed"] == 6
    assert logs(tracking, "top.counting.echo_count_2") == ["2"]


def test_children_really_run_through_the_prefix(example_plugin: Path, tmp_path: Path):
    """`nice` without arguments prints the niceness it inherited from its wrapper."""
    spec = tmp_path / "s.yaml"
    spec.write_text("!JobGroup\n  jobs:\n  - !JobGroup {id: g, jobs: [!Job {id: n, command: nice}]}\n")
    tracking = tmp_path / "t"
    gator("run", spec, "--tracking", tracking, "--scheduler", "example", "--sched-arg", "prefix=nice -n 3",
          env=with_plugin(example_plugin), cwd=tmp_path, check=0)
    # The group's tier ran under nice 3, and the job's wrapper under nice 3 more.
    assert logs(tracking, "root.g.n") == ["6"]


def test_the_plugin_checks_its_own_options(example_plugin: Path, tmp_path: Path):
    spec = tmp_path / "s.yaml"
    spec.write_text("!Job {command: 'true'}")
    proc = gator("run", spec, "--scheduler", "example", "--sched-arg", "slot=3",
                 env=with_plugin(example_plugin), cwd=tmp_path, check=2)
    assert "unknown option 'slot' for scheduler 'example'; did you mean 'slots'?" in proc.stderr
