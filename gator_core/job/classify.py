"""Giving output lines their severity: rules from the spec, then parser plugins.

By default a line on stdout is INFO and a line on stderr is ERROR.  A spec can
change that with ``rules`` (regular expressions, inherited downwards, the
closest first) and ``parsers`` (plugins that know a tool's conventions, such
as UVM's).  A rule wins over a parser; the first rule or parser that
recognises a line decides.  A parser may also say which source file and line
a message is about; that is kept with the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import ClassVar, NamedTuple

from gator_core.states import SEVERITY_VALUES, Severity

__all__ = ["LogParser", "Classified", "Classifier", "DEFAULT_SEVERITY"]

DEFAULT_SEVERITY = {"stdout": SEVERITY_VALUES["info"], "stderr": SEVERITY_VALUES["error"]}


class Classified(NamedTuple):
    """What a parser says about one line."""

    severity: str  # debug, info, warning, error or critical
    source: str | None = None  # the file the message is about
    line: int | None = None  # the line in that file


class LogParser:
    """Base class of log parser plugins (returned by the ``gator_log_parsers`` hook).

    Set ``name`` (what ``parsers: [...]`` in a spec refers to) and
    ``description``, and implement :meth:`classify`.  One instance is made
    per job; keep it cheap, it sees every line of output.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def classify(self, text: str, stream: str) -> Classified | None:
        """The severity (and source location) of a line, or None to leave it to others.

        ``stream`` is ``"stdout"`` or ``"stderr"``.
        """
        raise NotImplementedError


class Classifier:
    """Applies rules, then parsers, then the default to lines of one stream.

    A parser that raises, or answers something that is not a severity, is
    switched off for the rest of the job, and ``on_problem`` is told why: a
    broken plugin must not lose the job's output.
    """

    def __init__(self, rules: Sequence[Sequence[str]], parsers: Sequence[LogParser],
                 on_problem: Callable[[str], None] = lambda text: None) -> None:
        self.rules = [(re.compile(pattern), int(Severity.parse(severity)), stream.lower())
                      for pattern, severity, stream in rules]
        self.parsers = list(parsers)
        self.on_problem = on_problem

    def classify(self, text: str, stream: str) -> tuple[int, str | None, int | None]:
        for pattern, severity, applies in self.rules:
            if (applies == "both" or applies == stream) and pattern.search(text):
                return severity, None, None
        for parser in self.parsers:
            try:
                found = parser.classify(text, stream)
                if found is None:
                    continue
                name = str(found.severity)
                severity = SEVERITY_VALUES.get(name) or int(Severity.parse(name))  # parse: any case, or why not
                line = int(found.line) if found.line is not None else None
            except Exception as exc:  # a plugin's bug: report it, keep the output
                self.parsers.remove(parser)
                self.on_problem(f"log parser '{parser.name}' failed and is switched off: "
                                f"{type(exc).__name__}: {exc}")
                return self.classify(text, stream)
            return severity, found.source, line
        return DEFAULT_SEVERITY[stream], None, None
