"""Read YAML specs into the classes of :mod:`gator_core.spec.model`.

The YAML is composed into nodes first (so every value keeps its line and
column), then walked by hand: tags become classes, the mapping and the
positional sequence forms both fill fields, and every problem is collected
instead of stopping at the first.  Types and semantics are checked afterwards
by :mod:`gator_core.spec.checks`, which serves trees built in Python too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gator_core.exceptions import SpecError, SpecIssue
from gator_core.textutil import did_you_mean

from .checks import validate
from .model import SPEC_CLASSES, Node, Origin

__all__ = ["load_spec", "loads_spec", "parse_spec"]

try:  # the C composer is several times faster on large specs
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
_NODE_TAGS = ("Job", "JobGroup", "JobArray")
_RESOURCE_TAGS = ("Cores", "Memory", "License", "Feature")
_ALIASES = {"ident": "id"}  # the seed's later spelling
_RESOLVER = yaml.resolver.Resolver()


def _pos(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns composed YAML nodes into spec objects, collecting issues."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[SpecIssue] = []
        self._plain = yaml.constructor.SafeConstructor()

    def issue(self, node: yaml.Node, message: str, severity: str = "error") -> None:
        self.issues.append(SpecIssue(self.file, *_pos(node), message, severity))

    # -- values -------------------------------------------------------------------------
    def tag_name(self, node: yaml.Node) -> str | None:
        """The spec tag of a node ('Job', ...) or None for a plain YAML node."""
        tag = node.tag or ""
        if tag.startswith(_STANDARD_TAG_PREFIX):
            return None
        if tag.startswith("!") and not tag.startswith("!!"):
            return tag[1:]
        return tag

    def plain(self, node: yaml.Node, what: str) -> Any:
        """Construct a plain value, refusing spec tags hidden inside it."""
        bad = self._find_custom_tag(node)
        if bad is not None:
            self.issue(bad, f"tag '{bad.tag}' cannot be used in {what}")
            return _INVALID
        try:
            return self._plain.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.issue(node, f"cannot read {what}: {getattr(exc, 'problem', exc)}")
            return _INVALID

    def _find_custom_tag(self, node: yaml.Node) -> yaml.Node | None:
        if self.tag_name(node) is not None:
            return node
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                found = self._find_custom_tag(item)
                if found is not None:
                    return found
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                found = self._find_custom_tag(key) or self._find_custom_tag(value)
                if found is not None:
                    return found
        return None

    # -- tagged objects -----------------------------------------------------------------
    def build(self, node: yaml.Node, allowed: tuple[str, ...], where: str) -> Any:
        tag = self.tag_name(node)
        if tag is None:
            names = ", ".join(f"!{t}" for t in allowed)
            self.issue(node, f"{where} must be tagged {names}")
            return _INVALID
        if tag not in SPEC_CLASSES:
            known = [f"!{t}" for t in SPEC_CLASSES]
            self.issue(node, f"unknown tag '!{tag}'{did_you_mean('!' + tag, known)}")
            return _INVALID
        if tag not in allowed:
            names = ", ".join(f"!{t}" for t in allowed)
            self.issue(node, f"!{tag} cannot be used in {where}; expected {names}")
            return _INVALID
        cls = SPEC_CLASSES[tag]
        raw, value_nodes, item_nodes = self._fields(cls, node)
        if raw is None:
            return _INVALID
        kwargs: dict[str, Any] = {}
        for name, value_node in value_nodes.items():
            kwargs[name] = self._field_value(cls, name, value_node)
        line, column = _pos(node)
        kwargs["origin"] = Origin(
            self.file,
            line,
            column,
            fields={k: _pos(v) for k, v in value_nodes.items()},
            items=item_nodes,
        )
        missing = [f for f in cls.REQUIRED if f not in kwargs]
        for name in missing:
            self.issue(node, f"!{tag} needs a '{name}'")
        try:
            if missing:
                # Build with placeholders so that the rest of the tree is still checked.
                for name in missing:
                    kwargs[name] = _INVALID
            return cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - guarded by the field checks above
            self.issue(node, f"cannot build !{tag}: {exc}")
            return _INVALID

    def _fields(
        self, cls: type, node: yaml.Node
    ) -> tuple[Any, dict[str, yaml.Node], dict[str, list[tuple[int, int]]]]:
        """Map field names to value nodes, from the mapping, sequence or scalar form."""
        fields: tuple[str, ...] = cls.FIELDS  # type: ignore[attr-defined]
        tag = cls.TAG  # type: ignore[attr-defined]
        values: dict[str, yaml.Node] = {}
        if isinstance(node, yaml.MappingNode):
            own = {id(key) for key, _ in node.value}
            self._plain.flatten_mapping(node)  # honour '<<' merge keys (merged pairs come first)
            seen_alias: dict[str, str] = {}
            written: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or self.tag_name(key_node):
                    self.issue(key_node, f"field names of !{tag} must be plain strings")
                    continue
                key = str(key_node.value)
                name = _ALIASES.get(key, key)
                if name not in fields:
                    choices = list(fields) + list(_ALIASES)
                    self.issue(key_node, f"unknown field '{key}' in !{tag}{did_you_mean(key, choices)}")
                    continue
                if name in seen_alias and seen_alias[name] != key:
                    self.issue(key_node, f"!{tag} gives both '{seen_alias[name]}' and '{key}'; use one")
                    continue
                if name in written and id(key_node) in own:
                    self.issue(
                        key_node,
                        f"field '{key}' of !{tag} is given twice; the last value is used",
                        "warning",
                    )
                if id(key_node) in own:
                    written.add(name)
                seen_alias[name] = key
                values[name] = value_node
        elif isinstance(node, yaml.SequenceNode):
            if len(node.value) > len(fields):
                self.issue(
                    node,
                    f"!{tag} takes at most {len(fields)} values ({', '.join(fields)}), "
                    f"got {len(node.value)}",
                )
            for name, value_node in zip(fields, node.value, strict=False):  # extras reported above
                values[name] = value_node
        elif isinstance(node, yaml.ScalarNode):
            # '!Cores 2' is read as '!Cores [2]'; an empty '!Job' as a mapping with no fields.
            if node.value not in ("", None):
                implicit = (not node.style, False)  # plain scalars: None or "" by composer
                resolved = _RESOLVER.resolve(yaml.ScalarNode, node.value, implicit)
                values[fields[0]] = yaml.ScalarNode(
                    resolved, node.value, node.start_mark, node.end_mark, node.style
                )
        else:  # pragma: no cover - the composer makes no other node kinds
            self.issue(node, f"cannot read !{tag}")
            return None, {}, {}
        items: dict[str, list[tuple[int, int]]] = {}
        for name, value_node in values.items():
            if isinstance(value_node, yaml.SequenceNode):
                items[name] = [_pos(item) for item in value_node.value]
            elif isinstance(value_node, yaml.MappingNode):
                items[name] = [_pos(v) for _, v in value_node.value]
        return {}, values, items

    def _field_value(self, cls: type, name: str, node: yaml.Node) -> Any:
        tag = cls.TAG  # type: ignore[attr-defined]
        if name == "jobs":
            if not isinstance(node, yaml.SequenceNode):
                if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~", None):
                    return []
                self.issue(node, f"'jobs' of !{tag} must be a list of !Job, !JobGroup or !JobArray")
                return _INVALID
            built = [self.build(item, _NODE_TAGS, f"'jobs' of !{tag}") for item in node.value]
            return [item for item in built if item is not _INVALID]  # bad ones are reported
        if name == "rules":
            if not isinstance(node, yaml.SequenceNode):
                if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~", None):
                    return []
                self.issue(node, "'rules' must be a list of !Rule")
                return _INVALID
            built = []
            for item in node.value:
                if self.tag_name(item) is None and isinstance(item, yaml.MappingNode):
                    item.tag = "!Rule"  # a plain mapping in 'rules' is a rule
                built.append(self.build(item, ("Rule",), "'rules'"))
            return [item for item in built if item is not _INVALID]
        if name == "resources":
            if not isinstance(node, yaml.SequenceNode):
                if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~", None):
                    return []
                self.issue(node, "'resources' must be a list of !Cores, !Memory, !License or !Feature")
                return _INVALID
            built = [self.build(item, _RESOURCE_TAGS, "'resources'") for item in node.value]
            return [item for item in built if item is not _INVALID]
        return self.plain(node, f"'{name}' of !{tag}")


class _Invalid:
    """Placeholder for a value that could not be read (already reported)."""

    def __repr__(self) -> str:
        return "<invalid>"


_INVALID: Any = _Invalid()


def parse_spec(text: str, file: str = "<string>") -> tuple[Node | None, list[SpecIssue]]:
    """Parse YAML text into a spec tree without semantic checks.

    Returns the tree (None when unusable) and the issues found while reading.
    """
    builder = _Builder(file)
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "malformed YAML"
        return None, [SpecIssue(file, line, column, f"YAML syntax: {problem}")]
    except yaml.YAMLError as exc:
        return None, [SpecIssue(file, 0, 0, f"YAML syntax: {exc}")]
    documents = [d for d in documents if d is not None]
    if not documents:
        return None, [SpecIssue(file, 1, 1, "the spec is empty; expected !Job, !JobGroup or !JobArray")]
    if len(documents) > 1:
        builder.issue(documents[1], "a spec file holds one document; found more than one")
    root = builder.build(documents[0], _NODE_TAGS, "the top of the spec")
    if root is _INVALID:
        root = None
    return root, builder.issues


def loads_spec(
    text: str,
    file: str = "<string>",
    *,
    on_warning: Callable[[SpecIssue], None] | None = None,
) -> Node:
    """Parse and validate YAML text.  Raises :class:`SpecError` listing every error."""
    root, issues = parse_spec(text, file)
    if root is not None:
        issues += validate(root, file=file)
    errors = [i for i in issues if i.severity == "error"]
    if errors or root is None:
        raise SpecError(issues)
    if on_warning is not None:
        for item in issues:
            on_warning(item)
    return root


def load_spec(path: str | Path, *, on_warning: Callable[[SpecIssue], None] | None = None) -> Node:
    """Read, parse and validate a spec file.  Raises :class:`SpecError` listing every error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecIssue(str(path), 0, 0, "no such spec file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecIssue(str(path), 0, 0, f"cannot read spec file: {exc}")]) from None
    return loads_spec(text, str(path), on_warning=on_warning)

