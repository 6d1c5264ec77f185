"""The spec language: model classes, YAML loading, validation, dumping, schema."""

from __future__ import annotations

from .deps import DepTarget, resolve_dependency
from .loader import load_spec, loads_spec, parse_spec
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
    kind_of,
)
from .schema import spec_schema
from .serial import dump_spec, from_dict, to_dict
from .validate import root_path, validate

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
