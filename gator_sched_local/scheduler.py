"""``--scheduler local``: every child runs on this machine, through one agent per run.

The root tier starts the agent (:mod:`gator_sched_local.agent`); child tiers
find it through what the root's scheduler exported, so one limit covers the
whole tree:

* ``concurrency=N``: job slots in use at once (default: the CPU count).  A job
  takes ``!Cores`` slots, one if it does not say; tiers take none.
* ``memory=SIZE``: memory that ``!Memory`` requests count against (default: the
  memory available when the run starts), e.g. ``memory=16GB``.
* ``license.NAME=N`` and ``feature.NAME=N``: how many of a named licence or
  feature may be held at once, across the tree.  A name without a limit is
  not limited.

Each tier hands the agent at most ``WINDOW`` children at a time (more with
many slots), and more as they end.
"""

from __future__ import annotations

import os
from typing import Any

import psutil

from gator_core import (
    AgentScheduler,
    Capacity,
    Option,
    Resources,
    parse_positive_int,
    parse_size,
)

__all__ = ["LocalScheduler", "WINDOW"]

# Children a tier holds launched at once (at least; eight per slot on larger machines).
WINDOW = 256


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


class LocalScheduler(AgentScheduler):
    name = "local"
    description = "run children on this machine (the default)"
    agent_module = "gator_sched_local.agent"
    agent_name = "local agent"
    options = (
        Option("concurrency", parse_positive_int, None,
               "job slots in use at once across the whole tree (default: CPU count)"),
        Option("memory", parse_size, None,
               "memory that !Memory requests count against (default: available memory)"),
        Option("license", _count, None, "limit of a named licence, e.g. license.vcs=4", prefix=True),
        Option("feature", _count, None, "limit of a named feature, e.g. feature.gpu=1", prefix=True),
    )

    def __init__(self, options: Any, context: Any) -> None:
        super().__init__(options, context)
        inherited = context.inherited or {}
        if "capacity" in inherited:
            self.capacity = Capacity.from_dict(inherited["capacity"])
        else:
            self.capacity = Capacity(
                slots=self.settings["concurrency"] or os.cpu_count() or 1,
                memory=self.settings["memory"] or psutil.virtual_memory().available,
                licenses=dict(self.settings["license"]),
                features=dict(self.settings["feature"]),
            )

    def agent_config(self) -> dict[str, Any]:
        return {**super().agent_config(), "capacity": self.capacity.to_dict()}

    def agent_export(self) -> dict[str, Any]:
        return {"capacity": self.capacity.to_dict()}

    # -- placement and limits -----------------------------------------------------------------
    def launch_window(self) -> int:
        """The agent starts what fits among the first requests it holds (it looks 64 past
        one that does not): giving it all 100,000 of an array at once only cost memory,
        in the agent and in the tier, and time in both."""
        return max(WINDOW, 8 * self.capacity.slots)

    def check_resources(self, path: str, resources: Resources) -> str | None:
        return self.capacity.never_fits(resources)

    def unlimited_names(self, resources: Resources) -> list[str]:
        """Licences and features a request names that have no limit here."""
        out = [f"licence '{n}'" for n in resources.licenses if n not in self.capacity.licenses]
        out += [f"feature '{n}'" for n in resources.features if n not in self.capacity.features]
        return out
