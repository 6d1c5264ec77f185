"""``--scheduler sge``: every child is a Grid Engine job, submitted through DRMAA.

Options (``--sched-arg KEY=VALUE``), besides those of every batch scheduler
(see :class:`gator_core.BatchScheduler`):

* ``queue``, ``project``: as qsub's ``-q`` and ``-P``;
* ``time``: each job's hard run-time limit (``h_rt``, e.g. ``1:00:00``); a job
  Grid Engine kills at its ``h_rt`` ends with the state ``TIMEOUT`` (see
  :func:`gator_sched_slurm.sge_native.status_from_info`);
* ``pe``: the parallel environment ``!Cores`` asks slots of (default ``smp``);
* ``memory_resource``: the resource ``!Memory`` is requested as, per slot
  (default ``h_vmem``, which Grid Engine enforces; ``mem_free`` only places);
* ``native``: more qsub options, one string (``"-l arch=lx-amd64"``).

``!License`` becomes ``-l NAME=COUNT`` (a consumable complex of that name must
exist) and ``!Feature`` becomes ``-l NAME=TRUE``.  The elements of a
``!JobArray`` go in as bulk jobs: one for each run of consecutive indices.

The DRMAA library is loaded by an agent process (see
:mod:`gator_sched_slurm.drmaa_agent`), found through ``DRMAA_LIBRARY_PATH``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shlex
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from typing import Any

from gator_core import (
    CHILD_KEY,
    BatchScheduler,
    LaunchError,
    NativeStatus,
    Option,
    SchedulerError,
    Severity,
    Submission,
)

from . import sge_native as native

__all__ = ["SgeScheduler", "agent_environment"]

AGENT_TIMEOUT = 60.0  # seconds one DRMAA call (through the agent) may take
PROBE_LIMIT = 200  # jobs asked about one by one in a poll (ended jobs come for free)
DEBIAN_LIBRARY = "/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0"
# Grid Engine's libdrmaa pulls in jemalloc, which needs room in the static TLS
# block that only a process started with this tunable has.
TLS_TUNABLE = "glibc.rtld.optional_static_tls=16384"


def agent_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment the DRMAA agent starts with."""
    env = dict(base)
    tunables = env.get("GLIBC_TUNABLES", "")
    if "optional_static_tls" not in tunables:
        env["GLIBC_TUNABLES"] = f"{tunables}:{TLS_TUNABLE}" if tunables else TLS_TUNABLE
    if not env.get("DRMAA_LIBRARY_PATH") and os.path.exists(DEBIAN_LIBRARY):
        env["DRMAA_LIBRARY_PATH"] = DEBIAN_LIBRARY
    return env


def _missing_library_hint(env: Mapping[str, str]) -> str:
    where = env.get("DRMAA_LIBRARY_PATH")
    if where:
        return f"DRMAA_LIBRARY_PATH is {where}: is that Grid Engine's libdrmaa.so, and is SGE_ROOT set?"
    return ("set DRMAA_LIBRARY_PATH to Grid Engine's libdrmaa.so "
            f"(on Debian, package gridengine-drmaa1.0: {DEBIAN_LIBRARY}), and SGE_ROOT and SGE_CELL")


class SgeScheduler(BatchScheduler):
    name = "sge"
    description = "Grid Engine, through DRMAA"
    STATES = native.STATES
    options = BatchScheduler.options + (
        Option("queue", str, None, "queue to submit to (qsub -q)"),
        Option("project", str, None, "project to charge (qsub -P)"),
        Option("time", str, None, "hard run-time limit of each job (h_rt), e.g. 1:00:00"),
        Option("pe", str, "smp", "parallel environment !Cores asks slots of"),
        Option("memory_resource", str, "h_vmem", "resource !Memory is requested as, per slot"),
        Option("native", shlex.split, [], "more qsub options, e.g. '-l arch=lx-amd64'"),
    )

    def __init__(self, options: Mapping[str, str], context: Any) -> None:
        super().__init__(options, context)
        self._agent: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._probe_turn = 0  # rotates through running jobs, PROBE_LIMIT at a time
        # native id -> the hard run-time limit (h_rt, seconds) it was submitted with, to
        # tell a kill at that limit (a timeout) from other kills when it ends.
        self._h_rt: dict[str, float] = {}

    # -- the agent ------------------------------------------------------------------------------
    async def _start_agent(self) -> None:
        env = agent_environment(os.environ)
        self.count("drmaa-agent")
        self._agent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gator_sched_slurm.drmaa_agent",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            ready = await self._read_answer()
        except SchedulerError as exc:
            await self._stop_agent()
            raise SchedulerError(f"the DRMAA agent did not start: {exc}; {_missing_library_hint(env)}") from None
        if not ready.get("ok"):
            await self._stop_agent()
            error = str(ready.get("error"))
            hint = f"; {_missing_library_hint(env)}" if "load the DRMAA library" in error else ""
            raise SchedulerError(f"Grid Engine's DRMAA session did not start: {error}{hint}")

    async def _read_answer(self) -> dict[str, Any]:
        assert self._agent is not None and self._agent.stdout is not None
        try:
            line = await asyncio.wait_for(self._agent.stdout.readline(), AGENT_TIMEOUT)
        except asyncio.TimeoutError:
            raise SchedulerError(f"no answer within {AGENT_TIMEOUT:g} s") from None
        if not line:
            code = await self._agent.wait()
            raise SchedulerError(f"the agent ended (exit status {code})")
        return json.loads(line)

    async def _stop_agent(self) -> None:
        agent, self._agent = self._agent, None
        if agent is None:
            return
        if agent.returncode is None:
            try:
                assert agent.stdin is not None
                agent.stdin.write(b'{"op": "exit"}\n')
                await agent.stdin.drain()
                await asyncio.wait_for(agent.wait(), 10)
            except (OSError, asyncio.TimeoutError, ConnectionError):
                agent.kill()
                await agent.wait()

    async def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        """One request to the agent; an agent that died or hung is replaced once."""
        async with self._lock:
            for attempt in (1, 2):
                if self._agent is None or self._agent.returncode is not None:
                    await self._start_agent()
                assert self._agent is not None and self._agent.stdin is not None
                try:
                    self.count(f"drmaa-{op}")
                    self._agent.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
                    await self._agent.stdin.drain()
                    answer = await self._read_answer()
                except (SchedulerError, OSError, ConnectionError) as exc:
                    if self._agent is not None:
                        self._agent.kill()
                        await self._agent.wait()
                    self._agent = None
                    if attempt == 2:
                        raise SchedulerError(f"the DRMAA agent failed: {exc}") from None
                    self.context.log(Severity.WARNING, f"the DRMAA agent failed ({exc}); starting a new one")
                    continue
                return answer
        raise AssertionError("unreachable")

    # -- the contract ------------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._lock:
            await self._start_agent()
        await super().start()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            async with self._lock:
                await self._stop_agent()

    # -- the back end ---------------------------------------------------------------------------
    def split(self, submission: Submission) -> list[Submission]:
        return native.split_for_bulk(submission)  # a bulk job covers consecutive indices only

    async def submit(self, submission: Submission) -> list[str]:
        for request in submission.requests:  # Grid Engine opens the output file before the job runs
            os.makedirs(request.tracking, exist_ok=True)
        first = submission.requests[0]
        env = {**os.environ, **first.env}
        env.pop(CHILD_KEY, None)  # set by the job's own script (it differs per task)
        template = native.job_template(submission, first.argv, env, self.settings,
                                       native.job_name(self.context.run_id, submission.path))
        try:
            answer = await self._request("submit", template=template)
        except SchedulerError as exc:
            raise LaunchError(str(exc), transient=True) from None
        if not answer.get("ok"):
            raise LaunchError(f"Grid Engine refused the job: {answer.get('error')}",
                              transient=bool(answer.get("transient")))
        ids = native.bulk_ids(answer["ids"], submission)
        h_rt = native.h_rt_seconds(template["nativeSpecification"])
        if h_rt is not None:
            self._h_rt.update(dict.fromkeys(ids, h_rt))
        return ids

    async def query(self, native_ids: Sequence[str]) -> dict[str, NativeStatus]:
        pending = [i for i in native_ids if not self._is_running(i)]
        running = [i for i in native_ids if self._is_running(i)]
        # Ended jobs come back for every id (DRMAA collects them without asking the
        # qmaster); a bounded number are probed one by one for their state.
        probe = pending[:PROBE_LIMIT]
        room = max(0, PROBE_LIMIT - len(probe))
        if running and room:
            start = self._probe_turn % len(running)
            probe += (running[start:] + running[:start])[:room]
            self._probe_turn = start + room
        answer = await self._request("query", ids=list(native_ids), probe=probe)
        if not answer.get("ok"):
            raise SchedulerError(str(answer.get("error")))
        out: dict[str, NativeStatus] = {}
        probed = set(probe)
        for native_id in native_ids:
            found = answer["statuses"].get(native_id)
            if found is None:
                if native_id in probed:
                    self._h_rt.pop(native_id, None)
                    continue  # Grid Engine does not know it: gone
                state = "running" if self._is_running(native_id) else "queued_active"
                out[native_id] = NativeStatus(native_id, state)
            elif "ended" in found:
                status = native.status_from_info(native_id, found["ended"], self._h_rt.pop(native_id, None))
                if status.state == "ABORTED" and self._is_running(native_id):
                    # DRMAA says "aborted" for a job deleted while it ran, too.
                    status = NativeStatus(native_id, "DELETED", "deleted while it ran (qdel)", None,
                                          status.returncode)
                out[native_id] = status
            else:
                out[native_id] = NativeStatus(native_id, found["state"], None)
        return out

    def _is_running(self, native_id: str) -> bool:
        key = self._by_native.get(native_id)
        tracked = self._tracked.get(key) if key else None
        return bool(tracked and tracked.running)

    async def cancel(self, native_ids: Sequence[str]) -> None:
        answer = await self._request("cancel", ids=list(native_ids))
        if not answer.get("ok"):
            raise SchedulerError(f"deleting jobs failed: {answer.get('error')}")

    async def leftovers(self, prefix: str) -> list[str] | None:
        """Whole job numbers (qdel takes them for every task) of the run's jobs under
        ``prefix``: jobs of tiers that died are left behind, their DRMAA sessions
        having ended without deleting them."""
        name = native.job_name(self.context.run_id, prefix)
        try:
            proc = await asyncio.create_subprocess_exec(
                "qstat", "-xml", "-u", getpass.getuser(), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL)
            out, _ = await asyncio.wait_for(proc.communicate(), AGENT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return None
        self.count("qstat")
        return sorted({job_id for job_id, job_name, state in parse_qstat_xml(out.decode(errors="replace"))
                       if job_name.startswith(name) and state in ("pending", "running")})

    async def cancel_leftovers(self, native_ids: list[str]) -> None:
        """qdel, not DRMAA: the ids are job numbers from qstat, maybe of other sessions."""
        try:
            proc = await asyncio.create_subprocess_exec(
                "qdel", *native_ids, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await asyncio.wait_for(proc.wait(), AGENT_TIMEOUT)
            self.count("qdel")
        except (OSError, asyncio.TimeoutError):
            self.context.log(Severity.ERROR, f"qdel of {len(native_ids)} jobs of this run failed")


def parse_qstat_xml(text: str) -> list[tuple[str, str, str]]:
    """(job number, job name, state: pending or running) of each job in ``qstat -xml``."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return []
    out = []
    for job in root.iter("job_list"):
        number, name = job.findtext("JB_job_number"), job.findtext("JB_name")
        if number and name:
            out.append((number.strip(), name.strip(), job.get("state", "running")))
    return out
