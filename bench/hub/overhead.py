"""What ``gator run --hub URL`` costs a run: the same local run of trivial jobs with and
without a hub, alternately (ABBA), with the hub on this machine (it competes for the
same cores, as it would on a developer's machine)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import TOKEN, Hub, child_env, median, say, verdict

from gator_core import StoreReader

BAR = 1.05  # at most 5% slower with --hub


def spec_for(jobs: int, directory: Path) -> Path:
    """N trivial jobs as one !JobArray (as bench/local_overhead's)."""
    path = directory / f"array_{jobs}.yaml"
    path.write_text(f"!JobArray\n  id: bench\n  repeats: {jobs}\n  jobs:\n  - !Job {{id: t, command: 'true'}}\n")
    return path


def _process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of the process ``pid`` itself, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_gator(spec: Path, scratch: Path, hub: Hub | None) -> dict[str, Any]:
    """One ``gator run`` (default console, output drained): its wall seconds, split by the
    top node's start and stop times (its store's attributes) into before (start-up), the
    run, and after (the summary; with a hub, sending it the whole tree and the end); the
    CPU seconds of the ``gator run`` process itself (the root tier and the hub reporter's
    thread; sampled every 0.2 s) and of all the processes it waited for; with a hub, the
    ingest requests and hub CPU the run caused, and its id there."""
    tracking = scratch / f"t{time.monotonic_ns()}"
    command = [sys.executable, "-m", "gator_core.cli", "run", str(spec), "--tracking", str(tracking)]
    if hub is not None:
        command += ["--hub", hub.url]
        requests_before, hub_cpu_before = hub.ingest_requests(), hub.cpu_seconds()
    cpu_before = _children_cpu()
    start, began = time.perf_counter(), time.time()
    proc = subprocess.Popen(command, cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=child_env(GATOR_HUB_TOKEN=TOKEN))
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # drain output
    reader.start()
    root_cpu = 0.0
    while proc.poll() is None:
        root_cpu = _process_cpu(proc.pid) or root_cpu
        time.sleep(0.2)
    wall, ended = time.perf_counter() - start, time.time()
    cpu = _children_cpu() - cpu_before
    reader.join(timeout=10)
    text = b"".join(lines).decode(errors="replace")
    summary = next((line.strip() for line in text.splitlines() if line.startswith(("PASS:", "FAIL:"))), "")
    if proc.returncode != 0 or not summary.startswith("PASS"):
        raise SystemExit(f"gator run failed ({proc.returncode}): {summary or text[-2000:]}")
    with StoreReader(tracking) as store:
        attrs = store.attrs()
    out: dict[str, Any] = {"wall_s": wall, "before_s": attrs["started"] - began,
                           "run_s": attrs["stopped"] - attrs["started"], "after_s": ended - attrs["stopped"],
                           "run_cpu_s": cpu, "root_cpu_s": root_cpu, "summary": summary}
    if hub is not None:
        out["ingest_requests"] = hub.ingest_requests() - requests_before  # /api/health itself is not counted
        out["hub_cpu_s"] = hub.cpu_seconds() - hub_cpu_before
        newest = hub.json("GET", "/api/runs?limit=1")["runs"][0]
        out["run_id"] = newest["id"]
        jobs = (newest.get("jobs") or {}).get("total")
        out["hub_complete"] = newest["state"] == "finished" and "does not have the whole run" not in text
        if not out["hub_complete"] or jobs != int(summary.split()[1]):
            say(f"  warning: the hub's record of the run is not complete: state {newest['state']}, jobs {jobs}")
            out["hub_complete"] = False
        out["hub_messages"] = [line for line in text.splitlines() if line.startswith("gator:") and "hub" in line]
    shutil.rmtree(tracking, ignore_errors=True)
    return out


def measure(jobs: int, rounds: int, hubs: dict[str, Hub], scratch: Path) -> dict[str, Any]:
    """``rounds`` rounds; each runs every variant once (no hub, then each hub), the order
    reversed every other round (ABBA: linear drift weighs the same on every side)."""
    spec = spec_for(jobs, scratch)
    variants = ["without", *hubs]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for round_ in range(rounds):
        order = variants if round_ % 2 == 0 else variants[::-1]
        for name in order:
            hub = hubs.get(name)
            result = run_gator(spec, scratch, hub)
            runs[name].append(result)
            extra = (f" ({result['ingest_requests']} ingest requests, hub CPU {result['hub_cpu_s']:.1f} s)"
                     if hub is not None else "")
            say(f"  round {round_ + 1} {name if hub is None else '--hub ' + name:>16}: {result['wall_s']:7.2f} s "
                f"(before {result['before_s']:.1f} s, the run {result['run_s']:.1f} s, "
                f"after {result['after_s']:.1f} s), CPU: gator run {result['root_cpu_s']:5.1f} s, "
                f"all {result['run_cpu_s']:5.1f} s{extra}")
    base = [r["wall_s"] for r in runs["without"]]
    out: dict[str, Any] = {"jobs": jobs, "rounds": rounds, "cpus": os.cpu_count(), "bar_ratio": BAR,
                           "without": _figures(runs["without"])}
    for name in hubs:
        walls = [r["wall_s"] for r in runs[name]]
        paired = [w / b for w, b in zip(walls, base, strict=True)]  # each against the run beside it
        ratio = median(walls) / median(base)
        out[name] = {
            **_figures(runs[name]), "ratio": ratio, "paired_ratios": paired, "median_paired_ratio": median(paired),
            "pass": ratio <= BAR,
            "hub_cpu_median_s": median([r["hub_cpu_s"] for r in runs[name]]),
            "ingest_requests": [r["ingest_requests"] for r in runs[name]],
            "ingest_requests_median": median([r["ingest_requests"] for r in runs[name]]),
            "complete": all(r["hub_complete"] for r in runs[name]),
            "last_run_id": runs[name][-1]["run_id"],
        }
    return out


def _figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "before_s", "run_s", "after_s", "root_cpu_s", "run_cpu_s")
    return {"runs": runs, **{f"median_{key}": median([r[key] for r in runs]) for key in keys}}


def report(result: dict[str, Any]) -> list[str]:
    jobs, rounds = result["jobs"], result["rounds"]
    base = result["without"]

    def line(label: str, figures: dict[str, Any]) -> str:
        wall = figures["median_wall_s"]
        return (f"  {label:<16} {wall:7.2f} s ({wall / jobs * 1000:.2f} ms/job; "
                f"before {figures['median_before_s']:.1f} s, the run {figures['median_run_s']:.1f} s, "
                f"after {figures['median_after_s']:.1f} s), "
                f"CPU: gator run {figures['median_root_cpu_s']:.1f} s, all {figures['median_run_cpu_s']:.1f} s")

    lines = [f"Run overhead of --hub: {jobs:,} `true` jobs (one !JobArray) on {result['cpus']} CPUs, "
             f"medians of {rounds} rounds (ABBA):", line("without --hub:", base)]
    for name, figures in result.items():
        if not isinstance(figures, dict) or "ratio" not in figures:
            continue
        paired = " ".join(f"{value:.3f}" for value in figures["paired_ratios"])
        lines += [
            line(f"--hub ({name}):", figures) + f", hub CPU {figures['hub_cpu_median_s']:.1f} s",
            f"      ratio {figures['ratio']:.3f} (round by round {paired}; their median "
            f"{figures['median_paired_ratio']:.3f})",
            f"      what --hub adds, medians: {figures['median_after_s'] - base['median_after_s']:+.1f} s after the "
            f"run, {figures['median_root_cpu_s'] - base['median_root_cpu_s']:+.1f} s of CPU in gator run, "
            f"{figures['hub_cpu_median_s']:.1f} s of CPU in the hub",
            f"      ingest requests per run: {' '.join(map(str, figures['ingest_requests']))} "
            f"(median {figures['ingest_requests_median']:.0f}); the hub had the whole run every time: "
            f"{'yes' if figures['complete'] else 'NO'}",
            f"      bar: at most {(BAR - 1) * 100:.0f}% slower (ratio <= {BAR}): {verdict(figures['pass'])}"]
    return lines
