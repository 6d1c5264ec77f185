"""Process-tree helpers: becoming a subreaper, sampling a tree, killing a tree.

A wrapper makes itself a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``):
when a job forks a daemon and exits, the orphan is re-parented to the wrapper
instead of to init, so the wrapper can still count and kill it.  ``gator run``
and the local agent do the same for their own descendants.  That is how "no
process of a run is left afterwards" holds even for jobs that detach.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import psutil

__all__ = [
    "exit_now",
    "become_subreaper",
    "direct_children",
    "tree_pids",
    "TreeSample",
    "TreeSampler",
    "signal_tree",
    "descendants",
    "reap_zombies",
    "signal_name",
    "describe_status",
    "JobProcess",
    "spawn_job",
]

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants of this process.  False where unsupported."""
    try:
        # dlopen(NULL): the C library is already loaded; find_library would run ldconfig.
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return False


def direct_children() -> list[int]:
    """Pids of this process's children, from /proc (cheap: no scan of every process)."""
    pids: list[int] = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", "rb") as handle:
                pids.extend(int(p) for p in handle.read().split())
    except OSError:
        return [proc.pid for proc in descendants() if proc.ppid() == os.getpid()]
    return pids


def descendants(pid: int | None = None) -> list[psutil.Process]:
    """Every live descendant of ``pid`` (default: this process)."""
    import psutil  # on first use: a wrapper that never needs it starts quicker

    try:
        return psutil.Process(pid or os.getpid()).children(recursive=True)
    except psutil.Error:
        return []


def signal_tree(root_pgid: int | None, sig: int, *, include_descendants_of: int | None = None) -> int:
    """Send ``sig`` to a process group and to every descendant of a process.

    Returns how many processes were signalled (best effort; processes that
    exit meanwhile are ignored).  The descendants are listed before anything is
    signalled: once a killed process is gone, its children belong to someone else.
    """
    count = 0
    below = descendants(include_descendants_of) if include_descendants_of is not None else []
    if root_pgid:
        try:
            os.killpg(root_pgid, sig)
            count += 1
        except (ProcessLookupError, PermissionError):
            pass
    if below:
        import psutil

        for proc in below:
            try:
                proc.send_signal(sig)
                count += 1
            except psutil.Error:
                pass
    return count


def reap_zombies() -> list[tuple[int, int]]:
    """Collect every exited child that nobody waited for; returns (pid, status) pairs."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        reaped.append((pid, status))
    return reaped


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_status(returncode: int | None) -> str:
    """``"exit code 3"`` or ``"killed by SIGKILL"``."""
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        return f"killed by {signal_name(-returncode)}"
    return f"exit code {returncode}"


PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class JobProcess:
    """A job started by :func:`spawn_job`: its pid, the read ends of its output
    pipes, and its exit status once :meth:`poll` has collected it."""

    def __init__(self, pid: int, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def spawn_job(argv: list[str], cwd: str, env: dict[str, str]) -> JobProcess:
    """Start a job with stdin from /dev/null, stdout and stderr into pipes, in a new
    session (so its own process group), with ``argv[0]`` looked up on the job's PATH.

    Uses posix_spawn, which costs a fraction of subprocess.Popen: a wrapper
    starts one job, but a run starts ten thousand wrappers.  Nothing of the
    caller leaks into the job: Python opens every descriptor close-on-exec,
    and only the three standard ones are set up for it.  The caller's working
    directory becomes ``cwd`` (a wrapper has no use for its own).  Raises
    OSError when the directory or the program cannot be used.
    """
    os.chdir(cwd)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for fd in (out_r, err_r):  # fewer, larger reads for chatty jobs (best effort)
        try:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass
    try:
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        program = argv[0]
        if "/" not in program:  # search the job's PATH, not ours
            for folder in env.get("PATH", os.defpath).split(os.pathsep):
                candidate = os.path.join(folder or ".", program)
                if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                    program = candidate
                    break
            else:
                raise FileNotFoundError(2, "No such file or directory", argv[0])
        pid = os.posix_spawn(program, argv, env, file_actions=actions, setsid=True)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    return JobProcess(pid, out_r, err_r)


@dataclass(frozen=True)
class TreeSample:
    ts: float
    cpu_percent: float  # of one core, summed over the tree
    rss: int  # bytes, summed over the tree
    procs: int


_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants, read from /proc/<pid>/task/*/children.

    Cheaper than scanning every process on the machine for its parent, which
    matters when a sample is taken every second by each of many wrappers.
    """
    out: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for tid in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{tid}/children", "rb") as handle:
                    todo.extend(int(p) for p in handle.read().split())
        except (OSError, ValueError):
            continue
    return out


def _stat(pid: int) -> tuple[float, int, int] | None:
    """(CPU seconds including waited-for children, RSS bytes, peak RSS bytes) of one process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        hwm = 0
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                    break
    except (OSError, IndexError, ValueError):
        return None
    # Fields after the command name: state is [0]; utime, stime, cutime, cstime are
    # [11]..[14]; rss (in pages) is [21].
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / _TICK, int(fields[21]) * _PAGE, hwm


class TreeSampler:
    """Samples CPU and RSS of a process and all its descendants, from /proc.

    CPU is measured from the change in CPU time between samples, summed over
    the live processes and including the time of children they already
    waited for, so that short-lived child processes are counted too.

    Peak memory is the larger of the largest tree total seen and the largest
    single-process high-water mark (VmHWM, which the kernel keeps between
    samples).  The kernel's ``ru_maxrss`` is not used: it counts the memory
    of the forked copy of the wrapper before the job's ``exec``.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._last: tuple[float, float] | None = None
        self.peak_rss = 0

    def sample(self) -> TreeSample | None:
        now = time.monotonic()
        cpu = 0.0
        rss = 0
        procs = 0
        for pid in tree_pids(self.pid):
            stat = _stat(pid)
            if stat is None:
                continue
            cpu += stat[0]
            rss += stat[1]
            self.peak_rss = max(self.peak_rss, stat[2])
            procs += 1
        if procs == 0:
            return None
        self.peak_rss = max(self.peak_rss, rss)
        percent = 0.0
        if self._last is not None:
            dt = now - self._last[0]
            if dt > 0:
                percent = max(0.0, (cpu - self._last[1]) / dt * 100.0)
        self._last = (now, cpu)
        return TreeSample(time.time(), percent, rss, procs)


def exit_now(code: int) -> NoReturn:
    """End this process with ``code`` once its work is done and its files are closed:
    stdout and stderr are flushed, and the interpreter's teardown (tens of ms for a
    process that imported a lot, which a user waits for at every run) is skipped."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
