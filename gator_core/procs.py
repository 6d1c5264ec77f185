"""Process-tree helpers: becoming a subreaper, sampling a tree, killing a tree.

A wrapper makes itself a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``):
when a job forks a daemon and exits, the orphan is re-parented to the wrapper
instead of to init, so the wrapper can still count and kill it.  ``gator run``
and the local agent do the same for their own descendants.  That is how "no
process of a run is left afterwards" holds even for jobs that detach.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import time
from dataclasses import dataclass

import psutil

__all__ = [
    "become_subreaper",
    "TreeSample",
    "TreeSampler",
    "signal_tree",
    "descendants",
    "reap_zombies",
    "signal_name",
    "describe_status",
]

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants of this process.  False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return False


def descendants(pid: int | None = None) -> list[psutil.Process]:
    """Every live descendant of ``pid`` (default: this process)."""
    try:
        return psutil.Process(pid or os.getpid()).children(recursive=True)
    except psutil.Error:
        return []


def signal_tree(root_pgid: int | None, sig: int, *, include_descendants_of: int | None = None) -> int:
    """Send ``sig`` to a process group and to every descendant of a process.

    Returns how many processes were signalled (best effort; processes that
    exit meanwhile are ignored).
    """
    count = 0
    if root_pgid:
        try:
            os.killpg(root_pgid, sig)
            count += 1
        except (ProcessLookupError, PermissionError):
            pass
    if include_descendants_of is not None:
        for proc in descendants(include_descendants_of):
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


@dataclass(frozen=True)
class TreeSample:
    ts: float
    cpu_percent: float  # of one core, summed over the tree
    rss: int  # bytes, summed over the tree
    procs: int


def _high_water(pid: int) -> int:
    """Peak RSS of one process since it exec'd (VmHWM), in bytes; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreeSampler:
    """Samples CPU and RSS of a process and all its descendants.

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

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def sample(self) -> TreeSample | None:
        now = time.monotonic()
        cpu = 0.0
        rss = 0
        procs = 0
        for proc in self._tree():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    cpu += times.user + times.system + times.children_user + times.children_system
                    rss += proc.memory_info().rss
                self.peak_rss = max(self.peak_rss, _high_water(proc.pid))
                procs += 1
            except psutil.Error:
                continue
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
