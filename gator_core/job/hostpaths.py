"""Paths on a host that does not see the submitting machine's files.

A scheduler that runs a job on such a host (the SSH scheduler without a
shared filesystem) puts two directories there in place of two here: the run's
tracking directory and its launch directory.  Files that move between the
machines (a job's tracking data, the artefacts jobs make and need) keep their
place relative to one of them, so a path here has one path there and back.
A path under neither (an earlier run's tracking directory, for a rerun) goes
under ``.elsewhere/`` in the tracking directory there, by its absolute path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gator_core.envvars import HOST_LAUNCH_DIR, HOST_TRACKING_ROOT

__all__ = ["HostPaths", "ELSEWHERE"]

ELSEWHERE = ".elsewhere"


def _under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` when it lies below it (or is it), else None."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    if path == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path[len(prefix):] if path.startswith(prefix) else None


@dataclass(frozen=True)
class HostPaths:
    """The run's tracking and launch directories here, and what stands for them there."""

    tracking_root: str
    launch_dir: str
    host_tracking_root: str
    host_launch_dir: str

    @classmethod
    def from_environment(cls, tracking_root: str, launch_dir: str,
                         environ: Mapping[str, str]) -> HostPaths | None:
        """Read from the variables a scheduler sets for a child on such a host, else None."""
        host_root, host_launch = environ.get(HOST_TRACKING_ROOT), environ.get(HOST_LAUNCH_DIR)
        if not host_root or not host_launch:
            return None
        return cls(tracking_root, launch_dir, host_root, host_launch)

    def _move(self, path: str, pairs: tuple[tuple[str, str], ...]) -> str | None:
        # The tracking directory first: it may lie inside the launch directory.
        for source, target in pairs:
            relative = _under(path, source)
            if relative is not None:
                return os.path.join(target, relative) if relative else target
        return None

    def to_host(self, path: str) -> str:
        """Where a path here is on the host."""
        moved = self._move(path, ((self.tracking_root, self.host_tracking_root),
                                  (self.launch_dir, self.host_launch_dir)))
        if moved is not None:
            return moved
        return os.path.join(self.host_tracking_root, ELSEWHERE, os.path.abspath(path).lstrip(os.sep))

    def to_local(self, path: str) -> str | None:
        """Where a path on the host is here; None when it stands for nothing here."""
        elsewhere = _under(path, os.path.join(self.host_tracking_root, ELSEWHERE))
        if elsewhere:
            return os.sep + elsewhere
        return self._move(path, ((self.host_tracking_root, self.tracking_root),
                                 (self.host_launch_dir, self.launch_dir)))
