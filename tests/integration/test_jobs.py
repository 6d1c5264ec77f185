"""What a wrapper does with a job: input, output, environment, measurements, pass and fail."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import logs, node, run_spec

PY = sys.executable


def test_stdin_is_dev_null(tmp_path: Path):
    """`cat` with no arguments ends at once (the seed left stdin open: it hung)."""
    _, _, tree = run_spec(tmp_path, "!Job {id: c, command: cat}", timeout=30)
    assert node(tree, "root.c")["result"] == "pass"


def test_output_lines_of_any_size_and_bytes(tmp_path: Path):
    """A 1 MiB line is stored whole, bad UTF-8 is replaced, a last line without newline is kept."""
    script = tmp_path / "emit.py"
    script.write_text(
        "import sys\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'x' * (1 << 20) + b'\\n')\n"
        "out.write(b'bad \\xff\\xfe bytes\\n')\n"
        "out.write(b'no newline at the end')\n")
    _, tracking, tree = run_spec(tmp_path, f"!Job {{id: e, command: {PY}, args: [{script}]}}")
    lines = logs(tracking, "root.e")
    assert [len(line) for line in lines] == [1 << 20, len("bad \ufffd\ufffd bytes"), len("no newline at the end")]
    assert lines[1] == "bad \ufffd\ufffd bytes" and lines[2] == "no newline at the end"
    assert node(tree, "root.e")["messages"]["info"] == 3


def test_stderr_lines_are_errors_and_fail_the_job_by_default(tmp_path: Path):
    spec = "!Job {id: e, command: sh, args: [-c, 'echo out; echo err1 >&2; echo err2 >&2']}"
    _, tracking, tree = run_spec(tmp_path, spec, check=1)
    job = node(tree, "root.e")
    assert job["result"] == "fail" and job["exit_code"] == 0
    assert job["messages"]["error"] == 2 and job["messages"]["info"] == 1
    assert "2 error messages (limit 0)" in job["reason"]
    assert logs(tracking, "root.e", "--severity", "error") == ["err1", "err2"]
    _, _, tree = run_spec(tmp_path, spec, "--limit-error", "2")
    assert node(tree, "root.e")["result"] == "pass"


def test_exit_code_decides(tmp_path: Path):
    _, _, tree = run_spec(tmp_path, "!Job {id: e, command: sh, args: [-c, 'exit 3']}", check=1)
    assert node(tree, "root.e")["exit_code"] == 3
    assert node(tree, "root.e")["reason"] == "exit code 3"


def test_a_command_that_cannot_start_is_a_failure_with_the_reason(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, "!Job {id: e, command: /no/such/program}", check=1)
    job = node(tree, "root.e")
    assert job["exit_code"] == 127 and job["messages"]["critical"] == 1
    assert logs(tracking, "root.e") == ["cannot start '/no/such/program': No such file or directory"]


def test_environment_overlays_and_expansion_without_a_shell(tmp_path: Path):
    spec = """
!JobGroup
  id: top
  env: {LEVEL: top, KEEP: kept}
  jobs:
  - !JobGroup
      id: mid
      env: {LEVEL: mid, DROP: null}
      jobs:
      - !JobArray
          id: arr
          repeats: 1
          env: {ARR: yes}
          jobs:
          - !Job
              id: show
              env: {LEVEL: job}
              command: printenv
              args: [LEVEL, KEEP, ARR, PATH, HOME, GATOR_JOB_PATH]
          - !Job
              id: literal
              command: echo
              args: ["$LEVEL; rm -rf ${HOME} | cat", "$$LEVEL", "$UNSET_VARIABLE"]
"""
    _, tracking, _ = run_spec(tmp_path, spec, env={"DROP": "me"})
    import os

    assert logs(tracking, "top.mid.arr.show_0") == [
        "job", "kept", "true", os.environ["PATH"], os.environ["HOME"], "top.mid.arr.show_0"]
    assert logs(tracking, "top.mid.arr.literal_0") == [f"mid; rm -rf {os.environ['HOME']} | cat $LEVEL $UNSET_VARIABLE"]


def test_the_run_token_never_reaches_a_job(tmp_path: Path):
    _, tracking, _ = run_spec(tmp_path, "!Job {id: e, command: env}")
    names = {line.split("=", 1)[0] for line in logs(tracking, "root.e")}
    assert "GATOR_TOKEN" not in names and "GATOR_PARENT_URL" not in names
    assert "GATOR_JOB_PATH" in names


def test_working_directory_defaults_to_the_launch_directory_and_resolves_relative(tmp_path: Path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    spec = """
!JobGroup
  jobs:
  - !Job {id: here, command: pwd}
  - !JobGroup
      cwd: sub
      jobs:
      - !Job {id: deeper, command: pwd, cwd: deeper}
"""
    _, tracking, _ = run_spec(tmp_path, spec)
    assert logs(tracking, "root.here") == [str(tmp_path)]
    assert logs(tracking, "root.T1.deeper") == [str(tmp_path / "sub" / "deeper")]


def test_working_directory_expands_variables_before_joining(tmp_path: Path):
    (tmp_path / "scratch" / "run").mkdir(parents=True)
    spec = "!JobGroup\n  env: {WHERE: scratch}\n  jobs:\n  - !Job {id: a, command: pwd, cwd: $WHERE/run}\n" \
           "  - !Job {id: b, command: pwd, cwd: '${ABS}'}\n"
    _, tracking, _ = run_spec(tmp_path, spec, env={"ABS": str(tmp_path / "scratch")})
    assert logs(tracking, "root.a") == [str(tmp_path / "scratch" / "run")]
    assert logs(tracking, "root.b") == [str(tmp_path / "scratch")]


def test_cpu_of_child_processes_and_peak_memory_are_measured(tmp_path: Path):
    """The seed system always recorded the CPU of child processes as 0."""
    burn = tmp_path / "burn.py"
    burn.write_text(
        "import time\n"
        "block = bytearray(150 * 1024 * 1024)\n"
        "for i in range(0, len(block), 4096): block[i] = 1\n"
        "end = time.process_time() + 0.6\n"
        "while time.process_time() < end: pass\n"
        "time.sleep(0.3)\n")
    # The work happens in a grandchild of the wrapper (sh -> python).
    _, _, tree = run_spec(tmp_path, f"!Job {{id: b, command: sh, args: [-c, '{PY} {burn}; true']}}")
    metrics = node(tree, "root.b")["metrics"]
    assert metrics["cpu_time"] >= 0.5
    assert metrics["peak_memory"] >= 150 * 1024 * 1024
    assert metrics["wall_time"] >= 0.8


def test_a_job_inherits_no_descriptor_of_its_wrapper(tmp_path: Path):
    """Only stdin, stdout and stderr reach the job (not the store, the parent socket,
    the output pipes' other ends or the scheduler's release pipe)."""
    code = "import os; print(' '.join(sorted(os.listdir('/proc/self/fd'), key=int)))"
    _, tracking, _ = run_spec(tmp_path, f"!Job {{id: fds, command: {PY}, args: [-c, \"{code}\"]}}")
    (line,) = logs(tracking, "root.fds")
    assert line.split() == ["0", "1", "2", "3"]  # 3 is the directory listdir itself opened
