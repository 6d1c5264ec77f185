"""Packages add `gator` commands through the `gator.cli` entry points (as gator_hub adds `gator hub`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import gator, write


@pytest.fixture
def extension(tmp_path: Path) -> dict[str, str]:
    """A package `fakeext` with entry points `fake` (works), `broken` (raises on import) and
    `run` (tries to replace a built-in); importing it leaves a mark, to see when it loads."""
    site = tmp_path / "site"
    mark = tmp_path / "imported"
    site.mkdir()
    write(site / "fakeext.py", f"""
import pathlib
import typer

pathlib.Path({str(mark)!r}).touch()
app = typer.Typer(help="A fake extension.")


@app.command()
def hello(name: str = "world") -> None:
    print(f"hello {{name}}")


@app.command()
def other() -> None:
    print("other")
""")
    write(site / "fakebroken.py", "raise RuntimeError('cannot start')\n")
    info = site / "fakeext-0.1.dist-info"
    info.mkdir()
    write(info / "METADATA", "Metadata-Version: 2.1\nName: fakeext\nVersion: 0.1\n")
    write(info / "entry_points.txt", "[gator.cli]\nfake = fakeext:app\nbroken = fakebroken:app\n"
                                     "run = fakeext:app\n")
    return {"PYTHONPATH": str(site), "MARK": str(mark)}


def test_an_extension_command_runs_and_is_loaded_only_when_invoked(extension: dict[str, str], tmp_path: Path):
    env = {"PYTHONPATH": extension["PYTHONPATH"]}
    listing = gator("--help", env=env, check=0).stdout
    assert "fake" in listing and "fakeext package" in listing
    gator("schema", env=env, check=0)
    assert not Path(extension["MARK"]).exists(), "another command imported the extension"
    assert gator("fake", "hello", "--name", "gator", env=env, check=0).stdout == "hello gator\n"
    assert Path(extension["MARK"]).exists()


def test_a_broken_extension_is_named_and_a_built_in_keeps_its_name(extension: dict[str, str], tmp_path: Path):
    env = {"PYTHONPATH": extension["PYTHONPATH"]}
    proc = gator("broken", env=env, check=2)
    assert "the 'broken' command of the fakeext package cannot be loaded: RuntimeError: cannot start" in proc.stderr
    assert "Traceback" not in proc.stderr
    spec = write(tmp_path / "s.yaml", "!Job {id: j, command: 'true'}\n")
    proc = gator("run", spec, "-t", tmp_path / "t", "-q", env=env, check=0)  # the built-in `run`
    assert proc.stdout.lstrip().startswith("PASS: 1 job")
