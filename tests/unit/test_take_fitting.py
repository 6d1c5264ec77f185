"""The agents' queue: requests start in order, with a bounded look-ahead past those that do not fit."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import pytest

from gator_core import take_fitting


def recording(fits: Callable[[int], bool]) -> tuple[Callable[[int], bool], list[int]]:
    """``fits``, and the list of every request it was asked about."""
    asked: list[int] = []

    def ask(request: int) -> bool:
        asked.append(request)
        return fits(request)
    return ask, asked


def test_requests_that_all_fit_leave_in_order() -> None:
    queue = deque(range(10))
    assert list(take_fitting(queue, lambda _: True, lookahead=3)) == list(range(10))
    assert queue == deque()


def test_small_requests_pass_a_big_one_within_the_look_ahead() -> None:
    # Requests are sizes; at most 1 fits.  The big ones keep their place and order.
    queue = deque([5, 1, 7, 1, 1])
    assert list(take_fitting(queue, lambda size: size <= 1, lookahead=2)) == [1, 1, 1]
    assert queue == deque([5, 7])


def test_nothing_past_the_look_ahead_is_examined() -> None:
    # Misses are 100+; the third miss (two past the first) ends the scan.
    queue = deque([100, 101, 1, 102, 2, 103])
    fits, asked = recording(lambda request: request < 100)
    assert list(take_fitting(queue, fits, lookahead=2)) == [1]
    assert asked == [100, 101, 1, 102]
    assert queue == deque([100, 101, 102, 2, 103])


def test_a_look_ahead_of_zero_is_strictly_in_order() -> None:
    queue = deque([1, 100, 2])
    fits, asked = recording(lambda request: request < 100)
    assert list(take_fitting(queue, fits, lookahead=0)) == [1]
    assert asked == [1, 100] and queue == deque([100, 2])


def test_each_request_is_examined_after_the_one_before_is_started() -> None:
    """Lazy: the caller books each request before the next is asked about, so room
    taken by one is seen by the next."""
    room = {"free": 4}
    queue = deque([3, 2, 1, 1])
    started = []
    for size in take_fitting(queue, lambda size: size <= room["free"], lookahead=5):
        room["free"] -= size
        started.append(size)
    assert started == [3, 1] and room["free"] == 0
    assert queue == deque([2, 1])


def test_a_long_queue_costs_only_what_starts_plus_the_look_ahead() -> None:
    queue = deque(range(1_000_000))
    free = 10

    def fits(request: int) -> bool:
        return free > 0 and request % 2 == 0  # odd ones never fit

    fits_counted, asked = recording(fits)
    started = []
    for request in take_fitting(queue, fits_counted, lookahead=64):
        free -= 1
        started.append(request)
    assert started == list(range(0, 20, 2))
    # The ten started, and 65 misses (the first and 64 past it): 1, 3, ... 19, then
    # 20 to 74 once the room is gone.  Nothing after 74 is looked at.
    assert len(asked) == 10 + 65 and asked[-1] == 74
    assert len(queue) == 1_000_000 - 10 and [queue[0], queue[1], queue[2]] == [1, 3, 5]


def test_a_negative_look_ahead_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        list(take_fitting(deque([1]), lambda _: True, lookahead=-1))
