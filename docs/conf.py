"""Sphinx configuration: the guides in docs/*.md and the API reference in docs/reference/.

Build it as tests/run-all.sh does (warnings are errors)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

or build and serve it with ``docs/serve.sh``.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout, also where it is not installed

import gator_core  # noqa: E402

project = "Gator"
author = "the Gator authors"
copyright = "the Gator authors"
release = version = gator_core.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# -- the Markdown guides ---------------------------------------------------------------------
# The guides link to each other's sections as GitHub does (running.md#interrupting):
# give headings down to level 4 anchors with GitHub's slugs.
myst_heading_anchors = 4
# Links to folders of the repository (../examples/sched_plugin/) work on GitHub; the site
# has no page for them, so they stay plain text there instead of failing the build.
nitpick_ignore_regex = [("myst", r"\.\./.+/")]

# -- the API reference --------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
autoclass_content = "class"

html_theme = "alabaster"
html_title = f"Gator {release}"

logger = logging.getLogger(__name__)


def _public_names() -> dict[int, str]:
    """The public name (gator_core.X) of every class and function gator_core exports."""
    names = {}
    for name in gator_core.__all__:
        obj = getattr(gator_core, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            names[id(obj)] = f"gator_core.{name}"
    return names


PUBLIC = _public_names()


def _public_target(dotted: str) -> str | None:
    """``gator_core.sched.contract.Scheduler.launch`` -> ``gator_core.Scheduler.launch``.

    The reference documents exported names under gator_core; docstrings often name
    them where they are defined, or as their own module sees them.  Only modules
    already imported (by autodoc) are looked in: nothing is imported for this.
    """
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        obj: Any = sys.modules.get(".".join(parts[:split]))
        if obj is None:
            continue
        for index in range(split, len(parts)):
            obj = getattr(obj, parts[index], None)
            if obj is None:
                return None
            if id(obj) in PUBLIC:
                return ".".join([PUBLIC[id(obj)], *parts[index + 1:]])
        return None
    return None


def resolve_internal_name(app, env, node, contnode):
    """Resolve a Python reference to an exported object by another name (see above)."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates = [f"{module}.{cls}.{target}"] * bool(cls) + [f"{module}.{target}", target]
    for candidate in candidates:
        if not candidate.startswith("gator_"):
            continue
        public = _public_target(candidate)
        if public and public != target:
            return env.get_domain("py").resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], public, node, contnode)
    return None


def check_public_api_documented(app, env):
    """Every name in gator_core.__all__ has an entry in the reference."""
    objects = env.get_domain("py").objects
    exports = getattr(gator_core, "_EXPORTS", {})
    renamed = getattr(gator_core, "_RENAMED", {})
    for name in gator_core.__all__:
        defined = f"gator_core.{exports.get(name, '')}.{renamed.get(name, name)}"
        if f"gator_core.{name}" not in objects and defined not in objects:
            logger.warning("gator_core.%s is exported (gator_core.__all__) but not documented: "
                           "add it to a page in docs/reference/", name)


def drop_type_docstrings(app, what, name, obj, options, lines):
    """A constant has no docstring of its own: do not show its type's (str's) instead."""
    if what in ("data", "attribute") and not inspect.isclass(obj) and not callable(obj):
        if lines and inspect.getdoc(type(obj)) and "\n".join(lines).strip() == inspect.getdoc(type(obj)):
            lines.clear()


def setup(app):
    app.connect("missing-reference", resolve_internal_name)
    app.connect("env-check-consistency", check_public_api_documented)
    app.connect("autodoc-process-docstring", drop_type_docstrings)
