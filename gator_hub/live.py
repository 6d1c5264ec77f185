"""Telling open pages that a run changed: an in-process publish/wait board.

Every ingest request that writes a run publishes the run's id once its
transaction has committed; a live page's event stream waits here for the next
change of its run, with a time limit, and then reads the database again.
Nothing is queued per listener: a listener asks "has run R changed since
version V?", so a slow page misses nothing and holds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator

__all__ = ["Live"]


class Live:
    """A change counter per run, and waiting for the next change."""

    ANY = "*"  # publishing to any run also bumps this one: the runs page listens to it

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._condition: asyncio.Condition | None = None  # made lazily, in the serving loop
        self._followed: dict[str, Counter[str]] = {}  # run -> job paths open in a browser

    def _cond(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    def version(self, run_id: str) -> int:
        return self._versions.get(run_id, 0)

    async def publish(self, run_id: str) -> None:
        """Run ``run_id`` changed."""
        for key in (run_id, self.ANY):
            self._versions[key] = self._versions.get(key, 0) + 1
        condition = self._cond()
        async with condition:
            condition.notify_all()

    async def wait(self, run_id: str, seen: int, timeout: float) -> int:
        """The run's version once it is past ``seen``, or after ``timeout`` seconds
        (then possibly still ``seen``)."""
        condition = self._cond()
        async with condition:
            try:
                await asyncio.wait_for(condition.wait_for(lambda: self.version(run_id) > seen), timeout)
            except asyncio.TimeoutError:
                pass
        return self.version(run_id)

    @contextlib.contextmanager
    def following(self, run_id: str, path: str) -> Iterator[None]:
        """While a page follows a job's messages.  A run whose tracking directory the
        hub cannot read learns of these paths in the answers to its requests, and
        sends those jobs' new messages while they run."""
        paths = self._followed.setdefault(run_id, Counter())
        paths[path] += 1
        try:
            yield
        finally:
            paths[path] -= 1
            if paths[path] <= 0:
                del paths[path]
            if not paths:
                self._followed.pop(run_id, None)

    def followed(self, run_id: str) -> list[str]:
        return sorted(self._followed.get(run_id, ()))

    def forget(self, run_ids: list[str]) -> None:
        """Drop the counters of runs that were pruned."""
        for run_id in run_ids:
            self._versions.pop(run_id, None)
