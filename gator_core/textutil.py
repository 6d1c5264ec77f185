"""Small text helpers shared by the spec checks, the CLI and the schedulers."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["did_you_mean", "plural", "human_bytes", "human_seconds", "parse_duration", "duration_text"]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a close match exists, else ``""``."""
    import difflib  # only on an error's path: a wrapper started cold does not load it

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def plural(count: int, word: str) -> str:
    """``"1 error"``, ``"2 errors"``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def human_bytes(value: float | None) -> str:
    """Bytes as a short binary-multiple figure: ``512 KB``, ``1.5 GB``."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" or size >= 100 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def human_seconds(value: float | None) -> str:
    """Seconds as ``0.12s``, ``3.4s``, ``2m05s`` or ``1h02m``."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


def parse_duration(value: object) -> float:
    """Seconds from a spec's duration: a number of seconds, or ``"90m"``, ``"30s"``,
    ``"2h"``, ``"1d"``.  ValueError (saying what is accepted) for anything else,
    and for zero or less."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value).lower()) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{value!r} is not a duration: give seconds, or a number with s, m, h or d (90m)")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"a duration must be greater than zero, not {value!r}")
    return seconds


def duration_text(value: object) -> str:
    """A duration as the spec wrote it (``90m``), or in seconds for a bare number."""
    if isinstance(value, str):
        return value.strip()
    seconds = parse_duration(value)
    return f"{seconds:g}s"
