"""Which queued requests start now: in order, with a bounded look-ahead.

Both agents that enforce limits themselves (local and SSH) keep a queue of
requests and, on every event that may free room, start what fits.  Starting
strictly in order would leave slots idle behind one big request; scanning the
whole queue would make every event cost as much as the queue is long (and a
run may queue hundreds of thousands).  So the scan looks past requests that do
not fit, but only ``lookahead`` of them past the first: a small request may
overtake a big one (backfill), a long queue costs nothing per event, and a big
request waits at most until the few ahead of it, or behind it within the
look-ahead, are started.

Pure: it touches only the queue it is given and calls ``fits``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

__all__ = ["take_fitting"]

T = TypeVar("T")


def take_fitting(queue: deque[T], fits: Callable[[T], bool], lookahead: int) -> Iterator[T]:
    """Yield, in queue order, the requests of ``queue`` that ``fits`` accepts, removing
    each from the queue before it is yielded; the others stay, in their order.

    The scan stops at the end of the queue or at the request that does not fit
    ``lookahead`` requests after the first one that does not (``0``: strictly in
    order), so it examines at most ``taken + lookahead + 1`` requests.

    It is lazy on purpose: the next request is examined only when the caller asks
    for it, so a caller that starts (and books) each request before asking for the
    next has ``fits`` see the room that is left.  The caller must not change
    ``queue`` meanwhile; to act in ways that may, collect the requests first.
    """
    if lookahead < 0:
        raise ValueError(f"the look-ahead must be 0 or more, not {lookahead}")
    index = 0  # the number of requests kept before this point: the misses so far
    while index < len(queue):
        request = queue[index]
        if fits(request):
            del queue[index]  # within lookahead + 1 of the front of a deque: cheap
            yield request
        elif index == lookahead:
            return
        else:
            index += 1
