"""JSON output of ``gator show --json``, streamed.

A run of 10^5 jobs must not be held as one document: the tree is written as
:func:`~gator_core.store.readback.walk_results` reads it, each node encoded
by the json module's C encoder.  A job is one line (``grep`` finds it); a
group or array opens its ``children`` on its own line and closes it after
them.  The keys and values are those of :meth:`NodeResult.to_json`, the
stable contract; only the spacing is ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from gator_core.store.readback import NodeResult, walk_results

__all__ = ["write_json_tree", "write_json_list"]

_encode = json.JSONEncoder(ensure_ascii=True).encode  # one encoder: no per-call set-up


def _open_node(node: NodeResult) -> str:
    """A node's object up to the ``[`` of its children."""
    return _encode(node.own_json())[:-1] + ', "children": ['


def write_json_tree(tracking: str | Path, out: TextIO) -> None:
    """The whole tree of the run in ``tracking``, as ``NodeResult.to_json()`` would give it."""
    first = [True]  # per open tier: no child written yet
    for depth, node, end in walk_results(tracking):
        indent = "  " * depth
        if not end:  # a tier: open it
            out.write(("" if depth == 0 else ("\n" if first[-1] else ",\n")) + indent + _open_node(node))
            first[-1] = False
            first.append(True)
        elif node.kind == "job":
            out.write(("\n" if first[-1] else ",\n") + indent + _open_node(node) + "]}")
            first[-1] = False
        else:  # a tier's children are all written: close it
            empty = first.pop()
            out.write("]}" if empty else "\n" + indent + "]}")
    out.write("\n")


def write_json_list(items: Iterable[dict[str, Any]], out: TextIO) -> None:
    """A JSON list, one item per line, written as it comes."""
    out.write("[")
    sep = "\n"
    for item in items:
        out.write(sep + "  " + _encode(item))
        sep = ",\n"
    out.write("\n]\n" if sep == ",\n" else "]\n")
