"""Counting resources against limits: slots (cores), memory, licences and features.

Pure bookkeeping, shared by schedulers that enforce limits themselves (the
local scheduler for the machine, the SSH scheduler per host).  A job that
does not say ``!Cores`` takes one slot; ``!Cores [0]`` takes none (tiers take
none either).  Licences and features without a configured limit are not
limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gator_core.sched.contract import Resources
from gator_core.textutil import human_bytes

__all__ = ["Capacity", "ResourcePool", "slots_of"]


def slots_of(resources: Resources) -> int:
    return 1 if resources.cores is None else resources.cores


@dataclass(frozen=True)
class Capacity:
    slots: int
    memory: int | None = None  # bytes; None: not limited
    licenses: Mapping[str, int] = field(default_factory=dict)
    features: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"slots": self.slots, "memory": self.memory, "licenses": dict(self.licenses),
                "features": dict(self.features)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Capacity:
        return cls(int(data["slots"]), data.get("memory"), dict(data.get("licenses") or {}),
                   dict(data.get("features") or {}))

    def never_fits(self, resources: Resources) -> str | None:
        """Why a request exceeds the whole capacity, or None."""
        slots = slots_of(resources)
        if slots > self.slots:
            return f"asks for {slots} cores but at most {self.slots} run at once here"
        if resources.memory and self.memory is not None and resources.memory > self.memory:
            return (f"asks for {human_bytes(resources.memory)} of memory but only "
                    f"{human_bytes(self.memory)} is available")
        for kind, limits, wanted in (("licence", self.licenses, resources.licenses),
                                     ("feature", self.features, resources.features)):
            for name, count in wanted.items():
                if name in limits and count > limits[name]:
                    return f"asks for {count} of {kind} '{name}' but the limit is {limits[name]}"
        return None


class ResourcePool:
    """What is in use right now, against a :class:`Capacity`."""

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self.slots = 0
        self.memory = 0
        self.licenses: dict[str, int] = {}
        self.features: dict[str, int] = {}

    def fits(self, resources: Resources) -> bool:
        cap = self.capacity
        if self.slots + slots_of(resources) > cap.slots:
            return False
        if resources.memory and cap.memory is not None and self.memory + resources.memory > cap.memory:
            return False
        for limits, used, wanted in ((cap.licenses, self.licenses, resources.licenses),
                                     (cap.features, self.features, resources.features)):
            for name, count in wanted.items():
                if name in limits and used.get(name, 0) + count > limits[name]:
                    return False
        return True

    def take(self, resources: Resources) -> None:
        self.slots += slots_of(resources)
        self.memory += resources.memory or 0
        for name, count in resources.licenses.items():
            self.licenses[name] = self.licenses.get(name, 0) + count
        for name, count in resources.features.items():
            self.features[name] = self.features.get(name, 0) + count

    def give(self, resources: Resources) -> None:
        self.slots -= slots_of(resources)
        self.memory -= resources.memory or 0
        for name, count in resources.licenses.items():
            self.licenses[name] -= count
        for name, count in resources.features.items():
            self.features[name] -= count

    @property
    def full(self) -> bool:
        return self.slots >= self.capacity.slots
