"""Finding plugins: the entry-point group ``gator``, loaded through pluggy."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache

import pluggy

from . import hookspecs
from .exceptions import UsageError
from .textutil import did_you_mean

__all__ = ["plugin_manager", "SchedulerInfo", "available_schedulers", "scheduler_class"]


@lru_cache(maxsize=1)
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every installed plugin loaded.

    A plugin that fails to import is reported naming the entry point.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    try:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    except Exception as exc:  # a broken third-party plugin must not look like our bug
        raise UsageError(f"cannot load a '{hookspecs.PROJECT}' plugin: {type(exc).__name__}: {exc}") from exc
    if os.environ.get("GATOR_TRACE_HOOKS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


@dataclass(frozen=True)
class SchedulerInfo:
    name: str
    cls: type
    plugin: str  # the entry point's name
    distribution: str  # package that provides it, with version


def available_schedulers() -> dict[str, SchedulerInfo]:
    """Every installed scheduler by name.  Raises UsageError on a name clash."""
    pm = plugin_manager()
    found: dict[str, SchedulerInfo] = {}
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    for impl in pm.hook.gator_schedulers.get_hookimpls():
        classes = impl.function() or []
        dist = dists.get(id(impl.plugin))
        dist_name = f"{dist.project_name} {dist.version}" if dist else "(registered in process)"
        for cls in classes:
            name = getattr(cls, "name", "")
            if not name:
                raise UsageError(f"scheduler class {cls.__qualname__} from plugin '{impl.plugin_name}' has no name")
            if name in found and found[name].cls is not cls:
                raise UsageError(
                    f"two plugins provide scheduler '{name}': {found[name].plugin} and {impl.plugin_name}"
                )
            found[name] = SchedulerInfo(name, cls, impl.plugin_name, dist_name)
    return found


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
