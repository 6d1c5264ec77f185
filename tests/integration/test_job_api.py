"""The job API: messages and metrics from inside a job, in Python and from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import gator, logs, node, run_spec, units

PY = sys.executable
BIN = str(Path(sys.executable).parent)  # where `gator` is installed with this interpreter


def env_with_gator() -> dict[str, str]:
    return {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def test_python_api_messages_are_all_kept_in_order_and_count_for_the_limits(tmp_path: Path):
    script = tmp_path / "job.py"
    script.write_text(
        "from gator_core import api\n"
        "for i in range(10000):\n"
        "    api.log(f'message {i}')\n"
        "api.log('a warning', severity='warning')\n"
        "api.log('line one\\nline two', severity='error')\n"
        "print('printed')\n")
    _, tracking, tree = run_spec(tmp_path, f"!Job {{id: j, command: {PY}, args: [{script}]}}", check=1)
    job = node(tree, "root.j")
    assert job["messages"] == {"debug": 0, "info": 10001, "warning": 1, "error": 1, "critical": 0}
    assert job["result"] == "fail" and "1 error message (limit 0)" in job["reason"]
    texts = logs(tracking, "root.j")
    api_texts = [t for t in texts if t != "printed"]
    assert api_texts[:10000] == [f"message {i}" for i in range(10000)]
    assert api_texts[10000:] == ["a warning", "line one\nline two"]


def test_shell_commands_log_and_record_metrics(tmp_path: Path):
    spec = """!Job {id: s, command: sh, args: [-c, 'gator log started && gator log --severity warning careful && gator metric coverage 87.5 && gator metric coverage 91']}"""
    _, tracking, tree = run_spec(tmp_path, spec, env=env_with_gator())
    job = node(tree, "root.s")
    assert job["result"] == "pass"
    assert job["messages"]["warning"] == 1
    assert job["metrics"]["coverage"] == 91.0  # the last value wins
    assert logs(tracking, "root.s") == ["started", "careful"]


def test_metrics_are_rolled_up_at_every_tier(tmp_path: Path):
    spec = """
!JobGroup
  id: top
  jobs:
  - !JobArray
      id: arr
      repeats: 4
      jobs:
      - !Job {id: m, command: sh, args: [-c, 'gator metric score $((GATOR_ARRAY_INDEX * 10))']}
  - !Job {id: solo, command: sh, args: [-c, 'gator metric score 100']}
"""
    _, tracking, tree = run_spec(tmp_path, spec, env=env_with_gator())
    assert node(tree, "top.arr")["metrics"]["score"] == {"min": 0, "max": 30, "sum": 60, "count": 4, "mean": 15}
    assert tree["metrics"]["score"] == {"min": 0, "max": 100, "sum": 160, "count": 5, "mean": 32}
    # Built-in metrics are rolled up the same way; tiers are not counted as jobs.
    assert tree["metrics"]["jobs_total"]["sum"] == 5 and tree["metrics"]["jobs_passed"]["sum"] == 5
    assert tree["metrics"]["msg_info"]["count"] == 5
    assert tree["metrics"]["wall_time"]["count"] == 5
    text = gator("show", tracking, check=0).stdout
    assert "score: mean 32 (min 0, max 100, sum 160, n 5)" in text
    assert "score=30" in text


def test_outside_a_run_the_api_says_so(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATOR_API")}
    proc = subprocess.run([PY, "-c", "from gator_core import api; api.log('x')"], capture_output=True, text=True,
                          env=env, timeout=units(30))
    assert proc.returncode != 0 and "NotInJobError: not inside a Gator job: GATOR_API is not set" in proc.stderr
    proc = subprocess.run([PY, "-m", "gator_core.cli", "log", "hello"], capture_output=True, text=True, env=env,
                          timeout=units(30))
    assert proc.returncode == 2 and "gator log: not inside a Gator job" in proc.stderr
    proc = subprocess.run([PY, "-m", "gator_core.cli", "metric", "x", "many"], capture_output=True, text=True,
                          env=env, timeout=units(30))
    assert proc.returncode == 2 and "value 'many' is not a number" in proc.stderr


def test_bad_metrics_and_severities_are_refused_in_the_job(tmp_path: Path):
    script = tmp_path / "job.py"
    script.write_text(
        "from gator_core import api\n"
        "for call in (lambda: api.metric('wall_time', 1), lambda: api.metric('x', float('nan')),\n"
        "             lambda: api.metric('bad name', 1), lambda: api.metric('x', True),\n"
        "             lambda: api.log('m', severity='loud')):\n"
        "    try:\n"
        "        call()\n"
        "    except (ValueError, TypeError) as exc:\n"
        "        print(type(exc).__name__, exc)\n")
    _, tracking, _ = run_spec(tmp_path, f"!Job {{id: j, command: {PY}, args: [{script}]}}")
    out = logs(tracking, "root.j")
    assert out == [
        "ValueError metric name 'wall_time' is reserved for Gator's own metrics",
        "ValueError metric 'x' must be finite, not nan",
        "ValueError metric name 'bad name' must start with a letter or '_' and hold only letters, digits, '_', '.', ':' and '-' (at most 128)",
        "TypeError metric 'x' must be a number, not bool",
        "ValueError unknown severity 'loud'; use one of debug, info, warning, error, critical",
    ]


def test_a_connection_without_the_key_is_refused(tmp_path: Path):
    script = tmp_path / "job.py"
    script.write_text(
        "import os, socket, time\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.connect('\\0' + os.environ['GATOR_API'][1:])\n"
        "s.sendall(b'GATOR-API 1 wrongkey\\n[\"log\", \"error\", \"injected\"]\\n')\n"
        "time.sleep(0.2)\n")
    _, tracking, tree = run_spec(tmp_path, f"!Job {{id: j, command: {PY}, args: [{script}]}}")
    assert node(tree, "root.j")["messages"]["error"] == 0
    assert logs(tracking, "root.j") == ["job API: refused a connection with a wrong greeting or key"]


def test_the_api_from_a_grandchild_process_and_after_a_fork(tmp_path: Path):
    script = tmp_path / "job.py"
    script.write_text(
        "import os\n"
        "from gator_core import api\n"
        "api.log('parent')\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    api.log('child')\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n")
    _, tracking, _ = run_spec(tmp_path, f"!Job {{id: j, command: sh, args: [-c, '{PY} {script}']}}")
    assert logs(tracking, "root.j") == ["parent", "child"]
