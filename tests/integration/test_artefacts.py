"""Artefacts on the local scheduler: declared, checked, hashed, needed and handed over."""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers import gator, logs, node, run_spec


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_build_hands_its_artefacts_to_the_jobs_that_need_them(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, """
!JobGroup
  id: top
  jobs:
  - !Job
    id: build
    command: sh
    args: [-c, 'mkdir -p build out && printf "#!/bin/sh\\necho ran with \\$*\\n" > build/sim.exe
                && chmod +x build/sim.exe && echo one > out/a.xml && echo two > out/b.xml']
    artefacts: {binary: build/sim.exe, reports: "out/*.xml"}
  - !Job
    id: sim
    needs: [build.binary, build.reports]
    command: "{{ artefacts.build.binary }}"
    args: [--reports, "{{ artefacts.build.reports }}", "in={{ artefacts.build.reports }}"]
    env: {REPORTS: "{{ artefacts.build.reports }}"}
  - !Job
    id: env_only
    needs: [build.reports]
    command: sh
    args: [-c, 'echo "var=$GATOR_ARTEFACT_BUILD_REPORTS"; echo "mine=$REPORTS"; cat $GATOR_ARTEFACT_BUILD_REPORTS']
    env: {REPORTS: "{{ artefacts.build.reports }}"}
""")
    build = node(tree, "top.build")
    binary = build["artefacts"]["binary"]["files"]
    reports = build["artefacts"]["reports"]["files"]
    assert [item["path"] for item in binary] == [str(tmp_path / "build" / "sim.exe")]
    a, b = str(tmp_path / "out" / "a.xml"), str(tmp_path / "out" / "b.xml")
    assert [item["path"] for item in reports] == [a, b]
    for item in binary + reports:  # size and hash of what is on disk
        assert (item["size"], item["sha256"]) == (Path(item["path"]).stat().st_size, _sha(item["path"]))
    assert build["artefacts"]["reports"]["pattern"] == "out/*.xml"
    # A whole-argument placeholder is one argument per file; inside text, paths joined by spaces.
    assert logs(tracking, "top.sim") == [f"ran with --reports {a} {b} in={a} {b}"]
    assert logs(tracking, "top.env_only") == [f"var={a} {b}", f"mine={a} {b}", "one", "two"]
    shown = gator("show", tracking, check=0).stdout
    assert f"artefact binary: {tmp_path / 'build' / 'sim.exe'} (" in shown
    assert f"sha256 {binary[0]['sha256'][:12]}" in shown


def test_an_artefact_not_produced_fails_its_job_and_skips_what_needs_it(tmp_path: Path):
    _, _, tree = run_spec(tmp_path, """
!JobGroup
  id: top
  jobs:
  - !Job {id: build, command: "true", artefacts: {binary: build/sim.exe, logs: "logs/*.log"}}
  - !Job {id: sim, needs: [build.binary], command: "true"}
  - !Job {id: crashes, command: sh, args: [-c, 'touch made.bin; exit 4'], artefacts: {out: made.bin}}
  - !Job {id: after_crash, needs: [crashes.out], command: "true"}
  - !Job {id: cleanup, on_done: [build], command: "true"}
""", check=1)
    build = node(tree, "top.build")
    assert build["result"] == "fail"
    assert build["reason"] == ("artefact 'binary' (build/sim.exe) was not produced; "
                               "artefact 'logs' (logs/*.log) was not produced")
    assert build["artefacts"]["binary"]["files"] == []
    sim = node(tree, "top.sim")
    assert (sim["result"], sim["reason"]) == ("skipped", "needs: artefact 'build.binary' was not produced")
    # Produced, but by a job that failed: the dependant says why it did not run.
    after = node(tree, "top.after_crash")
    assert (after["result"], after["reason"]) == ("skipped", "needs: 'crashes' failed")
    assert node(tree, "top.cleanup")["result"] == "pass"


def test_needs_reach_below_siblings_and_a_groups_needs_serve_everything_in_it(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, """
!JobGroup
  id: top
  jobs:
  - !JobGroup
    id: prep
    jobs:
    - !Job {id: compile, command: sh, args: [-c, 'sleep 0.2; echo compiled > prog.bin'], artefacts: {binary: prog.bin}}
  - !JobArray
    id: gen
    repeats: 3
    jobs:
    - !Job {id: data, command: sh, args: [-c, 'echo $GATOR_ARRAY_INDEX > d$GATOR_ARRAY_INDEX.txt'],
            artefacts: {file: "d$GATOR_ARRAY_INDEX.txt"}}
  - !JobArray
    id: tests
    needs: [prep.compile.binary, gen.data.file]
    repeats: 2
    jobs:
    - !Job
      id: make
      command: sh
      args: [-c, 'cat {{ artefacts.prep.compile.binary }} > mine$GATOR_ARRAY_INDEX.txt']
      artefacts: {mine: mine$GATOR_ARRAY_INDEX.txt}
    - !Job
      id: check
      needs: [make.mine]
      command: sh
      args: [-c, 'cat "$1"; cat $GATOR_ARTEFACT_GEN_DATA_FILE', sh, "{{ artefacts.make.mine }}"]
""")
    assert tree["result"] == "pass"
    for index in range(2):
        # Its own element's file, and the three files of the array it needs through its parent.
        assert logs(tracking, f"top.tests.check_{index}") == ["compiled", "0", "1", "2"]
        mine = node(tree, f"top.tests.make_{index}")["artefacts"]["mine"]["files"]
        assert [item["path"] for item in mine] == [str(tmp_path / f"mine{index}.txt")]


def test_artefact_paths_take_params(tmp_path: Path):
    _, tracking, tree = run_spec(tmp_path, """
!JobArray
  id: cfgs
  matrix: {cfg: [fast, slow]}
  jobs:
  - !Job {id: build, command: sh, args: [-c, 'echo {{ cfg }} > {{ cfg }}.out'], artefacts: {out: "{{ cfg }}.out"}}
  - !Job {id: show, needs: [build.out], command: cat, args: ["{{ artefacts.build.out }}"]}
""")
    for cfg in ("fast", "slow"):
        built = node(tree, f"cfgs.build_cfg={cfg}")
        assert built["artefacts"]["out"]["pattern"] == f"{cfg}.out"
        assert logs(tracking, f"cfgs.show_cfg={cfg}") == [cfg]


def test_a_rerun_hands_over_the_artefacts_of_a_job_it_carries(tmp_path: Path):
    """The build passed and is not run again; the failed test gets its binary all the same."""
    flag = tmp_path / "fixed"
    _, tracking, tree = run_spec(tmp_path, f"""
!JobGroup
  id: top
  jobs:
  - !Job {{id: build, command: sh, args: [-c, 'echo built > bin.out'], artefacts: {{binary: bin.out}}}}
  - !Job {{id: test, needs: [build.binary], command: sh, args: [-c, 'cat "$1"; test -e {flag}', sh,
           "{{{{ artefacts.build.binary }}}}"]}}
""", check=1)
    assert node(tree, "top.test")["result"] == "fail"
    flag.touch()
    again = tmp_path / "again"
    gator("rerun", tracking, "--failed", "--tracking", again, cwd=tmp_path, check=0)
    rerun = gator("show", again, "--json", check=0).stdout
    import json

    tree = json.loads(rerun)
    assert node(tree, "top.test")["result"] == "pass"
    assert "passed in" in (node(tree, "top.build")["reason"] or "")  # carried, not run again
    assert logs(again, "top.test") == ["built"]
