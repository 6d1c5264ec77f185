"""The conformance suite runs against every scheduler.

``--schedulers`` picks which (comma-separated; default: the ones that need no
cluster).  Any installed scheduler can be named: those not listed in KNOWN
are found through the plugin registry, as `gator run --scheduler` finds them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

# name -> (module, class, needs the example plugin package)
KNOWN = {
    "local": ("gator_sched_local.scheduler", "LocalScheduler", False),
    "example": ("gator_sched_example.scheduler", "PrefixScheduler", True),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--schedulers", default="local,example",
                     help="comma-separated schedulers for the conformance suite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scheduler_name" in metafunc.fixturenames:
        names = [n.strip() for n in metafunc.config.getoption("--schedulers").split(",") if n.strip()]
        metafunc.parametrize("scheduler_name", names)


@pytest.fixture
def scheduler_cls(scheduler_name: str, request: pytest.FixtureRequest) -> type:
    if scheduler_name not in KNOWN:
        from gator_core.plugins import scheduler_class

        return scheduler_class(scheduler_name)
    module, name, needs_plugin = KNOWN[scheduler_name]
    if needs_plugin:
        target: Path = request.getfixturevalue("example_plugin")
        if str(target) not in sys.path:
            sys.path.insert(0, str(target))
    return getattr(importlib.import_module(module), name)


@pytest.fixture
def scheduler_env(scheduler_name: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for `gator` processes that use this scheduler."""
    from helpers import with_plugin

    if scheduler_name in KNOWN and KNOWN[scheduler_name][2]:
        return with_plugin(request.getfixturevalue("example_plugin"))
    return {}
