"""Batch-system schedulers: ``slurm`` (through Slurm's commands) and ``sge`` (Grid
Engine through DRMAA), registered through the ``gator`` entry-point group."""

from __future__ import annotations

from gator_core import hookimpl

__all__ = ["gator_schedulers"]


@hookimpl
def gator_schedulers() -> list[type]:
    # Neither module loads a batch system's library at import: listing schedulers stays cheap.
    from .sge import SgeScheduler
    from .slurm import SlurmScheduler

    return [SlurmScheduler, SgeScheduler]
