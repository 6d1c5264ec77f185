"""Severities of output lines: rules in the spec, parser plugins, inheritance and precedence."""

from __future__ import annotations

from pathlib import Path

from helpers import gator, logs, node, run_spec, write

UVM_LINES = ("echo 'UVM_INFO @ 0: reporter [RNTST] Running test'; "
             "echo 'UVM_WARNING tb/env.sv(40) @ 10: env [CFG] default used'; "
             "echo 'UVM_ERROR /work/tb/scoreboard.sv(118) @ 2250: env.sb [SCB] mismatch'; "
             "echo 'UVM_FATAL tb/top.sv(9) @ 3000: top [DIE] giving up'; "
             "echo 'UVM_ERROR :    1'")


def test_the_uvm_parser_sets_severities_and_keeps_file_and_line(tmp_path: Path):
    spec = f"!Job {{id: sim, command: sh, parsers: [uvm], args: [-c, \"{UVM_LINES}\"]}}"
    _, tracking, tree = run_spec(tmp_path, spec, check=1)
    assert node(tree, "root.sim")["messages"] == {"debug": 0, "info": 2, "warning": 1, "error": 1, "critical": 1}
    out = gator("logs", tracking, "root.sim", "--json", check=0).stdout
    import json

    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["severity"], r["source"], r["line"]) for r in rows] == [
        ("info", None, None), ("warning", "tb/env.sv", 40), ("error", "/work/tb/scoreboard.sv", 118),
        ("critical", "tb/top.sv", 9), ("info", None, None)]  # the report summary is not a report
    text = gator("logs", tracking, "root.sim", "--severity", "error", check=0).stdout
    assert "mismatch (/work/tb/scoreboard.sv:118)" in text


def test_rules_are_inherited_and_the_closest_wins(tmp_path: Path):
    spec = """
!JobGroup
  id: top
  rules:
  - !Rule ['^UVM_ERROR', error]
  - !Rule ['known harmless', info, stderr]
  - !Rule ['^NOTE', debug]
  jobs:
  - !JobGroup
      id: g
      rules: [{pattern: '^NOTE', severity: warning}]
      jobs:
      - !Job
          id: j
          command: sh
          args: [-c, "echo 'UVM_ERROR x'; echo 'known harmless' >&2; echo 'NOTE this'; echo 'other' >&2; echo 'known harmless'"]
  - !Job {id: k, command: sh, args: [-c, "echo 'NOTE that'"]}
"""
    _, tracking, tree = run_spec(tmp_path, spec, "--limit-error", "5")
    j = node(tree, "top.g.j")
    # UVM_ERROR from the top rule; the stderr-only rule lowers stderr, not stdout;
    # NOTE is a warning in g (its own rule), debug elsewhere; other stderr stays an error.
    assert j["messages"] == {"debug": 0, "info": 2, "warning": 1, "error": 2, "critical": 0}
    assert node(tree, "top.k")["messages"]["debug"] == 1


def test_an_unknown_parser_is_named_before_anything_runs(tmp_path: Path):
    write(tmp_path / "s.yaml", "!JobGroup\n  jobs:\n  - !Job {id: j, command: 'true', parsers: [uvn]}\n")
    proc = gator("run", "s.yaml", cwd=tmp_path, check=2)
    assert "s.yaml:3:45: error: root.j: no log parser called 'uvn'; did you mean 'uvm'?" in proc.stderr
    assert not (tmp_path / "tracking").exists()


def test_parsers_are_listed():
    out = gator("parsers", check=0).stdout
    assert any(line.startswith("uvm ") and "gator-runner" in line for line in out.splitlines())


def make_plugin(where: Path, name: str, source: str) -> dict[str, str]:
    """A third-party parser plugin, installed as a distribution in ``where`` (a module and
    its dist-info with an entry point in the group `gator`); returns the environment."""
    import os

    (where / f"{name}.py").write_text(source)
    info = where / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gator]\n{name} = {name}\n")
    return {"PYTHONPATH": f"{where}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_a_third_party_parser_plugin_is_found_and_used(tmp_path: Path):
    env = make_plugin(tmp_path, "keyword_parser", (
        "from gator_core import Classified, LogParser, hookimpl\n"
        "class Keywords(LogParser):\n"
        "    name = 'keywords'\n"
        "    description = 'FAILED is an error'\n"
        "    def classify(self, text, stream):\n"
        "        return Classified('error', 'x.log', 7) if 'FAILED' in text else None\n"
        "@hookimpl\n"
        "def gator_log_parsers():\n"
        "    return [Keywords]\n"))
    assert any(line.startswith("keywords ") and "keyword_parser 0.1" in line
               for line in gator("parsers", env=env, check=0).stdout.splitlines())
    _, tracking, tree = run_spec(tmp_path, "!Job {id: j, command: sh, parsers: [keywords], "
                                 "args: [-c, 'echo step 1; echo step 2 FAILED']}", env=env, check=1)
    assert node(tree, "root.j")["messages"]["error"] == 1


def test_a_broken_parser_is_switched_off_and_nothing_is_lost(tmp_path: Path):
    env = make_plugin(tmp_path, "broken_parser", (
        "from gator_core import Classified, LogParser, hookimpl\n"
        "class Broken(LogParser):\n"
        "    name = 'broken'\n"
        "    def classify(self, text, stream):\n"
        "        if text == 'two':\n"
        "            raise RuntimeError('cannot cope')\n"
        "        return Classified('LOUD') if text == 'three' else None\n"
        "@hookimpl\n"
        "def gator_log_parsers():\n"
        "    return [Broken]\n"))
    _, tracking, tree = run_spec(tmp_path, "!Job {id: j, command: sh, parsers: [broken], "
                                 "args: [-c, 'echo one; echo two; echo three']}", env=env)
    texts = logs(tracking, "root.j")
    warning = "log parser 'broken' failed and is switched off: RuntimeError: cannot cope"
    assert sorted(texts) == sorted(["one", "two", "three", warning])  # every line kept
    assert [t for t in texts if t != warning] == ["one", "two", "three"]  # in order
    assert node(tree, "root.j")["messages"] == {"debug": 0, "info": 3, "warning": 1, "error": 0, "critical": 0}
