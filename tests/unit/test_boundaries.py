"""The package boundaries of the design: gator_core never imports a scheduler package
or the hub, and they (ours and the example scheduler) use only gator_core's public API."""

from __future__ import annotations

import ast
from pathlib import Path

import gator_core

ROOT = Path(__file__).resolve().parents[2]
SCHEDULER_PACKAGES = ["gator_sched_local", "gator_sched_slurm", "gator_sched_ssh",
                      "examples/sched_plugin/gator_sched_example"]
# Packages that sit on gator_core: the schedulers and the hub.
CLIENT_PACKAGES = [*SCHEDULER_PACKAGES, "gator_hub"]


def imports(path: Path) -> list[tuple[str, list[str]]]:
    out = []
    for item in ast.walk(ast.parse(path.read_text())):
        if isinstance(item, ast.ImportFrom) and item.module and item.level == 0:
            out.append((item.module, [alias.name for alias in item.names]))
        elif isinstance(item, ast.Import):
            out.extend((alias.name, []) for alias in item.names)
    return out


def test_gator_core_never_imports_a_scheduler_package_or_the_hub():
    for path in (ROOT / "gator_core").rglob("*.py"):
        for module, _ in imports(path):
            assert not module.startswith(("gator_sched", "gator_hub")), f"{path} imports {module}"


def test_scheduler_packages_and_the_hub_use_only_the_public_api():
    public = set(gator_core.__all__)
    for package in CLIENT_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for module, names in imports(path):
                if module.startswith("gator_core"):
                    assert module == "gator_core", f"{path} imports {module} (not the public API)"
                    assert set(names) <= public, f"{path} imports {set(names) - public} from gator_core"


def test_every_public_name_resolves():
    for name in gator_core.__all__:
        assert getattr(gator_core, name) is not None, name
