"""The wrapper: runs one job, records everything about it, decides pass or fail.

The job starts with stdin from /dev/null, in a new session (so in its own
process group), with the environment described in :mod:`gator_core.envvars`.
Its stdout and stderr are read in large chunks and split into lines (see
:mod:`gator_core.job.lines`); stdout lines are INFO and stderr lines ERROR, as in
the seed system.  CPU and RSS of the whole process tree are sampled while it
runs (see :class:`~gator_core.job.proctree.TreeSampler`); at the end, CPU time comes
from the kernel's accounting of every descendant that was waited for.

Pass means exit code 0 and message counts within the run's limits.

The wrapper is one synchronous ``selectors`` loop over the job's pipes, its
exit (a pidfd), the parent connection and a wake-up pipe for signals, with
timers for flushing the store, sampling, reporting and killing.  It is not
built on asyncio on purpose: a run forks one wrapper per job, and each pays
for what it touches after the fork (see docs/performance.md).
"""

from __future__ import annotations

import errno
import os
import resource
import selectors
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gator_core.config import NodeConfig, RunConfig, job_seed
from gator_core.envvars import RELEASE_FD, array_variables, attempt_number, expand, expand_path, job_environment
from gator_core.exceptions import ChildError, GatorError, ProtocolError
from gator_core.job.apiserver import ApiServer
from gator_core.job.classify import DEFAULT_SEVERITY, Classifier
from gator_core.job.lines import LineSplitter
from gator_core.job.proctree import (
    JobProcess,
    TreeSampler,
    become_subreaper,
    describe_status,
    direct_children,
    reap_zombies,
    signal_tree,
    spawn_job,
)
from gator_core.job.runners import JobCommand, runner_class
from gator_core.spec.model import Job
from gator_core.states import SEVERITY_NAMES, SEVERITY_VALUES
from gator_core.store.nodestore import LOG_NAME, Store
from gator_core.store.summary import job_counts, job_metrics, new_summary
from gator_core.textutil import duration_text, parse_duration
from gator_core.wire.protocol import Ack, Complete, Heartbeat, Hello, Refuse, Stop, Update, Welcome
from gator_core.wire.synclink import SyncParentLink
from gator_core.wire.wsclient import LinkClosed

__all__ = ["Wrapper", "SAMPLE_INTERVAL", "FIRST_SAMPLES", "FLUSH_INTERVAL", "DRAIN_TIMEOUT",
           "MIN_UPDATE_GAP"]

SAMPLE_INTERVAL = 1.0  # seconds between CPU/memory samples of the job's tree
# The first samples come sooner, so that short jobs get a memory figure too.
FIRST_SAMPLES = (0.02, 0.08, 0.2, 0.5)
FLUSH_INTERVAL = 0.5  # seconds between commits of the store (the promise is 1 s)
DRAIN_TIMEOUT = 1.0  # how long to read output left in the pipes after the job exits
MIN_UPDATE_GAP = 0.2  # seconds between two updates to the parent
_INFO, _WARNING, _ERROR, _CRITICAL = (SEVERITY_VALUES[name] for name in ("info", "warning", "error", "critical"))


class Wrapper:
    """Runs one job and reports it.  ``run()`` returns the process exit status:
    0 when the parent acknowledged the final report, 3 when the parent was lost."""

    def __init__(self, job: Job, node: NodeConfig, run: RunConfig, *, key: str,
                 link: SyncParentLink | None, url: str = "", token: str = "") -> None:
        self.job = job
        self.node = node
        self.run_config = run
        self.key = key
        self.link = link
        self.url, self.token = url, token
        self.summary = new_summary("running", job=True)
        self.seed = job_seed(run.seed, node.path)
        self.summary["seed"] = self.seed
        self.counts: dict[str, int] = self.summary["messages"]
        self.store = Store(Path(node.tracking), durable=False)
        self._log = open(Path(node.tracking) / LOG_NAME, "a", encoding="utf-8", errors="replace")
        self.parent_lost: str | None = None
        self._sel = selectors.DefaultSelector()
        self._proc: JobProcess | None = None
        self._streams: dict[int, LineSplitter] = {}
        self._api: ApiServer | None = None
        self._classifier: Classifier | None = None
        self._exited = False
        self._stop_reason: str | None = None
        self._outside: str | None = None  # the signal that stopped it, when not from its tier
        self._kill_at: float | None = None
        # The spec's time limit: past it the job is stopped, and its result is timeout.
        self._limit = parse_duration(job.timeout) if job.timeout is not None else None
        self._limit_at: float | None = None
        self._timed_out = False
        # Where the job ran and its environment: its artefacts are found from there.
        self._ran_in: tuple[str, dict[str, str]] = (os.getcwd(), {})
        self._needed: dict[str, list[str]] | None = None  # the artefacts it needs, as paths here
        self._dirty = False
        self._last_send = time.monotonic()
        self._next_flush = time.monotonic() + FLUSH_INTERVAL
        self._signals: list[int] = []
        self._wake_r, self._wake_w = os.pipe()

    # -- messages ---------------------------------------------------------------------------
    def message(self, severity: int, text: str) -> None:
        """Record one message of the wrapper itself (not the job's output)."""
        self.store.add_message(severity, text)
        self.counts[SEVERITY_NAMES[severity]] += 1
        self._log_lines(time.time(), severity, [text])
        self._dirty = True

    def _emitter(self, stream: str) -> Callable[[list[str]], None]:
        if self._classifier is not None:
            return self._classifying_emitter(stream)
        severity = DEFAULT_SEVERITY[stream]
        name = SEVERITY_NAMES[severity]
        add = self.store.add_lines

        def emit(lines: list[str]) -> None:
            now = time.time()
            add(now, severity, lines)
            self.counts[name] += len(lines)
            self._log_lines(now, severity, lines)
            self._dirty = True

        return emit

    def _classifying_emitter(self, stream: str) -> Callable[[list[str]], None]:
        classify = self._classifier.classify  # type: ignore[union-attr]
        counts = self.counts

        def emit(lines: list[str]) -> None:
            now = time.time()
            rows = []
            for text in lines:
                severity, source, line = classify(text, stream)
                rows.append((now, severity, text, source, line))
                counts[SEVERITY_NAMES[severity]] += 1
                self._log_lines(now, severity, [text])
            self.store.add_messages(rows)
            self._dirty = True

        return emit

    def _make_classifier(self) -> Classifier | None:
        """Rules and parsers from the spec, or None for the default (and fastest) path."""
        if not self.node.rules and not self.node.parsers:
            return None
        from gator_core.plugins import available_parsers

        known = available_parsers()
        parsers = []
        for name in self.node.parsers:
            if name in known:
                parsers.append(known[name].cls())
            else:  # the run checked the names; a child on another machine may lack a plugin
                self.message(_WARNING, f"log parser '{name}' is not installed here; ignored")
        return Classifier(self.node.rules, parsers, lambda text: self.message(_WARNING, text))

    def _log_lines(self, ts: float, severity: int, lines: list[str]) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(ts))
        prefix = f"[{stamp}] [{SEVERITY_NAMES[severity].upper():<8}] "
        self._log.write(prefix + ("\n" + prefix).join(lines) + "\n")

    def flush(self) -> None:
        self.store.flush()
        self._log.flush()

    # -- stopping -----------------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Terminate the job: SIGTERM to its process group now, SIGKILL after the grace period."""
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        proc = self._proc
        if proc is not None and proc.returncode is None:
            signal_tree(proc.pid, signal.SIGTERM)
            self._kill_at = time.monotonic() + self.run_config.grace

    def _on_signal(self, number: int, _frame: Any) -> None:
        self._signals.append(number)

    def _install_signals(self) -> None:
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        signal.set_wakeup_fd(self._wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "signal")

    # -- the parent -------------------------------------------------------------------------
    def _lose_parent(self, reason: str) -> None:
        if self.parent_lost is None:
            self.parent_lost = reason
            self.message(_ERROR, f"lost the parent: {reason}")
            self.stop(f"lost the parent: {reason}")
        if self.link is not None:
            try:
                self._sel.unregister(self.link)
            except (KeyError, ValueError):
                pass
            self.link.close()
            self.link = None

    def _reconnect(self, why: str) -> bool:
        """The connection broke: connect again (bounded by two intervals) and resume."""
        old = self.link
        if old is not None:
            try:
                self._sel.unregister(old)
            except (KeyError, ValueError):
                pass
            old.close()
            self.link = None
        timeout = 2 * self.run_config.interval
        try:
            link = SyncParentLink.connect(self.url, self.token, timeout=timeout,
                                          give_up=lambda: bool(self._signals))
            link.send(Hello(self.key, pid=os.getpid(), host=socket.gethostname(), resume=True,
                            attempt=attempt_number()))
            reply = link.receive(timeout)
            if not isinstance(reply, Welcome):
                raise ChildError(f"parent answered the reconnection with {reply.TYPE}")
        except (ChildError, ProtocolError, OSError, TimeoutError) as exc:
            self._lose_parent(f"{why}; could not reconnect: {exc}")
            return False
        self.link = link
        self._sel.register(link, selectors.EVENT_READ, "parent")
        self._dirty = True
        return True

    def _send(self, message: Any) -> None:
        if self.link is None:
            return
        try:
            self.link.send(message)
        except LinkClosed as exc:
            if self._reconnect(str(exc)) and self.link is not None:
                try:
                    self.link.send(message)
                except LinkClosed as again:
                    self._lose_parent(str(again))
        self._last_send = time.monotonic()

    def _from_parent(self) -> None:
        assert self.link is not None
        try:
            messages = self.link.poll()
        except LinkClosed as exc:
            self._reconnect(str(exc))
            return
        except ProtocolError as exc:
            self._lose_parent(f"parent sent a malformed message: {exc}")
            return
        for message in messages:
            if isinstance(message, Stop):
                self.stop(message.reason)
                if message.kill:  # at once: no grace period
                    self._stop_reason = f"killed: {message.reason}"
                    self._kill_at = time.monotonic()
            elif isinstance(message, Refuse):
                self._lose_parent(f"parent refused this child: {message.reason}")

    def _report(self, now: float) -> None:
        if self.link is None:
            return
        gap = now - self._last_send
        if self._dirty and gap >= MIN_UPDATE_GAP:
            self._dirty = False
            self._send(Update(self.summary))
        elif gap >= self.run_config.interval:
            self._send(Heartbeat())

    # -- the job ------------------------------------------------------------------------------
    def _host_paths(self) -> Any:
        from gator_core.job.hostpaths import HostPaths

        return HostPaths.from_environment(self.run_config.tracking_root, self.run_config.launch_dir, os.environ)

    def _inputs(self) -> dict[str, list[str]]:
        """The artefacts the job needs (need -> paths), as this host sees them."""
        if self._needed is None:
            from gator_core.job.artefacts import inputs_here

            self._needed = inputs_here(self.node.artefacts, self._host_paths()) if self.node.artefacts else {}
        return self._needed

    def _environment(self) -> dict[str, str]:
        layer = dict(self.node.env)
        if self.node.artefacts:  # {{ artefacts.build.binary }} in values, and GATOR_ARTEFACT_*
            from gator_core.spec.artefacts import artefact_environment, substitute_artefacts

            needed = self._inputs()
            layer = {name: substitute_artefacts(value, needed) if value else value for name, value in layer.items()}
            layer.update(artefact_environment(needed))
        layer.update(array_variables(self.node.arrays))
        layer["GATOR_JOB_PATH"] = self.node.path
        layer["GATOR_JOB_ID"] = self.key
        layer["GATOR_TRACKING_DIR"] = self.node.tracking
        layer["GATOR_SEED"] = str(self.seed)
        if self._api is not None:
            layer.update(self._api.environment())
        return job_environment(os.environ, layer)

    def _command(self) -> tuple[str, list[str], list[str]]:
        """Command, args and cwd parts with the artefacts it needs put in place."""
        command, args, cwd = self.job.command or "", list(self.job.args), self.node.cwd
        if not self.node.artefacts:
            return command, args, cwd
        from gator_core.spec.artefacts import expand_arg, substitute_artefacts

        needed = self._inputs()
        command = substitute_artefacts(command, needed)
        args = [item for arg in args for item in expand_arg(arg, needed)]
        return command, args, [substitute_artefacts(part, needed) for part in cwd]

    def _start(self, env: dict[str, str]) -> JobProcess | str:
        command, args, parts = self._command()
        cwd = expand_path(parts, env)
        if "PWD" in env:
            env = {**env, "PWD": cwd}  # as a shell's cd would: a stale PWD misleads scripts
        if self.job.runner is None and not self.job.shell:  # exec: the common case, kept cheap
            argv = [expand(command, env), *(expand(a, env) for a in args)]
        else:
            try:
                runner = runner_class(self.job.runner_name)(self.job.runner_args)
                prepared = runner.prepare(JobCommand(command, args, env, cwd))
            except (GatorError, ValueError) as exc:
                return f"the {self.job.runner_name} runner cannot start the job: {exc}"
            argv, env, cwd = prepared.argv, prepared.env, prepared.cwd
        self._ran_in = (cwd, env)
        self.store.set_attrs({"argv": argv, "cwd": cwd})
        if not os.path.isdir(cwd):
            return f"cannot enter working directory {cwd}: {os.strerror(errno.ENOENT)}"
        try:
            return spawn_job(argv, cwd, env)
        except OSError as exc:
            return f"cannot start {argv[0]!r}: {exc.strerror}"

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, 1 << 18)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        splitter = self._streams[fd]
        if data:
            splitter.feed(data)
            return
        splitter.close()
        self._sel.unregister(fd)
        del self._streams[fd]

    def _loop(self, proc: JobProcess, pidfd: int) -> None:
        sampler = TreeSampler(proc.pid)
        delays = iter(FIRST_SAMPLES)
        next_sample = time.monotonic() + next(delays)
        drain_until: float | None = None
        sel = self._sel
        while True:
            now = time.monotonic()
            api_open = self._api is not None and self._api.connections
            if self._exited and ((not self._streams and not api_open)
                                 or (drain_until is not None and now >= drain_until)):
                break
            deadline = min(self._next_flush, self._last_send + (
                MIN_UPDATE_GAP if self._dirty else self.run_config.interval))
            if not self._exited:
                deadline = min(deadline, next_sample)
            if self._kill_at is not None:
                deadline = min(deadline, self._kill_at)
            if self._limit_at is not None:
                deadline = min(deadline, self._limit_at)
            if drain_until is not None:
                deadline = min(deadline, drain_until)
            for key, _events in sel.select(max(0.0, deadline - now)):
                tag = key.data
                if tag == "out":
                    self._read(key.fd)
                elif tag == "api" and self._api is not None:
                    self._api.ready(key.fd)
                elif tag == "exit":
                    if proc.poll() is not None:
                        sel.unregister(pidfd)
                        os.close(pidfd)
                        self._exited = True
                        drain_until = time.monotonic() + DRAIN_TIMEOUT
                elif tag == "parent":
                    self._from_parent()
                elif tag == "signal":
                    try:
                        os.read(self._wake_r, 64)
                    except BlockingIOError:
                        pass
            while self._signals:
                name = signal.Signals(self._signals.pop()).name
                if self._stop_reason is None:
                    # Not asked by its tier: the batch system (scancel, qdel, preemption)
                    # or someone else stopped it.  The job's own result is unknown: lost.
                    self._outside = name
                self.stop(f"received {name}")
            now = time.monotonic()
            if self._limit_at is not None and now >= self._limit_at:
                self._limit_at = None
                if not self._exited and self._stop_reason is None:
                    self._timed_out = True
                    self.stop(self._limit_reason())
            if self._kill_at is not None and now >= self._kill_at:
                self._kill_at = None
                signal_tree(proc.pid, signal.SIGKILL, include_descendants_of=os.getpid())
            if not self._exited and now >= next_sample:
                sample = sampler.sample()
                if sample is not None:
                    self.store.add_sample(sample.ts, sample.cpu_percent, sample.rss, sample.procs)
                next_sample = now + next(delays, SAMPLE_INTERVAL)
            if now >= self._next_flush:
                self.flush()
                self._next_flush = now + FLUSH_INTERVAL
            self._report(now)
        if self._streams or (self._api is not None and self._api.connections):
            self.message(_WARNING, "output pipes or API connections still open after the job exited; "
                         "stopping the processes it left behind")
        self.peak = sampler.peak_rss or None  # None: it ended before the first sample

    def _cleanup(self, proc: JobProcess) -> None:
        """Stop whatever the job left running, reap it and close the pipes."""
        # Leftovers are either still in the job's process group, or orphans that
        # left it and were re-parented to us (we are a subreaper).
        left = signal_tree(proc.pid, signal.SIGKILL)
        if direct_children():
            left += signal_tree(None, signal.SIGKILL, include_descendants_of=os.getpid())
        if left:
            time.sleep(0.01)
        reap_zombies()
        for fd in list(self._streams):
            self._sel.unregister(fd)
            self._streams[fd].close()
        self._streams.clear()
        if self._api is not None:
            self._api.close()  # reads what is left, then stops listening
        for fd in (proc.stdout, proc.stderr):
            os.close(fd)

    def _api_message(self, severity_name: str, text: str) -> None:
        severity = SEVERITY_VALUES[severity_name]  # the API server checked the name
        self.store.add_message(severity, text)
        self.counts[severity_name] += 1
        self._log_lines(time.time(), severity, [text])
        self._dirty = True

    def _api_metric(self, name: str, value: float) -> None:
        self.summary["metrics"][name] = value
        self.store.set_metric(name, value)
        self._dirty = True

    def _release(self) -> None:
        """Tell the scheduler the job's resources are free (see envvars.RELEASE_FD)."""
        fd = os.environ.pop(RELEASE_FD, None)
        if fd is None:
            return
        try:
            os.write(int(fd), b"\n")
            os.close(int(fd))
        except (OSError, ValueError):
            pass

    def run_job(self) -> dict[str, Any]:
        """Run the job to its end (or until stopped); returns the final summary."""
        release = os.environ.get(RELEASE_FD)
        if release and release.isdigit():
            try:
                os.set_inheritable(int(release), False)  # ours, not the job's
            except OSError:
                pass
        summary = self.summary
        started = time.time()
        summary["started"] = started
        self.store.set_attrs({
            "id": self.key, "path": self.node.path, "kind": "job", "host": socket.gethostname(),
            "pid": os.getpid(), "started": started, "command": self.job.command,
            "args": list(self.job.args), "seed": self.seed,
        })
        become_subreaper()  # orphans of the job come to us, to be counted and killed
        self._install_signals()
        self._api = ApiServer(self._sel, self._api_message, self._api_metric)
        if self.link is not None:
            self._sel.register(self.link, selectors.EVENT_READ, "parent")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = self._start(self._environment())
        self.peak: int | None = None
        if isinstance(proc, str):
            self.message(_CRITICAL, proc)
            returncode: int | None = 127
        else:
            self._proc = proc
            self.store.set_attr("job_pid", proc.pid)
            self._classifier = self._make_classifier()
            for fd, stream in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
                os.set_blocking(fd, False)
                self._streams[fd] = LineSplitter(self._emitter(stream))
                self._sel.register(fd, selectors.EVENT_READ, "out")
            pidfd = os.pidfd_open(proc.pid)
            self._sel.register(pidfd, selectors.EVENT_READ, "exit")
            if self._stop_reason is not None:  # stopped before the job even started
                reason, self._stop_reason = self._stop_reason, None
                self.stop(reason)
            if self._limit is not None:
                self._limit_at = time.monotonic() + self._limit
            self._loop(proc, pidfd)
            returncode = proc.returncode
            self._cleanup(proc)
        self._release()
        stopped = time.time()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime)
        self._finish(returncode, started, stopped, cpu, self.peak)
        self.flush()
        return summary

    def _finish(self, returncode: int | None, started: float, stopped: float,
                cpu: float, peak: int | None) -> None:
        summary = self.summary
        reasons = []
        if self._stop_reason is not None:
            reasons.append(f"stopped ({self._stop_reason})")
        if returncode != 0:
            reasons.append(describe_status(returncode))
        reasons.extend(self.run_config.limits.exceeded(self.counts))
        if self.job.artefacts and not self._timed_out and self._outside is None and self._stop_reason is None:
            reasons.extend(self._check_artefacts())
        result = "fail" if reasons else "pass"
        if self._timed_out:
            result, reasons = "timeout", [self._limit_reason()]
        elif self._outside is not None:
            result = "lost"
            reasons[0] = f"received {self._outside} from outside Gator"
        summary.update(result=result, exit_code=returncode, reason="; ".join(reasons) or None,
                       jobs=job_counts(result), stopped=stopped)
        metrics = summary["metrics"]
        metrics.update(wall_time=round(stopped - started, 6), cpu_time=round(cpu, 6))
        if peak is not None:
            metrics["peak_memory"] = peak
        metrics.update(job_metrics(result, self.counts))
        for name, value in metrics.items():
            self.store.set_metric(name, value)
        self.store.set_attrs({"stopped": stopped, "result": result, "exit_code": returncode,
                              "reason": summary["reason"], "summary": summary})

    def _check_artefacts(self) -> list[str]:
        """Find, hash and record the job's artefacts; what was not produced."""
        from gator_core.job.artefacts import find_artefacts

        paths = self._host_paths()
        cwd, env = self._ran_in
        record, problems = find_artefacts(self.job.artefacts, cwd, env,
                                          keep_in=self.node.tracking if paths else None, paths=paths)
        self.summary["artefacts"] = record
        for problem in problems:
            self.message(_ERROR, problem)
        return problems

    def _limit_reason(self) -> str:
        return f"ran past its {duration_text(self.job.timeout)} limit"

    def complete(self) -> bool:
        """Send the final report and wait (bounded) for the parent's ack."""
        if self.link is None:
            return False
        timeout = max(10.0, 2 * self.run_config.interval)
        deadline = time.monotonic() + timeout
        self._send(Complete(self.summary))
        while self.link is not None and self.parent_lost is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._lose_parent("the parent did not acknowledge the final report")
                break
            try:
                message = self.link.receive(remaining)
            except TimeoutError:
                continue
            except LinkClosed as exc:
                if self._reconnect(str(exc)):
                    self._send(Complete(self.summary))
                continue
            except ProtocolError as exc:
                self._lose_parent(f"parent sent a malformed message: {exc}")
                break
            if isinstance(message, Ack):
                return True
            if isinstance(message, Refuse):
                self._lose_parent(f"parent refused the final report: {message.reason}")
        return False

    def run(self) -> int:
        """Run, report and clean up; the wrapper process's exit status."""
        try:
            self.run_job()
            if self.parent_lost is None and self.complete():
                return 0
            self.message(_ERROR, f"finished without a parent: {self.parent_lost}")
            self.flush()
            return 3
        finally:
            self.close()

    def close(self) -> None:
        signal.set_wakeup_fd(-1)
        try:
            self.store.close()
        finally:
            self._log.close()
            if self.link is not None:
                self.link.close()
                self.link = None
            self._sel.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
