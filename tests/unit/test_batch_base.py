"""Unit tests of BatchScheduler's own logic (grouping, pacing, retries, polling,
stopping) against an in-memory batch system.  The real back ends are exercised
in tests/cluster against real Slurm and Grid Engine."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gator_core import BatchScheduler, ChildEvent, EventKind, LaunchError, NativeStatus, Submission
from gator_core.sched.batch import CLOSE_FIRST_LOOK
from gator_core.sched.contract import ArrayRef, LaunchRequest, SchedulerContext


class FakeBatch(BatchScheduler):
    """A batch system in a dict: ids are counted up; tests change states by hand."""

    name = "fake"
    STATES = {"PD": "pending", "R": "running", "CD": "finished", "OOM": "finished"}

    def __init__(self, options: dict[str, str], context: SchedulerContext) -> None:
        super().__init__(options, context)
        self.jobs: dict[str, NativeStatus] = {}
        self.submissions: list[tuple[float, list[str]]] = []
        self.failures: list[LaunchError] = []  # raised by the next submits, in order
        self.query_error: Exception | None = None
        self.queries: list[float] = []
        self.cancelled: list[list[str]] = []
        self.next_id = 100
        self.submit_delay = 0.0
        self.crash: Exception | None = None

    async def submit(self, submission: Submission) -> list[str]:
        self.count("submit")
        await asyncio.sleep(self.submit_delay)
        if self.crash is not None:
            raise self.crash
        if self.failures:
            raise self.failures.pop(0)
        self.next_id += 1
        ids = ([f"{self.next_id}_{i}" for i in submission.indices] if submission.is_array
               else [str(self.next_id)])
        for native_id in ids:
            self.jobs[native_id] = NativeStatus(native_id, "PD", "Priority")
        self.submissions.append((time.monotonic(), [r.key for r in submission.requests]))
        return ids

    async def query(self, native_ids: Sequence[str]) -> dict[str, NativeStatus]:
        self.queries.append(time.monotonic())
        if self.query_error is not None:
            raise self.query_error
        return {i: self.jobs[i] for i in native_ids if i in self.jobs}

    async def cancel(self, native_ids: Sequence[str]) -> None:
        self.cancelled.append(list(native_ids))
        for native_id in native_ids:
            if native_id in self.jobs:
                self.jobs[native_id] = NativeStatus(native_id, "CD", "cancelled")


def make(options: dict[str, str] | None = None) -> tuple[FakeBatch, list[ChildEvent], list[str]]:
    events: list[ChildEvent] = []
    logs: list[str] = []
    context = SchedulerContext(path="top", token="t", tracking=Path("/tmp"), interval=1.0, grace=0.5,
                               events=events.append, log=lambda severity, text: logs.append(text),
                               run_id="0123456789")
    return FakeBatch({"poll": "0.05", "submit_rate": "1000", **(options or {})}, context), events, logs


def req(key: str, index: int | None = None) -> LaunchRequest:
    array = ArrayRef("top.arr", index, 10, "t") if index is not None else None
    return LaunchRequest(key=key, path=f"top.{key}", kind="job", argv=("python",), env={}, cwd="/",
                         tracking=f"/tmp/{key}", array=array)


async def until(predicate: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def kinds(events: list[ChildEvent], key: str) -> list[EventKind]:
    return [e.kind for e in events if e.key == key]


def test_an_array_goes_in_as_one_submission_and_states_are_reported() -> None:
    async def main() -> None:
        sched, events, _ = make()
        async with sched:
            await sched.launch([req(f"t_{i}", i) for i in range(50)])
            await until(lambda: sched.submissions, "the submission")
            assert len(sched.submissions) == 1 and len(sched.submissions[0][1]) == 50
            await until(lambda: EventKind.PENDING in kinds(events, "t_7"), "pending")
            sched.jobs["101_7"] = NativeStatus("101_7", "R", host="n1")
            await until(lambda: EventKind.RUNNING in kinds(events, "t_7"), "running")
            sched.jobs["101_7"] = NativeStatus("101_7", "OOM", "memory", "n1", -9)
            await until(lambda: EventKind.EXITED in kinds(events, "t_7"), "exited")
            final = [e for e in events if e.key == "t_7"][-1]
            assert (final.state, final.returncode, final.native_id) == ("OOM", -9, "101_7")
            pending = next(e for e in events if e.key == "t_7" and e.kind is EventKind.PENDING)
            assert pending.reason == "Priority"
    asyncio.run(main())


def test_a_job_that_vanishes_from_the_queue_is_reported_gone() -> None:
    async def main() -> None:
        sched, events, _ = make()
        async with sched:
            await sched.launch([req("a")])
            await until(lambda: "101" in sched.jobs, "submission")
            del sched.jobs["101"]
            await until(lambda: EventKind.EXITED in kinds(events, "a"), "gone")
            assert events[-1].state == "GONE"
    asyncio.run(main())


def test_transient_failures_are_retried_then_the_error_is_quoted() -> None:
    async def main() -> None:
        sched, events, logs = make({"retries": "3"})
        sched.failures = [LaunchError("Socket timed out", transient=True)]
        async with sched:
            await sched.launch([req("a")])
            await until(lambda: EventKind.SUBMITTED in kinds(events, "a"), "retry success", timeout=10)
            assert sched.calls["submit"] == 2 and any("attempt 1 of 3" in text for text in logs)
            sched.failures = [LaunchError("Socket timed out", transient=True)] * 2 + [
                LaunchError("sbatch: error: Socket timed out", transient=True)]
            await sched.launch([req("b")])
            await until(lambda: EventKind.FAILED in kinds(events, "b"), "give up", timeout=15)
            failed = [e for e in events if e.key == "b"][-1]
            assert failed.reason == "sbatch: error: Socket timed out"
    asyncio.run(main())


def test_a_permanent_failure_is_not_retried() -> None:
    async def main() -> None:
        sched, events, _ = make()
        sched.failures = [LaunchError("Invalid partition name specified", transient=False)]
        async with sched:
            await sched.launch([req("a")])
            await until(lambda: EventKind.FAILED in kinds(events, "a"), "failure")
            assert sched.calls["submit"] == 1
            assert events[-1].reason == "Invalid partition name specified"
    asyncio.run(main())


def test_max_queued_holds_submissions_until_children_end() -> None:
    async def main() -> None:
        sched, events, _ = make({"max_queued": "2"})
        async with sched:
            await sched.launch([req(k) for k in "abcd"])
            await until(lambda: len(sched.submissions) == 2, "two submissions")
            await asyncio.sleep(0.2)
            assert len(sched.submissions) == 2  # held: two in flight
            sched.reported("a")  # its final report frees a slot at once
            await until(lambda: len(sched.submissions) == 3, "third")
            sched.jobs["102"] = NativeStatus("102", "CD")  # b ends in the queue: another slot
            await until(lambda: len(sched.submissions) == 4, "fourth")
            sched.jobs["101"] = NativeStatus("101", "CD")  # a's process has ended too
    asyncio.run(main())


def test_submit_rate_spaces_submissions() -> None:
    async def main() -> None:
        sched, _, _ = make({"submit_rate": "20"})
        async with sched:
            await sched.launch([req(k) for k in "abcde"])
            await until(lambda: len(sched.submissions) == 5, "five submissions")
            times = [t for t, _ in sched.submissions]
            assert times[-1] - times[0] >= 4 * 0.05 * 0.9
    asyncio.run(main())


def test_one_query_per_interval_and_back_off_when_the_controller_refuses() -> None:
    async def main() -> None:
        sched, _, logs = make({"poll": "0.1"})
        async with sched:
            await sched.launch([req(f"t_{i}", i) for i in range(200)])
            await asyncio.sleep(0.55)
            healthy = len(sched.queries)
            assert 3 <= healthy <= 6  # ~one per 0.1 s for all 200 children, not one per child
            sched.query_error = RuntimeError("slurm_load_jobs error: Socket timed out")
            await asyncio.sleep(1.6)
            # Backing off: 0.2, 0.4, 0.8 s ... at most 4 failed queries in 1.6 s.
            assert len(sched.queries) - healthy <= 4
            assert any("status query failed" in text for text in logs)
            sched.query_error = None
    asyncio.run(main())


def test_close_cancels_what_runs_but_lets_reported_children_end() -> None:
    async def main() -> None:
        sched, events, _ = make()
        async with sched:
            await sched.launch([req("a"), req("b")])
            await until(lambda: len(sched.jobs) == 2, "submissions")
            sched.reported("a")
            sched.jobs["101"] = NativeStatus("101", "CD")  # a ends by itself
        cancelled = [i for batch in sched.cancelled for i in batch]
        assert cancelled == ["102"]
    asyncio.run(main())


def test_closing_keeps_to_one_query_per_interval_and_cancels_reported_children_that_hang_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gator_core.sched.batch.ENDING_WAIT", 0.6)

    async def main() -> None:
        sched, _, _ = make({"poll": "0.2"})
        async with sched:
            await sched.launch([req("a"), req("b")])
            await until(lambda: len(sched.queries) >= 2, "the poller's queries")
            sched.reported("a")  # a reported, yet hangs on in the queue; b never reported
            sched.jobs["101"] = NativeStatus("101", "R")
            sched.jobs["102"] = NativeStatus("102", "R")
        gaps = [later - earlier for earlier, later in itertools.pairwise(sched.queries)]
        assert gaps and min(gaps) >= 0.2 * 0.95, gaps
        assert sched.cancelled[0] == ["102"]  # at once
        assert ["101"] in sched.cancelled[1:]  # after ENDING_WAIT
        assert sched.troubled and not sched.lost_children
    asyncio.run(main())


def test_closing_looks_once_soon_not_a_poll_interval_after_the_pollers_last_query() -> None:
    # The run waits for this look: with Slurm's 5 s poll it cost 2.5 s on average.
    async def main() -> None:
        sched, _, _ = make({"poll": "2.5"})
        async with sched:
            await sched.launch([req("a"), req("b")])
            await until(lambda: len(sched.jobs) == 2, "submissions")
            sched.jobs["101"] = NativeStatus("101", "R")
            sched.jobs["102"] = NativeStatus("102", "R")
            await until(lambda: len(sched.queries) == 1, "the poller's first query", timeout=10)
            sched.reported("a")
            sched.reported("b")
            sched.jobs["101"] = NativeStatus("101", "CD")  # both ended by themselves
            sched.jobs["102"] = NativeStatus("102", "CD")
            closing = time.monotonic()
        took = time.monotonic() - closing
        assert len(sched.queries) == 2  # the poller's and one look at closing
        assert 0.9 * CLOSE_FIRST_LOOK <= sched.queries[1] - closing <= CLOSE_FIRST_LOOK + 0.5, took
        assert took < 2.5 and sched.cancelled == []
    asyncio.run(main())


def test_only_troubled_tops_and_tiers_that_lost_a_child_sweep() -> None:
    sched, _, _ = make()
    assert sched.sweep_scope() is None  # nothing went wrong: no sweep query at all
    sched.troubled = True
    assert sched.sweep_scope() == ""  # the top: the whole run
    inner = FakeBatch({}, SchedulerContext(path="top.g", token="t", tracking=Path("/tmp"), interval=1.0, grace=0.5,
                                           events=lambda event: None, log=lambda severity, text: None,
                                           run_id="0123456789", inherited={}))
    inner.troubled = True  # stopped, say: its own close cancels its own children
    assert inner.sweep_scope() is None

    async def lose_one() -> None:
        async with inner:
            await inner.launch([req("child")])
            await until(lambda: inner.jobs, "the submission")
            await inner.terminate(["child"])  # a child tier killed: its children may be left
    asyncio.run(lose_one())
    assert inner.sweep_scope() == "top.g."


def test_a_sweep_cancels_each_leftover_once_and_looks_until_none_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gator_core.sched.batch.GONE_WAIT", 0.5)

    async def main() -> None:
        sched, _, logs = make({"poll": "0.1"})
        answers = [["7", "8_[1-3]"], ["8_[1-3]"], ["8_[1-3]", "9"], []]  # 8 is slow to go; 9 shows up late
        looks: list[float] = []

        async def leftovers(prefix: str) -> list[str] | None:
            assert prefix == ""
            looks.append(time.monotonic())
            return answers.pop(0)

        cancelled: list[list[str]] = []

        async def cancel(ids: list[str]) -> None:
            cancelled.append(ids)

        sched.leftovers = leftovers  # type: ignore[method-assign]
        sched.cancel_leftovers = cancel  # type: ignore[method-assign]
        await sched.sweep_queue("")
        assert cancelled == [["7", "8_[1-3]"], ["9"]] and answers == []
        assert min(later - earlier for earlier, later in itertools.pairwise(looks)) >= 0.1 * 0.95
        assert sum("still in the queue" in text for text in logs) == 2

        stuck, _, logs = make({"poll": "0.1"})

        async def forever(prefix: str) -> list[str] | None:
            return ["5"]
        stuck.leftovers = forever  # type: ignore[method-assign]
        stuck.cancel_leftovers = cancel  # type: ignore[method-assign]
        started = time.monotonic()
        await stuck.sweep_queue("")
        assert time.monotonic() - started < 3  # bounded: --grace (0.5 s here) + GONE_WAIT
        assert "still in the queue after cancelling: 5" in logs[-1]
    asyncio.run(main())


def test_terminate_drops_queued_children_and_cancels_submitted_ones() -> None:
    async def main() -> None:
        sched, events, _ = make({"max_queued": "1"})
        async with sched:
            await sched.launch([req("a"), req("b")])
            await until(lambda: len(sched.submissions) == 1, "a submitted")
            await sched.terminate(["a", "b"])
            assert sched.cancelled == [["101"]]
            assert events[-1].key == "b" and events[-1].kind is EventKind.EXITED
            assert "before it was submitted" in (events[-1].reason or "")
    asyncio.run(main())


@pytest.mark.parametrize("count,batches", [(1200, 3), (10, 1)])
def test_cancels_go_out_in_batches(count: int, batches: int) -> None:
    async def main() -> None:
        sched, _, _ = make()
        async with sched:
            await sched.launch([req(f"t_{i}", i) for i in range(count)])
            await until(lambda: len(sched.jobs) == count, "submission")
        assert len(sched.cancelled) == batches
        assert sum(len(batch) for batch in sched.cancelled) == count
    asyncio.run(main())


def test_a_child_terminated_while_its_submission_is_on_its_way_is_cancelled() -> None:
    async def main() -> None:
        sched, events, _ = make()
        sched.submit_delay = 0.3
        async with sched:
            await sched.launch([req("a")])
            await asyncio.sleep(0.1)  # the submit call is running
            await sched.terminate(["a"])
            await until(lambda: sched.cancelled, "the late cancel")
            assert sched.cancelled == [["101"]]
            await until(lambda: EventKind.EXITED in kinds(events, "a"), "the final event")
    asyncio.run(main())


def test_an_array_handed_over_in_several_launch_calls_is_one_submission() -> None:
    async def main() -> None:
        sched, _, _ = make({"max_array": "1000"})
        async with sched:
            for start in range(0, 1000, 250):  # as a tier hands over a big array
                await sched.launch([req(f"t_{i}", i) for i in range(start, start + 250)])
            await until(lambda: len(sched.jobs) == 1000, "the submission")
            assert [len(keys) for _, keys in sched.submissions] == [1000]
    asyncio.run(main())


def test_a_back_end_that_crashes_fails_the_children_and_the_scheduler_goes_on() -> None:
    """Not a hang: an unexpected error in submit fails those children with it quoted."""
    async def main() -> None:
        sched, events, _ = make()
        sched.crash = FileNotFoundError("sbatch not found")
        async with sched:
            await sched.launch([req("a")])
            await until(lambda: EventKind.FAILED in kinds(events, "a"), "the failure")
            assert events[-1].reason == "sbatch not found"
            sched.crash = None
            await sched.launch([req("b")])
            await until(lambda: EventKind.SUBMITTED in kinds(events, "b"), "the next submission")
    asyncio.run(main())


def test_a_stopped_top_closes_at_once_cancelling_what_is_left_without_waiting_for_the_poll() -> None:
    async def main() -> None:
        sched, _, logs = make({"poll": "30"})  # a long poll interval: closing must not wait for it
        looks: list[float] = []

        async def leftovers(prefix: str) -> list[str] | None:
            looks.append(time.monotonic())
            assert prefix == ""  # the top looks for the whole run's jobs
            return [i for i, status in sched.jobs.items() if status.state in ("PD", "R")]

        async def cancel_found(ids: list[str]) -> None:
            sched.cancelled.append(list(ids))
            for native_id in ids:  # gone at the second look
                sched.jobs[native_id] = NativeStatus(native_id, "CD")

        sched.leftovers = leftovers  # type: ignore[method-assign]
        sched.cancel_leftovers = cancel_found  # type: ignore[method-assign]
        await sched.start()
        await sched.launch([req("ran"), req("queued")])
        await until(lambda: len(sched.jobs) == 2, "both submitted")
        sched.jobs["101"] = NativeStatus("101", "R")  # "ran" reported but is still leaving the queue
        sched.reported("ran")
        sched.stopping()
        started = time.monotonic()
        await sched.close()
        took = time.monotonic() - started
        assert took < 2.0, took
        assert sched.cancelled[0] == ["102"]  # what never reported, at once
        assert ["101"] in sched.cancelled[1:]  # found still there by the look: cancelled too
        assert len(looks) == 2 and not any("still leaving" in text for text in logs)
    asyncio.run(main())


def test_a_stopped_inner_tier_cancels_and_leaves_the_looking_to_the_top() -> None:
    async def main() -> None:
        inner = FakeBatch({"poll": "30", "submit_rate": "1000"},
                          SchedulerContext(path="top.g", token="t", tracking=Path("/tmp"), interval=1.0,
                                           grace=0.5, events=lambda event: None, log=lambda severity, text: None,
                                           run_id="0123456789", inherited={}))
        await inner.start()
        await inner.launch([req("a")])
        await until(lambda: inner.jobs, "the submission")
        inner.stopping()
        started = time.monotonic()
        await inner.close()
        assert time.monotonic() - started < 0.5
        assert inner.cancelled == [["101"]] and inner.queries == []  # no look, no status query
    asyncio.run(main())


def test_a_stopped_top_gives_up_looking_after_stop_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gator_core.sched.batch.STOP_WAIT", 1.0)

    async def main() -> None:
        sched, _, logs = make({"poll": "30"})

        async def stuck(prefix: str) -> list[str] | None:
            return ["55"]

        sched.leftovers = stuck  # type: ignore[method-assign]
        sched.stopping()
        started = time.monotonic()
        await sched.close()
        assert time.monotonic() - started < 1.6
        assert sched.cancelled == [["55"]]  # cancelled once, not at every look
        assert "still leaving the queue: 55" in logs[-1]
    asyncio.run(main())
