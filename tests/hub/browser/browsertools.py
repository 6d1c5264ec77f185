"""Helpers of the browser tests (import them: ``from browsertools import ...``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import units
from hubtools import TOKEN

__all__ = ["command"]


def command(*args: str | Path, cwd: Path, check: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with the tests' hub token in $GATOR_HUB_TOKEN."""
    done = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=units(120), env={**os.environ, "GATOR_HUB_TOKEN": TOKEN})
    if check is not None and done.returncode != check:
        raise AssertionError(f"python {' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n"
                             f"{done.stderr}")
    return done
