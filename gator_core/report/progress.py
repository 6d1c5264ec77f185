"""``gator run --progress``: a live display on a terminal, a status line elsewhere.

On a terminal: a bar with the passed, failed, running, pending and total job
counts, the rate and the time left, then a table of the latest failures and
one of the jobs running longest, each with the path of its log.  It redraws
four times a second.  When stdout is not a terminal, the usual lines are
printed, with a status line every few seconds.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any

from gator_core.report.console import Console
from gator_core.store.readback import NodeResult
from gator_core.textutil import human_seconds

__all__ = ["ProgressConsole", "PlainProgress", "Rate"]

TABLE_ROWS = 8


class Rate:
    """Jobs finished per second over the last ``window`` seconds, and the time left."""

    def __init__(self, window: float = 30.0) -> None:
        self.window = window
        self._done: deque[float] = deque()
        self.started = time.monotonic()

    def add(self, when: float | None = None) -> None:
        self._done.append(time.monotonic() if when is None else when)

    def per_second(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        while self._done and self._done[0] < now - self.window:
            self._done.popleft()
        span = min(self.window, max(now - self.started, 1e-3))
        return len(self._done) / span

    def eta(self, remaining: int, now: float | None = None) -> float | None:
        rate = self.per_second(now)
        return remaining / rate if rate > 0 and remaining > 0 else None


def _totals(console: Console) -> dict[str, int]:
    jobs = console.latest.get("jobs", {}) if console.latest else {}
    c = console.counts
    done = c["pass"] + c["fail"] + c["timeout"] + c["lost"] + c["skipped"] + c["cancelled"]
    total = max(int(jobs.get("total", 0)), done + len(console.running))
    return {"passed": c["pass"], "failed": c["fail"] + c["timeout"], "lost": c["lost"], "skipped": c["skipped"],
            "cancelled": c["cancelled"],
            "running": len(console.running), "pending": max(0, total - done - len(console.running)),
            "done": done, "total": total}


class ProgressConsole(Console):
    """A rich live view for terminals."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False) -> None:
        from rich.console import Console as RichConsole
        from rich.live import Live

        super().__init__(sys.stdout, quiet=True, verbose=verbose)  # the display replaces the lines
        self.show_notes = not quiet
        self.rate = Rate()
        self._rich = RichConsole(file=self.stream)
        self._live = Live(get_renderable=self._render, console=self._rich, refresh_per_second=4,
                          transient=False)
        self._live.start()

    def change(self, change: dict[str, Any]) -> None:
        super().change(change)
        if change.get("event") == "finish" and change.get("kind") == "job" and not change.get("carried"):
            self.rate.add()

    def note(self, text: str) -> None:
        if self.show_notes:
            self._live.console.print(text, markup=False, highlight=False)

    def alert(self, text: str) -> None:
        self._live.console.print(text, markup=False, highlight=False)

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        t = _totals(self)
        rate = self.rate.per_second()
        eta = self.rate.eta(t["total"] - t["done"])
        head = Table.grid(padding=(0, 1))
        head.add_row(
            Text("gator", style="bold"),
            ProgressBar(total=max(t["total"], 1), completed=t["done"], width=30),
            Text(f"{t['done']}/{t['total']}"),
            Text(f"{t['passed']} passed", style="green"),
            Text(f"{t['failed']} failed", style="red"),
            Text(f"{t['lost']} lost", style="magenta"),
            Text(f"{t['skipped']} skipped", style="yellow"),
            *([Text(f"{t['cancelled']} cancelled", style="yellow")] if t["cancelled"] else []),
            Text(f"{t['running']} running", style="cyan"),
            Text(f"{t['pending']} pending"),
            Text(f"{rate:.1f}/s  ETA {human_seconds(eta) if eta else '-'}  "
                 f"elapsed {human_seconds(time.monotonic() - self.rate.started)}"),
        )
        parts: list[Any] = [head]
        if self.failures:
            failed = Table(title="Failed", title_justify="left", expand=False, show_edge=False)
            for column in ("result", "job", "reason", "log"):
                failed.add_column(column)
            for item in self.failures[-TABLE_ROWS:]:
                failed.add_row(str(item.get("result", "")).upper(), item.get("path", ""),
                               str(item.get("reason") or ""), str(item.get("log") or ""))
            parts.append(failed)
        if self.running:
            running = Table(title="Running", title_justify="left", expand=False, show_edge=False)
            for column in ("job", "for", "log"):
                running.add_column(column)
            now = time.time()
            longest = sorted(self.running.items(), key=lambda item: item[1][0])[:TABLE_ROWS]
            for path, (since, log) in longest:
                running.add_row(path, human_seconds(now - since), log)
            parts.append(running)
        return Group(*parts)

    def close(self) -> None:
        self._live.stop()
        super().close()


class PlainProgress:
    """When stdout is not a terminal: the usual lines plus a status line every few seconds."""

    PERIOD = 5.0

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rate = Rate()
        self._last = time.monotonic()

    def change(self, change: dict[str, Any]) -> None:
        self.console.change(change)
        if change.get("event") == "finish" and change.get("kind") == "job" and not change.get("carried"):
            self.rate.add()

    def tick(self, summary: dict[str, Any]) -> None:
        self.console.latest = summary
        now = time.monotonic()
        if now - self._last >= self.PERIOD:
            self._last = now
            t = _totals(self.console)
            eta = self.rate.eta(t["total"] - t["done"])
            cancelled = f"{t['cancelled']} cancelled, " if t["cancelled"] else ""
            self.console.stream.write(
                f"[{time.strftime('%H:%M:%S')}] PROGRESS {t['done']}/{t['total']} done: {t['passed']} passed, "
                f"{t['failed']} failed, {t['lost']} lost, {t['skipped']} skipped, {cancelled}"
                f"{t['running']} running, {t['pending']} pending; {self.rate.per_second():.1f}/s, "
                f"ETA {human_seconds(eta) if eta else '-'}\n")
        self.console.tick(summary)

    def note(self, text: str) -> None:
        self.console.note(text)

    def alert(self, text: str) -> None:
        self.console.alert(text)

    def close(self) -> None:
        self.console.close()

    def summary(self, root: NodeResult, failed: list[NodeResult], tracking: str,
                interrupted: bool = False) -> None:
        self.console.summary(root, failed, tracking, interrupted)
