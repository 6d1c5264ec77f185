"""Tracking directories written before gator_core was split into layers still open.

tests/data/flat-layout-run was written by the commit before the move (60d5782,
`gator run spec.yaml --seed 7`): a job failing on an error message, one on
its exit code, a job skipped by on_pass, and an array of two that passed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from helpers import ROOT, gator, logs, node

OLD_RUN = ROOT / "tests" / "data" / "flat-layout-run"


def test_a_run_written_before_the_layout_move_shows_and_reads_back(tmp_path: Path) -> None:
    tracking = shutil.copytree(OLD_RUN, tmp_path / "run")  # reading may add SQLite side files
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert (tree["result"], tree["seed"]) == ("fail", 7)
    assert tree["jobs"] | {"total": 5} == {"total": 5, "passed": 2, "failed": 2, "skipped": 1, "lost": 0,
                                          "cancelled": 0, "running": 0, "pending": 0}
    assert node(tree, "top.bad")["exit_code"] == 3 and node(tree, "top.ok")["reason"] == "1 error message (limit 0)"
    assert node(tree, "top.after")["reason"] == "on_pass: 'bad' failed"
    assert [node(tree, f"top.arr.e_{i}")["result"] for i in range(2)] == ["pass", "pass"]
    assert logs(tracking, "top.bad") == ["broken"]
    assert logs(tracking, "top.arr.e_1") == ["element 1"]
    text = gator("show", tracking, check=0)
    assert "running: gator run" not in text.stderr and "gone" not in text.stderr  # finished: nothing to say
    assert "├─ bad     job    fail" in text.stdout
    failed = json.loads(gator("show", tracking, "--failed", "--json", check=0).stdout)
    assert [job["path"] for job in failed] == ["top.ok", "top.bad"]
