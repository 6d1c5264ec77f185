"""What every scheduler guarantees (see gator_core/sched/contract.py), checked the same way for each.

The first part drives a scheduler directly, with plain commands as children;
the second runs real trees through `gator run --scheduler NAME`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from helpers import gator, gator_processes, logs, node, units, wait_for, write

from gator_core import ChildEvent, EventKind, LaunchRequest, Resources, SchedulerContext

PY = sys.executable


class Recorder:
    def __init__(self) -> None:
        self.events: list[ChildEvent] = []
        self.closed = False
        self.after_close: list[ChildEvent] = []

    def __call__(self, event: ChildEvent) -> None:
        (self.after_close if self.closed else self.events).append(event)

    def final(self, key: str) -> list[ChildEvent]:
        return [e for e in self.events if e.key == key and e.kind.final]

    async def wait_final(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + units(timeout)
        while any(not self.final(k) for k in keys):
            if time.monotonic() > deadline:
                missing = [k for k in keys if not self.final(k)]
                raise AssertionError(f"no final event for {missing} within {units(timeout):.0f} s")
            await asyncio.sleep(0.02)


def make(scheduler_cls: type, tmp_path: Path, recorder: Recorder, options: dict[str, str], **more: str) -> Any:
    context = SchedulerContext(path="test", token="t0ken", tracking=tmp_path, interval=1.0, grace=1.0,
                               events=recorder, log=lambda severity, text: None, run_id="0123456789abcdef")
    return scheduler_cls({**options, **more}, context)


def request(tmp_path: Path, key: str, code: str, cores: int | None = 1, env: dict[str, str] | None = None
            ) -> LaunchRequest:
    return LaunchRequest(key=key, path=f"test.{key}", kind="job", argv=(PY, "-c", code),
                         env=env or {}, cwd=str(tmp_path), tracking=str(tmp_path / key),
                         resources=Resources(cores=cores))


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, units(120)))


def test_children_run_with_the_given_environment_and_report_one_final_event(scheduler_cls, scheduler_options,
                                                                         same_filesystem, tmp_path):
    recorder = Recorder()
    # The child says what it saw through its exit status: 3 when the variable
    # arrived (and, where children share this machine's files, the directory too).
    wanted_cwd = repr(str(tmp_path)) if same_filesystem else "os.getcwd()"
    code = f"import os; raise SystemExit(3 if os.environ.get('GATOR_X') == 'seen' and os.getcwd() == {wanted_cwd} else 4)"

    async def scenario() -> None:
        async with make(scheduler_cls, tmp_path, recorder, scheduler_options) as sched:
            await sched.launch([request(tmp_path, "a", code, env={"GATOR_X": "seen"}),
                                request(tmp_path, "b", "pass")])
            await recorder.wait_final(["a", "b"], 30)

    run(scenario())
    assert [(e.kind, e.returncode) for e in recorder.final("a")] == [(EventKind.EXITED, 3)]
    assert [(e.kind, e.returncode) for e in recorder.final("b")] == [(EventKind.EXITED, 0)]


def test_a_child_that_cannot_start_ends_with_a_reason(scheduler_cls, scheduler_options, tmp_path):
    recorder = Recorder()

    async def scenario() -> None:
        async with make(scheduler_cls, tmp_path, recorder, scheduler_options) as sched:
            bad = LaunchRequest(key="x", path="test.x", kind="job", argv=("/no/such/interpreter", "-c", "1"),
                                env={}, cwd=str(tmp_path), tracking=str(tmp_path / "x"))
            await sched.launch([bad])
            await recorder.wait_final(["x"], 30)

    run(scenario())
    (event,) = recorder.final("x")
    assert event.kind is EventKind.FAILED or (event.returncode or 0) != 0
    if event.kind is EventKind.FAILED:
        assert event.reason


def test_launch_returns_at_once_and_terminate_ends_running_and_queued_children(scheduler_cls, scheduler_options,
                                                                             tmp_path):
    marker = f"{uuid.uuid4().hex}"
    recorder = Recorder()
    sleeper = f"import time; time.sleep(300)  # {marker}"

    async def scenario() -> float:
        async with make(scheduler_cls, tmp_path, recorder, scheduler_options,
                        **_one_at_a_time(scheduler_cls)) as sched:
            started = time.monotonic()
            await sched.launch([request(tmp_path, f"s{i}", sleeper) for i in range(4)])
            took = time.monotonic() - started
            await asyncio.sleep(0.3)
            wait_for(lambda: gator_processes(marker), 30, "a child to start")
            await sched.terminate([f"s{i}" for i in range(4)])
            await recorder.wait_final([f"s{i}" for i in range(4)], 30)
            return took

    took = run(scenario())
    assert took < units(5)
    for i in range(4):
        assert len(recorder.final(f"s{i}")) == 1
    assert gator_processes(marker) == []


def test_close_leaves_no_child_and_sends_nothing_after(scheduler_cls, scheduler_options, tmp_path):
    marker = f"{uuid.uuid4().hex}"
    recorder = Recorder()

    async def scenario() -> None:
        sched = make(scheduler_cls, tmp_path, recorder, scheduler_options)
        async with sched:
            await sched.launch([request(tmp_path, f"c{i}", f"import time; time.sleep(300)  # {marker}")
                                for i in range(2)])
            await asyncio.sleep(0.3)
            wait_for(lambda: gator_processes(marker), 30, "children to start")
        recorder.closed = True
        await sched.close()  # idempotent
        await asyncio.sleep(0.5)

    run(scenario())
    assert gator_processes(marker) == []
    assert recorder.after_close == []


def _one_at_a_time(scheduler_cls: type) -> dict[str, str]:
    names = {option.name for option in scheduler_cls.all_options()}
    return {"concurrency": "1"} if "concurrency" in names else {"slots": "1"} if "slots" in names else {}


# -- whole trees -------------------------------------------------------------------------------

SPEC = """
!JobGroup
  id: top
  jobs:
  - !Job {id: ok, command: echo, args: [hello]}
  - !Job {id: bad, command: sh, args: [-c, 'exit 2']}
  - !JobArray
      id: arr
      repeats: 3
      on_fail: [bad]
      jobs:
      - !Job {id: e, command: sh, args: [-c, 'echo $GATOR_ARRAY_INDEX']}
  - !JobGroup {id: g, on_pass: [ok], jobs: [!Job {id: inner, command: 'true'}]}
"""


def test_a_tree_runs_with_results_and_dependencies(scheduler_name, scheduler_env, scheduler_args, tmp_path):
    spec = write(tmp_path / "s.yaml", SPEC)
    tracking = tmp_path / "t"
    gator("run", spec, "-t", tracking, "--scheduler", scheduler_name, *scheduler_args, env=scheduler_env,
          cwd=tmp_path, check=1)
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert node(tree, "top.ok")["result"] == "pass"
    assert node(tree, "top.bad")["exit_code"] == 2
    assert [node(tree, f"top.arr.e_{i}")["result"] for i in range(3)] == ["pass"] * 3
    assert node(tree, "top.g.inner")["result"] == "pass"
    assert tree["jobs"]["total"] == 6 and tree["jobs"]["failed"] == 1


def test_an_interrupted_tree_leaves_nothing_behind(scheduler_name, scheduler_env, scheduler_args, tmp_path):
    import subprocess

    marker = f"{100 + uuid.uuid4().int % 100}.{uuid.uuid4().int % 1000}"
    spec = write(tmp_path / "s.yaml", f"!JobGroup\n  jobs:\n  - !JobGroup {{id: g, jobs: "
                 f"[!Job {{command: sleep, args: ['{marker}']}}]}}\n  - !Job {{command: sleep, args: ['{marker}']}}\n")
    import os

    proc = subprocess.Popen([PY, "-m", "gator_core.cli", "run", str(spec), "-t", str(tmp_path / "t"),
                             "--scheduler", scheduler_name, *scheduler_args, "--grace", "1"],
                            cwd=tmp_path, env={**os.environ, **scheduler_env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: len(gator_processes(marker)) >= 2, 60, "both jobs to start")
    proc.terminate()
    assert proc.wait(timeout=units(60)) == 130
    wait_for(lambda: not gator_processes(marker), 10, "every process of the run to end")


def test_children_that_had_not_started_when_the_run_stopped_are_cancelled(
        scheduler_name, scheduler_cls, scheduler_env, scheduler_args, tmp_path):
    """What waited (for a dependency, or for the scheduler's only slot) never ran: it is
    cancelled, not failed, lost or skipped; what ran was stopped and failed."""
    import os
    import subprocess

    marker = f"{200 + uuid.uuid4().int % 100}.{uuid.uuid4().int % 1000}"
    spec = write(tmp_path / "s.yaml", f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: runs, command: sleep, args: ['{marker}']}}
  - !Job {{id: waits, command: 'true', on_pass: [runs]}}
  - !JobArray {{id: arr, repeats: 2, jobs: [!Job {{id: q, command: sleep, args: ['{marker}']}}]}}
""")
    one_slot = [arg for key, value in _one_at_a_time(scheduler_cls).items() for arg in ("--sched-arg", f"{key}={value}")]
    proc = subprocess.Popen([PY, "-m", "gator_core.cli", "run", str(spec), "-t", str(tmp_path / "t"),
                             "--scheduler", scheduler_name, *scheduler_args, *one_slot, "--grace", "1"],
                            cwd=tmp_path, env={**os.environ, **scheduler_env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: gator_processes(marker), 60, "a job to start")
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(2)  # SIGINT
    out, err = proc.communicate(timeout=units(60))
    assert proc.returncode == 130, out + err
    assert time.monotonic() - sent < 10, "stopping took too long"
    tree = json.loads(gator("show", tmp_path / "t", "--json", check=0).stdout)
    waits = node(tree, "top.waits")
    assert (waits["result"], waits["reason"]) == ("cancelled", "not started: interrupted by SIGINT")
    jobs = [node(tree, path) for path in ("top.runs", "top.arr.q_0", "top.arr.q_1")]
    ran = [job for job in jobs if job["result"] == "fail"]
    waited = [job for job in jobs if job["result"] == "cancelled"]
    assert len(ran) + len(waited) == 3 and ran, [(job["path"], job["result"]) for job in jobs]
    assert all("stopped (interrupted by SIGINT)" in job["reason"] for job in ran)
    assert all(job["reason"] == "not started: interrupted by SIGINT" for job in waited)
    if _one_at_a_time(scheduler_cls):  # one slot: exactly one job ran
        assert len(ran) == 1
    assert tree["jobs"]["cancelled"] == len(waited) + 1
    wait_for(lambda: not gator_processes(marker), 10, "every process of the run to end")


def test_time_limits_stop_a_job_and_a_group_with_the_result_timeout(
        scheduler_name, scheduler_env, scheduler_args, tmp_path):
    """A job past its timeout is stopped (its process tree, even one ignoring SIGTERM) and
    ends as timeout; a group's timeout bounds its whole subtree; a dependant on_fail runs."""
    marker = f"{300 + uuid.uuid4().int % 100}.{uuid.uuid4().int % 1000}"
    spec = write(tmp_path / "s.yaml", f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: slow, command: sh, args: [-c, "trap '' TERM; sleep {marker}"], timeout: 3s}}
  - !Job {{id: quick, command: 'true', timeout: 1h}}
  - !Job {{id: then, command: 'true', on_fail: [slow]}}
  - !JobGroup
      id: grp
      timeout: 4
      jobs:
      - !Job {{id: inner, command: sleep, args: ['{marker}']}}
""")
    started = time.monotonic()
    gator("run", spec, "-t", tmp_path / "t", "--scheduler", scheduler_name, *scheduler_args, "--grace", "1",
          env=scheduler_env, cwd=tmp_path, check=1, timeout=180)
    tree = json.loads(gator("show", tmp_path / "t", "--json", check=0).stdout)
    slow, grp, inner = node(tree, "top.slow"), node(tree, "top.grp"), node(tree, "top.grp.inner")
    assert (slow["result"], slow["reason"]) == ("timeout", "ran past its 3s limit")
    assert slow["exit_code"] == -9  # it ignored SIGTERM: killed after the grace period
    assert 3 <= slow["duration"] < 3 + 1 + 3  # the limit, the grace, and some slack
    assert node(tree, "top.quick")["result"] == "pass" and node(tree, "top.then")["result"] == "pass"
    assert (grp["result"], grp["reason"]) == ("timeout", "ran past its 4s limit")
    assert inner["result"] == "fail" and "ran past its 4s limit" in inner["reason"]
    assert tree["jobs"]["failed"] == 2 and tree["result"] == "fail"
    assert not gator_processes(marker)
    assert time.monotonic() - started < units(120)


def test_runners_start_jobs_through_a_shell_or_python(scheduler_name, scheduler_env, scheduler_args, tmp_path):
    """What a runner builds is started by the wrapper wherever the scheduler put it."""
    spec = write(tmp_path / "s.yaml", """
!JobGroup
  id: top
  jobs:
  - !Job {id: sh, command: 'echo "sum=$(($1 + $2)) n=$#"', args: ["2", "3"], shell: true}
  - !Job {id: py, command: 'platform:python_version', runner: python}
  - !Job {id: raises, command: 'json:loads', args: ['not json'], runner: python}
""")
    gator("run", spec, "-t", tmp_path / "t", "--scheduler", scheduler_name, *scheduler_args, env=scheduler_env,
          cwd=tmp_path, check=1)
    tree = json.loads(gator("show", tmp_path / "t", "--json", check=0).stdout)
    assert logs(tmp_path / "t", "top.sh") == ["sum=5 n=2"]
    assert node(tree, "top.py")["result"] == "pass"
    raises = node(tree, "top.raises")
    assert raises["result"] == "fail" and raises["exit_code"] == 1
    assert any("JSONDecodeError" in line for line in logs(tmp_path / "t", "top.raises", "--severity", "error"))


def test_a_lost_job_is_retried_and_its_final_attempt_decides(scheduler_name, scheduler_env, scheduler_args,
                                                            tmp_path):
    """A job whose wrapper is killed (lost, as on a node failure) is launched again by its
    tier, on every scheduler; the earlier attempt is kept beside it."""
    counter = Path("/tmp") / f"gator-retry-{uuid.uuid4().hex}"  # the same file for every host of this machine
    spec = write(tmp_path / "s.yaml", f"""
!JobGroup
  id: top
  jobs:
  - !Job
      id: once
      command: sh
      args: [-c, 'n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; [ $n -ge 1 ] || kill -9 $PPID; echo done']
      retries: 2
""")
    try:
        gator("run", spec, "-t", tmp_path / "t", "--scheduler", scheduler_name, *scheduler_args, "--interval", "1",
              env=scheduler_env, cwd=tmp_path, check=0, timeout=240)
    finally:
        counter.unlink(missing_ok=True)
    tree = json.loads(gator("show", tmp_path / "t", "--json", check=0).stdout)
    once = node(tree, "top.once")
    assert once["result"] == "pass", once
    assert [attempt["result"] for attempt in once["attempts"]] == ["lost"]
    assert Path(once["attempts"][0]["tracking"]).name == "once.attempt-1"
