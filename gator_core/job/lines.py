"""Turning a byte stream into lines: any length, any bytes, nothing lost.

Output is read in large chunks and split on ``\\n``.  A line can be of any
length: pieces of it are kept until its newline arrives (a line longer than
``MAX_LINE`` is stored in ``MAX_LINE`` pieces, so that a runaway job cannot
exhaust memory).  Bytes that are not UTF-8 are replaced, never fatal.  A last
line without a newline is kept when the stream ends.  A trailing ``\\r`` is
dropped, so CRLF output reads like LF output.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LineSplitter", "MAX_LINE"]

MAX_LINE = 64 * 1024 * 1024


class LineSplitter:
    """Feed chunks in; complete lines come out through ``emit(lines)``."""

    def __init__(self, emit: Callable[[list[str]], None], max_line: int = MAX_LINE) -> None:
        self._emit = emit
        self._parts: list[bytes] = []
        self._held = 0
        self.max_line = max_line

    def feed(self, data: bytes) -> None:
        if not data:
            return
        end = data.rfind(b"\n")
        if end < 0:
            self._hold(data)
            return
        if self._parts:
            self._parts.append(data[:end])
            region = b"".join(self._parts)
            self._parts, self._held = [], 0
        else:
            region = data[:end]
        # One decode for all the complete lines: a newline byte is never part of a
        # multi-byte UTF-8 sequence, so this equals decoding line by line.
        text = region.decode("utf-8", "replace")
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        rest = data[end + 1:]
        self._emit(lines)
        if rest:
            self._hold(rest)

    def _hold(self, data: bytes) -> None:
        self._parts.append(data)
        self._held += len(data)
        while self._held >= self.max_line:
            blob = b"".join(self._parts)
            self._emit([_text(blob[: self.max_line])])
            rest = blob[self.max_line:]
            self._parts, self._held = ([rest], len(rest)) if rest else ([], 0)

    def close(self) -> None:
        """End of stream: a last line without a newline is emitted too."""
        if self._parts:
            blob = b"".join(self._parts)
            self._parts, self._held = [], 0
            self._emit([_text(blob)])


def _text(line: bytes) -> str:
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.decode("utf-8", "replace")
