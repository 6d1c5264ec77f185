"""The UVM convention: ``UVM_INFO``, ``UVM_WARNING``, ``UVM_ERROR``, ``UVM_FATAL``.

A UVM report line looks like::

    UVM_ERROR /work/tb/env.sv(118) @ 2250: uvm_test_top.env [SCB] mismatch

or, without a location, ``UVM_INFO @ 0: reporter [RNTST] Running test``.  The
severity word decides the severity (FATAL is critical), and the file and line
in brackets are kept with the message.  The report summary that UVM prints at
the end (``UVM_ERROR :    0``) is not a report and is left alone.
"""

from __future__ import annotations

import re

from gator_core import Classified, LogParser, hookimpl

__all__ = ["UvmParser", "gator_log_parsers"]

_REPORT = re.compile(r"^\s*UVM_(INFO|WARNING|ERROR|FATAL)\b(?:\s+(?P<file>[^\s(]+)\((?P<line>\d+)\))?\s+@")
_SEVERITY = {"INFO": "info", "WARNING": "warning", "ERROR": "error", "FATAL": "critical"}


class UvmParser(LogParser):
    name = "uvm"
    description = "UVM reports: UVM_INFO/WARNING/ERROR/FATAL with their file and line"

    def classify(self, text: str, stream: str) -> Classified | None:
        if "UVM_" not in text:  # most lines: one cheap test
            return None
        match = _REPORT.match(text)
        if match is None:
            return None
        line = match.group("line")
        return Classified(_SEVERITY[match.group(1)], match.group("file"), int(line) if line else None)


@hookimpl
def gator_log_parsers() -> list[type[LogParser]]:
    return [UvmParser]
