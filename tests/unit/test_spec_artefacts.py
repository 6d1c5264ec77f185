"""Artefacts in the spec language: the fields, their checks, planning and substitution."""

from __future__ import annotations

import pytest

from gator_core import Job, JobGroup, SpecError, dump_spec, loads_spec, spec_schema
from gator_core.runtime.plan import descendant_keys, plan_children
from gator_core.spec import from_dict, to_dict
from gator_core.spec.artefacts import (
    artefact_environment,
    env_name,
    expand_arg,
    references,
    substitute_artefacts,
)


def issues_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        loads_spec(text, "spec.yaml")
    return [str(issue) for issue in info.value.issues]


TREE = """\
!JobGroup
  id: top
  jobs:
  - !Job {id: build, command: make, artefacts: {binary: build/sim.exe, reports: "out/*.xml"}}
  - !JobGroup
    id: inner
    jobs:
    - !Job {id: gen, command: gen, artefacts: {data: data.bin}}
"""


# -- validation ------------------------------------------------------------------------------
def test_needs_and_references_are_checked_with_their_positions():
    found = issues_of(TREE + """\
  - !Job
    id: sim
    needs: [build.binry, bild.binary, build, inner.binary, inner.gen.data]
    command: "{{ artefacts.build.binary }}"
    env: {X: "{{ artefacts.inner.gen.dat }}"}
""")
    assert found == [
        "spec.yaml:11:13: error: top.sim: need 'build.binry': 'build' declares no artefact 'binry'; "
        "did you mean 'binary'?",
        "spec.yaml:11:26: error: top.sim: need 'bild.binary': unknown dependency 'bild'; did you mean 'build'?",
        "spec.yaml:11:39: error: top.sim: need 'build' must name a job and one of its artefacts, "
        "as <job>.<artefact> (build.binary)",
        "spec.yaml:11:46: error: top.sim: need 'inner.binary': 'inner' is a group, not a job; "
        "name a job in it, then its artefact",
        "spec.yaml:12:14: error: top.sim: '{{ artefacts.build.binary }}' in command is not a need here or "
        "above: add 'build.binary' to needs; did you mean 'build.binry'?",
        "spec.yaml:13:14: error: top.sim: '{{ artefacts.inner.gen.dat }}' in env is not a need here or "
        "above: add 'inner.gen.dat' to needs; did you mean 'inner.gen.data'?",
    ]


def test_artefact_declarations_are_checked():
    found = issues_of("""\
!JobGroup
  jobs:
  - !Job {id: a, command: x, artefacts: {"bad-name": x, empty: "", ok: [1, 2]}}
  - !Job {id: b, command: x, artefacts: [x]}
  - !Job {id: c, command: x, needs: {a: 1}}
""")
    assert [issue.split(": ", 3)[3] for issue in found] == [
        "artefact name 'bad-name' may hold only letters, digits and '_', and must not start with a digit",
        "artefact 'empty' must be a path or a glob",
        "artefact 'ok' must be a path or a glob",
        "'artefacts' of !Job must be a mapping of names to paths",
        "'needs' must be a list of <job>.<artefact> names",
    ]


def test_a_need_is_a_dependency_so_cycles_through_it_are_found():
    found = issues_of("""\
!JobGroup
  jobs:
  - !Job {id: a, command: x, needs: [b.out], artefacts: {out: a.out}}
  - !Job {id: b, command: x, needs: [a.out], artefacts: {out: b.out}}
""")
    assert any("dependency cycle: a -> b -> a" in issue for issue in found)


def test_a_reference_may_use_a_need_declared_above():
    spec = loads_spec(TREE + """\
  - !JobArray
    id: sims
    needs: [build.binary]
    repeats: 2
    jobs:
    - !Job {command: "{{ artefacts.build.binary }}"}
""")
    assert isinstance(spec, JobGroup) and spec.jobs[2].needs == ["build.binary"]


def test_the_fields_round_trip_and_are_in_the_schema():
    spec = loads_spec(TREE + """\
  - !Job {id: sim, needs: build.binary, command: "{{ artefacts.build.binary }}"}
""")
    assert spec.jobs[2].needs == ["build.binary"]  # one name is a list of one
    assert from_dict(to_dict(spec)) == spec
    assert dump_spec(loads_spec(dump_spec(spec))) == dump_spec(spec)
    job = spec_schema()["$defs"]["Job"]["anyOf"][0]["properties"]
    assert {"artefacts", "needs"} <= set(job)
    assert "needs" in spec_schema()["$defs"]["JobArray"]["anyOf"][0]["properties"]


def test_the_tier_plans_needs_as_dependencies_on_their_producers():
    spec = loads_spec(TREE + """\
  - !Job {id: sim, needs: [build.binary, inner.gen.data], command: x}
""")
    children = plan_children(spec)
    sim = children[2]
    assert [(need, target.sibling, target.subpath) for need, target in sim.needs] == [
        ("build.binary", 0, ()), ("inner.gen.data", 1, ("gen",))]
    assert children[1].watch == ["gen"]  # the group reports that job's outcome up


def test_descendant_keys_name_every_element_of_an_array():
    spec = loads_spec("""\
!JobGroup
  jobs:
  - !JobArray
    id: a
    repeats: 2
    jobs:
    - !JobGroup {id: g, jobs: [!Job {id: j, command: x}]}
""")
    assert descendant_keys(spec.jobs[0], ("g", "j")) == [("g_0", "j"), ("g_1", "j")]
    assert descendant_keys(spec.jobs[0], ("nope",)) == []


# -- substitution --------------------------------------------------------------------------------
VALUES = {"build.binary": ["/w/sim.exe"], "build.reports": ["/w/a.xml", "/w/b.xml"]}


def test_placeholders_become_paths():
    assert references("{{ artefacts.build.binary }} -f {{artefacts.x.y-z}} {{ seed }}") == ["build.binary", "x.y-z"]
    assert substitute_artefacts("run {{ artefacts.build.binary }} {{ artefacts.build.reports }}", VALUES) == \
        "run /w/sim.exe /w/a.xml /w/b.xml"
    assert substitute_artefacts("{{ artefacts.other.x }}", VALUES) == "{{ artefacts.other.x }}"
    assert expand_arg("{{ artefacts.build.reports }}", VALUES) == ["/w/a.xml", "/w/b.xml"]
    assert expand_arg("--in={{ artefacts.build.reports }}", VALUES) == ["--in=/w/a.xml /w/b.xml"]
    assert env_name("inner.gen-x.data") == "GATOR_ARTEFACT_INNER_GEN_X_DATA"
    assert artefact_environment(VALUES) == {"GATOR_ARTEFACT_BUILD_BINARY": "/w/sim.exe",
                                            "GATOR_ARTEFACT_BUILD_REPORTS": "/w/a.xml /w/b.xml"}


def test_a_job_may_declare_artefacts_in_python():
    job = Job(id="b", command="make", artefacts={"binary": "sim.exe"})
    user = Job(id="u", command="x", needs=["b.binary"])
    group = JobGroup(id="g", jobs=[job, user])
    assert plan_children(group)[1].needs[0][0] == "b.binary"
