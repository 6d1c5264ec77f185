"""The spec language: model classes, YAML loading, validation, dumping, schema."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Everything but the YAML loader is imported now (it is light).  The loader
# loads on first use, so that a child process that needs only the model (a
# wrapper) does not pay for PyYAML.
from .deps import DepTarget, resolve_dependency
from .model import (
    MEMORY_UNITS,
    Cores,
    Feature,
    Job,
    JobArray,
    JobGroup,
    License,
    Memory,
    Node,
    Origin,
    Resource,
    Rule,
    child_id,
    expand_children,
    iter_children,
    kind_of,
)
from .schema import spec_schema
from .serial import dump_spec, from_dict, to_dict
from .validate import root_path, validate

if TYPE_CHECKING:
    from .loader import load_spec, loads_spec, parse_spec

_LAZY = {"load_spec", "loads_spec", "parse_spec"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".loader", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Cores",
    "DepTarget",
    "Feature",
    "Job",
    "JobArray",
    "JobGroup",
    "License",
    "MEMORY_UNITS",
    "Memory",
    "Node",
    "Origin",
    "Resource",
    "Rule",
    "child_id",
    "expand_children",
    "iter_children",
    "dump_spec",
    "from_dict",
    "kind_of",
    "load_spec",
    "loads_spec",
    "parse_spec",
    "resolve_dependency",
    "root_path",
    "spec_schema",
    "to_dict",
    "validate",
]
