"""Params and matrices on every scheduler.

Schedulers see children whose keys are built from values (``sim_cfg=a,seed=1_5``):
they must launch them, give them their own directories, and the tier must hand each
its values, whatever runs it.  Elements of a matrix are launched one by one (not as
a batch system's array, whose tasks are named ``<template>_<index>``).
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import gator, logs, node, write

SPEC = """
!JobGroup
  id: top
  params: {mode: day}
  jobs:
  - !JobArray
      id: arr
      repeats: 2
      matrix: {cfg: [a, b], seed: [1.5]}
      include: [{cfg: b, extra: x}]
      jobs:
      - !Job {id: build, command: sh, args: [-c, 'test {{ cfg }} != b || test $GATOR_ARRAY_INDEX != 3']}
      - !Job
          id: sim
          on_pass: [build]
          env: {SEED: "{{ seed }}"}
          command: sh
          args: [-c, 'echo "{{ cfg }} $SEED {{ mode }} $GATOR_ARRAY_INDEX $GATOR_JOB_ID"']
  - !JobArray {id: plain, repeats: 2, jobs: [!Job {id: e, command: sh, args: [-c, 'echo {{ mode }}']}]}
"""


def test_a_matrix_runs_with_ids_and_values_from_its_elements(scheduler_name, scheduler_env, scheduler_args,
                                                                tmp_path: Path):
    spec = write(tmp_path / "s.yaml", SPEC)
    tracking = tmp_path / "t"
    gator("run", spec, "-t", tracking, "--scheduler", scheduler_name, *scheduler_args, "--param", "mode=night",
          env=scheduler_env, cwd=tmp_path, check=1, timeout=180)
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    names = ["cfg=a,seed=1_5,repeat=0", "cfg=b,seed=1_5,repeat=0", "cfg=a,seed=1_5,repeat=1",
             "cfg=b,seed=1_5,repeat=1"]
    assert [child["id"] for child in node(tree, "top.arr")["children"]] == [
        f"{template}_{name}" for name in names for template in ("build", "sim")]
    for index, name in enumerate(names):
        sim = f"top.arr.sim_{name}"
        if index == 3:  # its build failed (within its own element): skipped
            assert node(tree, f"top.arr.build_{name}")["result"] == "fail"
            assert node(tree, sim)["result"] == "skipped"
            continue
        assert node(tree, sim)["result"] == "pass"
        assert logs(tracking, sim) == [f"{name[4]} 1.5 night {index} sim_{name}"]
    assert [logs(tracking, f"top.plain.e_{i}") for i in range(2)] == [["night"], ["night"]]
    assert tree["jobs"]["total"] == 10 and tree["jobs"]["failed"] == 1 and tree["jobs"]["skipped"] == 1
