"""Fixtures shared by every test layer; plain helpers live in helpers.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, units


@pytest.fixture
def tracking(tmp_path: Path) -> Path:
    """A tracking directory path that does not exist yet."""
    return tmp_path / "tracking"


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The in-house scheduler example, installed as a separate package into its own
    directory (nothing global changes); returns the directory to put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("plugin")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "examples" / "sched_plugin")],
                   check=True, capture_output=True, timeout=units(300))
    return target
