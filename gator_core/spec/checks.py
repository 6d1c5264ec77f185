"""Check a spec tree before anything runs, and normalise its values.

One walk covers trees read from YAML and trees built in Python.  It reports
every problem it finds (wrong types, bad sizes and units, bad or duplicate
ids, unknown and cyclic dependencies) and, for valid values, normalises them
in place: ids, environment values and arguments become strings, units
upper-case, a lone dependency name a one-element list.
"""

from __future__ import annotations

import re
from typing import Any

from gator_core.exceptions import SpecIssue
from gator_core.states import SEVERITY_KEYS
from gator_core.textutil import did_you_mean, parse_duration

from .artefacts import ARTEFACT_NAME, check_artefact_references, resolve_need
from .deps import CONDITIONS, find_cycles, resolve_dependency
from .model import (
    MEMORY_UNITS,
    Cores,
    Feature,
    Job,
    JobArray,
    JobGroup,
    License,
    Memory,
    Node,
    Rule,
    child_id,
)
from .params import check_params

__all__ = ["validate", "root_path", "ID_PATTERN", "ARCH_ALIASES"]

ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_+\-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ARCH_ALIASES = {
    "x86": "x86_64", "x86_64": "x86_64", "amd64": "x86_64",
    "arm": "aarch64", "arm64": "aarch64", "aarch64": "aarch64",
    "riscv": "riscv64", "riscv64": "riscv64",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar_text(value: Any) -> str | None:
    """A scalar as the text a program would see, or None if it is not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


class _Validator:
    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[SpecIssue] = []

    def report(
        self,
        obj: Any,
        path: str,
        message: str,
        field: str | None = None,
        index: int | None = None,
        severity: str = "error",
    ) -> None:
        origin = getattr(obj, "origin", None)
        if origin is not None:
            file, line, column = origin.at(field, index)
        else:
            file, line, column = self.file, 0, 0
        label = f"{path}: " if path else ""
        self.issues.append(SpecIssue(file, line, column, f"{label}{message}", severity))

    # -- one node -----------------------------------------------------------------------
    def node(self, node: Any, path: str) -> None:
        if not isinstance(node, (Job, JobGroup, JobArray)):
            return  # already reported by the loader, or reported by the parent
        # Values the loader could not read were reported there; check the rest.
        empty: dict[str, Any] = {"env": {}, "args": [], "resources": [], "jobs": [],
                                 "on_pass": [], "on_fail": [], "on_done": [], "repeats": 0,
                                 "rules": [], "parsers": [], "params": {}, "matrix": {}, "exclude": [],
                                 "include": [], "needs": [], "artefacts": {}}
        for name in node.FIELDS:
            value = getattr(node, name)
            if _is_invalid(value):
                setattr(node, name, empty.get(name, ""))
            elif value is None and name in empty and name != "repeats":
                setattr(node, name, empty[name])  # `env:` with nothing after it is empty
        tag = node.TAG
        if node.id is not None:
            if _is_int(node.id):
                node.id = str(node.id)
            if not isinstance(node.id, str):
                self.report(node, path, f"'id' of !{tag} must be a string", "id")
            elif node.id and not ID_PATTERN.match(node.id):
                self.report(
                    node, path,
                    f"id '{node.id}' may hold only letters, digits, '_', '-' and '+', "
                    "and must not start with '-' or '+'",
                    "id",
                )
        self.env(node, path)
        if node.cwd is not None and not isinstance(node.cwd, str):
            self.report(node, path, f"'cwd' of !{tag} must be a string", "cwd")
        if node.timeout is not None:
            try:
                parse_duration(node.timeout)
            except ValueError as exc:
                self.report(node, path, f"'timeout' of !{tag}: {exc}", "timeout")
                node.timeout = None
        for cond in (*CONDITIONS, "needs"):
            value = getattr(node, cond)
            if isinstance(value, str):
                setattr(node, cond, [value])
            elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                what = "<job>.<artefact> names" if cond == "needs" else "sibling ids"
                self.report(node, path, f"'{cond}' must be a list of {what}", cond)
                setattr(node, cond, [])
        self.output_rules(node, path)
        if isinstance(node, Job):
            self.job(node, path)
        else:
            self.container(node, path)

    def output_rules(self, node: Node, path: str) -> None:
        if not isinstance(node.rules, list):
            self.report(node, path, "'rules' must be a list of !Rule", "rules")
            node.rules = []
        for pos, rule in enumerate(node.rules):
            if not isinstance(rule, Rule):
                self.report(node, path, f"rule {pos} is not a !Rule", "rules", pos)
                continue
            if any(_is_invalid(getattr(rule, name)) for name in rule.FIELDS):
                continue  # the loader already said what is missing
            if not isinstance(rule.pattern, str) or not rule.pattern:
                self.report(rule, path, "!Rule pattern must be a non-empty string", "pattern")
            else:
                try:
                    re.compile(rule.pattern)
                except re.error as exc:
                    self.report(rule, path, f"!Rule pattern {rule.pattern!r} is not a regular expression: {exc}",
                                "pattern")
            severity = str(rule.severity).strip().lower() if isinstance(rule.severity, str) else None
            if severity not in SEVERITY_KEYS:
                self.report(rule, path, f"unknown severity {rule.severity!r}; use one of "
                            f"{', '.join(SEVERITY_KEYS)}", "severity")
            else:
                rule.severity = severity
            stream = str(rule.stream).strip().lower() if isinstance(rule.stream, str) else None
            if stream not in ("stdout", "stderr", "both"):
                self.report(rule, path, f"unknown stream {rule.stream!r}; use stdout, stderr or both", "stream")
            else:
                rule.stream = stream
        if isinstance(node.parsers, str):
            node.parsers = [node.parsers]
        if not isinstance(node.parsers, list) or not all(isinstance(p, str) for p in node.parsers):
            self.report(node, path, "'parsers' must be a list of parser names", "parsers")
            node.parsers = []

    def env(self, node: Node, path: str) -> None:
        if not isinstance(node.env, dict):
            self.report(node, path, f"'env' of !{node.TAG} must be a mapping of names to values", "env")
            node.env = {}
            return
        clean: dict[str, str | None] = {}
        for pos, (key, value) in enumerate(node.env.items()):
            if not isinstance(key, str) or not ENV_NAME.match(key):
                self.report(node, path, f"environment variable name {key!r} is not valid", "env", pos)
                continue
            if value is None:
                clean[key] = None  # null unsets the variable
                continue
            text = _scalar_text(value)
            if text is None:
                self.report(
                    node, path, f"value of environment variable '{key}' must be a scalar", "env", pos
                )
                continue
            clean[key] = text
        node.env = clean

    def job(self, job: Job, path: str) -> None:
        if job.command is None:
            self.report(job, path, "!Job needs a 'command'")
        elif job.command == "" and job.origin is not None and "command" not in job.origin.fields:
            pass  # missing in the YAML: the loader said so
        elif not isinstance(job.command, str) or not job.command.strip():
            self.report(job, path, "'command' of !Job must be a non-empty string", "command")
        if not isinstance(job.args, list):
            self.report(job, path, "'args' of !Job must be a list", "args")
            job.args = []
        else:
            clean: list[str] = []
            for pos, arg in enumerate(job.args):
                text = _scalar_text(arg)
                if text is None:
                    self.report(job, path, f"argument {pos} must be a string or a number", "args", pos)
                else:
                    clean.append(text)
            job.args = clean
        self.resources(job, path)
        self.runner(job, path)
        self.retries(job, path)
        self.artefacts(job, path)

    def artefacts(self, job: Job, path: str) -> None:
        """artefacts: names (usable in variable names) and paths or globs, as text."""
        if not isinstance(job.artefacts, dict):
            self.report(job, path, "'artefacts' of !Job must be a mapping of names to paths", "artefacts")
            job.artefacts = {}
            return
        clean: dict[str, str] = {}
        for pos, (name, value) in enumerate(job.artefacts.items()):
            if not isinstance(name, str) or not ARTEFACT_NAME.match(name):
                self.report(job, path, f"artefact name {name!r} may hold only letters, digits and '_', "
                            "and must not start with a digit", "artefacts", pos)
                continue
            text = _scalar_text(value)
            if text is None or not text.strip():
                self.report(job, path, f"artefact '{name}' must be a path or a glob", "artefacts", pos)
                continue
            clean[name] = text
        job.artefacts = clean

    def retries(self, job: Job, path: str) -> None:
        """retries: a count; retry_on: lost, timeout, {exit: [codes]} or {message: regex}."""
        if isinstance(job.retries, bool) or not isinstance(job.retries, int) or job.retries < 0:
            self.report(job, path, "'retries' of !Job must be a whole number, 0 or more", "retries")
            job.retries = 0
        if isinstance(job.retry_on, (str, dict)):
            job.retry_on = [job.retry_on]
        if not isinstance(job.retry_on, list):
            self.report(job, path, "'retry_on' of !Job must be a list", "retry_on")
            job.retry_on = []
            return
        for index, rule in enumerate(job.retry_on):
            problem = retry_rule_problem(rule)
            if problem:
                self.report(job, path, f"retry_on entry {index}: {problem}", "retry_on", index)
        if job.retry_on and not job.retries:
            self.report(job, path, "'retry_on' without 'retries' retries nothing: give retries: N", "retry_on")

    def runner(self, job: Job, path: str) -> None:
        """shell, runner and runner_args: their types, and that they agree."""
        if not isinstance(job.shell, bool):
            self.report(job, path, "'shell' of !Job must be true or false", "shell")
            job.shell = False
        if not isinstance(job.runner_args, dict):
            self.report(job, path, "'runner_args' of !Job must be a mapping", "runner_args")
            job.runner_args = {}
        if job.runner is None:
            if job.runner_args and not job.shell:
                self.report(job, path, "'runner_args' needs a 'runner'", "runner_args")
            return
        if not isinstance(job.runner, str) or not job.runner:
            self.report(job, path, "'runner' of !Job must be a runner's name (gator runners)", "runner")
            job.runner = None
            return
        if job.shell and job.runner != "shell":
            self.report(job, path, f"'shell: true' and 'runner: {job.runner}' contradict each other", "shell")
        # Whether the runner is installed, and takes these runner_args, is checked
        # before the run starts (gator_core.runtime.runner), where plugins are known.

    def resources(self, job: Job, path: str) -> None:
        if not isinstance(job.resources, list):
            self.report(job, path, "'resources' must be a list of !Cores, !Memory, !License or !Feature",
                        "resources")
            job.resources = []
            return
        seen: dict[str, int] = {}
        for pos, res in enumerate(job.resources):
            if isinstance(res, Cores):
                self.cores(res, path)
                key = "!Cores"
            elif isinstance(res, Memory):
                self.memory(res, path)
                key = "!Memory"
            elif isinstance(res, (License, Feature)):
                self.named(res, path)
                key = f"!{res.TAG} '{res.name}'"
            else:
                if not _is_invalid(res):
                    self.report(job, path, f"resource {pos} is not !Cores, !Memory, !License or !Feature",
                                "resources", pos)
                continue
            if key in seen:
                self.report(job, path, f"{key} is requested more than once", "resources", pos)
            seen[key] = pos

    def cores(self, res: Cores, path: str) -> None:
        if not _is_int(res.count) or res.count < 0:
            if not _is_invalid(res.count):
                self.report(res, path, f"!Cores count must be a whole number >= 0, got {res.count!r}", "count")
        if res.arch is not None:
            arch = str(res.arch).strip().lower()
            if arch not in ARCH_ALIASES:
                self.report(res, path, f"unknown architecture {res.arch!r}; known: "
                            f"{', '.join(sorted(set(ARCH_ALIASES.values())))}", "arch")
            else:
                res.arch = ARCH_ALIASES[arch]

    def memory(self, res: Memory, path: str) -> None:
        if not _is_number(res.size) or res.size <= 0:
            if not _is_invalid(res.size):
                self.report(res, path, f"!Memory size must be a number > 0, got {res.size!r}", "size")
        unit = res.unit.strip().upper() if isinstance(res.unit, str) else None
        if unit not in MEMORY_UNITS:
            self.report(res, path, f"unknown memory unit {res.unit!r}; use KB, MB, GB or TB", "unit")
        else:
            res.unit = unit

    def named(self, res: License | Feature, path: str) -> None:
        if not isinstance(res.name, str) or not res.name.strip():
            if not _is_invalid(res.name):
                self.report(res, path, f"!{res.TAG} name must be a non-empty string", "name")
        if not _is_int(res.count) or res.count < 0:
            self.report(res, path, f"!{res.TAG} count must be a whole number >= 0, got {res.count!r}",
                        "count")

    # -- containers ---------------------------------------------------------------------
    def container(self, node: JobGroup | JobArray, path: str) -> None:
        tag = node.TAG
        if isinstance(node, JobArray) and (not _is_int(node.repeats) or node.repeats < 0):
            self.report(node, path, f"'repeats' must be a whole number >= 0, got {node.repeats!r}",
                        "repeats")
            node.repeats = 0
        if not isinstance(node.jobs, list):
            self.report(node, path, f"'jobs' of !{tag} must be a list", "jobs")
            node.jobs = []
            return
        jobs = node.jobs
        first_seen: dict[str, int] = {}
        for pos, child in enumerate(jobs):
            if not isinstance(child, (Job, JobGroup, JobArray)):
                continue
            if child.id is not None and _is_int(child.id):
                child.id = str(child.id)
            cid = child_id(child, pos)
            child_path = f"{path}.{cid}" if path else cid
            if isinstance(cid, str) and cid in first_seen:
                other = jobs[first_seen[cid]]
                where = f" (first at line {other.origin.line})" if other.origin else ""
                self.report(child, child_path, f"duplicate id '{cid}' among siblings{where}", "id")
            elif isinstance(cid, str):
                first_seen[cid] = pos
            self.node(child, child_path)
        self.dependencies(node, path)

    def dependencies(self, node: JobGroup | JobArray, path: str) -> None:
        jobs = node.jobs
        edges: dict[int, set[int]] = {}
        for pos, child in enumerate(jobs):
            if not isinstance(child, (Job, JobGroup, JobArray)):
                continue
            cid = child_id(child, pos)
            child_path = f"{path}.{cid}" if path else cid
            edges[pos] = set()
            for cond in CONDITIONS:
                for index, name in enumerate(getattr(child, cond)):
                    res = resolve_dependency(jobs, pos, name)
                    if res.error:
                        ids = [child_id(j, p) for p, j in enumerate(jobs) if p != pos
                               and isinstance(j, (Job, JobGroup, JobArray))]
                        hint = ""
                        if res.error.startswith("unknown dependency") and "." not in name:
                            hint = did_you_mean(name, ids)
                        self.report(child, child_path, f"{res.error} in {cond}{hint}", cond, index)
                        continue
                    if res.note:
                        self.report(child, child_path, res.note, cond, index, severity="warning")
                    assert res.target is not None
                    edges[pos].add(res.target.sibling)
            for index, name in enumerate(child.needs):
                need = resolve_need(jobs, pos, name)
                if need.error or need.target is None:
                    self.report(child, child_path, str(need.error), "needs", index)
                    continue
                if need.note:
                    self.report(child, child_path, need.note, "needs", index, severity="warning")
                edges[pos].add(need.target.sibling)
        for cycle in find_cycles(edges):
            names = [child_id(jobs[p], p) for p in cycle]
            first = jobs[cycle[0]]
            self.report(
                first,
                f"{path}.{names[0]}" if path else names[0],
                "dependency cycle: " + " -> ".join(names + [names[0]]),
                next((c for c in (*CONDITIONS, "needs") if getattr(first, c)), None),
            )


def _is_invalid(value: Any) -> bool:
    """True for the loader's placeholder of a value it already reported."""
    return type(value).__name__ == "_Invalid"


def root_path(root: Node) -> str:
    """The path of a tree's top node: its id, or ``root`` when it has none.

    A lone ``!Job`` runs under an implicit group called ``root``, so its path
    is ``root.<id>`` (``root.T0`` when unnamed).
    """
    if isinstance(root, Job):
        return f"root.{root.id or 'T0'}"
    return str(root.id) if root.id else "root"


def retry_rule_problem(rule: Any) -> str | None:
    """What is wrong with one ``retry_on`` entry, or None."""
    if rule in ("lost", "timeout"):
        return None
    if isinstance(rule, dict) and len(rule) == 1:
        (kind, value), = rule.items()
        if kind == "exit":
            codes = value if isinstance(value, list) else [value]
            if codes and all(isinstance(code, int) and not isinstance(code, bool) for code in codes):
                return None
            return "exit takes a list of exit codes: {exit: [3, 4]}"
        if kind == "message":
            if not isinstance(value, str) or not value:
                return "message takes a regular expression: {message: 'Unable to checkout'}"
            try:
                re.compile(value)
            except re.error as exc:
                return f"message {value!r} is not a regular expression: {exc}"
            return None
    return "must be lost, timeout, {exit: [CODES]} or {message: REGEX}"


def validate(root: Node, file: str = "<python>") -> list[SpecIssue]:
    """Check a whole tree; return every issue (errors and warnings) found.

    Values are normalised in place where they are valid.
    """
    checker = _Validator(file)
    if not isinstance(root, (Job, JobGroup, JobArray)):
        checker.issues.append(SpecIssue(file, 0, 0, "the top of a spec must be a !Job, !JobGroup or !JobArray"))
        return checker.issues
    checker.node(root, root_path(root))
    check_params(root, root_path(root), checker.report)  # after node(): env and args are text by then
    check_artefact_references(root, root_path(root), checker.report)
    for cond in (*CONDITIONS, "needs"):
        if getattr(root, cond):
            checker.report(root, root_path(root), f"'{cond}' of the top node is ignored: it has no siblings",
                           cond, severity="warning")
    return checker.issues
