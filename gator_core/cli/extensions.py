"""Commands other packages add to ``gator``: the ``gator.cli`` entry points.

A package adds ``gator NAME ...`` by naming a typer application in its
``[project.entry-points."gator.cli"]`` (gator_hub adds ``gator hub`` so).
gator_core never imports such a package by name, and loads one only when its
command is the one invoked: ``gator run`` pays nothing for a hub's web stack.
``gator --help`` lists each with a placeholder that names its package.  A
built-in command keeps its name: an extension cannot replace ``run``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from gator_core.exceptions import UsageError

__all__ = ["GROUP", "add_extension_commands"]

GROUP = "gator.cli"


def add_extension_commands(group: Any, args: list[str]) -> None:
    """Add every extension command to ``group`` (the typer application's click group):
    the real one for the command in ``args[0]``, a placeholder for the others."""
    from typer.core import TyperCommand

    for entry in entry_points(group=GROUP):
        if entry.name in group.commands:
            continue
        if args and args[0] == entry.name:
            group.add_command(_load(entry), entry.name)
        else:
            group.add_command(TyperCommand(
                entry.name, help=f"Commands from the {_package(entry)} package ('gator {entry.name} --help').",
                callback=lambda: None), entry.name)


def _package(entry: EntryPoint) -> str:
    return entry.dist.name if entry.dist is not None else entry.value.split(":")[0]


def _load(entry: EntryPoint) -> Any:
    """The click command of an extension; a UsageError that names it when it is broken."""
    import typer
    from typer.main import get_command

    try:
        found = entry.load()
    except Exception as exc:  # noqa: BLE001 - any failure of someone else's package
        raise UsageError(f"the '{entry.name}' command of the {_package(entry)} package cannot be loaded: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(found, typer.Typer):
        raise UsageError(f"the '{entry.name}' command of the {_package(entry)} package is not a typer "
                         f"application ({entry.value})")
    return get_command(found)
