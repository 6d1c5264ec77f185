"""Every class of spec error is reported with file:line:column, all at once."""

from __future__ import annotations

import pytest

from gator_core import SpecError, loads_spec


def errors_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        loads_spec(text, "spec.yaml")
    return [str(issue) for issue in info.value.issues if issue.severity == "error"]


def one_error(text: str) -> str:
    found = errors_of(text)
    assert len(found) == 1, found
    return found[0]


def test_yaml_syntax_error_names_line_and_column():
    """A YAML syntax error is located, not raised as a traceback."""
    message = one_error("!JobGroup\n  id: x\n  jobs: [\n")
    assert message.startswith("spec.yaml:4:1: error: YAML syntax")


def test_unknown_tag_suggests_the_close_one():
    message = one_error("!JobGroup\n  id: x\n  jobs:\n    - !Jbo {command: x}\n")
    assert message == "spec.yaml:4:7: error: unknown tag '!Jbo'; did you mean '!Job'?"


def test_unknown_field_suggests_the_close_one():
    message = one_error("!Job\n  id: a\n  comand: echo\n  command: x\n")
    assert message == "spec.yaml:3:3: error: unknown field 'comand' in !Job; did you mean 'command'?"


def test_missing_command_is_an_error():
    assert "needs a 'command'" in one_error("!Job\n  id: a\n")


def test_wrong_types_are_errors_at_the_value():
    found = errors_of(
        "!JobGroup\n"
        "  id: top\n"
        "  jobs:\n"
        "    - !Job {id: a, command: [x]}\n"
        "    - !Job {id: b, command: x, args: {a: 1}}\n"
        "    - !Job {id: c, command: x, env: [1, 2]}\n"
        "    - !JobArray {id: d, repeats: many, jobs: []}\n"
        "    - !Job {id: e, command: x, on_pass: [1]}\n"
    )
    assert any(m.startswith("spec.yaml:4:29: error: top.a: 'command'") for m in found), found
    assert any(m.startswith("spec.yaml:5:38:") and "'args'" in m for m in found), found
    assert any(m.startswith("spec.yaml:6:37:") and "'env'" in m for m in found), found
    assert any(m.startswith("spec.yaml:7:34:") and "'repeats'" in m for m in found), found
    assert any(m.startswith("spec.yaml:8:41:") and "on_pass" in m for m in found), found
    assert len(found) == 5


@pytest.mark.parametrize("resource, fragment", [
    ("!Memory [0]", "size must be a number > 0"),
    ("!Memory [-5, GB]", "size must be a number > 0"),
    ("!Memory [5, XB]", "unknown memory unit 'XB'"),
    ("!Cores [-1]", "count must be a whole number >= 0"),
    ("!Cores [2.5]", "count must be a whole number >= 0"),
    ("!License [vcs, -2]", "count must be a whole number >= 0"),
    ("!Cores [1, sparc]", "unknown architecture"),
])
def test_bad_resource_values(resource, fragment):
    message = one_error(f"!Job\n  command: x\n  resources: [{resource}]\n")
    assert message.startswith("spec.yaml:3:")
    assert fragment in message


def test_resource_requested_twice():
    message = one_error("!Job\n  command: x\n  resources: [!Cores [1], !Cores [2]]\n")
    assert "!Cores is requested more than once" in message


def test_duplicate_sibling_ids_name_both_places():
    message = one_error(
        "!JobGroup\n  id: top\n  jobs:\n    - !Job {id: a, command: x}\n    - !Job {id: a, command: y}\n")
    assert message.startswith("spec.yaml:5:")
    assert "duplicate id 'a' among siblings (first at line 4)" in message


def test_unnamed_siblings_are_checked_without_crashing():
    """The seed system crashed on unnamed siblings in the dependency check."""
    tree = loads_spec("!JobGroup\n  jobs:\n    - !Job {command: x}\n    - !Job {command: y, on_pass: [T0]}\n")
    assert tree.jobs[1].on_pass == ["T0"]


def test_unknown_dependency_suggests_a_sibling():
    message = one_error(
        "!JobGroup\n  id: top\n  jobs:\n    - !Job {id: build, command: x}\n"
        "    - !Job {id: test, command: y, on_pass: [biuld]}\n")
    assert "unknown dependency 'biuld' in on_pass; did you mean 'build'?" in message
    assert message.startswith("spec.yaml:5:45:")


def test_self_dependency():
    message = one_error("!JobGroup\n  jobs:\n    - !Job {id: a, command: x, on_done: [a]}\n")
    assert "'a' depends on itself" in message


@pytest.mark.parametrize("length", [2, 3, 7])
def test_cycles_of_any_length(length):
    jobs = "".join(
        f"    - !Job {{id: j{i}, command: x, on_pass: [j{(i + 1) % length}]}}\n" for i in range(length))
    message = one_error(f"!JobGroup\n  id: top\n  jobs:\n{jobs}")
    chain = " -> ".join(f"j{i}" for i in range(length)) + " -> j0"
    assert f"dependency cycle: {chain}" in message


def test_cycle_through_a_nested_target_is_found():
    message = one_error(
        "!JobGroup\n  jobs:\n"
        "    - !JobGroup {id: g, on_pass: [b], jobs: [!Job {id: inner, command: x}]}\n"
        "    - !Job {id: b, command: y, on_pass: [g.inner]}\n")
    assert "dependency cycle: g -> b -> g" in message


def test_ambiguous_nested_dependency():
    message = one_error(
        "!JobGroup\n  jobs:\n"
        "    - !JobGroup {id: g1, jobs: [!Job {id: x, command: a}]}\n"
        "    - !JobGroup {id: g2, jobs: [!Job {id: x, command: a}]}\n"
        "    - !Job {id: z, command: b, on_pass: [x]}\n")
    assert "ambiguous dependency 'x' matches g1.x, g2.x" in message


def test_bad_id_characters():
    message = one_error("!JobGroup\n  jobs:\n    - !Job {id: 'a.b', command: x}\n")
    assert "id 'a.b' may hold only" in message


def test_all_errors_are_reported_at_once():
    found = errors_of(
        "!JobGroup\n  id: top\n  jobs:\n"
        "    - !Job {id: a, comand: x}\n"
        "    - !Job {id: b, command: x, resources: [!Memory [0]]}\n"
        "    - !Job {id: c, command: x, on_pass: [nothere]}\n")
    assert len(found) == 4, found  # unknown field, missing command, bad size, unknown dependency


def test_both_id_and_ident_is_an_error():
    assert "gives both 'id' and 'ident'" in one_error("!Job\n  id: a\n  ident: b\n  command: x\n")


def test_top_must_be_a_node():
    assert "the top of the spec must be tagged" in one_error("command: x\n")
    assert "cannot be used in the top of the spec" in one_error("!Cores [1]\n")


def test_empty_spec():
    assert "the spec is empty" in one_error("# nothing\n")


def test_spec_tag_inside_plain_value():
    assert "tag '!Job' cannot be used in 'env'" in one_error("!Job\n  command: x\n  env: {A: !Job {}}\n")


def test_duplicate_key_is_a_warning_last_wins():
    """The seed's own examples repeat 'command'; PyYAML kept the last value, so do we."""
    warnings = []
    job = loads_spec("!Job\n  command: exit\n  command: bash\n", on_warning=warnings.append)
    assert job.command == "bash"
    assert len(warnings) == 1 and "given twice" in warnings[0].message


def test_spec_file_not_found(tmp_path):
    from gator_core import load_spec

    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "nope.yaml")
    assert "no such spec file" in str(info.value)


def test_merge_keys_are_honoured_without_a_warning_for_overrides():
    warnings = []
    job = loads_spec("!Job\n  <<: {command: echo, args: [a]}\n  args: [b]\n", on_warning=warnings.append)
    assert (job.command, job.args) == ("echo", ["b"]) and warnings == []


def test_dependencies_of_the_top_node_are_a_warning():
    warnings = []
    loads_spec("!JobGroup\n  id: top\n  on_pass: [x]\n  jobs: []\n", on_warning=warnings.append)
    assert [w.message for w in warnings] == ["top: 'on_pass' of the top node is ignored: it has no siblings"]


def test_a_lone_job_is_named_as_it_runs():
    errors = errors_of("!Job\n  id: solo\n  command: x\n  resources: [!Memory [0]]\n")
    assert errors[0].startswith("spec.yaml:4:") and "root.solo: !Memory size" in errors[0]


def test_empty_values_mean_empty():
    job = loads_spec("!Job\n  command: x\n  env:\n  args:\n  resources:\n")
    assert (job.env, job.args, job.resources) == ({}, [], [])
