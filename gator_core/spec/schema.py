"""A JSON Schema of the spec language, for editors (``gator schema``).

JSON has no tags, so each ``!Tag`` becomes a definition that accepts its
mapping form (an object) or its positional form (an array).  With
yaml-language-server, declare the tags as custom tags (see docs/spec.md) and
point ``yaml.schemas`` at the output of ``gator schema``.
"""

from __future__ import annotations

from typing import Any

from .checks import ID_PATTERN
from .model import Cores, Feature, Job, JobArray, JobGroup, License, Memory, Rule
from .params import PARAM_NAME

__all__ = ["spec_schema", "FIELD_DOCS"]

FIELD_DOCS: dict[str, str] = {
    "id": "Identifier, unique among siblings; 'ident' is accepted as the older spelling. "
          "Unnamed children are called T<position>.",
    "env": "Environment variables overlaid on the inherited environment (null unsets one).",
    "cwd": "Working directory; relative paths resolve against the enclosing one. "
           "Defaults to the directory 'gator run' was started in.",
    "command": "Program to run; $VAR and ${VAR} are expanded against the job's environment, "
               "without a shell.",
    "args": "Arguments; $VAR and ${VAR} are expanded as in 'command'.",
    "resources": "!Cores, !Memory, !License and !Feature requests.",
    "jobs": "Children: !Job, !JobGroup and !JobArray.",
    "repeats": "How many times the array's jobs are repeated (GATOR_ARRAY_INDEX counts from 0).",
    "on_pass": "Siblings that must all pass before this starts.",
    "on_fail": "Siblings that must all fail before this starts.",
    "on_done": "Siblings that must all finish, whatever their result, before this starts.",
    "count": "How many.",
    "arch": "CPU architecture: x86_64, aarch64 or riscv64 (aliases accepted).",
    "size": "Amount of memory, greater than zero.",
    "unit": "KB, MB (default), GB or TB; binary multiples.",
    "name": "Name of the licence or feature.",
    "rules": "!Rule entries: output lines matching a pattern get a severity (inherited by everything below).",
    "parsers": "Names of log parser plugins to apply to output lines (inherited by everything below).",
    "pattern": "Regular expression searched in each output line.",
    "severity": "debug, info, warning, error or critical.",
    "stream": "stdout, stderr or both (default).",
    "params": "Params: names and values put in place of {{ name }} in command, args, cwd and env, here "
              "and in everything below (a node below may give a name again). Not environment variables.",
    "matrix": "Names and lists of values: the array runs one element per combination (the cartesian "
              "product), named by its values (cfg=fast,seed=3), each element's values its params.",
    "exclude": "Combinations to leave out of the matrix: each entry removes every combination that "
               "has all of its values.",
    "include": "Combinations to add: an entry is laid over every combination whose matrix values it "
               "does not change, or else added as a combination of its own.",
    "retries": "Attempts after the first when a failure is worth one (see retry_on).",
    "retry_on": "What is worth a retry: lost, timeout, {exit: [CODES]}, {message: REGEX}; default [lost].",
    "shell": "Run the command as one /bin/sh -c string (the shell runner); args become $1, $2 ...",
    "runner": "The runner that starts the command (gator runners): exec (default), shell, python "
              "(command: module:function) or a plugin's.",
    "runner_args": "Options of the runner (each runner says which it takes).",
    "artefacts": "What the job produces: names and paths (or globs) relative to its cwd. Each must "
                 "exist when the job ends, or it fails; their sizes and hashes are kept.",
    "needs": "Artefacts of siblings this uses, as <sibling>.<artefact> (build.binary): it waits for "
             "that job to pass, and everything below gets the paths as {{ artefacts.build.binary }} "
             "and $GATOR_ARTEFACT_BUILD_BINARY.",
    "timeout": "Time limit: seconds, or a number with s, m, h or d (90m).  A job past it is stopped "
               "(SIGTERM, then SIGKILL after the grace period) with the result 'timeout'; on a group "
               "or array it bounds the whole subtree.",
}

def _any_case(*words: str) -> str:
    """A regular expression matching any of ``words`` in any case (JSON Schema has no flags)."""
    spelled = ["".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word) for word in words]
    return "^\\s*(" + "|".join(spelled) + ")\\s*$"


_ID = {"type": ["string", "integer", "null"], "pattern": ID_PATTERN.pattern}
_DEPS = {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}
_SCALAR = {"type": ["string", "number", "boolean"]}
_PARAMS = {"type": ["object", "null"], "propertyNames": {"pattern": PARAM_NAME.pattern},
           "additionalProperties": _SCALAR}
_TYPES: dict[str, dict[str, Any]] = {
    "id": _ID,
    "env": {"type": ["object", "null"], "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
    "cwd": {"type": ["string", "null"]},
    "command": {"type": "string", "minLength": 1},
    "args": {"type": ["array", "null"], "items": _SCALAR},
    "resources": {"type": ["array", "null"], "items": {"$ref": "#/$defs/Resource"}},
    "jobs": {"type": ["array", "null"], "items": {"$ref": "#/$defs/Node"}},
    "repeats": {"type": "integer", "minimum": 0},
    "on_pass": _DEPS,
    "on_fail": _DEPS,
    "on_done": _DEPS,
    "rules": {"type": ["array", "null"], "items": {"$ref": "#/$defs/Rule"}},
    "parsers": {"oneOf": [{"type": ["array", "null"], "items": {"type": "string"}}, {"type": "string"}]},
    "params": _PARAMS,
    "matrix": {"type": ["object", "null"], "propertyNames": {"pattern": PARAM_NAME.pattern},
               "additionalProperties": {"type": "array", "items": _SCALAR}},
    "exclude": {"type": ["array", "null"], "items": {**_PARAMS, "type": "object", "minProperties": 1}},
    "include": {"type": ["array", "null"], "items": {**_PARAMS, "type": "object", "minProperties": 1}},
    "retries": {"type": "integer", "minimum": 0},
    "retry_on": {"type": ["array", "null"], "items": {"oneOf": [
        {"enum": ["lost", "timeout"]},
        {"type": "object", "properties": {"exit": {"type": "array", "items": {"type": "integer"}}},
         "required": ["exit"], "additionalProperties": False},
        {"type": "object", "properties": {"message": {"type": "string", "minLength": 1}},
         "required": ["message"], "additionalProperties": False}]}},
    "artefacts": {"type": ["object", "null"], "propertyNames": {"pattern": PARAM_NAME.pattern},
                  "additionalProperties": {"type": "string", "minLength": 1}},
    "needs": _DEPS,
    "shell": {"type": "boolean"},
    "runner": {"type": ["string", "null"], "minLength": 1},
    "runner_args": {"type": ["object", "null"]},
    "timeout": {"oneOf": [{"type": "number", "exclusiveMinimum": 0},
                          {"type": "string", "pattern": "^\\s*\\d+(\\.\\d+)?\\s*[sSmMhHdD]?\\s*$"},
                          {"type": "null"}]},
}
_RESOURCE_TYPES: dict[str, dict[str, dict[str, Any]]] = {
    "Cores": {"count": {"type": "integer", "minimum": 0}, "arch": {"type": "string"}},
    "Memory": {"size": {"type": "number", "exclusiveMinimum": 0},
               "unit": {"type": "string", "pattern": "^\\s*[KkMmGgTt][Bb]\\s*$"}},
    "License": {"name": {"type": "string", "minLength": 1}, "count": {"type": "integer", "minimum": 0}},
    "Feature": {"name": {"type": "string", "minLength": 1}, "count": {"type": "integer", "minimum": 0}},
    "Rule": {"pattern": {"type": "string", "minLength": 1},
             "severity": {"type": "string", "pattern": _any_case("debug", "info", "warning", "error", "critical")},
             "stream": {"type": "string", "pattern": _any_case("stdout", "stderr", "both")}},
}


def _definition(cls: Any, types: dict[str, dict[str, Any]], doc: str) -> dict[str, Any]:
    props = {name: {**types[name], "description": FIELD_DOCS.get(name, "")} for name in cls.FIELDS}
    if "id" in props:
        props["ident"] = {**props["id"], "description": "Older spelling of 'id'."}
    obj = {
        "type": "object",
        "description": f"!{cls.TAG} (mapping form): {doc}",
        "properties": props,
        "required": list(cls.REQUIRED),
        "additionalProperties": False,
    }
    seq = {
        "type": "array",
        "description": f"!{cls.TAG} (positional form): values in the order {', '.join(cls.FIELDS)}.",
        "prefixItems": [props[name] for name in cls.FIELDS],
        "minItems": len(cls.REQUIRED),
        "maxItems": len(cls.FIELDS),
    }
    return {"anyOf": [obj, seq]}


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec file."""
    defs: dict[str, Any] = {}
    for cls in (Job, JobGroup, JobArray):
        defs[cls.TAG] = _definition(cls, _TYPES, (cls.__doc__ or "").strip())
    for cls in (Cores, Memory, License, Feature, Rule):
        defs[cls.TAG] = _definition(cls, _RESOURCE_TYPES[cls.TAG], (cls.__doc__ or "").strip())
    defs["Node"] = {"anyOf": [{"$ref": f"#/$defs/{t}"} for t in ("Job", "JobGroup", "JobArray")]}
    defs["Resource"] = {"anyOf": [{"$ref": f"#/$defs/{t}"} for t in ("Cores", "Memory", "License", "Feature")]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Gator job specification",
        "description": "A tree of !Job, !JobGroup and !JobArray nodes. YAML tags are not "
                       "visible to JSON Schema: declare them as custom tags in your editor.",
        "$ref": "#/$defs/Node",
        "$defs": defs,
    }
