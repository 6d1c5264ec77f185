"""The spec language: both forms, both id spellings, units, round trips and the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gator_core import (
    Cores,
    Feature,
    Job,
    JobArray,
    JobGroup,
    License,
    Memory,
    SpecError,
    dump_spec,
    loads_spec,
    spec_schema,
    validate,
)
from gator_core.spec import from_dict, to_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_mapping_and_sequence_forms_are_the_same():
    mapping = loads_spec(
        "!Job\n  id: a\n  env: {X: '1'}\n  command: echo\n  args: [hi]\n"
        "  resources: [!Cores {count: 2}, !Memory {size: 3, unit: GB}, !License {name: vcs, count: 2}]\n")
    sequence = loads_spec(
        "!Job [a, {X: '1'}, null, echo, [hi], [!Cores [2], !Memory [3, GB], !License [vcs, 2]]]\n")
    assert mapping == sequence


def test_id_and_ident_spellings_are_the_same():
    assert loads_spec("!Job {id: a, command: x}") == loads_spec("!Job {ident: a, command: x}")


def test_scalar_form_of_a_resource():
    job = loads_spec("!Job {command: x, resources: [!Cores 4]}")
    assert job.resources == [Cores(4)]


@pytest.mark.parametrize("unit, factor", [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30),
                                          ("TB", 1 << 40), ("gb", 1 << 30)])
def test_memory_units_are_binary_multiples(unit, factor):
    """The seed system multiplied KB by 0.1; a kilobyte here is 1024 bytes."""
    job = loads_spec(f"!Job {{command: x, resources: [!Memory [3, {unit}]]}}")
    assert job.resources[0].bytes == 3 * factor


def test_memory_unit_defaults_to_megabytes_and_accepts_fractions():
    job = loads_spec("!Job {command: x, resources: [!Memory [1.5]]}")
    assert job.resources[0].bytes == int(1.5 * (1 << 20))


def test_values_are_normalised_to_text():
    job = loads_spec("!Job {command: x, args: [1, 2.5, true], env: {N: 5, B: false, U: null}}")
    assert job.args == ["1", "2.5", "true"]
    assert job.env == {"N": "5", "B": "false", "U": None}


def test_single_dependency_name_is_accepted():
    tree = loads_spec("!JobGroup\n  jobs:\n  - !Job {id: a, command: x}\n  - !Job {id: b, command: y, on_pass: a}\n")
    assert tree.jobs[1].on_pass == ["a"]


def test_seed_readme_dependency_on_a_nested_job_resolves_with_a_warning():
    warnings = []
    tree = loads_spec((EXAMPLES / "seed" / "readme_tree_id.yaml").read_text(), "readme.yaml",
                      on_warning=warnings.append)
    assert isinstance(tree, JobGroup) and tree.id == "top"
    assert [str(w) for w in warnings] == [
        "readme.yaml:17:11: warning: top.counting: dependency 'say_hi' is not a sibling; "
        "it resolves to 'inner.say_hi'"]


@pytest.mark.parametrize("name", ["readme_tree_id.yaml", "readme_tree_ident.yaml", "job_id.yaml",
                                  "job_ident.yaml", "job_tree.yaml"])
def test_seed_examples_load(name):
    loads_spec((EXAMPLES / "seed" / name).read_text(), name)


def test_yaml_round_trip_of_every_feature():
    text = (
        "!JobGroup\n  id: top\n  env: {A: a}\n  cwd: sub\n  jobs:\n"
        "  - !JobArray\n      id: arr\n      repeats: 3\n      on_done: [g]\n      jobs:\n"
        "      - !Job {id: j, command: run, args: [x, y], resources: [!Cores [2, x86], !Memory [1, GB], "
        "!License [vcs, 2], !Feature [gpu]]}\n"
        "  - !JobGroup {id: g, on_fail: [], jobs: [!Job {command: echo, env: {U: null}}]}\n")
    tree = loads_spec(text)
    again = loads_spec(dump_spec(tree))
    assert again == tree
    assert dump_spec(again) == dump_spec(tree)


def test_python_api_builds_the_same_tree_as_yaml():
    built = JobGroup(id="top", jobs=[
        Job(id="a", command="echo", args=["hi"], resources=[Cores(2), Memory(1, "GB"), License("vcs")]),
        JobArray(id="arr", repeats=2, on_pass=["a"], jobs=[Job(id="b", command="true")]),
    ])
    assert validate(built) == []
    assert loads_spec(dump_spec(built)) == built
    assert from_dict(json.loads(json.dumps(to_dict(built)))) == built


def test_python_api_errors_name_the_node_path():
    issues = validate(JobGroup(id="top", jobs=[Job(id="a", command="x", on_pass=["zz"]),
                                              Job(id="b", command="", resources=[Memory(0)])]))
    messages = sorted(str(i) for i in issues)
    assert any("top.a: unknown dependency 'zz'" in m for m in messages), messages
    assert any("top.b: 'command' of !Job must be a non-empty string" in m for m in messages)
    assert any("top.b: !Memory size must be a number > 0" in m for m in messages)


def test_feature_is_accepted_like_the_seed():
    assert loads_spec("!Job {command: x, resources: [!Feature [gpu, 2]]}").resources == [Feature("gpu", 2)]


def test_schema_describes_every_tag_and_field():
    schema = spec_schema()
    defs = schema["$defs"]
    for tag, cls in (("Job", Job), ("JobGroup", JobGroup), ("JobArray", JobArray), ("Cores", Cores),
                     ("Memory", Memory), ("License", License), ("Feature", Feature)):
        mapping = defs[tag]["anyOf"][0]
        assert set(mapping["properties"]) >= set(cls.FIELDS)
        assert mapping["required"] == list(cls.REQUIRED)
    json.dumps(schema)  # serialisable


def test_schema_accepts_examples_and_rejects_a_bad_tree():
    jsonschema = pytest.importorskip("jsonschema")
    schema = spec_schema()
    good = to_dict(loads_spec((EXAMPLES / "seed" / "readme_tree_id.yaml").read_text()))

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k != "tag"}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    jsonschema.validate(strip(good), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "x", "comand": "y"}, schema)


def test_spec_error_lists_all_issues_in_order():
    with pytest.raises(SpecError) as info:
        loads_spec("!JobGroup\n  jobs:\n  - !Job {id: b, comand: x}\n  - !Jbo {}\n", "f.yaml")
    lines = str(info.value).splitlines()
    assert lines[-1] == "3 errors in spec"
    assert [line.split(":")[1] for line in lines[:-1]] == sorted(line.split(":")[1] for line in lines[:-1])


def test_a_variable_called_tag_survives_the_wire_form():
    """to_dict marks spec objects with "tag": plain mappings (env, runner_args) must not be read as one."""
    job = Job(id="a", command="x", env={"tag": "v1", "other": None}, runner="container",
              runner_args={"image": "alpine", "tag": "3.19"})
    assert from_dict(json.loads(json.dumps(to_dict(job)))) == job
