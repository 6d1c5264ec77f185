"""``gator run --progress``: a live display on a terminal, periodic lines elsewhere."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from .console import Console
from .results import NodeResult

__all__ = ["ProgressConsole", "PlainProgress"]


class ProgressConsole(Console):
    """A rich live view: a bar with passed, failed, running and total counts."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False) -> None:
        from rich.console import Console as RichConsole
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(sys.stdout, quiet=True, verbose=verbose)
        self._rich = RichConsole()
        self._progress = Progress(
            TextColumn("[bold]gator"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
            console=self._rich, refresh_per_second=4,
        )
        self._task = self._progress.add_task("jobs", total=None, detail="")
        self._seen: set[str] = set()
        self._progress.start()

    def change(self, change: dict[str, Any]) -> None:
        super().change(change)
        if change.get("kind") == "job" and change.get("path"):
            self._seen.add(change["path"])
        c = self.counts
        done = c["pass"] + c["fail"] + c["lost"] + c["skipped"]
        detail = (f"[green]{c['pass']} passed[/] [red]{c['fail']} failed[/] "
                  f"{c['lost']} lost {c['skipped']} skipped [cyan]{c['running']} running[/]")
        total = max(len(self._seen), done)
        self._progress.update(self._task, completed=done, total=total or None, detail=detail)
        if change.get("event") == "finish" and change.get("result") in ("fail", "lost"):
            self._progress.console.print(f"[red]{change['result'].upper()}[/] {change['path']}  "
                                         f"{change.get('reason') or ''}  log: {change.get('log')}")

    def close(self) -> None:
        self._progress.stop()


class PlainProgress:
    """When stdout is not a terminal: the normal lines plus a status line every few seconds."""

    PERIOD = 5.0

    def __init__(self, console: Console) -> None:
        self.console = console
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def change(self, change: dict[str, Any]) -> None:
        self.console.change(change)
        now = time.monotonic()
        if now - self._last >= self.PERIOD:
            self._last = now
            c = self.console.counts
            self.console.stream.write(
                f"[{time.strftime('%H:%M:%S')}] PROGRESS {c['pass']} passed, {c['fail']} failed, "
                f"{c['lost']} lost, {c['skipped']} skipped, {c['running']} running\n")

    def note(self, text: str) -> None:
        self.console.note(text)

    def summary(self, root: NodeResult, failed: list[NodeResult], tracking: str,
                interrupted: bool = False) -> None:
        self.console.summary(root, failed, tracking, interrupted)
