"""Params and matrices: {{ name }} substitution, inheritance, matrix elements and their ids,
exclude and include, validation with file:line:column, the schema and round trips."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from gator_core import Job, JobArray, JobGroup, SpecError, UsageError, dump_spec, loads_spec, spec_schema, validate
from gator_core.runtime.plan import child_params, count_jobs, plan_children
from gator_core.spec import expand_children, from_dict, to_dict
from gator_core.spec.params import (
    array_elements,
    combinations,
    override_params,
    placeholders,
    substitute,
    substitute_node,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def issues_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        loads_spec(text, "spec.yaml")
    return [str(issue) for issue in info.value.issues]


# -- substitution -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("{{ seed }}", "7"),
    ("{{seed}}", "7"),
    ("{{   seed\t}}", "7"),
    ("--seed={{ seed }} --cfg={{ cfg }}", "--seed=7 --cfg=fast"),
    ("{{ node-version }}", "18"),
    ("$HOME/{{ cfg }}/${X}", "$HOME/fast/${X}"),  # $VAR is the wrapper's business, later
    ('{{ "{{" }} seed }}', "{{ seed }}"),  # the way to write a literal {{
    ("{{ '{{ seed }}' }}", "{{ seed }}"),
    ("docker ps --format '{{.Names}}'", "docker ps --format '{{.Names}}'"),  # not a name: left as is
    ("{{ unknown }}", "{{ unknown }}"),  # validation reports it before anything runs
    ("no braces", "no braces"),
])
def test_substitute(text, expected):
    assert substitute(text, {"seed": "7", "cfg": "fast", "node-version": "18"}) == expected


def test_a_value_put_in_place_is_not_read_again():
    assert substitute("{{ a }}", {"a": "{{ b }}", "b": "no"}) == "{{ b }}"


def test_placeholders_lists_names_only():
    assert placeholders('{{ a }}-{{b}}-{{ "c" }}-{{.D}}') == ["a", "b"]


def test_substitute_node_touches_only_its_own_fields_and_copies():
    inner = Job(id="i", command="{{ x }}")
    group = JobGroup(id="g", env={"A": "{{ x }}", "U": None}, cwd="w/{{ x }}", jobs=[inner])
    done = substitute_node(group, {"x": "1"})
    assert (done.env, done.cwd, done.jobs[0].command) == ({"A": "1", "U": None}, "w/1", "{{ x }}")
    assert group.env == {"A": "{{ x }}", "U": None}  # the spec itself is unchanged
    job = Job(command="{{ x }}", args=["a{{ x }}b", "c"])
    assert (substitute_node(job, {"x": "1"}).command, substitute_node(job, {"x": "1"}).args) == ("1", ["a1b", "c"])
    plain = Job(command="echo", args=["$X"])
    assert substitute_node(plain, {"x": "1"}) is plain  # nothing to put in: the same object


# -- inheritance and override ---------------------------------------------------------------------
NESTED = """
!JobGroup
  id: top
  params: {mode: fast, who: all}
  jobs:
  - !JobGroup
      id: g
      params: {mode: slow}
      env: {WHO: "{{ who }}-{{ mode }}"}
      jobs:
      - !Job {id: j, command: echo, args: ["{{ mode }}", "{{ who }}"], params: {who: me}}
  - !Job {id: k, command: echo, args: ["{{ mode }}"], cwd: "d/{{ who }}"}
"""


def walk_params(tree, templates=None):
    """path -> (params, substituted node) of every node below the top, as the tiers hand
    them down; ``templates`` (a dict) receives path -> the node as written."""
    out = {}

    def visit(spec, path, params):
        elements = array_elements(spec) if isinstance(spec, JobArray) and (spec.matrix or spec.include) else None
        for child in plan_children(spec):
            child_path = f"{path}.{child.key}"
            scope, own = child_params(params, child, elements)
            out[child_path] = (scope, own)
            if templates is not None:
                templates[child_path] = child.node
            if not isinstance(own, Job):
                visit(own, child_path, scope)

    top_params = dict(tree.params)
    visit(substitute_node(tree, top_params), tree.id, top_params)
    return out


def test_params_are_inherited_and_overridden_below():
    nodes = walk_params(loads_spec(NESTED))
    g_params, g = nodes["top.g"]
    assert g_params == {"mode": "slow", "who": "all"}
    assert g.env == {"WHO": "all-slow"}  # the group's own env sees its own params
    j_params, j = nodes["top.g.j"]
    assert j_params == {"mode": "slow", "who": "me"} and j.args == ["slow", "me"]
    k_params, k = nodes["top.k"]
    assert k_params == {"mode": "fast", "who": "all"} and (k.args, k.cwd) == (["fast"], "d/all")


def test_params_are_not_environment_variables():
    nodes = walk_params(loads_spec(NESTED))
    assert "mode" not in nodes["top.k"][1].env and "MODE" not in nodes["top.k"][1].env


# -- matrices -------------------------------------------------------------------------------------
def test_github_actions_example_of_include():
    """The example of GitHub's documentation, 'Expanding or adding matrix configurations'."""
    combos = combinations(
        {"fruit": ["apple", "pear"], "animal": ["cat", "dog"]},
        include=[{"color": "green"}, {"color": "pink", "animal": "cat"}, {"fruit": "apple", "shape": "circle"},
                 {"fruit": "banana"}, {"fruit": "banana", "animal": "cat"}])
    assert [values for values, _ in combos] == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]
    # Ids: product combinations by their matrix keys; new ones by all their keys, matrix keys first.
    assert [names for _, names in combos] == [["fruit", "animal"]] * 4 + [["fruit"], ["fruit", "animal"]]


def test_exclude_removes_partial_matches_and_include_can_add_back():
    combos = combinations({"os": ["linux", "mac"], "py": ["3.10", "3.11"]},
                          exclude=[{"os": "mac"}], include=[{"os": "mac", "py": "3.11"}])
    assert [values for values, _ in combos] == [
        {"os": "linux", "py": "3.10"}, {"os": "linux", "py": "3.11"}, {"os": "mac", "py": "3.11"}]


ARRAY = """
!JobArray
  id: arr
  repeats: {repeats}
  matrix:
    cfg: [fast, slow, huge]
    seed: [1, 2, 3, 4]
  exclude:
  - {{cfg: huge, seed: 4}}
  - {{cfg: slow, seed: 1}}
  include:
  - {{cfg: fast, extra: "-O3"}}
  - {{cfg: tiny, seed: 0.5}}
  jobs:
  - !Job {{id: build, command: make, args: ["{{{{ cfg }}}}"]}}
  - !Job {{id: sim, command: run, args: ["{{{{ cfg }}}}", "{{{{ seed }}}}"], on_pass: [build]}}
"""


def test_matrix_elements_ids_and_order():
    array = loads_spec(ARRAY.format(repeats=1))
    elements = array_elements(array)
    assert [e.name for e in elements] == [
        "cfg=fast,seed=1", "cfg=fast,seed=2", "cfg=fast,seed=3", "cfg=fast,seed=4",
        "cfg=slow,seed=2", "cfg=slow,seed=3", "cfg=slow,seed=4",
        "cfg=huge,seed=1", "cfg=huge,seed=2", "cfg=huge,seed=3",
        "cfg=tiny,seed=0_5",  # '.' is a path separator: it becomes '_'
    ]
    assert [e.index for e in elements] == list(range(11))
    assert elements[0].values == {"cfg": "fast", "seed": "1", "extra": "-O3"}  # extended, not renamed
    assert elements[4].values == {"cfg": "slow", "seed": "2"}
    assert elements[-1].values == {"cfg": "tiny", "seed": "0.5"}  # the value itself is kept
    keys = [key for key, *_ in expand_children(array)]
    assert keys[:4] == ["build_cfg=fast,seed=1", "sim_cfg=fast,seed=1", "build_cfg=fast,seed=2",
                        "sim_cfg=fast,seed=2"]
    assert len(keys) == 22 and count_jobs(array) == 22


def test_matrix_with_repeats_runs_every_combination_round_by_round():
    array = loads_spec(ARRAY.format(repeats=2))
    elements = array_elements(array)
    assert len(elements) == 22 and count_jobs(array) == 44
    assert [e.name for e in elements[:2]] == ["cfg=fast,seed=1,repeat=0", "cfg=fast,seed=2,repeat=0"]
    assert [(e.index, e.name) for e in elements[11:13]] == [(11, "cfg=fast,seed=1,repeat=1"),
                                                             (12, "cfg=fast,seed=2,repeat=1")]
    assert loads_spec(ARRAY.format(repeats=0)) and array_elements(loads_spec(ARRAY.format(repeats=0))) == []


def test_elements_get_their_values_as_params_over_the_templates_own():
    tree = loads_spec("""
!JobGroup
  id: top
  params: {cfg: none, level: 1}
  jobs:
  - !JobArray
      id: arr
      matrix: {cfg: [a, b]}
      jobs:
      - !Job {id: j, command: echo, args: ["{{ cfg }}", "{{ level }}"], params: {cfg: default, level: 2}}
""")
    nodes = walk_params(tree)
    assert nodes["top.arr.j_cfg=a"][1].args == ["a", "2"]
    assert nodes["top.arr.j_cfg=b"][1].args == ["b", "2"]


def test_dependencies_inside_a_matrix_hold_within_one_element():
    children = plan_children(loads_spec(ARRAY.format(repeats=1)))
    by_key = {child.key: child for child in children}
    sim = by_key["sim_cfg=slow,seed=3"]
    assert by_key["build_cfg=slow,seed=3"].index == sim.index
    assert sim.deps[0][1].sibling == 0


def test_an_array_without_a_matrix_is_named_as_before():
    tree = loads_spec((EXAMPLES / "seed" / "readme_tree_id.yaml").read_text())
    counting = tree.jobs[1]
    assert [key for key, *_ in expand_children(counting)] == [f"echo_count_{i}" for i in range(4)]


# -- validation -----------------------------------------------------------------------------------
def test_a_typo_in_a_param_name_is_located_with_a_suggestion():
    found = issues_of("""!JobGroup
  id: top
  params: {name: x}
  jobs:
  - !Job
      id: a
      command: echo
      args: [hello, "{{ nmae }}"]
      env: {X: "{{ naem }}"}
      cwd: "{{ nam }}"
  - !Job {id: b, command: "{{ nme }}"}
""")
    assert found == [
        "spec.yaml:8:21: error: top.a: unknown param 'nmae' in args; did you mean 'name'?",
        "spec.yaml:9:16: error: top.a: unknown param 'naem' in env; did you mean 'name'?",
        "spec.yaml:10:12: error: top.a: unknown param 'nam' in cwd; did you mean 'name'?",
        "spec.yaml:11:27: error: top.b: unknown param 'nme' in command; did you mean 'name'?",
    ]


def test_a_param_of_a_sibling_or_a_child_is_not_in_scope():
    found = issues_of("""!JobGroup
  id: top
  env: {A: "{{ inner }}"}
  jobs:
  - !JobGroup {id: g, params: {inner: 1}, jobs: [!Job {command: "{{ inner }}"}]}
  - !Job {id: k, command: "{{ inner }}"}
""")
    assert [issue.split(": error: ")[1] for issue in found] == [
        "top: unknown param 'inner' in env", "top.k: unknown param 'inner' in command"]


def test_a_name_only_some_elements_give_is_an_error():
    found = issues_of("""!JobArray
  id: arr
  matrix: {cfg: [a, b]}
  include: [{cfg: a, opt: x}]
  jobs:
  - !Job {id: j, command: echo, args: ["{{ opt }}"]}
""")
    assert found == ["spec.yaml:6:40: error: arr.j: param 'opt' in args is not set in every element of arr "
                     "(not in 'cfg=b')"]


@pytest.mark.parametrize("sizes", ["repeats: 0\n  matrix: {cfg: [a]}", "matrix: {cfg: []}"])
def test_an_array_without_elements_still_knows_its_names(sizes):
    loads_spec(f"!JobArray\n  {sizes}\n  jobs: [!Job {{command: x, args: ['{{{{ cfg }}}}']}}]\n")
    found = issues_of(f"!JobArray\n  {sizes}\n  jobs: [!Job {{command: x, args: ['{{{{ cgf }}}}']}}]\n")
    assert found[0].endswith("error: root.T0: unknown param 'cgf' in args; did you mean 'cfg'?"), found


def test_a_default_in_the_template_makes_a_partial_name_safe():
    loads_spec("""!JobArray
  id: arr
  matrix: {cfg: [a, b]}
  include: [{cfg: a, opt: x}]
  jobs:
  - !Job {id: j, command: echo, args: ["{{ opt }}"], params: {opt: none}}
""")


@pytest.mark.parametrize("fields, fragment, where", [
    ("params: [a, b]", "'params' of !JobArray must be a mapping", "3:11"),
    ("params: {1x: a}", "param name '1x' in 'params' is not valid", "3:16"),
    ("params: {a: [1]}", "value of param 'a' in 'params' must be a string", "3:15"),
    ("matrix: [a, b]", "'matrix' must be a mapping", "3:11"),
    ("matrix: {cfg: a}", "'matrix' entry 'cfg' must be a list", "3:17"),
    ("matrix: {cfg: [a, {b: c}]}", "values of 'matrix' entry 'cfg' must be strings", "3:17"),
    ("matrix: {cfg: [a]}\n  exclude: [{cgf: a}]", "exclude entry 0 names 'cgf', which is not in the matrix; "
     "did you mean 'cfg'?", "4:13"),
    ("exclude: [{cfg: a}]", "'exclude' needs a 'matrix'", "3:12"),
    ("matrix: {cfg: [a]}\n  include: [{}]", "entry 0 of 'include' is empty", "4:13"),
    ("matrix: {cfg: [a]}\n  include: x", "'include' must be a list", "4:12"),
    ("matrix: {cfg: [1.5, '1_5']}", "two elements get the id 'cfg=1_5'", "3:11"),
    ("matrix: {cfg: [a, a]}", "two elements get the id 'cfg=a'", "3:11"),
    (f"matrix: {{cfg: [{'x' * 300}]}}", "is too long for a directory name", "3:11"),
])
def test_bad_params_and_matrices(fields, fragment, where):
    found = issues_of(f"!JobArray\n  id: arr\n  {fields}\n  jobs: [!Job {{id: j, command: x}}]\n")
    errors = [issue for issue in found if ": error: " in issue]
    assert len(errors) == 1, found
    assert errors[0].startswith(f"spec.yaml:{where}: error: arr: "), errors
    assert fragment in errors[0], errors


def test_an_exclude_that_matches_nothing_is_a_warning():
    warnings = []
    loads_spec("!JobArray\n  matrix: {cfg: [a, b]}\n  exclude: [{cfg: c}]\n  jobs: [!Job {command: x}]\n",
               "spec.yaml", on_warning=warnings.append)
    assert [str(w) for w in warnings] == [
        "spec.yaml:3:13: warning: root: exclude entry 0 matches no combination of the matrix"]


def test_params_on_a_group_or_job_but_matrix_only_on_an_array():
    found = issues_of("!JobGroup\n  matrix: {a: [1]}\n  jobs: []\n")
    assert "unknown field 'matrix' in !JobGroup" in found[0]


def test_values_are_normalised_to_text():
    array = loads_spec("!JobArray\n  params: {n: 3, b: true}\n  matrix: {x: [1, 2.5, false]}\n"
                       "  include: [{x: 7}]\n  jobs: [!Job {command: x}]\n")
    assert array.params == {"n": "3", "b": "true"}
    assert array.matrix == {"x": ["1", "2.5", "false"]} and array.include == [{"x": "7"}]


# -- --param --------------------------------------------------------------------------------------
def test_override_params_replaces_top_level_values_only():
    tree = loads_spec(NESTED)
    changed = override_params(tree, {"mode": "turbo", "who": 3})
    assert changed.params == {"mode": "turbo", "who": "3"} and tree.params == {"mode": "fast", "who": "all"}
    assert override_params(tree, {}) is tree


def test_override_of_an_undefined_param_is_a_usage_error_with_a_suggestion():
    with pytest.raises(UsageError) as info:
        override_params(loads_spec(NESTED), {"mdoe": "x"})
    assert str(info.value) == ("--param mdoe: the spec's top node has no param 'mdoe'; did you mean 'mode'? "
                               "(its params: mode, who)")


# -- schema and round trips -------------------------------------------------------------------
def test_schema_describes_params_and_matrices():
    defs = spec_schema()["$defs"]
    for tag in ("Job", "JobGroup", "JobArray"):
        assert "params" in defs[tag]["anyOf"][0]["properties"]
    props = defs["JobArray"]["anyOf"][0]["properties"]
    assert {"matrix", "exclude", "include"} <= set(props)
    assert "matrix" not in defs["JobGroup"]["anyOf"][0]["properties"]


def test_schema_accepts_a_matrix_and_rejects_a_bad_one():
    jsonschema = pytest.importorskip("jsonschema")
    schema = spec_schema()
    good = {"id": "arr", "params": {"mode": "x", "n": 3}, "matrix": {"cfg": ["a", 1, True]},
            "exclude": [{"cfg": "a"}], "include": [{"cfg": "z", "extra": 2}],
            "jobs": [{"command": "echo", "args": ["{{ cfg }}"]}]}
    jsonschema.validate(good, schema)
    for bad in ({**good, "matrix": {"cfg": "a"}}, {**good, "params": {"1x": "a"}}, {**good, "include": [{}]},
                {**good, "params": {"a": [1]}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, {**schema, "$ref": "#/$defs/JobArray"})


def test_python_api_round_trips_params_and_matrices():
    built = JobGroup(id="top", params={"mode": "fast", "tag": "v1"}, jobs=[
        JobArray(id="arr", matrix={"cfg": ["a", "b"], "seed": [1, 2]}, exclude=[{"cfg": "b", "seed": 2}],
                 include=[{"cfg": "c", "tag": "x"}], params={"n": 1},
                 jobs=[Job(id="j", command="echo", args=["{{ cfg }}", "{{ tag }}"], params={"p": True},
                           env={"tag": "{{ mode }}"})]),
    ])
    assert validate(built) == []
    assert built.jobs[0].matrix == {"cfg": ["a", "b"], "seed": ["1", "2"]}
    assert loads_spec(dump_spec(built)) == built
    assert from_dict(json.loads(json.dumps(to_dict(built)))) == built  # a param called 'tag' is no tag
    assert dump_spec(loads_spec(dump_spec(built))) == dump_spec(built)


def test_positional_form_takes_the_new_fields_after_the_old_ones():
    """The seed's positional order is unchanged: params (and the matrix), then the
    artefact fields, come after it."""
    job = loads_spec("!Job [a, {}, null, echo, [x]]")
    assert (job.id, job.command, job.args, job.params) == ("a", "echo", ["x"], {})
    fields = Job.FIELDS
    assert fields[-3:] == ("params", "artefacts", "needs") and fields[:9] == (
        "id", "env", "cwd", "command", "args", "resources", "on_done", "on_fail", "on_pass")
    assert JobArray.FIELDS[-5:] == ("params", "matrix", "exclude", "include", "needs")
    for cls in (Job, JobGroup, JobArray):  # Job("a", {}, None, "echo") fills fields in that order too
        assert tuple(f.name for f in dataclasses.fields(cls) if f.name != "origin") == cls.FIELDS


@pytest.mark.parametrize("name", ["readme_tree_id.yaml", "readme_tree_ident.yaml", "job_id.yaml",
                                  "job_ident.yaml", "job_tree.yaml"])
def test_seed_examples_are_untouched_by_substitution(name):
    tree = loads_spec((EXAMPLES / "seed" / name).read_text(), name)
    written: dict = {}
    nodes = walk_params(tree if not isinstance(tree, Job) else JobGroup(id="root", jobs=[tree]), written)
    assert nodes and all(own is written[path] for path, (_, own) in nodes.items())
    assert all(scope == {} for scope, _ in nodes.values())


def test_element_count_agrees_with_the_elements_for_every_kind_of_matrix():
    from gator_core.spec.params import array_elements, element_count

    shapes = [
        "matrix: {a: [x, y, z], b: ['1', '2']}",
        "matrix: {a: [x, y, z], b: ['1', '2']}\nrepeats: 3",
        "matrix: {a: [x, y, z], b: ['1', '2']}\nexclude: [{a: x, b: '1'}, {a: y}]",
        "matrix: {a: [x, y]}\ninclude: [{a: x, extra: e}, {a: w}]\nrepeats: 2",
        "include: [{a: x}, {a: y, b: z}]",
        "repeats: 4",
    ]
    for shape in shapes:
        body = "\n".join("  " + line for line in shape.splitlines())
        array = loads_spec(f"!JobArray\n  id: arr\n{body}\n  jobs:\n  - !Job {{id: t, command: 'true'}}\n")
        assert element_count(array) == len(array_elements(array)), shape
