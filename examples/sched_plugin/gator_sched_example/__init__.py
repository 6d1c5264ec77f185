"""Registers the ``example`` scheduler with Gator."""

from __future__ import annotations

from gator_core import hookimpl

__all__ = ["gator_schedulers"]


@hookimpl
def gator_schedulers() -> list[type]:
    from .scheduler import PrefixScheduler

    return [PrefixScheduler]
