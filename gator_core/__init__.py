"""Gator: a hierarchical job runner.

Everything a user or a plugin author needs is importable from here; the
modules behind these names are internal.  Names load on first use, so that
``import gator_core`` stays cheap for jobs that only want to log a message.

Building and running a tree in Python::

    from gator_core import Job, JobGroup, run

    tree = JobGroup(id="top", jobs=[Job(id="hi", command="echo", args=["hello"])])
    result = run(tree, tracking="out")
    print(result.result, result.children[0].messages)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # plugin contract
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    # spec language
    "Job": "spec",
    "JobGroup": "spec",
    "JobArray": "spec",
    "Cores": "spec",
    "Memory": "spec",
    "License": "spec",
    "Feature": "spec",
    "Rule": "spec",
    "load_spec": "spec",
    "loads_spec": "spec",
    "dump_spec": "spec",
    "validate": "spec",
    "spec_schema": "spec",
    # running and results
    "run": "runner",
    "run_async": "runner",
    "Limits": "config",
    "NodeResult": "results",
    "load_results": "results",
    # schedulers
    "Scheduler": "scheduler",
    "SchedulerContext": "scheduler",
    "LaunchRequest": "scheduler",
    "ChildEvent": "scheduler",
    "EventKind": "scheduler",
    "Option": "scheduler",
    "Resources": "scheduler",
    "ArrayRef": "scheduler",
    "parse_size": "scheduler",
    "parse_bool": "scheduler",
    "parse_positive_int": "scheduler",
    "BatchScheduler": "batch",
    "AgentScheduler": "agentclient",
    "answer_hello": "agentclient",
    "human_bytes": "textutil",
    "Submission": "batch",
    "NativeStatus": "batch",
    "parse_seconds": "batch",
    "Capacity": "resources",
    "ResourcePool": "resources",
    "become_subreaper": "procs",
    "signal_tree": "procs",
    "descendants": "procs",
    "reap_zombies": "procs",
    "child_main": "child",
    "run_forked": "child",
    "settle_forked": "child",
    "RELEASE_FD": "envvars",
    "CHILD_KEY": "envvars",
    "PARENT_URL": "envvars",
    "TOKEN": "envvars",
    "HOST_TRACKING": "envvars",
    "HOST_LAUNCH_DIR": "envvars",
    "LogParser": "logparse",
    "Classified": "logparse",
    "preload_child": "child",
    # errors
    "GatorError": "exceptions",
    "SpecError": "exceptions",
    "SpecIssue": "exceptions",
    "UsageError": "exceptions",
    "ProtocolError": "exceptions",
    "SchedulerError": "exceptions",
    "LaunchError": "exceptions",
    "StoreError": "exceptions",
    "ChildError": "exceptions",
}
_RENAMED = {"child_main": "main", "preload_child": "preload"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gator_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .agentclient import AgentScheduler, answer_hello
    from .batch import BatchScheduler, NativeStatus, Submission, parse_seconds
    from .child import main as child_main
    from .child import preload as preload_child
    from .child import run_forked, settle_forked
    from .config import Limits
    from .envvars import CHILD_KEY, HOST_LAUNCH_DIR, HOST_TRACKING, PARENT_URL, RELEASE_FD, TOKEN
    from .exceptions import (
        ChildError,
        GatorError,
        LaunchError,
        ProtocolError,
        SchedulerError,
        SpecError,
        SpecIssue,
        StoreError,
        UsageError,
    )
    from .hookspecs import hookimpl, hookspec
    from .logparse import Classified, LogParser
    from .procs import become_subreaper, descendants, reap_zombies, signal_tree
    from .resources import Capacity, ResourcePool
    from .results import NodeResult, load_results
    from .runner import run, run_async
    from .scheduler import (
        ArrayRef,
        ChildEvent,
        EventKind,
        LaunchRequest,
        Option,
        Resources,
        Scheduler,
        SchedulerContext,
        parse_bool,
        parse_positive_int,
        parse_size,
    )
    from .spec import (
        Cores,
        Feature,
        Job,
        JobArray,
        JobGroup,
        License,
        Memory,
        Rule,
        dump_spec,
        load_spec,
        loads_spec,
        spec_schema,
        validate,
    )
    from .textutil import human_bytes
