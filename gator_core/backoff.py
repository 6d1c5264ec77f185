"""Delays between retries: exponential back-off with jitter.

A retry loop that waits a fixed doubling sequence makes every process that
failed together retry together: ten thousand wrappers whose tier restarted
would knock at the same instant, again and again.  Jitter spreads them: each
delay is drawn at random below a ceiling that grows from ``first`` by
``factor`` up to ``cap``.

* ``"full"`` jitter draws from ``[0, ceiling]``: the widest spread, for many
  peers racing to reach one server (a wrapper reaching its tier).
* ``"equal"`` jitter draws from ``[ceiling / 2, ceiling]``: still spread, but
  every wait is at least half the ceiling, for loops with a fixed number of
  attempts whose total patience should stay close to what was planned.

Usage::

    delays = Backoff(first=0.05, cap=2.0).delays()
    while not attempt():
        time.sleep(next(delays))

Foundation module: the standard library only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["Backoff", "Jitter"]

Jitter = Literal["full", "equal"]
# The smallest delay of each kind of jitter, as a fraction of the ceiling.
_LOWEST: dict[str, float] = {"full": 0.0, "equal": 0.5}


@dataclass(frozen=True)
class Backoff:
    """A back-off policy: the ceiling of the n-th delay (from 0) is
    ``min(cap, first * factor ** n)``; each delay is drawn below it (see ``jitter``)."""

    first: float
    cap: float
    factor: float = 2.0
    jitter: Jitter = "full"

    def __post_init__(self) -> None:
        if not self.first > 0:
            raise ValueError(f"the first delay must be positive, not {self.first!r}")
        if not self.cap >= self.first:
            raise ValueError(f"the cap ({self.cap!r}) must be at least the first delay ({self.first!r})")
        if not self.factor >= 1:
            raise ValueError(f"the factor must be at least 1, not {self.factor!r}")
        if self.jitter not in _LOWEST:
            raise ValueError(f"jitter must be one of {', '.join(_LOWEST)}, not {self.jitter!r}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay after ``attempt`` failures (0: the first delay)."""
        try:
            return min(self.cap, self.first * self.factor ** attempt)
        except OverflowError:  # far past the cap
            return self.cap

    def floor(self, attempt: int) -> float:
        """The smallest delay after ``attempt`` failures."""
        return self.ceiling(attempt) * _LOWEST[self.jitter]

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The successive delays, without end.  ``rng`` makes them repeatable (tests).

        Without one, each call makes its own generator, seeded from the system's
        entropy.  Not one shared at import: processes forked from a preloaded parent
        would inherit its state and draw the same delays, in lockstep again.
        """
        draw = random.Random() if rng is None else rng
        attempt = 0
        while True:
            yield draw.uniform(self.floor(attempt), self.ceiling(attempt))
            attempt += 1
