"""`gator show --buckets`: a real run's failed jobs grouped by the signature of their first error."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import gator, node, run_spec

# 4 jobs fail with a mismatch (an ERROR: line on stdout, made an error by a rule), each at
# another address and seed; 2 with a timeout (on stderr, an error by default), each with
# another cycle count and path; 3 pass, and one of them prints "ERROR:" not at a line's start.
TWO_CAUSES = r"""
!JobGroup
  id: top
  rules:
  - !Rule ['^ERROR:', error, stdout]
  jobs:
  - !JobArray
      id: mism
      repeats: 4
      jobs:
      - !Job {id: m, command: sh, args: [-c, 'echo "starting test $GATOR_ARRAY_INDEX"; echo "ERROR: mismatch at 0x$(printf %x $((GATOR_ARRAY_INDEX * 4099 + 17))) seed=$GATOR_SEED"; exit 1']}
  - !JobArray
      id: hang
      repeats: 2
      jobs:
      - !Job {id: h, command: sh, args: [-c, 'echo "timeout after $((GATOR_ARRAY_INDEX * 1000 + 500)) cycles in /tmp/run_$GATOR_ARRAY_INDEX/sim.log" >&2; exit 3']}
  - !JobArray
      id: good
      repeats: 3
      jobs:
      - !Job {id: g, command: sh, args: [-c, 'echo "ok $GATOR_ARRAY_INDEX, no ERROR: here"']}
"""

MISMATCH = "ERROR: mismatch at <HEX> seed=<SEED>"
TIMEOUT = "timeout after <N> cycles in <PATH>"


def test_failed_jobs_of_a_run_fall_into_one_bucket_per_cause(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, TWO_CAUSES, check=1)
    assert tree["jobs"]["failed"] == 6 and tree["jobs"]["passed"] == 3

    shown = json.loads(gator("show", tracking, "--buckets", "--json", check=0).stdout)
    assert sorted(shown) == ["buckets", "failed"] and shown["failed"] == 6
    assert [(b["signature"], b["count"]) for b in shown["buckets"]] == [(MISMATCH, 4), (TIMEOUT, 2)]
    mismatch, timeout = shown["buckets"]
    paths = [f"top.mism.m_{i}" for i in range(4)]
    assert mismatch["examples"] == [
        {"path": path, "text": f"ERROR: mismatch at 0x{i * 4099 + 17:x} seed={node(tree, path)['seed']}"}
        for i, path in enumerate(paths)]
    assert len({example["text"] for example in mismatch["examples"]}) == 4  # the raw messages all differ
    assert timeout["examples"] == [
        {"path": f"top.hang.h_{i}", "text": f"timeout after {i * 1000 + 500} cycles in /tmp/run_{i}/sim.log"}
        for i in range(2)]

    text = gator("show", tracking, "--buckets", check=0).stdout
    lines = text.splitlines()
    assert lines[0].split() == ["COUNT", "SIGNATURE"]
    assert lines[1].split(None, 1) == ["4", MISMATCH]
    assert [line.split(None, 1) for line in lines[2:5]] == [
        [path, f"ERROR: mismatch at 0x{i * 4099 + 17:x} seed={node(tree, path)['seed']}"]
        for i, path in enumerate(paths[:3])]  # three examples, then how many more
    assert lines[5].strip() == "... and 1 more job"
    assert lines[6].split(None, 1) == ["2", TIMEOUT]
    assert "top.hang.h_1" in lines[8] and "/tmp/run_1/sim.log" in lines[8]
    assert lines[-1] == "6 failed jobs in 2 buckets"
    assert "top.good" not in text

    # --failed is what --buckets groups anyway; --result is refused; plain --json is still the tree
    assert json.loads(gator("show", tracking, "--buckets", "--failed", "--json", check=0).stdout) == shown
    assert "does not take --result" in gator("show", tracking, "--buckets", "--result", "pass", check=2).stderr
    assert json.loads(gator("show", tracking, "--json", check=0).stdout) == tree


def test_bucket_examples_are_printed_as_text(tmp_path: Path):
    """Job output is not markup, and escape codes do not reach the terminal."""
    spec = r"""
!Job {id: loud, command: sh, args: [-c, 'printf "\033[31m[bold red]boom[/] at 0x1f\033[0m\n" >&2; exit 1']}
"""
    _, tracking, _ = run_spec(tmp_path, spec, check=1)
    shown = json.loads(gator("show", tracking, "--buckets", "--json", check=0).stdout)
    assert shown["buckets"] == [{"signature": "[bold red]boom[/] at <HEX>", "count": 1, "examples": [
        {"path": "root.loud", "text": "\x1b[31m[bold red]boom[/] at 0x1f\x1b[0m"}]}]
    text = gator("show", tracking, "--buckets", check=0).stdout
    assert "\x1b" not in text
    assert "root.loud  \\x1b[31m[bold red]boom[/] at 0x1f\\x1b[0m" in text
    assert "1 failed job in 1 bucket" in text


def test_a_run_without_failures_has_no_buckets(tmp_path: Path):
    _, tracking, _ = run_spec(tmp_path, "!Job {id: fine, command: echo, args: [ok]}\n")
    assert json.loads(gator("show", tracking, "--buckets", "--json", check=0).stdout) == {"buckets": [], "failed": 0}
    assert gator("show", tracking, "--buckets", check=0).stdout == "no failed jobs\n"
