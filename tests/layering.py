"""A layers contract for a package's import graph, checked from the source (no imports run).

Each module belongs to one layer; a module may import its own layer and the
layers below it, never one above.  Imports under ``if TYPE_CHECKING:`` are not
counted: they do not run.  ``tests/unit/test_layers.py`` holds gator_core's
contract and shows, on a fixture package, that an upward import is caught.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Violation", "check_layers", "layer_of", "module_name"]


@dataclass(frozen=True)
class Violation:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}, a higher layer"


def module_name(root: Path, path: Path) -> str:
    """``pkg.sub.mod`` for ``root/sub/mod.py`` (``pkg`` is ``root``'s name)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, modules: set[str], here: str, is_init: bool) -> Iterator[tuple[str, int]]:
    """Absolute names of the modules imported at run time, with their lines.  ``from
    pkg import sub`` imports the module ``pkg.sub`` when there is one (``pkg`` itself is
    only initialised), and ``pkg`` otherwise."""
    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                yield from (item for stmt in child.orelse for item in [stmt, *walk(stmt)])
                continue
            yield child
            yield from walk(child)

    for node in walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base if is_init else base[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                name = f"{source}.{alias.name}"
                yield (name if name in modules else source), node.lineno


def layer_of(name: str, layers: Sequence[Sequence[str]]) -> int | None:
    """The index of the layer holding ``name`` (the longest matching prefix wins)."""
    best, best_len = None, -1
    for index, members in enumerate(layers):
        for member in members:
            if (name == member or name.startswith(member + ".")) and len(member) > best_len:
                best, best_len = index, len(member)
    return best


def check_layers(root: Path, layers: Sequence[Sequence[str]]) -> list[Violation]:
    """Every import in the package at ``root`` of a module in a higher layer than its
    importer's.  ``layers`` lists module names (or package prefixes), lowest first;
    modules in no layer are not checked, and neither are imports of them."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(root, path) for path in paths}
    found = []
    for path in paths:
        here = module_name(root, path)
        mine = layer_of(here, layers)
        if mine is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for imported, line in _imports(tree, modules, here, path.name == "__init__.py"):
            theirs = layer_of(imported, layers)
            if theirs is not None and theirs > mine:
                found.append(Violation(here, imported, line))
    return found
