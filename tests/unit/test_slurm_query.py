"""The Slurm scheduler's status query, against scripted command answers: one call per
poll interval, squeue for live state, sacct (in the next interval) only for jobs that
ended without their child reporting.  The real commands are exercised in tests/cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gator_core.sched.contract import SchedulerContext
from gator_sched_slurm.slurm import SlurmScheduler


class Scripted(SlurmScheduler):
    """SlurmScheduler whose commands answer from a script instead of running."""

    def __init__(self, answers: dict[str, str], accounting: bool = True) -> None:
        context = SchedulerContext(path="top", token="t", tracking=Path("/tmp"), interval=1.0, grace=0.5,
                                   events=lambda event: None, log=lambda severity, text: self.logs.append(text),
                                   run_id="0123456789")
        super().__init__({"accounting": "true" if accounting else "false", "poll": "5"}, context)
        self.answers = answers
        self.ran: list[list[str]] = []
        self.logs: list[str] = []
        self.reported: set[str] = set()

    async def _run(self, argv: list[str], *, stdin: str | None = None,
                   env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        self.ran.append(argv)
        answer = self.answers[argv[0]]
        return (1, "", answer[6:]) if answer.startswith("error:") else (0, answer, "")

    def _has_reported(self, native_id: str) -> bool:
        return native_id in self.reported


def query(sched: Scripted, ids: list[str]) -> dict[str, Any]:
    statuses = asyncio.run(sched.query(ids))
    return {native_id: (status.state, status.returncode) for native_id, status in statuses.items()}


def test_live_jobs_cost_one_squeue_per_interval() -> None:
    sched = Scripted({"squeue": "10|RUNNING|None|n1\n11_0|PENDING|Priority|\n"})
    for _ in range(3):
        assert query(sched, ["10", "11_0"]) == {"10": ("RUNNING", None), "11_0": ("PENDING", None)}
    assert [argv[0] for argv in sched.ran] == ["squeue"] * 3


def test_a_job_that_ended_unreported_is_settled_by_sacct_in_the_next_interval_alone() -> None:
    sched = Scripted({"squeue": "10|RUNNING|None|n1\n12|RUNNING|None|n1\n",
                      "sacct": "10|OUT_OF_MEMORY|0:9|None|n1\n"})
    query(sched, ["10", "12"])
    sched.answers["squeue"] = "12|RUNNING|None|n1\n"  # 10 left the queue; its child never reported
    assert query(sched, ["10", "12"]) == {"10": ("RUNNING", None), "12": ("RUNNING", None)}  # as last seen
    assert query(sched, ["10", "12"]) == {"10": ("OUT_OF_MEMORY", -9), "12": ("RUNNING", None)}
    assert [argv[0] for argv in sched.ran] == ["squeue", "squeue", "sacct"]
    assert sched.ran[-1][sched.ran[-1].index("-j") + 1] == "10"  # sacct is asked about 10 alone
    query(sched, ["12"])
    assert sched.ran[-1][0] == "squeue"


def test_reported_jobs_and_no_accounting_never_reach_sacct() -> None:
    sched = Scripted({"squeue": "10|COMPLETED|None|n1\n"})
    sched.reported.add("10")
    assert query(sched, ["10"]) == {"10": ("COMPLETED", None)}
    plain = Scripted({"squeue": "10|CANCELLED|None|n1\n"}, accounting=False)
    assert query(plain, ["10"]) == {"10": ("CANCELLED", None)}
    assert [argv[0] for argv in sched.ran + plain.ran] == ["squeue", "squeue"]


def test_when_sacct_fails_squeues_final_state_stands_and_a_vanished_job_is_gone() -> None:
    sched = Scripted({"squeue": "10|RUNNING|None|n1\n20|RUNNING|None|n1\n"})
    query(sched, ["10", "20"])
    sched.answers.update(squeue="10|CANCELLED|None|n1\n", sacct="error:sacct: error: slurmdbd unreachable")
    query(sched, ["10", "20"])
    assert query(sched, ["10", "20"]) == {"10": ("CANCELLED", None)}  # 20: left without a final state
    assert any("slurmdbd unreachable" in line for line in sched.logs)
