"""The spec language: model classes, YAML loading, validation, dumping, schema."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The model and its (de)serialisation are imported now: every process needs them.
# Dependencies, validation, the schema and the YAML loader load on first use, so
# that a child process that needs only the model (a wrapper started cold, on a
# batch farm's node) does not pay for them, nor for PyYAML.  (No submodule is
# named like a lazy name: importing it would put the module on this package.)
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
from .serial import dump_spec, from_dict, to_dict

if TYPE_CHECKING:
    from .checks import root_path, validate
    from .deps import DepTarget, resolve_dependency
    from .loader import load_spec, loads_spec, parse_spec
    from .schema import spec_schema

_LAZY = {
    "DepTarget": ".deps",
    "resolve_dependency": ".deps",
    "load_spec": ".loader",
    "loads_spec": ".loader",
    "parse_spec": ".loader",
    "spec_schema": ".schema",
    "root_path": ".checks",
    "validate": ".checks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
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
