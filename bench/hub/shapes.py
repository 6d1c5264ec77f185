"""Synthetic runs in the shapes the hub keeps: a nightly regression's tree of groups and
arrays, its nodes as ``gator show --json`` node objects without ``children`` plus
``parent`` and ``position`` (what gator_hub/tracking.py sends), and those nodes as rows
of the hub's ``nodes`` table.

The node objects copy the keys and value types of ``read_tracking`` on a real run
(``metrics`` and ``jobs`` included: they are most of a node's bytes); the ids, times
and results are drawn from a seeded ``random.Random``, so a fixture is the same
every time it is made.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gator_hub.store.hubstore import NODE_COLUMNS

SPEC_NAME = "nightly"
USERS = ("ci",) * 16 + ("alice", "bob", "carol", "dave")  # a nightly is mostly CI's; reruns by people
RARE_USER = "alice"
HOSTS = tuple(f"sim{number:02d}" for number in range(1, 25))
GROUPS = ("build", "lint", "unit", "cpu_regress", "dma_regress", "mem_regress", "pcie_regress", "usb_regress",
          "eth_regress", "formal")
LEVELS = ("debug", "info", "warning", "error", "critical")
RESULTS = ("passed", "failed", "skipped", "lost", "cancelled", "running", "pending")

# A handful of causes, as a failed job's first error and critical messages.
CAUSES = (
    ("fail", 1, None, ("UVM_ERROR @ {t} ns: [SCBD] scoreboard mismatch on port {p}: expected 0x{a:08x}, "
                       "got 0x{b:08x}",)),
    ("fail", 1, None, ("Assertion failed: axi_handshake_stable ({p}): VALID dropped before READY at {t} ns",
                       "UVM_FATAL @ {t} ns: [ASSERT] 1 assertion failure(s), stopping")),
    ("fail", 124, "timed out after 3600 s", ("TIMEOUT: simulation did not reach end of test after 3600 s "
                                             "(last activity at {t} ns)",)),
    ("fail", 139, None, ("vsim: Segmentation fault (core dumped) in DPI call dpi_mem_model_read({p})",)),
    ("lost", None, "the job's host stopped answering", ()),
    ("fail", 2, None, ("License checkout failed for feature VCS-RUNTIME: no free seats (retry in 60 s)",)),
)
CAUSE_WEIGHTS = (40, 20, 15, 10, 5, 10)


def _counts(passed: int = 0, failed: int = 0, lost: int = 0, total: int = 0) -> dict[str, int]:
    return {"total": total, "passed": passed, "failed": failed, "skipped": 0, "lost": lost, "cancelled": 0,
            "running": 0, "pending": 0}


def _job_metrics(wall: float, cpu: float, messages: dict[str, int], counts: dict[str, int]) -> dict[str, Any]:
    metrics: dict[str, Any] = {"wall_time": wall, "cpu_time": cpu}
    metrics.update((f"msg_{level}", messages[level]) for level in LEVELS)
    metrics.update((f"jobs_{name}", counts[name]) for name in ("passed", "failed", "skipped", "lost", "cancelled",
                                                                  "total"))
    return metrics


def _aggregate(values: list[dict[str, Any]]) -> dict[str, Any]:
    """A group's metrics: min, max, sum, count and mean of each of its jobs' metrics."""
    out: dict[str, Any] = {}
    if not values:
        return out
    for key in values[0]:
        column = [value[key] for value in values]
        total = sum(column)
        out[key] = {"min": min(column), "max": max(column), "sum": total, "count": len(column),
                    "mean": total / len(column)}
    return out


@dataclass
class Run:
    """One synthetic run: its record (the run's keys of ``PUT /api/ingest/runs/{id}``),
    its nodes (parents first), and its end."""

    run_id: str
    record: dict[str, Any]
    nodes: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] = field(default_factory=dict)


def nightly(rng: random.Random, run_id: str, started: float, jobs: int, *, fail_rate: float,
            user: str = "ci", groups: int = len(GROUPS)) -> Run:
    """A nightly of ``jobs`` jobs: the top group, ``groups`` arrays under it (the last
    regressions two levels deeper, in a group of their own), each failed job with the
    first errors of one of a handful of causes."""
    tracking = f"/scratch/{user}/nightly/{run_id}"
    names = list(GROUPS[:groups]) if groups <= len(GROUPS) else [f"group{i}" for i in range(groups)]
    sizes = [jobs // len(names) + (1 if index < jobs % len(names) else 0) for index in range(len(names))]
    nested = {name for name in names[len(names) // 2:] if name.endswith("_regress")}  # under "regress"
    top: dict[str, Any] = {"id": SPEC_NAME, "path": SPEC_NAME, "kind": "group", "parent": None, "position": 0}
    nodes: list[dict[str, Any]] = [top]
    regress: dict[str, Any] | None = None
    if nested:
        regress = {"id": "regress", "path": f"{SPEC_NAME}.regress", "kind": "group", "parent": SPEC_NAME,
                   "position": len(names) - len(nested)}
        nodes.append(regress)
    clock = started
    all_metrics: list[dict[str, Any]] = []
    regress_metrics: list[dict[str, Any]] = []
    totals = _counts()
    regress_totals = _counts()
    cause_of_group = {name: rng.choices(range(len(CAUSES)), CAUSE_WEIGHTS)[0] for name in names}
    positions = {SPEC_NAME: 0, f"{SPEC_NAME}.regress": 0}  # the next place among each parent's children
    for name, size in zip(names, sizes, strict=True):
        parent = regress["path"] if regress and name in nested else SPEC_NAME
        group: dict[str, Any] = {"id": name, "path": f"{parent}.{name}", "kind": "array", "parent": parent,
                                 "position": positions[parent]}
        positions[parent] += 1
        nodes.append(group)
        group_metrics: list[dict[str, Any]] = []
        counts = _counts()
        first_start = clock
        for index in range(size):
            job_id = f"t_{index}"
            path = f"{group['path']}.{job_id}"
            wall = rng.lognormvariate(3.0, 1.0)  # seconds: a median of 20 s, a long tail
            start = clock + rng.random() * 60
            clock += wall / 40  # 40 slots in the farm
            failed = rng.random() < fail_rate
            messages = {"debug": 0, "info": rng.randint(5, 400), "warning": rng.randint(0, 3), "error": 0,
                        "critical": 0}
            node: dict[str, Any] = {"id": job_id, "path": path, "kind": "job", "result": "pass", "exit_code": 0,
                                    "reason": None}
            one = _counts(passed=1, total=1)
            if failed:
                cause = cause_of_group[name] if rng.random() < 0.7 else rng.choices(range(len(CAUSES)),
                                                                                   CAUSE_WEIGHTS)[0]
                result, code, reason, texts = CAUSES[cause]
                node.update(result=result, exit_code=code, reason=reason)
                one = _counts(failed=int(result == "fail"), lost=int(result == "lost"), total=1)
                errors = [text.format(t=rng.randint(1000, 9_000_000), p=rng.randint(0, 7),
                                      a=rng.getrandbits(32), b=rng.getrandbits(32)) for text in texts]
                messages["error"] = len(errors)
                if errors:
                    node["first_errors"] = errors
            metrics = _job_metrics(round(wall, 6), round(wall * rng.uniform(0.6, 0.98), 6), messages, one)
            node.update(messages=messages, jobs=one, metrics=metrics, started=start, stopped=start + wall,
                        duration=wall, peak_memory=float(rng.randint(60, 900) * 2**20),
                        tracking=f"{tracking}/{path[len(SPEC_NAME) + 1:].replace('.', '/')}",
                        log=f"{tracking}/{path[len(SPEC_NAME) + 1:].replace('.', '/')}/messages.log",
                        native_id=str(rng.randint(1000, 4_000_000)), host=rng.choice(HOSTS),
                        seed=rng.getrandbits(31), parent=group["path"], position=index)
            nodes.append(node)
            group_metrics.append(metrics)
            for key in ("passed", "failed", "lost", "total"):
                counts[key] += one[key]
        _finish_group(group, group_metrics, counts, first_start, clock + 60, rng)
        all_metrics.extend(group_metrics)
        target = regress_totals if regress and parent == regress["path"] else None
        for key in ("passed", "failed", "lost", "total"):
            totals[key] += counts[key]
            if target is not None:
                target[key] += counts[key]
        if target is not None:
            regress_metrics.extend(group_metrics)
    stopped = clock + 120
    if regress is not None:
        _finish_group(regress, regress_metrics, regress_totals, started, stopped, rng)
    _finish_group(top, all_metrics, totals, started, stopped, rng)
    top.update(tracking=tracking, log=f"{tracking}/messages.log")
    result = "pass" if totals["failed"] + totals["lost"] == 0 else "fail"
    spec = (f"!JobGroup\nid: {SPEC_NAME}\njobs:\n" +
            "".join(f"- !JobArray {{id: {name}, repeats: {size}, jobs: [!Job {{id: t, command: run_test.sh}}]}}\n"
                    for name, size in zip(names, sizes, strict=True)))
    record = {"spec": spec, "spec_file": "/proj/soc/ci/nightly.yaml", "spec_name": SPEC_NAME, "user": user,
              "host": "ci-runner-01" if user == "ci" else f"{user}-ws", "scheduler": "slurm",
              "argv": ["gator", "run", "/proj/soc/ci/nightly.yaml", "--scheduler", "slurm", "--hub",
                       "http://hub:8080"], "seed": rng.getrandbits(31), "tracking": tracking, "started": started}
    end = {"result": result, "jobs": dict(totals), "stopped": stopped, "state": "finished"}
    return Run(run_id, record, nodes, end)


def _finish_group(group: dict[str, Any], metrics: list[dict[str, Any]], counts: dict[str, int], started: float,
                  stopped: float, rng: random.Random) -> None:
    failed = counts["failed"] + counts["lost"]
    messages = {level: sum(value[f"msg_{level}"] for value in metrics) for level in LEVELS}
    group.update(result="fail" if failed else "pass", exit_code=None, reason=None, messages=messages,
                 jobs=dict(counts), metrics=_aggregate(metrics), started=started, stopped=stopped,
                 duration=stopped - started, peak_memory=None, tracking=None, log=None, native_id=None,
                 host=None, seed=rng.getrandbits(31))


def rows(run_id: str, nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The nodes as rows of the hub's ``nodes`` table (the columns HubStore.upsert_nodes fills)."""
    for node in nodes:
        row = {column: node.get(key) for key, column in NODE_COLUMNS.items()}
        row.update(run_id=run_id, parent=node["parent"], position=node["position"],
                   first_errors=node.get("first_errors"))
        yield row
