"""The wrapper: runs one job, records everything about it, decides pass or fail.

The job starts with stdin from /dev/null, in a new session (so in its own
process group), with the environment described in :mod:`gator_core.envvars`.
Its stdout and stderr are read in large chunks and split into lines (see
:mod:`gator_core.lines`); stdout lines are INFO and stderr lines ERROR, as in
the seed system.  CPU and RSS of the whole process tree are sampled while it
runs (see :class:`~gator_core.procs.TreeSampler`); at the end, CPU time comes
from the kernel's accounting of every descendant that was waited for.

Pass means exit code 0 and message counts within the run's limits.
"""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from .config import NodeConfig, RunConfig
from .envvars import array_variables, expand, job_environment
from .lines import LineSplitter
from .procs import TreeSampler, become_subreaper, describe_status, reap_zombies, signal_tree
from .spec.model import Job
from .store import LOG_NAME, SEVERITIES, SEVERITY_NAMES, Store
from .summary import job_counts, new_summary
from .uplink import UpLink

__all__ = ["Wrapper", "SAMPLE_INTERVAL", "FIRST_SAMPLES", "FLUSH_INTERVAL", "DRAIN_TIMEOUT"]

SAMPLE_INTERVAL = 1.0  # seconds between CPU/memory samples of the job's tree
# The first samples come sooner, so that short jobs get a memory figure too.
FIRST_SAMPLES = (0.02, 0.08, 0.2, 0.5)
FLUSH_INTERVAL = 0.5  # seconds between commits of the store (the promise is 1 s)
DRAIN_TIMEOUT = 1.0  # how long to read output left in the pipes after the job exits
_INFO, _ERROR, _CRITICAL = SEVERITIES["info"], SEVERITIES["error"], SEVERITIES["critical"]


class Wrapper:
    """Runs one job.  ``run()`` returns its final summary."""

    def __init__(self, job: Job, node: NodeConfig, run: RunConfig, *, key: str) -> None:
        self.job = job
        self.node = node
        self.run_config = run
        self.key = key
        self.uplink: UpLink | None = None
        self.summary = new_summary("running", job=True)
        self.counts = self.summary["messages"]
        self.store = Store(Path(node.tracking))
        self._log = open(Path(node.tracking) / LOG_NAME, "a", encoding="utf-8", errors="replace")
        self._proc: subprocess.Popen[bytes] | None = None
        self._exited = asyncio.Event()
        self._stop_reason: str | None = None
        self._kill_handle: asyncio.TimerHandle | None = None
        self._streams_open = 0
        self._streams_done = asyncio.Event()

    # -- messages ---------------------------------------------------------------------------
    def message(self, severity: int, text: str) -> None:
        """Record one message (Gator's own, not the job's output)."""
        self.store.add_message(severity, text)
        self.counts[SEVERITY_NAMES[severity]] += 1
        self._log_lines(time.time(), severity, [text])
        if self.uplink:
            self.uplink.poke()

    def _lines(self, severity: int) -> Any:
        name = SEVERITY_NAMES[severity]
        store = self.store

        def emit(lines: list[str]) -> None:
            now = time.time()
            store.add_messages([(now, severity, line, None, None) for line in lines])
            self.counts[name] += len(lines)
            self._log_lines(now, severity, lines)
            if self.uplink:
                self.uplink.poke()

        return emit

    def _log_lines(self, ts: float, severity: int, lines: list[str]) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(ts))
        prefix = f"[{stamp}] [{SEVERITY_NAMES[severity].upper():<8}] "
        self._log.write("".join(prefix + line + "\n" for line in lines))

    # -- process handling --------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Terminate the job: SIGTERM to its tree now, SIGKILL after the grace period."""
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        signal_tree(proc.pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        self._kill_handle = loop.call_later(self.run_config.grace, self._kill)

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None:
            signal_tree(proc.pid, signal.SIGKILL, include_descendants_of=os.getpid())

    def _environment(self) -> dict[str, str]:
        layer = dict(self.node.env)
        layer.update(array_variables(self.node.arrays))
        layer["GATOR_JOB_PATH"] = self.node.path
        layer["GATOR_JOB_ID"] = self.key
        layer["GATOR_TRACKING_DIR"] = self.node.tracking
        return job_environment(os.environ, layer)

    def _start(self, env: dict[str, str]) -> subprocess.Popen[bytes] | str:
        argv = [expand(self.job.command or "", env), *(expand(a, env) for a in self.job.args)]
        cwd = expand(self.node.cwd, env)
        self.store.set_attrs({"argv": argv, "cwd": cwd})
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,  # own session, so its own process group
                close_fds=True,
            )
        except OSError as exc:
            if exc.filename == cwd or (exc.errno == errno.ENOENT and not os.path.isdir(cwd)):
                return f"cannot enter working directory {cwd}: {exc.strerror}"
            return f"cannot start {argv[0]!r}: {exc.strerror}"

    def _watch_stream(self, fd: int, severity: int) -> None:
        loop = asyncio.get_running_loop()
        splitter = LineSplitter(self._lines(severity))
        os.set_blocking(fd, False)
        self._streams_open += 1

        def readable() -> None:
            try:
                data = os.read(fd, 1 << 18)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                splitter.feed(data)
                return
            splitter.close()
            loop.remove_reader(fd)
            self._streams_open -= 1
            if self._streams_open == 0:
                self._streams_done.set()

        loop.add_reader(fd, readable)

    def _watch_exit(self, proc: subprocess.Popen[bytes]) -> None:
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            pidfd = -1

        def check() -> None:
            if proc.poll() is not None:
                if pidfd >= 0:
                    loop.remove_reader(pidfd)
                    os.close(pidfd)
                self._exited.set()
            elif pidfd < 0:
                loop.call_later(0.05, check)

        if pidfd >= 0:
            loop.add_reader(pidfd, check)
        else:  # pragma: no cover - kernels older than 5.3
            loop.call_later(0.05, check)

    async def _sample(self, sampler: TreeSampler) -> None:
        delays = iter(FIRST_SAMPLES)
        while not self._exited.is_set():
            try:
                await asyncio.wait_for(self._exited.wait(), next(delays, SAMPLE_INTERVAL))
                return
            except asyncio.TimeoutError:
                pass
            sample = sampler.sample()
            if sample is not None:
                self.store.add_sample(sample.ts, sample.cpu_percent, sample.rss, sample.procs)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self.flush()

    def flush(self) -> None:
        self.store.flush()
        self._log.flush()

    # -- the run -------------------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
        return self.summary, [], {}

    async def run(self) -> dict[str, Any]:
        summary = self.summary
        started = time.time()
        summary["started"] = started
        self.store.set_attrs({
            "id": self.key, "path": self.node.path, "kind": "job", "host": socket.gethostname(),
            "pid": os.getpid(), "started": started, "command": self.job.command,
            "args": list(self.job.args),
        })
        become_subreaper()  # orphans of the job come to us, to be counted and killed
        flusher = asyncio.create_task(self._flush_periodically())
        rusage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        env = self._environment()
        proc = self._start(env)
        returncode: int | None
        if isinstance(proc, str):
            self.message(_CRITICAL, proc)
            returncode = 127
            peak = None
        else:
            self._proc = proc
            self.store.set_attr("job_pid", proc.pid)
            assert proc.stdout is not None and proc.stderr is not None
            self._watch_stream(proc.stdout.fileno(), _INFO)
            self._watch_stream(proc.stderr.fileno(), _ERROR)
            self._watch_exit(proc)
            sampler = TreeSampler(proc.pid)
            sampler_task = asyncio.create_task(self._sample(sampler))
            if self._stop_reason is not None:  # stopped before the job even started
                reason, self._stop_reason = self._stop_reason, None
                self.stop(reason)
            await self._exited.wait()
            returncode = proc.returncode
            await sampler_task
            # Output still in the pipes belongs to the job; a background process that
            # keeps them open must not hold the wrapper up for long.
            try:
                await asyncio.wait_for(self._streams_done.wait(), DRAIN_TIMEOUT)
            except asyncio.TimeoutError:
                self.message(SEVERITIES["warning"],
                             "output pipes still open after the job exited; "
                             "stopping the processes it left behind")
            self._cleanup(proc)
            peak = sampler.peak_rss or None  # None: it ended before the first sample
        if self._kill_handle is not None:
            self._kill_handle.cancel()
        stopped = time.time()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (usage.ru_utime - rusage_before.ru_utime) + (usage.ru_stime - rusage_before.ru_stime)
        self._finish(returncode, started, stopped, cpu, peak)
        flusher.cancel()
        self.flush()
        return summary

    def _cleanup(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop whatever the job left running, reap it and close the pipes."""
        loop = asyncio.get_running_loop()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    loop.remove_reader(stream.fileno())
                except (ValueError, OSError):
                    pass
        if signal_tree(proc.pid, signal.SIGKILL, include_descendants_of=os.getpid()):
            time.sleep(0.01)
        reap_zombies()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def _finish(self, returncode: int | None, started: float, stopped: float,
                cpu: float, peak: int | None) -> None:
        summary = self.summary
        limits = self.run_config.limits
        reasons = []
        if self._stop_reason is not None:
            reasons.append(f"stopped ({self._stop_reason})")
        if returncode != 0:
            reasons.append(describe_status(returncode))
        reasons.extend(limits.exceeded(self.counts))
        result = "fail" if reasons else "pass"
        summary.update(
            result=result,
            exit_code=returncode,
            reason="; ".join(reasons) or None,
            jobs=job_counts(result),
            stopped=stopped,
        )
        metrics = summary["metrics"]
        metrics.update(wall_time=round(stopped - started, 6), cpu_time=round(cpu, 6))
        if peak is not None:
            metrics["peak_memory"] = peak
        for name, value in summary["metrics"].items():
            self.store.set_metric(name, value)
        self.store.set_attrs({"stopped": stopped, "result": result, "exit_code": returncode,
                              "reason": summary["reason"], "summary": summary})

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            self._log.close()
