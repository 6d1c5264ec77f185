"""`--progress` on a real terminal draws a live display and still ends with the summary."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from helpers import units, write


def test_progress_on_a_terminal(tmp_path: Path):
    spec = write(tmp_path / "s.yaml", "!JobArray\n  id: arr\n  repeats: 6\n  jobs:\n"
                 "  - !Job {id: j, command: sh, args: [-c, 'sleep 0.6; test $GATOR_ARRAY_INDEX != 3']}\n")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", str(spec), "-t", str(tmp_path / "t"),
                             "--progress"], cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower,
                            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
    os.close(follower)
    output = b""
    deadline = time.monotonic() + units(60)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    assert proc.wait(timeout=units(30)) == 1
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))
    assert "gator" in text and "passed" in text and "pending" in text and "ETA" in text  # the live bar
    assert "Running" in text and "Failed" in text  # the two tables
    assert "arr.j_3" in text and str(tmp_path / "t" / "j_3" / "messages.log") in text
    assert "6 jobs, 5 passed, 1 failed" in text
