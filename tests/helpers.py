"""Helpers shared by the test layers (import them: ``from helpers import ...``).

Timeouts are multiples of one unit, GATOR_TEST_TIME_UNIT seconds (default 1),
so that a slow machine can stretch them all at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
UNIT = float(os.environ.get("GATOR_TEST_TIME_UNIT", "1"))
# Every `gator` a test starts is a fresh interpreter: let it cache bytecode.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def units(count: float) -> float:
    """``count`` time units, in seconds."""
    return count * UNIT


def gator(*args: str | Path, cwd: Path | None = None, timeout: float = 60, env: dict[str, str] | None = None,
          check: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``gator`` command line (as a separate process)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "gator_core.cli", *map(str, args)],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=units(timeout),
    )
    if check is not None and proc.returncode != check:
        raise AssertionError(
            f"gator {' '.join(map(str, args))} exited {proc.returncode}, expected {check}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` units."""
    deadline = time.monotonic() + units(timeout)
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {units(timeout):.0f} s waiting for {what}")



def run_spec(tmp_path: Path, text: str, *args: str, check: int | None = 0, timeout: float = 120,
             env: dict[str, str] | None = None, name: str = "spec.yaml"
             ) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, Any]]:
    """Write a spec, ``gator run`` it into a fresh tracking directory, and return
    (the process, the tracking directory, ``gator show --json`` of it)."""
    import json

    spec = write(tmp_path / name, text)
    tracking = tmp_path / f"tracking-{len(list(tmp_path.glob('tracking-*')))}"
    proc = gator("run", spec, "--tracking", tracking, *args, cwd=tmp_path, timeout=timeout, env=env,
                 check=check)
    shown = gator("show", tracking, "--json", check=0)
    return proc, tracking, json.loads(shown.stdout)


def node(tree: dict[str, Any], path: str) -> dict[str, Any]:
    """The node of a ``show --json`` tree with this path."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if item["path"] == path:
            return item
        stack.extend(item["children"])
    raise KeyError(path)


def logs(tracking: Path, path: str, *args: str) -> list[str]:
    """Message texts of a node, as ``gator logs --json`` gives them."""
    import json

    out = gator("logs", tracking, path, "--json", *args, check=0).stdout
    return [json.loads(line)["text"] for line in out.splitlines()]


def gator_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker``."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            env = proc.info.get("environ") or {}
        except Exception:
            continue
        if marker in cmd or marker in " ".join(f"{k}={v}" for k, v in env.items()):
            found.append(f"{proc.pid} {cmd}")
    return found


def with_plugin(example_plugin: Path) -> dict[str, str]:
    """Environment for a `gator` process that sees the example plugin."""
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": f"{example_plugin}{os.pathsep}{path}" if path else str(example_plugin)}


# The test clusters tests/cluster/up.sh brings up, and the variable it exports for each.
CLUSTERS = {"slurm": "GATOR_TEST_SLURM", "sge": "GATOR_TEST_SGE", "ssh": "GATOR_TEST_SSH_HOSTS"}


def cluster_available(name: str) -> bool:
    return bool(os.environ.get(CLUSTERS[name]))


def need_cluster(name: str) -> None:
    """Skip (with the reason) when the ``name`` test cluster is not up; under CI, fail."""
    import pytest

    if cluster_available(name):
        return
    why = (f"needs the test {name} cluster ({CLUSTERS[name]} is not set): as root, run "
           f"eval \"$(tests/cluster/up.sh)\" first (tests/run-all.sh does)")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the cluster tests, but it {why[0].lower()}{why[1:]}")
    pytest.skip(why)


def on_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``gator ARGS`` with a pseudo-terminal as its stdout; return (exit code, text without escapes)."""
    import pty
    import re
    import select

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", *args], cwd=cwd, stdin=follower,
                            stdout=follower, stderr=follower, env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
    os.close(follower)
    output = b""
    deadline = time.monotonic() + units(60)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's last writer has gone
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=units(30))
    os.close(leader)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))


def jobs_of(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """Every job node of a ``gator show --json`` tree."""
    found, stack = [], [tree]
    while stack:
        item = stack.pop()
        stack.extend(item["children"])
        if item["kind"] == "job":
            found.append(item)
    return found
