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
    "run": "runtime.runner",
    "run_async": "runtime.runner",
    "Limits": "config",
    "NodeResult": "store.readback",
    "StoreReader": "store.nodestore",
    "load_results": "store.readback",
    "error_signature": "report.buckets",
    "bucket_failures": "report.buckets",
    "FailureBucket": "report.buckets",
    "RunObserver": "runtime.observers",
    "RunInfo": "runtime.observers",
    # schedulers
    "Scheduler": "sched.contract",
    "SchedulerContext": "sched.contract",
    "LaunchRequest": "sched.contract",
    "ChildEvent": "sched.contract",
    "EventKind": "sched.contract",
    "Option": "sched.contract",
    "Resources": "sched.contract",
    "ArrayRef": "sched.contract",
    "parse_size": "sched.contract",
    "parse_bool": "sched.contract",
    "parse_positive_int": "sched.contract",
    "BatchScheduler": "sched.batch",
    "AgentScheduler": "sched.agent",
    "answer_hello": "sched.agent",
    "human_bytes": "textutil",
    "Submission": "sched.batch",
    "NativeStatus": "sched.batch",
    "parse_seconds": "sched.batch",
    "Capacity": "sched.resources",
    "ResourcePool": "sched.resources",
    "take_fitting": "sched.queue",
    "Backoff": "backoff",
    "become_subreaper": "job.proctree",
    "signal_tree": "job.proctree",
    "descendants": "job.proctree",
    "reap_zombies": "job.proctree",
    "exit_now": "job.proctree",
    "child_main": "runtime.childmain",
    "run_forked": "runtime.childmain",
    "settle_forked": "runtime.childmain",
    "RELEASE_FD": "envvars",
    "CHILD_KEY": "envvars",
    "PARENT_URL": "envvars",
    "TOKEN": "envvars",
    "HOST_TRACKING": "envvars",
    "HOST_LAUNCH_DIR": "envvars",
    "HOST_TRACKING_ROOT": "envvars",
    "HostPaths": "job.hostpaths",
    "LogParser": "job.classify",
    "Runner": "job.runners",
    "JobCommand": "job.runners",
    "Classified": "job.classify",
    "preload_child": "runtime.childmain",
    # the vocabulary
    "Severity": "states",
    "Result": "states",
    "ChildState": "states",
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
    from gator_core.backoff import Backoff
    from gator_core.config import Limits
    from gator_core.envvars import CHILD_KEY, HOST_LAUNCH_DIR, HOST_TRACKING, PARENT_URL, RELEASE_FD, TOKEN
    from gator_core.exceptions import (
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
    from gator_core.hookspecs import hookimpl, hookspec
    from gator_core.job.classify import Classified, LogParser
    from gator_core.job.proctree import become_subreaper, descendants, reap_zombies, signal_tree
    from gator_core.job.runners import JobCommand, Runner
    from gator_core.report.buckets import FailureBucket, bucket_failures, error_signature
    from gator_core.runtime.childmain import main as child_main
    from gator_core.runtime.childmain import preload as preload_child
    from gator_core.runtime.childmain import run_forked, settle_forked
    from gator_core.runtime.observers import RunInfo, RunObserver
    from gator_core.runtime.runner import run, run_async
    from gator_core.sched.agent import AgentScheduler, answer_hello
    from gator_core.sched.batch import BatchScheduler, NativeStatus, Submission, parse_seconds
    from gator_core.sched.contract import (
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
    from gator_core.sched.queue import take_fitting
    from gator_core.sched.resources import Capacity, ResourcePool
    from gator_core.spec import (
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
    from gator_core.states import ChildState, Result, Severity
    from gator_core.store.nodestore import StoreReader
    from gator_core.store.readback import NodeResult, load_results
    from gator_core.textutil import human_bytes
