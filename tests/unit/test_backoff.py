"""The one back-off helper: bounds, growth to the cap, spread, and repeatability."""

from __future__ import annotations

import json
import os
import random
from itertools import islice

import pytest

from gator_core import Backoff

# The policies of the three retry loops that use it.
CONNECT = Backoff(first=0.05, cap=2.0, jitter="full")
SUBMIT = Backoff(first=1.0, cap=60.0, jitter="equal")
RECONNECT = Backoff(first=2.0, cap=30.0, jitter="equal")


def first_delays(policy: Backoff, count: int, seed: int) -> list[float]:
    return list(islice(policy.delays(random.Random(seed)), count))


def test_the_ceiling_doubles_from_the_first_delay_and_stops_at_the_cap() -> None:
    assert [CONNECT.ceiling(n) for n in range(8)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert [SUBMIT.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert [RECONNECT.ceiling(n) for n in range(5)] == [2, 4, 8, 16, 30]
    assert Backoff(first=1.0, cap=10.0, factor=3.0).ceiling(2) == 9.0
    assert CONNECT.ceiling(10_000) == 2.0  # far past the cap: no overflow


@pytest.mark.parametrize("policy", [CONNECT, SUBMIT, RECONNECT], ids=["full", "equal", "equal-2s"])
def test_every_delay_lies_between_its_floor_and_its_ceiling(policy: Backoff) -> None:
    lowest = 0.0 if policy.jitter == "full" else 0.5
    for seed in range(200):
        for attempt, delay in enumerate(first_delays(policy, 12, seed)):
            assert policy.ceiling(attempt) * lowest <= delay <= policy.ceiling(attempt)
            assert policy.floor(attempt) == policy.ceiling(attempt) * lowest


def test_delays_grow_with_the_ceiling_until_the_cap() -> None:
    """Equal jitter: the n-th delay is at least half the n-th ceiling, so on average
    the waits grow until the cap and then stay under it."""
    for seed in range(50):
        delays = first_delays(SUBMIT, 10, seed)
        assert delays[0] <= 1.0 and delays[3] >= 4.0 and delays[6] >= 30.0
        assert all(30.0 <= delay <= 60.0 for delay in delays[6:])
    runs = [first_delays(CONNECT, 8, seed) for seed in range(500)]
    means = [sum(column) / len(runs) for column in zip(*runs, strict=True)]
    assert all(later > earlier for earlier, later in zip(means[:6], means[1:7], strict=True))
    assert means[6] == pytest.approx(means[7], rel=0.15)  # both at the cap (2 s): mean about 1 s
    assert means[7] == pytest.approx(1.0, rel=0.15)


@pytest.mark.parametrize("policy", [CONNECT, SUBMIT], ids=["full", "equal"])
def test_jitter_spreads_the_delays_of_many_retriers(policy: Backoff) -> None:
    """Ten thousand wrappers that lost their tier together must not knock together."""
    firsts = [first_delays(policy, 1, seed)[0] for seed in range(1000)]
    assert len(set(firsts)) == 1000
    low, high = policy.floor(0), policy.ceiling(0)
    tenth = (high - low) / 10
    # Every tenth of the range is used, and none holds more than a fifth of them.
    buckets = [0] * 10
    for delay in firsts:
        buckets[min(int((delay - low) / tenth), 9)] += 1
    assert min(buckets) > 0 and max(buckets) < 200


def test_a_seeded_random_gives_the_same_delays_every_time() -> None:
    assert first_delays(CONNECT, 20, seed=7) == first_delays(CONNECT, 20, seed=7)
    assert first_delays(CONNECT, 20, seed=7) != first_delays(CONNECT, 20, seed=8)


def test_without_a_random_two_loops_draw_differently() -> None:
    one, two = (list(islice(RECONNECT.delays(), 5)) for _ in range(2))
    assert one != two


def test_processes_forked_from_one_parent_do_not_draw_in_lockstep() -> None:
    """Wrappers are forked from a preloaded parent: each loop seeds its own generator."""
    policy = Backoff(first=1.0, cap=1.0)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its delays and leave at once
        os.close(read_end)
        os.write(write_end, json.dumps(list(islice(policy.delays(), 5))).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert child != list(islice(policy.delays(), 5))


@pytest.mark.parametrize("arguments,why", [
    ({"first": 0.0, "cap": 1.0}, "first delay must be positive"),
    ({"first": 2.0, "cap": 1.0}, "must be at least the first delay"),
    ({"first": 1.0, "cap": 2.0, "factor": 0.5}, "factor must be at least 1"),
    ({"first": 1.0, "cap": 2.0, "jitter": "none"}, "jitter must be one of full, equal"),
])
def test_a_policy_that_makes_no_sense_is_refused(arguments: dict, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Backoff(**arguments)
