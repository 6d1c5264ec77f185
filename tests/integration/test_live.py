"""What reaches the top of the tree, and how fast: failures deep down, progress lines."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from helpers import units, write


def test_a_failure_three_levels_down_reaches_the_top_within_a_second(tmp_path: Path):
    stamp = tmp_path / "stamp"
    write(tmp_path / "s.yaml", f"""
!JobGroup
  id: top
  jobs:
  - !JobGroup
      id: a
      jobs:
      - !JobGroup
          id: b
          jobs:
          - !Job {{id: boom, command: sh, args: [-c, 'sleep 1.5; date +%s.%N > {stamp}; exit 1']}}
          - !Job {{id: busy, command: sleep, args: [4]}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", "s.yaml", "-t", "t", "--interval", "5"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if "FAIL  top.a.b.boom" in line:
            seen = time.time()
            break
    proc.wait(timeout=units(60))
    assert seen is not None, "the failure never reached the console"
    failed_at = float(stamp.read_text())
    assert seen - failed_at < units(1.0), f"seen {seen - failed_at:.2f} s after the job failed"


def test_progress_prints_a_status_line_every_few_seconds_when_not_on_a_terminal(tmp_path: Path):
    write(tmp_path / "s.yaml", "!JobArray\n  id: arr\n  repeats: 4\n  jobs:\n"
                               "  - !Job {id: j, command: sleep, args: [3.5]}\n")
    proc = subprocess.run([sys.executable, "-m", "gator_core.cli", "run", "s.yaml", "-t", "t", "--progress",
                           "-a", "concurrency=2"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=units(60))
    assert proc.returncode == 0, proc.stderr
    status = [line for line in proc.stdout.splitlines() if " PROGRESS " in line]
    assert status, proc.stdout
    assert "/4 done" in status[0] and "running" in status[0] and "pending" in status[0] and "ETA" in status[0]
