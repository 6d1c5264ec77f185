"""Finding plugins: the entry-point group ``gator``, registered with pluggy.

Each entry point is loaded by itself, so that a plugin that fails to import
is reported by its entry-point name and value, not as a bare traceback.
Set ``GATOR_TRACE_HOOKS=1`` to print every hook call and its results.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

from gator_core import hookspecs
from gator_core.exceptions import UsageError
from gator_core.textutil import did_you_mean

if TYPE_CHECKING:
    from gator_core.runtime.observers import RunObserver

__all__ = ["plugin_manager", "PluginClass", "SchedulerInfo", "available_schedulers", "available_parsers",
           "available_runners", "scheduler_class", "hub_reporter"]

# plugin object -> "distribution version", for `gator schedulers`
_DISTRIBUTIONS: dict[int, str] = {}


@lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every installed plugin registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    seen: set[str] = set()
    for entry in metadata.entry_points(group=hookspecs.PROJECT):
        if entry.name in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(entry.name)
        try:
            plugin = entry.load()
        except Exception as exc:  # a broken third-party plugin must not look like our bug
            raise UsageError(
                f"cannot load the '{entry.name}' plugin ({entry.value}): {type(exc).__name__}: {exc}"
            ) from exc
        if pm.is_registered(plugin):
            continue
        pm.register(plugin, name=entry.name)
        dist = entry.dist
        _DISTRIBUTIONS[id(plugin)] = f"{dist.name} {dist.version}" if dist else "(unknown package)"
    if os.environ.get("GATOR_TRACE_HOOKS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


@dataclass(frozen=True)
class PluginClass:
    """A class a plugin provides through a hook, with where it comes from."""

    name: str
    cls: type
    plugin: str  # the entry point's name
    distribution: str  # package that provides it, with version


SchedulerInfo = PluginClass  # the name `gator schedulers` and older callers use


def _provider(pm: pluggy.PluginManager, cls: type) -> tuple[str, str]:
    """Which registered plugin a class comes from (the one whose module holds it)."""
    best: tuple[int, str, str] = (-1, "(unknown)", "(registered in process)")
    for name, plugin in pm.list_name_plugin():
        module = getattr(plugin, "__name__", "")
        if module and (cls.__module__ == module or cls.__module__.startswith(module + ".")):
            if len(module) > best[0]:
                best = (len(module), name, _DISTRIBUTIONS.get(id(plugin), "(registered in process)"))
    return best[1], best[2]


def _collect(hook: str, what: str) -> dict[str, PluginClass]:
    pm = plugin_manager()
    found: dict[str, PluginClass] = {}
    for classes in getattr(pm.hook, hook)():
        for cls in classes or []:
            plugin, dist = _provider(pm, cls)
            name = getattr(cls, "name", "")
            if not name:
                raise UsageError(f"{what} class {cls.__qualname__} from plugin '{plugin}' has no name")
            if name in found and found[name].cls is not cls:
                raise UsageError(f"two plugins provide {what} '{name}': {found[name].plugin} and {plugin}")
            found[name] = PluginClass(name, cls, plugin, dist)
    return found


def available_schedulers() -> dict[str, PluginClass]:
    """Every installed scheduler by name.  Raises UsageError on a name clash."""
    return _collect("gator_schedulers", "scheduler")


def available_parsers() -> dict[str, PluginClass]:
    """Every installed log parser by name.  Raises UsageError on a name clash."""
    return _collect("gator_log_parsers", "log parser")


def available_runners() -> dict[str, PluginClass]:
    """Every installed runner by name (the built-in ones included).  UsageError on a clash."""
    return _collect("gator_runners", "runner")


def scheduler_class(name: str) -> type:
    """The scheduler class called ``name``; UsageError listing the installed ones otherwise."""
    schedulers = available_schedulers()
    if name not in schedulers:
        names = sorted(schedulers)
        raise UsageError(
            f"no scheduler called '{name}'{did_you_mean(name, names)} "
            f"(installed: {', '.join(names) or 'none'})"
        )
    return schedulers[name].cls


def hub_reporter(url: str, token_file: Path | None, say: Callable[[str], None]) -> RunObserver:
    """The observer that reports a run to the hub at ``url``; UsageError when no
    installed plugin reports to hubs."""
    observer = plugin_manager().hook.gator_hub_reporter(url=url, token_file=token_file, say=say)
    if observer is None:
        raise UsageError("--hub needs a plugin that reports to hubs, and none is installed "
                         "(gator_hub provides one: pip install gator-runner)")
    return observer
