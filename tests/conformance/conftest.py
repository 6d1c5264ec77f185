"""The conformance suite runs against every scheduler.

``--schedulers`` picks which (comma-separated; default: the ones that need no
cluster, and those whose test cluster tests/cluster/up.sh has brought up).  Any installed scheduler can be named: those not listed in KNOWN
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


def _default_schedulers() -> str:
    """The ones that need no cluster, and each test cluster that is up (see tests/cluster)."""
    from helpers import cluster_available

    names = ["local", "example"] + [name for name in ("slurm", "sge", "ssh") if cluster_available(name)]
    return ",".join(names)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--schedulers", default=_default_schedulers(),
                     help="comma-separated schedulers for the conformance suite "
                          "(default: local, example, and slurm, sge and ssh when their test clusters are up)")


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


# Options a scheduler needs to run at all here (the SSH scheduler: its hosts).
def _needed_options(name: str) -> dict[str, str]:
    import os

    if name == "ssh":
        return {"hosts": os.environ.get("GATOR_TEST_SSH_HOSTS", "")}
    return {}


@pytest.fixture
def scheduler_options(scheduler_name: str) -> dict[str, str]:
    """Options for constructing the scheduler directly."""
    return _needed_options(scheduler_name)


@pytest.fixture
def scheduler_args(scheduler_name: str) -> list[str]:
    """The same, as `gator run` arguments."""
    out = []
    for key, value in _needed_options(scheduler_name).items():
        out += ["--sched-arg", f"{key}={value}"]
    return out


@pytest.fixture
def same_filesystem(scheduler_name: str) -> bool:
    """Whether children see this machine's files at the same paths (the SSH test
    hosts are other users on other network hosts: no)."""
    return scheduler_name != "ssh"
