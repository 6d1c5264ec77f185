"""A child started cold (a batch farm's node has no warm agent to fork from) pays for
every module it imports: the wrapper's path must not load what only a run's top,
a failure or a tier needs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

# Loaded by the run's top or by tiers only, or only on an error's path.
NOT_FOR_A_WRAPPER = [
    "yaml", "asyncio", "websockets", "typer", "rich", "psutil", "difflib", "traceback",
    "gator_core.spec.deps", "gator_core.spec.checks", "gator_core.spec.schema", "gator_core.spec.loader",
    "gator_core.spec.params", "gator_core.runtime.tier", "gator_core.sched",
]
if hasattr(sqlite3.Connection, "serialize"):  # Python 3.10 makes the store template in a temporary file
    NOT_FOR_A_WRAPPER.append("tempfile")


def test_a_cold_wrapper_imports_only_what_a_wrapper_uses() -> None:
    code = ("import json, sys; import gator_core.runtime.childmain, gator_core.job.wrapper;"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True, timeout=60).stdout))
    assert "gator_core.job.wrapper" in loaded  # the probe really imported the wrapper
    assert sorted(name for name in NOT_FOR_A_WRAPPER if name in loaded) == []


def test_the_lazy_names_of_the_spec_package_are_the_functions() -> None:
    # A submodule named like one of them would shadow it once imported.
    code = ("import gator_core.spec.loader, gator_core.spec as s;"
            "print(s.validate.__module__, s.root_path.__module__, s.resolve_dependency.__module__,"
            " s.spec_schema.__module__, s.load_spec.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60).stdout.split()
    assert out == ["gator_core.spec.checks", "gator_core.spec.checks", "gator_core.spec.deps",
                   "gator_core.spec.schema", "gator_core.spec.loader"]
