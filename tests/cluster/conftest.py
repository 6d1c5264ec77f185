"""Fixtures of the cluster tests.

Every run a test starts is stopped (Ctrl-C, then kill) when the test ends, so
that a test failing half-way leaves no jobs behind for the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batchruns import Runs


@pytest.fixture
def runs_on(tmp_path: Path) -> Iterator[Any]:
    """``runs_on("slurm")`` gives a :class:`Runs`; every run it started is stopped afterwards."""
    made: list[Runs] = []

    def make(scheduler: str) -> Runs:
        made.append(Runs(tmp_path, scheduler))
        return made[-1]

    yield make
    for runs in made:
        runs.stop_all()
