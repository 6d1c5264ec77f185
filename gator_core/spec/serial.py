"""Spec trees to and from YAML text and plain dicts.

``dump_spec`` writes the mapping form with the ``id`` spelling, leaving out
fields at their defaults, so that ``loads_spec(dump_spec(tree)) == tree``.
``to_dict`` / ``from_dict`` carry a tree (or part of one) over the wire
protocol as JSON.
"""

from __future__ import annotations

from typing import Any

from .model import SPEC_CLASSES, Cores, Feature, JobArray, License, Memory, Node, Rule

__all__ = ["dump_spec", "to_dict", "from_dict"]

_DEFAULTS: dict[str, Any] = {"id": None, "cwd": None, "arch": None, "unit": "MB", "count": 1,
                             "stream": "both", "timeout": None, "shell": False, "runner": None,
                             "retries": 0}


def _fields(obj: Any) -> list[tuple[str, Any]]:
    out = []
    for name in obj.FIELDS:
        value = getattr(obj, name)
        if name == "count" and isinstance(obj, Cores):
            out.append((name, value))  # a Cores count is required, never a default
            continue
        if name == "repeats" and isinstance(obj, JobArray):
            out.append((name, value))
            continue
        if name in _DEFAULTS and value == _DEFAULTS[name]:
            continue
        if isinstance(value, (list, dict)) and not value and name not in ("jobs",):
            continue
        out.append((name, value))
    return out


def _represent(dumper: Any, obj: Any) -> Any:
    tag = f"!{obj.TAG}"
    if isinstance(obj, (Cores, Memory, License, Feature, Rule)):
        values = [getattr(obj, name) for name in obj.FIELDS]
        while len(values) > len(obj.REQUIRED) and values[-1] == _DEFAULTS.get(obj.FIELDS[len(values) - 1]):
            values.pop()
        return dumper.represent_sequence(tag, values, flow_style=True)
    return dumper.represent_mapping(tag, _fields(obj))


_DUMPER: Any = None


def _dumper() -> Any:
    """A private dumper class (registering representers changes nothing global), made
    on first use: children that never dump YAML never import it."""
    global _DUMPER
    if _DUMPER is None:
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        for cls in SPEC_CLASSES.values():
            Dumper.add_representer(cls, _represent)
        _DUMPER = Dumper
    return _DUMPER


def dump_spec(node: Node) -> str:
    """YAML text for a tree, in the mapping form with ``id``."""
    import yaml

    return yaml.dump(node, Dumper=_dumper(), sort_keys=False, default_flow_style=False, width=100)


def to_dict(obj: Any) -> Any:
    """A tree (or resource) as JSON-ready dicts tagged with ``"tag"``."""
    if hasattr(obj, "TAG"):
        out: dict[str, Any] = {"tag": obj.TAG}
        for name in obj.FIELDS:
            value = getattr(obj, name)
            if value is None or (isinstance(value, (list, dict)) and not value):
                continue
            out[name] = to_dict(value)
        return out
    if isinstance(obj, list):
        return [to_dict(item) for item in obj]
    if isinstance(obj, dict):
        return {key: to_dict(value) for key, value in obj.items()}
    return obj


# Fields that hold plain data, never spec objects: taken as they are, so that a
# variable, runner option or param called "tag" is not read as a tagged object.
_PLAIN_FIELDS = frozenset({"env", "args", "runner_args", "retry_on", "params", "matrix", "exclude", "include",
                           "artefacts", "needs"})


def from_dict(data: Any) -> Any:
    """Inverse of :func:`to_dict`.  Raises ``ValueError`` on unknown tags or fields."""
    if isinstance(data, dict) and "tag" in data:
        cls = SPEC_CLASSES.get(data["tag"])
        if cls is None:
            raise ValueError(f"unknown spec tag {data['tag']!r}")
        kwargs = {}
        for key, value in data.items():
            if key == "tag":
                continue
            if key not in cls.FIELDS:  # type: ignore[attr-defined]
                raise ValueError(f"unknown field {key!r} of {cls.__name__}")
            kwargs[key] = value if key in _PLAIN_FIELDS else from_dict(value)
        return cls(**kwargs)
    if isinstance(data, list):
        return [from_dict(item) for item in data]
    if isinstance(data, dict):
        return {key: from_dict(value) for key, value in data.items()}
    return data

