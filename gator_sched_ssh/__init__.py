"""Plain SSH hosts scheduler: ``--scheduler ssh``, registered through the ``gator``
entry-point group.  See docs/ssh.md."""

from __future__ import annotations

from gator_core import hookimpl

__all__ = ["gator_schedulers"]


@hookimpl
def gator_schedulers() -> list[type]:
    from .scheduler import SshScheduler  # paramiko loads in the agent only

    return [SshScheduler]
