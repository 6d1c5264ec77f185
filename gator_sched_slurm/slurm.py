"""``--scheduler slurm``: every child is a Slurm job, submitted with sbatch.

Options (``--sched-arg KEY=VALUE``), besides those of every batch scheduler
(see :class:`gator_core.BatchScheduler`: ``poll``, ``submit_rate``,
``max_queued``, ``array_throttle``, ``max_array``, ``retries``, ``host``,
``interface``):

* ``partition``, ``account``, ``qos``: as sbatch takes them;
* ``time``: each job's time limit, as ``sbatch --time`` takes it;
* ``sbatch_args``: more sbatch arguments, one string (``"--exclusive --nice=10"``);
* ``accounting``: ``true`` to also ask sacct about jobs that ended without
  reporting (their exit code, and states older than MinJobAge), ``false`` for
  squeue alone (default: true when the cluster keeps accounting).

Resources map onto sbatch: ``!Cores`` to ``--cpus-per-task``, ``!Memory`` to
``--mem``, ``!License`` to ``--licenses`` and ``!Feature`` to ``--constraint``.
The elements of a ``!JobArray`` go in as one Slurm array.  Tracking
directories must be on a filesystem the compute nodes share.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import time
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
    parse_bool,
)

from . import slurm_commands as cmd

__all__ = ["SlurmScheduler"]

COMMAND_TIMEOUT = 60.0  # seconds any one Slurm command may take


class SlurmScheduler(BatchScheduler):
    name = "slurm"
    description = "Slurm, through sbatch, squeue/sacct and scancel"
    STATES = cmd.STATES
    options = BatchScheduler.options + (
        Option("partition", str, None, "partition to submit to"),
        Option("account", str, None, "account to charge"),
        Option("qos", str, None, "quality of service"),
        Option("time", str, None, "time limit of each job (sbatch --time)"),
        Option("sbatch_args", shlex.split, [], "more sbatch arguments, e.g. '--exclusive --nice=10'"),
        Option("accounting", parse_bool, None,
               "ask sacct about jobs that ended unreported (true) or squeue alone (false); default: detect"),
    )

    def __init__(self, options: Mapping[str, str], context: Any) -> None:
        super().__init__(options, context)
        inherited = context.inherited or {}
        accounting = self.settings["accounting"]
        self._accounting: bool | None = accounting if accounting is not None else inherited.get("accounting")
        self._seen: dict[str, NativeStatus] = {}  # each job's status in the last squeue answer
        # Jobs squeue saw end without reporting (with squeue's final state, when it had one),
        # for sacct to give their exit code in the next interval.
        self._awaiting: dict[str, NativeStatus | None] = {}

    @property
    def status_latency(self) -> float:  # type: ignore[override]
        # With accounting, a job that died unreported is known one interval later (sacct).
        return super().status_latency + (self._poll_interval if self._accounting is not False else 0.0)

    async def _run(self, argv: list[str], *, stdin: str | None = None,
                   env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        self.count(argv[0])
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=dict(env) if env is not None else None)
        except FileNotFoundError:
            raise SchedulerError(f"{argv[0]} not found: is this a Slurm submission host?") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None),
                                              COMMAND_TIMEOUT)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise LaunchError(f"{argv[0]} did not answer within {COMMAND_TIMEOUT:g} s", transient=True) from None
        return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")

    async def start(self) -> None:
        missing = [name for name in ("sbatch", "squeue", "scancel") if shutil.which(name) is None]
        if missing:
            raise SchedulerError(f"{', '.join(missing)} not found on PATH: is this a Slurm submission host?")
        if self._accounting is None:
            self._accounting = await self._detect_accounting()
        await super().start()

    async def _detect_accounting(self) -> bool:
        try:
            code, out, _ = await self._run(["scontrol", "show", "config"])
        except (SchedulerError, LaunchError):
            return False
        for line in out.splitlines():
            if line.strip().startswith("AccountingStorageType"):
                return "accounting_storage/none" not in line
        return False

    # -- the back end ---------------------------------------------------------------------------
    async def submit(self, submission: Submission) -> list[str]:
        for request in submission.requests:  # Slurm opens the output file before the job runs
            os.makedirs(request.tracking, exist_ok=True)
        first = submission.requests[0]
        argv = cmd.sbatch_command(submission, self.settings, cmd.job_name(self.context.run_id, submission.path))
        script = cmd.batch_script(submission, first.argv)
        # URL and token go through the environment sbatch exports, never a command line.
        env = {**os.environ, **{k: v for k, v in first.env.items() if k != CHILD_KEY}}
        code, out, err = await self._run(argv, stdin=script, env=env)
        if code != 0:
            message = (err.strip() or out.strip() or f"exit code {code}").splitlines()[-1]
            raise LaunchError(f"sbatch failed (exit code {code}): {message}", transient=cmd.is_transient(err))
        try:
            job_id = cmd.parse_sbatch(out)
        except ValueError as exc:
            raise LaunchError(str(exc)) from None
        return cmd.task_ids(job_id, submission)

    async def query(self, native_ids: Sequence[str]) -> dict[str, NativeStatus]:
        """One call per poll interval.  squeue is live (sacct lags slurmctld by seconds, and
        so do its pending reasons), so it is the usual call.  When squeue shows that a job
        ended without its child reporting, and accounting is on, the next interval's call
        is sacct, for those jobs alone: it has their exit code, and outlives MinJobAge.
        Until then they keep the state last seen, and so do the others for that interval."""
        if self._awaiting:
            return await self._accounted(native_ids)
        statuses = await self.queued(native_ids)
        for native_id in native_ids:
            if native_id not in statuses and self._just_submitted(native_id):
                statuses[native_id] = NativeStatus(native_id, "PENDING")  # squeue can lag sbatch
        if self._accounting:
            for native_id in native_ids:
                seen = statuses.get(native_id)
                if (seen is None or self.STATES.get(seen.state) == "finished") and not self._has_reported(native_id):
                    self._awaiting[native_id] = seen
                    statuses[native_id] = self._seen.get(native_id) or NativeStatus(native_id, "PENDING")
        self._seen = {native_id: statuses[native_id] for native_id in native_ids if native_id in statuses}
        return statuses

    async def queued(self, native_ids: Sequence[str]) -> dict[str, NativeStatus]:
        code, out, err = await self._run(cmd.squeue_command(native_ids))
        if code != 0 and "invalid job id" not in err.lower():  # all aged out of slurmctld: none known
            raise SchedulerError(f"squeue failed (exit code {code}): {err.strip()}")
        return cmd.parse_squeue(out) if code == 0 else {}

    async def _accounted(self, native_ids: Sequence[str]) -> dict[str, NativeStatus]:
        """sacct for the jobs squeue saw end unreported; the rest as last seen."""
        awaiting, self._awaiting = self._awaiting, {}
        statuses = {native_id: self._seen[native_id] for native_id in native_ids if native_id in self._seen}
        ended = [native_id for native_id in native_ids if native_id in awaiting]
        if not ended:
            return statuses
        try:
            code, out, err = await self._run(cmd.sacct_command(ended))
            if code != 0:
                raise SchedulerError(f"sacct failed (exit code {code}): {err.strip()}")
        except (SchedulerError, LaunchError) as exc:
            self.context.log(Severity.WARNING, f"{exc}; using what squeue said of {len(ended)} jobs")
            out = ""
        accounted = cmd.parse_sacct(out)
        for native_id in ended:
            final = accounted.get(native_id)
            if final is not None and self.STATES.get(final.state) == "finished":
                statuses[native_id] = final
            elif awaiting[native_id] is not None:
                statuses[native_id] = awaiting[native_id]  # squeue's final state, without exit code
            else:
                statuses.pop(native_id, None)  # gone from both: left without a final state
        return statuses

    def _has_reported(self, native_id: str) -> bool:
        return self._by_native.get(native_id) in self._reported

    def _just_submitted(self, native_id: str) -> bool:
        key = self._by_native.get(native_id)
        tracked = self._tracked.get(key) if key else None
        return tracked is not None and time.monotonic() - tracked.submitted_at < 30

    async def cancel(self, native_ids: Sequence[str]) -> None:
        code, _, err = await self._run(cmd.scancel_command(native_ids))
        if code != 0 and "invalid job id" not in err.lower():
            raise SchedulerError(f"scancel failed (exit code {code}): {err.strip()}")

    async def kill(self, native_ids: Sequence[str]) -> None:
        # SIGKILL reaches what runs at once; the plain cancel then drops what is pending
        # (a signal is refused for a job that has not started).
        await self._run(cmd.scancel_command(native_ids, kill=True))
        await self.cancel(native_ids)

    async def leftovers(self, prefix: str) -> list[str] | None:
        try:
            code, out, _ = await self._run(["squeue", "-h", "--me", "-o", cmd.SWEEP_FORMAT])
        except (SchedulerError, LaunchError):
            return None
        return cmd.leftovers(out, cmd.job_name(self.context.run_id, prefix)) if code == 0 else None

    def explain(self, status: NativeStatus, log_path: str) -> NativeStatus:
        """A job killed for its memory without cgroups shows as FAILED (signal 9) in
        Slurm; slurmstepd's line in its output says why: report OUT_OF_MEMORY."""
        if status.state not in ("FAILED", "CANCELLED") or status.returncode not in (-9, None):
            return status
        try:
            with open(log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 8192))
                tail = handle.read().decode(errors="replace")
        except OSError:
            return status
        line = cmd.memory_kill(tail)
        if line is None:
            return status
        return NativeStatus(status.native_id, "OUT_OF_MEMORY", line, status.host, status.returncode)

    def export(self) -> dict[str, Any]:
        return {"accounting": self._accounting}

    def check_resources(self, path: str, resources: Any) -> str | None:
        return None  # Slurm itself refuses what can never fit, and we quote it
