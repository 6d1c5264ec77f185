"""The text tree of `gator show`, from nodes in memory (pure formatting)."""

from __future__ import annotations

import io

from gator_core.report.show import print_tree
from gator_core.states import Result
from gator_core.store.readback import NodeResult


def _node(name: str, kind: str = "job", *children: NodeResult) -> NodeResult:
    return NodeResult(id=name, path=name, kind=kind, result=Result.PASS, children=list(children))


def test_branches_follow_the_last_sibling_at_every_depth():
    tree = _node("top", "group",
                 _node("a", "group", _node("a1"), _node("a2", "array", _node("x"), _node("y"))),
                 _node("b", "group"),
                 _node("c", "group", _node("c1")))
    tree.metrics = {"score": 2.0}
    tree.children[0].children[1].metrics = {"score": 1.0}  # a2: its metrics go under its children's stem
    out = io.StringIO()
    print_tree(tree, out)
    head, *lines = out.getvalue().splitlines()
    width = head.index("KIND") - 2  # the NODE column
    labels = [line if "metrics:" in line else line[:width].rstrip() for line in lines]
    assert labels == [
        "top",
        "│  metrics: score=2",
        "├─ a",
        "│  ├─ a1",
        "│  └─ a2",
        "│     │  metrics: score=1",
        "│     ├─ x",
        "│     └─ y",
        "├─ b",
        "└─ c",
        "   └─ c1",
    ]
