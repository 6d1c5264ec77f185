"""What ``gator run`` prints: a line when a job starts and ends, and a final summary.

Lines go straight to the stream (no rich rendering per line: a regression
prints tens of thousands of them).  Colour is used when the stream is a
terminal and NO_COLOR is not set.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

from gator_core.states import FAILURES, Result
from gator_core.store.readback import NodeResult
from gator_core.textutil import human_bytes, human_seconds, plural

__all__ = ["Console", "SafeStream"]

_COLOURS = {"pass": "32", "fail": "31", "timeout": "31", "lost": "35", "skipped": "33", "cancelled": "33",
            "start": "36", "warning": "33", "error": "31", "critical": "31;1"}
_LABELS = {"pass": "PASS", "fail": "FAIL", "timeout": "TIME", "lost": "LOST", "skipped": "SKIP", "cancelled": "CANCL",
           "start": "START"}


class SafeStream:
    """A stream whose writes never raise.  A run outlives the terminal or pipe it
    reports to (a closed ssh session, ``gator run ... | head``): everything is in
    its tracking directory, so output that cannot be written is dropped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except (OSError, ValueError):
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Console:
    """Receives the changes a root tier reports and prints them."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, verbose: bool = False,
                 color: bool | None = None) -> None:
        self.stream: Any = SafeStream(stream or sys.stdout)
        self.quiet = quiet
        self.verbose = verbose
        if color is None:
            isatty = getattr(self.stream, "isatty", lambda: False)()
            color = bool(isatty and not os.environ.get("NO_COLOR"))
        self.color = color
        self.counts = {result.value: 0 for result in Result if result.final}
        self.running: dict[str, tuple[float, str]] = {}  # path -> (started, log)
        self.failures: list[dict[str, Any]] = []
        self.latest: dict[str, Any] = {}
        self._flushed = 0.0

    def _paint(self, key: str, text: str) -> str:
        code = _COLOURS.get(key)
        return f"\033[{code}m{text}\033[0m" if self.color and code else text

    def _line(self, key: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        label = _LABELS.get(key, key.upper())
        self.stream.write(f"[{stamp}] {self._paint(key, f'{label:<5}')} {text}\n")

    def change(self, change: dict[str, Any]) -> None:
        event = change.get("event")
        is_job = change.get("kind") == "job"
        if event == "start":
            if is_job:
                self.running[change["path"]] = (change.get("time") or time.time(), change.get("log") or "")
            if not self.quiet and (is_job or self.verbose):
                self._line("start", change["path"])
        elif event == "finish":
            result = change.get("result") or "fail"
            carried = bool(change.get("carried"))
            if is_job:
                self.running.pop(change["path"], None)
                self.counts[result] = self.counts.get(result, 0) + 1
                if result in FAILURES:
                    self.failures.append(change)
            # Cancelled jobs never ran: a stopped regression would print thousands of
            # lines for them; the summary counts them, --verbose lists them.
            quiet_here = (carried or result == "cancelled") and not self.verbose
            if self.quiet or not (is_job or self.verbose) or quiet_here:
                return
            parts = [change["path"]]
            if carried:
                parts.append("(carried over, not run again)")
            elif change.get("duration") is not None:
                parts.append(human_seconds(change["duration"]))
            if change.get("attempts"):
                parts.append(f"(attempt {change['attempts']})")
            if result != "pass" and change.get("reason") and not carried:
                parts.append(change["reason"])
            if result in FAILURES and is_job:
                parts.append(f"log: {change.get('log')}")
            self._line(result, "  ".join(parts))
            if result in FAILURES:
                self.stream.flush()  # a failure is shown at once
                return
        elif event == "message":
            severity = change.get("severity", "warning")
            if not self.quiet and (self.verbose or severity in ("error", "critical")):
                self._line(severity, f"{change.get('path')}: {change.get('text')}")
        self._flush_now_and_then()

    def _flush_now_and_then(self) -> None:
        # A pipe should not wait for 8 KB, nor pay a write for every line.
        now = time.monotonic()
        if now - self._flushed >= 0.2:
            self._flushed = now
            self.stream.flush()

    def tick(self, summary: dict[str, Any]) -> None:
        """Called about twice a second with the top node's current summary."""
        self.latest = summary
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()

    def note(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def alert(self, text: str) -> None:
        """Something the user must see even with --quiet (the answer to a Ctrl-C)."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def summary(self, root: NodeResult, failed: list[NodeResult], tracking: str,
                interrupted: bool = False) -> None:
        """The closing lines: counts, every failed job with its log, where the run is kept."""
        jobs = root.jobs
        total = jobs.get("total", 0)
        parts = [f"{jobs.get('passed', 0)} passed", f"{jobs.get('failed', 0)} failed"]
        if jobs.get("skipped"):
            parts.append(f"{jobs['skipped']} skipped")
        if jobs.get("lost"):
            parts.append(f"{jobs['lost']} lost")
        if jobs.get("cancelled"):
            parts.append(f"{jobs['cancelled']} cancelled")
        if jobs.get("pending") or jobs.get("running"):
            parts.append(f"{jobs.get('pending', 0) + jobs.get('running', 0)} not finished")
        verdict = "INTERRUPTED" if interrupted else root.result.upper()
        key = "fail" if interrupted else root.result
        out = self.stream
        out.write("\n")
        out.write(f"{self._paint(key, verdict)}: {plural(total, 'job')}, {', '.join(parts)} "
                  f"in {human_seconds(root.duration)}")
        peak = root.peak_memory
        if peak:
            out.write(f" (largest job {human_bytes(peak)})")
        out.write("\n")
        if failed:
            out.write(f"{'Failed' if not any(n.result == 'lost' for n in failed) else 'Failed or lost'}:\n")
            width = min(60, max(len(node.path) for node in failed))
            for node in failed[:200]:
                why = node.reason or (f"exit code {node.exit_code}" if node.exit_code else node.result)
                out.write(f"  {self._paint(node.result, f'{node.result.upper():<4}')} "
                          f"{node.path:<{width}}  {why}\n")
                out.write(f"       log: {node.log}\n")
            if len(failed) > 200:
                out.write(f"  ... and {len(failed) - 200} more: gator show {tracking}\n")
        out.write(f"Tracking: {tracking}\n")
        out.flush()
