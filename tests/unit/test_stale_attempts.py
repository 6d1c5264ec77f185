"""A tier tells a retried job's attempts apart by the attempt in their hello."""

from __future__ import annotations

from pathlib import Path

from gator_core import Job, JobGroup
from gator_core.config import NodeConfig, RunConfig
from gator_core.runtime.tier import Tier
from gator_core.states import ChildState
from gator_core.wire.protocol import Hello, decode, encode


def _tier(tmp_path: Path) -> Tier:
    spec = JobGroup(id="top", jobs=[Job(id="sim", command="true", retries=2), JobGroup(id="inner")])
    node = NodeConfig(path="top", tracking=str(tmp_path / "t"), cwd=[str(tmp_path)])
    run = RunConfig(run_id="0" * 32, tracking_root=str(tmp_path / "t"), launch_dir=str(tmp_path))
    (tmp_path / "t").mkdir()
    return Tier(spec, node, run, key="top", token="secret")


def test_an_earlier_attempt_is_refused_and_the_current_one_let_in(tmp_path: Path) -> None:
    tier = _tier(tmp_path)
    try:
        sim = tier.child("sim")
        assert tier._hello_problem(Hello("sim"), sim) is None  # attempt 1 of a job never retried
        sim.attempts = [{"attempt": 1, "result": "lost"}]
        sim.state = ChildState.LAUNCHED
        stale = Hello("sim", resume=True, attempt=1)
        assert tier._hello_problem(stale, sim) == "attempt 1 of 'sim' was replaced by attempt 2"
        assert tier._hello_problem(Hello("sim", attempt=2), sim) is None
        sim.state = ChildState.DONE  # finished: the old attempt may not repeat a final report either
        assert tier._hello_problem(stale, sim) == "attempt 1 of 'sim' was replaced by attempt 2"
        assert tier._hello_problem(Hello("sim", resume=True, attempt=2), sim) is None
        assert tier._hello_problem(Hello("sim", attempt=2), sim) == "child 'sim' has already finished"
        # Groups are never retried: a tier's hello is not judged by its attempt.
        assert tier._hello_problem(Hello("inner", attempt=5), tier.child("inner")) is None
        assert tier._hello_problem(Hello("nobody"), None) == "no child 'nobody' here"
    finally:
        tier.close()


def test_the_attempt_travels_in_hello_and_a_version_1_hello_means_the_first() -> None:
    assert decode(encode(Hello("k", attempt=3))) == Hello("k", attempt=3)
    assert decode('{"type":"hello","key":"k","version":1}') == Hello("k", version=1)
    assert Hello("k", version=1).attempt == 1
