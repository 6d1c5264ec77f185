"""A tier's dependency bookkeeping, driven by hand (no processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gator_core import loads_spec
from gator_core.config import NodeConfig, RunConfig
from gator_core.runtime.dependencies import READY, Dependencies
from gator_core.runtime.plan import plan_children
from gator_core.runtime.tier import Tier
from gator_core.sched.contract import ChildEvent, EventKind, Scheduler


def tier(text: str, watch: list[str] | None = None):
    spec = loads_spec(text)
    children = plan_children(spec)
    return {c.key: c for c in children}, Dependencies(spec, children, watch or [])


def finish(child, outcome: str) -> None:
    child.state, child.outcome = "done", outcome


def test_ready_waiting_and_skipped():
    kids, deps = tier("!JobGroup\n  jobs:\n  - !Job {id: a, command: x}\n  - !Job {id: b, command: x}\n"
                      "  - !Job {id: c, command: x, on_pass: [a], on_fail: [b]}\n")
    assert deps.check(kids["c"]) is None  # both still running
    finish(kids["a"], "pass")
    assert deps.check(kids["c"]) is None
    finish(kids["b"], "pass")
    assert deps.check(kids["c"]) == "on_fail: 'b' passed"
    kids["b"].outcome = "fail"
    assert deps.check(kids["c"]) == READY
    assert [d.key for d in deps.dependants_of(kids["a"])] == ["c"]


def test_a_condition_that_can_no_longer_hold_skips_at_once():
    kids, deps = tier("!JobGroup\n  jobs:\n  - !Job {id: a, command: x}\n  - !Job {id: b, command: x}\n"
                      "  - !Job {id: c, command: x, on_pass: [a, b]}\n")
    finish(kids["a"], "fail")
    assert deps.check(kids["c"]) == "on_pass: 'a' failed"  # without waiting for b


def test_array_repetitions_depend_on_their_own_index():
    kids, deps = tier("!JobArray\n  repeats: 2\n  jobs:\n  - !Job {id: a, command: x}\n"
                      "  - !Job {id: b, command: x, on_pass: [a]}\n")
    finish(kids["a_1"], "pass")
    assert deps.check(kids["b_1"]) == READY and deps.check(kids["b_0"]) is None
    assert [d.key for d in deps.dependants_of(kids["a_0"])] == ["b_0"]


def test_watched_paths_are_passed_down_and_decided_over_every_element():
    kids, deps = tier("!JobArray\n  id: arr\n  repeats: 2\n  jobs:\n"
                      "  - !JobGroup {id: g, jobs: [!Job {id: j, command: x}]}\n", watch=["g.j", "g"])
    assert deps.watch_for(kids["g_0"]) == ["j"]
    kids["g_0"].watched = {"j": "pass"}
    assert deps.newly_decided() == {}  # g_1 has not said
    kids["g_1"].watched = {"j": "fail"}
    assert deps.newly_decided() == {"g.j": "fail"}
    finish(kids["g_0"], "pass")
    finish(kids["g_1"], "skipped")
    assert deps.newly_decided() == {"g": "skipped"}
    assert deps.newly_decided() == {}  # each decided once



def array_tier(tmp_path: Path, text: str) -> Tier:
    """A real Tier for the array ``text`` (key ``arr``), with no scheduler and no server."""
    (tmp_path / "t").mkdir()
    node = NodeConfig(path="arr", tracking=str(tmp_path / "t"), cwd=[str(tmp_path)])
    run = RunConfig(run_id="0" * 32, tracking_root=str(tmp_path / "t"), launch_dir=str(tmp_path))
    return Tier(loads_spec(text), node, run, key="arr", token="secret")


class Recording(Scheduler):
    """Takes every request and starts none by itself; ``window`` is its launch window."""

    name = "recording"

    def __init__(self, options, context, window: int | None = None) -> None:
        super().__init__(options, context)
        self.window = window
        self.launched: list[str] = []

    def launch_window(self) -> int | None:
        return self.window

    async def launch(self, requests):
        self.launched += [request.key for request in requests]

    async def terminate(self, keys):
        pass

    async def close(self):
        pass


def launch_all(tier: Tier, window: int | None = None) -> Recording:
    """Give the tier a Recording scheduler and make every child ready (in a running loop)."""
    tier.scheduler = sched = Recording({}, tier.scheduler_context(), window)
    for child in tier.children:
        tier._consider(child)
    return sched


def test_an_array_finds_its_children_by_key_without_a_dict(tmp_path):
    tier = array_tier(tmp_path, "!JobArray\nid: arr\nrepeats: 4\njobs:\n- !Job {id: my_t, command: 'true'}\n"
                                "- !Job {command: 'true'}\n")
    try:
        assert tier.deps._by_key is None
        found = [tier.child(key) for key in ("my_t_0", "T1_0", "my_t_3", "T1_3")]
        assert [child.key for child in found] == ["my_t_0", "T1_0", "my_t_3", "T1_3"]
        assert [(child.decl, child.index) for child in found] == [(0, 0), (1, 0), (0, 3), (1, 3)]
        for missing in ("my_t_4", "my_t_03", "my_t_x", "other_1", "my_t", "T1_-1"):
            assert tier.child(missing) is None, missing
    finally:
        tier.close()


def test_children_queued_at_the_scheduler_are_counted_not_watched(tmp_path):
    # All 100,000 of an array can sit in a scheduler's queue at once: the monitor and the
    # live summary visit only children that started or have news; the queued ones are a
    # count.
    tier = array_tier(tmp_path, "!JobArray\nid: arr\nrepeats: 1200\njobs:\n- !Job {id: t, command: 'true'}\n")

    async def scenario() -> None:
        sched = launch_all(tier)
        await tier._launch_ready()
        assert len(sched.launched) == len(tier.active) == 1200
        assert tier._live == {}
        jobs = tier.current_summary()["jobs"]
        assert (jobs["pending"], jobs["running"], jobs["total"]) == (1200, 0, 1200)

        tier._on_event(ChildEvent("t_7", EventKind.RUNNING, native_id="7"))
        tier._on_event(ChildEvent("t_9", EventKind.EXITED, returncode=1))  # ended before it connected
        assert tier.child("t_7").started_at > 0
        assert tier.child("t_9").state.name == "DONE"  # not connected, no report: settled at once
        assert sorted(tier._live) == ["t_7"] and "t_9" not in tier.active
        assert tier._queued_jobs == 1198
        jobs = tier.current_summary()["jobs"]
        assert (jobs["pending"], jobs["total"]) == (1199, 1200)  # t_7 started, not yet connected
        assert jobs["lost"] == 1

    try:
        asyncio.run(scenario())
    finally:
        tier.close()


def test_a_launch_window_holds_the_rest_until_children_end(tmp_path):
    tier = array_tier(tmp_path, "!JobArray\nid: arr\nrepeats: 25\njobs:\n- !Job {id: t, command: 'true'}\n")

    async def scenario() -> None:
        sched = launch_all(tier, window=10)
        await tier._launch_ready()
        assert sched.launched == [f"t_{i}" for i in range(10)] and len(tier._ready) == 15
        await tier._launch_ready()  # the window is full: nothing more
        assert len(sched.launched) == 10
        for i in (0, 4, 9):  # three end (they never connected: lost)
            tier._on_event(ChildEvent(f"t_{i}", EventKind.EXITED, returncode=1))
        await tier._launch_ready()
        assert sched.launched[10:] == ["t_10", "t_11", "t_12"] and len(tier.active) == 10
        jobs = tier.current_summary()["jobs"]
        assert (jobs["pending"], jobs["lost"], jobs["total"]) == (22, 3, 25)

    try:
        asyncio.run(scenario())
    finally:
        tier.close()
