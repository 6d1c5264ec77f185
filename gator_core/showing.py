"""Text output of ``gator show`` and ``gator logs``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TextIO

from .results import NodeResult
from .store import SEVERITY_NAMES, StoreReader
from .textutil import human_bytes, human_seconds

__all__ = ["print_tree", "print_messages"]


def _counts(node: NodeResult) -> str:
    m = node.messages
    return f"W{m.get('warning', 0)} E{m.get('error', 0)} C{m.get('critical', 0)}"


def print_tree(root: NodeResult, out: TextIO) -> None:
    """One line per node, indented by depth."""
    rows: list[tuple[str, NodeResult]] = []

    def walk(node: NodeResult, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        rows.append((prefix + branch + node.id, node))
        deeper = prefix + ("" if top else ("   " if last else "│  "))
        for pos, child in enumerate(node.children):
            walk(child, deeper, pos == len(node.children) - 1, False)

    walk(root, "", True, True)
    width = min(70, max(len(label) for label, _ in rows))
    out.write(f"{'NODE':<{width}}  {'KIND':<5}  {'RESULT':<7}  {'EXIT':>4}  {'MESSAGES':<12}  "
              f"{'TIME':>8}  {'MEMORY':>8}  JOBS / REASON\n")
    for label, node in rows:
        exit_code = "" if node.exit_code is None else str(node.exit_code)
        if node.kind == "job":
            extra = node.reason or ""
        else:
            j = node.jobs
            extra = f"{j.get('passed', 0)}/{j.get('total', 0)} passed"
            for key in ("failed", "lost", "skipped", "running", "pending"):
                if j.get(key):
                    extra += f", {j[key]} {key}"
        out.write(f"{label:<{width}}  {node.kind:<5}  {node.result:<7}  {exit_code:>4}  "
                  f"{_counts(node):<12}  {human_seconds(node.duration):>8}  "
                  f"{human_bytes(node.peak_memory):>8}  {extra}\n")


def print_messages(directory: Path, minimum: int, as_json: bool, out: TextIO) -> None:
    """Every message of one node at or above ``minimum`` severity, in order."""
    with StoreReader(directory) as store:
        for _id, ts, severity, text, source, line in store.messages(minimum):
            name = SEVERITY_NAMES.get(severity, str(severity))
            if as_json:
                out.write(json.dumps({"ts": ts, "severity": name, "text": text,
                                      "source": source, "line": line}) + "\n")
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(ts))
                where = f" ({source}:{line})" if source else ""
                out.write(f"[{stamp}] [{name.upper():<8}] {text}{where}\n")
