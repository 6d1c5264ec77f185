"""`gator run` killed with SIGKILL mid-run, checked the same way on every scheduler that
runs jobs while the run lives (the local one here, SSH hosts in tests/cluster).

What a user must find afterwards: no job process left (within two heartbeat
intervals), every message a job printed more than a second before the kill,
the run shown as interrupted with its unfinished jobs lost for that reason, and
a rerun of what did not pass.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers import gator, node, units, wait_for, write

__all__ = ["KilledRun", "killed_run", "INTERVAL"]

INTERVAL = 2.0  # --interval of the killed runs: the jobs must be gone within two of these

# The job prints a numbered, time-stamped line every 50 ms and writes the same line to
# a side file first: the side file says what was printed, and when.  Once the file
# "done" exists (the rerun), it passes at once.
TALKER = """
import os, sys, time
side, done = sys.argv[1], sys.argv[2]
if os.path.exists(done):
    print("second run"); sys.exit(0)
with open(side, "a", buffering=1) as out:
    for i in range(100000):
        line = f"line {i} {time.time():.3f}"
        out.write(line + "\\n")
        print(line, flush=True)
        time.sleep(0.05)
"""


@dataclass
class KilledRun:
    tmp_path: Path
    shared: Path  # a directory the jobs' user can write, whoever runs them
    marker: str

    @property
    def side(self) -> Path:
        return self.shared / f"{self.marker}.lines"

    @property
    def done(self) -> Path:
        return self.shared / "done"

    def spec(self) -> Path:
        talker = json.dumps(TALKER)
        return write(self.tmp_path / "killed.yaml", f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: first, command: echo, args: [hi]}}
  - !Job {{id: talker, command: python3, args: [-u, -c, {talker}, '{self.side}', '{self.done}'],
           on_pass: [first]}}
  - !Job {{id: later, command: 'true', on_pass: [talker]}}
""")

    def printed_before(self, when: float) -> list[str]:
        """The lines the job had printed by ``when`` (time.time())."""
        lines = self.side.read_text().splitlines() if self.side.exists() else []
        return [line for line in lines if float(line.split()[2]) < when]


@contextmanager
def killed_run(tmp_path: Path) -> Iterator[KilledRun]:
    """A scenario with its own world-writable directory (SSH hosts run jobs as another user)."""
    shared = Path(tempfile.mkdtemp(prefix="gator-killed-"))
    os.chmod(shared, 0o777)
    try:
        yield KilledRun(tmp_path, shared, f"killed{os.getpid()}x{time.monotonic_ns() % 100000}")
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def kill_and_check(scenario: KilledRun, args: list[str], processes: Callable[[str], list[str]]) -> None:
    """Start ``gator run`` with ``args``, SIGKILL it while the talker talks, and check
    everything a user relies on afterwards.  ``processes(marker)`` lists the live
    processes of the run's jobs, wherever they run."""
    tracking = scenario.tmp_path / "t"
    argv = [sys.executable, "-m", "gator_core.cli", "run", str(scenario.spec()), "--tracking", str(tracking),
            "--interval", str(INTERVAL), "--grace", "1", *args]
    proc = subprocess.Popen(argv, cwd=scenario.tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(scenario.printed_before(time.time())) >= 40, 60, "the job to print for 2 s")
        # While it lives: shown as running by whom, and not rerun.
        live = gator("show", tracking, check=0)
        assert f"running: gator run is pid {proc.pid} on " in live.stderr, live.stderr
        refused = gator("rerun", tracking, "--failed", "--tracking", scenario.tmp_path / "early", check=2)
        assert "is still running" in refused.stderr
        proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=units(10))
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        proc.stderr.close()

    # No process of the run's jobs outlives two heartbeat intervals.
    wait_for(lambda: not processes(scenario.marker), INTERVAL * 2 / units(1), "the jobs of the dead run to end")
    assert time.time() - killed_at <= 2 * INTERVAL + 0.5

    # Every line printed more than 1 s before the kill can be read.
    printed = scenario.printed_before(killed_at - 1.0)
    stored = [json.loads(line)["text"] for line in
              gator("logs", tracking, "top.talker", "--json", check=0).stdout.splitlines()]
    assert printed and stored[:len(printed)] == printed, (len(printed), len(stored))

    # The run is shown as interrupted, and what it had not finished as lost for that reason.
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    gone = re.compile(r"interrupted: gator run is gone \(last seen \d\d:\d\d:\d\d\)")
    assert tree["result"] == "lost" and gone.fullmatch(tree["reason"]), tree["reason"]
    assert node(tree, "top.first")["result"] == "pass"
    for path in ("top.talker", "top.later"):
        assert node(tree, path)["result"] == "lost" and gone.fullmatch(node(tree, path)["reason"]), node(tree, path)
    assert tree["jobs"]["lost"] == 2 and tree["jobs"]["running"] == tree["jobs"]["pending"] == 0
    text = gator("show", tracking, check=0)
    assert gone.search(text.stderr) and f"it ran as pid {proc.pid} on " in text.stderr, text.stderr
    assert gone.search(gator("logs", tracking, "top.talker", check=0).stderr)

    # A rerun takes the dead run and runs again what did not pass.
    scenario.done.touch()
    rerun = scenario.tmp_path / "again"
    gator("rerun", tracking, "--failed", "--tracking", rerun, *args, timeout=180, check=0)
    again = json.loads(gator("show", rerun, "--json", check=0).stdout)
    assert again["result"] == "pass" and again["jobs"]["passed"] == 3
    assert [line for line in gator("logs", rerun, "top.talker").stdout.splitlines() if "second run" in line]
