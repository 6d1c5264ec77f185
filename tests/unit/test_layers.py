"""gator_core's layers: a lower layer never imports a higher one.

The layers, lowest first, are those its subpackages name (each ``__init__``
says what it may import).  The top-level modules ``__init__``, ``api``,
``child`` and ``remote`` are the public faces and stable entry points: they
may import anything, and nothing inside may import them.
"""

from __future__ import annotations

from pathlib import Path

from helpers import ROOT, write
from layering import check_layers, layer_of, module_name

FOUNDATION = ["gator_core.exceptions", "gator_core.textutil", "gator_core.envvars", "gator_core.config",
              "gator_core.plugins", "gator_core.hookspecs", "gator_core.states", "gator_core.backoff"]
LAYERS = [
    FOUNDATION,
    ["gator_core.spec"],
    ["gator_core.wire"],
    ["gator_core.store"],
    ["gator_core.job"],
    ["gator_core.sched"],
    ["gator_core.runtime"],
    ["gator_core.report"],
    ["gator_core.cli"],
    ["gator_core", "gator_core.api", "gator_core.child", "gator_core.remote", "gator_core.parsers"],
]


def test_no_layer_of_gator_core_imports_a_higher_one() -> None:
    violations = check_layers(ROOT / "gator_core", LAYERS)
    assert violations == [], "\n".join(map(str, violations))


def test_every_module_of_gator_core_is_in_a_layer() -> None:
    root = ROOT / "gator_core"
    names = [module_name(root, path) for path in root.rglob("*.py")]
    assert [name for name in names if layer_of(name, LAYERS) is None] == []


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """A fixture package where the low layer imports the high one, in each form an
    import can take; a TYPE_CHECKING import alone is allowed."""
    pkg = tmp_path / "pkg"
    for directory in (pkg, pkg / "low", pkg / "high"):
        directory.mkdir()
        write(directory / "__init__.py", "")
    write(pkg / "high" / "top.py", "X = 1\n")
    write(pkg / "low" / "fine.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.high.top import X\n")
    write(pkg / "low" / "absolute.py", "import pkg.high.top\n")
    write(pkg / "low" / "relative.py", "def late():\n    from ..high.top import X\n    return X\n")
    write(pkg / "low" / "from_package.py", "from pkg.high import top\n")
    write(pkg / "high" / "down.py", "from pkg.low import fine\n")  # downward: allowed
    found = check_layers(pkg, [["pkg.low"], ["pkg.high"]])
    assert sorted((v.importer, v.line) for v in found if v.imported == "pkg.high.top") == [
        ("pkg.low.absolute", 1), ("pkg.low.from_package", 1), ("pkg.low.relative", 2)]
    assert all(v.importer.startswith("pkg.low.") for v in found)
    assert "pkg.low.fine" not in {v.importer for v in found}
