"""Text output of ``gator show`` and ``gator logs``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from gator_core.report.buckets import FailureBucket
from gator_core.states import SEVERITY_NAMES, Severity
from gator_core.store.nodestore import StoreReader
from gator_core.store.readback import NodeResult
from gator_core.textutil import human_bytes, human_seconds

__all__ = ["where", "print_tree", "print_tree_of", "print_jobs", "print_messages", "print_buckets", "format_metrics",
           "printable", "format_artefacts"]

# Shown in their own columns (or summed as MESSAGES and JOBS); the rest are listed.
_COLUMN_METRICS = ("wall_time", "cpu_time", "peak_memory")
_BUILTIN_PREFIXES = ("msg_", "jobs_")


def _counts(node: NodeResult) -> str:
    m = node.messages
    return f"W{m.get('warning', 0)} E{m.get('error', 0)} C{m.get('critical', 0)}"


def _number(value: float) -> str:
    return f"{value:.6g}"


def format_metrics(metrics: dict[str, Any]) -> str:
    """A node's own metrics (not the built-in ones shown in columns), compactly."""
    parts = []
    for name in sorted(metrics):
        if name in _COLUMN_METRICS or name.startswith(_BUILTIN_PREFIXES):
            continue
        value = metrics[name]
        if isinstance(value, dict):
            parts.append(f"{name}: mean {_number(value.get('mean', 0))} (min {_number(value.get('min', 0))}, "
                         f"max {_number(value.get('max', 0))}, sum {_number(value.get('sum', 0))}, "
                         f"n {int(value.get('count', 0))})")
        else:
            parts.append(f"{name}={_number(value)}")
    return "  ".join(parts)


def format_artefacts(artefacts: dict[str, dict[str, Any]] | None) -> list[str]:
    """One line per artefact file: ``name: path (size, sha256 <first 12>)``, or why none."""
    lines = []
    for name, info in (artefacts or {}).items():
        files = info.get("files") or []
        if not files:
            lines.append(f"{name}: {info.get('pattern')} (not produced)")
        for item in files:
            lines.append(f"{name}: {item['path']} ({human_bytes(item.get('size'))}, "
                         f"sha256 {str(item.get('sha256'))[:12]})")
    return lines


def _cpu(node: NodeResult) -> float | None:
    value = node.metrics.get("cpu_time")
    if isinstance(value, dict):
        return value.get("sum")
    return value


def where(node: NodeResult) -> str:
    """``<scheduler id> on <host>``, either part when known: e.g. ``4512_7 on node12``."""
    parts = [node.native_id or "", node.host or ""]
    if all(parts):
        return f"{parts[0]} on {parts[1]}"
    return parts[0] or parts[1]


def print_tree(root: NodeResult, out: TextIO) -> None:
    """One line per node, indented by depth; a node's own metrics on the line below."""
    print_tree_of(((depth, node) for depth, node in _depths(root, 0)), out)


def _depths(node: NodeResult, depth: int) -> Iterator[tuple[int, NodeResult]]:
    yield depth, node
    for child in node.children:
        yield from _depths(child, depth + 1)


def _columns(node: NodeResult) -> str:
    """A node's columns from KIND to SEED."""
    exit_code = "" if node.exit_code is None else str(node.exit_code)
    seed = "" if node.seed is None else str(node.seed)
    return (f"{node.kind:<5}  {node.result:<9}  {exit_code:>4}  {_counts(node):<12}  "
            f"{human_seconds(node.duration):>8}  {human_seconds(_cpu(node)):>8}  "
            f"{human_bytes(node.peak_memory):>8}  {seed:>10}  ")


def _jobs_or_reason(node: NodeResult) -> str:
    if node.kind == "job":
        extra = node.reason or ""
        if node.attempts:  # retried: the final attempt decided
            tried = f"{'passed on' if node.result == 'pass' else 'after'} attempt {node.attempt_count}"
            extra = f"{tried}; {extra}" if extra else tried
        return extra
    j = node.jobs
    extra = f"{j.get('passed', 0)}/{j.get('total', 0)} passed"
    for key in ("failed", "lost", "skipped", "cancelled", "running", "pending"):
        if j.get(key):
            extra += f", {j[key]} {key}"
    return extra


def print_tree_of(nodes: Iterable[tuple[int, NodeResult]], out: TextIO) -> None:
    """:func:`print_tree` of ``(depth, node)`` pairs in depth-first order (as
    :func:`~gator_core.store.readback.walk_results` gives them), holding a line of text
    per node rather than the nodes themselves: the columns' widths are known only at
    the end."""
    rows: list[tuple[int, str, str, str, str, list[str]]] = []
    for depth, node in nodes:
        below = []
        metrics = format_metrics(node.metrics)
        if metrics:
            below.append(f"metrics: {metrics}")
        below.extend(f"artefact {line}" for line in format_artefacts(node.artefacts))
        rows.append((depth, node.id, _columns(node), where(node), _jobs_or_reason(node), below))
    if not rows:
        return
    # Whether each node is the last of its siblings: the next node not below it is not
    # its sibling.  Read backwards, a node has a later sibling when one was seen at its
    # depth since the last node above that depth.
    last = [True] * len(rows)
    later = [False] * (max(row[0] for row in rows) + 2)
    for pos in range(len(rows) - 1, -1, -1):
        depth = rows[pos][0]
        last[pos] = not later[depth]
        later[depth] = True
        for deeper in range(depth + 1, len(later)):
            later[deeper] = False
    labels: list[str] = []
    unders: list[str] = []
    stems: list[str] = []  # per depth: what the lines below an ancestor at that depth carry
    for pos, (depth, name, *_rest) in enumerate(rows):
        del stems[max(depth - 1, 0):]
        prefix = "".join(stems)
        branch = "" if depth == 0 else ("└─ " if last[pos] else "├─ ")
        deeper = prefix + ("" if depth == 0 else ("   " if last[pos] else "│  "))
        if depth:
            stems.append("   " if last[pos] else "│  ")
        has_children = pos + 1 < len(rows) and rows[pos + 1][0] > depth
        labels.append(prefix + branch + name)
        unders.append(deeper + ("│  " if has_children else "   "))
    width = min(70, max(len(label) for label in labels))
    # Where each node ran (the batch system's id and the host): only when something says.
    place_width = min(40, max(len(row[3]) for row in rows))
    place_head = f"{'WHERE':<{place_width}}  " if place_width else ""
    out.write(f"{'NODE':<{width}}  {'KIND':<5}  {'RESULT':<9}  {'EXIT':>4}  {'MESSAGES':<12}  "
              f"{'TIME':>8}  {'CPU':>8}  {'MEMORY':>8}  {'SEED':>10}  {place_head}JOBS / REASON\n")
    for label, under, (_depth, _name, columns, place, extra, below) in zip(labels, unders, rows, strict=True):
        out.write(f"{label:<{width}}  {columns}{f'{place:<{place_width}}  ' if place_width else ''}{extra}\n")
        for line in below:
            out.write(f"{under}{line}\n")


def print_jobs(jobs: list[NodeResult], out: TextIO) -> None:
    """A flat list of jobs (for filters such as --failed): result, path, reason, log."""
    if not jobs:
        out.write("no jobs match\n")
        return
    width = min(70, max(len(job.path) for job in jobs))
    for job in jobs:
        exit_code = "" if job.exit_code is None else f"exit {job.exit_code}"
        seed = "" if job.seed is None else f"seed {job.seed}"
        out.write(f"{job.result.upper():<9} {job.path:<{width}}  {exit_code:<8} {seed:<16} {job.reason or ''}\n")
        place = where(job)
        if place:
            out.write(f"        ran: {place}\n")
        out.write(f"        log: {job.log}\n")


def printable(text: str, limit: int | None = None) -> str:
    """``text`` safe for a terminal, on one line: control characters (escape codes,
    newlines, tabs) written as ``\\x1b``, ``\\n``, ``\\t``; cut to ``limit`` characters."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


EXAMPLE_TEXT = 300  # characters of an example's message shown by print_buckets


def print_buckets(buckets: list[FailureBucket], out: TextIO, examples: int = 3) -> None:
    """The failure buckets of a run, largest first: each one's count and signature, then
    up to ``examples`` of its jobs with their raw message; then the total."""
    failed = sum(bucket.count for bucket in buckets)
    if not failed:
        out.write("no failed jobs\n")
        return
    width = max(5, len(str(buckets[0].count)))
    out.write(f"{'COUNT':>{width}}  SIGNATURE\n")
    for bucket in buckets:
        out.write(f"{bucket.count:>{width}}  {printable(bucket.signature)}\n")
        shown = bucket.examples[:examples]
        path_width = min(70, max((len(path) for path, _ in shown), default=0))
        for path, text in shown:
            out.write(f"{'':>{width}}    {path:<{path_width}}  {printable(text, EXAMPLE_TEXT)}\n")
        if bucket.count > len(shown):
            more = bucket.count - len(shown)
            out.write(f"{'':>{width}}    ... and {more} more job{'s' if more != 1 else ''}\n")
    plural = "s" if failed != 1 else ""
    out.write(f"{failed} failed job{plural} in {len(buckets)} bucket{'s' if len(buckets) != 1 else ''}\n")


def print_messages(directory: Path, minimum: int, as_json: bool, out: TextIO) -> None:
    """Every message of one node at or above ``minimum`` severity, in order."""
    with StoreReader(directory) as store:
        for _id, ts, severity, text, source, line in store.messages(minimum):
            name = SEVERITY_NAMES.get(severity) or Severity.of(severity).key
            if as_json:
                out.write(json.dumps({"ts": ts, "severity": name, "text": text,
                                      "source": source, "line": line}) + "\n")
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(ts))
                where = f" ({source}:{line})" if source else ""
                out.write(f"[{stamp}] [{name.upper():<8}] {text}{where}\n")
