"""The hub's migrations ship in the package (its imports: tests/unit/test_boundaries.py)."""

from __future__ import annotations

from pathlib import Path

from helpers import ROOT


def test_the_migration_scripts_are_package_data() -> None:
    line = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines()
                if line.startswith("gator_hub = ["))
    data = line.split("=", 1)[1]
    scripts = list((ROOT / "gator_hub" / "migrations" / "versions").glob("*.py"))
    assert scripts and "migrations/versions/*.py" in data and "migrations/*.py" in data
    assert Path(ROOT / "gator_hub" / "migrations" / "env.py").exists()
