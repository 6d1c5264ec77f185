"""The documentation says what the code does: every hook is documented with its
exact signature, and the example plugin's code shown in docs/schedulers.md is
really in the example plugin (which the tests install and run)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEDULERS_MD = (ROOT / "docs" / "schedulers.md").read_text()


def hook_signatures() -> list[str]:
    tree = ast.parse((ROOT / "gator_core" / "hookspecs.py").read_text())
    out = []
    for item in tree.body:
        if isinstance(item, ast.FunctionDef) and any(  # @hookspec, or @hookspec(firstresult=True)
                isinstance(d.func if isinstance(d, ast.Call) else d, ast.Name)
                and (d.func if isinstance(d, ast.Call) else d).id == "hookspec" for d in item.decorator_list):
            args = ast.unparse(item.args)
            out.append(f"def {item.name}({args}) -> {ast.unparse(item.returns)}")
    return out


def test_there_are_hooks_and_each_has_the_project_prefix():
    signatures = hook_signatures()
    assert signatures
    assert all(sig.startswith("def gator_") for sig in signatures)


def test_every_hook_is_documented_with_its_signature():
    for signature in hook_signatures():
        assert signature in SCHEDULERS_MD, f"docs/schedulers.md does not show `{signature}`"


def test_every_hook_has_a_docstring():
    tree = ast.parse((ROOT / "gator_core" / "hookspecs.py").read_text())
    for item in tree.body:
        if isinstance(item, ast.FunctionDef) and item.name.startswith("gator_"):
            assert ast.get_docstring(item), item.name


def quick_start_code() -> list[str]:
    section = SCHEDULERS_MD.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in re.findall(r"```(?:python|toml)\n(.*?)```", section, re.S):
        for line in block.splitlines():
            code = line.split("#", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
            if code.strip() and not code.strip().startswith(("...", "…")):
                lines.append(code.strip())
    return lines


def test_the_example_plugin_code_in_the_docs_is_the_real_code():
    plugin = ROOT / "examples" / "sched_plugin"
    real = "\n".join(p.read_text() for p in [plugin / "pyproject.toml", *plugin.rglob("*.py")])
    real_lines = {line.strip() for line in real.splitlines()}
    missing = [line for line in quick_start_code() if line not in real_lines]
    assert not missing, f"docs/schedulers.md shows lines that are not in examples/sched_plugin: {missing}"
