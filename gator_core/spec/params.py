"""Parameters and matrices: ``{{ name }}`` substitution and the elements of a matrix array.

``params`` on any node is a mapping of names to values.  A node's params
apply to its own ``command``, ``args``, ``cwd``, ``env`` and ``artefacts`` and to
everything below it; a node below may give a name again, and then its value
wins there.  A ``!JobArray`` with a ``matrix`` (or an ``include``) runs one
element per combination of values, and every element's values are params of
its templates (they win over the templates' own ``params``).

Substitution is one pass over the text: ``{{ name }}`` (spaces inside the
braces optional) becomes the value, and ``{{ "text" }}`` or ``{{ 'text' }}``
becomes ``text``, which is how a literal ``{{`` is written.  Anything else,
``{{.Names}}`` for instance, is left as written.  A value put in place is
not read again.

The tier substitutes each child's own fields when it hands the child its
spec, and passes the params on in the child's settings; nothing here does
I/O, and the validator (:func:`check_params`) uses the same functions, so a
spec that passed validation leaves no placeholder unresolved.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gator_core.exceptions import UsageError
from gator_core.textutil import did_you_mean

from .model import Job, JobArray, JobGroup, Node, child_id

__all__ = [
    "PARAM_NAME",
    "Element",
    "placeholders",
    "substitute",
    "substituted_texts",
    "uses_params",
    "substitute_node",
    "child_scope",
    "has_matrix",
    "combinations",
    "array_elements",
    "element_count",
    "matrix_elements",
    "safe_value",
    "override_params",
    "check_params",
]

PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_PLACEHOLDER = re.compile(
    r"\{\{\s*(?:([A-Za-z_][A-Za-z0-9_\-]*)|\"([^\"]*)\"|'([^']*)')\s*\}\}")
# What an element id keeps of a value; everything else becomes '_' (ids are path parts).
_UNSAFE = re.compile(r"[^A-Za-z0-9_+\-]")
MAX_KEY = 255  # a child's key is the name of its tracking directory
SUBSTITUTED = ("command", "args", "cwd", "env", "artefacts")  # the fields {{ }} applies to


def _text(value: Any) -> str | None:
    """A scalar as text (as ``env`` values are); None when it is not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


# -- substitution ---------------------------------------------------------------------------
def placeholders(text: str) -> list[str]:
    """The param names ``text`` refers to, in order (quoted literals are not names)."""
    if "{{" not in text:
        return []
    return [match.group(1) for match in _PLACEHOLDER.finditer(text) if match.group(1)]


def substitute(text: str, scope: Mapping[str, str]) -> str:
    """``text`` with every ``{{ name }}`` of ``scope`` replaced, and ``{{ "x" }}`` by ``x``.
    A name that ``scope`` lacks is left as written (validation reports it first)."""
    if "{{" not in text:
        return text

    def replace_one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(2) if match.group(2) is not None else match.group(3)
        value = scope.get(name)
        return match.group(0) if value is None else value

    return _PLACEHOLDER.sub(replace_one, text)


def substituted_texts(node: Node) -> list[tuple[str, int | None, str]]:
    """The texts of a node's own fields that ``{{ }}`` applies to (SUBSTITUTED), as
    (field, index in the field or None, text); values that are not text are left out."""
    fields: list[tuple[str, int | None, Any]] = [("cwd", None, node.cwd)]
    if isinstance(node, Job):
        fields.append(("command", None, node.command))
        fields.extend(("args", pos, arg) for pos, arg in enumerate(node.args))
        if isinstance(node.artefacts, dict):
            fields.extend(("artefacts", pos, value) for pos, value in enumerate(node.artefacts.values()))
    if isinstance(node.env, dict):
        fields.extend(("env", pos, value) for pos, value in enumerate(node.env.values()))
    return [(field, index, text) for field, index, text in fields if isinstance(text, str)]


def uses_params(node: Node) -> bool:
    """Whether the node's own command, args, cwd or env hold ``{{``."""
    return any("{{" in text for _field, _index, text in substituted_texts(node))


def substitute_node(node: Node, scope: Mapping[str, str]) -> Node:
    """The node with its own command, args, cwd and env substituted (the same object when
    none of them holds ``{{``).  Its children are shared, not copied: each is substituted
    by the tier that runs it, with the params it sees there."""
    if not uses_params(node):
        return node
    changes: dict[str, Any] = {
        "env": {name: substitute(value, scope) if isinstance(value, str) else value
                for name, value in node.env.items()},
    }
    if isinstance(node.cwd, str):
        changes["cwd"] = substitute(node.cwd, scope)
    if isinstance(node, Job):
        if isinstance(node.command, str):
            changes["command"] = substitute(node.command, scope)
        changes["args"] = [substitute(arg, scope) if isinstance(arg, str) else arg for arg in node.args]
        changes["artefacts"] = {name: substitute(value, scope) if isinstance(value, str) else value
                                for name, value in node.artefacts.items()}
    return replace(node, **changes)


def child_scope(parent: Mapping[str, str], node: Node, values: Mapping[str, str] | None = None
                ) -> dict[str, str]:
    """The params a node sees: its parent's, then its own ``params``, then (for an element
    of a matrix array) the element's values, which win over the template's own."""
    if not node.params and not values:
        return parent if isinstance(parent, dict) else dict(parent)
    scope = dict(parent)
    scope.update(node.params)
    if values:
        scope.update(values)
    return scope


# -- matrices ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Element:
    """One element of an array: its index (``GATOR_ARRAY_INDEX``), its name (the part
    of its children's keys after ``<template>_``) and its values (params of its templates)."""

    index: int
    name: str
    values: dict[str, str]


def has_matrix(array: JobArray) -> bool:
    """Whether an array's elements come from ``matrix`` / ``include`` rather than an index."""
    return bool(array.matrix) or bool(array.include)


def safe_value(text: str) -> str:
    """A value as it appears in an element id: characters other than letters, digits,
    ``_``, ``+`` and ``-`` become ``_`` (``1.5`` -> ``1_5``, ``a/b c`` -> ``a_b_c``)."""
    return _UNSAFE.sub("_", text)


def _matches(combo: Mapping[str, str], entry: Mapping[str, str]) -> bool:
    return all(combo.get(key) == value for key, value in entry.items())


def combinations(matrix: Mapping[str, Sequence[str]], exclude: Sequence[Mapping[str, str]] = (),
                 include: Sequence[Mapping[str, str]] = ()) -> list[tuple[dict[str, str], list[str]]]:
    """The combinations of a matrix, as ``(values, names in the id)``, the way GitHub
    Actions reads ``matrix``, ``exclude`` and ``include``:

    * the cartesian product of the lists, the first key varying slowest;
    * minus every combination that an ``exclude`` entry matches on all of its keys;
    * each ``include`` entry is then laid over every remaining product combination whose
      matrix values it does not change (values added by an earlier entry may change);
      an entry laid over none is a new combination, after the product ones.

    A product combination's id names the matrix keys only, so extending it with an
    ``include`` does not rename it; a new combination's id names all its keys, matrix
    keys first.
    """
    keys = list(matrix)
    product = [dict(zip(keys, values, strict=True))
               for values in itertools.product(*(matrix[key] for key in keys))] if keys else []
    kept = [combo for combo in product if not any(_matches(combo, entry) for entry in exclude)]
    out: list[tuple[dict[str, str], list[str]]] = [(combo, keys) for combo in kept]
    added: list[tuple[dict[str, str], list[str]]] = []
    for entry in include:
        original = {key: value for key, value in entry.items() if key in matrix}
        laid = False
        for combo, _names in out:
            if _matches(combo, original):
                combo.update(entry)
                laid = True
        if not laid:
            names = [key for key in keys if key in entry] + [key for key in entry if key not in matrix]
            added.append((dict(entry), names))
    return out + added


def _element_name(values: Mapping[str, str], names: Sequence[str]) -> str:
    return ",".join(f"{name}={safe_value(values[name])}" for name in names)


def array_elements(array: JobArray) -> list[Element]:
    """Every element of an array, in launch order.

    Without a matrix: ``repeats`` elements named by their index, as always.  With one:
    each combination (see :func:`combinations`) named by its values, ``cfg=fast,seed=3``;
    with ``repeats`` above 1, every combination is run that many times, round by round
    (all combinations once, then all again), and the name ends in ``,repeat=<n>``.  The
    index counts elements in that order from 0.
    """
    repeats = array.repeats if isinstance(array.repeats, int) and array.repeats > 0 else 0
    if not has_matrix(array):
        return [Element(index, str(index), {}) for index in range(repeats)]
    combos = combinations(array.matrix, array.exclude, array.include)
    out = []
    for round_ in range(repeats):
        for values, names in combos:
            name = _element_name(values, names)
            if repeats > 1:
                name = f"{name},repeat={round_}" if name else f"repeat={round_}"
            out.append(Element(len(out), name, values))
    return out


def matrix_elements(node: Node) -> list[Element] | None:
    """A matrix array's elements, for callers that use them twice (to name its children
    and to give them their params), so that they are built once; None for any other
    node, whose children are named by index."""
    return array_elements(node) if isinstance(node, JobArray) and has_matrix(node) else None


def element_count(array: JobArray) -> int:
    """How many elements an array runs (each runs every template once), without building
    them: naming 10^5 elements costs a quarter of a second."""
    if not has_matrix(array):
        return array.repeats
    repeats = array.repeats if isinstance(array.repeats, int) and array.repeats > 0 else 0
    if array.matrix and not array.exclude and not array.include:  # the plain product
        return repeats * math.prod(len(values) for values in array.matrix.values())
    return repeats * len(combinations(array.matrix, array.exclude, array.include))


# -- overrides from the command line ----------------------------------------------------------------
def override_params(root: Node, overrides: Mapping[str, Any]) -> Node:
    """The top node with some of its ``params`` replaced (``gator run --param``).  A name
    the top node does not define is a :class:`UsageError`, with a suggestion."""
    if not overrides:
        return root
    known = dict(root.params) if isinstance(root.params, dict) else {}
    params = dict(known)
    for name, value in overrides.items():
        if name not in known:
            defined = ", ".join(known) if known else "none"
            raise UsageError(f"--param {name}: the spec's top node has no param '{name}'"
                             f"{did_you_mean(name, list(known))} (its params: {defined})")
        text = _text(value)
        if text is None:
            raise UsageError(f"--param {name}: the value must be a string, number or boolean")
        params[name] = text
    return replace(root, params=params)


# -- validation -----------------------------------------------------------------------------
# report(object with an origin, node path, message, field, index, severity)
Report = Callable[..., None]


def _is_invalid(value: Any) -> bool:
    return type(value).__name__ == "_Invalid"


class _Checker:
    """Checks params, matrices and every ``{{ name }}`` of a tree, normalising values to
    text in place.  A scope maps each name a node sees to None (set everywhere) or, for a
    name only some elements of a matrix give, to the description of where it is missing."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def mapping(self, node: Node, path: str, field: str, value: Any, what: str
                ) -> dict[str, str]:
        """A mapping of param names to scalars, as text; problems reported."""
        if value is None or _is_invalid(value):
            return {}
        if not isinstance(value, dict):
            self.report(node, path, f"'{field}' of !{node.TAG} must be a mapping of {what}", field)
            return {}
        clean: dict[str, str] = {}
        for pos, (name, item) in enumerate(value.items()):
            if not isinstance(name, str) or not PARAM_NAME.match(name):
                self.report(node, path, f"param name {name!r} in '{field}' is not valid: use letters, "
                            "digits, '_' and '-', starting with a letter or '_'", field, pos)
                continue
            text = _text(item)
            if text is None:
                self.report(node, path, f"value of param '{name}' in '{field}' must be a string, number "
                            "or boolean", field, pos)
                continue
            clean[name] = text
        return clean

    def entries(self, node: JobArray, path: str, field: str) -> list[dict[str, str]]:
        value = getattr(node, field)
        if value is None or _is_invalid(value):
            return []
        if not isinstance(value, list):
            self.report(node, path, f"'{field}' must be a list of mappings of param names to values", field)
            return []
        out = []
        for pos, entry in enumerate(value):
            if not isinstance(entry, dict):
                self.report(node, path, f"entry {pos} of '{field}' must be a mapping of param names to "
                            "values", field, pos)
                continue
            clean = self.mapping(node, path, field, entry, "param names to values")
            if not entry:
                self.report(node, path, f"entry {pos} of '{field}' is empty", field, pos)
            out.append(clean)
        return out

    def matrix(self, node: JobArray, path: str) -> None:
        value = node.matrix
        clean: dict[str, list[str]] = {}
        if value is not None and not _is_invalid(value):
            if not isinstance(value, dict):
                self.report(node, path, "'matrix' must be a mapping of param names to lists of values",
                            "matrix")
            else:
                for pos, (name, items) in enumerate(value.items()):
                    if not isinstance(name, str) or not PARAM_NAME.match(name):
                        self.report(node, path, f"param name {name!r} in 'matrix' is not valid: use letters, "
                                    "digits, '_' and '-', starting with a letter or '_'", "matrix", pos)
                        continue
                    if not isinstance(items, list):
                        self.report(node, path, f"'matrix' entry '{name}' must be a list of values",
                                    "matrix", pos)
                        continue
                    texts = [_text(item) for item in items]
                    if any(text is None for text in texts):
                        self.report(node, path, f"values of 'matrix' entry '{name}' must be strings, "
                                    "numbers or booleans", "matrix", pos)
                        continue
                    clean[name] = texts  # type: ignore[assignment]
        node.matrix = clean
        node.exclude = self.entries(node, path, "exclude")
        node.include = self.entries(node, path, "include")
        if node.exclude and not clean:
            self.report(node, path, "'exclude' needs a 'matrix' to remove combinations from", "exclude")
            node.exclude = []
        for pos, entry in enumerate(node.exclude):
            for name in entry:
                if name not in clean:
                    self.report(node, path, f"exclude entry {pos} names '{name}', which is not in the "
                                f"matrix{did_you_mean(name, list(clean))}", "exclude", pos)
            if all(name in clean for name in entry) and not any(
                    all(combo[k] == v for k, v in entry.items())
                    for combo in (dict(zip(clean, values, strict=True))
                                  for values in itertools.product(*clean.values()))):
                self.report(node, path, f"exclude entry {pos} matches no combination of the matrix",
                            "exclude", pos, severity="warning")

    def elements(self, node: JobArray, path: str) -> list[Element]:
        """The elements, with their names checked: unique, and short enough to be directories."""
        elements = array_elements(node)
        seen: dict[str, Element] = {}
        field = "include" if node.include and not node.matrix else "matrix"
        longest = max((len(child_id(t, p)) for p, t in enumerate(node.jobs)
                       if isinstance(t, (Job, JobGroup, JobArray))), default=0)
        for element in elements:
            other = seen.get(element.name)
            if other is not None:
                self.report(node, path, f"two elements get the id '{element.name}' (values {other.values} "
                            f"and {element.values}); values differing only in characters other than "
                            "letters, digits, '_', '+' and '-' read the same in ids", field)
                break
            seen[element.name] = element
            if len(element.name.encode()) + longest + 1 > MAX_KEY:
                self.report(node, path, f"element id '{element.name[:40]}...' is too long for a directory "
                            f"name (at most {MAX_KEY} bytes with its template's id); use shorter values",
                            field)
                break
        return elements

    def texts(self, node: Node, path: str, scope: Mapping[str, str | None]) -> None:
        for field, index, text in substituted_texts(node):
            for name in placeholders(text):
                if name not in scope:
                    self.report(node, path, f"unknown param '{name}' in {field}"
                                f"{did_you_mean(name, list(scope))}", field, index)
                elif scope[name] is not None:
                    self.report(node, path, f"param '{name}' in {field} {scope[name]}", field, index)

    def node(self, node: Node, path: str, scope: Mapping[str, str | None]) -> None:
        if not isinstance(node, (Job, JobGroup, JobArray)):
            return
        node.params = self.mapping(node, path, "params", node.params, "param names to values")
        own = dict(scope)
        own.update(dict.fromkeys(node.params))
        self.texts(node, path, own)
        if isinstance(node, Job) or not isinstance(node.jobs, list):
            return
        below = own
        if isinstance(node, JobArray):
            self.matrix(node, path)
            if has_matrix(node):
                below = self.element_scope(node, path, own)
        for pos, child in enumerate(node.jobs):
            if isinstance(child, (Job, JobGroup, JobArray)):
                cid = child_id(child, pos)
                self.node(child, f"{path}.{cid}" if path else cid, below)

    def element_scope(self, node: JobArray, path: str, own: Mapping[str, str | None]
                      ) -> dict[str, str | None]:
        self.elements(node, path)
        below = dict(own)
        # From the combinations, not the elements: with repeats 0 there are none, yet the
        # names are the matrix's (and a template's typo is still a typo).
        combos = combinations(node.matrix, node.exclude, node.include)
        sets = {frozenset(values) for values, _ in combos}
        every = frozenset.intersection(*sets) if sets else frozenset()
        names = frozenset().union(*sets) if sets else frozenset(node.matrix).union(*node.include)
        for name in names:
            if not sets or name in every or below.get(name, "") is None:
                below[name] = None
            else:
                lacking = next(_element_name(v, n) for v, n in combos if name not in v)
                below[name] = f"is not set in every element of {path} (not in '{lacking}')"
        return below


def check_params(root: Node, path: str, report: Report) -> None:
    """Check and normalise the params, matrices and placeholders of a whole tree.

    ``report(obj, path, message, field=None, index=None, severity="error")`` receives
    each problem, located through ``obj.origin``."""
    _Checker(report).node(root, path, {})
