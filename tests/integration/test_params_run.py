"""Params and matrices through the real command line: element ids, values in args and env,
inheritance through groups, --param, typos located before anything runs, and reruns."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import gator, logs, node, run_spec, write

SWEEP = """
!JobGroup
  id: top
  params: {mode: nightly}
  jobs:
  - !JobArray
      id: sweep
      matrix:
        cfg: [fast, slow, huge]
        seed: [1, 2, 3, 4]
      exclude:
      - {cfg: huge, seed: 4}
      - {cfg: slow, seed: 1}
      include:
      - {cfg: fast, opt: "-O3"}
      - {cfg: tiny, seed: 0.5}
      jobs:
      - !Job
          id: sim
          params: {opt: "-O0"}
          env: {CFG: "{{ cfg }}", SEED: "{{ seed }}"}
          command: sh
          args:
          - -c
          - 'echo "args=$1,$2,$3,$4 env=$CFG,$SEED raw=${cfg-unset} index=$GATOR_ARRAY_INDEX id=$GATOR_JOB_ID"'
          - sim
          - "{{ cfg }}"
          - "{{seed}}"
          - "{{ opt }}"
          - "{{ mode }}"
"""

# In launch order: the product less the two excluded, then the included new one.
EXPECTED = [("fast", "1"), ("fast", "2"), ("fast", "3"), ("fast", "4"), ("slow", "2"), ("slow", "3"),
            ("slow", "4"), ("huge", "1"), ("huge", "2"), ("huge", "3"), ("tiny", "0.5")]


def element_id(cfg: str, seed: str) -> str:
    return f"sim_cfg={cfg},seed={seed.replace('.', '_')}"


def test_a_matrix_with_exclude_and_include_runs_the_right_elements_with_their_values(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, SWEEP)
    sweep = node(tree, "top.sweep")
    assert [child["id"] for child in sweep["children"]] == [element_id(c, s) for c, s in EXPECTED]
    assert sweep["jobs"]["total"] == 11 and sweep["jobs"]["passed"] == 11
    for index, (cfg, seed) in enumerate(EXPECTED):
        key = element_id(cfg, seed)
        opt = "-O3" if cfg == "fast" else "-O0"  # include extends the fast ones; the template's default
        assert logs(tracking, f"top.sweep.{key}") == [
            f"args={cfg},{seed},{opt},nightly env={cfg},{seed} raw=unset index={index} id={key}"]
        assert (tracking / "sweep" / key).is_dir()


def test_show_json_and_the_tree_show_element_ids(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, SWEEP)
    paths = {job["path"] for job in node(tree, "top.sweep")["children"]}
    assert "top.sweep.sim_cfg=tiny,seed=0_5" in paths and "top.sweep.sim_cfg=huge,seed=4" not in paths
    listed = json.loads(gator("show", tracking, "--json", "--result", "pass", check=0).stdout)
    assert {job["id"] for job in listed} == {element_id(c, s) for c, s in EXPECTED}
    text = gator("show", tracking, check=0).stdout
    assert "sim_cfg=slow,seed=2" in text and "sim_cfg=slow,seed=1" not in text


GROUPS = """
!JobGroup
  id: top
  params: {level: top, who: everyone, greeting: hello}
  jobs:
  - !JobGroup
      id: inner
      params: {level: inner}
      env: {GREETING: "{{ greeting }} from {{ level }}"}
      cwd: "{{ level }}"
      jobs:
      - !Job {id: a, command: sh, args: [-c, 'echo "$GREETING {{ level }} {{ who }} $(basename $PWD)"']}
      - !Job {id: b, params: {who: b-only}, command: echo, args: ["{{ level }}", "{{ who }}"]}
  - !Job {id: c, command: echo, args: ["{{ level }}", "{{ who }}", "{{ greeting }}"]}
"""


def test_params_are_inherited_and_overridden_through_a_group(tmp_path: Path):
    (tmp_path / "inner").mkdir()
    _, tracking, tree = run_spec(tmp_path, GROUPS)
    assert tree["result"] == "pass"
    assert logs(tracking, "top.inner.a") == ["hello from inner inner everyone inner"]
    assert logs(tracking, "top.inner.b") == ["inner b-only"]
    assert logs(tracking, "top.c") == ["top everyone hello"]


def test_param_on_the_command_line_overrides_a_top_level_param(tmp_path: Path):
    (tmp_path / "inner").mkdir()
    _, tracking, _ = run_spec(tmp_path, GROUPS, "--param", "who=world", "--param", "greeting=hi = there")
    assert logs(tracking, "top.inner.a") == ["hi = there from inner inner world inner"]
    assert logs(tracking, "top.inner.b") == ["inner b-only"]  # a param given below still wins there
    assert logs(tracking, "top.c") == ["top world hi = there"]
    # spec.yaml holds the values the run used
    assert "who: world" in (tracking / "spec.yaml").read_text()


def test_param_of_a_lone_job(tmp_path: Path):
    _, tracking, _ = run_spec(tmp_path, "!Job {id: j, params: {n: 1}, command: echo, args: ['n={{ n }}']}",
                              "--param", "n=42")
    assert logs(tracking, "root.j") == ["n=42"]


def test_param_the_spec_does_not_define_at_the_top_is_a_usage_error(tmp_path: Path):
    spec = write(tmp_path / "spec.yaml", GROUPS)
    proc = gator("run", spec, "-t", tmp_path / "t", "--param", "greting=x", cwd=tmp_path, check=2)
    assert proc.stderr.strip() == ("gator: error: --param greting: the spec's top node has no param 'greting'; "
                                   "did you mean 'greeting'? (its params: level, who, greeting)")
    proc = gator("run", spec, "-t", tmp_path / "t", "--param", "who", cwd=tmp_path, check=2)
    assert "--param takes NAME=VALUE, got 'who'" in proc.stderr
    assert not (tmp_path / "t" / "spec.yaml").exists()  # nothing ran


def test_a_typo_in_a_param_name_fails_with_its_location_before_anything_runs(tmp_path: Path):
    spec = write(tmp_path / "spec.yaml", SWEEP.replace('"{{seed}}"', '"{{ sede }}"'))
    proc = gator("run", spec, "-t", tmp_path / "t", cwd=tmp_path, check=2)
    assert proc.stderr.splitlines() == [
        f"{spec}:28:13: error: top.sweep.sim: unknown param 'sede' in args; did you mean 'seed'?",
        "gator: 1 error in spec; nothing was run",
    ]
    assert not (tmp_path / "t" / "spec.yaml").exists()


def test_rerun_keeps_the_params_of_the_earlier_run(tmp_path: Path):
    spec = ("!JobGroup\n  id: top\n  params: {mode: day}\n  jobs:\n"
            "  - !Job {id: j, command: sh, args: [-c, 'echo mode={{ mode }}; test -e flag']}\n"
            "  - !Job {id: k, command: echo, args: ['{{ mode }}']}\n")
    _, tracking, tree = run_spec(tmp_path, spec, "--param", "mode=night", check=1)
    assert node(tree, "top.j")["result"] == "fail"
    (tmp_path / "flag").touch()
    again = tmp_path / "again"
    gator("rerun", tracking, "--failed", "-t", again, cwd=tmp_path, check=0)
    assert logs(again, "top.j") == ["mode=night"]
    shown = json.loads(gator("show", again, "--json", check=0).stdout)
    assert node(shown, "top.k")["reason"].startswith("passed in")  # carried over, not run again


def test_the_example_in_the_docs_runs_as_shown(tmp_path: Path):
    from helpers import ROOT

    tracking = tmp_path / "t"
    gator("run", ROOT / "examples" / "params_matrix.yaml", "--param", "mode=quick", "--tracking", tracking,
          cwd=tmp_path, check=0)
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert tree["jobs"]["total"] == 13 and tree["jobs"]["passed"] == 13
    assert logs(tracking, "regression.build") == ["building for quick"]
    assert logs(tracking, "regression.sims.sim_cfg=fast,seed=1") == ["--cfg=fast -O3 --mode=quick --seed=1"]
    assert logs(tracking, "regression.sims.sim_cfg=tiny,seed=0_5") == ["--cfg=tiny -O0 --mode=quick --seed=0.5"]
    typo = write(tmp_path / "params_matrix.yaml",
                 (ROOT / "examples" / "params_matrix.yaml").read_text().replace('"{{ opt }}"', '"{{ otp }}"'))
    proc = gator("run", typo.name, "--tracking", tmp_path / "t2", cwd=tmp_path, check=2)
    assert proc.stderr.splitlines()[0] == ("params_matrix.yaml:25:80: error: regression.sims.sim: unknown param "
                                           "'otp' in args; did you mean 'opt'?")
