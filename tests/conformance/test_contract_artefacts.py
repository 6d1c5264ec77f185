"""Artefacts on every scheduler.

A scheduler must run a job that needs another's artefacts where it can read them: on
a shared filesystem at the paths the producer wrote, elsewhere copied there (the
``inputs`` of its launch request).  The tier hands over the paths, whatever runs it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from helpers import gator, logs, node, write

SPEC = """
!JobGroup
  id: top
  jobs:
  - !Job
    id: build
    command: sh
    args: [-c, 'printf "#!/bin/sh\\necho simulated \\$1 with \\$(cat \\$2)\\n" > sim.exe && chmod +x sim.exe
                && echo tables > lib.dat']
    artefacts: {binary: sim.exe, data: lib.dat}
  - !Job {id: broken, command: "true", artefacts: {binary: never.exe}}
  - !Job {id: unbuilt, needs: [broken.binary], command: "true"}
  - !JobArray
    id: sims
    repeats: 2
    needs: [build.binary, build.data]
    jobs:
    - !Job
      id: sim
      command: "{{ artefacts.build.binary }}"
      args: [$GATOR_ARRAY_INDEX, "{{ artefacts.build.data }}"]
"""


def test_artefacts_reach_the_jobs_that_need_them(scheduler_name, scheduler_env, scheduler_args, same_filesystem,
                                                  tmp_path: Path):
    spec = write(tmp_path / "s.yaml", SPEC)
    tracking = tmp_path / "t"
    gator("run", spec, "-t", tracking, "--scheduler", scheduler_name, *scheduler_args,
          env=scheduler_env, cwd=tmp_path, check=1, timeout=180)
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    build = node(tree, "top.build")
    assert build["result"] == "pass", build["reason"]
    for name, file in (("binary", "sim.exe"), ("data", "lib.dat")):
        (item,) = build["artefacts"][name]["files"]
        path = Path(item["path"])
        # Where the producer wrote it, or, from a host without these files, its copy here.
        expected = tmp_path / file if same_filesystem else tracking / "build" / "artefacts" / name / file
        assert path == expected
        assert hashlib.sha256(path.read_bytes()).hexdigest() == item["sha256"]
    assert node(tree, "top.broken")["result"] == "fail"
    assert node(tree, "top.unbuilt")["reason"] == "needs: artefact 'broken.binary' was not produced"
    for index in range(2):
        sim = node(tree, f"top.sims.sim_{index}")
        assert sim["result"] == "pass", sim["reason"]
        assert logs(tracking, f"top.sims.sim_{index}") == [f"simulated {index} with tables"]
