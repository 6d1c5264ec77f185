"""``python -m gator_core.job.pyrunner module:function [ARG...]``: the python runner's
process.  It imports the module, calls the function with the arguments (strings),
and records what it returns through the job API: a number as the metric
``return_value``, a mapping of names to numbers as one metric each.  An exception
is the job's failure: its traceback goes to stderr (error messages) and the exit
status is 1.  A target that cannot be found exits 2, saying why.
"""

from __future__ import annotations

import importlib
import numbers
import sys
import traceback
from collections.abc import Mapping
from typing import Any

__all__ = ["main", "record"]


def record(value: Any) -> None:
    """What a function returned, as metrics (anything else is left alone)."""
    from gator_core.job.api import metric

    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, numbers.Real):
        metric("return_value", float(value))
    elif isinstance(value, Mapping):
        for name, item in value.items():
            if isinstance(item, numbers.Real) and not isinstance(item, bool):
                metric(str(name), float(item))


def main(argv: list[str]) -> int:
    if not argv:
        print("gator python runner: no target: give command: package.module:function", file=sys.stderr)
        return 2
    target, args = argv[0], argv[1:]
    module_name, sep, function_name = target.partition(":")
    if not sep or not module_name or not function_name:
        print(f"gator python runner: {target!r} is not module:function", file=sys.stderr)
        return 2
    sys.path.insert(0, ".")  # the job's working directory, as `python -m` would
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"gator python runner: cannot import {module_name}: {exc}", file=sys.stderr)
        return 2
    function = getattr(module, function_name, None)
    if not callable(function):
        print(f"gator python runner: {module_name} has no function {function_name}", file=sys.stderr)
        return 2
    try:
        value = function(*args)
    except SystemExit as exc:  # the function chose its exit status
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the job's failure, reported as the job's output
        traceback.print_exc()
        return 1
    record(value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
