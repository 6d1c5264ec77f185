"""``--scheduler local``, registered through the ``gator`` entry-point group like any plugin."""

from __future__ import annotations

from gator_core import hookimpl

__all__ = ["gator_schedulers"]


@hookimpl
def gator_schedulers() -> list[type]:
    from .scheduler import LocalScheduler

    return [LocalScheduler]
