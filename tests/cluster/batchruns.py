"""Runs of `gator` on a real batch system, for the cluster tests (see conftest.py)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import node, units, write


class Runs:
    """`gator run` on one scheduler, in one test's directory."""

    def __init__(self, tmp_path: Path, scheduler: str) -> None:
        self.tmp_path = tmp_path
        self.scheduler = scheduler
        self.started: list[subprocess.Popen[str]] = []
        self.count = 0

    def _argv(self, text: str, args: tuple[str, ...]) -> tuple[list[str], Path]:
        self.count += 1
        spec = write(self.tmp_path / f"spec{self.count}.yaml", text)
        tracking = self.tmp_path / f"t{self.count}"
        return ([sys.executable, "-m", "gator_core.cli", "run", str(spec), "--tracking", str(tracking),
                 "--scheduler", self.scheduler, *args], tracking)

    def run(self, text: str, *args: str, check: int | None = None,
            timeout: float = 180) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, Any]]:
        """Run to the end; return the process, the tracking directory and `gator show --json`."""
        argv, tracking = self._argv(text, args)
        proc = subprocess.run(argv, cwd=self.tmp_path, capture_output=True, text=True, timeout=units(timeout))
        if check is not None:
            assert proc.returncode == check, proc.stdout + proc.stderr
        return proc, tracking, show(tracking)

    def start(self, text: str, *args: str) -> tuple[subprocess.Popen[str], Path]:
        argv, tracking = self._argv(text, args)
        proc = subprocess.Popen(argv, cwd=self.tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        self.started.append(proc)
        return proc, tracking

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # the run cancels its own jobs
                try:
                    proc.communicate(timeout=units(60))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()


def show(tracking: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "gator_core.cli", "show", str(tracking), "--json"],
                         capture_output=True, text=True, timeout=units(30))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def shown_node(tracking: Path, path: str) -> dict[str, Any] | None:
    """The node as `gator show` sees it now (None while the run has not written it)."""
    if not (tracking / "db.sqlite").exists():
        return None
    try:
        return node(show(tracking), path)
    except (KeyError, AssertionError, json.JSONDecodeError):
        return None


def run_attr(tracking: Path, name: str) -> Any:
    """An attribute the run stored about itself (e.g. run_id)."""
    with sqlite3.connect(tracking / "db.sqlite") as db:
        row = db.execute("SELECT value FROM attrs WHERE key = ?", (name,)).fetchone()
    return json.loads(row[0]) if row else None


def job_prefix(tracking: Path) -> str:
    """The name prefix every batch job of this run carries."""
    return f"gator.{run_attr(tracking, 'run_id')[:8]}."


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=units(timeout))
    return proc.returncode, out, err


def command(*argv: str) -> str:
    """Run a batch system's command; its stdout (fails the test with stderr if it fails)."""
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=units(30))
    assert out.returncode == 0, f"{' '.join(argv)}: {out.stderr}"
    return out.stdout
